//! Failed-attempt counters per key (an account), in fixed windows, shared by every process.

use sqlx::{Any, Executor};

/// Failures counted for `key` in the window that is still open at `now`.
pub async fn failures<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT window_start, count FROM failed_attempts WHERE key = $1")
            .bind(key)
            .fetch_optional(ex)
            .await?;
    Ok(match row {
        // A window another process opened "after" `now` (its clock a little ahead) is open.
        Some((start, count)) if now - start < window_ms => (start, count),
        _ => (now, 0),
    })
}

/// Counts one failure (starting a new window when the old one is over).
pub async fn record_failure<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO failed_attempts (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
         count = CASE WHEN $2 - failed_attempts.window_start < $3 \
                 THEN failed_attempts.count + 1 ELSE 1 END, \
         window_start = CASE WHEN $2 - failed_attempts.window_start < $3 \
                 THEN failed_attempts.window_start ELSE $2 END",
    )
    .bind(key)
    .bind(now)
    .bind(window_ms)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Forgets the failures of `key` (after a successful sign-in).
pub async fn clear<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM failed_attempts WHERE key = $1")
        .bind(key)
        .execute(ex)
        .await
        .map(|_| ())
}
