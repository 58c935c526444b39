//! The broker itself: a Mosquitto of the test's own that dies (SIGKILL) and comes back on the
//! same port while the server runs on (its link reconnects by itself), and the broker the
//! server embeds when no `iot.mqtt_url` is set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::device::{TestDevice, report, retained_desired};
use crate::{
    BROKER_HOST, Link, WAIT, accepted, assert_accepted, eventually, fresh_names, get, post,
    spawn_custom,
};

/// A port nothing listens on now (the system's pick for 127.0.0.1:0), so that tests running
/// side by side do not take the same one.
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind((BROKER_HOST, 0)).expect("bind 127.0.0.1:0");
    probe.local_addr().expect("local address").port()
}

/// A Mosquitto of the test's own on `port` (no persistence: what it held dies with it).
struct Mosquitto {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
    log: PathBuf,
}

impl Mosquitto {
    /// Starts it with a config of its own in `dir` and waits until it listens.
    async fn start(dir: &Path, port: u16) -> Mosquitto {
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} {BROKER_HOST}\nallow_anonymous true\n"),
        )
        .expect("write mosquitto.conf");
        let mut m = Mosquitto {
            child: None,
            port,
            config,
            log: dir.join("mosquitto.log"),
        };
        m.restart().await;
        m
    }

    /// Starts it (again) on its port and waits until it listens.
    async fn restart(&mut self) {
        assert!(self.child.is_none(), "mosquitto runs already");
        let program = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("mosquitto log");
        let child = Command::new(program)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} (install mosquitto): {e}"));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "mosquitto exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if tokio::net::TcpStream::connect((BROKER_HOST, self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto not listening on {} within {WAIT:?}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills it (SIGKILL: no goodbye to anyone, no will published, nothing kept).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The device's history's length.
async fn history_total(l: &Link, did: &str) -> i64 {
    get(&l.app, &format!("/devices/{did}/history"), &l.vendor)
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("total")
}

/// An operator locks the device; the device takes the command (checked) and obeys.
async fn lock_through(l: &Link, dev: &mut TestDevice) {
    post(
        &l.app,
        &format!("/devices/{}/commands", dev.did),
        &l.vendor,
        json!({"op": "lock", "args": {}}),
    )
    .await
    .expect(201);
    let c = dev.expect_cmd("lock").await;
    dev.ack(&c.cmd).await;
    dev.result(&c.cmd, true, None).await;
    dev.expect_desired("locked: true", |locked, _| locked).await;
}

#[tokio::test]
async fn the_link_comes_back_by_itself_when_the_broker_is_killed_and_restarted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut broker = Mosquitto::start(dir.path(), port).await;
    let (prefix, client_id) = fresh_names();
    let l = spawn_custom(&prefix, &client_id, port, |_| {}).await;
    let app = &l.app;
    let did = "DOCHLINK0801";
    let secret = l.register_one(did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    l.stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    dev.report(&report(1.0, 0.0, 100)).await;
    eventually("the first report applied", || async {
        (history_total(&l, did).await == 1).then_some(())
    })
    .await;
    let onlines = accepted(app, "online").await;

    // The broker dies and comes back empty, on the same port; the device reconnects.
    broker.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart().await;
    dev.reconnect().await;
    // The server is back on the broker and subscribed again: the device's new `online`
    // (live, or retained for the new subscription) is taken in.
    eventually("the server back on the broker", || async {
        (accepted(app, "online").await > onlines).then_some(())
    })
    .await;
    dev.report(&report(2.0, 0.0, 200)).await;
    eventually("the report after the restart applied", || async {
        (history_total(&l, did).await >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(history_total(&l, did).await, 2);
    assert_accepted(app, "report", 2.0).await;
    let s = l.stat(did).await;
    assert_eq!(s["state"]["online"], true, "{s}");
    assert_eq!(s["statistics"]["powered_h"], 2.0, "{s}");
    assert_eq!(s["statistics"]["water_ml"]["normal"], 200, "{s}");

    // And the other way: commands and the desired state reach the device.
    lock_through(&l, &mut dev).await;
    assert_eq!(
        retained_desired(&l, did, &secret).await.map(|d| d.0),
        Some(true)
    );

    dev.disconnect().await;
    l.stop().await;
    broker.kill();
}

#[tokio::test]
async fn without_a_broker_url_the_server_embeds_one_that_devices_use() {
    let port = free_port();
    let (prefix, client_id) = fresh_names();
    let l = spawn_custom(&prefix, &client_id, port, move |c| {
        c.iot.mqtt_url = None;
        c.iot.embedded_broker = format!("{BROKER_HOST}:{port}");
    })
    .await;
    let app = &l.app;
    let did = "DOCHLINK0901";
    let secret = l.register_one(did).await;
    let mut dev = TestDevice::online(&l, did, &secret).await;
    let s = l
        .stat_until(did, "online", |s| s["state"]["online"] == true)
        .await;
    assert!(crate::is_set(&s["state"]["online_tms"]), "{s}");
    dev.report(&report(3.5, 0.5, 1_500)).await;
    eventually("the report applied", || async {
        (history_total(&l, did).await == 1).then_some(())
    })
    .await;
    let s = l.stat(did).await;
    assert_eq!(s["statistics"]["powered_h"], 3.5, "{s}");
    assert_eq!(s["statistics"]["water_ml"]["normal"], 1_500, "{s}");
    assert_accepted(app, "report", 1.0).await;

    lock_through(&l, &mut dev).await;
    assert_eq!(
        retained_desired(&l, did, &secret).await.map(|d| d.0),
        Some(true)
    );

    dev.disconnect().await;
    l.stop().await;
}
