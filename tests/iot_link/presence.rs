//! Online and offline: `online` on `status` brings a device online; its last will, or silence
//! for more than two heartbeats (2 s here), takes it offline; any accepted message brings it
//! back. The silence is measured on the server's clock: the tests move the simulated clock a
//! second for each real second they wait, so the rule holds on either.

use std::time::{Duration, Instant};

use crate::device::{TestDevice, report};
use crate::{
    accepted, assert_accepted, dropped, eventually, eventually_within, is_set, metric, spawn, tick,
};

const ONLINE_GAUGE: &str = "utilhall_iot_devices_online ";
const LAG_COUNT: &str = "utilhall_iot_ingest_lag_seconds_count ";

#[tokio::test]
async fn online_then_the_last_will_takes_the_device_offline() {
    let l = spawn().await;
    let app = &l.app;
    let did = "DOCHLINK0101";
    let secret = l.register_one(did).await;
    let before = l.stat(did).await;
    assert_eq!(before["state"]["online"], false, "{before}");

    let mut dev = TestDevice::online(&l, did, &secret).await;
    let s = l
        .stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    assert!(is_set(&s["state"]["online_tms"]), "{s}");
    assert_accepted(app, "online", 1.0).await;
    eventually("the online gauge counts it", || async {
        (metric(app, ONLINE_GAUGE).await == 1.0).then_some(())
    })
    .await;
    // It reports (seq 3, above its will's 2; its `ts` the real clock in epoch seconds) and
    // then dies without a word.
    let lags = metric(app, LAG_COUNT).await;
    dev.report(&report(1.0, 0.5, 100)).await;
    l.stat_until(did, "the report", |s| {
        s["statistics"]["water_ml"]["normal"] == 100
    })
    .await;
    assert_eq!(
        metric(app, LAG_COUNT).await,
        lags + 1.0,
        "the report's ingest lag is measured (its ts is epoch seconds)"
    );
    let lag = metric(app, "utilhall_iot_ingest_lag_seconds_sum ").await;
    assert!((0.0..30.0).contains(&lag), "lag {lag} s");
    let replays = dropped(app, "replay").await;
    dev.kill().await;
    // The will comes at once: well within two heartbeats (and the clock does not move here,
    // so nothing but the will can take it offline).
    eventually_within(Duration::from_secs(3), "the will heard", || async {
        (accepted(app, "offline").await >= 1.0 || dropped(app, "replay").await > replays)
            .then_some(())
    })
    .await;
    assert_eq!(
        dropped(app, "replay").await,
        replays,
        "the will (offline, signed at connect with seq 2) was dropped as a replay of seq <= 3"
    );
    let s = l
        .stat_until(did, "offline by the will", |s| {
            s["state"]["online"] == false
        })
        .await;
    assert!(is_set(&s["state"]["offline_tms"]), "{s}");
    assert_accepted(app, "offline", 1.0).await;
    eventually("the online gauge lets it go", || async {
        (metric(app, ONLINE_GAUGE).await == 0.0).then_some(())
    })
    .await;
    // The will changed nothing else.
    assert_eq!(s["statistics"]["water_ml"]["normal"], 100, "{s}");

    // It comes back.
    dev.connect().await;
    l.stat_until(did, "online again", |s| s["state"]["online"] == true)
        .await;
    dev.disconnect().await;
    l.stop().await;
}

#[tokio::test]
async fn a_silent_device_goes_offline_after_two_heartbeats_and_a_reporting_one_does_not() {
    let l = spawn().await;
    let app = &l.app;
    let (quiet, busy) = ("DOCHLINK0102", "DOCHLINK0103");
    let product = l.product.clone();
    let secrets = l
        .register(&[quiet, busy], 1, Some(&product), crate::VID)
        .await;
    let mut q = TestDevice::online(&l, quiet, &secrets[0]).await;
    let mut b = TestDevice::online(&l, busy, &secrets[1]).await;
    l.stat_until(quiet, "quiet online", |s| s["state"]["online"] == true)
        .await;
    let heard = Instant::now();
    l.stat_until(busy, "busy online", |s| s["state"]["online"] == true)
        .await;

    // The busy one reports every second (its heartbeat); the quiet one says nothing, though
    // its connection stays up. Each second, real and simulated.
    let mut went_offline = None;
    let mut n = 0.0;
    while heard.elapsed() < Duration::from_secs(8) {
        n += 1.0;
        tick(app, 1).await;
        b.report(&report(n, 0.0, 10 * n as i64)).await;
        let s = l.stat(busy).await;
        assert_eq!(
            s["state"]["online"], true,
            "a device reporting every second stays online: {s}"
        );
        if went_offline.is_none() && l.stat(quiet).await["state"]["online"] == false {
            went_offline = Some(heard.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let after = went_offline.unwrap_or_else(|| {
        panic!("the quiet device is still online 8 s after its last message (heartbeat 2 s)")
    });
    assert!(
        after >= Duration::from_secs(3),
        "offline after {after:?}: more than two heartbeats (4 s) of silence are needed"
    );
    let s = l.stat(quiet).await;
    assert!(is_set(&s["state"]["offline_tms"]), "{s}");
    eventually("the online gauge counts the busy one only", || async {
        (metric(app, ONLINE_GAUGE).await == 1.0).then_some(())
    })
    .await;

    // One report brings it back.
    q.report(&report(1.0, 0.0, 5)).await;
    eventually_within(
        Duration::from_secs(3),
        "a report brings the quiet one back",
        || async { (l.stat(quiet).await["state"]["online"] == true).then_some(()) },
    )
    .await;
    q.disconnect().await;
    b.disconnect().await;
    l.stop().await;
}
