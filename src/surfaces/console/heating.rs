//! The console's heating area (seed 001): the mini-program's users (disable, enable), heat
//! accounts with their bills (unbind), all bills, CSV imports of accounts and bills, payment
//! orders, the agreements and system configuration, and season statistics.
//!
//! Every change calls the same service method as the admin API's handler for it
//! (`surfaces/admin/handlers.rs`, `surfaces/admin/heating.rs`). An import is all or nothing, as
//! the domain makes it: a rejected file is shown again with its line-numbered error (422).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::session::{self, Session};
use super::table::{Action, Listed, Params, TableView};
use super::{
    Chrome, Fail, Fields, ListSpec, Page, Tab, after, back_of, chart, done, html, list_page,
    message, percent, posted, tabs,
};
use crate::domain::Error;
use crate::domain::heating::content::{
    AGREEMENT_KINDS, Agreement, AgreementEdit, SystemConfig, SystemConfigEdit,
};
use crate::domain::heating::import::ImportReport;
use crate::domain::money::Fen;
use crate::domain::records::tables::heating as lists;
use crate::domain::records::{Ask, Cell, Filter, Hourly, Table};
use crate::domain::time::{Timestamp, date_string};
use crate::surfaces::AppState;

/// Largest CSV file an import page takes (as the admin import endpoints).
pub(super) const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

const TABS: &[(&str, &str)] = &[
    ("heat_tab_users", "/console/heating/users"),
    ("heat_tab_accounts", "/console/heating/accounts"),
    ("heat_tab_bills", "/console/heating/bills"),
    ("heat_tab_import", "/console/heating/import"),
    ("heat_tab_orders", "/console/heating/orders"),
    ("heat_tab_config", "/console/heating/config"),
    ("heat_tab_stats", "/console/heating/stats"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/heating/users", get(users))
        .route("/heating/users/{id}/disable", post(disable_user))
        .route("/heating/users/{id}/enable", post(enable_user))
        .route("/heating/accounts", get(accounts))
        .route("/heating/accounts/{number}", get(account))
        .route("/heating/accounts/{number}/unbind", post(unbind))
        .route("/heating/bills", get(bills))
        .route("/heating/import", get(import_page))
        .route(
            "/heating/import/{what}",
            post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/heating/orders", get(orders))
        .route("/heating/config", get(config))
        .route("/heating/config/agreements/{kind}", post(edit_agreement))
        .route("/heating/config/system", post(edit_system))
        .route("/heating/stats", get(stats))
}

fn spec(
    title: &'static str,
    table: &'static Table,
    filters: Vec<Filter>,
    csv: &'static str,
) -> ListSpec {
    ListSpec {
        area: "area_heating",
        title,
        tabs: TABS,
        table,
        filters,
        csv_name: csv,
    }
}

async fn users(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let s = spec("heat_tab_users", &lists::USERS, Vec::new(), "heating-users");
    list_page(&state, &session, s, |view| {
        for row in &mut view.rows {
            let id = row.text(6).to_owned();
            let disabled = row.int(5) == Some(1);
            row.cells[5].class = if disabled { "tag-bad" } else { "tag-ok" };
            row.actions.push(if disabled {
                Action::post(
                    lang,
                    "heat_enable",
                    format!("/console/heating/users/{}/enable", percent(&id)),
                )
            } else {
                Action::post(
                    lang,
                    "heat_disable",
                    format!("/console/heating/users/{}/disable", percent(&id)),
                )
                .danger()
            });
        }
    })
    .await
}

async fn set_user(
    state: AppState,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
    id: String,
    disabled: bool,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.heating.users.set_disabled(&id, disabled).await;
    if result.is_ok() {
        tracing::info!(operator = %session.name(), user = %id, disabled, "console: heating user changed");
    }
    Ok(done(session.lang, &fields, result.map(|_| ())))
}

async fn disable_user(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    set_user(state, session, headers, body, id, true).await
}

async fn enable_user(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    set_user(state, session, headers, body, id, false).await
}

async fn accounts(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let s = spec(
        "heat_tab_accounts",
        &lists::ACCOUNTS,
        Vec::new(),
        "heat-accounts",
    );
    list_page(&state, &session, s, |view| {
        for row in &mut view.rows {
            let number = row.text(0).to_owned();
            row.cells[0].href = Some(format!("/console/heating/accounts/{}", percent(&number)));
        }
    })
    .await
}

#[derive(Template)]
#[template(path = "console/heat_account.html")]
struct AccountPage {
    c: Chrome,
    tabs: Vec<Tab>,
    facts: Vec<(&'static str, String)>,
    bound: bool,
    unbind_url: String,
    /// The account's bills, paged in SQL like every list.
    table: TableView,
}

async fn account(
    State(state): State<AppState>,
    session: Session,
    Path(number): Path<String>,
) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let zone = state.settings.zone;
    let a = state.heating.accounts.account(&number).await?;
    let of_account = vec![Filter::Equals(
        "heat_account",
        Cell::Text(a.heat_account.clone()),
    )];
    let mut table =
        match super::table::listed(&state, &session, &lists::BILLS, of_account, "heating-bills")
            .await?
        {
            Listed::Csv(csv) => return Ok(csv),
            Listed::Table(view) => view,
        };
    show_status(lang, &mut table, 6);
    let bound_phone = match a.bound_user_id.as_deref() {
        Some(id) => state
            .heating
            .users
            .user(id)
            .await
            .map(|u| u.phone)
            .unwrap_or_else(|_| id.to_owned()),
        None => String::new(),
    };
    let facts = vec![
        ("heat_account", a.heat_account.clone()),
        ("heat_real_name", a.real_name.clone()),
        ("heat_id_card", a.id_card.clone()),
        ("address", a.address.clone()),
        ("heat_area", a.heating_area.to_decimal()),
        ("heat_bound_phone", bound_phone),
        (
            "heat_bound_at",
            a.bound_at
                .map(|t| t.local_datetime(zone))
                .unwrap_or_default(),
        ),
    ];
    let mut c = Chrome::new(&session, "area_heating", "heat_account_title");
    c.title = format!("{} {}", c.title, a.heat_account);
    Ok(html(
        lang,
        &AccountPage {
            tabs: tabs(lang, TABS, "/console/heating/accounts"),
            c,
            unbind_url: format!(
                "/console/heating/accounts/{}/unbind",
                percent(&a.heat_account)
            ),
            bound: a.bound_user_id.is_some(),
            facts,
            table: table.finish(),
        },
    ))
}

async fn unbind(
    State(state): State<AppState>,
    session: Session,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.heating.accounts.release(&number).await;
    if result.is_ok() {
        tracing::info!(operator = %session.name(), account = %number, "console: heat account unbound");
    }
    Ok(done(session.lang, &fields, result))
}

fn status_word(status: &str) -> &'static str {
    match status {
        "paid" => "heat_status_paid",
        "unpaid" => "heat_status_unpaid",
        "pending" => "heat_status_pending",
        "closed" => "heat_status_closed",
        "refunded" => "heat_status_refunded",
        _ => "heat_status_other",
    }
}

/// Shows a status column in the page's language, tagged.
fn show_status(lang: super::i18n::Lang, view: &mut TableView, column: usize) {
    for row in &mut view.rows {
        let raw = row.text(column).to_owned();
        let word = status_word(&raw);
        if word != "heat_status_other" {
            row.cells[column].text = lang.t(word).to_owned();
        }
        row.cells[column].class = match raw.as_str() {
            "paid" => "tag-ok",
            "unpaid" | "pending" => "tag-warn",
            _ => "",
        };
    }
}

/// A filter field above a table (a select or a date).
pub(super) enum FilterField {
    Select {
        name: &'static str,
        label: &'static str,
        options: Vec<(String, &'static str, bool)>,
    },
    Date {
        name: &'static str,
        label: &'static str,
        value: String,
        error: Option<&'static str>,
    },
}

/// A table page with filter fields above it (and a chart, if given).
#[derive(Template)]
#[template(path = "console/heat_filtered.html")]
pub(super) struct FilteredPage {
    pub c: Chrome,
    pub tabs: Vec<Tab>,
    pub filters: Vec<FilterField>,
    pub q: String,
    pub table: TableView,
    pub chart: Option<String>,
}

/// [`list_page`] with filter fields: the table (or its CSV) with the filters the page read.
pub(super) async fn filtered_page(
    state: &AppState,
    session: &Session,
    spec: ListSpec,
    fields: Vec<FilterField>,
    chart: Option<String>,
    decorate: impl FnOnce(&mut TableView),
) -> Page {
    let mut view = match super::table::listed(
        state,
        session,
        spec.table,
        spec.filters,
        spec.csv_name,
    )
    .await?
    {
        Listed::Csv(csv) => return Ok(csv),
        Listed::Table(view) => view,
    };
    view.hidden
        .retain(|(k, _)| !fields.iter().any(|f| f.name() == k));
    decorate(&mut view);
    Ok(html(
        session.lang,
        &FilteredPage {
            c: Chrome::new(session, spec.area, spec.title),
            tabs: tabs(session.lang, spec.tabs, session.uri.path()),
            filters: fields,
            q: view.q.clone(),
            table: view.finish(),
            chart,
        },
    ))
}

impl FilterField {
    pub(super) fn name(&self) -> &'static str {
        match self {
            FilterField::Select { name, .. } | FilterField::Date { name, .. } => name,
        }
    }
}

/// A `YYYY-MM-DD` date parameter (none when absent or unreadable) and its field, with the error.
pub(super) fn date_filter(
    session: &Session,
    name: &'static str,
    label: &'static str,
) -> (Option<time::Date>, FilterField) {
    let params = Params::of(&session.uri);
    let value = params.get(name).unwrap_or("").to_owned();
    let date = crate::domain::time::parse_date(&value);
    let error = (!value.is_empty() && date.is_none()).then_some("heat_bad_date");
    (
        date,
        FilterField::Date {
            name,
            label: session.lang.t(label),
            value,
            error,
        },
    )
}

async fn bills(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let status = params
        .get("status")
        .filter(|s| *s == "paid" || *s == "unpaid")
        .map(str::to_owned);
    let mut filters = Vec::new();
    if let Some(s) = &status {
        filters.push(Filter::Equals("status", Cell::Text(s.clone())));
    }
    let options = [
        ("", "heat_all"),
        ("unpaid", "heat_status_unpaid"),
        ("paid", "heat_status_paid"),
    ]
    .into_iter()
    .map(|(v, w)| {
        (
            v.to_owned(),
            lang.t(w),
            status.as_deref().unwrap_or("") == v,
        )
    })
    .collect();
    let fields = vec![FilterField::Select {
        name: "status",
        label: lang.t("status"),
        options,
    }];
    let s = spec("heat_tab_bills", &lists::BILLS, filters, "heating-bills");
    filtered_page(&state, &session, s, fields, None, |view| {
        show_status(lang, view, 6);
        for row in &mut view.rows {
            let number = row.text(1).to_owned();
            row.cells[1].href = Some(format!("/console/heating/accounts/{}", percent(&number)));
        }
    })
    .await
}

async fn orders(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let s = spec(
        "heat_tab_orders",
        &lists::ORDERS,
        Vec::new(),
        "heating-orders",
    );
    list_page(&state, &session, s, |view| {
        show_status(lang, view, 4);
        for row in &mut view.rows {
            let number = row.text(1).to_owned();
            row.cells[1].href = Some(format!("/console/heating/accounts/{}", percent(&number)));
        }
    })
    .await
}

/// What an import did, or why it was refused.
pub(super) struct Outcome {
    pub what: &'static str,
    pub counts: Vec<(&'static str, usize)>,
    pub errors: Vec<String>,
}

impl Outcome {
    pub(super) fn of(
        lang: super::i18n::Lang,
        what: &'static str,
        result: &Result<ImportReport, Error>,
    ) -> Outcome {
        match result {
            Ok(r) => Outcome {
                what,
                counts: vec![
                    ("heat_rows", r.rows),
                    ("heat_created", r.created),
                    ("heat_updated", r.updated),
                    ("heat_unchanged", r.unchanged),
                ],
                errors: Vec::new(),
            },
            Err(e) => Outcome {
                what,
                counts: Vec::new(),
                errors: vec![line_message(lang, e)],
            },
        }
    }
}

/// A domain error of an import, with "line N" in the page's language.
pub(super) fn line_message(lang: super::i18n::Lang, e: &Error) -> String {
    let text = match e {
        Error::Invalid(i) if i.field == "csv" => i.message.clone(),
        other => message(lang, other),
    };
    match text
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}:{}", lang.t("heat_line").replace("{}", n), rest)
        }
        _ => text,
    }
}

#[derive(Template)]
#[template(path = "console/heat_import.html")]
struct ImportPage {
    c: Chrome,
    tabs: Vec<Tab>,
    outcome: Option<Outcome>,
}

async fn import_page(session: Session) -> Page {
    session.operator_only()?;
    Ok(import_view(&session, None))
}

fn import_view(session: &Session, outcome: Option<Outcome>) -> Response {
    let rejected = outcome.as_ref().is_some_and(|o| !o.errors.is_empty());
    let mut res = html(
        session.lang,
        &ImportPage {
            c: Chrome::new(session, "area_heating", "heat_tab_import"),
            tabs: tabs(session.lang, TABS, "/console/heating/import"),
            outcome,
        },
    );
    if rejected {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

/// Reads an upload form: same origin, `_csrf` (first), then the file's bytes.
pub(super) async fn upload(
    session: &Session,
    headers: &HeaderMap,
    mut form: Multipart,
) -> Result<Vec<u8>, Fail> {
    session::same_origin(headers)?;
    let bad = |_| Fail::BadRequest(session.lang.t("heat_bad_upload").to_owned());
    let mut checked = false;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("_csrf") => {
                let v = field.text().await.map_err(bad)?;
                session.check(&Fields(vec![("_csrf".into(), v)]))?;
                checked = true;
            }
            Some("file") if checked => return Ok(field.bytes().await.map_err(bad)?.to_vec()),
            Some("file") => return Err(Fail::Csrf),
            _ => {}
        }
    }
    if checked {
        Err(Fail::BadRequest(session.lang.t("heat_no_file").to_owned()))
    } else {
        Err(Fail::Csrf)
    }
}

async fn import(
    State(state): State<AppState>,
    session: Session,
    Path(what): Path<String>,
    headers: HeaderMap,
    form: Multipart,
) -> Page {
    session.operator_only()?;
    let (what, accounts) = match what.as_str() {
        "accounts" => ("heat_import_accounts", true),
        "bills" => ("heat_import_bills", false),
        _ => return Err(Fail::NotFound),
    };
    let bytes = upload(&session, &headers, form).await?;
    let result = if accounts {
        state.heating.accounts.import_accounts(&bytes).await
    } else {
        state.heating.accounts.import_bills(&bytes).await
    };
    let result = match result {
        Err(e @ (Error::Internal(_) | Error::Unavailable { .. })) => return Err(Fail::from(e)),
        other => other,
    };
    if let Ok(r) = &result {
        tracing::info!(operator = %session.name(), rows = r.rows, what, "console: heating import");
    }
    Ok(import_view(
        &session,
        Some(Outcome::of(session.lang, what, &result)),
    ))
}

/// An agreement's form, with what was sent and the error of a field.
struct AgreementForm {
    kind: String,
    label: &'static str,
    title: String,
    version: String,
    content: String,
    updated_at: String,
    error: Option<(String, String)>,
}

impl AgreementForm {
    fn error_of(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The system configuration's fields: (field, word, value, textarea).
struct ConfigForm {
    fields: Vec<(&'static str, &'static str, String, bool)>,
    error: Option<(String, String)>,
}

impl ConfigForm {
    fn error_of(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "console/heat_config.html")]
struct ConfigPage {
    c: Chrome,
    tabs: Vec<Tab>,
    agreements: Vec<AgreementForm>,
    system: ConfigForm,
}

const CONFIG_FIELDS: [(&str, &str, bool); 7] = [
    ("customer_service_phone", "heat_cs_phone", false),
    ("business_hours", "heat_business_hours", false),
    ("company_name", "heat_company_name", false),
    ("company_address", "heat_company_address", false),
    ("app_version", "heat_app_version", false),
    ("announcement", "heat_announcement", true),
    ("maintenance_notice", "heat_maintenance_notice", true),
];

fn agreement_form(lang: super::i18n::Lang, a: &Agreement) -> AgreementForm {
    AgreementForm {
        kind: a.kind.clone(),
        label: lang.t(if a.kind == "privacy_policy" {
            "heat_privacy_policy"
        } else {
            "heat_user_agreement"
        }),
        title: a.title.clone(),
        version: a.version.clone(),
        content: a.content.clone(),
        updated_at: a.updated_at.clone(),
        error: None,
    }
}

fn config_form(c: &SystemConfig) -> ConfigForm {
    let values = [
        c.customer_service_phone.clone(),
        c.business_hours.clone(),
        c.company_name.clone(),
        c.company_address.clone(),
        c.app_version.clone(),
        c.announcement.clone().unwrap_or_default(),
        c.maintenance_notice.clone().unwrap_or_default(),
    ];
    ConfigForm {
        fields: CONFIG_FIELDS
            .iter()
            .zip(values)
            .map(|((f, w, area), v)| (*f, *w, v, *area))
            .collect(),
        error: None,
    }
}

async fn config_view(
    state: &AppState,
    session: &Session,
    agreements: Option<AgreementForm>,
    system: Option<ConfigForm>,
) -> Page {
    let lang = session.lang;
    let sent = agreements;
    let agreements = state
        .heating
        .content
        .agreements()
        .await?
        .iter()
        .map(|a| match &sent {
            Some(f) if f.kind == a.kind => AgreementForm {
                kind: f.kind.clone(),
                label: f.label,
                title: f.title.clone(),
                version: f.version.clone(),
                content: f.content.clone(),
                updated_at: f.updated_at.clone(),
                error: f.error.clone(),
            },
            _ => agreement_form(lang, a),
        })
        .collect();
    let system = match system {
        Some(s) => s,
        None => config_form(&state.heating.content.system_config().await?),
    };
    let mut c = ConfigPage {
        c: Chrome::new(session, "area_heating", "heat_tab_config"),
        tabs: tabs(lang, TABS, "/console/heating/config"),
        agreements,
        system,
    };
    let rejected = c.system.error.is_some() || c.agreements.iter().any(|a| a.error.is_some());
    if rejected {
        c.c.err = Some(lang.t("heat_fix_errors").to_owned());
    }
    let mut res = html(lang, &c);
    if rejected {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn config(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    config_view(&state, &session, None, None).await
}

/// An invalid field's name and message; other errors are not a field's.
fn field_error(lang: super::i18n::Lang, e: &Error) -> Option<(String, String)> {
    match e {
        Error::Invalid(i) => Some((i.field.to_owned(), i.message.clone())),
        Error::State(_) | Error::Conflict(_) => Some((String::new(), message(lang, e))),
        _ => None,
    }
}

async fn edit_agreement(
    State(state): State<AppState>,
    session: Session,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    if !AGREEMENT_KINDS.contains(&kind.as_str()) {
        return Err(Fail::NotFound);
    }
    let edit = AgreementEdit {
        title: fields.get("title").map(str::to_owned),
        content: fields.get("content").map(str::to_owned),
        version: fields.get("version").map(str::to_owned),
    };
    match state.heating.content.edit_agreement(&kind, edit).await {
        Ok(_) => {
            tracing::info!(operator = %session.name(), kind = %kind, "console: agreement edited");
            Ok(after(&back_of(&fields), true, session.lang.t("done")))
        }
        Err(e) => match field_error(session.lang, &e) {
            Some(error) => {
                let sent = AgreementForm {
                    label: session.lang.t(if kind == "privacy_policy" {
                        "heat_privacy_policy"
                    } else {
                        "heat_user_agreement"
                    }),
                    kind,
                    title: fields.get("title").unwrap_or("").to_owned(),
                    version: fields.get("version").unwrap_or("").to_owned(),
                    content: fields.get("content").unwrap_or("").to_owned(),
                    updated_at: String::new(),
                    error: Some(error),
                };
                config_view(&state, &session, Some(sent), None).await
            }
            None => Err(Fail::from(e)),
        },
    }
}

async fn edit_system(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let get = |name: &str| fields.get(name).map(str::to_owned);
    let edit = SystemConfigEdit {
        customer_service_phone: get("customer_service_phone"),
        business_hours: get("business_hours"),
        company_name: get("company_name"),
        company_address: get("company_address"),
        app_version: get("app_version"),
        announcement: get("announcement").map(Some),
        maintenance_notice: get("maintenance_notice").map(Some),
    };
    match state.heating.content.edit_system_config(edit).await {
        Ok(_) => {
            tracing::info!(operator = %session.name(), "console: system config edited");
            Ok(after(&back_of(&fields), true, session.lang.t("done")))
        }
        Err(e) => match field_error(session.lang, &e) {
            Some(error) => {
                let sent = ConfigForm {
                    fields: CONFIG_FIELDS
                        .iter()
                        .map(|(f, w, area)| (*f, *w, fields.get(f).unwrap_or("").to_owned(), *area))
                        .collect(),
                    error: Some(error),
                };
                config_view(&state, &session, None, Some(sent)).await
            }
            None => Err(Fail::from(e)),
        },
    }
}

/// Every row of a small table (the statistics' sums), through the records service.
pub(super) async fn all_rows(
    state: &AppState,
    session: &Session,
    table: &Table,
    filters: Vec<Filter>,
) -> Result<Vec<Vec<Cell>>, Fail> {
    let ask = Ask {
        page: 1,
        size: crate::domain::records::MAX_PAGE,
        filters,
        ..Ask::default()
    };
    let mut out = Vec::new();
    state
        .records
        .export(&session.reader(), table, &ask, 100_000, |batch| {
            out.extend(batch)
        })
        .await?;
    Ok(out)
}

/// Sums (UTC hour, values) rows into local days from `first` to `last`, both included.
pub(super) fn by_day<const N: usize>(
    zone: crate::domain::Zone,
    rows: &[Vec<Cell>],
    first: time::Date,
    last: time::Date,
) -> Vec<(String, [i64; N])> {
    let mut days: BTreeMap<time::Date, [i64; N]> = BTreeMap::new();
    let mut d = first;
    while d <= last {
        days.insert(d, [0; N]);
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    for row in rows {
        let Some(hour) = row.first().and_then(Cell::as_i64) else {
            continue;
        };
        let day = Timestamp::from_millis(hour * 3_600_000).local_calendar_date(zone);
        if let Some(sums) = days.get_mut(&day) {
            for (i, s) in sums.iter_mut().enumerate() {
                *s += row.get(i + 1).and_then(Cell::as_i64).unwrap_or(0);
            }
        }
    }
    days.into_iter()
        .map(|(d, v)| (date_string(d)[5..].to_owned(), v))
        .collect()
}

/// A season's figures.
struct SeasonLine {
    season: String,
    paid_count: i64,
    paid: String,
    unpaid_count: i64,
    unpaid: String,
}

#[derive(Template)]
#[template(path = "console/heat_stats.html")]
struct StatsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    seasons: Vec<SeasonLine>,
    choices: Vec<(String, bool)>,
    amounts: String,
    counts: String,
    daily: String,
    received: String,
}

async fn stats(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let zone = state.settings.zone;
    let calendar = state.settings.seasons;
    let mut by_season: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for row in all_rows(&state, &session, &lists::SEASONS, Vec::new()).await? {
        let season = row[0].as_str().unwrap_or("").to_owned();
        let paid = row[1].as_str() == Some("paid");
        let (n, fen) = (row[2].as_i64().unwrap_or(0), row[3].as_i64().unwrap_or(0));
        let sums = by_season.entry(season).or_default();
        let at = if paid { 0 } else { 2 };
        sums[at] += n;
        sums[at + 1] += fen;
    }
    let labels: Vec<String> = by_season.keys().cloned().collect();
    let column = |i: usize| by_season.values().map(|v| v[i]).collect::<Vec<i64>>();
    let yuan = |f: i64| Fen(f).yuan_string();
    let amounts = chart::lines(
        lang.t("heat_chart_amounts"),
        &labels,
        &[
            (lang.t("heat_status_paid").to_owned(), column(1)),
            (lang.t("heat_status_unpaid").to_owned(), column(3)),
        ],
        &yuan,
    );
    let counts = chart::lines(
        lang.t("heat_chart_counts"),
        &labels,
        &[
            (lang.t("heat_status_paid").to_owned(), column(0)),
            (lang.t("heat_status_unpaid").to_owned(), column(2)),
        ],
        &|v| v.to_string(),
    );
    let today_season = calendar.season_of(state.records.now().local_calendar_date(zone));
    let asked = Params::of(&session.uri).get("season").map(str::to_owned);
    // The journal records a payment when it is received (an imported paid bill: when it was
    // imported), so the season shown first is the current one.
    let season = asked
        .filter(|s| crate::domain::heating::parse_season(s).is_some())
        .unwrap_or(today_season);
    let first_year = crate::domain::heating::parse_season(&season).unwrap_or(2000);
    let (first, last) = calendar
        .bounds(first_year)
        .ok_or_else(|| Fail::BadRequest(lang.t("heat_bad_season").to_owned()))?;
    let hours = state
        .records
        .hourly(
            &session.reader(),
            Hourly::HeatingReceived,
            Timestamp::start_of_local_date(first, zone),
            Timestamp::start_of_local_date(last, zone).plus_secs(86_400),
        )
        .await?;
    let days = by_day::<1>(zone, &hours, first, last);
    let received = yuan(days.iter().map(|(_, v)| v[0]).sum());
    let points: Vec<(String, i64)> = days.into_iter().map(|(d, v)| (d, v[0])).collect();
    let daily = chart::bars(
        &format!("{} {season}", lang.t("heat_chart_daily")),
        &points,
        &yuan,
    );
    let mut choices: Vec<(String, bool)> =
        labels.iter().map(|s| (s.clone(), *s == season)).collect();
    if !labels.contains(&season) {
        choices.push((season.clone(), true));
        choices.sort();
    }
    let seasons = by_season
        .iter()
        .map(|(s, v)| SeasonLine {
            season: s.clone(),
            paid_count: v[0],
            paid: yuan(v[1]),
            unpaid_count: v[2],
            unpaid: yuan(v[3]),
        })
        .collect();
    Ok(html(
        lang,
        &StatsPage {
            c: Chrome::new(&session, "area_heating", "heat_tab_stats"),
            tabs: tabs(lang, TABS, "/console/heating/stats"),
            seasons,
            choices,
            amounts,
            counts,
            daily,
            received,
        },
    ))
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("heat_tab_users", "用户", "Users"),
    ("heat_tab_accounts", "热用户账户", "Heat accounts"),
    ("heat_tab_bills", "账单", "Bills"),
    ("heat_tab_import", "导入", "Import"),
    ("heat_tab_orders", "缴费订单", "Payment orders"),
    ("heat_tab_config", "协议与配置", "Agreements & config"),
    ("heat_tab_stats", "统计", "Statistics"),
    ("heat_nickname", "昵称", "Nickname"),
    ("heat_real_name", "户主姓名", "Owner name"),
    ("heat_login_count", "登录次数", "Logins"),
    ("heat_enable", "启用", "Enable"),
    ("heat_disable", "停用", "Disable"),
    ("heat_account", "供热账号", "Heat account"),
    ("heat_account_title", "热用户账户", "Heat account"),
    ("heat_id_card", "身份证号", "ID card"),
    ("heat_area", "供热面积（㎡）", "Heating area (m²)"),
    ("heat_bound_phone", "绑定用户手机号", "Bound user's phone"),
    ("heat_bound_at", "绑定时间", "Bound at"),
    ("heat_unbind", "解绑", "Unbind"),
    ("heat_not_bound", "未绑定用户", "Not bound to a user"),
    ("heat_bills_of", "账单", "Bills"),
    ("heat_bill_id", "账单编号", "Bill number"),
    ("heat_season", "供暖季", "Heating season"),
    ("heat_bill_date", "账单日期", "Bill date"),
    ("heat_due_date", "缴费截止日期", "Due date"),
    ("heat_status_paid", "已缴费", "Paid"),
    ("heat_status_unpaid", "未缴费", "Unpaid"),
    ("heat_status_pending", "待支付", "Pending"),
    ("heat_status_closed", "已关闭", "Closed"),
    ("heat_status_refunded", "已退款", "Refunded"),
    ("heat_status_other", "其他", "Other"),
    ("heat_all", "全部", "All"),
    ("heat_filter", "筛选", "Filter"),
    (
        "heat_bad_date",
        "日期格式应为 YYYY-MM-DD",
        "Dates are YYYY-MM-DD",
    ),
    ("heat_order_id", "订单号", "Order number"),
    ("heat_gateway", "支付渠道", "Gateway"),
    ("heat_transaction_id", "微信支付单号", "Transaction ID"),
    (
        "heat_import_accounts",
        "导入热用户账户",
        "Import heat accounts",
    ),
    ("heat_import_bills", "导入账单", "Import bills"),
    (
        "heat_accounts_columns",
        "列：heat_account,real_name,id_card,address,heating_area",
        "Columns: heat_account,real_name,id_card,address,heating_area",
    ),
    (
        "heat_bills_columns",
        "列：bill_id,heat_account,heating_season,amount,bill_date,due_date[,status][,paid_at]",
        "Columns: bill_id,heat_account,heating_season,amount,bill_date,due_date[,status][,paid_at]",
    ),
    ("heat_csv_file", "CSV 文件", "CSV file"),
    ("heat_upload", "上传并导入", "Upload and import"),
    (
        "heat_all_or_nothing",
        "整个文件全部校验通过才会写入；有错误的行不会导入任何数据。",
        "Nothing of a file is written unless every row is good.",
    ),
    ("heat_import_done", "导入完成", "Imported"),
    (
        "heat_import_rejected",
        "导入被拒绝，未写入任何数据",
        "Import refused; nothing was written",
    ),
    ("heat_rows", "行数", "Rows"),
    ("heat_created", "新增", "Created"),
    ("heat_updated", "更新", "Updated"),
    ("heat_unchanged", "未变化", "Unchanged"),
    ("heat_line", "第 {} 行", "line {}"),
    (
        "heat_bad_upload",
        "上传的表单无法读取",
        "The upload could not be read",
    ),
    ("heat_no_file", "请选择文件", "Choose a file"),
    ("heat_user_agreement", "用户协议", "User agreement"),
    ("heat_privacy_policy", "隐私政策", "Privacy policy"),
    ("heat_version", "版本", "Version"),
    ("heat_system_config", "系统配置", "System configuration"),
    ("heat_cs_phone", "客服电话", "Customer service phone"),
    ("heat_business_hours", "营业时间", "Business hours"),
    ("heat_company_name", "公司名称", "Company name"),
    ("heat_company_address", "公司地址", "Company address"),
    ("heat_app_version", "版本号", "App version"),
    ("heat_announcement", "公告", "Announcement"),
    ("heat_maintenance_notice", "维护通知", "Maintenance notice"),
    (
        "heat_fix_errors",
        "请修正标出的字段",
        "Please correct the marked field",
    ),
    (
        "heat_season_figures",
        "各供暖季账单",
        "Bills by heating season",
    ),
    ("heat_paid_count", "已缴笔数", "Paid bills"),
    ("heat_paid_amount", "已缴金额（元）", "Paid (yuan)"),
    ("heat_unpaid_count", "未缴笔数", "Unpaid bills"),
    ("heat_unpaid_amount", "未缴金额（元）", "Unpaid (yuan)"),
    (
        "heat_chart_amounts",
        "各供暖季已缴/未缴金额（元）",
        "Paid and unpaid per season (yuan)",
    ),
    (
        "heat_chart_counts",
        "各供暖季已缴/未缴笔数",
        "Paid and unpaid bills per season",
    ),
    (
        "heat_chart_daily",
        "每日收款（元）",
        "Received per day (yuan)",
    ),
    (
        "heat_received_in_season",
        "本季收款（元）",
        "Received this season (yuan)",
    ),
    ("heat_bad_season", "供暖季无效", "Not a heating season"),
    ("heat_bill_count", "笔数", "Bills"),
];
