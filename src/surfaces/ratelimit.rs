//! A fixed-window request limit per client IP, on the server's clock.
//!
//! Kept in process memory: with several processes behind a load balancer each enforces its own
//! window (the balancer's stickiness decides how close to the configured figure that is).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Timestamp;

/// Requests per window per key; `limit == 0` turns it off.
pub struct RateLimiter<K> {
    limit: u64,
    window_ms: i64,
    windows: Mutex<Windows<K>>,
}

/// The per-IP limiter (IPv6 counted per /64).
pub type IpRateLimiter = RateLimiter<IpAddr>;

struct Windows<K> {
    by_client: HashMap<K, (i64, u64)>,
    last_prune: i64,
}

/// The key a client is counted under: the address, or for IPv6 its /64 (one subscriber's
/// network hands out a whole /64, so per-address limits would be trivially sidestepped).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    pub fn new(limit: u64, window_secs: u64) -> Self {
        Self::with_window_ms(limit, (window_secs.max(1) as i64) * 1000)
    }

    /// A limiter whose window is given in milliseconds (0 turns it off too).
    pub fn with_window_ms(limit: u64, window_ms: i64) -> Self {
        RateLimiter {
            limit: if window_ms > 0 { limit } else { 0 },
            window_ms: window_ms.max(1),
            windows: Mutex::new(Windows {
                by_client: HashMap::new(),
                last_prune: 0,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Counts one request; `Err(seconds until the window ends)` when over the limit.
    pub fn check_key(&self, key: K, now: Timestamp) -> Result<(), u64> {
        if !self.enabled() {
            return Ok(());
        }
        let now = now.millis();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Forget finished windows at most once per window, so the cost stays amortised.
        if now - windows.last_prune >= self.window_ms {
            let window = self.window_ms;
            windows
                .by_client
                .retain(|_, (start, _)| now - *start < window);
            windows.last_prune = now;
        }
        let entry = windows.by_client.entry(key).or_insert((now, 0));
        if now - entry.0 >= self.window_ms || now < entry.0 {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let wait = (entry.0 + self.window_ms - now).max(0) as u64;
            return Err(wait.div_ceil(1000).max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

impl RateLimiter<IpAddr> {
    /// Counts one request from `ip` (an IPv6 address counts for its /64).
    pub fn check(&self, ip: IpAddr, now: Timestamp) -> Result<(), u64> {
        self.check_key(client_key(ip), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window() {
        let limiter = IpRateLimiter::new(2, 10);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t = Timestamp::from_millis;
        assert!(limiter.check(ip, t(0)).is_ok());
        assert!(limiter.check(ip, t(1)).is_ok());
        assert_eq!(limiter.check(ip, t(2)), Err(10));
        assert!(limiter.check([10, 0, 0, 1].into(), t(3)).is_ok());
        assert!(limiter.check(ip, t(10_000)).is_ok());
        assert!(IpRateLimiter::new(0, 10).check(ip, t(0)).is_ok());
        // One IPv6 /64 is one client.
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let limiter = IpRateLimiter::new(1, 10);
        assert!(limiter.check(a, t(0)).is_ok());
        assert!(limiter.check(b, t(1)).is_err());
        assert!(
            limiter
                .check("2001:db8:1:3::1".parse().expect("ip"), t(2))
                .is_ok()
        );
    }
}
