//! The IoT platform of connected water purifiers (seed 002): who may call what (section 1.1's
//! A*, A#, A and C), which objects each caller sees (note 1), and the helpers its parts share.
//!
//! [`Iot`] groups its services, each owning one part of the document:
//! - [`Members`] (section 一): sign-in and tokens for every party, members' registration,
//!   profile, password, mobile and WeChat binding;
//! - [`Partners`]: platform operators, vendors (AX) with their signing records, agents and
//!   dealers (section 六);
//! - [`Catalog`] (section 三): products;
//! - [`Devices`] (section 二): registration, configuration, reports, binding and sharing;
//! - [`Orders`] (section 四 and 七): orders, payment and settlement, commissions and
//!   withdrawals, and the sweep of time-driven moves; it is the IoT platform's
//!   [`crate::domain::payments::OrderOwner`];
//! - [`Tickets`] (section 五): work tickets.
//!
//! What several need (section 1.2's ids, vendors' codes, looking up a party or a member) is
//! [`shared::Shared`], held by each.
//!
//! Descriptive fields the rules never read (names, addresses, pictures, specifications) are kept
//! as JSON objects; everything scoping, the state machines and money depend on is typed.

pub mod commissions;
pub mod demo;
pub mod devices;
pub mod listing;
pub mod members;
pub mod model;
pub mod orders;
pub mod parties;
pub mod partners;
pub mod products;
pub mod shared;
pub mod tickets;

use std::sync::Arc;

use md5::Digest;
use serde_json::{Map, Value};

use super::codes::Codes;
use super::guard::SignInGuard;
use super::money::{Fen, parse_fixed};
use super::passwords::PasswordHasher;
use super::payments::PaymentGateway;
use super::time::Zone;
use super::{Clock, Entity, Error, Forbidden, Result, Settings, Timestamp};
use crate::store::Store;

pub use devices::Devices;
pub use members::Members;
pub use orders::Orders;
pub use partners::Partners;
pub use products::Catalog;
pub use tickets::Tickets;

/// The IoT platform's services; cheap to clone. A handler writes `state.iot.orders.create(..)`.
#[derive(Clone)]
pub struct Iot {
    pub members: Arc<Members>,
    pub partners: Arc<Partners>,
    pub catalog: Arc<Catalog>,
    pub devices: Arc<Devices>,
    pub orders: Arc<Orders>,
    pub tickets: Arc<Tickets>,
    /// For the demo data.
    shared: Arc<shared::Shared>,
    passwords: PasswordHasher,
}

impl Iot {
    /// Builds the services over the store and the shared services they call.
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Iot {
        let shared = Arc::new(shared::Shared::new(store, clock, settings));
        let devices = Arc::new(Devices::new(shared.clone()));
        let orders = Arc::new(Orders::new(shared.clone(), gateway));
        Iot {
            members: Arc::new(Members::new(
                shared.clone(),
                passwords.clone(),
                codes,
                guard,
            )),
            partners: Arc::new(Partners::new(shared.clone(), passwords.clone())),
            catalog: Arc::new(Catalog::new(shared.clone())),
            tickets: Arc::new(Tickets::new(
                shared.clone(),
                devices.clone(),
                orders.clone(),
            )),
            devices,
            orders,
            shared,
            passwords,
        }
    }
}

/// The surface name (codes, metrics).
pub const SURFACE: &str = "iot";
/// How long a log-in lasts.
pub const TOKEN_TTL_SECS: i64 = 7 * 24 * 3600;
/// The shortest gap between two withdrawals of one account (section 七: "间隔30秒以上").
pub const WITHDRAWAL_GAP_SECS: i64 = 30;
/// The platform's own code in ids (it is no vendor).
pub const PLATFORM_CODE: &str = "0000";

/// Section 1.1's kinds of caller, with agents and dealers told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A*: the platform operator.
    Platform,
    /// A#: a vendor (brand).
    Vendor,
    /// A: an agent, under a vendor.
    Agent,
    /// A: a dealer, under an agent.
    Dealer,
    /// C: a member (app or WeChat).
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Vendor => "vendor",
            Role::Agent => "agent",
            Role::Dealer => "dealer",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "platform" => Role::Platform,
            "vendor" => Role::Vendor,
            "agent" => Role::Agent,
            "dealer" => Role::Dealer,
            "member" => Role::Member,
            _ => return None,
        })
    }
}

/// The 使用范围 column of the document's tables: who may call an endpoint at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// A*: the platform only.
    Platform,
    /// A#: the platform and vendors.
    Brand,
    /// A: the platform, vendors, agents and dealers.
    Admin,
    /// A+C: everyone.
    Anyone,
    /// A#+C: the platform, vendors and members.
    BrandOrMember,
    /// C: members only.
    Member,
}

impl Range {
    pub fn allows(self, role: Role) -> bool {
        use Role as R;
        match self {
            Range::Platform => role == R::Platform,
            Range::Brand => matches!(role, R::Platform | R::Vendor),
            Range::Admin => role != R::Member,
            Range::Anyone => true,
            Range::BrandOrMember => matches!(role, R::Platform | R::Vendor | R::Member),
            Range::Member => role == R::Member,
        }
    }
}

/// Who is calling: the party behind a token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub uid: String,
    pub role: Role,
    /// The vendor the caller belongs to (a vendor's own id; none for the platform).
    pub vid: Option<String>,
    /// For an agent its own id, for a dealer and a member the agent above them.
    pub agent: Option<String>,
    /// For a dealer its own id, for a member the dealer above them.
    pub dealer: Option<String>,
}

/// Where an object sits in the tree: vendor, agent, dealer, and the member it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub vid: &'a str,
    pub agent: Option<&'a str>,
    pub dealer: Option<&'a str>,
    pub owner: Option<&'a str>,
}

impl Caller {
    /// Refuses (403) an endpoint outside the caller's range.
    pub fn require(&self, range: Range) -> Result<()> {
        if range.allows(self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(Forbidden::NotAllowed))
        }
    }

    /// Whether the object at `place` is within the caller's range (note 1): the platform sees
    /// all; a vendor its own; an agent its own and its dealers'; a dealer its own; a member
    /// only what is theirs (or `shared` with them).
    pub fn sees(&self, place: Place<'_>, shared: bool) -> bool {
        let me = Some(self.uid.as_str());
        let same_vendor = self.vid.as_deref() == Some(place.vid);
        match self.role {
            Role::Platform => true,
            Role::Vendor => same_vendor,
            Role::Agent => same_vendor && place.agent == me,
            Role::Dealer => same_vendor && place.dealer == me,
            Role::Member => same_vendor && (place.owner == me || shared),
        }
    }

    /// The vendor whose rows a listing must read (none: every vendor's).
    pub fn vendor_filter(&self) -> Option<&str> {
        match self.role {
            Role::Platform => None,
            _ => Some(self.vid.as_deref().unwrap_or("-")),
        }
    }

    pub fn is_brand(&self) -> bool {
        matches!(self.role, Role::Platform | Role::Vendor)
    }
}

/// `Some(x)` when the object exists, is in range and live; 404 when it is missing or out of
/// range (a caller never learns what it may not see); 410 when it was deleted.
pub(crate) fn visible<T>(
    caller: &Caller,
    row: Option<T>,
    entity: Entity,
    place: impl Fn(&T) -> (Place<'_>, Option<i64>),
    shared: bool,
) -> Result<T> {
    let row = row.ok_or(Error::NotFound(entity))?;
    let (p, deleted_at) = place(&row);
    if !caller.sees(p, shared) {
        return Err(Error::NotFound(entity));
    }
    if deleted_at.is_some() {
        return Err(Error::Gone(entity));
    }
    Ok(row)
}

/// The form a password travels in (the document sends MD5 hex): 32 hex digits are taken as
/// that digest, anything else is digested here first, so both forms of one password match.
pub fn password_digest(pwd: &str) -> String {
    let pwd = pwd.trim();
    if pwd.len() == 32 && pwd.bytes().all(|b| b.is_ascii_hexdigit()) {
        pwd.to_ascii_lowercase()
    } else {
        super::ids::to_hex(&md5::Md5::digest(pwd.as_bytes()))
    }
}

/// A JSON object from a request, with typed readers that refuse with the field's name.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A text field (numbers are taken as their text), trimmed; at most `max` characters.
    pub fn text(&self, key: &'static str, max: usize) -> Result<Option<String>> {
        let s = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(Error::invalid(key, format!("{key} must be a string"))),
        };
        if s.chars().count() > max {
            return Err(Error::invalid(
                key,
                format!("{key} is longer than {max} characters"),
            ));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Error::invalid(
                key,
                format!("{key} holds control characters"),
            ));
        }
        Ok(Some(s))
    }

    /// A text field that must be present and not empty.
    pub fn required(&self, key: &'static str, max: usize) -> Result<String> {
        match self.text(key, max)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Error::invalid(key, format!("{key} is required"))),
        }
    }

    /// An integer field (a number or a numeric string) within `min..=max`.
    pub fn int(&self, key: &'static str, min: i64, max: i64) -> Result<Option<i64>> {
        let n = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(Value::Bool(b)) => Some(i64::from(*b)),
            Some(_) => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::invalid(
                key,
                format!("{key} must be an integer from {min} to {max}"),
            )),
        }
    }

    /// A boolean field (`true`/`false`, 1/0, or their text).
    pub fn bool(&self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::String(s)) if matches!(s.trim(), "true" | "1") => Ok(Some(true)),
            Some(Value::String(s)) if matches!(s.trim(), "false" | "0") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(key, format!("{key} must be true or false"))),
        }
    }

    /// An amount of money in yuan (a number or text with at most two decimals, 0 or more).
    pub fn money(&self, key: &'static str) -> Result<Option<Fen>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => money_of(v)
                .filter(|f| f.0 >= 0 && f.0 <= 10_000_000_000)
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid(
                        key,
                        format!("{key} must be an amount in yuan with at most two decimals"),
                    )
                }),
        }
    }

    /// A JSON object field.
    pub fn object(&self, key: &'static str) -> Result<Option<Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(Error::invalid(key, format!("{key} must be an object"))),
        }
    }

    /// A JSON array field.
    pub fn array(&self, key: &'static str) -> Result<Option<Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(Error::invalid(key, format!("{key} must be an array"))),
        }
    }

    /// A mobile number: 11 digits starting with 1 (section AA's "手机").
    pub fn mobile(&self, key: &'static str) -> Result<Option<String>> {
        match self.text(key, 20)? {
            None => Ok(None),
            Some(m) if m.is_empty() => Ok(None),
            Some(m) if is_mobile(&m) => Ok(Some(m)),
            Some(_) => Err(Error::invalid(
                key,
                format!("{key} must be an 11-digit mobile number"),
            )),
        }
    }

    /// Copies the listed text fields that are present into `into` (checked, at most `max` long).
    pub fn copy_texts(
        &self,
        keys: &[&'static str],
        max: usize,
        into: &mut Map<String, Value>,
    ) -> Result<()> {
        for key in keys {
            if let Some(v) = self.text(key, max)? {
                into.insert((*key).to_owned(), Value::String(v));
            }
        }
        Ok(())
    }
}

/// Whether `s` is a mainland mobile number (the document's example `01234567890` included).
pub fn is_mobile(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) && matches!(s.as_bytes()[0], b'0' | b'1')
}

/// Money in yuan from a JSON number or text (at most two decimals).
pub fn money_of(v: &Value) -> Option<Fen> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    parse_fixed(&text, 2).map(Fen)
}

/// Money as the document writes it: a JSON number of yuan (`2980`, `625.8`).
pub fn money_json(fen: Fen) -> Value {
    if fen.0 % 100 == 0 {
        Value::from(fen.0 / 100)
    } else {
        serde_json::Number::from_f64(fen.0 as f64 / 100.0).map_or(Value::Null, Value::Number)
    }
}

/// A stored JSON object (an empty one when the text is not an object).
pub fn object_of(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Section 1.3's time format: `YYYY-MM-DDTHH:MM:SSZ` (empty when there is none).
/// Refuses the first field of `f` (in name order) that is not in `writable`, naming it: a
/// field of the object the caller may not change (`who` says who may), or one the object does
/// not have. Nothing a client sends is silently dropped.
pub fn only_writable(
    f: &Fields,
    writable: &[&str],
    known: &[&'static str],
    who: &str,
) -> Result<()> {
    let mut keys: Vec<&String> = f.0.keys().collect();
    keys.sort();
    for key in keys {
        if writable.contains(&key.as_str()) {
            continue;
        }
        return Err(match known.iter().find(|k| **k == key.as_str()) {
            Some(k) => Error::invalid(k, format!("cannot be changed here {who}")),
            None => Error::invalid(
                "body",
                format!(
                    "{} is not a field of this object",
                    super::error::quoted(key)
                ),
            ),
        });
    }
    Ok(())
}

/// An instant a client sends: epoch seconds (`0` or `""` clears it), ISO 8601, or the
/// examples' own `"20180105"` (local date). `None` when the field is absent.
pub fn instant(f: &Fields, key: &'static str, zone: Zone) -> Result<Option<Option<i64>>> {
    let bad = || {
        Error::invalid(
            key,
            format!("{key} must be epoch seconds, YYYY-MM-DDTHH:MM:SSZ or YYYYMMDD"),
        )
    };
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Some(None)),
            Some(s) if s > 0 && s < 100_000_000_000 => Ok(Some(Some(s * 1000))),
            _ => Err(bad()),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) if s.len() <= 40 => Timestamp::parse_any(s, zone)
            .map(|t| Some(Some(t.millis())))
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

pub fn tms(ms: Option<i64>) -> Value {
    Value::String(
        ms.map(|m| Timestamp::from_millis(m).iso_utc_secs())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_travel_as_md5() {
        let digest = password_digest("123456");
        assert_eq!(digest, "e10adc3949ba59abbe56e057f20f883e");
        assert_eq!(password_digest("E10ADC3949BA59ABBE56E057F20F883E"), digest);
    }

    #[test]
    fn money_in_yuan() {
        assert_eq!(money_of(&serde_json::json!(2980)), Some(Fen(298_000)));
        assert_eq!(money_of(&serde_json::json!("625.8")), Some(Fen(62_580)));
        assert_eq!(money_of(&serde_json::json!(1.234)), None);
        assert_eq!(money_json(Fen(298_000)), serde_json::json!(2980));
        assert_eq!(money_json(Fen(62_580)), serde_json::json!(625.8));
    }

    #[test]
    fn callers_see_their_range() {
        let place = Place {
            vid: "V",
            agent: Some("A"),
            dealer: Some("D"),
            owner: Some("M"),
        };
        let caller = |role, uid: &str, vid: Option<&str>| Caller {
            uid: uid.into(),
            role,
            vid: vid.map(str::to_owned),
            agent: None,
            dealer: None,
        };
        assert!(caller(Role::Platform, "P", None).sees(place, false));
        assert!(caller(Role::Vendor, "V", Some("V")).sees(place, false));
        assert!(!caller(Role::Vendor, "W", Some("W")).sees(place, false));
        assert!(caller(Role::Agent, "A", Some("V")).sees(place, false));
        assert!(!caller(Role::Agent, "B", Some("V")).sees(place, false));
        assert!(caller(Role::Dealer, "D", Some("V")).sees(place, false));
        assert!(caller(Role::Member, "M", Some("V")).sees(place, false));
        assert!(!caller(Role::Member, "N", Some("V")).sees(place, false));
        assert!(caller(Role::Member, "N", Some("V")).sees(place, true));
        assert!(!Range::Brand.allows(Role::Agent));
        assert!(Range::BrandOrMember.allows(Role::Member));
        assert!(!Range::BrandOrMember.allows(Role::Dealer));
    }
}
