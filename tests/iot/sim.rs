//! The simulated purifiers (`utilhall::sim`) against the shared Mosquitto (127.0.0.1:1883),
//! with a plain MQTT client in the server's place: every frame they send verifies under its
//! device's secret with seqs that only go up, they obey a signed command and a desired state,
//! and drop a forged or replayed one.

use std::collections::HashMap;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use utilhall::domain::iot::protocol::{self, Channel, Topics};
use utilhall::sim::{SimConfig, run_fleet};

const BROKER: (&str, u16) = ("127.0.0.1", 1883);

fn client(id: &str, clean: bool) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, BROKER.0, BROKER.1);
    o.set_clean_session(clean)
        .set_keep_alive(Duration::from_secs(30));
    AsyncClient::new(o, 100)
}

/// Polls until a ConnAck (or fails the test).
async fn connected(events: &mut EventLoop) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return,
            Ok(Ok(_)) => {}
            other => panic!("no MQTT broker at 127.0.0.1:1883 (start Mosquitto): {other:?}"),
        }
    }
}

#[tokio::test]
async fn simulated_purifiers_sign_every_frame_and_obey_only_signed_commands() {
    let tag = utilhall::domain::ids::random_hex_id();
    let topics = Topics::new(&format!("t{}", &tag[..12]));
    let devices: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("S{}{i}", &tag[..10]), format!("{:032x}", i * 7919)))
        .collect();
    let secret: HashMap<String, String> = devices.iter().cloned().collect();

    let (server, mut events) = client(&format!("server-{tag}"), true);
    connected(&mut events).await;
    for filter in topics.server_filters() {
        server
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
    }
    // Waits for the SubAcks before the devices start.
    let mut acks = 0;
    while acks < 2 {
        if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
            acks += 1;
        }
    }

    let fleet = run_fleet(SimConfig {
        broker: format!("mqtt://{}:{}", BROKER.0, BROKER.1),
        prefix: topics.prefix().to_owned(),
        devices: devices.clone(),
        report_every: Duration::from_millis(300),
        speed: 3600.0,
        fault_rate: 0.2,
        seed: 7,
    })
    .await;
    assert!(fleet.wait_ready(Duration::from_secs(10)).await, "not ready");

    let (d1, k1) = &devices[0];
    let down = topics.down(d1);
    let cmd = |seq: i64, id: &str, op: &str, args: Value| {
        json!({"type": "cmd", "seq": seq, "ts": 0, "cmd": id, "op": op, "args": args}).to_string()
    };
    let send = |topic: String, payload: Vec<u8>, retain: bool| {
        let server = server.clone();
        async move {
            server
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
                .expect("publish");
        }
    };
    let dispense = cmd(10, "c1", "dispense", json!({"ml": 500, "kind": "hot"}));
    send(down.clone(), protocol::frame(k1, &down, &dispense), false).await;
    // The same frame again (a replay), one under another key, one for another device's topic.
    send(down.clone(), protocol::frame(k1, &down, &dispense), false).await;
    let forged = cmd(11, "c2", "lock", json!({}));
    send(down.clone(), protocol::frame("0000", &down, &forged), false).await;
    let moved = cmd(12, "c3", "lock", json!({}));
    send(
        down.clone(),
        protocol::frame(k1, &topics.down(&devices[1].0), &moved),
        false,
    )
    .await;
    // Device 2 reboots: offline, and online again a second or two later.
    let (d2, k2) = &devices[1];
    let down2 = topics.down(d2);
    let reboot = cmd(1, "r1", "reboot", json!({}));
    send(down2.clone(), protocol::frame(k2, &down2, &reboot), false).await;
    // Device 3 gets a command past its `expires` (held by the broker too long): not obeyed.
    let (d3, k3) = &devices[2];
    let down3 = topics.down(d3);
    let now = utilhall::sim::epoch_millis();
    let stale = json!({"type": "cmd", "seq": 1, "ts": now, "expires": now - 1000, "cmd": "x1",
        "op": "lock", "args": {}})
    .to_string();
    send(down3.clone(), protocol::frame(k3, &down3, &stale), false).await;
    let desired = topics.desired(d1);
    let state = json!({"type": "desired", "seq": 13, "locked": true,
        "filters": [{"order": 1, "cycle": 2}]})
    .to_string();
    send(desired.clone(), protocol::frame(k1, &desired, &state), true).await;

    // What the devices send, for 3 seconds.
    let mut last_seq: HashMap<String, i64> = HashMap::new();
    let mut kinds: HashMap<(String, String), usize> = HashMap::new();
    let mut d1_result = None;
    let mut d1_locked = false;
    let mut check = |topic: &str, payload: &[u8]| {
        let (did, channel) = topics.parse(topic).expect("one of ours");
        assert!(matches!(channel, Channel::Up | Channel::Status));
        let json = protocol::open(&secret[did], topic, payload).expect("signed by its device");
        let up = protocol::Up::parse(json).expect("a valid message");
        let before = last_seq.insert(did.to_owned(), up.seq()).unwrap_or(0);
        assert!(up.seq() > before, "{did}: seq {} after {before}", up.seq());
        *kinds
            .entry((did.to_owned(), up.kind().to_owned()))
            .or_default() += 1;
        if did == d1 {
            match &up {
                protocol::Up::Result {
                    cmd,
                    ok,
                    dispensed_ml,
                    ..
                } => {
                    assert_eq!(cmd, "c1");
                    d1_result = Some((*ok, *dispensed_ml));
                }
                protocol::Up::Report { report, .. } => {
                    d1_locked = report.locked;
                    assert!(report.plausible());
                }
                _ => {}
            }
        }
    };
    let mut listen = async |events: &mut EventLoop, secs: u64| {
        let until = tokio::time::Instant::now() + Duration::from_secs(secs);
        while let Ok(Ok(event)) = tokio::time::timeout_at(until, events.poll()).await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                check(&p.topic, &p.payload);
            }
        }
    };
    listen(&mut events, 3).await;
    // Device 2 back (slow machines).
    for _ in 0..5 {
        if fleet.stats().connected == 3 {
            break;
        }
        listen(&mut events, 1).await;
    }
    let stats = fleet.stats();
    // Stopping: each device says offline (a seq above the rest), cleanly.
    fleet.stop().await;
    listen(&mut events, 2).await;

    for (did, _) in &devices {
        let count = |kind: &str| kinds.get(&(did.clone(), kind.to_owned())).copied();
        let lives = if did == d2 { 2 } else { 1 };
        assert_eq!(count("online"), Some(lives), "{did}");
        assert!(count("report").unwrap_or(0) >= 2, "{did}: {kinds:?}");
        assert_eq!(count("offline"), Some(lives), "{did}");
        assert_eq!(count("ack"), (did != &devices[2].0).then_some(1), "{did}");
    }
    let (ok, ml) = d1_result.expect("the dispense's result");
    assert!(ok);
    assert!((400..=500).contains(&ml.unwrap_or(0)));
    assert!(d1_locked, "the desired state locks it");
    assert_eq!(stats.commands_received, 2);
    assert_eq!(stats.commands_obeyed, 2);
    assert_eq!(stats.commands_expired, 1);
    assert_eq!(stats.desired_applied, 1);
    assert_eq!(stats.dropped_replay, 1);
    assert_eq!(stats.dropped_bad_signature, 2);
    assert_eq!(stats.connected, 3);

    // Leaves nothing behind on the shared broker: retained frames, persistent sessions.
    for (did, _) in &devices {
        for topic in [topics.status(did), topics.desired(did)] {
            send(topic, Vec::new(), true).await;
        }
        let (c, mut e) = client(&format!("sim-{did}"), true);
        connected(&mut e).await;
        let _ = c.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), e.poll()).await;
    }
    let _ = server.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while events.poll().await.is_ok() {}
    })
    .await;
}
