//! The purifiers' device link (issue 17) through the front door: devices written with rumqttc
//! talk to the server through the real Mosquitto at 127.0.0.1:1883, signing and checking every
//! frame as `/work/notes/iot-spec.md` says, while the platform, vendors and members watch and
//! steer them on the `/iot` surface and the outcome is read back there and in `/metrics`.
//!
//! Every test runs its own server under a topic prefix and MQTT client id of its own, so tests
//! share the one broker without seeing each other; each clears what it left on the broker (its
//! retained messages, the server's persistent session) when it ends.

#[path = "../common/mod.rs"]
mod common;

mod broker;
mod commands;
mod device;
mod dispense;
mod faults;
mod filters;
mod presence;
mod rentals;
mod reports;
mod restart;
mod secrets;
mod security;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use utilhall::config::{Config, Secret};

use common::TestApp;
pub use common::iot::{R, call, get, login, md5, post, put};

/// The broker every test talks to.
pub const BROKER_HOST: &str = "127.0.0.1";
pub const BROKER_PORT: u16 = 1883;

/// The demo vendor (东臣科技) and its demo members' password.
pub const VID: &str = "DOCH000000000001";
pub const MEMBER_PASSWORD: &str = "member123";

/// How long a test waits for what the server does on its own time (a message taken in, a
/// command sent, a watch that fires).
pub const WAIT: Duration = Duration::from_secs(12);

/// The device link's settings of every test: the broker on `port` (the real one at
/// [`BROKER_PORT`] but for the tests of a broker of their own), the test's own prefix and
/// client id, a 2 s heartbeat (offline after 4 s of silence) and a 3 s command timeout.
pub fn link_settings(c: &mut Config, prefix: &str, client_id: &str, port: u16) {
    c.server.demo = true;
    c.iot.mqtt_url = Some(Secret(format!("mqtt://{BROKER_HOST}:{port}")));
    c.iot.topic_prefix = prefix.to_owned();
    c.iot.client_id = Some(client_id.to_owned());
    c.iot.heartbeat_secs = 2;
    c.iot.command_timeout_secs = 3;
    // No simulated purifiers of the demo on our topics.
    c.iot.demo_devices = 0;
}

/// A server with the device link on, the demo's parties logged in.
pub struct Link {
    pub app: TestApp,
    /// The test's topic prefix.
    pub prefix: String,
    /// The server's MQTT client id.
    pub client_id: String,
    pub platform: String,
    /// The demo vendor, 东臣科技.
    pub vendor: String,
    /// The demo members 1..4 and their ids.
    pub members: Vec<String>,
    pub member_ids: Vec<String>,
    /// The demo's AC-02 product.
    pub product: String,
    /// The port of the broker the test's devices connect to ([`BROKER_PORT`] but for the
    /// tests of a broker of their own).
    pub broker_port: u16,
    /// Every device registered through [`Link::register`] (their retained topics are cleared
    /// at the end).
    pub dids: Arc<Mutex<Vec<String>>>,
    /// Clears them when a test fails before [`Link::stop`].
    _guard: Leftovers,
}

/// What a failing test leaves on the broker, cleared as it unwinds: its devices' retained
/// topics (the server's session stays; nothing publishes under its prefix again).
struct Leftovers {
    prefix: String,
    port: u16,
    dids: Arc<Mutex<Vec<String>>>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        // A broker of the test's own goes with it.
        if !std::thread::panicking() || self.port != BROKER_PORT {
            return;
        }
        let prefix = self.prefix.clone();
        let dids = self.dids.lock().map(|d| d.clone()).unwrap_or_default();
        // Dropped on a runtime's thread: clear from a thread of our own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let cleaner = format!("{prefix}-cleaner");
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        device::clear_broker(&prefix, &cleaner, BROKER_PORT, &dids),
                    )
                    .await;
                });
            }
        })
        .join();
    }
}

/// A fresh prefix and server client id.
pub fn fresh_names() -> (String, String) {
    let prefix = format!("t{}", &utilhall::domain::ids::random_hex_id()[..12]);
    let client_id = format!("{prefix}-server");
    (prefix, client_id)
}

/// The server on a fresh database, linked to the broker.
pub async fn spawn() -> Link {
    spawn_tweaked(|_| {}).await
}

/// [`spawn`], its configuration tweaked (after the link's settings) by `tweak`.
pub async fn spawn_tweaked(tweak: impl FnOnce(&mut Config) + Send + 'static) -> Link {
    let (prefix, client_id) = fresh_names();
    broker_is_up(BROKER_PORT).await;
    spawn_custom(&prefix, &client_id, BROKER_PORT, tweak).await
}

/// The server under `prefix` and `client_id`, on the database at `url` (a fresh one if none).
pub async fn spawn_named(prefix: &str, client_id: &str, url: Option<String>) -> Link {
    broker_is_up(BROKER_PORT).await;
    spawn_custom(prefix, client_id, BROKER_PORT, move |c| {
        if let Some(url) = url {
            c.server.database_url = Secret(url);
        }
    })
    .await
}

/// The server under `prefix` and `client_id`, linked to the broker on `port` (the broker is
/// the caller's to have started), its configuration tweaked (after the link's settings) by
/// `tweak`; the demo's parties logged in.
pub async fn spawn_custom(
    prefix: &str,
    client_id: &str,
    port: u16,
    tweak: impl FnOnce(&mut Config) + Send + 'static,
) -> Link {
    let (p, id) = (prefix.to_owned(), client_id.to_owned());
    let app = common::spawn_with(move |c| {
        link_settings(c, &p, &id, port);
        tweak(c);
    })
    .await;
    let Tokens {
        platform,
        vendor,
        members,
        member_ids,
    } = tokens(&app).await;
    let product = get(&app, "/products", &vendor)
        .await
        .expect(200)
        .data()
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["name"] == "智能净水机")
        .expect("the demo's AC-02 product")["prod_id"]
        .as_str()
        .expect("prod_id")
        .to_owned();
    let dids = Arc::new(Mutex::new(Vec::new()));
    Link {
        app,
        prefix: prefix.to_owned(),
        client_id: client_id.to_owned(),
        platform,
        vendor,
        members,
        member_ids,
        product,
        broker_port: port,
        dids: dids.clone(),
        _guard: Leftovers {
            prefix: prefix.to_owned(),
            port,
            dids,
        },
    }
}

/// The demo's parties, logged in.
struct Tokens {
    platform: String,
    vendor: String,
    members: Vec<String>,
    member_ids: Vec<String>,
}

async fn tokens(app: &TestApp) -> Tokens {
    let platform = login(app, "platform", "platform123").await;
    let vendor = login(app, "dochen", "dochen123").await;
    let mut members = Vec::new();
    let mut member_ids = Vec::new();
    for n in 1..=4 {
        let t = member_login(app, &format!("1380000000{n}")).await;
        let me = get(app, "/auth/me", &t).await.expect(200);
        member_ids.push(me.data()["uid"].as_str().expect("uid").to_owned());
        members.push(t);
    }
    Tokens {
        platform,
        vendor,
        members,
        member_ids,
    }
}

/// Fails at once, with the way out, when nothing listens on the broker's port.
async fn broker_is_up(port: u16) {
    let up = tokio::net::TcpStream::connect((BROKER_HOST, port))
        .await
        .is_ok();
    assert!(
        up,
        "no MQTT broker on {BROKER_HOST}:{port}: start it with \
         `mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
    );
}

impl Link {
    /// Logs the demo's parties in again: their tokens last a week of the server's clock, which
    /// a test of rentals moves by months.
    pub async fn log_in_again(&mut self) {
        let t = tokens(&self.app).await;
        self.platform = t.platform;
        self.vendor = t.vendor;
        self.members = t.members;
        self.member_ids = t.member_ids;
    }

    /// The topics of this test.
    pub fn topics(&self) -> utilhall::domain::iot::protocol::Topics {
        utilhall::domain::iot::protocol::Topics::new(&self.prefix)
    }

    /// AB-02 by the platform: `dids` of type `dtype` for `vid`, of `product` (none: no
    /// product); each device's secret, from the answer.
    pub async fn register(
        &self,
        dids: &[&str],
        dtype: i64,
        product: Option<&str>,
        vid: &str,
    ) -> Vec<String> {
        let mut body = json!({"device_ids": dids, "type": dtype, "vendor_id": vid,
            "model": "000000", "hw_version": "1.0", "sw_version": "1.0"});
        if let Some(p) = product {
            body["product_id"] = json!(p);
        }
        let r = post(&self.app, "/devices", &self.platform, body)
            .await
            .expect(201);
        let answered = r.data()["devices"]
            .as_array()
            .unwrap_or_else(|| panic!("AB-02 answers data.devices: {}", r.body));
        assert_eq!(answered.len(), dids.len(), "{}", r.body);
        let mut secrets = Vec::new();
        for (did, d) in dids.iter().zip(answered) {
            assert_eq!(d["device_id"], *did, "{}", r.body);
            let secret = d["secret"].as_str().expect("secret").to_owned();
            assert_secret_form(&secret);
            secrets.push(secret);
        }
        self.dids
            .lock()
            .expect("dids")
            .extend(dids.iter().map(|d| (*d).to_owned()));
        secrets
    }

    /// One device of the demo vendor, of type 1 and the demo product; its secret.
    pub async fn register_one(&self, did: &str) -> String {
        let product = self.product.clone();
        self.register(&[did], 1, Some(&product), VID)
            .await
            .remove(0)
    }

    /// AB-09 as the platform sees it: `{state, statistics}`.
    pub async fn stat(&self, did: &str) -> Value {
        get(&self.app, &format!("/devices/{did}/stat"), &self.platform)
            .await
            .expect(200)
            .data()
            .clone()
    }

    /// Waits until AB-09 satisfies `check`; the last view.
    pub async fn stat_until(&self, did: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || async {
            let s = self.stat(did).await;
            check(&s).then_some(s)
        })
        .await
    }

    /// A member binds `did` (AB-07).
    pub async fn bind(&self, member: usize, did: &str) {
        post(
            &self.app,
            &format!("/devices/{did}/bind"),
            &self.members[member],
            json!({}),
        )
        .await
        .expect(201);
    }

    /// A second vendor, `AQUA`, with a device of its own (`AQUA0000LINK`, not connected); the
    /// vendor's token.
    pub async fn other_vendor(&self) -> String {
        post(
            &self.app,
            "/vendors",
            &self.platform,
            json!({"user": "aqua", "pwd": md5("aqua1234"), "name": "Aqua", "code": "AQUA"}),
        )
        .await
        .expect(201);
        self.register(&["AQUA0000LINK"], 1, None, "AQUA000000000001")
            .await;
        login(&self.app, "aqua", "aqua1234").await
    }

    /// Tickets of `ttype` about `did`, as the vendor lists them.
    pub async fn tickets(&self, did: &str, ttype: i64) -> Vec<Value> {
        get(
            &self.app,
            &format!("/tickets?device_id={did}&type={ttype}&limit=100"),
            &self.vendor,
        )
        .await
        .expect(200)
        .data()
        .as_array()
        .expect("tickets")
        .clone()
    }

    /// Stops the server and clears what the test left on the broker.
    pub async fn stop(self) {
        self.app.stop().await;
        let dids = self.dids.lock().expect("dids").clone();
        device::clear_broker(&self.prefix, &self.client_id, self.broker_port, &dids).await;
    }
}

/// A device secret: 32 lowercase hex digits.
pub fn assert_secret_form(secret: &str) {
    assert!(
        secret.len() == 32
            && secret
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "a secret is 32 lowercase hex digits: {secret:?}"
    );
}

/// A demo member's token, by mobile.
pub async fn member_login(app: &TestApp, mobile: &str) -> String {
    let r = call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"vid": VID, "mobile": mobile, "pwd": md5(MEMBER_PASSWORD)})),
    )
    .await
    .expect(201);
    r.data()["token"].as_str().expect("token").to_owned()
}

/// Polls `check` until it gives `Some` (within [`WAIT`]).
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(WAIT, what, check).await
}

/// Polls `check` until it gives `Some`, for at most `limit`.
pub async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out ({limit:?}) waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole `/metrics` text.
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

/// The value of the metric line that starts with `prefix` (`name{label="x"} `), 0 when absent.
pub async fn metric(app: &TestApp, prefix: &str) -> f64 {
    metrics_text(app)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `utilhall_iot_dropped_total{reason="..."}`.
pub async fn dropped(app: &TestApp, reason: &str) -> f64 {
    metric(
        app,
        &format!("utilhall_iot_dropped_total{{reason=\"{reason}\"}} "),
    )
    .await
}

/// `utilhall_iot_messages_total{type="..."}`.
pub async fn accepted(app: &TestApp, kind: &str) -> f64 {
    metric(
        app,
        &format!("utilhall_iot_messages_total{{type=\"{kind}\"}} "),
    )
    .await
}

/// Waits until `utilhall_iot_messages_total{type=kind}` reaches `n`, then checks it is exactly `n`.
/// The counter moves just after the commit that the API already shows, so it is polled.
pub async fn assert_accepted(app: &TestApp, kind: &str, n: f64) {
    let seen = eventually(&format!("{n} {kind} messages counted"), || async {
        let seen = accepted(app, kind).await;
        (seen >= n).then_some(seen)
    })
    .await;
    assert_eq!(seen, n, "{kind} messages counted");
}

/// Every dropped frame, whatever the reason.
pub async fn dropped_all(app: &TestApp) -> f64 {
    let mut n = 0.0;
    for reason in [
        "unknown_device",
        "bad_signature",
        "replay",
        "malformed",
        "absurd",
    ] {
        n += dropped(app, reason).await;
    }
    n
}

/// Moves the simulated clock by `seconds`; the server's time after the move (ISO, UTC).
pub async fn tick(app: &TestApp, seconds: i64) -> String {
    let r = app
        .post("/admin/v1/clock", json!({"advance_seconds": seconds}))
        .await;
    assert_eq!(r.status, 200, "advance clock: {:?}", r.body);
    r.body["now"].as_str().expect("now").to_owned()
}

/// The server's time now, in epoch seconds.
pub async fn now_secs(app: &TestApp) -> i64 {
    epoch(&tick(app, 0).await)
}

/// Epoch seconds of an RFC 3339 time.
pub fn epoch(iso: &str) -> i64 {
    time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| panic!("not RFC 3339: {iso}"))
        .unix_timestamp()
}

/// A non-empty time field (`online_tms` and the like).
pub fn is_set(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Number(_) => true,
        _ => false,
    }
}

/// Pays order `oid` through the simulated gateway (`--dev`).
pub async fn pay(app: &TestApp, oid: &str) {
    let paid = app
        .client
        .post(format!(
            "{}/admin/v1/iot/orders/{oid}/simulate-payment",
            app.base
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(paid.status().as_u16(), 200, "simulated payment of {oid}");
}

/// `member` buys the rent plan `plan` of product `pid` for device `did` (a renewal or a
/// top-up: AD-02 with the line's `rent` and `device_id`), and pays it; the order's id.
pub async fn buy_plan(l: &Link, member: usize, pid: &str, plan: &str, did: &str) -> String {
    let r = post(
        &l.app,
        "/orders",
        &l.members[member],
        json!({
            "content": [{"product_id": pid, "quantity": 1, "rent": plan, "device_id": did}],
            "receiver": {"name": "赵四", "phone": "13800000004", "address": "南方软件园A123"},
            "memo": "续费"
        }),
    )
    .await
    .expect(201);
    let oid = r.data()["order_id"].as_str().expect("order_id").to_owned();
    pay(&l.app, &oid).await;
    oid
}

/// An amount of money the `/iot` surface answers (yuan, a number with at most two decimals),
/// in fen.
pub fn fen(v: &Value) -> i64 {
    let yuan = v
        .as_f64()
        .unwrap_or_else(|| panic!("an amount of money: {v}"));
    let fen = (yuan * 100.0).round();
    assert!(
        (yuan * 100.0 - fen).abs() < 1e-6,
        "money has at most two decimals: {v}"
    );
    fen as i64
}

/// Moves a ticket to done the way the vendor's staff would: approved, dispatched, worked on,
/// done.
pub async fn finish_ticket(l: &Link, tid: &str) {
    let app = &l.app;
    put(
        app,
        &format!("/tickets/{tid}/approval"),
        &l.vendor,
        json!({"check_result": true}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/tickets/{tid}/dispatch"),
        &l.vendor,
        json!({"installer_id": "W1"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/tickets/{tid}/status"),
        &l.vendor,
        json!({"status": 4}),
    )
    .await
    .expect(201);
    let done = put(
        app,
        &format!("/tickets/{tid}/status"),
        &l.vendor,
        json!({"status": 6, "reply": "已更换"}),
    )
    .await
    .expect(201);
    assert_eq!(done.data()["status"], 6, "{}", done.body);
}
