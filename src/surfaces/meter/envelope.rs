//! The meter document's replies: `{"code":200,"data":"<JSON text>","msg":"..."}` and
//! `{"code":N,"msg":"..."}`, always with HTTP 200.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::domain::{AuthFailure, Entity, Error, Forbidden};
use crate::surfaces::body;

/// A failure with one of section 五's codes.
#[derive(Debug)]
pub struct MeterError {
    pub code: u32,
    pub msg: String,
}

impl MeterError {
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        MeterError {
            code,
            msg: msg.into(),
        }
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
            Error::NotFound(what) => MeterError::new(1001, format!("{what} not found")),
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
        axum::Json(json!({"code": self.code, "msg": self.msg})).into_response()
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

fn text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl FromRequest<AppState> for Params {
    type Rejection = MeterError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let multipart = body::is_multipart(req.headers());
        let (parts, raw) = req.into_parts();
        if parts
            .uri
            .query()
            .is_some_and(|q| body::has_nul(q.as_bytes(), true))
        {
            return Err(MeterError::new(1001, "请求参数不能包含空字符（NUL）"));
        }
        let mut params: HashMap<String, String> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        if multipart {
            let fields = body::multipart_text_fields(Request::from_parts(parts, raw), state)
                .await
                .map_err(|e| MeterError::new(1001, e.0))?;
            params.extend(fields);
            return Ok(Params(params));
        }
        let bytes = body::read(raw)
            .await
            .map_err(|e| MeterError::new(1001, e.0))?;
        let fields: HashMap<String, Value> =
            body::decode(&parts.headers, &bytes).map_err(|e| MeterError::new(1001, e.0))?;
        params.extend(
            fields
                .into_iter()
                .filter_map(|(k, v)| text(v).map(|t| (k, t))),
        );
        Ok(Params(params))
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
