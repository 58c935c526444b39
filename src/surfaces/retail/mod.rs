//! The retail surface (seed 000): the electricity retail company's online business hall, at
//! `/retail` (and at the root of its own listener with `--surface-bind retail=ADDR`).
//!
//! Decisions where the document is silent or unclear:
//! - Successes are the document's shapes: the lists are bare JSON arrays with the document's
//!   field names. Errors, everywhere on this surface, are `{"code": "<name>", "message":
//!   "<text>"}` with a fitting HTTP status: 400 `invalid` (bad field, named in the message) or
//!   `code_invalid` (captcha or SMS code wrong, used or expired), 401 `unauthorized` (no or
//!   dead token) or `wrong_credentials`, 403 `not_bound` (the enterprise must be bound first),
//!   404 `not_found`, 409 `phone_registered` / `conflict` (e.g. a declared plan), 413
//!   `too_large`, 415 `unsupported_type`, 429 `rate_limited` (with `Retry-After`), 500
//!   `internal`, 503 `unavailable` (no SMS provider).
//! - Bodies may be JSON, a urlencoded form or `multipart/form-data` (text fields; only feedback
//!   takes a file, its picture). No text may hold control characters other than tab and line
//!   breaks (400); a key that does is no field of this surface and is ignored. A field read as
//!   text is a string (digits, such as a phone, year or code, may be a JSON number; `null` is an
//!   absent field); a boolean, object or array there is 400.
//! - `GET /qr_code` answers `{"captcha_id", "image": "data:image/png;base64,...",
//!   "expires_in"}` (or the PNG itself with `?format=png`, its id in `X-Captcha-Id`). The answer
//!   is five digits, single use, valid `sms.code_ttl_seconds`; under `--dev` it also goes to
//!   the outbox (`channel` `captcha`, `to` the captcha id). Register and bind send `captcha_id`
//!   and `captcha`; the id also comes back as the `retail_captcha` cookie, which stands in when
//!   a client sends no id (cookie-session clients).
//! - The document names no fields, so common variants are accepted: `phone`/`mobile`/
//!   `phone_number`, `password`/`pwd`, `captcha`/`code`/`verify_code`, `captcha_id`/
//!   `captchaId`/`key`, camelCase forms of the two-word names, and the company by id or name.
//! - Register: `phone`, `password` (8-64), captcha; 201 with the user. Login: `phone`,
//!   `password`; `{"token", "token_type": "Bearer", "expires_in", "user"}`; the token is random,
//!   stored hashed, valid 7 days, sent as `Authorization: Bearer`. `POST /user/logout` ends it.
//! - Binding, written in the document at `POST /user/login`: served at `POST /user/bind`, and
//!   `POST /user/login` with a bearer token and binding fields binds too. The document's
//!   "验证码" is an SMS code sent to the enterprise's contact phone (as the operator
//!   registered it), since a company's name and code are public and four digits are 10,000
//!   guesses. Step one, `POST /user/bind_code` (also `/user/bind/code`): `company_id` (from
//!   `GET /retail/companies`), `enterprise_name`, `credit_code` (18-character unified social
//!   credit code or 9-character organisation code, check character verified), `phone_last4`
//!   and the image captcha; when name, code and digits all match, the code goes to that phone,
//!   for this user and this enterprise only (`{"message", "phone": "138****0001",
//!   "expires_in"}`). Step two, `POST /user/bind`: the same fields, `services` (array, or
//!   comma-separated in a form; each offered by that company) and `code` (also `sms_code`,
//!   `verify_code`). A mismatch does not say which field was wrong; repeated mismatches lock
//!   the guessing address out of that enterprise for a while and slow everyone's attempts on
//!   it down, never refusing its own people. An enterprise takes one user unless an operator
//!   sets `max_users` (`PATCH /admin/v1/retail/enterprises/{credit_code}`); when it is full,
//!   409 `conflict`. `GET /user/bind` shows a bound user everyone bound to the same
//!   enterprise, phones masked.
//! - Change of phone number: `POST /user/send_code {"phone": new}` sends an SMS code to the new
//!   number; `POST /user/change_phone_number {old_phone, new_phone, code}` moves the account.
//!   Change of password revokes the user's other logins.
//! - Enterprise data (use, plans, contracts, bills) is the bound enterprise's only; an unbound
//!   user gets empty lists and cannot add plans (403 `not_bound`).
//! - `elec_situation` takes `?year=` (this year by default). Plans: `year`, `month`, `number`
//!   (kWh), `state` `draft|declared`, optional `type` `month|year` (a year plan when no month);
//!   adding a plan for a period that has a draft changes the draft (200), a new one is 201, a
//!   declared one is 409. `create_at`/`update_at` are ISO 8601 UTC timestamps (what a
//!   JavaScript `Date` serializes to); calendar dates (`sign_date`, `expire_date`, `date`,
//!   `elec_use_date`, `confirm_date`) are `YYYY-MM-DD`.
//! - Settlement figures are JSON numbers with four decimals as in the document, `user_benefits`
//!   with two; `state` is `confirmed` once an operator recorded the confirmer and date (until
//!   then `confirmer` and `confirm_date` are empty strings, keeping the document's types).
//! - A wrong method on a known path is 405 `method_not_allowed`; a repeated query parameter
//!   is 400. A picture is taken only as `multipart/form-data` (415 otherwise).
//! - The business guide emits the document's misspelt `questiuon` and `question` as well.

mod envelope;
mod handlers;

/// The wire shapes the admin API shows too.
pub mod wire {
    pub use super::handlers::{BillWire, article_json, contract_json, plan_json, user_json};
}

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::surfaces::AppState;

/// The surface name (metrics, `--surface-bind`).
pub const SURFACE: &str = "retail";

/// The document's routes, relative to the surface root.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.retail_data.max_picture_bytes() + 64 * 1024;
    Router::new()
        .route("/qr_code", get(handlers::captcha))
        .route("/companies", get(handlers::companies))
        .route("/user/register", post(handlers::register))
        .route("/user/login", post(handlers::login))
        .route(
            "/user/bind",
            post(handlers::bind).get(handlers::bound_users),
        )
        .route("/user/bind_code", post(handlers::bind_code))
        .route("/user/bind/code", post(handlers::bind_code))
        .route("/user/logout", post(handlers::logout))
        .route("/user/info", get(handlers::info))
        .route("/user/change_password", post(handlers::change_password))
        .route("/user/send_code", post(handlers::send_code))
        .route("/user/change_phone_number", post(handlers::change_phone))
        .route(
            "/user/recommend",
            post(handlers::recommend).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/user/elec_situation", get(handlers::elec_situation))
        .route("/user/elec_plan", get(handlers::elec_plan))
        .route("/user/add_elec_plan", post(handlers::add_elec_plan))
        .route("/articles/recommend", get(handlers::recommend_articles))
        .route("/articles/policy", get(handlers::policy_articles))
        .route("/articles/science", get(handlers::science_articles))
        .route("/business_guide", get(handlers::business_guide))
        .route("/user/contracts", get(handlers::contracts))
        .route("/user/settlement_bills", get(handlers::settlement_bills))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(envelope::method_not_allowed)
        .with_state(state)
}
