//! Products.

use sqlx::{Any, Executor};

use crate::store::Conn;

/// A product: its vendor and its whole configuration (JSON).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub pid: String,
    pub vid: String,
    pub doc: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

pub async fn insert_product(conn: &mut Conn, p: &ProductRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO iot_products (pid, vid, doc, created_at, deleted_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&p.pid)
    .bind(&p.vid)
    .bind(&p.doc)
    .bind(p.created_at)
    .bind(p.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_product<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &ProductRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE iot_products SET doc = $2, deleted_at = $3 WHERE pid = $1 AND deleted_at IS NULL",
    )
    .bind(&p.pid)
    .bind(&p.doc)
    .bind(p.deleted_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn product<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    pid: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as("SELECT pid, vid, doc, created_at, deleted_at FROM iot_products WHERE pid = $1")
        .bind(pid)
        .fetch_optional(ex)
        .await
}

pub const PRODUCT_COLUMNS: &str = "pid, vid, doc, created_at, deleted_at";
