//! The IoT surface's envelope (section 3.2): `{"total", "data", "status", "code", "message"}`
//! with the HTTP statuses of section 3.1, and its extractors (bearer token, JSON or form body,
//! list parameters), which refuse in that envelope.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::input::Fields;
use crate::domain::iot::Caller;
use crate::domain::iot::listing::{ListRequest, Listed, Page};
use crate::domain::{AuthFailure, Entity, Error, Forbidden};
use crate::surfaces::AppState;
use crate::surfaces::body;

/// A refusal in the envelope.
#[derive(Debug)]
pub struct IotError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<&'static str>,
    pub retry_after: Option<u64>,
}

impl IotError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        IotError {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

fn entity_name(e: Entity) -> String {
    e.to_string()
}

impl From<Error> for IotError {
    fn from(err: Error) -> Self {
        use StatusCode as S;
        match err {
            Error::Invalid(inv) => IotError {
                field: Some(inv.field),
                ..IotError::new(
                    S::UNPROCESSABLE_ENTITY,
                    format!("{}: {}", inv.field, inv.message),
                )
            },
            Error::NotFound(what) => {
                IotError::new(S::NOT_FOUND, format!("{} not found", entity_name(what)))
            }
            Error::Gone(what) => {
                IotError::new(S::GONE, format!("this {} was deleted", entity_name(what)))
            }
            Error::Conflict(Entity::User) => IotError {
                field: Some("mobile"),
                ..IotError::new(
                    S::UNPROCESSABLE_ENTITY,
                    "mobile: this mobile number is registered with this vendor",
                )
            },
            Error::Conflict(what) => IotError::new(
                S::UNPROCESSABLE_ENTITY,
                format!("this {} exists already", entity_name(what)),
            ),
            Error::State(message) => IotError::new(S::UNPROCESSABLE_ENTITY, message),
            Error::Unauthorized(AuthFailure::WrongPassword) => {
                IotError::new(S::UNAUTHORIZED, "wrong user name, mobile or password")
            }
            Error::Unauthorized(AuthFailure::WrongCode | AuthFailure::CodeExpired) => IotError {
                field: Some("code"),
                ..IotError::new(
                    S::UNPROCESSABLE_ENTITY,
                    "code: the verification code is wrong or expired",
                )
            },
            Error::Unauthorized(AuthFailure::Missing) => IotError::new(
                S::UNAUTHORIZED,
                "log in first: send Authorization: Bearer <token>",
            ),
            Error::Unauthorized(_) => IotError::new(
                S::UNAUTHORIZED,
                "the token is invalid or expired: log in again",
            ),
            Error::Forbidden(Forbidden::AccountDisabled) => {
                IotError::new(S::FORBIDDEN, "this account is disabled")
            }
            Error::Forbidden(Forbidden::NotAllowed) => {
                IotError::new(S::FORBIDDEN, "your role may not call this endpoint")
            }
            Error::RateLimited {
                message,
                retry_after_secs,
            } => IotError {
                retry_after: Some(retry_after_secs),
                ..IotError::new(S::TOO_MANY_REQUESTS, message)
            },
            Error::Unavailable { detail, .. } => IotError::new(S::SERVICE_UNAVAILABLE, detail),
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                IotError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal error: whether the request took effect is unknown",
                )
            }
        }
    }
}

impl IntoResponse for IotError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "total": 0,
            "data": "",
            "status": false,
            "code": self.status.as_u16().to_string(),
            "message": crate::surfaces::clip(&self.message),
        });
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        let response = (self.status, axum::Json(body)).into_response();
        crate::surfaces::with_retry_after(response, self.retry_after)
    }
}

/// A success: `data` with its status (200 read, 201 created or changed, 204 deleted).
pub struct Reply {
    pub status: StatusCode,
    pub total: usize,
    pub data: Data,
    /// Lists are also given under the document's own key (`users`, `devices`, ...).
    pub key: Option<&'static str>,
}

/// A reply's `data`: a JSON value, or parts written already (see [`super::wire::order`]).
pub enum Data {
    Value(Value),
    Written(Arc<RawValue>),
    WrittenList(Vec<Arc<RawValue>>),
}

impl serde::Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::Value(v) => v.serialize(s),
            Data::Written(raw) => raw.serialize(s),
            Data::WrittenList(items) => s.collect_seq(items.iter().map(|raw| &**raw)),
        }
    }
}

impl From<Value> for Data {
    fn from(v: Value) -> Data {
        Data::Value(v)
    }
}

impl From<Box<RawValue>> for Data {
    fn from(raw: Box<RawValue>) -> Data {
        Data::Written(raw.into())
    }
}

impl From<Arc<RawValue>> for Data {
    fn from(raw: Arc<RawValue>) -> Data {
        Data::Written(raw)
    }
}

impl Reply {
    pub fn ok(data: impl Into<Data>) -> Reply {
        let data = data.into();
        Reply {
            status: StatusCode::OK,
            total: usize::from(!matches!(data, Data::Value(Value::Null))),
            data,
            key: None,
        }
    }

    pub fn created(data: impl Into<Data>) -> Reply {
        Reply {
            status: StatusCode::CREATED,
            ..Reply::ok(data)
        }
    }

    pub fn deleted() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            total: 0,
            data: Data::Value(Value::Null),
            key: None,
        }
    }

    pub fn list(key: &'static str, total: usize, items: Vec<Value>) -> Reply {
        Reply {
            status: StatusCode::OK,
            total,
            data: Data::Value(Value::Array(items)),
            key: Some(key),
        }
    }

    /// A list of parts written already.
    pub fn written_list(key: &'static str, total: usize, items: Vec<Arc<RawValue>>) -> Reply {
        Reply {
            status: StatusCode::OK,
            total,
            data: Data::WrittenList(items),
            key: Some(key),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NO_CONTENT {
            return StatusCode::NO_CONTENT.into_response();
        }
        let total = Data::Value(json!(self.total));
        let code = Data::Value(json!(self.status.as_u16().to_string()));
        let (yes, ok) = (Data::Value(Value::Bool(true)), Data::Value(json!("OK")));
        let mut fields = vec![
            ("code", &code),
            ("data", &self.data),
            ("message", &ok),
            ("status", &yes),
            ("total", &total),
        ];
        // A list is also under the document's own key: the same value, written twice, never
        // copied. The keys in order, as a JSON object of the whole would write them.
        if let Some(key) = self.key {
            fields.push((key, &self.data));
            fields.sort_by_key(|(k, _)| *k);
        }
        match serde_json::to_vec(&Entries(&fields)) {
            Ok(body) => (
                self.status,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "an IoT reply could not be written");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// An object written from borrowed entries.
struct Entries<'a>(&'a [(&'a str, &'a Data)]);

impl serde::Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (*k, *v)))
    }
}

/// The result of a handler.
pub type Answer = Result<Reply, IotError>;

/// The caller behind `Authorization: Bearer <token>` (401 without one).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = IotError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::surfaces::bearer(&parts.headers)
            .ok_or(Error::Unauthorized(AuthFailure::Missing))?;
        Ok(Auth(state.iot.members.caller(token).await?))
    }
}

/// The caller when a token is sent (a bad token is still refused).
pub struct MaybeAuth(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = IotError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match crate::surfaces::bearer(&parts.headers) {
            None => Ok(MaybeAuth(None)),
            Some(token) => Ok(MaybeAuth(Some(state.iot.members.caller(token).await?))),
        }
    }
}

/// The bearer token itself (for log-out).
pub struct Token(pub String);

impl FromRequestParts<AppState> for Token {
    type Rejection = IotError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        crate::surfaces::bearer(&parts.headers)
            .map(|t| Token(t.to_owned()))
            .ok_or_else(|| Error::Unauthorized(AuthFailure::Missing).into())
    }
}

/// The body as fields: a JSON object (the document's comments and trailing commas allowed), a
/// form, or nothing; the query string's parameters fill in what the body does not give.
pub struct Body(pub Fields);

impl FromRequest<AppState> for Body {
    type Rejection = IotError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, raw) = req.into_parts();
        let query = query_pairs(&parts)?;
        let bytes = body::read(raw).await.map_err(|e| {
            if e.too_large {
                IotError::new(StatusCode::PAYLOAD_TOO_LARGE, e.message)
            } else {
                IotError::bad_request(e.message)
            }
        })?;
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let json_like = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[');
        if body::has_nul(&bytes, form && !json_like) {
            return Err(IotError::bad_request("the request holds a NUL character"));
        }
        let mut fields = if bytes.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else if form && !json_like {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
                .map_err(|e| IotError::bad_request(format!("Problems parsing the form: {e}")))?;
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        } else {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| IotError::bad_request("Problems parsing JSON: not UTF-8"))?;
            match serde_json::from_str(&body::lenient_json(text)) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(IotError::bad_request(
                        "Problems parsing JSON: the body must be a JSON object",
                    ));
                }
                Err(e) => return Err(IotError::bad_request(format!("Problems parsing JSON: {e}"))),
            }
        };
        for (k, v) in query {
            fields.entry(k).or_insert(Value::String(v));
        }
        Ok(Body(Fields(fields)))
    }
}

fn query_pairs(parts: &Parts) -> Result<Vec<(String, String)>, IotError> {
    match parts.uri.query() {
        None => Ok(Vec::new()),
        Some(q) if body::has_nul(q.as_bytes(), true) => {
            Err(IotError::bad_request("the query holds a NUL character"))
        }
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|e| IotError::bad_request(format!("Problems parsing the query: {e}"))),
    }
}

/// Section 3.3: `limit`, `offset`, `sort`, `order` and field filters (`?type=1`).
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    pub sort: Option<String>,
    pub descending: bool,
    pub filters: Vec<(String, String)>,
}

/// The largest page.
pub const MAX_LIMIT: usize = 1000;

impl FromRequestParts<AppState> for ListQuery {
    type Rejection = IotError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut q = ListQuery {
            limit: 100,
            offset: 0,
            sort: None,
            descending: false,
            filters: Vec::new(),
        };
        let mut seen = HashMap::new();
        for (k, v) in query_pairs(parts)? {
            if seen.insert(k.clone(), ()).is_some() {
                return Err(IotError::bad_request(format!("{k} is given twice")));
            }
            match k.as_str() {
                "limit" => {
                    q.limit = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|l| (1..=MAX_LIMIT).contains(l))
                        .ok_or_else(|| {
                            IotError::bad_request(format!("limit must be from 1 to {MAX_LIMIT}"))
                        })?
                }
                "offset" => {
                    // Past every row is an empty page, however far.
                    q.offset = v
                        .trim()
                        .parse::<u128>()
                        .map(|n| usize::try_from(n.min(i64::MAX as u128)).unwrap_or(usize::MAX))
                        .map_err(|_| IotError::bad_request("offset must be 0 or more"))?
                }
                "sort" => q.sort = Some(v.trim().to_owned()).filter(|s| !s.is_empty()),
                "order" => {
                    q.descending = match v.trim().to_ascii_lowercase().as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(IotError::bad_request("order must be asc or desc")),
                    }
                }
                "token" | "access_token" => {}
                _ => q.filters.push((k, v)),
            }
        }
        Ok(q)
    }
}

impl ListQuery {
    /// The request, for the domain to plan.
    pub fn request(&self) -> ListRequest {
        ListRequest {
            filters: self.filters.clone(),
            sort: self.sort.clone(),
            descending: self.descending,
            limit: self.limit as i64,
            offset: i64::try_from(self.offset).unwrap_or(i64::MAX),
        }
    }

    /// The page the domain answered, or the 400 for a field the list's objects do not have.
    pub fn page<T>(&self, key: &'static str, listed: Listed<T>) -> Result<Page<T>, IotError> {
        listed.map_err(|e| {
            IotError::bad_request(if e.sorting {
                format!("cannot sort {key} by {}: no such field", e.field)
            } else {
                format!("cannot filter {key} by {}: no such field", e.field)
            })
        })
    }
}

/// The answer for paths the document does not have.
pub async fn not_found() -> IotError {
    IotError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed() -> IotError {
    IotError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take this method",
    )
}

/// Whether a path decodes to clean UTF-8 text (no NUL, no broken escapes): ids never hold
/// anything else, and PostgreSQL refuses a NUL in text.
fn clean_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => out.push(b),
                None => return false,
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    !out.contains(&0) && std::str::from_utf8(&out).is_ok()
}

/// Section 3.1's 406: a client that accepts no JSON gets none. A path that is no text (a
/// NUL, a broken escape) names nothing: 404.
pub async fn only_json(req: Request, next: axum::middleware::Next) -> Response {
    if !clean_path(req.uri().path()) {
        return IotError::new(
            StatusCode::NOT_FOUND,
            "no such object: the path is not valid text",
        )
        .into_response();
    }
    let refuses_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            let a = accept.to_ascii_lowercase();
            !a.trim().is_empty()
                && !a.contains("json")
                && !a.contains("*/*")
                && !a.contains("application/*")
        });
    if refuses_json {
        return IotError::new(
            StatusCode::NOT_ACCEPTABLE,
            "only application/json is available",
        )
        .into_response();
    }
    next.run(req).await
}
