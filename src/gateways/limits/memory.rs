//! Limits in this process's memory: one instance (SQLite), where nothing else could share them.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::Result;
use crate::domain::limits::{LimitFuture, LimitStore, Window};

/// How often finished windows and expired values are forgotten (ms of the server's clock).
const PRUNE_EVERY_MS: i64 = 10_000;

/// The in-process [`LimitStore`].
#[derive(Default)]
pub struct MemoryLimits {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Key -> (window start, hits, window end).
    windows: HashMap<String, (i64, i64, i64)>,
    /// Key -> (value, expiry).
    values: HashMap<String, (String, i64)>,
    last_prune: i64,
}

impl Inner {
    /// Forgets what is over, at most once per [`PRUNE_EVERY_MS`], so the cost stays amortised.
    fn prune(&mut self, now: i64) {
        if now - self.last_prune < PRUNE_EVERY_MS {
            return;
        }
        self.windows.retain(|_, (_, _, end)| *end > now);
        self.values.retain(|_, (_, until)| *until > now);
        self.last_prune = now;
    }
}

impl MemoryLimits {
    pub fn new() -> MemoryLimits {
        MemoryLimits::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hit_now(&self, key: &str, now: i64, window_ms: i64) -> Window {
        let mut inner = self.lock();
        inner.prune(now);
        if let Some(entry) = inner.windows.get_mut(key) {
            if now < entry.2 {
                entry.1 += 1;
                return Window {
                    start: entry.0,
                    count: entry.1,
                };
            }
            *entry = (now, 1, now + window_ms);
        } else {
            inner
                .windows
                .insert(key.to_owned(), (now, 1, now + window_ms));
        }
        Window {
            start: now,
            count: 1,
        }
    }
}

impl LimitStore for MemoryLimits {
    fn hit<'a>(&'a self, key: &'a str, now: i64, window_ms: i64) -> LimitFuture<'a, Window> {
        let window = self.hit_now(key, now, window_ms);
        Box::pin(std::future::ready(Ok(window)))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        now: i64,
        ttl_ms: i64,
    ) -> LimitFuture<'a, ()> {
        let mut inner = self.lock();
        inner.prune(now);
        inner.values.insert(
            key.to_owned(),
            (value.to_owned(), now.saturating_add(ttl_ms)),
        );
        Box::pin(std::future::ready(Ok(())))
    }

    fn get<'a>(&'a self, key: &'a str, now: i64) -> LimitFuture<'a, Option<String>> {
        let value: Result<Option<String>> = Ok(self
            .lock()
            .values
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v.clone()));
        Box::pin(std::future::ready(value))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_open_at_their_first_hit() {
        let m = MemoryLimits::new();
        assert_eq!(
            m.hit("a", 0, 10).await.ok(),
            Some(Window { start: 0, count: 1 })
        );
        assert_eq!(
            m.hit("a", 9, 10).await.ok(),
            Some(Window { start: 0, count: 2 })
        );
        assert_eq!(
            m.hit("b", 9, 10).await.ok(),
            Some(Window { start: 9, count: 1 })
        );
        assert_eq!(
            m.hit("a", 10, 10).await.ok(),
            Some(Window {
                start: 10,
                count: 1
            })
        );
        m.put("v", "x", 0, 5).await.expect("put");
        assert_eq!(m.get("v", 4).await.ok(), Some(Some("x".to_owned())));
        assert_eq!(m.get("v", 5).await.ok(), Some(None));
        // Pruning forgets what is over and keeps what is not.
        m.put("w", "y", 0, 100_000).await.expect("put");
        m.hit("c", 20_000, 10).await.expect("hit");
        assert_eq!(m.lock().windows.len(), 1);
        assert_eq!(m.get("w", 20_000).await.ok(), Some(Some("y".to_owned())));
    }
}
