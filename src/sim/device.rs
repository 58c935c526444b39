//! One simulated device on the wire: its connection (one MQTT client, its will, its
//! reconnections) and its behaviour (reports, commands, the desired state).
//!
//! The two run as two tasks: the connection task alone polls rumqttc's event loop (whose
//! `poll` is not safe to cancel in a `select!`), the behaviour task keeps the purifier and its
//! timers. They share the seq counter under one lock with the "connected" flag: a frame gets
//! its seq only when it is handed to a connected client, and a lost connection reserves the
//! next online's seq and its will's (+1) before anything else can take a seq. So every frame
//! the broker receives from a device has a seq above the ones before it, except the will when
//! it fires: it is below the reports sent since it was signed, and above every earlier frame
//! on `status` (the server keeps a counter per channel).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, Publish, QoS,
    SubscribeFilter,
};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::purifier::{Outcome, Purifier, Then};
use super::{Broker, Counters, bump, epoch_millis};
use crate::domain::iot::protocol::{self, Down, Dropped, Topics, Up};

/// What every device of a fleet shares.
pub(super) struct Shared {
    pub broker: Broker,
    pub topics: Topics,
    pub report_every: Duration,
    pub speed: f64,
    pub fault_rate: f64,
    pub seed: u64,
    pub start_seq: i64,
    pub counters: Arc<Counters>,
    pub gate: Arc<Semaphore>,
}

/// The firmware version a simulated purifier says it runs.
const FIRMWARE: &str = "1.0";
/// MQTT keep alive: a dead device's will fires within 1.5 x this.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// Frames a device may have queued for its client.
const CLIENT_QUEUE: usize = 64;
/// Command results remembered, so a command sent again is not carried out twice.
const REMEMBERED_COMMANDS: usize = 16;

/// Starts a device's two tasks: (behaviour, connection).
pub(super) fn spawn(
    shared: Arc<Shared>,
    did: String,
    secret: String,
    stopped: watch::Receiver<bool>,
) -> (JoinHandle<()>, JoinHandle<()>) {
    let seed = shared.seed ^ fnv1a(did.as_bytes());
    let topics = DeviceTopics {
        up: shared.topics.up(&did),
        status: shared.topics.status(&did),
        down: shared.topics.down(&did),
        desired: shared.topics.desired(&did),
    };
    let (online, will) = (shared.start_seq, shared.start_seq + 1);
    let mut options = MqttOptions::new(
        format!("sim-{did}"),
        shared.broker.host.clone(),
        shared.broker.port,
    );
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(false)
        .set_last_will(will_of(&secret, &topics.status, will));
    if let Some((user, pass)) = &shared.broker.credentials {
        options.set_credentials(user.clone(), pass.clone());
    }
    let (client, eventloop) = AsyncClient::new(options, CLIENT_QUEUE);
    let link = Arc::new(Link {
        secret,
        topics,
        client,
        seq: Mutex::new(SeqState {
            next: will + 1,
            online,
            connected: false,
        }),
        stopping: AtomicBool::new(false),
        counters: shared.counters.clone(),
    });
    let (events, inbox) = mpsc::unbounded_channel();
    let mut rng = StdRng::seed_from_u64(seed);
    let first_report = shared.report_every.mul_f64(rng.gen_range(0.0..1.0));
    let purifier = Purifier::new(seed, shared.speed, shared.fault_rate);
    let connection = tokio::spawn(connect(
        link.clone(),
        eventloop,
        events,
        shared.clone(),
        stopped.clone(),
        seed.wrapping_add(1),
    ));
    let behaviour = Behaviour {
        link,
        purifier,
        shared,
        last_down: 0,
        last_desired: 0,
        server_ahead: None,
        outbox: VecDeque::new(),
        running: Vec::new(),
        remembered: VecDeque::new(),
    };
    let behaviour = tokio::spawn(behaviour.run(inbox, stopped, first_report));
    (behaviour, connection)
}

/// FNV-1a: a stable hash of the device id for its seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A frame's `ts`: epoch milliseconds (the server takes seconds or milliseconds; these let it
/// measure a report's ingest lag to the millisecond).
fn ts() -> i64 {
    epoch_millis()
}

/// The pre-signed `offline` the broker publishes when the device vanishes.
fn will_of(secret: &str, status: &str, seq: i64) -> LastWill {
    let json = json!({"type": "offline", "seq": seq}).to_string();
    LastWill::new(
        status,
        protocol::frame(secret, status, &json),
        QoS::AtLeastOnce,
        true,
    )
}

struct DeviceTopics {
    up: String,
    status: String,
    down: String,
    desired: String,
}

struct SeqState {
    /// The next seq to give a frame.
    next: i64,
    /// The seq the `online` of the next connection carries (its will has this + 1).
    online: i64,
    connected: bool,
}

/// A device's client, its secret and its seq counter.
struct Link {
    secret: String,
    topics: DeviceTopics,
    client: AsyncClient,
    seq: Mutex<SeqState>,
    /// Saying goodbye: the connection task ends at the next disconnection.
    stopping: AtomicBool,
    counters: Arc<Counters>,
}

/// Whether a frame went to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Yes,
    /// Not connected: nothing was sent (and no seq taken).
    Offline,
    /// The client's queue was full.
    Full,
}

/// Which topic a device frame goes to.
#[derive(Clone, Copy)]
enum To {
    Up,
    Status,
}

impl Link {
    fn state(&self) -> std::sync::MutexGuard<'_, SeqState> {
        self.seq.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connected(&self) -> bool {
        self.state().connected
    }

    /// Signs and queues the frame `json_of(seq)` when connected.
    fn send(&self, to: To, json_of: impl FnOnce(i64) -> String) -> Sent {
        let mut st = self.state();
        if !st.connected {
            return Sent::Offline;
        }
        let seq = st.next;
        st.next += 1;
        let (topic, retain) = match to {
            To::Up => (&self.topics.up, false),
            To::Status => (&self.topics.status, true),
        };
        let json = json_of(seq);
        let frame = protocol::frame(&self.secret, topic, &json);
        match self
            .client
            .try_publish(topic.as_str(), QoS::AtLeastOnce, retain, frame)
        {
            Ok(()) => {
                bump(&self.counters.messages_sent);
                Sent::Yes
            }
            Err(_) => {
                bump(&self.counters.publish_errors);
                Sent::Full
            }
        }
    }

    /// Connected: says `online` with the reserved seq (before any other frame of this
    /// connection) and subscribes.
    fn on_connected(&self) {
        let mut st = self.state();
        st.connected = true;
        let json =
            json!({"type": "online", "seq": st.online, "ts": ts(), "fw": FIRMWARE}).to_string();
        let frame = protocol::frame(&self.secret, &self.topics.status, &json);
        match self
            .client
            .try_publish(self.topics.status.as_str(), QoS::AtLeastOnce, true, frame)
        {
            Ok(()) => bump(&self.counters.messages_sent),
            Err(_) => bump(&self.counters.publish_errors),
        }
        let filters = [&self.topics.down, &self.topics.desired]
            .map(|t| SubscribeFilter::new(t.to_string(), QoS::AtLeastOnce));
        if self.client.try_subscribe_many(filters).is_err() {
            bump(&self.counters.publish_errors);
        }
    }

    /// Disconnected: reserves the seqs of the next `online` and its will; whether it was
    /// connected, and the will.
    fn on_disconnected(&self) -> (bool, LastWill) {
        let mut st = self.state();
        let was = std::mem::replace(&mut st.connected, false);
        st.online = st.next;
        st.next += 2;
        (
            was,
            will_of(&self.secret, &self.topics.status, st.online + 1),
        )
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Says `offline` (a fresh seq, retained) and disconnects cleanly, so the broker drops the
    /// will; the connection task reconnects unless the device is stopping.
    fn goodbye(&self) {
        let sent = self.send(To::Status, |seq| {
            json!({"type": "offline", "seq": seq, "ts": ts()}).to_string()
        });
        if sent == Sent::Yes && self.client.try_disconnect().is_err() {
            bump(&self.counters.publish_errors);
        }
    }
}

/// What the connection task tells the behaviour task.
enum LinkEvent {
    Connected,
    Frame(Publish),
}

/// The connection task: polls the event loop, reconnects, forwards what the server sends.
async fn connect(
    link: Arc<Link>,
    mut eventloop: EventLoop,
    events: mpsc::UnboundedSender<LinkEvent>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    seed: u64,
) {
    let counters = &shared.counters;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut subscribed = false;
    let mut said_goodbye = false;
    loop {
        let connected = link.connected();
        // Connecting takes a place at the gate; a stop while connecting ends the task.
        let permit = if connected {
            None
        } else {
            tokio::select! {
                p = shared.gate.clone().acquire_owned() => p.ok(),
                _ = stopped.wait_for(|s| *s) => break,
            }
        };
        let event = if connected {
            eventloop.poll().await
        } else {
            tokio::select! {
                e = eventloop.poll() => e,
                _ = stopped.wait_for(|s| *s) => break,
            }
        };
        drop(permit);
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                bump(&counters.connects);
                counters.connected.fetch_add(1, Ordering::Relaxed);
                link.on_connected();
                let _ = events.send(LinkEvent::Connected);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let _ = events.send(LinkEvent::Frame(p));
            }
            Ok(Event::Incoming(Packet::SubAck(_))) if !subscribed => {
                subscribed = true;
                bump(&counters.ready);
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                // Polled on until the broker closes the connection: closing it here, with its
                // PUBACKs unread, would reset it, and the broker could lose the DISCONNECT
                // and publish the will (below the `offline` just sent: a replay).
                said_goodbye = true;
            }
            Ok(_) => {}
            Err(e) => {
                let (was, will) = link.on_disconnected();
                eventloop.mqtt_options.set_last_will(will);
                if was {
                    counters.connected.fetch_sub(1, Ordering::Relaxed);
                }
                if std::mem::take(&mut said_goodbye) {
                    // The broker read everything before our DISCONNECT: nothing to resend.
                    eventloop.pending.clear();
                } else {
                    bump(&counters.connection_errors);
                    tracing::debug!("simulated purifier: {e}");
                }
                if link.stopping() {
                    break;
                }
                // A second or two, so a fleet does not come back all at the same instant.
                let pause = Duration::from_millis(rng.gen_range(1000..2000));
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
        }
    }
    if link.on_disconnected().0 {
        counters.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A frame waiting for the connection.
enum Pending {
    Ack(String),
    Result(String, Outcome),
}

/// The behaviour task's state.
struct Behaviour {
    link: Arc<Link>,
    purifier: Purifier,
    shared: Arc<Shared>,
    /// The last seq taken on `down` and on `desired` (each topic has its own order: MQTT
    /// keeps the order of one topic only, and a retained `desired` comes again unchanged at
    /// every subscription).
    last_down: i64,
    last_desired: i64,
    /// How far the server's clock is ahead of ours (ms), from the commands' `ts`.
    server_ahead: Option<i64>,
    /// Acks and results that could not be sent (not connected).
    outbox: VecDeque<Pending>,
    /// Commands still pouring: when they are done, and their result.
    running: Vec<(Instant, String, Outcome)>,
    remembered: VecDeque<(String, Outcome)>,
}

impl Behaviour {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<LinkEvent>,
        mut stopped: watch::Receiver<bool>,
        first_report: Duration,
    ) {
        let every = self.shared.report_every;
        // Reports start once connected, a random part of the interval later.
        let mut next_report: Option<Instant> = None;
        let mut last_advance = Instant::now();
        loop {
            let due = self.running.iter().map(|r| r.0).min();
            let idle = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                () = tokio::time::sleep_until(next_report.unwrap_or(idle)), if next_report.is_some() => {
                    let now = Instant::now();
                    self.purifier.advance(now - last_advance);
                    last_advance = now;
                    self.report();
                    let mut next = next_report.unwrap_or(now) + every;
                    if next < now {
                        next = now + every;
                    }
                    next_report = Some(next);
                }
                () = tokio::time::sleep_until(due.unwrap_or(idle)), if due.is_some() => {
                    let now = Instant::now();
                    let (done, running): (Vec<_>, Vec<_>) =
                        self.running.drain(..).partition(|r| r.0 <= now);
                    self.running = running;
                    for (_, cmd, outcome) in done {
                        self.finish(cmd, outcome);
                    }
                }
                event = inbox.recv() => match event {
                    None => break,
                    Some(LinkEvent::Connected) => {
                        next_report.get_or_insert_with(|| Instant::now() + first_report);
                        self.flush();
                    }
                    Some(LinkEvent::Frame(p)) => self.take(&p.topic, &p.payload),
                },
                _ = stopped.wait_for(|s| *s) => {
                    self.link.stopping.store(true, Ordering::Relaxed);
                    self.link.goodbye();
                    break;
                }
            }
        }
    }

    fn report(&mut self) {
        let report = self.purifier.report();
        let ts = ts();
        let sent = self.link.send(To::Up, |seq| {
            serde_json::to_string(&Up::Report { seq, ts, report }).unwrap_or_default()
        });
        let counters = &self.shared.counters;
        match sent {
            Sent::Yes => bump(&counters.reports_sent),
            Sent::Offline | Sent::Full => bump(&counters.reports_skipped),
        }
    }

    /// Sends a frame, or keeps it for the next connection.
    fn send_or_keep(&mut self, p: Pending) {
        let sent = match &p {
            Pending::Ack(cmd) => self.link.send(To::Up, |seq| {
                json!({"type": "ack", "seq": seq, "ts": ts(), "cmd": cmd}).to_string()
            }),
            Pending::Result(cmd, o) => self.link.send(To::Up, |seq| result_json(seq, cmd, o)),
        };
        if sent != Sent::Yes {
            self.outbox.push_back(p);
        }
    }

    fn flush(&mut self) {
        for p in std::mem::take(&mut self.outbox) {
            self.send_or_keep(p);
        }
    }

    /// A frame from the server: verified, in order, then obeyed.
    fn take(&mut self, topic: &str, payload: &[u8]) {
        let counters = self.shared.counters.clone();
        let on_down = topic == self.link.topics.down;
        if !on_down && topic != self.link.topics.desired {
            bump(&counters.dropped_malformed);
            return;
        }
        let down = match protocol::open(&self.link.secret, topic, payload) {
            Ok(json) => serde_json::from_str::<Down>(json).ok(),
            Err(Dropped::BadSignature) => {
                bump(&counters.dropped_bad_signature);
                return;
            }
            Err(_) => None,
        };
        match (on_down, down) {
            (
                true,
                Some(Down::Cmd {
                    seq,
                    ts,
                    expires,
                    cmd,
                    op,
                    args,
                }),
            ) => {
                if seq <= self.last_down {
                    bump(&counters.dropped_replay);
                    return;
                }
                self.last_down = seq;
                // The server's clock, as learned from the least delayed command so far.
                let ahead = ts - epoch_millis();
                let ahead = *self
                    .server_ahead
                    .insert(self.server_ahead.map_or(ahead, |a| a.max(ahead)));
                if expires > 0 && epoch_millis() + ahead > expires {
                    // Held too long (the broker kept it while we were away): the server has
                    // given up on it; carrying it out now would pour water nobody pays for.
                    bump(&counters.commands_expired);
                    return;
                }
                self.command(cmd, &op, &args);
            }
            (
                false,
                Some(Down::Desired {
                    seq,
                    locked,
                    filters,
                }),
            ) => {
                if seq < self.last_desired {
                    bump(&counters.dropped_replay);
                } else if seq > self.last_desired {
                    self.last_desired = seq;
                    bump(&counters.desired_applied);
                    if self.purifier.apply_desired(locked, &filters) {
                        self.report();
                    }
                }
                // The same seq: the retained copy again, already applied.
            }
            _ => bump(&counters.dropped_malformed),
        }
    }

    fn command(&mut self, cmd: String, op: &str, args: &Value) {
        bump(&self.shared.counters.commands_received);
        self.send_or_keep(Pending::Ack(cmd.clone()));
        if let Some((_, outcome)) = self.remembered.iter().find(|(c, _)| *c == cmd) {
            // Sent again: the same answer, not the same water twice.
            let outcome = Outcome {
                then: Then::Nothing,
                ..outcome.clone()
            };
            self.send_or_keep(Pending::Result(cmd, outcome));
            return;
        }
        let outcome = self.purifier.obey(op, args);
        if self.remembered.len() == REMEMBERED_COMMANDS {
            self.remembered.pop_front();
        }
        self.remembered.push_back((cmd.clone(), outcome.clone()));
        if outcome.takes.is_zero() {
            self.finish(cmd, outcome);
        } else {
            self.running
                .push((Instant::now() + outcome.takes, cmd, outcome));
        }
    }

    /// A command is done: its result, then what follows.
    fn finish(&mut self, cmd: String, outcome: Outcome) {
        let counters = self.shared.counters.clone();
        bump(if outcome.ok {
            &counters.commands_obeyed
        } else {
            &counters.commands_failed
        });
        let then = outcome.then;
        self.send_or_keep(Pending::Result(cmd, outcome));
        match then {
            Then::Nothing => {}
            Then::Report => self.report(),
            Then::Reboot => self.link.goodbye(),
        }
    }
}

fn result_json(seq: i64, cmd: &str, o: &Outcome) -> String {
    let mut v = json!({"type": "result", "seq": seq, "ts": ts(), "cmd": cmd, "ok": o.ok});
    if let Some(ml) = o.dispensed_ml {
        v["dispensed_ml"] = json!(ml);
    }
    if let Some(e) = &o.error {
        v["error"] = json!(e);
    }
    v.to_string()
}
