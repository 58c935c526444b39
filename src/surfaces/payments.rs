//! The payment gateway's own callback: WeChat Pay's notification, in WeChat Pay's format. Every
//! area that sells mounts it at the path its document gives; the payments service verifies the
//! notification and hands it to the area that owns the order.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::Error;
use crate::domain::payments::NotificationHeaders;
use crate::surfaces::AppState;

/// Where WeChat Pay posts its notifications: heating's 5.5 `POST /api/payment/notify` and the
/// IoT platform's `POST /orders/notify/weixin`, both to the one payments service.
/// 204 once the payment is recorded (or was
/// already); `{"code":"FAIL","message":...}` with a 4xx/5xx otherwise, so WeChat tries again.
pub async fn notify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let signature = NotificationHeaders {
        timestamp: header("wechatpay-timestamp"),
        nonce: header("wechatpay-nonce"),
        signature: header("wechatpay-signature"),
        serial: header("wechatpay-serial"),
    };
    let (status, message) = match state.payments.handle_notification(&signature, &body).await {
        Ok(_) => return StatusCode::NO_CONTENT.into_response(),
        Err(Error::Unauthorized(_)) => (StatusCode::UNAUTHORIZED, "签名验证失败".to_owned()),
        Err(Error::NotFound(_)) => (StatusCode::NOT_FOUND, "订单不存在".to_owned()),
        Err(Error::State(message)) => (StatusCode::BAD_REQUEST, message),
        Err(e) => {
            tracing::error!(error = %e, "payment notification failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "处理失败".to_owned())
        }
    };
    (
        status,
        axum::Json(serde_json::json!({"code": "FAIL", "message": message})),
    )
        .into_response()
}
