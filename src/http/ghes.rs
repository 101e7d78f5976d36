//! The GitHub Enterprise Server endpoints that clients call around the token API: the API
//! root (`gh auth status` reads a token's scopes from its headers), `GET /meta` (by which
//! clients learn the GHES version), `GET /rate_limit` and `GET /zen`. They answer token,
//! Basic and anonymous callers, as GitHub does ([`Caller`]). Also what the GHES-only admin
//! endpoints share: the scope headers and [`site_admin`], who may call them.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ApiError, Documented};
use super::extract::{Caller, UncountedCaller};
use super::json::Json;
use super::limits::{RateLimitSlot, Resource};
use super::{docs, schemas};
use crate::domain::limits::{self, RateLimit, RateLimitStatus, Subject};
use crate::domain::user::User;

const OAUTH_SCOPES: HeaderName = HeaderName::from_static("x-oauth-scopes");
const ACCEPTED_OAUTH_SCOPES: HeaderName = HeaderName::from_static("x-accepted-oauth-scopes");

/// `X-OAuth-Scopes` (the token's scopes) and `X-Accepted-OAuth-Scopes` (those the endpoint
/// wants) for a token caller, as GitHub sends them; nothing for others.
pub fn scope_headers(caller: &Caller, accepted: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Caller::Token(record) = caller {
        let scopes = record.authorization.scopes.as_slice().join(", ");
        // Scopes are validated names (letters, digits, `:` and `_`): always a valid value.
        if let Ok(value) = HeaderValue::from_str(&scopes) {
            headers.insert(OAUTH_SCOPES, value);
        }
        headers.insert(ACCEPTED_OAUTH_SCOPES, HeaderValue::from_static(accepted));
    }
    headers
}

/// The site admin calling a site-admin-only endpoint (GHES's user administration under
/// `/admin/users` and `/users/{username}/suspended`, the enterprise audit log), or the one
/// refusal all of them answer:
///
/// - no credentials: 401 "Requires authentication";
/// - a token with none of the `accepted` scopes (comma-separated, as
///   `X-Accepted-OAuth-Scopes` lists them): 404 "Not Found" with that header, as GitHub
///   answers where a token's scopes do not reach (docs/api.md);
/// - anyone else who is not a site admin, by token or password: 403 "Must be a site
///   administrator.", as GHES documents for its user administration ("Normal users will
///   receive a 403 response").
///
/// GitHub's errors name the operation's page in `documentation_url` (`doc`).
pub fn site_admin<'a>(
    caller: &'a Caller,
    accepted: &'static str,
    doc: &'static str,
) -> Result<&'a User, ApiError> {
    let user = match caller {
        Caller::Token(record) => {
            let scopes = &record.authorization.scopes;
            if !accepted.split(", ").any(|scope| scopes.grants(scope)) {
                return Err(ApiError::not_found()
                    .documented(doc)
                    .with_headers(scope_headers(caller, accepted)));
            }
            &record.user
        }
        Caller::User(user) => user,
        Caller::Anonymous(_) => return Err(ApiError::requires_authentication()),
    };
    if user.site_admin {
        Ok(user)
    } else {
        Err(
            ApiError::new(StatusCode::FORBIDDEN, "Must be a site administrator.")
                .documented(doc)
                .with_headers(scope_headers(caller, accepted)),
        )
    }
}

/// GET / (and `/api/v3`, `/api/v3/`): the API's URL templates.
pub async fn root(State(state): State<AppState>, caller: Caller) -> Response {
    (
        scope_headers(&caller, ""),
        Json(schemas::root(&state.public_url)),
    )
        .into_response()
}

/// GET /meta: a GitHub Enterprise Server's overview, with the version it runs. Password
/// authentication can be verified (HTTP Basic with a login and password works).
pub async fn get(State(state): State<AppState>, caller: Caller) -> Response {
    (
        scope_headers(&caller, ""),
        Json(schemas::ApiOverview {
            verifiable_password_authentication: true,
            installed_version: state.ghes_version.to_string(),
        }),
    )
        .into_response()
}

/// GitHub's search limit: grantd serves no search, so nothing is ever used of it.
const SEARCH: RateLimit = RateLimit {
    limit: 30,
    window: time::Duration::MINUTE,
};

/// GET /rate_limit: the caller's figures as they stand. GitHub does not count this request
/// against them, so it is authenticated without counting ([`UncountedCaller`]); its
/// `X-RateLimit-*` headers show the same figures.
pub async fn rate_limit_get(
    State(state): State<AppState>,
    UncountedCaller(caller): UncountedCaller,
    slot: Option<axum::Extension<RateLimitSlot>>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let store = &*state.store;
    let rate = state.limits.rate;
    let core = limits::status(store, &caller.subject(), rate, now)
        .await
        .doc(docs::RATE_LIMIT)?;
    // GraphQL needs a token: an anonymous caller has none of it.
    let graphql = match caller.user() {
        Some(user) => limits::status(store, &Subject::GraphQl(user.id), rate, now)
            .await
            .doc(docs::RATE_LIMIT)?,
        None => RateLimitStatus {
            limit: 0,
            used: 0,
            reset: now.saturating_add(rate.window),
        },
    };
    let search = RateLimitStatus {
        limit: SEARCH.limit,
        used: 0,
        reset: now.saturating_add(SEARCH.window),
    };
    if let Some(axum::Extension(slot)) = slot {
        slot.set_for(core, Resource::Core);
    }
    let core = schemas::RateLimit::from(&core);
    Ok((
        scope_headers(&caller, ""),
        Json(schemas::RateLimitOverview {
            resources: schemas::RateLimitResources {
                core,
                graphql: schemas::RateLimit::from(&graphql),
                search: schemas::RateLimit::from(&search),
            },
            rate: core,
        }),
    )
        .into_response())
}

/// The Zen of GitHub, as `GET /zen` answers it.
const ZEN: &[&str] = &[
    "Responsive is better than fast.",
    "It's not fully shipped until it's fast.",
    "Anything added dilutes everything else.",
    "Practicality beats purity.",
    "Approachable is better than simple.",
    "Mind your words, they are important.",
    "Speak like a human.",
    "Half measures are as bad as nothing at all.",
    "Encourage flow.",
    "Non-blocking is better than blocking.",
    "Favor focus over features.",
    "Avoid administrative distraction.",
    "Design for failure.",
    "Keep it logically awesome.",
];

/// GET /zen: one sentence of the Zen of GitHub, at random, as plain text.
pub async fn get_zen(caller: Caller) -> Response {
    let mut byte = [0u8; 1];
    // Which sentence is of no consequence: without the OS random source, the first one.
    let _ = crate::domain::random::fill(&mut byte);
    let sentence = ZEN[usize::from(byte[0]) % ZEN.len()];
    (
        scope_headers(&caller, ""),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain;charset=utf-8"),
        )],
        sentence,
    )
        .into_response()
}
