//! The station's drivers: register (user name, password, image captcha), log in (random token,
//! stored hashed, valid 7 days).

use super::Charging;
use crate::domain::identity::{Password, text_field};
use crate::domain::{AuthFailure, Entity, Error, Result, ids};
use crate::store::charging as store;

/// The surface name (captchas, metrics).
pub const SURFACE: &str = "charging";

/// How long a driver's token lives.
pub const TOKEN_TTL_SECS: i64 = 7 * 24 * 3600;

/// A registered driver.
#[derive(Debug, Clone)]
pub struct Driver {
    pub id: String,
    pub username: String,
    /// Where the station's log stood when the driver's token was checked (read with it): a
    /// read of the station that follows needs no read of the database of its own.
    pub(super) log_head: Option<i64>,
}

impl From<store::UserRow> for Driver {
    fn from(r: store::UserRow) -> Self {
        Driver {
            id: r.id,
            username: r.username,
            log_head: None,
        }
    }
}

fn check_username(username: &str) -> Result<String> {
    let username = text_field(username, "username", "用户名", 32)?;
    if username.is_empty() {
        return Err(Error::invalid("username", "请输入用户名"));
    }
    Ok(username)
}

impl Charging {
    /// Registers a driver: a user name of 1-32 characters not taken yet, a password of 6-64,
    /// and the answer of a captcha. Returns the new driver's token (registered means logged in).
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        captcha_id: &str,
        captcha: &str,
    ) -> Result<(String, Driver)> {
        // The fields are checked before the captcha is used up.
        check_username(username)?;
        Password::parse_new(password, "password", 6, 64)?;
        self.codes.take_captcha(captcha_id, captcha).await?;
        let driver = self.create_driver(username, password).await?;
        let token = self.token(&driver).await?;
        Ok((token, driver))
    }

    /// Creates a driver account (registration, or an operator registering a fleet's drivers).
    pub async fn create_driver(&self, username: &str, password: &str) -> Result<Driver> {
        let username = check_username(username)?;
        let password = Password::parse_new(password, "password", 6, 64)?;
        if store::user_by_name(self.store.pool(), &username)
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        let hash = self.passwords.hash(password.expose()).await?;
        let id = ids::random_hex_id();
        if !store::insert_user(
            self.store.pool(),
            &id,
            &username,
            &hash,
            self.clock.now().millis(),
        )
        .await?
        {
            return Err(Error::Conflict(Entity::User));
        }
        Ok(Driver {
            id,
            username,
            log_head: None,
        })
    }

    /// Whether driver `username` exists.
    pub async fn find_driver(&self, username: &str) -> Result<Option<String>> {
        Ok(store::user_by_name(self.store.pool(), username)
            .await?
            .map(|u| u.username))
    }

    /// Logs a driver in; wrong passwords are limited per account.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, Driver)> {
        let password = Password::presented(password, "password")?;
        let Some(row) = store::user_by_name(self.store.pool(), username.trim()).await? else {
            self.passwords.waste_one_verification().await;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        };
        self.guard
            .verify(
                &format!("charging:{}", row.id),
                from,
                &password,
                &row.password_hash,
            )
            .await?;
        let driver = Driver::from(row);
        let token = self.token(&driver).await?;
        Ok((token, driver))
    }

    async fn token(&self, driver: &Driver) -> Result<String> {
        let token = ids::random_token();
        let now = self.clock.now();
        store::delete_expired_tokens(self.store.pool(), &driver.id, now.millis()).await?;
        store::insert_token(
            self.store.pool(),
            &ids::token_hash(&token),
            &driver.id,
            now.millis(),
            now.plus_secs(TOKEN_TTL_SECS).millis(),
        )
        .await?;
        Ok(token)
    }

    /// The driver a token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<Driver> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        }
        let now = self.clock.now().millis();
        match store::driver_by_token(&self.store, &ids::token_hash(token)).await? {
            Some(row) if row.expires_at > now => Ok(Driver {
                id: row.id,
                username: row.username,
                log_head: Some(row.head),
            }),
            _ => Err(Error::Unauthorized(AuthFailure::InvalidToken)),
        }
    }
}
