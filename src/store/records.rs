//! The console's tables: one portable query per listing, paged, searched and sorted in SQL.
//!
//! A [`Listing`] is a constant written here (its SQL is never input): the rows it reads, the
//! columns it shows, which of them a search looks in and which it may be sorted by, and the
//! columns that carry an IoT object's range (vendor, agent, dealer, owner). The domain's
//! `Records` service checks who asks; this module only runs what it is given.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Error, Store};

/// How a column's value is read and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// An integer.
    Int,
    /// An amount in fen, shown in yuan.
    Fen,
    /// UTC milliseconds, shown as a local date and time.
    Time,
    /// 0/1 (or NULL/NOT NULL turned into 0/1 by the column's SQL).
    Flag,
    /// A party's profile (a JSON object, searched as written), shown as the name in it.
    Profile,
}

/// One shown column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The column's key: its name in URLs (`?sort=`), in CSV headers and in translations.
    pub key: &'static str,
    /// Its SQL expression over the listing's rows.
    pub sql: &'static str,
    pub kind: Kind,
    /// A search looks in it (text columns only).
    pub search: bool,
    /// How a search looks in it, when not by `LIKE` on its SQL: a condition with `{}` where
    /// the pattern goes (such as a semi-join on another table's column, so that the search
    /// needs no join for each row).
    pub search_as: Option<&'static str>,
    /// It may be sorted by.
    pub sort: bool,
}

impl Column {
    pub const fn text(key: &'static str, sql: &'static str) -> Column {
        Column {
            key,
            sql,
            kind: Kind::Text,
            search: false,
            search_as: None,
            sort: true,
        }
    }
    pub const fn of(key: &'static str, sql: &'static str, kind: Kind) -> Column {
        Column {
            key,
            sql,
            kind,
            search: false,
            search_as: None,
            sort: true,
        }
    }
    /// Searched as well.
    pub const fn searched(mut self) -> Column {
        self.search = true;
        self
    }
    /// Searched by this condition (`{}` is the pattern) instead of `LIKE` on its SQL: a
    /// joined table's column by a semi-join on the first table's key (`k.company_id IN (SELECT
    /// id FROM retail_companies WHERE name LIKE {} ESCAPE '\\')`), read once for the search
    /// rather than joined for every row, so that the search counts the first table alone.
    pub const fn searched_as(mut self, condition: &'static str) -> Column {
        self.search = true;
        self.search_as = Some(condition);
        self
    }
    /// Not sortable (an expression no index helps and no user orders by).
    pub const fn unsorted(mut self) -> Column {
        self.sort = false;
        self
    }
}

/// The columns that place an object in the IoT platform's ranges.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeColumns {
    pub vendor: Option<&'static str>,
    pub agent: Option<&'static str>,
    pub dealer: Option<&'static str>,
    pub owner: Option<&'static str>,
}

/// A table of the console.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// The `FROM` clause: a table, or a table with others joined to it by their key (at most
    /// one row each; exactly one for an inner join, by a foreign key), so that the first table
    /// alone counts the rows when nothing filters them.
    pub from: &'static str,
    /// A condition every row meets (`""` for none), such as `deleted_at IS NULL`.
    pub filter: &'static str,
    pub columns: &'static [Column],
    /// The default order, and the tie-breaker after any sort (must be unique).
    pub order: &'static str,
    /// The unique key, after a chosen sort.
    pub key: &'static str,
    pub range: RangeColumns,
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// A condition on one column.
#[derive(Debug, Clone)]
pub enum Condition {
    /// The column is this text (or integer written as digits).
    Equals(usize, Value),
    /// The column (an integer or time) is at least this.
    AtLeast(usize, i64),
    /// The column (an integer or time) is below this.
    Below(usize, i64),
    /// The column is NULL.
    IsNull(usize),
    /// The column is not NULL.
    NotNull(usize),
}

/// What to read: already checked by the domain (column indexes are in range).
#[derive(Debug, Clone, Default)]
pub struct Select {
    /// Text every row must contain in one of its searched columns.
    pub search: Option<String>,
    pub conditions: Vec<Condition>,
    /// Range conditions: (column SQL, value).
    pub range: Vec<(&'static str, String)>,
    /// Sort by this column, descending or not.
    pub sort: Option<(usize, bool)>,
    pub limit: i64,
    pub offset: i64,
}

/// A window of rows, and how many match in all.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub total: i64,
    pub rows: Vec<Vec<Value>>,
}

enum Bound {
    Text(String),
    Int(i64),
}

fn where_clause(listing: &Listing, select: &Select) -> (String, Vec<Bound>) {
    let mut parts: Vec<String> = Vec::new();
    let mut binds: Vec<Bound> = Vec::new();
    if !listing.filter.is_empty() {
        parts.push(format!("({})", listing.filter));
    }
    if let Some(text) = select.search.as_deref().filter(|s| !s.is_empty()) {
        let searched: Vec<&Column> = listing.columns.iter().filter(|c| c.search).collect();
        if !searched.is_empty() {
            // The text is text, not a pattern: its `%`, `_` and `\` match only themselves.
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(Bound::Text(format!("%{escaped}%")));
            let n = binds.len();
            let any: Vec<String> = searched
                .iter()
                .map(|c| match c.search_as {
                    Some(condition) => condition.replace("{}", &format!("${n}")),
                    None => format!("{} LIKE ${n} ESCAPE '\\'", c.sql),
                })
                .collect();
            parts.push(format!("({})", any.join(" OR ")));
        }
    }
    for condition in &select.conditions {
        let (sql, bound) = match condition {
            Condition::Equals(i, Value::Text(t)) => {
                (listing.columns[*i].sql, Some(Bound::Text(t.clone())))
            }
            Condition::Equals(i, Value::Int(v)) => (listing.columns[*i].sql, Some(Bound::Int(*v))),
            Condition::Equals(i, Value::Null) | Condition::IsNull(i) => {
                parts.push(format!("{} IS NULL", listing.columns[*i].sql));
                continue;
            }
            Condition::NotNull(i) => {
                parts.push(format!("{} IS NOT NULL", listing.columns[*i].sql));
                continue;
            }
            Condition::AtLeast(i, v) => {
                binds.push(Bound::Int(*v));
                parts.push(format!("{} >= ${}", listing.columns[*i].sql, binds.len()));
                continue;
            }
            Condition::Below(i, v) => {
                binds.push(Bound::Int(*v));
                parts.push(format!("{} < ${}", listing.columns[*i].sql, binds.len()));
                continue;
            }
        };
        if let Some(b) = bound {
            binds.push(b);
            parts.push(format!("{} = ${}", sql, binds.len()));
        }
    }
    for (column, value) in &select.range {
        binds.push(Bound::Text(value.clone()));
        parts.push(format!("{column} = ${}", binds.len()));
    }
    if parts.is_empty() {
        (String::new(), binds)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), binds)
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bound],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bound::Text(t) => q.bind(t.as_str()),
            Bound::Int(i) => q.bind(*i),
        };
    }
    q
}

fn read_row(listing: &Listing, row: &AnyRow) -> Result<Vec<Value>, Error> {
    listing
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.kind {
                Kind::Text | Kind::Profile => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                Kind::Int | Kind::Fen | Kind::Time | Kind::Flag => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Int),
            })
        })
        .collect()
}

/// The rows of a listing in the window asked for, with the count of all that match.
pub async fn page(store: &Store, listing: &Listing, select: &Select) -> Result<Rows, Error> {
    let (where_sql, binds) = where_clause(listing, select);
    let first = first_table(listing.from);
    let counted = match alias_of(first) {
        Some(alias) if names_only(&where_sql, alias) => first,
        _ => listing.from,
    };
    let total_sql = format!("SELECT COUNT(*) FROM {counted}{where_sql}");
    let total: i64 = {
        let mut q = sqlx::query_scalar::<_, i64>(&total_sql);
        for b in &binds {
            q = match b {
                Bound::Text(t) => q.bind(t.as_str()),
                Bound::Int(i) => q.bind(*i),
            };
        }
        q.fetch_one(store.pool()).await?
    };
    let rows = if total == 0 || select.limit <= 0 {
        Vec::new()
    } else {
        window(store, listing, select, &where_sql, &binds).await?
    };
    Ok(Rows { total, rows })
}

/// The first table of a `FROM` clause (before any join).
fn first_table(from: &str) -> &str {
    [" LEFT JOIN ", " JOIN "]
        .iter()
        .filter_map(|j| from.find(j))
        .min()
        .map_or(from, |at| &from[..at])
}

/// The window of a joined listing, cut from its first table before the joins: the joined
/// tables are then read for the window's rows only, not for every row skipped (2,000 pages
/// deep, 40,000 lookups a joined table) or sorted (a sort by a column no index serves joins
/// every row first). Only when the conditions and the order name the first table's columns
/// alone (the order at least one); `None` otherwise, or when there is no join.
fn deferred_join(
    from: &str,
    where_sql: &str,
    order: &str,
    limit: i64,
    offset: i64,
) -> Option<String> {
    let first = first_table(from);
    if first.len() == from.len() {
        return None;
    }
    let alias = alias_of(first)?;
    (order.contains('.') && names_only(order, alias) && names_only(where_sql, alias)).then(|| {
        format!(
            "(SELECT * FROM {first}{where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}) \
             {alias}{}",
            &from[first.len()..]
        )
    })
}

/// The alias of a `FROM` clause's first table (`heat_accounts a`: `a`).
fn alias_of(first: &str) -> Option<&str> {
    let mut words = first.split_whitespace();
    words.next()?;
    words.last()
}

/// Whether every qualified name (`x.column`) in some SQL is of this alias: then it reads the
/// first table alone (a listing with joins qualifies every column).
fn names_only(sql: &str, alias: &str) -> bool {
    let bytes = sql.as_bytes();
    sql.match_indices('.').all(|(at, _)| {
        let start = bytes[..at]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(0, |p| p + 1);
        &sql[start..at] == alias
    })
}

/// The rows in the window, without counting them (the CSV export reads page after page).
pub async fn rows(
    store: &Store,
    listing: &Listing,
    select: &Select,
) -> Result<Vec<Vec<Value>>, Error> {
    let (where_sql, binds) = where_clause(listing, select);
    window(store, listing, select, &where_sql, &binds).await
}

async fn window(
    store: &Store,
    listing: &Listing,
    select: &Select,
    where_sql: &str,
    binds: &[Bound],
) -> Result<Vec<Vec<Value>>, Error> {
    let columns: Vec<&str> = listing.columns.iter().map(|c| c.sql).collect();
    let order = match select.sort {
        Some((i, desc)) => {
            let c = &listing.columns[i];
            let dir = if desc { "DESC" } else { "ASC" };
            // NULLs first ascending, last descending, on both backends (SQLite's own order,
            // so that an index on the column serves the sort); ties in the same direction, so
            // that an index on (column, key) serves them too.
            let nulls = if desc { "NULLS LAST" } else { "NULLS FIRST" };
            let key = listing
                .key
                .split(',')
                .map(|k| format!("{} {dir}", k.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{sql} {dir} {nulls}, {key}", sql = c.sql)
        }
        None => listing.order.to_owned(),
    };
    let (limit, offset) = (select.limit.max(0), select.offset.max(0));
    let sql = match deferred_join(listing.from, where_sql, &order, limit, offset) {
        Some(from) => format!("SELECT {} FROM {from} ORDER BY {order}", columns.join(", ")),
        _ => format!(
            "SELECT {} FROM {}{where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            columns.join(", "),
            listing.from,
        ),
    };
    let q = bind_all(sqlx::query(&sql), binds);
    let found = q.fetch_all(store.pool()).await?;
    found.iter().map(|r| read_row(listing, r)).collect()
}

/// The journal's kinds of money received, by area.
const RECEIVED_AREA: &str = "CASE WHEN kind IN ('heating_payment', 'imported_payment') THEN 'heating' \
     WHEN kind = 'meter_recharge' THEN 'meter' ELSE 'iot' END";
const RECEIVED_KINDS: &str =
    "kind IN ('heating_payment', 'imported_payment', 'meter_recharge', 'iot_payment')";

/// Money received by area and local day (days since the epoch, `offset_ms` east of UTC):
/// (area, day, fen).
pub async fn received_daily(
    store: &Store,
    from: i64,
    to: i64,
    offset_ms: i64,
) -> Result<Vec<(String, i64, i64)>, Error> {
    let sql = format!(
        "SELECT {RECEIVED_AREA} AS area, CAST((created_at + $3) / 86400000 AS BIGINT) AS day, \
         CAST(SUM(amount) AS BIGINT) FROM ledger_entries \
         WHERE {RECEIVED_KINDS} AND created_at >= $1 AND created_at < $2 \
         GROUP BY {RECEIVED_AREA}, CAST((created_at + $3) / 86400000 AS BIGINT) \
         UNION ALL SELECT 'charging', CAST((stop_at + $3) / 86400000 AS BIGINT), \
         CAST(SUM(charge_fee + service_fee) AS BIGINT) FROM charging_records \
         WHERE stop_at >= $1 AND stop_at < $2 GROUP BY CAST((stop_at + $3) / 86400000 AS BIGINT)"
    );
    let rows = sqlx::query(&sql)
        .bind(from)
        .bind(to)
        .bind(offset_ms)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                r.try_get::<i64, _>(1)?,
                r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
            ))
        })
        .collect()
}

/// Counts the overview shows: devices online, devices offline (registered, not deleted), open
/// tickets (created, approved, dispatched, processing or waiting), unpaid heating bills and
/// their sum in fen.
pub async fn counts(store: &Store) -> Result<[i64; 5], Error> {
    let row = sqlx::query(
        "SELECT \
         (SELECT COUNT(*) FROM iot_devices WHERE deleted_at IS NULL AND online = 1), \
         (SELECT COUNT(*) FROM iot_devices WHERE deleted_at IS NULL AND online = 0), \
         (SELECT COUNT(*) FROM iot_tickets WHERE status BETWEEN 1 AND 5), \
         (SELECT COUNT(*) FROM heating_bills WHERE status = 'unpaid'), \
         (SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM heating_bills WHERE status = 'unpaid')",
    )
    .fetch_one(store.pool())
    .await?;
    Ok([
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::{deferred_join, first_table, names_only};

    #[test]
    fn the_first_table_is_what_comes_before_any_join() {
        assert_eq!(first_table("users"), "users");
        assert_eq!(
            first_table("heat_accounts a LEFT JOIN users u ON u.id = a.bound_user_id"),
            "heat_accounts a"
        );
        assert_eq!(
            first_table("k JOIN e ON e.c = k.c LEFT JOIN c ON c.id = k.i"),
            "k"
        );
    }

    #[test]
    fn a_deep_window_is_cut_before_the_joins_only_when_it_reads_the_first_table_alone() {
        let from = "heating_orders o LEFT JOIN users u ON u.id = o.user_id";
        assert_eq!(
            deferred_join(from, "", "o.created_at DESC, o.order_id DESC", 20, 40).as_deref(),
            Some(
                "(SELECT * FROM heating_orders o ORDER BY o.created_at DESC, o.order_id DESC \
                 LIMIT 20 OFFSET 40) o LEFT JOIN users u ON u.id = o.user_id"
            )
        );
        assert_eq!(
            deferred_join(from, " WHERE (o.status = $1)", "o.order_id", 20, 40).as_deref(),
            Some(
                "(SELECT * FROM heating_orders o WHERE (o.status = $1) ORDER BY o.order_id \
                 LIMIT 20 OFFSET 40) o LEFT JOIN users u ON u.id = o.user_id"
            )
        );
        // A condition or an order on a joined column, an unqualified order, a single table (no
        // join to defer): as written.
        assert_eq!(
            deferred_join(from, " WHERE u.phone = $1", "o.order_id", 20, 40),
            None
        );
        assert_eq!(
            deferred_join(from, "", "COALESCE(u.phone, '') ASC, o.order_id", 20, 40),
            None
        );
        assert_eq!(deferred_join(from, "", "created_at", 20, 40), None);
        assert_eq!(
            deferred_join("heating_orders o", "", "o.created_at", 20, 40),
            None
        );
    }

    #[test]
    fn names_only_sees_every_qualified_name() {
        assert!(names_only("", "f"));
        assert!(names_only(
            " WHERE (f.content LIKE $1 OR f.user_id IN (SELECT id FROM u))",
            "f"
        ));
        assert!(!names_only(" WHERE (COALESCE(u.phone, '') LIKE $1)", "f"));
        assert!(!names_only("ff.x = 1", "f"));
    }
}
