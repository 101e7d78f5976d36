//! GHES's user administration for site admins (`domain::admin`): `POST /admin/users`,
//! `DELETE /admin/users/{username}` and the impersonation tokens under
//! `/admin/users/{username}/authorizations`. Handlers named after GitHub's operationIds.
//!
//! Who may call them, as GHES's docs say: a site admin, with a token that has the
//! `site_admin` scope (GitHub: "OAuth tokens must have the `site_admin` scope when used with
//! Enterprise-specific endpoints") or with Basic credentials; the refusals are
//! [`ghes::site_admin`](super::ghes::site_admin)'s, the same for every site-admin endpoint.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::audit_log::RequestSource;
use super::docs;
use super::error::{ApiError, Documented};
use super::extract::{Caller, FieldReader, JsonObject};
use super::ghes::scope_headers;
use super::json::Json;
use super::schemas;
use crate::domain::admin::{self, NewAccount};
use crate::domain::authorization::GetOrCreate;
use crate::domain::user::User;

const ACCEPTED: &str = "site_admin";

/// The site admin acting, or the refusal every site-admin endpoint answers.
fn site_admin<'a>(caller: &'a Caller, doc: &'static str) -> Result<&'a User, ApiError> {
    super::ghes::site_admin(caller, ACCEPTED, doc)
}

/// POST /admin/users `{"login", "email", "suspended"}`
pub async fn create_user(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let doc = docs::CREATE_USER;
    let admin = site_admin(&caller, doc)?;
    let mut fields = FieldReader::new(&body);
    let account = NewAccount {
        login: fields.required_string("login"),
        email: fields.string("email"),
        suspended: fields.boolean("suspended").unwrap_or(false),
    };
    fields.finish().doc(doc)?;
    let user = admin::create_user(&*state.store, admin, account, &source, state.clock.now())
        .await
        .doc(doc)?;
    Ok((
        StatusCode::CREATED,
        scope_headers(&caller, ACCEPTED),
        Json(schemas::SimpleUser::of_user(&state.public_url, &user)),
    )
        .into_response())
}

/// DELETE /admin/users/{username}
pub async fn delete_user(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    let doc = docs::DELETE_USER;
    let admin = site_admin(&caller, doc)?;
    admin::delete_user(&*state.store, admin, &username, &source, state.clock.now())
        .await
        .doc(doc)?;
    Ok((scope_headers(&caller, ACCEPTED), StatusCode::NO_CONTENT).into_response())
}

/// POST /admin/users/{username}/authorizations `{"scopes": [...]}`
pub async fn create_impersonation_o_auth_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    Path(username): Path<String>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let doc = docs::CREATE_IMPERSONATION_TOKEN;
    let admin = site_admin(&caller, doc)?;
    let mut fields = FieldReader::new(&body);
    let scopes = fields.strings("scopes");
    fields.finish().doc(doc)?;
    let scopes = scopes.ok_or_else(|| {
        ApiError::from(crate::domain::Error::invalid(
            crate::domain::FieldError::new("scopes", crate::domain::error::ErrorCode::MissingField),
        ))
        .documented(doc)
    })?;
    let outcome = admin::create_impersonation_token(
        &*state.store,
        admin,
        &username,
        scopes,
        &source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    let (status, json) = match outcome {
        GetOrCreate::Created(created) => (
            StatusCode::CREATED,
            schemas::Authorization::with_token(
                &state.public_url,
                &created.authorization,
                &created.token,
            ),
        ),
        GetOrCreate::Existing(existing) => (
            StatusCode::OK,
            schemas::Authorization::new(&state.public_url, &existing),
        ),
    };
    Ok((status, scope_headers(&caller, ACCEPTED), Json(json)).into_response())
}

/// DELETE /admin/users/{username}/authorizations
pub async fn delete_impersonation_o_auth_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    let doc = docs::DELETE_IMPERSONATION_TOKEN;
    let admin = site_admin(&caller, doc)?;
    admin::delete_impersonation_token(&*state.store, admin, &username, &source, state.clock.now())
        .await
        .doc(doc)?;
    Ok((scope_headers(&caller, ACCEPTED), StatusCode::NO_CONTENT).into_response())
}
