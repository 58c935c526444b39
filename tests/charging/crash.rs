//! A server killed with SIGKILL while charging sessions are ending (the simulated clock moving
//! under a stream of requests) loses no detail record it reported and, started again, writes
//! none twice; every fee is the course's tariff's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use utilhall::domain::Timestamp;

const DRIVERS: usize = 40;

use crate::common::child::{ChildServer as Server, demo_dev_args, ledger_check};

/// The server on a small station (6 fast and 6 slow piles, queues of 2, 40 waiting places),
/// its simulated clock at `clock`.
async fn start(dir: &std::path::Path, url: &str, clock: &str) -> Server {
    let mut args = demo_dev_args(dir);
    args.extend(["--sim-clock".to_owned(), clock.to_owned()]);
    let env = [
        ("UTILHALL_CHARGING__FAST_PILES", "6".to_owned()),
        ("UTILHALL_CHARGING__SLOW_PILES", "6".to_owned()),
        ("UTILHALL_CHARGING__QUEUE_LEN", "2".to_owned()),
        ("UTILHALL_CHARGING__WAITING_CAPACITY", "40".to_owned()),
    ];
    Server::start(dir, url, &args, &env).await
}

impl Server {
    async fn call(
        &self,
        client: &reqwest::Client,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> (u16, Value) {
        let _ = client;
        let resp = req.send().await.unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("{what}: {e}\nserver log:\n{log}")
        });
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn advance(&self, client: &reqwest::Client, seconds: i64) -> i64 {
        let req = client
            .post(format!("{}/admin/v1/clock", self.base))
            .json(&json!({"advance_seconds": seconds}));
        let (status, body) = self.call(client, req, "clock").await;
        assert_eq!(status, 200, "{body}");
        body["now_ms"].as_i64().expect("now_ms")
    }

    /// A driver's detail records (newest first), as the document's log shows them.
    async fn log(&self, client: &reqwest::Client, token: &str) -> Vec<Value> {
        let req = client
            .get(format!("{}/charging/user/log", self.base))
            .query(&[("token", token), ("num", "1000")]);
        let (status, body) = self.call(client, req, "log").await;
        assert_eq!(status, 200, "{body}");
        body.as_array().expect("a list").clone()
    }

    async fn info(&self, client: &reqwest::Client, token: &str) -> Value {
        let req = client
            .get(format!("{}/charging/user/charge/info", self.base))
            .bearer_auth(token);
        let (status, body) = self.call(client, req, "info").await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// The course's tariff, independently: fen per kWh by local hour (China time), service 0.80.
fn price_at_local_hour(h: i64) -> i64 {
    match h {
        0..=6 | 23 => 40,
        7..=9 | 15..=17 | 21..=22 => 70,
        _ => 100,
    }
}

/// `(charging fee, service fee)` in fen of a session at `power_w` from `start` to `stop` (UTC
/// ms): each hour's energy at that hour's price, in thousandths of a fen, rounded half up.
fn course_fees(power_w: i64, start: i64, stop: i64) -> (i64, i64) {
    let energy = |t: i64| (i128::from(power_w) * i128::from(t - start) / 3_600_000) as i64;
    const HOUR: i64 = 3_600_000;
    let offset = 8 * HOUR;
    let mut milli = 0i128;
    let mut at = start;
    while at < stop {
        let local = at + offset;
        let hour_end = (local.div_euclid(HOUR) + 1) * HOUR - offset;
        let until = hour_end.min(stop);
        let price = price_at_local_hour(local.div_euclid(HOUR).rem_euclid(24));
        milli += i128::from(energy(until) - energy(at)) * i128::from(price);
        at = until;
    }
    let round = |v: i128| ((v + 500).div_euclid(1000)) as i64;
    (round(milli), round(i128::from(energy(stop)) * 80))
}

fn fen(v: &Value) -> i64 {
    match v {
        Value::String(s) => (s.parse::<f64>().expect("yuan") * 100.0).round() as i64,
        other => (other.as_f64().expect("yuan") * 100.0).round() as i64,
    }
}

/// What one driver saw before the kill.
#[derive(Debug, Default)]
struct Seen {
    applied: usize,
    /// Sessions the server reported over (`state: none` after an accepted request).
    finished: usize,
    /// The detail records read after each finish, by id.
    records: BTreeMap<i64, Value>,
    /// An apply sent when the server died.
    apply_in_flight: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_reported_charging_record_and_writes_none_twice() {
    const START: &str = "2026-01-05T02:00:00Z";
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = crate::common::test_database_url(&dir).await;
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &url, START).await;
    let req = client
        .post(format!("{}/admin/v1/login", server.base))
        .json(&json!({"username": "admin", "password": "admin123456"}));
    let (status, body) = server.call(&client, req, "admin login").await;
    assert_eq!(status, 200, "{body}");
    let admin = body["token"].as_str().expect("token").to_owned();
    let mut tokens = Vec::new();
    for d in 0..DRIVERS {
        let name = format!("crash{d:02}");
        let req = client
            .post(format!("{}/admin/v1/charging/drivers", server.base))
            .bearer_auth(&admin)
            .json(&json!({"username": name, "password": "123456"}));
        let (status, body) = server.call(&client, req, "driver").await;
        assert_eq!(status, 201, "{body}");
        let req = client
            .post(format!("{}/charging/login", server.base))
            .query(&[("username", name.as_str()), ("password", "123456")]);
        let (status, body) = server.call(&client, req, "login").await;
        assert_eq!(status, 200, "{body}");
        tokens.push(body["token"].as_str().expect("token").to_owned());
    }

    // The clock moves a minute at a time; each driver charges again and again: a request,
    // then its state until the session is over, then its records.
    let gone = Arc::new(AtomicBool::new(false));
    let now_ms = Arc::new(AtomicI64::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
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
                    .json(&json!({"advance_seconds": 60}))
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
    let mut drivers = Vec::new();
    for (d, token) in tokens.iter().enumerate() {
        let (client, base, token, finished) = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            finished.clone(),
        );
        drivers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let get = |path: &'static str, num: bool| {
                let mut req = client
                    .get(format!("{base}{path}"))
                    .query(&[("token", token.as_str())])
                    .timeout(Duration::from_secs(10));
                if num {
                    req = req.query(&[("num", "1000")]);
                }
                req
            };
            async fn json(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
                let resp = req.send().await.ok()?;
                let status = resp.status().as_u16();
                Some((status, resp.json().await.ok()?))
            }
            for i in 0usize.. {
                let mode = if d % 2 == 0 { "fast" } else { "common" };
                let kwh = 1 + (d + i) % 4;
                let apply = client
                    .post(format!("{base}/charging/user/charge/apply"))
                    .json(&json!({"token": token, "mode": mode, "quantity": kwh}))
                    .timeout(Duration::from_secs(10));
                let Some((status, body)) = json(apply).await else {
                    seen.apply_in_flight = true;
                    return seen;
                };
                match status {
                    200 => seen.applied += 1,
                    409 if body["error"] == "refused" => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    _ => panic!("apply: {status} {body}"),
                }
                loop {
                    let Some((status, info)) = json(get("/charging/user/charge/info", false)).await
                    else {
                        return seen;
                    };
                    assert_eq!(status, 200, "{info}");
                    if info["state"] == "none" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen.finished += 1;
                finished.fetch_add(1, Ordering::SeqCst);
                let Some((status, log)) = json(get("/charging/user/log", true)).await else {
                    return seen;
                };
                assert_eq!(status, 200, "{log}");
                for r in log.as_array().expect("a list") {
                    seen.records
                        .insert(r["id"].as_i64().expect("id"), r.clone());
                }
                assert_eq!(
                    seen.records.len(),
                    seen.finished,
                    "one record per finished session"
                );
            }
            seen
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while finished.load(Ordering::SeqCst) < 150 {
        assert!(Instant::now() < deadline, "the sessions did not flow");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    gone.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for d in drivers {
        seen.push(
            tokio::time::timeout(Duration::from_secs(20), d)
                .await
                .expect("the drivers stop when the server is gone")
                .expect("driver"),
        );
    }
    tokio::time::timeout(Duration::from_secs(20), ticker)
        .await
        .expect("the ticker stops")
        .expect("ticker");

    // Started again where the clock was: every record a driver saw is there, unchanged.
    let resume = Timestamp::from_millis(now_ms.load(Ordering::SeqCst));
    let mut server = start(dir.path(), &url, &resume.iso_utc_ms()).await;
    let mut stored_before = 0;
    for (d, (token, s)) in tokens.iter().zip(&seen).enumerate() {
        let log = server.log(&client, token).await;
        let ids: BTreeSet<i64> = log.iter().map(|r| r["id"].as_i64().expect("id")).collect();
        assert_eq!(ids.len(), log.len(), "driver {d}: a record twice");
        for (id, record) in &s.records {
            let now = log.iter().find(|r| r["id"] == *id);
            assert_eq!(now, Some(record), "driver {d}: record {id} lost or changed");
        }
        assert!(
            log.len() >= s.finished && log.len() <= s.applied,
            "driver {d}: {} records, {} sessions reported over, {} accepted",
            log.len(),
            s.finished,
            s.applied
        );
        stored_before += log.len();
    }

    // The rest of the day: every accepted request ends, each with one record.
    for _ in 0..12 {
        server.advance(&client, 1800).await;
    }
    let mut stored = 0;
    for (d, (token, s)) in tokens.iter().zip(&seen).enumerate() {
        assert_eq!(
            server.info(&client, token).await["state"],
            "none",
            "driver {d}"
        );
        let log = server.log(&client, token).await;
        let extra = usize::from(s.apply_in_flight);
        assert!(
            log.len() >= s.applied && log.len() <= s.applied + extra,
            "driver {d}: {} records for {} accepted requests (one in flight: {})",
            log.len(),
            s.applied,
            s.apply_in_flight
        );
        stored += log.len();
    }
    // Every record once, billed by the course's tariff.
    let req = client
        .get(format!("{}/admin/v1/charging/records", server.base))
        .query(&[("limit", "10000")])
        .bearer_auth(&admin);
    let (status, body) = server.call(&client, req, "records").await;
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().expect("records");
    let mine: Vec<&Value> = records
        .iter()
        .filter(|r| r["user"].as_str().is_some_and(|u| u.starts_with("crash")))
        .collect();
    assert_eq!(mine.len(), stored, "the operator sees the drivers' records");
    let mut sessions = BTreeSet::new();
    for r in &mine {
        let key = (
            r["user"].as_str().expect("user").to_owned(),
            r["start"].as_str().expect("start").to_owned(),
        );
        assert!(sessions.insert(key), "a session recorded twice: {r}");
        let start = Timestamp::parse_rfc3339(r["start"].as_str().expect("start"))
            .expect("start")
            .millis();
        let stop = Timestamp::parse_rfc3339(r["stop"].as_str().expect("stop"))
            .expect("stop")
            .millis();
        let power = if r["pile"].as_str().expect("pile").starts_with('F') {
            30_000
        } else {
            10_000
        };
        let (charge, service) = course_fees(power, start, stop);
        assert_eq!(
            (fen(&r["charge_fee"]), fen(&r["service_fee"])),
            (charge, service),
            "{r}"
        );
        assert_eq!(r["total_fen"].as_i64(), Some(charge + service), "{r}");
        let kwh = r["kwh"].as_f64().expect("kwh");
        assert!(
            (1.0..=4.0).contains(&kwh) && kwh.fract() == 0.0,
            "a whole session: {r}"
        );
        assert_eq!(
            (stop - start) * power / 3_600_000,
            (kwh * 1000.0) as i64,
            "{r}"
        );
    }
    let applied: usize = seen.iter().map(|s| s.applied).sum();
    let reported: usize = seen.iter().map(|s| s.finished).sum();
    eprintln!(
        "accepted {applied}, reported over {reported}, records after restart {stored_before}, after the day {stored}"
    );
    server.kill();
    let ledger = ledger_check(dir.path(), &url);
    let (ok, text) = (ledger.passed, ledger.output);
    assert!(ok, "{text}");
    eprintln!("charging crash test took {:?}", started.elapsed());
}
