//! Several instances, one system (issue 20): three `utilhall serve` processes on one PostgreSQL
//! database behave as one. Money moves once however the same request is spread over them, a
//! driver's stream on one hears at once what happened on another, the background jobs run on
//! one of them and move when it dies, and one killed under load loses nothing it acknowledged.
//!
//! Only PostgreSQL is shared between processes on several machines: without
//! `TEST_DATABASE_URL` each test says so and passes.

#[path = "../common/mod.rs"]
mod common;
mod money;
mod ocpp;
mod streams;
mod withdrawals;
mod work;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use common::child::{ChildServer, demo_dev_args};

/// Instances on one database, each in a folder of its own (its log, its outbox).
pub struct Cluster {
    pub dir: TempDir,
    pub url: String,
    pub servers: Vec<ChildServer>,
    pub client: reqwest::Client,
}

/// The PostgreSQL database to share, or `None` (the test is skipped) without one.
pub fn shared_database() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: instances share a PostgreSQL database (set TEST_DATABASE_URL)");
            None
        }
    }
}

impl Cluster {
    /// `n` instances with the demo and development mode on a fresh schema, with `env` besides
    /// (limits that would get in the way off). The first migrates and loads the demo alone.
    pub async fn start(n: usize, env: &[(&str, String)]) -> Option<Cluster> {
        shared_database()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = common::test_database_url(&dir).await;
        let mut all_env = vec![
            ("UTILHALL_METER__RATE_LIMIT_WINDOW_SECONDS", "0".to_owned()),
            ("UTILHALL_HEATING__RATE_LIMIT_REQUESTS", "0".to_owned()),
        ];
        all_env.extend(env.iter().cloned());
        let mut servers = Vec::new();
        for i in 0..n {
            servers.push(Self::instance(dir.path(), &url, i, &all_env).await);
        }
        Some(Cluster {
            dir,
            url,
            servers,
            client: reqwest::Client::new(),
        })
    }

    async fn instance(root: &Path, url: &str, i: usize, env: &[(&str, String)]) -> ChildServer {
        let dir = root.join(format!("instance{i}"));
        std::fs::create_dir_all(&dir).expect("instance folder");
        ChildServer::start(&dir, url, &demo_dev_args(&dir), env).await
    }

    /// A JSON request to instance `i`: status and body (`Null` when not JSON).
    pub async fn send(
        &self,
        i: usize,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.servers[i].base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            panic!(
                "{path} on instance {i}: {e}\n{}",
                self.servers[i].log_tail()
            )
        });
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(
        &self,
        i: usize,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        self.send(i, reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// An operator token (the demo's `admin`), from instance `i`.
    pub async fn admin(&self, i: usize) -> String {
        let (status, body) = self
            .post(
                i,
                "/admin/v1/login",
                None,
                json!({"username": "admin", "password": "admin123456"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Instance `i`'s `/metrics`.
    pub async fn metrics(&self, i: usize) -> Option<String> {
        let resp = self
            .client
            .get(format!("{}/metrics", self.servers[i].base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        resp.text().await.ok()
    }

    /// The logs of every instance, for failure messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| format!("--- instance {i}\n{}", s.log_tail()))
            .collect()
    }
}

/// The value of a metric line `name` (with its labels, if any) in a `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until `check` holds (every 50 ms), at most `within`; whether it did.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
