//! The station as a service: one scheduler in memory ([`super::live`]), on the server's one
//! clock. Every change goes through the committer ([`super::committer`]), which logs it (one
//! entry per operation, batched with whatever else is waiting) before anyone hears of it.
//!
//! Every operation, reads included, first lets the cars that are due by now finish (and the
//! calls they trigger), so what a client sees never depends on whether anyone was watching. A
//! ticker does the same on its own, so the drivers' streams get their events on time.
//!
//! Each driver has at most one request at a time. Its events go to every stream the driver has
//! open, in order, and are kept while the request lives, so a stream that reconnects can catch
//! up from the last event it saw.

use std::sync::Arc;

use tokio::sync::{MutexGuard, mpsc};

use super::Charging;
use super::committer::{Answer, Change};
use super::live::{Feed, LiveState, internal};
use super::station::{EndReason, Mode, PileState, StationConfig};
use super::users::Driver;
use crate::domain::{Entity, Error, Result};
use crate::store::charging::{self as store, RecordRow};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarState {
    /// In the waiting area.
    Waiting,
    /// In a pile's queue, not charging yet.
    Queued,
    Charging,
    /// Taken off a failed pile, waiting to be placed again.
    Displaced,
}

impl CarState {
    pub fn as_str(self) -> &'static str {
        match self {
            CarState::Waiting => "waiting",
            CarState::Queued => "queued",
            CarState::Charging => "charging",
            CarState::Displaced => "displaced",
        }
    }
}

/// A request as its driver and the operator see it.
#[derive(Debug, Clone)]
pub struct CarView {
    pub user: String,
    pub number: String,
    pub mode: Mode,
    pub state: CarState,
    pub pile: Option<String>,
    /// Cars of the same mode ahead of it.
    pub ahead: usize,
    pub requested_wh: i64,
    pub charged_wh: i64,
    /// Fees so far, fen (the session in progress included).
    pub fee_so_far: i64,
    pub capacity_wh: Option<i64>,
    pub arrived_at: i64,
    pub queued_at: Option<i64>,
}

/// A pile as the operator sees it.
#[derive(Debug, Clone)]
pub struct PileView {
    pub id: String,
    /// 1-based position among all piles (the document's numeric `stationId`).
    pub no: i64,
    pub mode: Mode,
    pub state: PileState,
    pub power_w: i64,
    pub sessions: u64,
    pub charged_ms: i64,
    pub charged_wh: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
    pub cars: Vec<CarView>,
    /// The OCPP charge box that drives it (`None`: a simulated pile).
    pub charge_box: Option<String>,
}

/// A detail record with the pile's number.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub user: String,
    pub number: String,
    pub pile: String,
    pub pile_no: i64,
    pub requested_at: i64,
    pub wh: i64,
    pub start: i64,
    pub stop: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
    pub reason: EndReason,
}

impl Record {
    pub fn total(&self) -> i64 {
        self.charge_fee + self.service_fee
    }

    fn from_row(r: RecordRow) -> Record {
        Record {
            id: r.id,
            user: r.username,
            number: r.number,
            pile: r.pile,
            pile_no: r.pile_no,
            requested_at: r.requested_at,
            wh: r.wh,
            start: r.start_at,
            stop: r.stop_at,
            charge_fee: r.charge_fee,
            service_fee: r.service_fee,
            reason: reason_from_str(&r.reason),
        }
    }

    pub(super) fn to_row(&self) -> RecordRow {
        RecordRow {
            id: self.id,
            username: self.user.clone(),
            number: self.number.clone(),
            pile: self.pile.clone(),
            pile_no: self.pile_no,
            requested_at: self.requested_at,
            wh: self.wh,
            start_at: self.start,
            stop_at: self.stop,
            charge_fee: self.charge_fee,
            service_fee: self.service_fee,
            reason: reason_str(self.reason).to_owned(),
        }
    }
}

pub fn reason_str(r: EndReason) -> &'static str {
    match r {
        EndReason::Finished => "finished",
        EndReason::Cancelled => "cancelled",
        EndReason::Fault => "fault",
        EndReason::SwitchedOff => "off",
    }
}

fn reason_from_str(s: &str) -> EndReason {
    match s {
        "cancelled" => EndReason::Cancelled,
        "fault" => EndReason::Fault,
        "off" => EndReason::SwitchedOff,
        _ => EndReason::Finished,
    }
}

/// One thing that happened to a driver's request.
#[derive(Debug, Clone)]
pub struct Notice {
    /// From 1 for each request.
    pub seq: u64,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone)]
pub enum NoticeKind {
    /// Entered the waiting area with this number.
    Queued {
        number: String,
        mode: Mode,
        wh: i64,
    },
    /// Called to a pile's queue; `moved` after a fault or a pile going off or on.
    Called {
        pile: String,
        moved: bool,
    },
    Started {
        pile: String,
        at: i64,
    },
    /// A session ended; `done` when the request is over.
    Ended {
        record: Record,
        done: bool,
    },
    /// A new number after a change of mode.
    Renumbered {
        number: String,
        mode: Mode,
    },
    /// The energy asked for changed.
    Revised {
        wh: i64,
    },
    /// An OCPP pile's meter moved: energy and fee so far (Wh, fen).
    Metered {
        wh: i64,
        fee: i64,
    },
    /// Left without a session (cancelled before charging).
    Cancelled,
}

impl NoticeKind {
    /// Whether the request is over after this.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            NoticeKind::Ended { done: true, .. } | NoticeKind::Cancelled
        )
    }
}

/// A driver's open stream: what happened so far (after `since`), and what comes next.
pub struct Subscription {
    pub view: Option<CarView>,
    pub backlog: Vec<Arc<Notice>>,
    pub events: mpsc::UnboundedReceiver<Arc<Notice>>,
    /// Whether this opening made a new request (false: it joined the one in progress).
    pub created: bool,
    /// The request was already over: the backlog ends with its last notice, nothing follows.
    pub ended: bool,
}

/// What an operator asks of a pile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PileAction {
    On,
    Off,
    Fault,
    Recover,
}

impl Charging {
    /// The station, caught up with the clock and with what other processes logged. When
    /// nothing is due and nobody logged since (the head of the log is read in place on
    /// SQLite), that is just the lock; otherwise the committer catches up first.
    async fn station_now(&self) -> Result<MutexGuard<'_, LiveState>> {
        self.station_as_of(None).await
    }

    /// [`Charging::station_now`], the log's head known already when `head` is given (read
    /// after the request came, with the driver's token).
    pub(super) async fn station_as_of(
        &self,
        head: Option<i64>,
    ) -> Result<MutexGuard<'_, LiveState>> {
        // Read before the lock: whatever was logged before this read began is in memory once
        // the memory's version has reached it.
        let head = match head {
            Some(head) => head,
            None => store::head(&self.store).await?,
        };
        let mut live = self.live.state.lock().await;
        let now = self.clock.now().millis().max(live.station.now());
        let due = live.station.next_finish().is_some_and(|t| t <= now);
        if !live.broken && !due && head <= live.version {
            live.seen_at = now;
            live.prune(now);
            return Ok(live);
        }
        drop(live);
        self.submit(Change::CatchUp).await?;
        Ok(self.live.state.lock().await)
    }

    /// Lets the cars due by now finish; called by the ticker and before every read.
    pub async fn tick(&self) -> Result<()> {
        self.station_now().await.map(drop)
    }

    /// Opens a driver's stream: joins the request in progress, or makes one with `mode` and
    /// `wh`. `since` (a reconnecting stream's last event) asks for the events after it, also
    /// of a request that ended meanwhile; without it a driver with no request in progress makes
    /// a new one (which needs `mode` and `wh`).
    pub async fn open(
        &self,
        driver: &Driver,
        request: Option<(Mode, i64, Option<i64>)>,
        since: Option<u64>,
    ) -> Result<Subscription> {
        let user = driver.username.as_str();
        let after = |feed: &Feed, since: u64| -> Vec<Arc<Notice>> {
            feed.history
                .iter()
                .filter(|n| n.seq > since)
                .cloned()
                .collect()
        };
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut live = self.station_as_of(driver.log_head).await?;
            if let Some(car) = live.active.get(user).copied() {
                let feed = live.feeds.entry(user.to_owned()).or_default();
                if feed.ended {
                    // What is left is an earlier request's (the station was read back since).
                    *feed = Feed::default();
                }
                let backlog = since.map(|s| after(feed, s)).unwrap_or_default();
                feed.listeners.push(tx);
                return Ok(Subscription {
                    view: live.view(car),
                    backlog,
                    events: rx,
                    created: false,
                    ended: false,
                });
            }
            if let (Some(since), Some(feed)) = (since, live.feeds.get(user)) {
                if feed.ended {
                    return Ok(Subscription {
                        view: None,
                        backlog: after(feed, since),
                        events: rx,
                        created: false,
                        ended: true,
                    });
                }
            }
        }
        let (mode, wh, capacity_wh) = request.ok_or(Error::invalid(
            "mode",
            "请选择充电模式(fast/common)并填写充电量",
        ))?;
        // The stream follows the new request from its first notice (or, if another stream of
        // the driver made one meanwhile, that request from here).
        let change = Change::Arrive {
            user: user.to_owned(),
            mode,
            wh,
            capacity_wh,
            stream: Some(tx),
        };
        let (view, created) = request_answer(self.submit(change).await?)?;
        Ok(Subscription {
            view,
            backlog: Vec::new(),
            events: rx,
            created,
            ended: false,
        })
    }

    /// Makes a request over HTTP (for clients without a stream).
    pub async fn apply(
        &self,
        user: &str,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    ) -> Result<CarView> {
        let change = Change::Arrive {
            user: user.to_owned(),
            mode,
            wh,
            capacity_wh,
            stream: None,
        };
        let (view, _) = request_answer(self.submit(change).await?)?;
        view.ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Changes the mode and/or the energy of a driver's waiting request.
    pub async fn modify(&self, user: &str, mode: Option<Mode>, wh: Option<i64>) -> Result<CarView> {
        let change = Change::Modify {
            user: user.to_owned(),
            mode,
            wh,
        };
        let (view, _) = request_answer(self.submit(change).await?)?;
        view.ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Cancels a driver's request wherever it is.
    pub async fn cancel(&self, user: &str) -> Result<()> {
        let user = user.to_owned();
        self.submit(Change::Cancel { user }).await.map(drop)
    }

    /// A driver's request in progress, if any.
    pub async fn info(&self, driver: &Driver) -> Result<Option<CarView>> {
        let live = self.station_as_of(driver.log_head).await?;
        Ok(live
            .active
            .get(&driver.username)
            .and_then(|car| live.view(*car)))
    }

    /// Every pile with the cars in its queue.
    pub async fn piles(&self) -> Result<Vec<PileView>> {
        let live = self.station_now().await?;
        let st = &live.station;
        Ok(st
            .piles
            .iter()
            .enumerate()
            .map(|(i, p)| PileView {
                id: p.id.clone(),
                no: i as i64 + 1,
                mode: p.mode,
                state: p.state,
                power_w: p.power_w,
                sessions: p.sessions,
                charged_ms: p.charged_ms,
                charged_wh: p.charged_wh,
                charge_fee: p.charge_fee,
                service_fee: p.service_fee,
                cars: p.queue.iter().filter_map(|c| live.view(*c)).collect(),
                charge_box: st.config.ocpp_piles.get(&p.id).cloned(),
            })
            .collect())
    }

    /// The waiting area in order, then the cars taken off failed piles and not placed yet.
    pub async fn waiting(&self) -> Result<(Vec<CarView>, Vec<CarView>)> {
        let live = self.station_now().await?;
        let st = &live.station;
        let waiting = st
            .waiting()
            .iter()
            .filter_map(|c| live.view(c.id))
            .collect();
        let displaced = [Mode::Fast, Mode::Slow]
            .iter()
            .flat_map(|m| st.displaced(*m))
            .filter_map(|c| live.view(c.id))
            .collect();
        Ok((waiting, displaced))
    }

    /// Switches a pile on or off, or records its fault or recovery.
    pub async fn pile_action(&self, pile: &str, action: PileAction) -> Result<()> {
        let pile = pile.to_owned();
        self.submit(Change::Pile { pile, action }).await.map(drop)
    }

    /// The station's configuration.
    pub async fn config(&self) -> Result<StationConfig> {
        Ok(self.station_now().await?.station.config.clone())
    }

    /// Changes the configuration. Prices, the service fee, the fault policy and the size of
    /// the waiting area apply at once; pile counts, powers and the queue length only to an
    /// empty station (409 otherwise).
    /// `changes` are keys of [`super::settings::StationSettings`]; the committer applies them
    /// to the configuration in force, so two operators' changes never undo each other.
    pub async fn set_config(
        &self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationConfig> {
        config_answer(
            self.submit(Change::Configure {
                changes,
                reset: false,
            })
            .await?,
        )
    }

    /// Empties the station and starts over with `config` (the current one if none); the
    /// detail records go too. Only under `--dev`, for replays.
    pub async fn reset(
        &self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationConfig> {
        config_answer(
            self.submit(Change::Configure {
                changes,
                reset: true,
            })
            .await?,
        )
    }

    /// A driver's latest detail records, newest first.
    pub async fn records(&self, user: &str, num: i64) -> Result<Vec<Record>> {
        self.tick().await?;
        let rows = store::records_of(self.store.pool(), user, num).await?;
        Ok(rows.into_iter().map(Record::from_row).collect())
    }

    /// The latest detail records of every driver, newest first (operator).
    pub async fn all_records(&self, limit: i64) -> Result<Vec<Record>> {
        self.tick().await?;
        let rows = store::all_records(self.store.pool(), limit).await?;
        Ok(rows.into_iter().map(Record::from_row).collect())
    }

    /// Per-pile sums of the sessions that ended in `[from, to)`, every pile listed.
    pub async fn report(&self, from: i64, to: i64) -> Result<Vec<store::PileSums>> {
        let piles: Vec<String> = {
            let live = self.station_now().await?;
            live.station.piles.iter().map(|p| p.id.clone()).collect()
        };
        let sums = store::pile_sums(self.store.pool(), from, to).await?;
        let mut out: Vec<store::PileSums> = piles
            .iter()
            .enumerate()
            .map(|(i, p)| {
                sums.iter()
                    .find(|s| s.pile == *p)
                    .cloned()
                    .unwrap_or(store::PileSums {
                        pile: p.clone(),
                        pile_no: i as i64 + 1,
                        sessions: 0,
                        ms: 0,
                        wh: 0,
                        charge_fee: 0,
                        service_fee: 0,
                    })
            })
            .collect();
        // Piles that no longer exist (after a change of configuration) still have their sums.
        for s in sums {
            if !out.iter().any(|o| o.pile == s.pile) {
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// The request a change answered with: its view and whether the change made it.
fn request_answer(answer: Answer) -> Result<(Option<CarView>, bool)> {
    match answer {
        Answer::Request { view, created } => Ok((view, created)),
        _ => Err(internal(
            "charging station",
            "a request change answered without it",
        )),
    }
}

/// The configuration a change answered with.
fn config_answer(answer: Answer) -> Result<StationConfig> {
    match answer {
        Answer::Config(config) => Ok(config),
        _ => Err(internal(
            "charging station",
            "a configuration change answered without it",
        )),
    }
}
