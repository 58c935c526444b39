//! The retail surface's errors, `{"code": "<name>", "message": "<text>"}` with a fitting HTTP
//! status, and its extractors (JSON or form body; bearer token), which refuse in that shape.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::retail::RetailUser;
use crate::domain::retail::feedback::PictureRefusal;
use crate::domain::{AuthFailure, Entity, Error, Forbidden};
use crate::surfaces::AppState;
use crate::surfaces::body;

/// A refusal in the retail envelope.
#[derive(Debug)]
pub struct RetailError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl RetailError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        RetailError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// 429 `rate_limited`, with `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> Self {
        RetailError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }
}

impl From<Error> for RetailError {
    fn from(err: Error) -> Self {
        use StatusCode as S;
        match err {
            Error::Invalid(inv) => RetailError::invalid(format!("{}: {}", inv.field, inv.message)),
            Error::NotFound(Entity::RetailCompany) => {
                RetailError::new(S::NOT_FOUND, "not_found", "售电公司不存在")
            }
            Error::NotFound(what) | Error::Gone(what) => {
                RetailError::new(S::NOT_FOUND, "not_found", format!("{what} not found"))
            }
            Error::Conflict(Entity::User) => {
                RetailError::new(S::CONFLICT, "phone_registered", "该手机号码已注册")
            }
            Error::Conflict(what) => {
                RetailError::new(S::CONFLICT, "conflict", format!("{what} already exists"))
            }
            Error::State(message) => RetailError::new(S::CONFLICT, "conflict", message),
            Error::Unauthorized(AuthFailure::WrongPassword) => {
                RetailError::new(S::UNAUTHORIZED, "wrong_credentials", "手机号码或密码错误")
            }
            Error::Unauthorized(AuthFailure::WrongCode | AuthFailure::CodeExpired) => {
                RetailError::new(S::BAD_REQUEST, "code_invalid", "验证码错误或已失效")
            }
            Error::Unauthorized(_) => RetailError::new(S::UNAUTHORIZED, "unauthorized", "请先登录"),
            Error::Forbidden(Forbidden::NotAllowed) => {
                RetailError::new(S::FORBIDDEN, "not_bound", "请先绑定企业")
            }
            Error::Forbidden(Forbidden::AccountDisabled) => {
                RetailError::new(S::FORBIDDEN, "forbidden", "账号已停用")
            }
            Error::RateLimited {
                message,
                retry_after_secs,
            } => RetailError::rate_limited(message, retry_after_secs),
            Error::Unavailable { detail, .. } => {
                RetailError::new(S::SERVICE_UNAVAILABLE, "unavailable", detail)
            }
            Error::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                RetailError::new(S::INTERNAL_SERVER_ERROR, "internal", "系统错误")
            }
        }
    }
}

impl From<PictureRefusal> for RetailError {
    fn from(refusal: PictureRefusal) -> Self {
        let (status, code) = match refusal {
            PictureRefusal::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            PictureRefusal::NotAnImage => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type"),
        };
        RetailError::new(status, code, refusal.to_string())
    }
}

impl IntoResponse for RetailError {
    fn into_response(self) -> Response {
        let response = (
            self.status,
            axum::Json(json!({"code": self.code, "message": crate::surfaces::clip(&self.message)})),
        )
            .into_response();
        crate::surfaces::with_retry_after(response, self.retry_after)
    }
}

/// The answer for paths the document does not have.
pub async fn not_found() -> RetailError {
    RetailError::new(StatusCode::NOT_FOUND, "not_found", "接口不存在")
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed() -> RetailError {
    RetailError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该接口不支持此请求方法",
    )
}

/// Names under which a client may send the binding's fields (any of them makes a
/// `POST /user/login` with a token a binding).
pub const COMPANY: &[&str] = &["company_id", "company", "retail_company", "companyId"];
pub const ENTERPRISE_NAME: &[&str] = &["enterprise_name", "enterprise", "enterpriseName"];
pub const CREDIT_CODE: &[&str] = &[
    "credit_code",
    "organization_code",
    "org_code",
    "creditCode",
    "organizationCode",
];
pub const PHONE_LAST4: &[&str] = &["phone_last4", "phone_suffix", "last4", "phoneLast4"];

/// The query string's parameters; a repeated one is refused (which value would count?).
pub struct QueryParams(pub HashMap<String, String>);

impl FromRequestParts<AppState> for QueryParams {
    type Rejection = RetailError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let pairs: Vec<(String, String)> = match parts.uri.query() {
            Some(q) => serde_urlencoded::from_str(q)
                .map_err(|e| RetailError::invalid(format!("查询参数格式错误: {e}")))?,
            None => Vec::new(),
        };
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v).is_some() {
                return Err(RetailError::invalid(format!("{k}: 参数重复")));
            }
        }
        Ok(QueryParams(map))
    }
}

/// Names a client may give the phone number.
pub const PHONE: &[&str] = &["phone", "mobile", "phone_number", "phoneNumber", "tel"];
/// Names of the password.
pub const PASSWORD: &[&str] = &["password", "pwd"];
/// Names of the captcha answer (验证码).
pub const CAPTCHA: &[&str] = &[
    "captcha",
    "code",
    "verify_code",
    "verifyCode",
    "captcha_code",
];
impl From<body::BodyError> for RetailError {
    fn from(e: body::BodyError) -> Self {
        if e.too_large {
            RetailError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.message)
        } else {
            RetailError::invalid(e.message)
        }
    }
}

/// Names of the SMS code that binding takes (sent to the enterprise's contact phone).
pub const SMS_CODE: &[&str] = &["code", "sms_code", "smsCode", "verify_code", "verifyCode"];
/// Names of the captcha id; the `retail_captcha` cookie set by `GET /qr_code` stands in when
/// none is sent (clients that keep the captcha in a cookie session).
pub const CAPTCHA_ID: &[&str] = &["captcha_id", "captchaId", "captcha_key", "key", "uuid"];

/// The cookie that carries the last captcha's id.
pub const CAPTCHA_COOKIE: &str = "retail_captcha";

/// The body's fields, from JSON or a form; values kept as JSON (a form gives strings).
pub struct Fields(pub HashMap<String, Value>);

impl FromRequest<AppState> for Fields {
    type Rejection = RetailError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_multipart = body::is_multipart(req.headers());
        let headers = req.headers().clone();
        let mut fields: HashMap<String, Value> = if is_multipart {
            body::multipart_text_fields(req, state)
                .await?
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        } else {
            let (parts, raw) = req.into_parts();
            let bytes = body::read(raw).await?;
            body::decode(&parts.headers, &bytes)?
        };
        let parts_headers = headers;
        // No text field may hold control characters other than line breaks and tabs (a NUL
        // would even be refused by PostgreSQL as a query parameter). A key with one is no field
        // of this surface (their names are plain ASCII), so it is dropped, not refused.
        fields.retain(|k, _| !k.chars().any(char::is_control));
        if let Some(name) = fields.iter().find_map(|(k, v)| {
            let bad = |t: &str| {
                t.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            };
            let value_bad = match v {
                Value::String(t) => bad(t),
                Value::Array(items) => items.iter().any(|i| i.as_str().is_some_and(bad)),
                _ => false,
            };
            value_bad.then(|| k.clone())
        }) {
            return Err(RetailError::invalid(format!("{name}: 不能包含控制字符")));
        }
        // A field the surface reads as text must be text: a number stands in for digits, null
        // for an absent field, but a boolean, an object or an array is refused, not read as "".
        let text_only = [
            ENTERPRISE_NAME,
            CREDIT_CODE,
            CAPTCHA_ID,
            &["content", "contact", "state", "type"],
        ];
        let digits_too = [
            PHONE,
            PASSWORD,
            CAPTCHA,
            SMS_CODE,
            COMPANY,
            PHONE_LAST4,
            &[
                "old_password",
                "oldPassword",
                "new_password",
                "newPassword",
                "new_phone",
                "newPhone",
                "old_phone",
                "old_phone_number",
                "oldPhone",
                "new_phone_number",
                "year",
                "month",
                "number",
                "elec_number",
            ],
        ];
        for (names, numbers) in text_only
            .iter()
            .map(|n| (*n, false))
            .chain(digits_too.iter().map(|n| (*n, true)))
        {
            for name in names {
                match fields.get(*name) {
                    None | Some(Value::String(_) | Value::Null) => {}
                    Some(Value::Number(_)) if numbers => {}
                    Some(_) => return Err(RetailError::invalid(format!("{name}: 须为文本"))),
                }
            }
        }
        if !CAPTCHA_ID.iter().any(|k| fields.contains_key(*k)) {
            if let Some(id) = crate::surfaces::cookie(&parts_headers, CAPTCHA_COOKIE) {
                fields.insert("captcha_id".into(), Value::String(id.to_owned()));
            }
        }
        Ok(Fields(fields))
    }
}

impl Fields {
    /// A field as text ("" when absent); numbers are written out.
    pub fn text(&self, name: &str) -> String {
        match self.0.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        }
    }

    /// The first of several accepted names that is present.
    pub fn text_of(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| self.text(n))
            .find(|v| !v.trim().is_empty())
            .unwrap_or_default()
    }

    /// A list: a JSON array, or a comma-separated string (forms).
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => s
                .split([',', '，'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A signed-in hall user and the token it came with.
pub struct Auth {
    pub user: RetailUser,
    pub token: String,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = RetailError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Only the header: a token in the query string would end up in access logs.
        let token = crate::surfaces::bearer(&parts.headers)
            .ok_or(RetailError::from(Error::Unauthorized(AuthFailure::Missing)))?
            .to_owned();
        let user = state.retail.authenticate(&token).await?;
        Ok(Auth { user, token })
    }
}
