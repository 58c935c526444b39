//! The IoT surface's client, for the suites that drive `/iot` (`tests/iot`, `tests/iot_link`):
//! every reply is checked for secrets and read with its envelope.

use md5::Digest;
use serde_json::{Value, json};

use super::TestApp;

/// The document's password form: MD5 hex.
pub fn md5(s: &str) -> String {
    md5::Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reply: status and body (`Null` for 204).
#[derive(Debug)]
pub struct R {
    pub status: u16,
    pub body: Value,
}

impl R {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Asserts the status, and that an error is in the envelope.
    pub fn expect(self, status: u16) -> R {
        assert_eq!(self.status, status, "{}", self.body);
        if status == 204 {
            assert!(self.body.is_null());
        } else {
            assert_eq!(self.body["status"], json!(status < 300), "{}", self.body);
            assert_eq!(self.body["code"], json!(status.to_string()));
            assert!(self.body.get("total").is_some() && self.body.get("message").is_some());
        }
        self
    }
}

/// Every secret the demo and the tests store: none may ever appear in a reply.
pub const SECRETS: [&str; 5] = [
    "demo-mp-secret",
    "demo-mch-secret",
    "test-mp-secret",
    "test-mch-secret",
    "pwd_hash",
];

pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> R {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app
        .client
        .request(method, format!("{}/iot{path}", app.base))
        // A dispense waits for its device up to its command timeout and 10 s.
        .timeout(std::time::Duration::from_secs(60));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    for secret in SECRETS {
        assert!(!text.contains(secret), "a reply carries a secret: {text}");
    }
    assert!(
        !text.contains(&md5("dochen123")) && !text.contains("$argon2"),
        "a reply carries a password: {text}"
    );
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    R { status, body }
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> R {
    call(app, "GET", path, Some(token), None).await
}
pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> R {
    call(app, "POST", path, Some(token), Some(body)).await
}
pub async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> R {
    call(app, "PUT", path, Some(token), Some(body)).await
}
pub async fn delete(app: &TestApp, path: &str, token: &str) -> R {
    call(app, "DELETE", path, Some(token), None).await
}

/// Logs in with a user name and password (sent as MD5 hex).
pub async fn login(app: &TestApp, user: &str, pwd: &str) -> String {
    let r = call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": user, "pwd": md5(pwd)})),
    )
    .await
    .expect(201);
    r.data()["token"].as_str().expect("token").to_owned()
}
