//! Connections a client holds: slow headers, idle keep-alive and silent sockets are closed on
//! time while normal requests go on; the caps per client address and per process hold, and a
//! place is given back when a connection ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::spawn_with;

/// Waits until the server closes `s` (end of stream or reset), at most `limit`; how long it
/// took, or `None` if it stayed open.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A response (the idle connections read theirs first): keep reading.
            Ok(Ok(_)) => {}
        }
    }
}

/// One complete keep-alive request on `s`, its response read.
async fn one_request(s: &mut TcpStream) {
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("addr"))?;
    socket.connect(to).await
}

/// What a new connection from `source` is answered to `GET /health` within 2 s: the first
/// bytes of the reply, or `""` when the server closed it unanswered.
async fn answer(source: &str, addr: SocketAddr) -> String {
    let mut s = connect_from(source, addr).await.expect("connect");
    let _ = s
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("answered or closed within 2 s")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn slow_idle_and_silent_connections_are_closed_on_time_while_requests_go_on() {
    let app = spawn_with(|c| {
        c.connections.header_timeout_seconds = 1.0;
        c.connections.idle_timeout_seconds = 3.0;
        c.connections.max_connections_per_ip = 0;
    })
    .await;
    let addr = app.addr;
    const EACH: usize = 60;
    let mut silent = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..EACH {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
        let mut s = TcpStream::connect(addr).await.expect("connect");
        one_request(&mut s).await;
        idle.push(s);
    }
    // Slow clients: a header line every 300 ms, never the end of the headers.
    let mut slow = Vec::new();
    for i in 0..EACH {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        slow.push(tokio::spawn(async move {
            let start = Instant::now();
            if s.write_all(b"GET /health HTTP/1.1\r\n").await.is_err() {
                return start.elapsed();
            }
            for n in 0.. {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let line = format!("x-slow-{i}-{n}: y\r\n");
                if s.write_all(line.as_bytes()).await.is_err() {
                    return start.elapsed();
                }
                let mut buf = [0u8; 64];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
                {
                    return start.elapsed();
                }
                if start.elapsed() > Duration::from_secs(20) {
                    break;
                }
            }
            start.elapsed()
        }));
    }
    // Normal requests throughout: each succeeds.
    let client = app.client.clone();
    let base = app.base.clone();
    let normal = tokio::spawn(async move {
        let mut ok = 0;
        for _ in 0..25 {
            let r = client
                .get(format!("{base}/health"))
                .send()
                .await
                .expect("a normal request is served");
            assert_eq!(r.status().as_u16(), 200);
            ok += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ok
    });
    // The idle connections' last requests were answered by now.
    let start = Instant::now();
    // Silent connections: closed at the header timeout (1 s), well before the idle one (3 s).
    for s in &mut silent {
        let left = Duration::from_millis(2500).saturating_sub(start.elapsed());
        assert!(
            closed_within(s, left).await.is_some(),
            "a silent connection still open after {:?}",
            start.elapsed()
        );
    }
    // Idle keep-alive connections are still open 1.8 s after their requests (idle timeout
    // 3 s), when every silent one is long closed ...
    tokio::time::sleep(Duration::from_millis(1800).saturating_sub(start.elapsed())).await;
    let mut probe = [0u8; 1];
    for s in &mut idle {
        let r = tokio::time::timeout(Duration::from_millis(1), s.peek(&mut probe)).await;
        assert!(r.is_err(), "an idle connection was closed before its time");
    }
    // ... and closed by 4.5 s.
    for s in &mut idle {
        let left = Duration::from_millis(4500).saturating_sub(start.elapsed());
        assert!(
            closed_within(s, left).await.is_some(),
            "an idle connection still open after {:?}",
            start.elapsed()
        );
    }
    for t in slow {
        let took = t.await.expect("slow client");
        assert!(
            took < Duration::from_secs(4),
            "a slow client was held {took:?}"
        );
    }
    assert_eq!(normal.await.expect("normal"), 25);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let timed_out: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("utilhall_connections_timed_out_total "))
        .and_then(|v| v.parse().ok())
        .expect("timed-out counter");
    assert!(timed_out >= 3 * EACH as u64, "{timed_out}");
    app.stop().await;
}

#[tokio::test]
async fn one_address_cannot_take_every_place_and_places_come_back() {
    let app = spawn_with(|c| {
        c.connections.max_connections_per_ip = 10;
        c.connections.max_connections = 16;
        c.connections.header_timeout_seconds = 30.0;
    })
    .await;
    let addr = app.addr;
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(connect_from("127.0.0.1", addr).await.expect("connect"));
    }
    // The eleventh from the same address is closed at once, unanswered.
    assert_eq!(
        answer("127.0.0.1", addr).await,
        "",
        "served beyond the per-address cap"
    );
    // Another address is still served.
    let mut other = connect_from("127.0.0.2", addr).await.expect("connect");
    one_request(&mut other).await;
    // Six more from other addresses reach the process cap (16): the next is refused too.
    let mut others = Vec::new();
    for i in 3..8 {
        others.push(
            connect_from(&format!("127.0.0.{i}"), addr)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        answer("127.0.0.9", addr).await,
        "",
        "served beyond the process cap"
    );
    // Places come back when connections end.
    drop(held);
    drop(others);
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let text = answer("127.0.0.1", addr).await;
        if !text.is_empty() {
            again = Some(text);
            break;
        }
    }
    let again = again.expect("served again once the places were given back");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    let r = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics");
    let text = r.text().await.expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("utilhall_connections_refused_total ") && !l.ends_with(" 0")),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_websocket_keeps_its_place_under_the_cap_until_it_ends() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.connections.max_connections_per_ip = 3;
        c.connections.header_timeout_seconds = 30.0;
    })
    .await;
    let addr = app.addr;
    // A client of its own, dropped after the log-in: its pooled connection is gone too.
    let client = reqwest::Client::new();
    let login = client
        .post(format!(
            "{}/charging/login?username=test&password=123456",
            app.base
        ))
        .send()
        .await
        .expect("login");
    let token = login.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    drop(client);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = format!("ws://{addr}/charging/user/charge?token={token}&mode=fast&quantity=10");
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connects");
    // The WebSocket and two more connections fill the address's three places ...
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from("127.0.0.1", addr).await.expect("connect");
        one_request(&mut s).await;
        held.push(s);
    }
    // ... so a fourth is refused.
    assert_eq!(
        answer("127.0.0.1", addr).await,
        "",
        "the WebSocket did not count against the cap"
    );
    // The WebSocket ends (the other two stay): its place comes back.
    drop(socket);
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if !answer("127.0.0.1", addr).await.is_empty() {
            served = true;
            break;
        }
    }
    assert!(served, "the WebSocket's place did not come back");
    drop(held);
    app.stop().await;
}
