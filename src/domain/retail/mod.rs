//! The electricity retail company's online business hall (seed 000): its users (phone and
//! password, image captcha at registration), their binding to an enterprise and a retail
//! company, and what a bound user may see: only its own enterprise's data.
//!
//! An enterprise is registered by an operator with its credit code and a contact phone; a user
//! binds to it with the SMS code sent to that phone ([`binding`]), so knowing a company's public
//! facts is not enough to read its contracts and bills.
//!
//! Two services:
//! - [`Retail`] (here and in [`binding`]): the hall's accounts. Registration, login, tokens,
//!   passwords and phone changes; the companies and enterprises operators register; binding a
//!   user to an enterprise and unbinding it.
//! - [`RetailData`] ([`data`] and [`feedback`]): what the hall shows and keeps. Articles and the
//!   business guide, a bound enterprise's monthly use, plans, contracts and settlement bills, and
//!   the users' feedback.
//!
//! [`demo::load`] fills both with the document's examples.

pub mod binding;
pub mod data;
pub mod demo;
pub mod feedback;

use std::sync::Arc;

use super::codes::{Channel, CodeRequest, Codes};
use super::guard::SignInGuard;
use super::identity::{CreditCode, Password, Phone, text_field};
use super::passwords::PasswordHasher;
use super::{AuthFailure, Clock, Entity, Error, Forbidden, Result, Settings, ids};
use crate::store::Store;
use crate::store::retail::{self as store, CompanyRow, EnterpriseRow, UserRow};

pub use data::RetailData;

/// The surface name on codes and in the dev outbox.
pub const SURFACE: &str = "retail";

/// How long a hall token lives (seconds).
pub const TOKEN_TTL_SECS: i64 = 7 * 24 * 3600;

/// Purpose of the code that confirms a new phone number.
pub const CHANGE_PHONE: &str = "change_phone";

/// A user of the hall.
#[derive(Debug, Clone)]
pub struct RetailUser {
    pub id: String,
    pub phone: String,
    pub binding: Option<Binding>,
    pub created_at: super::Timestamp,
}

/// Which enterprise a user acts for, through which company, with which services.
#[derive(Debug, Clone)]
pub struct Binding {
    pub enterprise_code: String,
    pub company_id: String,
    pub services: Vec<String>,
    pub bound_at: super::Timestamp,
}

impl From<UserRow> for RetailUser {
    fn from(r: UserRow) -> Self {
        let binding = match (r.enterprise_code, r.company_id) {
            (Some(enterprise_code), Some(company_id)) => Some(Binding {
                enterprise_code,
                company_id,
                services: r
                    .services
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default(),
                bound_at: super::Timestamp::from_millis(r.bound_at.unwrap_or(0)),
            }),
            _ => None,
        };
        RetailUser {
            id: r.id,
            phone: r.phone,
            binding,
            created_at: super::Timestamp::from_millis(r.created_at),
        }
    }
}

/// A retail company and the services it offers.
#[derive(Debug, Clone)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub services: Vec<String>,
}

impl From<CompanyRow> for Company {
    fn from(r: CompanyRow) -> Self {
        Company {
            id: r.id,
            name: r.name,
            services: serde_json::from_str(&r.services).unwrap_or_default(),
        }
    }
}

/// An enterprise customer.
#[derive(Debug, Clone)]
pub struct Enterprise {
    pub credit_code: String,
    pub name: String,
    pub contact_phone: String,
    /// How many users may be bound to it at once (the operator's choice; 1 by default).
    pub max_users: i64,
}

impl From<EnterpriseRow> for Enterprise {
    fn from(r: EnterpriseRow) -> Self {
        Enterprise {
            credit_code: r.credit_code,
            name: r.name,
            contact_phone: r.contact_phone,
            max_users: r.max_users,
        }
    }
}

/// The enterprise a user is bound to, or a refusal saying it must bind first.
pub(crate) fn enterprise_of(user: &RetailUser) -> Result<&str> {
    user.binding
        .as_ref()
        .map(|b| b.enterprise_code.as_str())
        .ok_or(Error::Forbidden(Forbidden::NotAllowed))
}

/// The hall's accounts: users and their logins, the companies and enterprises operators
/// register, and the binding of a user to an enterprise ([`binding`]).
pub struct Retail {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    passwords: PasswordHasher,
    codes: Arc<Codes>,
    guard: Arc<SignInGuard>,
}

impl Retail {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
    ) -> Retail {
        Retail {
            store,
            clock,
            settings,
            passwords,
            codes,
            guard,
        }
    }

    /// Registers a hall user: an 11-digit phone not registered yet, a password of 8 or more
    /// characters, and a captcha.
    pub async fn register(
        &self,
        phone: &str,
        password: &str,
        captcha_id: &str,
        captcha: &str,
    ) -> Result<RetailUser> {
        let phone = Phone::parse(phone)?;
        let password = Password::parse_new(password, "password", 8, 64)?;
        self.codes.take_captcha(captcha_id, captcha).await?;
        if store::user_by_phone(self.store.pool(), phone.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        let hash = self.passwords.hash(password.expose()).await?;
        let id = ids::random_hex_id();
        let now = self.clock.now().millis();
        if !store::insert_user(self.store.pool(), &id, phone.as_str(), &hash, now).await? {
            return Err(Error::Conflict(Entity::User));
        }
        self.user_by_phone(phone.as_str()).await
    }

    async fn user_by_phone(&self, phone: &str) -> Result<RetailUser> {
        store::user_by_phone(self.store.pool(), phone)
            .await?
            .map(RetailUser::from)
            .ok_or(Error::NotFound(Entity::User))
    }

    /// Logs a user in with phone and password; returns the bearer token.
    pub async fn login(
        &self,
        phone: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, RetailUser)> {
        let password = Password::presented(password, "password")?;
        let phone = phone.trim();
        let Some(row) = store::user_by_phone(self.store.pool(), phone).await? else {
            self.passwords.waste_one_verification().await;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        };
        self.guard
            .verify(
                &format!("retail:{}", row.id),
                from,
                &password,
                &row.password_hash,
            )
            .await?;
        let token = ids::random_token();
        let now = self.clock.now();
        store::insert_token(
            self.store.pool(),
            &ids::token_hash(&token),
            &row.id,
            now.millis(),
            now.plus_secs(TOKEN_TTL_SECS).millis(),
        )
        .await?;
        Ok((token, row.into()))
    }

    /// The user of a live token.
    pub async fn authenticate(&self, token: &str) -> Result<RetailUser> {
        store::user_by_token(
            self.store.pool(),
            &ids::token_hash(token.trim()),
            self.clock.now().millis(),
        )
        .await?
        .map(RetailUser::from)
        .ok_or(Error::Unauthorized(AuthFailure::InvalidToken))
    }

    /// Ends the login of `token`.
    pub async fn logout(&self, token: &str) -> Result<()> {
        store::delete_token(self.store.pool(), &ids::token_hash(token.trim())).await?;
        Ok(())
    }

    /// Changes the password (the old one must be right); every other login of the user ends.
    pub async fn change_password(
        &self,
        user: &RetailUser,
        token: &str,
        old: &str,
        new: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<()> {
        let old = Password::presented(old, "old_password")?;
        let new = Password::parse_new(new, "new_password", 8, 64)?;
        let row = store::user_by_phone(self.store.pool(), &user.phone)
            .await?
            .ok_or(Error::NotFound(Entity::User))?;
        let guard_key = format!("retail:{}", row.id);
        self.guard.ensure_not_locked(&guard_key, from).await?;
        if !self
            .passwords
            .verify(old.expose(), &row.password_hash)
            .await?
        {
            self.guard.record_failure(&guard_key, from).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        }
        self.guard.clear_failures(&guard_key, from).await?;
        let hash = self.passwords.hash(new.expose()).await?;
        let mut tx = self.store.begin_write().await?;
        store::set_password(&mut *tx, &user.id, &hash, self.clock.now().millis()).await?;
        store::delete_other_tokens(&mut *tx, &user.id, &ids::token_hash(token.trim())).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends the code that confirms a new phone number (to that number). A number that is
    /// registered already gets nothing, but the answer is the same (no way to probe numbers);
    /// the change itself refuses it.
    pub async fn send_phone_code(&self, new_phone: &str) -> Result<i64> {
        let phone = Phone::parse(new_phone)?;
        if store::user_by_phone(self.store.pool(), phone.as_str())
            .await?
            .is_some()
        {
            return Ok(self.settings.code_ttl_secs);
        }
        let sent = self
            .codes
            .send(CodeRequest {
                channel: Channel::Sms,
                recipient: phone.as_str(),
                purpose: CHANGE_PHONE,
                surface: SURFACE,
            })
            .await?;
        Ok(sent.expires_in_secs)
    }

    /// Moves the user to a new phone number confirmed by the code sent to it.
    pub async fn change_phone(
        &self,
        user: &RetailUser,
        old_phone: &str,
        new_phone: &str,
        code: &str,
    ) -> Result<RetailUser> {
        if old_phone.trim() != user.phone {
            return Err(Error::invalid("old_phone", "原手机号码不正确"));
        }
        let new_phone = Phone::parse(new_phone)?;
        if new_phone.as_str() == user.phone {
            return Err(Error::invalid("new_phone", "新手机号码与原号码相同"));
        }
        let req = CodeRequest {
            channel: Channel::Sms,
            recipient: new_phone.as_str(),
            purpose: CHANGE_PHONE,
            surface: SURFACE,
        };
        let code_id = self.codes.check(req, code).await?;
        let mut tx = self.store.begin_write().await?;
        if store::user_by_phone(&mut *tx, new_phone.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        self.codes
            .consume(&mut tx, &code_id, self.clock.now())
            .await?;
        let moved = store::set_phone(
            &mut *tx,
            &user.id,
            &user.phone,
            new_phone.as_str(),
            self.clock.now().millis(),
        )
        .await
        .map_err(|e| {
            // Registered by someone else in the meantime.
            if crate::store::is_unique_violation(&e) {
                Error::Conflict(Entity::User)
            } else {
                e.into()
            }
        })?;
        if !moved {
            return Err(Error::State("手机号码已被修改，请重新登录".into()));
        }
        tx.commit().await?;
        self.user_by_phone(new_phone.as_str()).await
    }

    /// The companies a user may bind to, with their services.
    pub async fn companies(&self) -> Result<Vec<Company>> {
        Ok(store::companies(self.store.pool())
            .await?
            .into_iter()
            .map(Company::from)
            .collect())
    }

    // --- operators -------------------------------------------------------------------------

    /// Adds a retail company with the services it offers.
    pub async fn create_company(&self, name: &str, services: &[String]) -> Result<Company> {
        let name = text_field(name, "name", "售电公司名称", 100)?;
        let mut list: Vec<String> = Vec::new();
        for s in services {
            let s = text_field(s, "services", "服务名称", 50)?;
            if !list.contains(&s) {
                list.push(s);
            }
        }
        if list.is_empty() {
            return Err(Error::invalid("services", "at least one service"));
        }
        let row = CompanyRow {
            id: ids::random_hex_id(),
            name,
            services: serde_json::to_string(&list).map_err(Error::internal)?,
            created_at: self.clock.now().millis(),
        };
        if !store::insert_company(self.store.pool(), &row).await? {
            return Err(Error::Conflict(Entity::RetailCompany));
        }
        Ok(row.into())
    }

    /// The company of `name`, creating it when missing (demo data).
    pub(crate) async fn ensure_company(&self, name: &str, services: &[String]) -> Result<Company> {
        if let Some(row) = store::company_by_name(self.store.pool(), name).await? {
            return Ok(row.into());
        }
        self.create_company(name, services).await
    }

    /// Registers an enterprise customer with its credit code and contact phone.
    pub async fn create_enterprise(
        &self,
        name: &str,
        credit_code: &str,
        contact_phone: &str,
    ) -> Result<Enterprise> {
        let row = EnterpriseRow {
            credit_code: CreditCode::parse(credit_code, "credit_code")?
                .as_str()
                .to_owned(),
            name: text_field(name, "name", "企业名称", 100)?,
            contact_phone: Phone::parse(contact_phone)?.as_str().to_owned(),
            created_at: self.clock.now().millis(),
            max_users: 1,
        };
        if !store::insert_enterprise(self.store.pool(), &row).await? {
            return Err(Error::Conflict(Entity::Enterprise));
        }
        Ok(row.into())
    }

    /// Changes an enterprise's name, contact phone (the phone binding codes go to) and/or how
    /// many users may be bound to it at once (operators).
    pub async fn update_enterprise(
        &self,
        credit_code: &str,
        name: Option<&str>,
        contact_phone: Option<&str>,
        max_users: Option<i64>,
    ) -> Result<Enterprise> {
        let code = CreditCode::parse(credit_code, "credit_code")?;
        let name = name
            .map(|n| text_field(n, "name", "企业名称", 100))
            .transpose()?;
        let phone = contact_phone
            .map(|p| Phone::parse(p).map(|p| p.as_str().to_owned()))
            .transpose()?;
        if let Some(m) = max_users
            && !(1..=1000).contains(&m)
        {
            return Err(Error::invalid("max_users", "max_users is 1 to 1000"));
        }
        if !store::update_enterprise(
            self.store.pool(),
            code.as_str(),
            name.as_deref(),
            phone.as_deref(),
            max_users,
        )
        .await?
        {
            return Err(Error::NotFound(Entity::Enterprise));
        }
        store::enterprise(self.store.pool(), code.as_str())
            .await?
            .map(Enterprise::from)
            .ok_or(Error::NotFound(Entity::Enterprise))
    }

    /// Changes a company's name and/or the services it offers (operators).
    pub async fn update_company(
        &self,
        id: &str,
        name: Option<&str>,
        services: Option<&[String]>,
    ) -> Result<Company> {
        let name = name
            .map(|n| text_field(n, "name", "售电公司名称", 100))
            .transpose()?;
        let services = match services {
            Some(list) => {
                let mut clean: Vec<String> = Vec::new();
                for s in list {
                    let s = text_field(s, "services", "服务名称", 50)?;
                    if !clean.contains(&s) {
                        clean.push(s);
                    }
                }
                if clean.is_empty() {
                    return Err(Error::invalid("services", "at least one service"));
                }
                Some(serde_json::to_string(&clean).map_err(Error::internal)?)
            }
            None => None,
        };
        let id = text_field(id, "id", "id", 64)?;
        let updated =
            store::update_company(self.store.pool(), &id, name.as_deref(), services.as_deref())
                .await
                .map_err(|e| {
                    if crate::store::is_unique_violation(&e) {
                        Error::Conflict(Entity::RetailCompany)
                    } else {
                        e.into()
                    }
                })?;
        if !updated {
            return Err(Error::NotFound(Entity::RetailCompany));
        }
        store::company(self.store.pool(), &id)
            .await?
            .map(Company::from)
            .ok_or(Error::NotFound(Entity::RetailCompany))
    }

    /// The companies in name order when there are at most `limit` of them (a form offers them
    /// to choose from); `None` when there are more (a form asks for the id instead).
    pub async fn company_choices(&self, limit: usize) -> Result<Option<Vec<Company>>> {
        let rows = store::first_companies(self.store.pool(), limit as i64 + 1).await?;
        Ok((rows.len() <= limit).then(|| rows.into_iter().map(Company::from).collect()))
    }

    /// The enterprises in name order when there are at most `limit` of them; `None` when
    /// there are more.
    pub async fn enterprise_choices(&self, limit: usize) -> Result<Option<Vec<Enterprise>>> {
        let rows = store::first_enterprises(self.store.pool(), limit as i64 + 1).await?;
        Ok((rows.len() <= limit).then(|| rows.into_iter().map(Enterprise::from).collect()))
    }

    /// One company (operators).
    pub async fn company(&self, id: &str) -> Result<Company> {
        store::company(self.store.pool(), id)
            .await?
            .map(Company::from)
            .ok_or(Error::NotFound(Entity::RetailCompany))
    }

    /// One enterprise (operators).
    pub async fn enterprise(&self, credit_code: &str) -> Result<Enterprise> {
        store::enterprise(self.store.pool(), credit_code)
            .await?
            .map(Enterprise::from)
            .ok_or(Error::NotFound(Entity::Enterprise))
    }

    pub async fn enterprises(&self) -> Result<Vec<Enterprise>> {
        Ok(store::enterprises(self.store.pool())
            .await?
            .into_iter()
            .map(Enterprise::from)
            .collect())
    }

    /// Every hall user with its binding (operators).
    pub async fn users(&self) -> Result<Vec<RetailUser>> {
        Ok(store::users(self.store.pool())
            .await?
            .into_iter()
            .map(RetailUser::from)
            .collect())
    }

    /// Removes a user's binding (operators).
    pub async fn unbind(&self, user_id: &str) -> Result<()> {
        if !store::set_binding(self.store.pool(), user_id, None, self.clock.now().millis()).await? {
            return Err(Error::NotFound(Entity::User));
        }
        Ok(())
    }
}
