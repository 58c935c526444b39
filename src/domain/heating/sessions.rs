//! Logins: a signed access token per session, an opaque refresh token rotated on every use.
//!
//! Revoking the session (logout, refresh-token reuse, password change) kills its access token at
//! once, because every authenticated request checks that its session is still live.

use super::users::{User, Users};
use crate::domain::money::Fen;
use crate::domain::tokens::Claims;
use crate::domain::{AuthFailure, Error, Forbidden, Result, Timestamp, ids};
use crate::store::heating::{sessions as store_sessions, users as store_users};

/// The tokens handed to a client at login or refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

/// A checked caller with their account and heat account, as one read gives them.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub user: User,
    /// The heat account the user holds, if any.
    pub heat_account: Option<String>,
    /// What that account owes (unpaid bills).
    pub owed: Fen,
}

/// Who is calling, once their access token checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub session_id: String,
}

impl Users {
    fn access_token(
        &self,
        user_id: &str,
        session_id: &str,
        audience: &str,
        now: Timestamp,
    ) -> String {
        self.tokens.sign(&Claims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            aud: audience.to_owned(),
            iat: now.secs(),
            exp: now.secs() + self.settings.access_ttl_secs,
        })
    }

    /// Opens a session for `user_id` inside the caller's transaction and issues its tokens.
    pub(crate) async fn open_session(
        &self,
        conn: &mut crate::store::Conn,
        user_id: &str,
        audience: &str,
        now: Timestamp,
    ) -> Result<IssuedTokens> {
        let session_id = ids::random_hex_id();
        store_sessions::insert(&mut *conn, &session_id, user_id, audience, now.millis()).await?;
        let refresh = ids::random_token();
        store_sessions::insert_refresh(
            &mut *conn,
            &ids::token_hash(&refresh),
            &session_id,
            now.millis(),
            now.plus_secs(self.settings.refresh_ttl_secs).millis(),
        )
        .await?;
        Ok(IssuedTokens {
            access_token: self.access_token(user_id, &session_id, audience, now),
            refresh_token: refresh,
            expires_in: self.settings.access_ttl_secs,
        })
    }

    /// Checks an access token: signature, audience, expiry, that its session is live and its user enabled.
    pub async fn authenticate(&self, token: &str, audience: &str) -> Result<Principal> {
        self.authenticated_user(token, audience)
            .await
            .map(|a| a.principal)
    }

    /// Checks an access token and loads its user, with the heat account they hold and what it
    /// owes, in one database round trip.
    pub async fn authenticated_user(&self, token: &str, audience: &str) -> Result<Authenticated> {
        let claims = self
            .tokens
            .verify(token, audience, self.clock.now())
            .map_err(Error::Unauthorized)?;
        match store_users::find_by_live_session(&self.store, &claims.sid, &claims.sub, audience)
            .await?
        {
            Some(row) if row.user.disabled_at.is_some() => {
                Err(Error::Forbidden(Forbidden::AccountDisabled))
            }
            Some(row) => Ok(Authenticated {
                principal: Principal {
                    user_id: claims.sub,
                    session_id: claims.sid,
                },
                user: row.user.into(),
                heat_account: row.heat_account,
                owed: Fen(row.owed),
            }),
            None => Err(Error::Unauthorized(AuthFailure::InvalidToken)),
        }
    }

    /// Exchanges a refresh token for new tokens. A token used twice revokes its whole session.
    pub async fn refresh(&self, refresh_token: &str, audience: &str) -> Result<IssuedTokens> {
        let now = self.clock.now();
        let hash = ids::token_hash(refresh_token.trim());
        let mut tx = self.store.begin_write().await?;
        let Some(row) = store_sessions::find_refresh(&mut *tx, &hash).await? else {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        };
        if row.session_revoked_at.is_some() || row.audience != audience {
            return Err(Error::Unauthorized(AuthFailure::InvalidToken));
        }
        if row.user_disabled_at.is_some() {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        if row.used_at.is_some()
            || !store_sessions::use_refresh(&mut *tx, &hash, now.millis()).await?
        {
            store_sessions::revoke(
                &mut *tx,
                &row.session_id,
                "refresh token reused",
                now.millis(),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(session = %row.session_id, "refresh token reused: session revoked");
            return Err(Error::Unauthorized(AuthFailure::RefreshReused));
        }
        if now.millis() >= row.expires_at {
            return Err(Error::Unauthorized(AuthFailure::ExpiredToken));
        }
        let refresh = ids::random_token();
        store_sessions::insert_refresh(
            &mut *tx,
            &ids::token_hash(&refresh),
            &row.session_id,
            now.millis(),
            now.plus_secs(self.settings.refresh_ttl_secs).millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedTokens {
            access_token: self.access_token(&row.user_id, &row.session_id, audience, now),
            refresh_token: refresh,
            expires_in: self.settings.access_ttl_secs,
        })
    }

    /// Ends a session: its access and refresh tokens stop working at once.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        store_sessions::revoke(
            self.store.pool(),
            &principal.session_id,
            "logout",
            self.clock.now().millis(),
        )
        .await?;
        Ok(())
    }
}
