//! GitHub's HTTP conventions that hold for every endpoint: a request id on every response and
//! in the logs, the media type served, the API version (checked when the client names one),
//! and CORS as `api.github.com` serves it.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::conditional::{self, TagOutcome};
use super::error::ApiError;
use super::limits::{self, RateLimitSlot};
use super::log::RequestContext;
use super::metrics::Metrics;

/// The only REST API version GitHub has published, and so the only one grantd serves.
pub const API_VERSION: &str = "2022-11-28";

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-github-request-id");
const API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-github-api-version");
const API_VERSION_SELECTED: HeaderName = HeaderName::from_static("x-github-api-version-selected");
const MEDIA_TYPE: HeaderName = HeaderName::from_static("x-github-media-type");
/// The GitHub Enterprise Server version, on every answer: clients (octokit, `gh`, PyGithub)
/// tell a GHES host from github.com by it.
pub const ENTERPRISE_VERSION: HeaderName = HeaderName::from_static("x-github-enterprise-version");

/// A request id in GitHub's shape (`CB9E:1F45:4A7B2:8C1D3:6527A1B0`): five groups of hex,
/// unique per request. Clients quote it in bug reports; the logs carry it too.
///
/// Formatted once, on the stack, and copied (30 bytes) into the log context and the answer:
/// only the header value allocates. (A `HeaderValue` made first and cloned into the context
/// cost a second allocation, as `bytes` shares a buffer on its first clone.)
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 30]);

impl RequestId {
    /// A fresh id. Unique, not secret: a per-process random key mixed with a request counter,
    /// as unlikely to repeat as random ids (104 bits) without a system call per request.
    pub fn new() -> Self {
        static KEY: OnceLock<[u64; 2]> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let key = KEY.get_or_init(|| {
            let mut bytes = [0u8; 16];
            // The OS random source failing is not worth failing requests over: the counter
            // alone still makes the ids unique.
            // Under `--rng-seed`, from its stream: request ids repeat from run to run too.
            let _ = crate::domain::random::fill(&mut bytes);
            let (a, b) = bytes.split_at(8);
            [
                u64::from_le_bytes(a.try_into().unwrap_or_default()),
                u64::from_le_bytes(b.try_into().unwrap_or_default()),
            ]
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let high = mix(n ^ key[0]);
        let low = mix(n.wrapping_add(key[1]));
        // GitHub's groups: 4, 4, 5, 5 and 8 hex digits, taken from the high bits of each
        // group's source. Written by hand: `format!` with five padded fields cost more than
        // the rest of this layer.
        let groups: [(u64, usize); 5] = [
            (high >> 48, 4),
            ((high >> 32) & 0xFFFF, 4),
            ((high >> 12) & 0xF_FFFF, 5),
            (low >> 44, 5),
            (low & 0xFFFF_FFFF, 8),
        ];
        let mut id = [b':'; 30];
        let mut at = 0;
        for (mut value, width) in groups {
            for slot in id[at..at + width].iter_mut().rev() {
                *slot = b"0123456789ABCDEF"[(value & 0xF) as usize];
                value >>= 4;
            }
            at += width + 1;
        }
        Self(id)
    }

    /// The id as text (always ASCII: hex digits and colons).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The `X-GitHub-Request-Id` value: the one allocation an id costs.
    pub(crate) fn header(self) -> HeaderValue {
        HeaderValue::from_bytes(&self.0)
            .unwrap_or(HeaderValue::from_static("0000:0000:00000:00000:00000000"))
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

/// SplitMix64's finaliser: a bijection on u64 that scatters consecutive inputs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `X-GitHub-Media-Type` for an `Accept` header: `github.v3; format=json`, with the
/// `param` of a `application/vnd.github.v3.PARAM+json` request (`raw`, `full`, …) if any.
/// grantd serves JSON whatever the client accepts, as GitHub does for these endpoints.
fn media_type(accept: Option<&HeaderValue>) -> HeaderValue {
    let param = accept.and_then(|v| v.to_str().ok()).and_then(|accept| {
        accept.split(',').find_map(|part| {
            let mime = part.split(';').next()?.trim();
            let rest = mime
                .strip_prefix("application/vnd.github")?
                .strip_suffix("+json")
                .unwrap_or_default();
            let rest = rest.strip_prefix(".v3").unwrap_or(rest);
            let param = rest.strip_prefix('.')?;
            (!param.is_empty()
                && param
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .then(|| param.to_owned())
        })
    });
    match param {
        Some(param) => HeaderValue::from_str(&format!("github.v3; param={param}; format=json"))
            .unwrap_or(HeaderValue::from_static("github.v3; format=json")),
        None => HeaderValue::from_static("github.v3; format=json"),
    }
}

/// Marks an answer as deprecated (RFC 9745 `Deprecation`, here 2020-02-14, when GitHub
/// announced the end of both the Authorizations API and the legacy app-token paths), sunset on
/// `sunset` (an RFC 8594 HTTP-date) and documented at `notice` (`Link rel="deprecation"`).
pub fn mark_deprecated(headers: &mut HeaderMap, sunset: &'static str, notice: &'static str) {
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("@1581638400"),
    );
    headers.insert(
        HeaderName::from_static("sunset"),
        HeaderValue::from_static(sunset),
    );
    headers.append(header::LINK, HeaderValue::from_static(notice));
}

/// GitHub's 400 for an `X-GitHub-Api-Version` other than the one it publishes, if the request
/// names one.
fn unsupported_version(request: &Request) -> Option<Response> {
    let version = request.headers().get(API_VERSION_HEADER)?;
    if version.as_bytes() == API_VERSION.as_bytes() {
        return None;
    }
    let version = String::from_utf8_lossy(version.as_bytes());
    Some(
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The version you specified in the \"X-GitHub-Api-Version\" request header, {version:?}, is not a \
                 supported version. The following versions are currently supported: \"{API_VERSION}\" (most recent)."
            ),
        )
        .into_response(),
    )
}

/// CORS as GitHub's API answers it: any origin, no cookies, the rate-limit, pagination and
/// token headers exposed, and a preflight that names every request header it allows (a `*`
/// would not cover `Authorization`, which browsers require be listed by name). Every OPTIONS
/// request is a preflight, answered before authentication; nothing else answers OPTIONS.
mod cors {
    use axum::http::{HeaderMap, HeaderValue, header};

    const EXPOSE: &str = "etag,last-modified,link,location,retry-after,x-github-otp,\
        x-ratelimit-limit,x-ratelimit-remaining,x-ratelimit-used,x-ratelimit-resource,\
        x-ratelimit-reset,x-oauth-scopes,x-accepted-oauth-scopes,x-github-media-type,\
        x-github-request-id,x-github-api-version-selected,x-github-enterprise-version,deprecation,sunset";
    const ALLOW_HEADERS: &str = "authorization,content-type,if-match,if-modified-since,\
        if-none-match,if-unmodified-since,accept,accept-encoding,x-github-otp,x-requested-with,\
        user-agent,x-github-api-version";
    const ALLOW_METHODS: &str = "GET,POST,PATCH,PUT,DELETE";
    /// A day: browsers may reuse a preflight's answer that long.
    const MAX_AGE: &str = "86400";
    /// The answer depends on these request headers (for caches between browser and server).
    const VARY: &str = "origin, access-control-request-method, access-control-request-headers";

    /// The headers of every answer, preflight or not.
    fn insert_common(headers: &mut HeaderMap) {
        headers.append(header::VARY, HeaderValue::from_static(VARY));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }

    /// The headers of every answer that is not a preflight's.
    pub fn insert(headers: &mut HeaderMap) {
        insert_common(headers);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
    }

    /// The headers of a preflight's answer (200, no body).
    pub fn insert_preflight(headers: &mut HeaderMap) {
        insert_common(headers);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
    }
}

/// Every convention of GitHub's that holds for all endpoints, as one layer around the router
/// (one boxed future per request, where a stack of seven middlewares, each boxing its own,
/// cost about as much as answering a token check). Outermost first, it:
/// - stamps a fresh request id (replacing any the client sent, so logs can trust it) and opens
///   the request's log context (method, route, request id: see `log.rs`);
/// - answers CORS preflights, then refuses an unsupported `X-GitHub-Api-Version`;
/// - serves the request, bounded by the request timeout (`--request-timeout`; 408);
/// - adds the rate-limit headers the authentication extractors left in the request's
///   [`RateLimitSlot`], tags GET answers for conditional requests (see `conditional.rs`),
///   and adds the CORS and GitHub headers to every answer;
/// - logs the answer: server failures at ERROR, every other one at DEBUG; and counts it in
///   the metrics, when on (every answer, early ones included: see `metrics.rs`).
#[derive(Clone)]
pub struct Conventions<S> {
    inner: S,
    metrics: Option<Arc<Metrics>>,
    enterprise_version: HeaderValue,
    request_timeout: Duration,
    /// The test controls, whose journal records every answer.
    controls: Option<Arc<super::controls::Controls>>,
}

impl<S> Conventions<S> {
    pub fn new(inner: S, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            inner,
            metrics,
            enterprise_version: HeaderValue::from_static(super::DEFAULT_GHES_VERSION),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            controls: None,
        }
    }

    /// Records every answer in the controls' journal (`--test-controls`).
    #[must_use]
    pub fn with_journal(mut self, controls: Option<Arc<super::controls::Controls>>) -> Self {
        self.controls = controls;
        self
    }

    /// Answers 408 to a request not answered within `timeout` (`--request-timeout`).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Presents `version` in `X-GitHub-Enterprise-Version` (a validated `--ghes-version`; a
    /// value no header can carry keeps the default).
    #[must_use]
    pub fn with_enterprise_version(mut self, version: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(version) {
            self.enterprise_version = value;
        }
        self
    }
}

/// Bounds every request by default, so that graceful shutdown cannot wait forever on a stuck
/// one.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl<S> Service<Request> for Conventions<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // Any id the client sent is ignored: logs and the answer carry this one.
        let request_id = RequestId::new();
        // The route joins the context once routing has matched one (see `RecordRoute`).
        let context = RequestContext::new(request.method().clone(), request_id);
        let stamp = Stamp {
            request_id,
            media: media_type(request.headers().get(header::ACCEPT)),
            enterprise_version: self.enterprise_version.clone(),
        };

        let started = Instant::now();
        if request.method() == Method::OPTIONS {
            let mut response = Response::new(Body::empty());
            cors::insert_preflight(response.headers_mut());
            stamp.apply(&mut response);
            self.count_early(request.method(), &response, started);
            return Box::pin(std::future::ready(Ok(response)));
        }
        if let Some(mut response) = unsupported_version(&request) {
            cors::insert(response.headers_mut());
            stamp.apply(&mut response);
            self.count_early(request.method(), &response, started);
            return Box::pin(std::future::ready(Ok(response)));
        }

        let counted = self
            .metrics
            .clone()
            .map(|metrics| (metrics, request.method().clone()));
        let slot = RateLimitSlot::default();
        request.extensions_mut().insert(slot.clone());
        let conditions =
            (request.method() == Method::GET).then(|| conditional::conditions(&request));
        // The service that was made ready is the one to call; a clone takes its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let served = tokio::time::timeout(self.request_timeout, inner.oneshot(request));
        Box::pin(context.scope(Answering {
            served,
            tagging: None,
            after: Some(After {
                slot,
                conditions,
                stamp,
                started,
                counted,
                controls: self.controls.clone(),
            }),
        }))
    }
}

impl<S> Conventions<S> {
    /// Counts an answer given before routing (a preflight, a refused API version).
    fn count_early(&self, method: &Method, response: &Response, started: Instant) {
        if let Some(metrics) = &self.metrics {
            metrics.answered(method, None, response.status(), started.elapsed());
        }
    }
}

/// GitHub's headers on every answer: the request id, the media type served and the API version.
struct Stamp {
    request_id: RequestId,
    media: HeaderValue,
    enterprise_version: HeaderValue,
}

impl Stamp {
    fn apply(self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID, self.request_id.header());
        headers.insert(MEDIA_TYPE, self.media);
        headers.insert(API_VERSION_SELECTED, HeaderValue::from_static(API_VERSION));
        headers.insert(ENTERPRISE_VERSION, self.enterprise_version);
    }
}

/// What is left to do once the inner service has answered.
struct After {
    slot: RateLimitSlot,
    conditions: Option<HeaderMap>,
    stamp: Stamp,
    started: Instant,
    /// The metrics to count the answer in, and the request's method, when metrics are on.
    counted: Option<(Arc<Metrics>, Method)>,
    controls: Option<Arc<super::controls::Controls>>,
}

type Tagging = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project_lite::pin_project! {
    /// A request being served: the inner service's answer, then the conventions' headers.
    ///
    /// Written by hand rather than as an `async` block, which held the inner future twice (its
    /// local and its awaited copy) and the space of a body-reading tag that answers almost
    /// never need: 5.8 KB allocated, copied and touched per request, against a few hundred
    /// bytes now. The rare answer whose tag needs its body read gets a box of its own.
    struct Answering<F> {
        #[pin]
        served: F,
        tagging: Option<Tagging>,
        after: Option<After>,
    }
}

impl<F> Future for Answering<F>
where
    F: Future<Output = Result<Result<Response, Infallible>, tokio::time::error::Elapsed>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(after) = this.after.as_mut() else {
            return Poll::Pending; // polled after completion: the inner future is spent
        };
        let response = if let Some(tagging) = this.tagging {
            std::task::ready!(tagging.as_mut().poll(cx))
        } else {
            // A panic anywhere in routing, extractors, handlers or the store is answered here,
            // where the request's log context is still set, instead of unwinding into hyper,
            // which would drop the connection with no answer at all. Caught around the poll
            // (rather than by tower-http's CatchPanicLayer, which boxes every answer's body
            // twice more); the inner future is never polled again after it panicked.
            let served = std::panic::catch_unwind(AssertUnwindSafe(|| this.served.poll(cx)));
            let mut response = match served {
                Ok(polled) => match std::task::ready!(polled) {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_elapsed) => StatusCode::REQUEST_TIMEOUT.into_response(),
                },
                Err(_panic) => answer_panic(),
            };
            // Room for every header added below at once: a map grown one insert at a time
            // rehashes four times on the way to GitHub's twenty-odd headers.
            response.headers_mut().reserve(ADDED_HEADERS);
            if let Some((status, resource)) = after.slot.take() {
                limits::insert_headers(response.headers_mut(), &status, resource);
            }
            match after.conditions.take() {
                None => response,
                Some(conditions) => match conditional::tag(&conditions, response) {
                    TagOutcome::Done(tagged) => tagged,
                    TagOutcome::NeedsBody(untagged) => {
                        let mut tagging: Tagging =
                            Box::pin(conditional::tag_buffered(conditions, untagged));
                        let polled = tagging.as_mut().poll(cx);
                        *this.tagging = Some(tagging);
                        std::task::ready!(polled)
                    }
                },
            }
        };
        // `after` is there: checked on entry.
        Poll::Ready(Ok(match this.after.take() {
            Some(after) => after.answer(response),
            None => response,
        }))
    }
}

/// The answer to a request whose handling panicked: GitHub's generic 500, nothing of the panic
/// in it. The panic itself is logged by the process's panic hook (`cli::serve` routes it to the
/// log, where the line carries the request's id, the hook running inside the request's
/// context); the answer's own line logs the 500 like any server failure.
pub fn answer_panic() -> Response {
    ApiError::internal().into_response()
}

impl After {
    /// The CORS and GitHub headers, and the log line.
    fn answer(self, mut response: Response) -> Response {
        cors::insert(response.headers_mut());
        self.stamp.apply(&mut response);
        let latency = self.started.elapsed();
        if let Some((metrics, method)) = &self.counted {
            metrics.answered(method, super::log::route(), response.status(), latency);
            if response.extensions().get::<LockedOut>().is_some() {
                metrics.locked_out();
            }
        }
        let status = response.status().as_u16();
        if let Some(controls) = &self.controls {
            record_in_journal(controls, &response);
        }
        // A u64, not as_micros()'s u128, which JSON lines would write as a string.
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if response.status().is_server_error() {
            tracing::error!(status, latency_us, "response failed");
        } else {
            tracing::debug!(target: ACCESS_LOG, status, latency_us, "answered");
        }
        response
    }
}

/// Adds the answer of the current request to the test controls' journal, unless it was one of
/// the controls' own.
fn record_in_journal(controls: &super::controls::Controls, response: &Response) {
    let route = super::log::route();
    let route = route.as_ref().map(super::log::Route::as_str);
    if route.is_some_and(|r| r.starts_with("/_grantd/")) {
        return;
    }
    let Some((method, request_id)) = super::log::method_and_id() else {
        return;
    };
    let caller = super::log::caller();
    let fault = response.extensions().get::<super::faults::Faulted>();
    // A dropped connection was never answered: status 0.
    let dropped = response
        .extensions()
        .get::<super::faults::CloseUnanswered>()
        .is_some();
    let status = if dropped {
        0
    } else {
        response.status().as_u16()
    };
    controls.journal.record(super::controls::JournalEntry {
        request_id: String::from_utf8_lossy(request_id.header().as_bytes()).into_owned(),
        method: method.to_string(),
        route: route.map(str::to_owned),
        status,
        client_id: caller.client_id,
        user: caller.user,
        fault: fault.map(|f| f.0.to_string()),
        at: super::controls::rfc3339(crate::domain::clock::Clock::now(&*controls.clock)),
    });
}

/// Marks an answer that refused a sign-in for too many failed ones (set by the error
/// mapping, counted here: the error mapping cannot reach the metrics).
#[derive(Debug, Clone, Copy)]
pub struct LockedOut;

/// How many headers this layer may add to an answer: five rate-limit, three CORS, four
/// GitHub, and the two of a conditional GET.
const ADDED_HEADERS: usize = 14;

/// The log target of the line per answered request (`GRANTD_LOG=info,grantd::access=debug`).
pub const ACCESS_LOG: &str = "grantd::access";

/// Records the matched route pattern in the request's log context: a layer on the routes, the
/// only place that knows which one matched.
#[derive(Clone)]
pub struct RecordRoute<S> {
    inner: S,
}

impl<S> RecordRoute<S> {
    pub fn layer() -> tower::layer::LayerFn<fn(S) -> Self> {
        tower::layer::layer_fn(|inner| Self { inner })
    }
}

impl<S> Service<Request> for RecordRoute<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> S::Future {
        if let Some(route) = request.extensions().get::<MatchedPath>() {
            super::log::record_route(super::log::Route::Matched(route.clone()));
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic in whatever the conventions wrap (a handler, an extractor, the store; here a
    /// service made to panic, so that no panicking route ships) is a GitHub-shaped 500 with the
    /// request's id, not a dropped connection.
    #[tokio::test]
    async fn a_panic_inside_a_request_is_answered_500() {
        async fn panics_later(_: Request) -> Result<Response, Infallible> {
            panic!("boom in a handler")
        }
        fn panics_at_once(_: Request) -> std::future::Ready<Result<Response, Infallible>> {
            panic!("boom before any future")
        }
        let later = Conventions::new(tower::service_fn(panics_later), None);
        let at_once = Conventions::new(tower::service_fn(panics_at_once), None);
        for answer in [
            later.oneshot(Request::new(Body::empty())).await,
            at_once.oneshot(Request::new(Body::empty())).await,
        ] {
            let Ok(response) = answer;
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(response.headers().contains_key(REQUEST_ID));
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body,
                serde_json::json!({
                    "message": "Internal Server Error",
                    "documentation_url": super::super::docs::REST,
                    "status": "500",
                })
            );
        }
    }

    /// `--request-timeout` bounds what the conventions wrap: a request that is never answered
    /// is answered 408 once it passes (here a twentieth of a second; it can only come late).
    #[tokio::test]
    async fn a_request_unanswered_within_the_request_timeout_is_answered_408() {
        async fn never(_: Request) -> Result<Response, Infallible> {
            std::future::pending().await
        }
        let conventions = Conventions::new(tower::service_fn(never), None)
            .with_request_timeout(Duration::from_millis(50));
        let started = Instant::now();
        let Ok(response) = conventions.oneshot(Request::new(Body::empty())).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(response.headers().contains_key(REQUEST_ID));
    }

    #[test]
    fn request_ids_have_githubs_shape_and_differ() {
        let a = RequestId::new();
        let b = RequestId::new();
        assert_ne!(a, b);
        assert_eq!(a.header(), a.as_str());
        let text = a.as_str();
        let groups: Vec<&str> = text.split(':').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [4, 4, 5, 5, 8]
        );
        assert!(text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()));
    }

    #[test]
    fn media_type_follows_the_accept_header() {
        let of = |accept: &str| media_type(Some(&HeaderValue::from_str(accept).unwrap()));
        assert_eq!(media_type(None), "github.v3; format=json");
        assert_eq!(of("application/vnd.github+json"), "github.v3; format=json");
        assert_eq!(
            of("application/vnd.github.v3+json"),
            "github.v3; format=json"
        );
        assert_eq!(of("application/json"), "github.v3; format=json");
        assert_eq!(
            of("application/vnd.github.v3.raw+json"),
            "github.v3; param=raw; format=json"
        );
        assert_eq!(
            of("text/html, application/vnd.github.full+json"),
            "github.v3; param=full; format=json"
        );
    }
}
