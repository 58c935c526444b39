//! Editable content: the heating agreements and system configuration.

use sqlx::{Any, Executor};

/// One agreement text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgreementRow {
    pub kind: String,
    pub title: String,
    pub content: String,
    pub version: String,
    pub updated_at: String,
}

pub async fn agreements<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<AgreementRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, title, content, version, updated_at FROM heating_agreements ORDER BY kind",
    )
    .fetch_all(ex)
    .await
}

pub async fn upsert_agreement<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    row: &AgreementRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO heating_agreements (kind, title, content, version, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (kind) DO UPDATE SET title = excluded.title, content = excluded.content, \
         version = excluded.version, updated_at = excluded.updated_at",
    )
    .bind(&row.kind)
    .bind(&row.title)
    .bind(&row.content)
    .bind(&row.version)
    .bind(&row.updated_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The heating system configuration (one row).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SystemConfigRow {
    pub customer_service_phone: String,
    pub business_hours: String,
    pub company_name: String,
    pub company_address: String,
    pub app_version: String,
    pub announcement: Option<String>,
    pub maintenance_notice: Option<String>,
}

pub async fn system_config<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Option<SystemConfigRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT customer_service_phone, business_hours, company_name, company_address, app_version, \
         announcement, maintenance_notice FROM heating_system_config WHERE id = 1",
    )
    .fetch_optional(ex)
    .await
}

pub async fn save_system_config<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    row: &SystemConfigRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO heating_system_config (id, customer_service_phone, business_hours, company_name, \
         company_address, app_version, announcement, maintenance_notice) VALUES (1, $1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET customer_service_phone = excluded.customer_service_phone, \
         business_hours = excluded.business_hours, company_name = excluded.company_name, \
         company_address = excluded.company_address, app_version = excluded.app_version, \
         announcement = excluded.announcement, maintenance_notice = excluded.maintenance_notice",
    )
    .bind(&row.customer_service_phone)
    .bind(&row.business_hours)
    .bind(&row.company_name)
    .bind(&row.company_address)
    .bind(&row.app_version)
    .bind(&row.announcement)
    .bind(&row.maintenance_notice)
    .execute(ex)
    .await
    .map(|_| ())
}
