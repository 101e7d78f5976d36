//! Rate-limit headers. Authentication extractors count each authenticated request (see
//! `extract.rs`) and leave the figures in a per-request slot; the conventions layer, which
//! created the slot, copies them onto the response, whatever the handler answered.

use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::limits::RateLimitStatus;

/// Where an extractor leaves the rate-limit figures of the request it authenticated.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(Arc<Mutex<Option<RateLimitStatus>>>);

impl RateLimitSlot {
    pub fn set(&self, status: RateLimitStatus) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    pub fn take(&self) -> Option<RateLimitStatus> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset` (Unix seconds) and `-Resource`.
pub fn insert_headers(headers: &mut HeaderMap, status: &RateLimitStatus) {
    let numbers = [
        ("x-ratelimit-limit", u64::from(status.limit)),
        ("x-ratelimit-remaining", u64::from(status.remaining())),
        ("x-ratelimit-used", u64::from(status.used)),
    ];
    for (name, value) in numbers {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    headers.insert(
        HeaderName::from_static("x-ratelimit-reset"),
        HeaderValue::from(status.reset.unix_timestamp()),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-resource"),
        HeaderValue::from_static("core"),
    );
}
