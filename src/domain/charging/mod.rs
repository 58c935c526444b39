//! EV charging (seed 004): the station scheduler and its tariff, and the [`Charging`] service
//! the surfaces, the ticker and the replay command build on.
//!
//! - [`station`]: the scheduler itself, pure and deterministic (no clock, no storage).
//! - [`tariff`]: prices by time of day.
//! - [`settings`]: the operator's view of the configuration (kW, yuan, local times).
//! - [`service`]: the drivers' requests and streams, and the operator's piles, configuration
//!   and reports, on the station live in memory (`live`), which one committer task changes and
//!   logs, in batches (`committer`); several instances share it through the log and a bus
//!   (`sharing`).
//! - [`users`]: the drivers' accounts and tokens.

use std::sync::{Arc, OnceLock};

use super::bus::Bus;
use super::codes::Codes;
use super::guard::SignInGuard;
use super::passwords::PasswordHasher;
use super::{Clock, Result, Settings};
use crate::store::Store;

pub mod boxes;
mod committer;
mod live;
pub mod service;
pub mod settings;
mod sharing;
pub mod station;
pub mod tariff;
pub mod users;
mod waiting_line;

/// The EV charging station as a service: its drivers (register, log in, tokens) and the live
/// station (requests, streams, piles, configuration, detail records and reports).
///
/// It owns the station in memory ([`live::Live`]): one scheduler for the process, written to
/// the database with every change.
pub struct Charging {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    passwords: PasswordHasher,
    codes: Arc<Codes>,
    guard: Arc<SignInGuard>,
    /// The station, live.
    live: live::Live,
    /// The other instances sharing the station, when there can be any (PostgreSQL): each batch
    /// is announced to them, and theirs followed (see [`sharing`]).
    bus: Arc<OnceLock<Arc<dyn Bus>>>,
    /// Told after every batch (the charge boxes' watch, see [`boxes`]).
    batches: Arc<OnceLock<Arc<tokio::sync::Notify>>>,
}

impl Charging {
    /// Loads the persisted station, or starts an empty one with the configured set-up.
    pub async fn load(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
    ) -> Result<Charging> {
        let live = live::Live::load(&store, &settings.charging, clock.now()).await?;
        Ok(Charging {
            store,
            clock,
            settings,
            passwords,
            codes,
            guard,
            live,
            bus: Arc::default(),
            batches: Arc::default(),
        })
    }

    /// `notify` is told after every batch of changes to the station.
    pub fn watch_batches(&self, notify: Arc<tokio::sync::Notify>) {
        let _ = self.batches.set(notify);
    }

    /// The demo data (`--demo`): the charging document's example driver `test` / `123456`.
    pub async fn load_demo(&self) -> Result<()> {
        match self.create_driver("test", "123456").await {
            Ok(_) | Err(super::Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
