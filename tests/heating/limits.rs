//! The document's global limit per client IP.

use crate::common::spawn_with;

#[tokio::test]
async fn each_ip_gets_its_quota_per_window() {
    let app = spawn_with(|c| {
        c.heating.rate_limit_requests = 3;
        c.heating.rate_limit_window_seconds = 900;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/heating/api/config/system", None).await.code(),
            200
        );
    }
    let r = app.get("/heating/api/config/system", None).await;
    assert_eq!(r.code(), 1008);
    assert_eq!(r.status, 429);
    assert_eq!(r.body["message"], "操作频繁，请稍后再试");
    let resp = app
        .client
        .get(format!("{}/heating/api/config/system", app.base))
        .send()
        .await
        .expect("send");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    let r = app.send_sms("13888888888", "login").await;
    assert_eq!(r.code(), 1008, "every heating endpoint counts");
    // Other surfaces are not limited by the heating rule.
    assert_eq!(app.get("/admin/v1/clock", None).await.status, 200);
    app.advance(900).await;
    assert_eq!(
        app.get("/heating/api/config/system", None).await.code(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_proxys_entry_counts() {
    let app = spawn_with(|c| {
        c.heating.rate_limit_requests = 2;
        c.server.trust_forwarded_for = true;
    })
    .await;
    let get = |xff: &'static str| {
        let req = app
            .client
            .get(format!("{}/heating/api/config/system", app.base))
            .header("x-forwarded-for", xff);
        async move {
            req.send()
                .await
                .expect("send")
                .json::<serde_json::Value>()
                .await
                .expect("json")["code"]
                .clone()
        }
    };
    // The client writes what it likes before the proxy's entry; only the last one counts.
    assert_eq!(get("1.1.1.1, 10.0.0.7").await, 200);
    assert_eq!(get("2.2.2.2, 10.0.0.7").await, 200);
    assert_eq!(get("3.3.3.3, 10.0.0.7").await, 1008);
    assert_eq!(get("10.0.0.8").await, 200);
    app.stop().await;
}
