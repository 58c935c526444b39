//! The operator API at `/admin/v1`: bearer token from `POST /admin/v1/login`.

mod charging;
mod envelope;
mod handlers;
mod heating;
mod iot;
mod meter;
mod retail;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

use crate::surfaces::AppState;

/// Largest CSV file the import endpoints take.
const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// The admin routes, relative to `/admin/v1`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(handlers::login))
        .route("/logout", post(handlers::logout))
        .route("/me", get(handlers::me))
        .route(
            "/clock",
            get(handlers::get_clock).post(handlers::move_clock),
        )
        .route("/charging/piles", get(charging::piles))
        .route(
            "/charging/piles/{id}/state",
            post(charging::pile_state_change),
        )
        .route("/charging/piles/{id}/reset", post(charging::reset_pile))
        .route("/charging/piles/{id}/unlock", post(charging::unlock_pile))
        .route("/charging/boxes", get(charging::list_boxes))
        .route(
            "/charging/boxes/{id}",
            put(charging::put_box).delete(charging::delete_box),
        )
        .route("/charging/tags", get(charging::list_tags))
        .route(
            "/charging/tags/{tag}",
            put(charging::put_tag).delete(charging::delete_tag),
        )
        .route("/charging/waiting", get(charging::waiting))
        .route("/charging/report", get(charging::report))
        .route("/charging/records", get(charging::records))
        .route(
            "/charging/config",
            get(charging::get_config).put(charging::put_config),
        )
        .route("/charging/reset", post(charging::reset))
        .route("/charging/drivers", post(charging::create_driver))
        .route("/heating/agreements", get(handlers::list_agreements))
        .route("/heating/agreements/{kind}", put(handlers::edit_agreement))
        .route(
            "/heating/system-config",
            get(handlers::get_system_config).put(handlers::edit_system_config),
        )
        .route("/heating/users", get(handlers::list_users))
        .route("/heating/users/{id}/disable", post(handlers::disable_user))
        .route("/heating/users/{id}/enable", post(handlers::enable_user))
        .route(
            "/retail/companies",
            get(retail::list_companies).post(retail::create_company),
        )
        .route(
            "/retail/companies/{id}",
            axum::routing::patch(retail::update_company),
        )
        .route(
            "/retail/enterprises",
            get(retail::list_enterprises).post(retail::create_enterprise),
        )
        .route(
            "/retail/enterprises/{credit_code}",
            axum::routing::patch(retail::update_enterprise),
        )
        .route(
            "/retail/contracts/{contract_id}",
            axum::routing::patch(retail::update_contract),
        )
        .route("/retail/users", get(retail::list_users))
        .route("/retail/users/{id}/unbind", post(retail::unbind_user))
        .route(
            "/retail/articles",
            get(retail::list_articles).post(retail::create_article),
        )
        .route("/retail/articles/{id}", delete(retail::delete_article))
        .route(
            "/retail/guide",
            get(retail::list_guide).post(retail::create_guide),
        )
        .route("/retail/guide/{id}", delete(retail::delete_guide))
        .route(
            "/retail/contracts",
            get(retail::list_contracts).post(retail::create_contract),
        )
        .route(
            "/retail/monthly-use",
            get(retail::get_monthly_use).put(retail::put_monthly_use),
        )
        .route("/retail/plans", get(retail::list_plans))
        .route(
            "/retail/bills",
            get(retail::list_bills).post(retail::create_bill),
        )
        .route("/retail/bills/{id}/confirm", post(retail::confirm_bill))
        .route("/retail/feedback", get(retail::list_feedback))
        .route(
            "/retail/feedback/{id}/picture",
            get(retail::feedback_picture),
        )
        .route("/heating/accounts", get(heating::list_accounts))
        .route(
            "/heating/accounts/import",
            post(heating::import_accounts).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/heating/accounts/{heat_account}",
            get(heating::get_account).put(heating::put_account),
        )
        .route(
            "/heating/accounts/{heat_account}/unbind",
            post(heating::unbind_account),
        )
        .route("/heating/bills", post(heating::create_bill))
        .route(
            "/heating/bills/import",
            post(heating::import_bills).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/heating/orders/{order_id}", get(heating::get_order))
        .route(
            "/heating/orders/{order_id}/simulate-payment",
            post(heating::simulate_payment),
        )
        .route("/iot/operators", post(iot::create_operator))
        .route(
            "/iot/orders/{oid}/simulate-payment",
            post(iot::simulate_payment),
        )
        .route("/meter/readings", post(meter::meter_readings))
        .route("/meter/accounts", post(meter::create_meter_account))
        .route(
            "/meter/accounts/{name}/disable",
            post(meter::disable_meter_account),
        )
        .route(
            "/meter/accounts/{name}/enable",
            post(meter::enable_meter_account),
        )
        .route(
            "/meter/import",
            post(meter::import_meters).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/meter/households/{user_code}", get(meter::meter_household))
        .route(
            "/openapi.json",
            crate::surfaces::openapi_route(include_str!("openapi.json")),
        )
        .fallback(envelope::not_found)
        .with_state(state)
}
