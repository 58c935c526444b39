//! The station's one writer. Every change to the station (a driver's request, an operator's
//! pile or configuration, letting the cars due by now finish) waits in a queue; a committer
//! task takes everything waiting (at most [`MAX_BATCH`]) and applies it in one transaction
//! (group commit), so the flush that makes a commit durable is paid once per batch:
//!
//! 1. the station's row is locked (SQLite: the write lock; PostgreSQL: the row), so processes
//!    sharing the database take turns, and what the others logged since is applied first;
//! 2. the cars due by now finish (one `tick` operation when some did);
//! 3. each change is checked against the station as it now stands (the callers checked only
//!    their arguments) and applied in order, all at the same instant; a refused one changes
//!    nothing and is answered with its own refusal;
//! 4. one log row per operation (one multi-row insert), the detail records, the head of the log
//!    moved once, committed durably (`synchronous = FULL` on SQLite, as the meter's recharges);
//! 5. only then do the drivers' streams get their notices and every caller its answer, and
//!    the other instances hear of the new head (see [`super::sharing`]).
//!
//! The log keeps one entry per operation, so the station is rebuilt from it exactly. A caller
//! that goes away mid-way (its client disconnected) drops only its answer: the batch is the
//! committer's, so memory and the log never part ways.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::Charging;
use super::live::{
    Listener, LiveState, Op, PRUNE_STEP, SNAPSHOT_EVERY, STATION_BUSY, internal, read_station,
    refusal, run,
};
use super::service::{CarView, NoticeKind, PileAction};
use super::settings::StationSettings;
use super::station::{CarId, Event, Mode, PileState, Place, Refusal, Starter, StationConfig};
use crate::domain::bus::{Bus, Topic};
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::charging::{self as store, RecordRow};
use crate::store::{Conn, Store};

/// The most changes one commit applies.
const MAX_BATCH: usize = 512;

/// A change to the station, as a caller asks for it.
pub(super) enum Change {
    /// Reads what other processes logged and lets the cars due by now finish.
    CatchUp,
    /// A driver's new request. With a `stream`, the stream follows it; if the driver has a
    /// request already, the stream follows that one instead (without one: a conflict).
    Arrive {
        user: String,
        mode: Mode,
        wh: i64,
        capacity_wh: Option<i64>,
        stream: Option<Listener>,
    },
    /// A new mode and/or energy for a driver's waiting request.
    Modify {
        user: String,
        mode: Option<Mode>,
        wh: Option<i64>,
    },
    Cancel {
        user: String,
    },
    Pile {
        pile: String,
        action: PileAction,
    },
    /// Keys of [`StationSettings`] applied to the configuration in force; `reset` empties the
    /// station and its records too.
    Configure {
        changes: serde_json::Map<String, serde_json::Value>,
        reset: bool,
    },
    /// Binds charge box `charge_box` to `pile` (which becomes an OCPP pile), or unbinds it.
    Bind {
        charge_box: String,
        pile: Option<String>,
    },
    /// What an OCPP pile's box reported.
    Metering(Metering),
}

/// What an OCPP pile's box reported (see [`super::boxes`]).
pub(super) enum Metering {
    /// A transaction started: for a called car, or a driver's card.
    Start {
        pile: String,
        starter: Starter,
        meter_wh: i64,
        at: i64,
    },
    Readings {
        pile: String,
        tx: i64,
        readings: Vec<(i64, i64)>,
    },
    Stop {
        pile: String,
        tx: i64,
        meter_wh: i64,
        at: i64,
        readings: Vec<(i64, i64)>,
    },
    /// The box is faulted, or was not heard from for too long: a fault, if the pile works.
    Faulted { pile: String },
    /// The box is available again: a recovery, if the pile is down with a fault.
    Available { pile: String },
    /// The car called to the pile did not plug in in time: its request is given up, if it is
    /// still there with no transaction.
    NoShow { pile: String, car: CarId },
}

/// What a change did.
pub(super) enum Answer {
    Done,
    /// The driver's request, as it stands after the batch (`None`: gone meanwhile);
    /// `created` when the change made it.
    Request {
        view: Option<CarView>,
        created: bool,
    },
    /// The configuration in force.
    Config(StationConfig),
    /// The transaction a start opened (or had opened).
    Started(i64),
    /// Meter readings lower than the last, ignored.
    Metered {
        regressed: usize,
    },
}

/// A change waiting for its batch.
pub(super) struct Pending {
    change: Change,
    reply: oneshot::Sender<Result<Answer>>,
}

/// What a change did, answered once its batch is durable.
enum Applied {
    Done,
    Request {
        car: CarId,
        user: String,
        created: bool,
        stream: Option<Listener>,
    },
    Config(StationConfig),
    Started(i64),
    Metered {
        regressed: usize,
    },
}

/// What a batch writes: one log row per operation, the detail records, and the notices that
/// go out once it is durable.
#[derive(Default)]
struct Batch {
    ops: Vec<(i64, i64, String)>,
    records: Vec<RecordRow>,
    /// A reset in the batch: the records written before go (those after it stay).
    clear_records: bool,
    notices: Vec<(String, NoticeKind)>,
}

impl Batch {
    /// Logs `op`, run at `at` with these `events`, after the operations logged already.
    fn log(&mut self, live: &mut LiveState, at: i64, op: &Op, events: Vec<Event>) -> Result<()> {
        let text = serde_json::to_string(op).map_err(Error::internal)?;
        if matches!(
            op,
            Op::Rebuild {
                clear_records: true,
                ..
            }
        ) {
            self.records.clear();
            self.clear_records = true;
        }
        for event in &events {
            if let Event::Ended { record, .. } = event {
                self.records.push(live.record(record).to_row());
            }
        }
        let seq = live.version + self.ops.len() as i64 + 1;
        self.ops.push((seq, at, text));
        live.stage(events, &mut self.notices);
        Ok(())
    }
}

impl Charging {
    /// Queues a change and waits for its answer, which comes once its batch is durable.
    pub(super) async fn submit(&self, change: Change) -> Result<Answer> {
        let queue = self.live.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
            // One committer per process: SQLite has one writer at a time anyway, and on
            // PostgreSQL every batch queues on the station's row.
            let committer = Committer {
                store: self.store.clone(),
                clock: self.clock.clone(),
                utc_offset_secs: self.settings.zone.offset_secs(),
                state: self.live.state.clone(),
                bus: self.bus.clone(),
                batches: self.batches.clone(),
            };
            tokio::spawn(committer.run(receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        let stopped = || internal("charging station", "the committer stopped");
        queue
            .send(Pending { change, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What the committer task works with (and a connection of its own that commits durably).
struct Committer {
    store: Store,
    clock: Clock,
    utc_offset_secs: i64,
    state: Arc<Mutex<LiveState>>,
    /// The other instances, told of each batch once it is durable.
    bus: Arc<OnceLock<Arc<dyn Bus>>>,
    /// Told after each batch (the charge boxes' watch).
    batches: Arc<OnceLock<Arc<tokio::sync::Notify>>>,
}

/// One error for each of a failed batch's callers.
fn each(err: &Error) -> Error {
    match err {
        Error::Unavailable { service, detail } => Error::Unavailable {
            service: *service,
            detail: detail.clone(),
        },
        other => internal("charging station batch", other),
    }
}

impl Committer {
    /// Takes what is waiting, commits it, answers; until the queue closes.
    async fn run(self, mut queue: mpsc::Receiver<Pending>) {
        let mut pending = Vec::with_capacity(MAX_BATCH);
        let mut conn = None;
        while queue.recv_many(&mut pending, MAX_BATCH).await > 0 {
            let (changes, replies): (Vec<Change>, Vec<_>) =
                pending.drain(..).map(|p| (p.change, p.reply)).unzip();
            let state = self.state.clone();
            let mut live = state.lock().await;
            let outcome = AssertUnwindSafe(self.commit(&mut live, &mut conn, changes))
                .catch_unwind()
                .await;
            let answers: Vec<Result<Answer>> = match outcome {
                Ok(Ok(answers)) => answers,
                Ok(Err(err)) => {
                    let mut answers: Vec<_> =
                        replies.iter().skip(1).map(|_| Err(each(&err))).collect();
                    answers.insert(0, Err(err));
                    answers
                }
                Err(_) => {
                    // Stopped half-way: what memory holds may be in no log.
                    tracing::error!("the charging station's committer panicked");
                    live.broken = true;
                    conn = None;
                    replies
                        .iter()
                        .map(|_| Err(internal("charging station", "the batch failed")))
                        .collect()
                }
            };
            // The callers have their answers before a snapshot is taken: writing one (10-25 ms
            // with 10,000 cars) no longer sits in front of a batch's replies.
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
            let due = (!live.broken && conn.is_some() && live.snapshot_due())
                .then(|| (live.version, live.station.clone()));
            drop(live);
            let Some((version, station)) = due else {
                continue;
            };
            // Written out off the async threads and without the station's lock.
            let text = tokio::task::spawn_blocking(move || serde_json::to_string(&station))
                .await
                .map_err(Error::internal)
                .and_then(|text| text.map_err(Error::internal));
            match text {
                Ok(text) => {
                    if let Err(e) = self.snapshot(&mut conn, version, &text).await {
                        tracing::warn!(error = %e, "charging station snapshot failed");
                        conn = None;
                    } else {
                        let mut live = state.lock().await;
                        live.snapshot_version = live.snapshot_version.max(version);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot write the station's snapshot"),
            }
        }
    }

    /// The instant operations run at: the clock, never before the station's own time (a
    /// simulated clock may be set back), so that a replay of the log runs them identically.
    fn now(&self, live: &LiveState) -> i64 {
        self.clock.now().millis().max(live.station.now())
    }

    /// Applies a batch and answers each change; an error fails the batch as a whole (the
    /// station is read back).
    async fn commit(
        &self,
        live: &mut LiveState,
        conn: &mut Option<Conn>,
        changes: Vec<Change>,
    ) -> Result<Vec<Result<Answer>>> {
        if live.broken {
            self.reload(live).await;
            if live.broken {
                return Err(Error::Unavailable {
                    service: crate::domain::Service::Storage,
                    detail: "充电站数据暂时无法读取，请稍后再试".into(),
                });
            }
        }
        // The committer's own durable connection, opened on first use and again after a failure.
        let mut open = match conn.take() {
            Some(c) => c,
            None => self.store.durable_connection().await?,
        };
        let (applied, batch) = match self.write(live, &mut open, changes).await {
            Ok(done) => done,
            Err(e) => {
                drop(open);
                self.reload(live).await;
                return Err(e);
            }
        };
        live.version += batch.ops.len() as i64;
        live.deliver(batch.notices);
        if let (false, Some(bus)) = (batch.ops.is_empty(), self.bus.get()) {
            bus.announce(Topic::Charging, live.version);
        }
        if let (false, Some(batches)) = (batch.ops.is_empty(), self.batches.get()) {
            batches.notify_one();
        }
        let answers = applied
            .into_iter()
            .map(|a| a.map(|a| answer(live, a)))
            .collect();
        *conn = Some(open);
        Ok(answers)
    }

    /// The batch's transaction: catches up with the log, lets the cars due by now finish,
    /// applies each change, writes what happened, commits.
    async fn write(
        &self,
        live: &mut LiveState,
        conn: &mut Conn,
        changes: Vec<Change>,
    ) -> Result<(Vec<Result<Applied>>, Batch)> {
        let mut tx = self.store.begin_durable(conn).await?;
        let head = store::lock_head(&self.store, &mut tx).await?;
        if head != live.version {
            self.sync(live, &mut tx, head).await?;
        }
        // One instant for the batch: its changes find nothing left to finish first.
        let now = self.now(live);
        live.seen_at = now;
        live.prune(now);
        let mut batch = Batch::default();
        let events = live.station.finish_due(now);
        if !events.is_empty() {
            batch.log(live, now, &Op::Tick, events)?;
        }
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            applied.push(self.apply(live, now, change, &mut batch)?);
        }
        if !batch.ops.is_empty() {
            if !store::append_ops(&self.store, &mut tx, live.version, &batch.ops).await? {
                return Err(internal("charging station", "the log moved under its lock"));
            }
            if batch.clear_records {
                store::delete_records(&mut *tx).await?;
            }
            store::insert_records(&mut tx, &batch.records).await?;
        }
        // The operations the last snapshot holds, but for a tail that processes a little
        // behind replay instead of reading the whole station back; a few at a time.
        let prunable = live.snapshot_version - SNAPSHOT_EVERY;
        let pruned = live.pruned_through + PRUNE_STEP;
        let prune = pruned <= prunable;
        if prune {
            store::delete_ops_between(&mut *tx, live.pruned_through, pruned).await?;
        }
        tx.commit().await?;
        if prune {
            live.pruned_through = pruned;
        }
        Ok((applied, batch))
    }

    /// Checks a change against the station as it stands and applies it: the outer error fails
    /// the batch, the inner one refuses this change alone (nothing changed).
    fn apply(
        &self,
        live: &mut LiveState,
        now: i64,
        change: Change,
        batch: &mut Batch,
    ) -> Result<Result<Applied>> {
        enum Then {
            Done,
            Arrived(String, Option<Listener>),
            Request(CarId, String),
            Config(StationConfig),
            Started,
            Metered,
        }
        let request_of = |live: &LiveState, user: &str| {
            live.active
                .get(user)
                .copied()
                .ok_or(Error::NotFound(Entity::ChargingRequest))
        };
        let (op, then) = match change {
            Change::CatchUp => return Ok(Ok(Applied::Done)),
            Change::Arrive {
                user,
                mode,
                wh,
                capacity_wh,
                stream,
            } => {
                if let Some(&car) = live.active.get(&user) {
                    return Ok(match stream {
                        // A stream opened meanwhile for the same driver: it follows that one.
                        Some(stream) => Ok(Applied::Request {
                            car,
                            user,
                            created: false,
                            stream: Some(stream),
                        }),
                        None => Err(Error::Conflict(Entity::ChargingRequest)),
                    });
                }
                if capacity_wh.is_some_and(|cap| cap <= 0 || cap < wh) {
                    return Ok(Err(Error::invalid(
                        "capacity",
                        "电池容量须大于0且不小于充电量",
                    )));
                }
                let op = Op::Arrive {
                    user: user.clone(),
                    mode,
                    wh,
                    capacity_wh,
                };
                (op, Then::Arrived(user, stream))
            }
            Change::Modify { user, mode, wh } => {
                let car = match request_of(live, &user) {
                    Ok(car) => car,
                    Err(e) => return Ok(Err(e)),
                };
                if mode.is_none() && wh.is_none() {
                    return Ok(Err(Error::invalid("mode", "请填写新的充电模式或充电量")));
                }
                let found = live.station.car(car);
                if found.map(|c| c.place) != Some(Place::Waiting) {
                    return Ok(Err(refusal(Refusal::NotWaiting)));
                }
                if let (Some(cap), Some(wh)) = (found.and_then(|c| c.capacity_wh), wh) {
                    if wh > cap {
                        return Ok(Err(Error::invalid("quantity", "充电量不能超过电池容量")));
                    }
                }
                (Op::Modify { car, mode, wh }, Then::Request(car, user))
            }
            Change::Cancel { user } => match request_of(live, &user) {
                Ok(car) => (Op::Cancel { car }, Then::Done),
                Err(e) => return Ok(Err(e)),
            },
            Change::Pile { pile, action } => {
                let op = match action {
                    PileAction::Off => Op::TakeDown { pile, fault: false },
                    PileAction::Fault => Op::TakeDown { pile, fault: true },
                    PileAction::On | PileAction::Recover => Op::BringUp { pile },
                };
                (op, Then::Done)
            }
            Change::Configure { changes, reset } => {
                let config =
                    StationSettings::patch(&live.station.config, changes, self.utc_offset_secs)
                        .and_then(|c| check_config(&c).map(|()| c));
                let config = match config {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(e)),
                };
                let op = if reset {
                    // Every request at the station ends (its stream hears `cancelled`).
                    Op::Rebuild {
                        config: config.clone(),
                        clear_records: true,
                    }
                } else if is_structural(&live.station.config, &config) {
                    if live.station.cars().next().is_some() {
                        return Ok(Err(Error::State(STATION_BUSY.into())));
                    }
                    Op::Rebuild {
                        config: config.clone(),
                        clear_records: false,
                    }
                } else {
                    Op::Configure {
                        config: config.clone(),
                    }
                };
                (op, Then::Config(config))
            }
            Change::Bind { charge_box, pile } => match bind(live, &charge_box, pile) {
                Ok(Some(config)) => (
                    Op::Configure {
                        config: config.clone(),
                    },
                    Then::Config(config),
                ),
                Ok(None) => return Ok(Ok(Applied::Config(live.station.config.clone()))),
                Err(e) => return Ok(Err(e)),
            },
            Change::Metering(m) => match metering(live, m) {
                Ok(Some((op, started))) => (
                    op,
                    if started {
                        Then::Started
                    } else {
                        Then::Metered
                    },
                ),
                Ok(None) => return Ok(Ok(Applied::Metered { regressed: 0 })),
                Err(e) => return Ok(Err(e)),
            },
        };
        let before = live.station.now();
        let (ran, events) = match run(&mut live.station, now, &op) {
            Ok(done) => done,
            Err(r) => {
                live.station.undo_time_to(before);
                return Ok(Err(refusal(r)));
            }
        };
        batch.log(live, now, &op, events)?;
        let car = ran.car;
        Ok(Ok(match then {
            Then::Done => Applied::Done,
            Then::Started => Applied::Started(ran.tx.unwrap_or_default()),
            Then::Metered => Applied::Metered {
                regressed: ran.regressed,
            },
            Then::Config(config) => Applied::Config(config),
            Then::Request(car, user) => Applied::Request {
                car,
                user,
                created: false,
                stream: None,
            },
            Then::Arrived(user, stream) => match car {
                Some(car) => Applied::Request {
                    car,
                    user,
                    created: true,
                    stream,
                },
                None => return Err(internal("arrival", "no car")),
            },
        }))
    }

    /// Applies what other processes logged since this one last looked (and tells this
    /// process's streams: it is durable); reads the station back when the log has moved past a
    /// snapshot.
    async fn sync(&self, live: &mut LiveState, tx: &mut Conn, head: i64) -> Result<()> {
        let ops = store::ops_after(&mut *tx, live.version).await?;
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

    /// Writes the whole station at its version (the batches then drop the operations it holds).
    async fn snapshot(&self, conn: &mut Option<Conn>, version: i64, text: &str) -> Result<()> {
        let Some(conn) = conn.as_mut() else {
            return Ok(());
        };
        let mut tx = self.store.begin_durable(conn).await?;
        store::write_snapshot(&mut *tx, version, text, self.clock.now().millis()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The answer of an applied change, once its batch is durable: a stream follows its request
/// from here.
fn answer(live: &mut LiveState, applied: Applied) -> Answer {
    match applied {
        Applied::Done => Answer::Done,
        Applied::Config(config) => Answer::Config(config),
        Applied::Started(tx) => Answer::Started(tx),
        Applied::Metered { regressed } => Answer::Metered { regressed },
        Applied::Request {
            car,
            user,
            created,
            stream,
        } => {
            if let Some(stream) = stream {
                live.follow(&user, stream, !created);
            }
            Answer::Request {
                view: live.view(car),
                created,
            }
        }
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
pub(super) fn check_config(c: &StationConfig) -> Result<()> {
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

/// The configuration with charge box `charge_box` bound to `pile` (or to none); `None` when
/// nothing changes. A pile with a car on it keeps its kind until the car has gone.
fn bind(live: &LiveState, charge_box: &str, pile: Option<String>) -> Result<Option<StationConfig>> {
    let st = &live.station;
    let mut config = st.config.clone();
    let occupied = |id: &str| st.pile(id).is_some_and(|p| !p.queue.is_empty());
    let current = config.pile_of_box(charge_box).cloned();
    if current == pile {
        return Ok(None);
    }
    if let Some(old) = &current {
        if occupied(old) {
            return Err(Error::State(format!(
                "充电桩 {old} 上有车辆，不能解除与充电设备的绑定"
            )));
        }
        config.ocpp_piles.remove(old);
    }
    if let Some(new) = pile {
        if st.pile(&new).is_none() {
            return Err(Error::NotFound(Entity::Pile));
        }
        if config.ocpp_piles.contains_key(&new) {
            return Err(Error::State(format!("充电桩 {new} 已绑定其他充电设备")));
        }
        if occupied(&new) {
            return Err(Error::State(format!(
                "充电桩 {new} 上有车辆，请等其空闲后再绑定"
            )));
        }
        config.ocpp_piles.insert(new, charge_box.to_owned());
    }
    Ok(Some(config))
}

/// The operation a box's report makes, if any (`true`: a start, answered with its
/// transaction). Readings and stops of a transaction no longer under way make none: a stop is
/// billed once, and the log does not fill with what changes nothing.
fn metering(live: &LiveState, m: Metering) -> Result<Option<(Op, bool)>> {
    let st = &live.station;
    let pile_of = |id: &str| st.pile(id).ok_or(Error::NotFound(Entity::Pile));
    let current_tx = |id: &str| pile_of(id).map(|p| p.metered.as_ref().and_then(|m| m.tx));
    Ok(match m {
        Metering::Start {
            pile,
            starter,
            meter_wh,
            at,
        } => {
            if let Starter::Driver(user) = &starter {
                // A driver with a request elsewhere cannot start another here.
                if let Some(car) = live.active.get(user) {
                    let head = pile_of(&pile)?.queue.front();
                    if head != Some(car) {
                        return Err(Error::Conflict(Entity::ChargingRequest));
                    }
                }
            }
            Some((
                Op::MeterStart {
                    pile,
                    starter,
                    meter_wh,
                    at,
                },
                true,
            ))
        }
        Metering::Readings { pile, tx, readings } => {
            (current_tx(&pile)? == Some(tx)).then_some((Op::Meter { pile, tx, readings }, false))
        }
        Metering::Stop {
            pile,
            tx,
            meter_wh,
            at,
            readings,
        } => (pile_of(&pile).is_ok() && st.knows_tx(&pile, tx)).then_some((
            Op::MeterStop {
                pile,
                tx,
                meter_wh,
                at,
                readings,
            },
            false,
        )),
        Metering::Faulted { pile } => (pile_of(&pile)?.state == PileState::Working)
            .then_some((Op::TakeDown { pile, fault: true }, false)),
        Metering::Available { pile } => {
            (pile_of(&pile)?.state == PileState::Fault).then_some((Op::BringUp { pile }, false))
        }
        Metering::NoShow { pile, car } => {
            let p = pile_of(&pile)?;
            let waiting =
                p.queue.front() == Some(&car) && p.metered.as_ref().is_some_and(|m| m.tx.is_none());
            waiting.then_some((Op::Cancel { car }, false))
        }
    })
}
