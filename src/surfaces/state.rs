//! The state every handler receives: the domain's services, the configuration, the metrics and
//! the surfaces' own limiters. Built by `app.rs` at start-up; nothing here reaches back up.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::config::Config;
use crate::domain::Services;
use crate::domain::recent::Recent;
use crate::surfaces::ratelimit::{IpRateLimiter, RateLimiter};
use crate::telemetry::Metrics;

/// Everything a handler needs; one `Arc`, so cloning it for each extractor costs one atomic
/// increment however many services there are. Derefs to [`Shared`], which derefs to the
/// domain's [`Services`], so a handler writes `state.meter.recharge(..)` and `state.config`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What the state holds.
pub struct Shared {
    pub services: Services,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub heating_limiter: Arc<IpRateLimiter>,
    /// Operator login attempts per client IP.
    pub admin_login_limiter: Arc<IpRateLimiter>,
    /// The meter document's one call per interface per account per window.
    pub meter_limiter: Arc<RateLimiter<(String, &'static str)>>,
    /// Captchas per client IP per minute (retail).
    pub captcha_limiter: Arc<IpRateLimiter>,
    /// SMS codes one retail user may have sent per 10 minutes.
    pub retail_sms_limiter: Arc<RateLimiter<String>>,
    /// The last charging captcha each client address fetched, and when it expires.
    pub charging_captchas: Arc<std::sync::Mutex<CaptchaByAddress>>,
    /// IoT orders as AD-01/AD-03 write them, each as of the order's version: an order read
    /// again unchanged is not written again.
    pub iot_orders_written: Recent<RawValue>,
}

/// How many written orders [`Shared::iot_orders_written`] keeps (each about 1.5 KiB).
const WRITTEN_ORDERS: usize = 4096;

/// Captcha id and expiry (ms) by client address.
pub type CaptchaByAddress = std::collections::HashMap<std::net::IpAddr, (String, i64)>;

impl AppState {
    /// The state over built services, with the limiters the configuration asks for.
    pub fn new(services: Services, config: Config) -> AppState {
        AppState(Arc::new(Shared {
            services,
            heating_limiter: Arc::new(IpRateLimiter::new(
                config.heating.rate_limit_requests,
                config.heating.rate_limit_window_seconds,
            )),
            admin_login_limiter: Arc::new(IpRateLimiter::new(
                config.auth.admin_login_ip_limit,
                config.auth.failed_login_window_seconds.max(1) as u64,
            )),
            meter_limiter: Arc::new(RateLimiter::with_window_ms(
                1,
                (config.meter.rate_limit_window_seconds.max(0.0) * 1000.0) as i64,
            )),
            captcha_limiter: Arc::new(IpRateLimiter::new(config.retail.captchas_per_minute, 60)),
            retail_sms_limiter: Arc::new(RateLimiter::new(5, 600)),
            charging_captchas: Default::default(),
            iot_orders_written: Recent::new(WRITTEN_ORDERS),
            config: Arc::new(config),
            metrics: Metrics::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::Deref for Shared {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}
