//! The server stops while a device goes on reporting: its persistent session (the same client
//! id, clean_session=false) keeps the reports at the broker, and the server that starts again
//! on the same database takes every one of them in, none twice.

use std::time::Duration;

use crate::device::{TestDevice, report};
use crate::{Link, assert_accepted, eventually, fresh_names, get, spawn_named};

async fn history_total(l: &Link, did: &str) -> i64 {
    get(&l.app, &format!("/devices/{did}/history"), &l.vendor)
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("total")
}

#[tokio::test]
async fn reports_sent_while_the_server_is_down_are_applied_once_when_it_is_back() {
    let (prefix, client_id) = fresh_names();
    let db = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&db).await;

    let first = spawn_named(&prefix, &client_id, Some(url.clone())).await;
    let did = "DOCHLINK0601";
    let secret = first.register_one(did).await;
    let mut dev = TestDevice::online(&first, did, &secret).await;
    for n in 1..=3 {
        dev.report(&report(n as f64, 0.0, 100 * n)).await;
    }
    eventually("three reports in the history", || async {
        (history_total(&first, did).await == 3).then_some(())
    })
    .await;
    first.app.stop().await;

    // Down: five more reports, each taken by the broker (PUBACK) for the server's session.
    for n in 4..=8 {
        dev.report(&report(n as f64, 0.0, 100 * n)).await;
    }

    let second = spawn_named(&prefix, &client_id, Some(url)).await;
    second.dids.lock().expect("dids").push(did.to_owned());
    eventually("the five reports of the downtime", || async {
        (history_total(&second, did).await >= 8).then_some(())
    })
    .await;
    // Nothing comes twice, even given time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(history_total(&second, did).await, 8);
    assert_accepted(&second.app, "report", 5.0).await;
    let s = second.stat(did).await;
    assert_eq!(s["statistics"]["powered_h"], 8.0, "{s}");
    assert_eq!(s["statistics"]["water_ml"]["normal"], 800, "{s}");

    // And the link works on.
    dev.report(&report(9.0, 0.0, 900)).await;
    eventually("a report after the restart", || async {
        (history_total(&second, did).await == 9).then_some(())
    })
    .await;
    dev.disconnect().await;
    second.stop().await;
}
