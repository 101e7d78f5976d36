//! The test controls' faults (`/_grantd/faults`, `serve --test-controls`): a request that
//! matches a live fault is answered the way GitHub fails (a 5xx or a brownout's 410 with
//! GitHub's body, the primary or secondary rate limit, "OTP required"), delayed, or left
//! without an answer on a closed connection, so a client's error handling can be tested.
//!
//! The check sits in front of routing (inside the conventions layer, so faulted answers carry
//! GitHub's headers and reach the journal). Only the route matching and the answers are here:
//! a fault decides nothing about tokens or users; the OTP fault asks the domain to check the
//! password as any Basic sign-in does.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use tower::{Service, ServiceExt};

use super::error::ApiError;
use super::log::{self, Route};
use super::{AppState, docs};
use crate::domain::secret::Password;
use crate::domain::token::PlainToken;
use crate::domain::{self, Login, user};

mod api;

pub(crate) use api::{NewFault, add, clear, list, remove};
pub use api::{add_fault, clear_faults, delete_fault, list_faults};

/// Faults live at once; adding one more is refused (422).
pub const MAX_FAULTS: usize = 64;

/// The longest `latency_ms`: a minute. (A latency past the request timeout ends, as any slow
/// request does, in its 408.)
pub const MAX_LATENCY_MS: u64 = 60_000;

/// The largest `count`.
pub const MAX_COUNT: u64 = 1_000_000;

/// The route groups a fault may match, as `match` names them.
const GROUPS: [&str; 9] = [
    "all",
    "api",
    "graphql",
    "oauth",
    "token",
    "device",
    "applications",
    "authorizations",
    "user",
];

/// Set on an answer that must not be sent (a `drop` fault): the accept loop closes the
/// connection instead (over HTTP/2, resets the stream). See `server.rs`.
#[derive(Debug, Clone, Copy)]
pub struct CloseUnanswered;

/// Set on every answer a fault made or delayed, for the journal: the fault's id.
#[derive(Debug, Clone)]
pub struct Faulted(pub Arc<str>);

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Group(&'static str),
    /// One route of `/openapi.json`: HEAD requests match its GET.
    Route {
        method: Method,
        path: &'static str,
    },
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Status(StatusCode),
    Latency(Duration),
    Drop,
    RateLimit(StatusCode),
    SecondaryRateLimit(StatusCode),
    OtpRequired(Login),
}

#[derive(Debug, Clone)]
struct Fault {
    id: Arc<str>,
    matcher: Matcher,
    kind: Kind,
    count: Option<u64>,
    remaining: Option<u64>,
}

/// A fault as the controls show it (`GET /_grantd/faults`, `TestServer::faults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultView {
    /// What deletes it, and what the journal's `fault` names.
    pub id: String,
    /// `api`, `token`, … or a route as `"GET /user"`.
    #[serde(rename = "match")]
    pub matcher: String,
    /// `status`, `latency`, `drop`, `rate_limit`, `secondary_rate_limit` or `otp_required`.
    pub fault: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// How many requests it answers; `None` until cleared.
    pub count: Option<u64>,
    /// How many of those are left; `None` until cleared.
    pub remaining: Option<u64>,
    /// The user of an `otp_required` fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Fault {
    fn view(&self) -> FaultView {
        let (fault, status, latency_ms, user) = match &self.kind {
            Kind::Status(status) => ("status", Some(status.as_u16()), None, None),
            Kind::Latency(latency) => (
                "latency",
                None,
                Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
                None,
            ),
            Kind::Drop => ("drop", None, None, None),
            Kind::RateLimit(status) => ("rate_limit", Some(status.as_u16()), None, None),
            Kind::SecondaryRateLimit(status) => {
                ("secondary_rate_limit", Some(status.as_u16()), None, None)
            }
            Kind::OtpRequired(login) => ("otp_required", None, None, Some(login.to_string())),
        };
        FaultView {
            id: self.id.to_string(),
            matcher: match &self.matcher {
                Matcher::Group(group) => (*group).to_owned(),
                Matcher::Route { method, path } => format!("{method} {path}"),
            },
            fault,
            status,
            latency_ms,
            count: self.count,
            remaining: self.remaining,
            user,
        }
    }
}

/// The live faults of one server.
#[derive(Debug, Default)]
pub struct Faults {
    /// How many faults are live: every request reads this once, and does nothing more while
    /// it is 0 (no lock, no path parsing), so faults cost nothing until one is set.
    live: AtomicUsize,
    state: Mutex<FaultList>,
}

#[derive(Debug, Default)]
struct FaultList {
    faults: Vec<Fault>,
    /// Ids are never reused, so deleting a stale id cannot remove a newer fault.
    last_id: u64,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultList> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, matcher: Matcher, kind: Kind, count: Option<u64>) -> Option<FaultView> {
        let mut list = self.lock();
        if list.faults.len() >= MAX_FAULTS {
            return None;
        }
        list.last_id += 1;
        let fault = Fault {
            id: list.last_id.to_string().into(),
            matcher,
            kind,
            count,
            remaining: count,
        };
        let view = fault.view();
        list.faults.push(fault);
        self.live.store(list.faults.len(), Ordering::Release);
        Some(view)
    }

    fn list(&self) -> Vec<FaultView> {
        self.lock().faults.iter().map(Fault::view).collect()
    }

    fn remove(&self, id: &str) -> bool {
        let mut list = self.lock();
        let before = list.faults.len();
        list.faults.retain(|fault| &*fault.id != id);
        self.live.store(list.faults.len(), Ordering::Release);
        list.faults.len() != before
    }

    /// Removes every fault (`DELETE /_grantd/faults`, `POST /_grantd/reset`).
    pub fn clear(&self) {
        let mut list = self.lock();
        list.faults.clear();
        self.live.store(0, Ordering::Release);
    }

    /// The oldest live fault that matches `request`, counted (and removed once its count is
    /// spent); `None` at the cost of one atomic load while no fault is set.
    fn take(&self, request: &Request) -> Option<(Arc<str>, Kind)> {
        if self.live.load(Ordering::Acquire) == 0 {
            return None;
        }
        let path = request.uri().path();
        if path.starts_with("/_grantd/") {
            return None;
        }
        let facts = Facts::new(request);
        let mut list = self.lock();
        let index = list.faults.iter().position(|fault| facts.matches(fault))?;
        let fault = &mut list.faults[index];
        let taken = (fault.id.clone(), fault.kind.clone());
        if let Some(remaining) = &mut fault.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                list.faults.remove(index);
                self.live.store(list.faults.len(), Ordering::Release);
            }
        }
        Some(taken)
    }
}

/// What a request's matching needs, read once.
struct Facts<'r> {
    method: &'r Method,
    /// The path at the root (`/api/v3` taken off), and whether it had the prefix.
    path: &'r str,
    ghes: bool,
    headers: &'r HeaderMap,
}

impl<'r> Facts<'r> {
    fn new(request: &'r Request) -> Self {
        let full = request.uri().path();
        let (path, ghes) = match full.strip_prefix("/api/v3") {
            Some(rest) if rest.starts_with('/') => (rest, true),
            _ => (full, false),
        };
        Self {
            method: request.method(),
            path,
            ghes,
            headers: request.headers(),
        }
    }

    fn is_graphql(&self) -> bool {
        self.path == "/graphql" || (!self.ghes && self.path == "/api/graphql")
    }

    /// The web pages (sign-in, OAuth, device) answer at the root only, as on GHES.
    fn page(&self) -> Option<&'r str> {
        (!self.ghes).then_some(self.path)
    }

    fn in_tree(&self, root: &str) -> bool {
        self.path == root
            || self
                .path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    fn group(&self, group: &str) -> bool {
        let post = *self.method == Method::POST;
        match group {
            "all" => self.path != "/healthz",
            "api" => {
                !self.is_graphql()
                    && route_of(self.path).is_some_and(|path| {
                        !matches!(path, "/graphql" | "/healthz" | "/openapi.json")
                    })
            }
            "graphql" => self.is_graphql(),
            "oauth" => self.page().is_some_and(|p| {
                p.starts_with("/login/oauth/")
                    || p == "/login/device"
                    || p.starts_with("/login/device/")
            }),
            "token" => post && self.page() == Some("/login/oauth/access_token"),
            "device" => post && self.page() == Some("/login/device/code"),
            "applications" => self.path.starts_with("/applications/"),
            "authorizations" => self.in_tree("/authorizations"),
            "user" => self.in_tree("/user"),
            _ => false,
        }
    }

    fn matches(&self, fault: &Fault) -> bool {
        let scope = match &fault.matcher {
            Matcher::Group(group) => self.group(group),
            Matcher::Route { method, path } => {
                (self.method == method || (*self.method == Method::HEAD && *method == Method::GET))
                    && route_of(self.path) == Some(*path)
            }
        };
        scope
            && match &fault.kind {
                Kind::OtpRequired(login) => self.signs_in_without_otp(login),
                _ => true,
            }
    }

    /// Whether the request signs `login` in with a password over Basic auth and sends no OTP
    /// code (a token as the password is a token, not a sign-in).
    fn signs_in_without_otp(&self, login: &Login) -> bool {
        let sent_otp = self
            .headers
            .get("x-github-otp")
            .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty());
        !sent_otp
            && basic_credentials(self.headers).is_some_and(|(user, password)| {
                Login::parse(&user).is_some_and(|user| user == *login)
                    && PlainToken::parse(&password).is_none()
            })
    }
}

/// The `login:password` of a Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Every route of `/openapi.json` (grantd's REST API, GraphQL, health check and the
/// description itself) with its methods, read from the description once.
fn routes() -> &'static [(String, Vec<Method>)] {
    static ROUTES: OnceLock<Vec<(String, Vec<Method>)>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let document = super::openapi::document("");
        let Some(paths) = document["paths"].as_object() else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(path, operations)| {
                let methods = operations
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect();
                (path.clone(), methods)
            })
            .collect()
    })
}

/// The route template a root path is served by, as the router picks it: of the templates
/// the path fits, the one with a fixed segment where the others have a parameter, earliest
/// first (`/applications/grants/{grant_id}` over `/applications/{client_id}/token`).
fn route_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .filter_map(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut fixed = Vec::with_capacity(parts.len());
            for (part, segment) in parts.iter().zip(&segments) {
                let parameter = part.starts_with('{') && part.ends_with('}');
                if parameter {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part != segment {
                    return None;
                }
                fixed.push(!parameter);
            }
            Some((fixed, template.as_str()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, template)| template)
}

/// The route the journal and the log name for a faulted request.
fn journal_route(facts: &Facts<'_>) -> Option<Route> {
    // Each template under the prefix, made once (a few dozen strings, kept for the process).
    static PREFIXED: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    if let Some(page) = facts.page() {
        for fixed in ["/login/oauth/access_token", "/login/device/code"] {
            if page == fixed {
                return Some(Route::Pattern(fixed));
            }
        }
    }
    let path = route_of(facts.path)?;
    if !facts.ghes {
        return Some(Route::Pattern(path));
    }
    // The router names routes under the prefix with it; so do these.
    let prefixed = PREFIXED.get_or_init(|| {
        routes()
            .iter()
            .map(|(p, _)| (p.as_str(), &*String::leak(format!("/api/v3{p}"))))
            .collect()
    });
    prefixed
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, full)| Route::Pattern(full))
}

/// The router with the faults checked in front of it. Without test controls it only forwards.
#[derive(Clone)]
pub struct Faulting<S> {
    inner: S,
    state: AppState,
}

impl<S> Faulting<S> {
    pub fn new(inner: S, state: AppState) -> Self {
        Self { inner, state }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    /// Either the inner service's own future (no fault: nothing boxed anew) or a fault's
    /// answer.
    #[project = FaultProjection]
    pub enum FaultFuture<F> {
        Pass { #[pin] inner: F },
        Faulted { answer: Answer },
    }
}

impl<F> Future for FaultFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            FaultProjection::Pass { inner } => inner.poll(cx),
            FaultProjection::Faulted { answer } => answer.as_mut().poll(cx),
        }
    }
}

impl<S> Service<Request> for Faulting<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FaultFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let taken = self
            .state
            .controls
            .as_ref()
            .and_then(|controls| controls.faults.take(&request));
        let Some((id, kind)) = taken else {
            return FaultFuture::Pass {
                inner: self.inner.call(request),
            };
        };
        if let Some(route) = journal_route(&Facts::new(&request)) {
            log::record_route(route);
        }
        let answer: Answer = match kind {
            Kind::Latency(latency) => {
                // The service that was made ready is the one to call; a clone takes its place.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move {
                    tokio::time::sleep(latency).await;
                    let mut response = inner.oneshot(request).await?;
                    response.extensions_mut().insert(Faulted(id));
                    Ok(response)
                })
            }
            Kind::OtpRequired(_) => {
                let credentials = basic_credentials(request.headers());
                let state = self.state.clone();
                Box::pin(async move {
                    let mut response = otp_answer(credentials, &state).await;
                    response.extensions_mut().insert(Faulted(id));
                    Ok(response)
                })
            }
            Kind::Drop => {
                let mut response = StatusCode::BAD_GATEWAY.into_response();
                response.extensions_mut().insert(CloseUnanswered);
                response.extensions_mut().insert(Faulted(id));
                Box::pin(std::future::ready(Ok(response)))
            }
            Kind::Status(status) => answered(status_answer(status, &request), id),
            Kind::RateLimit(status) => {
                answered(rate_limit_answer(status, &request, &self.state), id)
            }
            Kind::SecondaryRateLimit(status) => answered(secondary_rate_limit_answer(status), id),
        };
        FaultFuture::Faulted { answer }
    }
}

fn answered(mut response: Response, id: Arc<str>) -> Answer {
    response.extensions_mut().insert(Faulted(id));
    Box::pin(std::future::ready(Ok(response)))
}

/// GitHub's bodies for its failures: its front end's JSON for 500 and 502 (no
/// `documentation_url`), its load balancer's for 503 (no server could take the request).
fn status_answer(status: StatusCode, request: &Request) -> Response {
    let message: &str = match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            "No server is currently available to service your request. Sorry about that. \
             Please try resubmitting your request and contact us if the problem persists."
        }
        StatusCode::GONE => return brownout(request),
        _ => "Server Error",
    };
    let body = serde_json::json!({ "message": message }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// A deprecated endpoint's brownout: 410 Gone for a while before the removal, the same answer
/// as the removal's (for the Authorizations API, `--authorizations-api removed`'s).
fn brownout(request: &Request) -> Response {
    let facts = Facts::new(request);
    if facts.in_tree("/authorizations") || facts.path.starts_with("/applications/grants") {
        return super::meta::authorizations_api_removed().into_response();
    }
    ApiError::new(
        StatusCode::GONE,
        "This endpoint is deprecated and is unavailable during a scheduled brownout. \
         Use its replacement.",
    )
    .documented(docs::REST)
    .into_response()
}

/// The primary rate limit spent: `x-ratelimit-remaining: 0`, the reset a window away on the
/// server's clock (the controlled one), and `retry-after` saying as much.
fn rate_limit_answer(status: StatusCode, request: &Request, state: &AppState) -> Response {
    let limit = state.limits.rate;
    let now = state.clock.now();
    let graphql = Facts::new(request).is_graphql();
    let resource = if graphql {
        super::limits::Resource::GraphQl
    } else {
        super::limits::Resource::Core
    };
    let figures = domain::limits::RateLimitStatus {
        limit: limit.limit,
        used: limit.limit,
        reset: now + limit.window,
    };
    let mut headers = HeaderMap::new();
    super::limits::insert_headers(&mut headers, &figures, resource);
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(limit.window.whole_seconds().max(1)),
    );
    // GitHub names the caller it counted; a fault has counted no one, so the address, as
    // GitHub words its limit on anonymous requests.
    let who = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(
            || "this client".to_owned(),
            |info| info.0.ip().to_canonical().to_string(),
        );
    let mut error = ApiError::new(status, format!("API rate limit exceeded for {who}."))
        .documented(docs::RATE_LIMITS)
        .with_headers(headers);
    if graphql {
        error = error.for_graphql();
    }
    error.into_response()
}

/// GitHub's secondary rate limit: its message with the request id, and `retry-after`.
fn secondary_rate_limit_answer(status: StatusCode) -> Response {
    let mut message = String::from(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
         again. If you reach out to GitHub Support for help, please include the request ID ",
    );
    if let Some((_, id)) = log::method_and_id() {
        message.push_str(&String::from_utf8_lossy(id.header().as_bytes()));
    }
    message.push('.');
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    ApiError::new(status, message)
        .documented(SECONDARY_RATE_LIMITS)
        .with_headers(headers)
        .into_response()
}

const SECONDARY_RATE_LIMITS: &str = "https://docs.github.com/enterprise-server@3.19/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/// As if the user had two-factor authentication: the password is checked as any Basic
/// sign-in's (a wrong one is "Bad credentials", and counts as a failed sign-in), and a right
/// one without a code is GitHub's 401 asking for one.
async fn otp_answer(credentials: Option<(String, String)>, state: &AppState) -> Response {
    let Some((login, password)) = credentials else {
        return ApiError::requires_authentication().into_response();
    };
    let outcome = user::sign_in(
        &*state.store,
        &login,
        Password::new(password),
        None,
        state.limits.login,
        state.clock.now(),
    )
    .await;
    match outcome {
        Ok(_) => ApiError::from(domain::Error::OtpRequired).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::api::parse_matcher;
    use super::*;

    fn request(method: Method, path: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap()
    }

    fn fault(matcher: Matcher) -> Fault {
        Fault {
            id: "1".into(),
            matcher,
            kind: Kind::Drop,
            count: None,
            remaining: None,
        }
    }

    fn hits(matcher: &str, method: Method, path: &str) -> bool {
        let matcher = parse_matcher(matcher).unwrap();
        let request = request(method, path);
        Facts::new(&request).matches(&fault(matcher))
    }

    #[test]
    fn routes_are_matched_as_the_router_matches_them() {
        assert_eq!(
            route_of("/applications/grants/token"),
            Some("/applications/grants/{grant_id}")
        );
        assert_eq!(
            route_of("/applications/abc/token"),
            Some("/applications/{client_id}/token")
        );
        assert_eq!(route_of("/applications//token"), None);
        assert_eq!(route_of("/user/"), None);
        assert!(hits(
            "POST /applications/{client_id}/token",
            Method::POST,
            "/api/v3/applications/abc/token"
        ));
        assert!(!hits(
            "POST /applications/{client_id}/token",
            Method::PATCH,
            "/applications/abc/token"
        ));
        assert!(hits("GET /user", Method::HEAD, "/user"));
        assert!(!hits(
            "DELETE /applications/{client_id}/token",
            Method::DELETE,
            "/applications/grants/token"
        ));
    }

    #[test]
    fn groups_cover_their_paths_and_nothing_else() {
        let cases = [
            ("all", Method::GET, "/user", true),
            ("all", Method::GET, "/healthz", false),
            ("all", Method::GET, "/api/v3/healthz", false),
            ("api", Method::GET, "/api/v3/users/alice", true),
            ("api", Method::POST, "/graphql", false),
            ("api", Method::GET, "/login/device", false),
            ("graphql", Method::POST, "/api/graphql", true),
            ("graphql", Method::POST, "/api/v3/graphql", true),
            ("oauth", Method::GET, "/login/oauth/authorize", true),
            ("oauth", Method::GET, "/login/device", true),
            ("oauth", Method::GET, "/login", false),
            ("oauth", Method::GET, "/api/v3/login/oauth/authorize", false),
            ("token", Method::POST, "/login/oauth/access_token", true),
            ("token", Method::GET, "/login/oauth/access_token", false),
            ("device", Method::POST, "/login/device/code", true),
            ("applications", Method::POST, "/applications/x/token", true),
            (
                "authorizations",
                Method::GET,
                "/api/v3/authorizations",
                true,
            ),
            ("authorizations", Method::GET, "/authorizationsx", false),
            ("user", Method::GET, "/user/emails", true),
            ("user", Method::GET, "/users/alice", false),
        ];
        for (group, method, path, hit) in cases {
            assert_eq!(
                hits(group, method.clone(), path),
                hit,
                "{group} {method} {path}"
            );
        }
    }

    #[test]
    fn unknown_matches_are_refused() {
        for bad in [
            "everything",
            "GET /nope",
            "PUT /user",
            "GET /_grantd/clock",
            "GET",
            "",
        ] {
            assert!(parse_matcher(bad).is_err(), "{bad}");
        }
        assert!(parse_matcher("get /user").is_ok());
    }

    #[test]
    fn a_counted_fault_removes_itself_and_none_costs_nothing() {
        let faults = Faults::default();
        let req = request(Method::GET, "/user");
        assert!(faults.take(&req).is_none());
        faults
            .add(Matcher::Group("user"), Kind::Drop, Some(2))
            .unwrap();
        faults
            .add(
                Matcher::Group("all"),
                Kind::Status(StatusCode::BAD_GATEWAY),
                None,
            )
            .unwrap();
        assert_eq!(faults.take(&req).unwrap().1, Kind::Drop);
        assert_eq!(faults.list()[0].remaining, Some(1));
        assert_eq!(faults.take(&req).unwrap().1, Kind::Drop);
        assert_eq!(
            faults.take(&req).unwrap().1,
            Kind::Status(StatusCode::BAD_GATEWAY)
        );
        assert!(
            faults
                .take(&request(Method::GET, "/_grantd/clock"))
                .is_none()
        );
        assert!(faults.remove("2"));
        assert!(!faults.remove("2"));
        assert!(faults.take(&req).is_none());
        for _ in 0..MAX_FAULTS {
            faults.add(Matcher::Group("all"), Kind::Drop, None).unwrap();
        }
        assert!(
            faults
                .add(Matcher::Group("all"), Kind::Drop, None)
                .is_none()
        );
        faults.clear();
        assert!(faults.list().is_empty());
    }
}
