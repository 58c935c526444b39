//! Server-wide secrets generated once and shared by every process on the same database.

use sqlx::{Any, Executor};

/// Returns the secret called `name`, storing `candidate` first if there is none yet.
pub async fn get_or_insert<'e, E>(ex: E, name: &str, candidate: &str) -> Result<String, sqlx::Error>
where
    E: Executor<'e, Database = Any> + Copy,
{
    sqlx::query(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(candidate)
    .execute(ex)
    .await?;
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(ex)
        .await
}
