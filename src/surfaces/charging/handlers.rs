//! The document's HTTP endpoints (login, register, the two history lists), the captcha that
//! registration needs, and the charging operations over HTTP for clients without a WebSocket.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::envelope::{ChargingError, Params, parse_kwh, parse_mode};
use crate::domain::Timestamp;
use crate::domain::charging::service::{CarView, Record};
use crate::domain::charging::station::Mode;
use crate::domain::charging::users::{Driver, SURFACE};
use crate::domain::money::FixedNumber;
use crate::surfaces::AppState;
use crate::surfaces::ClientIp;

type Reply = Result<Response, ChargingError>;

/// The cookie that carries the last captcha's id.
pub const CAPTCHA_COOKIE: &str = "charging_captcha";

/// The mode as the document writes it.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Fast => "fast",
        Mode::Slow => "common",
    }
}

fn local(state: &AppState, ms: i64) -> String {
    Timestamp::from_millis(ms).local_datetime(state.settings.zone)
}

/// kWh from Wh, as a plain JSON number (`100.5`).
pub fn kwh(wh: i64) -> f64 {
    wh as f64 / 1000.0
}

/// Hours from milliseconds, to four decimals.
pub fn hours(ms: i64) -> f64 {
    (ms as f64 / 360.0).round() / 10_000.0
}

fn hms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A detail record as the history lists it. `/user/log` has a numeric `id` and `timeOfUse`
/// in hours; `/user/lognew` has both as strings (`timeOfUse` as `HH:MM:SS`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<Id, Use> {
    id: Id,
    time: String,
    station_id: i64,
    quantity: f64,
    time_of_use: Use,
    start_time: String,
    end_time: String,
    cost_of_charge: FixedNumber,
    cost_of_service: FixedNumber,
    cost: FixedNumber,
}

/// A `/user/log` entry (also the record a stream's last event carries).
pub type LogEntry = Entry<i64, f64>;
/// A `/user/lognew` entry.
type LogNewEntry = Entry<String, String>;

impl<Id, Use> Entry<Id, Use> {
    fn with(state: &AppState, r: &Record, id: Id, time_of_use: Use) -> Self {
        Entry {
            id,
            time: local(state, r.requested_at),
            station_id: r.pile_no,
            quantity: kwh(r.wh),
            time_of_use,
            start_time: local(state, r.start),
            end_time: local(state, r.stop),
            cost_of_charge: FixedNumber(r.charge_fee, 2),
            cost_of_service: FixedNumber(r.service_fee, 2),
            cost: FixedNumber(r.total(), 2),
        }
    }
}

impl LogEntry {
    pub fn new(state: &AppState, r: &Record) -> LogEntry {
        Entry::with(state, r, r.id, hours(r.stop - r.start))
    }
}

impl LogNewEntry {
    fn new(state: &AppState, r: &Record) -> LogNewEntry {
        Entry::with(state, r, r.id.to_string(), hms(r.stop - r.start))
    }
}

/// A request in progress, as its driver sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    number: String,
    mode: &'static str,
    state: &'static str,
    pile: Option<String>,
    /// Cars of the same mode ahead.
    ahead: usize,
    quantity: f64,
    charged: f64,
    fee: FixedNumber,
    time: String,
}

impl RequestView {
    pub fn new(state: &AppState, v: &CarView) -> RequestView {
        RequestView {
            number: v.number.clone(),
            mode: mode_name(v.mode),
            state: v.state.as_str(),
            pile: v.pile.clone(),
            ahead: v.ahead,
            quantity: kwh(v.requested_wh),
            charged: kwh(v.charged_wh),
            fee: FixedNumber(v.fee_so_far, 2),
            time: local(state, v.arrived_at),
        }
    }
}

#[derive(Serialize)]
struct WithView<'a> {
    code: i32,
    msg: &'a str,
    #[serde(flatten)]
    view: RequestView,
}

fn view_reply(state: &AppState, msg: &str, v: &CarView) -> Response {
    Json(WithView {
        code: 200,
        msg,
        view: RequestView::new(state, v),
    })
    .into_response()
}

/// `GET /captcha`: `{code, msg, captchaId, image}` (a PNG data URL); `?format=png` gives the
/// PNG itself with its id in `X-Captcha-Id`. The id also comes back as a cookie.
pub async fn captcha(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    params: Params,
) -> Reply {
    // Under --dev a test harness registers hundreds of drivers from one address on a clock
    // that stands still: no limit there.
    if let Some(ip) = ip.filter(|_| !state.config.dev.enabled) {
        if let Err(wait) = state.captcha_limiter.check(ip).await {
            return Err(ChargingError {
                retry_after: Some(wait),
                ..ChargingError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("验证码请求过于频繁，请{wait}秒后再试"),
                )
            });
        }
    }
    let captcha = state.codes.issue_captcha(SURFACE).await?;
    if let Some(ip) = ip {
        remember_captcha(&state, ip, &captcha.id, captcha.expires_in_secs).await;
    }
    let png = crate::surfaces::captcha::png(&captcha.answer);
    let cookie = format!(
        "{CAPTCHA_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        captcha.id, captcha.expires_in_secs
    );
    let id_header = header::HeaderName::from_static("x-captcha-id");
    if params.optional("format") == Some("png") {
        return Ok((
            [
                (header::CONTENT_TYPE, "image/png".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (id_header, captcha.id.clone()),
                (header::SET_COOKIE, cookie),
            ],
            png,
        )
            .into_response());
    }
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (id_header, captcha.id.clone()),
        ],
        Json(serde_json::json!({
            "code": 200,
            "msg": "验证码已生成",
            "captchaId": captcha.id,
            "image": crate::surfaces::captcha::data_url(&png),
            "expiresIn": captcha.expires_in_secs,
        })),
    )
        .into_response())
}

/// The key the last captcha a client address fetched is remembered under.
fn captcha_key(ip: IpAddr) -> String {
    format!("charging-captcha:{ip}")
}

/// Remembers the last captcha each client address fetched, for as long as the captcha lives
/// and on every instance: the register call of a client that sends only the answer (as the
/// document does) is matched with it, wherever the balancer sends it. A store that cannot be
/// reached costs only that matching (the id and the cookie still work).
async fn remember_captcha(state: &AppState, ip: IpAddr, id: &str, ttl_secs: i64) {
    if let Err(e) = state.limits.remember(&captcha_key(ip), id, ttl_secs).await {
        tracing::warn!(error = %e, "could not remember the captcha of a client address");
    }
}

async fn captcha_id_of(
    state: &AppState,
    params: &Params,
    headers: &axum::http::HeaderMap,
    ip: Option<IpAddr>,
) -> String {
    if let Some(id) = params.optional_of(&["captchaId", "captcha_id", "codeId", "key"]) {
        return id.to_owned();
    }
    if let Some(id) = crate::surfaces::cookie(headers, CAPTCHA_COOKIE) {
        return id.to_owned();
    }
    let Some(ip) = ip else {
        return String::new();
    };
    match state.limits.recall(&captcha_key(ip)).await {
        Ok(id) => id.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "could not recall the captcha of a client address");
            String::new()
        }
    }
}

#[derive(Serialize)]
struct TokenReply<'a> {
    code: i32,
    msg: &'a str,
    token: String,
    username: String,
}

/// `POST /register`: username, password, code (the captcha's answer).
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Reply {
    let username = params.required("username", "用户名")?;
    let password = params.required("password", "密码")?;
    let code = params
        .optional_of(&["code", "captcha"])
        .ok_or_else(|| ChargingError::invalid("code: 请填写验证码"))?;
    let captcha_id = captcha_id_of(&state, &params, &headers, ip).await;
    let (token, driver) = state
        .charging
        .register(username, password, &captcha_id, code)
        .await?;
    Ok(Json(TokenReply {
        code: 200,
        msg: "注册成功",
        token,
        username: driver.username,
    })
    .into_response())
}

/// `POST /login`: username, password.
pub async fn login(State(state): State<AppState>, ClientIp(ip): ClientIp, params: Params) -> Reply {
    let username = params.required("username", "用户名")?;
    let password = params.required("password", "密码")?;
    let (token, driver) = state.charging.login(username, password, ip).await?;
    Ok(Json(TokenReply {
        code: 200,
        msg: "登录成功",
        token,
        username: driver.username,
    })
    .into_response())
}

/// The driver the `token` parameter (or bearer header) belongs to.
pub async fn driver(state: &AppState, params: &Params) -> Result<Driver, ChargingError> {
    let token = params.optional("token").ok_or_else(|| {
        ChargingError::from(crate::domain::Error::Unauthorized(
            crate::domain::AuthFailure::Missing,
        ))
    })?;
    Ok(state.charging.authenticate(token).await?)
}

/// `num`: 10 by default; a positive integer, at most 1,000 records are returned.
fn num(params: &Params) -> Result<i64, ChargingError> {
    match params.optional("num") {
        None => Ok(10),
        Some(n) => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(1000))
            .ok_or_else(|| ChargingError::invalid("num: 须为正整数")),
    }
}

/// `GET /user/log`: the driver's latest detail records, newest first, as a JSON array.
pub async fn log(State(state): State<AppState>, params: Params) -> Reply {
    let user = driver(&state, &params).await?.username;
    let records = state.charging.records(&user, num(&params)?).await?;
    let list: Vec<LogEntry> = records.iter().map(|r| LogEntry::new(&state, r)).collect();
    Ok(Json(list).into_response())
}

#[derive(Serialize)]
struct LogNewReply {
    code: i32,
    log: Vec<LogNewEntry>,
}

/// `GET /user/lognew`: `{code: 200, log: [...]}`.
pub async fn lognew(State(state): State<AppState>, params: Params) -> Reply {
    let user = driver(&state, &params).await?.username;
    let records = state.charging.records(&user, num(&params)?).await?;
    Ok(Json(LogNewReply {
        code: 200,
        log: records
            .iter()
            .map(|r| LogNewEntry::new(&state, r))
            .collect(),
    })
    .into_response())
}

/// Optional battery capacity (kWh).
pub fn capacity(params: &Params) -> Result<Option<i64>, ChargingError> {
    params
        .optional("capacity")
        .map(|c| parse_kwh(c, "capacity"))
        .transpose()
}

/// `POST /user/charge/apply {mode, quantity[, capacity]}`.
pub async fn apply(State(state): State<AppState>, params: Params) -> Reply {
    let user = driver(&state, &params).await?.username;
    let mode = parse_mode(params.required("mode", "充电模式")?)?;
    let wh = parse_kwh(params.required("quantity", "充电量")?, "quantity")?;
    let view = state
        .charging
        .apply(&user, mode, wh, capacity(&params)?)
        .await?;
    Ok(view_reply(&state, "您已经成功进入队列，请等待", &view))
}

/// `POST /user/charge/modify {mode?, quantity?}`: only in the waiting area.
pub async fn modify(State(state): State<AppState>, params: Params) -> Reply {
    let user = driver(&state, &params).await?.username;
    let mode = params.optional("mode").map(parse_mode).transpose()?;
    let wh = params
        .optional("quantity")
        .map(|q| parse_kwh(q, "quantity"))
        .transpose()?;
    let view = state.charging.modify(&user, mode, wh).await?;
    Ok(view_reply(&state, "修改成功", &view))
}

/// `POST /user/charge/cancel`: anywhere; a charging car gets its detail record.
pub async fn cancel(State(state): State<AppState>, params: Params) -> Reply {
    let user = driver(&state, &params).await?.username;
    state.charging.cancel(&user).await?;
    Ok(Json(serde_json::json!({"code": 200, "msg": "已取消充电"})).into_response())
}

/// `GET /user/charge/info`: the request in progress (`state: "none"` when there is none).
pub async fn info(State(state): State<AppState>, params: Params) -> Reply {
    let driver = driver(&state, &params).await?;
    match state.charging.info(&driver).await? {
        Some(view) => Ok(view_reply(&state, "ok", &view)),
        None => Ok(Json(serde_json::json!({
            "code": 200,
            "msg": "当前没有充电请求",
            "state": "none",
        }))
        .into_response()),
    }
}
