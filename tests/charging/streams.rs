//! A stream reads through a small buffer (thousands wait at once): a long message is read in
//! steps, and the stream goes on as before.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{Socket, driver, event, next, ws};
use crate::common::spawn_app;

/// The next reply to a message of the stream's (events that come first are passed over).
async fn reply(socket: &mut Socket) -> serde_json::Value {
    loop {
        let v = next(socket).await.expect("a reply");
        if v["event"] == "reply" {
            return v;
        }
    }
}

#[tokio::test]
async fn a_long_message_is_read_in_steps() {
    let app = spawn_app().await;
    let token = driver(&app, "long").await;
    let mut socket = ws(&app, &format!("token={token}&mode=fast&quantity=10")).await;
    let opening = next(&mut socket).await.expect("opening");
    assert_eq!(opening["code"], 200, "{opening}");
    event(&mut socket, "queued").await;

    // 40 KB, most of it a comment (the document's messages carry comments).
    let padding = "x".repeat(40_000);
    let long = format!("{{\"operation\": \"info\" /* {padding} */}}");
    socket.send(Message::text(long)).await.expect("sent");
    let answer = reply(&mut socket).await;
    assert_eq!(
        (answer["operation"].clone(), answer["code"].clone()),
        (json!("info"), json!(200)),
        "{answer}"
    );
    socket
        .send(Message::text(r#"{"operation":"revise","quantity":12}"#))
        .await
        .expect("sent");
    // The request may be charging already (then the change is refused): either way an answer.
    let answer = reply(&mut socket).await;
    assert_eq!(answer["operation"], "revise", "{answer}");
    app.stop().await;
}
