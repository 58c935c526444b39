//! Sections 5.2-5.4 and 7: paying bills (with the dev payment simulator), status, history,
//! statistics; and the journal behind them.

use serde_json::{Value, json};

use crate::common::{TestApp, join_all, spawn_with};

const BILL: &str = "B1734502968024";

async fn bound_user(app: &TestApp, phone: &str) -> String {
    let token = app.user_token(phone).await;
    let r = app
        .post_auth(
            "/heating/api/heat/bind",
            &token,
            json!({"heat_account": "H202400001", "real_name": "张三", "id_card": "610102199001011234", "address": "天山区xx小区xx号楼xx单元xx室"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    token
}

async fn create(app: &TestApp, token: &str, bills: Value, amount: Value) -> crate::common::Reply {
    app.post_auth(
        "/heating/api/payment/create",
        token,
        json!({"bill_ids": bills, "amount": amount}),
    )
    .await
}

async fn ledger_ok(app: &TestApp) {
    let report = app.state.journal.check().await.expect("ledger check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test]
async fn the_whole_journey_bind_pay_status_history_statistics() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let token = bound_user(&app, "13200000001").await;

    let r = create(&app, &token, json!([BILL]), json!(1250.50)).await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "订单创建成功");
    let d = r.data().clone();
    let order_id = d["order_id"].as_str().expect("order_id").to_owned();
    assert!(
        order_id.starts_with('O') && order_id.len() >= 14,
        "{order_id}"
    );
    assert_eq!(d["amount"].as_f64(), Some(1250.50));
    let p = &d["wechat_pay_params"];
    for key in [
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    ] {
        assert!(p[key].as_str().is_some_and(|v| !v.is_empty()), "{key}: {p}");
    }
    assert!(
        p["package"]
            .as_str()
            .expect("package")
            .starts_with("prepay_id=")
    );
    assert_eq!(p["signType"], "RSA");
    assert!(d["created_at"].is_string());

    // Asking again while it is pending gives the same order.
    let again = create(&app, &token, json!([BILL]), json!("1250.50")).await;
    assert_eq!(again.data()["order_id"], order_id.as_str());

    let status = app
        .get(
            &format!("/heating/api/payment/status/{order_id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status.code(), 200);
    assert_eq!(status.body["message"], "查询成功");
    assert_eq!(status.data()["status"], "pending");
    assert!(status.data()["paid_at"].is_null());
    assert_eq!(status.data()["payment_method"], "wechat");

    // The payer pays (dev simulator); repeating the confirmation changes nothing.
    let paid = app
        .post(
            &format!("/admin/v1/heating/orders/{order_id}/simulate-payment"),
            json!({}),
        )
        .await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(paid.body["recorded"], true);
    let again = app
        .post(
            &format!("/admin/v1/heating/orders/{order_id}/simulate-payment"),
            json!({}),
        )
        .await;
    assert_eq!(again.body["recorded"], false);

    let status = app
        .get(
            &format!("/heating/api/payment/status/{order_id}"),
            Some(&token),
        )
        .await;
    assert_eq!(status.data()["status"], "paid");
    assert_eq!(status.data()["amount"].as_f64(), Some(1250.50));
    assert!(status.data()["paid_at"].is_string());

    let info = app.get("/heating/api/payment/info", Some(&token)).await;
    assert_eq!(info.data()["unpaid_bills"], json!([]));
    assert_eq!(info.data()["total_unpaid"].as_f64(), Some(0.0));
    let account = app.get("/heating/api/heat/account", Some(&token)).await;
    assert_eq!(account.data()["paid_fee"].as_f64(), Some(2500.00));
    assert_eq!(account.data()["unpaid_fee"].as_f64(), Some(0.0));
    assert_eq!(account.data()["current_balance"].as_f64(), Some(0.0));
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .data()["balance"]
            .as_f64(),
        Some(0.0)
    );

    let history = app.get("/heating/api/payment/history", Some(&token)).await;
    assert_eq!(history.code(), 200, "{:?}", history.body);
    assert_eq!(history.data()["total"], 4);
    assert_eq!(history.data()["page"], 1);
    assert_eq!(history.data()["size"], 20);
    let newest = &history.data()["records"][0];
    assert_eq!(newest["order_id"], order_id.as_str());
    assert_eq!(newest["bill_id"], BILL);
    assert_eq!(newest["amount"].as_f64(), Some(1250.50));
    assert_eq!(newest["heating_season"], "2024-2025");
    assert_eq!(newest["payment_method"], "wechat");
    assert_eq!(newest["status"], "paid");
    assert_eq!(newest["receipt_url"], "");
    assert_eq!(history.data()["records"][3]["payment_method"], "offline");

    let stats = app.get("/heating/api/statistics/user", Some(&token)).await;
    assert_eq!(stats.code(), 200, "{:?}", stats.body);
    let s = stats.data();
    assert_eq!(s["total_heating_seasons"], 3);
    assert_eq!(s["total_paid_amount"].as_f64(), Some(6531.00));
    assert_eq!(s["current_season_paid"].as_f64(), Some(2500.00));
    // (2015.50 + 2015.50 + 2500.00) / (3 seasons x 5 months)
    assert_eq!(s["average_monthly_consumption"].as_f64(), Some(435.40));
    // Paid on time: 2022-11-20 and 2024-11-10 of four.
    assert_eq!(s["on_time_payment_rate"].as_f64(), Some(0.5));
    ledger_ok(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn create_refuses_anything_but_exactly_what_is_owed() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let stranger = app.user_token("13200000002").await;
    assert_eq!(
        create(&app, &stranger, json!([BILL]), json!(1250.50))
            .await
            .code(),
        404
    );
    let token = bound_user(&app, "13200000003").await;
    for (bills, amount) in [
        (json!([BILL]), json!(1250.49)),
        (json!([BILL]), json!(1250.501)),
        (json!([BILL]), json!("abc")),
        (json!(["B0000000000000"]), json!(1250.50)),
        (json!(["B1734502968101"]), json!(1764.00)),
        (json!(["B1728957600000"]), json!(1249.50)),
        (json!([BILL, BILL]), json!(2501.00)),
        (json!([]), json!(0)),
    ] {
        let r = create(&app, &token, bills.clone(), amount.clone()).await;
        assert_eq!(r.code(), 400, "{bills} {amount}: {:?}", r.body);
        assert_eq!(r.body["message"], "账单信息不正确");
    }
    let r = app
        .post_auth(
            "/heating/api/payment/create",
            &token,
            json!({"amount": 1250.5}),
        )
        .await;
    assert_eq!(r.code(), 400);
    // Nothing was held by the refusals.
    assert_eq!(
        create(&app, &token, json!([BILL]), json!(1250.50))
            .await
            .code(),
        200
    );
    ledger_ok(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn orders_belong_to_their_user() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let token = bound_user(&app, "13200000004").await;
    let order_id = create(&app, &token, json!([BILL]), json!(1250.50))
        .await
        .data()["order_id"]
        .clone();
    let other = app.user_token("13200000005").await;
    let r = app
        .get(
            &format!(
                "/heating/api/payment/status/{}",
                order_id.as_str().expect("id")
            ),
            Some(&other),
        )
        .await;
    assert_eq!(r.code(), 404);
    assert_eq!(r.body["message"], "订单不存在");
    assert_eq!(
        app.get("/heating/api/payment/status/O0000", Some(&token))
            .await
            .code(),
        404
    );
    assert_eq!(
        app.get("/heating/api/payment/status/O0000", None)
            .await
            .code(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unpaid_order_expires_and_frees_its_bills() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.heating.order_ttl_seconds = 600;
    })
    .await;
    let token = bound_user(&app, "13200000006").await;
    let first = create(&app, &token, json!([BILL]), json!(1250.50))
        .await
        .data()["order_id"]
        .clone();
    let first = first.as_str().expect("id").to_owned();
    app.advance(601).await;
    let status = app
        .get(
            &format!("/heating/api/payment/status/{first}"),
            Some(&token),
        )
        .await;
    assert_eq!(status.data()["status"], "canceled", "{:?}", status.body);
    let second = create(&app, &token, json!([BILL]), json!(1250.50)).await;
    assert_eq!(second.code(), 200);
    assert_ne!(second.data()["order_id"], first.as_str());
    // A late confirmation of the canceled order is still money received: recorded, once.
    let r = app
        .post(
            &format!("/admin/v1/heating/orders/{first}/simulate-payment"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["recorded"], true);
    ledger_ok(&app).await;
    // If the second order is paid too, the bill has been paid twice: the check says refund.
    let second = second.data()["order_id"].as_str().expect("id").to_owned();
    let r = app
        .post(
            &format!("/admin/v1/heating/orders/{second}/simulate-payment"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["recorded"], true);
    let report = app.state.journal.check().await.expect("check");
    assert!(
        report.problems.iter().any(|p| p.contains("refund needed")),
        "{:?}",
        report.problems
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_creates_and_confirmations_happen_once() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let token = bound_user(&app, "13200000007").await;
    let replies =
        join_all((0..6).map(|_| create(&app, &token, json!([BILL]), json!(1250.50)))).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .filter(|r| r.code() == 200)
        .map(|r| r.data()["order_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{replies:?}");
    let order_id = ids.into_iter().next().expect("one order");
    let path = format!("/admin/v1/heating/orders/{order_id}/simulate-payment");
    let confirmations = join_all((0..20).map(|_| app.post(&path, json!({})))).await;
    let recorded = confirmations
        .iter()
        .filter(|r| r.body["recorded"] == true)
        .count();
    assert_eq!(recorded, 1, "{confirmations:?}");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // 3 imported paid bills of the demo + this order.
    assert_eq!(
        report.entries,
        crate::common::DEMO_ENTRIES + 1,
        "the demo's entries and this one"
    );
    app.stop().await;
}

#[tokio::test]
async fn history_filters_and_pages() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let token = bound_user(&app, "13200000008").await;
    let get = |q: &'static str| {
        app.get(
            Box::leak(format!("/heating/api/payment/history{q}").into_boxed_str()),
            Some(&token),
        )
    };
    let r = get("?start_date=2023-01-01&end_date=2024-12-31").await;
    assert_eq!(r.data()["total"], 2, "{:?}", r.body);
    let r = get("?start_date=2022-11-20&end_date=2022-11-20").await;
    assert_eq!(r.data()["total"], 1);
    assert_eq!(r.data()["records"][0]["bill_id"], "B1666000000001");
    let r = get("?page=2&size=2").await;
    assert_eq!(r.data()["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.data()["total"], 3);
    for bad in [
        "?page=0",
        "?size=1000",
        "?page=x",
        "?start_date=2024-13-01",
        "?start_date=2024-12-01&end_date=2024-01-01",
    ] {
        let r = get(bad).await;
        assert_eq!(r.code(), 400, "{bad}: {:?}", r.body);
    }
    let stranger = app.user_token("13200000009").await;
    assert_eq!(
        app.get("/heating/api/payment/history", Some(&stranger))
            .await
            .code(),
        404
    );
    assert_eq!(
        app.get("/heating/api/statistics/user", Some(&stranger))
            .await
            .code(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_gateway_payment_is_refused_and_nothing_is_held() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.dev.enabled = false;
        c.dev.sim_clock = None;
    })
    .await;
    // No SMS either: a user set up directly.
    let phone = utilhall::domain::identity::Phone::parse("13200000010").expect("phone");
    let password =
        utilhall::domain::identity::Password::parse_new("secret123", "p", 6, 20).expect("pw");
    app.state
        .heating
        .users
        .ensure(&phone, &password, "x")
        .await
        .expect("user");
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "13200000010", "password": "secret123"}),
        )
        .await;
    let token = r.data()["token"].as_str().expect("token").to_owned();
    app.post_auth(
        "/heating/api/heat/bind",
        &token,
        json!({"heat_account": "H202400001", "real_name": "张三", "id_card": "610102199001011234", "address": "x"}),
    )
    .await;
    let r = create(&app, &token, json!([BILL]), json!(1250.50)).await;
    assert_eq!(r.code(), 503, "{:?}", r.body);
    // The simulator exists only under --dev.
    let r = app
        .post("/admin/v1/heating/orders/O1/simulate-payment", json!({}))
        .await;
    assert_eq!(r.status, 409);
    ledger_ok(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn the_ledger_check_finds_a_bill_paid_behind_its_back() {
    let app = spawn_with(|c| c.server.demo = true).await;
    ledger_ok(&app).await;
    sqlx::query("UPDATE heating_bills SET status = 'paid', paid_at = 1 WHERE bill_id = $1")
        .bind(BILL)
        .execute(app.state.store.pool())
        .await
        .expect("tamper");
    let report = app.state.journal.check().await.expect("check");
    assert!(
        report.problems.iter().any(|p| p.contains(BILL)),
        "{:?}",
        report.problems
    );
    app.stop().await;
}
