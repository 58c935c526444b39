//! Admin handlers for the heating registry: accounts, bills, CSV imports.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{AdminError, AdminResult, Body, OperatorAuth, RawBody, report_json, text_of};
use crate::domain::heating::accounts::{AccountInput, HeatAccount};
use crate::domain::heating::bills::{Bill, BillInput};
use crate::domain::time::date_string;
use crate::surfaces::AppState;

fn account_json(a: &HeatAccount) -> Value {
    json!({
        "heat_account": a.heat_account,
        "real_name": a.real_name,
        "id_card": a.id_card,
        "address": a.address,
        "heating_area": serde_json::to_value(a.heating_area).unwrap_or(Value::Null),
        "bound_user_id": a.bound_user_id,
        "bound_at": a.bound_at.map(|t| t.iso_utc_ms()),
    })
}

fn bill_json(b: &Bill) -> Value {
    json!({
        "bill_id": b.bill_id,
        "heat_account": b.heat_account,
        "heating_season": b.heating_season,
        "amount": b.amount.yuan_string(),
        "amount_fen": b.amount.0,
        "bill_date": b.bill_date.iso_utc_ms(),
        "due_date": date_string(b.due_date),
        "status": b.status.as_str(),
        "paid_at": b.paid_at.map(|t| t.iso_utc_ms()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    prefix: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
}

/// `GET /admin/v1/heating/accounts?prefix=&page=&size=`
pub async fn list_accounts(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> AdminResult {
    let Query(q) = query.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let (page, size) = (q.page.unwrap_or(1), q.size.unwrap_or(20));
    let (total, items) = state
        .heating
        .accounts
        .list(q.prefix.as_deref().filter(|p| !p.is_empty()), page, size)
        .await?;
    let items: Vec<Value> = items.iter().map(account_json).collect();
    Ok(Json(
        json!({"total": total, "page": page, "size": size, "items": items}),
    ))
}

/// `GET /admin/v1/heating/accounts/{heat_account}`: the account and all its bills.
pub async fn get_account(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    Path(number): Path<String>,
) -> AdminResult {
    let account = state.heating.accounts.account(&number).await?;
    let bills: Vec<Value> = state
        .heating
        .accounts
        .bills_of(&number)
        .await?
        .iter()
        .map(bill_json)
        .collect();
    let mut body = account_json(&account);
    body["bills"] = Value::Array(bills);
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRequest {
    real_name: Option<String>,
    id_card: Option<String>,
    address: Option<String>,
    heating_area: Option<Value>,
}

/// `PUT /admin/v1/heating/accounts/{heat_account}`: creates or updates one account.
pub async fn put_account(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(number): Path<String>,
    Body(req): Body<AccountRequest>,
) -> AdminResult {
    let input = AccountInput {
        heat_account: number,
        real_name: req.real_name.unwrap_or_default(),
        id_card: req.id_card.unwrap_or_default(),
        address: req.address.unwrap_or_default(),
        heating_area: text_of(&req.heating_area),
    };
    let saved = state.heating.accounts.save(&input).await?;
    tracing::info!(operator = %op.username, account = %saved.heat_account, "heat account saved");
    Ok(Json(account_json(&saved)))
}

/// `POST /admin/v1/heating/accounts/{heat_account}/unbind`
pub async fn unbind_account(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(number): Path<String>,
) -> AdminResult {
    state.heating.accounts.release(&number).await?;
    tracing::info!(operator = %op.username, account = %number, "heat account unbound");
    Ok(Json(account_json(
        &state.heating.accounts.account(&number).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    bill_id: Option<String>,
    heat_account: Option<String>,
    heating_season: Option<String>,
    amount: Option<Value>,
    bill_date: Option<String>,
    due_date: Option<String>,
    status: Option<String>,
    paid_at: Option<String>,
}

/// `POST /admin/v1/heating/bills`: adds one bill (201).
pub async fn create_bill(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<BillRequest>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let input = BillInput {
        bill_id: req.bill_id.unwrap_or_default(),
        heat_account: req.heat_account.unwrap_or_default(),
        heating_season: req.heating_season.unwrap_or_default(),
        amount: text_of(&req.amount),
        bill_date: req.bill_date.unwrap_or_default(),
        due_date: req.due_date.unwrap_or_default(),
        status: req.status.unwrap_or_default(),
        paid_at: req.paid_at.unwrap_or_default(),
    };
    let bill = state.heating.accounts.create_bill(&input).await?;
    tracing::info!(operator = %op.username, bill = %bill.bill_id, "bill created");
    Ok((StatusCode::CREATED, Json(bill_json(&bill))))
}

/// `POST /admin/v1/heating/accounts/import` with the CSV file as the body.
pub async fn import_accounts(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    RawBody(body): RawBody,
) -> AdminResult {
    let report = state.heating.accounts.import_accounts(&body).await?;
    tracing::info!(operator = %op.username, rows = report.rows, "heat accounts imported");
    Ok(Json(report_json(report)))
}

/// `POST /admin/v1/heating/bills/import` with the CSV file as the body.
pub async fn import_bills(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    RawBody(body): RawBody,
) -> AdminResult {
    let report = state.heating.accounts.import_bills(&body).await?;
    tracing::info!(operator = %op.username, rows = report.rows, "bills imported");
    Ok(Json(report_json(report)))
}

/// `GET /admin/v1/heating/orders/{order_id}`
pub async fn get_order(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    Path(order_id): Path<String>,
) -> AdminResult {
    let (o, bills) = state.heating.orders.with_bills(&order_id).await?;
    Ok(Json(json!({
        "order_id": o.order_id,
        "user_id": o.user_id,
        "heat_account": o.heat_account,
        "amount": o.amount.yuan_string(),
        "amount_fen": o.amount.0,
        "status": o.status.as_str(),
        "gateway": o.gateway,
        "transaction_id": o.transaction_id,
        "created_at": o.created_at.iso_utc_ms(),
        "expires_at": o.expires_at.iso_utc_ms(),
        "paid_at": o.paid_at.map(|t| t.iso_utc_ms()),
        "bills": bills.iter().map(|(id, amount, fee)| json!({"bill_id": id, "amount": amount.yuan_string(), "late_fee": fee.yuan_string()})).collect::<Vec<_>>(),
    })))
}

/// `POST /admin/v1/heating/orders/{order_id}/simulate-payment`: `--dev` without WeChat Pay only
/// (409 otherwise); completes the order as if the payer had paid. Repeating it changes nothing.
pub async fn simulate_payment(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(order_id): Path<String>,
) -> AdminResult {
    // Like the simulated clock, a dev-only tool: no token needed, but a sent token must be valid.
    if let Some(token) = crate::surfaces::bearer(&headers) {
        state.operators.authenticate(token).await?;
    }
    let outcome = state.heating.orders.simulate_payment(&order_id).await?;
    Ok(Json(
        json!({"order_id": order_id, "recorded": outcome == crate::domain::heating::orders::Settlement::Recorded}),
    ))
}
