//! The test controls under `/_grantd/` (`serve --test-controls`): the clock, reset and
//! snapshots, flows without a browser, token minting and the request journal, for test suites
//! that use grantd as their stand-in for GitHub. Off unless asked for; every route needs the
//! control token. Like every handler, these only translate: the rules stay in `domain/`, the
//! SQL in `store/`.

use crate::http::audit_log::RequestSource;
use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::error::ApiError;
use super::faults;
use super::json::Json;
use crate::domain::audit::Source;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::user_token::{self, Flow};
use crate::domain::{self, app, device_flow, scope::Scopes, user, web_flow};

/// The header that may carry the control token instead of `Authorization: Bearer`.
pub const TOKEN_HEADER: &str = "x-grantd-control-token";

/// Requests the journal keeps: enough for a test's worth, bounded whatever runs.
pub const JOURNAL_CAPACITY: usize = 1000;

/// The name under which the state after seeding is kept; not a valid snapshot name (those start
/// with a letter or digit), so a test cannot overwrite it.
const SEED_SNAPSHOT: &str = "_seed";

/// The control token in clear: printed once at start. `Debug` hides it.
#[derive(Clone)]
pub struct ControlToken(String);

impl ControlToken {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// 40 random base-62 characters after `gdc_`, so a leaked one is recognisable; from the
    /// OS even under `--rng-seed`, being a credential.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!(
            "gdc_{}",
            crate::domain::token::os_random_base62(40)?
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(***)")
    }
}

/// One answered request, as `GET /_grantd/requests` lists it: never a token, a secret or a
/// raw path (the legacy app-token paths carry a token), only the matched route's template.
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub request_id: String,
    pub method: String,
    /// The route template (`/applications/{client_id}/token`); `null` when no route matched.
    pub route: Option<String>,
    /// 0 for a request whose connection a `drop` fault closed unanswered.
    pub status: u16,
    /// The app whose client id authenticated the request, if one did.
    pub client_id: Option<String>,
    /// The user a token or a password authenticated, if one did.
    pub user: Option<String>,
    /// The id of the fault that answered or delayed it, if one did (`/_grantd/faults`).
    pub fault: Option<String>,
    /// When it was answered, by the controlled clock (RFC 3339).
    pub at: String,
}

/// The last [`JOURNAL_CAPACITY`] answered requests, oldest dropped first.
#[derive(Debug, Default)]
pub struct Journal(Mutex<VecDeque<JournalEntry>>);

impl Journal {
    pub fn record(&self, entry: JournalEntry) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == JOURNAL_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The last `limit`, oldest first.
    pub fn last(&self, limit: usize) -> Vec<JournalEntry> {
        let entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .skip(entries.len().saturating_sub(limit))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// What the controls of one server share.
pub struct Controls {
    /// Only the SHA-256 of the token is kept, compared in constant time.
    token_digest: [u8; 32],
    /// The server's clock, which the controls move (see [`AppState::with_controls`]).
    pub clock: Arc<SystemClock>,
    pub journal: Journal,
    /// The live faults (`/_grantd/faults`).
    pub faults: super::faults::Faults,
    /// Where snapshots are written (removed at exit).
    snapshots: tempfile::TempDir,
}

impl Controls {
    /// Controls guarded by `token`, with snapshot files in a new temporary directory.
    pub fn new(token: &ControlToken) -> std::io::Result<Self> {
        Ok(Self {
            token_digest: Sha256::digest(token.expose().as_bytes()).into(),
            clock: Arc::default(),
            journal: Journal::default(),
            faults: super::faults::Faults::default(),
            snapshots: tempfile::Builder::new()
                .prefix("grantd-snapshots-")
                .tempdir()?,
        })
    }

    fn accepts(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.token_digest.ct_eq(&digest).into()
    }

    fn snapshot_file(&self, name: &str) -> PathBuf {
        self.snapshots.path().join(format!("{name}.db"))
    }

    /// Saves the state right after seeding, which `POST /_grantd/reset` returns to. Call once
    /// the seed is loaded, before serving; `Ok(false)` if the store keeps no snapshots.
    pub async fn save_seed(&self, store: &dyn crate::store::Store) -> crate::store::Result<bool> {
        if !store.supports_snapshots() {
            return Ok(false);
        }
        store
            .save_snapshot(&self.snapshot_file(SEED_SNAPSHOT))
            .await?;
        Ok(true)
    }
}

/// The routes under `/_grantd/`, each behind the control token.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/_grantd/clock",
            get(get_clock).put(set_clock).fallback(method_not_allowed),
        )
        .route("/_grantd/clock/advance", post(advance_clock))
        .route("/_grantd/reset", post(reset))
        .route("/_grantd/snapshots/{name}", post(save_snapshot))
        .route("/_grantd/snapshots/{name}/restore", post(restore_snapshot))
        .route(
            "/_grantd/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/_grantd/tokens", post(mint_token))
        .route("/_grantd/device/approve", post(approve_device))
        .route("/_grantd/device/deny", post(deny_device))
        .route("/_grantd/oauth/authorize", post(authorize))
        .route(
            "/_grantd/faults",
            get(faults::list_faults)
                .post(faults::add_fault)
                .delete(faults::clear_faults),
        )
        .route("/_grantd/faults/{id}", delete(faults::delete_fault))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// The control token, from `Authorization: Bearer` or [`TOKEN_HEADER`]; 401 otherwise, in
/// GitHub's shape.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(controls) = &state.controls else {
        return ApiError::not_found().into_response();
    };
    let headers = request.headers();
    let sent = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
        });
    match sent {
        None => ApiError::requires_authentication().into_response(),
        Some(token) if controls.accepts(token.trim()) => next.run(request).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials").into_response(),
    }
}

fn controls(state: &AppState) -> Result<&Controls, ApiError> {
    state.controls.as_deref().ok_or_else(ApiError::not_found)
}

/// A JSON body into `T`; GitHub's 400 if it is not one.
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| ApiError::problems_parsing_json())
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// `GET`, `PUT /_grantd/clock` and `POST /_grantd/clock/advance` answer this.
#[derive(Serialize)]
pub struct ClockState {
    /// RFC 3339, UTC.
    pub now: String,
    /// The same instant in Unix seconds.
    pub epoch: i64,
    /// How far the clock is from the system's, in seconds.
    pub offset_seconds: i64,
}

fn clock_state(clock: &SystemClock) -> Json<ClockState> {
    let now = clock.now();
    Json(ClockState {
        now: rfc3339(now),
        epoch: now.unix_timestamp(),
        offset_seconds: clock.offset(),
    })
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// How far the clock may be moved from the system's: ten years either way, far inside the
/// date arithmetic's range however long a token lives.
const MAX_OFFSET_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// GET /_grantd/clock
pub async fn get_clock(State(state): State<AppState>) -> Result<Json<ClockState>, ApiError> {
    Ok(clock_state(&controls(&state)?.clock))
}

/// Makes the clock read `at`, refused (422) more than ten years from the system's time.
pub fn set_clock_to(clock: &SystemClock, at: OffsetDateTime) -> Result<(), ApiError> {
    let offset = at.unix_timestamp() - OffsetDateTime::now_utc().unix_timestamp();
    if offset.abs() > MAX_OFFSET_SECONDS {
        return Err(invalid("now must be within ten years of the system's time"));
    }
    clock.set(at);
    Ok(())
}

/// Moves the clock by `seconds` (back if negative), refused (422) if that would put it more
/// than ten years from the system's time.
pub fn advance_clock_by(clock: &SystemClock, seconds: i64) -> Result<(), ApiError> {
    let offset = clock.offset().checked_add(seconds);
    if offset.is_none_or(|o| o.abs() > MAX_OFFSET_SECONDS) {
        return Err(invalid(
            "seconds would move the clock more than ten years from the system's time",
        ));
    }
    clock.advance(seconds);
    Ok(())
}

#[derive(Deserialize)]
struct SetClock {
    now: String,
}

/// PUT /_grantd/clock `{"now": "2030-01-01T00:00:00Z"}`
pub async fn set_clock(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Json<ClockState>, ApiError> {
    let controls = controls(&state)?;
    let asked: SetClock = body(&bytes)?;
    let at = OffsetDateTime::parse(&asked.now, &Rfc3339)
        .map_err(|_| invalid("now must be an RFC 3339 time, such as 2030-01-01T00:00:00Z"))?;
    // Uses so far happened before the move: written with the time they happened at.
    state.flush_usage().await;
    set_clock_to(&controls.clock, at)?;
    Ok(clock_state(&controls.clock))
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

/// POST /_grantd/clock/advance `{"seconds": 3600}` (negative moves it back)
pub async fn advance_clock(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Json<ClockState>, ApiError> {
    let controls = controls(&state)?;
    let asked: Advance = body(&bytes)?;
    state.flush_usage().await;
    advance_clock_by(&controls.clock, asked.seconds)?;
    Ok(clock_state(&controls.clock))
}

/// Snapshot names: a letter or digit, then up to 63 letters, digits, `_` or `-`, so that a
/// name is a file name and nothing else.
fn valid_snapshot_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// How many named snapshots may exist at once (each is a copy of the database on disk);
/// saving over an existing name is always allowed.
pub const MAX_SNAPSHOTS: usize = 64;

/// How many named snapshots are saved now (the seed's is not counted).
fn saved_snapshots(controls: &Controls) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(controls.snapshots.path())? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".db") && name != format!("{SEED_SNAPSHOT}.db") {
            count += 1;
        }
    }
    Ok(count)
}

fn snapshots_unsupported() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "Reset and snapshots need a SQLite database (--db sqlite://… or --ephemeral)",
    )
}

/// Restores the snapshot in `file` and forgets what was counted in memory; `false` if there
/// is no such snapshot.
async fn restore(state: &AppState, controls: &Controls, name: &str) -> Result<bool, ApiError> {
    if !state.store.supports_snapshots() {
        return Err(snapshots_unsupported());
    }
    let file = controls.snapshot_file(name);
    if !file.exists() {
        return Ok(false);
    }
    state
        .store
        .restore_snapshot(&file)
        .await
        .map_err(domain::Error::from)?;
    Ok(true)
}

/// POST /_grantd/reset: back to the state right after seeding (users, apps, no tokens but the
/// seed's, no counters), the clock back to the system's, and no faults. The journal is kept
/// (see `DELETE /_grantd/requests`).
pub async fn reset(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    reset_to_seed(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /_grantd/reset` does.
pub async fn reset_to_seed(state: &AppState) -> Result<(), ApiError> {
    let controls = controls(state)?;
    if !restore(state, controls, SEED_SNAPSHOT).await? {
        return Err(snapshots_unsupported());
    }
    controls.clock.reset();
    controls.faults.clear();
    Ok(())
}

#[derive(Serialize)]
pub struct Snapshot {
    name: String,
}

/// POST /_grantd/snapshots/{name}: saves the whole state under `name` (replacing a snapshot
/// of that name). The clock is not part of it.
pub async fn save_snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    save_named(&state, &name).await?;
    Ok((StatusCode::CREATED, Json(Snapshot { name })))
}

/// What `POST /_grantd/snapshots/{name}` does.
pub async fn save_named(state: &AppState, name: &str) -> Result<(), ApiError> {
    let controls = controls(state)?;
    if !valid_snapshot_name(name) {
        return Err(invalid(
            "name must be 1 to 64 letters, digits, _ or -, starting with a letter or digit",
        ));
    }
    if !state.store.supports_snapshots() {
        return Err(snapshots_unsupported());
    }
    let file = controls.snapshot_file(name);
    let count = saved_snapshots(controls)
        .map_err(|e| domain::Error::from(crate::store::Error::Backend(Box::new(e))))?;
    if !file.exists() && count >= MAX_SNAPSHOTS {
        return Err(invalid(format!(
            "at most {MAX_SNAPSHOTS} snapshots are kept: save over an existing name instead"
        )));
    }
    state
        .store
        .save_snapshot(&file)
        .await
        .map_err(domain::Error::from)?;
    Ok(())
}

/// POST /_grantd/snapshots/{name}/restore
pub async fn restore_snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    restore_named(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /_grantd/snapshots/{name}/restore` does: 404 if never saved.
pub async fn restore_named(state: &AppState, name: &str) -> Result<(), ApiError> {
    let controls = controls(state)?;
    if !valid_snapshot_name(name) || !restore(state, controls, name).await? {
        return Err(ApiError::not_found());
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct JournalQuery {
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct Requests {
    requests: Vec<JournalEntry>,
}

/// GET /_grantd/requests?limit=N: the last N answered requests (default and at most
/// [`JOURNAL_CAPACITY`]), oldest first. The controls' own requests are not recorded.
pub async fn list_requests(
    State(state): State<AppState>,
    Query(query): Query<JournalQuery>,
) -> Result<Json<Requests>, ApiError> {
    let controls = controls(&state)?;
    let limit = query
        .limit
        .unwrap_or(JOURNAL_CAPACITY)
        .min(JOURNAL_CAPACITY);
    Ok(Json(Requests {
        requests: controls.journal.last(limit),
    }))
}

/// DELETE /_grantd/requests
pub async fn clear_requests(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    controls(&state)?.journal.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Longest list of scopes a control request may carry.
const MAX_SCOPES: usize = 100;

fn scopes(names: &[String]) -> Result<Scopes, ApiError> {
    if names.len() > MAX_SCOPES {
        return Err(invalid("at most 100 scopes"));
    }
    Scopes::parse(names).map_err(|unknown| invalid(format!("unknown scopes: {unknown:?}")))
}

/// What `POST /_grantd/tokens` asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct Mint {
    pub login: String,
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Seconds the token lives; absent: as the app's tokens do.
    pub expires_in: Option<i64>,
}

/// A minted token, in the token endpoint's shape.
#[derive(Serialize)]
pub struct Minted {
    pub access_token: String,
    pub token_type: &'static str,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
    /// The authorization's id, for `GET /authorizations/{id}`.
    pub id: i64,
}

/// POST /_grantd/tokens `{"login","client_id","scopes":[..],"expires_in":N}`: a user token of
/// the app (`gho_` for an OAuth app, `ghu_` for a GitHub App) as if the user had signed in
/// through the web flow, by the same path the flows issue theirs.
pub async fn mint_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Minted>), ApiError> {
    let asked: Mint = body(&bytes)?;
    Ok((
        StatusCode::CREATED,
        Json(mint(&state, asked, &source).await?),
    ))
}

/// What `POST /_grantd/tokens` does.
pub async fn mint(state: &AppState, asked: Mint, source: &Source) -> Result<Minted, ApiError> {
    controls(state)?;
    let now = state.clock.now();
    let user = user::find(&*state.store, &asked.login).await?;
    let app = app::find(&*state.store, &asked.client_id).await?;
    let scopes = scopes(&asked.scopes)?;
    let issued = match asked.expires_in {
        None => {
            user_token::issue(&*state.store, &app, user.id, scopes, Flow::Web, source, now).await?
        }
        Some(seconds) if (1..=MAX_OFFSET_SECONDS).contains(&seconds) => {
            let lifetime = time::Duration::seconds(seconds);
            user_token::issue_with_lifetime(
                &*state.store,
                &app,
                user.id,
                scopes,
                lifetime,
                source,
                now,
            )
            .await?
        }
        Some(_) => return Err(invalid("expires_in must be 1 second to ten years")),
    };
    Ok(Minted {
        access_token: issued.token.expose().to_owned(),
        token_type: "bearer",
        scope: issued.authorization.scopes.as_slice().join(","),
        expires_in: issued.expires_in,
        refresh_token: issued.refresh.as_ref().map(|r| r.token.expose().to_owned()),
        refresh_token_expires_in: issued.refresh.as_ref().map(|r| r.expires_in),
        id: issued.authorization.id.0,
    })
}

#[derive(Deserialize)]
struct DeviceDecision {
    user_code: String,
    login: String,
}

/// POST /_grantd/device/approve `{"user_code","login"}`: as if the user had entered the code
/// and approved; the device's next poll gets its token.
pub async fn approve_device(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<StatusCode, ApiError> {
    decide_device(&state, &bytes, true).await
}

/// POST /_grantd/device/deny: as if the user had cancelled; the next poll gets
/// `access_denied`.
pub async fn deny_device(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<StatusCode, ApiError> {
    decide_device(&state, &bytes, false).await
}

async fn decide_device(
    state: &AppState,
    bytes: &Bytes,
    approve: bool,
) -> Result<StatusCode, ApiError> {
    let asked: DeviceDecision = body(bytes)?;
    decide_device_code(state, &asked.user_code, &asked.login, approve).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /_grantd/device/approve` (`approve`) and `/deny` do: 404 if the code is
/// unknown, expired or already decided.
pub async fn decide_device_code(
    state: &AppState,
    user_code: &str,
    login: &str,
    approve: bool,
) -> Result<(), ApiError> {
    controls(state)?;
    let now = state.clock.now();
    let user = user::find(&*state.store, login).await?;
    match device_flow::decide(&*state.store, &user, user_code, approve, now).await? {
        Ok(true) => Ok(()),
        // Unknown, expired or already decided: nothing changed.
        Ok(false) => Err(ApiError::not_found()),
        Err(_too_many) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many device code submissions for this user",
        )),
    }
}

/// What `POST /_grantd/oauth/authorize` asks for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Authorize {
    pub client_id: String,
    pub login: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

#[derive(Serialize)]
pub struct Authorized {
    /// Where the consent page would send the browser: the redirect URI with `code` and `state`.
    pub redirect_url: String,
    pub code: String,
}

/// POST /_grantd/oauth/authorize: as if `login` had approved the app on the consent page; the
/// redirect URL with a code the app exchanges at `POST /login/oauth/access_token`.
pub async fn authorize(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Authorized>), ApiError> {
    let asked: Authorize = body(&bytes)?;
    Ok((
        StatusCode::CREATED,
        Json(authorize_as(&state, asked).await?),
    ))
}

/// What `POST /_grantd/oauth/authorize` does.
pub async fn authorize_as(state: &AppState, asked: Authorize) -> Result<Authorized, ApiError> {
    controls(state)?;
    let now = state.clock.now();
    let user = user::find(&*state.store, &asked.login).await?;
    let app = app::find(&*state.store, &asked.client_id).await?;
    let scopes = scopes(&asked.scopes)?;
    let Some(callback) = app.callback_url.as_deref() else {
        return Err(invalid("the app has no callback URL"));
    };
    let redirect_uri = web_flow::resolve_redirect(callback, asked.redirect_uri.as_deref())
        .map_err(|_| invalid("redirect_uri does not match the app's callback URL"))?;
    let challenge = web_flow::pkce_challenge(
        asked.code_challenge.as_deref(),
        asked.code_challenge_method.as_deref(),
    )
    .map_err(|_| invalid("code_challenge must be an S256 challenge"))?;
    let code = web_flow::issue_code(
        &*state.store,
        &app,
        &user,
        &redirect_uri,
        scopes,
        challenge,
        now,
    )
    .await?;
    let mut params = vec![("code", code.expose())];
    if let Some(st) = asked.state.as_deref() {
        params.push(("state", st));
    }
    Ok(Authorized {
        redirect_url: web_flow::with_query(&redirect_uri, &params),
        code: code.expose().to_owned(),
    })
}

/// The `Date` header from the controlled clock, so that clients that read it (to judge
/// expiry or skew) see the time the controls set.
pub fn date_header(headers: &mut HeaderMap, now: OffsetDateTime) {
    let system = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(now.unix_timestamp()).unwrap_or(0));
    if let Ok(value) = httpdate::fmt_http_date(system).parse() {
        headers.insert(header::DATE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_plain_file_names() {
        for good in ["a", "before-login", "Z_9", &"x".repeat(64)] {
            assert!(valid_snapshot_name(good), "{good}");
        }
        for bad in [
            "",
            "_seed",
            "-x",
            "a/b",
            "..",
            "a.b",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!valid_snapshot_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_token_is_compared_by_digest() {
        let token = ControlToken::generate().unwrap();
        let controls = Controls::new(&token).unwrap();
        assert!(controls.accepts(token.expose()));
        assert!(!controls.accepts("gdc_wrong"));
        assert_eq!(format!("{token:?}"), "ControlToken(***)");
    }
}
