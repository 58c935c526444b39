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

pub async fn all<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry_key, kind, account, amount, reference, external_id, created_at FROM ledger_entries ORDER BY entry_key",
    )
    .fetch_all(ex)
    .await
}

/// Every order with its status and amount: `(order_id, status, amount, heat_account)`.
pub async fn orders<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, status, amount, heat_account FROM heating_orders ORDER BY order_id",
    )
    .fetch_all(ex)
    .await
}

/// Every bill's settlement facts: `(bill_id, heat_account, amount, status, paid_order_id)`.
pub async fn bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64, String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT bill_id, heat_account, amount, status, paid_order_id FROM heating_bills ORDER BY bill_id")
        .fetch_all(ex)
        .await
}

/// Every (order, bill) pair.
pub async fn order_bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT order_id, bill_id FROM heating_order_bills ORDER BY order_id, bill_id")
        .fetch_all(ex)
        .await
}
