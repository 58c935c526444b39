//! The server itself: admin API, simulated clock, listeners, health, metrics, docs, the CLI.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod cli;
mod connections;
mod hardening;
mod server;
