//! The OAuth device flow (GitHub's "Device flow", RFC 8628): the codes `POST /login/device/code`
//! hands out, the user's decision at `/login/device`, and the polls of
//! `POST /login/oauth/access_token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//!
//! A device code is 40 random hex characters and a user code 8 letters (`WDJB-MJHT`), as
//! GitHub's are; only the SHA-256 of each is stored. A code lives [`CODE_TTL`]. The token is
//! issued through [`user_token::prepare`] and [`user_token::finish`], as every flow's, by a store
//! call that deletes the approved code and inserts the token (and its refresh token) in one
//! transaction, so however many polls race, one gets the token.
//!
//! Writes: a poll of an unknown, expired, denied or used code writes nothing; a pending poll
//! writes one row (its time, the slow_down bookkeeping: see [`poll`]); the issuing poll is one
//! transaction.

use super::audit::Source;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::app::{self, App};
use super::limits::Subject;
use super::scope::Scopes;
use super::user::User;
use super::user_token::{self, Flow, Issued};
use super::web_flow;
use super::{AppId, Error, UserId};
use crate::domain::store::{CounterKind, Store};

/// The `grant_type` of a poll.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long a device code and its user code live (GitHub: 900 s).
pub const CODE_TTL: Duration = Duration::seconds(900);

/// The least time between two polls of one code, at first (GitHub: 5 s).
pub const INTERVAL: i64 = 5;

/// What a `slow_down` adds to the interval (GitHub: 5 s).
pub const SLOW_DOWN_STEP: i64 = 5;

/// An expired code is kept this long, so that a late poll still reads `expired_token`.
pub const KEEP_EXPIRED: Duration = Duration::DAY;

/// Code submissions counted per [`SUBMISSION_WINDOW`], per app (GitHub: "50 submissions in an
/// hour per application") and per signed-in user (grantd's addition: a wrong code names no
/// app, so only the user can be held to account for it).
pub const SUBMISSIONS: u32 = 50;
pub const SUBMISSION_WINDOW: Duration = Duration::HOUR;

/// RFC 8628's suggested user-code alphabet: 20 consonants, no vowels (no words spelled by
/// chance) and no digits (no `0`/`O`, `1`/`I` to confuse). 20^8 codes, about 2^34.5.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

/// Longest `device_code` or `user_code` read (both are much shorter; anything longer is
/// wrong without a look-up).
pub const MAX_CODE_PARAM: usize = 64;

/// Where GitHub documents the device flow's errors.
const DOCS: &str = "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow";

/// An error the device flow reports to the app, as GitHub words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    AuthorizationPending,
    /// Polled faster than the interval: the new interval, in seconds.
    SlowDown(i64),
    ExpiredToken,
    AccessDenied,
    IncorrectDeviceCode,
    IncorrectClientCredentials,
    DeviceFlowDisabled,
}

impl DeviceError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown(_) => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::AccessDenied => "access_denied",
            Self::IncorrectDeviceCode => "incorrect_device_code",
            Self::IncorrectClientCredentials => "incorrect_client_credentials",
            Self::DeviceFlowDisabled => "device_flow_disabled",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Self::AuthorizationPending => "The authorization request is still pending.",
            Self::SlowDown(_) => "Too many requests have been made in the same timeframe.",
            Self::ExpiredToken => "The device_code has expired.",
            Self::AccessDenied => "The authorization request was denied.",
            Self::IncorrectDeviceCode => "The device_code provided is not valid.",
            Self::IncorrectClientCredentials => "The client_id is incorrect.",
            Self::DeviceFlowDisabled => "Device Flow must be explicitly enabled for this App",
        }
    }

    pub const fn uri(self) -> &'static str {
        DOCS
    }

    /// `slow_down` carries the new interval (GitHub: "The error response includes the new
    /// `interval` that you must use").
    pub const fn interval(self) -> Option<i64> {
        match self {
            Self::SlowDown(interval) => Some(interval),
            _ => None,
        }
    }
}

/// A device code as `POST /login/device/code` answers it. No `Debug`: it holds both codes.
pub struct DeviceCodes {
    pub device_code: String,
    /// `XXXX-XXXX`.
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Where a code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved(UserId),
    Denied,
}

/// A code about to be stored.
#[derive(Debug, Clone)]
pub struct NewDeviceCode {
    pub device_code_hash: [u8; 32],
    pub user_code_hash: [u8; 32],
    pub app_id: AppId,
    pub scopes: Scopes,
    pub interval: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A code as stored.
#[derive(Debug, Clone)]
pub struct StoredDeviceCode {
    pub device_code_hash: [u8; 32],
    pub app_id: AppId,
    pub scopes: Scopes,
    pub state: DeviceState,
    /// The interval in force: [`INTERVAL`] plus [`SLOW_DOWN_STEP`] per `slow_down`.
    pub interval: i64,
    pub last_polled_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// 40 random hex characters.
fn generate_device_code() -> Result<String, Error> {
    let mut bytes = [0u8; 20];
    super::random::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Eight letters of [`USER_CODE_ALPHABET`], uniformly (bytes past the largest multiple of 20
/// are drawn again, so no letter is likelier than another), without the hyphen.
fn generate_user_code() -> Result<String, Error> {
    const LIMIT: u8 = 240;
    let mut code = String::with_capacity(USER_CODE_LEN);
    while code.len() < USER_CODE_LEN {
        let mut bytes = [0u8; 16];
        super::random::fill(&mut bytes)?;
        for byte in bytes.into_iter().filter(|b| *b < LIMIT) {
            if code.len() == USER_CODE_LEN {
                break;
            }
            code.push(char::from(USER_CODE_ALPHABET[usize::from(byte % 20)]));
        }
    }
    Ok(code)
}

/// A user code as typed: upper-cased, without hyphens or spaces (GitHub forgives both);
/// `None` unless it is eight letters of the alphabet (so nothing else is looked up).
pub fn normalize_user_code(typed: &str) -> Option<String> {
    if typed.len() > MAX_CODE_PARAM {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// `WDJBMJHT` as shown: `WDJB-MJHT`.
pub fn display_user_code(code: &str) -> String {
    let (first, second) = code.split_at(code.len().min(USER_CODE_LEN / 2));
    format!("{first}-{second}")
}

/// What the store keeps of a (normalised) user code.
pub fn user_code_hash(normalized: &str) -> [u8; 32] {
    sha256(normalized)
}

/// What `POST /login/device/code` refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRequestError {
    /// No app has this client id (GitHub answers 404).
    UnknownClient,
    /// The app has not enabled the device flow.
    DeviceFlowDisabled,
}

/// `POST /login/device/code`: a new pair of codes for the app, no client secret needed.
pub async fn request_codes(
    store: &dyn Store,
    client_id: &str,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<Result<DeviceCodes, CodeRequestError>, Error> {
    let app = match app::find(store, client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Ok(Err(CodeRequestError::UnknownClient)),
        Err(other) => return Err(other),
    };
    if !app.device_flow {
        return Ok(Err(CodeRequestError::DeviceFlowDisabled));
    }
    let scopes = web_flow::requested_scopes(scope);
    // A user code collides with a live one about once in 2^34 codes; drawing again is then
    // cheaper than making the collision impossible.
    let mut attempts = 0;
    loop {
        let device_code = generate_device_code()?;
        let user_code = generate_user_code()?;
        let new = NewDeviceCode {
            device_code_hash: sha256(&device_code),
            user_code_hash: user_code_hash(&user_code),
            app_id: app.id,
            scopes: scopes.clone(),
            interval: INTERVAL,
            created_at: now,
            expires_at: now.saturating_add(CODE_TTL),
        };
        match store.insert_device_code(&new).await {
            Ok(()) => {
                return Ok(Ok(DeviceCodes {
                    device_code,
                    user_code: display_user_code(&user_code),
                    expires_in: CODE_TTL.whole_seconds(),
                    interval: INTERVAL,
                }));
            }
            Err(crate::domain::store::Error::Conflict(_)) if attempts < 3 => attempts += 1,
            Err(other) => return Err(other.into()),
        }
    }
}

/// A poll of `POST /login/oauth/access_token`. The rules, in order:
/// - an unknown client id → `incorrect_client_credentials`; an app without the device flow →
///   `device_flow_disabled`; a code that is not this app's (unknown or used) →
///   `incorrect_device_code`; past its expiry → `expired_token`; cancelled →
///   `access_denied`. None of these writes anything.
/// - approved → the token, once: the store deletes the code and inserts the token in one
///   transaction, so of racing polls one wins and the others read `incorrect_device_code`.
/// - pending → `authorization_pending`, or `slow_down` when it came less than the interval
///   after the previous poll; the interval then grows by [`SLOW_DOWN_STEP`] and is answered.
///   Either way the poll's time is written (one small row update, compare-and-set on the
///   previous poll's time: a poll that races another poll of the code is the faster of the
///   two, and is answered `slow_down`). This is the one write a pending poll makes: without
///   it the next poll could not be judged.
pub async fn poll(
    store: &dyn Store,
    client_id: &str,
    device_code: &str,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Result<Issued, DeviceError>, Error> {
    let app = match app::find(store, client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Ok(Err(DeviceError::IncorrectClientCredentials)),
        Err(other) => return Err(other),
    };
    if !app.device_flow {
        return Ok(Err(DeviceError::DeviceFlowDisabled));
    }
    if device_code.len() != 40 || !device_code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(DeviceError::IncorrectDeviceCode));
    }
    let hash = sha256(device_code);
    let Some(code) = store.find_device_code(&hash, app.id).await? else {
        return Ok(Err(DeviceError::IncorrectDeviceCode));
    };
    if code.expires_at <= now {
        return Ok(Err(DeviceError::ExpiredToken));
    }
    match code.state {
        DeviceState::Denied => Ok(Err(DeviceError::AccessDenied)),
        DeviceState::Approved(user) => redeem(store, &app, &code, user, source, now).await,
        DeviceState::Pending => {
            let too_fast = code
                .last_polled_at
                .is_some_and(|last| now < last.saturating_add(Duration::seconds(code.interval)));
            let interval = if too_fast {
                code.interval.saturating_add(SLOW_DOWN_STEP)
            } else {
                code.interval
            };
            let recorded = store
                .record_device_poll(&hash, app.id, code.last_polled_at, now, interval)
                .await?;
            Ok(Err(if too_fast || !recorded {
                DeviceError::SlowDown(code.interval.saturating_add(SLOW_DOWN_STEP))
            } else {
                DeviceError::AuthorizationPending
            }))
        }
    }
}

async fn redeem(
    store: &dyn Store,
    app: &App,
    code: &StoredDeviceCode,
    user: UserId,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Result<Issued, DeviceError>, Error> {
    let prepared = user_token::prepare(app, user, code.scopes.clone(), Flow::Device, now)?;
    let event = prepared.event(source, now);
    let Some(authorization) = store
        .redeem_device_code(
            &code.device_code_hash,
            app.id,
            &prepared.authorization,
            prepared.refresh_row(),
            &event,
        )
        .await?
    else {
        return Ok(Err(DeviceError::IncorrectDeviceCode));
    };
    Ok(Ok(user_token::finish(prepared, authorization, now)))
}

/// Why an entered code leads to no consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    /// No live, undecided code is this one.
    WrongCode,
    /// Over the limit of submissions: the user's, or the app's.
    TooManySubmissions,
}

/// Counts one submission against `subject`; whether it was within the limit.
async fn count_submission(
    store: &dyn Store,
    subject: &Subject,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    let counter = store
        .add_to_counter(
            CounterKind::DeviceCodeSubmissions,
            &subject.key(),
            now,
            SUBMISSION_WINDOW,
            1,
        )
        .await?;
    Ok(counter.count <= SUBMISSIONS)
}

/// A live code the user may decide on, with its app.
pub struct Entered {
    pub app: App,
    pub code: StoredDeviceCode,
    /// The normalised user code, for the consent form.
    pub user_code: String,
}

/// The user typed `typed` at `/login/device`. The limit, grantd's reading of GitHub's "50
/// submissions in an hour per application": every submission counts first against the signed-in
/// user (at most [`SUBMISSIONS`] an hour, right or wrong, so guessing codes is bounded though a
/// wrong code names no app), and a code that matches counts against its app as well (at most
/// [`SUBMISSIONS`] an hour, GitHub's rule). Over either → [`EntryError::TooManySubmissions`],
/// before any look-up.
pub async fn enter(
    store: &dyn Store,
    user: &User,
    typed: &str,
    now: OffsetDateTime,
) -> Result<Result<Entered, EntryError>, Error> {
    if !count_submission(store, &Subject::User(user.id), now).await? {
        return Ok(Err(EntryError::TooManySubmissions));
    }
    let Some(normalized) = normalize_user_code(typed) else {
        return Ok(Err(EntryError::WrongCode));
    };
    let Some((code, app)) = store
        .find_pending_user_code(&user_code_hash(&normalized), now)
        .await?
    else {
        return Ok(Err(EntryError::WrongCode));
    };
    if !app.device_flow {
        return Ok(Err(EntryError::WrongCode));
    }
    if !count_submission(store, &Subject::App(app.client_id.clone()), now).await? {
        return Ok(Err(EntryError::TooManySubmissions));
    }
    Ok(Ok(Entered {
        app,
        code,
        user_code: normalized,
    }))
}

/// The consent form's answer for the code `user_code` (the normalised code the form carries).
/// The post counts as a submission of the user too: it carries a code, and must not be a way
/// round the limit. Whether the code was still live and undecided (else nothing changed).
pub async fn decide(
    store: &dyn Store,
    user: &User,
    user_code: &str,
    approve: bool,
    now: OffsetDateTime,
) -> Result<Result<bool, EntryError>, Error> {
    if !count_submission(store, &Subject::User(user.id), now).await? {
        return Ok(Err(EntryError::TooManySubmissions));
    }
    let Some(normalized) = normalize_user_code(user_code) else {
        return Ok(Ok(false));
    };
    let state = if approve {
        DeviceState::Approved(user.id)
    } else {
        DeviceState::Denied
    };
    Ok(Ok(store
        .decide_device_code(&user_code_hash(&normalized), state, now)
        .await?))
}

/// Deletes the codes that expired more than [`KEEP_EXPIRED`] ago; how many.
pub async fn prune(store: &dyn Store, now: OffsetDateTime) -> Result<u64, Error> {
    Ok(store
        .prune_device_codes(now.saturating_sub(KEEP_EXPIRED))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters_shown_with_a_hyphen() {
        for _ in 0..100 {
            let code = generate_user_code().unwrap();
            assert_eq!(code.len(), 8);
            assert!(
                code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
            let shown = display_user_code(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(normalize_user_code(&shown).as_deref(), Some(code.as_str()));
        }
    }

    #[test]
    fn typed_codes_forgive_case_and_hyphens_only() {
        assert_eq!(
            normalize_user_code("wdjb-mjht").as_deref(),
            Some("WDJBMJHT")
        );
        assert_eq!(normalize_user_code("WDJBmjht").as_deref(), Some("WDJBMJHT"));
        assert_eq!(
            normalize_user_code(" wdjb mjht ").as_deref(),
            Some("WDJBMJHT")
        );
        for wrong in [
            "",
            "WDJB-MJH",
            "WDJB-MJHTX",
            "WDJB-MJH0",
            "AEIO-UBCD",
            "WDJB_MJHT",
        ] {
            assert_eq!(normalize_user_code(wrong), None, "{wrong}");
        }
        assert_eq!(normalize_user_code(&"-".repeat(100)), None);
    }

    #[test]
    fn device_codes_are_40_hex_characters() {
        let code = generate_device_code().unwrap();
        assert_eq!(code.len(), 40);
        assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn only_slow_down_carries_an_interval() {
        assert_eq!(DeviceError::SlowDown(10).interval(), Some(10));
        assert_eq!(DeviceError::AuthorizationPending.interval(), None);
        assert_eq!(DeviceError::ExpiredToken.code(), "expired_token");
    }
}
