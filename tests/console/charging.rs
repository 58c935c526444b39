//! The charging area of the console: the live station and its fragment (a car requested through
//! the drivers' API shows up), the piles' switches, reports per pile, the detail records, the
//! configuration with its errors next to the fields, the drivers' accounts, the OCPP charge boxes
//! (one connected by a simulated charge point) and the drivers' cards, and who may use it.

use serde_json::json;

use crate::common::console::{Console, operator, sign_in};
use crate::common::{TestApp, spawn_app};

/// A driver's token from the drivers' API (`/charging/login`).
async fn driver_token(app: &TestApp, username: &str, password: &str) -> String {
    let r = app
        .post_query(
            "/charging/login",
            &[("username", username), ("password", password)],
        )
        .await;
    assert_eq!(r.body["code"], 200, "{:?}", r.body);
    r.body["token"].as_str().expect("a token").to_owned()
}

/// A new driver (made by the station) asks for `kwh` in `mode` through the drivers' API.
async fn request_charge(app: &TestApp, username: &str, mode: &str, kwh: f64) -> serde_json::Value {
    app.state
        .charging
        .create_driver(username, "123456")
        .await
        .expect("driver");
    let token = driver_token(app, username, "123456").await;
    let r = app
        .post(
            "/charging/user/charge/apply",
            json!({"token": token, "mode": mode, "quantity": kwh}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The part of a page from `id="pile-<id>"` to the end of that pile's card.
fn pile_card<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"pile-{id}\""))
        .unwrap_or_else(|| panic!("no pile {id}: {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</article>").expect("end of the card")]
}

async fn set_pile(console: &Console, pile: &str, state: &str) -> (bool, String) {
    let r = console
        .post(
            &format!("/console/charging/piles/{pile}/state"),
            "/console/charging/live",
            &[("state", state)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/console/charging/live?")),
        "{:?}",
        r.location
    );
    r.flash().expect("a message")
}

#[tokio::test]
async fn the_live_station_shows_piles_and_a_car_arriving_through_the_drivers_api() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;

    let page = console.get("/console/charging/live").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("充电站实时状态"));
    assert!(page.has(
        "<div id=\"live\" data-live=\"/console/charging/live/fragment\" data-interval=\"1000\">"
    ));
    for pile in ["F1", "F2", "T1", "T2", "T3"] {
        assert!(page.has(&format!("id=\"pile-{pile}\"")), "{pile}");
    }
    assert!(pile_card(&page.body, "F1").contains("工作中"));
    assert!(pile_card(&page.body, "T1").contains("慢充"));

    // The fragment: only the inner HTML, the same while nothing changes.
    let first = console.get("/console/charging/live/fragment").await;
    assert_eq!(first.status, 200);
    assert!(!first.has("<html") && !first.has("<header"));
    assert!(first.has("id=\"pile-F1\"") && first.has("id=\"waiting\""));
    let again = console.get("/console/charging/live/fragment").await;
    assert_eq!(
        first.body, again.body,
        "an unchanged station, the same HTML"
    );

    // One place per pile queue, so that the third fast car waits.
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &[
                ("fast_piles", "2"),
                ("slow_piles", "3"),
                ("fast_power_kw", "30"),
                ("slow_power_kw", "10"),
                ("waiting_capacity", "10"),
                ("queue_len", "1"),
                ("fault_policy", "priority"),
                ("service_fee", "0.80"),
                (
                    "periods",
                    "00:00-07:00 0.40\n07:00-10:00 0.70\n10:00-15:00 1.00\n15:00-18:00 0.70\n18:00-21:00 1.00\n21:00-23:00 0.70\n23:00-24:00 0.40",
                ),
            ],
        )
        .await;
    assert_eq!(r.flash(), Some((true, "操作成功".into())), "{}", r.body);

    let car = request_charge(&app, "alice", "fast", 30.0).await;
    assert_eq!(car["state"], "charging");
    let pile = car["pile"].as_str().expect("a pile").to_owned();
    let fragment = console.get("/console/charging/live/fragment").await;
    assert_ne!(fragment.body, first.body, "the car changes the fragment");
    let card = pile_card(&fragment.body, &pile);
    assert!(card.contains("class=\"car\" data-number=\"F1\""), "{card}");
    assert!(card.contains("<span class=\"user\">alice</span>"), "{card}");
    assert!(
        card.contains("<progress value=\"0\" max=\"30000\">"),
        "{card}"
    );

    // Half an hour on: half charged, and the fee so far (15 kWh x (1.00 + 0.80)).
    app.advance(1800).await;
    let fragment = console.get("/console/charging/live/fragment").await;
    let card = pile_card(&fragment.body, &pile);
    assert!(
        card.contains("<progress value=\"15000\" max=\"30000\">"),
        "{card}"
    );
    assert!(card.contains("<span class=\"fee\">27.00</span>"), "{card}");

    request_charge(&app, "bob", "fast", 10.0).await;
    let waiting = request_charge(&app, "carol", "fast", 20.0).await;
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    let fragment = console.get("/console/charging/live/fragment").await;
    let area = &fragment.body[fragment.body.find("id=\"waiting\"").expect("waiting")..];
    assert!(
        area.contains("<li data-number=\"F3\"><b>F3</b> · <span class=\"user\">carol</span>"),
        "{area}"
    );

    // English too.
    let mut english = sign_in(&app, "operator", "admin", "admin123456").await;
    english.lang = "en";
    let page = english.get("/console/charging/live").await;
    assert!(page.has("Waiting area") && page.has("Switch off"));
    app.stop().await;
}

#[tokio::test]
async fn piles_are_switched_off_and_on_and_their_faults_recorded() {
    let app = spawn_app().await;
    let console = operator(&app).await;

    assert_eq!(
        set_pile(&console, "F1", "off").await,
        (true, "操作成功".into())
    );
    let fragment = console.get("/console/charging/live/fragment").await;
    let card = pile_card(&fragment.body, "F1");
    assert!(
        card.contains("data-state=\"off\"") && card.contains("已关闭"),
        "{card}"
    );
    assert!(card.contains("data-action=\"on\""), "{card}");
    // Already off: the domain's refusal comes back as the message.
    let (ok, _) = set_pile(&console, "F1", "off").await;
    assert!(!ok);
    assert_eq!(
        set_pile(&console, "F1", "on").await,
        (true, "操作成功".into())
    );
    let fragment = console.get("/console/charging/live/fragment").await;
    assert!(pile_card(&fragment.body, "F1").contains("data-state=\"working\""));

    // A fault with a car on the pile: the car's session ends and it is placed again.
    request_charge(&app, "dave", "slow", 10.0).await;
    let pile = {
        let piles = app.state.charging.piles().await.expect("piles");
        piles
            .iter()
            .find(|p| !p.cars.is_empty())
            .expect("a pile with the car")
            .id
            .clone()
    };
    assert_eq!(
        set_pile(&console, &pile, "fault").await,
        (true, "操作成功".into())
    );
    let fragment = console.get("/console/charging/live/fragment").await;
    let card = pile_card(&fragment.body, &pile);
    assert!(
        card.contains("data-state=\"fault\"") && card.contains("故障"),
        "{card}"
    );
    assert!(
        !card.contains("data-number=\"T1\""),
        "the car left the faulty pile: {card}"
    );
    assert!(fragment.has("data-number=\"T1\""), "the car is elsewhere");
    assert_eq!(
        set_pile(&console, &pile, "recover").await,
        (true, "操作成功".into())
    );
    let fragment = console.get("/console/charging/live/fragment").await;
    assert!(pile_card(&fragment.body, &pile).contains("data-state=\"working\""));

    // Nonsense and unknown piles are messages, not failures.
    let (ok, text) = set_pile(&console, "F1", "explode").await;
    assert!(!ok && text.contains("未知的操作"), "{text}");
    let (ok, _) = set_pile(&console, "X9", "off").await;
    assert!(!ok);
    app.stop().await;
}

#[tokio::test]
async fn reports_per_pile_count_the_sessions_of_the_period() {
    let app = spawn_app().await;
    let console = operator(&app).await;
    // 10:00 China time: 30 kWh at the peak price 1.00 and 0.80 service: 30.00 + 24.00.
    let car = request_charge(&app, "erin", "fast", 30.0).await;
    let pile = car["pile"].as_str().expect("pile").to_owned();
    app.advance(3600).await;

    let page = console.get("/console/charging/report?period=day").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("2026-01-05 ~ 2026-01-05"));
    let at = page
        .body
        .find(&format!("id=\"report-{pile}\""))
        .expect("row");
    let row = &page.body[at..at + page.body[at..].find("</tr>").expect("end")];
    for cell in [">1<", ">1.00<", ">30<", ">30.00<", ">24.00<", ">54.00<"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    assert!(page.has("id=\"report-total\""));
    assert!(page.has("id=\"chart-kwh\"") && page.has("id=\"chart-fee\""));
    assert_eq!(page.body.matches("<svg class=\"chart\"").count(), 2);

    let week = console
        .get("/console/charging/report?period=week&date=2026-01-07")
        .await;
    assert!(week.has("2026-01-05 ~ 2026-01-11") && week.has(">54.00<"));
    let month = console
        .get("/console/charging/report?period=month&date=2026-01-31")
        .await;
    assert!(month.has("2026-01-01 ~ 2026-01-31") && month.has(">54.00<"));
    let other_day = console
        .get("/console/charging/report?period=day&date=2026-01-04")
        .await;
    assert!(!other_day.has(">54.00<"));

    // The table as CSV, in the page's language, with a byte-order mark.
    let csv = console
        .get("/console/charging/report?period=day&date=2026-01-05&format=csv")
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(csv.body.contains("充电桩,充电次数"));
    assert!(
        csv.body
            .contains(&format!("{pile},1,1.00,30,30.00,24.00,54.00"))
    );
    assert!(csv.body.contains("合计,1,"));

    // Bad input: a message, never a failure.
    let bad = console
        .get("/console/charging/report?period=day&date=2026-13-45")
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.has("id=\"report-error\"") && bad.has("YYYY-MM-DD"));
    let bad = console.get("/console/charging/report?period=year").await;
    assert_eq!(bad.status, 422);
    assert!(bad.has("周期应为日、周或月"));

    // The detail record in the records' list: searched, sorted, filtered by pile, exported.
    let records = console.get("/console/charging/records").await;
    assert_eq!(records.status, 200);
    assert!(records.has("erin") && records.has("54.00") && records.has("充满"));
    assert!(
        console
            .get("/console/charging/records?q=erin")
            .await
            .has("erin")
    );
    let none = console.get("/console/charging/records?q=nobody").await;
    assert!(none.has("没有记录"));
    let sorted = console
        .get("/console/charging/records?sort=chg_total_fee&order=desc")
        .await;
    assert_eq!(sorted.status, 200);
    assert!(sorted.has("erin"));
    let by_pile = console
        .get(&format!("/console/charging/records?pile={pile}"))
        .await;
    assert!(by_pile.has("erin"));
    let other = if pile == "F1" { "F2" } else { "F1" };
    assert!(
        !console
            .get(&format!("/console/charging/records?pile={other}"))
            .await
            .has("erin")
    );
    let csv = console.get("/console/charging/records?format=csv").await;
    assert!(csv.body.contains("erin") && csv.body.contains("54.00"));
    app.stop().await;
}

#[tokio::test]
async fn the_configuration_is_changed_and_its_errors_shown_next_to_the_fields() {
    let app = spawn_app().await;
    let console = operator(&app).await;
    let page = console.get("/console/charging/config").await;
    assert_eq!(page.status, 200);
    assert!(page.has("name=\"fast_power_kw\" value=\"30\""));
    assert!(page.has("10:00-15:00 1.00"));
    assert!(page.has("<option value=\"priority\" selected>"));

    let good: Vec<(&str, &str)> = vec![
        ("fast_piles", "2"),
        ("slow_piles", "3"),
        ("fast_power_kw", "30"),
        ("slow_power_kw", "10"),
        ("waiting_capacity", "12"),
        ("queue_len", "3"),
        ("fault_policy", "time"),
        ("service_fee", "1.00"),
        ("periods", "00:00-12:00 0.50\n12:00-24:00 0.90"),
    ];
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &good,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    let page = console.get("/console/charging/config").await;
    assert!(page.has("name=\"service_fee\" value=\"1.00\""));
    assert!(page.has("name=\"waiting_capacity\" value=\"12\""));
    assert!(page.has("<option value=\"time\" selected>"));
    assert!(page.has("12:00-24:00 0.90"));
    let config = app.state.charging.config().await.expect("config");
    assert_eq!(config.waiting_capacity, 12);
    assert_eq!(config.tariff.service_fee, 100);

    let with = |field: &'static str, value: &'static str| {
        let mut f = good.clone();
        for kv in &mut f {
            if kv.0 == field {
                kv.1 = value;
            }
        }
        f
    };
    // Not a number: the surface says so next to the field, the typed text kept.
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &with("fast_power_kw", "fast"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("<p class=\"field-error\" data-field=\"fast_power_kw\">请输入数字</p>"));
    assert!(r.has("name=\"fast_power_kw\" value=\"fast\""));
    // A number the domain refuses: its reason next to the field.
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &with("service_fee", "0.123"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"service_fee\""), "{}", r.body);
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &with("periods", "00:00-25:00 0.50"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"periods\""), "{}", r.body);
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &with("periods", "morning 0.5"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"periods\">格式应为"), "{}", r.body);
    assert_eq!(
        app.state
            .charging
            .config()
            .await
            .expect("config")
            .tariff
            .service_fee,
        100,
        "nothing changed"
    );

    // Piles change only at an empty station.
    request_charge(&app, "frank", "fast", 10.0).await;
    let r = console
        .post(
            "/console/charging/config",
            "/console/charging/config",
            &with("fast_piles", "4"),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.has("id=\"config-error\"") && r.has("站内有车辆"));
    app.stop().await;
}

#[tokio::test]
async fn operators_create_driver_accounts_that_drive_through_the_api() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let page = console.get("/console/charging/drivers").await;
    assert_eq!(page.status, 200);
    assert!(page.has("<td class=\"\">test</td>"), "the demo driver");

    let r = console
        .post(
            "/console/charging/drivers",
            "/console/charging/drivers",
            &[("username", "fleet-01"), ("password", "secret01")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    assert!(
        console
            .get("/console/charging/drivers")
            .await
            .has("fleet-01")
    );
    let found = console.get("/console/charging/drivers?q=fleet").await;
    assert!(found.has("fleet-01") && !found.has("<td class=\"\">test</td>"));
    let csv = console.get("/console/charging/drivers?format=csv").await;
    assert!(csv.body.contains("fleet-01") && csv.body.contains("用户名"));
    let sorted = console
        .get("/console/charging/drivers?sort=chg_username&order=desc")
        .await;
    let (a, b) = (
        sorted.body.find(">test<").expect("test"),
        sorted.body.find(">fleet-01<").expect("fleet"),
    );
    assert!(a < b, "descending by name");
    // The account works on the drivers' API.
    driver_token(&app, "fleet-01", "secret01").await;

    // Taken, and too short: each error next to its field, the name kept.
    let r = console
        .post(
            "/console/charging/drivers",
            "/console/charging/drivers",
            &[("username", "fleet-01"), ("password", "secret01")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"username\">用户名已存在"), "{}", r.body);
    assert!(r.has("name=\"username\" value=\"fleet-01\""));
    let r = console
        .post(
            "/console/charging/drivers",
            "/console/charging/drivers",
            &[("username", "fleet-02"), ("password", "123")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"password\""), "{}", r.body);
    let r = console
        .post(
            "/console/charging/drivers",
            "/console/charging/drivers",
            &[("username", ""), ("password", "secret01")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"username\""), "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn only_operators_with_the_form_s_csrf_value_use_the_charging_area() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let vendor = sign_in(&app, "iot", "dochen", "dochen123").await;
    let platform = sign_in(&app, "iot", "platform", "platform123").await;
    for account in [&vendor, &platform] {
        for path in [
            "/console/charging/live",
            "/console/charging/live/fragment",
            "/console/charging/report",
            "/console/charging/records",
            "/console/charging/config",
            "/console/charging/drivers",
            "/console/charging/boxes",
            "/console/charging/cards",
        ] {
            assert_eq!(account.get(path).await.status, 403, "{path}");
        }
        for (path, fields) in [
            (
                "/console/charging/boxes",
                &[
                    ("id", "CPX"),
                    ("password", "correct-horse-battery"),
                    ("pile", "F1"),
                ][..],
            ),
            ("/console/charging/boxes/delete", &[("id", "CPX")][..]),
            ("/console/charging/piles/F1/reset", &[][..]),
            ("/console/charging/piles/F1/unlock", &[][..]),
            (
                "/console/charging/cards",
                &[("id_tag", "T1"), ("driver", "test")][..],
            ),
            ("/console/charging/cards/delete", &[("id_tag", "T1")][..]),
        ] {
            let r = account.post(path, "/console/charging/live", fields).await;
            assert_eq!(r.status, 403, "{path}");
        }
        let r = account
            .post(
                "/console/charging/piles/F1/state",
                "/console/charging/live",
                &[("state", "off")],
            )
            .await;
        assert_eq!(r.status, 403);
        let r = account
            .post(
                "/console/charging/drivers",
                "/console/charging/drivers",
                &[("username", "x1"), ("password", "secret01")],
            )
            .await;
        assert_eq!(r.status, 403);
    }

    // Without a session: to sign-in, the fragment too.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = anonymous
        .get(format!("{}/console/charging/live/fragment", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);

    // An operator's POST without `_csrf` changes nothing.
    let console = operator(&app).await;
    let r = console
        .post_raw(
            "/console/charging/piles/F1/state",
            &[("state", "off"), ("_back", "/console/charging/live")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = console
        .post_raw(
            "/console/charging/drivers",
            &[("username", "x2"), ("password", "secret01")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = console
        .post_raw(
            "/console/charging/config",
            &[("fast_piles", "2"), ("_csrf", "0000")],
        )
        .await;
    assert_eq!(r.status, 403);
    let piles = app.state.charging.piles().await.expect("piles");
    assert!(
        piles
            .iter()
            .all(|p| p.state == utilhall::domain::charging::station::PileState::Working)
    );
    assert!(!console.get("/console/charging/drivers").await.has("x2"));
    for (path, fields) in [
        (
            "/console/charging/boxes",
            &[
                ("id", "CPX"),
                ("password", "correct-horse-battery"),
                ("pile", "F1"),
            ][..],
        ),
        (
            "/console/charging/cards",
            &[("id_tag", "T1"), ("driver", "test")][..],
        ),
        ("/console/charging/piles/F1/reset", &[][..]),
    ] {
        let mut all = fields.to_vec();
        all.push(("_back", "/console/charging/live"));
        assert_eq!(console.post_raw(path, &all).await.status, 403, "{path}");
    }
    assert!(!console.get("/console/charging/boxes").await.has("CPX"));
    assert!(!console.get("/console/charging/cards").await.has(">T1<"));
    app.stop().await;
}

const BOX_PASSWORD: &str = "correct-horse-battery";

/// Posts the box form.
async fn save_box(
    console: &Console,
    id: &str,
    password: &str,
    pile: &str,
) -> crate::common::console::Html {
    console
        .post(
            "/console/charging/boxes",
            "/console/charging/boxes",
            &[("id", id), ("password", password), ("pile", pile)],
        )
        .await
}

/// Posts a pile's command (`reset`, `unlock`) from the boxes' page.
async fn pile_command(
    console: &Console,
    pile: &str,
    command: &str,
) -> crate::common::console::Html {
    console
        .post(
            &format!("/console/charging/piles/{pile}/{command}"),
            "/console/charging/boxes",
            &[],
        )
        .await
}

#[tokio::test]
async fn operators_register_a_charge_box_see_it_connect_reset_it_and_remove_it() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let page = console.get("/console/charging/boxes").await;
    assert_eq!(page.status, 200);
    assert!(
        page.has("<option value=\"F1\">F1</option>"),
        "{}",
        page.body
    );

    // Each refusal next to its field, the values kept; nothing registered.
    let r = save_box(&console, "CP 1", BOX_PASSWORD, "F1").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"id\""), "{}", r.body);
    let r = save_box(&console, "CP1", "too-short", "F1").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"password\""), "{}", r.body);
    let r = save_box(&console, "CP1", "", "F1").await;
    assert_eq!(r.status, 422, "a new box needs a password");
    assert!(r.has("data-field=\"password\""), "{}", r.body);
    let r = save_box(&console, "CP1", BOX_PASSWORD, "Z9").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"pile\">没有这个充电桩"), "{}", r.body);
    assert!(r.has("name=\"id\" value=\"CP1\""), "the id kept");
    assert!(!console.get("/console/charging/boxes").await.has(">CP1<"));

    // Registered and bound: offline until it connects.
    let r = save_box(&console, "CP1", BOX_PASSWORD, "F1").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    let page = console.get("/console/charging/boxes").await;
    assert!(page.has("<td class=\"\">CP1</td>"), "{}", page.body);
    assert!(page.has(">离线<"), "{}", page.body);
    assert!(
        page.has("<option value=\"F1\">F1 (CP1)</option>"),
        "the pile names its box"
    );
    // Another box cannot take F1.
    let r = save_box(&console, "CP2", BOX_PASSWORD, "F1").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.has("data-field=\"pile\""), "{}", r.body);

    // The box connects and boots: what it said of itself, and online.
    let mut cp = crate::chargepoint::ChargePoint::connect(app.addr, "CP1", BOX_PASSWORD).await;
    cp.boot().await;
    let mut page = console.get("/console/charging/boxes").await;
    for _ in 0..100 {
        if page.has(">在线<") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = console.get("/console/charging/boxes").await;
    }
    assert!(page.has(">在线<"), "{}", page.body);
    assert!(page.has(">Utilhall Test<") && page.has(">Sim-30<") && page.has(">SN-CP1<"));
    assert!(
        page.has("/console/charging/piles/F1/reset"),
        "reset offered"
    );

    // Reset: the box's own answer on the page.
    let r = pile_command(&console, "F1", "reset").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.flash(), Some((true, "充电机应答: Accepted".into())));
    let r = pile_command(&console, "F1", "unlock").await;
    assert_eq!(r.flash(), Some((true, "充电机应答: Unlocked".into())));
    // A refusal is the box's answer too, shown as a failure.
    cp.set_behaviour(|b| b.unlock = Some("UnlockFailed"));
    let r = pile_command(&console, "F1", "unlock").await;
    assert_eq!(r.flash(), Some((false, "充电机应答: UnlockFailed".into())));
    // A simulated pile has no box to ask.
    let r = pile_command(&console, "T1", "reset").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.flash().map(|f| f.0), Some(false), "{:?}", r.location);

    // Searched, sorted and exported as every list.
    let found = console.get("/console/charging/boxes?q=Sim-3").await;
    assert!(found.has(">CP1<"), "{}", found.body);
    assert!(
        !console
            .get("/console/charging/boxes?q=nothing")
            .await
            .has(">CP1<")
    );
    let csv = console.get("/console/charging/boxes?format=csv").await;
    assert!(
        csv.body.contains("充电机编号") && csv.body.contains("CP1,Utilhall Test,Sim-30,SN-CP1"),
        "{}",
        csv.body
    );

    // A new password alone keeps the pile, and is the one the box signs in with.
    let r = save_box(&console, "CP1", "another-long-password", "").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        console
            .get("/console/charging/boxes")
            .await
            .has("<option value=\"F1\">F1 (CP1)</option>")
    );
    drop(cp);
    let mut cp =
        crate::chargepoint::ChargePoint::connect(app.addr, "CP1", "another-long-password").await;
    cp.boot().await;
    // "None" unbinds: the pile is simulated again, the box stays.
    let r = save_box(&console, "CP1", "", "-").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = console.get("/console/charging/boxes").await;
    assert!(
        page.has("<option value=\"F1\">F1</option>"),
        "{}",
        page.body
    );
    assert!(page.has(">CP1<") && !page.has("/console/charging/piles/F1/reset"));
    // An id with the characters OCPP allows, removed by its field.
    let r = save_box(&console, "CP:01.a", BOX_PASSWORD, "T1").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        console
            .get("/console/charging/boxes")
            .await
            .has(">CP:01.a<")
    );
    let r = console
        .post(
            "/console/charging/boxes/delete",
            "/console/charging/boxes",
            &[("id", "CP:01.a")],
        )
        .await;
    assert_eq!(r.flash(), Some((true, "操作成功".into())));

    // Removed; a second removal finds nothing.
    drop(cp);
    let r = console
        .post(
            "/console/charging/boxes/delete",
            "/console/charging/boxes",
            &[("id", "CP1")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    let page = console.get("/console/charging/boxes").await;
    assert!(
        !page.has(">CP1<") && page.has("<option value=\"F1\">F1</option>"),
        "{}",
        page.body
    );
    let r = console
        .post(
            "/console/charging/boxes/delete",
            "/console/charging/boxes",
            &[("id", "CP1")],
        )
        .await;
    assert_eq!(r.flash().map(|f| f.0), Some(false));
    app.stop().await;
}

#[tokio::test]
async fn operators_give_drivers_cards_and_take_them_back() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    assert_eq!(console.get("/console/charging/cards").await.status, 200);

    let give = |tag: &'static str, driver: &'static str| {
        let console = &console;
        async move {
            console
                .post(
                    "/console/charging/cards",
                    "/console/charging/cards",
                    &[("id_tag", tag), ("driver", driver)],
                )
                .await
        }
    };
    let r = give("CARD-0001", "test").await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Any printable tag, a slash too, is given and taken back by its field.
    let r = give("A/B..1", "test").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(console.get("/console/charging/cards").await.has(">A/B..1<"));
    let r = console
        .post(
            "/console/charging/cards/delete",
            "/console/charging/cards",
            &[("id_tag", "A/B..1")],
        )
        .await;
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    assert!(!console.get("/console/charging/cards").await.has("A/B..1"));
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    let page = console.get("/console/charging/cards").await;
    assert!(
        page.has(">CARD-0001<") && page.has("<td class=\"\">test</td>"),
        "{}",
        page.body
    );
    let drivers = console.get("/console/charging/drivers?q=test").await;
    let row = drivers
        .body
        .split("<tr")
        .find(|r| r.contains("<td class=\"\">test</td>"))
        .expect("the driver's row");
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|c| c.split('>').nth(1).unwrap_or("").trim_end_matches("</td"))
        .collect();
    assert_eq!(cells.get(3), Some(&"1"), "the driver's card count: {row}");

    // Refusals next to their fields, the values kept.
    let r = give("CARD-0002", "nobody").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"driver\">没有这个司机"), "{}", r.body);
    assert!(r.has("name=\"id_tag\" value=\"CARD-0002\""));
    let r = give("CARD 0002 IS FAR TOO LONG", "test").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"id_tag\""), "{}", r.body);
    let r = give("CARD-0002", "").await;
    assert_eq!(r.status, 422);
    assert!(r.has("data-field=\"driver\""), "{}", r.body);
    assert!(
        !console
            .get("/console/charging/cards")
            .await
            .has("CARD-0002")
    );

    // The card works at a charge box: the server authorizes it for its driver.
    let r = save_box(&console, "CP9", BOX_PASSWORD, "F1").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut cp = crate::chargepoint::ChargePoint::connect(app.addr, "CP9", BOX_PASSWORD).await;
    cp.boot().await;
    let tag_status = |answer: serde_json::Value| answer["idTagInfo"]["status"].clone();
    let answer = cp.call_ok("Authorize", json!({"idTag": "CARD-0001"})).await;
    assert_eq!(tag_status(answer), "Accepted");

    let found = console.get("/console/charging/cards?q=0001").await;
    assert!(found.has(">CARD-0001<"));
    let csv = console.get("/console/charging/cards?format=csv").await;
    assert!(csv.body.contains("CARD-0001,test"), "{}", csv.body);

    let r = console
        .post(
            "/console/charging/cards/delete",
            "/console/charging/cards",
            &[("id_tag", "CARD-0001")],
        )
        .await;
    assert_eq!(r.flash(), Some((true, "操作成功".into())));
    assert!(
        !console
            .get("/console/charging/cards")
            .await
            .has("CARD-0001")
    );
    let answer = cp.call_ok("Authorize", json!({"idTag": "CARD-0001"})).await;
    assert_ne!(tag_status(answer), "Accepted", "a card taken back");
    let r = console
        .post(
            "/console/charging/cards/delete",
            "/console/charging/cards",
            &[("id_tag", "CARD-0001")],
        )
        .await;
    assert_eq!(r.flash().map(|f| f.0), Some(false));
    app.stop().await;
}
