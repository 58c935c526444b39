//! The state every handler receives: the domain's services, the configuration, the metrics and
//! the surfaces' own limits (counted in the domain's shared limit store, so over every
//! instance). Built by `app.rs` at start-up; nothing here reaches back up.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::config::Config;
use crate::domain::Services;
use crate::domain::limits::RateLimit;
use crate::domain::recent::Recent;
use crate::surfaces::ratelimit::IpRateLimit;
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
    /// The heating document's global limit per client IP.
    pub heating_limiter: IpRateLimit,
    /// Operator login attempts per client IP.
    pub admin_login_limiter: IpRateLimit,
    /// The meter document's one call per interface per account per window (key
    /// `interface:account`).
    pub meter_limiter: RateLimit,
    /// Captchas per client IP per minute (retail and charging).
    pub captcha_limiter: IpRateLimit,
    /// SMS codes one retail user may have sent per 10 minutes.
    pub retail_sms_limiter: RateLimit,
    /// IoT orders as AD-01/AD-03 write them, each as of the order's version: an order read
    /// again unchanged is not written again.
    pub iot_orders_written: Recent<RawValue>,
    /// Calls received from OCPP charge boxes, by action.
    pub ocpp: crate::surfaces::ocpp::OcppCounters,
}

/// How many written orders [`Shared::iot_orders_written`] keeps (each about 1.5 KiB).
const WRITTEN_ORDERS: usize = 4096;

impl AppState {
    /// The state over built services, with the limiters the configuration asks for.
    pub fn new(services: Services, config: Config) -> AppState {
        let limits = &services.limits;
        let secs = |s: u64| (s.max(1) as i64).saturating_mul(1000);
        AppState(Arc::new(Shared {
            heating_limiter: IpRateLimit::new(limits.rate(
                "heating-ip",
                config.heating.rate_limit_requests,
                secs(config.heating.rate_limit_window_seconds),
            )),
            admin_login_limiter: IpRateLimit::new(limits.rate(
                "admin-login-ip",
                config.auth.admin_login_ip_limit,
                secs(config.auth.failed_login_window_seconds.max(1) as u64),
            )),
            meter_limiter: limits.rate(
                "meter-pace",
                1,
                (config.meter.rate_limit_window_seconds.max(0.0) * 1000.0) as i64,
            ),
            captcha_limiter: IpRateLimit::new(limits.rate(
                "captcha-ip",
                config.retail.captchas_per_minute,
                60_000,
            )),
            retail_sms_limiter: limits.rate("retail-sms", 5, 600_000),
            services,
            iot_orders_written: Recent::new(WRITTEN_ORDERS),
            config: Arc::new(config),
            metrics: Metrics::default(),
            ocpp: Default::default(),
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
