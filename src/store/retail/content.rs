//! The hall's public content: articles and the business guide.

use sqlx::{Any, Executor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: String,
    pub channel: String,
    pub title: String,
    pub content: String,
    pub author: String,
    pub imgsrc: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GuideRow {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub position: i64,
}

pub async fn insert_article<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    a: &ArticleRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_articles (id, channel, title, content, author, imgsrc, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.channel)
    .bind(&a.title)
    .bind(&a.content)
    .bind(&a.author)
    .bind(&a.imgsrc)
    .bind(a.created_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A channel's articles, newest first (every channel when `channel` is `None`).
pub async fn articles<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    channel: Option<&str>,
) -> Result<Vec<ArticleRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, channel, title, content, author, imgsrc, created_at FROM retail_articles \
         WHERE ($1 IS NULL OR channel = $1) ORDER BY created_at DESC, id",
    )
    .bind(channel)
    .fetch_all(ex)
    .await
}

pub async fn delete_article<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM retail_articles WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    g: &GuideRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retail_guide (id, question, answer, position, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&g.id)
    .bind(&g.question)
    .bind(&g.answer)
    .bind(g.position)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

pub async fn guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<GuideRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, question, answer, position FROM retail_guide ORDER BY position, created_at, id",
    )
    .fetch_all(ex)
    .await
}

pub async fn delete_guide<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM retail_guide WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}
