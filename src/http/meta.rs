//! Routes about the server itself (`/healthz`, `/metrics`) and the JSON answers for unknown paths and
//! methods, which GitHub's clients expect in GitHub's error shape rather than as plain text.

use super::json::Json;
use axum::extract::Request;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::{ApiStatus, AppState, conventions, docs};

/// GET /healthz: 200 once the server is up and its database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// GET /openapi.json: grantd's OpenAPI description, with the server URL set to the public URL.
pub async fn openapi(State(state): State<AppState>) -> Response {
    let bytes = state.openapi.get_or_init(|| {
        let mut document = super::openapi::document(&state.public_url);
        if state.controls.is_some() {
            super::openapi::add_test_controls(&mut document);
        }
        serde_json::to_vec(&document).unwrap_or_default().into()
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes.clone(),
    )
        .into_response()
}

/// GET /metrics (mounted only when `--metrics` is on): the node's metrics in Prometheus' text
/// format. Unauthenticated: a scraper sends no credentials; `--metrics` decides who may
/// reach it.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let Some(metrics) = &state.metrics else {
        return ApiError::not_found().into_response();
    };
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::metrics::CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render the metrics");
            ApiError::internal().into_response()
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// Route layer of the Authorizations and Grants endpoints: applies `--authorizations-api`.
pub async fn authorizations_api_gate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state.authorizations_api {
        ApiStatus::Enabled => next.run(request).await,
        ApiStatus::Deprecated => {
            let mut response = next.run(request).await;
            // GitHub removed the Authorizations API on 2020-11-13.
            conventions::mark_deprecated(
                response.headers_mut(),
                "Fri, 13 Nov 2020 00:00:00 GMT",
                DEPRECATION_LINK,
            );
            response
        }
        ApiStatus::Removed => authorizations_api_removed().into_response(),
    }
}

/// The Authorizations API's 410 once removed (and during its brownouts: see `faults.rs`).
pub fn authorizations_api_removed() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "The OAuth Authorizations API has been removed. Use the web application flow to create OAuth tokens, \
         and the personal access tokens settings page to create personal access tokens.",
    )
    .documented(docs::AUTHORIZATIONS_API_DEPRECATION)
}

const DEPRECATION_LINK: &str = "<https://developer.github.com/changes/2020-02-14-deprecating-oauth-auth-endpoint/>; rel=\"deprecation\"";
