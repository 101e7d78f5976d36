//! `grantd user add|list|passwd|delete|unlock|suspend|unsuspend`.

use serde::Serialize;

use super::{explain, now, open_store, print, read_password};
use crate::config::{DbArgs, OutputArgs};
use crate::domain::clock::timestamp;
use crate::domain::limits;
use crate::domain::user::{self, User, UserSpec};

#[derive(Serialize)]
struct UserJson {
    id: i64,
    login: String,
    email: Option<String>,
    site_admin: bool,
    two_factor_authentication: bool,
    created_at: String,
    updated_at: String,
}

impl From<&User> for UserJson {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            login: user.login.to_string(),
            email: user.email.clone(),
            site_admin: user.site_admin,
            two_factor_authentication: user.totp_secret.is_some(),
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
        }
    }
}

pub async fn add(
    db: &DbArgs,
    output: OutputArgs,
    login: String,
    email: Option<String>,
    totp_secret: Option<String>,
    site_admin: bool,
) -> anyhow::Result<()> {
    let password = read_password()?;
    let store = open_store(db).await?;
    let spec = UserSpec {
        login,
        password,
        email,
        totp_secret,
        site_admin,
    };
    let user = user::add(&*store, spec, now())
        .await
        .map_err(|e| explain(e, String::new))?;
    print(output, &UserJson::from(&user), || {
        format!("added user {} (id {})", user.login, user.id)
    })
}

pub async fn list(db: &DbArgs, output: OutputArgs) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let users = store.list_users().await?;
    let json: Vec<UserJson> = users.iter().map(UserJson::from).collect();
    print(output, &json, || {
        let header = format!(
            "{:<8} {:<39} {:<5} {:<10} EMAIL",
            "ID", "LOGIN", "2FA", "SITE_ADMIN"
        );
        let rows = json.iter().map(|u| {
            let email = u.email.as_deref().unwrap_or("-");
            let two_factor = u.two_factor_authentication;
            format!(
                "{:<8} {:<39} {:<5} {:<10} {email}",
                u.id, u.login, two_factor, u.site_admin
            )
        });
        std::iter::once(header)
            .chain(rows)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub async fn passwd(db: &DbArgs, output: OutputArgs, login: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    let store = open_store(db).await?;
    let user = user::change_password(&*store, login, password, now())
        .await
        .map_err(|e| {
            explain(e, || {
                format!("no user named {login:?} (see `grantd user list`)")
            })
        })?;
    print(output, &UserJson::from(&user), || {
        format!("changed the password of {}", user.login)
    })
}

pub async fn delete(db: &DbArgs, output: OutputArgs, login: &str) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let not_found = || format!("no user named {login:?} (see `grantd user list`)");
    let user = user::delete(&*store, login, now())
        .await
        .map_err(|e| explain(e, not_found))?;
    print(
        output,
        &serde_json::json!({"deleted": true, "login": user.login.to_string()}),
        || format!("deleted user {}", user.login),
    )
}

pub async fn unlock(db: &DbArgs, output: OutputArgs, login: &str) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let not_found = || format!("no user named {login:?} (see `grantd user list`)");
    let user = user::find(&*store, login)
        .await
        .map_err(|e| explain(e, not_found))?;
    let had_failures = limits::unlock(&*store, &user.login)
        .await
        .map_err(|e| explain(e, not_found))?;
    print(
        output,
        &serde_json::json!({"login": user.login.to_string(), "had_failed_sign_ins": had_failures}),
        || {
            if had_failures {
                format!(
                    "forgot the failed sign-ins of {}: they can sign in again",
                    user.login
                )
            } else {
                format!("{} had no failed sign-ins to forget", user.login)
            }
        },
    )
}

/// `grantd user suspend|unsuspend`.
pub async fn suspend(
    db: &DbArgs,
    output: OutputArgs,
    login: &str,
    suspend: bool,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let not_found = || format!("no user named {login:?} (see `grantd user list`)");
    let user = user::set_suspended_by_operator(&*store, login, suspend, reason, now())
        .await
        .map_err(|e| explain(e, not_found))?;
    let suspended = user.suspended_at.is_some();
    print(
        output,
        &serde_json::json!({"login": user.login.to_string(), "suspended": suspended}),
        || {
            if suspended {
                format!(
                    "suspended {}: their tokens and sign-in are refused",
                    user.login
                )
            } else {
                format!("{} is not suspended", user.login)
            }
        },
    )
}
