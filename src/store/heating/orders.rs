//! Heating payment orders and the bills they cover.

use sqlx::{Any, Executor};

/// An order as stored (money in fen, times in UTC ms).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub user_id: String,
    pub heat_account: String,
    pub amount: i64,
    pub status: String,
    pub gateway: String,
    pub openid: Option<String>,
    pub prepay_id: Option<String>,
    pub transaction_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub checked_at: Option<i64>,
}

const ORDER_COLUMNS: &str = "order_id, user_id, heat_account, amount, status, gateway, openid, prepay_id, \
     transaction_id, created_at, expires_at, paid_at, closed_at, checked_at";

pub async fn insert(conn: &mut crate::store::Conn, o: &OrderRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO heating_orders (order_id, user_id, heat_account, amount, status, gateway, openid, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&o.order_id)
    .bind(&o.user_id)
    .bind(&o.heat_account)
    .bind(o.amount)
    .bind(&o.status)
    .bind(&o.gateway)
    .bind(&o.openid)
    .bind(o.created_at)
    .bind(o.expires_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Adds a bill to an order and holds it for that order; false if it is paid or held already.
pub async fn add_bill(
    conn: &mut crate::store::Conn,
    order_id: &str,
    bill_id: &str,
    amount: i64,
    late_fee: i64,
) -> Result<bool, sqlx::Error> {
    let held = sqlx::query(
        "UPDATE heating_bills SET pending_order_id = $1 WHERE bill_id = $2 AND status = 'unpaid' AND pending_order_id IS NULL",
    )
    .bind(order_id)
    .bind(bill_id)
    .execute(&mut *conn)
    .await?;
    if held.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO heating_order_bills (order_id, bill_id, amount, late_fee) VALUES ($1, $2, $3, $4)")
        .bind(order_id)
        .bind(bill_id)
        .bind(amount)
        .bind(late_fee)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

pub async fn find<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_id: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM heating_orders WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(ex)
    .await
}

/// The bills of an order: `(bill_id, amount, late_fee)`, in bill order.
pub async fn bills<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_id: &str,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT bill_id, amount, late_fee FROM heating_order_bills WHERE order_id = $1 ORDER BY bill_id")
        .bind(order_id)
        .fetch_all(ex)
        .await
}

/// The pending order holding a bill, if any.
pub async fn holder_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    bill_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let held: Option<Option<String>> =
        sqlx::query_scalar("SELECT pending_order_id FROM heating_bills WHERE bill_id = $1")
            .bind(bill_id)
            .fetch_optional(ex)
            .await?;
    Ok(held.flatten())
}

/// Pending orders due for reconciliation: old enough and not checked lately, or expired.
pub async fn pending_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    checked_before: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM heating_orders WHERE status = 'pending' AND \
         ((created_at <= $1 AND (checked_at IS NULL OR checked_at <= $1)) OR expires_at <= $2) \
         ORDER BY created_at LIMIT $3"
    ))
    .bind(checked_before)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn set_prepay<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_id: &str,
    prepay_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE heating_orders SET prepay_id = $1 WHERE order_id = $2")
        .bind(prepay_id)
        .bind(order_id)
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn set_checked<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    order_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE heating_orders SET checked_at = $1 WHERE order_id = $2")
        .bind(now)
        .bind(order_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Ends a pending order without payment (`failed` or `canceled`) and frees its bills.
pub async fn close(
    conn: &mut crate::store::Conn,
    order_id: &str,
    status: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE heating_orders SET status = $1, closed_at = $2 WHERE order_id = $3 AND status = 'pending'")
        .bind(status)
        .bind(now)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE heating_bills SET pending_order_id = NULL WHERE pending_order_id = $1")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Other pending orders holding bills of this order (a late payment displaces them).
pub async fn other_holders(
    conn: &mut crate::store::Conn,
    order_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT pending_order_id FROM heating_bills WHERE pending_order_id IS NOT NULL \
         AND pending_order_id <> $1 AND bill_id IN (SELECT bill_id FROM heating_order_bills WHERE order_id = $1)",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Marks an order paid and its unpaid bills paid by it; returns how many bills changed.
pub async fn settle(
    conn: &mut crate::store::Conn,
    order_id: &str,
    transaction_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE heating_orders SET status = 'paid', transaction_id = $1, paid_at = $2, closed_at = NULL \
         WHERE order_id = $3 AND status <> 'paid'",
    )
    .bind(transaction_id)
    .bind(now)
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    let bills = sqlx::query(
        "UPDATE heating_bills SET status = 'paid', paid_at = $1, paid_order_id = $2, pending_order_id = NULL \
         WHERE status = 'unpaid' AND bill_id IN (SELECT bill_id FROM heating_order_bills WHERE order_id = $2)",
    )
    .bind(now)
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    Ok(bills.rows_affected())
}

/// A paid bill as the payment history shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaidBillRow {
    pub bill_id: String,
    pub heating_season: String,
    pub amount: i64,
    pub late_fee: i64,
    pub paid_at: i64,
    pub order_id: Option<String>,
}

/// Paid bills of an account, newest first, paid within `[from, to)` (UTC ms).
pub async fn paid_bills<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    heat_account: &str,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<PaidBillRow>), sqlx::Error> {
    let filter = "FROM heating_bills b LEFT JOIN heating_order_bills ob ON ob.bill_id = b.bill_id AND ob.order_id = b.paid_order_id \
         WHERE b.heat_account = $1 AND b.status = 'paid' AND b.paid_at >= $2 AND b.paid_at < $3";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
        .bind(heat_account)
        .bind(from)
        .bind(to)
        .fetch_one(ex)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT b.bill_id, b.heating_season, b.amount, COALESCE(ob.late_fee, 0) AS late_fee, b.paid_at, b.paid_order_id AS order_id \
         {filter} ORDER BY b.paid_at DESC, b.bill_id LIMIT $4 OFFSET $5"
    ))
    .bind(heat_account)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(ex)
    .await?;
    Ok((total, rows))
}
