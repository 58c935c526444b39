//! `/docs`: a page that lists every surface's OpenAPI document, with its assets built in (no CDN).

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("docs.html");

/// The documentation page.
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
            ),
        ],
        PAGE,
    )
}
