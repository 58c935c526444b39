//! End-user accounts keyed by phone number: registration, login, profile, password.

use std::sync::Arc;

use super::sessions::{IssuedTokens, Principal};
use crate::domain::codes::Codes;
use crate::domain::codes::{Channel, CodeRequest};
use crate::domain::guard::SignInGuard;
use crate::domain::identity::{IdCard, OpenId, Password, Phone, text_field};
use crate::domain::passwords::PasswordHasher;
use crate::domain::tokens::TokenKeys;
use crate::domain::{AuthFailure, Entity, Error, Forbidden, Result, Timestamp, ids};
use crate::domain::{Clock, Settings};
use crate::store::Store;
use crate::store::heating::{sessions as store_sessions, users as store_users};
use crate::store::{self};

/// A user as the domain knows them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub phone: String,
    pub nickname: String,
    pub avatar: String,
    pub real_name: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When an operator disabled the account, if they did.
    pub disabled_at: Option<Timestamp>,
}

impl From<store_users::UserRow> for User {
    fn from(r: store_users::UserRow) -> Self {
        User {
            id: r.id,
            phone: r.phone,
            nickname: r.nickname,
            avatar: r.avatar,
            real_name: r.real_name,
            id_card: r.id_card,
            address: r.address,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
            disabled_at: r.disabled_at.map(Timestamp::from_millis),
        }
    }
}

/// The two ways to prove who you are at login.
#[derive(Debug)]
pub enum LoginProof<'a> {
    Code(&'a str),
    Password(Password),
}

/// A successful login.
#[derive(Debug)]
pub struct LoginOutcome {
    pub tokens: IssuedTokens,
    pub user: User,
    pub first_login: bool,
}

/// A registration request, already shaped by the surface.
#[derive(Debug)]
pub struct Registration<'a> {
    pub phone: Phone,
    pub code: &'a str,
    pub password: Password,
    pub nickname: Option<&'a str>,
}

/// Profile changes; `None` leaves the field alone.
#[derive(Debug, Default)]
pub struct ProfileUpdate<'a> {
    pub nickname: Option<&'a str>,
    pub real_name: Option<&'a str>,
    pub id_card: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// A password change: old password plus an SMS code sent to the account's phone.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    pub old_password: Password,
    pub new_password: Password,
    pub phone: Phone,
    pub code: &'a str,
}

/// Purposes of the SMS codes the account rules consume.
pub const PURPOSE_LOGIN: &str = "login";
pub const PURPOSE_REGISTER: &str = "register";
pub const PURPOSE_RESET_PASSWORD: &str = "reset_password";

/// An SMS code request for an account's phone.
fn sms<'a>(phone: &'a Phone, purpose: &'static str, surface: &'a str) -> CodeRequest<'a> {
    CodeRequest {
        channel: Channel::Sms,
        recipient: phone.as_str(),
        purpose,
        surface,
    }
}

/// The heating document's users: registration, sign-in, profiles, and their sessions.
pub struct Users {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) settings: Arc<Settings>,
    pub(super) passwords: PasswordHasher,
    pub(super) codes: Arc<Codes>,
    pub(super) guard: Arc<SignInGuard>,
    pub(super) tokens: TokenKeys,
}

impl Users {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
        tokens: TokenKeys,
    ) -> Users {
        Users {
            store,
            clock,
            settings,
            passwords,
            codes,
            guard,
            tokens,
        }
    }
}

impl Users {
    /// Registers a phone number, proven by a `register` SMS code.
    pub async fn register(&self, reg: Registration<'_>, surface: &'static str) -> Result<User> {
        let nickname = match reg.nickname.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => text_field(n, "nickname", "昵称", 32)?,
            None => reg.phone.as_str().to_owned(),
        };
        // The code first: without it, nobody learns whether the phone is registered.
        let code_id = self
            .codes
            .check(sms(&reg.phone, PURPOSE_REGISTER, surface), reg.code)
            .await?;
        if store_users::find_by_phone(self.store.pool(), reg.phone.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        let password_hash = self.passwords.hash(reg.password.expose()).await?;
        let now = self.clock.now();
        let row = store_users::UserRow {
            id: ids::object_id(now),
            phone: reg.phone.as_str().to_owned(),
            password_hash,
            nickname,
            avatar: String::new(),
            real_name: None,
            id_card: None,
            address: None,
            login_count: 0,
            created_at: now.millis(),
            updated_at: now.millis(),
            disabled_at: None,
        };
        let mut tx = self.store.begin_write().await?;
        self.codes.consume(&mut tx, &code_id, now).await?;
        match store_users::insert(&mut *tx, &row).await {
            Ok(()) => {}
            Err(e) if store::is_unique_violation(&e) => return Err(Error::Conflict(Entity::User)),
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(row.into())
    }

    /// Logs in with an SMS `login` code or the password.
    pub async fn login(
        &self,
        phone: &Phone,
        proof: LoginProof<'_>,
        openid: Option<&OpenId>,
        audience: &'static str,
        from: Option<std::net::IpAddr>,
    ) -> Result<LoginOutcome> {
        let guard_key = format!("user:{}", phone.as_str());
        let (user, code_id) = match proof {
            // The code first: without it, nobody learns whether the phone is registered.
            LoginProof::Code(code) => {
                let code_id = self
                    .codes
                    .check(sms(phone, PURPOSE_LOGIN, audience), code)
                    .await?;
                let user = store_users::find_by_phone(self.store.pool(), phone.as_str()).await?;
                (user.ok_or(Error::NotFound(Entity::User))?, Some(code_id))
            }
            LoginProof::Password(password) => {
                let user = store_users::find_by_phone(self.store.pool(), phone.as_str())
                    .await?
                    .ok_or(Error::NotFound(Entity::User))?;
                self.guard.ensure_not_locked(&guard_key, from).await?;
                if !self
                    .passwords
                    .verify(password.expose(), &user.password_hash)
                    .await?
                {
                    self.guard.record_failure(&guard_key, from).await?;
                    return Err(Error::Unauthorized(AuthFailure::WrongPassword));
                }
                (user, None)
            }
        };
        if user.disabled_at.is_some() {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        if let Some(code_id) = code_id {
            self.codes.consume(&mut tx, &code_id, now).await?;
        }
        let previous_logins = store_users::record_login(&mut *tx, &user.id).await?;
        let tokens = self.open_session(&mut tx, &user.id, audience, now).await?;
        tx.commit().await?;
        self.guard.clear_failures(&guard_key, from).await?;
        if let Some(openid) = openid {
            self.remember_openid(&user.id, openid).await?;
        }
        Ok(LoginOutcome {
            tokens,
            user: user.into(),
            first_login: previous_logins == 0,
        })
    }

    /// The caller's own account.
    pub async fn user(&self, user_id: &str) -> Result<User> {
        store_users::find_by_id(self.store.pool(), user_id)
            .await?
            .map(User::from)
            .ok_or(Error::NotFound(Entity::User))
    }

    /// Changes profile fields; returns the names of the fields that were given.
    pub async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate<'_>,
    ) -> Result<Vec<&'static str>> {
        let nickname = update
            .nickname
            .map(|v| text_field(v, "nickname", "昵称", 32))
            .transpose()?;
        let real_name = update
            .real_name
            .map(|v| text_field(v, "real_name", "真实姓名", 50))
            .transpose()?;
        let id_card = update.id_card.map(IdCard::parse).transpose()?;
        let address = update
            .address
            .map(|v| text_field(v, "address", "地址", 200))
            .transpose()?;
        let mut fields = Vec::new();
        for (name, given) in [
            ("nickname", nickname.is_some()),
            ("real_name", real_name.is_some()),
            ("id_card", id_card.is_some()),
            ("address", address.is_some()),
        ] {
            if given {
                fields.push(name);
            }
        }
        if fields.is_empty() {
            return Err(Error::invalid("body", "没有需要更新的字段"));
        }
        let change = store_users::ProfileChange {
            nickname: nickname.as_deref(),
            real_name: real_name.as_deref(),
            id_card: id_card.as_ref().map(IdCard::as_str),
            address: address.as_deref(),
        };
        if !store_users::update_profile(
            self.store.pool(),
            user_id,
            &change,
            self.clock.now().millis(),
        )
        .await?
        {
            return Err(Error::NotFound(Entity::User));
        }
        Ok(fields)
    }

    /// Changes the password; every other login of the user is revoked.
    pub async fn change_password(
        &self,
        principal: &Principal,
        change: PasswordChange<'_>,
        surface: &'static str,
        from: Option<std::net::IpAddr>,
    ) -> Result<()> {
        let user = store_users::find_by_id(self.store.pool(), &principal.user_id)
            .await?
            .ok_or(Error::NotFound(Entity::User))?;
        if change.phone.as_str() != user.phone {
            return Err(Error::State("手机号与当前账号不一致".into()));
        }
        let guard_key = format!("user:{}", user.phone);
        self.guard.ensure_not_locked(&guard_key, from).await?;
        if !self
            .passwords
            .verify(change.old_password.expose(), &user.password_hash)
            .await?
        {
            self.guard.record_failure(&guard_key, from).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        }
        let code_id = self
            .codes
            .check(
                sms(&change.phone, PURPOSE_RESET_PASSWORD, surface),
                change.code,
            )
            .await?;
        let hash = self.passwords.hash(change.new_password.expose()).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        self.codes.consume(&mut tx, &code_id, now).await?;
        store_users::set_password(&mut *tx, &user.id, &hash, now.millis()).await?;
        store_sessions::revoke_others(
            &mut *tx,
            &user.id,
            &principal.session_id,
            "password changed",
            now.millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remembers the WeChat openid a user's mini-program sent.
    pub async fn remember_openid(&self, user_id: &str, openid: &OpenId) -> Result<()> {
        store_users::set_openid(self.store.pool(), user_id, openid.as_str()).await?;
        Ok(())
    }

    /// A page of users for operators (newest first), optionally by phone prefix.
    pub async fn list(
        &self,
        phone_prefix: Option<&str>,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<User>)> {
        if let Some(p) = phone_prefix {
            if p.len() > 11 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid("phone", "phone must be up to 11 digits"));
            }
        }
        crate::domain::check_page(
            page,
            size,
            100,
            "page",
            "1 <= page <= 1000000 and 1 <= size <= 100",
        )?;
        let (total, rows) =
            store_users::list(self.store.pool(), phone_prefix, size, (page - 1) * size).await?;
        Ok((total, rows.into_iter().map(User::from).collect()))
    }

    /// Disables or enables a user: a disabled user is refused (403) at login, refresh and every call.
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<User> {
        let at = disabled.then(|| self.clock.now().millis());
        if !store_users::set_disabled(self.store.pool(), user_id, at).await? {
            return Err(Error::NotFound(Entity::User));
        }
        self.user(user_id).await
    }

    /// Creates a user directly (demo data, operator tools); no code needed. Idempotent on the phone.
    pub async fn ensure(&self, phone: &Phone, password: &Password, nickname: &str) -> Result<User> {
        if let Some(existing) =
            store_users::find_by_phone(self.store.pool(), phone.as_str()).await?
        {
            return Ok(existing.into());
        }
        let now = self.clock.now();
        let row = store_users::UserRow {
            id: ids::object_id(now),
            phone: phone.as_str().to_owned(),
            password_hash: self.passwords.hash(password.expose()).await?,
            nickname: nickname.to_owned(),
            avatar: String::new(),
            real_name: None,
            id_card: None,
            address: None,
            login_count: 0,
            created_at: now.millis(),
            updated_at: now.millis(),
            disabled_at: None,
        };
        match store_users::insert(self.store.pool(), &row).await {
            Ok(()) => Ok(row.into()),
            Err(e) if store::is_unique_violation(&e) => {
                store_users::find_by_phone(self.store.pool(), phone.as_str())
                    .await?
                    .map(User::from)
                    .ok_or(Error::NotFound(Entity::User))
            }
            Err(e) => Err(e.into()),
        }
    }
}
