//! Rentals through the front door: a member renews a timed rental (device type 2) or tops up
//! a metered one (type 3) with a paid order line naming the device; the device is locked
//! (a verified `lock` command and a retained `desired`) when its rent runs out or its prepaid
//! balance is used up, and unlocked when renewed or topped up; a timed rental left expired
//! past the grace gets one removal ticket; a metered rental pays its water, in whole fen, and
//! its minimum per period, once; the journal holds (`utilhall ledger check`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::child::ledger_check;
use crate::device::{TestDevice, report, retained_desired};
use crate::{
    Link, VID, buy_plan, epoch, eventually, fen, fresh_names, get, now_secs, post, spawn_custom,
    tick,
};

const DAY: i64 = 86_400;

/// The member who rents (张一).
const RENTER: usize = 0;

/// A server whose database the test knows (for `utilhall ledger check`), tweaked by `tweak`;
/// the database's directory and URL.
async fn spawn_checked(
    tweak: impl FnOnce(&mut utilhall::config::Config) + Send + 'static,
) -> (Link, tempfile::TempDir, String) {
    let db = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&db).await;
    let (prefix, client_id) = fresh_names();
    let u = url.clone();
    let l = spawn_custom(&prefix, &client_id, crate::BROKER_PORT, move |c| {
        c.server.database_url = utilhall::config::Secret(u);
        tweak(c);
    })
    .await;
    (l, db, url)
}

/// AC-02 by the vendor: `body`; the product's id.
async fn product(l: &Link, body: Value) -> String {
    post(&l.app, "/products", &l.vendor, body)
        .await
        .expect(201)
        .data()["prod_id"]
        .as_str()
        .expect("prod_id")
        .to_owned()
}

/// A device of type `dtype` and product `pid`, registered and bound to the renter; its secret.
async fn rented(l: &Link, did: &str, dtype: i64, pid: &str) -> String {
    let secret = l.register(&[did], dtype, Some(pid), VID).await.remove(0);
    l.bind(RENTER, did).await;
    secret
}

/// `GET /devices/{did}/balance` as the renter sees it.
async fn balance(l: &Link, did: &str) -> Value {
    get(
        &l.app,
        &format!("/devices/{did}/balance"),
        &l.members[RENTER],
    )
    .await
    .expect(200)
    .data()
    .clone()
}

/// Waits until the balance view satisfies `check`; the last view.
async fn balance_until(l: &Link, did: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(what, || async {
        let b = balance(l, did).await;
        check(&b).then_some(b)
    })
    .await
}

/// AB-07 as the renter sees it.
async fn svc(l: &Link, did: &str) -> Value {
    get(&l.app, &format!("/devices/{did}/svc"), &l.members[RENTER])
        .await
        .expect(200)
        .data()
        .clone()
}

/// The device takes command `op` as a purifier does: checks it, acks it, reports it done.
async fn obey(dev: &mut TestDevice, op: &str) -> crate::device::Cmd {
    let c = dev.expect_cmd(op).await;
    dev.ack(&c.cmd).await;
    dev.result(&c.cmd, true, None).await;
    c
}

/// The state of command `cid` in the device's log, once it is `done`.
async fn command_done(l: &Link, did: &str, cid: &str) {
    eventually(&format!("command {cid} done in the log"), || async {
        let log = get(&l.app, &format!("/devices/{did}/commands"), &l.vendor)
            .await
            .expect(200);
        log.data()
            .as_array()
            .expect("commands")
            .iter()
            .any(|c| c["cmd_id"] == cid && c["state"] == "done")
            .then_some(())
    })
    .await;
}

/// The history's length.
async fn reports(l: &Link, did: &str) -> i64 {
    get(&l.app, &format!("/devices/{did}/history"), &l.vendor)
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("total")
}

/// Sends `r` and waits until it is in the history.
async fn reported(l: &Link, dev: &mut TestDevice, r: &utilhall::domain::iot::protocol::Report) {
    let before = reports(l, &dev.did).await;
    dev.report(r).await;
    eventually("the report in the history", || async {
        (reports(l, &dev.did).await > before).then_some(())
    })
    .await;
}

/// Asks the renter's device for water: the answer's status and message.
async fn dispense(l: &Link, did: &str) -> crate::R {
    post(
        &l.app,
        &format!("/devices/{did}/dispense"),
        &l.members[RENTER],
        json!({"ml": 500}),
    )
    .await
}

/// `utilhall ledger check` of the test's database passes, and counts the demo's journal
/// entries and the test's `ours`.
fn ledger_holds(db: &tempfile::TempDir, url: &str, ours: usize) {
    let check = ledger_check(db.path(), url);
    assert!(check.passed, "utilhall ledger check: {}", check.output);
    assert_eq!(
        check.entries,
        crate::common::DEMO_ENTRIES + ours,
        "{}",
        check.output
    );
}

#[tokio::test]
async fn a_timed_rental_locks_at_its_end_is_removed_after_the_grace_and_renewed_unlocks() {
    let (mut l, db, url) = spawn_checked(|c| c.iot.rent_grace_days = 1).await;
    let pid = product(
        &l,
        json!({
            "state": 1, "type": 1, "name": "租赁净水机", "desc": "按月租赁", "price": 1980,
            "rent": {"deposit": 0, "config": [{"name": "30天", "key": "30d", "value": 60}]},
            "specification": {"mode": 0, "filters": [],
                "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
        }),
    )
    .await;
    let did = "DOCHRENT0001";
    let secret = rented(&l, did, 2, &pid).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    reported(&l, &mut dev, &report(10.0, 1.0, 5_000)).await;
    let b = balance(&l, did).await;
    assert_eq!(b["rent_until"], "", "not rented yet: {b}");
    assert_eq!(b["locked"], false, "{b}");

    // Renewed for 30 days: AB-07's expire and the balance's rent_until are 30 days ahead.
    let before = now_secs(&l.app).await;
    buy_plan(&l, RENTER, &pid, "30d", did).await;
    let after = now_secs(&l.app).await;
    let s = svc(&l, did).await;
    let expire = s["expire"]
        .as_i64()
        .unwrap_or_else(|| panic!("expire: {s}"));
    assert!(
        (before + 30 * DAY..=after + 30 * DAY).contains(&expire),
        "expire {expire} is 30 days after the payment ({before}..{after}): {s}"
    );
    assert_eq!(s["state"], 1, "{s}");
    let b = balance(&l, did).await;
    assert_eq!(
        epoch(b["rent_until"].as_str().expect("rent_until")),
        expire,
        "{b}"
    );
    assert_eq!(b["locked"], false, "{b}");

    // Rented: the renter's water comes out (free: the rent pays for it).
    let answering = async {
        let c = dev.expect_cmd("dispense").await;
        dev.ack(&c.cmd).await;
        dev.result(&c.cmd, true, Some(500)).await;
    };
    let (r, ()) = tokio::join!(dispense(&l, did), answering);
    let r = r.expect(201);
    assert_eq!(r.data()["dispensed_ml"], 500, "{}", r.body);
    assert_eq!(fen(&r.data()["charged"]), 0, "{}", r.body);

    // The rent runs out: the device is told to lock, and must hold it locked.
    let now = now_secs(&l.app).await;
    tick(&l.app, expire - now + 60).await;
    l.log_in_again().await;
    let lock = obey(&mut dev, "lock").await;
    assert_eq!(lock.args["reason"], "rent", "{lock:?}");
    dev.expect_desired("locked: true", |locked, _| locked).await;
    assert_eq!(
        retained_desired(&l, did, &secret).await.map(|d| d.0),
        Some(true),
        "a device that connects anew is told it is locked"
    );
    command_done(&l, did, &lock.cmd).await;
    let b = balance(&l, did).await;
    assert_eq!(b["locked"], true, "{b}");
    assert_eq!(b["lock_reason"], "rent", "{b}");
    // Locked: no water, even for the renter (the device is online: it just reported).
    reported(&l, &mut dev, &report(11.0, 1.0, 5_500)).await;
    let r = dispense(&l, did).await.expect(422);
    let why = r.body["message"].as_str().unwrap_or_default().to_owned();
    assert!(why.contains("locked"), "{}", r.body);
    dev.expect_no_cmd(Duration::from_millis(300)).await;

    // Within the grace: no removal ticket.
    assert!(l.tickets(did, 6).await.is_empty());
    // Past it: one, and only one however long it stays unrenewed.
    tick(&l.app, DAY).await;
    let removal = eventually("a removal ticket", || async {
        let t = l.tickets(did, 6).await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(removal.len(), 1, "{removal:?}");
    assert_eq!(removal[0]["device_id"], did, "{removal:?}");
    tick(&l.app, DAY).await;
    // The sweeps run every two seconds; nothing is sent to a device locked already.
    dev.expect_no_cmd(Duration::from_secs(5)).await;
    assert_eq!(
        l.tickets(did, 6).await.len(),
        1,
        "one removal ticket per expiry"
    );

    // Renewed: 30 days from now, and unlocked.
    let before = now_secs(&l.app).await;
    buy_plan(&l, RENTER, &pid, "30d", did).await;
    let after = now_secs(&l.app).await;
    let unlock = obey(&mut dev, "unlock").await;
    dev.expect_desired("locked: false", |locked, _| !locked)
        .await;
    command_done(&l, did, &unlock.cmd).await;
    let b = balance(&l, did).await;
    assert_eq!(b["locked"], false, "{b}");
    assert_eq!(b["lock_reason"], "", "{b}");
    let expire = svc(&l, did).await["expire"].as_i64().expect("expire");
    assert!(
        (before + 30 * DAY..=after + 30 * DAY).contains(&expire),
        "renewed from the payment: {expire} ({before}..{after})"
    );
    assert_eq!(l.tickets(did, 6).await.len(), 1);
    assert_eq!(
        retained_desired(&l, did, &secret).await.map(|d| d.0),
        Some(false)
    );

    // The two payments.
    ledger_holds(&db, &url, 2);
    dev.disconnect().await;
    l.stop().await;
}

/// Water at 0.50 yuan a litre, a minimum of 30 yuan a period, a 50-yuan top-up plan.
fn metered_product() -> Value {
    json!({
        "state": 1, "type": 1, "name": "计量净水机", "desc": "按量计费", "price": 0,
        "rent": {"deposit": 0, "price_per_l": 0.5, "minimum": 30,
                 "config": [{"name": "充值50元", "key": "50", "value": 50}]},
        "specification": {"mode": 0, "filters": [],
            "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
    })
}

/// A purifier's counters since manufacture when it is installed: 1,000 litres made.
const MADE_ML: i64 = 1_000_000;

#[tokio::test]
async fn a_metered_rental_pays_its_water_in_fen_locks_when_used_up_and_unlocks_when_topped_up() {
    let (l, db, url) = spawn_checked(|_| {}).await;
    let pid = product(&l, metered_product()).await;
    let did = "DOCHMETR0001";
    let secret = rented(&l, did, 3, &pid).await;
    let b = balance(&l, did).await;
    assert_eq!(b["metered"], true, "{b}");
    assert_eq!(fen(&b["balance"]), 0, "{b}");

    // Topped up with 50 yuan.
    buy_plan(&l, RENTER, &pid, "50", did).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 5_000, "{b}");
    assert_eq!(b["locked"], false, "{b}");

    // Installed: its first report carries what it made since manufacture, which is not the
    // renter's water.
    let mut dev = TestDevice::online(&l, did, &secret).await;
    reported(&l, &mut dev, &report(1_200.0, 100.0, MADE_ML)).await;
    let b = balance(&l, did).await;
    assert_eq!(
        fen(&b["balance"]),
        5_000,
        "the water made before the rental is not charged: {b}"
    );

    // 10 litres: 5 yuan.
    reported(&l, &mut dev, &report(1_201.0, 101.0, MADE_ML + 10_000)).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 4_500, "{b}");
    assert_eq!(b["billed_ml"], MADE_ML + 10_000, "{b}");
    // 333 ml: 16.65 fen; 16 are charged, the part of a fen waits for more water.
    reported(&l, &mut dev, &report(1_202.0, 102.0, MADE_ML + 10_333)).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 4_484, "{b}");
    assert_eq!(b["locked"], false, "{b}");
    dev.expect_no_cmd(Duration::from_millis(300)).await;

    // 100 litres, more than the 44.84 yuan left pay for: 50 yuan charged, the balance below
    // zero, and the device locked.
    reported(&l, &mut dev, &report(1_203.0, 103.0, MADE_ML + 110_333)).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 4_484 - 5_000, "{b}");
    assert_eq!(b["billed_ml"], MADE_ML + 110_333, "{b}");
    let lock = obey(&mut dev, "lock").await;
    assert_eq!(lock.args["reason"], "balance", "{lock:?}");
    dev.expect_desired("locked: true", |locked, _| locked).await;
    let b = balance_until(&l, did, "locked", |b| b["locked"] == true).await;
    assert_eq!(b["lock_reason"], "balance", "{b}");
    let r = dispense(&l, did).await.expect(422);
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("locked")),
        "{}",
        r.body
    );
    // A litre more while locked (what was in the tank) is charged too, and locks nothing again.
    reported(&l, &mut dev, &report(1_204.0, 104.0, MADE_ML + 111_333)).await;
    assert_eq!(fen(&balance(&l, did).await["balance"]), -516 - 50);
    dev.expect_no_cmd(Duration::from_millis(500)).await;

    // Topped up: 50 yuan pay the debt and leave 44.34; unlocked.
    buy_plan(&l, RENTER, &pid, "50", did).await;
    let unlock = obey(&mut dev, "unlock").await;
    dev.expect_desired("locked: false", |locked, _| !locked)
        .await;
    command_done(&l, did, &unlock.cmd).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 4_434, "{b}");
    assert_eq!(b["locked"], false, "{b}");
    assert_eq!(b["lock_reason"], "", "{b}");
    assert_eq!(
        retained_desired(&l, did, &secret).await.map(|d| d.0),
        Some(false)
    );

    // Two payments and their credits; four charges of water, each to the prepaid balance
    // and the vendor's water sales.
    ledger_holds(&db, &url, 2 + 2 + 4 * 2);
    dev.disconnect().await;
    l.stop().await;
}

#[tokio::test]
async fn a_metered_rental_pays_the_minimum_of_each_period_once() {
    let (l, db, url) = spawn_checked(|c| c.iot.min_period_days = 1).await;
    let pid = product(&l, metered_product()).await;
    let did = "DOCHMETR0002";
    let secret = rented(&l, did, 3, &pid).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    reported(&l, &mut dev, &report(1_200.0, 100.0, MADE_ML)).await;

    // The first top-up starts the first period.
    let started = now_secs(&l.app).await;
    buy_plan(&l, RENTER, &pid, "50", did).await;
    // 10 litres in it: 5 yuan of the 30-yuan minimum.
    reported(&l, &mut dev, &report(1_201.0, 101.0, MADE_ML + 10_000)).await;
    assert_eq!(fen(&balance(&l, did).await["balance"]), 4_500);

    // Not yet at the period's end: nothing more.
    tick(&l.app, DAY - 120).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fen(&balance(&l, did).await["balance"]), 4_500);

    // Past it: the 25 yuan short of the minimum, once.
    let now = now_secs(&l.app).await;
    tick(&l.app, started + DAY + 60 - now).await;
    balance_until(&l, did, "the minimum's shortfall charged", |b| {
        fen(&b["balance"]) != 4_500
    })
    .await;
    assert_eq!(fen(&balance(&l, did).await["balance"]), 2_000);
    // Sweeps come every two seconds: none charges the period again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let b = balance(&l, did).await;
    assert_eq!(fen(&b["balance"]), 2_000, "charged once: {b}");
    assert_eq!(b["locked"], false, "{b}");

    // The next period used nothing: all 30 yuan of it, which overdraws the balance: locked.
    tick(&l.app, DAY).await;
    let lock = obey(&mut dev, "lock").await;
    assert_eq!(lock.args["reason"], "balance", "{lock:?}");
    let b = balance_until(&l, did, "locked", |b| b["locked"] == true).await;
    assert_eq!(fen(&b["balance"]), -1_000, "{b}");
    assert_eq!(b["lock_reason"], "balance", "{b}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fen(&balance(&l, did).await["balance"]), -1_000);

    // The payment and its credit; the water, and two periods' minimum, each to the prepaid
    // balance and the vendor's water sales.
    ledger_holds(&db, &url, 2 + 3 * 2);
    dev.disconnect().await;
    l.stop().await;
}
