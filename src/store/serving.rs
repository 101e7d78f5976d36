//! The store as a serving node uses it: the database behind [`Counters`] (rate limits
//! counted in memory, merged into the database) and, on SQLite, the
//! [`TokenIndex`] (token checks and app sign-ins answered from memory, kept exactly in step with
//! the database). Everything else goes straight to the database.
//!
//! Commands other than `serve` use the plain store: they run once and count nothing.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tokio::task::futures::TaskLocalFuture;

use super::cache::{Presence, TokenIndex};
use super::counters::Counters;
use super::{AuthorizationEdit, Counter, CounterKind, FixtureOutcome, FixturePlan, Result, Store};
use crate::domain::account::{Account, AccountRef, Repository};
use crate::domain::app::{App, NewApp};
use crate::domain::app_token::TokenRecord;
use crate::domain::authorization::{Authorization, NewAuthorization};
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

tokio::task_local! {
    /// The index generation that the current request has already brought up to date, if any.
    static REQUEST_VIEW: Cell<Option<u64>>;
}

/// Runs one request with a view of its own: the first cached read of the request asks SQLite
/// whether anything changed, and the request's further cached reads (a check reads the app,
/// then the token) reuse that answer. The request is served as of that instant, which is after
/// it arrived, so a change committed before it arrived is always seen. A write made by the
/// request itself ends the view, so the request's own changes are seen too.
///
/// (Not an `async fn`: one would hold `request` twice in every request's future.)
pub fn with_request_view<F: Future>(request: F) -> TaskLocalFuture<Cell<Option<u64>>, F> {
    REQUEST_VIEW.scope(Cell::new(None), request)
}

fn forget_request_view() {
    let _ = REQUEST_VIEW.try_with(|view| view.set(None));
}

/// How often the change log of the token index is pruned.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_mins(1);

pub struct ServingStore {
    inner: Arc<dyn Store>,
    counters: Counters,
    index: Option<Arc<TokenIndex>>,
    last_prune: std::sync::Mutex<Option<Instant>>,
}

impl ServingStore {
    /// The index brought up to date for this request (once per request, see
    /// [`with_request_view`]); returns the generation the caches are valid for.
    fn refreshed(index: &Arc<TokenIndex>) -> Result<u64> {
        if let Ok(Some(generation)) = REQUEST_VIEW.try_with(Cell::get) {
            return Ok(generation);
        }
        let generation = index.refresh()?;
        let _ = REQUEST_VIEW.try_with(|view| view.set(Some(generation)));
        Ok(generation)
    }

    pub fn new(inner: Arc<dyn Store>, index: Option<Arc<TokenIndex>>) -> Self {
        Self {
            counters: Counters::new(Arc::clone(&inner)),
            inner,
            index,
            last_prune: std::sync::Mutex::new(None),
        }
    }

    /// Prunes the index's change log (SQLite) once a minute, off the async workers.
    async fn prune(&self, now: OffsetDateTime) -> Result<()> {
        let Some(index) = self.index.clone() else {
            return Ok(());
        };
        {
            let mut last = self
                .last_prune
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        tokio::task::spawn_blocking(move || index.prune(now))
            .await
            .map_err(|e| super::Error::Backend(Box::new(e)))?
    }
}

#[async_trait]
impl Store for ServingStore {
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>> {
        let Some(index) = &self.index else {
            return self.inner.find_token(hash).await;
        };
        let generation = Self::refreshed(index)?;
        if index.presence(hash) == Presence::Absent {
            return Ok(None);
        }
        if let Some(record) = index.record(hash) {
            return Ok(Some(record));
        }
        let found = self.inner.find_token(hash).await?;
        // Anything committed while the database was read makes the answer unfit for caching.
        index.refresh()?;
        match &found {
            Some(record) => index.keep_record(*hash, Arc::clone(record), generation),
            None => index.forget(hash, generation),
        }
        Ok(found)
    }

    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<super::AppAndToken> {
        if self.index.is_none() {
            return self.inner.find_app_and_token(client_id, hash).await;
        }
        // Both from memory in the common case: no round trip to save.
        let Some(app) = self.find_app_by_client_id(client_id).await? else {
            return Ok((None, None));
        };
        Ok((Some(app), self.find_token(hash).await?))
    }

    async fn find_app_by_client_id(&self, client_id: &ClientId) -> Result<Option<Arc<App>>> {
        let Some(index) = &self.index else {
            return self.inner.find_app_by_client_id(client_id).await;
        };
        let generation = Self::refreshed(index)?;
        if let Some(app) = index.app(client_id.as_str()) {
            return Ok(Some(app));
        }
        let found = self.inner.find_app_by_client_id(client_id).await?;
        index.refresh()?;
        if let Some(app) = &found {
            index.keep_app(Arc::clone(app), generation);
        }
        Ok(found)
    }

    async fn add_to_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter> {
        match (kind, by) {
            (CounterKind::Requests, 1) => self.counters.count_request(subject, now, window).await,
            _ => {
                self.inner
                    .add_to_counter(kind, subject, now, window, by)
                    .await
            }
        }
    }

    async fn read_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        match kind {
            CounterKind::Requests => self.counters.read(subject, now, window).await,
            // Failed sign-ins (and code submissions) are read where they are counted, so every
            // node sees one count.
            CounterKind::FailedLogins | CounterKind::DeviceCodeSubmissions => {
                self.inner.read_counter(kind, subject, now, window).await
            }
        }
    }

    // Failed sign-ins go straight to the database: each attempt must see every node's failures
    // (the lockout is one limit for the whole deployment), and they are off the hot path.
    async fn take_login_attempt(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        limit: u32,
    ) -> Result<Option<Counter>> {
        self.inner
            .take_login_attempt(subject, now, window, limit)
            .await
    }

    async fn return_login_attempt(
        &self,
        subject: &str,
        window_start: OffsetDateTime,
    ) -> Result<()> {
        self.inner.return_login_attempt(subject, window_start).await
    }

    async fn clear_login_failures(&self, subject: &str) -> Result<bool> {
        self.inner.clear_login_failures(subject).await
    }

    async fn prune_counters(&self, kind: CounterKind, started_by: OffsetDateTime) -> Result<u64> {
        self.inner.prune_counters(kind, started_by).await
    }

    // Sessions are in no cache (the token index holds tokens only), so their writes need not
    // end the request's view of it.
    async fn insert_session(&self, session: &NewSession) -> Result<()> {
        self.inner.insert_session(session).await
    }

    async fn find_session(
        &self,
        hash: &SessionHash,
        now: OffsetDateTime,
    ) -> Result<Option<Session>> {
        self.inner.find_session(hash, now).await
    }

    async fn delete_session(&self, user: UserId, hash: &SessionHash) -> Result<bool> {
        self.inner.delete_session(user, hash).await
    }

    async fn delete_other_sessions(&self, user: UserId, keep: &SessionHash) -> Result<u64> {
        self.inner.delete_other_sessions(user, keep).await
    }

    async fn prune_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        self.inner.prune_sessions(now).await
    }

    // Codes, like sessions, are in no cache.
    async fn insert_oauth_code(&self, code: &StoredCode) -> Result<()> {
        self.inner.insert_oauth_code(code).await
    }

    async fn prune_oauth_codes(&self, now: OffsetDateTime) -> Result<u64> {
        self.inner.prune_oauth_codes(now).await
    }

    // Refresh tokens are in no cache; the token a refresh swaps reaches the token index
    // through the change log, like a reset's.
    async fn find_refresh_token(
        &self,
        hash: &RefreshHash,
        app: AppId,
    ) -> Result<Option<StoredRefreshToken>> {
        self.inner.find_refresh_token(hash, app).await
    }

    async fn refresh_authorization(
        &self,
        old: &RefreshHash,
        app: AppId,
        new: &Refreshed,
        now: OffsetDateTime,
    ) -> Result<Option<Authorization>> {
        forget_request_view();
        self.inner.refresh_authorization(old, app, new, now).await
    }

    async fn prune_refresh_tokens(&self, now: OffsetDateTime) -> Result<u64> {
        self.inner.prune_refresh_tokens(now).await
    }

    // Device codes are in no cache either; only a redemption inserts a token.
    async fn insert_device_code(&self, code: &NewDeviceCode) -> Result<()> {
        self.inner.insert_device_code(code).await
    }

    async fn find_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
    ) -> Result<Option<StoredDeviceCode>> {
        self.inner.find_device_code(hash, app).await
    }

    async fn record_device_poll(
        &self,
        hash: &[u8; 32],
        app: AppId,
        previous: Option<OffsetDateTime>,
        now: OffsetDateTime,
        interval: i64,
    ) -> Result<bool> {
        self.inner
            .record_device_poll(hash, app, previous, now, interval)
            .await
    }

    async fn find_pending_user_code(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<(StoredDeviceCode, App)>> {
        self.inner.find_pending_user_code(hash, now).await
    }

    async fn decide_device_code(
        &self,
        hash: &[u8; 32],
        decision: DeviceState,
        now: OffsetDateTime,
    ) -> Result<bool> {
        self.inner.decide_device_code(hash, decision, now).await
    }

    async fn redeem_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Option<Authorization>> {
        forget_request_view();
        self.inner.redeem_device_code(hash, app, new, refresh).await
    }

    async fn prune_device_codes(&self, expired_by: OffsetDateTime) -> Result<u64> {
        self.inner.prune_device_codes(expired_by).await
    }

    async fn sync(&self, now: OffsetDateTime) -> Result<()> {
        self.counters.flush(now).await?;
        if let Some(index) = &self.index {
            // Also notices changes while no request comes, so the change log can be pruned.
            index.refresh()?;
        }
        self.prune(now).await
    }

    fn supports_snapshots(&self) -> bool {
        self.inner.supports_snapshots()
    }

    async fn save_snapshot(&self, path: &std::path::Path) -> Result<()> {
        self.inner.save_snapshot(path).await
    }

    /// After the restore nothing this node keeps may answer: the token index reloads (a
    /// restored token may have an id it has already passed, which its "new tokens" scan would
    /// skip) and the counters counted here are dropped (the restored rows are the truth).
    async fn restore_snapshot(&self, path: &std::path::Path) -> Result<()> {
        forget_request_view();
        self.inner.restore_snapshot(path).await?;
        self.counters.forget();
        if let Some(index) = &self.index {
            index.reload()?;
        }
        Ok(())
    }

    fn usage(&self) -> super::Usage {
        super::Usage {
            index: self.index.as_ref().map(|index| index.usage()),
            ..self.inner.usage()
        }
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn insert_user(&self, user: &NewUser) -> Result<User> {
        forget_request_view();
        self.inner.insert_user(user).await
    }

    async fn find_user_by_login(&self, login: &Login) -> Result<Option<User>> {
        self.inner.find_user_by_login(login).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.inner.list_users().await
    }

    async fn update_user_password(
        &self,
        id: UserId,
        hash: &PasswordHashString,
        now: OffsetDateTime,
    ) -> Result<bool> {
        forget_request_view();
        self.inner.update_user_password(id, hash, now).await
    }

    // Users are in no cache: their two-factor state is read from the database each time.
    async fn set_two_factor(
        &self,
        user: UserId,
        secret: Option<&TotpSecret>,
        recovery: &[[u8; 32]],
        now: OffsetDateTime,
    ) -> Result<bool> {
        self.inner.set_two_factor(user, secret, recovery, now).await
    }

    async fn replace_recovery_codes(&self, user: UserId, recovery: &[[u8; 32]]) -> Result<()> {
        self.inner.replace_recovery_codes(user, recovery).await
    }

    async fn take_recovery_code(&self, user: UserId, hash: &[u8; 32]) -> Result<bool> {
        self.inner.take_recovery_code(user, hash).await
    }

    async fn advance_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        self.inner.advance_totp_step(user, step).await
    }

    async fn set_user_suspension(
        &self,
        id: UserId,
        suspension: Option<(OffsetDateTime, &str)>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        forget_request_view();
        self.inner.set_user_suspension(id, suspension, now).await
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_user(id).await
    }

    async fn insert_app(&self, app: &NewApp) -> Result<App> {
        forget_request_view();
        self.inner.insert_app(app).await
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        self.inner.list_apps().await
    }

    async fn update_app_secret(
        &self,
        id: AppId,
        digest: &SecretDigest,
        now: OffsetDateTime,
    ) -> Result<bool> {
        forget_request_view();
        self.inner.update_app_secret(id, digest, now).await
    }

    async fn delete_app(&self, id: AppId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_app(id).await
    }

    async fn insert_authorization(&self, new: &NewAuthorization) -> Result<Authorization> {
        forget_request_view();
        self.inner.insert_authorization(new).await
    }

    async fn insert_authorization_with_refresh(
        &self,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Authorization> {
        forget_request_view();
        self.inner
            .insert_authorization_with_refresh(new, refresh)
            .await
    }

    async fn insert_authorizations(&self, news: &[NewAuthorization]) -> Result<u64> {
        forget_request_view();
        self.inner.insert_authorizations(news).await
    }

    async fn find_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
    ) -> Result<Option<Authorization>> {
        self.inner.find_authorization(user, id).await
    }

    async fn find_app_authorization(
        &self,
        user: UserId,
        app: AppId,
        fingerprint: Option<&str>,
    ) -> Result<Option<Authorization>> {
        self.inner
            .find_app_authorization(user, app, fingerprint)
            .await
    }

    async fn list_authorizations(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Authorization>> {
        self.inner.list_authorizations(user, app, page).await
    }

    async fn update_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
        edit: AuthorizationEdit<'_>,
    ) -> Result<Option<Authorization>> {
        forget_request_view();
        self.inner.update_authorization(user, id, edit).await
    }

    async fn delete_authorization(&self, user: UserId, id: AuthorizationId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_authorization(user, id).await
    }

    async fn replace_token(
        &self,
        id: AuthorizationId,
        old: &TokenHash,
        new: &TokenHash,
        last_eight: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<Authorization>> {
        self.inner
            .replace_token(id, old, new, last_eight, expires_at, now)
            .await
    }

    async fn delete_token(&self, hash: &TokenHash, app: AppId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_token(hash, app).await
    }

    async fn delete_app_grant(&self, user: UserId, app: AppId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_app_grant(user, app).await
    }

    async fn find_account(&self, account: &AccountRef) -> Result<Option<Account>> {
        forget_request_view();
        self.inner.find_account(account).await
    }

    async fn is_org_member(&self, org: UserId, user: UserId) -> Result<bool> {
        self.inner.is_org_member(org, user).await
    }

    async fn list_organizations(&self, user: UserId) -> Result<Vec<Account>> {
        self.inner.list_organizations(user).await
    }

    async fn list_repositories(&self, owner: UserId) -> Result<Vec<Repository>> {
        self.inner.list_repositories(owner).await
    }

    async fn find_grant(&self, user: UserId, id: GrantId) -> Result<Option<Grant>> {
        self.inner.find_grant(user, id).await
    }

    async fn list_grants(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Grant>> {
        self.inner.list_grants(user, app, page).await
    }

    async fn delete_grant(&self, user: UserId, id: GrantId) -> Result<bool> {
        forget_request_view();
        self.inner.delete_grant(user, id).await
    }

    async fn export(&self) -> Result<serde_json::Value> {
        self.inner.export().await
    }

    async fn import(&self, dump: &serde_json::Value) -> Result<Vec<(String, usize)>> {
        forget_request_view();
        self.inner.import(dump).await
    }

    async fn apply_fixture(
        &self,
        plan: &FixturePlan,
        now: OffsetDateTime,
    ) -> Result<FixtureOutcome> {
        forget_request_view();
        self.inner.apply_fixture(plan, now).await
    }

    // Codes, like sessions, are in no cache; the token a redemption inserts reaches the token
    // index through the change log.
    async fn find_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<Option<StoredCode>> {
        self.inner.find_oauth_code(hash, app).await
    }

    async fn delete_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<bool> {
        self.inner.delete_oauth_code(hash, app).await
    }

    async fn redeem_oauth_code(
        &self,
        code: &StoredCode,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Option<Authorization>> {
        forget_request_view();
        self.inner.redeem_oauth_code(code, new, refresh).await
    }
}
