//! The meter surface (seed 003): the recharge interface third-party platforms call, at
//! `/meter/user/...` (and at `/user/...` on its own listener with `--surface-bind meter=ADDR`).
//!
//! Decisions where the document is unclear:
//! - Replies are `{"code", "data", "msg"}` with `data` a JSON *string* holding JSON, as the
//!   document shows (login's `data` is the token itself). Errors are `{"code", "msg"}` with the
//!   codes of section 五; the HTTP status is always 200, as the document knows no other.
//! - Parameters may come as a form (urlencoded or multipart), a JSON body or a query string. A
//!   missing one is 1008 and named in `msg`.
//! - Tokens are random and opaque (never the document's base64 of the password), valid 2 hours:
//!   unknown 1006, expired 1007; a token used with another `admin_user_name` is 1009. A
//!   household of another account is answered exactly as one that does not exist (1001
//!   用户不存在), so no account learns which numbers another has. An unknown or disabled account at login is 1002, a wrong
//!   password 1005 (and counted per account: too many answer 1001 until the window ends).
//! - `Prestore`: `total_fee` is yuan, positive, at most two decimals and at most
//!   `meter.max_recharge_yuan` (10,000 by default); otherwise 1001 saying so. The answer comes
//!   after the durable commit that records the recharge.
//! - Lists come in the document's order: buildings and addresses as registered, recharges
//!   and readings oldest first. `GetConsumenList` items carry `deviceId` (the meter number).
//! - An account an operator disabled answers 1002 at login and with its tokens. A method other
//!   than POST, or an unknown path, is 1001 (still HTTP 200).
//! - One call per interface per account every 2 s (configurable; recharge excepted): 1001 with
//!   a message saying so. Only calls that succeed count, so a refused call (1008, 1009, ...)
//!   does not block its corrected retry.
//! - Readings come in through `POST /admin/v1/meter/readings`; `GetConsumenList` lists the applied
//!   ones per household (`lastRead`/`lastReadTime` the previous reading). `GetPaymentList` shows
//!   `trade_type` "第三方充值" (recharges through this interface). Dates for both lists:
//!   `YYYY-MM-DD` (whole days) or `YYYY-MM-DD HH:MM:SS`, local time; `pageSize` at most 1000.
//! - `GetUserInfo` shows the household's first meter (by number) with its balance; `house_number`
//!   is left out when the household has none, as in the document's second example.

mod envelope;
mod handlers;

use axum::Router;
use axum::routing::post;

use crate::surfaces::AppState;

/// The surface name (metrics, `--surface-bind`).
pub const SURFACE: &str = "meter";

/// The document's routes, relative to the surface root.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/user/login", post(handlers::login))
        .route("/user/getBuildCode", post(handlers::build_codes))
        .route("/user/getUserCodeByAccount", post(handlers::user_codes))
        .route("/user/GetUserInfo", post(handlers::user_info))
        .route("/user/Prestore", post(handlers::prestore))
        .route("/user/GetPaymentList", post(handlers::payment_list))
        .route("/user/GetConsumenList", post(handlers::consumption_list))
        .route("/user/getAddress", post(handlers::addresses))
        .route("/user/addressUserInfo", post(handlers::address_users))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(envelope::not_found)
        .with_state(state)
}
