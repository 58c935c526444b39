//! Verification codes: issued, delivered through a [`SmsSender`], checked, used once.
//!
//! A code is 6 digits, bound to (channel, recipient, purpose), valid `code_ttl_secs`, void after
//! `code_max_attempts` wrong tries, single use. A recipient gets at most one code per
//! `code_resend_secs` and `code_daily_cap` per local day. Codes are stored only as HMACs.

use std::future::Future;
use std::pin::Pin;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::Service;
use std::sync::Arc;

use super::{AuthFailure, Clock, Error, Result, Settings, Timestamp, ids};
use crate::store::Store;
use crate::store::codes::{self as store_codes, NewCode, ThrottleRefusal};

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    Captcha,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Captcha => "captcha",
        }
    }
}

/// One code on its way to a person.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingCode {
    pub channel: Channel,
    pub to: String,
    pub code: String,
    pub purpose: String,
    pub surface: String,
    pub at: String,
}

/// Delivery failed, or there is no way to deliver.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// The boxed future a [`SmsSender`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Delivers codes: the dev outbox, an SMS provider, a test fake.
pub trait SmsSender: Send + Sync {
    /// Whether this sender can deliver on `channel` at all.
    fn can_deliver(&self, channel: Channel) -> bool;
    fn send<'a>(&'a self, code: &'a OutgoingCode) -> SendFuture<'a>;
}

/// What to send a code for.
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub channel: Channel,
    pub recipient: &'a str,
    pub purpose: &'a str,
    pub surface: &'a str,
}

/// A new captcha: its id and the answer the image shows.
#[derive(Debug, Clone)]
pub struct Captcha {
    pub id: String,
    pub answer: String,
    pub expires_in_secs: i64,
}

/// An image captcha is a code whose recipient is the captcha's own id.
fn captcha_request<'a>(id: &'a str, surface: &'a str) -> CodeRequest<'a> {
    CodeRequest {
        channel: Channel::Captcha,
        recipient: id,
        purpose: "captcha",
        surface,
    }
}

/// A code that was sent.
#[derive(Debug, Clone, Copy)]
pub struct SentCode {
    pub expires_in_secs: i64,
}

/// The verification-code service: every area's codes are issued, delivered and checked here.
pub struct Codes {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    sender: Arc<dyn SmsSender>,
    /// The key codes are stored under (HMAC).
    key: [u8; 32],
}

impl Codes {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        sender: Arc<dyn SmsSender>,
        key: [u8; 32],
    ) -> Codes {
        Codes {
            store,
            clock,
            settings,
            sender,
            key,
        }
    }

    pub(crate) fn mac(&self, req: &CodeRequest<'_>, code: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        for part in [req.channel.as_str(), req.recipient, req.purpose, code] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        ids::to_hex(&mac.finalize().into_bytes())
    }

    /// Issues a fresh code for the request and delivers it; older codes for the same purpose die.
    pub async fn send(&self, req: CodeRequest<'_>) -> Result<SentCode> {
        self.send_throttled(req, None).await
    }

    /// The same, for a code that goes to a phone that is not the requester's own (an
    /// enterprise's contact phone, for a user who wants to bind it): the resend interval and
    /// the daily cap count per requester and recipient, so one requester's sends cannot use up
    /// another's.
    pub async fn send_for(&self, req: CodeRequest<'_>, requester: &str) -> Result<SentCode> {
        self.send_throttled(req, Some(requester)).await
    }

    async fn send_throttled(
        &self,
        req: CodeRequest<'_>,
        requester: Option<&str>,
    ) -> Result<SentCode> {
        if !self.sender.can_deliver(req.channel) {
            return Err(Error::Unavailable {
                service: Service::CodeDelivery,
                detail: format!("no {} provider is configured", req.channel.as_str()),
            });
        }
        let s = &self.settings;
        let now = self.clock.now();
        let window_ms = s.code_resend_secs * 1000;
        let code = ids::random_digits(6);
        let id = ids::random_hex_id();
        let mac = self.mac(&req, &code);
        let mut tx = self.store.begin_write().await?;
        let throttle_key = match requester {
            None => format!("{}:{}", req.channel.as_str(), req.recipient),
            Some(r) => format!("{}:{}:{r}", req.channel.as_str(), req.recipient),
        };
        let slot = store_codes::take_send_slot(
            &mut tx,
            &throttle_key,
            now.millis(),
            window_ms,
            now.local_day_number(s.zone),
            s.code_daily_cap,
        )
        .await?;
        match slot {
            Ok(()) => {}
            Err(ThrottleRefusal::TooSoon(wait)) => {
                return Err(Error::RateLimited {
                    message: format!("操作频繁，请{wait}秒后再试"),
                    retry_after_secs: wait.max(1) as u64,
                });
            }
            Err(ThrottleRefusal::DailyCap) => {
                return Err(Error::RateLimited {
                    message: "今日验证码发送次数已达上限，请明天再试".into(),
                    retry_after_secs: 3600,
                });
            }
        }
        store_codes::insert(
            &mut tx,
            &NewCode {
                id: &id,
                channel: req.channel.as_str(),
                recipient: req.recipient,
                purpose: req.purpose,
                code_mac: &mac,
                sent_at: now.millis(),
                expires_at: now.plus_secs(s.code_ttl_secs).millis(),
            },
        )
        .await?;
        tx.commit().await?;
        let outgoing = OutgoingCode {
            channel: req.channel,
            to: req.recipient.to_owned(),
            code,
            purpose: req.purpose.to_owned(),
            surface: req.surface.to_owned(),
            at: now.iso_utc_ms(),
        };
        if let Err(err) = self.sender.send(&outgoing).await {
            tracing::warn!(channel = req.channel.as_str(), error = %err, "code delivery failed");
            store_codes::void(self.store.pool(), &id).await?;
            store_codes::return_send_slot(self.store.pool(), &throttle_key, window_ms).await?;
            return Err(Error::Unavailable {
                service: Service::CodeDelivery,
                detail: err.0,
            });
        }
        Ok(SentCode {
            expires_in_secs: s.code_ttl_secs,
        })
    }

    /// Checks a code without using it up; a wrong try counts. Returns the code's id for [`Codes::consume`].
    pub async fn check(&self, req: CodeRequest<'_>, code: &str) -> Result<String> {
        let now = self.clock.now();
        let Some(row) = store_codes::current(
            self.store.pool(),
            req.channel.as_str(),
            req.recipient,
            req.purpose,
        )
        .await?
        else {
            return Err(Error::Unauthorized(AuthFailure::WrongCode));
        };
        if row.attempts >= self.settings.code_max_attempts || now.millis() >= row.expires_at {
            return Err(Error::Unauthorized(AuthFailure::CodeExpired));
        }
        // The try is taken before the comparison, so concurrent guesses cannot outrun the limit.
        let max = self.settings.code_max_attempts;
        if !store_codes::take_try(self.store.pool(), &row.id, max, now.millis()).await? {
            return Err(Error::Unauthorized(AuthFailure::CodeExpired));
        }
        let expected = self.mac(&req, code.trim());
        if bool::from(expected.as_bytes().ct_eq(row.code_mac.as_bytes())) {
            store_codes::give_back_try(self.store.pool(), &row.id).await?;
            return Ok(row.id);
        }
        Err(Error::Unauthorized(AuthFailure::WrongCode))
    }

    /// Uses up a checked code inside the caller's transaction (so it is spent only if the action commits).
    pub async fn consume(
        &self,
        conn: &mut crate::store::Conn,
        code_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        if store_codes::consume(conn, code_id, now.millis()).await? {
            Ok(())
        } else {
            Err(Error::Unauthorized(AuthFailure::WrongCode))
        }
    }

    /// Issues an image captcha: five digits, single use, valid `code_ttl_secs`. Under `--dev` the
    /// answer also goes to the outbox (a sender that cannot carry captchas is simply skipped).
    pub async fn issue_captcha(&self, surface: &str) -> Result<Captcha> {
        let id = ids::random_hex_id();
        let answer = ids::random_digits(5);
        let req = CodeRequest {
            surface,
            ..captcha_request(&id, surface)
        };
        let now = self.clock.now();
        let ttl = self.settings.code_ttl_secs;
        let mut conn = self.store.pool().acquire().await?;
        store_codes::insert(
            &mut conn,
            &NewCode {
                id: &ids::random_hex_id(),
                channel: Channel::Captcha.as_str(),
                recipient: &id,
                purpose: req.purpose,
                code_mac: &self.mac(&req, &answer),
                sent_at: now.millis(),
                expires_at: now.plus_secs(ttl).millis(),
            },
        )
        .await?;
        drop(conn);
        if self.sender.can_deliver(Channel::Captcha) {
            let outgoing = OutgoingCode {
                channel: Channel::Captcha,
                to: id.clone(),
                code: answer.clone(),
                purpose: req.purpose.to_owned(),
                surface: surface.to_owned(),
                at: now.iso_utc_ms(),
            };
            if let Err(err) = self.sender.send(&outgoing).await {
                tracing::warn!(error = %err, "captcha copy to the outbox failed");
            }
        }
        Ok(Captcha {
            id,
            answer,
            expires_in_secs: ttl,
        })
    }

    /// Checks a captcha answer and uses the captcha up, right or wrong after the last try.
    pub async fn take_captcha(&self, id: &str, answer: &str) -> Result<()> {
        let id = id.trim();
        if id.is_empty() || answer.trim().is_empty() {
            return Err(Error::invalid("captcha", "请输入验证码"));
        }
        let code_id = self.check(captcha_request(id, ""), answer).await?;
        let mut conn = self.store.pool().acquire().await?;
        self.consume(&mut conn, &code_id, self.clock.now()).await
    }
}
