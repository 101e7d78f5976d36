//! Authorizations: one token each, for an app or (without an app) a personal access token.
//! The rules of GitHub's "OAuth Authorizations" API live here: who may create what, which
//! fields are required and unique, and how scopes change.

use std::num::NonZeroUsize;

use time::OffsetDateTime;

use super::account::TokenScope;
use super::app::{self, AppSummary};
use super::audit::{Action, NewEvent, Source, TokenType};
use super::error::ErrorCode;
use super::limits::{self, Origin};
use super::scope::Scopes;
use super::secret::ClientSecret;
use super::token::{PlainToken, TokenHash, TokenKind};
use super::uri::is_web_url;
use super::user::User;
use super::{AuthorizationId, Error, FieldError, Page, PageRequest, UserId};
use crate::domain::store::{self, Store};

#[derive(Debug, Clone)]
pub struct Authorization {
    pub id: AuthorizationId,
    pub user_id: UserId,
    /// `None` for a personal access token, which belongs to no app.
    pub app: Option<AppSummary>,
    pub scopes: Scopes,
    pub token_hash: TokenHash,
    pub token_last_eight: String,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub fingerprint: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    /// Set on repository- and permission-scoped tokens made by `app_token::scope`.
    pub scoped_to: Option<TokenScope>,
    /// When the token was last used, to the hour (`domain::usage`); `None`: never.
    pub last_used_at: Option<OffsetDateTime>,
}

/// An authorization about to be stored. Carries the token's hash, never the token.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub user_id: UserId,
    pub app: Option<AppSummary>,
    pub scopes: Scopes,
    pub token_hash: TokenHash,
    pub token_last_eight: String,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub fingerprint: Option<String>,
    pub now: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    /// Set on repository- and permission-scoped tokens made by `app_token::scope`.
    pub scoped_to: Option<TokenScope>,
    /// A token of the OAuth web flow: outside the one-per-fingerprint rule of the
    /// Authorizations API (a user may hold up to ten per app and scope set).
    pub web_flow: bool,
}

/// The editable fields after an update, computed from the current row inside the store's
/// transaction so that two concurrent `add_scopes` cannot lose one another's scopes.
#[derive(Debug, Clone)]
pub struct AuthorizationChanges {
    pub scopes: Scopes,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub fingerprint: Option<String>,
    pub now: OffsetDateTime,
}

/// A newly made authorization and its token in clear, which only this response carries.
#[derive(Debug)]
pub struct Created {
    pub authorization: Authorization,
    pub token: PlainToken,
}

/// The outcome of a get-or-create: GitHub answers 201 for the first and 200 for the second.
#[derive(Debug)]
pub enum GetOrCreate {
    Created(Created),
    Existing(Authorization),
}

/// A JSON field of a PATCH: left out, sent as `null` (clear it), or given a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Self::Absent => current,
            Self::Null => None,
            Self::Value(v) => Some(v),
        }
    }

    fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// `POST /authorizations`.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub scopes: Option<Vec<String>>,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    pub fingerprint: Option<String>,
}

/// `PUT /authorizations/clients/{client_id}[/{fingerprint}]`.
#[derive(Debug, Clone, Default)]
pub struct GetOrCreateRequest {
    pub client_secret: Option<ClientSecret>,
    pub scopes: Option<Vec<String>>,
    pub note: Option<String>,
    pub note_url: Option<String>,
    /// The body's fingerprint: only `PUT /authorizations/clients/{client_id}` takes one (the
    /// form of get-or-create that predates the fingerprint in the path).
    pub fingerprint: Option<String>,
}

/// `PATCH /authorizations/{authorization_id}`.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    pub scopes: Field<Vec<String>>,
    pub add_scopes: Option<Vec<String>>,
    pub remove_scopes: Option<Vec<String>>,
    pub note: Field<String>,
    pub note_url: Field<String>,
    pub fingerprint: Field<String>,
}

fn parse_scopes(field: &'static str, requested: Option<Vec<String>>) -> Result<Scopes, Error> {
    Scopes::parse(requested.unwrap_or_default())
        .map_err(|_| Error::invalid(FieldError::new(field, ErrorCode::Invalid)))
}

/// An empty string means "none": clients that build bodies from forms send `""` for unset fields.
fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

fn invalid_note_url() -> Error {
    Error::invalid(FieldError::new("note_url", ErrorCode::Invalid))
}

/// An optional `note_url`: empty means none; anything else must be an absolute URI, as
/// GitHub's schema promises clients (`format: uri`), and an http(s) one: the URL is handed
/// back to clients (as `app.url` too), where a `javascript:` one would be a stored script.
fn checked_note_url(text: Option<String>) -> Result<Option<String>, Error> {
    match non_empty(text) {
        Some(url) if !is_web_url(&url) => Err(invalid_note_url()),
        other => Ok(other),
    }
}

/// When a token made at `now` expires, for an app whose tokens live `ttl` (`None`: never).
/// Lifetimes are bounded where they are configured (`config::TOKEN_TTL`), but an app stored
/// before that bound, or a clock gone wild, must cost a 422, not a panic in date arithmetic.
pub fn expiry(
    now: OffsetDateTime,
    ttl: Option<time::Duration>,
) -> Result<Option<OffsetDateTime>, Error> {
    ttl.map(|ttl| {
        now.checked_add(ttl).ok_or_else(|| {
            Error::invalid(FieldError::custom(
                "expires_at",
                "the app's user token lifetime ends after the last date grantd can store; \
                 its owner must shorten it",
            ))
        })
    })
    .transpose()
}

/// Longest `note` and `fingerprint`: both are unique-indexed, and 255 characters (at most
/// 1,020 bytes of UTF-8) fit every engine's index rows (PostgreSQL's stop near 2,700 bytes).
const MAX_INDEXED_TEXT: usize = 255;
/// Longest `note_url`.
const MAX_NOTE_URL: usize = 2_048;

/// Refuses a text field longer than `max` characters, as GitHub words it, or holding a NUL
/// character, which text columns cannot store (PostgreSQL refuses it outright).
fn check_length(field: &'static str, text: Option<&str>, max: usize) -> Result<(), Error> {
    match text {
        Some(text) if text.chars().count() > max => Err(Error::invalid(FieldError::custom(
            field,
            format!("{field} is too long (maximum is {max} characters)"),
        ))),
        Some(text) if text.contains('\0') => {
            Err(Error::invalid(FieldError::new(field, ErrorCode::Invalid)))
        }
        _ => Ok(()),
    }
}

/// The length limits of every text an authorization stores.
pub(super) fn check_lengths(
    note: Option<&str>,
    note_url: Option<&str>,
    fingerprint: Option<&str>,
) -> Result<(), Error> {
    check_length("note", note, MAX_INDEXED_TEXT)?;
    check_length("note_url", note_url, MAX_NOTE_URL)?;
    check_length("fingerprint", fingerprint, MAX_INDEXED_TEXT)
}

pub(super) fn map_conflict(error: store::Error) -> Error {
    match error {
        store::Error::Conflict(store::Constraint::AppFingerprint) => {
            Error::invalid(FieldError::new("fingerprint", ErrorCode::AlreadyExists))
        }
        store::Error::Conflict(store::Constraint::PersonalNote) => {
            Error::invalid(FieldError::new("description", ErrorCode::AlreadyExists))
        }
        other => Error::Store(other),
    }
}

/// Checks an app's client id and secret as given in a request body or path. An unknown
/// client id answers `unknown_app` (422 in a body, 404 in a path); a wrong secret is a 422
/// on `client_secret`, since the user's own credentials were fine. A wrong secret is also a
/// failed app sign-in of the caller's address (a way to guess secrets like any other), so
/// once the address has used up its failures it is answered as one (403).
async fn verify_app(
    store: &dyn Store,
    client_id: &str,
    client_secret: Option<&ClientSecret>,
    unknown_app: Error,
    origin: Origin,
    now: OffsetDateTime,
) -> Result<AppSummary, Error> {
    let app = match app::find(store, client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Err(unknown_app),
        Err(other) => return Err(other),
    };
    let secret = client_secret
        .ok_or_else(|| Error::invalid(FieldError::new("client_secret", ErrorCode::MissingField)))?;
    if !app.client_secrets.matches(secret) {
        return Err(
            match limits::app_sign_in_failed(store, origin, now).await? {
                Error::BadCredentials => {
                    Error::invalid(FieldError::new("client_secret", ErrorCode::Invalid))
                }
                refused => refused,
            },
        );
    }
    Ok(app.summary())
}

/// What a caller decided about a new authorization; [`insert`] draws its token.
struct Draft {
    app: Option<AppSummary>,
    scopes: Scopes,
    note: Option<String>,
    note_url: Option<String>,
    fingerprint: Option<String>,
}

async fn insert(
    store: &dyn Store,
    user: &User,
    draft: Draft,
    (action, actor): (Action, &User),
    source: &Source,
    now: OffsetDateTime,
) -> Result<Created, Error> {
    let kind = draft
        .app
        .as_ref()
        .map_or(TokenKind::Personal, |a| a.kind.token_kind());
    let token = PlainToken::generate(kind)?;
    let new = NewAuthorization {
        user_id: user.id,
        expires_at: expiry(now, draft.app.as_ref().and_then(|a| a.token_ttl))?,
        app: draft.app,
        scopes: draft.scopes,
        token_hash: token.hash(),
        token_last_eight: token.last_eight(),
        note: draft.note,
        note_url: draft.note_url,
        fingerprint: draft.fingerprint,
        now,
        scoped_to: None,
        web_flow: false,
    };
    let event = NewEvent::by(action, actor, source, now).about(user).token(
        None,
        &new.token_hash,
        new.app.as_ref(),
        &new.scopes,
    );
    let authorization = store
        .insert_authorization(&new, &event)
        .await
        .map_err(map_conflict)?;
    Ok(Created {
        authorization,
        token,
    })
}

/// `POST /authorizations`: a token for an app (with its client id and secret) or, without
/// them, a personal access token, which must have a note unique among the user's tokens.
pub async fn create(
    store: &dyn Store,
    user: &User,
    request: CreateRequest,
    origin: Origin,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Created, Error> {
    let by = (Action::OauthAuthorizationCreate, user);
    create_recorded(store, user, request, origin, by, source, now).await
}

/// [`create`], recorded as `action` by `actor` (an admin's impersonation token is
/// `oauth_access.create` by the admin, about the user).
pub(super) async fn create_recorded(
    store: &dyn Store,
    user: &User,
    request: CreateRequest,
    origin: Origin,
    by: (Action, &User),
    source: &Source,
    now: OffsetDateTime,
) -> Result<Created, Error> {
    let scopes = parse_scopes("scopes", request.scopes)?;
    let note = non_empty(request.note);
    let note_url = checked_note_url(request.note_url)?;
    let fingerprint = non_empty(request.fingerprint);
    check_lengths(note.as_deref(), note_url.as_deref(), fingerprint.as_deref())?;
    let app = match (
        non_empty(request.client_id),
        request.client_secret.filter(|s| !s.expose().is_empty()),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Error::invalid(FieldError::new(
                "client_id",
                ErrorCode::MissingField,
            )));
        }
        (Some(client_id), secret) => {
            let unknown = Error::invalid(FieldError::new("client_id", ErrorCode::Invalid));
            Some(verify_app(store, &client_id, secret.as_ref(), unknown, origin, now).await?)
        }
    };
    if app.is_none() && note.is_none() {
        // GitHub calls a personal token's note its "description" in this error.
        return Err(Error::invalid(FieldError::new(
            "description",
            ErrorCode::MissingField,
        )));
    }
    let draft = Draft {
        app,
        scopes,
        note,
        note_url,
        fingerprint,
    };
    insert(store, user, draft, by, source, now).await
}

/// `PUT /authorizations/clients/{client_id}[/{fingerprint}]`: the user's authorization of
/// that app with that fingerprint (or with none), created if missing.
///
/// Concurrent calls cannot make two: the store's unique index on (user, app, fingerprint)
/// turns the loser's insert into a conflict, and the loser then returns the winner's row.
#[allow(clippy::too_many_arguments)]
pub async fn get_or_create(
    store: &dyn Store,
    user: &User,
    client_id: &str,
    fingerprint: Option<&str>,
    request: GetOrCreateRequest,
    origin: Origin,
    source: &Source,
    now: OffsetDateTime,
) -> Result<GetOrCreate, Error> {
    let secret = request.client_secret.filter(|s| !s.expose().is_empty());
    let app = verify_app(
        store,
        client_id,
        secret.as_ref(),
        Error::NotFound,
        origin,
        now,
    )
    .await?;
    let scopes = parse_scopes("scopes", request.scopes)?;
    let fingerprint = non_empty(fingerprint.map(str::to_owned).or(request.fingerprint));
    let note_url = checked_note_url(request.note_url)?;
    check_lengths(
        request.note.as_deref(),
        note_url.as_deref(),
        fingerprint.as_deref(),
    )?;
    // A few rounds at most: each conflict means a row existed, and a second conflict could
    // only come from that row being deleted between our insert and our read.
    for _ in 0..3 {
        if let Some(existing) = store
            .find_app_authorization(user.id, app.id, fingerprint.as_deref())
            .await?
        {
            return Ok(GetOrCreate::Existing(existing));
        }
        let draft = Draft {
            app: Some(app.clone()),
            scopes: scopes.clone(),
            note: non_empty(request.note.clone()),
            note_url: note_url.clone(),
            fingerprint: fingerprint.clone(),
        };
        let by = (Action::OauthAuthorizationCreate, user);
        match insert(store, user, draft, by, source, now).await {
            Ok(created) => return Ok(GetOrCreate::Created(created)),
            Err(Error::Invalid(errors)) if errors.iter().any(|e| e.field == "fingerprint") => {}
            Err(other) => return Err(other),
        }
    }
    Err(Error::Internal(
        "get-or-create kept conflicting with concurrent deletes".into(),
    ))
}

/// `GET /authorizations/{id}`: only the user's own; anyone else's is [`Error::NotFound`].
pub async fn find(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
) -> Result<Authorization, Error> {
    store
        .find_authorization(user.id, id)
        .await?
        .ok_or(Error::NotFound)
}

/// `GET /authorizations`, optionally only one app's.
pub async fn list(
    store: &dyn Store,
    user: &User,
    client_id: Option<&str>,
    page: PageRequest,
) -> Result<Page<Authorization>, Error> {
    let Some(app_id) = app::resolve_filter(store, client_id).await? else {
        return Ok(Page::empty());
    };
    Ok(store.list_authorizations(user.id, app_id, page).await?)
}

/// How a PATCH changes scopes: at most one of `scopes`, `add_scopes`, `remove_scopes`.
enum ScopeChange {
    Keep,
    Set(Scopes),
    Add(Scopes),
    Remove(Scopes),
}

/// `PATCH /authorizations/{id}`: one of `scopes`, `add_scopes`, `remove_scopes`, plus note,
/// note URL and fingerprint. `updated_at` moves to `now`.
pub async fn update(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
    request: UpdateRequest,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Authorization, Error> {
    let scope_keys = [
        request.scopes.is_present(),
        request.add_scopes.is_some(),
        request.remove_scopes.is_some(),
    ];
    if scope_keys.iter().filter(|given| **given).count() > 1 {
        return Err(Error::invalid(FieldError::custom(
            "scopes",
            "Only one of scopes, add_scopes and remove_scopes may be given per request.",
        )));
    }
    let change = match (request.scopes, request.add_scopes, request.remove_scopes) {
        (Field::Value(scopes), _, _) => ScopeChange::Set(parse_scopes("scopes", Some(scopes))?),
        (Field::Null, _, _) => ScopeChange::Set(Scopes::default()),
        (Field::Absent, Some(add), _) => ScopeChange::Add(parse_scopes("add_scopes", Some(add))?),
        (Field::Absent, None, Some(remove)) => {
            ScopeChange::Remove(parse_scopes("remove_scopes", Some(remove))?)
        }
        (Field::Absent, None, None) => ScopeChange::Keep,
    };
    let current = find(store, user, id).await?;
    let is_personal = current.app.is_none();
    let note = match request.note {
        Field::Value(text) if text.is_empty() => Field::Null,
        other => other,
    };
    if is_personal && note == Field::Null {
        return Err(Error::invalid(FieldError::new(
            "description",
            ErrorCode::MissingField,
        )));
    }
    let note_url = match request.note_url {
        Field::Value(text) if text.is_empty() => Field::Null,
        Field::Value(text) if !is_web_url(&text) => return Err(invalid_note_url()),
        other => other,
    };
    let fingerprint = match request.fingerprint {
        Field::Value(text) if text.is_empty() => Field::Null,
        other => other,
    };
    let value = |field: &Field<String>| match field {
        Field::Value(text) => Some(text.clone()),
        Field::Absent | Field::Null => None,
    };
    check_lengths(
        value(&note).as_deref(),
        value(&note_url).as_deref(),
        value(&fingerprint).as_deref(),
    )?;
    let edit = move |current: &Authorization| AuthorizationChanges {
        scopes: match &change {
            ScopeChange::Keep => current.scopes.clone(),
            ScopeChange::Set(scopes) => scopes.clone(),
            ScopeChange::Add(added) => current.scopes.with_added(added),
            ScopeChange::Remove(removed) => current.scopes.without(removed),
        },
        note: note.clone().apply(current.note.clone()),
        note_url: note_url.clone().apply(current.note_url.clone()),
        fingerprint: fingerprint.clone().apply(current.fingerprint.clone()),
        now,
    };
    // The scopes the token has after the change, as GitHub's event shows them (computed from
    // the row read above; the store applies `edit` to the row it locks).
    let after = edit(&current).scopes;
    let event = NewEvent::by(Action::OauthAuthorizationUpdate, user, source, now)
        .authorization(&current)
        .with("token_scopes", after.as_slice().join(","));
    store
        .update_authorization(user.id, id, &edit, &event)
        .await
        .map_err(map_conflict)?
        .ok_or(Error::NotFound)
}

/// `DELETE /authorizations/{id}`: the token stops working at once; a grant left without
/// authorizations goes too.
pub async fn delete(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    delete_recorded(
        store,
        user,
        id,
        Action::OauthAuthorizationDestroy,
        source,
        now,
    )
    .await
}

/// [`delete`], recorded as `action`.
pub(super) async fn delete_recorded(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
    action: Action,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let current = find(store, user, id).await?;
    let event = NewEvent::by(action, user, source, now).authorization(&current);
    if store.delete_authorization(user.id, id, &event).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// How many tokens [`mint`] makes, and how many it stores per transaction: the store sorts each
/// batch by hash, so larger batches walk the indexes fewer times and hold more in memory.
#[derive(Clone, Copy, Debug)]
pub struct MintCount {
    pub count: u64,
    pub batch_size: NonZeroUsize,
}

/// `grantd token mint`: `count` new tokens of `app` for `user` with `scopes`, for fixtures and
/// benchmarks. Each is an authorization of its own, told apart by a fingerprint derived from
/// its hash. `sink` receives every token in clear, after its batch is stored, so the output
/// never names a token that does not exist.
///
/// Each batch writes one `oauth_access.create` in its transaction, without an actor (a
/// command), naming the user, the app, the kind and scopes of its tokens and their `count`,
/// but no `token_id` or `hashed_token`: an event per token would double the time a million
/// tokens take and bury every other event of the log.
pub async fn mint(
    store: &dyn Store,
    user: &User,
    app: &AppSummary,
    scopes: &Scopes,
    MintCount { count, batch_size }: MintCount,
    now: OffsetDateTime,
    mut sink: impl FnMut(&PlainToken) -> std::io::Result<()>,
) -> Result<u64, Error> {
    let mut minted = 0;
    while minted < count {
        let size = usize::try_from(count - minted)
            .unwrap_or(usize::MAX)
            .min(batch_size.get());
        let mut tokens = Vec::with_capacity(size);
        let mut batch = Vec::with_capacity(size);
        for _ in 0..size {
            let token = PlainToken::generate(app.kind.token_kind())?;
            let hash = token.hash();
            batch.push(NewAuthorization {
                user_id: user.id,
                app: Some(app.clone()),
                scopes: scopes.clone(),
                token_hash: hash,
                token_last_eight: token.last_eight(),
                note: None,
                note_url: None,
                fingerprint: Some(format!("minted-{}", &hash.to_hex()[..16])),
                now,
                expires_at: expiry(now, app.token_ttl)?,
                scoped_to: None,
                web_flow: false,
            });
            tokens.push(token);
        }
        let event = NewEvent::by_server(
            Action::OauthAccessCreate,
            Some(user),
            &Source::command_line(),
            now,
        );
        let event = NewEvent {
            app: Some(app.into()),
            ..event
        }
        .with_token(None, None, TokenType::of(Some(app.kind)))
        .with("token_scopes", scopes.as_slice().join(","))
        .with("count", batch.len());
        minted += store
            .insert_authorizations(&batch, &event)
            .await
            .map_err(map_conflict)?;
        for token in &tokens {
            sink(token)
                .map_err(|e| Error::Internal(format!("cannot write the minted tokens: {e}")))?;
        }
    }
    Ok(minted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_past_the_last_date_is_a_validation_error_not_a_panic() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(expiry(now, None).ok(), Some(None));
        assert_eq!(
            expiry(now, Some(time::Duration::hours(8))).ok(),
            Some(Some(time::macros::datetime!(2026-01-01 8:00 UTC)))
        );
        // A lifetime stored before lifetimes were bounded (a million years).
        let error = expiry(now, Some(time::Duration::days(365_250_000)));
        assert!(
            matches!(&error, Err(Error::Invalid(errors)) if errors[0].field == "expires_at"),
            "{error:?}"
        );
    }
}
