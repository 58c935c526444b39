//! Orders.

use std::sync::LazyLock;

use sqlx::{Any, Executor};

use super::{Query, assignments};
use crate::store::fast_read::in_place_row;
use crate::store::{Conn, Store};

/// An order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub oid: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub uid: String,
    pub state: String,
    pub amount: i64,
    pub needs_install: i64,
    pub content: String,
    pub receiver: String,
    pub memo: String,
    pub delivery: Option<String>,
    pub return_info: Option<String>,
    pub pay_ch: Option<String>,
    pub prepay_id: Option<String>,
    pub transaction_no: Option<String>,
    pub refund_amount: Option<i64>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub received_at: Option<i64>,
    pub done_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub returned_at: Option<i64>,
    pub refunded_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// One more with each write (migration 0017): `(oid, version)` is one committed state.
    pub version: i64,
}

/// The columns an order's writes set, in the order [`bind_written`] binds them (what was bought,
/// by whom, for how much and when is set on insertion only).
const ORDER_WRITTEN: [&str; 17] = [
    "state",
    "delivery",
    "return_info",
    "pay_ch",
    "prepay_id",
    "transaction_no",
    "refund_amount",
    "paid_at",
    "delivered_at",
    "received_at",
    "done_at",
    "closed_at",
    "returned_at",
    "refunded_at",
    "deleted_at",
    "agent",
    "dealer",
];

/// Binds the columns of [`ORDER_WRITTEN`].
fn bind_written<'q>(q: Query<'q>, o: &'q OrderRow) -> Query<'q> {
    q.bind(&o.state)
        .bind(&o.delivery)
        .bind(&o.return_info)
        .bind(&o.pay_ch)
        .bind(&o.prepay_id)
        .bind(&o.transaction_no)
        .bind(o.refund_amount)
        .bind(o.paid_at)
        .bind(o.delivered_at)
        .bind(o.received_at)
        .bind(o.done_at)
        .bind(o.closed_at)
        .bind(o.returned_at)
        .bind(o.refunded_at)
        .bind(o.deleted_at)
        .bind(&o.agent)
        .bind(&o.dealer)
}

in_place_row!(OrderRow {
    oid,
    vid,
    agent,
    dealer,
    uid,
    state,
    amount,
    needs_install,
    content,
    receiver,
    memo,
    delivery,
    return_info,
    pay_ch,
    prepay_id,
    transaction_no,
    refund_amount,
    created_at,
    paid_at,
    delivered_at,
    received_at,
    done_at,
    closed_at,
    returned_at,
    refunded_at,
    deleted_at,
    version
});

pub const ORDER_COLUMNS: &str = "oid, vid, agent, dealer, uid, state, amount, needs_install, content, \
     receiver, memo, delivery, return_info, pay_ch, prepay_id, transaction_no, refund_amount, \
     created_at, paid_at, delivered_at, received_at, done_at, closed_at, returned_at, \
     refunded_at, deleted_at, version";

/// The columns of an insertion, in the order [`bind_inserted`] binds them.
fn inserted_columns() -> String {
    format!(
        "oid, vid, uid, amount, needs_install, content, receiver, memo, created_at, {}",
        ORDER_WRITTEN.join(", ")
    )
}

/// Binds the columns of [`inserted_columns`].
fn bind_inserted<'q>(q: Query<'q>, o: &'q OrderRow) -> Query<'q> {
    let q = q
        .bind(&o.oid)
        .bind(&o.vid)
        .bind(&o.uid)
        .bind(o.amount)
        .bind(o.needs_install)
        .bind(&o.content)
        .bind(&o.receiver)
        .bind(&o.memo)
        .bind(o.created_at);
    bind_written(q, o)
}

/// Inserts `orders` in one statement.
pub async fn insert_orders(conn: &mut Conn, orders: &[OrderRow]) -> Result<(), sqlx::Error> {
    if orders.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO iot_orders ({}) VALUES {}",
        inserted_columns(),
        crate::store::placeholders(conn, orders.len(), 9 + ORDER_WRITTEN.len())
    );
    let mut q = sqlx::query(&sql);
    for o in orders {
        q = bind_inserted(q, o);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Writes an order back if it is still in state `from`: false when it moved meanwhile. Its
/// version goes one up.
pub async fn update_order<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    o: &OrderRow,
    from: &str,
) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE iot_orders SET {}, version = version + 1 WHERE oid = $1 AND state = $2",
            assignments(3, &ORDER_WRITTEN),
        )
    });
    let q = bind_written(sqlx::query(&SQL).bind(&o.oid).bind(from), o);
    let done = q.execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn order<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    oid: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM iot_orders WHERE oid = $1"
    ))
    .bind(oid)
    .fetch_optional(ex)
    .await
}

/// An order as last committed (in place on SQLite); [`order`] reads one inside a transaction.
pub async fn find_order(store: &Store, oid: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {ORDER_COLUMNS} FROM iot_orders WHERE oid = $1"));
    store.fast_fetch_optional(&SQL, &[oid.into()]).await
}

/// An order's version as last committed (in place on SQLite): what a read compares with the
/// state it made something of before.
pub async fn order_version(store: &Store, oid: &str) -> Result<Option<i64>, sqlx::Error> {
    Ok(store
        .fast_fetch_optional::<(i64,)>(
            "SELECT version FROM iot_orders WHERE oid = $1",
            &[oid.into()],
        )
        .await?
        .map(|(v,)| v))
}

/// The orders of these ids as last committed (in place on SQLite), in no particular order.
pub async fn find_orders(store: &Store, oids: &[&str]) -> Result<Vec<OrderRow>, sqlx::Error> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = (1..=oids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let params = oids.iter().map(|&o| o.into()).collect::<Vec<_>>();
    store
        .fast_fetch_all(
            &format!("SELECT {ORDER_COLUMNS} FROM iot_orders WHERE oid IN ({marks})"),
            &params,
        )
        .await
}

/// When the earliest unpaid order was created, the earliest received order received, and the
/// earliest pending commission becomes available.
pub async fn next_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<(Option<i64>, Option<i64>, Option<i64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT MIN(created_at) FROM iot_orders WHERE state = 'obligation'), \
         (SELECT MIN(received_at) FROM iot_orders WHERE state = 'received'), \
         (SELECT MIN(available_at) FROM iot_commissions WHERE state = 'pending')",
    )
    .fetch_one(ex)
    .await
}

/// Orders in `state` whose `column` instant is at or before `before`.
pub async fn orders_due<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    state: &str,
    column: &'static str,
    before: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM iot_orders WHERE state = $1 AND {column} <= $2 \
         ORDER BY {column} LIMIT 200"
    ))
    .bind(state)
    .bind(before)
    .fetch_all(ex)
    .await
}
