//! Devices and their shares with members.

use crate::store::fast_read::in_place_row;
use std::sync::LazyLock;

use sqlx::{Any, Executor};

use super::{Query, assignments, marks};
use crate::store::Conn;

/// A device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceRow {
    pub did: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub uid: Option<String>,
    pub product_id: Option<String>,
    pub dtype: i64,
    pub state: i64,
    pub profile: String,
    pub prof: String,
    pub service: String,
    pub running: String,
    pub statistics: String,
    pub reg_at: i64,
    pub atv_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// Written by the device link only.
    pub online: i64,
    pub online_at: Option<i64>,
    pub offline_at: Option<i64>,
}

/// The columns a device's writes set, in the order [`bind_written`] binds them (the id and the
/// registration time are set on insertion only; what the device reports, by [`set_reported`]
/// and the device link).
const DEVICE_WRITTEN: [&str; 12] = [
    "vid",
    "agent",
    "dealer",
    "uid",
    "product_id",
    "type",
    "state",
    "profile",
    "prof",
    "service",
    "atv_at",
    "deleted_at",
];

/// Binds the columns of [`DEVICE_WRITTEN`].
fn bind_written<'q>(q: Query<'q>, d: &'q DeviceRow) -> Query<'q> {
    q.bind(&d.vid)
        .bind(&d.agent)
        .bind(&d.dealer)
        .bind(&d.uid)
        .bind(&d.product_id)
        .bind(d.dtype)
        .bind(d.state)
        .bind(&d.profile)
        .bind(&d.prof)
        .bind(&d.service)
        .bind(d.atv_at)
        .bind(d.deleted_at)
}

in_place_row!(DeviceRow {
    did,
    vid,
    agent,
    dealer,
    uid,
    product_id,
    dtype,
    state,
    profile,
    prof,
    service,
    running,
    statistics,
    reg_at,
    atv_at,
    deleted_at,
    online,
    online_at,
    offline_at
});

pub const DEVICE_COLUMNS: &str = "did, vid, agent, dealer, uid, product_id, type AS dtype, state, \
     profile, prof, service, running, statistics, reg_at, atv_at, deleted_at, online, online_at, \
     offline_at";

/// Inserts devices; false (and nothing written by this statement) when one id exists.
pub async fn insert_device(conn: &mut Conn, d: &DeviceRow) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO iot_devices (did, reg_at, running, statistics, {}) \
             VALUES ($1, $2, $3, $4, {}) ON CONFLICT DO NOTHING",
            DEVICE_WRITTEN.join(", "),
            marks(5, DEVICE_WRITTEN.len()),
        )
    });
    let q = sqlx::query(&SQL)
        .bind(&d.did)
        .bind(d.reg_at)
        .bind(&d.running)
        .bind(&d.statistics);
    let done = bind_written(q, d).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_device<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &DeviceRow,
) -> Result<(), sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE iot_devices SET {} WHERE did = $1 AND deleted_at IS NULL",
            assignments(2, &DEVICE_WRITTEN),
        )
    });
    bind_written(sqlx::query(&SQL).bind(&d.did), d)
        .execute(ex)
        .await?;
    Ok(())
}

/// Sets what a device reported (the platform's `PUT /stat`, a factory reset).
pub async fn set_reported<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
    running: &str,
    statistics: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE iot_devices SET running = $2, statistics = $3 WHERE did = $1")
        .bind(did)
        .bind(running)
        .bind(statistics)
        .execute(ex)
        .await?;
    Ok(())
}

/// Binds an unbound device to a member: false when someone bound it first.
pub async fn bind_device<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &DeviceRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_devices SET uid = $2, agent = $3, dealer = $4, atv_at = $5, state = $6 \
         WHERE did = $1 AND uid IS NULL AND deleted_at IS NULL",
    )
    .bind(&d.did)
    .bind(&d.uid)
    .bind(&d.agent)
    .bind(&d.dealer)
    .bind(d.atv_at)
    .bind(d.state)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn device<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Option<DeviceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DEVICE_COLUMNS} FROM iot_devices WHERE did = $1"
    ))
    .bind(did)
    .fetch_optional(ex)
    .await
}

pub async fn shares_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT uid FROM iot_shares WHERE did = $1 ORDER BY created_at, uid")
        .bind(did)
        .fetch_all(ex)
        .await
}

pub async fn add_share<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
    uid: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_shares (did, uid, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(did)
    .bind(uid)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one member's share of a device, or every share of it.
pub async fn remove_shares<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
    uid: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = match uid {
        Some(uid) => {
            sqlx::query("DELETE FROM iot_shares WHERE did = $1 AND uid = $2")
                .bind(did)
                .bind(uid)
                .execute(ex)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM iot_shares WHERE did = $1")
                .bind(did)
                .execute(ex)
                .await?
        }
    };
    Ok(done.rows_affected())
}

/// How many live devices each of these members has bound.
pub async fn device_counts(
    pool: &sqlx::AnyPool,
    uids: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    if uids.is_empty() {
        return Ok(vec![]);
    }
    let marks = (1..=uids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT uid, CAST(COUNT(*) AS BIGINT) FROM iot_devices WHERE deleted_at IS NULL \
         AND uid IN ({marks}) GROUP BY uid"
    );
    let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
    for uid in uids {
        q = q.bind(uid);
    }
    q.fetch_all(pool).await
}

/// The `(device, member)` shares of these devices.
pub async fn shares_for(
    pool: &sqlx::AnyPool,
    dids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    if dids.is_empty() {
        return Ok(vec![]);
    }
    let marks = (1..=dids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql =
        format!("SELECT did, uid FROM iot_shares WHERE did IN ({marks}) ORDER BY created_at, uid");
    let mut q = sqlx::query_as::<_, (String, String)>(&sql);
    for did in dids {
        q = q.bind(did);
    }
    q.fetch_all(pool).await
}

/// A member's live devices: `(device id, whether it is shared with them rather than theirs)`.
pub async fn member_devices<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT did, CAST(0 AS BIGINT) FROM iot_devices WHERE uid = $1 AND deleted_at IS NULL \
         UNION ALL SELECT s.did, CAST(1 AS BIGINT) FROM iot_shares s JOIN iot_devices d \
         ON d.did = s.did WHERE s.uid = $1 AND d.deleted_at IS NULL ORDER BY 2, 1",
    )
    .bind(uid)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(did, shared)| (did, shared == 1))
        .collect())
}
