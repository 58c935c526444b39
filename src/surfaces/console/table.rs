//! The console's tables: a page of a [`Table`] as the reader may see it, with its search box,
//! sortable headers, pager and CSV export, as one view the templates render
//! (`templates/console/table.html`).

use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};

use super::Fail;
use super::i18n::Lang;
use super::session::Session;
use crate::domain::Zone;
use crate::domain::money::Fen;
use crate::domain::records::Rows;
use crate::domain::records::{Ask, Cell, Filter, Kind, Table};
use crate::domain::time::Timestamp;
use crate::surfaces::AppState;

/// Rows per page unless asked.
pub const PAGE_SIZE: i64 = 20;
/// Most rows one CSV export writes.
pub const EXPORT_CAP: i64 = 1_000_000;

/// A table page's query: `?q=&sort=&order=desc&page=&size=&format=csv`, plus whatever else the
/// page reads (its own filters). Bad values are ignored, never an error.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub q: String,
    pub sort: Option<String>,
    pub desc: bool,
    pub page: i64,
    pub size: i64,
    pub csv: bool,
    pub all: Vec<(String, String)>,
}

impl Params {
    pub fn of(uri: &Uri) -> Params {
        let all: Vec<(String, String)> = uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let get = |k: &str| {
            all.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
        };
        Params {
            q: get("q").unwrap_or_default().chars().take(100).collect(),
            sort: get("sort").filter(|s| !s.is_empty()),
            desc: get("order").is_some_and(|o| o == "desc"),
            page: get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .clamp(1, 1_000_000),
            size: get("size")
                .and_then(|p| p.parse().ok())
                .unwrap_or(PAGE_SIZE)
                .clamp(1, crate::domain::records::MAX_PAGE),
            csv: get("format").is_some_and(|f| f == "csv"),
            all,
        }
    }

    /// A parameter the page reads itself.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// What to ask the records for, with the page's own filters.
    pub fn ask(&self, filters: Vec<Filter>) -> Ask {
        Ask {
            search: Some(self.q.clone()).filter(|q| !q.is_empty()),
            sort: self.sort.clone(),
            descending: self.desc,
            page: self.page,
            size: self.size,
            filters,
        }
    }

    /// This query with some parameters changed (`None` removes one), as `path?query`.
    pub fn link(&self, path: &str, changes: &[(&str, Option<String>)]) -> String {
        let mut kept: Vec<(String, String)> = self
            .all
            .iter()
            .filter(|(k, _)| {
                k != "ok" && k != "err" && k != "format" && !changes.iter().any(|(c, _)| c == k)
            })
            .cloned()
            .collect();
        for (k, v) in changes {
            if let Some(v) = v {
                kept.push(((*k).to_owned(), v.clone()));
            }
        }
        if kept.is_empty() {
            path.to_owned()
        } else {
            format!(
                "{path}?{}",
                serde_urlencoded::to_string(&kept).unwrap_or_default()
            )
        }
    }
}

/// A column header.
pub struct Header {
    pub label: &'static str,
    /// The link that sorts by it (none: not sortable).
    pub href: Option<String>,
    /// `▲`, `▼` or nothing.
    pub arrow: &'static str,
}

/// A shown cell.
pub struct CellView {
    pub text: String,
    pub href: Option<String>,
    /// A CSS class (`num`, `muted`, `tag-ok`, `tag-bad`).
    pub class: &'static str,
}

/// A button on a row: a form posted to `url`.
pub struct Action {
    pub label: &'static str,
    pub url: String,
    /// Asks before posting.
    pub confirm: bool,
    pub danger: bool,
    /// Hidden fields besides `_csrf` and `_back`.
    pub fields: Vec<(String, String)>,
}

impl Action {
    pub fn post(lang: Lang, label: &str, url: String) -> Action {
        Action {
            label: lang.t(label),
            url,
            confirm: true,
            danger: false,
            fields: Vec::new(),
        }
    }
    pub fn danger(mut self) -> Action {
        self.danger = true;
        self
    }
    pub fn field(mut self, name: &str, value: impl Into<String>) -> Action {
        self.fields.push((name.to_owned(), value.into()));
        self
    }
}

/// A shown row: its cells, its buttons, and the values read (for the page's own links).
pub struct RowView {
    pub cells: Vec<CellView>,
    pub actions: Vec<Action>,
    pub raw: Vec<Cell>,
}

impl RowView {
    /// The text of a raw value (by column index).
    pub fn text(&self, i: usize) -> &str {
        self.raw.get(i).and_then(Cell::as_str).unwrap_or("")
    }
    pub fn int(&self, i: usize) -> Option<i64> {
        self.raw.get(i).and_then(Cell::as_i64)
    }
}

/// A table page.
pub struct TableView {
    pub path: String,
    pub headers: Vec<Header>,
    pub rows: Vec<RowView>,
    /// How many rows match, "1000+" when a search counted only so far.
    pub total: String,
    pub page: i64,
    /// How many pages, "50+" likewise.
    pub pages: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub csv: String,
    pub q: String,
    pub searchable: bool,
    /// The page's own parameters, kept by the search form.
    pub hidden: Vec<(String, String)>,
    pub has_actions: bool,
}

impl TableView {
    /// The view of a page of rows.
    pub fn new(
        lang: Lang,
        zone: Zone,
        path: &str,
        table: &Table,
        params: &Params,
        found: Rows,
    ) -> TableView {
        let headers = table
            .columns
            .iter()
            .map(|c| {
                let sorted = params.sort.as_deref() == Some(c.key);
                let href = c.sort.then(|| {
                    let desc = sorted && !params.desc;
                    params.link(
                        path,
                        &[
                            ("sort", Some(c.key.to_owned())),
                            ("order", Some(if desc { "desc" } else { "asc" }.to_owned())),
                            ("page", None),
                        ],
                    )
                });
                Header {
                    label: lang.t(c.key),
                    href,
                    arrow: match (sorted, params.desc) {
                        (true, false) => "▲",
                        (true, true) => "▼",
                        _ => "",
                    },
                }
            })
            .collect();
        let rows = found
            .rows
            .into_iter()
            .map(|raw| RowView {
                cells: table
                    .columns
                    .iter()
                    .zip(&raw)
                    .map(|(c, v)| CellView {
                        text: show(lang, zone, c.kind, v),
                        href: None,
                        class: match c.kind {
                            Kind::Int | Kind::Fen => "num",
                            _ => "",
                        },
                    })
                    .collect(),
                actions: Vec::new(),
                raw,
            })
            .collect();
        let pages = ((found.total + params.size - 1) / params.size).max(1);
        let page = params.page;
        let hidden = params
            .all
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "q" | "page" | "ok" | "err" | "format" | "lang"))
            .cloned()
            .collect();
        TableView {
            path: path.to_owned(),
            headers,
            rows,
            total: more(found.total, found.at_least),
            page,
            pages: more(pages, found.at_least),
            prev: (page > 1).then(|| params.link(path, &[("page", Some((page - 1).to_string()))])),
            next: (page < pages || found.at_least)
                .then(|| params.link(path, &[("page", Some((page + 1).to_string()))])),
            csv: params.link(path, &[("format", Some("csv".into())), ("page", None)]),
            q: params.q.clone(),
            searchable: table.columns.iter().any(|c| c.search),
            hidden,
            has_actions: false,
        }
    }

    /// Call after adding actions: shows the actions column when any row has one.
    pub fn finish(mut self) -> TableView {
        self.has_actions = self.rows.iter().any(|r| !r.actions.is_empty());
        self
    }
}

/// A count, with a "+" when there are more.
fn more(n: i64, at_least: bool) -> String {
    if at_least {
        format!("{n}+")
    } else {
        n.to_string()
    }
}

/// A value as the page shows it.
pub fn show(lang: Lang, zone: Zone, kind: Kind, v: &Cell) -> String {
    match (kind, v) {
        (_, Cell::Null) => String::new(),
        (Kind::Fen, Cell::Int(f)) => Fen(*f).yuan_string(),
        (Kind::Time, Cell::Int(ms)) => Timestamp::from_millis(*ms).local_datetime(zone),
        (Kind::Flag, Cell::Int(b)) => lang.t(if *b != 0 { "yes" } else { "no" }).to_owned(),
        (Kind::Profile, Cell::Text(t)) => super::iot::name_of(t),
        (_, Cell::Int(i)) => i.to_string(),
        (_, Cell::Text(t)) => t.clone(),
    }
}

/// A list as its page asks for it (`?format=csv`: the whole list as CSV).
pub enum Listed {
    Csv(Response),
    /// The page of rows, to be decorated and shown.
    Table(TableView),
}

/// The list `table` under the page's own parameters (search, sort, page) and `filters`: its
/// CSV, or its page of rows as a view linking back to this page.
pub async fn listed(
    state: &AppState,
    session: &Session,
    table: &'static Table,
    filters: Vec<Filter>,
    csv_name: &str,
) -> Result<Listed, Fail> {
    let params = Params::of(&session.uri);
    let ask = params.ask(filters);
    if params.csv {
        return Ok(Listed::Csv(
            csv(state, session, table, &ask, csv_name).await?,
        ));
    }
    let found = state.records.page(&session.reader(), table, &ask).await?;
    Ok(Listed::Table(TableView::new(
        session.lang,
        state.records.zone(),
        session.uri.path(),
        table,
        &params,
        found,
    )))
}

/// The whole table (every matching row the reader may see) as CSV, in the page's language,
/// with a byte-order mark so that spreadsheet programs read the Chinese right. A cell that a
/// spreadsheet would take for a formula is written with a leading `'`.
pub async fn csv(
    state: &AppState,
    session: &Session,
    table: &Table,
    ask: &Ask,
    name: &str,
) -> Result<Response, Fail> {
    let lang = session.lang;
    let zone = state.records.zone();
    let mut out = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
    out.write_record(table.columns.iter().map(|c| lang.t(c.key)))
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let mut failed = None;
    state
        .records
        .export(&session.reader(), table, ask, EXPORT_CAP, |batch| {
            for row in batch {
                let cells = table.columns.iter().zip(&row).map(|(c, v)| {
                    let text = show(lang, zone, c.kind, v);
                    if text.starts_with(['=', '+', '-', '@', '\t', '\r'])
                        && !matches!(c.kind, Kind::Int | Kind::Fen)
                    {
                        format!("'{text}")
                    } else {
                        text
                    }
                });
                if let Err(e) = out.write_record(cells) {
                    failed = Some(e);
                }
            }
        })
        .await?;
    if let Some(e) = failed {
        return Err(Fail::Internal(e.to_string()));
    }
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(
        out.into_inner()
            .map_err(|e| Fail::Internal(e.to_string()))?,
    );
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Words of the tables, and of the columns several areas show.
pub const WORDS: &[(&str, &str, &str)] = &[
    ("search", "搜索", "Search"),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("total_rows", "共", "Total"),
    ("rows_unit", "条", "rows"),
    ("page_of", "页", "page"),
    ("prev_page", "上一页", "Previous"),
    ("next_page", "下一页", "Next"),
    ("no_rows", "没有记录", "No rows"),
    ("actions", "操作", "Actions"),
    ("id", "编号", "ID"),
    ("name", "名称", "Name"),
    ("phone", "手机号", "Phone"),
    ("mobile", "手机号", "Mobile"),
    ("state", "状态", "State"),
    ("status", "状态", "Status"),
    ("type", "类型", "Type"),
    ("amount", "金额（元）", "Amount (yuan)"),
    ("balance", "余额（元）", "Balance (yuan)"),
    ("created_at", "创建时间", "Created"),
    ("updated_at", "更新时间", "Updated"),
    ("paid_at", "支付时间", "Paid"),
    ("address", "地址", "Address"),
    ("disabled", "已停用", "Disabled"),
    ("vendor", "厂商", "Vendor"),
    ("agent", "代理商", "Agent"),
    ("dealer", "经销商", "Dealer"),
    ("member", "会员", "Member"),
    ("title", "标题", "Title"),
    ("content", "内容", "Content"),
    ("date", "日期", "Date"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_ignore_bad_values_and_links_keep_the_rest() {
        let uri: Uri = "/console/x?q=%E5%BC%A0&page=abc&size=99999&sort=name&order=desc&kind=1"
            .parse()
            .expect("uri");
        let p = Params::of(&uri);
        assert_eq!(p.q, "张");
        assert_eq!(p.page, 1);
        assert_eq!(p.size, crate::domain::records::MAX_PAGE);
        assert!(p.desc);
        assert_eq!(p.get("kind"), Some("1"));
        let next = p.link("/console/x", &[("page", Some("2".into()))]);
        assert!(next.contains("kind=1") && next.contains("page=2") && next.contains("sort=name"));
    }
}
