//! Sections 6 and 8: agreements, system configuration, health; and their operator side.

use serde_json::json;

use crate::common::spawn_app;

#[tokio::test]
async fn agreements_carry_the_documents_texts() {
    let app = spawn_app().await;
    let r = app.get("/heating/api/config/agreements", None).await;
    assert_eq!(r.code(), 200);
    assert_eq!(r.body["message"], "获取成功");
    let ua = &r.data()["user_agreement"];
    assert_eq!(ua["title"], "用户协议");
    assert!(
        ua["content"]
            .as_str()
            .expect("content")
            .starts_with("欢迎使用精准暖费速办小程序")
    );
    assert_eq!(ua["version"], "1.0");
    assert_eq!(ua["updated_at"], "2024-01-01");
    let pp = &r.data()["privacy_policy"];
    assert_eq!(pp["title"], "隐私政策");
    assert!(
        pp["content"]
            .as_str()
            .expect("content")
            .contains("深知个人信息对您的重要性")
    );
    app.stop().await;
}

#[tokio::test]
async fn system_config_carries_the_documents_values() {
    let app = spawn_app().await;
    let r = app.get("/heating/api/config/system", None).await;
    assert_eq!(r.code(), 200);
    let d = r.data();
    assert_eq!(d["customer_service_phone"], "0991-1234567");
    assert_eq!(d["business_hours"], "周一至周五 9:00-18:00");
    assert_eq!(d["company_name"], "乌鲁木齐热力集团有限公司");
    assert_eq!(d["company_address"], "乌鲁木齐市天山区...");
    assert_eq!(d["app_version"], "1.0.0");
    assert!(
        d["announcement"]
            .as_str()
            .expect("announcement")
            .contains("12月1日")
    );
    assert!(d["maintenance_notice"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn operators_edit_agreements_and_config() {
    let app = spawn_app().await;
    // Without a token: refused.
    let r = app
        .request(
            reqwest::Method::PUT,
            "/admin/v1/heating/agreements/user_agreement",
            None,
            Some(json!({"version": "2.0"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let admin = app.admin_token().await;
    let r = app
        .put_auth(
            "/admin/v1/heating/agreements/user_agreement",
            &admin,
            json!({"content": "新的用户协议", "version": "2.0"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get("/heating/api/config/agreements", None).await;
    let ua = &r.data()["user_agreement"];
    assert_eq!(ua["content"], "新的用户协议");
    assert_eq!(ua["version"], "2.0");
    assert_eq!(ua["title"], "用户协议");
    assert_eq!(
        ua["updated_at"], "2026-01-05",
        "local date of the simulated clock"
    );
    let r = app
        .put_auth(
            "/admin/v1/heating/agreements/nonsense",
            &admin,
            json!({"version": "2.0"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .put_auth(
            "/admin/v1/heating/agreements/privacy_policy",
            &admin,
            json!({"content": " "}),
        )
        .await;
    assert_eq!(r.status, 400);

    let r = app
        .put_auth(
            "/admin/v1/heating/system-config",
            &admin,
            json!({"maintenance_notice": "今晚维护", "announcement": null, "app_version": "1.1.0"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = app.get("/heating/api/config/system", None).await.body["data"].clone();
    assert_eq!(d["maintenance_notice"], "今晚维护");
    assert!(d["announcement"].is_null());
    assert_eq!(d["app_version"], "1.1.0");
    assert_eq!(d["customer_service_phone"], "0991-1234567");
    let r = app
        .put_auth(
            "/admin/v1/heating/system-config",
            &admin,
            json!({"bogus": 1}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app.get("/admin/v1/heating/agreements", Some(&admin)).await;
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(2));
    app.stop().await;
}

#[tokio::test]
async fn health_keeps_the_documented_fields() {
    let app = spawn_app().await;
    let r = app.get("/heating/health", None).await;
    assert_eq!(r.code(), 200);
    assert_eq!(r.body["message"], "success");
    assert_eq!(r.data()["status"], "OK");
    assert_eq!(r.data()["mongodb"], "connected");
    assert_eq!(r.data()["timestamp"], "2026-01-05T02:00:00.000Z");
    assert!(matches!(
        r.data()["database"].as_str(),
        Some("sqlite" | "postgres")
    ));
    assert_eq!(r.body["timestamp"], 1_767_578_400_000_i64);
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_envelope() {
    let app = spawn_app().await;
    let r = app.get("/heating/api/nothing/here", None).await;
    assert_eq!(r.code(), 404);
    assert_eq!(r.status, 404);
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/heating/api/user/profile",
            None,
            None,
        )
        .await;
    assert_eq!(r.code(), 405);
    app.stop().await;
}

#[tokio::test]
async fn health_says_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.store.close().await;
    let r = app.get("/heating/health", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), 503);
    assert_eq!(r.data()["status"], "ERROR");
    assert_eq!(r.data()["mongodb"], "disconnected");
    let r = app.get("/health", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["database"]["reachable"], false);
}
