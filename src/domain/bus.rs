//! How instances sharing one database tell each other that something changed, so that what
//! happens on one reaches the clients of every other at once (not on their next look).
//!
//! What travels is small: "the log of this topic now reaches `head`". The facts themselves stay
//! in the database, where each instance reads them (the charging station's operation log);
//! the bus only wakes the others up. So announcements may be merged (the latest head wins),
//! and a listener that may have missed some hears [`Heard::Missed`] and simply catches up.
//!
//! Gateways: PostgreSQL `LISTEN/NOTIFY` (`gateways::pg_bus`); Redis pub/sub fits the same
//! trait. A single instance (SQLite) has none: nothing else can change its data.

use tokio::sync::broadcast;

/// What an announcement is about: one log the instances follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The charging station's operation log (its head version).
    Charging,
}

impl Topic {
    /// Every topic, for gateways that subscribe to all of them at once.
    pub const ALL: [Topic; 1] = [Topic::Charging];

    /// The topic's name on the wire (part of a channel name).
    pub fn name(self) -> &'static str {
        match self {
            Topic::Charging => "charging",
        }
    }
}

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Another instance moved the topic's log to this head.
    Head(i64),
    /// Announcements may have been lost (the bus reconnected): catch up anyway.
    Missed,
}

/// The channel between instances.
pub trait Bus: Send + Sync {
    /// Tells the other instances that `topic`'s log now reaches `head`. Never waits: the
    /// gateway sends in the background, merging announcements that pile up (the latest wins).
    fn announce(&self, topic: Topic, head: i64);

    /// What the other instances announce on `topic` from now on (this instance's own
    /// announcements are not heard back).
    fn listen(&self, topic: Topic) -> broadcast::Receiver<Heard>;
}
