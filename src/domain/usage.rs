//! "Last used" dates of tokens and client secrets, as GitHub shows them on the settings pages:
//! approximate ("within the last week"), so recorded coarsely and never with a write on the
//! check path.
//!
//! A token check or an app sign-in only notes the use in memory ([`UsageLog`]), and skips even
//! that when the token's stored date is less than [`MARK_AGAIN_AFTER`] old; the notes are
//! written in one batch at most every [`FLUSH_EVERY`] (the server's sync loop), at shutdown,
//! before a page that shows them is read, and before the test controls move the clock. A
//! use's date is the time of the batch that records it: at most a minute late, far inside
//! what the pages show. A node that stops without flushing loses at most a minute of notes.

use std::sync::Mutex;

use rustc_hash::FxHashSet;

use time::{Duration, OffsetDateTime};

use super::secret::SecretDigest;
use super::{AppId, AuthorizationId, Error};
use crate::store::Store;

/// A token or secret whose stored last use is younger than this is not marked again.
pub const MARK_AGAIN_AFTER: Duration = Duration::hours(1);

/// How often the sync loop writes the notes at most.
pub const FLUSH_EVERY: Duration = Duration::minutes(1);

/// Most notes kept between two flushes: past it, further uses wait for the next batch (a
/// later use notes them again), so memory stays bounded whatever the traffic.
const MAX_PENDING: usize = 100_000;

/// What the next batch writes. Hashed with Fx rather than std's SipHash, which was a measurable
/// part of every token check (BENCHMARKS.md, "Where a check's instructions go"): the keys are
/// ids from the database and digests of live secrets, noted only after a successful sign-in,
/// so no client can choose keys that collide.
#[derive(Debug, Default)]
struct Pending {
    tokens: FxHashSet<AuthorizationId>,
    secrets: FxHashSet<(AppId, [u8; 32])>,
    last_flush: Option<OffsetDateTime>,
}

/// The uses noted since the last flush. Shared by every request of a server.
#[derive(Debug, Default)]
pub struct UsageLog {
    pending: Mutex<Pending>,
}

impl UsageLog {
    /// Notes a use of the token of `authorization` at `now`; nothing if its stored last use is
    /// recent enough (no lock is taken then: the usual case of a token in steady use).
    pub fn token_used(
        &self,
        id: AuthorizationId,
        last_used_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) {
        if last_used_at.is_some_and(|at| now - at < MARK_AGAIN_AFTER) {
            return;
        }
        if let Ok(mut pending) = self.pending.lock()
            && pending.tokens.len() < MAX_PENDING
        {
            pending.tokens.insert(id);
        }
    }

    /// Notes a use of the app's client secret with this digest (the batch's write skips a
    /// secret marked within [`MARK_AGAIN_AFTER`]).
    pub fn secret_used(&self, app: AppId, digest: &SecretDigest) {
        if let Ok(mut pending) = self.pending.lock()
            && pending.secrets.len() < MAX_PENDING
        {
            pending.secrets.insert((app, digest.0));
        }
    }

    /// Whether the sync loop should flush at `now`: a minute since the last flush (or the clock
    /// moved back), and something to write.
    pub fn due(&self, now: OffsetDateTime) -> bool {
        self.pending.lock().is_ok_and(|pending| {
            let waiting = !pending.tokens.is_empty() || !pending.secrets.is_empty();
            let elapsed = pending
                .last_flush
                .is_none_or(|at| now < at || now - at >= FLUSH_EVERY);
            waiting && elapsed
        })
    }

    /// Writes the notes as used at `now` in one store call; on failure they are kept for the
    /// next try.
    pub async fn flush(&self, store: &dyn Store, now: OffsetDateTime) -> Result<(), Error> {
        let (tokens, secrets) = {
            let Ok(mut pending) = self.pending.lock() else {
                return Ok(());
            };
            pending.last_flush = Some(now);
            (
                std::mem::take(&mut pending.tokens),
                std::mem::take(&mut pending.secrets),
            )
        };
        if tokens.is_empty() && secrets.is_empty() {
            return Ok(());
        }
        let token_ids: Vec<AuthorizationId> = tokens.iter().copied().collect();
        let secret_keys: Vec<(AppId, SecretDigest)> = secrets
            .iter()
            .map(|(app, digest)| (*app, SecretDigest(*digest)))
            .collect();
        let written = store
            .mark_used(&token_ids, &secret_keys, now, now - MARK_AGAIN_AFTER)
            .await;
        if written.is_err()
            && let Ok(mut pending) = self.pending.lock()
        {
            pending.tokens.extend(tokens);
            pending.secrets.extend(secrets);
        }
        written.map_err(Error::from)
    }
}

/// A last use in GitHub's words on the settings pages.
pub fn describe(last_used_at: Option<OffsetDateTime>, now: OffsetDateTime) -> &'static str {
    let Some(at) = last_used_at else {
        return "Never used";
    };
    let age = now - at;
    if age <= Duration::weeks(1) {
        "Last used within the last week"
    } else if age <= Duration::weeks(2) {
        "Last used within the last 2 weeks"
    } else if age <= Duration::days(30) {
        "Last used within the last month"
    } else if age <= Duration::days(90) {
        "Last used within the last 3 months"
    } else if age <= Duration::days(182) {
        "Last used within the last 6 months"
    } else if age <= Duration::days(365) {
        "Last used within the last year"
    } else {
        "Last used more than a year ago"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_token_marked_within_the_hour_is_not_noted_again() {
        let log = UsageLog::default();
        log.token_used(AuthorizationId(1), Some(at(0)), at(3_599));
        assert!(!log.due(at(3_599)));
        log.token_used(AuthorizationId(1), Some(at(0)), at(3_600));
        log.token_used(AuthorizationId(2), None, at(3_600));
        assert!(log.due(at(3_600)));
        assert_eq!(log.pending.lock().unwrap().tokens.len(), 2);
    }

    #[test]
    fn flushes_are_a_minute_apart_unless_the_clock_moves_back() {
        let log = UsageLog::default();
        log.pending.lock().unwrap().last_flush = Some(at(0));
        log.token_used(AuthorizationId(1), None, at(10));
        assert!(!log.due(at(59)));
        assert!(log.due(at(60)));
        assert!(log.due(at(-1)));
    }

    #[test]
    fn last_uses_read_as_githubs_words() {
        assert_eq!(describe(None, at(0)), "Never used");
        assert_eq!(
            describe(Some(at(0)), at(0)),
            "Last used within the last week"
        );
        assert_eq!(
            describe(Some(at(0)), at(10 * 86_400)),
            "Last used within the last 2 weeks"
        );
        assert_eq!(
            describe(Some(at(0)), at(400 * 86_400)),
            "Last used more than a year ago"
        );
    }
}
