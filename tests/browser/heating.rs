//! The heating and meter pages in the browser: an accounts CSV with a bad line uploaded through
//! the import page's file input shows its line-numbered error on the page; a screenshot of each
//! heating and meter page (also at a tablet's width).

use crate::common::browser::Browser;
use crate::{WAIT, shot, sign_in};

const HEATING: [&str; 7] = [
    "users", "accounts", "bills", "import", "orders", "config", "stats",
];
const METER: [&str; 5] = [
    "households",
    "accounts",
    "readings",
    "recharges",
    "consumption",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_bad_line_shows_the_line_and_every_page_renders() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;

    let csv = app.dir.path().join("accounts-bad-line.csv");
    std::fs::write(
        &csv,
        "heat_account,real_name,id_card,address,heating_area\n\
         H202500001,赵六,650102198505054326,新市区北京路1号,80\n\
         H202500002,钱七,650102198505054326,新市区北京路2号,-5\n",
    )
    .expect("csv written");
    browser
        .goto(&format!("{}/console/heating/import", app.base))
        .await;
    browser
        .find("#import-accounts input[type=file]")
        .await
        .send_keys(&csv.display().to_string())
        .await;
    // A change form asks first: the first press arms the button, the second sends.
    let button = browser.find("#import-accounts button[type=submit]").await;
    button.click().await;
    browser
        .wait_for("#import-accounts button.armed", WAIT)
        .await;
    browser
        .find("#import-accounts button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_text("#import-errors", "第 3 行", WAIT).await;
    browser.wait_text(".flash.err", "未写入", WAIT).await;
    shot(&browser, "heating-import-error").await;
    assert!(
        app.state
            .heating
            .accounts
            .account("H202500001")
            .await
            .is_err()
    );

    for page in HEATING {
        browser
            .goto(&format!("{}/console/heating/{page}", app.base))
            .await;
        browser.wait_for("nav.tabs a.active", WAIT).await;
        shot(&browser, &format!("heating-{page}")).await;
    }
    browser
        .goto(&format!("{}/console/heating/accounts/H202400001", app.base))
        .await;
    browser.wait_text("#bills", "B1734502968024", WAIT).await;
    shot(&browser, "heating-account").await;
    for page in METER {
        browser
            .goto(&format!("{}/console/meter/{page}", app.base))
            .await;
        browser.wait_for("nav.tabs a.active", WAIT).await;
        shot(&browser, &format!("meter-{page}")).await;
    }
    browser
        .goto(&format!("{}/console/meter/households/2022040001", app.base))
        .await;
    browser.wait_text("#meters", "202364555511", WAIT).await;
    shot(&browser, "meter-household").await;

    // A tablet's width: the pages still read.
    browser.set_window_size(820, 1180).await;
    browser
        .goto(&format!("{}/console/heating/bills", app.base))
        .await;
    browser.wait_for("table.list", WAIT).await;
    shot(&browser, "heating-bills-tablet").await;
    browser
        .goto(&format!("{}/console/meter/consumption", app.base))
        .await;
    browser.wait_for("svg.chart", WAIT).await;
    shot(&browser, "meter-consumption-tablet").await;
    browser.quit().await;
}
