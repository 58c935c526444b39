//! Hostile frames: forged, replayed, moved to another device's topic, for an unknown device,
//! not frames at all, bad JSON, impossible values. Each is dropped, counted under the
//! contract's reason in `utilhall_iot_dropped_total`, and changes nothing; the server goes on
//! taking valid reports after all of them.

use serde_json::{Value, json};
use utilhall::domain::iot::protocol;

use crate::device::{TestDevice, report, unix_now};
use crate::{accepted, assert_accepted, dropped, dropped_all, eventually, spawn, tick};

/// AB-09 without what the watch may change on its own (`online`, `offline_tms`): a dropped
/// frame must leave everything else, `online_tms` included, as it was.
fn settled(stat: &Value) -> Value {
    let mut s = stat.clone();
    if let Some(state) = s["state"].as_object_mut() {
        state.remove("online");
        state.remove("offline_tms");
    }
    s
}

#[tokio::test]
async fn forged_replayed_foreign_and_absurd_frames_are_dropped_and_change_nothing() {
    let l = spawn().await;
    let app = &l.app;
    let (a_id, b_id) = ("DOCHLINK0301", "DOCHLINK0302");
    let product = l.product.clone();
    let secrets = l
        .register(&[a_id, b_id], 1, Some(&product), crate::VID)
        .await;
    let mut a = TestDevice::online(&l, a_id, &secrets[0]).await;
    let mut b = TestDevice::online(&l, b_id, &secrets[1]).await;
    let valid = a.report(&report(10.0, 2.0, 1000)).await;
    b.report(&report(20.0, 4.0, 5000)).await;
    l.stat_until(a_id, "A's report", |s| {
        s["statistics"]["water_ml"]["normal"] == 1000
    })
    .await;
    l.stat_until(b_id, "B's report", |s| {
        s["statistics"]["water_ml"]["normal"] == 5000
    })
    .await;
    // The server's clock moves on: anything taken in now would show in online_tms.
    tick(app, 600).await;
    let (a_before, b_before) = (settled(&l.stat(a_id).await), settled(&l.stat(b_id).await));
    let reports_before = accepted(app, "report").await;
    let acks_before = accepted(app, "ack").await;

    let (a_up, b_up) = (l.topics().up(a_id), l.topics().up(b_id));
    let report_json = |seq: i64, r: &protocol::Report| {
        serde_json::to_string(&protocol::Up::Report {
            seq,
            ts: unix_now(),
            report: r.clone(),
        })
        .expect("json")
    };
    let higher = |a: &TestDevice| a.seq() + 100;
    let mut next = higher(&a);
    let mut fresh = || {
        next += 1;
        next
    };

    // (what, reason, topic, payload)
    let mut cases: Vec<(&str, &str, String, Vec<u8>)> = Vec::new();
    let more = report(11.0, 2.5, 1100);
    cases.push((
        "signed with a wrong secret",
        "bad_signature",
        a_up.clone(),
        protocol::frame(
            "0123456789abcdef0123456789abcdef",
            &a_up,
            &report_json(fresh(), &more),
        ),
    ));
    cases.push((
        "a signature that is not hex",
        "bad_signature",
        a_up.clone(),
        format!("{}\nnot-hex-at-all", report_json(fresh(), &more)).into_bytes(),
    ));
    let mut tampered = a.frame(&a_up, &report_json(fresh(), &more));
    let at = tampered
        .windows(4)
        .position(|w| w == b"1100")
        .expect("the volume in the frame");
    tampered[at] = b'9';
    cases.push((
        "a valid frame with its volume changed",
        "bad_signature",
        a_up.clone(),
        tampered,
    ));
    cases.push((
        "the same frame again",
        "replay",
        a_up.clone(),
        valid.clone(),
    ));
    cases.push((
        "an older seq, validly signed",
        "replay",
        a_up.clone(),
        a.frame(&a_up, &report_json(1, &more)),
    ));
    cases.push((
        "A's frame on B's topic",
        "bad_signature",
        b_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &more)),
    ));
    cases.push((
        "A signing for B's topic with A's secret",
        "bad_signature",
        b_up.clone(),
        a.frame(&b_up, &report_json(fresh(), &more)),
    ));
    let nobody = l.topics().up("DOCHNOSUCH01");
    cases.push((
        "an unknown device",
        "unknown_device",
        nobody.clone(),
        protocol::frame(&secrets[0], &nobody, &report_json(fresh(), &more)),
    ));
    cases.push((
        "not a frame",
        "malformed",
        a_up.clone(),
        b"hello, server".to_vec(),
    ));
    cases.push((
        "not UTF-8",
        "malformed",
        a_up.clone(),
        vec![0xff, 0xfe, 0x00, b'\n', 0x80],
    ));
    cases.push(("an empty payload", "malformed", a_up.clone(), Vec::new()));
    cases.push((
        "bad JSON, validly signed",
        "malformed",
        a_up.clone(),
        a.frame(
            &a_up,
            &format!("{{\"type\":\"report\",\"seq\":{},", fresh()),
        ),
    ));
    cases.push((
        "a report without its counters",
        "malformed",
        a_up.clone(),
        a.frame(
            &a_up,
            &json!({"type": "report", "seq": fresh(), "ts": 1}).to_string(),
        ),
    ));
    cases.push((
        "an unknown message type",
        "malformed",
        a_up.clone(),
        a.frame(
            &a_up,
            &json!({"type": "selfdestruct", "seq": fresh()}).to_string(),
        ),
    ));
    cases.push((
        "a seq of 2^53 + 1",
        "malformed",
        a_up.clone(),
        a.frame(
            &a_up,
            &report_json((1_i64 << 53) + 1, &report(11.0, 2.5, 1100)),
        ),
    ));
    let mut negative = report(11.0, 2.5, 1100);
    negative.water_ml.hot = -5;
    cases.push((
        "a negative volume",
        "absurd",
        a_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &negative)),
    ));
    cases.push((
        "less water than before",
        "absurd",
        a_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &report(11.0, 2.5, 900))),
    ));
    cases.push((
        "fewer hours than before",
        "absurd",
        a_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &report(9.0, 2.5, 1100))),
    ));
    let mut tds = report(11.0, 2.5, 1100);
    tds.tds_in = 90_000;
    cases.push((
        "a TDS of 90000",
        "absurd",
        a_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &tds)),
    ));
    let mut hours = report(11.0, 2.5, 1100);
    hours.powered_h = 2e6;
    cases.push((
        "two million hours",
        "absurd",
        a_up.clone(),
        a.frame(&a_up, &report_json(fresh(), &hours)),
    ));
    cases.push((
        "an ack of a command never sent",
        "absurd",
        a_up.clone(),
        a.frame(
            &a_up,
            &json!({"type": "ack", "seq": fresh(), "cmd": "nosuchcommand"}).to_string(),
        ),
    ));
    cases.push((
        "a result of a command never sent",
        "absurd",
        a_up.clone(),
        a.frame(
            &a_up,
            &json!({"type": "result", "seq": fresh(), "cmd": "nosuchcommand", "ok": true})
                .to_string(),
        ),
    ));

    for (what, reason, topic, payload) in cases {
        let (this, all) = (dropped(app, reason).await, dropped_all(app).await);
        a.publish_raw(&topic, payload).await;
        eventually(&format!("{what}: dropped as {reason}"), || async {
            (dropped_all(app).await > all).then_some(())
        })
        .await;
        assert_eq!(
            dropped(app, reason).await,
            this + 1.0,
            "{what}: dropped once, as {reason}"
        );
        assert_eq!(dropped_all(app).await, all + 1.0, "{what}: one drop");
    }

    // Nothing changed.
    assert_eq!(settled(&l.stat(a_id).await), a_before);
    assert_eq!(settled(&l.stat(b_id).await), b_before);
    assert_accepted(app, "report", reports_before).await;
    assert_accepted(app, "ack", acks_before).await;
    let health = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);

    // A valid report after all of them is taken (its seq above every one tried).
    a.set_seq(next + 1);
    a.report(&report(11.0, 2.5, 1100)).await;
    l.stat_until(a_id, "a valid report after the forgeries", |s| {
        s["statistics"]["water_ml"]["normal"] == 1100 && s["statistics"]["powered_h"] == 11.0
    })
    .await;
    assert_accepted(app, "report", reports_before + 1.0).await;

    a.disconnect().await;
    b.disconnect().await;
    l.stop().await;
}
