//! The domain's one error type; every surface maps it to its document's codes in one place.

use std::fmt;

/// What a rule was broken about; surfaces pick their codes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    Operator,
    Agreement,
    HeatAccount,
    Bill,
    Order,
    MeterAccount,
    Household,
    RetailCompany,
    Enterprise,
    Article,
    GuideEntry,
    Contract,
    Plan,
    SettlementBill,
    Feedback,
    ChargingRequest,
    Pile,
    Vendor,
    Agent,
    Device,
    Product,
    Ticket,
    ChargeBox,
    IdTag,
    Other,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Entity::User => "user",
            Entity::Operator => "operator",
            Entity::Agreement => "agreement",
            Entity::HeatAccount => "heat account",
            Entity::Bill => "bill",
            Entity::Order => "order",
            Entity::MeterAccount => "meter API account",
            Entity::Household => "household",
            Entity::RetailCompany => "retail company",
            Entity::Enterprise => "enterprise",
            Entity::Article => "article",
            Entity::GuideEntry => "guide entry",
            Entity::Contract => "contract",
            Entity::Plan => "electricity plan",
            Entity::SettlementBill => "settlement bill",
            Entity::Feedback => "feedback",
            Entity::ChargingRequest => "charging request",
            Entity::Pile => "charging pile",
            Entity::Vendor => "vendor",
            Entity::Agent => "agent",
            Entity::Device => "device",
            Entity::Product => "product",
            Entity::Ticket => "ticket",
            Entity::ChargeBox => "charge box",
            Entity::IdTag => "id tag",
            Entity::Other => "resource",
        };
        f.write_str(s)
    }
}

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential was presented.
    Missing,
    /// The token is malformed, forged, revoked or unknown.
    InvalidToken,
    /// The token was genuine but its lifetime is over.
    ExpiredToken,
    /// A refresh token that was already exchanged came back: the login is revoked.
    RefreshReused,
    /// Wrong password (or unknown operator name: never say which).
    WrongPassword,
    /// The verification code does not match, or there is no code to match.
    WrongCode,
    /// The verification code is past its lifetime or was voided by too many wrong tries.
    CodeExpired,
}

/// Why an authenticated caller is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// An operator disabled the account.
    AccountDisabled,
    /// The caller may not act on this object or endpoint.
    NotAllowed,
}

/// Outside services the domain depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Delivery of verification codes (SMS, e-mail).
    CodeDelivery,
    /// A payment gateway.
    Payment,
    /// The database (the charging station could not be read back).
    Storage,
    /// Where the limits shared by instances are kept (Redis).
    Limits,
    /// An OCPP charge box that did not answer in time.
    ChargeBox,
}

/// A validation failure: which field, and a message fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

/// Every way a domain operation can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    #[error("{0} not found")]
    NotFound(Entity),
    /// The object existed and was deleted for good.
    #[error("{0} was deleted")]
    Gone(Entity),
    #[error("{0} already exists")]
    Conflict(Entity),
    /// A request that is well-formed but not allowed in the current state.
    #[error("{0}")]
    State(String),
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthFailure),
    #[error("forbidden: {0:?}")]
    Forbidden(Forbidden),
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// An outside service (SMS provider, payment gateway) failed or is not configured.
    #[error("{service:?} unavailable: {detail}")]
    Unavailable { service: Service, detail: String },
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Result alias for domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A validation failure on `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid(Invalid {
            field,
            message: message.into(),
        })
    }

    /// An unexpected failure; logged by the surface, never shown.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Error::Internal(err.into())
    }
}

impl Error {
    /// Logs why a request was refused (what the client is not told) and passes the error on.
    pub fn tap_log(self, reason: &str) -> Self {
        tracing::warn!(%reason, "refused");
        self
    }
}

impl From<crate::store::Error> for Error {
    fn from(err: crate::store::Error) -> Self {
        Error::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// What a client sent, quoted for a message: at most 40 characters of it (a message must not
/// hand a client back its own megabytes).
pub fn quoted(sent: &str) -> String {
    match sent.char_indices().nth(40) {
        None => format!("{sent:?}"),
        Some((cut, _)) => format!("{:?}…", &sent[..cut]),
    }
}
