//! The IoT platform's objects as the domain and its surfaces know them: parties, devices,
//! products, orders, tickets, commissions and signing records. Built from the store's rows here
//! and nowhere else (`From<Row>`), and turned back into rows here for writing.
//!
//! Descriptive fields the rules never read (names, addresses, pictures, specifications) are
//! JSON objects; everything scoping, the state machines and money depend on is typed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::orders::{OrderState, Receiver};
use super::{Role, object_of};
use crate::domain::money::Fen;
use crate::store::iot::{
    CommissionRow, DeviceRow, OrderRow, ProductRow, SigningRow, TicketRow, UserRow,
};

/// A JSON object.
pub type Object = Map<String, Value>;

/// A party: platform operator, vendor, agent, dealer or member.
#[derive(Debug, Clone)]
pub struct Party {
    pub uid: String,
    pub role: Role,
    /// Its vendor (a vendor's own id; none for the platform).
    pub vid: Option<String>,
    /// A vendor's code, the prefix of its ids.
    pub code: Option<String>,
    /// The agent it comes under (an agent: itself).
    pub agent: Option<String>,
    /// The dealer it comes under (a dealer: itself).
    pub dealer: Option<String>,
    /// The user name operators, vendors, agents and dealers log in with.
    pub login: Option<String>,
    pub mobile: Option<String>,
    /// The argon2 hash of the password's MD5 form (never rendered).
    pub pwd_hash: Option<String>,
    /// [`super::parties::DISABLED`], [`super::parties::INACTIVE`] or
    /// [`super::parties::ACTIVE`].
    pub state: i64,
    /// The document's `type`.
    pub utype: i64,
    /// The referrer.
    pub rid: Option<String>,
    /// The bound WeChat account.
    pub openid: Option<String>,
    /// The bound WeChat identity (AA-08's fields).
    pub weixin: Option<Object>,
    /// Descriptive fields.
    pub profile: Object,
    /// A vendor's WeChat secrets (never rendered).
    pub secrets: Option<Object>,
    /// When it last withdrew commissions (milliseconds).
    pub withdrawn_at: Option<i64>,
    pub reg_at: i64,
    pub deleted_at: Option<i64>,
}

impl Party {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }
}

impl From<UserRow> for Party {
    fn from(u: UserRow) -> Party {
        Party {
            role: Role::parse(&u.kind).unwrap_or(Role::Member),
            weixin: u.weixin.as_deref().map(object_of),
            profile: object_of(&u.profile),
            secrets: u.secrets.as_deref().map(object_of),
            uid: u.uid,
            vid: u.vid,
            code: u.code,
            agent: u.agent,
            dealer: u.dealer,
            login: u.login,
            mobile: u.mobile,
            pwd_hash: u.pwd_hash,
            state: u.state,
            utype: u.utype,
            rid: u.rid,
            openid: u.openid,
            withdrawn_at: u.withdrawn_at,
            reg_at: u.reg_at,
            deleted_at: u.deleted_at,
        }
    }
}

impl From<&Party> for UserRow {
    fn from(p: &Party) -> UserRow {
        UserRow {
            uid: p.uid.clone(),
            kind: p.role.as_str().to_owned(),
            vid: p.vid.clone(),
            code: p.code.clone(),
            agent: p.agent.clone(),
            dealer: p.dealer.clone(),
            login: p.login.clone(),
            mobile: p.mobile.clone(),
            pwd_hash: p.pwd_hash.clone(),
            state: p.state,
            utype: p.utype,
            rid: p.rid.clone(),
            openid: p.openid.clone(),
            weixin: p.weixin.as_ref().map(text),
            profile: text(&p.profile),
            secrets: p.secrets.as_ref().map(text),
            withdrawn_at: p.withdrawn_at,
            reg_at: p.reg_at,
            deleted_at: p.deleted_at,
        }
    }
}

/// A device.
#[derive(Debug, Clone)]
pub struct Device {
    pub did: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    /// The member it is bound to.
    pub uid: Option<String>,
    pub product_id: Option<String>,
    pub dtype: i64,
    /// [`super::devices::REGISTERED`] or [`super::devices::ACTIVATED`] (or what the vendor set).
    pub state: i64,
    /// The vendor's configuration.
    pub profile: Object,
    /// The user's configuration.
    pub prof: Object,
    /// The service state: `state`, `expire` (milliseconds or null).
    pub service: Object,
    /// The running state the device reports.
    pub running: Object,
    pub statistics: Object,
    pub reg_at: i64,
    /// When it was first bound.
    pub atv_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// Its link: online, since when, offline since when (kept by the device link).
    pub online: bool,
    pub online_at: Option<i64>,
    pub offline_at: Option<i64>,
}

impl From<DeviceRow> for Device {
    fn from(d: DeviceRow) -> Device {
        Device {
            profile: object_of(&d.profile),
            prof: object_of(&d.prof),
            service: object_of(&d.service),
            running: object_of(&d.running),
            statistics: object_of(&d.statistics),
            did: d.did,
            vid: d.vid,
            agent: d.agent,
            dealer: d.dealer,
            uid: d.uid,
            product_id: d.product_id,
            dtype: d.dtype,
            state: d.state,
            reg_at: d.reg_at,
            atv_at: d.atv_at,
            deleted_at: d.deleted_at,
            online: d.online != 0,
            online_at: d.online_at,
            offline_at: d.offline_at,
        }
    }
}

impl From<&Device> for DeviceRow {
    fn from(d: &Device) -> DeviceRow {
        DeviceRow {
            did: d.did.clone(),
            vid: d.vid.clone(),
            agent: d.agent.clone(),
            dealer: d.dealer.clone(),
            uid: d.uid.clone(),
            product_id: d.product_id.clone(),
            dtype: d.dtype,
            state: d.state,
            profile: text(&d.profile),
            prof: text(&d.prof),
            service: text(&d.service),
            running: text(&d.running),
            statistics: text(&d.statistics),
            reg_at: d.reg_at,
            atv_at: d.atv_at,
            deleted_at: d.deleted_at,
            online: i64::from(d.online),
            online_at: d.online_at,
            offline_at: d.offline_at,
        }
    }
}

/// A product: its vendor and its whole configuration (AC-02's fields).
#[derive(Debug, Clone)]
pub struct Product {
    pub pid: String,
    pub vid: String,
    pub doc: Object,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

impl From<ProductRow> for Product {
    fn from(p: ProductRow) -> Product {
        Product {
            doc: object_of(&p.doc),
            pid: p.pid,
            vid: p.vid,
            created_at: p.created_at,
            deleted_at: p.deleted_at,
        }
    }
}

impl From<&Product> for ProductRow {
    fn from(p: &Product) -> ProductRow {
        ProductRow {
            pid: p.pid.clone(),
            vid: p.vid.clone(),
            doc: text(&p.doc),
            created_at: p.created_at,
            deleted_at: p.deleted_at,
        }
    }
}

/// An order.
#[derive(Debug, Clone)]
pub struct Order {
    pub oid: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    /// The member who bought it.
    pub uid: String,
    pub state: OrderState,
    pub amount: Fen,
    /// Whether a product of it is installed (a paid order opens an install ticket).
    pub needs_install: bool,
    /// Its lines: what was bought, at what price, with the commission rates it was sold with.
    pub content: Vec<SoldLine>,
    pub receiver: Receiver,
    pub memo: String,
    pub delivery: Option<Object>,
    /// Why and from what state it was returned, and the refund's number.
    pub return_info: Option<Object>,
    pub pay_ch: Option<String>,
    pub prepay_id: Option<String>,
    pub transaction_no: Option<String>,
    pub refund_amount: Option<Fen>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub received_at: Option<i64>,
    pub done_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub returned_at: Option<i64>,
    pub refunded_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The version it was read at (see [`crate::domain::recent`]); a write's result keeps the
    /// version its write started from.
    pub version: i64,
}

/// A line of an order as it was sold: the product, its name and prices then (the line's
/// `amount` is price times quantity, freight and installation), and the commission rates it was
/// sold with (hundredths of a percent, one per level of the buyer's referrers). Stored as the
/// JSON object these fields name, money in yuan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    #[serde(with = "super::yuan")]
    pub amount: Fen,
    #[serde(default)]
    pub commis: Vec<i64>,
    #[serde(with = "super::yuan", default)]
    pub freight: Fen,
    #[serde(with = "super::yuan", default)]
    pub install_cost: Fen,
    #[serde(default)]
    pub name: String,
    #[serde(with = "super::yuan", default)]
    pub price: Fen,
    pub product_id: String,
    pub quantity: i64,
    /// The rental plan's key, for a product rented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rent: Option<String>,
    /// The device a rental plan renews or tops up (timed and metered rentals, vending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// A stored JSON column read as `T`; a value that does not read (written by hand, or damaged)
/// is logged and read as `T`'s default, so that one bad row does not fail every list.
fn stored<T: serde::de::DeserializeOwned + Default>(oid: &str, column: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::warn!(order = oid, column, error = %e, "a stored order column does not read");
        T::default()
    })
}

impl From<OrderRow> for Order {
    fn from(o: OrderRow) -> Order {
        Order {
            state: OrderState::parse(&o.state).unwrap_or(OrderState::Close),
            amount: Fen(o.amount),
            needs_install: o.needs_install == 1,
            content: stored(&o.oid, "content", &o.content),
            receiver: stored(&o.oid, "receiver", &o.receiver),
            delivery: o.delivery.as_deref().map(object_of),
            return_info: o.return_info.as_deref().map(object_of),
            refund_amount: o.refund_amount.map(Fen),
            oid: o.oid,
            vid: o.vid,
            agent: o.agent,
            dealer: o.dealer,
            uid: o.uid,
            memo: o.memo,
            pay_ch: o.pay_ch,
            prepay_id: o.prepay_id,
            transaction_no: o.transaction_no,
            created_at: o.created_at,
            paid_at: o.paid_at,
            delivered_at: o.delivered_at,
            received_at: o.received_at,
            done_at: o.done_at,
            closed_at: o.closed_at,
            returned_at: o.returned_at,
            refunded_at: o.refunded_at,
            deleted_at: o.deleted_at,
            version: o.version,
        }
    }
}

impl From<&Order> for OrderRow {
    fn from(o: &Order) -> OrderRow {
        OrderRow {
            oid: o.oid.clone(),
            vid: o.vid.clone(),
            agent: o.agent.clone(),
            dealer: o.dealer.clone(),
            uid: o.uid.clone(),
            state: o.state.as_str().to_owned(),
            amount: o.amount.0,
            needs_install: i64::from(o.needs_install),
            content: serde_json::to_string(&o.content).unwrap_or_else(|_| "[]".into()),
            receiver: serde_json::to_string(&o.receiver).unwrap_or_else(|_| "{}".into()),
            memo: o.memo.clone(),
            delivery: o.delivery.as_ref().map(text),
            return_info: o.return_info.as_ref().map(text),
            pay_ch: o.pay_ch.clone(),
            prepay_id: o.prepay_id.clone(),
            transaction_no: o.transaction_no.clone(),
            refund_amount: o.refund_amount.map(|f| f.0),
            created_at: o.created_at,
            paid_at: o.paid_at,
            delivered_at: o.delivered_at,
            received_at: o.received_at,
            done_at: o.done_at,
            closed_at: o.closed_at,
            returned_at: o.returned_at,
            refunded_at: o.refunded_at,
            deleted_at: o.deleted_at,
            version: o.version,
        }
    }
}

/// A work ticket.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub tid: String,
    pub vid: String,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    /// The member it is for.
    pub uid: Option<String>,
    pub device_id: Option<String>,
    pub order_id: Option<String>,
    /// One of [`super::tickets`]' types (install ... dismantle).
    pub ttype: i64,
    /// One of [`super::tickets`]' states (rejected, created ... done).
    pub status: i64,
    pub detail: String,
    pub appoint_at: Option<i64>,
    /// Who handles it (the installer).
    pub handler: Option<String>,
    /// `check_result`, `check_tms` (milliseconds), `check_usr`, `remark`.
    pub approval: Option<Object>,
    /// `rate_value`, `rate_tms` (milliseconds), `rate_detail`.
    pub ratings: Option<Object>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<TicketRow> for Ticket {
    fn from(t: TicketRow) -> Ticket {
        Ticket {
            approval: t.approval.as_deref().map(object_of),
            ratings: t.ratings.as_deref().map(object_of),
            tid: t.tid,
            vid: t.vid,
            agent: t.agent,
            dealer: t.dealer,
            uid: t.uid,
            device_id: t.device_id,
            order_id: t.order_id,
            ttype: t.ttype,
            status: t.status,
            detail: t.detail,
            appoint_at: t.appoint_at,
            handler: t.handler,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl From<&Ticket> for TicketRow {
    fn from(t: &Ticket) -> TicketRow {
        TicketRow {
            tid: t.tid.clone(),
            vid: t.vid.clone(),
            agent: t.agent.clone(),
            dealer: t.dealer.clone(),
            uid: t.uid.clone(),
            device_id: t.device_id.clone(),
            order_id: t.order_id.clone(),
            ttype: t.ttype,
            status: t.status,
            detail: t.detail.clone(),
            appoint_at: t.appoint_at,
            handler: t.handler.clone(),
            approval: t.approval.as_ref().map(text),
            ratings: t.ratings.as_ref().map(text),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Where a commission stands (section 七): pending (待激) until the order can no longer be
/// returned, then available (可用), or void when the order is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionState {
    Pending,
    Available,
    Void,
}

impl CommissionState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionState::Pending => "pending",
            CommissionState::Available => "available",
            CommissionState::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<CommissionState> {
        [Self::Pending, Self::Available, Self::Void]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One referrer's commission on one order.
#[derive(Debug, Clone)]
pub struct Commission {
    pub oid: String,
    /// 1 for the buyer's referrer, 2 and 3 above.
    pub level: i64,
    /// Who earns it.
    pub uid: String,
    pub vid: String,
    pub amount: Fen,
    /// The rates of the order's lines at this level, in percent (`"21.00,9.00"`).
    pub rate: String,
    pub state: CommissionState,
    pub created_at: i64,
    /// The end of the order's return window; unknown until the order is received.
    pub available_at: Option<i64>,
}

impl From<CommissionRow> for Commission {
    fn from(c: CommissionRow) -> Commission {
        Commission {
            state: CommissionState::parse(&c.state).unwrap_or(CommissionState::Void),
            amount: Fen(c.amount),
            oid: c.oid,
            level: c.level,
            uid: c.uid,
            vid: c.vid,
            rate: c.rate,
            created_at: c.created_at,
            available_at: c.available_at,
        }
    }
}

impl From<&Commission> for CommissionRow {
    fn from(c: &Commission) -> CommissionRow {
        CommissionRow {
            oid: c.oid.clone(),
            level: c.level,
            uid: c.uid.clone(),
            vid: c.vid.clone(),
            amount: c.amount.0,
            rate: c.rate.clone(),
            state: c.state.as_str().to_owned(),
            created_at: c.created_at,
            available_at: c.available_at,
        }
    }
}

/// A vendor's signing record (AX-09..AX-12): whatever the platform keeps of it.
#[derive(Debug, Clone)]
pub struct Signing {
    pub sid: String,
    pub vid: String,
    pub doc: Object,
    pub created_at: i64,
}

impl From<SigningRow> for Signing {
    fn from(s: SigningRow) -> Signing {
        Signing {
            doc: object_of(&s.doc),
            sid: s.sid,
            vid: s.vid,
            created_at: s.created_at,
        }
    }
}

impl From<&Signing> for SigningRow {
    fn from(s: &Signing) -> SigningRow {
        SigningRow {
            sid: s.sid.clone(),
            vid: s.vid.clone(),
            doc: text(&s.doc),
            created_at: s.created_at,
        }
    }
}

/// A JSON object as the store keeps it.
pub fn text(m: &Object) -> String {
    Value::Object(m.clone()).to_string()
}

/// Rows read, as the domain's objects.
pub fn all<R, T: From<R>>(rows: Vec<R>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}
