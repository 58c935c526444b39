//! WeChat Pay API v3 end to end against an in-process fake: signed requests, verified replies,
//! signed and encrypted notifications, reconciliation by query, expiry by close.

use serde_json::{Value, json};
use utilhall::config::{Secret, WechatPaySection};

use crate::common::wechat::{
    self, APIV3_KEY, APPID, FakeWechat, MCHID, MERCHANT_SERIAL, Notice, NoticeSpec, PUBLIC_KEY_ID,
};
use crate::common::{Reply, TestApp, join_all, spawn_with};

const BILL: &str = "B1734502968024";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

async fn setup() -> (TestApp, FakeWechat, String) {
    let fake = FakeWechat::start().await;
    let base = fake.base.clone();
    let app = spawn_with(move |c| {
        c.server.demo = true;
        c.wechat_pay = WechatPaySection {
            base_url: base,
            mchid: Some(MCHID.into()),
            appid: Some(APPID.into()),
            merchant_serial: Some(MERCHANT_SERIAL.into()),
            merchant_key_file: Some(wechat::fixture("merchant_key.pem")),
            apiv3_key: Some(Secret(APIV3_KEY.into())),
            public_key_file: Some(wechat::fixture("platform_public.pem")),
            public_key_id: Some(PUBLIC_KEY_ID.into()),
            notify_url: Some("https://heating.example.com/heating/api/payment/notify".into()),
        };
    })
    .await;
    // A mini-program user: registered, logged in with its openid, account bound.
    let phone = "13100000001";
    app.register(phone, "secret123").await;
    let code = app.sms_code(phone, "login").await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "code": code, "openid": OPENID}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let token = r.data()["token"].as_str().expect("token").to_owned();
    let r = app
        .post_auth(
            "/heating/api/heat/bind",
            &token,
            json!({"heat_account": "H202400001", "real_name": "张三", "id_card": "610102199001011234", "address": "天山区xx小区xx号楼xx单元xx室"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    (app, fake, token)
}

async fn create_order(app: &TestApp, token: &str) -> Value {
    let r = app
        .post_auth(
            "/heating/api/payment/create",
            token,
            json!({"bill_ids": [BILL], "amount": 1250.50}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    r.data().clone()
}

fn genuine(app: &TestApp, fake: &FakeWechat, order_id: &str, total: i64) -> Notice {
    let mut trade = fake.pay(order_id, &format!("4200000{order_id}"));
    trade.total = total;
    wechat::notice(NoticeSpec {
        transaction: wechat::transaction_json(order_id, &trade),
        timestamp: app.state.now().secs(),
        signing_key: "platform_key.pem",
        serial: PUBLIC_KEY_ID,
        apiv3_key: APIV3_KEY,
    })
}

async fn deliver(app: &TestApp, notice: &Notice) -> (u16, Option<Value>) {
    let mut req = app
        .client
        .post(format!("{}/heating/api/payment/notify", app.base))
        .body(notice.body.clone());
    for (k, v) in &notice.headers {
        req = req.header(*k, v);
    }
    req = req.header("content-type", "application/json");
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (status, serde_json::from_str(&text).ok())
}

async fn status(app: &TestApp, token: &str, order_id: &str) -> Reply {
    app.get(
        &format!("/heating/api/payment/status/{order_id}"),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn prepay_is_signed_and_the_params_verify() {
    let (app, fake, token) = setup().await;
    let d = create_order(&app, &token).await;
    let order_id = d["order_id"].as_str().expect("id");
    let trade = fake
        .trades
        .lock()
        .expect("lock")
        .get(order_id)
        .cloned()
        .expect("trade at WeChat");
    assert_eq!(trade.total, 125_050);
    assert_eq!(trade.openid, OPENID);
    assert_eq!(
        trade.notify_url,
        "https://heating.example.com/heating/api/payment/notify"
    );
    assert_eq!(*fake.bad_signatures.lock().expect("lock"), 0);
    let p = &d["wechat_pay_params"];
    assert_eq!(p["appId"], APPID);
    assert_eq!(p["package"], format!("prepay_id=wx_fake_{order_id}"));
    assert_eq!(p["signType"], "RSA");
    // paySign is SHA256withRSA over appId\ntimeStamp\nnonceStr\npackage\n with the merchant key.
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        p["appId"].as_str().expect("s"),
        p["timeStamp"].as_str().expect("s"),
        p["nonceStr"].as_str().expect("s"),
        p["package"].as_str().expect("s")
    );
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        p["paySign"].as_str().expect("s"),
    )
    .expect("b64");
    wechat::public_key("merchant_public.pem")
        .verify(message.as_bytes(), &sig)
        .expect("paySign verifies");
    app.stop().await;
}

#[tokio::test]
async fn a_genuine_notification_pays_once_and_the_journey_completes() {
    let (app, fake, token) = setup().await;
    let order_id = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let notice = genuine(&app, &fake, &order_id, 125_050);
    let (code, body) = deliver(&app, &notice).await;
    assert_eq!(code, 204, "{body:?}");
    // WeChat repeats it: still 204, nothing more happens.
    assert_eq!(deliver(&app, &notice).await.0, 204);
    let s = status(&app, &token, &order_id).await;
    assert_eq!(s.data()["status"], "paid");
    assert!(s.data()["paid_at"].is_string());
    let history = app.get("/heating/api/payment/history", Some(&token)).await;
    assert_eq!(history.data()["records"][0]["order_id"], order_id.as_str());
    let stats = app.get("/heating/api/statistics/user", Some(&token)).await;
    assert_eq!(stats.data()["current_season_paid"].as_f64(), Some(2500.0));
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        report.entries,
        crate::common::DEMO_ENTRIES + 1,
        "the demo's entries and this one"
    );
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_copies_are_recorded_once() {
    let (app, fake, token) = setup().await;
    let order_id = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let notice = genuine(&app, &fake, &order_id, 125_050);
    let results = join_all((0..50).map(|_| deliver(&app, &notice))).await;
    assert!(results.iter().all(|(code, _)| *code == 204), "{results:?}");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        report.entries,
        crate::common::DEMO_ENTRIES + 1,
        "the demo's entries and this one"
    );
    assert_eq!(
        status(&app, &token, &order_id).await.data()["status"],
        "paid"
    );
    app.stop().await;
}

#[tokio::test]
async fn forged_stale_tampered_and_mismatched_notifications_change_nothing() {
    let (app, fake, token) = setup().await;
    let order_id = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut trade = fake.pay(&order_id, "4200000000001");
    let now = app.state.now().secs();
    let spec = |transaction: Value,
                timestamp: i64,
                signing_key: &'static str,
                serial: &'static str,
                key: &'static str| {
        wechat::notice(NoticeSpec {
            transaction,
            timestamp,
            signing_key,
            serial,
            apiv3_key: key,
        })
    };
    let tx = wechat::transaction_json(&order_id, &trade);
    let cases: Vec<(&str, Notice, u16)> = vec![
        (
            "signed with the wrong key",
            spec(
                tx.clone(),
                now,
                "merchant_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            401,
        ),
        (
            "unknown serial",
            spec(
                tx.clone(),
                now,
                "platform_key.pem",
                "PUB_KEY_ID_OTHER",
                APIV3_KEY,
            ),
            401,
        ),
        (
            "stale",
            spec(
                tx.clone(),
                now - 300,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            401,
        ),
        (
            "from the future",
            spec(
                tx.clone(),
                now + 301,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            401,
        ),
        (
            "encrypted with another key",
            spec(
                tx.clone(),
                now,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                "ffffffffffffffffffffffffffffffff",
            ),
            401,
        ),
        (
            "another merchant",
            spec(
                {
                    let mut t = tx.clone();
                    t["mchid"] = json!("1999999999");
                    t
                },
                now,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            401,
        ),
        (
            "another app",
            spec(
                {
                    let mut t = tx.clone();
                    t["appid"] = json!("wx0000000000000000");
                    t
                },
                now,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            401,
        ),
        (
            "unknown order",
            spec(
                {
                    let mut t = tx.clone();
                    t["out_trade_no"] = json!("O0000000000000000");
                    t
                },
                now,
                "platform_key.pem",
                PUBLIC_KEY_ID,
                APIV3_KEY,
            ),
            404,
        ),
    ];
    for (what, notice, expected) in &cases {
        let (code, body) = deliver(&app, notice).await;
        assert_eq!(code, *expected, "{what}: {body:?}");
        let body = body.expect("a JSON body");
        assert_eq!(body["code"], "FAIL", "{what}");
        assert!(body["message"].is_string(), "{what}");
    }
    // Tampered after signing.
    let mut tampered = spec(
        tx.clone(),
        now,
        "platform_key.pem",
        PUBLIC_KEY_ID,
        APIV3_KEY,
    );
    tampered.body = tampered
        .body
        .replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESZ");
    assert_eq!(deliver(&app, &tampered).await.0, 401);
    // Genuine but for another amount: refused.
    trade.total = 1;
    let cheap = spec(
        wechat::transaction_json(&order_id, &trade),
        now,
        "platform_key.pem",
        PUBLIC_KEY_ID,
        APIV3_KEY,
    );
    assert_eq!(deliver(&app, &cheap).await.0, 400);
    // Missing headers, garbage body.
    let resp = app
        .client
        .post(format!("{}/heating/api/payment/notify", app.base))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);

    assert_eq!(
        status(&app, &token, &order_id).await.data()["status"],
        "pending"
    );
    let report = app.state.journal.check().await.expect("check");
    assert_eq!(
        report.entries,
        crate::common::DEMO_ENTRIES,
        "only the demo's entries"
    );
    // The mismatched payment may have been charged: the check says so, and nothing else.
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("was not applied"),
        "{:?}",
        report.problems
    );
    app.stop().await;
}

#[tokio::test]
async fn status_asks_wechat_and_expired_orders_are_closed() {
    let (app, fake, token) = setup().await;
    let order_id = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Paid at WeChat, but the notification is lost: the status query finds it.
    fake.pay(&order_id, "4200000000002");
    assert_eq!(
        status(&app, &token, &order_id).await.data()["status"],
        "pending",
        "too early to ask"
    );
    app.advance(31).await;
    let s = status(&app, &token, &order_id).await;
    assert_eq!(s.data()["status"], "paid", "{:?}", s.body);
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Another bill, another order, never paid: closed at WeChat after it expires.
    let admin = app.admin_token().await;
    let r = app
        .post_auth(
            "/admin/v1/heating/bills",
            &admin,
            json!({"bill_id": "B700000000001", "heat_account": "H202400001", "heating_season": "2025-2026", "amount": "100.00", "bill_date": "2025-10-15", "due_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post_auth(
            "/heating/api/payment/create",
            &token,
            json!({"bill_ids": ["B700000000001"], "amount": 100}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let second = r.data()["order_id"].as_str().expect("id").to_owned();
    app.advance(1801).await;
    let token = app.login("13100000001").await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let s = status(&app, &token, &second).await;
    assert_eq!(s.data()["status"], "canceled", "{:?}", s.body);
    assert!(fake.closed.lock().expect("lock").contains(&second));
    assert_eq!(*fake.bad_signatures.lock().expect("lock"), 0);
    app.stop().await;
}

#[tokio::test]
async fn jsapi_needs_an_openid() {
    let (app, _fake, _token) = setup().await;
    let phone = "13100000002";
    let token = app.user_token(phone).await;
    app.admin_token().await;
    let r = app
        .post_auth(
            "/heating/api/heat/bind",
            &token,
            json!({"heat_account": "H202400002", "real_name": "李四", "id_card": "650102198505054326", "address": "x"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let r = app
        .post_auth(
            "/heating/api/payment/create",
            &token,
            json!({"bill_ids": ["B1734502968101"], "amount": 1764}),
        )
        .await;
    assert_eq!(r.code(), 400, "{:?}", r.body);
    assert!(r.body["message"].as_str().expect("m").contains("openid"));
    let r = app
        .post_auth(
            "/heating/api/payment/create",
            &token,
            json!({"bill_ids": ["B1734502968101"], "amount": 1764, "openid": "oOther_openid_123"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_creates_share_one_order_at_wechat() {
    let (app, fake, token) = setup().await;
    let replies = join_all((0..6).map(|_| {
        app.post_auth(
            "/heating/api/payment/create",
            &token,
            json!({"bill_ids": [BILL], "amount": 1250.50}),
        )
    }))
    .await;
    assert!(replies.iter().all(|r| r.code() == 200), "{replies:?}");
    let ids: std::collections::BTreeSet<&str> = replies
        .iter()
        .map(|r| r.data()["order_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        fake.trades.lock().expect("lock").len(),
        1,
        "one prepay at WeChat"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failed_order_is_closed_at_wechat_before_another_is_made() {
    let (app, fake, token) = setup().await;
    let first = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    fake.trades
        .lock()
        .expect("lock")
        .get_mut(&first)
        .expect("trade")
        .state = "PAYERROR".into();
    app.advance(31).await;
    assert_eq!(
        status(&app, &token, &first).await.data()["status"],
        "failed"
    );
    assert!(
        fake.closed.lock().expect("lock").contains(&first),
        "closed at WeChat"
    );
    let second = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_ne!(second, first);
    app.stop().await;
}

#[tokio::test]
async fn a_late_payment_settles_the_bill_and_closes_the_newer_order() {
    let (app, fake, token) = setup().await;
    let first = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.advance(1801).await;
    let token = app.login("13100000001").await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        status(&app, &token, &first).await.data()["status"],
        "canceled"
    );
    let second = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The payer had paid the first order after all (WeChat reports it).
    let notice = genuine(&app, &fake, &first, 125_050);
    assert_eq!(deliver(&app, &notice).await.0, 204);
    assert_eq!(status(&app, &token, &first).await.data()["status"], "paid");
    assert_eq!(
        status(&app, &token, &second).await.data()["status"],
        "canceled"
    );
    assert!(
        fake.closed.lock().expect("lock").contains(&second),
        "the newer order is closed at WeChat"
    );
    let info = app.get("/heating/api/payment/info", Some(&token)).await;
    assert_eq!(info.data()["unpaid_bills"], json!([]));
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

#[tokio::test]
async fn the_background_reconciler_finds_lost_notifications_and_closes_abandoned_orders() {
    let (app, fake, token) = setup().await;
    let order_id = create_order(&app, &token).await["order_id"]
        .as_str()
        .expect("id")
        .to_owned();
    fake.pay(&order_id, "4200000000009");
    assert_eq!(
        app.state
            .heating
            .orders
            .reconcile_pending()
            .await
            .expect("reconcile"),
        0,
        "too early"
    );
    app.advance(31).await;
    assert_eq!(
        app.state
            .heating
            .orders
            .reconcile_pending()
            .await
            .expect("reconcile"),
        1
    );
    let (order, _) = app
        .state
        .heating
        .orders
        .with_bills(&order_id)
        .await
        .expect("order");
    assert_eq!(order.status.as_str(), "paid");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}
