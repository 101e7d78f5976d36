//! Extractors: authentication and request bodies. A handler that takes [`BasicUser`] cannot
//! run for an unauthenticated request; one that takes [`JsonObject`] always gets GitHub's 400s.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;
use super::hot_routes;
use super::limits::RateLimitSlot;
use crate::domain::app::{self, App};
use crate::domain::app_token::{self, TokenRecord};
use crate::domain::authorization::Field;
use crate::domain::limits::{self, Subject};
use crate::domain::secret::{ClientSecret, Password};
use crate::domain::token::{PlainToken, TokenHash};
use crate::domain::user::{self, User};
use crate::domain::{Error, FieldError, error::ErrorCode};

/// Parses an integer id from a path. Ids that are not positive integers name nothing, so they
/// answer 404 like an id that does not exist (GitHub does the same), not 400.
pub fn path_id<T>(raw: &str, wrap: fn(i64) -> T, doc: &'static str) -> Result<T, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(wrap)
        .ok_or_else(|| ApiError::not_found().documented(doc))
}

/// Counts an authenticated request against its subject's rate limit and leaves the figures
/// for the response headers (see `limits.rs`), refused or not.
async fn count_request(
    slot: Option<&RateLimitSlot>,
    state: &AppState,
    subject: Subject,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let outcome = limits::count_request(&*state.store, &subject, state.limits.rate, now).await;
    if let Some(slot) = slot {
        match &outcome {
            Ok(status) | Err(Error::RateLimited(status, _)) => slot.set(*status),
            Err(_) => {}
        }
    }
    outcome.map(|_| ()).map_err(ApiError::from)
}

/// A user authenticated with HTTP Basic `login:password` (and a TOTP code if they have 2FA).
#[derive(Debug, Clone)]
pub struct BasicUser(pub User);

/// Splits an `Authorization` header into (scheme, credentials).
fn authorization_header(parts: &Parts) -> Option<(&str, &str)> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    Some(
        value
            .split_once(' ')
            .map_or((value, ""), |(scheme, rest)| (scheme, rest.trim())),
    )
}

fn decode_basic(credentials: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let mut login = String::from_utf8(bytes).ok()?;
    // The login keeps the decoded buffer; only the password is copied out of it.
    let colon = login.find(':')?;
    let password = login.split_off(colon + 1);
    login.truncate(colon);
    Some((login, password))
}

impl FromRequestParts<AppState> for BasicUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some((scheme, credentials)) = authorization_header(parts) else {
            return Err(ApiError::requires_authentication());
        };
        if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::basic_auth_only());
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::requires_authentication());
        }
        let (login, password) =
            decode_basic(credentials).ok_or_else(ApiError::requires_authentication)?;
        let otp = parts
            .headers
            .get("x-github-otp")
            .and_then(|v| v.to_str().ok());
        let now = state.clock.now();
        let throttle = state.limits.login;
        let user = user::sign_in(
            &*state.store,
            &login,
            Password::new(password),
            otp,
            throttle,
            now,
        )
        .await?;
        count_request(parts.extensions.get(), state, Subject::User(user.id), now).await?;
        Ok(Self(user))
    }
}

/// An OAuth app or GitHub App authenticated with HTTP Basic `client_id:client_secret`, on a
/// route whose path names the same client id.
#[derive(Debug, Clone)]
pub struct AppClient(pub Arc<App>);

impl FromRequestParts<AppState> for AppClient {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credentials = AppCredentials::from_parts(parts, state).await?;
        let (app, _) = credentials.sign_in(state, None).await?;
        Ok(Self(app))
    }
}

/// What an app-side request carries before the store is asked: its Basic credentials, the
/// client id in its path and its rate-limit slot.
struct AppCredentials {
    client_id: String,
    secret: ClientSecret,
    path_client_id: Option<String>,
    slot: Option<RateLimitSlot>,
}

impl AppCredentials {
    async fn from_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(("Basic" | "basic" | "BASIC", credentials)) = authorization_header(parts) else {
            return Err(ApiError::requires_authentication());
        };
        let (client_id, secret) =
            decode_basic(credentials).ok_or_else(ApiError::requires_authentication)?;
        // From the router's path parameters, or, for a route dispatched before the router,
        // from the path as that dispatch read it.
        let path_client_id = match RawPathParams::from_request_parts(parts, state).await {
            Ok(path) => path
                .iter()
                .find(|(name, _)| *name == "client_id")
                .map(|(_, value)| value.to_owned()),
            Err(_) => {
                hot_routes::path_client_id(&parts.method, parts.uri.path()).map(str::to_owned)
            }
        };
        Ok(Self {
            client_id,
            secret: ClientSecret::new(secret),
            path_client_id,
            slot: parts.extensions.get::<RateLimitSlot>().cloned(),
        })
    }

    /// Signs the app in and counts the request; with `token`, also fetches what the store
    /// holds under that hash, in the same round trip.
    async fn sign_in(
        self,
        state: &AppState,
        token: Option<&TokenHash>,
    ) -> Result<(Arc<App>, Option<Option<Arc<TokenRecord>>>), ApiError> {
        let now = state.clock.now();
        let (store, throttle) = (&*state.store, state.limits.login);
        let (app, fetched) = match token {
            None => {
                let app = app::sign_in(store, &self.client_id, &self.secret, throttle, now).await?;
                (app, None)
            }
            Some(token) => {
                let (app, stored) = app::sign_in_with_token(
                    store,
                    &self.client_id,
                    &self.secret,
                    token,
                    throttle,
                    now,
                )
                .await?;
                (app, Some(stored))
            }
        };
        // An app may only act under its own client id: any other path is "not found", so the
        // answer says nothing about the other app or its tokens.
        if self.path_client_id.as_deref() != Some(app.client_id.as_str()) {
            return Err(ApiError::not_found());
        }
        // Signed in, so the client id sent is the app's (apps are found by exact client id):
        // the subject takes the string already decoded rather than a copy of the app's.
        let subject = Subject::App(self.client_id);
        count_request(self.slot.as_ref(), state, subject, now).await?;
        Ok((app, fetched))
    }
}

/// An app-side request whose JSON body names a token (`{"access_token": …}`): the app signed
/// in and, when the body holds a well-formed token, that token fetched in the same round trip
/// (on PostgreSQL a token check is then one query, not two). Errors come in the order of
/// [`AppClient`] then [`JsonObject`]: authentication's first, the body's for the handler.
pub struct AppTokenRequest {
    pub app: AppClient,
    pub body: Result<JsonObject, ApiError>,
    /// The body's token, parsed, and what the store holds under its hash.
    pub fetched: Option<(PlainToken, Option<Arc<TokenRecord>>)>,
}

impl FromRequest<AppState> for AppTokenRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let credentials = AppCredentials::from_parts(&mut parts, state).await?;
        let body = JsonObject::from_request(Request::from_parts(parts, body), state).await;
        let token = body
            .as_ref()
            .ok()
            .and_then(|body| body.0.get("access_token"))
            .and_then(Value::as_str)
            .and_then(PlainToken::parse);
        let (app, stored) = credentials
            .sign_in(state, token.as_ref().map(PlainToken::hash).as_ref())
            .await?;
        Ok(Self {
            app: AppClient(app),
            body,
            fetched: token.zip(stored),
        })
    }
}

/// A request authenticated with a token: `Authorization: token …`, `Bearer …`, or Basic with
/// the token as the password (as git and older clients send it).
#[derive(Debug, Clone)]
pub struct TokenAuth(pub Arc<TokenRecord>);

impl FromRequestParts<AppState> for TokenAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some((scheme, credentials)) = authorization_header(parts) else {
            return Err(ApiError::requires_authentication());
        };
        let token = if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
        {
            credentials.to_owned()
        } else if scheme.eq_ignore_ascii_case("basic") {
            decode_basic(credentials)
                .ok_or_else(ApiError::requires_authentication)?
                .1
        } else {
            return Err(ApiError::requires_authentication());
        };
        let now = state.clock.now();
        let record = app_token::authenticate(&*state.store, &token, now).await?;
        count_request(
            parts.extensions.get(),
            state,
            Subject::User(record.user.id),
            now,
        )
        .await?;
        Ok(Self(record))
    }
}

/// A request body that must be a JSON object. Whatever the `Content-Type`, malformed JSON is
/// GitHub's 400 "Problems parsing JSON" and any other JSON value 400 "Body should be a JSON
/// object"; an empty body is `{}`, as GitHub treats it. (axum's own `Json` answers 415 and
/// plain-text 422s instead.)
#[derive(Debug, Default)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request body is too large (the limit is 1 MiB)",
                    )
                } else {
                    ApiError::problems_parsing_json()
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Body should be a JSON object",
            )),
            Err(_) => Err(ApiError::problems_parsing_json()),
        }
    }
}

/// Reads typed fields out of a [`JsonObject`], collecting every type error so that one 422
/// names all the bad fields at once. Unknown keys are ignored, as GitHub ignores them.
pub struct FieldReader<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> FieldReader<'a> {
    pub fn new(body: &'a JsonObject) -> Self {
        Self {
            body: &body.0,
            errors: Vec::new(),
        }
    }

    fn invalid(&mut self, key: &'static str) {
        self.errors.push(FieldError::new(key, ErrorCode::Invalid));
    }

    /// A string field for which `null` clears the value.
    pub fn field_string(&mut self, key: &'static str) -> Field<String> {
        match self.body.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::String(text)) => Field::Value(text.clone()),
            Some(_) => {
                self.invalid(key);
                Field::Absent
            }
        }
    }

    /// A string field where `null` and absent mean the same.
    pub fn string(&mut self, key: &'static str) -> Option<String> {
        match self.field_string(key) {
            Field::Value(text) => Some(text),
            Field::Absent | Field::Null => None,
        }
    }

    /// An array of strings for which `null` is distinct from absence.
    pub fn field_strings(&mut self, key: &'static str) -> Field<Vec<String>> {
        match self.body.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect();
                strings.map_or_else(
                    || {
                        self.invalid(key);
                        Field::Absent
                    },
                    Field::Value,
                )
            }
            Some(_) => {
                self.invalid(key);
                Field::Absent
            }
        }
    }

    /// An array of strings where `null` and absent mean the same.
    pub fn strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        match self.field_strings(key) {
            Field::Value(list) => Some(list),
            Field::Absent | Field::Null => None,
        }
    }

    /// A string field that must be there (`missing_field` if absent or null).
    pub fn required_string(&mut self, key: &'static str) -> String {
        match self.body.get(key) {
            None | Some(Value::Null) => {
                self.errors
                    .push(FieldError::new(key, ErrorCode::MissingField));
                String::new()
            }
            Some(Value::String(text)) => text.clone(),
            Some(_) => {
                self.invalid(key);
                String::new()
            }
        }
    }

    /// An integer field where `null` and absent mean the same.
    pub fn integer(&mut self, key: &'static str) -> Option<i64> {
        match self.body.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => value.as_i64().or_else(|| {
                self.invalid(key);
                None
            }),
        }
    }

    /// An array of integers where `null` and absent mean the same.
    pub fn integers(&mut self, key: &'static str) -> Option<Vec<i64>> {
        match self.body.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => items
                .iter()
                .map(Value::as_i64)
                .collect::<Option<Vec<_>>>()
                .or_else(|| {
                    self.invalid(key);
                    None
                }),
            Some(_) => {
                self.invalid(key);
                None
            }
        }
    }

    /// An object whose values are all strings, as (key, value) pairs in the body's order.
    pub fn string_map(&mut self, key: &'static str) -> Option<Vec<(String, String)>> {
        match self.body.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect::<Option<Vec<_>>>()
                .or_else(|| {
                    self.invalid(key);
                    None
                }),
            Some(_) => {
                self.invalid(key);
                None
            }
        }
    }

    /// Ends reading: the values are usable only if no field had the wrong type.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.errors))
        }
    }
}
