//! A session on an OCPP pile lives in the station's log: the server stops in the middle of it
//! and starts again on the same database; the box reconnects without booting again, its meter
//! values go on counting, and its stop bills the whole transaction once.

use serde_json::json;

use super::chargepoint::{Behaviour, ChargePoint};
use super::common::{self, TestApp};
use super::{
    PASSWORD, admin, apply, box_view, clock_to, driver, eventually, fee_fen, info, ocpp_settings,
    records, station,
};

async fn start_on(url: &str) -> TestApp {
    let url = url.to_owned();
    common::spawn_with(move |c| {
        ocpp_settings(c);
        c.server.database_url = utilhall::config::Secret(url);
    })
    .await
}

#[tokio::test]
async fn a_session_survives_a_restart_of_the_server() {
    let db_dir = tempfile::tempdir().expect("tempdir");
    let url = common::test_database_url(&db_dir).await;
    let first = start_on(&url).await;
    // 10:00 in China: peak (1.00) all along.
    let t0 = clock_to(&first, "2026-01-05T02:00:00Z").await;
    let op = admin(&first).await;
    station(&first, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let mut cp = super::online_box(&first, &op, "CP1", "F1", Behaviour::default()).await;
    let d = driver(&first, "d").await;
    apply(&first, &d, "fast", 10.0).await;
    let tag = cp.expect_call("RemoteStartTransaction").await.payload["idTag"]
        .as_str()
        .expect("idTag")
        .to_owned();
    let tx = cp.start_transaction(&tag, 500, &t0).await["transactionId"]
        .as_i64()
        .expect("transactionId");
    let t1 = clock_to(&first, "2026-01-05T02:06:00Z").await;
    cp.meter(tx, 3_500, &t1).await;
    drop(cp);
    first.stop().await;

    // The same database, a new process (its simulated clock starts over: moved on past t1).
    let second = start_on(&url).await;
    let t2 = clock_to(&second, "2026-01-05T02:10:00Z").await;
    let op = admin(&second).await;
    assert_eq!(info(&second, &d).await["charged"], 3.0, "the meter so far");
    let mut cp = ChargePoint::connect_with(
        second.addr,
        "CP1",
        Some(PASSWORD),
        Some("ocpp1.6"),
        Behaviour::default(),
    )
    .await
    .expect("the box reconnects");
    // No BootNotification: the box booted before, so its calls are taken.
    let r = cp
        .call(
            "MeterValues",
            json!({
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [super::chargepoint::reading(6_500, &t2)],
            }),
        )
        .await
        .expect("meter values after the restart");
    assert_eq!(r, json!({}));
    eventually("the box is connected again", || async {
        (box_view(&second, &op, "CP1").await["transaction"]["id"] == tx).then_some(())
    })
    .await;
    assert_eq!(info(&second, &d).await["charged"], 6.0);
    // 10 kWh reached: the server asks the box to stop.
    let t3 = clock_to(&second, "2026-01-05T02:13:00Z").await;
    cp.meter(tx, 10_500, &t3).await;
    let stop = cp.expect_call("RemoteStopTransaction").await;
    assert_eq!(stop.payload["transactionId"], tx, "{stop:?}");
    let done = cp.stop_transaction(tx, 10_600, &t3, "Remote", vec![]).await;
    assert_eq!(done["idTagInfo"]["status"], "Accepted", "{done}");
    // Once more, as a box that did not hear the answer would: billed once.
    cp.stop_transaction(tx, 10_600, &t3, "Remote", vec![]).await;
    let recs: Vec<_> = records(&second, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "d")
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["kwh"], 10.1, "{:?}", recs[0]);
    assert_eq!(
        recs[0]["total_fen"],
        fee_fen(&[(10_100, 100)]) + fee_fen(&[(10_100, 80)]),
        "{:?}",
        recs[0]
    );
    drop(cp);
    second.stop().await;
}
