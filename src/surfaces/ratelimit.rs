//! Request limits per client IP, counted over every instance that shares the limit store (see
//! `domain/limits.rs`): with three instances behind a load balancer a client gets the
//! configured figure, not three times it.

use std::net::IpAddr;

use crate::domain::limits::RateLimit;

/// A limit per client address (IPv6 counted per /64).
pub struct IpRateLimit(RateLimit);

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

impl IpRateLimit {
    pub fn new(limit: RateLimit) -> IpRateLimit {
        IpRateLimit(limit)
    }

    /// Counts one request from `ip`; `Err(seconds until the window ends)` when over the limit.
    pub async fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if !self.0.enabled() {
            return Ok(());
        }
        self.0.check(&client_key(ip).to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::limits::Limits;
    use crate::domain::{Clock, Timestamp};
    use crate::gateways::limits::MemoryLimits;

    #[tokio::test]
    async fn limits_per_window() {
        let clock = Clock::simulated(Timestamp::from_millis(0), 0.0);
        let limits = Limits::new(Arc::new(MemoryLimits::new()), clock.clone());
        let advance = |ms: f64| {
            clock
                .sim()
                .expect("simulated")
                .advance(ms / 1000.0)
                .expect("advance");
        };
        let limiter = IpRateLimit::new(limits.rate("t", 2, 10_000));
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(limiter.check(ip).await.is_ok());
        advance(1.0);
        assert!(limiter.check(ip).await.is_ok());
        advance(1.0);
        assert_eq!(limiter.check(ip).await, Err(10));
        assert!(limiter.check([10, 0, 0, 1].into()).await.is_ok());
        advance(9_998.0);
        assert!(limiter.check(ip).await.is_ok());
        let off = IpRateLimit::new(limits.rate("off", 0, 10_000));
        for _ in 0..5 {
            assert!(off.check(ip).await.is_ok());
        }
        // One IPv6 /64 is one client.
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let limiter = IpRateLimit::new(limits.rate("v6", 1, 10_000));
        assert!(limiter.check(a).await.is_ok());
        assert!(limiter.check(b).await.is_err());
        assert!(
            limiter
                .check("2001:db8:1:3::1".parse().expect("ip"))
                .await
                .is_ok()
        );
    }
}
