//! Operators (the people behind the admin API) and their bearer tokens.

use sqlx::{Any, Executor};

/// An operator row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperatorRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    row: &OperatorRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO operators (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&row.id)
    .bind(&row.username)
    .bind(&row.password_hash)
    .bind(row.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn set_password<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    username: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE operators SET password_hash = $1 WHERE username = $2")
        .bind(password_hash)
        .bind(username)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find_by_username<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    username: &str,
) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, username, password_hash, created_at FROM operators WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(ex)
    .await
}

pub async fn insert_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    operator_id: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO operator_tokens (token_hash, operator_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(operator_id)
    .bind(created_at)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The operator a live token belongs to: `(id, username)`.
pub async fn find_by_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.username FROM operator_tokens t JOIN operators o ON o.id = t.operator_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await
}

pub async fn revoke_token<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE operator_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(token_hash)
    .execute(ex)
    .await
    .map(|_| ())
}
