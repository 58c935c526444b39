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

use tokio::sync::{Mutex, MutexGuard, mpsc};

use super::station::{
    CarId, DetailRecord, EndReason, Event, Mode, PileState, Place, Refusal, Station, StationConfig,
};
use crate::domain::{Core, Entity, Error, Result, Timestamp};
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
}

struct LiveState {
    station: Station,
    version: i64,
    /// Who made each request at the station.
    owners: HashMap<CarId, String>,
    /// Each driver's request at the station.
    active: HashMap<String, CarId>,
    feeds: HashMap<String, Feed>,
}

/// The station, live. Held by the [`Core`].
pub struct Live {
    state: Mutex<LiveState>,
}

fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::NoEnergy => Error::invalid("quantity", r.to_string()),
        Refusal::UnknownCar => Error::NotFound(Entity::ChargingRequest),
        Refusal::UnknownPile => Error::NotFound(Entity::Pile),
        Refusal::WaitingAreaFull | Refusal::NotWaiting | Refusal::PileState => {
            Error::State(r.to_string())
        }
    }
}

async fn read_station(store: &Store) -> Result<Option<(i64, Station)>> {
    let Some((version, text)) = store::snapshot(store.pool()).await? else {
        return Ok(None);
    };
    let station: Station = serde_json::from_str(&text)
        .map_err(|e| Error::internal(anyhow::anyhow!("unreadable station snapshot: {e}")))?;
    Ok(Some((version, station)))
}

impl LiveState {
    fn new(station: Station, version: i64) -> LiveState {
        let mut live = LiveState {
            station,
            version,
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
        let (charged_wh, fee_so_far) = st.progress(id).unwrap_or((0, 0));
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
            // The next request starts a new stream; listeners of this one are told it ended.
            if let Some(feed) = self.feeds.get_mut(&user) {
                feed.history.clear();
                feed.listeners.clear();
            }
            self.feeds.remove(&user);
        }
    }
}

impl Live {
    /// Loads the persisted station, or starts an empty one with `config`.
    pub async fn load(store: &Store, config: &StationConfig, now: Timestamp) -> Result<Live> {
        let (version, station) = match read_station(store).await? {
            Some(found) => found,
            None => {
                check_config(config)?;
                let station = Station::new(config.clone(), now.millis());
                let text = serde_json::to_string(&station).map_err(Error::internal)?;
                store::write_snapshot(store.pool(), 0, &text, now.millis()).await?;
                // Another process may have written the first one: read back whatever won.
                read_station(store)
                    .await?
                    .ok_or_else(|| Error::internal(anyhow::anyhow!("station snapshot vanished")))?
            }
        };
        Ok(Live {
            state: Mutex::new(LiveState::new(station, version)),
        })
    }
}

impl Core {
    async fn station(&self) -> MutexGuard<'_, LiveState> {
        self.charging.state.lock().await
    }

    /// Applies `op` at the current instant (after what is due), writes the result and tells
    /// the drivers. When the write fails, the station is read back from the database.
    async fn station_change<T>(
        &self,
        live: &mut LiveState,
        op: impl FnOnce(&mut Station, i64) -> std::result::Result<(T, Vec<Event>), Refusal>,
    ) -> Result<T> {
        let now = self.now().millis();
        let mut events = live.station.advance_to(now);
        let outcome = op(&mut live.station, now);
        let value = match outcome {
            Ok((value, more)) => {
                events.extend(more);
                value
            }
            Err(r) => {
                if !events.is_empty() {
                    self.station_save(live, events).await?;
                }
                return Err(refusal(r));
            }
        };
        self.station_save(live, events).await?;
        Ok(value)
    }

    async fn station_save(&self, live: &mut LiveState, events: Vec<Event>) -> Result<()> {
        match self.station_write(live, &events).await {
            Ok(()) => {
                live.version += 1;
                live.publish(events);
                Ok(())
            }
            Err(err) => {
                // Memory ran ahead of the database: go back to what is stored.
                if let Ok(Some((version, station))) = read_station(&self.store).await {
                    *live = LiveState::new(station, version);
                }
                Err(err)
            }
        }
    }

    async fn station_write(&self, live: &LiveState, events: &[Event]) -> Result<()> {
        let text = serde_json::to_string(&live.station).map_err(Error::internal)?;
        let records: Vec<RecordRow> = events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { record, .. } => Some(live.record(record).to_row()),
                _ => None,
            })
            .collect();
        let mut tx = self.store.begin_write().await?;
        if !store::write_snapshot(&mut *tx, live.version, &text, self.now().millis()).await? {
            return Err(Error::State(
                "充电站的状态刚被另一个服务进程修改，请重试".into(),
            ));
        }
        store::insert_records(&mut *tx, &records).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lets the cars due by now finish; called by the ticker and before every read.
    pub async fn charging_tick(&self) -> Result<()> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await
    }

    async fn station_catch_up(&self, live: &mut LiveState) -> Result<()> {
        let now = self.now().millis();
        let due = live.station.next_finish().is_some_and(|t| t <= now);
        // Moves the station's time (progress is read at it) even when nobody finishes.
        let events = live.station.advance_to(now);
        if due {
            self.station_save(live, events).await?;
        }
        Ok(())
    }

    /// Opens a driver's stream: joins the request in progress, or makes one with `mode` and
    /// `wh` (which must then be given). `since` skips the events a reconnecting stream has.
    pub async fn charging_open(
        &self,
        user: &str,
        request: Option<(Mode, i64, Option<i64>)>,
        since: u64,
    ) -> Result<Subscription> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        let mut created = false;
        let car = match live.active.get(user).copied() {
            Some(car) => car,
            None => {
                let (mode, wh, capacity) = request.ok_or(Error::invalid(
                    "mode",
                    "请选择充电模式(fast/common)并填写充电量",
                ))?;
                created = true;
                self.arrive(&mut live, user, mode, wh, capacity).await?
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let feed = live.feeds.entry(user.to_owned()).or_default();
        let backlog: Vec<Arc<Notice>> = if created {
            Vec::new()
        } else {
            feed.history
                .iter()
                .filter(|n| n.seq > since)
                .cloned()
                .collect()
        };
        if created {
            // The events of the arrival are in the history; send them through the stream.
            for n in &feed.history {
                let _ = tx.send(n.clone());
            }
        }
        feed.listeners.push(tx);
        Ok(Subscription {
            view: live.view(car),
            backlog,
            events: rx,
            created,
        })
    }

    async fn arrive(
        &self,
        live: &mut LiveState,
        user: &str,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    ) -> Result<CarId> {
        if let Some(cap) = capacity_wh {
            if cap <= 0 || cap < wh {
                return Err(Error::invalid("capacity", "电池容量须大于0且不小于充电量"));
            }
        }
        self.station_change(live, |st, now| {
            let (car, events) = st.arrive(now, user, mode, wh)?;
            st.set_capacity(car, capacity_wh);
            Ok((car, events))
        })
        .await
    }

    /// Makes a request over HTTP (for clients without a stream).
    pub async fn charging_apply(
        &self,
        user: &str,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
    ) -> Result<CarView> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        if live.active.contains_key(user) {
            return Err(Error::Conflict(Entity::ChargingRequest));
        }
        let car = self.arrive(&mut live, user, mode, wh, capacity_wh).await?;
        live.view(car)
            .ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Changes the mode and/or the energy of a driver's waiting request.
    pub async fn charging_modify(
        &self,
        user: &str,
        mode: Option<Mode>,
        wh: Option<i64>,
    ) -> Result<CarView> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
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
        let changed_wh = self
            .station_change(&mut live, |st, now| {
                let mut events = Vec::new();
                let mut changed = None;
                if let Some(wh) = wh {
                    let before = st.car(car).map(|c| c.remaining_wh);
                    events.extend(st.change_energy(now, car, wh)?);
                    if before != Some(wh) {
                        changed = Some(wh);
                    }
                }
                if let Some(mode) = mode {
                    events.extend(st.change_mode(now, car, mode)?);
                }
                Ok((changed, events))
            })
            .await?;
        if let Some(wh) = changed_wh {
            live.notify(car, NoticeKind::Revised { wh });
        }
        live.view(car)
            .ok_or(Error::NotFound(Entity::ChargingRequest))
    }

    /// Cancels a driver's request wherever it is.
    pub async fn charging_cancel(&self, user: &str) -> Result<()> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        let car = *live
            .active
            .get(user)
            .ok_or(Error::NotFound(Entity::ChargingRequest))?;
        self.station_change(&mut live, |st, now| Ok(((), st.cancel(now, car)?)))
            .await
    }

    /// A driver's request in progress, if any.
    pub async fn charging_info(&self, user: &str) -> Result<Option<CarView>> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        Ok(live.active.get(user).and_then(|car| live.view(*car)))
    }

    /// Every pile with the cars in its queue.
    pub async fn charging_piles(&self) -> Result<Vec<PileView>> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
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
    pub async fn charging_waiting(&self) -> Result<(Vec<CarView>, Vec<CarView>)> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
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
    pub async fn charging_pile_action(&self, pile: &str, action: PileAction) -> Result<()> {
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        self.station_change(&mut live, |st, now| {
            let events = match action {
                PileAction::Off => st.take_down(now, pile, false)?,
                PileAction::Fault => st.take_down(now, pile, true)?,
                PileAction::On | PileAction::Recover => st.bring_up(now, pile)?,
            };
            Ok(((), events))
        })
        .await
    }

    /// The station's configuration.
    pub async fn charging_config(&self) -> StationConfig {
        self.station().await.station.config.clone()
    }

    /// Changes the configuration. Prices, the service fee, the fault policy and the size of
    /// the waiting area apply at once; pile counts, powers and the queue length only to an
    /// empty station (409 otherwise).
    pub async fn charging_set_config(&self, config: StationConfig) -> Result<StationConfig> {
        check_config(&config)?;
        let mut live = self.station().await;
        self.station_catch_up(&mut live).await?;
        let old = live.station.config.clone();
        let structural = config.fast_piles != old.fast_piles
            || config.slow_piles != old.slow_piles
            || config.fast_power_w != old.fast_power_w
            || config.slow_power_w != old.slow_power_w
            || config.queue_len != old.queue_len;
        if structural {
            if live.station.cars().next().is_some() {
                return Err(Error::State(
                    "充电站内还有车辆，不能修改充电桩数量、功率或队列长度".into(),
                ));
            }
            let mut station = Station::new(config.clone(), self.now().millis());
            station.continue_records_from(live.station.next_record());
            live.station = station;
        } else {
            live.station.config = config.clone();
        }
        self.station_save(&mut live, Vec::new()).await?;
        Ok(config)
    }

    /// Empties the station and starts over with `config` (the current one if none); the
    /// detail records go too. Only under `--dev`, for replays.
    pub async fn charging_reset(&self, config: Option<StationConfig>) -> Result<StationConfig> {
        let mut live = self.station().await;
        let config = config.unwrap_or_else(|| live.station.config.clone());
        check_config(&config)?;
        let mut station = Station::new(config.clone(), self.now().millis());
        station.continue_records_from(live.station.next_record());
        let users: Vec<String> = live.active.keys().cloned().collect();
        live.station = station;
        store::delete_records(self.store.pool()).await?;
        self.station_save(&mut live, Vec::new()).await?;
        // Requests that were at the station are gone: their streams end.
        for user in users {
            live.feeds.remove(&user);
        }
        live.index();
        Ok(config)
    }

    /// A driver's latest detail records, newest first.
    pub async fn charging_records(&self, user: &str, num: i64) -> Result<Vec<Record>> {
        self.charging_tick().await?;
        let rows = store::records_of(self.store.pool(), user, num).await?;
        Ok(rows.into_iter().map(Record::from_row).collect())
    }

    /// The latest detail records of every driver, newest first (operator).
    pub async fn charging_all_records(&self, limit: i64) -> Result<Vec<Record>> {
        self.charging_tick().await?;
        let rows = store::all_records(self.store.pool(), limit).await?;
        Ok(rows.into_iter().map(Record::from_row).collect())
    }

    /// Per-pile sums of the sessions that ended in `[from, to)`, every pile listed.
    pub async fn charging_report(&self, from: i64, to: i64) -> Result<Vec<store::PileSums>> {
        self.charging_tick().await?;
        let sums = store::pile_sums(self.store.pool(), from, to).await?;
        let live = self.station().await;
        let mut out: Vec<store::PileSums> = live
            .station
            .piles
            .iter()
            .enumerate()
            .map(|(i, p)| {
                sums.iter()
                    .find(|s| s.pile == p.id)
                    .cloned()
                    .unwrap_or(store::PileSums {
                        pile: p.id.clone(),
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
