//! Load for the OCPP surface (used by `bench/ocpp.sh`): simulated OCPP 1.6J charge points and a
//! closed loop of drivers on one station.
//!
//! `MODE=ocpp` (default): sets the station to `PILES` piles (half fast, half slow), registers one
//! charge box per pile through the operator API (`PUT /admin/v1/charging/boxes/{id}`, bound to
//! the pile), creates `DRIVERS` drivers, prints `SETUP <boxes>` and pauses 3 s (the bench reads
//! the server's memory), connects every box (`ws://…/ocpp/{id}`, subprotocol `ocpp1.6`, HTTP
//! Basic auth), sends its BootNotification, prints `BOXES <accepted>` once all are booted and
//! pauses 3 s again, then starts the drivers. Each box behaves like a real one: it answers
//! `GetConfiguration` (listing SmartCharging unless `SMART=0`), `RemoteStartTransaction`
//! (Accepted, then `StartTransaction` with its meter register), `RemoteStopTransaction`
//! (Accepted, then `StopTransaction`), `ChangeAvailability`, `Reset`, `UnlockConnector`,
//! `TriggerMessage`; sends `Heartbeat` every `HEARTBEAT_SECS` (default: the interval of the
//! BootNotification answer divided by `SIM_SPEED`), `MeterValues` every `METER_SECS` (10) while
//! a transaction runs, and `StatusNotification` Charging / Available around its sessions
//! (`STATUS=0`: none). Its meter runs at the pile's power (or the charging profile's limit) on
//! the server's clock: the `currentTime` of the boot answer advanced at `SIM_SPEED`.
//!
//! `MODE=sim`: the same station and the same drivers, piles simulated, no box.
//!
//! Drivers: each opens the driver stream (`/charging/user/charge?token&mode&quantity`, which
//! applies), reads its events until `finished` / `cancelled` (the server closes the stream),
//! waits up to `THINK_MS` and applies again. Modes alternate; the energy asked for is what the
//! pile delivers in `SESSION_SECS` real seconds at `SIM_SPEED` (x0.5-1.5). `CANCEL_PCT` percent
//! of the sessions are cancelled by the driver while charging (after 0-`SESSION_SECS`/2 s).
//!
//! After `WARMUP_SECS` (20) of driver load, `DURATION_SECS` (60) are measured: the lag of every
//! call a box sends (CALL written -> its CALLRESULT or CALLERROR read), per action; the driver
//! events (the scheduler's events as the drivers see them: queued, called, charging, finished,
//! ...) and the sessions per second. A JSON summary goes to stdout (last line, `SUMMARY {…}`).
//!
//! Env: `BASE` (http://127.0.0.1:18110), `MODE`, `PILES` (1000), `DRIVERS` (PILES*6/5),
//! `SIM_SPEED` (60), `SESSION_SECS` (40), `METER_SECS` (10), `HEARTBEAT_SECS`, `THINK_MS` (2000),
//! `CANCEL_PCT` (10), `WARMUP_SECS`, `DURATION_SECS`, `SMART` (1), `STATUS` (1), `PREFIX`
//! (`drv`), `ADMIN_PASSWORD` (`admin123456`), `CALL_TIMEOUT_SECS` (30), `CONNECT_PARALLEL` (50).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Phases of the run: samples and events are kept apart by the phase they happened in.
const SETUP: usize = 0;
const WARMUP: usize = 1;
const MEASURED: usize = 2;
const AFTER: usize = 3;

/// Stream events that are not the scheduler's.
const NOTICES: [&str; 1] = ["metered"];

/// What every box and driver reports into.
#[derive(Default)]
struct Stats {
    /// Per phase, per action: lags in microseconds.
    lag: [BTreeMap<String, Vec<u32>>; 4],
    /// "action code" -> count, CALLERRORs the server answered our calls with.
    call_errors: BTreeMap<String, u64>,
    /// Calls the server sent the boxes, per action (all phases).
    server_calls: BTreeMap<String, u64>,
    /// Calls of the server a box could not serve (unknown action, or a state it did not expect).
    odd: BTreeMap<String, u64>,
    /// Driver events per kind, per phase.
    events: [BTreeMap<String, u64>; 4],
    /// Other failures by kind.
    errors: BTreeMap<String, u64>,
    /// Sessions that finished in the measured window: seconds from `charging` to `finished`.
    session_secs: Vec<f64>,
}

struct Shared {
    stats: Mutex<Stats>,
    phase: AtomicUsize,
    sim_speed: f64,
    meter_secs: f64,
    heartbeat_secs: Option<f64>,
    call_timeout: Duration,
    smart: bool,
    status: bool,
    connected: AtomicUsize,
    transactions: AtomicUsize,
    stop: AtomicBool,
    msg_in: AtomicU64,
    msg_out: AtomicU64,
}

impl Shared {
    fn phase(&self) -> usize {
        self.phase.load(Ordering::Relaxed)
    }
    fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }
    fn error(&self, kind: &str) {
        self.with(|s| *s.errors.entry(kind.to_owned()).or_default() += 1);
    }
}

async fn send_json(req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

fn iso(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

// --- the charge box ----------------------------------------------------------------------------

struct Transaction {
    /// 0 until the StartTransaction answer came.
    id: i64,
    meter_start_wh: f64,
    /// Server clock (ms) at the start.
    started: i64,
    power_w: f64,
}

struct Box_ {
    id: String,
    shared: Arc<Shared>,
    /// The pile's power (W), from the station configuration.
    pile_power_w: f64,
    /// The server clock: `base_ms` at `base` (from the boot answer), running at `sim_speed`.
    base_ms: i64,
    base: Instant,
    next_id: u64,
    pending: VecDeque<(&'static str, Value)>,
    in_flight: Option<(String, &'static str, Instant)>,
    /// The meter register (Wh) when no transaction runs.
    register_wh: f64,
    tx: Option<Transaction>,
    /// The last transaction stopped: its id, and whether its StopTransaction was answered.
    stopped: Option<(i64, bool)>,
    booted: Option<tokio::sync::oneshot::Sender<Result<bool, String>>>,
    accepted: bool,
    heartbeat_every: Option<Duration>,
}

impl Box_ {
    fn clock(&self) -> i64 {
        let speed = if self.shared.sim_speed > 0.0 {
            self.shared.sim_speed
        } else {
            1.0
        };
        self.base_ms + (self.base.elapsed().as_secs_f64() * 1000.0 * speed) as i64
    }

    fn meter_wh(&self) -> f64 {
        match &self.tx {
            Some(t) => {
                let hours = (self.clock() - t.started).max(0) as f64 / 3_600_000.0;
                t.meter_start_wh + t.power_w * hours
            }
            None => self.register_wh,
        }
    }

    fn call(&mut self, action: &'static str, payload: Value) {
        self.pending.push_back((action, payload));
    }

    async fn flush(&mut self, ws: &mut Socket) -> anyhow::Result<()> {
        if self.in_flight.is_some() {
            return Ok(());
        }
        let Some((action, mut payload)) = self.pending.pop_front() else {
            return Ok(());
        };
        // Readings are taken when the call leaves, not when it was queued.
        if action == "MeterValues" {
            let Some(tx) = self.tx.as_ref().filter(|t| t.id > 0) else {
                return Ok(());
            };
            let id = tx.id;
            payload = json!({
                "connectorId": 1,
                "transactionId": id,
                "meterValue": [{
                    "timestamp": iso(self.clock()),
                    "sampledValue": [{
                        "value": format!("{}", self.meter_wh().round() as i64),
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    }],
                }],
            });
        }
        self.next_id += 1;
        let msg_id = format!("{}", self.next_id);
        let frame = json!([2, msg_id, action, payload]).to_string();
        self.in_flight = Some((msg_id, action, Instant::now()));
        ws.send(Message::Text(frame.into())).await?;
        self.shared.msg_out.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn record_lag(&self, action: &str, lag: Duration) {
        let phase = self.shared.phase();
        let us = lag.as_micros().min(u128::from(u32::MAX)) as u32;
        self.shared.with(|s| {
            s.lag[phase].entry(action.to_owned()).or_default().push(us);
        });
    }

    /// A CALLRESULT (or CALLERROR, `error` set) for our call in flight.
    fn on_result(&mut self, msg_id: &str, payload: &Value, error: Option<&str>) {
        let Some((id, action, sent)) = self.in_flight.take() else {
            self.shared.error("result_without_call");
            return;
        };
        if id != msg_id {
            self.shared.error("result_for_other_id");
            self.in_flight = Some((id, action, sent));
            return;
        }
        self.record_lag(action, sent.elapsed());
        if let Some(code) = error {
            self.shared
                .with(|s| *s.call_errors.entry(format!("{action} {code}")).or_default() += 1);
            if action == "BootNotification" {
                if let Some(tx) = self.booted.take() {
                    let _ = tx.send(Err(format!("CALLERROR {code}")));
                }
            }
            if action == "StartTransaction" {
                self.abandon_tx();
            }
            return;
        }
        match action {
            "BootNotification" => {
                let accepted = payload["status"] == "Accepted";
                if let Some(t) = payload["currentTime"]
                    .as_str()
                    .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                {
                    self.base_ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
                    self.base = Instant::now();
                } else {
                    self.shared.error("boot_without_currentTime");
                }
                let interval = payload["interval"].as_f64().unwrap_or(0.0);
                self.heartbeat_every = match self.shared.heartbeat_secs {
                    Some(h) => Some(Duration::from_secs_f64(h.max(0.1))),
                    None if interval > 0.0 => {
                        let speed = if self.shared.sim_speed > 0.0 {
                            self.shared.sim_speed
                        } else {
                            1.0
                        };
                        Some(Duration::from_secs_f64((interval / speed).max(0.1)))
                    }
                    None => None,
                };
                self.accepted = accepted;
                if let Some(tx) = self.booted.take() {
                    let _ = tx.send(Ok(accepted));
                }
            }
            "StartTransaction" => {
                let id = payload["transactionId"].as_i64().unwrap_or(0);
                if payload["idTagInfo"]["status"] != "Accepted" || id <= 0 {
                    self.shared.error("start_transaction_refused");
                    self.abandon_tx();
                    return;
                }
                if let Some(t) = self.tx.as_mut() {
                    t.id = id;
                }
                if self.shared.status {
                    self.call("StatusNotification", status_payload("Charging"));
                }
            }
            "StopTransaction" => {
                if let Some(s) = self.stopped.as_mut() {
                    s.1 = true;
                }
                if payload["idTagInfo"]["status"] != "Accepted" {
                    self.shared.error("stop_transaction_not_accepted");
                }
                if self.shared.status {
                    self.call("StatusNotification", status_payload("Available"));
                }
            }
            _ => {}
        }
    }

    fn abandon_tx(&mut self) {
        if self.tx.take().is_some() {
            self.shared.transactions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A CALL from the server: the answer (payload, or an error code).
    fn on_call(&mut self, action: &str, payload: &Value) -> Result<Value, &'static str> {
        self.shared
            .with(|s| *s.server_calls.entry(action.to_owned()).or_default() += 1);
        let odd = |me: &Self, what: &str| {
            me.shared
                .with(|s| *s.odd.entry(format!("{action}: {what}")).or_default() += 1);
        };
        match action {
            "GetConfiguration" => {
                let profiles = if self.shared.smart {
                    "Core,SmartCharging,RemoteTrigger"
                } else {
                    "Core,RemoteTrigger"
                };
                let wanted: Vec<String> = payload["key"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let known = [
                    ("SupportedFeatureProfiles", profiles.to_owned()),
                    ("NumberOfConnectors", "1".to_owned()),
                    (
                        "MeterValueSampleInterval",
                        format!("{}", self.shared.meter_secs),
                    ),
                ];
                let mut keys = Vec::new();
                let mut unknown = Vec::new();
                for (k, v) in &known {
                    if wanted.is_empty() || wanted.iter().any(|w| w == k) {
                        keys.push(json!({"key": k, "readonly": true, "value": v}));
                    }
                }
                for w in &wanted {
                    if !known.iter().any(|(k, _)| k == w) {
                        unknown.push(w.clone());
                    }
                }
                Ok(json!({"configurationKey": keys, "unknownKey": unknown}))
            }
            "RemoteStartTransaction" => {
                if self.tx.is_some() {
                    odd(self, "while a transaction runs");
                    return Ok(json!({"status": "Rejected"}));
                }
                let Some(tag) = payload["idTag"].as_str() else {
                    odd(self, "no idTag");
                    return Ok(json!({"status": "Rejected"}));
                };
                if payload["connectorId"] != 1 {
                    odd(self, "connectorId not 1");
                }
                let mut power = self.pile_power_w;
                let profile = &payload["chargingProfile"];
                if !profile.is_null() {
                    let sched = &profile["chargingSchedule"];
                    let limit = sched["chargingSchedulePeriod"][0]["limit"].as_f64();
                    match (sched["chargingRateUnit"].as_str(), limit) {
                        (Some("W"), Some(l)) if l > 0.0 => power = power.min(l),
                        _ => odd(self, "chargingProfile without a W limit"),
                    }
                    if !self.shared.smart {
                        odd(self, "chargingProfile to a box without SmartCharging");
                    }
                } else if self.shared.smart {
                    odd(self, "no chargingProfile to a SmartCharging box");
                }
                let meter = self.register_wh;
                let started = self.clock();
                self.tx = Some(Transaction {
                    id: 0,
                    meter_start_wh: meter,
                    started,
                    power_w: power,
                });
                self.shared.transactions.fetch_add(1, Ordering::Relaxed);
                self.call(
                    "StartTransaction",
                    json!({
                        "connectorId": 1,
                        "idTag": tag,
                        "meterStart": meter.round() as i64,
                        "timestamp": iso(started),
                    }),
                );
                Ok(json!({"status": "Accepted"}))
            }
            "RemoteStopTransaction" => {
                let wanted = payload["transactionId"].as_i64();
                match &self.tx {
                    Some(t) if t.id > 0 && Some(t.id) == wanted => {
                        let meter = self.meter_wh();
                        let now = self.clock();
                        let id = t.id;
                        self.stopped = Some((id, false));
                        self.register_wh = meter;
                        self.abandon_tx();
                        self.call(
                            "StopTransaction",
                            json!({
                                "transactionId": id,
                                "meterStop": meter.round() as i64,
                                "timestamp": iso(now),
                                "reason": "Remote",
                            }),
                        );
                        Ok(json!({"status": "Accepted"}))
                    }
                    _ => {
                        let what = match self.stopped {
                            Some((id, answered)) if Some(id) == wanted => {
                                if answered {
                                    "again, after its StopTransaction was answered"
                                } else {
                                    "again, while its StopTransaction was on its way"
                                }
                            }
                            _ => "unknown transaction",
                        };
                        odd(self, what);
                        Ok(json!({"status": "Rejected"}))
                    }
                }
            }
            "ChangeAvailability" => Ok(json!({"status": "Accepted"})),
            "Reset" => Ok(json!({"status": "Accepted"})),
            "UnlockConnector" => Ok(json!({"status": "Unlocked"})),
            "TriggerMessage" => {
                match payload["requestedMessage"].as_str() {
                    Some("Heartbeat") => self.call("Heartbeat", json!({})),
                    Some("StatusNotification") => {
                        let s = if self.tx.is_some() {
                            "Charging"
                        } else {
                            "Available"
                        };
                        self.call("StatusNotification", status_payload(s));
                    }
                    Some("MeterValues") => self.call("MeterValues", Value::Null),
                    _ => return Ok(json!({"status": "NotImplemented"})),
                }
                Ok(json!({"status": "Accepted"}))
            }
            "ClearCache"
            | "SetChargingProfile"
            | "ClearChargingProfile"
            | "ChangeConfiguration" => Ok(json!({"status": "Accepted"})),
            _ => {
                odd(self, "not implemented by the bench box");
                Err("NotImplemented")
            }
        }
    }
}

fn status_payload(status: &str) -> Value {
    json!({"connectorId": 1, "errorCode": "NoError", "status": status})
}

/// Connects a box; returns the socket.
async fn connect_box(ws_base: &str, id: &str, password: &str) -> anyhow::Result<Socket> {
    let mut req = format!("{ws_base}/ocpp/{id}").into_client_request()?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"));
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Basic {auth}"))?,
    );
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    // TCP_NODELAY: a box answers a RemoteStart and sends its StartTransaction right after;
    // with Nagle's algorithm the second frame waits for the server's delayed ACK (40 ms).
    let (ws, resp) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let proto = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    anyhow::ensure!(
        proto == "ocpp1.6",
        "the server answered subprotocol {proto:?}"
    );
    Ok(ws)
}

async fn run_box(mut b: Box_, mut ws: Socket) {
    let shared = b.shared.clone();
    shared.connected.fetch_add(1, Ordering::Relaxed);
    b.call(
        "BootNotification",
        json!({
            "chargePointVendor": "utilhall-bench",
            "chargePointModel": "ocpp_load",
            "chargePointSerialNumber": b.id,
            "firmwareVersion": "1.0",
        }),
    );
    // Timers start at a random phase, so that a thousand boxes do not send together.
    let jitter = |every: Duration| {
        let f = (rand_u64() % 10_000) as f64 / 10_000.0;
        tokio::time::Instant::now() + every.mul_f64(f)
    };
    let meter_every = Duration::from_secs_f64(shared.meter_secs.max(0.1));
    let mut meter = tokio::time::interval_at(jitter(meter_every), meter_every);
    meter.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heartbeat: Option<tokio::time::Interval> = None;
    let result: anyhow::Result<()> = async {
        loop {
            b.flush(&mut ws).await?;
            if heartbeat.is_none() {
                if let Some(every) = b.heartbeat_every {
                    let mut i = tokio::time::interval_at(jitter(every), every);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    heartbeat = Some(i);
                }
            }
            let deadline = b
                .in_flight
                .as_ref()
                .map(|(_, _, sent)| tokio::time::Instant::from_std(*sent + shared.call_timeout));
            tokio::select! {
                msg = ws.next() => {
                    let Some(msg) = msg else { anyhow::bail!("closed by the server") };
                    let text = match msg? {
                        Message::Text(t) => t,
                        Message::Close(c) => anyhow::bail!("closed by the server: {c:?}"),
                        _ => continue,
                    };
                    shared.msg_in.fetch_add(1, Ordering::Relaxed);
                    let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(text.as_str()) else {
                        shared.error("unreadable_frame_from_server");
                        continue;
                    };
                    let id = frame.get(1).and_then(Value::as_str).unwrap_or("").to_owned();
                    match frame.first().and_then(Value::as_i64) {
                        Some(2) => {
                            let action = frame.get(2).and_then(Value::as_str).unwrap_or("");
                            let payload = frame.get(3).cloned().unwrap_or(Value::Null);
                            let reply = match b.on_call(action, &payload) {
                                Ok(p) => json!([3, id, p]),
                                Err(code) => json!([4, id, code, "", {}]),
                            };
                            ws.send(Message::Text(reply.to_string().into())).await?;
                            shared.msg_out.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(3) => {
                            let payload = frame.get(2).cloned().unwrap_or(Value::Null);
                            b.on_result(&id, &payload, None);
                        }
                        Some(4) => {
                            let code = frame.get(2).and_then(Value::as_str).unwrap_or("?").to_owned();
                            b.on_result(&id, &Value::Null, Some(&code));
                        }
                        _ => shared.error("unknown_frame_type_from_server"),
                    }
                }
                _ = meter.tick() => {
                    if b.tx.as_ref().is_some_and(|t| t.id > 0)
                        && !b.pending.iter().any(|(a, _)| *a == "MeterValues")
                    {
                        b.call("MeterValues", Value::Null);
                    }
                }
                _ = async { heartbeat.as_mut().expect("checked").tick().await }, if heartbeat.is_some() => {
                    if b.accepted && !b.pending.iter().any(|(a, _)| *a == "Heartbeat") {
                        b.call("Heartbeat", json!({}));
                    }
                }
                _ = async { tokio::time::sleep_until(deadline.expect("checked")).await }, if deadline.is_some() => {
                    if let Some((_, action, _)) = b.in_flight.take() {
                        shared.with(|s| *s.call_errors.entry(format!("{action} timeout")).or_default() += 1);
                        if action == "BootNotification" {
                            if let Some(tx) = b.booted.take() {
                                let _ = tx.send(Err("BootNotification timed out".into()));
                            }
                        }
                    }
                }
            }
        }
    }
    .await;
    shared.connected.fetch_sub(1, Ordering::Relaxed);
    if let Err(e) = result {
        if !shared.stop.load(Ordering::Relaxed) {
            shared.error("box_disconnected");
            eprintln!("box {}: {e}", b.id);
        }
    }
    if let Some(tx) = b.booted.take() {
        let _ = tx.send(Err("disconnected before the boot answer".into()));
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

// --- the drivers -------------------------------------------------------------------------------

struct DriverPlan {
    token: String,
    fast: bool,
    kwh_base: f64,
}

async fn run_driver(
    shared: Arc<Shared>,
    ws_base: String,
    plan: DriverPlan,
    think_ms: u64,
    cancel_pct: u64,
    session_secs: f64,
) {
    // Start spread over a few seconds.
    tokio::time::sleep(Duration::from_millis(rand_u64() % 5000)).await;
    while !shared.stop.load(Ordering::Relaxed) {
        let f = 0.5 + (rand_u64() % 1000) as f64 / 1000.0;
        let kwh = ((plan.kwh_base * f) * 10.0).round().max(1.0) / 10.0;
        let mode = if plan.fast { "fast" } else { "common" };
        let url = format!(
            "{ws_base}/charging/user/charge?token={}&mode={mode}&quantity={kwh}",
            plan.token
        );
        let cancel = rand_u64() % 100 < cancel_pct;
        match driver_session(&shared, &url, cancel, session_secs).await {
            Ok(()) => {}
            Err(e) => {
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                shared.error(&format!("driver: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(rand_u64() % think_ms)).await;
        }
    }
}

async fn driver_session(
    shared: &Shared,
    url: &str,
    cancel: bool,
    session_secs: f64,
) -> anyhow::Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    let mut opened = false;
    let mut charging_since: Option<Instant> = None;
    let mut cancel_at: Option<tokio::time::Instant> = None;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = async { tokio::time::sleep_until(cancel_at.expect("checked")).await }, if cancel_at.is_some() => {
                cancel_at = None;
                ws.send(Message::Text(r#"{"operation":"cancel"}"#.into())).await?;
                continue;
            }
        };
        let Some(msg) = msg else { break };
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(e) => {
                anyhow::bail!("stream: {e}");
            }
        };
        let v: Value = serde_json::from_str(text.as_str())?;
        if !opened {
            opened = true;
            if v["code"] != 200 {
                let why = v["error"].as_str().unwrap_or("refused").to_owned();
                // The waiting area full: not an error of the server; try again later.
                anyhow::bail!("apply refused ({why})");
            }
            continue;
        }
        let Some(event) = v["event"].as_str() else {
            continue;
        };
        if event == "reply" || event == "pong" {
            if v["code"] != 200 && v["operation"] == "cancel" {
                shared.error("cancel refused");
            }
            continue;
        }
        let phase = shared.phase();
        shared.with(|s| *s.events[phase].entry(event.to_owned()).or_default() += 1);
        if event == "charging" {
            charging_since = Some(Instant::now());
        }
        if event == "finished" && phase == MEASURED {
            if let Some(t) = charging_since {
                let secs = t.elapsed().as_secs_f64();
                shared.with(|s| s.session_secs.push(secs));
            }
        }
        if event == "charging" && cancel {
            let after = session_secs / 2.0 * (rand_u64() % 1000) as f64 / 1000.0;
            cancel_at = Some(tokio::time::Instant::now() + Duration::from_secs_f64(after));
        }
        if event == "finished" || event == "cancelled" {
            break;
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

// --- setup and summary -------------------------------------------------------------------------

fn lag_summary(samples: &BTreeMap<String, Vec<u32>>) -> Value {
    fn one(v: &mut [u32]) -> Value {
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return json!({"count": 0});
        }
        let q = |p: f64| f64::from(v[((n as f64 * p).ceil() as usize).clamp(1, n) - 1]) / 1000.0;
        json!({"count": n, "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": f64::from(v[n - 1]) / 1000.0})
    }
    let mut all: Vec<u32> = samples.values().flatten().copied().collect();
    let mut per = serde_json::Map::new();
    for (k, v) in samples {
        per.insert(k.clone(), one(&mut v.clone()));
    }
    json!({"all": one(&mut all), "per_action": per})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = env("BASE", "http://127.0.0.1:18110");
    let ws_base = base.replacen("http", "ws", 1);
    let mode = env("MODE", "ocpp");
    anyhow::ensure!(mode == "ocpp" || mode == "sim", "MODE: ocpp or sim");
    let piles: usize = env_num("PILES", 1000);
    let drivers: usize = env_num("DRIVERS", piles * 6 / 5);
    let sim_speed: f64 = env_num("SIM_SPEED", 60.0);
    let session_secs: f64 = env_num("SESSION_SECS", 40.0);
    let think_ms: u64 = env_num("THINK_MS", 2000);
    let cancel_pct: u64 = env_num("CANCEL_PCT", 10);
    let warmup: f64 = env_num("WARMUP_SECS", 20.0);
    let duration: f64 = env_num("DURATION_SECS", 60.0);
    let prefix = env("PREFIX", "drv");
    let shared = Arc::new(Shared {
        stats: Mutex::new(Stats::default()),
        phase: AtomicUsize::new(SETUP),
        sim_speed,
        meter_secs: env_num("METER_SECS", 10.0),
        heartbeat_secs: std::env::var("HEARTBEAT_SECS")
            .ok()
            .and_then(|v| v.parse().ok()),
        call_timeout: Duration::from_secs_f64(env_num("CALL_TIMEOUT_SECS", 30.0)),
        smart: env("SMART", "1") != "0",
        status: env("STATUS", "1") != "0",
        connected: AtomicUsize::new(0),
        transactions: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        msg_in: AtomicU64::new(0),
        msg_out: AtomicU64::new(0),
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    // The operator.
    let (status, admin) = send_json(
        client
            .post(format!("{base}/admin/v1/login"))
            .json(&json!({"username": "admin", "password": env("ADMIN_PASSWORD", "admin123456")})),
    )
    .await?;
    anyhow::ensure!(status == 200, "admin login: {status} {admin}");
    let op = admin["token"].as_str().unwrap_or_default().to_owned();

    // The station: PILES piles, half fast, half slow.
    let fast = piles.div_ceil(2);
    let slow = piles - fast;
    let (status, config) = send_json(
        client
            .put(format!("{base}/admin/v1/charging/config"))
            .bearer_auth(&op)
            .json(&json!({
                "fast_piles": fast,
                "slow_piles": slow,
                "waiting_capacity": drivers + 100,
            })),
    )
    .await?;
    anyhow::ensure!(status == 200, "PUT config: {status} {config}");
    let fast_w = config["fast_power_kw"].as_f64().unwrap_or(30.0) * 1000.0;
    let slow_w = config["slow_power_kw"].as_f64().unwrap_or(10.0) * 1000.0;
    eprintln!(
        "station: {fast} fast ({} kW), {slow} slow ({} kW), waiting capacity {}",
        fast_w / 1000.0,
        slow_w / 1000.0,
        config["waiting_capacity"]
    );

    let started = Instant::now();
    // The boxes, one per pile.
    let boxes: Vec<(String, String, String, f64)> = (0..piles)
        .map(|i| {
            let (pile, w) = if i < fast {
                (format!("F{}", i + 1), fast_w)
            } else {
                (format!("T{}", i - fast + 1), slow_w)
            };
            (
                format!("BENCH-{i:05}"),
                format!("bench-password-{i:05}"),
                pile,
                w,
            )
        })
        .collect();
    if mode == "ocpp" {
        let done: Vec<anyhow::Result<()>> = stream::iter(boxes.iter())
            .map(|(id, password, pile, _)| {
                let (client, base, op) = (&client, &base, &op);
                async move {
                    let (status, body) = send_json(
                        client
                            .put(format!("{base}/admin/v1/charging/boxes/{id}"))
                            .bearer_auth(op)
                            .json(&json!({"password": password, "pile": pile})),
                    )
                    .await?;
                    anyhow::ensure!(status == 200, "PUT box {id}: {status} {body}");
                    Ok(())
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        done.into_iter().collect::<anyhow::Result<()>>()?;
        eprintln!(
            "{piles} boxes registered in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    // The drivers.
    let started = Instant::now();
    let tokens: Vec<anyhow::Result<String>> = stream::iter(0..drivers)
        .map(|i| {
            let (client, base, op, name) = (&client, &base, &op, format!("{prefix}{i}"));
            async move {
                let (status, body) = send_json(
                    client
                        .post(format!("{base}/admin/v1/charging/drivers"))
                        .bearer_auth(op)
                        .json(&json!({"username": name, "password": "123456"})),
                )
                .await?;
                anyhow::ensure!(
                    (200..300).contains(&status),
                    "driver {name}: {status} {body}"
                );
                let (status, body) = send_json(
                    client
                        .post(format!("{base}/charging/login"))
                        .json(&json!({"username": name, "password": "123456"})),
                )
                .await?;
                anyhow::ensure!(status == 200, "login {name}: {status} {body}");
                Ok(body["token"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let tokens: Vec<String> = tokens.into_iter().collect::<anyhow::Result<_>>()?;
    eprintln!(
        "{} drivers ready in {:.1} s",
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
    println!("SETUP {}", if mode == "ocpp" { piles } else { 0 });
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Connect and boot the boxes.
    let mut box_tasks = Vec::new();
    let mut connect = json!(null);
    if mode == "ocpp" {
        let started = Instant::now();
        let parallel: usize = env_num("CONNECT_PARALLEL", 50);
        let results: Vec<anyhow::Result<(tokio::task::JoinHandle<()>, bool)>> =
            stream::iter(boxes.iter())
                .map(|(id, password, _pile, w)| {
                    let (ws_base, shared) = (&ws_base, &shared);
                    async move {
                        let ws = connect_box(ws_base, id, password).await?;
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        let b = Box_ {
                            id: id.clone(),
                            shared: shared.clone(),
                            pile_power_w: *w,
                            base_ms: now_ms(),
                            base: Instant::now(),
                            next_id: 0,
                            pending: VecDeque::new(),
                            in_flight: None,
                            register_wh: (rand_u64() % 1_000_000) as f64,
                            tx: None,
                            stopped: None,
                            booted: Some(tx),
                            accepted: false,
                            heartbeat_every: None,
                        };
                        let task = tokio::spawn(run_box(b, ws));
                        let accepted = rx
                            .await
                            .map_err(|_| anyhow::anyhow!("{id}: the box stopped"))?
                            .map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
                        Ok((task, accepted))
                    }
                })
                .buffer_unordered(parallel)
                .collect()
                .await;
        let mut accepted = 0;
        let mut failures = Vec::new();
        for r in results {
            match r {
                Ok((task, ok)) => {
                    accepted += usize::from(ok);
                    box_tasks.push(task);
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{} boxes connected, {accepted} accepted, {} failed, in {secs:.1} s",
            box_tasks.len(),
            failures.len()
        );
        for f in failures.iter().take(5) {
            eprintln!("  {f}");
        }
        anyhow::ensure!(
            accepted == piles,
            "only {accepted} of {piles} boxes were accepted (first failure: {:?})",
            failures.first()
        );
        connect = json!({"connected": box_tasks.len(), "accepted": accepted, "failed": failures.len(), "secs": secs});
        // Let the GetConfiguration round trips and the first heartbeats settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!("BOXES {}", box_tasks.len());
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The drivers' load.
    shared.phase.store(WARMUP, Ordering::Relaxed);
    let mut driver_tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let fast = i % 2 == 0;
        let w = if fast { fast_w } else { slow_w };
        let kwh_base = w / 1000.0 * session_secs * sim_speed.max(1.0) / 3600.0;
        driver_tasks.push(tokio::spawn(run_driver(
            shared.clone(),
            ws_base.clone(),
            DriverPlan {
                token,
                fast,
                kwh_base,
            },
            think_ms,
            cancel_pct,
            session_secs,
        )));
    }
    eprintln!("{} drivers started; warm-up {warmup} s", driver_tasks.len());
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    let (in0, out0) = (
        shared.msg_in.load(Ordering::Relaxed),
        shared.msg_out.load(Ordering::Relaxed),
    );
    shared.phase.store(MEASURED, Ordering::Relaxed);
    println!("MEASURING");
    eprintln!(
        "measuring {duration} s ({} boxes connected, {} transactions)",
        shared.connected.load(Ordering::Relaxed),
        shared.transactions.load(Ordering::Relaxed)
    );
    let measured_from = Instant::now();
    let mut tx_samples = Vec::new();
    while measured_from.elapsed().as_secs_f64() < duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx_samples.push(shared.transactions.load(Ordering::Relaxed));
    }
    let measured = measured_from.elapsed().as_secs_f64();
    shared.phase.store(AFTER, Ordering::Relaxed);
    let (in1, out1) = (
        shared.msg_in.load(Ordering::Relaxed),
        shared.msg_out.load(Ordering::Relaxed),
    );
    let connected_end = shared.connected.load(Ordering::Relaxed);
    println!("MEASURED");
    // The bench reads the server's metrics with everything still connected.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.stop.store(true, Ordering::Relaxed);
    for t in &driver_tasks {
        t.abort();
    }
    for t in &box_tasks {
        t.abort();
    }

    let stats = std::mem::take(&mut *shared.stats.lock().unwrap_or_else(|e| e.into_inner()));
    let events = &stats.events[MEASURED];
    // `metered` is a notice per MeterValues (the car's energy and fee), not a station event: it
    // is counted apart, so that both runs count the same kinds.
    let total_events: u64 = events
        .iter()
        .filter(|(k, _)| !NOTICES.contains(&k.as_str()))
        .map(|(_, v)| v)
        .sum();
    let sessions = events.get("finished").copied().unwrap_or(0)
        + events.get("cancelled").copied().unwrap_or(0);
    let avg_tx = if tx_samples.is_empty() {
        0.0
    } else {
        tx_samples.iter().sum::<usize>() as f64 / tx_samples.len() as f64
    };
    let summary = json!({
        "mode": mode,
        "piles": piles,
        "drivers": driver_tasks.len(),
        "sim_speed": sim_speed,
        "session_secs": session_secs,
        "meter_secs": shared.meter_secs,
        "warmup_secs": warmup,
        "measured_secs": measured,
        "connect": connect,
        "boxes_connected_at_end": connected_end,
        "transactions_running_avg": avg_tx,
        "ocpp_frames_per_sec": {
            "in": (in1 - in0) as f64 / measured,
            "out": (out1 - out0) as f64 / measured,
        },
        "lag_ms": lag_summary(&stats.lag[MEASURED]),
        "lag_ms_boot": lag_summary(&stats.lag[SETUP]),
        "call_errors": stats.call_errors,
        "server_calls": stats.server_calls,
        "odd_server_calls": stats.odd,
        "errors": stats.errors,
        "events": events,
        "events_per_sec": total_events as f64 / measured,
        "sessions_per_sec": sessions as f64 / measured,
        "charging_to_finished_secs_mean": if stats.session_secs.is_empty() {
            0.0
        } else {
            stats.session_secs.iter().sum::<f64>() / stats.session_secs.len() as f64
        },
        "events_warmup": stats.events[WARMUP],
    });
    println!("SUMMARY {summary}");
    Ok(())
}
