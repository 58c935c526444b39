//! The payment gateway seam: what the domain asks of WeChat Pay (or of the simulated gateway
//! under `--dev`), and nothing about how it is spoken.

use std::future::Future;
use std::pin::Pin;

use super::Timestamp;
use super::money::Fen;

/// A failure talking to the gateway (network, refused signature, not configured).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GatewayError(pub String);

/// The boxed future gateway calls return.
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// What to ask a prepay for.
#[derive(Debug, Clone)]
pub struct PrepayRequest {
    pub out_trade_no: String,
    pub description: String,
    pub amount: Fen,
    pub openid: Option<String>,
    pub expires_at: Timestamp,
}

/// What the mini-program passes to `wx.requestPayment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPayParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

/// Where a trade stands at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeState {
    /// Paid: the gateway's transaction id and the amount it took.
    Success { transaction_id: String, amount: Fen },
    /// Not paid yet (the payer may still pay).
    NotPaid,
    /// Closed or revoked: it will never be paid.
    Closed,
    /// The payment failed.
    Failed(String),
}

/// The signature headers of a notification (or of a gateway reply).
#[derive(Debug, Clone, Default)]
pub struct NotificationHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

/// A verified, decrypted payment notification.
#[derive(Debug, Clone)]
pub struct Notification {
    pub event_type: String,
    pub out_trade_no: String,
    pub state: TradeState,
}

/// A payment provider.
pub trait PaymentGateway: Send + Sync {
    /// `wechat`, `simulated`, `none`.
    fn name(&self) -> &'static str;
    /// Whether payments can be completed by hand (the dev simulator only).
    fn is_simulated(&self) -> bool {
        false
    }
    /// Whether a prepay needs the payer's id (WeChat JSAPI: the openid).
    fn needs_payer_id(&self) -> bool {
        false
    }
    /// Creates the trade; returns the prepay id.
    fn prepay(&self, req: PrepayRequest) -> GatewayFuture<'_, String>;
    /// Signs the parameters the client needs to pay a prepay id.
    fn client_params(
        &self,
        prepay_id: &str,
        now: Timestamp,
    ) -> Result<ClientPayParams, GatewayError>;
    /// Asks where a trade stands.
    fn query(&self, out_trade_no: String) -> GatewayFuture<'_, TradeState>;
    /// Closes an unpaid trade.
    fn close(&self, out_trade_no: String) -> GatewayFuture<'_, ()>;
    /// Verifies and decrypts a payment notification; nothing is believed before this succeeds.
    fn parse_notification(
        &self,
        _headers: &NotificationHeaders,
        _body: &[u8],
    ) -> Result<Notification, GatewayError> {
        Err(GatewayError(format!(
            "the {} gateway sends no notifications",
            self.name()
        )))
    }
}
