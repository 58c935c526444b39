//! Handlers for sections 4.1-4.4, 4.8 and 4.9: login and what an account may read.

use axum::extract::State;
use serde::Serialize;

use super::envelope::{MeterError, Ok200, Params};
use crate::domain::Timestamp;
use crate::domain::meter::Household;
use crate::domain::money::Fen;
use crate::domain::time::parse_date;
use crate::surfaces::AppState;
use crate::surfaces::ClientIp;

type MeterResult = Result<Ok200, MeterError>;

/// Checks the token; returns the account name. (The 2-second rule is applied by each handler
/// once the call has succeeded: a refused call does not block its corrected retry.)
async fn authorize<'p>(state: &AppState, params: &'p Params) -> Result<&'p str, MeterError> {
    let token = params.required("token")?;
    let account = params.required("admin_user_name")?;
    state.meter.authenticate(token, account).await?;
    Ok(account)
}

/// One call per interface per account per window (the document's 2 s; recharge excepted).
/// Only calls that succeed count; they are counted over every instance sharing the limit store.
async fn pace(state: &AppState, account: &str, interface: &'static str) -> Result<(), MeterError> {
    state
        .meter_limiter
        .check(&format!("{interface}:{account}"))
        .await
        .map_err(|_| MeterError::new(1001, "访问过于频繁：每个接口2秒钟限制访问一次"))
}

/// 4.1 `POST /user/login`: `data` is the token.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    params: Params,
) -> MeterResult {
    let account = params.required("admin_user_name")?;
    let password = params.required("api_password")?;
    let token = state.meter.login(account, password, ip).await?;
    pace(&state, account, "login").await?;
    Ok(Ok200 {
        data: Some(token),
        msg: "登录成功",
        total: None,
    })
}

#[derive(Serialize)]
struct Building<'a> {
    name: &'a str,
    build_code: &'a str,
}

/// 4.2 `POST /user/getBuildCode`
pub async fn build_codes(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params).await?;
    let rows = state.meter.buildings(account).await?;
    let list: Vec<Building<'_>> = rows
        .iter()
        .map(|(name, code)| Building {
            name,
            build_code: code,
        })
        .collect();
    pace(&state, account, "getBuildCode").await?;
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
    let account = authorize(&state, &params).await?;
    let households = state
        .meter
        .households(account, params.optional("build_code"), None)
        .await?;
    pace(&state, account, "getUserCodeByAccount").await?;
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
    let account = authorize(&state, &params).await?;
    let user_code = params.required("user_code")?;
    let (household, meters) = state.meter.household(account, user_code).await?;
    let meter = meters
        .first()
        .ok_or_else(|| MeterError::new(1001, "该用户没有表"))?;
    let zone = state.settings.zone;
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
    pace(&state, account, "GetUserInfo").await?;
    Ok200::json(&info, "获取成功")
}

#[derive(Serialize)]
struct AddressItem<'a> {
    address: &'a str,
    build_code: &'a str,
}

/// 4.8 `POST /user/getAddress` (optional `build_code`)
pub async fn addresses(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params).await?;
    let rows = state
        .meter
        .addresses(account, params.optional("build_code"))
        .await?;
    let list: Vec<AddressItem<'_>> = rows
        .iter()
        .map(|(address, code)| AddressItem {
            address,
            build_code: code,
        })
        .collect();
    pace(&state, account, "getAddress").await?;
    Ok200::json(&list, "操作成功!")
}

/// 4.9 `POST /user/addressUserInfo` (`address`, optional `build_code`)
pub async fn address_users(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params).await?;
    let address = params.required("address")?;
    let households = state
        .meter
        .households(account, params.optional("build_code"), Some(address))
        .await?;
    pace(&state, account, "addressUserInfo").await?;
    Ok200::json(&items(&households), "操作成功")
}

/// 4.5 `POST /user/Prestore`: `total_fee` in yuan; credited once per (account, `out_trade_no`);
/// not subject to the 2-second rule.
pub async fn prestore(State(state): State<AppState>, params: Params) -> MeterResult {
    let token = params.required("token")?;
    let account = params.required("admin_user_name")?;
    state.meter.authenticate(token, account).await?;
    let user_code = params.required("user_code")?;
    let out_trade_no = params.required("out_trade_no")?;
    let fee = params.required("total_fee")?;
    let fee = Fen::parse_yuan(fee)
        .ok_or_else(|| MeterError::new(1001, "total_fee 须为金额（元），最多两位小数"))?;
    state
        .meter
        .recharge(account, user_code, out_trade_no, fee)
        .await?;
    Ok(Ok200 {
        data: None,
        msg: "充值成功",
        total: None,
    })
}

/// `BeginDate`/`EndDate`: `YYYY-MM-DD` (the whole day) or `YYYY-MM-DD HH:MM:SS`, local time.
fn period(state: &AppState, params: &Params) -> Result<(Timestamp, Timestamp), MeterError> {
    let zone = state.settings.zone;
    let parse = |name: &str, end: bool| -> Result<Timestamp, MeterError> {
        let raw = params.required(name)?;
        if let Some(t) = Timestamp::parse_local_datetime(raw, zone) {
            return Ok(if end { t.plus_secs(1) } else { t });
        }
        let day = parse_date(raw).ok_or_else(|| {
            MeterError::new(
                1001,
                format!("{name} 格式应为 YYYY-MM-DD 或 YYYY-MM-DD HH:MM:SS"),
            )
        })?;
        let day = if end {
            day.next_day().unwrap_or(day)
        } else {
            day
        };
        Ok(Timestamp::start_of_local_date(day, zone))
    };
    let (from, to) = (parse("BeginDate", false)?, parse("EndDate", true)?);
    if from >= to {
        return Err(MeterError::new(1001, "BeginDate 不能晚于 EndDate"));
    }
    Ok((from, to))
}

fn page(params: &Params) -> Result<(i64, i64), MeterError> {
    let number = |name: &str| -> Result<i64, MeterError> {
        params
            .required(name)?
            .parse()
            .map_err(|_| MeterError::new(1001, format!("{name} 须为整数")))
    };
    Ok((number("pageNo")?, number("pageSize")?))
}

#[derive(Serialize)]
struct RechargeItem {
    out_trade_no: String,
    total_fee: String,
    trade_type: &'static str,
    create_time: String,
}

/// 4.6 `POST /user/GetPaymentList`
pub async fn payment_list(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params).await?;
    let user_code = params.required("user_code")?;
    let (from, to) = period(&state, &params)?;
    let (page_no, page_size) = page(&params)?;
    let (total, rows) = state
        .meter
        .recharges(account, user_code, from, to, page_no, page_size)
        .await?;
    let zone = state.settings.zone;
    let list: Vec<RechargeItem> = rows
        .into_iter()
        .map(|(no, fee, at)| RechargeItem {
            out_trade_no: no,
            total_fee: fee.yuan_string(),
            trade_type: "第三方充值",
            create_time: at.local_datetime(zone),
        })
        .collect();
    pace(&state, account, "GetPaymentList").await?;
    let mut reply = Ok200::json(&list, "操作成功")?;
    reply.total = Some(total);
    Ok(reply)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsumptionItem {
    table_no: String,
    /// The document lists `deviceId`; a meter is its own device here.
    device_id: String,
    reading: String,
    read_time: String,
    last_read: String,
    last_read_time: String,
}

/// 4.7 `POST /user/GetConsumenList`
pub async fn consumption_list(State(state): State<AppState>, params: Params) -> MeterResult {
    let account = authorize(&state, &params).await?;
    let user_code = params.required("user_code")?;
    let (from, to) = period(&state, &params)?;
    let (page_no, page_size) = page(&params)?;
    let (total, rows) = state
        .meter
        .consumptions(account, user_code, from, to, page_no, page_size)
        .await?;
    let zone = state.settings.zone;
    let list: Vec<ConsumptionItem> = rows
        .into_iter()
        .map(|c| ConsumptionItem {
            device_id: c.table_no.clone(),
            table_no: c.table_no,
            reading: Fen(c.reading).yuan_string(),
            read_time: Timestamp::from_millis(c.read_time).local_datetime(zone),
            last_read: Fen(c.last_reading).yuan_string(),
            last_read_time: c
                .last_read_time
                .map(|t| Timestamp::from_millis(t).local_datetime(zone))
                .unwrap_or_default(),
        })
        .collect();
    pace(&state, account, "GetConsumenList").await?;
    let mut reply = Ok200::json(&list, "操作成功")?;
    reply.total = Some(total);
    Ok(reply)
}
