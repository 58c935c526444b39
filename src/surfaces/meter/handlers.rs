//! Handlers for sections 4.1-4.4, 4.8 and 4.9: login and what an account may read.

use axum::extract::State;
use serde::Serialize;

use super::envelope::{MeterError, Ok200, Params};
use crate::app::AppState;
use crate::domain::meter::Household;

type MeterResult = Result<Ok200, MeterError>;

/// Checks the token and the 2-second rule for `interface`; returns the account name.
async fn authorize<'p>(
    state: &AppState,
    params: &'p Params,
    interface: &'static str,
) -> Result<&'p str, MeterError> {
    let token = params.required("token")?;
    let account = params.required("admin_user_name")?;
    state.core.meter_authenticate(token, account).await?;
    pace(state, account, interface)?;
    Ok(account)
}

/// One call per interface per account per window (the document's 2 s; recharge excepted).
fn pace(state: &AppState, account: &str, interface: &'static str) -> Result<(), MeterError> {
    state
        .meter_limiter
        .check_key((account.to_owned(), interface), state.core.now())
        .map_err(|_| MeterError::new(1001, "访问过于频繁：每个接口2秒钟限制访问一次"))
}

/// 4.1 `POST /user/login`: `data` is the token.
pub async fn login(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = params.required("admin_user_name")?;
    let password = params.required("api_password")?;
    pace(&state, account, "login")?;
    let token = state.core.meter_login(account, password).await?;
    Ok(Ok200 {
        data: Some(token),
        msg: "登录成功",
    })
}

#[derive(Serialize)]
struct Building<'a> {
    name: &'a str,
    build_code: &'a str,
}

/// 4.2 `POST /user/getBuildCode`
pub async fn build_codes(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params, "getBuildCode").await?;
    let rows = state.core.meter_buildings(account).await?;
    let list: Vec<Building<'_>> = rows
        .iter()
        .map(|(name, code)| Building {
            name,
            build_code: code,
        })
        .collect();
    Ok200::json(&list, "操作成功!")
}

#[derive(Serialize)]
struct HouseholdItem<'a> {
    user_code: &'a str,
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    house_number: Option<&'a str>,
}

fn items(households: &[Household]) -> Vec<HouseholdItem<'_>> {
    households
        .iter()
        .map(|h| HouseholdItem {
            user_code: &h.user_code,
            user_name: &h.user_name,
            house_number: h.house_number.as_deref(),
        })
        .collect()
}

/// 4.3 `POST /user/getUserCodeByAccount` (optional `build_code`)
pub async fn user_codes(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params, "getUserCodeByAccount").await?;
    let households = state
        .core
        .meter_households(account, params.optional("build_code"), None)
        .await?;
    Ok200::json(&items(&households), "操作成功")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserInfo {
    table_no: String,
    reading: String,
    read_time: String,
    balance: String,
    table_type: String,
}

/// 4.4 `POST /user/GetUserInfo`
pub async fn user_info(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params, "GetUserInfo").await?;
    let user_code = params.required("user_code")?;
    let (household, meters) = state.core.meter_household(account, user_code).await?;
    let meter = meters
        .first()
        .ok_or_else(|| MeterError::new(1001, "该用户没有表"))?;
    let zone = state.core.settings.zone;
    let info = UserInfo {
        table_no: meter.table_no.clone(),
        reading: crate::domain::money::Fen(meter.reading).yuan_string(),
        read_time: meter
            .read_time
            .map(|t| t.local_datetime(zone))
            .unwrap_or_default(),
        balance: household.balance.yuan_string(),
        table_type: meter.table_type.to_string(),
    };
    Ok200::json(&info, "获取成功")
}

#[derive(Serialize)]
struct AddressItem<'a> {
    address: &'a str,
    build_code: &'a str,
}

/// 4.8 `POST /user/getAddress` (optional `build_code`)
pub async fn addresses(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params, "getAddress").await?;
    let rows = state
        .core
        .meter_addresses(account, params.optional("build_code"))
        .await?;
    let list: Vec<AddressItem<'_>> = rows
        .iter()
        .map(|(address, code)| AddressItem {
            address,
            build_code: code,
        })
        .collect();
    Ok200::json(&list, "操作成功!")
}

/// 4.9 `POST /user/addressUserInfo` (`address`, optional `build_code`)
pub async fn address_users(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params, "addressUserInfo").await?;
    let address = params.required("address")?;
    let households = state
        .core
        .meter_households(account, params.optional("build_code"), Some(address))
        .await?;
    Ok200::json(&items(&households), "操作成功")
}
