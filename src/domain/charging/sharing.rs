//! One station, several instances. The station's operation log is the truth every instance
//! shares: each batch catches up with it under the station's row lock before it writes (see
//! [`super::committer`]). What the log alone does not do is tell a driver whose stream is on
//! instance A, at once, what happened on instance B; the [`Bus`] does:
//!
//! - after each batch commits, its committer announces the log's new head;
//! - every other instance, hearing a head it has not reached (or that it may have missed some),
//!   catches up with the log, which hands the operations' notices to its streams.
//!
//! Announcements that pile up while a catch-up runs are served by the next one. Reads never
//! depend on the bus: a driver's read compares the head it read with its token, an operator's
//! read the head it reads, with what memory holds. With a bus, the ticker of each instance looks
//! only at its own memory (the cars due by now), instead of reading the head ten times a
//! second; the others' work arrives by announcement.

use std::sync::Arc;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Charging;
use super::committer::Change;
use crate::domain::Result;
use crate::domain::bus::{Bus, Heard, Topic};

impl Charging {
    /// Shares the station with the other instances through `bus` (at start-up, once).
    pub fn share_through(&self, bus: Arc<dyn Bus>) {
        let _ = self.bus.set(bus);
    }

    /// Whether other instances may share the station (a bus is set).
    pub fn is_shared(&self) -> bool {
        self.bus.get().is_some()
    }

    /// Follows the other instances: on each head they announce that this instance has not
    /// reached, catches up with the log (its streams get the notices). Returns when there is
    /// no bus, or when it closes.
    pub async fn follow_others(&self) {
        let Some(bus) = self.bus.get() else {
            return;
        };
        let mut heard = bus.listen(Topic::Charging);
        loop {
            // `None`: something may have been missed, catch up whatever the head.
            let mut target = match heard.recv().await {
                Ok(Heard::Head(head)) => Some(head),
                Ok(Heard::Missed) | Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            };
            // Whatever else came meanwhile is served by the same catch-up.
            loop {
                match heard.try_recv() {
                    Ok(Heard::Head(head)) => target = target.map(|t| t.max(head)),
                    Ok(Heard::Missed) | Err(TryRecvError::Lagged(_)) => target = None,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            let behind = match target {
                Some(head) => self.live.state.lock().await.version < head,
                None => true,
            };
            if behind {
                if let Err(e) = self.submit(Change::CatchUp).await {
                    tracing::warn!(error = %e, "catching up with the other instances failed");
                }
            }
        }
    }

    /// The ticker's work: lets the cars due by now finish. A shared station looks only at its
    /// memory (what the others log comes by announcement); otherwise the head is read too, so
    /// that processes on one SQLite file see each other's work.
    pub async fn tick_due(&self) -> Result<()> {
        if self.is_shared() {
            self.station_as_of(Some(i64::MIN)).await.map(drop)
        } else {
            self.tick().await
        }
    }
}
