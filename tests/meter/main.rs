//! The meter surface (seed 003) as a third-party recharge platform drives it.

#[path = "../common/mod.rs"]
mod common;
mod crash;

use serde_json::Value;

use common::{TestApp, spawn_with};

async fn demo() -> TestApp {
    spawn_with(|c| c.server.demo = true).await
}

/// POSTs a form to `base` + `path`; the reply's JSON.
async fn call(app: &TestApp, base: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let resp = app
        .client
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "the document knows only HTTP 200"
    );
    resp.json().await.expect("json")
}

async fn meter(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Value {
    call(app, &format!("{}/meter", app.base), path, form).await
}

async fn token(app: &TestApp) -> String {
    let r = meter(
        app,
        "/user/login",
        &[("admin_user_name", "khcs"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(r["code"], 200, "{r}");
    r["data"].as_str().expect("token").to_owned()
}

/// `data` is a JSON string holding JSON.
fn data(reply: &Value) -> Value {
    assert_eq!(reply["code"], 200, "{reply}");
    serde_json::from_str(reply["data"].as_str().expect("data is a string"))
        .expect("data holds JSON")
}

#[tokio::test]
async fn login_answers_with_a_random_token() {
    let app = demo().await;
    let r = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "khcs"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(r["code"], 200);
    assert_eq!(r["msg"], "登录成功");
    let token = r["data"].as_str().expect("token");
    assert!(token.len() >= 40);
    assert!(
        !token.starts_with("eyJhZG1pbl91c2VyX25hbWUi"),
        "never base64 of the account and password"
    );
    assert_ne!(token, token_of_second_login(&app).await);
    // JSON bodies work too.
    let resp: Value = app
        .client
        .post(format!("{}/meter/user/login", app.base))
        .json(&serde_json::json!({"admin_user_name": "khcs", "api_password": "123456"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(resp["code"], 200);
    app.stop().await;
}

async fn token_of_second_login(app: &TestApp) -> String {
    token(app).await
}

#[tokio::test]
async fn login_errors_follow_section_five() {
    let app = demo().await;
    let r = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "khcs"), ("api_password", "wrong")],
    )
    .await;
    assert_eq!(r["code"], 1005, "{r}");
    assert!(r.get("data").is_none());
    let r = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "nobody"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(r["code"], 1002);
    let r = meter(&app, "/user/login", &[("admin_user_name", "khcs")]).await;
    assert_eq!(r["code"], 1008);
    assert!(
        r["msg"].as_str().expect("msg").contains("api_password"),
        "{r}"
    );
    let r = meter(&app, "/user/nothing", &[]).await;
    assert_eq!(r["code"], 1001);
    app.stop().await;
}

#[tokio::test]
async fn buildings_households_and_addresses() {
    let app = demo().await;
    let t = token(&app).await;
    let auth = [("token", t.as_str()), ("admin_user_name", "khcs")];

    let r = meter(&app, "/user/getBuildCode", &auth).await;
    let buildings = data(&r);
    assert_eq!(buildings.as_array().map(Vec::len), Some(5), "{buildings}");
    assert!(
        buildings
            .as_array()
            .expect("array")
            .iter()
            .any(|b| b["name"] == "一栋电" && b["build_code"] == "gzfh-1-d")
    );

    let r = meter(&app, "/user/getUserCodeByAccount", &auth).await;
    let households = data(&r);
    assert_eq!(households[0]["user_code"], "2022040001");
    assert_eq!(households[0]["user_name"], "101");
    assert_eq!(households[0]["house_number"], "101");
    assert_eq!(households[1]["user_code"], "2022040002");
    assert!(
        households[1].get("house_number").is_none(),
        "as in the document's second example"
    );
    let mut filtered = auth.to_vec();
    filtered.push(("build_code", "gzfh-2-d"));
    assert_eq!(
        data(&meter(&app, "/user/getUserCodeByAccount", &filtered).await),
        serde_json::json!([])
    );

    let addresses = data(&meter(&app, "/user/getAddress", &auth).await);
    assert_eq!(addresses.as_array().map(Vec::len), Some(3));
    assert_eq!(addresses[0]["build_code"], "gzfh-1-d");
    let mut at = auth.to_vec();
    at.push(("address", "一栋一层"));
    let rooms = data(&meter(&app, "/user/addressUserInfo", &at).await);
    assert_eq!(rooms.as_array().map(Vec::len), Some(2));
    let r = meter(&app, "/user/addressUserInfo", &auth).await;
    assert_eq!(r["code"], 1008, "{r}");
    app.stop().await;
}

#[tokio::test]
async fn user_info_shows_the_meter_and_balance() {
    let app = demo().await;
    let t = token(&app).await;
    let r = meter(
        &app,
        "/user/GetUserInfo",
        &[
            ("token", &t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
        ],
    )
    .await;
    assert_eq!(r["msg"], "获取成功");
    let info = data(&r);
    assert_eq!(info["tableNo"], "202364555511");
    assert_eq!(info["reading"], "3.00");
    assert_eq!(info["readTime"], "2022-04-20 21:00:04");
    assert_eq!(info["balance"], "130.00");
    assert_eq!(info["tableType"], "3");
    let r = meter(
        &app,
        "/user/GetUserInfo",
        &[
            ("token", &t),
            ("admin_user_name", "khcs"),
            ("user_code", "1999"),
        ],
    )
    .await;
    assert_eq!(r["code"], 1001);
    let r = meter(
        &app,
        "/user/GetUserInfo",
        &[("token", &t), ("admin_user_name", "khcs")],
    )
    .await;
    assert_eq!(r["code"], 1008);
    app.stop().await;
}

#[tokio::test]
async fn token_errors_follow_section_five() {
    let app = demo().await;
    // A second account with a household of its own.
    app.state
        .meter
        .ensure_account("other", "654321")
        .await
        .expect("account");
    let t = token(&app).await;
    let r = meter(&app, "/user/getBuildCode", &[("admin_user_name", "khcs")]).await;
    assert_eq!(r["code"], 1008);
    assert!(r["msg"].as_str().expect("msg").contains("token"));
    let r = meter(
        &app,
        "/user/getBuildCode",
        &[("token", "nope"), ("admin_user_name", "khcs")],
    )
    .await;
    assert_eq!(r["code"], 1006);
    let r = meter(
        &app,
        "/user/getBuildCode",
        &[("token", &t), ("admin_user_name", "other")],
    )
    .await;
    assert_eq!(r["code"], 1009);
    let other = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "other"), ("api_password", "654321")],
    )
    .await;
    let other = other["data"].as_str().expect("token").to_owned();
    let r = meter(
        &app,
        "/user/GetUserInfo",
        &[
            ("token", &other),
            ("admin_user_name", "other"),
            ("user_code", "2022040001"),
        ],
    )
    .await;
    // Another account's household is answered exactly as one that does not exist.
    let missing = meter(
        &app,
        "/user/GetUserInfo",
        &[
            ("token", &other),
            ("admin_user_name", "other"),
            ("user_code", "2099999999"),
        ],
    )
    .await;
    assert_eq!(r["code"], 1001, "another account's household: {r}");
    assert_eq!(r, missing);
    let recharge = meter(
        &app,
        "/user/Prestore",
        &[
            ("token", &other),
            ("admin_user_name", "other"),
            ("user_code", "2022040001"),
            ("total_fee", "1.00"),
            ("out_trade_no", "OTHER-1"),
        ],
    )
    .await;
    assert_eq!(recharge["code"], 1001, "{recharge}");
    assert_eq!(recharge["msg"], missing["msg"]);
    app.advance(7200).await;
    let r = meter(
        &app,
        "/user/getBuildCode",
        &[("token", &t), ("admin_user_name", "khcs")],
    )
    .await;
    assert_eq!(r["code"], 1007);
    app.stop().await;
}

#[tokio::test]
async fn one_call_per_interface_every_two_seconds() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.meter.rate_limit_window_seconds = 2.0;
    })
    .await;
    let t = token(&app).await;
    let auth = [("token", t.as_str()), ("admin_user_name", "khcs")];
    assert_eq!(meter(&app, "/user/getBuildCode", &auth).await["code"], 200);
    let r = meter(&app, "/user/getBuildCode", &auth).await;
    assert_eq!(r["code"], 1001);
    assert!(r["msg"].as_str().expect("msg").contains("2秒"), "{r}");
    // Another interface is not affected.
    assert_eq!(meter(&app, "/user/getAddress", &auth).await["code"], 200);
    app.advance(2).await;
    assert_eq!(meter(&app, "/user/getBuildCode", &auth).await["code"], 200);
    // A refused call (here 1008) does not use up the slot of its corrected retry.
    assert_eq!(meter(&app, "/user/GetUserInfo", &auth).await["code"], 1008);
    let mut with_user = auth.to_vec();
    with_user.push(("user_code", "2022040001"));
    assert_eq!(
        meter(&app, "/user/GetUserInfo", &with_user).await["code"],
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_account_loses_its_api_rights() {
    let app = demo().await;
    let t = token(&app).await;
    let admin = app.admin_token().await;
    let auth = [("token", t.as_str()), ("admin_user_name", "khcs")];
    let off = app
        .client
        .post(format!("{}/admin/v1/meter/accounts/khcs/disable", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(off.status(), 204);
    assert_eq!(meter(&app, "/user/getBuildCode", &auth).await["code"], 1002);
    let login = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "khcs"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(login["code"], 1002);
    let on = app
        .client
        .post(format!("{}/admin/v1/meter/accounts/khcs/enable", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(on.status(), 204);
    assert_eq!(meter(&app, "/user/getBuildCode", &auth).await["code"], 200);
    app.stop().await;
}

#[tokio::test]
async fn the_documents_urls_work_on_the_surfaces_own_listener() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.surface_bind.insert("meter".into(), "127.0.0.1:0".into());
    })
    .await;
    let (_, addr) = app
        .extra
        .iter()
        .find(|(n, _)| n == "meter")
        .expect("meter listener");
    let base = format!("http://{addr}");
    let r = call(
        &app,
        &base,
        "/user/login",
        &[("admin_user_name", "khcs"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(r["code"], 200);
    let t = r["data"].as_str().expect("token").to_owned();
    let r = call(
        &app,
        &base,
        "/user/getBuildCode",
        &[("token", &t), ("admin_user_name", "khcs")],
    )
    .await;
    assert_eq!(data(&r).as_array().map(Vec::len), Some(5));
    app.stop().await;
}

async fn prestore(app: &TestApp, t: &str, user_code: &str, no: &str, fee: &str) -> Value {
    meter(
        app,
        "/user/Prestore",
        &[
            ("token", t),
            ("admin_user_name", "khcs"),
            ("user_code", user_code),
            ("out_trade_no", no),
            ("total_fee", fee),
        ],
    )
    .await
}

async fn balance(app: &TestApp, t: &str) -> String {
    let r = meter(
        app,
        "/user/GetUserInfo",
        &[
            ("token", t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
        ],
    )
    .await;
    data(&r)["balance"].as_str().expect("balance").to_owned()
}

#[tokio::test]
async fn a_recharge_is_credited_exactly_once() {
    let app = demo().await;
    let t = token(&app).await;
    let r = prestore(&app, &t, "2022040001", "jrh2026010516084144045", "10.00").await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(r["msg"], "充值成功");
    assert_eq!(balance(&app, &t).await, "140.00");
    // The same request again: success, nothing more.
    assert_eq!(
        prestore(&app, &t, "2022040001", "jrh2026010516084144045", "10.00").await["code"],
        200
    );
    assert_eq!(balance(&app, &t).await, "140.00");
    // The same out_trade_no with another amount or household: refused, nothing changes.
    assert_eq!(
        prestore(&app, &t, "2022040001", "jrh2026010516084144045", "11.00").await["code"],
        1001
    );
    assert_eq!(
        prestore(&app, &t, "2022040002", "jrh2026010516084144045", "10.00").await["code"],
        1001
    );
    // Bad amounts.
    for fee in ["0", "-1", "1.001", "abc", "10000.01"] {
        let r = prestore(&app, &t, "2022040001", "another-order-1", fee).await;
        assert_eq!(r["code"], 1001, "{fee}: {r}");
    }
    let r = meter(
        &app,
        "/user/Prestore",
        &[
            ("token", &t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
            ("total_fee", "1"),
        ],
    )
    .await;
    assert_eq!(r["code"], 1008);
    assert!(r["msg"].as_str().expect("msg").contains("out_trade_no"));
    assert_eq!(balance(&app, &t).await, "140.00");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_copies_credit_once() {
    let app = demo().await;
    let t = token(&app).await;
    let replies = common::join_all(
        (0..50).map(|_| prestore(&app, &t, "2022040001", "465465165165166", "120.00")),
    )
    .await;
    assert!(replies.iter().all(|r| r["code"] == 200), "{replies:?}");
    assert_eq!(balance(&app, &t).await, "250.00");
    // Distinct orders concurrently: each credited.
    let numbers: Vec<String> = (0..20).map(|i| format!("distinct-{i}")).collect();
    let replies = common::join_all(
        numbers
            .iter()
            .map(|n| prestore(&app, &t, "2022040001", n, "1.00")),
    )
    .await;
    assert!(replies.iter().all(|r| r["code"] == 200));
    assert_eq!(balance(&app, &t).await, "270.00");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_new_recharges_copies_and_conflicts_answers_each_on_its_own() {
    let app = demo().await;
    let t = token(&app).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        calls.push((format!("burst-{i}"), "1.00"));
    }
    for _ in 0..10 {
        calls.push(("burst-copy".to_owned(), "5.00"));
        calls.push(("burst-copy".to_owned(), "6.00"));
    }
    let replies = common::join_all(
        calls
            .iter()
            .map(|(no, fee)| prestore(&app, &t, "2022040001", no, fee)),
    )
    .await;
    let answer = |fee: &str| -> Vec<i64> {
        calls
            .iter()
            .zip(&replies)
            .filter(|((no, f), _)| no == "burst-copy" && *f == fee)
            .map(|(_, r)| r["code"].as_i64().expect("code"))
            .collect()
    };
    assert!(
        replies[..20].iter().all(|r| r["code"] == 200),
        "{replies:?}"
    );
    // Whichever amount came first owns the number; every copy of the other is refused.
    let (five, six) = (answer("5.00"), answer("6.00"));
    let won = if five.iter().all(|&c| c == 200) {
        assert!(six.iter().all(|&c| c == 1001), "{six:?}");
        500
    } else {
        assert!(five.iter().all(|&c| c == 1001), "{five:?}");
        assert!(six.iter().all(|&c| c == 200), "{six:?}");
        600
    };
    let expected = 13_000 + 2_000 + won;
    assert_eq!(
        balance(&app, &t).await,
        format!("{}.{:02}", expected / 100, expected % 100)
    );
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

#[tokio::test]
async fn the_recharge_maximum_is_configurable() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.meter.max_recharge_yuan = 50.0;
    })
    .await;
    let t = token(&app).await;
    let r = prestore(&app, &t, "2022040001", "max-1", "50.01").await;
    assert_eq!(r["code"], 1001, "{r}");
    assert!(r["msg"].as_str().expect("msg").contains("50.00"), "{r}");
    assert_eq!(balance(&app, &t).await, "130.00");
    let r = prestore(&app, &t, "2022040001", "max-1", "50.00").await;
    assert_eq!(r["code"], 200, "{r}");
    assert_eq!(balance(&app, &t).await, "180.00");
    app.stop().await;
}

#[tokio::test]
async fn the_demo_has_the_documents_history() {
    let app = demo().await;
    let t = token(&app).await;
    // GetPaymentList: the document's example, verbatim.
    let r = list(&app, &t, "2023-04-06", "2023-04-06", "10").await;
    assert_eq!(r["totalCount"], 2, "{r}");
    let items = data(&r);
    assert_eq!(items[0]["out_trade_no"], "jrh2023030716084144045");
    assert_eq!(items[0]["total_fee"], "10.00");
    assert_eq!(items[0]["create_time"], "2023-04-06 13:39:21");
    assert_eq!(items[1]["out_trade_no"], "465465165165165");
    assert_eq!(items[1]["create_time"], "2023-04-06 14:38:53");
    // The readings that brought the meter to 3.00.
    let r = meter(
        &app,
        "/user/GetConsumenList",
        &[
            ("token", &t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
            ("BeginDate", "2022-04-01"),
            ("EndDate", "2022-04-30"),
            ("pageNo", "1"),
            ("pageSize", "10"),
        ],
    )
    .await;
    assert_eq!(r["totalCount"], 3, "{r}");
    let items = data(&r);
    assert_eq!(items[2]["reading"], "3.00");
    assert_eq!(items[2]["readTime"], "2022-04-20 21:00:04");
    assert_eq!(items[2]["lastRead"], "2.20");
    assert_eq!(items[2]["deviceId"], "202364555511");
    // The buildings in the document's order.
    let r = meter(
        &app,
        "/user/getBuildCode",
        &[("token", &t), ("admin_user_name", "khcs")],
    )
    .await;
    let codes: Vec<String> = data(&r)
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["build_code"].as_str().expect("code").to_owned())
        .collect();
    assert_eq!(
        codes,
        ["gzfh-1-d", "gzfh-2-d", "gzfh-3-s", "gzfh-4-s", "gzfh"]
    );
    assert_eq!(balance(&app, &t).await, "130.00");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // A wrong method still gets the envelope, with HTTP 200.
    let resp = app
        .client
        .get(format!("{}/meter/user/GetUserInfo", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 1001);
    app.stop().await;
}

#[tokio::test]
async fn recharges_are_listed_with_their_total() {
    let app = demo().await;
    let t = token(&app).await;
    prestore(&app, &t, "2022040001", "r1", "10.00").await;
    app.advance(3600).await;
    prestore(&app, &t, "2022040001", "r2", "120").await;
    let r = list(&app, &t, "2026-01-01", "2026-12-31", "10").await;
    assert_eq!(r["totalCount"], 2, "{r}");
    let items = data(&r);
    // Oldest first, as in the document's example.
    assert_eq!(items[1]["out_trade_no"], "r2");
    assert_eq!(items[1]["total_fee"], "120.00");
    assert_eq!(items[1]["create_time"], "2026-01-05 11:00:00");
    assert_eq!(items[0]["total_fee"], "10.00");
    let r = list(&app, &t, "2026-01-05 10:30:00", "2026-01-05 12:00:00", "10").await;
    assert_eq!(r["totalCount"], 1);
    let r = list(&app, &t, "2026-01-01", "2026-12-31", "1").await;
    assert_eq!(data(&r).as_array().map(Vec::len), Some(1));
    assert_eq!(r["totalCount"], 2);
    assert_eq!(
        list(&app, &t, "2026-01-01", "2026-12-31", "1001").await["code"],
        1001,
        "at most 1000 per page"
    );
    assert_eq!(
        list(&app, &t, "2026/01/01", "2026-12-31", "10").await["code"],
        1001
    );
    assert_eq!(
        list(&app, &t, "2026-12-31", "2026-01-01", "10").await["code"],
        1001
    );
    app.stop().await;
}

async fn list(app: &TestApp, t: &str, begin: &str, end: &str, size: &str) -> Value {
    meter(
        app,
        "/user/GetPaymentList",
        &[
            ("token", t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
            ("BeginDate", begin),
            ("EndDate", end),
            ("pageNo", "1"),
            ("pageSize", size),
        ],
    )
    .await
}

async fn readings(app: &TestApp, admin: &str, batch: serde_json::Value) -> common::Reply {
    app.post_auth(
        "/admin/v1/meter/readings",
        admin,
        serde_json::json!({"readings": batch}),
    )
    .await
}

#[tokio::test]
async fn readings_deduct_consumption_once_and_refuse_going_back() {
    let app = demo().await;
    let admin = app.admin_token().await;
    let t = token(&app).await;
    // 3.00 -> 13.00 kWh at 0.56 yuan: 5.60 deducted from 130.00.
    let one = serde_json::json!([{"tableNo": "202364555511", "reading": "13.00", "readTime": "2026-01-04 20:00:00"}]);
    let r = readings(&app, &admin, one.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["applied"], 1);
    let info = data(
        &meter(
            &app,
            "/user/GetUserInfo",
            &[
                ("token", &t),
                ("admin_user_name", "khcs"),
                ("user_code", "2022040001"),
            ],
        )
        .await,
    );
    assert_eq!(info["reading"], "13.00");
    assert_eq!(info["readTime"], "2026-01-04 20:00:00");
    assert_eq!(info["balance"], "124.40");
    // The same reading again: applied once.
    let r = readings(&app, &admin, one).await;
    assert_eq!(r.body["unchanged"], 1);
    // Lower, or older: refused, and nothing of the batch is applied.
    for bad in [
        serde_json::json!([{"tableNo": "202364555512", "reading": 20, "readTime": "2026-01-04 21:00:00"},
                           {"tableNo": "202364555511", "reading": "12.00", "readTime": "2026-01-04 22:00:00"}]),
        serde_json::json!([{"tableNo": "202364555511", "reading": "20.00", "readTime": "2026-01-04 19:00:00"}]),
        serde_json::json!([{"tableNo": "999", "reading": "1", "readTime": "2026-01-04 19:00:00"}]),
        serde_json::json!([{"tableNo": "202364555511", "reading": "x", "readTime": "2026-01-04 23:00:00"}]),
    ] {
        let r = readings(&app, &admin, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    let info = data(
        &meter(
            &app,
            "/user/GetUserInfo",
            &[
                ("token", &t),
                ("admin_user_name", "khcs"),
                ("user_code", "2022040002"),
            ],
        )
        .await,
    );
    assert_eq!(
        info["reading"], "12.50",
        "the refused batch changed nothing"
    );
    assert_eq!(
        readings(&app, "not-a-token", serde_json::json!([]))
            .await
            .status,
        401
    );

    let r = meter(
        &app,
        "/user/GetConsumenList",
        &[
            ("token", &t),
            ("admin_user_name", "khcs"),
            ("user_code", "2022040001"),
            ("BeginDate", "2026-01-01"),
            ("EndDate", "2026-01-31"),
            ("pageNo", "1"),
            ("pageSize", "10"),
        ],
    )
    .await;
    assert_eq!(r["totalCount"], 1, "{r}");
    let items = data(&r);
    assert_eq!(items[0]["tableNo"], "202364555511");
    assert_eq!(items[0]["reading"], "13.00");
    assert_eq!(items[0]["readTime"], "2026-01-04 20:00:00");
    assert_eq!(items[0]["lastRead"], "3.00");
    assert_eq!(items[0]["lastReadTime"], "2022-04-20 21:00:04");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

const METERS_CSV: &str = "admin_user_name,build_code,build_name,address,user_code,user_name,house_number,table_no,table_type,unit_price,opening_balance
acme,A-1,一号楼电,一号楼一层,A0001,101,101,M0001,1,56,50.00
acme,A-1,一号楼电,一号楼一层,A0002,102,,M0002,3,56,
acme,A-2,二号楼水,二号楼一层,A0003,201,201,W0001,2,345,20
";

async fn post_csv(app: &TestApp, admin: &str, body: &'static str) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/admin/v1/meter/import", app.base))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("send");
    (resp.status().as_u16(), resp.json().await.expect("json"))
}

#[tokio::test]
async fn operators_create_accounts_and_import_the_registry() {
    let app = spawn_with(|_| {}).await;
    let admin = app.admin_token().await;
    let r = app
        .post_auth(
            "/admin/v1/meter/accounts",
            &admin,
            serde_json::json!({"admin_user_name": "acme", "api_password": "acme-pass"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post_auth(
            "/admin/v1/meter/accounts",
            &admin,
            serde_json::json!({"admin_user_name": "acme", "api_password": "acme-pass"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        app.post(
            "/admin/v1/meter/accounts",
            serde_json::json!({"admin_user_name": "x", "api_password": "y"})
        )
        .await
        .status,
        401
    );

    // A bad row (line 3: no such account) names its line; nothing of the file is written.
    let bad = "admin_user_name,build_code,build_name,address,user_code,user_name,house_number,table_no,table_type,unit_price\nacme,A-1,一号楼电,一号楼一层,A0001,101,101,M0001,1,56\nnobody,A-1,x,y,B0001,1,,M0009,1,56\n";
    let (status, body) = post_csv(&app, &admin, bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("line 3"),
        "{body}"
    );
    assert_eq!(
        app.get("/admin/v1/meter/households/A0001", Some(&admin))
            .await
            .status,
        404
    );

    let (status, body) = post_csv(&app, &admin, METERS_CSV).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 3);
    let (_, body) = post_csv(&app, &admin, METERS_CSV).await;
    assert_eq!(body["unchanged"], 3, "importing again changes nothing");
    let h = app
        .get("/admin/v1/meter/households/A0001", Some(&admin))
        .await;
    assert_eq!(h.body["balance"], "50.00", "{:?}", h.body);
    assert_eq!(h.body["meters"][0]["tableNo"], "M0001");

    // The account sees it through the document's interface.
    let r = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "acme"), ("api_password", "acme-pass")],
    )
    .await;
    let t = r["data"].as_str().expect("token").to_owned();
    let buildings = data(
        &meter(
            &app,
            "/user/getBuildCode",
            &[("token", &t), ("admin_user_name", "acme")],
        )
        .await,
    );
    assert_eq!(buildings.as_array().map(Vec::len), Some(2));
    let info = data(
        &meter(
            &app,
            "/user/GetUserInfo",
            &[
                ("token", &t),
                ("admin_user_name", "acme"),
                ("user_code", "A0003"),
            ],
        )
        .await,
    );
    assert_eq!(info["tableType"], "2");
    assert_eq!(info["balance"], "20.00");
    let report = app.state.journal.check().await.expect("check");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.stop().await;
}

#[tokio::test]
async fn a_nul_character_is_an_ordinary_error_on_every_backend() {
    let app = demo().await;
    let r = meter(
        &app,
        "/user/login",
        &[("admin_user_name", "kh\u{0}cs"), ("api_password", "123456")],
    )
    .await;
    assert_eq!(r["code"], 1001, "{r}");
    let resp = app
        .client
        .post(format!("{}/meter/user/login", app.base))
        .json(&serde_json::json!({"admin_user_name": "kh\u{0}cs", "api_password": "1"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 1001, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_multipart_form_works_like_any_other_form() {
    let app = demo().await;
    let boundary = "----meter-test";
    let mut body = String::new();
    for (k, v) in [("admin_user_name", "khcs"), ("api_password", "123456")] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let r: Value = app
        .client
        .post(format!("{}/meter/user/login", app.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(r["code"], 200, "{r}");
    app.stop().await;
}
