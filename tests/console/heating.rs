//! The heating area's pages: users (disable, enable), heat accounts and their bills (unbind),
//! bills, CSV imports with their line-numbered errors, payment orders, agreements and system
//! configuration, statistics; IoT accounts and forms without `_csrf` refused.

use serde_json::json;

use crate::common::console::{operator, sign_in};
use crate::common::spawn_app;

const PAGES: [&str; 7] = [
    "/console/heating/users",
    "/console/heating/accounts",
    "/console/heating/bills",
    "/console/heating/import",
    "/console/heating/orders",
    "/console/heating/config",
    "/console/heating/stats",
];

#[tokio::test]
async fn every_heating_page_shows_the_demo_data() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    for path in PAGES {
        let page = console.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.has("热用户账户") && page.has("协议与配置"),
            "{path}: the tabs"
        );
    }
    assert!(
        console
            .get("/console/heating/users")
            .await
            .has("13888888888")
    );
    let accounts = console.get("/console/heating/accounts").await;
    assert!(accounts.has("H202400003") && accounts.has("王五"));
    assert!(accounts.has("href=\"/console/heating/accounts/H202400001\""));
    let bills = console.get("/console/heating/bills").await;
    assert!(bills.has("B1734502968024") && bills.has("1250.50") && bills.has("未缴费"));
    let detail = console.get("/console/heating/accounts/H202400001").await;
    assert_eq!(detail.status, 200);
    assert!(detail.has("B1666000000001") && detail.has("2015.50") && detail.has("张三"));
    assert!(detail.has("未绑定用户"), "not bound in the demo");
    assert_eq!(
        console.get("/console/heating/accounts/H999").await.status,
        404
    );
    let config = console.get("/console/heating/config").await;
    assert!(config.has("0991-1234567") && config.has("隐私政策"));
    let stats = console.get("/console/heating/stats").await;
    assert!(stats.has("<svg class=\"chart\"") && stats.has("2024-2025"));
    // 2024-2025: 1249.50 paid (imported as paid, journaled), 3958.98 unpaid.
    assert!(
        stats.has("1249.50") && stats.has("3958.98"),
        "{}",
        stats.body
    );
    let english = console.get("/console/heating/stats?lang=en").await;
    assert!(english.has("Paid and unpaid per season"));
}

#[tokio::test]
async fn bills_are_filtered_searched_sorted_and_exported() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let paid = console.get("/console/heating/bills?status=paid").await;
    assert!(paid.has("B1666000000001") && !paid.has("B1734502968101"));
    assert!(paid.has("<b class=\"total\">3</b>"), "{}", paid.body);
    let unpaid = console
        .get("/console/heating/bills?status=unpaid&q=H202400002")
        .await;
    assert!(unpaid.has("B1734502968101") && unpaid.has("<b class=\"total\">1</b>"));
    let sorted = console
        .get("/console/heating/bills?sort=amount&order=asc")
        .await;
    let (small, large) = (sorted.body.find("944.48"), sorted.body.find("2015.50"));
    assert!(small.is_some() && small < large, "ascending by amount");
    let sorted = console
        .get("/console/heating/bills?sort=amount&order=desc")
        .await;
    assert!(sorted.body.find("2015.50") < sorted.body.find("944.48"));
    let csv = console
        .get("/console/heating/bills?status=unpaid&format=csv")
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}'), "a byte-order mark");
    let header = csv
        .body
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches('\u{feff}');
    assert!(
        header.starts_with("账单编号,供热账号,供暖季,金额（元）"),
        "{header}"
    );
    assert_eq!(csv.body.lines().count(), 4, "header and the 3 unpaid bills");
    let users = console.get("/console/heating/users?q=138888").await;
    assert!(users.has("13888888888"));
    assert!(
        !console
            .get("/console/heating/users?q=139")
            .await
            .has("13888888888")
    );
}

#[tokio::test]
async fn an_operator_disables_and_enables_a_user() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let login = || {
        app.post(
            "/heating/api/auth/login",
            json!({"phone": "13888888888", "password": "123456789"}),
        )
    };
    assert_eq!(login().await.code(), 200);
    let page = console.get("/console/heating/users").await;
    let at = page.body.find("/disable\"").expect("a disable button");
    let start = page.body[..at]
        .rfind("/console/heating/users/")
        .expect("its url");
    let url = page.body[start..at + "/disable".len()].to_owned();
    let done = console.post(&url, "/console/heating/users", &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(
        done.flash(),
        Some((true, "操作成功".into())),
        "{:?}",
        done.location
    );
    let page = console.get("/console/heating/users").await;
    assert!(page.has("/enable\"") && page.has("tag-bad"));
    assert_ne!(login().await.code(), 200, "a disabled user cannot log in");
    let enable = url.replace("/disable", "/enable");
    assert_eq!(
        console
            .post(&enable, "/console/heating/users", &[])
            .await
            .flash()
            .map(|f| f.0),
        Some(true)
    );
    assert_eq!(login().await.code(), 200, "enabled again");
    let unknown = console
        .post(
            "/console/heating/users/nobody/disable",
            "/console/heating/users",
            &[],
        )
        .await;
    assert_eq!(unknown.flash().map(|f| f.0), Some(false));
}

#[tokio::test]
async fn an_operator_unbinds_an_account() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let user = app
        .state
        .heating
        .users
        .list(Some("13888888888"), 1, 1)
        .await
        .expect("user")
        .1;
    let bind = utilhall::domain::heating::accounts::BindRequest {
        heat_account: "H202400001",
        real_name: "张三",
        id_card: "610102199001011234",
        address: "天山区xx小区xx号楼xx单元xx室",
    };
    app.state
        .heating
        .accounts
        .bind(&user[0].id, bind)
        .await
        .expect("bound");
    let console = operator(&app).await;
    let detail = console.get("/console/heating/accounts/H202400001").await;
    assert!(detail.has("id=\"unbind\"") && detail.has("13888888888"));
    assert!(
        console
            .get("/console/heating/accounts?q=13888888888")
            .await
            .has("H202400001")
    );
    let back = "/console/heating/accounts/H202400001";
    let done = console
        .post("/console/heating/accounts/H202400001/unbind", back, &[])
        .await;
    assert_eq!(done.flash(), Some((true, "操作成功".into())));
    assert!(done.location.as_deref().unwrap_or("").starts_with(back));
    let detail = console.get(back).await;
    assert!(detail.has("未绑定用户") && !detail.has("id=\"unbind\""));
    let account = app
        .state
        .heating
        .accounts
        .account("H202400001")
        .await
        .expect("account");
    assert!(account.bound_user_id.is_none());
}

#[tokio::test]
async fn an_import_with_a_bad_line_shows_its_line_and_writes_nothing() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let bad = "heat_account,real_name,id_card,address,heating_area\n\
               H202500001,赵六,650102198505054326,新市区北京路1号,80\n\
               H202500002,钱七,650102198505054326,新市区北京路2号,-5\n";
    let page = console
        .upload(
            "/console/heating/import/accounts",
            "file",
            "a.csv",
            bad.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.has("id=\"import-errors\"") && page.has("第 3 行"),
        "{}",
        page.body
    );
    assert!(page.has("heating_area"));
    assert!(
        app.state
            .heating
            .accounts
            .account("H202500001")
            .await
            .is_err(),
        "nothing written"
    );

    let good = bad.replace(",-5", ",75.5");
    let page = console
        .upload(
            "/console/heating/import/accounts",
            "file",
            "a.csv",
            good.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.has("导入完成") && page.has("新增: <b>2</b>"),
        "{}",
        page.body
    );
    assert!(
        console
            .get("/console/heating/accounts?q=赵六")
            .await
            .has("H202500001")
    );

    let bills = "bill_id,heat_account,heating_season,amount,bill_date,due_date\n\
                 B1,H202500001,2025-2026,100.00,2025-10-15T02:00:00.000Z,2025-11-30\n\
                 B2,H404,2025-2026,100.00,2025-10-15T02:00:00.000Z,2025-11-30\n";
    let page = console
        .upload(
            "/console/heating/import/bills",
            "file",
            "b.csv",
            bills.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.has("第 3 行") && page.has("H404"), "{}", page.body);
    let ok = bills.lines().take(2).collect::<Vec<_>>().join("\n");
    let page = console
        .upload(
            "/console/heating/import/bills",
            "file",
            "b.csv",
            ok.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        console
            .get("/console/heating/bills?q=H202500001")
            .await
            .has("<b class=\"total\">1</b>")
    );
    let mut english = sign_in(&app, "operator", "admin", "admin123456").await;
    english.lang = "en";
    let page = english
        .upload(
            "/console/heating/import/accounts",
            "file",
            "a.csv",
            bad.as_bytes().to_vec(),
            &[],
        )
        .await;
    assert!(page.has("line 3:"), "{}", page.body);
}

#[tokio::test]
async fn config_edits_show_a_bad_field_next_to_it() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    let long = "x".repeat(250);
    let page = console
        .post(
            "/console/heating/config/system",
            "/console/heating/config",
            &[
                ("customer_service_phone", &long),
                ("business_hours", "9-18"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    let field = page
        .body
        .find("id=\"cfg-customer_service_phone\"")
        .expect("the field");
    let error = page.body.find("class=\"field-error\"").expect("its error");
    assert!(error > field && error < page.body.find("id=\"cfg-business_hours\"").unwrap_or(0));
    assert!(page.has("value=\"9-18\""), "what was sent is kept");
    let config = app
        .state
        .heating
        .content
        .system_config()
        .await
        .expect("config");
    assert_eq!(
        config.customer_service_phone, "0991-1234567",
        "nothing saved"
    );

    let done = console
        .post(
            "/console/heating/config/system",
            "/console/heating/config",
            &[("customer_service_phone", "0991-7654321")],
        )
        .await;
    assert_eq!(done.flash(), Some((true, "操作成功".into())));
    assert!(
        console
            .get("/console/heating/config")
            .await
            .has("0991-7654321")
    );

    let page = console
        .post(
            "/console/heating/config/agreements/privacy_policy",
            "/console/heating/config",
            &[("title", "隐私政策"), ("version", "2.0"), ("content", "  ")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.has("内容不能为空"));
    let done = console
        .post(
            "/console/heating/config/agreements/privacy_policy",
            "/console/heating/config",
            &[
                ("title", "隐私政策"),
                ("version", "2.0"),
                ("content", "新的隐私政策<b>"),
            ],
        )
        .await;
    assert_eq!(done.flash().map(|f| f.0), Some(true));
    let page = console.get("/console/heating/config").await;
    assert!(
        page.has("新的隐私政策&lt;b&gt;") || page.has("新的隐私政策&#60;b&#62;"),
        "escaped"
    );
    let nope = console
        .post(
            "/console/heating/config/agreements/nope",
            "/console/heating/config",
            &[],
        )
        .await;
    assert_eq!(nope.status, 404);
}

#[tokio::test]
async fn iot_accounts_and_forms_without_csrf_are_refused() {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let vendor = sign_in(&app, "iot", "dochen", "dochen123").await;
    for path in PAGES {
        assert_eq!(vendor.get(path).await.status, 403, "{path}");
    }
    assert_eq!(
        vendor
            .get("/console/heating/accounts/H202400001")
            .await
            .status,
        403
    );
    let r = vendor
        .post(
            "/console/heating/config/system",
            "/console/heating/config",
            &[("company_name", "x")],
        )
        .await;
    assert_eq!(r.status, 403);

    let console = operator(&app).await;
    let id = app
        .state
        .heating
        .users
        .list(None, 1, 1)
        .await
        .expect("users")
        .1[0]
        .id
        .clone();
    let url = format!("/console/heating/users/{id}/disable");
    let r = console
        .post_raw(&url, &[("_back", "/console/heating/users")])
        .await;
    assert_eq!(r.status, 403);
    let r = console
        .post_raw(
            "/console/heating/config/system",
            &[("company_name", "x"), ("_csrf", "0000")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        app.state
            .heating
            .users
            .user(&id)
            .await
            .expect("user")
            .disabled_at
            .is_none()
    );
    let mut no_csrf = operator(&app).await;
    no_csrf.csrf = String::new();
    let r = no_csrf
        .upload(
            "/console/heating/import/accounts",
            "file",
            "a.csv",
            b"heat_account\n".to_vec(),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    let config = app
        .state
        .heating
        .content
        .system_config()
        .await
        .expect("config");
    assert_ne!(config.company_name, "x");
}
