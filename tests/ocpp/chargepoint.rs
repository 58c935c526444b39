//! A simulated OCPP 1.6J charge point: connects with the `ocpp1.6` subprotocol and HTTP Basic
//! authentication, sends calls and waits for their answers, and answers the central system's
//! calls as a real box would (what it answers is set in its [`Behaviour`]).
//!
//! Two tasks own the socket: a writer fed by a channel (so the reader can answer the server's
//! calls while a test waits for the answer to its own) and a reader that sorts what arrives into
//! the server's calls and the answers to ours. Dropping the charge point aborts both and the TCP
//! connection goes away without a close frame, which is how a box that loses power looks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// How long a test waits for anything from the server before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// How the box answers the central system's calls; `None` means it does not answer at all.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The value of `SupportedFeatureProfiles` in GetConfiguration.conf.
    pub feature_profiles: String,
    pub remote_start: Option<&'static str>,
    pub remote_stop: Option<&'static str>,
    pub change_availability: Option<&'static str>,
    pub reset: Option<&'static str>,
    pub unlock: Option<&'static str>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            feature_profiles: "Core,FirmwareManagement,RemoteTrigger".into(),
            remote_start: Some("Accepted"),
            remote_stop: Some("Accepted"),
            change_availability: Some("Accepted"),
            reset: Some("Accepted"),
            unlock: Some("Unlocked"),
        }
    }
}

impl Behaviour {
    /// A box that also speaks Smart Charging.
    pub fn smart() -> Behaviour {
        Behaviour {
            feature_profiles: "Core,SmartCharging,RemoteTrigger".into(),
            ..Behaviour::default()
        }
    }

    /// The answer the box gives to `action`, or `None` to keep quiet.
    fn answer(&self, action: &str, payload: &Value) -> Option<Value> {
        let status = |s: Option<&'static str>| s.map(|s| json!({ "status": s }));
        match action {
            "GetConfiguration" => {
                let asked: Vec<&str> = payload["key"]
                    .as_array()
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut known = Vec::new();
                let mut unknown = Vec::new();
                for key in &asked {
                    match *key {
                        "SupportedFeatureProfiles" => known.push(json!({
                            "key": "SupportedFeatureProfiles",
                            "readonly": true,
                            "value": self.feature_profiles,
                        })),
                        "NumberOfConnectors" => known.push(json!({
                            "key": "NumberOfConnectors", "readonly": true, "value": "1"
                        })),
                        other => unknown.push(json!(other)),
                    }
                }
                if asked.is_empty() {
                    known.push(json!({
                        "key": "SupportedFeatureProfiles",
                        "readonly": true,
                        "value": self.feature_profiles,
                    }));
                }
                let mut conf = json!({ "configurationKey": known });
                if !unknown.is_empty() {
                    conf["unknownKey"] = json!(unknown);
                }
                Some(conf)
            }
            "RemoteStartTransaction" => status(self.remote_start),
            "RemoteStopTransaction" => status(self.remote_stop),
            "ChangeAvailability" => status(self.change_availability),
            "Reset" => status(self.reset),
            "UnlockConnector" => status(self.unlock),
            "TriggerMessage" => Some(json!({"status": "Rejected"})),
            "ChangeConfiguration" => Some(json!({"status": "Rejected"})),
            "SetChargingProfile" => Some(json!({"status": "Accepted"})),
            "ClearChargingProfile" => Some(json!({"status": "Unknown"})),
            _ => None,
        }
    }
}

/// A call the central system sent to the box.
#[derive(Debug, Clone)]
pub struct ServerCall {
    pub id: String,
    pub action: String,
    pub payload: Value,
}

/// A CALLERROR: `[4, id, code, description, details]`.
#[derive(Debug, Clone)]
pub struct CallError {
    pub id: Value,
    pub code: String,
    pub description: String,
}

/// Why a connection was not made.
#[derive(Debug)]
pub enum Refused {
    /// The server answered the upgrade with this HTTP status.
    Status(u16),
    /// The upgrade went through but the subprotocol was wrong or missing.
    SubProtocol(String),
    Other(String),
}

pub struct ChargePoint {
    pub id: String,
    out: mpsc::UnboundedSender<Message>,
    calls: mpsc::UnboundedReceiver<ServerCall>,
    replies: mpsc::UnboundedReceiver<Value>,
    closed: tokio::sync::watch::Receiver<bool>,
    /// What the box answers; tests change it while connected.
    pub behaviour: Arc<Mutex<Behaviour>>,
    /// The server's calls already taken off the channel by `expect_call` on the way to another.
    pub seen: Vec<ServerCall>,
    /// The subprotocol the server accepted.
    pub protocol: Option<String>,
    next_id: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ChargePoint {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `Authorization: Basic base64(id:password)`.
pub fn basic(id: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{password}"))
    )
}

impl ChargePoint {
    /// Connects as `id` with `password`, offering `ocpp1.6`; panics when refused.
    pub async fn connect(addr: SocketAddr, id: &str, password: &str) -> ChargePoint {
        Self::connect_with(
            addr,
            id,
            Some(password),
            Some("ocpp1.6"),
            Behaviour::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{id} connects: {e:?}"))
    }

    /// Connects with what the test chooses to offer.
    pub async fn connect_with(
        addr: SocketAddr,
        id: &str,
        password: Option<&str>,
        subprotocol: Option<&str>,
        behaviour: Behaviour,
    ) -> Result<ChargePoint, Refused> {
        let url = format!("ws://{addr}/ocpp/{id}");
        let mut req = url
            .as_str()
            .into_client_request()
            .map_err(|e| Refused::Other(e.to_string()))?;
        if let Some(p) = subprotocol {
            req.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(p).map_err(|e| Refused::Other(e.to_string()))?,
            );
        }
        if let Some(pw) = password {
            req.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&basic(id, pw)).map_err(|e| Refused::Other(e.to_string()))?,
            );
        }
        let (socket, response) =
            match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req)).await {
                Err(_) => return Err(Refused::Other("no answer to the upgrade".into())),
                Ok(Err(WsError::Http(resp))) => {
                    return Err(Refused::Status(resp.status().as_u16()));
                }
                Ok(Err(WsError::Protocol(e))) => return Err(Refused::SubProtocol(e.to_string())),
                Ok(Err(e)) => return Err(Refused::Other(e.to_string())),
                Ok(Ok(pair)) => pair,
            };
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (mut sink, mut stream) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (calls_tx, calls) = mpsc::unbounded_channel();
        let (replies_tx, replies) = mpsc::unbounded_channel();
        let (closed_tx, closed) = tokio::sync::watch::channel(false);
        let behaviour = Arc::new(Mutex::new(behaviour));

        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let answers = out.clone();
        let rules = behaviour.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let text = match msg {
                    Message::Text(t) => t.as_str().to_owned(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                let frame: Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => {
                        // Kept for the test to see: the server must only send JSON.
                        let _ = replies_tx.send(json!({ "unparseable": text }));
                        continue;
                    }
                };
                if frame[0] == 2 {
                    let call = ServerCall {
                        id: frame[1].as_str().unwrap_or_default().to_owned(),
                        action: frame[2].as_str().unwrap_or_default().to_owned(),
                        payload: frame[3].clone(),
                    };
                    let answer = rules
                        .lock()
                        .map(|b| b.answer(&call.action, &call.payload))
                        .unwrap_or(None);
                    if let Some(conf) = answer {
                        let _ = answers.send(Message::text(json!([3, call.id, conf]).to_string()));
                    }
                    let _ = calls_tx.send(call);
                } else {
                    let _ = replies_tx.send(frame);
                }
            }
            let _ = closed_tx.send(true);
        });
        Ok(ChargePoint {
            id: id.to_owned(),
            out,
            calls,
            replies,
            closed,
            behaviour,
            seen: Vec::new(),
            protocol,
            next_id: 0,
            tasks: vec![writer, reader],
        })
    }

    /// Changes how the box answers from now on.
    pub fn set_behaviour(&self, f: impl FnOnce(&mut Behaviour)) {
        if let Ok(mut b) = self.behaviour.lock() {
            f(&mut b);
        }
    }

    /// Sends one text frame as it is.
    pub fn send_raw(&self, text: &str) {
        self.out
            .send(Message::text(text.to_owned()))
            .expect("the writer runs");
    }

    /// The next CALLRESULT or CALLERROR frame (whole), within [`WAIT`].
    pub async fn next_reply(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.replies.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no reply within {WAIT:?}", self.id))
            .unwrap_or_else(|| panic!("{}: the connection closed", self.id))
    }

    /// Sends a CALL and waits for its answer: the CALLRESULT payload, or the CALLERROR.
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Value, CallError> {
        self.next_id += 1;
        let id = format!("{}-{}", self.id, self.next_id);
        self.send_raw(&json!([2, id, action, payload]).to_string());
        let frame = self.next_reply().await;
        assert_eq!(
            frame[1],
            json!(id),
            "{action}: an answer to another call: {frame}"
        );
        match frame[0].as_i64() {
            Some(3) => Ok(frame[2].clone()),
            Some(4) => Err(CallError {
                id: frame[1].clone(),
                code: frame[2].as_str().unwrap_or_default().to_owned(),
                description: frame[3].as_str().unwrap_or_default().to_owned(),
            }),
            _ => panic!("{action}: not an answer: {frame}"),
        }
    }

    /// A call that must succeed.
    pub async fn call_ok(&mut self, action: &str, payload: Value) -> Value {
        match self.call(action, payload.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{} {action} {payload}: CALLERROR {e:?}", self.id),
        }
    }

    /// Waits for the server to call `action` (calls of other actions met on the way are kept in
    /// `seen`); the box has already answered it by its behaviour.
    pub async fn expect_call(&mut self, action: &str) -> ServerCall {
        if let Some(i) = self.seen.iter().position(|c| c.action == action) {
            return self.seen.remove(i);
        }
        loop {
            let call = tokio::time::timeout(WAIT, self.calls.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: no {action} within {WAIT:?} (seen {:?})",
                        self.id, self.seen
                    )
                })
                .unwrap_or_else(|| panic!("{}: closed before {action}", self.id));
            if call.action == action {
                return call;
            }
            self.seen.push(call);
        }
    }

    /// The server's calls that arrive within `within`, without waiting for any one.
    pub async fn calls_within(&mut self, within: Duration) -> Vec<ServerCall> {
        let mut got: Vec<ServerCall> = self.seen.drain(..).collect();
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(c)) = tokio::time::timeout_at(deadline, self.calls.recv()).await {
            got.push(c);
        }
        got
    }

    /// Whether the server closed the connection (waits up to `within` for it).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut closed = self.closed.clone();
        tokio::time::timeout(within, closed.wait_for(|c| *c))
            .await
            .is_ok()
    }

    /// A BootNotification as a real box sends it.
    pub async fn boot(&mut self) -> Value {
        self.call_ok(
            "BootNotification",
            json!({
                "chargePointVendor": "Utilhall Test",
                "chargePointModel": "Sim-30",
                "chargePointSerialNumber": format!("SN-{}", self.id),
                "firmwareVersion": "1.2.3",
            }),
        )
        .await
    }

    /// `StatusNotification` for `connector` with `status` (and an error code for faults).
    pub async fn status(&mut self, connector: u32, status: &str, at: &str) -> Value {
        let error_code = if status == "Faulted" {
            "GroundFailure"
        } else {
            "NoError"
        };
        self.call_ok(
            "StatusNotification",
            json!({
                "connectorId": connector,
                "errorCode": error_code,
                "status": status,
                "timestamp": at,
            }),
        )
        .await
    }

    /// `StartTransaction`; the whole answer.
    pub async fn start_transaction(&mut self, tag: &str, meter_start_wh: i64, at: &str) -> Value {
        self.call_ok(
            "StartTransaction",
            json!({
                "connectorId": 1,
                "idTag": tag,
                "meterStart": meter_start_wh,
                "timestamp": at,
            }),
        )
        .await
    }

    /// One `Energy.Active.Import.Register` reading in Wh.
    pub async fn meter(&mut self, transaction: i64, wh: i64, at: &str) -> Value {
        self.call_ok(
            "MeterValues",
            json!({
                "connectorId": 1,
                "transactionId": transaction,
                "meterValue": [reading(wh, at)],
            }),
        )
        .await
    }

    /// `StopTransaction` with optional `transactionData` readings.
    pub async fn stop_transaction(
        &mut self,
        transaction: i64,
        meter_stop_wh: i64,
        at: &str,
        reason: &str,
        data: Vec<Value>,
    ) -> Value {
        let mut payload = json!({
            "transactionId": transaction,
            "meterStop": meter_stop_wh,
            "timestamp": at,
            "reason": reason,
        });
        if !data.is_empty() {
            payload["transactionData"] = json!(data);
        }
        self.call_ok("StopTransaction", payload).await
    }
}

/// One meterValue element: an energy register reading in Wh at `at`.
pub fn reading(wh: i64, at: &str) -> Value {
    json!({
        "timestamp": at,
        "sampledValue": [{
            "value": wh.to_string(),
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        }],
    })
}
