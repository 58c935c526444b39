//! SQL of the EV charging station (seed 004): drivers, tokens, the station's snapshot and its
//! detail records.

use sqlx::{Any, Executor};

/// A driver.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// A detail record (详单) as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub id: i64,
    pub username: String,
    pub number: String,
    pub pile: String,
    pub pile_no: i64,
    pub requested_at: i64,
    pub wh: i64,
    pub start_at: i64,
    pub stop_at: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
    pub reason: String,
}

const RECORD_COLUMNS: &str = "id, username, number, pile, pile_no, requested_at, wh, start_at, \
     stop_at, charge_fee, service_fee, reason";

/// One pile's sums over a period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PileSums {
    pub pile: String,
    pub pile_no: i64,
    pub sessions: i64,
    pub ms: i64,
    pub wh: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
}

pub async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO charging_users (id, username, password_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(username)
    .bind(password_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn user_by_name<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    username: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, password_hash, created_at FROM charging_users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(ex)
    .await
}

pub async fn user_by_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.password_hash, u.created_at FROM charging_users u \
         JOIN charging_tokens t ON t.user_id = u.id WHERE t.token_hash = $1 AND t.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await
}

pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO charging_tokens (token_hash, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Drops a driver's expired tokens.
pub async fn delete_expired_tokens<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM charging_tokens WHERE user_id = $1 AND expires_at <= $2")
        .bind(user_id)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The station's snapshot and its version, if one was ever written.
pub async fn snapshot<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT version, snapshot FROM charging_station WHERE id = 1")
        .fetch_optional(ex)
        .await
}

/// Writes the first snapshot (version 0) unless one is there already.
pub async fn first_snapshot<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    snapshot: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO charging_station (id, version, snapshot, updated_at) \
         VALUES (1, 0, $1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(snapshot)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Writes the snapshot of the station as of operation `version`, unless a later one is there.
pub async fn write_snapshot<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    version: i64,
    snapshot: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE charging_station SET version = $1, snapshot = $2, updated_at = $3 \
         WHERE id = 1 AND version < $1",
    )
    .bind(version)
    .bind(snapshot)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The last operation's number.
pub async fn head<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT head FROM charging_head WHERE id = 1")
        .fetch_optional(ex)
        .await?;
    Ok(row.map_or(0, |r| r.0))
}

/// The last operation's number, locking the station's row until the transaction ends (on
/// SQLite the write transaction holds the database already).
pub async fn lock_head(
    ex: &mut sqlx::AnyConnection,
    backend: super::Backend,
) -> Result<i64, sqlx::Error> {
    let sql = match backend {
        super::Backend::Postgres => "SELECT head FROM charging_head WHERE id = 1 FOR UPDATE",
        _ => "SELECT head FROM charging_head WHERE id = 1",
    };
    let row: Option<(i64,)> = sqlx::query_as(sql).fetch_optional(ex).await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Moves the last operation's number from `known` to `next`; false when it is no longer
/// `known` (another process logged first).
pub async fn advance_head<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    known: i64,
    next: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE charging_head SET head = $2 WHERE id = 1 AND head = $1")
        .bind(known)
        .bind(next)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Logs operation `seq`; false when that number is taken (another process wrote it).
pub async fn insert_op<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    seq: i64,
    at: i64,
    op: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO charging_ops (seq, at, op) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(seq)
    .bind(at)
    .bind(op)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The operations after `version`, in order: `(seq, at, op)`.
pub async fn ops_after<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    version: i64,
) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT seq, at, op FROM charging_ops WHERE seq > $1 ORDER BY seq")
        .bind(version)
        .fetch_all(ex)
        .await
}

/// Drops the operations a snapshot includes.
pub async fn delete_ops_through<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM charging_ops WHERE seq <= $1")
        .bind(version)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Inserts detail records (already numbered); a record already there is left as it is.
pub async fn insert_records(
    ex: &mut sqlx::AnyConnection,
    records: &[RecordRow],
) -> Result<(), sqlx::Error> {
    // 12 parameters a row: 500 rows stay well under every backend's parameter limit.
    for chunk in records.chunks(500) {
        insert_record_rows(&mut *ex, chunk).await?;
    }
    Ok(())
}

async fn insert_record_rows(
    ex: &mut sqlx::AnyConnection,
    records: &[RecordRow],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO charging_records ({RECORD_COLUMNS}) VALUES {} ON CONFLICT DO NOTHING",
        super::placeholders(ex, records.len(), 12)
    );
    let mut q = sqlx::query(&sql);
    for r in records {
        q = q
            .bind(r.id)
            .bind(&r.username)
            .bind(&r.number)
            .bind(&r.pile)
            .bind(r.pile_no)
            .bind(r.requested_at)
            .bind(r.wh)
            .bind(r.start_at)
            .bind(r.stop_at)
            .bind(r.charge_fee)
            .bind(r.service_fee)
            .bind(&r.reason);
    }
    q.execute(ex).await.map(|_| ())
}

/// A driver's latest records, newest first.
pub async fn records_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    username: &str,
    limit: i64,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RECORD_COLUMNS} FROM charging_records WHERE username = $1 \
         ORDER BY id DESC LIMIT $2"
    ))
    .bind(username)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// The latest records of every driver, newest first.
pub async fn all_records<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    limit: i64,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RECORD_COLUMNS} FROM charging_records ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Per-pile sums of the sessions that ended in `[from, to)`.
pub async fn pile_sums<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    from: i64,
    to: i64,
) -> Result<Vec<PileSums>, sqlx::Error> {
    sqlx::query_as(
        "SELECT pile, CAST(MAX(pile_no) AS BIGINT) AS pile_no, COUNT(*) AS sessions, \
         CAST(COALESCE(SUM(stop_at - start_at), 0) AS BIGINT) AS ms, \
         CAST(COALESCE(SUM(wh), 0) AS BIGINT) AS wh, \
         CAST(COALESCE(SUM(charge_fee), 0) AS BIGINT) AS charge_fee, \
         CAST(COALESCE(SUM(service_fee), 0) AS BIGINT) AS service_fee \
         FROM charging_records WHERE stop_at >= $1 AND stop_at < $2 \
         GROUP BY pile ORDER BY pile",
    )
    .bind(from)
    .bind(to)
    .fetch_all(ex)
    .await
}

/// Removes every record (`--dev` reset only).
pub async fn delete_records<'e, E: Executor<'e, Database = Any>>(ex: E) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM charging_records")
        .execute(ex)
        .await
        .map(|_| ())
}
