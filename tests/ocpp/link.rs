//! The link: the operator registers boxes, the upgrade checks the password and the subprotocol,
//! BootNotification decides whether a box may talk, Heartbeat gives the server's time.

use serde_json::json;

use super::chargepoint::{Behaviour, ChargePoint, Refused};
use super::{PASSWORD, admin, bind_box, box_view, now, pile, put_box, spawn, tick};

/// UTC milliseconds of an RFC 3339 instant.
pub fn ms(iso: &str) -> i64 {
    let t = time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not RFC 3339: {iso}: {e}"));
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[tokio::test]
async fn the_operator_registers_boxes_and_binds_them_to_piles() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    let r = app
        .request(
            reqwest::Method::PUT,
            "/admin/v1/charging/boxes/CP1",
            None,
            Some(json!({"password": PASSWORD, "pile": "F1"})),
        )
        .await;
    assert_eq!(r.status, 401, "no operator token: {:?}", r.body);

    let long_id = "x".repeat(49);
    for (id, body, status) in [
        (long_id.as_str(), json!({"password": PASSWORD}), 400),
        ("bad%20id", json!({"password": PASSWORD}), 400),
        ("CP1", json!({"password": "fifteen-chars.."}), 400),
        ("CP1", json!({"password": "x".repeat(41)}), 400),
        ("CP1", json!({"pile": "F1"}), 400),
        ("CP1", json!({"password": PASSWORD, "pile": "F9"}), 404),
    ] {
        let r = put_box(&app, &op, id, body.clone()).await;
        assert_eq!(r.status, status, "PUT {id} {body}: {:?}", r.body);
    }
    // 48 characters of the allowed set and a 16-character password are fine.
    let id48 = format!("A.b_c:d-{}", "9".repeat(40));
    let r = put_box(&app, &op, &id48, json!({"password": "sixteen-chars..."})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["box"]["pile"], json!(null));

    bind_box(&app, &op, "CP1", "F1").await;
    let r = put_box(
        &app,
        &op,
        "CP2",
        json!({"password": PASSWORD, "pile": "F1"}),
    )
    .await;
    assert_eq!(r.status, 409, "F1 is CP1's: {:?}", r.body);

    let view = box_view(&app, &op, "CP1").await;
    assert_eq!(view["pile"], "F1");
    assert_eq!(view["connected"], false);
    // Checked last, so that the rest of the test runs whatever it says.
    let never_booted = view.clone();
    assert_eq!(view["transaction"], json!(null));
    assert!(
        !view.to_string().contains(PASSWORD),
        "the password is never shown: {view}"
    );
    let f1 = pile(&app, &op, "F1").await;
    assert_eq!(
        (f1["kind"].clone(), f1["box"].clone()),
        (json!("ocpp"), json!("CP1"))
    );
    let f2 = pile(&app, &op, "F2").await;
    assert_eq!(
        (f2["kind"].clone(), f2["box"].clone()),
        (json!("simulated"), json!(null))
    );

    // Moved to another pile without a new password, then unbound.
    let r = put_box(&app, &op, "CP1", json!({"pile": "T2"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["box"]["pile"], "T2");
    assert_eq!(pile(&app, &op, "F1").await["kind"], "simulated");
    assert_eq!(pile(&app, &op, "T2").await["box"], "CP1");
    let r = put_box(&app, &op, "CP1", json!({"pile": null})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["box"]["pile"], json!(null));
    assert_eq!(pile(&app, &op, "T2").await["kind"], "simulated");

    // Deleted: it can no longer connect.
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/admin/v1/charging/boxes/CP1",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get("/admin/v1/charging/boxes", Some(&op)).await;
    assert!(
        !r.body["boxes"]
            .as_array()
            .expect("boxes")
            .iter()
            .any(|b| b["id"] == "CP1"),
        "{:?}",
        r.body
    );
    match ChargePoint::connect_with(
        app.addr,
        "CP1",
        Some(PASSWORD),
        Some("ocpp1.6"),
        Behaviour::default(),
    )
    .await
    {
        Err(Refused::Status(401)) => {}
        other => panic!("a deleted box connects: {:?}", other.map(|c| c.id.clone())),
    }
    assert_eq!(
        never_booted["accepted"], false,
        "the view of a box that never booted: {never_booted}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_boxes_wrong_passwords_and_other_protocols_are_refused() {
    let app = spawn(|_| {}).await;
    let op = admin(&app).await;
    bind_box(&app, &op, "CP1", "F1").await;
    let offer = |id: &'static str, pw: Option<&'static str>, proto: Option<&'static str>| {
        ChargePoint::connect_with(app.addr, id, pw, proto, Behaviour::default())
    };
    for (what, id, pw) in [
        ("an unknown box", "CP9", Some(PASSWORD)),
        ("a wrong password", "CP1", Some("wrong-password-123")),
        ("no password", "CP1", None),
    ] {
        match offer(id, pw, Some("ocpp1.6")).await {
            Err(Refused::Status(401)) => {}
            Err(e) => panic!("{what}: expected 401, got {e:?}"),
            Ok(_) => panic!("{what}: expected 401, the upgrade went through"),
        }
    }
    for (what, proto) in [
        ("no subprotocol", None),
        ("only OCPP 2.0.1", Some("ocpp2.0.1")),
    ] {
        match offer("CP1", Some(PASSWORD), proto).await {
            Err(Refused::Status(400)) => {}
            Err(e) => panic!("{what}: expected 400, got {e:?}"),
            Ok(cp) => panic!(
                "{what}: expected 400, the upgrade went through (protocol {:?})",
                cp.protocol
            ),
        }
    }
    // A box that offers several gets 1.6.
    let cp = offer("CP1", Some(PASSWORD), Some("ocpp2.0.1, ocpp1.6"))
        .await
        .unwrap_or_else(|e| panic!("offering 2.0.1 and 1.6: {e:?}"));
    assert_eq!(cp.protocol.as_deref(), Some("ocpp1.6"));
    drop(cp);
    let cp = ChargePoint::connect(app.addr, "CP1", PASSWORD).await;
    assert_eq!(cp.protocol.as_deref(), Some("ocpp1.6"));
    drop(cp);
    let rejected = super::metrics_text(&app).await;
    assert!(
        rejected.contains("utilhall_ocpp_rejected_total"),
        "refusals are counted: {rejected}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unbound_box_is_rejected_and_a_bound_one_accepted_with_the_interval() {
    let app = spawn(|c| c.ocpp.heartbeat_secs = 45).await;
    let op = admin(&app).await;

    // Registered but driving no pile: Rejected, and nothing else is listened to.
    let r = put_box(&app, &op, "LOOSE", json!({"password": PASSWORD})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut loose = ChargePoint::connect(app.addr, "LOOSE", PASSWORD).await;
    let boot = loose.boot().await;
    assert_eq!(boot["status"], "Rejected", "{boot}");
    for (action, payload) in [
        ("Heartbeat", json!({})),
        (
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        ),
        ("Authorize", json!({"idTag": "ANY"})),
    ] {
        let e = loose
            .call(action, payload)
            .await
            .expect_err("an unbound box's call is refused");
        assert_eq!(e.code, "SecurityError", "{action}: {e:?}");
    }
    let loose_view = box_view(&app, &op, "LOOSE").await;

    // Bound: calls before the boot are refused; the boot is Accepted with the interval.
    bind_box(&app, &op, "CP1", "F1").await;
    let mut cp = ChargePoint::connect_with(
        app.addr,
        "CP1",
        Some(PASSWORD),
        Some("ocpp1.6"),
        Behaviour::smart(),
    )
    .await
    .expect("CP1 connects");
    // Checked last, so that the rest runs whatever the answer.
    let before_boot = cp.call("Heartbeat", json!({})).await;
    let server_now = now(&app).await;
    let boot = cp.boot().await;
    assert_eq!(boot["status"], "Accepted", "{boot}");
    assert_eq!(boot["interval"], 45, "{boot}");
    assert_eq!(
        ms(boot["currentTime"].as_str().expect("currentTime")),
        ms(&server_now),
        "{boot}"
    );
    let asked = cp.expect_call("GetConfiguration").await;
    assert_eq!(
        asked.payload,
        json!({"key": ["SupportedFeatureProfiles"]}),
        "{asked:?}"
    );

    // Heartbeat gives the server's clock, the simulated one.
    let later = tick(&app, 45).await;
    let hb = cp.call_ok("Heartbeat", json!({})).await;
    assert_eq!(
        ms(hb["currentTime"].as_str().expect("currentTime")),
        ms(&later),
        "{hb}"
    );
    assert_eq!(ms(&later) - ms(&server_now), 45_000);

    let view = super::eventually("the boxes view shows the boot", || async {
        let v = box_view(&app, &op, "CP1").await;
        (v["smart_charging"] == true).then_some(v)
    })
    .await;
    assert_eq!(view["connected"], true, "{view}");
    assert_eq!(view["vendor"], "Utilhall Test", "{view}");
    assert_eq!(view["model"], "Sim-30", "{view}");
    assert_eq!(view["serial"], "SN-CP1", "{view}");
    assert_eq!(view["firmware"], "1.2.3", "{view}");
    assert_eq!(
        ms(view["last_seen"].as_str().expect("last_seen")),
        ms(&later),
        "{view}"
    );
    assert!(
        super::metric(&app, "utilhall_ocpp_connected_boxes ").await >= 1.0,
        "the connected box is counted"
    );
    assert!(
        super::metrics_text(&app)
            .await
            .contains("utilhall_ocpp_messages_total{action=\"Heartbeat\"}"),
        "messages are counted by action"
    );

    // Gone: the view says so.
    drop(cp);
    super::eventually("the boxes view shows the disconnection", || async {
        (box_view(&app, &op, "CP1").await["connected"] == false).then_some(())
    })
    .await;
    drop(loose);
    match before_boot {
        Err(e) => assert_eq!(e.code, "SecurityError", "a call before the boot: {e:?}"),
        Ok(v) => panic!("a call before the first boot is answered: {v}"),
    }
    // The boot's outcome in the view, checked last so that the rest runs whatever it says.
    assert_eq!(view["accepted"], true, "a booted box: {view}");
    assert_eq!(
        loose_view["accepted"], false,
        "a rejected box: {loose_view}"
    );
    app.stop().await;
}
