//! Products, orders through every state, payment (simulated and through the fake WeChat Pay),
//! install tickets, commissions and withdrawals, tickets.

use serde_json::{Value, json};
use utilhall::config::{Secret, WechatPaySection};

use crate::common::TestApp;
use crate::common::wechat::{
    self, APIV3_KEY, FakeWechat, MCHID, MERCHANT_SERIAL, NoticeSpec, PUBLIC_KEY_ID,
};
use crate::{Demo, R, VID, call, delete, demo, demo_with, get, member_tokens, post, put};

/// AC-02's example with installation and three commission levels.
fn installed_product(rates: Value) -> Value {
    json!({
        "state": 1, "type": 1, "name": "智能净水机(安装)", "desc": "上门安装", "tags": "智能, 净水机",
        "sequence": 2, "bonus": true, "price": 2980, "freight": 0, "install": true, "maintain": false,
        "install_cost": 100, "maintain_cost": 0, "orig_price": 4999,
        "rent": {"deposit": 0, "config": [{"name": "30天", "key": "30d", "value": 60}]},
        "commis": {"enabled": true, "config": rates},
        "specification": {"mode": 0, "filters": [{"order": 1, "name": "PPC复合滤芯", "timer_mode": 0, "lifetime": 4320, "worklife": 540}],
            "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
    })
}

pub(crate) fn order_body(pid: &str) -> Value {
    json!({
        "content": [{"product_id": pid, "quantity": 1}],
        "receiver": {"name": "赵四", "phone": "13800000004", "area": "广东省珠海市香洲区", "address": "南方软件园A123", "zipcode": "519000"},
        "memo": ""
    })
}

/// `buyer` orders one of product `pid` (AD-02, 201); the new order's id.
pub(crate) async fn ordered(app: &TestApp, buyer: &str, pid: &str) -> String {
    post(app, "/orders", buyer, order_body(pid))
        .await
        .expect(201)
        .data()["order_id"]
        .as_str()
        .expect("order_id")
        .to_owned()
}

pub(crate) async fn ledger_ok(d: &Demo) {
    let report = d.app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

pub(crate) async fn pay(d: &Demo, oid: &str) {
    let r = d
        .app
        .client
        .post(format!(
            "{}/admin/v1/iot/orders/{oid}/simulate-payment",
            d.app.base
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn products_take_the_whole_ac02_configuration() {
    let d = demo().await;
    let app = &d.app;
    let list = get(app, "/products", &d.members[0]).await.expect(200);
    assert_eq!(list.body["total"], 2);
    let demo_product = list
        .data()
        .as_array()
        .expect("a")
        .iter()
        .find(|p| p["name"] == "智能净水机")
        .expect("AC-02 product")
        .clone();
    assert_eq!(
        demo_product["specification"]["filters"]
            .as_array()
            .expect("f")
            .len(),
        3
    );
    assert_eq!(demo_product["rent"]["config"][4]["key"], "360d");
    assert_eq!(demo_product["commis"]["config"], json!([21, 9, 0]));
    assert_eq!(demo_product["price"], 2980);
    post(
        app,
        "/products",
        &d.members[0],
        installed_product(json!([21, 9, 3])),
    )
    .await
    .expect(403);
    post(
        app,
        "/products",
        &d.agent,
        installed_product(json!([21, 9, 3])),
    )
    .await
    .expect(403);
    post(app, "/products", &d.vendor, json!({"price": 1}))
        .await
        .expect(422);
    post(
        app,
        "/products",
        &d.vendor,
        installed_product(json!([60, 50, 0])),
    )
    .await
    .expect(422);
    let mut bad = installed_product(json!([1]));
    bad["price"] = json!(1.234);
    post(app, "/products", &d.vendor, bad).await.expect(422);
    let mut bad = installed_product(json!([1]));
    bad["specification"]["filters"][0]["timer_mode"] = json!(7);
    post(app, "/products", &d.vendor, bad).await.expect(422);
    let p = post(
        app,
        "/products",
        &d.vendor,
        installed_product(json!([21, 9, 3.33])),
    )
    .await
    .expect(201);
    let pid = p.data()["prod_id"].as_str().expect("pid").to_owned();
    assert!(pid.starts_with("DOCH") && pid.len() == 20);
    assert_eq!(p.data()["commis"]["config"], json!([21, 9, 3.33]));
    put(
        app,
        &format!("/products/{pid}"),
        &d.vendor,
        json!({"price": 3000.5, "name": "新名字"}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/products/{pid}"), &d.members[0])
        .await
        .expect(200);
    assert_eq!(one.data()["price"], 3000.5);
    assert_eq!(one.data()["install_cost"], 100);
    let prof = get(app, &format!("/products/{pid}/prof"), &d.agent)
        .await
        .expect(200);
    assert_eq!(
        prof.data()["specification"]["filters"][0]["name"],
        "PPC复合滤芯"
    );
    put(
        app,
        &format!("/products/{pid}/prof"),
        &d.vendor,
        json!({"mode": 1, "filters": [{"name": "RO"}]}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/products/{pid}/prof"),
        &d.agent,
        json!({"mode": 1}),
    )
    .await
    .expect(403);
    assert_eq!(
        get(app, &format!("/products/{pid}/prof"), &d.vendor)
            .await
            .expect(200)
            .data()["specification"]["filters"][0]["name"],
        "RO"
    );
    delete(app, &format!("/products/{pid}"), &d.agent)
        .await
        .expect(403);
    delete(app, &format!("/products/{pid}"), &d.vendor)
        .await
        .expect(204);
    get(app, &format!("/products/{pid}"), &d.vendor)
        .await
        .expect(410);
    get(app, "/products/NOPE0000000000000001", &d.vendor)
        .await
        .expect(404);
    d.app.stop().await;
}

#[tokio::test]
async fn orders_follow_the_state_machine_and_refuse_every_other_move() {
    let d = demo().await;
    let app = &d.app;
    let buyer = &d.members[3];
    let pid = get(app, "/products", buyer).await.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    post(app, "/orders", &d.vendor, order_body(&pid))
        .await
        .expect(403);
    post(app, "/orders", buyer, json!({"content": []}))
        .await
        .expect(422);
    post(app, "/orders", buyer, json!({"content": [{"product_id": "NOPE", "quantity": 1}], "receiver": {"name": "a", "phone": "1", "address": "x"}})).await.expect(422);
    post(
        app,
        "/orders",
        buyer,
        json!({"content": [{"product_id": pid, "quantity": 1}]}),
    )
    .await
    .expect(422);
    let o = post(app, "/orders", buyer, order_body(&pid))
        .await
        .expect(201);
    let oid = o.data()["order_id"].as_str().expect("oid").to_owned();
    assert_eq!(oid.len(), 24, "YYYYMMDD + vendor code + 12 digits: {oid}");
    assert!(oid[8..].starts_with("DOCH"));
    assert_eq!(o.data()["state"], "obligation");
    assert_eq!(o.data()["amount"], 2980);
    let s = |path: &str| format!("/orders/{oid}/status/{path}");
    // Moves out of turn change nothing.
    post(app, &s("confirm"), buyer, json!({})).await.expect(422);
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.vendor,
        json!({"company": "顺丰", "tracking_num": "SF1"}),
    )
    .await
    .expect(422);
    post(app, &s("consent"), &d.vendor, json!({}))
        .await
        .expect(422);
    put(app, &s("refund"), &d.vendor, json!({}))
        .await
        .expect(422);
    post(app, &s("done"), buyer, json!({})).await.expect(422);
    post(app, &s("return"), buyer, json!({})).await.expect(422);
    assert_eq!(
        get(app, &format!("/orders/{oid}"), buyer)
            .await
            .expect(200)
            .data()["state"],
        "obligation"
    );
    // Card channels are not configured.
    post(
        app,
        &format!("/orders/{oid}/prepay/credit"),
        buyer,
        json!({}),
    )
    .await
    .expect(422);
    post(
        app,
        &format!("/orders/{oid}/prepay/debit"),
        buyer,
        json!({}),
    )
    .await
    .expect(422);
    post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        &d.vendor,
        json!({}),
    )
    .await
    .expect(403);
    // Paid (simulated gateway under --dev).
    let pre = post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    assert!(pre.data()["paySign"].is_string());
    pay(&d, &oid).await;
    pay(&d, &oid).await;
    let p = get(app, &format!("/orders/{oid}/payment"), buyer)
        .await
        .expect(200);
    assert_eq!(p.data()["paid"], true);
    assert_eq!(p.data()["pay_ch"], "weixin");
    post(app, &s("close"), buyer, json!({})).await.expect(422);
    post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({}),
    )
    .await
    .expect(422);
    // Delivered by the agent above the buyer; corrected by the vendor.
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        buyer,
        json!({"company": "顺丰", "tracking_num": "SF1"}),
    )
    .await
    .expect(403);
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.agent,
        json!({"company": "顺丰"}),
    )
    .await
    .expect(422);
    let dl = post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.agent,
        json!({"company": "顺丰", "tracking_num": "SF1", "delivery_clerk": "小王"}),
    )
    .await
    .expect(201);
    assert_eq!(dl.data()["state"], "delivered");
    put(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.agent,
        json!({"tracking_num": "SF2"}),
    )
    .await
    .expect(403);
    put(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.vendor,
        json!({"tracking_num": "SF2"}),
    )
    .await
    .expect(201);
    let g = get(app, &format!("/orders/{oid}/delivery"), buyer)
        .await
        .expect(200);
    assert_eq!(g.data()["tracking_num"], "SF2");
    assert_eq!(g.data()["company"], "顺丰");
    // Received, returned, consented, refunded.
    post(app, &s("confirm"), &d.members[0], json!({}))
        .await
        .expect(404);
    post(app, &s("confirm"), buyer, json!({})).await.expect(201);
    post(app, &s("consent"), &d.vendor, json!({}))
        .await
        .expect(422);
    post(app, &s("return"), buyer, json!({"reason": "不想要了"}))
        .await
        .expect(201);
    post(app, &s("consent"), &d.agent, json!({}))
        .await
        .expect(403);
    post(app, &s("consent"), &d.vendor, json!({}))
        .await
        .expect(201);
    put(app, &s("refund"), &d.vendor, json!({"amount": 5000}))
        .await
        .expect(422);
    let r = put(app, &s("refund"), &d.vendor, json!({"refund_no": "RF1"}))
        .await
        .expect(201);
    assert_eq!(r.data()["state"], "refund");
    assert_eq!(r.data()["return"]["refund_amount"], 2980);
    assert_eq!(r.data()["return"]["reason"], "不想要了");
    put(app, &s("refund"), &d.vendor, json!({}))
        .await
        .expect(422);
    ledger_ok(&d).await;
    // Close and delete.
    let o2 = ordered(app, buyer, &pid).await;
    post(
        app,
        &format!("/orders/{o2}/status/close"),
        &d.agent,
        json!({}),
    )
    .await
    .expect(403);
    post(app, &format!("/orders/{o2}/status/close"), buyer, json!({}))
        .await
        .expect(201);
    post(app, &format!("/orders/{o2}/status/close"), buyer, json!({}))
        .await
        .expect(422);
    delete(app, &format!("/orders/{o2}"), &d.vendor)
        .await
        .expect(403);
    delete(app, &format!("/orders/{o2}"), &d.platform)
        .await
        .expect(204);
    get(app, &format!("/orders/{o2}"), &d.platform)
        .await
        .expect(410);
    // An unpaid order closes on its own after the payment window; a paid one cannot be deleted.
    let o3 = ordered(app, buyer, &pid).await;
    app.advance(1801).await;
    assert_eq!(
        get(app, &format!("/orders/{o3}"), buyer)
            .await
            .expect(200)
            .data()["state"],
        "close"
    );
    let o4 = ordered(app, buyer, &pid).await;
    pay(&d, &o4).await;
    delete(app, &format!("/orders/{o4}"), &d.platform)
        .await
        .expect(422);
    // Lists by range and filter.
    let mine = get(app, "/orders?state=paid", buyer).await.expect(200);
    assert!(
        mine.data()
            .as_array()
            .expect("a")
            .iter()
            .all(|o| o["state"] == "paid")
    );
    assert!(
        mine.data()
            .as_array()
            .expect("a")
            .iter()
            .any(|o| o["order_id"] == o4.as_str())
    );
    assert_eq!(
        get(app, "/orders", &d.members[0]).await.expect(200).body["total"],
        0
    );
    ledger_ok(&d).await;
    d.app.stop().await;
}

#[tokio::test]
async fn a_wechat_paid_order_opens_its_install_ticket_and_pays_three_levels_of_commission() {
    let fake = FakeWechat::start().await;
    let base = fake.base.clone();
    let d = demo_with(move |c| {
        c.wechat_pay = WechatPaySection {
            base_url: base,
            mchid: Some(MCHID.into()),
            appid: Some(wechat::APPID.into()),
            merchant_serial: Some(MERCHANT_SERIAL.into()),
            merchant_key_file: Some(wechat::fixture("merchant_key.pem")),
            apiv3_key: Some(Secret(APIV3_KEY.into())),
            public_key_file: Some(wechat::fixture("platform_public.pem")),
            public_key_id: Some(PUBLIC_KEY_ID.into()),
            notify_url: Some("https://iot.example.com/iot/orders/notify/weixin".into()),
        };
    })
    .await;
    let app = &d.app;
    let buyer = &d.members[3];
    let pid = post(
        app,
        "/products",
        &d.vendor,
        installed_product(json!([21, 9, 3.33])),
    )
    .await
    .expect(201)
    .data()["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let oid = ordered(app, buyer, &pid).await;
    // JSAPI needs the payer's openid: bind WeChat first.
    post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({}),
    )
    .await
    .expect(422);
    post(
        app,
        "/users/bind",
        buyer,
        json!({"openid": "oBuyer4", "nick": "赵四"}),
    )
    .await
    .expect(201);
    let pre = post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(pre.data()["package"], format!("prepay_id=wx_fake_{oid}"));
    let trade = fake
        .trades
        .lock()
        .expect("lock")
        .get(&oid)
        .cloned()
        .expect("trade at WeChat");
    assert_eq!(trade.total, 308_000);
    assert_eq!(trade.openid, "oBuyer4");
    // Asked again: the same prepay.
    let again = post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(again.data()["prepay_id"], pre.data()["prepay_id"]);
    // WeChat notifies (twice): paid once, one install ticket.
    let mut paid = fake.pay(&oid, &format!("4200000{oid}"));
    paid.total = 308_000;
    let notice = wechat::notice(NoticeSpec {
        transaction: wechat::transaction_json(&oid, &paid),
        timestamp: app.state.now().secs(),
        signing_key: "platform_key.pem",
        serial: PUBLIC_KEY_ID,
        apiv3_key: APIV3_KEY,
    });
    for _ in 0..2 {
        let mut req = app
            .client
            .post(format!("{}/iot/orders/notify/weixin", app.base))
            .body(notice.body.clone());
        for (k, v) in &notice.headers {
            req = req.header(*k, v);
        }
        let resp = req
            .header("content-type", "application/json")
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 204);
    }
    let p = get(app, &format!("/orders/{oid}/payment"), buyer)
        .await
        .expect(200);
    assert_eq!(p.data()["state"], "paid");
    assert_eq!(p.data()["transaction_no"], format!("4200000{oid}"));
    let tickets = get(app, &format!("/tickets?order_id={oid}"), &d.vendor)
        .await
        .expect(200);
    assert_eq!(tickets.body["total"], 1);
    assert_eq!(tickets.data()[0]["type"], 1);
    assert_eq!(tickets.data()[0]["status"], 1);
    assert_eq!(tickets.data()[0]["user_id"], d.member_ids[3].as_str());
    let summary = get(app, "/tickets/summary", buyer).await.expect(200);
    assert!(
        summary.data()["tickets"]
            .as_array()
            .expect("a")
            .iter()
            .any(|t| t["order_id"] == oid.as_str())
    );
    ledger_ok(&d).await;
    // Delivered, received, done: the three referrers above the buyer earn 21 %, 9 % and 3.33 %.
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.vendor,
        json!({"company": "顺丰", "tracking_num": "SF9"}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid}/status/confirm"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    post(app, &format!("/orders/{oid}/status/done"), buyer, json!({}))
        .await
        .expect(201);
    let list = get(
        app,
        &format!("/commission?order_id={oid}&sort=level"),
        &d.vendor,
    )
    .await
    .expect(200);
    let c = list.data().as_array().expect("a");
    assert_eq!(c.len(), 3);
    let expect = [(2, 646.8), (1, 277.2), (0, 102.56)];
    for (row, (who, amount)) in c.iter().zip(expect) {
        assert_eq!(row["user_id"], d.member_ids[who].as_str());
        assert_eq!(row["amount"].as_f64(), Some(amount), "{row}");
        assert_eq!(row["state"], "pending");
    }
    get(app, "/commission", &d.members[2]).await.expect(403);
    let s = get(app, "/commission/summary", &d.members[2])
        .await
        .expect(200);
    // The demo's two paid orders of 赵四 (625.8 and 646.8) are pending too.
    let demo_pending = 625.8 + 646.8;
    let pending = s.data()["pending"].as_f64().expect("pending");
    assert!((pending - demo_pending - 646.8).abs() < 0.005, "{pending}");
    assert_eq!(s.data()["available"], 0);
    post(app, "/commission/", &d.members[2], json!({}))
        .await
        .expect(422);
    // Seven days after receipt the order can no longer be returned: the commissions are
    // available, into the journal.
    app.advance(7 * 86_400 + 1).await;
    let members = member_tokens(app).await;
    let buyer = &members[3];
    post(
        app,
        &format!("/orders/{oid}/status/return"),
        buyer,
        json!({}),
    )
    .await
    .expect(422);
    let s = get(app, "/commission/summary", &members[2])
        .await
        .expect(200);
    assert_eq!(s.data()["available"], 646.8);
    let pending = s.data()["pending"].as_f64().expect("pending");
    assert!((pending - demo_pending).abs() < 0.005, "{pending}");
    post(app, "/commission/", &members[2], json!({"amount": 1000}))
        .await
        .expect(422);
    let w = post(app, "/commission/", &members[2], json!({"amount": 600}))
        .await
        .expect(201);
    assert_eq!(w.data()["available"], 46.8);
    let again = post(app, "/commission", &members[2], json!({})).await;
    assert_eq!(again.status, 429, "{}", again.body);
    app.advance(31).await;
    let w = post(app, "/commission/", &members[2], json!({}))
        .await
        .expect(201);
    assert_eq!(w.data()["amount"], 46.8);
    let s = get(app, "/commission/summary", &members[2])
        .await
        .expect(200);
    assert_eq!(s.data()["withdrawn"], 646.8);
    assert_eq!(s.data()["available"], 0);
    ledger_ok(&d).await;
    let entries = d.app.state.journal.check().await.expect("check").entries;
    assert_eq!(
        entries,
        crate::common::DEMO_ENTRIES + 1 + 3 + 2,
        "payment, three commissions, two withdrawals"
    );
    d.app.stop().await;
}

#[tokio::test]
async fn a_return_within_the_window_voids_the_pending_commissions() {
    let d = demo().await;
    let app = &d.app;
    let buyer = &d.members[3];
    let pid = get(app, "/products", buyer).await.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let oid = ordered(app, buyer, &pid).await;
    pay(&d, &oid).await;
    post(
        app,
        &format!("/orders/{oid}/delivery"),
        &d.dealer,
        json!({"company": "EMS", "tracking_num": "E1"}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid}/status/confirm"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{oid}/status/done"),
        &d.vendor,
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(
        get(app, &format!("/commission?order_id={oid}"), &d.vendor)
            .await
            .body["total"],
        2,
        "21 % and 9 %; the third level is 0"
    );
    app.advance(86_400).await;
    post(
        app,
        &format!("/orders/{oid}/status/return"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    let list = get(app, &format!("/commission?order_id={oid}"), &d.vendor)
        .await
        .expect(200);
    assert!(
        list.data()
            .as_array()
            .expect("a")
            .iter()
            .all(|c| c["state"] == "void")
    );
    app.advance(7 * 86_400).await;
    let members = member_tokens(app).await;
    let buyer = &members[3];
    let vendor_again = crate::login(app, "dochen", "dochen123").await;
    let s = get(app, "/commission/summary", &members[2])
        .await
        .expect(200);
    assert_eq!(s.data()["available"], 0);
    ledger_ok(&d).await;
    // An order nobody marks done becomes done when the window closes.
    let o2 = ordered(app, buyer, &pid).await;
    pay(&d, &o2).await;
    post(
        app,
        &format!("/orders/{o2}/delivery"),
        &vendor_again,
        json!({"company": "EMS", "tracking_num": "E2"}),
    )
    .await
    .expect(201);
    post(
        app,
        &format!("/orders/{o2}/status/confirm"),
        buyer,
        json!({}),
    )
    .await
    .expect(201);
    app.advance(7 * 86_400 + 1).await;
    let members = member_tokens(app).await;
    let buyer = &members[3];
    assert_eq!(
        get(app, &format!("/orders/{o2}"), buyer)
            .await
            .expect(200)
            .data()["state"],
        "done"
    );
    let s = get(app, "/commission/summary", &members[2])
        .await
        .expect(200);
    assert_eq!(s.data()["available"], 625.8);
    ledger_ok(&d).await;
    d.app.stop().await;
}

#[tokio::test]
async fn tickets_are_approved_dispatched_worked_and_rated() {
    let d = demo().await;
    let app = &d.app;
    let owner = &d.members[0];
    post(
        app,
        "/tickets/",
        owner,
        json!({"type": 1, "detail": "安装", "device_id": "DOCH01234567A001"}),
    )
    .await
    .expect(422);
    post(
        app,
        "/tickets/",
        owner,
        json!({"type": 4, "detail": "漏水"}),
    )
    .await
    .expect(422);
    post(
        app,
        "/tickets/",
        &d.members[2],
        json!({"type": 4, "detail": "漏水", "device_id": "DOCH01234567A001"}),
    )
    .await
    .expect(422);
    let t = post(app, "/tickets/", owner, json!({"type": 4, "detail": "漏水", "device_id": "DOCH01234567A001", "appoint_tms": "2026-01-08T02:00:00Z"})).await.expect(201);
    let tid = t.data()["ticket_id"].as_str().expect("tid").to_owned();
    assert_eq!(tid.len(), 24);
    assert_eq!(t.data()["appoint_tms"], "2026-01-08T02:00:00Z");
    get(app, "/tickets", owner).await.expect(403);
    get(app, "/tickets", &d.agent).await.expect(403);
    assert!(get(app, "/tickets", &d.vendor).await.expect(200).body["total"].as_i64() >= Some(3));
    let path = |a: &str| format!("/tickets/{tid}/{a}");
    put(
        app,
        &path("dispatch"),
        &d.agent,
        json!({"installer_id": "W1"}),
    )
    .await
    .expect(422);
    put(
        app,
        &path("approval"),
        &d.agent,
        json!({"check_result": true}),
    )
    .await
    .expect(403);
    put(app, &path("approval"), &d.vendor, json!({}))
        .await
        .expect(422);
    let a = put(
        app,
        &path("approval"),
        &d.vendor,
        json!({"check_result": true}),
    )
    .await
    .expect(201);
    assert_eq!(a.data()["approval"]["check_usr"], VID);
    put(
        app,
        &path("approval"),
        &d.vendor,
        json!({"check_result": true}),
    )
    .await
    .expect(422);
    put(app, &path("dispatch"), owner, json!({"installer_id": "W1"}))
        .await
        .expect(403);
    put(
        app,
        &path("dispatch"),
        &d.dealer,
        json!({"installer_id": "W1"}),
    )
    .await
    .expect(201);
    put(app, &path("status"), &d.dealer, json!({"status": 6}))
        .await
        .expect(422);
    put(app, &path("status"), &d.dealer, json!({"status": 4}))
        .await
        .expect(201);
    put(
        app,
        &path("status"),
        &d.dealer,
        json!({"status": 5, "reply": "请确认水压"}),
    )
    .await
    .expect(201);
    put(app, &path("status"), owner, json!({"status": 6}))
        .await
        .expect(422);
    put(app, &path("status"), owner, json!({"status": 4}))
        .await
        .expect(201);
    post(app, &path("ratings"), owner, json!({"rate_value": 5}))
        .await
        .expect(422);
    put(app, &path("status"), &d.agent, json!({"status": 6}))
        .await
        .expect(201);
    post(app, &path("ratings"), &d.vendor, json!({"rate_value": 5}))
        .await
        .expect(403);
    post(
        app,
        &path("ratings"),
        &d.members[1],
        json!({"rate_value": 5}),
    )
    .await
    .expect(404);
    post(app, &path("ratings"), owner, json!({"rate_value": 9}))
        .await
        .expect(422);
    let r = post(
        app,
        &path("ratings"),
        owner,
        json!({"rate_value": 5, "rate_detail": "很好"}),
    )
    .await
    .expect(201);
    assert_eq!(r.data()["ratings"]["rate_value"], 5);
    assert_eq!(r.data()["status"], 6);
    post(app, &path("ratings"), owner, json!({"rate_value": 4}))
        .await
        .expect(422);
    let sum = get(app, "/tickets/summary", owner).await.expect(200);
    assert_eq!(sum.data()["by_status"]["6"], 1);
    get(app, &format!("/tickets/{tid}"), &d.members[3])
        .await
        .expect(404);
    // A rejected ticket goes no further.
    let t2 = post(
        app,
        "/tickets",
        &d.vendor,
        json!({"type": 5, "detail": "换滤芯", "user_id": d.member_ids[0]}),
    )
    .await
    .expect(201);
    let t2 = t2.data()["ticket_id"].as_str().expect("t").to_owned();
    put(
        app,
        &format!("/tickets/{t2}/approval"),
        &d.platform,
        json!({"check_result": false}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/tickets/{t2}/dispatch"),
        &d.vendor,
        json!({"installer_id": "W"}),
    )
    .await
    .expect(422);
    assert_eq!(
        get(app, &format!("/tickets/{t2}"), owner)
            .await
            .expect(200)
            .data()["status"],
        0
    );
    d.app.stop().await;
}

#[tokio::test]
async fn no_reply_on_any_list_carries_a_secret() {
    let d = demo().await;
    for token in [&d.platform, &d.vendor, &d.agent, &d.dealer, &d.members[0]] {
        for path in [
            "/users",
            "/vendors",
            "/devices",
            "/products",
            "/orders",
            "/tickets",
            "/tickets/summary",
            "/agents",
            "/commission",
            "/commission/summary",
            "/auth/me",
        ] {
            let r = call(&d.app, "GET", path, Some(token), None).await;
            assert!(matches!(r.status, 200 | 403), "{path}: {}", r.body);
        }
    }
    d.app.stop().await;
}

#[tokio::test]
async fn a_gateway_that_does_not_answer_is_a_503_and_the_order_stays_payable() {
    let d = demo_with(|c| {
        c.wechat_pay = WechatPaySection {
            base_url: "http://127.0.0.1:9".into(),
            mchid: Some(MCHID.into()),
            appid: Some(wechat::APPID.into()),
            merchant_serial: Some(MERCHANT_SERIAL.into()),
            merchant_key_file: Some(wechat::fixture("merchant_key.pem")),
            apiv3_key: Some(Secret(APIV3_KEY.into())),
            public_key_file: Some(wechat::fixture("platform_public.pem")),
            public_key_id: Some(PUBLIC_KEY_ID.into()),
            notify_url: Some("https://iot.example.com/iot/orders/notify/weixin".into()),
        };
    })
    .await;
    let app = &d.app;
    let buyer = &d.members[3];
    let pid = get(app, "/products", buyer).await.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let oid = ordered(app, buyer, &pid).await;
    post(
        app,
        &format!("/orders/{oid}/prepay/weixin"),
        buyer,
        json!({"openid": "oBuyer4"}),
    )
    .await
    .expect(503);
    let o = get(app, &format!("/orders/{oid}/payment"), buyer)
        .await
        .expect(200);
    assert_eq!(o.data()["state"], "obligation");
    assert_eq!(o.data()["bill_no"], "");
    d.app.stop().await;
}

/// Each range's total of live orders, as the unfiltered list gives it and as the lists of each
/// state add up (a filter makes the server count the rows).
async fn order_totals(d: &Demo, token: &str) -> (u64, u64) {
    let total = |path: String| async move {
        get(&d.app, &path, token).await.expect(200).body["total"]
            .as_u64()
            .expect("total")
    };
    let all = total("/orders?limit=1".into()).await;
    let mut counted = 0;
    for state in [
        "obligation",
        "paid",
        "delivered",
        "received",
        "return",
        "consent",
        "refund",
        "close",
        "done",
    ] {
        counted += total(format!("/orders?limit=1&state={state}")).await;
    }
    (all, counted)
}

/// The totals of unfiltered order lists are kept as orders are made and deleted (migration
/// 0016's triggers); in every range they agree with a count of the same rows.
#[tokio::test]
async fn order_totals_agree_with_a_count_in_every_range() {
    let d = demo().await;
    let app = &d.app;
    let pid = get(app, "/products", &d.members[3]).await.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let before = order_totals(&d, &d.vendor).await;
    assert_eq!(before.0, before.1);
    // Orders made together share commits; each is counted once.
    let made = futures_util::future::join_all(
        (0..6).map(|i| post(app, "/orders", &d.members[i % 4], order_body(&pid))),
    )
    .await;
    let mut oids = Vec::new();
    for r in made {
        oids.push(
            r.expect(201).data()["order_id"]
                .as_str()
                .expect("oid")
                .to_owned(),
        );
    }
    oids.sort();
    oids.dedup();
    assert_eq!(oids.len(), 6, "every order has its own id");
    let after = order_totals(&d, &d.vendor).await;
    assert_eq!(after, (before.0 + 6, before.0 + 6));
    delete(app, &format!("/orders/{}", oids[0]), &d.platform)
        .await
        .expect(204);
    let tokens = [&d.vendor, &d.agent, &d.dealer, &d.platform]
        .into_iter()
        .chain(&d.members);
    for token in tokens {
        let (all, counted) = order_totals(&d, token).await;
        assert_eq!(all, counted, "the kept total agrees with a count");
    }
    assert_eq!(order_totals(&d, &d.vendor).await.0, before.0 + 5);
}

/// What a read made of an order (the order parsed, its reply written) is reused only while the
/// order's version in the database is the one it was made from: an order changed here or by
/// another instance on the same database is shown as it now is, in its list and on its own.
#[tokio::test]
async fn an_order_changed_anywhere_is_shown_as_it_now_is() {
    let d = demo().await;
    let a = &d.app;
    let buyer = &d.members[3];
    let products = get(a, "/products", buyer).await.expect(200);
    let pid = products.data()[0]["prod_id"]
        .as_str()
        .expect("pid")
        .to_owned();
    let oid = ordered(a, buyer, &pid).await;
    let one = format!("/orders/{oid}");
    let newest = "/orders?limit=5&sort=create_tms&order=desc";
    let state_in = |list: &R| {
        list.data()
            .as_array()
            .expect("a list")
            .iter()
            .find(|o| o["order_id"] == oid.as_str())
            .map(|o| o["state"].clone())
    };
    let shown = |r: R| r.data().clone();
    // Read twice each way: the second read is made from what the first kept.
    let first = shown(get(a, &one, buyer).await.expect(200));
    assert_eq!(first["state"], "obligation");
    assert_eq!(shown(get(a, &one, buyer).await.expect(200)), first);
    for caller in [&d.vendor, buyer] {
        for _ in 0..2 {
            let list = get(a, newest, caller).await.expect(200);
            assert_eq!(state_in(&list), Some(json!("obligation")));
        }
    }

    // A second instance on the same database closes it.
    let mut config = (*a.state.config).clone();
    config.server.demo = false;
    let b = crate::common::start(config, tempfile::tempdir().expect("tempdir")).await;
    post(&b, &format!("/orders/{oid}/status/close"), buyer, json!({}))
        .await
        .expect(201);
    let closed = shown(get(a, &one, buyer).await.expect(200));
    assert_eq!(closed["state"], "close", "{closed}");
    assert_ne!(closed["complete_tms"], "");
    assert_eq!(closed, shown(get(&b, &one, buyer).await.expect(200)));
    for caller in [&d.vendor, buyer] {
        let list = get(a, newest, caller).await.expect(200);
        assert_eq!(state_in(&list), Some(json!("close")));
    }

    // This instance deletes it: gone from the lists and from its own path, on both.
    delete(a, &one, &d.platform).await.expect(204);
    for app in [a, &b] {
        get(app, &one, &d.platform).await.expect(410);
        let list = get(app, newest, &d.vendor).await.expect(200);
        assert_eq!(state_in(&list), None);
    }
    b.stop().await;
}
