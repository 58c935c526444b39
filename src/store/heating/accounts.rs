//! Heat accounts and their bills.

use sqlx::{Any, Executor};

/// A heat account as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeatAccountRow {
    pub heat_account: String,
    pub real_name: String,
    pub id_card: String,
    pub address: String,
    pub heating_area_centi: i64,
    pub bound_user_id: Option<String>,
    pub bound_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ACCOUNT_COLUMNS: &str = "heat_account, real_name, id_card, address, heating_area_centi, bound_user_id, bound_at, created_at, updated_at";

/// A bill as stored (money in fen).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BillRow {
    pub bill_id: String,
    pub heat_account: String,
    pub heating_season: String,
    pub amount: i64,
    pub bill_date: i64,
    pub due_date: String,
    pub status: String,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

const BILL_COLUMNS: &str = "bill_id, heat_account, heating_season, amount, bill_date, due_date, status, paid_at, created_at";

/// Creates an account or updates its registry fields (never its binding).
pub async fn upsert_account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    a: &HeatAccountRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO heat_accounts (heat_account, real_name, id_card, address, heating_area_centi, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (heat_account) DO UPDATE SET real_name = excluded.real_name, \
         id_card = excluded.id_card, address = excluded.address, heating_area_centi = excluded.heating_area_centi, \
         updated_at = excluded.updated_at",
    )
    .bind(&a.heat_account)
    .bind(&a.real_name)
    .bind(&a.id_card)
    .bind(&a.address)
    .bind(a.heating_area_centi)
    .bind(a.updated_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn find_account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    heat_account: &str,
) -> Result<Option<HeatAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM heat_accounts WHERE heat_account = $1"
    ))
    .bind(heat_account)
    .fetch_optional(ex)
    .await
}

/// The account bound to a user, if any.
pub async fn bound_account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
) -> Result<Option<HeatAccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM heat_accounts WHERE bound_user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

/// A page of accounts, optionally those whose number starts with `prefix`.
pub async fn list_accounts<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    prefix: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<HeatAccountRow>), sqlx::Error> {
    crate::store::PrefixListing {
        table: "heat_accounts",
        column: "heat_account",
        select: ACCOUNT_COLUMNS,
        order: "heat_account",
    }
    .page(ex, prefix, limit, offset)
    .await
}

/// Binds a free account to a user; false if it is bound already (to anyone).
pub async fn bind<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    heat_account: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE heat_accounts SET bound_user_id = $1, bound_at = $2 WHERE heat_account = $3 AND bound_user_id IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .bind(heat_account)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unbinds whatever account the user has; returns it.
pub async fn unbind_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE heat_accounts SET bound_user_id = NULL, bound_at = NULL WHERE bound_user_id = $1 RETURNING heat_account",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

/// Unbinds an account from whoever holds it; false if there is no such account.
pub async fn unbind_account<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    heat_account: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE heat_accounts SET bound_user_id = NULL, bound_at = NULL WHERE heat_account = $1",
    )
    .bind(heat_account)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_bill<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    b: &BillRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO heating_bills (bill_id, heat_account, heating_season, amount, bill_date, due_date, status, paid_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&b.bill_id)
    .bind(&b.heat_account)
    .bind(&b.heating_season)
    .bind(b.amount)
    .bind(b.bill_date)
    .bind(&b.due_date)
    .bind(&b.status)
    .bind(b.paid_at)
    .bind(b.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn find_bill<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    bill_id: &str,
) -> Result<Option<BillRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BILL_COLUMNS} FROM heating_bills WHERE bill_id = $1"
    ))
    .bind(bill_id)
    .fetch_optional(ex)
    .await
}

/// Every bill of an account, oldest season first.
pub async fn bills_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    heat_account: &str,
) -> Result<Vec<BillRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BILL_COLUMNS} FROM heating_bills WHERE heat_account = $1 ORDER BY heating_season, due_date, bill_id"
    ))
    .bind(heat_account)
    .fetch_all(ex)
    .await
}
