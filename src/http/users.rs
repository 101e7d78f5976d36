//! `GET /user`: the one place a token is *used* rather than managed, so that clients and
//! tests can prove a reset or revocation took effect at once.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};

use super::json::Json;

use super::AppState;
use super::conditional::LastModified;
use super::extract::TokenAuth;
use super::schemas::PrivateUser;

/// GET /user, with `X-OAuth-Scopes` (the token's scopes) and `X-Accepted-OAuth-Scopes` (the
/// scopes this endpoint wants: none).
pub async fn get_authenticated(
    State(state): State<AppState>,
    TokenAuth(record): TokenAuth,
) -> (
    [(HeaderName, HeaderValue); 2],
    Extension<LastModified>,
    Json<PrivateUser>,
) {
    let scopes = record.authorization.scopes.as_slice().join(", ");
    let headers = [
        (
            HeaderName::from_static("x-oauth-scopes"),
            HeaderValue::from_str(&scopes).unwrap_or(HeaderValue::from_static("")),
        ),
        (
            HeaderName::from_static("x-accepted-oauth-scopes"),
            HeaderValue::from_static(""),
        ),
    ];
    let user = PrivateUser::new(&state.public_url, &record.user);
    (
        headers,
        Extension(LastModified(record.user.updated_at)),
        Json(user),
    )
}
