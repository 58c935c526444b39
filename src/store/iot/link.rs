//! SQL of the purifiers' link: each device's link state and counters, its reports (history),
//! filters, open faults, commands, and the prepaid balances of rentals and vending.

use sqlx::{Any, Executor};

use crate::store::Conn;

/// What the link needs of a device, read in the transaction that applies a message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub did: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub uid: Option<String>,
    pub product_id: Option<String>,
    pub dtype: i64,
    pub key_gen: i64,
    pub up_seq: i64,
    pub status_seq: i64,
    pub down_seq: i64,
    pub online: i64,
    pub powered_s: i64,
    pub working_s: i64,
    pub normal_ml: i64,
    pub cold_ml: i64,
    pub warm_ml: i64,
    pub hot_ml: i64,
    pub errors: String,
    pub lock_reason: String,
    pub rent_until: Option<i64>,
    pub removal_for: Option<i64>,
    pub balance: i64,
    pub billed_ml: i64,
    pub period_start: Option<i64>,
    pub period_used: i64,
    pub deleted_at: Option<i64>,
}

const LINK_COLUMNS: &str = "did, vid, agent, dealer, uid, product_id, type AS dtype, key_gen, \
     up_seq, status_seq, down_seq, online, powered_s, working_s, normal_ml, cold_ml, warm_ml, hot_ml, errors, \
     lock_reason, rent_until, removal_for, balance, billed_ml, period_start, period_used, deleted_at";

pub async fn link<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM iot_devices WHERE did = $1"
    ))
    .bind(did)
    .fetch_optional(ex)
    .await
}

/// The devices of these types (live), for the sweeps of rentals.
pub async fn links_of_type<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    dtype: i64,
) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM iot_devices WHERE type = $1 AND deleted_at IS NULL"
    ))
    .bind(dtype)
    .fetch_all(ex)
    .await
}

/// A device's key generation (none: no such live device).
pub async fn key_gen<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT key_gen FROM iot_devices WHERE did = $1 AND deleted_at IS NULL")
        .bind(did)
        .fetch_optional(ex)
        .await
}

/// Moves a device to its next key generation; its frames' counter starts over.
pub async fn rotate_key(conn: &mut Conn, did: &str) -> Result<Option<i64>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_devices SET key_gen = key_gen + 1, up_seq = 0, status_seq = 0 \
         WHERE did = $1 AND deleted_at IS NULL",
    )
    .bind(did)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    key_gen(&mut *conn, did).await
}

/// What an accepted report sets.
#[derive(Debug, Clone)]
pub struct Reported<'a> {
    pub seq: i64,
    pub now: i64,
    pub powered_s: i64,
    pub working_s: i64,
    pub water: [i64; 4],
    pub errors: &'a str,
    pub running: &'a str,
    pub statistics: &'a str,
}

/// Applies a report on the state it was checked against (`up_seq` = `expected`): false when
/// another message got there first.
pub async fn apply_report(
    conn: &mut Conn,
    did: &str,
    expected: i64,
    r: &Reported<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_devices SET up_seq = $3, seen_at = $4, \
         online_at = CASE WHEN online = 0 THEN $4 ELSE online_at END, online = 1, \
         powered_s = $5, working_s = $6, normal_ml = $7, cold_ml = $8, warm_ml = $9, \
         hot_ml = $10, errors = $11, running = $12, statistics = $13 \
         WHERE did = $1 AND up_seq = $2",
    )
    .bind(did)
    .bind(expected)
    .bind(r.seq)
    .bind(r.now)
    .bind(r.powered_s)
    .bind(r.working_s)
    .bind(r.water[0])
    .bind(r.water[1])
    .bind(r.water[2])
    .bind(r.water[3])
    .bind(r.errors)
    .bind(r.running)
    .bind(r.statistics)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps a report in the device's history.
pub async fn insert_report(
    conn: &mut Conn,
    did: &str,
    r: &Reported<'_>,
    tds: (i64, i64),
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_reports (did, seq, at, powered_s, working_s, normal_ml, cold_ml, \
         warm_ml, hot_ml, tds_in, tds_out, errors) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(did)
    .bind(r.seq)
    .bind(r.now)
    .bind(r.powered_s)
    .bind(r.working_s)
    .bind(r.water[0])
    .bind(r.water[1])
    .bind(r.water[2])
    .bind(r.water[3])
    .bind(tds.0)
    .bind(tds.1)
    .bind(r.errors)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes a message's `seq` on `up` (`online` none) or on `status` (`online` whether it came
/// or went): false when another message got there first.
pub async fn take_seq(
    conn: &mut Conn,
    did: &str,
    expected: i64,
    seq: i64,
    now: i64,
    online: Option<bool>,
) -> Result<bool, sqlx::Error> {
    let sql = match online {
        None => "UPDATE iot_devices SET up_seq = $3, seen_at = $4 WHERE did = $1 AND up_seq = $2",
        Some(true) => {
            "UPDATE iot_devices SET status_seq = $3, seen_at = $4, \
             online_at = CASE WHEN online = 0 THEN $4 ELSE online_at END, online = 1 \
             WHERE did = $1 AND status_seq = $2"
        }
        Some(false) => {
            "UPDATE iot_devices SET status_seq = $3, online = 0, offline_at = $4 \
             WHERE did = $1 AND status_seq = $2"
        }
    };
    let done = sqlx::query(sql)
        .bind(did)
        .bind(expected)
        .bind(seq)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks offline the devices not heard since `before`; returns them.
pub async fn mark_silent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    before: i64,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE iot_devices SET online = 0, offline_at = $2 \
         WHERE online = 1 AND (seen_at IS NULL OR seen_at < $1) RETURNING did",
    )
    .bind(before)
    .bind(now)
    .fetch_all(ex)
    .await
}

/// How many devices are online.
pub async fn online_count<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM iot_devices WHERE online = 1 AND deleted_at IS NULL",
    )
    .fetch_one(ex)
    .await
}

/// The next `seq` of the server's frames to a device.
pub async fn next_down_seq(conn: &mut Conn, did: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE iot_devices SET down_seq = down_seq + 1 WHERE did = $1 RETURNING down_seq",
    )
    .bind(did)
    .fetch_one(conn)
    .await
}

/// Sets why the platform holds a device locked (`""`: it does not).
pub async fn set_lock(conn: &mut Conn, did: &str, reason: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE iot_devices SET lock_reason = $2 WHERE did = $1 AND lock_reason <> $2")
            .bind(did)
            .bind(reason)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// One report of the history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub seq: i64,
    pub at: i64,
    pub powered_s: i64,
    pub working_s: i64,
    pub normal_ml: i64,
    pub cold_ml: i64,
    pub warm_ml: i64,
    pub hot_ml: i64,
    pub tds_in: i64,
    pub tds_out: i64,
    pub errors: String,
}

/// A device's reports in `[from, to)`, newest first, and how many there are in all.
pub async fn history(
    pool: &sqlx::AnyPool,
    did: &str,
    from: i64,
    to: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ReportRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT seq, at, powered_s, working_s, normal_ml, cold_ml, warm_ml, hot_ml, tds_in, \
         tds_out, errors FROM iot_reports WHERE did = $1 AND at >= $2 AND at < $3 \
         ORDER BY at DESC, seq DESC LIMIT $4 OFFSET $5",
    )
    .bind(did)
    .bind(from)
    .bind(to)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM iot_reports WHERE did = $1 AND at >= $2 AND at < $3",
    )
    .bind(did)
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// A filter of a device: its cycle and where that cycle's counters started.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FilterRow {
    pub did: String,
    pub ord: i64,
    pub cycle: i64,
    pub base_powered_s: i64,
    pub base_working_s: i64,
    pub reset_at: i64,
    pub ticket: Option<String>,
}

pub async fn filters<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Vec<FilterRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT did, ord, cycle, base_powered_s, base_working_s, reset_at, ticket \
         FROM iot_filters WHERE did = $1 ORDER BY ord",
    )
    .bind(did)
    .fetch_all(ex)
    .await
}

pub async fn insert_filter(conn: &mut Conn, f: &FilterRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_filters (did, ord, cycle, base_powered_s, base_working_s, reset_at, ticket) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&f.did)
    .bind(f.ord)
    .bind(f.cycle)
    .bind(f.base_powered_s)
    .bind(f.base_working_s)
    .bind(f.reset_at)
    .bind(&f.ticket)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes the maintenance ticket of a filter's cycle: false when it has one.
pub async fn set_filter_ticket(
    conn: &mut Conn,
    did: &str,
    ord: i64,
    cycle: i64,
    tid: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_filters SET ticket = $4 WHERE did = $1 AND ord = $2 AND cycle = $3 \
         AND ticket IS NULL",
    )
    .bind(did)
    .bind(ord)
    .bind(cycle)
    .bind(tid)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The filter whose current cycle's ticket this is.
pub async fn filter_of_ticket<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tid: &str,
) -> Result<Option<FilterRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT did, ord, cycle, base_powered_s, base_working_s, reset_at, ticket \
         FROM iot_filters WHERE ticket = $1",
    )
    .bind(tid)
    .fetch_optional(ex)
    .await
}

/// The filters whose current ticket is done or rejected (`statuses`): `(ticket, status)`.
pub async fn closed_filter_tickets<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    done: i64,
    rejected: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.tid, t.status FROM iot_filters f JOIN iot_tickets t ON t.tid = f.ticket \
         WHERE t.status IN ($1, $2)",
    )
    .bind(done)
    .bind(rejected)
    .fetch_all(ex)
    .await
}

/// Forgets a filter's ticket (rejected: the next report opens another).
pub async fn forget_filter_ticket(conn: &mut Conn, tid: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE iot_filters SET ticket = NULL WHERE ticket = $1")
        .bind(tid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Starts a filter's next cycle from these counters: false when it moved on already.
pub async fn next_filter_cycle(
    conn: &mut Conn,
    f: &FilterRow,
    powered_s: i64,
    working_s: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_filters SET cycle = cycle + 1, base_powered_s = $4, base_working_s = $5, \
         reset_at = $6, ticket = NULL WHERE did = $1 AND ord = $2 AND cycle = $3",
    )
    .bind(&f.did)
    .bind(f.ord)
    .bind(f.cycle)
    .bind(powered_s)
    .bind(working_s)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The open faults of a device: `(code, ticket)`.
pub async fn faults<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    did: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT code, ticket FROM iot_faults WHERE did = $1 ORDER BY code")
        .bind(did)
        .fetch_all(ex)
        .await
}

pub async fn open_fault(
    conn: &mut Conn,
    did: &str,
    code: &str,
    ticket: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_faults (did, code, ticket, opened_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(did)
    .bind(code)
    .bind(ticket)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn close_fault(conn: &mut Conn, did: &str, code: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM iot_faults WHERE did = $1 AND code = $2")
        .bind(did)
        .bind(code)
        .execute(conn)
        .await?;
    Ok(())
}

/// A command sent to a device.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommandRow {
    pub cid: String,
    pub did: String,
    pub op: String,
    pub args: String,
    pub state: String,
    pub result: Option<String>,
    pub by_uid: Option<String>,
    pub created_at: i64,
    pub deadline: i64,
    pub acked_at: Option<i64>,
    pub done_at: Option<i64>,
}

const COMMAND_COLUMNS: &str =
    "cid, did, op, args, state, result, by_uid, created_at, deadline, acked_at, done_at";

pub async fn insert_command(conn: &mut Conn, c: &CommandRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO iot_commands ({COMMAND_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&c.cid)
    .bind(&c.did)
    .bind(&c.op)
    .bind(&c.args)
    .bind(&c.state)
    .bind(&c.result)
    .bind(&c.by_uid)
    .bind(c.created_at)
    .bind(c.deadline)
    .bind(c.acked_at)
    .bind(c.done_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn command<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    cid: &str,
) -> Result<Option<CommandRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COMMAND_COLUMNS} FROM iot_commands WHERE cid = $1"
    ))
    .bind(cid)
    .fetch_optional(ex)
    .await
}

/// A device's commands, newest first, and how many it has had.
pub async fn commands_of(
    pool: &sqlx::AnyPool,
    did: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CommandRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "SELECT {COMMAND_COLUMNS} FROM iot_commands WHERE did = $1 \
         ORDER BY created_at DESC, cid DESC LIMIT $2 OFFSET $3"
    ))
    .bind(did)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM iot_commands WHERE did = $1")
            .bind(did)
            .fetch_one(pool)
            .await?;
    Ok((rows, total))
}

/// Moves a command from one of `from` to `to`: false when it was not in any of them.
pub async fn move_command(
    conn: &mut Conn,
    cid: &str,
    did: &str,
    from: &[&str],
    to: &str,
    result: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let states = from
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let (set_time, keep_result) = if to == "acked" {
        ("acked_at = $4", "result")
    } else {
        ("done_at = $4", "$5")
    };
    let sql = format!(
        "UPDATE iot_commands SET state = $3, {set_time}, result = {keep_result} \
         WHERE cid = $1 AND did = $2 AND state IN ({states})"
    );
    let mut q = sqlx::query(&sql).bind(cid).bind(did).bind(to).bind(now);
    if to != "acked" {
        q = q.bind(result);
    }
    Ok(q.execute(conn).await?.rows_affected() == 1)
}

/// The commands waiting past their deadline: unacknowledged after `now`'s deadline, or
/// acknowledged and still without a result at `acked_before`'s.
pub async fn due_commands<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now: i64,
    acked_before: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cid FROM iot_commands WHERE (state = 'sent' AND deadline < $1) \
         OR (state = 'acked' AND deadline < $2)",
    )
    .bind(now)
    .bind(acked_before)
    .fetch_all(ex)
    .await
}

/// A credit or charge of a prepaid balance.
#[derive(Debug, Clone)]
pub struct ChargeRow {
    pub entry_key: String,
    pub kind: String,
    pub account: String,
    pub vid: String,
    pub did: Option<String>,
    pub uid: Option<String>,
    pub amount: i64,
    pub ml: i64,
    pub reference: String,
    pub created_at: i64,
}

/// Records a charge: false when its key is taken (it was recorded already).
pub async fn insert_charge(conn: &mut Conn, c: &ChargeRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO iot_charges (entry_key, kind, account, vid, did, uid, amount, ml, reference, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&c.entry_key)
    .bind(&c.kind)
    .bind(&c.account)
    .bind(&c.vid)
    .bind(&c.did)
    .bind(&c.uid)
    .bind(c.amount)
    .bind(c.ml)
    .bind(&c.reference)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member's water balance (fen).
pub async fn wallet<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    uid: &str,
) -> Result<i64, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT balance FROM iot_wallets WHERE uid = $1")
            .bind(uid)
            .fetch_optional(ex)
            .await?
            .unwrap_or(0),
    )
}

/// Adds `amount` (negative: takes) to a member's water balance, never below zero: false when
/// it would go below.
pub async fn add_to_wallet(conn: &mut Conn, uid: &str, amount: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("INSERT INTO iot_wallets (uid, balance) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(uid)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(
        "UPDATE iot_wallets SET balance = balance + $2 WHERE uid = $1 AND balance + $2 >= 0",
    )
    .bind(uid)
    .bind(amount)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds `amount` to a device's prepaid balance, and moves its billed water and minimum
/// period as given.
pub async fn set_device_balance(
    conn: &mut Conn,
    did: &str,
    amount: i64,
    billed_ml: Option<i64>,
    period: Option<(i64, i64)>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE iot_devices SET balance = balance + $2, billed_ml = COALESCE($3, billed_ml), \
         period_start = COALESCE($4, period_start), period_used = COALESCE($5, period_used) \
         WHERE did = $1",
    )
    .bind(did)
    .bind(amount)
    .bind(billed_ml)
    .bind(period.map(|p| p.0))
    .bind(period.map(|p| p.1))
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a timed rental's end (and forgets a removal ticket's expiry when it moves on).
pub async fn set_rent_until(
    conn: &mut Conn,
    did: &str,
    until: i64,
    service: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE iot_devices SET rent_until = $2, service = $3 WHERE did = $1")
        .bind(did)
        .bind(until)
        .bind(service)
        .execute(conn)
        .await?;
    Ok(())
}

/// Notes the expiry a removal ticket was opened for: false when one was.
pub async fn set_removal_for(conn: &mut Conn, did: &str, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE iot_devices SET removal_for = $2 WHERE did = $1 \
         AND (removal_for IS NULL OR removal_for <> $2)",
    )
    .bind(did)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The balances the charges explain: devices' and members' `(account, balance)`.
pub async fn balances(conn: &mut Conn) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out: Vec<(String, i64)> =
        sqlx::query_as("SELECT 'iot-prepaid:' || did, balance FROM iot_devices WHERE balance <> 0")
            .fetch_all(&mut *conn)
            .await?;
    out.extend(
        sqlx::query_as::<_, (String, i64)>(
            "SELECT 'iot-water:' || uid, balance FROM iot_wallets WHERE balance <> 0",
        )
        .fetch_all(&mut *conn)
        .await?,
    );
    Ok(out)
}
