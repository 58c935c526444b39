//! Handlers for sections 4 and 5.1: binding a heat account, its figures, its unpaid bills.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};

use super::envelope::{ApiError, ApiResult, Auth, Body, Reply, required};
use super::wire::*;
use crate::domain::heating::accounts::BindRequest as DomainBind;
use crate::domain::heating::orders::BILLS_INCORRECT;
use crate::domain::money::{Fen, YuanNumber};
use crate::domain::time::parse_date;
use crate::domain::{Entity, Error};
use crate::surfaces::AppState;

/// The document's answer when the user has no bound account.
fn not_bound(err: Error) -> ApiError {
    match err {
        Error::NotFound(Entity::HeatAccount) => ApiError::new(404, "未绑定供热账号"),
        other => other.into(),
    }
}

/// 4.1 `POST /api/heat/bind`
pub async fn bind(
    State(state): State<AppState>,
    Auth(me): Auth,
    Body(req): Body<BindRequest>,
) -> ApiResult<BindReply> {
    let request = DomainBind {
        heat_account: required(&req.heat_account, "供热账号不能为空")?,
        real_name: required(&req.real_name, "户主姓名不能为空")?,
        id_card: required(&req.id_card, "户主身份证号不能为空")?,
        address: required(&req.address, "供热地址不能为空")?,
    };
    let account = match state.heating.accounts.bind(&me.user_id, request).await {
        Ok(a) => a,
        Err(Error::NotFound(Entity::HeatAccount)) => {
            return Err(ApiError::new(404, "供热账号不存在"));
        }
        Err(e) => return Err(e.into()),
    };
    let fee = state
        .heating
        .accounts
        .season_due(&account.heat_account)
        .await?;
    Ok(Reply::ok(
        &state,
        "绑定成功",
        BindReply {
            bind_time: account.bound_at.map(iso).unwrap_or_default(),
            heat_account: account.heat_account,
            real_name: account.real_name,
            address: account.address,
            heating_area: account.heating_area,
            heating_fee: YuanNumber(fee),
        },
    ))
}

/// `POST /api/heat/unbind` (ours): releases the bound account so another can be bound.
pub async fn unbind(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<UnbindReply> {
    let heat_account = state
        .heating
        .accounts
        .unbind(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "解绑成功", UnbindReply { heat_account }))
}

/// 4.2 `GET /api/heat/account`
pub async fn account(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<HeatAccountReply> {
    let (account, summary) = state
        .heating
        .accounts
        .mine(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(
        &state,
        "获取成功",
        HeatAccountReply::new(account, summary),
    ))
}

/// 5.1 `GET /api/payment/info`
pub async fn payment_info(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> ApiResult<PaymentInfoReply> {
    let info = state
        .heating
        .accounts
        .payment_info(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "获取成功", info.into()))
}

/// 5.2 `POST /api/payment/create`
pub async fn create_payment(
    State(state): State<AppState>,
    Auth(me): Auth,
    Body(req): Body<CreatePaymentRequest>,
) -> ApiResult<CreatedPayment> {
    let incorrect = || ApiError::bad_request(BILLS_INCORRECT);
    let bill_ids = req
        .bill_ids
        .filter(|b| !b.is_empty())
        .ok_or_else(incorrect)?;
    let amount = match &req.amount {
        Some(serde_json::Value::Number(n)) => Fen::parse_yuan(&n.to_string()),
        Some(serde_json::Value::String(s)) => Fen::parse_yuan(s),
        _ => None,
    }
    .ok_or_else(incorrect)?;
    let openid = req
        .openid
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    let order = state
        .heating
        .orders
        .create(&me.user_id, &bill_ids, amount, openid)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "订单创建成功", order.into()))
}

/// 5.3 `GET /api/payment/status/{order_id}`: only the caller's own orders.
pub async fn payment_status(
    State(state): State<AppState>,
    Auth(me): Auth,
    Path(order_id): Path<String>,
) -> ApiResult<PaymentStatusReply> {
    match state.heating.orders.status(&me.user_id, &order_id).await {
        Ok(order) => Ok(Reply::ok(&state, "查询成功", order.into())),
        Err(Error::NotFound(Entity::Order)) => Err(ApiError::new(404, "订单不存在")),
        Err(e) => Err(e.into()),
    }
}

fn number(query: &HashMap<String, String>, key: &str, default: i64) -> Result<i64, ApiError> {
    match query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{key} 须为整数"))),
    }
}

fn date(query: &HashMap<String, String>, key: &str) -> Result<Option<time::Date>, ApiError> {
    match query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_date(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{key} 格式应为 YYYY-MM-DD"))),
    }
}

/// 5.4 `GET /api/payment/history?page=&size=&start_date=&end_date=`
pub async fn payment_history(
    State(state): State<AppState>,
    Auth(me): Auth,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<HistoryReply> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let page = number(&query, "page", 1)?;
    let size = number(&query, "size", 20)?;
    let (start, end) = (date(&query, "start_date")?, date(&query, "end_date")?);
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(ApiError::bad_request("start_date 不能晚于 end_date"));
        }
    }
    let (total, records) = state
        .heating
        .orders
        .payment_history(&me.user_id, page, size, start, end)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(
        &state,
        "获取成功",
        HistoryReply {
            total,
            page,
            size,
            records: records.into_iter().map(HistoryRecord::from).collect(),
        },
    ))
}

/// 7.1 `GET /api/statistics/user`
pub async fn statistics(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> ApiResult<StatisticsReply> {
    let stats = state
        .heating
        .orders
        .statistics(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "获取成功", stats.into()))
}
