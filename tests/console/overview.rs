//! The overview: its figures come from the journal and the areas' own state, and change as
//! money comes in.

use serde_json::json;

use crate::common::console::operator;
use crate::common::iot;
use crate::common::spawn_app;

/// The value of an overview card.
fn card(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no card {id}"));
    let rest = &page[at..];
    let v = rest.find("class=\"value\">").expect("value") + "class=\"value\">".len();
    rest[v..v + rest[v..].find('<').expect("end")].to_owned()
}

#[tokio::test]
async fn the_overview_counts_what_the_areas_hold_and_money_as_it_arrives() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let page = console.get("/console/overview").await;
    assert_eq!(page.status, 200);
    // The demo: heating 5280.50 (imported payments) and IoT 6060.00 (two paid orders) today.
    assert_eq!(card(&page.body, "today-total"), "11340.50");
    assert_eq!(card(&page.body, "unpaid-bills"), "3 · ¥3958.98");
    assert_eq!(card(&page.body, "open-tickets"), "2");
    assert_eq!(card(&page.body, "devices-online"), "0 / 3");
    assert!(page.has("<svg class=\"chart\""), "the 30-day chart");

    // An IoT order paid now adds its amount to today's and this month's money.
    let platform = iot::login(&app, "platform", "platform123").await;
    let orders = iot::get(&app, "/orders?state=obligation", &platform)
        .await
        .expect(200);
    let unpaid = orders.data()["items"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .or_else(|| orders.data().as_array().and_then(|a| a.first()).cloned())
        .expect("an unpaid demo order");
    let oid = unpaid["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{unpaid}"))
        .to_owned();
    let amount = unpaid["amount"].as_f64().expect("amount");
    let admin = app.admin_token().await;
    let paid = app
        .post_auth(
            &format!("/admin/v1/iot/orders/{oid}/simulate-payment"),
            &admin,
            json!({}),
        )
        .await;
    assert!(paid.status < 300, "{:?}", paid.body);
    let after = console.get("/console/overview").await;
    let before: f64 = 11340.50;
    let now: f64 = card(&after.body, "today-total").parse().expect("a number");
    assert!(
        (now - before - amount).abs() < 0.005,
        "{now} = {before} + {amount}"
    );
    assert_eq!(
        card(&after.body, "month-total"),
        card(&after.body, "today-total")
    );
}
