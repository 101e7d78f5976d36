//! GitHub Enterprise Server's user administration for site admins: creating and deleting
//! users (`POST /admin/users`, `DELETE /admin/users/{username}`) and impersonation tokens
//! (`POST` / `DELETE /admin/users/{username}/authorizations`). Only the rules: who may, what
//! a login becomes, what goes with a deleted user. The HTTP layer decides what a refusal looks
//! like; to this module anyone but a site admin gets [`Error::NotFound`].

use time::OffsetDateTime;

use super::audit::{Action, NewEvent, Source};
use super::authorization::{self, Authorization, CreateRequest, Created, GetOrCreate};
use super::limits::{LoginThrottle, Origin};
use super::secret::Password;
use super::user::{self, NewUser, User};
use super::{Error, FieldError, Login, PageRequest, error::ErrorCode};
use crate::store::{self, Store};

/// The note of a user's impersonation token. GHES keeps one impersonation token per user;
/// grantd stores it as a personal access token (classic) with this note, which the unique
/// note of personal tokens keeps to one per user, even against racing requests.
pub const IMPERSONATION_NOTE: &str = "GitHub Site Administrator impersonation";

/// Longest email address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

fn invalid(field: &'static str, code: ErrorCode) -> Error {
    Error::invalid(FieldError {
        resource: "User",
        ..FieldError::new(field, code)
    })
}

fn require_site_admin(admin: &User) -> Result<(), Error> {
    if admin.site_admin {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// GHES's normalisation of a new login: every run of characters other than ASCII letters and
/// digits becomes one hyphen, and hyphens at either end go (`octo_cat` → `octo-cat`).
pub fn normalize_login(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// What `POST /admin/users` asks for.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub login: String,
    /// GHES requires it with built-in authentication, which is grantd's.
    pub email: Option<String>,
    pub suspended: bool,
}

/// `POST /admin/users`: a new user with no usable password (GHES mails an invitation; here
/// an operator sets one with `grantd user passwd`). A login or an email address that an
/// account already has is `already_exists`.
pub async fn create_user(
    store: &dyn Store,
    admin: &User,
    account: NewAccount,
    source: &Source,
    now: OffsetDateTime,
) -> Result<User, Error> {
    require_site_admin(admin)?;
    let login = Login::parse(&normalize_login(&account.login))
        .ok_or_else(|| invalid("login", ErrorCode::Invalid))?;
    let email = account
        .email
        .filter(|e| !e.is_empty())
        .ok_or_else(|| invalid("email", ErrorCode::MissingField))?;
    if email.chars().count() > MAX_EMAIL
        || !email.contains('@')
        || email.contains(char::is_whitespace)
    {
        return Err(invalid("email", ErrorCode::Invalid));
    }
    // An admin action, rare: reading the users is cheaper than an index nobody else needs.
    let users = store.list_users().await?;
    if users.iter().any(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    }) {
        return Err(invalid("email", ErrorCode::AlreadyExists));
    }
    // Random and never shown: nobody can sign in as the new user until a password is set.
    let unusable = Password::new(hex::encode(random_bytes()?));
    let new = NewUser {
        login,
        email: Some(email),
        password_hash: user::hash_password(unusable).await?,
        totp_secret: None,
        site_admin: false,
        now,
    };
    let event = NewEvent::by(Action::UserCreate, admin, source, now);
    let created = store.insert_user(&new, &event).await.map_err(|e| match e {
        store::Error::Conflict(store::Constraint::Login) => {
            invalid("login", ErrorCode::AlreadyExists)
        }
        other => other.into(),
    })?;
    if !account.suspended {
        return Ok(created);
    }
    let event = NewEvent::by(Action::UserSuspend, admin, source, now).about(&created);
    store
        .set_user_suspension(created.id, Some((now, "")), now, &event)
        .await?;
    user::find(store, created.login.as_str()).await
}

fn random_bytes() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// `DELETE /admin/users/{username}`: the user goes with their apps (and so those apps' grants
/// and tokens), their own tokens, grants and sessions. A site admin cannot delete themself
/// (GitHub: "any user account except your own").
pub async fn delete_user(
    store: &dyn Store,
    admin: &User,
    login: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_site_admin(admin)?;
    let user = user::find(store, login).await?;
    if user.id == admin.id {
        return Err(Error::invalid(FieldError {
            resource: "User",
            ..FieldError::custom("username", "You cannot delete yourself.")
        }));
    }
    // Apps first: the store refuses to delete a user who still owns one. An app registered
    // in between makes the delete refuse once more; then the next round takes it.
    for _ in 0..3 {
        for app in super::app::list_owned(store, user.id).await? {
            match super::app::delete_app(store, &app, Some(admin), source, now).await {
                // Deleted meanwhile by someone else: gone either way.
                Ok(()) | Err(Error::NotFound) => {}
                Err(other) => return Err(other),
            }
        }
        let event = NewEvent::by(Action::UserDelete, admin, source, now).about(&user);
        match store.delete_user(user.id, &event).await {
            Ok(true) => return Ok(()),
            Ok(false) => return Err(Error::NotFound),
            Err(store::Error::Conflict(store::Constraint::OwnsApps)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Err(Error::Internal(
        "the user kept registering apps while being deleted".into(),
    ))
}

/// The user's impersonation token, if there is one.
async fn find_impersonation(
    store: &dyn Store,
    user: &User,
) -> Result<Option<Authorization>, Error> {
    let mut page = PageRequest {
        page: 1,
        per_page: PageRequest::MAX_PER_PAGE,
    };
    loop {
        let found = store.list_authorizations(user.id, None, page).await?;
        if found.items.is_empty() {
            return Ok(None);
        }
        if let Some(token) = found
            .items
            .into_iter()
            .find(|a| a.app.is_none() && a.note.as_deref() == Some(IMPERSONATION_NOTE))
        {
            return Ok(Some(token));
        }
        page.page = page.page.saturating_add(1);
    }
}

/// `POST /admin/users/{username}/authorizations`: the user's impersonation token with
/// `scopes`, made if they have none ([`GetOrCreate::Created`], GitHub's 201, the token shown
/// this once) or the one they have ([`GetOrCreate::Existing`], 200, without the token).
pub async fn create_impersonation_token(
    store: &dyn Store,
    admin: &User,
    login: &str,
    scopes: Vec<String>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<GetOrCreate, Error> {
    require_site_admin(admin)?;
    let user = user::find(store, login).await?;
    // Checked before the lookup, so a bad request is refused even when a token exists.
    super::scope::Scopes::parse(&scopes)
        .map_err(|_| Error::invalid(FieldError::new("scopes", ErrorCode::Invalid)))?;
    // Two rounds: a concurrent create wins the note, and its token is then the one found.
    for _ in 0..2 {
        if let Some(existing) = find_impersonation(store, &user).await? {
            return Ok(GetOrCreate::Existing(existing));
        }
        let request = CreateRequest {
            scopes: Some(scopes.clone()),
            note: Some(IMPERSONATION_NOTE.to_owned()),
            ..CreateRequest::default()
        };
        // No app credentials are sent, so no failed app sign-in can be counted.
        let origin = Origin {
            address: None,
            throttle: LoginThrottle::default(),
        };
        let by = (Action::OauthAccessCreate, admin);
        match authorization::create_recorded(store, &user, request, origin, by, source, now).await {
            Ok(Created {
                authorization,
                token,
            }) => {
                return Ok(GetOrCreate::Created(Created {
                    authorization,
                    token,
                }));
            }
            Err(Error::Invalid(errors))
                if errors
                    .iter()
                    .any(|e| e.code == ErrorCode::AlreadyExists && e.field == "description") => {}
            Err(other) => return Err(other),
        }
    }
    Err(Error::Internal(
        "the impersonation token kept changing while being made".into(),
    ))
}

/// `DELETE /admin/users/{username}/authorizations`: the user's impersonation token stops
/// working at once. Deleting one that does not exist succeeds too (the end state is the
/// same), as long as the user exists.
pub async fn delete_impersonation_token(
    store: &dyn Store,
    admin: &User,
    login: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    require_site_admin(admin)?;
    let user = user::find(store, login).await?;
    if let Some(token) = find_impersonation(store, &user).await? {
        let event = NewEvent::by(Action::OauthAccessDestroy, admin, source, now)
            .about(&user)
            .authorization(&token);
        store
            .delete_authorization(user.id, token.id, &event)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalized_as_ghes_does() {
        assert_eq!(normalize_login("octo_cat"), "octo-cat");
        assert_eq!(normalize_login("monalisa"), "monalisa");
        assert_eq!(normalize_login("a__b..c"), "a-b-c");
        assert_eq!(normalize_login("_edge_"), "edge");
        assert_eq!(normalize_login("___"), "");
    }
}
