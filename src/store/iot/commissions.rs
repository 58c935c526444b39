//! Commissions, withdrawals, and what the money journal should hold for the IoT accounts.

use crate::store::fast_read::in_place_row;
use sqlx::{Any, Executor};

use crate::store::Conn;

/// One referrer's commission on one order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommissionRow {
    pub oid: String,
    pub level: i64,
    pub uid: String,
    pub vid: String,
    pub amount: i64,
    pub rate: String,
    pub state: String,
    pub created_at: i64,
    /// The end of the order's return window; unknown (`None`) until the order is received.
    pub available_at: Option<i64>,
}

in_place_row!(CommissionRow {
    oid,
    level,
    uid,
    vid,
    amount,
    rate,
    state,
    created_at,
    available_at
});

pub const COMMISSION_COLUMNS: &str =
    "oid, level, uid, vid, amount, rate, state, created_at, available_at";

pub async fn insert_commission(conn: &mut Conn, c: &CommissionRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO iot_commissions ({COMMISSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9) ON CONFLICT DO NOTHING"
    ))
    .bind(&c.oid)
    .bind(c.level)
    .bind(&c.uid)
    .bind(&c.vid)
    .bind(c.amount)
    .bind(&c.rate)
    .bind(&c.state)
    .bind(c.created_at)
    .bind(c.available_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an order's commissions from `from` to `to`; returns exactly those this statement
/// moved (a concurrent move cannot make them count twice).
pub async fn move_commissions(
    conn: &mut Conn,
    oid: &str,
    from: &str,
    to: &str,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE iot_commissions SET state = $3 WHERE oid = $1 AND state = $2 \
         RETURNING {COMMISSION_COLUMNS}"
    ))
    .bind(oid)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// Sets when an order's pending commissions become available (at receipt).
pub async fn schedule_commissions(
    conn: &mut Conn,
    oid: &str,
    available_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE iot_commissions SET available_at = $2 WHERE oid = $1 AND state = 'pending'",
    )
    .bind(oid)
    .bind(available_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many commission rows an order has, in any state.
pub async fn commission_count(conn: &mut Conn, oid: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM iot_commissions WHERE oid = $1")
        .bind(oid)
        .fetch_one(conn)
        .await
}

/// Orders with pending commissions whose time has come.
pub async fn commissions_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT oid FROM iot_commissions WHERE state = 'pending' AND available_at <= $1 \
         LIMIT 200",
    )
    .bind(now)
    .fetch_all(ex)
    .await
}

/// The sum of the commissions in each state, of one vendor (or all) or of one beneficiary:
/// (state, fen).
pub async fn commission_sums<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    column: &'static str,
    value: Option<&str>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let base = "SELECT state, CAST(SUM(amount) AS BIGINT) FROM iot_commissions";
    match value {
        Some(v) => {
            sqlx::query_as(&format!("{base} WHERE {column} = $1 GROUP BY state"))
                .bind(v)
                .fetch_all(ex)
                .await
        }
        None => {
            sqlx::query_as(&format!("{base} GROUP BY state"))
                .fetch_all(ex)
                .await
        }
    }
}

/// Commissions of one vendor (or all), or of one beneficiary.
pub async fn commissions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    column: &'static str,
    value: Option<&str>,
) -> Result<Vec<CommissionRow>, sqlx::Error> {
    let base = format!("SELECT {COMMISSION_COLUMNS} FROM iot_commissions");
    match value {
        Some(v) => {
            sqlx::query_as(&format!(
                "{base} WHERE {column} = $1 ORDER BY created_at, oid, level"
            ))
            .bind(v)
            .fetch_all(ex)
            .await
        }
        None => {
            sqlx::query_as(&format!("{base} ORDER BY created_at, oid, level"))
                .fetch_all(ex)
                .await
        }
    }
}

pub async fn insert_withdrawal(
    conn: &mut Conn,
    wid: &str,
    uid: &str,
    vid: Option<&str>,
    amount: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_withdrawals (wid, uid, vid, amount, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(wid)
    .bind(uid)
    .bind(vid)
    .bind(amount)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What one party has withdrawn in all.
pub async fn withdrawn_total<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM iot_withdrawals WHERE uid = $1",
    )
    .bind(uid)
    .fetch_one(ex)
    .await
}

/// What the journal should hold for the IoT accounts: `(account, fen)`.
pub async fn journal_expectations(conn: &mut Conn) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'iot-sales:' || vid, CAST(SUM(amount - COALESCE(refund_amount, 0)) AS BIGINT) \
         FROM iot_orders WHERE paid_at IS NOT NULL GROUP BY vid",
    )
    .fetch_all(&mut *conn)
    .await?;
    out.extend(
        sqlx::query_as::<_, (String, i64)>(
            "SELECT 'iot-commission:' || uid, CAST(SUM(amount) AS BIGINT) FROM iot_commissions \
             WHERE state = 'available' GROUP BY uid",
        )
        .fetch_all(&mut *conn)
        .await?,
    );
    out.extend(
        sqlx::query_as::<_, (String, i64)>(
            "SELECT 'iot-commission:' || uid, CAST(-SUM(amount) AS BIGINT) FROM iot_withdrawals \
             GROUP BY uid",
        )
        .fetch_all(&mut *conn)
        .await?,
    );
    // Prepaid water: what the balances hold (a member's with the holds of dispenses still
    // waiting for their device), and what the vendors sold from them.
    out.extend(super::link::balances(conn).await?);
    let holds: Vec<String> = sqlx::query_scalar(
        "SELECT args FROM iot_commands WHERE op = 'dispense' AND state IN ('sent', 'acked')",
    )
    .fetch_all(&mut *conn)
    .await?;
    for args in holds {
        let args: serde_json::Value = serde_json::from_str(&args).unwrap_or_default();
        if let (Some(uid), Some(hold)) = (
            args.get("uid").and_then(serde_json::Value::as_str),
            args.get("hold").and_then(serde_json::Value::as_i64),
        ) {
            out.push((format!("iot-water:{uid}"), hold));
        }
    }
    out.extend(
        sqlx::query_as::<_, (String, i64)>(
            "SELECT 'iot-water-sales:' || vid, CAST(-SUM(amount) AS BIGINT) FROM iot_charges \
             WHERE kind <> 'credit' GROUP BY vid",
        )
        .fetch_all(&mut *conn)
        .await?,
    );
    Ok(out)
}

/// What the members of a vendor (or of all) have withdrawn in all.
pub async fn withdrawn_by_vendor<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: Option<&str>,
) -> Result<i64, sqlx::Error> {
    match vid {
        Some(v) => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM iot_withdrawals WHERE vid = $1",
        )
        .bind(v)
        .fetch_one(ex)
        .await,
        None => {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM iot_withdrawals",
            )
            .fetch_one(ex)
            .await
        }
    }
}
