//! The IoT platform's REST API (seed 002) at `/iot`: members, devices, products, orders,
//! tickets, agents, commissions and vendors, for the four kinds of caller of section 1.1.
//!
//! Decisions where the document is unclear, contradicts itself or is "Pending":
//! - **Log-in (4.1/4.2, Pending):** `POST /auth/login` takes `{user, pwd}` (operators,
//!   vendors, agents, dealers) or `{vid, mobile, pwd}` (members); `pwd` is the MD5 hex the
//!   document sends everywhere (a plain password is digested first, so both forms match). A
//!   member may also log in with an SMS code: `POST /auth/code {vid, mobile}`, then
//!   `POST /auth/sms {vid, mobile, code}`. Replies carry a random bearer token (7 days).
//!   `DELETE /auth/token` logs out, `GET /auth/me` says who is calling.
//! - **Envelope (3.2):** every reply is `{total, data, status, code, message}`; `code` is the
//!   HTTP status as text. A list's `data` is the array, also under the document's own key
//!   (`users`, `devices`, ...), and `total` counts every match before `limit`/`offset`.
//!   Validation errors name the `field`. 204 replies have no body.
//! - **Statuses (3.1):** 201 for every successful POST and PUT (the document: "新建或修改数据
//!   成功"), 204 for DELETE, 400 for a body or query that cannot be parsed ("Problems parsing
//!   JSON"), 401 without a valid token, 403 for an endpoint outside the caller's 使用范围,
//!   404 for an object outside the caller's range (it is not told the object exists), 406
//!   when `Accept` excludes JSON, 410 for a deleted object, 422 for validation errors and for
//!   moves the state machines refuse, 429 for a withdrawal within 30 s.
//! - **Ranges (note 1):** the platform sees everything; a vendor its own; an agent what is
//!   under it and its dealers; a dealer what is under it; a member their own (and devices
//!   shared with them). A member comes under the agent or dealer of their referrer chain.
//! - **Duplicated ids and paths:** section 一's many "AA-02B" are the rows of its table in
//!   order; the code for a password reset, which has no path, is `POST /users/rst/code`.
//!   AA-09 is written `DELETE /users/<UID>bind`: both that and `/users/<UID>/bind` work.
//!   AB-09 and AB-10 share `GET /devices/<DID>/stat`: it answers both (running state under
//!   `state`, and `statistics`); `GET /devices/<DID>/statistics` gives the statistics alone,
//!   and `PUT /devices/<DID>/stat` is how the platform's device gateway reports. AB-15 is
//!   written `POST /devices/<DID>/bind`: sharing is `POST /devices/<DID>/share`, and a
//!   member who owns the device and names another member (`user_id` or `mobile`) on `bind`
//!   shares it too. Section 七 reuses AE-01..03: we call them AF-01..03.
//! - **Shapes:** every object an example shows is always present with every key it shows
//!   (`weixin`, `basic`, the running state, a ticket's `approval` and `ratings`, ...); a value
//!   nobody has set is the empty value of the example's type (`""`, `0`, `false`), never
//!   `null` or a missing key.
//! - **Times:** written as `2018-01-02T03:04:05Z` (AA-01's `reg_tms` form). Sent times
//!   (`appoint_tms`, `expire`) may be ISO 8601, the examples' own `20180105` (a local date in
//!   the configured zone), or epoch seconds. `service.expire` is the example's number: epoch
//!   seconds, `0` for none (and `0` or `""` sent clears it).
//! - **Devices:** the example's two `state` keys: the number stays `state`; the running
//!   state is `running` in the device and `state` in `/stat`.
//! - **Vendors:** only what the note after AX-01 withholds is withheld (`pwd`, `mp_secret`,
//!   `mch_secret`); `mch_appid` is shown.
//! - **Money:** yuan as JSON numbers (`2980`, `625.8`), fen inside.
//! - **Order `state`:** AD-01's example writes `0`, section 四 names the states by words; we
//!   answer with the words (`obligation`, `paid`, `delivered`, `received`, `return`,
//!   `consent`, `refund`, `close`, `done`) and take either form on input (`?state=1` is
//!   `?state=paid`: the number is the word's place in section 四's list, from 0).
//! - **Orders:** `close` (unpaid, by the member or the vendor, or after the payment window)
//!   and `done` (received, by the member or the vendor, or 7 days after receipt) are
//!   `POST /orders/<OID>/status/close|done`. A member may return an order within 7 days of
//!   receipt, even once done. Commissions ("三级分销 (实时)") appear the moment an order is
//!   paid, pending (待激) with their exact amounts; they become available (可用) when the 7
//!   days after receipt are over, and a return voids them. AD-07 signs the same prepay again when asked twice.
//!   AD-08/AD-09 answer 422: no card channel is configured. WeChat Pay's notifications are
//!   taken at `POST /iot/orders/notify/weixin` and at the heating surface's notify URL alike.
//! - **Tickets (五):** detail and moves: `GET /tickets/<TID>`, `PUT .../approval`
//!   `{check_result}` (A#), `PUT .../dispatch` `{installer_id}` (A), `PUT .../status`
//!   `{status}` (A; a member answers a ticket waiting for them: 5 -> 4), `POST .../ratings`
//!   (the member, once, when done). AE-02's summary counts by status and type and lists the
//!   tickets in range.
//! - **Agents (六):** `GET /agents` (a tree), `POST /agents`, `GET|DELETE /agents/<UID>`.

mod envelope;
mod handlers;
mod input;
mod link;
mod wire;

use axum::Router;
use axum::routing::{get, post, put};

use crate::surfaces::AppState;

/// A platform operator `{user, pwd, name}` as the admin surface receives it.
pub fn new_operator(
    body: serde_json::Map<String, serde_json::Value>,
) -> crate::domain::Result<crate::domain::iot::partners::NewOperator> {
    input::new_operator(&input::Fields(body))
}

/// The surface name (metrics, `--surface-bind`).
pub const SURFACE: &str = "iot";

/// The document's routes, relative to the surface root.
pub fn router(state: AppState) -> Router {
    use handlers as h;
    Router::new()
        .route("/auth/login", post(h::login))
        .route("/auth/code", post(h::login_code))
        .route("/auth/sms", post(h::sms_login))
        .route("/auth/token", axum::routing::delete(h::logout))
        .route("/auth/me", get(h::me))
        .route("/users", get(h::list_users).post(h::register))
        .route("/users/code", post(h::registration_code))
        .route("/users/rst", post(h::reset_password))
        .route("/users/rst/code", post(h::reset_code))
        .route("/users/bind", post(h::bind_weixin))
        .route(
            "/users/{uid}",
            get(h::get_user).put(h::update_user).delete(h::delete_user),
        )
        .route("/users/{uid}/bind", axum::routing::delete(h::unbind_weixin))
        .route("/users/{uid}/pwd", put(h::user_password))
        .route("/users/{uid}/mob", put(h::user_mobile))
        .route(
            "/users/{uid}/mob/code",
            get(h::mobile_code).post(h::mobile_code),
        )
        .route("/devices", get(h::list_devices).post(h::register_devices))
        .route(
            "/devices/{did}",
            get(h::get_device)
                .put(h::configure_device)
                .delete(h::delete_device),
        )
        .route(
            "/devices/{did}/prof",
            get(h::device_prof).put(h::update_device_prof),
        )
        .route(
            "/devices/{did}/svc",
            get(h::device_svc).put(h::update_device_svc),
        )
        .route(
            "/devices/{did}/stat",
            get(h::device_stat).put(h::report_device),
        )
        .route("/devices/{did}/statistics", get(h::device_statistics))
        .route("/devices/{did}/secret", post(link::rotate_secret))
        .route("/devices/{did}/history", get(link::history))
        .route("/devices/{did}/filters", get(link::filters))
        .route(
            "/devices/{did}/commands",
            get(link::commands).post(link::send_command),
        )
        .route("/devices/{did}/dispense", post(link::dispense))
        .route("/devices/{did}/balance", get(link::balance))
        .route("/users/{uid}/water", get(link::wallet))
        .route(
            "/devices/{did}/bind",
            post(h::bind_device).delete(h::unbind_device),
        )
        .route(
            "/devices/{did}/share",
            post(h::share_device).delete(h::unshare_device),
        )
        .route(
            "/devices/{did}/infos",
            axum::routing::delete(h::reset_device),
        )
        .route("/products", get(h::list_products).post(h::create_product))
        .route(
            "/products/{pid}",
            get(h::get_product)
                .put(h::update_product)
                .delete(h::delete_product),
        )
        .route(
            "/products/{pid}/prof",
            get(h::product_prof).put(h::update_product_prof),
        )
        .route("/orders", get(h::list_orders).post(h::create_order))
        .route("/orders/{oid}", get(h::get_order).delete(h::delete_order))
        .route(
            "/orders/{oid}/delivery",
            get(h::get_delivery).post(h::deliver).put(h::edit_delivery),
        )
        .route("/orders/{oid}/prepay/{channel}", post(h::prepay))
        .route("/orders/{oid}/payment", get(h::get_payment))
        // WeChat Pay's notifications (the same handler as the heating surface's: one merchant
        // account, orders told apart by their number).
        .route(
            "/orders/notify/weixin",
            post(crate::surfaces::payments::notify),
        )
        .route(
            "/orders/{oid}/status/{action}",
            post(h::order_status).put(h::order_status),
        )
        .route("/tickets", get(h::list_tickets).post(h::create_ticket))
        .route("/tickets/", post(h::create_ticket))
        .route("/tickets/summary", get(h::ticket_summary))
        .route("/tickets/{tid}", get(h::get_ticket))
        .route(
            "/tickets/{tid}/{action}",
            put(h::ticket_action).post(h::ticket_action),
        )
        .route("/commission", get(h::list_commissions).post(h::withdraw))
        .route("/commission/", post(h::withdraw))
        .route("/commission/summary", get(h::commission_summary))
        .route("/agents", get(h::list_agents).post(h::create_agent))
        .route("/agents/{uid}", get(h::get_agent).delete(h::delete_agent))
        .route("/vendors", get(h::list_vendors).post(h::create_vendor))
        .route(
            "/vendors/{vid}",
            get(h::get_vendor)
                .put(h::update_vendor)
                .delete(h::delete_vendor),
        )
        .route(
            "/vendors/{vid}/signing",
            get(h::list_signings)
                .post(h::add_signing)
                .put(h::change_signing)
                .delete(h::delete_signing),
        )
        .route("/vendors/{vid}/{part}", put(h::update_vendor_part))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(envelope::method_not_allowed)
        .layer(axum::middleware::from_fn(envelope::only_json))
        .with_state(state)
}
