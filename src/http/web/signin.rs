//! `GET /login`, `POST /session`, `GET`/`POST /sessions/two-factor` (a TOTP code or a recovery
//! code) and `POST /logout`: thin
//! handlers over `domain::session`. A failed sign-in answers the form again with a message:
//! 401 for wrong credentials or a wrong code, 403 while the login is locked out (the statuses
//! the API gives the same failures; GitHub's own pages answer 200).

use crate::http::audit_log::RequestSource;
use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Page, PageError, Site, check_token, read_form, read_query, redirect};
use crate::domain::Error;
use crate::domain::secret::Password;
use crate::domain::session::{self, PasswordOutcome, SessionId};
use crate::http::AppState;

/// Bounds of what the forms accept: a login is at most 39 characters (GitHub's rule; a
/// little more is echoed back), a password 1 KiB, a code 11 characters (a recovery code's
/// `xxxxx-xxxxx`).
const MAX_LOGIN: usize = 100;
const MAX_PASSWORD: usize = 1024;
const MAX_OTP: usize = crate::domain::two_factor::RECOVERY_CODE_LEN;

const INCORRECT: &str = "Incorrect username or password.";
const LOCKED: &str = "Maximum number of login attempts exceeded. Please try again later.";
/// GitHub Enterprise Server's sign-in answer for a suspended account.
const SUSPENDED: &str =
    "Your account is suspended. Please check with your installation administrator.";
const OTP_FAILED: &str = "Two-factor authentication failed.";

#[derive(Debug, Default, Deserialize)]
pub struct ReturnTo {
    return_to: Option<String>,
}

/// No `Debug`, here and on the code form: they carry a password and a one-time code, which must
/// never reach a log line through a stray `{:?}`.
#[derive(Deserialize)]
pub struct SignInForm {
    login: Option<String>,
    password: Option<String>,
    authenticity_token: Option<String>,
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct TwoFactorForm {
    app_otp: Option<String>,
    /// The recovery-code form's field, in place of `app_otp`.
    recovery_code: Option<String>,
    authenticity_token: Option<String>,
    return_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    authenticity_token: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    base: &'a str,
    token: &'a str,
    return_to: &'a str,
    login: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage<'a> {
    base: &'a str,
    token: &'a str,
    return_to: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    base: &'a str,
    token: &'a str,
    login: &'a str,
}

/// The `return_to` worth keeping: a local path, else nothing (no open redirect).
fn local(return_to: Option<&str>) -> &str {
    return_to
        .filter(|r| session::is_local_return_to(r))
        .unwrap_or("")
}

/// Where a browser goes once signed in: its `return_to`, else the signed-in page.
fn after_sign_in(site: &Site, return_to: &str) -> String {
    if return_to.is_empty() {
        format!("{}/login", site.base)
    } else {
        return_to.to_owned()
    }
}

fn with_return_to(path: String, return_to: &str) -> String {
    if return_to.is_empty() {
        return path;
    }
    let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
    format!("{path}?{query}")
}

fn session_cookie(site: &Site, id: &SessionId, ttl: time::Duration) -> HeaderValue {
    site.cookie(
        super::SESSION_COOKIE,
        id.expose(),
        Some(ttl.whole_seconds()),
    )
}

fn clear_session_cookie(site: &Site) -> HeaderValue {
    site.cookie(super::SESSION_COOKIE, "", Some(0))
}

/// The sign-in form (or its answer to a failed attempt), with the browser's secret cookie
/// set if it had none.
fn login_form(
    site: &Site,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: &str,
    login: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let (secret, fresh) = super::browser_secret(headers)?;
    let token = session::authenticity_token(&secret);
    let page = Page::render(
        status,
        &LoginPage {
            base: &site.base,
            token: &token,
            return_to,
            login: if login.len() <= MAX_LOGIN { login } else { "" },
            error,
        },
    )?;
    Ok(if fresh {
        page.with_cookie(site.cookie(super::BROWSER_COOKIE, &secret, None))
    } else {
        page
    }
    .into_response())
}

fn two_factor_form(
    site: &Site,
    headers: &HeaderMap,
    status: StatusCode,
    return_to: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let (secret, fresh) = super::browser_secret(headers)?;
    let token = session::authenticity_token(&secret);
    let page = Page::render(
        status,
        &TwoFactorPage {
            base: &site.base,
            token: &token,
            return_to,
            error,
        },
    )?;
    Ok(if fresh {
        page.with_cookie(site.cookie(super::BROWSER_COOKIE, &secret, None))
    } else {
        page
    }
    .into_response())
}

fn answer(site: &Site, result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(|error| error.into_page(&site.base))
}

/// `GET /login`: the sign-in form, or, already signed in, `return_to` or the signed-in page
/// with its sign-out button.
pub async fn new_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let site = Site::of(&state);
    let query: ReturnTo = read_query(query.as_deref());
    let return_to = local(query.return_to.as_deref());
    let result = async {
        if let Some(id) = super::session_cookie(&headers) {
            let now = state.clock.now();
            let signed_in = session::find_signed_in(&*state.store, &id, now)
                .await
                .map_err(|e| PageError::from_domain(&e))?;
            if let Some(signed_in) = signed_in {
                let to_login = return_to.split(['?', '#']).next() == Some("/login");
                if !return_to.is_empty() && !to_login {
                    return Ok(redirect(return_to, Vec::new()));
                }
                let token = session::authenticity_token(id.expose());
                let page = SignedInPage {
                    base: &site.base,
                    token: &token,
                    login: signed_in.user.login.as_str(),
                };
                return Ok(Page::render(StatusCode::OK, &page)?.into_response());
            }
        }
        login_form(&site, &headers, StatusCode::OK, return_to, "", None)
    }
    .await;
    answer(&site, result)
}

/// `POST /session`: the password step, through the same sign-in (and lockout) as Basic auth.
pub async fn create_session(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let site = Site::of(&state);
    let result = async {
        let form: SignInForm = read_form(body).await?;
        check_token(
            super::cookie(&headers, super::BROWSER_COOKIE),
            form.authenticity_token.as_deref(),
        )?;
        let return_to = local(form.return_to.as_deref());
        let login = form.login.as_deref().unwrap_or_default();
        let password = form.password.unwrap_or_default();
        let refuse =
            |status, message| login_form(&site, &headers, status, return_to, login, Some(message));
        if login.len() > MAX_LOGIN || password.len() > MAX_PASSWORD || password.is_empty() {
            return refuse(StatusCode::UNAUTHORIZED, INCORRECT);
        }
        let now = state.clock.now();
        let outcome = session::sign_in_with_password(
            &*state.store,
            login,
            Password::new(password),
            state.limits.login,
            state.session_ttl,
            &source,
            now,
        )
        .await;
        match outcome {
            Ok(PasswordOutcome::SignedIn(id)) => Ok(redirect(
                &after_sign_in(&site, return_to),
                vec![session_cookie(&site, &id, state.session_ttl)],
            )),
            Ok(PasswordOutcome::TwoFactorPending(id)) => Ok(redirect(
                &with_return_to(format!("{}/sessions/two-factor", site.base), return_to),
                vec![session_cookie(&site, &id, session::TWO_FACTOR_TTL)],
            )),
            Err(Error::BadCredentials) => refuse(StatusCode::UNAUTHORIZED, INCORRECT),
            Err(Error::LoginAttemptsExceeded) => refuse(StatusCode::FORBIDDEN, LOCKED),
            Err(Error::Suspended) => refuse(StatusCode::FORBIDDEN, SUSPENDED),
            Err(other) => Err(PageError::from_domain(&other)),
        }
    }
    .await;
    answer(&site, result)
}

/// `GET /sessions/two-factor`: the code form, for a browser whose password was right.
pub async fn two_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let site = Site::of(&state);
    let query: ReturnTo = read_query(query.as_deref());
    let return_to = local(query.return_to.as_deref());
    let result = async {
        let pending = match super::session_cookie(&headers) {
            Some(id) => session::find_pending(&*state.store, &id, state.clock.now())
                .await
                .map_err(|e| PageError::from_domain(&e))?,
            None => None,
        };
        if pending.is_none() {
            // Expired, signed out, or never signed in: start again.
            return Ok(redirect(
                &with_return_to(format!("{}/login", site.base), return_to),
                Vec::new(),
            ));
        }
        two_factor_form(&site, &headers, StatusCode::OK, return_to, None)
    }
    .await;
    answer(&site, result)
}

/// `POST /sessions/two-factor`: the code step; a wrong code is a failed login.
pub async fn verify_two_factor(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let site = Site::of(&state);
    let result = async {
        let form: TwoFactorForm = read_form(body).await?;
        check_token(
            super::cookie(&headers, super::BROWSER_COOKIE),
            form.authenticity_token.as_deref(),
        )?;
        let return_to = local(form.return_to.as_deref());
        let start_again = || {
            Ok(redirect(
                &with_return_to(format!("{}/login", site.base), return_to),
                vec![clear_session_cookie(&site)],
            ))
        };
        let Some(pending) = super::session_cookie(&headers) else {
            return start_again();
        };
        // An over-long code is a wrong one: it still counts, but is never compared.
        let code = form.app_otp.or(form.recovery_code).unwrap_or_default();
        let code = code.trim();
        let code = if code.len() <= MAX_OTP { code } else { "" };
        let outcome = session::complete_two_factor(
            &*state.store,
            &pending,
            code,
            state.limits.login,
            state.session_ttl,
            &source,
            state.clock.now(),
        )
        .await;
        match outcome {
            Ok(id) => Ok(redirect(
                &after_sign_in(&site, return_to),
                vec![session_cookie(&site, &id, state.session_ttl)],
            )),
            Err(Error::NotFound) => start_again(),
            Err(Error::BadCredentials) => two_factor_form(
                &site,
                &headers,
                StatusCode::UNAUTHORIZED,
                return_to,
                Some(OTP_FAILED),
            ),
            Err(Error::LoginAttemptsExceeded) => two_factor_form(
                &site,
                &headers,
                StatusCode::FORBIDDEN,
                return_to,
                Some(LOCKED),
            ),
            Err(other) => Err(PageError::from_domain(&other)),
        }
    }
    .await;
    answer(&site, result)
}

/// `POST /logout`: ends the session (its row is deleted) and clears the cookie. The form's
/// token is derived from the session id, so only a page of this session can sign it out.
pub async fn destroy_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let site = Site::of(&state);
    let result = async {
        let form: SignOutForm = read_form(body).await?;
        let login = format!("{}/login", site.base);
        let Some(id) = super::session_cookie(&headers) else {
            check_token(None, None)?;
            return Ok(redirect(&login, Vec::new()));
        };
        check_token(Some(id.expose()), form.authenticity_token.as_deref())?;
        let now = state.clock.now();
        let store = &*state.store;
        if let Some(signed_in) = session::find_signed_in(store, &id, now)
            .await
            .map_err(|e| PageError::from_domain(&e))?
        {
            session::end(store, &signed_in, &id)
                .await
                .map_err(|e| PageError::from_domain(&e))?;
        }
        Ok(redirect(&login, vec![clear_session_cookie(&site)]))
    }
    .await;
    answer(&site, result)
}
