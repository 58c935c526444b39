//! Request bodies as JSON or as a form, whichever the client sent; each surface maps the error
//! into its own envelope.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

/// Largest body any surface reads (uploads have their own limits).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a body could not be read: too large (413 in every envelope), or malformed.
#[derive(Debug)]
pub struct BodyError {
    pub message: String,
    pub too_large: bool,
}

impl BodyError {
    fn bad(message: impl Into<String>) -> BodyError {
        BodyError {
            message: message.into(),
            too_large: false,
        }
    }

    fn too_large(limit: usize) -> BodyError {
        BodyError {
            message: format!("请求体过大（上限 {limit} 字节）: request body too large"),
            too_large: true,
        }
    }
}

/// Whether an error of reading a body is its size limit (axum's `DefaultBodyLimit`, or ours).
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        next = err.source();
    }
    false
}

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
    let form = is_form(headers) && !looks_like_json;
    if has_nul(bytes, form) {
        return Err(BodyError::bad("请求参数不能包含空字符（NUL）"));
    }
    if form {
        return serde_urlencoded::from_bytes(bytes)
            .map_err(|e| BodyError::bad(format!("表单参数格式错误: {e}")));
    }
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|e| BodyError::bad(format!("请求体不是有效的JSON: {e}")))
}

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
}

/// The text fields of a `multipart/form-data` body (browsers' `FormData`, Postman's
/// "form-data", PHP curl with an array), each at most 64 KiB; a file part is refused.
pub async fn multipart_text_fields<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<std::collections::HashMap<String, String>, BodyError> {
    use axum::extract::FromRequest;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return BodyError::too_large(MAX_BODY);
        }
        BodyError::bad(format!("multipart 格式错误: {}", e.body_text()))
    };
    let mut form = axum::extract::Multipart::from_request(req, state)
        .await
        .map_err(|e| BodyError::bad(e.body_text()))?;
    let mut fields = std::collections::HashMap::new();
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            return Err(BodyError::bad(format!("{name}: 此接口不接受文件")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > 64 * 1024 {
                return Err(BodyError::bad(format!("{name}: 字段过长")));
            }
        }
        if bytes.contains(&0) {
            return Err(BodyError::bad("请求参数不能包含空字符（NUL）"));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| BodyError::bad(format!("{name}: 须为 UTF-8 文本")))?;
        fields.insert(name, text);
    }
    Ok(fields)
}

/// Reads the whole body with the size limit.
pub async fn read(body: axum::body::Body) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let inner = e.into_inner();
        if is_length_limit(&*inner) {
            BodyError::too_large(MAX_BODY)
        } else {
            BodyError::bad("请求体读取失败: the request body could not be read")
        }
    })
}

/// Whether raw request text carries a NUL character: as a byte, a JSON `\u0000` escape or (in
/// a form or query string) `%00`. No field has a use for one, and PostgreSQL refuses it in
/// text parameters.
pub fn has_nul(bytes: &[u8], urlencoded: bool) -> bool {
    bytes.contains(&0)
        || if urlencoded {
            bytes.windows(3).any(|w| w == b"%00")
        } else {
            bytes
                .windows(6)
                .any(|w| w[0] == b'\\' && (w[1] | 0x20) == b'u' && &w[2..] == b"0000")
        }
}

fn text(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every parameter of a request as text: the query string, then a form, JSON or multipart
/// body (the body wins). A NUL anywhere is refused.
pub async fn all_params(
    req: axum::extract::Request,
    state: &crate::surfaces::AppState,
) -> Result<std::collections::HashMap<String, String>, BodyError> {
    let multipart = is_multipart(req.headers());
    let (parts, raw) = req.into_parts();
    if parts
        .uri
        .query()
        .is_some_and(|q| has_nul(q.as_bytes(), true))
    {
        return Err(BodyError::bad("请求参数不能包含空字符（NUL）"));
    }
    let mut params: std::collections::HashMap<String, String> = parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    if multipart {
        let fields =
            multipart_text_fields(axum::extract::Request::from_parts(parts, raw), state).await?;
        params.extend(fields);
        return Ok(params);
    }
    let bytes = read(raw).await?;
    let fields: std::collections::HashMap<String, serde_json::Value> =
        decode(&parts.headers, &bytes)?;
    params.extend(
        fields
            .into_iter()
            .filter_map(|(k, v)| text(v).map(|t| (k, t))),
    );
    Ok(params)
}

/// Removes `//` and `/* */` comments outside strings, then commas before `}` or `]`: the
/// document's example message has both.
pub fn lenient_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    // Trailing commas (outside strings: strings were copied whole, so scan with the same rule).
    let mut cleaned = String::with_capacity(out.len());
    let mut in_string = false;
    let mut escaped = false;
    let bytes: Vec<char> = out.chars().collect();
    for (i, &c) in bytes.iter().enumerate() {
        if in_string {
            cleaned.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c == ',' {
            let next = bytes[i + 1..].iter().find(|n| !n.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        cleaned.push(c);
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::has_nul;

    #[test]
    fn finds_nul_in_every_spelling() {
        assert!(has_nul(b"{\"a\":\"x\\u0000\"}", false));
        assert!(has_nul(b"a=%00", true));
        assert!(has_nul(b"a\0", false));
        assert!(!has_nul(b"{\"a\":\"\\u00e9 100%00\"}", false));
        assert!(!has_nul(b"a=%0A", true));
    }
}
