//! Rate limits and failed-login throttling, as GitHub applies them ("Rate limits for the REST
//! API"; the Authorizations API's "Maximum number of login attempts exceeded").
//!
//! Both are counters over fixed windows that start with the first event. They live in the
//! store, so every node of a deployment sees the same counts (a serving node keeps them in
//! memory and merges them into the database, see `store/counters.rs`).

use time::{Duration, OffsetDateTime};

use super::Error;
use crate::store::{CounterKind, Store};

/// How many requests a user or an app may make per window (GitHub: 5,000 an hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            limit: 5_000,
            window: Duration::HOUR,
        }
    }
}

/// How many failed sign-ins a login or client id may have per window before every further
/// attempt is refused, right password or not (GitHub: 10 in 5 minutes, by our reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub attempts: u32,
    pub window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            attempts: 10,
            window: Duration::minutes(5),
        }
    }
}

/// Who a counter counts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(super::UserId),
    /// An app by its client id as sent (known or not, for the same reason as logins).
    App(String),
    /// A login as typed (case-folded), known or not: throttling must not reveal which exist.
    Login(String),
}

impl Subject {
    /// The counters' key. (Concatenated rather than `format!`ted: an app's requests build it
    /// twice each, and the formatting machinery costs more than the copy.)
    pub fn key(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::App(client_id) => ["app:", client_id].concat(),
            Self::Login(login) => ["login:", &login.to_ascii_lowercase()].concat(),
        }
    }
}

/// The `X-RateLimit-*` figures after a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub used: u32,
    pub reset: OffsetDateTime,
}

impl RateLimitStatus {
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// Counts a request of `subject`. Past the limit the request is refused with
/// [`Error::RateLimited`], which still carries the figures for the response headers.
pub async fn count_request(
    store: &dyn Store,
    subject: &Subject,
    limit: RateLimit,
    now: OffsetDateTime,
) -> Result<RateLimitStatus, Error> {
    let counter = store
        .add_to_counter(CounterKind::Requests, &subject.key(), now, limit.window, 1)
        .await?;
    let status = RateLimitStatus {
        limit: limit.limit,
        used: counter.count.min(limit.limit.saturating_add(1)),
        reset: counter.window_start + limit.window,
    };
    if counter.count > limit.limit {
        return Err(Error::RateLimited(
            RateLimitStatus {
                used: limit.limit,
                ..status
            },
            subject.clone(),
        ));
    }
    Ok(status)
}

/// Refuses a sign-in attempt while `subject` has used up its failures for the window.
pub async fn ensure_login_allowed(
    store: &dyn Store,
    subject: &Subject,
    throttle: LoginThrottle,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let failures = store
        .read_counter(
            CounterKind::FailedLogins,
            &subject.key(),
            now,
            throttle.window,
        )
        .await?;
    if failures.count >= throttle.attempts {
        Err(Error::LoginAttemptsExceeded)
    } else {
        Ok(())
    }
}

/// Records a failed sign-in of `subject`.
pub async fn record_login_failure(
    store: &dyn Store,
    subject: &Subject,
    throttle: LoginThrottle,
    now: OffsetDateTime,
) -> Result<(), Error> {
    store
        .add_to_counter(
            CounterKind::FailedLogins,
            &subject.key(),
            now,
            throttle.window,
            1,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are stored in the counters table: nodes of different versions share them.
    #[test]
    fn counter_keys_keep_their_stored_form() {
        assert_eq!(Subject::User(crate::domain::UserId(42)).key(), "user:42");
        assert_eq!(
            Subject::App("Iv1.0123abcd".into()).key(),
            "app:Iv1.0123abcd"
        );
        assert_eq!(Subject::Login("Alice".into()).key(), "login:alice");
    }
}
