//! A server killed with SIGKILL in the middle of a stream of recharges loses none it
//! acknowledged and, started again, applies none twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::child::{ChildServer as Server, ledger_check};

const HOUSEHOLDS: [&str; 2] = ["2022040001", "2022040002"];

/// The server with the demo, the one-call-per-2-seconds rule off.
async fn start(dir: &std::path::Path, url: &str) -> Server {
    let env = [("UTILHALL_METER__RATE_LIMIT_WINDOW_SECONDS", "0".to_owned())];
    Server::start(dir, url, &["--demo".to_owned()], &env).await
}

impl Server {
    async fn call(&self, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Value {
        client
            .post(format!("{}/meter/user/{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    async fn token(&self, client: &reqwest::Client) -> String {
        let r = self
            .call(
                client,
                "login",
                &[("admin_user_name", "khcs"), ("api_password", "123456")],
            )
            .await;
        r["data"].as_str().expect("token").to_owned()
    }

    async fn balance(&self, client: &reqwest::Client, token: &str, user_code: &str) -> i64 {
        let r = self
            .call(
                client,
                "GetUserInfo",
                &[
                    ("token", token),
                    ("admin_user_name", "khcs"),
                    ("user_code", user_code),
                ],
            )
            .await;
        let info: Value = serde_json::from_str(r["data"].as_str().expect("data")).expect("json");
        let yuan = info["balance"].as_str().expect("balance");
        let (whole, cents) = yuan.split_once('.').expect("two decimals");
        whole.parse::<i64>().expect("yuan") * 100 + cents.parse::<i64>().expect("fen")
    }

    /// Every recharge of a household, by `out_trade_no`, through the document's list.
    async fn recharges(
        &self,
        client: &reqwest::Client,
        token: &str,
        user_code: &str,
    ) -> Vec<String> {
        let mut all = Vec::new();
        for page in 1.. {
            let page = page.to_string();
            let r = self
                .call(
                    client,
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
                .await;
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

fn household_of(no: &str) -> &'static str {
    HOUSEHOLDS[no.bytes().last().map_or(0, |b| usize::from(b % 2))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_recharge_and_applies_none_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&dir).await;
    let client = reqwest::Client::new();

    let mut server = start(dir.path(), &url).await;
    let token = server.token(&client).await;
    let mut opening = HashMap::new();
    for h in HOUSEHOLDS {
        opening.insert(h, server.balance(&client, &token, h).await);
    }

    // 32 clients send distinct recharges (1.00 yuan) until the server dies under them.
    let attempted = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..32 {
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        let (attempted, acked) = (attempted.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let no = format!("crash-{c}-{i}");
                attempted.lock().expect("lock").push(no.clone());
                let sent = client
                    .post(format!("{base}/meter/user/Prestore"))
                    .form(&[
                        ("token", token.as_str()),
                        ("admin_user_name", "khcs"),
                        ("user_code", household_of(&no)),
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
                acked.lock().expect("lock").push(no);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 500 {
        assert!(Instant::now() < deadline, "the recharges did not flow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    for c in clients {
        tokio::time::timeout(Duration::from_secs(20), c)
            .await
            .expect("the clients stop when the server is gone")
            .expect("client task");
    }
    let attempted = attempted.lock().expect("lock").clone();
    let acked: BTreeSet<String> = acked.lock().expect("lock").iter().cloned().collect();

    // Started again: every acknowledged recharge is there, once; balances match the records.
    let mut server = start(dir.path(), &url).await;
    let token = server.token(&client).await;
    let mut stored = BTreeSet::new();
    for h in HOUSEHOLDS {
        let listed = server.recharges(&client, &token, h).await;
        let listed: Vec<String> = listed
            .into_iter()
            .filter(|n| n.starts_with("crash-"))
            .collect();
        let distinct: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(distinct.len(), listed.len(), "a recharge listed twice");
        assert!(listed.iter().all(|n| household_of(n) == h));
        assert_eq!(
            server.balance(&client, &token, h).await,
            opening[h] + 100 * listed.len() as i64,
            "{h}: the balance is the opening plus what is recorded"
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
    assert!(stored.len() >= acked.len() && stored.len() <= attempted.len());

    // The platform retries everything it sent: each is credited once in all.
    for chunk in attempted.chunks(64) {
        let (server, client, token) = (&server, &client, &token);
        let replies = crate::common::join_all(chunk.iter().map(|no| async move {
            let form = [
                ("token", token.as_str()),
                ("admin_user_name", "khcs"),
                ("user_code", household_of(no)),
                ("out_trade_no", no.as_str()),
                ("total_fee", "1.00"),
            ];
            server.call(client, "Prestore", &form).await
        }))
        .await;
        assert!(replies.iter().all(|r| r["code"] == 200), "{replies:?}");
    }
    for h in HOUSEHOLDS {
        let sent = attempted.iter().filter(|n| household_of(n) == h).count() as i64;
        assert_eq!(
            server.balance(&client, &token, h).await,
            opening[h] + 100 * sent
        );
    }
    server.kill();
    let ledger = ledger_check(dir.path(), &url);
    assert!(ledger.passed, "{}", ledger.output);
}
