//! The app side of the token API (GitHub's "OAuth Apps" / "OAuth authorizations for apps"):
//! an app, authenticated with its client id and secret, checks, resets, revokes and scopes
//! the tokens issued to it. And the user side of a token: authenticating with it.
//!
//! Every lookup goes through [`lookup`]: a malformed token is refused by its checksum before
//! the store is asked, an expired one is as good as gone, and a token of another app is
//! [`Error::NotFound`], so an app cannot even learn that another app's token exists.

use super::audit::{Action, NewEvent, Source};
use std::sync::Arc;

use time::OffsetDateTime;

use super::account::{AccountRef, AccountType, RepositorySelection, TokenScope};
use super::app::{App, AppKind};
use super::authorization::{Authorization, NewAuthorization};
use super::error::ErrorCode;
use super::permission::{PermissionError, Permissions};
use super::scope::Scopes;
use super::token::PlainToken;
use super::user::User;
use super::{Error, FieldError};
use crate::domain::store::Store;

/// A live token: its authorization and the user it acts for.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub authorization: Authorization,
    pub user: User,
}

/// A token in clear with its record: just issued (reset, scoped), the only time it exists in
/// clear on our side, or as an app sent it to be checked.
#[derive(Debug)]
pub struct Issued {
    pub record: Arc<TokenRecord>,
    pub token: PlainToken,
}

/// Whether the token works at `now`: not expired, and its user not suspended (a suspended
/// user's tokens answer exactly as dead ones, everywhere a token is checked).
fn is_live(record: &TokenRecord, now: OffsetDateTime) -> bool {
    record.user.suspended_at.is_none() && record.authorization.expires_at.is_none_or(|at| now < at)
}

/// The live token `access_token`, if it is one.
async fn lookup(
    store: &dyn Store,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<Option<(PlainToken, Arc<TokenRecord>)>, Error> {
    let Some(token) = PlainToken::parse(access_token) else {
        return Ok(None);
    };
    let Some(record) = store.find_token(&token.hash()).await? else {
        return Ok(None);
    };
    Ok(is_live(&record, now).then_some((token, record)))
}

/// Whether `record` is a token `app` issued.
fn issued_by(record: &TokenRecord, app: &App) -> bool {
    record
        .authorization
        .app
        .as_ref()
        .is_some_and(|a| a.id == app.id)
}

/// The live token `access_token` issued to `app`, or [`Error::NotFound`].
async fn lookup_for_app(
    store: &dyn Store,
    app: &App,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<(PlainToken, Arc<TokenRecord>), Error> {
    match lookup(store, access_token, now).await? {
        Some((token, record)) if issued_by(&record, app) => Ok((token, record)),
        _ => Err(Error::NotFound),
    }
}

/// `POST /applications/{client_id}/token`: the live token, parsed (the response echoes it),
/// with its authorization and user.
pub async fn check(
    store: &dyn Store,
    app: &App,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    let (token, record) = lookup_for_app(store, app, access_token, now).await?;
    Ok(Issued { record, token })
}

/// [`check`] of a token already fetched with the app's sign-in
/// ([`super::app::sign_in_with_token`]): `stored` is what the store holds under its hash.
pub fn check_fetched(
    app: &App,
    token: PlainToken,
    stored: Option<Arc<TokenRecord>>,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    match stored {
        Some(record) if is_live(&record, now) && issued_by(&record, app) => {
            Ok(Issued { record, token })
        }
        _ => Err(Error::NotFound),
    }
}

/// `PATCH /applications/{client_id}/token`: a new token for the same authorization (id,
/// scopes, note kept); the old one stops working at once. Of concurrent resets of one token
/// exactly one succeeds: the store swaps the hash only if it still is the old one.
pub async fn reset(
    store: &dyn Store,
    app: &App,
    access_token: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    let (old, record) = lookup_for_app(store, app, access_token, now).await?;
    let token = PlainToken::generate(app.kind.token_kind())?;
    let expires_at = super::authorization::expiry(now, app.user_token_ttl)?;
    let authorization = store
        .replace_token(
            record.authorization.id,
            &old.hash(),
            &token.hash(),
            &token.last_eight(),
            expires_at,
            now,
            &by_app(Action::OauthAccessRegenerate, &record, source, now),
        )
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Issued {
        record: Arc::new(TokenRecord {
            authorization,
            user: record.user.clone(),
        }),
        token,
    })
}

/// An event an app caused with its client credentials about one of its tokens: no user acted,
/// so the log names no actor, only the app and the token's owner.
fn by_app(action: Action, record: &TokenRecord, source: &Source, now: OffsetDateTime) -> NewEvent {
    NewEvent::by_server(action, Some(&record.user), source, now)
        .authorization(&record.authorization)
}

/// `DELETE /applications/{client_id}/token`: revokes this one token.
pub async fn revoke(
    store: &dyn Store,
    app: &App,
    access_token: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let (token, record) = lookup_for_app(store, app, access_token, now).await?;
    let event = by_app(Action::OauthAccessDestroy, &record, source, now);
    if store.delete_token(&token.hash(), app.id, &event).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// `DELETE /applications/{client_id}/grant`: removes the grant of the token's owner for this
/// app, and with it every token of the app for that user.
pub async fn delete_grant(
    store: &dyn Store,
    app: &App,
    access_token: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let (_, record) = lookup_for_app(store, app, access_token, now).await?;
    let event = by_app(Action::OauthAuthorizationDestroy, &record, source, now);
    if store
        .delete_app_grant(record.user.id, app.id, &event)
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// `POST /applications/{client_id}/token/scoped`.
#[derive(Debug, Clone, Default)]
pub struct ScopeRequest {
    pub access_token: String,
    pub target: Option<String>,
    pub target_id: Option<i64>,
    pub repositories: Option<Vec<String>>,
    pub repository_ids: Option<Vec<i64>>,
    pub permissions: Option<Vec<(String, String)>>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::invalid(FieldError::custom(field, message))
}

/// Validates what a scoped token should reach: the target account (the token's user or an
/// organization they belong to), its repositories and GitHub App permissions.
async fn resolve_scope(
    store: &dyn Store,
    user: &User,
    request: &ScopeRequest,
) -> Result<TokenScope, Error> {
    let target_ref = match (&request.target, request.target_id) {
        (Some(login), _) => AccountRef::Login(login.clone()),
        (None, Some(id)) => AccountRef::Id(id),
        (None, None) => {
            return Err(Error::invalid(FieldError::new(
                "target",
                ErrorCode::MissingField,
            )));
        }
    };
    let target = store
        .find_account(&target_ref)
        .await?
        .ok_or_else(|| invalid("target", "The target account does not exist."))?;
    if let (Some(id), Some(_)) = (request.target_id, &request.target)
        && id != target.id.0
    {
        return Err(invalid(
            "target_id",
            "target and target_id name different accounts.",
        ));
    }
    let reachable = match target.kind {
        AccountType::User => target.id == user.id,
        AccountType::Organization => store.is_org_member(target.id, user.id).await?,
    };
    if !reachable {
        return Err(invalid(
            "target",
            "The token's user cannot act for the target account.",
        ));
    }
    let repositories = match (&request.repositories, &request.repository_ids) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "repository_ids",
                "repositories and repository_ids may not both be given.",
            ));
        }
        (None, None) => RepositorySelection::All,
        (names, ids) => {
            let owned = store.list_repositories(target.id).await?;
            let mut selected = Vec::new();
            for name in names.iter().flatten() {
                let repo = owned.iter().find(|r| r.name.eq_ignore_ascii_case(name));
                let repo = repo.ok_or_else(|| {
                    invalid(
                        "repositories",
                        format!("Repository {name:?} does not belong to the target."),
                    )
                })?;
                selected.push(repo.id);
            }
            for id in ids.iter().flatten() {
                let repo = owned.iter().find(|r| r.id.0 == *id);
                let repo = repo.ok_or_else(|| {
                    invalid(
                        "repository_ids",
                        format!("Repository {id} does not belong to the target."),
                    )
                })?;
                selected.push(repo.id);
            }
            selected.sort_unstable();
            selected.dedup();
            RepositorySelection::Selected(selected)
        }
    };
    let permissions = Permissions::parse(request.permissions.clone().unwrap_or_default()).map_err(
        |e| match e {
            PermissionError::UnknownPermission(name) => {
                invalid("permissions", format!("{name:?} is not a permission."))
            }
            PermissionError::BadLevel {
                permission,
                level,
                allowed,
            } => invalid(
                "permissions",
                format!(
                    "{permission}: {level:?} is not one of {}.",
                    allowed.join(", ")
                ),
            ),
        },
    )?;
    Ok(TokenScope {
        target,
        permissions,
        repositories,
    })
}

/// Makes a repository- and permission-scoped token from a non-scoped one of a GitHub App.
/// The new token is an authorization of its own (same app, user, note and fingerprint, no
/// OAuth scopes); the token it was made from keeps working.
pub async fn scope(
    store: &dyn Store,
    app: &App,
    request: ScopeRequest,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    if app.kind != AppKind::GitHub {
        return Err(invalid(
            "client_id",
            "Only GitHub Apps can create scoped tokens.",
        ));
    }
    let (_, record) = lookup_for_app(store, app, &request.access_token, now).await?;
    if record.authorization.scoped_to.is_some() {
        return Err(invalid(
            "access_token",
            "The access token is already scoped.",
        ));
    }
    let scoped_to = resolve_scope(store, &record.user, &request).await?;
    let token = PlainToken::generate(app.kind.token_kind())?;
    let parent = &record.authorization;
    let new = NewAuthorization {
        user_id: record.user.id,
        app: parent.app.clone(),
        scopes: Scopes::default(),
        token_hash: token.hash(),
        token_last_eight: token.last_eight(),
        note: parent.note.clone(),
        note_url: parent.note_url.clone(),
        fingerprint: parent.fingerprint.clone(),
        now,
        expires_at: super::authorization::expiry(now, app.user_token_ttl)?,
        scoped_to: Some(scoped_to),
        web_flow: false,
    };
    let event = NewEvent::by_server(Action::OauthAccessCreate, Some(&record.user), source, now)
        .token(None, &new.token_hash, new.app.as_ref(), &new.scopes)
        .with("scoped_from_token_id", parent.id.0);
    let authorization = store.insert_authorization(&new, &event).await?;
    Ok(Issued {
        record: Arc::new(TokenRecord {
            authorization,
            user: record.user.clone(),
        }),
        token,
    })
}

/// Authenticates a request made with a token (`Authorization: token …` or `Bearer …`).
/// Unknown, revoked and expired tokens are all [`Error::BadCredentials`].
pub async fn authenticate(
    store: &dyn Store,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<Arc<TokenRecord>, Error> {
    lookup(store, access_token, now)
        .await?
        .map(|(_, record)| record)
        .ok_or(Error::BadCredentials)
}
