//! The retail area of the console: each page with the demo's rows, search, sort, CSV, the
//! confirmation of a settlement bill, forms that show their refusal next to the field, feedback
//! text shown escaped with its picture served on the console's origin, and who may see it.

use serde_json::json;

use crate::common::console::{Console, operator, sign_in};
use crate::common::{TestApp, spawn_app};

const UNCONFIRMED: &str = "SB201707-MEIZU";

async fn demo_app() -> (TestApp, Console) {
    let app = spawn_app().await;
    app.state.load_demo().await.expect("demo");
    let console = operator(&app).await;
    (app, console)
}

/// The demo hall user's token, as the hall's client logs in.
async fn hall_token(app: &TestApp) -> String {
    let r = app
        .post(
            "/retail/user/login",
            json!({"phone": "13900000000", "password": "retail123456"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["token"].as_str().expect("token").to_owned()
}

/// Sends feedback with a picture through the hall's own API (multipart), as a client does;
/// returns the picture's bytes.
async fn feedback_with_picture(app: &TestApp, token: &str, content: &str) -> Vec<u8> {
    let png = app
        .client
        .get(format!("{}/retail/qr_code?format=png", app.base))
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("png")
        .to_vec();
    let boundary = "----retail-console-test";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\n{content}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = app
        .client
        .post(format!("{}/retail/user/recommend", app.base))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    png
}

/// The page with askama's numeric escapes (`&#60;`) written as named ones (`&lt;`).
fn escaped(body: &str) -> String {
    body.replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#34;", "&quot;")
}

#[tokio::test]
async fn every_retail_page_shows_the_demo_rows() {
    let (app, console) = demo_app().await;
    for (path, shown) in [
        ("/console/retail/companies", "珠海高远电能科技有限公司"),
        ("/console/retail/enterprises", "91440400MA4UJ7Q0X5"),
        ("/console/retail/users", "13900000000"),
        ("/console/retail/contracts", "GD441520170601"),
        ("/console/retail/bills", UNCONFIRMED),
        ("/console/retail/articles", "什么是峰谷电价"),
        ("/console/retail/guide", "如何绑定企业？"),
        ("/console/retail/monthly-use", "500.0000"),
        ("/console/retail/feedback", "没有记录"),
    ] {
        let page = console.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.has(shown), "{path} shows {shown}: {}", page.body);
        assert!(
            page.has("href=\"/console/retail/companies\""),
            "{path}: tabs"
        );
    }
    let users = console.get("/console/retail/users").await;
    assert!(users.has("珠海魅族科技有限公司") && users.has("解除绑定"));
    let chart = console.get("/console/retail/monthly-use").await;
    assert!(chart.has("<svg class=\"chart\""), "the chart is drawn");
    let bills = console.get("/console/retail/bills").await;
    assert!(bills.has("已确认") && bills.has("未确认") && bills.has("确认账单"));
    let mut english = sign_in(&app, "operator", "admin", "admin123456").await;
    english.lang = "en";
    let page = english.get("/console/retail/bills").await;
    assert!(page.has("Settlement bills") && page.has("Unconfirmed"));
    app.stop().await;
}

#[tokio::test]
async fn bills_are_searched_sorted_filtered_and_exported() {
    let (app, console) = demo_app().await;
    let found = console.get("/console/retail/bills?q=YGSOFT").await;
    assert!(found.has("SB201706-YGSOFT") && !found.has(UNCONFIRMED));
    assert!(found.has("<b class=\"total\">1</b>"));
    let sorted = console
        .get("/console/retail/bills?sort=retail_bill_date&order=asc")
        .await;
    let first = sorted.body.find("SB201706-MEIZU").expect("June");
    let last = sorted.body.find(UNCONFIRMED).expect("July");
    assert!(first < last, "oldest first");
    let desc = console
        .get("/console/retail/bills?sort=retail_bill_date&order=desc")
        .await;
    assert!(desc.body.find(UNCONFIRMED) < desc.body.find("SB201706-MEIZU"));
    let open = console.get("/console/retail/bills?state=unconfirmed").await;
    assert!(open.has(UNCONFIRMED) && !open.has("SB201706-YGSOFT"));
    let paged = console.get("/console/retail/bills?size=1&page=2").await;
    assert!(paged.has("<b class=\"total\">3</b>") && paged.has("rel=\"prev\""));
    let csv = console.get("/console/retail/bills?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    assert!(csv.body.contains("SB201706-YGSOFT") && csv.body.contains("结算电量"));
    let companies = console.get("/console/retail/companies?q=高远").await;
    assert!(companies.has("珠海高远电能科技有限公司"));
    let none = console
        .get("/console/retail/companies?q=nothing-like-it")
        .await;
    assert!(none.has("没有记录"));
    app.stop().await;
}

#[tokio::test]
async fn confirming_a_settlement_bill_once_and_the_refusal_of_a_second_time() {
    let (app, console) = demo_app().await;
    let back = "/console/retail/bills?state=unconfirmed";
    let url = format!("/console/retail/bills/{UNCONFIRMED}/confirm");
    let r = console.post(&url, back, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.flash(),
        Some((true, "操作成功".to_owned())),
        "{:?}",
        r.location
    );
    let bill = app
        .state
        .retail_data
        .settlement_bill(UNCONFIRMED)
        .await
        .expect("bill");
    assert_eq!(bill.confirmer.as_deref(), Some("admin"));
    assert!(bill.confirm_date.is_some());
    let page = console.get(back).await;
    assert!(!page.has(UNCONFIRMED), "no longer unconfirmed");
    let again = console.post(&url, back, &[]).await;
    let (ok, text) = again.flash().expect("a message");
    assert!(!ok && text.contains("已确认"), "{text}");
    let shown = console.get(again.location.as_deref().expect("back")).await;
    assert!(shown.has("flash err") && shown.has("该账单已确认"));
    let unknown = console
        .post("/console/retail/bills/NO-SUCH/confirm", back, &[])
        .await;
    assert_eq!(unknown.flash().map(|f| f.0), Some(false));
    app.stop().await;
}

#[tokio::test]
async fn forms_show_the_refusal_next_to_the_field_and_change_nothing() {
    let (app, console) = demo_app().await;
    let before = app
        .state
        .retail_data
        .all_articles()
        .await
        .expect("list")
        .len();
    let back = "/console/retail/articles";
    let r = console
        .post(
            "/console/retail/articles",
            back,
            &[
                ("channel", "policy"),
                ("title", " "),
                ("author", "运营"),
                ("content", "正文"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.has("id=\"err-title\""), "{}", r.body);
    assert!(r.has("标题不能为空"));
    assert!(r.has("正文"), "what was typed is kept");
    let after = app.state.retail_data.all_articles().await.expect("list");
    assert_eq!(after.len(), before, "nothing created");
    let ok = console
        .post(
            "/console/retail/articles",
            back,
            &[
                ("channel", "policy"),
                ("title", "<b>新政策</b>"),
                ("author", "运营"),
                ("content", "正文"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let list = console.get(back).await;
    assert!(escaped(&list.body).contains("&lt;b&gt;新政策&lt;/b&gt;") && !list.has("<b>新政策"));
    let created = app
        .state
        .retail_data
        .all_articles()
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.title == "<b>新政策</b>")
        .expect("created");
    let gone = console
        .post(
            &format!("/console/retail/articles/{}/delete", created.id),
            back,
            &[],
        )
        .await;
    assert_eq!(gone.flash().map(|f| f.0), Some(true));
    assert_eq!(
        app.state
            .retail_data
            .all_articles()
            .await
            .expect("list")
            .len(),
        before
    );

    // Other forms: a company without a name, an enterprise with a bad phone, a month of 13.
    let r = console
        .post(
            "/console/retail/companies",
            "/console/retail/companies",
            &[("name", ""), ("services", "售电服务")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("id=\"err-name\""));
    let r = console
        .post(
            "/console/retail/enterprises",
            "/console/retail/enterprises",
            &[
                ("name", "测试企业"),
                ("credit_code", "91440400MA4WKP8N18"),
                ("contact_phone", "123"),
            ],
        )
        .await;
    assert!(r.status == 422 || r.status == 409, "{}", r.status);
    let r = console
        .post(
            "/console/retail/monthly-use",
            "/console/retail/monthly-use",
            &[
                ("credit_code", "91440400MA4UJ7Q0X5"),
                ("year", "2017"),
                ("month", "x"),
                ("number", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("id=\"err-month\""));
    let r = console
        .post(
            "/console/retail/monthly-use",
            "/console/retail/monthly-use",
            &[
                ("credit_code", "91440400MA4UJ7Q0X5"),
                ("year", "2017"),
                ("month", "4"),
                ("number", "612.5"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = console
        .get("/console/retail/monthly-use?credit_code=91440400MA4UJ7Q0X5&year=2017")
        .await;
    assert!(page.has("612.5000") && page.has("<svg class=\"chart\""));
    let guide = console
        .post(
            "/console/retail/guide",
            "/console/retail/guide",
            &[
                ("question", "如何申报？"),
                ("answer", "登录后申报"),
                ("position", "abc"),
            ],
        )
        .await;
    assert_eq!(guide.status, 422);
    assert!(guide.has("id=\"err-position\""));
    app.stop().await;
}

#[tokio::test]
async fn feedback_is_shown_escaped_with_its_picture_on_the_consoles_origin() {
    let (app, console) = demo_app().await;
    let token = hall_token(&app).await;
    let png = feedback_with_picture(&app, &token, "<script>alert(1)</script>").await;
    let page = console.get("/console/retail/feedback").await;
    assert_eq!(page.status, 200);
    assert!(
        escaped(&page.body).contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );
    assert!(!page.has("<script>alert(1)"));
    let entry = app
        .state
        .retail_data
        .all_feedback()
        .await
        .expect("feedback")
        .into_iter()
        .next()
        .expect("one");
    let url = format!("/console/retail/feedback/{}/picture", entry.id);
    assert!(page.has(&format!("<img src=\"{url}\"")), "{}", page.body);
    let picture = console
        .client
        .get(format!("{}{url}", app.base))
        .header("cookie", &console.cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(picture.headers()["x-content-type-options"], "nosniff");
    assert_eq!(picture.bytes().await.expect("bytes").to_vec(), png);
    let missing = console.get("/console/retail/feedback/nope/picture").await;
    assert_eq!(missing.status, 404);
    let vendor = sign_in(&app, "iot", "dochen", "dochen123").await;
    assert_eq!(vendor.get(&url).await.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn iot_accounts_are_refused_and_a_post_without_csrf_changes_nothing() {
    let (app, console) = demo_app().await;
    let vendor = sign_in(&app, "iot", "dochen", "dochen123").await;
    for path in [
        "/console/retail/companies",
        "/console/retail/enterprises",
        "/console/retail/users",
        "/console/retail/contracts",
        "/console/retail/bills",
        "/console/retail/feedback",
        "/console/retail/articles",
        "/console/retail/guide",
        "/console/retail/monthly-use",
        "/console/retail/bills?format=csv",
    ] {
        assert_eq!(vendor.get(path).await.status, 403, "{path}");
    }
    let url = format!("/console/retail/bills/{UNCONFIRMED}/confirm");
    let r = vendor.post(&url, "/console/retail/bills", &[]).await;
    assert_eq!(r.status, 403);
    let r = console
        .post_raw(&url, &[("_back", "/console/retail/bills")])
        .await;
    assert_eq!(r.status, 403);
    let r = console
        .post_raw(
            &url,
            &[("_csrf", "0000"), ("_back", "/console/retail/bills")],
        )
        .await;
    assert_eq!(r.status, 403);
    let bill = app
        .state
        .retail_data
        .settlement_bill(UNCONFIRMED)
        .await
        .expect("bill");
    assert!(bill.confirmer.is_none(), "still unconfirmed");
    let users = app.state.retail.users().await.expect("users");
    let bound = users.iter().find(|u| u.binding.is_some()).expect("bound");
    let r = console
        .post_raw(
            &format!("/console/retail/users/{}/unbind", bound.id),
            &[("_back", "/console/retail/users")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = console
        .post(
            &format!("/console/retail/users/{}/unbind", bound.id),
            "/console/retail/users",
            &[],
        )
        .await;
    assert_eq!(r.flash().map(|f| f.0), Some(true));
    let users = app.state.retail.users().await.expect("users");
    assert!(
        users
            .iter()
            .all(|u| u.id != bound.id || u.binding.is_none())
    );
    app.stop().await;
}

#[tokio::test]
async fn operators_add_a_settlement_bill_and_see_a_bad_figure_next_to_its_field() {
    let (app, console) = demo_app().await;
    let back = "/console/retail/bills";
    let page = console.get(back).await;
    assert!(page.has("id=\"bill-form\""), "{}", page.body);
    let mut fields = vec![
        ("credit_code", "91440400MA4UJ7Q0X5"),
        ("id", "SB-CONSOLE-1"),
        ("date", "2026-11-30"),
        ("elec_use_date", "2026-10-01"),
        ("user_benefits", "30.5"),
        ("settle_number", "30"),
        ("actual_elec_use", "30"),
        ("declare_elec_number", "5000"),
        ("decompose_elec_number", "28"),
        ("consultation_earn", "198"),
        ("assign_elec_number", "0"),
        ("bid_income", "-100"),
        ("check_elec_number", "500"),
        ("check_bill", "lots"),
    ];
    let refused = console.post(back, back, &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.has("id=\"err-check_bill\""), "{}", refused.body);
    assert!(
        app.state
            .retail_data
            .settlement_bill("SB-CONSOLE-1")
            .await
            .is_err(),
        "nothing written"
    );
    fields.last_mut().expect("check_bill").1 = "28.34";
    let ok = console.post(back, back, &fields).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.flash(), Some((true, "操作成功".into())));
    let bill = app
        .state
        .retail_data
        .settlement_bill("SB-CONSOLE-1")
        .await
        .expect("created");
    assert!(bill.confirmer.is_none(), "a new bill is unconfirmed");
    let list = console.get("/console/retail/bills?q=SB-CONSOLE").await;
    assert!(
        list.has("SB-CONSOLE-1") && list.has("确认账单"),
        "{}",
        list.body
    );
    // The same number again: a conflict, shown on the page.
    let again = console.post(back, back, &fields).await;
    assert_eq!(again.status, 409, "{}", again.body);
    app.stop().await;
}

/// A search of three characters or more is looked up in the trigram indexes (SQLite's FTS5
/// tables, PostgreSQL's pg_trgm), which follow every insert and delete; a shorter one reads the
/// rows; any text is text, quotes and wildcards included.
#[tokio::test]
async fn searches_find_what_was_just_written_and_not_what_was_deleted() {
    let (app, console) = demo_app().await;
    let back = "/console/retail/articles";
    let ok = console
        .post(
            back,
            back,
            &[
                ("channel", "policy"),
                ("title", "峰谷分时新规 \"100%_\""),
                ("author", "运营"),
                ("content", "正文"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    for q in [
        "%E5%88%86%E6%97%B6%E6%96%B0",
        "%E5%88%86%E6%97%B6",
        "%22100%25_%22",
        "0%25_",
    ] {
        let found = console.get(&format!("{back}?q={q}")).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(found.has("峰谷分时新规"), "q={q}: {}", found.body);
        assert!(
            found.has("<b class=\"total\">1</b>"),
            "q={q}: {}",
            found.body
        );
    }
    for q in ["%E5%88%86%E6%97%B6%E6%97%A7", "100%25%25", "1_0"] {
        let missed = console.get(&format!("{back}?q={q}")).await;
        assert_eq!(missed.status, 200, "{}", missed.body);
        assert!(missed.has("没有记录"), "q={q}: {}", missed.body);
    }
    let created = app
        .state
        .retail_data
        .all_articles()
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.title.starts_with("峰谷分时新规"))
        .expect("created");
    let gone = console
        .post(&format!("{back}/{}/delete", created.id), back, &[])
        .await;
    assert_eq!(gone.flash().map(|f| f.0), Some(true));
    let after = console
        .get(&format!("{back}?q=%E5%88%86%E6%97%B6%E6%96%B0"))
        .await;
    assert!(after.has("没有记录"), "{}", after.body);
    app.stop().await;
}

/// Adds `n` questions to the guide in one transaction, the `i`-th worded by `question(i)`,
/// placed from `position` on.
async fn add_questions(
    app: &TestApp,
    prefix: &str,
    position: i64,
    n: u32,
    question: impl Fn(u32) -> String,
) {
    let mut tx = app.state.store.pool().begin().await.expect("tx");
    for i in 0..n {
        sqlx::query(
            "INSERT INTO retail_guide (id, question, answer, position, created_at) \
             VALUES ($1, $2, '答', $3, 0)",
        )
        .bind(format!("{prefix}-{i}"))
        .bind(question(i))
        .bind(position + i64::from(i))
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
}

/// A search many rows match is counted up to 1,000 and says so ("1000+"), with a next page
/// however far; one that fewer rows match is counted exactly, on both backends.
#[tokio::test]
async fn a_search_matching_more_than_a_thousand_rows_says_at_least() {
    let (app, console) = demo_app().await;
    // 1,100 questions of the guide that contain "电表", 30 that also contain "预付费".
    add_questions(&app, "g", 1000, 1100, |i| {
        if i < 30 {
            format!("预付费电表问题{i}")
        } else {
            format!("电表问题{i}")
        }
    })
    .await;
    let many = console
        .get("/console/retail/guide?q=%E7%94%B5%E8%A1%A8")
        .await;
    assert_eq!(many.status, 200, "{}", many.body);
    assert!(many.has("<b class=\"total\">1000+</b>"), "{}", many.body);
    assert!(many.has("1 / 50+"), "{}", many.body);
    assert!(many.has("rel=\"next\""), "{}", many.body);
    // Past the thousandth row the pages go on.
    let deep = console
        .get("/console/retail/guide?q=%E7%94%B5%E8%A1%A8&page=55")
        .await;
    assert_eq!(deep.status, 200, "{}", deep.body);
    assert!(deep.has("电表问题"), "{}", deep.body);
    let few = console
        .get("/console/retail/guide?q=%E9%A2%84%E4%BB%98%E8%B4%B9%E7%94%B5%E8%A1%A8")
        .await;
    assert!(few.has("<b class=\"total\">30</b>"), "{}", few.body);
    assert!(few.has("1 / 2"), "{}", few.body);
    // A long text is asked of the trigram index by its ends: 2,100 questions have both ends
    // and not the middle, before 1,050 that have it all. The first are not matches, so the
    // count of the others comes from reading the list in its order (and the window with it).
    let (head, tail) = ("峰谷分时电价政策", "预付费电表充值规则");
    add_questions(&app, "long", 5000, 3150, |i| {
        if i < 2100 {
            format!("{head}之外{tail}{i}")
        } else {
            format!("{head}与{tail}{i}")
        }
    })
    .await;
    let q: String = format!("{head}与{tail}")
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let long = console.get(&format!("/console/retail/guide?q={q}")).await;
    assert_eq!(long.status, 200, "{}", long.body);
    assert!(long.has("<b class=\"total\">1000+</b>"), "{}", long.body);
    assert!(long.has(&format!("{head}与{tail}2100")), "{}", long.body);
    assert!(!long.has("之外"), "{}", long.body);
    let second = console
        .get(&format!("/console/retail/guide?q={q}&page=2"))
        .await;
    assert!(
        second.has("<b class=\"total\">1000+</b>"),
        "{}",
        second.body
    );
    assert!(
        !second.has(&format!("{head}与{tail}2100<")),
        "{}",
        second.body
    );
    assert!(!second.has("之外"), "{}", second.body);
    // The CSV of a search holds every match once, over several batches of the export.
    let csv = console
        .get("/console/retail/guide?q=%E7%94%B5%E8%A1%A8&format=csv")
        .await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.lines().skip(1).collect();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("电表问题"), 1100);
    assert_eq!(count(tail), 3150, "the long questions contain 电表 too");
    assert!(lines.iter().all(|l| l.contains("电表")), "only matches");
    let unique: std::collections::HashSet<&&str> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "each once");
    let csv = console
        .get(&format!("/console/retail/guide?q={q}&format=csv"))
        .await;
    let lines: Vec<&str> = csv.body.lines().skip(1).collect();
    assert_eq!(lines.len(), 1050, "the long text's matches alone");
    assert!(!csv.body.contains("之外"));
    app.stop().await;
}

/// A search by another table's column (a user's phone, a company's name) follows that table's
/// matches to the rows that name them, by each list's index on the key: the feedback of the
/// user whose phone contains the text, the contracts of the company whose name does, with 2
/// characters (read) and more (the trigram index); every list searched so answers.
#[tokio::test]
async fn a_search_by_another_tables_column_finds_the_rows_that_name_its_matches() {
    let (app, console) = demo_app().await;
    let token = hall_token(&app).await;
    feedback_with_picture(&app, &token, "跟随手机号找到的意见").await;
    // Enough feedback from another user that the list is not simply read whole.
    let other = "console-other-user";
    sqlx::query(
        "INSERT INTO retail_users (id, phone, password_hash, created_at, updated_at) \
         VALUES ($1, '13811110000', 'x', 0, 0)",
    )
    .bind(other)
    .execute(app.state.store.pool())
    .await
    .expect("another user");
    let mut tx = app.state.store.pool().begin().await.expect("tx");
    for i in 0..2100 {
        sqlx::query(
            "INSERT INTO retail_feedback (id, user_id, content, created_at) VALUES ($1, $2, $3, 0)",
        )
        .bind(format!("fb-{i}"))
        .bind(other)
        .bind(format!("其他意见{i}"))
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    let one = console.get("/console/retail/feedback?q=13900000000").await;
    assert!(one.has("<b class=\"total\">1</b>"), "{}", one.body);
    for q in ["13900000000", "900000", "00"] {
        let found = console
            .get(&format!("/console/retail/feedback?q={q}"))
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(found.has("跟随手机号找到的意见"), "q={q}: {}", found.body);
    }
    let missed = console.get("/console/retail/feedback?q=13811112222").await;
    assert_eq!(missed.status, 200, "{}", missed.body);
    assert!(!missed.has("跟随手机号找到的意见"), "{}", missed.body);
    // The demo's contracts are all with 珠海高远电能科技有限公司; their own columns say neither.
    let all = console.get("/console/retail/contracts").await;
    let total = |body: &str| {
        body.split("<b class=\"total\">")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .map(str::to_owned)
    };
    let every = total(&all.body).expect("a total");
    assert_ne!(every, "0", "{}", all.body);
    for q in ["%E9%AB%98%E8%BF%9C", "%E9%AB%98%E8%BF%9C%E7%94%B5%E8%83%BD"] {
        let found = console
            .get(&format!("/console/retail/contracts?q={q}"))
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(
            total(&found.body),
            Some(every.clone()),
            "q={q}: {}",
            found.body
        );
    }
    for list in [
        "/console/heating/accounts",
        "/console/heating/orders",
        "/console/meter/recharges",
        "/console/meter/consumption",
        "/console/retail/users",
        "/console/retail/contracts",
        "/console/retail/bills",
        "/console/retail/feedback",
        "/console/retail/monthly-use",
    ] {
        for q in ["1", "13", "138", "%E5%BC%A0%E4%B8%89"] {
            let page = console.get(&format!("{list}?q={q}")).await;
            assert_eq!(page.status, 200, "{list}?q={q}: {}", page.body);
        }
    }
    app.stop().await;
}
