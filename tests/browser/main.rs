//! The web pages in a real headless Chromium (see `common::browser`): the console's browser tests
//! start from here.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use common::browser::{Browser, screenshot_dir};

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
