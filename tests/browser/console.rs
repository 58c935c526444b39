//! The console's frame in the browser: signing in, the overview, the language switch, signing
//! out; the arming of a change's button by the console's own script under its CSP.

use crate::common::browser::Browser;
use crate::{WAIT, shot, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_sees_the_overview_in_both_languages_and_signs_out() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let Some(browser) = Browser::launch().await else {
        return;
    };
    // A wrong password shows its error on the sign-in page.
    browser
        .goto(&format!("{}/console/overview", app.base))
        .await;
    browser.wait_for("#login", WAIT).await;
    browser
        .find("input[name=username]")
        .await
        .send_keys("admin")
        .await;
    browser
        .find("input[name=password]")
        .await
        .send_keys("wrong")
        .await;
    browser
        .find("#login button[type=submit]")
        .await
        .click()
        .await;
    browser
        .wait_text(".field-error", "用户名或密码错误", WAIT)
        .await;

    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;
    browser.wait_text("h1", "总览", WAIT).await;
    browser.wait_for("#today-total .value", WAIT).await;
    assert!(browser.find("svg.chart").await.is_displayed().await);
    shot(&browser, "overview").await;

    browser.find("a.lang").await.click().await;
    browser.wait_text("h1", "Overview", WAIT).await;
    browser
        .wait_text("#today-total .label", "Received today", WAIT)
        .await;
    shot(&browser, "overview-en").await;
    browser.find("a.lang").await.click().await;
    browser.wait_text("h1", "总览", WAIT).await;

    // On a tablet the page fits the screen's width (tables scroll inside their own box).
    browser.set_window_size(820, 1180).await;
    browser
        .goto(&format!("{}/console/overview", app.base))
        .await;
    browser.wait_for("#today-total .value", WAIT).await;
    let fits = browser
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await;
    assert_eq!(fits, true, "no sideways scrolling on a tablet");
    shot(&browser, "overview-tablet").await;
    browser.set_window_size(1366, 900).await;

    // The session cookie is not readable by the page's scripts.
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "uh_console")
        .expect("the session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Strict");
    let seen = browser.execute("return document.cookie", vec![]).await;
    assert!(!seen.as_str().unwrap_or("").contains("uh_console"));

    browser
        .find("form[action='/console/logout'] button")
        .await
        .click()
        .await;
    browser.wait_for("#login", WAIT).await;
    browser
        .goto(&format!("{}/console/overview", app.base))
        .await;
    browser.wait_for("#login", WAIT).await;
    browser.quit().await;
}
