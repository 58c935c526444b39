//! Operators: the staff behind the admin API and CLI.

use std::sync::Arc;

use super::guard::SignInGuard;
use super::identity::{Password, text_field};
use super::passwords::PasswordHasher;
use super::{AuthFailure, Entity, Error, Result, ids};
use super::{Clock, Settings};
use crate::store::Store;
use crate::store::{self, operators as store_ops};

/// The operator `--demo` creates.
pub const DEMO_OPERATOR: (&str, &str) = ("admin", "admin123456");

/// An operator who proved who they are.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub username: String,
}

/// A fresh operator token.
#[derive(Debug, Clone)]
pub struct OperatorToken {
    pub token: String,
    pub expires_in: i64,
}

fn parse_username(username: &str) -> Result<String> {
    let name = text_field(username, "username", "用户名", 64)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || "._-@".contains(c))
    {
        return Err(Error::invalid(
            "username",
            "用户名只能包含字母、数字和 ._-@",
        ));
    }
    Ok(name)
}

/// The operators (admin accounts): created, signed in, their sessions.
pub struct Operators {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    passwords: PasswordHasher,
    guard: Arc<SignInGuard>,
}

impl Operators {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        guard: Arc<SignInGuard>,
    ) -> Operators {
        Operators {
            store,
            clock,
            settings,
            passwords,
            guard,
        }
    }
}

impl Operators {
    /// Creates an operator; with `update_existing`, resets the password of an existing one instead of failing.
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        update_existing: bool,
    ) -> Result<Operator> {
        let username = parse_username(username)?;
        let password = Password::parse_new(password, "password", 8, 128)?;
        let hash = self.passwords.hash(password.expose()).await?;
        let row = store_ops::OperatorRow {
            id: ids::random_hex_id(),
            username: username.clone(),
            password_hash: hash.clone(),
            created_at: self.clock.now().millis(),
        };
        match store_ops::insert(self.store.pool(), &row).await {
            Ok(()) => Ok(Operator {
                id: row.id,
                username,
            }),
            Err(e) if store::is_unique_violation(&e) => {
                if !update_existing {
                    return Err(Error::Conflict(Entity::Operator));
                }
                store_ops::set_password(self.store.pool(), &username, &hash).await?;
                let existing = store_ops::find_by_username(self.store.pool(), &username)
                    .await?
                    .ok_or(Error::NotFound(Entity::Operator))?;
                Ok(Operator {
                    id: existing.id,
                    username,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the operator only if the name is free (demo data); never changes an existing one.
    /// Creates the demo operator (`--demo`) unless it exists.
    pub async fn load_demo(&self) -> Result<()> {
        self.ensure(DEMO_OPERATOR.0, DEMO_OPERATOR.1).await
    }

    pub async fn ensure(&self, username: &str, password: &str) -> Result<()> {
        match self.create(username, password, false).await {
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Logs an operator in; the same answer for an unknown name and a wrong password.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<OperatorToken> {
        let password = Password::presented(password, "password")?;
        let guard_key = format!("operator:{}", username.trim());
        self.guard.ensure_not_locked(&guard_key, from).await?;
        let found = store_ops::find_by_username(self.store.pool(), username.trim()).await?;
        let verified = match &found {
            Some(op) => {
                self.passwords
                    .verify(password.expose(), &op.password_hash)
                    .await?
            }
            None => {
                self.passwords.waste_one_verification().await;
                false
            }
        };
        let Some(op) = found.filter(|_| verified) else {
            self.guard.record_failure(&guard_key, from).await?;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        };
        self.guard.clear_failures(&guard_key, from).await?;
        let now = self.clock.now();
        let token = ids::random_token();
        let ttl = self.settings.operator_ttl_secs;
        store_ops::insert_token(
            self.store.pool(),
            &ids::token_hash(&token),
            &op.id,
            now.millis(),
            now.plus_secs(ttl).millis(),
        )
        .await?;
        Ok(OperatorToken {
            token,
            expires_in: ttl,
        })
    }

    /// The operator behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Operator> {
        store_ops::find_by_token(
            self.store.pool(),
            &ids::token_hash(token.trim()),
            self.clock.now().millis(),
        )
        .await?
        .map(|(id, username)| Operator { id, username })
        .ok_or(Error::Unauthorized(AuthFailure::InvalidToken))
    }

    /// Revokes an operator token.
    pub async fn logout(&self, token: &str) -> Result<()> {
        store_ops::revoke_token(
            self.store.pool(),
            &ids::token_hash(token.trim()),
            self.clock.now().millis(),
        )
        .await?;
        Ok(())
    }
}
