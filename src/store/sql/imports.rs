// Included into each SQL backend module: the imports of the shared SQL code.

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
