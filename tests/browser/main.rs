//! The web pages in a real headless Chromium (see `common::browser`): the console's browser tests
//! start from here.

#[path = "../common/mod.rs"]
mod common;

mod charging;
mod console;
mod heating;
mod iot;
mod retail;

use std::time::Duration;

use common::browser::{Browser, screenshot_dir};

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

/// Signs in to the console in the browser (`kind`: `operator` or `iot`) and waits for the
/// first page.
pub async fn sign_in(browser: &Browser, base: &str, kind: &str, user: &str, password: &str) {
    browser.goto(&format!("{base}/console/login")).await;
    browser
        .find(&format!("select[name=kind] option[value={kind}]"))
        .await
        .click()
        .await;
    browser
        .find("input[name=username]")
        .await
        .send_keys(user)
        .await;
    browser
        .find("input[name=password]")
        .await
        .send_keys(password)
        .await;
    browser
        .find("#login button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_for("header.top .who", WAIT).await;
}

/// Writes a screenshot of the current page as `target/console-screenshots/<name>.png`.
pub async fn shot(browser: &Browser, name: &str) {
    browser
        .screenshot(screenshot_dir().join(format!("{name}.png")))
        .await;
}

/// The docs page renders its surface list with its own script, under its CSP, in the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_opens_the_docs_page() {
    let app = common::spawn_app().await;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    browser.goto(&format!("{}/docs", app.base)).await;
    assert_eq!(browser.title().await, "utilhall API documentation");
    assert!(browser.url().await.ends_with("/docs"));
    browser
        .wait_text("#nav", "heating", Duration::from_secs(10))
        .await;
    assert!(browser.find_all("#nav button").await.len() >= 5);
    browser
        .wait_for("#main details.op", Duration::from_secs(10))
        .await;
    browser.find("#nav button:nth-child(2)").await.click().await;
    browser
        .wait_text("#nav button.active", "meter", Duration::from_secs(10))
        .await;
    browser
        .wait_until_gone("#main:not(:has(details.op))", Duration::from_secs(10))
        .await;

    let png = screenshot_dir().join("docs.png");
    let _ = std::fs::remove_file(&png);
    browser.screenshot(&png).await;
    let bytes = std::fs::read(&png).expect("the screenshot is written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        png.display()
    );
    browser.quit().await;
}
