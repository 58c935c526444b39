//! The heating document's envelope `{code, message, data, timestamp}` and its error codes.
//!
//! Every reply, success or failure, has this shape. `code` carries the document's codes
//! (200, 400, 401, 403, 404, 500, 1001-1008); the HTTP status mirrors it (400 for 1001-1006,
//! 503 for 1007, 429 for 1008). Error bodies are rendered by [`finish`] so that their
//! `timestamp` comes from the server's one clock, like every other time.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::heating::sessions::Principal;
use crate::domain::{AuthFailure, Entity, Error, Forbidden, Service};
use crate::surfaces::AppState;
use crate::surfaces::{ClientIp, body};

/// The audience of heating access tokens (and the surface name in outboxes and metrics).
pub const SURFACE: &str = "heating";

/// A failure in the heating envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u32,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After` (1008 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

/// The HTTP status that goes with a document code.
fn status_of(code: u32) -> StatusCode {
    match code {
        400 | 1001..=1006 => StatusCode::BAD_REQUEST,
        401 => StatusCode::UNAUTHORIZED,
        403 => StatusCode::FORBIDDEN,
        404 => StatusCode::NOT_FOUND,
        405 => StatusCode::METHOD_NOT_ALLOWED,
        413 => StatusCode::PAYLOAD_TOO_LARGE,
        1007 | 503 => StatusCode::SERVICE_UNAVAILABLE,
        1008 => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(inv) if inv.field == "phone" => ApiError::new(1001, inv.message),
            Error::Invalid(inv) => ApiError::new(400, inv.message),
            Error::NotFound(Entity::User) => ApiError::new(1004, "用户不存在，请先注册"),
            Error::NotFound(_) | Error::Gone(_) => ApiError::new(404, "资源不存在"),
            Error::Conflict(Entity::User) => ApiError::new(1003, "用户已存在"),
            Error::Conflict(_) => ApiError::new(400, "资源已存在"),
            Error::State(message) => ApiError::new(400, message),
            Error::Unauthorized(failure) => match failure {
                AuthFailure::Missing => ApiError::new(401, "未授权，请先登录"),
                AuthFailure::ExpiredToken => ApiError::new(401, "Token已过期"),
                AuthFailure::InvalidToken | AuthFailure::RefreshReused => {
                    ApiError::new(401, "Token无效")
                }
                AuthFailure::WrongPassword => ApiError::new(1005, "密码错误"),
                AuthFailure::WrongCode => ApiError::new(1002, "验证码错误"),
                AuthFailure::CodeExpired => ApiError::new(1006, "验证码已过期，请重新获取"),
            },
            Error::Forbidden(Forbidden::AccountDisabled) => {
                ApiError::new(403, "账号已被禁用，请联系客服")
            }
            Error::Forbidden(Forbidden::NotAllowed) => ApiError::new(403, "禁止访问"),
            Error::RateLimited {
                message,
                retry_after_secs,
            } => ApiError::new(1008, message).retry_after(retry_after_secs),
            Error::Unavailable {
                service: Service::CodeDelivery,
                ..
            } => ApiError::new(1007, "验证码发送失败"),
            Error::Unavailable { .. } => ApiError::new(503, "服务暂不可用，请稍后再试"),
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                ApiError::new(500, "服务器内部错误")
            }
        }
    }
}

/// Marker left on an error response for [`finish`] to render.
#[derive(Clone)]
struct PendingError(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(PendingError(self));
        response
    }
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    code: u32,
    message: &'a str,
    data: T,
    timestamp: i64,
}

fn json_response<T: Serialize>(status: StatusCode, body: &Envelope<'_, T>) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a reply");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A success reply: `code` 200 with the document's message.
pub struct Reply<T: Serialize> {
    code: u32,
    message: &'static str,
    data: T,
    timestamp: i64,
}

impl<T: Serialize> Reply<T> {
    pub fn ok(state: &AppState, message: &'static str, data: T) -> Self {
        Self::with_code(state, 200, message, data)
    }

    /// A reply that carries data under another code (health answering 503 with its fields).
    pub fn with_code(state: &AppState, code: u32, message: &'static str, data: T) -> Self {
        Reply {
            code,
            message,
            data,
            timestamp: state.now().millis(),
        }
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let status = if self.code == 200 {
            StatusCode::OK
        } else {
            status_of(self.code)
        };
        json_response(
            status,
            &Envelope {
                code: self.code,
                message: self.message,
                data: self.data,
                timestamp: self.timestamp,
            },
        )
    }
}

/// The result type of heating handlers.
pub type ApiResult<T> = Result<Reply<T>, ApiError>;

/// Middleware: renders error bodies (from handlers, extractors, 404s and 405s) in the envelope.
pub async fn finish(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let pending = response.extensions().get::<PendingError>().cloned();
    let error = match pending {
        Some(PendingError(err)) => err,
        None if response.status() == StatusCode::NOT_FOUND
            && !response.headers().contains_key(header::CONTENT_TYPE) =>
        {
            ApiError::new(404, "接口不存在")
        }
        None if response.status() == StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(405, "请求方法不被允许")
        }
        None => return response,
    };
    render(&state, &error)
}

/// Renders an error in the envelope, stamped with the server's clock.
pub fn render(state: &AppState, error: &ApiError) -> Response {
    let rendered = json_response(
        error.status(),
        &Envelope {
            code: error.code,
            message: &crate::surfaces::clip(&error.message),
            data: (),
            timestamp: state.now().millis(),
        },
    );
    crate::surfaces::with_retry_after(rendered, error.retry_after)
}

/// The answer for paths the document does not have.
pub async fn not_found(State(state): State<AppState>) -> Response {
    render(&state, &ApiError::new(404, "接口不存在"))
}

/// Middleware: the document's global limit per client IP.
pub async fn limit_per_ip(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    req: Request,
    next: Next,
) -> Response {
    // WeChat Pay's notifications come from a few addresses and must never be turned away.
    let exempt = req.uri().path().ends_with("/api/payment/notify");
    if let (Some(ip), false) = (ip, exempt) {
        if let Err(wait) = state.heating_limiter.check(ip).await {
            return ApiError::new(1008, "操作频繁，请稍后再试")
                .retry_after(wait)
                .into_response();
        }
    }
    next.run(req).await
}

/// A required text field: present and not blank (else 400 with `message`).
pub fn required<'a>(value: &'a Option<String>, message: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(message))
}

/// A JSON or form body, rejected in the heating envelope.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, raw) = req.into_parts();
        let bytes = body::read(raw).await?;
        Ok(Body(body::decode(&parts.headers, &bytes)?))
    }
}

impl From<body::BodyError> for ApiError {
    fn from(e: body::BodyError) -> Self {
        ApiError::new(if e.too_large { 413 } else { 400 }, e.message)
    }
}

/// The logged-in user behind `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let principal = state.heating.users.authenticate(&token, SURFACE).await?;
        Ok(Auth(principal))
    }
}

/// The raw bearer token, for handlers that check it together with their own read.
pub struct BearerToken(pub String);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        crate::surfaces::bearer(&parts.headers)
            .map(|t| BearerToken(t.to_owned()))
            .ok_or(ApiError::from(Error::Unauthorized(AuthFailure::Missing)))
    }
}
