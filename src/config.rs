//! Configuration: defaults < TOML file (`--config`) < `UTILHALL_<SECTION>__<KEY>` env < flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Deserializer};

/// A secret string: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // An env value such as `12345678901234567890` arrives as a number: take it as text.
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(Secret(s)),
            toml::Value::Integer(i) => Ok(Secret(i.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, got {}",
                other.type_str()
            ))),
        }
    }
}

/// An optional text value that may arrive as a number from the environment
/// (`UTILHALL_WECHAT_PAY__MCHID=1900000109`).
fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<toml::Value>::deserialize(d)? {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(toml::Value::Integer(i)) => Ok(Some(i.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected text, got {}",
            other.type_str()
        ))),
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub dev: DevConfig,
    pub auth: AuthConfig,
    pub sms: SmsConfig,
    pub heating: HeatingConfig,
    pub log: LogConfig,
    pub wechat_pay: WechatPaySection,
    pub meter: MeterConfig,
    pub retail: RetailConfig,
    /// How the listeners take connections (caps and timeouts).
    pub connections: ConnectionsConfig,
    /// The EV charging station's set-up (used when the database has none yet).
    pub charging: crate::domain::charging::settings::StationSettings,
    /// Where the limits that hold across instances are kept.
    pub limits: LimitsConfig,
    /// Redis, shared by every instance (`redis.url`).
    pub redis: RedisConfig,
    /// The OCPP charge boxes' timing.
    pub ocpp: OcppConfig,
    /// The purifiers' MQTT link.
    pub iot: IotConfig,
    /// The operators' web console at `/console`.
    pub console: ConsoleConfig,
    /// Surface name -> extra listener address serving that surface at its root.
    pub surface_bind: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the main listener.
    pub bind: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: Secret,
    /// Database connections per process.
    pub max_connections: u32,
    /// Load the demo data set at start-up.
    pub demo: bool,
    /// The zone that local times are in.
    pub timezone: String,
    /// Seconds to let requests in flight finish at shutdown.
    pub shutdown_grace_seconds: u64,
    /// Behind a trusted reverse proxy: take the client IP from the last `X-Forwarded-For` entry.
    pub trust_forwarded_for: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            database_url: Secret("sqlite://./data/utilhall.db".into()),
            max_connections: 8,
            demo: false,
            timezone: "Asia/Shanghai".into(),
            shutdown_grace_seconds: 10,
            trust_forwarded_for: false,
        }
    }
}

/// Caps and timeouts of the listeners' connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// A connection whose request headers are not complete this long after their first byte
    /// (or after the connection opened) is closed.
    pub header_timeout_seconds: f64,
    /// A keep-alive connection idle this long between requests is closed.
    pub idle_timeout_seconds: f64,
    /// Connections open at once, per process (also kept below the open-files limit).
    pub max_connections: usize,
    /// Connections open at once from one client address; 0 for no cap (set it to 0, or high,
    /// behind a reverse proxy, where every connection comes from the proxy).
    pub max_connections_per_ip: usize,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            header_timeout_seconds: 10.0,
            idle_timeout_seconds: 60.0,
            max_connections: 4096,
            max_connections_per_ip: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevConfig {
    /// Development mode: codes go to the outbox file.
    pub enabled: bool,
    pub outbox: PathBuf,
    /// Start a simulated clock at this RFC 3339 instant (dev only).
    pub sim_clock: Option<String>,
    /// How many times real time the simulated clock runs by itself (0 = only when told).
    pub sim_speed: f64,
}

impl Default for DevConfig {
    fn default() -> Self {
        DevConfig {
            enabled: false,
            outbox: PathBuf::from("./data/dev-outbox.jsonl"),
            sim_clock: None,
            sim_speed: 0.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC key for access tokens; generated and stored in the database when unset.
    pub jwt_secret: Option<Secret>,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    pub operator_ttl_seconds: i64,
    /// argon2id memory cost (KiB) and iterations.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Password hashes computed at once (0 = number of cores).
    pub hash_concurrency: usize,
    /// Wrong passwords per account per window before its password sign-in is refused.
    pub max_failed_logins: i64,
    pub failed_login_window_seconds: i64,
    /// Operator login attempts per client IP per window (0 = no limit).
    pub admin_login_ip_limit: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            access_ttl_seconds: 7200,
            refresh_ttl_seconds: 30 * 86_400,
            operator_ttl_seconds: 12 * 3600,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            hash_concurrency: 0,
            max_failed_logins: 10,
            failed_login_window_seconds: 900,
            admin_login_ip_limit: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub code_ttl_seconds: i64,
    pub resend_interval_seconds: i64,
    pub daily_cap: i64,
    pub max_attempts: i64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            code_ttl_seconds: 300,
            resend_interval_seconds: 60,
            daily_cap: 10,
            max_attempts: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeatingConfig {
    /// Requests one client IP may make per window (0 = no limit).
    pub rate_limit_requests: u64,
    pub rate_limit_window_seconds: u64,
    /// Late fee per day after a bill's due date, in basis points of the bill (5 = 0.05%); 0 = none.
    pub late_fee_per_day_bp: i64,
    /// Late fees stop growing at this percentage of the bill.
    pub late_fee_cap_percent: i64,
    /// First and last day (`MM-DD`) of a heating season.
    pub season_start: String,
    pub season_end: String,
    /// How long a payment order waits for payment before it is closed (seconds).
    pub order_ttl_seconds: i64,
    /// How long a pending order waits before its status is asked of the gateway (seconds).
    pub order_query_after_seconds: i64,
    /// How often pending orders are reconciled in the background (seconds; 0 = never).
    pub reconcile_interval_seconds: u64,
}

impl Default for HeatingConfig {
    fn default() -> Self {
        HeatingConfig {
            rate_limit_requests: 100,
            rate_limit_window_seconds: 900,
            late_fee_per_day_bp: 0,
            late_fee_cap_percent: 100,
            season_start: "11-01".into(),
            season_end: "03-31".into(),
            order_ttl_seconds: 1800,
            order_query_after_seconds: 30,
            reconcile_interval_seconds: 30,
        }
    }
}

/// The meter recharge interface.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeterConfig {
    /// One call per interface per account per this many seconds (recharge excepted); 0 = off.
    pub rate_limit_window_seconds: f64,
    /// The most one recharge (`Prestore`) may credit, in yuan (at most two decimals).
    pub max_recharge_yuan: f64,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            rate_limit_window_seconds: 2.0,
            max_recharge_yuan: 10_000.0,
        }
    }
}

/// The electricity retail business hall.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetailConfig {
    /// Where feedback pictures are stored.
    pub upload_dir: PathBuf,
    /// Largest feedback picture (bytes).
    pub max_upload_bytes: usize,
    /// Captchas one client IP may request per minute (`0` = no limit).
    pub captchas_per_minute: u64,
}

impl Default for RetailConfig {
    fn default() -> Self {
        RetailConfig {
            upload_dir: PathBuf::from("./data/uploads"),
            max_upload_bytes: 2 * 1024 * 1024,
            captchas_per_minute: 30,
        }
    }
}

/// Where request limits and short-lived shared values are kept (see `domain/limits.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// `auto` (Redis when `redis.url` is set, else the database when it is PostgreSQL, else
    /// this process's memory), `memory`, `database` or `redis`.
    pub store: String,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            store: "auto".into(),
        }
    }
}

/// The OCPP charge boxes' timing (`[ocpp]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcppConfig {
    /// The heartbeat interval boxes are given at boot (seconds).
    pub heartbeat_secs: u64,
    /// A box silent for longer than this many heartbeat intervals has its pile faulted.
    pub offline_heartbeats: u32,
    /// How long the server waits for a box's answer (seconds).
    pub call_timeout_secs: u64,
    /// How long a car called to an OCPP pile has to plug in (seconds).
    pub plug_in_secs: u64,
}

impl Default for OcppConfig {
    fn default() -> Self {
        let d = crate::domain::charging::boxes::OcppSettings::default();
        OcppConfig {
            heartbeat_secs: d.heartbeat_secs,
            offline_heartbeats: d.offline_heartbeats,
            call_timeout_secs: d.call_timeout_secs,
            plug_in_secs: d.plug_in_secs,
        }
    }
}

/// The operators' web console (`[console]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Every request reaches the server over TLS (a proxy in front): mark the session cookie
    /// `Secure` always. Without it, it is marked `Secure` when a trusted proxy
    /// (`server.trust_forwarded_for`) sends `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
}

/// The purifiers' MQTT link (`[iot]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IotConfig {
    /// An external broker, `mqtt://[USER:PASS@]HOST:PORT`; unset: the embedded one.
    pub mqtt_url: Option<Secret>,
    /// Where the embedded broker listens when no `mqtt_url` is given; `off`: no device link.
    pub embedded_broker: String,
    /// The first level of every topic (`{prefix}/d/{device}/...`).
    pub topic_prefix: String,
    /// The server's MQTT client id (a persistent session); unset: `utilhall-<instance>`.
    pub client_id: Option<String>,
    /// A device reports at least this often (seconds); silent for two intervals it is offline.
    pub heartbeat_secs: u64,
    /// How long a device has to acknowledge a command (seconds).
    pub command_timeout_secs: u64,
    /// How long a timed rental may stay expired before a removal ticket opens (days).
    pub rent_grace_days: u64,
    /// The period of a metered rental's minimum charge (days).
    pub min_period_days: u64,
    /// How many simulated purifiers `--demo` connects.
    pub demo_devices: u32,
}

impl Default for IotConfig {
    fn default() -> Self {
        IotConfig {
            mqtt_url: None,
            embedded_broker: "127.0.0.1:1884".into(),
            topic_prefix: "uh".into(),
            client_id: None,
            heartbeat_secs: 60,
            command_timeout_secs: 30,
            rent_grace_days: 7,
            min_period_days: 30,
            demo_devices: 3,
        }
    }
}

/// Redis, for what several instances share.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]`; unset: no Redis.
    pub url: Option<Secret>,
    /// What every key this server writes starts with (instances of one system share it).
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            key_prefix: "utilhall".into(),
        }
    }
}

/// WeChat Pay API v3; active when `mchid` is set (then every other key is required).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatPaySection {
    pub base_url: String,
    #[serde(deserialize_with = "optional_text")]
    pub mchid: Option<String>,
    #[serde(deserialize_with = "optional_text")]
    pub appid: Option<String>,
    /// Serial number of the merchant API certificate.
    #[serde(deserialize_with = "optional_text")]
    pub merchant_serial: Option<String>,
    /// PKCS#8 PEM file of the merchant API private key.
    pub merchant_key_file: Option<PathBuf>,
    pub apiv3_key: Option<Secret>,
    /// PEM file of the WeChat Pay public key, and its id (`PUB_KEY_ID_...`).
    pub public_key_file: Option<PathBuf>,
    #[serde(deserialize_with = "optional_text")]
    pub public_key_id: Option<String>,
    /// Where WeChat Pay sends notifications: `https://<host>/heating/api/payment/notify`.
    pub notify_url: Option<String>,
}

impl Default for WechatPaySection {
    fn default() -> Self {
        WechatPaySection {
            base_url: "https://api.mch.weixin.qq.com".into(),
            mchid: None,
            appid: None,
            merchant_serial: None,
            merchant_key_file: None,
            apiv3_key: None,
            public_key_file: None,
            public_key_id: None,
            notify_url: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `RUST_LOG`-style filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

const ENV_PREFIX: &str = "UTILHALL_";

/// Reads an env value as TOML (numbers, booleans) or, failing that, as a plain string.
fn env_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

impl Config {
    /// Defaults, then the file (if any), then `UTILHALL_<SECTION>__<KEY>` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("bad config file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let section = section.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = entry else {
                anyhow::bail!("{name}: [{section}] is not a section");
            };
            section_table.insert(key, env_value(&raw));
        }
        toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| anyhow::anyhow!("bad configuration: {}", e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[server]\nbind = \"0.0.0.0:1\"\n[heating]\nrate_limit_requests = 7\n",
        )
        .expect("write");
        let env = vec![
            (
                "UTILHALL_HEATING__RATE_LIMIT_REQUESTS".to_string(),
                "0".to_string(),
            ),
            (
                "UTILHALL_AUTH__JWT_SECRET".to_string(),
                "12345678901234567890".to_string(),
            ),
            (
                "UTILHALL_SURFACE_BIND__METER".to_string(),
                "127.0.0.1:9003".to_string(),
            ),
            (
                "UTILHALL_WECHAT_PAY__MCHID".to_string(),
                "1900000109".to_string(),
            ),
            (
                "UTILHALL_WECHAT_PAY__MERCHANT_SERIAL".to_string(),
                "5157".to_string(),
            ),
            (
                "UTILHALL_REDIS__URL".to_string(),
                "redis://:hunter2@127.0.0.1:6379".to_string(),
            ),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let c = Config::load(Some(&path), env).expect("config");
        assert_eq!(c.server.bind, "0.0.0.0:1");
        assert_eq!(c.heating.rate_limit_requests, 0);
        assert_eq!(
            c.auth.jwt_secret,
            Some(Secret("12345678901234567890".into()))
        );
        assert_eq!(
            c.surface_bind.get("meter").map(String::as_str),
            Some("127.0.0.1:9003")
        );
        assert!(!format!("{c:?}").contains("12345678901234567890"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            c.redis.url.map(|u| u.0).as_deref(),
            Some("redis://:hunter2@127.0.0.1:6379")
        );
        assert_eq!(c.limits.store, "auto");
        assert_eq!(c.wechat_pay.mchid.as_deref(), Some("1900000109"));
        assert_eq!(c.wechat_pay.merchant_serial.as_deref(), Some("5157"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let env = vec![("UTILHALL_SERVER__BINDD".to_string(), "x".to_string())];
        let err = Config::load(None, env).expect_err("unknown key");
        assert!(err.to_string().contains("bindd"), "{err}");
    }
}
