//! The operator API and the simulated clock.

use serde_json::json;

use crate::common::{spawn_app, spawn_with};

#[tokio::test]
async fn operators_log_in_and_out() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let r = app.get("/admin/v1/me", Some(&token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], "admin");
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "admin", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "unauthorized");
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "nobody", "password": "whatever1"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .post("/admin/v1/login", json!({"username": "admin"}))
        .await;
    assert_eq!(r.status, 400);
    let r = app.post_auth("/admin/v1/logout", &token, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.get("/admin/v1/me", Some(&token)).await.status, 401);
    assert_eq!(app.get("/admin/v1/me", None).await.status, 401);
    assert_eq!(app.get("/admin/v1/nothing", None).await.status, 404);
    // A heating user's token is no operator token.
    let user = app.user_token("13500000001").await;
    assert_eq!(app.get("/admin/v1/me", Some(&user)).await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn operator_tokens_expire() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.advance(12 * 3600).await;
    assert_eq!(app.get("/admin/v1/me", Some(&token)).await.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_simulated_clock_moves_only_when_told() {
    let app = spawn_app().await;
    let r = app.get("/admin/v1/clock", None).await;
    assert_eq!(r.body["now"], "2026-01-05T02:00:00.000Z");
    assert_eq!(r.body["simulated"], true);
    let r = app
        .post("/admin/v1/clock", json!({"advance_seconds": 90}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["now"], "2026-01-05T02:01:30.000Z");
    let r = app
        .post(
            "/admin/v1/clock",
            json!({"to": "2026-02-01T08:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["now"], "2026-02-01T00:00:00.000Z");
    // Backwards, negative, malformed, ambiguous: refused, clock unchanged.
    for body in [
        json!({"to": "2026-01-01T00:00:00Z"}),
        json!({"advance_seconds": -5}),
        json!({"to": "yesterday"}),
        json!({}),
        json!({"advance_seconds": 1, "to": "2027-01-01T00:00:00Z"}),
        json!({"advance": 1}),
    ] {
        let r = app.post("/admin/v1/clock", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(r.body["error"]["message"].is_string());
    }
    assert_eq!(
        app.get("/admin/v1/clock", None).await.body["now"],
        "2026-02-01T00:00:00.000Z"
    );
    // A token that is sent must be valid.
    let r = app
        .post_auth("/admin/v1/clock", "bogus", json!({"advance_seconds": 1}))
        .await;
    assert_eq!(r.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_system_clock_cannot_be_moved() {
    let app = spawn_with(|c| c.dev.sim_clock = None).await;
    let r = app
        .post("/admin/v1/clock", json!({"advance_seconds": 10}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["error"]["code"], "clock_not_simulated");
    assert_eq!(
        app.get("/admin/v1/clock", None).await.body["simulated"],
        false
    );
    app.stop().await;
}

#[tokio::test]
async fn operator_password_guessing_is_bounded() {
    let app = spawn_with(|c| {
        c.auth.max_failed_logins = 3;
        c.auth.admin_login_ip_limit = 6;
    })
    .await;
    app.state
        .operators
        .ensure("admin", "admin123456")
        .await
        .expect("operator");
    for _ in 0..3 {
        let r = app
            .post(
                "/admin/v1/login",
                json!({"username": "admin", "password": "guess-guess"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "admin", "password": "admin123456"}),
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    // The guesser is stopped, not the operator: from another address the right password works
    // at once (held back a moment at most, since the account is being guessed).
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().ok())
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let resp = elsewhere
        .post(format!("{}/admin/v1/login", app.base))
        .json(&json!({"username": "admin", "password": "admin123456"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
    // Wrong guesses from the other address are that address's own count.
    let resp = elsewhere
        .post(format!("{}/admin/v1/login", app.base))
        .json(&json!({"username": "admin", "password": "guess-guess"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    // Unknown names are counted the same way, and tell nothing about which names exist.
    for _ in 0..2 {
        let r = app
            .post(
                "/admin/v1/login",
                json!({"username": "ghost", "password": "guess-guess"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // The address has used its 6 attempts in the window.
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "ghost", "password": "guess-guess"}),
        )
        .await;
    assert_eq!(r.status, 429);
    app.advance(900).await;
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "admin", "password": "admin123456"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.stop().await;
}
