//! Listeners, health, metrics, docs and demo data.

use serde_json::json;

use crate::common::{base_config, spawn_app, spawn_with, start};

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let r = app.get("/health", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["database"]["reachable"], true);
    assert!(matches!(
        r.body["database"]["backend"].as_str(),
        Some("sqlite" | "postgres")
    ));
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_surface_and_route() {
    let app = spawn_app().await;
    app.get("/heating/api/config/system", None).await;
    app.get("/heating/api/config/system", None).await;
    app.get("/heating/api/user/profile", None).await;
    let resp = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain")
    );
    let text = resp.text().await.expect("text");
    assert!(
        text.contains(r#"utilhall_http_requests_total{surface="heating",method="GET",route="/heating/api/config/system",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/heating/api/user/profile",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("utilhall_http_request_duration_seconds_bucket{surface=\"heating\""),
        "{text}"
    );
    app.stop().await;
}

/// One instance alone on its database leads its background jobs (on PostgreSQL through the
/// jobs' advisory lock, within a second of starting).
#[tokio::test]
async fn a_single_instance_runs_the_background_jobs() {
    let app = spawn_app().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = app
            .client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let sweeps = text
            .lines()
            .find_map(|l| l.strip_prefix(r#"utilhall_job_runs_total{job="iot_sweep"} "#))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if text.contains("\nutilhall_jobs_leader 1\n") && sweeps >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("health");
    let id = resp.headers().get("x-request-id").expect("x-request-id");
    assert_eq!(id.len(), 32);
    let resp = app
        .client
        .get(format!("{}/heating/health", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("health");
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    app.stop().await;
}

#[tokio::test]
async fn openapi_documents_and_the_docs_page_are_served() {
    let app = spawn_app().await;
    for path in [
        "/heating/openapi.json",
        "/meter/openapi.json",
        "/admin/v1/openapi.json",
    ] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.body["openapi"]
                .as_str()
                .expect("openapi")
                .starts_with("3."),
            "{path}"
        );
        assert!(
            !r.body["paths"].as_object().expect("paths").is_empty(),
            "{path}"
        );
    }
    let heating = app.get("/heating/openapi.json", None).await;
    for p in [
        "/api/sms/send",
        "/api/auth/login",
        "/api/user/profile",
        "/api/config/system",
        "/health",
    ] {
        assert!(
            heating.body["paths"].get(p).is_some(),
            "heating openapi lacks {p}"
        );
    }
    let resp = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .expect("docs");
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.expect("html");
    assert!(html.contains("/heating/openapi.json"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_surface_can_have_its_own_listener() {
    let app = spawn_with(|c| {
        c.surface_bind
            .insert("heating".into(), "127.0.0.1:0".into());
    })
    .await;
    let (_, addr) = app
        .extra
        .iter()
        .find(|(n, _)| n == "heating")
        .expect("heating listener");
    let client = reqwest::Client::new();
    let r: serde_json::Value = client
        .post(format!("http://{addr}/api/sms/send"))
        .json(&json!({"phone": "13888888888", "type": "login"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(r["code"], 200, "{r}");
    let r: serde_json::Value = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(r["data"]["mongodb"], "connected");
    // The main listener still has it under the prefix.
    assert_eq!(app.get("/heating/health", None).await.code(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_surface_name_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = base_config(&dir).await;
    config
        .surface_bind
        .insert("nonsense".into(), "127.0.0.1:0".into());
    let err = utilhall::app::App::build(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("unknown surface"), "{err}");
}

#[tokio::test]
async fn demo_data_is_idempotent_and_uses_the_documents_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = base_config(&dir).await;
    config.server.demo = true;
    let app = start(config.clone(), dir).await;
    let r = app
        .post(
            "/heating/api/auth/login",
            json!({"phone": "13888888888", "password": "123456789"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    let token = r.data()["token"].as_str().expect("token").to_owned();
    let profile = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(profile.data()["real_name"], "张三");
    assert_eq!(profile.data()["id_card"], "610102********1234");
    assert_eq!(profile.data()["nickname"], "用户昵称");
    let r = app
        .post(
            "/admin/v1/login",
            json!({"username": "admin", "password": "admin123456"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // Loading again changes nothing and does not fail.
    app.state.load_demo().await.expect("demo again");
    let again = app.get("/heating/api/user/profile", Some(&token)).await;
    assert_eq!(again.data()["id"], profile.data()["id"]);
    app.stop().await;
}
