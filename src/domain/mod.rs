//! The rules shared by every surface. No HTTP, no SQL: surfaces call in, the store persists.

pub mod bus;
pub mod charging;
pub mod clock;
pub mod codes;
pub mod commit;
pub mod error;
pub mod guard;
pub mod heating;
pub mod identity;
pub mod ids;
pub mod iot;
pub mod ledger;
pub mod limits;
pub mod meter;
pub mod money;
pub mod operators;
pub mod passwords;
pub mod payments;
pub mod recent;
pub mod records;
pub mod retail;
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
    pub late_fee: heating::LateFeeRule,
    /// When heating seasons start and end.
    pub seasons: heating::SeasonCalendar,
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
    /// The OCPP charge boxes' timing.
    pub ocpp: charging::boxes::OcppSettings,
    /// The purifiers' link: topics, timing, rentals.
    pub fleet: iot::fleet::FleetSettings,
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
            late_fee: heating::LateFeeRule::default(),
            seasons: heating::SeasonCalendar::default(),
            order_ttl_secs: 1800,
            order_query_after_secs: 30,
            meter_max_recharge: meter::DEFAULT_MAX_RECHARGE,
            retail_upload_dir: std::path::PathBuf::from("./data/uploads"),
            retail_max_upload_bytes: 2 * 1024 * 1024,
            charging: Default::default(),
            ocpp: Default::default(),
            fleet: Default::default(),
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
    /// The domain's tunable rules (the zone local dates are in, lifetimes, limits).
    pub settings: Arc<Settings>,
    /// Verification codes, for every area.
    pub codes: Arc<codes::Codes>,
    /// The sign-in guard, for every area.
    pub guard: Arc<guard::SignInGuard>,
    /// Request limits and short-lived values that hold across instances.
    pub limits: limits::Limits,
    /// Payments: the gateway and the areas its notifications go to.
    pub payments: Arc<payments::Payments>,
    /// The money journal.
    pub journal: Arc<ledger::Journal>,
    /// Operators (the admin accounts).
    pub operators: Arc<operators::Operators>,
    /// District heating.
    pub heating: heating::Heating,
    /// The retail hall's accounts, companies, enterprises and bindings.
    pub retail: Arc<retail::Retail>,
    /// The retail hall's content and enterprise records, and its feedback.
    pub retail_data: Arc<retail::RetailData>,
    /// Prepaid smart meters.
    pub meter: Arc<meter::Meter>,
    /// The EV charging station.
    pub charging: Arc<charging::Charging>,
    /// The charge boxes (OCPP) that drive some of its piles.
    pub boxes: Arc<charging::boxes::ChargeBoxes>,
    /// The IoT platform (seed 002).
    pub iot: iot::Iot,
    /// What the operators' console lists, over every area.
    pub records: Arc<records::Records>,
}

/// The outside services the domain talks to through its traits, as `app.rs` chose them.
pub struct Gateways {
    /// Delivers verification codes.
    pub sender: Arc<dyn SmsSender>,
    /// Takes payments.
    pub payments: Arc<dyn payments::PaymentGateway>,
    /// Keeps the limits that hold across instances.
    pub limits: Arc<dyn limits::LimitStore>,
}

impl Services {
    /// Builds the domain over a migrated store; loads (or creates) the server secrets.
    pub async fn build(
        store: Store,
        clock: Clock,
        settings: Settings,
        passwords: PasswordHasher,
        gateways: Gateways,
        jwt_secret: Option<&str>,
    ) -> anyhow::Result<Services> {
        let Gateways {
            sender,
            payments,
            limits: limit_store,
        } = gateways;
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
        let heating_users = Arc::new(heating::users::Users::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            codes.clone(),
            guard.clone(),
            TokenKeys::new(jwt.as_bytes()),
        ));
        let heating_accounts = Arc::new(heating::accounts::Accounts::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
        ));
        let heating = heating::Heating {
            orders: Arc::new(heating::orders::Orders::new(
                store.clone(),
                clock.clone(),
                settings.clone(),
                payments.clone(),
                heating_accounts.clone(),
                heating_users.clone(),
            )),
            users: heating_users,
            accounts: heating_accounts,
            content: Arc::new(heating::content::Content::new(
                store.clone(),
                clock.clone(),
                settings.clone(),
            )),
        };
        let operators = Arc::new(operators::Operators::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            guard.clone(),
        ));
        let retail = Arc::new(retail::Retail::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            codes.clone(),
            guard.clone(),
        ));
        let retail_data = Arc::new(retail::RetailData::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
        ));
        let meter = Arc::new(meter::Meter::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            guard.clone(),
        ));
        let charging = Arc::new(
            charging::Charging::load(
                store.clone(),
                clock.clone(),
                settings.clone(),
                passwords.clone(),
                codes.clone(),
                guard.clone(),
            )
            .await?,
        );
        let boxes = charging::boxes::ChargeBoxes::new(
            charging.clone(),
            store.clone(),
            clock.clone(),
            passwords.clone(),
            settings.ocpp,
        );
        let device_key = crate::store::secrets::get_or_insert(
            store.pool(),
            "iot_device_key",
            &ids::random_token(),
        )
        .await?;
        let iot = iot::Iot::new(
            device_key,
            store.clone(),
            clock.clone(),
            settings.clone(),
            passwords.clone(),
            codes.clone(),
            guard.clone(),
            payments.clone(),
        );
        let payments = Arc::new(payments::Payments::new(
            payments,
            vec![iot.orders.clone(), heating.orders.clone()],
        ));
        let journal = Arc::new(ledger::Journal::new(store.clone()));
        let limits = limits::Limits::new(limit_store, clock.clone());
        let records = Arc::new(records::Records::new(
            store.clone(),
            clock.clone(),
            settings.clone(),
        ));
        Ok(Services {
            records,
            clock,
            store,
            codes,
            guard,
            limits,
            payments,
            journal,
            operators,
            heating,
            retail,
            retail_data,
            meter,
            charging,
            boxes,
            iot,
            settings,
        })
    }

    /// The current instant on the server's one clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Loads every area's demo data (`--demo`); loading it again changes nothing.
    pub async fn load_demo(&self) -> Result<()> {
        self.operators.load_demo().await?;
        self.heating.load_demo().await?;
        retail::demo::load(&self.retail, &self.retail_data).await?;
        self.meter.load_demo().await?;
        self.charging.load_demo().await?;
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
