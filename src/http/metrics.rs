//! `GET /metrics`: what a node is doing, in Prometheus' text format (0.0.4), for an operator's
//! scraper. Not a GitHub operation: outside `/api/v3` and `/openapi.json`, and off unless
//! `--metrics` turns it on (see docs/nodes.md, "Metrics").
//!
//! `prometheus-client` (the Prometheus project's own Rust client) rather than the `metrics`
//! facade: its registry is a value each server owns, so tests can run servers side by side
//! and nothing is global (STYLE.md 5); and a histogram is a fixed set of buckets, where the
//! facade's Prometheus exporter keeps every sample until an upkeep task or a scrape drains
//! them (a node that nobody scrapes would grow by 8 bytes a request).
//!
//! Cost per request: two label-set lookups (one hash of method, route pattern and status each,
//! under a read lock), a counter increment and a histogram observation (a short mutex). Label
//! values are never built per request: methods and route patterns are `&'static str`s or the
//! router's shared `MatchedPath`, statuses numbers. What the store holds (connections, the
//! token index) is read only when scraped.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::log::Route;
use crate::store::Store;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets, in seconds: from a token check answered from memory (tens of
/// microseconds) through a password check (argon2, ~50-100 ms) to the request timeout (30 s).
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// What a token check (`POST /applications/{client_id}/token` and its legacy form) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// A live token of the app: 200.
    Valid,
    /// A well-formed token that is not stored (never issued, or revoked: revoking deletes
    /// it) or is another app's: 404.
    Unknown,
    /// A string no token can be (length, prefix or checksum), refused without a lookup: 404.
    Malformed,
    /// A stored token past its expiry: 404.
    Expired,
}

impl CheckOutcome {
    /// Every outcome, in declaration order (so `outcome as usize` is its place here).
    const ALL: [Self; 4] = [Self::Valid, Self::Unknown, Self::Malformed, Self::Expired];

    fn label(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Unknown => "unknown",
            Self::Malformed => "malformed",
            Self::Expired => "expired",
        }
    }
}

/// A node's metrics: updated by the conventions layer (every answer), the check handler
/// (outcomes) and the error mapping (lockouts, through the answer's extensions), read by
/// `GET /metrics`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// One per [`CheckOutcome`], in [`CheckOutcome::ALL`]'s order: created up front, so every
    /// outcome's series exists from the start (at 0) and counting is one atomic add.
    checks: [Counter; 4],
    lockouts: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: RouteLabel,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: RouteLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The matched route pattern (never the path, which may hold a token), or `unmatched` for
/// requests no route took (404s of unknown paths, CORS preflights, refused API versions).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RouteLabel(Option<Route>);

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        EncodeLabelValue::encode(&self.0.as_ref().map_or("unmatched", Route::as_str), encoder)
    }
}

/// The method as a label without allocating: the standard ones by name, any other `other`
/// (a client's made-up methods must not add series).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// Metrics of a node serving `store`, whose connections and token index are read at
    /// each scrape.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "grantd_http_requests",
            "Requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "grantd_http_request_duration_seconds",
            "Time from a request's head read to its answer's head, by method and route pattern",
            latency.clone(),
        );
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let checks = CheckOutcome::ALL.map(|outcome| {
            outcomes
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .clone()
        });
        registry.register(
            "grantd_token_checks",
            "Token checks by an app (POST /applications/{client_id}/token and the legacy GET), by outcome",
            outcomes,
        );
        let lockouts = Counter::default();
        registry.register(
            "grantd_login_lockouts",
            "Sign-ins refused because of too many failed ones (403 \"Maximum number of login attempts exceeded\")",
            lockouts.clone(),
        );
        registry.register_collector(Box::new(StoreUsage(store)));
        Self {
            registry,
            requests,
            latency,
            checks,
            lockouts,
        }
    }

    /// Counts an answer and its latency under its route pattern (`None`: no route matched).
    pub fn answered(
        &self,
        method: &Method,
        route: Option<Route>,
        status: StatusCode,
        latency: Duration,
    ) {
        let method = method_label(method);
        let route = RouteLabel(route);
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(latency.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    pub fn token_checked(&self, outcome: CheckOutcome) {
        // The discriminant is the outcome's place in `ALL`.
        self.checks[outcome as usize].inc();
    }

    pub fn locked_out(&self) {
        self.lockouts.inc();
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The store's gauges, read at each scrape ([`Store::usage`]).
struct StoreUsage(Arc<dyn Store>);

impl fmt::Debug for StoreUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreUsage")
    }
}

impl Collector for StoreUsage {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let usage = self.0.usage();
        if let Some(pool) = usage.pool {
            let in_use = i64::from(pool.open).saturating_sub(count(pool.idle));
            gauge(
                &mut encoder,
                "grantd_db_pool_connections",
                "Database connections open",
                i64::from(pool.open),
            )?;
            gauge(
                &mut encoder,
                "grantd_db_pool_connections_in_use",
                "Database connections serving a query or transaction now",
                in_use,
            )?;
            gauge(
                &mut encoder,
                "grantd_db_pool_connections_max",
                "Database connections the pool opens at most",
                i64::from(pool.max),
            )?;
        }
        if let Some(index) = usage.index {
            if let Some(tokens) = index.tokens {
                gauge(
                    &mut encoder,
                    "grantd_token_index_tokens",
                    "Tokens the SQLite token index knows to exist (absent while it loads)",
                    count(tokens),
                )?;
            }
            gauge(
                &mut encoder,
                "grantd_token_index_records",
                "Token records the SQLite token index keeps in memory",
                count(index.records),
            )?;
        }
        Ok(())
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    let gauge = ConstGauge::new(value);
    let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
    gauge.encode(metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let made_up = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&made_up), "other");
    }

    /// What counting costs a request: `cargo test --lib -- --ignored --nocapture
    /// what_counting_costs` (with `CARGO_PROFILE_DEV_OPT_LEVEL=2` for a figure near release's).
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn what_counting_costs() {
        use crate::http::conventions::RequestId;
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        let metrics = Metrics::new(store);
        let route = Route::Pattern("/applications/{client_id}/token");
        let n: u32 = 1_000_000;
        let started = std::time::Instant::now();
        for i in 0..n {
            metrics.answered(
                &Method::POST,
                Some(route.clone()),
                if i % 8 == 0 {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::OK
                },
                Duration::from_micros(u64::from(i % 1000)),
            );
        }
        let counting = started.elapsed() / n;
        let started = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(RequestId::new());
        }
        let id = started.elapsed() / n;
        println!("answered(): {counting:?} a request; RequestId::new(): {id:?}");
    }
}
