//! Load for the purifiers' MQTT link (used by `bench/iot_mqtt.sh`), two phases on one server:
//!
//! A. `DEVICES` (10,000) simulated purifiers (`utilhall::sim`, one MQTT client each) report
//!    every `REPORT_SECS` (10). The tool registers them (AB-02, as the platform operator),
//!    prints `SETUP` and pauses 3 s (the bench reads the server's memory), connects them all,
//!    prints `CONNECTED` once every one has subscribed and pauses 3 s again, lets one report
//!    interval go by, then measures `DURATION_SECS` (60): reports sent against those the server
//!    applied (`utilhall_iot_messages_total{type="report"}`), the server's ingest lag
//!    (`utilhall_iot_ingest_lag_seconds`), and an end-to-end lag of its own: every 20 ms it
//!    reads how many reports the fleet has handed to its clients and how many the server has
//!    taken (applied + dropped, from `/metrics`); a report's lag is the time until the server's
//!    count reaches the fleet's count at the moment it was sent (resolution ~20 ms, the scrape
//!    included). The same lag to a plain subscriber on the same topics is the broker's share.
//!    Then the fleet stops (each device says `offline`) and the tool waits for the server to
//!    drain: sent and applied in total.
//! B. `BURST_DEVICES` (300) other registered devices, each its own client, publish signed
//!    reports (QoS 1), three times for `BURST_SECS` (20) each, never more than `BURST_WINDOW`
//!    (900) ahead of a count read every 20 ms, so the broker holds a bounded backlog, drops
//!    nothing, and the publishers use no CPU that the one paced could use (the window stays
//!    below the broker's in-flight window: Mosquitto 2.0 delivers to a QoS 1 subscriber many
//!    times slower once frames queue for it):
//!    B1, the server's capacity: paced by the server's count (`/metrics`): the most reports a
//!    second it sustains. B2, the broker's: paced by a plain rumqttc subscriber on the same
//!    topics (the server's subscription still up): the most the broker delivers to one QoS 1
//!    subscriber, the baseline. B3, a flood: as fast as the publishers go, unpaced (on a small
//!    machine the broker and the publishers then take the CPU, and the broker drops what it
//!    cannot queue). After each, the server drains. Markers: `B1_START`, `B1_END`, ... `B3_END`.
//! Every frame the subscriber receives is verified under its device's secret. `NO_SERVER=1`:
//! no registration (random secrets) and no server figures: the simulator, the broker and the
//! subscriber alone. A JSON summary is the last line of stdout (`SUMMARY {...}`).
//!
//! Env: `BASE` (http://127.0.0.1:18120), `BROKER` (mqtt://127.0.0.1:18883), `PREFIX` (bench),
//! `DEVICES` (10000), `REPORT_SECS` (10), `DURATION_SECS` (60), `SPEED` (60), `FAULT_RATE`
//! (0.01), `BURST_DEVICES` (300), `BURST_SECS` (20), `BURST_WINDOW` (900), `PHASES` ("a b"),
//! `PLATFORM` (platform:platform123), `CONNECT_TIMEOUT_SECS` (600), `NO_SERVER`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use utilhall::domain::iot::protocol::{self, Topics};
use utilhall::sim::{self, Broker, Registration, SimConfig};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn say(line: &str) {
    use std::io::Write as _;
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// The server's `/metrics`, read once.
struct Metrics(String);

impl Metrics {
    async fn read(http: &reqwest::Client, base: &str) -> Option<Metrics> {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(Metrics(text))
    }

    /// The sum of the samples of `name` whose labels contain `label` (None: no such metric).
    fn sum(&self, name: &str, label: &str) -> Option<f64> {
        let mut found = None;
        for line in self.0.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let metric = series.split('{').next().unwrap_or(series);
            if metric == name && series.contains(label) {
                *found.get_or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
            }
        }
        found
    }

    fn reports(&self) -> Option<f64> {
        self.sum("utilhall_iot_messages_total", "type=\"report\"")
    }

    fn dropped(&self) -> Option<f64> {
        self.sum("utilhall_iot_dropped_total", "")
    }

    /// Every dropped frame, by reason.
    fn dropped_by_reason(&self) -> Value {
        let mut out = serde_json::Map::new();
        for reason in protocol::Dropped::ALL.map(protocol::Dropped::as_str) {
            if let Some(v) = self.sum(
                "utilhall_iot_dropped_total",
                &format!("reason=\"{reason}\""),
            ) {
                out.insert(reason.into(), json!(v));
            }
        }
        Value::Object(out)
    }

    /// `(upper bound, cumulative count)` of a histogram's buckets.
    fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut out = Vec::new();
        for line in self.0.lines().filter(|l| l.starts_with(&bucket)) {
            let (Some(le), Some((_, value))) = (
                line.split("le=\"").nth(1).and_then(|r| r.split('"').next()),
                line.rsplit_once(' '),
            ) else {
                continue;
            };
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::INFINITY)
            };
            out.push((le, value.parse().unwrap_or(0.0)));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// A summary's quantile as exported (`name{quantile="0.99"}`).
    fn quantile(&self, name: &str, q: &str) -> Option<f64> {
        self.sum(name, &format!("quantile=\"{q}\""))
    }
}

/// The ingest lag's p50 and p99 between two reads of the metrics (seconds): from the
/// histogram's buckets in the window (linear within a bucket), else the summary's quantiles.
fn ingest_lag(before: &Metrics, after: &Metrics) -> Option<(f64, f64)> {
    const NAME: &str = "utilhall_iot_ingest_lag_seconds";
    let (b, a) = (before.buckets(NAME), after.buckets(NAME));
    if a.is_empty() {
        return Some((after.quantile(NAME, "0.5")?, after.quantile(NAME, "0.99")?));
    }
    let window: Vec<(f64, f64)> = a
        .iter()
        .map(|(le, n)| {
            let was = b.iter().find(|(l, _)| l == le).map_or(0.0, |x| x.1);
            (*le, n - was)
        })
        .collect();
    let total = window.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let at = |q: f64| {
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, n) in &window {
            if n >= rank {
                if le.is_infinite() {
                    return lower.0;
                }
                let share = if n > lower.1 {
                    (rank - lower.1) / (n - lower.1)
                } else {
                    1.0
                };
                return lower.0 + (le - lower.0) * share;
            }
            lower = (le, n);
        }
        lower.0
    };
    Some((at(0.5), at(0.99)))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// A plain client on the server's topics that counts (and verifies) what the broker sends.
struct Listener {
    received: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
    /// Frames whose seq is not above the last one heard from their device on `up`.
    out_of_order: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

async fn listen(
    broker: &Broker,
    topics: &Topics,
    secrets: Arc<HashMap<String, String>>,
) -> Listener {
    let id = format!("bench-sub-{}", utilhall::domain::ids::random_hex_id());
    let mut o = MqttOptions::new(id, broker.host.clone(), broker.port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 16, 1 << 16);
    if let Some((u, p)) = &broker.credentials {
        o.set_credentials(u.clone(), p.clone());
    }
    let (client, mut events) = AsyncClient::new(o, 100);
    let received = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let out_of_order = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let filter = topics.up("+");
    let (r, b, s, o) = (
        received.clone(),
        bad.clone(),
        stop.clone(),
        out_of_order.clone(),
    );
    let topics = topics.clone();
    let (ready, subscribed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready);
        let mut last: HashMap<String, i64> = HashMap::new();
        while !s.load(Ordering::Relaxed) {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    r.fetch_add(1, Ordering::Relaxed);
                    let Some((did, _)) = topics.parse(&p.topic) else {
                        b.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let seq = secrets
                        .get(did)
                        .and_then(|k| protocol::open(k, &p.topic, &p.payload).ok())
                        .and_then(|json| protocol::Up::parse(json).ok())
                        .map(|up| up.seq());
                    match seq {
                        None => {
                            b.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(seq) => {
                            let before = last.insert(did.to_owned(), seq).unwrap_or(0);
                            if seq <= before {
                                o.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("subscriber: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(10), subscribed).await;
    Listener {
        received,
        bad,
        out_of_order,
        stop,
    }
}

/// How often the counters are sampled for the end-to-end lag (its resolution).
const SAMPLE_MS: u64 = 20;

/// One sample of the counters: when, reports sent by the fleet, received by the subscriber,
/// taken by the server (and when that was read).
struct Sample {
    at: Instant,
    sent: u64,
    heard: u64,
    taken: Option<(Instant, f64)>,
}

/// End-to-end lags of the samples in `window` (seconds, sorted): the time until `count`
/// reached what had been sent; and how many samples it never reached.
fn curve_lags(
    samples: &[Sample],
    window: (Instant, Instant),
    count: impl Fn(&Sample) -> Option<(Instant, f64)>,
) -> (Vec<f64>, usize) {
    let mut lags = Vec::new();
    let mut never = 0;
    for s in samples
        .iter()
        .filter(|s| s.at >= window.0 && s.at <= window.1)
    {
        match samples
            .iter()
            .filter_map(&count)
            .find(|(at, n)| *at >= s.at && *n >= s.sent as f64)
        {
            Some((at, _)) => lags.push((at - s.at).as_secs_f64()),
            None => never += 1,
        }
    }
    lags.sort_by(f64::total_cmp);
    (lags, never)
}

fn lag_json(lags: &[f64], never: usize) -> Value {
    json!({"samples": lags.len(), "p50_ms": quantile(lags, 0.5) * 1000.0,
        "p99_ms": quantile(lags, 0.99) * 1000.0,
        "max_ms": lags.last().copied().unwrap_or(0.0) * 1000.0, "never": never})
}

/// Waits until the server's count of reports stops moving for 2 s (at most `limit`).
async fn drained(http: &reqwest::Client, base: &str, limit: Duration) -> Option<Metrics> {
    let until = Instant::now() + limit;
    let mut last = Metrics::read(http, base).await?;
    let mut still = Instant::now();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Metrics::read(http, base).await?;
        if now.reports() != last.reports() {
            still = Instant::now();
        } else if still.elapsed() >= Duration::from_secs(2) {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = env("BASE", "http://127.0.0.1:18120");
    let broker_url = env("BROKER", "mqtt://127.0.0.1:18883");
    let broker = Broker::parse(&broker_url)?;
    let topics = Topics::new(&env("PREFIX", "bench"));
    let devices: usize = env_num("DEVICES", 10_000);
    let report_secs: f64 = env_num("REPORT_SECS", 10.0);
    let duration = Duration::from_secs_f64(env_num("DURATION_SECS", 60.0));
    let burst_devices: usize = env_num("BURST_DEVICES", 300);
    let burst_secs: f64 = env_num("BURST_SECS", 20.0);
    let phases = env("PHASES", "a b");
    let no_server = env("NO_SERVER", "") == "1";
    let http = reqwest::Client::new();
    let tag = &utilhall::domain::ids::random_hex_id()[..6];

    // Registration: the fleet, then the burst set.
    let t = Instant::now();
    let (fleet_devices, burst_set) = if no_server {
        let fake = |prefix: &str, n: usize| -> Vec<(String, String)> {
            (1..=n)
                .map(|i| {
                    (
                        format!("{prefix}{i:06}"),
                        utilhall::domain::ids::random_hex_id()[..32].to_owned(),
                    )
                })
                .collect()
        };
        (
            fake(&format!("SIM{tag}"), devices),
            fake(&format!("BST{tag}"), burst_devices),
        )
    } else {
        let platform = env("PLATFORM", "platform:platform123");
        let (user, pwd) = platform.split_once(':').unwrap_or(("platform", ""));
        let registration = |prefix: String, count: usize| Registration {
            server: base.clone(),
            user: user.to_owned(),
            pwd: pwd.to_owned(),
            vendor: None,
            product: None,
            device_type: 1,
            count,
            id_prefix: prefix,
        };
        let a = sim::register_devices(&registration(format!("SIM{tag}"), devices)).await?;
        let b = if burst_devices > 0 {
            sim::register_devices(&registration(format!("BST{tag}"), burst_devices)).await?
        } else {
            Vec::new()
        };
        (a, b)
    };
    eprintln!(
        "registered {} + {} devices in {:.1} s",
        fleet_devices.len(),
        burst_set.len(),
        t.elapsed().as_secs_f64()
    );
    let secrets: Arc<HashMap<String, String>> = Arc::new(
        fleet_devices
            .iter()
            .chain(burst_set.iter())
            .cloned()
            .collect(),
    );
    let listener = listen(&broker, &topics, secrets.clone()).await;
    say("SETUP");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut summary = json!({"devices": devices, "report_secs": report_secs,
        "duration_secs": duration.as_secs_f64(), "burst_devices": burst_devices,
        "burst_secs": burst_secs, "server": !no_server});

    if phases.contains('a') && devices > 0 {
        let t = Instant::now();
        let fleet = sim::run_fleet(SimConfig {
            broker: broker_url.clone(),
            prefix: topics.prefix().to_owned(),
            devices: fleet_devices.clone(),
            report_every: Duration::from_secs_f64(report_secs),
            speed: env_num("SPEED", 60.0),
            fault_rate: env_num("FAULT_RATE", 0.01),
            seed: 17,
        })
        .await;
        let ready = fleet
            .wait_ready(Duration::from_secs(env_num("CONNECT_TIMEOUT_SECS", 600)))
            .await;
        let connect_secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{} of {devices} devices connected and subscribed in {connect_secs:.1} s",
            fleet.stats().ready
        );
        say(&format!("CONNECTED {}", fleet.stats().ready));
        anyhow::ensure!(ready, "not every device connected");

        // Samples every 20 ms from now on, until the fleet has stopped and the server drained.
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (fleet, heard, sampling) = (
                fleet.counters(),
                listener.received.clone(),
                sampling.clone(),
            );
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(SAMPLE_MS));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                while sampling.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let at = Instant::now();
                    let sent = fleet.reports_sent();
                    let heard = heard.load(Ordering::Relaxed);
                    let taken = if no_server {
                        None
                    } else {
                        Metrics::read(&http, &base).await.and_then(|m| {
                            Some((Instant::now(), m.reports()? + m.dropped().unwrap_or(0.0)))
                        })
                    };
                    samples.push(Sample {
                        at,
                        sent,
                        heard,
                        taken,
                    });
                }
                samples
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::time::sleep(Duration::from_secs_f64(report_secs)).await;
        say("MEASURING");
        let before = Metrics::read(&http, &base).await;
        let (sent0, heard0) = (
            fleet.reports_sent(),
            listener.received.load(Ordering::Relaxed),
        );
        let w0 = Instant::now();
        tokio::time::sleep(duration).await;
        let w1 = Instant::now();
        let after = Metrics::read(&http, &base).await;
        let (sent1, heard1) = (
            fleet.reports_sent(),
            listener.received.load(Ordering::Relaxed),
        );
        say("MEASURED");
        let secs = (w1 - w0).as_secs_f64();
        let stats = fleet.stats();
        fleet.stop().await;
        let end = if no_server {
            tokio::time::sleep(Duration::from_secs(2)).await;
            None
        } else {
            drained(&http, &base, Duration::from_secs(120)).await
        };
        sampling.store(false, Ordering::Relaxed);
        let samples = sampler.await?;
        let (e2e, e2e_never) = curve_lags(&samples, (w0, w1), |s| s.taken);
        let (broker_lags, broker_never) =
            curve_lags(&samples, (w0, w1), |s| Some((s.at, s.heard as f64)));
        let window_applied = match (&before, &after) {
            (Some(b), Some(a)) => Some(a.reports().unwrap_or(0.0) - b.reports().unwrap_or(0.0)),
            _ => None,
        };
        let lag = match (&before, &after) {
            (Some(b), Some(a)) => ingest_lag(b, a),
            _ => None,
        };
        summary["a"] = json!({
            "connected": stats.ready, "connect_secs": connect_secs,
            "window_secs": secs,
            "window_sent": sent1 - sent0, "window_heard": heard1 - heard0,
            "window_applied": window_applied,
            "sent_per_sec": (sent1 - sent0) as f64 / secs,
            "applied_per_sec": window_applied.map(|a| a / secs),
            "total_sent": fleet_total_sent(&samples),
            "total_applied": end.as_ref().and_then(Metrics::reports),
            "dropped": end.as_ref().map(Metrics::dropped_by_reason),
            "ingest_lag_ms": lag.map(|(p50, p99)| json!({"p50": p50 * 1000.0, "p99": p99 * 1000.0})),
            "e2e_lag": lag_json(&e2e, e2e_never),
            "broker_lag": lag_json(&broker_lags, broker_never),
            "sim": {
                "reconnections": stats.connection_errors, "reports_skipped": stats.reports_skipped,
                "publish_errors": stats.publish_errors,
                "commands": stats.commands_received, "desired": stats.desired_applied,
                "dropped_down": stats.dropped_bad_signature + stats.dropped_replay + stats.dropped_malformed,
            },
            "subscriber_bad_frames": listener.bad.load(Ordering::Relaxed),
            "subscriber_out_of_order": listener.out_of_order.load(Ordering::Relaxed),
        });
        eprintln!("phase A: {}", summary["a"]);
    }

    if phases.contains('b') && !burst_set.is_empty() {
        let pace = Arc::new(Pace::default());
        let mut tasks = Vec::new();
        for (did, secret) in burst_set.clone() {
            tasks.push(tokio::spawn(burst(
                broker.clone(),
                topics.up(&did),
                did,
                secret,
                pace.clone(),
            )));
        }
        let until = Instant::now() + Duration::from_secs(60);
        while pace.connected.load(Ordering::Relaxed) < burst_set.len() as u64
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let taken = |m: &Metrics| m.reports().unwrap_or(0.0) + m.dropped().unwrap_or(0.0);
        let rates = |name: &str, b: &Window, a: &Window, end: Option<&Metrics>| {
            let secs = (a.at - b.at).as_secs_f64();
            let applied = match (&b.metrics, &a.metrics) {
                (Some(x), Some(y)) => Some(y.reports().unwrap_or(0.0) - x.reports().unwrap_or(0.0)),
                _ => None,
            };
            let until_drained = match (&b.metrics, end) {
                (Some(x), Some(e)) => Some(e.reports().unwrap_or(0.0) - x.reports().unwrap_or(0.0)),
                _ => None,
            };
            let v = json!({
                "secs": secs,
                "published": a.published - b.published,
                "published_per_sec": (a.published - b.published) as f64 / secs,
                "acked_by_broker_per_sec": (a.acked - b.acked) as f64 / secs,
                "heard_per_sec": (a.heard - b.heard) as f64 / secs,
                "applied": applied, "applied_per_sec": applied.map(|x| x / secs),
                "applied_until_drained": until_drained,
                "dropped": end.map(Metrics::dropped_by_reason),
            });
            eprintln!("phase B, {name}: {v}");
            v
        };
        let window: u64 = env_num("BURST_WINDOW", 900);
        let mut b = json!({"devices": pace.connected.load(Ordering::Relaxed), "window": window});
        // B1 paced by the server's count, B2 by the plain subscriber's, B3 not at all.
        let steps: [(&str, &str, PacedBy); 3] = [
            ("B1", "capacity", PacedBy::Server),
            ("B2", "broker", PacedBy::Subscriber),
            ("B3", "flood", PacedBy::None),
        ];
        for (marker, name, paced_by) in steps {
            if no_server && paced_by == PacedBy::Server {
                continue;
            }
            say(&format!("{marker}_START"));
            let start = Window::now(&pace, &listener, &http, &base).await;
            let count0 = match paced_by {
                PacedBy::Server => start.metrics.as_ref().map_or(0.0, taken),
                _ => start.heard as f64,
            };
            pace.allowed.store(
                if paced_by == PacedBy::None {
                    u64::MAX
                } else {
                    start.published + window
                },
                Ordering::Relaxed,
            );
            let steering = Arc::new(AtomicBool::new(paced_by != PacedBy::None));
            let controller = {
                let (pace, steering, http, base) =
                    (pace.clone(), steering.clone(), http.clone(), base.clone());
                let heard = listener.received.clone();
                tokio::spawn(async move {
                    while steering.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(SAMPLE_MS)).await;
                        let count = match paced_by {
                            PacedBy::Server => Metrics::read(&http, &base).await.map(|m| taken(&m)),
                            _ => Some(heard.load(Ordering::Relaxed) as f64),
                        };
                        if let Some(count) = count {
                            let done = (count - count0).max(0.0) as u64;
                            pace.allowed
                                .store(start.published + done + window, Ordering::Relaxed);
                        }
                    }
                })
            };
            tokio::time::sleep(Duration::from_secs_f64(burst_secs)).await;
            let end = Window::now(&pace, &listener, &http, &base).await;
            steering.store(false, Ordering::Relaxed);
            let _ = controller.await;
            pace.allowed
                .store(pace.published.load(Ordering::Relaxed), Ordering::Relaxed);
            say(&format!("{marker}_END"));
            let drained = if no_server {
                tokio::time::sleep(Duration::from_secs(2)).await;
                None
            } else {
                drained(&http, &base, Duration::from_secs(300)).await
            };
            b[name] = rates(name, &start, &end, drained.as_ref());
        }
        pace.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        b["subscriber_bad_frames"] = json!(listener.bad.load(Ordering::Relaxed));
        b["subscriber_out_of_order"] = json!(listener.out_of_order.load(Ordering::Relaxed));
        summary["b"] = b;
    }
    listener.stop.store(true, Ordering::Relaxed);
    say(&format!("SUMMARY {summary}"));
    Ok(())
}

fn fleet_total_sent(samples: &[Sample]) -> u64 {
    samples.last().map_or(0, |s| s.sent)
}

/// What paces the publishers of phase B: the server's count, the plain subscriber's, nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PacedBy {
    Server,
    Subscriber,
    None,
}

/// How far the publishers of phase B may go: their shared count and its limit.
#[derive(Default)]
struct Pace {
    /// Reports published so far (all publishers) and how many they may have published.
    published: AtomicU64,
    allowed: AtomicU64,
    acked: AtomicU64,
    connected: AtomicU64,
    stop: AtomicBool,
}

/// The counters at one edge of a window.
struct Window {
    at: Instant,
    published: u64,
    acked: u64,
    heard: u64,
    metrics: Option<Metrics>,
}

impl Window {
    async fn now(pace: &Pace, listener: &Listener, http: &reqwest::Client, base: &str) -> Window {
        let metrics = Metrics::read(http, base).await;
        Window {
            at: Instant::now(),
            published: pace.published.load(Ordering::Relaxed),
            acked: pace.acked.load(Ordering::Relaxed),
            heard: listener.received.load(Ordering::Relaxed),
            metrics,
        }
    }
}

/// One device of phase B: connects, then publishes signed reports (QoS 1) as fast as its
/// client takes them while the pace allows, until told to stop.
async fn burst(broker: Broker, up: String, did: String, secret: String, pace: Arc<Pace>) {
    let mut o = MqttOptions::new(format!("burst-{did}"), broker.host.clone(), broker.port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true);
    if let Some((u, p)) = &broker.credentials {
        o.set_credentials(u.clone(), p.clone());
    }
    let (client, mut events) = AsyncClient::new(o, 100);
    let publisher = {
        let pace = pace.clone();
        tokio::spawn(async move {
            let mut seq = sim::epoch_millis();
            let mut n: u64 = 0;
            while !pace.stop.load(Ordering::Relaxed) {
                if pace.published.load(Ordering::Relaxed) >= pace.allowed.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                seq += 1;
                n += 1;
                let json = format!(
                    concat!(
                        r#"{{"type":"report","seq":{},"ts":{},"power":true,"working":true,"#,
                        r#""locked":false,"errors":[],"powered_h":{:.3},"working_h":{:.3},"#,
                        r#""water_ml":{{"normal":{},"cold":0,"warm":0,"hot":0}},"#,
                        r#""tds_in":180,"tds_out":8}}"#
                    ),
                    seq,
                    sim::epoch_millis(),
                    100.0 + n as f64 * 0.001,
                    10.0 + n as f64 * 0.0001,
                    n * 10,
                );
                let frame = protocol::frame(&secret, &up, &json);
                if client
                    .publish(up.as_str(), QoS::AtLeastOnce, false, frame)
                    .await
                    .is_err()
                {
                    break;
                }
                pace.published.fetch_add(1, Ordering::Relaxed);
            }
            let _ = client.disconnect().await;
        })
    };
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                pace.connected.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                pace.acked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                if pace.stop.load(Ordering::Relaxed) {
                    break;
                }
                eprintln!("burst {did}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let _ = publisher.await;
}
