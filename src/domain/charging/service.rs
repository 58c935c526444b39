//! The station as a service: one scheduler in memory, written to the database with every change
//! (a JSON snapshot and the detail records, in one transaction), on the server's one clock.
//!
//! Every operation, reads included, first lets the cars that are due by now finish (and the
//! calls they trigger), so what a client sees never depends on whether anyone was watching. A
//! ticker does the same on its own, so the drivers' streams get their events on time.
//!
//! Each driver has at most one request at a time. Its events go to every stream the driver has
//! open, in order, and are kept while the request lives, so a stream that reconnects can catch
//! up from the last event it saw.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};

use super::Charging;
use super::settings::StationSettings;
use super::station::{
    CarId, DetailRecord, EndReason, Event, Mode, PileState, Place, Refusal, Station, StationConfig,
};
use crate::domain::{Entity, Error, Result, Timestamp};
use crate::store::Store;
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

    fn to_row(&self) -> RecordRow {
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

#[derive(Default)]
struct Feed {
    history: Vec<Arc<Notice>>,
    listeners: Vec<mpsc::UnboundedSender<Arc<Notice>>>,
    /// The request is over; its notices stay until the driver's next request (or a day), so
    /// a stream that was away can still read how it ended.
    ended: bool,
    ended_at: i64,
}

/// How long the notices of an ended request are kept, and how often they are looked at.
const ENDED_FEED_KEPT_MS: i64 = 24 * 3_600_000;
const FEED_PRUNE_EVERY_MS: i64 = 3_600_000;

struct LiveState {
    station: Station,
    /// The last operation written (or the snapshot's version when none came after it).
    version: i64,
    snapshot_version: i64,
    /// Memory may be ahead of the database (a write failed and reading back failed too):
    /// nothing runs until the station has been read back.
    broken: bool,
    /// The instant of the last job: what readers see progress at (the station's own time moves
    /// only with what happens).
    seen_at: i64,
    /// When ended requests' notices were last pruned.
    pruned_at: i64,
    /// Who made each request at the station.
    owners: HashMap<CarId, String>,
    /// Each driver's request at the station.
    active: HashMap<String, CarId>,
    feeds: HashMap<String, Feed>,
}

/// The station, live. Held by the [`Charging`] service.
pub struct Live {
    state: Arc<Mutex<LiveState>>,
}

fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::NoEnergy => Error::invalid("quantity", r.to_string()),
        Refusal::UnknownCar => Error::NotFound(Entity::ChargingRequest),
        Refusal::UnknownPile => Error::NotFound(Entity::Pile),
        Refusal::WaitingAreaFull
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
enum Op {
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
    /// A new, empty station (new piles, or a `--dev` reset, which also drops the records).
    Rebuild {
        config: StationConfig,
        clear_records: bool,
    },
}

const STATION_BUSY: &str = "充电站内还有车辆，不能修改充电桩数量、功率或队列长度";

/// Operations between two snapshots.
const SNAPSHOT_EVERY: i64 = 1000;

/// Applies `op` at `now`: the new car (arrivals) and what happened.
fn run(
    st: &mut Station,
    now: i64,
    op: &Op,
) -> std::result::Result<(Option<CarId>, Vec<Event>), Refusal> {
    Ok(match op {
        Op::Arrive {
            user,
            mode,
            wh,
            capacity_wh,
        } => {
            let (car, events) = st.arrive(now, user, *mode, *wh)?;
            st.set_capacity(car, *capacity_wh);
            (Some(car), events)
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
            (None, events)
        }
        Op::Cancel { car } => (None, st.cancel(now, *car)?),
        Op::TakeDown { pile, fault } => (None, st.take_down(now, pile, *fault)?),
        Op::BringUp { pile } => (None, st.bring_up(now, pile)?),
        Op::Configure { config } => {
            let events = st.advance_to(now);
            st.config = config.clone();
            (None, events)
        }
        Op::Tick => (None, st.finish_due(now)),
        Op::Rebuild { config, .. } => {
            let events = st.send_everyone_away();
            let mut fresh = Station::new(config.clone(), now.max(st.now()));
            fresh.continue_numbering_from(st);
            *st = fresh;
            (None, events)
        }
    })
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(anyhow::anyhow!("{what}: {e}"))
}

/// Reads the station back: the snapshot, then the operations after it. Returns the last
/// operation's number, the snapshot's, and the station.
async fn read_station(store: &Store) -> Result<Option<(i64, i64, Station)>> {
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
    fn new(station: Station, version: i64, snapshot_version: i64) -> LiveState {
        let mut live = LiveState {
            station,
            version,
            snapshot_version,
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

    fn record(&self, r: &DetailRecord) -> Record {
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

    fn view(&self, id: CarId) -> Option<CarView> {
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

    /// Turns the station's events into each driver's notices and sends them.
    fn publish(&mut self, events: Vec<Event>) {
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
            };
            self.notify(car, kind);
        }
    }

    fn notify(&mut self, car: CarId, kind: NoticeKind) {
        let Some(user) = self.owners.get(&car).cloned() else {
            return;
        };
        let over = kind.is_final();
        let feed = self.feeds.entry(user.clone()).or_default();
        if feed.ended {
            // A new request: a new stream.
            *feed = Feed::default();
        }
        let notice = Arc::new(Notice {
            seq: feed.history.len() as u64 + 1,
            kind,
        });
        feed.listeners.retain(|tx| tx.send(notice.clone()).is_ok());
        feed.history.push(notice);
        if over {
            self.owners.remove(&car);
            if self.active.get(&user) == Some(&car) {
                self.active.remove(&user);
            }
            // The listeners have had the last notice; the history stays for late readers.
            let at = self.seen_at.max(self.station.now());
            if let Some(feed) = self.feeds.get_mut(&user) {
                feed.listeners.clear();
                feed.ended = true;
                feed.ended_at = at;
            }
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
        })
    }
}

type Guard = OwnedMutexGuard<LiveState>;

/// What changes the station; run on a task of its own (see [`Charging::station_job`]).
enum Job {
    /// Reads what other processes logged, then lets the cars due by now finish.
    CatchUp,
    /// Catches up, then applies the operation.
    Change(Op),
}

/// Writes the station: what a job needs of the [`Charging`] service, owned, so the job can run
/// on its own task.
#[derive(Clone)]
struct Writer {
    store: Store,
    clock: crate::domain::Clock,
}

impl Writer {
    /// The instant operations run at: the clock, never before the station's own time (a
    /// simulated clock may be set back), so that a replay of the log runs them identically.
    fn now(&self, live: &LiveState) -> i64 {
        self.clock.now().millis().max(live.station.now())
    }

    async fn run(&self, live: &mut LiveState, job: Job) -> Result<Option<CarId>> {
        if live.broken {
            self.reload(live).await;
            if live.broken {
                return Err(Error::Unavailable {
                    service: crate::domain::Service::Storage,
                    detail: "充电站数据暂时无法读取，请稍后再试".into(),
                });
            }
        }
        let op = match job {
            Job::CatchUp => None,
            Job::Change(op) => Some(op),
        };
        let now = self.now(live);
        if now - live.pruned_at > FEED_PRUNE_EVERY_MS {
            live.pruned_at = now;
            live.feeds.retain(|_, f| {
                !(f.ended && f.listeners.is_empty() && now - f.ended_at > ENDED_FEED_KEPT_MS)
            });
        }
        if op.is_none() {
            // A reader: nothing to write unless a car is due or another process logged.
            let now = self.now(live);
            live.seen_at = now;
            let due = live.station.next_finish().is_some_and(|t| t <= now);
            if !due && store::head(self.store.pool()).await? == live.version {
                return Ok(None);
            }
        }
        // The station's row is locked (SQLite: the write lock; PostgreSQL: the row) from
        // reading what others logged to writing what this job did: processes sharing the
        // database take turns.
        let mut tx = self.store.begin_write().await?;
        let outcome = self.locked(live, &mut tx, op.as_ref()).await;
        let (result, logged) = match outcome {
            Ok(done) => done,
            Err(e) => {
                drop(tx);
                self.reload(live).await;
                return Err(e);
            }
        };
        if let Err(e) = tx.commit().await {
            self.reload(live).await;
            return Err(e.into());
        }
        for events in logged {
            live.version += 1;
            live.publish(events);
        }
        if live.version - live.snapshot_version >= SNAPSHOT_EVERY {
            if let Err(e) = self.snapshot(live).await {
                tracing::warn!(error = %e, "charging station snapshot failed");
            }
        }
        result
    }

    /// Inside the job's transaction: catches up with the log, lets the cars due by now finish,
    /// applies the operation. Returns the operation's outcome and the events of each
    /// operation written (published once the transaction commits).
    async fn locked(
        &self,
        live: &mut LiveState,
        tx: &mut crate::store::Tx,
        op: Option<&Op>,
    ) -> Result<(Result<Option<CarId>>, Vec<Vec<Event>>)> {
        let head = store::lock_head(tx, self.store.backend()).await?;
        if head != live.version {
            self.sync(live, tx, head).await?;
        }
        // One instant for both: the operation finds nothing left to finish first.
        let now = self.now(live);
        live.seen_at = now;
        let mut logged = Vec::new();
        let events = live.station.finish_due(now);
        if !events.is_empty() {
            self.write(live, tx, logged.len(), now, &Op::Tick, &events)
                .await?;
            logged.push(events);
        }
        let Some(op) = op else {
            return Ok((Ok(None), logged));
        };
        // What was checked before the lock, again, against what other processes did since.
        match op {
            Op::Arrive { user, .. } if live.active.contains_key(user) => {
                return Ok((Err(Error::Conflict(Entity::ChargingRequest)), logged));
            }
            Op::Rebuild {
                clear_records: false,
                ..
            } if live.station.cars().next().is_some() => {
                return Ok((Err(Error::State(STATION_BUSY.into())), logged));
            }
            // Made for piles that another process has replaced since: try again.
            Op::Configure { config } if is_structural(&live.station.config, config) => {
                return Ok((
                    Err(Error::State("充电站的配置刚被修改，请刷新后重试".into())),
                    logged,
                ));
            }
            _ => {}
        }
        let before = live.station.now();
        match run(&mut live.station, now, op) {
            Ok((car, events)) => {
                self.write(live, tx, logged.len(), now, op, &events).await?;
                logged.push(events);
                Ok((Ok(car), logged))
            }
            Err(r) => {
                live.station.undo_time_to(before);
                Ok((Err(refusal(r)), logged))
            }
        }
    }

    /// Applies what other processes logged since this one last looked (and tells this
    /// process's streams); reads the station back when the log has moved past a snapshot.
    async fn sync(&self, live: &mut LiveState, tx: &mut crate::store::Tx, head: i64) -> Result<()> {
        let ops = store::ops_after(&mut **tx, live.version).await?;
        if head < live.version
            || ops
                .first()
                .is_none_or(|(seq, _, _)| *seq != live.version + 1)
        {
            self.reload(live).await;
            return if live.broken {
                Err(internal("charging station", "cannot be read back"))
            } else {
                Ok(())
            };
        }
        for (seq, at, text) in ops {
            let op: Op = serde_json::from_str(&text)
                .map_err(|e| internal("unreadable station operation", e))?;
            let events = match run(&mut live.station, at, &op) {
                Ok((_, events)) => events,
                Err(r) => {
                    tracing::warn!(seq, refusal = %r, "a logged station operation was refused");
                    Vec::new()
                }
            };
            live.version = seq;
            live.publish(events);
        }
        Ok(())
    }

    /// Reads the station back; the drivers' streams stay.
    async fn reload(&self, live: &mut LiveState) {
        match read_station(&self.store).await {
            Ok(Some((version, snapshot_version, station))) => {
                let feeds = std::mem::take(&mut live.feeds);
                *live = LiveState::new(station, version, snapshot_version);
                live.feeds = feeds;
            }
            Ok(None) => {
                tracing::error!("the charging station's snapshot is gone");
                live.broken = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the charging station back");
                live.broken = true;
            }
        }
    }

    /// Writes the operation after the `before` ones this job wrote already, with its records.
    async fn write(
        &self,
        live: &LiveState,
        tx: &mut crate::store::Tx,
        before: usize,
        at: i64,
        op: &Op,
        events: &[Event],
    ) -> Result<()> {
        let records: Vec<RecordRow> = events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { record, .. } => Some(live.record(record).to_row()),
                _ => None,
            })
            .collect();
        let text = serde_json::to_string(op).map_err(Error::internal)?;
        let seq = live.version + before as i64 + 1;
        if !store::advance_head(&mut **tx, seq - 1, seq).await? {
            return Err(internal("charging station", "the log moved under its lock"));
        }
        if !store::insert_op(&mut **tx, seq, at, &text).await? {
            return Err(internal(
                "charging station",
                "an operation number was taken",
            ));
        }
        if matches!(
            op,
            Op::Rebuild {
                clear_records: true,
                ..
            }
        ) {
            store::delete_records(&mut **tx).await?;
        }
        store::insert_records(tx, &records).await?;
        Ok(())
    }

    /// Writes the whole station at its version and drops the operations it holds.
    async fn snapshot(&self, live: &mut LiveState) -> Result<()> {
        let text = serde_json::to_string(&live.station).map_err(Error::internal)?;
        let mut tx = self.store.begin_write().await?;
        store::write_snapshot(&mut *tx, live.version, &text, self.clock.now().millis()).await?;
        // A tail of the log stays, so that processes a little behind replay instead of reading
        // the whole station back.
        store::delete_ops_through(&mut *tx, live.version - SNAPSHOT_EVERY).await?;
        tx.commit().await?;
        live.snapshot_version = live.version;
        Ok(())
    }
}

impl Charging {
    async fn station(&self) -> Guard {
        self.live.state.clone().lock_owned().await
    }

    /// Runs a job on the station on a task of its own and hands the station back. A request
    /// whose client goes away mid-way drops its future; the job still finishes, so memory, the
    /// log and the drivers' streams never part ways.
    async fn station_job(&self, live: Guard, job: Job) -> Result<(Option<CarId>, Guard)> {
        let writer = Writer {
            store: self.store.clone(),
            clock: self.clock.clone(),
        };
        let task = tokio::spawn(async move {
            let mut live = live;
            let result = writer.run(&mut live, job).await;
            (result, live)
        });
        match task.await {
            Ok((Ok(car), live)) => Ok((car, live)),
            Ok((Err(e), _)) => Err(e),
            Err(e) => {
                // The job stopped half-way: what memory holds may be in no log.
                self.station().await.broken = true;
                Err(internal("charging station task", e))
            }
        }
    }

    /// The station, caught up with the clock.
    async fn station_now(&self) -> Result<Guard> {
        let live = self.station().await;
        Ok(self.station_job(live, Job::CatchUp).await?.1)
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
        user: &str,
        request: Option<(Mode, i64, Option<i64>)>,
        since: Option<u64>,
    ) -> Result<Subscription> {
        let mut live = self.station_now().await?;
        let after = |feed: &Feed, since: u64| -> Vec<Arc<Notice>> {
            feed.history
                .iter()
                .filter(|n| n.seq > since)
                .cloned()
                .collect()
        };
        let (tx, rx) = mpsc::unbounded_channel();
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
        let (mode, wh, capacity) = request.ok_or(Error::invalid(
            "mode",
            "请选择充电模式(fast/common)并填写充电量",
        ))?;
        let (car, mut live) = self.arrive(live, user, mode, wh, capacity).await?;
        let feed = live.feeds.entry(user.to_owned()).or_default();
        // The arrival's notices are in the history already; they go through the stream.
        for n in &feed.history {
            let _ = tx.send(n.clone());
        }
        feed.listeners.push(tx);
        Ok(Subscription {
            view: live.view(car),
            backlog: Vec::new(),
            events: rx,
            created: true,
            ended: false,
        })
    }

    async fn arrive(
        &self,
        live: Guard,
        user: &str,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    ) -> Result<(CarId, Guard)> {
        if let Some(cap) = capacity_wh {
            if cap <= 0 || cap < wh {
                return Err(Error::invalid("capacity", "电池容量须大于0且不小于充电量"));
            }
        }
        let op = Op::Arrive {
            user: user.to_owned(),
            mode,
            wh,
            capacity_wh,
        };
        match self.station_job(live, Job::Change(op)).await? {
            (Some(car), live) => Ok((car, live)),
            (None, _) => Err(internal("arrival", "no car")),
        }
    }

    /// Makes a request over HTTP (for clients without a stream).
    pub async fn apply(
        &self,
        user: &str,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    ) -> Result<CarView> {
        let live = self.station_now().await?;
        if live.active.contains_key(user) {
            return Err(Error::Conflict(Entity::ChargingRequest));
        }
        let (car, live) = self.arrive(live, user, mode, wh, capacity_wh).await?;
        live.view(car)
            .ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Changes the mode and/or the energy of a driver's waiting request.
    pub async fn modify(&self, user: &str, mode: Option<Mode>, wh: Option<i64>) -> Result<CarView> {
        let live = self.station_now().await?;
        let car = *live
            .active
            .get(user)
            .ok_or(Error::NotFound(Entity::ChargingRequest))?;
        if mode.is_none() && wh.is_none() {
            return Err(Error::invalid("mode", "请填写新的充电模式或充电量"));
        }
        let place = live.station.car(car).map(|c| c.place);
        if place != Some(Place::Waiting) {
            return Err(refusal(Refusal::NotWaiting));
        }
        let capacity = live.station.car(car).and_then(|c| c.capacity_wh);
        if let (Some(cap), Some(wh)) = (capacity, wh) {
            if wh > cap {
                return Err(Error::invalid("quantity", "充电量不能超过电池容量"));
            }
        }
        let (_, live) = self
            .station_job(live, Job::Change(Op::Modify { car, mode, wh }))
            .await?;
        live.view(car)
            .ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Cancels a driver's request wherever it is.
    pub async fn cancel(&self, user: &str) -> Result<()> {
        let live = self.station_now().await?;
        let car = *live
            .active
            .get(user)
            .ok_or(Error::NotFound(Entity::ChargingRequest))?;
        self.station_job(live, Job::Change(Op::Cancel { car }))
            .await?;
        Ok(())
    }

    /// A driver's request in progress, if any.
    pub async fn info(&self, user: &str) -> Result<Option<CarView>> {
        let live = self.station_now().await?;
        Ok(live.active.get(user).and_then(|car| live.view(*car)))
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
        let live = self.station().await;
        let pile = pile.to_owned();
        let op = match action {
            PileAction::Off => Op::TakeDown { pile, fault: false },
            PileAction::Fault => Op::TakeDown { pile, fault: true },
            PileAction::On | PileAction::Recover => Op::BringUp { pile },
        };
        self.station_job(live, Job::Change(op)).await?;
        Ok(())
    }

    /// The station's configuration.
    pub async fn config(&self) -> Result<StationConfig> {
        Ok(self.station_now().await?.station.config.clone())
    }

    /// Changes the configuration. Prices, the service fee, the fault policy and the size of
    /// the waiting area apply at once; pile counts, powers and the queue length only to an
    /// empty station (409 otherwise).
    /// `changes` are keys of [`StationSettings`]; they are applied to the configuration in
    /// force under the station's lock, so two operators' changes never undo each other.
    pub async fn set_config(
        &self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationConfig> {
        let live = self.station_now().await?;
        let config = self.patched_config(&live, changes)?;
        let job = if is_structural(&live.station.config, &config) {
            if live.station.cars().next().is_some() {
                return Err(Error::State(STATION_BUSY.into()));
            }
            Job::Change(Op::Rebuild {
                config: config.clone(),
                clear_records: false,
            })
        } else {
            Job::Change(Op::Configure {
                config: config.clone(),
            })
        };
        self.station_job(live, job).await?;
        Ok(config)
    }

    /// The configuration in force with `changes` (operator's units) applied, checked.
    fn patched_config(
        &self,
        live: &LiveState,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationConfig> {
        let offset = self.settings.zone.offset_secs();
        let config = StationSettings::patch(&live.station.config, changes, offset)?;
        check_config(&config)?;
        Ok(config)
    }

    /// Empties the station and starts over with `config` (the current one if none); the
    /// detail records go too. Only under `--dev`, for replays.
    pub async fn reset(
        &self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationConfig> {
        let live = self.station_now().await?;
        let config = self.patched_config(&live, changes)?;
        // Every request at the station ends (its stream hears `cancelled`).
        let op = Op::Rebuild {
            config: config.clone(),
            clear_records: true,
        };
        self.station_job(live, Job::Change(op)).await?;
        Ok(config)
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

/// Whether going from `old` to `new` changes the piles (their number, power or queue length).
fn is_structural(old: &StationConfig, new: &StationConfig) -> bool {
    new.fast_piles != old.fast_piles
        || new.slow_piles != old.slow_piles
        || new.fast_power_w != old.fast_power_w
        || new.slow_power_w != old.slow_power_w
        || new.queue_len != old.queue_len
}

/// Limits that keep the station sane (and its arithmetic far from overflow).
fn check_config(c: &StationConfig) -> Result<()> {
    let piles = |n: usize| (0..=1000).contains(&n);
    if !piles(c.fast_piles) || !piles(c.slow_piles) || c.fast_piles + c.slow_piles == 0 {
        return Err(Error::invalid(
            "fast_piles",
            "pile counts must be 0-1000, at least one pile in all",
        ));
    }
    let power = |w: i64| (100..=1_000_000).contains(&w);
    if !power(c.fast_power_w) || !power(c.slow_power_w) {
        return Err(Error::invalid(
            "fast_power_kw",
            "pile powers must be 0.1-1000 kW",
        ));
    }
    if !(1..=100_000).contains(&c.waiting_capacity) {
        return Err(Error::invalid(
            "waiting_capacity",
            "the waiting area must have 1-100000 places",
        ));
    }
    if !(1..=100).contains(&c.queue_len) {
        return Err(Error::invalid(
            "queue_len",
            "a pile queue must have 1-100 places",
        ));
    }
    c.tariff
        .validate()
        .map_err(|m| Error::invalid("tariff", m))?;
    if !(0..=100_000).contains(&c.tariff.service_fee)
        || c.tariff
            .periods
            .iter()
            .any(|p| !(0..=100_000).contains(&p.price))
    {
        return Err(Error::invalid(
            "tariff",
            "prices must be 0-1000.00 yuan per kWh",
        ));
    }
    Ok(())
}
