//! `WS /user/charge?token=&mode=fast|common&quantity=`: the driver's stream.
//!
//! The opening reply is `{"code": 200, "msg": "您已经成功进入队列，请等待", ...request}` (or
//! `{"code": -1, "msg", "error"}`, then the socket closes). Then every event of the request, in
//! order, each `{"code": 200, "event", "seq", "msg", ...}`: `queued` (number), `called` (pile),
//! `moved` (to another pile after a fault), `charging`, `metered` (on an OCPP pile, each meter
//! reading: `charged` kWh and `fee` yuan so far), `interrupted` (a fault stopped the
//! session: its detail record), `renumbered`, `revised`, and last `finished` or `cancelled`
//! (with the detail record when energy was delivered), after which the server closes the
//! socket. Client messages: `{"operation": "revise", "mode", "quantity"}` and
//! `{"operation": "cancel"}` (also `info`, and the text `ping`), answered with
//! `{"code", "event": "reply", "operation", "msg", ...}`. Comments and trailing commas, as in
//! the document's example, are accepted.
//!
//! Closing the socket does not cancel the request. Opening it again resumes: the opening reply
//! shows where the request stands (`resumed: true`; `mode` and `quantity`, if sent, are not
//! used, and `note` says so), and `since=N` replays the events after `N`, also those of a
//! request that ended while the stream was away (then the socket closes). Without `since`, a
//! driver with no request in progress makes a new one. The server pings every 30 s and drops a
//! stream it has not heard from in 90 s; the token is checked again on every client message.
//! Event numbers (`seq`) count from 1 for each request and are kept by the process that serves
//! the stream: after a restart, the opening reply says where the request stands and the
//! numbering of what follows starts again.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    Message, Utf8Bytes, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::envelope::{ChargingError, Params, parse_kwh, parse_mode};
use super::handlers::{LogEntry, RequestView, capacity, driver, mode_name};
use crate::domain::charging::service::{Notice, NoticeKind, Subscription};
use crate::surfaces::AppState;
use crate::surfaces::body::lenient_json;

/// What a stream reads into (and keeps while it waits). Drivers' messages are a hundred bytes
/// or so; a longer one (up to the 64 KiB limit) is read in steps of this size.
const READ_BUFFER: usize = 512;

/// The upgrade; bad parameters are told on the socket, where a browser client can read them.
pub async fn charge(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    params: Params,
) -> Response {
    match upgrade {
        // Small buffers: a session mostly waits, and thousands stay open at once (the
        // defaults reserve 128 KiB for reading alone; 4 KiB was most of a session).
        Ok(ws) => ws
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_write_buffer_size(256 * 1024)
            .max_message_size(64 * 1024)
            .on_upgrade(move |socket| session(state, Box::new(socket), params)),
        Err(_) => ChargingError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "websocket_required",
            "请使用WebSocket连接此接口",
        )
        .into_response(),
    }
}

async fn send(socket: &mut WebSocket, value: &impl Serialize) -> bool {
    match serde_json::to_string(value) {
        Ok(text) => socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_ok(),
        Err(_) => false,
    }
}

async fn refuse(socket: &mut WebSocket, err: ChargingError) {
    let _ = send(socket, &err.body()).await;
    let _ = socket.send(Message::Close(None)).await;
}

#[derive(Serialize)]
struct Opening {
    code: i32,
    msg: &'static str,
    resumed: bool,
    /// Why the opening's `mode` and `quantity` were not used (a request was in progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
    #[serde(flatten)]
    view: Option<RequestView>,
}

/// How often the server pings an open stream, and how long it waits for any sign of life.
const PING_EVERY: Duration = Duration::from_secs(30);
const IDLE_LIMIT: Duration = Duration::from_secs(90);

/// A stream: its opening, then its events and the client's messages until either side ends
/// it.
///
/// Thousands of streams wait at once, so what a waiting stream holds is kept small: the
/// opening (the station's calls, the request's view, the parameters) runs on the heap and is
/// gone once it has answered, and so is the work each event or message brings (see
/// [`follow`]).
///
/// The socket's own state is on the heap too (the caller boxes it): the future would
/// otherwise keep room for it more than once (it moves from the arguments into the body).
async fn session(state: AppState, mut socket: Box<WebSocket>, params: Params) {
    let opened = Box::pin(open(&state, &mut socket, params)).await;
    if let Some((token, events)) = opened {
        follow(state, socket, token, events).await;
    }
}

type Events = mpsc::UnboundedReceiver<Arc<Notice>>;

/// Opens the stream: the driver's request joined or made, the opening reply and the backlog
/// sent. The token and the events to follow, unless the stream is over already.
async fn open(
    state: &AppState,
    socket: &mut WebSocket,
    params: Params,
) -> Option<(String, Events)> {
    let (mut sub, asked) = match subscribe(state, &params).await {
        Ok(opened) => opened,
        Err(e) => {
            refuse(socket, e).await;
            return None;
        }
    };
    let opening = Opening {
        code: 200,
        msg: if sub.created {
            "您已经成功进入队列，请等待"
        } else if sub.ended {
            "您的充电请求已结束"
        } else {
            "已恢复您的充电请求"
        },
        resumed: !sub.created,
        note: (asked && !sub.created)
            .then_some("已有进行中（或刚结束）的充电请求：本次的mode和quantity未使用"),
        view: sub.view.as_ref().map(|v| RequestView::new(state, v)),
    };
    if !send(socket, &opening).await {
        return None;
    }
    for notice in std::mem::take(&mut sub.backlog) {
        if !send(socket, &render(state, &notice)).await {
            return None;
        }
    }
    if sub.ended {
        let _ = socket.send(Message::Close(None)).await;
        return None;
    }
    let token = params.optional("token").unwrap_or_default().to_owned();
    Some((token, sub.events))
}

/// The driver's subscription to their request, and whether the opening asked for one.
async fn subscribe(
    state: &AppState,
    params: &Params,
) -> Result<(Subscription, bool), ChargingError> {
    let user = driver(state, params).await?;
    let request = opening_request(params)?;
    let since = match params.optional("since").map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Err(ChargingError::invalid("since: 须为事件序号（整数）")),
    };
    let asked = request.is_some();
    let sub = state.charging.open(&user, request, since).await?;
    Ok((sub, asked))
}

/// What woke a waiting stream.
enum Wake {
    Notice(Option<Arc<Notice>>),
    Incoming(Option<Result<Message, axum::Error>>),
    Ping,
}

/// Follows the request: its events go out, the client's messages are answered, the server
/// pings; until the request ends or the socket closes (which leaves the request as it is).
async fn follow(state: AppState, mut socket: Box<WebSocket>, token: String, mut events: Events) {
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let wake = tokio::select! {
            notice = events.recv() => Wake::Notice(notice),
            incoming = socket.recv() => Wake::Incoming(incoming),
            _ = pings.tick() => Wake::Ping,
        };
        match wake {
            Wake::Incoming(_) => last_heard = tokio::time::Instant::now(),
            // Gone without a word (a proxy dropped it): the request stays.
            Wake::Ping if last_heard.elapsed() > IDLE_LIMIT => return,
            _ => {}
        }
        // On the heap: the rendering and the station's calls are not part of what a waiting
        // stream holds.
        if !Box::pin(answer(&state, &mut socket, &token, wake)).await {
            return;
        }
    }
}

/// Does what woke the stream asks for; false when the stream is over.
async fn answer(state: &AppState, socket: &mut WebSocket, token: &str, wake: Wake) -> bool {
    match wake {
        Wake::Notice(Some(notice)) => {
            if !send(socket, &render(state, &notice)).await {
                return false;
            }
            if notice.kind.is_final() {
                let _ = socket.send(Message::Close(None)).await;
                return false;
            }
            true
        }
        Wake::Notice(None) => {
            // The station was reset under the request.
            let reset = json!({"code": -1, "msg": "充电请求已被站点清除", "error": "reset"});
            let _ = send(socket, &reset).await;
            let _ = socket.send(Message::Close(None)).await;
            false
        }
        Wake::Incoming(Some(Ok(Message::Text(text)))) => {
            let reply = operation(state, token, text.as_str()).await;
            send(socket, &reply).await
        }
        Wake::Incoming(Some(Ok(Message::Binary(_)))) => {
            let reply = json!({"code": -1, "msg": "请发送JSON文本消息", "error": "invalid"});
            send(socket, &reply).await
        }
        Wake::Incoming(Some(Ok(_))) => true,
        // Closed or broken: the request stays.
        Wake::Incoming(Some(Err(_)) | None) => false,
        Wake::Ping => socket.send(Message::Ping(Default::default())).await.is_ok(),
    }
}

/// The request an opening makes (when the driver has none in progress): `mode` and
/// `quantity` both, or neither (a resume).
fn opening_request(
    params: &Params,
) -> Result<Option<(crate::domain::charging::station::Mode, i64, Option<i64>)>, ChargingError> {
    match (params.optional("mode"), params.optional("quantity")) {
        (None, None) => Ok(None),
        (Some(mode), Some(q)) => Ok(Some((
            parse_mode(mode)?,
            parse_kwh(q, "quantity")?,
            capacity(params)?,
        ))),
        (None, Some(_)) => Err(ChargingError::invalid("mode: 请选择充电模式(fast/common)")),
        (Some(_), None) => Err(ChargingError::invalid("quantity: 请填写充电量")),
    }
}

/// Carries out a client message; the reply. The token is checked again each time: a stream
/// outlives neither its token nor its account.
async fn operation(state: &AppState, token: &str, text: &str) -> Value {
    if text.trim().eq_ignore_ascii_case("ping") {
        return json!({"code": 200, "event": "pong", "msg": "pong"});
    }
    let driver = match state.charging.authenticate(token).await {
        Ok(d) => d,
        Err(e) => {
            let mut body = ChargingError::from(e).body();
            body["event"] = json!("reply");
            return body;
        }
    };
    let user = driver.username.as_str();
    let message: Value = match serde_json::from_str(&lenient_json(text)) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return json!({"code": -1, "event": "reply", "msg": "消息须为JSON对象，如 {\"operation\":\"cancel\"}", "error": "invalid"});
        }
    };
    let field = |k: &str| -> Option<String> {
        match message.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let op = field("operation").unwrap_or_default();
    let result: Result<(&str, Option<RequestView>), ChargingError> = async {
        match op.as_str() {
            "revise" | "modify" => {
                let mode = field("mode").map(|m| parse_mode(&m)).transpose()?;
                let wh = field("quantity")
                    .map(|q| parse_kwh(&q, "quantity"))
                    .transpose()?;
                let view = state.charging.modify(user, mode, wh).await?;
                Ok(("修改成功", Some(RequestView::new(state, &view))))
            }
            "cancel" => {
                state.charging.cancel(user).await?;
                Ok(("已取消充电", None))
            }
            "info" | "query" => {
                let view = state.charging.info(&driver).await?;
                Ok(("ok", view.map(|v| RequestView::new(state, &v))))
            }
            _ => Err(ChargingError::invalid(
                "operation: 须为revise(修改)或cancel(取消)",
            )),
        }
    }
    .await;
    match result {
        Ok((msg, view)) => {
            let mut reply = json!({"code": 200, "event": "reply", "operation": op, "msg": msg});
            if let (Some(view), Value::Object(map)) = (view, &mut reply) {
                if let Ok(Value::Object(v)) = serde_json::to_value(view) {
                    map.extend(v);
                }
            }
            reply
        }
        Err(e) => {
            let mut body = e.body();
            body["event"] = json!("reply");
            body["operation"] = json!(op);
            body
        }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    code: i32,
    event: &'static str,
    seq: u64,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<LogEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charged: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fee: Option<f64>,
}

fn render<'a>(state: &AppState, n: &'a Notice) -> Event<'a> {
    let mut e = Event {
        code: 200,
        event: "",
        seq: n.seq,
        msg: String::new(),
        number: None,
        mode: None,
        quantity: None,
        pile: None,
        start_time: None,
        record: None,
        charged: None,
        fee: None,
    };
    match &n.kind {
        NoticeKind::Queued { number, mode, wh } => {
            e.event = "queued";
            e.msg = format!("您的排队号码是{number}，请在等候区等待叫号");
            e.number = Some(number);
            e.mode = Some(mode_name(*mode));
            e.quantity = Some(*wh as f64 / 1000.0);
        }
        NoticeKind::Called { pile, moved } => {
            e.event = if *moved { "moved" } else { "called" };
            e.msg = if *moved {
                format!("您已被调度到{pile}号充电桩")
            } else {
                format!("叫号：请到{pile}号充电桩排队充电")
            };
            e.pile = Some(pile);
        }
        NoticeKind::Started { pile, at } => {
            e.event = "charging";
            e.msg = format!("{pile}号充电桩开始为您充电");
            e.pile = Some(pile);
            e.start_time = Some(
                crate::domain::Timestamp::from_millis(*at).local_datetime(state.settings.zone),
            );
        }
        NoticeKind::Ended { record, done } => {
            let reason = record.reason;
            use crate::domain::charging::station::EndReason as R;
            (e.event, e.msg) = match (reason, done) {
                (R::Finished, _) => ("finished", "充电完成，已生成详单".to_owned()),
                (R::Cancelled, _) => ("cancelled", "已取消充电，已生成详单".to_owned()),
                (R::Fault, _) => (
                    "interrupted",
                    format!(
                        "{}号充电桩故障，充电中断，已生成详单，请等待重新调度",
                        record.pile
                    ),
                ),
                (R::SwitchedOff, _) => (
                    "interrupted",
                    format!(
                        "{}号充电桩已关闭，充电中断，已生成详单，请等待重新调度",
                        record.pile
                    ),
                ),
            };
            e.pile = Some(&record.pile);
            e.record = Some(LogEntry::new(state, record));
        }
        NoticeKind::Renumbered { number, mode } => {
            e.event = "renumbered";
            e.msg = format!("充电模式已修改，新的排队号码是{number}");
            e.number = Some(number);
            e.mode = Some(mode_name(*mode));
        }
        NoticeKind::Revised { wh } => {
            e.event = "revised";
            e.msg = "充电量已修改".to_owned();
            e.quantity = Some(*wh as f64 / 1000.0);
        }
        NoticeKind::Metered { wh, fee } => {
            e.event = "metered";
            e.msg = "充电桩电表读数已更新".to_owned();
            e.charged = Some(*wh as f64 / 1000.0);
            e.fee = Some(*fee as f64 / 100.0);
        }
        NoticeKind::Cancelled => {
            e.event = "cancelled";
            e.msg = "已取消充电".to_owned();
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::lenient_json;

    #[test]
    fn reads_the_documents_message() {
        let text = "{  \n  \n    \"operation\":\"revise\", // 进行修改操作，后端利用字典进行查询\n  \n    \"mode\":\"quick\", // quick为快充  \n  \n}";
        let v: serde_json::Value =
            serde_json::from_str(&lenient_json(text)).expect("lenient JSON parses");
        assert_eq!(v["operation"], "revise");
        assert_eq!(v["mode"], "quick");
        let v: serde_json::Value =
            serde_json::from_str(&lenient_json(r#"{"a":"x // y, }", /* c */ "b":[1,2,],}"#))
                .expect("lenient JSON parses");
        assert_eq!(v["a"], "x // y, }");
        assert_eq!(v["b"], serde_json::json!([1, 2]));
    }
}
