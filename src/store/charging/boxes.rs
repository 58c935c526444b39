//! SQL of the OCPP charge boxes and the drivers' cards (id tags).

use sqlx::{Any, Executor};

/// A charge box as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoxRow {
    pub id: String,
    pub password_hash: String,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    pub booted_at: Option<i64>,
    pub created_at: i64,
}

const BOX_COLUMNS: &str =
    "id, password_hash, vendor, model, serial, firmware, booted_at, created_at";

pub async fn find_box<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<BoxRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BOX_COLUMNS} FROM charging_boxes WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn all_boxes<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<BoxRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BOX_COLUMNS} FROM charging_boxes ORDER BY id"
    ))
    .fetch_all(ex)
    .await
}

/// Creates a box, or sets its password when `password_hash` is given. Returns whether the box
/// exists afterwards (an existing box without a new password is left as it is).
pub async fn upsert_box<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    password_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO charging_boxes (id, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, \
         updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(password_hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// What a box said of itself in its BootNotification (`accepted`: the boot was, and is the
/// box's last accepted one).
pub async fn set_box_info<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    info: [Option<&str>; 4],
    accepted: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE charging_boxes SET vendor = $2, model = $3, serial = $4, firmware = $5, \
         updated_at = $6, booted_at = CASE WHEN $7 THEN $6 ELSE booted_at END WHERE id = $1",
    )
    .bind(id)
    .bind(info[0])
    .bind(info[1])
    .bind(info[2])
    .bind(info[3])
    .bind(now)
    .bind(accepted)
    .execute(ex)
    .await?;
    Ok(())
}

/// Box `id` was heard at `now`.
pub async fn touch_box<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE charging_boxes SET last_seen_at = $2 WHERE id = $1 \
         AND (last_seen_at IS NULL OR last_seen_at < $2)",
    )
    .bind(id)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// When any instance last heard box `id`.
pub async fn box_last_seen<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT last_seen_at FROM charging_boxes WHERE id = $1")
            .bind(id)
            .fetch_optional(ex)
            .await?;
    Ok(row.and_then(|(t,)| t))
}

pub async fn delete_box<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM charging_boxes WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The driver a card belongs to.
pub async fn tag_owner<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id_tag: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT username FROM charging_tags WHERE id_tag = $1")
            .bind(id_tag)
            .fetch_optional(ex)
            .await?;
    Ok(row.map(|(u,)| u))
}

/// Gives card `id_tag` to `username` (another driver's card moves).
pub async fn put_tag<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id_tag: &str,
    username: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO charging_tags (id_tag, username, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id_tag) DO UPDATE SET username = excluded.username",
    )
    .bind(id_tag)
    .bind(username)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn delete_tag<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id_tag: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM charging_tags WHERE id_tag = $1")
        .bind(id_tag)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every card: (id tag, driver, since), by tag.
pub async fn all_tags<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id_tag, username, created_at FROM charging_tags ORDER BY id_tag")
        .fetch_all(ex)
        .await
}
