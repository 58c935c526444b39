//! Editable content shown to end users: the heating agreements and system configuration.

use std::sync::Arc;

use crate::domain::identity::text_field;
use crate::domain::{Clock, Settings};
use crate::domain::{Entity, Error, Result};
use crate::store::Store;
use crate::store::heating::content as store_content;

pub use store_content::{AgreementRow as Agreement, SystemConfigRow as SystemConfig};

/// The agreement kinds the heating document names.
pub const AGREEMENT_KINDS: [&str; 2] = ["user_agreement", "privacy_policy"];

/// A change to one agreement; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct AgreementEdit {
    pub title: Option<String>,
    pub content: Option<String>,
    pub version: Option<String>,
}

/// A change to the system configuration; `None` keeps the value, `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct SystemConfigEdit {
    pub customer_service_phone: Option<String>,
    pub business_hours: Option<String>,
    pub company_name: Option<String>,
    pub company_address: Option<String>,
    pub app_version: Option<String>,
    pub announcement: Option<Option<String>>,
    pub maintenance_notice: Option<Option<String>>,
}

/// The heating document's agreements and system configuration.
pub struct Content {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
}

impl Content {
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>) -> Content {
        Content {
            store,
            clock,
            settings,
        }
    }
}

impl Content {
    pub async fn agreements(&self) -> Result<Vec<Agreement>> {
        Ok(store_content::agreements(self.store.pool()).await?)
    }

    /// Edits an agreement; its `updated_at` becomes today's local date.
    pub async fn edit_agreement(&self, kind: &str, edit: AgreementEdit) -> Result<Agreement> {
        if !AGREEMENT_KINDS.contains(&kind) {
            return Err(Error::NotFound(Entity::Agreement));
        }
        let current = self
            .agreements()
            .await?
            .into_iter()
            .find(|a| a.kind == kind)
            .ok_or(Error::NotFound(Entity::Agreement))?;
        let row = Agreement {
            kind: kind.to_owned(),
            title: match edit.title {
                Some(t) => text_field(&t, "title", "标题", 100)?,
                None => current.title,
            },
            content: match edit.content {
                Some(c) if c.trim().is_empty() => {
                    return Err(Error::invalid("content", "内容不能为空"));
                }
                Some(c) if c.chars().count() > 100_000 => {
                    return Err(Error::invalid("content", "内容不能超过100000个字符"));
                }
                Some(c) => c,
                None => current.content,
            },
            version: match edit.version {
                Some(v) => text_field(&v, "version", "版本", 20)?,
                None => current.version,
            },
            updated_at: self.clock.now().local_date(self.settings.zone),
        };
        store_content::upsert_agreement(self.store.pool(), &row).await?;
        Ok(row)
    }

    pub async fn system_config(&self) -> Result<SystemConfig> {
        store_content::system_config(self.store.pool())
            .await?
            .ok_or(Error::NotFound(Entity::Other))
    }

    pub async fn edit_system_config(&self, edit: SystemConfigEdit) -> Result<SystemConfig> {
        let mut row = self.system_config().await?;
        let set = |slot: &mut String,
                   value: Option<String>,
                   field: &'static str,
                   label: &str|
         -> Result<()> {
            if let Some(v) = value {
                *slot = text_field(&v, field, label, 200)?;
            }
            Ok(())
        };
        set(
            &mut row.customer_service_phone,
            edit.customer_service_phone,
            "customer_service_phone",
            "客服电话",
        )?;
        set(
            &mut row.business_hours,
            edit.business_hours,
            "business_hours",
            "营业时间",
        )?;
        set(
            &mut row.company_name,
            edit.company_name,
            "company_name",
            "公司名称",
        )?;
        set(
            &mut row.company_address,
            edit.company_address,
            "company_address",
            "公司地址",
        )?;
        set(
            &mut row.app_version,
            edit.app_version,
            "app_version",
            "版本号",
        )?;
        let optional =
            |value: Option<String>, field: &'static str, label: &str| -> Result<Option<String>> {
                match value {
                    Some(v) if v.trim().is_empty() => Ok(None),
                    Some(v) => Ok(Some(text_field(&v, field, label, 2000)?)),
                    None => Ok(None),
                }
            };
        if let Some(v) = edit.announcement {
            row.announcement = optional(v, "announcement", "公告")?;
        }
        if let Some(v) = edit.maintenance_notice {
            row.maintenance_notice = optional(v, "maintenance_notice", "维护通知")?;
        }
        store_content::save_system_config(self.store.pool(), &row).await?;
        Ok(row)
    }
}
