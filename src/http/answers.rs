//! The answers a stored token record is shown in, rendered once per record and reused: a token
//! check's (`POST /applications/{client_id}/token` and its legacy form) and `GET /user`'s.
//!
//! Both depend only on the record (authorization, user, scoped installation), the public URL
//! and, for a check, the token the app sent, echoed back. On SQLite the token index hands out
//! the same shared record (`Arc<TokenRecord>`) for every request with a token until anything
//! about it changes, and then a new one. So an answer is rendered the first time a record is
//! shown and kept, keyed by the record's allocation: a check's JSON with an empty token, later
//! copied around the token sent; `GET /user`'s body with its `ETag` and `X-OAuth-Scopes`.
//! Rendering (and, for `GET /user`, hashing the body for its tag) was most of what those
//! requests cost beyond the work no implementation can skip (BENCHMARKS.md).
//!
//! This caches bytes, never decisions: whether the token is live, the app's and unrevoked is
//! decided before an answer is asked for, on every request.
//!
//! An entry holds a `Weak` to its record, so the record's allocation cannot be freed and reused
//! by another record while the entry exists: an address seen again is the same, unchanged
//! record. A record nobody else holds (PostgreSQL's, read for this request alone) is rendered
//! directly and not kept.

use std::sync::{Arc, OnceLock, Weak};

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use quick_cache::sync::Cache;

use super::conditional;
use super::json::{self, Json};
use super::schemas::{AppAuthorization, PrivateUser};
use crate::domain::app_token::TokenRecord;
use crate::domain::token::PlainToken;

/// Answers rendered for at most `capacity` records (about 1.4 kB per kind of answer).
pub struct Answers {
    rendered: Option<Cache<usize, Arc<Rendered>>>,
}

/// What was rendered for one record, each kind when first asked for (`None`: rendering failed,
/// so that kind is rendered afresh each time and the failure reported then).
struct Rendered {
    /// Keeps the record's allocation, and so the entry's key, from being reused.
    _record: Weak<TokenRecord>,
    check: OnceLock<Option<CheckTemplate>>,
    user: OnceLock<Option<UserAnswer>>,
}

/// A check's answer with an empty token, and where the token goes.
struct CheckTemplate {
    json: Vec<u8>,
    token_at: usize,
}

/// `GET /user`'s answer for the record's user and token.
#[derive(Clone)]
pub struct UserAnswer {
    pub body: Bytes,
    /// The tag [`conditional::entity_tag`] gives the body.
    pub etag: HeaderValue,
    /// `X-OAuth-Scopes`: the token's scopes.
    pub scopes: HeaderValue,
}

/// Where the token's value starts in a rendered answer whose token is empty: the top-level
/// `token` field comes before any field that could hold this text (see `write_fields`).
const EMPTY_TOKEN: &[u8] = br#","token":"""#;

impl CheckTemplate {
    fn new(public_url: &str, record: &TokenRecord) -> Option<Self> {
        let json = sonic_rs::to_vec(&AppAuthorization::without_token(public_url, record)).ok()?;
        let token_at = json
            .windows(EMPTY_TOKEN.len())
            .position(|window| window == EMPTY_TOKEN)?
            + EMPTY_TOKEN.len()
            - 1;
        Some(Self { json, token_at })
    }

    fn answer(&self, token: &PlainToken) -> Response {
        // A token is base62 and `_` (`PlainToken` refused anything else): nothing to escape.
        let token = token.expose().as_bytes();
        let (before, after) = self.json.split_at(self.token_at);
        let mut body = Vec::with_capacity(before.len() + token.len() + after.len());
        body.extend_from_slice(before);
        body.extend_from_slice(token);
        body.extend_from_slice(after);
        json::response(body)
    }
}

impl UserAnswer {
    /// Renders `GET /user`'s answer for `record`; `None` if it cannot be serialised.
    fn render(public_url: &str, record: &TokenRecord) -> Option<Self> {
        let body = sonic_rs::to_vec(&PrivateUser::new(public_url, &record.user))
            .inspect_err(|error| tracing::error!(%error, "cannot serialise an answer"))
            .ok()?;
        let etag = conditional::entity_tag(&body)?;
        let scopes = record.authorization.scopes.as_slice().join(", ");
        Some(Self {
            body: Bytes::from(body),
            etag,
            // Scopes are validated names (letters, digits, `:` and `_`): always a valid value.
            scopes: HeaderValue::from_str(&scopes).unwrap_or(HeaderValue::from_static("")),
        })
    }
}

impl Answers {
    /// `capacity` 0 renders every answer afresh.
    pub fn new(capacity: usize) -> Self {
        Self {
            rendered: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// What was rendered for `record`, if it is worth keeping: only a record someone else keeps
    /// (the token index) will be shown again.
    fn rendered(&self, record: &Arc<TokenRecord>) -> Option<Arc<Rendered>> {
        let cache = self.rendered.as_ref()?;
        if Arc::strong_count(record) < 2 {
            return None;
        }
        let key = Arc::as_ptr(record).addr();
        if let Some(rendered) = cache.get(&key) {
            return Some(rendered);
        }
        // Two requests racing here each render once; the later entry stays. Harmless.
        let rendered = Arc::new(Rendered {
            _record: Arc::downgrade(record),
            check: OnceLock::new(),
            user: OnceLock::new(),
        });
        cache.insert(key, Arc::clone(&rendered));
        Some(rendered)
    }

    /// The check's answer (`200`, the app-side `authorization`) for `record` and the `token`
    /// the app sent.
    pub fn check(
        &self,
        public_url: &str,
        record: &Arc<TokenRecord>,
        token: &PlainToken,
    ) -> Response {
        let template = self.rendered(record).and_then(|rendered| {
            rendered
                .check
                .get_or_init(|| CheckTemplate::new(public_url, record))
                .as_ref()
                .map(|template| template.answer(token))
        });
        template.unwrap_or_else(|| {
            Json(AppAuthorization::new(public_url, record, token)).into_response()
        })
    }

    /// `GET /user`'s answer for `record`; `None` if it cannot be serialised.
    pub fn user(&self, public_url: &str, record: &Arc<TokenRecord>) -> Option<UserAnswer> {
        match self.rendered(record) {
            Some(rendered) => rendered
                .user
                .get_or_init(|| UserAnswer::render(public_url, record))
                .clone(),
            None => UserAnswer::render(public_url, record),
        }
    }
}
