//! How a listener takes connections: at most so many open at once, and so many per client
//! address; a connection whose request headers are not complete in time is closed, and so is a
//! keep-alive connection that stays idle too long. One client cannot hold every file
//! descriptor, and a slow one cannot hold a task forever.
//!
//! The timeouts are watched per connection: the bytes that arrive and the requests in flight
//! tell whether the connection waits for headers (the header timeout runs from the first byte
//! of a request, or from the connection's opening), waits idle between requests (the idle
//! timeout), or is busy in a handler (no timeout here: the handler owns its time). A connection
//! upgraded to a WebSocket leaves this watch; the WebSocket pings and closes it itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service;

use crate::config::ConnectionsConfig;

/// What the listeners allow, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// 0: no cap per address (behind a proxy every connection has the proxy's address).
    pub max_per_ip: usize,
}

impl Limits {
    pub fn from_config(c: &ConnectionsConfig) -> Limits {
        let mut max = c.max_connections.max(1);
        // Never promise more connections than the process may open files (the database and
        // the listeners need some too).
        if let Some(files) = open_files_limit() {
            let room = files.saturating_sub(64).max(16);
            if room < max {
                tracing::warn!(
                    configured = max,
                    open_files_limit = files,
                    using = room,
                    "connections.max_connections is above what the open-files limit allows; raise `ulimit -n` to allow more"
                );
                max = room;
            }
        }
        // A timeout of zero (or nonsense) would close every connection at once.
        let seconds = |value: f64, name: &str, default: f64| {
            if value.is_finite() && value >= 0.1 {
                Duration::from_millis((value.min(86_400.0) * 1000.0) as u64)
            } else {
                tracing::warn!(
                    value,
                    default,
                    "connections.{name} must be at least 0.1 s; using the default"
                );
                Duration::from_millis((default * 1000.0) as u64)
            }
        };
        let defaults = ConnectionsConfig::default();
        Limits {
            header_timeout: seconds(
                c.header_timeout_seconds,
                "header_timeout_seconds",
                defaults.header_timeout_seconds,
            ),
            idle_timeout: seconds(
                c.idle_timeout_seconds,
                "idle_timeout_seconds",
                defaults.idle_timeout_seconds,
            ),
            max_connections: max,
            max_per_ip: c.max_connections_per_ip,
        }
    }
}

/// The soft limit of open files (Linux), when it can be read.
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open connections, in all and per client address.
#[derive(Debug, Default)]
pub struct Census {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connections refused at a cap since start.
    pub refused: AtomicU64,
    /// Connections closed by a timeout since start.
    pub timed_out: AtomicU64,
}

/// One admitted connection; dropping it gives its place back.
struct Admission {
    census: Arc<Census>,
    ip: IpAddr,
}

impl Census {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<Admission> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let mine = per_ip.get(&ip).copied().unwrap_or(0);
        if self.total.load(Ordering::Relaxed) >= limits.max_connections
            || (limits.max_per_ip > 0 && mine >= limits.max_per_ip)
        {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        per_ip.insert(ip, mine + 1);
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Admission {
            census: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut per_ip = self.census.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.census.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a connection is doing, as far as its timeouts care.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds since `opened` of the last byte read or written.
    last: AtomicU64,
    /// Milliseconds since `opened` (plus one; 0: none) since which a request's headers are
    /// awaited: the first byte of a request, or the connection's opening.
    waiting_since: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last: AtomicU64::new(0),
            waiting_since: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.now();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self.waiting_since.compare_exchange(
                0,
                now + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.last.store(self.now(), Ordering::Relaxed);
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.waiting_since.store(0, Ordering::Relaxed);
    }

    fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// Why the connection should close now, if it should.
    fn overdue(&self, limits: &Limits) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.now();
        let waiting = self.waiting_since.load(Ordering::Relaxed);
        if waiting > 0 && now + 1 - waiting > limits.header_timeout.as_millis() as u64 {
            return Some("request headers not complete in time");
        }
        if waiting == 0
            && now - self.last.load(Ordering::Relaxed) > limits.idle_timeout.as_millis() as u64
        {
            return Some("idle");
        }
        None
    }
}

/// A socket that reports its traffic to the connection's [`Activity`], and holds the
/// connection's place under the caps for as long as the socket lives (a WebSocket included:
/// an upgraded connection keeps its place until the WebSocket ends).
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    _admission: Admission,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.activity.wrote(n);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.activity.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `stop` turns true, then lets the connections finish
/// what they are doing (the caller bounds how long).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    census: Arc<Census>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, or the peer left before accept: wait a little
                // rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(admission) = census.admit(peer.ip(), &limits) else {
            tracing::debug!(%peer, "connection refused: at the connection cap");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        connections.spawn(connection(
            tcp,
            peer,
            router.clone(),
            limits.clone(),
            census.clone(),
            admission,
            stop.clone(),
        ));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    census: Arc<Census>,
    admission: Admission,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: tcp,
        activity: activity.clone(),
        _admission: admission,
    });
    let watched = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        watched.request_started();
        let answer = router.clone().call(req.map(axum::body::Body::new));
        let watched = watched.clone();
        async move {
            let response = answer.await;
            watched.request_answered();
            response
        }
    });
    // hyper's own header timer is left off: it would also cut idle keep-alive connections
    // at the header timeout; `Activity` tells the two apart.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let check_every = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut checks = tokio::time::interval(check_every);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = checks.tick() => {
                if let Some(why) = activity.overdue(&limits) {
                    tracing::debug!(%peer, why, "connection closed");
                    census.timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_timeouts_fall_back_to_the_defaults() {
        let c = ConnectionsConfig {
            header_timeout_seconds: 0.0,
            idle_timeout_seconds: f64::NAN,
            ..ConnectionsConfig::default()
        };
        let l = Limits::from_config(&c);
        assert_eq!(l.header_timeout, Duration::from_secs(10));
        assert_eq!(l.idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn a_connection_waits_for_headers_then_idles_then_works() {
        let limits = Limits {
            header_timeout: Duration::from_millis(0),
            idle_timeout: Duration::from_secs(3600),
            max_connections: 1,
            max_per_ip: 1,
        };
        let a = Activity::new();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            a.overdue(&limits),
            Some("request headers not complete in time")
        );
        a.request_started();
        assert_eq!(a.overdue(&limits), None, "busy in a handler");
        a.request_answered();
        assert_eq!(a.overdue(&limits), None, "idle, within the idle timeout");
        a.read(10);
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            a.overdue(&limits).is_some(),
            "a new request's headers are late"
        );
    }
}
