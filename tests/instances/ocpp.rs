//! A charge box linked to one instance is not taken for a silent one by the others: when each
//! box was last heard is kept in the database. When it goes, its pile is faulted.

use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{Cluster, eventually};

const PASSWORD: &str = "a-box-password-of-ours";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Box `id` connected to the server at `base` (http://...).
async fn connect(base: &str, id: &str) -> Socket {
    let url = format!("{}/ocpp/{id}", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("request");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{PASSWORD}"));
    let headers = req.headers_mut();
    headers.insert(
        "Authorization",
        HeaderValue::from_str(&format!("Basic {auth}")).expect("header"),
    );
    headers.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    tokio_tungstenite::connect_async(req)
        .await
        .expect("the box connects")
        .0
}

/// Sends a call and waits for its answer, answering the server's own calls meanwhile.
async fn call(socket: &mut Socket, id: &str, action: &str, payload: Value) -> Value {
    let frame = json!([2, id, action, payload]).to_string();
    socket
        .send(Message::Text(frame.into()))
        .await
        .expect("send");
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer in time")
            .expect("open")
            .expect("a frame");
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).expect("json");
        match v[0].as_i64() {
            Some(3) if v[1] == id => return v[2].clone(),
            Some(2) => {
                let answer = json!([3, v[1], {"status": "Accepted", "configurationKey": []}]);
                socket
                    .send(Message::Text(answer.to_string().into()))
                    .await
                    .expect("answer");
            }
            _ => panic!("unexpected frame {v}"),
        }
    }
}

async fn pile_state(cluster: &Cluster, i: usize, op: &str, pile: &str) -> String {
    let (status, body) = cluster
        .send(
            i,
            reqwest::Method::GET,
            "/admin/v1/charging/piles",
            Some(op),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["piles"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == pile))
        .and_then(|p| p["state"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_box_linked_to_one_instance_is_not_silent_to_the_others() {
    // Heartbeats of 1 s; 3 missed make a silent box (real time: the instances' clocks; one
    // more than the least, for a loaded machine).
    let env = [
        ("UTILHALL_OCPP__HEARTBEAT_SECS", "1".to_owned()),
        ("UTILHALL_OCPP__OFFLINE_HEARTBEATS", "3".to_owned()),
    ];
    let Some(cluster) = Cluster::start(2, &env).await else {
        return;
    };
    let op = cluster.admin(0).await;
    let (status, body) = cluster
        .send(
            0,
            reqwest::Method::PUT,
            "/admin/v1/charging/boxes/CB1",
            Some(&op),
            Some(json!({"password": PASSWORD, "pile": "F1"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Linked to instance 1 only, heard every half second for 5 s.
    let mut socket = connect(&cluster.servers[1].base, "CB1").await;
    let boot = call(
        &mut socket,
        "b",
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
    .await;
    assert_eq!(boot["status"], "Accepted", "{boot}");
    let until = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        call(&mut socket, &format!("h{n}"), "Heartbeat", json!({})).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for i in 0..2 {
        assert_eq!(
            pile_state(&cluster, i, &op, "F1").await,
            "working",
            "instance {i} took a box linked elsewhere for a silent one\n{}",
            cluster.logs()
        );
    }

    // Gone: the pile is faulted (by whichever instance looks first).
    drop(socket);
    let faulted = eventually(Duration::from_secs(8), || async {
        pile_state(&cluster, 0, &op, "F1").await == "fault"
    })
    .await;
    assert!(faulted, "{}", cluster.logs());
}
