//! Where the time comes from. The domain's rules never read it: they take `now`, so expiry,
//! TOTP windows and throttling are tested without sleeping. The callers (handlers, commands,
//! the server's background tasks) read a [`Clock`] once per request or command and pass the
//! instant down. No axum, no sqlx here, as everywhere in `domain/`.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::macros::format_description;

/// A source of the current time. [`SystemClock`] is the one grantd runs on; tests substitute
/// their own (one that stands still, say).
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock in whole seconds, as GitHub's timestamps are, moved by an offset that
/// only the test controls (`/_grantd/clock`) set: without them it is the system's time. It
/// keeps running when moved (a test that sets noon sees 12:00:05 five seconds later), so
/// timeouts measured in real time and times read from the clock stay consistent.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_seconds: AtomicI64,
}

impl SystemClock {
    /// How far the clock is from the system's, in seconds.
    pub fn offset(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Makes the clock read `at` now.
    pub fn set(&self, at: OffsetDateTime) {
        let real = OffsetDateTime::now_utc().unix_timestamp();
        self.offset_seconds
            .store(at.unix_timestamp() - real, Ordering::Relaxed);
    }

    /// Moves the clock by `seconds` (back if negative).
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Back to the system's time.
    pub fn reset(&self) {
        self.offset_seconds.store(0, Ordering::Relaxed);
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let real = super::whole_seconds(OffsetDateTime::now_utc());
        // Unmoved (always, without the test controls), the calendar arithmetic is skipped: a
        // token check reads the clock twice, and it showed in the check's instruction count.
        match self.offset() {
            0 => real,
            offset => real
                .checked_add(time::Duration::seconds(offset))
                .unwrap_or(real),
        }
    }
}

/// GitHub's timestamps: `2011-09-06T17:26:27Z`, UTC, whole seconds. (Written digit by digit:
/// the `time` crate's formatter interprets a format description on every call, and `format!`
/// with padding cost as much again; a token check shows three of these.) The API's JSON and the
/// commands' output both write them.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (year, month, day) = at.to_calendar_date();
    let (hour, minute, second) = at.to_hms();
    let Ok(year) = u16::try_from(year) else {
        return timestamp_outside_0_to_9999(at);
    };
    if year > 9999 {
        return timestamp_outside_0_to_9999(at);
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut value: u16| {
        for slot in text[at..at + width].iter_mut().rev() {
            // Each digit is below 10, so the cast cannot truncate.
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u16::from(u8::from(month)));
    put(8, 2, u16::from(day));
    put(11, 2, u16::from(hour));
    put(14, 2, u16::from(minute));
    put(17, 2, u16::from(second));
    String::from_utf8_lossy(&text).into_owned()
}

fn timestamp_outside_0_to_9999(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_system_clock_reads_whole_seconds_of_the_systems_time() {
        let clock = SystemClock::default();
        let before = OffsetDateTime::now_utc();
        let now = clock.now();
        assert_eq!(now.nanosecond(), 0);
        assert!((now - before).whole_seconds().abs() <= 1);
    }

    #[test]
    fn the_clock_moves_by_its_offset() {
        let clock = SystemClock::default();
        let at = OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap();
        clock.set(at);
        assert!((clock.now() - at).whole_seconds().abs() <= 1);
        clock.advance(3600);
        assert!(((clock.now() - at).whole_seconds() - 3600).abs() <= 1);
        clock.advance(-7200);
        assert!(((clock.now() - at).whole_seconds() + 3600).abs() <= 1);
        clock.reset();
        assert_eq!(clock.offset(), 0);
        assert!(
            (clock.now() - OffsetDateTime::now_utc())
                .whole_seconds()
                .abs()
                <= 1
        );
    }

    #[test]
    fn timestamps_are_whole_seconds_utc_with_z() {
        assert_eq!(
            timestamp(datetime!(2011-09-06 17:26:27.9 +02:00)),
            "2011-09-06T15:26:27Z"
        );
        assert_eq!(
            timestamp(datetime!(0007-01-02 03:04:05 UTC)),
            "0007-01-02T03:04:05Z"
        );
        assert_eq!(
            timestamp(datetime!(9999-12-31 23:59:59 UTC)),
            "9999-12-31T23:59:59Z"
        );
    }
}
