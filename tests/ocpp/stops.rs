//! Sessions that do not end by reaching the requested energy: a driver who cancels (the box is
//! asked to stop until it does), and a box that refuses or ignores the remote start (its pile
//! faults and the car goes elsewhere). A box with a session running cannot be moved or removed.

use serde_json::{Value, json};

use super::chargepoint::Behaviour;
use super::common::TestApp;
use super::{
    PASSWORD, admin, apply, driver, eventually, fee_fen, info, now, pile, put_box, records, spawn,
    station, tick, users,
};

async fn records_of(app: &TestApp, op: &str, user: &str) -> Vec<Value> {
    records(app, op)
        .await
        .into_iter()
        .filter(|r| r["user"] == user)
        .collect()
}

#[tokio::test]
async fn a_driver_who_cancels_is_stopped_at_the_box_and_billed_for_the_metered_energy() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let eve = driver(&app, "eve").await;
    apply(&app, &eve, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let t0 = now(&app).await;
    let tx = cp.start_transaction(&tag, 0, &t0).await["transactionId"]
        .as_i64()
        .expect("transactionId");
    let t = tick(&app, 300).await;
    cp.meter(tx, 2500, &t).await;

    // While the session runs the box stays where it is.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/admin/v1/charging/boxes/CP1",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "delete during a session: {:?}", r.body);
    let r = put_box(&app, &op, "CP1", json!({"pile": "T1"})).await;
    assert_eq!(r.status, 409, "move during a session: {:?}", r.body);
    let r = put_box(
        &app,
        &op,
        "CP2",
        json!({"password": PASSWORD, "pile": "F1"}),
    )
    .await;
    assert_eq!(r.status, 409, "F1 is taken: {:?}", r.body);

    // The driver cancels: the box is told to stop, and told again until it does.
    let r = app
        .post("/charging/user/charge/cancel", json!({"token": eve}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stop = cp.expect_call("RemoteStopTransaction").await;
    assert_eq!(stop.payload, json!({"transactionId": tx}), "{stop:?}");
    tick(&app, 3).await;
    let again = cp.expect_call("RemoteStopTransaction").await;
    assert_eq!(again.payload, json!({"transactionId": tx}), "{again:?}");

    // The stop comes with 3 kWh on the meter: that is what is billed (10:00-10:05, peak).
    let t = now(&app).await;
    let stopped = cp.stop_transaction(tx, 3000, &t, "Remote", vec![]).await;
    assert_eq!(stopped["idTagInfo"]["status"], "Accepted", "{stopped}");
    let recs = records_of(&app, &op, "eve").await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["kwh"], 3.0, "{:?}", recs[0]);
    assert_eq!(
        recs[0]["total_fen"],
        fee_fen(&[(3000, 100)]) + fee_fen(&[(3000, 80)]),
        "{:?}",
        recs[0]
    );
    assert_eq!(info(&app, &eve).await["state"], "none");
    assert!(users(&pile(&app, &op, "F1").await).is_empty());
    // Stopped: no more stops are asked for.
    tick(&app, 3).await;
    let later = cp.calls_within(std::time::Duration::from_millis(500)).await;
    assert!(
        !later.iter().any(|c| c.action == "RemoteStopTransaction"),
        "{later:?}"
    );
    // Now the box may go.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/admin/v1/charging/boxes/CP1",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        cp.closed_within(std::time::Duration::from_secs(5)).await,
        "a deleted box's link is closed"
    );
    assert_eq!(pile(&app, &op, "F1").await["kind"], "simulated");
    app.stop().await;
}

#[tokio::test]
async fn a_box_that_refuses_or_ignores_the_remote_start_faults_its_pile() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 2, "slow_piles": 1})).await;
    let refuses = Behaviour {
        remote_start: Some("Rejected"),
        ..Behaviour::default()
    };
    let mut cp = super::online_box(&app, &op, "CP1", "F1", refuses).await;

    // Refused: F1 is faulted and the car charges on F2 instead.
    let f = driver(&app, "f").await;
    apply(&app, &f, "fast", 10.0).await;
    cp.expect_call("RemoteStartTransaction").await;
    eventually("F1 faults after a refused start", || async {
        (pile(&app, &op, "F1").await["state"] == "fault").then_some(())
    })
    .await;
    assert_eq!(users(&pile(&app, &op, "F2").await), ["f"]);
    assert!(
        records_of(&app, &op, "f").await.is_empty(),
        "nothing metered"
    );

    // Repaired, the box now keeps quiet: after the call timeout (2 s) the same.
    let t = now(&app).await;
    cp.set_behaviour(|b| b.remote_start = None);
    cp.status(1, "Available", &t).await;
    eventually("F1 recovers", || async {
        (pile(&app, &op, "F1").await["state"] == "working").then_some(())
    })
    .await;
    let g = driver(&app, "g").await;
    apply(&app, &g, "fast", 10.0).await;
    cp.expect_call("RemoteStartTransaction").await;
    eventually("F1 faults after an unanswered start", || async {
        (pile(&app, &op, "F1").await["state"] == "fault").then_some(())
    })
    .await;
    assert_eq!(users(&pile(&app, &op, "F2").await), ["f", "g"]);
    drop(cp);
    app.stop().await;
}

/// The box takes the remote start but the driver never plugs in: after `ocpp.plug_in_secs` the
/// request is given up (the driver's stream hears it cancelled, nothing is billed) and the next
/// car is called to the pile.
#[tokio::test]
async fn a_car_that_never_plugs_in_is_given_up_and_the_next_one_called() {
    let app = spawn(|c| c.ocpp.plug_in_secs = 300).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let late = driver(&app, "late").await;
    let next = driver(&app, "next").await;
    apply(&app, &late, "fast", 10.0).await;
    let first = cp.expect_call("RemoteStartTransaction").await;
    apply(&app, &next, "fast", 10.0).await;
    // Within the time allowed nothing happens.
    tick(&app, 300).await;
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(users(&pile(&app, &op, "F1").await), ["late", "next"]);
    // Then the request is given up and the next car is asked for.
    tick(&app, 1).await;
    let second = cp.expect_call("RemoteStartTransaction").await;
    assert_ne!(
        first.payload["idTag"], second.payload["idTag"],
        "{second:?}"
    );
    assert_eq!(users(&pile(&app, &op, "F1").await), ["next"]);
    let gone = app
        .get(&format!("/charging/user/charge/info?token={late}"), None)
        .await;
    assert_ne!(gone.body["state"], "charging", "{:?}", gone.body);
    assert!(
        records(&app, &op).await.iter().all(|r| r["user"] != "late"),
        "nothing billed"
    );
    drop(cp);
    app.stop().await;
}
