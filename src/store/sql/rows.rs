//! Row decoding and the SELECT lists both engines share.

use time::{Duration, OffsetDateTime};

use super::backend;
use super::engine::DbRow;
use crate::domain::account::{Account, AccountType, RepositoryId, RepositorySelection, TokenScope};
use crate::domain::app::{App, AppKind, AppSummary, ClientSecretId, StoredClientSecret};
use crate::domain::app_token::TokenRecord;
use crate::domain::authorization::Authorization;
use crate::domain::device_flow::{DeviceState, StoredDeviceCode};
use crate::domain::grant::Grant;
use crate::domain::permission::Permissions;
use crate::domain::scope::Scopes;
use crate::domain::secret::{PasswordHashString, SecretDigest, SecretDigests};
use crate::domain::token::TokenHash;
use crate::domain::user::User;
use crate::domain::{AppId, AuthorizationId, ClientId, GrantId, Login, PageRequest, UserId};
use crate::store::seeds::Seeds;
use crate::store::{AppAndToken, Error, Result};

pub(in crate::store) fn timestamp(seconds: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(backend)
}

pub(in crate::store) fn corrupt(what: &str) -> Error {
    Error::Backend(format!("stored {what} is not valid").into())
}

pub(in crate::store) const USER_COLUMNS: &str = "id, login, email, password_hash, totp_secret, site_admin, created_at, updated_at, suspended_at, \
     suspension_reason";

pub(in crate::store) fn user_from_row(row: &impl DbRow, seeds: &Seeds) -> Result<User> {
    user_from_columns(row, ToOwned::to_owned, seeds)
}

/// A user from a row whose user columns are named by `column` (plain, or aliased in a join).
/// The TOTP secret is stored sealed under the database's key (`store/seeds.rs`) and opened here.
pub(in crate::store) fn user_from_columns(
    row: &impl DbRow,
    get: impl Fn(&str) -> String,
    seeds: &Seeds,
) -> Result<User> {
    let id = UserId(row.try_get(get("id").as_str()).map_err(backend)?);
    let login: String = row.try_get(get("login").as_str()).map_err(backend)?;
    let totp: Option<String> = row.try_get(get("totp_secret").as_str()).map_err(backend)?;
    Ok(User {
        id,
        login: Login::parse(&login).ok_or_else(|| corrupt("login"))?,
        email: row.try_get(get("email").as_str()).map_err(backend)?,
        password_hash: PasswordHashString(
            row.try_get(get("password_hash").as_str())
                .map_err(backend)?,
        ),
        totp_secret: totp.map(|t| seeds.open(&t, id)).transpose()?,
        site_admin: row.try_get(get("site_admin").as_str()).map_err(backend)?,
        created_at: timestamp(row.try_get(get("created_at").as_str()).map_err(backend)?)?,
        updated_at: timestamp(row.try_get(get("updated_at").as_str()).map_err(backend)?)?,
        suspended_at: row
            .try_get::<Option<i64>, _>(get("suspended_at").as_str())
            .map_err(backend)?
            .map(timestamp)
            .transpose()?,
        suspension_reason: row
            .try_get(get("suspension_reason").as_str())
            .map_err(backend)?,
    })
}

/// A token's authorization and its user in one query: the hot path of every token check.
/// The user's columns are aliased `owner_*`; organizations cannot hold tokens.
pub(in crate::store) const TOKEN_SELECT: &str = "SELECT a.id, a.user_id, a.scopes, a.token_hash, a.token_last_eight, a.note, \
     a.note_url, a.fingerprint, a.created_at, a.updated_at, a.expires_at, a.last_used_at, p.id AS app_id, p.kind AS app_kind, \
     p.name AS app_name, p.url AS app_url, p.client_id AS app_client_id, p.user_token_ttl AS app_user_token_ttl, \
     a.scope_target_id, a.scope_permissions, a.scope_repository_selection, a.scope_repository_ids, \
     t.login AS target_login, t.type AS target_type, t.site_admin AS target_site_admin, \
     o.id AS owner_id, o.login AS owner_login, o.email AS owner_email, o.password_hash AS owner_password_hash, \
     o.totp_secret AS owner_totp_secret, o.site_admin AS owner_site_admin, o.created_at AS owner_created_at, \
     o.updated_at AS owner_updated_at, o.suspended_at AS owner_suspended_at, \
     o.suspension_reason AS owner_suspension_reason \
     FROM authorizations a JOIN users o ON o.id = a.user_id AND o.type = 'User' \
     LEFT JOIN apps p ON p.id = a.app_id LEFT JOIN users t ON t.id = a.scope_target_id";

pub(in crate::store) fn token_record_from_row(
    row: &impl DbRow,
    seeds: &Seeds,
) -> Result<TokenRecord> {
    Ok(TokenRecord {
        authorization: authorization_from_row(row)?,
        user: user_from_columns(row, |name| format!("owner_{name}"), seeds)?,
    })
}

/// An app's first two secrets, oldest first, as columns `secret_1` and `secret_2` of a row of
/// apps `p` (NULL where it has fewer). The app's row holds copies of them, kept by triggers
/// (migration 0014), so reading an app is one row of one table.
macro_rules! app_secret_columns {
    ($alias:literal, $prefix:literal) => {
        concat!(
            $alias,
            ".secret_1 AS ",
            $prefix,
            "secret_1, ",
            $alias,
            ".secret_2 AS ",
            $prefix,
            "secret_2"
        )
    };
}

pub(in crate::store) const APP_SELECT: &str = concat!(
    "SELECT p.id, p.kind, p.name, p.url, p.owner_id, u.login AS owner_login, p.client_id, p.callback_url, p.device_flow, ",
    app_secret_columns!("p", ""),
    ", p.user_token_ttl, p.created_at, p.updated_at FROM apps p JOIN users u ON u.id = p.owner_id"
);

/// Seconds, as stored, to a lifetime.
pub(in crate::store) fn ttl(seconds: Option<i64>) -> Option<Duration> {
    seconds.map(Duration::seconds)
}

pub(in crate::store) fn digest(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| corrupt("digest"))
}

pub(in crate::store) fn app_from_row(row: &impl DbRow) -> Result<App> {
    app_from_columns(row, str::to_owned)
}

pub(in crate::store) fn app_from_columns(
    row: &impl DbRow,
    get: impl Fn(&str) -> String,
) -> Result<App> {
    let kind: String = row.try_get(get("kind").as_str()).map_err(backend)?;
    let client_id: String = row.try_get(get("client_id").as_str()).map_err(backend)?;
    let owner: String = row.try_get(get("owner_login").as_str()).map_err(backend)?;
    let mut secrets = Vec::with_capacity(2);
    for column in ["secret_1", "secret_2"] {
        let secret: Option<Vec<u8>> = row.try_get(get(column).as_str()).map_err(backend)?;
        if let Some(secret) = secret {
            secrets.push(SecretDigest(digest(&secret)?));
        }
    }
    Ok(App {
        id: AppId(row.try_get(get("id").as_str()).map_err(backend)?),
        kind: AppKind::parse(&kind).ok_or_else(|| corrupt("app kind"))?,
        name: row.try_get(get("name").as_str()).map_err(backend)?,
        url: row.try_get(get("url").as_str()).map_err(backend)?,
        callback_url: row.try_get(get("callback_url").as_str()).map_err(backend)?,
        device_flow: row.try_get(get("device_flow").as_str()).map_err(backend)?,
        owner_id: UserId(row.try_get(get("owner_id").as_str()).map_err(backend)?),
        owner_login: Login::parse(&owner).ok_or_else(|| corrupt("login"))?,
        client_id: ClientId::parse(&client_id).ok_or_else(|| corrupt("client id"))?,
        client_secrets: SecretDigests::new(secrets),
        user_token_ttl: ttl(row
            .try_get(get("user_token_ttl").as_str())
            .map_err(backend)?),
        created_at: timestamp(row.try_get(get("created_at").as_str()).map_err(backend)?)?,
        updated_at: timestamp(row.try_get(get("updated_at").as_str()).map_err(backend)?)?,
    })
}

/// The columns of the app that a token check names by client id (`apps r JOIN users ru`), as
/// `req_*` beside the token's.
pub(in crate::store) const REQUESTING_APP_COLUMNS: &str = concat!(
    "r.id AS req_id, r.kind AS req_kind, r.name AS req_name, r.url AS req_url, \
     r.owner_id AS req_owner_id, ru.login AS req_owner_login, r.client_id AS req_client_id, \
     r.callback_url AS req_callback_url, r.device_flow AS req_device_flow, ",
    app_secret_columns!("r", "req_"),
    ", r.user_token_ttl AS req_user_token_ttl, r.created_at AS req_created_at, r.updated_at AS req_updated_at"
);

/// The app a client id names (columns `req_*`) and, in the same row, the token with hash `$2`
/// whichever app it belongs to (the columns of [`TOKEN_SELECT`], NULL if there is none).
pub(in crate::store) fn app_and_token_select() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {REQUESTING_APP_COLUMNS}, t.* FROM apps r JOIN users ru ON ru.id = r.owner_id \
             LEFT JOIN ({TOKEN_SELECT} WHERE a.token_hash = $2) t ON 1 = 1 \
             WHERE r.client_id = $1"
        )
    })
}

pub(in crate::store) fn app_and_token_from_row(
    row: &impl DbRow,
    seeds: &Seeds,
) -> Result<AppAndToken> {
    let app = app_from_columns(row, |name| format!("req_{name}"))?;
    let token = match row.try_get::<Option<i64>, _>("id").map_err(backend)? {
        Some(_) => Some(std::sync::Arc::new(token_record_from_row(row, seeds)?)),
        None => None,
    };
    Ok((Some(std::sync::Arc::new(app)), token))
}

/// The app columns of a joined row (`app_*`), absent for personal access tokens.
pub(in crate::store) fn app_summary_from_row(row: &impl DbRow) -> Result<Option<AppSummary>> {
    let Some(id) = row.try_get::<Option<i64>, _>("app_id").map_err(backend)? else {
        return Ok(None);
    };
    let kind: String = row.try_get("app_kind").map_err(backend)?;
    let client_id: String = row.try_get("app_client_id").map_err(backend)?;
    Ok(Some(AppSummary {
        id: AppId(id),
        kind: AppKind::parse(&kind).ok_or_else(|| corrupt("app kind"))?,
        name: row.try_get("app_name").map_err(backend)?,
        url: row.try_get("app_url").map_err(backend)?,
        client_id: ClientId::parse(&client_id).ok_or_else(|| corrupt("client id"))?,
        token_ttl: ttl(row.try_get("app_user_token_ttl").map_err(backend)?),
    }))
}

pub(in crate::store) const AUTHORIZATION_SELECT: &str = "SELECT a.id, a.user_id, a.scopes, a.token_hash, a.token_last_eight, a.note, \
     a.note_url, a.fingerprint, a.created_at, a.updated_at, a.expires_at, a.last_used_at, p.id AS app_id, p.kind AS app_kind, \
     p.name AS app_name, p.url AS app_url, p.client_id AS app_client_id, p.user_token_ttl AS app_user_token_ttl, \
     a.scope_target_id, a.scope_permissions, a.scope_repository_selection, a.scope_repository_ids, \
     t.login AS target_login, t.type AS target_type, t.site_admin AS target_site_admin \
     FROM authorizations a LEFT JOIN apps p ON p.id = a.app_id LEFT JOIN users t ON t.id = a.scope_target_id";

/// The columns every authorization insert writes, in the order of its values (the single-row
/// insert's `$1`–`$16`, SQLite's multi-row `VALUES`, PostgreSQL's `unnest` arrays).
pub(in crate::store) const AUTHORIZATION_INSERT: &str = "INSERT INTO authorizations (user_id, app_id, grant_id, scopes, token_hash, \
     token_last_eight, note, note_url, fingerprint, created_at, updated_at, expires_at, scope_target_id, \
     scope_permissions, scope_repository_selection, scope_repository_ids)";

/// The stored form of a scoped token's selected repositories: ids separated by spaces.
pub(in crate::store) fn stored_repository_ids(scope: &TokenScope) -> Option<String> {
    match &scope.repositories {
        RepositorySelection::All => None,
        RepositorySelection::Selected(ids) => Some(
            ids.iter()
                .map(|id| id.0.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// The stored form of permissions: `name=level` pairs separated by spaces, in order.
pub(in crate::store) fn permissions_to_stored(permissions: &Permissions) -> String {
    permissions
        .iter()
        .map(|(n, l)| format!("{n}={l}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(in crate::store) fn scope_from_row(row: &impl DbRow) -> Result<Option<TokenScope>> {
    let Some(target_id) = row
        .try_get::<Option<i64>, _>("scope_target_id")
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let login: String = row.try_get("target_login").map_err(backend)?;
    let kind: String = row.try_get("target_type").map_err(backend)?;
    let permissions: String = row.try_get("scope_permissions").map_err(backend)?;
    let selection: String = row.try_get("scope_repository_selection").map_err(backend)?;
    let ids: Option<String> = row.try_get("scope_repository_ids").map_err(backend)?;
    let pairs = permissions
        .split_whitespace()
        .map(|pair| {
            pair.split_once('=')
                .map(|(n, l)| (n.to_owned(), l.to_owned()))
                .ok_or_else(|| corrupt("permissions"))
        })
        .collect::<Result<Vec<_>>>()?;
    let repositories = if selection == "all" {
        RepositorySelection::All
    } else {
        let ids = ids.unwrap_or_default();
        let ids = ids.split_whitespace().map(|id| {
            id.parse()
                .map(RepositoryId)
                .map_err(|_| corrupt("repository ids"))
        });
        RepositorySelection::Selected(ids.collect::<Result<_>>()?)
    };
    Ok(Some(TokenScope {
        target: Account {
            id: UserId(target_id),
            login: Login::parse(&login).ok_or_else(|| corrupt("login"))?,
            kind: AccountType::parse(&kind).ok_or_else(|| corrupt("account type"))?,
            site_admin: row.try_get("target_site_admin").map_err(backend)?,
        },
        permissions: Permissions::from_stored(pairs),
        repositories,
    }))
}

pub(in crate::store) fn authorization_from_row(row: &impl DbRow) -> Result<Authorization> {
    let scopes: String = row.try_get("scopes").map_err(backend)?;
    let hash: Vec<u8> = row.try_get("token_hash").map_err(backend)?;
    let fingerprint: String = row.try_get("fingerprint").map_err(backend)?;
    let expires_at: Option<i64> = row.try_get("expires_at").map_err(backend)?;
    Ok(Authorization {
        id: AuthorizationId(row.try_get("id").map_err(backend)?),
        user_id: UserId(row.try_get("user_id").map_err(backend)?),
        app: app_summary_from_row(row)?,
        scopes: Scopes::from_stored_text(&scopes),
        token_hash: TokenHash(digest(&hash)?),
        token_last_eight: row.try_get("token_last_eight").map_err(backend)?,
        note: row.try_get("note").map_err(backend)?,
        note_url: row.try_get("note_url").map_err(backend)?,
        fingerprint: (!fingerprint.is_empty()).then_some(fingerprint),
        created_at: timestamp(row.try_get("created_at").map_err(backend)?)?,
        updated_at: timestamp(row.try_get("updated_at").map_err(backend)?)?,
        expires_at: expires_at.map(timestamp).transpose()?,
        scoped_to: scope_from_row(row)?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")
            .map_err(backend)?
            .map(timestamp)
            .transpose()?,
    })
}

pub(in crate::store) fn grant_from_row(row: &impl DbRow) -> Result<Grant> {
    let scopes: Option<String> = row.try_get("scopes").map_err(backend)?;
    let created_at: i64 = row.try_get("created_at").map_err(backend)?;
    let updated_at: Option<i64> = row.try_get("updated_at").map_err(backend)?;
    Ok(Grant {
        id: GrantId(row.try_get("id").map_err(backend)?),
        app: app_summary_from_row(row)?.ok_or_else(|| corrupt("grant"))?,
        scopes: Scopes::union([&Scopes::from_stored_text(
            scopes.as_deref().unwrap_or_default(),
        )]),
        created_at: timestamp(created_at)?,
        updated_at: timestamp(updated_at.unwrap_or(created_at))?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")
            .map_err(backend)?
            .map(timestamp)
            .transpose()?,
    })
}

pub(in crate::store) fn account_from_row(row: &impl DbRow) -> Result<Account> {
    let login: String = row.try_get("login").map_err(backend)?;
    let kind: String = row.try_get("type").map_err(backend)?;
    Ok(Account {
        id: UserId(row.try_get("id").map_err(backend)?),
        login: Login::parse(&login).ok_or_else(|| corrupt("login"))?,
        kind: AccountType::parse(&kind).ok_or_else(|| corrupt("account type"))?,
        site_admin: row.try_get("site_admin").map_err(backend)?,
    })
}

/// Which authorization a delete removes: one of a user's, or the one of an app's tokens.
pub(in crate::store) enum Doomed<'a> {
    Owned { user: UserId, id: AuthorizationId },
    Token { hash: &'a TokenHash, app: AppId },
}

pub(in crate::store) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.per_page),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// A device-flow code row (`SELECT device_code_hash, app_id, scopes, state, user_id,
/// interval_seconds, last_polled_at, expires_at`).
pub(in crate::store) fn device_code_from_row(row: &impl DbRow) -> Result<StoredDeviceCode> {
    let hash: Vec<u8> = row.try_get("device_code_hash").map_err(backend)?;
    let scopes: String = row.try_get("scopes").map_err(backend)?;
    let state: String = row.try_get("state").map_err(backend)?;
    let user: Option<i64> = row.try_get("user_id").map_err(backend)?;
    let state = match (state.as_str(), user) {
        ("pending", _) => DeviceState::Pending,
        ("approved", Some(user)) => DeviceState::Approved(UserId(user)),
        ("denied", _) => DeviceState::Denied,
        _ => return Err(corrupt("device code state")),
    };
    let last_polled_at: Option<i64> = row.try_get("last_polled_at").map_err(backend)?;
    Ok(StoredDeviceCode {
        device_code_hash: digest(&hash)?,
        app_id: AppId(row.try_get("app_id").map_err(backend)?),
        scopes: Scopes::from_stored_text(&scopes),
        state,
        interval: row.try_get("interval_seconds").map_err(backend)?,
        last_polled_at: last_polled_at.map(timestamp).transpose()?,
        expires_at: timestamp(row.try_get("expires_at").map_err(backend)?)?,
    })
}

/// A row of `SELECT id, last_eight, created_at, last_used_at FROM app_secrets`.
pub(in crate::store) fn client_secret_from_row(row: &impl DbRow) -> Result<StoredClientSecret> {
    let last_used_at: Option<i64> = row.try_get("last_used_at").map_err(backend)?;
    Ok(StoredClientSecret {
        id: ClientSecretId(row.try_get("id").map_err(backend)?),
        last_eight: row.try_get("last_eight").map_err(backend)?,
        created_at: timestamp(row.try_get("created_at").map_err(backend)?)?,
        last_used_at: last_used_at.map(timestamp).transpose()?,
    })
}
