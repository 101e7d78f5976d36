//! GHES's user suspension for site admins: `PUT /users/{username}/suspended` and
//! `DELETE /users/{username}/suspended`. A token needs the `site_admin` scope (GitHub's docs
//! for the enterprise admin endpoints); who is refused and how is
//! [`ghes::site_admin`](super::ghes::site_admin)'s rule, the same for every site-admin
//! endpoint (a non-admin gets GHES's documented 403).

use crate::domain::audit::Source;
use crate::http::audit_log::RequestSource;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::docs;
use super::error::{ApiError, Documented};
use super::extract::{Caller, FieldReader, JsonObject};
use super::ghes::scope_headers;
use crate::domain::user::{self, User};

const ACCEPTED: &str = "site_admin";

/// The admin acting, or the refusal every site-admin endpoint answers.
fn admin<'a>(caller: &'a Caller, doc: &'static str) -> Result<&'a User, ApiError> {
    super::ghes::site_admin(caller, ACCEPTED, doc)
}

async fn set(
    state: &AppState,
    caller: &Caller,
    username: &str,
    body: &JsonObject,
    suspend: bool,
    source: &Source,
    doc: &'static str,
) -> Result<Response, ApiError> {
    let admin = admin(caller, doc)?;
    let mut fields = FieldReader::new(body);
    let reason = fields.string("reason");
    fields.finish().doc(doc)?;
    user::set_suspended(
        &*state.store,
        admin,
        username,
        suspend,
        reason.as_deref(),
        source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    Ok((scope_headers(caller, ACCEPTED), StatusCode::NO_CONTENT).into_response())
}

/// PUT /users/{username}/suspended (optional body `{"reason": …}`).
pub async fn suspend(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    Path(username): Path<String>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    set(
        &state,
        &caller,
        &username,
        &body,
        true,
        &source,
        docs::SUSPEND_USER,
    )
    .await
}

/// DELETE /users/{username}/suspended (optional body `{"reason": …}`).
pub async fn unsuspend(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    caller: Caller,
    Path(username): Path<String>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    set(
        &state,
        &caller,
        &username,
        &body,
        false,
        &source,
        docs::UNSUSPEND_USER,
    )
    .await
}
