//! Work tickets.

use crate::store::fast_read::in_place_row;
use std::sync::LazyLock;

use sqlx::{Any, Executor};

use super::{Query, assignments, marks};
use crate::store::Conn;

/// A work ticket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub tid: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub uid: Option<String>,
    pub device_id: Option<String>,
    pub order_id: Option<String>,
    pub ttype: i64,
    pub status: i64,
    pub detail: String,
    pub appoint_at: Option<i64>,
    pub handler: Option<String>,
    pub approval: Option<String>,
    pub ratings: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns a ticket's writes set, in the order [`bind_written`] binds them (whom and what it
/// is about is set on insertion only).
const TICKET_WRITTEN: [&str; 7] = [
    "status",
    "handler",
    "approval",
    "ratings",
    "appoint_at",
    "updated_at",
    "detail",
];

/// Binds the columns of [`TICKET_WRITTEN`].
fn bind_written<'q>(q: Query<'q>, t: &'q TicketRow) -> Query<'q> {
    q.bind(t.status)
        .bind(&t.handler)
        .bind(&t.approval)
        .bind(&t.ratings)
        .bind(t.appoint_at)
        .bind(t.updated_at)
        .bind(&t.detail)
}

in_place_row!(TicketRow {
    tid,
    vid,
    agent,
    dealer,
    uid,
    device_id,
    order_id,
    ttype,
    status,
    detail,
    appoint_at,
    handler,
    approval,
    ratings,
    created_at,
    updated_at
});

pub const TICKET_COLUMNS: &str = "tid, vid, agent, dealer, uid, device_id, order_id, type AS ttype, \
     status, detail, appoint_at, handler, approval, ratings, created_at, updated_at";

/// Inserts a ticket; false when the order already has its install ticket.
pub async fn insert_ticket(conn: &mut Conn, t: &TicketRow) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO iot_tickets (tid, vid, agent, dealer, uid, device_id, order_id, type, \
             created_at, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}) \
             ON CONFLICT DO NOTHING",
            TICKET_WRITTEN.join(", "),
            marks(10, TICKET_WRITTEN.len()),
        )
    });
    let q = sqlx::query(&SQL)
        .bind(&t.tid)
        .bind(&t.vid)
        .bind(&t.agent)
        .bind(&t.dealer)
        .bind(&t.uid)
        .bind(&t.device_id)
        .bind(&t.order_id)
        .bind(t.ttype)
        .bind(t.created_at);
    let done = bind_written(q, t).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Writes a ticket back if its status is still `from`.
pub async fn update_ticket<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    t: &TicketRow,
    from: i64,
) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE iot_tickets SET {} WHERE tid = $1 AND status = $2",
            assignments(3, &TICKET_WRITTEN),
        )
    });
    let q = bind_written(sqlx::query(&SQL).bind(&t.tid).bind(from), t);
    let done = q.execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn ticket<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tid: &str,
) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} FROM iot_tickets WHERE tid = $1"
    ))
    .bind(tid)
    .fetch_optional(ex)
    .await
}

/// Rates a done ticket once: false when it was rated meanwhile.
pub async fn rate_ticket<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tid: &str,
    ratings: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_tickets SET ratings = $2, updated_at = $3 WHERE tid = $1 AND status = 6 \
         AND ratings IS NULL",
    )
    .bind(tid)
    .bind(ratings)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
