//! Baseline for `bench/run.sh`: the smallest sensible axum 0.8 JSON endpoint.
//!
//! It answers `GET /heating/api/user/profile` with a profile envelope of the same
//! shape as utilhall's, but without authentication, database or middleware. The
//! body is serialized per request (and the timestamp taken per request), so the
//! comparison measures what the real server adds on top of "axum + serde_json".
//!
//! With a second argument, a JSON file, it also answers `GET /reply` with that document,
//! serialized per request: the baseline of an endpoint whose replies are that large (e.g. a
//! page of 20 IoT orders, ~30 KB, for `bench/iot.sh`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18091".to_string());

    let data = Arc::new(json!({
        "id": "64a7b8c9d1e2f3a4b5c6d7e8",
        "phone": "13888888888",
        "nickname": "用户昵称",
        "avatar": "",
        "real_name": "张三",
        "id_card": "610102********1234",
        "address": "天山区xx小区xx号楼xx单元xx室",
        "heat_account": null,
        "balance": 0.00,
        "created_at": "2024-01-01T12:00:00.000Z",
        "updated_at": "2024-01-01T12:00:00.000Z"
    }));

    let reply: Arc<Value> = Arc::new(match std::env::args().nth(2) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
        None => Value::Null,
    });

    let app = Router::new()
        .route("/heating/api/user/profile", get(profile))
        .with_state(data)
        .route(
            "/reply",
            get(move || {
                let reply = reply.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        serde_json::to_vec(&*reply).unwrap_or_default(),
                    )
                }
            }),
        );

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    eprintln!("baseline listening on {addr}");
    axum::serve(listener, app).await.expect("serve");
}

async fn profile(State(data): State<Arc<Value>>) -> Json<Value> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Json(json!({
        "code": 200,
        "message": "获取成功",
        "data": &*data,
        "timestamp": timestamp,
    }))
}
