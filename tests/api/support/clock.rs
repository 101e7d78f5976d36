//! A server clock that tests can move, so that token expiry is tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Real time (whole seconds, as grantd's own clock) plus an offset, or pinned to an instant.
#[derive(Debug, Default)]
pub struct TestClock {
    /// Seconds added to the wall clock.
    offset: AtomicI64,
    /// When non-zero, the clock stands still at this Unix time (in seconds).
    pinned: AtomicI64,
}

impl TestClock {
    /// Moves the clock forward by `seconds` (and unpins it).
    pub fn advance(&self, seconds: i64) {
        self.pinned.store(0, Ordering::SeqCst);
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Stops the clock at `at` until it is pinned elsewhere or advanced.
    pub fn pin(&self, at: OffsetDateTime) {
        self.pinned.store(at.unix_timestamp(), Ordering::SeqCst);
    }
}

impl grantd::domain::clock::Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        let pinned = self.pinned.load(Ordering::SeqCst);
        let at = if pinned == 0 {
            OffsetDateTime::now_utc() + time::Duration::seconds(self.offset.load(Ordering::SeqCst))
        } else {
            OffsetDateTime::from_unix_timestamp(pinned).expect("a valid Unix time")
        };
        at.replace_nanosecond(0).expect("0 ns is valid")
    }
}

/// Parses one of GitHub's `YYYY-MM-DDTHH:MM:SSZ` timestamps.
#[track_caller]
pub fn parse_timestamp(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not a timestamp: {e}"))
}

/// The `field` timestamp of `body`.
#[track_caller]
pub fn timestamp_of(body: &serde_json::Value, field: &str) -> OffsetDateTime {
    let text = body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no timestamp {field:?} in {body}"));
    parse_timestamp(text)
}
