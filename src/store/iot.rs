//! SQL of the IoT platform (seed 002): parties and tokens, serial numbers, devices and their
//! shares, products, orders, tickets, commissions, withdrawals and vendors' signing records.
//!
//! Rows are read whole and written whole; a state change is a conditional update on the state
//! it expects, so two requests racing on one object cannot both move it.

use sqlx::{Any, Executor};

use super::Conn;

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

pub const USER_COLUMNS: &str = "uid, kind, vid, code, agent, dealer, login, mobile, pwd_hash, state, \
     type AS utype, rid, openid, weixin, profile, secrets, withdrawn_at, reg_at, deleted_at";

pub async fn insert_user(conn: &mut Conn, u: &UserRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_users (uid, kind, vid, code, agent, dealer, login, mobile, pwd_hash, \
         state, type, rid, openid, weixin, profile, secrets, withdrawn_at, reg_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19) ON CONFLICT DO NOTHING",
    )
    .bind(&u.uid)
    .bind(&u.kind)
    .bind(&u.vid)
    .bind(&u.code)
    .bind(&u.agent)
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
    .bind(u.withdrawn_at)
    .bind(u.reg_at)
    .bind(u.deleted_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes every mutable field of a live party back, if its state is still `expected` (a
/// concurrent disable or deletion wins): false when it is not.
pub async fn update_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    u: &UserRow,
    expected: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_users SET agent = $2, dealer = $3, login = $4, mobile = $5, pwd_hash = $6, \
         state = $7, type = $8, rid = $9, openid = $10, weixin = $11, profile = $12, \
         secrets = $13, deleted_at = $14 WHERE uid = $1 AND deleted_at IS NULL AND state = $15",
    )
    .bind(&u.uid)
    .bind(&u.agent)
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
    .bind(expected)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM iot_users WHERE uid = $1"
    ))
    .bind(uid)
    .fetch_optional(ex)
    .await
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

/// The live party a live token belongs to.
pub async fn token_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    let columns = USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(&format!(
        "SELECT {columns} FROM iot_tokens t JOIN iot_users u ON u.uid = t.uid \
         WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.deleted_at IS NULL"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
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
    sqlx::query_scalar(
        "INSERT INTO iot_serials (scope, next) VALUES ($1, 1) \
         ON CONFLICT (scope) DO UPDATE SET next = iot_serials.next + 1 RETURNING next",
    )
    .bind(scope)
    .fetch_one(conn)
    .await
}

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
}

pub const DEVICE_COLUMNS: &str = "did, vid, agent, dealer, uid, product_id, type AS dtype, state, \
     profile, prof, service, running, statistics, reg_at, atv_at, deleted_at";

/// Inserts devices; false (and nothing written by this statement) when one id exists.
pub async fn insert_device(conn: &mut Conn, d: &DeviceRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_devices (did, vid, agent, dealer, uid, product_id, type, state, profile, \
         prof, service, running, statistics, reg_at, atv_at, deleted_at) VALUES ($1, $2, $3, $4, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
    )
    .bind(&d.did)
    .bind(&d.vid)
    .bind(&d.agent)
    .bind(&d.dealer)
    .bind(&d.uid)
    .bind(&d.product_id)
    .bind(d.dtype)
    .bind(d.state)
    .bind(&d.profile)
    .bind(&d.prof)
    .bind(&d.service)
    .bind(&d.running)
    .bind(&d.statistics)
    .bind(d.reg_at)
    .bind(d.atv_at)
    .bind(d.deleted_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_device<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &DeviceRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE iot_devices SET vid = $2, agent = $3, dealer = $4, uid = $5, product_id = $6, \
         type = $7, state = $8, profile = $9, prof = $10, service = $11, running = $12, \
         statistics = $13, atv_at = $14, deleted_at = $15 WHERE did = $1 AND deleted_at IS NULL",
    )
    .bind(&d.did)
    .bind(&d.vid)
    .bind(&d.agent)
    .bind(&d.dealer)
    .bind(&d.uid)
    .bind(&d.product_id)
    .bind(d.dtype)
    .bind(d.state)
    .bind(&d.profile)
    .bind(&d.prof)
    .bind(&d.service)
    .bind(&d.running)
    .bind(&d.statistics)
    .bind(d.atv_at)
    .bind(d.deleted_at)
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

/// A product: its vendor and its whole configuration (JSON).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub pid: String,
    pub vid: String,
    pub doc: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

pub async fn insert_product(conn: &mut Conn, p: &ProductRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_products (pid, vid, doc, created_at, deleted_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&p.pid)
    .bind(&p.vid)
    .bind(&p.doc)
    .bind(p.created_at)
    .bind(p.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_product<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &ProductRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE iot_products SET doc = $2, deleted_at = $3 WHERE pid = $1 AND deleted_at IS NULL",
    )
    .bind(&p.pid)
    .bind(&p.doc)
    .bind(p.deleted_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn product<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    pid: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as("SELECT pid, vid, doc, created_at, deleted_at FROM iot_products WHERE pid = $1")
        .bind(pid)
        .fetch_optional(ex)
        .await
}

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
}

pub const ORDER_COLUMNS: &str = "oid, vid, agent, dealer, uid, state, amount, needs_install, content, \
     receiver, memo, delivery, return_info, pay_ch, prepay_id, transaction_no, refund_amount, \
     created_at, paid_at, delivered_at, received_at, done_at, closed_at, returned_at, \
     refunded_at, deleted_at";

pub async fn insert_order(conn: &mut Conn, o: &OrderRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO iot_orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
    ))
    .bind(&o.oid)
    .bind(&o.vid)
    .bind(&o.agent)
    .bind(&o.dealer)
    .bind(&o.uid)
    .bind(&o.state)
    .bind(o.amount)
    .bind(o.needs_install)
    .bind(&o.content)
    .bind(&o.receiver)
    .bind(&o.memo)
    .bind(&o.delivery)
    .bind(&o.return_info)
    .bind(&o.pay_ch)
    .bind(&o.prepay_id)
    .bind(&o.transaction_no)
    .bind(o.refund_amount)
    .bind(o.created_at)
    .bind(o.paid_at)
    .bind(o.delivered_at)
    .bind(o.received_at)
    .bind(o.done_at)
    .bind(o.closed_at)
    .bind(o.returned_at)
    .bind(o.refunded_at)
    .bind(o.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes an order back if it is still in state `from`: false when it moved meanwhile.
pub async fn update_order<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    o: &OrderRow,
    from: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_orders SET state = $3, delivery = $4, return_info = $5, pay_ch = $6, \
         prepay_id = $7, transaction_no = $8, refund_amount = $9, paid_at = $10, \
         delivered_at = $11, received_at = $12, done_at = $13, closed_at = $14, \
         returned_at = $15, refunded_at = $16, deleted_at = $17, agent = $18, dealer = $19 \
         WHERE oid = $1 AND state = $2",
    )
    .bind(&o.oid)
    .bind(from)
    .bind(&o.state)
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
    .execute(ex)
    .await?;
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

pub const TICKET_COLUMNS: &str = "tid, vid, agent, dealer, uid, device_id, order_id, type AS ttype, \
     status, detail, appoint_at, handler, approval, ratings, created_at, updated_at";

/// Inserts a ticket; false when the order already has its install ticket.
pub async fn insert_ticket(conn: &mut Conn, t: &TicketRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_tickets (tid, vid, agent, dealer, uid, device_id, order_id, type, status, \
         detail, appoint_at, handler, approval, ratings, created_at, updated_at) VALUES ($1, $2, \
         $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
    )
    .bind(&t.tid)
    .bind(&t.vid)
    .bind(&t.agent)
    .bind(&t.dealer)
    .bind(&t.uid)
    .bind(&t.device_id)
    .bind(&t.order_id)
    .bind(t.ttype)
    .bind(t.status)
    .bind(&t.detail)
    .bind(t.appoint_at)
    .bind(&t.handler)
    .bind(&t.approval)
    .bind(&t.ratings)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes a ticket back if its status is still `from`.
pub async fn update_ticket<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    t: &TicketRow,
    from: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_tickets SET status = $3, handler = $4, approval = $5, ratings = $6, \
         appoint_at = $7, updated_at = $8, detail = $9 WHERE tid = $1 AND status = $2",
    )
    .bind(&t.tid)
    .bind(from)
    .bind(t.status)
    .bind(&t.handler)
    .bind(&t.approval)
    .bind(&t.ratings)
    .bind(t.appoint_at)
    .bind(t.updated_at)
    .bind(&t.detail)
    .execute(ex)
    .await?;
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

const COMMISSION_COLUMNS: &str =
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
    Ok(out)
}

/// A vendor's signing record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningRow {
    pub sid: String,
    pub vid: String,
    pub doc: String,
    pub created_at: i64,
}

pub async fn insert_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &SigningRow,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO iot_signings (sid, vid, doc, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&s.sid)
        .bind(&s.vid)
        .bind(&s.doc)
        .bind(s.created_at)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn signings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
) -> Result<Vec<SigningRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sid, vid, doc, created_at FROM iot_signings WHERE vid = $1 ORDER BY created_at, sid",
    )
    .bind(vid)
    .fetch_all(ex)
    .await
}

pub async fn update_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    sid: &str,
    doc: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE iot_signings SET doc = $3 WHERE vid = $1 AND sid = $2")
        .bind(vid)
        .bind(sid)
        .bind(doc)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    sid: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM iot_signings WHERE vid = $1 AND sid = $2")
        .bind(vid)
        .bind(sid)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A value a listing compares a column with.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// A page of a listing done in SQL: `column = value` conditions (columns are the caller's
/// constants, never input), an order and a window.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub conditions: Vec<(&'static str, Bind)>,
    pub order: String,
    pub limit: i64,
    pub offset: i64,
}

/// The rows of `table` matching `base` (a constant) and the page's conditions, in its order and
/// window, with the count of all matches.
pub async fn page<T>(
    pool: &sqlx::AnyPool,
    table: &'static str,
    columns: &'static str,
    base: &'static str,
    p: &Page,
) -> Result<(i64, Vec<T>), sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut clause = String::from(base);
    for (i, (column, _)) in p.conditions.iter().enumerate() {
        clause.push_str(&format!(" AND {column} = ${}", i + 1));
    }
    let n = p.conditions.len();
    // The cast keeps the count a BIGINT on both backends.
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE {clause}");
    let rows_sql = format!(
        "SELECT {columns} FROM {table} WHERE {clause} ORDER BY {} LIMIT ${} OFFSET ${}",
        p.order,
        n + 1,
        n + 2
    );
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    let mut rows = sqlx::query_as::<_, T>(&rows_sql);
    for (_, value) in &p.conditions {
        match value {
            Bind::Text(s) => {
                count = count.bind(s.clone());
                rows = rows.bind(s.clone());
            }
            Bind::Int(i) => {
                count = count.bind(*i);
                rows = rows.bind(*i);
            }
        }
    }
    let total = count.fetch_one(pool).await?;
    let rows = rows.bind(p.limit).bind(p.offset).fetch_all(pool).await?;
    Ok((total, rows))
}

/// Every live row of a listing's table (one vendor's, or every vendor's), in `order` (the
/// caller's constant): what a list filters in memory when SQL cannot.
pub async fn all_of<T>(
    pool: &sqlx::AnyPool,
    (table, base): (&'static str, &'static str),
    columns: &'static str,
    order: &'static str,
    vid: Option<&str>,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = format!("SELECT {columns} FROM {table} WHERE {base}");
    match vid {
        Some(vid) => {
            sqlx::query_as(&format!("{sql} AND vid = $1 ORDER BY {order}"))
                .bind(vid)
                .fetch_all(pool)
                .await
        }
        None => {
            sqlx::query_as(&format!("{sql} ORDER BY {order}"))
                .fetch_all(pool)
                .await
        }
    }
}

pub const LIST_USERS: (&str, &str) = ("iot_users", "kind = 'member' AND deleted_at IS NULL");
pub const LIST_DEVICES: (&str, &str) = ("iot_devices", "deleted_at IS NULL");
pub const LIST_PRODUCTS: (&str, &str) = ("iot_products", "deleted_at IS NULL");
pub const LIST_ORDERS: (&str, &str) = ("iot_orders", "deleted_at IS NULL");
pub const LIST_TICKETS: (&str, &str) = ("iot_tickets", "1 = 1");

pub const PRODUCT_COLUMNS: &str = "pid, vid, doc, created_at, deleted_at";

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
