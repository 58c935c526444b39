//! The heating surface (seed 001, sections 1, 2, 3, 6, 8) driven over HTTP as the mini-program would.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod config;
mod crash;
mod heat;
mod limits;
mod payments;
mod profile;
mod sms;
mod wechat;
