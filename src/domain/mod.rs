//! The rules shared by every surface. No HTTP, no SQL: surfaces call in, the store persists.

pub mod accounts;
pub mod charging;
pub mod clock;
pub mod codes;
pub mod content;
pub mod demo;
pub mod error;
pub mod guard;
pub mod heat;
pub mod identity;
pub mod ids;
pub mod iot;
pub mod ledger;
pub mod meter;
pub mod money;
pub mod operators;
pub mod passwords;
pub mod payments;
pub mod retail;
pub mod sessions;
pub mod time;
pub mod tokens;

use std::sync::Arc;

pub use clock::Clock;
pub use error::{AuthFailure, Entity, Error, Forbidden, Invalid, Result, Service};
pub use time::{Timestamp, Zone};

use crate::store::Store;
use codes::SmsSender;
use passwords::PasswordHasher;
use tokens::TokenKeys;

/// Checks a page request: `page` from 1 (at most 1,000,000) and `size` from 1 to `max_size`.
pub(crate) fn check_page(
    page: i64,
    size: i64,
    max_size: i64,
    field: &'static str,
    message: &str,
) -> Result<()> {
    if (1..=1_000_000).contains(&page) && (1..=max_size).contains(&size) {
        Ok(())
    } else {
        Err(Error::invalid(field, message))
    }
}

/// Tunable rules of the domain (from the configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The zone that local dates and times are in.
    pub zone: Zone,
    /// Access-token lifetime (seconds).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime (seconds).
    pub refresh_ttl_secs: i64,
    /// Operator-token lifetime (seconds).
    pub operator_ttl_secs: i64,
    /// Verification-code lifetime (seconds).
    pub code_ttl_secs: i64,
    /// Minimum gap between two codes sent to one recipient (seconds).
    pub code_resend_secs: i64,
    /// Codes one recipient may receive per local day.
    pub code_daily_cap: i64,
    /// Wrong tries before a code is void.
    pub code_max_attempts: i64,
    /// Wrong passwords per account per window before its password sign-in is refused.
    pub max_failed_sign_ins: i64,
    /// That window (seconds).
    pub sign_in_window_secs: i64,
    /// Late fees on heating bills.
    pub late_fee: heat::LateFeeRule,
    /// When heating seasons start and end.
    pub seasons: heat::SeasonCalendar,
    /// How long a payment order waits for payment before it is closed (seconds).
    pub order_ttl_secs: i64,
    /// How long a pending order waits before its status is asked of the gateway (seconds).
    pub order_query_after_secs: i64,
    /// The most one meter recharge may credit.
    pub meter_max_recharge: money::Fen,
    /// Where the retail hall keeps uploaded pictures.
    pub retail_upload_dir: std::path::PathBuf,
    /// Largest picture the retail hall takes (bytes).
    pub retail_max_upload_bytes: usize,
    /// The charging station's set-up, used when the database has none yet.
    pub charging: charging::station::StationConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            zone: Zone::shanghai(),
            access_ttl_secs: 7200,
            refresh_ttl_secs: 30 * 86_400,
            operator_ttl_secs: 12 * 3600,
            code_ttl_secs: 300,
            code_resend_secs: 60,
            code_daily_cap: 10,
            code_max_attempts: 5,
            max_failed_sign_ins: 10,
            sign_in_window_secs: 900,
            late_fee: heat::LateFeeRule::default(),
            seasons: heat::SeasonCalendar::default(),
            order_ttl_secs: 1800,
            order_query_after_secs: 30,
            meter_max_recharge: meter::DEFAULT_MAX_RECHARGE,
            retail_upload_dir: std::path::PathBuf::from("./data/uploads"),
            retail_max_upload_bytes: 2 * 1024 * 1024,
            charging: Default::default(),
        }
    }
}

/// Every service of the domain, built once at start-up; what a handler's state holds.
///
/// One service per area (heating, meter, retail, charging, IoT), each owning what it needs,
/// over the services several areas share: verification codes, the sign-in guard, the money
/// journal and payments.
#[derive(Clone)]
pub struct Services {
    /// The server's one clock.
    pub clock: Clock,
    /// The storage handle (for health checks and shutdown).
    pub store: Store,
    /// Verification codes, for every area.
    pub codes: Arc<codes::Codes>,
    /// The sign-in guard, for every area.
    pub guard: Arc<guard::SignInGuard>,
    /// Payments: the gateway and the areas its notifications go to.
    pub payments: Arc<payments::Payments>,
    /// The IoT platform (seed 002).
    pub iot: iot::Iot,
    pub core: Arc<Core>,
}

impl Services {
    /// Builds the domain over a migrated store; loads (or creates) the server secrets.
    pub async fn build(
        store: Store,
        clock: Clock,
        settings: Settings,
        passwords: PasswordHasher,
        sender: Arc<dyn SmsSender>,
        payments: Arc<dyn payments::PaymentGateway>,
        jwt_secret: Option<&str>,
    ) -> anyhow::Result<Services> {
        let jwt = match jwt_secret {
            Some(s) if s.len() >= 16 => s.to_owned(),
            Some(_) => anyhow::bail!("auth.jwt_secret must be at least 16 characters"),
            None => {
                crate::store::secrets::get_or_insert(store.pool(), "jwt", &ids::random_token())
                    .await?
            }
        };
        let code_secret =
            crate::store::secrets::get_or_insert(store.pool(), "code_mac", &ids::random_token())
                .await?;
        let code_key: [u8; 32] = sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(code_secret.as_bytes()),
        )
        .into();
        let settings = Arc::new(settings);
        let codes = Arc::new(codes::Codes::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            sender.clone(),
            code_key,
        ));
        let guard = Arc::new(guard::SignInGuard::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
        ));
        let iot = iot::Iot::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            codes.clone(),
            guard.clone(),
            payments.clone(),
        );
        let charging =
            charging::service::Live::load(&store, &settings.charging, clock.now()).await?;
        let core = Arc::new(Core {
            charging,
            store: store.clone(),
            clock: clock.clone(),
            settings,
            passwords,
            payments: payments.clone(),
            tokens: TokenKeys::new(jwt.as_bytes()),
            codes: codes.clone(),
            guard: guard.clone(),
            meter_recharges: Default::default(),
        });
        let payments = Arc::new(payments::Payments::new(
            payments,
            vec![iot.orders.clone(), Arc::new(HeatingOrders(core.clone()))],
        ));
        Ok(Services {
            clock,
            store,
            codes,
            guard,
            payments,
            iot,
            core,
        })
    }

    /// The current instant on the server's one clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Loads every area's demo data (`--demo`); loading it again changes nothing.
    pub async fn load_demo(&self) -> Result<()> {
        self.core.load_demo().await?;
        self.iot.load_demo().await?;
        tracing::info!("demo data loaded");
        Ok(())
    }

    /// The name of the database backend (`sqlite` or `postgres`).
    pub fn database_backend(&self) -> &'static str {
        self.store.backend().name()
    }

    /// Whether the database answers.
    pub async fn database_reachable(&self) -> bool {
        self.store.ping().await.is_ok()
    }
}

/// The domain: every rule, with the services it needs. Shared by all surfaces.
pub struct Core {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    pub passwords: PasswordHasher,
    /// The payment provider (WeChat Pay, the dev simulator, or none).
    pub payments: Arc<dyn payments::PaymentGateway>,
    tokens: TokenKeys,
    codes: Arc<codes::Codes>,
    guard: Arc<guard::SignInGuard>,
    /// Meter recharges waiting for their group commit.
    meter_recharges: meter::RechargeQueue,
    /// The charging station, live.
    charging: charging::service::Live,
}

impl Core {
    /// The current instant on the server's one clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// Heating's orders, as the payments service sees them.
struct HeatingOrders(Arc<Core>);

impl payments::OrderOwner for HeatingOrders {
    fn owns<'a>(&'a self, _out_trade_no: &'a str) -> payments::OwnerFuture<'a, bool> {
        Box::pin(async { Ok(true) })
    }
    fn settle<'a>(
        &'a self,
        paid: payments::Paid<'a>,
    ) -> payments::OwnerFuture<'a, payments::Settlement> {
        Box::pin(
            self.0
                .settle_heating_order(paid.out_trade_no, paid.transaction_id, paid.amount),
        )
    }
}
