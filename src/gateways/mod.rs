//! The outside world behind the domain's traits: code delivery (and, later, payments).

pub mod limits;
pub mod payments;
pub mod pg_bus;
pub mod sms;
pub mod wechat_pay;
