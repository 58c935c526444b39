//! Station operations that arrive together share a commit: each is checked against the station
//! as the ones before it in the batch left it, a refused one changes nothing, and the log keeps
//! one entry per operation, so a process that reads the station from it sees exactly the same.

use serde_json::json;

use super::{admin, advance, driver, put_config, station_view};
use crate::common;

#[tokio::test]
async fn operations_that_arrive_together_share_commits_and_the_log_rebuilds_them() {
    let db_dir = tempfile::tempdir().expect("tempdir");
    let url = common::test_database_url(&db_dir).await;
    let a =
        common::spawn_with(|c| c.server.database_url = utilhall::config::Secret(url.clone())).await;
    let op = admin(&a).await;
    let r = put_config(
        &a,
        &op,
        json!({"fast_piles": 2, "slow_piles": 2, "queue_len": 1, "waiting_capacity": 100}),
    )
    .await;
    assert_eq!(r.status, 200);
    let mut tokens = Vec::new();
    for i in 0..40 {
        tokens.push(driver(&a, &format!("b{i}")).await);
    }

    // Forty requests at once, and each driver's second request with them: one of a driver's
    // two is taken, the other refused.
    let applies = common::join_all(tokens.iter().enumerate().flat_map(|(i, t)| {
        let mode = if i % 2 == 0 { "fast" } else { "common" };
        let body = json!({"token": t, "mode": mode, "quantity": 10 + i, "capacity": 60});
        [
            a.post("/charging/user/charge/apply", body.clone()),
            a.post("/charging/user/charge/apply", body),
        ]
    }))
    .await;
    for pair in applies.chunks(2) {
        let mut statuses = [pair[0].status, pair[1].status];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409],
            "{:?} {:?}",
            pair[0].body,
            pair[1].body
        );
    }
    let mut numbers: Vec<String> = applies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body["number"].as_str().unwrap_or_default().to_owned())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40, "every request got a number of its own");

    // Then cancels, changes of energy and of mode, changes past the battery's capacity, and a
    // pile failing, all at once: each refusal (a car a cancel sent to a pile meanwhile, too
    // much energy) is its own, and changes nothing.
    let changes = common::join_all(tokens.iter().enumerate().map(|(i, t)| {
        let body = match i % 4 {
            0 => json!({"token": t}),
            1 => json!({"token": t, "quantity": 5}),
            2 => json!({"token": t, "mode": if i % 8 == 2 { "common" } else { "fast" }}),
            _ => json!({"token": t, "quantity": 70}),
        };
        let path = if i % 4 == 0 {
            "/charging/user/charge/cancel"
        } else {
            "/charging/user/charge/modify"
        };
        a.post(path, body)
    }));
    let fault = a.post_auth(
        "/admin/v1/charging/piles/F1/state",
        &op,
        json!({"state": "fault"}),
    );
    let (changes, fault) = tokio::join!(changes, fault);
    assert_eq!(fault.status, 200, "{:?}", fault.body);
    for (i, r) in changes.iter().enumerate() {
        let allowed: &[u16] = match i % 4 {
            0 => &[200],
            3 => &[400, 409],
            _ => &[200, 409],
        };
        assert!(allowed.contains(&r.status), "driver {i}: {:?}", r.body);
    }

    // A second process reads the station from the snapshot and the log: the same station.
    let b =
        common::spawn_with(|c| c.server.database_url = utilhall::config::Secret(url.clone())).await;
    let op_b = admin(&b).await;
    assert_eq!(station_view(&a, &op).await, station_view(&b, &op_b).await);

    // A driver's read through one process sees what the other just did.
    let t = &tokens[1];
    let r = a
        .post("/charging/user/charge/cancel", json!({"token": t}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = b.get("/charging/user/charge/info", Some(t)).await;
    assert_eq!(r.body["state"], "none", "{:?}", r.body);
    let body = json!({"token": t, "mode": "common", "quantity": 7});
    let r = b.post("/charging/user/charge/apply", body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = a.get("/charging/user/charge/info", Some(t)).await;
    assert_eq!(
        (r.body["mode"].clone(), r.body["quantity"].clone()),
        (json!("common"), json!(7.0)),
        "{:?}",
        r.body
    );

    // An hour later (on both clocks) every session that ended has the same record in both.
    advance(&a, 3600).await;
    advance(&b, 3600).await;
    assert_eq!(station_view(&a, &op).await, station_view(&b, &op_b).await);
    let records_a = a.get("/admin/v1/charging/records", Some(&op)).await.body;
    let records_b = b.get("/admin/v1/charging/records", Some(&op_b)).await.body;
    assert_eq!(records_a, records_b);
    assert!(
        records_a["records"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{records_a}"
    );
    a.stop().await;
    b.stop().await;
}
