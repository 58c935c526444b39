//! Who may see and change what (note 1): a full matrix of caller x object x verb over two
//! vendors; devices from registration to deletion; agents and dealers.

use serde_json::json;

use crate::{R, VID, call, delete, demo, get, login, md5, post, put};

#[tokio::test]
async fn devices_from_registration_to_deletion() {
    let d = demo().await;
    let app = &d.app;
    let batch = json!({"device_ids": ["DOCH0000000B0001", "DOCH0000000B0002"], "type": 1, "model": "000000", "hw_version": "1.0", "sw_version": "1.0", "manufacture_tms": "20121221", "vendor_id": VID});
    post(app, "/devices", &d.vendor, batch.clone())
        .await
        .expect(403);
    let r = post(app, "/devices", &d.platform, batch.clone())
        .await
        .expect(201);
    assert_eq!(r.body["total"], 2);
    post(app, "/devices", &d.platform, batch.clone())
        .await
        .expect(422);
    post(
        app,
        "/devices",
        &d.platform,
        json!({"device_ids": ["ok000001", "bad id!"], "vendor_id": VID}),
    )
    .await
    .expect(422);
    post(
        app,
        "/devices",
        &d.platform,
        json!({"device_ids": ["X0000001"], "vendor_id": "NOPE"}),
    )
    .await
    .expect(422);
    let did = "DOCH0000000B0001";
    // Unbound: the vendor sees it; members and agents do not.
    get(app, &format!("/devices/{did}"), &d.vendor)
        .await
        .expect(200);
    get(app, &format!("/devices/{did}"), &d.members[2])
        .await
        .expect(404);
    get(app, &format!("/devices/{did}"), &d.agent)
        .await
        .expect(404);
    // A member binds it; another cannot take it.
    let b = post(
        app,
        &format!("/devices/{did}/bind"),
        &d.members[2],
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(b.data()["user_id"], d.member_ids[2].as_str());
    assert_eq!(b.data()["state"], 1);
    assert!(!b.data()["atv_tms"].as_str().expect("s").is_empty());
    post(
        app,
        &format!("/devices/{did}/bind"),
        &d.members[3],
        json!({}),
    )
    .await
    .expect(404);
    // An agent cannot take a device outside its range.
    post(
        app,
        "/devices/DOCH0000000B0002/bind",
        &d.agent,
        json!({"user_id": d.member_ids[0]}),
    )
    .await
    .expect(404);
    post(
        app,
        "/devices/DOCH0000000B0002/bind",
        &d.vendor,
        json!({"user_id": d.member_ids[3]}),
    )
    .await
    .expect(201);
    post(
        app,
        "/devices/DOCH0000000B0002/bind",
        &d.members[2],
        json!({}),
    )
    .await
    .expect(404);
    // The agent above the member now sees it.
    get(app, &format!("/devices/{did}"), &d.agent)
        .await
        .expect(200);
    // Shared (both paths), seen by the sharee, unshared.
    post(
        app,
        &format!("/devices/{did}/share"),
        &d.members[3],
        json!({"user_id": d.member_ids[0]}),
    )
    .await
    .expect(404);
    post(
        app,
        &format!("/devices/{did}/share"),
        &d.vendor,
        json!({"user_id": d.member_ids[0]}),
    )
    .await
    .expect(403);
    let s = post(
        app,
        &format!("/devices/{did}/share"),
        &d.members[2],
        json!({"mobile": "13800000001"}),
    )
    .await
    .expect(201);
    assert_eq!(s.data()["user_share"], json!([d.member_ids[0]]));
    post(
        app,
        &format!("/devices/{did}/bind"),
        &d.members[2],
        json!({"user_id": d.member_ids[1]}),
    )
    .await
    .expect(201);
    get(app, &format!("/devices/{did}"), &d.members[1])
        .await
        .expect(200);
    put(
        app,
        &format!("/devices/{did}"),
        &d.members[1],
        json!({"name": "mine now"}),
    )
    .await
    .expect(403);
    let profile = get(app, &format!("/users/{}", d.member_ids[1]), &d.members[1])
        .await
        .expect(200);
    assert_eq!(
        profile.data()["device_list"],
        json!([{"device_id": did, "shared": true}, {"device_id": "DOCH01234567A001", "shared": true}])
    );
    let mine = get(app, "/devices", &d.members[1]).await;
    assert_eq!(mine.status, 403, "AB-01 is for the admin side");
    call(
        app,
        "DELETE",
        &format!("/devices/{did}/share?user_id={}", d.member_ids[1]),
        Some(&d.members[1]),
        None,
    )
    .await
    .expect(204);
    get(app, &format!("/devices/{did}"), &d.members[1])
        .await
        .expect(404);
    call(
        app,
        "DELETE",
        &format!("/devices/{did}/share?user_id={}", d.member_ids[1]),
        Some(&d.members[2]),
        None,
    )
    .await
    .expect(404);
    // Configuration by who may.
    put(
        app,
        &format!("/devices/{did}"),
        &d.members[2],
        json!({"name": "厨房净水机"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/devices/{did}"),
        &d.members[2],
        json!({"model": "X"}),
    )
    .await
    .expect(422);
    // Fields a device does not have are refused too (never silently dropped).
    let r = put(
        app,
        &format!("/devices/{did}"),
        &d.vendor,
        json!({"name": "x", "colour": "red"}),
    )
    .await
    .expect(422);
    assert_eq!(r.body["field"], "body");
    put(
        app,
        &format!("/devices/{did}"),
        &d.agent,
        json!({"installation": {"installer_id": "W1", "install_tms": "2026-01-05T02:00:00Z"}}),
    )
    .await
    .expect(201);
    let c = put(
        app,
        &format!("/devices/{did}"),
        &d.vendor,
        json!({"fw_version": "2.0", "basic": {"platform": "ESP8266", "net_type": "GPRS"}}),
    )
    .await
    .expect(201);
    assert_eq!(c.data()["fw_version"], "2.0");
    assert_eq!(c.data()["name"], "厨房净水机");
    assert_eq!(c.data()["installation"]["installer_id"], "W1");
    assert_eq!(c.data()["basic"]["net_type"], "GPRS");
    put(
        app,
        &format!("/devices/{did}/prof"),
        &d.members[2],
        json!({"remark": "x"}),
    )
    .await
    .expect(403);
    put(
        app,
        &format!("/devices/{did}/prof"),
        &d.vendor,
        json!({"remark": "办公室净水机"}),
    )
    .await
    .expect(201);
    assert_eq!(
        get(app, &format!("/devices/{did}/prof"), &d.members[2])
            .await
            .expect(200)
            .data()["remark"],
        "办公室净水机"
    );
    put(
        app,
        &format!("/devices/{did}/svc"),
        &d.agent,
        json!({"state": 1}),
    )
    .await
    .expect(403);
    put(
        app,
        &format!("/devices/{did}/svc"),
        &d.vendor,
        json!({"state": 1, "expire": "2027-01-05T00:00:00Z"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/devices/{did}/svc"),
        &d.vendor,
        json!({"expire": "tomorrow"}),
    )
    .await
    .expect(422);
    let svc = get(app, &format!("/devices/{did}/svc"), &d.members[2])
        .await
        .expect(200);
    assert_eq!(
        svc.data()["expire"],
        1_799_107_200,
        "epoch seconds, as the example's number"
    );
    put(
        app,
        &format!("/devices/{did}/stat"),
        &d.vendor,
        json!({"state": {"online_tms": "x"}}),
    )
    .await
    .expect(403);
    put(app, &format!("/devices/{did}/stat"), &d.platform, json!({}))
        .await
        .expect(422);
    put(app, &format!("/devices/{did}/stat"), &d.platform, json!({"state": {"online_tms": "2026-01-05T02:00:00Z", "lbs_coord": "22.27,113.57"}, "statistics": {"water_l": 120}})).await.expect(201);
    let st = get(app, &format!("/devices/{did}/stat"), &d.members[2])
        .await
        .expect(200);
    assert_eq!(st.data()["state"]["lbs_coord"], "22.27,113.57");
    assert_eq!(st.data()["statistics"]["water_l"], 120);
    assert_eq!(
        get(app, &format!("/devices/{did}/statistics"), &d.agent)
            .await
            .expect(200)
            .data()["statistics"]["water_l"],
        120
    );
    // Unbind, factory reset, delete.
    delete(app, &format!("/devices/{did}/bind"), &d.agent)
        .await
        .expect(403);
    delete(app, &format!("/devices/{did}/bind"), &d.members[2])
        .await
        .expect(204);
    delete(app, &format!("/devices/{did}/bind"), &d.vendor)
        .await
        .expect(422);
    delete(app, &format!("/devices/{did}/infos"), &d.agent)
        .await
        .expect(403);
    delete(app, &format!("/devices/{did}/infos"), &d.vendor)
        .await
        .expect(204);
    let reset = get(app, &format!("/devices/{did}"), &d.vendor)
        .await
        .expect(200);
    assert_eq!(reset.data()["state"], 0);
    assert_eq!(reset.data()["statistics"], json!({}));
    assert_eq!(
        reset.data()["fw_version"],
        "2.0",
        "the vendor's configuration stays"
    );
    delete(app, &format!("/devices/{did}"), &d.vendor)
        .await
        .expect(403);
    delete(app, &format!("/devices/{did}"), &d.platform)
        .await
        .expect(204);
    get(app, &format!("/devices/{did}"), &d.platform)
        .await
        .expect(410);
    let list = get(app, "/devices?type=1&sort=device_id&order=desc", &d.vendor)
        .await
        .expect(200);
    assert_eq!(list.body["total"], 4);
    assert_eq!(list.data()[0]["device_id"], "DOCH01234567A003");
    d.app.stop().await;
}

#[tokio::test]
async fn agents_and_dealers_form_a_tree() {
    let d = demo().await;
    let app = &d.app;
    let tree = get(app, "/agents", &d.vendor).await.expect(200);
    assert_eq!(tree.body["total"], 1);
    assert_eq!(tree.data()[0]["dealers"][0]["user"], "dochen_dealer");
    get(app, "/agents", &d.members[0]).await.expect(403);
    post(
        app,
        "/agents",
        &d.dealer,
        json!({"user": "d2", "pwd": md5("dealer234"), "name": "D2"}),
    )
    .await
    .expect(403);
    post(
        app,
        "/agents",
        &d.vendor,
        json!({"user": "dochen_agent", "pwd": md5("agent234"), "name": "dup"}),
    )
    .await
    .expect(422);
    let a2 = post(app, "/agents", &d.vendor, json!({"user": "agent2", "pwd": md5("agent234"), "name": "二级代理", "mobile": "13700000003"})).await.expect(201);
    let a2id = a2.data()["uid"].as_str().expect("uid").to_owned();
    assert_eq!(a2.data()["type"], "agent");
    let a2t = login(app, "agent2", "agent234").await;
    let d2 = post(
        app,
        "/agents",
        &a2t,
        json!({"user": "dealer2", "pwd": md5("dealer234"), "name": "二号经销商"}),
    )
    .await
    .expect(201);
    let d2id = d2.data()["uid"].as_str().expect("uid").to_owned();
    assert_eq!(d2.data()["parent"], a2id.as_str());
    // Each agent sees itself and its dealers only.
    let mine = get(app, "/agents", &a2t).await.expect(200);
    assert_eq!(mine.body["total"], 1);
    assert_eq!(mine.data()[0]["dealers"][0]["uid"], d2id.as_str());
    get(app, &format!("/agents/{d2id}"), &d.agent)
        .await
        .expect(404);
    delete(app, &format!("/agents/{d2id}"), &d.agent)
        .await
        .expect(404);
    delete(app, &format!("/agents/{a2id}"), &d.vendor)
        .await
        .expect(422);
    delete(app, &format!("/agents/{d2id}"), &a2t)
        .await
        .expect(204);
    get(app, &format!("/agents/{d2id}"), &d.vendor)
        .await
        .expect(410);
    delete(app, &format!("/agents/{a2id}"), &d.vendor)
        .await
        .expect(204);
    get(app, "/auth/me", &a2t).await.expect(401);
    assert_eq!(
        get(app, "/agents", &d.vendor).await.expect(200).body["total"],
        1
    );
    d.app.stop().await;
}

/// The status a caller gets; a list answers whether the object is in it.
async fn probe(d: &crate::Demo, token: &str, method: &str, path: &str) -> u16 {
    let body = match method {
        "PUT" => Some(json!({"remark": "probe"})),
        "POST" => Some(json!({})),
        _ => None,
    };
    let r: R = call(&d.app, method, path, Some(token), body).await;
    r.status
}

#[tokio::test]
async fn no_caller_reads_or_changes_an_object_outside_its_range() {
    let d = demo().await;
    let app = &d.app;
    // A second vendor with its own member, device, product, order and ticket.
    post(
        app,
        "/vendors",
        &d.platform,
        json!({"user": "aqua", "pwd": md5("aqua1234"), "name": "Aqua", "code": "AQUA"}),
    )
    .await
    .expect(201);
    let aqua = login(app, "aqua", "aqua1234").await;
    let avid = "AQUA000000000001";
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": avid, "mobile": "13900000001"})),
    )
    .await
    .expect(201);
    let code = app.last_code("13900000001", "iot-register");
    let reg = call(
        app,
        "POST",
        "/users",
        None,
        Some(json!({"vid": avid, "mobile": "13900000001", "code": code, "name": "A1"})),
    )
    .await
    .expect(201);
    let other = reg.data()["token"].as_str().expect("t").to_owned();
    let other_id = reg.data()["uid"].as_str().expect("u").to_owned();
    let apid = post(
        app,
        "/products",
        &aqua,
        json!({"name": "Aqua purifier", "price": 100}),
    )
    .await
    .expect(201)
    .data()["prod_id"]
        .as_str()
        .expect("p")
        .to_owned();
    post(
        app,
        "/devices",
        &d.platform,
        json!({"device_ids": ["AQUA00000001"], "vendor_id": avid}),
    )
    .await
    .expect(201);
    post(app, "/devices/AQUA00000001/bind", &other, json!({}))
        .await
        .expect(201);
    let aoid = post(app, "/orders", &other, json!({"content": [{"product_id": apid, "quantity": 1}], "receiver": {"name": "A", "phone": "13900000001", "address": "x"}})).await.expect(201).data()["order_id"].as_str().expect("o").to_owned();
    let atid = post(
        app,
        "/tickets",
        &other,
        json!({"type": 4, "detail": "x", "device_id": "AQUA00000001"}),
    )
    .await
    .expect(201)
    .data()["ticket_id"]
        .as_str()
        .expect("t")
        .to_owned();
    // A member of the first vendor cannot buy the second vendor's product.
    post(app, "/orders", &d.members[0], json!({"content": [{"product_id": apid, "quantity": 1}], "receiver": {"name": "A", "phone": "1", "address": "x"}})).await.expect(422);

    // The first vendor's objects of member 1 (under the dealer) and member 4.
    let demo_orders = get(app, "/orders", &d.platform).await.expect(200);
    let m4_order = demo_orders
        .data()
        .as_array()
        .expect("a")
        .iter()
        .find(|o| o["user_id"] == d.member_ids[3].as_str())
        .expect("order")["order_id"]
        .as_str()
        .expect("o")
        .to_owned();
    let demo_tickets = get(app, "/tickets", &d.platform).await.expect(200);
    let m1_ticket = demo_tickets
        .data()
        .as_array()
        .expect("a")
        .iter()
        .find(|t| t["user_id"] == d.member_ids[0].as_str())
        .expect("ticket")["ticket_id"]
        .as_str()
        .expect("t")
        .to_owned();
    let dpid = get(app, "/products", &d.vendor).await.data()[0]["prod_id"]
        .as_str()
        .expect("p")
        .to_owned();

    // Objects: (path, vendor A owns it?, member index owning it in vendor A (or None for B),
    // under the demo dealer?)
    struct Obj {
        path: String,
        first_vendor: bool,
        owner: Option<usize>,
    }
    let objects = vec![
        Obj {
            path: format!("/users/{}", d.member_ids[0]),
            first_vendor: true,
            owner: Some(0),
        },
        Obj {
            path: format!("/users/{other_id}"),
            first_vendor: false,
            owner: None,
        },
        Obj {
            path: "/devices/DOCH01234567A001".into(),
            first_vendor: true,
            owner: Some(0),
        },
        Obj {
            path: "/devices/AQUA00000001".into(),
            first_vendor: false,
            owner: None,
        },
        Obj {
            path: format!("/orders/{m4_order}"),
            first_vendor: true,
            owner: Some(3),
        },
        Obj {
            path: format!("/orders/{aoid}"),
            first_vendor: false,
            owner: None,
        },
        Obj {
            path: format!("/tickets/{m1_ticket}"),
            first_vendor: true,
            owner: Some(0),
        },
        Obj {
            path: format!("/tickets/{atid}"),
            first_vendor: false,
            owner: None,
        },
        Obj {
            path: format!("/products/{dpid}"),
            first_vendor: true,
            owner: None,
        },
        Obj {
            path: format!("/products/{apid}"),
            first_vendor: false,
            owner: None,
        },
    ];
    // Callers: platform, vendor A, vendor B, agent, dealer, member 1, member 2, member of B.
    let callers: Vec<(&str, &str)> = vec![
        ("platform", &d.platform),
        ("vendor", &d.vendor),
        ("other vendor", &aqua),
        ("agent", &d.agent),
        ("dealer", &d.dealer),
        ("member 1", &d.members[0]),
        ("member 2", &d.members[1]),
        ("other member", &other),
    ];
    for (name, token) in &callers {
        for o in &objects {
            let status = probe(&d, token, "GET", &o.path).await;
            let is_product = o.path.starts_with("/products");
            let same_vendor = match *name {
                "platform" => true,
                "other vendor" | "other member" => !o.first_vendor,
                _ => o.first_vendor,
            };
            let sees = match *name {
                "platform" | "vendor" | "other vendor" => same_vendor,
                // Everything of the first vendor's members lies under the demo agent and dealer.
                "agent" | "dealer" => same_vendor,
                "member 1" => same_vendor && (is_product || o.owner == Some(0)),
                // Member 2 sees member 1's device, which is shared with them.
                "member 2" => same_vendor && (is_product || o.path.starts_with("/devices/DOCH")),
                _ => same_vendor && (is_product || o.owner.is_none()),
            };
            let expected = if sees { 200 } else { 404 };
            assert_eq!(status, expected, "{name} GET {}", o.path);
        }
    }
    // Lists hold exactly the range.
    for (name, token) in &callers {
        for (list, key) in [
            ("/users", "uid"),
            ("/devices", "device_id"),
            ("/orders", "order_id"),
            ("/products", "prod_id"),
        ] {
            let r = call(app, "GET", list, Some(token), None).await;
            if r.status == 403 {
                continue;
            }
            for item in r.data().as_array().expect("list") {
                let id = item[key].as_str().expect("id");
                let foreign = match *name {
                    "platform" => false,
                    "other vendor" | "other member" => {
                        id.starts_with("DOCH") || id[8..].starts_with("DOCH")
                    }
                    _ => id.starts_with("AQUA") || (id.len() > 12 && id[8..].starts_with("AQUA")),
                };
                assert!(!foreign, "{name} lists {id} of another vendor");
                if name.starts_with("member") && list == "/orders" {
                    assert_eq!(
                        item["user_id"],
                        d.member_ids[if *name == "member 1" { 0 } else { 1 }].as_str()
                    );
                }
            }
        }
    }
    // Changes: what is out of range is 404 (or 403 for the endpoint), never done.
    let writes = [
        ("PUT", format!("/users/{other_id}")),
        ("PUT", "/devices/AQUA00000001".to_string()),
        ("DELETE", "/devices/AQUA00000001/bind".to_string()),
        ("PUT", format!("/products/{apid}")),
        ("DELETE", format!("/products/{apid}")),
        ("POST", format!("/orders/{aoid}/status/close")),
        ("PUT", format!("/tickets/{atid}/approval")),
    ];
    for (name, token) in &callers {
        if matches!(*name, "platform" | "other vendor" | "other member") {
            continue;
        }
        for (method, path) in &writes {
            let status = probe(&d, token, method, path).await;
            assert!(
                matches!(status, 403 | 404),
                "{name} {method} {path}: {status}"
            );
        }
    }
    // Nothing of the second vendor changed.
    let o = get(app, &format!("/orders/{aoid}"), &other)
        .await
        .expect(200);
    assert_eq!(o.data()["state"], "obligation");
    let dv = get(app, "/devices/AQUA00000001", &other).await.expect(200);
    assert_eq!(dv.data()["user_id"], other_id.as_str());
    get(app, &format!("/products/{apid}"), &other)
        .await
        .expect(200);
    // Endpoints outside a caller's kind: 403 whatever the object.
    for (token, method, path) in [
        (&d.agent, "PUT", format!("/users/{}", d.member_ids[0])),
        (&d.dealer, "DELETE", format!("/users/{}", d.member_ids[0])),
        (&d.vendor, "DELETE", format!("/users/{}", d.member_ids[0])),
        (&d.members[0], "GET", "/users".to_string()),
        (&d.members[0], "GET", "/devices".to_string()),
        (&d.members[0], "POST", "/products".to_string()),
        (&d.agent, "DELETE", format!("/products/{dpid}")),
        (&d.members[0], "DELETE", format!("/orders/{m4_order}")),
        (&d.vendor, "DELETE", "/devices/DOCH01234567A001".to_string()),
        (
            &d.agent,
            "DELETE",
            "/devices/DOCH01234567A001/infos".to_string(),
        ),
        (&d.members[0], "GET", "/vendors".to_string()),
        (&d.members[0], "GET", "/agents".to_string()),
    ] {
        assert_eq!(
            probe(&d, token, method, &path).await,
            403,
            "{method} {path}"
        );
    }
    d.app.stop().await;
}
