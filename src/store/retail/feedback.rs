//! Feedback from hall users.

use sqlx::{Any, Executor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedbackRow {
    pub id: String,
    pub user_id: String,
    pub phone: String,
    pub content: String,
    pub contact: Option<String>,
    pub picture: Option<String>,
    pub picture_type: Option<String>,
    pub created_at: i64,
}

pub async fn insert_feedback<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    f: &FeedbackRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_feedback (id, user_id, content, contact, picture, picture_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.user_id)
    .bind(&f.content)
    .bind(&f.contact)
    .bind(&f.picture)
    .bind(&f.picture_type)
    .bind(f.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

const FEEDBACK_SELECT: &str = "SELECT f.id, f.user_id, u.phone, f.content, f.contact, f.picture, \
     f.picture_type, f.created_at FROM retail_feedback f JOIN retail_users u ON u.id = f.user_id";

pub async fn feedback<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<FeedbackRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{FEEDBACK_SELECT} ORDER BY f.created_at DESC, f.id"
    ))
    .fetch_all(ex)
    .await
}

pub async fn feedback_one<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<FeedbackRow>, sqlx::Error> {
    sqlx::query_as(&format!("{FEEDBACK_SELECT} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}
