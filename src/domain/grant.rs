//! Grants: one per user and app that holds at least one authorization, as GitHub's
//! "application authorizations" settings screen lists them. A grant's scopes are the union of
//! its authorizations' scopes; deleting it deletes all of that app's tokens for the user.

use time::OffsetDateTime;

use super::app::{self, AppSummary};
use super::scope::Scopes;
use super::user::User;
use super::{Error, GrantId, Page, PageRequest};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: GrantId,
    pub app: AppSummary,
    pub scopes: Scopes,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// `GET /applications/grants/{id}`: only the user's own.
pub async fn find(store: &dyn Store, user: &User, id: GrantId) -> Result<Grant, Error> {
    store.find_grant(user.id, id).await?.ok_or(Error::NotFound)
}

/// `GET /applications/grants`, optionally only one app's.
pub async fn list(
    store: &dyn Store,
    user: &User,
    client_id: Option<&str>,
    page: PageRequest,
) -> Result<Page<Grant>, Error> {
    let Some(app_id) = app::resolve_filter(store, client_id).await? else {
        return Ok(Page::empty());
    };
    Ok(store.list_grants(user.id, app_id, page).await?)
}

/// `DELETE /applications/grants/{id}`: every authorization of that app for the user goes.
pub async fn delete(store: &dyn Store, user: &User, id: GrantId) -> Result<(), Error> {
    if store.delete_grant(user.id, id).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}
