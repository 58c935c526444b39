//! The instances' [`Bus`] over PostgreSQL `LISTEN/NOTIFY`: the database every instance shares
//! already carries the announcements, so several instances need nothing besides it.
//!
//! One connection listens (sqlx's `PgListener`, which reconnects by itself; after a
//! reconnection the listeners hear [`Heard::Missed`], since what was sent meanwhile is lost),
//! another sends. Announcements are sent by a task of their own, so a committer never waits on
//! them; while one is being sent, newer ones of the same topic merge into the next. The payload
//! is `"<head> <instance id>"`, so an instance ignores its own.
//!
//! Channels are named after the topic and the connection's schema (`utilhall.<schema>.<topic>`):
//! `LISTEN` channels are per database, and tests run many schemas in one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::{Notify, broadcast, watch};

use crate::domain::bus::{Bus, Heard, Topic};

/// How many announcements a slow listener may fall behind before it hears [`Heard::Missed`].
const BACKLOG: usize = 64;

/// The bus, with its two background tasks (they end when it is dropped).
pub struct PgBus {
    /// This instance, as the payloads name it.
    id: String,
    /// Heads waiting to be announced, by topic.
    pending: Arc<Mutex<HashMap<Topic, i64>>>,
    wake: Arc<Notify>,
    incoming: HashMap<Topic, broadcast::Sender<Heard>>,
    /// Dropped with the bus: its tasks see the channel close and end.
    _stop: watch::Sender<()>,
}

/// The channel of `topic` for connections whose schema is `schema` (at most 63 bytes, the
/// longest name PostgreSQL keeps).
fn channel(schema: &str, topic: Topic) -> String {
    let name = format!("utilhall.{schema}.{}", topic.name());
    if name.len() <= 63 {
        return name;
    }
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
        schema.as_bytes(),
    ));
    let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("utilhall.{short}.{}", topic.name())
}

impl PgBus {
    /// Connects both ways to the database at `url` and starts listening.
    pub async fn start(url: &str) -> anyhow::Result<Arc<PgBus>> {
        let mut sender = PgConnection::connect(url)
            .await
            .context("the instances' bus cannot connect")?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut sender)
            .await
            .context("the instances' bus cannot read its schema")?;
        let channels: Vec<(Topic, String)> = Topic::ALL
            .iter()
            .map(|t| (*t, channel(&schema, *t)))
            .collect();
        let listener = listen(url, &channels).await?;
        let (stop, stopped) = watch::channel(());
        let incoming: HashMap<Topic, broadcast::Sender<Heard>> = Topic::ALL
            .iter()
            .map(|t| (*t, broadcast::channel(BACKLOG).0))
            .collect();
        let bus = PgBus {
            id: crate::domain::ids::random_hex_id(),
            pending: Arc::default(),
            wake: Arc::default(),
            incoming,
            _stop: stop,
        };
        tokio::spawn(receive(
            listener,
            url.to_owned(),
            channels.clone(),
            bus.incoming.clone(),
            bus.id.clone(),
            stopped.clone(),
        ));
        tokio::spawn(send(
            sender,
            url.to_owned(),
            channels,
            bus.pending.clone(),
            bus.wake.clone(),
            bus.id.clone(),
            stopped,
        ));
        Ok(Arc::new(bus))
    }
}

impl Bus for PgBus {
    fn announce(&self, topic: Topic, head: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let slot = pending.entry(topic).or_insert(head);
        *slot = (*slot).max(head);
        drop(pending);
        self.wake.notify_one();
    }

    fn listen(&self, topic: Topic) -> broadcast::Receiver<Heard> {
        match self.incoming.get(&topic) {
            Some(tx) => tx.subscribe(),
            // Every topic has its sender; an unknown one would simply never be heard.
            None => broadcast::channel(1).1,
        }
    }
}

/// A listening connection on every channel.
async fn listen(url: &str, channels: &[(Topic, String)]) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect(url)
        .await
        .context("the instances' bus cannot listen")?;
    listener
        .listen_all(channels.iter().map(|(_, c)| c.as_str()))
        .await
        .context("the instances' bus cannot listen")?;
    Ok(listener)
}

/// Passes what the other instances announce to this one's listeners, until the bus is dropped.
async fn receive(
    mut listener: PgListener,
    url: String,
    channels: Vec<(Topic, String)>,
    incoming: HashMap<Topic, broadcast::Sender<Heard>>,
    me: String,
    mut stopped: watch::Receiver<()>,
) {
    let missed = |incoming: &HashMap<Topic, broadcast::Sender<Heard>>| {
        for tx in incoming.values() {
            let _ = tx.send(Heard::Missed);
        }
    };
    loop {
        let got = tokio::select! {
            _ = stopped.changed() => return,
            got = listener.try_recv() => got,
        };
        match got {
            Ok(Some(n)) => {
                let Some((head, from)) = n.payload().split_once(' ') else {
                    continue;
                };
                let (Ok(head), true) = (head.parse::<i64>(), from != me) else {
                    continue;
                };
                let topic = channels.iter().find(|(_, c)| c == n.channel());
                if let Some(tx) = topic.and_then(|(t, _)| incoming.get(t)) {
                    let _ = tx.send(Heard::Head(head));
                }
            }
            // The connection dropped and is back (listening again): what came meanwhile is lost.
            Ok(None) => missed(&incoming),
            Err(e) => {
                tracing::warn!(error = %e, "the instances' bus lost its listening connection");
                loop {
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    match listen(&url, &channels).await {
                        Ok(l) => {
                            listener = l;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the instances' bus cannot listen yet")
                        }
                    }
                }
                missed(&incoming);
            }
        }
    }
}

/// Sends the pending announcements, until the bus is dropped; reconnects after a failure (the
/// announcement is sent again: a head announced twice only costs a look).
async fn send(
    mut conn: PgConnection,
    url: String,
    channels: Vec<(Topic, String)>,
    pending: Arc<Mutex<HashMap<Topic, i64>>>,
    wake: Arc<Notify>,
    me: String,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = wake.notified() => {}
        }
        let due: Vec<(Topic, i64)> =
            std::mem::take(&mut *pending.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        for (i, (topic, head)) in due.iter().enumerate() {
            let Some((_, name)) = channels.iter().find(|(t, _)| t == topic) else {
                continue;
            };
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(name)
                .bind(format!("{head} {me}"))
                .execute(&mut conn)
                .await;
            let Err(e) = sent else { continue };
            tracing::warn!(error = %e, "the instances' bus cannot announce; reconnecting");
            {
                // This one and the rest go again (unless newer heads came meanwhile).
                let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                for (topic, head) in &due[i..] {
                    let slot = p.entry(*topic).or_insert(*head);
                    *slot = (*slot).max(*head);
                }
            }
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                match PgConnection::connect(&url).await {
                    Ok(c) => {
                        conn = c;
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "the instances' bus cannot connect yet"),
                }
            }
            wake.notify_one();
            break;
        }
    }
}
