//! Lists (section 3.3), planned once here and executed in SQL by the store: the caller's range,
//! `?field=value` filters, `sort` and `order`, and the `limit`/`offset` window.
//!
//! Any field of a listed object may be filtered on and sorted by, as the document shows it: a
//! filter matches when the field, written as the reply writes it, is the text given (a number
//! as its digits, a time as `2018-01-02T03:04:05Z`, nothing set as `""`; an object or a list
//! matches nothing), and a sort orders by the field as written (numbers as numbers, a field an
//! object lacks first), the list's own order breaking ties. A field no object in range has is
//! refused ([`NoSuchField`]).
//!
//! Lists whose every filter and sort names a field the object keeps in a column of its own
//! (AA-01, AB-01, AC-01, AD-01, AE-01 by ids, states, types and their creation time) have
//! always compared that column itself: an integer filter takes any integer text (`?state= 1`),
//! a text filter its exact value, and ties are broken by the id. They still do.

use super::orders::OrderState;
use super::{Caller, Role};
use crate::domain::Result;
use crate::domain::time::Timestamp;
use crate::store::Store;
use crate::store::iot::{self as store, ListRow};

/// What a client asked of a list: its query parameters as given.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `?field=value`, in the order given.
    pub filters: Vec<(String, String)>,
    pub sort: Option<String>,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A page of a list: the objects in the window, and how many match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub total: i64,
    pub items: Vec<T>,
}

/// A filter or sort on a field no object in the caller's range has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchField {
    pub field: String,
    /// The sort named it (else a filter did).
    pub sorting: bool,
}

/// A list's answer: its page, or the field it cannot filter or sort by.
pub type Listed<T> = std::result::Result<Page<T>, NoSuchField>;

/// The platform's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// AA-01.
    Members,
    /// AB-01.
    Devices,
    /// AC-01.
    Products,
    /// AD-01.
    Orders,
    /// AE-01 (and AE-02's tickets).
    Tickets,
    /// AF-01.
    Commissions,
    /// Section 六: agents, and the dealers whose agent is out of range.
    Agents,
    /// AX-01.
    Vendors,
    /// AX-09.
    Signings,
}

/// What a filter or a sort reads of a listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Its own id (a commission's is its order's).
    Id,
    /// Its vendor.
    Vendor,
    /// The agent and dealer it comes under.
    Agent,
    Dealer,
    /// The member it belongs to (a member: itself; a commission: who earns it).
    Owner,
    /// A party's kind (`agent`, `dealer`, ...).
    Kind,
    State,
    Type,
    Mobile,
    /// A party's user name.
    Login,
    /// A vendor's code.
    Code,
    Referrer,
    Registered,
    Created,
    Updated,
    /// When a device was first bound.
    Activated,
    Appointed,
    Received,
    /// When an order ended (done, refunded or closed).
    Completed,
    /// When a commission becomes available.
    Available,
    Amount,
    /// An order's freight and install costs, over its lines.
    Freight,
    InstallCost,
    NeedsInstall,
    Memo,
    Detail,
    /// Who handles a ticket.
    Handler,
    /// A commission's level.
    Level,
    Rate,
    /// The order and device a ticket is about.
    OrderId,
    DeviceId,
    /// How many live devices a member has bound.
    DeviceCount,
    /// An agent's vendor, a dealer's agent.
    Parent,
    /// A vendor's `mch_appid`: shown, or kept with its secrets by older vendors.
    MchAppid,
    /// A key of the object's descriptive JSON (a party's or device's profile, a product's or
    /// signing record's document).
    Doc(String),
    /// Whether a listed agent carries its dealers (an agent does, a dealer does not).
    Dealers,
    /// A nested object or list the document shows (`weixin`, `basic`, `content`, ...).
    Nested,
}

/// How a field is written in a reply, which says how it is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text; nothing set is `""`.
    Text,
    /// An integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// An instant, to the second (`""` for none).
    Instant,
    /// Money: yuan as a number, fen inside.
    Money,
    /// A JSON value as it was given (text, number, boolean, object...), or absent.
    Json,
    /// An object or list: it matches nothing and orders as equal.
    Opaque,
    /// The same text for every object.
    Const(&'static str),
}

/// What a filter accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Exactly this text (nothing set never matches).
    Text(String),
    /// This text, where nothing set counts as `""`.
    TextOrEmpty(String),
    Int(i64),
    Bool(bool),
    /// Nothing set.
    Null,
    /// An instant within the second starting here (milliseconds).
    Second(i64),
    /// Any object.
    Anything,
    /// No object.
    Nothing,
}

/// One filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub field: Field,
    pub kind: Kind,
    pub matches: Match,
}

/// The sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: Field,
    pub kind: Kind,
}

/// The caller's range: each condition given is one the objects must meet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub vendor: Option<String>,
    pub agent: Option<String>,
    pub dealer: Option<String>,
    pub owner: Option<String>,
}

impl Scope {
    /// The objects the caller sees (the same rule as [`Caller::sees`], nothing shared).
    pub fn range_of(caller: &Caller) -> Scope {
        let vendor = Some(caller.vid.clone().unwrap_or_default());
        let me = Some(caller.uid.clone());
        match caller.role {
            Role::Platform => Scope::default(),
            Role::Vendor => Scope {
                vendor,
                ..Scope::default()
            },
            Role::Agent => Scope {
                vendor,
                agent: me,
                ..Scope::default()
            },
            Role::Dealer => Scope {
                vendor,
                dealer: me,
                ..Scope::default()
            },
            Role::Member => Scope {
                vendor,
                owner: me,
                ..Scope::default()
            },
        }
    }

    /// The caller's vendor's objects (every vendor's for the platform).
    pub fn vendor_of(caller: &Caller) -> Scope {
        Scope {
            vendor: caller.vendor_filter().map(str::to_owned),
            ..Scope::default()
        }
    }

    /// One vendor's objects.
    pub fn vendor(vid: &str) -> Scope {
        Scope {
            vendor: Some(vid.to_owned()),
            ..Scope::default()
        }
    }
}

/// A list, planned: what the store executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub list: List,
    pub scope: Scope,
    pub filters: Vec<Filter>,
    pub sort: Option<Sort>,
    pub descending: bool,
    /// Every filter and the sort name a column of the object's own: sort by the column itself
    /// and break ties by the id (how such lists always answered); otherwise ties keep
    /// [`Plan::then_by`], the list's own order.
    pub by_columns: bool,
    /// The list's own order (oldest first).
    pub then_by: Vec<Field>,
    pub limit: i64,
    pub offset: i64,
}

/// A field the store may find on some objects and not on others: what must be checked before
/// a list filters or sorts by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub sorting: bool,
    /// The field and its kind; none when no object has it.
    pub field: Option<(Field, Kind)>,
}

/// A list planned, with the fields to check first.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub checks: Vec<Check>,
}

impl Planned {
    /// Every object in range, in the list's own order (no filter, no window).
    pub fn all(list: List, scope: Scope) -> Planned {
        plan(
            list,
            scope,
            &ListRequest {
                limit: i64::MAX,
                ..ListRequest::default()
            },
        )
    }
}

/// Whether a field was kept in a column of its own by the lists SQL always answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    No,
    /// Filters and sorts.
    Both,
    /// Sorts only (a time: filters compare its text).
    Sort,
}

/// A field of a listed object, as the document names it.
struct Def {
    name: &'static str,
    field: Field,
    kind: Kind,
    column: Column,
}

const fn def(name: &'static str, field: Field, kind: Kind, column: Column) -> Def {
    Def {
        name,
        field,
        kind,
        column,
    }
}

fn doc(name: &'static str, kind: Kind) -> Def {
    def(name, Field::Doc(name.to_owned()), kind, Column::No)
}

fn nested(name: &'static str) -> Def {
    def(name, Field::Nested, Kind::Opaque, Column::No)
}

/// AA-01's member.
fn member_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    let mut v = vec![
        def("uid", F::Id, K::Text, C::Both),
        def("mobile", F::Mobile, K::Text, C::Both),
        def("state", F::State, K::Int, C::Both),
        def("type", F::Type, K::Int, C::Both),
        def("rid", F::Referrer, K::Text, C::Both),
        def("vid", F::Vendor, K::Text, C::Both),
        def("reg_tms", F::Registered, K::Instant, C::Sort),
        def("agent_id", F::Agent, K::Text, C::No),
        def("dealer_id", F::Dealer, K::Text, C::No),
        def("devices", F::DeviceCount, K::Int, C::No),
        doc("vip", K::Bool),
        doc("bonus", K::Int),
        nested("weixin"),
    ];
    for key in ["name", "avatar", "email", "area", "address", "remark"] {
        v.push(doc(key, K::Text));
    }
    v
}

/// AB-01's device.
fn device_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    let mut v = vec![
        def("device_id", F::Id, K::Text, C::Both),
        def("user_id", F::Owner, K::Text, C::Both),
        def("vendor_id", F::Vendor, K::Text, C::Both),
        def("state", F::State, K::Int, C::Both),
        def("type", F::Type, K::Int, C::Both),
        def("reg_tms", F::Registered, K::Instant, C::Sort),
        def("atv_tms", F::Activated, K::Instant, C::No),
    ];
    for key in [
        "user_share",
        "manufacture",
        "installation",
        "service",
        "basic",
        "running",
        "statistics",
    ] {
        v.push(nested(key));
    }
    for key in [
        "brand",
        "model",
        "fw_version",
        "hw_version",
        "sw_version",
        "asm_tms",
        "manufacture_tms",
        "name",
    ] {
        v.push(doc(key, K::Text));
    }
    v
}

/// AC-01's product: its ids, vendor and time; any other key is one of its configuration.
fn product_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    vec![
        def("prod_id", F::Id, K::Text, C::Both),
        def("product_id", F::Id, K::Text, C::Both),
        def("vid", F::Vendor, K::Text, C::Both),
        def("create_tms", F::Created, K::Instant, C::Sort),
    ]
}

/// AD-01's order.
fn order_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    let mut v = vec![
        def("order_id", F::Id, K::Text, C::Both),
        def("user_id", F::Owner, K::Text, C::Both),
        def("vid", F::Vendor, K::Text, C::Both),
        def("state", F::State, K::Text, C::Both),
        def("create_tms", F::Created, K::Instant, C::Sort),
        def("complete_tms", F::Completed, K::Instant, C::No),
        def("received_tms", F::Received, K::Instant, C::No),
        def("amount", F::Amount, K::Money, C::No),
        def("freight", F::Freight, K::Money, C::No),
        def("install_cost", F::InstallCost, K::Money, C::No),
        def("install", F::NeedsInstall, K::Bool, C::No),
        def("memo", F::Memo, K::Text, C::No),
        def("type", F::Nested, K::Const("商品"), C::No),
    ];
    for key in ["content", "receiver", "delivery", "payment", "return"] {
        v.push(nested(key));
    }
    v
}

/// Section 五's ticket.
fn ticket_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    vec![
        def("ticket_id", F::Id, K::Text, C::Both),
        def("user_id", F::Owner, K::Text, C::Both),
        def("device_id", F::DeviceId, K::Text, C::Both),
        def("order_id", F::OrderId, K::Text, C::Both),
        def("vid", F::Vendor, K::Text, C::Both),
        def("status", F::State, K::Int, C::Both),
        def("type", F::Type, K::Int, C::Both),
        def("create_tms", F::Created, K::Instant, C::Sort),
        def("update_tms", F::Updated, K::Instant, C::No),
        def("appoint_tms", F::Appointed, K::Instant, C::No),
        def("detail", F::Detail, K::Text, C::No),
        def("installer_id", F::Handler, K::Text, C::No),
        nested("approval"),
        nested("ratings"),
    ]
}

/// One referrer's commission.
fn commission_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    vec![
        def("order_id", F::OrderId, K::Text, C::No),
        def("level", F::Level, K::Int, C::No),
        def("user_id", F::Owner, K::Text, C::No),
        def("vid", F::Vendor, K::Text, C::No),
        def("amount", F::Amount, K::Money, C::No),
        def("rate", F::Rate, K::Text, C::No),
        def("state", F::State, K::Text, C::No),
        def("create_tms", F::Created, K::Instant, C::No),
        def("available_tms", F::Available, K::Instant, C::No),
    ]
}

/// An agent or dealer.
fn agent_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    let mut v = vec![
        def("uid", F::Id, K::Text, C::No),
        def("type", F::Kind, K::Text, C::No),
        def("state", F::State, K::Int, C::No),
        def("user", F::Login, K::Text, C::No),
        def("mobile", F::Mobile, K::Text, C::No),
        def("vid", F::Vendor, K::Text, C::No),
        def("parent", F::Parent, K::Text, C::No),
        def("reg_tms", F::Registered, K::Instant, C::No),
        def("dealers", F::Dealers, K::Opaque, C::No),
    ];
    for key in [
        "name", "contact", "wechat", "email", "area", "address", "remark",
    ] {
        v.push(doc(key, K::Text));
    }
    v
}

/// AX-01's vendor.
fn vendor_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    let mut v = vec![
        def("state", F::State, K::Int, C::No),
        def("type", F::Type, K::Int, C::No),
        def("vid", F::Id, K::Text, C::No),
        def("code", F::Code, K::Text, C::No),
        def("user", F::Login, K::Text, C::No),
        def("mobile", F::Mobile, K::Text, C::No),
        def("reg_tms", F::Registered, K::Instant, C::No),
        def("mch_appid", F::MchAppid, K::Text, C::No),
        nested("cfg"),
    ];
    for key in [
        "name", "abbv", "logo", "domain", "contact", "wechat", "email", "area", "address",
        "remark", "mp_gid", "mp_appid", "mch_gid", "reserved",
    ] {
        v.push(doc(key, K::Text));
    }
    v
}

/// A signing record: its id, vendor and time; any other key is one of its document.
fn signing_fields() -> Vec<Def> {
    use {Column as C, Field as F, Kind as K};
    vec![
        def("sid", F::Id, K::Text, C::No),
        def("vid", F::Vendor, K::Text, C::No),
        def("create_tms", F::Created, K::Instant, C::No),
    ]
}

impl List {
    fn fields(self) -> Vec<Def> {
        match self {
            List::Members => member_fields(),
            List::Devices => device_fields(),
            List::Products => product_fields(),
            List::Orders => order_fields(),
            List::Tickets => ticket_fields(),
            List::Commissions => commission_fields(),
            List::Agents => agent_fields(),
            List::Vendors => vendor_fields(),
            List::Signings => signing_fields(),
        }
    }

    /// Whether any other key names a key of the object's JSON document.
    fn open(self) -> bool {
        matches!(self, List::Products | List::Signings)
    }

    /// The list's own order: oldest first (agents before the dealers listed on their own).
    fn then_by(self) -> Vec<Field> {
        use Field as F;
        match self {
            List::Members | List::Devices | List::Vendors => vec![F::Registered, F::Id],
            List::Products | List::Orders | List::Tickets | List::Signings => {
                vec![F::Created, F::Id]
            }
            List::Commissions => vec![F::Created, F::OrderId, F::Level],
            List::Agents => vec![F::Kind, F::Registered, F::Id],
        }
    }

    /// The field called `name` (an order's `state` also by its number).
    fn field(self, name: &str) -> Option<Def> {
        if let Some(d) = self.fields().into_iter().find(|d| d.name == name) {
            return Some(d);
        }
        self.open().then(|| Def {
            name: "",
            field: Field::Doc(name.to_owned()),
            kind: Kind::Json,
            column: Column::No,
        })
    }
}

/// What a filter on a field written as `kind` accepts of `value`: the reply's text of it.
fn written_as(kind: Kind, value: &str) -> Match {
    match kind {
        Kind::Text | Kind::Json => {
            if kind == Kind::Text {
                Match::TextOrEmpty(value.to_owned())
            } else {
                Match::Text(value.to_owned())
            }
        }
        Kind::Int => match value.parse::<i64>() {
            Ok(n) if n.to_string() == value => Match::Int(n),
            _ => Match::Nothing,
        },
        Kind::Bool => match value {
            "true" => Match::Bool(true),
            "false" => Match::Bool(false),
            _ => Match::Nothing,
        },
        Kind::Instant if value.is_empty() => Match::Null,
        Kind::Instant => match Timestamp::parse_rfc3339(value) {
            Some(t) if t.iso_utc_secs() == value => Match::Second(t.millis()),
            _ => Match::Nothing,
        },
        Kind::Money => match crate::domain::money::parse_fixed(value, 2) {
            Some(fen) if yuan_text(fen) == value => Match::Int(fen),
            _ => Match::Nothing,
        },
        Kind::Opaque => Match::Nothing,
        Kind::Const(c) if c == value => Match::Anything,
        Kind::Const(_) => Match::Nothing,
    }
}

/// Money as a reply writes it (`2980`, `625.8`).
fn yuan_text(fen: i64) -> String {
    super::money_json(crate::domain::money::Fen(fen)).to_string()
}

/// Whether some objects may lack the field: those must be checked before filtering by it.
fn may_lack(d: &Def) -> bool {
    d.kind == Kind::Json || d.field == Field::Dealers
}

/// Plans a list of `list` over `scope` for `req`.
pub fn plan(list: List, scope: Scope, req: &ListRequest) -> Planned {
    let mut checks = Vec::new();
    let mut named = Vec::new();
    for (name, value) in &req.filters {
        let value = match (list, name.as_str()) {
            (List::Orders, "state") => OrderState::parse_any(value.trim())
                .map_or_else(|| value.clone(), |s| s.as_str().to_owned()),
            _ => value.clone(),
        };
        named.push((name, list.field(name), value));
    }
    let sort = req.sort.as_ref().map(|s| (s, list.field(s)));
    // Every field named is a column of the object's own, and every integer given is one.
    let by_columns = named.iter().all(|(_, d, value)| {
        d.as_ref().is_some_and(|d| {
            d.column == Column::Both && (d.kind != Kind::Int || value.trim().parse::<i64>().is_ok())
        })
    }) && sort
        .as_ref()
        .is_none_or(|(_, d)| d.as_ref().is_some_and(|d| d.column != Column::No));
    let mut filters = Vec::new();
    for (name, d, value) in named {
        let Some(d) = d else {
            checks.push(Check {
                name: name.clone(),
                sorting: false,
                field: None,
            });
            filters.push(Filter {
                field: Field::Nested,
                kind: Kind::Opaque,
                matches: Match::Nothing,
            });
            continue;
        };
        if may_lack(&d) {
            checks.push(Check {
                name: name.clone(),
                sorting: false,
                field: Some((d.field.clone(), d.kind)),
            });
        }
        let matches = match (by_columns, d.kind) {
            (true, Kind::Int) => Match::Int(value.trim().parse().unwrap_or_default()),
            (true, _) => Match::Text(value),
            (false, kind) => written_as(kind, &value),
        };
        filters.push(Filter {
            field: d.field,
            kind: d.kind,
            matches,
        });
    }
    let sort = match sort {
        None => None,
        Some((name, None)) => {
            checks.push(Check {
                name: name.clone(),
                sorting: true,
                field: None,
            });
            None
        }
        Some((name, Some(d))) => {
            if may_lack(&d) {
                checks.push(Check {
                    name: name.clone(),
                    sorting: true,
                    field: Some((d.field.clone(), d.kind)),
                });
            }
            Some(Sort {
                field: d.field,
                kind: d.kind,
            })
        }
    };
    Planned {
        plan: Plan {
            list,
            scope,
            filters,
            sort,
            descending: req.descending,
            by_columns,
            then_by: list.then_by(),
            limit: req.limit,
            offset: req.offset,
        },
        checks,
    }
}

/// Runs a planned list: refuses a field no object in range has, else reads its page.
pub(super) async fn run<R: ListRow, T: From<R>>(
    store: &Store,
    planned: Planned,
) -> Result<Listed<T>> {
    run_of(store, planned, None).await
}

/// [`run`], each row only `columns` of the list's table `t` (all of them when none).
pub(super) async fn run_of<R: ListRow, T: From<R>>(
    store: &Store,
    planned: Planned,
    columns: Option<&str>,
) -> Result<Listed<T>> {
    let Planned { plan, checks } = planned;
    for check in checks {
        let has = match &check.field {
            Some((field, kind)) => {
                store::any_has(store, plan.list, &plan.scope, Some((field, *kind))).await?
            }
            None => false,
        };
        // A field is refused only when there is something in range to have it.
        if !has && store::any_has(store, plan.list, &plan.scope, None).await? {
            return Ok(Err(NoSuchField {
                field: check.name,
                sorting: check.sorting,
            }));
        }
    }
    let (total, rows) = store::page_of::<R>(store, &plan, columns).await?;
    Ok(Ok(Page {
        total,
        items: rows.into_iter().map(T::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(filters: &[(&str, &str)], sort: Option<&str>) -> ListRequest {
        ListRequest {
            filters: filters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            sort: sort.map(str::to_owned),
            descending: true,
            limit: 20,
            offset: 0,
        }
    }

    #[test]
    fn columns_of_their_own_compare_the_column() {
        let p = plan(
            List::Orders,
            Scope::default(),
            &request(&[("state", "1")], Some("create_tms")),
        );
        assert!(p.plan.by_columns);
        assert_eq!(p.plan.filters[0].matches, Match::Text("paid".into()));
        assert!(p.checks.is_empty());
        let p = plan(
            List::Members,
            Scope::default(),
            &request(&[("state", " 2")], None),
        );
        assert!(p.plan.by_columns);
        assert_eq!(p.plan.filters[0].matches, Match::Int(2));
    }

    #[test]
    fn other_fields_compare_what_the_reply_writes() {
        let p = plan(
            List::Members,
            Scope::default(),
            &request(&[("state", " 2"), ("name", "")], None),
        );
        assert!(!p.plan.by_columns);
        assert_eq!(p.plan.filters[0].matches, Match::Nothing);
        assert_eq!(p.plan.filters[1].matches, Match::TextOrEmpty(String::new()));
        let p = plan(
            List::Orders,
            Scope::default(),
            &request(
                &[
                    ("amount", "625.8"),
                    ("freight", "1.50"),
                    ("create_tms", "2018-01-02T03:04:05Z"),
                ],
                None,
            ),
        );
        assert_eq!(p.plan.filters[0].matches, Match::Int(62_580));
        assert_eq!(p.plan.filters[1].matches, Match::Nothing);
        assert_eq!(p.plan.filters[2].matches, Match::Second(1_514_862_245_000));
    }

    #[test]
    fn fields_no_object_has_are_checked() {
        let p = plan(
            List::Members,
            Scope::default(),
            &request(&[("nothing", "1")], Some("memo")),
        );
        assert_eq!(p.checks.len(), 2);
        assert!(p.checks.iter().all(|c| c.field.is_none()));
        let p = plan(
            List::Products,
            Scope::default(),
            &request(&[], Some("rent")),
        );
        assert_eq!(
            p.checks[0].field,
            Some((Field::Doc("rent".into()), Kind::Json))
        );
    }
}
