//! Extractors: authentication and request bodies. A handler that takes [`BasicUser`] cannot
//! run for an unauthenticated request; one that takes [`JsonObject`] always gets GitHub's 400s.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;
use super::hot_routes;
use super::limits::{RateLimitSlot, Resource};
use crate::domain::app::{self, App};
use crate::domain::app_token::{self, TokenRecord};
use crate::domain::authorization::Field;
use crate::domain::limits::{self, Origin, Subject};
use crate::domain::secret::{ClientSecret, Password};
use crate::domain::token::{PlainToken, TokenHash};
use crate::domain::user::{self, User};
use crate::domain::{ClientId, Error, FieldError, error::ErrorCode};

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

/// Where a request came from, for counting its wrong app secrets against its address.
pub struct RequestOrigin(pub Origin);

fn origin(parts: &Parts, state: &AppState) -> Origin {
    Origin {
        address: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_canonical()),
        throttle: state.limits.login,
    }
}

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(origin(parts, state)))
    }
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
        super::log::record_user(user.login.as_str());
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
    origin: Origin,
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
            origin: origin(parts, state),
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
        let store = &*state.store;
        let (app, fetched) = match token {
            None => {
                let app =
                    app::sign_in(store, &self.client_id, &self.secret, self.origin, now).await?;
                (app, None)
            }
            Some(token) => {
                let (app, stored) = app::sign_in_with_token(
                    store,
                    &self.client_id,
                    &self.secret,
                    token,
                    self.origin,
                    now,
                )
                .await?;
                (app, Some(stored))
            }
        };
        super::log::record_app(app.client_id.as_str());
        // An app may only act under its own client id: any other path is "not found", so the
        // answer says nothing about the other app or its tokens.
        if self.path_client_id.as_deref() != Some(app.client_id.as_str()) {
            return Err(ApiError::not_found());
        }
        // Which of its secrets signed it in, for the secret's "last used".
        state.usage.secret_used(app.id, &self.secret.digest());
        // Signed in, so the client id sent is the app's (apps are found by exact client id):
        // the subject takes the string already decoded rather than a copy of the app's.
        let subject = ClientId::parse_owned(self.client_id)
            .map_or_else(|| Subject::App(app.client_id.clone()), Subject::App);
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
    pub body: Result<TokenBody, ApiError>,
}

/// The body of an app-token request, as far as the extractor read it.
pub enum TokenBody {
    /// `access_token` a well-formed token, and what the store holds under its hash.
    Fetched(PlainToken, Option<Arc<TokenRecord>>),
    /// `access_token` a string that no token can have (wrong length, prefix or checksum).
    Malformed(String),
    /// Any other body (no `access_token`, not a string, escapes in it, a key twice), read as
    /// a JSON object for the handler's [`FieldReader`], whose 422s name the field.
    Object(JsonObject),
}

impl FromRequest<AppState> for AppTokenRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let credentials = AppCredentials::from_parts(&mut parts, state).await?;
        let sent = read_body(Request::from_parts(parts, body), state)
            .await
            .and_then(|bytes| SentToken::read(&bytes));
        let token = match &sent {
            Ok(SentToken::Token(token)) => Some(token.hash()),
            _ => None,
        };
        let (app, stored) = credentials.sign_in(state, token.as_ref()).await?;
        let body = sent.map(|sent| match sent {
            SentToken::Token(token) => TokenBody::Fetched(token, stored.flatten()),
            SentToken::Malformed(text) => TokenBody::Malformed(text),
            SentToken::Other(object) => TokenBody::Object(object),
        });
        Ok(Self {
            app: AppClient(app),
            body,
        })
    }
}

/// What an app-token request's body sent, before the store is asked.
enum SentToken {
    Token(PlainToken),
    Malformed(String),
    Other(JsonObject),
}

impl SentToken {
    /// Reads the body as most clients send it, `{"access_token":"gho_…"}`, straight from its
    /// bytes: a [`JsonObject`] would first copy every key and value into a map. Anything the
    /// quick reading refuses is read as a [`JsonObject`], so both readings give every body
    /// the same answer (see [`TokenField`]).
    fn read(bytes: &[u8]) -> Result<Self, ApiError> {
        match serde_json::from_slice::<TokenField<'_>>(bytes) {
            Ok(TokenField(Some(text))) => Ok(PlainToken::parse(text)
                .map_or_else(|| Self::Malformed(text.to_owned()), Self::Token)),
            Ok(TokenField(None)) | Err(_) => JsonObject::from_bytes(bytes).map(Self::Other),
        }
    }
}

/// The `access_token` of a JSON object whose `access_token`, if any, is a string without
/// escapes (so it can be borrowed from the body) and appears once. Any other body is an error
/// here and is read as a [`JsonObject`] instead. The other values are read as
/// [`serde_json::Value`]s, so a body refused as a [`JsonObject`] (a number out of range,
/// invalid UTF-8 in a string) is refused here too, and never answered as if it were well-formed.
struct TokenField<'a>(Option<&'a str>);

impl<'de> serde::Deserialize<'de> for TokenField<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TokenFieldVisitor)
    }
}

struct TokenFieldVisitor;

impl<'de> serde::de::Visitor<'de> for TokenFieldVisitor {
    type Value = TokenField<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut token = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "access_token" {
                if token.is_some() {
                    // A JSON object keeps the last; leave that reading to it.
                    return Err(serde::de::Error::duplicate_field("access_token"));
                }
                token = Some(map.next_value::<&'de str>()?);
            } else {
                map.next_value::<Value>()?;
            }
        }
        Ok(TokenField(token))
    }
}

/// A request authenticated with a token: `Authorization: token …`, `Bearer …`, or Basic with
/// the token as the password (as git and older clients send it).
#[derive(Debug, Clone)]
pub struct TokenAuth(pub Arc<TokenRecord>);

/// The token a request carries (see [`TokenAuth`]), before it is looked up.
fn sent_token(parts: &Parts) -> Result<String, ApiError> {
    let Some((scheme, credentials)) = authorization_header(parts) else {
        return Err(ApiError::requires_authentication());
    };
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        Ok(credentials.to_owned())
    } else if scheme.eq_ignore_ascii_case("basic") {
        Ok(decode_basic(credentials)
            .ok_or_else(ApiError::requires_authentication)?
            .1)
    } else {
        Err(ApiError::requires_authentication())
    }
}

impl FromRequestParts<AppState> for TokenAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = sent_token(parts)?;
        let now = state.clock.now();
        let record = app_token::authenticate(&*state.store, &token, now).await?;
        state.token_used(&record, now);
        super::log::record_user(record.user.login.as_str());
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

/// A GraphQL request's token, counted against the user's GraphQL limit (GitHub keeps it
/// apart from the REST API's). Every rejection links GitHub's GraphQL docs.
#[derive(Debug, Clone)]
pub struct GraphQlAuth(pub Arc<TokenRecord>, pub limits::RateLimitStatus);

impl FromRequestParts<AppState> for GraphQlAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authenticated = async {
            let token = sent_token(parts).map_err(|_| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "This endpoint requires you to be authenticated.",
                )
            })?;
            let now = state.clock.now();
            let record = app_token::authenticate(&*state.store, &token, now).await?;
            state.token_used(&record, now);
            let subject = Subject::GraphQl(record.user.id);
            let outcome =
                limits::count_request(&*state.store, &subject, state.limits.rate, now).await;
            if let Some(slot) = parts.extensions.get::<RateLimitSlot>()
                && let Ok(status) | Err(Error::RateLimited(status, _)) = &outcome
            {
                slot.set_for(*status, Resource::GraphQl);
            }
            Ok::<_, ApiError>((record, outcome?))
        };
        authenticated
            .await
            .map(|(record, status)| Self(record, status))
            .map_err(ApiError::for_graphql)
    }
}

/// Who calls an endpoint that GitHub also answers for anonymous callers (`GET /meta`,
/// `GET /users/{username}`…): a token, a user's Basic credentials, or nobody. Credentials that
/// are sent are checked as everywhere else: a wrong one is a 401, never an anonymous call.
#[derive(Debug, Clone)]
pub enum Caller {
    Token(Arc<TokenRecord>),
    User(User),
    /// No credentials, from this address (`None`: a server used without a listener).
    Anonymous(Option<std::net::IpAddr>),
}

impl Caller {
    /// Who the request counts against: the user, or the address of an anonymous caller (as
    /// GitHub limits unauthenticated requests per address).
    pub fn subject(&self) -> Subject {
        match self {
            Self::Token(record) => Subject::User(record.user.id),
            Self::User(user) => Subject::User(user.id),
            Self::Anonymous(address) => Subject::Address(
                address.unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            ),
        }
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Self::Token(record) => Some(&record.user),
            Self::User(user) => Some(user),
            Self::Anonymous(_) => None,
        }
    }

    /// Authenticates what the request sends, without counting it. Basic credentials whose
    /// password is a token are a token (as git sends them); any other are a login and
    /// password, with an OTP code for 2FA accounts, throttled as on the Authorizations API.
    async fn identify(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some((scheme, credentials)) = authorization_header(parts) else {
            return Ok(Self::Anonymous(origin(parts, state).address));
        };
        let now = state.clock.now();
        let token = if scheme.eq_ignore_ascii_case("basic") {
            let (login, password) =
                decode_basic(credentials).ok_or_else(ApiError::requires_authentication)?;
            if PlainToken::parse(&password).is_none() {
                let otp = parts
                    .headers
                    .get("x-github-otp")
                    .and_then(|v| v.to_str().ok());
                let user = user::sign_in(
                    &*state.store,
                    &login,
                    Password::new(password),
                    otp,
                    state.limits.login,
                    now,
                )
                .await?;
                return Ok(Self::User(user));
            }
            password
        } else {
            sent_token(parts)?
        };
        let record = app_token::authenticate(&*state.store, &token, now).await?;
        state.token_used(&record, now);
        Ok(Self::Token(record))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Self::identify(parts, state).await?;
        let now = state.clock.now();
        count_request(parts.extensions.get(), state, caller.subject(), now).await?;
        Ok(caller)
    }
}

/// A [`Caller`] not counted against any limit: `GET /rate_limit`, which GitHub does not count.
#[derive(Debug, Clone)]
pub struct UncountedCaller(pub Caller);

impl FromRequestParts<AppState> for UncountedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Caller::identify(parts, state).await.map(Self)
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
        Self::from_bytes(&read_body(request, state).await?)
    }
}

impl JsonObject {
    fn from_bytes(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Body should be a JSON object",
            )),
            Err(_) => Err(ApiError::problems_parsing_json()),
        }
    }
}

/// A request's body, up to the 1 MiB limit.
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
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
        })
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

    /// A boolean field where `null` and absent mean the same.
    pub fn boolean(&mut self, key: &'static str) -> Option<bool> {
        match self.body.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => value.as_bool().or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::TokenKind;

    /// The `access_token` the check handler reads from a JSON object, or the 422 it answers.
    fn required_token(object: &JsonObject) -> Result<String, StatusCode> {
        let mut fields = FieldReader::new(object);
        let token = fields.required_string("access_token");
        fields
            .finish()
            .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
        Ok(token)
    }

    /// What the check handler makes of a body: the token it checks, or the status it answers.
    fn outcome_read_whole(body: &[u8]) -> Result<String, StatusCode> {
        required_token(&JsonObject::from_bytes(body).map_err(|e| e.status())?)
    }

    fn outcome_read_quickly(body: &[u8]) -> Result<String, StatusCode> {
        match SentToken::read(body).map_err(|e| e.status())? {
            SentToken::Token(token) => Ok(token.expose().to_owned()),
            SentToken::Malformed(text) => Ok(text),
            SentToken::Other(object) => required_token(&object),
        }
    }

    /// The quick reading of a check's body answers every body as reading it whole does.
    #[test]
    fn the_quick_body_reading_agrees_with_the_whole_one() {
        let token = PlainToken::generate(TokenKind::OAuthApp)
            .unwrap_or_else(|e| panic!("{e}"))
            .expose()
            .to_owned();
        let escaped = format!("\\u0067{}", &token[1..]);
        let bodies: Vec<Vec<u8>> = [
            format!(r#"{{"access_token":"{token}"}}"#),
            format!(r#" {{ "access_token" : "{token}" , "note": {{"a": [1, 2.5, null]}} }} "#),
            format!(r#"{{"note":"x","access_token":"{token}"}}"#),
            format!(r#"{{"access_token":"{escaped}"}}"#),
            format!(r#"{{"\u0061ccess_token":"{token}"}}"#),
            format!(r#"{{"access_token":"{token}","access_token":"gho_other"}}"#),
            format!(r#"{{"access_token":"gho_other","access_token":"{token}"}}"#),
            format!(r#"{{"access_token":"{token}","n":1e400}}"#),
            format!(r#"{{"access_token":"{token}"}} trailing"#),
            format!(r#"{{"access_token":"{token}""#),
            format!(r#"["{token}"]"#),
            format!(r#""{token}""#),
            r#"{"access_token":"gho_not_a_token"}"#.to_owned(),
            r#"{"access_token":null}"#.to_owned(),
            r#"{"access_token":42}"#.to_owned(),
            r#"{"access_token":["x"]}"#.to_owned(),
            "{}".to_owned(),
            "   ".to_owned(),
            String::new(),
            "null".to_owned(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .chain([
            [
                br#"{"access_token":""#,
                token.as_bytes(),
                br#"","x":"\xff"}"#,
            ]
            .concat(),
            [br#"{"\xff":1,"access_token":""#, token.as_bytes(), br#""}"#].concat(),
        ])
        .collect();
        let mut quick = 0;
        for body in &bodies {
            assert_eq!(
                outcome_read_quickly(body),
                outcome_read_whole(body),
                "{}",
                String::from_utf8_lossy(body)
            );
            quick += usize::from(matches!(
                SentToken::read(body),
                Ok(SentToken::Token(_) | SentToken::Malformed(_))
            ));
        }
        // The quick reading took the plain bodies: four with the token (one key escaped), one
        // malformed.
        assert_eq!(quick, 5);
    }

    /// Fuzzing (issue 18): every reader of a request's credentials or body, fed anything,
    /// answers without panicking, and what it refuses it refuses with GitHub's error JSON.
    mod proptests {
        use axum::http::HeaderValue;
        use proptest::prelude::*;

        use super::*;
        use crate::http::error::testing::{assert_github_shaped, rendered};

        /// Every key a handler reads from a body, so generated objects hit them often.
        const KEYS: &[&str] = &[
            "access_token",
            "scopes",
            "add_scopes",
            "remove_scopes",
            "note",
            "note_url",
            "fingerprint",
            "client_id",
            "client_secret",
            "target",
            "target_id",
            "repositories",
            "repository_ids",
            "permissions",
        ];

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => prop::sample::select(KEYS).prop_map(str::to_owned),
                1 => ".{0,8}",
            ]
        }

        /// Any JSON value, a few levels deep, with the numbers serde_json can hold.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_filter_map("finite", |f| {
                    serde_json::Number::from_f64(f).map(Value::Number)
                }),
                ".{0,20}".prop_map(Value::String),
                "gh[opu]_[0-9A-Za-z]{36}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 0..6)
                        .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                ]
            })
        }

        fn json_object() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::vec((key(), json_value()), 0..8)
                .prop_map(|pairs| pairs.into_iter().collect())
        }

        /// A body as a client might send it: JSON of any kind, an object with a token in
        /// it (plain, escaped, twice), JSON cut short or with bytes after it, or any bytes.
        fn body() -> impl Strategy<Value = Vec<u8>> {
            let token = || {
                prop_oneof![
                    "gh[opu]_[0-9A-Za-z]{36}",
                    Just(
                        PlainToken::generate(crate::domain::token::TokenKind::OAuthApp)
                            .unwrap()
                            .expose()
                            .to_owned()
                    ),
                    ".{0,12}",
                ]
            };
            prop_oneof![
                json_value().prop_map(|v| v.to_string().into_bytes()),
                (json_object(), token(), any::<bool>()).prop_map(|(mut object, token, first)| {
                    let pair = format!(r#""access_token":{}"#, Value::String(token));
                    let rest = {
                        object.remove("access_token");
                        let text = Value::Object(object).to_string();
                        text[1..text.len() - 1].to_owned()
                    };
                    let inner = match (rest.is_empty(), first) {
                        (true, _) => pair,
                        (false, true) => format!("{pair},{rest}"),
                        (false, false) => format!("{rest},{pair}"),
                    };
                    format!("{{{inner}}}").into_bytes()
                }),
                (token(), token()).prop_map(|(a, b)| {
                    format!(r#"{{"access_token":"{a}", "access_token" : "{b}"}}"#).into_bytes()
                }),
                token().prop_map(|t| {
                    let escaped = t.replacen('g', "\\u0067", 1);
                    format!(r#"{{"access_token":"{escaped}"}}"#).into_bytes()
                }),
                (json_value(), 0..64usize).prop_map(|(v, cut)| {
                    let text = v.to_string().into_bytes();
                    text[..cut.min(text.len())].to_vec()
                }),
                (json_object(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(o, tail)| {
                    [Value::Object(o).to_string().into_bytes(), tail].concat()
                }),
                prop::collection::vec(any::<u8>(), 0..64),
                "[ \t\r\n]{0,4}".prop_map(String::into_bytes),
            ]
        }

        /// Which reader a handler calls on a key.
        #[derive(Debug, Clone, Copy)]
        enum Reader {
            FieldString,
            String,
            FieldStrings,
            Strings,
            RequiredString,
            Integer,
            Integers,
            StringMap,
        }

        fn reader() -> impl Strategy<Value = Reader> {
            prop::sample::select(vec![
                Reader::FieldString,
                Reader::String,
                Reader::FieldStrings,
                Reader::Strings,
                Reader::RequiredString,
                Reader::Integer,
                Reader::Integers,
                Reader::StringMap,
            ])
        }

        /// The error a reader must record for `value` (`None`: the value is acceptable).
        fn expected_error(reader: Reader, value: Option<&Value>) -> Option<ErrorCode> {
            let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            let ok = match (reader, value) {
                (Reader::RequiredString, None | Some(Value::Null)) => {
                    return Some(ErrorCode::MissingField);
                }
                (_, None | Some(Value::Null)) => true,
                (Reader::FieldString | Reader::String | Reader::RequiredString, Some(v)) => {
                    v.is_string()
                }
                (Reader::FieldStrings | Reader::Strings, Some(v)) => strings(v),
                (Reader::Integer, Some(v)) => v.is_i64(),
                (Reader::Integers, Some(v)) => {
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_i64))
                }
                (Reader::StringMap, Some(v)) => v
                    .as_object()
                    .is_some_and(|o| o.values().all(Value::is_string)),
            };
            (!ok).then_some(ErrorCode::Invalid)
        }

        fn read(fields: &mut FieldReader<'_>, reader: Reader, key: &'static str) {
            match reader {
                Reader::FieldString => drop(fields.field_string(key)),
                Reader::String => drop(fields.string(key)),
                Reader::FieldStrings => drop(fields.field_strings(key)),
                Reader::Strings => drop(fields.strings(key)),
                Reader::RequiredString => drop(fields.required_string(key)),
                Reader::Integer => drop(fields.integer(key)),
                Reader::Integers => drop(fields.integers(key)),
                Reader::StringMap => drop(fields.string_map(key)),
            }
        }

        proptest! {
            #[test]
            fn any_body_is_read_or_refused_with_githubs_400(bytes in body()) {
                match JsonObject::from_bytes(&bytes) {
                    Ok(JsonObject(map)) => {
                        let value = serde_json::from_slice::<Value>(&bytes).ok();
                        prop_assert!(
                            value.as_ref().is_some_and(Value::is_object)
                                || bytes.iter().all(u8::is_ascii_whitespace)
                        );
                        prop_assert_eq!(value.unwrap_or_else(|| Value::Object(Map::new())), Value::Object(map));
                    }
                    Err(error) => {
                        let (status, body) = rendered(error);
                        assert_github_shaped(status, &body);
                        prop_assert_eq!(status, 400);
                        let message = body["message"].as_str().unwrap_or_default().to_owned();
                        prop_assert!(
                            ["Problems parsing JSON", "Body should be a JSON object"]
                                .contains(&message.as_str()),
                            "{}",
                            message
                        );
                    }
                }
            }

            /// The quick reading of an app-token body gives every body the answer that
            /// reading it whole gives (the token checked, or the same error status).
            #[test]
            fn the_quick_token_reading_agrees_with_the_whole_one(bytes in body()) {
                prop_assert_eq!(
                    outcome_read_quickly(&bytes),
                    outcome_read_whole(&bytes),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
                if let Err(error) = SentToken::read(&bytes) {
                    let (status, body) = rendered(error);
                    assert_github_shaped(status, &body);
                }
            }

            /// Every reader, on any value: the type errors it records are exactly those the
            /// value's JSON type calls for, in reading order, and they make one GitHub 422.
            #[test]
            fn field_readers_record_exactly_the_wrong_types(
                object in json_object(),
                reads in prop::collection::vec((reader(), prop::sample::select(KEYS)), 0..10),
            ) {
                let body = JsonObject(object);
                let mut fields = FieldReader::new(&body);
                let mut expected = Vec::new();
                for &(reader, key) in &reads {
                    read(&mut fields, reader, key);
                    if let Some(code) = expected_error(reader, body.0.get(key)) {
                        expected.push(FieldError::new(key, code));
                    }
                }
                match fields.finish() {
                    Ok(()) => prop_assert!(expected.is_empty(), "{:?}", expected),
                    Err(Error::Invalid(errors)) => {
                        prop_assert_eq!(&errors, &expected);
                        let (status, json) = rendered(ApiError::from(Error::Invalid(errors)));
                        prop_assert_eq!(status, 422);
                        assert_github_shaped(status, &json);
                    }
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            #[test]
            fn basic_credentials_of_any_bytes_never_panic(
                bytes in prop::collection::vec(any::<u8>(), 0..64),
                text in ".{0,40}",
            ) {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
                for candidate in [encoded.as_str(), text.as_str()] {
                    if let Some((login, password)) = decode_basic(candidate) {
                        prop_assert!(!login.contains(':'));
                        let _ = password;
                    }
                }
                // What decodes is exactly the UTF-8 text before and after the first colon.
                let expected = String::from_utf8(bytes).ok().and_then(|text| {
                    text.split_once(':').map(|(l, p)| (l.to_owned(), p.to_owned()))
                });
                prop_assert_eq!(decode_basic(&encoded), expected);
            }

            #[test]
            fn login_and_password_round_trip_through_basic(
                login in "[^:]{0,40}",
                password in "(.{0,10}:?){0,4}",
                scheme in "(Basic|basic|BASIC)",
                padding in "[ ]{0,3}",
            ) {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{login}:{password}"));
                prop_assert_eq!(
                    decode_basic(&encoded),
                    Some((login.clone(), password.clone()))
                );
                let header = format!("{padding}{scheme} {padding}{encoded}{padding}");
                let parts = parts_with(HeaderValue::from_str(&header).unwrap());
                let (got_scheme, credentials) = authorization_header(&parts).unwrap();
                prop_assert_eq!(got_scheme, scheme.as_str());
                prop_assert_eq!(decode_basic(credentials), Some((login, password)));
            }

            #[test]
            fn any_authorization_header_splits_without_panicking(
                bytes in prop::collection::vec(any::<u8>(), 0..80),
                text in "(Basic|token|Bearer|bearer|x)?[ \t]{0,3}[ -~]{0,60}",
            ) {
                for raw in [bytes, text.into_bytes()] {
                    let Ok(value) = HeaderValue::from_bytes(&raw) else { continue };
                    let parts = parts_with(value);
                    if let Some((scheme, credentials)) = authorization_header(&parts) {
                        prop_assert!(!scheme.contains(' '));
                        prop_assert_eq!(credentials, credentials.trim());
                        let _ = decode_basic(credentials);
                    }
                }
            }
        }

        fn parts_with(value: HeaderValue) -> Parts {
            let (mut parts, ()) = axum::http::Request::new(()).into_parts();
            parts.headers.insert(header::AUTHORIZATION, value);
            parts
        }
    }
}
