//! District heating's tables: users and their sessions, heat accounts and bills, payment
//! orders, agreements and the system configuration.

pub mod accounts;
pub mod console;
pub mod content;
pub mod orders;
pub mod sessions;
pub mod users;
