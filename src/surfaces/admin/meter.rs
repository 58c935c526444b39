//! Admin handlers for prepaid meters: readings, API accounts, CSV imports, households.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{AdminError, AdminResult, Body, OperatorAuth, RawBody, report_json, text_of};
use crate::surfaces::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadingItem {
    table_no: String,
    reading: Value,
    read_time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingBatch {
    readings: Vec<ReadingItem>,
}

/// `POST /admin/v1/meter/readings` `{"readings": [{"tableNo", "reading", "readTime"}]}`: all or
/// nothing; the same reading again is counted as unchanged.
pub async fn meter_readings(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(batch): Body<ReadingBatch>,
) -> AdminResult {
    let inputs: Vec<crate::domain::meter::ReadingInput> = batch
        .readings
        .into_iter()
        .map(|r| crate::domain::meter::ReadingInput {
            table_no: r.table_no,
            reading: text_of(&Some(r.reading)),
            read_time: r.read_time,
        })
        .collect();
    let report = state.meter.record_readings(&inputs).await?;
    tracing::info!(operator = %op.username, applied = report.applied, "meter readings recorded");
    Ok(Json(
        json!({"applied": report.applied, "unchanged": report.unchanged}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterAccountRequest {
    admin_user_name: Option<String>,
    api_password: Option<String>,
}

/// `POST /admin/v1/meter/accounts` `{admin_user_name, api_password}`: a new API account (201).
pub async fn create_meter_account(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<MeterAccountRequest>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let (Some(name), Some(password)) = (req.admin_user_name, req.api_password) else {
        return Err(AdminError::bad_request(
            "admin_user_name and api_password are required",
        ));
    };
    state.meter.create_account(&name, &password).await?;
    tracing::info!(operator = %op.username, account = %name, "meter API account created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"admin_user_name": name.trim()})),
    ))
}

/// `POST /admin/v1/meter/import` with the CSV file as the body.
pub async fn import_meters(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    RawBody(body): RawBody,
) -> AdminResult {
    let report = state.meter.import(&body).await?;
    tracing::info!(operator = %op.username, rows = report.rows, "meters imported");
    Ok(Json(report_json(report)))
}

/// `GET /admin/v1/meter/households/{user_code}`: balance and meters.
pub async fn meter_household(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    Path(user_code): Path<String>,
) -> AdminResult {
    let (account, h, meters) = state.meter.household_any(&user_code).await?;
    let zone = state.settings.zone;
    Ok(Json(json!({
        "user_code": h.user_code,
        "admin_user_name": account,
        "build_code": h.build_code,
        "address": h.address,
        "user_name": h.user_name,
        "house_number": h.house_number,
        "balance": h.balance.yuan_string(),
        "meters": meters.iter().map(|m| json!({
            "tableNo": m.table_no,
            "tableType": m.table_type,
            "reading": crate::domain::money::Fen(m.reading).yuan_string(),
            "readTime": m.read_time.map(|t| t.local_datetime(zone)),
        })).collect::<Vec<_>>(),
    })))
}

/// `POST /admin/v1/meter/accounts/{name}/disable` and `.../enable`: the account's API rights
/// (a disabled account gets 1002 at login and with its tokens).
pub async fn disable_meter_account(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    state.meter.set_account_enabled(&name, false).await?;
    tracing::info!(operator = %op.username, account = %name, "meter account disabled");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable_meter_account(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    state.meter.set_account_enabled(&name, true).await?;
    tracing::info!(operator = %op.username, account = %name, "meter account enabled");
    Ok(StatusCode::NO_CONTENT)
}
