//! The OCPP 1.6J central system (issue 18) through the front door: simulated charge points connect
//! to `/ocpp/{chargeBoxId}` and drive the station's piles while drivers and the operator use
//! their own surfaces, on the simulated clock, against the contract in the notes.

#[path = "../common/mod.rs"]
mod common;

mod cards;
mod chargepoint;
mod faults;
mod frames;
mod link;
mod operator;
mod restart;
mod sessions;
mod stops;

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use utilhall::config::Config;

use chargepoint::{Behaviour, ChargePoint};
use common::{Reply, TestApp};

/// Every box's password in these tests (OCPP's AuthorizationKey is 16-40 characters).
pub const PASSWORD: &str = "correct-horse-battery";

/// Settings every test starts from: short call timeouts so an unanswered call fails fast, and a
/// heartbeat interval long enough (10 minutes, 30 before a silent box is a fault) that tests may
/// move the clock in steps of minutes between the box's messages.
pub fn ocpp_settings(c: &mut Config) {
    c.ocpp.heartbeat_secs = 600;
    c.ocpp.offline_heartbeats = 3;
    c.ocpp.call_timeout_secs = 2;
}

/// The app with [`ocpp_settings`] and then `tweak`.
pub async fn spawn(tweak: impl FnOnce(&mut Config)) -> TestApp {
    common::spawn_with(|c| {
        ocpp_settings(c);
        tweak(c);
    })
    .await
}

pub async fn admin(app: &TestApp) -> String {
    app.admin_token().await
}

/// `PUT /admin/v1/charging/config` that must succeed.
pub async fn station(app: &TestApp, op: &str, body: Value) {
    let r = app
        .put_auth("/admin/v1/charging/config", op, body.clone())
        .await;
    assert_eq!(r.status, 200, "config {body}: {:?}", r.body);
}

/// `PUT /admin/v1/charging/boxes/{id}`.
pub async fn put_box(app: &TestApp, op: &str, id: &str, body: Value) -> Reply {
    app.put_auth(&format!("/admin/v1/charging/boxes/{id}"), op, body)
        .await
}

/// Registers box `id` with [`PASSWORD`] driving `pile`.
pub async fn bind_box(app: &TestApp, op: &str, id: &str, pile: &str) {
    let r = put_box(app, op, id, json!({"password": PASSWORD, "pile": pile})).await;
    assert_eq!(r.status, 200, "bind {id} to {pile}: {:?}", r.body);
    assert_eq!(r.body["box"]["id"], id, "{:?}", r.body);
    assert_eq!(r.body["box"]["pile"], pile, "{:?}", r.body);
}

/// The operator's view of box `id`.
pub async fn box_view(app: &TestApp, op: &str, id: &str) -> Value {
    let r = app.get("/admin/v1/charging/boxes", Some(op)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["boxes"]
        .as_array()
        .expect("boxes")
        .iter()
        .find(|b| b["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no box {id} in {:?}", r.body))
}

/// The operator's view of pile `id`.
pub async fn pile(app: &TestApp, op: &str, id: &str) -> Value {
    let r = app.get("/admin/v1/charging/piles", Some(op)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["piles"]
        .as_array()
        .expect("piles")
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no pile {id} in {:?}", r.body))
}

/// The users of the cars at pile `id`, in queue order.
pub fn users(pile: &Value) -> Vec<String> {
    pile["cars"]
        .as_array()
        .map(|cars| {
            cars.iter()
                .map(|c| c["user"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it gives `Some` (within the charge point's wait), for what the server does
/// on its own time (a ticker, the answer to a call it made).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + chargepoint::WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A box bound to `pile`, connected, booted (Accepted) and asked its feature profiles, with the
/// server having taken in the answer (the boxes view shows it `accepted` and its
/// `smart_charging`).
pub async fn online_box(
    app: &TestApp,
    op: &str,
    id: &str,
    pile_id: &str,
    behaviour: Behaviour,
) -> ChargePoint {
    bind_box(app, op, id, pile_id).await;
    let smart = behaviour.feature_profiles.contains("SmartCharging");
    let mut cp =
        ChargePoint::connect_with(app.addr, id, Some(PASSWORD), Some("ocpp1.6"), behaviour)
            .await
            .unwrap_or_else(|e| panic!("{id} connects: {e:?}"));
    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Accepted", "{id} boot: {boot}");
    let asked = cp.expect_call("GetConfiguration").await;
    assert!(
        asked.payload["key"]
            .as_array()
            .is_some_and(|k| k.contains(&json!("SupportedFeatureProfiles"))),
        "{:?}",
        asked
    );
    eventually("the server takes in the feature profiles", || async {
        let b = box_view(app, op, id).await;
        (b["connected"] == true && b["accepted"] == true && b["smart_charging"] == smart)
            .then_some(())
    })
    .await;
    cp
}

/// A new captcha's id and answer (from the dev outbox).
async fn captcha(app: &TestApp) -> (String, String) {
    let r = app.get("/charging/captcha", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["captchaId"].as_str().expect("captcha id").to_owned();
    let answer = app.last_code(&id, "captcha");
    (id, answer)
}

/// Registers a driver as the app does (with a captcha); the token.
pub async fn driver(app: &TestApp, name: &str) -> String {
    let (id, answer) = captcha(app).await;
    let r = app
        .post_query(
            "/charging/register",
            &[
                ("username", name),
                ("password", "123456"),
                ("code", &answer),
                ("captchaId", &id),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "register {name}: {:?}", r.body);
    r.body["token"].as_str().expect("token").to_owned()
}

/// `POST /charging/user/charge/apply` that must be taken.
pub async fn apply(app: &TestApp, token: &str, mode: &str, kwh: f64) -> Value {
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": token, "mode": mode, "quantity": kwh}),
        )
        .await;
    assert_eq!(r.status, 200, "apply {mode} {kwh}: {:?}", r.body);
    r.body
}

/// Moves the simulated clock by `seconds`; the server's time after the move (ISO, UTC).
pub async fn tick(app: &TestApp, seconds: i64) -> String {
    let r = app
        .post("/admin/v1/clock", json!({"advance_seconds": seconds}))
        .await;
    assert_eq!(r.status, 200, "advance clock: {:?}", r.body);
    r.body["now"].as_str().expect("now").to_owned()
}

/// Moves the simulated clock to `at` (RFC 3339); the server's time after the move.
pub async fn clock_to(app: &TestApp, at: &str) -> String {
    let r = app.post("/admin/v1/clock", json!({"to": at})).await;
    assert_eq!(r.status, 200, "clock to {at}: {:?}", r.body);
    r.body["now"].as_str().expect("now").to_owned()
}

/// The server's time now.
pub async fn now(app: &TestApp) -> String {
    tick(app, 0).await
}

/// All detail records, as the operator sees them (newest first or not: tests look them up).
pub async fn records(app: &TestApp, op: &str) -> Vec<Value> {
    let r = app
        .get("/admin/v1/charging/records?limit=1000", Some(op))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["records"].as_array().expect("records").clone()
}

/// A driver's detail records as the charging document gives them, and the raw text (the
/// document writes fees with two decimals, which only the text shows).
pub async fn user_log(app: &TestApp, token: &str) -> (Vec<Value>, String) {
    let resp = app
        .client
        .get(format!("{}/charging/user/log", app.base))
        .query(&[("token", token)])
        .send()
        .await
        .expect("log");
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.expect("text");
    let v: Value = serde_json::from_str(&text).expect("JSON log");
    (v.as_array().expect("a list").clone(), text)
}

/// `GET /charging/user/charge/info` for a driver.
pub async fn info(app: &TestApp, token: &str) -> Value {
    let r = app.get("/charging/user/charge/info", Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The value of a metric line that starts with `prefix` (e.g. `name ` or `name{label="x"} `), or
/// 0 when absent (Prometheus omits a counter nothing has touched only if it wants to).
pub async fn metric(app: &TestApp, prefix: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The whole metrics text.
pub async fn metrics_text(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// A fen amount as the admin API writes yuan (`"6.10"`), parsed back to fen.
pub fn fen(yuan: &Value) -> i64 {
    let s = match yuan {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let f: f64 = s
        .parse()
        .unwrap_or_else(|_| panic!("not an amount: {yuan}"));
    (f * 100.0).round() as i64
}

/// Fees in fen the way the contract prices metered energy: each part's energy in Wh times the
/// price in fen per kWh, summed in thousandths of a fen and rounded half up once.
pub fn fee_fen(parts_wh_price: &[(i64, i64)]) -> i64 {
    let milli: i64 = parts_wh_price.iter().map(|(wh, price)| wh * price).sum();
    (milli + 500).div_euclid(1000)
}
