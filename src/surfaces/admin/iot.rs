//! The IoT platform's operator tasks: platform operators (A*) and, under `--dev`, simulated
//! payment of orders.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::envelope::{AdminError, Body, OperatorAuth};
use crate::domain::payments::Settlement;
use crate::surfaces::AppState;

/// `POST /admin/v1/iot/operators {"user", "pwd", "name"}`: a platform operator of the IoT
/// surface (its `pwd` plain or as MD5 hex, as the document sends it).
pub async fn create_operator(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<serde_json::Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let row = state
        .iot
        .partners
        .create_operator(crate::surfaces::iot::new_operator(req)?)
        .await?;
    tracing::info!(operator = %op.username, iot_operator = %row.uid, "iot platform operator created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"uid": row.uid, "user": row.login})),
    ))
}

/// `POST /admin/v1/iot/orders/{oid}/simulate-payment`: `--dev` without WeChat Pay only; pays
/// the order as if its member had. Repeating it changes nothing.
pub async fn simulate_payment(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(oid): Path<String>,
) -> Result<Json<Value>, AdminError> {
    if let Some(token) = crate::surfaces::bearer(&headers) {
        state.operators.authenticate(token).await?;
    }
    let outcome = state.iot.orders.simulate_payment(&oid).await?;
    Ok(Json(
        json!({"order_id": oid, "recorded": outcome == Settlement::Recorded}),
    ))
}
