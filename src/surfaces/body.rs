//! Request bodies as JSON or as a form, whichever the client sent; each surface maps the error
//! into its own envelope.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

/// Largest body any surface reads (uploads have their own limits).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub struct BodyError(pub String);

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// Decodes `bytes` as a form (by content type, unless the body is plainly a JSON object) or as
/// JSON (anything else); an empty body is `{}`.
pub fn decode<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, BodyError> {
    let looks_like_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_form(headers) && !looks_like_json {
        return serde_urlencoded::from_bytes(bytes)
            .map_err(|e| BodyError(format!("表单参数格式错误: {e}")));
    }
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|e| BodyError(format!("请求体不是有效的JSON: {e}")))
}

/// Reads the whole body with the size limit.
pub async fn read(body: axum::body::Body) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| BodyError(format!("请求体过大或读取失败（上限 {} 字节）", MAX_BODY)))
}
