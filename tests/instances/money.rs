//! Money moves once however a request is spread over the instances: the same recharge sent to
//! all three at once, the same payment notification delivered to all three; and an instance
//! killed under load loses no recharge it acknowledged.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Cluster;
use crate::common::child::ledger_check;
use crate::common::wechat::{self, APIV3_KEY, FakeWechat, NoticeSpec, PUBLIC_KEY_ID, Trade};

/// The meter document's households of the demo's account `khcs`.
const HOUSEHOLDS: [&str; 2] = ["2022040001", "2022040002"];

impl Cluster {
    /// A meter call (form) to instance `i`; the reply's JSON, `None` if the instance is gone.
    async fn meter(&self, i: usize, path: &str, form: &[(&str, &str)]) -> Option<Value> {
        self.client
            .post(format!("{}/meter/user/{path}", self.servers[i].base))
            .form(form)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()
    }

    async fn meter_token(&self, i: usize) -> String {
        let r = self
            .meter(
                i,
                "login",
                &[("admin_user_name", "khcs"), ("api_password", "123456")],
            )
            .await
            .expect("login");
        r["data"].as_str().expect("token").to_owned()
    }

    async fn recharge(&self, i: usize, token: &str, no: &str, user_code: &str) -> Option<Value> {
        self.meter(
            i,
            "Prestore",
            &[
                ("token", token),
                ("admin_user_name", "khcs"),
                ("user_code", user_code),
                ("out_trade_no", no),
                ("total_fee", "1.00"),
            ],
        )
        .await
    }

    /// A household's balance in fen, read through instance `i`.
    async fn balance(&self, i: usize, token: &str, user_code: &str) -> i64 {
        let r = self
            .meter(
                i,
                "GetUserInfo",
                &[
                    ("token", token),
                    ("admin_user_name", "khcs"),
                    ("user_code", user_code),
                ],
            )
            .await
            .expect("user info");
        let info: Value = serde_json::from_str(r["data"].as_str().expect("data")).expect("json");
        let yuan = info["balance"].as_str().expect("balance");
        let (whole, cents) = yuan.split_once('.').expect("two decimals");
        whole.parse::<i64>().expect("yuan") * 100 + cents.parse::<i64>().expect("fen")
    }

    /// A household's recharges (`out_trade_no`), through instance `i`.
    async fn recharges(&self, i: usize, token: &str, user_code: &str) -> Vec<String> {
        let mut all = Vec::new();
        for page in 1.. {
            let page = page.to_string();
            let r = self
                .meter(
                    i,
                    "GetPaymentList",
                    &[
                        ("token", token),
                        ("admin_user_name", "khcs"),
                        ("user_code", user_code),
                        ("BeginDate", "2000-01-01"),
                        ("EndDate", "2099-12-31"),
                        ("pageNo", &page),
                        ("pageSize", "1000"),
                    ],
                )
                .await
                .expect("list");
            assert_eq!(r["code"], 200, "{r}");
            let items: Vec<Value> =
                serde_json::from_str(r["data"].as_str().expect("data")).expect("json");
            let total = r["totalCount"].as_u64().expect("totalCount") as usize;
            all.extend(
                items
                    .iter()
                    .map(|i| i["out_trade_no"].as_str().expect("no").to_owned()),
            );
            if items.is_empty() || all.len() >= total {
                break;
            }
        }
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recharge_sent_to_all_three_at_once_is_credited_once() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let token = cluster.meter_token(0).await;
    let opening = cluster.balance(0, &token, HOUSEHOLDS[0]).await;
    let before = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(before.passed, "{}", before.output);

    // Twenty recharges, each sent twice to every instance at once.
    const RECHARGES: usize = 20;
    let replies = crate::common::join_all((0..RECHARGES).flat_map(|k| {
        let (cluster, token) = (&cluster, &token);
        (0..6).map(move |copy| async move {
            let no = format!("spread-{k}");
            cluster
                .recharge(copy % 3, token, &no, HOUSEHOLDS[0])
                .await
                .expect("a reply")
        })
    }))
    .await;
    for r in &replies {
        assert_eq!(r["code"], 200, "every copy is answered as done: {r}");
    }
    for i in 0..3 {
        assert_eq!(
            cluster.balance(i, &token, HOUSEHOLDS[0]).await,
            opening + 100 * RECHARGES as i64,
            "instance {i}: each recharge credited once"
        );
    }
    let listed = cluster.recharges(1, &token, HOUSEHOLDS[0]).await;
    let spread: Vec<&String> = listed.iter().filter(|n| n.starts_with("spread-")).collect();
    assert_eq!(spread.len(), RECHARGES, "each listed once: {spread:?}");
    let after = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(after.passed, "{}", after.output);
    assert_eq!(
        after.entries,
        before.entries + RECHARGES,
        "{}",
        after.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_notification_delivered_to_all_three_is_applied_once() {
    let fake = FakeWechat::start().await;
    let mut env = wechat::server_env(
        &fake.base,
        "https://heating.example.com/heating/api/payment/notify",
    );
    // Only the notifications pay (no reconciliation by query during the test).
    env.push((
        "UTILHALL_HEATING__ORDER_QUERY_AFTER_SECONDS",
        "86400".into(),
    ));
    let Some(cluster) = Cluster::start(3, &env).await else {
        return;
    };
    // The demo's heating user binds the document's account and pays its unpaid bill.
    let (status, body) = cluster
        .post(
            0,
            "/heating/api/auth/login",
            None,
            json!({"phone": "13888888888", "password": "123456789", "openid": "oSpread"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (200, json!(200)), "{body}");
    let token = body["data"]["token"].as_str().expect("token").to_owned();
    let (_, body) = cluster
        .post(
            1,
            "/heating/api/heat/bind",
            Some(&token),
            json!({"heat_account": "H202400001", "real_name": "张三",
                   "id_card": "610102199001011234", "address": "天山区xx小区xx号楼xx单元xx室"}),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    let (_, body) = cluster
        .post(
            2,
            "/heating/api/payment/create",
            Some(&token),
            json!({"bill_ids": ["B1734502968024"], "amount": "1250.50"}),
        )
        .await;
    assert_eq!(body["code"], 200, "{body}");
    let order = body["data"]["order_id"].as_str().expect("order").to_owned();
    let before = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(before.passed, "{}", before.output);

    // WeChat's notification, three copies to each instance at once.
    let trade = Trade {
        total: 125_050,
        openid: "oSpread".into(),
        notify_url: String::new(),
        state: "SUCCESS".into(),
        transaction_id: Some(format!("4200{order}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let notice = wechat::notice(NoticeSpec {
        transaction: wechat::transaction_json(&order, &trade),
        timestamp: now,
        signing_key: "platform_key.pem",
        serial: PUBLIC_KEY_ID,
        apiv3_key: APIV3_KEY,
    });
    let statuses = crate::common::join_all((0..9).map(|copy| {
        let mut req = cluster
            .client
            .post(format!(
                "{}/heating/api/payment/notify",
                cluster.servers[copy % 3].base
            ))
            .header("content-type", "application/json")
            .body(notice.body.clone());
        for (k, v) in &notice.headers {
            req = req.header(*k, v);
        }
        async move { req.send().await.expect("delivered").status().as_u16() }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == 204),
        "every copy acknowledged: {statuses:?}"
    );

    let admin = cluster.admin(1).await;
    let (status, body) = cluster
        .send(
            1,
            reqwest::Method::GET,
            &format!("/admin/v1/heating/orders/{order}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "paid", "{body}");
    let after = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(after.passed, "{}", after.output);
    assert_eq!(
        after.entries,
        before.entries + 1,
        "paid once: {}",
        after.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_killed_under_load_loses_no_acknowledged_recharge() {
    let Some(mut cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    let token = cluster.meter_token(0).await;
    let mut opening = Vec::new();
    for h in HOUSEHOLDS {
        opening.push(cluster.balance(0, &token, h).await);
    }

    // 24 clients, 8 per instance, send distinct recharges until told to stop or their instance
    // is gone.
    let attempted = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let acked = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bases: Vec<String> = cluster.servers.iter().map(|s| s.base.clone()).collect();
    let client = reqwest::Client::new();
    let mut clients = Vec::new();
    for c in 0..24 {
        let base = bases[c % 3].clone();
        let (client, token, attempted, acked, stop) = (
            client.clone(),
            token.clone(),
            attempted.clone(),
            acked.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let no = format!("kill-{c}-{n}");
                let household = HOUSEHOLDS[n % 2];
                attempted.lock().expect("lock").insert(no.clone());
                let sent = client
                    .post(format!("{base}/meter/user/Prestore"))
                    .form(&[
                        ("token", token.as_str()),
                        ("admin_user_name", "khcs"),
                        ("user_code", household),
                        ("out_trade_no", &no),
                        ("total_fee", "1.00"),
                    ])
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let Ok(resp) = sent else { break };
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                assert_eq!(body["code"], 200, "{body}");
                acked.lock().expect("lock").insert(no);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 300 {
        assert!(Instant::now() < deadline, "the recharges did not flow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.servers[1].kill();
    // The others go on a little while, then stop.
    let acked_at_kill = acked.lock().expect("lock").len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < acked_at_kill + 200 {
        assert!(Instant::now() < deadline, "the survivors did not go on");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        tokio::time::timeout(Duration::from_secs(20), c)
            .await
            .expect("the clients stop")
            .expect("client task");
    }
    let attempted = attempted.lock().expect("lock").clone();
    let acked = acked.lock().expect("lock").clone();

    // Every acknowledged recharge is there, once; the balances are what is recorded.
    let mut stored = BTreeSet::new();
    for (h, household) in HOUSEHOLDS.iter().enumerate() {
        let listed: Vec<String> = cluster
            .recharges(2, &token, household)
            .await
            .into_iter()
            .filter(|n| n.starts_with("kill-"))
            .collect();
        let distinct: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(distinct.len(), listed.len(), "a recharge listed twice");
        assert_eq!(
            cluster.balance(0, &token, household).await,
            opening[h] + 100 * listed.len() as i64,
            "{household}: the balance is the opening plus what is recorded"
        );
        stored.extend(distinct);
    }
    eprintln!(
        "attempted {}, acknowledged {}, stored {}",
        attempted.len(),
        acked.len(),
        stored.len()
    );
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(stored.is_subset(&attempted));
    let check = ledger_check(cluster.dir.path(), &cluster.url);
    assert!(check.passed, "{}", check.output);
}
