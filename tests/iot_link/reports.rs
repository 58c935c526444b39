//! Reports: what a device says shows in AB-09 (`/stat`) and AB-10 (`/statistics`), and each
//! report is kept in the device's history, listed newest first and bounded by the range asked;
//! a member sees the history of their own device only.

use serde_json::{Value, json};
use utilhall::domain::iot::protocol::{Report, Water};

use crate::device::TestDevice;
use crate::{assert_accepted, epoch, get, is_set, now_secs, spawn, tick};

fn reading(n: i64, errors: &[&str], working: bool) -> Report {
    Report {
        power: true,
        working,
        locked: false,
        errors: errors.iter().map(|e| (*e).to_owned()).collect(),
        lbs: Some("87.61,43.82".into()),
        powered_h: 10.5 + n as f64,
        working_h: 2.25 + 0.5 * n as f64,
        water_ml: Water {
            normal: 1200 + 300 * n,
            cold: 0,
            warm: 300,
            hot: 35 + n,
        },
        tds_in: 180 + n,
        tds_out: 8,
        filters: Vec::new(),
    }
}

/// The history's `powered_h`, in order.
fn hours(list: &Value) -> Vec<f64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|h| h["powered_h"].as_f64().expect("powered_h"))
        .collect()
}

#[tokio::test]
async fn reports_show_in_the_stat_and_the_history_newest_first() {
    let l = spawn().await;
    let app = &l.app;
    let did = "DOCHLINK0201";
    let secret = l.register_one(did).await;
    l.bind(2, did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;

    // Three reports an hour apart on the server's clock.
    let t0 = now_secs(app).await;
    dev.report_at(t0, &reading(0, &[], false)).await;
    let s = l
        .stat_until(did, "the first report", |s| {
            s["statistics"]["powered_h"] == 10.5
        })
        .await;
    let state = &s["state"];
    assert_eq!(state["online"], true, "{s}");
    assert!(is_set(&state["online_tms"]), "{s}");
    assert_eq!(state["power"], true, "{s}");
    assert_eq!(state["working"], false, "{s}");
    assert_eq!(state["locked"], false, "{s}");
    assert_eq!(state["errors"], json!([]), "{s}");
    assert_eq!(state["tds_in"], 180, "{s}");
    assert_eq!(state["tds_out"], 8, "{s}");
    assert_eq!(state["lbs_coord"], "87.61,43.82", "{s}");
    let stats = &s["statistics"];
    assert_eq!(stats["working_h"], 2.25, "{s}");
    assert_eq!(
        stats["water_ml"],
        json!({"normal": 1200, "cold": 0, "warm": 300, "hot": 35}),
        "{s}"
    );
    assert_eq!(stats["water_total_ml"], 1535, "{s}");
    let ab10 = get(app, &format!("/devices/{did}/statistics"), &l.vendor)
        .await
        .expect(200);
    assert_eq!(
        ab10.data()["statistics"]["powered_h"],
        10.5,
        "{}",
        ab10.body
    );
    assert_eq!(ab10.data()["statistics"]["water_total_ml"], 1535);

    let t1 = epoch(&tick(app, 3600).await);
    dev.report_at(t1, &reading(1, &["E03"], true)).await;
    l.stat_until(did, "the second report", |s| {
        s["statistics"]["powered_h"] == 11.5
    })
    .await;
    let t2 = epoch(&tick(app, 3600).await);
    dev.report_at(t2, &reading(2, &[], false)).await;
    let s = l
        .stat_until(did, "the third report", |s| {
            s["statistics"]["powered_h"] == 12.5
        })
        .await;
    assert_eq!(s["statistics"]["water_ml"]["normal"], 1800, "{s}");
    assert_eq!(s["state"]["tds_in"], 182, "{s}");
    assert_eq!(
        s["state"]["errors"],
        json!([]),
        "the last report's errors: {s}"
    );
    assert_accepted(app, "report", 3.0).await;

    // The whole history, newest first, with what each report said.
    let path = |q: &str| format!("/devices/{did}/history{q}");
    let all = get(app, &path(""), &l.vendor).await.expect(200);
    assert_eq!(all.body["total"], 3, "{}", all.body);
    assert_eq!(hours(all.data()), [12.5, 11.5, 10.5], "{}", all.body);
    let middle = &all.data()[1];
    assert_eq!(middle["working_h"], 2.75, "{middle}");
    assert_eq!(
        middle["water_ml"],
        json!({"normal": 1500, "cold": 0, "warm": 300, "hot": 36}),
        "{middle}"
    );
    assert_eq!(middle["tds_in"], 181, "{middle}");
    assert_eq!(middle["tds_out"], 8, "{middle}");
    assert_eq!(middle["errors"], json!(["E03"]), "{middle}");
    let times: Vec<i64> = all
        .data()
        .as_array()
        .expect("a")
        .iter()
        .map(|h| {
            h["tms"]
                .as_str()
                .map(epoch)
                .or(h["tms"].as_i64())
                .expect("tms")
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] > w[1]),
        "newest first: {times:?}"
    );

    // Bounded by the range, in epoch seconds, ISO or yyyymmdd.
    let one = get(
        app,
        &path(&format!("?from={}&to={}", t0 + 1800, t1 + 1800)),
        &l.vendor,
    )
    .await
    .expect(200);
    assert_eq!(hours(one.data()), [11.5], "{}", one.body);
    assert_eq!(one.body["total"], 1);
    let since = get(app, &path(&format!("?from={}", t0 + 1800)), &l.vendor)
        .await
        .expect(200);
    assert_eq!(hours(since.data()), [12.5, 11.5], "{}", since.body);
    let until = get(app, &path(&format!("?to={}", t1 - 1800)), &l.vendor)
        .await
        .expect(200);
    assert_eq!(hours(until.data()), [10.5], "{}", until.body);
    let iso = get(
        app,
        &path("?from=2026-01-05T02:30:00Z&to=2026-01-05T03:30:00Z"),
        &l.vendor,
    )
    .await
    .expect(200);
    assert_eq!(hours(iso.data()), [11.5], "{}", iso.body);
    let day = get(app, &path("?from=20260105"), &l.vendor)
        .await
        .expect(200);
    assert_eq!(day.body["total"], 3, "from the day's start: {}", day.body);
    let next_day = get(app, &path("?from=20260106"), &l.vendor)
        .await
        .expect(200);
    assert_eq!(next_day.body["total"], 0, "{}", next_day.body);
    let before = get(app, &path("?to=20260104"), &l.vendor).await.expect(200);
    assert_eq!(before.body["total"], 0, "{}", before.body);
    let page = get(app, &path("?limit=1&offset=1"), &l.vendor)
        .await
        .expect(200);
    assert_eq!(hours(page.data()), [11.5], "{}", page.body);
    assert_eq!(page.body["total"], 3);
    let bad = get(app, &path("?from=yesterday"), &l.vendor).await;
    assert!(matches!(bad.status, 400 | 422), "{}", bad.body);

    // Its member sees it; another member does not.
    let mine = get(app, &path(""), &l.members[2]).await.expect(200);
    assert_eq!(mine.body["total"], 3);
    get(app, &path(""), &l.members[3]).await.expect(404);
    get(app, "/devices/DOCHNOSUCH01/history", &l.vendor)
        .await
        .expect(404);

    dev.disconnect().await;
    l.stop().await;
}
