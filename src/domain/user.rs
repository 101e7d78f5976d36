//! Users and how they prove who they are: HTTP Basic `login:password`, plus a TOTP code for
//! accounts with two-factor authentication.

use super::audit::{Action, NewEvent, Party, Source};
use time::OffsetDateTime;

use super::limits::{self, LoginThrottle, Subject};
use super::otp::TotpSecret;
use super::secret::{Password, PasswordCost, PasswordHashString};
use super::{Error, FieldError, Login, UserId, error::ErrorCode};
use crate::domain::store::{self, Store};

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub login: Login,
    pub email: Option<String>,
    pub password_hash: PasswordHashString,
    pub totp_secret: Option<TotpSecret>,
    pub site_admin: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When a site admin suspended the user; `None` while they are not suspended. A suspended
    /// user cannot sign in and their tokens answer as dead ones.
    pub suspended_at: Option<OffsetDateTime>,
    pub suspension_reason: Option<String>,
}

/// A user about to be stored; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: Login,
    pub email: Option<String>,
    pub password_hash: PasswordHashString,
    pub totp_secret: Option<TotpSecret>,
    pub site_admin: bool,
    pub now: OffsetDateTime,
}

/// At most this many argon2 computations run at once per CPU. Each takes 19 MiB and tens of
/// milliseconds of CPU: unbounded, a burst of Basic-auth requests would start a blocking
/// thread per request (memory grows by 19 MiB each, and the allocator keeps it) while none of
/// them finishes sooner. Queued requests wait their turn instead.
const HASHES_PER_CPU: usize = 1;

async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cpus * HASHES_PER_CPU)
    });
    let _slot = slots
        .acquire()
        .await
        .map_err(|e| Error::Internal(format!("hashing slots closed: {e}")))?;
    // On a blocking thread: argon2 would stall every other request sharing the async worker.
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("hashing thread failed: {e}")))
}

/// Hashes a password with argon2id, off the async workers and within the hashing slots.
pub async fn hash_password(password: Password) -> Result<PasswordHashString, Error> {
    hash_password_at(password, PasswordCost::Standard).await
}

/// [`hash_password`] at `cost` (see [`PasswordCost`] for when the lower one is sound).
pub async fn hash_password_at(
    password: Password,
    cost: PasswordCost,
) -> Result<PasswordHashString, Error> {
    with_hashing_slot(move || password.hash_at(cost))
        .await?
        .map_err(|e| Error::Internal(format!("argon2 failed: {e}")))
}

/// See [`hash_password`].
pub async fn verify_password(
    password: Password,
    stored: Option<PasswordHashString>,
) -> Result<bool, Error> {
    with_hashing_slot(move || password.verify(stored.as_ref())).await
}

/// Checks Basic credentials and, for accounts with two-factor auth, the OTP code.
///
/// The password is checked first and the OTP only after it, so a wrong password answers
/// [`Error::BadCredentials`] whether or not 2FA is on: guessing passwords never learns that.
pub async fn authenticate(
    store: &dyn Store,
    login: &Login,
    password: Password,
    otp: Option<&str>,
    now: OffsetDateTime,
) -> Result<User, Error> {
    let user = store.find_user_by_login(login).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    // An unknown login still pays for a full argon2 verification (against a dummy hash), so
    // response time does not reveal which logins exist.
    if !verify_password(password, stored_hash).await? {
        return Err(Error::BadCredentials);
    }
    let user = user.ok_or(Error::BadCredentials)?;
    if user.suspended_at.is_some() {
        return Err(Error::Suspended);
    }
    if let Some(secret) = &user.totp_secret {
        let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        if !otp.is_some_and(|code| secret.verify(code, unix)) {
            return Err(Error::OtpRequired);
        }
    }
    Ok(user)
}

/// [`authenticate`] behind failed-login throttling. Each attempt takes one of the login's
/// failures for the window before the password is checked (while none is left, every attempt
/// is refused unchecked) and gives it back if it was no failure, so attempts racing on any
/// number of nodes get at most the limit's worth of password checks. A wrong password or a
/// wrong OTP code is a failure; a missing OTP code is not (clients send the password alone
/// first to learn that 2FA is on).
///
/// A login that no account can have (GitHub's format rules are public) is refused at once,
/// with no password check and no counter: that reveals nothing about which accounts exist,
/// and keeps arbitrary strings out of the database.
pub async fn sign_in(
    store: &dyn Store,
    login: &str,
    password: Password,
    otp: Option<&str>,
    throttle: LoginThrottle,
    now: OffsetDateTime,
) -> Result<User, Error> {
    let Some(login) = Login::parse(login) else {
        return Err(Error::BadCredentials);
    };
    let subject = Subject::Login(login.clone());
    let taken = limits::take_login_attempt(store, &subject, throttle, now).await?;
    let outcome = authenticate(store, &login, password, otp, now).await;
    let failed = matches!(outcome, Err(Error::BadCredentials))
        || (matches!(outcome, Err(Error::OtpRequired)) && otp.is_some());
    if !failed {
        limits::give_back(store, &subject, taken).await?;
    }
    outcome
}

/// The fields a person supplies to create a user (CLI `user add`).
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub login: String,
    pub password: Password,
    pub email: Option<String>,
    pub totp_secret: Option<String>,
    pub site_admin: bool,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::invalid(FieldError {
        resource: "User",
        ..FieldError::custom(field, message)
    })
}

/// Validates the parts of a [`UserSpec`] that need no hashing.
pub fn validate_spec(spec: &UserSpec) -> Result<(Login, Option<TotpSecret>), Error> {
    let login = Login::parse(&spec.login).ok_or_else(|| {
        invalid(
            "login",
            format!(
                "login {:?} is not valid: use 1-39 letters, digits or single inner hyphens",
                spec.login
            ),
        )
    })?;
    let totp_secret = match &spec.totp_secret {
        None => None,
        Some(text) => Some(TotpSecret::parse(text).ok_or_else(|| {
            invalid(
                "totp_secret",
                "the TOTP secret must be base32 (A-Z, 2-7) of at least 16 characters",
            )
        })?),
    };
    if spec.email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(invalid("email", "the email address must contain '@'"));
    }
    Ok((login, totp_secret))
}

/// Creates a user (CLI `user add`), recorded as `user.create` without an actor, as every
/// command's event is.
pub async fn add(store: &dyn Store, spec: UserSpec, now: OffsetDateTime) -> Result<User, Error> {
    let (login, totp_secret) = validate_spec(&spec)?;
    let password_hash = hash_password(spec.password).await?;
    let new = NewUser {
        login,
        email: spec.email,
        password_hash,
        totp_secret,
        site_admin: spec.site_admin,
        now,
    };
    let event = NewEvent::by_server(Action::UserCreate, None, &Source::command_line(), now);
    store.insert_user(&new, &event).await.map_err(|e| match e {
        store::Error::Conflict(store::Constraint::Login) => Error::invalid(FieldError {
            resource: "User",
            ..FieldError::new("login", ErrorCode::AlreadyExists)
        }),
        other => other.into(),
    })
}

/// Finds a user by login or answers [`Error::NotFound`].
pub async fn find(store: &dyn Store, login: &str) -> Result<User, Error> {
    let login = Login::parse(login).ok_or(Error::NotFound)?;
    store
        .find_user_by_login(&login)
        .await?
        .ok_or(Error::NotFound)
}

/// Sets a new password (CLI `user passwd`).
pub async fn change_password(
    store: &dyn Store,
    login: &str,
    password: Password,
    now: OffsetDateTime,
) -> Result<User, Error> {
    let user = find(store, login).await?;
    let hash = hash_password(password).await?;
    let event = NewEvent::by_server(
        Action::UserChangePassword,
        Some(&user),
        &Source::command_line(),
        now,
    );
    if !store
        .update_user_password(user.id, &hash, now, &event)
        .await?
    {
        return Err(Error::NotFound);
    }
    find(store, login).await
}

/// Deletes the user `login` with their tokens, grants and sessions (CLI `user delete`),
/// recorded as `user.delete` without an actor. A user who owns apps is refused
/// ([`store::Constraint::OwnsApps`]): the operator deletes the apps first.
pub async fn delete(store: &dyn Store, login: &str, now: OffsetDateTime) -> Result<User, Error> {
    let user = find(store, login).await?;
    let event = NewEvent::by_server(
        Action::UserDelete,
        Some(&user),
        &Source::command_line(),
        now,
    );
    if store.delete_user(user.id, &event).await? {
        Ok(user)
    } else {
        Err(Error::NotFound)
    }
}

/// Finds a user or an organization by id (its avatar), or answers [`Error::NotFound`].
pub async fn find_account(store: &dyn Store, id: i64) -> Result<super::account::Account, Error> {
    if id <= 0 {
        return Err(Error::NotFound);
    }
    store
        .find_account(&super::account::AccountRef::Id(id))
        .await?
        .ok_or(Error::NotFound)
}

/// The organizations `user` is a member of, by login.
pub async fn organizations(
    store: &dyn Store,
    user: UserId,
) -> Result<Vec<super::account::Account>, Error> {
    Ok(store.list_organizations(user).await?)
}

/// The longest suspension reason kept (GitHub documents no limit; this bounds the input).
pub const MAX_SUSPENSION_REASON: usize = 200;

/// Suspends (`suspend`) or unsuspends the user `login` on behalf of `admin`, as GHES's
/// `PUT` / `DELETE /users/{username}/suspended` and `/stafftools/users` do. Only a site admin
/// may; to anyone else the user is [`Error::NotFound`], as GitHub hides its stafftools pages
/// (the API refuses a non-admin with GHES's 403 before this is called: `http::ghes::site_admin`).
/// A site admin cannot suspend themself (GitHub: "any user account except your own").
/// Suspending takes effect at once: the user's tokens answer as dead ones and sign-in is
/// refused; unsuspending restores both. Doing it twice changes nothing more.
pub async fn set_suspended(
    store: &dyn Store,
    admin: &User,
    login: &str,
    suspend: bool,
    reason: Option<&str>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<User, Error> {
    if !admin.site_admin {
        return Err(Error::NotFound);
    }
    if suspend && Login::parse(login).is_some_and(|l| l == admin.login) {
        return Err(Error::invalid(FieldError::custom(
            "username",
            "You cannot suspend yourself.",
        )));
    }
    suspend_as(store, Some(admin), login, suspend, reason, source, now).await
}

/// [`set_suspended`] without an acting admin: the command line on the server
/// (`grantd user suspend|unsuspend`).
pub async fn set_suspended_by_operator(
    store: &dyn Store,
    login: &str,
    suspend: bool,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<User, Error> {
    suspend_as(
        store,
        None,
        login,
        suspend,
        reason,
        &Source::command_line(),
        now,
    )
    .await
}

async fn suspend_as(
    store: &dyn Store,
    admin: Option<&User>,
    login: &str,
    suspend: bool,
    reason: Option<&str>,
    source: &Source,
    now: OffsetDateTime,
) -> Result<User, Error> {
    let reason = reason.unwrap_or_default();
    if reason.chars().count() > MAX_SUSPENSION_REASON {
        return Err(Error::invalid(FieldError::custom(
            "reason",
            format!("reason is too long (maximum is {MAX_SUSPENSION_REASON} characters)"),
        )));
    }
    let user = find(store, login).await?;
    set_suspension(store, admin, &user, suspend, reason, source, now).await?;
    find(store, login).await
}

async fn set_suspension(
    store: &dyn Store,
    admin: Option<&User>,
    user: &User,
    suspend: bool,
    reason: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    // Suspending a suspended user keeps the first time and reason.
    if suspend == user.suspended_at.is_some() {
        return Ok(());
    }
    let suspension = suspend.then_some((now, reason));
    let action = if suspend {
        Action::UserSuspend
    } else {
        Action::UserUnsuspend
    };
    let mut event = NewEvent {
        actor: admin.map(Party::from),
        ..NewEvent::by_server(action, Some(user), source, now)
    };
    if suspend && !reason.is_empty() {
        event = event.with("reason", reason);
    }
    if store
        .set_user_suspension(user.id, suspension, now, &event)
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// Every user, for a site admin (`/stafftools/users`); [`Error::NotFound`] to anyone else.
pub async fn list_for_admin(store: &dyn Store, admin: &User) -> Result<Vec<User>, Error> {
    if !admin.site_admin {
        return Err(Error::NotFound);
    }
    Ok(store.list_users().await?)
}

/// Forgets the failed sign-ins of `login` for a site admin (`grantd user unlock`'s rule);
/// whether there were any. [`Error::NotFound`] to anyone else and for an unknown user.
pub async fn unlock_by_admin(store: &dyn Store, admin: &User, login: &str) -> Result<bool, Error> {
    if !admin.site_admin {
        return Err(Error::NotFound);
    }
    let user = find(store, login).await?;
    limits::unlock(store, &user.login).await
}
