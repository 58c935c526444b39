//! A driver's stream on one instance hears, within a second, what an operator did on a second
//! instance and what the driver did on a third.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Cluster;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event on the stream (pings and pongs skipped), waiting at most `within`.
async fn next_event(socket: &mut Socket, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let msg = tokio::time::timeout(left, socket.next()).await.ok()??;
        if let Message::Text(t) = msg.ok()? {
            let v: Value = serde_json::from_str(t.as_str()).expect("JSON");
            if v["event"] != "pong" {
                return Some(v);
            }
        }
    }
}

/// Reads the stream until `event` comes (at most `within`); what came before it too.
async fn until(socket: &mut Socket, event: &str, within: Duration) -> (Option<Value>, Vec<Value>) {
    let deadline = Instant::now() + within;
    let mut before = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next_event(socket, left).await {
            Some(v) if v["event"] == event => return (Some(v), before),
            Some(v) => before.push(v),
            None => break,
        }
    }
    (None, before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_instance_hears_within_a_second_what_another_did() {
    let Some(cluster) = Cluster::start(3, &[]).await else {
        return;
    };
    // A driver made by the operator (no captcha), logged in on instance C.
    let admin = cluster.admin(1).await;
    let (status, body) = cluster
        .post(
            1,
            "/admin/v1/charging/drivers",
            Some(&admin),
            json!({"username": "spread", "password": "123456"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, body) = cluster
        .send(
            2,
            reqwest::Method::POST,
            "/charging/login?username=spread&password=123456",
            None,
            None,
        )
        .await;
    let token = body["token"].as_str().expect("token").to_owned();

    // The driver's stream on instance A: queued, called to F1, charging.
    let url = format!(
        "{}/charging/user/charge?token={token}&mode=fast&quantity=30",
        cluster.servers[0].base.replacen("http", "ws", 1)
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the stream opens");
    let opening = next_event(&mut socket, Duration::from_secs(10))
        .await
        .expect("opening");
    assert_eq!(opening["code"], 200, "{opening}");
    let (charging, _) = until(&mut socket, "charging", Duration::from_secs(10)).await;
    assert!(charging.is_some(), "the car charges\n{}", cluster.logs());

    // The operator, on instance B, records F1's fault: the car moves to F2, and the stream on
    // A hears it within a second of the operator's answer.
    let (status, body) = cluster
        .post(
            1,
            "/admin/v1/charging/piles/F1/state",
            Some(&admin),
            json!({"state": "fault"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answered = Instant::now();
    let heard = next_event(&mut socket, Duration::from_secs(5)).await;
    let after = answered.elapsed();
    eprintln!("the fault on B heard on A after {after:?}");
    assert!(
        heard.is_some(),
        "the stream heard the fault\n{}",
        cluster.logs()
    );
    assert!(
        after < Duration::from_secs(1),
        "heard {heard:?} after {after:?}"
    );
    if heard.as_ref().is_some_and(|h| h["event"] != "charging") {
        let (moved, before) = until(&mut socket, "charging", Duration::from_secs(1)).await;
        assert!(
            moved.is_some(),
            "charging again, on F2: {heard:?} {before:?}"
        );
    }

    // The driver, on instance C, cancels over HTTP: the stream on A hears the end.
    let (status, body) = cluster
        .post(
            2,
            "/charging/user/charge/cancel",
            None,
            json!({"token": token}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answered = Instant::now();
    let (ended, before) = until(&mut socket, "cancelled", Duration::from_secs(5)).await;
    let after = answered.elapsed();
    eprintln!("the cancel on C heard on A after {after:?}");
    assert!(ended.is_some(), "the stream heard the cancel: {before:?}");
    assert!(after < Duration::from_secs(1), "heard after {after:?}");
}
