//! The money journal: append-only, one row per movement, keyed so nothing is applied twice.

use sqlx::{Any, Executor};

/// One movement of money.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub entry_key: String,
    pub kind: String,
    pub account: String,
    pub amount: i64,
    pub reference: String,
    pub external_id: Option<String>,
    pub created_at: i64,
}

/// Appends an entry; false if its key (or its external id) is already in the journal.
pub async fn append<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    e: &EntryRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO ledger_entries (entry_key, kind, account, amount, reference, external_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&e.entry_key)
    .bind(&e.kind)
    .bind(&e.account)
    .bind(e.amount)
    .bind(&e.reference)
    .bind(&e.external_id)
    .bind(e.created_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends entries in one statement (at most a few thousand); those whose key is already in the
/// journal are skipped. Returns how many were appended.
pub async fn append_many(conn: &mut super::Conn, entries: &[EntryRow]) -> Result<u64, sqlx::Error> {
    if entries.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO ledger_entries (entry_key, kind, account, amount, reference, external_id, created_at) \
         VALUES {} ON CONFLICT DO NOTHING",
        super::placeholders(conn, entries.len(), 7)
    );
    let mut query = sqlx::query(&sql);
    for e in entries {
        query = query
            .bind(&e.entry_key)
            .bind(&e.kind)
            .bind(&e.account)
            .bind(e.amount)
            .bind(&e.reference)
            .bind(&e.external_id)
            .bind(e.created_at);
    }
    Ok(query.execute(conn).await?.rows_affected())
}

pub async fn all<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_key, kind, account, amount, reference, external_id, created_at FROM ledger_entries ORDER BY entry_key",
    )
    .fetch_all(ex)
    .await
}

/// An order's settlement facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderFacts {
    pub order_id: String,
    pub status: String,
    pub amount: i64,
    pub heat_account: String,
    pub transaction_id: Option<String>,
}

pub async fn orders<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<OrderFacts>, sqlx::Error> {
    sqlx::query_as("SELECT order_id, status, amount, heat_account, transaction_id FROM heating_orders ORDER BY order_id")
        .fetch_all(ex)
        .await
}

/// A bill's settlement facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillFacts {
    pub bill_id: String,
    pub heat_account: String,
    pub amount: i64,
    pub status: String,
    pub paid_order_id: Option<String>,
    pub pending_order_id: Option<String>,
}

pub async fn bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<BillFacts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT bill_id, heat_account, amount, status, paid_order_id, pending_order_id FROM heating_bills ORDER BY bill_id",
    )
    .fetch_all(ex)
    .await
}

/// Every order line: `(order_id, bill_id, amount, late_fee)`.
pub async fn order_bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT order_id, bill_id, amount, late_fee FROM heating_order_bills ORDER BY order_id, bill_id")
        .fetch_all(ex)
        .await
}

/// What an account's journal holds (fen).
pub async fn account_total<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    account: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_entries WHERE account = $1",
    )
    .bind(account)
    .fetch_one(ex)
    .await
}

/// Keeps a payment that could not be applied; false if it is known already.
pub async fn record_anomaly<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    transaction_id: &str,
    out_trade_no: &str,
    amount: i64,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO payment_anomalies (transaction_id, out_trade_no, amount, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(transaction_id)
    .bind(out_trade_no)
    .bind(amount)
    .bind(reason)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every payment that could not be applied: `(transaction_id, out_trade_no, amount, reason)`.
pub async fn anomalies<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT transaction_id, out_trade_no, amount, reason FROM payment_anomalies ORDER BY transaction_id")
        .fetch_all(ex)
        .await
}
