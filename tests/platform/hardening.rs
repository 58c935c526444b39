//! What a careless or hostile client sends comes back bounded and in each surface's own
//! envelope: oversized bodies are 413 there (never plain text), messages never echo megabytes,
//! and search prefixes are text, not patterns.

use serde_json::Value;

use crate::common::spawn_with;

/// A JSON body of about `bytes` bytes.
fn big_json(bytes: usize) -> String {
    format!("{{\"phone\": \"{}\"}}", "1".repeat(bytes))
}

#[tokio::test]
async fn an_oversized_body_is_413_in_every_surfaces_envelope() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let body = big_json(2 * 1024 * 1024);
    // (path, where the envelope's message is, what else it must have)
    let cases: [(&str, &str, &str); 6] = [
        ("/heating/api/auth/login", "/message", "/code"),
        ("/meter/user/login", "/msg", "/code"),
        ("/retail/user/login", "/message", "/code"),
        ("/charging/login", "/msg", "/error"),
        ("/iot/auth/login", "/message", "/status"),
        ("/admin/v1/login", "/error/message", "/error/code"),
    ];
    for (path, message, other) in cases {
        let resp = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 413, "{path}");
        let text = resp.text().await.expect("text");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: not the envelope: {text}"));
        assert!(
            v.pointer(message)
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty()),
            "{path}: {v}"
        );
        assert!(v.pointer(other).is_some(), "{path}: {v}");
        assert!(text.len() < 1_000, "{path}: {text}");
    }
    // The same body as a form, on the surfaces that take forms.
    let form = format!("phone={}", "1".repeat(2 * 1024 * 1024));
    for path in ["/meter/user/login", "/charging/login", "/retail/user/login"] {
        let resp = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 413, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_import_echoes_a_short_prefix_and_refuses_a_huge_file_in_the_envelope() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let admin = app.admin_token().await;
    // An 8 MB column name: the refusal names a short prefix of it.
    let header = format!("heat_account,{}\n", "x".repeat(8 * 1024 * 1024));
    let resp = app
        .client
        .post(format!("{}/admin/v1/heating/accounts/import", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(header)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.expect("text");
    assert!(text.len() < 1_000, "echoed {} bytes", text.len());
    let v: Value = serde_json::from_str(&text).expect("the admin envelope");
    let message = v["error"]["message"].as_str().expect("message");
    assert!(message.contains("unknown column \"xxxx"), "{message}");
    // Over the import's limit: 413 in the admin envelope, not plain text.
    let resp = app
        .client
        .post(format!("{}/admin/v1/heating/bills/import", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(vec![b'a'; 33 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 413);
    let v: Value = resp.json().await.expect("the admin envelope");
    assert_eq!(v["error"]["code"], "too_large", "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_search_prefix_is_text_not_a_pattern() {
    let app = spawn_with(|c| c.server.demo = true).await;
    let admin = app.admin_token().await;
    let total = |prefix: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let resp = app
                .client
                .get(format!("{}/admin/v1/heating/accounts", app.base))
                .query(&[("prefix", prefix)])
                .bearer_auth(admin)
                .send()
                .await
                .expect("send");
            assert_eq!(resp.status().as_u16(), 200);
            let v: Value = resp.json().await.expect("json");
            v["total"].as_i64().unwrap_or_else(|| panic!("total: {v}"))
        }
    };
    assert_eq!(total("H2024").await, 3);
    assert_eq!(total("H20240000").await, 3);
    for wild in ["%", "H%", "H_024", "_", "H2024\\", "%0001"] {
        assert_eq!(total(wild).await, 0, "{wild} matched as a pattern");
    }
    app.stop().await;
}
