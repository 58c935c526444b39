//! Signing in and out, the cookie's flags, CSRF, the Content-Security-Policy, languages.

use crate::common::console::{operator, sign_in, try_sign_in};
use crate::common::spawn_app;

#[tokio::test]
async fn a_page_without_a_session_goes_to_sign_in_and_back() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .get(format!("{}/console/overview?x=1", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/console/login?next=/console/overview%3Fx%3D1"
    );
    let page = client
        .get(format!("{}/console/login", app.base))
        .send()
        .await
        .expect("sent");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let body = page.text().await.expect("body");
    assert!(body.contains("登录"), "Chinese first: {body}");
    assert!(!body.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn operators_sign_in_with_a_strict_http_only_cookie_and_out_again() {
    let app = spawn_app().await;
    let _ = app.state.operators.ensure("admin", "admin123456").await;
    let wrong = try_sign_in(&app, "operator", "admin", "nope-nope").await;
    let page = wrong.err().expect("a wrong password is refused");
    assert_eq!(page.status, 401);
    assert!(page.has("用户名或密码错误"));
    assert!(page.has("value=\"admin\""), "the name is kept");

    let console = operator(&app).await;
    assert!(console.cookie.starts_with("uh_console=o."));
    let overview = console.get("/console/overview").await;
    assert_eq!(overview.status, 200);
    assert!(overview.has("今日收款"));

    let mut english = sign_in(&app, "operator", "admin", "admin123456").await;
    english.lang = "en";
    assert!(english.get("/console/overview").await.has("Received today"));

    // Sign-in answers the cookie's flags.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .post(format!("{}/console/login", app.base))
        .form(&[
            ("kind", "operator"),
            ("username", "admin"),
            ("password", "admin123456"),
        ])
        .send()
        .await
        .expect("sent");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "plain HTTP: not Secure");

    // Signing out without the CSRF value is refused; with it, the session ends.
    let refused = console.post_raw("/console/logout", &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(console.get("/console/overview").await.status, 200);
    let out = console
        .post("/console/logout", "/console/overview", &[])
        .await;
    assert_eq!(out.status, 303);
    let after = console.get("/console/overview").await;
    assert_eq!(after.status, 303, "the token is revoked");
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let app = crate::common::spawn_with(|c| {
        c.server.trust_forwarded_for = true;
    })
    .await;
    let _ = app.state.operators.ensure("admin", "admin123456").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .post(format!("{}/console/login", app.base))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("kind", "operator"),
            ("username", "admin"),
            ("password", "admin123456"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_post_from_another_site_is_refused() {
    let app = spawn_app().await;
    let console = operator(&app).await;
    let r = console
        .client
        .post(format!("{}/console/logout", app.base))
        .header("cookie", &console.cookie)
        .header("origin", "https://evil.example")
        .form(&[("_csrf", console.csrf.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 403);
    assert_eq!(console.get("/console/overview").await.status, 200);
}

#[tokio::test]
async fn iot_accounts_see_only_the_iot_area() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let vendor = sign_in(&app, "iot", "dochen", "dochen123").await;
    assert!(vendor.cookie.starts_with("uh_console=i."));
    let overview = vendor.get("/console/overview").await;
    assert_eq!(overview.status, 403);
    assert!(overview.has("无权"));
    // An operator's name on the IoT side, or a wrong password, does not sign in.
    assert!(
        try_sign_in(&app, "iot", "dochen", "wrong-password")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn unknown_pages_and_assets() {
    let app = spawn_app().await;
    let console = operator(&app).await;
    assert_eq!(console.get("/console/no-such-page").await.status, 404);
    let css = console.get("/console/assets/console.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/css")
    );
    assert_eq!(
        console.get("/console/assets/../Cargo.toml").await.status,
        404
    );
}
