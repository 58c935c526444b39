//! Commands: sent signed on the device's `down`, acknowledged and answered into the command
//! log (`sent -> acked -> done`), timed out when not acknowledged in time; refused for a device
//! offline (422), outside the caller's range (404) or to a member (403). A lock or unlock is
//! also the retained `desired` state.

use std::time::Duration;

use serde_json::{Value, json};

use crate::device::{TestDevice, retained_desired};
use crate::{Link, R, VID, eventually, get, is_set, post, spawn};

async fn log(l: &Link, did: &str) -> Vec<Value> {
    let r = get(&l.app, &format!("/devices/{did}/commands"), &l.vendor)
        .await
        .expect(200);
    r.data().as_array().expect("the command log").clone()
}

async fn command(l: &Link, did: &str, token: &str, body: Value) -> R {
    post(&l.app, &format!("/devices/{did}/commands"), token, body).await
}

/// Waits until command `cmd_id` is in `state` in the log; its entry.
async fn logged(l: &Link, did: &str, cmd_id: &str, state: &str) -> Value {
    eventually(&format!("command {cmd_id} {state}"), || async {
        log(l, did)
            .await
            .into_iter()
            .find(|c| c["cmd_id"] == cmd_id && c["state"] == state)
    })
    .await
}

#[tokio::test]
async fn a_command_reaches_the_device_signed_and_its_answers_are_logged() {
    let l = spawn().await;
    let did = "DOCHLINK0401";
    let secret = l.register_one(did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;

    let r = command(&l, did, &l.vendor, json!({"op": "lock"}))
        .await
        .expect(201);
    let cmd_id = r.data()["cmd_id"].as_str().expect("cmd_id").to_owned();
    assert_eq!(r.data()["op"], "lock", "{}", r.body);
    assert_eq!(r.data()["state"], "sent", "{}", r.body);
    let got = dev.expect_cmd("lock").await;
    assert_eq!(got.cmd, cmd_id, "the id the log shows: {got:?}");
    assert!(got.seq >= 1, "{got:?}");
    let sent = logged(&l, did, &cmd_id, "sent").await;
    assert!(is_set(&sent["created_tms"]), "{sent}");
    assert_eq!(sent["by"], VID, "{sent}");

    dev.ack(&cmd_id).await;
    let acked = logged(&l, did, &cmd_id, "acked").await;
    assert!(is_set(&acked["acked_tms"]), "{acked}");
    dev.result(&cmd_id, true, None).await;
    let done = logged(&l, did, &cmd_id, "done").await;
    assert!(is_set(&done["acked_tms"]), "{done}");
    assert!(is_set(&done["done_tms"]), "{done}");
    assert!(is_set(&done["created_tms"]), "{done}");

    // The device must now hold locked: live, and retained for a device that comes later.
    dev.expect_desired("locked", |locked, _| locked).await;
    eventually("the retained desired is locked", || async {
        retained_desired(&l, did, &secret)
            .await
            .filter(|(locked, _)| *locked)
    })
    .await;

    // Unlocked by the platform: the same way back (a second later: the log is ordered by
    // time).
    crate::tick(&l.app, 1).await;
    let r = command(&l, did, &l.platform, json!({"op": "unlock", "args": {}}))
        .await
        .expect(201);
    let unlock_id = r.data()["cmd_id"].as_str().expect("cmd_id").to_owned();
    let got = dev.expect_cmd("unlock").await;
    assert_eq!(got.cmd, unlock_id);
    dev.ack(&unlock_id).await;
    dev.result(&unlock_id, true, None).await;
    logged(&l, did, &unlock_id, "done").await;
    dev.expect_desired("unlocked", |locked, _| !locked).await;
    eventually("the retained desired is unlocked", || async {
        retained_desired(&l, did, &secret)
            .await
            .filter(|(locked, _)| !*locked)
    })
    .await;

    // A command the device answers with a failure is failed.
    crate::tick(&l.app, 1).await;
    let r = command(&l, did, &l.vendor, json!({"op": "reboot"}))
        .await
        .expect(201);
    let reboot_id = r.data()["cmd_id"].as_str().expect("cmd_id").to_owned();
    assert_eq!(dev.expect_cmd("reboot").await.cmd, reboot_id);
    dev.ack(&reboot_id).await;
    dev.result(&reboot_id, false, None).await;
    logged(&l, did, &reboot_id, "failed").await;

    // The log, newest first.
    let ids: Vec<String> = log(&l, did)
        .await
        .iter()
        .map(|c| c["cmd_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, [reboot_id, unlock_id, cmd_id]);

    dev.disconnect().await;
    l.stop().await;
}

#[tokio::test]
async fn an_unacknowledged_command_times_out() {
    let l = spawn().await;
    let did = "DOCHLINK0402";
    let secret = l.register_one(did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    let r = command(&l, did, &l.vendor, json!({"op": "reboot"}))
        .await
        .expect(201);
    let started = std::time::Instant::now();
    let cmd_id = r.data()["cmd_id"].as_str().expect("cmd_id").to_owned();
    assert_eq!(dev.expect_cmd("reboot").await.cmd, cmd_id);
    // The device keeps reporting (it is online) but never acknowledges; time passes, real and
    // simulated alike.
    let mut n = 0.0;
    let entry = loop {
        n += 1.0;
        dev.report(&crate::device::report(n, 0.0, 10)).await;
        let entry = log(&l, did)
            .await
            .into_iter()
            .find(|c| c["cmd_id"] == cmd_id.as_str())
            .expect("the command in the log");
        if entry["state"] == "timeout" {
            break entry;
        }
        assert!(
            started.elapsed() < crate::WAIT,
            "still {} after {:?} (timeout 3 s)",
            entry["state"],
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        crate::tick(&l.app, 1).await;
    };
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "timed out after {:?}, before the 3 s command timeout",
        started.elapsed()
    );
    assert!(!is_set(&entry["acked_tms"]), "{entry}");
    dev.disconnect().await;
    l.stop().await;
}

#[tokio::test]
async fn commands_are_refused_offline_out_of_range_to_members_and_when_unknown() {
    let l = spawn().await;
    let did = "DOCHLINK0403";
    let secret = l.register_one(did).await;
    l.bind(2, did).await;
    let aqua = l.other_vendor().await;

    // Never connected: offline.
    command(&l, did, &l.vendor, json!({"op": "lock"}))
        .await
        .expect(422);
    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    command(&l, "AQUA0000LINK", &l.vendor, json!({"op": "lock"}))
        .await
        .expect(404);
    command(&l, did, &aqua, json!({"op": "lock"}))
        .await
        .expect(404);
    command(&l, did, &l.members[2], json!({"op": "lock"}))
        .await
        .expect(403);
    command(&l, did, &l.members[3], json!({"op": "lock"}))
        .await
        .expect(403);
    command(&l, "DOCHNOSUCH01", &l.vendor, json!({"op": "lock"}))
        .await
        .expect(404);
    for bad in [
        json!({"op": "explode"}),
        json!({}),
        json!({"op": 1}),
        json!({"op": "reset_filter", "args": {"order": "first"}}),
    ] {
        command(&l, did, &l.vendor, bad).await.expect(422);
    }
    // None of them reached the device or the log.
    dev.expect_no_cmd(Duration::from_millis(500)).await;
    assert!(log(&l, did).await.is_empty());

    // Gone (its will): offline again.
    dev.kill().await;
    l.stat_until(did, "offline", |s| s["state"]["online"] == false)
        .await;
    command(&l, did, &l.vendor, json!({"op": "unlock"}))
        .await
        .expect(422);
    assert!(log(&l, did).await.is_empty());
    l.stop().await;
}
