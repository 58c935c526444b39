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
