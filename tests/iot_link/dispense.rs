//! Vending (device type 4): a member's water balance, credited by a paid order line with a
//! `rent` plan naming the device, pays for what the device says it dispensed, at the product's
//! `rent.price_per_l`, once; nothing is charged when the device is offline or does not answer.

use std::time::Duration;

use serde_json::{Value, json};

use crate::device::TestDevice;
use crate::{Link, R, VID, accepted, buy_plan, dropped_all, eventually, get, post, spawn};

/// 2 yuan a litre; a 10-yuan top-up plan.
fn vending_product() -> Value {
    json!({
        "state": 1, "type": 1, "name": "社区售水机", "desc": "自助售水", "price": 10,
        "rent": {"deposit": 0, "price_per_l": 2,
                 "config": [{"name": "充值10元", "key": "10y", "value": 10}]},
        "specification": {"mode": 0, "filters": [],
            "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
    })
}

/// The member's water balance in yuan.
async fn balance(l: &Link, member: usize) -> f64 {
    let uid = &l.member_ids[member];
    let r = get(&l.app, &format!("/users/{uid}/water"), &l.members[member])
        .await
        .expect(200);
    r.data()["balance"]
        .as_f64()
        .or_else(|| r.data()["balance"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("a balance: {}", r.body))
}

async fn dispense(l: &Link, did: &str, token: &str, body: Value) -> R {
    post(&l.app, &format!("/devices/{did}/dispense"), token, body).await
}

/// `member` tops up 10 yuan for `did` through an order (the `10y` plan) paid through the
/// simulated gateway.
async fn top_up(l: &Link, member: usize, pid: &str, did: &str) {
    buy_plan(l, member, pid, "10y", did).await;
}

/// The vending product and a type-4 device of it, registered; `(product, did, secret)`.
async fn vending(l: &Link) -> (String, &'static str, String) {
    let pid = post(&l.app, "/products", &l.vendor, vending_product())
        .await
        .expect(201)
        .data()["prod_id"]
        .as_str()
        .expect("prod_id")
        .to_owned();
    let did = "DOCHVEND0001";
    let secret = l.register(&[did], 4, Some(&pid), VID).await.remove(0);
    (pid, did, secret)
}

#[tokio::test]
async fn a_dispense_is_refused_offline_to_non_members_and_beyond_the_balance() {
    let l = spawn().await;
    let (_, did, secret) = vending(&l).await;
    let buyer = 3;
    let token = l.members[buyer].clone();
    assert_eq!(balance(&l, buyer).await, 0.0);

    // Offline: refused at once, with a reason.
    let r = dispense(&l, did, &token, json!({"ml": 500}))
        .await
        .expect(422);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );

    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    // Only a member dispenses; a sound body; not a device of another vendor; not a
    // purifier that is neither vending nor rented; not more than the balance pays for.
    dispense(&l, did, &l.vendor, json!({"ml": 500}))
        .await
        .expect(403);
    for bad in [
        json!({}),
        json!({"ml": -5}),
        json!({"ml": 0}),
        json!({"ml": "lots"}),
        json!({"ml": 500, "amount": 1}),
        json!({"ml": 500, "kind": "sparkling"}),
    ] {
        dispense(&l, did, &token, bad).await.expect(422);
    }
    l.other_vendor().await;
    dispense(&l, "AQUA0000LINK", &token, json!({"ml": 500}))
        .await
        .expect(404);
    l.register_one("DOCHLINK0701").await;
    dispense(&l, "DOCHLINK0701", &token, json!({"ml": 500}))
        .await
        .expect(422);
    dispense(&l, did, &token, json!({"ml": 500}))
        .await
        .expect(422);
    // None of it reached the device, or charged anything.
    dev.expect_no_cmd(Duration::from_millis(300)).await;
    assert_eq!(balance(&l, buyer).await, 0.0);
    // Another member's balance is not for this one to read.
    get(&l.app, &format!("/users/{}/water", l.member_ids[2]), &token)
        .await
        .expect(404);

    dev.disconnect().await;
    l.stop().await;
}

#[tokio::test]
async fn a_vending_device_charges_what_it_dispensed_and_only_once() {
    let l = spawn().await;
    let app = &l.app;
    let (pid, did, secret) = vending(&l).await;
    let stored = get(app, &format!("/products/{pid}"), &l.vendor)
        .await
        .expect(200);
    assert_eq!(
        stored.data()["rent"]["price_per_l"],
        2,
        "AC-02 keeps rent.price_per_l: {}",
        stored.body
    );
    let buyer = 3;
    top_up(&l, buyer, &pid, did).await;
    assert_eq!(
        balance(&l, buyer).await,
        10.0,
        "the paid top-up credits the member's water balance"
    );
    let token = l.members[buyer].clone();

    // Offline: nothing charged.
    dispense(&l, did, &token, json!({"ml": 500}))
        .await
        .expect(422);
    assert_eq!(balance(&l, buyer).await, 10.0);

    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    // More than the balance pays for: refused before the device hears of it.
    dispense(&l, did, &token, json!({"ml": 10_000}))
        .await
        .expect(422);
    dev.expect_no_cmd(Duration::from_millis(300)).await;
    assert_eq!(balance(&l, buyer).await, 10.0);

    // No answer: refused once the wait is over, nothing charged.
    let silent = async {
        let c = dev.expect_cmd("dispense").await;
        assert_eq!(c.args["ml"], 500, "{c:?}");
        assert_eq!(c.args["kind"], "normal", "{c:?}");
    };
    let (r, ()) = tokio::join!(dispense(&l, did, &token, json!({"ml": 500})), silent);
    r.expect(422);
    assert_eq!(balance(&l, buyer).await, 10.0);

    // Answered: 400 of the 500 asked came out; 400 ml are charged (0.80 yuan).
    let mut last_result = Vec::new();
    let answering = async {
        let c = dev.expect_cmd("dispense").await;
        assert_eq!(c.args["ml"], 500, "{c:?}");
        dev.ack(&c.cmd).await;
        last_result = dev.result(&c.cmd, true, Some(400)).await;
        c.cmd
    };
    let (r, cmd) = tokio::join!(dispense(&l, did, &token, json!({"ml": 500})), answering);
    let r = r.expect(201);
    assert_eq!(r.data()["cmd_id"], cmd.as_str(), "{}", r.body);
    assert_eq!(r.data()["asked_ml"], 500, "{}", r.body);
    assert_eq!(r.data()["dispensed_ml"], 400, "{}", r.body);
    assert_eq!(r.data()["charged"], 0.8, "{}", r.body);
    assert_eq!(balance(&l, buyer).await, 9.2);

    // The result again: the same frame (a replay) and a new one for the same command.
    let (results, drops) = (accepted(app, "result").await, dropped_all(app).await);
    dev.publish_raw(&l.topics().up(did), last_result).await;
    dev.result(&cmd, true, Some(400)).await;
    eventually("both repeated results taken in or dropped", || async {
        let seen = accepted(app, "result").await - results + dropped_all(app).await - drops;
        (seen >= 2.0).then_some(())
    })
    .await;
    assert_eq!(balance(&l, buyer).await, 9.2, "charged once");

    // By amount: 1 yuan is 500 ml at 2 yuan a litre.
    let answering = async {
        let c = dev.expect_cmd("dispense").await;
        assert_eq!(c.args["ml"], 500, "{c:?}");
        dev.ack(&c.cmd).await;
        dev.result(&c.cmd, true, Some(500)).await;
    };
    let (r, ()) = tokio::join!(dispense(&l, did, &token, json!({"amount": 1})), answering);
    let r = r.expect(201);
    assert_eq!(r.data()["asked_ml"], 500, "{}", r.body);
    assert_eq!(r.data()["charged"], 1.0, "{}", r.body);
    assert_eq!(balance(&l, buyer).await, 8.2);

    let report = app.state.journal.check().await.expect("ledger check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    dev.disconnect().await;
    l.stop().await;
}
