//! The operators' console at `/console`, through the front door without a browser: sign-in,
//! sessions, CSRF, the security headers, and each area's pages and changes.
//! (`tests/browser` drives the same pages in Chromium.)

#[path = "../common/mod.rs"]
mod common;

/// The simulated OCPP charge point of `tests/ocpp`, for a box the console registers.
#[path = "../ocpp/chargepoint.rs"]
#[allow(dead_code)]
mod chargepoint;

mod auth;
mod charging;
mod heating;
mod iot;
mod meter;
mod overview;
mod retail;
