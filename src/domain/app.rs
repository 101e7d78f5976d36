//! OAuth apps and GitHub Apps: the clients that tokens are issued to, identified by a public
//! client id and authenticated by a client secret stored only as a SHA-256 digest.

use super::audit::{Action, NewEvent, Party, Source};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::app_token::TokenRecord;
use super::limits::{self, Origin};
use super::secret::{ClientSecret, MAX_LIVE_SECRETS, SecretDigest, SecretDigests};
use super::token::{TokenHash, TokenKind};
use super::user::User;
use super::{AppId, ClientId, Error, FieldError, Login, UserId, error::ErrorCode};
use crate::domain::store::{self, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// A classic OAuth app: user tokens start `gho_`.
    OAuth,
    /// A GitHub App acting for a user: user-to-server tokens start `ghu_`.
    GitHub,
}

impl AppKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OAuth => "oauth",
            Self::GitHub => "github",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "oauth" => Some(Self::OAuth),
            "github" => Some(Self::GitHub),
            _ => None,
        }
    }

    pub const fn token_kind(self) -> TokenKind {
        match self {
            Self::OAuth => TokenKind::OAuthApp,
            Self::GitHub => TokenKind::GitHubApp,
        }
    }

    /// A new client id in GitHub's form for this kind of app: 20 lowercase hex characters
    /// for OAuth apps, `Iv1.` + 16 hex for GitHub Apps.
    pub fn generate_client_id(self) -> Result<ClientId, getrandom::Error> {
        let mut bytes = [0u8; 10];
        super::random::fill(&mut bytes)?;
        let text = match self {
            Self::OAuth => hex::encode(bytes),
            Self::GitHub => format!("Iv1.{}", hex::encode(&bytes[..8])),
        };
        // Hex digits and a dot are always a valid client id.
        Ok(ClientId(text))
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: AppId,
    pub kind: AppKind,
    pub name: String,
    pub url: String,
    /// The authorization callback URL of the web application flow (`None`: the app cannot
    /// use the flow until one is registered).
    pub callback_url: Option<String>,
    /// Whether the app may use the device flow (GitHub's "Enable Device Flow", off by default).
    pub device_flow: bool,
    pub owner_id: UserId,
    pub owner_login: Login,
    pub client_id: ClientId,
    /// Its live client secrets (one or two; none once the owner deleted them all).
    pub client_secrets: SecretDigests,
    /// Set when the app's user tokens expire (GitHub Apps with "expire user authorization
    /// tokens"): how long each lives.
    pub user_token_ttl: Option<Duration>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a token's JSON shows of its app, and all the authorization code needs of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSummary {
    pub id: AppId,
    pub kind: AppKind,
    pub name: String,
    pub url: String,
    pub client_id: ClientId,
    /// How long the app's user tokens live, when they expire.
    pub token_ttl: Option<Duration>,
}

impl App {
    pub fn summary(&self) -> AppSummary {
        AppSummary {
            id: self.id,
            kind: self.kind,
            name: self.name.clone(),
            url: self.url.clone(),
            client_id: self.client_id.clone(),
            token_ttl: self.user_token_ttl,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub kind: AppKind,
    pub name: String,
    pub url: String,
    pub callback_url: Option<String>,
    pub device_flow: bool,
    pub owner_id: UserId,
    pub client_id: ClientId,
    pub client_secret_digest: SecretDigest,
    /// The secret's hint ([`ClientSecret::last_eight`]).
    pub client_secret_last_eight: String,
    pub user_token_ttl: Option<Duration>,
    pub now: OffsetDateTime,
}

/// A client secret's id among an app's secrets (the settings page deletes by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientSecretId(pub i64);

/// What the developer settings page shows of a client secret: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClientSecret {
    pub id: ClientSecretId,
    /// GitHub's hint; `None` for a secret made before grantd kept hints.
    pub last_eight: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// The fields a person supplies to register an app (CLI `app add`, fixture files).
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub kind: AppKind,
    pub name: String,
    pub url: String,
    pub callback_url: Option<String>,
    pub device_flow: bool,
    pub owner: String,
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    /// `Some` makes the app's user tokens expire after that long (GitHub Apps only).
    pub user_token_ttl: Option<Duration>,
}

/// GitHub's lifetime for expiring user tokens of GitHub Apps.
pub const DEFAULT_USER_TOKEN_TTL: Duration = Duration::hours(8);

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::invalid(FieldError {
        resource: "App",
        ..FieldError::custom(field, message)
    })
}

/// Longest app URL.
const MAX_URL: usize = 2_048;

/// Checks name, URL and client id, generating the client id and secret that were not given.
pub fn prepare(spec: &AppSpec) -> Result<(ClientId, ClientSecret), Error> {
    if spec.name.trim().is_empty() {
        return Err(invalid("name", "the app name must not be empty"));
    }
    if !super::uri::is_web_url(&spec.url) {
        return Err(invalid(
            "url",
            format!(
                "the app URL {:?} must be an absolute http:// or https:// URL",
                spec.url
            ),
        ));
    }
    // As long as a `note_url` may be: both come back in every answer about the app's tokens.
    if spec.url.chars().count() > MAX_URL {
        return Err(invalid(
            "url",
            format!("the app URL is too long (maximum is {MAX_URL} characters)"),
        ));
    }
    if let Some(callback) = &spec.callback_url {
        if !super::uri::is_web_url(callback) {
            return Err(invalid(
                "callback_url",
                format!(
                    "the callback URL {callback:?} must be an absolute http:// or https:// URL"
                ),
            ));
        }
        if callback.chars().count() > MAX_URL {
            return Err(invalid(
                "callback_url",
                format!("the callback URL is too long (maximum is {MAX_URL} characters)"),
            ));
        }
    }
    let client_id = match &spec.client_id {
        Some(text) => ClientId::parse(text).ok_or_else(|| {
            invalid(
                "client_id",
                format!(
                    "client id {text:?} must be 1-100 printable characters without spaces or '/'"
                ),
            )
        })?,
        None => spec.kind.generate_client_id()?,
    };
    if spec.user_token_ttl.is_some() && spec.kind != AppKind::GitHub {
        return Err(invalid(
            "expire_user_tokens",
            "only GitHub Apps (kind \"github\") can have expiring user tokens",
        ));
    }
    if spec.user_token_ttl.is_some_and(|ttl| ttl <= Duration::ZERO) {
        return Err(invalid(
            "user_token_ttl",
            "the user token lifetime must be positive",
        ));
    }
    if client_id.as_str() == ClientId::PERSONAL {
        return Err(invalid(
            "client_id",
            "client id 00000000000000000000 is reserved for personal access tokens",
        ));
    }
    let secret = match &spec.client_secret {
        Some(secret) if secret.expose().is_empty() => {
            return Err(invalid(
                "client_secret",
                "the client secret must not be empty",
            ));
        }
        Some(secret) => secret.clone(),
        None => ClientSecret::generate()?,
    };
    Ok((client_id, secret))
}

/// Registers an app. Returns it with its client secret in clear, which is shown this once.
pub async fn register(
    store: &dyn Store,
    spec: AppSpec,
    actor: Option<&User>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(App, ClientSecret), Error> {
    let (client_id, secret) = prepare(&spec)?;
    let owner = Login::parse(&spec.owner)
        .ok_or_else(|| invalid("owner", format!("no user named {:?}", spec.owner)))?;
    let owner = store
        .find_user_by_login(&owner)
        .await?
        .ok_or_else(|| invalid("owner", format!("no user named {:?}", spec.owner)))?;
    let new = NewApp {
        kind: spec.kind,
        name: spec.name,
        url: spec.url,
        callback_url: spec.callback_url,
        device_flow: spec.device_flow,
        owner_id: owner.id,
        client_id,
        client_secret_digest: secret.digest(),
        client_secret_last_eight: secret.last_eight(),
        user_token_ttl: spec.user_token_ttl,
        now,
    };
    // `actor` is `None` for `grantd app add`; the app itself is named by the store once it
    // has an id.
    let event = NewEvent::by_server(Action::OauthApplicationCreate, Some(&owner), source, now);
    let event = NewEvent {
        actor: actor.map(Party::from),
        ..event
    };
    let app = store.insert_app(&new, &event).await.map_err(|e| match e {
        store::Error::Conflict(store::Constraint::ClientId) => Error::invalid(FieldError {
            resource: "App",
            ..FieldError::new("client_id", ErrorCode::AlreadyExists)
        }),
        other => other.into(),
    })?;
    Ok((app, secret))
}

/// Replaces an app's secrets with a new random one; the old ones stop working at once
/// (`grantd app rotate-secret`: an operator's reset, not a rotation).
pub async fn rotate_secret(
    store: &dyn Store,
    client_id: &str,
    actor: Option<&User>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(Arc<App>, ClientSecret), Error> {
    let app = find(store, client_id).await?;
    let secret = ClientSecret::generate()?;
    let event = app_event(
        Action::OauthApplicationResetSecret,
        &app,
        actor,
        source,
        now,
    );
    if !store
        .update_app_secret(app.id, &secret.digest(), &secret.last_eight(), now, &event)
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok((find(store, client_id).await?, secret))
}

/// Finds an app by client id or answers [`Error::NotFound`].
pub async fn find(store: &dyn Store, client_id: &str) -> Result<Arc<App>, Error> {
    let client_id = ClientId::parse(client_id).ok_or(Error::NotFound)?;
    store
        .find_app_by_client_id(&client_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Resolves a list's `client_id` filter: `Some(None)` lists everything, `Some(Some(id))` only
/// that app's entries, and `None` means the client id names no app, so the list is empty
/// (a filter that matches nothing, not an error).
pub async fn resolve_filter(
    store: &dyn Store,
    client_id: Option<&str>,
) -> Result<Option<Option<AppId>>, Error> {
    let Some(client_id) = client_id else {
        return Ok(Some(None));
    };
    match find(store, client_id).await {
        Ok(app) => Ok(Some(Some(app.id))),
        Err(Error::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

/// [`authenticate`], with a wrong secret counted against the address it came from (see
/// [`limits::app_sign_in_failed`]): a right secret is never refused, whatever others sent.
pub async fn sign_in(
    store: &dyn Store,
    client_id: &str,
    secret: &ClientSecret,
    origin: Origin,
    now: OffsetDateTime,
) -> Result<Arc<App>, Error> {
    match authenticate(store, client_id, secret).await {
        Err(Error::BadCredentials) => Err(limits::app_sign_in_failed(store, origin, now).await?),
        outcome => outcome,
    }
}

/// Checks an app's Basic credentials (`client_id:client_secret`). An unknown client id and a
/// wrong secret are the same [`Error::BadCredentials`], and both compare a digest, so neither
/// the answer nor its timing tells whether the client id exists.
pub async fn authenticate(
    store: &dyn Store,
    client_id: &str,
    secret: &ClientSecret,
) -> Result<Arc<App>, Error> {
    let app = match find(store, client_id).await {
        Ok(app) => Some(app),
        Err(Error::NotFound) => None,
        Err(other) => return Err(other),
    };
    verify(app, secret)
}

/// The app if `secret` is its secret; [`Error::BadCredentials`] otherwise, and for no app.
fn verify(app: Option<Arc<App>>, secret: &ClientSecret) -> Result<Arc<App>, Error> {
    let digests = app
        .as_ref()
        .map_or(SecretDigests::new([SecretDigest([0; 32])]), |a| {
            a.client_secrets
        });
    let matches = digests.matches(secret);
    match app {
        Some(app) if matches => Ok(app),
        _ => Err(Error::BadCredentials),
    }
}

/// [`sign_in`], fetching the token with hash `token` in the same round trip (a token check's
/// two lookups): the token is the stored one whatever app it belongs to, for the caller to
/// judge; nothing of it is used if the credentials are wrong.
pub async fn sign_in_with_token(
    store: &dyn Store,
    client_id: &str,
    secret: &ClientSecret,
    token: &TokenHash,
    origin: Origin,
    now: OffsetDateTime,
) -> Result<(Arc<App>, Option<Arc<TokenRecord>>), Error> {
    let (app, record) = match ClientId::parse(client_id) {
        Some(client_id) => store.find_app_and_token(&client_id, token).await?,
        None => (None, None),
    };
    match verify(app, secret) {
        Ok(app) => Ok((app, record)),
        Err(_) => Err(limits::app_sign_in_failed(store, origin, now).await?),
    }
}

/// The apps `owner` registered (the developer settings page), oldest first.
pub async fn list_owned(store: &dyn Store, owner: UserId) -> Result<Vec<App>, Error> {
    let mut apps = store.list_apps().await?;
    apps.retain(|app| app.owner_id == owner);
    Ok(apps)
}

/// One of `owner`'s apps; anyone else's is [`Error::NotFound`], as an unknown one is.
pub async fn find_owned(
    store: &dyn Store,
    owner: UserId,
    client_id: &str,
) -> Result<Arc<App>, Error> {
    match find(store, client_id).await? {
        app if app.owner_id == owner => Ok(app),
        _ => Err(Error::NotFound),
    }
}

/// "Generate a new client secret" of one of `owner`'s apps: a second live secret beside the
/// one there is, so the app can move to it without downtime and the owner then deletes the
/// old one. A third is refused: GitHub keeps at most two live.
pub async fn add_owned_secret(
    store: &dyn Store,
    owner: &User,
    client_id: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(Arc<App>, ClientSecret), Error> {
    let app = find_owned(store, owner.id, client_id).await?;
    let secret = ClientSecret::generate()?;
    let event = app_event(
        Action::OauthApplicationGenerateClientSecret,
        &app,
        Some(owner),
        source,
        now,
    );
    let added = store
        .insert_app_secret(
            app.id,
            &secret.digest(),
            &secret.last_eight(),
            MAX_LIVE_SECRETS,
            now,
            &event,
        )
        .await?;
    if added.is_none() {
        return Err(invalid(
            "client_secret",
            "You can have at most two client secrets. Delete one before generating a new one.",
        ));
    }
    Ok((app, secret))
}

/// The client secrets of one of `owner`'s apps, oldest first (the settings page).
pub async fn list_owned_secrets(
    store: &dyn Store,
    owner: UserId,
    client_id: &str,
) -> Result<Vec<StoredClientSecret>, Error> {
    let app = find_owned(store, owner, client_id).await?;
    Ok(store.list_app_secrets(app.id).await?)
}

/// Deletes a client secret of one of `owner`'s apps: it stops working at once. Another app's
/// secret, or an unknown one, is [`Error::NotFound`].
pub async fn delete_owned_secret(
    store: &dyn Store,
    owner: &User,
    client_id: &str,
    secret: ClientSecretId,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let app = find_owned(store, owner.id, client_id).await?;
    let event = app_event(
        Action::OauthApplicationRemoveClientSecret,
        &app,
        Some(owner),
        source,
        now,
    );
    if store.delete_app_secret(app.id, secret, &event).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// Deletes one of `owner`'s apps with every grant and token of it (as `grantd app remove`).
pub async fn delete_owned(
    store: &dyn Store,
    owner: &User,
    client_id: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let app = find_owned(store, owner.id, client_id).await?;
    delete_app(store, &app, Some(owner), source, now).await
}

/// `grantd app remove`: deletes the app, whoever owns it.
pub async fn delete_by_operator(
    store: &dyn Store,
    client_id: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let app = find(store, client_id).await?;
    delete_app(store, &app, None, source, now).await
}

pub(super) async fn delete_app(
    store: &dyn Store,
    app: &App,
    actor: Option<&User>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let event = app_event(Action::OauthApplicationDestroy, app, actor, source, now);
    if store.delete_app(app.id, &event).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// An event about `app` by `actor` (`None`: a command on the server); the user it is about is
/// the app's owner.
fn app_event(
    action: Action,
    app: &App,
    actor: Option<&User>,
    source: &Source,
    now: OffsetDateTime,
) -> NewEvent {
    NewEvent {
        actor: actor.map(Party::from),
        user: Some(Party {
            id: app.owner_id,
            login: Some(app.owner_login.clone()),
        }),
        ..NewEvent::by_server(action, None, source, now).app(Some(app))
    }
}
