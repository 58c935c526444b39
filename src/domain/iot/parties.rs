//! The parties of the IoT platform, what [`super::members`] and [`super::partners`] share:
//! platform operators, vendors (AX-01..13), agents and dealers (section 六), members
//! (AA-01..10); their states, the fields each may carry, where a party sits in the tree, and
//! the checks of user names and new passwords.
//!
//! Operators, vendors, agents and dealers log in with a user name and the MD5 hex of their
//! password; members with their mobile and an SMS code, or with their mobile and password.
//! Stored is an argon2 hash of the MD5 form. Tokens are random, stored hashed, valid 7 days.

use super::model::{Object, Party};
use super::{Caller, Place, Role};
use crate::domain::{Entity, Error, Result};

/// Member states (section 一).
pub const DISABLED: i64 = 0;
pub const INACTIVE: i64 = 1;
pub const ACTIVE: i64 = 2;

/// Descriptive fields of a member anyone allowed may change.
pub const MEMBER_TEXTS: [&str; 6] = ["name", "avatar", "email", "area", "address", "remark"];
/// AA-01's member, every field.
pub const MEMBER_FIELDS: [&str; 19] = [
    "state",
    "type",
    "uid",
    "name",
    "avatar",
    "mobile",
    "email",
    "area",
    "address",
    "reg_tms",
    "remark",
    "vip",
    "bonus",
    "devices",
    "vid",
    "rid",
    "weixin",
    "agent_id",
    "dealer_id",
];
/// What AA-04's request may carry from a member (`uid`, `mobile` and `vid` unchanged).
pub const MEMBER_WRITABLE: [&str; 10] = [
    "uid", "name", "avatar", "mobile", "email", "area", "address", "remark", "vid", "rid",
];
/// ... and from the platform or the member's vendor.
pub const MEMBER_WRITABLE_BY_BRAND: [&str; 14] = [
    "uid", "name", "avatar", "mobile", "email", "area", "address", "remark", "vid", "rid", "state",
    "type", "vip", "bonus",
];
/// Descriptive fields of a vendor (AX-02, AX-04).
pub const VENDOR_TEXTS: [&str; 12] = [
    "name", "abbv", "logo", "domain", "contact", "wechat", "email", "area", "address", "remark",
    "reserved", "user",
];
/// The vendor's WeChat account fields that may be shown (AX-07).
pub const MXX_PUBLIC: [&str; 4] = ["mp_gid", "mp_appid", "mch_gid", "mch_appid"];
/// The ones never shown (the note after AX-01: "公众号和商户号的秘钥将不返回").
pub const MXX_SECRET: [&str; 2] = ["mp_secret", "mch_secret"];
/// Descriptive fields of an agent or dealer.
pub const AGENT_TEXTS: [&str; 7] = [
    "name", "contact", "wechat", "email", "area", "address", "remark",
];

/// A new live party with nothing but its id, kind, vendor, profile and registration time (the
/// rest is filled in with struct update syntax).
pub fn new_party(
    uid: String,
    role: Role,
    vid: Option<String>,
    profile: Object,
    reg_at: i64,
) -> Party {
    Party {
        uid,
        role,
        vid,
        code: None,
        agent: None,
        dealer: None,
        login: None,
        mobile: None,
        pwd_hash: None,
        state: ACTIVE,
        utype: 0,
        rid: None,
        openid: None,
        weixin: None,
        profile,
        secrets: None,
        withdrawn_at: None,
        reg_at,
        deleted_at: None,
    }
}

/// Where a party sits in the tree.
pub fn place_of(u: &Party) -> Place<'_> {
    Place {
        vid: u.vid.as_deref().unwrap_or(""),
        agent: u.agent.as_deref(),
        dealer: u.dealer.as_deref(),
        owner: Some(&u.uid),
    }
}

/// The caller a party is.
pub fn caller_of(u: &Party) -> Caller {
    Caller {
        uid: u.uid.clone(),
        role: u.role,
        vid: u.vid.clone(),
        agent: u.agent.clone(),
        dealer: u.dealer.clone(),
    }
}

/// A party written back, or the refusal when it changed meanwhile (disabled or deleted).
pub(super) fn written(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::State(
            "this account changed meanwhile (disabled or deleted): read it again".into(),
        ))
    }
}

/// A unique violation is the entity's conflict; anything else an internal error.
pub(super) fn conflict(entity: Entity) -> impl Fn(crate::store::Error) -> Error {
    move |e| {
        if crate::store::is_unique_violation(&e) {
            Error::Conflict(entity)
        } else {
            e.into()
        }
    }
}
