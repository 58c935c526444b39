//! Sections 4 and 5.1: binding a heat account, its figures, its unpaid bills; the registry behind them.

use serde_json::{Value, json};

use crate::common::{TestApp, spawn_with};

/// The document's own binding example.
fn doc_bind() -> Value {
    json!({
        "heat_account": "H202400001",
        "real_name": "张三",
        "id_card": "610102199001011234",
        "address": "天山区xx小区xx号楼xx单元xx室"
    })
}

async fn demo_app() -> TestApp {
    spawn_with(|c| c.server.demo = true).await
}

#[tokio::test]
async fn bind_with_the_documents_example_and_read_the_account() {
    let app = demo_app().await;
    let token = app.user_token("13300000001").await;
    let r = app
        .post_auth("/heating/api/heat/bind", &token, doc_bind())
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "绑定成功");
    let d = r.data();
    assert_eq!(d["heat_account"], "H202400001");
    assert_eq!(d["real_name"], "张三");
    assert_eq!(d["address"], "天山区xx小区xx号楼xx单元xx室");
    assert_eq!(d["heating_area"].as_f64(), Some(85.5));
    assert_eq!(d["heating_fee"].as_f64(), Some(1250.50));
    assert_eq!(d["bind_time"], "2026-01-05T02:02:02.000Z");

    let r = app.get("/heating/api/heat/account", Some(&token)).await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let d = r.data();
    assert_eq!(d["heat_account"], "H202400001");
    assert_eq!(d["current_balance"].as_f64(), Some(-1250.50));
    assert_eq!(d["total_fee"].as_f64(), Some(2500.00));
    assert_eq!(d["paid_fee"].as_f64(), Some(1249.50));
    assert_eq!(d["unpaid_fee"].as_f64(), Some(1250.50));
    assert_eq!(d["heating_season"], "2024-2025");
    assert_eq!(d["payment_deadline"], "2024-11-30T00:00:00.000Z");
    assert_eq!(d["heating_start"], "2024-11-01T00:00:00.000Z");
    assert_eq!(d["heating_end"], "2025-03-31T00:00:00.000Z");

    // Money is rendered with two decimals, as the document writes it.
    let raw = app
        .client
        .get(format!("{}/heating/api/heat/account", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(raw.contains(r#""total_fee":2500.00"#), "{raw}");
    assert!(raw.contains(r#""current_balance":-1250.50"#), "{raw}");

    let profile = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(profile.data()["heat_account"], "H202400001");
    assert_eq!(profile.data()["balance"].as_f64(), Some(1250.50));
    app.stop().await;
}

#[tokio::test]
async fn payment_info_lists_the_unpaid_bills() {
    let app = demo_app().await;
    let token = app.user_token("13300000002").await;
    let r = app.get("/heating/api/payment/info", Some(&token)).await;
    assert_eq!(r.code(), 404);
    assert_eq!(r.body["message"], "未绑定供热账号");
    app.post_auth("/heating/api/heat/bind", &token, doc_bind())
        .await;
    let r = app.get("/heating/api/payment/info", Some(&token)).await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let d = r.data();
    assert_eq!(d["heat_account"], "H202400001");
    let bills = d["unpaid_bills"].as_array().expect("bills");
    assert_eq!(bills.len(), 1);
    let b = &bills[0];
    assert_eq!(b["bill_id"], "B1734502968024");
    assert_eq!(b["heating_season"], "2024-2025");
    assert_eq!(b["amount"].as_f64(), Some(1250.50));
    assert_eq!(b["bill_date"], "2024-12-18T07:49:28.024Z");
    assert_eq!(b["due_date"], "2024-11-30T00:00:00.000Z");
    assert_eq!(b["status"], "unpaid");
    assert_eq!(
        b["late_fee"].as_f64(),
        Some(0.0),
        "no late fee rule by default"
    );
    assert_eq!(d["total_unpaid"].as_f64(), Some(1250.50));
    assert_eq!(d["total_late_fee"].as_f64(), Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn late_fees_follow_the_configured_rule() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.dev.sim_clock = Some("2024-12-03T04:00:00Z".into());
        c.heating.late_fee_per_day_bp = 5;
        c.heating.late_fee_cap_percent = 10;
    })
    .await;
    let token = app.user_token("13300000003").await;
    app.post_auth("/heating/api/heat/bind", &token, doc_bind())
        .await;
    // Due 2024-11-30; 2024-12-03 local: 3 days x 0.05% of 1250.50 = 1.87.
    let d = app
        .get("/heating/api/payment/info", Some(&token))
        .await
        .body["data"]
        .clone();
    assert_eq!(d["unpaid_bills"][0]["late_fee"].as_f64(), Some(1.87), "{d}");
    assert_eq!(d["total_late_fee"].as_f64(), Some(1.87));
    // Two years later the cap (10%) holds.
    app.advance(2 * 365 * 86_400).await;
    let token = app.login("13300000003").await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let d = app
        .get("/heating/api/payment/info", Some(&token))
        .await
        .body["data"]
        .clone();
    assert_eq!(d["total_late_fee"].as_f64(), Some(125.05), "{d}");
    app.stop().await;
}

#[tokio::test]
async fn binding_rules() {
    let app = demo_app().await;
    let a = app.user_token("13300000004").await;
    let b = app.user_token("13300000005").await;
    let path = "/heating/api/heat/bind";

    let mut wrong_name = doc_bind();
    wrong_name["real_name"] = json!("李四");
    let r = app.post_auth(path, &a, wrong_name).await;
    assert_eq!(r.code(), 400);
    let mut wrong_id = doc_bind();
    wrong_id["id_card"] = json!("610102199001011231");
    assert_eq!(app.post_auth(path, &a, wrong_id).await.code(), 400);
    let mut unknown = doc_bind();
    unknown["heat_account"] = json!("H209900099");
    let r = app.post_auth(path, &a, unknown).await;
    assert_eq!(r.code(), 404);
    assert_eq!(r.body["message"], "供热账号不存在");
    for field in ["heat_account", "real_name", "id_card", "address"] {
        let mut missing = doc_bind();
        missing.as_object_mut().expect("object").remove(field);
        assert_eq!(
            app.post_auth(path, &a, missing).await.code(),
            400,
            "{field}"
        );
    }
    assert_eq!(app.post(path, doc_bind()).await.code(), 401);

    assert_eq!(app.post_auth(path, &a, doc_bind()).await.code(), 200);
    // Again by the same user: fine, nothing changes.
    assert_eq!(app.post_auth(path, &a, doc_bind()).await.code(), 200);
    // Another user: the document's refusal.
    let r = app.post_auth(path, &b, doc_bind()).await;
    assert_eq!(r.code(), 400);
    assert_eq!(r.body["message"], "供热账号已被绑定");
    // One account per user: unbind first.
    let second = json!({"heat_account": "H202400002", "real_name": "李四", "id_card": "650102198505054326", "address": "沙依巴克区"});
    let r = app.post_auth(path, &a, second.clone()).await;
    assert_eq!(r.code(), 400);
    assert_eq!(r.body["message"], "您已绑定其他供热账号，请先解绑");
    let r = app
        .post_auth("/heating/api/heat/unbind", &a, json!({}))
        .await;
    assert_eq!(r.code(), 200);
    assert_eq!(r.data()["heat_account"], "H202400001");
    assert_eq!(app.post_auth(path, &a, second).await.code(), 200);
    // Now H202400001 is free for the other user.
    assert_eq!(app.post_auth(path, &b, doc_bind()).await.code(), 200);
    assert_eq!(
        app.get("/heating/api/heat/account", Some(&b)).await.data()["heat_account"],
        "H202400001"
    );
    assert_eq!(
        app.get("/heating/api/heat/account", Some(&a)).await.data()["heat_account"],
        "H202400002"
    );
    // Unbinding with nothing bound.
    let c = app.user_token("13300000006").await;
    assert_eq!(
        app.post_auth("/heating/api/heat/unbind", &c, json!({}))
            .await
            .code(),
        404
    );
    assert_eq!(
        app.get("/heating/api/heat/account", Some(&c)).await.code(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_binds_of_one_account_give_it_to_one_user() {
    let app = demo_app().await;
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(app.user_token(&format!("1330000010{i}")).await);
    }
    let replies = crate::common::join_all(
        tokens
            .iter()
            .map(|t| app.post_auth("/heating/api/heat/bind", t, doc_bind())),
    )
    .await;
    assert_eq!(
        replies.iter().filter(|r| r.code() == 200).count(),
        1,
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.code() == 200 || r.body["message"] == "供热账号已被绑定")
    );
    app.stop().await;
}

const ACCOUNTS_CSV: &str = "heat_account,real_name,id_card,address,heating_area
H300000001,赵六,650102199002021234,新市区xx路1号,90.5
H300000002,钱七,650102199003031234,新市区xx路2号,70
";

#[tokio::test]
async fn operators_import_the_registry_all_or_nothing() {
    let app = spawn_with(|_| {}).await;
    let admin = app.admin_token().await;
    let post_csv = |path: &'static str, body: &'static str| {
        let req = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(body);
        async move {
            let resp = req.send().await.expect("send");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.expect("json"),
            )
        }
    };
    let (status, body) = post_csv("/admin/v1/heating/accounts/import", ACCOUNTS_CSV).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0})
    );
    // Again: nothing changes.
    let (_, body) = post_csv("/admin/v1/heating/accounts/import", ACCOUNTS_CSV).await;
    assert_eq!(body["unchanged"], 2);

    // A bad row (line 3) names its line, and the good row before it is not written either.
    let bad = "heat_account,real_name,id_card,address,heating_area\nH300000003,孙八,650102199004041234,新市区xx路3号,50\nH300000004,周九,650102199005051234,新市区xx路4号,-5\n";
    let (status, body) = post_csv("/admin/v1/heating/accounts/import", bad).await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("line 3") && message.contains("heating_area"),
        "{message}"
    );
    assert_eq!(
        app.get("/admin/v1/heating/accounts/H300000003", Some(&admin))
            .await
            .status,
        404
    );
    let (status, body) = post_csv(
        "/admin/v1/heating/accounts/import",
        "heat_account,real_name\nH1,x\n",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("line 1"),
        "{body}"
    );

    let bills = "bill_id,heat_account,heating_season,amount,bill_date,due_date
B300000000001,H300000001,2025-2026,1500.00,2025-10-15,2025-11-30
,H300000002,2025-2026,980.5,2025-10-15T10:00:00+08:00,2025-11-30
";
    let (status, body) = post_csv("/admin/v1/heating/bills/import", bills).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 2);
    let (_, body) = post_csv("/admin/v1/heating/bills/import", "bill_id,heat_account,heating_season,amount,bill_date,due_date\nB300000000001,H300000001,2025-2026,1500.00,2025-10-15,2025-11-30\n").await;
    assert_eq!(body["unchanged"], 1);
    // Same id, other amount: refused with its line.
    let (status, body) = post_csv("/admin/v1/heating/bills/import", "bill_id,heat_account,heating_season,amount,bill_date,due_date\nB300000000009,H300000001,2025-2026,1.00,2025-10-15,2025-11-30\nB300000000001,H300000001,2025-2026,9.99,2025-10-15,2025-11-30\n").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("line 3"),
        "{body}"
    );
    assert_eq!(
        app.get("/admin/v1/heating/accounts/H300000001", Some(&admin))
            .await
            .body["bills"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // An unknown account, a bad season, a bad amount.
    for (row, line_text) in [
        (
            "B1,H399999999,2025-2026,1.00,2025-10-15,2025-11-30",
            "not found",
        ),
        (
            "B1,H300000001,2025-2027,1.00,2025-10-15,2025-11-30",
            "heating_season",
        ),
        (
            "B1,H300000001,2025-2026,1.001,2025-10-15,2025-11-30",
            "amount",
        ),
        (
            "B1,H300000001,2025-2026,1.00,2025-10-15,30/11/2025",
            "due_date",
        ),
    ] {
        let body_text: &'static str = Box::leak(
            format!("bill_id,heat_account,heating_season,amount,bill_date,due_date\n{row}\n")
                .into_boxed_str(),
        );
        let (status, body) = post_csv("/admin/v1/heating/bills/import", body_text).await;
        assert_eq!(status, 400, "{row}");
        let m = body["error"]["message"].as_str().expect("m");
        assert!(m.contains("line 2") && m.contains(line_text), "{row}: {m}");
    }

    let account = app
        .get("/admin/v1/heating/accounts/H300000002", Some(&admin))
        .await;
    assert_eq!(account.body["heating_area"], 70);
    assert_eq!(account.body["bills"][0]["amount"], "980.50");
    assert_eq!(
        account.body["bills"][0]["bill_date"],
        "2025-10-15T02:00:00.000Z"
    );
    let list = app
        .get("/admin/v1/heating/accounts?prefix=H3", Some(&admin))
        .await;
    assert_eq!(list.body["total"], 2);
    assert_eq!(
        post_csv("/admin/v1/heating/accounts/import", ACCOUNTS_CSV)
            .await
            .0,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn operators_manage_single_accounts_and_bills() {
    let app = spawn_with(|_| {}).await;
    let admin = app.admin_token().await;
    let r = app
        .put_auth(
            "/admin/v1/heating/accounts/H400000001",
            &admin,
            json!({"real_name": "吴十", "id_card": "650102199006061234", "address": "天山区xx路", "heating_area": 88.8}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["heating_area"], 88.8);
    let r = app
        .put_auth(
            "/admin/v1/heating/accounts/H400000001",
            &admin,
            json!({"real_name": "吴十", "id_card": "bad", "address": "x", "heating_area": 1}),
        )
        .await;
    assert_eq!(r.status, 400);
    let bill = json!({"heat_account": "H400000001", "heating_season": "2025-2026", "amount": 1200.5, "bill_date": "2025-10-15", "due_date": "2025-11-30"});
    let r = app
        .post_auth("/admin/v1/heating/bills", &admin, bill.clone())
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["amount"], "1200.50");
    assert_eq!(r.body["status"], "unpaid");
    let mut dup = bill.clone();
    dup["bill_id"] = r.body["bill_id"].clone();
    assert_eq!(
        app.post_auth("/admin/v1/heating/bills", &admin, dup)
            .await
            .status,
        409
    );
    let mut orphan = bill;
    orphan["heat_account"] = json!("H499999999");
    assert_eq!(
        app.post_auth("/admin/v1/heating/bills", &admin, orphan)
            .await
            .status,
        404
    );

    // A user binds it; the operator releases it.
    let token = app.user_token("13300000201").await;
    let r = app
        .post_auth("/heating/api/heat/bind", &token, json!({"heat_account": "H400000001", "real_name": "吴十", "id_card": "650102199006061234", "address": "天山区xx路"}))
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.data()["heating_fee"].as_f64(), Some(1200.5));
    let r = app
        .post_auth(
            "/admin/v1/heating/accounts/H400000001/unbind",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["bound_user_id"].is_null());
    assert_eq!(
        app.get("/heating/api/heat/account", Some(&token))
            .await
            .code(),
        404
    );
    assert_eq!(
        app.get("/admin/v1/heating/accounts", None).await.status,
        401
    );
    app.stop().await;
}
