//! The document's shapes as a client written from seed 002 alone reads them on a fresh demo:
//! every object an example shows is present with every key it shows and the example's types,
//! times in the examples' forms are taken, and commissions appear the moment a sale is paid.

use serde_json::{Value, json};

use crate::shop::{ledger_ok, ordered, pay};
use crate::{Demo, demo, get, member_tokens, post, put};

/// Asserts that `v` is an object with exactly the types of `example` under each of its keys.
fn assert_shape(v: &Value, example: &Value, what: &str) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
    for (key, want) in example.as_object().expect("example object") {
        let got = obj
            .get(key)
            .unwrap_or_else(|| panic!("{what} lacks {key}: {v}"));
        let same = matches!(
            (want, got),
            (Value::String(_), Value::String(_))
                | (Value::Number(_), Value::Number(_))
                | (Value::Bool(_), Value::Bool(_))
                | (Value::Object(_), Value::Object(_))
                | (Value::Array(_), Value::Array(_))
        );
        assert!(same, "{what}.{key} is {got}, the example has {want}");
    }
}

fn weixin_example() -> Value {
    json!({"nick": "John", "avatar": "", "sex": 1, "sbc_tms": 1386160805, "OpenID": "", "UnionID": ""})
}

#[tokio::test]
async fn a_member_without_wechat_has_the_whole_weixin_object() {
    let d = demo().await;
    let app = &d.app;
    // AA-01 (the platform's list, and an agent's) and AA-04 (the member's own, and by id).
    for token in [&d.platform, &d.vendor, &d.agent] {
        let list = get(app, "/users", token).await.expect(200);
        for u in list.data().as_array().expect("users") {
            assert_shape(&u["weixin"], &weixin_example(), "AA-01 weixin");
        }
    }
    let uid = &d.member_ids[2];
    let one = get(app, &format!("/users/{uid}"), &d.members[2])
        .await
        .expect(200);
    assert_shape(&one.data()["weixin"], &weixin_example(), "AA-04 weixin");
    assert_eq!(one.data()["weixin"]["OpenID"], "");
    assert_eq!(one.data()["weixin"]["sex"], 0);
    // Bound, the values are the member's; still every key.
    post(
        app,
        "/users/bind",
        &d.members[2],
        json!({"openid": "oWang3", "nick": "王三", "sex": 1}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/users/{uid}"), &d.platform)
        .await
        .expect(200);
    assert_shape(&one.data()["weixin"], &weixin_example(), "AA-04 weixin");
    assert_eq!(one.data()["weixin"]["OpenID"], "oWang3");
    assert_eq!(one.data()["weixin"]["nick"], "王三");
    assert_eq!(one.data()["weixin"]["sex"], 1);
    d.app.stop().await;
}

fn basic_example() -> Value {
    json!({"platform": "ESP8266", "project": "工程", "net_entry": "gw.xxx.site", "net_type": "GPRS", "dev_idcd": "", "sim_iccid": ""})
}

fn running_example() -> Value {
    json!({"online_tms": "", "offline_tms": "", "lbs_coord": ""})
}

#[tokio::test]
async fn a_device_has_its_basic_running_and_service_objects_before_any_report() {
    let d = demo().await;
    let app = &d.app;
    // AB-01 for each admin kind; AB-03 for the owner and the vendor.
    for token in [&d.platform, &d.vendor, &d.dealer] {
        let list = get(app, "/devices", token).await.expect(200);
        let devices = list.data().as_array().expect("devices");
        assert!(!devices.is_empty());
        for dev in devices {
            assert_shape(&dev["basic"], &basic_example(), "AB-01 basic");
            assert_shape(&dev["running"], &running_example(), "AB-01 running state");
            assert_shape(
                &dev["service"],
                &json!({"state": 0, "expire": 0}),
                "AB-01 service",
            );
            assert_eq!(dev["service"]["expire"], 0);
        }
    }
    let did = "DOCH01234567A001";
    for token in [&d.members[0], &d.vendor] {
        let one = get(app, &format!("/devices/{did}"), token)
            .await
            .expect(200);
        assert_shape(&one.data()["basic"], &basic_example(), "AB-03 basic");
        assert_eq!(one.data()["basic"]["platform"], "");
        assert_shape(&one.data()["running"], &running_example(), "AB-03 running");
    }
    // AB-09: the running state has the example's keys too.
    let stat = get(app, &format!("/devices/{did}/stat"), &d.members[0])
        .await
        .expect(200);
    assert_shape(&stat.data()["state"], &running_example(), "AB-09 state");
    // What the vendor sets of `basic` is kept; the rest stays empty, never missing.
    put(
        app,
        &format!("/devices/{did}"),
        &d.vendor,
        json!({"basic": {"platform": "ESP8266", "net_type": "GPRS"}}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/devices/{did}"), &d.vendor)
        .await
        .expect(200);
    assert_shape(&one.data()["basic"], &basic_example(), "AB-03 basic");
    assert_eq!(one.data()["basic"]["platform"], "ESP8266");
    assert_eq!(one.data()["basic"]["sim_iccid"], "");
    // A report fills the running state; the keys it did not send stay.
    put(
        app,
        &format!("/devices/{did}/stat"),
        &d.platform,
        json!({"state": {"online_tms": "2026-12-01T00:00:00Z", "power": true}}),
    )
    .await
    .expect(201);
    let stat = get(app, &format!("/devices/{did}/stat"), &d.members[0])
        .await
        .expect(200);
    assert_shape(&stat.data()["state"], &running_example(), "AB-09 state");
    assert_eq!(stat.data()["state"]["online_tms"], "2026-12-01T00:00:00Z");
    assert_eq!(stat.data()["state"]["power"], true);
    d.app.stop().await;
}

#[tokio::test]
async fn service_expire_is_the_examples_number_in_and_out() {
    let d = demo().await;
    let app = &d.app;
    let did = "DOCH01234567A001";
    let svc = |app, token| async move {
        get(app, &format!("/devices/{did}/svc"), token)
            .await
            .expect(200)
            .data()
            .clone()
    };
    let s = svc(app, &d.members[0]).await;
    assert_shape(&s, &json!({"state": 0, "expire": 0}), "AB-07");
    assert_eq!(s["expire"], 0);
    // Epoch seconds, as the example's number.
    put(
        app,
        &format!("/devices/{did}/svc"),
        &d.vendor,
        json!({"state": 1, "expire": 1_798_761_600}),
    )
    .await
    .expect(201);
    let s = svc(app, &d.members[0]).await;
    assert_eq!(s["expire"], 1_798_761_600);
    assert_eq!(s["state"], 1);
    // ISO 8601, and the examples' YYYYMMDD (a local date, Asia/Shanghai).
    for (sent, want) in [
        (json!("2027-01-01T00:00:00Z"), 1_798_761_600),
        (json!("20270101"), 1_798_732_800),
    ] {
        put(
            app,
            &format!("/devices/{did}/svc"),
            &d.vendor,
            json!({ "expire": sent }),
        )
        .await
        .expect(201);
        assert_eq!(svc(app, &d.vendor).await["expire"], want, "{sent}");
    }
    // 0 clears it and reads 0 again.
    put(
        app,
        &format!("/devices/{did}/svc"),
        &d.vendor,
        json!({"expire": 0}),
    )
    .await
    .expect(201);
    assert_eq!(svc(app, &d.vendor).await["expire"], 0);
    let list = get(app, "/devices", &d.vendor).await.expect(200);
    assert!(
        list.data()
            .as_array()
            .expect("a")
            .iter()
            .all(|x| x["service"]["expire"].is_number())
    );
    for bad in [
        json!("next year"),
        json!(-5),
        json!(true),
        json!("2027-13-01"),
    ] {
        let r = put(
            app,
            &format!("/devices/{did}/svc"),
            &d.vendor,
            json!({ "expire": bad }),
        )
        .await
        .expect(422);
        assert_eq!(r.body["field"], "expire", "{}", r.body);
    }
    d.app.stop().await;
}

fn approval_example() -> Value {
    json!({"check_result": true, "check_tms": "20180102", "check_usr": "0123456789"})
}

fn ratings_example() -> Value {
    json!({"rate_value": 5, "rate_tms": "", "rate_detail": ""})
}

#[tokio::test]
async fn a_ticket_has_approval_and_ratings_before_either_happens_and_takes_the_examples_date() {
    let d = demo().await;
    let app = &d.app;
    // AE-03 with the example's own appoint_tms.
    let created = post(
        app,
        "/tickets/",
        &d.members[0],
        json!({"type": 4, "detail": "制水故障", "device_id": "DOCH01234567A001", "appoint_tms": "20180105"}),
    )
    .await
    .expect(201);
    let t = created.data();
    assert_shape(&t["approval"], &approval_example(), "AE-03 approval");
    assert_shape(&t["ratings"], &ratings_example(), "AE-03 ratings");
    assert_eq!(t["approval"]["check_result"], false);
    assert_eq!(t["ratings"]["rate_value"], 0);
    // 2018-01-05 in Asia/Shanghai.
    assert_eq!(t["appoint_tms"], "2018-01-04T16:00:00Z");
    let tid = t["ticket_id"].as_str().expect("tid").to_owned();
    // ISO 8601 too; nonsense is refused naming the field.
    let iso = post(
        app,
        "/tickets/",
        &d.members[0],
        json!({"type": 4, "detail": "漏水", "device_id": "DOCH01234567A001", "appoint_tms": "2018-01-05T08:30:00+08:00"}),
    )
    .await
    .expect(201);
    assert_eq!(iso.data()["appoint_tms"], "2018-01-05T00:30:00Z");
    let bad = post(
        app,
        "/tickets/",
        &d.members[0],
        json!({"type": 4, "detail": "x", "device_id": "DOCH01234567A001", "appoint_tms": "2018-02-30"}),
    )
    .await
    .expect(422);
    assert_eq!(bad.body["field"], "appoint_tms");
    // AE-01: every ticket (the demo's fault ticket included) has both objects.
    let list = get(app, "/tickets", &d.vendor).await.expect(200);
    let tickets = list.data().as_array().expect("tickets");
    assert!(tickets.len() >= 3);
    for t in tickets {
        assert_shape(&t["approval"], &approval_example(), "AE-01 approval");
        assert_shape(&t["ratings"], &ratings_example(), "AE-01 ratings");
    }
    // Approved: the values are set, the shape is the same.
    put(
        app,
        &format!("/tickets/{tid}/approval"),
        &d.vendor,
        json!({"check_result": true}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/tickets/{tid}"), &d.vendor)
        .await
        .expect(200);
    assert_shape(&one.data()["approval"], &approval_example(), "approval");
    assert_eq!(one.data()["approval"]["check_result"], true);
    assert_ne!(one.data()["approval"]["check_tms"], "");
    assert_shape(&one.data()["ratings"], &ratings_example(), "ratings");
    d.app.stop().await;
}

#[tokio::test]
async fn vendors_show_mch_appid_and_withhold_only_what_the_note_withholds() {
    let d = demo().await;
    let app = &d.app;
    let list = get(app, "/vendors", &d.platform).await.expect(200);
    let v = &list.data()[0];
    assert_eq!(v["mch_appid"], "wxdemo00000000001", "AX-01: {v}");
    for hidden in ["pwd", "mp_secret", "mch_secret"] {
        assert!(v.get(hidden).is_none(), "{hidden} shown: {v}");
    }
    let vid = v["vid"].as_str().expect("vid").to_owned();
    let one = get(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(200);
    assert_eq!(one.data()["mch_appid"], "wxdemo00000000001", "AX-03");
    // AX-07 changes it, and the change reads back.
    put(
        app,
        &format!("/vendors/{vid}/mxx"),
        &d.platform,
        json!({"mch_appid": "wxchanged0000001", "mch_secret": "test-mch-secret"}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(200);
    assert_eq!(one.data()["mch_appid"], "wxchanged0000001");
    assert!(one.data().get("mch_secret").is_none());
    d.app.stop().await;
}

#[tokio::test]
async fn order_state_is_a_word_and_filters_take_the_word_or_its_number() {
    let d = demo().await;
    let app = &d.app;
    let buyer = &d.members[3];
    let all = get(app, "/orders", buyer).await.expect(200);
    let states: Vec<&str> = all
        .data()
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["state"].as_str().expect("state is a word"))
        .collect();
    assert_eq!(states.len(), 3);
    for (number, word) in [("0", "obligation"), ("1", "paid"), ("2", "delivered")] {
        let by_word = get(app, &format!("/orders?state={word}"), buyer)
            .await
            .expect(200);
        let by_number = get(app, &format!("/orders?state={number}"), buyer)
            .await
            .expect(200);
        assert_eq!(by_word.body["total"], 1, "{word}");
        assert_eq!(by_word.body["data"], by_number.body["data"], "{number}");
    }
    // The in-memory path too (a filter on a field without a column).
    let r = get(app, "/orders?state=1&type=商品", buyer)
        .await
        .expect(200);
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.data()[0]["state"], "paid");
    d.app.stop().await;
}

/// AF-02 of one member: (available, pending).
async fn figures(d: &Demo, token: &str) -> (f64, f64) {
    let s = get(&d.app, "/commission/summary", token).await.expect(200);
    (
        s.data()["available"].as_f64().expect("available"),
        s.data()["pending"].as_f64().expect("pending"),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

/// A new order of `buyer` for the first product, paid (the `--dev` simulator).
async fn new_paid_order(d: &Demo, buyer: &str) -> String {
    let pid = get(&d.app, "/products", buyer).await.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let oid = ordered(&d.app, buyer, &pid).await;
    pay(d, &oid).await;
    oid
}

#[tokio::test]
async fn commissions_are_pending_the_moment_a_sale_is_paid_then_available_or_void() {
    let d = demo().await;
    let app = &d.app;
    let (wang, li, zhao) = (&d.members[2], &d.members[1], &d.members[3]);
    // The demo's paid and delivered orders of 赵四 already show as pending.
    let (_, wang_pending0) = figures(&d, wang).await;
    let (_, li_pending0) = figures(&d, li).await;
    assert!(close(wang_pending0, 625.8 + 646.8), "{wang_pending0}");
    assert!(close(li_pending0, 268.2 + 277.2), "{li_pending0}");
    ledger_ok(&d).await;
    // A new sale of 2980.00 (21 % / 9 % / 0 %), paid: at once, before delivery.
    let oid = new_paid_order(&d, zhao).await;
    let (wang_avail, wang_pending) = figures(&d, wang).await;
    let (li_avail, li_pending) = figures(&d, li).await;
    assert!(close(wang_pending - wang_pending0, 625.8), "{wang_pending}");
    assert!(close(li_pending - li_pending0, 268.2), "{li_pending}");
    assert_eq!((wang_avail, li_avail), (0.0, 0.0));
    let rows = get(
        app,
        &format!("/commission?order_id={oid}&sort=level"),
        &d.vendor,
    )
    .await
    .expect(200);
    let rows = rows.data().as_array().expect("rows").clone();
    assert_eq!(rows.len(), 2, "the third level's rate is 0: {rows:?}");
    assert_eq!(rows[0]["user_id"], d.member_ids[2].as_str());
    assert_eq!(rows[0]["amount"], 625.8);
    assert_eq!(rows[1]["user_id"], d.member_ids[1].as_str());
    assert_eq!(rows[1]["amount"], 268.2);
    for r in &rows {
        assert_eq!(r["state"], "pending");
        assert_eq!(r["available_tms"], "", "unknown until received: {r}");
    }
    ledger_ok(&d).await;
    // Delivered and received: the date they become available is known.
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.vendor,
        json!({"company": "EMS", "tracking_num": "E1"}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid}/status/confirm"),
        zhao,
        json!({}),
    )
    .await
    .expect(201);
    let rows = get(app, &format!("/commission?order_id={oid}"), &d.vendor)
        .await
        .expect(200);
    for r in rows.data().as_array().expect("rows") {
        assert_ne!(r["available_tms"], "", "{r}");
        assert_eq!(r["state"], "pending");
    }
    // Still within the window: pending; one day short of it, still pending.
    app.advance(6 * 86_400).await;
    let tokens = member_tokens(app).await;
    let (wang_avail, _) = figures(&d, &tokens[2]).await;
    assert_eq!(wang_avail, 0.0);
    ledger_ok(&d).await;
    // The window over: available (and in the journal), no longer pending.
    app.advance(86_400 + 1).await;
    let tokens = member_tokens(app).await;
    let (wang, li) = (&tokens[2], &tokens[1]);
    let (wang_avail, wang_pending) = figures(&d, wang).await;
    let (li_avail, li_pending) = figures(&d, li).await;
    assert!(close(wang_avail, 625.8), "{wang_avail}");
    assert!(close(li_avail, 268.2), "{li_avail}");
    assert!(close(wang_pending, wang_pending0), "{wang_pending}");
    assert!(close(li_pending, li_pending0), "{li_pending}");
    ledger_ok(&d).await;
    // Another sale, paid and received, then returned within the window: void at once.
    let zhao = &tokens[3];
    let oid2 = new_paid_order(&d, zhao).await;
    let (_, wang_pending) = figures(&d, wang).await;
    assert!(close(wang_pending - wang_pending0, 625.8));
    let vendor = crate::login(app, "dochen", "dochen123").await;
    post(
        app,
        &format!("/orders/{oid2}/delivery"),
        &vendor,
        json!({"company": "EMS", "tracking_num": "E2"}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid2}/status/confirm"),
        zhao,
        json!({}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid2}/status/return"),
        zhao,
        json!({"reason": "不需要了"}),
    )
    .await
    .expect(201);
    let rows = get(app, &format!("/commission?order_id={oid2}"), &vendor)
        .await
        .expect(200);
    let rows = rows.data().as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["state"] == "void"), "{rows:?}");
    let (wang_avail, wang_pending) = figures(&d, wang).await;
    assert!(close(wang_pending, wang_pending0), "{wang_pending}");
    assert!(close(wang_avail, 625.8));
    ledger_ok(&d).await;
    // Consent and refund keep them void; long after, nothing of it becomes available.
    post(
        app,
        &format!("/orders/{oid2}/status/consent"),
        &vendor,
        json!({}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/orders/{oid2}/status/refund"),
        &vendor,
        json!({}),
    )
    .await
    .expect(201);
    app.advance(8 * 86_400).await;
    let tokens = member_tokens(app).await;
    let (wang_avail, wang_pending) = figures(&d, &tokens[2]).await;
    assert!(close(wang_avail, 625.8), "{wang_avail}");
    assert!(close(wang_pending, wang_pending0), "{wang_pending}");
    ledger_ok(&d).await;
    d.app.stop().await;
}

/// Every `null` in `v`, by path.
fn nulls(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(path.to_owned()),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                nulls(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                nulls(x, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn no_reply_of_the_demo_holds_a_null_for_any_caller() {
    let d = demo().await;
    let app = &d.app;
    let callers = [
        ("platform", &d.platform),
        ("vendor", &d.vendor),
        ("agent", &d.agent),
        ("dealer", &d.dealer),
        ("member", &d.members[0]),
        ("buyer", &d.members[3]),
    ];
    let mut found = Vec::new();
    let mut read = 0;
    for (who, token) in callers {
        for (list, id_key) in [
            ("/users", "uid"),
            ("/devices", "device_id"),
            ("/products", "prod_id"),
            ("/orders", "order_id"),
            ("/tickets", "ticket_id"),
            ("/tickets/summary", ""),
            ("/commission", ""),
            ("/commission/summary", ""),
            ("/agents", "uid"),
            ("/vendors", "vid"),
            ("/auth/me", ""),
        ] {
            let r = get(app, list, token).await;
            if r.status != 200 {
                continue;
            }
            read += 1;
            nulls(&r.body, &format!("{who} GET {list}"), &mut found);
            let Some(items) = r.data().as_array().cloned() else {
                continue;
            };
            for item in items.iter().take(3) {
                let Some(id) = item.get(id_key).and_then(Value::as_str) else {
                    continue;
                };
                let mut paths = vec![format!("{list}/{id}")];
                match list {
                    "/devices" => {
                        for sub in ["prof", "svc", "stat", "statistics"] {
                            paths.push(format!("{list}/{id}/{sub}"));
                        }
                    }
                    "/orders" => {
                        for sub in ["delivery", "payment"] {
                            paths.push(format!("{list}/{id}/{sub}"));
                        }
                    }
                    "/products" => paths.push(format!("{list}/{id}/prof")),
                    _ => {}
                }
                for path in paths {
                    let r = get(app, &path, token).await;
                    if r.status == 200 {
                        read += 1;
                        nulls(&r.body, &format!("{who} GET {path}"), &mut found);
                    }
                }
            }
        }
    }
    assert!(read > 60, "only {read} replies read");
    assert!(found.is_empty(), "nulls: {found:#?}");
    d.app.stop().await;
}
