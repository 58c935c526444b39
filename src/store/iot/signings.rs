//! Vendors' signing records.

use crate::store::fast_read::in_place_row;
use sqlx::{Any, Executor};

/// A vendor's signing record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningRow {
    pub sid: String,
    pub vid: String,
    pub doc: String,
    pub created_at: i64,
}

in_place_row!(SigningRow {
    sid,
    vid,
    doc,
    created_at
});

pub const SIGNING_COLUMNS: &str = "sid, vid, doc, created_at";

pub async fn insert_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &SigningRow,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO iot_signings (sid, vid, doc, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&s.sid)
        .bind(&s.vid)
        .bind(&s.doc)
        .bind(s.created_at)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn signings<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
) -> Result<Vec<SigningRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sid, vid, doc, created_at FROM iot_signings WHERE vid = $1 ORDER BY created_at, sid",
    )
    .bind(vid)
    .fetch_all(ex)
    .await
}

pub async fn update_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    sid: &str,
    doc: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE iot_signings SET doc = $3 WHERE vid = $1 AND sid = $2")
        .bind(vid)
        .bind(sid)
        .bind(doc)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_signing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    vid: &str,
    sid: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM iot_signings WHERE vid = $1 AND sid = $2")
        .bind(vid)
        .bind(sid)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}
