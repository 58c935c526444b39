//! The console's iot area.

use axum::Router;

use crate::surfaces::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

pub const WORDS: &[(&str, &str, &str)] = &[];
