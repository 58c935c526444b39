//! The charging surface (seed 004): the EV charging station's driver app, at `/charging` (and
//! at the root of its own listener with `--surface-bind charging=ADDR`).
//!
//! Decisions where the document is silent or unclear:
//! - Parameters may come in the query string (as the document writes them), a form or a JSON
//!   body. The token is the `token` parameter, or an `Authorization: Bearer` header.
//! - Replies are `{"code": 200, "msg", ...}`; a refusal is `{"code": -1, "msg", "error":
//!   "<name>"}` (the document's -1 for 异常) with a fitting HTTP status: 400 `invalid` /
//!   `code_invalid`, 401 `unauthorized` / `wrong_credentials`, 404 `no_request` / `not_found`,
//!   409 `username_taken` / `request_exists` / `refused` (e.g. the waiting area is full, or a
//!   change outside the waiting area), 429 `rate_limited`.
//! - Register: `username` (1-32 characters), `password` (6-64), `code`: the answer of a captcha
//!   from `GET /captcha` (`{captchaId, image}`; under `--dev` the answer goes to the outbox,
//!   `to` the captcha id). Which captcha is meant: `captchaId` if sent, else the
//!   `charging_captcha` cookie, else the last captcha fetched from the client's address (the
//!   document sends the answer alone). Register logs in: it answers with a token as login
//!   does. Tokens are random, stored hashed, valid 7 days. Captchas are limited per client
//!   address (`retail.captchas_per_minute`), except under `--dev`, where a test harness
//!   registers hundreds of drivers on a clock that stands still.
//! - `mode` is `fast` (also `quick`, `F`) or `common` (also `slow`, `trickle`, `T`);
//!   `quantity` is kWh, more than 0, at most 1000, rounded to the Wh. An optional `capacity`
//!   (kWh) is the battery's, shown to the operator; a request never asks for more. A mode the
//!   station has no piles of takes no requests (409).
//! - `GET /user/log` is a JSON array; `/user/lognew` is `{"code": 200, "log": [...]}`. Both
//!   newest first, `num` records (10 by default; at most 1,000). `id` is the detail record's
//!   number (a string in lognew), `time` when the request was made, `stationId` the pile's
//!   number (F1, F2, T1, ... are 1, 2, 3, ... in the current layout), `quantity` kWh,
//!   `timeOfUse` hours (4 decimals) in log and `HH:MM:SS` in lognew, times `YYYY-MM-DD
//!   HH:MM:SS` local, fees yuan with two decimals. A session stopped the instant it began
//!   delivered nothing and has no record.
//! - One request per driver at a time. Over HTTP: `POST /user/charge/apply {mode, quantity}`,
//!   `POST /user/charge/modify {mode?, quantity?}` (waiting area only), `POST
//!   /user/charge/cancel`, `GET /user/charge/info` (`number`, `state`
//!   `waiting|queued|charging|displaced|none`, `pile`, `ahead`, `quantity`, `charged`, `fee`).
//!   The WebSocket is described in [`ws`].

mod envelope;
mod handlers;
pub mod ws;

/// The units the operator's API shows too.
pub mod wire {
    pub use super::handlers::{hours, kwh};
}

use axum::Router;
use axum::routing::{get, post};

use crate::surfaces::AppState;

/// The surface name (metrics, `--surface-bind`).
pub const SURFACE: &str = "charging";

/// The document's routes, relative to the surface root.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(handlers::login))
        .route("/register", post(handlers::register))
        .route("/captcha", get(handlers::captcha))
        .route("/user/charge", get(ws::charge))
        .route("/user/log", get(handlers::log))
        .route("/user/lognew", get(handlers::lognew))
        .route("/user/charge/apply", post(handlers::apply))
        .route("/user/charge/modify", post(handlers::modify))
        .route("/user/charge/cancel", post(handlers::cancel))
        .route("/user/charge/info", get(handlers::info))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(envelope::method_not_allowed)
        .with_state(state)
}
