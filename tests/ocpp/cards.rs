//! Drivers' cards: the operator registers a tag for a driver; the box authorizes it, and a
//! transaction started at the box with it on an idle pile is a walk-in session billed to that
//! driver. Unknown tags are refused; a driver with a request elsewhere cannot start another.

use serde_json::{Value, json};

use super::chargepoint::Behaviour;
use super::{
    admin, apply, driver, fee_fen, info, now, pile, records, spawn, station, tick, user_log, users,
};

async fn put_tag(app: &super::common::TestApp, op: &str, tag: &str, driver: &str) -> u16 {
    app.put_auth(
        &format!("/admin/v1/charging/tags/{tag}"),
        op,
        json!({"driver": driver}),
    )
    .await
    .status
}

#[tokio::test]
async fn a_drivers_card_starts_a_walk_in_session_billed_to_the_driver() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    station(&app, &op, json!({"fast_piles": 1, "slow_piles": 1})).await;
    let alice = driver(&app, "alice").await;
    let bob = driver(&app, "bob").await;

    assert_eq!(put_tag(&app, &op, "CARD-ALICE", "alice").await, 200);
    assert_eq!(put_tag(&app, &op, "CARD-BOB", "bob").await, 200);
    let status = put_tag(&app, &op, "CARD-NOBODY", "nobody").await;
    assert!(
        status == 404 || status == 400,
        "a tag for an unknown driver: {status}"
    );
    assert_eq!(put_tag(&app, &op, &"T".repeat(21), "alice").await, 400);
    let r = app.get("/admin/v1/charging/tags", Some(&op)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let listed = r.body.to_string();
    assert!(
        listed.contains("CARD-ALICE")
            && listed.contains("CARD-BOB")
            && !listed.contains("CARD-NOBODY"),
        "{listed}"
    );

    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let ok = cp
        .call_ok("Authorize", json!({"idTag": "CARD-ALICE"}))
        .await;
    assert_eq!(ok["idTagInfo"]["status"], "Accepted", "{ok}");
    let bad = cp.call_ok("Authorize", json!({"idTag": "NOPE"})).await;
    assert_eq!(bad["idTagInfo"]["status"], "Invalid", "{bad}");

    // An unknown card cannot start anything.
    let t0 = now(&app).await;
    let refused = cp.start_transaction("NOPE", 5000, &t0).await;
    assert_eq!(refused["idTagInfo"]["status"], "Invalid", "{refused}");
    assert_eq!(refused["transactionId"], 0, "{refused}");
    assert!(users(&pile(&app, &op, "F1").await).is_empty());

    // Alice's card on the idle pile: a walk-in session of hers.
    let started = cp.start_transaction("CARD-ALICE", 5000, &t0).await;
    assert_eq!(started["idTagInfo"]["status"], "Accepted", "{started}");
    let tx = started["transactionId"].as_i64().expect("transactionId");
    assert!(tx > 0, "{started}");
    let f1 = pile(&app, &op, "F1").await;
    assert_eq!(users(&f1), ["alice"], "{f1}");
    assert_eq!(f1["cars"][0]["requested_kwh"], 100.0, "{f1}");
    assert_eq!(
        super::box_view(&app, &op, "CP1").await["transaction"]["user"],
        "alice"
    );

    // Bob asks for a slow charge meanwhile; it goes to the simulated slow pile.
    apply(&app, &bob, "slow", 5.0).await;
    assert_eq!(users(&pile(&app, &op, "T1").await), ["bob"]);

    let t = tick(&app, 600).await;
    cp.meter(tx, 10_000, &t).await;
    assert_eq!(info(&app, &alice).await["charged"], 5.0);
    let t = tick(&app, 600).await;
    let stopped = cp.stop_transaction(tx, 12_000, &t, "Local", vec![]).await;
    assert_eq!(stopped["idTagInfo"]["status"], "Accepted", "{stopped}");

    // Her record: 7 kWh at peak (10:00-10:20 in China) + service.
    let recs: Vec<Value> = records(&app, &op)
        .await
        .into_iter()
        .filter(|r| r["user"] == "alice")
        .collect();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["pile"], "F1", "{:?}", recs[0]);
    assert_eq!(recs[0]["kwh"], 7.0, "{:?}", recs[0]);
    let total = fee_fen(&[(7000, 100)]) + fee_fen(&[(7000, 80)]);
    assert_eq!(recs[0]["total_fen"], total, "{:?}", recs[0]);
    let (log, text) = user_log(&app, &alice).await;
    assert_eq!(log.len(), 1, "{text}");
    assert_eq!(log[0]["quantity"], 7.0, "{text}");
    assert!(text.contains("\"cost\":12.60"), "{text}");
    assert!(users(&pile(&app, &op, "F1").await).is_empty());

    // Bob, whose request is on T1, cannot start a second session with his card.
    let t = now(&app).await;
    let busy = cp.start_transaction("CARD-BOB", 12_000, &t).await;
    assert_eq!(busy["idTagInfo"]["status"], "ConcurrentTx", "{busy}");
    assert_eq!(busy["transactionId"], 0, "{busy}");
    assert_eq!(users(&pile(&app, &op, "F1").await), Vec::<String>::new());

    // A card taken away no longer opens anything.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/admin/v1/charging/tags/CARD-ALICE",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let gone = cp
        .call_ok("Authorize", json!({"idTag": "CARD-ALICE"}))
        .await;
    assert_eq!(gone["idTagInfo"]["status"], "Invalid", "{gone}");
    drop(cp);
    app.stop().await;
}
