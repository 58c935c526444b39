//! The IoT surface (seed 002) as its four kinds of caller drive it: log-in, vendors, members,
//! devices, products, orders with payment, tickets, agents and commissions, and who may see
//! what.

#[path = "../common/mod.rs"]
mod common;

mod crash;
mod scope;
mod shapes;
mod shop;
mod sim;

use serde_json::{Value, json};

pub use common::iot::*;
use common::{TestApp, spawn_with};

/// A member's token, by mobile and password.
pub async fn member_login(app: &TestApp, vid: &str, mobile: &str, pwd: &str) -> String {
    let r = call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"vid": vid, "mobile": mobile, "pwd": md5(pwd)})),
    )
    .await
    .expect(201);
    r.data()["token"].as_str().expect("token").to_owned()
}

/// The demo members' tokens, logged in again (tokens last 7 days on the simulated clock).
pub async fn member_tokens(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=4 {
        out.push(member_login(app, VID, &format!("1380000000{n}"), "member123").await);
    }
    out
}

/// The demo, with everyone logged in.
pub struct Demo {
    pub app: TestApp,
    pub platform: String,
    pub vendor: String,
    pub vid: String,
    pub agent: String,
    pub dealer: String,
    /// Members 1..4 (each referred by the one before; the first by the dealer).
    pub members: Vec<String>,
    pub member_ids: Vec<String>,
}

pub const VID: &str = "DOCH000000000001";

pub async fn demo() -> Demo {
    demo_with(|_| {}).await
}

pub async fn demo_with(tweak: impl FnOnce(&mut utilhall::config::Config)) -> Demo {
    let app = spawn_with(|c| {
        c.server.demo = true;
        tweak(c);
    })
    .await;
    let platform = login(&app, "platform", "platform123").await;
    let vendor = login(&app, "dochen", "dochen123").await;
    let agent = login(&app, "dochen_agent", "agent123").await;
    let dealer = login(&app, "dochen_dealer", "dealer123").await;
    let mut members = Vec::new();
    let mut member_ids = Vec::new();
    for n in 1..=4 {
        let t = member_login(&app, VID, &format!("1380000000{n}"), "member123").await;
        let me = get(&app, "/auth/me", &t).await.expect(200);
        member_ids.push(me.data()["uid"].as_str().expect("uid").to_owned());
        members.push(t);
    }
    Demo {
        app,
        platform,
        vendor,
        vid: VID.into(),
        agent,
        dealer,
        members,
        member_ids,
    }
}

#[tokio::test]
async fn log_in_in_both_password_forms_and_refuse_everything_else() {
    let d = demo().await;
    let app = &d.app;
    // The plain password is taken too (digested first).
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "platform", "pwd": "platform123"})),
    )
    .await
    .expect(201);
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "platform", "pwd": md5("wrong")})),
    )
    .await
    .expect(401);
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "nobody", "pwd": md5("wrong")})),
    )
    .await
    .expect(401);
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "platform"})),
    )
    .await
    .expect(422);
    call(app, "GET", "/users", None, None).await.expect(401);
    call(app, "GET", "/users", Some("forged"), None)
        .await
        .expect(401);
    let me = get(app, "/auth/me", &d.vendor).await.expect(200);
    assert_eq!(me.data()["role"], "vendor");
    assert_eq!(me.data()["uid"], VID);
    // A member logs in with an SMS code too.
    call(
        app,
        "POST",
        "/auth/code",
        None,
        Some(json!({"vid": VID, "mobile": "13800000001"})),
    )
    .await
    .expect(201);
    let code = app.last_code("13800000001", "iot-login");
    call(
        app,
        "POST",
        "/auth/sms",
        None,
        Some(json!({"vid": VID, "mobile": "13800000001", "code": "000000"})),
    )
    .await
    .expect(422);
    let r = call(
        app,
        "POST",
        "/auth/sms",
        None,
        Some(json!({"vid": VID, "mobile": "13800000001", "code": code})),
    )
    .await
    .expect(201);
    assert_eq!(r.data()["role"], "member");
    // Malformed requests, unknown paths, methods and formats get the envelope.
    let raw = app
        .client
        .post(format!("{}/iot/users/code", app.base))
        .header("content-type", "application/json")
        .body("{\"vid\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("m")
            .starts_with("Problems parsing JSON"),
        "{body}"
    );
    call(app, "GET", "/nowhere", Some(&d.platform), None)
        .await
        .expect(404);
    call(app, "GET", "/users/a%00b", Some(&d.platform), None)
        .await
        .expect(404);
    call(app, "GET", "/users/%FF%FE", Some(&d.platform), None)
        .await
        .expect(404);
    call(app, "PATCH", "/users", Some(&d.platform), None)
        .await
        .expect(405);
    let xml = app
        .client
        .get(format!("{}/iot/users", app.base))
        .bearer_auth(&d.platform)
        .header("accept", "application/xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(xml.status().as_u16(), 406);
    // Log-out ends the token.
    delete(app, "/auth/token", &d.dealer).await.expect(204);
    get(app, "/auth/me", &d.dealer).await.expect(401);
    d.app.stop().await;
}

#[tokio::test]
async fn the_platform_manages_vendors_and_never_shows_their_secrets() {
    let d = demo().await;
    let app = &d.app;
    let list = get(app, "/vendors", &d.platform).await.expect(200);
    assert_eq!(list.body["vendors"], list.body["data"]);
    let v = &list.data()[0];
    assert_eq!(v["user"], "dochen");
    assert_eq!(v["abbv"], "东臣科技");
    for hidden in ["pwd", "mp_secret", "mch_secret"] {
        assert!(v.get(hidden).is_none(), "{hidden} shown: {v}");
    }
    // AX-02 with the document's fields (and a comment and trailing comma, as in its example).
    let raw = r#"{"user":"aqua","pwd":"PWD","name":"Aqua Ltd","abbv":"Aqua","contact":"联络人","mobile":"13900000000", // 手机
        "mp_secret":"test-mp-secret","mch_appid":"wx-test-mch-appid","mch_secret":"test-mch-secret","code":"AQUA",}"#
        .replace("PWD", &md5("aqua1234"));
    let created = app
        .client
        .post(format!("{}/iot/vendors", app.base))
        .bearer_auth(&d.platform)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.expect("json");
    let vid = created["data"]["vid"].as_str().expect("vid").to_owned();
    assert_eq!(vid, "AQUA000000000001");
    post(
        app,
        "/vendors",
        &d.platform,
        json!({"user": "aqua", "pwd": md5("x12345"), "name": "Again"}),
    )
    .await
    .expect(422);
    post(
        app,
        "/vendors",
        &d.platform,
        json!({"user": "bad user!", "pwd": md5("x12345"), "name": "x"}),
    )
    .await
    .expect(422);
    post(
        app,
        "/vendors",
        &d.vendor,
        json!({"user": "v2", "pwd": md5("x12345"), "name": "x"}),
    )
    .await
    .expect(403);
    get(app, "/vendors", &d.vendor).await.expect(403);
    get(app, &format!("/vendors/{vid}"), &d.members[0])
        .await
        .expect(403);
    let one = get(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(200);
    assert_eq!(one.data()["name"], "Aqua Ltd");
    put(
        app,
        &format!("/vendors/{vid}"),
        &d.platform,
        json!({"vid": vid, "name": "Aqua Water", "area": "珠海"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/vendors/{vid}/mob"),
        &d.platform,
        json!({"mobile": "13900000009"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/vendors/{vid}/mob"),
        &d.platform,
        json!({"mobile": "12"}),
    )
    .await
    .expect(422);
    put(
        app,
        &format!("/vendors/{vid}/mxx"),
        &d.platform,
        json!({"mp_gid": "gh_1", "mp_secret": "test-mp-secret"}),
    )
    .await
    .expect(201);
    put(
        app,
        &format!("/vendors/{vid}/cfg"),
        &d.platform,
        json!({"max_agents": 3, "mch_secret": "test-mch-secret"}),
    )
    .await
    .expect(201);
    let one = get(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(200);
    assert_eq!(one.data()["name"], "Aqua Water");
    assert_eq!(one.data()["mobile"], "13900000009");
    assert_eq!(one.data()["mp_gid"], "gh_1");
    assert_eq!(one.data()["cfg"]["max_agents"], 3);
    put(
        app,
        &format!("/vendors/{vid}/pwd"),
        &d.platform,
        json!({"vid": vid, "pwd": md5("newpass1")}),
    )
    .await
    .expect(201);
    let aqua = login(app, "aqua", "newpass1").await;
    // Signing records (AX-09..12).
    let s = post(
        app,
        &format!("/vendors/{vid}/signing"),
        &d.platform,
        json!({"contract": "C-1", "years": 1}),
    )
    .await
    .expect(201);
    let sid = s.data()["sid"].as_str().expect("sid").to_owned();
    put(
        app,
        &format!("/vendors/{vid}/signing"),
        &d.platform,
        json!({"sid": sid, "contract": "C-2"}),
    )
    .await
    .expect(201);
    let l = get(app, &format!("/vendors/{vid}/signing"), &d.platform)
        .await
        .expect(200);
    assert_eq!(l.data()[0]["contract"], "C-2");
    put(
        app,
        &format!("/vendors/{vid}/signing"),
        &d.platform,
        json!({"sid": "nope"}),
    )
    .await
    .expect(404);
    call(
        app,
        "DELETE",
        &format!("/vendors/{vid}/signing?sid={sid}"),
        Some(&d.platform),
        None,
    )
    .await
    .expect(204);
    // AX-13: gone, and its log-ins end.
    delete(app, &format!("/vendors/{vid}"), &d.vendor)
        .await
        .expect(403);
    delete(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(204);
    get(app, &format!("/vendors/{vid}"), &d.platform)
        .await
        .expect(410);
    get(app, "/auth/me", &aqua).await.expect(401);
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "aqua", "pwd": md5("newpass1")})),
    )
    .await
    .expect(401);
    get(app, "/vendors/NOPE000000000001", &d.platform)
        .await
        .expect(404);
    d.app.stop().await;
}

#[tokio::test]
async fn members_register_change_their_profile_and_are_deleted_by_the_platform() {
    let d = demo().await;
    let app = &d.app;
    let mobile = "13912345678";
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": VID, "mobile": "123"})),
    )
    .await
    .expect(422);
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": "NOPE", "mobile": mobile})),
    )
    .await
    .expect(422);
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": VID, "mobile": mobile})),
    )
    .await
    .expect(201);
    let code = app.last_code(mobile, "iot-register");
    let reg = json!({"mobile": mobile, "code": "999999", "name": "John", "vid": VID, "rid": d.member_ids[0], "pwd": md5("john1234")});
    call(app, "POST", "/users", None, Some(reg.clone()))
        .await
        .expect(422);
    let mut good = reg.clone();
    good["code"] = json!(code);
    let r = call(app, "POST", "/users", None, Some(good.clone()))
        .await
        .expect(201);
    let uid = r.data()["uid"].as_str().expect("uid").to_owned();
    assert!(uid.starts_with("DOCH") && uid.len() == 20, "{uid}");
    let john = r.data()["token"].as_str().expect("token").to_owned();
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": VID, "mobile": mobile})),
    )
    .await
    .expect(422);
    // AA-04: their own profile; another member's is not found.
    let me = get(app, &format!("/users/{uid}"), &john).await.expect(200);
    assert_eq!(me.data()["name"], "John");
    assert_eq!(me.data()["state"], 2);
    assert_eq!(me.data()["rid"], d.member_ids[0].as_str());
    assert!(me.data().get("vid").is_none(), "vid is for the admin side");
    get(app, &format!("/users/{}", d.member_ids[1]), &john)
        .await
        .expect(404);
    // AA-05.
    put(app, &format!("/users/{uid}"), &john, json!({"uid": uid, "name": "John Doe", "email": "j@example.com", "area": "广东省珠海市香洲区"})).await.expect(201);
    // A field a member may not change is refused, named, whatever it is; so is one the
    // member object does not have. Nothing is silently dropped.
    for (body, field) in [
        (json!({"state": 0}), "state"),
        (json!({"name": "x", "type": 3}), "type"),
        (json!({"vip": true}), "vip"),
        (json!({"reg_tms": "2020-01-01T00:00:00Z"}), "reg_tms"),
        (json!({"colour": "red"}), "body"),
    ] {
        let r = put(app, &format!("/users/{uid}"), &john, body.clone())
            .await
            .expect(422);
        assert_eq!(r.body["field"], field, "{body}: {}", r.body);
    }
    let r = put(
        app,
        &format!("/users/{uid}"),
        &john,
        json!({"x".repeat(10_000): 1}),
    )
    .await
    .expect(422);
    assert!(
        r.body.to_string().len() < 1_000,
        "the name is not echoed whole"
    );
    assert_eq!(
        get(app, &format!("/users/{uid}"), &john).await.data()["name"],
        "John Doe",
        "a refused change changes nothing"
    );
    put(
        app,
        &format!("/users/{uid}"),
        &john,
        json!({"mobile": "13900000001"}),
    )
    .await
    .expect(422);
    put(
        app,
        &format!("/users/{uid}"),
        &d.agent,
        json!({"name": "x"}),
    )
    .await
    .expect(403);
    let v = put(
        app,
        &format!("/users/{uid}"),
        &d.vendor,
        json!({"vip": true, "bonus": 123}),
    )
    .await
    .expect(201);
    assert_eq!(v.data()["vip"], true);
    assert_eq!(v.data()["bonus"], 123);
    assert_eq!(v.data()["name"], "John Doe");
    // AA-06: the member gives the old password.
    put(
        app,
        &format!("/users/{uid}/pwd"),
        &john,
        json!({"uid": uid, "old_pwd": md5("wrong"), "new_pwd": md5("john5678")}),
    )
    .await
    .expect(401);
    put(
        app,
        &format!("/users/{uid}/pwd"),
        &john,
        json!({"uid": uid, "old_pwd": md5("john1234"), "new_pwd": md5("john5678")}),
    )
    .await
    .expect(201);
    member_login(app, VID, mobile, "john5678").await;
    // AA-06A/B: a new mobile with its code.
    get(
        app,
        &format!("/users/{uid}/mob/code?mobile=13912340000"),
        &john,
    )
    .await
    .expect(200);
    let c = app.last_code("13912340000", "iot-mobile");
    put(
        app,
        &format!("/users/{uid}/mob"),
        &john,
        json!({"uid": uid, "mobile": "13912340000"}),
    )
    .await
    .expect(422);
    put(
        app,
        &format!("/users/{uid}/mob"),
        &john,
        json!({"uid": uid, "mobile": "13912340000", "code": ""}),
    )
    .await
    .expect(422);
    put(
        app,
        &format!("/users/{uid}/mob"),
        &john,
        json!({"uid": uid, "mobile": "13912340000", "code": c}),
    )
    .await
    .expect(201);
    assert_eq!(
        get(app, &format!("/users/{uid}"), &john)
            .await
            .expect(200)
            .data()["mobile"],
        "13912340000"
    );
    // AA-07: password reset with a code.
    app.advance(61).await;
    call(
        app,
        "POST",
        "/users/rst/code",
        None,
        Some(json!({"uid": uid})),
    )
    .await
    .expect(201);
    let c = app.last_code("13912340000", "iot-reset");
    call(
        app,
        "POST",
        "/users/rst",
        None,
        Some(json!({"uid": uid, "pwd": md5("reset123"), "code": "000000"})),
    )
    .await
    .expect(422);
    call(
        app,
        "POST",
        "/users/rst",
        None,
        Some(json!({"uid": uid, "pwd": md5("reset123"), "code": c})),
    )
    .await
    .expect(201);
    get(app, "/auth/me", &john).await.expect(401);
    let john = member_login(app, VID, "13912340000", "reset123").await;
    // AA-08/AA-09: WeChat binding with a token, then unbinding by the document's path.
    let b = post(
        app,
        "/users/bind",
        &john,
        json!({"openid": "oJohn", "unionid": "uJohn", "nick": "JD", "sex": 1}),
    )
    .await
    .expect(201);
    assert_eq!(b.data()["weixin"]["OpenID"], "oJohn");
    post(
        app,
        "/users/bind",
        &d.members[0],
        json!({"openid": "oJohn"}),
    )
    .await
    .expect(422);
    delete(app, &format!("/users/{uid}bind"), &john)
        .await
        .expect(204);
    // Unbound: the whole object again, with empty values.
    assert_eq!(
        get(app, &format!("/users/{uid}"), &john)
            .await
            .expect(200)
            .data()["weixin"]["OpenID"],
        ""
    );
    delete(app, &format!("/users/{uid}/bind"), &john)
        .await
        .expect(422);
    // Without a token: a new mobile registers through the binding.
    call(
        app,
        "POST",
        "/auth/code",
        None,
        Some(json!({"vid": VID, "mobile": "13800000001"})),
    )
    .await
    .expect(201);
    let c = app.last_code("13800000001", "iot-login");
    let w = call(app, "POST", "/users/bind", None, Some(json!({"vid": VID, "mobile": "13800000001", "code": c, "openid": "oFirst", "nick": "一"}))).await.expect(201);
    assert_eq!(w.data()["uid"], d.member_ids[0].as_str());
    assert!(w.data()["token"].is_string());
    call(
        app,
        "POST",
        "/users/bind",
        None,
        Some(json!({"openid": "oX"})),
    )
    .await
    .expect(422);
    // A new mobile registers through the binding with a registration code (不存在则注册).
    call(
        app,
        "POST",
        "/users/code",
        None,
        Some(json!({"vid": VID, "mobile": "13955550000"})),
    )
    .await
    .expect(201);
    let c = app.last_code("13955550000", "iot-register");
    let n = call(
        app,
        "POST",
        "/users/bind",
        None,
        Some(json!({"vid": VID, "mobile": "13955550000", "code": c, "openid": "oNew"})),
    )
    .await
    .expect(201);
    let new_uid = n.data()["uid"].as_str().expect("uid").to_owned();
    assert!(n.data()["token"].is_string());
    delete(app, &format!("/users/{new_uid}"), &d.platform)
        .await
        .expect(204);
    // AA-01: lists by range.
    let all = get(app, "/users", &d.vendor).await.expect(200);
    assert_eq!(all.body["total"], 5);
    let dealer = get(app, "/users", &d.dealer).await.expect(200);
    assert_eq!(
        dealer.body["total"], 5,
        "every demo member and John came through the dealer"
    );
    get(app, "/users", &john).await.expect(403);
    let page = get(
        app,
        "/users?limit=2&offset=1&sort=name&order=desc",
        &d.vendor,
    )
    .await
    .expect(200);
    assert_eq!(page.data().as_array().expect("a").len(), 2);
    assert_eq!(page.body["total"], 5);
    let filtered = get(app, &format!("/users?uid={uid}"), &d.platform)
        .await
        .expect(200);
    assert_eq!(filtered.body["total"], 1);
    assert_eq!(filtered.data()[0]["vid"], VID);
    get(app, "/users?limit=0", &d.vendor).await.expect(400);
    get(app, "/users?sort=nothing", &d.vendor).await.expect(400);
    get(app, "/users?order=up", &d.vendor).await.expect(400);
    // A disabled member is refused everywhere until enabled again.
    put(
        app,
        &format!("/users/{uid}"),
        &d.vendor,
        json!({"state": 0}),
    )
    .await
    .expect(201);
    call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"vid": VID, "mobile": "13912340000", "pwd": md5("reset123")})),
    )
    .await
    .expect(403);
    put(
        app,
        &format!("/users/{uid}"),
        &d.vendor,
        json!({"state": 2}),
    )
    .await
    .expect(201);
    let john = member_login(app, VID, "13912340000", "reset123").await;
    get(app, &format!("/users/{uid}"), &john).await.expect(200);
    // AA-10: the platform only; then gone.
    delete(app, &format!("/users/{uid}"), &d.vendor)
        .await
        .expect(403);
    delete(app, &format!("/users/{uid}"), &d.platform)
        .await
        .expect(204);
    get(app, &format!("/users/{uid}"), &d.platform)
        .await
        .expect(410);
    get(app, "/auth/me", &john).await.expect(401);
    d.app.stop().await;
}
