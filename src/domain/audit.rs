//! The audit log: what happened to tokens, grants, apps, two-factor authentication, passwords
//! and suspensions, and every sign-in, with GitHub's action names.
//!
//! An event is written by the store in the same transaction as the change it records (each
//! changing store method takes the [`NewEvent`] to write), so a change never happens
//! unrecorded and an event never exists without its change. This module builds events and
//! reads them back: the `phrase` search of GitHub's audit log API, cursors, and the pages.
//! It never holds a token, secret or password: a token is named by its authorization id and
//! the SHA-256 GitHub calls `hashed_token`.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use serde_json::{Map, Value};
use time::{Date, OffsetDateTime};

use super::app::{App, AppKind, AppSummary};
use super::authorization::Authorization;
use super::error::{ErrorCode, FieldError};
use super::scope::Scopes;
use super::store::Store;
use super::token::TokenHash;
use super::user::User;
use super::{AppId, Error, Login, UserId};

/// GitHub's audit log action names that grantd writes (category `.` operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Signed in on the sign-in page (password, and the two-factor code if enabled).
    UserLogin,
    /// A sign-in on the sign-in page with a wrong password or two-factor code.
    UserFailedLogin,
    /// An account made: `POST /admin/users` (the admin is the actor), `grantd user add`.
    UserCreate,
    /// An account deleted: `DELETE /admin/users/{username}`, `grantd user delete`.
    UserDelete,
    UserChangePassword,
    UserSuspend,
    UserUnsuspend,
    /// The Authorizations API created an authorization (`POST /authorizations`, `PUT
    /// /authorizations/clients/…` when it creates one).
    OauthAuthorizationCreate,
    /// An authorization's scopes, note or fingerprint changed (`PATCH /authorizations/{id}`).
    OauthAuthorizationUpdate,
    /// An authorization deleted through the Authorizations API, or a grant revoked (every
    /// token of an app for the user).
    OauthAuthorizationDestroy,
    /// A token issued: a personal access token, a web or device flow token.
    OauthAccessCreate,
    /// A token's value replaced: app token reset, personal access token regenerated, refresh.
    OauthAccessRegenerate,
    /// A token deleted (`DELETE /applications/{client_id}/token`, a personal access token).
    OauthAccessDestroy,
    TwoFactorAuthenticationEnabled,
    TwoFactorAuthenticationDisabled,
    TwoFactorAuthenticationRecoveryCodesRegenerated,
    OauthApplicationCreate,
    OauthApplicationResetSecret,
    /// A second client secret generated on the developer settings page.
    OauthApplicationGenerateClientSecret,
    /// A client secret deleted on the developer settings page.
    OauthApplicationRemoveClientSecret,
    OauthApplicationDestroy,
}

impl Action {
    pub const ALL: &'static [Self] = &[
        Self::UserLogin,
        Self::UserFailedLogin,
        Self::UserCreate,
        Self::UserDelete,
        Self::UserChangePassword,
        Self::UserSuspend,
        Self::UserUnsuspend,
        Self::OauthAuthorizationCreate,
        Self::OauthAuthorizationUpdate,
        Self::OauthAuthorizationDestroy,
        Self::OauthAccessCreate,
        Self::OauthAccessRegenerate,
        Self::OauthAccessDestroy,
        Self::TwoFactorAuthenticationEnabled,
        Self::TwoFactorAuthenticationDisabled,
        Self::TwoFactorAuthenticationRecoveryCodesRegenerated,
        Self::OauthApplicationCreate,
        Self::OauthApplicationResetSecret,
        Self::OauthApplicationGenerateClientSecret,
        Self::OauthApplicationRemoveClientSecret,
        Self::OauthApplicationDestroy,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserLogin => "user.login",
            Self::UserFailedLogin => "user.failed_login",
            Self::UserCreate => "user.create",
            Self::UserDelete => "user.delete",
            Self::UserChangePassword => "user.change_password",
            Self::UserSuspend => "user.suspend",
            Self::UserUnsuspend => "user.unsuspend",
            Self::OauthAuthorizationCreate => "oauth_authorization.create",
            Self::OauthAuthorizationUpdate => "oauth_authorization.update",
            Self::OauthAuthorizationDestroy => "oauth_authorization.destroy",
            Self::OauthAccessCreate => "oauth_access.create",
            Self::OauthAccessRegenerate => "oauth_access.regenerate",
            Self::OauthAccessDestroy => "oauth_access.destroy",
            Self::TwoFactorAuthenticationEnabled => "two_factor_authentication.enabled",
            Self::TwoFactorAuthenticationDisabled => "two_factor_authentication.disabled",
            Self::TwoFactorAuthenticationRecoveryCodesRegenerated => {
                "two_factor_authentication.recovery_codes_regenerated"
            }
            Self::OauthApplicationCreate => "oauth_application.create",
            Self::OauthApplicationResetSecret => "oauth_application.reset_secret",
            Self::OauthApplicationGenerateClientSecret => {
                "oauth_application.generate_client_secret"
            }
            Self::OauthApplicationRemoveClientSecret => "oauth_application.remove_client_secret",
            Self::OauthApplicationDestroy => "oauth_application.destroy",
        }
    }

    /// GitHub's `operation_type` of the action.
    pub fn operation_type(name: &str) -> &'static str {
        let operation = name.rsplit('.').next().unwrap_or_default();
        match operation {
            "create" | "enabled" => "create",
            "destroy" | "delete" | "disabled" => "remove",
            "login" | "failed_login" => "authentication",
            _ => "modify",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request came from: its peer address and `User-Agent` (cut to
/// [`Source::MAX_USER_AGENT`] bytes). Both `None` for a `grantd` command on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Source {
    /// A client may send any `User-Agent`; the log keeps this much of it.
    pub const MAX_USER_AGENT: usize = 512;

    pub fn new(address: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.filter(|agent| !agent.is_empty()).map(|agent| {
            let mut end = agent.len().min(Self::MAX_USER_AGENT);
            while !agent.is_char_boundary(end) {
                end -= 1;
            }
            agent[..end].to_owned()
        });
        Self {
            address,
            user_agent,
        }
    }

    /// A `grantd` command run on the server: no address, no agent.
    pub fn command_line() -> Self {
        Self::default()
    }
}

/// The account an event names (actor or subject), copied in so it outlives the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName {
    pub id: UserId,
    pub login: Login,
}

impl From<&User> for AccountName {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            login: user.login.clone(),
        }
    }
}

/// An account a new event names: its login when the caller has it at hand, otherwise the
/// store copies it from the account's row in the event's transaction (a token exchange knows
/// only the user's id, and reading the user first would cost it a round trip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub id: UserId,
    pub login: Option<Login>,
}

impl Party {
    pub fn id(id: UserId) -> Self {
        Self { id, login: None }
    }
}

impl From<&User> for Party {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            login: Some(user.login.clone()),
        }
    }
}

/// The app an event names, copied in so it outlives the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName {
    pub id: AppId,
    pub name: String,
    pub client_id: String,
}

impl From<&App> for AppName {
    fn from(app: &App) -> Self {
        Self {
            id: app.id,
            name: app.name.clone(),
            client_id: app.client_id.as_str().to_owned(),
        }
    }
}

impl From<&AppSummary> for AppName {
    fn from(app: &AppSummary) -> Self {
        Self {
            id: app.id,
            name: app.name.clone(),
            client_id: app.client_id.as_str().to_owned(),
        }
    }
}

/// An event about to be written with a change. The store completes `data` with what only the
/// transaction knows (a new token's `token_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub action: Action,
    pub created_at: OffsetDateTime,
    /// `None`: a `grantd` command on the server, an app acting with its client credentials,
    /// or a sign-in under a name nobody has.
    pub actor: Option<Party>,
    pub user: Option<Party>,
    pub app: Option<AppName>,
    pub source: Source,
    /// Small, and never a secret: see [`NewEvent::with_token`].
    pub data: Map<String, Value>,
}

/// What kind of token an event is about, in the words of GitHub's `programmatic_access_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    PersonalClassic,
    OAuthApp,
    GitHubApp,
}

impl TokenType {
    /// The type of a token of an app of this kind (`None`: a personal access token).
    pub const fn of(app: Option<AppKind>) -> Self {
        match app {
            None => Self::PersonalClassic,
            Some(AppKind::OAuth) => Self::OAuthApp,
            Some(AppKind::GitHub) => Self::GitHubApp,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PersonalClassic => "Personal access token (classic)",
            Self::OAuthApp => "OAuth access token",
            Self::GitHubApp => "GitHub App user-to-server token",
        }
    }
}

impl NewEvent {
    /// An event by `actor` about `actor` themself, from `source`.
    pub fn by(action: Action, actor: &User, source: &Source, now: OffsetDateTime) -> Self {
        Self {
            action,
            created_at: super::whole_seconds(now),
            actor: Some(actor.into()),
            user: Some(actor.into()),
            app: None,
            source: source.clone(),
            data: Map::new(),
        }
    }

    /// An event without an actor (a `grantd` command) about `user`.
    pub fn by_server(
        action: Action,
        user: Option<&User>,
        source: &Source,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            action,
            created_at: super::whole_seconds(now),
            actor: None,
            user: user.map(Party::from),
            app: None,
            source: source.clone(),
            data: Map::new(),
        }
    }

    /// The event is about `user` (when the actor is someone else: an admin, a command).
    #[must_use]
    pub fn about(mut self, user: &User) -> Self {
        self.user = Some(user.into());
        self
    }

    #[must_use]
    pub fn app(mut self, app: Option<&App>) -> Self {
        self.app = app.map(AppName::from);
        self
    }

    /// Names a token about to exist or existing (its app, hash and scopes; its id once it
    /// has one: the store adds a new token's).
    #[must_use]
    pub fn token(
        mut self,
        id: Option<super::AuthorizationId>,
        hash: &TokenHash,
        app: Option<&AppSummary>,
        scopes: &Scopes,
    ) -> Self {
        self.app = app.map(AppName::from);
        let kind = TokenType::of(app.map(|a| a.kind));
        self.with_token(id, Some(hash), kind)
            .with("token_scopes", scopes.as_slice().join(","))
    }

    /// [`token`](Self::token) of a stored authorization.
    #[must_use]
    pub fn authorization(self, authorization: &Authorization) -> Self {
        self.token(
            Some(authorization.id),
            &authorization.token_hash,
            authorization.app.as_ref(),
            &authorization.scopes,
        )
    }

    /// Names a token: its id (when known; the store adds a new token's), GitHub's
    /// `hashed_token` (base64 of its SHA-256) and its kind. Never the token.
    #[must_use]
    pub fn with_token(
        mut self,
        id: Option<super::AuthorizationId>,
        hash: Option<&TokenHash>,
        kind: TokenType,
    ) -> Self {
        if let Some(id) = id {
            self.data.insert("token_id".into(), Value::from(id.0));
        }
        if let Some(hash) = hash {
            self.data.insert(
                "hashed_token".into(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(hash.0)),
            );
        }
        self.data.insert(
            "programmatic_access_type".into(),
            Value::from(kind.as_str()),
        );
        self
    }

    /// Adds one detail (`scopes`, `reason`, `note`…).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Increasing in the order events were written; cursors are made of it.
    pub id: i64,
    pub action: String,
    pub created_at: OffsetDateTime,
    pub actor: Option<AccountName>,
    pub user: Option<AccountName>,
    pub app: Option<AppName>,
    pub source: Source,
    pub data: Map<String, Value>,
}

/// Which events a search keeps (every field `None`: all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `action:`: a whole name (`oauth_access.create`), or a category (`oauth_access`) that
    /// keeps each of its actions.
    pub action: Option<String>,
    /// `actor:` (compared without case).
    pub actor: Option<Login>,
    /// `user:` (compared without case).
    pub user: Option<Login>,
    /// `created:`: from this time on (inclusive).
    pub created_from: Option<OffsetDateTime>,
    /// `created:`: before this time (exclusive).
    pub created_until: Option<OffsetDateTime>,
    /// Only the events about this user or by them (a security log).
    pub involving: Option<UserId>,
}

impl Filter {
    /// Whether an action name passes the `action:` qualifier (what the store's SQL does).
    pub fn action_matches(&self, action: &str) -> bool {
        match &self.action {
            None => true,
            Some(wanted) if wanted.contains('.') => action == wanted,
            Some(category) => action
                .strip_prefix(category.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
        }
    }
}

/// Newest first (GitHub's default) or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// One read of the log: the filter, where to start, which way and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub filter: Filter,
    /// Events strictly after this id (in `order`); with `before` unset.
    pub after: Option<i64>,
    /// Events strictly before this id (in `order`).
    pub before: Option<i64>,
    pub order: Order,
    /// At most this many (1..=100 from the API).
    pub limit: u32,
}

/// The longest `phrase` accepted: a search of every qualifier fits in far less.
pub const MAX_PHRASE: usize = 512;

/// A 422 of the audit log API.
fn invalid_phrase(message: &str) -> Error {
    Error::invalid(FieldError {
        resource: "AuditLog",
        field: "phrase".into(),
        code: ErrorCode::Custom,
        message: Some(message.to_owned()),
    })
}

/// Parses GitHub's audit log search phrase: space-separated `action:`, `actor:`, `user:` and
/// `created:` qualifiers (`created:>=2026-01-01`, `>`, `<`, `<=`, a day, or `A..B`). Anything
/// else, a qualifier given twice or a bad date is a 422, not a silently wider search.
pub fn parse_phrase(phrase: &str) -> Result<Filter, Error> {
    if phrase.len() > MAX_PHRASE {
        return Err(invalid_phrase("The search phrase is too long."));
    }
    let mut filter = Filter::default();
    for term in phrase.split_whitespace() {
        let Some((key, value)) = term.split_once(':') else {
            return Err(invalid_phrase(&format!(
                "Unsupported search term {term:?}: use action:, actor:, user: or created:."
            )));
        };
        let twice = || invalid_phrase(&format!("The qualifier {key}: is given twice."));
        match key {
            "action" => {
                let valid = !value.is_empty()
                    && value.len() <= 100
                    && value.bytes().all(|b| {
                        b.is_ascii_lowercase() || b == b'_' || b == b'.' || b.is_ascii_digit()
                    });
                if !valid {
                    return Err(invalid_phrase(&format!("{value:?} is not an action name.")));
                }
                if filter.action.replace(value.to_owned()).is_some() {
                    return Err(twice());
                }
            }
            "actor" | "user" => {
                let login = Login::parse(value)
                    .ok_or_else(|| invalid_phrase(&format!("{value:?} is not a login.")))?;
                let slot = if key == "actor" {
                    &mut filter.actor
                } else {
                    &mut filter.user
                };
                if slot.replace(login).is_some() {
                    return Err(twice());
                }
            }
            "created" => {
                if filter.created_from.is_some() || filter.created_until.is_some() {
                    return Err(twice());
                }
                let (from, until) = parse_created(value).ok_or_else(|| {
                    invalid_phrase(&format!(
                        "{value:?} is not a date range: use created:>=YYYY-MM-DD, <, <=, >, a day or A..B."
                    ))
                })?;
                filter.created_from = from;
                filter.created_until = until;
            }
            _ => {
                return Err(invalid_phrase(&format!(
                    "Unsupported qualifier {key}: use action:, actor:, user: or created:."
                )));
            }
        }
    }
    Ok(filter)
}

type Range = (Option<OffsetDateTime>, Option<OffsetDateTime>);

/// A `created:` value as a half-open UTC range [from, until).
fn parse_created(value: &str) -> Option<Range> {
    let start = |text: &str| day(text).map(|d| d.midnight().assume_utc());
    let end = |text: &str| day(text)?.next_day().map(|d| d.midnight().assume_utc());
    if let Some((a, b)) = value.split_once("..") {
        let from = if a == "*" { None } else { Some(start(a)?) };
        let until = if b == "*" { None } else { Some(end(b)?) };
        return Some((from, until));
    }
    if let Some(rest) = value.strip_prefix(">=") {
        return Some((Some(start(rest)?), None));
    }
    if let Some(rest) = value.strip_prefix("<=") {
        return Some((None, Some(end(rest)?)));
    }
    if let Some(rest) = value.strip_prefix('>') {
        return Some((Some(end(rest)?), None));
    }
    if let Some(rest) = value.strip_prefix('<') {
        return Some((None, Some(start(rest)?)));
    }
    Some((Some(start(value)?), Some(end(value)?)))
}

fn day(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok().filter(|_| text.len() == 10)
}

/// A cursor as the `Link` header carries it: opaque to clients (base64 of the event id).
pub fn cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("e{id}"))
}

/// The event id of a cursor; a 422 for one grantd did not make.
pub fn parse_cursor(text: &str) -> Result<i64, Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix('e').and_then(|id| id.parse::<i64>().ok()))
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Error::invalid(FieldError {
                resource: "AuditLog",
                field: "cursor".into(),
                code: ErrorCode::Invalid,
                message: None,
            })
        })
}

/// A page of events, with whether more lie on either side of it (for `Link`).
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// More events follow the last one, in the page's order.
    pub has_next: bool,
    /// Events precede the first one, in the page's order.
    pub has_prev: bool,
}

/// Reads one page of `query`, in its order, and looks one step beyond each end of it.
pub async fn search(store: &dyn Store, query: &Query) -> Result<EventPage, Error> {
    let mut probe = query.clone();
    probe.limit = query.limit.saturating_add(1);
    let mut events = store.list_audit_events(&probe).await?;
    // `before` reads backwards from its cursor (see the store), so that the page is the
    // `limit` events nearest to it; it comes back in the query's order.
    let more = events.len() > query.limit as usize;
    if more {
        if query.before.is_some() {
            events.remove(0);
        } else {
            events.truncate(query.limit as usize);
        }
    }
    let (has_next, has_prev) = if query.before.is_some() {
        let next = match events.last() {
            Some(last) => exists(store, &query.filter, query.order, Some(last.id), None).await?,
            None => false,
        };
        (next, more)
    } else {
        let prev = match events.first() {
            Some(first) => exists(store, &query.filter, query.order, None, Some(first.id)).await?,
            None => false,
        };
        (more, prev)
    };
    Ok(EventPage {
        events,
        has_next,
        has_prev,
    })
}

async fn exists(
    store: &dyn Store,
    filter: &Filter,
    order: Order,
    after: Option<i64>,
    before: Option<i64>,
) -> Result<bool, Error> {
    let query = Query {
        filter: filter.clone(),
        after,
        before,
        order,
        limit: 1,
    };
    Ok(!store.list_audit_events(&query).await?.is_empty())
}

/// The security log of `user`: the events about them or by them, newest first.
pub async fn security_log(
    store: &dyn Store,
    user: &User,
    after: Option<i64>,
    limit: u32,
) -> Result<EventPage, Error> {
    let query = Query {
        filter: Filter {
            involving: Some(user.id),
            ..Filter::default()
        },
        after,
        before: None,
        order: Order::Desc,
        limit,
    };
    search(store, &query).await
}

/// The whole audit log for a site admin (`/stafftools/audit-log`, the API): anyone else gets
/// [`Error::NotFound`], as GitHub hides its site admin pages.
pub async fn audit_log(store: &dyn Store, admin: &User, query: &Query) -> Result<EventPage, Error> {
    if !admin.site_admin || admin.suspended_at.is_some() {
        return Err(Error::NotFound);
    }
    search(store, query).await
}

/// Records a sign-in failure of `login` (no change goes with it, so it is written alone). The
/// actor is the account of that name if there is one.
pub async fn record_failed_login(
    store: &dyn Store,
    user: Option<&User>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let event = match user {
        Some(user) => NewEvent::by(Action::UserFailedLogin, user, source, now),
        None => NewEvent::by_server(Action::UserFailedLogin, None, source, now),
    };
    store.insert_audit_event(&event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_become_filters() {
        let filter =
            parse_phrase("action:oauth_access actor:Mona user:octocat created:>=2026-03-01")
                .unwrap();
        assert_eq!(filter.action.as_deref(), Some("oauth_access"));
        assert_eq!(filter.actor, Login::parse("mona"));
        assert_eq!(filter.user, Login::parse("octocat"));
        assert_eq!(
            filter.created_from,
            Some(time::macros::datetime!(2026-03-01 0:00 UTC))
        );
        assert_eq!(filter.created_until, None);
        assert_eq!(parse_phrase("").unwrap(), Filter::default());
    }

    #[test]
    fn created_ranges_are_half_open_days() {
        let range = |v: &str| parse_created(v).unwrap();
        let d = |day: u8| {
            Some(
                time::macros::datetime!(2026-03-01 0:00 UTC)
                    .replace_day(day)
                    .unwrap(),
            )
        };
        assert_eq!(range("2026-03-02"), (d(2), d(3)));
        assert_eq!(range("<2026-03-02"), (None, d(2)));
        assert_eq!(range("<=2026-03-02"), (None, d(3)));
        assert_eq!(range(">2026-03-02"), (d(3), None));
        assert_eq!(range("2026-03-02..2026-03-04"), (d(2), d(5)));
        assert_eq!(range("*..2026-03-04"), (None, d(5)));
        assert!(parse_created("2026-3-2").is_none());
        assert!(parse_created("yesterday").is_none());
    }

    #[test]
    fn bad_phrases_are_refused_not_widened() {
        for bad in [
            "oauth_access",
            "repo:octo/repo",
            "action:OAuth",
            "actor:-x",
            "created:2026-13-01",
            "action:a action:b",
            &"action:a ".repeat(200),
        ] {
            assert!(parse_phrase(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_category_matches_its_actions_only() {
        let filter = |a: &str| Filter {
            action: Some(a.to_owned()),
            ..Filter::default()
        };
        assert!(filter("oauth_access").action_matches("oauth_access.create"));
        assert!(!filter("oauth_access").action_matches("oauth_access_x.create"));
        assert!(filter("user.login").action_matches("user.login"));
        assert!(!filter("user.login").action_matches("user.login_x"));
    }

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        assert_eq!(parse_cursor(&cursor(42)).unwrap(), 42);
        assert!(parse_cursor("42").is_err());
        assert!(parse_cursor(&cursor(-1)).is_err());
    }

    #[test]
    fn every_action_is_named_once_and_documented_in_the_security_docs() {
        let doc = include_str!("../../docs/security.md");
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        for name in &names {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "{name} is not in docs/security.md"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        // And the docs list no action grantd does not write.
        let documented = doc
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once("` |"))
            .map(|(name, _)| name)
            .filter(|name| name.contains('.'))
            .count();
        assert_eq!(documented, Action::ALL.len());
    }

    #[test]
    fn user_agents_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let source = Source::new(None, Some(&long));
        let kept = source.user_agent.unwrap();
        assert!(kept.len() <= Source::MAX_USER_AGENT);
        assert!(long.starts_with(&kept));
        assert_eq!(Source::new(None, Some("")).user_agent, None);
    }
}
