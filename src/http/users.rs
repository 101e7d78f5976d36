//! `GET /user`: the one place a token is *used* rather than managed, so that clients and
//! tests can prove a reset or revocation took effect at once.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::conditional::{LastModified, Tagged};
use super::error::ApiError;
use super::extract::TokenAuth;
use super::json;

const OAUTH_SCOPES: HeaderName = HeaderName::from_static("x-oauth-scopes");
const ACCEPTED_OAUTH_SCOPES: HeaderName = HeaderName::from_static("x-accepted-oauth-scopes");

/// GET /user, with `X-OAuth-Scopes` (the token's scopes) and `X-Accepted-OAuth-Scopes` (the
/// scopes this endpoint wants: none). The body and its tag are rendered once per stored record
/// (`answers.rs`).
pub async fn get_authenticated(
    State(state): State<AppState>,
    TokenAuth(record): TokenAuth,
) -> Result<Response, ApiError> {
    let answer = state
        .answers
        .user(&state.public_url, &record)
        .ok_or_else(ApiError::internal)?;
    Ok((
        [
            (OAUTH_SCOPES, answer.scopes),
            (ACCEPTED_OAUTH_SCOPES, HeaderValue::from_static("")),
        ],
        Extension(LastModified(record.user.updated_at)),
        Extension(Tagged(answer.etag)),
        json::response(answer.body),
    )
        .into_response())
}
