//! Web sign-in sessions (the sign-in pages' `user_session` cookie) and the two steps of signing
//! in through them: the password, through the same [`user::sign_in`] as HTTP Basic (one
//! failed-login count and one lockout for both), then, for accounts with two-factor
//! authentication, the TOTP code.
//!
//! A session id is 32 random bytes, base64url; the store keeps only its SHA-256, so a leaked
//! database signs nobody in. Between the two steps the browser holds a *pending* session: it
//! lives [`TWO_FACTOR_TTL`] and never counts as signed in.

use super::audit::{self, Action, NewEvent, Source};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::Error;
use super::limits::{self, LoginThrottle, Subject};
use super::secret::Password;
use super::user::{self, User};
use crate::domain::store::Store;

/// How long a browser has to enter its two-factor code after the right password.
pub const TWO_FACTOR_TTL: Duration = Duration::minutes(10);

/// GitHub's default: a web session lasts two weeks (`serve --session-ttl`).
pub const DEFAULT_SESSION_TTL: Duration = Duration::weeks(2);

/// A session id as the cookie carries it: 43 base64url characters (32 random bytes).
#[derive(Clone)]
pub struct SessionId(String);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(***)")
    }
}

impl SessionId {
    /// A fresh id from the OS's random source.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self(random_text()?))
    }

    /// An id a browser sent; `None` unless it has the shape of one (so nothing else is hashed
    /// or looked up).
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks up.
    pub fn hash(&self) -> SessionHash {
        SessionHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// 32 random bytes as base64url text: session ids and the sign-in pages' per-browser secret.
pub fn random_text() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    super::random::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a [`SessionId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHash(pub [u8; 32]);

/// A session about to be stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub hash: SessionHash,
    pub user_id: super::UserId,
    pub two_factor_pending: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A live session with its user, as the store finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub two_factor_pending: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Where the first step left the browser.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Signed in: the new session's id.
    SignedIn(SessionId),
    /// The password was right and the account has two-factor authentication: the id of a
    /// pending session, which only [`complete_two_factor`] turns into a signed-in one.
    TwoFactorPending(SessionId),
}

async fn start(
    store: &dyn Store,
    user: &User,
    two_factor_pending: bool,
    ttl: Duration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<SessionId, Error> {
    let id = SessionId::generate()?;
    // A pending session is no sign-in yet: `user.login` goes with the signed-in one.
    let event = (!two_factor_pending).then(|| NewEvent::by(Action::UserLogin, user, source, now));
    store
        .insert_session(
            &NewSession {
                hash: id.hash(),
                user_id: user.id,
                two_factor_pending,
                created_at: now,
                expires_at: now.saturating_add(ttl),
            },
            event.as_ref(),
        )
        .await?;
    Ok(id)
}

/// The sign-in form's first step. The attempt goes through [`user::sign_in`], so it takes its
/// place in the login's failed-login count before the password is checked and is refused
/// unchecked ([`Error::LoginAttemptsExceeded`]) while the login is locked, exactly as HTTP
/// Basic is. A right password on a 2FA account is no failure there (no code was sent).
pub async fn sign_in_with_password(
    store: &dyn Store,
    login: &str,
    password: Password,
    throttle: LoginThrottle,
    ttl: Duration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<PasswordOutcome, Error> {
    match user::sign_in(store, login, password, None, throttle, now).await {
        Ok(user) => Ok(PasswordOutcome::SignedIn(
            start(store, &user, false, ttl, source, now).await?,
        )),
        Err(Error::OtpRequired) => {
            // The password was right; `sign_in` parsed the login, so it is a valid one.
            let user = user::find(store, login)
                .await
                .map_err(|_| Error::BadCredentials)?;
            Ok(PasswordOutcome::TwoFactorPending(
                start(store, &user, true, TWO_FACTOR_TTL, source, now).await?,
            ))
        }
        Err(Error::BadCredentials) => {
            // The account of that name, if there is one, is the one someone failed to enter.
            let user = match user::find(store, login).await {
                Ok(user) => Some(user),
                Err(Error::NotFound) => None,
                Err(other) => return Err(other),
            };
            audit::record_failed_login(store, user.as_ref(), source, now).await?;
            Err(Error::BadCredentials)
        }
        Err(other) => Err(other),
    }
}

/// The second step: the TOTP code (each step's code once) or one of the recovery codes of the
/// user whose password a pending session proved. The
/// code takes its place in the same failed-login count before it is checked (a wrong code is
/// a failed login, as it is over Basic auth), and a locked login is refused unchecked. On
/// success the pending session is replaced by a signed-in one with a new id.
pub async fn complete_two_factor(
    store: &dyn Store,
    pending: &SessionId,
    code: &str,
    throttle: LoginThrottle,
    ttl: Duration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<SessionId, Error> {
    let session = store
        .find_session(&pending.hash(), now)
        .await?
        .filter(|s| s.two_factor_pending)
        .ok_or(Error::NotFound)?;
    let subject = Subject::Login(session.user.login.clone());
    let taken = limits::take_login_attempt(store, &subject, throttle, now).await?;
    let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let step = session
        .user
        .totp_secret
        .as_ref()
        .and_then(|secret| secret.matching_step(code, unix));
    let right = match (step, super::two_factor::recovery_hash(code)) {
        // A code of a step that already signed in is refused (RFC 6238 §5.2): whoever saw it
        // once cannot sign in with it. Basic auth's `X-GitHub-OTP` keeps GitHub's behaviour.
        (Some(step), _) => {
            store
                .advance_totp_step(session.user.id, i64::try_from(step).unwrap_or(i64::MAX))
                .await?
        }
        // A recovery code works once: taking it deletes it.
        (None, Some(hash)) => store.take_recovery_code(session.user.id, &hash).await?,
        (None, None) => false,
    };
    if !right {
        audit::record_failed_login(store, Some(&session.user), source, now).await?;
        return Err(Error::BadCredentials);
    }
    limits::give_back(store, &subject, taken).await?;
    // Only one browser tab gets to turn the pending session into a signed-in one.
    if !store
        .delete_session(session.user.id, &pending.hash())
        .await?
    {
        return Err(Error::NotFound);
    }
    start(store, &session.user, false, ttl, source, now).await
}

/// The signed-in session a cookie names, if it is live and not pending.
pub async fn find_signed_in(
    store: &dyn Store,
    id: &SessionId,
    now: OffsetDateTime,
) -> Result<Option<Session>, Error> {
    Ok(store
        .find_session(&id.hash(), now)
        .await?
        .filter(|s| !s.two_factor_pending))
}

/// The pending (password right, code to come) session a cookie names, if it is live.
pub async fn find_pending(
    store: &dyn Store,
    id: &SessionId,
    now: OffsetDateTime,
) -> Result<Option<Session>, Error> {
    Ok(store
        .find_session(&id.hash(), now)
        .await?
        .filter(|s| s.two_factor_pending))
}

/// Signs out: deletes the session row, so the cookie signs in nowhere any more.
pub async fn end(store: &dyn Store, session: &Session, id: &SessionId) -> Result<bool, Error> {
    Ok(store.delete_session(session.user.id, &id.hash()).await?)
}

/// Shortest and longest new password the settings page accepts: GitHub asks for at least 8
/// characters; the upper bound keeps argon2's input bounded.
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 1024;

/// The password form's three fields.
pub struct NewPassword {
    pub current: Password,
    pub new: Password,
    pub confirmation: Password,
}

/// Why a password change was refused.
#[derive(Debug)]
pub enum PasswordChange {
    /// The current password was wrong (a failed login of the account, counted as one).
    WrongCurrent,
    /// The new password is too short or too long.
    BadNew,
    /// The confirmation differs from the new password.
    Mismatch,
}

/// The settings page's password change, for the signed-in `session` (cookie id `id`): the
/// current password is checked through [`user::sign_in`], so a guess here counts in the
/// same failed-login window and lockout as the sign-in form. On success the new argon2id hash
/// is stored and every other session of the user ends, so a browser that knew the old
/// password is signed out; this one stays signed in. API tokens are untouched (GitHub keeps
/// them too: they are revoked one by one on the settings pages).
pub async fn change_password(
    store: &dyn Store,
    session: &Session,
    id: &SessionId,
    form: NewPassword,
    throttle: LoginThrottle,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Result<(), PasswordChange>, Error> {
    let NewPassword {
        current,
        new,
        confirmation,
    } = form;
    let length = new.expose().chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Ok(Err(PasswordChange::BadNew));
    }
    if !bool::from(
        new.expose()
            .as_bytes()
            .ct_eq(confirmation.expose().as_bytes()),
    ) {
        return Ok(Err(PasswordChange::Mismatch));
    }
    let login = session.user.login.as_str();
    // A 2FA account signed in with its code already: the password alone is what is checked,
    // so `OtpRequired` (right password, no code) is a right password here.
    match user::sign_in(store, login, current, None, throttle, now).await {
        Ok(_) | Err(Error::OtpRequired) => {}
        Err(Error::BadCredentials) => return Ok(Err(PasswordChange::WrongCurrent)),
        Err(other) => return Err(other),
    }
    let hash = user::hash_password(new).await?;
    if !store
        .update_user_password(
            session.user.id,
            &hash,
            now,
            &NewEvent::by(Action::UserChangePassword, &session.user, source, now),
        )
        .await?
    {
        return Err(Error::NotFound);
    }
    store
        .delete_other_sessions(session.user.id, &id.hash())
        .await?;
    Ok(Ok(()))
}

/// Deletes the sessions that have expired (run once a minute by the server).
pub async fn prune(store: &dyn Store, now: OffsetDateTime) -> Result<u64, Error> {
    Ok(store.prune_sessions(now).await?)
}

/// The `authenticity_token` of the sign-in pages' forms for a browser secret (the per-browser
/// cookie's value, or the session id on signed-in forms). Derived rather than stored: a page
/// from any node checks on any other. A cross-site page can neither read the secret (an
/// HttpOnly, same-site cookie) nor so compute the token.
pub fn authenticity_token(secret: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"grantd authenticity_token v1\0");
    digest.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Whether a form's `authenticity_token` is the one of `secret`, compared in constant time.
pub fn authenticity_token_matches(secret: &str, sent: &str) -> bool {
    let expected = authenticity_token(secret);
    expected.len() == sent.len() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
}

/// Whether `return_to` may be followed after signing in: only a path on this site (one leading
/// `/`, not `//` or `/\`, which browsers take for another host), with no control characters.
pub fn is_local_return_to(return_to: &str) -> bool {
    return_to.len() <= 2048
        && return_to.starts_with('/')
        && !return_to.starts_with("//")
        && !return_to.starts_with("/\\")
        && !return_to.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        for good in ["/", "/login", "/settings?tab=1", "/a//b"] {
            assert!(is_local_return_to(good), "{good:?} refused");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil",
            "https://evil.example",
            "evil",
            "/\r\nSet-Cookie: x",
            "\t/x",
        ] {
            assert!(!is_local_return_to(bad), "{bad:?} followed");
        }
    }

    #[test]
    fn session_ids_are_43_base64url_characters_and_hash_stably() {
        let id = SessionId::generate().unwrap();
        assert_eq!(id.expose().len(), 43);
        assert!(SessionId::parse(id.expose()).is_some());
        assert_eq!(id.hash(), SessionId::parse(id.expose()).unwrap().hash());
        assert!(SessionId::parse("short").is_none());
        assert!(SessionId::parse(&"!".repeat(43)).is_none());
        assert_ne!(id.hash(), SessionId::generate().unwrap().hash());
    }

    #[test]
    fn authenticity_tokens_depend_on_the_secret() {
        let token = authenticity_token("a");
        assert!(authenticity_token_matches("a", &token));
        assert!(!authenticity_token_matches("b", &token));
        assert!(!authenticity_token_matches("a", ""));
    }
}
