//! The connected purifiers: what devices send over the link (checked: signed, fresh, possible)
//! and what the platform does with it: online state, reports and their history, filter life
//! with its maintenance tickets, fault tickets, commands and their log, water on demand, and
//! the rentals' locks. The link itself (the broker connection) is a surface; it hands this
//! service the frames it receives and sends what this service gives its [`Downlink`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::model::{Device, Ticket};
use super::protocol::{self, Channel, Down, Dropped, FilterCycle, Report, Topics, Up, WATER_KINDS};
use super::shared::Shared;
use super::tickets::{CREATED, DISMANTLE, FAULT, MAINTAIN};
use super::{Caller, Range, Role, money_of};
use crate::domain::ids;
use crate::domain::money::Fen;
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::Store;
use crate::store::iot::link::{self as store, CommandRow, FilterRow, LinkRow, Reported};
use crate::store::iot::{self as iot_store, TicketRow};

/// Device types (section 二's 设备类型).
pub const SALE: i64 = 1;
pub const TIMED_RENTAL: i64 = 2;
pub const METERED_RENTAL: i64 = 3;
pub const VENDING: i64 = 4;

/// Why the platform holds a device locked.
pub const LOCK_OPERATOR: &str = "operator";
pub const LOCK_RENT: &str = "rent";
pub const LOCK_BALANCE: &str = "balance";

/// The commands an operator may send (dispensing has its own call).
pub const OPERATOR_OPS: [&str; 4] = ["lock", "unlock", "reboot", "reset_filter"];

/// The link's timing and rules.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    pub topics: Topics,
    pub heartbeat_secs: u64,
    pub command_timeout_secs: u64,
    pub rent_grace_days: u64,
    pub min_period_days: u64,
}

impl Default for FleetSettings {
    fn default() -> Self {
        FleetSettings {
            topics: Topics::new("uh"),
            heartbeat_secs: 60,
            command_timeout_secs: 30,
            rent_grace_days: 7,
            min_period_days: 30,
        }
    }
}

/// Sends frames to devices: the broker connection implements it.
pub trait Downlink: Send + Sync {
    /// Publishes `payload` on `topic` (QoS 1), retained or not.
    fn publish(&self, topic: String, payload: Vec<u8>, retain: bool);
}

/// A frame as the broker delivered it.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// The link's counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct FleetMetrics {
    /// Accepted, by message type (online, offline, report, ack, result).
    pub accepted: [AtomicU64; 5],
    /// Dropped, by [`Dropped`] reason.
    pub dropped: [AtomicU64; 5],
    /// Messages that could not be applied (the database failed them alone, three times).
    pub failed: AtomicU64,
    /// Ingest lag of reports (server commit time - the device's `ts`), in buckets.
    pub lag_buckets: [AtomicU64; LAG_BOUNDS_MS.len() + 1],
    pub lag_sum_ms: AtomicU64,
    pub lag_count: AtomicU64,
    pub online: AtomicU64,
}

/// The upper bounds of the lag histogram's buckets (milliseconds).
pub const LAG_BOUNDS_MS: [u64; 12] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];
pub const ACCEPTED_TYPES: [&str; 5] = ["online", "offline", "report", "ack", "result"];

impl FleetMetrics {
    fn accept(&self, kind: &str) {
        if let Some(i) = ACCEPTED_TYPES.iter().position(|k| *k == kind) {
            self.accepted[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn drop_one(&self, reason: Dropped) {
        if let Some(i) = Dropped::ALL.iter().position(|r| *r == reason) {
            self.dropped[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lag(&self, ms: u64) {
        let i = LAG_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(LAG_BOUNDS_MS.len());
        self.lag_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.lag_sum_ms.fetch_add(ms, Ordering::Relaxed);
        self.lag_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of these counters.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        s.push_str(
            "# HELP utilhall_iot_messages_total Device messages applied, by type.\n\
             # TYPE utilhall_iot_messages_total counter\n",
        );
        for (i, k) in ACCEPTED_TYPES.iter().enumerate() {
            let _ = writeln!(
                s,
                "utilhall_iot_messages_total{{type=\"{k}\"}} {}",
                self.accepted[i].load(Ordering::Relaxed)
            );
        }
        s.push_str(
            "# HELP utilhall_iot_dropped_total Device messages dropped, by reason.\n\
             # TYPE utilhall_iot_dropped_total counter\n",
        );
        for (i, r) in Dropped::ALL.iter().enumerate() {
            let _ = writeln!(
                s,
                "utilhall_iot_dropped_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.dropped[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP utilhall_iot_failed_total Device messages the database refused.\n\
             # TYPE utilhall_iot_failed_total counter\nutilhall_iot_failed_total {}",
            self.failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP utilhall_iot_devices_online Devices online.\n\
             # TYPE utilhall_iot_devices_online gauge\nutilhall_iot_devices_online {}",
            self.online.load(Ordering::Relaxed)
        );
        s.push_str(
            "# HELP utilhall_iot_ingest_lag_seconds From a report's device time to its commit.\n\
             # TYPE utilhall_iot_ingest_lag_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, b) in LAG_BOUNDS_MS.iter().enumerate() {
            cumulative += self.lag_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                s,
                "utilhall_iot_ingest_lag_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *b as f64 / 1000.0
            );
        }
        cumulative += self.lag_buckets[LAG_BOUNDS_MS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "utilhall_iot_ingest_lag_seconds_bucket{{le=\"+Inf\"}} {cumulative}\n\
             utilhall_iot_ingest_lag_seconds_sum {}\nutilhall_iot_ingest_lag_seconds_count {}",
            self.lag_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            self.lag_count.load(Ordering::Relaxed)
        );
        s
    }
}

/// A filter of a product's specification.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSpec {
    pub order: i64,
    pub name: String,
    /// 0 both clocks, 1 powered hours, 2 working hours.
    pub timer_mode: i64,
    pub lifetime_h: i64,
    pub worklife_h: i64,
}

/// What the link needs of a product: its filters and its water prices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductTerms {
    pub filters: Vec<FilterSpec>,
    /// Fen per litre (`rent.price_per_l`).
    pub price_per_l: Option<Fen>,
    /// Fen per minimum period (`rent.minimum`).
    pub minimum: Option<Fen>,
}

impl ProductTerms {
    pub fn of(doc: &serde_json::Map<String, Value>) -> ProductTerms {
        let spec = doc.get("specification");
        let filters = spec
            .and_then(|s| s.get("filters"))
            .and_then(Value::as_array)
            .map(|fs| {
                fs.iter()
                    .enumerate()
                    .map(|(i, f)| FilterSpec {
                        order: f
                            .get("order")
                            .and_then(Value::as_i64)
                            .unwrap_or(i as i64 + 1),
                        name: f
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        timer_mode: f.get("timer_mode").and_then(Value::as_i64).unwrap_or(0),
                        lifetime_h: f.get("lifetime").and_then(Value::as_i64).unwrap_or(0),
                        worklife_h: f.get("worklife").and_then(Value::as_i64).unwrap_or(0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rent = doc.get("rent");
        ProductTerms {
            filters,
            price_per_l: rent
                .and_then(|r| r.get("price_per_l"))
                .and_then(money_of)
                .filter(|f| f.0 > 0),
            minimum: rent
                .and_then(|r| r.get("minimum"))
                .and_then(money_of)
                .filter(|f| f.0 > 0),
        }
    }
}

/// A filter's life on a device.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterLife {
    pub spec: FilterSpec,
    pub cycle: i64,
    pub used_powered_h: f64,
    pub used_working_h: f64,
    pub remaining_h: f64,
    pub remaining_pct: f64,
    pub expired: bool,
    pub ticket: Option<String>,
}

/// A filter's life from its spec and the hours of its cycle.
pub fn filter_life(
    spec: &FilterSpec,
    row: &FilterRow,
    powered_s: i64,
    working_s: i64,
) -> FilterLife {
    let used_p = (powered_s - row.base_powered_s).max(0) as f64 / 3600.0;
    let used_w = (working_s - row.base_working_s).max(0) as f64 / 3600.0;
    let clock = |life: i64, used: f64| {
        (life > 0).then(|| {
            (
                (life as f64 - used).max(0.0),
                (1.0 - used / life as f64).max(0.0),
            )
        })
    };
    let powered = clock(spec.lifetime_h, used_p);
    let working = clock(spec.worklife_h, used_w);
    let counted: Vec<(f64, f64)> = match spec.timer_mode {
        1 => powered.into_iter().collect(),
        2 => working.into_iter().collect(),
        _ => powered.into_iter().chain(working).collect(),
    };
    let remaining_h = counted.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    let remaining_pct = counted.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let (remaining_h, remaining_pct) = if counted.is_empty() {
        (0.0, 1.0)
    } else {
        (remaining_h, remaining_pct)
    };
    FilterLife {
        spec: spec.clone(),
        cycle: row.cycle,
        used_powered_h: used_p,
        used_working_h: used_w,
        remaining_h,
        remaining_pct: (remaining_pct * 1000.0).round() / 10.0,
        expired: !counted.is_empty() && remaining_pct <= 0.0,
        ticket: row.ticket.clone(),
    }
}

/// A command and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub cid: String,
    pub did: String,
    pub op: String,
    pub args: Value,
    pub state: String,
    pub result: Value,
    pub by: Option<String>,
    pub created_at: i64,
    pub acked_at: Option<i64>,
    pub done_at: Option<i64>,
}

impl From<CommandRow> for Command {
    fn from(c: CommandRow) -> Command {
        Command {
            args: serde_json::from_str(&c.args).unwrap_or(Value::Null),
            result: c
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or(Value::Null),
            cid: c.cid,
            did: c.did,
            op: c.op,
            state: c.state,
            by: c.by_uid,
            created_at: c.created_at,
            acked_at: c.acked_at,
            done_at: c.done_at,
        }
    }
}

/// What a member asks a device to dispense: millilitres, or an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Ml(i64),
    Amount(Fen),
}

/// The outcome of a dispense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispensed {
    pub cid: String,
    pub asked_ml: i64,
    pub dispensed_ml: i64,
    pub charged: Fen,
}

/// One report of a device's history.
pub type HistoryRow = store::ReportRow;

/// What a committed batch leaves to do: frames to send, waiters to wake.
#[derive(Default)]
struct After {
    finished: Vec<String>,
    desired: Vec<String>,
    commands: Vec<(String, String, String, Value)>,
}

/// A verified frame of a device.
struct Verified {
    did: String,
    /// The key generation its signature verified under.
    generation: i64,
    channel: Channel,
    up: Up,
}

/// The largest frame a device may send (bytes); larger ones are dropped as malformed.
pub const MAX_FRAME: usize = 16 * 1024;

/// The most a dispense may ask (20 litres).
pub const MAX_DISPENSE_ML: i64 = 20_000;

/// The connected purifiers.
pub struct Fleet {
    store: Store,
    clock: Clock,
    shared: Arc<Shared>,
    settings: FleetSettings,
    master: String,
    keys: Mutex<HashMap<String, (i64, Arc<str>)>>,
    terms: Mutex<HashMap<String, (Instant, Arc<ProductTerms>)>>,
    downlink: OnceLock<Arc<dyn Downlink>>,
    waiters: Mutex<HashMap<String, oneshot::Sender<()>>>,
    /// When the broker connection last came up (milliseconds on the server's clock), while
    /// it is up; none while it is down.
    connected_since: Mutex<Option<i64>>,
    pub metrics: FleetMetrics,
}

impl Fleet {
    pub fn new(shared: Arc<Shared>, settings: FleetSettings, master: String) -> Fleet {
        Fleet {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            shared,
            settings,
            master,
            keys: Mutex::new(HashMap::new()),
            terms: Mutex::new(HashMap::new()),
            downlink: OnceLock::new(),
            waiters: Mutex::new(HashMap::new()),
            connected_since: Mutex::new(None),
            metrics: FleetMetrics::default(),
        }
    }

    pub fn settings(&self) -> &FleetSettings {
        &self.settings
    }

    pub fn topics(&self) -> &Topics {
        &self.settings.topics
    }

    /// Connects the service to the broker connection that sends its frames.
    pub fn set_downlink(&self, downlink: Arc<dyn Downlink>) {
        let _ = self.downlink.set(downlink);
    }

    /// The broker connection came up (true) or went down.
    pub fn set_connected(&self, up: bool) {
        if let Ok(mut c) = self.connected_since.lock() {
            *c = up.then(|| self.clock.now().millis());
        }
    }

    fn connected_since(&self) -> Option<i64> {
        self.connected_since.lock().ok().and_then(|c| *c)
    }

    /// A frame sent at QoS 0: not part of the protocol; dropped and counted as malformed.
    pub fn drop_unsigned(&self) {
        self.metrics.drop_one(Dropped::Malformed);
    }

    /// The secret of a device's key generation.
    pub fn secret(&self, did: &str, generation: i64) -> String {
        protocol::device_secret(&self.master, did, generation)
    }

    /// The secrets of newly registered devices (generation 0), to be shown once.
    pub fn new_secrets(&self, dids: &[String]) -> Vec<(String, String)> {
        dids.iter()
            .map(|d| (d.clone(), self.secret(d, 0)))
            .collect()
    }

    /// A device's current secret (cached; `fresh` reads its generation again).
    async fn key(&self, did: &str, fresh: bool) -> Result<Option<(i64, Arc<str>)>> {
        if !fresh && let Some(k) = self.keys.lock().ok().and_then(|m| m.get(did).cloned()) {
            return Ok(Some(k));
        }
        let Some(generation) = store::key_gen(self.store.pool(), did).await? else {
            if let Ok(mut m) = self.keys.lock() {
                m.remove(did);
            }
            return Ok(None);
        };
        let key: Arc<str> = self.secret(did, generation).into();
        if let Ok(mut m) = self.keys.lock() {
            if m.len() > 200_000 {
                m.clear();
            }
            m.insert(did.to_owned(), (generation, key.clone()));
        }
        Ok(Some((generation, key)))
    }

    /// Rotates a device's secret (the platform, or the device's vendor): the old one stops
    /// working at once; the new one is shown this once.
    pub async fn rotate(&self, caller: &Caller, did: &str) -> Result<String> {
        caller.require(Range::Brand)?;
        self.device(caller, did).await?;
        let mut tx = self.store.begin_write().await?;
        let generation = store::rotate_key(&mut tx, did)
            .await?
            .ok_or(Error::NotFound(Entity::Device))?;
        tx.commit().await?;
        if let Ok(mut m) = self.keys.lock() {
            m.remove(did);
        }
        Ok(self.secret(did, generation))
    }

    async fn device(&self, caller: &Caller, did: &str) -> Result<Device> {
        let row = iot_store::device(self.store.pool(), did)
            .await?
            .map(Device::from);
        let shared = match (&row, caller.role) {
            (Some(d), Role::Member) => iot_store::shares_of(self.store.pool(), &d.did)
                .await?
                .contains(&caller.uid),
            _ => false,
        };
        super::visible(
            caller,
            row,
            Entity::Device,
            |d| (super::devices::place_of(d), d.deleted_at),
            shared,
        )
    }

    /// A product's terms (cached for ten seconds).
    async fn terms(&self, pid: Option<&str>) -> Result<Arc<ProductTerms>> {
        let Some(pid) = pid else {
            return Ok(Arc::default());
        };
        if let Some((at, t)) = self.terms.lock().ok().and_then(|m| m.get(pid).cloned())
            && at.elapsed() < Duration::from_secs(10)
        {
            return Ok(t);
        }
        let t = Arc::new(
            iot_store::product(&self.store, pid)
                .await?
                .map(|p| ProductTerms::of(&super::model::Product::from(p).doc))
                .unwrap_or_default(),
        );
        if let Ok(mut m) = self.terms.lock() {
            m.insert(pid.to_owned(), (Instant::now(), t.clone()));
        }
        Ok(t)
    }

    /// Checks a frame: its device, signature and message; dropped frames are counted.
    async fn verify(&self, m: &Inbound) -> Result<Option<Verified>> {
        let Some((did, channel)) = self.settings.topics.parse(&m.topic) else {
            self.metrics.drop_one(Dropped::UnknownDevice);
            return Ok(None);
        };
        if !matches!(channel, Channel::Up | Channel::Status) {
            return Ok(None);
        }
        if m.payload.len() > MAX_FRAME {
            self.metrics.drop_one(Dropped::Malformed);
            return Ok(None);
        }
        let Some((mut generation, key)) = self.key(did, false).await? else {
            self.metrics.drop_one(Dropped::UnknownDevice);
            return Ok(None);
        };
        let json = match protocol::open(&key, &m.topic, &m.payload) {
            Ok(json) => json,
            Err(Dropped::BadSignature) => {
                // Rotated elsewhere, maybe: read its generation again once.
                match self.key(did, true).await? {
                    Some((g, k)) if *k != *key => match protocol::open(&k, &m.topic, &m.payload) {
                        Ok(json) => {
                            generation = g;
                            json
                        }
                        Err(r) => {
                            self.metrics.drop_one(r);
                            return Ok(None);
                        }
                    },
                    _ => {
                        self.metrics.drop_one(Dropped::BadSignature);
                        return Ok(None);
                    }
                }
            }
            Err(r) => {
                self.metrics.drop_one(r);
                return Ok(None);
            }
        };
        let up = match Up::parse(json) {
            Ok(up) => up,
            Err(r) => {
                self.metrics.drop_one(r);
                return Ok(None);
            }
        };
        let fits = match channel {
            Channel::Status => matches!(up, Up::Online { .. } | Up::Offline { .. }),
            _ => !matches!(up, Up::Online { .. } | Up::Offline { .. }),
        };
        if !fits {
            self.metrics.drop_one(Dropped::Malformed);
            return Ok(None);
        }
        Ok(Some(Verified {
            did: did.to_owned(),
            generation,
            channel,
            up,
        }))
    }

    /// Applies what the broker delivered, in one transaction; returns once it is committed
    /// (the frames may then be acknowledged to the broker). A batch the database refuses is
    /// applied frame by frame, and a frame refused alone three times is dropped and counted.
    pub async fn receive(&self, batch: &[Inbound]) {
        let mut verified = Vec::with_capacity(batch.len());
        for m in batch {
            loop {
                match self.verify(m).await {
                    Ok(v) => {
                        verified.extend(v);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "iot: reading a device's key failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        if verified.is_empty() {
            return;
        }
        let mut attempts = 0u32;
        loop {
            match self.apply(&verified).await {
                Ok(after) => {
                    self.finish(after).await;
                    return;
                }
                Err(e) => {
                    attempts += 1;
                    tracing::warn!(error = %e, attempts, "iot: applying device messages failed");
                    if attempts >= 3 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempts))).await;
                }
            }
        }
        // Frame by frame: while the database is down nothing is dropped (nor acknowledged:
        // the broker keeps it); a frame refused three times while the database answers is
        // a poison frame, dropped and counted.
        for v in verified {
            let mut tries = 0;
            loop {
                match self.apply(std::slice::from_ref(&v)).await {
                    Ok(after) => {
                        self.finish(after).await;
                        break;
                    }
                    Err(e) if !self.store_answers().await => {
                        tracing::warn!(error = %e, "iot: the database is away; waiting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) if tries < 2 => {
                        tries += 1;
                        tracing::warn!(error = %e, did = %v.did, "iot: a device message failed");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, did = %v.did, "iot: a device message was dropped");
                        self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }

    /// Whether the database answers a trivial query.
    async fn store_answers(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    async fn apply(&self, verified: &[Verified]) -> Result<After> {
        let now = self.clock.now().millis();
        let mut after = After::default();
        let mut tx = self.store.begin_write().await?;
        let mut outcomes = Vec::with_capacity(verified.len());
        for v in verified {
            outcomes.push(self.apply_one(&mut tx, v, now, &mut after).await?);
        }
        tx.commit().await?;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for (v, outcome) in verified.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    self.metrics.accept(v.up.kind());
                    // `ts` is epoch seconds (the contract); milliseconds are taken too.
                    if let Up::Report { ts, .. } = &v.up
                        && *ts > 1_000_000_000
                    {
                        let ts_ms = if *ts > 1_000_000_000_000 {
                            *ts
                        } else {
                            ts.saturating_mul(1000)
                        };
                        self.metrics.lag((wall - ts_ms).max(0) as u64);
                    }
                }
                Err(r) => self.metrics.drop_one(r),
            }
        }
        Ok(after)
    }

    async fn apply_one(
        &self,
        tx: &mut crate::store::Conn,
        v: &Verified,
        now: i64,
        after: &mut After,
    ) -> Result<std::result::Result<(), Dropped>> {
        let Some(row) = store::link(&mut *tx, &v.did).await? else {
            return Ok(Err(Dropped::UnknownDevice));
        };
        if row.deleted_at.is_some() {
            return Ok(Err(Dropped::UnknownDevice));
        }
        if row.key_gen != v.generation {
            // Signed with a secret rotated away meanwhile (its counters started over).
            return Ok(Err(Dropped::BadSignature));
        }
        let seq = v.up.seq();
        // Each channel has its own counter: the will, signed at connect, is checked against
        // the `online` it came with, not against the reports sent since.
        let last = match v.channel {
            Channel::Status => row.status_seq,
            _ => row.up_seq,
        };
        if seq <= last {
            return Ok(Err(Dropped::Replay));
        }
        match &v.up {
            Up::Online { .. } => {
                if !store::take_seq(tx, &v.did, row.status_seq, seq, now, Some(true)).await? {
                    return Ok(Err(Dropped::Replay));
                }
                // What it must hold, sent again now that it is here.
                after.desired.push(v.did.clone());
            }
            Up::Offline { .. } => {
                if !store::take_seq(tx, &v.did, row.status_seq, seq, now, Some(false)).await? {
                    return Ok(Err(Dropped::Replay));
                }
            }
            Up::Report { report, .. } => {
                return self.apply_report(tx, &row, seq, report, now, after).await;
            }
            Up::Ack { cmd, .. } => {
                let Some(c) = store::command(&mut *tx, cmd).await? else {
                    return Ok(Err(Dropped::Absurd));
                };
                if c.did != v.did {
                    return Ok(Err(Dropped::Absurd));
                }
                if !store::take_seq(tx, &v.did, row.up_seq, seq, now, None).await? {
                    return Ok(Err(Dropped::Replay));
                }
                store::move_command(tx, cmd, &v.did, &["sent"], "acked", None, now).await?;
            }
            Up::Result {
                cmd,
                ok,
                dispensed_ml,
                error,
                ..
            } => {
                let Some(c) = store::command(&mut *tx, cmd).await? else {
                    return Ok(Err(Dropped::Absurd));
                };
                if c.did != v.did {
                    return Ok(Err(Dropped::Absurd));
                }
                let args: Value = serde_json::from_str(&c.args).unwrap_or(Value::Null);
                let asked = args.get("ml").and_then(Value::as_i64).unwrap_or(0);
                let dispensed = dispensed_ml.unwrap_or(0);
                if c.op == "dispense" && (dispensed > asked || (*ok && dispensed_ml.is_none())) {
                    return Ok(Err(Dropped::Absurd));
                }
                if !store::take_seq(tx, &v.did, row.up_seq, seq, now, None).await? {
                    return Ok(Err(Dropped::Replay));
                }
                let result = json!({
                    "ok": ok,
                    "dispensed_ml": dispensed_ml,
                    "error": error,
                });
                let to = if *ok { "done" } else { "failed" };
                let moved = store::move_command(
                    tx,
                    cmd,
                    &v.did,
                    &["sent", "acked"],
                    to,
                    Some(&result.to_string()),
                    now,
                )
                .await?;
                if moved && c.op == "dispense" {
                    self.settle_dispense(
                        tx,
                        &row,
                        &c,
                        &args,
                        if *ok { dispensed } else { dispensed.min(asked) },
                        now,
                    )
                    .await?;
                }
                if moved {
                    after.finished.push(cmd.clone());
                }
            }
        }
        Ok(Ok(()))
    }

    async fn apply_report(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        seq: i64,
        report: &Report,
        now: i64,
        after: &mut After,
    ) -> Result<std::result::Result<(), Dropped>> {
        let powered_s = (report.powered_h * 3600.0).round() as i64;
        let working_s = (report.working_h * 3600.0).round() as i64;
        let water = report.water_ml.kinds();
        let before = [row.normal_ml, row.cold_ml, row.warm_ml, row.hot_ml];
        if powered_s < row.powered_s
            || working_s < row.working_s
            || water.iter().zip(before).any(|(n, b)| *n < b)
        {
            return Ok(Err(Dropped::Absurd));
        }
        let mut errors: Vec<&str> = report.errors.iter().map(String::as_str).collect();
        errors.sort_unstable();
        errors.dedup();
        let errors_text = errors.join(" ");
        let running = json!({
            "power": report.power,
            "working": report.working,
            "locked": report.locked,
            "errors": errors,
            "lbs_coord": report.lbs.clone().unwrap_or_default(),
            "tds_in": report.tds_in,
            "tds_out": report.tds_out,
        })
        .to_string();
        let mut kinds = serde_json::Map::new();
        for (k, v) in WATER_KINDS.iter().zip(water) {
            kinds.insert((*k).into(), json!(v));
        }
        let statistics = json!({
            "powered_h": report.powered_h,
            "working_h": report.working_h,
            "water_ml": kinds,
            "water_total_ml": report.water_ml.total(),
        })
        .to_string();
        let reported = Reported {
            seq,
            now,
            powered_s,
            working_s,
            water,
            errors: &errors_text,
            running: &running,
            statistics: &statistics,
        };
        if !store::apply_report(tx, &row.did, row.up_seq, &reported).await? {
            return Ok(Err(Dropped::Replay));
        }
        store::insert_report(tx, &row.did, &reported, (report.tds_in, report.tds_out)).await?;
        if errors_text != row.errors || !errors.is_empty() {
            self.faults(tx, row, &errors, now).await?;
        }
        let terms = self.terms(row.product_id.as_deref()).await?;
        if !terms.filters.is_empty() {
            self.filters_on_report(tx, row, &terms, powered_s, working_s, now)
                .await?;
        }
        if row.dtype == METERED_RENTAL {
            let total: i64 = water.iter().sum();
            self.meter_water(tx, row, &terms, total, now, after).await?;
        }
        Ok(Ok(()))
    }

    /// Opens a fault ticket for each code newly reported; forgets the codes that cleared.
    async fn faults(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        errors: &[&str],
        now: i64,
    ) -> Result<()> {
        let open = store::faults(&mut *tx, &row.did).await?;
        for (code, _) in &open {
            if !errors.contains(&code.as_str()) {
                store::close_fault(tx, &row.did, code).await?;
            }
        }
        for code in errors {
            if open.iter().any(|(c, _)| c == code) {
                continue;
            }
            let tid = self.ticket_id(tx, row).await?;
            // The fault first: a code already open (however it got there) opens nothing.
            if store::open_fault(tx, &row.did, code, &tid, now).await? {
                self.open_ticket(
                    tx,
                    row,
                    &tid,
                    FAULT,
                    format!("故障 {code} (设备自检上报)"),
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The id of a new ticket about a device.
    async fn ticket_id(&self, tx: &mut crate::store::Conn, row: &LinkRow) -> Result<String> {
        let code = self.shared.vendor_code(Some(&row.vid)).await?;
        self.shared.id(tx, &code, "ticket").await
    }

    /// An automatic ticket about a device, for its member (if bound), in its vendor's range.
    async fn open_ticket(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        tid: &str,
        ttype: i64,
        detail: String,
        now: i64,
    ) -> Result<()> {
        let t = Ticket {
            tid: tid.to_owned(),
            vid: row.vid.clone(),
            agent: row.agent.clone(),
            dealer: row.dealer.clone(),
            uid: row.uid.clone(),
            device_id: Some(row.did.clone()),
            order_id: None,
            ttype,
            status: CREATED,
            detail,
            appoint_at: None,
            handler: None,
            approval: None,
            ratings: None,
            created_at: now,
            updated_at: now,
        };
        iot_store::insert_ticket(tx, &TicketRow::from(&t)).await?;
        Ok(())
    }

    async fn filters_on_report(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        terms: &ProductTerms,
        powered_s: i64,
        working_s: i64,
        now: i64,
    ) -> Result<()> {
        let mut rows = store::filters(&mut *tx, &row.did).await?;
        for spec in &terms.filters {
            let f = match rows.iter().position(|r| r.ord == spec.order) {
                Some(i) => rows.swap_remove(i),
                None => {
                    // Fitted at the factory: its first cycle counts from zero.
                    let f = FilterRow {
                        did: row.did.clone(),
                        ord: spec.order,
                        cycle: 0,
                        base_powered_s: 0,
                        base_working_s: 0,
                        reset_at: now,
                        ticket: None,
                    };
                    store::insert_filter(tx, &f).await?;
                    f
                }
            };
            if f.ticket.is_some() {
                continue;
            }
            let life = filter_life(spec, &f, powered_s, working_s);
            let tid = if life.expired {
                self.ticket_id(tx, row).await?
            } else {
                continue;
            };
            // The filter's cycle takes the ticket first: one ticket per cycle, whatever else
            // names the same filter.
            if store::set_filter_ticket(tx, &row.did, f.ord, f.cycle, &tid).await? {
                self.open_ticket(
                    tx,
                    row,
                    &tid,
                    MAINTAIN,
                    format!(
                        "滤芯到期: 第{}级 {} (第{}次更换), 请上门更换",
                        spec.order,
                        spec.name,
                        f.cycle + 1
                    ),
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A device's filters and their life.
    pub async fn filters(&self, caller: &Caller, did: &str) -> Result<Vec<FilterLife>> {
        caller.require(Range::Anyone)?;
        let d = self.device(caller, did).await?;
        let terms = self.terms(d.product_id.as_deref()).await?;
        let link = store::link(self.store.pool(), did)
            .await?
            .ok_or(Error::NotFound(Entity::Device))?;
        let rows = store::filters(self.store.pool(), did).await?;
        Ok(terms
            .filters
            .iter()
            .map(|spec| {
                let row = rows
                    .iter()
                    .find(|r| r.ord == spec.order)
                    .cloned()
                    .unwrap_or(FilterRow {
                        did: did.to_owned(),
                        ord: spec.order,
                        cycle: 0,
                        base_powered_s: 0,
                        base_working_s: 0,
                        reset_at: 0,
                        ticket: None,
                    });
                filter_life(spec, &row, link.powered_s, link.working_s)
            })
            .collect())
    }

    /// A maintenance ticket was done: its filter starts its next cycle from the device's
    /// counters now, and the device is told.
    pub async fn ticket_done(&self, tid: &str) -> Result<()> {
        let Some(f) = store::filter_of_ticket(self.store.pool(), tid).await? else {
            return Ok(());
        };
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let Some(link) = store::link(&mut *tx, &f.did).await? else {
            return Ok(());
        };
        if !store::next_filter_cycle(&mut tx, &f, link.powered_s, link.working_s, now).await? {
            return Ok(());
        }
        let cmd = self
            .new_command(
                &mut tx,
                &f.did,
                "reset_filter",
                json!({"order": f.ord, "cycle": f.cycle + 1}),
                None,
                now,
            )
            .await?;
        tx.commit().await?;
        self.send(&cmd).await;
        self.publish_desired(&f.did).await;
        Ok(())
    }

    /// Charges a metered rental's water since the last charge, at its product's price.
    async fn meter_water(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        terms: &ProductTerms,
        total_ml: i64,
        now: i64,
        after: &mut After,
    ) -> Result<()> {
        let Some(price) = terms.price_per_l else {
            return Ok(());
        };
        if row.billed_ml < 0 {
            // First heard as a metered rental: its water from before is not the renter's.
            store::set_device_balance(tx, &row.did, 0, Some(total_ml), None).await?;
            return Ok(());
        }
        // Whole fen of the water up to now less those of the water billed before: exact over
        // any number of reports, the part of a fen not yet reached waits for the next one.
        let fen_of = |ml: i64| (i128::from(ml) * i128::from(price.0) / 1000) as i64;
        let fen = fen_of(total_ml) - fen_of(row.billed_ml);
        if fen <= 0 {
            return Ok(());
        }
        let billed_ml = total_ml;
        let charge = Self::prepaid_charge(
            row,
            format!("iot-water:{}:{}", row.did, billed_ml),
            "metered_water",
            -fen,
            billed_ml - row.billed_ml,
            format!("{}..{} ml", row.billed_ml, billed_ml),
            now,
        );
        if !self.charge(tx, &charge, &row.did).await? {
            return Ok(());
        }
        store::set_device_balance(
            tx,
            &row.did,
            -fen,
            Some(billed_ml),
            Some((row.period_start.unwrap_or(now), row.period_used + fen)),
        )
        .await?;
        if row.balance - fen <= 0
            && row.lock_reason.is_empty()
            && store::set_lock(tx, &row.did, LOCK_BALANCE).await?
        {
            let c = self
                .new_command(
                    tx,
                    &row.did,
                    "lock",
                    json!({"reason": LOCK_BALANCE}),
                    None,
                    now,
                )
                .await?;
            after.commands.push((c.cid, c.did, c.op, c.args));
            after.desired.push(row.did.clone());
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn journal(
        &self,
        tx: &mut crate::store::Conn,
        key: &str,
        kind: &str,
        account: &str,
        amount: i64,
        reference: &str,
        now: i64,
    ) -> Result<()> {
        crate::store::ledger::append(
            &mut *tx,
            &crate::store::ledger::EntryRow {
                entry_key: key.to_owned(),
                kind: kind.to_owned(),
                account: account.to_owned(),
                amount,
                reference: reference.to_owned(),
                external_id: None,
                created_at: now,
            },
        )
        .await?;
        Ok(())
    }

    /// After a commit: sends what the batch decided and wakes who waits for a result.
    async fn finish(&self, after: After) {
        for (cid, did, op, args) in after.commands {
            self.send(&Command {
                cid,
                did,
                op,
                args,
                state: "sent".into(),
                result: Value::Null,
                by: None,
                created_at: 0,
                acked_at: None,
                done_at: None,
            })
            .await;
        }
        let mut desired = after.desired;
        desired.sort();
        desired.dedup();
        for did in desired {
            self.publish_desired(&did).await;
        }
        if let Ok(mut w) = self.waiters.lock() {
            for cid in after.finished {
                if let Some(tx) = w.remove(&cid) {
                    let _ = tx.send(());
                }
            }
        }
    }

    /// Records a command (sent when the caller commits).
    async fn new_command(
        &self,
        tx: &mut crate::store::Conn,
        did: &str,
        op: &str,
        args: Value,
        by: Option<&str>,
        now: i64,
    ) -> Result<Command> {
        // Ordered by its making (time, then this process's count), unguessable after that.
        static MADE: AtomicU64 = AtomicU64::new(0);
        let made = MADE.fetch_add(1, Ordering::Relaxed) & 0xff_ffff;
        let row = CommandRow {
            cid: format!("{now:012x}{made:06x}{}", &ids::random_hex_id()[..14]),
            did: did.to_owned(),
            op: op.to_owned(),
            args: args.to_string(),
            state: "sent".into(),
            result: None,
            by_uid: by.map(str::to_owned),
            created_at: now,
            deadline: now + self.settings.command_timeout_secs as i64 * 1000,
            acked_at: None,
            done_at: None,
        };
        store::insert_command(tx, &row).await?;
        Ok(Command::from(row))
    }

    /// Sends a recorded command to its device.
    async fn send(&self, c: &Command) {
        let Some(link) = self.downlink.get() else {
            return;
        };
        let Ok(Some((_, key))) = self.key(&c.did, false).await else {
            return;
        };
        let seq = match self.down_seq(&c.did).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "iot: no downlink seq");
                return;
            }
        };
        let down = Down::Cmd {
            seq,
            ts: self.clock.now().millis(),
            expires: c.created_at + self.settings.command_timeout_secs as i64 * 1000,
            cmd: c.cid.clone(),
            op: c.op.clone(),
            args: c.args.clone(),
        };
        let topic = self.settings.topics.down(&c.did);
        let json = serde_json::to_string(&down).unwrap_or_default();
        link.publish(topic.clone(), protocol::frame(&key, &topic, &json), false);
    }

    async fn down_seq(&self, did: &str) -> Result<i64> {
        let mut tx = self.store.begin_write().await?;
        let seq = store::next_down_seq(&mut tx, did).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Publishes (retained) the state a device must hold: locked or not, its filters' cycles.
    /// Its `seq` is taken in the transaction that reads that state, so a later `seq` never
    /// carries an older state.
    pub async fn publish_desired(&self, did: &str) {
        let Some(link) = self.downlink.get() else {
            return;
        };
        let Ok(Some((_, key))) = self.key(did, false).await else {
            return;
        };
        let state = async {
            let mut tx = self.store.begin_write().await?;
            let seq = store::next_down_seq(&mut tx, did).await?;
            let row = store::link(&mut *tx, did).await?;
            let filters = store::filters(&mut *tx, did).await?;
            tx.commit().await?;
            Ok::<_, Error>((seq, row, filters))
        }
        .await;
        let (seq, row, filters) = match state {
            Ok((seq, Some(row), filters)) => (seq, row, filters),
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, did, "iot: the desired state could not be read");
                return;
            }
        };
        let down = Down::Desired {
            seq,
            locked: !row.lock_reason.is_empty(),
            filters: filters
                .iter()
                .map(|f| FilterCycle {
                    order: f.ord,
                    cycle: f.cycle,
                })
                .collect(),
        };
        let topic = self.settings.topics.desired(did);
        let json = serde_json::to_string(&down).unwrap_or_default();
        link.publish(topic.clone(), protocol::frame(&key, &topic, &json), true);
    }

    /// An operator's command to a device in range: lock, unlock, reboot, reset a filter. The
    /// device must be online; the command is in its log at once.
    pub async fn command(
        &self,
        caller: &Caller,
        did: &str,
        op: &str,
        args: Value,
    ) -> Result<Command> {
        caller.require(Range::Admin)?;
        self.device(caller, did).await?;
        if !OPERATOR_OPS.contains(&op) {
            return Err(Error::invalid(
                "op",
                format!("op is one of {}", OPERATOR_OPS.join(", ")),
            ));
        }
        if op == "reset_filter" && args.get("order").and_then(Value::as_i64).is_none() {
            return Err(Error::invalid("args", "reset_filter needs args.order"));
        }
        self.require_link()?;
        let link = store::link(self.store.pool(), did)
            .await?
            .ok_or(Error::NotFound(Entity::Device))?;
        if link.online == 0 {
            return Err(Error::State(format!("device {did} is offline")));
        }
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let lock_changed = match op {
            "lock" => store::set_lock(&mut tx, did, LOCK_OPERATOR).await?,
            "unlock" => store::set_lock(&mut tx, did, "").await?,
            _ => false,
        };
        let c = self
            .new_command(&mut tx, did, op, args, Some(&caller.uid), now)
            .await?;
        tx.commit().await?;
        self.send(&c).await;
        if lock_changed {
            self.publish_desired(did).await;
        }
        Ok(c)
    }

    fn require_link(&self) -> Result<()> {
        if self.downlink.get().is_none() {
            return Err(Error::State(
                "the device link is off on this server (iot.embedded_broker = off, no iot.mqtt_url)"
                    .into(),
            ));
        }
        if self.connected_since().is_none() {
            return Err(Error::State(
                "the device link is down (the broker cannot be reached); try again shortly".into(),
            ));
        }
        Ok(())
    }

    /// A device's command log, newest first (the platform, its vendor, agent and dealer).
    pub async fn commands(
        &self,
        caller: &Caller,
        did: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Command>, i64)> {
        caller.require(Range::Admin)?;
        self.device(caller, did).await?;
        let (rows, total) = store::commands_of(self.store.pool(), did, limit, offset).await?;
        Ok((rows.into_iter().map(Command::from).collect(), total))
    }

    /// A device's reports in `[from, to)` (milliseconds), newest first.
    pub async fn history(
        &self,
        caller: &Caller,
        did: &str,
        from: i64,
        to: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<HistoryRow>, i64)> {
        caller.require(Range::Anyone)?;
        self.device(caller, did).await?;
        Ok(store::history(self.store.pool(), did, from, to, limit, offset).await?)
    }

    /// A device's rental state: type, prepaid balance, billed water, end, lock.
    pub async fn balance(&self, caller: &Caller, did: &str) -> Result<LinkRow> {
        caller.require(Range::Anyone)?;
        self.device(caller, did).await?;
        store::link(self.store.pool(), did)
            .await?
            .ok_or(Error::NotFound(Entity::Device))
    }

    /// A member's water balance (fen): the member, or the admin side in range.
    pub async fn wallet(&self, caller: &Caller, uid: &str) -> Result<i64> {
        caller.require(Range::Anyone)?;
        self.shared.member(caller, uid).await?;
        Ok(store::wallet(self.store.pool(), uid).await?)
    }

    /// Water on demand: a member asks a vending or rented device (its id from its QR code)
    /// for a volume or an amount. The device must be online and unlocked and the member able
    /// to pay; what it reports it dispensed is charged, once. No answer in time: nothing is.
    pub async fn dispense(
        &self,
        caller: &Caller,
        did: &str,
        ask: Ask,
        kind: &str,
    ) -> Result<Dispensed> {
        caller.require(Range::Member)?;
        let member = self.shared.member(caller, &caller.uid).await?;
        let d = iot_store::device(self.store.pool(), did)
            .await?
            .map(Device::from)
            .filter(|d| d.deleted_at.is_none() && Some(d.vid.as_str()) == member.vid.as_deref())
            .ok_or(Error::NotFound(Entity::Device))?;
        if !WATER_KINDS.contains(&kind) {
            return Err(Error::invalid("kind", "kind is normal, cold, warm or hot"));
        }
        let vending = d.dtype == VENDING;
        if !vending {
            let mine = d.uid.as_deref() == Some(caller.uid.as_str())
                || iot_store::shares_of(self.store.pool(), did)
                    .await?
                    .contains(&caller.uid);
            if !matches!(d.dtype, TIMED_RENTAL | METERED_RENTAL) {
                return Err(Error::State(format!(
                    "device {did} is not a vending or rental device"
                )));
            }
            if !mine {
                return Err(Error::NotFound(Entity::Device));
            }
        }
        let terms = self.terms(d.product_id.as_deref()).await?;
        let price = terms.price_per_l;
        let ml = match ask {
            Ask::Ml(ml) => ml,
            Ask::Amount(fen) => match price {
                Some(p) => fen.0 * 1000 / p.0,
                None => {
                    return Err(Error::invalid(
                        "amount",
                        "this device's water has no price: ask for ml",
                    ));
                }
            },
        };
        if !(1..=MAX_DISPENSE_ML).contains(&ml) {
            return Err(Error::invalid(
                "ml",
                format!("a dispense is 1 to {MAX_DISPENSE_ML} ml"),
            ));
        }
        self.require_link()?;
        let link = store::link(self.store.pool(), did)
            .await?
            .ok_or(Error::NotFound(Entity::Device))?;
        if link.online == 0 {
            return Err(Error::State(format!("device {did} is offline")));
        }
        if !link.lock_reason.is_empty() {
            return Err(Error::State(format!(
                "device {did} is locked ({})",
                link.lock_reason
            )));
        }
        let hold = if vending {
            let Some(p) = price else {
                return Err(Error::State(format!("device {did}'s water has no price")));
            };
            // Rounded up: the hold covers the whole volume asked.
            (ml * p.0 + 999) / 1000
        } else {
            0
        };
        if link.dtype == METERED_RENTAL && link.balance <= 0 {
            return Err(Error::State(format!(
                "device {did}'s prepaid balance is used up"
            )));
        }
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        if hold > 0 && !store::add_to_wallet(&mut tx, &caller.uid, -hold).await? {
            return Err(Error::State(format!(
                "your water balance is short of the {} yuan this costs",
                super::money_json(Fen(hold))
            )));
        }
        let args = json!({
            "ml": ml,
            "kind": kind,
            "hold": hold,
            "price_per_l": price.map_or(0, |p| p.0),
            "uid": caller.uid,
        });
        let c = self
            .new_command(&mut tx, did, "dispense", args, Some(&caller.uid), now)
            .await?;
        tx.commit().await?;
        let (wake, woken) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(c.cid.clone(), wake);
        }
        self.send(&c).await;
        let wait = Duration::from_secs(self.settings.command_timeout_secs + 10);
        let _ = tokio::time::timeout(wait, woken).await;
        if let Ok(mut w) = self.waiters.lock() {
            w.remove(&c.cid);
        }
        // Done, or given up on here: whichever comes first decides, once.
        self.expire_command(&c.cid).await?;
        let done = store::command(self.store.pool(), &c.cid)
            .await?
            .map(Command::from)
            .ok_or(Error::NotFound(Entity::Other))?;
        match done.state.as_str() {
            "done" | "failed" => {
                let dispensed = done
                    .result
                    .get("dispensed_ml")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let charged = if vending {
                    price.map_or(0, |p| charge_of(dispensed, p))
                } else {
                    0
                };
                if done.state == "failed" && dispensed == 0 {
                    let why = done
                        .result
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given")
                        .to_owned();
                    return Err(Error::State(format!(
                        "device {did} could not dispense ({why}); nothing was charged"
                    )));
                }
                Ok(Dispensed {
                    cid: c.cid,
                    asked_ml: ml,
                    dispensed_ml: dispensed,
                    charged: Fen(charged),
                })
            }
            _ => Err(Error::State(format!(
                "device {did} did not answer in time; nothing was charged"
            ))),
        }
    }

    /// Charges a dispense's water (a vending machine's, from the member's balance: the hold
    /// taken at the ask goes back but for what came out).
    async fn settle_dispense(
        &self,
        tx: &mut crate::store::Conn,
        row: &LinkRow,
        c: &CommandRow,
        args: &Value,
        dispensed: i64,
        now: i64,
    ) -> Result<()> {
        let hold = args.get("hold").and_then(Value::as_i64).unwrap_or(0);
        let price = args.get("price_per_l").and_then(Value::as_i64).unwrap_or(0);
        let Some(uid) = args.get("uid").and_then(Value::as_str) else {
            return Ok(());
        };
        if hold == 0 || price == 0 {
            return Ok(());
        }
        let cost = charge_of(dispensed, Fen(price)).min(hold);
        store::add_to_wallet(tx, uid, hold - cost).await?;
        if cost == 0 {
            return Ok(());
        }
        let charge = store::ChargeRow {
            entry_key: format!("iot-dispense:{}", c.cid),
            kind: "dispense".into(),
            account: wallet_account(uid),
            vid: row.vid.clone(),
            did: Some(row.did.clone()),
            uid: Some(uid.to_owned()),
            amount: -cost,
            ml: dispensed,
            reference: c.cid.clone(),
            created_at: now,
        };
        self.charge(tx, &charge, &c.cid).await?;
        Ok(())
    }

    /// Times a command out if it is still waiting (and gives a dispense's hold back).
    async fn expire_command(&self, cid: &str) -> Result<bool> {
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let Some(c) = store::command(&mut *tx, cid).await? else {
            return Ok(false);
        };
        if !store::move_command(
            &mut tx,
            cid,
            &c.did,
            &["sent", "acked"],
            "timeout",
            None,
            now,
        )
        .await?
        {
            return Ok(false);
        }
        if c.op == "dispense" {
            let args: Value = serde_json::from_str(&c.args).unwrap_or(Value::Null);
            let hold = args.get("hold").and_then(Value::as_i64).unwrap_or(0);
            if let (Some(uid), true) = (args.get("uid").and_then(Value::as_str), hold > 0) {
                store::add_to_wallet(&mut tx, uid, hold).await?;
            }
        }
        tx.commit().await?;
        // Whoever waits for it (a dispense) hears at once.
        if let Some(wake) = self.waiters.lock().ok().and_then(|mut w| w.remove(cid)) {
            let _ = wake.send(());
        }
        Ok(true)
    }

    /// The periodic watch: devices silent for two heartbeat intervals go offline; commands
    /// unacknowledged past their deadline (or acknowledged and without a result 10 s
    /// later) time out.
    pub async fn watch(&self) -> Result<()> {
        let now = self.clock.now().millis();
        let heartbeat = self.settings.heartbeat_secs as i64 * 1000;
        // Silence is the devices' only while the server hears the broker: not while it is
        // down, nor in the heartbeat after it comes back (the devices are reconnecting).
        if self
            .connected_since()
            .is_some_and(|since| since + heartbeat <= now)
        {
            let gone = store::mark_silent(self.store.pool(), now - 2 * heartbeat, now).await?;
            if !gone.is_empty() {
                tracing::info!(devices = gone.len(), "iot: devices went silent");
            }
        }
        // Maintenance tickets closed since the last look (a done one whose filter did not move
        // on when it was done, a rejected one whose filter must be asked for again).
        for (tid, status) in store::closed_filter_tickets(
            self.store.pool(),
            super::tickets::DONE,
            super::tickets::REJECTED,
        )
        .await?
        {
            if status == super::tickets::DONE {
                self.ticket_done(&tid).await?;
            } else {
                let mut tx = self.store.begin_write().await?;
                store::forget_filter_ticket(&mut tx, &tid).await?;
                tx.commit().await?;
            }
        }
        let due = store::due_commands(self.store.pool(), now, now - 10_000).await?;
        for cid in due {
            self.expire_command(&cid).await?;
        }
        self.metrics.online.store(
            store::online_count(self.store.pool()).await?.max(0) as u64,
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// The sweep of metered rentals: a device locked for its balance is unlocked once topped
    /// up; at the end of each period, what a bound device used short of the product's minimum
    /// is charged, once. Each device is read again in the transaction that changes it.
    pub async fn sweep_metered(&self) -> Result<()> {
        let now = self.clock.now().millis();
        let period = self.settings.min_period_days as i64 * 86_400_000;
        for seen in store::links_of_type(self.store.pool(), METERED_RENTAL).await? {
            let due = seen.period_start.is_some_and(|s| s + period <= now);
            let lock = seen.balance <= 0 && seen.lock_reason.is_empty() && seen.billed_ml >= 0;
            let unlock = seen.balance > 0 && seen.lock_reason == LOCK_BALANCE;
            if !(due || lock || unlock) {
                continue;
            }
            let terms = self.terms(seen.product_id.as_deref()).await?;
            let mut tx = self.store.begin_write().await?;
            let Some(row) = store::link(&mut *tx, &seen.did).await? else {
                continue;
            };
            let mut balance = row.balance;
            if let Some(start) = row.period_start
                && start + period <= now
            {
                let short = match (terms.minimum, &row.uid) {
                    (Some(minimum), Some(_)) => (minimum.0 - row.period_used).max(0),
                    _ => 0,
                };
                let key = format!("iot-minimum:{}:{start}", row.did);
                let reference = format!(
                    "保底消费 {}",
                    crate::domain::Timestamp::from_millis(start)
                        .rfc3339_local(self.shared.settings.zone)
                );
                let charge = Self::prepaid_charge(&row, key, "minimum", -short, 0, reference, now);
                let charged = short > 0 && self.charge(&mut tx, &charge, &row.did).await?;
                if charged {
                    balance -= short;
                }
                store::set_device_balance(
                    &mut tx,
                    &row.did,
                    if charged { -short } else { 0 },
                    None,
                    Some((start + period, 0)),
                )
                .await?;
            }
            let mut cmd = None;
            if balance <= 0
                && row.lock_reason.is_empty()
                && row.billed_ml >= 0
                && store::set_lock(&mut tx, &row.did, LOCK_BALANCE).await?
            {
                cmd = Some(
                    self.new_command(
                        &mut tx,
                        &row.did,
                        "lock",
                        json!({"reason": LOCK_BALANCE}),
                        None,
                        now,
                    )
                    .await?,
                );
            } else if balance > 0
                && row.lock_reason == LOCK_BALANCE
                && store::set_lock(&mut tx, &row.did, "").await?
            {
                cmd = Some(
                    self.new_command(
                        &mut tx,
                        &row.did,
                        "unlock",
                        json!({"reason": "topped up"}),
                        None,
                        now,
                    )
                    .await?,
                );
            }
            tx.commit().await?;
            if let Some(c) = cmd {
                self.send(&c).await;
                self.publish_desired(&row.did).await;
            }
        }
        Ok(())
    }

    /// Records a charge (a negative amount) of a prepaid balance, with the vendor's sale, in
    /// the journal under `c.entry_key` (`journal_ref` its reference there): false when that
    /// key was charged before.
    async fn charge(
        &self,
        tx: &mut crate::store::Conn,
        c: &store::ChargeRow,
        journal_ref: &str,
    ) -> Result<bool> {
        let recorded = store::insert_charge(tx, c).await?;
        if recorded {
            let kind = format!("iot_{}", c.kind);
            let (key, now) = (c.entry_key.as_str(), c.created_at);
            self.journal(tx, key, &kind, &c.account, c.amount, journal_ref, now)
                .await?;
            self.journal(
                tx,
                &format!("{key}:sale"),
                &kind,
                &water_sales_account(&c.vid),
                -c.amount,
                journal_ref,
                now,
            )
            .await?;
        }
        Ok(recorded)
    }

    /// A charge of a device's prepaid balance.
    fn prepaid_charge(
        row: &LinkRow,
        key: String,
        kind: &str,
        amount: i64,
        ml: i64,
        reference: String,
        now: i64,
    ) -> store::ChargeRow {
        store::ChargeRow {
            entry_key: key,
            kind: kind.to_owned(),
            account: prepaid_account(&row.did),
            vid: row.vid.clone(),
            did: Some(row.did.clone()),
            uid: row.uid.clone(),
            amount,
            ml,
            reference,
            created_at: now,
        }
    }

    /// The sweep of rentals: timed rentals past their end are locked, and after the grace
    /// a removal ticket opens (once per expiry); renewed ones are unlocked.
    pub async fn sweep_rentals(&self) -> Result<()> {
        let now = self.clock.now().millis();
        let grace = self.settings.rent_grace_days as i64 * 86_400_000;
        for seen in store::links_of_type(self.store.pool(), TIMED_RENTAL).await? {
            let Some(until) = seen.rent_until else {
                continue;
            };
            let lock = until <= now && seen.lock_reason.is_empty();
            let unlock = until > now && seen.lock_reason == LOCK_RENT;
            let removal = until + grace <= now && seen.removal_for != Some(until);
            if !(lock || unlock || removal) {
                continue;
            }
            let mut tx = self.store.begin_write().await?;
            let Some(row) = store::link(&mut *tx, &seen.did).await? else {
                continue;
            };
            if row.rent_until != Some(until) {
                // Renewed meanwhile: the next sweep sees it.
                continue;
            }
            let mut cmd = None;
            if until <= now
                && row.lock_reason.is_empty()
                && store::set_lock(&mut tx, &row.did, LOCK_RENT).await?
            {
                cmd = Some(
                    self.new_command(
                        &mut tx,
                        &row.did,
                        "lock",
                        json!({"reason": LOCK_RENT}),
                        None,
                        now,
                    )
                    .await?,
                );
            } else if until > now
                && row.lock_reason == LOCK_RENT
                && store::set_lock(&mut tx, &row.did, "").await?
            {
                cmd = Some(
                    self.new_command(
                        &mut tx,
                        &row.did,
                        "unlock",
                        json!({"reason": "renewed"}),
                        None,
                        now,
                    )
                    .await?,
                );
            }
            if until + grace <= now && store::set_removal_for(&mut tx, &row.did, until).await? {
                let tid = self.ticket_id(&mut tx, &row).await?;
                self.open_ticket(
                    &mut tx,
                    &row,
                    &tid,
                    DISMANTLE,
                    format!(
                        "租期已于 {} 到期, 宽限期 {} 天内未续费, 请上门拆机",
                        crate::domain::Timestamp::from_millis(until)
                            .rfc3339_local(self.shared.settings.zone),
                        self.settings.rent_grace_days
                    ),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            if let Some(c) = cmd {
                self.send(&c).await;
                self.publish_desired(&row.did).await;
            }
        }
        Ok(())
    }
}

/// What a paid rent plan does to a device: a timed rental runs `days` longer; a metered
/// rental's prepaid balance, or a vending member's water balance, gets `credit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub key: String,
    pub days: Option<i64>,
    pub credit: Fen,
}

impl Plan {
    /// The plan `key` of a product, bought `quantity` times; its days read from the key
    /// (`30d`, `12m` = 360 days, `1y` = 365 days) or its name (`30天`).
    pub fn of(doc: &serde_json::Map<String, Value>, key: &str, quantity: i64) -> Option<Plan> {
        let plan = doc
            .get("rent")?
            .get("config")?
            .as_array()?
            .iter()
            .find(|p| p.get("key").and_then(Value::as_str) == Some(key))?;
        let value = plan.get("value").and_then(money_of).unwrap_or(Fen(0));
        let days_of = |s: &str| -> Option<i64> {
            let s = s.trim();
            let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
            let n: i64 = n.parse().ok()?;
            match unit {
                "d" | "天" => Some(n),
                "m" | "个月" | "月" => Some(n * 30),
                "y" | "年" => Some(n * 365),
                _ => None,
            }
        };
        let days =
            days_of(key).or_else(|| plan.get("name").and_then(Value::as_str).and_then(days_of));
        Some(Plan {
            key: key.to_owned(),
            days: days.map(|d| d * quantity),
            credit: Fen(value.0 * quantity),
        })
    }
}

/// Applies a paid rent plan, in the payment's transaction: a timed rental's end moves on
/// (from now if it had passed), a metered rental's balance or a vending member's water
/// balance is credited, under a journal key of the order and device (applied once).
pub async fn paid_plan(
    tx: &mut crate::store::Conn,
    order: &super::model::Order,
    line: usize,
    did: &str,
    plan: &Plan,
    now: i64,
) -> Result<()> {
    let Some(device) = iot_store::device(&mut *tx, did).await? else {
        return Ok(());
    };
    let Some(link) = store::link(&mut *tx, did).await? else {
        return Ok(());
    };
    let key = format!("iot-plan:{}:{line}", order.oid);
    match link.dtype {
        TIMED_RENTAL => {
            let Some(days) = plan.days else {
                return Ok(());
            };
            let from = link.rent_until.unwrap_or(now).max(now);
            let until = from + days * 86_400_000;
            let mut service = super::model::Device::from(device).service;
            service.insert("state".into(), json!(1));
            service.insert("expire".into(), json!(until));
            store::set_rent_until(tx, did, until, &super::model::text(&service)).await?;
        }
        METERED_RENTAL | VENDING => {
            if plan.credit.0 <= 0 {
                return Ok(());
            }
            let account = if link.dtype == METERED_RENTAL {
                prepaid_account(did)
            } else {
                wallet_account(&order.uid)
            };
            let recorded = store::insert_charge(
                tx,
                &store::ChargeRow {
                    entry_key: key.clone(),
                    kind: "credit".into(),
                    account: account.clone(),
                    vid: link.vid.clone(),
                    did: Some(did.to_owned()),
                    uid: Some(order.uid.clone()),
                    amount: plan.credit.0,
                    ml: 0,
                    reference: order.oid.clone(),
                    created_at: now,
                },
            )
            .await?;
            if !recorded {
                return Ok(());
            }
            crate::store::ledger::append(
                &mut *tx,
                &crate::store::ledger::EntryRow {
                    entry_key: key,
                    kind: "iot_prepaid_credit".into(),
                    account,
                    amount: plan.credit.0,
                    reference: order.oid.clone(),
                    external_id: None,
                    created_at: now,
                },
            )
            .await?;
            if link.dtype == METERED_RENTAL {
                let period = link.period_start.is_none().then_some((now, 0));
                store::set_device_balance(tx, did, plan.credit.0, None, period).await?;
            } else {
                store::add_to_wallet(tx, &order.uid, plan.credit.0).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What `ml` of water costs at `price` per litre, in whole fen (rounded half up).
pub fn charge_of(ml: i64, price: Fen) -> i64 {
    (ml * price.0 + 500) / 1000
}

/// The journal account of a metered rental's prepaid balance.
pub fn prepaid_account(did: &str) -> String {
    format!("iot-prepaid:{did}")
}

/// The journal account of a member's water balance (vending).
pub fn wallet_account(uid: &str) -> String {
    format!("iot-water:{uid}")
}

/// The journal account of a vendor's water sales.
pub fn water_sales_account(vid: &str) -> String {
    format!("iot-water-sales:{vid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: i64) -> FilterSpec {
        FilterSpec {
            order: 1,
            name: "PPC".into(),
            timer_mode: mode,
            lifetime_h: 100,
            worklife_h: 10,
        }
    }

    fn row() -> FilterRow {
        FilterRow {
            did: "D".into(),
            ord: 1,
            cycle: 0,
            base_powered_s: 0,
            base_working_s: 0,
            reset_at: 0,
            ticket: None,
        }
    }

    #[test]
    fn filter_life_follows_its_timer_mode() {
        // 50 powered hours, 10 working hours: the working clock is spent.
        let both = filter_life(&spec(0), &row(), 50 * 3600, 10 * 3600);
        assert!(both.expired);
        assert_eq!(both.remaining_h, 0.0);
        let powered = filter_life(&spec(1), &row(), 50 * 3600, 10 * 3600);
        assert!(!powered.expired);
        assert_eq!(powered.remaining_h, 50.0);
        assert_eq!(powered.remaining_pct, 50.0);
        let working = filter_life(&spec(2), &row(), 50 * 3600, 10 * 3600);
        assert!(working.expired);
        // A new cycle counts from where it started.
        let mut next = row();
        next.base_working_s = 10 * 3600;
        next.base_powered_s = 50 * 3600;
        assert!(!filter_life(&spec(0), &next, 50 * 3600, 10 * 3600).expired);
    }

    #[test]
    fn water_is_charged_in_whole_fen() {
        assert_eq!(charge_of(400, Fen(50)), 20);
        assert_eq!(charge_of(333, Fen(50)), 17);
        assert_eq!(charge_of(0, Fen(50)), 0);
    }
}
