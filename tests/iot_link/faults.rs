//! Fault tickets: an error code a device reports opens one fault ticket (type 4) while it is
//! reported; a code that clears and comes back opens a new one; another code its own.

use serde_json::json;

use crate::device::{TestDevice, report};
use crate::{Link, accepted, eventually, spawn};

/// Sends a report with `errors` and waits until it is taken in.
async fn with_errors(l: &Link, dev: &mut TestDevice, n: f64, errors: &[&str]) {
    let before = accepted(&l.app, "report").await;
    let mut r = report(n, n / 2.0, 100 * n as i64);
    r.errors = errors.iter().map(|e| (*e).to_owned()).collect();
    dev.report(&r).await;
    eventually("the report taken in", || async {
        (accepted(&l.app, "report").await > before).then_some(())
    })
    .await;
    // Whatever the report opens, it opens now, not later.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

#[tokio::test]
async fn an_error_code_opens_one_fault_ticket_until_it_clears_and_comes_back() {
    let l = spawn().await;
    let did = "DOCHLINK0501";
    let secret = l.register_one(did).await;
    l.bind(2, did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    with_errors(&l, &mut dev, 1.0, &[]).await;
    assert!(l.tickets(did, 4).await.is_empty());

    with_errors(&l, &mut dev, 2.0, &["E01"]).await;
    let t = eventually("a fault ticket", || async {
        let t = l.tickets(did, 4).await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        t[0]["detail"].as_str().is_some_and(|d| d.contains("E01")),
        "the ticket names the code: {}",
        t[0]
    );
    assert_eq!(t[0]["device_id"], did);
    assert_eq!(t[0]["user_id"], l.member_ids[2].as_str(), "{}", t[0]);
    assert_eq!(l.stat(did).await["state"]["errors"], json!(["E01"]));

    // Still reported: no new ticket.
    with_errors(&l, &mut dev, 3.0, &["E01"]).await;
    with_errors(&l, &mut dev, 4.0, &["E01"]).await;
    assert_eq!(l.tickets(did, 4).await.len(), 1);

    // Another code alongside: its own ticket.
    with_errors(&l, &mut dev, 5.0, &["E01", "E07"]).await;
    let t = eventually("a ticket for E07", || async {
        let t = l.tickets(did, 4).await;
        (t.len() >= 2).then_some(t)
    })
    .await;
    assert_eq!(t.len(), 2, "{t:?}");

    // Cleared, then back: a new ticket for E01 (E07 stays cleared).
    with_errors(&l, &mut dev, 6.0, &[]).await;
    assert_eq!(l.stat(did).await["state"]["errors"], json!([]));
    assert_eq!(l.tickets(did, 4).await.len(), 2);
    with_errors(&l, &mut dev, 7.0, &["E01"]).await;
    let t = eventually("a second ticket for E01", || async {
        let t = l.tickets(did, 4).await;
        (t.len() >= 3).then_some(t)
    })
    .await;
    assert_eq!(t.len(), 3, "{t:?}");
    let e01 = t
        .iter()
        .filter(|x| x["detail"].as_str().is_some_and(|d| d.contains("E01")))
        .count();
    assert_eq!(e01, 2, "{t:?}");
    with_errors(&l, &mut dev, 8.0, &["E01"]).await;
    assert_eq!(l.tickets(did, 4).await.len(), 3);

    dev.disconnect().await;
    l.stop().await;
}
