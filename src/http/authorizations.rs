//! Handlers of `/authorizations…`: thin translations between HTTP and `domain::authorization`.
//! Each is named after GitHub's operationId.

use crate::domain::audit::Source;
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
use super::extract::{BasicUser, FieldReader, JsonObject, RequestOrigin, path_id};
use super::pagination::{ListQuery, list_response};
use super::schemas;
use crate::domain::AuthorizationId;
use crate::domain::authorization::{
    self, CreateRequest, GetOrCreate, GetOrCreateRequest, UpdateRequest,
};
use crate::domain::limits::Origin;
use crate::domain::secret::ClientSecret;

/// GET /authorizations
pub async fn list_authorizations(
    State(state): State<AppState>,
    BasicUser(user): BasicUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = authorization::list(&*state.store, &user, query.client_id.as_deref(), query.page)
        .await
        .doc(docs::LIST_AUTHORIZATIONS)?;
    let link = query.link_header(&format!("{}/authorizations", state.public_url), page.total);
    let items: Vec<_> = page
        .items
        .iter()
        .map(|a| schemas::Authorization::new(&state.public_url, a))
        .collect();
    let last_modified = page.items.iter().map(|a| a.updated_at).max();
    Ok(list_response(link, last_modified, items))
}

/// POST /authorizations
pub async fn create_authorization(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    RequestOrigin(origin): RequestOrigin,
    body: JsonObject,
) -> Result<(StatusCode, Json<schemas::Authorization>), ApiError> {
    let doc = docs::CREATE_AUTHORIZATION;
    let mut fields = FieldReader::new(&body);
    let request = CreateRequest {
        scopes: fields.strings("scopes"),
        note: fields.string("note"),
        note_url: fields.string("note_url"),
        client_id: fields.string("client_id"),
        client_secret: fields.string("client_secret").map(ClientSecret::new),
        fingerprint: fields.string("fingerprint"),
    };
    fields.finish().doc(doc)?;
    let created = authorization::create(
        &*state.store,
        &user,
        request,
        origin,
        &source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    let json = schemas::Authorization::with_token(
        &state.public_url,
        &created.authorization,
        &created.token,
    );
    Ok((StatusCode::CREATED, Json(json)))
}

/// The body of either get-or-create. Only the form without a fingerprint in the path reads
/// one from the body; on the other, `fingerprint` is not a body key and is ignored like any.
fn get_or_create_request<'a>(
    body: &'a JsonObject,
    path_fingerprint: Option<&str>,
) -> (GetOrCreateRequest, FieldReader<'a>) {
    let mut fields = FieldReader::new(body);
    let request = GetOrCreateRequest {
        client_secret: fields.string("client_secret").map(ClientSecret::new),
        scopes: fields.strings("scopes"),
        note: fields.string("note"),
        note_url: fields.string("note_url"),
        fingerprint: if path_fingerprint.is_none() {
            fields.string("fingerprint")
        } else {
            None
        },
    };
    (request, fields)
}

#[allow(clippy::too_many_arguments)]
async fn get_or_create(
    state: &AppState,
    user: &crate::domain::user::User,
    client_id: &str,
    fingerprint: Option<&str>,
    body: &JsonObject,
    origin: Origin,
    source: &Source,
    doc: &'static str,
) -> Result<(StatusCode, Json<schemas::Authorization>), ApiError> {
    let (request, fields) = get_or_create_request(body, fingerprint);
    fields.finish().doc(doc)?;
    let outcome = authorization::get_or_create(
        &*state.store,
        user,
        client_id,
        fingerprint,
        request,
        origin,
        source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    Ok(match outcome {
        GetOrCreate::Created(created) => (
            StatusCode::CREATED,
            Json(schemas::Authorization::with_token(
                &state.public_url,
                &created.authorization,
                &created.token,
            )),
        ),
        GetOrCreate::Existing(existing) => (
            StatusCode::OK,
            Json(schemas::Authorization::new(&state.public_url, &existing)),
        ),
    })
}

/// PUT /authorizations/clients/{client_id}
pub async fn get_or_create_authorization_for_app(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    body: JsonObject,
) -> Result<(StatusCode, Json<schemas::Authorization>), ApiError> {
    get_or_create(
        &state,
        &user,
        &client_id,
        None,
        &body,
        origin,
        &source,
        docs::GET_OR_CREATE_AUTHORIZATION_FOR_APP,
    )
    .await
}

/// PUT /authorizations/clients/{client_id}/{fingerprint}
pub async fn get_or_create_authorization_for_app_and_fingerprint(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    RequestOrigin(origin): RequestOrigin,
    Path((client_id, fingerprint)): Path<(String, String)>,
    body: JsonObject,
) -> Result<(StatusCode, Json<schemas::Authorization>), ApiError> {
    let doc = docs::GET_OR_CREATE_AUTHORIZATION_FOR_APP_AND_FINGERPRINT;
    get_or_create(
        &state,
        &user,
        &client_id,
        Some(&fingerprint),
        &body,
        origin,
        &source,
        doc,
    )
    .await
}

/// GET /authorizations/{authorization_id}
pub async fn get_authorization(
    State(state): State<AppState>,
    BasicUser(user): BasicUser,
    Path(id): Path<String>,
) -> Result<(Extension<LastModified>, Json<schemas::Authorization>), ApiError> {
    let doc = docs::GET_AUTHORIZATION;
    let found = authorization::find(&*state.store, &user, path_id(&id, AuthorizationId, doc)?)
        .await
        .doc(doc)?;
    Ok((
        Extension(LastModified(found.updated_at)),
        Json(schemas::Authorization::new(&state.public_url, &found)),
    ))
}

/// PATCH /authorizations/{authorization_id} (POST too: GitHub accepts it for clients that
/// cannot send PATCH)
pub async fn update_authorization(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<Json<schemas::Authorization>, ApiError> {
    let doc = docs::UPDATE_AUTHORIZATION;
    let id = path_id(&id, AuthorizationId, doc)?;
    let mut fields = FieldReader::new(&body);
    let request = UpdateRequest {
        scopes: fields.field_strings("scopes"),
        add_scopes: fields.strings("add_scopes"),
        remove_scopes: fields.strings("remove_scopes"),
        note: fields.field_string("note"),
        note_url: fields.field_string("note_url"),
        fingerprint: fields.field_string("fingerprint"),
    };
    fields.finish().doc(doc)?;
    let updated = authorization::update(
        &*state.store,
        &user,
        id,
        request,
        &source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    Ok(Json(schemas::Authorization::new(
        &state.public_url,
        &updated,
    )))
}

/// DELETE /authorizations/{authorization_id}
pub async fn delete_authorization(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    BasicUser(user): BasicUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let doc = docs::DELETE_AUTHORIZATION;
    authorization::delete(
        &*state.store,
        &user,
        path_id(&id, AuthorizationId, doc)?,
        &source,
        state.clock.now(),
    )
    .await
    .doc(doc)?;
    Ok(StatusCode::NO_CONTENT)
}
