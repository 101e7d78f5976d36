//! The user tokens the OAuth flows issue, and their renewal: the access token of a code
//! exchange (or a device authorization), with, for a GitHub App whose user tokens expire, a
//! refresh token (`ghr_`); and the refresh grant, which trades a refresh token for a new pair
//! (GitHub's "Refreshing user access tokens").
//!
//! A refresh token belongs to one authorization (the token it was issued with) and is stored
//! only as its SHA-256, with its own expiry ([`REFRESH_TOKEN_TTL`]). It goes with its
//! authorization: revoking the token, deleting the grant, the app or the user removes it in the
//! same statement (a foreign key). A refresh swaps the authorization's token and its refresh
//! token in one transaction, after deleting the old refresh token, so that of racing refreshes
//! with one refresh token exactly one gets a pair, and the old access token is dead the moment
//! the new one exists.

use super::audit::{Action, NewEvent, Party, Source, TokenType};
use time::{Duration, OffsetDateTime};

use super::app::{self, App, AppKind};
use super::authorization::{self, Authorization, NewAuthorization};
use super::limits::{self, Origin};
use super::scope::Scopes;
use super::secret::ClientSecret;
use super::token::{PlainToken, RefreshHash, RefreshToken, TokenHash};
use super::web_flow::FlowError;
use super::{AuthorizationId, Error, UserId};
use crate::domain::store::Store;

/// How long a refresh token may wait for its use: GitHub's current value (six months, as
/// `refresh_token_expires_in` = 15897600 in its documentation's examples).
pub const REFRESH_TOKEN_TTL: Duration = Duration::seconds(15_897_600);

/// Which flow issued a token. A refresh token remembers it: GitHub lets a token of the device
/// flow be refreshed without the client secret (a device cannot keep one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Web,
    Device,
}

impl Flow {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Device => "device",
        }
    }

    /// The stored text back; anything unknown is the stricter web flow (secret required).
    pub fn from_stored(text: &str) -> Self {
        if text == "device" {
            Self::Device
        } else {
            Self::Web
        }
    }
}

/// A refresh token about to be stored (its hash, never the token).
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub hash: RefreshHash,
    pub flow: Flow,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A refresh token as stored.
#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    pub authorization_id: AuthorizationId,
    pub flow: Flow,
    pub expires_at: OffsetDateTime,
    /// Whether the token's user is suspended: their refresh tokens are as dead as their
    /// tokens, so a refresh must not hand out a new pair.
    pub user_suspended: bool,
}

/// What a refresh writes in place of the old pair.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub token_hash: TokenHash,
    pub token_last_eight: String,
    pub expires_at: Option<OffsetDateTime>,
    /// `None` once the app no longer expires its user tokens: the new token lives on and
    /// needs no refresh.
    pub refresh: Option<NewRefreshToken>,
}

/// A refresh token just issued, in clear (only in the answer that carries it).
pub struct IssuedRefresh {
    pub token: RefreshToken,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// A token a flow issued, as the token endpoint answers it. No `Debug`: tokens in clear.
pub struct Issued {
    pub token: PlainToken,
    pub authorization: Authorization,
    /// Seconds until the token expires, for apps whose user tokens expire.
    pub expires_in: Option<i64>,
    /// The refresh token, for apps whose user tokens expire.
    pub refresh: Option<IssuedRefresh>,
}

/// A new refresh token for a token that expires at `expires_at` (`None`: it does not expire,
/// so it gets none).
fn new_refresh(
    expires_at: Option<OffsetDateTime>,
    flow: Flow,
    now: OffsetDateTime,
) -> Result<Option<(RefreshToken, NewRefreshToken)>, Error> {
    if expires_at.is_none() {
        return Ok(None);
    }
    let token = RefreshToken::generate()?;
    let stored = NewRefreshToken {
        hash: token.hash(),
        flow,
        created_at: now,
        expires_at: now.saturating_add(REFRESH_TOKEN_TTL),
    };
    Ok(Some((token, stored)))
}

fn seconds_until(at: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<i64> {
    at.map(|at| (at - now).whole_seconds())
}

/// A flow's token before it is stored: the token and refresh token in clear, and the rows
/// they become. No `Debug`: tokens in clear.
pub struct Prepared {
    pub token: PlainToken,
    pub authorization: NewAuthorization,
    pub refresh: Option<(RefreshToken, NewRefreshToken)>,
}

impl Prepared {
    /// The refresh token's row, for the store call that inserts the authorization.
    pub fn refresh_row(&self) -> Option<&NewRefreshToken> {
        self.refresh.as_ref().map(|(_, row)| row)
    }

    /// The token's `oauth_access.create`, by the user who authorized the app (the store
    /// copies their login: only the id is at hand here).
    pub fn event(&self, source: &Source, now: OffsetDateTime) -> NewEvent {
        let new = &self.authorization;
        NewEvent {
            actor: Some(Party::id(new.user_id)),
            user: Some(Party::id(new.user_id)),
            ..NewEvent::by_server(Action::OauthAccessCreate, None, source, now)
        }
        .token(None, &new.token_hash, new.app.as_ref(), &new.scopes)
    }
}

/// The token a flow issues to `user` for `app`: `gho_` or `ghu_` by the app's kind, the scopes
/// asked for (none for a GitHub App, whose permissions bound its token), the app's expiry and,
/// when its user tokens expire, a refresh token. Every flow builds its token here, stores it
/// with its refresh token in one transaction and ends with [`finish`], so grants, the ten-token
/// limit, expiry and refresh cannot drift between flows.
pub fn prepare(
    app: &App,
    user: UserId,
    scopes: Scopes,
    flow: Flow,
    now: OffsetDateTime,
) -> Result<Prepared, Error> {
    let token = PlainToken::generate(app.kind.token_kind())?;
    let expires_at = authorization::expiry(now, app.user_token_ttl)?;
    let scopes = match app.kind {
        // A GitHub App's user token has no scopes: its app's permissions bound it.
        AppKind::GitHub => Scopes::default(),
        AppKind::OAuth => scopes,
    };
    let authorization = NewAuthorization {
        user_id: user,
        app: Some(app.summary()),
        scopes,
        token_hash: token.hash(),
        token_last_eight: token.last_eight(),
        note: None,
        note_url: None,
        fingerprint: None,
        now,
        expires_at,
        scoped_to: None,
        web_flow: true,
    };
    let refresh = new_refresh(expires_at, flow, now)?;
    Ok(Prepared {
        token,
        authorization,
        refresh,
    })
}

/// The answer to a flow whose token was inserted. (GitHub's limit of ten tokens per user, app
/// and scope set was kept by the store in the insert's transaction: see
/// [`Store::insert_authorization_with_refresh`].)
pub fn finish(prepared: Prepared, authorization: Authorization, now: OffsetDateTime) -> Issued {
    let Prepared {
        token,
        authorization: asked,
        refresh,
    } = prepared;
    Issued {
        token,
        authorization,
        expires_in: seconds_until(asked.expires_at, now),
        refresh: refresh.map(|(token, _)| IssuedRefresh {
            token,
            expires_in: REFRESH_TOKEN_TTL.whole_seconds(),
        }),
    }
}

/// Issues a user token that no code is redeemed for (the test controls' mint): [`prepare`],
/// one insert, [`finish`]. The flows redeem their code in the insert's transaction instead.
pub async fn issue(
    store: &dyn Store,
    app: &App,
    user: UserId,
    scopes: Scopes,
    flow: Flow,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    let prepared = prepare(app, user, scopes, flow, now)?;
    insert(store, prepared, source, now).await
}

/// Issues a web-flow token that lives `lifetime` whatever the app's setting (the test
/// controls' mint); a refresh token comes with it only if the app's user tokens expire.
pub async fn issue_with_lifetime(
    store: &dyn Store,
    app: &App,
    user: UserId,
    scopes: Scopes,
    lifetime: Duration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    let mut prepared = prepare(app, user, scopes, Flow::Web, now)?;
    prepared.authorization.expires_at = authorization::expiry(now, Some(lifetime))?;
    insert(store, prepared, source, now).await
}

async fn insert(
    store: &dyn Store,
    prepared: Prepared,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Issued, Error> {
    let event = prepared.event(source, now);
    let authorization = store
        .insert_authorization_with_refresh(&prepared.authorization, prepared.refresh_row(), &event)
        .await?;
    Ok(finish(prepared, authorization, now))
}

/// What the token endpoint was sent for the refresh grant. No `Debug`: secrets.
#[derive(Default)]
pub struct RefreshRequest {
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub refresh_token: String,
}

/// Counts a wrong (or missing) client secret as a failed app sign-in from `origin`, as the
/// code exchange does: `incorrect_client_credentials`, or the API's refusal once the
/// address has used up its attempts.
async fn refuse_credentials(
    store: &dyn Store,
    origin: Origin,
    now: OffsetDateTime,
) -> Result<Result<Issued, FlowError>, Error> {
    match limits::app_sign_in_failed(store, origin, now).await? {
        Error::BadCredentials => Ok(Err(FlowError::IncorrectClientCredentials)),
        refused => Err(refused),
    }
}

/// `POST /login/oauth/access_token` with `grant_type=refresh_token`: a new access token and a
/// new refresh token for the authorization the refresh token belongs to; the old pair stops
/// working in the same transaction. An unknown, used, expired or other app's refresh token is
/// `bad_refresh_token` and writes nothing.
pub async fn refresh(
    store: &dyn Store,
    request: RefreshRequest,
    origin: Origin,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Result<Issued, FlowError>, Error> {
    let app = match app::find(store, &request.client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Ok(Err(FlowError::IncorrectClientCredentials)),
        Err(other) => return Err(other),
    };
    let secret_sent = match &request.client_secret {
        Some(secret) if app.client_secrets.matches(secret) => true,
        Some(_) => return refuse_credentials(store, origin, now).await,
        None => false,
    };
    let Some(refresh_token) = RefreshToken::parse(&request.refresh_token) else {
        return Ok(Err(FlowError::BadRefreshToken));
    };
    let old = refresh_token.hash();
    // A read first: a wrong, used or expired refresh token costs no write at all.
    let Some(stored) = store.find_refresh_token(&old, app.id).await? else {
        return Ok(Err(FlowError::BadRefreshToken));
    };
    // A suspended user's refresh token answers as a dead one (GitHub's `bad_refresh_token`),
    // rather than trading itself for a new token that would not work either.
    if stored.expires_at <= now || stored.user_suspended {
        return Ok(Err(FlowError::BadRefreshToken));
    }
    // GitHub: the client secret is required unless the token came from the device flow.
    if !secret_sent && stored.flow != Flow::Device {
        return refuse_credentials(store, origin, now).await;
    }
    let token = PlainToken::generate(app.kind.token_kind())?;
    // The app's lifetime as it is now: an app that stopped expiring its user tokens gets a
    // token that lives on, without a refresh token.
    let expires_at = authorization::expiry(now, app.user_token_ttl)?;
    let refresh = new_refresh(expires_at, stored.flow, now)?;
    let replacement = Refreshed {
        token_hash: token.hash(),
        token_last_eight: token.last_eight(),
        expires_at,
        refresh: refresh.as_ref().map(|(_, stored)| stored.clone()),
    };
    // Deletes the old refresh token only if it is still there and live: a racing refresh
    // that took it first leaves this one with `None`.
    // The user the refreshed token belongs to is named by the store (only its id is known).
    // The app refreshes with its credentials: no actor. The token's owner is read by the
    // store in the refresh's transaction (the refresh token names only the authorization).
    let event = NewEvent::by_server(Action::OauthAccessRegenerate, None, source, now)
        .app(Some(&*app))
        .with_token(
            Some(stored.authorization_id),
            Some(&replacement.token_hash),
            TokenType::of(Some(app.kind)),
        )
        .with("refresh", true);
    let Some(authorization) = store
        .refresh_authorization(&old, app.id, &replacement, now, &event)
        .await?
    else {
        return Ok(Err(FlowError::BadRefreshToken));
    };
    Ok(Ok(Issued {
        token,
        authorization,
        expires_in: seconds_until(expires_at, now),
        refresh: refresh.map(|(token, _)| IssuedRefresh {
            token,
            expires_in: REFRESH_TOKEN_TTL.whole_seconds(),
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_live_githubs_six_months() {
        assert_eq!(REFRESH_TOKEN_TTL.whole_seconds(), 15_897_600);
    }

    #[test]
    fn only_an_expiring_token_gets_a_refresh_token() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(new_refresh(None, Flow::Web, now).unwrap().is_none());
        let (token, stored) = new_refresh(Some(now + Duration::hours(8)), Flow::Device, now)
            .unwrap()
            .unwrap();
        assert_eq!(stored.hash, token.hash());
        assert_eq!(stored.flow, Flow::Device);
        assert_eq!(stored.expires_at, now + REFRESH_TOKEN_TTL);
    }

    #[test]
    fn flows_are_stored_by_name_and_unknown_names_need_the_secret() {
        for flow in [Flow::Web, Flow::Device] {
            assert_eq!(Flow::from_stored(flow.as_str()), flow);
        }
        assert_eq!(Flow::from_stored("other"), Flow::Web);
    }
}
