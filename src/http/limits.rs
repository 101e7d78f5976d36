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

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const USED: HeaderName = HeaderName::from_static("x-ratelimit-used");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RESOURCE: HeaderName = HeaderName::from_static("x-ratelimit-resource");

/// `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset` (Unix seconds) and `-Resource`.
/// (The names are constants: `HeaderName::from_static` checks its string each time it runs.)
pub fn insert_headers(headers: &mut HeaderMap, status: &RateLimitStatus) {
    headers.insert(LIMIT, HeaderValue::from(status.limit));
    headers.insert(REMAINING, HeaderValue::from(status.remaining()));
    headers.insert(USED, HeaderValue::from(status.used));
    headers.insert(RESET, HeaderValue::from(status.reset.unix_timestamp()));
    headers.insert(RESOURCE, HeaderValue::from_static("core"));
}
