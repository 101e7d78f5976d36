//! `GET /user`: the one place a token is *used* rather than managed, so that clients and
//! tests can prove a reset or revocation took effect at once.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use axum::extract::Path;

use super::AppState;
use super::conditional::{LastModified, Tagged};
use super::docs;
use super::error::{ApiError, Documented};
use super::extract::{Caller, TokenAuth};
use super::ghes::scope_headers;
use super::json::{self, Json};
use super::pagination::{ListQuery, list_response};
use super::schemas::{Email, PublicUser};
use crate::domain::user;

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

/// GET /users/{username}: a user's public profile, to anyone. The email is shown to signed-in
/// callers only, as GitHub shows public emails; an unknown login is a 404.
pub async fn get_by_username(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    let user = user::find(&*state.store, &username)
        .await
        .doc(docs::GET_USER)?;
    let mut public = PublicUser::new(&state.public_url, &user);
    if caller.user().is_none() {
        public.email = None;
    }
    Ok((
        scope_headers(&caller, ""),
        Extension(LastModified(user.updated_at)),
        Json(public),
    )
        .into_response())
}

/// The scopes that grant `GET /user/emails`.
const EMAIL_SCOPES: &str = "user, user:email";

/// GET /user/emails: the signed-in user's addresses (grantd keeps one at most). A token needs
/// `user` or `user:email`; without either the endpoint is "Not Found" to it, as GitHub
/// answers a token that lacks a user scope. Anonymous callers get 401.
pub async fn list_emails_for_authenticated_user(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let user = match &caller {
        Caller::Token(record) => {
            let scopes = &record.authorization.scopes;
            if !(scopes.grants("user") || scopes.grants("user:email")) {
                return Err(ApiError::not_found()
                    .documented(docs::LIST_EMAILS)
                    .with_headers(scope_headers(&caller, EMAIL_SCOPES)));
            }
            &record.user
        }
        Caller::User(user) => user,
        Caller::Anonymous(_) => return Err(ApiError::requires_authentication()),
    };
    let emails: Vec<Email> = Email::of_user(user).into_iter().collect();
    let total = emails.len() as u64;
    let skip = usize::try_from(query.page.offset()).unwrap_or(usize::MAX);
    let page: Vec<Email> = emails
        .into_iter()
        .skip(skip)
        .take(query.page.per_page as usize)
        .collect();
    let link = query.link_header(&format!("{}/user/emails", state.public_url), total);
    Ok((
        scope_headers(&caller, EMAIL_SCOPES),
        list_response(link, Some(user.updated_at), page),
    )
        .into_response())
}
