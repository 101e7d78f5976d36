// The SQL both engines share, written once with `$N` placeholders (which SQLite and
// PostgreSQL both take): this file and `rows.rs`, `store.rs`, `fixture.rs` and `transfer.rs`
// are included (`include!`) into `sqlite.rs` and `postgres.rs`, and compiled once in each.
//
// What the including module defines for them:
// - `Db` (the `sqlx::Database`), `DbRow` (its row), `StoreImpl` (the engine's store type,
//   with fields `pool`, `seeds: Arc<Seeds>`, `direct: Arc<Direct>`,
//   `lookups: Arc<dyn Lookups>` and `serving: Serving`);
// - the dialect: `BEGIN_WRITE` (starts a write transaction), `LOCK_FOR_UPDATE` and
//   `LOCK_AUTHORIZATION_FOR_UPDATE` (appended to reads a write depends on), `GRANT_SELECT`,
//   `id_or_next`, `sync_sequence`, `sequence_position` and `set_sequence_position`;
// - `map_err` (sqlx errors to `Error`, constraint names included) and `backend`;
// - on `StoreImpl`: `SNAPSHOTS`, `copy_to`, `restore_from` (test-control snapshots) and
//   `insert_authorization_rows` (a bulk insert, which each engine batches its own way).

use async_trait::async_trait;
use sqlx::{Row, Transaction};
use time::{Duration, OffsetDateTime};

use super::{
    AppAndToken, AppUpsert, AuthorizationEdit, Counter, CounterKind, FixtureOutcome, FixturePlan, OrgUpsert,
    Lookups, RepoUpsert, Store, UpsertResult, UserUpsert,
};
use crate::domain::account::{
    Account, AccountRef, AccountType, Repository, RepositoryId, RepositorySelection, TokenScope,
};
use crate::domain::app::{App, AppKind, AppSummary, ClientSecretId, NewApp, StoredClientSecret};
use crate::domain::app_token::TokenRecord;
use crate::domain::audit::NewEvent;
use crate::domain::authorization::{Authorization, NewAuthorization};
use crate::domain::device_flow::{DeviceState, NewDeviceCode, StoredDeviceCode};
use crate::domain::grant::Grant;
use crate::domain::otp::TotpSecret;
use crate::domain::permission::Permissions;
use crate::domain::scope::Scopes;
use crate::domain::secret::{PasswordHashString, SecretDigest, SecretDigests};
use crate::domain::session::{NewSession, Session, SessionHash};
use crate::domain::web_flow::{StoredCode, TOKENS_PER_SCOPE_SET};
use crate::domain::token::{RefreshHash, TokenHash};
use crate::domain::user_token::{Flow, NewRefreshToken, Refreshed, StoredRefreshToken};
use crate::domain::user::{NewUser, User};
use super::counters::CounterRows;
use super::seeds::{KeySource, Seeds};
use super::serving::Serving;
use crate::domain::{AppId, AuthorizationId, ClientId, GrantId, Login, Page, PageRequest, UserId};
