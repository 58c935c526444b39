//! The charging surface (seed 004) as the driver app and the station operator drive it: the
//! document's endpoints, the WebSocket stream, the HTTP operations, the operator API, billing
//! across tariff boundaries, faults, and a restart.

#[path = "../common/mod.rs"]
mod common;

mod batches;
mod crash;
mod streams;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use common::{Reply, TestApp, spawn_app};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A new captcha's id and answer (from the dev outbox).
async fn captcha(app: &TestApp) -> (String, String) {
    let r = app.get("/charging/captcha", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["code"], 200);
    assert!(
        r.body["image"]
            .as_str()
            .expect("the step works")
            .starts_with("data:image/png;base64,")
    );
    let id = r.body["captchaId"]
        .as_str()
        .expect("the step works")
        .to_owned();
    let answer = app.last_code(&id, "captcha");
    (id, answer)
}

async fn raw_get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> String {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .query(query)
        .send()
        .await
        .expect("the step works");
    resp.text().await.expect("the step works")
}

async fn get_query(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Reply {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .query(query)
        .send()
        .await
        .expect("the step works");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("the step works");
    Reply { status, body }
}

/// Registers a driver; the token.
async fn driver(app: &TestApp, name: &str) -> String {
    let (id, answer) = captcha(app).await;
    let r = app
        .post_query(
            "/charging/register",
            &[
                ("username", name),
                ("password", "123456"),
                ("code", &answer),
                ("captchaId", &id),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["code"], 200);
    r.body["token"].as_str().expect("the step works").to_owned()
}

async fn ws(app: &TestApp, query: &str) -> Socket {
    let url = format!("ws://{}/charging/user/charge?{query}", app.addr);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connects");
    socket
}

/// The next JSON message (pings skipped); None when the socket closed.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")?;
        match msg.ok()? {
            Message::Text(t) => {
                return Some(serde_json::from_str(t.as_str()).expect("the step works"));
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

async fn event(socket: &mut Socket, name: &str) -> Value {
    let v = next(socket)
        .await
        .unwrap_or_else(|| panic!("closed before {name}"));
    assert_eq!(v["event"], name, "{v}");
    assert_eq!(v["code"], 200, "{v}");
    v
}

async fn admin(app: &TestApp) -> String {
    app.admin_token().await
}

async fn put_config(app: &TestApp, token: &str, body: Value) -> Reply {
    app.put_auth("/admin/v1/charging/config", token, body).await
}

/// Advances the simulated clock by `seconds`.
async fn advance(app: &TestApp, seconds: i64) {
    app.advance(seconds).await;
}

#[tokio::test]
async fn register_and_login_as_the_document_writes_them() {
    let app = spawn_app().await;
    let (id, answer) = captcha(&app).await;
    // A wrong answer, then a missing field.
    let r = app
        .post_query(
            "/charging/register",
            &[
                ("username", "test"),
                ("password", "123456"),
                ("code", "00000x"),
                ("captchaId", &id),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (400, json!(-1)),
        "{:?}",
        r.body
    );
    let r = app
        .post_query(
            "/charging/register",
            &[("username", "test"), ("code", &answer)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["msg"]
            .as_str()
            .expect("the step works")
            .contains("password")
    );
    // The document sends the answer alone: the last captcha of this address is meant.
    let (_, answer) = captcha(&app).await;
    let r = app
        .post_query(
            "/charging/register",
            &[
                ("username", "test"),
                ("password", "123456"),
                ("code", &answer),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["code"], 200);
    assert!(r.body["token"].as_str().expect("the step works").len() >= 32);
    // The name is taken now.
    let (id, answer) = captcha(&app).await;
    let r = app
        .post(
            "/charging/register",
            json!({"username": "test", "password": "abcdef", "code": answer, "captchaId": id}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (409, json!("username_taken"))
    );
    // Login by query, JSON and form.
    let r = app
        .post_query(
            "/charging/login",
            &[("username", "test"), ("password", "123456")],
        )
        .await;
    assert_eq!(r.body["code"], 200);
    let token = r.body["token"].as_str().expect("the step works").to_owned();
    let r = app
        .post(
            "/charging/login",
            json!({"username": "test", "password": "123456"}),
        )
        .await;
    assert_eq!(r.body["code"], 200);
    assert_ne!(
        r.body["token"],
        json!(token),
        "each login gets its own token"
    );
    let resp = app
        .client
        .post(format!("{}/charging/login", app.base))
        .form(&[("username", "test"), ("password", "wrong!")])
        .send()
        .await
        .expect("the step works");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("the step works");
    assert_eq!(body["code"], -1);
    assert!(!body.to_string().contains("123456"));
    // The token works; a made-up one does not.
    let r = get_query(&app, "/charging/user/log", &[("token", &token)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
    let r = get_query(&app, "/charging/user/log", &[("token", "dGVzdDoxMjM0NTY=")]).await;
    assert_eq!((r.status, r.body["code"].clone()), (401, json!(-1)));
    let r = get_query(&app, "/charging/user/lognew", &[]).await;
    assert_eq!(r.status, 401);
    let r = get_query(
        &app,
        "/charging/user/log",
        &[("token", &token), ("num", "0")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = get_query(
        &app,
        "/charging/user/log",
        &[("token", &token), ("num", "5000")],
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])));
    let r = app.get("/charging/nowhere", None).await;
    assert_eq!((r.status, r.body["code"].clone()), (404, json!(-1)));
    let r = app.get("/charging/login", None).await;
    assert_eq!(r.status, 405);
    let r = app.get("/charging/openapi.json", None).await;
    assert!(r.body["paths"]["/user/charge"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn a_session_over_http_is_billed_across_a_tariff_boundary() {
    let app = spawn_app().await;
    let alice = driver(&app, "alice").await;
    // 10:00 China time + 4.5 h = 14:30: 30 kWh on a 30 kW pile runs into the flat period.
    advance(&app, 4 * 3600 + 1800).await;
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": alice, "mode": "fast", "quantity": 30}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["number"], "F1");
    assert_eq!(r.body["state"], "charging");
    assert_eq!(r.body["pile"], "F1");
    // Only one request at a time.
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": alice, "mode": "common", "quantity": 5}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (409, json!("request_exists"))
    );
    // Halfway: 15 kWh, 15.00 + 12.00.
    advance(&app, 1800).await;
    let r = app.get("/charging/user/charge/info", Some(&alice)).await;
    assert_eq!(r.body["charged"], 15.0);
    assert_eq!(r.body["fee"], json!(27.00));
    // Charging cannot be changed, only cancelled.
    let r = app
        .post(
            "/charging/user/charge/modify",
            json!({"token": alice, "quantity": 10}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (409, json!(-1)),
        "{:?}",
        r.body
    );
    advance(&app, 1800).await;
    let r = app.get("/charging/user/charge/info", Some(&alice)).await;
    assert_eq!(r.body["state"], "none");
    let r = get_query(&app, "/charging/user/log", &[("token", &alice)]).await;
    let log = r.body.as_array().expect("the step works");
    assert_eq!(log.len(), 1);
    let e = &log[0];
    assert_eq!(e["id"], 1);
    assert_eq!(e["stationId"], 1);
    assert_eq!(e["quantity"], 30.0);
    assert_eq!(e["timeOfUse"], 1.0);
    assert_eq!(e["time"], "2026-01-05 14:30:00");
    assert_eq!(e["startTime"], "2026-01-05 14:30:00");
    assert_eq!(e["endTime"], "2026-01-05 15:30:00");
    // 15 kWh at 1.00 and 15 kWh at 0.70; service 30 x 0.80; two decimals as the document.
    let text = raw_get(&app, "/charging/user/log", &[("token", &alice)]).await;
    assert!(text.contains("\"costOfCharge\":25.50"), "{text}");
    assert!(text.contains("\"costOfService\":24.00"), "{text}");
    assert!(text.contains("\"cost\":49.50"), "{text}");
    let r = get_query(
        &app,
        "/charging/user/lognew",
        &[("token", &alice), ("num", "5")],
    )
    .await;
    assert_eq!(r.body["code"], 200);
    assert_eq!(r.body["log"][0]["id"], "1");
    assert_eq!(r.body["log"][0]["timeOfUse"], "01:00:00");
    // Nothing left to cancel.
    let r = app
        .post("/charging/user/charge/cancel", json!({"token": alice}))
        .await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (404, json!("no_request"))
    );
    // Bad input.
    for body in [
        json!({"token": alice, "mode": "warp", "quantity": 10}),
        json!({"token": alice, "mode": "fast", "quantity": 0}),
        json!({"token": alice, "mode": "fast", "quantity": "lots"}),
        json!({"token": alice, "mode": "fast", "quantity": 1e9}),
        json!({"token": alice, "mode": "fast"}),
        json!({"token": alice, "mode": "fast", "quantity": 10, "capacity": 5}),
        json!({"token": alice, "mode": "fast\u{0}", "quantity": 10}),
    ] {
        let r = app.post("/charging/user/charge/apply", body.clone()).await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (400, json!(-1)),
            "{body}: {:?}",
            r.body
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_websocket_streams_a_request_from_queue_to_detail_record() {
    let app = spawn_app().await;
    let op = admin(&app).await;
    let r = put_config(
        &app,
        &op,
        json!({"fast_piles": 1, "slow_piles": 1, "queue_len": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (a, b, c) = (
        driver(&app, "a").await,
        driver(&app, "b").await,
        driver(&app, "c").await,
    );

    let mut wa = ws(&app, &format!("token={a}&mode=fast&quantity=30")).await;
    let open = next(&mut wa).await.expect("the step works");
    assert_eq!(open["code"], 200);
    assert_eq!(open["msg"], "您已经成功进入队列，请等待");
    assert_eq!(event(&mut wa, "queued").await["number"], "F1");
    assert_eq!(event(&mut wa, "called").await["pile"], "F1");
    event(&mut wa, "charging").await;

    // B waits (F1's one place is taken) and revises with the document's own message.
    let mut wb = ws(&app, &format!("token={b}&mode=fast&quantity=10")).await;
    assert_eq!(
        next(&mut wb).await.expect("the step works")["state"],
        "waiting"
    );
    assert_eq!(event(&mut wb, "queued").await["number"], "F2");
    wb.send(Message::text(
        "{\"operation\":\"revise\", // 修改\n \"quantity\": 20, }",
    ))
    .await
    .expect("the step works");
    let reply = event(&mut wb, "reply").await;
    assert_eq!(reply["quantity"], 20.0);
    assert_eq!(event(&mut wb, "revised").await["quantity"], 20.0);
    wb.send(Message::text(r#"{"operation":"revise","mode":"common"}"#))
        .await
        .expect("the step works");
    // The reply, then the renumbering and the call to the free slow pile.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let v = next(&mut wb).await.expect("the step works");
        seen.push(v["event"].as_str().expect("the step works").to_owned());
        if v["event"] == "renumbered" {
            assert_eq!(v["number"], "T1");
        }
    }
    assert_eq!(seen, ["reply", "renumbered", "called", "charging"]);
    // Too late to change now.
    wb.send(Message::text(r#"{"operation":"revise","quantity":5}"#))
        .await
        .expect("the step works");
    let reply = next(&mut wb).await.expect("the step works");
    assert_eq!(
        (reply["code"].clone(), reply["operation"].clone()),
        (json!(-1), json!("revise"))
    );

    // C waits and cancels; its stream ends.
    let mut wc = ws(&app, &format!("token={c}&mode=quick&quantity=5")).await;
    next(&mut wc).await.expect("the step works");
    event(&mut wc, "queued").await;
    wc.send(Message::text(r#"{"operation":"cancel"}"#))
        .await
        .expect("the step works");
    event(&mut wc, "reply").await;
    event(&mut wc, "cancelled").await;
    assert!(next(&mut wc).await.is_none(), "closed after the end");

    // B hangs up; its request goes on. Reconnecting resumes, `since` replays.
    drop(wb);
    let mut wb = ws(&app, &format!("token={b}&since=0")).await;
    let open = next(&mut wb).await.expect("the step works");
    assert_eq!(
        (open["resumed"].clone(), open["state"].clone()),
        (json!(true), json!("charging"))
    );
    let mut replay = Vec::new();
    for _ in 0..5 {
        replay.push(
            next(&mut wb).await.expect("the step works")["event"]
                .as_str()
                .expect("the step works")
                .to_owned(),
        );
    }
    assert_eq!(
        replay,
        ["queued", "revised", "renumbered", "called", "charging"]
    );

    // An hour later A is done (30 kWh at 30 kW) and gets its record; B (20 kWh at 10 kW) too
    // after two.
    advance(&app, 3600).await;
    let done = event(&mut wa, "finished").await;
    assert_eq!(done["record"]["quantity"], 30.0);
    assert_eq!(done["record"]["cost"], 54.0, "{done}");
    assert!(next(&mut wa).await.is_none());
    advance(&app, 3600).await;
    let done = event(&mut wb, "finished").await;
    assert_eq!(done["record"]["stationId"], 2);
    assert_eq!(done["record"]["quantity"], 20.0);
    app.stop().await;
}

#[tokio::test]
async fn websocket_refusals_come_on_the_socket() {
    let app = spawn_app().await;
    let t = driver(&app, "d").await;
    for query in [
        "token=nope&mode=fast&quantity=5".to_owned(),
        format!("token={t}&mode=fast"),
        format!("token={t}"),
        format!("token={t}&mode=fast&quantity=-3"),
    ] {
        let mut s = ws(&app, &query).await;
        let v = next(&mut s).await.expect("the step works");
        assert_eq!(v["code"], -1, "{query}: {v}");
        assert!(next(&mut s).await.is_none());
    }
    // A plain GET is told to use a WebSocket.
    let r = get_query(&app, "/charging/user/charge", &[("token", &t)]).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (400, json!("websocket_required"))
    );
    // Nonsense on an open socket gets an answer, not a hang-up.
    let mut s = ws(&app, &format!("token={t}&mode=fast&quantity=5")).await;
    next(&mut s).await.expect("the step works");
    event(&mut s, "queued").await;
    for text in ["{not json", r#"{"operation":"fly"}"#, "[1,2]"] {
        s.send(Message::text(text)).await.expect("the step works");
        let mut v = next(&mut s).await.expect("the step works");
        while v["event"] != "reply" {
            v = next(&mut s).await.expect("the step works");
        }
        assert_eq!(v["code"], -1, "{text}: {v}");
    }
    s.send(Message::text("ping")).await.expect("the step works");
    let mut v = next(&mut s).await.expect("the step works");
    while v["event"] != "pong" {
        v = next(&mut s).await.expect("the step works");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_operator_sees_piles_waiting_cars_faults_and_reports() {
    let app = spawn_app().await;
    let op = admin(&app).await;
    let r = app.get("/admin/v1/charging/piles", None).await;
    assert_eq!(r.status, 401);
    let r = app.get("/admin/v1/charging/config", Some(&op)).await;
    assert_eq!(r.body["fast_piles"], 2);
    assert_eq!(r.body["slow_piles"], 3);
    assert_eq!(r.body["fast_power_kw"], 30.0);
    assert_eq!(r.body["waiting_capacity"], 10);
    assert_eq!(r.body["queue_len"], 3);
    assert_eq!(r.body["service_fee"], 0.8);
    assert_eq!(
        r.body["periods"].as_array().expect("the step works").len(),
        7
    );
    // N = 2 for this test.
    let r = put_config(
        &app,
        &op,
        json!({"waiting_capacity": 2, "fault_policy": "priority"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = put_config(&app, &op, json!({"fault_policy": "random"})).await;
    assert_eq!(r.status, 400);
    let r = put_config(&app, &op, json!({"fast_power_kw": -5})).await;
    assert_eq!(r.status, 400);

    let mut tokens = Vec::new();
    for i in 0..9 {
        tokens.push(driver(&app, &format!("u{i}")).await);
    }
    // Eight fast cars: two piles x three places = 6 placed, then 2 waiting, the 9th refused.
    for (i, t) in tokens.iter().enumerate().take(8) {
        let r = app
            .post(
                "/charging/user/charge/apply",
                json!({"token": t, "mode": "fast", "quantity": 15, "capacity": 60}),
            )
            .await;
        assert_eq!(r.status, 200, "car {i}: {:?}", r.body);
    }
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": tokens[8], "mode": "fast", "quantity": 15}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (409, json!(-1)),
        "{:?}",
        r.body
    );
    assert!(
        r.body["msg"]
            .as_str()
            .expect("the step works")
            .contains("等候区已满")
    );
    // Structural changes wait for an empty station.
    let r = put_config(&app, &op, json!({"fast_piles": 4})).await;
    assert_eq!(r.status, 409);

    let r = app.get("/admin/v1/charging/piles", Some(&op)).await;
    let piles = r.body["piles"].as_array().expect("the step works");
    assert_eq!(piles.len(), 5);
    assert_eq!(piles[0]["id"], "F1");
    assert_eq!(piles[0]["state"], "working");
    let f1: Vec<&str> = piles[0]["cars"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    let f2: Vec<&str> = piles[1]["cars"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    assert_eq!((f1, f2), (vec!["F1", "F3", "F5"], vec!["F2", "F4", "F6"]));
    assert_eq!(piles[0]["cars"][0]["user"], "u0");
    assert_eq!(piles[0]["cars"][0]["battery_capacity_kwh"], 60.0);
    assert_eq!(piles[0]["cars"][0]["requested_kwh"], 15.0);
    let r = app.get("/admin/v1/charging/waiting", Some(&op)).await;
    let waiting: Vec<&str> = r.body["waiting"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    assert_eq!(waiting, ["F7", "F8"]);

    // 15 minutes in, F1 fails: F1 (u0) gets a record for 7.5 kWh and, with F3 and F5, waits
    // for places on F2, ahead of the waiting area.
    advance(&app, 900).await;
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F1/state",
            &op,
            json!({"state": "fault"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["piles"][0]["state"], "fault");
    assert_eq!(r.body["piles"][0]["sessions"], 1);
    assert_eq!(r.body["piles"][0]["total_kwh"], 7.5);
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F1/state",
            &op,
            json!({"state": "fault"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F9/state",
            &op,
            json!({"state": "off"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F2/state",
            &op,
            json!({"state": "broken"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app.get("/admin/v1/charging/waiting", Some(&op)).await;
    let displaced: Vec<&str> = r.body["displaced"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    assert_eq!(displaced, ["F1", "F3", "F5"]);
    let info = app
        .get("/charging/user/charge/info", Some(&tokens[0]))
        .await;
    assert_eq!(
        (info.body["state"].clone(), info.body["charged"].clone()),
        (json!("displaced"), json!(7.5))
    );
    let log = get_query(&app, "/charging/user/log", &[("token", &tokens[0])]).await;
    assert_eq!(log.body[0]["quantity"], 7.5);
    // 7.5 kWh at 1.00 + 0.80.
    assert_eq!(log.body[0]["cost"], 13.5, "{:?}", log.body);

    // F2's head (F2) finishes 15 minutes later: F1 takes the free place, not F7.
    advance(&app, 900).await;
    let r = app.get("/admin/v1/charging/piles", Some(&op)).await;
    let f2: Vec<&str> = r.body["piles"][1]["cars"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    assert_eq!(f2, ["F4", "F6", "F1"]);
    // Recovery: the not-yet-charging fast cars are pooled and re-dispatched by number.
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F1/state",
            &op,
            json!({"state": "recover"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let f1: Vec<&str> = r.body["piles"][0]["cars"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    let f2: Vec<&str> = r.body["piles"][1]["cars"]
        .as_array()
        .expect("the step works")
        .iter()
        .map(|c| c["number"].as_str().expect("the step works"))
        .collect();
    assert_eq!(f2[0], "F4", "the charging car stays");
    let mut all: Vec<&str> = f1.iter().chain(f2.iter()).copied().collect();
    all.sort();
    assert_eq!(all, ["F1", "F3", "F4", "F5", "F6", "F7"]);

    // Reports add up to the records.
    advance(&app, 6 * 3600).await;
    let records = app
        .get("/admin/v1/charging/records?limit=100", Some(&op))
        .await;
    let recs = records.body["records"].as_array().expect("the step works");
    assert_eq!(recs.len(), 9, "8 finished sessions and the interrupted one");
    let total: i64 = recs
        .iter()
        .map(|r| r["total_fen"].as_i64().expect("the step works"))
        .sum();
    for period in ["day", "week", "month"] {
        let r = app
            .get(
                &format!("/admin/v1/charging/report?period={period}&date=2026-01-05"),
                Some(&op),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["total"]["sessions"], 9, "{period}");
        assert_eq!(r.body["total"]["total_fen"], total, "{period}");
        assert_eq!(r.body["total"]["kwh"], 120.0);
        assert_eq!(r.body["piles"].as_array().expect("the step works").len(), 5);
    }
    let r = app
        .get(
            "/admin/v1/charging/report?period=day&date=2026-01-06",
            Some(&op),
        )
        .await;
    assert_eq!(r.body["total"]["sessions"], 0);
    let r = app
        .get("/admin/v1/charging/report?period=year", Some(&op))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get("/admin/v1/charging/report?date=2026-13-01", Some(&op))
        .await;
    assert_eq!(r.status, 400);

    // The station is empty: the piles can change now; a reset (dev) clears everything.
    let r = put_config(&app, &op, json!({"fast_piles": 4, "fault_policy": "time"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post_auth("/admin/v1/charging/reset", &op, json!({"slow_piles": 1}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["fast_piles"], 4);
    assert_eq!(r.body["slow_piles"], 1);
    let r = app.get("/admin/v1/charging/piles", Some(&op)).await;
    assert_eq!(r.body["piles"].as_array().expect("the step works").len(), 5);
    assert_eq!(r.body["piles"][0]["sessions"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_reset_is_for_development_only() {
    let app = common::spawn_with(|c| {
        c.dev.enabled = false;
        c.dev.sim_clock = None;
    })
    .await;
    let op = admin(&app).await;
    let r = app
        .post_auth("/admin/v1/charging/reset", &op, json!({}))
        .await;
    assert_eq!(r.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn three_hundred_streams_each_get_every_event_in_order() {
    // Every stream comes from this one address: lift the per-address connection cap.
    let app = common::spawn_with(|c| c.connections.max_connections_per_ip = 0).await;
    let op = admin(&app).await;
    let r = put_config(
        &app,
        &op,
        json!({"waiting_capacity": 1000, "fast_piles": 10, "slow_piles": 10}),
    )
    .await;
    assert_eq!(r.status, 200);
    const N: usize = 300;
    let mut tokens = Vec::new();
    for i in 0..N {
        // Straight through the domain: 300 captchas would only slow the test down.
        let codes = &app.state.codes;
        let c = codes
            .issue_captcha("charging")
            .await
            .expect("the step works");
        let (token, _) = app
            .state
            .charging
            .register(&format!("driver{i}"), "123456", &c.id, &c.answer)
            .await
            .expect("the step works");
        tokens.push(token);
    }
    let mut sockets = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let mode = if i % 2 == 0 { "fast" } else { "common" };
        let mut s = ws(&app, &format!("token={t}&mode={mode}&quantity=2.5")).await;
        // In the queue before the clock moves.
        let open = next(&mut s).await.expect("opening");
        assert_eq!(open["code"], 200);
        sockets.push(s);
    }
    // Every car finishes within a day.
    advance(&app, 24 * 3600).await;
    let results = common::join_all(sockets.into_iter().map(|mut s| async move {
        let mut events = Vec::new();
        while let Some(v) = next(&mut s).await {
            events.push(v);
        }
        events
    }))
    .await;
    for (i, events) in results.iter().enumerate() {
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().expect("the step works"))
            .collect();
        assert_eq!(
            names,
            ["queued", "called", "charging", "finished"],
            "driver {i}"
        );
        let seqs: Vec<u64> = events
            .iter()
            .map(|e| e["seq"].as_u64().expect("the step works"))
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4], "driver {i}");
    }
    // A day later the operator logs in again.
    let op = admin(&app).await;
    let records = app
        .get("/admin/v1/charging/records?limit=1000", Some(&op))
        .await;
    assert_eq!(
        records.body["records"].as_array().map(Vec::len),
        Some(N),
        "{:?}",
        records.body
    );
    app.stop().await;
}

#[tokio::test]
async fn the_station_survives_a_restart() {
    let db_dir = tempfile::tempdir().expect("tempdir");
    let url = common::test_database_url(&db_dir).await;
    let first =
        common::spawn_with(|c| c.server.database_url = utilhall::config::Secret(url.clone())).await;
    let op = admin(&first).await;
    let r = put_config(
        &first,
        &op,
        json!({"fast_piles": 1, "slow_piles": 1, "queue_len": 1}),
    )
    .await;
    assert_eq!(r.status, 200);
    let t = driver(&first, "r").await;
    let r = first
        .post(
            "/charging/user/charge/apply",
            json!({"token": t, "mode": "fast", "quantity": 30}),
        )
        .await;
    assert_eq!(r.status, 200);
    let other = driver(&first, "s").await;
    let r = first
        .post(
            "/charging/user/charge/apply",
            json!({"token": other, "mode": "common", "quantity": 10}),
        )
        .await;
    assert_eq!(r.status, 200);
    // A third driver waits and changes its mind 2,399 times: the operation log passes two
    // snapshots (every 1,000 operations) and goes on after them.
    let q = driver(&first, "q").await;
    let r = first
        .post(
            "/charging/user/charge/apply",
            json!({"token": q, "mode": "fast", "quantity": 10}),
        )
        .await;
    assert_eq!(r.body["state"], "waiting");
    for i in 0..2399 {
        let kwh = 10 + i % 3;
        let r = first
            .post(
                "/charging/user/charge/modify",
                json!({"token": q, "quantity": kwh}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    first.stop().await;
    // The batches after the second snapshot dropped what it holds, but for the last 1,000
    // operations before it (a process a little behind replays those).
    let (oldest, count) = logged_ops(&url).await;
    assert!(
        (1001..=1010).contains(&oldest),
        "oldest operation kept: {oldest}"
    );
    assert!(count < 1500, "{count} operations kept");
    // Back 30 minutes later (simulated): the fast car is half done; an hour later, both are.
    let second = common::spawn_with(|c| {
        c.server.database_url = utilhall::config::Secret(url.clone());
        c.dev.sim_clock = Some("2026-01-05T02:30:00Z".into());
    })
    .await;
    let r = second.get("/charging/user/charge/info", Some(&t)).await;
    assert_eq!(
        (r.body["state"].clone(), r.body["charged"].clone()),
        (json!("charging"), json!(15.0))
    );
    let r = second.get("/charging/user/charge/info", Some(&q)).await;
    // 2,398 % 3 = 1: the last change asked for 11 kWh.
    assert_eq!(
        (r.body["state"].clone(), r.body["quantity"].clone()),
        (json!("waiting"), json!(11.0))
    );
    advance(&second, 3600).await;
    let r = get_query(&second, "/charging/user/log", &[("token", &t)]).await;
    assert_eq!(
        (r.body[0]["quantity"].clone(), r.body[0]["id"].clone()),
        (json!(30.0), json!(1))
    );
    let r = get_query(&second, "/charging/user/log", &[("token", &other)]).await;
    assert_eq!(
        (r.body[0]["quantity"].clone(), r.body[0]["id"].clone()),
        (json!(10.0), json!(2))
    );
    // The waiting car went to F1 at 03:00 (11:00 local) and had its 11 kWh by 03:22.
    let r = get_query(&second, "/charging/user/log", &[("token", &q)]).await;
    assert_eq!(r.body[0]["quantity"], 11.0);
    assert_eq!(r.body[0]["startTime"], "2026-01-05 11:00:00");
    assert_eq!(r.body[0]["endTime"], "2026-01-05 11:22:00");
    second.stop().await;
}

/// The oldest operation the station's log holds, and how many it holds.
async fn logged_ops(url: &str) -> (i64, i64) {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("database");
    let row = sqlx::query(
        "SELECT CAST(MIN(seq) AS BIGINT) AS oldest, CAST(COUNT(*) AS BIGINT) AS n FROM charging_ops",
    )
    .fetch_one(&pool)
    .await
    .expect("operations");
    pool.close().await;
    (row.get("oldest"), row.get("n"))
}

/// The numbers in a pile's queue, or in a list of cars.
fn numbers(cars: &Value) -> Vec<String> {
    cars.as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["number"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_fault_under_the_time_order_policy_pools_the_queues_by_number() {
    let app = spawn_app().await;
    let op = admin(&app).await;
    let r = put_config(&app, &op, json!({"fault_policy": "time"})).await;
    assert_eq!(r.status, 200);
    // Drivers made by the operator (a fleet): no captcha; they log in as usual.
    let mut tokens = Vec::new();
    for i in 0..8 {
        let name = format!("fleet{i}");
        let r = app
            .post_auth(
                "/admin/v1/charging/drivers",
                &op,
                json!({"username": name, "password": "123456"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = app
            .post(
                "/charging/login",
                json!({"username": name, "password": "123456"}),
            )
            .await;
        tokens.push(r.body["token"].as_str().expect("token").to_owned());
    }
    let r = app
        .post_auth(
            "/admin/v1/charging/drivers",
            &op,
            json!({"username": "fleet0", "password": "123456"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let r = app
        .post_auth(
            "/admin/v1/charging/drivers",
            &op,
            json!({"username": "x", "password": "123"}),
        )
        .await;
    assert_eq!(r.status, 400);
    for t in &tokens {
        let r = app
            .post(
                "/charging/user/charge/apply",
                json!({"token": t, "mode": "fast", "quantity": 15}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    advance(&app, 900).await;
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F1/state",
            &op,
            json!({"state": "fault"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // F1's cars and F2's not-yet-charging ones, pooled by number: F1 and F3 fill F2.
    assert_eq!(numbers(&r.body["piles"][1]["cars"]), ["F2", "F1", "F3"]);
    let w = app.get("/admin/v1/charging/waiting", Some(&op)).await;
    assert_eq!(numbers(&w.body["displaced"]), ["F4", "F5", "F6"]);
    assert_eq!(numbers(&w.body["waiting"]), ["F7", "F8"]);
    // F2 finishes at 30 minutes: the pool goes first, the waiting area waits.
    advance(&app, 900).await;
    let r = app.get("/admin/v1/charging/piles", Some(&op)).await;
    assert_eq!(numbers(&r.body["piles"][1]["cars"]), ["F1", "F3", "F4"]);
    // Recovery: F3 and F4 (not charging) are pooled with F5 and F6 and dispatched by number
    // where each finishes soonest, the recovered pile included (F1 has 15 minutes left on F2):
    // F3 -> F1 (30 min), F4 -> F2 (45), F5 -> F1 (60), F6 -> F2 (75); then F7 is called.
    let r = app
        .post_auth(
            "/admin/v1/charging/piles/F1/state",
            &op,
            json!({"state": "recover"}),
        )
        .await;
    assert_eq!(numbers(&r.body["piles"][0]["cars"]), ["F3", "F5", "F7"]);
    assert_eq!(numbers(&r.body["piles"][1]["cars"]), ["F1", "F4", "F6"]);
    let w = app.get("/admin/v1/charging/waiting", Some(&op)).await;
    assert_eq!(numbers(&w.body["waiting"]), ["F8"]);
    app.stop().await;
}

#[tokio::test]
async fn the_demo_has_the_documents_driver() {
    let app = common::spawn_with(|c| {
        c.server.demo = true;
        c.surface_bind
            .insert("charging".into(), "127.0.0.1:0".into());
    })
    .await;
    // At the root of its own listener, exactly as the document writes the paths.
    let (_, addr) = app
        .extra
        .iter()
        .find(|(n, _)| n == "charging")
        .expect("charging listener");
    let resp = app
        .client
        .post(format!("http://{addr}/login?username=test&password=123456"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let r = app
        .post_query(
            "/charging/login",
            &[("username", "test"), ("password", "123456")],
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (200, json!(200)),
        "{:?}",
        r.body
    );
    let token = r.body["token"].as_str().expect("token");
    assert_ne!(
        token, "dGVzdDoxMjM0NTY=",
        "never the document's base64 of name and password"
    );
    app.stop().await;
}

#[tokio::test]
async fn prices_streams_and_odd_input_at_the_edges() {
    let app = spawn_app().await;
    let op = admin(&app).await;
    let a = driver(&app, "edge").await;
    // A computed quantity is rounded to the Wh.
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": a, "mode": "fast", "quantity": 33.33333, "capacity": 40}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["quantity"].clone()),
        (200, json!(33.333)),
        "{:?}",
        r.body
    );
    // New prices apply to sessions that begin after the change: this one keeps 1.00 (peak).
    let mut periods = app.get("/admin/v1/charging/config", Some(&op)).await.body["periods"].clone();
    for p in periods.as_array_mut().expect("periods") {
        p["price"] = json!(2.0);
    }
    advance(&app, 1800).await;
    let r = put_config(&app, &op, json!({"periods": periods})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    advance(&app, 3600).await;
    let r = get_query(&app, "/charging/user/log", &[("token", &a)]).await;
    assert_eq!(r.body[0]["quantity"], 33.333);
    // 33.333 kWh at 1.00, service 0.80.
    assert_eq!(r.body[0]["costOfCharge"], 33.33, "{:?}", r.body);
    assert_eq!(r.body[0]["costOfService"], 26.67);
    // The next session pays the new price.
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": a, "mode": "fast", "quantity": 10, "capacity": 40}),
        )
        .await;
    assert_eq!(r.status, 200);
    // More than the battery holds: refused at a change too (the car is charging now, so wait).
    advance(&app, 1200).await;
    let r = get_query(&app, "/charging/user/log", &[("token", &a)]).await;
    assert_eq!(r.body[0]["costOfCharge"], 20.0, "{:?}", r.body);

    // The stream of a request that ended while nobody watched can still be read with `since`.
    let mut s = ws(&app, &format!("token={a}&since=0")).await;
    let open = next(&mut s).await.expect("opening");
    assert_eq!(
        (open["code"].clone(), open["resumed"].clone()),
        (json!(200), json!(true)),
        "{open}"
    );
    let names: Vec<String> = {
        let mut v = Vec::new();
        while let Some(m) = next(&mut s).await {
            v.push(m["event"].as_str().unwrap_or_default().to_owned());
        }
        v
    };
    assert_eq!(names, ["queued", "called", "charging", "finished"]);
    // An opening with mode and quantity while a request is in progress says they were not used.
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": a, "mode": "slow", "quantity": 5, "capacity": 40}),
        )
        .await;
    assert_eq!(r.status, 200);
    let mut s = ws(&app, &format!("token={a}&mode=fast&quantity=9")).await;
    let open = next(&mut s).await.expect("opening");
    assert_eq!(open["resumed"], true);
    assert!(open["note"].is_string(), "{open}");
    assert_eq!(open["mode"], "common");
    let r = app
        .post(
            "/charging/user/charge/modify",
            json!({"token": a, "quantity": 50}),
        )
        .await;
    assert_eq!(r.status, 409, "charging already: {:?}", r.body);

    // A mode without piles takes no requests.
    let r = app
        .post("/charging/user/charge/cancel", json!({"token": a}))
        .await;
    assert_eq!(r.status, 200);
    let r = put_config(&app, &op, json!({"slow_piles": 0})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": a, "mode": "slow", "quantity": 5}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (409, json!(-1)),
        "{:?}",
        r.body
    );
    // Battery capacity is checked on a change too.
    let r = put_config(
        &app,
        &op,
        json!({"fast_piles": 1, "queue_len": 1, "slow_piles": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = driver(&app, "edge2").await;
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": b, "mode": "fast", "quantity": 30}),
        )
        .await;
    assert_eq!(r.body["state"], "charging");
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": a, "mode": "fast", "quantity": 5, "capacity": 20}),
        )
        .await;
    assert_eq!(r.body["state"], "waiting");
    let r = app
        .post(
            "/charging/user/charge/modify",
            json!({"token": a, "quantity": 25}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (400, json!(-1)),
        "{:?}",
        r.body
    );

    // Operator input that used to slip through.
    let r = app
        .get(
            "/admin/v1/charging/report?period=week&date=9999-12-31",
            Some(&op),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = app
        .get("/admin/v1/charging/records?limit=abc", Some(&op))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (400, json!("invalid"))
    );
    app.stop().await;
}

/// The piles and the waiting area as an operator sees them, without the clock readings.
async fn station_view(app: &TestApp, op: &str) -> Value {
    let mut piles = app.get("/admin/v1/charging/piles", Some(op)).await.body;
    let mut waiting = app.get("/admin/v1/charging/waiting", Some(op)).await.body;
    for v in [&mut piles, &mut waiting] {
        v["now"] = Value::Null;
    }
    for list in ["waiting", "displaced"] {
        for car in waiting[list].as_array_mut().into_iter().flatten() {
            car["queued_seconds"] = Value::Null;
        }
    }
    for pile in piles["piles"].as_array_mut().into_iter().flatten() {
        for car in pile["cars"].as_array_mut().into_iter().flatten() {
            car["queued_seconds"] = Value::Null;
        }
    }
    json!({"piles": piles, "waiting": waiting})
}

#[tokio::test]
async fn two_processes_share_one_station() {
    let db_dir = tempfile::tempdir().expect("tempdir");
    let url = common::test_database_url(&db_dir).await;
    let a =
        common::spawn_with(|c| c.server.database_url = utilhall::config::Secret(url.clone())).await;
    let b =
        common::spawn_with(|c| c.server.database_url = utilhall::config::Secret(url.clone())).await;
    let (op_a, op_b) = (admin(&a).await, admin(&b).await);
    let r = put_config(&a, &op_a, json!({"waiting_capacity": 40})).await;
    assert_eq!(r.status, 200);
    // B follows A's configuration.
    let r = b.get("/admin/v1/charging/config", Some(&op_b)).await;
    assert_eq!(r.body["waiting_capacity"], 40);

    // A driver applies through A and follows the request on a stream held by B.
    let first = driver(&a, "p1").await;
    let r = a
        .post(
            "/charging/user/charge/apply",
            json!({"token": first, "mode": "fast", "quantity": 30}),
        )
        .await;
    assert_eq!(r.body["state"], "charging");
    let mut stream = ws(&b, &format!("token={first}")).await;
    let open = next(&mut stream).await.expect("opening");
    assert_eq!(
        (open["resumed"].clone(), open["pile"].clone()),
        (json!(true), json!("F1"))
    );

    // Twenty drivers apply at once, half through each process: every request is taken once.
    let mut tokens = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        tokens.push(driver(app, &format!("q{i}")).await);
    }
    let replies = common::join_all(tokens.iter().enumerate().map(|(i, t)| {
        let app = if i % 2 == 0 { &a } else { &b };
        let mode = if i % 3 == 0 { "common" } else { "fast" };
        app.post(
            "/charging/user/charge/apply",
            json!({"token": t, "mode": mode, "quantity": 10}),
        )
    }))
    .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let mut numbers: Vec<String> = replies
        .iter()
        .map(|r| r.body["number"].as_str().unwrap_or_default().to_owned())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "every request got a number of its own");
    assert_eq!(station_view(&a, &op_a).await, station_view(&b, &op_b).await);

    // An hour on A's clock: the first car finishes there, and B's stream hears of it.
    advance(&a, 3600).await;
    let done = event(&mut stream, "finished").await;
    assert_eq!(done["record"]["quantity"], 30.0);
    assert_eq!(station_view(&a, &op_a).await, station_view(&b, &op_b).await);
    let records_a = a.get("/admin/v1/charging/records", Some(&op_a)).await.body;
    let records_b = b.get("/admin/v1/charging/records", Some(&op_b)).await.body;
    assert_eq!(records_a, records_b);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_reset_ends_the_streams_of_the_requests_it_clears() {
    let app = spawn_app().await;
    let op = admin(&app).await;
    let t = driver(&app, "r1").await;
    let mut s = ws(&app, &format!("token={t}&mode=fast&quantity=30")).await;
    next(&mut s).await.expect("opening");
    event(&mut s, "queued").await;
    event(&mut s, "called").await;
    event(&mut s, "charging").await;
    advance(&app, 600).await;
    let r = app
        .post_auth("/admin/v1/charging/reset", &op, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    event(&mut s, "cancelled").await;
    assert!(next(&mut s).await.is_none(), "the stream closes");
    // The driver starts again on the new station; the request numbering goes on.
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": t, "mode": "fast", "quantity": 5}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["number"].clone()),
        (200, json!("F1")),
        "{:?}",
        r.body
    );
    let r = app.get("/admin/v1/charging/records", Some(&op)).await;
    assert_eq!(r.body["records"], json!([]), "a reset drops the records");
    app.stop().await;
}

/// A random day of events, played on the server (through the document's and the operator's
/// endpoints, on the simulated clock) and on the scheduler alone: the same detail records, to
/// the Wh, the millisecond and the fen, under both fault policies.
#[tokio::test]
async fn the_server_agrees_with_the_scheduler_over_a_random_day() {
    use utilhall::domain::Timestamp;
    use utilhall::domain::charging::station::{Event, FaultPolicy, Mode, Station, StationConfig};
    use utilhall::domain::money::fixed_string;

    for (policy, name, seed) in [
        (FaultPolicy::Priority, "priority", 7u64),
        (FaultPolicy::TimeOrder, "time", 11u64),
    ] {
        let app = spawn_app().await;
        let op = admin(&app).await;
        let r = app
            .post_auth(
                "/admin/v1/charging/reset",
                &op,
                json!({"fault_policy": name}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let start = Timestamp::parse_rfc3339(common::START)
            .expect("start")
            .millis();
        let mut reference = Station::new(
            StationConfig {
                fault_policy: policy,
                ..StationConfig::default()
            },
            start,
        );
        let mut expected = Vec::new();
        let mut keep = |events: Vec<Event>| {
            for e in events {
                if let Event::Ended { record, .. } = e {
                    expected.push(record);
                }
            }
        };
        let mut state = seed;
        let mut rand = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let piles = ["F1", "F2", "T1", "T2", "T3"];
        let mut drivers: Vec<(String, u64)> = Vec::new();
        let mut made = 0;
        let mut down: Vec<&str> = Vec::new();
        let mut at = start;
        for _ in 0..90 {
            at += [0, 0, 5, 10, 15, 30][rand(6) as usize] * 60_000;
            let r = app
                .post(
                    "/admin/v1/clock",
                    json!({"to": Timestamp::from_millis(at).iso_utc_ms()}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            let op = admin(&app).await;
            let roll = rand(100);
            if roll < 45 || drivers.is_empty() {
                made += 1;
                let who = format!("d{made}");
                let r = app
                    .post_auth(
                        "/admin/v1/charging/drivers",
                        &op,
                        json!({"username": who, "password": "123456"}),
                    )
                    .await;
                assert_eq!(r.status, 201);
                let token = app
                    .post(
                        "/charging/login",
                        json!({"username": who, "password": "123456"}),
                    )
                    .await
                    .body["token"]
                    .as_str()
                    .expect("token")
                    .to_owned();
                let fast = rand(2) == 0;
                let wh = [5_000, 7_500, 10_000, 12_500, 20_000, 30_000][rand(6) as usize];
                let r = app
                    .post(
                        "/charging/user/charge/apply",
                        json!({"token": token, "mode": if fast { "fast" } else { "common" }, "quantity": wh as f64 / 1000.0}),
                    )
                    .await;
                let mode = if fast { Mode::Fast } else { Mode::Slow };
                match reference.arrive(at, &who, mode, wh) {
                    Ok((car, events)) => {
                        assert_eq!(r.status, 200, "{:?}", r.body);
                        keep(events);
                        drivers.push((token, car));
                    }
                    Err(_) => assert_eq!(r.status, 409, "{:?}", r.body),
                }
            } else if roll < 80 {
                let (token, car) = drivers[rand(drivers.len() as u64) as usize].clone();
                let (path, body, result) = match roll {
                    45..=56 => (
                        "/charging/user/charge/cancel",
                        json!({"token": token}),
                        reference.cancel(at, car),
                    ),
                    57..=68 => {
                        let wh = [5_000, 15_000, 25_000][rand(3) as usize];
                        let body = json!({"token": token, "quantity": wh as f64 / 1000.0});
                        (
                            "/charging/user/charge/modify",
                            body,
                            reference.change_energy(at, car, wh),
                        )
                    }
                    _ => {
                        let fast = rand(2) == 0;
                        let mode = if fast { Mode::Fast } else { Mode::Slow };
                        let body =
                            json!({"token": token, "mode": if fast { "fast" } else { "common" }});
                        (
                            "/charging/user/charge/modify",
                            body,
                            reference.change_mode(at, car, mode),
                        )
                    }
                };
                let r = app.post(path, body).await;
                match result {
                    Ok(events) => {
                        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
                        keep(events);
                    }
                    Err(_) => assert_ne!(r.status, 200, "{path}: {:?}", r.body),
                }
            } else {
                let pile = piles[rand(5) as usize];
                let recover = down.contains(&pile);
                let state = if recover { "recover" } else { "fault" };
                let r = app
                    .post_auth(
                        &format!("/admin/v1/charging/piles/{pile}/state"),
                        &op,
                        json!({"state": state}),
                    )
                    .await;
                assert_eq!(r.status, 200, "{:?}", r.body);
                if recover {
                    down.retain(|p| *p != pile);
                    keep(reference.bring_up(at, pile).expect("recover"));
                } else {
                    down.push(pile);
                    keep(reference.take_down(at, pile, true).expect("fault"));
                }
            }
        }
        for pile in down {
            let op = admin(&app).await;
            let r = app
                .post_auth(
                    &format!("/admin/v1/charging/piles/{pile}/state"),
                    &op,
                    json!({"state": "recover"}),
                )
                .await;
            assert_eq!(r.status, 200);
            keep(reference.bring_up(at, pile).expect("recover"));
        }
        at += 7 * 86_400_000;
        let r = app
            .post(
                "/admin/v1/clock",
                json!({"to": Timestamp::from_millis(at).iso_utc_ms()}),
            )
            .await;
        assert_eq!(r.status, 200);
        keep(reference.advance_to(at));
        let op = admin(&app).await;
        let records = app
            .get("/admin/v1/charging/records?limit=10000", Some(&op))
            .await;
        let mut served: Vec<Value> = records.body["records"].as_array().expect("records").clone();
        served.reverse();
        let served: Vec<Value> = served
            .iter()
            .map(|r| {
                json!([
                    r["number"],
                    r["pile"],
                    r["kwh"],
                    r["start"],
                    r["stop"],
                    r["charge_fee"],
                    r["service_fee"],
                    r["reason"]
                ])
            })
            .collect();
        let wanted: Vec<Value> = expected
            .iter()
            .map(|r| {
                json!([
                    r.number,
                    r.pile,
                    r.wh as f64 / 1000.0,
                    Timestamp::from_millis(r.start).iso_utc_ms(),
                    Timestamp::from_millis(r.stop).iso_utc_ms(),
                    fixed_string(r.charge_fee, 2),
                    fixed_string(r.service_fee, 2),
                    utilhall::domain::charging::service::reason_str(r.reason),
                ])
            })
            .collect();
        assert!(
            wanted.len() > 20,
            "a day with some sessions: {}",
            wanted.len()
        );
        assert_eq!(served, wanted, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn captchas_are_limited_per_address_outside_development() {
    let app = common::spawn_with(|c| {
        c.dev.enabled = false;
        c.dev.sim_clock = None;
        c.retail.captchas_per_minute = 2;
    })
    .await;
    for _ in 0..2 {
        let r = app.get("/charging/captcha", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let resp = app
        .client
        .get(format!("{}/charging/captcha", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        (body["code"].clone(), body["error"].clone()),
        (json!(-1), json!("rate_limited"))
    );
    app.stop().await;
}
