//! Parties (platform operators, vendors, agents, dealers, members), their log-in tokens, and
//! the serial numbers ids are made of.

use std::sync::LazyLock;

use sqlx::{Any, Executor};

use super::{Query, assignments, marks};
use crate::store::fast_read::in_place_row;
use crate::store::{Conn, Store};

/// A party: platform operator, vendor, agent, dealer or member.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub uid: String,
    pub kind: String,
    pub vid: Option<String>,
    pub code: Option<String>,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub login: Option<String>,
    pub mobile: Option<String>,
    pub pwd_hash: Option<String>,
    pub state: i64,
    pub utype: i64,
    pub rid: Option<String>,
    pub openid: Option<String>,
    pub weixin: Option<String>,
    pub profile: String,
    pub secrets: Option<String>,
    pub withdrawn_at: Option<i64>,
    pub reg_at: i64,
    pub deleted_at: Option<i64>,
}

/// The columns a party's writes set, in the order [`bind_written`] binds them (the id, kind, vendor,
/// code, registration time and withdrawal turn are set on insertion only).
const USER_WRITTEN: [&str; 13] = [
    "agent",
    "dealer",
    "login",
    "mobile",
    "pwd_hash",
    "state",
    "type",
    "rid",
    "openid",
    "weixin",
    "profile",
    "secrets",
    "deleted_at",
];

/// Binds the columns of [`USER_WRITTEN`].
fn bind_written<'q>(q: Query<'q>, u: &'q UserRow) -> Query<'q> {
    q.bind(&u.agent)
        .bind(&u.dealer)
        .bind(&u.login)
        .bind(&u.mobile)
        .bind(&u.pwd_hash)
        .bind(u.state)
        .bind(u.utype)
        .bind(&u.rid)
        .bind(&u.openid)
        .bind(&u.weixin)
        .bind(&u.profile)
        .bind(&u.secrets)
        .bind(u.deleted_at)
}

in_place_row!(UserRow {
    uid,
    kind,
    vid,
    code,
    agent,
    dealer,
    login,
    mobile,
    pwd_hash,
    state,
    utype,
    rid,
    openid,
    weixin,
    profile,
    secrets,
    withdrawn_at,
    reg_at,
    deleted_at
});

pub const USER_COLUMNS: &str = "uid, kind, vid, code, agent, dealer, login, mobile, pwd_hash, state, \
     type AS utype, rid, openid, weixin, profile, secrets, withdrawn_at, reg_at, deleted_at";

pub async fn insert_user(conn: &mut Conn, u: &UserRow) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO iot_users (uid, kind, vid, code, withdrawn_at, reg_at, {}) VALUES \
             ($1, $2, $3, $4, $5, $6, {}) ON CONFLICT DO NOTHING",
            USER_WRITTEN.join(", "),
            marks(7, USER_WRITTEN.len()),
        )
    });
    let q = sqlx::query(&SQL)
        .bind(&u.uid)
        .bind(&u.kind)
        .bind(&u.vid)
        .bind(&u.code)
        .bind(u.withdrawn_at)
        .bind(u.reg_at);
    let done = bind_written(q, u).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Writes every mutable field of a live party back, if its state is still `expected` (a
/// concurrent disable or deletion wins): false when it is not.
pub async fn update_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    u: &UserRow,
    expected: i64,
) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE iot_users SET {} WHERE uid = $1 AND deleted_at IS NULL AND state = ${}",
            assignments(2, &USER_WRITTEN),
            USER_WRITTEN.len() + 2,
        )
    });
    let q = bind_written(sqlx::query(&SQL).bind(&u.uid), u).bind(expected);
    let done = q.execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// A party (in place on SQLite: see [`crate::store::fast_read`]).
pub async fn user(store: &Store, uid: &str) -> Result<Option<UserRow>, sqlx::Error> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM iot_users WHERE uid = $1"));
    store.fast_fetch_optional(&SQL, &[uid.into()]).await
}

pub async fn user_by_login<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    login: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM iot_users WHERE login = $1 AND deleted_at IS NULL"
    ))
    .bind(login)
    .fetch_optional(ex)
    .await
}

pub async fn member_by_mobile<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    mobile: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM iot_users WHERE vid = $1 AND mobile = $2 \
         AND kind = 'member' AND deleted_at IS NULL"
    ))
    .bind(vid)
    .bind(mobile)
    .fetch_optional(ex)
    .await
}

pub async fn user_by_openid<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    openid: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM iot_users WHERE vid = $1 AND openid = $2 \
         AND deleted_at IS NULL"
    ))
    .bind(vid)
    .bind(openid)
    .fetch_optional(ex)
    .await
}

/// Live parties of these kinds, of one vendor (or of all), oldest first.
pub async fn users_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: Option<&str>,
    kinds: &[&'static str],
) -> Result<Vec<UserRow>, sqlx::Error> {
    let kinds = kinds
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let base = format!(
        "SELECT {USER_COLUMNS} FROM iot_users WHERE kind IN ({kinds}) AND deleted_at IS NULL"
    );
    match vid {
        Some(vid) => {
            sqlx::query_as(&format!("{base} AND vid = $1 ORDER BY reg_at, uid"))
                .bind(vid)
                .fetch_all(ex)
                .await
        }
        None => {
            sqlx::query_as(&format!("{base} ORDER BY reg_at, uid"))
                .fetch_all(ex)
                .await
        }
    }
}

/// Takes the party's withdrawal turn: true when its last withdrawal is at least `gap_ms` old.
pub async fn take_withdrawal_turn(
    conn: &mut Conn,
    uid: &str,
    now: i64,
    gap_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_users SET withdrawn_at = $2 WHERE uid = $1 \
         AND (withdrawn_at IS NULL OR withdrawn_at <= $3)",
    )
    .bind(uid)
    .bind(now)
    .bind(now - gap_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When a party last withdrew.
pub async fn withdrawn_at<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT withdrawn_at FROM iot_users WHERE uid = $1")
        .bind(uid)
        .fetch_optional(ex)
        .await
        .map(Option::flatten)
}

/// Members, devices, orders and tickets under a removed agent or dealer go to the level above.
pub async fn rehome(conn: &mut Conn, removed: &str, is_dealer: bool) -> Result<(), sqlx::Error> {
    for table in ["iot_users", "iot_devices", "iot_orders", "iot_tickets"] {
        let sql = if is_dealer {
            format!("UPDATE {table} SET dealer = NULL WHERE dealer = $1")
        } else {
            format!("UPDATE {table} SET agent = NULL, dealer = NULL WHERE agent = $1")
        };
        sqlx::query(&sql).bind(removed).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    uid: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_tokens (token_hash, uid, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(uid)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// The party a live token belongs to, with its vendor's standing (the vendor's row may be gone:
/// `vendor_found` 0).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenUserRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub vendor_found: i64,
    pub vendor_state: Option<i64>,
    pub vendor_deleted_at: Option<i64>,
}

impl crate::store::fast_read::InPlaceRow for TokenUserRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenUserRow {
            user: UserRow::from_sqlite(r)?,
            vendor_found: r.get(19)?,
            vendor_state: r.get(20)?,
            vendor_deleted_at: r.get(21)?,
        })
    }
}

/// The party a live token belongs to, read whole ([`token_caller`] reads what a request needs).
pub async fn token_user(
    store: &Store,
    token_hash: &str,
    now: i64,
) -> Result<Option<TokenUserRow>, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {columns}, CASE WHEN v.uid IS NULL THEN 0 ELSE 1 END AS vendor_found, \
             v.state AS vendor_state, v.deleted_at AS vendor_deleted_at \
             FROM iot_tokens t JOIN iot_users u ON u.uid = t.uid \
             LEFT JOIN iot_users v ON v.uid = u.vid \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.deleted_at IS NULL"
        )
    });
    store
        .fast_fetch_optional(&SQL, &[token_hash.into(), now.into()])
        .await
}

/// Who a live token belongs to, with the standing of both them and their vendor: what every
/// authenticated request needs and no more (none of the party's documents).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenCallerRow {
    pub uid: String,
    pub kind: String,
    pub vid: Option<String>,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub state: i64,
    pub vendor_found: i64,
    pub vendor_state: Option<i64>,
    pub vendor_deleted_at: Option<i64>,
}

in_place_row!(TokenCallerRow {
    uid,
    kind,
    vid,
    agent,
    dealer,
    state,
    vendor_found,
    vendor_state,
    vendor_deleted_at
});

/// The hot path of every authenticated IoT request: one indexed read, in place on SQLite.
pub async fn token_caller(
    store: &Store,
    token_hash: &str,
    now: i64,
) -> Result<Option<TokenCallerRow>, sqlx::Error> {
    store
        .fast_fetch_optional(
            "SELECT u.uid, u.kind, u.vid, u.agent, u.dealer, u.state, \
             CASE WHEN v.uid IS NULL THEN 0 ELSE 1 END AS vendor_found, \
             v.state AS vendor_state, v.deleted_at AS vendor_deleted_at \
             FROM iot_tokens t JOIN iot_users u ON u.uid = t.uid \
             LEFT JOIN iot_users v ON v.uid = u.vid \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.deleted_at IS NULL",
            &[token_hash.into(), now.into()],
        )
        .await
}

pub async fn delete_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM iot_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(ex)
        .await?;
    Ok(())
}

/// Ends every login of a party (and its expired tokens).
pub async fn delete_tokens_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM iot_tokens WHERE uid = $1")
        .bind(uid)
        .execute(ex)
        .await?;
    Ok(())
}

/// The next number of a serial (1, 2, ...), never handed out twice.
pub async fn next_serial(conn: &mut Conn, scope: &str) -> Result<i64, sqlx::Error> {
    take_serials(conn, scope, 1).await
}

/// Takes the next `n` serials of `scope`: returns the last (the first is `last - n + 1`).
pub async fn take_serials(conn: &mut Conn, scope: &str, n: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO iot_serials (scope, next) VALUES ($1, $2) \
         ON CONFLICT (scope) DO UPDATE SET next = iot_serials.next + $2 RETURNING next",
    )
    .bind(scope)
    .bind(n)
    .fetch_one(conn)
    .await
}
