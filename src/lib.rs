//! utilhall: one server for the APIs of utility and energy service companies.
//!
//! Layers point down: [`surfaces`] (wire formats) -> [`domain`] (rules) -> [`store`] (SQL).

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod gateways;
pub mod jobs;
pub mod replay;
pub mod sim;
pub mod store;
pub mod surfaces;
pub mod telemetry;
