//! Section 3: profile and password.

use serde_json::json;

use crate::common::spawn_app;

#[tokio::test]
async fn profile_shows_the_documented_fields() {
    let app = spawn_app().await;
    let token = app.user_token("13600000001").await;
    let r = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(r.code(), 200);
    assert_eq!(r.body["message"], "获取成功");
    let d = r.data();
    for field in [
        "id",
        "phone",
        "nickname",
        "avatar",
        "real_name",
        "id_card",
        "address",
        "heat_account",
        "balance",
        "created_at",
        "updated_at",
    ] {
        assert!(d.get(field).is_some(), "missing {field}: {d}");
    }
    assert_eq!(d["phone"], "13600000001");
    assert_eq!(d["real_name"], "");
    assert!(d["heat_account"].is_null());
    assert_eq!(d["balance"].as_f64(), Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn update_reports_the_fields_and_masks_the_id_card() {
    let app = spawn_app().await;
    let token = app.user_token("13600000002").await;
    let r = app
        .put_auth(
            "/heating/api/user/profile",
            &token,
            json!({"nickname": "新昵称", "address": "新地址"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "更新成功");
    assert_eq!(r.data()["updated_fields"], json!(["nickname", "address"]));

    let r = app
        .put_auth(
            "/heating/api/user/profile",
            &token,
            json!({"real_name": "张三", "id_card": "610102199001011231"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.data()["updated_fields"], json!(["real_name", "id_card"]));

    let d = app
        .get("/heating/api/user/profile", Some(&token))
        .await
        .body["data"]
        .clone();
    assert_eq!(d["nickname"], "新昵称");
    assert_eq!(d["address"], "新地址");
    assert_eq!(d["real_name"], "张三");
    assert_eq!(d["id_card"], "610102********1231");
    app.stop().await;
}

#[tokio::test]
async fn update_refuses_bad_values_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.user_token("13600000003").await;
    // The document's own example fails the check digit.
    for id_card in [
        "610102199001011234",
        "61010219900101123",
        "6101021990010112345",
        "610102199013011231",
        "abc",
    ] {
        let r = app
            .put_auth(
                "/heating/api/user/profile",
                &token,
                json!({"nickname": "改了", "id_card": id_card}),
            )
            .await;
        assert_eq!(r.code(), 400, "{id_card}: {:?}", r.body);
    }
    let r = app
        .put_auth("/heating/api/user/profile", &token, json!({}))
        .await;
    assert_eq!(r.code(), 400);
    let r = app
        .put_auth(
            "/heating/api/user/profile",
            &token,
            json!({"nickname": "x".repeat(33)}),
        )
        .await;
    assert_eq!(r.code(), 400);
    let r = app
        .put_auth(
            "/heating/api/user/profile",
            &token,
            json!({"nickname": "   "}),
        )
        .await;
    assert_eq!(r.code(), 400);
    let r = app
        .put_auth("/heating/api/user/profile", &token, json!({"nickname": 5}))
        .await;
    assert_eq!(r.code(), 400);
    let d = app
        .get("/heating/api/user/profile", Some(&token))
        .await
        .body["data"]
        .clone();
    assert_eq!(
        d["nickname"], "13600000003",
        "a refused update changed nothing"
    );
    // Without a token.
    let r = app
        .request(
            reqwest::Method::PUT,
            "/heating/api/user/profile",
            None,
            Some(json!({"nickname": "a"})),
        )
        .await;
    assert_eq!(r.code(), 401);
    app.stop().await;
}

#[tokio::test]
async fn change_password_needs_the_old_password_and_a_code() {
    let app = spawn_app().await;
    let phone = "13600000004";
    app.register(phone, "oldpass1").await;
    let token = app.login(phone).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let other_login = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "oldpass1"}),
        )
        .await;
    let other_token = other_login.data()["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let code = app.sms_code(phone, "reset_password").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let path = "/heating/api/user/password";

    let r = app
        .put_auth(path, &token, json!({"old_password": "nope123", "new_password": "newpass1", "phone": phone, "code": code}))
        .await;
    assert_eq!(r.code(), 1005);
    assert_eq!(r.body["message"], "旧密码错误");
    let r = app
        .put_auth(path, &token, json!({"old_password": "oldpass1", "new_password": "newpass1", "phone": phone, "code": wrong}))
        .await;
    assert_eq!(r.code(), 1002);
    let r = app
        .put_auth(path, &token, json!({"old_password": "oldpass1", "new_password": "short", "phone": phone, "code": code}))
        .await;
    assert_eq!(r.code(), 400);
    let r = app
        .put_auth(path, &token, json!({"old_password": "oldpass1", "new_password": "newpass1", "phone": "13600009999", "code": code}))
        .await;
    assert_eq!(r.code(), 400, "another phone: {:?}", r.body);
    let r = app
        .put_auth(
            path,
            &token,
            json!({"old_password": "oldpass1", "new_password": "newpass1", "phone": phone}),
        )
        .await;
    assert_eq!(r.code(), 400);

    // A code past its lifetime: 1006; a fresh one is needed.
    app.advance(301).await;
    let r = app
        .put_auth(path, &token, json!({"old_password": "oldpass1", "new_password": "newpass1", "phone": phone, "code": code}))
        .await;
    assert_eq!(r.code(), 1006);
    let code = app.sms_code(phone, "reset_password").await;

    let r = app
        .put_auth(path, &token, json!({"old_password": "oldpass1", "new_password": "newpass1", "phone": phone, "code": code}))
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "密码修改成功");
    assert!(r.data().is_null());

    // The new password works, the old one does not; this login stays, the other one is revoked.
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "newpass1"}),
        )
        .await;
    assert_eq!(r.code(), 200);
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "oldpass1"}),
        )
        .await;
    assert_eq!(r.code(), 1005);
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .code(),
        200
    );
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&other_token))
            .await
            .code(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn a_user_sees_only_their_own_profile() {
    let app = spawn_app().await;
    let a = app.user_token("13600000005").await;
    let b = app.user_token("13600000006").await;
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&a)).await.data()["phone"],
        "13600000005"
    );
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&b)).await.data()["phone"],
        "13600000006"
    );
    app.put_auth("/heating/api/user/profile", &a, json!({"nickname": "A"}))
        .await;
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&b)).await.data()["nickname"],
        "13600000006"
    );
    app.stop().await;
}
