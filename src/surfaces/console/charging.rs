//! The console's charging area (seed 004): the live station (piles, the car on each, its queue,
//! the waiting area; refreshed by the page's script from a fragment of the same template), the
//! piles' switches, reports per pile by day, week and month, the detail records, the station's
//! tariff and set-up, the drivers' accounts, and the OCPP charge boxes and drivers' cards
//! ([`boxes`]).
//!
//! Every change goes through the same service calls as the admin API
//! (`src/surfaces/admin/charging.rs`): `pile_action` (then the charge boxes hear of it),
//! `set_config` with the keys of `PUT /admin/v1/charging/config`, `create_driver`.
//!
//! The live fragment shows no clock of its own (no "queued for N seconds"), so that an unchanged
//! station gives the same HTML and the page is not rewritten every second.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::session::Session;
use super::table::{self, Params, TableView};
use super::{Chrome, Fail, ListSpec, Page, Tab, after, chart, done, html, list_page, posted};
use crate::domain::Error;
use crate::domain::Timestamp;
use crate::domain::charging::service::{CarState, CarView, PileAction, PileView};
use crate::domain::charging::settings::StationSettings;
use crate::domain::charging::station::{Mode, PileState};
use crate::domain::money::Fen;
use crate::domain::records::tables::charging::{DRIVERS, RECORDS};
use crate::surfaces::AppState;

pub mod boxes;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/charging/live", get(live_page))
        .route("/charging/live/fragment", get(live_fragment))
        .route("/charging/piles/{id}/state", post(pile_state))
        .route("/charging/report", get(report))
        .route("/charging/records", get(records))
        .route("/charging/config", get(config_page).post(config_save))
        .route("/charging/drivers", get(drivers_page).post(driver_create))
        .route(
            "/charging/boxes",
            get(boxes::boxes_page).post(boxes::box_save),
        )
        .route("/charging/boxes/delete", post(boxes::box_delete))
        .route("/charging/piles/{id}/reset", post(boxes::pile_reset))
        .route("/charging/piles/{id}/unlock", post(boxes::pile_unlock))
        .route(
            "/charging/cards",
            get(boxes::cards_page).post(boxes::card_save),
        )
        .route("/charging/cards/delete", post(boxes::card_delete))
}

const AREA: &str = "area_charging";

/// The area's tabs.
const TABS: &[(&str, &str)] = &[
    ("chg_live", "/console/charging/live"),
    ("chg_report", "/console/charging/report"),
    ("chg_records", "/console/charging/records"),
    ("chg_config", "/console/charging/config"),
    ("chg_drivers", "/console/charging/drivers"),
    ("chg_boxes", "/console/charging/boxes"),
    ("chg_cards", "/console/charging/cards"),
];

fn area_tabs(session: &Session) -> Vec<Tab> {
    super::tabs(session.lang, TABS, session.uri.path())
}

fn yuan(fen: i64) -> String {
    Fen(fen).yuan_string()
}

/// Energy in kWh, up to three decimals (the station counts Wh).
fn kwh(wh: i64) -> String {
    crate::domain::money::fixed_string(wh, 3)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

fn mode_key(m: Mode) -> &'static str {
    match m {
        Mode::Fast => "chg_fast",
        Mode::Slow => "chg_slow",
    }
}

// ---------------------------------------------------------------- live

/// A car as the live view shows it.
pub struct CarLine {
    pub number: String,
    pub user: String,
    pub mode: &'static str,
    pub state: &'static str,
    pub requested: String,
    pub charged: String,
    pub requested_wh: i64,
    pub charged_wh: i64,
    pub fee: String,
    pub ahead: usize,
}

impl CarLine {
    fn of(session: &Session, c: &CarView) -> CarLine {
        let lang = session.lang;
        CarLine {
            number: c.number.clone(),
            user: c.user.clone(),
            mode: lang.t(mode_key(c.mode)),
            state: lang.t(match c.state {
                CarState::Waiting => "chg_car_waiting",
                CarState::Queued => "chg_car_queued",
                CarState::Charging => "chg_car_charging",
                CarState::Displaced => "chg_car_displaced",
            }),
            requested: kwh(c.requested_wh),
            charged: kwh(c.charged_wh),
            requested_wh: c.requested_wh.max(1),
            charged_wh: c.charged_wh.clamp(0, c.requested_wh.max(1)),
            fee: yuan(c.fee_so_far),
            ahead: c.ahead,
        }
    }
}

/// A pile's button: the action posted and its word.
pub struct PileButton {
    pub action: &'static str,
    pub label: &'static str,
    pub danger: bool,
}

/// A pile as the live view shows it.
pub struct PileCard {
    pub id: String,
    pub no: i64,
    pub mode: &'static str,
    /// `working`, `off` or `fault` (CSS classes and the tests read it).
    pub state: &'static str,
    pub state_label: &'static str,
    pub tag: &'static str,
    pub power: String,
    pub ocpp: Option<String>,
    pub charging: Option<CarLine>,
    pub queue: Vec<CarLine>,
    pub buttons: Vec<PileButton>,
}

/// What the live fragment shows.
pub struct LiveView {
    pub piles: Vec<PileCard>,
    pub waiting: Vec<CarLine>,
    pub displaced: Vec<CarLine>,
    pub capacity: usize,
}

fn pile_card(session: &Session, p: &PileView) -> PileCard {
    let lang = session.lang;
    let (state, tag) = match p.state {
        PileState::Working => ("working", "tag-ok"),
        PileState::Off => ("off", "tag-warn"),
        PileState::Fault => ("fault", "tag-bad"),
    };
    let button = |action: &'static str, danger: bool| PileButton {
        action,
        label: lang.t(match action {
            "off" => "chg_do_off",
            "on" => "chg_do_on",
            "fault" => "chg_do_fault",
            _ => "chg_do_recover",
        }),
        danger,
    };
    let buttons = match p.state {
        PileState::Working => vec![button("off", false), button("fault", true)],
        PileState::Off => vec![button("on", false), button("fault", true)],
        PileState::Fault => vec![button("recover", false)],
    };
    let mut cars = p.cars.iter();
    let charging = match p.cars.first() {
        Some(c) if c.state == CarState::Charging => cars.next().map(|c| CarLine::of(session, c)),
        _ => None,
    };
    PileCard {
        id: p.id.clone(),
        no: p.no,
        mode: lang.t(mode_key(p.mode)),
        state,
        state_label: lang.t(match p.state {
            PileState::Working => "chg_working",
            PileState::Off => "chg_off",
            PileState::Fault => "chg_fault",
        }),
        tag,
        power: kwh(p.power_w),
        ocpp: p.charge_box.clone(),
        charging,
        queue: cars.map(|c| CarLine::of(session, c)).collect(),
        buttons,
    }
}

async fn live_view(state: &AppState, session: &Session) -> Result<LiveView, Fail> {
    let piles = state.charging.piles().await?;
    let (waiting, displaced) = state.charging.waiting().await?;
    let capacity = state.charging.config().await?.waiting_capacity;
    Ok(LiveView {
        piles: piles.iter().map(|p| pile_card(session, p)).collect(),
        waiting: waiting.iter().map(|c| CarLine::of(session, c)).collect(),
        displaced: displaced.iter().map(|c| CarLine::of(session, c)).collect(),
        capacity,
    })
}

#[derive(Template)]
#[template(path = "console/chg_live.html")]
struct LivePage {
    c: Chrome,
    tabs: Vec<Tab>,
    live: LiveView,
}

#[derive(Template)]
#[template(path = "console/chg_live_fragment.html")]
struct LiveFragment {
    c: Chrome,
    live: LiveView,
}

async fn live_page(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let live = live_view(&state, &session).await?;
    Ok(html(
        session.lang,
        &LivePage {
            c: Chrome::new(&session, AREA, "chg_live_title"),
            tabs: area_tabs(&session),
            live,
        },
    ))
}

/// The inner HTML of the live page's `#live`, fetched by its script every second.
async fn live_fragment(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let live = live_view(&state, &session).await?;
    Ok(html(
        session.lang,
        &LiveFragment {
            c: Chrome::new(&session, AREA, "chg_live_title"),
            live,
        },
    ))
}

/// `POST /console/charging/piles/{id}/state` `state=on|off|fault|recover`: as
/// `POST /admin/v1/charging/piles/{id}/state`.
async fn pile_state(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let action = match fields.text("state") {
        "on" => PileAction::On,
        "off" => PileAction::Off,
        "fault" => PileAction::Fault,
        "recover" => PileAction::Recover,
        _ => {
            return Ok(done(
                session.lang,
                &fields,
                Err(Error::invalid("state", session.lang.t("chg_bad_state"))),
            ));
        }
    };
    let result = state.charging.pile_action(&id, action).await;
    if result.is_ok() {
        state
            .boxes
            .operator_changed(&id, action == PileAction::Fault)
            .await;
        tracing::info!(operator = %session.name(), pile = %id, ?action, "charging pile state changed from the console");
    }
    Ok(done(session.lang, &fields, result))
}

// ---------------------------------------------------------------- report

/// One pile's line of a report.
pub struct ReportLine {
    pub pile: String,
    pub sessions: i64,
    pub hours: String,
    pub kwh: String,
    pub charge_fee: String,
    pub service_fee: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "console/chg_report.html")]
struct ReportPage {
    c: Chrome,
    tabs: Vec<Tab>,
    period: String,
    date: String,
    from: String,
    to: String,
    error: Option<String>,
    lines: Vec<ReportLine>,
    total: Option<ReportLine>,
    kwh_chart: Option<String>,
    fee_chart: Option<String>,
    csv: String,
}

/// The local dates `[from, to)` of the day, week (Monday first) or month holding `date`, as
/// `GET /admin/v1/charging/report` reads them.
fn period_dates(period: &str, date: time::Date) -> Option<(time::Date, time::Date)> {
    match period {
        "day" => Some((date, date.next_day()?)),
        "week" => {
            let monday = date.checked_sub(time::Duration::days(i64::from(
                date.weekday().number_days_from_monday(),
            )))?;
            Some((monday, monday.checked_add(time::Duration::days(7))?))
        }
        "month" => {
            let first = date.replace_day(1).ok()?;
            let (y, m) = if first.month() == time::Month::December {
                (first.year() + 1, time::Month::January)
            } else {
                (first.year(), first.month().next())
            };
            Some((first, time::Date::from_calendar_date(y, m, 1).ok()?))
        }
        _ => None,
    }
}

fn hours(ms: i64) -> String {
    format!("{:.2}", ms as f64 / 3_600_000.0)
}

async fn report(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let lang = session.lang;
    let params = Params::of(&session.uri);
    let zone = state.settings.zone;
    let period = params.get("period").unwrap_or("day").to_owned();
    let date_text = params.get("date").map(str::to_owned);
    let date = match date_text.as_deref() {
        None => Some(state.now().local_calendar_date(zone)),
        Some(d) => crate::domain::time::parse_date(d),
    };
    let date_shown = date
        .map(crate::domain::time::date_string)
        .or(date_text)
        .unwrap_or_default();
    let range = match (period.as_str(), date) {
        ("day" | "week" | "month", None) => Err(lang.t("chg_bad_date")),
        ("day" | "week" | "month", Some(d)) => {
            period_dates(&period, d).ok_or(lang.t("chg_bad_date"))
        }
        _ => Err(lang.t("chg_bad_period")),
    };
    let mut page = ReportPage {
        c: Chrome::new(&session, AREA, "chg_report_title"),
        tabs: area_tabs(&session),
        period: period.clone(),
        date: date_shown.clone(),
        from: String::new(),
        to: String::new(),
        error: None,
        lines: Vec::new(),
        total: None,
        kwh_chart: None,
        fee_chart: None,
        csv: params.link(session.uri.path(), &[("format", Some("csv".into()))]),
    };
    let (from, to) = match range {
        Ok(r) => r,
        Err(e) => {
            if params.csv {
                return Err(Fail::BadRequest(e.to_owned()));
            }
            page.error = Some(e.to_owned());
            let mut res = html(lang, &page);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let sums = state
        .charging
        .report(
            Timestamp::start_of_local_date(from, zone).millis(),
            Timestamp::start_of_local_date(to, zone).millis(),
        )
        .await?;
    let mut t = (0i64, 0i64, 0i64, 0i64, 0i64);
    page.lines = sums
        .iter()
        .map(|s| {
            t.0 += s.sessions;
            t.1 += s.ms;
            t.2 += s.wh;
            t.3 += s.charge_fee;
            t.4 += s.service_fee;
            ReportLine {
                pile: s.pile.clone(),
                sessions: s.sessions,
                hours: hours(s.ms),
                kwh: kwh(s.wh),
                charge_fee: yuan(s.charge_fee),
                service_fee: yuan(s.service_fee),
                total: yuan(s.charge_fee + s.service_fee),
            }
        })
        .collect();
    let total = ReportLine {
        pile: lang.t("chg_all_piles").to_owned(),
        sessions: t.0,
        hours: hours(t.1),
        kwh: kwh(t.2),
        charge_fee: yuan(t.3),
        service_fee: yuan(t.4),
        total: yuan(t.3 + t.4),
    };
    if params.csv {
        return report_csv(&session, &page.lines, &total, &period, &date_shown);
    }
    let energy: Vec<(String, i64)> = sums.iter().map(|s| (s.pile.clone(), s.wh)).collect();
    let fees: Vec<(String, i64)> = sums
        .iter()
        .map(|s| (s.pile.clone(), s.charge_fee + s.service_fee))
        .collect();
    page.kwh_chart = Some(chart::bars(lang.t("chg_kwh_by_pile"), &energy, &|wh| {
        kwh(wh)
    }));
    page.fee_chart = Some(chart::bars(lang.t("chg_fee_by_pile"), &fees, &|f| yuan(f)));
    page.from = crate::domain::time::date_string(from);
    page.to = to
        .previous_day()
        .map(crate::domain::time::date_string)
        .unwrap_or_default();
    page.total = Some(total);
    Ok(html(lang, &page))
}

fn report_csv(
    session: &Session,
    lines: &[ReportLine],
    total: &ReportLine,
    period: &str,
    date: &str,
) -> Page {
    let lang = session.lang;
    let fail = |e: csv::Error| Fail::Internal(e.to_string());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(
        [
            "chg_pile",
            "chg_sessions",
            "chg_hours",
            "chg_kwh",
            "chg_charge_fee",
            "chg_service_fee",
            "chg_total_fee",
        ]
        .map(|k| lang.t(k)),
    )
    .map_err(fail)?;
    for l in lines.iter().chain([total]) {
        out.write_record([
            l.pile.as_str(),
            &l.sessions.to_string(),
            &l.hours,
            &l.kwh,
            &l.charge_fee,
            &l.service_fee,
            &l.total,
        ])
        .map_err(fail)?;
    }
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(
        out.into_inner()
            .map_err(|e| Fail::Internal(e.to_string()))?,
    );
    // The period and date are checked words and a parsed date: safe in a file name.
    let disposition = format!("attachment; filename=\"charging-report-{period}-{date}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

// ---------------------------------------------------------------- records

async fn records(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let params = Params::of(&session.uri);
    let mut filters = Vec::new();
    if let Some(pile) = params.get("pile") {
        filters.push(crate::domain::records::Filter::Equals(
            "chg_pile",
            crate::domain::records::Cell::Text(pile.chars().take(40).collect()),
        ));
    }
    let lang = session.lang;
    list_page(
        &state,
        &session,
        ListSpec {
            area: AREA,
            title: "chg_records_title",
            tabs: TABS,
            table: &RECORDS,
            filters,
            csv_name: "charging-records",
        },
        |view| {
            for row in &mut view.rows {
                if let Some(cell) = row.cells.get_mut(11) {
                    cell.text = lang.t(reason_key(&cell.text)).to_owned();
                }
                let wh = row.int(4).unwrap_or(0);
                if let Some(cell) = row.cells.get_mut(4) {
                    cell.text = kwh(wh);
                }
                let pile = row.text(3).to_owned();
                if let Some(cell) = row.cells.get_mut(3) {
                    cell.href = Some(format!(
                        "/console/charging/records?pile={}",
                        super::percent(&pile)
                    ));
                }
            }
        },
    )
    .await
}

fn reason_key(reason: &str) -> &'static str {
    match reason {
        "finished" => "chg_reason_finished",
        "cancelled" => "chg_reason_cancelled",
        "fault" => "chg_reason_fault",
        "off" => "chg_reason_off",
        _ => "chg_reason_other",
    }
}

// ---------------------------------------------------------------- config

/// The configuration form's fields, as typed.
#[derive(Default)]
pub struct ConfigForm {
    pub fast_piles: String,
    pub slow_piles: String,
    pub fast_power_kw: String,
    pub slow_power_kw: String,
    pub waiting_capacity: String,
    pub queue_len: String,
    pub fault_policy: String,
    pub service_fee: String,
    /// One period a line: `HH:MM-HH:MM price`.
    pub periods: String,
}

impl ConfigForm {
    fn of(s: &StationSettings) -> ConfigForm {
        ConfigForm {
            fast_piles: s.fast_piles.to_string(),
            slow_piles: s.slow_piles.to_string(),
            fast_power_kw: s.fast_power_kw.to_string(),
            slow_power_kw: s.slow_power_kw.to_string(),
            waiting_capacity: s.waiting_capacity.to_string(),
            queue_len: s.queue_len.to_string(),
            fault_policy: s.fault_policy.clone(),
            service_fee: format!("{:.2}", s.service_fee),
            periods: s
                .periods
                .iter()
                .map(|p| format!("{}-{} {:.2}", p.from, p.to, p.price))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// An error shown next to a field.
pub struct FieldError {
    pub field: &'static str,
    pub text: String,
}

#[derive(Template)]
#[template(path = "console/chg_config.html")]
struct ConfigPage {
    c: Chrome,
    tabs: Vec<Tab>,
    f: ConfigForm,
    errors: Vec<FieldError>,
    /// An error about no one field.
    error: Option<String>,
}

impl ConfigPage {
    fn error_of(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.text.as_str())
    }
}

async fn config_page(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    let config = state.charging.config().await?;
    Ok(html(
        session.lang,
        &ConfigPage {
            c: Chrome::new(&session, AREA, "chg_config_title"),
            tabs: area_tabs(&session),
            f: ConfigForm::of(&StationSettings::from_config(&config)),
            errors: Vec::new(),
            error: None,
        },
    ))
}

/// The form read as the keys of `PUT /admin/v1/charging/config`, or the fields in error.
fn config_changes(
    session: &Session,
    f: &ConfigForm,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let lang = session.lang;
    let mut errors = Vec::new();
    let mut out = Map::new();
    let mut count = |field: &'static str, text: &str, out: &mut Map<String, Value>| match text
        .trim()
        .parse::<u64>()
    {
        Ok(n) => {
            out.insert(field.into(), json!(n));
        }
        Err(_) => errors.push(FieldError {
            field,
            text: lang.t("chg_need_count").to_owned(),
        }),
    };
    count("fast_piles", &f.fast_piles, &mut out);
    count("slow_piles", &f.slow_piles, &mut out);
    count("waiting_capacity", &f.waiting_capacity, &mut out);
    count("queue_len", &f.queue_len, &mut out);
    let mut number = |field: &'static str, text: &str, out: &mut Map<String, Value>| match text
        .trim()
        .parse::<f64>()
    {
        Ok(n) if n.is_finite() => {
            out.insert(field.into(), json!(n));
        }
        _ => errors.push(FieldError {
            field,
            text: lang.t("chg_need_number").to_owned(),
        }),
    };
    number("fast_power_kw", &f.fast_power_kw, &mut out);
    number("slow_power_kw", &f.slow_power_kw, &mut out);
    number("service_fee", &f.service_fee, &mut out);
    out.insert("fault_policy".into(), json!(f.fault_policy.trim()));
    let mut periods = Vec::new();
    for line in f.periods.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.split_whitespace();
        let span = parts.next().and_then(|s| s.split_once('-'));
        let price = parts.next().and_then(|p| p.parse::<f64>().ok());
        match (span, price, parts.next()) {
            (Some((from, to)), Some(price), None) if price.is_finite() => {
                periods.push(json!({"from": from, "to": to, "price": price}));
            }
            _ => {
                errors.push(FieldError {
                    field: "periods",
                    text: format!("{}: {line}", lang.t("chg_bad_period_line")),
                });
                break;
            }
        }
    }
    out.insert("periods".into(), Value::Array(periods));
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

async fn config_save(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let text = |k: &str| fields.get(k).unwrap_or("").chars().take(2000).collect();
    let form = ConfigForm {
        fast_piles: text("fast_piles"),
        slow_piles: text("slow_piles"),
        fast_power_kw: text("fast_power_kw"),
        slow_power_kw: text("slow_power_kw"),
        waiting_capacity: text("waiting_capacity"),
        queue_len: text("queue_len"),
        fault_policy: text("fault_policy"),
        service_fee: text("service_fee"),
        periods: text("periods"),
    };
    let page = |f: ConfigForm, errors: Vec<FieldError>, error: Option<String>, status| {
        let mut res = html(
            session.lang,
            &ConfigPage {
                c: Chrome::new(&session, AREA, "chg_config_title"),
                tabs: area_tabs(&session),
                f,
                errors,
                error,
            },
        );
        *res.status_mut() = status;
        res
    };
    let changes = match config_changes(&session, &form) {
        Ok(c) => c,
        Err(errors) => return Ok(page(form, errors, None, StatusCode::UNPROCESSABLE_ENTITY)),
    };
    match state.charging.set_config(changes).await {
        Ok(_) => {
            tracing::info!(operator = %session.name(), "charging configuration changed from the console");
            Ok(after(
                "/console/charging/config",
                true,
                session.lang.t("done"),
            ))
        }
        Err(Error::Invalid(i)) => {
            let known = [
                "fast_piles",
                "slow_piles",
                "fast_power_kw",
                "slow_power_kw",
                "waiting_capacity",
                "queue_len",
                "fault_policy",
                "service_fee",
                "periods",
            ];
            match known.iter().find(|k| **k == i.field) {
                Some(field) => Ok(page(
                    form,
                    vec![FieldError {
                        field,
                        text: i.message,
                    }],
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )),
                None => Ok(page(
                    form,
                    Vec::new(),
                    Some(format!("{}: {}", i.field, i.message)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )),
            }
        }
        Err(Error::State(m)) => Ok(page(
            form,
            Vec::new(),
            Some(format!("{} ({m})", session.lang.t("chg_station_busy"))),
            StatusCode::CONFLICT,
        )),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- drivers

#[derive(Template)]
#[template(path = "console/chg_drivers.html")]
struct DriversPage {
    c: Chrome,
    tabs: Vec<Tab>,
    table: TableView,
    username: String,
    username_error: Option<String>,
    password_error: Option<String>,
}

async fn drivers_view(
    state: &AppState,
    session: &Session,
    username: String,
    username_error: Option<String>,
    password_error: Option<String>,
) -> Page {
    let view = match table::listed(state, session, &DRIVERS, Vec::new(), "charging-drivers").await?
    {
        table::Listed::Csv(csv) => return Ok(csv),
        table::Listed::Table(view) => view,
    };
    Ok(html(
        session.lang,
        &DriversPage {
            c: Chrome::new(session, AREA, "chg_drivers_title"),
            tabs: area_tabs(session),
            table: view.finish(),
            username,
            username_error,
            password_error,
        },
    ))
}

async fn drivers_page(State(state): State<AppState>, session: Session) -> Page {
    session.operator_only()?;
    drivers_view(&state, &session, String::new(), None, None).await
}

/// `POST /console/charging/drivers` `username, password`: as `POST /admin/v1/charging/drivers`.
async fn driver_create(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    session.operator_only()?;
    let fields = posted(&session, &headers, &body)?;
    let username: String = fields.text("username").chars().take(100).collect();
    let password = fields.get("password").unwrap_or("");
    match state.charging.create_driver(&username, password).await {
        Ok(driver) => {
            tracing::info!(operator = %session.name(), driver = %driver.username, "charging driver created from the console");
            Ok(after(
                "/console/charging/drivers",
                true,
                session.lang.t("done"),
            ))
        }
        Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let (user_err, pass_err) = match &e {
                Error::Conflict(_) => (Some(session.lang.t("chg_username_taken").to_owned()), None),
                Error::Invalid(i) if i.field == "password" => (None, Some(i.message.clone())),
                Error::Invalid(i) => (Some(i.message.clone()), None),
                _ => (None, None),
            };
            let mut res = drivers_view(&state, &session, username, user_err, pass_err).await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub const WORDS: &[(&str, &str, &str)] = &[
    ("chg_live", "实时", "Live"),
    ("chg_report", "报表", "Reports"),
    ("chg_records", "充电详单", "Records"),
    ("chg_config", "配置", "Configuration"),
    ("chg_drivers", "司机", "Drivers"),
    ("chg_live_title", "充电站实时状态", "Charging station, live"),
    ("chg_report_title", "充电桩报表", "Reports per pile"),
    ("chg_records_title", "充电详单", "Charging records"),
    ("chg_config_title", "计费与充电站配置", "Tariff and station"),
    ("chg_drivers_title", "司机账号", "Driver accounts"),
    ("chg_fast", "快充", "Fast"),
    ("chg_slow", "慢充", "Slow"),
    ("chg_working", "工作中", "Working"),
    ("chg_off", "已关闭", "Off"),
    ("chg_fault", "故障", "Fault"),
    ("chg_do_off", "关闭", "Switch off"),
    ("chg_do_on", "开启", "Switch on"),
    ("chg_do_fault", "登记故障", "Record fault"),
    ("chg_do_recover", "故障恢复", "Record recovery"),
    ("chg_bad_state", "未知的操作", "Unknown action"),
    ("chg_car_waiting", "等候区", "Waiting"),
    ("chg_car_queued", "排队中", "Queued"),
    ("chg_car_charging", "充电中", "Charging"),
    ("chg_car_displaced", "待重新调度", "To be placed again"),
    ("chg_idle", "空闲", "Idle"),
    ("chg_queue", "排队", "Queue"),
    ("chg_queue_empty", "无排队车辆", "No car queued"),
    ("chg_waiting_area", "等候区", "Waiting area"),
    ("chg_waiting_empty", "等候区没有车辆", "No car waiting"),
    (
        "chg_displaced",
        "故障调度中的车辆",
        "Cars taken off failed piles",
    ),
    ("chg_capacity", "容量", "Capacity"),
    ("chg_ahead", "前方车辆", "Ahead"),
    ("chg_fee_so_far", "已产生费用（元）", "Fee so far (yuan)"),
    ("chg_power_kw", "功率 kW", "Power kW"),
    ("chg_pile", "充电桩", "Pile"),
    ("chg_mode", "模式", "Mode"),
    ("chg_number", "排队号码", "Number"),
    ("chg_driver", "用户", "Driver"),
    ("chg_kwh", "充电量（度）", "Energy (kWh)"),
    ("chg_wh", "充电量（度）", "Energy (kWh)"),
    ("chg_sessions", "充电次数", "Sessions"),
    ("chg_hours", "充电时长（小时）", "Charging time (h)"),
    ("chg_charge_fee", "充电费用（元）", "Charging fee (yuan)"),
    ("chg_service_fee", "服务费用（元）", "Service fee (yuan)"),
    ("chg_total_fee", "总费用（元）", "Total (yuan)"),
    ("chg_requested_at", "申请时间", "Requested"),
    ("chg_start", "启动时间", "Start"),
    ("chg_stop", "停止时间", "Stop"),
    ("chg_reason", "结束原因", "Ended by"),
    ("chg_reason_finished", "充满", "Finished"),
    ("chg_reason_cancelled", "取消", "Cancelled"),
    ("chg_reason_fault", "充电桩故障", "Pile fault"),
    ("chg_reason_off", "充电桩关闭", "Pile switched off"),
    ("chg_reason_other", "其他", "Other"),
    ("chg_period", "周期", "Period"),
    ("chg_day", "日", "Day"),
    ("chg_week", "周", "Week"),
    ("chg_month", "月", "Month"),
    ("chg_show", "查看", "Show"),
    ("chg_range", "统计区间", "Period"),
    ("chg_all_piles", "合计", "All piles"),
    (
        "chg_kwh_by_pile",
        "各充电桩充电量（度）",
        "Energy by pile (kWh)",
    ),
    (
        "chg_fee_by_pile",
        "各充电桩总费用（元）",
        "Fees by pile (yuan)",
    ),
    (
        "chg_bad_date",
        "日期格式应为 YYYY-MM-DD",
        "The date must be YYYY-MM-DD",
    ),
    (
        "chg_bad_period",
        "周期应为日、周或月",
        "The period must be day, week or month",
    ),
    ("chg_fast_piles", "快充桩数量", "Fast piles"),
    ("chg_slow_piles", "慢充桩数量", "Slow piles"),
    ("chg_fast_power", "快充功率（kW）", "Fast power (kW)"),
    ("chg_slow_power", "慢充功率（kW）", "Slow power (kW)"),
    (
        "chg_waiting_capacity",
        "等候区车位（N）",
        "Waiting places (N)",
    ),
    (
        "chg_queue_len",
        "充电桩排队队列长度（M）",
        "Places per pile queue (M)",
    ),
    ("chg_fault_policy", "故障调度策略", "Fault policy"),
    ("chg_policy_priority", "优先级调度", "Priority"),
    ("chg_policy_time", "时间顺序调度", "Time order"),
    (
        "chg_service_price",
        "服务费单价（元/度）",
        "Service fee (yuan/kWh)",
    ),
    (
        "chg_periods",
        "分时电价（每行：起-止 单价）",
        "Time-of-use prices (a line each: from-to price)",
    ),
    (
        "chg_periods_hint",
        "例如 10:00-15:00 1.00；24:00 表示当天结束",
        "e.g. 10:00-15:00 1.00; 24:00 is the end of the day",
    ),
    (
        "chg_structural_hint",
        "充电桩数量、功率和排队队列长度只能在站内没有车辆时修改",
        "Pile counts, powers and the queue length change only when no car is at the station",
    ),
    ("chg_save", "保存", "Save"),
    (
        "chg_need_count",
        "请输入非负整数",
        "Enter a whole number (0 or more)",
    ),
    ("chg_need_number", "请输入数字", "Enter a number"),
    (
        "chg_bad_period_line",
        "格式应为 HH:MM-HH:MM 单价",
        "Write HH:MM-HH:MM price",
    ),
    (
        "chg_station_busy",
        "站内有车辆，暂不能修改充电桩设置",
        "Cars are at the station: the piles cannot change now",
    ),
    ("chg_username", "用户名", "User name"),
    ("chg_password", "密码", "Password"),
    ("chg_cards", "充电卡", "Cards"),
    ("chg_new_driver", "新建司机账号", "New driver account"),
    ("chg_create", "创建", "Create"),
    (
        "chg_username_taken",
        "用户名已存在",
        "This user name is taken",
    ),
    ("chg_ocpp", "OCPP 充电桩", "OCPP pile"),
];
