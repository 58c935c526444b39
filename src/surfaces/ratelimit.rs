//! A fixed-window request limit per client IP, on the server's clock.
//!
//! Kept in process memory: with several processes behind a load balancer each enforces its own
//! window (the balancer's stickiness decides how close to the configured figure that is).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Timestamp;

/// Requests per window per IP; `limit == 0` turns it off.
pub struct IpRateLimiter {
    limit: u64,
    window_ms: i64,
    windows: Mutex<HashMap<IpAddr, (i64, u64)>>,
}

impl IpRateLimiter {
    pub fn new(limit: u64, window_secs: u64) -> Self {
        IpRateLimiter {
            limit,
            window_ms: (window_secs.max(1) as i64) * 1000,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Counts one request; `Err(seconds until the window ends)` when over the limit.
    pub fn check(&self, ip: IpAddr, now: Timestamp) -> Result<(), u64> {
        if !self.enabled() {
            return Ok(());
        }
        let now = now.millis();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let window = self.window_ms;
            map.retain(|_, (start, _)| now - *start < window);
        }
        let entry = map.entry(ip).or_insert((now, 0));
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
    }
}
