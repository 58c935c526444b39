//! Faults of OCPP piles: a box that reports `Faulted` (on its connector or on itself) or goes
//! silent for longer than the allowed heartbeats takes its pile down under the station's fault
//! policy, exactly as an operator's fault does; `Available` afterwards brings it back.

use std::time::Duration;

use serde_json::{Value, json};

use super::chargepoint::{Behaviour, ChargePoint};
use super::{
    PASSWORD, admin, apply, box_view, driver, eventually, fee_fen, info, now, pile, records, spawn,
    station, tick, users,
};

/// The state of pile `id` once it is `want` (the server may act on its own time).
async fn pile_becomes(app: &super::common::TestApp, op: &str, id: &str, want: &str) -> Value {
    eventually(&format!("{id} is {want}"), || async {
        let p = pile(app, op, id).await;
        (p["state"] == want).then_some(p)
    })
    .await
}

/// Car `a` charges on OCPP pile F1 and car `b` on simulated F2; 8 minutes in (4 kWh metered) the
/// box reports `Faulted` on `connector`. `a`'s record holds the 4 kWh, its 16 kWh left go to F2
/// behind `b`; the box's own stop bills nothing more; `Available` brings F1 back and `a` is
/// called to it again.
async fn a_fault_in_the_middle(policy: &str, connector: u32) {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(
        &app,
        &op,
        json!({"fast_piles": 2, "slow_piles": 1, "fault_policy": policy}),
    )
    .await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let t0 = now(&app).await;
    cp.status(1, "Available", &t0).await;
    let a = driver(&app, "a").await;
    let b = driver(&app, "b").await;
    apply(&app, &a, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let started = cp.start_transaction(&tag, 0, &t0).await;
    let tx = started["transactionId"].as_i64().expect("transactionId");
    assert!(tx > 0, "{started}");
    cp.status(1, "Charging", &t0).await;
    apply(&app, &b, "fast", 30.0).await;
    assert_eq!(users(&pile(&app, &op, "F1").await), ["a"]);
    assert_eq!(users(&pile(&app, &op, "F2").await), ["b"]);

    let t1 = tick(&app, 480).await;
    cp.meter(tx, 4000, &t1).await;
    let faulted = cp.status(connector, "Faulted", &t1).await;
    assert_eq!(faulted, json!({}), "StatusNotification.conf is empty");
    let f1 = pile_becomes(&app, &op, "F1", "fault").await;
    assert!(users(&f1).is_empty(), "{f1}");

    // The interrupted session's record: the 4 metered kWh at peak (10:08 in China).
    let recs: Vec<Value> = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "a")
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = recs[0].clone();
    assert_eq!(r["pile"], "F1", "{r}");
    assert_eq!(r["kwh"], 4.0, "{r}");
    assert_eq!(r["reason"], "fault", "{r}");
    assert_eq!(
        r["total_fen"],
        fee_fen(&[(4000, 100)]) + fee_fen(&[(4000, 80)]),
        "{r}"
    );

    // The rest is queued on F2 behind b, who goes on charging.
    let f2 = pile(&app, &op, "F2").await;
    assert_eq!(users(&f2), ["b", "a"], "{policy}: {f2}");
    let moved = &f2["cars"][1];
    assert_eq!(moved["charged_kwh"], 4.0, "{moved}");
    assert_eq!(
        moved["requested_kwh"].as_f64().unwrap_or(0.0)
            - moved["charged_kwh"].as_f64().unwrap_or(0.0),
        16.0,
        "{moved}"
    );
    assert_eq!(info(&app, &a).await["charged"], 4.0);

    // The box ends the transaction itself: already closed, nothing more is billed.
    let stopped = cp.stop_transaction(tx, 4000, &t1, "Other", vec![]).await;
    assert_eq!(stopped["idTagInfo"]["status"], "Accepted", "{stopped}");
    let after: Vec<Value> = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "a")
        .collect();
    assert_eq!(after, vec![r], "billed once");

    // Repaired: Available recovers the pile, and `a` (not charging on F2) is called back to it.
    let t2 = tick(&app, 60).await;
    cp.status(connector, "Available", &t2).await;
    pile_becomes(&app, &op, "F1", "working").await;
    let again = cp.expect_call("RemoteStartTransaction").await;
    assert_eq!(again.payload["connectorId"], 1, "{again:?}");
    let f1 = pile(&app, &op, "F1").await;
    assert_eq!(users(&f1), ["a"], "{policy}: {f1}");
    assert_eq!(users(&pile(&app, &op, "F2").await), ["b"]);
    drop(cp);
    app.stop().await;
}

#[tokio::test]
async fn a_faulted_connector_moves_the_car_under_the_priority_policy() {
    a_fault_in_the_middle("priority", 1).await;
}

#[tokio::test]
async fn a_faulted_box_moves_the_car_under_the_time_policy() {
    a_fault_in_the_middle("time", 0).await;
}

#[tokio::test]
async fn a_box_silent_for_longer_than_the_allowed_heartbeats_faults_its_pile() {
    // 3 heartbeats of 10 s: silence of more than 30 s on the server's clock is a fault.
    let app = spawn(|c| {
        c.ocpp.heartbeat_secs = 10;
        c.ocpp.offline_heartbeats = 3;
    })
    .await;
    let op = admin(&app).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    // Heard from every interval: fine for as long as that goes on.
    for _ in 0..6 {
        tick(&app, 10).await;
        cp.call_ok("Heartbeat", json!({})).await;
    }
    assert_eq!(pile(&app, &op, "F1").await["state"], "working");

    let d = driver(&app, "d").await;
    apply(&app, &d, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let t0 = now(&app).await;
    let tx = cp.start_transaction(&tag, 0, &t0).await["transactionId"]
        .as_i64()
        .expect("transactionId");
    let t = tick(&app, 10).await;
    cp.meter(tx, 80, &t).await;
    let t = tick(&app, 10).await;
    cp.meter(tx, 160, &t).await;

    // The connection is lost. 30 s of silence is still within the allowance.
    drop(cp);
    eventually("the server sees the box gone", || async {
        (box_view(&app, &op, "CP1").await["connected"] == false).then_some(())
    })
    .await;
    tick(&app, 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pile(&app, &op, "F1").await["state"],
        "working",
        "30 s of silence is allowed"
    );
    // One more second: a fault, as if the operator had typed it.
    tick(&app, 1).await;
    pile_becomes(&app, &op, "F1", "fault").await;
    let recs: Vec<Value> = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "d")
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["kwh"], 0.16, "{:?}", recs[0]);
    assert_eq!(recs[0]["reason"], "fault", "{:?}", recs[0]);
    // 160 Wh at peak: 16 fen, service 12.8 fen -> 13.
    assert_eq!(recs[0]["total_fen"], 29, "{:?}", recs[0]);
    // The car's remaining energy goes to the other fast pile (simulated, free).
    let f2 = pile(&app, &op, "F2").await;
    assert_eq!(users(&f2), ["d"], "{f2}");

    // Back: boots, says it is available, the pile recovers.
    let mut cp = ChargePoint::connect(app.addr, "CP1", PASSWORD).await;
    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Accepted", "{boot}");
    assert_eq!(boot["interval"], 10, "{boot}");
    let t = now(&app).await;
    cp.status(1, "Available", &t).await;
    pile_becomes(&app, &op, "F1", "working").await;
    drop(cp);
    app.stop().await;
}

/// A box faults mid-session but goes on charging until its own stop comes, later, with the
/// meter's last word: what it gave after the cut is billed once, in a record of its own; a
/// transaction the station does not have (its meter values) makes the server stop it.
#[tokio::test]
async fn a_stop_after_a_fault_bills_the_energy_after_the_cut_once() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 2, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let t0 = now(&app).await;
    let a = driver(&app, "a").await;
    apply(&app, &a, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let tx = cp.start_transaction(&tag, 1_000, &t0).await["transactionId"]
        .as_i64()
        .expect("transactionId");
    let t1 = tick(&app, 240).await;
    cp.meter(tx, 3_000, &t1).await;
    cp.status(1, "Faulted", &t1).await;
    pile_becomes(&app, &op, "F1", "fault").await;
    // The box went on until its stop: 1.5 kWh more after the last reading.
    let t2 = tick(&app, 120).await;
    let stopped = cp.stop_transaction(tx, 4_500, &t2, "Other", vec![]).await;
    assert_eq!(stopped["idTagInfo"]["status"], "Accepted", "{stopped}");
    let mut recs: Vec<Value> = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "a")
        .collect();
    recs.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["kwh"], 2.0, "{:?}", recs[0]);
    assert_eq!(recs[1]["kwh"], 1.5, "{:?}", recs[1]);
    assert_eq!(recs[1]["reason"], "fault", "{:?}", recs[1]);
    // 10:06 in China, peak: 1.5 kWh at 1.00 and 0.80.
    assert_eq!(
        recs[1]["total_fen"],
        fee_fen(&[(1_500, 100)]) + fee_fen(&[(1_500, 80)]),
        "{:?}",
        recs[1]
    );
    // The same stop again bills nothing.
    cp.stop_transaction(tx, 4_500, &t2, "Other", vec![]).await;
    let again = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "a")
        .count();
    assert_eq!(again, 2);

    // Meter values of a transaction nobody has: the box is asked to stop it.
    cp.status(1, "Available", &t2).await;
    pile_becomes(&app, &op, "F1", "working").await;
    cp.meter(987_654, 10_000, &t2).await;
    let stop = cp.expect_call("RemoteStopTransaction").await;
    assert_eq!(stop.payload["transactionId"], 987_654, "{stop:?}");
    drop(cp);
    app.stop().await;
}

/// The pile is back only when neither the box (connector 0) nor its connector (1) says
/// Faulted: the box saying Available while its connector is still faulted is not a recovery.
#[tokio::test]
async fn a_box_available_with_its_connector_still_faulted_stays_down() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let t = now(&app).await;
    cp.status(1, "Faulted", &t).await;
    pile_becomes(&app, &op, "F1", "fault").await;
    cp.status(0, "Available", &t).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pile(&app, &op, "F1").await["state"], "fault");
    cp.status(1, "Available", &t).await;
    pile_becomes(&app, &op, "F1", "working").await;
    drop(cp);
    app.stop().await;
}

/// A fault the operator declared on an OCPP pile stays until the operator lifts it: the box
/// saying it is available does not.
#[tokio::test]
async fn an_operators_fault_is_not_lifted_by_the_box() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let set = |state: &'static str| {
        let (app, op) = (&app, &op);
        async move {
            let r = app
                .post_auth(
                    "/admin/v1/charging/piles/F1/state",
                    op,
                    json!({"state": state}),
                )
                .await;
            assert_eq!(r.status, 200, "{state}: {:?}", r.body);
        }
    };
    set("fault").await;
    let t = now(&app).await;
    cp.status(1, "Available", &t).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pile(&app, &op, "F1").await["state"], "fault");
    set("recover").await;
    assert_eq!(pile(&app, &op, "F1").await["state"], "working");
    // A fault the box reports is lifted by the box.
    cp.status(1, "Faulted", &t).await;
    pile_becomes(&app, &op, "F1", "fault").await;
    cp.status(1, "Available", &t).await;
    pile_becomes(&app, &op, "F1", "working").await;
    drop(cp);
    app.stop().await;
}
