//! The operators' console at `/console`, through the front door without a browser: sign-in,
//! sessions, CSRF, the security headers, and each area's pages and changes.
//! (`tests/browser` drives the same pages in Chromium.)

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod charging;
mod heating;
mod iot;
mod meter;
mod overview;
mod retail;
