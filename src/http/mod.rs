//! HTTP: axum routing, extractors and JSON shapes. No SQL and no business rules here; every
//! handler translates a request into a `domain` call and the result into GitHub's JSON.

pub mod app_tokens;
pub mod authorizations;
pub mod conditional;
pub mod conventions;
pub mod docs;
pub mod error;
pub mod extract;
pub mod grants;
pub mod limits;
pub mod meta;
pub mod openapi;
pub mod pagination;
pub mod schemas;
pub mod users;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use time::OffsetDateTime;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::store::Store;
use error::ApiError;

/// Where handlers get the time. The domain never reads the clock itself, so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, truncated to whole seconds as GitHub's timestamps are.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        crate::domain::whole_seconds(OffsetDateTime::now_utc())
    }
}

/// Everything a handler needs, cloned into each request (all fields are shared pointers).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The API's root URL as clients reach it, without a trailing slash; every `url` field
    /// and `Link` header is built on it.
    pub public_url: Arc<str>,
    pub limits: Limits,
    pub authorizations_api: ApiStatus,
    /// `GET /openapi.json`, serialised on first request and kept.
    pub openapi: Arc<OnceLock<axum::body::Bytes>>,
    /// How often [`Store::sync`] runs while serving (`--counter-sync-interval`).
    pub sync_interval: Duration,
}

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
        Self::with_clock(store, public_url, Arc::new(SystemClock))
    }

    pub fn with_clock(
        store: Arc<dyn Store>,
        public_url: impl AsRef<str>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            clock,
            public_url: public_url.as_ref().trim_end_matches('/').into(),
            limits: Limits::default(),
            authorizations_api: ApiStatus::default(),
            openapi: Arc::default(),
            sync_interval: Duration::from_secs(1),
        }
    }

    #[must_use]
    pub fn with_sync_interval(self, sync_interval: Duration) -> Self {
        Self {
            sync_interval,
            ..self
        }
    }

    #[must_use]
    pub fn with_authorizations_api(self, authorizations_api: ApiStatus) -> Self {
        Self {
            authorizations_api,
            ..self
        }
    }

    #[must_use]
    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }
}

/// GitHub rejects larger bodies; nothing in this API needs more than a few hundred bytes.
const BODY_LIMIT: usize = 1024 * 1024;
/// Bounds every request, so that graceful shutdown cannot wait forever on a stuck one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The whole application: every route at `/` and again under `/api/v3`, the base path of a
/// GitHub Enterprise Server API, so clients configured for GHES work unchanged.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api(&state))
        .nest("/api/v3", api(&state))
        .fallback(meta::not_found)
        .layer(axum::middleware::from_fn(conditional::conditional_get))
        .layer(axum::middleware::from_fn(limits::rate_limit_headers))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            // The request span (route and request id) is at INFO, so every event logged while
            // serving carries them; the line per answered request is at DEBUG
            // (`GRANTD_LOG=info,tower_http=debug`): formatting and writing a log line costs
            // about as much as answering a token check, and failures (5xx) are logged anyway.
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &Request| {
                    // The route pattern, never the raw URI: legacy app paths carry tokens in them.
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let request_id = request
                        .headers()
                        .get(conventions::REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), route, request_id)
                }),
        )
        // Outermost: the request id exists before the span that logs it, and every answer
        // (errors and CORS preflights included) carries GitHub's headers.
        .layer(axum::middleware::from_fn(conventions::api_version))
        .layer(conventions::cors())
        .layer(axum::middleware::from_fn(conventions::github_headers))
        .with_state(state)
}

impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
