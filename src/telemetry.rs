//! Logs (with a request id per request) and Prometheus metrics by surface and route.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Starts the global log subscriber (`RUST_LOG` wins over the configured level).
pub fn init_logging(level: &str, format: &str) {
    use tracing_subscriber::EnvFilter;
    // The embedded MQTT broker logs every device's connection at info, and a device gone
    // before its last packet was routed as an error (its router): its warnings only, unless
    // asked (`RUST_LOG`).
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(format!("{level},rumqttd=warn,rumqttd::router::routing=off"))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if format == "json" {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests start many apps in one process) keeps the first subscriber.
    drop(result);
}

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_secs: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct Key {
    surface: &'static str,
    method: String,
    route: String,
    status: u16,
}

/// Request counters and latency histograms.
#[derive(Default, Clone)]
pub struct Metrics {
    series: Arc<Mutex<HashMap<Key, Series>>>,
    /// The listeners' connections.
    pub connections: Arc<crate::surfaces::listener::Census>,
    /// The background jobs: whether this instance leads, and their runs here.
    pub jobs: Arc<crate::jobs::Census>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn record(&self, key: Key, secs: f64) {
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry(key).or_default();
        s.count += 1;
        s.sum_secs += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<&Key> = map.keys().collect();
        keys.sort_by(|a, b| {
            (a.surface, &a.route, &a.method, a.status)
                .cmp(&(b.surface, &b.route, &b.method, b.status))
        });
        let mut out = String::new();
        let c = &self.connections;
        let _ = writeln!(
            out,
            "# HELP utilhall_connections_open Client connections open now.\n\
             # TYPE utilhall_connections_open gauge\nutilhall_connections_open {}\n\
             # HELP utilhall_connections_refused_total Connections refused at a connection cap.\n\
             # TYPE utilhall_connections_refused_total counter\nutilhall_connections_refused_total {}\n\
             # HELP utilhall_connections_timed_out_total Connections closed for slow headers or idleness.\n\
             # TYPE utilhall_connections_timed_out_total counter\nutilhall_connections_timed_out_total {}",
            c.open(),
            c.refused.load(std::sync::atomic::Ordering::Relaxed),
            c.timed_out.load(std::sync::atomic::Ordering::Relaxed),
        );
        let jobs = &self.jobs;
        let _ = writeln!(
            out,
            "# HELP utilhall_jobs_leader Whether this instance runs the background jobs (1) or another does (0).\n\
             # TYPE utilhall_jobs_leader gauge\nutilhall_jobs_leader {}\n\
             # HELP utilhall_job_runs_total Runs of each background job on this instance.\n\
             # TYPE utilhall_job_runs_total counter",
            u8::from(jobs.is_leader())
        );
        for job in crate::jobs::Job::ALL {
            let _ = writeln!(
                out,
                "utilhall_job_runs_total{{job=\"{}\"}} {}",
                job.name(),
                jobs.runs(job)
            );
        }
        out.push_str("# HELP utilhall_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE utilhall_http_requests_total counter\n");
        for k in &keys {
            let s = &map[*k];
            let _ = writeln!(
                out,
                "utilhall_http_requests_total{{surface=\"{}\",method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                k.surface,
                escape(&k.method),
                escape(&k.route),
                k.status,
                s.count
            );
        }
        out.push_str(
            "# HELP utilhall_http_request_duration_seconds Time to answer HTTP requests.\n",
        );
        out.push_str("# TYPE utilhall_http_request_duration_seconds histogram\n");
        // The histogram is per route (all statuses together), as dashboards read it.
        let mut per_route: HashMap<(&'static str, &str, &str), Series> = HashMap::new();
        for k in &keys {
            let s = &map[*k];
            let agg = per_route
                .entry((k.surface, k.method.as_str(), k.route.as_str()))
                .or_default();
            agg.count += s.count;
            agg.sum_secs += s.sum_secs;
            for (a, b) in agg.buckets.iter_mut().zip(s.buckets.iter()) {
                *a += b;
            }
        }
        let mut routes: Vec<_> = per_route.into_iter().collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        for ((surface, method, route), s) in routes {
            let labels = format!(
                "surface=\"{surface}\",method=\"{}\",route=\"{}\"",
                escape(method),
                escape(route)
            );
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "utilhall_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "utilhall_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "utilhall_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_secs
            );
            let _ = writeln!(
                out,
                "utilhall_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

/// What the request middleware needs: which surface it wraps and where to count.
#[derive(Clone)]
pub struct RequestTelemetry {
    pub surface: &'static str,
    pub metrics: Metrics,
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(crate::domain::ids::random_hex_id)
}

/// Middleware: request id (taken from `x-request-id` or made), a span, a log line, metrics.
pub async fn track(
    axum::extract::State(t): axum::extract::State<RequestTelemetry>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    // Only standard methods become label values: a client inventing methods cannot grow the series.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or(req.uri().path(), |u| u.path());
    let span = tracing::info_span!("request", id = %id, surface = t.surface, method = %method, path = %path);
    let mut response = next.run(req).instrument(span.clone()).await;
    let secs = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = secs * 1000.0, "request"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    t.metrics.record(
        Key {
            surface: t.surface,
            method,
            route,
            status,
        },
        secs,
    );
    response
}
