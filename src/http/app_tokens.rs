//! Handlers of the app side of the token API (`/applications/{client_id}/…`), named after
//! GitHub's operationIds, plus the legacy forms that carry the token in the path.
//!
//! The legacy forms answer exactly like their modern twins, with `Deprecation` (RFC 9745),
//! `Sunset` (RFC 8594) and a `Link rel="deprecation"`: GitHub deprecated them in February 2020
//! and removed them from github.com on 5 May 2021, because tokens in URLs end up in logs.
//! (grantd itself never logs paths: its log lines carry the route pattern only.)

use super::json::Json;
use crate::domain::audit::Source;
use crate::http::audit_log::RequestSource;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::docs;
use super::error::{ApiError, Documented};
use super::extract::{AppClient, AppTokenRequest, FieldReader, JsonObject, TokenBody};
use super::metrics::CheckOutcome;
use super::schemas::AppAuthorization;
use super::{AppState, conventions};
use crate::domain::app_token::{self, ScopeRequest};
use crate::domain::token::PlainToken;

/// Reads the required `access_token` of a modern app-token request body.
fn access_token(body: &JsonObject, doc: &'static str) -> Result<String, ApiError> {
    let mut fields = FieldReader::new(body);
    let token = fields.required_string("access_token");
    fields.finish().doc(doc)?;
    Ok(token)
}

async fn check(
    state: &AppState,
    app: &AppClient,
    token: &str,
    doc: &'static str,
) -> Result<Response, ApiError> {
    let checked = app_token::check(&*state.store, &app.0, token, state.clock.now()).await;
    // The outcome as far as this path can tell: a token it refuses is malformed or unknown
    // (it does not see the record, so an expired one counts as unknown here; the usual path,
    // `check_token`'s `Fetched`, tells them apart).
    match &checked {
        Ok(_) => state.count_check(CheckOutcome::Valid),
        Err(crate::domain::Error::NotFound) if PlainToken::parse(token).is_none() => {
            state.count_check(CheckOutcome::Malformed);
        }
        Err(crate::domain::Error::NotFound) => state.count_check(CheckOutcome::Unknown),
        Err(_) => {} // a store failure decided nothing about the token
    }
    let checked = checked.doc(doc)?;
    state.token_used(&checked.record, state.clock.now());
    Ok(state
        .answers
        .check(&state.public_url, &checked.record, &checked.token))
}

async fn reset(
    state: &AppState,
    app: &AppClient,
    token: &str,
    source: &Source,
    doc: &'static str,
) -> Result<Json<AppAuthorization>, ApiError> {
    let issued = app_token::reset(&*state.store, &app.0, token, source, state.clock.now())
        .await
        .doc(doc)?;
    Ok(Json(AppAuthorization::new(
        &state.public_url,
        &issued.record,
        &issued.token,
    )))
}

async fn revoke(
    state: &AppState,
    app: &AppClient,
    token: &str,
    source: &Source,
    doc: &'static str,
) -> Result<StatusCode, ApiError> {
    app_token::revoke(&*state.store, &app.0, token, source, state.clock.now())
        .await
        .doc(doc)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_grant(
    state: &AppState,
    app: &AppClient,
    token: &str,
    source: &Source,
    doc: &'static str,
) -> Result<StatusCode, ApiError> {
    app_token::delete_grant(&*state.store, &app.0, token, source, state.clock.now())
        .await
        .doc(doc)?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /applications/{client_id}/token
pub async fn check_token(
    State(state): State<AppState>,
    request: AppTokenRequest,
) -> Result<Response, ApiError> {
    let doc = docs::CHECK_TOKEN;
    let app = &request.app;
    match request.body? {
        TokenBody::Fetched(token, stored) => {
            let now = state.clock.now();
            let expired = stored
                .as_ref()
                .is_some_and(|record| record.authorization.expires_at.is_some_and(|at| at <= now));
            let checked = app_token::check_fetched(&app.0, token, stored, now);
            state.count_check(match (&checked, expired) {
                (Ok(_), _) => CheckOutcome::Valid,
                (Err(_), true) => CheckOutcome::Expired,
                (Err(_), false) => CheckOutcome::Unknown,
            });
            let checked = checked.doc(doc)?;
            state.token_used(&checked.record, now);
            Ok(state
                .answers
                .check(&state.public_url, &checked.record, &checked.token))
        }
        TokenBody::Malformed(token) => check(&state, app, &token, doc).await,
        TokenBody::Object(body) => check(&state, app, &access_token(&body, doc)?, doc).await,
    }
}

/// PATCH /applications/{client_id}/token
pub async fn reset_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    body: JsonObject,
) -> Result<Json<AppAuthorization>, ApiError> {
    let token = access_token(&body, docs::RESET_TOKEN)?;
    reset(&state, &app, &token, &source, docs::RESET_TOKEN).await
}

/// DELETE /applications/{client_id}/token
pub async fn delete_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    body: JsonObject,
) -> Result<StatusCode, ApiError> {
    let token = access_token(&body, docs::DELETE_TOKEN)?;
    revoke(&state, &app, &token, &source, docs::DELETE_TOKEN).await
}

/// DELETE /applications/{client_id}/grant
pub async fn delete_authorization(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    body: JsonObject,
) -> Result<StatusCode, ApiError> {
    let token = access_token(&body, docs::DELETE_APP_AUTHORIZATION)?;
    delete_grant(
        &state,
        &app,
        &token,
        &source,
        docs::DELETE_APP_AUTHORIZATION,
    )
    .await
}

/// POST /applications/{client_id}/token/scoped
pub async fn scope_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    body: JsonObject,
) -> Result<Json<AppAuthorization>, ApiError> {
    let doc = docs::SCOPE_TOKEN;
    let mut fields = FieldReader::new(&body);
    let request = ScopeRequest {
        access_token: fields.required_string("access_token"),
        target: fields.string("target"),
        target_id: fields.integer("target_id"),
        repositories: fields.strings("repositories"),
        repository_ids: fields.integers("repository_ids"),
        permissions: fields.string_map("permissions"),
    };
    fields.finish().doc(doc)?;
    let issued = app_token::scope(&*state.store, &app.0, request, &source, state.clock.now())
        .await
        .doc(doc)?;
    Ok(Json(AppAuthorization::new(
        &state.public_url,
        &issued.record,
        &issued.token,
    )))
}

/// Marks a legacy response as deprecated and sunset. Installed as a route layer on the
/// legacy routes, so it also marks the answers of their extractors (401s for bad credentials).
pub async fn mark_deprecated(mut response: Response) -> Response {
    // Removed from github.com on 2021-05-05.
    conventions::mark_deprecated(
        response.headers_mut(),
        "Wed, 05 May 2021 00:00:00 GMT",
        "<https://docs.github.com/enterprise-server@3.19/rest/apps/oauth-applications>; rel=\"deprecation\"",
    );
    response
}

/// GET /applications/{client_id}/tokens/{access_token} (legacy check)
pub async fn check_authorization(
    State(state): State<AppState>,
    app: AppClient,
    Path((_, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check(&state, &app, &token, docs::CHECK_TOKEN).await
}

/// POST /applications/{client_id}/tokens/{access_token} (legacy reset)
pub async fn reset_authorization(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    Path((_, token)): Path<(String, String)>,
) -> Result<Json<AppAuthorization>, ApiError> {
    reset(&state, &app, &token, &source, docs::RESET_TOKEN).await
}

/// DELETE /applications/{client_id}/tokens/{access_token} (legacy revoke)
pub async fn revoke_authorization_for_application(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    Path((_, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &app, &token, &source, docs::DELETE_TOKEN).await
}

/// DELETE /applications/{client_id}/grants/{access_token} (legacy delete grant)
pub async fn revoke_grant_for_application(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    app: AppClient,
    Path((_, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_grant(
        &state,
        &app,
        &token,
        &source,
        docs::DELETE_APP_AUTHORIZATION,
    )
    .await
}
