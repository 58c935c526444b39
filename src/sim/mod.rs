//! A simulated fleet of connected purifiers, each its own MQTT client speaking the device
//! protocol ([`crate::domain::iot::protocol`]) as a real one does: the demo, the tests, the
//! bench and `utilhall iot simulate` all drive the server's device link with it.
//!
//! A device connects with client id `sim-<did>`, a persistent session and a keep alive of
//! 30 s; its last will is its pre-signed `offline` on its `status` topic (retained, QoS 1, the
//! `online`'s seq + 1); it says `online` (retained), subscribes its `down` and `desired`
//! topics, then reports every `report_every`, the first time after a random part of it so a
//! large fleet spreads out (`ts` in epoch milliseconds, which the server takes as well as
//! seconds). Its `seq` starts at the epoch milliseconds of start-up, so a restarted fleet
//! stays above what it sent before. Every frame from the server is verified
//! (signature, and a `seq` above the last one on that topic); what fails is dropped and
//! counted. Commands are acked at once and their result follows (see [`purifier`] for what
//! each does); one that arrives after its `expires` (the server's clock, learned from the
//! commands' `ts`) is not carried out. When the broker goes away the device retries every second or two, with a new
//! will (its seqs moved on), and says `online` again.

mod device;
pub mod purifier;
pub mod register;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use crate::surfaces::mqtt::Broker;
pub use register::{Registration, read_devices, register_devices, write_devices};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `mqtt://[user:pass@]host:port` (`tcp://` too).
    pub broker: String,
    /// The topic prefix (`iot.topic_prefix`).
    pub prefix: String,
    /// `(device id, secret)` of every device.
    pub devices: Vec<(String, String)>,
    pub report_every: Duration,
    /// Simulated hours per real hour.
    pub speed: f64,
    /// The chance, per report, of a new fault code.
    pub fault_rate: f64,
    /// Drives everything random (with the device id).
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            broker: "mqtt://127.0.0.1:1883".into(),
            prefix: "uh".into(),
            devices: Vec::new(),
            report_every: Duration::from_secs(10),
            speed: 60.0,
            fault_rate: 0.01,
            seed: 1,
        }
    }
}

/// The fleet's counters, shared by its devices.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connected: AtomicU64,
    ready: AtomicU64,
    connects: AtomicU64,
    connection_errors: AtomicU64,
    messages_sent: AtomicU64,
    reports_sent: AtomicU64,
    reports_skipped: AtomicU64,
    publish_errors: AtomicU64,
    commands_received: AtomicU64,
    commands_obeyed: AtomicU64,
    commands_failed: AtomicU64,
    commands_expired: AtomicU64,
    desired_applied: AtomicU64,
    dropped_bad_signature: AtomicU64,
    dropped_replay: AtomicU64,
    dropped_malformed: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of the fleet's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Devices connected right now.
    pub connected: u64,
    /// Devices that have subscribed their topics at least once.
    pub ready: u64,
    /// Connections made (reconnections included).
    pub connects: u64,
    /// Connections lost or refused.
    pub connection_errors: u64,
    /// Every frame handed to the broker (online, offline, reports, acks, results).
    pub messages_sent: u64,
    pub reports_sent: u64,
    /// Reports not sent: the device was not connected when it was time.
    pub reports_skipped: u64,
    /// Frames the client could not queue (its queue full).
    pub publish_errors: u64,
    /// Commands verified and taken (acked).
    pub commands_received: u64,
    /// Commands carried out (`result` with `ok: true`).
    pub commands_obeyed: u64,
    /// Commands refused (`result` with `ok: false`).
    pub commands_failed: u64,
    /// Commands that came after their `expires` (not acked, not carried out).
    pub commands_expired: u64,
    /// `desired` states taken.
    pub desired_applied: u64,
    /// Frames from the server dropped: signature, seq not above the last, not a message.
    pub dropped_bad_signature: u64,
    pub dropped_replay: u64,
    pub dropped_malformed: u64,
}

impl Counters {
    fn snapshot(&self) -> FleetStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FleetStats {
            connected: get(&self.connected),
            ready: get(&self.ready),
            connects: get(&self.connects),
            connection_errors: get(&self.connection_errors),
            messages_sent: get(&self.messages_sent),
            reports_sent: get(&self.reports_sent),
            reports_skipped: get(&self.reports_skipped),
            publish_errors: get(&self.publish_errors),
            commands_received: get(&self.commands_received),
            commands_obeyed: get(&self.commands_obeyed),
            commands_failed: get(&self.commands_failed),
            commands_expired: get(&self.commands_expired),
            desired_applied: get(&self.desired_applied),
            dropped_bad_signature: get(&self.dropped_bad_signature),
            dropped_replay: get(&self.dropped_replay),
            dropped_malformed: get(&self.dropped_malformed),
        }
    }
}

/// How many devices may be connecting at once (a large fleet would otherwise hit the
/// broker's listen backlog all at the same instant).
const CONNECTING_AT_ONCE: usize = 64;

/// A running fleet. Dropping it cuts every device off (as [`Fleet::abort`]).
pub struct Fleet {
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    /// Each device's behaviour task (it ends after its goodbye).
    devices: Vec<JoinHandle<()>>,
    /// Each device's connection task.
    links: Vec<JoinHandle<()>>,
}

/// Starts one task pair (behaviour, connection) per device and returns at once; the devices
/// connect in the background ([`Fleet::wait_ready`]).
pub async fn run_fleet(cfg: SimConfig) -> Fleet {
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let broker = match Broker::parse(&cfg.broker) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("simulated purifiers: {e}");
            return Fleet {
                counters,
                stop,
                devices: Vec::new(),
                links: Vec::new(),
            };
        }
    };
    let start_seq = crate::domain::iot::protocol::MAX_SEQ.min(epoch_millis());
    let shared = Arc::new(device::Shared {
        broker,
        topics: crate::domain::iot::protocol::Topics::new(&cfg.prefix),
        report_every: cfg.report_every.max(Duration::from_millis(10)),
        speed: cfg.speed,
        fault_rate: cfg.fault_rate,
        seed: cfg.seed,
        start_seq,
        counters: counters.clone(),
        gate,
    });
    let mut devices = Vec::with_capacity(cfg.devices.len());
    let mut links = Vec::with_capacity(cfg.devices.len());
    for (did, secret) in cfg.devices {
        let (behaviour, link) = device::spawn(shared.clone(), did, secret, stopped.clone());
        devices.push(behaviour);
        links.push(link);
    }
    Fleet {
        counters,
        stop,
        devices,
        links,
    }
}

/// A handle on a fleet's counters that outlives it (cheap to clone, for a task that samples).
#[derive(Debug, Clone)]
pub struct FleetCounters(Arc<Counters>);

impl FleetCounters {
    pub fn stats(&self) -> FleetStats {
        self.0.snapshot()
    }

    pub fn reports_sent(&self) -> u64 {
        self.0.reports_sent.load(Ordering::Relaxed)
    }
}

impl Fleet {
    /// The counters, apart from the fleet.
    pub fn counters(&self) -> FleetCounters {
        FleetCounters(self.counters.clone())
    }

    /// How many devices the fleet has.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    pub fn stats(&self) -> FleetStats {
        self.counters.snapshot()
    }

    pub fn reports_sent(&self) -> u64 {
        self.counters.reports_sent.load(Ordering::Relaxed)
    }

    pub fn commands_obeyed(&self) -> u64 {
        self.counters.commands_obeyed.load(Ordering::Relaxed)
    }

    /// Waits until every device has subscribed its topics (commands reach it from then on);
    /// false when `timeout` passes first.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if self.counters.ready.load(Ordering::Relaxed) >= self.len() as u64 {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every device says `offline` and disconnects cleanly (no will); waits for them (a few
    /// seconds at most).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for task in self.devices.drain(..).chain(self.links.drain(..)) {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Cuts every device off at once, as a power cut would: the broker publishes their wills.
    pub fn abort(mut self) {
        self.abort_all();
    }

    fn abort_all(&mut self) {
        for task in self.devices.drain(..).chain(self.links.drain(..)) {
            task.abort();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Now, in milliseconds since the epoch.
pub fn epoch_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
