//! Admin handlers: operator login, the simulated clock, heating content.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{AdminError, AdminResult, Body, OperatorAuth};
use crate::domain::Timestamp;
use crate::domain::heating::content::{Agreement, AgreementEdit, SystemConfig, SystemConfigEdit};
use crate::domain::heating::users::User;
use crate::surfaces::AppState;
use crate::surfaces::{ClientIp, bearer};

#[derive(Deserialize)]
pub struct LoginRequest {
    username: Option<String>,
    password: Option<String>,
}

/// `POST /admin/v1/login` -> `{token, token_type, expires_in}`
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(req): Body<LoginRequest>,
) -> AdminResult {
    if let Some(ip) = ip {
        if let Err(wait) = state.admin_login_limiter.check(ip).await {
            return Err(AdminError::from(crate::domain::Error::RateLimited {
                message: format!("too many login attempts from this address; retry in {wait} s"),
                retry_after_secs: wait,
            }));
        }
    }
    let (Some(username), Some(password)) = (req.username, req.password) else {
        return Err(AdminError::bad_request(
            "username and password are required",
        ));
    };
    let issued = state.operators.login(&username, &password, ip).await?;
    Ok(Json(
        json!({"token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in}),
    ))
}

/// `POST /admin/v1/logout`
pub async fn logout(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    headers: axum::http::HeaderMap,
) -> AdminResult {
    if let Some(token) = bearer(&headers) {
        state.operators.logout(token).await?;
    }
    Ok(Json(json!({"ok": true})))
}

/// `GET /admin/v1/me`
pub async fn me(OperatorAuth(op): OperatorAuth) -> AdminResult {
    Ok(Json(json!({"id": op.id, "username": op.username})))
}

fn clock_json(state: &AppState) -> Value {
    let now = state.now();
    json!({
        "now": now.iso_utc_ms(),
        "now_ms": now.millis(),
        "simulated": state.clock.sim().is_some(),
        "speed": state.clock.sim().map(|s| s.speed()),
    })
}

/// `GET /admin/v1/clock`
pub async fn get_clock(State(state): State<AppState>) -> AdminResult {
    Ok(Json(clock_json(&state)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    advance_seconds: Option<f64>,
    to: Option<String>,
}

/// `POST /admin/v1/clock` `{"advance_seconds": N}` or `{"to": RFC3339}`: moves the simulated clock.
///
/// The simulated clock exists only under `--dev`, where this endpoint takes no token (test
/// harnesses drive it); a token that is sent must still be valid.
pub async fn move_clock(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Body(req): Body<ClockRequest>,
) -> AdminResult {
    if let Some(token) = bearer(&headers) {
        state.operators.authenticate(token).await?;
    }
    let Some(sim) = state.clock.sim() else {
        return Err(AdminError::new(
            StatusCode::CONFLICT,
            "clock_not_simulated",
            "the clock is the system clock: start the server with --dev --sim-clock RFC3339 to move it",
        ));
    };
    match (req.advance_seconds, req.to) {
        (Some(secs), None) => sim.advance(secs)?,
        (None, Some(to)) => {
            let to = Timestamp::parse_rfc3339(&to)
                .ok_or_else(|| AdminError::bad_request("to: not an RFC 3339 instant"))?;
            sim.set(to)?
        }
        _ => {
            return Err(AdminError::bad_request(
                "give exactly one of advance_seconds or to",
            ));
        }
    };
    // What the new time brings (cars finishing) happens now, and the drivers hear of it.
    if let Err(e) = state.charging.tick().await {
        tracing::warn!(error = %e, "charging station catch-up failed");
    }
    Ok(Json(clock_json(&state)))
}

fn agreement_json(a: &Agreement) -> Value {
    json!({"kind": a.kind, "title": a.title, "content": a.content, "version": a.version, "updated_at": a.updated_at})
}

/// `GET /admin/v1/heating/agreements`
pub async fn list_agreements(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
) -> AdminResult {
    let items: Vec<Value> = state
        .heating
        .content
        .agreements()
        .await?
        .iter()
        .map(agreement_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementRequest {
    title: Option<String>,
    content: Option<String>,
    version: Option<String>,
}

/// `PUT /admin/v1/heating/agreements/{kind}` (`user_agreement` or `privacy_policy`)
pub async fn edit_agreement(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(kind): Path<String>,
    Body(req): Body<AgreementRequest>,
) -> AdminResult {
    let edit = AgreementEdit {
        title: req.title,
        content: req.content,
        version: req.version,
    };
    let saved = state.heating.content.edit_agreement(&kind, edit).await?;
    tracing::info!(operator = %op.username, kind = %kind, "agreement edited");
    Ok(Json(agreement_json(&saved)))
}

fn system_config_json(c: &SystemConfig) -> Value {
    json!({
        "customer_service_phone": c.customer_service_phone,
        "business_hours": c.business_hours,
        "company_name": c.company_name,
        "company_address": c.company_address,
        "app_version": c.app_version,
        "announcement": c.announcement,
        "maintenance_notice": c.maintenance_notice,
    })
}

/// `GET /admin/v1/heating/system-config`
pub async fn get_system_config(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
) -> AdminResult {
    Ok(Json(system_config_json(
        &state.heating.content.system_config().await?,
    )))
}

/// Distinguishes an absent field from an explicit `null`.
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemConfigRequest {
    customer_service_phone: Option<String>,
    business_hours: Option<String>,
    company_name: Option<String>,
    company_address: Option<String>,
    app_version: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    announcement: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    maintenance_notice: Option<Option<String>>,
}

/// `PUT /admin/v1/heating/system-config`: fields left out keep their value; `null` clears the notices.
pub async fn edit_system_config(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<SystemConfigRequest>,
) -> AdminResult {
    let edit = SystemConfigEdit {
        customer_service_phone: req.customer_service_phone,
        business_hours: req.business_hours,
        company_name: req.company_name,
        company_address: req.company_address,
        app_version: req.app_version,
        announcement: req.announcement,
        maintenance_notice: req.maintenance_notice,
    };
    let saved = state.heating.content.edit_system_config(edit).await?;
    tracing::info!(operator = %op.username, "system config edited");
    Ok(Json(system_config_json(&saved)))
}

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "phone": u.phone,
        "nickname": u.nickname,
        "real_name": u.real_name,
        "created_at": u.created_at.iso_utc_ms(),
        "updated_at": u.updated_at.iso_utc_ms(),
        "disabled": u.disabled_at.is_some(),
        "disabled_at": u.disabled_at.map(Timestamp::iso_utc_ms),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    phone: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
}

/// `GET /admin/v1/heating/users?phone=PREFIX&page=1&size=20`: newest first.
pub async fn list_users(
    State(state): State<AppState>,
    OperatorAuth(_op): OperatorAuth,
    query: Result<Query<UserQuery>, axum::extract::rejection::QueryRejection>,
) -> AdminResult {
    let Query(q) = query.map_err(|e| AdminError::bad_request(e.body_text()))?;
    let page = q.page.unwrap_or(1);
    let size = q.size.unwrap_or(20);
    let (total, users) = state
        .heating
        .users
        .list(q.phone.as_deref().filter(|p| !p.is_empty()), page, size)
        .await?;
    let items: Vec<Value> = users.iter().map(user_json).collect();
    Ok(Json(
        json!({"total": total, "page": page, "size": size, "items": items}),
    ))
}

/// `POST /admin/v1/heating/users/{id}/disable`
pub async fn disable_user(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> AdminResult {
    let user = state.heating.users.set_disabled(&id, true).await?;
    tracing::info!(operator = %op.username, user = %id, "user disabled");
    Ok(Json(user_json(&user)))
}

/// `POST /admin/v1/heating/users/{id}/enable`
pub async fn enable_user(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> AdminResult {
    let user = state.heating.users.set_disabled(&id, false).await?;
    tracing::info!(operator = %op.username, user = %id, "user enabled");
    Ok(Json(user_json(&user)))
}
