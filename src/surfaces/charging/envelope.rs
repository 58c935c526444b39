//! The charging document's replies: `{"code": 200, "msg": ...}` on success and
//! `{"code": -1, "msg": ..., "error": "<name>"}` on failure, with a fitting HTTP status; and
//! its parameters (query string, form or JSON body).

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::charging::station::Mode;
use crate::domain::{AuthFailure, Entity, Error, Forbidden};
use crate::surfaces::AppState;
use crate::surfaces::body;

/// A refusal in the charging envelope.
#[derive(Debug)]
pub struct ChargingError {
    pub status: StatusCode,
    pub error: &'static str,
    pub msg: String,
    pub retry_after: Option<u64>,
}

impl ChargingError {
    pub fn new(status: StatusCode, error: &'static str, msg: impl Into<String>) -> Self {
        ChargingError {
            status,
            error,
            msg: msg.into(),
            retry_after: None,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", msg)
    }

    /// The body of the refusal (also sent on the WebSocket).
    pub fn body(&self) -> serde_json::Value {
        json!({"code": -1, "msg": crate::surfaces::clip(&self.msg), "error": self.error})
    }
}

impl From<Error> for ChargingError {
    fn from(err: Error) -> Self {
        use StatusCode as S;
        match err {
            Error::Invalid(inv) => {
                ChargingError::invalid(format!("{}: {}", inv.field, inv.message))
            }
            Error::NotFound(Entity::ChargingRequest) => {
                ChargingError::new(S::NOT_FOUND, "no_request", "您当前没有充电请求")
            }
            Error::NotFound(Entity::Pile) => {
                ChargingError::new(S::NOT_FOUND, "not_found", "没有这个充电桩")
            }
            Error::NotFound(what) | Error::Gone(what) => {
                ChargingError::new(S::NOT_FOUND, "not_found", format!("{what} not found"))
            }
            Error::Conflict(Entity::User) => {
                ChargingError::new(S::CONFLICT, "username_taken", "该用户名已被注册")
            }
            Error::Conflict(Entity::ChargingRequest) => {
                ChargingError::new(S::CONFLICT, "request_exists", "您已有正在进行的充电请求")
            }
            Error::Conflict(what) => {
                ChargingError::new(S::CONFLICT, "conflict", format!("{what} already exists"))
            }
            Error::State(msg) => ChargingError::new(S::CONFLICT, "refused", msg),
            Error::Unauthorized(AuthFailure::WrongPassword) => {
                ChargingError::new(S::UNAUTHORIZED, "wrong_credentials", "用户名或密码错误")
            }
            Error::Unauthorized(AuthFailure::WrongCode | AuthFailure::CodeExpired) => {
                ChargingError::new(S::BAD_REQUEST, "code_invalid", "验证码错误或已失效")
            }
            Error::Unauthorized(_) => ChargingError::new(
                S::UNAUTHORIZED,
                "unauthorized",
                "token无效或已过期，请重新登录",
            ),
            Error::Forbidden(Forbidden::AccountDisabled) => {
                ChargingError::new(S::FORBIDDEN, "forbidden", "账号已停用")
            }
            Error::Forbidden(_) => ChargingError::new(S::FORBIDDEN, "forbidden", "无权进行此操作"),
            Error::RateLimited {
                message,
                retry_after_secs,
            } => ChargingError {
                retry_after: Some(retry_after_secs),
                ..ChargingError::new(S::TOO_MANY_REQUESTS, "rate_limited", message)
            },
            Error::Unavailable { detail, .. } => {
                ChargingError::new(S::SERVICE_UNAVAILABLE, "unavailable", detail)
            }
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                ChargingError::new(S::INTERNAL_SERVER_ERROR, "internal", "系统错误")
            }
        }
    }
}

impl IntoResponse for ChargingError {
    fn into_response(self) -> Response {
        let response = (self.status, axum::Json(self.body())).into_response();
        crate::surfaces::with_retry_after(response, self.retry_after)
    }
}

/// The answer for paths the document does not have.
pub async fn not_found() -> ChargingError {
    ChargingError::new(StatusCode::NOT_FOUND, "not_found", "接口不存在")
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed() -> ChargingError {
    ChargingError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该接口不支持此请求方法",
    )
}

/// The request's parameters: query string, then form or JSON body (the body wins).
pub struct Params(pub HashMap<String, String>);

impl FromRequest<AppState> for Params {
    type Rejection = ChargingError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = crate::surfaces::bearer(req.headers()).map(str::to_owned);
        let mut params = body::all_params(req, state).await.map_err(|e| {
            if e.too_large {
                ChargingError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.message)
            } else {
                ChargingError::invalid(e.message)
            }
        })?;
        if let Some(token) = bearer {
            params.entry("token".into()).or_insert(token);
        }
        if let Some(name) = params.iter().find_map(|(k, v)| {
            v.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                .then(|| k.clone())
        }) {
            return Err(ChargingError::invalid(format!("{name}: 不能包含控制字符")));
        }
        Ok(Params(params))
    }
}

impl Params {
    /// An optional parameter (blank counts as absent).
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The first of several names that is present.
    pub fn optional_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.optional(n))
    }

    /// A required parameter (400 naming it when missing).
    pub fn required(&self, name: &'static str, label: &str) -> Result<&str, ChargingError> {
        self.optional(name)
            .ok_or_else(|| ChargingError::invalid(format!("{name}: 请填写{label}")))
    }
}

/// `fast`/`quick`/`F` or `common`/`slow`/`trickle`/`T`.
pub fn parse_mode(s: &str) -> Result<Mode, ChargingError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "fast" | "quick" | "f" => Ok(Mode::Fast),
        "common" | "slow" | "trickle" | "t" => Ok(Mode::Slow),
        _ => Err(ChargingError::invalid(
            "mode: 充电模式须为fast(快充)或common(慢充)",
        )),
    }
}

/// The most energy one request may ask for (kWh).
const MAX_KWH: i64 = 1000;

/// kWh, more than 0 and at most 1000, to the Wh (more decimals are rounded: the document's
/// `quantity` is a float, and a client may send a computed one).
pub fn parse_kwh(s: &str, field: &'static str) -> Result<i64, ChargingError> {
    let s = s.trim();
    crate::domain::money::parse_fixed(s, 3)
        .or_else(|| {
            let looks_decimal = !s.is_empty()
                && s.chars().all(|c| c.is_ascii_digit() || c == '.')
                && s.chars().filter(|c| *c == '.').count() <= 1;
            let kwh: f64 = s.parse().ok().filter(|_| looks_decimal)?;
            (kwh.is_finite() && kwh <= (MAX_KWH + 1) as f64).then(|| (kwh * 1000.0).round() as i64)
        })
        .filter(|wh| (1..=MAX_KWH * 1000).contains(wh))
        .ok_or_else(|| ChargingError::invalid(format!("{field}: 须为大于0且不超过{MAX_KWH}的度数")))
}
