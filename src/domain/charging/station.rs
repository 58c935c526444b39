//! The station: the waiting area, the piles and their queues, and the dispatch rules of the
//! course's requirements (`seeds/README.md`). Pure and deterministic: every operation is told
//! the time, first lets the cars that finish by then finish (and the calls they trigger), then
//! applies itself, and returns what happened as [`Event`]s.
//!
//! Energy is in Wh, power in W, times in UTC milliseconds, fees in fen. Cars finish on their
//! own: the next finishing time of every pile is kept in an ordered set, so moving the clock
//! costs a logarithmic step per finish.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::tariff::{Tariff, duration_ms, energy_wh, fen_of_milli};
use super::waiting_line::WaitingLine;

/// A charging request (one car's stay at the station).
pub type CarId = u64;

/// Fast or slow ("trickle") charging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    Fast,
    Slow,
}

impl Mode {
    fn index(self) -> usize {
        match self {
            Mode::Fast => 0,
            Mode::Slow => 1,
        }
    }

    /// The letter of its queue numbers and pile ids: `F` or `T`.
    pub fn letter(self) -> &'static str {
        match self {
            Mode::Fast => "F",
            Mode::Slow => "T",
        }
    }

    const ALL: [Mode; 2] = [Mode::Fast, Mode::Slow];
}

/// What happens to the cars of a pile that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultPolicy {
    /// The faulty pile's cars, in their queue order, take free places first.
    Priority,
    /// They are pooled with the not-yet-charging cars of the other piles of the mode and
    /// re-dispatched in queue-number order.
    TimeOrder,
}

/// The station's set-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationConfig {
    pub fast_piles: usize,
    pub slow_piles: usize,
    pub fast_power_w: i64,
    pub slow_power_w: i64,
    /// Waiting-area places (N).
    pub waiting_capacity: usize,
    /// Places in each pile's queue, the charging car included (M).
    pub queue_len: usize,
    pub fault_policy: FaultPolicy,
    pub tariff: Tariff,
    /// The piles driven by an OCPP charge box, each with its box's id; the others are
    /// simulated (they deliver their rated power until the car has what it asked for).
    #[serde(default)]
    pub ocpp_piles: BTreeMap<String, String>,
}

impl StationConfig {
    /// The pile charge box `charge_box` drives.
    pub fn pile_of_box(&self, charge_box: &str) -> Option<&String> {
        self.ocpp_piles
            .iter()
            .find(|(_, b)| b.as_str() == charge_box)
            .map(|(p, _)| p)
    }
}

impl Default for StationConfig {
    fn default() -> Self {
        StationConfig {
            fast_piles: 2,
            slow_piles: 3,
            fast_power_w: 30_000,
            slow_power_w: 10_000,
            waiting_capacity: 10,
            queue_len: 3,
            fault_policy: FaultPolicy::Priority,
            tariff: Tariff::standard(),
            ocpp_piles: BTreeMap::new(),
        }
    }
}

/// A pile's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PileState {
    Working,
    Off,
    Fault,
}

/// A pile with its queue and its totals since start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pile {
    pub id: String,
    pub mode: Mode,
    pub power_w: i64,
    pub state: PileState,
    pub queue: VecDeque<CarId>,
    /// When the head of the queue began its current session.
    pub charging_since: Option<i64>,
    pub sessions: u64,
    pub charged_ms: i64,
    pub charged_wh: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
    /// The prices of the session under way: those in force when it began (a change of prices
    /// applies to the sessions that begin after it).
    #[serde(default)]
    pub session_tariff: Option<Tariff>,
    /// The session under way on an OCPP pile: what its meter says.
    #[serde(default)]
    pub metered: Option<Metered>,
    /// The last transaction a fault or a switch-off cut short: what its box's own stop still
    /// bills (the energy after the last reading, once).
    #[serde(default)]
    pub tail: Option<Tail>,
}

/// A transaction cut short (fault, switch-off, silence): the box may have gone on until its
/// stop, which comes later, with the meter's last word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    pub car: CarId,
    pub user: String,
    pub number: String,
    pub requested_at: i64,
    pub reason: EndReason,
    /// From the cut on: `meter_start_wh` is the meter at the cut.
    pub meter: Metered,
    pub tariff: Tariff,
}

/// A session on an OCPP pile. The car was called at `charging_since`; the box's transaction
/// starts when the driver plugs in, and its meter readings, not the pile's rated power, say what
/// was delivered and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metered {
    /// The box's transaction, once it started.
    pub tx: Option<i64>,
    /// The meter when the transaction started (Wh).
    pub meter_start_wh: i64,
    pub started_at: i64,
    /// The last reading taken into account: when, and the meter (Wh).
    pub last_at: i64,
    pub last_wh: i64,
    /// The charge fee of the energy metered so far, in thousandths of a fen.
    pub milli_fen: i64,
    /// The server wants the transaction stopped: the car has what it asked for (`Finished`) or
    /// its driver cancelled (`Cancelled`). The car stays until the box says it stopped.
    pub stopping: Option<EndReason>,
}

impl Metered {
    /// Takes the reading `wh` at `at` (kept between the last reading and `now`), priced by
    /// `tariff`; true when it is lower than the last (then ignored).
    fn take_reading(&mut self, tariff: &Tariff, at: i64, wh: i64, now: i64) -> bool {
        if wh < self.last_wh {
            return true;
        }
        let at = at.clamp(self.last_at, now.max(self.last_at));
        let added = tariff.metered_milli_fen(self.last_at, self.last_wh, at, wh);
        self.milli_fen = self
            .milli_fen
            .saturating_add(i64::try_from(added).unwrap_or(i64::MAX));
        self.last_at = at;
        self.last_wh = wh;
        false
    }

    /// Energy metered since the transaction started (Wh).
    pub fn delivered_wh(&self) -> i64 {
        if self.tx.is_some() {
            (self.last_wh - self.meter_start_wh).max(0)
        } else {
            0
        }
    }
}

/// Who starts a transaction on an OCPP pile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Starter {
    /// The car the server called to the pile (the id tag it gave the box for it).
    Car(CarId),
    /// A driver's own card.
    Driver(String),
}

/// Energy a walk-in session (a driver's card on an idle pile, no request made) may take at most:
/// the box stops it when the car is full, or the server at this much.
pub const WALK_IN_WH: i64 = 100_000;

impl Pile {
    /// Time until the pile's queue is through (ms from `now`).
    fn queue_time(&self, cars: &HashMap<CarId, Car>, now: i64) -> i64 {
        let mut total = 0;
        for (pos, id) in self.queue.iter().enumerate() {
            let Some(car) = cars.get(id) else {
                continue;
            };
            total += match (pos, self.charging_since) {
                (0, Some(_)) if self.metered.is_some() => {
                    let done = self.metered.as_ref().map_or(0, Metered::delivered_wh);
                    duration_ms(self.power_w, car.remaining_wh - done)
                }
                (0, Some(since)) => {
                    (since + duration_ms(self.power_w, car.remaining_wh) - now).max(0)
                }
                _ => duration_ms(self.power_w, car.remaining_wh),
            };
        }
        total
    }
}

/// Where a car is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Place {
    Waiting,
    /// In a pile's queue (index into the piles).
    Queue(usize),
    /// Taken off a failed pile (or pooled), waiting for a place before the waiting area.
    Displaced,
}

/// A car at the station.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Car {
    pub id: CarId,
    pub user: String,
    pub mode: Mode,
    /// `F1`, `T3`, ...
    pub number: String,
    seq: u64,
    /// Energy still to deliver (Wh).
    pub remaining_wh: i64,
    /// Energy delivered in finished or interrupted sessions (Wh).
    pub delivered_wh: i64,
    /// Fees of those sessions (fen).
    pub fees_so_far: i64,
    pub place: Place,
    pub arrived_at: i64,
    /// When it entered its current pile queue.
    pub queued_at: Option<i64>,
    /// Order in the waiting area (arrival, or the moment it changed mode).
    waiting_order: u64,
    /// The battery's capacity (Wh), when the driver said.
    #[serde(default)]
    pub capacity_wh: Option<i64>,
}

impl Car {
    /// The energy asked for: delivered so far plus what is still missing.
    pub fn requested_wh(&self) -> i64 {
        self.delivered_wh + self.remaining_wh
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    Finished,
    Cancelled,
    Fault,
    SwitchedOff,
}

/// One detail record (详单): a session that delivered energy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailRecord {
    /// The record's number, from 1, in the order sessions end.
    #[serde(default)]
    pub id: u64,
    pub car: CarId,
    /// When the request was made (the order's submission time).
    #[serde(default)]
    pub requested_at: i64,
    pub user: String,
    pub number: String,
    pub pile: String,
    pub wh: i64,
    pub start: i64,
    pub stop: i64,
    pub charge_fee: i64,
    pub service_fee: i64,
    pub reason: EndReason,
}

impl DetailRecord {
    pub fn total(&self) -> i64 {
        self.charge_fee + self.service_fee
    }

    pub fn duration_ms(&self) -> i64 {
        self.stop - self.start
    }
}

/// What an operation did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A car entered the waiting area with its number.
    Queued { car: CarId, number: String },
    /// A car was called to a pile's queue (from the waiting area or after a fault).
    Called {
        car: CarId,
        pile: String,
        /// Moved here after a fault (or a pile switched off or back on).
        moved: bool,
    },
    /// A car began charging.
    Started { car: CarId, pile: String, at: i64 },
    /// A session ended; `done` when the car leaves the station.
    Ended { record: DetailRecord, done: bool },
    /// A car got a new number (mode change).
    Renumbered { car: CarId, number: String },
    /// A waiting car now asks for `wh`.
    Revised { car: CarId, wh: i64 },
    /// An OCPP pile's meter moved: the car's energy and fee so far (Wh, fen).
    Metered { car: CarId, wh: i64, fee: i64 },
    /// A car left without a session ending (cancelled while not charging).
    Left { car: CarId },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("等候区已满，请稍后再来")]
    WaitingAreaFull,
    #[error("充电量须大于0")]
    NoEnergy,
    #[error("没有这个充电请求")]
    UnknownCar,
    #[error("只有在等候区才能修改充电模式或充电量")]
    NotWaiting,
    #[error("没有这个充电桩")]
    UnknownPile,
    #[error("该充电桩当前状态不允许此操作")]
    PileState,
    #[error("本站没有这种模式的充电桩")]
    NoPileOfMode,
    #[error("该充电桩不是OCPP充电桩")]
    NotMetered,
    #[error("电表读数无效")]
    BadReading,
}

/// The working piles with a free place, by mode: those with cars by the absolute end of their
/// queue, the empty ones by number.
#[derive(Debug, Clone, Default)]
struct FreeIndex {
    busy: [BTreeSet<(i64, usize)>; 2],
    empty: [BTreeSet<usize>; 2],
    /// Each pile's entry: `Some(None)` empty, `Some(Some(end))` busy, `None` not listed.
    entry: Vec<Option<Option<i64>>>,
}

impl FreeIndex {
    /// The working pile of `mode` with a free place where a car would finish soonest (the
    /// lower-numbered pile on a tie), a logarithmic step.
    ///
    /// All piles of a mode have the same power, so the car's own charging time is the same on
    /// each, and the soonest finish is the soonest end of a pile's queue: `now` for an empty
    /// pile, the absolute end of its queue otherwise (never before `now`).
    fn best(&self, mode: Mode, now: i64) -> Option<usize> {
        let m = mode.index();
        let busy = self.busy[m].first().copied();
        let empty = self.empty[m].first().copied();
        match (busy, empty) {
            (None, e) => e,
            (Some((_, b)), None) => Some(b),
            (Some((end, b)), Some(e)) => Some(if end <= now { b.min(e) } else { e }),
        }
    }

    /// Lists pile `p` (of `mode`) anew: `None` not at all (not working, or full), `Some(None)`
    /// empty, `Some(Some(end))` busy until `end`.
    fn set(&mut self, p: usize, mode: Mode, entry: Option<Option<i64>>) {
        let m = mode.index();
        match self.entry[p].take() {
            Some(None) => {
                self.empty[m].remove(&p);
            }
            Some(Some(end)) => {
                self.busy[m].remove(&(end, p));
            }
            None => {}
        }
        match entry {
            Some(None) => {
                self.empty[m].insert(p);
            }
            Some(Some(end)) => {
                self.busy[m].insert((end, p));
            }
            None => {}
        }
        self.entry[p] = entry;
    }
}

/// The station.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Station {
    pub config: StationConfig,
    now: i64,
    pub piles: Vec<Pile>,
    cars: HashMap<CarId, Car>,
    /// The waiting area by mode, in waiting order.
    waiting: [WaitingLine; 2],
    displaced: [VecDeque<CarId>; 2],
    next_seq: [u64; 2],
    next_car: CarId,
    next_waiting_order: u64,
    /// `(finish time, pile)` of every charging head.
    finishes: BTreeSet<(i64, usize)>,
    /// The next detail record's number.
    #[serde(default = "first_record")]
    next_record: u64,
    /// The next OCPP transaction id.
    #[serde(default = "first_tx")]
    next_tx: i64,
    /// The piles with a free place, ordered for dispatch; rebuilt after loading.
    #[serde(skip)]
    free: Option<FreeIndex>,
    /// What happened since the last operation returned; never persisted.
    #[serde(skip)]
    events: Vec<Event>,
}

fn first_record() -> u64 {
    1
}

fn first_tx() -> i64 {
    1
}

impl Station {
    pub fn new(config: StationConfig, now: i64) -> Station {
        let mut piles = Vec::new();
        for (mode, count, power) in [
            (Mode::Fast, config.fast_piles, config.fast_power_w),
            (Mode::Slow, config.slow_piles, config.slow_power_w),
        ] {
            for i in 1..=count {
                piles.push(Pile {
                    id: format!("{}{i}", mode.letter()),
                    mode,
                    power_w: power,
                    state: PileState::Working,
                    queue: VecDeque::new(),
                    charging_since: None,
                    sessions: 0,
                    charged_ms: 0,
                    charged_wh: 0,
                    charge_fee: 0,
                    service_fee: 0,
                    session_tariff: None,
                    metered: None,
                    tail: None,
                });
            }
        }
        Station {
            config,
            now,
            piles,
            cars: HashMap::new(),
            waiting: Default::default(),
            displaced: Default::default(),
            next_seq: [1, 1],
            next_car: 1,
            next_waiting_order: 1,
            finishes: BTreeSet::new(),
            next_record: 1,
            next_tx: 1,
            free: None,
            events: Vec::new(),
        }
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    /// Whether the station has piles of `mode` at all (working or not).
    pub fn has_piles(&self, mode: Mode) -> bool {
        match mode {
            Mode::Fast => self.config.fast_piles > 0,
            Mode::Slow => self.config.slow_piles > 0,
        }
    }

    /// When the next car finishes charging, if one is charging.
    pub fn next_finish(&self) -> Option<i64> {
        self.finishes.first().map(|(t, _)| *t)
    }

    /// The number the next detail record gets.
    pub fn next_record(&self) -> u64 {
        self.next_record
    }

    /// Carries the numbering of records and requests over from the station this one replaces
    /// (new piles, a reset): no number is ever used twice.
    pub fn continue_numbering_from(&mut self, old: &Station) {
        self.next_record = self.next_record.max(old.next_record);
        self.next_car = self.next_car.max(old.next_car);
        self.next_tx = self.next_tx.max(old.next_tx);
    }

    /// Sends every car away (the station is being replaced), in the order they came.
    pub fn send_everyone_away(&mut self) -> Vec<Event> {
        let mut ids: Vec<CarId> = self.cars.keys().copied().collect();
        ids.sort_unstable();
        ids.into_iter().map(|car| Event::Left { car }).collect()
    }

    /// Puts the station's time back to `to` (never forward): only to undo the move of an
    /// operation that was refused, so that only what happens moves the time.
    pub fn undo_time_to(&mut self, to: i64) {
        self.now = self.now.min(to);
    }

    /// Every car at the station, in no particular order.
    pub fn cars(&self) -> impl Iterator<Item = &Car> {
        self.cars.values()
    }

    /// Records the battery capacity a driver gave.
    pub fn set_capacity(&mut self, id: CarId, capacity_wh: Option<i64>) {
        if let Some(car) = self.cars.get_mut(&id) {
            car.capacity_wh = capacity_wh;
        }
    }

    /// How many cars are at the station.
    pub fn car_count(&self) -> usize {
        self.cars.len()
    }

    pub fn car(&self, id: CarId) -> Option<&Car> {
        self.cars.get(&id)
    }

    /// The cars in the waiting area, in order.
    pub fn waiting(&self) -> Vec<&Car> {
        let mut cars: Vec<&Car> = self
            .waiting
            .iter()
            .flat_map(WaitingLine::ids)
            .filter_map(|id| self.cars.get(id))
            .collect();
        cars.sort_by_key(|c| c.waiting_order);
        cars
    }

    /// Cars taken off a failed pile and not placed yet, by mode.
    pub fn displaced(&self, mode: Mode) -> Vec<&Car> {
        self.displaced[mode.index()]
            .iter()
            .filter_map(|id| self.cars.get(id))
            .collect()
    }

    /// Cars of `mode` ahead of `car` (in queues before it, and in the waiting area before it).
    pub fn cars_ahead(&self, id: CarId) -> Option<usize> {
        let car = self.cars.get(&id)?;
        Some(match car.place {
            Place::Queue(p) => self.piles[p].queue.iter().position(|c| *c == id)?,
            Place::Displaced => self.displaced[car.mode.index()]
                .iter()
                .position(|c| *c == id)?,
            Place::Waiting => {
                let m = car.mode.index();
                let in_queues: usize = self
                    .piles
                    .iter()
                    .filter(|p| p.mode == car.mode)
                    .map(|p| p.queue.len())
                    .sum();
                in_queues + self.displaced[m].len() + self.waiting[m].before(car.waiting_order)
            }
        })
    }

    /// Energy delivered to a car so far, its current session included, and the fees so far.
    pub fn progress(&self, id: CarId) -> Option<(i64, i64)> {
        self.progress_at(id, self.now)
    }

    /// [`Station::progress`] as of `now` (not before the station's own time), without moving
    /// the station: what a reader sees between two events.
    pub fn progress_at(&self, id: CarId, now: i64) -> Option<(i64, i64)> {
        let car = self.cars.get(&id)?;
        let (mut wh, mut fee) = (car.delivered_wh, car.fees_so_far);
        if let Place::Queue(p) = car.place {
            let pile = &self.piles[p];
            if let (Some(m), Some(&head)) = (&pile.metered, pile.queue.front()) {
                if head == id {
                    let done = m.delivered_wh();
                    let service = i128::from(done) * i128::from(self.session_tariff(p).service_fee);
                    wh += done;
                    fee += fen_of_milli(i128::from(m.milli_fen)) + fen_of_milli(service);
                }
                return Some((wh, fee));
            }
            if let (Some(since), Some(&head)) = (pile.charging_since, pile.queue.front()) {
                if head == id {
                    let finish = since + duration_ms(pile.power_w, car.remaining_wh);
                    let now = now.max(self.now).min(finish);
                    let now_wh = energy_wh(pile.power_w, now - since).min(car.remaining_wh);
                    let tariff = pile.session_tariff.as_ref().unwrap_or(&self.config.tariff);
                    let (c, s) = tariff.fees(pile.power_w, since, now);
                    wh += now_wh;
                    fee += c + s;
                }
            }
        }
        Some((wh, fee))
    }

    /// Lets every car that finishes by `now` finish, with the calls that follow.
    pub fn advance_to(&mut self, now: i64) -> Vec<Event> {
        self.run_until(now);
        std::mem::take(&mut self.events)
    }

    /// Lets every car that finishes by `now` finish, with the calls that follow, but moves the
    /// station's time only as far as the last of them: a station whose time moves only with
    /// what happens is rebuilt exactly from a log of what happened.
    pub fn finish_due(&mut self, now: i64) -> Vec<Event> {
        self.finish_until(now);
        std::mem::take(&mut self.events)
    }

    fn finish_until(&mut self, now: i64) {
        while let Some(&(t, p)) = self.finishes.first() {
            if t > now {
                break;
            }
            self.now = self.now.max(t);
            self.end_head(p, EndReason::Finished);
            self.dispatch();
        }
    }

    fn run_until(&mut self, now: i64) {
        self.finish_until(now);
        self.now = self.now.max(now);
    }

    /// A car arrives with a request.
    pub fn arrive(
        &mut self,
        now: i64,
        user: &str,
        mode: Mode,
        wh: i64,
    ) -> Result<(CarId, Vec<Event>), Refusal> {
        self.run_until(now);
        if wh <= 0 {
            return Err(Refusal::NoEnergy);
        }
        if !self.has_piles(mode) {
            return Err(Refusal::NoPileOfMode);
        }
        if self.waiting[0].len() + self.waiting[1].len() >= self.config.waiting_capacity {
            return Err(Refusal::WaitingAreaFull);
        }
        let id = self.next_car;
        self.next_car += 1;
        let (seq, number, order) = self.number(mode);
        self.cars.insert(
            id,
            Car {
                id,
                user: user.to_owned(),
                mode,
                number: number.clone(),
                seq,
                remaining_wh: wh,
                delivered_wh: 0,
                fees_so_far: 0,
                place: Place::Waiting,
                arrived_at: self.now,
                queued_at: None,
                waiting_order: order,
                capacity_wh: None,
            },
        );
        self.waiting[mode.index()].insert(order, id);
        self.events.push(Event::Queued { car: id, number });
        self.dispatch();
        Ok((id, std::mem::take(&mut self.events)))
    }

    /// Cancels a request wherever the car is; a charging car gets its detail record.
    pub fn cancel(&mut self, now: i64, id: CarId) -> Result<Vec<Event>, Refusal> {
        self.run_until(now);
        let car = self.cars.get(&id).ok_or(Refusal::UnknownCar)?;
        let m = car.mode.index();
        match car.place {
            Place::Waiting => {
                let order = car.waiting_order;
                self.waiting[m].remove(order);
                self.cars.remove(&id);
                self.events.push(Event::Left { car: id });
            }
            Place::Displaced => {
                self.displaced[m].retain(|c| *c != id);
                self.finish_car_without_session(id);
            }
            Place::Queue(p) => {
                let head = self.piles[p].queue.front() == Some(&id);
                if let (true, Some(m)) = (head, self.piles[p].metered.as_mut()) {
                    if m.tx.is_some() {
                        // The box stops the transaction; its stop closes the session.
                        m.stopping.get_or_insert(EndReason::Cancelled);
                        return Ok(std::mem::take(&mut self.events));
                    }
                }
                if head && self.piles[p].charging_since.is_some() {
                    self.end_head(p, EndReason::Cancelled);
                } else {
                    self.piles[p].queue.retain(|c| *c != id);
                    self.finish_car_without_session(id);
                }
                self.refresh(p);
            }
        }
        self.dispatch();
        Ok(std::mem::take(&mut self.events))
    }

    fn finish_car_without_session(&mut self, id: CarId) {
        self.cars.remove(&id);
        self.events.push(Event::Left { car: id });
    }

    /// Changes the mode of a waiting car: a new number at the end of the new mode's line.
    pub fn change_mode(&mut self, now: i64, id: CarId, mode: Mode) -> Result<Vec<Event>, Refusal> {
        self.run_until(now);
        let car = self.cars.get(&id).ok_or(Refusal::UnknownCar)?;
        if car.place != Place::Waiting {
            return Err(Refusal::NotWaiting);
        }
        if !self.has_piles(mode) {
            return Err(Refusal::NoPileOfMode);
        }
        if car.mode != mode {
            let old = car.mode.index();
            let old_order = car.waiting_order;
            self.waiting[old].remove(old_order);
            let (seq, number, order) = self.number(mode);
            if let Some(car) = self.cars.get_mut(&id) {
                car.mode = mode;
                car.seq = seq;
                car.number = number.clone();
                car.waiting_order = order;
            }
            self.waiting[mode.index()].insert(order, id);
            self.events.push(Event::Renumbered { car: id, number });
            self.dispatch();
        }
        Ok(std::mem::take(&mut self.events))
    }

    /// Changes the energy a waiting car asks for; it keeps its number.
    pub fn change_energy(&mut self, now: i64, id: CarId, wh: i64) -> Result<Vec<Event>, Refusal> {
        self.run_until(now);
        if wh <= 0 {
            return Err(Refusal::NoEnergy);
        }
        let car = self.cars.get_mut(&id).ok_or(Refusal::UnknownCar)?;
        if car.place != Place::Waiting {
            return Err(Refusal::NotWaiting);
        }
        if car.remaining_wh != wh {
            car.remaining_wh = wh;
            self.events.push(Event::Revised { car: id, wh });
        }
        Ok(std::mem::take(&mut self.events))
    }

    /// Pile `id`.
    pub fn pile(&self, id: &str) -> Option<&Pile> {
        self.piles.iter().find(|p| p.id == id)
    }

    fn pile_index(&self, id: &str) -> Result<usize, Refusal> {
        self.piles
            .iter()
            .position(|p| p.id == id)
            .ok_or(Refusal::UnknownPile)
    }

    /// A pile fails (or is switched off): its charging car stops with a detail record and the
    /// pile's cars are re-dispatched under the configured policy.
    pub fn take_down(&mut self, now: i64, pile: &str, fault: bool) -> Result<Vec<Event>, Refusal> {
        self.run_until(now);
        let p = self.pile_index(pile)?;
        if self.piles[p].state != PileState::Working {
            return Err(Refusal::PileState);
        }
        if self.piles[p].charging_since.is_some() {
            let reason = if fault {
                EndReason::Fault
            } else {
                EndReason::SwitchedOff
            };
            self.interrupt_head(p, reason);
        }
        self.piles[p].state = if fault {
            PileState::Fault
        } else {
            PileState::Off
        };
        let mode = self.piles[p].mode;
        let m = mode.index();
        let cars: Vec<CarId> = self.piles[p].queue.drain(..).collect();
        self.refresh(p);
        match self.config.fault_policy {
            FaultPolicy::Priority => {
                for id in cars {
                    self.displace(id);
                    self.displaced[m].push_back(id);
                }
            }
            FaultPolicy::TimeOrder => {
                let mut pool = cars;
                pool.extend(self.take_queued_not_charging(mode));
                self.pool_by_number(mode, pool);
            }
        }
        self.dispatch();
        Ok(std::mem::take(&mut self.events))
    }

    /// A pile recovers (or is switched on): not-yet-charging cars of its mode are pooled with
    /// any still displaced and re-dispatched in number order, the recovered pile included.
    pub fn bring_up(&mut self, now: i64, pile: &str) -> Result<Vec<Event>, Refusal> {
        self.run_until(now);
        let p = self.pile_index(pile)?;
        if self.piles[p].state == PileState::Working {
            return Err(Refusal::PileState);
        }
        self.piles[p].state = PileState::Working;
        self.refresh(p);
        let mode = self.piles[p].mode;
        let queued = self.take_queued_not_charging(mode);
        if !queued.is_empty() {
            self.pool_by_number(mode, queued);
        }
        self.dispatch();
        Ok(std::mem::take(&mut self.events))
    }

    /// Pools `cars` with the cars of `mode` still displaced; they wait, in number order, for
    /// the next free places.
    fn pool_by_number(&mut self, mode: Mode, mut cars: Vec<CarId>) {
        let m = mode.index();
        cars.extend(self.displaced[m].drain(..));
        for id in &cars {
            self.displace(*id);
        }
        self.sort_by_number(&mut cars);
        self.displaced[m] = cars.into();
    }

    /// Takes the not-yet-charging cars out of the queues of the working piles of `mode`.
    fn take_queued_not_charging(&mut self, mode: Mode) -> Vec<CarId> {
        let mut taken = Vec::new();
        let mut touched = Vec::new();
        for (p, pile) in self.piles.iter_mut().enumerate() {
            if pile.mode != mode || pile.state != PileState::Working {
                continue;
            }
            let keep = usize::from(pile.charging_since.is_some());
            if pile.queue.len() > keep {
                touched.push(p);
            }
            while pile.queue.len() > keep {
                if let Some(id) = pile.queue.pop_back() {
                    taken.push(id);
                }
            }
        }
        for p in touched {
            self.refresh(p);
        }
        taken
    }

    fn displace(&mut self, id: CarId) {
        if let Some(car) = self.cars.get_mut(&id) {
            car.place = Place::Displaced;
            car.queued_at = None;
        }
    }

    fn sort_by_number(&self, ids: &mut [CarId]) {
        ids.sort_by_key(|id| self.cars.get(id).map_or(u64::MAX, |c| c.seq));
    }

    /// The next number of `mode` (`F3`: its sequence and its text) and the next place in the
    /// waiting order.
    fn number(&mut self, mode: Mode) -> (u64, String, u64) {
        let seq = self.next_seq[mode.index()];
        self.next_seq[mode.index()] += 1;
        let order = self.next_waiting_order;
        self.next_waiting_order += 1;
        (seq, format!("{}{seq}", mode.letter()), order)
    }

    /// Fills free places: displaced cars of a mode first, then (when none is left) the waiting
    /// area's first car of that mode, each onto the pile where it finishes soonest.
    fn dispatch(&mut self) {
        for mode in Mode::ALL {
            let m = mode.index();
            loop {
                let from_displaced = !self.displaced[m].is_empty();
                let next = if from_displaced {
                    self.displaced[m].front().copied()
                } else {
                    self.waiting[m].first()
                };
                let Some(id) = next else { break };
                self.ensure_index();
                let Some(p) = self.free.as_ref().and_then(|f| f.best(mode, self.now)) else {
                    break;
                };
                #[cfg(test)]
                assert_eq!(
                    Some(p),
                    self.best_pile_by_scan(id),
                    "the index agrees with a scan"
                );
                if from_displaced {
                    self.displaced[m].pop_front();
                } else {
                    self.waiting[m].pop_first();
                }
                self.place(id, p, from_displaced);
            }
        }
    }

    fn ensure_index(&mut self) {
        if self.free.is_none() {
            self.free = Some(FreeIndex {
                entry: vec![None; self.piles.len()],
                ..FreeIndex::default()
            });
            for p in 0..self.piles.len() {
                self.refresh(p);
            }
        }
    }

    /// Puts pile `p` where it belongs in the index after its queue or state changed.
    fn refresh(&mut self, p: usize) {
        let Some(mut index) = self.free.take() else {
            return;
        };
        let pile = &self.piles[p];
        let entry = (pile.state == PileState::Working && pile.queue.len() < self.config.queue_len)
            .then(|| {
                (!pile.queue.is_empty()).then(|| self.now + pile.queue_time(&self.cars, self.now))
            });
        index.set(p, pile.mode, entry);
        self.free = Some(index);
    }

    /// [`FreeIndex::best`] by looking at every pile: what the index must agree with.
    #[cfg(test)]
    fn best_pile_by_scan(&self, id: CarId) -> Option<usize> {
        let car = self.cars.get(&id)?;
        let mut best: Option<(i64, usize)> = None;
        for (i, pile) in self.piles.iter().enumerate() {
            if pile.mode != car.mode
                || pile.state != PileState::Working
                || pile.queue.len() >= self.config.queue_len
            {
                continue;
            }
            let done =
                pile.queue_time(&self.cars, self.now) + duration_ms(pile.power_w, car.remaining_wh);
            if best.is_none_or(|(t, _)| done < t) {
                best = Some((done, i));
            }
        }
        best.map(|(_, i)| i)
    }

    fn place(&mut self, id: CarId, p: usize, moved: bool) {
        let now = self.now;
        if let Some(car) = self.cars.get_mut(&id) {
            car.place = Place::Queue(p);
            car.queued_at = Some(now);
        }
        self.piles[p].queue.push_back(id);
        self.events.push(Event::Called {
            car: id,
            pile: self.piles[p].id.clone(),
            moved,
        });
        if self.piles[p].queue.len() == 1 {
            self.start_head(p);
        }
        self.refresh(p);
    }

    fn start_head(&mut self, p: usize) {
        let Some(&id) = self.piles[p].queue.front() else {
            return;
        };
        let Some(car) = self.cars.get(&id) else {
            return;
        };
        let ocpp = self.config.ocpp_piles.contains_key(&self.piles[p].id);
        let pile = &mut self.piles[p];
        pile.charging_since = Some(self.now);
        pile.session_tariff = Some(self.config.tariff.clone());
        if ocpp {
            // Called: the box is asked to start; its meter tells the rest.
            pile.metered = Some(Metered {
                tx: None,
                meter_start_wh: 0,
                started_at: self.now,
                last_at: self.now,
                last_wh: 0,
                milli_fen: 0,
                stopping: None,
            });
        } else {
            let finish = self.now + duration_ms(pile.power_w, car.remaining_wh);
            self.finishes.insert((finish, p));
        }
        self.events.push(Event::Started {
            car: id,
            pile: pile.id.clone(),
            at: self.now,
        });
    }

    /// Ends the head's session now: finished (all delivered) or cancelled; the car leaves.
    fn end_head(&mut self, p: usize, reason: EndReason) {
        let Some((id, record)) = self.close_session(p, reason) else {
            return;
        };
        self.piles[p].queue.pop_front();
        self.cars.remove(&id);
        self.events.push(match record {
            Some(record) => Event::Ended { record, done: true },
            None => Event::Left { car: id },
        });
        self.start_head(p);
        self.refresh(p);
    }

    /// Stops the head's session (fault, switch-off); the car stays, needing what is missing.
    fn interrupt_head(&mut self, p: usize, reason: EndReason) {
        // A metered car whose stop was asked for (it had enough, or its driver cancelled) does
        // not want the rest: it leaves, as it would have at the stop.
        let stopping = self.piles[p]
            .metered
            .as_ref()
            .is_some_and(|m| m.stopping.is_some());
        if let Some((id, Some(record))) = self.close_session(p, reason) {
            // A metered session may have delivered all the car asked for: it leaves.
            let done = stopping || self.cars.get(&id).is_none_or(|c| c.remaining_wh <= 0);
            if done {
                self.piles[p].queue.retain(|c| *c != id);
                self.cars.remove(&id);
            }
            self.events.push(Event::Ended { record, done });
        }
    }

    /// Closes the head's current session and books it: the car and its detail record (none
    /// for a session stopped the instant it began: nothing was delivered).
    fn close_session(
        &mut self,
        p: usize,
        reason: EndReason,
    ) -> Option<(CarId, Option<DetailRecord>)> {
        let since = self.piles[p].charging_since.take()?;
        let id = *self.piles[p].queue.front()?;
        if let Some(m) = self.piles[p].metered.take() {
            return Some((id, self.close_metered(p, id, m, reason)));
        }
        let power = self.piles[p].power_w;
        let finish = since + {
            let car = self.cars.get(&id)?;
            duration_ms(power, car.remaining_wh)
        };
        self.finishes.remove(&(finish, p));
        let car = self.cars.get_mut(&id)?;
        let stop = self.now.min(finish);
        if stop == since && reason != EndReason::Finished {
            return Some((id, None));
        }
        let wh = if reason == EndReason::Finished {
            car.remaining_wh
        } else {
            energy_wh(power, stop - since).min(car.remaining_wh)
        };
        let tariff = self.piles[p]
            .session_tariff
            .take()
            .unwrap_or_else(|| self.config.tariff.clone());
        let (charge_fee, service_fee) = tariff.fees(power, since, stop);
        car.remaining_wh -= wh;
        car.delivered_wh += wh;
        car.fees_so_far += charge_fee + service_fee;
        let record = DetailRecord {
            id: 0,
            car: id,
            requested_at: car.arrived_at,
            user: car.user.clone(),
            number: car.number.clone(),
            pile: self.piles[p].id.clone(),
            wh,
            start: since,
            stop,
            charge_fee,
            service_fee,
            reason,
        };
        Some((id, Some(self.book(p, record))))
    }

    /// Numbers a session's detail record and adds it to its pile's totals.
    fn book(&mut self, p: usize, mut record: DetailRecord) -> DetailRecord {
        record.id = self.next_record;
        self.next_record += 1;
        let pile = &mut self.piles[p];
        pile.sessions += 1;
        pile.charged_ms += record.stop - record.start;
        pile.charged_wh += record.wh;
        pile.charge_fee += record.charge_fee;
        pile.service_fee += record.service_fee;
        record
    }

    /// The prices of the session under way on pile `p` (those in force when it began).
    fn session_tariff(&self, p: usize) -> &Tariff {
        self.piles[p]
            .session_tariff
            .as_ref()
            .unwrap_or(&self.config.tariff)
    }

    /// Books a metered session: the energy its meter gave, priced over the readings' timeline.
    fn close_metered(
        &mut self,
        p: usize,
        id: CarId,
        m: Metered,
        reason: EndReason,
    ) -> Option<DetailRecord> {
        let tariff = self.piles[p].session_tariff.take();
        if let (Some(tx), EndReason::Fault | EndReason::SwitchedOff) = (m.tx, reason) {
            if let Some(car) = self.cars.get(&id) {
                self.piles[p].tail = Some(Tail {
                    car: id,
                    user: car.user.clone(),
                    number: car.number.clone(),
                    requested_at: car.arrived_at,
                    reason,
                    meter: Metered {
                        tx: Some(tx),
                        meter_start_wh: m.last_wh,
                        started_at: m.last_at,
                        last_at: m.last_at,
                        last_wh: m.last_wh,
                        milli_fen: 0,
                        stopping: None,
                    },
                    tariff: tariff.clone().unwrap_or_else(|| self.config.tariff.clone()),
                });
            }
        }
        let wh = m.delivered_wh();
        if wh == 0 {
            return None;
        }
        let service_rate = tariff.as_ref().unwrap_or(&self.config.tariff).service_fee;
        let charge_fee = fen_of_milli(i128::from(m.milli_fen));
        let service_fee = fen_of_milli(i128::from(wh) * i128::from(service_rate));
        let car = self.cars.get_mut(&id)?;
        car.remaining_wh = (car.remaining_wh - wh).max(0);
        car.delivered_wh += wh;
        car.fees_so_far += charge_fee + service_fee;
        let (start, stop) = (m.started_at, m.last_at.max(m.started_at));
        let record = DetailRecord {
            id: 0,
            car: id,
            requested_at: car.arrived_at,
            user: car.user.clone(),
            number: car.number.clone(),
            pile: self.piles[p].id.clone(),
            wh,
            start,
            stop,
            charge_fee,
            service_fee,
            reason,
        };
        Some(self.book(p, record))
    }

    /// The OCPP pile `pile`'s index, or why not.
    fn metered_pile(&self, pile: &str) -> Result<usize, Refusal> {
        let p = self.pile_index(pile)?;
        if !self.config.ocpp_piles.contains_key(pile) {
            return Err(Refusal::NotMetered);
        }
        Ok(p)
    }

    /// The box of OCPP pile `pile` started a transaction (`meter_wh` on its meter, at `at` by
    /// its clock): for the car called there (`Starter::Car`, or the driver of that car by
    /// card), or, on an idle working pile, a walk-in session for a driver's card. The same start
    /// again (a box that did not hear the answer) gets the same transaction. Returns the
    /// transaction id.
    pub fn metered_start(
        &mut self,
        now: i64,
        pile: &str,
        starter: &Starter,
        meter_wh: i64,
        at: i64,
    ) -> Result<(i64, Vec<Event>), Refusal> {
        self.run_until(now);
        let p = self.metered_pile(pile)?;
        if meter_wh < 0 {
            return Err(Refusal::BadReading);
        }
        let head = self.piles[p].queue.front().copied();
        if let (Some(head), Some(m)) = (head, &self.piles[p].metered) {
            let car = self.cars.get(&head).ok_or(Refusal::UnknownCar)?;
            let matches = match starter {
                Starter::Car(id) => *id == head,
                Starter::Driver(user) => *user == car.user,
            };
            if !matches {
                return Err(Refusal::PileState);
            }
            if let Some(tx) = m.tx {
                return if m.meter_start_wh == meter_wh {
                    Ok((tx, std::mem::take(&mut self.events)))
                } else {
                    Err(Refusal::PileState)
                };
            }
            let since = self.piles[p].charging_since.unwrap_or(self.now);
            let at = at.clamp(since, self.now);
            let tx = self.next_tx;
            self.next_tx += 1;
            if let Some(m) = self.piles[p].metered.as_mut() {
                m.tx = Some(tx);
                m.meter_start_wh = meter_wh;
                m.started_at = at;
                m.last_at = at;
                m.last_wh = meter_wh;
            }
            self.refresh(p);
            return Ok((tx, std::mem::take(&mut self.events)));
        }
        let Starter::Driver(user) = starter else {
            return Err(Refusal::PileState);
        };
        if head.is_some() || self.piles[p].state != PileState::Working {
            return Err(Refusal::PileState);
        }
        // A walk-in: the driver's car, straight onto this pile.
        let id = self.next_car;
        self.next_car += 1;
        let mode = self.piles[p].mode;
        let (seq, number, order) = self.number(mode);
        self.cars.insert(
            id,
            Car {
                id,
                user: user.clone(),
                mode,
                number: number.clone(),
                seq,
                remaining_wh: WALK_IN_WH,
                delivered_wh: 0,
                fees_so_far: 0,
                place: Place::Waiting,
                arrived_at: self.now,
                queued_at: None,
                waiting_order: order,
                capacity_wh: None,
            },
        );
        self.events.push(Event::Queued { car: id, number });
        self.place(id, p, false);
        self.metered_start(now, pile, &Starter::Car(id), meter_wh, at)
    }

    /// Meter readings of transaction `tx` on OCPP pile `pile`: (time by the box's clock, taken
    /// between the last reading's time and now; Wh). Returns how many were lower than the last
    /// (ignored); the car's driver hears once where the meter got to. Readings of a transaction
    /// no longer under way change nothing.
    pub fn metered_readings(
        &mut self,
        now: i64,
        pile: &str,
        tx: i64,
        readings: &[(i64, i64)],
    ) -> Result<(usize, Vec<Event>), Refusal> {
        self.run_until(now);
        let p = self.metered_pile(pile)?;
        let regressed = readings
            .iter()
            .filter(|&&(at, wh)| self.read_meter(p, tx, at, wh))
            .count();
        let head = self.piles[p].queue.front().copied();
        let ours = self.piles[p].metered.as_ref().and_then(|m| m.tx) == Some(tx);
        if let (true, Some(car)) = (ours && regressed < readings.len(), head) {
            if let Some((wh, fee)) = self.progress(car) {
                self.events.push(Event::Metered { car, wh, fee });
            }
        }
        Ok((regressed, std::mem::take(&mut self.events)))
    }

    /// One meter reading (see [`Station::metered_readings`]): whether it was lower than the last.
    pub fn metered_reading(
        &mut self,
        now: i64,
        pile: &str,
        tx: i64,
        at: i64,
        wh: i64,
    ) -> Result<(bool, Vec<Event>), Refusal> {
        let (regressed, events) = self.metered_readings(now, pile, tx, &[(at, wh)])?;
        Ok((regressed > 0, events))
    }

    /// Takes a reading into the session of pile `p` if it is transaction `tx`'s; true when it
    /// was lower than the last (and ignored).
    fn read_meter(&mut self, p: usize, tx: i64, at: i64, wh: i64) -> bool {
        let now = self.now;
        let head = self.piles[p].queue.front().copied();
        let remaining = head
            .and_then(|id| self.cars.get(&id))
            .map_or(0, |c| c.remaining_wh);
        let tariff = self.piles[p]
            .session_tariff
            .clone()
            .unwrap_or_else(|| self.config.tariff.clone());
        let Some(m) = self.piles[p].metered.as_mut() else {
            return false;
        };
        if m.tx != Some(tx) {
            return false;
        }
        if m.take_reading(&tariff, at, wh, now) {
            return true;
        }
        if m.stopping.is_none() && m.delivered_wh() >= remaining {
            m.stopping = Some(EndReason::Finished);
        }
        self.refresh(p);
        false
    }

    /// The box of OCPP pile `pile` stopped transaction `tx` (`meter_wh` on its meter at `at`),
    /// with the readings it kept meanwhile: the session closes with the metered energy and the
    /// car leaves. A transaction no longer under way (stopped already, or cut short by a fault)
    /// changes nothing: a stop is billed once. Returns how many readings were lower than the
    /// last (ignored).
    pub fn metered_stop(
        &mut self,
        now: i64,
        pile: &str,
        tx: i64,
        meter_wh: i64,
        at: i64,
        readings: &[(i64, i64)],
    ) -> Result<(usize, Vec<Event>), Refusal> {
        self.run_until(now);
        let p = self.metered_pile(pile)?;
        if self.piles[p].metered.as_ref().and_then(|m| m.tx) != Some(tx) {
            let regressed = self.bill_tail(p, tx, meter_wh, at, readings);
            return Ok((regressed, std::mem::take(&mut self.events)));
        }
        let mut regressed = 0;
        for &(t, wh) in readings.iter().chain(std::iter::once(&(at, meter_wh))) {
            regressed += usize::from(self.read_meter(p, tx, t, wh));
        }
        let reason = self.piles[p]
            .metered
            .as_ref()
            .and_then(|m| m.stopping)
            .unwrap_or(EndReason::Finished);
        self.end_head(p, reason);
        self.dispatch();
        Ok((regressed, std::mem::take(&mut self.events)))
    }

    /// The stop of transaction `tx`, cut short on pile `p` before: the energy its meter gave
    /// after the cut is billed to the driver in a record of its own, once (the request, if it
    /// is still at the station, goes on as it was). Returns the readings lower than the last.
    fn bill_tail(
        &mut self,
        p: usize,
        tx: i64,
        meter_wh: i64,
        at: i64,
        readings: &[(i64, i64)],
    ) -> usize {
        let Some(mut tail) = self.piles[p].tail.take_if(|t| t.meter.tx == Some(tx)) else {
            return 0;
        };
        let mut regressed = 0;
        for &(t, wh) in readings.iter().chain(std::iter::once(&(at, meter_wh))) {
            regressed += usize::from(tail.meter.take_reading(&tail.tariff, t, wh, self.now));
        }
        let wh = tail.meter.delivered_wh();
        if wh == 0 {
            return regressed;
        }
        let charge_fee = fen_of_milli(i128::from(tail.meter.milli_fen));
        let service_fee = fen_of_milli(i128::from(wh) * i128::from(tail.tariff.service_fee));
        if let Some(car) = self.cars.get_mut(&tail.car) {
            car.fees_so_far += charge_fee + service_fee;
        }
        let (start, stop) = (tail.meter.started_at, tail.meter.last_at);
        let record = DetailRecord {
            id: 0,
            car: tail.car,
            requested_at: tail.requested_at,
            user: tail.user,
            number: tail.number,
            pile: self.piles[p].id.clone(),
            wh,
            start,
            stop,
            charge_fee,
            service_fee,
            reason: tail.reason,
        };
        let record = self.book(p, record);
        self.events.push(Event::Ended {
            record,
            done: false,
        });
        regressed
    }

    /// Whether transaction `tx` is under way on pile `pile`, or was cut short there and its stop
    /// is still to come.
    pub fn knows_tx(&self, pile: &str, tx: i64) -> bool {
        self.pile(pile).is_some_and(|p| {
            p.metered.as_ref().and_then(|m| m.tx) == Some(tx)
                || p.tail.as_ref().and_then(|t| t.meter.tx) == Some(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const MIN: i64 = 60_000;
    /// 2026-01-05 06:00 China time: valley until 07:00.
    const T0: i64 = 1_767_542_400_000 + 6 * H;

    fn station(policy: FaultPolicy) -> Station {
        Station::new(
            StationConfig {
                fault_policy: policy,
                ..StationConfig::default()
            },
            T0,
        )
    }

    fn place_of(s: &Station, id: CarId) -> Option<String> {
        match s.car(id)?.place {
            Place::Queue(p) => Some(s.piles[p].id.clone()),
            Place::Waiting => Some("waiting".into()),
            Place::Displaced => Some("displaced".into()),
        }
    }

    #[test]
    fn the_station_survives_a_round_trip_through_json() {
        let (s, [a, ..]) = fault_scene(FaultPolicy::TimeOrder);
        let text = serde_json::to_string(&s).expect("serialize");
        let mut back: Station = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(place_of(&back, a), place_of(&s, a));
        // It goes on exactly as the original would.
        let mut original = s.clone();
        assert_eq!(back.advance_to(T0 + 5 * H), original.advance_to(T0 + 5 * H));
    }

    #[test]
    fn cars_get_numbers_and_go_where_they_finish_soonest() {
        let mut s = station(FaultPolicy::Priority);
        let (a, ev) = s.arrive(T0, "u1", Mode::Fast, 30_000).expect("a");
        assert_eq!(s.car(a).map(|c| c.number.as_str()), Some("F1"));
        assert!(ev.contains(&Event::Started {
            car: a,
            pile: "F1".into(),
            at: T0
        }));
        // Equal completion times: the lower-numbered pile.
        let (b, _) = s.arrive(T0, "u2", Mode::Fast, 30_000).expect("b");
        assert_eq!(place_of(&s, b).as_deref(), Some("F2"));
        // F1 finishes at T0+1h with 30 kWh; F2 too. A 10 kWh car: both give 1h + 20 min; F1.
        let (c, _) = s
            .arrive(T0 + 10 * MIN, "u3", Mode::Fast, 10_000)
            .expect("c");
        assert_eq!(place_of(&s, c).as_deref(), Some("F1"));
        // A slow car gets T1 and a slow pile.
        let (d, _) = s.arrive(T0, "u4", Mode::Slow, 5_000).expect("d");
        assert_eq!(s.car(d).map(|c| c.number.as_str()), Some("T1"));
        assert_eq!(place_of(&s, d).as_deref(), Some("T1"));
    }

    #[test]
    fn a_finished_car_leaves_a_detail_record_and_the_next_one_starts() {
        let mut s = station(FaultPolicy::Priority);
        let (a, _) = s.arrive(T0, "u1", Mode::Fast, 30_000).expect("a");
        let (b, _) = s.arrive(T0, "u2", Mode::Fast, 15_000).expect("b");
        let (c, _) = s.arrive(T0, "u3", Mode::Fast, 15_000).expect("c");
        // a on F1 (1 h), b on F2 (30 min), c behind b on F2 (done at 1 h; F1 would be 1.5 h).
        assert_eq!(place_of(&s, c).as_deref(), Some("F2"));
        let ev = s.advance_to(T0 + 30 * MIN);
        let record = ev
            .iter()
            .find_map(|e| match e {
                Event::Ended { record, done: true } => Some(record.clone()),
                _ => None,
            })
            .expect("b finished");
        assert_eq!(record.car, b);
        assert_eq!(record.wh, 15_000);
        // 06:00-06:30 valley 0.40: 15 kWh -> 6.00; service 0.80 -> 12.00.
        assert_eq!((record.charge_fee, record.service_fee), (600, 1200));
        assert!(ev.contains(&Event::Started {
            car: c,
            pile: "F2".into(),
            at: T0 + 30 * MIN
        }));
        // a finishes at 07:00: 30 kWh all valley (the boundary is the stop).
        let ev = s.advance_to(T0 + 2 * H);
        let ends: Vec<&DetailRecord> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Ended { record, .. } => Some(record),
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 2);
        assert!(s.car(a).is_none() && s.car(c).is_none());
        assert_eq!(s.piles[0].sessions, 1);
        assert_eq!(s.piles[1].charged_wh, 30_000);
    }

    #[test]
    fn the_waiting_area_holds_n_cars_and_calls_them_in_order() {
        let mut s = Station::new(
            StationConfig {
                waiting_capacity: 2,
                queue_len: 1,
                fast_piles: 1,
                slow_piles: 1,
                ..StationConfig::default()
            },
            T0,
        );
        s.arrive(T0, "u", Mode::Fast, 30_000).expect("charging");
        let (w1, _) = s.arrive(T0, "u", Mode::Fast, 30_000).expect("waits");
        let (w2, _) = s.arrive(T0, "u", Mode::Fast, 30_000).expect("waits");
        assert_eq!(
            s.arrive(T0, "u", Mode::Fast, 1).expect_err("refused"),
            Refusal::WaitingAreaFull
        );
        assert_eq!(
            s.waiting().iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![w1, w2]
        );
        assert_eq!(s.cars_ahead(w2), Some(2));
        s.advance_to(T0 + H);
        assert_eq!(place_of(&s, w1).as_deref(), Some("F1"));
        assert_eq!(place_of(&s, w2).as_deref(), Some("waiting"));
    }

    #[test]
    fn only_waiting_cars_change_and_a_mode_change_renumbers() {
        let mut s = Station::new(
            StationConfig {
                queue_len: 1,
                fast_piles: 1,
                slow_piles: 1,
                ..StationConfig::default()
            },
            T0,
        );
        let (a, _) = s.arrive(T0, "u", Mode::Fast, 30_000).expect("a");
        let (b, _) = s.arrive(T0, "u", Mode::Fast, 30_000).expect("b");
        s.arrive(T0, "u", Mode::Slow, 10_000).expect("slow");
        assert_eq!(
            s.change_energy(T0, a, 1).expect_err("refused"),
            Refusal::NotWaiting
        );
        assert!(s.change_energy(T0, b, 20_000).is_ok());
        assert_eq!(
            s.car(b).map(|c| (c.number.as_str(), c.remaining_wh)),
            Some(("F2", 20_000))
        );
        let ev = s.change_mode(T0, b, Mode::Slow).expect("mode");
        assert!(ev.contains(&Event::Renumbered {
            car: b,
            number: "T2".into()
        }));
        assert_eq!(place_of(&s, b).as_deref(), Some("waiting"));
    }

    /// The default station with F1 driven by charge box `CB1`.
    fn metered_station(policy: FaultPolicy) -> Station {
        let mut config = StationConfig {
            fault_policy: policy,
            ..StationConfig::default()
        };
        config.ocpp_piles.insert("F1".into(), "CB1".into());
        Station::new(config, T0)
    }

    fn ended(events: &[Event]) -> Vec<(DetailRecord, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { record, done } => Some((record.clone(), *done)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_metered_session_is_billed_from_its_readings_across_a_price_boundary() {
        // 06:50: valley (0.40) until 07:00, then flat (0.70); service 0.80 a kWh.
        let t = T0 + 50 * MIN;
        let mut s = metered_station(FaultPolicy::Priority);
        let (car, _) = s.arrive(t, "u", Mode::Fast, 10_000).expect("arrive");
        assert_eq!(place_of(&s, car).as_deref(), Some("F1"));
        // Nothing moves on its own: the pile waits for its meter.
        assert!(s.advance_to(t + 5 * H).is_empty());
        let t = T0 + 50 * MIN;
        let mut s2 = metered_station(FaultPolicy::Priority);
        let (car2, _) = s2.arrive(t, "u", Mode::Fast, 10_000).expect("arrive");
        let (tx, _) = s2
            .metered_start(t, "F1", &Starter::Car(car2), 1_000, t)
            .expect("start");
        // The same start again (an answer the box did not hear): the same transaction.
        assert_eq!(
            s2.metered_start(t, "F1", &Starter::Car(car2), 1_000, t)
                .expect("again")
                .0,
            tx
        );
        // 6 kWh from 06:50 to 07:10: 3 at 0.40 and 3 at 0.70.
        let (lower, _) = s2
            .metered_reading(t + 20 * MIN, "F1", tx, t + 20 * MIN, 7_000)
            .expect("reading");
        assert!(!lower);
        assert_eq!(s2.progress(car2), Some((6_000, 120 + 210 + 480)));
        // A reading lower than the last is ignored.
        let (lower, _) = s2
            .metered_reading(t + 21 * MIN, "F1", tx, t + 21 * MIN, 6_000)
            .expect("reading");
        assert!(lower);
        assert_eq!(s2.progress(car2).map(|p| p.0), Some(6_000));
        // Enough: the server wants the transaction stopped; the car stays until it is.
        s2.metered_reading(t + 30 * MIN, "F1", tx, t + 30 * MIN, 11_000)
            .expect("reading");
        assert_eq!(
            s2.piles[0].metered.as_ref().and_then(|m| m.stopping),
            Some(EndReason::Finished)
        );
        assert!(s2.car(car2).is_some());
        let (_, events) = s2
            .metered_stop(t + 31 * MIN, "F1", tx, 11_200, t + 31 * MIN, &[])
            .expect("stop");
        let records = ended(&events);
        assert_eq!(records.len(), 1);
        let (record, done) = &records[0];
        assert!(*done);
        // 10.2 kWh metered: 3 at 0.40, 7.2 at 0.70 = 1.20 + 5.04; service 8.16.
        assert_eq!(record.wh, 10_200);
        assert_eq!((record.charge_fee, record.service_fee), (624, 816));
        assert_eq!((record.start, record.stop), (t, t + 31 * MIN));
        assert!(s2.car(car2).is_none());
        // A stop of a transaction no longer under way changes nothing.
        let (_, events) = s2
            .metered_stop(t + 40 * MIN, "F1", tx, 12_000, t + 40 * MIN, &[])
            .expect("again");
        assert!(ended(&events).is_empty());
        assert_eq!(s2.piles[0].sessions, 1);
    }

    #[test]
    fn a_fault_cuts_a_metered_session_at_its_last_reading_and_moves_the_car() {
        let mut s = metered_station(FaultPolicy::Priority);
        let (car, _) = s.arrive(T0, "u", Mode::Fast, 20_000).expect("arrive");
        let (tx, _) = s
            .metered_start(T0, "F1", &Starter::Car(car), 0, T0)
            .expect("start");
        s.metered_reading(T0 + 10 * MIN, "F1", tx, T0 + 10 * MIN, 4_000)
            .expect("reading");
        let events = s.take_down(T0 + 12 * MIN, "F1", true).expect("fault");
        let records = ended(&events);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0.wh, 4_000);
        assert_eq!(records[0].0.reason, EndReason::Fault);
        assert!(!records[0].1);
        // The rest, 16 kWh, goes to the other fast pile.
        assert_eq!(place_of(&s, car).as_deref(), Some("F2"));
        assert_eq!(s.car(car).map(|c| c.remaining_wh), Some(16_000));
        // The box's own stop of that transaction, later, bills what its meter gave after the
        // cut (1 kWh) in a record of its own; the same stop again bills nothing.
        let (_, events) = s
            .metered_stop(T0 + 13 * MIN, "F1", tx, 5_000, T0 + 13 * MIN, &[])
            .expect("late stop");
        let tail = ended(&events);
        assert_eq!(tail.len(), 1);
        assert_eq!(
            (tail[0].0.wh, tail[0].0.reason, tail[0].1),
            (1_000, EndReason::Fault, false)
        );
        assert_eq!(tail[0].0.user, "u");
        let (_, events) = s
            .metered_stop(T0 + 14 * MIN, "F1", tx, 5_000, T0 + 14 * MIN, &[])
            .expect("again");
        assert!(events.is_empty());
        // The request goes on as it was.
        assert_eq!(s.car(car).map(|c| c.remaining_wh), Some(16_000));
    }

    #[test]
    fn a_drivers_card_starts_a_walk_in_on_an_idle_pile_only() {
        let mut s = metered_station(FaultPolicy::Priority);
        let driver = Starter::Driver("w".into());
        let (tx, events) = s
            .metered_start(T0, "F1", &driver, 500, T0)
            .expect("walk-in");
        assert!(tx > 0);
        assert!(events.iter().any(|e| matches!(e, Event::Started { .. })));
        let car = s.piles[0].queue.front().copied().expect("a car");
        assert_eq!(s.car(car).map(|c| c.user.as_str()), Some("w"));
        // Another driver's card on the busy pile is refused.
        assert_eq!(
            s.metered_start(T0, "F1", &Starter::Driver("x".into()), 0, T0)
                .expect_err("busy"),
            Refusal::PileState
        );
        // The box stops it: the driver is billed for what the meter gave.
        let (_, events) = s
            .metered_stop(T0 + H, "F1", tx, 8_500, T0 + H, &[(T0 + 30 * MIN, 4_500)])
            .expect("stop");
        let records = ended(&events);
        assert_eq!(records[0].0.user, "w");
        assert_eq!(records[0].0.wh, 8_000);
        // A simulated pile takes no transactions.
        assert_eq!(
            s.metered_start(T0, "F2", &driver, 0, T0)
                .expect_err("simulated"),
            Refusal::NotMetered
        );
    }

    #[test]
    fn a_cancel_during_a_metered_transaction_waits_for_the_stop() {
        let mut s = metered_station(FaultPolicy::Priority);
        let (car, _) = s.arrive(T0, "u", Mode::Fast, 20_000).expect("arrive");
        let (tx, _) = s
            .metered_start(T0, "F1", &Starter::Car(car), 0, T0)
            .expect("start");
        s.cancel(T0 + MIN, car).expect("cancel");
        let mut faulted = s.clone();
        assert_eq!(
            s.piles[0].metered.as_ref().and_then(|m| m.stopping),
            Some(EndReason::Cancelled)
        );
        let (_, events) = s
            .metered_stop(T0 + 2 * MIN, "F1", tx, 1_000, T0 + 2 * MIN, &[])
            .expect("stop");
        let records = ended(&events);
        assert_eq!(records[0].0.reason, EndReason::Cancelled);
        assert!(s.car(car).is_none());
        // A fault before the stop: the cancelled car leaves all the same, not re-queued.
        faulted
            .metered_reading(T0 + MIN, "F1", tx, T0 + MIN, 500)
            .expect("reading");
        let events = faulted.take_down(T0 + 2 * MIN, "F1", true).expect("fault");
        assert!(ended(&events).iter().all(|(_, done)| *done));
        assert!(faulted.car(car).is_none());
    }

    #[test]
    fn cancelling_a_charging_car_bills_what_it_got() {
        let mut s = station(FaultPolicy::Priority);
        let (a, _) = s.arrive(T0, "u", Mode::Slow, 20_000).expect("a");
        let ev = s.cancel(T0 + 30 * MIN, a).expect("cancel");
        let record = ev
            .iter()
            .find_map(|e| match e {
                Event::Ended { record, .. } => Some(record.clone()),
                _ => None,
            })
            .expect("record");
        assert_eq!((record.wh, record.reason), (5_000, EndReason::Cancelled));
        assert_eq!((record.charge_fee, record.service_fee), (200, 400));
        assert!(s.car(a).is_none());
        assert_eq!(s.cancel(T0, a).expect_err("refused"), Refusal::UnknownCar);
    }

    /// One fast pile fails with a charging car and one queued behind it; the other fast pile
    /// has a charging car and a queued one.
    fn fault_scene(policy: FaultPolicy) -> (Station, [CarId; 5]) {
        let mut s = station(policy);
        let a = s.arrive(T0, "a", Mode::Fast, 60_000).expect("a").0; // F1, 2 h
        let b = s.arrive(T0, "b", Mode::Fast, 60_000).expect("b").0; // F2, 2 h
        let c = s.arrive(T0, "c", Mode::Fast, 30_000).expect("c").0; // F1 (3 h) vs F2 (3 h): F1
        let d = s.arrive(T0, "d", Mode::Fast, 30_000).expect("d").0; // F2
        let e = s.arrive(T0, "e", Mode::Fast, 30_000).expect("e").0; // F1 third place
        assert_eq!(place_of(&s, c).as_deref(), Some("F1"));
        assert_eq!(place_of(&s, d).as_deref(), Some("F2"));
        assert_eq!(place_of(&s, e).as_deref(), Some("F1"));
        (s, [a, b, c, d, e])
    }

    #[test]
    fn a_fault_under_the_priority_policy() {
        let (mut s, [a, _b, c, _d, e]) = fault_scene(FaultPolicy::Priority);
        let ev = s.take_down(T0 + 30 * MIN, "F1", true).expect("fault");
        let interrupted = ev
            .iter()
            .find_map(|e| match e {
                Event::Ended {
                    record,
                    done: false,
                } => Some(record.clone()),
                _ => None,
            })
            .expect("a's session record");
        assert_eq!((interrupted.car, interrupted.wh), (a, 15_000));
        assert_eq!(s.car(a).map(|c| c.remaining_wh), Some(45_000));
        // F2 has one free place: a (first of the faulty queue) takes it; c and e wait.
        assert_eq!(place_of(&s, a).as_deref(), Some("F2"));
        assert_eq!(place_of(&s, c).as_deref(), Some("displaced"));
        assert_eq!(place_of(&s, e).as_deref(), Some("displaced"));
        // A new fast arrival waits behind the displaced cars.
        let (f, _) = s.arrive(T0 + 31 * MIN, "f", Mode::Fast, 1_000).expect("f");
        assert_eq!(place_of(&s, f).as_deref(), Some("waiting"));
        // Recovery: pooled in number order (c=F3, d=F4, e=F5, a=F1 charging? a is queued on F2).
        s.bring_up(T0 + 40 * MIN, "F1").expect("recover");
        assert_eq!(s.piles[0].state, PileState::Working);
        assert!(s.displaced(Mode::Fast).is_empty());
    }

    #[test]
    fn a_fault_under_the_time_order_policy_pools_by_number() {
        let (mut s, [a, b, c, d, e]) = fault_scene(FaultPolicy::TimeOrder);
        s.take_down(T0 + 30 * MIN, "F1", true).expect("fault");
        // Pool: a (F1), c (F3), d (F4, taken off F2), e (F5); F2 keeps b charging and has two
        // free places: a then c.
        assert_eq!(place_of(&s, b).as_deref(), Some("F2"));
        assert_eq!(place_of(&s, a).as_deref(), Some("F2"));
        assert_eq!(place_of(&s, c).as_deref(), Some("F2"));
        assert_eq!(place_of(&s, d).as_deref(), Some("displaced"));
        assert_eq!(place_of(&s, e).as_deref(), Some("displaced"));
        assert_eq!(
            s.displaced(Mode::Fast)
                .iter()
                .map(|c| c.number.as_str())
                .collect::<Vec<_>>(),
            vec!["F4", "F5"]
        );
        // Slow calling goes on as usual.
        let (slow, _) = s
            .arrive(T0 + 31 * MIN, "s", Mode::Slow, 1_000)
            .expect("slow");
        assert_eq!(place_of(&s, slow).as_deref(), Some("T1"));
    }

    /// Thousands of random operations, many on the same instants and with round energies (so
    /// piles finish together): every dispatch asserts that the index picks the pile a scan of
    /// every pile picks, and the books of the piles add up to the records.
    #[test]
    fn the_dispatch_index_agrees_with_a_scan_under_random_operations() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for policy in [FaultPolicy::Priority, FaultPolicy::TimeOrder] {
            let mut s = Station::new(
                StationConfig {
                    fast_piles: 3,
                    slow_piles: 4,
                    waiting_capacity: 12,
                    queue_len: 2,
                    fault_policy: policy,
                    ..StationConfig::default()
                },
                T0,
            );
            let mut now = T0;
            let mut cars: Vec<CarId> = Vec::new();
            let mut records = Vec::new();
            let mut keep = |events: Vec<Event>| {
                for e in events {
                    if let Event::Ended { record, .. } = e {
                        records.push(record);
                    }
                }
            };
            for _ in 0..5000 {
                now += [0, 0, 10 * MIN, 20 * MIN, 60 * MIN][rand(5) as usize];
                let pile = s.piles[rand(s.piles.len() as u64) as usize].id.clone();
                match rand(10) {
                    0..=4 => {
                        let mode = if rand(2) == 0 { Mode::Fast } else { Mode::Slow };
                        let wh = [5_000, 10_000, 20_000, 30_000][rand(4) as usize];
                        if let Ok((id, ev)) = s.arrive(now, "u", mode, wh) {
                            cars.push(id);
                            keep(ev);
                        }
                    }
                    5 if !cars.is_empty() => {
                        let id = cars.swap_remove(rand(cars.len() as u64) as usize);
                        keep(s.cancel(now, id).unwrap_or_default());
                    }
                    6 if !cars.is_empty() => {
                        let id = cars[rand(cars.len() as u64) as usize];
                        let mode = if rand(2) == 0 { Mode::Fast } else { Mode::Slow };
                        keep(s.change_mode(now, id, mode).unwrap_or_default());
                        keep(s.change_energy(now, id, 10_000).unwrap_or_default());
                    }
                    7 => keep(s.take_down(now, &pile, rand(2) == 0).unwrap_or_default()),
                    8 => keep(s.bring_up(now, &pile).unwrap_or_default()),
                    _ => keep(s.advance_to(now)),
                }
            }
            keep(s.advance_to(now + 1000 * H));
            let piles_wh: i64 = s.piles.iter().map(|p| p.charged_wh).sum();
            let records_wh: i64 = records.iter().map(|r| r.wh).sum();
            assert_eq!(piles_wh, records_wh);
            let ids: Vec<u64> = records.iter().map(|r| r.id).collect();
            assert_eq!(ids, (1..=records.len() as u64).collect::<Vec<_>>());
        }
    }
}
