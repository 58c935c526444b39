//! The station in memory: the scheduler, who made which request, and each driver's notices;
//! the operation log that rebuilds it exactly (see [`Op`]).
//!
//! Only the committer ([`super::committer`]) changes it, under its lock; readers take the lock
//! for as long as they look.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};

use super::committer::{Pending, check_config};
use super::service::{CarState, CarView, Notice, NoticeKind, Record};
use super::station::{
    CarId, DetailRecord, Event, Mode, Place, Refusal, Starter, Station, StationConfig,
};
use crate::domain::{Entity, Error, Result, Timestamp};
use crate::store::Store;
use crate::store::charging as store;

/// A driver's notices and open streams.
#[derive(Default)]
pub(super) struct Feed {
    pub(super) history: Vec<Arc<Notice>>,
    pub(super) listeners: Vec<Listener>,
    /// The request is over; its notices stay until the driver's next request (or a day), so
    /// a stream that was away can still read how it ended.
    pub(super) ended: bool,
    ended_at: i64,
}

/// Where a stream hears its driver's notices.
pub(super) type Listener = mpsc::UnboundedSender<Arc<Notice>>;

/// How long the notices of an ended request are kept, and how often they are looked at.
const ENDED_FEED_KEPT_MS: i64 = 24 * 3_600_000;
const FEED_PRUNE_EVERY_MS: i64 = 3_600_000;

pub(super) struct LiveState {
    pub(super) station: Station,
    /// The last operation written (or the snapshot's version when none came after it).
    pub(super) version: i64,
    pub(super) snapshot_version: i64,
    /// The log is known to hold no operation at or below this one (see [`PRUNE_STEP`]).
    pub(super) pruned_through: i64,
    /// Memory may be ahead of the database (a write failed and reading back failed too):
    /// nothing runs until the station has been read back.
    pub(super) broken: bool,
    /// The instant of the last look: what readers see progress at (the station's own time moves
    /// only with what happens).
    pub(super) seen_at: i64,
    /// When ended requests' notices were last pruned.
    pruned_at: i64,
    /// Who made each request at the station.
    pub(super) owners: HashMap<CarId, String>,
    /// Each driver's request at the station.
    pub(super) active: HashMap<String, CarId>,
    pub(super) feeds: HashMap<String, Feed>,
}

/// The station, live. Held by the [`super::Charging`] service.
pub struct Live {
    pub(super) state: Arc<Mutex<LiveState>>,
    /// The way to the committer, started on the first change.
    pub(super) queue: OnceLock<mpsc::Sender<Pending>>,
}

pub(super) fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::NoEnergy => Error::invalid("quantity", r.to_string()),
        Refusal::UnknownCar => Error::NotFound(Entity::ChargingRequest),
        Refusal::UnknownPile => Error::NotFound(Entity::Pile),
        Refusal::BadReading => Error::invalid("meter", r.to_string()),
        Refusal::WaitingAreaFull
        | Refusal::NotMetered
        | Refusal::NotWaiting
        | Refusal::PileState
        | Refusal::NoPileOfMode => Error::State(r.to_string()),
    }
}

/// A change to the station as the operation log keeps it. The scheduler is deterministic, so
/// the last snapshot and the operations after it rebuild the station exactly; the cars that
/// finished in between finish again at the same instants, with the same record numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Op {
    Arrive {
        user: String,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    },
    Modify {
        car: CarId,
        mode: Option<Mode>,
        wh: Option<i64>,
    },
    Cancel {
        car: CarId,
    },
    TakeDown {
        pile: String,
        fault: bool,
    },
    BringUp {
        pile: String,
    },
    /// A change of configuration that keeps the piles.
    Configure {
        config: StationConfig,
    },
    /// The cars due by then finished (the clock moved; logged only when some did).
    Tick,
    /// An OCPP pile's box started a transaction.
    MeterStart {
        pile: String,
        starter: Starter,
        meter_wh: i64,
        at: i64,
    },
    /// Readings of an OCPP pile's transaction (time by the box's clock, Wh).
    Meter {
        pile: String,
        tx: i64,
        readings: Vec<(i64, i64)>,
    },
    /// An OCPP pile's box stopped a transaction.
    MeterStop {
        pile: String,
        tx: i64,
        meter_wh: i64,
        at: i64,
        readings: Vec<(i64, i64)>,
    },
    /// A new, empty station (new piles, or a `--dev` reset, which also drops the records).
    Rebuild {
        config: StationConfig,
        clear_records: bool,
    },
}

pub(super) const STATION_BUSY: &str = "充电站内还有车辆，不能修改充电桩数量、功率或队列长度";

/// Operations between two snapshots, at least. A snapshot writes the whole station, so a
/// station with more cars waits for [`SNAPSHOT_OPS_PER_CAR`] operations a car: the cost of a
/// snapshot, shared by the operations since the last one, stays about the same per operation
/// (with 10,000 cars a snapshot takes 10 ms, and a start replays the log since the last one at
/// hundreds of thousands of operations a second).
pub(super) const SNAPSHOT_EVERY: i64 = 1000;

/// Operations a car between two snapshots (and at least [`SNAPSHOT_EVERY`]). Writing a
/// snapshot stalls the committer (10-25 ms with 10,000 cars, 2.4 MB of JSON): at 13,000
/// operations a second, one operation a car made that a stall every second, enough to put a
/// load client's p99 (corrected for coordinated omission) over 20 ms; ten a car make it one
/// every eight seconds or so. A start replays at most that many operations after the snapshot.
const SNAPSHOT_OPS_PER_CAR: i64 = 10;

/// Operations of the log a batch deletes, of those a snapshot holds (all but the last
/// [`SNAPSHOT_EVERY`] before it), once that many can go: spread over the batches instead of tens
/// of thousands at once in the snapshot's transaction, which stalled the committer for tens of
/// milliseconds, and not a statement in every batch either.
pub(super) const PRUNE_STEP: i64 = 1000;

/// What an operation gave besides its events.
#[derive(Debug, Default)]
pub(super) struct Ran {
    /// The new car (arrivals).
    pub(super) car: Option<CarId>,
    /// The transaction (an OCPP start).
    pub(super) tx: Option<i64>,
    /// Meter readings lower than the last, ignored.
    pub(super) regressed: usize,
}

/// Applies `op` at `now`: what it gave and what happened.
pub(super) fn run(
    st: &mut Station,
    now: i64,
    op: &Op,
) -> std::result::Result<(Ran, Vec<Event>), Refusal> {
    let none = Ran::default;
    Ok(match op {
        Op::Arrive {
            user,
            mode,
            wh,
            capacity_wh,
        } => {
            let (car, events) = st.arrive(now, user, *mode, *wh)?;
            st.set_capacity(car, *capacity_wh);
            (
                Ran {
                    car: Some(car),
                    ..Ran::default()
                },
                events,
            )
        }
        Op::Modify { car, mode, wh } => {
            // Everything that could refuse is checked before anything changes.
            if mode.is_some_and(|m| !st.has_piles(m)) {
                return Err(Refusal::NoPileOfMode);
            }
            let mut events = Vec::new();
            if let Some(wh) = wh {
                events.extend(st.change_energy(now, *car, *wh)?);
            }
            if let Some(mode) = mode {
                events.extend(st.change_mode(now, *car, *mode)?);
            }
            (none(), events)
        }
        Op::Cancel { car } => (none(), st.cancel(now, *car)?),
        Op::TakeDown { pile, fault } => (none(), st.take_down(now, pile, *fault)?),
        Op::BringUp { pile } => (none(), st.bring_up(now, pile)?),
        Op::Configure { config } => {
            let events = st.advance_to(now);
            st.config = config.clone();
            (none(), events)
        }
        Op::Tick => (none(), st.finish_due(now)),
        Op::MeterStart {
            pile,
            starter,
            meter_wh,
            at,
        } => {
            let (tx, events) = st.metered_start(now, pile, starter, *meter_wh, *at)?;
            (
                Ran {
                    tx: Some(tx),
                    ..Ran::default()
                },
                events,
            )
        }
        Op::Meter { pile, tx, readings } => {
            let (regressed, events) = st.metered_readings(now, pile, *tx, readings)?;
            (
                Ran {
                    regressed,
                    ..Ran::default()
                },
                events,
            )
        }
        Op::MeterStop {
            pile,
            tx,
            meter_wh,
            at,
            readings,
        } => {
            let (regressed, events) = st.metered_stop(now, pile, *tx, *meter_wh, *at, readings)?;
            (
                Ran {
                    regressed,
                    ..Ran::default()
                },
                events,
            )
        }
        Op::Rebuild { config, .. } => {
            let events = st.send_everyone_away();
            let mut fresh = Station::new(config.clone(), now.max(st.now()));
            fresh.continue_numbering_from(st);
            *st = fresh;
            (none(), events)
        }
    })
}

pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(anyhow::anyhow!("{what}: {e}"))
}

/// Reads the station back: the snapshot, then the operations after it. Returns the last
/// operation's number, the snapshot's, and the station.
pub(super) async fn read_station(store: &Store) -> Result<Option<(i64, i64, Station)>> {
    let Some((snapshot_version, text)) = store::snapshot(store.pool()).await? else {
        return Ok(None);
    };
    let mut station: Station =
        serde_json::from_str(&text).map_err(|e| internal("unreadable station snapshot", e))?;
    let mut version = snapshot_version;
    for (seq, at, text) in store::ops_after(store.pool(), snapshot_version).await? {
        if seq != version + 1 {
            // A snapshot written meanwhile may have dropped operations: read again if so.
            let moved = store::snapshot(store.pool())
                .await?
                .is_some_and(|(v, _)| v != snapshot_version);
            if moved {
                return Box::pin(read_station(store)).await;
            }
            return Err(internal(
                "charging station log",
                format!("operation {} is missing", version + 1),
            ));
        }
        let op: Op =
            serde_json::from_str(&text).map_err(|e| internal("unreadable station operation", e))?;
        if let Err(r) = run(&mut station, at, &op) {
            tracing::warn!(seq, refusal = %r, "a logged station operation was refused on replay");
        }
        version = seq;
    }
    Ok(Some((version, snapshot_version, station)))
}

impl LiveState {
    pub(super) fn new(station: Station, version: i64, snapshot_version: i64) -> LiveState {
        let mut live = LiveState {
            station,
            version,
            snapshot_version,
            pruned_through: 0,
            broken: false,
            seen_at: 0,
            pruned_at: 0,
            owners: HashMap::new(),
            active: HashMap::new(),
            feeds: HashMap::new(),
        };
        live.index();
        live
    }

    /// Whether the operations since the last snapshot are enough for the next one.
    pub(super) fn snapshot_due(&self) -> bool {
        let every = SNAPSHOT_EVERY.max(SNAPSHOT_OPS_PER_CAR * self.station.car_count() as i64);
        self.version - self.snapshot_version >= every
    }

    /// Rebuilds who owns which request from the station (after a load).
    fn index(&mut self) {
        self.owners.clear();
        self.active.clear();
        for car in self.station.cars() {
            self.owners.insert(car.id, car.user.clone());
            self.active.insert(car.user.clone(), car.id);
        }
    }

    fn pile_no(&self, id: &str) -> i64 {
        self.station
            .piles
            .iter()
            .position(|p| p.id == id)
            .map_or(0, |i| i as i64 + 1)
    }

    pub(super) fn record(&self, r: &DetailRecord) -> Record {
        Record {
            id: r.id as i64,
            user: r.user.clone(),
            number: r.number.clone(),
            pile: r.pile.clone(),
            pile_no: self.pile_no(&r.pile),
            requested_at: r.requested_at,
            wh: r.wh,
            start: r.start,
            stop: r.stop,
            charge_fee: r.charge_fee,
            service_fee: r.service_fee,
            reason: r.reason,
        }
    }

    pub(super) fn view(&self, id: CarId) -> Option<CarView> {
        let st = &self.station;
        let car = st.car(id)?;
        let (charged_wh, fee_so_far) = st.progress_at(id, self.seen_at).unwrap_or((0, 0));
        let (state, pile) = match car.place {
            Place::Waiting => (CarState::Waiting, None),
            Place::Displaced => (CarState::Displaced, None),
            Place::Queue(p) => {
                let pile = &st.piles[p];
                let charging = pile.queue.front() == Some(&id) && pile.charging_since.is_some();
                let state = if charging {
                    CarState::Charging
                } else {
                    CarState::Queued
                };
                (state, Some(pile.id.clone()))
            }
        };
        Some(CarView {
            user: car.user.clone(),
            number: car.number.clone(),
            mode: car.mode,
            state,
            pile,
            ahead: st.cars_ahead(id).unwrap_or(0),
            requested_wh: car.requested_wh(),
            charged_wh,
            fee_so_far,
            capacity_wh: car.capacity_wh,
            arrived_at: car.arrived_at,
            queued_at: car.queued_at,
        })
    }

    /// Turns the station's events into their drivers' notices, to be delivered with
    /// [`LiveState::deliver`]. Who owns which request changes at once: a later change of the
    /// same batch looks its driver up (a second arrival of a driver is refused, a cancelled
    /// request is gone), while the notices wait for the batch to be durable.
    pub(super) fn stage(&mut self, events: Vec<Event>, out: &mut Vec<(String, NoticeKind)>) {
        for event in events {
            let (car, kind) = match event {
                Event::Queued { car, number } => {
                    let Some(c) = self.station.car(car) else {
                        continue;
                    };
                    self.owners.insert(car, c.user.clone());
                    self.active.insert(c.user.clone(), car);
                    let kind = NoticeKind::Queued {
                        number,
                        mode: c.mode,
                        wh: c.remaining_wh,
                    };
                    (car, kind)
                }
                Event::Called { car, pile, moved } => (car, NoticeKind::Called { pile, moved }),
                Event::Started { car, pile, at } => (car, NoticeKind::Started { pile, at }),
                Event::Ended { record, done } => {
                    let car = record.car;
                    let record = self.record(&record);
                    (car, NoticeKind::Ended { record, done })
                }
                Event::Renumbered { car, number } => {
                    let mode = self.station.car(car).map_or(Mode::Fast, |c| c.mode);
                    (car, NoticeKind::Renumbered { number, mode })
                }
                Event::Left { car } => (car, NoticeKind::Cancelled),
                Event::Revised { car, wh } => (car, NoticeKind::Revised { wh }),
                Event::Metered { car, wh, fee } => (car, NoticeKind::Metered { wh, fee }),
            };
            let Some(user) = self.owners.get(&car).cloned() else {
                continue;
            };
            if kind.is_final() {
                self.owners.remove(&car);
                if self.active.get(&user) == Some(&car) {
                    self.active.remove(&user);
                }
            }
            out.push((user, kind));
        }
    }

    /// Delivers staged notices: each driver's feed keeps them in order and passes them to the
    /// driver's open streams.
    pub(super) fn deliver(&mut self, notices: Vec<(String, NoticeKind)>) {
        let at = self.seen_at.max(self.station.now());
        for (user, kind) in notices {
            let over = kind.is_final();
            let feed = self.feeds.entry(user).or_default();
            if feed.ended {
                // A new request: a new stream.
                *feed = Feed::default();
            }
            // Meter readings follow each other: the newest takes the place (and number) of the
            // one before, so a long session's history holds one.
            let replaces = matches!(kind, NoticeKind::Metered { .. })
                && feed
                    .history
                    .last()
                    .is_some_and(|n| matches!(n.kind, NoticeKind::Metered { .. }));
            if replaces {
                feed.history.pop();
            }
            let notice = Arc::new(Notice {
                seq: feed.history.len() as u64 + 1,
                kind,
            });
            feed.listeners.retain(|tx| tx.send(notice.clone()).is_ok());
            feed.history.push(notice);
            if over {
                // The listeners have had the last notice; the history stays for late readers.
                feed.listeners.clear();
                feed.ended = true;
                feed.ended_at = at;
            }
        }
    }

    /// Stages and delivers at once: for what is durable already (other processes' operations).
    pub(super) fn publish(&mut self, events: Vec<Event>) {
        let mut notices = Vec::new();
        self.stage(events, &mut notices);
        self.deliver(notices);
    }

    /// Drops the notices of requests that ended long ago and that no stream follows (looked at
    /// once an hour).
    pub(super) fn prune(&mut self, now: i64) {
        if now - self.pruned_at > FEED_PRUNE_EVERY_MS {
            self.pruned_at = now;
            self.feeds.retain(|_, f| {
                !(f.ended && f.listeners.is_empty() && now - f.ended_at > ENDED_FEED_KEPT_MS)
            });
        }
    }

    /// Follows `user`'s feed on `stream`. A new request's stream gets the notices so far
    /// first; a stream that joins a request in progress gets what comes next.
    pub(super) fn follow(&mut self, user: &str, stream: Listener, joined: bool) {
        let feed = self.feeds.entry(user.to_owned()).or_default();
        if joined && feed.ended {
            // What is left is an earlier request's (the station was read back since).
            *feed = Feed::default();
        }
        if !joined {
            for n in &feed.history {
                let _ = stream.send(n.clone());
            }
        }
        // A request already over (cancelled in the same batch) has sent its last notice.
        if !feed.ended {
            feed.listeners.push(stream);
        }
    }
}

impl Live {
    /// Loads the persisted station, or starts an empty one with `config`.
    pub async fn load(store: &Store, config: &StationConfig, now: Timestamp) -> Result<Live> {
        let (version, snapshot_version, station) = match read_station(store).await? {
            Some(found) => found,
            None => {
                check_config(config)?;
                let station = Station::new(config.clone(), now.millis());
                let text = serde_json::to_string(&station).map_err(Error::internal)?;
                store::first_snapshot(store.pool(), &text, now.millis()).await?;
                // Another process may have written the first one: read back whatever won.
                read_station(store)
                    .await?
                    .ok_or_else(|| internal("station snapshot", "vanished"))?
            }
        };
        Ok(Live {
            state: Arc::new(Mutex::new(LiveState::new(
                station,
                version,
                snapshot_version,
            ))),
            queue: OnceLock::new(),
        })
    }
}
