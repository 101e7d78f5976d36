//! The store's contracts, as the domain needs them: [`Lookups`] (what a token check reads,
//! which a serving node answers from memory or in batches) and [`Store`] (everything else).
//! `crate::store` implements them for SQLite and PostgreSQL.
//!
//! Rules every implementation keeps:
//! - each method is atomic (one transaction), so a half-done change is never visible;
//! - every read of owned data takes the owner's id, so one user can never reach another's rows;
//! - tokens are stored and looked up only by their SHA-256;
//! - ids come from sequences that never hand out a number twice, even after deletes.
//!
//! New methods go at the end of [`Store`], in one block per change.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::domain::account::{Account, AccountRef, Repository};
use crate::domain::app::{App, AppKind, ClientSecretId, NewApp, StoredClientSecret};
use crate::domain::app_token::TokenRecord;
use crate::domain::audit::NewEvent;
use crate::domain::authorization::{Authorization, AuthorizationChanges, NewAuthorization};
use crate::domain::device_flow::{DeviceState, NewDeviceCode, StoredDeviceCode};
use crate::domain::grant::Grant;
use crate::domain::otp::TotpSecret;
use crate::domain::secret::{PasswordHashString, SecretDigest};
use crate::domain::session::{NewSession, Session, SessionHash};
use crate::domain::token::{RefreshHash, TokenHash};
use crate::domain::user::{NewUser, User};
use crate::domain::user_token::{NewRefreshToken, Refreshed, StoredRefreshToken};
use crate::domain::web_flow::StoredCode;
use crate::domain::{AppId, AuthorizationId, ClientId, GrantId, Login, Page, PageRequest, UserId};

/// A uniqueness rule that a write broke. The domain turns each into GitHub's `already_exists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    Login,
    ClientId,
    TokenHash,
    /// (user, app, fingerprint): one authorization per app and fingerprint for each user.
    AppFingerprint,
    /// (user, note) among personal access tokens.
    PersonalNote,
    /// A user who still owns apps cannot be deleted.
    OwnsApps,
    /// An account or repository id that a fixture fixes is taken by another one.
    AccountId,
    /// A live device-flow code already has this user code.
    UserCode,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("conflict with an existing row ({0:?})")]
    Conflict(Constraint),
    /// The database cannot be reached right now (down, restarting, no free connection in
    /// time). Requests answer 503; the pool reconnects by itself when it returns.
    ///
    /// (The cause is in the message and not also a `source`, so that an error chain printed
    /// whole does not say it twice.)
    #[error("database unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// The database is corrupt, refused the query, or failed otherwise. Logged, never sent.
    #[error("database error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a token check looks up: the app its client id names, and the token with the sent hash
/// whichever app that token belongs to; the token is `None` when the app is.
pub type AppAndToken = (Option<Arc<App>>, Option<Arc<TokenRecord>>);

/// Computes an authorization's new fields from its current ones, inside the update's transaction.
pub type AuthorizationEdit<'a> = &'a (dyn Fn(&Authorization) -> AuthorizationChanges + Send + Sync);

/// What a token check reads: the app a client id names and the token a hash names. A serving
/// node answers these from memory (SQLite's token index) or in batches (PostgreSQL), always as
/// fresh as a query of their own; see `crate::store`'s `cache.rs` and `coalesce.rs`.
#[async_trait]
pub trait Lookups: Send + Sync {
    /// The app with this client id. Shared, not copied: a serving node hands out the app its
    /// token index keeps.
    async fn find_app_by_client_id(&self, client_id: &ClientId) -> Result<Option<Arc<App>>>;
    /// The authorization whose token has this hash, with its user; expired ones included
    /// (the domain decides what expiry means). Shared, not copied: a serving node hands out
    /// the record its token index keeps.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>>;
    /// [`find_app_by_client_id`](Lookups::find_app_by_client_id) and
    /// [`find_token`](Lookups::find_token) at once: a token check needs both, and a database
    /// server answers them in one round trip. The token is `None` when the app is.
    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken>;
}

/// Everything else the domain reads and writes; each method is atomic.
#[async_trait]
pub trait Store: Lookups {
    /// Succeeds when the database answers a trivial query (`/healthz`).
    async fn ping(&self) -> Result<()>;

    // Users.
    /// Inserts the user and writes `event` (`user.create`) in the same transaction, naming
    /// the new account as its user: only the insert knows the account's id.
    async fn insert_user(&self, user: &NewUser, event: &NewEvent) -> Result<User>;
    async fn find_user_by_login(&self, login: &Login) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn update_user_password(
        &self,
        id: UserId,
        hash: &PasswordHashString,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool>;
    /// Turns `user`'s two-factor authentication on with `secret` (sealed as it is written) and
    /// these recovery code hashes, replacing any earlier secret and codes, or off with `None`
    /// (and no codes), in one transaction. False if there is no such user.
    async fn set_two_factor(
        &self,
        user: UserId,
        secret: Option<&TotpSecret>,
        recovery: &[[u8; 32]],
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool>;
    /// Replaces `user`'s recovery codes with these hashes (the old ones stop at once).
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery: &[[u8; 32]],
        event: &NewEvent,
    ) -> Result<()>;
    /// Deletes `user`'s recovery code of this hash; true if it existed (so each works once).
    async fn take_recovery_code(&self, user: UserId, hash: &[u8; 32]) -> Result<bool>;
    /// Records `step` as `user`'s last TOTP step used to sign in, if it is later than the one
    /// recorded; false (nothing written) when it is not, i.e. the code is a replay.
    async fn advance_totp_step(&self, user: UserId, step: i64) -> Result<bool>;
    /// Suspends the user (`Some((when, reason))`) or lifts their suspension (`None`); whether
    /// there is such a user. Their sessions and tokens stop working at once, on every node;
    /// a suspension deletes their sessions (in the same transaction), so lifting it signs
    /// nobody back in.
    async fn set_user_suspension(
        &self,
        id: UserId,
        suspension: Option<(OffsetDateTime, &str)>,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool>;
    /// Refuses with [`Constraint::OwnsApps`] while the user owns apps; removes their
    /// authorizations. Writes `event` (`user.delete`) in the same transaction if the user was there.
    async fn delete_user(&self, id: UserId, event: &NewEvent) -> Result<bool>;

    // Apps.
    async fn insert_app(&self, app: &NewApp, event: &NewEvent) -> Result<App>;
    async fn list_apps(&self) -> Result<Vec<App>>;
    /// Replaces every secret of the app with this one (`grantd app rotate-secret`).
    async fn update_app_secret(
        &self,
        id: AppId,
        digest: &SecretDigest,
        last_eight: &str,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool>;
    /// Removes the app with every grant and authorization of it.
    async fn delete_app(&self, id: AppId, event: &NewEvent) -> Result<bool>;

    // Authorizations.
    /// Inserts the authorization and, for an app, creates its grant if the user has none yet.
    async fn insert_authorization(
        &self,
        new: &NewAuthorization,
        event: &NewEvent,
    ) -> Result<Authorization>;
    /// [`insert_authorization`](Self::insert_authorization) of a flow's token with its refresh
    /// token (when it has one), in one transaction: a token never exists without the refresh
    /// token its answer carries.
    /// A flow's token (`web_flow`) also revokes, in the same transaction, the oldest tokens of
    /// its user, app and scope set beyond GitHub's
    /// [`TOKENS_PER_SCOPE_SET`](crate::domain::web_flow::TOKENS_PER_SCOPE_SET), so that racing
    /// or interrupted issues never leave more live.
    async fn insert_authorization_with_refresh(
        &self,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Authorization>;
    /// Inserts many authorizations in one transaction (`grantd token mint`): all or none, with
    /// `event` (one for the whole batch) in the same transaction.
    async fn insert_authorizations(
        &self,
        news: &[NewAuthorization],
        event: &NewEvent,
    ) -> Result<u64>;
    async fn find_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
    ) -> Result<Option<Authorization>>;
    /// The user's authorization of `app` with exactly this fingerprint (`None`: without one).
    async fn find_app_authorization(
        &self,
        user: UserId,
        app: AppId,
        fingerprint: Option<&str>,
    ) -> Result<Option<Authorization>>;
    /// In id order; `app` keeps only that app's.
    async fn list_authorizations(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Authorization>>;
    /// Reads the row, applies `edit` and writes the result in one transaction. `None` if the
    /// user has no such authorization.
    async fn update_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
        edit: AuthorizationEdit<'_>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>>;
    /// Also deletes the grant if this was its last authorization.
    async fn delete_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
        event: &NewEvent,
    ) -> Result<bool>;

    // Tokens, as the app side and token authentication see them.
    /// Swaps an authorization's token, only if its hash is still `old`: of concurrent resets
    /// one wins and the others get `None`.
    #[allow(clippy::too_many_arguments)]
    async fn replace_token(
        &self,
        id: AuthorizationId,
        old: &TokenHash,
        new: &TokenHash,
        last_eight: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<Authorization>>;
    /// Deletes the authorization of `app` with this token (and its grant if it was the last).
    async fn delete_token(&self, hash: &TokenHash, app: AppId, event: &NewEvent) -> Result<bool>;
    /// Deletes the user's grant for `app` with every authorization under it.
    async fn delete_app_grant(&self, user: UserId, app: AppId, event: &NewEvent) -> Result<bool>;

    // Accounts and repositories.
    async fn find_account(&self, account: &AccountRef) -> Result<Option<Account>>;
    async fn is_org_member(&self, org: UserId, user: UserId) -> Result<bool>;
    /// The organizations `user` is a member of, by login.
    async fn list_organizations(&self, user: UserId) -> Result<Vec<Account>>;
    async fn list_repositories(&self, owner: UserId) -> Result<Vec<Repository>>;

    // Grants.
    async fn find_grant(&self, user: UserId, id: GrantId) -> Result<Option<Grant>>;
    async fn list_grants(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Grant>>;
    /// Deletes the grant and every authorization under it.
    async fn delete_grant(&self, user: UserId, id: GrantId, event: &NewEvent) -> Result<bool>;

    // Counters (rate limits, failed sign-ins).
    /// Adds `by` to the counter, first starting a new window at `now` if the current one
    /// (`window` long) has ended. Atomic: concurrent additions from any node all count.
    async fn add_to_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter>;
    /// The counter's value in its current window (0 once the window has ended).
    async fn read_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter>;

    /// Counts one failed sign-in of `subject` (a [`CounterKind::FailedLogins`] counter) unless
    /// it already holds `limit` in its live window, which is `window` long from the first
    /// failure: then nothing is written and the answer is `None`. One statement, so however
    /// many attempts race on however many nodes, at most `limit` are counted per window.
    async fn take_login_attempt(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        limit: u32,
    ) -> Result<Option<Counter>>;
    /// Gives back an attempt [`take_login_attempt`](Store::take_login_attempt) counted in the
    /// window that starts at `window_start` (its credentials were right after all). Nothing
    /// happens if that window has been replaced meanwhile.
    async fn return_login_attempt(&self, subject: &str, window_start: OffsetDateTime)
    -> Result<()>;
    /// Forgets the failed sign-ins of `subject` (`grantd user unlock`); whether it had any.
    async fn clear_login_failures(&self, subject: &str) -> Result<bool>;
    /// Deletes the counters of `kind` whose window started at or before `started_by`: their
    /// windows have ended, and an ended counter reads as zero, so this changes no count.
    /// Returns how many were deleted.
    async fn prune_counters(&self, kind: CounterKind, started_by: OffsetDateTime) -> Result<u64>;

    // Web sign-in sessions (only their ids' SHA-256 is stored).
    async fn insert_session(&self, session: &NewSession, event: Option<&NewEvent>) -> Result<()>;
    /// The session with this hash and its user, if it has not expired by `now`.
    async fn find_session(
        &self,
        hash: &SessionHash,
        now: OffsetDateTime,
    ) -> Result<Option<Session>>;
    /// Deletes the user's session with this hash; whether there was one.
    async fn delete_session(&self, user: UserId, hash: &SessionHash) -> Result<bool>;
    /// Deletes the sessions expired by `now`; how many.
    /// Deletes every session of `user` but the one with hash `keep` (a password change signs
    /// the user's other browsers out). Returns how many went.
    async fn delete_other_sessions(&self, user: UserId, keep: &SessionHash) -> Result<u64>;
    async fn prune_sessions(&self, now: OffsetDateTime) -> Result<u64>;

    // Authorization codes of the web application flow (only their SHA-256 is stored).
    async fn insert_oauth_code(&self, code: &StoredCode) -> Result<()>;
    /// Deletes the codes expired by `now`; how many.
    async fn prune_oauth_codes(&self, now: OffsetDateTime) -> Result<u64>;

    // Refresh tokens of expiring user tokens (only their SHA-256 is stored). Each belongs to
    // one authorization and goes with it (revoked token, deleted grant, app or user).
    /// The refresh token with this hash of one of `app`'s authorizations, expired or not.
    /// Only reads: a wrong refresh token costs no write.
    async fn find_refresh_token(
        &self,
        hash: &RefreshHash,
        app: AppId,
    ) -> Result<Option<StoredRefreshToken>>;
    /// Uses the refresh token `old` of `app`, in one transaction: deletes it if it is still
    /// there and live at `now`, swaps its authorization's token for `new`'s (the old token
    /// stops working at once) and stores `new`'s refresh token. `None` when `old` was gone or
    /// expired: of racing refreshes with one refresh token exactly one gets the pair.
    async fn refresh_authorization(
        &self,
        old: &RefreshHash,
        app: AppId,
        new: &Refreshed,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<Authorization>>;
    /// Deletes the refresh tokens expired by `now`; how many.
    async fn prune_refresh_tokens(&self, now: OffsetDateTime) -> Result<u64>;
    // Codes of the device flow (only the SHA-256 of the device code and of the user code is
    // stored).
    /// [`Constraint::UserCode`] if a live code already has this user code.
    async fn insert_device_code(&self, code: &NewDeviceCode) -> Result<()>;
    /// The code of `app` with this device-code hash, expired or not. Writes nothing.
    async fn find_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
    ) -> Result<Option<StoredDeviceCode>>;
    /// Records a poll of a pending code: sets its last poll to `now` and its interval to
    /// `interval`, only if its last poll is still `previous` (compare-and-set, so of racing
    /// polls one is recorded). Whether it was.
    async fn record_device_poll(
        &self,
        hash: &[u8; 32],
        app: AppId,
        previous: Option<OffsetDateTime>,
        now: OffsetDateTime,
        interval: i64,
    ) -> Result<bool>;
    /// The pending code with this user-code hash that has not expired by `now`, with its app.
    async fn find_pending_user_code(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<(StoredDeviceCode, App)>>;
    /// Sets the decision (approved by a user, or denied) of the pending, live code with this
    /// user-code hash. Whether there was one.
    async fn decide_device_code(
        &self,
        hash: &[u8; 32],
        decision: DeviceState,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// In one transaction: deletes the code of `app` with this hash if it is approved by
    /// `new`'s user, and inserts `new` (as [`insert_authorization`](Store::insert_authorization)
    /// does, with GitHub's limit of tokens per scope set). `None`, with nothing written, if there
    /// was no such code: of racing redemptions exactly one inserts a token.
    async fn redeem_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>>;
    /// Deletes the codes that expired at or before `expired_by`; how many.
    async fn prune_device_codes(&self, expired_by: OffsetDateTime) -> Result<u64>;

    /// Brings what this store keeps in memory (a serving node's counters and token index) in
    /// step with the database. A server calls it every `--counter-sync-interval` and when it
    /// stops; the plain stores keep nothing in memory.
    async fn sync(&self, _now: OffsetDateTime) -> Result<()> {
        Ok(())
    }

    /// Whether [`save_snapshot`](Self::save_snapshot) and
    /// [`restore_snapshot`](Self::restore_snapshot) work: SQLite only (the test controls).
    fn supports_snapshots(&self) -> bool {
        false
    }

    /// Copies the whole database into the new file `path` (replaced if it exists), in one
    /// read transaction.
    async fn save_snapshot(&self, _path: &Path) -> Result<()> {
        Err(Error::Backend("snapshots need a SQLite database".into()))
    }

    /// Replaces every row with the rows of the snapshot at `path` in one transaction,
    /// sequences included (ids start again where the snapshot's did; the token index's change
    /// log excepted). A serving store also drops what it keeps in memory.
    async fn restore_snapshot(&self, _path: &Path) -> Result<()> {
        Err(Error::Backend("snapshots need a SQLite database".into()))
    }

    /// How much of its resources the store uses right now (connections, the token index), for
    /// `/metrics`. Read at each scrape, never on a request; holds a lock only to read a length.
    fn usage(&self) -> Usage {
        Usage::default()
    }

    // Moving between engines (`grantd export` / `grantd import`).
    /// Every row of every table, ids, token hashes and secret digests included.
    async fn export(&self) -> Result<serde_json::Value>;
    /// Loads an [`export`](Store::export) into an empty database, in one transaction.
    /// Returns the number of rows per table.
    async fn import(&self, dump: &serde_json::Value) -> Result<Vec<(String, usize)>>;

    // Fixtures.
    /// Applies a whole fixture file in one transaction: all of it or nothing.
    async fn apply_fixture(
        &self,
        plan: &FixturePlan,
        now: OffsetDateTime,
    ) -> Result<FixtureOutcome>;

    // The code exchange of the web application flow: a read, then one write transaction.
    /// The code of `app` with this hash, expired or not. Only reads: an unknown or used code
    /// costs no write.
    async fn find_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<Option<StoredCode>>;
    /// Deletes the code of `app` with this hash (an exchange refused for it uses it up);
    /// whether it was there.
    async fn delete_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<bool>;
    /// In one transaction: deletes `code` if it is still there, bound to the same app and
    /// user, and inserts `new` with its refresh token (as
    /// [`insert_authorization_with_refresh`](Store::insert_authorization_with_refresh) does,
    /// with GitHub's limit of tokens per scope set). `None`, with nothing written, if the code
    /// was gone: of racing exchanges of one code exactly one inserts a token.
    async fn redeem_oauth_code(
        &self,
        code: &StoredCode,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>>;

    // Client secrets: up to two live per app (the developer settings page).
    /// The app's secrets, oldest first.
    async fn list_app_secrets(&self, app: AppId) -> Result<Vec<StoredClientSecret>>;
    /// Adds a secret to the app unless it already has `max` (then `None`, nothing written):
    /// counted and inserted in one transaction, so racing requests never make a third.
    async fn insert_app_secret(
        &self,
        app: AppId,
        digest: &SecretDigest,
        last_eight: &str,
        max: usize,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<StoredClientSecret>>;
    /// Deletes one of the app's secrets (it stops signing the app in at once); whether it
    /// was there.
    async fn delete_app_secret(
        &self,
        app: AppId,
        id: ClientSecretId,
        event: &NewEvent,
    ) -> Result<bool>;

    // "Last used" dates (`domain::usage`).
    /// Sets the last use of these tokens and of these apps' secrets (by digest) to `now`, in
    /// one transaction, skipping those whose stored last use is after `unless_after` (marked
    /// recently enough already, perhaps by another node).
    async fn mark_used(
        &self,
        tokens: &[AuthorizationId],
        secrets: &[(AppId, SecretDigest)],
        now: OffsetDateTime,
        unless_after: OffsetDateTime,
    ) -> Result<()>;

    // The audit log (`domain::audit`). Changes write their events themselves, in their own
    // transaction; these two are the log's own reads and its one write without a change.
    /// Writes an event that records no change of its own (a failed sign-in).
    async fn insert_audit_event(&self, event: &crate::domain::audit::NewEvent) -> Result<()>;
    /// The events `query` selects, in its order, at most `query.limit`.
    async fn list_audit_events(
        &self,
        query: &crate::domain::audit::Query,
    ) -> Result<Vec<crate::domain::audit::Event>>;
}

/// What [`Store::usage`] reports; `None` for what a store does not have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub pool: Option<PoolUsage>,
    pub index: Option<IndexUsage>,
}

/// The database connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open, idle or in use.
    pub open: u32,
    pub idle: usize,
    /// The most the pool opens (`--db-pool-size` on PostgreSQL).
    pub max: u32,
}

/// A serving SQLite node's token index (`cache.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexUsage {
    /// Token hashes known to exist; `None` while the index is still loading them.
    pub tokens: Option<usize>,
    /// Token records kept in memory (at most `--token-cache-size`).
    pub records: usize,
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterKind {
    Requests,
    FailedLogins,
    /// User codes entered at `/login/device`, per user and per app.
    DeviceCodeSubmissions,
}

impl CounterKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::FailedLogins => "failed_logins",
            Self::DeviceCodeSubmissions => "device_code_submissions",
        }
    }
}

/// A counter's value and when its window started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub count: u32,
    pub window_start: OffsetDateTime,
}

/// A user as a fixture file wants it.
#[derive(Debug, Clone)]
pub struct UserUpsert {
    pub login: Login,
    pub email: Option<String>,
    /// `None` keeps the stored hash: the file's password already verifies against it.
    pub password_hash: Option<PasswordHashString>,
    pub totp_secret: Option<TotpSecret>,
    pub site_admin: bool,
}

/// An app as a fixture file wants it. Found by `client_id` when the file gives one, otherwise
/// by owner and name.
#[derive(Debug, Clone)]
pub struct AppUpsert {
    pub kind: AppKind,
    pub name: String,
    pub url: String,
    pub callback_url: Option<String>,
    pub device_flow: bool,
    pub owner: Login,
    pub client_id: Option<ClientId>,
    /// Used only when the app is created without a client id in the file.
    pub generated_client_id: ClientId,
    /// The file's secret, if it gives one: replaces the stored secrets unless it is one.
    pub secret: Option<SecretDigest>,
    /// Used only when the app is created without a secret in the file.
    pub generated_secret: SecretDigest,
    /// The hint of whichever of the two is stored.
    pub secret_last_eight: String,
    pub user_token_ttl: Option<time::Duration>,
}

/// An organization as a fixture file wants it: found by login; `id` fixes its id on creation.
#[derive(Debug, Clone)]
pub struct OrgUpsert {
    pub login: Login,
    pub id: Option<i64>,
    /// Replaces the membership: users of the file or of the database.
    pub members: Vec<Login>,
}

/// A repository as a fixture file wants it: found by owner and name.
#[derive(Debug, Clone)]
pub struct RepoUpsert {
    pub owner: Login,
    pub name: String,
    pub id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct FixturePlan {
    pub users: Vec<UserUpsert>,
    pub orgs: Vec<OrgUpsert>,
    pub apps: Vec<AppUpsert>,
    pub repos: Vec<RepoUpsert>,
}

/// What a fixture changed, entry by entry, in the file's order.
#[derive(Debug, Clone, Default)]
pub struct FixtureOutcome {
    pub users: Vec<UpsertResult>,
    pub orgs: Vec<UpsertResult>,
    pub repos: Vec<UpsertResult>,
    /// With each app's client id (generated or given).
    pub apps: Vec<(ClientId, UpsertResult)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertResult {
    Created,
    Updated,
    Unchanged,
}
