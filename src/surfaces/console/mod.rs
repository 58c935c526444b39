//! The operators' web console at `/console`: pages rendered by the server from templates
//! checked at compile time (askama, `templates/console/`), a small script and a style sheet built
//! into the binary (`assets/console/`), nothing from elsewhere.
//!
//! It calls the same domain services as the admin API and adds no rule of its own; its tables
//! are the domain's [`Records`](crate::domain::records::Records), paged, searched and sorted in
//! SQL. Operators see every area; the IoT platform's vendors, agents, dealers and platform
//! accounts see the IoT area, each its own range.
//!
//! Every response carries a Content-Security-Policy that allows no inline script or style and
//! nothing from another origin; every text a user wrote is escaped by the templates.

mod charging;
pub mod chart;
mod heating;
pub mod i18n;
mod iot;
mod meter;
mod overview;
mod retail;
pub mod session;
pub mod table;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::domain::Error;
use crate::domain::identity::Password;
use crate::surfaces::{AppState, ClientIp};
use i18n::Lang;
use session::{COOKIE, LANG_COOKIE, Session};

/// The policy every console response carries.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, relative to `/console`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets/{name}", get(asset))
        .merge(overview::routes())
        .merge(heating::routes())
        .merge(meter::routes())
        .merge(retail::routes())
        .merge(charging::routes())
        .merge(iot::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(localized))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// The security headers of every console response, and `Server-Timing: app;dur=` (how long
/// the server took, in milliseconds; bench/console.sh reads it).
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "app;dur={:.2}",
        started.elapsed().as_secs_f64() * 1000.0
    )) {
        h.insert("server-timing", v);
    }
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// A submitted form's fields, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Parses an urlencoded body (what the console's forms send).
    pub fn parse(body: &[u8]) -> Result<Fields, Fail> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Fields)
            .map_err(|_| Fail::BadRequest("the form could not be read".into()))
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("").trim()
    }
}

/// Reads a posted form: same origin, the session's CSRF value, then the fields.
pub fn posted(session: &Session, headers: &HeaderMap, body: &[u8]) -> Result<Fields, Fail> {
    session::same_origin(headers)?;
    let fields = Fields::parse(body)?;
    session.check(&fields)?;
    Ok(fields)
}

/// Why a console request did not get its page.
#[derive(Debug)]
pub enum Fail {
    /// Not signed in: to the sign-in page, then back here.
    SignIn(String),
    Forbidden,
    NotFound,
    Csrf,
    BadRequest(String),
    Domain(Error),
    Internal(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        match e {
            Error::NotFound(_) | Error::Gone(_) => Fail::NotFound,
            Error::Forbidden(_) => Fail::Forbidden,
            other => Fail::Domain(other),
        }
    }
}

impl From<askama::Error> for Fail {
    fn from(e: askama::Error) -> Fail {
        Fail::Internal(e.to_string())
    }
}

/// A domain error as a message for the page (the field it is about first, when it names one).
pub fn message(lang: Lang, e: &Error) -> String {
    match e {
        Error::Invalid(i) => format!("{}: {}", i.field, i.message),
        Error::Unauthorized(_) => lang.t("wrong_password").to_owned(),
        Error::Forbidden(_) => lang.t("forbidden_text").to_owned(),
        Error::RateLimited { .. } => lang.t("locked").to_owned(),
        Error::Internal(_) => lang.t("internal").to_owned(),
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    lang: Lang,
    title: &'static str,
    text: String,
}

impl Fail {
    /// The page for this failure, in a language.
    pub fn page(self, lang: Lang) -> Response {
        let (status, title, text) = match self {
            Fail::SignIn(next) => {
                let next = if next.starts_with("/console/") && !next.starts_with("/console/login") {
                    next
                } else {
                    "/console/".to_owned()
                };
                let to = format!("/console/login?next={}", percent(&next));
                return Redirect::to(&to).into_response();
            }
            Fail::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                lang.t("forbidden_text").to_owned(),
            ),
            Fail::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                lang.t("not_found_text").to_owned(),
            ),
            Fail::Csrf => (
                StatusCode::FORBIDDEN,
                "forbidden",
                lang.t("csrf_failed").to_owned(),
            ),
            Fail::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            Fail::Domain(e) => {
                let status = match &e {
                    Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    Error::Conflict(_) => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                if let Error::Internal(inner) = &e {
                    tracing::error!(error = %format!("{inner:#}"), "console request failed");
                }
                (status, "error", message(lang, &e))
            }
            Fail::Internal(m) => {
                tracing::error!(error = %m, "console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error",
                    lang.t("internal").to_owned(),
                )
            }
        };
        let page = ErrorPage {
            lang,
            title: lang.t(title),
            text,
        };
        match page.render() {
            Ok(html) => (status, html_headers(), html).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

/// A failure on its way out: [`localized`] renders it in the request's language.
#[derive(Clone)]
struct FailSlot(std::sync::Arc<std::sync::Mutex<Option<Fail>>>);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        res.extensions_mut()
            .insert(FailSlot(std::sync::Arc::new(std::sync::Mutex::new(Some(
                self,
            )))));
        res
    }
}

/// Renders a handler's failure as a page in the language the request asked for.
async fn localized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let lang = session::lang_of(&parts);
    let res = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    let fail = res
        .extensions()
        .get::<FailSlot>()
        .and_then(|slot| slot.0.lock().ok().and_then(|mut f| f.take()));
    match fail {
        Some(fail) => fail.page(lang),
        None => res,
    }
}

/// What a page handler answers.
pub type Page = Result<Response, Fail>;

/// Renders a template as the page, or its failure in the session's language.
pub fn html(lang: Lang, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (html_headers(), body).into_response(),
        Err(e) => Fail::Internal(e.to_string()).page(lang),
    }
}

fn html_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "text/html; charset=utf-8")]
}

/// Percent-encodes a query value.
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page after a change: back where the form was, with its message.
pub fn after(back: &str, ok: bool, text: &str) -> Response {
    let back = if back.starts_with("/console/") && !back.starts_with("//") {
        back
    } else {
        "/console/"
    };
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("ok=") && !kv.starts_with("err="))
        .collect();
    let mut to = path.to_owned();
    to.push('?');
    for kv in kept {
        to.push_str(kv);
        to.push('&');
    }
    to.push_str(if ok { "ok=" } else { "err=" });
    to.push_str(&percent(text));
    Redirect::to(&to).into_response()
}

/// A navigation entry.
pub struct Nav {
    pub key: &'static str,
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What the layout shows around every page.
pub struct Chrome {
    pub lang: Lang,
    pub csrf: String,
    pub name: String,
    pub role: &'static str,
    pub nav: Vec<Nav>,
    /// The page's title.
    pub title: String,
    /// A message after a change (`?ok=` / `?err=`).
    pub ok: Option<String>,
    pub err: Option<String>,
    /// This page in the other language.
    pub other_lang: String,
    /// This page's path and query (forms send it back as `_back`).
    pub here: String,
}

impl Chrome {
    /// The chrome of a page of `area`, titled by the word `title`.
    pub fn new(session: &Session, area: &str, title: &str) -> Chrome {
        let lang = session.lang;
        let uri = &session.uri;
        let areas: &[(&str, &str)] = if session.is_operator() {
            &[
                ("area_overview", "/console/overview"),
                ("area_heating", "/console/heating/users"),
                ("area_meter", "/console/meter/households"),
                ("area_retail", "/console/retail/companies"),
                ("area_charging", "/console/charging/live"),
                ("area_iot", "/console/iot/devices"),
            ]
        } else {
            &[("area_iot", "/console/iot/devices")]
        };
        let query = |name: &str| {
            uri.query().and_then(|q| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                    .ok()?
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.chars().take(300).collect::<String>())
            })
        };
        let here = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/console/".into());
        let other = match lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        };
        let mut kept: Vec<(String, String)> = uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k != "lang" && k != "ok" && k != "err")
            .collect();
        kept.push(("lang".into(), other.into()));
        let other_lang = format!(
            "{}?{}",
            uri.path(),
            serde_urlencoded::to_string(&kept).unwrap_or_default()
        );
        Chrome {
            lang,
            csrf: session.csrf.clone(),
            name: session.name().to_owned(),
            role: lang.t(session.role_key()),
            nav: areas
                .iter()
                .map(|(key, href)| Nav {
                    key,
                    href,
                    label: lang.t(key),
                    active: *key == area,
                })
                .collect(),
            title: lang.t(title).to_owned(),
            ok: query("ok"),
            err: query("err"),
            other_lang,
            here,
        }
    }

    /// A word in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

/// A page that is one table (with the area's tabs, and a chart above it if given).
#[derive(Template)]
#[template(path = "console/list.html")]
pub struct ListPage {
    pub c: Chrome,
    pub tabs: Vec<Tab>,
    pub table: table::TableView,
    pub chart: Option<String>,
}

/// What a table page shows.
pub struct ListSpec {
    /// The area's word (`area_heating`), for the navigation.
    pub area: &'static str,
    /// The page title's word.
    pub title: &'static str,
    /// The area's tabs: (word, path).
    pub tabs: &'static [(&'static str, &'static str)],
    pub table: &'static crate::domain::records::Table,
    /// The page's own filters (from its parameters).
    pub filters: Vec<crate::domain::records::Filter>,
    /// The CSV file's name, without `.csv`.
    pub csv_name: &'static str,
}

/// A table page (or, with `?format=csv`, the whole table as CSV); `decorate` adds links and
/// buttons to its rows.
pub async fn list_page(
    state: &AppState,
    session: &Session,
    spec: ListSpec,
    decorate: impl FnOnce(&mut table::TableView),
) -> Page {
    let mut view =
        match table::listed(state, session, spec.table, spec.filters, spec.csv_name).await? {
            table::Listed::Csv(csv) => return Ok(csv),
            table::Listed::Table(view) => view,
        };
    decorate(&mut view);
    Ok(html(
        session.lang,
        &ListPage {
            c: Chrome::new(session, spec.area, spec.title),
            tabs: tabs(session.lang, spec.tabs, session.uri.path()),
            table: view.finish(),
            chart: None,
        },
    ))
}

/// Where a posted form goes back to (its `_back`, a console page).
pub fn back_of(fields: &Fields) -> String {
    fields
        .get("_back")
        .filter(|b| b.starts_with("/console/") && !b.starts_with("//"))
        .unwrap_or("/console/")
        .to_owned()
}

/// The answer to a change posted from a page: back to it with "done", or with the domain's
/// reason (an internal failure is a failure page, not a message).
pub fn done(lang: Lang, fields: &Fields, result: crate::domain::Result<()>) -> Response {
    let back = back_of(fields);
    match result {
        Ok(()) => after(&back, true, lang.t("done")),
        Err(e @ (Error::Internal(_) | Error::Unavailable { .. })) => Fail::from(e).page(lang),
        Err(Error::NotFound(_) | Error::Gone(_)) => after(&back, false, lang.t("not_found_text")),
        Err(e) => after(&back, false, &message(lang, &e)),
    }
}

/// Sub-navigation of an area: (word, href).
pub struct Tab {
    pub label: &'static str,
    pub href: &'static str,
    pub active: bool,
}

/// The tabs of an area, the one at `here` active.
pub fn tabs(lang: Lang, all: &[(&'static str, &'static str)], here: &str) -> Vec<Tab> {
    all.iter()
        .map(|(key, href)| Tab {
            label: lang.t(key),
            href,
            active: here == *href,
        })
        .collect()
}

async fn home(session: Session) -> Response {
    if session.is_operator() {
        Redirect::to("/console/overview").into_response()
    } else {
        Redirect::to("/console/iot/devices").into_response()
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    lang: Lang,
    next: String,
    username: String,
    kind: String,
    error: Option<String>,
    other_lang: String,
}

impl LoginPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

fn next_of(uri: &axum::http::Uri) -> String {
    uri.query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|v| v.into_iter().find(|(k, _)| k == "next").map(|(_, v)| v))
        .filter(|n| n.starts_with("/console/") && !n.starts_with("//"))
        .unwrap_or_else(|| "/console/".into())
}

async fn login_page(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let lang = lang_from(&uri, &headers);
    let next = next_of(&uri);
    let page = LoginPage {
        lang,
        other_lang: format!(
            "/console/login?lang={}&next={}",
            if lang == Lang::Zh { "en" } else { "zh" },
            percent(&next)
        ),
        next,
        username: String::new(),
        kind: "operator".into(),
        error: None,
    };
    with_lang_cookie(html(lang, &page), lang)
}

fn lang_from(uri: &axum::http::Uri, headers: &HeaderMap) -> Lang {
    let mut parts = axum::http::Request::builder()
        .uri(uri.clone())
        .body(())
        .map(|r| r.into_parts().0)
        .unwrap_or_else(|_| axum::http::Request::new(()).into_parts().0);
    parts.headers = headers.clone();
    session::lang_of(&parts)
}

fn with_lang_cookie(mut res: Response, lang: Lang) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/console; Max-Age=31536000; SameSite=Strict",
        lang.key()
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = lang_from(&uri, &headers);
    if let Err(f) = session::same_origin(&headers) {
        return f.page(lang);
    }
    let fields = match Fields::parse(&body) {
        Ok(f) => f,
        Err(f) => return f.page(lang),
    };
    let username = fields
        .text("username")
        .chars()
        .take(100)
        .collect::<String>();
    let password = fields.get("password").unwrap_or("");
    let kind = if fields.text("kind") == "iot" {
        "iot"
    } else {
        "operator"
    };
    let next = fields
        .get("next")
        .filter(|n| n.starts_with("/console/") && !n.starts_with("//"))
        .unwrap_or("/console/")
        .to_owned();
    let signed = if kind == "iot" {
        match Password::presented(&crate::domain::iot::password_digest(password), "password") {
            Err(e) => Err(e),
            Ok(password) => state
                .iot
                .members
                .login(
                    crate::domain::iot::members::LogIn {
                        password,
                        who: crate::domain::iot::members::Who::User(username.clone()),
                    },
                    ip,
                )
                .await
                .and_then(|(token, party)| {
                    if party.role == crate::domain::iot::Role::Member {
                        Err(Error::Forbidden(crate::domain::Forbidden::AccountDisabled))
                    } else {
                        Ok(format!("i.{token}"))
                    }
                }),
        }
    } else {
        state
            .operators
            .login(&username, password, ip)
            .await
            .map(|t| format!("o.{}", t.token))
    };
    match signed {
        Ok(cookie) => {
            let secure = if session::secure(&state, &headers) {
                "; Secure"
            } else {
                ""
            };
            let mut res = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Strict{secure}"
            )) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let error = match &e {
                Error::Forbidden(_) if kind == "iot" => lang.t("not_for_console").to_owned(),
                Error::Forbidden(_) => lang.t("disabled_account").to_owned(),
                Error::Internal(_) | Error::Unavailable { .. } => return Fail::from(e).page(lang),
                other => message(lang, other),
            };
            let page = LoginPage {
                lang,
                other_lang: format!(
                    "/console/login?lang={}&next={}",
                    if lang == Lang::Zh { "en" } else { "zh" },
                    percent(&next)
                ),
                next,
                username,
                kind: kind.into(),
                error: Some(error),
            };
            let mut res = html(lang, &page);
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(f) = posted(&session, &headers, &body) {
        return f.page(session.lang);
    }
    if let Some(token) = session.cookie.strip_prefix("o.") {
        let _ = state.operators.logout(token).await;
    } else if let Some(token) = session.cookie.strip_prefix("i.") {
        let _ = state.iot.members.logout(token).await;
    }
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "uh_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    res
}

/// The built-in assets: (name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/console/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/console/console.js"),
    ),
];

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => Fail::NotFound.page(Lang::Zh),
    }
}

async fn not_found(req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    Fail::NotFound.page(session::lang_of(&parts))
}
