//! Filter life: each filter of the product counts powered and/or working hours (timer_mode 0:
//! both, whichever runs out first; 1: powered; 2: working) from its cycle's baseline; one that
//! runs out opens one maintenance ticket (type 5) per cycle; when that ticket is done the
//! device is told to `reset_filter` with the next cycle and the filter's life is full again.

use serde_json::{Value, json};

use crate::device::{TestDevice, report};
use crate::{Link, VID, accepted, eventually, finish_ticket, get, post, spawn};

/// Three filters, one per timer mode.
fn product() -> Value {
    json!({
        "state": 1, "type": 1, "name": "三级净水机", "price": 1000,
        "specification": {"mode": 0, "filters": [
            {"order": 1, "name": "PP棉", "timer_mode": 0, "lifetime": 100, "worklife": 10},
            {"order": 2, "name": "活性炭", "timer_mode": 1, "lifetime": 200, "worklife": 5},
            {"order": 3, "name": "RO膜", "timer_mode": 2, "lifetime": 50, "worklife": 40}
        ], "flowmeter": {"measure_mode": 0, "config": [{"name": "常温", "key": "normal", "value": 30}]}}
    })
}

async fn filters(l: &Link, did: &str) -> Vec<Value> {
    let r = get(&l.app, &format!("/devices/{did}/filters"), &l.vendor)
        .await
        .expect(200);
    let list = r.data().as_array().expect("filters").clone();
    assert_eq!(list.len(), 3, "{}", r.body);
    for (i, f) in list.iter().enumerate() {
        assert_eq!(f["order"], i as i64 + 1, "in order: {}", r.body);
    }
    list
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// Sends a report and waits until the server has taken it in.
async fn reported(l: &Link, dev: &mut TestDevice, powered_h: f64, working_h: f64) {
    let before = accepted(&l.app, "report").await;
    dev.report(&report(powered_h, working_h, 1000)).await;
    eventually("the report taken in", || async {
        (accepted(&l.app, "report").await > before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_spent_filter_opens_one_ticket_and_its_done_ticket_resets_it() {
    let l = spawn().await;
    let app = &l.app;
    let pid = post(app, "/products", &l.vendor, product())
        .await
        .expect(201)
        .data()["prod_id"]
        .as_str()
        .expect("prod_id")
        .to_owned();
    let did = "DOCHFILT0001";
    let secret = l.register(&[did], 1, Some(&pid), VID).await.remove(0);
    l.bind(2, did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;

    // Young filters.
    reported(&l, &mut dev, 5.0, 1.0).await;
    let f = filters(&l, did).await;
    for x in &f {
        assert_eq!(x["expired"], false, "{x}");
        assert_eq!(x["cycle"], 0, "{x}");
        assert_eq!(num(&x["used_powered_h"]), 5.0, "{x}");
        assert_eq!(num(&x["used_working_h"]), 1.0, "{x}");
    }
    assert_eq!(f[0]["name"], "PP棉");
    assert_eq!(f[0]["timer_mode"], 0);
    assert_eq!(f[0]["lifetime"], 100);
    assert_eq!(f[0]["worklife"], 10);
    assert_eq!(
        num(&f[0]["remaining_h"]),
        9.0,
        "dual: the nearer end: {}",
        f[0]
    );
    assert_eq!(num(&f[1]["remaining_h"]), 195.0, "powered time: {}", f[1]);
    assert_eq!(num(&f[2]["remaining_h"]), 39.0, "working time: {}", f[2]);
    assert!(l.tickets(did, 5).await.is_empty());

    // 60 powered, 11 working hours: only the dual-mode filter is spent (the powered-time one
    // ignores its short worklife, the working-time one its short lifetime).
    reported(&l, &mut dev, 60.0, 11.0).await;
    let f = filters(&l, did).await;
    assert_eq!(f[0]["expired"], true, "{}", f[0]);
    assert!(num(&f[0]["remaining_h"]) <= 0.0, "{}", f[0]);
    assert!(num(&f[0]["remaining_pct"]) <= 0.0, "{}", f[0]);
    assert_eq!(f[1]["expired"], false, "{}", f[1]);
    assert_eq!(num(&f[1]["remaining_h"]), 140.0, "{}", f[1]);
    assert_eq!(f[2]["expired"], false, "{}", f[2]);
    assert_eq!(num(&f[2]["remaining_h"]), 29.0, "{}", f[2]);
    let tickets = eventually("one maintenance ticket", || async {
        let t = l.tickets(did, 5).await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let tid = tickets[0]["ticket_id"]
        .as_str()
        .expect("ticket_id")
        .to_owned();
    assert_eq!(tickets[0]["status"], 1, "created: {}", tickets[0]);
    assert_eq!(tickets[0]["device_id"], did);
    assert_eq!(f[0]["ticket_id"], tid.as_str(), "{}", f[0]);

    // Reporting again, still spent: no second ticket.
    reported(&l, &mut dev, 61.0, 11.5).await;
    reported(&l, &mut dev, 62.0, 12.0).await;
    assert_eq!(l.tickets(did, 5).await.len(), 1);
    dev.expect_no_cmd(std::time::Duration::from_millis(300))
        .await;

    // The ticket is worked and done: the device is told to start cycle 1 of filter 1.
    finish_ticket(&l, &tid).await;
    let c = dev.expect_cmd("reset_filter").await;
    assert_eq!(c.args, json!({"order": 1, "cycle": 1}), "{c:?}");
    dev.ack(&c.cmd).await;
    dev.result(&c.cmd, true, None).await;
    dev.expect_desired("filter 1 in cycle 1", |_, f| f.contains(&(1, 1)))
        .await;
    let f = filters(&l, did).await;
    assert_eq!(f[0]["cycle"], 1, "{}", f[0]);
    assert_eq!(f[0]["expired"], false, "{}", f[0]);
    assert_eq!(num(&f[0]["used_powered_h"]), 0.0, "{}", f[0]);
    assert_eq!(num(&f[0]["used_working_h"]), 0.0, "{}", f[0]);
    assert_eq!(num(&f[0]["remaining_h"]), 10.0, "{}", f[0]);
    assert_eq!(num(&f[0]["remaining_pct"]), 100.0, "{}", f[0]);
    assert_eq!(f[1]["cycle"], 0, "the others keep their cycle: {}", f[1]);
    assert_eq!(num(&f[1]["used_powered_h"]), 62.0, "{}", f[1]);
    assert_eq!(f[2]["cycle"], 0, "{}", f[2]);

    // The new cycle counts from the reset; spent again, it opens its own ticket.
    let mut r = report(63.0, 12.5, 1000);
    r.filters = vec![utilhall::domain::iot::protocol::FilterCycle { order: 1, cycle: 1 }];
    dev.report(&r).await;
    eventually("the new cycle counts", || async {
        let f = filters(&l, did).await;
        (num(&f[0]["used_working_h"]) == 0.5).then_some(())
    })
    .await;
    assert_eq!(l.tickets(did, 5).await.len(), 1);
    reported(&l, &mut dev, 64.0, 23.0).await;
    let f = filters(&l, did).await;
    assert_eq!(f[0]["expired"], true, "{}", f[0]);
    let tickets = eventually("a ticket for the second cycle", || async {
        let t = l.tickets(did, 5).await;
        (t.len() >= 2).then_some(t)
    })
    .await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");

    dev.disconnect().await;
    l.stop().await;
}
