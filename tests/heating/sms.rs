//! Section 1: SMS codes.

use serde_json::json;

use crate::common::{join_all, spawn_app, spawn_with};

#[tokio::test]
async fn send_delivers_a_six_digit_code_to_the_outbox() {
    let app = spawn_app().await;
    let r = app.send_sms("13888888888", "login").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.code(), 200);
    assert_eq!(r.body["message"], "验证码发送成功");
    assert_eq!(r.data()["phone"], "13888888888");
    assert_eq!(r.data()["expire_time"], 300);
    assert!(r.body["timestamp"].as_i64().expect("timestamp") > 1_700_000_000_000);
    let lines = app.outbox_lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["channel"], "sms");
    assert_eq!(line["to"], "13888888888");
    assert_eq!(line["purpose"], "login");
    assert_eq!(line["surface"], "heating");
    assert_eq!(line["at"], "2026-01-05T02:00:00.000Z");
    let code = line["code"].as_str().expect("code");
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_phone_is_1001_and_missing_fields_are_400() {
    let app = spawn_app().await;
    for phone in ["1388888888", "23888888888", "1388888888a", "12888888888"] {
        let r = app.send_sms(phone, "login").await;
        assert_eq!(r.code(), 1001, "{phone}: {:?}", r.body);
        assert_eq!(r.status, 400);
        assert!(r.data().is_null());
    }
    let r = app
        .post("/heating/api/sms/send", json!({"type": "login"}))
        .await;
    assert_eq!(r.code(), 400);
    let r = app.send_sms("13888888888", "bogus").await;
    assert_eq!(r.code(), 400);
    let r = app
        .post("/heating/api/sms/send", json!({"phone": "13888888888"}))
        .await;
    assert_eq!(r.code(), 400);
    // Not JSON at all: still the envelope.
    let resp = app
        .client
        .post(format!("{}/heating/api/sms/send", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 400);
    assert!(app.outbox_lines().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn form_bodies_are_accepted() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(format!("{}/heating/api/sms/send", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("phone=13888888888&type=register")
        .send()
        .await
        .expect("send");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], 200, "{body}");
    assert_eq!(app.outbox_lines().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn one_send_per_phone_per_minute_then_allowed_again() {
    let app = spawn_app().await;
    let phone = "13900000001";
    assert_eq!(app.send_sms(phone, "login").await.code(), 200);
    let r = app.send_sms(phone, "register").await;
    assert_eq!(r.code(), 1008, "{:?}", r.body);
    assert_eq!(r.status, 429);
    // Another phone is not affected.
    assert_eq!(app.send_sms("13900000002", "login").await.code(), 200);
    app.advance(59).await;
    assert_eq!(app.send_sms(phone, "login").await.code(), 1008);
    app.advance(2).await;
    assert_eq!(app.send_sms(phone, "login").await.code(), 200);
    assert_eq!(app.outbox_lines().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn daily_cap_per_phone() {
    let app = spawn_with(|c| c.sms.daily_cap = 3).await;
    let phone = "13900000003";
    for _ in 0..3 {
        assert_eq!(app.send_sms(phone, "login").await.code(), 200);
        app.advance(61).await;
    }
    let r = app.send_sms(phone, "login").await;
    assert_eq!(r.code(), 1008);
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains("上限")
    );
    // The next local day (Asia/Shanghai) has a fresh allowance.
    app.advance(24 * 3600).await;
    assert_eq!(app.send_sms(phone, "login").await.code(), 200);
    app.stop().await;
}

#[tokio::test]
async fn verify_checks_without_using_the_code_up() {
    let app = spawn_app().await;
    let phone = "13900000004";
    let code = app.sms_code(phone, "register").await;
    let r = app.verify_sms(phone, &code, "register").await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "验证码正确");
    assert_eq!(r.data()["is_valid"], true);
    // The code is bound to its type.
    let r = app.verify_sms(phone, &code, "login").await;
    assert_eq!(r.code(), 1002);
    // ... and still good for registering.
    let r = app
        .post(
            "/heating/api/auth/register",
            json!({"phone": phone, "code": code, "password": "secret123"}),
        )
        .await;
    assert_eq!(r.code(), 200, "{:?}", r.body);
    // Used: gone.
    let r = app.verify_sms(phone, &code, "register").await;
    assert_eq!(r.code(), 1002);
    app.stop().await;
}

#[tokio::test]
async fn wrong_code_is_1002_and_an_old_code_is_1006() {
    let app = spawn_app().await;
    let phone = "13900000005";
    let code = app.sms_code(phone, "login").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app.verify_sms(phone, wrong, "login").await;
    assert_eq!(r.code(), 1002);
    assert_eq!(r.body["message"], "验证码错误");
    assert!(r.data().is_null());
    app.advance(300).await;
    let r = app.verify_sms(phone, &code, "login").await;
    assert_eq!(r.code(), 1006, "{:?}", r.body);
    // Never sent at all.
    let r = app.verify_sms("13900000099", "123456", "login").await;
    assert_eq!(r.code(), 1002);
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_tries_void_the_code() {
    let app = spawn_app().await;
    let phone = "13900000006";
    let code = app.sms_code(phone, "login").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = app.verify_sms(phone, wrong, "login").await;
        assert_eq!(r.code(), 1002);
    }
    let r = app.verify_sms(phone, &code, "login").await;
    assert_eq!(
        r.code(),
        1006,
        "the right code after five wrong tries: {:?}",
        r.body
    );
    // A new code works again.
    app.advance(61).await;
    let fresh = app.sms_code(phone, "login").await;
    let r = app.verify_sms(phone, &fresh, "login").await;
    assert_eq!(r.code(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let app = spawn_app().await;
    let phone = "13900000007";
    let first = app.sms_code(phone, "login").await;
    app.advance(61).await;
    let second = app.sms_code(phone, "login").await;
    if first != second {
        let r = app.verify_sms(phone, &first, "login").await;
        assert_eq!(r.code(), 1002);
    }
    let r = app.verify_sms(phone, &second, "login").await;
    assert_eq!(r.code(), 200);
    app.stop().await;
}

#[tokio::test]
async fn without_dev_mode_or_a_provider_sending_fails_with_1007() {
    let app = spawn_with(|c| {
        c.dev.enabled = false;
        c.dev.sim_clock = None;
    })
    .await;
    let r = app.send_sms("13888888888", "login").await;
    assert_eq!(r.code(), 1007, "{:?}", r.body);
    assert!(
        !app.outbox.exists(),
        "the outbox is never written without --dev"
    );
    // A failed send does not use up the allowance.
    let r = app.send_sms("13888888888", "login").await;
    assert_eq!(r.code(), 1007);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_sends_to_one_phone_deliver_one_code() {
    let app = spawn_app().await;
    let replies = join_all((0..8).map(|_| app.send_sms("13900000008", "login"))).await;
    let ok = replies.iter().filter(|r| r.code() == 200).count();
    assert_eq!(ok, 1, "{replies:?}");
    assert!(replies.iter().all(|r| r.code() == 200 || r.code() == 1008));
    assert_eq!(app.outbox_lines().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn one_code_logs_in_once_even_concurrently() {
    let app = spawn_app().await;
    let phone = "13900000009";
    app.register(phone, "secret123").await;
    let code = app.sms_code(phone, "login").await;
    let replies = join_all((0..6).map(|_| {
        app.post(
            "/heating/api/auth/login",
            json!({"phone": phone, "code": code}),
        )
    }))
    .await;
    let ok = replies.iter().filter(|r| r.code() == 200).count();
    assert_eq!(ok, 1, "{replies:?}");
    // A right code still spends a try while it is being compared.
    assert!(
        replies
            .iter()
            .all(|r| matches!(r.code(), 200 | 1002 | 1006))
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_five_tries() {
    let app = spawn_app().await;
    let phone = "13900000010";
    let code = app.sms_code(phone, "login").await;
    let wrong: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{:06}",
                (code.parse::<u32>().expect("digits") + 1 + i) % 1_000_000
            )
        })
        .collect();
    let mut guesses: Vec<&str> = wrong.iter().map(String::as_str).collect();
    // The right code last in the batch: by the time it runs, the tries are gone.
    guesses.push(&code);
    let replies = join_all(guesses.iter().map(|g| app.verify_sms(phone, g, "login"))).await;
    let wrong_answers = replies.iter().filter(|r| r.code() == 1002).count();
    assert!(wrong_answers <= 5, "{wrong_answers} guesses were compared");
    assert!(
        replies
            .iter()
            .all(|r| matches!(r.code(), 200 | 1002 | 1006))
    );
    if wrong_answers == 5 {
        // Five wrong comparisons: the code is void, even for the right value.
        assert_eq!(app.verify_sms(phone, &code, "login").await.code(), 1006);
    }
    app.stop().await;
}
