//! The domain: GitHub's token-authority rules, with no HTTP and no SQL in it.
//!
//! Handlers in `http/` and commands in `cli/` call these functions; they reach storage only
//! through the [`Store`](store::Store) and [`Lookups`](store::Lookups) traits, and they never read the clock: `now` is a
//! parameter, so expiry and TOTP windows are tested without sleeping.

pub mod account;
pub mod admin;
pub mod app;
pub mod app_token;
pub mod audit;
pub mod authorization;
pub mod clock;
pub mod device_flow;
pub mod error;
pub mod grant;
pub mod limits;
pub mod otp;
pub mod permission;
pub mod personal_token;
pub mod random;
pub mod scope;
pub mod secret;
pub mod session;
pub mod store;
pub mod token;
pub mod two_factor;
pub mod uri;
pub mod usage;
pub mod user;
pub mod user_token;
pub mod web_flow;

use std::fmt;

pub use error::{Error, FieldError};
use time::OffsetDateTime;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(/// A user's id: never reused, even after the user is deleted.
    UserId);
id_type!(/// An OAuth app's or GitHub App's id.
    AppId);
id_type!(/// An authorization's id: never reused, so a stale id cannot reach a new object.
    AuthorizationId);
id_type!(/// A grant's id: never reused.
    GrantId);

/// A GitHub login. Compares without case, as GitHub does: `Octocat` and `octocat` are one user.
#[derive(Debug, Clone)]
pub struct Login(String);

impl Login {
    /// GitHub's rule: 1–39 alphanumerics or single hyphens, not starting or ending with one.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=39).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-')
            && !text.contains("--");
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and lookups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl PartialEq for Login {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Login {}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An app's public client id: 20 characters for OAuth apps, `Iv1.` + 16 hex for GitHub Apps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// The client id GitHub shows on personal access tokens, which belong to no app.
    pub const PERSONAL: &'static str = "00000000000000000000";

    /// Any printable ASCII without spaces or slashes (it travels in URL paths), 1–100 long.
    pub fn parse(text: &str) -> Option<Self> {
        Self::is_valid(text).then(|| Self(text.to_owned()))
    }

    /// [`parse`](Self::parse), keeping the string it was given instead of copying it.
    pub fn parse_owned(text: String) -> Option<Self> {
        Self::is_valid(&text).then_some(Self(text))
    }

    fn is_valid(text: &str) -> bool {
        (1..=100).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Truncates to whole seconds: GitHub's timestamps have no fraction, and a stored value must
/// read back equal to the one returned when it was written.
pub fn whole_seconds(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_nanosecond(0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_compare_without_case() {
        assert_eq!(
            Login::parse("OctoCat").unwrap(),
            Login::parse("octocat").unwrap()
        );
        assert_eq!(Login::parse("OctoCat").unwrap().key(), "octocat");
    }

    #[test]
    fn logins_follow_githubs_rules() {
        for bad in ["", "-a", "a-", "a--b", "a b", "a_b", &"a".repeat(40)] {
            assert!(Login::parse(bad).is_none(), "{bad:?} accepted");
        }
        for good in ["a", "a-b", "A1", &"a".repeat(39)] {
            assert!(Login::parse(good).is_some(), "{good:?} refused");
        }
    }

    #[test]
    fn client_ids_cannot_hold_path_separators_or_spaces() {
        assert!(ClientId::parse("Iv1.0123456789abcdef").is_some());
        assert!(ClientId::parse("a/b").is_none());
        assert!(ClientId::parse("a b").is_none());
        assert!(ClientId::parse("").is_none());
    }
}

/// Which slice of a list a client asked for, already clamped to GitHub's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: u32,
    /// 1..=100.
    pub per_page: u32,
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 30;
    pub const MAX_PER_PAGE: u32 = 100;

    /// Rows to skip. Computed in 64 bits: `page` comes from the client and may be huge.
    pub fn offset(self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// One page of a list, with the total that the `Link` header's `last` needs.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            total: 0,
        }
    }
}

/// Fuzzing (issue 18): whatever a client sends as a login or client id, what the server keeps
/// of it is bounded: counters are keyed by these (`limits::Subject`), and a key as long as the
/// request would let anyone fill the database.
#[cfg(test)]
mod proptests {
    use std::net::{IpAddr, Ipv6Addr};

    use proptest::prelude::*;

    use super::limits::Subject;
    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9\\-]{0,45}",
            "[!-~]{0,110}",
            any::<String>(),
            (0usize..300_000).prop_map(|n| "a".repeat(n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn logins_and_client_ids_and_their_counter_keys_are_bounded(text in text()) {
            if let Some(login) = Login::parse(&text) {
                prop_assert!(login.as_str().len() <= 39);
                prop_assert!(Subject::Login(login).key().len() <= "login:".len() + 39);
            }
            if let Some(client_id) = ClientId::parse(&text) {
                prop_assert!(Subject::App(client_id).key().len() <= "app:".len() + 100);
            }
        }

        /// One host's /64 is one subject, so it cannot start afresh from each of its addresses.
        #[test]
        fn every_address_of_a_64_is_one_subject(a in any::<u128>(), b in any::<u64>()) {
            let same_block = (a & !u128::from(u64::MAX)) | u128::from(b);
            let key = Subject::Address(IpAddr::V6(Ipv6Addr::from(a))).key();
            prop_assert_eq!(&key, &Subject::Address(IpAddr::V6(Ipv6Addr::from(same_block))).key());
            prop_assert!(key.len() <= "addr:".len() + 39 + "/64".len());
        }
    }
}
