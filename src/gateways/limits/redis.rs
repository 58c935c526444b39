//! Limits in Redis (`redis.url`): one multiplexed connection per instance, each operation one
//! round trip and atomic in Redis. Windows are counted on the server's clock, which the script
//! is told (so a simulated clock moves them as it moves everything else); Redis's own expiry
//! only throws away what is over, a minute after it is.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};

use crate::domain::limits::{LimitFuture, LimitStore, Window};
use crate::domain::{Error, Result, Service};

/// One hit on a window: `KEYS[1]` a hash {s: start, n: hits}; `ARGV` now and the window (ms),
/// and how long past its end Redis keeps it. Returns {start, hits}.
const HIT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 's'))
if start == nil or now - start >= window then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[3]))
  return {now, 1}
end
return {start, redis.call('HINCRBY', KEYS[1], 'n', 1)}
";

/// How long past their end windows and values are left in Redis before it drops them.
const GRACE_MS: i64 = 60_000;

/// How long a connection or a reply may take before the operation fails.
const TIMEOUT: Duration = Duration::from_secs(2);

/// After a failed connection attempt, operations fail at once for this long instead of each
/// waiting for a connection of its own.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The Redis [`LimitStore`].
pub struct RedisLimits {
    client: redis::Client,
    prefix: String,
    hit: redis::Script,
    conn: Mutex<Conn>,
}

#[derive(Default)]
struct Conn {
    live: Option<MultiplexedConnection>,
    failed_at: Option<Instant>,
}

fn unavailable(e: &RedisError) -> Error {
    Error::Unavailable {
        service: Service::Limits,
        detail: format!("redis: {e}"),
    }
}

impl RedisLimits {
    /// Connects to `url`; every key is written under `prefix` (`PREFIX:w:...`, `PREFIX:v:...`).
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<RedisLimits> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("bad redis.url: {e}"))?;
        let limits = RedisLimits {
            client,
            prefix: prefix.to_owned(),
            hit: redis::Script::new(HIT),
            conn: Mutex::new(Conn::default()),
        };
        let mut conn = limits
            .connection()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Redis at redis.url: {e}"))?;
        limits
            .hit
            .prepare_invoke()
            .load_async(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("Redis refused the limits script: {e}"))?;
        Ok(limits)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live connection, or a new one (at most one try per [`RECONNECT_AFTER`]).
    async fn connection(&self) -> Result<MultiplexedConnection> {
        {
            let state = self.state();
            if let Some(conn) = &state.live {
                return Ok(conn.clone());
            }
            if state
                .failed_at
                .is_some_and(|t| t.elapsed() < RECONNECT_AFTER)
            {
                return Err(Error::Unavailable {
                    service: Service::Limits,
                    detail: "redis: not connected".into(),
                });
            }
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT);
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => {
                let mut state = self.state();
                state.failed_at = None;
                Ok(state.live.get_or_insert(conn).clone())
            }
            Err(e) => {
                self.state().failed_at = Some(Instant::now());
                Err(unavailable(&e))
            }
        }
    }

    /// The error as the domain sees it; a connection that failed is dropped, so the next
    /// operation connects again.
    fn failed(&self, e: &RedisError) -> Error {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            self.state().live = None;
        }
        unavailable(e)
    }
}

impl LimitStore for RedisLimits {
    fn hit<'a>(&'a self, key: &'a str, now: i64, window_ms: i64) -> LimitFuture<'a, Window> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let (start, count): (i64, i64) = self
                .hit
                .key(format!("{}:w:{key}", self.prefix))
                .arg(now)
                .arg(window_ms)
                .arg(GRACE_MS)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.failed(&e))?;
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
            let mut conn = self.connection().await?;
            // The expiry on the server's clock travels with the value.
            let until = now.saturating_add(ttl_ms);
            redis::cmd("SET")
                .arg(format!("{}:v:{key}", self.prefix))
                .arg(format!("{until}:{value}"))
                .arg("PX")
                .arg(ttl_ms.max(0).saturating_add(GRACE_MS))
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.failed(&e))
        })
    }

    fn get<'a>(&'a self, key: &'a str, now: i64) -> LimitFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let stored: Option<String> = redis::cmd("GET")
                .arg(format!("{}:v:{key}", self.prefix))
                .query_async(&mut conn)
                .await
                .map_err(|e| self.failed(&e))?;
            Ok(stored.and_then(|s| {
                let (until, value) = s.split_once(':')?;
                (until.parse::<i64>().ok()? > now).then(|| value.to_owned())
            }))
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
