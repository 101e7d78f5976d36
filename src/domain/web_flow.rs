//! The OAuth web application flow (GitHub's "Authorizing OAuth apps"): which `redirect_uri`
//! an app may send users back to, the authorization codes `GET /login/oauth/authorize` hands
//! out, and their exchange for a user token at `POST /login/oauth/access_token`.
//!
//! A code is 20 random hex characters (GitHub's length); only its SHA-256 is stored, with the
//! app, user, redirect URI, scopes and PKCE challenge it was issued for. It lives
//! [`CODE_TTL`] and is used once: the exchange reads it, and the transaction that inserts the
//! token deletes it first, so however many requests race with one code, at most one gets a
//! token. An exchange refused for the code (expired, PKCE, `redirect_uri`) deletes it too.

use super::audit::Source;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::app::{self, App};
use super::limits::{self, Origin};
use super::scope::Scopes;
use super::secret::ClientSecret;
use super::user::User;
use super::user_token::{self, Flow, Issued};
use super::{AppId, Error, PageRequest, UserId};
use crate::domain::store::Store;

/// How long a code may wait for its exchange (GitHub: ten minutes).
pub const CODE_TTL: Duration = Duration::minutes(10);

/// GitHub keeps at most ten live tokens per user, app and scope set; the eleventh revokes one.
pub const TOKENS_PER_SCOPE_SET: u32 = 10;

/// Longest `redirect_uri` accepted (as long as an app's own URLs may be).
pub const MAX_REDIRECT_URI: usize = 2_048;
/// Longest `state` echoed back.
pub const MAX_STATE: usize = 1_024;
/// Longest `scope` parameter read.
pub const MAX_SCOPE_PARAM: usize = 2_048;
/// A PKCE verifier or challenge is 43 to 128 characters (RFC 7636).
pub const MAX_PKCE: usize = 128;

/// Every token of one user and app fits one page: the limit keeps them to ten per scope set.
const ALL: PageRequest = PageRequest {
    page: 1,
    per_page: PageRequest::MAX_PER_PAGE,
};

/// Where GitHub's documentation of each error lives (the `error_uri` of its answers).
const DOCS: &str = "https://docs.github.com/apps/managing-oauth-apps";

/// An error the flow reports to the app, as GitHub words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowError {
    RedirectUriMismatch,
    AccessDenied,
    BadVerificationCode,
    IncorrectClientCredentials,
    UnsupportedGrantType,
    /// An unknown, used, expired or other app's refresh token.
    BadRefreshToken,
    /// A PKCE parameter GitHub refuses (a method other than S256, a malformed challenge).
    InvalidRequest,
}

impl FlowError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::AccessDenied => "access_denied",
            Self::BadVerificationCode => "bad_verification_code",
            Self::IncorrectClientCredentials => "incorrect_client_credentials",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::BadRefreshToken => "bad_refresh_token",
            Self::InvalidRequest => "invalid_request",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Self::RedirectUriMismatch => {
                "The redirect_uri MUST match the registered callback URL for this application."
            }
            Self::AccessDenied => "The user has denied your application access.",
            Self::BadVerificationCode => "The code passed is incorrect or expired.",
            Self::IncorrectClientCredentials => {
                "The client_id and/or client_secret passed are incorrect."
            }
            Self::UnsupportedGrantType => "The grant type is not supported.",
            Self::BadRefreshToken => "The refresh token passed is incorrect or expired.",
            Self::InvalidRequest => {
                "code_challenge_method must be S256 with a 43-character code_challenge."
            }
        }
    }

    pub fn uri(self) -> String {
        if self == Self::BadRefreshToken {
            // Documented with the GitHub App flows, not with the OAuth app errors.
            return "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/\
                    generating-a-user-access-token-for-a-github-app#bad-refresh-token"
                .to_owned();
        }
        let page = match self {
            Self::RedirectUriMismatch => {
                "troubleshooting-authorization-request-errors/#redirect-uri-mismatch"
            }
            Self::AccessDenied => "troubleshooting-authorization-request-errors/#access-denied",
            Self::BadVerificationCode => {
                "troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
            }
            Self::IncorrectClientCredentials => {
                "troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"
            }
            Self::UnsupportedGrantType | Self::InvalidRequest | Self::BadRefreshToken => {
                "troubleshooting-oauth-app-access-token-request-errors"
            }
        };
        format!("{DOCS}/{page}")
    }
}

/// The parts of an http(s) URL the redirect rules compare.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    scheme: String,
    host: String,
    port: Option<&'a str>,
    path: &'a str,
}

/// Splits an absolute http(s) URL; `None` for anything else (no userinfo, no fragment).
fn parts(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    if url.contains('#') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
        let (inside, tail) = literal.split_once(']')?;
        let port = match tail {
            "" => None,
            _ => Some(tail.strip_prefix(':')?),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty()
        || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let path = after.split('?').next().unwrap_or_default();
    Some(Parts {
        scheme,
        host,
        port,
        path,
    })
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// Whether `path` is `base` or below it, by whole segments (`/cb` admits `/cb/x`, not `/cbx`
/// nor `/cb/../x`).
fn is_subpath(base: &str, path: &str) -> bool {
    let base = base.trim_end_matches('/');
    let below = path
        .strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    below
        && !path.split('/').any(|segment| {
            segment == ".." || segment == "." || segment.eq_ignore_ascii_case("%2e%2e")
        })
}

/// GitHub's redirect-URI rule for an app's callback URL: the `redirect_uri` it may send a user
/// back to. No `redirect_uri` means the callback URL. Otherwise scheme, host and port must be
/// the callback's (a loopback callback may use any port), and the path the callback's path or
/// below it; the query may differ.
pub fn resolve_redirect(callback: &str, requested: Option<&str>) -> Result<String, FlowError> {
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(callback.to_owned());
    };
    if requested.len() > MAX_REDIRECT_URI {
        return Err(FlowError::RedirectUriMismatch);
    }
    let (Some(registered), Some(asked)) = (parts(callback), parts(requested)) else {
        return Err(FlowError::RedirectUriMismatch);
    };
    let port_ok = asked.port == registered.port || is_loopback(&registered.host);
    let ok = asked.scheme == registered.scheme
        && asked.host == registered.host
        && port_ok
        && is_subpath(registered.path, asked.path);
    if ok {
        Ok(requested.to_owned())
    } else {
        Err(FlowError::RedirectUriMismatch)
    }
}

/// `url` with `params` appended to its query.
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    if query.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// The redirect that reports `error` to the app, with `state` echoed.
pub fn error_redirect(redirect_uri: &str, error: FlowError, state: Option<&str>) -> String {
    let uri = error.uri();
    let mut params = vec![
        ("error", error.code()),
        ("error_description", error.description()),
        ("error_uri", uri.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    with_query(redirect_uri, &params)
}

/// The `scope` parameter's names, space- or comma-delimited. Names GitHub does not know are
/// dropped, as GitHub drops them (its docs list no error for an unknown scope).
pub fn requested_scopes(param: Option<&str>) -> Scopes {
    let names = param
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|name| !name.is_empty() && super::scope::is_known(name));
    Scopes::parse(names).unwrap_or_default()
}

/// Plain words for the classic scopes on the consent page.
pub fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "repo" => "Full control of private repositories",
        "repo:status" => "Access commit status",
        "repo_deployment" => "Access deployment status",
        "public_repo" => "Access public repositories",
        "repo:invite" => "Access repository invitations",
        "security_events" => "Read and write security events",
        "admin:org" => "Full control of organizations and teams",
        "write:org" => "Read and write organization membership",
        "read:org" => "Read organization membership",
        "admin:public_key" => "Full control of user public keys",
        "write:public_key" => "Write user public keys",
        "read:public_key" => "Read user public keys",
        "admin:repo_hook" => "Full control of repository hooks",
        "write:repo_hook" => "Write repository hooks",
        "read:repo_hook" => "Read repository hooks",
        "admin:org_hook" => "Full control of organization hooks",
        "gist" => "Create gists",
        "notifications" => "Access notifications",
        "user" => "Update all user data",
        "read:user" => "Read all user profile data",
        "user:email" => "Access user email addresses (read-only)",
        "user:follow" => "Follow and unfollow users",
        "delete_repo" => "Delete repositories",
        "write:packages" => "Upload packages",
        "read:packages" => "Download packages",
        "delete:packages" => "Delete packages",
        "admin:gpg_key" => "Full control of GPG keys",
        "write:gpg_key" => "Write GPG keys",
        "read:gpg_key" => "Read GPG keys",
        "codespace" => "Full control of codespaces",
        "workflow" => "Update GitHub Action workflows",
        "project" => "Full control of projects",
        "read:project" => "Read projects",
        _ => "Access granted by this scope",
    }
}

/// Whether a PKCE challenge has S256's shape: 43 base64url characters.
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// S256: base64url(SHA-256(verifier)) against the stored challenge, in constant time.
pub fn verifier_matches(challenge: &str, verifier: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.len() == challenge.len() && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The PKCE challenge of an authorization request: none, or an S256 one; `plain`, any other
/// method, or a malformed challenge is refused.
pub fn pkce_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, FlowError> {
    match (
        challenge.filter(|c| !c.is_empty()),
        method.filter(|m| !m.is_empty()),
    ) {
        (None, None) => Ok(None),
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
            Ok(Some(challenge.to_owned()))
        }
        _ => Err(FlowError::InvalidRequest),
    }
}

/// An authorization code as the redirect carries it.
pub struct Code(String);

impl Code {
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 10];
        super::random::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The SHA-256 of a code: what the store keeps.
pub fn code_hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

/// A code as stored (and as the exchange takes it back).
#[derive(Debug, Clone)]
pub struct StoredCode {
    pub hash: [u8; 32],
    pub app_id: AppId,
    pub user_id: UserId,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub code_challenge: Option<String>,
    pub expires_at: OffsetDateTime,
}

/// The scopes the user has already granted `app` (the union over its live tokens).
pub async fn granted_scopes(
    store: &dyn Store,
    user: UserId,
    app: AppId,
) -> Result<Option<Scopes>, Error> {
    let page = store.list_authorizations(user, Some(app), ALL).await?;
    if page.items.is_empty() {
        return Ok(None);
    }
    Ok(Some(Scopes::union(page.items.iter().map(|a| &a.scopes))))
}

/// Whether the user already granted `app` every scope in `wanted` (then GitHub skips the page).
pub fn covers(granted: &Scopes, wanted: &Scopes) -> bool {
    granted.with_added(wanted) == Scopes::union([granted])
}

/// Issues a code for the user's consent: the redirect target with `code` and `state`.
pub async fn issue_code(
    store: &dyn Store,
    app: &App,
    user: &User,
    redirect_uri: &str,
    scopes: Scopes,
    code_challenge: Option<String>,
    now: OffsetDateTime,
) -> Result<Code, Error> {
    let code = Code::generate()?;
    store
        .insert_oauth_code(&StoredCode {
            hash: code_hash(code.expose()),
            app_id: app.id,
            user_id: user.id,
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            code_challenge,
            expires_at: now.saturating_add(CODE_TTL),
        })
        .await?;
    Ok(code)
}

/// What the token endpoint was sent for the code grant. No `Debug`: it holds the code and
/// the client secret.
#[derive(Default)]
pub struct Exchange {
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// `POST /login/oauth/access_token` with a code: checks the app's credentials, reads the code
/// and judges it, then deletes it and inserts the token in one store transaction (one commit
/// per exchange). A refused code is deleted too.
pub async fn exchange(
    store: &dyn Store,
    request: Exchange,
    origin: Origin,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Result<Issued, FlowError>, Error> {
    let app = match app::find(store, &request.client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Ok(Err(FlowError::IncorrectClientCredentials)),
        Err(other) => return Err(other),
    };
    let secret_ok = request
        .client_secret
        .as_ref()
        .is_some_and(|secret| app.client_secrets.matches(secret));
    if !secret_ok {
        // A wrong secret is a guess like any other: it counts against the caller's address,
        // and once that is used up the answer is the API's refusal.
        return match limits::app_sign_in_failed(store, origin, now).await? {
            Error::BadCredentials => Ok(Err(FlowError::IncorrectClientCredentials)),
            refused => Err(refused),
        };
    }
    if request.code.len() != 20 || !request.code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Err(FlowError::BadVerificationCode));
    }
    let hash = code_hash(&request.code);
    // A read first: an unknown or used code costs no write.
    let Some(code) = store.find_oauth_code(&hash, app.id).await? else {
        return Ok(Err(FlowError::BadVerificationCode));
    };
    if let Err(refused) = check_code(&code, &request, now) {
        // A refused exchange uses the code up, as a successful one does: one try per code.
        store.delete_oauth_code(&hash, app.id).await?;
        return Ok(Err(refused));
    }
    // The code's row goes with its user (ON DELETE CASCADE): its user still exists.
    let prepared = user_token::prepare(&app, code.user_id, code.scopes.clone(), Flow::Web, now)?;
    // One transaction takes the code and inserts the token: one commit per exchange.
    let Some(authorization) = store
        .redeem_oauth_code(
            &code,
            &prepared.authorization,
            prepared.refresh_row(),
            &prepared.event(source, now),
        )
        .await?
    else {
        // A racing exchange of the same code (or a refused one) took it after our read.
        return Ok(Err(FlowError::BadVerificationCode));
    };
    Ok(Ok(user_token::finish(prepared, authorization, now)))
}

/// Whether `request` may exchange `code` at `now`: the code has not expired, the PKCE
/// verifier matches its challenge (when it has one), and a `redirect_uri` sent is the one the
/// code was issued for (GitHub: the parameter is optional at the exchange).
fn check_code(code: &StoredCode, request: &Exchange, now: OffsetDateTime) -> Result<(), FlowError> {
    if code.expires_at <= now {
        return Err(FlowError::BadVerificationCode);
    }
    if let Some(challenge) = &code.code_challenge {
        let verified = request
            .code_verifier
            .as_deref()
            .is_some_and(|v| v.len() <= MAX_PKCE && verifier_matches(challenge, v));
        if !verified {
            return Err(FlowError::BadVerificationCode);
        }
    }
    if let Some(sent) = request.redirect_uri.as_deref().filter(|r| !r.is_empty())
        && sent != code.redirect_uri
    {
        return Err(FlowError::RedirectUriMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLBACK: &str = "http://example.com/path";

    #[test]
    fn redirect_uri_rules_follow_github() {
        let ok = |uri: &str| resolve_redirect(CALLBACK, Some(uri));
        assert_eq!(resolve_redirect(CALLBACK, None).unwrap(), CALLBACK);
        assert_eq!(resolve_redirect(CALLBACK, Some("")).unwrap(), CALLBACK);
        // GitHub's own examples.
        for good in [
            "http://example.com/path",
            "http://example.com/path/subdir/other",
            "http://example.com/path?x=1",
        ] {
            assert_eq!(ok(good).unwrap(), good, "{good} refused");
        }
        for bad in [
            "http://example.com/bar",
            "http://example.com/",
            "http://example.com:8080/path",
            "http://oauth.example.com:8080/path",
            "http://example.org",
            "https://example.com/path",
            "http://example.com/pathology",
            "http://example.com/path/../secret",
            "http://user@example.com/path",
            "javascript:alert(1)",
            "http://example.com/path#frag",
        ] {
            assert_eq!(
                ok(bad),
                Err(FlowError::RedirectUriMismatch),
                "{bad} allowed"
            );
        }
    }

    #[test]
    fn loopback_callbacks_allow_any_port() {
        for callback in [
            "http://127.0.0.1/cb",
            "http://localhost:8000/cb",
            "http://[::1]:9/cb",
        ] {
            let host = parts(callback).unwrap().host;
            let other = format!("http://{host}:12345/cb/x");
            assert!(resolve_redirect(callback, Some(&other)).is_ok(), "{other}");
            let elsewhere = "http://evil.example:12345/cb";
            assert!(resolve_redirect(callback, Some(elsewhere)).is_err());
        }
        assert!(resolve_redirect(CALLBACK, Some("http://example.com:1/path")).is_err());
    }

    #[test]
    fn errors_redirect_with_githubs_words() {
        let url = error_redirect(
            "http://a.example/cb?x=1",
            FlowError::AccessDenied,
            Some("s t"),
        );
        assert!(url.starts_with("http://a.example/cb?x=1&error=access_denied&error_description="));
        assert!(url.ends_with("&state=s+t"));
    }

    #[test]
    fn scopes_are_space_or_comma_delimited_and_unknown_ones_dropped() {
        let scopes = requested_scopes(Some("repo,gist user:email  user nonsense"));
        assert_eq!(scopes.as_slice(), ["repo", "gist", "user"]);
        assert!(requested_scopes(None).as_slice().is_empty());
    }

    #[test]
    fn s256_verifies_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        assert!(verifier_matches(challenge, verifier));
        assert!(!verifier_matches(challenge, "wrong"));
    }

    #[test]
    fn only_s256_pkce_is_accepted() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce_challenge(None, None), Ok(None));
        assert_eq!(
            pkce_challenge(Some(challenge), Some("S256")),
            Ok(Some(challenge.to_owned()))
        );
        for (c, m) in [
            (Some(challenge), Some("plain")),
            (Some(challenge), None),
            (Some("short"), Some("S256")),
            (None, Some("S256")),
        ] {
            assert_eq!(pkce_challenge(c, m), Err(FlowError::InvalidRequest));
        }
    }

    #[test]
    fn a_code_is_judged_by_expiry_then_pkce_then_redirect_uri() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let code = StoredCode {
            hash: code_hash("0123456789abcdef0123"),
            app_id: AppId(1),
            user_id: UserId(2),
            redirect_uri: "http://example.com/path/cb".to_owned(),
            scopes: Scopes::default(),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
            expires_at: now + Duration::seconds(1),
        };
        let request = |verifier: Option<&str>, redirect_uri: Option<&str>| Exchange {
            code_verifier: verifier.map(str::to_owned),
            redirect_uri: redirect_uri.map(str::to_owned),
            ..Exchange::default()
        };
        let right = Some(verifier);
        assert_eq!(check_code(&code, &request(right, None), now), Ok(()));
        assert_eq!(check_code(&code, &request(right, Some("")), now), Ok(()));
        assert_eq!(
            check_code(
                &code,
                &request(right, Some("http://example.com/path/cb")),
                now
            ),
            Ok(())
        );
        let bad = FlowError::BadVerificationCode;
        let later = now + Duration::seconds(1);
        assert_eq!(check_code(&code, &request(right, None), later), Err(bad));
        assert_eq!(check_code(&code, &request(None, None), now), Err(bad));
        assert_eq!(
            check_code(&code, &request(Some("wrong"), None), now),
            Err(bad)
        );
        let long = "a".repeat(MAX_PKCE + 1);
        assert_eq!(
            check_code(&code, &request(Some(&long), None), now),
            Err(bad)
        );
        // A path below the code's redirect URI is still another URI.
        let other = Some("http://example.com/path/cb/x");
        assert_eq!(
            check_code(&code, &request(right, other), now),
            Err(FlowError::RedirectUriMismatch)
        );
        // Expiry and PKCE are judged before the redirect URI.
        assert_eq!(check_code(&code, &request(None, other), now), Err(bad));
        let plain = StoredCode {
            code_challenge: None,
            ..code
        };
        assert_eq!(check_code(&plain, &request(None, None), now), Ok(()));
    }

    #[test]
    fn codes_are_20_hex_characters() {
        let code = Code::generate().unwrap();
        assert_eq!(code.expose().len(), 20);
        assert!(code.expose().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
