//! A server killed with SIGKILL while WeChat Pay notifications pour in (some of them twice at
//! once, as WeChat retries) loses no payment it acknowledged and, started again and sent every
//! notification once more, pays every bill exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::wechat::{
    self, APIV3_KEY, FakeWechat, Notice, NoticeSpec, PUBLIC_KEY_ID, Trade,
};

/// Heat accounts (one user each) and bills per account: one order per bill.
const ACCOUNTS: usize = 4;
const BILLS: usize = 100;

use crate::common::child::{ChildServer as Server, demo_dev_args, ledger_check};

/// The server with the demo, paying through the fake WeChat at `wechat_base`; only
/// notifications pay (no reconciliation by query during the test).
async fn start(dir: &std::path::Path, url: &str, wechat_base: &str) -> Server {
    let mut env = wechat::server_env(
        wechat_base,
        "https://heating.example.com/heating/api/payment/notify",
    );
    env.push(("UTILHALL_HEATING__RATE_LIMIT_REQUESTS", "0".into()));
    env.push((
        "UTILHALL_HEATING__ORDER_QUERY_AFTER_SECONDS",
        "86400".into(),
    ));
    Server::start(dir, url, &demo_dev_args(dir), &env).await
}

impl Server {
    async fn send(
        &self,
        client: &reqwest::Client,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        json_body: Option<Value>,
        get: bool,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = if get {
            client.get(url)
        } else {
            client.post(url)
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        if let Some(j) = json_body {
            req = req.json(&j);
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("{path}: {e}\nserver log:\n{log}")
        });
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        self.send(client, path, token, None, Some(body), false)
            .await
    }

    async fn get(&self, client: &reqwest::Client, path: &str, token: &str) -> (u16, Value) {
        self.send(client, path, Some(token), None, None, true).await
    }

    async fn admin_token(&self, client: &reqwest::Client) -> String {
        let (status, body) = self
            .post(
                client,
                "/admin/v1/login",
                None,
                json!({"username": "admin", "password": "admin123456"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

fn account(k: usize) -> String {
    format!("HCRASH{k:02}")
}

fn bill(k: usize, i: usize) -> String {
    format!("BCRASH{k:02}{i:04}")
}

/// Bill amounts in fen: all different.
fn amount_fen(k: usize, i: usize) -> i64 {
    10_000 + (k * BILLS + i) as i64
}

/// WeChat's notification that `order` was paid (the fake's trade state is left alone, so only
/// notifications can pay).
fn notification(order: &str, total: i64) -> Notice {
    let trade = Trade {
        total,
        openid: "oCrash".into(),
        notify_url: String::new(),
        state: "SUCCESS".into(),
        transaction_id: Some(format!("4200{order}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    wechat::notice(NoticeSpec {
        transaction: wechat::transaction_json(order, &trade),
        timestamp: now,
        signing_key: "platform_key.pem",
        serial: PUBLIC_KEY_ID,
        apiv3_key: APIV3_KEY,
    })
}

/// Sends a notification: `Some(status)`, or `None` when the server is gone.
async fn deliver(client: &reqwest::Client, base: &str, notice: &Notice) -> Option<u16> {
    let mut req = client
        .post(format!("{base}/heating/api/payment/notify"))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(10))
        .body(notice.body.clone());
    for (k, v) in &notice.headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    resp.bytes().await.ok()?;
    Some(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_heating_payment_and_pays_none_twice() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&dir).await;
    let fake = FakeWechat::start().await;
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &url, &fake.base).await;
    let admin = server.admin_token(&client).await;

    // The registry: ACCOUNTS heat accounts with BILLS unpaid bills each.
    let mut csv = String::from("heat_account,real_name,id_card,address,heating_area\n");
    for k in 0..ACCOUNTS {
        csv += &format!(
            "{},用户{k},61010219900101{k:04},测试小区{k}号,80.00\n",
            account(k)
        );
    }
    let (status, body) = server
        .send(
            &client,
            "/admin/v1/heating/accounts/import",
            Some(&admin),
            Some(csv),
            None,
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut csv = String::from("bill_id,heat_account,heating_season,amount,bill_date,due_date\n");
    for k in 0..ACCOUNTS {
        for i in 0..BILLS {
            let fen = amount_fen(k, i);
            csv += &format!(
                "{},{},2025-2026,{}.{:02},2025-11-01,2099-12-31\n",
                bill(k, i),
                account(k),
                fen / 100,
                fen % 100
            );
        }
    }
    let (status, body) = server
        .send(
            &client,
            "/admin/v1/heating/bills/import",
            Some(&admin),
            Some(csv),
            None,
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], ACCOUNTS * BILLS, "{body}");

    // One user per account (SMS code from the dev outbox, then a password log-in with the
    // payer's openid), each with one order per bill, all pending at WeChat.
    let outbox = dir.path().join("outbox.jsonl");
    let mut orders: Vec<(String, i64, String)> = Vec::new(); // (order, fen, bill)
    let mut tokens = Vec::new();
    for k in 0..ACCOUNTS {
        let phone = format!("1370000{k:04}");
        let (status, body) = server
            .post(
                &client,
                "/heating/api/sms/send",
                None,
                json!({"phone": phone, "type": "register"}),
            )
            .await;
        assert_eq!((status, body["code"].clone()), (200, json!(200)), "{body}");
        let code = std::fs::read_to_string(&outbox)
            .expect("outbox")
            .lines()
            .rev()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .find(|l| l["to"] == phone.as_str() && l["purpose"] == "register")
            .and_then(|l| l["code"].as_str().map(str::to_owned))
            .expect("a register code");
        let (_, body) = server
            .post(
                &client,
                "/heating/api/auth/register",
                None,
                json!({"phone": phone, "code": code, "password": "secret123"}),
            )
            .await;
        assert_eq!(body["code"], 200, "{body}");
        let (_, body) = server
            .post(
                &client,
                "/heating/api/auth/login",
                None,
                json!({"phone": phone, "password": "secret123", "openid": format!("oCrash{k}")}),
            )
            .await;
        assert_eq!(body["code"], 200, "{body}");
        let token = body["data"]["token"].as_str().expect("token").to_owned();
        let (_, body) = server
            .post(
                &client,
                "/heating/api/heat/bind",
                Some(&token),
                json!({"heat_account": account(k), "real_name": format!("用户{k}"),
                       "id_card": format!("61010219900101{k:04}"), "address": format!("测试小区{k}号")}),
            )
            .await;
        assert_eq!(body["code"], 200, "{body}");
        tokens.push(token);
    }
    let created = crate::common::join_all((0..ACCOUNTS).map(|k| {
        let (server, client, token) = (&server, &client, tokens[k].clone());
        async move {
            let mut mine = Vec::new();
            for i in 0..BILLS {
                let fen = amount_fen(k, i);
                let (_, body) = server
                    .post(
                        client,
                        "/heating/api/payment/create",
                        Some(&token),
                        json!({"bill_ids": [bill(k, i)], "amount": format!("{}.{:02}", fen / 100, fen % 100)}),
                    )
                    .await;
                assert_eq!(body["code"], 200, "{body}");
                let id = body["data"]["order_id"].as_str().expect("order_id").to_owned();
                mine.push((id, fen, bill(k, i)));
            }
            mine
        }
    }))
    .await;
    orders.extend(created.into_iter().flatten());
    let order_ids: BTreeSet<&str> = orders.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(order_ids.len(), ACCOUNTS * BILLS, "one order per bill");
    assert_eq!(fake.trades.lock().expect("lock").len(), ACCOUNTS * BILLS);
    let ledger = ledger_check(dir.path(), &url);
    let (ok, baseline, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok && baseline != usize::MAX, "{text}");

    // WeChat notifies: 24 senders; every third order is notified twice at once.
    let notices: Arc<Vec<(String, Notice)>> = Arc::new(
        orders
            .iter()
            .map(|(o, fen, _)| (o.clone(), notification(o, *fen)))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let attempted = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let acked = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let mut senders = Vec::new();
    for _ in 0..24 {
        let (client, base) = (client.clone(), server.base.clone());
        let (notices, next, attempted, acked) = (
            notices.clone(),
            next.clone(),
            attempted.clone(),
            acked.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some((order, notice)) = notices.get(n) else {
                    break;
                };
                attempted.lock().expect("lock").insert(order.clone());
                let copies = if n % 3 == 0 { 2 } else { 1 };
                let replies =
                    crate::common::join_all((0..copies).map(|_| deliver(&client, &base, notice)))
                        .await;
                if replies.iter().any(Option::is_none) {
                    // The server is gone; a copy that got its 204 before still counts.
                    if replies.contains(&Some(204)) {
                        acked.lock().expect("lock").insert(order.clone());
                    }
                    break;
                }
                assert!(
                    replies.iter().all(|r| *r == Some(204)),
                    "{order}: {replies:?}"
                );
                acked.lock().expect("lock").insert(order.clone());
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < ACCOUNTS * BILLS / 3 {
        assert!(Instant::now() < deadline, "the notifications did not flow");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    for s in senders {
        tokio::time::timeout(Duration::from_secs(20), s)
            .await
            .expect("the senders stop when the server is gone")
            .expect("sender task");
    }
    let attempted = attempted.lock().expect("lock").clone();
    let acked = acked.lock().expect("lock").clone();
    assert!(
        attempted.len() < orders.len(),
        "the server was killed before the last notification was sent"
    );

    // Started again, with nothing resent: every acknowledged order is paid, with its bill.
    let mut server = start(dir.path(), &url, &fake.base).await;
    let admin = server.admin_token(&client).await;
    let mut paid = BTreeSet::new();
    for chunk in orders.chunks(50) {
        let replies = crate::common::join_all(chunk.iter().map(|(o, _, _)| {
            let (server, client, admin) = (&server, &client, &admin);
            async move {
                let (status, body) = server
                    .get(client, &format!("/admin/v1/heating/orders/{o}"), admin)
                    .await;
                assert_eq!(status, 200, "{body}");
                (o.clone(), body)
            }
        }))
        .await;
        for (o, body) in replies {
            match body["status"].as_str() {
                Some("paid") => {
                    assert_eq!(body["transaction_id"], format!("4200{o}"), "{body}");
                    paid.insert(o);
                }
                Some("pending") => {}
                other => panic!("{o}: {other:?}"),
            }
        }
    }
    let ledger = ledger_check(dir.path(), &url);
    let (ok, entries, text) = (ledger.passed, ledger.entries, ledger.output);
    eprintln!(
        "orders {}, notified {}, acknowledged {}, paid after restart {}, journal {} -> {}",
        orders.len(),
        attempted.len(),
        acked.len(),
        paid.len(),
        baseline,
        entries
    );
    let lost: Vec<&String> = acked.difference(&paid).collect();
    assert!(lost.is_empty(), "acknowledged but not paid: {lost:?}");
    assert!(paid.is_subset(&attempted), "paid without a notification");
    assert!(ok, "{text}");
    assert_eq!(
        entries,
        baseline + paid.len(),
        "one journal entry per paid order: {text}"
    );

    // WeChat resends every notification (the duplicates at once again): each paid once.
    for chunk in notices.chunks(48) {
        let replies =
            crate::common::join_all(chunk.iter().enumerate().flat_map(|(n, (_, notice))| {
                let copies = if n % 2 == 0 { 2 } else { 1 };
                (0..copies).map(|_| deliver(&client, &server.base, notice))
            }))
            .await;
        assert!(replies.iter().all(|r| *r == Some(204)), "{replies:?}");
    }
    let mut bills_paid = BTreeMap::new();
    for k in 0..ACCOUNTS {
        let (status, body) = server
            .get(
                &client,
                &format!("/admin/v1/heating/accounts/{}", account(k)),
                &admin,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        for b in body["bills"].as_array().expect("bills") {
            bills_paid.insert(
                b["bill_id"].as_str().expect("id").to_owned(),
                (b["status"].clone(), b["amount_fen"].as_i64().expect("fen")),
            );
        }
    }
    for (_, fen, b) in &orders {
        assert_eq!(bills_paid.get(b), Some(&(json!("paid"), *fen)), "{b}");
    }
    // Each user's history lists each of its bills once.
    for (k, token) in tokens.iter().enumerate() {
        let (_, body) = server
            .get(
                &client,
                "/heating/api/payment/history?page=1&size=100",
                token,
            )
            .await;
        assert_eq!(body["code"], 200, "{body}");
        let records = body["data"]["records"].as_array().expect("records");
        let listed: Vec<&str> = records
            .iter()
            .map(|r| r["bill_id"].as_str().expect("bill"))
            .collect();
        let distinct: BTreeSet<&str> = listed.iter().copied().collect();
        assert_eq!(
            (listed.len(), distinct.len()),
            (BILLS, BILLS),
            "account {k}: {listed:?}"
        );
    }
    server.kill();
    let ledger = ledger_check(dir.path(), &url);
    let (ok, entries, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok, "{text}");
    assert_eq!(
        entries,
        baseline + orders.len(),
        "one journal entry per order: {text}"
    );
    eprintln!("heating crash test took {:?}", started.elapsed());
}
