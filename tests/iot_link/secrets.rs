//! Device secrets: shown once by AB-02 and once per rotation, never by a read; a rotation
//! makes the old secret worthless at once and starts the device's `seq` over; who may rotate.

use serde_json::json;

use crate::device::{TestDevice, report};
use crate::{
    Link, VID, accepted, assert_accepted, assert_secret_form, dropped, eventually, get, post, spawn,
};

/// Whether any read of the device by the platform or the vendor shows `secret`.
async fn shown_anywhere(l: &Link, did: &str, secret: &str) -> Vec<String> {
    let mut shown = Vec::new();
    for token in [&l.platform, &l.vendor] {
        for path in [
            format!("/devices/{did}"),
            "/devices".to_owned(),
            format!("/devices/{did}/stat"),
            format!("/devices/{did}/statistics"),
            format!("/devices/{did}/prof"),
            format!("/devices/{did}/svc"),
        ] {
            let r = get(&l.app, &path, token).await;
            if r.body.to_string().contains(secret) {
                shown.push(path);
            }
        }
    }
    shown
}

#[tokio::test]
async fn a_secret_is_shown_once_and_a_rotation_retires_the_old_one() {
    let l = spawn().await;
    let app = &l.app;
    let product = l.product.clone();
    let secrets = l
        .register(&["DOCHLINK0001", "DOCHLINK0002"], 1, Some(&product), VID)
        .await;
    assert_ne!(secrets[0], secrets[1], "each device has its own secret");
    let did = "DOCHLINK0001";
    for s in &secrets {
        assert_secret_form(s);
        let shown = shown_anywhere(&l, did, s).await;
        assert!(shown.is_empty(), "a read shows the secret: {shown:?}");
    }

    // The device works with its secret.
    let mut dev = TestDevice::online(&l, did, &secrets[0]).await;
    dev.report(&report(10.0, 1.0, 1000)).await;
    l.stat_until(did, "the first report", |s| {
        s["statistics"]["water_ml"]["normal"] == 1000
    })
    .await;

    // The platform rotates it: a new secret, answered once.
    let r = post(
        app,
        &format!("/devices/{did}/secret"),
        &l.platform,
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(r.data()["device_id"], did, "{}", r.body);
    let second = r.data()["secret"].as_str().expect("secret").to_owned();
    assert_secret_form(&second);
    assert_ne!(second, secrets[0]);
    assert!(shown_anywhere(&l, did, &second).await.is_empty());

    // Frames under the old secret are dropped as bad_signature, and change nothing.
    let bad = dropped(app, "bad_signature").await;
    dev.report(&report(11.0, 1.5, 2000)).await;
    eventually("the old secret's report dropped", || async {
        (dropped(app, "bad_signature").await >= bad + 1.0).then_some(())
    })
    .await;
    assert_eq!(dropped(app, "bad_signature").await, bad + 1.0);
    assert_eq!(l.stat(did).await["statistics"]["water_ml"]["normal"], 1000);

    // With the new secret, and its seq from 1 again, it is heard.
    let reports = accepted(app, "report").await;
    dev.rotate(&second).await;
    assert_eq!(
        dev.seq(),
        2,
        "online 1 and the will 2: the seq started over"
    );
    dev.report(&report(11.0, 1.5, 2000)).await;
    l.stat_until(did, "the new secret's report", |s| {
        s["statistics"]["water_ml"]["normal"] == 2000
    })
    .await;
    assert_accepted(app, "report", reports + 1.0).await;

    // The vendor rotates its own device; the secret before is worthless at once.
    let r = post(app, &format!("/devices/{did}/secret"), &l.vendor, json!({}))
        .await
        .expect(201);
    let third = r.data()["secret"].as_str().expect("secret").to_owned();
    assert_secret_form(&third);
    assert_ne!(third, second);
    let bad = dropped(app, "bad_signature").await;
    dev.report(&report(12.0, 2.0, 3000)).await;
    eventually("the second secret's report dropped", || async {
        (dropped(app, "bad_signature").await >= bad + 1.0).then_some(())
    })
    .await;
    assert_eq!(l.stat(did).await["statistics"]["water_ml"]["normal"], 2000);
    dev.rotate(&third).await;
    dev.report(&report(12.0, 2.0, 3000)).await;
    l.stat_until(did, "the third secret's report", |s| {
        s["statistics"]["water_ml"]["normal"] == 3000
    })
    .await;

    // Not another vendor's device; not a member, even the owner; not an unknown device.
    let aqua = l.other_vendor().await;
    post(app, "/devices/AQUA0000LINK/secret", &l.vendor, json!({}))
        .await
        .expect(404);
    post(app, "/devices/AQUA0000LINK/secret", &aqua, json!({}))
        .await
        .expect(201);
    post(app, &format!("/devices/{did}/secret"), &aqua, json!({}))
        .await
        .expect(404);
    l.bind(2, did).await;
    post(
        app,
        &format!("/devices/{did}/secret"),
        &l.members[2],
        json!({}),
    )
    .await
    .expect(403);
    post(
        app,
        &format!("/devices/{did}/secret"),
        &l.members[3],
        json!({}),
    )
    .await
    .expect(403);
    post(app, "/devices/DOCHNOSUCH01/secret", &l.platform, json!({}))
        .await
        .expect(404);
    // Those refusals rotated nothing: the third secret still works.
    dev.report(&report(13.0, 2.5, 4000)).await;
    l.stat_until(did, "a report after the refusals", |s| {
        s["statistics"]["water_ml"]["normal"] == 4000
    })
    .await;

    dev.disconnect().await;
    l.stop().await;
}
