//! The operator's commands that reach a box: off/on as ChangeAvailability, reset and unlock with
//! the box's answer passed back; refused for simulated piles and boxes that are not there.

use serde_json::{Value, json};

use super::chargepoint::Behaviour;
use super::common::{Reply, TestApp};
use super::{admin, box_view, eventually, pile, spawn};

async fn command(app: &TestApp, op: &str, pile_id: &str, what: &str, body: Value) -> Reply {
    app.post_auth(
        &format!("/admin/v1/charging/piles/{pile_id}/{what}"),
        op,
        body,
    )
    .await
}

#[tokio::test]
async fn operator_commands_reach_the_box_and_come_back_with_its_answer() {
    let app = spawn(|c| c.ocpp.call_timeout_secs = 1).await;
    let op = admin(&app).await;
    let mut cp = super::online_box(&app, &op, "CP1", "F1", Behaviour::default()).await;

    // Off and on.
    let r = command(&app, &op, "F1", "state", json!({"state": "off"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let call = cp.expect_call("ChangeAvailability").await;
    assert_eq!(
        call.payload,
        json!({"connectorId": 0, "type": "Inoperative"}),
        "{call:?}"
    );
    assert_eq!(pile(&app, &op, "F1").await["state"], "off");
    let r = command(&app, &op, "F1", "state", json!({"state": "on"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let call = cp.expect_call("ChangeAvailability").await;
    assert_eq!(
        call.payload,
        json!({"connectorId": 0, "type": "Operative"}),
        "{call:?}"
    );
    assert_eq!(pile(&app, &op, "F1").await["state"], "working");

    // Reset: the box's answer, whatever it is.
    let r = command(&app, &op, "F1", "reset", json!({"type": "soft"})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "Accepted"}))
    );
    let call = cp.expect_call("Reset").await;
    assert_eq!(call.payload, json!({"type": "Soft"}), "{call:?}");
    cp.set_behaviour(|b| b.reset = Some("Rejected"));
    let r = command(&app, &op, "F1", "reset", json!({"type": "hard"})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "Rejected"}))
    );
    let call = cp.expect_call("Reset").await;
    assert_eq!(call.payload, json!({"type": "Hard"}), "{call:?}");
    let r = command(&app, &op, "F1", "reset", json!({"type": "gentle"})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // Unlock connector 1.
    let r = command(&app, &op, "F1", "unlock", json!({})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "Unlocked"}))
    );
    let call = cp.expect_call("UnlockConnector").await;
    assert_eq!(call.payload, json!({"connectorId": 1}), "{call:?}");
    cp.set_behaviour(|b| b.unlock = Some("UnlockFailed"));
    let r = command(&app, &op, "F1", "unlock", json!({})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "UnlockFailed"}))
    );

    // Simulated piles have no box to tell; unknown piles do not exist.
    for (p, what, body) in [
        ("T1", "reset", json!({"type": "soft"})),
        ("T1", "unlock", json!({})),
        ("F2", "reset", json!({"type": "hard"})),
    ] {
        let r = command(&app, &op, p, what, body).await;
        assert_eq!(r.status, 409, "{what} on simulated {p}: {:?}", r.body);
    }
    let r = command(&app, &op, "F9", "reset", json!({"type": "soft"})).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = app
        .request(
            reqwest::Method::POST,
            "/admin/v1/charging/piles/F1/reset",
            None,
            Some(json!({"type": "soft"})),
        )
        .await;
    assert_eq!(r.status, 401, "no token: {:?}", r.body);

    // A box that does not answer: 504 after the call timeout; the link goes on.
    cp.set_behaviour(|b| b.reset = None);
    let started = std::time::Instant::now();
    let r = command(&app, &op, "F1", "reset", json!({"type": "soft"})).await;
    assert_eq!(r.status, 504, "{:?}", r.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the call timeout is 1 s: {:?}",
        started.elapsed()
    );
    cp.expect_call("Reset").await;
    let r = command(&app, &op, "F1", "unlock", json!({})).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "UnlockFailed"}))
    );

    // A box that is not connected: 409.
    drop(cp);
    eventually("the server sees the box gone", || async {
        (box_view(&app, &op, "CP1").await["connected"] == false).then_some(())
    })
    .await;
    let r = command(&app, &op, "F1", "reset", json!({"type": "soft"})).await;
    assert_eq!(r.status, 409, "box not connected: {:?}", r.body);
    let r = command(&app, &op, "F1", "unlock", json!({})).await;
    assert_eq!(r.status, 409, "box not connected: {:?}", r.body);
    app.stop().await;
}

/// The admin API's other documented refusals: a card with the server's own `UH` prefix (400), a
/// card for a driver who does not exist (404), removing a card or a box that is not there
/// (404), and a box answering a command with a CALLERROR (502).
#[tokio::test]
async fn cards_boxes_and_commands_are_refused_as_documented() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    super::driver(&app, "alice").await;
    let put_tag = |tag: &'static str, driver: &'static str| {
        let (app, op) = (&app, &op);
        async move {
            app.put_auth(
                &format!("/admin/v1/charging/tags/{tag}"),
                op,
                json!({"driver": driver}),
            )
            .await
        }
    };
    let r = put_tag("UH12", "alice").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = put_tag("CARD-1", "nobody").await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    for path in [
        "/admin/v1/charging/tags/NO-SUCH-CARD",
        "/admin/v1/charging/boxes/NO-SUCH-BOX",
    ] {
        let r = app
            .request(reqwest::Method::DELETE, path, Some(&op), None)
            .await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
    }

    // The box answers the reset with a CALLERROR: the operator hears it (502).
    let quiet = Behaviour {
        reset: None,
        ..Behaviour::default()
    };
    let mut cp = super::online_box(&app, &op, "CP1", "F1", quiet).await;
    let (r, ()) = tokio::join!(
        command(&app, &op, "F1", "reset", json!({"type": "hard"})),
        async {
            let call = cp.expect_call("Reset").await;
            assert_eq!(call.payload, json!({"type": "Hard"}), "{call:?}");
            cp.send_raw(&json!([4, call.id, "NotSupported", "no hard reset here", {}]).to_string());
        }
    );
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "box_error", "{:?}", r.body);
    drop(cp);
    app.stop().await;
}
