//! Rate limits and failed-login throttling, as GitHub applies them ("Rate limits for the REST
//! API"; the Authorizations API's "Maximum number of login attempts exceeded").
//!
//! Both are counters over fixed windows that start with the first event. They live in the
//! store, so every node of a deployment sees the same counts: failed sign-ins are counted in
//! the database as they happen, while a serving node counts requests in memory and merges them
//! into the database (see `store/counters.rs`).

use std::net::{IpAddr, Ipv6Addr};

use time::{Duration, OffsetDateTime};

use super::Error;
use crate::domain::store::{CounterKind, Store};

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

/// How many failed sign-ins a login may have per window before every further attempt is
/// refused, right password or not (GitHub: 10 in 5 minutes, by our reading). The same numbers
/// throttle failed app sign-ins per source address, which never refuses a right secret.
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

/// Where a request came from and the throttle that applies there: what counting a wrong app
/// secret needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The peer's address; `None` for a server used without a listener.
    pub address: Option<IpAddr>,
    pub throttle: LoginThrottle,
}

/// Who a counter counts for. Every variant is bounded in size, so no request can make a
/// counter's key (a database row) as long as it likes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(super::UserId),
    /// A signed-in app's requests, by its client id.
    App(super::ClientId),
    /// Failed sign-ins of a login that could exist (known or not: throttling must not reveal
    /// which exist).
    Login(super::Login),
    /// A user's GraphQL requests, which GitHub limits apart from the REST API's.
    GraphQl(super::UserId),
    /// Anonymous requests, and failed app sign-ins, from one network address (an IPv6 address by its /64, the block a
    /// single host is usually given).
    Address(IpAddr),
}

impl Subject {
    /// The counters' key. (Concatenated rather than `format!`ted: an app's requests build it
    /// once each, and the formatting machinery costs more than the copy.)
    pub fn key(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::GraphQl(id) => format!("graphql:{id}"),
            Self::App(client_id) => ["app:", client_id.as_str()].concat(),
            Self::Login(login) => ["login:", &login.key()].concat(),
            Self::Address(IpAddr::V4(v4)) => format!("addr:{v4}"),
            Self::Address(IpAddr::V6(v6)) => {
                let prefix = u128::from(*v6) & !((1_u128 << 64) - 1);
                format!("addr:{}/64", Ipv6Addr::from(prefix))
            }
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
        reset: counter.window_start.saturating_add(limit.window),
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

/// `subject`'s figures as they stand, without counting anything (`GET /rate_limit`, which
/// GitHub does not count, and GraphQL's `rateLimit`).
pub async fn status(
    store: &dyn Store,
    subject: &Subject,
    limit: RateLimit,
    now: OffsetDateTime,
) -> Result<RateLimitStatus, Error> {
    let counter = store
        .read_counter(CounterKind::Requests, &subject.key(), now, limit.window)
        .await?;
    Ok(RateLimitStatus {
        limit: limit.limit,
        used: counter.count.min(limit.limit),
        reset: counter.window_start.saturating_add(limit.window),
    })
}

/// A sign-in attempt counted as a failure before its credentials are checked; see
/// [`take_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an attempt that succeeds must be given back"]
pub struct TakenAttempt {
    window_start: OffsetDateTime,
}

/// Takes one of `subject`'s failed sign-ins for the window before the credentials are checked,
/// or refuses the attempt ([`Error::LoginAttemptsExceeded`]) when none is left. Counting first
/// is what makes the limit exact: attempts in flight at once (on any node) cannot all read
/// "9 failures" and all go on to the password check. An attempt that turns out right is
/// [given back](give_back).
pub async fn take_login_attempt(
    store: &dyn Store,
    subject: &Subject,
    throttle: LoginThrottle,
    now: OffsetDateTime,
) -> Result<TakenAttempt, Error> {
    match store
        .take_login_attempt(&subject.key(), now, throttle.window, throttle.attempts)
        .await?
    {
        Some(counter) => Ok(TakenAttempt {
            window_start: counter.window_start,
        }),
        None => Err(Error::LoginAttemptsExceeded),
    }
}

/// Returns an attempt whose credentials were right: it was not a failure.
pub async fn give_back(
    store: &dyn Store,
    subject: &Subject,
    taken: TakenAttempt,
) -> Result<(), Error> {
    store
        .return_login_attempt(&subject.key(), taken.window_start)
        .await?;
    Ok(())
}

/// Counts a wrong app secret against the address it came from, and says what to answer:
/// [`Error::BadCredentials`] while the address has failures left, then
/// [`Error::LoginAttemptsExceeded`] for the rest of the window, with nothing more written.
///
/// Unlike a login's, this count never refuses a right secret: client ids are public, so a
/// lockout by client id would let anyone stop an app's every call, and a 160-bit random
/// secret needs no lockout against guessing. What it bounds is what a failing client costs.
pub async fn app_sign_in_failed(
    store: &dyn Store,
    origin: Origin,
    now: OffsetDateTime,
) -> Result<Error, Error> {
    // Without a known address, every failure shares one.
    let address = origin.address.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    let subject = Subject::Address(address);
    Ok(
        match take_login_attempt(store, &subject, origin.throttle, now).await {
            Ok(_counted) => Error::BadCredentials,
            Err(Error::LoginAttemptsExceeded) => Error::LoginAttemptsExceeded,
            Err(other) => return Err(other),
        },
    )
}

/// Forgets a login's failed sign-ins (`grantd user unlock`). Whether it had any.
pub async fn unlock(store: &dyn Store, login: &super::Login) -> Result<bool, Error> {
    let subject = Subject::Login(login.clone());
    Ok(store.clear_login_failures(&subject.key()).await?)
}

/// Deletes the counters whose windows have ended: they count nothing any more, and without
/// this every login, address and client ever counted would keep a row.
pub async fn prune(
    store: &dyn Store,
    rate: RateLimit,
    login: LoginThrottle,
    now: OffsetDateTime,
) -> Result<u64, Error> {
    let mut pruned = 0;
    for (kind, window) in [
        (CounterKind::Requests, rate.window),
        (CounterKind::FailedLogins, login.window),
        (
            CounterKind::DeviceCodeSubmissions,
            super::device_flow::SUBMISSION_WINDOW,
        ),
    ] {
        let started_by = now.saturating_sub(window);
        pruned += store.prune_counters(kind, started_by).await?;
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are stored in the counters table: nodes of different versions share them.
    #[test]
    fn counter_keys_keep_their_stored_form() {
        assert_eq!(Subject::User(crate::domain::UserId(42)).key(), "user:42");
        let client_id = crate::domain::ClientId::parse("Iv1.0123456789abcdef").unwrap();
        assert_eq!(Subject::App(client_id).key(), "app:Iv1.0123456789abcdef");
        let login = crate::domain::Login::parse("Alice").unwrap();
        assert_eq!(Subject::Login(login).key(), "login:alice");
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(Subject::Address(v4).key(), "addr:192.0.2.7");
        // One host's /64 is one subject, so its 2^64 addresses cannot each start afresh.
        let v6: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(Subject::Address(v6).key(), "addr:2001:db8:1:2::/64");
    }
}
