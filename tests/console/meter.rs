//! The meter area's pages: households and their page, API accounts (create, enable, disable),
//! readings uploaded as CSV, recharges and consumption by date; IoT accounts refused.

use crate::common::console::{operator, sign_in};
use crate::common::spawn_app;

const PAGES: [&str; 5] = [
    "/console/meter/households",
    "/console/meter/accounts",
    "/console/meter/readings",
    "/console/meter/recharges",
    "/console/meter/consumption",
];

#[tokio::test]
async fn every_meter_page_shows_the_demo_data() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    for path in PAGES {
        let page = console.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.has("抄表导入") && page.has("充值记录"),
            "{path}: the tabs"
        );
    }
    let households = console.get("/console/meter/households").await;
    assert!(
        households.has("2022040001") && households.has("130.00") && households.has("202364555511")
    );
    let one = console.get("/console/meter/households/2022040001").await;
    assert_eq!(one.status, 200);
    assert!(
        one.has("202364555511")
            && one.has("电表")
            && one.has("465465165165165")
            && one.has("120.00")
    );
    assert_eq!(
        console.get("/console/meter/households/nobody").await.status,
        404
    );
    assert!(console.get("/console/meter/accounts").await.has("khcs"));
    let recharges = console.get("/console/meter/recharges").await;
    assert!(recharges.has("jrh2023030716084144045") && recharges.has("10.00"));
    let used = console.get("/console/meter/consumption").await;
    assert!(
        used.has("<svg class=\"chart\"") && used.has("202364555511"),
        "{}",
        used.body
    );
}

#[tokio::test]
async fn lists_are_searched_sorted_exported_and_filtered_by_date() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let found = console.get("/console/meter/households?q=102").await;
    assert!(found.has("2022040002") && !found.has("2022040001"));
    let sorted = console
        .get("/console/meter/households?sort=balance&order=desc")
        .await;
    assert!(
        sorted.body.find("2022040001") < sorted.body.find("2022040002"),
        "130.00 before 50.00"
    );
    let csv = console.get("/console/meter/households?format=csv").await;
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(
        csv.body
            .lines()
            .next()
            .unwrap_or("")
            .contains("用户编号,用户名称"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.lines().count(), 3);

    let day = console
        .get("/console/meter/recharges?from=2023-04-06&to=2023-04-06")
        .await;
    assert!(day.has("<b class=\"total\">2</b>"), "{}", day.body);
    let none = console
        .get("/console/meter/recharges?from=2023-04-07")
        .await;
    assert!(none.has("<b class=\"total\">0</b>"));
    let bad = console
        .get("/console/meter/recharges?from=2023-99-99")
        .await;
    assert_eq!(bad.status, 200);
    assert!(bad.has("field-error") && bad.has("<b class=\"total\">2</b>"));
    let csv = console
        .get("/console/meter/recharges?from=2023-04-06&format=csv")
        .await;
    assert_eq!(csv.body.lines().count(), 3);

    let april = console
        .get("/console/meter/consumption?from=2022-04-08&to=2022-04-15")
        .await;
    assert!(april.has("<b class=\"total\">2</b>"), "{}", april.body);
    assert!(april.has("04-08") && april.has("<rect"), "a bar per day");
}

#[tokio::test]
async fn api_accounts_are_created_disabled_and_enabled() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let bad = console
        .post(
            "/console/meter/accounts",
            "/console/meter/accounts",
            &[
                ("admin_user_name", "bad name!"),
                ("api_password", "secret1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    let field = bad.body.find("id=\"admin_user_name\"").expect("field");
    let error = bad.body.find("class=\"field-error\"").expect("error");
    assert!(error > field && error < bad.body.find("id=\"api_password\"").unwrap_or(0));
    assert!(bad.has("value=\"bad name!\""));
    let ok = console
        .post(
            "/console/meter/accounts",
            "/console/meter/accounts",
            &[
                ("admin_user_name", "platform2"),
                ("api_password", "secret1"),
            ],
        )
        .await;
    assert_eq!(ok.flash(), Some((true, "操作成功".into())));
    let again = console
        .post(
            "/console/meter/accounts",
            "/console/meter/accounts",
            &[
                ("admin_user_name", "platform2"),
                ("api_password", "secret1"),
            ],
        )
        .await;
    assert_eq!(again.status, 422, "a taken name");
    assert!(
        app.state
            .meter
            .login("platform2", "secret1", None)
            .await
            .is_ok()
    );

    let done = console
        .post(
            "/console/meter/accounts/platform2/disable",
            "/console/meter/accounts",
            &[],
        )
        .await;
    assert_eq!(done.flash().map(|f| f.0), Some(true));
    assert!(
        app.state
            .meter
            .login("platform2", "secret1", None)
            .await
            .is_err()
    );
    assert!(
        console
            .get("/console/meter/accounts")
            .await
            .has("/console/meter/accounts/platform2/enable")
    );
    let done = console
        .post(
            "/console/meter/accounts/platform2/enable",
            "/console/meter/accounts",
            &[],
        )
        .await;
    assert_eq!(done.flash().map(|f| f.0), Some(true));
    assert!(
        app.state
            .meter
            .login("platform2", "secret1", None)
            .await
            .is_ok()
    );
    let none = console
        .post(
            "/console/meter/accounts/nobody/enable",
            "/console/meter/accounts",
            &[],
        )
        .await;
    assert_eq!(none.flash().map(|f| f.0), Some(false));
}

#[tokio::test]
async fn readings_upload_applies_a_good_file_and_names_the_line_of_a_bad_one() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let bad = "tableNo,reading,readTime\n\
               202364555511,4.00,2022-04-25 08:00:00\n\
               202364555512,1.00,2022-04-25 08:00:00\n";
    let page = console
        .upload(
            "/console/meter/readings",
            "file",
            "r.csv",
            bad.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.has("第 3 行") && page.has("lower than"),
        "{}",
        page.body
    );
    let (_, h, _) = app
        .state
        .meter
        .household_any("2022040001")
        .await
        .expect("household");
    assert_eq!(h.balance.yuan_string(), "130.00", "nothing applied");
    let header = console
        .upload(
            "/console/meter/readings",
            "file",
            "r.csv",
            b"tableNo,reading\n1,2\n".to_vec(),
            &[],
        )
        .await;
    assert_eq!(header.status, 422);
    assert!(header.has("第 1 行"));

    let good = "tableNo,reading,readTime\n202364555511,4.00,2022-04-25 08:00:00\n";
    let page = console
        .upload(
            "/console/meter/readings",
            "file",
            "r.csv",
            good.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("已应用: <b>1</b>"), "{}", page.body);
    let (_, h, _) = app
        .state
        .meter
        .household_any("2022040001")
        .await
        .expect("household");
    assert_eq!(h.balance.yuan_string(), "129.44", "1 unit at 0.56");
}

#[tokio::test]
async fn iot_accounts_and_forms_without_csrf_are_refused() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let platform = sign_in(&app, "iot", "platform", "platform123").await;
    for path in PAGES {
        assert_eq!(platform.get(path).await.status, 403, "{path}");
    }
    assert_eq!(
        platform
            .get("/console/meter/households/2022040001")
            .await
            .status,
        403
    );
    let console = operator(&app).await;
    let r = console
        .post_raw(
            "/console/meter/accounts/khcs/disable",
            &[("_back", "/console/meter/accounts")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        app.state.meter.login("khcs", "123456", None).await.is_ok(),
        "still enabled"
    );
    let mut no_csrf = operator(&app).await;
    no_csrf.csrf = "bad".into();
    let good = "tableNo,reading,readTime\n202364555511,4.00,2022-04-25 08:00:00\n";
    let r = no_csrf
        .upload(
            "/console/meter/readings",
            "file",
            "r.csv",
            good.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    let (_, h, _) = app
        .state
        .meter
        .household_any("2022040001")
        .await
        .expect("household");
    assert_eq!(h.balance.yuan_string(), "130.00");
}
