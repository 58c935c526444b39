//! The station operator's side of the charging surface: piles and their queues, switching piles
//! off and on (and recording faults and recoveries), the waiting area, reports by day, week and
//! month, the configuration, the detail records, and under `--dev` a reset for replays.
//!
//! Money is shown as yuan strings (`"12.34"`) with the fen beside (`*_fen`), energy as kWh
//! numbers, times as ISO 8601 UTC.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{AdminError, Body, OperatorAuth};
use crate::domain::Timestamp;
use crate::domain::charging::boxes::{BoxView, Command, Reply as BoxReply};
use crate::domain::charging::service::{CarView, PileAction, Record, reason_str};
use crate::domain::charging::settings::StationSettings;
use crate::domain::charging::station::{Mode, PileState};
use crate::domain::money::Fen;
use crate::surfaces::AppState;
use crate::surfaces::charging::wire::{hours, kwh};

type Reply = Result<Response, AdminError>;

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Fast => "fast",
        Mode::Slow => "slow",
    }
}

fn yuan(fen: i64) -> String {
    Fen(fen).yuan_string()
}

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).iso_utc_ms()
}

fn car_json(state: &AppState, c: &CarView) -> Value {
    let now = state.now().millis();
    json!({
        "user": c.user,
        "number": c.number,
        "mode": mode_str(c.mode),
        "state": c.state.as_str(),
        "pile": c.pile,
        "battery_capacity_kwh": c.capacity_wh.map(kwh),
        "requested_kwh": kwh(c.requested_wh),
        "charged_kwh": kwh(c.charged_wh),
        "fee_so_far": yuan(c.fee_so_far),
        "fee_so_far_fen": c.fee_so_far,
        "arrived_at": iso(c.arrived_at),
        "queued_at": c.queued_at.map(iso),
        "queued_seconds": c.queued_at.map(|t| (now - t).max(0) / 1000),
    })
}

fn pile_state(s: PileState) -> &'static str {
    match s {
        PileState::Working => "working",
        PileState::Off => "off",
        PileState::Fault => "fault",
    }
}

/// `GET /admin/v1/charging/piles`
pub async fn piles(State(state): State<AppState>, OperatorAuth(_op): OperatorAuth) -> Reply {
    let piles = state.charging.piles().await?;
    let list: Vec<Value> = piles
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "no": p.no,
                "mode": mode_str(p.mode),
                "state": pile_state(p.state),
                "power_kw": kwh(p.power_w),
                "sessions": p.sessions,
                "total_hours": hours(p.charged_ms),
                "total_kwh": kwh(p.charged_wh),
                "charge_fee": yuan(p.charge_fee),
                "service_fee": yuan(p.service_fee),
                "total_fee": yuan(p.charge_fee + p.service_fee),
                "kind": if p.charge_box.is_some() { "ocpp" } else { "simulated" },
                "box": p.charge_box,
                "cars": p.cars.iter().map(|c| car_json(&state, c)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"now": state.now().iso_utc_ms(), "piles": list})).into_response())
}

#[derive(Deserialize)]
pub struct StateRequest {
    state: Option<String>,
}

/// `POST /admin/v1/charging/piles/{id}/state {"state": "on"|"off"|"fault"|"recover"}`
pub async fn pile_state_change(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<StateRequest>,
) -> Reply {
    let action = match req.state.as_deref().map(str::trim) {
        Some("on") => PileAction::On,
        Some("off") => PileAction::Off,
        Some("fault") => PileAction::Fault,
        Some("recover") => PileAction::Recover,
        _ => {
            return Err(AdminError::bad_request(
                "state: must be \"on\", \"off\", \"fault\" or \"recover\"",
            ));
        }
    };
    state.charging.pile_action(&id, action).await?;
    state
        .boxes
        .operator_changed(&id, action == PileAction::Fault)
        .await;
    tracing::info!(operator = %op.username, pile = %id, ?action, "charging pile state changed");
    piles(State(state), OperatorAuth(op)).await
}

/// `GET /admin/v1/charging/waiting`: the waiting area in order, and the cars taken off failed
/// piles not placed yet (`displaced`).
pub async fn waiting(State(state): State<AppState>, OperatorAuth(_op): OperatorAuth) -> Reply {
    let (waiting, displaced) = state.charging.waiting().await?;
    let capacity = state.charging.config().await?.waiting_capacity;
    Ok(Json(json!({
        "now": state.now().iso_utc_ms(),
        "capacity": capacity,
        "waiting": waiting.iter().map(|c| car_json(&state, c)).collect::<Vec<_>>(),
        "displaced": displaced.iter().map(|c| car_json(&state, c)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct ReportQuery {
    period: Option<String>,
    date: Option<String>,
}

/// `GET /admin/v1/charging/report?period=day|week|month[&date=YYYY-MM-DD]`: per pile, the
/// sessions that ended in the local day, week (Monday first) or month holding `date` (today by
/// default).
pub async fn report(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Reply {
    let Query(q) = query.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let zone = state.settings.zone;
    let date = match q.date.as_deref() {
        None => state.now().local_calendar_date(zone),
        Some(d) => crate::domain::time::parse_date(d)
            .ok_or_else(|| AdminError::bad_request("date: must be YYYY-MM-DD"))?,
    };
    let period = q.period.as_deref().unwrap_or("day");
    let (from, to) = match period {
        "day" => (Some(date), date.next_day()),
        "week" => {
            let back = time::Duration::days(i64::from(date.weekday().number_days_from_monday()));
            let monday = date.checked_sub(back);
            let next = monday.and_then(|m| m.checked_add(time::Duration::days(7)));
            (monday, next)
        }
        "month" => {
            let first = date.replace_day(1).ok();
            let next = first.and_then(|f| {
                let (y, m) = if f.month() == time::Month::December {
                    (f.year() + 1, time::Month::January)
                } else {
                    (f.year(), f.month().next())
                };
                time::Date::from_calendar_date(y, m, 1).ok()
            });
            (first, next)
        }
        _ => {
            return Err(AdminError::bad_request(
                "period: must be day, week or month",
            ));
        }
    };
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AdminError::bad_request("date: out of range"));
    };
    let from_ms = Timestamp::start_of_local_date(from, zone).millis();
    let to_ms = Timestamp::start_of_local_date(to, zone).millis();
    let sums = state.charging.report(from_ms, to_ms).await?;
    let mut totals = (0i64, 0i64, 0i64, 0i64, 0i64);
    let piles: Vec<Value> = sums
        .iter()
        .map(|s| {
            totals.0 += s.sessions;
            totals.1 += s.ms;
            totals.2 += s.wh;
            totals.3 += s.charge_fee;
            totals.4 += s.service_fee;
            json!({
                "pile": s.pile,
                "no": s.pile_no,
                "sessions": s.sessions,
                "hours": hours(s.ms),
                "kwh": kwh(s.wh),
                "charge_fee": yuan(s.charge_fee),
                "service_fee": yuan(s.service_fee),
                "total": yuan(s.charge_fee + s.service_fee),
                "total_fen": s.charge_fee + s.service_fee,
            })
        })
        .collect();
    Ok(Json(json!({
        "period": period,
        "from": from.to_string(),
        "to": to.to_string(),
        "piles": piles,
        "total": {
            "sessions": totals.0,
            "hours": hours(totals.1),
            "kwh": kwh(totals.2),
            "charge_fee": yuan(totals.3),
            "service_fee": yuan(totals.4),
            "total": yuan(totals.3 + totals.4),
            "total_fen": totals.3 + totals.4,
        },
    }))
    .into_response())
}

/// A detail record for the operator.
pub fn record_json(r: &Record) -> Value {
    json!({
        "id": r.id,
        "user": r.user,
        "number": r.number,
        "pile": r.pile,
        "kwh": kwh(r.wh),
        "requested_at": iso(r.requested_at),
        "created_at": iso(r.stop),
        "start": iso(r.start),
        "stop": iso(r.stop),
        "hours": hours(r.stop - r.start),
        "charge_fee": yuan(r.charge_fee),
        "service_fee": yuan(r.service_fee),
        "total": yuan(r.total()),
        "total_fen": r.total(),
        "reason": reason_str(r.reason),
    })
}

#[derive(Deserialize)]
pub struct RecordsQuery {
    limit: Option<i64>,
}

/// `GET /admin/v1/charging/records?limit=N`: the latest detail records (100 by default).
pub async fn records(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Reply {
    let Query(q) = query.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(AdminError::bad_request("limit: must be 1-10000"));
    }
    let list = state.charging.all_records(limit).await?;
    Ok(Json(json!({"records": list.iter().map(record_json).collect::<Vec<_>>()})).into_response())
}

fn settings_json(s: &StationSettings) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// `GET /admin/v1/charging/config`
pub async fn get_config(State(state): State<AppState>, OperatorAuth(_op): OperatorAuth) -> Reply {
    let config = state.charging.config().await?;
    Ok(Json(settings_json(&StationSettings::from_config(&config))).into_response())
}

/// The body's keys: a JSON object (an empty body reads as `{}`, no change; `null` is refused).
fn changes(body: Value) -> Result<serde_json::Map<String, Value>, AdminError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(AdminError::bad_request("config: must be a JSON object")),
    }
}

/// `PUT /admin/v1/charging/config`: any keys of `GET`; prices, the service fee, the fault
/// policy and the waiting area apply at once, pile counts, powers and the queue length only to
/// an empty station (409 otherwise).
pub async fn put_config(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(body): Body<Value>,
) -> Reply {
    let config = state.charging.set_config(changes(body)?).await?;
    tracing::info!(operator = %op.username, "charging configuration changed");
    Ok(Json(settings_json(&StationSettings::from_config(&config))).into_response())
}

/// `POST /admin/v1/charging/reset [config]` (`--dev` only): an empty station, with the given
/// configuration keys changed, and no detail records: for replays.
pub async fn reset(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(body): Body<Value>,
) -> Reply {
    if !state.config.dev.enabled {
        return Err(AdminError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the station can be reset only under --dev",
        ));
    }
    let config = state.charging.reset(changes(body)?).await?;
    tracing::info!(operator = %op.username, "charging station reset");
    Ok(Json(settings_json(&StationSettings::from_config(&config))).into_response())
}

#[derive(Deserialize)]
pub struct DriverRequest {
    username: Option<String>,
    password: Option<String>,
}

/// `POST /admin/v1/charging/drivers {username, password}` (201): a driver account made by the
/// station (a fleet's drivers), without the captcha of self-registration.
pub async fn create_driver(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<DriverRequest>,
) -> Reply {
    let driver = state
        .charging
        .create_driver(
            req.username.as_deref().unwrap_or_default(),
            req.password.as_deref().unwrap_or_default(),
        )
        .await?;
    tracing::info!(operator = %op.username, driver = %driver.username, "charging driver created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": driver.username})),
    )
        .into_response())
}

/// A charge box for the operator (never its password).
fn box_json(b: &BoxView) -> Value {
    json!({
        "id": b.id,
        "pile": b.pile,
        "connected": b.connected,
        "accepted": b.accepted,
        "last_seen": b.last_seen.map(iso),
        "vendor": b.vendor,
        "model": b.model,
        "serial": b.serial,
        "firmware": b.firmware,
        "status": b.status,
        "error_code": b.error_code,
        "smart_charging": b.smart_charging,
        "transaction": b.transaction.as_ref().map(|t| json!({
            "id": t.id,
            "car": t.number,
            "user": t.user,
            "started_at": iso(t.started_at),
            "meter_start_kwh": kwh(t.meter_start_wh),
            "meter_kwh": kwh(t.meter_wh),
            "charged_kwh": kwh(t.meter_wh - t.meter_start_wh),
            "stopping": t.stopping,
        })),
    })
}

/// `GET /admin/v1/charging/boxes`: every OCPP charge box, its pile, link and transaction.
pub async fn list_boxes(State(state): State<AppState>, OperatorAuth(_op): OperatorAuth) -> Reply {
    let boxes = state.boxes.list().await?;
    Ok(Json(json!({"boxes": boxes.iter().map(box_json).collect::<Vec<_>>()})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxRequest {
    password: Option<String>,
    /// Absent: unchanged; `null`: no pile.
    #[serde(default, deserialize_with = "present")]
    pile: Option<Option<String>>,
}

/// A field that may be `null`: `Some(None)`, told apart from an absent one (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PUT /admin/v1/charging/boxes/{id} {"password"?, "pile"?}`: creates a box (a password of
/// 16-40 characters is then required) or changes its password and the pile it drives.
pub async fn put_box(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<BoxRequest>,
) -> Reply {
    let view = state
        .boxes
        .put(&id, req.password.as_deref(), req.pile.clone())
        .await?;
    tracing::info!(operator = %op.username, charge_box = %id, pile = ?view.pile, password_set = req.password.is_some(), "charge box changed");
    Ok(Json(json!({"box": box_json(&view)})).into_response())
}

/// `DELETE /admin/v1/charging/boxes/{id}`: the box goes; its pile becomes simulated.
pub async fn delete_box(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    state.boxes.delete(&id).await?;
    tracing::info!(operator = %op.username, charge_box = %id, "charge box removed");
    Ok(Json(json!({"deleted": id})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn command_reply(reply: &BoxReply) -> Reply {
    match reply {
        BoxReply::Answer(_) => {
            Ok(Json(json!({"status": reply.status().unwrap_or("unknown")})).into_response())
        }
        BoxReply::Error { code, description } => Err(AdminError::new(
            StatusCode::BAD_GATEWAY,
            "box_error",
            format!("the charge box answered {code}: {description}"),
        )),
        BoxReply::Timeout | BoxReply::Closed => Err(AdminError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the charge box did not answer",
        )),
    }
}

/// `POST /admin/v1/charging/piles/{id}/reset {"type": "soft"|"hard"}`: resets an OCPP pile's
/// box; its answer (`Accepted` or `Rejected`).
pub async fn reset_pile(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<ResetRequest>,
) -> Reply {
    let hard = match req.kind.as_deref().map(str::trim) {
        None | Some("soft" | "Soft") => false,
        Some("hard" | "Hard") => true,
        Some(_) => {
            return Err(AdminError::bad_request(
                "type: must be \"soft\" or \"hard\"",
            ));
        }
    };
    let reply = state.boxes.operate(&id, Command::Reset { hard }).await?;
    tracing::info!(operator = %op.username, pile = %id, hard, "charge box reset asked");
    command_reply(&reply)
}

/// `POST /admin/v1/charging/piles/{id}/unlock`: unlocks an OCPP pile's connector; the box's
/// answer (`Unlocked`, `UnlockFailed` or `NotSupported`).
pub async fn unlock_pile(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    let reply = state.boxes.operate(&id, Command::Unlock).await?;
    tracing::info!(operator = %op.username, pile = %id, "connector unlock asked");
    command_reply(&reply)
}

/// `GET /admin/v1/charging/tags`: the drivers' cards.
pub async fn list_tags(State(state): State<AppState>, OperatorAuth(_op): OperatorAuth) -> Reply {
    let tags = state.boxes.tags().await?;
    let list: Vec<Value> = tags
        .iter()
        .map(|(tag, driver, since)| json!({"id_tag": tag, "driver": driver, "created_at": iso(*since)}))
        .collect();
    Ok(Json(json!({"tags": list})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    driver: Option<String>,
}

/// `PUT /admin/v1/charging/tags/{idTag} {"driver": "<username>"}`: gives a card to a driver.
pub async fn put_tag(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(tag): Path<String>,
    Body(req): Body<TagRequest>,
) -> Reply {
    let Some(driver) = req.driver.filter(|d| !d.trim().is_empty()) else {
        return Err(AdminError::bad_request(
            "driver: the driver's user name is required",
        ));
    };
    state.boxes.put_tag(&tag, driver.trim()).await?;
    tracing::info!(operator = %op.username, %driver, "driver card registered");
    Ok(Json(json!({"id_tag": tag, "driver": driver.trim()})).into_response())
}

/// `DELETE /admin/v1/charging/tags/{idTag}`
pub async fn delete_tag(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(tag): Path<String>,
) -> Reply {
    state.boxes.delete_tag(&tag).await?;
    tracing::info!(operator = %op.username, "driver card removed");
    Ok(Json(json!({"deleted": tag})).into_response())
}
