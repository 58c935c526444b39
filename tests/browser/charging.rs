//! The charging area in the browser: the live pile view changes by itself when a car arrives
//! through the drivers' API (no reload), a pile is switched off with the two presses of a
//! change's button, a charge box and a driver's card are registered through their forms, and each
//! page of the area is shown (screenshots `charging-<page>`).

use std::time::Duration;

use serde_json::json;

use crate::common::browser::Browser;
use crate::{WAIT, shot, sign_in};

/// Presses a change's button in the live view twice, as a person does: the first press arms it
/// (the live refresh leaves an armed button alone), a moment later the second sends it.
async fn press_twice_in_live_view(browser: &Browser, css: &str) {
    browser.find(css).await.click().await;
    browser.wait_for(&format!("{css}.armed"), WAIT).await;
    // Longer than a refresh of the live view: the armed button must still be there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.find(&format!("{css}.armed")).await.click().await;
    browser.wait_for(".flash", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_pile_view_changes_when_a_car_arrives_through_the_driver_api() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;
    browser
        .goto(&format!("{}/console/charging/live", app.base))
        .await;
    browser.wait_for("#live #pile-F1", WAIT).await;
    browser.wait_text("h1", "充电站实时状态", WAIT).await;
    assert!(
        browser.try_find("#live .pile .car").await.is_none(),
        "no car yet"
    );
    // Marks this document: a reload would lose the mark.
    browser
        .execute("window.chgMark = 'kept'; return 1", vec![])
        .await;

    // The demo driver asks for a charge through the drivers' HTTP API.
    let r = app
        .post_query(
            "/charging/login",
            &[("username", "test"), ("password", "123456")],
        )
        .await;
    let token = r.body["token"].as_str().expect("a token").to_owned();
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": token, "mode": "fast", "quantity": 30}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pile = r.body["pile"].as_str().expect("a pile").to_owned();

    let car = browser
        .wait_text(&format!("#pile-{pile} .car .user"), "test", WAIT)
        .await;
    assert_eq!(car.text().await, "test");
    assert!(
        browser
            .find(&format!("#pile-{pile} .car progress"))
            .await
            .is_displayed()
            .await
    );
    let mark = browser.execute("return window.chgMark || ''", vec![]).await;
    assert_eq!(mark, "kept", "the page changed without a reload");

    // An unchanged station gives the same HTML: the view is left alone.
    let live = browser.find("#live").await;
    let updated = live.attr("data-updated").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        browser.find("#live").await.attr("data-updated").await,
        updated,
        "nothing changed, nothing rewritten"
    );
    shot(&browser, "charging-live").await;

    // Switch the other fast pile off: the first press arms the button, the second sends.
    let other = if pile == "F1" { "F2" } else { "F1" };
    press_twice_in_live_view(&browser, &format!("#pile-{other} button[data-action=off]")).await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser
        .wait_text(
            &format!("#pile-{other}[data-state=off] .pile-state"),
            "已关闭",
            WAIT,
        )
        .await;
    assert!(
        browser
            .try_find(&format!("#pile-{other} button[data-action=on]"))
            .await
            .is_some()
    );
    shot(&browser, "charging-live-off").await;

    // An hour on the car has its 30 kWh: the day's report has its session.
    app.advance(3600).await;
    browser
        .goto(&format!("{}/console/charging/report", app.base))
        .await;
    browser
        .wait_text(&format!("#report-{pile}"), "54.00", WAIT)
        .await;
    assert_eq!(browser.find_all("svg.chart").await.len(), 2);
    shot(&browser, "charging-report").await;

    browser
        .goto(&format!("{}/console/charging/records", app.base))
        .await;
    browser.wait_text("table.list tbody", "test", WAIT).await;
    shot(&browser, "charging-records").await;

    // The configuration: a wrong number is shown next to its field.
    browser
        .goto(&format!("{}/console/charging/config", app.base))
        .await;
    browser.wait_for("#config", WAIT).await;
    shot(&browser, "charging-config").await;
    let field = browser.find("#fast_power_kw").await;
    field.clear().await;
    field.send_keys("fast").await;
    browser
        .find("#config button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_for("#config button.armed", WAIT).await;
    browser
        .find("#config button[type=submit]")
        .await
        .click()
        .await;
    browser
        .wait_text("[data-field=fast_power_kw]", "请输入数字", WAIT)
        .await;

    browser
        .goto(&format!("{}/console/charging/drivers", app.base))
        .await;
    browser.find("#username").await.send_keys("fleet-07").await;
    browser.find("#password").await.send_keys("secret07").await;
    browser
        .find("#new-driver button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_for("#new-driver button.armed", WAIT).await;
    browser
        .find("#new-driver button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser
        .wait_text("table.list tbody", "fleet-07", WAIT)
        .await;
    shot(&browser, "charging-drivers").await;

    // A charge box registered for pile T1, then a card given to the new driver.
    browser
        .goto(&format!("{}/console/charging/boxes", app.base))
        .await;
    browser.find("#id").await.send_keys("CP-T1").await;
    browser
        .find("#password")
        .await
        .send_keys("correct-horse-battery")
        .await;
    browser.find("#pile option[value=T1]").await.click().await;
    browser
        .find("#box-form button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_for("#box-form button.armed", WAIT).await;
    browser
        .find("#box-form button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser.wait_text("table.list tbody", "CP-T1", WAIT).await;
    browser.wait_text("table.list tbody", "离线", WAIT).await;
    shot(&browser, "charging-boxes").await;

    browser
        .goto(&format!("{}/console/charging/cards", app.base))
        .await;
    browser.find("#id_tag").await.send_keys("CARD-07").await;
    browser.find("#driver").await.send_keys("fleet-07").await;
    browser
        .find("#card-form button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_for("#card-form button.armed", WAIT).await;
    browser
        .find("#card-form button[type=submit]")
        .await
        .click()
        .await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser.wait_text("table.list tbody", "CARD-07", WAIT).await;
    shot(&browser, "charging-cards").await;
    browser.quit().await;
}
