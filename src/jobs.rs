//! Background work, run once however many instances share the database: the periodic jobs
//! (heating orders reconciled with WeChat Pay; the IoT platform's sweep of orders that expire,
//! return windows that close and commissions that mature) run only on the leader, the instance
//! that holds the jobs' lock ([`crate::store::leader`]). The others try for it every second
//! and take over within about a second of the leader's death. On SQLite the one instance leads.
//!
//! Every job was already safe to run twice (each change is conditional on the state it
//! changes, and money moves under journal keys), so the short overlap when a leader that lost
//! its connection has not noticed yet costs work, never correctness.
//!
//! Every instance, leader or not, keeps its copy of the charging station current: it follows
//! the others' changes on the bus ([`crate::domain::charging::Charging::follow_others`]), and
//! its ticker lets the cars due by now finish, looking only at its memory. Instances whose
//! tickers find the same car due at once take turns on the station's row, and the first logs
//! the finish: the others, catching up first, find nothing left to do.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::config::Config;
use crate::domain::Services;
use crate::store::Backend;
use crate::store::leader::LeaderLock;

/// How often an instance checks its leadership (or tries for it).
const CAMPAIGN_EVERY: Duration = Duration::from_secs(1);

/// A periodic job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    HeatingReconcile,
    IotSweep,
}

impl Job {
    pub const ALL: [Job; 2] = [Job::HeatingReconcile, Job::IotSweep];

    pub fn name(self) -> &'static str {
        match self {
            Job::HeatingReconcile => "heating_reconcile",
            Job::IotSweep => "iot_sweep",
        }
    }
}

/// Whether this instance leads, and how often each job ran here (for `/metrics`).
#[derive(Debug, Default)]
pub struct Census {
    leader: AtomicBool,
    runs: [AtomicU64; Job::ALL.len()],
}

impl Census {
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// How many times `job` ran on this instance.
    pub fn runs(&self, job: Job) -> u64 {
        self.runs[job as usize].load(Ordering::Relaxed)
    }

    fn ran(&self, job: Job) {
        self.runs[job as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether `stop` says to stop (or its sender is gone).
fn stopping(changed: Result<(), watch::error::RecvError>, stop: &watch::Receiver<bool>) -> bool {
    changed.is_err() || *stop.borrow()
}

/// Starts the campaign for the leadership, every periodic job, and the following of the other
/// instances; each task ends when `stop` turns true.
pub fn spawn(
    services: &Services,
    config: &Config,
    census: Arc<Census>,
    stop: &watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let tasks = &mut set;
    if services.store.backend() == Backend::Sqlite {
        // One instance: it leads from the start.
        census.leader.store(true, Ordering::Relaxed);
    }
    tasks.spawn(campaign(
        LeaderLock::new(services.store.clone()),
        census.clone(),
        stop.clone(),
    ));
    let every = config.heating.reconcile_interval_seconds;
    if every > 0 {
        let heating = services.heating.orders.clone();
        let period = Duration::from_secs(every);
        periodic(
            tasks,
            Some(Job::HeatingReconcile),
            period,
            true,
            &census,
            stop,
            move || {
                let heating = heating.clone();
                async move {
                    match heating.reconcile_pending().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(orders = n, "pending orders reconciled"),
                        Err(e) => tracing::warn!(error = %e, "reconciling pending orders failed"),
                    }
                }
            },
        );
    }
    // The IoT platform's time-driven moves, including what other instances scheduled.
    let iot = services.iot.orders.clone();
    periodic(
        tasks,
        Some(Job::IotSweep),
        Duration::from_secs(1),
        false,
        &census,
        stop,
        move || {
            let iot = iot.clone();
            async move { iot.sweep_all().await }
        },
    );
    // The charging station, on every instance: cars finish on the clock, watched or not.
    let charging = services.charging.clone();
    periodic(
        tasks,
        None,
        Duration::from_millis(100),
        false,
        &census,
        stop,
        move || {
            let charging = charging.clone();
            async move {
                if let Err(e) = charging.tick_due().await {
                    tracing::warn!(error = %e, "charging station tick failed");
                }
            }
        },
    );
    let charging = services.charging.clone();
    let mut done = stop.clone();
    tasks.spawn(async move {
        tokio::select! {
            _ = charging.follow_others() => {}
            _ = async { while !stopping(done.changed().await, &done) {} } => {}
        }
    });
    // The charge boxes connected to this instance do what the station wants of them.
    let boxes = services.boxes.clone();
    let mut done = stop.clone();
    tasks.spawn(async move {
        tokio::select! {
            _ = boxes.watch() => {}
            _ = async { while !stopping(done.changed().await, &done) {} } => {}
        }
    });
    set
}

/// Holds (or tries for) the leadership every [`CAMPAIGN_EVERY`]; gives it up at shutdown.
async fn campaign(mut lock: LeaderLock, census: Arc<Census>, mut stop: watch::Receiver<bool>) {
    let mut checks = tokio::time::interval(CAMPAIGN_EVERY);
    checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = checks.tick() => {
                let leading = lock.hold().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot reach the jobs' lock");
                    false
                });
                if census.leader.swap(leading, Ordering::Relaxed) != leading {
                    tracing::info!(leading, "this instance's leadership of the background jobs changed");
                }
            }
            changed = stop.changed() => {
                if stopping(changed, &stop) {
                    census.leader.store(false, Ordering::Relaxed);
                    lock.release().await;
                    return;
                }
            }
        }
    }
}

/// Runs `work` every `period` (the first time after one period when `delay_first`): a `job`
/// while this instance leads (counted in the census), `None` on every instance.
fn periodic<F, Fut>(
    tasks: &mut JoinSet<()>,
    job: Option<Job>,
    period: Duration,
    delay_first: bool,
    census: &Arc<Census>,
    stop: &watch::Receiver<bool>,
    mut work: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let census = census.clone();
    let mut stop = stop.clone();
    tasks.spawn(async move {
        let first = if delay_first {
            Instant::now() + period
        } else {
            Instant::now()
        };
        let mut ticks = tokio::time::interval_at(first, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    match job {
                        Some(job) if census.is_leader() => {
                            work().await;
                            census.ran(job);
                        }
                        Some(_) => {}
                        None => work().await,
                    }
                }
                changed = stop.changed() => {
                    if stopping(changed, &stop) {
                        return;
                    }
                }
            }
        }
    });
}
