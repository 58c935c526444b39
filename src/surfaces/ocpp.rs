//! `WS /ocpp/{chargeBoxId}`: OCPP 1.6J, the link of the charge boxes that drive the station's
//! OCPP piles (see [`crate::domain::charging::boxes`]).
//!
//! - The upgrade must offer the `ocpp1.6` subprotocol (else 400) and carry HTTP Basic
//!   credentials, user the box's id and its password (OCPP 1.6 security profile 1); an unknown
//!   box or a wrong password is answered 401 before any upgrade. TLS (profile 2) is the reverse
//!   proxy's.
//! - Frames are OCPP-J: `[2, id, action, payload]` calls, `[3, id, payload]` results,
//!   `[4, id, code, description, details]` errors. Every call of a box is answered before the
//!   next frame is read; the server has one call of its own in flight per link and waits
//!   `ocpp.call_timeout_secs` for its answer.
//! - A box that does not drive a pile has its BootNotification answered `Rejected` and any other
//!   call `SecurityError`. Frames that are not OCPP-J get `FormationViolation` /
//!   `ProtocolError`; a payload missing a field `OccurenceConstraintViolation`, with a wrong
//!   type `TypeConstraintViolation`, with an impossible value (a negative meter)
//!   `PropertyConstraintViolation`; an action the server does not take `NotImplemented`. The
//!   link stays open.
//! - Timestamps are RFC 3339; one without a zone is UTC. Meter values are the
//!   `Energy.Active.Import.Register` samples (the default measurand) without a phase, in `Wh`
//!   (default) or `kWh`; other samples are ignored.
//! - A link silent for three heartbeat intervals (at least 30 s) is closed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::domain::Timestamp;
use crate::domain::charging::boxes::{BootInfo, Call, ChargeBoxes, Reply};
use crate::surfaces::AppState;

/// The subprotocol of OCPP 1.6J.
pub const SUBPROTOCOL: &str = "ocpp1.6";

/// The highest meter reading taken (Wh): a terawatt-hour, far above any charger's register and
/// far below what the fee arithmetic holds.
const MAX_METER_WH: i64 = 1_000_000_000_000;

/// Frames are small; a `StopTransaction` with its readings is the largest.
const MAX_MESSAGE: usize = 256 * 1024;

/// Messages per action, for `/metrics` (only the actions of OCPP 1.6, and `other`).
#[derive(Default)]
pub struct OcppCounters {
    messages: Mutex<BTreeMap<&'static str, u64>>,
}

const ACTIONS: [&str; 10] = [
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
];

impl OcppCounters {
    fn count(&self, action: &str) {
        let key = ACTIONS
            .iter()
            .find(|a| **a == action)
            .copied()
            .unwrap_or("other");
        let mut map = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_default() += 1;
    }

    /// The Prometheus lines of the OCPP link.
    pub fn render(&self, boxes: &ChargeBoxes) -> String {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = String::new();
        let s = &boxes.stats;
        let _ = writeln!(
            out,
            "# HELP utilhall_ocpp_connected_boxes OCPP charge boxes connected to this instance.\n\
             # TYPE utilhall_ocpp_connected_boxes gauge\nutilhall_ocpp_connected_boxes {}",
            boxes.connected()
        );
        let _ = writeln!(
            out,
            "# HELP utilhall_ocpp_messages_total Calls received from charge boxes, by action.\n\
             # TYPE utilhall_ocpp_messages_total counter"
        );
        let map = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        for (action, n) in map.iter() {
            let _ = writeln!(
                out,
                "utilhall_ocpp_messages_total{{action=\"{action}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP utilhall_ocpp_meter_regressions_total Meter readings lower than the last one, ignored.\n\
             # TYPE utilhall_ocpp_meter_regressions_total counter\n\
             utilhall_ocpp_meter_regressions_total {}",
            s.meter_regressions.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP utilhall_ocpp_rejected_total What was refused to charge boxes, by reason.\n\
             # TYPE utilhall_ocpp_rejected_total counter"
        );
        for (reason, n) in [
            ("credentials", &s.refused_connections),
            ("boot", &s.rejected_boots),
            ("start", &s.refused_starts),
            ("remote_start", &s.remote_starts_refused),
            ("silent", &s.silent_faults),
        ] {
            let _ = writeln!(
                out,
                "utilhall_ocpp_rejected_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        out
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"utilhall OCPP\"")],
        "a charge box's id and password are required (HTTP Basic)",
    )
        .into_response()
}

/// The password of HTTP Basic credentials for user `id`.
fn basic_password(headers: &HeaderMap, id: &str) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (user == id).then(|| password.to_owned())
}

fn offers_ocpp16(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// The upgrade: the subprotocol, then the box's credentials.
pub async fn connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    if !offers_ocpp16(&headers) {
        return (
            StatusCode::BAD_REQUEST,
            "the WebSocket subprotocol ocpp1.6 is required",
        )
            .into_response();
    }
    let Some(password) = basic_password(&headers, &id) else {
        state
            .boxes
            .stats
            .refused_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return unauthorized();
    };
    match state.boxes.authenticate(&id, &password).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(charge_box = %id, "charge box refused: unknown id or wrong password");
            return unauthorized();
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a charge box's password");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
        }
    }
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| link(state, id, socket))
}

/// The server's call in flight on a link.
struct InFlight {
    id: String,
    reply: oneshot::Sender<Reply>,
    deadline: Instant,
}

/// One box's link, until it closes or the box connects again elsewhere.
async fn link(state: AppState, id: String, mut socket: WebSocket) {
    let boxes = state.boxes.clone();
    let settings = boxes.settings();
    let attached = boxes.attach(&id);
    let mut calls = attached.calls;
    tracing::info!(charge_box = %id, "charge box connected");
    let idle = Duration::from_secs((settings.heartbeat_secs * 3).max(30));
    let call_timeout = Duration::from_secs(settings.call_timeout_secs.max(1));
    let mut in_flight: Option<InFlight> = None;
    let mut next_call: u64 = 1;
    let mut heard = Instant::now();
    loop {
        let deadline = in_flight
            .as_ref()
            .map_or(heard + idle, |f| f.deadline.min(heard + idle));
        tokio::select! {
            frame = socket.recv() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        heard = Instant::now();
                        let e = call_error("-1", "FormationViolation", "OCPP-J frames are text", json!({}));
                        if socket.send(Message::Text(e.to_string().into())).await.is_err() { break; }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        // Boxes may keep their link alive with pings instead of heartbeats.
                        heard = Instant::now();
                        state.boxes.seen(&id);
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                };
                heard = Instant::now();
                let answer = handle(&state, &id, text.as_str(), &mut in_flight).await;
                if let Some(answer) = answer {
                    if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                        break;
                    }
                }
            }
            call = calls.recv(), if in_flight.is_none() => {
                let Some(Call { command, reply }) = call else {
                    // The box connected again: this link is over.
                    break;
                };
                let call_id = format!("s{next_call}");
                next_call += 1;
                let (action, payload) = command.to_ocpp();
                let frame = json!([2, call_id, action, payload]);
                if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                    let _ = reply.send(Reply::Closed);
                    break;
                }
                in_flight = Some(InFlight { id: call_id, reply, deadline: Instant::now() + call_timeout });
            }
            () = tokio::time::sleep_until(deadline) => {
                if let Some(f) = in_flight.take_if(|f| f.deadline <= Instant::now()) {
                    tracing::info!(charge_box = %id, call = %f.id, "charge box did not answer in time");
                    let _ = f.reply.send(Reply::Timeout);
                }
                if heard + idle <= Instant::now() {
                    tracing::info!(charge_box = %id, "charge box link silent: closed");
                    break;
                }
            }
        }
    }
    boxes.detach(&id, attached.link);
    let _ = socket.send(Message::Close(None)).await;
    tracing::info!(charge_box = %id, "charge box disconnected");
}

fn call_error(id: &str, code: &str, description: &str, details: Value) -> Value {
    json!([4, id, code, description, details])
}

/// A call's failure: its OCPP error code and a description.
struct Failure(&'static str, String);

impl Failure {
    fn formation(msg: impl Into<String>) -> Self {
        Failure("FormationViolation", msg.into())
    }
    fn property(msg: impl Into<String>) -> Self {
        Failure("PropertyConstraintViolation", msg.into())
    }
}

/// Reads a frame and answers it (results and errors of the server's own calls get none).
async fn handle(
    state: &AppState,
    id: &str,
    text: &str,
    in_flight: &mut Option<InFlight>,
) -> Option<Value> {
    let frame: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            return Some(call_error(
                "-1",
                "FormationViolation",
                "the frame is not JSON",
                json!({}),
            ));
        }
    };
    let Some(items) = frame.as_array() else {
        return Some(call_error(
            "-1",
            "FormationViolation",
            "an OCPP-J frame is a JSON array",
            json!({}),
        ));
    };
    let msg_id = items.get(1).and_then(Value::as_str).map(str::to_owned);
    let kind = items.first().and_then(Value::as_i64);
    match (kind, msg_id) {
        (Some(2), Some(msg_id)) => {
            let (Some(action), Some(payload)) =
                (items.get(2).and_then(Value::as_str), items.get(3))
            else {
                return Some(call_error(
                    &msg_id,
                    "FormationViolation",
                    "a call is [2, id, action, payload]",
                    json!({}),
                ));
            };
            if items.len() != 4 || !payload.is_object() {
                return Some(call_error(
                    &msg_id,
                    "FormationViolation",
                    "a call is [2, id, action, {payload}]",
                    json!({}),
                ));
            }
            if msg_id.len() > 36 {
                return Some(call_error(
                    &msg_id,
                    "FormationViolation",
                    "a message id is at most 36 characters",
                    json!({}),
                ));
            }
            state.ocpp.count(action);
            Some(match call(state, id, action, payload.clone()).await {
                Ok(result) => json!([3, msg_id, result]),
                Err(Failure(code, description)) => {
                    call_error(&msg_id, code, &description, json!({}))
                }
            })
        }
        (Some(3 | 4), Some(msg_id)) => {
            state.boxes.seen(id);
            match in_flight.take_if(|f| f.id == msg_id) {
                Some(f) => {
                    let reply = if kind == Some(3) {
                        Reply::Answer(items.get(2).cloned().unwrap_or(Value::Null))
                    } else {
                        Reply::Error {
                            code: items
                                .get(2)
                                .and_then(Value::as_str)
                                .unwrap_or("GenericError")
                                .to_owned(),
                            description: items
                                .get(3)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        }
                    };
                    let _ = f.reply.send(reply);
                }
                None => {
                    tracing::debug!(charge_box = %id, %msg_id, "an answer to no call in flight: ignored")
                }
            }
            None
        }
        (Some(2..=4), None) => Some(call_error(
            "-1",
            "FormationViolation",
            "the message id must be a string",
            json!({}),
        )),
        _ => Some(call_error(
            items.get(1).and_then(Value::as_str).unwrap_or("-1"),
            "ProtocolError",
            "the message type must be 2 (call), 3 (result) or 4 (error)",
            json!({}),
        )),
    }
}

/// A payload as `T`, or the OCPP error saying what is wrong with it.
fn payload<T: DeserializeOwned>(v: Value) -> Result<T, Failure> {
    serde_json::from_value(v).map_err(|e| {
        let msg = e.to_string();
        if msg.starts_with("missing field") {
            Failure("OccurenceConstraintViolation", msg)
        } else if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
            Failure("TypeConstraintViolation", msg)
        } else {
            Failure::formation(msg)
        }
    })
}

/// An OCPP timestamp (RFC 3339; without a zone, UTC) in ms.
fn instant(s: &str) -> Result<i64, Failure> {
    let s = s.trim();
    Timestamp::parse_rfc3339(s)
        .or_else(|| Timestamp::parse_rfc3339(&format!("{s}Z")))
        .map(Timestamp::millis)
        .ok_or_else(|| {
            Failure(
                "TypeConstraintViolation",
                format!("not an RFC 3339 time: {}", crate::domain::error::quoted(s)),
            )
        })
}

fn internal(e: crate::domain::Error) -> Failure {
    tracing::error!(error = %e, "an OCPP call failed");
    Failure(
        "InternalError",
        "the call could not be handled; send it again".into(),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BootReq {
    charge_point_vendor: String,
    charge_point_model: String,
    charge_point_serial_number: Option<String>,
    charge_box_serial_number: Option<String>,
    firmware_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusReq {
    connector_id: i64,
    error_code: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizeReq {
    id_tag: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartReq {
    connector_id: i64,
    id_tag: String,
    meter_start: i64,
    timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SampledValue {
    value: String,
    measurand: Option<String>,
    unit: Option<String>,
    phase: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeterValue {
    timestamp: String,
    sampled_value: Vec<SampledValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeterValuesReq {
    connector_id: i64,
    transaction_id: Option<i64>,
    meter_value: Vec<MeterValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopReq {
    transaction_id: i64,
    id_tag: Option<String>,
    meter_stop: i64,
    timestamp: String,
    #[serde(default)]
    transaction_data: Vec<MeterValue>,
}

const STATUSES: [&str; 9] = [
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
];

/// The energy readings of meter values: (ms, Wh).
fn readings(values: &[MeterValue]) -> Result<Vec<(i64, i64)>, Failure> {
    let mut out = Vec::new();
    for mv in values {
        let at = instant(&mv.timestamp)?;
        let energy = mv.sampled_value.iter().find(|s| {
            s.measurand
                .as_deref()
                .is_none_or(|m| m == "Energy.Active.Import.Register")
                && s.phase.is_none()
        });
        let Some(sample) = energy else { continue };
        let value: f64 = sample.value.trim().parse().map_err(|_| {
            Failure::property(format!(
                "not a number: {}",
                crate::domain::error::quoted(&sample.value)
            ))
        })?;
        let wh = match sample.unit.as_deref() {
            None | Some("Wh") => value,
            Some("kWh") => value * 1000.0,
            Some(other) => {
                return Err(Failure::property(format!(
                    "an energy reading in {other}: use Wh or kWh"
                )));
            }
        };
        if !wh.is_finite() || !(0.0..=MAX_METER_WH as f64).contains(&wh) {
            return Err(Failure::property("an energy reading must be 0 to 10^12 Wh"));
        }
        out.push((at, wh.round() as i64));
    }
    Ok(out)
}

/// An id tag is an OCPP `CiString20Type`.
fn id_tag(tag: &str) -> Result<(), Failure> {
    if tag.len() > 20 {
        return Err(Failure::property("idTag is at most 20 characters"));
    }
    Ok(())
}

/// Answers one call of box `id`.
async fn call(state: &AppState, id: &str, action: &str, body: Value) -> Result<Value, Failure> {
    let boxes: &Arc<ChargeBoxes> = &state.boxes;
    boxes.seen(id);
    if action == "BootNotification" {
        let req: BootReq = payload(body)?;
        if req.charge_point_vendor.len() > 20 || req.charge_point_model.len() > 20 {
            return Err(Failure::property(
                "chargePointVendor and chargePointModel are at most 20 characters",
            ));
        }
        let info = BootInfo {
            vendor: req.charge_point_vendor,
            model: req.charge_point_model,
            serial: req
                .charge_point_serial_number
                .or(req.charge_box_serial_number),
            firmware: req.firmware_version,
        };
        let boot = boxes.boot(id, info).await.map_err(internal)?;
        if !boot.accepted {
            tracing::info!(charge_box = %id, "boot rejected: the box drives no pile");
        }
        return Ok(json!({
            "status": if boot.accepted { "Accepted" } else { "Rejected" },
            "currentTime": boot.now.iso_utc_ms(),
            "interval": boot.interval_secs,
        }));
    }
    if !boxes.admitted(id).await {
        return Err(Failure(
            "SecurityError",
            "this charge box drives no pile: its boot was rejected".into(),
        ));
    }
    match action {
        "Heartbeat" => Ok(json!({"currentTime": state.now().iso_utc_ms()})),
        "StatusNotification" => {
            let req: StatusReq = payload(body)?;
            if !STATUSES.contains(&req.status.as_str()) {
                return Err(Failure::property(format!(
                    "unknown status {}",
                    crate::domain::error::quoted(&req.status)
                )));
            }
            if req.connector_id < 0 {
                return Err(Failure::property("connectorId must be 0 or more"));
            }
            boxes
                .status(id, req.connector_id, &req.status, &req.error_code)
                .await
                .map_err(internal)?;
            Ok(json!({}))
        }
        "Authorize" => {
            let req: AuthorizeReq = payload(body)?;
            id_tag(&req.id_tag)?;
            let status = boxes.authorize(id, &req.id_tag).await.map_err(internal)?;
            Ok(json!({"idTagInfo": {"status": status.as_str()}}))
        }
        "StartTransaction" => {
            let req: StartReq = payload(body)?;
            id_tag(&req.id_tag)?;
            if !(0..=MAX_METER_WH).contains(&req.meter_start) {
                return Err(Failure::property("meterStart must be 0 to 10^12 Wh"));
            }
            let at = instant(&req.timestamp)?;
            let (tx, status) = boxes
                .start(id, req.connector_id, &req.id_tag, req.meter_start, at)
                .await
                .map_err(internal)?;
            Ok(json!({"transactionId": tx, "idTagInfo": {"status": status.as_str()}}))
        }
        "MeterValues" => {
            let req: MeterValuesReq = payload(body)?;
            let values = readings(&req.meter_value)?;
            // Readings outside a transaction (clock-aligned ones) bill nothing.
            if let (Some(tx), 1) = (req.transaction_id, req.connector_id) {
                boxes.meter_values(id, tx, values).await.map_err(internal)?;
            }
            Ok(json!({}))
        }
        "StopTransaction" => {
            let req: StopReq = payload(body)?;
            if let Some(tag) = &req.id_tag {
                id_tag(tag)?;
            }
            if !(0..=MAX_METER_WH).contains(&req.meter_stop) {
                return Err(Failure::property("meterStop must be 0 to 10^12 Wh"));
            }
            let at = instant(&req.timestamp)?;
            let data = readings(&req.transaction_data)?;
            boxes
                .stop(id, req.transaction_id, req.meter_stop, at, data)
                .await
                .map_err(internal)?;
            Ok(json!({"idTagInfo": {"status": "Accepted"}}))
        }
        "DataTransfer" => Ok(json!({"status": "UnknownVendorId"})),
        "DiagnosticsStatusNotification" | "FirmwareStatusNotification" => Ok(json!({})),
        other => Err(Failure(
            "NotImplemented",
            format!(
                "the server does not take {}",
                crate::domain::error::quoted(other)
            ),
        )),
    }
}
