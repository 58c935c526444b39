//! Real charging piles: the OCPP 1.6 charge boxes that drive some of the station's piles, as a
//! service. The surface (`surfaces::ocpp`) speaks the wire; this service holds each box's
//! link and what it last said, turns what boxes report into changes of the station (a start,
//! meter readings, a stop, a fault, a recovery), and keeps each box doing what the station
//! wants of it:
//!
//! - the car called to its pile: `RemoteStartTransaction` with that car's id tag (and a
//!   charging profile capping the pile's power when the box does smart charging); a box that
//!   refuses it or does not answer has its pile faulted, so the car goes elsewhere;
//! - the car has what it asked for, or its driver cancelled: `RemoteStopTransaction`, again
//!   every call timeout until the stop comes; a transaction the station does not know (cut
//!   short by a fault) is stopped too;
//! - the operator switched the pile off or on: `ChangeAvailability`;
//! - a box not heard from for `offline_heartbeats` heartbeat intervals has its pile faulted.
//!
//! That watch runs on every batch of the station and twice a second, from the station's state
//! and not from events, so nothing is lost across a restart or a reconnection.
//!
//! Each box is known by its id and a password (argon2, as accounts'); which pile it drives is
//! part of the station's configuration. A box's link lives in the instance it connected to,
//! which alone sends it commands; when it was last heard is also written to the database, so
//! that the other instances do not take it for a silent box.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, oneshot};

use super::Charging;
use super::committer::{Answer, Change, Metering};
use super::station::{CarId, PileState, Starter};
use crate::domain::passwords::PasswordHasher;
use crate::domain::{Clock, Entity, Error, Result, Timestamp};
use crate::store::Store;
use crate::store::charging::boxes as store;

/// The prefix of the id tags the server gives boxes for the cars it calls (`UH17`); drivers'
/// cards cannot use it.
pub const CAR_TAG_PREFIX: &str = "UH";

/// The boxes' timing (the `[ocpp]` section of the configuration).
#[derive(Debug, Clone, Copy)]
pub struct OcppSettings {
    /// The heartbeat interval boxes are given at boot (seconds).
    pub heartbeat_secs: u64,
    /// A box silent for longer than this many heartbeat intervals has its pile faulted.
    pub offline_heartbeats: u32,
    /// How long the server waits for a box's answer to one of its calls (seconds).
    pub call_timeout_secs: u64,
    /// How long a car called to an OCPP pile has to plug in once the box took the remote start
    /// (seconds): then the request is given up, as a driver who did not come.
    pub plug_in_secs: u64,
}

impl Default for OcppSettings {
    fn default() -> Self {
        OcppSettings {
            heartbeat_secs: 60,
            offline_heartbeats: 3,
            call_timeout_secs: 30,
            plug_in_secs: 600,
        }
    }
}

/// What a box says of itself at boot.
#[derive(Debug, Clone, Default)]
pub struct BootInfo {
    pub vendor: String,
    pub model: String,
    pub serial: Option<String>,
    pub firmware: Option<String>,
}

/// The answer to a BootNotification.
#[derive(Debug, Clone, Copy)]
pub struct Boot {
    /// Bound to a pile: accepted; otherwise rejected (it may ask again after the interval).
    pub accepted: bool,
    pub interval_secs: u64,
    pub now: Timestamp,
}

/// What an id tag may do (OCPP's `AuthorizationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Accepted,
    Invalid,
    ConcurrentTx,
}

impl TagStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Accepted => "Accepted",
            TagStatus::Invalid => "Invalid",
            TagStatus::ConcurrentTx => "ConcurrentTx",
        }
    }
}

/// A call the server makes to a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    RemoteStart {
        id_tag: String,
        limit_w: Option<i64>,
    },
    RemoteStop {
        tx: i64,
    },
    ChangeAvailability {
        operative: bool,
    },
    Reset {
        hard: bool,
    },
    Unlock,
    GetConfiguration {
        keys: Vec<String>,
    },
}

impl Command {
    /// The OCPP action and its payload.
    pub fn to_ocpp(&self) -> (&'static str, Value) {
        match self {
            Command::RemoteStart { id_tag, limit_w } => {
                let mut payload = json!({"connectorId": 1, "idTag": id_tag});
                if let Some(limit) = limit_w {
                    payload["chargingProfile"] = json!({
                        "chargingProfileId": 1,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "TxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": {
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": *limit as f64}],
                        },
                    });
                }
                ("RemoteStartTransaction", payload)
            }
            Command::RemoteStop { tx } => ("RemoteStopTransaction", json!({"transactionId": tx})),
            Command::ChangeAvailability { operative } => (
                "ChangeAvailability",
                json!({
                    "connectorId": 0,
                    "type": if *operative { "Operative" } else { "Inoperative" },
                }),
            ),
            Command::Reset { hard } => (
                "Reset",
                json!({"type": if *hard { "Hard" } else { "Soft" }}),
            ),
            Command::Unlock => ("UnlockConnector", json!({"connectorId": 1})),
            Command::GetConfiguration { keys } => ("GetConfiguration", json!({"key": keys})),
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The box's CALLRESULT payload.
    Answer(Value),
    /// Its CALLERROR.
    Error { code: String, description: String },
    /// No answer within the call timeout.
    Timeout,
    /// The link closed first (or there was none).
    Closed,
}

impl Reply {
    /// The `status` of an answer (`Accepted`, `Rejected`, `Unlocked`, ...).
    pub fn status(&self) -> Option<&str> {
        match self {
            Reply::Answer(v) => v.get("status").and_then(Value::as_str),
            _ => None,
        }
    }

    fn accepted(&self) -> bool {
        matches!(self.status(), Some("Accepted" | "Scheduled"))
    }
}

/// A call waiting for a box's link to send it.
pub struct Call {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

/// A box's new link: its number (to detach it) and the calls the server makes on it.
pub struct Attached {
    pub link: u64,
    pub calls: mpsc::Receiver<Call>,
}

/// Calls waiting for a link's one call in flight.
const CALL_QUEUE: usize = 16;

/// What this process knows of a box.
#[derive(Default)]
struct BoxState {
    link: Option<(u64, mpsc::Sender<Call>)>,
    /// When it was last heard (the clock's ms); the start of the process for a box not heard
    /// since.
    last_seen: i64,
    /// Its pile was faulted because it went silent (once per silence).
    silent: bool,
    /// When `last_seen` was last written to the database (for the other instances).
    stored_seen: i64,
    status: Option<String>,
    error_code: Option<String>,
    /// Its boot was accepted (on this link, or before: a box may reconnect without booting).
    accepted: bool,
    /// It said it does smart charging (`SupportedFeatureProfiles`).
    smart_charging: bool,
    /// The transaction it has open, as far as its starts and stops said.
    open_tx: Option<i64>,
    /// The car a RemoteStartTransaction went out for, and when.
    asked_start: Option<CarId>,
    asked_start_at: i64,
    /// The transaction a RemoteStopTransaction went out for, and when.
    asked_stop: Option<(i64, i64)>,
    /// What the last accepted ChangeAvailability made it (`None`: never asked).
    operative: Option<bool>,
    availability_in_flight: bool,
    /// The link may be sent calls: the box booted on it, or made a call (a reconnection
    /// without a boot). A box that just connected is let boot first.
    ready: bool,
    /// Its smart charging was asked on this link.
    features_asked: bool,
    /// Why its pile is down, when the box is the cause.
    fault: Option<FaultCause>,
    /// Its last status said Faulted: on the box (connector 0), on its connector (1).
    faulted: [bool; 2],
}

/// Why a box took its pile down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultCause {
    /// It said `Faulted`.
    Status,
    /// It was not heard for too long: it recovers when it is heard again.
    Silence,
    /// It refused (or did not answer) a remote start.
    RemoteStart,
    /// The operator declared the fault: only the operator recovers it.
    Operator,
}

/// Counters shown on `/metrics`.
#[derive(Default)]
pub struct OcppStats {
    pub meter_regressions: AtomicU64,
    pub refused_connections: AtomicU64,
    pub rejected_boots: AtomicU64,
    pub refused_starts: AtomicU64,
    pub remote_starts_refused: AtomicU64,
    pub silent_faults: AtomicU64,
}

/// A box as the operator sees it.
#[derive(Debug, Clone)]
pub struct BoxView {
    pub id: String,
    pub pile: Option<String>,
    pub connected: bool,
    /// Its boot was accepted (it may make calls).
    pub accepted: bool,
    pub last_seen: Option<i64>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub smart_charging: bool,
    pub transaction: Option<TransactionView>,
}

/// The transaction under way on a box's pile.
#[derive(Debug, Clone)]
pub struct TransactionView {
    pub id: i64,
    pub number: String,
    pub user: String,
    pub started_at: i64,
    pub meter_start_wh: i64,
    pub meter_wh: i64,
    pub stopping: bool,
}

/// What the watch needs of one OCPP pile.
struct PileLook {
    pile: String,
    charge_box: String,
    state: PileState,
    power_w: i64,
    /// The car at its head, with its transaction and whether it should stop.
    head: Option<(CarId, Option<i64>, bool)>,
}

/// The charge boxes, as a service over the station.
pub struct ChargeBoxes {
    charging: Arc<Charging>,
    store: Store,
    clock: Clock,
    passwords: PasswordHasher,
    settings: OcppSettings,
    boxes: Mutex<HashMap<String, BoxState>>,
    next_link: AtomicU64,
    started_at: i64,
    /// Wakes the watch (after a batch of the station, a boot, a status).
    kick: Arc<Notify>,
    pub stats: OcppStats,
}

fn valid_box_id(id: &str) -> bool {
    (1..=48).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// The OCPP security profile 1 `AuthorizationKey` length.
fn valid_password(p: &str) -> bool {
    (16..=40).contains(&p.chars().count()) && p.chars().all(|c| !c.is_control())
}

fn valid_tag(tag: &str) -> bool {
    (1..=20).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_graphic())
}

impl ChargeBoxes {
    pub fn new(
        charging: Arc<Charging>,
        store: Store,
        clock: Clock,
        passwords: PasswordHasher,
        settings: OcppSettings,
    ) -> Arc<ChargeBoxes> {
        let kick = Arc::new(Notify::new());
        charging.watch_batches(kick.clone());
        let started_at = clock.now().millis();
        Arc::new(ChargeBoxes {
            charging,
            store,
            clock,
            passwords,
            settings,
            boxes: Mutex::new(HashMap::new()),
            next_link: AtomicU64::new(1),
            started_at,
            kick,
            stats: OcppStats::default(),
        })
    }

    pub fn settings(&self) -> OcppSettings {
        self.settings
    }

    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    fn with_box<T>(&self, id: &str, f: impl FnOnce(&mut BoxState) -> T) -> T {
        let mut boxes = self.boxes.lock().unwrap_or_else(|e| e.into_inner());
        let started_at = self.started_at;
        let state = boxes.entry(id.to_owned()).or_insert_with(|| BoxState {
            last_seen: started_at,
            ..BoxState::default()
        });
        f(state)
    }

    /// Whether `password` is box `id`'s (unknown boxes take as long to refuse).
    pub async fn authenticate(&self, id: &str, password: &str) -> Result<bool> {
        let found = if valid_box_id(id) {
            store::find_box(self.store.pool(), id).await?
        } else {
            None
        };
        let ok = match found {
            Some(row) => {
                let ok = self.passwords.verify(password, &row.password_hash).await?;
                let booted = row.booted_at.is_some();
                self.with_box(id, |b| b.accepted |= booted);
                ok
            }
            None => {
                self.passwords.waste_one_verification().await;
                false
            }
        };
        if !ok {
            self.stats
                .refused_connections
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(ok)
    }

    /// A new link of box `id` (an older one is dropped: its calls fail, its socket closes).
    pub fn attach(&self, id: &str) -> Attached {
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (sender, calls) = mpsc::channel(CALL_QUEUE);
        let now = self.now();
        self.with_box(id, |b| {
            b.link = Some((link, sender));
            b.last_seen = now;
            // A stop is asked again on the new link; a start only if the old link lost it
            // (then its call came back `Closed`): a box that took it is not asked twice. The box
            // may have restarted: its availability is told again if it is off.
            b.asked_stop = None;
            b.operative = None;
            b.ready = false;
            b.features_asked = false;
        });
        self.kick.notify_one();
        Attached { link, calls }
    }

    /// Link `link` of box `id` closed.
    pub fn detach(&self, id: &str, link: u64) {
        self.with_box(id, |b| {
            if b.link.as_ref().is_some_and(|(l, _)| *l == link) {
                b.link = None;
            }
        });
    }

    /// The box was heard from: its link tells, once a frame (calls, answers, pings); the other
    /// methods do not.
    pub fn seen(&self, id: &str) {
        let now = self.now();
        // Written for the other instances at most twice a heartbeat interval, off the call.
        let every = (self.settings.heartbeat_secs as i64 * 500).max(1000);
        let store = self.with_box(id, |b| {
            b.last_seen = now;
            b.silent = false;
            let due = now - b.stored_seen >= every || now < b.stored_seen;
            if due {
                b.stored_seen = now;
            }
            due
        });
        if store {
            let (store, id) = (self.store.clone(), id.to_owned());
            tokio::spawn(async move {
                if let Err(e) = store::touch_box(store.pool(), &id, now).await {
                    tracing::warn!(error = %e, charge_box = %id, "cannot note when a box was heard");
                }
            });
        }
    }

    /// Connected boxes (for `/metrics`).
    pub fn connected(&self) -> usize {
        let boxes = self.boxes.lock().unwrap_or_else(|e| e.into_inner());
        boxes.values().filter(|b| b.link.is_some()).count()
    }

    /// The pile box `id` drives.
    pub async fn pile_of(&self, id: &str) -> Option<String> {
        let live = self.charging.live.state.lock().await;
        live.station.config.pile_of_box(id).cloned()
    }

    /// A BootNotification: accepted when the box drives a pile.
    pub async fn boot(self: &Arc<Self>, id: &str, info: BootInfo) -> Result<Boot> {
        let accepted = self.pile_of(id).await.is_some();
        self.with_box(id, |b| b.accepted = accepted);
        store::set_box_info(
            self.store.pool(),
            id,
            [
                Some(info.vendor.as_str()),
                Some(info.model.as_str()),
                info.serial.as_deref(),
                info.firmware.as_deref(),
            ],
            accepted,
            self.now(),
        )
        .await?;
        if accepted {
            let ask = self.with_box(id, |b| {
                b.ready = true;
                !std::mem::replace(&mut b.features_asked, true)
            });
            if ask {
                self.ask_features(id);
            }
            self.kick.notify_one();
        } else {
            self.stats.rejected_boots.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Boot {
            accepted,
            interval_secs: self.settings.heartbeat_secs,
            now: self.clock.now(),
        })
    }

    /// Whether box `id` may make calls other than BootNotification: it drives a pile, and its
    /// boot was accepted (now, or before it reconnected).
    pub async fn admitted(&self, id: &str) -> bool {
        let admitted = self.with_box(id, |b| b.accepted) && self.pile_of(id).await.is_some();
        if admitted {
            self.with_box(id, |b| b.ready = true);
        }
        admitted
    }

    /// Asks a box whether it does smart charging (then its remote starts carry a profile).
    fn ask_features(self: &Arc<Self>, id: &str) {
        let this = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let reply = this
                .call(
                    &id,
                    Command::GetConfiguration {
                        keys: vec!["SupportedFeatureProfiles".into()],
                    },
                )
                .await;
            if let Reply::Answer(v) = reply {
                let smart = v
                    .get("configurationKey")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|k| {
                        k.get("key").and_then(Value::as_str) == Some("SupportedFeatureProfiles")
                    })
                    .filter_map(|k| k.get("value").and_then(Value::as_str))
                    .any(|v| v.split(',').any(|p| p.trim() == "SmartCharging"));
                this.with_box(&id, |b| b.smart_charging = smart);
            }
        });
    }

    /// Sends `command` to box `id` and waits for its answer (at most the call timeout once
    /// sent; the link sends one call at a time).
    pub async fn call(&self, id: &str, command: Command) -> Reply {
        let Some(sender) = self.with_box(id, |b| b.link.as_ref().map(|(_, s)| s.clone())) else {
            return Reply::Closed;
        };
        let (reply, answer) = oneshot::channel();
        // Queued behind the link's other calls: each waits its own timeout once sent.
        let wait =
            Duration::from_secs(self.settings.call_timeout_secs.max(1) * (CALL_QUEUE as u64 + 1));
        if sender.send(Call { command, reply }).await.is_err() {
            return Reply::Closed;
        }
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Reply::Closed,
            Err(_) => Reply::Timeout,
        }
    }

    /// A StatusNotification of connector 0 (the box) or 1 (its pile).
    pub async fn status(
        &self,
        id: &str,
        connector: i64,
        status: &str,
        error_code: &str,
    ) -> Result<()> {
        if connector > 1 {
            return Ok(());
        }
        // Faulted on the box (0) or its connector (1) is a fault; the pile is back when neither
        // says Faulted any more and one says Available.
        let still_faulted = self.with_box(id, |b| {
            b.status = Some(status.to_owned());
            b.error_code = (error_code != "NoError").then(|| error_code.to_owned());
            b.faulted[usize::from(connector == 1)] = status == "Faulted";
            b.faulted.iter().any(|f| *f)
        });
        let Some(pile) = self.pile_of(id).await else {
            return Ok(());
        };
        let change = match status {
            "Faulted" => {
                self.with_box(id, |b| b.fault = Some(FaultCause::Status));
                Metering::Faulted { pile }
            }
            "Available" if !still_faulted => {
                let operator = self.with_box(id, |b| {
                    let operator = b.fault == Some(FaultCause::Operator);
                    if !operator {
                        b.fault = None;
                    }
                    operator
                });
                if operator {
                    return Ok(());
                }
                Metering::Available { pile }
            }
            _ => return Ok(()),
        };
        self.charging.submit(Change::Metering(change)).await?;
        Ok(())
    }

    /// The operator recorded a fault on pile `pile` (or a recovery, or switched it on or off):
    /// a fault the operator declared is not lifted by the box saying it is available.
    pub async fn operator_changed(&self, pile: &str, fault: bool) {
        let charge_box = {
            let live = self.charging.live.state.lock().await;
            live.station.config.ocpp_piles.get(pile).cloned()
        };
        if let Some(charge_box) = charge_box {
            self.with_box(&charge_box, |b| {
                b.fault = fault.then_some(FaultCause::Operator);
            });
        }
    }

    /// Who an id tag is: the car it was given for, or the driver whose card it is.
    async fn starter(&self, id_tag: &str) -> Result<Option<Starter>> {
        if let Some(car) = id_tag
            .strip_prefix(CAR_TAG_PREFIX)
            .and_then(|n| n.parse::<CarId>().ok())
        {
            return Ok(Some(Starter::Car(car)));
        }
        if !valid_tag(id_tag) {
            return Ok(None);
        }
        Ok(store::tag_owner(self.store.pool(), id_tag)
            .await?
            .map(Starter::Driver))
    }

    /// An Authorize: whether `id_tag` may start on box `id`'s pile now.
    pub async fn authorize(&self, id: &str, id_tag: &str) -> Result<TagStatus> {
        let (Some(pile), Some(starter)) = (self.pile_of(id).await, self.starter(id_tag).await?)
        else {
            return Ok(TagStatus::Invalid);
        };
        let live = self.charging.live.state.lock().await;
        let head = live
            .station
            .pile(&pile)
            .and_then(|p| p.queue.front().copied());
        Ok(match starter {
            Starter::Car(car) if head == Some(car) => TagStatus::Accepted,
            Starter::Car(_) => TagStatus::Invalid,
            Starter::Driver(user) => match live.active.get(&user) {
                Some(car) if head == Some(*car) => TagStatus::Accepted,
                Some(_) => TagStatus::ConcurrentTx,
                None => TagStatus::Accepted,
            },
        })
    }

    /// A StartTransaction: the transaction's id (0 when refused) and the tag's status.
    pub async fn start(
        &self,
        id: &str,
        connector: i64,
        id_tag: &str,
        meter_wh: i64,
        at: i64,
    ) -> Result<(i64, TagStatus)> {
        let refused = |status| {
            self.stats.refused_starts.fetch_add(1, Ordering::Relaxed);
            Ok((0, status))
        };
        if connector != 1 || meter_wh < 0 {
            return refused(TagStatus::Invalid);
        }
        let (Some(pile), Some(starter)) = (self.pile_of(id).await, self.starter(id_tag).await?)
        else {
            return refused(TagStatus::Invalid);
        };
        let change = Change::Metering(Metering::Start {
            pile,
            starter,
            meter_wh,
            at,
        });
        match self.charging.submit(change).await {
            Ok(Answer::Started(tx)) => {
                self.with_box(id, |b| b.open_tx = Some(tx));
                Ok((tx, TagStatus::Accepted))
            }
            Ok(_) => refused(TagStatus::Invalid),
            Err(Error::Conflict(_)) => refused(TagStatus::ConcurrentTx),
            Err(Error::State(_) | Error::NotFound(_) | Error::Invalid(_)) => {
                refused(TagStatus::Invalid)
            }
            Err(e) => Err(e),
        }
    }

    /// MeterValues of transaction `tx`: (time by the box's clock, Wh) readings. Returns how many
    /// were lower than the last (ignored).
    pub async fn meter_values(
        &self,
        id: &str,
        tx: i64,
        readings: Vec<(i64, i64)>,
    ) -> Result<usize> {
        let Some(pile) = self.pile_of(id).await else {
            return Ok(0);
        };
        if readings.is_empty() {
            return Ok(0);
        }
        let known = {
            let live = self.charging.live.state.lock().await;
            live.station.knows_tx(&pile, tx)
        };
        if !known {
            // A transaction the station does not have (lost with a restart elsewhere, or
            // refused): the box is charging for nobody, and is asked to stop.
            self.with_box(id, |b| b.open_tx = Some(tx));
            self.kick.notify_one();
            return Ok(0);
        }
        let change = Change::Metering(Metering::Readings { pile, tx, readings });
        let regressed = match self.charging.submit(change).await? {
            Answer::Metered { regressed } => regressed,
            _ => 0,
        };
        self.count_regressions(regressed);
        Ok(regressed)
    }

    fn count_regressions(&self, n: usize) {
        if n > 0 {
            self.stats
                .meter_regressions
                .fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// A StopTransaction: the session closes with what the meter says (once).
    pub async fn stop(
        &self,
        id: &str,
        tx: i64,
        meter_wh: i64,
        at: i64,
        readings: Vec<(i64, i64)>,
    ) -> Result<()> {
        // Forgotten once the station has the stop (before, a look would still see the car
        // stopping with no stop asked, and ask again).
        let forget = |b: &mut BoxState| {
            if b.open_tx == Some(tx) {
                b.open_tx = None;
            }
            if b.asked_stop.is_some_and(|(t, _)| t == tx) {
                b.asked_stop = None;
            }
        };
        let Some(pile) = self.pile_of(id).await else {
            self.with_box(id, forget);
            return Ok(());
        };
        let change = Change::Metering(Metering::Stop {
            pile,
            tx,
            meter_wh,
            at,
            readings,
        });
        let answer = self.charging.submit(change).await;
        self.with_box(id, forget);
        if let Answer::Metered { regressed } = answer? {
            self.count_regressions(regressed);
        }
        Ok(())
    }

    /// Sends `command` to the box of OCPP pile `pile` for the operator: the box's answer.
    pub async fn operate(&self, pile: &str, command: Command) -> Result<Reply> {
        let config = self.charging.config().await?;
        let Some(charge_box) = config.ocpp_piles.get(pile).cloned() else {
            return Err(
                if self.charging.piles().await?.iter().any(|p| p.id == pile) {
                    Error::State(format!("充电桩 {pile} 是模拟充电桩，没有充电设备"))
                } else {
                    Error::NotFound(Entity::Pile)
                },
            );
        };
        match self.call(&charge_box, command).await {
            Reply::Closed => Err(Error::State(format!(
                "充电桩 {pile} 的充电设备 {charge_box} 未连接"
            ))),
            Reply::Timeout => Err(Error::Unavailable {
                service: crate::domain::Service::ChargeBox,
                detail: format!("充电设备 {charge_box} 没有在规定时间内应答"),
            }),
            reply => Ok(reply),
        }
    }

    /// Creates or changes box `id`: a new password, and/or the pile it drives (`Some(None)`:
    /// none).
    pub async fn put(
        &self,
        id: &str,
        password: Option<&str>,
        pile: Option<Option<String>>,
    ) -> Result<BoxView> {
        if !valid_box_id(id) {
            return Err(Error::invalid(
                "id",
                "a charge box id is 1-48 characters of A-Z, a-z, 0-9, '.', '_', '-', ':'",
            ));
        }
        if password.is_some_and(|p| !valid_password(p)) {
            return Err(Error::invalid("password", "must be 16-40 characters"));
        }
        let exists = store::find_box(self.store.pool(), id).await?.is_some();
        if !exists && password.is_none() {
            return Err(Error::invalid(
                "password",
                "a new charge box needs a password",
            ));
        }
        if let Some(pile) = pile {
            // The binding first: when it is refused, nothing changed.
            self.charging
                .submit(Change::Bind {
                    charge_box: id.to_owned(),
                    pile,
                })
                .await?;
        }
        if let Some(password) = password {
            let hash = self.passwords.hash(password).await?;
            store::upsert_box(self.store.pool(), id, &hash, self.now()).await?;
            // Whoever is connected with the old password is not any more.
            self.with_box(id, |b| b.link = None);
        }
        self.kick.notify_one();
        self.view(id)
            .await?
            .ok_or(Error::NotFound(Entity::ChargeBox))
    }

    /// Removes box `id` (its pile becomes simulated; its link closes).
    pub async fn delete(&self, id: &str) -> Result<()> {
        if store::find_box(self.store.pool(), id).await?.is_none() {
            return Err(Error::NotFound(Entity::ChargeBox));
        }
        self.charging
            .submit(Change::Bind {
                charge_box: id.to_owned(),
                pile: None,
            })
            .await?;
        store::delete_box(self.store.pool(), id).await?;
        let mut boxes = self.boxes.lock().unwrap_or_else(|e| e.into_inner());
        boxes.remove(id);
        Ok(())
    }

    /// Every box, by id.
    pub async fn list(&self) -> Result<Vec<BoxView>> {
        let rows = store::all_boxes(self.store.pool()).await?;
        let mut views = Vec::with_capacity(rows.len());
        let live = self.charging.live.state.lock().await;
        for row in rows {
            views.push(self.view_of(&live, row));
        }
        Ok(views)
    }

    /// The boxes of these ids that exist, in that order (a page of the console's table).
    pub async fn views(&self, ids: &[String]) -> Result<Vec<BoxView>> {
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            rows.extend(store::find_box(self.store.pool(), id).await?);
        }
        // The station's lock once, after the reads.
        let live = self.charging.live.state.lock().await;
        Ok(rows
            .into_iter()
            .map(|row| self.view_of(&live, row))
            .collect())
    }

    async fn view(&self, id: &str) -> Result<Option<BoxView>> {
        let Some(row) = store::find_box(self.store.pool(), id).await? else {
            return Ok(None);
        };
        let live = self.charging.live.state.lock().await;
        Ok(Some(self.view_of(&live, row)))
    }

    fn view_of(&self, live: &super::live::LiveState, row: store::BoxRow) -> BoxView {
        let st = &live.station;
        let pile = st.config.pile_of_box(&row.id).cloned();
        let transaction = pile.as_ref().and_then(|id| st.pile(id)).and_then(|p| {
            let m = p.metered.as_ref()?;
            let car = st.car(*p.queue.front()?)?;
            Some(TransactionView {
                id: m.tx?,
                number: car.number.clone(),
                user: car.user.clone(),
                started_at: m.started_at,
                meter_start_wh: m.meter_start_wh,
                meter_wh: m.last_wh,
                stopping: m.stopping.is_some(),
            })
        });
        let boxes = self.boxes.lock().unwrap_or_else(|e| e.into_inner());
        let state = boxes.get(&row.id);
        BoxView {
            id: row.id,
            pile,
            connected: state.is_some_and(|b| b.link.is_some()),
            accepted: state.is_some_and(|b| b.accepted) || row.booted_at.is_some(),
            last_seen: state.map(|b| b.last_seen).filter(|t| *t != self.started_at),
            vendor: row.vendor,
            model: row.model,
            serial: row.serial,
            firmware: row.firmware,
            status: state.and_then(|b| b.status.clone()),
            error_code: state.and_then(|b| b.error_code.clone()),
            smart_charging: state.is_some_and(|b| b.smart_charging),
            transaction,
        }
    }

    /// Gives card `id_tag` to driver `driver`.
    pub async fn put_tag(&self, id_tag: &str, driver: &str) -> Result<()> {
        if !valid_tag(id_tag) || id_tag.starts_with(CAR_TAG_PREFIX) {
            return Err(Error::invalid(
                "id_tag",
                format!(
                    "an id tag is 1-20 printable ASCII characters, not starting with {CAR_TAG_PREFIX}"
                ),
            ));
        }
        if self.charging.find_driver(driver).await?.is_none() {
            return Err(Error::NotFound(Entity::User));
        }
        store::put_tag(self.store.pool(), id_tag, driver, self.now()).await?;
        Ok(())
    }

    pub async fn delete_tag(&self, id_tag: &str) -> Result<()> {
        if store::delete_tag(self.store.pool(), id_tag).await? {
            Ok(())
        } else {
            Err(Error::NotFound(Entity::IdTag))
        }
    }

    /// Every card: (tag, driver, since).
    pub async fn tags(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(store::all_tags(self.store.pool()).await?)
    }

    /// Keeps the boxes doing what the station wants: a look after every batch of the station
    /// and twice a second. Runs until dropped.
    pub async fn watch(self: Arc<Self>) {
        loop {
            let _ = tokio::time::timeout(Duration::from_millis(500), self.kick.notified()).await;
            self.watch_once().await;
        }
    }

    async fn look(&self) -> Vec<PileLook> {
        let live = self.charging.live.state.lock().await;
        let st = &live.station;
        // One pass over the piles (a look runs after every batch: with a thousand OCPP piles,
        // finding each by id made it quadratic).
        st.piles
            .iter()
            .filter_map(|p| {
                let (pile, charge_box) = st.config.ocpp_piles.get_key_value(&p.id)?;
                let head = p.queue.front().map(|car| {
                    let m = p.metered.as_ref();
                    (
                        *car,
                        m.and_then(|m| m.tx),
                        m.is_some_and(|m| m.stopping.is_some()),
                    )
                });
                Some(PileLook {
                    pile: pile.clone(),
                    charge_box: charge_box.clone(),
                    state: p.state,
                    power_w: p.power_w,
                    head,
                })
            })
            .collect()
    }

    /// One look at every OCPP pile: what its box should be told, and whether it went silent.
    async fn watch_once(self: &Arc<Self>) {
        let now = self.now();
        let silence_ms = (self.settings.heartbeat_secs as i64)
            .saturating_mul(i64::from(self.settings.offline_heartbeats))
            .saturating_mul(1000);
        let resend_ms = (self.settings.call_timeout_secs.max(1) as i64) * 1000;
        let plug_in_ms = (self.settings.plug_in_secs as i64).saturating_mul(1000);
        for look in self.look().await {
            // Each command, and whether it stops a transaction the station did not have.
            let mut todo: Vec<(Command, bool)> = Vec::new();
            let (mut silent, mut recover, mut no_show) = (false, false, None);
            self.with_box(&look.charge_box, |b| {
                if b.link.is_none() {
                    if !b.silent
                        && look.state == PileState::Working
                        && now - b.last_seen > silence_ms
                    {
                        b.silent = true;
                        silent = true;
                    }
                    return;
                }
                if !b.ready {
                    return;
                }
                if look.state == PileState::Fault && b.fault == Some(FaultCause::Silence) {
                    // Heard again after a silence: the pile is back.
                    b.fault = None;
                    recover = true;
                }
                match look.head {
                    Some((car, None, _)) if look.state == PileState::Working => {
                        if b.asked_start == Some(car) && now - b.asked_start_at > plug_in_ms {
                            b.asked_start = None;
                            no_show = Some(car);
                        } else if b.asked_start != Some(car) {
                            b.asked_start = Some(car);
                            b.asked_start_at = now;
                            let command = Command::RemoteStart {
                                id_tag: format!("{CAR_TAG_PREFIX}{car}"),
                                limit_w: b.smart_charging.then_some(look.power_w),
                            };
                            todo.push((command, false));
                        }
                    }
                    // Started, moved or gone: a car called here again is asked for again.
                    _ => b.asked_start = None,
                }
                // The transaction to stop: the station's, when it should end; or one the box
                // has open that the station does not (cut short by a fault or a switch-off).
                let station_tx = look.head.and_then(|(_, tx, _)| tx);
                let stop = match (look.head, b.open_tx) {
                    (Some((_, Some(tx), true)), _) => Some((tx, false)),
                    (_, Some(open)) if station_tx != Some(open) => Some((open, true)),
                    _ => None,
                };
                if let Some((tx, orphan)) = stop {
                    let due = b
                        .asked_stop
                        .is_none_or(|(t, at)| t != tx || now - at >= resend_ms);
                    if due {
                        b.asked_stop = Some((tx, now));
                        todo.push((Command::RemoteStop { tx }, orphan));
                    }
                }
                if !b.availability_in_flight {
                    // Operative again after an off, or when the box says it is unavailable
                    // (it keeps an Inoperative across its restarts and ours).
                    let unavailable = b.status.as_deref() == Some("Unavailable");
                    let want = match look.state {
                        PileState::Off => Some(false),
                        PileState::Working
                            if b.operative == Some(false)
                                || (b.operative.is_none() && unavailable) =>
                        {
                            Some(true)
                        }
                        _ => None,
                    };
                    if let Some(operative) = want.filter(|w| b.operative != Some(*w)) {
                        b.availability_in_flight = true;
                        todo.push((Command::ChangeAvailability { operative }, false));
                    }
                }
            });
            if silent
                && self
                    .heard_elsewhere(&look.charge_box, now - silence_ms)
                    .await
            {
                silent = false;
            }
            if silent || recover {
                let pile = look.pile.clone();
                let change = if silent {
                    tracing::warn!(charge_box = %look.charge_box, %pile, "charge box silent: pile faulted");
                    self.stats.silent_faults.fetch_add(1, Ordering::Relaxed);
                    self.with_box(&look.charge_box, |b| b.fault = Some(FaultCause::Silence));
                    Metering::Faulted { pile }
                } else {
                    tracing::info!(charge_box = %look.charge_box, %pile, "charge box heard again: pile recovered");
                    Metering::Available { pile }
                };
                if let Err(e) = self.charging.submit(Change::Metering(change)).await {
                    tracing::warn!(error = %e, "cannot change a charge box's pile");
                }
            }
            if let Some(car) = no_show {
                tracing::info!(charge_box = %look.charge_box, pile = %look.pile, car, "the car called to the pile did not plug in: request given up");
                let change = Change::Metering(Metering::NoShow {
                    pile: look.pile.clone(),
                    car,
                });
                if let Err(e) = self.charging.submit(change).await {
                    tracing::warn!(error = %e, "cannot give up a request");
                }
            }
            for (command, orphan) in todo {
                let this = self.clone();
                let (pile, charge_box) = (look.pile.clone(), look.charge_box.clone());
                tokio::spawn(async move {
                    this.send_and_follow(&charge_box, &pile, command, orphan)
                        .await
                });
            }
        }
    }

    /// Whether another instance heard box `id` after `since` (then it is linked there, not
    /// silent; this process takes the time in).
    async fn heard_elsewhere(&self, id: &str, since: i64) -> bool {
        match store::box_last_seen(self.store.pool(), id).await {
            Ok(Some(at)) if at > since => {
                self.with_box(id, |b| {
                    b.last_seen = b.last_seen.max(at);
                    b.silent = false;
                });
                true
            }
            Ok(_) => false,
            Err(e) => {
                // Not known: no fault on a guess.
                tracing::warn!(error = %e, charge_box = %id, "cannot read when a box was heard");
                self.with_box(id, |b| b.silent = false);
                true
            }
        }
    }

    /// Sends a command the watch decided on and acts on the answer.
    async fn send_and_follow(&self, charge_box: &str, pile: &str, command: Command, orphan: bool) {
        if let Command::RemoteStop { tx } = &command {
            // The station may have moved since the watch looked: an orphan it took in meanwhile
            // (a start answered) is not stopped, nor a transaction whose stop it has had.
            let known = {
                let live = self.charging.live.state.lock().await;
                live.station.knows_tx(pile, *tx)
            };
            if known == orphan {
                self.with_box(charge_box, |b| {
                    b.asked_stop = None;
                    if b.open_tx == Some(*tx) {
                        b.open_tx = None;
                    }
                });
                return;
            }
        }
        let reply = self.call(charge_box, command.clone()).await;
        match command {
            Command::RemoteStart { .. } => {
                if !reply.accepted() && !matches!(reply, Reply::Closed) {
                    // The box will not take the car: the pile cannot serve, the car moves on.
                    tracing::warn!(%charge_box, %pile, ?reply, "remote start refused: pile faulted");
                    self.stats
                        .remote_starts_refused
                        .fetch_add(1, Ordering::Relaxed);
                    self.with_box(charge_box, |b| b.fault = Some(FaultCause::RemoteStart));
                    let change = Change::Metering(Metering::Faulted {
                        pile: pile.to_owned(),
                    });
                    if let Err(e) = self.charging.submit(change).await {
                        tracing::warn!(error = %e, "cannot fault the pile");
                    }
                } else if matches!(reply, Reply::Closed) {
                    self.with_box(charge_box, |b| b.asked_start = None);
                }
            }
            Command::ChangeAvailability { operative } => {
                self.with_box(charge_box, |b| {
                    b.availability_in_flight = false;
                    if reply.accepted() {
                        b.operative = Some(operative);
                    }
                });
            }
            _ => {}
        }
    }
}
