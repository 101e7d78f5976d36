//! The `Store` implementation both engines share, and [`Direct`], the database's own lookups and
//! counter rows.

use async_trait::async_trait;
use sqlx::{Row, Transaction};
use time::{Duration, OffsetDateTime};

use super::audit::{record_event, select_audit_events};
use super::engine::{Engine, RowsAffected};
use super::fixture::{upsert_app, upsert_org, upsert_repo, upsert_user};
use super::rows::{
    APP_SELECT, AUTHORIZATION_INSERT, AUTHORIZATION_SELECT, Doomed, TOKEN_SELECT, USER_COLUMNS,
    account_from_row, app_and_token_from_row, app_and_token_select, app_from_row,
    authorization_from_row, client_secret_from_row, corrupt, device_code_from_row, grant_from_row,
    limit_offset, permissions_to_stored, stored_repository_ids, timestamp, token_record_from_row,
    user_from_columns, user_from_row,
};
use super::{SqlStore, backend, map_err};
use crate::domain::account::{Account, AccountRef, Repository, RepositoryId};
use crate::domain::app::{App, ClientSecretId, NewApp, StoredClientSecret};
use crate::domain::app_token::TokenRecord;
use crate::domain::audit::NewEvent;
use crate::domain::authorization::{Authorization, NewAuthorization};
use crate::domain::device_flow::{DeviceState, NewDeviceCode, StoredDeviceCode};
use crate::domain::grant::Grant;
use crate::domain::otp::TotpSecret;
use crate::domain::scope::Scopes;
use crate::domain::secret::{PasswordHashString, SecretDigest};
use crate::domain::session::{NewSession, Session, SessionHash};
use crate::domain::token::{RefreshHash, TokenHash};
use crate::domain::user::{NewUser, User};
use crate::domain::user_token::{Flow, NewRefreshToken, Refreshed, StoredRefreshToken};
use crate::domain::web_flow::{StoredCode, TOKENS_PER_SCOPE_SET};
use crate::domain::{AppId, AuthorizationId, ClientId, GrantId, Login, Page, PageRequest, UserId};
use crate::store::counters::CounterRows;
use crate::store::seeds::{KeySource, Seeds};
use crate::store::{
    AppAndToken, AuthorizationEdit, Constraint, Counter, CounterKind, Error, FixtureOutcome,
    FixturePlan, Lookups, Result, Store,
};

/// A list endpoint's table: its name, the alias its SELECT gives it, and that SELECT.
struct Listing {
    table: &'static str,
    alias: &'static str,
    select: &'static str,
}

impl<DB: Engine> SqlStore<DB> {
    /// One token by its hash, in a query of its own.
    pub(in crate::store) async fn fetch_token(
        pool: &sqlx::Pool<DB>,
        seeds: &Seeds,
        hash: &TokenHash,
    ) -> Result<Option<std::sync::Arc<TokenRecord>>> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| format!("{TOKEN_SELECT} WHERE a.token_hash = $1"));
        let row = sqlx::query(sql.as_str())
            .bind(&hash.0[..])
            .fetch_optional(pool)
            .await
            .map_err(map_err)?;
        Ok(row
            .as_ref()
            .map(|row| token_record_from_row(row, seeds))
            .transpose()?
            .map(std::sync::Arc::new))
    }

    /// An app and a token, in a query of their own.
    pub(in crate::store) async fn fetch_app_and_token(
        pool: &sqlx::Pool<DB>,
        seeds: &Seeds,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken> {
        let row = sqlx::query(app_and_token_select())
            .bind(client_id.as_str())
            .bind(&hash.0[..])
            .fetch_optional(pool)
            .await
            .map_err(map_err)?;
        Ok(row
            .as_ref()
            .map(|row| app_and_token_from_row(row, seeds))
            .transpose()?
            .unwrap_or_default())
    }

    /// Deletes the row `sql` names (its `$1`, `$2`, … bound to `keys`) and records `event`, in
    /// one transaction: no row, no event. Whether the row was there.
    async fn delete_row_recording(
        &self,
        sql: &'static str,
        keys: &[i64],
        event: &NewEvent,
    ) -> Result<bool> {
        let tx = self.write().await?;
        Self::delete_row_and_commit(tx, sql, keys, event).await
    }

    /// [`delete_row_recording`](Self::delete_row_recording)'s work, in `tx`, which it commits
    /// (or drops, rolled back, when there is no row).
    async fn delete_row_and_commit(
        mut tx: Transaction<'static, DB>,
        sql: &'static str,
        keys: &[i64],
        event: &NewEvent,
    ) -> Result<bool> {
        let mut query = sqlx::query(sql);
        for key in keys {
            query = query.bind(*key);
        }
        let done = query.execute(&mut *tx).await.map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    /// Begins a write transaction in a task of its own, so that a request dropped while its
    /// `BEGIN` is in flight (the client went away) cannot leave a pooled connection inside a
    /// transaction. sqlx counts a transaction only once `BEGIN` has answered, so a future
    /// dropped before that queues no rollback, and the connection goes back to the pool inside
    /// the server's transaction: every later statement on it joins that transaction and holds
    /// its locks (bench/token-endpoint on PostgreSQL: deadlocks between single-statement
    /// updates, then "current transaction is aborted" answers). Spawned, the begin always
    /// completes; a transaction nobody takes is dropped, rolled back, and its connection freed.
    pub(super) async fn write(&self) -> Result<Transaction<'static, DB>> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin_with(DB::BEGIN_WRITE).await })
            .await
            .map_err(backend)?
            .map_err(backend)
    }

    async fn fetch_authorization(
        executor: impl sqlx::Executor<'_, Database = DB>,
        user: UserId,
        id: AuthorizationId,
    ) -> Result<Option<Authorization>> {
        let sql = format!("{AUTHORIZATION_SELECT} WHERE a.user_id = $1 AND a.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(executor)
            .await
            .map_err(map_err)?;
        row.as_ref().map(authorization_from_row).transpose()
    }

    /// Deletes one authorization and, if it was its grant's last, the grant, in one transaction.
    async fn delete_authorization_and_empty_grant(
        &self,
        which: Doomed<'_>,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let query = match which {
            Doomed::Owned { user, id } => sqlx::query_scalar::<_, Option<i64>>(
                "DELETE FROM authorizations WHERE id = $1 AND user_id = $2 RETURNING grant_id",
            )
            .bind(id.0)
            .bind(user.0),
            Doomed::Token { hash, app } => sqlx::query_scalar::<_, Option<i64>>(
                "DELETE FROM authorizations WHERE token_hash = $1 AND app_id = $2 RETURNING grant_id",
            )
            .bind(&hash.0[..])
            .bind(app.0),
        };
        let Some(grant) = query.fetch_optional(&mut *tx).await.map_err(map_err)? else {
            return Ok(false);
        };
        if let Some(grant) = grant {
            // Lock the grant first: an insert under it in flight finishes before we count.
            let lock = format!("SELECT id FROM grants WHERE id = $1{}", DB::LOCK_FOR_UPDATE);
            sqlx::query(sqlx::AssertSqlSafe(lock))
                .bind(grant)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("DELETE FROM grants WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM authorizations WHERE grant_id = $2)")
                .bind(grant)
                .bind(grant)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    /// One page of a user's rows of `listing`, optionally one app's, in id order, with the total.
    async fn list_page<T>(
        &self,
        listing: Listing,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
        from_row: fn(&DB::Row) -> Result<T>,
    ) -> Result<Page<T>> {
        let (limit, offset) = limit_offset(page);
        let Listing {
            table,
            alias,
            select,
        } = listing;
        // Two statements, not one with `$2 IS NULL OR app_id = $2`: that form makes the count
        // read every row of the user for its app id, where the unfiltered count needs only the
        // `(user_id, id)` index (for a user with a million authorizations, the difference
        // between a slow page and a fast one).
        let total: i64 = match app {
            None => {
                let count = format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1");
                sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                    .bind(user.0)
                    .fetch_one(&self.pool)
                    .await
            }
            Some(app) => {
                let count =
                    format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1 AND app_id = $2");
                sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                    .bind(user.0)
                    .bind(app.0)
                    .fetch_one(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        let sql = format!(
            "{select} WHERE {alias}.user_id = $1 AND ($2 IS NULL OR {alias}.app_id = $3) ORDER BY {alias}.id LIMIT $4 OFFSET $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(app.map(|a| a.0))
            .bind(app.map(|a| a.0))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let items = rows.iter().map(from_row).collect::<Result<_>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// Inserts authorizations inside `tx`, creating each (user, app) grant once as needed;
    /// returns their ids in order.
    /// The id of the user's grant for the app, created if need be.
    ///
    /// One statement that inserts the grant or locks the existing one (the no-op update), so
    /// that deleting the grant's last authorization (which may delete the grant) waits for this
    /// insert and then sees it. Not an insert that does nothing on conflict followed by a
    /// locking read: on PostgreSQL the grant found by the first can be deleted by a revoke of
    /// its last token before the second locks it, which then finds no row (bench/soak: 500s).
    /// An upsert either inserts or updates, even when the row it conflicted with goes away.
    async fn ensure_grant(
        tx: &mut Transaction<'static, DB>,
        user: i64,
        app: i64,
        now: i64,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO grants (user_id, app_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, app_id) DO UPDATE SET created_at = grants.created_at RETURNING id",
        )
        .bind(user)
        .bind(app)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)
    }

    /// The grant of each authorization (by position), each grant created or read once.
    async fn grants_of(
        tx: &mut Transaction<'static, DB>,
        news: &[NewAuthorization],
    ) -> Result<Vec<Option<i64>>> {
        let mut known: std::collections::HashMap<(i64, i64), i64> =
            std::collections::HashMap::new();
        let mut grants = Vec::with_capacity(news.len());
        for new in news {
            let grant = match &new.app {
                None => None,
                Some(app) => {
                    let key = (new.user_id.0, app.id.0);
                    if let Some(id) = known.get(&key) {
                        Some(*id)
                    } else {
                        let id =
                            Self::ensure_grant(tx, key.0, key.1, new.now.unix_timestamp()).await?;
                        known.insert(key, id);
                        Some(id)
                    }
                }
            };
            grants.push(grant);
        }
        Ok(grants)
    }

    async fn insert_authorization_row(
        tx: &mut Transaction<'static, DB>,
        new: &NewAuthorization,
    ) -> Result<i64> {
        let grant_id = Self::grants_of(tx, std::slice::from_ref(new))
            .await?
            .pop()
            .flatten();
        let now = new.now.unix_timestamp();
        // `flow` only here: bulk inserts (`token mint`) never make web-flow tokens.
        let columns = AUTHORIZATION_INSERT.trim_end_matches(')');
        let sql = format!(
            "{columns}, flow) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             RETURNING id"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(new.user_id.0)
            .bind(new.app.as_ref().map(|a| a.id.0))
            .bind(grant_id)
            .bind(new.scopes.to_stored())
            .bind(&new.token_hash.0[..])
            .bind(&new.token_last_eight)
            .bind(&new.note)
            .bind(&new.note_url)
            .bind(new.fingerprint.as_deref().unwrap_or_default())
            .bind(now)
            .bind(now)
            .bind(new.expires_at.map(OffsetDateTime::unix_timestamp))
            .bind(new.scoped_to.as_ref().map(|s| s.target.id.0))
            .bind(
                new.scoped_to
                    .as_ref()
                    .map(|s| permissions_to_stored(&s.permissions)),
            )
            .bind(new.scoped_to.as_ref().map(|s| s.repositories.as_str()))
            .bind(new.scoped_to.as_ref().and_then(stored_repository_ids))
            .bind(new.web_flow.then_some("web"))
            .fetch_one(&mut **tx)
            .await
            .map_err(map_err)
    }

    /// GitHub's limit on a flow's token (`new.web_flow`), inside the transaction that inserted
    /// it: deletes the oldest authorizations of the same user, app and scope set beyond
    /// [`TOKENS_PER_SCOPE_SET`]. The insert's [`ensure_grant`](Self::ensure_grant) holds the
    /// (user, app) grant's row lock until commit, so racing issues count one after the other
    /// (on PostgreSQL each statement then sees the other's committed rows) and never leave
    /// more than the limit live; nor can a request that stops after the insert.
    async fn delete_beyond_limit(
        tx: &mut Transaction<'static, DB>,
        new: &NewAuthorization,
    ) -> Result<()> {
        let Some(app) = new
            .app
            .as_ref()
            .filter(|_| new.web_flow && new.scoped_to.is_none())
        else {
            return Ok(());
        };
        // Refresh tokens and the token index's change log follow through ON DELETE CASCADE
        // and the delete trigger, as for any revoked token; the grant keeps `new`.
        sqlx::query(
            "DELETE FROM authorizations WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER \
             (ORDER BY created_at DESC, id DESC) AS n FROM authorizations WHERE user_id = $1 \
             AND app_id = $2 AND scopes = $3 AND scope_target_id IS NULL) ranked WHERE n > $4)",
        )
        .bind(new.user_id.0)
        .bind(app.id.0)
        .bind(new.scopes.to_stored())
        .bind(i64::from(TOKENS_PER_SCOPE_SET))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// Stores the refresh token of authorization `id` (only its hash).
    async fn insert_refresh_row(
        tx: &mut Transaction<'static, DB>,
        id: i64,
        refresh: &NewRefreshToken,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (refresh_hash, authorization_id, flow, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&refresh.hash.0[..])
        .bind(id)
        .bind(refresh.flow.as_str())
        .bind(refresh.created_at.unix_timestamp())
        .bind(refresh.expires_at.unix_timestamp())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// Inserts many authorizations (`grantd token mint`) in the order of their token hashes.
    /// The hashes are random, and so are the fingerprints minted from them: taken as they come,
    /// each row lands on another page of both unique indexes, and once the indexes outgrow the
    /// page cache every row reads and dirties pages of its own. In hash order a batch walks
    /// both indexes once, front to back (a million tokens on SQLite: 38 s unsorted, 10 s sorted).
    async fn insert_authorization_batch(
        tx: &mut Transaction<'static, DB>,
        news: &[NewAuthorization],
    ) -> Result<()> {
        let grants = Self::grants_of(tx, news).await?;
        let mut rows: Vec<(&NewAuthorization, Option<i64>)> = news.iter().zip(grants).collect();
        rows.sort_unstable_by_key(|(new, _)| new.token_hash.0);
        DB::insert_authorization_rows(tx, &rows).await
    }

    pub(in crate::store) async fn fetch_app(
        executor: impl sqlx::Executor<'_, Database = DB>,
        client_id: &str,
    ) -> Result<Option<App>> {
        let sql = format!("{APP_SELECT} WHERE p.client_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(client_id)
            .fetch_optional(executor)
            .await
            .map_err(map_err)?;
        row.as_ref().map(app_from_row).transpose()
    }

    pub(super) async fn fetch_user(
        executor: impl sqlx::Executor<'_, Database = DB>,
        seeds: &Seeds,
        login_key: &str,
    ) -> Result<Option<User>> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE login_key = $1 AND type = 'User'");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(login_key)
            .fetch_optional(executor)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(|row| user_from_row(row, seeds))
            .transpose()
    }

    /// Stores `user`'s TOTP secret, sealed for their id (which is why a new user is inserted
    /// first without one: the id is only known then, and the secret is never written in clear).
    pub(super) async fn store_totp_secret(
        tx: &mut Transaction<'static, DB>,
        seeds: &Seeds,
        user: UserId,
        secret: Option<&TotpSecret>,
    ) -> Result<()> {
        let sealed = secret.map(|secret| seeds.seal(secret, user)).transpose()?;
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2")
            .bind(sealed)
            .bind(user.0)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Replaces `user`'s recovery codes with these hashes.
    async fn store_recovery_codes(
        tx: &mut Transaction<'static, DB>,
        user: UserId,
        recovery: &[[u8; 32]],
    ) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        for hash in recovery {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.0)
                .bind(&hash[..])
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// Opens every stored TOTP secret with the key from `source` (so a wrong or lost key stops
    /// the start, rather than each 2FA user's next sign-in) and seals the ones an older grantd
    /// stored in clear, in one transaction. Returns the key for the store to keep, and how many
    /// secrets it sealed now.
    pub(in crate::store) async fn prepare_totp_secrets(
        pool: &sqlx::Pool<DB>,
        source: &KeySource,
    ) -> Result<(Seeds, usize)> {
        let mut tx = pool.begin_with(DB::BEGIN_WRITE).await.map_err(backend)?;
        let stored: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let sealed_exist = stored.iter().any(|(_, secret)| !Seeds::is_clear(secret));
        if matches!(source, KeySource::None) && !stored.is_empty() {
            return Err(Error::Backend(
                "the database holds TOTP secrets, and no secret key was given to open them: \
                 give every node the same --secret-key-file (GRANTD_SECRET_KEY_FILE)"
                    .into(),
            ));
        }
        let seeds = Seeds::load(source, sealed_exist)?;
        let mut sealed_now = 0;
        for (id, secret) in &stored {
            let user = UserId(*id);
            let opened = seeds.open_any(secret, user)?;
            if Seeds::is_clear(secret) {
                Self::store_totp_secret(&mut tx, &seeds, user, Some(&opened)).await?;
                sealed_now += 1;
            }
        }
        tx.commit().await.map_err(map_err)?;
        if sealed_now > 0 {
            tracing::warn!(
                "sealed {sealed_now} TOTP secrets stored in clear by an older grantd; copies and \
                 back-ups of the database taken before hold them in clear"
            );
        }
        Ok((seeds, sealed_now))
    }

    /// A flow's token inside a write transaction: the authorization, its refresh token, and
    /// GitHub's limit of tokens per scope set; the stored row back. The caller commits.
    async fn insert_flow_token(
        tx: &mut Transaction<'static, DB>,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Authorization> {
        let id = Self::insert_authorization_row(tx, new).await?;
        if let Some(refresh) = refresh {
            Self::insert_refresh_row(tx, id, refresh).await?;
        }
        Self::delete_beyond_limit(tx, new).await?;
        Self::fetch_authorization(&mut **tx, new.user_id, AuthorizationId(id))
            .await?
            .ok_or_else(|| corrupt("authorization"))
    }
}

/// The database's own lookups and counter rows, without a serving node's speed-ups: what
/// they fall back to.
pub(in crate::store) struct Direct<DB: Engine> {
    pub(in crate::store) pool: sqlx::Pool<DB>,
    pub(in crate::store) seeds: std::sync::Arc<Seeds>,
}

#[async_trait]
impl<DB: Engine> Lookups for Direct<DB> {
    async fn find_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<std::sync::Arc<App>>> {
        Ok(SqlStore::<DB>::fetch_app(&self.pool, client_id.as_str())
            .await?
            .map(std::sync::Arc::new))
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<std::sync::Arc<TokenRecord>>> {
        SqlStore::<DB>::fetch_token(&self.pool, &self.seeds, hash).await
    }

    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken> {
        SqlStore::<DB>::fetch_app_and_token(&self.pool, &self.seeds, client_id, hash).await
    }
}

#[async_trait]
impl<DB: Engine> CounterRows for Direct<DB> {
    async fn add_to_row(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter> {
        let (now, window) = (now.unix_timestamp(), window.whole_seconds());
        // One statement, so concurrent increments cannot lose one another.
        let (start, count): (i64, i64) = sqlx::query_as(
            "INSERT INTO counters (kind, subject, window_start, count) VALUES ($1, $2, $3, $5) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
               count = CASE WHEN counters.window_start + $4 <= $3 THEN $5 ELSE counters.count + $5 END, \
               window_start = CASE WHEN counters.window_start + $4 <= $3 THEN $3 ELSE counters.window_start END \
             RETURNING window_start, count",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(now)
        .bind(window)
        .bind(i64::from(by))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(Counter {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            window_start: timestamp(start)?,
        })
    }

    async fn read_row(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT window_start, count FROM counters WHERE kind = $1 AND subject = $2",
        )
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(match row {
            Some((start, count)) if start + window.whole_seconds() > now.unix_timestamp() => {
                Counter {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    window_start: timestamp(start)?,
                }
            }
            _ => Counter {
                count: 0,
                window_start: now,
            },
        })
    }
}

#[async_trait]
impl<DB: Engine> Lookups for SqlStore<DB> {
    async fn find_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<std::sync::Arc<App>>> {
        self.lookups.find_app_by_client_id(client_id).await
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<std::sync::Arc<TokenRecord>>> {
        self.lookups.find_token(hash).await
    }

    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken> {
        self.lookups.find_app_and_token(client_id, hash).await
    }
}

#[async_trait]
impl<DB: Engine> Store for SqlStore<DB> {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    fn supports_snapshots(&self) -> bool {
        DB::SNAPSHOTS
    }

    async fn save_snapshot(&self, path: &std::path::Path) -> Result<()> {
        DB::copy_to(self, path).await
    }

    async fn restore_snapshot(&self, path: &std::path::Path) -> Result<()> {
        DB::restore_from(self, path).await?;
        self.serving.restored()
    }

    async fn sync(&self, now: OffsetDateTime) -> Result<()> {
        self.serving.sync(now).await
    }

    fn usage(&self) -> crate::store::Usage {
        crate::store::Usage {
            pool: Some(crate::store::PoolUsage {
                open: self.pool.size(),
                idle: self.pool.num_idle(),
                max: self.pool.options().get_max_connections(),
            }),
            index: self.serving.index_usage(),
        }
    }

    async fn insert_user(&self, user: &NewUser, event: &NewEvent) -> Result<User> {
        let now = user.now.unix_timestamp();
        let sql = format!(
            "INSERT INTO users (login, login_key, email, password_hash, totp_secret, site_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7) RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.login.as_str())
            .bind(user.login.key())
            .bind(&user.email)
            .bind(&user.password_hash.0)
            .bind(user.site_admin)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut inserted = user_from_row(&row, &self.seeds)?;
        if let Some(secret) = &user.totp_secret {
            Self::store_totp_secret(&mut tx, &self.seeds, inserted.id, Some(secret)).await?;
            inserted.totp_secret = Some(secret.clone());
        }
        // The account's id exists only now: the event names it.
        record_event(&mut tx, &event.clone().about(&inserted), None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(inserted)
    }

    async fn find_user_by_login(&self, login: &Login) -> Result<Option<User>> {
        Self::fetch_user(&self.pool, &self.seeds, &login.key()).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE type = 'User' ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| user_from_row(row, &self.seeds))
            .collect()
    }

    async fn update_user_password(
        &self,
        id: UserId,
        hash: &PasswordHashString,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(&hash.0)
                .bind(now.unix_timestamp())
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn set_two_factor(
        &self,
        user: UserId,
        secret: Option<&TotpSecret>,
        recovery: &[[u8; 32]],
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
            .bind(now.unix_timestamp())
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::store_totp_secret(&mut tx, &self.seeds, user, secret).await?;
        Self::store_recovery_codes(&mut tx, user, recovery).await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery: &[[u8; 32]],
        event: &NewEvent,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        Self::store_recovery_codes(&mut tx, user, recovery).await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn take_recovery_code(&self, user: UserId, hash: &[u8; 32]) -> Result<bool> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
            .bind(user.0)
            .bind(&hash[..])
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn advance_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        // One statement: of two sign-ins racing with the same code, only one moves the step.
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 \
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_suspension(
        &self,
        id: UserId,
        suspension: Option<(OffsetDateTime, &str)>,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        // The update fires the change log's trigger (SQLite), so token indexes drop the
        // user's cached tokens.
        let done = sqlx::query(
            "UPDATE users SET suspended_at = $1, suspension_reason = $2, updated_at = $3 \
             WHERE id = $4 AND type = 'User'",
        )
        .bind(suspension.map(|(at, _)| at.unix_timestamp()))
        .bind(suspension.map(|(_, reason)| reason))
        .bind(now.unix_timestamp())
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // A suspension ends the user's browser sessions for good (deleted, not only refused
        // while suspended): unsuspending does not sign anyone back in.
        if suspension.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn delete_user(&self, id: UserId, event: &NewEvent) -> Result<bool> {
        let mut tx = self.write().await?;
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE owner_id = $1")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if owned > 0 {
            return Err(Error::Conflict(Constraint::OwnsApps));
        }
        Self::delete_row_and_commit(tx, "DELETE FROM users WHERE id = $1", &[id.0], event).await
    }

    async fn insert_app(&self, app: &NewApp, event: &NewEvent) -> Result<App> {
        let mut tx = self.write().await?;
        let now = app.now.unix_timestamp();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO apps (kind, name, url, owner_id, client_id, expire_user_tokens, \
             user_token_ttl, created_at, updated_at, callback_url, device_flow) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(app.kind.as_str())
        .bind(&app.name)
        .bind(&app.url)
        .bind(app.owner_id.0)
        .bind(app.client_id.as_str())
        .bind(app.user_token_ttl.is_some())
        .bind(app.user_token_ttl.map(time::SignedDuration::whole_seconds))
        .bind(now)
        .bind(now)
        .bind(&app.callback_url)
        .bind(app.device_flow)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_secret(
            &mut tx,
            id,
            &app.client_secret_digest,
            Some(&app.client_secret_last_eight),
            now,
        )
        .await?;
        let stored = Self::fetch_app(&mut *tx, app.client_id.as_str())
            .await?
            .ok_or_else(|| corrupt("app"))?;
        // The app's id exists only now: the event names it.
        let event = event.clone().app(Some(&stored));
        record_event(&mut tx, &event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        let sql = format!("{APP_SELECT} ORDER BY p.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(app_from_row).collect()
    }

    async fn update_app_secret(
        &self,
        id: AppId,
        digest: &SecretDigest,
        last_eight: &str,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE apps SET updated_at = $1 WHERE id = $2")
            .bind(now.unix_timestamp())
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM app_secrets WHERE app_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_secret(
            &mut tx,
            id.0,
            digest,
            Some(last_eight),
            now.unix_timestamp(),
        )
        .await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn delete_app(&self, id: AppId, event: &NewEvent) -> Result<bool> {
        // Grants and authorizations go with it through ON DELETE CASCADE.
        self.delete_row_recording("DELETE FROM apps WHERE id = $1", &[id.0], event)
            .await
    }

    async fn insert_authorization(
        &self,
        new: &NewAuthorization,
        event: &NewEvent,
    ) -> Result<Authorization> {
        self.insert_authorization_with_refresh(new, None, event)
            .await
    }

    async fn insert_authorization_with_refresh(
        &self,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Authorization> {
        let mut tx = self.write().await?;
        let stored = Self::insert_flow_token(&mut tx, new, refresh).await?;
        record_event(&mut tx, event, Some(stored.id.0)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    async fn insert_authorizations(
        &self,
        news: &[NewAuthorization],
        event: &NewEvent,
    ) -> Result<u64> {
        let mut tx = self.write().await?;
        Self::insert_authorization_batch(&mut tx, news).await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(news.len() as u64)
    }

    async fn find_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
    ) -> Result<Option<Authorization>> {
        Self::fetch_authorization(&self.pool, user, id).await
    }

    async fn find_app_authorization(
        &self,
        user: UserId,
        app: AppId,
        fingerprint: Option<&str>,
    ) -> Result<Option<Authorization>> {
        let sql = format!(
            "{AUTHORIZATION_SELECT} WHERE a.user_id = $1 AND a.app_id = $2 AND a.fingerprint = $3 \
             AND a.flow IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(app.0)
            .bind(fingerprint.unwrap_or_default())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(authorization_from_row).transpose()
    }

    async fn list_authorizations(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Authorization>> {
        self.list_page(
            Listing {
                table: "authorizations",
                alias: "a",
                select: AUTHORIZATION_SELECT,
            },
            user,
            app,
            page,
            authorization_from_row,
        )
        .await
    }

    async fn update_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
        edit: AuthorizationEdit<'_>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.write().await?;
        // Locked until the update commits: concurrent edits apply one after the other.
        let sql = format!(
            "{AUTHORIZATION_SELECT} WHERE a.user_id = $1 AND a.id = $2{}",
            DB::LOCK_AUTHORIZATION_FOR_UPDATE
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(current) = row.as_ref().map(authorization_from_row).transpose()? else {
            return Ok(None);
        };
        let changes = edit(&current);
        sqlx::query("UPDATE authorizations SET scopes = $1, note = $2, note_url = $3, fingerprint = $4, updated_at = $5 WHERE id = $6 AND user_id = $7")
            .bind(changes.scopes.to_stored())
            .bind(&changes.note)
            .bind(&changes.note_url)
            .bind(changes.fingerprint.as_deref().unwrap_or_default())
            .bind(changes.now.unix_timestamp())
            .bind(id.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let updated = Self::fetch_authorization(&mut *tx, user, id).await?;
        record_event(&mut tx, event, Some(id.0)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(updated)
    }

    async fn delete_authorization(
        &self,
        user: UserId,
        id: AuthorizationId,
        event: &NewEvent,
    ) -> Result<bool> {
        self.delete_authorization_and_empty_grant(Doomed::Owned { user, id }, event)
            .await
    }

    async fn replace_token(
        &self,
        id: AuthorizationId,
        old: &TokenHash,
        new: &TokenHash,
        last_eight: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE authorizations SET token_hash = $1, token_last_eight = $2, expires_at = $3, updated_at = $4 \
             WHERE id = $5 AND token_hash = $6",
        )
        .bind(&new.0[..])
        .bind(last_eight)
        .bind(expires_at.map(OffsetDateTime::unix_timestamp))
        .bind(now.unix_timestamp())
        .bind(id.0)
        .bind(&old.0[..])
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let sql = format!("{AUTHORIZATION_SELECT} WHERE a.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let authorization = authorization_from_row(&row)?;
        record_event(&mut tx, event, Some(id.0)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(authorization))
    }

    async fn delete_token(&self, hash: &TokenHash, app: AppId, event: &NewEvent) -> Result<bool> {
        self.delete_authorization_and_empty_grant(Doomed::Token { hash, app }, event)
            .await
    }

    async fn delete_app_grant(&self, user: UserId, app: AppId, event: &NewEvent) -> Result<bool> {
        // Its authorizations go with it through ON DELETE CASCADE.
        let sql = "DELETE FROM grants WHERE user_id = $1 AND app_id = $2";
        self.delete_row_recording(sql, &[user.0, app.0], event)
            .await
    }

    async fn find_account(&self, account: &AccountRef) -> Result<Option<Account>> {
        let query = match account {
            AccountRef::Login(login) => {
                sqlx::query("SELECT id, login, type, site_admin FROM users WHERE login_key = $1")
                    .bind(login.to_ascii_lowercase())
            }
            AccountRef::Id(id) => {
                sqlx::query("SELECT id, login, type, site_admin FROM users WHERE id = $1").bind(*id)
            }
        };
        let row = query.fetch_optional(&self.pool).await.map_err(map_err)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn is_org_member(&self, org: UserId, user: UserId) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2)",
        )
        .bind(org.0)
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn list_organizations(&self, user: UserId) -> Result<Vec<Account>> {
        let rows = sqlx::query(
            "SELECT o.id, o.login, o.type, o.site_admin FROM org_members m \
             JOIN users o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY o.login_key",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(account_from_row).collect()
    }

    async fn list_repositories(&self, owner: UserId) -> Result<Vec<Repository>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, name FROM repositories WHERE owner_id = $1 ORDER BY id",
        )
        .bind(owner.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(Repository {
                    id: RepositoryId(row.try_get("id").map_err(backend)?),
                    owner_id: UserId(row.try_get("owner_id").map_err(backend)?),
                    name: row.try_get("name").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn find_grant(&self, user: UserId, id: GrantId) -> Result<Option<Grant>> {
        let sql = format!("{} WHERE g.user_id = $1 AND g.id = $2", DB::GRANT_SELECT);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list_grants(
        &self,
        user: UserId,
        app: Option<AppId>,
        page: PageRequest,
    ) -> Result<Page<Grant>> {
        self.list_page(
            Listing {
                table: "grants",
                alias: "g",
                select: DB::GRANT_SELECT,
            },
            user,
            app,
            page,
            grant_from_row,
        )
        .await
    }

    async fn delete_grant(&self, user: UserId, id: GrantId, event: &NewEvent) -> Result<bool> {
        // Its authorizations go with it through ON DELETE CASCADE.
        let sql = "DELETE FROM grants WHERE id = $1 AND user_id = $2";
        self.delete_row_recording(sql, &[id.0, user.0], event).await
    }

    async fn add_to_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter> {
        self.serving
            .add_to_counter(&*self.direct, kind, subject, now, window, by)
            .await
    }

    async fn read_counter(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        self.serving
            .read_counter(&*self.direct, kind, subject, now, window)
            .await
    }

    async fn take_login_attempt(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        limit: u32,
    ) -> Result<Option<Counter>> {
        let (now, window) = (now.unix_timestamp(), window.whole_seconds());
        // The upsert's WHERE leaves a full, live counter alone, and then returns no row. A
        // counter at 0 (every attempt given back) starts its window anew, so that a window
        // starts with a failure, not with a right password.
        let row: Option<(i64, i64)> = sqlx::query_as(
            "INSERT INTO counters (kind, subject, window_start, count) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
               count = CASE WHEN counters.window_start + $4 <= $3 OR counters.count = 0 THEN 1 ELSE counters.count + 1 END, \
               window_start = CASE WHEN counters.window_start + $4 <= $3 OR counters.count = 0 THEN $3 ELSE counters.window_start END \
             WHERE counters.window_start + $4 <= $3 OR counters.count < $5 \
             RETURNING window_start, count",
        )
        .bind(CounterKind::FailedLogins.as_str())
        .bind(subject)
        .bind(now)
        .bind(window)
        .bind(i64::from(limit))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|(start, count)| {
            Ok(Counter {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                window_start: timestamp(start)?,
            })
        })
        .transpose()
    }

    async fn return_login_attempt(
        &self,
        subject: &str,
        window_start: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE counters SET count = count - 1 \
             WHERE kind = $1 AND subject = $2 AND window_start = $3 AND count > 0",
        )
        .bind(CounterKind::FailedLogins.as_str())
        .bind(subject)
        .bind(window_start.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, subject: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM counters WHERE kind = $1 AND subject = $2 AND count > 0")
                .bind(CounterKind::FailedLogins.as_str())
                .bind(subject)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn prune_counters(&self, kind: CounterKind, started_by: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM counters WHERE kind = $1 AND window_start <= $2")
            .bind(kind.as_str())
            .bind(started_by.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_session(&self, session: &NewSession, event: Option<&NewEvent>) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (session_hash, user_id, two_factor_pending, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.hash.0[..])
        .bind(session.user_id.0)
        .bind(session.two_factor_pending)
        .bind(session.created_at.unix_timestamp())
        .bind(session.expires_at.unix_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(event) = event {
            record_event(&mut tx, event, None).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn find_session(
        &self,
        hash: &SessionHash,
        now: OffsetDateTime,
    ) -> Result<Option<Session>> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        // Organizations cannot sign in, so only a `User` row counts.
        let sql = SQL.get_or_init(|| {
            let user = USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c} AS user_{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT s.two_factor_pending, s.created_at AS session_created_at, s.expires_at, {user} \
                 FROM sessions s JOIN users u ON u.id = s.user_id AND u.type = 'User' \
                 WHERE s.session_hash = $1 AND s.expires_at > $2 AND u.suspended_at IS NULL"
            )
        });
        let row = sqlx::query(sql.as_str())
            .bind(&hash.0[..])
            .bind(now.unix_timestamp())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            user: user_from_columns(&row, |name| format!("user_{name}"), &self.seeds)?,
            two_factor_pending: row.try_get("two_factor_pending").map_err(backend)?,
            created_at: timestamp(row.try_get("session_created_at").map_err(backend)?)?,
            expires_at: timestamp(row.try_get("expires_at").map_err(backend)?)?,
        }))
    }

    async fn delete_session(&self, user: UserId, hash: &SessionHash) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE session_hash = $1 AND user_id = $2")
            .bind(&hash.0[..])
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_other_sessions(&self, user: UserId, keep: &SessionHash) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND session_hash <> $2")
            .bind(user.0)
            .bind(&keep.0[..])
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn prune_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_oauth_code(&self, code: &StoredCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, app_id, user_id, redirect_uri, scopes, code_challenge, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&code.hash[..])
        .bind(code.app_id.0)
        .bind(code.user_id.0)
        .bind(&code.redirect_uri)
        .bind(code.scopes.to_stored())
        .bind(code.code_challenge.as_deref())
        .bind(code.expires_at.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn prune_oauth_codes(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM oauth_codes WHERE expires_at <= $1")
            .bind(now.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn find_refresh_token(
        &self,
        hash: &RefreshHash,
        app: AppId,
    ) -> Result<Option<StoredRefreshToken>> {
        let row: Option<(i64, String, i64, bool)> = sqlx::query_as(
            "SELECT r.authorization_id, r.flow, r.expires_at, u.suspended_at IS NOT NULL FROM refresh_tokens r \
             JOIN authorizations a ON a.id = r.authorization_id JOIN users u ON u.id = a.user_id \
             WHERE r.refresh_hash = $1 AND a.app_id = $2",
        )
        .bind(&hash.0[..])
        .bind(app.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|(id, flow, expires_at, user_suspended)| {
            Ok(StoredRefreshToken {
                authorization_id: AuthorizationId(id),
                flow: Flow::from_stored(&flow),
                expires_at: timestamp(expires_at)?,
                user_suspended,
            })
        })
        .transpose()
    }

    async fn refresh_authorization(
        &self,
        old: &RefreshHash,
        app: AppId,
        new: &Refreshed,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.write().await?;
        // The delete decides: a racing refresh with the same token waits for this
        // transaction (PostgreSQL's row lock, SQLite's write lock) and then deletes nothing.
        // The app is checked on the one authorization by its key: SQLite runs
        // `authorization_id IN (SELECT id FROM authorizations WHERE app_id = …)` as a scan of
        // every token of the app per refresh (bench/token-endpoint: 71 refreshes a second with
        // 120,000 tokens of the app).
        let taken: Option<i64> = sqlx::query_scalar(
            "DELETE FROM refresh_tokens WHERE refresh_hash = $1 AND expires_at > $2 \
             AND EXISTS (SELECT 1 FROM authorizations a \
                         WHERE a.id = refresh_tokens.authorization_id AND a.app_id = $3) \
             RETURNING authorization_id",
        )
        .bind(&old.0[..])
        .bind(now.unix_timestamp())
        .bind(app.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(id) = taken else { return Ok(None) };
        let done = sqlx::query(
            "UPDATE authorizations SET token_hash = $1, token_last_eight = $2, expires_at = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(&new.token_hash.0[..])
        .bind(&new.token_last_eight)
        .bind(new.expires_at.map(OffsetDateTime::unix_timestamp))
        .bind(now.unix_timestamp())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(refresh) = &new.refresh {
            Self::insert_refresh_row(&mut tx, id, refresh).await?;
        }
        let sql = format!("{AUTHORIZATION_SELECT} WHERE a.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let authorization = authorization_from_row(&row)?;
        record_event(&mut tx, event, Some(id)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(authorization))
    }

    async fn prune_refresh_tokens(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_device_code(&self, code: &NewDeviceCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code_hash, app_id, scopes, interval_seconds, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&code.device_code_hash[..])
        .bind(&code.user_code_hash[..])
        .bind(code.app_id.0)
        .bind(code.scopes.to_stored())
        .bind(code.interval)
        .bind(code.created_at.unix_timestamp())
        .bind(code.expires_at.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn find_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
    ) -> Result<Option<StoredDeviceCode>> {
        let row = sqlx::query(
            "SELECT device_code_hash, app_id, scopes, state, user_id, interval_seconds, last_polled_at, expires_at \
             FROM device_codes WHERE device_code_hash = $1 AND app_id = $2",
        )
        .bind(&hash[..])
        .bind(app.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(device_code_from_row).transpose()
    }

    async fn record_device_poll(
        &self,
        hash: &[u8; 32],
        app: AppId,
        previous: Option<OffsetDateTime>,
        now: OffsetDateTime,
        interval: i64,
    ) -> Result<bool> {
        // -1 stands for "never polled" on both sides: NULL would compare as unknown.
        let done = sqlx::query(
            "UPDATE device_codes SET last_polled_at = $3, interval_seconds = $4 \
             WHERE device_code_hash = $1 AND app_id = $5 AND state = 'pending' \
             AND COALESCE(last_polled_at, -1) = $2",
        )
        .bind(&hash[..])
        .bind(previous.map_or(-1, OffsetDateTime::unix_timestamp))
        .bind(now.unix_timestamp())
        .bind(interval)
        .bind(app.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_pending_user_code(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<(StoredDeviceCode, App)>> {
        let row = sqlx::query(
            "SELECT device_code_hash, app_id, scopes, state, user_id, interval_seconds, last_polled_at, expires_at \
             FROM device_codes WHERE user_code_hash = $1 AND state = 'pending' AND expires_at > $2",
        )
        .bind(&hash[..])
        .bind(now.unix_timestamp())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(code) = row.as_ref().map(device_code_from_row).transpose()? else {
            return Ok(None);
        };
        let sql = format!("{APP_SELECT} WHERE p.id = $1");
        let app = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(code.app_id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        // The code's row goes with its app (ON DELETE CASCADE), but the app may go between the
        // two reads: then there is no code either.
        Ok(app
            .as_ref()
            .map(app_from_row)
            .transpose()?
            .map(|app| (code, app)))
    }

    async fn decide_device_code(
        &self,
        hash: &[u8; 32],
        decision: DeviceState,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let (state, user) = match decision {
            DeviceState::Pending => return Ok(false),
            DeviceState::Approved(user) => ("approved", Some(user.0)),
            DeviceState::Denied => ("denied", None),
        };
        let done = sqlx::query(
            "UPDATE device_codes SET state = $2, user_id = $3 \
             WHERE user_code_hash = $1 AND state = 'pending' AND expires_at > $4",
        )
        .bind(&hash[..])
        .bind(state)
        .bind(user)
        .bind(now.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn redeem_device_code(
        &self,
        hash: &[u8; 32],
        app: AppId,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.write().await?;
        // The code goes first: a racing redemption waits on its row (or, on SQLite, on the
        // write lock) and then finds nothing to delete.
        let taken = sqlx::query(
            "DELETE FROM device_codes WHERE device_code_hash = $1 AND app_id = $2 \
             AND state = 'approved' AND user_id = $3",
        )
        .bind(&hash[..])
        .bind(app.0)
        .bind(new.user_id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if taken.rows_affected() != 1 {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(None);
        }
        let stored = Self::insert_flow_token(&mut tx, new, refresh).await?;
        record_event(&mut tx, event, Some(stored.id.0)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(stored))
    }

    async fn prune_device_codes(&self, expired_by: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM device_codes WHERE expires_at <= $1")
            .bind(expired_by.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn export(&self) -> Result<serde_json::Value> {
        self.export_tables().await
    }

    async fn import(&self, dump: &serde_json::Value) -> Result<Vec<(String, usize)>> {
        self.import_tables(dump).await
    }

    async fn apply_fixture(
        &self,
        plan: &FixturePlan,
        now: OffsetDateTime,
    ) -> Result<FixtureOutcome> {
        let mut tx = self.write().await?;
        let mut outcome = FixtureOutcome::default();
        for user in &plan.users {
            outcome
                .users
                .push(upsert_user(&mut tx, &self.seeds, user, now.unix_timestamp()).await?);
        }
        for org in &plan.orgs {
            outcome
                .orgs
                .push(upsert_org(&mut tx, org, now.unix_timestamp()).await?);
        }
        for app in &plan.apps {
            outcome
                .apps
                .push(upsert_app(&mut tx, &self.seeds, app, now.unix_timestamp()).await?);
        }
        for repo in &plan.repos {
            outcome.repos.push(upsert_repo(&mut tx, repo).await?);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }

    async fn find_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<Option<StoredCode>> {
        let row = sqlx::query(
            "SELECT user_id, redirect_uri, scopes, code_challenge, expires_at FROM oauth_codes \
             WHERE code_hash = $1 AND app_id = $2",
        )
        .bind(&hash[..])
        .bind(app.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let scopes: String = row.try_get("scopes").map_err(backend)?;
        Ok(Some(StoredCode {
            hash: *hash,
            app_id: app,
            user_id: UserId(row.try_get("user_id").map_err(backend)?),
            redirect_uri: row.try_get("redirect_uri").map_err(backend)?,
            scopes: Scopes::from_stored_text(&scopes),
            code_challenge: row.try_get("code_challenge").map_err(backend)?,
            expires_at: timestamp(row.try_get("expires_at").map_err(backend)?)?,
        }))
    }

    async fn delete_oauth_code(&self, hash: &[u8; 32], app: AppId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM oauth_codes WHERE code_hash = $1 AND app_id = $2")
            .bind(&hash[..])
            .bind(app.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn redeem_oauth_code(
        &self,
        code: &StoredCode,
        new: &NewAuthorization,
        refresh: Option<&NewRefreshToken>,
        event: &NewEvent,
    ) -> Result<Option<Authorization>> {
        let mut tx = self.write().await?;
        // The code goes first, in the token's transaction (one commit, one fsync on SQLite): a
        // racing exchange waits on its row (or, on SQLite, on the write lock) and then finds
        // nothing to delete. Codes are never updated, so the row still bound to this app and
        // user is the one the domain judged.
        let taken = sqlx::query(
            "DELETE FROM oauth_codes WHERE code_hash = $1 AND app_id = $2 AND user_id = $3",
        )
        .bind(&code.hash[..])
        .bind(code.app_id.0)
        .bind(code.user_id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if taken.rows_affected() != 1 {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(None);
        }
        let stored = Self::insert_flow_token(&mut tx, new, refresh).await?;
        record_event(&mut tx, event, Some(stored.id.0)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(stored))
    }

    async fn list_app_secrets(&self, app: AppId) -> Result<Vec<StoredClientSecret>> {
        let rows = sqlx::query(
            "SELECT id, last_eight, created_at, last_used_at FROM app_secrets WHERE app_id = $1 ORDER BY id",
        )
        .bind(app.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(client_secret_from_row).collect()
    }

    async fn insert_app_secret(
        &self,
        app: AppId,
        digest: &SecretDigest,
        last_eight: &str,
        max: usize,
        now: OffsetDateTime,
        event: &NewEvent,
    ) -> Result<Option<StoredClientSecret>> {
        let mut tx = self.write().await?;
        // The app's row, locked until commit (PostgreSQL; SQLite's write lock covers it): racing
        // inserts count one after the other.
        let sql = format!("SELECT id FROM apps WHERE id = $1{}", DB::LOCK_FOR_UPDATE);
        let exists: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(app.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if exists.is_none() {
            return Ok(None);
        }
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_secrets WHERE app_id = $1")
            .bind(app.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= max {
            return Ok(None);
        }
        let id = insert_secret(
            &mut tx,
            app.0,
            digest,
            Some(last_eight),
            now.unix_timestamp(),
        )
        .await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(StoredClientSecret {
            id: ClientSecretId(id),
            last_eight: Some(last_eight.to_owned()),
            created_at: now,
            last_used_at: None,
        }))
    }

    async fn delete_app_secret(
        &self,
        app: AppId,
        id: ClientSecretId,
        event: &NewEvent,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        // The app's row first, as every change of app_secrets locks it (PostgreSQL; SQLite's
        // write lock covers it): the trigger that copies the live secrets onto it (migration
        // 0014) then waits for no one while this transaction holds the secret's row.
        let sql = format!("SELECT id FROM apps WHERE id = $1{}", DB::LOCK_FOR_UPDATE);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(app.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let sql = "DELETE FROM app_secrets WHERE id = $1 AND app_id = $2";
        Self::delete_row_and_commit(tx, sql, &[id.0, app.0], event).await
    }

    async fn mark_used(
        &self,
        tokens: &[AuthorizationId],
        secrets: &[(AppId, SecretDigest)],
        now: OffsetDateTime,
        unless_after: OffsetDateTime,
    ) -> Result<()> {
        // Statements of at most this many ids: far below both engines' parameter limits.
        const CHUNK: usize = 500;
        let mut tx = self.write().await?;
        for chunk in tokens.chunks(CHUNK) {
            let ids: Vec<String> = (3..chunk.len() + 3).map(|i| format!("${i}")).collect();
            // `updated_at` stays: a use is no change of the authorization.
            let sql = format!(
                "UPDATE authorizations SET last_used_at = $1 \
                 WHERE (last_used_at IS NULL OR last_used_at <= $2) AND id IN ({})",
                ids.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now.unix_timestamp())
                .bind(unless_after.unix_timestamp());
            for id in chunk {
                query = query.bind(id.0);
            }
            query.execute(&mut *tx).await.map_err(map_err)?;
        }
        for (app, digest) in secrets {
            sqlx::query(
                "UPDATE app_secrets SET last_used_at = $1 \
                 WHERE app_id = $2 AND digest = $3 AND (last_used_at IS NULL OR last_used_at <= $4)",
            )
            .bind(now.unix_timestamp())
            .bind(app.0)
            .bind(&digest.0[..])
            .bind(unless_after.unix_timestamp())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn insert_audit_event(&self, event: &crate::domain::audit::NewEvent) -> Result<()> {
        let mut tx = self.write().await?;
        record_event(&mut tx, event, None).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_audit_events(
        &self,
        query: &crate::domain::audit::Query,
    ) -> Result<Vec<crate::domain::audit::Event>> {
        select_audit_events(&self.pool, query).await
    }
}

/// Stores a client secret of app `app`; its id.
pub(super) async fn insert_secret<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    app: i64,
    digest: &SecretDigest,
    last_eight: Option<&str>,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO app_secrets (app_id, digest, last_eight, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(app)
    .bind(&digest.0[..])
    .bind(last_eight)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)
}
