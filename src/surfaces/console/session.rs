//! Who is signed in to the console, and the checks every change passes.
//!
//! The session is the cookie `uh_console`: `o.` and an operator token (the admin API's own,
//! from `Operators::login`), or `i.` and a token of the IoT platform's (a vendor, agent, dealer
//! or platform account, from `Members::login`). The tokens are random and kept hashed by the
//! services that issued them, so a session holds on every instance and signing out revokes it.
//! The cookie is `HttpOnly`, `SameSite=Strict`, and `Secure` behind TLS.
//!
//! CSRF: every form carries `_csrf`, a hash of the session token (one-way, so the page that
//! shows it gives away nothing of the token), compared in constant time; and every POST whose
//! `Origin` (or, lacking it, `Referer`) names another site is refused.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::i18n::Lang;
use super::{Fail, Fields};
use crate::domain::iot::{Caller, Role};
use crate::domain::records::Reader;
use crate::surfaces::AppState;

/// The session cookie.
pub const COOKIE: &str = "uh_console";
/// The language cookie.
pub const LANG_COOKIE: &str = "uh_lang";

/// Who is signed in.
#[derive(Debug, Clone)]
pub enum Who {
    /// An operator (admin account), by user name.
    Operator(String),
    /// An IoT platform account.
    Iot(Caller, String),
}

/// A signed-in request.
#[derive(Debug, Clone)]
pub struct Session {
    pub who: Who,
    pub lang: Lang,
    /// The value every form must send back as `_csrf`.
    pub csrf: String,
    /// The token (to sign out).
    pub(super) cookie: String,
    /// The page asked for, as the client wrote it (`/console/...`).
    pub uri: axum::http::Uri,
}

impl Session {
    /// Who reads the records.
    pub fn reader(&self) -> Reader {
        match &self.who {
            Who::Operator(_) => Reader::Operator,
            Who::Iot(c, _) => Reader::Iot(c.clone()),
        }
    }

    /// The IoT caller, if an IoT account is signed in.
    pub fn iot_caller(&self) -> Option<&Caller> {
        match &self.who {
            Who::Iot(c, _) => Some(c),
            Who::Operator(_) => None,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.who, Who::Operator(_))
    }

    /// Fails unless an operator is signed in (every area but IoT).
    pub fn operator_only(&self) -> Result<(), Fail> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(Fail::Forbidden)
        }
    }

    /// The name shown in the header.
    pub fn name(&self) -> &str {
        match &self.who {
            Who::Operator(n) | Who::Iot(_, n) => n,
        }
    }

    /// The role's word key.
    pub fn role_key(&self) -> &'static str {
        match &self.who {
            Who::Operator(_) => "role_operator",
            Who::Iot(c, _) => match c.role {
                Role::Platform => "role_platform",
                Role::Vendor => "role_vendor",
                Role::Agent => "role_agent",
                Role::Dealer | Role::Member => "role_dealer",
            },
        }
    }

    /// Checks a submitted form's `_csrf`.
    pub fn check(&self, fields: &Fields) -> Result<(), Fail> {
        let sent = fields.get("_csrf").unwrap_or("");
        if sent.len() == self.csrf.len() && bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes()))
        {
            Ok(())
        } else {
            Err(Fail::Csrf)
        }
    }
}

/// The CSRF value of a session token.
pub fn csrf_of(cookie: &str) -> String {
    let digest = Sha256::new_with_prefix(b"utilhall console csrf\n")
        .chain_update(cookie.as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The language asked for: `?lang=`, else the cookie, else Chinese.
pub fn lang_of(parts: &Parts) -> Lang {
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .map(|(_, v)| Lang::parse(v))
    });
    from_query
        .or_else(|| cookie(&parts.headers, LANG_COOKIE).map(Lang::parse))
        .unwrap_or_default()
}

/// Whether the request came over TLS (behind a trusted proxy that says so, or when the
/// configuration says every request does).
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.console.secure_cookies
        || (state.config.server.trust_forwarded_for
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

/// A POST from another site (its `Origin` or `Referer` names another host) is refused.
pub fn same_origin(headers: &HeaderMap) -> Result<(), Fail> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(from) = from else {
        return Ok(());
    };
    let rest = from
        .strip_prefix("https://")
        .or_else(|| from.strip_prefix("http://"))
        .unwrap_or("");
    let origin_host = rest.split('/').next().unwrap_or("");
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(Fail::Csrf)
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Fail> {
        let lang = lang_of(parts);
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let next = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let sign_in = || Fail::SignIn(next.clone());
        let Some(value) = cookie(&parts.headers, COOKIE) else {
            return Err(sign_in());
        };
        let who = if let Some(token) = value.strip_prefix("o.") {
            match state.operators.authenticate(token).await {
                Ok(op) => Who::Operator(op.username),
                Err(_) => return Err(sign_in()),
            }
        } else if let Some(token) = value.strip_prefix("i.") {
            match state.iot.members.authenticate(token).await {
                Ok((c, party)) if c.role != Role::Member => {
                    let name = party.login.clone().unwrap_or_else(|| c.uid.clone());
                    Who::Iot(c, name)
                }
                _ => return Err(sign_in()),
            }
        } else {
            return Err(sign_in());
        };
        Ok(Session {
            who,
            lang,
            csrf: csrf_of(value),
            cookie: value.to_owned(),
            uri,
        })
    }
}
