//! A member's withdrawal of all their available commission, asked of three instances at once,
//! is paid once: one is taken, the others are refused, and the books balance.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Cluster, eventually};
use crate::common::START;
use crate::common::child::ledger_check;

/// 王三, referred by 李二 and referrer of 赵四, the demo's buyer.
const EARNER: &str = "13800000003";
const BUYER: &str = "13800000004";

impl Cluster {
    /// An IoT member's token, from instance `i`.
    async fn member(&self, i: usize, mobile: &str) -> String {
        let (status, body) = self
            .post(
                i,
                "/iot/auth/login",
                None,
                json!({"vid": "DOCH000000000001", "mobile": mobile, "pwd": "member123"}),
            )
            .await;
        assert!([200, 201].contains(&status), "{status} {body}");
        body["data"]["token"].as_str().expect("token").to_owned()
    }

    /// What `token`'s holder has available to withdraw, in yuan, as instance `i` reads it.
    async fn available(&self, i: usize, token: &str) -> f64 {
        let (status, body) = self
            .send(
                i,
                reqwest::Method::GET,
                "/iot/commission/summary",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["available"].as_f64().unwrap_or(0.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_asked_of_all_three_at_once_is_paid_once() {
    // Simulated clocks, moved together: the return window closes on every instance.
    let env = [("UTILHALL_DEV__SIM_CLOCK", START.to_owned())];
    let Some(cluster) = Cluster::start(3, &env).await else {
        return;
    };
    // 赵四 receives the demo's delivered order (the one that can be received).
    let buyer = cluster.member(0, BUYER).await;
    let (_, body) = cluster
        .send(0, reqwest::Method::GET, "/iot/orders", Some(&buyer), None)
        .await;
    let orders: Vec<String> = body["data"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["order_id"].as_str().or(o["oid"].as_str()))
        .map(str::to_owned)
        .collect();
    let mut received = 0;
    for oid in &orders {
        let path = format!("/iot/orders/{oid}/status/confirm");
        if cluster.post(1, &path, Some(&buyer), json!({})).await.0 == 201 {
            received += 1;
        }
    }
    assert_eq!(received, 1, "one delivered order among {orders:?}");
    // Seven days on, on every clock: the commissions are available (the leader's sweep).
    for i in 0..3 {
        let (status, body) = cluster
            .post(
                i,
                "/admin/v1/clock",
                None,
                json!({"advance_seconds": 7 * 86_400 + 1}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let earner = cluster.member(2, EARNER).await;
    let (c, e) = (&cluster, earner.as_str());
    let matured = eventually(Duration::from_secs(5), move || async move {
        c.available(0, e).await > 0.0
    })
    .await;
    assert!(matured, "the commissions mature\n{}", cluster.logs());
    let available = cluster.available(1, &earner).await;
    let before = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(before.passed, "{}", before.output);

    // All of it, asked of each instance at once.
    let replies: Vec<(u16, Value)> = crate::common::join_all((0..3).map(|i| {
        let (cluster, earner) = (&cluster, &earner);
        async move {
            cluster
                .post(i, "/iot/commission/", Some(earner), json!({}))
                .await
        }
    }))
    .await;
    let taken: Vec<&(u16, Value)> = replies.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(taken.len(), 1, "one withdrawal: {replies:?}");
    assert_eq!(taken[0].1["data"]["amount"].as_f64(), Some(available));
    for (status, body) in &replies {
        assert!([201, 422, 429].contains(status), "{status} {body}");
    }
    for i in 0..3 {
        assert_eq!(cluster.available(i, &earner).await, 0.0, "instance {i}");
    }
    let after = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(after.passed, "{}", after.output);
    assert_eq!(after.entries, before.entries + 1, "{}", after.output);
}
