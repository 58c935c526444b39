//! The meter document's replies: `{"code":200,"data":"<JSON text>","msg":"..."}` and
//! `{"code":N,"msg":"..."}`, always with HTTP 200.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::{AuthFailure, Entity, Error, Forbidden};
use crate::surfaces::AppState;
use crate::surfaces::body;

/// A failure with one of section 五's codes.
#[derive(Debug)]
pub struct MeterError {
    pub code: u32,
    pub msg: String,
    /// The HTTP status: 200 as the document answers everything, but 413 for a body over the
    /// limit (proxies and clients act on it).
    pub status: axum::http::StatusCode,
}

impl MeterError {
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        MeterError {
            code,
            msg: msg.into(),
            status: axum::http::StatusCode::OK,
        }
    }

    pub fn with_status(mut self, status: axum::http::StatusCode) -> Self {
        self.status = status;
        self
    }

    /// 1008, naming the parameter.
    pub fn missing(name: &str) -> Self {
        Self::new(1008, format!("缺少参数: {name}"))
    }
}

impl From<Error> for MeterError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(Entity::MeterAccount) => {
                MeterError::new(1002, "账号不存在或没有API权限")
            }
            Error::Forbidden(Forbidden::AccountDisabled) => {
                MeterError::new(1002, "账号不存在或没有API权限")
            }
            Error::Unauthorized(AuthFailure::WrongPassword) => MeterError::new(1005, "密码错误"),
            Error::Unauthorized(AuthFailure::ExpiredToken) => MeterError::new(1007, "Token已过期"),
            Error::Unauthorized(_) => MeterError::new(1006, "Token不存在"),
            Error::Forbidden(Forbidden::NotAllowed) => {
                MeterError::new(1009, "账号与token不符合或没有该接口权限")
            }
            Error::NotFound(Entity::Household) => MeterError::new(1001, "用户不存在"),
            Error::NotFound(what) | Error::Gone(what) => {
                MeterError::new(1001, format!("{what} not found"))
            }
            Error::Invalid(inv) => MeterError::new(1001, format!("{}: {}", inv.field, inv.message)),
            Error::RateLimited { message, .. } | Error::State(message) => {
                MeterError::new(1001, message)
            }
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                MeterError::new(1001, "系统错误")
            }
            other => MeterError::new(1001, other.to_string()),
        }
    }
}

impl IntoResponse for MeterError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"code": self.code, "msg": crate::surfaces::clip(&self.msg)})),
        )
            .into_response()
    }
}

/// A success: `data` carried as JSON text (or, for login, the token itself).
pub struct Ok200 {
    pub data: Option<String>,
    pub msg: &'static str,
    /// `totalCount` of the two record lists.
    pub total: Option<i64>,
}

impl Ok200 {
    /// `data` is `value` serialized, as a string.
    pub fn json<T: Serialize>(value: &T, msg: &'static str) -> Result<Self, MeterError> {
        let text =
            serde_json::to_string(value).map_err(|e| MeterError::new(1001, e.to_string()))?;
        Ok(Ok200 {
            data: Some(text),
            msg,
            total: None,
        })
    }
}

impl IntoResponse for Ok200 {
    fn into_response(self) -> Response {
        let mut body = json!({"code": 200, "msg": self.msg});
        if let Some(data) = self.data {
            body["data"] = Value::String(data);
        }
        if let Some(total) = self.total {
            body["totalCount"] = json!(total);
        }
        axum::Json(body).into_response()
    }
}

/// The answer for paths the document does not have.
pub async fn not_found() -> MeterError {
    MeterError::new(1001, "接口不存在")
}

/// The request's parameters: query string, then form or JSON body (the body wins).
pub struct Params(HashMap<String, String>);

impl FromRequest<AppState> for Params {
    type Rejection = MeterError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        body::all_params(req, state).await.map(Params).map_err(|e| {
            let refusal = MeterError::new(1001, e.message);
            if e.too_large {
                refusal.with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                refusal
            }
        })
    }
}

impl Params {
    /// A required parameter (1008 when missing or blank).
    pub fn required(&self, name: &str) -> Result<&str, MeterError> {
        self.optional(name).ok_or_else(|| MeterError::missing(name))
    }

    /// An optional parameter (blank counts as absent).
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}
