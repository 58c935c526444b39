//! Limits shared by every process on one database: request windows and short-lived values.
//! Each statement is atomic on both backends (an upsert that returns the row it left), so
//! concurrent hits from any number of processes count exactly. On PostgreSQL the tables are
//! `UNLOGGED`: a hit writes no WAL and waits for no disk flush; a crash of the database
//! server empties them, which only resets the windows.

use sqlx::{Any, Executor};

/// Counts one hit on `key`: in its window until it ends, else in a new one opening at `now` and
/// ending `window_ms` later. Returns the window's start and count. A window another instance
/// opened a moment "later" (its clock a little ahead) is the open one: clocks of several
/// machines are never quite equal, and a window must not restart for it.
pub async fn hit<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO shared_windows (key, window_start, count, window_end) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (key) DO UPDATE SET \
         count = CASE WHEN $2 < shared_windows.window_end \
                 THEN shared_windows.count + 1 ELSE 1 END, \
         window_start = CASE WHEN $2 < shared_windows.window_end \
                 THEN shared_windows.window_start ELSE $2 END, \
         window_end = CASE WHEN $2 < shared_windows.window_end \
                 THEN shared_windows.window_end ELSE $3 END \
         RETURNING window_start, count",
    )
    .bind(key)
    .bind(now)
    .bind(now.saturating_add(window_ms))
    .fetch_one(ex)
    .await
}

/// Sets `key` to `value` until `until` (ms).
pub async fn put<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    value: &str,
    until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shared_values (key, value, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
    )
    .bind(key)
    .bind(value)
    .bind(until)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The value of `key` unless it has expired by `now`.
pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM shared_values WHERE key = $1 AND expires_at > $2")
        .bind(key)
        .bind(now)
        .fetch_optional(ex)
        .await
}

/// Forgets the windows that ended and the values that expired before `now`.
pub async fn prune<'e, E: Executor<'e, Database = Any> + Copy>(
    ex: E,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM shared_windows WHERE window_end <= $1")
        .bind(now)
        .execute(ex)
        .await?;
    sqlx::query("DELETE FROM shared_values WHERE expires_at <= $1")
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}
