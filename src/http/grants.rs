//! Handlers of `/applications/grants…`, named after GitHub's operationIds.

use crate::http::audit_log::RequestSource;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::json::Json;

use super::AppState;
use super::conditional::LastModified;
use super::docs;
use super::error::{ApiError, Documented};
use super::extract::{BasicUser, path_id};
use super::pagination::{ListQuery, list_response};
use super::schemas;
use crate::domain::GrantId;
use crate::domain::grant;

/// GET /applications/grants
pub async fn list_grants(
    State(state): State<AppState>,
    BasicUser(user): BasicUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = grant::list(&*state.store, &user, query.client_id.as_deref(), query.page)
        .await
        .doc(docs::LIST_GRANTS)?;
    let link = query.link_header(
        &format!("{}/applications/grants", state.public_url),
        page.total,
    );
    let items: Vec<_> = page
        .items
        .iter()
        .map(|g| schemas::Grant::new(&state.public_url, g))
        .collect();
    let last_modified = page.items.iter().map(|g| g.updated_at).max();
    Ok(list_response(link, last_modified, items))
}

/// GET /applications/grants/{grant_id}
pub async fn get_grant(
    State(state): State<AppState>,
    BasicUser(user): BasicUser,
    Path(id): Path<String>,
) -> Result<(Extension<LastModified>, Json<schemas::Grant>), ApiError> {
    let doc = docs::GET_GRANT;
    let found = grant::find(&*state.store, &user, path_id(&id, GrantId, doc)?)
        .await
        .doc(doc)?;
    Ok((
        Extension(LastModified(found.updated_at)),
        Json(schemas::Grant::new(&state.public_url, &found)),
    ))
}

/// DELETE /applications/grants/{grant_id}
pub async fn delete_grant(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let doc = docs::DELETE_GRANT;
    grant::delete(
        &*state.store,
        &user,
        path_id(&id, GrantId, doc)?,
        &source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    Ok(StatusCode::NO_CONTENT)
}
