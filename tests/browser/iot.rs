//! The console's IoT area in the browser: a vendor approves its ticket (the button armed, then
//! sent) and is refused another vendor's; a screenshot of each IoT page.

use serde_json::json;
use utilhall::domain::iot::demo::ac02_product;
use utilhall::domain::iot::devices::NewDevices;
use utilhall::domain::iot::parties::caller_of;
use utilhall::domain::iot::partners::{NewVendor, VendorDetails};
use utilhall::domain::iot::products::NewProduct;
use utilhall::domain::iot::tickets::{self, NewTicket};
use utilhall::domain::iot::{Caller, Input, Range, Role, password_digest};

use crate::common::TestApp;
use crate::common::browser::Browser;
use crate::{WAIT, shot, sign_in};

fn platform() -> Caller {
    Caller {
        uid: "test-platform".into(),
        role: Role::Platform,
        vid: None,
        agent: None,
        dealer: None,
    }
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A second vendor with a device and a created fault ticket: the ticket's id.
async fn other_vendors_ticket(app: &TestApp) -> String {
    let iot = &app.state.iot;
    let vendor = iot
        .partners
        .create_vendor(
            &platform(),
            Input::ok(NewVendor {
                login: "acme".into(),
                pwd: password_digest("acme12345"),
                code: Some("ACME".into()),
                mobile: None,
                details: VendorDetails {
                    texts: object(json!({"name": "Acme 净水"})),
                    wechat: object(json!({})),
                    secrets: object(json!({})),
                    mch_appid_given: false,
                },
                state: None,
                utype: None,
            }),
        )
        .await
        .expect("vendor");
    let brand = caller_of(&vendor);
    let product = iot
        .catalog
        .create(
            &brand,
            Input::ok(NewProduct {
                vid: None,
                fields: ac02_product(),
            }),
        )
        .await
        .expect("product");
    iot.devices
        .register(
            &platform(),
            Input::ok(NewDevices {
                dids: vec!["ACME01234567B001".into()],
                vid: vendor.uid.clone(),
                product_id: Some(product.pid),
                dtype: 1,
                profile: object(json!({})),
            }),
        )
        .await
        .expect("device");
    iot.tickets
        .create(
            &brand,
            Input::ok(NewTicket {
                ttype: tickets::FAULT,
                detail: "Acme 故障".into(),
                device_id: Some("ACME01234567B001".into()),
                order_id: Input::ok(None),
                user_id: Input::ok(None),
                appoint_at: Input::ok(None),
            }),
        )
        .await
        .expect("ticket")
        .tid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_approves_its_ticket_and_is_refused_another_vendors() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let theirs = other_vendors_ticket(&app).await;
    let ours = app
        .state
        .iot
        .tickets
        .all(&platform(), Range::Anyone)
        .await
        .expect("tickets")
        .into_iter()
        .find(|t| t.vid == "DOCH000000000001" && t.ttype == tickets::FAULT)
        .expect("the demo's fault ticket")
        .tid;
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "iot", "dochen", "dochen123").await;
    browser.wait_text("h1", "设备", WAIT).await;
    browser
        .wait_text("table.list", "DOCH01234567A001", WAIT)
        .await;
    let listed = browser.find("table.list").await.text().await;
    assert!(!listed.contains("ACME01234567B001"), "{listed}");

    browser
        .goto(&format!("{}/console/iot/tickets", app.base))
        .await;
    browser.wait_text("table.list", "制水故障", WAIT).await;
    browser
        .find(&format!("a[href='/console/iot/tickets/{ours}']"))
        .await
        .click()
        .await;
    browser.wait_for("#move-iot_approve", WAIT).await;
    // First press arms the button, the second sends.
    let button = browser.find("#move-iot_approve button").await;
    button.click().await;
    browser
        .wait_for("#move-iot_approve button.armed", WAIT)
        .await;
    browser.find("#move-iot_approve button").await.click().await;
    browser.wait_text(".flash.ok", "操作成功", WAIT).await;
    browser.wait_text("#ticket", "审核", WAIT).await;
    browser.wait_for("#move-dispatch", WAIT).await;
    shot(&browser, "iot-ticket").await;
    assert_eq!(
        app.state
            .iot
            .tickets
            .get(&platform(), &ours)
            .await
            .expect("ticket")
            .status,
        tickets::APPROVED
    );

    // Another vendor's ticket: the refusal page, and the ticket unchanged.
    browser
        .goto(&format!("{}/console/iot/tickets/{theirs}", app.base))
        .await;
    browser.wait_text("h1", "未找到", WAIT).await;
    shot(&browser, "iot-ticket-refused").await;
    assert_eq!(
        app.state
            .iot
            .tickets
            .get(&platform(), &theirs)
            .await
            .expect("ticket")
            .status,
        tickets::CREATED
    );
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_iot_page_renders_for_the_operator() {
    let app = crate::common::spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let Some(browser) = Browser::launch().await else {
        return;
    };
    sign_in(&browser, &app.base, "operator", "admin", "admin123456").await;
    for (page, path, needle) in [
        ("devices", "/console/iot/devices", "DOCH01234567A001"),
        (
            "device",
            "/console/iot/devices/DOCH01234567A001",
            "PPC复合滤芯",
        ),
        ("vendors", "/console/iot/vendors", "dochen"),
        ("agents", "/console/iot/agents", "香洲经销商"),
        ("members", "/console/iot/members", "张一"),
        ("orders", "/console/iot/orders", "已发货"),
        ("tickets", "/console/iot/tickets", "制水故障"),
        ("commissions", "/console/iot/commissions", "625.80"),
        ("withdrawals", "/console/iot/withdrawals", "没有记录"),
    ] {
        browser.goto(&format!("{}{path}", app.base)).await;
        browser.wait_text("main", needle, WAIT).await;
        shot(&browser, &format!("iot-{page}")).await;
    }
    // An order's page with its moves.
    browser
        .goto(&format!("{}/console/iot/orders?state=paid", app.base))
        .await;
    browser.wait_for("table.list td a", WAIT).await;
    browser.find("table.list td a").await.click().await;
    browser.wait_for("#move-deliver", WAIT).await;
    shot(&browser, "iot-order").await;
    browser.quit().await;
}
