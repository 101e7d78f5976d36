//! HTTP: axum routing, extractors and JSON shapes. No SQL and no business rules here; every
//! handler translates a request into a `domain` call and the result into GitHub's JSON.

pub mod admin_users;
pub mod answers;
pub mod app_tokens;
pub mod audit_log;
pub mod authorizations;
pub mod conditional;
pub mod controls;
pub mod conventions;
pub mod docs;
mod drain;
pub mod error;
pub mod extract;
pub mod faults;
pub mod ghes;
pub mod grants;
pub mod graphql;
pub mod hot_routes;
pub mod json;
pub mod limits;
pub mod log;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod schemas;
pub mod suspension;
pub mod users;
pub mod web;

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::{delete, get, post, put};

use crate::domain::clock::{Clock, SystemClock};
use crate::store::Store;
use error::ApiError;

/// Everything a handler needs, cloned into each request (several times: by the router, the
/// conventions layer and the `State` extractor), so one shared pointer: a clone is one atomic
/// increment rather than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    /// Read once per request and passed to the domain (see `domain::clock`).
    pub clock: Arc<dyn Clock>,
    /// The API's root URL as clients reach it, without a trailing slash; every `url` field
    /// and `Link` header is built on it. Pages live on [`web_root`] of it.
    pub public_url: Arc<str>,
    pub limits: Limits,
    pub authorizations_api: ApiStatus,
    /// `GET /openapi.json`, serialised on first request and kept.
    pub openapi: Arc<OnceLock<axum::body::Bytes>>,
    /// How often [`Store::sync`] runs while serving (`--counter-sync-interval`).
    pub sync_interval: Duration,
    /// Token checks' and `GET /user`'s answers rendered once per stored record (see
    /// `answers.rs`).
    pub answers: Arc<answers::Answers>,
    /// What `GET /metrics` serves; `None` (the default) leaves the route out and counts
    /// nothing.
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// Timeouts and cap of the connections served (`--header-read-timeout`, `--idle-timeout`,
    /// `--max-connections`).
    pub connections: crate::server::ConnectionLimits,
    /// A request not answered within this is answered 408 (`--request-timeout`).
    pub request_timeout: Duration,
    /// How long a web sign-in session lasts (`--session-ttl`).
    pub session_ttl: time::Duration,
    /// The GitHub Enterprise Server version presented (`--ghes-version`).
    pub ghes_version: Arc<str>,
    /// The GraphQL schema, built once (see `graphql.rs`).
    pub graphql: graphql::ApiSchema,
    /// The certificate HTTPS is served with (`--tls-cert`, `--tls-self-signed`); plain HTTP
    /// if `None`.
    pub tls: Option<crate::tls::Tls>,
    /// The test controls under `/_grantd/` (`--test-controls`); `None` leaves them out.
    pub controls: Option<Arc<controls::Controls>>,
    /// Token and client-secret uses not yet written ("last used", `domain::usage`).
    pub usage: Arc<crate::domain::usage::UsageLog>,
}

/// The root of the site's pages (sign-in, `/login/device`, `/login/oauth/*`, profiles,
/// avatars) for a public URL: the public URL without a trailing `/api/v3`.
///
/// Clients configure either layout: the host root (`https://HOST`, as `gh` and docs/tools.md's
/// HTTPS examples do) or GitHub Enterprise Server's API base (`https://HOST/api/v3`, as
/// octokit's and PyGithub's `base_url`). The API answers at `/` and under `/api/v3` while the
/// pages answer only at the root, as on GHES, so a page's URL must never carry `/api/v3`.
pub fn web_root(public_url: &str) -> &str {
    public_url.strip_suffix("/api/v3").unwrap_or(public_url)
}

/// The GitHub Enterprise Server version presented by default: the one whose OpenAPI
/// description grantd follows.
pub const DEFAULT_GHES_VERSION: &str = "3.19.0";

/// Where the Authorizations API stands in its retirement (`--authorizations-api`): GitHub
/// deprecated it in 2020 and removed it, with brownouts first, so clients can be tested
/// against each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiStatus {
    #[default]
    Enabled,
    /// Answers as usual, with `Deprecation` and `Sunset` headers.
    Deprecated,
    /// Answers 410 Gone.
    Removed,
}

/// Rate limits and failed-login throttling, configurable per deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub rate: crate::domain::limits::RateLimit,
    pub login: crate::domain::limits::LoginThrottle,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, public_url: impl AsRef<str>) -> Self {
        Self::with_clock(store, public_url, Arc::new(SystemClock::default()))
    }

    pub fn with_clock(
        store: Arc<dyn Store>,
        public_url: impl AsRef<str>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self(Arc::new(Shared {
            store,
            clock,
            public_url: public_url.as_ref().trim_end_matches('/').into(),
            limits: Limits::default(),
            authorizations_api: ApiStatus::default(),
            openapi: Arc::default(),
            sync_interval: Duration::from_secs(1),
            answers: Arc::new(answers::Answers::new(DEFAULT_RENDERED_RECORDS)),
            metrics: None,
            connections: crate::server::ConnectionLimits::default(),
            request_timeout: conventions::DEFAULT_REQUEST_TIMEOUT,
            session_ttl: crate::domain::session::DEFAULT_SESSION_TTL,
            ghes_version: DEFAULT_GHES_VERSION.into(),
            graphql: graphql::schema(),
            tls: None,
            controls: None,
            usage: Arc::default(),
        }))
    }

    /// The state with one setting changed (set up before serving: a copy if already shared).
    fn edited(mut self, edit: impl FnOnce(&mut Shared)) -> Self {
        edit(Arc::make_mut(&mut self.0));
        self
    }

    /// Keeps the answers rendered for at most `capacity` records (0: none).
    #[must_use]
    pub fn with_answers(self, capacity: usize) -> Self {
        self.edited(|s| s.answers = Arc::new(answers::Answers::new(capacity)))
    }

    #[must_use]
    pub fn with_sync_interval(self, sync_interval: Duration) -> Self {
        self.edited(|s| s.sync_interval = sync_interval)
    }

    #[must_use]
    pub fn with_authorizations_api(self, authorizations_api: ApiStatus) -> Self {
        self.edited(|s| s.authorizations_api = authorizations_api)
    }

    #[must_use]
    pub fn with_connection_limits(self, connections: crate::server::ConnectionLimits) -> Self {
        self.edited(|s| s.connections = connections)
    }

    #[must_use]
    pub fn with_request_timeout(self, request_timeout: Duration) -> Self {
        self.edited(|s| s.request_timeout = request_timeout)
    }

    #[must_use]
    pub fn with_session_ttl(self, session_ttl: time::Duration) -> Self {
        self.edited(|s| s.session_ttl = session_ttl)
    }

    /// Presents another GHES version (validated by `config::parse_ghes_version`).
    #[must_use]
    pub fn with_ghes_version(self, version: &str) -> Self {
        self.edited(|s| s.ghes_version = version.into())
    }

    /// Serves HTTPS with `tls`'s certificate.
    #[must_use]
    pub fn with_tls(self, tls: crate::tls::Tls) -> Self {
        self.edited(|s| s.tls = Some(tls))
    }

    #[must_use]
    pub fn with_limits(self, limits: Limits) -> Self {
        self.edited(|s| s.limits = limits)
    }

    /// Serves the test controls, and reads the time from their clock.
    #[must_use]
    pub fn with_controls(self, controls: Arc<controls::Controls>) -> Self {
        self.edited(|s| {
            s.clock = controls.clock.clone();
            s.controls = Some(controls);
        })
    }

    /// Counts requests and serves `GET /metrics` (`--metrics`).
    #[must_use]
    pub fn with_metrics(self) -> Self {
        self.edited(|s| s.metrics = Some(Arc::new(metrics::Metrics::new(Arc::clone(&s.store)))))
    }

    /// Notes a use of a token (in memory; see `domain::usage`).
    pub fn token_used(
        &self,
        record: &crate::domain::app_token::TokenRecord,
        now: time::OffsetDateTime,
    ) {
        let authorization = &record.authorization;
        self.usage
            .token_used(authorization.id, authorization.last_used_at, now);
    }

    /// Writes the uses noted so far, before a page shows "last used" dates or the clock moves.
    /// A failure is logged: the dates are approximate anyway, and the notes wait for the next
    /// flush.
    pub async fn flush_usage(&self) {
        if let Err(error) = self.usage.flush(&*self.store, self.clock.now()).await {
            tracing::warn!(%error, "cannot record when tokens were last used");
        }
    }

    /// Counts a token check's outcome, when metrics are on.
    pub fn count_check(&self, outcome: metrics::CheckOutcome) {
        if let Some(metrics) = &self.metrics {
            metrics.token_checked(outcome);
        }
    }
}

/// Records whose answers are kept rendered by default: ~28 MiB at most (a check's and
/// `GET /user`'s, ~1.4 kB each).
const DEFAULT_RENDERED_RECORDS: usize = 10_000;

/// GitHub rejects larger bodies; nothing in this API needs more than a few hundred bytes.
const BODY_LIMIT: usize = 1024 * 1024;

/// The API routes, without prefix.
fn api(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(authorizations_api(state))
        .route(
            "/applications/{client_id}/token",
            post(app_tokens::check_token)
                .patch(app_tokens::reset_token)
                .delete(app_tokens::delete_token),
        )
        .route(
            "/applications/{client_id}/token/scoped",
            post(app_tokens::scope_token),
        )
        .route(
            "/applications/{client_id}/grant",
            delete(app_tokens::delete_authorization),
        )
        .merge(legacy_app_tokens())
        .route("/user", get(users::get_authenticated))
        .route("/", get(ghes::root))
        .route("/meta", get(ghes::get))
        .route("/rate_limit", get(ghes::rate_limit_get))
        .route("/zen", get(ghes::get_zen))
        .route("/users/{username}", get(users::get_by_username))
        .route(
            "/users/{username}/suspended",
            put(suspension::suspend).delete(suspension::unsuspend),
        )
        .route("/admin/users", post(admin_users::create_user))
        .route("/admin/users/{username}", delete(admin_users::delete_user))
        .route(
            "/admin/users/{username}/authorizations",
            post(admin_users::create_impersonation_o_auth_token)
                .delete(admin_users::delete_impersonation_o_auth_token),
        )
        .route(
            "/user/emails",
            get(users::list_emails_for_authenticated_user),
        )
        .route(
            "/enterprises/{enterprise}/audit-log",
            get(audit_log::get_audit_log),
        )
        .route("/graphql", post(graphql::graphql))
        .route("/healthz", get(meta::healthz))
        .route("/openapi.json", get(meta::openapi))
        .method_not_allowed_fallback(meta::method_not_allowed)
}

/// The user side: the Authorizations and Grants endpoints, which `--authorizations-api` can
/// mark deprecated or remove.
fn authorizations_api(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/applications/grants", get(grants::list_grants))
        .route(
            "/applications/grants/{grant_id}",
            get(grants::get_grant).delete(grants::delete_grant),
        )
        .route(
            "/authorizations",
            get(authorizations::list_authorizations).post(authorizations::create_authorization),
        )
        .route(
            "/authorizations/clients/{client_id}",
            put(authorizations::get_or_create_authorization_for_app),
        )
        .route(
            "/authorizations/clients/{client_id}/{fingerprint}",
            put(authorizations::get_or_create_authorization_for_app_and_fingerprint),
        )
        .route(
            "/authorizations/{authorization_id}",
            get(authorizations::get_authorization)
                .patch(authorizations::update_authorization)
                .post(authorizations::update_authorization)
                .delete(authorizations::delete_authorization),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            meta::authorizations_api_gate,
        ))
}

/// The legacy app-token routes, which carry the token in the path. Every answer of theirs,
/// errors from extractors included, is marked deprecated.
fn legacy_app_tokens() -> Router<AppState> {
    Router::new()
        .route(
            "/applications/{client_id}/tokens/{access_token}",
            get(app_tokens::check_authorization)
                .post(app_tokens::reset_authorization)
                .delete(app_tokens::revoke_authorization_for_application),
        )
        .route(
            "/applications/{client_id}/grants/{access_token}",
            delete(app_tokens::revoke_grant_for_application),
        )
        .route_layer(axum::middleware::map_response(app_tokens::mark_deprecated))
}

/// Every route, answered by axum's router alone: what [`app`] serves, less the layers around it
/// and the hot routes' dispatch in front of it (which a test holds to the same answers).
pub(crate) fn router(state: &AppState) -> Router {
    // The sign-in pages at the root only: they are the site's, not the API's.
    let mut routes = Router::new()
        .merge(api(state))
        .nest("/api/v3", api(state))
        // GHES serves its API root at `/api/v3/` too, and GraphQL beside the REST API.
        .route("/api/v3/", get(ghes::root))
        .route("/api/graphql", post(graphql::graphql))
        .merge(web::routes());
    if state.metrics.is_some() {
        routes = routes.route(
            "/metrics",
            get(meta::metrics).fallback(meta::method_not_allowed),
        );
    }
    if state.controls.is_some() {
        routes = routes.merge(controls::routes(state));
    }
    routes
        .route_layer(conventions::RecordRoute::layer())
        .fallback(meta::not_found)
        .with_state(state.clone())
}

/// The whole application: every route at `/` and again under `/api/v3`, the base path of a
/// GitHub Enterprise Server API, so clients configured for GHES work unchanged, and
/// `/metrics` (at the root only, when on: it is the node's, not the API's), inside the
/// layer of GitHub's conventions, with the two hot routes dispatched in front of the router
/// (`hot_routes.rs`). The layers wrap the router as a whole rather than each route
/// (`Router::layer`), which would box and clone them once per layer and request.
pub fn app(
    state: AppState,
) -> impl tower::Service<
    Request,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let routes = router(&state);
    let metrics = state.metrics.clone();
    let ghes_version = state.ghes_version.clone();
    let request_timeout = state.request_timeout;
    // Decided once: the public URL does not change while serving.
    let hsts = state.public_url.starts_with("https://");
    // With the test controls, `Date` follows their clock (hyper writes the system's time only
    // when an answer has none).
    let controlled_clock = state.controls.as_ref().map(|c| c.clock.clone());
    let journal = state.controls.clone();
    tower::ServiceBuilder::new()
        .map_response(move |response| strict_transport_security(response, hsts))
        .map_response(move |mut response: axum::response::Response| {
            if let Some(clock) = &controlled_clock {
                controls::date_header(response.headers_mut(), clock.now());
            }
            response
        })
        .layer_fn(move |inner| {
            conventions::Conventions::new(inner, metrics.clone())
                .with_enterprise_version(&ghes_version)
                .with_request_timeout(request_timeout)
                .with_journal(journal.clone())
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .map_request(drain::unread_bodies_drained)
        .service(faults::Faulting::new(
            hot_routes::HotRoutes::new(routes, state.clone()),
            state,
        ))
}

/// `Strict-Transport-Security` on every answer when clients reach grantd over https (its own
/// TLS or a TLS proxy's; browsers ignore the header over plain HTTP anyway): a browser that
/// has seen it never again sends a session cookie or a password over plain HTTP to the host.
/// A year, as GitHub's; without `includeSubDomains`, since grantd does not know what else
/// runs under its host's domain.
fn strict_transport_security(
    mut response: axum::response::Response,
    https: bool,
) -> axum::response::Response {
    if https {
        response.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

impl From<Infallible> for ApiError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::web_root;

    #[test]
    fn pages_live_at_the_public_url_without_its_api_v3() {
        assert_eq!(
            web_root("https://ghe.example/api/v3"),
            "https://ghe.example"
        );
        assert_eq!(web_root("https://ghe.example"), "https://ghe.example");
        // Behind a proxy's path prefix, the pages keep the prefix.
        assert_eq!(
            web_root("https://proxy.example/grantd/api/v3"),
            "https://proxy.example/grantd"
        );
        assert_eq!(
            web_root("https://proxy.example/grantd"),
            "https://proxy.example/grantd"
        );
        // Only a whole trailing segment is the API's.
        assert_eq!(
            web_root("https://ghe.example/api/v3x"),
            "https://ghe.example/api/v3x"
        );
    }
}
