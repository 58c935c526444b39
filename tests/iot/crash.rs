//! A server killed with SIGKILL while IoT orders are being paid (WeChat Pay notifications, some
//! twice at once) or while commissions are being withdrawn loses nothing it acknowledged and,
//! started again, applies nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::wechat::{
    self, APIV3_KEY, FakeWechat, Notice, NoticeSpec, PUBLIC_KEY_ID, Trade,
};
use crate::{VID, md5};

use crate::common::child::{ChildServer as Server, demo_dev_args, ledger_check};

/// The server with the demo, `args` and `env` besides.
async fn start(
    dir: &std::path::Path,
    url: &str,
    args: &[&str],
    env: &[(&'static str, String)],
) -> Server {
    let mut all = demo_dev_args(dir);
    all.extend(args.iter().map(|a| (*a).to_owned()));
    Server::start(dir, url, &all, env).await
}

fn wechat_env(fake: &str) -> Vec<(&'static str, String)> {
    wechat::server_env(fake, "https://iot.example.com/iot/orders/notify/weixin")
}

impl Server {
    async fn call(
        &self,
        client: &reqwest::Client,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("{path}: {e}\nserver log:\n{log}")
        });
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, client: &reqwest::Client, path: &str, token: &str) -> Value {
        let (status, body) = self.call(client, "GET", path, Some(token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn post(&self, client: &reqwest::Client, path: &str, token: &str, body: Value) -> Value {
        let (status, reply) = self
            .call(client, "POST", path, Some(token), Some(body))
            .await;
        assert_eq!(status, 201, "{path}: {reply}");
        reply
    }

    async fn login(&self, client: &reqwest::Client, body: Value) -> String {
        let (status, reply) = self
            .call(client, "POST", "/iot/auth/login", None, Some(body))
            .await;
        assert_eq!(status, 201, "{reply}");
        reply["data"]["token"].as_str().expect("token").to_owned()
    }

    async fn member(&self, client: &reqwest::Client, n: usize) -> String {
        self.login(
            client,
            json!({"vid": VID, "mobile": format!("1380000000{n}"), "pwd": md5("member123")}),
        )
        .await
    }

    async fn vendor(&self, client: &reqwest::Client) -> String {
        self.login(client, json!({"user": "dochen", "pwd": md5("dochen123")}))
            .await
    }

    /// Every row of a list, page by page.
    async fn all(&self, client: &reqwest::Client, path: &str, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page = self
                .get(
                    client,
                    &format!("{path}{sep}limit=1000&offset={}", out.len()),
                    token,
                )
                .await;
            let rows = page["data"].as_array().expect("a list").clone();
            let total = page["total"].as_u64().expect("total") as usize;
            out.extend(rows.iter().cloned());
            if rows.is_empty() || out.len() >= total {
                return out;
            }
        }
    }
}

/// AC-02's example with installation and three commission levels (21 %, 9 %, 3.33 %): an
/// order is 2980 + 100 = 3080.00 yuan.
fn product() -> Value {
    json!({
        "state": 1, "type": 1, "name": "智能净水机(安装)", "desc": "上门安装", "tags": "智能, 净水机",
        "sequence": 2, "bonus": true, "price": 2980, "freight": 0, "install": true, "maintain": false,
        "install_cost": 100, "maintain_cost": 0, "orig_price": 4999,
        "rent": {"deposit": 0, "config": [{"name": "30天", "key": "30d", "value": 60}]},
        "commis": {"enabled": true, "config": [21, 9, 3.33]},
        "specification": {"mode": 0, "filters": [{"order": 1, "name": "PPC复合滤芯", "timer_mode": 0, "lifetime": 4320, "worklife": 540}],
            "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
    })
}

const ORDER_FEN: i64 = 308_000;

fn order_body(pid: &str) -> Value {
    json!({
        "content": [{"product_id": pid, "quantity": 1}],
        "receiver": {"name": "收货人", "phone": "13800000009", "area": "广东省珠海市香洲区", "address": "南方软件园A123", "zipcode": "519000"},
        "memo": ""
    })
}

/// WeChat's notification that `order` was paid (the fake's trade stays unpaid, so only
/// notifications can pay).
fn notification(order: &str) -> Notice {
    let trade = Trade {
        total: ORDER_FEN,
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
        .post(format!("{base}/iot/orders/notify/weixin"))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(30))
        .body(notice.body.clone());
    for (k, v) in &notice.headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    resp.bytes().await.ok()?;
    Some(status)
}

/// Commissions by order: `(level, user, amount in fen, state)`, sorted.
type Commissions = BTreeMap<String, Vec<(i64, String, i64, String)>>;

async fn commissions(server: &Server, client: &reqwest::Client, vendor: &str) -> Commissions {
    let mut by_order = Commissions::new();
    for c in server.all(client, "/iot/commission", vendor).await {
        let fen = (c["amount"].as_f64().expect("amount") * 100.0).round() as i64;
        by_order
            .entry(c["order_id"].as_str().expect("oid").to_owned())
            .or_default()
            .push((
                c["level"].as_i64().expect("level"),
                c["user_id"].as_str().expect("uid").to_owned(),
                fen,
                c["state"].as_str().expect("state").to_owned(),
            ));
    }
    for rows in by_order.values_mut() {
        rows.sort();
    }
    by_order
}

async fn order_states(
    server: &Server,
    client: &reqwest::Client,
    vendor: &str,
) -> BTreeMap<String, String> {
    server
        .all(client, "/iot/orders", vendor)
        .await
        .iter()
        .map(|o| {
            (
                o["order_id"].as_str().expect("oid").to_owned(),
                o["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_iot_payment_and_pays_none_twice() {
    const PER_MEMBER: usize = 60;
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&dir).await;
    let fake = FakeWechat::start().await;
    let env = wechat_env(&fake.base);
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &url, &[], &env).await;
    let vendor = server.vendor(&client).await;
    let pid = server
        .post(&client, "/iot/products", &vendor, product())
        .await["data"]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let mut members = Vec::new();
    let mut uids = Vec::new();
    for n in 1..=4 {
        let t = server.member(&client, n).await;
        server
            .post(
                &client,
                "/iot/users/bind",
                &t,
                json!({"openid": format!("oCrash{n}"), "nick": format!("m{n}")}),
            )
            .await;
        uids.push(
            server.get(&client, "/iot/auth/me", &t).await["data"]["uid"]
                .as_str()
                .expect("uid")
                .to_owned(),
        );
        members.push(t);
    }
    // Every member orders PER_MEMBER + 1 times, each order prepaid at WeChat.
    let placed = crate::common::join_all(members.iter().map(|t| {
        let (server, client, pid) = (&server, &client, &pid);
        async move {
            let mut mine = Vec::new();
            for _ in 0..=PER_MEMBER {
                let oid = server.post(client, "/iot/orders", t, order_body(pid)).await["data"]
                    ["order_id"]
                    .as_str()
                    .expect("oid")
                    .to_owned();
                server
                    .post(
                        client,
                        &format!("/iot/orders/{oid}/prepay/weixin"),
                        t,
                        json!({}),
                    )
                    .await;
                mine.push(oid);
            }
            mine
        }
    }))
    .await;
    {
        let trades = fake.trades.lock().expect("lock");
        for oid in placed.iter().flatten() {
            assert_eq!(trades.get(oid).map(|t| t.total), Some(ORDER_FEN), "{oid}");
        }
    }
    // One order of each member is paid first: what its referrers earn is what every other
    // order of that member must bring, exactly once.
    let mut expected: BTreeMap<String, Vec<(i64, String, i64, String)>> = BTreeMap::new();
    let mut owner = BTreeMap::new();
    let mut orders = Vec::new();
    for (m, mine) in placed.iter().enumerate() {
        assert_eq!(
            deliver(&client, &server.base, &notification(&mine[0])).await,
            Some(204)
        );
        for oid in &mine[1..] {
            owner.insert(oid.clone(), m);
            orders.push(oid.clone());
        }
    }
    let earned = commissions(&server, &client, &vendor).await;
    for (m, mine) in placed.iter().enumerate() {
        let rows = earned.get(&mine[0]).cloned().unwrap_or_default();
        assert!(rows.iter().all(|r| r.3 == "pending"), "{rows:?}");
        expected.insert(uids[m].clone(), rows);
    }
    // 赵四's referrers: 王三 21 %, 李二 9 %, 张一 3.33 % of 3080.00.
    let mut zhao: Vec<(String, i64)> = expected[&uids[3]]
        .iter()
        .map(|(_, u, f, _)| (u.clone(), *f))
        .collect();
    zhao.sort();
    let mut want = vec![
        (uids[2].clone(), 64_680),
        (uids[1].clone(), 27_720),
        (uids[0].clone(), 10_256),
    ];
    want.sort();
    assert_eq!(zhao, want, "{:?}", expected[&uids[3]]);
    let ledger = ledger_check(dir.path(), &url);
    let (ok, baseline, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok && baseline != usize::MAX, "{text}");

    // WeChat notifies: 24 senders; every third order is notified twice at once.
    let notices: Arc<Vec<(String, Notice)>> = Arc::new(
        orders
            .iter()
            .map(|o| (o.clone(), notification(o)))
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
    while acked.lock().expect("lock").len() < orders.len() / 3 {
        assert!(
            Instant::now() < deadline,
            "the notifications did not flow: {}",
            server.log_tail()
        );
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
        "killed before the last notification"
    );

    // Started again, nothing resent: every acknowledged order is paid, with its commissions
    // once; an order not paid has none.
    let mut server = start(dir.path(), &url, &[], &env).await;
    let vendor = server.vendor(&client).await;
    let check = |states: &BTreeMap<String, String>, earned: &Commissions| {
        let mut paid = BTreeSet::new();
        for oid in &orders {
            let want = &expected[&uids[owner[oid]]];
            match states.get(oid).map(String::as_str) {
                Some("paid") => {
                    assert_eq!(earned.get(oid), Some(want), "{oid}: its commissions once");
                    paid.insert(oid.clone());
                }
                Some("obligation") => assert_eq!(earned.get(oid), None, "{oid}: unpaid"),
                other => panic!("{oid}: {other:?}"),
            }
        }
        paid
    };
    let paid = check(
        &order_states(&server, &client, &vendor).await,
        &commissions(&server, &client, &vendor).await,
    );
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
        "one entry per paid order: {text}"
    );

    // WeChat resends every notification (some twice at once): each order paid once.
    for chunk in notices.chunks(48) {
        let replies =
            crate::common::join_all(chunk.iter().enumerate().flat_map(|(n, (_, notice))| {
                let copies = if n % 2 == 0 { 2 } else { 1 };
                (0..copies).map(|_| deliver(&client, &server.base, notice))
            }))
            .await;
        assert!(
            replies.iter().all(|r| *r == Some(204)),
            "{replies:?}\nserver log:\n{}",
            server.log_tail()
        );
    }
    let paid = check(
        &order_states(&server, &client, &vendor).await,
        &commissions(&server, &client, &vendor).await,
    );
    assert_eq!(paid.len(), orders.len());
    // One install ticket per order.
    let tickets = server.all(&client, "/iot/tickets", &vendor).await;
    for oid in &orders {
        let n = tickets
            .iter()
            .filter(|t| t["order_id"] == oid.as_str())
            .count();
        assert_eq!(n, 1, "{oid}: one install ticket");
    }
    server.kill();
    let ledger = ledger_check(dir.path(), &url);
    let (ok, entries, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok, "{text}");
    assert_eq!(entries, baseline + orders.len(), "{text}");
    eprintln!("iot payment crash test took {:?}", started.elapsed());
}

/// Every withdrawal stored: `(wid, uid, amount in fen)`.
async fn stored_withdrawals(url: &str) -> Vec<(String, String, i64, i64)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("database");
    let rows =
        sqlx::query("SELECT wid, uid, CAST(amount AS BIGINT) AS amount, CAST(created_at AS BIGINT) AS created_at FROM iot_withdrawals")
            .fetch_all(&pool)
            .await
            .expect("withdrawals");
    pool.close().await;
    rows.iter()
        .map(|r| {
            (
                r.get::<String, _>("wid"),
                r.get::<String, _>("uid"),
                r.get::<i64, _>("amount"),
                r.get::<i64, _>("created_at"),
            )
        })
        .collect()
}

fn fen(v: &Value) -> i64 {
    (v.as_f64().expect("yuan") * 100.0).round() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_withdrawal_and_makes_none_twice() {
    const START: &str = "2026-01-01T00:00:00Z";
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&dir).await;
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &url, &["--sim-clock", START], &[]).await;
    let vendor = server.vendor(&client).await;
    let pid = server
        .post(&client, "/iot/products", &vendor, product())
        .await["data"]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    // 赵四, 王三 and 李二 buy three each: paid, delivered, received.
    for n in [4, 3, 2] {
        let buyer = server.member(&client, n).await;
        for i in 0..3 {
            let oid = server
                .post(&client, "/iot/orders", &buyer, order_body(&pid))
                .await["data"]["order_id"]
                .as_str()
                .expect("oid")
                .to_owned();
            let (status, body) = server
                .call(
                    &client,
                    "POST",
                    &format!("/admin/v1/iot/orders/{oid}/simulate-payment"),
                    None,
                    None,
                )
                .await;
            assert_eq!(
                (status, body["recorded"].clone()),
                (200, json!(true)),
                "{body}"
            );
            server
                .post(
                    &client,
                    &format!("/iot/orders/{oid}/delivery"),
                    &vendor,
                    json!({"company": "顺丰", "tracking_num": format!("SF{n}{i}")}),
                )
                .await;
            server
                .post(
                    &client,
                    &format!("/iot/orders/{oid}/status/confirm"),
                    &buyer,
                    json!({}),
                )
                .await;
        }
    }
    // The return window closes: the commissions are available.
    let (status, body) = server
        .call(
            &client,
            "POST",
            "/admin/v1/clock",
            None,
            Some(json!({"advance_seconds": 7 * 86_400 + 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut accounts = Vec::new(); // (name, token, uid)
    for n in 1..=4 {
        let t = server.member(&client, n).await;
        let uid = server.get(&client, "/iot/auth/me", &t).await["data"]["uid"]
            .as_str()
            .expect("uid")
            .to_owned();
        accounts.push((format!("member{n}"), t, uid));
    }
    for (user, pwd) in [("dochen_dealer", "dealer123"), ("dochen_agent", "agent123")] {
        let t = server
            .login(&client, json!({"user": user, "pwd": md5(pwd)}))
            .await;
        let uid = server.get(&client, "/iot/auth/me", &t).await["data"]["uid"]
            .as_str()
            .expect("uid")
            .to_owned();
        accounts.push((user.to_owned(), t, uid));
    }
    let mut opening = BTreeMap::new();
    for (name, t, _) in &accounts {
        let s = server.get(&client, "/iot/commission/summary", t).await["data"].clone();
        assert_eq!(fen(&s["withdrawn"]), 0, "{name}: {s}");
        assert_eq!(fen(&s["available"]), fen(&s["earned"]), "{name}: {s}");
        opening.insert(name.clone(), fen(&s["available"]));
    }
    // 张一, 李二 and 王三 earn on these orders (and the dealer on 李二's).
    accounts.retain(|(name, _, _)| opening[name] > 0);
    assert!(accounts.len() >= 3, "{opening:?}");
    let ledger = ledger_check(dir.path(), &url);
    let (ok, baseline, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok && baseline != usize::MAX, "{text}");

    // The clock moves 31 s at a time while each account withdraws as often as it may: small,
    // different amounts; a 429 (too soon) is tried again.
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let now_ms = Arc::new(AtomicI64::new(0));
    let ticker = {
        let (client, base, gone, now_ms) = (
            client.clone(),
            server.base.clone(),
            gone.clone(),
            now_ms.clone(),
        );
        tokio::spawn(async move {
            while !gone.load(Ordering::SeqCst) {
                let sent = client
                    .post(format!("{base}/admin/v1/clock"))
                    .json(&json!({"advance_seconds": 31}))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let Ok(resp) = sent else { break };
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                now_ms.fetch_max(body["now_ms"].as_i64().expect("now_ms"), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    type Made = Vec<(String, i64)>;
    let acked_total = Arc::new(AtomicUsize::new(0));
    let mut withdrawers = Vec::new();
    for (a, (_, token, _)) in accounts
        .iter()
        .enumerate()
        .flat_map(|(a, acc)| [(2 * a, acc), (2 * a + 1, acc)])
    {
        let (client, base, token, acked_total) = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            acked_total.clone(),
        );
        withdrawers.push(tokio::spawn(async move {
            let mut made: Made = Vec::new();
            let mut refused = 0usize;
            let mut in_flight = None;
            for i in 0i64.. {
                let amount = 1 + a as i64 + 16 * i; // fen, distinct per withdrawer
                let sent = client
                    .post(format!("{base}/iot/commission/"))
                    .bearer_auth(&token)
                    .json(&json!({"amount": amount as f64 / 100.0}))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let reply = match sent {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        resp.json::<Value>().await.ok().map(|b| (status, b))
                    }
                    Err(_) => None,
                };
                let Some((status, body)) = reply else {
                    in_flight = Some(amount);
                    break;
                };
                match status {
                    201 => {
                        assert_eq!(fen(&body["data"]["amount"]), amount, "{body}");
                        let wid = body["data"]["withdraw_id"].as_str().expect("wid");
                        made.push((wid.to_owned(), amount));
                        acked_total.fetch_add(1, Ordering::SeqCst);
                    }
                    429 => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    _ => panic!("withdrawal: {status} {body}"),
                }
            }
            (made, refused, in_flight)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked_total.load(Ordering::SeqCst) < 20 * accounts.len() {
        assert!(Instant::now() < deadline, "the withdrawals did not flow");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    gone.store(true, Ordering::SeqCst);
    let mut outcome = Vec::new();
    for w in withdrawers {
        outcome.push(
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("the withdrawers stop when the server is gone")
                .expect("withdrawer"),
        );
    }
    tokio::time::timeout(Duration::from_secs(20), ticker)
        .await
        .expect("the ticker stops")
        .expect("ticker");

    // Started again (the simulated clock where it was): every acknowledged withdrawal is
    // there, once; at most the one in flight was also made; the balance is earned minus
    // withdrawn.
    let resume = utilhall::domain::Timestamp::from_millis(now_ms.load(Ordering::SeqCst) + 60_000);
    let mut server = start(
        dir.path(),
        &url,
        &["--sim-clock", &resume.iso_utc_ms()],
        &[],
    )
    .await;
    let stored = stored_withdrawals(&url).await;
    let wids: BTreeSet<&str> = stored.iter().map(|(w, _, _, _)| w.as_str()).collect();
    assert_eq!(wids.len(), stored.len(), "a withdrawal id twice");
    // Two withdrawers per account: their results together.
    let outcome: Vec<(Made, usize, Vec<i64>)> = outcome
        .chunks(2)
        .map(|pair| {
            let mut made = pair[0].0.clone();
            made.extend(pair[1].0.iter().cloned());
            let in_flight = pair.iter().filter_map(|p| p.2).collect();
            (made, pair[0].1 + pair[1].1, in_flight)
        })
        .collect();
    let mut counts = Vec::new();
    for ((name, token, uid), (made, refused, in_flight)) in accounts.iter().zip(&outcome) {
        let mine: BTreeMap<&str, i64> = stored
            .iter()
            .filter(|(_, u, _, _)| u == uid)
            .map(|(w, _, a, _)| (w.as_str(), *a))
            .collect();
        let mut times: Vec<i64> = stored
            .iter()
            .filter(|(_, u, _, _)| u == uid)
            .map(|(_, _, _, t)| *t)
            .collect();
        times.sort();
        assert!(
            times.windows(2).all(|w| w[1] - w[0] >= 30_000),
            "{name}: two withdrawals within 30 s: {times:?}"
        );
        for (wid, amount) in made {
            assert_eq!(
                mine.get(wid.as_str()),
                Some(amount),
                "{name}: {wid} acknowledged, lost"
            );
        }
        let extra: Vec<i64> = mine
            .iter()
            .filter(|(w, _)| !made.iter().any(|(m, _)| m == *w))
            .map(|(_, a)| *a)
            .collect();
        assert!(
            extra.iter().all(|a| in_flight.contains(a)),
            "{name}: stored but never sent: {extra:?} (in flight: {in_flight:?})"
        );
        let withdrawn: i64 = mine.values().sum();
        let s = server.get(&client, "/iot/commission/summary", token).await["data"].clone();
        assert_eq!(fen(&s["withdrawn"]), withdrawn, "{name}: {s}");
        assert_eq!(fen(&s["earned"]), opening[name], "{name}: {s}");
        assert_eq!(
            fen(&s["available"]),
            fen(&s["earned"]) - fen(&s["withdrawn"]),
            "{name}: available is earned minus withdrawn: {s}"
        );
        counts.push(format!(
            "{name}: acknowledged {}, refused (429) {refused}, in flight {}, stored {}",
            made.len(),
            in_flight.len(),
            mine.len()
        ));
    }
    let ledger = ledger_check(dir.path(), &url);
    let (ok, entries, text) = (ledger.passed, ledger.entries, ledger.output);
    eprintln!("{}; journal {baseline} -> {entries}", counts.join("; "));
    assert!(ok, "{text}");
    assert_eq!(
        entries,
        baseline + stored.len(),
        "one entry per withdrawal: {text}"
    );

    // And the accounts go on: one more withdrawal each, recorded once.
    let (status, body) = server
        .call(
            &client,
            "POST",
            "/admin/v1/clock",
            None,
            Some(json!({"advance_seconds": 31})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for (name, token, _) in &accounts {
        let before = server.get(&client, "/iot/commission/summary", token).await["data"].clone();
        let w = server
            .post(&client, "/iot/commission/", token, json!({"amount": 0.01}))
            .await;
        assert_eq!(
            fen(&w["data"]["available"]),
            fen(&before["available"]) - 1,
            "{name}"
        );
        let (status, _) = server
            .call(
                &client,
                "POST",
                "/iot/commission/",
                Some(token),
                Some(json!({"amount": 0.01})),
            )
            .await;
        assert_eq!(status, 429, "{name}: one per 30 s");
    }
    server.kill();
    let ledger = ledger_check(dir.path(), &url);
    let (ok, entries, text) = (ledger.passed, ledger.entries, ledger.output);
    assert!(ok, "{text}");
    assert_eq!(entries, baseline + stored.len() + accounts.len(), "{text}");
    eprintln!("iot withdrawal crash test took {:?}", started.elapsed());
}
