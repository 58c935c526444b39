//! Logins (sessions) and their rotating refresh tokens.

use sqlx::{Any, Executor};

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    user_id: &str,
    audience: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sessions (id, user_id, audience, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(user_id)
        .bind(audience)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

pub async fn revoke<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    session_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Revokes every live session of a user except `keep`.
pub async fn revoke_others<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    keep: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id)
    .bind(keep)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn insert_refresh<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    session_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(session_id)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A refresh token as stored, with the state of its session.
#[derive(Debug, sqlx::FromRow)]
pub struct RefreshRow {
    pub session_id: String,
    pub user_id: String,
    pub audience: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub session_revoked_at: Option<i64>,
    pub user_disabled_at: Option<i64>,
}

pub async fn find_refresh<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.session_id, s.user_id, s.audience, r.expires_at, r.used_at, s.revoked_at AS session_revoked_at, \
         u.disabled_at AS user_disabled_at FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
         JOIN users u ON u.id = s.user_id WHERE r.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(ex)
    .await
}

/// Marks a refresh token used; false if it already was (a concurrent or repeated exchange).
pub async fn use_refresh<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(token_hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
