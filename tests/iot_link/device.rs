//! A purifier as the contract describes it, on a real MQTT connection: its own client id, its
//! `online` on `status` (retained) and its pre-signed last will there, reports, acks and
//! results on `up` signed with its secret and numbered by its `seq`; it subscribes `down` and
//! `desired` and checks every frame the server sends it (signature, topic, increasing `seq`).
//! It can also forge: [`TestDevice::publish_raw`] sends any bytes on any topic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use utilhall::domain::iot::protocol::{self, Down, Report, Topics, Up, Water};

use crate::{BROKER_HOST, Link, WAIT};

/// A frame the broker delivered to the device.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// What the connection has seen so far.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    connacks: u32,
    subacks: u32,
    pubacks: u64,
    closed: bool,
}

/// An MQTT connection and the task that drives it.
struct Connection {
    client: AsyncClient,
    task: JoinHandle<()>,
    progress: watch::Receiver<Progress>,
    inbox: mpsc::UnboundedReceiver<Delivered>,
    published: u64,
}

impl Connection {
    async fn open(options: MqttOptions) -> Connection {
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = inbox_tx.send(Delivered {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        });
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        progress_tx.send_modify(|p| p.connacks += 1)
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        progress_tx.send_modify(|p| p.subacks += 1)
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        progress_tx.send_modify(|p| p.pubacks += 1)
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                        progress_tx.send_modify(|p| p.closed = true);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        progress_tx.send_modify(|p| p.closed = true);
                        break;
                    }
                }
            }
        });
        let mut c = Connection {
            client,
            task,
            progress,
            inbox,
            published: 0,
        };
        c.wait("the broker's CONNACK", |p| p.connacks >= 1).await;
        c
    }

    async fn wait(&mut self, what: &str, done: impl Fn(&Progress) -> bool) {
        let r = tokio::time::timeout(WAIT, self.progress.wait_for(|p| done(p) || p.closed)).await;
        let p = *r
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|_| panic!("connection task gone waiting for {what}"));
        assert!(done(&p), "the connection closed waiting for {what}");
    }

    async fn subscribe(&mut self, topics: &[String]) {
        let before = self.progress.borrow().subacks;
        for t in topics {
            self.client
                .subscribe(t.as_str(), QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        let n = topics.len() as u32;
        self.wait("SUBACKs", |p| p.subacks >= before + n).await;
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK.
    async fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .expect("publish");
        self.published += 1;
        let want = self.published;
        self.wait("a PUBACK", |p| p.pubacks >= want).await;
    }
}

/// Device time: the real clock, epoch seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A command the device received.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub seq: i64,
    pub cmd: String,
    pub op: String,
    pub args: Value,
}

/// A `desired` frame: its `seq`, `locked`, and `(order, cycle)` of each filter.
pub type Desired = (i64, bool, Vec<(i64, i64)>);

/// A purifier on the broker.
pub struct TestDevice {
    pub did: String,
    pub secret: String,
    pub topics: Topics,
    prefix: String,
    /// The port of its broker.
    port: u16,
    /// The last `seq` this device sent (or reserved for its will).
    seq: i64,
    conn: Option<Connection>,
    /// The highest `seq` of a live (not retained) frame the server sent.
    last_down_seq: i64,
    /// The `desired` frames seen, in order.
    pub desired: Vec<Desired>,
    /// Commands received while waiting for something else.
    pending: std::collections::VecDeque<Cmd>,
}

impl TestDevice {
    /// A device of `link` with `secret`, not connected yet; its `seq` starts at 1.
    pub fn new(link: &Link, did: &str, secret: &str) -> TestDevice {
        TestDevice {
            did: did.to_owned(),
            secret: secret.to_owned(),
            topics: link.topics(),
            prefix: link.prefix.clone(),
            port: link.broker_port,
            seq: 0,
            conn: None,
            last_down_seq: 0,
            desired: Vec::new(),
            pending: std::collections::VecDeque::new(),
        }
    }

    /// [`TestDevice::new`], connected and `online`.
    pub async fn online(link: &Link, did: &str, secret: &str) -> TestDevice {
        let mut d = TestDevice::new(link, did, secret);
        d.connect().await;
        d
    }

    /// The device's MQTT client id.
    pub fn client_id(&self) -> String {
        format!("{}-{}", self.prefix, self.did)
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    /// The last `seq` the device used.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Makes the next `seq` `n + 1` (a device that lost count, or forges).
    pub fn set_seq(&mut self, n: i64) {
        self.seq = n;
    }

    /// Connects as the contract says: the will (`offline`, signed now with seq + 1) on
    /// `status`, subscriptions to `down` and `desired`, then `online` (seq) on `status`,
    /// retained.
    pub async fn connect(&mut self) {
        assert!(self.conn.is_none(), "{} is connected already", self.did);
        let online_seq = self.next_seq();
        let will_seq = self.next_seq();
        let status = self.topics.status(&self.did);
        let will = protocol::frame(
            &self.secret,
            &status,
            &json!({"type": "offline", "seq": will_seq}).to_string(),
        );
        let mut options = MqttOptions::new(self.client_id(), BROKER_HOST, self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_last_will(LastWill::new(status.clone(), will, QoS::AtLeastOnce, true));
        let mut conn = Connection::open(options).await;
        conn.subscribe(&[self.topics.down(&self.did), self.topics.desired(&self.did)])
            .await;
        let online = json!({"type": "online", "seq": online_seq, "ts": unix_now(), "fw": "1.0"});
        conn.publish(
            &status,
            protocol::frame(&self.secret, &status, &online.to_string()),
            true,
        )
        .await;
        self.conn = Some(conn);
    }

    fn conn(&mut self) -> &mut Connection {
        let did = self.did.clone();
        self.conn
            .as_mut()
            .unwrap_or_else(|| panic!("{did} is not connected"))
    }

    /// Leaves politely (DISCONNECT: the broker drops the will).
    pub async fn disconnect(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.client.disconnect().await.expect("disconnect");
            let _ = tokio::time::timeout(WAIT, &mut c.task).await;
        }
    }

    /// Dies: the connection drops without DISCONNECT, so the broker publishes the will.
    pub async fn kill(&mut self) {
        if let Some(c) = self.conn.take() {
            c.task.abort();
            let _ = c.task.await;
        }
    }

    /// Comes back after its connection was lost (the broker went away and is back): the
    /// dead connection is dropped, and the device connects as at [`TestDevice::connect`]
    /// (a new will and `online`, its `seq` going on from where it was).
    pub async fn reconnect(&mut self) {
        self.kill().await;
        self.connect().await;
    }

    /// Takes a new secret (after a rotation): leaves, and comes back with it and `seq` from 1.
    pub async fn rotate(&mut self, secret: &str) {
        self.disconnect().await;
        self.secret = secret.to_owned();
        self.seq = 0;
        self.last_down_seq = 0;
        self.connect().await;
    }

    /// Publishes `payload` on `topic` as is (QoS 1, not retained), waiting for the PUBACK.
    pub async fn publish_raw(&mut self, topic: &str, payload: Vec<u8>) {
        self.conn().publish(topic, payload, false).await;
    }

    /// Signs `json` for `topic` with this device's secret.
    pub fn frame(&self, topic: &str, json: &str) -> Vec<u8> {
        protocol::frame(&self.secret, topic, json)
    }

    /// Sends `msg` on `up` with the next `seq` (set in it); the frame sent.
    pub async fn send(&mut self, mut msg: Value) -> Vec<u8> {
        let seq = self.next_seq();
        msg["seq"] = json!(seq);
        let up = self.topics.up(&self.did);
        let frame = self.frame(&up, &msg.to_string());
        self.publish_raw(&up, frame.clone()).await;
        frame
    }

    /// A report (its `ts` the device's clock); the frame sent.
    pub async fn report(&mut self, r: &Report) -> Vec<u8> {
        self.report_at(unix_now(), r).await
    }

    /// A report stamped `ts`; the frame sent.
    pub async fn report_at(&mut self, ts: i64, r: &Report) -> Vec<u8> {
        let seq = self.next_seq();
        let json = serde_json::to_string(&Up::Report {
            seq,
            ts,
            report: r.clone(),
        })
        .expect("a report serialises");
        let up = self.topics.up(&self.did);
        let frame = self.frame(&up, &json);
        self.publish_raw(&up, frame.clone()).await;
        frame
    }

    /// `ack` of command `cmd`.
    pub async fn ack(&mut self, cmd: &str) -> Vec<u8> {
        self.send(json!({"type": "ack", "cmd": cmd})).await
    }

    /// `result` of command `cmd`.
    pub async fn result(&mut self, cmd: &str, ok: bool, dispensed_ml: Option<i64>) -> Vec<u8> {
        let mut msg = json!({"type": "result", "cmd": cmd, "ok": ok});
        if let Some(ml) = dispensed_ml {
            msg["dispensed_ml"] = json!(ml);
        }
        if !ok {
            msg["error"] = json!("refused");
        }
        self.send(msg).await
    }

    /// The next frame on `down` or `desired` within `limit`, checked: it verifies under the
    /// device's secret and its topic, parses, and (when live) its `seq` is above every one
    /// before. `desired` frames are recorded in [`TestDevice::desired`].
    async fn next_frame(&mut self, limit: Duration) -> Option<(Down, bool)> {
        let secret = self.secret.clone();
        let did = self.did.clone();
        let (down, desired) = (self.topics.down(&did), self.topics.desired(&did));
        let conn = self.conn();
        let d = match tokio::time::timeout(limit, conn.inbox.recv()).await {
            Ok(Some(d)) => d,
            Ok(None) => panic!("{did}: the connection is gone"),
            Err(_) => return None,
        };
        assert!(
            d.topic == down || d.topic == desired,
            "{did} got a frame on {}",
            d.topic
        );
        let json = protocol::open(&secret, &d.topic, &d.payload).unwrap_or_else(|e| {
            panic!(
                "{did}: a frame from the server does not verify ({e:?}): {}",
                String::from_utf8_lossy(&d.payload)
            )
        });
        let msg: Down = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{did}: not a down message ({e}): {json}"));
        match (&msg, d.topic == down) {
            (Down::Cmd { .. }, true) | (Down::Desired { .. }, false) => {}
            _ => panic!("{did}: {json} on {}", d.topic),
        }
        if !d.retain {
            assert!(
                msg.seq() > self.last_down_seq,
                "{did}: the server's seq went from {} to {}: {json}",
                self.last_down_seq,
                msg.seq()
            );
            self.last_down_seq = msg.seq();
        }
        if let Down::Desired {
            seq,
            locked,
            filters,
        } = &msg
        {
            self.desired.push((
                *seq,
                *locked,
                filters.iter().map(|f| (f.order, f.cycle)).collect(),
            ));
        }
        Some((msg, d.retain))
    }

    /// Waits for a command (skipping `desired` frames); panics after [`WAIT`].
    pub async fn expect_any_cmd(&mut self) -> Cmd {
        if let Some(c) = self.pending.pop_front() {
            return c;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await {
                Some((
                    Down::Cmd {
                        seq, cmd, op, args, ..
                    },
                    _,
                )) => return Cmd { seq, cmd, op, args },
                Some(_) => {}
                None => panic!("{}: no command within {WAIT:?}", self.did),
            }
        }
    }

    /// Waits for a command and checks its `op`.
    pub async fn expect_cmd(&mut self, op: &str) -> Cmd {
        let c = self.expect_any_cmd().await;
        assert_eq!(c.op, op, "{}: {c:?}", self.did);
        assert!(!c.cmd.is_empty(), "{c:?}");
        c
    }

    /// Asserts no command comes within `limit`.
    pub async fn expect_no_cmd(&mut self, limit: Duration) {
        if let Some(c) = self.pending.front() {
            panic!("{}: an unexpected command {c:?}", self.did);
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next_frame(left).await {
                Some((Down::Cmd { op, cmd, .. }, _)) => {
                    panic!("{}: an unexpected command {op} ({cmd})", self.did)
                }
                Some(_) => {}
                None => return,
            }
        }
    }

    /// Waits until the latest `desired` frame satisfies `check` (it may have come already);
    /// `(locked, [(order, cycle)])`. Commands that come meanwhile are kept for
    /// [`TestDevice::expect_cmd`].
    pub async fn expect_desired(
        &mut self,
        what: &str,
        check: impl Fn(bool, &[(i64, i64)]) -> bool,
    ) -> (bool, Vec<(i64, i64)>) {
        if let Some((_, l, f)) = self.desired.last().filter(|(_, l, f)| check(*l, f)) {
            return (*l, f.clone());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await {
                Some((Down::Desired { .. }, _)) => {
                    let (_, l, f) = self.desired.last().expect("recorded").clone();
                    if check(l, &f) {
                        return (l, f);
                    }
                }
                Some((
                    Down::Cmd {
                        seq, cmd, op, args, ..
                    },
                    _,
                )) => self.pending.push_back(Cmd { seq, cmd, op, args }),
                None => panic!(
                    "{}: no desired frame with {what} (seen: {:?})",
                    self.did, self.desired
                ),
            }
        }
    }
}

/// The `desired` frame retained for `did` now, as a device that subscribes anew gets it,
/// checked under `secret`; `None` when there is none (within a second).
pub async fn retained_desired(
    link: &Link,
    did: &str,
    secret: &str,
) -> Option<(bool, Vec<(i64, i64)>)> {
    let topic = link.topics().desired(did);
    let id = format!("{}-{did}-peek{}", link.prefix, unix_now_nanos());
    let mut options = MqttOptions::new(id, BROKER_HOST, link.broker_port);
    options.set_clean_session(true);
    let mut conn = Connection::open(options).await;
    conn.subscribe(std::slice::from_ref(&topic)).await;
    let got = tokio::time::timeout(Duration::from_secs(1), conn.inbox.recv()).await;
    let _ = conn.client.disconnect().await;
    let d = got.ok().flatten()?;
    assert!(d.retain, "a fresh subscriber gets the retained desired");
    let json = protocol::open(secret, &topic, &d.payload).unwrap_or_else(|e| {
        panic!(
            "the retained desired does not verify ({e:?}): {}",
            String::from_utf8_lossy(&d.payload)
        )
    });
    match serde_json::from_str::<Down>(json) {
        Ok(Down::Desired {
            locked, filters, ..
        }) => Some((locked, filters.iter().map(|f| (f.order, f.cycle)).collect())),
        _ => panic!("not a desired message: {json}"),
    }
}

fn unix_now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Clears what a test left on the broker: the retained `status` and `desired` of its devices,
/// and the persistent session of `client_id` (connecting with it and a clean session ends it;
/// with the server's id, call this only once the server is stopped), on the broker at `port`.
pub async fn clear_broker(prefix: &str, client_id: &str, port: u16, dids: &[String]) {
    let topics = Topics::new(prefix);
    let mut options = MqttOptions::new(client_id, BROKER_HOST, port);
    options.set_clean_session(true);
    let mut conn = Connection::open(options).await;
    for did in dids {
        for topic in [topics.status(did), topics.desired(did)] {
            conn.publish(&topic, Vec::new(), true).await;
        }
    }
    let _ = conn.client.disconnect().await;
    let _ = tokio::time::timeout(WAIT, &mut conn.task).await;
}

/// A report with the given counters and otherwise quiet values: powered, not working, no
/// errors, TDS 180 in and 8 out.
pub fn report(powered_h: f64, working_h: f64, normal_ml: i64) -> Report {
    Report {
        power: true,
        working: false,
        locked: false,
        errors: Vec::new(),
        lbs: None,
        powered_h,
        working_h,
        water_ml: Water {
            normal: normal_ml,
            ..Water::default()
        },
        tds_in: 180,
        tds_out: 8,
        filters: Vec::new(),
    }
}
