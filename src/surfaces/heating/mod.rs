//! The heating surface (seed 001): the WeChat mini-program of the Urumqi heating company.
//!
//! Served at `/heating` (and at the root of its own listener with `--surface-bind heating=ADDR`),
//! so `POST /heating/api/auth/login` is the document's `POST /api/auth/login` and
//! `GET /heating/health` its `GET /health`.
//!
//! Decisions where the document is silent or unclear:
//! - Bodies may be JSON or `application/x-www-form-urlencoded`.
//! - `POST /api/sms/verify` checks a code without using it up (a wrong try still counts), so the
//!   mini-program can verify first and then register or log in with the same code.
//! - Login accepts `password` instead of `code`. Codes are bound to their `type`: login needs a
//!   `login` code, register a `register` code, and the password change (3.3) a `reset_password`
//!   code sent to the account's own phone. A password change revokes every other login.
//! - A code that was never sent or was already used answers 1002; one past its 300 s or voided
//!   by its fifth wrong try answers 1006. Sends are limited per phone: one per 60 s and a daily
//!   cap (1008 both, with the wait in the message).
//! - HTTP statuses mirror `code` (1001-1006: 400, 1007: 503, 1008: 429); clients read `code`.
//! - `PUT /api/user/profile` validates `id_card` (18 characters, GB 11643 check digit, a real
//!   birth date): the document's own example `610102199001011234` fails its check digit.
//!   `updated_fields` lists the fields given; a body with none is a 400.
//! - Unset profile texts are `""`; `heat_account` is `null` until an account is bound.
//! - An operator may disable a user (`/admin/v1/heating/users/{id}/disable`): login, refresh and
//!   every authenticated call then answer 403 "账号已被禁用，请联系客服" until they are enabled.
//! - Wrong passwords are counted per phone (login and password change): after
//!   `auth.max_failed_logins` in a window, password sign-in answers 1008 until the window ends;
//!   an SMS code still logs in. `register` and code login check the code before saying 1003/1004,
//!   so nobody learns which phones are registered without the phone.
//! - Sections 4-7: heat accounts come from the operators' registry. Binding needs the owner's
//!   `real_name` and `id_card` as registered (the address is required but not compared); an
//!   account has one user and a user one account: `POST /api/heat/unbind` (ours) releases it so
//!   another can be bound. Figures in 4.2 are for the account's latest season; `current_balance`
//!   is minus everything owed over all seasons; the bind reply's `heating_fee` is what is still
//!   due this season. Calendar dates (due date, deadline, season start and end) are rendered as
//!   `YYYY-MM-DDT00:00:00.000Z`, as the document's backend did, so the date part is the right day.
//! - `amount` in 5.2 must be exactly the bills plus their late fees; `openid` (ours) may be sent
//!   with the payment or at login, since WeChat JSAPI needs the payer. 5.4 lists the account's paid
//!   bills (`payment_method` `wechat`, or `offline` for bills imported as paid): it follows the
//!   account, so whoever holds it (proven by the owner's name and ID number) sees its payments. 7.1: seasons with
//!   bills; money received per the journal; the latest season's paid bills; billed amount per
//!   heating month; the share of paid bills paid by their due date.
//! - `POST /api/payment/notify` answers WeChat with 204, or `{"code":"FAIL","message"}` and a
//!   4xx/5xx; it is exempt from the per-IP limit.
//! - The global limit (100 requests / 15 min per IP by default) answers 1008 with HTTP 429.

mod accounts;
mod envelope;
mod handlers;
mod wire;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::surfaces::AppState;

pub use envelope::SURFACE;

/// The heating routes at the document's paths.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/sms/send", post(handlers::send_sms))
        .route("/api/sms/verify", post(handlers::verify_sms))
        .route("/api/auth/login", post(handlers::login))
        .route("/api/auth/register", post(handlers::register))
        .route("/api/auth/refresh", post(handlers::refresh))
        .route("/api/auth/logout", post(handlers::logout))
        .route(
            "/api/user/profile",
            get(handlers::profile).put(handlers::update_profile),
        )
        .route(
            "/api/user/password",
            axum::routing::put(handlers::change_password),
        )
        .route("/api/heat/bind", post(accounts::bind))
        .route("/api/heat/unbind", post(accounts::unbind))
        .route("/api/heat/account", get(accounts::account))
        .route("/api/payment/info", get(accounts::payment_info))
        .route("/api/payment/create", post(accounts::create_payment))
        .route(
            "/api/payment/status/{order_id}",
            get(accounts::payment_status),
        )
        .route("/api/payment/history", get(accounts::payment_history))
        .route(
            "/api/payment/notify",
            post(crate::surfaces::payments::notify),
        )
        .route("/api/statistics/user", get(accounts::statistics))
        .route("/api/config/agreements", get(handlers::agreements))
        .route("/api/config/system", get(handlers::system_config))
        .route("/health", get(handlers::health))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .layer(from_fn_with_state(state.clone(), envelope::limit_per_ip))
        .layer(from_fn_with_state(state.clone(), envelope::finish))
        .with_state(state)
}
