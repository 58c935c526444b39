//! The wire: one folder per API document, plus the admin API, mounted under their prefixes and,
//! with `--surface-bind NAME=ADDR`, at the root of their own listeners.

pub mod admin;
pub mod body;
pub mod captcha;
pub mod charging;
pub mod console;
pub mod docs;
pub mod heating;
pub mod iot;
pub mod listener;
pub mod meter;
pub mod mqtt;
pub mod ocpp;
pub mod payments;
pub mod ratelimit;
pub mod retail;
pub mod state;

use axum::Router;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::telemetry::{RequestTelemetry, track};
pub use state::AppState;

/// Surfaces that can be served on their own listener.
pub const SURFACES: [&str; 6] = ["heating", "meter", "retail", "charging", "iot", "admin"];

/// Adds `Retry-After: <seconds>` to a refusal that says when to come back.
pub fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(value) = seconds.and_then(|s| header::HeaderValue::from_str(&s.to_string()).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The bearer token of `Authorization: Bearer <token>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's IP: the socket peer, or behind a trusted proxy (`server.trust_forwarded_for`)
/// the last `X-Forwarded-For` entry, the one the proxy itself added (earlier entries are
/// whatever the client chose to send).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.server.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientIp(forwarded));
            }
        }
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

/// The route of a surface's OpenAPI document (built into the binary).
pub fn openapi_route(doc: &'static str) -> axum::routing::MethodRouter<AppState> {
    get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc) })
}

/// The longest error message any envelope carries, in characters.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// An error message cut to [`MAX_MESSAGE_CHARS`]: a message may quote what the client sent,
/// and a client must not get an 8 MB header line back.
pub fn clip(message: &str) -> std::borrow::Cow<'_, str> {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => std::borrow::Cow::Borrowed(message),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &message[..cut])),
    }
}

/// The value of cookie `name`, if the request has it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn tracked(router: Router, surface: &'static str, state: &AppState) -> Router {
    router.layer(from_fn_with_state(
        RequestTelemetry {
            surface,
            metrics: state.metrics.clone(),
        },
        track,
    ))
}

/// One surface's routes at the root, with telemetry: for its own listener.
pub fn surface_router(name: &str, state: &AppState) -> Option<Router> {
    match name {
        "heating" => Some(tracked(heating::router(state.clone()), "heating", state)),
        "meter" => Some(tracked(meter::router(state.clone()), "meter", state)),
        "retail" => Some(tracked(retail::router(state.clone()), "retail", state)),
        "charging" => Some(tracked(charging::router(state.clone()), "charging", state)),
        "iot" => Some(tracked(iot::router(state.clone()), "iot", state)),
        "admin" => Some(tracked(admin::router(state.clone()), "admin", state)),
        _ => None,
    }
}

/// `/health` for the whole server: the database it reached.
async fn health(State(state): State<AppState>) -> Response {
    let reachable = state.database_reachable().await;
    let body = json!({
        "status": if reachable { "ok" } else { "degraded" },
        "database": {"backend": state.database_backend(), "reachable": reachable},
        "limits": {"store": state.limits.kind()},
        "version": env!("CARGO_PKG_VERSION"),
        "time": state.now().iso_utc_ms(),
    });
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `/metrics` in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render()
            + &state.ocpp.render(&state.boxes)
            + &state.iot.fleet.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"code": "not_found", "message": "no such path"}})),
    )
        .into_response()
}

/// The main listener: every surface under its prefix, plus `/health`, `/metrics`, `/docs`.
pub fn main_router(state: &AppState) -> Router {
    let server = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/docs", get(docs::page))
        .route("/docs/", get(docs::page))
        .with_state(state.clone());
    Router::new()
        .merge(tracked(server, "server", state))
        .nest(
            "/heating",
            tracked(heating::router(state.clone()), "heating", state),
        )
        .nest(
            "/meter",
            tracked(meter::router(state.clone()), "meter", state),
        )
        .nest(
            "/retail",
            tracked(retail::router(state.clone()), "retail", state),
        )
        .nest(
            "/charging",
            tracked(charging::router(state.clone()), "charging", state),
        )
        .nest("/iot", tracked(iot::router(state.clone()), "iot", state))
        .nest(
            "/admin/v1",
            tracked(admin::router(state.clone()), "admin", state),
        )
        .nest(
            "/console",
            tracked(console::router(state.clone()), "console", state),
        )
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::to("/console") }),
        )
        .merge(
            Router::new()
                .route("/ocpp/{id}", get(ocpp::connect))
                .with_state(state.clone()),
        )
        .fallback(not_found)
}
