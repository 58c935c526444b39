//! Start-up: the shared state, the listeners, and a `run(shutdown)` a test can call.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::domain::codes::SmsSender;
use crate::domain::heating::{LateFeeRule, SeasonCalendar};
use crate::domain::limits::LimitStore;
use crate::domain::passwords::PasswordHasher;
use crate::domain::payments::PaymentGateway;
use crate::domain::{Clock, Gateways, Services, Settings, Timestamp, Zone};
use crate::gateways::limits::{MemoryLimits, RedisLimits, SqlLimits};
use crate::gateways::payments::{NoGateway, SimulatedGateway};
use crate::gateways::pg_bus::PgBus;
use crate::gateways::sms::{DevOutbox, NoProvider};
use crate::gateways::wechat_pay::{WechatPay, WechatPayConfig};
use crate::store::{Backend, Store};
use crate::surfaces::{self, AppState};

/// A bound listener and what it serves.
struct Listener {
    name: String,
    listener: TcpListener,
    router: axum::Router,
}

/// The built application: listeners bound, database migrated, ready to run.
pub struct App {
    state: AppState,
    listeners: Vec<Listener>,
    /// The purifiers' broker and this server's client id there (none: no device link).
    mqtt: Option<(surfaces::mqtt::Broker, String)>,
}

/// `--demo`: the demo's simulated purifiers, connected to the device link's broker until
/// shutdown.
async fn demo_purifiers(
    iot: crate::domain::iot::Iot,
    broker: surfaces::mqtt::Broker,
    config: crate::config::IotConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let devices = match iot.demo_fleet(config.demo_devices).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "the demo's purifiers could not be registered");
            return;
        }
    };
    let credentials = broker
        .credentials
        .as_ref()
        .map(|(u, p)| format!("{u}:{p}@"))
        .unwrap_or_default();
    let fleet = crate::sim::run_fleet(crate::sim::SimConfig {
        broker: format!("mqtt://{credentials}{}:{}", broker.host, broker.port),
        prefix: config.topic_prefix.clone(),
        devices,
        report_every: Duration::from_secs((config.heartbeat_secs / 2).clamp(1, 30)),
        speed: 60.0,
        fault_rate: 0.005,
        seed: 17,
    })
    .await;
    tracing::info!(
        devices = fleet.len(),
        "the demo's simulated purifiers are running"
    );
    let _ = stop.changed().await;
    fleet.stop().await;
}

/// The broker the device link connects to: the configured one, or the embedded one started
/// here; none when the link is off.
fn device_broker(
    config: &Config,
    main: SocketAddr,
) -> anyhow::Result<Option<(surfaces::mqtt::Broker, String)>> {
    let iot = &config.iot;
    let broker = match &iot.mqtt_url {
        Some(url) => surfaces::mqtt::Broker::parse(&url.0)?,
        None if iot.embedded_broker == "off" => return Ok(None),
        None => {
            let addr = surfaces::mqtt::start_embedded(&iot.embedded_broker)?;
            tracing::info!(%addr, "embedded MQTT broker listening");
            surfaces::mqtt::Broker {
                host: addr.ip().to_string(),
                port: addr.port(),
                credentials: None,
            }
        }
    };
    let client_id = iot
        .client_id
        .clone()
        .unwrap_or_else(|| format!("utilhall-{}-{}", iot.topic_prefix, main.port()));
    Ok(Some((broker, client_id)))
}

/// The domain settings the configuration asks for.
fn settings(config: &Config) -> anyhow::Result<Settings> {
    let zone = Zone::parse(&config.server.timezone).with_context(|| {
        format!(
            "unknown time zone {:?} (use e.g. Asia/Shanghai or +08:00)",
            config.server.timezone
        )
    })?;
    let positive = |v: i64, name: &str| -> anyhow::Result<i64> {
        anyhow::ensure!(v > 0, "{name} must be positive");
        Ok(v)
    };
    Ok(Settings {
        zone,
        access_ttl_secs: positive(config.auth.access_ttl_seconds, "auth.access_ttl_seconds")?,
        refresh_ttl_secs: positive(config.auth.refresh_ttl_seconds, "auth.refresh_ttl_seconds")?,
        operator_ttl_secs: positive(
            config.auth.operator_ttl_seconds,
            "auth.operator_ttl_seconds",
        )?,
        code_ttl_secs: positive(config.sms.code_ttl_seconds, "sms.code_ttl_seconds")?,
        code_resend_secs: config.sms.resend_interval_seconds.max(0),
        code_daily_cap: positive(config.sms.daily_cap, "sms.daily_cap")?,
        code_max_attempts: positive(config.sms.max_attempts, "sms.max_attempts")?,
        max_failed_sign_ins: positive(config.auth.max_failed_logins, "auth.max_failed_logins")?,
        sign_in_window_secs: positive(
            config.auth.failed_login_window_seconds,
            "auth.failed_login_window_seconds",
        )?,
        late_fee: late_fee_rule(config)?,
        order_ttl_secs: positive(
            config.heating.order_ttl_seconds,
            "heating.order_ttl_seconds",
        )?,
        order_query_after_secs: config.heating.order_query_after_seconds.max(0),
        meter_max_recharge: crate::domain::money::Fen::parse_yuan(&format!(
            "{}",
            config.meter.max_recharge_yuan
        ))
        .filter(|fee| fee.0 > 0)
        .context("meter.max_recharge_yuan must be a positive amount with at most two decimals")?,
        retail_upload_dir: config.retail.upload_dir.clone(),
        retail_max_upload_bytes: positive(
            i64::try_from(config.retail.max_upload_bytes).unwrap_or(i64::MAX),
            "retail.max_upload_bytes",
        )? as usize,
        charging: config
            .charging
            .to_config(zone.offset_secs())
            .map_err(|e| anyhow::anyhow!("[charging] {e}"))?,
        ocpp: {
            let o = &config.ocpp;
            anyhow::ensure!(
                (1..=86_400).contains(&o.heartbeat_secs),
                "ocpp.heartbeat_secs must be 1-86400"
            );
            anyhow::ensure!(
                o.offline_heartbeats >= 1,
                "ocpp.offline_heartbeats must be at least 1"
            );
            anyhow::ensure!(
                (1..=600).contains(&o.call_timeout_secs),
                "ocpp.call_timeout_secs must be 1-600"
            );
            crate::domain::charging::boxes::OcppSettings {
                heartbeat_secs: o.heartbeat_secs,
                offline_heartbeats: o.offline_heartbeats,
                call_timeout_secs: o.call_timeout_secs,
                plug_in_secs: o.plug_in_secs.max(1),
            }
        },
        fleet: {
            let i = &config.iot;
            anyhow::ensure!(
                (1..=86_400).contains(&i.heartbeat_secs),
                "iot.heartbeat_secs must be 1-86400"
            );
            anyhow::ensure!(
                (1..=600).contains(&i.command_timeout_secs),
                "iot.command_timeout_secs must be 1-600"
            );
            anyhow::ensure!(
                !i.topic_prefix.is_empty()
                    && !i.topic_prefix.contains(['+', '#'])
                    && !i.topic_prefix.starts_with('$'),
                "iot.topic_prefix must be a topic level without wildcards"
            );
            anyhow::ensure!(
                i.min_period_days >= 1,
                "iot.min_period_days must be at least 1"
            );
            crate::domain::iot::fleet::FleetSettings {
                topics: crate::domain::iot::protocol::Topics::new(&i.topic_prefix),
                heartbeat_secs: i.heartbeat_secs,
                command_timeout_secs: i.command_timeout_secs,
                rent_grace_days: i.rent_grace_days,
                min_period_days: i.min_period_days,
            }
        },
        seasons: SeasonCalendar {
            start: SeasonCalendar::parse_month_day(&config.heating.season_start)
                .context("heating.season_start must be MM-DD")?,
            end: SeasonCalendar::parse_month_day(&config.heating.season_end)
                .context("heating.season_end must be MM-DD")?,
        },
    })
}

fn late_fee_rule(config: &Config) -> anyhow::Result<LateFeeRule> {
    let h = &config.heating;
    anyhow::ensure!(
        (0..=10_000).contains(&h.late_fee_per_day_bp)
            && (0..=1_000).contains(&h.late_fee_cap_percent),
        "heating.late_fee_per_day_bp must be 0-10000 and heating.late_fee_cap_percent 0-1000"
    );
    Ok(LateFeeRule {
        per_day_bp: h.late_fee_per_day_bp,
        cap_percent: h.late_fee_cap_percent,
    })
}

fn clock(config: &Config) -> anyhow::Result<Clock> {
    match &config.dev.sim_clock {
        None => Ok(Clock::System),
        Some(start) => {
            anyhow::ensure!(config.dev.enabled, "--sim-clock works only with --dev");
            let start = Timestamp::parse_rfc3339(start)
                .with_context(|| format!("--sim-clock {start:?} is not an RFC 3339 instant"))?;
            anyhow::ensure!(
                config.dev.sim_speed.is_finite() && config.dev.sim_speed >= 0.0,
                "--sim-speed must be a number >= 0"
            );
            Ok(Clock::simulated(start, config.dev.sim_speed))
        }
    }
}

async fn bind(name: &str, addr: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({name})"))
}

/// The WeChat Pay settings, when `wechat_pay.mchid` is set (every other key is then required).
fn wechat_pay(config: &Config) -> anyhow::Result<Option<WechatPayConfig>> {
    let w = &config.wechat_pay;
    let Some(mchid) = &w.mchid else {
        return Ok(None);
    };
    let need = |v: &Option<String>, key: &str| -> anyhow::Result<String> {
        v.clone()
            .filter(|s| !s.is_empty())
            .with_context(|| format!("wechat_pay.{key} is required with wechat_pay.mchid"))
    };
    let read = |p: &Option<std::path::PathBuf>, key: &str| -> anyhow::Result<String> {
        let path = p
            .as_ref()
            .with_context(|| format!("wechat_pay.{key} is required with wechat_pay.mchid"))?;
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read wechat_pay.{key} {}", path.display()))
    };
    Ok(Some(WechatPayConfig {
        base_url: w.base_url.clone(),
        mchid: mchid.clone(),
        appid: need(&w.appid, "appid")?,
        merchant_serial: need(&w.merchant_serial, "merchant_serial")?,
        merchant_key_pem: read(&w.merchant_key_file, "merchant_key_file")?,
        apiv3_key: need(&w.apiv3_key.as_ref().map(|s| s.0.clone()), "apiv3_key")?,
        public_key_pem: read(&w.public_key_file, "public_key_file")?,
        public_key_id: need(&w.public_key_id, "public_key_id")?,
        notify_url: need(&w.notify_url, "notify_url")?,
    }))
}

/// Connects to the configured database and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store =
        Store::connect(&config.server.database_url.0, config.server.max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

/// Where the limits that hold across instances are kept: `limits.store`, or by default Redis
/// when `redis.url` is set, else the database when it is PostgreSQL (shared by every instance
/// on it), else this process's memory (one instance on SQLite).
pub async fn limit_store(config: &Config, store: &Store) -> anyhow::Result<Arc<dyn LimitStore>> {
    let redis_url = config.redis.url.as_ref().map(|u| u.0.as_str());
    let kind = match config.limits.store.as_str() {
        "auto" if redis_url.is_some() => "redis",
        "auto" if store.backend() == Backend::Postgres => "database",
        "auto" => "memory",
        other => other,
    };
    let limits: Arc<dyn LimitStore> = match kind {
        "memory" => Arc::new(MemoryLimits::new()),
        "database" => Arc::new(SqlLimits::new(store.clone())),
        "redis" => {
            let url = redis_url.context("limits.store = \"redis\" needs redis.url")?;
            Arc::new(RedisLimits::connect(url, &config.redis.key_prefix).await?)
        }
        other => {
            anyhow::bail!("limits.store must be auto, memory, database or redis (not {other:?})")
        }
    };
    Ok(limits)
}

/// Builds the domain over an open store (also used by CLI commands).
pub async fn build_services(config: &Config, store: Store) -> anyhow::Result<Services> {
    let sender: Arc<dyn SmsSender> = if config.dev.enabled {
        Arc::new(DevOutbox::new(config.dev.outbox.clone())?)
    } else {
        Arc::new(NoProvider)
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let concurrency = if config.auth.hash_concurrency == 0 {
        cores
    } else {
        config.auth.hash_concurrency
    };
    let clock = clock(config)?;
    let settings = settings(config)?;
    // WeChat Pay when configured; under --dev without it, the simulator; otherwise none.
    let payments: Arc<dyn PaymentGateway> = match wechat_pay(config)? {
        Some(cfg) => Arc::new(WechatPay::new(cfg, clock.clone(), settings.zone)?),
        None if config.dev.enabled => Arc::new(SimulatedGateway::new()),
        None => Arc::new(NoGateway),
    };
    let passwords = PasswordHasher::new(
        config.auth.argon2_memory_kib,
        config.auth.argon2_iterations,
        concurrency,
    )?;
    let limits = limit_store(config, &store).await?;
    tracing::info!(store = limits.kind(), "limits");
    Services::build(
        store,
        clock,
        settings,
        passwords,
        Gateways {
            sender,
            payments,
            limits,
        },
        config.auth.jwt_secret.as_ref().map(|s| s.0.as_str()),
    )
    .await
}

impl App {
    /// Binds every listener, opens and migrates the database, loads the demo data if asked.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        // Check what can fail cheaply before touching the database.
        settings(&config)?;
        clock(&config)?;
        anyhow::ensure!(
            ["auto", "memory", "database", "redis"].contains(&config.limits.store.as_str()),
            "limits.store must be auto, memory, database or redis (not {:?})",
            config.limits.store
        );
        for name in config.surface_bind.keys() {
            anyhow::ensure!(
                surfaces::SURFACES.contains(&name.as_str()),
                "unknown surface {name:?} in --surface-bind (known: {})",
                surfaces::SURFACES.join(", ")
            );
        }
        let main = bind("main", &config.server.bind).await?;
        let mut extra = Vec::new();
        for (name, addr) in &config.surface_bind {
            extra.push((name.clone(), bind(name, addr).await?));
        }
        let mqtt = device_broker(&config, main.local_addr()?)?;
        let store = open_store(&config).await?;
        let services = build_services(&config, store).await?;
        if services.store.backend() == Backend::Postgres {
            // Other instances may share the database: they hear of each change at once.
            let bus = PgBus::start(&config.server.database_url.0).await?;
            services.charging.share_through(bus);
        }
        if config.server.demo {
            services
                .load_demo()
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the demo data: {e}"))?;
        }
        let state = AppState::new(services, config);
        let mut listeners = vec![Listener {
            name: "main".into(),
            listener: main,
            router: surfaces::main_router(&state),
        }];
        for (name, listener) in extra {
            let router = surfaces::surface_router(&name, &state)
                .with_context(|| format!("unknown surface {name:?}"))?;
            listeners.push(Listener {
                name,
                listener,
                router,
            });
        }
        Ok(App {
            state,
            listeners,
            mqtt,
        })
    }

    /// The main listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.surface_addr("main")
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The address of a surface's own listener (`"main"` for the main one).
    pub fn surface_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.listener.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish (bounded by the grace period).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let limits = surfaces::listener::Limits::from_config(&self.state.config.connections);
        for l in self.listeners {
            let addr = l.listener.local_addr()?;
            tracing::info!(listener = %l.name, %addr, "listening");
            tasks.spawn(surfaces::listener::serve(
                l.listener,
                l.router,
                limits.clone(),
                self.state.metrics.connections.clone(),
                stop_rx.clone(),
            ));
        }
        let mut jobs = crate::jobs::spawn(
            &self.state.services,
            &self.state.config,
            self.state.metrics.jobs.clone(),
            &stop_rx,
        );
        let demo_fleet = match &self.mqtt {
            Some((broker, _))
                if self.state.config.server.demo && self.state.config.iot.demo_devices > 0 =>
            {
                Some(tokio::spawn(demo_purifiers(
                    self.state.services.iot.clone(),
                    broker.clone(),
                    self.state.config.iot.clone(),
                    stop_rx.clone(),
                )))
            }
            _ => None,
        };
        let link = self.mqtt.map(|(broker, client_id)| {
            tokio::spawn(surfaces::mqtt::run(
                self.state.services.iot.fleet.clone(),
                broker,
                client_id,
                stop_rx.clone(),
            ))
        });
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_seconds);
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                if let Ok(Err(e)) = joined {
                    tracing::warn!(error = %e, "listener ended with an error");
                }
            }
            while jobs.join_next().await.is_some() {}
            if let Some(link) = link {
                let _ = link.await;
            }
            if let Some(demo) = demo_fleet {
                let _ = demo.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("requests still in flight after the grace period; closing");
        }
        self.state.store.close().await;
        Ok(())
    }
}
