//! The console's retail area (seed 000, the electricity retail business hall): companies,
//! enterprises, users and their bindings, contracts, settlement bills (and their confirmation),
//! feedback with its pictures, articles, the business guide and monthly use as a chart.
//!
//! Operators only. Every change calls the same domain method as the admin API
//! (`src/surfaces/admin/retail.rs`); a form whose input the domain refuses is shown again with
//! the reason next to its field (422) and nothing changed.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::i18n::Lang;
use super::session::Session;
use super::table::{Action, Listed, Params, TableView};
use super::{Chrome, Fail, Fields, Page, Tab, after, back_of, chart, done, html, posted, tabs};
use crate::domain::Error;
use crate::domain::money::fixed_string;
use crate::domain::records::tables::retail as listings;
use crate::domain::records::{Cell, Filter, Table};
use crate::domain::retail::data::BILL_FIGURES;
use crate::surfaces::AppState;

const AREA: &str = "area_retail";

const TABS: &[(&str, &str)] = &[
    ("retail_tab_companies", "/console/retail/companies"),
    ("retail_tab_enterprises", "/console/retail/enterprises"),
    ("retail_tab_users", "/console/retail/users"),
    ("retail_tab_contracts", "/console/retail/contracts"),
    ("retail_tab_bills", "/console/retail/bills"),
    ("retail_tab_feedback", "/console/retail/feedback"),
    ("retail_tab_articles", "/console/retail/articles"),
    ("retail_tab_guide", "/console/retail/guide"),
    ("retail_tab_monthly_use", "/console/retail/monthly-use"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/retail/companies", get(companies).post(create_company))
        .route("/retail/companies/{id}", get(company).post(update_company))
        .route(
            "/retail/enterprises",
            get(enterprises).post(create_enterprise),
        )
        .route(
            "/retail/enterprises/{code}",
            get(enterprise).post(update_enterprise),
        )
        .route("/retail/users", get(users))
        .route("/retail/users/{id}/unbind", post(unbind))
        .route("/retail/contracts", get(contracts).post(create_contract))
        .route(
            "/retail/contracts/{id}",
            get(contract).post(update_contract),
        )
        .route("/retail/bills", get(bills).post(create_bill))
        .route("/retail/bills/{id}/confirm", post(confirm_bill))
        .route("/retail/feedback", get(feedback))
        .route("/retail/feedback/{id}/picture", get(picture))
        .route("/retail/articles", get(articles).post(create_article))
        .route("/retail/articles/{id}/delete", post(delete_article))
        .route("/retail/guide", get(guide).post(create_guide))
        .route("/retail/guide/{id}/delete", post(delete_guide))
        .route(
            "/retail/monthly-use",
            get(monthly_use).post(put_monthly_use),
        )
}

// --- the page --------------------------------------------------------------------------------

/// A choice of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A field of a form, with the reason the last value was refused.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub area: bool,
    pub choices: Vec<Choice>,
}

impl Field {
    fn new(lang: Lang, name: &'static str, label: &str) -> Field {
        Field {
            name,
            label: lang.t(label),
            value: String::new(),
            error: None,
            area: false,
            choices: Vec::new(),
        }
    }
    fn area(mut self) -> Field {
        self.area = true;
        self
    }
    fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }
    /// A select of (value, label).
    fn choices(mut self, list: Vec<(String, String)>) -> Field {
        self.choices = list
            .into_iter()
            .map(|(value, label)| Choice {
                value,
                label,
                selected: false,
            })
            .collect();
        self
    }
}

/// A form posted to change something (asks before it is sent).
pub struct Form {
    pub id: &'static str,
    pub action: String,
    pub title: &'static str,
    pub submit: &'static str,
    pub fields: Vec<Field>,
    /// A reason that names no field of the form.
    pub error: Option<String>,
}

impl Form {
    fn new(lang: Lang, id: &'static str, action: &str, title: &str, fields: Vec<Field>) -> Form {
        Form {
            id,
            action: action.to_owned(),
            title: lang.t(title),
            submit: lang.t("retail_save"),
            fields,
            error: None,
        }
    }

    /// Marks the selected choices after the values are set.
    fn mark(mut self) -> Form {
        for f in &mut self.fields {
            for c in &mut f.choices {
                c.selected = c.value == f.value;
            }
        }
        self
    }

    /// The values that were posted.
    fn fill(mut self, posted: &Fields) -> Form {
        for f in &mut self.fields {
            if let Some(v) = posted.get(f.name) {
                f.value = v.chars().take(100_000).collect();
            }
        }
        self.mark()
    }

    /// The domain's reason, next to the field it names.
    fn refused(mut self, lang: Lang, e: &Error) -> Form {
        if let Error::Invalid(i) = e {
            let name = match i.field {
                "phone" => "contact_phone",
                other => other,
            };
            if let Some(f) = self.fields.iter_mut().find(|f| f.name == name) {
                f.error = Some(i.message.clone());
                return self;
            }
        }
        self.error = Some(super::message(lang, e));
        self
    }
}

/// A picture of a feedback entry, shown below the table.
pub struct Picture {
    pub url: String,
    pub caption: String,
}

/// What a retail page shows besides its table.
#[derive(Default)]
struct Extras {
    form: Option<Form>,
    /// A GET form choosing what the table and chart show.
    lookup: Vec<Field>,
    chart: Option<String>,
    pictures: Vec<Picture>,
}

#[derive(Template)]
#[template(path = "console/retail_page.html")]
struct RetailPage {
    c: Chrome,
    tabs: Vec<Tab>,
    table: TableView,
    form: Option<Form>,
    lookup: Vec<Field>,
    chart: Option<String>,
    pictures: Vec<Picture>,
}

/// One retail page: its table (or, with `?format=csv`, the table as CSV), with a form, a
/// lookup, a chart or pictures as `decorate` adds them.
async fn page(
    state: &AppState,
    session: &Session,
    title: &'static str,
    table: &'static Table,
    filters: Vec<Filter>,
    mut extras: Extras,
    decorate: impl FnOnce(&mut TableView, &mut Extras),
) -> Page {
    let name = format!("retail-{}", title.trim_start_matches("retail_tab_"));
    let mut view = match super::table::listed(state, session, table, filters, &name).await? {
        Listed::Csv(csv) => return Ok(csv),
        Listed::Table(view) => view,
    };
    decorate(&mut view, &mut extras);
    let list_path = TABS
        .iter()
        .map(|(_, href)| *href)
        .find(|href| session.uri.path().starts_with(href))
        .unwrap_or("");
    Ok(html(
        session.lang,
        &RetailPage {
            c: Chrome::new(session, AREA, title),
            tabs: tabs(session.lang, TABS, list_path),
            table: view.finish(),
            form: extras.form,
            lookup: extras.lookup,
            chart: extras.chart,
            pictures: extras.pictures,
        },
    ))
}

/// After a form was posted: back with "done", or the page again with the form and its reason.
async fn settle<F>(
    session: &Session,
    fields: &Fields,
    result: crate::domain::Result<()>,
    form: Form,
    again: impl FnOnce(Form) -> F,
) -> Page
where
    F: std::future::Future<Output = Page>,
{
    let lang = session.lang;
    match result {
        Ok(()) => Ok(after(&back_of(fields), true, lang.t("done"))),
        Err(e @ (Error::Internal(_) | Error::Unavailable { .. })) => Err(e.into()),
        Err(e) => {
            let status = match e {
                Error::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let form = form.fill(fields).refused(lang, &e);
            let mut res = again(form).await?;
            *res.status_mut() = status;
            Ok(res)
        }
    }
}

/// Reads a whole number a form sent, or says which field it was.
fn number(fields: &Fields, name: &'static str) -> crate::domain::Result<i64> {
    fields
        .text(name)
        .parse::<i64>()
        .map_err(|_| Error::invalid(name, "须为整数 / must be a whole number"))
}

/// Splits a list written in one field (commas, 、, semicolons or lines).
fn list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn ten_thousandths(view: &mut TableView, columns: &[usize]) {
    for row in &mut view.rows {
        for &i in columns {
            if let Some(v) = row.int(i) {
                row.cells[i].text = fixed_string(v, 4);
            }
        }
    }
}

/// Shows a state word (`confirmed`, `fullfill`, ...) in the page's language.
fn state_word(lang: Lang, view: &mut TableView, column: usize) {
    for row in &mut view.rows {
        let key = match row.text(column) {
            "confirmed" => "retail_confirmed",
            "unconfirmed" => "retail_unconfirmed",
            "fullfill" => "retail_fullfill",
            "notfullfill" => "retail_notfullfill",
            _ => continue,
        };
        row.cells[column].text = lang.t(key).to_owned();
        row.cells[column].class = if matches!(key, "retail_confirmed" | "retail_fullfill") {
            "tag-ok"
        } else {
            "tag-warn"
        };
    }
}

/// How many parties a form offers in a list; with more, it asks for the code or id typed.
const CHOICES: usize = 200;

/// The companies to choose from (id, name); empty (a typed id) when there are too many.
async fn company_choices(state: &AppState) -> crate::domain::Result<Vec<(String, String)>> {
    Ok(state
        .retail
        .company_choices(CHOICES)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

/// The enterprises to choose from (credit code, "name (code)"); empty (a typed credit code)
/// when there are too many.
async fn enterprise_choices(state: &AppState) -> crate::domain::Result<Vec<(String, String)>> {
    Ok(state
        .retail
        .enterprise_choices(CHOICES)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let label = format!("{} ({})", e.name, e.credit_code);
            (e.credit_code, label)
        })
        .collect())
}

// --- companies -------------------------------------------------------------------------------

fn company_form(lang: Lang, action: &str, title: &str) -> Form {
    Form::new(
        lang,
        "company-form",
        action,
        title,
        vec![
            Field::new(lang, "name", "retail_company_name"),
            Field::new(lang, "services", "retail_services_hint"),
        ],
    )
}

async fn companies_page(state: &AppState, session: &Session, form: Form) -> Page {
    let extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    page(
        state,
        session,
        "retail_tab_companies",
        &listings::COMPANIES,
        Vec::new(),
        extras,
        |view, _| {
            for row in &mut view.rows {
                row.cells[1].href = Some(format!(
                    "/console/retail/companies/{}",
                    super::percent(row.text(0))
                ));
            }
        },
    )
    .await
}

async fn companies(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let form = company_form(
        session.lang,
        "/console/retail/companies",
        "retail_new_company",
    );
    companies_page(&state, &session, form).await
}

async fn create_company(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state
        .retail
        .create_company(fields.text("name"), &list(fields.text("services")))
        .await
        .map(|_| ());
    let form = company_form(
        session.lang,
        "/console/retail/companies",
        "retail_new_company",
    );
    settle(&session, &fields, result, form, |f| {
        companies_page(&state, &session, f)
    })
    .await
}

async fn company(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Page {
    session.operator_only()?;
    let found = state.retail.company(&id).await?;
    let action = format!("/console/retail/companies/{}", super::percent(&id));
    let mut form = company_form(session.lang, &action, "retail_edit_company");
    form.fields[0].value = found.name;
    form.fields[1].value = found.services.join("、");
    companies_page(&state, &session, form).await
}

async fn update_company(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let services = list(fields.text("services"));
    let result = state
        .retail
        .update_company(&id, Some(fields.text("name")), Some(&services))
        .await
        .map(|_| ());
    let action = format!("/console/retail/companies/{}", super::percent(&id));
    let form = company_form(session.lang, &action, "retail_edit_company");
    settle(&session, &fields, result, form, |f| {
        companies_page(&state, &session, f)
    })
    .await
}

// --- enterprises -----------------------------------------------------------------------------

fn enterprise_form(lang: Lang, action: &str, title: &str, editing: bool) -> Form {
    let mut fields = vec![Field::new(lang, "name", "retail_enterprise_name")];
    if !editing {
        fields.push(Field::new(lang, "credit_code", "retail_credit_code"));
    }
    fields.push(Field::new(lang, "contact_phone", "retail_contact_phone"));
    if editing {
        fields.push(Field::new(lang, "max_users", "retail_max_users"));
    }
    Form::new(lang, "enterprise-form", action, title, fields)
}

async fn enterprises_page(state: &AppState, session: &Session, form: Form) -> Page {
    let extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    page(
        state,
        session,
        "retail_tab_enterprises",
        &listings::ENTERPRISES,
        Vec::new(),
        extras,
        |view, _| {
            for row in &mut view.rows {
                row.cells[0].href = Some(format!(
                    "/console/retail/enterprises/{}",
                    super::percent(row.text(0))
                ));
            }
        },
    )
    .await
}

async fn enterprises(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let form = enterprise_form(
        session.lang,
        "/console/retail/enterprises",
        "retail_new_enterprise",
        false,
    );
    enterprises_page(&state, &session, form).await
}

async fn create_enterprise(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state
        .retail
        .create_enterprise(
            fields.text("name"),
            fields.text("credit_code"),
            fields.text("contact_phone"),
        )
        .await
        .map(|_| ());
    let form = enterprise_form(
        session.lang,
        "/console/retail/enterprises",
        "retail_new_enterprise",
        false,
    );
    settle(&session, &fields, result, form, |f| {
        enterprises_page(&state, &session, f)
    })
    .await
}

async fn enterprise(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Page {
    session.operator_only()?;
    let found = state.retail.enterprise(&code).await?;
    let action = format!("/console/retail/enterprises/{}", super::percent(&code));
    let mut form = enterprise_form(session.lang, &action, "retail_edit_enterprise", true);
    form.fields[0].value = found.name;
    form.fields[1].value = found.contact_phone;
    form.fields[2].value = found.max_users.to_string();
    enterprises_page(&state, &session, form).await
}

async fn update_enterprise(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = match number(&fields, "max_users") {
        Ok(max) => state
            .retail
            .update_enterprise(
                &code,
                Some(fields.text("name")),
                Some(fields.text("contact_phone")),
                Some(max),
            )
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    let action = format!("/console/retail/enterprises/{}", super::percent(&code));
    let form = enterprise_form(session.lang, &action, "retail_edit_enterprise", true);
    settle(&session, &fields, result, form, |f| {
        enterprises_page(&state, &session, f)
    })
    .await
}

// --- users -----------------------------------------------------------------------------------

async fn users(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let filters = match params.get("bound") {
        Some("1") => vec![Filter::NotNull("retail_credit_code")],
        Some("0") => vec![Filter::IsNull("retail_credit_code")],
        _ => Vec::new(),
    };
    let mut extras = Extras::default();
    extras.lookup.push(
        Field::new(lang, "bound", "retail_binding")
            .value(params.get("bound").unwrap_or(""))
            .choices(vec![
                (String::new(), lang.t("retail_all").to_owned()),
                ("1".into(), lang.t("retail_bound").to_owned()),
                ("0".into(), lang.t("retail_unbound").to_owned()),
            ]),
    );
    mark_lookup(&mut extras);
    page(
        &state,
        &session,
        "retail_tab_users",
        &listings::USERS,
        filters,
        extras,
        |view, _| {
            for row in &mut view.rows {
                if !row.text(3).is_empty() {
                    let url = format!(
                        "/console/retail/users/{}/unbind",
                        super::percent(row.text(0))
                    );
                    row.actions
                        .push(Action::post(lang, "retail_unbind", url).danger());
                }
            }
        },
    )
    .await
}

fn mark_lookup(extras: &mut Extras) {
    for f in &mut extras.lookup {
        for c in &mut f.choices {
            c.selected = c.value == f.value;
        }
    }
}

async fn unbind(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.retail.unbind(&id).await;
    Ok(done(session.lang, &fields, result))
}

// --- contracts -------------------------------------------------------------------------------

async fn contract_form(state: &AppState, lang: Lang) -> Result<Form, Fail> {
    let states = vec![
        (
            "notfullfill".to_owned(),
            lang.t("retail_notfullfill").to_owned(),
        ),
        ("fullfill".to_owned(), lang.t("retail_fullfill").to_owned()),
    ];
    Ok(Form::new(
        lang,
        "contract-form",
        "/console/retail/contracts",
        "retail_new_contract",
        vec![
            Field::new(lang, "contract_id", "retail_contract_id"),
            Field::new(lang, "credit_code", "retail_enterprise")
                .choices(enterprise_choices(state).await?),
            Field::new(lang, "company_id", "retail_company").choices(company_choices(state).await?),
            Field::new(lang, "title", "title"),
            Field::new(lang, "content", "content").area(),
            Field::new(lang, "files", "retail_files"),
            Field::new(lang, "state", "state").choices(states),
            Field::new(lang, "elec_number", "retail_elec_number").value("0"),
            Field::new(lang, "sign_date", "retail_sign_date"),
            Field::new(lang, "expire_date", "retail_expire_date"),
        ],
    )
    .mark())
}

fn contract_edit_form(lang: Lang, id: &str) -> Form {
    let states = vec![
        (
            "notfullfill".to_owned(),
            lang.t("retail_notfullfill").to_owned(),
        ),
        ("fullfill".to_owned(), lang.t("retail_fullfill").to_owned()),
    ];
    Form::new(
        lang,
        "contract-form",
        &format!("/console/retail/contracts/{}", super::percent(id)),
        "retail_edit_contract",
        vec![
            Field::new(lang, "state", "state").choices(states),
            Field::new(lang, "files", "retail_files"),
            Field::new(lang, "expire_date", "retail_expire_date"),
        ],
    )
}

async fn contracts_page(state: &AppState, session: &Session, form: Form) -> Page {
    let lang = session.lang;
    let extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    page(
        state,
        session,
        "retail_tab_contracts",
        &listings::CONTRACTS,
        Vec::new(),
        extras,
        |view, _| {
            state_word(lang, view, 4);
            for row in &mut view.rows {
                row.cells[0].href = Some(format!(
                    "/console/retail/contracts/{}",
                    super::percent(row.text(0))
                ));
            }
        },
    )
    .await
}

async fn contracts(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let form = contract_form(&state, session.lang).await?;
    contracts_page(&state, &session, form).await
}

async fn create_contract(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = match number(&fields, "elec_number") {
        Ok(elec_number) => {
            let input = crate::domain::retail::data::ContractInput {
                contract_id: fields.text("contract_id").to_owned(),
                credit_code: fields.text("credit_code").to_owned(),
                company_id: fields.text("company_id").to_owned(),
                title: fields.text("title").to_owned(),
                content: fields.get("content").unwrap_or("").to_owned(),
                files: list(fields.text("files")),
                state: fields.text("state").to_owned(),
                elec_number,
                sign_date: fields.text("sign_date").to_owned(),
                expire_date: fields.text("expire_date").to_owned(),
            };
            state.retail_data.create_contract(&input).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let form = contract_form(&state, session.lang).await?;
    settle(&session, &fields, result, form, |f| {
        contracts_page(&state, &session, f)
    })
    .await
}

async fn contract(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Page {
    session.operator_only()?;
    let found = state.retail_data.contract(&id).await?;
    let mut form = contract_edit_form(session.lang, &id);
    form.fields[0].value = found.state;
    form.fields[1].value = found.files.join("、");
    form.fields[2].value = found.expire_date;
    contracts_page(&state, &session, form.mark()).await
}

async fn update_contract(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let files = list(fields.text("files"));
    let result = state
        .retail_data
        .update_contract(
            &id,
            Some(fields.text("state")),
            Some(&files),
            Some(fields.text("expire_date")),
        )
        .await
        .map(|_| ());
    let form = contract_edit_form(session.lang, &id);
    settle(&session, &fields, result, form, |f| {
        contracts_page(&state, &session, f)
    })
    .await
}

// --- settlement bills ------------------------------------------------------------------------

/// The form that adds a settlement bill (as `POST /admin/v1/retail/bills` does): the
/// enterprise, the bill's number (optional: one is drawn), its dates, the user's benefit in
/// yuan and the nine figures in the document's order (four decimals at most).
async fn bill_form(state: &AppState, lang: Lang) -> Result<Form, Fail> {
    let mut fields = vec![
        Field::new(lang, "credit_code", "retail_enterprise")
            .choices(enterprise_choices(state).await?),
        Field::new(lang, "id", "retail_bill_number"),
        Field::new(lang, "date", "retail_bill_date"),
        Field::new(lang, "elec_use_date", "retail_elec_use_date"),
        Field::new(lang, "user_benefits", "retail_user_benefits"),
    ];
    for (name, word) in BILL_FIGURES.iter().zip(BILL_FIGURE_WORDS) {
        fields.push(Field::new(lang, name, word).value("0"));
    }
    Ok(Form::new(
        lang,
        "bill-form",
        "/console/retail/bills",
        "retail_new_bill",
        fields,
    )
    .mark())
}

/// The words of [`BILL_FIGURES`], in order.
const BILL_FIGURE_WORDS: [&str; 9] = [
    "retail_settle_number",
    "retail_actual_elec_use",
    "retail_declare_elec_number",
    "retail_decompose_elec_number",
    "retail_consultation_earn",
    "retail_assign_elec_number",
    "retail_bid_income",
    "retail_check_elec_number",
    "retail_check_bill",
];

async fn bills(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let form = bill_form(&state, session.lang).await?;
    bills_page(&state, &session, form).await
}

async fn create_bill(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let input = crate::domain::retail::data::BillInput {
        id: Some(fields.text("id").to_owned()).filter(|s| !s.is_empty()),
        credit_code: fields.text("credit_code").to_owned(),
        date: fields.text("date").to_owned(),
        elec_use_date: fields.text("elec_use_date").to_owned(),
        user_benefits: fields.text("user_benefits").to_owned(),
        figures: BILL_FIGURES.map(|name| fields.text(name).to_owned()),
    };
    let result = state
        .retail_data
        .create_settlement_bill(&input)
        .await
        .map(|_| ());
    let form = bill_form(&state, session.lang).await?;
    settle(&session, &fields, result, form, |f| {
        bills_page(&state, &session, f)
    })
    .await
}

async fn bills_page(state: &AppState, session: &Session, form: Form) -> Page {
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let wanted = params
        .get("state")
        .filter(|s| matches!(*s, "confirmed" | "unconfirmed"))
        .map(str::to_owned);
    let filters = wanted
        .iter()
        .map(|s| Filter::Equals("state", Cell::Text(s.clone())))
        .collect();
    let mut extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    extras.lookup.push(
        Field::new(lang, "state", "state")
            .value(wanted.clone().unwrap_or_default())
            .choices(vec![
                (String::new(), lang.t("retail_all").to_owned()),
                (
                    "unconfirmed".into(),
                    lang.t("retail_unconfirmed").to_owned(),
                ),
                ("confirmed".into(), lang.t("retail_confirmed").to_owned()),
            ]),
    );
    mark_lookup(&mut extras);
    page(
        state,
        session,
        "retail_tab_bills",
        &listings::BILLS,
        filters,
        extras,
        |view, _| {
            ten_thousandths(view, &[6, 7]);
            for row in &mut view.rows {
                if row.text(8) == "unconfirmed" {
                    let url = format!(
                        "/console/retail/bills/{}/confirm",
                        super::percent(row.text(0))
                    );
                    row.actions.push(Action::post(lang, "retail_confirm", url));
                }
            }
            state_word(lang, view, 8);
        },
    )
    .await
}

/// The same confirmation as `POST /admin/v1/retail/bills/{id}/confirm`, by the signed-in
/// operator, dated today.
async fn confirm_bill(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state
        .retail_data
        .confirm_settlement_bill(&id, session.name(), None)
        .await
        .map(|_| ());
    Ok(done(session.lang, &fields, result))
}

// --- feedback --------------------------------------------------------------------------------

async fn feedback(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    page(
        &state,
        &session,
        "retail_tab_feedback",
        &listings::FEEDBACK,
        Vec::new(),
        Extras::default(),
        |view, extras| {
            for row in &mut view.rows {
                row.cells[2].class = "wrap";
                if row.int(4) == Some(1) {
                    let url = format!(
                        "/console/retail/feedback/{}/picture",
                        super::percent(row.text(0))
                    );
                    row.cells[4].href = Some(url.clone());
                    extras.pictures.push(Picture {
                        url,
                        caption: row.text(2).chars().take(60).collect(),
                    });
                }
            }
        },
    )
    .await
}

/// A feedback entry's picture, as `GET /admin/v1/retail/feedback/{id}/picture` reads it: its
/// sniffed image type, never sniffed again by the browser, for `<img>` on this origin.
async fn picture(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Page {
    session.operator_only()?;
    let (bytes, kind) = state.retail_data.feedback_picture(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.mime().to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"feedback-{}\"", super::percent(&id)),
            ),
        ],
        bytes,
    )
        .into_response())
}

// --- articles and the guide ------------------------------------------------------------------

fn article_form(lang: Lang) -> Form {
    let channels = crate::domain::retail::data::CHANNELS
        .iter()
        .map(|c| {
            (
                (*c).to_owned(),
                lang.t(&format!("retail_channel_{c}")).to_owned(),
            )
        })
        .collect();
    Form::new(
        lang,
        "article-form",
        "/console/retail/articles",
        "retail_new_article",
        vec![
            Field::new(lang, "channel", "retail_channel").choices(channels),
            Field::new(lang, "title", "title"),
            Field::new(lang, "author", "retail_author"),
            Field::new(lang, "imgsrc", "retail_imgsrc"),
            Field::new(lang, "content", "content").area(),
        ],
    )
    .mark()
}

async fn articles_page(state: &AppState, session: &Session, form: Form) -> Page {
    let lang = session.lang;
    let extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    page(
        state,
        session,
        "retail_tab_articles",
        &listings::ARTICLES,
        Vec::new(),
        extras,
        |view, _| {
            for row in &mut view.rows {
                let key = format!("retail_channel_{}", row.text(1));
                row.cells[1].text = lang.t(&key).to_owned();
                let url = format!(
                    "/console/retail/articles/{}/delete",
                    super::percent(row.text(0))
                );
                row.actions
                    .push(Action::post(lang, "retail_delete", url).danger());
            }
        },
    )
    .await
}

async fn articles(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    articles_page(&state, &session, article_form(session.lang)).await
}

async fn create_article(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state
        .retail_data
        .create_article(
            fields.text("channel"),
            fields.text("title"),
            fields.get("content").unwrap_or(""),
            fields.text("author"),
            fields.text("imgsrc"),
        )
        .await
        .map(|_| ());
    settle(&session, &fields, result, article_form(session.lang), |f| {
        articles_page(&state, &session, f)
    })
    .await
}

async fn delete_article(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.retail_data.delete_article(&id).await;
    Ok(done(session.lang, &fields, result))
}

fn guide_form(lang: Lang) -> Form {
    Form::new(
        lang,
        "guide-form",
        "/console/retail/guide",
        "retail_new_guide",
        vec![
            Field::new(lang, "question", "retail_question"),
            Field::new(lang, "answer", "retail_answer").area(),
            Field::new(lang, "position", "retail_position_hint"),
        ],
    )
}

async fn guide_page(state: &AppState, session: &Session, form: Form) -> Page {
    let lang = session.lang;
    let extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    page(
        state,
        session,
        "retail_tab_guide",
        &listings::GUIDE,
        Vec::new(),
        extras,
        |view, _| {
            for row in &mut view.rows {
                row.cells[3].class = "wrap";
                let url = format!(
                    "/console/retail/guide/{}/delete",
                    super::percent(row.text(0))
                );
                row.actions
                    .push(Action::post(lang, "retail_delete", url).danger());
            }
        },
    )
    .await
}

async fn guide(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    guide_page(&state, &session, guide_form(session.lang)).await
}

async fn create_guide(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let position = match fields.text("position") {
        "" => Ok(None),
        _ => number(&fields, "position").map(Some),
    };
    let result = match position {
        Ok(position) => state
            .retail_data
            .create_guide_entry(
                fields.text("question"),
                fields.get("answer").unwrap_or(""),
                position,
            )
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    settle(&session, &fields, result, guide_form(session.lang), |f| {
        guide_page(&state, &session, f)
    })
    .await
}

async fn delete_guide(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = state.retail_data.delete_guide_entry(&id).await;
    Ok(done(session.lang, &fields, result))
}

// --- monthly use -----------------------------------------------------------------------------

async fn use_form(state: &AppState, lang: Lang) -> Result<Form, Fail> {
    Ok(Form::new(
        lang,
        "use-form",
        "/console/retail/monthly-use",
        "retail_put_use",
        vec![
            Field::new(lang, "credit_code", "retail_enterprise")
                .choices(enterprise_choices(state).await?),
            Field::new(lang, "year", "retail_year")
                .value(state.retail_data.this_year().to_string()),
            Field::new(lang, "month", "retail_month"),
            Field::new(lang, "number", "retail_quantity"),
        ],
    )
    .mark())
}

async fn use_page(state: &AppState, session: &Session, form: Form) -> Page {
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let code = params.get("credit_code").map(str::to_owned);
    let year = params.get("year").and_then(|y| y.parse::<i64>().ok());
    let mut filters = Vec::new();
    if let Some(code) = &code {
        filters.push(Filter::Equals(
            "retail_credit_code",
            Cell::Text(code.clone()),
        ));
    }
    if let Some(year) = year {
        filters.push(Filter::Equals("retail_year", Cell::Int(year)));
    }
    let mut extras = Extras {
        form: Some(form),
        ..Extras::default()
    };
    let mut choices = enterprise_choices(state).await?;
    if !choices.is_empty() {
        choices.insert(0, (String::new(), lang.t("retail_all").to_owned()));
    }
    extras.lookup.push(
        Field::new(lang, "credit_code", "retail_enterprise")
            .value(code.clone().unwrap_or_default())
            .choices(choices),
    );
    extras.lookup.push(
        Field::new(lang, "year", "retail_year")
            .value(year.map(|y| y.to_string()).unwrap_or_default()),
    );
    mark_lookup(&mut extras);
    // The chart shows one enterprise's year: the one asked for, else the table's first row's.
    let shown = match code.clone().zip(year) {
        Some(asked) => Some(asked),
        None => {
            let mut first = params.ask(filters.clone());
            first.page = 1;
            first.size = 1;
            state
                .records
                .page(&session.reader(), &listings::MONTHLY_USE, &first)
                .await?
                .rows
                .first()
                .and_then(|r| Some((r.get(1)?.as_str()?.to_owned(), r.get(2)?.as_i64()?)))
        }
    };
    if let Some((code, year)) = shown
        && let Ok(months) = state.retail_data.enterprise_monthly_use(&code, year).await
    {
        let points: Vec<(String, i64)> = (1..=12)
            .map(|m| {
                let v = months.iter().find(|(k, _)| *k == m).map_or(0, |(_, v)| *v);
                (m.to_string(), v)
            })
            .collect();
        let title = format!("{} · {code} · {year}", lang.t("retail_use_chart"));
        extras.chart = Some(chart::bars(&title, &points, &|v| fixed_string(v / 100, 2)));
    }
    page(
        state,
        session,
        "retail_tab_monthly_use",
        &listings::MONTHLY_USE,
        filters,
        extras,
        |view, _| ten_thousandths(view, &[4]),
    )
    .await
}

async fn monthly_use(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let form = use_form(&state, session.lang).await?;
    use_page(&state, &session, form).await
}

async fn put_monthly_use(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let result = match (number(&fields, "year"), number(&fields, "month")) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(year), Ok(month)) => {
            state
                .retail_data
                .put_monthly_use(
                    fields.text("credit_code"),
                    year,
                    month,
                    fields.text("number"),
                )
                .await
        }
    };
    let form = use_form(&state, session.lang).await?;
    settle(&session, &fields, result, form, |f| {
        use_page(&state, &session, f)
    })
    .await
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("retail_tab_companies", "售电公司", "Retail companies"),
    ("retail_tab_enterprises", "企业", "Enterprises"),
    ("retail_tab_users", "用户与绑定", "Users and bindings"),
    ("retail_tab_contracts", "合同", "Contracts"),
    ("retail_tab_bills", "结算单", "Settlement bills"),
    ("retail_tab_feedback", "意见反馈", "Feedback"),
    ("retail_tab_articles", "文章", "Articles"),
    ("retail_tab_guide", "用电指南", "Business guide"),
    ("retail_tab_monthly_use", "月度用电", "Monthly use"),
    ("retail_save", "保存", "Save"),
    ("retail_services", "服务", "Services"),
    (
        "retail_services_hint",
        "服务（用顿号或逗号分隔）",
        "Services (separated by commas)",
    ),
    ("retail_company_name", "售电公司名称", "Company name"),
    ("retail_new_company", "新增售电公司", "New retail company"),
    ("retail_edit_company", "修改售电公司", "Edit retail company"),
    ("retail_credit_code", "统一社会信用代码", "Credit code"),
    ("retail_contact_phone", "企业联系手机", "Contact phone"),
    ("retail_max_users", "可绑定用户数", "Users allowed"),
    ("retail_enterprise_name", "企业名称", "Enterprise name"),
    ("retail_new_enterprise", "新增企业", "New enterprise"),
    ("retail_edit_enterprise", "修改企业", "Edit enterprise"),
    ("retail_enterprise", "企业", "Enterprise"),
    ("retail_company", "售电公司", "Retail company"),
    ("retail_bound_at", "绑定时间", "Bound at"),
    ("retail_binding", "绑定", "Binding"),
    ("retail_all", "全部", "All"),
    ("retail_bound", "已绑定", "Bound"),
    ("retail_unbound", "未绑定", "Not bound"),
    ("retail_unbind", "解除绑定", "Unbind"),
    ("retail_contract_id", "合同编号", "Contract no."),
    (
        "retail_elec_number",
        "合同电量（万千瓦时）",
        "Energy (10 MWh)",
    ),
    ("retail_sign_date", "签订日期", "Signed"),
    ("retail_expire_date", "到期日期", "Expires"),
    (
        "retail_files",
        "附件（用顿号分隔）",
        "Files (separated by commas)",
    ),
    ("retail_new_contract", "新增合同", "New contract"),
    ("retail_edit_contract", "修改合同", "Edit contract"),
    ("retail_fullfill", "已履行", "Fulfilled"),
    ("retail_notfullfill", "未履行", "Not fulfilled"),
    ("retail_bill_date", "账单日期", "Bill date"),
    ("retail_elec_use_date", "用电月份", "Month of use"),
    (
        "retail_user_benefits",
        "用户收益（元）",
        "User benefit (yuan)",
    ),
    ("retail_settle_number", "结算电量", "Settled kWh"),
    ("retail_new_bill", "新增结算账单", "New settlement bill"),
    (
        "retail_bill_number",
        "账单编号（留空自动生成）",
        "Bill number (empty: drawn)",
    ),
    ("retail_actual_elec_use", "实际用电量", "Actual use (kWh)"),
    ("retail_declare_elec_number", "申报电量", "Declared kWh"),
    ("retail_decompose_elec_number", "分解电量", "Allocated kWh"),
    (
        "retail_consultation_earn",
        "协商收益",
        "Negotiated earnings",
    ),
    ("retail_assign_elec_number", "分配电量", "Assigned kWh"),
    ("retail_bid_income", "竞价收益", "Bidding income"),
    ("retail_check_elec_number", "考核电量", "Deviation kWh"),
    ("retail_check_bill", "考核电费", "Deviation fee"),
    ("retail_confirmer", "确认人", "Confirmed by"),
    ("retail_confirm_date", "确认日期", "Confirmed on"),
    ("retail_confirmed", "已确认", "Confirmed"),
    ("retail_unconfirmed", "未确认", "Unconfirmed"),
    ("retail_confirm", "确认账单", "Confirm"),
    ("retail_contact", "联系方式", "Contact"),
    ("retail_picture", "图片", "Picture"),
    ("retail_pictures", "反馈图片", "Pictures"),
    ("retail_channel", "栏目", "Channel"),
    ("retail_channel_recommend", "推荐", "Recommended"),
    ("retail_channel_policy", "政策", "Policy"),
    ("retail_channel_science", "科普", "Science"),
    ("retail_author", "作者", "Author"),
    ("retail_imgsrc", "图片地址", "Image URL"),
    ("retail_new_article", "新增文章", "New article"),
    ("retail_delete", "删除", "Delete"),
    ("retail_position", "顺序", "Position"),
    (
        "retail_position_hint",
        "顺序（留空排在最后）",
        "Position (empty: last)",
    ),
    ("retail_question", "问题", "Question"),
    ("retail_answer", "答案", "Answer"),
    ("retail_new_guide", "新增用电指南", "New guide entry"),
    ("retail_year", "年份", "Year"),
    ("retail_month", "月份", "Month"),
    ("retail_quantity", "用电量（千瓦时）", "Use (kWh)"),
    ("retail_put_use", "录入月度用电", "Enter monthly use"),
    (
        "retail_use_chart",
        "月度用电（千瓦时）",
        "Monthly use (kWh)",
    ),
    ("retail_show", "查看", "Show"),
];
