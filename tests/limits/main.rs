//! Several instances on one database behave as one: every limit and counter holds over all of
//! them. Each test starts three instances of the real app on one database (the PostgreSQL
//! schema of `TEST_DATABASE_URL`, or one SQLite file with the limits kept in it) and spreads
//! its requests over them; then again with the limits in Redis, when Redis answers
//! (`TEST_REDIS_URL`, else 127.0.0.1:6379), under a key prefix of the test's own.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use md5::Digest;
use serde_json::{Value, json};

use common::{Reply, TestApp};
use utilhall::config::{Config, Secret};

/// Where the instances of a test keep their limits.
#[derive(Debug, Clone)]
enum Shared {
    /// The database they share.
    Database,
    /// Redis at this URL.
    Redis(String),
}

/// The stores to run each test with: the database, and Redis when it answers. An empty
/// `TEST_REDIS_URL` leaves Redis out.
fn stores() -> Vec<Shared> {
    let mut out = vec![Shared::Database];
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if url.is_empty() => {}
        Ok(url) => out.push(Shared::Redis(url)),
        Err(_) => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 6379));
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok() {
                out.push(Shared::Redis("redis://127.0.0.1:6379".into()));
            }
        }
    }
    out
}

/// Instances of the app on one database.
struct Cluster {
    apps: Vec<TestApp>,
    shared: Shared,
}

impl Cluster {
    /// `n` instances on a fresh database, each with the test's configuration.
    async fn start(n: usize, shared: &Shared, tweak: impl Fn(&mut Config)) -> Cluster {
        let first = tempfile::tempdir().expect("tempdir");
        let url = common::test_database_url(&first).await;
        let prefix = format!("t{}", utilhall::domain::ids::random_hex_id());
        let mut dirs = vec![first];
        dirs.extend((1..n).map(|_| tempfile::tempdir().expect("tempdir")));
        let mut apps = Vec::new();
        // One after the other: the first migrates the database and loads the demo.
        for dir in dirs {
            let mut c = common::config_on(&dir, url.clone());
            match shared {
                Shared::Database => c.limits.store = "database".into(),
                Shared::Redis(redis) => {
                    c.redis.url = Some(Secret(redis.clone()));
                    c.redis.key_prefix = prefix.clone();
                }
            }
            tweak(&mut c);
            apps.push(common::start(c, dir).await);
        }
        for app in &apps {
            let store = app.get("/health", None).await.body["limits"]["store"].clone();
            let expected = match shared {
                Shared::Database => "database",
                Shared::Redis(_) => "redis",
            };
            assert_eq!(store, expected);
        }
        Cluster {
            apps,
            shared: shared.clone(),
        }
    }

    /// Instance `i` (round robin).
    fn at(&self, i: usize) -> &TestApp {
        &self.apps[i % self.apps.len()]
    }

    /// Moves every instance's simulated clock forward (they started at one instant).
    async fn advance(&self, seconds: i64) {
        for app in &self.apps {
            app.advance(seconds).await;
        }
    }

    async fn stop(self) {
        for app in self.apps {
            app.stop().await;
        }
    }
}

/// Runs `test` once per store, with a message naming the store on failure.
macro_rules! for_each_store {
    (|$shared:ident| $body:block) => {
        for $shared in stores() {
            eprintln!("limits in {:?}", $shared);
            $body
        }
    };
}

#[tokio::test]
async fn the_per_ip_limit_counts_requests_on_every_instance() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| {
            c.heating.rate_limit_requests = 6;
            c.heating.rate_limit_window_seconds = 900;
        })
        .await;
        for i in 0..6 {
            let r = cluster.at(i).get("/heating/api/config/system", None).await;
            assert_eq!(r.code(), 200, "request {i}: {:?}", r.body);
        }
        // Six requests in all, two on each: the seventh is refused wherever it goes.
        for i in 0..3 {
            let app = cluster.at(i);
            let resp = app
                .client
                .get(format!("{}/heating/api/config/system", app.base))
                .send()
                .await
                .expect("send");
            assert_eq!(resp.status(), 429, "{:?}", cluster.shared);
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=900).contains(&retry), "Retry-After {retry}");
        }
        // The window ends for everyone at once.
        cluster.advance(900).await;
        for i in 0..3 {
            let r = cluster.at(i).get("/heating/api/config/system", None).await;
            assert_eq!(r.code(), 200, "{:?}", r.body);
        }
        cluster.stop().await;
    });
}

#[tokio::test]
async fn concurrent_requests_on_three_instances_get_exactly_the_limit() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| {
            c.heating.rate_limit_requests = 20;
        })
        .await;
        let replies = common::join_all(
            (0..60).map(|i| cluster.at(i).get("/heating/api/config/system", None)),
        )
        .await;
        let passed = replies.iter().filter(|r| r.code() == 200).count();
        let refused = replies.iter().filter(|r| r.code() == 1008).count();
        assert_eq!((passed, refused), (20, 40), "{:?}", cluster.shared);
        cluster.stop().await;
    });
}

#[tokio::test]
async fn the_sms_resend_interval_and_daily_cap_hold_over_instances() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| c.sms.daily_cap = 3).await;
        let phone = "13900000021";
        assert_eq!(cluster.at(0).send_sms(phone, "login").await.code(), 200);
        // Another instance knows the code was just sent.
        for i in 1..3 {
            let r = cluster.at(i).send_sms(phone, "login").await;
            assert_eq!(r.code(), 1008, "{:?}", r.body);
        }
        cluster.advance(61).await;
        assert_eq!(cluster.at(1).send_sms(phone, "login").await.code(), 200);
        cluster.advance(61).await;
        assert_eq!(cluster.at(2).send_sms(phone, "login").await.code(), 200);
        // Three sent today, one on each instance: the cap holds on all of them.
        cluster.advance(61).await;
        for i in 0..3 {
            let r = cluster.at(i).send_sms(phone, "login").await;
            assert_eq!(r.code(), 1008, "{:?}", r.body);
            assert!(
                r.body["message"]
                    .as_str()
                    .expect("message")
                    .contains("上限"),
                "{:?}",
                r.body
            );
        }
        cluster.stop().await;
    });
}

#[tokio::test]
async fn an_sms_code_from_one_instance_is_checked_on_another_and_its_tries_are_shared() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| c.sms.max_attempts = 3).await;
        let phone = "13900000022";
        let code = cluster.at(0).sms_code(phone, "register").await;
        let r = cluster.at(1).verify_sms(phone, &code, "register").await;
        assert_eq!(r.code(), 200, "{:?}", r.body);
        let r = cluster
            .at(2)
            .post(
                "/heating/api/auth/register",
                json!({"phone": phone, "code": code, "password": "secret123"}),
            )
            .await;
        assert_eq!(r.code(), 200, "{:?}", r.body);
        // Used up on one instance: gone on all.
        let r = cluster.at(0).verify_sms(phone, &code, "register").await;
        assert_eq!(r.code(), 1002);
        // Three wrong tries, one on each instance, void the next code everywhere.
        cluster.advance(61).await;
        let code = cluster.at(0).sms_code(phone, "login").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for i in 0..3 {
            let r = cluster.at(i).verify_sms(phone, wrong, "login").await;
            assert_eq!(r.code(), 1002, "{:?}", r.body);
        }
        let r = cluster.at(1).verify_sms(phone, &code, "login").await;
        assert_eq!(r.code(), 1006, "{:?}", r.body);
        cluster.stop().await;
    });
}

/// A retail captcha from instance `app`: `(id, answer)` (the answer from its dev outbox).
async fn retail_captcha(app: &TestApp) -> (String, String) {
    let r = app.get("/retail/qr_code", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["captcha_id"]
        .as_str()
        .expect("captcha_id")
        .to_owned();
    let answer = app.last_code(&id, "captcha");
    (id, answer)
}

#[tokio::test]
async fn a_captcha_issued_by_one_instance_is_accepted_by_another_once() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |_| {}).await;
        // Retail: the id and the answer, on another instance; a third cannot use it again.
        let (id, answer) = retail_captcha(cluster.at(0)).await;
        let register = |phone: &str| json!({"phone": phone, "password": "password-1", "captcha_id": id, "captcha": answer});
        let r = cluster
            .at(1)
            .post("/retail/user/register", register("13700000031"))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = cluster
            .at(2)
            .post("/retail/user/register", register("13700000032"))
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        // Charging: the document sends the answer alone, and the last captcha this address
        // fetched is meant, whichever instance it fetched it from.
        let r = cluster.at(0).get("/charging/captcha", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let id = r.body["captchaId"].as_str().expect("captchaId").to_owned();
        let answer = cluster.at(0).last_code(&id, "captcha");
        let with_answer = |name: &'static str| {
            vec![
                ("username", name),
                ("password", "123456"),
                ("code", answer.as_str()),
            ]
        };
        let r = cluster
            .at(1)
            .post_query("/charging/register", &with_answer("d1"))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["code"], 200, "{:?}", r.body);
        let r = cluster
            .at(2)
            .post_query("/charging/register", &with_answer("d2"))
            .await;
        assert_ne!(r.body["code"], 200, "a captcha is used once: {:?}", r.body);
        cluster.stop().await;
    });
}

#[tokio::test]
async fn captchas_per_address_are_counted_over_instances() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| c.retail.captchas_per_minute = 3).await;
        for i in 0..3 {
            assert_eq!(cluster.at(i).get("/retail/qr_code", None).await.status, 200);
        }
        for i in 0..3 {
            let r = cluster.at(i).get("/retail/qr_code", None).await;
            assert_eq!(r.status, 429, "{:?}", r.body);
        }
        cluster.stop().await;
    });
}

#[tokio::test]
async fn failed_logins_lock_the_account_over_instances() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| c.auth.max_failed_logins = 3).await;
        let phone = "13800000041";
        // `register` moves its instance's clock a minute on: the others follow.
        cluster.at(0).register(phone, "secret123").await;
        for i in 1..3 {
            cluster.at(i).advance(61).await;
        }
        for i in 0..3 {
            let r = cluster
                .at(i)
                .post(
                    "/heating/api/auth/login",
                    json!({"phone": phone, "password": "guess123"}),
                )
                .await;
            assert_eq!(r.code(), 1005, "{:?}", r.body);
        }
        // Three wrong passwords, one on each instance: the right one is refused on all.
        for i in 0..3 {
            let r = cluster
                .at(i)
                .post(
                    "/heating/api/auth/login",
                    json!({"phone": phone, "password": "secret123"}),
                )
                .await;
            assert_eq!(r.code(), 1008, "{:?}", r.body);
        }
        cluster.stop().await;
    });
}

/// `POST /meter{path}` with form parameters; the reply's JSON.
async fn meter(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Value {
    app.client
        .post(format!("{}/meter{path}", app.base))
        .form(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_meter_two_second_rule_holds_over_instances() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| {
            c.server.demo = true;
            c.meter.rate_limit_window_seconds = 2.0;
        })
        .await;
        let login = [("admin_user_name", "khcs"), ("api_password", "123456")];
        let r = meter(cluster.at(0), "/user/login", &login).await;
        assert_eq!(r["code"], 200, "{r}");
        let token = r["data"].as_str().expect("token").to_owned();
        for i in 1..3 {
            let r = meter(cluster.at(i), "/user/login", &login).await;
            assert_eq!(r["code"], 1001, "{r}");
        }
        // Per interface: another one may be called at once, once.
        let ask = [("token", token.as_str()), ("admin_user_name", "khcs")];
        let r = meter(cluster.at(1), "/user/getBuildCode", &ask).await;
        assert_eq!(r["code"], 200, "{r}");
        let r = meter(cluster.at(2), "/user/getBuildCode", &ask).await;
        assert_eq!(r["code"], 1001, "{r}");
        cluster.advance(2).await;
        let r = meter(cluster.at(2), "/user/login", &login).await;
        assert_eq!(r["code"], 200, "{r}");
        cluster.stop().await;
    });
}

/// The document's password form: MD5 hex.
fn md5(s: &str) -> String {
    md5::Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `method /iot{path}` with a bearer token; status and body.
async fn iot(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    app.request(method, &format!("/iot{path}"), Some(token), body)
        .await
}

/// A demo member's token (`13800000001`..`13800000004`).
async fn member(app: &TestApp, n: u32) -> String {
    let r = app
        .post(
            "/iot/auth/login",
            json!({"vid": "DOCH000000000001", "mobile": format!("1380000000{n}"), "pwd": md5("member123")}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn the_iot_withdrawal_gap_holds_over_instances() {
    for_each_store!(|shared| {
        let cluster = Cluster::start(3, &shared, |c| c.server.demo = true).await;
        // The demo's delivered order of 赵四, received and done: seven days later its
        // commissions are available to the three referrers above.
        let buyer = member(cluster.at(0), 4).await;
        let orders = iot(cluster.at(0), "GET", "/orders", &buyer, None).await;
        assert_eq!(orders.status, 200, "{:?}", orders.body);
        let delivered = orders
            .data()
            .as_array()
            .expect("orders")
            .iter()
            .find(|o| o.to_string().contains("SF1234567890"));
        let oid = delivered.expect("the demo's delivered order")["order_id"]
            .as_str()
            .expect("order_id")
            .to_owned();
        for step in ["confirm", "done"] {
            let r = iot(
                cluster.at(0),
                "POST",
                &format!("/orders/{oid}/status/{step}"),
                &buyer,
                Some(json!({})),
            )
            .await;
            assert_eq!(r.status, 201, "{step}: {:?}", r.body);
        }
        cluster.advance(7 * 86_400 + 1).await;
        let referrer = member(cluster.at(0), 3).await;
        let withdraw = |i: usize| {
            iot(
                cluster.at(i),
                "POST",
                "/commission/",
                &referrer,
                Some(json!({"amount": 100})),
            )
        };
        let r = withdraw(0).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        // One withdrawal per 30 s per account, whichever instance the next one reaches.
        for i in 1..3 {
            let r = withdraw(i).await;
            assert_eq!(r.status, 429, "{:?}", r.body);
        }
        cluster.advance(31).await;
        let r = withdraw(2).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        cluster.stop().await;
    });
}

/// The same contract for every store: windows open at their first hit, concurrent hits are all
/// counted, values expire on the clock they were given.
async fn store_contract(store: &dyn utilhall::domain::limits::LimitStore) {
    let w = store.hit("a", 1_000, 100).await.expect("hit");
    assert_eq!((w.start, w.count), (1_000, 1), "{}", store.kind());
    let w = store.hit("a", 1_099, 100).await.expect("hit");
    assert_eq!((w.start, w.count), (1_000, 2));
    let w = store.hit("a", 1_100, 100).await.expect("hit");
    assert_eq!(
        (w.start, w.count),
        (1_100, 1),
        "the window is over at its end"
    );
    let hits = common::join_all((0..50).map(|_| store.hit("b", 5_000, 60_000))).await;
    let mut counts: Vec<i64> = hits.into_iter().map(|h| h.expect("hit").count).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<_>>(), "{}", store.kind());
    store.put("v", "x:y", 1_000, 500).await.expect("put");
    assert_eq!(
        store.get("v", 1_499).await.expect("get").as_deref(),
        Some("x:y")
    );
    assert_eq!(store.get("v", 1_500).await.expect("get"), None);
    assert_eq!(store.get("nothing", 0).await.expect("get"), None);
    store.put("v", "z", 2_000, 500).await.expect("put");
    assert_eq!(
        store.get("v", 2_001).await.expect("get").as_deref(),
        Some("z")
    );
}

#[tokio::test]
async fn every_limit_store_keeps_the_same_contract() {
    use utilhall::gateways::limits::{MemoryLimits, RedisLimits, SqlLimits};
    store_contract(&MemoryLimits::new()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = common::test_database_url(&dir).await;
    let db = utilhall::store::Store::connect(&url, 4)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    store_contract(&SqlLimits::new(db.clone())).await;
    for shared in stores() {
        if let Shared::Redis(url) = shared {
            let prefix = format!("t{}", utilhall::domain::ids::random_hex_id());
            let redis = RedisLimits::connect(&url, &prefix).await.expect("redis");
            store_contract(&redis).await;
        }
    }
    db.close().await;
}
