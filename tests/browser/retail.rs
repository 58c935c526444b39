//! The retail area in the browser: confirming a settlement bill (the button armed, then sent),
//! a `<script>` in a feedback text shown as text and never run, and a screenshot of each page.

use serde_json::json;

use crate::common::browser::Browser;
use crate::{WAIT, shot, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_confirms_a_settlement_bill() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let _ = app.state.operators.ensure("admin", "admin123456").await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;
    for page in [
        "companies",
        "enterprises",
        "users",
        "contracts",
        "articles",
        "guide",
        "monthly-use",
    ] {
        browser
            .goto(&format!("{}/console/retail/{page}", app.base))
            .await;
        browser.wait_for("nav.tabs a.active", WAIT).await;
        shot(&browser, &format!("retail-{page}")).await;
    }
    browser.wait_for("svg.chart", WAIT).await;

    browser
        .goto(&format!("{}/console/retail/bills", app.base))
        .await;
    browser.wait_text("h1", "结算单", WAIT).await;
    shot(&browser, "retail-bills").await;
    let form = "form[action='/console/retail/bills/SB201707-MEIZU/confirm']";
    let button = browser.find(&format!("{form} button")).await;
    button.click().await;
    // The first press arms the button; the second sends.
    browser
        .wait_text(&format!("{form} button.armed"), "确认账单", WAIT)
        .await;
    browser.find(&format!("{form} button")).await.click().await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser.wait_until_gone(form, WAIT).await;
    let source = browser.source().await;
    let row = source
        .split("<tr>")
        .find(|r| r.contains("SB201707-MEIZU"))
        .expect("the bill's row");
    assert!(row.contains("已确认") && row.contains("admin"), "{row}");
    shot(&browser, "retail-bills-confirmed").await;
    browser.quit().await;
    let bill = app
        .state
        .retail_data
        .settlement_bill("SB201707-MEIZU")
        .await
        .expect("bill");
    assert_eq!(bill.confirmer.as_deref(), Some("admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_in_a_feedback_text_is_shown_as_text() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let _ = app.state.operators.ensure("admin", "admin123456").await;
    // The hall's user writes the feedback through the hall's own API.
    let login = app
        .post(
            "/retail/user/login",
            json!({"phone": "13900000000", "password": "retail123456"}),
        )
        .await;
    let token = login.body["token"].as_str().expect("token").to_owned();
    let text = "<script>document.title='pwned';alert(1)</script>";
    let r = app
        .post_auth("/retail/user/recommend", &token, json!({"content": text}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;
    browser
        .goto(&format!("{}/console/retail/feedback", app.base))
        .await;
    let cell = browser.wait_text("td.wrap", "<script>", WAIT).await;
    assert_eq!(cell.text().await, text);
    // No script ran: the title is the page's own and no alert is open (a command would fail).
    let title = browser.title().await;
    assert!(title.starts_with("意见反馈"), "{title}");
    let scripts = browser
        .execute(
            "return document.querySelectorAll('main script').length",
            vec![],
        )
        .await;
    assert_eq!(scripts, json!(0));
    shot(&browser, "retail-feedback").await;
    browser.quit().await;
}
