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
//! The services take typed inputs (each service's module defines its own; the surface reads a
//! request into them, and hands over as an [`Input`] what must be looked at only after the
//! checks that come first), return the objects of [`model`] (built from the store's rows there
//! and nowhere else), and answer lists as [`listing`] plans them and the store executes them.
//!
//! Descriptive fields the rules never read (names, addresses, pictures, specifications) are kept
//! as JSON objects; everything scoping, the state machines and money depend on is typed.

pub mod commissions;
pub mod demo;
pub mod devices;
pub mod fleet;
pub mod listing;
pub mod members;
pub mod model;
pub mod orders;
pub mod parties;
pub mod partners;
pub mod products;
pub mod protocol;
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
pub use fleet::Fleet;
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
    /// The connected purifiers: their link, reports, filters, commands and rentals.
    pub fleet: Arc<Fleet>,
    /// For the demo data.
    shared: Arc<shared::Shared>,
    passwords: PasswordHasher,
}

impl Iot {
    /// Builds the services over the store and the shared services they call.
    /// The zone local dates are read in.
    pub fn zone(&self) -> Zone {
        self.shared.settings.zone
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        device_key: String,
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Iot {
        let fleet_settings = settings.fleet.clone();
        let shared = Arc::new(shared::Shared::new(store, clock, settings));
        let devices = Arc::new(Devices::new(shared.clone()));
        let fleet = Arc::new(Fleet::new(shared.clone(), fleet_settings, device_key));
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
                fleet.clone(),
            )),
            fleet,
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

/// A request's typed input as the surface read it, or why it could not be read. A service
/// looks at it only after the checks that come first (who may call, which object, which move),
/// so a caller is told what it may not do, or that an object is not there, before what it sent
/// wrong.
#[derive(Debug)]
pub struct Input<T>(Result<T>);

impl<T> Input<T> {
    /// A value read well (the demo's, a test's).
    pub fn ok(value: T) -> Input<T> {
        Input(Ok(value))
    }

    /// The typed value, or the refusal of what was sent.
    pub fn read(self) -> Result<T> {
        self.0
    }
}

impl<T> From<Result<T>> for Input<T> {
    fn from(r: Result<T>) -> Input<T> {
        Input(r)
    }
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

/// Whether `s` is a mainland mobile number (the document's example `01234567890` included).
pub fn is_mobile(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) && matches!(s.as_bytes()[0], b'0' | b'1')
}

/// Money in yuan from a JSON number or text (at most two decimals).
pub fn money_of(v: &Value) -> Option<Fen> {
    yuan::deserialize(v).ok()
}

/// Money as the document writes it: a JSON number of yuan (`2980`, `625.8`).
pub fn money_json(fen: Fen) -> Value {
    serde_json::to_value(Yuan(fen)).unwrap_or(Value::Null)
}

/// Money as the document writes it ([`money_json`]), serialized without a JSON tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuan(pub Fen);

impl serde::Serialize for Yuan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let fen = self.0.0;
        if fen % 100 == 0 {
            s.serialize_i64(fen / 100)
        } else {
            s.serialize_f64(fen as f64 / 100.0)
        }
    }
}

/// A stored field of money in yuan (`#[serde(with = "yuan")]`): written as [`Yuan`], read
/// from a number or a text with at most two decimals (the rule of [`money_of`]).
pub mod yuan {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serialize, Serializer};

    use super::{Fen, Yuan, parse_fixed};

    pub fn serialize<S: Serializer>(f: &Fen, s: S) -> Result<S::Ok, S::Error> {
        Yuan(*f).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fen, D::Error> {
        struct Amount;
        impl Visitor<'_> for Amount {
            type Value = Fen;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of yuan with at most two decimals")
            }
            // A number is read as the text it was written as ("2980", "625.8": the shortest
            // that reads back as it), so that numbers and texts follow one rule.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fen, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fen, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fen, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fen, E> {
                parse_fixed(v, 2)
                    .map(Fen)
                    .ok_or_else(|| E::custom(format!("{v} is not an amount")))
            }
        }
        d.deserialize_any(Amount)
    }
}

/// Section 1.3's time ([`tms`]), serialized without a JSON tree or a `String` of its own.
#[derive(Debug, Clone, Copy)]
pub struct Tms(pub Option<i64>);

impl serde::Serialize for Tms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(ms) => s.collect_str(&Timestamp::from_millis(ms).iso_utc_secs_fmt()),
            None => s.serialize_str(""),
        }
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
