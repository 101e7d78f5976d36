//! Fixture upserts. Each brings one entry of a fixture plan into the database inside the
//! caller's transaction, and says whether it created, updated or left it.

use sqlx::Transaction;

use super::engine::Engine;
use super::rows::{APP_SELECT, app_from_row, corrupt};
use super::store::insert_secret;
use super::{SqlStore, map_err};
use crate::domain::{ClientId, Login, UserId};
use crate::store::seeds::Seeds;
use crate::store::{
    AppUpsert, Constraint, Error, OrgUpsert, RepoUpsert, Result, UpsertResult, UserUpsert,
};

pub(super) async fn upsert_user<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    seeds: &Seeds,
    user: &UserUpsert,
    now: i64,
) -> Result<UpsertResult> {
    let Some(current) = SqlStore::<DB>::fetch_user(&mut **tx, seeds, &user.login.key()).await?
    else {
        let hash = user
            .password_hash
            .as_ref()
            .ok_or_else(|| corrupt("fixture plan: new user without password"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (login, login_key, email, password_hash, totp_secret, site_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7) RETURNING id",
        )
        .bind(user.login.as_str())
        .bind(user.login.key())
        .bind(&user.email)
        .bind(&hash.0)
        .bind(user.site_admin)
        .bind(now)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
        if user.totp_secret.is_some() {
            SqlStore::<DB>::store_totp_secret(tx, seeds, UserId(id), user.totp_secret.as_ref())
                .await?;
        }
        return Ok(UpsertResult::Created);
    };
    let same = current.login.as_str() == user.login.as_str()
        && current.email == user.email
        && user.password_hash.is_none()
        && current.totp_secret == user.totp_secret
        && current.site_admin == user.site_admin;
    if same {
        return Ok(UpsertResult::Unchanged);
    }
    let hash = user
        .password_hash
        .as_ref()
        .unwrap_or(&current.password_hash);
    let totp = user
        .totp_secret
        .as_ref()
        .map(|secret| seeds.seal(secret, current.id))
        .transpose()?;
    sqlx::query("UPDATE users SET login = $1, email = $2, password_hash = $3, totp_secret = $4, site_admin = $5, updated_at = $6 WHERE id = $7")
        .bind(user.login.as_str())
        .bind(&user.email)
        .bind(&hash.0)
        .bind(totp)
        .bind(user.site_admin)
        .bind(now)
        .bind(current.id.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(UpsertResult::Updated)
}

pub(super) async fn upsert_app<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    seeds: &Seeds,
    app: &AppUpsert,
    now: i64,
) -> Result<(ClientId, UpsertResult)> {
    let owner = SqlStore::<DB>::fetch_user(&mut **tx, seeds, &app.owner.key())
        .await?
        .ok_or_else(|| corrupt("fixture plan: unknown owner"))?;
    let current = if let Some(client_id) = &app.client_id {
        SqlStore::<DB>::fetch_app(&mut **tx, client_id.as_str()).await?
    } else {
        let sql =
            format!("{APP_SELECT} WHERE p.owner_id = $1 AND p.name = $2 ORDER BY p.id LIMIT 1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.id.0)
            .bind(&app.name)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
        row.as_ref().map(app_from_row).transpose()?
    };
    let Some(current) = current else {
        let client_id = app
            .client_id
            .clone()
            .unwrap_or_else(|| app.generated_client_id.clone());
        let secret = app.secret.unwrap_or(app.generated_secret);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO apps (kind, name, url, owner_id, client_id, expire_user_tokens, \
             user_token_ttl, created_at, updated_at, callback_url, device_flow) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(app.kind.as_str())
        .bind(&app.name)
        .bind(&app.url)
        .bind(owner.id.0)
        .bind(client_id.as_str())
        .bind(app.user_token_ttl.is_some())
        .bind(app.user_token_ttl.map(time::SignedDuration::whole_seconds))
        .bind(now)
        .bind(now)
        .bind(&app.callback_url)
        .bind(app.device_flow)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
        insert_secret(tx, id, &secret, Some(&app.secret_last_eight), now).await?;
        return Ok((client_id, UpsertResult::Created));
    };
    // The file's secret replaces the stored ones unless it is one of them: a rotation made on
    // the settings page survives a re-seed that names either live secret.
    let new_secret = app.secret.filter(|s| !current.client_secrets.contains(s));
    let same = current.kind == app.kind
        && current.user_token_ttl == app.user_token_ttl
        && current.name == app.name
        && current.url == app.url
        && current.callback_url == app.callback_url
        && current.device_flow == app.device_flow
        && current.owner_id == owner.id
        && new_secret.is_none();
    if same {
        return Ok((current.client_id, UpsertResult::Unchanged));
    }
    // The app's row before its secrets, the order every change of app_secrets keeps (see
    // migration 0014's trigger).
    sqlx::query(
        "UPDATE apps SET kind = $1, name = $2, url = $3, owner_id = $4, \
         expire_user_tokens = $5, user_token_ttl = $6, updated_at = $7, callback_url = $9, \
         device_flow = $10 WHERE id = $8",
    )
    .bind(app.kind.as_str())
    .bind(&app.name)
    .bind(&app.url)
    .bind(owner.id.0)
    .bind(app.user_token_ttl.is_some())
    .bind(app.user_token_ttl.map(time::SignedDuration::whole_seconds))
    .bind(now)
    .bind(current.id.0)
    .bind(&app.callback_url)
    .bind(app.device_flow)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    if let Some(secret) = new_secret {
        sqlx::query("DELETE FROM app_secrets WHERE app_id = $1")
            .bind(current.id.0)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
        insert_secret(tx, current.id.0, &secret, Some(&app.secret_last_eight), now).await?;
    }
    Ok((current.client_id, UpsertResult::Updated))
}

async fn find_account_id<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    login: &Login,
) -> Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, type FROM users WHERE login_key = $1")
        .bind(login.key())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)
}

pub(super) async fn upsert_org<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    org: &OrgUpsert,
    now: i64,
) -> Result<UpsertResult> {
    let mut members = Vec::with_capacity(org.members.len());
    for login in &org.members {
        match find_account_id(tx, login).await? {
            Some((id, kind)) if kind == "User" => members.push(id),
            _ => return Err(corrupt("fixture plan: unknown member")),
        }
    }
    members.sort_unstable();
    members.dedup();
    let (id, created) = match find_account_id(tx, &org.login).await? {
        Some((_, kind)) if kind != "Organization" => {
            return Err(Error::Conflict(Constraint::Login));
        }
        Some((id, _)) if org.id.is_some_and(|wanted| wanted != id) => {
            return Err(Error::Conflict(Constraint::AccountId));
        }
        Some((id, _)) => (id, false),
        None => {
            let sql = format!(
                "INSERT INTO users (id, type, login, login_key, site_admin, created_at, updated_at) \
                 VALUES ({}, 'Organization', $2, $3, FALSE, $4, $5) RETURNING id",
                DB::id_or_next("$1", "users")
            );
            let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(org.id)
                .bind(org.login.as_str())
                .bind(org.login.key())
                .bind(now)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(map_err)?;
            skip_explicit_id(tx, org.id, "users").await?;
            (id, true)
        }
    };
    let current: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM org_members WHERE org_id = $1 ORDER BY user_id")
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(map_err)?;
    if current == members {
        return Ok(if created {
            UpsertResult::Created
        } else {
            UpsertResult::Unchanged
        });
    }
    sqlx::query("DELETE FROM org_members WHERE org_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for member in members {
        sqlx::query("INSERT INTO org_members (org_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(member)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(if created {
        UpsertResult::Created
    } else {
        UpsertResult::Updated
    })
}

pub(super) async fn upsert_repo<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    repo: &RepoUpsert,
) -> Result<UpsertResult> {
    let Some((owner, _)) = find_account_id(tx, &repo.owner).await? else {
        return Err(corrupt("fixture plan: unknown repository owner"));
    };
    let name_key = repo.name.to_ascii_lowercase();
    let current: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM repositories WHERE owner_id = $1 AND name_key = $2")
            .bind(owner)
            .bind(&name_key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
    match current {
        Some((id, _)) if repo.id.is_some_and(|wanted| wanted != id) => {
            Err(Error::Conflict(Constraint::AccountId))
        }
        Some((_, name)) if name == repo.name => Ok(UpsertResult::Unchanged),
        Some((id, _)) => {
            sqlx::query("UPDATE repositories SET name = $1 WHERE id = $2")
                .bind(&repo.name)
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            Ok(UpsertResult::Updated)
        }
        None => {
            let sql = format!(
                "INSERT INTO repositories (id, owner_id, name, name_key) VALUES ({}, $2, $3, $4)",
                DB::id_or_next("$1", "repositories")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(repo.id)
                .bind(owner)
                .bind(&repo.name)
                .bind(&name_key)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            skip_explicit_id(tx, repo.id, "repositories").await?;
            Ok(UpsertResult::Created)
        }
    }
}

/// After a fixture fixed an id, moves the table's sequence past it where the engine needs that
/// (PostgreSQL), so that later ids are never handed out twice.
async fn skip_explicit_id<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    id: Option<i64>,
    table: &str,
) -> Result<()> {
    if let (Some(_), Some(sql)) = (id, DB::sync_sequence(table)) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}
