//! The admin API's envelope: plain JSON objects on success; `{"error": {"code", "message"}}` with
//! a fitting HTTP status on failure.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::heating::import::ImportReport;
use crate::domain::operators::Operator;
use crate::domain::{AuthFailure, Error};
use crate::surfaces::AppState;
use crate::surfaces::body;

/// What most admin handlers answer: a JSON object, or the error envelope.
pub(super) type AdminResult = Result<axum::Json<Value>, AdminError>;

/// A failure in the admin envelope.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
}

impl From<Error> for AdminError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(inv) => AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("{}: {}", inv.field, inv.message),
            ),
            Error::NotFound(what) | Error::Gone(what) => AdminError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            Error::Conflict(what) => AdminError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            Error::State(message) => AdminError::new(StatusCode::CONFLICT, "conflict", message),
            Error::Unauthorized(AuthFailure::WrongPassword) => AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "wrong user name or password",
            ),
            Error::Unauthorized(AuthFailure::Missing) => AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an operator bearer token is required",
            ),
            Error::Unauthorized(_) => AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid or expired token",
            ),
            Error::Forbidden(reason) => {
                AdminError::new(StatusCode::FORBIDDEN, "forbidden", format!("{reason:?}"))
            }
            Error::RateLimited {
                message,
                retry_after_secs,
            } => AdminError {
                retry_after: Some(retry_after_secs),
                ..AdminError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            },
            Error::Unavailable {
                service: crate::domain::Service::ChargeBox,
                detail,
            } => AdminError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", detail),
            Error::Unavailable { detail, .. } => {
                AdminError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
            }
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                AdminError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let response = (
            self.status,
            axum::Json(
                json!({"error": {"code": self.code, "message": crate::surfaces::clip(&self.message)}}),
            ),
        )
            .into_response();
        crate::surfaces::with_retry_after(response, self.retry_after)
    }
}

/// The answer for paths the admin API does not have.
pub async fn not_found() -> AdminError {
    AdminError::new(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint")
}

/// A JSON (or form) body, rejected in the admin envelope.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, raw) = req.into_parts();
        let bytes = body::read(raw).await?;
        Ok(Body(body::decode(&parts.headers, &bytes)?))
    }
}

/// A whole raw body (a CSV file), refused in the admin envelope: 413 over the route's limit.
pub struct RawBody(pub axum::body::Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(AdminError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the file is larger than this import takes",
            )),
            Err(e) => Err(AdminError::bad_request(e.body_text())),
        }
    }
}

impl From<body::BodyError> for AdminError {
    fn from(e: body::BodyError) -> Self {
        if e.too_large {
            AdminError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.message)
        } else {
            AdminError::bad_request(e.message)
        }
    }
}

/// A logged-in operator.
pub struct OperatorAuth(pub Operator);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::surfaces::bearer(&parts.headers)
            .ok_or(AdminError::from(Error::Unauthorized(AuthFailure::Missing)))?;
        Ok(OperatorAuth(state.operators.authenticate(token).await?))
    }
}

/// What a CSV import did, as every import route answers it.
pub(super) fn report_json(r: ImportReport) -> Value {
    json!({"rows": r.rows, "created": r.created, "updated": r.updated, "unchanged": r.unchanged})
}

/// A number or a string, as text (`85.5`, `"85.50"`).
pub(super) fn text_of(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}
