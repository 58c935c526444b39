//! Products.

use sqlx::{Any, Executor};

use crate::store::fast_read::in_place_row;
use crate::store::{Conn, Store};

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

in_place_row!(ProductRow {
    pid,
    vid,
    doc,
    created_at,
    deleted_at
});

/// A product (in place on SQLite).
pub async fn product(store: &Store, pid: &str) -> Result<Option<ProductRow>, sqlx::Error> {
    store
        .fast_fetch_optional(
            "SELECT pid, vid, doc, created_at, deleted_at FROM iot_products WHERE pid = $1",
            &[pid.into()],
        )
        .await
}

pub const PRODUCT_COLUMNS: &str = "pid, vid, doc, created_at, deleted_at";
