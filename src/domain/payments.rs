//! Payments, shared by every area that sells: the gateway seam (what the domain asks of WeChat
//! Pay, or of the simulated gateway under `--dev`, and nothing about how it is spoken), and the
//! one place a gateway's notification comes in and goes to the area that owns the order.
//!
//! One merchant account serves every area. An area that sells through it implements
//! [`OrderOwner`]: it says whether an `out_trade_no` is one of its orders and settles its own
//! orders (journal entries, state, what follows), exactly once. [`Payments`] verifies a
//! notification once, asks the owners in turn, and hands a successful payment to the one that
//! owns it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::money::Fen;
use super::{AuthFailure, Error, Timestamp};

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

/// A verified, successful payment of one order.
#[derive(Debug, Clone, Copy)]
pub struct Paid<'a> {
    pub out_trade_no: &'a str,
    /// The gateway's transaction id.
    pub transaction_id: &'a str,
    /// What the gateway took.
    pub amount: Fen,
}

/// What settling a payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The payment was recorded now.
    Recorded,
    /// It had been recorded before (a repeated notification or query): nothing changed.
    AlreadyRecorded,
}

/// The boxed future an [`OrderOwner`] returns.
pub type OwnerFuture<'a, T> = Pin<Box<dyn Future<Output = super::Result<T>> + Send + 'a>>;

/// An area whose orders are paid through the gateway, and which settles them itself.
pub trait OrderOwner: Send + Sync {
    /// Whether `out_trade_no` names one of this area's orders.
    fn owns<'a>(&'a self, out_trade_no: &'a str) -> OwnerFuture<'a, bool>;
    /// Records a verified payment of one of this area's orders, exactly once.
    fn settle<'a>(&'a self, paid: Paid<'a>) -> OwnerFuture<'a, Settlement>;
}

/// The payments service: the gateway, and the owners its notifications go to.
pub struct Payments {
    gateway: Arc<dyn PaymentGateway>,
    /// Asked in order; the last is the one that takes what no other claims.
    owners: Vec<Arc<dyn OrderOwner>>,
}

impl Payments {
    /// `owners` are asked in order whether an order is theirs; the last one settles whatever
    /// none of the others claims (and answers "unknown order" itself when it is not).
    pub fn new(gateway: Arc<dyn PaymentGateway>, owners: Vec<Arc<dyn OrderOwner>>) -> Payments {
        Payments { gateway, owners }
    }

    /// The gateway itself (prepay, query, close).
    pub fn gateway(&self) -> &Arc<dyn PaymentGateway> {
        &self.gateway
    }

    /// A payment notification from the gateway: believed only once its signature verifies and
    /// its resource decrypts; a successful payment goes to the area that owns the order and is
    /// recorded there exactly once.
    pub async fn handle_notification(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
    ) -> super::Result<Option<Settlement>> {
        let notice = self
            .gateway
            .parse_notification(headers, body)
            .map_err(|e| Error::Unauthorized(AuthFailure::InvalidToken).tap_log(&e.0))?;
        let TradeState::Success {
            transaction_id,
            amount,
        } = &notice.state
        else {
            tracing::info!(order = %notice.out_trade_no, state = ?notice.state, event = %notice.event_type, "notification without payment");
            return Ok(None);
        };
        let paid = Paid {
            out_trade_no: &notice.out_trade_no,
            transaction_id,
            amount: *amount,
        };
        let Some((last, others)) = self.owners.split_last() else {
            return Err(Error::NotFound(super::Entity::Order));
        };
        for owner in others {
            if owner.owns(paid.out_trade_no).await? {
                return owner.settle(paid).await.map(Some);
            }
        }
        last.settle(paid).await.map(Some)
    }
}
