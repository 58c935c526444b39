//! Section 2: register, login, refresh, logout.

use serde_json::json;

use crate::common::{join_all, spawn_app, spawn_with};

#[tokio::test]
async fn register_then_log_in_with_the_sms_code() {
    let app = spawn_app().await;
    let phone = "13800000001";
    let code = app.sms_code(phone, "register").await;
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": phone, "code": code, "password": "123456789", "nickname": "用户昵称"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "注册成功");
    let id = r.data()["user_id"].as_str().expect("user_id");
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(r.data()["phone"], phone);
    assert_eq!(r.data()["nickname"], "用户昵称");
    assert_eq!(r.data()["created_at"], "2026-01-05T02:00:00.000Z");
    app.advance(61).await;

    let code = app.sms_code(phone, "login").await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "登录成功");
    let d = r.data();
    assert!(
        d["token"]
            .as_str()
            .expect("token")
            .starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.")
    );
    assert!(!d["refresh_token"].as_str().expect("refresh").is_empty());
    assert_eq!(d["expires_in"], 7200);
    let info = &d["user_info"];
    assert_eq!(info["id"], id);
    assert_eq!(info["phone"], phone);
    assert_eq!(info["nickname"], "用户昵称");
    assert_eq!(info["avatar"], "");
    assert_eq!(info["is_first_login"], true);
    assert_eq!(info["created_at"], "2026-01-05T02:00:00.000Z");
    assert!(info["updated_at"].is_string());

    // The code was used up: the same code again is refused.
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(r.code(), 1002);

    // Second login: not the first any more.
    app.advance(61).await;
    let data = app.login(phone).await;
    assert_eq!(data["user_info"]["is_first_login"], false);
    app.stop().await;
}

#[tokio::test]
async fn nickname_defaults_to_the_phone() {
    let app = spawn_app().await;
    let r = app.register("13800000002", "secret123").await;
    assert_eq!(r.data()["nickname"], "13800000002");
    app.stop().await;
}

#[tokio::test]
async fn registering_twice_is_1003() {
    let app = spawn_app().await;
    app.register("13800000003", "secret123").await;
    let code = app.sms_code("13800000003", "register").await;
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": "13800000003", "code": code, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 1003);
    assert_eq!(r.body["message"], "用户已存在");
    app.stop().await;
}

#[tokio::test]
async fn register_checks_password_length_code_and_phone() {
    let app = spawn_app().await;
    let phone = "13800000004";
    let code = app.sms_code(phone, "register").await;
    for password in ["12345", "123456789012345678901"] {
        let r = app
            .post(
                "/heating/api/auth/register",
                json!({"phone": phone, "code": code, "password": password}),
            )
            .await;
        assert_eq!(r.code(), 400, "{password}: {:?}", r.body);
    }
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": phone, "code": wrong, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 1002);
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": "138000", "code": code, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 1001);
    // A login code does not register.
    let other = "13800000005";
    let login_code = app.sms_code(other, "login").await;
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": other, "code": login_code, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 1002);
    // Boundary lengths are fine, and the first code still works after the failures.
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": phone, "code": code, "password": "123456"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn login_of_an_unknown_phone_is_1004() {
    let app = spawn_app().await;
    let code = app.sms_code("13800000006", "login").await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "13800000006", "code": code}),
        )
        .await;
    assert_eq!(r.code(), 1004);
    assert_eq!(r.body["message"], "用户不存在，请先注册");
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "1380000", "code": code}),
        )
        .await;
    assert_eq!(r.code(), 1001);
    let r = app
        .post("/heating/api/auth/login", json!({"phone": "13800000006"}))
        .await;
    assert_eq!(r.code(), 400);
    app.stop().await;
}

#[tokio::test]
async fn login_with_password_instead_of_code() {
    let app = spawn_app().await;
    app.register("13800000007", "secret123").await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "13800000007", "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "13800000007", "password": "wrong-one"}),
        )
        .await;
    assert_eq!(r.code(), 1005);
    app.stop().await;
}

#[tokio::test]
async fn access_token_expires_after_7200_seconds() {
    let app = spawn_app().await;
    let token = app.user_token("13800000008").await;
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .code(),
        200
    );
    app.advance(7100).await;
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .code(),
        200
    );
    app.advance(100).await;
    let r = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(r.code(), 401);
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Token已过期");
    app.stop().await;
}

#[tokio::test]
async fn missing_forged_and_foreign_tokens_are_401() {
    let app = spawn_app().await;
    let token = app.user_token("13800000009").await;
    let r = app.get("/heating/api/user/profile", None).await;
    assert_eq!(r.code(), 401);
    let r = app
        .get("/heating/api/user/profile", Some("not-a-token"))
        .await;
    assert_eq!(r.code(), 401);
    assert_eq!(r.body["message"], "Token无效");
    // Flip one character of the signature.
    let mut forged = token.clone();
    let last = forged.pop().expect("char");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&forged))
            .await
            .code(),
        401
    );
    // alg=none is refused.
    let parts: Vec<&str> = token.split('.').collect();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&none))
            .await
            .code(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_login() {
    let app = spawn_app().await;
    app.register("13800000010", "secret123").await;
    let data = app.login("13800000010").await;
    let first_refresh = data["refresh_token"].as_str().expect("refresh").to_owned();

    let r = app
        .post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "token刷新成功");
    assert_eq!(r.data()["expires_in"], 7200);
    let token2 = r.data()["token"].as_str().expect("token").to_owned();
    let refresh2 = r.data()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(refresh2, first_refresh);
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token2))
            .await
            .code(),
        200
    );

    // The old refresh token comes back: refused, and the whole login is revoked.
    let r = app
        .post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(r.code(), 401);
    assert_eq!(r.body["message"], "Token无效");
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token2))
            .await
            .code(),
        401
    );
    let r = app
        .post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": refresh2}),
        )
        .await;
    assert_eq!(r.code(), 401);

    // Unknown and missing refresh tokens.
    assert_eq!(
        app.post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": "nope"})
        )
        .await
        .code(),
        401
    );
    assert_eq!(
        app.post("/heating/api/auth/refresh", json!({}))
            .await
            .code(),
        400
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_refresh_with_one_token_succeeds_at_most_once() {
    let app = spawn_app().await;
    app.register("13800000011", "secret123").await;
    let data = app.login("13800000011").await;
    let refresh = data["refresh_token"].as_str().expect("refresh").to_owned();
    let attempts = (0..8).map(|_| {
        app.post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": refresh.clone()}),
        )
    });
    let replies = join_all(attempts).await;
    let ok = replies.iter().filter(|r| r.code() == 200).count();
    assert_eq!(ok, 1, "exactly one concurrent refresh wins: {replies:?}");
    assert!(replies.iter().all(|r| r.code() == 200 || r.code() == 401));
    app.stop().await;
}

#[tokio::test]
async fn logout_revokes_the_token_at_once() {
    let app = spawn_app().await;
    app.register("13800000012", "secret123").await;
    let data = app.login("13800000012").await;
    let token = data["token"].as_str().expect("token").to_owned();
    let refresh = data["refresh_token"].as_str().expect("refresh").to_owned();
    let r = app
        .post_auth("/heating/api/auth/logout", &token, json!({}))
        .await;
    assert_eq!(r.code(), 200);
    assert_eq!(r.body["message"], "登出成功");
    assert!(r.data().is_null());
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .code(),
        401
    );
    assert_eq!(
        app.post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": refresh})
        )
        .await
        .code(),
        401
    );
    assert_eq!(
        app.post_auth("/heating/api/auth/logout", &token, json!({}))
            .await
            .code(),
        401
    );
    // Logout without a token.
    assert_eq!(
        app.post("/heating/api/auth/logout", json!({})).await.code(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_registrations_all_land() {
    let app = spawn_app().await;
    let mut phones = Vec::new();
    for i in 0..12 {
        let phone = format!("1370000{i:04}");
        let code = app.sms_code(&phone, "register").await;
        phones.push((phone, code));
    }
    let attempts = phones.iter().map(|(phone, code)| {
        app.post(
            "/heating/api/auth/register",
            json!({"phone": phone, "code": code, "password": "secret123"}),
        )
    });
    let replies = join_all(attempts).await;
    for r in &replies {
        assert_eq!(r.code(), 200, "{:?}", r.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_account_is_403_everywhere_until_enabled() {
    let app = spawn_app().await;
    let phone = "13800000013";
    app.register(phone, "secret123").await;
    let data = app.login(phone).await;
    let token = data["token"].as_str().expect("token").to_owned();
    let refresh = data["refresh_token"].as_str().expect("refresh").to_owned();
    let admin = app.admin_token().await;

    let listed = app
        .get("/admin/v1/heating/users?phone=1380000001", Some(&admin))
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["total"], 1);
    let id = listed.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(listed.body["items"][0]["phone"], phone);
    assert_eq!(listed.body["items"][0]["disabled"], false);
    assert!(listed.body["items"][0].get("password_hash").is_none());

    let r = app
        .post_auth(
            &format!("/admin/v1/heating/users/{id}/disable"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["disabled"], true);

    let r = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(r.code(), 403);
    assert_eq!(r.status, 403);
    assert_eq!(r.body["message"], "账号已被禁用，请联系客服");
    assert_eq!(
        app.put_auth(
            "/heating/api/user/profile",
            &token,
            json!({"nickname": "x"})
        )
        .await
        .code(),
        403
    );
    assert_eq!(
        app.post(
            "/heating/api/auth/refresh",
            json!({"refresh_token": refresh})
        )
        .await
        .code(),
        403
    );
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 403);

    let r = app
        .post_auth(
            &format!("/admin/v1/heating/users/{id}/enable"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.get("/heating/api/user/profile", Some(&token))
            .await
            .code(),
        200
    );
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 200);

    // Unknown users, bad queries, no token.
    let r = app
        .post_auth("/admin/v1/heating/users/nope/disable", &admin, json!({}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.get("/admin/v1/heating/users?size=1000", Some(&admin))
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/admin/v1/heating/users?phone=abc", Some(&admin))
            .await
            .status,
        400
    );
    assert_eq!(
        app.get("/admin/v1/heating/users?page=x", Some(&admin))
            .await
            .status,
        400
    );
    assert_eq!(app.get("/admin/v1/heating/users", None).await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn password_guessing_is_bounded_per_phone() {
    let app = spawn_with(|c| c.auth.max_failed_logins = 3).await;
    let phone = "13800000014";
    app.register(phone, "secret123").await;
    for _ in 0..3 {
        let r = app
            .post(
                "/heating/api/auth/login",
                json!({"phone": phone, "password": "guess123"}),
            )
            .await;
        assert_eq!(r.code(), 1005);
    }
    // Locked: even the right password is refused, with the wait in the message.
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 1008, "{:?}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains("密码错误次数过多")
    );
    // An SMS code still logs in.
    let code = app.sms_code(phone, "login").await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    // ... and clears the failures.
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 200);
    // After the window, guessing is possible again but counted afresh.
    for _ in 0..3 {
        app.post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "guess123"}),
        )
        .await;
    }
    assert_eq!(
        app.post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"})
        )
        .await
        .code(),
        1008
    );
    app.advance(900).await;
    assert_eq!(
        app.post(
            "/heating/api/auth/login",
            json!({"phone": phone, "password": "secret123"})
        )
        .await
        .code(),
        200
    );
    app.stop().await;
}
