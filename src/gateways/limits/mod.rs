//! The [`LimitStore`]s: this process's memory, the database every instance shares, Redis.

mod memory;
mod redis;

use std::sync::atomic::{AtomicI64, Ordering};

pub use self::memory::MemoryLimits;
pub use self::redis::RedisLimits;

use crate::domain::limits::{LimitFuture, LimitStore, Window};
use crate::store::{Store, limits as store};

/// How often (ms of the server's clock) an instance deletes the windows and values that are
/// over from the database.
const PRUNE_EVERY_MS: i64 = 60_000;

/// Limits in the database: shared by every instance on it.
pub struct SqlLimits {
    store: Store,
    last_prune: AtomicI64,
}

impl SqlLimits {
    pub fn new(store: Store) -> SqlLimits {
        SqlLimits {
            store,
            last_prune: AtomicI64::new(0),
        }
    }

    /// Deletes what is over, in the background, at most once per [`PRUNE_EVERY_MS`].
    fn maybe_prune(&self, now: i64) {
        let last = self.last_prune.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self
                .last_prune
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store::prune(store.pool(), now).await {
                tracing::warn!(error = %e, "pruning the shared limits failed");
            }
        });
    }
}

impl LimitStore for SqlLimits {
    fn hit<'a>(&'a self, key: &'a str, now: i64, window_ms: i64) -> LimitFuture<'a, Window> {
        Box::pin(async move {
            self.maybe_prune(now);
            let (start, count) = store::hit(self.store.pool(), key, now, window_ms).await?;
            Ok(Window { start, count })
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        now: i64,
        ttl_ms: i64,
    ) -> LimitFuture<'a, ()> {
        Box::pin(async move {
            self.maybe_prune(now);
            store::put(self.store.pool(), key, value, now.saturating_add(ttl_ms)).await?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str, now: i64) -> LimitFuture<'a, Option<String>> {
        Box::pin(async move { Ok(store::get(self.store.pool(), key, now).await?) })
    }

    fn kind(&self) -> &'static str {
        "database"
    }
}
