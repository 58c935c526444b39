//! The console's tables: one portable query per listing, paged, searched and sorted in SQL.
//!
//! A [`Listing`] is a constant written here (its SQL is never input): the rows it reads, the
//! columns it shows, which of them a search looks in and which it may be sorted by, and the
//! columns that carry an IoT object's range (vendor, agent, dealer, owner). The domain's
//! `Records` service checks who asks; this module only runs what it is given.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Backend, Error, Store};

/// The columns each table's search index holds (migrations 0023 and 0024): on SQLite an FTS5 table
/// `<table>_fts` with the trigram tokenizer, on PostgreSQL a pg_trgm GIN index on each column.
/// A search of [`INDEXED_SEARCH`] characters or more asks it which rows may match ([`plan`]).
/// A test checks every searched column of every listing is here.
const SEARCH_INDEX: &[(&str, &[&str])] = &[
    ("users", &["phone", "nickname", "real_name"]),
    ("heat_accounts", &["heat_account", "real_name", "address"]),
    (
        "heating_bills",
        &["bill_id", "heat_account", "heating_season"],
    ),
    (
        "heating_orders",
        &["order_id", "heat_account", "transaction_id"],
    ),
    ("meter_api_accounts", &["admin_user_name"]),
    (
        "meter_households",
        &["user_code", "user_name", "admin_user_name", "address"],
    ),
    ("meters", &["user_code"]),
    (
        "meter_recharges",
        &["out_trade_no", "admin_user_name", "user_code"],
    ),
    ("meter_consumptions", &["table_no"]),
    ("retail_companies", &["name", "services"]),
    (
        "retail_enterprises",
        &["credit_code", "name", "contact_phone"],
    ),
    ("retail_users", &["phone", "enterprise_code"]),
    ("retail_contracts", &["contract_id", "title"]),
    ("retail_bills", &["id", "enterprise_code"]),
    ("retail_feedback", &["content", "contact"]),
    ("retail_articles", &["title", "author"]),
    ("retail_guide", &["question"]),
    ("retail_monthly_use", &["enterprise_code"]),
    ("charging_users", &["username"]),
    ("charging_records", &["username", "number", "pile"]),
    ("charging_boxes", &["id", "vendor", "model", "serial"]),
    ("charging_tags", &["id_tag", "username"]),
    (
        "iot_users",
        &["uid", "code", "login", "profile", "mobile", "vid"],
    ),
    ("iot_devices", &["did", "uid", "vid"]),
    ("iot_orders", &["oid", "uid", "vid"]),
    ("iot_tickets", &["tid", "detail", "device_id", "order_id"]),
    ("iot_commissions", &["oid", "uid"]),
    ("iot_withdrawals", &["wid", "uid"]),
];

/// The SQLite index by which a listing's rows are found from their key, for each key another
/// table's matches are followed by ([`followed`], `INDEXED BY`): (table, key column, index).
/// Named, so that the plan never rests on statistics: where one value fills a key (one
/// company's 100,000 contracts) they have SQLite read the listing once for each match, or
/// index all of it first.
const KEY_INDEX: &[(&str, &str, &str)] = &[
    (
        "heat_accounts",
        "bound_user_id",
        "sqlite_autoindex_heat_accounts_2",
    ),
    ("heating_orders", "user_id", "heating_orders_user"),
    ("meter_recharges", "user_code", "meter_recharges_household"),
    (
        "meter_consumptions",
        "table_no",
        "sqlite_autoindex_meter_consumptions_1",
    ),
    ("retail_users", "enterprise_code", "retail_users_enterprise"),
    (
        "retail_contracts",
        "enterprise_code",
        "retail_contracts_enterprise",
    ),
    ("retail_contracts", "company_id", "retail_contracts_company"),
    ("retail_bills", "enterprise_code", "retail_bills_enterprise"),
    ("retail_feedback", "user_id", "retail_feedback_user"),
    (
        "retail_monthly_use",
        "enterprise_code",
        "sqlite_autoindex_retail_monthly_use_1",
    ),
];

/// The index [`KEY_INDEX`] names for a table's key column.
fn key_index(table: &str, column: &str) -> Option<&'static str> {
    KEY_INDEX
        .iter()
        .find(|(t, c, _)| *t == table && *c == column)
        .map(|(_, _, index)| *index)
}

/// The shortest search a trigram index serves; a shorter one reads the rows.
const INDEXED_SEARCH: usize = 3;

fn indexed(table: &str, column: &str) -> bool {
    SEARCH_INDEX
        .iter()
        .any(|(t, columns)| *t == table && columns.contains(&column))
}

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
    /// Searched in another table's column, by a semi-join on a key, instead of in its own.
    pub search_in: Option<Via>,
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
            search_in: None,
            sort: true,
        }
    }
    pub const fn of(key: &'static str, sql: &'static str, kind: Kind) -> Column {
        Column {
            key,
            sql,
            kind,
            search: false,
            search_in: None,
            sort: true,
        }
    }
    /// Searched as well.
    pub const fn searched(mut self) -> Column {
        self.search = true;
        self
    }
    /// Searched in a joined table's column, found by the first table's key (`key IN (SELECT id
    /// FROM table WHERE ..)`) rather than through the join, so that a search whose matches are
    /// few counts the first table alone ([`plan`] says how each part is searched).
    pub const fn searched_in(
        mut self,
        key: &'static str,
        table: &'static str,
        id: &'static str,
        column: &'static str,
    ) -> Column {
        self.search = true;
        self.search_in = Some(Via {
            key,
            table,
            id,
            column,
        });
        self
    }
    /// Not sortable (an expression no index helps and no user orders by).
    pub const fn unsorted(mut self) -> Column {
        self.sort = false;
        self
    }
}

/// Another table's column a search looks in: the rows whose `key` is the `id` of a row of
/// `table` whose `column` matches.
#[derive(Debug, Clone, Copy)]
pub struct Via {
    pub key: &'static str,
    pub table: &'static str,
    pub id: &'static str,
    pub column: &'static str,
}

/// The columns that place an object in the IoT platform's ranges.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeColumns {
    pub vendor: Option<&'static str>,
    pub agent: Option<&'static str>,
    pub dealer: Option<&'static str>,
    pub owner: Option<&'static str>,
}

impl RangeColumns {
    /// A table outside the IoT ranges: operators alone read it.
    pub const NONE: RangeColumns = RangeColumns {
        vendor: None,
        agent: None,
        dealer: None,
        owner: None,
    };
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
    /// More rows than `total` match (a search counted up to [`SEARCH_COUNT`]).
    pub at_least: bool,
    pub rows: Vec<Vec<Value>>,
}

enum Bound {
    Text(String),
    Int(i64),
}

/// How a search looks in one part of a listing (its own searched columns, or one other table's
/// column it searches by a key).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Look {
    /// Of the listing's own columns: the rowids that may match, found beforehand (at most
    /// [`SPARSE`]), by its FTS5 trigram index for a text of [`INDEXED_SEARCH`] characters or
    /// more, by reading the table once otherwise. The listing's rows are looked up by them,
    /// and matched exactly by `LIKE` (so a search means the same, whichever way it is found).
    Set(Vec<i64>),
    /// Of another table's column: the rowids of the listing's rows whose key names a row of
    /// that table that matches (at most [`SPARSE`], matched exactly by `LIKE`), found by
    /// reading that table's matches and following each to the listing's rows by their key
    /// (a phone that thousands of users' phones contain, of which few wrote feedback).
    Found(Vec<i64>),
    /// `LIKE '%text%'`, another table's column by a semi-join (that table read once, its
    /// matching keys then tested for each row): PostgreSQL, whose trigram indexes serve `LIKE`
    /// itself.
    Like,
    /// `LIKE '%text%'` on each row as it is read, another table's column through the listing's
    /// own join: a part more than [`SPARSE`] rows of the listing match, so that a page is
    /// found after reading a few rows in order rather than after collecting every match. With
    /// the first [`SPARSE`] + 1 rowids found, as [`Look::Set`] or [`Look::Found`] would hold
    /// them: witnesses that prove a count of "at least" without reading the listing.
    Row(Vec<i64>),
}

/// The parts of a listing a search looks in: (table, columns); the first table's own columns
/// first (when it has any), then each other table's column, in the listing's order.
fn search_parts(listing: &Listing) -> Vec<(&'static str, Vec<&'static str>)> {
    let first = first_table(listing.from);
    let table = first.split_whitespace().next().unwrap_or(first);
    let searched = listing.columns.iter().filter(|c| c.search);
    let own: Vec<&str> = searched
        .clone()
        .filter(|c| c.search_in.is_none())
        .map(|c| bare(searched_column(c.sql)))
        .collect();
    let mut parts = Vec::new();
    if !own.is_empty() {
        parts.push((table, own));
    }
    parts.extend(
        searched
            .filter_map(|c| c.search_in)
            .map(|v| (v.table, vec![v.column])),
    );
    parts
}

/// A text of twice this many characters or more is asked of the trigram index by its first
/// and last this many: a long phrase of common trigrams is slow to match (an id typed in full,
/// 16 characters, 14 trigrams each in every row: 10 ms, its two halves 3 ms), and the rows
/// found are matched exactly afterwards.
const PROBED: usize = 8;

/// The FTS5 query a part's index is asked: the text as one phrase, or a long text's first and
/// last [`PROBED`] characters, both.
fn probe(columns: &[&str], text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 2 * PROBED {
        return phrase(columns, text);
    }
    let quoted = |part: &[char]| {
        format!(
            "\"{}\"",
            part.iter().collect::<String>().replace('"', "\"\"")
        )
    };
    format!(
        "{{{}}} : ({} AND {})",
        columns.join(" "),
        quoted(&chars[..PROBED]),
        quoted(&chars[chars.len() - PROBED..])
    )
}

/// A part of a search found in more rows than this is searched row by row ([`Look::Row`]).
const SPARSE: usize = 2000;

/// How a search looks in each part of a listing ([`search_parts`]). On SQLite the rows each
/// part finds are collected up to [`SPARSE`] + 1: first the listing's own rowids, from its FTS5
/// index when the text is long enough, else by reading the table in its own order (sequential,
/// stopping early when many rows match); then each other table's matches, followed to the
/// listing's rows by their key, all such parts at once. When no more are found, the part is a
/// set; otherwise a page is found sooner by reading the listing's rows in order, and when the
/// listing's own columns are read so, the other parts are too (a page is found after a few
/// rows, whatever they would find).
async fn plan(store: &Store, listing: &Listing, text: &str) -> Result<Vec<Look>, Error> {
    let parts = search_parts(listing);
    if store.backend() == Backend::Postgres {
        return Ok(vec![Look::Like; parts.len()]);
    }
    let vias: Vec<Via> = listing.columns.iter().filter_map(|c| c.search_in).collect();
    let mut looks = Vec::with_capacity(parts.len());
    if parts.len() > vias.len() {
        let (table, columns) = &parts[0];
        let (sql, bound) = matching(table, columns, text);
        let sql = format!("{sql} LIMIT {}", SPARSE + 1);
        let found = integers(store, &sql, &[Bound::Text(bound)]).await?;
        if found.len() > SPARSE {
            looks.push(Look::Row(found));
            looks.extend(vias.iter().map(|_| Look::Row(Vec::new())));
            return Ok(looks);
        }
        looks.push(Look::Set(found));
    }
    let first = first_table(listing.from);
    // A list of a few thousand rows at most is read whole sooner than another table's matches
    // are followed to it (a company's name that 100,000 companies' names contain, for a table
    // of its 6 months of use).
    let rows: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {first} LIMIT {}) AS some",
        SPARSE + 1
    ))
    .fetch_one(store.pool())
    .await?;
    if rows <= SPARSE as i64 {
        looks.extend(vias.iter().map(|_| Look::Row(Vec::new())));
        return Ok(looks);
    }
    let followed = vias.iter().map(|via| async move {
        let (sql, bound) = followed(first, *via, text);
        let sql = format!("{sql} LIMIT {}", SPARSE + 1);
        let binds = [Bound::Text(bound), Bound::Text(like_pattern(text))];
        let found = integers(store, &sql, &binds).await?;
        Ok::<_, Error>(if found.len() > SPARSE {
            Look::Row(found)
        } else {
            Look::Found(found)
        })
    });
    looks.extend(futures_util::future::try_join_all(followed).await?);
    Ok(looks)
}

/// The query of the rowids of a listing's rows (its first table's) whose key names a row of
/// another table that matches: that table's matches ([`matching`], with `$1`), each tested by
/// `LIKE` (`$2`) and followed by the listing's index on the key ([`KEY_INDEX`]), stopping at
/// the limit when there are many.
fn followed(first: &str, via: Via, text: &str) -> (String, String) {
    let table = first.split_whitespace().next().unwrap_or(first);
    let rowid = rowid_of(first);
    let listing = match (alias_of(first), key_index(table, bare(via.key))) {
        (Some(alias), Some(index)) => format!("{table} AS {alias} INDEXED BY {index}"),
        _ => first.to_owned(),
    };
    let (part, bound) = matching(via.table, &[via.column], text);
    (
        format!(
            "SELECT {rowid} FROM ({part}) AS part_ CROSS JOIN {other} AS via_ CROSS JOIN \
             {listing} WHERE via_.rowid = part_.found_ AND via_.{column} LIKE $2 ESCAPE '\\' \
             AND {key} = via_.{id}",
            other = via.table,
            column = via.column,
            key = via.key,
            id = via.id,
        ),
        bound,
    )
}

/// The query of a part's rowids that may contain the text, with its parameter (`$1`): its
/// FTS5 trigram index's for a text of [`INDEXED_SEARCH`] characters or more, the rows whose
/// columns contain it (`LIKE`) otherwise.
fn matching(table: &str, columns: &[&str], text: &str) -> (String, String) {
    if text.chars().count() >= INDEXED_SEARCH && columns.iter().all(|c| indexed(table, c)) {
        (
            format!("SELECT rowid AS found_ FROM {table}_fts WHERE {table}_fts MATCH $1"),
            probe(columns, text),
        )
    } else {
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE $1 ESCAPE '\\'"))
            .collect();
        (
            format!(
                "SELECT rowid AS found_ FROM {table} WHERE {}",
                any.join(" OR ")
            ),
            like_pattern(text),
        )
    }
}

/// Rowids as SQL (integers read from the database, written as literals).
fn rowids(set: &[i64]) -> String {
    set.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The condition a search puts on a listing's rows: one of its searched columns contains the
/// text, each part looked in as `looks` says ([`plan`]). A `LIKE` pattern's `%`, `_` and `\`
/// match only themselves; the trigram index is an exact, case-insensitive substring match, as
/// `LIKE` is on SQLite.
fn search_condition(
    listing: &Listing,
    text: &str,
    looks: &[Look],
    binds: &mut Vec<Bound>,
) -> Option<String> {
    let searched: Vec<&Column> = listing.columns.iter().filter(|c| c.search).collect();
    if searched.is_empty() {
        return None;
    }
    let first = first_table(listing.from);
    let rowid = rowid_of(first);
    let mut looks = looks.iter();
    let mut like = None;
    // The rows the sets find, as one set of the first table's rowids (looked up row by row,
    // where conditions joined by OR would read every row to test each).
    let mut found = Vec::new();
    let mut any = Vec::new();
    let own: Vec<&str> = searched
        .iter()
        .filter(|c| c.search_in.is_none())
        .map(|c| searched_column(c.sql))
        .collect();
    if !own.is_empty() {
        match looks.next() {
            Some(Look::Set(set)) => {
                if !set.is_empty() {
                    let n = like_bound(&mut like, binds, text);
                    let likes: Vec<String> = own
                        .iter()
                        .map(|c| format!("{c} LIKE ${n} ESCAPE '\\'"))
                        .collect();
                    found.push(format!(
                        "SELECT {rowid} FROM {first} WHERE {rowid} IN ({}) AND ({})",
                        rowids(set),
                        likes.join(" OR ")
                    ));
                }
            }
            _ => {
                let n = like_bound(&mut like, binds, text);
                any.extend(own.iter().map(|c| format!("{c} LIKE ${n} ESCAPE '\\'")));
            }
        }
    }
    for c in searched.iter().filter(|c| c.search_in.is_some()) {
        let Some(via) = c.search_in else { continue };
        match looks.next().unwrap_or(&Look::Like) {
            Look::Found(rows) | Look::Set(rows) => {
                if !rows.is_empty() {
                    found.push(format!(
                        "SELECT {rowid} FROM {first} WHERE {rowid} IN ({})",
                        rowids(rows)
                    ));
                }
            }
            Look::Like => {
                let n = like_bound(&mut like, binds, text);
                any.push(format!(
                    "{} IN (SELECT {} FROM {} WHERE {} LIKE ${n} ESCAPE '\\')",
                    via.key, via.id, via.table, via.column
                ));
            }
            Look::Row(_) => {
                // As the column is shown (`COALESCE(u.x, '')` for an outer join's): a condition
                // SQLite sees as null-rejecting would turn the outer join inner and let it read
                // the other table first, then sort every match.
                let n = like_bound(&mut like, binds, text);
                any.push(format!("{} LIKE ${n} ESCAPE '\\'", c.sql));
            }
        }
    }
    if !found.is_empty() {
        any.insert(0, format!("{rowid} IN ({})", found.join(" UNION ALL ")));
    }
    if any.is_empty() {
        // Every part is an empty set: nothing matches.
        any.push("0 = 1".to_owned());
    }
    Some(format!("({})", any.join(" OR ")))
}

/// The `LIKE` pattern's parameter, bound once however many columns it is matched against.
fn like_bound(like: &mut Option<usize>, binds: &mut Vec<Bound>, text: &str) -> usize {
    *like.get_or_insert_with(|| {
        binds.push(Bound::Text(like_pattern(text)));
        binds.len()
    })
}

/// `%text%`, the text's `%`, `_` and `\` escaped: the text is text, not a pattern.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// An FTS5 query for the text as one phrase (its trigrams in a row: the text itself) in these
/// columns: `{a b} : "text"`, a `"` in the text doubled.
fn phrase(columns: &[&str], text: &str) -> String {
    format!(
        "{{{}}} : \"{}\"",
        columns.join(" "),
        text.replace('"', "\"\"")
    )
}

/// The column a searched column's SQL reads: `COALESCE(a.x, '')` searches `a.x` (a NULL
/// contains no text either), so that an index on the column serves it.
fn searched_column(sql: &str) -> &str {
    sql.strip_prefix("COALESCE(")
        .and_then(|s| s.strip_suffix(", '')"))
        .unwrap_or(sql)
}

/// A column's name without its table's alias (`a.x`: `x`).
fn bare(column: &str) -> &str {
    column.rsplit('.').next().unwrap_or(column)
}

fn where_clause(listing: &Listing, select: &Select, looks: &[Look]) -> (String, Vec<Bound>) {
    let mut parts: Vec<String> = Vec::new();
    let mut binds: Vec<Bound> = Vec::new();
    if !listing.filter.is_empty() {
        parts.push(format!("({})", listing.filter));
    }
    if let Some(text) = select.search.as_deref().filter(|s| !s.is_empty()) {
        if let Some(any) = search_condition(listing, text, looks, &mut binds) {
            parts.push(any);
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

/// How a select's search looks in the listing's parts (none without a search).
async fn looks(store: &Store, listing: &Listing, select: &Select) -> Result<Vec<Look>, Error> {
    match select.search.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => plan(store, listing, text).await,
        None => Ok(Vec::new()),
    }
}

/// A search's matches are counted up to this many, or to the end of the window asked for if
/// further: a search found in more rows says "at least" ([`Rows::at_least`]). Counting every
/// match of a text that 100,000 rows contain would read all of them.
const SEARCH_COUNT: i64 = 1000;

/// The rows of a listing in the window asked for, with the count of all that match (of a
/// search's, up to [`SEARCH_COUNT`]).
pub async fn page(store: &Store, listing: &Listing, select: &Select) -> Result<Rows, Error> {
    let looks = looks(store, listing, select).await?;
    let (where_sql, binds) = where_clause(listing, select, &looks);
    if looks.is_empty() {
        let total = count(store, listing, (&where_sql, &binds), None).await?;
        let rows = if total == 0 || select.limit <= 0 {
            Vec::new()
        } else {
            window(store, listing, select, (&where_sql, &binds), false).await?
        };
        return Ok(Rows {
            total,
            at_least: false,
            rows,
        });
    }
    let cap = SEARCH_COUNT.max(select.offset.max(0).saturating_add(select.limit.max(0)));
    let rows = window(store, listing, select, (&where_sql, &binds), by_set(&looks));
    let (rows, found) = if looks.iter().any(|l| matches!(l, Look::Row(_))) {
        // Many rows match: the window is full and the count needed. The witnesses prove the
        // count when they can; otherwise one read in order counts and finds the window, as
        // far as the count goes.
        match witnessed(store, listing, select, &looks, cap).await? {
            Some(found) => (rows.await?, found),
            None if select.offset.max(0) + select.limit.max(0) <= cap => {
                let found = walk(store, listing, select, (&where_sql, &binds), cap).await?;
                let rows = window_of(store, listing, select, &found).await?;
                (rows, found.len() as i64)
            }
            None => {
                futures_util::future::try_join(
                    rows,
                    count(store, listing, (&where_sql, &binds), Some(cap)),
                )
                .await?
            }
        }
    } else {
        // A few thousand rows at most: the window first, and when it is not full, the rows
        // before it and in it are all there are (the count would read them all again).
        let rows = rows.await?;
        let n = rows.len() as i64;
        if n < select.limit && (n > 0 || select.offset <= 0) {
            return Ok(Rows {
                total: select.offset.max(0) + n,
                at_least: false,
                rows,
            });
        }
        let found = search_count(store, listing, select, &looks, cap).await?;
        (rows, found)
    };
    Ok(Rows {
        total: found.min(cap),
        at_least: found > cap,
        rows,
    })
}

/// A search's matches, counted up to `cap` + 1.
async fn search_count(
    store: &Store,
    listing: &Listing,
    select: &Select,
    looks: &[Look],
    cap: i64,
) -> Result<i64, Error> {
    if let Some(found) = witnessed(store, listing, select, looks, cap).await? {
        return Ok(found);
    }
    let (where_sql, binds) = where_clause(listing, select, looks);
    count(store, listing, (&where_sql, &binds), Some(cap)).await
}

/// A count of more than `cap` proven by the witnesses of the parts read row by row
/// ([`Look::Row`]): as sets they find matches only, and when they find more than the cap the
/// listing need not be read (its matches may come after many rows that are not).
async fn witnessed(
    store: &Store,
    listing: &Listing,
    select: &Select,
    looks: &[Look],
    cap: i64,
) -> Result<Option<i64>, Error> {
    if !looks
        .iter()
        .any(|l| matches!(l, Look::Row(w) if !w.is_empty()))
    {
        return Ok(None);
    }
    let (where_sql, binds) = where_clause(listing, select, &witnesses(listing, looks));
    let n = count(store, listing, (&where_sql, &binds), Some(cap)).await?;
    Ok((n > cap).then_some(n))
}

/// The looks of a search with each part read row by row taken as the set its witnesses make
/// ([`Look::Row`]): rows that match, if not all of them.
fn witnesses(listing: &Listing, looks: &[Look]) -> Vec<Look> {
    let own = search_parts(listing).len()
        > listing
            .columns
            .iter()
            .filter(|c| c.search_in.is_some())
            .count();
    looks
        .iter()
        .enumerate()
        .map(|(at, look)| match look {
            Look::Row(w) if own && at == 0 => Look::Set(w.clone()),
            Look::Row(w) => Look::Found(w.clone()),
            other => other.clone(),
        })
        .collect()
}

/// The rows that meet a condition, counted up to `cap` + 1 when capped: of the first table
/// alone when the condition names nothing else.
async fn count(
    store: &Store,
    listing: &Listing,
    (where_sql, binds): (&str, &[Bound]),
    cap: Option<i64>,
) -> Result<i64, Error> {
    let first = first_table(listing.from);
    let counted = match alias_of(first) {
        Some(alias) if names_only(where_sql, alias) => first,
        _ => listing.from,
    };
    let sql = match cap {
        Some(cap) => format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {counted}{where_sql} LIMIT {}) AS found",
            cap + 1
        ),
        None => format!("SELECT COUNT(*) FROM {counted}{where_sql}"),
    };
    let sql = portable(store, &sql);
    bind_all(sqlx::query(&sql), binds)
        .fetch_one(store.pool())
        .await?
        .try_get(0)
}

/// A listing's SQL for the store's backend: on PostgreSQL without SQLite's `INDEXED BY <index>`
/// (a listing names the index of a correlated count, so that SQLite's statistics of a key one
/// value fills never have it read the whole index for each row shown).
fn portable<'a>(store: &Store, sql: &'a str) -> std::borrow::Cow<'a, str> {
    if store.backend() == Backend::Sqlite || !sql.contains(" INDEXED BY ") {
        return std::borrow::Cow::Borrowed(sql);
    }
    std::borrow::Cow::Owned(without_indexed_by(sql))
}

/// `sql` without its `INDEXED BY <name>` clauses.
fn without_indexed_by(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find(" INDEXED BY ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " INDEXED BY ".len()..];
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = &after[name_end..];
    }
    out.push_str(rest);
    out
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

/// The rowid of a `FROM` clause's first table, as its columns are named (`a.rowid`).
fn rowid_of(first: &str) -> String {
    alias_of(first).map_or_else(|| "rowid".to_owned(), |a| format!("{a}.rowid"))
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

/// A select's search as planned once ([`plan`]), for reading its rows page after page.
pub struct Planned(Vec<Look>);

/// Plans a select's search (nothing to plan without one).
pub async fn planned(store: &Store, listing: &Listing, select: &Select) -> Result<Planned, Error> {
    Ok(Planned(looks(store, listing, select).await?))
}

/// The rows in the window, without counting them, the search as planned beforehand (the CSV
/// export reads page after page: the index is asked once, not once a page).
pub async fn rows(
    store: &Store,
    listing: &Listing,
    select: &Select,
    planned: &Planned,
) -> Result<Vec<Vec<Value>>, Error> {
    let (where_sql, binds) = where_clause(listing, select, &planned.0);
    window(
        store,
        listing,
        select,
        (&where_sql, &binds),
        by_set(&planned.0),
    )
    .await
}

/// Whether every part of a search is a set of rowids found beforehand ([`Look::Set`], a few
/// thousand at most): then its window is sorted from those rows rather than found by reading
/// an index in order and testing each row against the sets.
fn by_set(looks: &[Look]) -> bool {
    !looks.is_empty()
        && looks
            .iter()
            .all(|l| matches!(l, Look::Set(_) | Look::Found(_)))
}

/// An order that no index serves (SQLite): each term behind a unary `+`, a no-op on its value.
fn unindexed(order: &str) -> String {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (at, ch) in order.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(order[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    terms.push(order[start..].trim());
    terms
        .iter()
        .map(|t| format!("+{t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The order a select reads its rows in: the listing's, or the column it is sorted by.
fn order_by(listing: &Listing, select: &Select) -> String {
    match select.sort {
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
    }
}

/// The rowids of the first [`SEARCH_COUNT`] + 1 rows that match (or to the end of the window,
/// if further), in the select's order: one read both counts a search and finds its window,
/// when its matches are many but not among the first rows (an agent's 12,500 dealers first).
async fn walk(
    store: &Store,
    listing: &Listing,
    select: &Select,
    (where_sql, binds): (&str, &[Bound]),
    cap: i64,
) -> Result<Vec<i64>, Error> {
    let order = order_by(listing, select);
    let first = first_table(listing.from);
    let from = match alias_of(first) {
        Some(alias) if names_only(where_sql, alias) && names_only(&order, alias) => first,
        _ => listing.from,
    };
    let rowid = rowid_of(first);
    let sql = format!(
        "SELECT {rowid} FROM {from}{where_sql} ORDER BY {order} LIMIT {}",
        cap + 1
    );
    integers(store, &sql, binds).await
}

/// The integers of a query's one column, in its rows' order. On SQLite they are read as one
/// text (`group_concat` over the query): each row of a result crosses from SQLite's thread to
/// the runtime on its own, and for the 2,000 rowids of a search that was most of its time.
async fn integers(store: &Store, sql: &str, binds: &[Bound]) -> Result<Vec<i64>, Error> {
    if store.backend() != Backend::Sqlite {
        let sql = portable(store, sql);
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(store.pool())
            .await?;
        return rows.iter().map(|r| r.try_get::<i64, _>(0)).collect();
    }
    // The query's rows reach the aggregate in their order (a co-routine, read once).
    let joined = format!("WITH each_(n_) AS ({sql}) SELECT group_concat(n_, ',') FROM each_");
    let text: Option<String> = bind_all(sqlx::query(&joined), binds)
        .fetch_one(store.pool())
        .await?
        .try_get(0)?;
    text.as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse()
                .map_err(|e| Error::Decode(format!("a rowid {n:?}: {e}").into()))
        })
        .collect()
}

/// The rows of a select's window among rowids found in its order ([`walk`]), read by rowid.
async fn window_of(
    store: &Store,
    listing: &Listing,
    select: &Select,
    found: &[i64],
) -> Result<Vec<Vec<Value>>, Error> {
    let start = usize::try_from(select.offset.max(0)).unwrap_or(usize::MAX);
    let take = usize::try_from(select.limit.max(0)).unwrap_or(0);
    let ids: Vec<i64> = found.iter().skip(start).take(take).copied().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let at = Select {
        limit: ids.len() as i64,
        offset: 0,
        ..select.clone()
    };
    let where_sql = format!(
        " WHERE {} IN ({})",
        rowid_of(first_table(listing.from)),
        rowids(&ids)
    );
    window(store, listing, &at, (&where_sql, &[]), true).await
}

async fn window(
    store: &Store,
    listing: &Listing,
    select: &Select,
    (where_sql, binds): (&str, &[Bound]),
    by_set: bool,
) -> Result<Vec<Vec<Value>>, Error> {
    let columns: Vec<&str> = listing.columns.iter().map(|c| c.sql).collect();
    let order = order_by(listing, select);
    let order = if by_set { unindexed(&order) } else { order };
    let (limit, offset) = (select.limit.max(0), select.offset.max(0));
    let sql = match deferred_join(listing.from, where_sql, &order, limit, offset) {
        Some(from) => format!("SELECT {} FROM {from} ORDER BY {order}", columns.join(", ")),
        _ => format!(
            "SELECT {} FROM {}{where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            columns.join(", "),
            listing.from,
        ),
    };
    let sql = portable(store, &sql);
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
    use super::{
        Bound, KEY_INDEX, Listing, Look, SEARCH_INDEX, alias_of, bare, deferred_join, first_table,
        followed, indexed, key_index, names_only, probe, search_condition, search_parts,
        searched_column, unindexed, without_indexed_by, witnesses,
    };
    use crate::store::{charging, heating, iot, meter, retail};

    const LISTINGS: &[&Listing] = &[
        &charging::console::RECORDS,
        &charging::console::DRIVERS,
        &charging::console::BOXES,
        &charging::console::TAGS,
        &heating::console::USERS,
        &heating::console::ACCOUNTS,
        &heating::console::BILLS,
        &heating::console::ORDERS,
        &heating::console::SEASONS,
        &retail::console::COMPANIES,
        &retail::console::ENTERPRISES,
        &retail::console::USERS,
        &retail::console::CONTRACTS,
        &retail::console::BILLS,
        &retail::console::FEEDBACK,
        &retail::console::ARTICLES,
        &retail::console::GUIDE,
        &retail::console::MONTHLY_USE,
        &iot::console::DEVICES,
        &iot::console::VENDORS,
        &iot::console::AGENTS,
        &iot::console::MEMBERS,
        &iot::console::ORDERS,
        &iot::console::TICKETS,
        &iot::console::COMMISSIONS,
        &iot::console::WITHDRAWALS,
        &meter::console::HOUSEHOLDS,
        &meter::console::ACCOUNTS,
        &meter::console::RECHARGES,
        &meter::console::CONSUMPTION,
    ];

    fn texts(binds: &[Bound]) -> Vec<&str> {
        binds
            .iter()
            .map(|b| match b {
                Bound::Text(t) => t.as_str(),
                Bound::Int(_) => "",
            })
            .collect()
    }

    #[test]
    fn every_searched_column_is_in_the_search_index_and_its_migrations() {
        for listing in LISTINGS {
            let first = first_table(listing.from);
            let table = first.split_whitespace().next().expect("a table");
            for c in listing.columns.iter().filter(|c| c.search) {
                let (t, column) = match c.search_in {
                    Some(via) => {
                        // Followed from the other table by the listing's own key.
                        assert_eq!(via.key.split('.').next(), alias_of(first), "{}", via.key);
                        assert!(key_index(table, bare(via.key)).is_some(), "{}", via.key);
                        (via.table, via.column)
                    }
                    None => (table, bare(searched_column(c.sql))),
                };
                assert!(indexed(t, column), "{t}.{column} (searched by {})", c.key);
            }
        }
        let sqlite = [
            include_str!("../../migrations/sqlite/0023_console_search.sql"),
            include_str!("../../migrations/sqlite/0024_console_boxes.sql"),
        ]
        .concat();
        let postgres = [
            include_str!("../../migrations/postgres/0023_console_search.sql"),
            include_str!("../../migrations/postgres/0024_console_boxes.sql"),
        ]
        .concat();
        for (table, columns) in SEARCH_INDEX {
            let fts = format!(
                "CREATE VIRTUAL TABLE {table}_fts USING fts5({}, content='{table}', tokenize='trigram');",
                columns.join(", ")
            );
            assert!(sqlite.contains(&fts), "{fts}");
            for column in *columns {
                let gin =
                    format!("CREATE INDEX {table}_trgm_{column} ON {table} USING gin ({column} ");
                assert!(postgres.contains(&gin), "{gin}");
            }
        }
    }

    #[test]
    fn a_part_few_rows_contain_is_looked_up_by_the_rowids_found() {
        let mut binds = Vec::new();
        let looks = [Look::Set(vec![3, 5]), Look::Found(vec![7])];
        let sql = search_condition(&heating::console::ORDERS, "138", &looks, &mut binds)
            .expect("searched");
        assert_eq!(
            sql,
            "(o.rowid IN (SELECT o.rowid FROM heating_orders o WHERE o.rowid IN (3,5) AND \
             (o.order_id LIKE $1 ESCAPE '\\' OR o.heat_account LIKE $1 ESCAPE '\\' OR \
             o.transaction_id LIKE $1 ESCAPE '\\') UNION ALL SELECT o.rowid FROM heating_orders \
             o WHERE o.rowid IN (7)))"
        );
        assert_eq!(texts(&binds), ["%138%"]);
        let mut binds = Vec::new();
        // A listing without an alias matches its rows by their bare rowid; empty sets match
        // nothing.
        let sql = search_condition(
            &heating::console::USERS,
            "张三丰",
            &[Look::Set(vec![1])],
            &mut binds,
        )
        .expect("searched");
        assert_eq!(
            sql,
            "(rowid IN (SELECT rowid FROM users WHERE rowid IN (1) AND (phone LIKE $1 ESCAPE \
             '\\' OR nickname LIKE $1 ESCAPE '\\' OR real_name LIKE $1 ESCAPE '\\')))"
        );
        let mut binds = Vec::new();
        let looks = [Look::Set(vec![]), Look::Found(vec![])];
        let sql = search_condition(&heating::console::ORDERS, "138", &looks, &mut binds)
            .expect("searched");
        assert_eq!(sql, "(0 = 1)");
        // The index is asked for the text as one phrase, a quote doubled; a long text by its
        // ends.
        assert_eq!(probe(&["a", "b"], "1\"2"), "{a b} : \"1\"\"2\"");
        assert_eq!(
            probe(&["a"], "DOCH\"000000000000001"),
            "{a} : (\"DOCH\"\"000\" AND \"00000001\")"
        );
        assert_eq!(
            probe(&["a"], "DOCH000000000001"),
            "{a} : (\"DOCH0000\" AND \"00000001\")"
        );
        assert_eq!(
            probe(&["a"], "DOCH00000000001"),
            "{a} : \"DOCH00000000001\""
        );
    }

    #[tokio::test]
    async fn each_key_index_is_on_its_table_and_key_first_in_a_migrated_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let store = crate::store::Store::connect(&url, 1)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        for (table, column, index) in KEY_INDEX {
            let on: Option<String> =
                sqlx::query_scalar("SELECT tbl_name FROM sqlite_master WHERE name = $1")
                    .bind(*index)
                    .fetch_optional(store.pool())
                    .await
                    .expect("read");
            assert_eq!(on.as_deref(), Some(*table), "{index}");
            let first: Option<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_index_info('{index}') WHERE seqno = 0"
            ))
            .fetch_optional(store.pool())
            .await
            .expect("read");
            assert_eq!(first.as_deref(), Some(*column), "{index}");
        }
        // Every index a listing's SQL names (`FROM <table> <alias> INDEXED BY <index>`) is
        // on that table, with the column the query compares first.
        let mut named = 0;
        for listing in LISTINGS {
            let sqls = std::iter::once(listing.from).chain(listing.columns.iter().map(|c| c.sql));
            for sql in sqls {
                // Written only as ` INDEXED BY <name>`, the form PostgreSQL's copy drops.
                assert_eq!(
                    sql.to_ascii_lowercase().matches("indexed by").count(),
                    sql.matches(" INDEXED BY ").count(),
                    "{sql}"
                );
                for (at, _) in sql.match_indices(" INDEXED BY ") {
                    let before: Vec<&str> = sql[..at].split_whitespace().rev().take(3).collect();
                    let (alias, table) = (before[0], before[1]);
                    let index: String = sql[at + " INDEXED BY ".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let on: Option<String> =
                        sqlx::query_scalar("SELECT tbl_name FROM sqlite_master WHERE name = $1")
                            .bind(&index)
                            .fetch_optional(store.pool())
                            .await
                            .expect("read");
                    assert_eq!(on.as_deref(), Some(table), "{index} in {sql}");
                    let first: String = sqlx::query_scalar(&format!(
                        "SELECT name FROM pragma_index_info('{index}') WHERE seqno = 0"
                    ))
                    .fetch_one(store.pool())
                    .await
                    .expect("read");
                    assert!(
                        sql.contains(&format!("{alias}.{first} = ")),
                        "{index} leads with {first}: {sql}"
                    );
                    named += 1;
                }
            }
        }
        assert_eq!(
            named, 5,
            "the correlated counts of drivers, households and accounts"
        );
        store.close().await;
    }

    #[test]
    fn postgresql_reads_a_listing_without_sqlites_index_names() {
        assert_eq!(
            without_indexed_by(
                "SELECT (SELECT COUNT(*) FROM t x INDEXED BY t_key WHERE x.k = u.k) FROM u \
                 INDEXED BY u_2"
            ),
            "SELECT (SELECT COUNT(*) FROM t x WHERE x.k = u.k) FROM u"
        );
        assert_eq!(without_indexed_by("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn another_tables_matches_are_followed_to_the_listings_rows_by_their_key() {
        let via = retail::console::FEEDBACK
            .columns
            .iter()
            .find_map(|c| c.search_in)
            .expect("a column searched in another table");
        let first = first_table(retail::console::FEEDBACK.from);
        // A short text reads the other table; a longer one asks its index. Either way each
        // match is tested by LIKE before its key is followed.
        assert_eq!(
            followed(first, via, "12"),
            (
                "SELECT f.rowid FROM (SELECT rowid AS found_ FROM retail_users WHERE phone LIKE \
                 $1 ESCAPE '\\') AS part_ CROSS JOIN retail_users AS via_ CROSS JOIN \
                 retail_feedback AS f INDEXED BY retail_feedback_user WHERE via_.rowid = \
                 part_.found_ AND via_.phone LIKE $2 ESCAPE '\\' AND f.user_id = via_.id"
                    .to_owned(),
                "%12%".to_owned()
            )
        );
        let (sql, bound) = followed(first, via, "138");
        assert!(
            sql.starts_with(
                "SELECT f.rowid FROM (SELECT rowid AS found_ FROM retail_users_fts WHERE \
                 retail_users_fts MATCH $1) AS part_"
            ),
            "{sql}"
        );
        assert_eq!(bound, "{phone} : \"138\"");
        // Witnesses stand for the sets they were collected as: the listing's own candidates,
        // or the rows another table's matches were followed to.
        let looks = [Look::Row(vec![1, 2]), Look::Row(vec![3]), Look::Like];
        assert_eq!(
            witnesses(&heating::console::ORDERS, &looks),
            [Look::Set(vec![1, 2]), Look::Found(vec![3]), Look::Like]
        );
        assert_eq!(
            witnesses(&retail::console::CONTRACTS, &looks),
            [Look::Set(vec![1, 2]), Look::Found(vec![3]), Look::Like]
        );
    }

    #[test]
    fn other_parts_are_like_on_the_bare_columns_by_semi_join_or_row_by_row() {
        let mut binds = Vec::new();
        let looks = [Look::Like, Look::Like];
        let sql = search_condition(&heating::console::ORDERS, "1%", &looks, &mut binds)
            .expect("searched");
        assert_eq!(
            sql,
            "(o.order_id LIKE $1 ESCAPE '\\' OR o.heat_account LIKE $1 ESCAPE '\\' OR \
             o.transaction_id LIKE $1 ESCAPE '\\' OR o.user_id IN (SELECT id FROM users \
             WHERE phone LIKE $1 ESCAPE '\\'))"
        );
        assert_eq!(texts(&binds), ["%1\\%%"]);
        // Parts mix: a set, and another table's column row by row, through the listing's join.
        let mut binds = Vec::new();
        let looks = [Look::Set(vec![4]), Look::Row(vec![9])];
        let sql = search_condition(&heating::console::ORDERS, "138", &looks, &mut binds)
            .expect("searched");
        assert_eq!(
            sql,
            "(o.rowid IN (SELECT o.rowid FROM heating_orders o WHERE o.rowid IN (4) AND \
             (o.order_id LIKE $1 ESCAPE '\\' OR o.heat_account LIKE $1 ESCAPE '\\' OR \
             o.transaction_id LIKE $1 ESCAPE '\\')) OR COALESCE(u.phone, '') LIKE $1 ESCAPE \
             '\\')"
        );
        assert_eq!(texts(&binds), ["%138%"]);
    }

    #[test]
    fn a_listings_search_parts_are_its_own_columns_then_each_other_table() {
        assert_eq!(
            search_parts(&heating::console::ORDERS),
            [
                (
                    "heating_orders",
                    vec!["order_id", "heat_account", "transaction_id"]
                ),
                ("users", vec!["phone"])
            ]
        );
        assert_eq!(
            search_parts(&retail::console::MONTHLY_USE),
            [
                ("retail_monthly_use", vec!["enterprise_code"]),
                ("retail_enterprises", vec!["name"])
            ]
        );
    }

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
    fn an_unindexed_order_puts_a_plus_before_each_term() {
        assert_eq!(unindexed("k.contract_id"), "+k.contract_id");
        assert_eq!(
            unindexed("COALESCE(o.transaction_id, '') DESC NULLS LAST, o.order_id DESC"),
            "+COALESCE(o.transaction_id, '') DESC NULLS LAST, +o.order_id DESC"
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
