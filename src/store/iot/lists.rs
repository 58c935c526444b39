//! Lists: the domain's [`Plan`] of a list as SQL, on either backend. The conditions, the order
//! and the window are built here and nowhere else: each field the domain names becomes the
//! column or expression that holds it (descriptive fields are read inside their JSON text), each
//! value it compares with a bound parameter.

use super::{COMMISSION_COLUMNS, DEVICE_COLUMNS, ORDER_COLUMNS, TICKET_COLUMNS, USER_COLUMNS};
use super::{PRODUCT_COLUMNS, SIGNING_COLUMNS};
use crate::domain::iot::listing::{Field, Kind, List, Match, Plan, Scope};
use crate::store::fast_read::{InPlaceRow, Param};
use crate::store::{Backend, Store};

/// A row a list reads (in place on SQLite).
pub trait ListRow: InPlaceRow {}

impl<T: InPlaceRow> ListRow for T {}

/// A value compared with.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// One statement being written: its backend, its list and the values bound so far.
struct Sql {
    backend: Backend,
    list: List,
    binds: Vec<Bind>,
}

/// A key of a JSON document that may be written into SQL (any other is absent).
fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Sql {
    fn new(backend: Backend, list: List) -> Sql {
        Sql {
            backend,
            list,
            binds: Vec::new(),
        }
    }

    /// The placeholder of a new bound value.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn table(&self) -> &'static str {
        match self.list {
            List::Members | List::Agents | List::Vendors => "iot_users",
            List::Devices => "iot_devices",
            List::Products => "iot_products",
            List::Orders => "iot_orders",
            List::Tickets => "iot_tickets",
            List::Commissions => "iot_commissions",
            List::Signings => "iot_signings",
        }
    }

    fn columns(&self) -> &'static str {
        match self.list {
            List::Members | List::Agents | List::Vendors => USER_COLUMNS,
            List::Devices => DEVICE_COLUMNS,
            List::Products => PRODUCT_COLUMNS,
            List::Orders => ORDER_COLUMNS,
            List::Tickets => TICKET_COLUMNS,
            List::Commissions => COMMISSION_COLUMNS,
            List::Signings => SIGNING_COLUMNS,
        }
    }

    /// The column of the object's JSON document.
    fn document(&self) -> &'static str {
        match self.list {
            List::Products | List::Signings => "t.doc",
            _ => "t.profile",
        }
    }

    /// The column or expression holding `field` (none for what is no value).
    fn column(&self, field: &Field) -> Option<String> {
        use Field as F;
        let users = matches!(self.list, List::Members | List::Agents | List::Vendors);
        let c = match (self.list, field) {
            (_, F::Doc(_) | F::Nested | F::Dealers) => return None,
            (List::Devices, F::Id) => "t.did",
            (List::Products, F::Id) => "t.pid",
            (List::Orders | List::Commissions, F::Id | F::OrderId) => "t.oid",
            (List::Tickets, F::Id) => "t.tid",
            (List::Signings, F::Id) => "t.sid",
            (_, F::Id) if users => "t.uid",
            (_, F::Vendor) => "t.vid",
            (List::Products | List::Commissions | List::Signings, F::Agent | F::Dealer) => {
                return None;
            }
            (_, F::Agent) if !matches!(self.list, List::Vendors) => "t.agent",
            (_, F::Dealer) if !matches!(self.list, List::Vendors) => "t.dealer",
            (List::Products | List::Signings | List::Vendors | List::Agents, F::Owner) => {
                return None;
            }
            (_, F::Owner) => "t.uid",
            (List::Tickets, F::State) => "t.status",
            (_, F::State) => "t.state",
            (_, F::Type) if self.list != List::Commissions => "t.type",
            (_, F::Kind) if users => "t.kind",
            (_, F::Mobile) if users => "t.mobile",
            (_, F::Login) if users => "t.login",
            (_, F::Code) if users => "t.code",
            (_, F::Referrer) if users => "t.rid",
            (_, F::Registered) if users || self.list == List::Devices => "t.reg_at",
            (_, F::Created) => "t.created_at",
            (List::Tickets, F::Updated) => "t.updated_at",
            (List::Devices, F::Activated) => "t.atv_at",
            (List::Tickets, F::Appointed) => "t.appoint_at",
            (List::Orders, F::Received) => "t.received_at",
            (List::Orders, F::Completed) => "COALESCE(t.done_at, t.refunded_at, t.closed_at)",
            (List::Commissions, F::Available) => "t.available_at",
            (List::Orders | List::Commissions, F::Amount) => "t.amount",
            (List::Orders, F::Freight) => return Some(self.line_sum("freight")),
            (List::Orders, F::InstallCost) => return Some(self.line_sum("install_cost")),
            (List::Orders, F::NeedsInstall) => "t.needs_install",
            (List::Orders, F::Memo) => "t.memo",
            (List::Tickets, F::Detail) => "t.detail",
            (List::Tickets, F::Handler) => "t.handler",
            (List::Tickets, F::OrderId) => "t.order_id",
            (List::Tickets, F::DeviceId) => "t.device_id",
            (List::Commissions, F::Level) => "t.level",
            (List::Commissions, F::Rate) => "t.rate",
            (List::Members, F::DeviceCount) => {
                "(SELECT COUNT(*) FROM iot_devices d WHERE d.uid = t.uid AND d.deleted_at IS NULL)"
            }
            (List::Agents, F::Parent) => "CASE WHEN t.kind = 'dealer' THEN t.agent ELSE t.vid END",
            (List::Vendors, F::MchAppid) => {
                let shown = self.json_text("t.profile", "mch_appid");
                let kept = self.json_text("t.secrets", "mch_appid");
                return Some(format!(
                    "COALESCE(NULLIF(COALESCE({shown}, ''), ''), {kept})"
                ));
            }
            _ => return None,
        };
        Some(c.to_owned())
    }

    /// What an order's lines' `key` (yuan) add up to, in fen.
    fn line_sum(&self, key: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "(SELECT COALESCE(SUM(CAST(ROUND(json_extract(j.value, '$.\"{key}\"') * 100) \
                 AS INTEGER)), 0) FROM json_each(t.content) AS j)"
            ),
            Backend::Postgres => format!(
                "(SELECT CAST(COALESCE(SUM(ROUND(CAST(j ->> '{key}' AS NUMERIC) * 100)), 0) \
                 AS BIGINT) FROM json_array_elements(CAST(t.content AS JSON)) AS j)"
            ),
        }
    }

    /// The value at `key` of the JSON in `column`, written as a reply writes it: text as is,
    /// numbers and booleans as their text; none for an object, a list, null or nothing.
    fn json_text(&self, column: &str, key: &str) -> String {
        if !plain_key(key) {
            return "CAST(NULL AS TEXT)".into();
        }
        match self.backend {
            Backend::Sqlite => format!(
                "CASE json_type({column}, '$.\"{key}\"') \
                 WHEN 'text' THEN json_extract({column}, '$.\"{key}\"') \
                 WHEN 'integer' THEN CAST(json_extract({column}, '$.\"{key}\"') AS TEXT) \
                 WHEN 'real' THEN CAST(json_extract({column}, '$.\"{key}\"') AS TEXT) \
                 WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END"
            ),
            Backend::Postgres => format!(
                "CASE json_typeof(CAST({column} AS JSON) -> '{key}') \
                 WHEN 'string' THEN CAST({column} AS JSON) ->> '{key}' \
                 WHEN 'number' THEN CAST({column} AS JSON) ->> '{key}' \
                 WHEN 'boolean' THEN CAST({column} AS JSON) ->> '{key}' END"
            ),
        }
    }

    /// The number at `key` (none when it is no number).
    fn json_number(&self, column: &str, key: &str) -> String {
        if !plain_key(key) {
            return "NULL".into();
        }
        match self.backend {
            Backend::Sqlite => format!(
                "CASE WHEN json_type({column}, '$.\"{key}\"') IN ('integer', 'real') \
                 THEN json_extract({column}, '$.\"{key}\"') END"
            ),
            Backend::Postgres => format!(
                "CASE WHEN json_typeof(CAST({column} AS JSON) -> '{key}') = 'number' \
                 THEN CAST(CAST({column} AS JSON) ->> '{key}' AS NUMERIC) END"
            ),
        }
    }

    /// 1 when `key` holds `true`, else 0.
    fn json_bool(&self, column: &str, key: &str) -> String {
        if !plain_key(key) {
            return "0".into();
        }
        match self.backend {
            Backend::Sqlite => {
                format!("CASE json_type({column}, '$.\"{key}\"') WHEN 'true' THEN 1 ELSE 0 END")
            }
            Backend::Postgres => format!(
                "CASE WHEN json_typeof(CAST({column} AS JSON) -> '{key}') = 'boolean' \
                 AND CAST({column} AS JSON) ->> '{key}' = 'true' THEN 1 ELSE 0 END"
            ),
        }
    }

    /// Whether the JSON in `column` has `key` (null included).
    fn json_present(&self, column: &str, key: &str) -> String {
        if !plain_key(key) {
            return "1 = 0".into();
        }
        match self.backend {
            Backend::Sqlite => format!("json_type({column}, '$.\"{key}\"') IS NOT NULL"),
            Backend::Postgres => format!("(CAST({column} AS JSON) -> '{key}') IS NOT NULL"),
        }
    }

    /// The value of `field` written as `kind` (none for what is no value).
    fn value(&self, field: &Field, kind: Kind) -> Option<String> {
        match field {
            Field::Doc(key) => {
                let doc = self.document();
                Some(match kind {
                    Kind::Bool => self.json_bool(doc, key),
                    Kind::Int => format!("COALESCE({}, 0)", self.json_number(doc, key)),
                    _ => self.json_text(doc, key),
                })
            }
            _ => self.column(field),
        }
    }

    /// Whether an object has `field` at all (none: every object has it).
    fn presence(&self, field: &Field, kind: Kind) -> Option<String> {
        match field {
            Field::Doc(key) if kind == Kind::Json => Some(self.json_present(self.document(), key)),
            Field::Dealers => Some("t.kind = 'agent'".into()),
            _ => None,
        }
    }

    /// Text ordered byte by byte, as the reply's text compares.
    fn bytewise(&self, expr: String) -> String {
        match self.backend {
            Backend::Sqlite => expr,
            Backend::Postgres => format!("{expr} COLLATE \"C\""),
        }
    }

    /// The conditions of the caller's range on the object at `alias`.
    fn scope(&mut self, scope: &Scope, alias: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (field, value) in [
            (Field::Vendor, &scope.vendor),
            (Field::Agent, &scope.agent),
            (Field::Dealer, &scope.dealer),
            (Field::Owner, &scope.owner),
        ] {
            let Some(value) = value else { continue };
            match self.column(&field) {
                Some(c) => {
                    let c = c.replacen("t.", &format!("{alias}."), 1);
                    let p = self.bind(Bind::Text(value.clone()));
                    out.push(format!("{c} = {p}"));
                }
                None => out.push("1 = 0".into()),
            }
        }
        out
    }

    /// What every row of the list is, before the caller's range and the filters.
    fn base(&mut self, scope: &Scope) -> String {
        match self.list {
            List::Members => "t.kind = 'member' AND t.deleted_at IS NULL".into(),
            List::Vendors => "t.kind = 'vendor' AND t.deleted_at IS NULL".into(),
            List::Agents => {
                // Agents, and the dealers whose agent is not in range (they are listed on
                // their own; the others under their agent).
                let mut agent_in_range = vec![
                    "a.uid = t.agent".to_owned(),
                    "a.kind = 'agent'".into(),
                    "a.deleted_at IS NULL".into(),
                ];
                agent_in_range.extend(self.scope(scope, "a"));
                format!(
                    "t.kind IN ('agent', 'dealer') AND t.deleted_at IS NULL AND (t.kind = 'agent' \
                     OR NOT EXISTS (SELECT 1 FROM iot_users a WHERE {}))",
                    agent_in_range.join(" AND ")
                )
            }
            List::Devices | List::Products | List::Orders => "t.deleted_at IS NULL".into(),
            List::Tickets | List::Commissions | List::Signings => "1 = 1".into(),
        }
    }

    /// The `WHERE` of the plan's rows: the list, the range and the filters.
    fn conditions(&mut self, plan: &Plan) -> String {
        let mut out = vec![self.base(&plan.scope)];
        out.extend(self.scope(&plan.scope, "t"));
        for f in &plan.filters {
            let value = self.value(&f.field, f.kind);
            let condition = match (&f.matches, value) {
                (Match::Anything, _) => continue,
                (Match::Nothing, _) | (_, None) => "1 = 0".to_owned(),
                (Match::Text(v), Some(e)) => format!("{e} = {}", self.bind(Bind::Text(v.clone()))),
                (Match::TextOrEmpty(v), Some(e)) if v.is_empty() => {
                    format!("({e} IS NULL OR {e} = '')")
                }
                (Match::TextOrEmpty(v), Some(e)) => {
                    format!("{e} = {}", self.bind(Bind::Text(v.clone())))
                }
                (Match::Int(n), Some(e)) => format!("{e} = {}", self.bind(Bind::Int(*n))),
                (Match::Bool(b), Some(e)) => {
                    format!("{e} = {}", self.bind(Bind::Int(i64::from(*b))))
                }
                (Match::Null, Some(e)) => format!("{e} IS NULL"),
                (Match::Second(ms), Some(e)) => {
                    let from = self.bind(Bind::Int(*ms));
                    let to = self.bind(Bind::Int(ms + 1000));
                    format!("({e} >= {from} AND {e} < {to})")
                }
            };
            out.push(condition);
        }
        out.join(" AND ")
    }

    /// The `ORDER BY` of the plan.
    fn order(&self, plan: &Plan) -> String {
        let mut keys = Vec::new();
        if let Some(sort) = &plan.sort {
            if plan.by_columns {
                keys.extend(self.value(&sort.field, sort.kind));
                keys.extend(self.column(&Field::Id));
            } else {
                keys.extend(self.sort_keys(&sort.field, sort.kind));
            }
        }
        if plan.sort.is_none() || !plan.by_columns {
            keys.extend(plan.then_by.iter().filter_map(|f| self.column(f)));
        }
        let direction = if plan.descending { "DESC" } else { "ASC" };
        keys.iter()
            .map(|k| format!("{k} {direction}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How the reply's values of `field` order: numbers as numbers, text byte by byte, times
    /// to the second with none first, a field an object lacks before any value.
    fn sort_keys(&self, field: &Field, kind: Kind) -> Vec<String> {
        if let Some(present) = self.presence(field, kind) {
            let mut keys = vec![format!("CASE WHEN {present} THEN 1 ELSE 0 END")];
            if let Field::Doc(key) = field {
                let doc = self.document();
                keys.push(format!("COALESCE({}, 0)", self.json_number(doc, key)));
                keys.push(self.bytewise(format!("COALESCE({}, '')", self.json_text(doc, key))));
            }
            return keys;
        }
        let Some(e) = self.value(field, kind) else {
            return Vec::new();
        };
        match kind {
            Kind::Text | Kind::Json => vec![self.bytewise(format!("COALESCE({e}, '')"))],
            Kind::Instant => vec![format!("CASE WHEN {e} IS NULL THEN -1 ELSE {e} / 1000 END")],
            Kind::Int | Kind::Bool | Kind::Money => vec![e],
            Kind::Opaque | Kind::Const(_) => Vec::new(),
        }
    }
}

/// The values bound, as the reader takes them.
fn params(binds: &[Bind]) -> Vec<Param<'_>> {
    binds
        .iter()
        .map(|b| match b {
            Bind::Text(s) => Param::Text(s),
            Bind::Int(i) => Param::Int(*i),
        })
        .collect()
}

/// The range whose count of live orders `iot_order_counts` keeps, when the plan's total is
/// exactly that count: the orders of a vendor, an agent, a dealer or a member, unfiltered.
fn kept_count(plan: &Plan) -> Option<(&'static str, &str, &str)> {
    if plan.list != List::Orders || plan.filters.iter().any(|f| f.matches != Match::Anything) {
        return None;
    }
    let s = &plan.scope;
    let vid = s.vendor.as_deref()?;
    match (s.agent.as_deref(), s.dealer.as_deref(), s.owner.as_deref()) {
        (None, None, None) => Some(("vendor", vid, "")),
        (Some(agent), None, None) => Some(("agent", vid, agent)),
        (None, Some(dealer), None) => Some(("dealer", vid, dealer)),
        (None, None, Some(owner)) => Some(("owner", vid, owner)),
        _ => None,
    }
}

/// The plan's page: the rows in its window (each only `columns` of the list's table `t`, all
/// of them when none), and how many match in all.
pub async fn page_of<R: ListRow>(
    store: &Store,
    plan: &Plan,
    columns: Option<&str>,
) -> Result<(i64, Vec<R>), sqlx::Error> {
    let mut sql = Sql::new(store.backend(), plan.list);
    let table = sql.table();
    let conditions = sql.conditions(plan);
    let order = sql.order(plan);
    let n = sql.binds.len();
    let rows_sql = format!(
        "SELECT {} FROM {table} AS t WHERE {conditions} ORDER BY {order} LIMIT ${} OFFSET ${}",
        columns.unwrap_or(sql.columns()),
        n + 1,
        n + 2
    );
    let mut params = params(&sql.binds);
    let total = match kept_count(plan) {
        // Kept by the orders' triggers (migration 0016).
        Some((kind, vid, who)) => store
            .fast_fetch_optional::<(i64,)>(
                "SELECT n FROM iot_order_counts WHERE kind = $1 AND vid = $2 AND who = $3",
                &[kind.into(), vid.into(), who.into()],
            )
            .await?
            .map_or(0, |(n,)| n),
        None => store
            .fast_fetch_optional::<(i64,)>(
                // The cast keeps the count a BIGINT on both backends.
                &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} AS t WHERE {conditions}"),
                &params,
            )
            .await?
            .map_or(0, |(n,)| n),
    };
    params.extend([Param::Int(plan.limit), Param::Int(plan.offset)]);
    let rows = store.fast_fetch_all::<R>(&rows_sql, &params).await?;
    Ok((total, rows))
}

/// Whether any object of `list` in `scope` has `field` (any object at all for none).
pub async fn any_has(
    store: &Store,
    list: List,
    scope: &Scope,
    field: Option<(&Field, Kind)>,
) -> Result<bool, sqlx::Error> {
    let mut sql = Sql::new(store.backend(), list);
    let table = sql.table();
    let mut conditions = vec![sql.base(scope)];
    conditions.extend(sql.scope(scope, "t"));
    if let Some((field, kind)) = field {
        conditions.extend(sql.presence(field, kind));
    }
    let q = format!(
        "SELECT CAST(1 AS BIGINT) FROM {table} AS t WHERE {} LIMIT 1",
        conditions.join(" AND ")
    );
    let found = store
        .fast_fetch_optional::<(i64,)>(&q, &params(&sql.binds))
        .await?;
    Ok(found.is_some())
}

/// The dealers in `scope` under these agents, oldest first.
pub async fn dealers_of<R: ListRow>(
    store: &Store,
    scope: &Scope,
    agents: &[String],
) -> Result<Vec<R>, sqlx::Error> {
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(store.backend(), List::Members);
    let mut conditions = vec![
        "t.kind = 'dealer'".to_owned(),
        "t.deleted_at IS NULL".into(),
    ];
    conditions.extend(sql.scope(scope, "t"));
    let marks: Vec<String> = agents
        .iter()
        .map(|a| sql.bind(Bind::Text(a.clone())))
        .collect();
    conditions.push(format!("t.agent IN ({})", marks.join(", ")));
    let q = format!(
        "SELECT {USER_COLUMNS} FROM iot_users AS t WHERE {} ORDER BY t.reg_at, t.uid",
        conditions.join(" AND ")
    );
    store.fast_fetch_all::<R>(&q, &params(&sql.binds)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::iot::listing::{ListRequest, plan};

    fn sql_of(list: List, scope: Scope, filters: &[(&str, &str)], sort: Option<&str>) -> String {
        let planned = plan(
            list,
            scope,
            &ListRequest {
                filters: filters
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                sort: sort.map(str::to_owned),
                descending: true,
                limit: 10,
                offset: 0,
            },
        );
        let mut sql = Sql::new(Backend::Sqlite, list);
        let w = sql.conditions(&planned.plan);
        format!("{w} ORDER BY {}", sql.order(&planned.plan))
    }

    #[test]
    fn columns_of_their_own_are_compared_and_sorted_as_columns() {
        let s = sql_of(
            List::Orders,
            Scope::vendor("V"),
            &[("state", "paid")],
            Some("create_tms"),
        );
        assert_eq!(
            s,
            "t.deleted_at IS NULL AND t.vid = $1 AND t.state = $2 ORDER BY t.created_at DESC, \
             t.oid DESC"
        );
    }

    #[test]
    fn other_fields_are_read_as_the_reply_writes_them() {
        let s = sql_of(
            List::Members,
            Scope::default(),
            &[("name", "")],
            Some("reg_tms"),
        );
        assert!(s.contains("IS NULL OR"), "{s}");
        assert!(
            s.ends_with(
                "ORDER BY CASE WHEN t.reg_at IS NULL THEN -1 ELSE t.reg_at / 1000 END DESC, \
                 t.reg_at DESC, t.uid DESC"
            ),
            "{s}"
        );
        let s = sql_of(List::Products, Scope::default(), &[], Some("weird\"key"));
        assert!(!s.contains("weird"), "{s}");
    }
}
