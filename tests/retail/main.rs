//! The retail surface (seed 000) as the business hall's client drives it, and its operator side.

#[path = "../common/mod.rs"]
mod common;

use base64::Engine;
use serde_json::{Value, json};

use common::{Reply, TestApp, spawn_with};

const MEIZU: &str = "91440400MA4UJ7Q0X5";
const YGSOFT: &str = "91440400MA4WKP8N18";

async fn app() -> TestApp {
    spawn_with(|c| {
        c.server.demo = true;
        c.retail.max_upload_bytes = 64 * 1024;
    })
    .await
}

/// A new captcha: `(id, answer)` (the answer read from the dev outbox).
async fn captcha(app: &TestApp) -> (String, String) {
    let r = app.get("/retail/qr_code", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["captcha_id"]
        .as_str()
        .expect("captcha_id")
        .to_owned();
    let answer = app
        .outbox_lines()
        .iter()
        .rev()
        .find(|l| l["channel"] == "captcha" && l["to"] == id.as_str())
        .and_then(|l| l["code"].as_str().map(str::to_owned))
        .expect("the captcha answer is in the dev outbox");
    (id, answer)
}

/// The binding code the last `bind_code` sent (read from the dev outbox): `(to, code)`.
fn bind_code_sent(app: &TestApp, after: usize) -> (String, String) {
    let line = app.outbox_lines()[after..]
        .iter()
        .rev()
        .find(|l| {
            l["channel"] == "sms"
                && l["purpose"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("bind:"))
        })
        .cloned()
        .expect("a binding code in the dev outbox");
    (
        line["to"].as_str().expect("to").to_owned(),
        line["code"].as_str().expect("code").to_owned(),
    )
}

/// Binds in the two steps a client takes: the details and an image captcha have the 验证码
/// sent to the enterprise's contact phone (read here from the dev outbox), then the details
/// and that code bind. The first refusal is returned.
async fn bind_enterprise(app: &TestApp, token: &str, fields: Value) -> Reply {
    let (id, answer) = captcha(app).await;
    let mut ask = fields.clone();
    ask["captcha_id"] = json!(id);
    ask["captcha"] = json!(answer);
    let before = app.outbox_lines().len();
    let r = app.post_auth("/retail/user/bind_code", token, ask).await;
    if r.status != 200 {
        return r;
    }
    let (_, code) = bind_code_sent(app, before);
    let mut fields = fields;
    fields["code"] = json!(code);
    app.post_auth("/retail/user/bind", token, fields).await
}

async fn register(app: &TestApp, phone: &str, password: &str) -> Reply {
    let (id, answer) = captcha(app).await;
    app.post(
        "/retail/user/register",
        json!({"phone": phone, "password": password, "captcha_id": id, "captcha": answer}),
    )
    .await
}

async fn login(app: &TestApp, phone: &str, password: &str) -> Reply {
    app.post(
        "/retail/user/login",
        json!({"phone": phone, "password": password}),
    )
    .await
}

async fn token(app: &TestApp, phone: &str, password: &str) -> String {
    let r = login(app, phone, password).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["token"].as_str().expect("token").to_owned()
}

async fn demo_token(app: &TestApp) -> String {
    token(app, "13900000000", "retail123456").await
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["code"], code, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{:?}",
        r.body
    );
}

/// The raw text of a GET (to see numbers exactly as written).
async fn raw(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    (resp.status().as_u16(), resp.text().await.expect("text"))
}

#[tokio::test]
async fn the_captcha_is_a_png_image_used_once() {
    let app = app().await;
    let r = app.get("/retail/qr_code", None).await;
    let image = r.body["image"].as_str().expect("image");
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            image
                .strip_prefix("data:image/png;base64,")
                .expect("a PNG data URL"),
        )
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(r.body["expires_in"].as_i64().is_some_and(|s| s > 0));
    // The raw image form.
    let resp = app
        .client
        .get(format!("{}/retail/qr_code?format=png", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers().contains_key("x-captcha-id"));
    assert!(resp.bytes().await.expect("bytes").starts_with(b"\x89PNG"));

    let (id, answer) = captcha(&app).await;
    assert_eq!(answer.len(), 5);
    let body = |phone: &str| json!({"phone": phone, "password": "password-1", "captcha_id": id, "captcha": answer});
    assert_eq!(
        app.post("/retail/user/register", body("13700000001"))
            .await
            .status,
        201
    );
    // Used once: the same captcha again is refused.
    assert_error(
        &app.post("/retail/user/register", body("13700000002")).await,
        400,
        "code_invalid",
    );
    app.stop().await;
}

#[tokio::test]
async fn register_login_and_logout() {
    let app = app().await;
    assert_error(
        &register(&app, "1370000000", "password-1").await,
        400,
        "invalid",
    );
    assert_error(
        &register(&app, "13700000001", "short").await,
        400,
        "invalid",
    );
    let (id, _) = captcha(&app).await;
    assert_error(
        &app.post(
            "/retail/user/register",
            json!({"phone": "13700000001", "password": "password-1", "captcha_id": id, "captcha": "00000"}),
        )
        .await,
        400,
        "code_invalid",
    );
    let r = register(&app, "13700000001", "password-1").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["phone"], "13700000001");
    assert!(r.body.get("password_hash").is_none());
    assert_error(
        &register(&app, "13700000001", "password-2").await,
        409,
        "phone_registered",
    );

    assert_error(
        &login(&app, "13700000001", "wrong-password").await,
        401,
        "wrong_credentials",
    );
    assert_error(
        &login(&app, "13700000009", "password-1").await,
        401,
        "wrong_credentials",
    );
    // A form body works as well as JSON.
    let resp = app
        .client
        .post(format!("{}/retail/user/login", app.base))
        .form(&[("phone", "13700000001"), ("password", "password-1")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let t = token(&app, "13700000001", "password-1").await;
    let me = app.get("/retail/user/info", Some(&t)).await;
    assert_eq!(me.body["phone"], "13700000001");
    assert!(me.body["binding"].is_null());
    assert_error(
        &app.get("/retail/user/info", None).await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.get("/retail/user/info", Some("not-a-token")).await,
        401,
        "unauthorized",
    );
    let out = app
        .client
        .post(format!("{}/retail/user/logout", app.base))
        .bearer_auth(&t)
        .send()
        .await
        .expect("send");
    assert_eq!(out.status(), 204);
    assert_error(
        &app.get("/retail/user/info", Some(&t)).await,
        401,
        "unauthorized",
    );
    assert_error(&app.get("/retail/nope", None).await, 404, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn binding_an_enterprise_needs_its_name_code_and_phone_digits() {
    let app = app().await;
    register(&app, "13700000001", "password-1").await;
    let t = token(&app, "13700000001", "password-1").await;
    let companies = app.get("/retail/companies", None).await;
    let company = &companies.body[0];
    assert_eq!(company["name"], "珠海高远电能科技有限公司");
    let company_id = company["id"].as_str().expect("id").to_owned();
    let bind = |services: Value, name: &str, code: &str, last4: &str, cid: &str| {
        let (app, t) = (&app, &t);
        let (name, code, last4, cid) = (
            name.to_owned(),
            code.to_owned(),
            last4.to_owned(),
            cid.to_owned(),
        );
        async move {
            bind_enterprise(
                app,
                t,
                json!({"company_id": cid, "services": services, "enterprise_name": name,
                       "credit_code": code, "phone_last4": last4}),
            )
            .await
        }
    };
    // An unbound user sees nothing and cannot plan.
    assert_eq!(
        app.get("/retail/user/contracts", Some(&t)).await.body,
        json!([])
    );
    assert_error(
        &app.post_auth(
            "/retail/user/add_elec_plan",
            &t,
            json!({"year": "2017", "month": "1", "number": "10", "state": "draft"}),
        )
        .await,
        403,
        "not_bound",
    );
    let services = json!(["售电服务"]);
    const YG: &str = "珠海远光软件股份有限公司";
    assert_error(
        &bind(services.clone(), YG, YGSOFT, "0001", &company_id).await,
        400,
        "invalid",
    );
    assert_error(
        &bind(services.clone(), "别的公司", YGSOFT, "0002", &company_id).await,
        400,
        "invalid",
    );
    assert_error(
        &bind(
            services.clone(),
            YG,
            "91440400MA4UJ7Q0X6",
            "0002",
            &company_id,
        )
        .await,
        400,
        "invalid",
    );
    assert_error(
        &bind(json!(["洗车"]), YG, YGSOFT, "0002", &company_id).await,
        400,
        "invalid",
    );
    // (That one got a code sent before its services were refused: one code a minute.)
    app.advance(61).await;
    assert_error(
        &bind(services.clone(), YG, YGSOFT, "0002", "nope").await,
        404,
        "not_found",
    );
    // The right details alone do not bind: the code sent to the enterprise's phone does.
    let no_code = app
        .post_auth(
            "/retail/user/bind",
            &t,
            json!({"company_id": company_id, "services": services, "enterprise_name": YG,
                   "credit_code": YGSOFT, "phone_last4": "0002"}),
        )
        .await;
    assert_error(&no_code, 400, "invalid");
    let (id, answer) = captcha(&app).await;
    let before = app.outbox_lines().len();
    let sent = app
        .post_auth(
            "/retail/user/bind_code",
            &t,
            json!({"company_id": company_id, "enterprise_name": YG, "credit_code": YGSOFT,
                   "phone_last4": "0002", "captcha_id": id, "captcha": answer}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let (to, code) = bind_code_sent(&app, before);
    assert!(to.ends_with("0002"), "sent to the enterprise's phone: {to}");
    assert_ne!(to, "13700000001", "not to the user's own phone");
    assert_eq!(sent.body["phone"], format!("{}****{}", &to[..3], &to[7..]));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let attempt = |code: String| {
        let (app, t, company_id) = (&app, &t, &company_id);
        async move {
            app.post_auth(
                "/retail/user/bind",
                t,
                json!({"company_id": company_id, "services": ["售电服务"], "enterprise_name": YG,
                       "credit_code": YGSOFT, "phone_last4": "0002", "code": code}),
            )
            .await
        }
    };
    assert_error(&attempt(wrong.into()).await, 400, "code_invalid");
    // Another user cannot use this user's code.
    register(&app, "13700000003", "password-3").await;
    let t3 = token(&app, "13700000003", "password-3").await;
    let stolen = app
        .post_auth(
            "/retail/user/bind",
            &t3,
            json!({"company_id": company_id, "services": ["售电服务"], "enterprise_name": YG,
                   "credit_code": YGSOFT, "phone_last4": "0002", "code": code}),
        )
        .await;
    assert_error(&stolen, 400, "code_invalid");
    let r = attempt(code.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["binding"]["enterprise_code"], YGSOFT);
    assert_eq!(r.body["binding"]["services"], json!(["售电服务"]));
    assert_eq!(
        app.get("/retail/user/settlement_bills", Some(&t))
            .await
            .body[0]["username"],
        YG
    );
    // The code is used up.
    assert_error(&attempt(code).await, 400, "code_invalid");

    // The document's path for binding: POST /user/login with the token and the fields. 魅族
    // has its demo user already; the operator allows a second.
    let admin = app.admin_token().await;
    let r = patch(
        &app,
        &admin,
        &format!("/admin/v1/retail/enterprises/{MEIZU}"),
        json!({"max_users": 2}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["max_users"], 2);
    register(&app, "13700000002", "password-2").await;
    let t2 = token(&app, "13700000002", "password-2").await;
    let (id, answer) = captcha(&app).await;
    let before = app.outbox_lines().len();
    let sent = app
        .post_auth(
            "/retail/user/bind_code",
            &t2,
            json!({"company_id": company_id, "enterprise_name": "珠海魅族科技有限公司",
                   "credit_code": MEIZU, "phone_last4": "0001", "captcha_id": id, "captcha": answer}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let (_, code) = bind_code_sent(&app, before);
    let fields = json!({"company_id": company_id, "services": "售电服务,能效管理",
        "enterprise_name": "珠海魅族科技有限公司", "credit_code": MEIZU, "phone_last4": "0001",
        "code": code});
    assert_error(
        &app.post("/retail/user/login", fields.clone()).await,
        401,
        "unauthorized",
    );
    let r = app.post_auth("/retail/user/login", &t2, fields).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["binding"]["services"],
        json!(["售电服务", "能效管理"])
    );
    // The holders see each other (phones masked); a third is refused: two is the setting.
    let holders = app.get("/retail/user/bind", Some(&t2)).await;
    assert_eq!(holders.status, 200, "{:?}", holders.body);
    assert_eq!(holders.body["max_users"], 2);
    let phones: Vec<&str> = holders.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["phone"].as_str())
        .collect();
    assert_eq!(phones, ["139****0000", "137****0002"]);
    assert!(!holders.body.to_string().contains("13900000000"));
    assert_error(
        &bind_enterprise(
            &app,
            &t3,
            json!({"company_id": company_id, "services": ["售电服务"],
                   "enterprise_name": "珠海魅族科技有限公司", "credit_code": MEIZU, "phone_last4": "0001"}),
        )
        .await,
        409,
        "conflict",
    );
    // An unbound user has nobody to see.
    assert_error(
        &app.get("/retail/user/bind", Some(&t3)).await,
        403,
        "not_bound",
    );
    app.stop().await;
}

#[tokio::test]
async fn a_second_user_cannot_bind_an_enterprise_another_holds() {
    let app = app().await;
    let company = app.get("/retail/companies", None).await.body[0]["id"].clone();
    register(&app, "13700000005", "password-5").await;
    let t = token(&app, "13700000005", "password-5").await;
    // 魅族 is held by the demo user; its right details and a captcha still send no code.
    let before = app.outbox_lines().len();
    let r = bind_enterprise(
        &app,
        &t,
        json!({"company_id": company, "services": ["售电服务"], "enterprise_name": "珠海魅族科技有限公司",
               "credit_code": MEIZU, "phone_last4": "0001"}),
    )
    .await;
    assert_error(&r, 409, "conflict");
    assert!(
        app.outbox_lines()[before..]
            .iter()
            .all(|l| l["channel"] != "sms"),
        "no code went to the holder's phone"
    );
    // The holder still reads its bills; the stranger reads nothing.
    let demo = demo_token(&app).await;
    assert!(
        !app.get("/retail/user/settlement_bills", Some(&demo))
            .await
            .body
            .as_array()
            .expect("bills")
            .is_empty()
    );
    assert_eq!(
        app.get("/retail/user/settlement_bills", Some(&t))
            .await
            .body,
        json!([])
    );
    app.stop().await;
}

#[tokio::test]
async fn the_demo_user_sees_the_documents_examples() {
    let app = app().await;
    let t = demo_token(&app).await;
    let contracts = app.get("/retail/user/contracts", Some(&t)).await;
    let c = &contracts.body[0];
    assert_eq!(
        c["title"],
        "珠海高远电能科技有限公司与珠海魅族科技有限公司购售电协议"
    );
    assert_eq!(c["party_a"], "珠海魅族科技有限公司");
    assert_eq!(c["party_b"], "珠海高远电能科技有限公司");
    assert_eq!(c["files"], json!(["客户名单列表.xls", "现场图片001.jpg"]));
    assert_eq!(c["contract_id"], "GD441520170601");
    assert_eq!(c["state"], "fullfill");
    assert_eq!(c["elec_number"], 2000);
    assert_eq!(c["sign_date"], "2017-01-01");
    assert!(
        c["content"]
            .as_str()
            .expect("content")
            .contains("2000 万千瓦时")
    );

    let (status, text) = raw(&app, "/retail/user/settlement_bills", &t).await;
    assert_eq!(status, 200);
    for exact in [
        "\"user_benefits\":30.00",
        "\"settle_number\":30.0000",
        "\"declare_elec_number\":5000.0000",
        "\"bid_income\":-100.0000",
        "\"check_bill\":28.3400",
        "\"confirmer\":\"刘杰\"",
    ] {
        assert!(text.contains(exact), "{exact} in {text}");
    }
    let bills: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(bills.as_array().map(Vec::len), Some(2));
    let states: Vec<&str> = bills
        .as_array()
        .expect("array")
        .iter()
        .map(|b| b["state"].as_str().expect("state"))
        .collect();
    assert!(states.contains(&"confirmed") && states.contains(&"unconfirmed"));
    assert!(
        bills
            .as_array()
            .expect("array")
            .iter()
            .all(|b| b["username"] == "珠海魅族科技有限公司")
    );

    let use_2017 = app
        .get("/retail/user/elec_situation?year=2017", Some(&t))
        .await;
    assert_eq!(
        use_2017.body[0],
        json!({"month": "1", "number": "500.0000"})
    );
    assert_eq!(use_2017.body.as_array().map(Vec::len), Some(3));
    let this_year = app.get("/retail/user/elec_situation", Some(&t)).await;
    assert_eq!(this_year.body[0]["number"], "480.0000");
    assert_error(
        &app.get("/retail/user/elec_situation?year=abc", Some(&t))
            .await,
        400,
        "invalid",
    );

    let plans = app.get("/retail/user/elec_plan", Some(&t)).await;
    let p = &plans.body[0];
    assert_eq!(
        (
            &p["year"],
            &p["month"],
            &p["state"],
            &p["type"],
            &p["number"]
        ),
        (
            &json!("2017"),
            &json!("1"),
            &json!("draft"),
            &json!("month"),
            &json!("888")
        )
    );
    assert!(p["create_at"].as_str().is_some_and(|s| s.ends_with('Z')));

    for channel in ["recommend", "policy", "science"] {
        let r = app.get(&format!("/retail/articles/{channel}"), None).await;
        let list = r.body.as_array().expect("array");
        assert_eq!(list.len(), 2, "{channel}");
        for key in ["imgsrc", "title", "create_at", "content", "author"] {
            assert!(list[0].get(key).is_some(), "{channel}: {key}");
        }
    }
    assert_error(
        &app.get("/retail/articles/gossip", None).await,
        404,
        "not_found",
    );
    let guide = app.get("/retail/business_guide", None).await;
    assert_eq!(
        guide.body[0]["questiuon"],
        "帐号登录之后为什么使用不了功能？"
    );
    assert!(
        guide.body[0]["answer"]
            .as_str()
            .is_some_and(|a| a.contains("Lorem ipsum"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_user_never_sees_another_enterprises_data() {
    let app = app().await;
    let admin = app.admin_token().await;
    let meizu = demo_token(&app).await;
    // A user bound to 远光 through the operator's data.
    register(&app, "13700000002", "password-2").await;
    let t = token(&app, "13700000002", "password-2").await;
    let company = app.get("/retail/companies", None).await.body[0]["id"].clone();
    let r = bind_enterprise(
        &app,
        &t,
        json!({"company_id": company, "services": ["售电服务"], "enterprise_name": "珠海远光软件股份有限公司",
               "credit_code": YGSOFT, "phone_last4": "0002"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bills = app.get("/retail/user/settlement_bills", Some(&t)).await;
    assert_eq!(bills.body.as_array().map(Vec::len), Some(1));
    assert_eq!(bills.body[0]["username"], "珠海远光软件股份有限公司");
    assert_eq!(
        app.get("/retail/user/contracts", Some(&t)).await.body,
        json!([])
    );
    assert_eq!(
        app.get("/retail/user/elec_plan", Some(&t)).await.body,
        json!([])
    );
    // 魅族's user does not see 远光's bill.
    let theirs = app.get("/retail/user/settlement_bills", Some(&meizu)).await;
    assert!(
        theirs
            .body
            .as_array()
            .expect("array")
            .iter()
            .all(|b| b["username"] == "珠海魅族科技有限公司")
    );
    // A plan of 远光 stays 远光's.
    let r = app
        .post_auth(
            "/retail/user/add_elec_plan",
            &t,
            json!({"year": "2018", "month": "2", "number": "100", "state": "draft"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let mine = app.get("/retail/user/elec_plan", Some(&meizu)).await;
    assert!(
        mine.body
            .as_array()
            .expect("array")
            .iter()
            .all(|p| p["year"] != "2018")
    );
    // The operator unbinds: the user sees nothing any more.
    let users = app.get("/admin/v1/retail/users", Some(&admin)).await;
    let uid = users.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["phone"] == "13700000002")
        .and_then(|u| u["id"].as_str())
        .expect("user")
        .to_owned();
    let out = app
        .client
        .post(format!("{}/admin/v1/retail/users/{uid}/unbind", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(out.status(), 204);
    assert_eq!(
        app.get("/retail/user/settlement_bills", Some(&t))
            .await
            .body,
        json!([])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_declared_plan_can_no_longer_change() {
    let app = app().await;
    let t = demo_token(&app).await;
    let add = |body: Value| {
        let (app, t) = (&app, &t);
        async move { app.post_auth("/retail/user/add_elec_plan", t, body).await }
    };
    let r = add(json!({"year": "2019", "month": "3", "number": "1200.5", "state": "draft"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["number"], "1200.5");
    assert_eq!(r.body["type"], "month");
    let r = add(json!({"year": 2019, "month": 3, "number": 1300, "state": "draft"})).await;
    assert_eq!(r.status, 200, "a draft changes: {:?}", r.body);
    assert_eq!(r.body["number"], "1300");
    let r = add(json!({"year": "2019", "month": "3", "number": "1300", "state": "declared"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["state"], "declared");
    assert_error(
        &add(json!({"year": "2019", "month": "3", "number": "1", "state": "draft"})).await,
        409,
        "conflict",
    );
    let r = add(json!({"year": "2019", "number": "15000", "state": "draft"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["type"], "year");
    assert_eq!(r.body["month"], "");
    for bad in [
        json!({"year": "2019", "month": "13", "number": "1", "state": "draft"}),
        json!({"year": "1999", "month": "1", "number": "1", "state": "draft"}),
        json!({"year": "2019", "month": "1", "number": "-1", "state": "draft"}),
        json!({"year": "2019", "month": "1", "number": "1.00001", "state": "draft"}),
        json!({"year": "2019", "month": "1", "number": "1", "state": "approved"}),
    ] {
        assert_error(&add(bad.clone()).await, 400, "invalid");
    }
    let plans = app.get("/retail/user/elec_plan", Some(&t)).await;
    let march = plans
        .body
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["year"] == "2019" && p["month"] == "3")
        .expect("the plan")
        .clone();
    assert_eq!(march["number"], "1300");
    assert_eq!(march["state"], "declared");
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_ends_the_other_logins() {
    let app = app().await;
    let a = demo_token(&app).await;
    let b = demo_token(&app).await;
    let change = |old: &str, new: &str| {
        let (app, a) = (&app, &a);
        let body = json!({"old_password": old, "new_password": new});
        async move { app.post_auth("/retail/user/change_password", a, body).await }
    };
    assert_error(
        &change("wrong-password", "new-password-1").await,
        401,
        "wrong_credentials",
    );
    assert_error(&change("retail123456", "short").await, 400, "invalid");
    assert_eq!(change("retail123456", "new-password-1").await.status, 200);
    assert_eq!(app.get("/retail/user/info", Some(&a)).await.status, 200);
    assert_error(
        &app.get("/retail/user/info", Some(&b)).await,
        401,
        "unauthorized",
    );
    assert_error(
        &login(&app, "13900000000", "retail123456").await,
        401,
        "wrong_credentials",
    );
    assert_eq!(
        login(&app, "13900000000", "new-password-1").await.status,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn changing_the_phone_number_needs_a_code_sent_to_the_new_one() {
    let app = app().await;
    let t = demo_token(&app).await;
    assert_error(
        &app.post_auth(
            "/retail/user/send_code",
            &t,
            json!({"phone": "13700000001x"}),
        )
        .await,
        400,
        "invalid",
    );
    register(&app, "13700000005", "password-5").await;
    // A registered number: the same answer, but no code goes out.
    let r = app
        .post_auth(
            "/retail/user/send_code",
            &t,
            json!({"phone": "13700000005"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        !app.outbox_lines()
            .iter()
            .any(|l| l["to"] == "13700000005" && l["purpose"] == "change_phone")
    );
    assert_error(
        &app.post("/retail/user/send_code", json!({"phone": "13700000006"}))
            .await,
        401,
        "unauthorized",
    );
    let sent = app
        .post_auth(
            "/retail/user/send_code",
            &t,
            json!({"phone": "13700000006"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let code = app.last_code("13700000006", "change_phone");
    let change = |old: &str, code: &str| {
        let (app, t) = (&app, &t);
        let body = json!({"old_phone": old, "new_phone": "13700000006", "code": code});
        async move {
            app.post_auth("/retail/user/change_phone_number", t, body)
                .await
        }
    };
    assert_error(&change("13900000001", &code).await, 400, "invalid");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_error(&change("13900000000", wrong).await, 400, "code_invalid");
    let r = change("13900000000", &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["phone"], "13700000006");
    assert_error(&change("13700000006", &code).await, 400, "invalid");
    assert_eq!(login(&app, "13700000006", "retail123456").await.status, 200);
    assert_error(
        &login(&app, "13900000000", "retail123456").await,
        401,
        "wrong_credentials",
    );
    app.stop().await;
}

/// A multipart body by hand: `(name, filename, content type, bytes)` parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----utilhall-test-boundary";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let resp = app
        .client
        .post(format!("{}/retail/user/recommend", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let body = resp.json().await.expect("json");
    Reply { status, body }
}

fn stored_pictures(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.dir.path().join("uploads/feedback"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn feedback_with_a_picture_is_checked_and_stored() {
    let app = app().await;
    let t = demo_token(&app).await;
    let admin = app.admin_token().await;
    // Text only, as JSON.
    let r = app
        .post_auth(
            "/retail/user/recommend",
            &t,
            json!({"content": "希望增加账单导出功能"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_error(
        &app.post_auth("/retail/user/recommend", &t, json!({"content": " "}))
            .await,
        400,
        "invalid",
    );
    // With a real PNG.
    let png = app
        .client
        .get(format!("{}/retail/qr_code?format=png", app.base))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("png");
    let (ct, body) = multipart(&[
        ("content", None, "页面加载慢".as_bytes()),
        ("contact", None, b"13900000000"),
        ("picture", Some("shot.png"), &png),
    ]);
    let r = post_multipart(&app, &t, &ct, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(stored_pictures(&app).len(), 1);

    // Too large, not an image, a script named .png, malformed: refused, nothing left behind.
    let big = vec![0u8; 70 * 1024];
    let (ct, body) = multipart(&[("content", None, b"big"), ("picture", Some("a.png"), &big)]);
    assert_error(&post_multipart(&app, &t, &ct, body).await, 413, "too_large");
    let (ct, body) = multipart(&[
        ("content", None, b"script"),
        ("picture", Some("x.png"), b"<?php system($_GET['c']); ?>"),
    ]);
    assert_error(
        &post_multipart(&app, &t, &ct, body).await,
        415,
        "unsupported_type",
    );
    let (ct, body) = multipart(&[
        ("content", None, b"cut"),
        ("picture", Some("cut.png"), &png[..png.len() / 2]),
    ]);
    assert_error(
        &post_multipart(&app, &t, &ct, body).await,
        415,
        "unsupported_type",
    );
    let (ct, mut body) = multipart(&[("content", None, b"broken")]);
    body.truncate(body.len() - 10);
    let r = post_multipart(&app, &t, &ct, body).await;
    assert_error(&r, 400, "invalid");
    assert_eq!(
        stored_pictures(&app).len(),
        1,
        "refused uploads leave no file"
    );

    // The operator reads it, and gets the picture as an attachment of its real type.
    let list = app.get("/admin/v1/retail/feedback", Some(&admin)).await;
    let items = list.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let with_picture = items
        .iter()
        .find(|f| f["picture"].is_string())
        .expect("the entry with a picture");
    assert_eq!(with_picture["contact"], "13900000000");
    let resp = app
        .client
        .get(format!(
            "{}{}",
            app.base,
            with_picture["picture"].as_str().expect("url")
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(resp.bytes().await.expect("bytes"), png);
    assert_eq!(app.get("/admin/v1/retail/feedback", None).await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn operators_fill_the_hall() {
    let app = app().await;
    let admin = app.admin_token().await;
    let t = demo_token(&app).await;
    // Articles and guide.
    app.advance(60).await;
    let a = app
        .post_auth(
            "/admin/v1/retail/articles",
            &admin,
            json!({"channel": "policy", "title": "新政策", "content": "内容", "author": "编辑部",
                   "imgsrc": "https://example.com/a.png"}),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let policy = app.get("/retail/articles/policy", None).await;
    assert_eq!(policy.body[0]["title"], "新政策");
    assert_eq!(policy.body[0]["imgsrc"], "https://example.com/a.png");
    let id = a.body["id"].as_str().expect("id");
    let del = app
        .client
        .delete(format!("{}/admin/v1/retail/articles/{id}", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(del.status(), 204);
    assert_eq!(
        app.get("/retail/articles/policy", None)
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        app.post_auth(
            "/admin/v1/retail/articles",
            &admin,
            json!({"channel": "gossip", "title": "x", "content": "y", "author": "z"})
        )
        .await
        .status,
        400
    );
    let g = app
        .post_auth(
            "/admin/v1/retail/guide",
            &admin,
            json!({"question": "如何开票？", "answer": "联系客服。"}),
        )
        .await;
    assert_eq!(g.status, 201);
    let guide = app.get("/retail/business_guide", None).await;
    assert_eq!(guide.body.as_array().map(|l| l.len()), Some(4));
    assert_eq!(guide.body[3]["questiuon"], "如何开票？");

    // Companies and enterprises.
    let c = app
        .post_auth(
            "/admin/v1/retail/companies",
            &admin,
            json!({"name": "珠海新能售电有限公司", "services": ["售电服务"]}),
        )
        .await;
    assert_eq!(c.status, 201);
    assert_eq!(
        app.post_auth(
            "/admin/v1/retail/companies",
            &admin,
            json!({"name": "珠海新能售电有限公司", "services": ["x"]})
        )
        .await
        .status,
        409
    );
    let e = app
        .post_auth("/admin/v1/retail/enterprises", &admin, json!({"name": "示例企业", "credit_code": "D2143569-X", "contact_phone": "13600000000"}))
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    assert_eq!(e.body["credit_code"], "D2143569X");
    assert_eq!(
        app.post_auth(
            "/admin/v1/retail/enterprises",
            &admin,
            json!({"name": "坏代码", "credit_code": "D2143569-1", "contact_phone": "13600000000"})
        )
        .await
        .status,
        400
    );

    // A contract, monthly use and a bill for the demo enterprise show up for its user.
    let company = c.body["id"].as_str().expect("id");
    let r = app
        .post_auth(
            "/admin/v1/retail/contracts",
            &admin,
            json!({"contract_id": "GD441520180101", "credit_code": MEIZU, "company_id": company,
                   "title": "2018年度购售电协议", "content": "条款", "files": ["附件.pdf"], "state": "notfullfill",
                   "elec_number": 1500, "sign_date": "2018-01-01", "expire_date": "2018-12-31"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["party_b"], "珠海新能售电有限公司");
    let again = app
        .post_auth(
            "/admin/v1/retail/contracts",
            &admin,
            json!({"contract_id": "GD441520180101", "credit_code": MEIZU, "company_id": company,
                   "title": "t", "content": "c", "state": "notfullfill", "sign_date": "2018-01-01", "expire_date": "2018-12-31"}),
        )
        .await;
    assert_eq!(again.status, 409);
    let unknown = app
        .post_auth(
            "/admin/v1/retail/contracts",
            &admin,
            json!({"contract_id": "X1", "credit_code": "D2143569X", "company_id": "nope",
                   "title": "t", "content": "c", "state": "fullfill", "sign_date": "2018-01-01", "expire_date": "2018-12-31"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        app.get("/retail/user/contracts", Some(&t))
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let put = app
        .client
        .put(format!("{}/admin/v1/retail/monthly-use", app.base))
        .bearer_auth(&admin)
        .json(&json!({"credit_code": MEIZU, "year": 2018, "month": 5, "number": "612.125"}))
        .send()
        .await
        .expect("send");
    assert_eq!(put.status(), 204);
    assert_eq!(
        app.get("/retail/user/elec_situation?year=2018", Some(&t))
            .await
            .body,
        json!([{"month": "5", "number": "612.1250"}])
    );
    let seen = app
        .get(
            &format!("/admin/v1/retail/monthly-use?credit_code={MEIZU}&year=2018"),
            Some(&admin),
        )
        .await;
    assert_eq!(
        seen.body["items"],
        json!([{"month": 5, "number": "612.1250"}])
    );
    let plans = app
        .get(
            &format!("/admin/v1/retail/plans?credit_code={MEIZU}"),
            Some(&admin),
        )
        .await;
    assert_eq!(plans.body["items"][0]["number"], "888");

    let b = app
        .post_auth(
            "/admin/v1/retail/bills",
            &admin,
            json!({"id": "SB201805", "credit_code": MEIZU, "date": "2018-06-05", "elec_use_date": "2018-05-01",
                   "user_benefits": 12.5, "settle_number": 1, "actual_elec_use": "2", "declare_elec_number": 3,
                   "decompose_elec_number": 4, "consultation_earn": 5, "assign_elec_number": 6, "bid_income": -7,
                   "check_elec_number": 8, "check_bill": "9.1234"}),
        )
        .await;
    assert_eq!(b.status, 201, "{:?}", b.body);
    assert_eq!(b.body["state"], "unconfirmed");
    let bad = app
        .post_auth("/admin/v1/retail/bills", &admin, json!({"credit_code": MEIZU, "date": "2018-06-05", "elec_use_date": "2018-05-01", "user_benefits": "1.001"}))
        .await;
    assert_eq!(bad.status, 400);
    let confirmed = app
        .post_auth(
            "/admin/v1/retail/bills/SB201805/confirm",
            &admin,
            json!({"confirmer": "王敏", "confirm_date": "2018-06-10"}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["state"], "confirmed");
    assert_eq!(confirmed.body["confirm_date"], "2018-06-10");
    assert_eq!(
        app.post_auth(
            "/admin/v1/retail/bills/SB201805/confirm",
            &admin,
            json!({"confirmer": "王敏"})
        )
        .await
        .status,
        409
    );
    let (_, text) = raw(&app, "/retail/user/settlement_bills", &t).await;
    assert!(
        text.contains("\"check_bill\":9.1234") && text.contains("\"user_benefits\":12.50"),
        "{text}"
    );
    assert_eq!(app.get("/admin/v1/retail/bills", None).await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_surface_has_its_own_listener_and_openapi() {
    let app = spawn_with(|c| {
        c.surface_bind.insert("retail".into(), "127.0.0.1:0".into());
    })
    .await;
    let (_, addr) = app
        .extra
        .iter()
        .find(|(n, _)| n == "retail")
        .expect("retail listener");
    let base = format!("http://{addr}");
    let r = app
        .client
        .get(format!("{base}/qr_code"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let doc = app.get("/retail/openapi.json", None).await;
    assert!(doc.body["paths"]["/user/settlement_bills"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn captchas_are_limited_per_client_and_stay_out_of_the_outbox_without_dev() {
    let app = spawn_with(|c| {
        c.retail.captchas_per_minute = 2;
        c.dev.enabled = false;
        c.dev.sim_clock = None;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(app.get("/retail/qr_code", None).await.status, 200);
    }
    let r = app.get("/retail/qr_code", None).await;
    assert_error(&r, 429, "rate_limited");
    assert!(
        app.outbox_lines().is_empty(),
        "without --dev nothing is written to the outbox"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_keeps_the_captcha_in_a_cookie_and_names_things_its_own_way() {
    let app = app().await;
    let resp = app
        .client
        .get(format!("{}/retail/qr_code", app.base))
        .send()
        .await
        .expect("send");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("retail_captcha="), "{cookie}");
    let body: Value = resp.json().await.expect("json");
    let id = body["captcha_id"].as_str().expect("id");
    let answer = app.last_code(id, "captcha");
    let r = app
        .client
        .post(format!("{}/retail/user/register", app.base))
        .header("cookie", &cookie)
        .form(&[
            ("mobile", "13700000001"),
            ("pwd", "password-1"),
            ("code", &answer),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    // Binding with the company's name rather than its id.
    let t = token(&app, "13700000001", "password-1").await;
    let (id, answer) = captcha(&app).await;
    let before = app.outbox_lines().len();
    let r = app
        .post_auth(
            "/retail/user/bind_code",
            &t,
            json!({"company": "珠海高远电能科技有限公司", "enterprise_name": "珠海远光软件股份有限公司",
                   "organization_code": YGSOFT, "phone_last4": "0002", "captchaId": id, "code": answer}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, code) = bind_code_sent(&app, before);
    let r = app
        .post_auth(
            "/retail/user/bind",
            &t,
            json!({"company": "珠海高远电能科技有限公司", "service": "售电服务",
                   "enterprise_name": "珠海远光软件股份有限公司", "organization_code": YGSOFT,
                   "phone_last4": "0002", "verifyCode": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn odd_requests_get_the_envelope_never_a_500() {
    let app = app().await;
    let t = demo_token(&app).await;
    // A wrong method on a known path.
    let r = app.get("/retail/user/login", None).await;
    assert_error(&r, 405, "method_not_allowed");
    // Control characters (a NUL would even upset PostgreSQL).
    assert_error(
        &app.post(
            "/retail/user/login",
            json!({"phone": "\u{0}", "password": "x"}),
        )
        .await,
        400,
        "invalid",
    );
    assert_error(
        &app.post_auth("/retail/user/bind", &t, json!({"company_id": "a\u{0}b"}))
            .await,
        400,
        "invalid",
    );
    // A repeated query parameter; a picture outside multipart.
    assert_error(
        &app.get("/retail/user/elec_situation?year=2017&year=2018", Some(&t))
            .await,
        400,
        "invalid",
    );
    assert_error(
        &app.post_auth(
            "/retail/user/recommend",
            &t,
            json!({"content": "x", "picture": "data:image/png;base64,AAAA"}),
        )
        .await,
        415,
        "unsupported_type",
    );
    // Unconfirmed bills keep the document's string types.
    let bills = app.get("/retail/user/settlement_bills", Some(&t)).await;
    let open = bills
        .body
        .as_array()
        .expect("array")
        .iter()
        .find(|b| b["state"] == "unconfirmed")
        .expect("an unconfirmed bill")
        .clone();
    assert_eq!(
        (&open["confirmer"], &open["confirm_date"]),
        (&json!(""), &json!(""))
    );
    app.stop().await;
}

#[tokio::test]
async fn guessing_an_enterprises_details_locks_the_guesser_not_the_enterprise() {
    let app = app().await;
    let company = app.get("/retail/companies", None).await.body[0]["id"].clone();
    // Each guess from a fresh account, all from one address: that address is stopped.
    let mut last = None;
    for i in 0..12 {
        let phone = format!("137000001{i:02}");
        register(&app, &phone, "password-1").await;
        let t = token(&app, &phone, "password-1").await;
        let r = bind_enterprise(
            &app,
            &t,
            json!({"company_id": company, "services": ["售电服务"], "enterprise_name": "珠海远光软件股份有限公司",
                   "credit_code": YGSOFT, "phone_last4": format!("90{i:02}")}),
        )
        .await;
        let limited = r.status == 429;
        last = Some(r);
        if limited {
            assert!(
                i >= 2,
                "the limit is per address and enterprise, across accounts"
            );
            break;
        }
    }
    let r = last.expect("tries");
    assert_error(&r, 429, "rate_limited");
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("绑定")),
        "{:?}",
        r.body
    );
    // The enterprise's own person, at another address, with the right details: a code is sent
    // and the binding succeeds (slowed down at most, never refused).
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().ok())
        .build()
        .expect("client");
    register(&app, "13700000099", "password-9").await;
    let t = token(&app, "13700000099", "password-9").await;
    let (id, answer) = captcha(&app).await;
    let before = app.outbox_lines().len();
    let send = |path: &str, body: Value| {
        let req = elsewhere
            .post(format!("{}{path}", app.base))
            .bearer_auth(&t)
            .json(&body);
        async move {
            let resp = req.send().await.expect("send");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let started = std::time::Instant::now();
    let (status, body) = send(
        "/retail/user/bind_code",
        json!({"company_id": company, "enterprise_name": "珠海远光软件股份有限公司",
               "credit_code": YGSOFT, "phone_last4": "0002", "captcha_id": id, "captcha": answer}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    let (_, code) = bind_code_sent(&app, before);
    let (status, body) = send(
        "/retail/user/bind",
        json!({"company_id": company, "services": ["售电服务"], "enterprise_name": "珠海远光软件股份有限公司",
               "credit_code": YGSOFT, "phone_last4": "0002", "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["binding"]["enterprise_code"], YGSOFT);
    app.stop().await;
}

#[tokio::test]
async fn a_browser_form_data_body_works_too() {
    let app = app().await;
    let (id, answer) = captcha(&app).await;
    let (ct, body) = multipart(&[
        ("phone", None, b"13700000001"),
        ("password", None, b"password-1"),
        ("captcha_id", None, id.as_bytes()),
        ("captcha", None, answer.as_bytes()),
    ]);
    let resp = app
        .client
        .post(format!("{}/retail/user/register", app.base))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    // A file where none is expected is refused.
    let (ct, body) = multipart(&[("phone", Some("x.png"), b"13700000001")]);
    let resp = app
        .client
        .post(format!("{}/retail/user/login", app.base))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    app.stop().await;
}

/// A PATCH as the operator; status and body.
async fn patch(app: &TestApp, admin: &str, path: &str, body: Value) -> Reply {
    let resp = app
        .client
        .patch(format!("{}{path}", app.base))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    Reply {
        status,
        body: resp.json().await.expect("json"),
    }
}

#[tokio::test]
async fn operators_change_enterprises_companies_and_contracts() {
    let app = app().await;
    let admin = app.admin_token().await;
    let t = demo_token(&app).await;
    // Rotating the contact phone changes which digits bind.
    let r = patch(
        &app,
        &admin,
        &format!("/admin/v1/retail/enterprises/{YGSOFT}"),
        json!({"contact_phone": "13800004321"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["contact_phone"], "13800004321");
    register(&app, "13700000001", "password-1").await;
    let u = token(&app, "13700000001", "password-1").await;
    let company = app.get("/retail/companies", None).await.body[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bind = |last4: &'static str| {
        let (app, u, company) = (&app, &u, &company);
        async move {
            bind_enterprise(
                app,
                u,
                json!({"company_id": company, "services": ["售电服务"], "enterprise_name": "珠海远光软件股份有限公司",
                       "credit_code": YGSOFT, "phone_last4": last4}),
            )
            .await
        }
    };
    assert_error(&bind("0002").await, 400, "invalid");
    let before = app.outbox_lines().len();
    assert_eq!(bind("4321").await.status, 200);
    // The code went to the new phone.
    assert_eq!(bind_code_sent(&app, before).0, "13800004321");
    assert_eq!(
        patch(
            &app,
            &admin,
            &format!("/admin/v1/retail/enterprises/{YGSOFT}"),
            json!({"contact_phone": "123"})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        patch(
            &app,
            &admin,
            "/admin/v1/retail/enterprises/D2143569X",
            json!({"name": "x"})
        )
        .await
        .status,
        404
    );
    // A company's services.
    let r = patch(
        &app,
        &admin,
        &format!("/admin/v1/retail/companies/{company}"),
        json!({"services": ["售电服务", "绿电交易"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.get("/retail/companies", None).await.body[0]["services"],
        json!(["售电服务", "绿电交易"])
    );
    // A contract's state and files, as the user then sees them.
    let r = patch(
        &app,
        &admin,
        "/admin/v1/retail/contracts/GD441520170601",
        json!({"state": "notfullfill", "files": ["补充协议.pdf"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = &app.get("/retail/user/contracts", Some(&t)).await.body[0];
    assert_eq!(c["state"], "notfullfill");
    assert_eq!(c["files"], json!(["补充协议.pdf"]));
    assert_eq!(
        patch(
            &app,
            &admin,
            "/admin/v1/retail/contracts/GD441520170601",
            json!({"state": "done"})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        patch(
            &app,
            &admin,
            "/admin/v1/retail/contracts/NOPE",
            json!({"state": "fullfill"})
        )
        .await
        .status,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn without_an_sms_provider_the_phone_code_is_unavailable() {
    let app = spawn_with(|c| {
        c.server.demo = true;
        c.dev.enabled = false;
        c.dev.sim_clock = None;
    })
    .await;
    let t = demo_token(&app).await;
    let r = app
        .post_auth(
            "/retail/user/send_code",
            &t,
            json!({"phone": "13700000006"}),
        )
        .await;
    assert_error(&r, 503, "unavailable");
    app.stop().await;
}
