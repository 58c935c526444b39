//! SQL of the EV charging station (seed 004): drivers, tokens, the station's snapshot and its
//! detail records.

pub mod boxes;
pub mod console;

use rusqlite::OptionalExtension;
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

/// The driver a token belongs to, expired or not (the caller compares the expiry with its
/// clock), and the station's log head as of the same read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub username: String,
    pub expires_at: i64,
    pub head: i64,
}

impl crate::store::fast_read::InPlaceRow for TokenRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenRow {
            id: r.get(0)?,
            username: r.get(1)?,
            expires_at: r.get(2)?,
            head: r.get(3)?,
        })
    }
}

/// [`TokenRow`] of a token: in place on SQLite (see [`crate::store::fast_read`]). The head
/// comes with it because a driver's read of the station follows: one read of the database
/// (one read lock on SQLite, one round trip on PostgreSQL) serves both.
pub async fn driver_by_token(
    store: &super::Store,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    const SQL: &str = "SELECT u.id, u.username, t.expires_at, \
         COALESCE((SELECT head FROM charging_head WHERE id = 1), 0) AS head \
         FROM charging_tokens t JOIN charging_users u ON u.id = t.user_id WHERE t.token_hash = $1";
    store.fast_fetch_optional(SQL, &[token_hash.into()]).await
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

const HEAD: &str = "SELECT head FROM charging_head WHERE id = 1";

/// The last operation's number: in place on a SQLite file (a reader asks it on every read, and
/// the hop to sqlx's worker thread would cost more than the read), through the pool otherwise.
pub async fn head(store: &super::Store) -> Result<i64, sqlx::Error> {
    if let Some(head) = head_in_place(store) {
        return Ok(head);
    }
    let row: Option<(i64,)> = sqlx::query_as(HEAD).fetch_optional(store.pool()).await?;
    Ok(row.map_or(0, |r| r.0))
}

/// The head read on this thread's SQLite connection; `None` when that is not possible.
fn head_in_place(store: &super::Store) -> Option<i64> {
    store
        .read_in_place(|c| {
            c.prepare_cached(HEAD)?
                .query_row([], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|head| head.unwrap_or(0))
}

/// The last operation's number, locking the station's row until the transaction ends. On
/// SQLite the write transaction holds the database already, so no other connection can move
/// the head: it is read in place (no hop to sqlx's worker thread).
pub async fn lock_head(
    store: &super::Store,
    tx: &mut sqlx::AnyConnection,
) -> Result<i64, sqlx::Error> {
    if store.backend() == super::Backend::Sqlite {
        if let Some(head) = head_in_place(store) {
            return Ok(head);
        }
    }
    let sql = match store.backend() {
        super::Backend::Postgres => "SELECT head FROM charging_head WHERE id = 1 FOR UPDATE",
        super::Backend::Sqlite => HEAD,
    };
    let row: Option<(i64,)> = sqlx::query_as(sql).fetch_optional(tx).await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Logs operations `(seq, at, op)`, numbered on from `known`, and moves the head past them, in
/// one round trip; false when the head is no longer `known` or a number is taken (another
/// process logged first).
pub async fn append_ops(
    store: &super::Store,
    tx: &mut sqlx::AnyConnection,
    known: i64,
    ops: &[(i64, i64, String)],
) -> Result<bool, sqlx::Error> {
    let next = known + ops.len() as i64;
    // 3 parameters a row: 1,000 rows stay well under every backend's parameter limit.
    for (i, chunk) in ops.chunks(1000).enumerate() {
        let values = super::placeholders(tx, chunk.len(), 3);
        let first = i == 0;
        let (sql, expected) = match (first, store.backend()) {
            (false, _) => (
                format!(
                    "INSERT INTO charging_ops (seq, at, op) VALUES {values} ON CONFLICT DO NOTHING"
                ),
                chunk.len() as u64,
            ),
            // Two statements in one call; the rows they change are added up.
            (true, super::Backend::Sqlite) => (
                format!(
                    // Plain `?` go on numbering from one statement into the next.
                    "INSERT INTO charging_ops (seq, at, op) VALUES {values} ON CONFLICT DO NOTHING; \
                     UPDATE charging_head SET head = ? WHERE id = 1 AND head = ?"
                ),
                chunk.len() as u64 + 1,
            ),
            // One statement: the rows are inserted only if the head moved.
            (true, super::Backend::Postgres) => (
                format!(
                    "WITH moved AS (UPDATE charging_head SET head = ${} WHERE id = 1 AND head = ${} \
                     RETURNING head) INSERT INTO charging_ops (seq, at, op) \
                     SELECT v.seq, v.at, v.op FROM (VALUES {}) AS v (seq, at, op), moved \
                     ON CONFLICT DO NOTHING",
                    3 * chunk.len() + 1,
                    3 * chunk.len() + 2,
                    typed_ops_values(chunk.len()),
                ),
                chunk.len() as u64,
            ),
        };
        let mut q = sqlx::query(&sql);
        for (seq, at, op) in chunk {
            q = q.bind(*seq).bind(*at).bind(op.as_str());
        }
        if first {
            q = q.bind(next).bind(known);
        }
        if q.execute(&mut *tx).await?.rows_affected() != expected {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `($1::BIGINT, $2::BIGINT, $3::TEXT), ...`: a VALUES list PostgreSQL can type on its own.
fn typed_ops_values(rows: usize) -> String {
    (0..rows)
        .map(|r| {
            format!(
                "(${}::BIGINT, ${}::BIGINT, ${}::TEXT)",
                3 * r + 1,
                3 * r + 2,
                3 * r + 3
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
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
pub async fn delete_ops_between<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    after: i64,
    through: i64,
) -> Result<(), sqlx::Error> {
    // Bounded below: on PostgreSQL the rows deleted before stay in the index until a vacuum,
    // and a scan from the start would walk them all again.
    sqlx::query("DELETE FROM charging_ops WHERE seq > $1 AND seq <= $2")
        .bind(after)
        .bind(through)
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
