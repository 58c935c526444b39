//! EV charging (seed 004): the station scheduler and its tariff. The surfaces, persistence and
//! the replay command build on these.

pub mod service;
pub mod settings;
pub mod station;
pub mod tariff;
pub mod users;
