//! Limits and short-lived values that hold across every instance sharing one database: request
//! limits per client address or account, and what one request leaves for the next (the
//! captcha a client address fetched). Kept in a [`LimitStore`]: this process's memory (one
//! instance on SQLite), the database (several on PostgreSQL), or Redis (`redis.url`).
//!
//! What is written in the same transaction as what it guards stays in the database whichever
//! store is configured, because only there can the two commit together: verification codes
//! and captchas (issued, tried and used up in the action's own transaction), the SMS resend
//! interval and daily cap (taken with the code's row), failed sign-ins (`guard.rs`), and the
//! IoT withdrawal gap (taken with the journal entry). On a shared database those already hold
//! over every instance.
//!
//! Windows are fixed and open at their first hit, on the server's one clock (a simulated clock
//! moves them too): a window of 2 s allows its one call and nothing else until 2 s after it,
//! however the calls fall.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Clock, Result};

/// The boxed future a [`LimitStore`] returns.
pub type LimitFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A window of hits on one key, as counted after the latest hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// When the window opened (ms).
    pub start: i64,
    /// Hits counted in it, the latest included.
    pub count: i64,
}

/// Where limits and short-lived values are kept; every operation is atomic where it is kept,
/// so concurrent requests on any number of instances count exactly.
pub trait LimitStore: Send + Sync {
    /// Counts one hit on `key` at `now` (ms): in the open window when there is one (opened at
    /// most `window_ms` before `now`), else in a new window opening at `now`.
    fn hit<'a>(&'a self, key: &'a str, now: i64, window_ms: i64) -> LimitFuture<'a, Window>;

    /// Sets `key` to `value` until `now + ttl_ms`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        now: i64,
        ttl_ms: i64,
    ) -> LimitFuture<'a, ()>;

    /// The value of `key`, unless it was never set or has expired by `now`.
    fn get<'a>(&'a self, key: &'a str, now: i64) -> LimitFuture<'a, Option<String>>;

    /// What the store is, for logs and `/health`: `memory`, `database` or `redis`.
    fn kind(&self) -> &'static str;
}

/// The shared limits service: makes [`RateLimit`]s and keeps short-lived values, on the
/// server's clock.
#[derive(Clone)]
pub struct Limits {
    store: Arc<dyn LimitStore>,
    clock: Clock,
}

impl Limits {
    pub fn new(store: Arc<dyn LimitStore>, clock: Clock) -> Limits {
        Limits { store, clock }
    }

    /// Where the limits are kept (`memory`, `database`, `redis`).
    pub fn kind(&self) -> &'static str {
        self.store.kind()
    }

    /// `limit` hits per `window_ms` per key, the keys named under `name`; `limit == 0` or a
    /// window of 0 is no limit.
    pub fn rate(&self, name: &'static str, limit: u64, window_ms: i64) -> RateLimit {
        RateLimit {
            limits: self.clone(),
            name,
            limit: if window_ms > 0 { limit } else { 0 },
            window_ms: window_ms.max(1),
        }
    }

    /// Remembers `value` under `key` for `ttl_secs`, for whichever instance asks next.
    pub async fn remember(&self, key: &str, value: &str, ttl_secs: i64) -> Result<()> {
        let now = self.clock.now().millis();
        self.store
            .put(key, value, now, ttl_secs.saturating_mul(1000))
            .await
    }

    /// What was remembered under `key`, while it lives.
    pub async fn recall(&self, key: &str) -> Result<Option<String>> {
        self.store.get(key, self.clock.now().millis()).await
    }
}

/// One limit: so many hits per window per key.
#[derive(Clone)]
pub struct RateLimit {
    limits: Limits,
    name: &'static str,
    limit: u64,
    window_ms: i64,
}

impl RateLimit {
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Counts one hit on `key`; `Err(seconds until its window ends)` when it is over the limit.
    /// When the store cannot be reached the hit is let through (and logged): a limit that
    /// protects the service must not take it down with its store.
    pub async fn check(&self, key: &str) -> Result<(), u64> {
        if !self.enabled() {
            return Ok(());
        }
        let now = self.limits.clock.now().millis();
        let full = format!("{}:{key}", self.name);
        match self.limits.store.hit(&full, now, self.window_ms).await {
            Ok(w) if w.count > self.limit as i64 => {
                let wait = (w.start + self.window_ms - now).max(0) as u64;
                Err(wait.div_ceil(1000).max(1))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(limit = self.name, error = %e, "limit store unreachable; let through");
                Ok(())
            }
        }
    }
}
