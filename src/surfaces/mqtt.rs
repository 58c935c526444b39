//! The purifiers' MQTT link: the server is a client of a broker, an external one
//! (`iot.mqtt_url`) or the one it embeds (`iot.embedded_broker`, rumqttd). It subscribes to
//! every device's `up` and `status` topics with a persistent session and QoS 1, hands what
//! arrives to [`Fleet::receive`] in batches, and acknowledges each frame to the broker only
//! once its batch is committed: a frame the server took is never lost, and a frame the broker
//! delivers again after a restart is refused by its `seq`. It sends the fleet's commands and
//! desired states, and runs the fleet's watch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, watch};

use crate::domain::iot::fleet::{Downlink, Fleet, Inbound};

/// Where the link connects.
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Broker {
    /// The password is never written out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .finish()
    }
}

impl Broker {
    /// `mqtt://[user:pass@]host[:port]` (1883 by default).
    pub fn parse(url: &str) -> anyhow::Result<Broker> {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| anyhow::anyhow!("iot.mqtt_url must start with mqtt://"))?;
        let rest = rest.trim_end_matches('/');
        let (credentials, host_port) = match rest.rsplit_once('@') {
            Some((cred, hp)) => {
                let (u, p) = cred.split_once(':').unwrap_or((cred, ""));
                (Some((u.to_owned(), p.to_owned())), hp)
            }
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse()
                    .map_err(|_| anyhow::anyhow!("iot.mqtt_url has a bad port"))?,
            ),
            None => (host_port, 1883),
        };
        anyhow::ensure!(!host.is_empty(), "iot.mqtt_url has no host");
        Ok(Broker {
            host: host.to_owned(),
            port,
            credentials,
        })
    }
}

/// Starts the embedded broker (rumqttd) on `addr`, in its own threads, for as long as the
/// process lives. Fails when the address cannot be bound.
pub fn start_embedded(addr: &str) -> anyhow::Result<SocketAddr> {
    let listen: SocketAddr = addr
        .parse()
        .map_err(|_| anyhow::anyhow!("iot.embedded_broker must be HOST:PORT or off"))?;
    // rumqttd logs a failed bind and goes on: find out first.
    let probe = std::net::TcpListener::bind(listen)
        .map_err(|e| anyhow::anyhow!("the embedded MQTT broker cannot listen on {listen}: {e}"))?;
    let listen = probe.local_addr()?;
    drop(probe);
    let server = rumqttd::ServerSettings {
        name: "utilhall-v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 64 * 1024,
            max_inflight_count: 500,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 100_000,
            max_outgoing_packet_count: 500,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some([("1".to_owned(), server)].into_iter().collect()),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })?;
    Ok(listen)
}

/// The link's sending side, given to the fleet.
struct Sender {
    client: AsyncClient,
}

impl Downlink for Sender {
    fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) {
        if let Err(e) = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            tracing::warn!(error = %e, "iot: a frame to a device could not be queued");
        }
    }
}

/// How many frames one transaction applies at most.
const BATCH: usize = 512;

/// Runs the link until `shutdown`: the connection (reconnecting), the batches, the watch.
pub async fn run(
    fleet: Arc<Fleet>,
    broker: Broker,
    client_id: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        // Larger than any frame, so that a stranger's huge message is dropped as malformed
        // rather than taken by the client for a protocol error that ends the connection.
        .set_max_packet_size(256 * 1024 * 1024, 64 * 1024)
        .set_request_channel_capacity(10_000)
        .set_inflight(1000);
    if let Some((u, p)) = &broker.credentials {
        options.set_credentials(u.clone(), p.clone());
    }
    let (client, mut events) = AsyncClient::new(options, 10_000);
    fleet.set_downlink(Arc::new(Sender {
        client: client.clone(),
    }));
    // Unbounded, so that polling the connection never waits on the applier (whose
    // acknowledgements only that polling sends): the broker's in-flight window for this
    // client bounds what waits here (QoS 0 frames are dropped as they come).
    let (frames, mut arriving) = mpsc::unbounded_channel::<Publish>();
    let filters = fleet.topics().server_filters();

    // The batches: applied in order, acknowledged once committed.
    let applier = {
        let fleet = fleet.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let mut batch: Vec<Publish> = Vec::with_capacity(BATCH);
            while arriving.recv_many(&mut batch, BATCH).await > 0 {
                let inbound: Vec<Inbound> = batch
                    .iter()
                    .map(|p| Inbound {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                    })
                    .collect();
                fleet.receive(&inbound).await;
                for p in batch.drain(..) {
                    if let Err(e) = client.ack(&p).await {
                        tracing::warn!(error = %e, "iot: an acknowledgement could not be queued");
                    }
                }
            }
        })
    };

    // The watch: silent devices, commands past their deadline, rentals.
    let watcher = {
        let fleet = fleet.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                if let Err(e) = fleet.watch().await {
                    tracing::warn!(error = %e, "iot: the watch failed");
                }
                if n % 4 == 0 {
                    if let Err(e) = fleet.sweep_rentals().await {
                        tracing::warn!(error = %e, "iot: the rentals' sweep failed");
                    }
                    if let Err(e) = fleet.sweep_metered().await {
                        tracing::warn!(error = %e, "iot: the metered rentals' sweep failed");
                    }
                }
                n += 1;
            }
        })
    };

    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            event = events.poll() => match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    failures = 0;
                    if p.qos == QoS::AtMostOnce {
                        // Not part of the protocol, and outside the broker's in-flight window:
                        // nothing bounds how many could come.
                        fleet.drop_unsigned();
                    } else if frames.send(p).is_err() {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    failures = 0;
                    fleet.set_connected(true);
                    tracing::info!(
                        broker = %format!("{}:{}", broker.host, broker.port),
                        session_present = ack.session_present,
                        "iot: connected to the MQTT broker"
                    );
                    if !ack.session_present {
                        for f in &filters {
                            if let Err(e) = client.try_subscribe(f.clone(), QoS::AtLeastOnce) {
                                tracing::warn!(error = %e, "iot: subscribing failed");
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    fleet.set_connected(false);
                    if failures == 1 || failures % 30 == 0 {
                        tracing::warn!(error = %e, "iot: the MQTT broker connection failed; retrying");
                    }
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500.min(100 * u64::from(failures)))) => {}
                    }
                }
            }
        }
    }
    watcher.abort();
    drop(frames);
    let _ = tokio::time::timeout(Duration::from_secs(5), applier).await;
    let _ = client.disconnect().await;
    // Let the DISCONNECT (and the last acknowledgements) go out.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while events.poll().await.is_ok() {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            Broker::parse("mqtt://127.0.0.1:1883").ok(),
            Some(Broker {
                host: "127.0.0.1".into(),
                port: 1883,
                credentials: None
            })
        );
        assert_eq!(
            Broker::parse("mqtt://u:p@broker").ok(),
            Some(Broker {
                host: "broker".into(),
                port: 1883,
                credentials: Some(("u".into(), "p".into()))
            })
        );
        assert!(Broker::parse("http://x").is_err());
        assert!(Broker::parse("mqtt://x:y").is_err());
    }
}
