//! Verification codes (SMS, e-mail) and the per-recipient send throttle.

use sqlx::{Any, Executor};

/// A verification code as stored (the code itself only as a MAC).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub id: String,
    pub code_mac: String,
    pub expires_at: i64,
    pub attempts: i64,
}

pub struct NewCode<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub recipient: &'a str,
    pub purpose: &'a str,
    pub code_mac: &'a str,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// Stores a new code and supersedes the older ones for the same recipient and purpose.
pub async fn insert(tx: &mut sqlx::AnyConnection, code: &NewCode<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE verification_codes SET superseded = 1 WHERE recipient = $1 AND purpose = $2 AND channel = $3 \
         AND consumed_at IS NULL AND superseded = 0",
    )
    .bind(code.recipient)
    .bind(code.purpose)
    .bind(code.channel)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO verification_codes (id, channel, recipient, purpose, code_mac, sent_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(code.id)
    .bind(code.channel)
    .bind(code.recipient)
    .bind(code.purpose)
    .bind(code.code_mac)
    .bind(code.sent_at)
    .bind(code.expires_at)
    .execute(&mut *tx)
    .await
    .map(|_| ())
}

/// The current (latest, unused, not superseded) code for a recipient and purpose.
pub async fn current<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    channel: &str,
    recipient: &str,
    purpose: &str,
) -> Result<Option<CodeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, code_mac, expires_at, attempts FROM verification_codes \
         WHERE recipient = $1 AND purpose = $2 AND channel = $3 AND consumed_at IS NULL AND superseded = 0 \
         ORDER BY sent_at DESC LIMIT 1",
    )
    .bind(recipient)
    .bind(purpose)
    .bind(channel)
    .fetch_optional(ex)
    .await
}

/// Takes one try from a live code before its value is compared, atomically: at most `max`
/// comparisons can ever run for one code, however many guesses arrive at once. `false` when the
/// code is used up, superseded, expired or out of tries.
pub async fn take_try<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    max: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE verification_codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 \
         AND expires_at > $3 AND consumed_at IS NULL AND superseded = 0",
    )
    .bind(id)
    .bind(max)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a try back after the right code was presented: only wrong guesses count.
pub async fn give_back_try<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE verification_codes SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0",
    )
    .bind(id)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Uses a code up; false if another request used it first.
pub async fn consume<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE verification_codes SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND superseded = 0 \
         AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Voids a code whose delivery failed.
pub async fn void<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE verification_codes SET superseded = 1 WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Why the throttle refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleRefusal {
    /// Too soon after the last send; seconds to wait.
    TooSoon(i64),
    /// The daily cap is reached.
    DailyCap,
}

/// Takes one send from the recipient's allowance, atomically on both backends.
/// `window_ms`: minimum gap between sends; `day`: local day number; `cap`: sends per day.
pub async fn take_send_slot(
    tx: &mut sqlx::AnyConnection,
    recipient: &str,
    now: i64,
    window_ms: i64,
    day: i64,
    cap: i64,
) -> Result<Result<(), ThrottleRefusal>, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO send_throttle (recipient, last_sent_at, day, day_count) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (recipient) DO NOTHING",
    )
    .bind(recipient)
    .bind(now)
    .bind(day)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(if cap >= 1 {
            Ok(())
        } else {
            Err(ThrottleRefusal::DailyCap)
        });
    }
    let updated = sqlx::query(
        "UPDATE send_throttle SET last_sent_at = $1, \
         day_count = CASE WHEN day = $2 THEN day_count + 1 ELSE 1 END, day = $2 \
         WHERE recipient = $3 AND last_sent_at <= $4 AND (day <> $2 OR day_count < $5)",
    )
    .bind(now)
    .bind(day)
    .bind(recipient)
    .bind(now - window_ms)
    .bind(cap)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let (last, row_day, count): (i64, i64, i64) = sqlx::query_as(
        "SELECT last_sent_at, day, day_count FROM send_throttle WHERE recipient = $1",
    )
    .bind(recipient)
    .fetch_one(&mut *tx)
    .await?;
    if last > now - window_ms {
        let wait_ms = last + window_ms - now;
        return Ok(Err(ThrottleRefusal::TooSoon((wait_ms + 999) / 1000)));
    }
    debug_assert!(row_day == day && count >= cap);
    Ok(Err(ThrottleRefusal::DailyCap))
}

/// Gives a send back after delivery failed, so a provider outage does not eat the allowance.
pub async fn return_send_slot<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    recipient: &str,
    window_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE send_throttle SET last_sent_at = last_sent_at - $1, \
         day_count = CASE WHEN day_count > 0 THEN day_count - 1 ELSE 0 END WHERE recipient = $2",
    )
    .bind(window_ms)
    .bind(recipient)
    .execute(ex)
    .await
    .map(|_| ())
}
