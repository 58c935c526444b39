//! Bad messages: each gets a CALLERROR with the right code (and its id when it can be read),
//! the connection stays open and usable, and nothing is ever a 500.

use serde_json::{Value, json};

use super::chargepoint::Behaviour;
use super::{PASSWORD, admin, box_view, metrics_text, now, spawn};

/// Frames that cannot be read as a call at all.
const FORMATION: [&str; 2] = ["FormationViolation", "ProtocolError"];
/// Payloads of the wrong type, with a bad value, or with a field missing.
const PAYLOAD: [&str; 3] = [
    "TypeConstraintViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
];

/// What is wrong with `frame` as the CALLERROR for `sent`, if anything.
fn callerror_problem(
    frame: &Value,
    id: Option<&str>,
    codes: &[&str],
    sent: &str,
) -> Option<String> {
    let code = frame[2].as_str().unwrap_or_default();
    let id_ok = match id {
        Some(id) => frame[1] == id,
        None => frame[1].is_string(),
    };
    let ok = frame[0] == 4
        && id_ok
        && codes.contains(&code)
        && frame[3].is_string()
        && frame[4].is_object()
        && frame.as_array().map(Vec::len) == Some(5);
    (!ok).then(|| {
        format!("{sent}\n    expected [4, {id:?}, one of {codes:?}, text, {{}}]\n    got {frame}")
    })
}

#[tokio::test]
async fn malformed_frames_get_callerrors_and_the_link_stays_usable() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;
    let t = now(&app).await;

    let unreadable = [
        "this is not JSON",
        "{\"not\": \"an array\"}",
        "[]",
        "[2]",
        "\"2\"",
    ];
    // Every frame is tried; what went wrong is listed at the end.
    let mut wrong = Vec::new();
    for sent in unreadable {
        cp.send_raw(sent);
        let frame = cp.next_reply().await;
        wrong.extend(callerror_problem(&frame, None, &FORMATION, sent));
    }
    let with_id: Vec<(String, &str, &[&str])> = vec![
        ("[2,\"m1\"]".into(), "m1", &FORMATION),
        ("[2,\"m2\",\"Heartbeat\"]".into(), "m2", &FORMATION),
        ("[2,\"m3\",\"Heartbeat\",[]]".into(), "m3", &FORMATION),
        ("[2,\"m4\",42,{}]".into(), "m4", &FORMATION),
        ("[7,\"m5\",\"Heartbeat\",{}]".into(), "m5", &FORMATION),
        (
            "[2,\"m6\",\"FlyToTheMoon\",{}]".into(),
            "m6",
            &["NotImplemented"],
        ),
        (
            json!([2, "m7", "StartTransaction",
                {"connectorId": 1, "idTag": "X", "meterStart": -5, "timestamp": t}])
            .to_string(),
            "m7",
            &PAYLOAD,
        ),
        (
            json!([2, "m8", "StartTransaction", {"connectorId": 1, "idTag": "X", "timestamp": t}])
                .to_string(),
            "m8",
            &PAYLOAD,
        ),
        (
            json!([2, "m9", "StartTransaction",
                {"connectorId": "one", "idTag": "X", "meterStart": 0, "timestamp": t}])
            .to_string(),
            "m9",
            &PAYLOAD,
        ),
        (
            json!([2, "m10", "StartTransaction",
                {"connectorId": 1, "idTag": "X".repeat(21), "meterStart": 0, "timestamp": t}])
            .to_string(),
            "m10",
            &PAYLOAD,
        ),
        (
            json!([2, "m11", "StartTransaction",
                {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "yesterday"}])
            .to_string(),
            "m11",
            &PAYLOAD,
        ),
        (
            json!([2, "m13", "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}])
            .to_string(),
            "m13",
            &PAYLOAD,
        ),
        (
            json!([2, "m14", "StopTransaction", {"meterStop": 10, "timestamp": t}]).to_string(),
            "m14",
            &PAYLOAD,
        ),
    ];
    for (sent, id, codes) in &with_id {
        cp.send_raw(sent);
        let frame = cp.next_reply().await;
        wrong.extend(callerror_problem(&frame, Some(id), codes, sent));
    }

    // An answer to a call the server never made is dropped; the next call is answered.
    cp.send_raw(&json!([3, "nobody-asked", {}]).to_string());
    cp.send_raw(&json!([4, "nobody-asked-either", "GenericError", "", {}]).to_string());
    let hb = cp.call_ok("Heartbeat", json!({})).await;
    assert!(hb["currentTime"].is_string(), "{hb}");
    // Nothing the bad messages did started a transaction or faulted the pile.
    let view = box_view(&app, &op, "CP1").await;
    assert_eq!(view["connected"], true, "{view}");
    assert_eq!(view["transaction"], json!(null), "{view}");
    assert_eq!(super::pile(&app, &op, "F1").await["state"], "working");
    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Accepted", "{boot}");
    assert!(
        !cp.closed_within(std::time::Duration::from_millis(100))
            .await
    );
    assert!(
        wrong.is_empty(),
        "{} frame(s) answered wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    drop(cp);
    app.stop().await;
}

#[tokio::test]
async fn odd_requests_to_the_ocpp_path_are_never_a_500() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    super::bind_box(&app, &op, "CP1", "F1").await;
    let auth = super::chargepoint::basic("CP1", PASSWORD);
    let long = format!("/ocpp/{}", "x".repeat(300));
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "plain GET with the password",
            "/ocpp/CP1".into(),
            Some(auth.clone()),
        ),
        ("plain GET without", "/ocpp/CP1".into(), None),
        ("no box id", "/ocpp/".into(), Some(auth.clone())),
        ("a long id", long, Some(auth.clone())),
        ("a bad id", "/ocpp/CP%00".into(), Some(auth.clone())),
        (
            "garbage credentials",
            "/ocpp/CP1".into(),
            Some("Basic !!!not-base64".into()),
        ),
    ];
    for (what, path, authorization) in cases {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        let status = req.send().await.expect("an answer").status().as_u16();
        assert!(
            (400..500).contains(&status),
            "{what}: expected a 4xx, got {status}"
        );
    }
    let metrics = metrics_text(&app).await;
    assert!(
        !metrics
            .lines()
            .any(|l| l.contains("status=\"500\"") && !l.ends_with(" 0")),
        "{metrics}"
    );
    app.stop().await;
}
