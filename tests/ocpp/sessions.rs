//! Sessions the scheduler starts on an OCPP pile: RemoteStartTransaction, the meter values that
//! move the car's energy and fee, RemoteStopTransaction at the requested energy, and the detail
//! record priced per tariff period from the metered timeline; a reconnect in the middle; a meter
//! that goes backwards.

use serde_json::{Value, json};

use super::chargepoint::{Behaviour, reading};
use super::common::TestApp;
use super::link::ms;
use super::{
    admin, apply, box_view, clock_to, driver, eventually, fee_fen, fen, info, metric, now, pile,
    records, spawn, station, tick, user_log, users,
};

/// Fen per kWh of the standard tariff (`Tariff::standard`).
const VALLEY: i64 = 40;
const FLAT: i64 = 70;
const PEAK: i64 = 100;
const SERVICE: i64 = 80;

/// The car at pile `pile_id` that belongs to `user`.
async fn car(app: &TestApp, op: &str, pile_id: &str, user: &str) -> Value {
    let p = pile(app, op, pile_id).await;
    p["cars"]
        .as_array()
        .and_then(|cars| cars.iter().find(|c| c["user"] == user).cloned())
        .unwrap_or_else(|| panic!("no car of {user} at {pile_id}: {p}"))
}

/// The operator's records of `user`.
async fn records_of(app: &TestApp, op: &str, user: &str) -> Vec<Value> {
    records(app, op)
        .await
        .into_iter()
        .filter(|r| r["user"] == user)
        .collect()
}

#[tokio::test]
async fn a_remote_started_session_is_billed_per_period_from_the_meter() {
    let app = spawn(|_| {}).await;
    // 06:50 in China on 6 January: valley (0.40) until 07:00, then flat (0.70). (The operator
    // logs in after the clock moves: a token does not last 21 hours.)
    let t0 = clock_to(&app, "2026-01-05T22:50:00Z").await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::smart()).await;
    cp.status(1, "Available", &t0).await;
    let alice = driver(&app, "alice").await;
    let applied = apply(&app, &alice, "fast", 10.0).await;
    assert_eq!(applied["number"], "F1", "{applied}");

    // The box is asked to start, with a profile capping it at the pile's 30 kW.
    let start = cp.expect_call("RemoteStartTransaction").await;
    assert_eq!(start.payload["connectorId"], 1, "{start:?}");
    let tag = start.payload["idTag"]
        .as_str()
        .expect("an idTag")
        .to_owned();
    assert!(tag.starts_with("UH") && tag.len() <= 20, "{tag}");
    let profile = &start.payload["chargingProfile"];
    assert_eq!(profile["chargingProfilePurpose"], "TxProfile", "{profile}");
    assert!(
        profile["chargingProfileKind"] == "Absolute"
            || profile["chargingProfileKind"] == "Relative",
        "{profile}"
    );
    let schedule = &profile["chargingSchedule"];
    assert_eq!(schedule["chargingRateUnit"], "W", "{profile}");
    assert_eq!(
        schedule["chargingSchedulePeriod"][0]["limit"].as_f64(),
        Some(30_000.0),
        "{profile}"
    );
    assert_eq!(
        schedule["chargingSchedulePeriod"][0]["startPeriod"], 0,
        "{profile}"
    );

    // The box checks the tag and starts the transaction, meter at 1,000 kWh.
    let auth = cp.call_ok("Authorize", json!({"idTag": tag})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Accepted", "{auth}");
    let started = cp.start_transaction(&tag, 1_000_000, &t0).await;
    assert_eq!(started["idTagInfo"]["status"], "Accepted", "{started}");
    let tx = started["transactionId"].as_i64().expect("transactionId");
    assert!(tx > 0, "{started}");
    cp.status(1, "Charging", &t0).await;
    let view = box_view(&app, &op, "CP1").await;
    assert_eq!(view["transaction"]["id"], tx, "{view}");
    assert_eq!(view["transaction"]["user"], "alice", "{view}");
    assert_eq!(view["transaction"]["meter_start_kwh"], 1000.0, "{view}");

    // 06:55: 1 kWh. 07:05: 4 kWh more, spread over the boundary: 2 valley, 2 flat.
    let t1 = tick(&app, 300).await;
    cp.meter(tx, 1_001_000, &t1).await;
    let t2 = tick(&app, 600).await;
    cp.meter(tx, 1_005_000, &t2).await;
    let so_far = car(&app, &op, "F1", "alice").await;
    assert_eq!(so_far["charged_kwh"], 5.0, "{so_far}");
    let fee_so_far = fee_fen(&[(3000, VALLEY), (2000, FLAT)]) + fee_fen(&[(5000, SERVICE)]);
    assert_eq!(fee_so_far, 660);
    assert_eq!(so_far["fee_so_far_fen"], fee_so_far, "{so_far}");
    assert_eq!(
        box_view(&app, &op, "CP1").await["transaction"]["meter_kwh"],
        1005.0
    );
    let mid = info(&app, &alice).await;
    assert_eq!(mid["charged"], 5.0, "{mid}");
    // Not done: no stop yet.
    assert!(
        !cp.calls_within(std::time::Duration::from_millis(200))
            .await
            .iter()
            .any(|c| c.action == "RemoteStopTransaction"),
        "stopped early"
    );

    // 07:15: 10 kWh in all, what was asked: the server stops the box.
    let t3 = tick(&app, 600).await;
    cp.meter(tx, 1_010_000, &t3).await;
    let stop = cp.expect_call("RemoteStopTransaction").await;
    assert_eq!(stop.payload, json!({"transactionId": tx}), "{stop:?}");
    let stopped = cp
        .stop_transaction(tx, 1_010_000, &t3, "Remote", vec![])
        .await;
    assert_eq!(stopped["idTagInfo"]["status"], "Accepted", "{stopped}");
    cp.status(1, "Finishing", &t3).await;

    // Priced by hand: 3 kWh valley + 7 kWh flat = 1.20 + 4.90; service 10 x 0.80.
    let charge = fee_fen(&[(1000, VALLEY), (2000, VALLEY), (2000, FLAT), (5000, FLAT)]);
    let service = fee_fen(&[(10_000, SERVICE)]);
    assert_eq!((charge, service), (610, 800));
    let recs = records_of(&app, &op, "alice").await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["pile"], "F1", "{r}");
    assert_eq!(r["kwh"], 10.0, "{r}");
    assert_eq!(ms(r["start"].as_str().expect("start")), ms(&t0), "{r}");
    assert_eq!(ms(r["stop"].as_str().expect("stop")), ms(&t3), "{r}");
    assert_eq!(fen(&r["charge_fee"]), charge, "{r}");
    assert_eq!(fen(&r["service_fee"]), service, "{r}");
    assert_eq!(r["total_fen"], charge + service, "{r}");

    let (log, text) = user_log(&app, &alice).await;
    assert_eq!(log.len(), 1, "{text}");
    assert_eq!(log[0]["quantity"], 10.0, "{text}");
    assert_eq!(log[0]["startTime"], "2026-01-06 06:50:00", "{text}");
    assert_eq!(log[0]["endTime"], "2026-01-06 07:15:00", "{text}");
    assert!(text.contains("\"costOfCharge\":6.10"), "{text}");
    assert!(text.contains("\"costOfService\":8.00"), "{text}");
    assert!(text.contains("\"cost\":14.10"), "{text}");
    assert_eq!(info(&app, &alice).await["state"], "none");
    assert!(users(&pile(&app, &op, "F1").await).is_empty());
    assert_eq!(box_view(&app, &op, "CP1").await["transaction"], json!(null));
    drop(cp);
    app.stop().await;
}

#[tokio::test]
async fn a_box_without_smart_charging_gets_no_profile() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    assert_eq!(box_view(&app, &op, "CP1").await["smart_charging"], false);
    let dan = driver(&app, "dan").await;
    apply(&app, &dan, "fast", 5.0).await;
    let start = cp.expect_call("RemoteStartTransaction").await;
    assert_eq!(start.payload["connectorId"], 1, "{start:?}");
    assert!(start.payload["idTag"].as_str().is_some(), "{start:?}");
    assert!(
        start.payload.get("chargingProfile").is_none(),
        "a box without SmartCharging: {start:?}"
    );
    drop(cp);
    app.stop().await;
}

#[tokio::test]
async fn a_box_that_reconnects_mid_session_resumes_and_is_billed_once() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let bob = driver(&app, "bob").await;
    apply(&app, &bob, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    // 10:00 in China: peak, 1.00 a kWh.
    let t0 = now(&app).await;
    let started = cp.start_transaction(&tag, 0, &t0).await;
    let tx = started["transactionId"].as_i64().expect("transactionId");
    assert!(tx > 0, "{started}");
    let t = tick(&app, 240).await;
    cp.meter(tx, 2000, &t).await;

    // The box loses power, comes back a minute later and talks without booting again.
    drop(cp);
    eventually("the server sees the box gone", || async {
        (box_view(&app, &op, "CP1").await["connected"] == false).then_some(())
    })
    .await;
    tick(&app, 60).await;
    let mut cp = super::chargepoint::ChargePoint::connect(app.addr, "CP1", super::PASSWORD).await;
    let t = tick(&app, 60).await;
    cp.meter(tx, 3000, &t).await;
    assert_eq!(car(&app, &op, "F1", "bob").await["charged_kwh"], 3.0);
    let hb = cp.call("Heartbeat", json!({})).await;
    assert!(hb.is_ok(), "accepted without a new boot: {hb:?}");
    let view = box_view(&app, &op, "CP1").await;
    assert_eq!(view["connected"], true, "{view}");
    assert_eq!(view["transaction"]["id"], tx, "{view}");
    assert_eq!(view["transaction"]["meter_kwh"], 3.0, "{view}");
    let t = tick(&app, 120).await;
    cp.meter(tx, 4000, &t).await;

    // Gone again; the driver unplugs during the outage; the box reports the stop with the
    // readings it kept when it is back, and sends it twice (it never saw the first answer).
    drop(cp);
    eventually("the server sees the box gone", || async {
        (box_view(&app, &op, "CP1").await["connected"] == false).then_some(())
    })
    .await;
    let t_kept = tick(&app, 60).await;
    let t_stop = tick(&app, 60).await;
    let mut cp = super::chargepoint::ChargePoint::connect(app.addr, "CP1", super::PASSWORD).await;
    let data = vec![reading(4500, &t_kept), reading(5000, &t_stop)];
    let first = cp
        .stop_transaction(tx, 5000, &t_stop, "EVDisconnected", data.clone())
        .await;
    assert_eq!(first["idTagInfo"]["status"], "Accepted", "{first}");
    let recs = records_of(&app, &op, "bob").await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = recs[0].clone();
    assert_eq!(r["kwh"], 5.0, "{r}");
    assert_eq!(ms(r["start"].as_str().expect("start")), ms(&t0), "{r}");
    assert_eq!(ms(r["stop"].as_str().expect("stop")), ms(&t_stop), "{r}");
    // 5 kWh at peak 1.00 + 5 x 0.80.
    assert_eq!(fen(&r["charge_fee"]), fee_fen(&[(5000, PEAK)]), "{r}");
    assert_eq!(fen(&r["service_fee"]), fee_fen(&[(5000, SERVICE)]), "{r}");
    assert_eq!(r["total_fen"], 900, "{r}");

    let again = cp
        .stop_transaction(tx, 5000, &t_stop, "EVDisconnected", data)
        .await;
    assert_eq!(again["idTagInfo"]["status"], "Accepted", "{again}");
    tick(&app, 60).await;
    let recs = records_of(&app, &op, "bob").await;
    assert_eq!(recs.len(), 1, "billed once: {recs:?}");
    assert_eq!(recs[0], r);
    let (log, text) = user_log(&app, &bob).await;
    assert_eq!(log.len(), 1, "{text}");
    assert_eq!(log[0]["quantity"], 5.0, "{text}");
    drop(cp);
    app.stop().await;
}

#[tokio::test]
async fn a_meter_reading_lower_than_the_last_is_ignored_and_counted() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let carol = driver(&app, "carol").await;
    apply(&app, &carol, "fast", 20.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let t0 = now(&app).await;
    let tx = cp.start_transaction(&tag, 0, &t0).await["transactionId"]
        .as_i64()
        .expect("transactionId");
    let regressions = "utilhall_ocpp_meter_regressions_total ";
    let before = metric(&app, regressions).await;

    let t = tick(&app, 120).await;
    cp.meter(tx, 1000, &t).await;
    assert_eq!(car(&app, &op, "F1", "carol").await["charged_kwh"], 1.0);
    let t = tick(&app, 120).await;
    let answer = cp.meter(tx, 800, &t).await;
    assert_eq!(answer, json!({}), "MeterValues.conf is empty");
    let c = car(&app, &op, "F1", "carol").await;
    assert_eq!(c["charged_kwh"], 1.0, "the lower reading is ignored: {c}");
    assert_eq!(metric(&app, regressions).await, before + 1.0);
    let t = tick(&app, 120).await;
    cp.meter(tx, 2000, &t).await;
    assert_eq!(car(&app, &op, "F1", "carol").await["charged_kwh"], 2.0);
    assert_eq!(metric(&app, regressions).await, before + 1.0);

    cp.stop_transaction(tx, 2000, &t, "Local", vec![]).await;
    let recs = records_of(&app, &op, "carol").await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["kwh"], 2.0, "{:?}", recs[0]);
    // 2 kWh at peak 1.00 + 2 x 0.80.
    assert_eq!(recs[0]["total_fen"], 360, "{:?}", recs[0]);
    drop(cp);
    app.stop().await;
}
