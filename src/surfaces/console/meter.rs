//! The console's meter area (seed 003): households with their balance and meters, the API
//! accounts (create, enable, disable), readings uploaded as CSV, recharges and consumption by
//! date.
//!
//! Changes call the same service methods as the admin API (`surfaces/admin/meter.rs`). A
//! readings file (`tableNo,reading,readTime`, as `POST /admin/v1/meter/readings` takes them) is
//! one batch for `Meter::record_readings`: all or nothing; its error names the file's line.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::heating::{
    FilterField, IMPORT_LIMIT, by_day, date_filter, filtered_page, line_message, upload,
};
use super::session::Session;
use super::table::{Action, Params, TableView};
use super::{
    Chrome, Fail, ListSpec, Page, Tab, after, back_of, chart, done, html, list_page, message,
    percent, posted, tabs,
};
use crate::domain::Error;
use crate::domain::meter::ReadingInput;
use crate::domain::money::Fen;
use crate::domain::records::tables::meter as lists;
use crate::domain::records::{Cell, Filter, Hourly, Table};
use crate::domain::time::Timestamp;
use crate::surfaces::AppState;

const TABS: &[(&str, &str)] = &[
    ("meter_tab_households", "/console/meter/households"),
    ("meter_tab_accounts", "/console/meter/accounts"),
    ("meter_tab_readings", "/console/meter/readings"),
    ("meter_tab_recharges", "/console/meter/recharges"),
    ("meter_tab_consumption", "/console/meter/consumption"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/meter/households", get(households))
        .route("/meter/households/{code}", get(household))
        .route("/meter/accounts", get(accounts).post(create_account))
        .route("/meter/accounts/{name}/enable", post(enable_account))
        .route("/meter/accounts/{name}/disable", post(disable_account))
        .route(
            "/meter/readings",
            get(readings_page)
                .post(readings)
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/meter/recharges", get(recharges))
        .route("/meter/consumption", get(consumption))
}

fn spec(
    title: &'static str,
    table: &'static Table,
    filters: Vec<Filter>,
    csv: &'static str,
) -> ListSpec {
    ListSpec {
        area: "area_meter",
        title,
        tabs: TABS,
        table,
        filters,
        csv_name: csv,
    }
}

fn household_link(view: &mut TableView, column: usize) {
    for row in &mut view.rows {
        let code = row.text(column).to_owned();
        row.cells[column].href = Some(format!("/console/meter/households/{}", percent(&code)));
    }
}

async fn households(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let s = spec(
        "meter_tab_households",
        &lists::HOUSEHOLDS,
        Vec::new(),
        "meter-households",
    );
    list_page(&state, &session, s, |view| household_link(view, 0)).await
}

/// A meter as the household page shows it.
struct MeterLine {
    table_no: String,
    kind: &'static str,
    reading: String,
    read_time: String,
}

#[derive(Template)]
#[template(path = "console/meter_household.html")]
struct HouseholdPage {
    c: Chrome,
    tabs: Vec<Tab>,
    facts: Vec<(&'static str, String)>,
    meters: Vec<MeterLine>,
    recharges: Vec<(String, String, String)>,
    all_recharges: String,
}

async fn household(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let zone = state.settings.zone;
    let (account, h, meters) = state.meter.household_any(&code).await?;
    let facts = vec![
        ("meter_user_code", h.user_code.clone()),
        ("meter_user_name", h.user_name.clone()),
        ("meter_account", account),
        ("meter_build_code", h.build_code.clone()),
        ("address", h.address.clone()),
        (
            "meter_house_number",
            h.house_number.clone().unwrap_or_default(),
        ),
        ("balance", h.balance.yuan_string()),
    ];
    let meters = meters
        .iter()
        .map(|m| MeterLine {
            table_no: m.table_no.clone(),
            kind: lang.t(if m.table_type % 2 == 1 {
                "meter_electricity"
            } else {
                "meter_water"
            }),
            reading: Fen(m.reading).yuan_string(),
            read_time: m
                .read_time
                .map(|t| t.local_datetime(zone))
                .unwrap_or_default(),
        })
        .collect();
    let ask = crate::domain::records::Ask {
        page: 1,
        size: 10,
        filters: vec![Filter::Equals(
            "meter_user_code",
            Cell::Text(h.user_code.clone()),
        )],
        ..Default::default()
    };
    let found = state
        .records
        .page(&session.reader(), &lists::RECHARGES, &ask)
        .await?;
    let recharges = found
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or("").to_owned(),
                Fen(r[4].as_i64().unwrap_or(0)).yuan_string(),
                r[5].as_i64()
                    .map(|t| Timestamp::from_millis(t).local_datetime(zone))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut c = Chrome::new(&session, "area_meter", "meter_household_title");
    c.title = format!("{} {}", c.title, h.user_code);
    Ok(html(
        lang,
        &HouseholdPage {
            c,
            tabs: tabs(lang, TABS, "/console/meter/households"),
            facts,
            meters,
            recharges,
            all_recharges: format!("/console/meter/recharges?q={}", percent(&h.user_code)),
        },
    ))
}

#[derive(Template)]
#[template(path = "console/meter_accounts.html")]
struct AccountsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    table: TableView,
    name: String,
    error: Option<(String, String)>,
}

impl AccountsPage {
    fn error_of(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn accounts_view(
    state: &AppState,
    session: &Session,
    name: String,
    error: Option<(String, String)>,
) -> Page {
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let ask = params.ask(Vec::new());
    if params.csv {
        return super::table::csv(state, session, &lists::ACCOUNTS, &ask, "meter-accounts").await;
    }
    let found = state
        .records
        .page(&session.reader(), &lists::ACCOUNTS, &ask)
        .await?;
    let path = "/console/meter/accounts";
    let mut table = TableView::new(
        lang,
        state.records.zone(),
        path,
        &lists::ACCOUNTS,
        &params,
        found,
    );
    for row in &mut table.rows {
        let name = row.text(0).to_owned();
        let enabled = row.int(1) == Some(1);
        row.cells[1].class = if enabled { "tag-ok" } else { "tag-bad" };
        row.actions.push(if enabled {
            Action::post(
                lang,
                "meter_disable",
                format!("{path}/{}/disable", percent(&name)),
            )
            .danger()
        } else {
            Action::post(
                lang,
                "meter_enable",
                format!("{path}/{}/enable", percent(&name)),
            )
        });
    }
    let rejected = error.is_some();
    let mut page = AccountsPage {
        c: Chrome::new(session, "area_meter", "meter_tab_accounts"),
        tabs: tabs(lang, TABS, path),
        table: table.finish(),
        name,
        error,
    };
    if rejected {
        page.c.err = Some(lang.t("heat_fix_errors").to_owned());
    }
    let mut res = html(lang, &page);
    if rejected {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn accounts(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    accounts_view(&state, &session, String::new(), None).await
}

async fn create_account(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let name = fields.text("admin_user_name").to_owned();
    let password = fields.get("api_password").unwrap_or("");
    match state.meter.create_account(&name, password).await {
        Ok(()) => {
            tracing::info!(operator = %session.name(), account = %name, "console: meter API account created");
            Ok(after(&back_of(&fields), true, session.lang.t("done")))
        }
        Err(e @ (Error::Internal(_) | Error::Unavailable { .. })) => Err(Fail::from(e)),
        Err(Error::Invalid(i)) => {
            let error = (i.field.to_owned(), i.message.clone());
            accounts_view(&state, &session, name, Some(error)).await
        }
        Err(e) => {
            let error = ("admin_user_name".to_owned(), message(session.lang, &e));
            accounts_view(&state, &session, name, Some(error)).await
        }
    }
}

async fn set_account(
    state: AppState,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
    name: String,
    enabled: bool,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.meter.set_account_enabled(&name, enabled).await;
    if result.is_ok() {
        tracing::info!(operator = %session.name(), account = %name, enabled, "console: meter account changed");
    }
    Ok(done(session.lang, &fields, result))
}

async fn enable_account(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    set_account(state, session, headers, body, name, true).await
}

async fn disable_account(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    set_account(state, session, headers, body, name, false).await
}

#[derive(Template)]
#[template(path = "console/meter_readings.html")]
struct ReadingsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    counts: Vec<(&'static str, usize)>,
    errors: Vec<String>,
}

fn readings_view(
    session: &Session,
    counts: Vec<(&'static str, usize)>,
    errors: Vec<String>,
) -> Response {
    let rejected = !errors.is_empty();
    let mut res = html(
        session.lang,
        &ReadingsPage {
            c: Chrome::new(session, "area_meter", "meter_tab_readings"),
            tabs: tabs(session.lang, TABS, "/console/meter/readings"),
            counts,
            errors,
        },
    );
    if rejected {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

async fn readings_page(session: Session) -> Page {
    session.operator_only()?;
    Ok(readings_view(&session, Vec::new(), Vec::new()))
}

/// The batch's error with the file's line for the domain's `#n` (the n-th reading).
fn reading_error(lang: super::i18n::Lang, lines: &[u64], e: &Error) -> String {
    if let Error::Invalid(i) = e {
        if let Some(rest) = i.message.strip_prefix('#') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Some(line) = digits
                .parse::<usize>()
                .ok()
                .and_then(|n| lines.get(n.checked_sub(1)?))
            {
                let at = lang.t("heat_line").replace("{}", &line.to_string());
                return format!("{at}:{}", &rest[digits.len()..]);
            }
        }
    }
    line_message(lang, e)
}

async fn readings(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    form: Multipart,
) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let bytes = upload(&session, &headers, form).await?;
    let rows = match crate::domain::heating::import::read_csv_rows(
        &bytes,
        &["tableNo", "reading", "readTime"],
        &[],
    ) {
        Ok(rows) => rows,
        Err(e) => {
            return Ok(readings_view(
                &session,
                Vec::new(),
                vec![line_message(lang, &e)],
            ));
        }
    };
    let (lines, batch): (Vec<u64>, Vec<ReadingInput>) = rows
        .into_iter()
        .map(|(line, mut r)| {
            let mut take = |k: &str| r.remove(k).unwrap_or_default();
            (
                line,
                ReadingInput {
                    table_no: take("tableNo"),
                    reading: take("reading"),
                    read_time: take("readTime"),
                },
            )
        })
        .unzip();
    match state.meter.record_readings(&batch).await {
        Ok(report) => {
            tracing::info!(operator = %session.name(), applied = report.applied, "console: meter readings recorded");
            Ok(readings_view(
                &session,
                vec![
                    ("heat_rows", batch.len()),
                    ("meter_applied", report.applied),
                    ("heat_unchanged", report.unchanged),
                ],
                Vec::new(),
            ))
        }
        Err(e @ (Error::Internal(_) | Error::Unavailable { .. })) => Err(Fail::from(e)),
        Err(e) => Ok(readings_view(
            &session,
            Vec::new(),
            vec![reading_error(lang, &lines, &e)],
        )),
    }
}

/// The `from`/`to` dates of a page: the filters on a time column, and the fields to show.
fn date_range(
    session: &Session,
    state: &AppState,
    column: &'static str,
    hours: bool,
) -> (
    Option<time::Date>,
    Option<time::Date>,
    Vec<Filter>,
    Vec<FilterField>,
) {
    let zone = state.settings.zone;
    let (from, from_field) = date_filter(session, "from", "meter_from");
    let (to, to_field) = date_filter(session, "to", "meter_to");
    let scale = if hours { 3_600_000 } else { 1 };
    let mut filters = Vec::new();
    if let Some(d) = from {
        filters.push(Filter::AtLeast(
            column,
            Timestamp::start_of_local_date(d, zone).millis() / scale,
        ));
    }
    if let Some(d) = to {
        filters.push(Filter::Below(
            column,
            Timestamp::start_of_local_date(d, zone)
                .plus_secs(86_400)
                .millis()
                / scale,
        ));
    }
    (from, to, filters, vec![from_field, to_field])
}

async fn recharges(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let (_, _, filters, fields) = date_range(&session, &state, "created_at", false);
    let s = spec(
        "meter_tab_recharges",
        &lists::RECHARGES,
        filters,
        "meter-recharges",
    );
    filtered_page(&state, &session, s, fields, None, |view| {
        household_link(view, 2)
    })
    .await
}

/// Most days the consumption chart shows.
const CHART_DAYS: i64 = 92;

async fn consumption(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let zone = state.settings.zone;
    let (from, to, filters, fields) = date_range(&session, &state, "meter_read_time", false);
    // The chart's days: the ones asked for, else up to the last reading's; at most CHART_DAYS,
    // read by hour from that window alone.
    let span = state.records.reading_span().await?;
    let last = to.or_else(|| span.map(|(_, b)| b.local_calendar_date(zone)));
    let chart = match last {
        Some(last) => {
            let earliest = last - time::Duration::days(CHART_DAYS - 1);
            let first = from
                .or_else(|| span.map(|(a, _)| a.local_calendar_date(zone)))
                .unwrap_or(last)
                .max(earliest)
                .min(last);
            let hours = state
                .records
                .hourly(
                    &session.reader(),
                    Hourly::MeterUse,
                    Timestamp::start_of_local_date(first, zone),
                    Timestamp::start_of_local_date(last, zone).plus_secs(86_400),
                )
                .await?;
            let days = by_day::<2>(zone, &hours, first, last);
            let points: Vec<(String, i64)> = days.into_iter().map(|(d, v)| (d, v[1])).collect();
            Some(chart::bars(lang.t("meter_chart_daily"), &points, &|v| {
                Fen(v).yuan_string()
            }))
        }
        None => None,
    };
    let s = spec(
        "meter_tab_consumption",
        &lists::CONSUMPTION,
        filters,
        "meter-consumption",
    );
    filtered_page(&state, &session, s, fields, chart, |view| {
        household_link(view, 1)
    })
    .await
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("meter_tab_households", "住户", "Households"),
    ("meter_tab_accounts", "API 账户", "API accounts"),
    ("meter_tab_readings", "抄表导入", "Readings upload"),
    ("meter_tab_recharges", "充值记录", "Recharges"),
    ("meter_tab_consumption", "用量", "Consumption"),
    ("meter_household_title", "住户", "Household"),
    ("meter_user_code", "用户编号", "User code"),
    ("meter_user_name", "用户名称", "User name"),
    ("meter_account", "API 账户", "API account"),
    ("meter_build_code", "楼栋编码", "Building code"),
    ("meter_house_number", "门牌号", "House number"),
    ("meter_count", "表数", "Meters"),
    ("meter_table_no", "表号", "Meter number"),
    ("meter_api_enabled", "API 权限", "API enabled"),
    ("meter_households", "住户数", "Households"),
    ("meter_enable", "启用", "Enable"),
    ("meter_disable", "停用", "Disable"),
    ("meter_create_account", "新建 API 账户", "New API account"),
    ("meter_password", "API 密码", "API password"),
    ("meter_create", "创建", "Create"),
    ("meter_out_trade_no", "充值单号", "Recharge number"),
    ("meter_read_time", "抄表时间", "Read at"),
    ("meter_last_reading", "上次读数", "Last reading"),
    ("meter_reading", "本次读数", "Reading"),
    ("meter_used", "用量", "Used"),
    ("meter_from", "开始日期", "From"),
    ("meter_to", "结束日期", "To"),
    (
        "meter_chart_daily",
        "每日用量金额（元）",
        "Consumption per day (yuan)",
    ),
    ("meter_meters", "表计", "Meters"),
    ("meter_type", "类型", "Type"),
    ("meter_electricity", "电表", "Electricity"),
    ("meter_water", "水表", "Water"),
    ("meter_recent_recharges", "最近充值", "Recent recharges"),
    ("meter_all_recharges", "全部充值记录", "All recharges"),
    (
        "meter_readings_columns",
        "列：tableNo,reading,readTime（读数最多两位小数，时间 YYYY-MM-DD HH:MM:SS）",
        "Columns: tableNo,reading,readTime (reading with at most two decimals, time YYYY-MM-DD HH:MM:SS)",
    ),
    ("meter_readings_done", "读数已记录", "Readings recorded"),
    ("meter_applied", "已应用", "Applied"),
];
