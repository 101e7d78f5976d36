//! Grants: one per user and app that holds at least one authorization, as GitHub's
//! "application authorizations" settings screen lists them. A grant's scopes are the union of
//! its authorizations' scopes; deleting it deletes all of that app's tokens for the user.

use super::audit::{Action, AppName, NewEvent, Source};
use time::OffsetDateTime;

use super::app::{self, AppSummary};
use super::scope::Scopes;
use super::user::User;
use super::{Error, GrantId, Page, PageRequest};
use crate::domain::store::Store;

#[derive(Debug, Clone)]
pub struct Grant {
    pub id: GrantId,
    pub app: AppSummary,
    pub scopes: Scopes,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The latest use of any of its tokens (`domain::usage`); `None`: never used.
    pub last_used_at: Option<OffsetDateTime>,
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
pub async fn delete(
    store: &dyn Store,
    user: &User,
    id: GrantId,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let grant = find(store, user, id).await?;
    if store
        .delete_grant(user.id, id, &revoked(user, &grant, source, now))
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The user's grants for the settings page, oldest first, at most `limit` of them.
pub async fn list_for_page(
    store: &dyn Store,
    user: &User,
    limit: u32,
) -> Result<Vec<Grant>, Error> {
    let mut out = Vec::new();
    let per_page = PageRequest::MAX_PER_PAGE;
    for page in 1..=limit.div_ceil(per_page).max(1) {
        let found = store
            .list_grants(user.id, None, PageRequest { page, per_page })
            .await?;
        let last = found.items.len() < per_page as usize;
        out.extend(found.items);
        if last {
            break;
        }
    }
    Ok(out)
}

/// "Revoke all": deletes every grant of the user, each through [`delete`]'s store call, so
/// every app token of the user stops at once. Returns how many went.
pub async fn delete_all(
    store: &dyn Store,
    user: &User,
    source: &Source,
    now: OffsetDateTime,
) -> Result<u64, Error> {
    let mut deleted = 0;
    // Each round deletes what one page listed, until none is left (or another request took
    // them): a user has at most one grant per app.
    loop {
        let page = store
            .list_grants(
                user.id,
                None,
                PageRequest {
                    page: 1,
                    per_page: PageRequest::MAX_PER_PAGE,
                },
            )
            .await?;
        if page.items.is_empty() {
            return Ok(deleted);
        }
        let mut progress = false;
        for grant in page.items {
            let event = revoked(user, &grant, source, now);
            if store.delete_grant(user.id, grant.id, &event).await? {
                deleted += 1;
                progress = true;
            }
        }
        if !progress {
            return Ok(deleted);
        }
    }
}

/// The event of revoking a grant: `oauth_authorization.destroy` of the app, for the user.
fn revoked(user: &User, grant: &Grant, source: &Source, now: OffsetDateTime) -> NewEvent {
    let mut event = NewEvent::by(Action::OauthAuthorizationDestroy, user, source, now)
        .with("grant_id", grant.id.0)
        .with("token_scopes", grant.scopes.as_slice().join(","));
    event.app = Some(AppName::from(&grant.app));
    event
}
