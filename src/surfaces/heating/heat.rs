//! Handlers for sections 4 and 5.1: binding a heat account, its figures, its unpaid bills.

use axum::extract::State;

use super::envelope::{ApiError, ApiResult, Auth, Body, Reply};
use super::wire::*;
use crate::app::AppState;
use crate::domain::heat::accounts::BindRequest as DomainBind;
use crate::domain::money::YuanNumber;
use crate::domain::{Entity, Error};

/// The document's answer when the user has no bound account.
fn not_bound(err: Error) -> ApiError {
    match err {
        Error::NotFound(Entity::HeatAccount) => ApiError::new(404, "未绑定供热账号"),
        other => other.into(),
    }
}

fn required<'a>(value: &'a Option<String>, message: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(message))
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
    let account = match state.core.bind_heat_account(&me.user_id, request).await {
        Ok(a) => a,
        Err(Error::NotFound(Entity::HeatAccount)) => {
            return Err(ApiError::new(404, "供热账号不存在"));
        }
        Err(e) => return Err(e.into()),
    };
    let fee = state.core.season_due(&account.heat_account).await?;
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
        .core
        .unbind_heat_account(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "解绑成功", UnbindReply { heat_account }))
}

/// 4.2 `GET /api/heat/account`
pub async fn account(State(state): State<AppState>, Auth(me): Auth) -> ApiResult<HeatAccountReply> {
    let (account, summary) = state
        .core
        .my_heat_account(&me.user_id)
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
        .core
        .payment_info(&me.user_id)
        .await
        .map_err(not_bound)?;
    Ok(Reply::ok(&state, "获取成功", info.into()))
}
