//! Test harness: the real app on port 0 with a fresh database (SQLite, or a PostgreSQL schema of
//! its own when `TEST_DATABASE_URL` is set), a simulated clock, and the dev outbox.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod browser;
pub mod child;
pub mod console;
pub mod iot;
pub mod wechat;

use serde_json::{Value, json};
use tempfile::TempDir;
use utilhall::app::App;
use utilhall::config::{Config, Secret};

/// The instant the simulated clock starts at.
pub const START: &str = "2026-01-05T02:00:00Z";

/// Journal entries the demo data makes: 3 imported heating payments, 2 meter opening balances,
/// 3 meter readings, the meter document's 2 recharges and the IoT demo's 2 paid orders.
#[allow(dead_code)]
pub const DEMO_ENTRIES: usize = 12;

pub struct TestApp {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub outbox: PathBuf,
    pub dir: TempDir,
    pub state: utilhall::surfaces::AppState,
    pub extra: Vec<(String, std::net::SocketAddr)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A database URL for one test: a temp SQLite file, or a fresh schema on `TEST_DATABASE_URL`.
pub async fn test_database_url(dir: &TempDir) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            use sqlx::Connection;
            let schema = format!("t_{}", utilhall::domain::ids::random_hex_id());
            let mut conn = sqlx::postgres::PgConnection::connect(&url)
                .await
                .expect("TEST_DATABASE_URL must be reachable");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .expect("create schema");
            conn.close().await.ok();
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
        _ => format!("sqlite://{}", dir.path().join("test.db").display()),
    }
}

/// The configuration every test starts from: dev mode, simulated clock, fast hashing, no IP limit.
pub async fn base_config(dir: &TempDir) -> Config {
    config_on(dir, test_database_url(dir).await)
}

/// The same on a given database (instances sharing one).
pub fn config_on(dir: &TempDir, database_url: String) -> Config {
    let mut c = Config::default();
    c.server.bind = "127.0.0.1:0".into();
    c.server.database_url = Secret(database_url);
    c.server.max_connections = 4;
    c.server.shutdown_grace_seconds = 2;
    c.dev.enabled = true;
    c.dev.outbox = dir.path().join("outbox.jsonl");
    c.dev.sim_clock = Some(START.into());
    c.auth.argon2_memory_kib = 8192;
    c.auth.argon2_iterations = 1;
    c.heating.rate_limit_requests = 0;
    c.meter.rate_limit_window_seconds = 0.0;
    c.retail.upload_dir = dir.path().join("uploads");
    c.retail.captchas_per_minute = 0;
    // No device link unless a test asks for one (the embedded broker's port is shared).
    c.iot.embedded_broker = "off".into();
    c
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = base_config(&dir).await;
    tweak(&mut config);
    start(config, dir).await
}

pub async fn start(config: Config, dir: TempDir) -> TestApp {
    let outbox = config.dev.outbox.clone();
    let names: Vec<String> = config.surface_bind.keys().cloned().collect();
    let app = App::build(config).await.expect("app builds");
    let addr = app.addr();
    let extra = names
        .into_iter()
        .filter_map(|n| app.surface_addr(&n).map(|a| (n, a)))
        .collect();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::new(),
        outbox,
        dir,
        state,
        extra,
        stop: Some(stop),
        task: Some(task),
    }
}

/// A reply: HTTP status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The heating envelope's `code`.
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

impl TestApp {
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, None, Some(body))
            .await
    }

    /// `POST path?query` with no body, as the charging document writes its calls.
    pub async fn post_query(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("a JSON body");
        Reply { status, body }
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn put_auth(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Every line of the dev outbox.
    pub fn outbox_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.outbox)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("outbox line is JSON"))
            .collect()
    }

    /// The last code delivered to `to` for `purpose`.
    pub fn last_code(&self, to: &str, purpose: &str) -> String {
        self.outbox_lines()
            .iter()
            .rev()
            .find(|l| l["to"] == to && l["purpose"] == purpose)
            .and_then(|l| l["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no {purpose} code for {to} in the outbox"))
    }

    /// `POST /heating/api/sms/send`
    pub async fn send_sms(&self, phone: &str, purpose: &str) -> Reply {
        self.post(
            "/heating/api/sms/send",
            json!({"phone": phone, "type": purpose}),
        )
        .await
    }

    /// `POST /heating/api/sms/verify`
    pub async fn verify_sms(&self, phone: &str, code: &str, purpose: &str) -> Reply {
        self.post(
            "/heating/api/sms/verify",
            json!({"phone": phone, "code": code, "type": purpose}),
        )
        .await
    }

    /// Sends an SMS code and returns it (from the outbox).
    pub async fn sms_code(&self, phone: &str, purpose: &str) -> String {
        let r = self
            .post(
                "/heating/api/sms/send",
                json!({"phone": phone, "type": purpose}),
            )
            .await;
        assert_eq!(r.code(), 200, "send code: {:?}", r.body);
        self.last_code(phone, purpose)
    }

    /// Moves the simulated clock forward.
    pub async fn advance(&self, seconds: i64) {
        let r = self
            .post("/admin/v1/clock", json!({"advance_seconds": seconds}))
            .await;
        assert_eq!(r.status, 200, "advance clock: {:?}", r.body);
    }

    /// Registers a heating user with password `password`.
    pub async fn register(&self, phone: &str, password: &str) -> Reply {
        let code = self.sms_code(phone, "register").await;
        let r = self
            .post(
                "/heating/api/auth/register",
                json!({"phone": phone, "code": code, "password": password}),
            )
            .await;
        assert_eq!(r.code(), 200, "register: {:?}", r.body);
        // The next code for this phone may only be sent a minute later.
        self.advance(61).await;
        r
    }

    /// Logs in by SMS code; returns the `data` of the reply.
    pub async fn login(&self, phone: &str) -> Value {
        let code = self.sms_code(phone, "login").await;
        let r = self
            .post(
                "/heating/api/auth/login",
                json!({"phone": phone, "code": code}),
            )
            .await;
        assert_eq!(r.code(), 200, "login: {:?}", r.body);
        self.advance(61).await;
        r.body["data"].clone()
    }

    /// Registers and logs in; returns the access token.
    pub async fn user_token(&self, phone: &str) -> String {
        self.register(phone, "secret123").await;
        let data = self.login(phone).await;
        data["token"].as_str().expect("token").to_owned()
    }

    /// An operator token for `admin` (created on first use).
    pub async fn admin_token(&self) -> String {
        let _ = self.state.operators.ensure("admin", "admin123456").await;
        let r = self
            .post(
                "/admin/v1/login",
                json!({"username": "admin", "password": "admin123456"}),
            )
            .await;
        assert_eq!(r.status, 200, "admin login: {:?}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("server ran");
        }
    }
}

/// Runs the futures concurrently on this task and collects their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::new();
    // Poll them together on one task.
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for r in results {
        out.extend(r);
    }
    out
}
