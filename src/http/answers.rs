//! The answers a stored token record is shown in, rendered once per record and reused: a token
//! check's (`POST /applications/{client_id}/token` and its legacy form) and `GET /user`'s.
//!
//! Both depend only on the record (authorization, user, scoped installation), the public URL
//! and, for a check, the token the app sent, echoed back. So an answer is rendered the first
//! time a record is shown and kept: a check's JSON with an empty token, later copied around
//! the token sent; `GET /user`'s body with its `ETag` and `X-OAuth-Scopes`. Rendering (and,
//! for `GET /user`, hashing the body for its tag) was most of what those requests cost beyond
//! the work no implementation can skip (BENCHMARKS.md).
//!
//! This caches bytes, never decisions: whether the token is live, the app's and unrevoked is
//! decided before an answer is asked for, on every request.
//!
//! Entries are keyed by the record's identity, its authorization's id, and keep the record
//! they were rendered from; an entry answers only a record that shows the same in every field
//! an answer can show ([`shown_alike`]), so an updated record (a reset token, new scopes, a
//! renamed user), however soon after the last update, is rendered anew. (`updated_at` is no
//! version: two updates within a second share it.) On SQLite the token index hands out the
//! same shared record until anything about it changes, which the entry's own reference makes
//! a one-pointer comparison. A record read afresh is compared field by field; that is what
//! a PostgreSQL server's every lookup would be, where it measured no faster than rendering, so
//! `grantd serve` keeps no answers there (`ServeConfig::rendered_answers`).

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use quick_cache::sync::Cache;

use super::conditional;
use super::json::{self, Json};
use super::schemas::{AppAuthorization, PrivateUser};
use crate::domain::AuthorizationId;
use crate::domain::app_token::TokenRecord;
use crate::domain::authorization::Authorization;
use crate::domain::token::PlainToken;
use crate::domain::user::User;

/// Answers rendered for at most `capacity` records (about 1.4 kB per kind of answer).
pub struct Answers {
    rendered: Option<Cache<AuthorizationId, Arc<Rendered>>>,
}

/// What was rendered for one record, each kind when first asked for (`None`: rendering failed,
/// so that kind is rendered afresh each time and the failure reported then).
struct Rendered {
    /// The record rendered: the entry answers only records shown alike.
    record: Arc<TokenRecord>,
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

    /// What was rendered for `record`, or a new entry for it (replacing one rendered from an
    /// older version of the record).
    fn rendered(&self, record: &Arc<TokenRecord>) -> Option<Arc<Rendered>> {
        let cache = self.rendered.as_ref()?;
        let key = record.authorization.id;
        if let Some(rendered) = cache.get(&key) {
            // The same allocation, which the entry keeps alive, is the same immutable record.
            if Arc::ptr_eq(&rendered.record, record) || shown_alike(&rendered.record, record) {
                return Some(rendered);
            }
        }
        // Two requests racing here each render once; the later entry stays. Harmless.
        let rendered = Arc::new(Rendered {
            record: Arc::clone(record),
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

/// Whether every answer shows `a` and `b` the same: every field but the user's password hash
/// and TOTP secret and the token's last use, which no answer shows, compared exactly (a login's case included, which
/// `Login`'s own comparison ignores). Destructured without `..`, so that a field added to a
/// record does not compile until it is placed here.
fn shown_alike(a: &TokenRecord, b: &TokenRecord) -> bool {
    let TokenRecord {
        authorization,
        user,
    } = a;
    let Authorization {
        id,
        user_id,
        app,
        scopes,
        token_hash,
        token_last_eight,
        note,
        note_url,
        fingerprint,
        created_at,
        updated_at,
        expires_at,
        scoped_to,
        // When the token was last used (to the hour): shown on the settings pages, in no answer.
        last_used_at: _,
    } = authorization;
    let other = &b.authorization;
    let same_authorization = *id == other.id
        && *user_id == other.user_id
        && *app == other.app
        && *scopes == other.scopes
        && *token_hash == other.token_hash
        && *token_last_eight == other.token_last_eight
        && *note == other.note
        && *note_url == other.note_url
        && *fingerprint == other.fingerprint
        && *created_at == other.created_at
        && *updated_at == other.updated_at
        && *expires_at == other.expires_at
        && *scoped_to == other.scoped_to;
    let User {
        id,
        login,
        email,
        password_hash: _,
        totp_secret: _,
        site_admin,
        created_at,
        updated_at,
        suspended_at,
        suspension_reason,
    } = user;
    let other = &b.user;
    same_authorization
        && *id == other.id
        && login.as_str() == other.login.as_str()
        && *email == other.email
        && *site_admin == other.site_admin
        && *created_at == other.created_at
        && *updated_at == other.updated_at
        && *suspended_at == other.suspended_at
        && *suspension_reason == other.suspension_reason
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::app::{AppKind, AppSummary};
    use crate::domain::scope::Scopes;
    use crate::domain::secret::PasswordHashString;
    use crate::domain::token::{TokenHash, TokenKind};
    use crate::domain::{AppId, ClientId, Login, UserId};

    const URL: &str = "http://127.0.0.1:8080";

    fn record() -> TokenRecord {
        let at = datetime!(2030-01-01 00:00:00 UTC);
        TokenRecord {
            authorization: Authorization {
                id: AuthorizationId(7),
                user_id: UserId(1),
                app: Some(AppSummary {
                    id: AppId(3),
                    kind: AppKind::OAuth,
                    name: "app".to_owned(),
                    url: "https://app.example".to_owned(),
                    client_id: ClientId::parse("Iv1.0123456789abcdef").unwrap(),
                    token_ttl: None,
                }),
                scopes: Scopes::parse(["repo"]).unwrap(),
                token_hash: TokenHash([1; 32]),
                token_last_eight: "abcdefgh".to_owned(),
                note: None,
                note_url: None,
                fingerprint: None,
                created_at: at,
                updated_at: at,
                expires_at: None,
                scoped_to: None,
                last_used_at: None,
            },
            user: User {
                id: UserId(1),
                login: Login::parse("octocat").unwrap(),
                email: None,
                password_hash: PasswordHashString("$argon2id$…".to_owned()),
                totp_secret: None,
                site_admin: false,
                created_at: at,
                updated_at: at,
                suspended_at: None,
                suspension_reason: None,
            },
        }
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Each update below keeps the id and `updated_at` (two updates within one second), and
    /// each comes in a new allocation as the token index hands out: none may be answered from
    /// the entry of the version before it.
    #[tokio::test]
    async fn an_updated_record_is_never_answered_from_a_stale_entry() {
        let answers = Answers::new(16);
        let token = PlainToken::generate(TokenKind::OAuthApp).unwrap();
        let first = Arc::new(record());
        let checked = body(answers.check(URL, &first, &token)).await;
        assert_eq!(checked["scopes"], serde_json::json!(["repo"]));
        assert_eq!(checked["token"], token.expose());

        let mut rescoped = record();
        rescoped.authorization.scopes = Scopes::parse(["user"]).unwrap();
        let rescoped = Arc::new(rescoped);
        let checked = body(answers.check(URL, &rescoped, &token)).await;
        assert_eq!(checked["scopes"], serde_json::json!(["user"]));

        let mut renamed = (*rescoped).clone();
        renamed.user.login = Login::parse("OctoCat").unwrap();
        let renamed = Arc::new(renamed);
        let user = answers.user(URL, &renamed).unwrap();
        let shown: serde_json::Value = serde_json::from_slice(&user.body).unwrap();
        assert_eq!(
            shown["login"], "OctoCat",
            "a login's case is part of the answer"
        );
        assert_eq!(user.scopes, "user");
        let checked = body(answers.check(URL, &renamed, &token)).await;
        assert_eq!(checked["user"]["login"], "OctoCat");

        let mut reset = (*renamed).clone();
        reset.authorization.token_last_eight = "stuvwxyz".to_owned();
        reset.authorization.token_hash = TokenHash([2; 32]);
        let reset = Arc::new(reset);
        let checked = body(answers.check(URL, &reset, &token)).await;
        assert_eq!(checked["token_last_eight"], "stuvwxyz");
    }

    #[test]
    fn an_unchanged_record_read_afresh_reuses_its_entry() {
        let answers = Answers::new(16);
        let shared = Arc::new(record());
        let entry = answers.rendered(&shared).unwrap();
        assert!(Arc::ptr_eq(&entry, &answers.rendered(&shared).unwrap()));
        // PostgreSQL reads a new, equal record for every request.
        let afresh = Arc::new(record());
        assert!(Arc::ptr_eq(&entry, &answers.rendered(&afresh).unwrap()));
        // Secrets are not shown: a new password hash changes no answer.
        let mut new_password = record();
        new_password.user.password_hash = PasswordHashString("$argon2id$other".to_owned());
        assert!(Arc::ptr_eq(
            &entry,
            &answers.rendered(&Arc::new(new_password)).unwrap()
        ));
        let mut suspended = record();
        suspended.user.suspended_at = Some(datetime!(2030-01-02 00:00:00 UTC));
        assert!(!Arc::ptr_eq(
            &entry,
            &answers.rendered(&Arc::new(suspended)).unwrap()
        ));
        assert!(Answers::new(0).rendered(&shared).is_none());
    }
}
