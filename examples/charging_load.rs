//! Load for the charging surface (used by `bench/charging.sh`): creates drivers through the
//! operator API, logs each in, opens one WebSocket per driver (each queues a request), checks
//! that every stream got its opening reply and its `queued` event, prints `READY <n>` and holds
//! the connections open for `HOLD_SECS` seconds. `DRIVERS <n>` is printed (then a 3 s pause)
//! once the drivers exist and before any stream opens.
//!
//! Env: `BASE` (http://127.0.0.1:18100), `DRIVERS` (10000), `HOLD_SECS` (10), `PREFIX`
//! (`load`), `ADMIN_PASSWORD` (`admin123456`).

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    anyhow::ensure!(status.is_success(), "{status}: {body}");
    Ok(body)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = env("BASE", "http://127.0.0.1:18100");
    let drivers: usize = env("DRIVERS", "10000").parse()?;
    let hold: u64 = env("HOLD_SECS", "10").parse()?;
    let prefix = env("PREFIX", "load");
    let client = reqwest::Client::new();
    let admin = post(
        &client,
        format!("{base}/admin/v1/login"),
        None,
        json!({"username": "admin", "password": env("ADMIN_PASSWORD", "admin123456")}),
    )
    .await?;
    let op = admin["token"].as_str().unwrap_or_default().to_owned();
    let resp = client
        .put(format!("{base}/admin/v1/charging/config"))
        .bearer_auth(&op)
        .json(&json!({"waiting_capacity": drivers + 100}))
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "config: {}", resp.text().await?);

    let started = Instant::now();
    let tokens: Vec<anyhow::Result<String>> = stream::iter(0..drivers)
        .map(|i| {
            let (client, base, op, name) = (&client, &base, &op, format!("{prefix}{i}"));
            async move {
                post(
                    client,
                    format!("{base}/admin/v1/charging/drivers"),
                    Some(op),
                    json!({"username": name, "password": "123456"}),
                )
                .await?;
                let r = post(
                    client,
                    format!("{base}/charging/login"),
                    None,
                    json!({"username": name, "password": "123456"}),
                )
                .await?;
                Ok(r["token"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let tokens: Vec<String> = tokens.into_iter().collect::<anyhow::Result<_>>()?;
    eprintln!(
        "{} drivers ready in {:.1} s",
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
    // The bench reads the server's memory now, before any stream is open.
    println!("DRIVERS {}", tokens.len());
    tokio::time::sleep(Duration::from_secs(3)).await;

    let started = Instant::now();
    let ws_base = base.replacen("http", "ws", 1);
    let sockets: Vec<anyhow::Result<_>> = stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| {
            let mode = if i % 2 == 0 { "fast" } else { "common" };
            let url =
                format!("{ws_base}/charging/user/charge?token={token}&mode={mode}&quantity=5");
            async move {
                let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
                let mut seen = Vec::new();
                while seen.len() < 2 {
                    let msg = tokio::time::timeout(Duration::from_secs(30), socket.next())
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("closed"))??;
                    if let Message::Text(t) = msg {
                        let v: Value = serde_json::from_str(t.as_str())?;
                        anyhow::ensure!(v["code"] == 200, "refused: {v}");
                        seen.push(v);
                    }
                }
                anyhow::ensure!(seen[1]["event"] == "queued", "second message: {}", seen[1]);
                Ok(socket)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let sockets: Vec<_> = sockets.into_iter().collect::<anyhow::Result<_>>()?;
    eprintln!(
        "{} streams open and queued in {:.1} s",
        sockets.len(),
        started.elapsed().as_secs_f64()
    );
    println!("READY {}", sockets.len());
    tokio::time::sleep(Duration::from_secs(hold)).await;
    drop(sockets);
    Ok(())
}
