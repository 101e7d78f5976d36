//! `/settings/security`: the password and two-factor authentication (enrol with a QR code and
//! a confirming code, recovery codes shown once, regenerate them, turn it off with the
//! password). Thin handlers over `domain::session::change_password` and `domain::two_factor`.

use crate::http::audit_log::RequestSource;
use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Frame, SignedIn, answer, failed, open, render, submit};
use crate::domain::Error;
use crate::domain::otp::TotpSecret;
use crate::domain::secret::Password;
use crate::domain::session::{self, NewPassword, PasswordChange};
use crate::domain::two_factor::{self, RecoveryCode};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "settings/security.html")]
struct SecurityPage {
    base: String,
    frame: Frame,
    two_factor: bool,
    changed: bool,
}

#[derive(Template)]
#[template(path = "settings/two_factor_setup.html")]
struct SetupPage {
    base: String,
    frame: Frame,
    secret: String,
    /// The `otpauth://` URI as an inline `<svg>` (so the page's CSP needs no `data:` images).
    qr: String,
}

#[derive(Template)]
#[template(path = "settings/recovery_codes.html")]
struct RecoveryCodesPage {
    base: String,
    frame: Frame,
    enabled: bool,
    codes: Vec<String>,
}

/// The issuer authenticator apps show beside the login.
const ISSUER: &str = "grantd";
/// A base32 secret from the setup form: 160 bits are 32 characters; a little room is left.
const MAX_SECRET: usize = 64;
const MAX_CODE: usize = 10;
const WRONG_CODE: &str = "Two-factor code verification failed. Please try again.";

/// `uri` as a QR code in SVG, without the XML prolog (it is inlined in HTML).
fn qr_svg(uri: &str) -> Result<String, crate::http::web::PageError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| failed(&Error::Internal(format!("QR code: {e}"))))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code of the two-factor secret\"",
        1,
    ))
}

fn setup_page(
    signed_in: &SignedIn,
    secret: &TotpSecret,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, crate::http::web::PageError> {
    let mut frame = signed_in.frame("security", None);
    frame.error = error.map(str::to_owned);
    let uri = secret.uri(ISSUER, signed_in.user().login.as_str());
    render(
        status,
        &SetupPage {
            base: signed_in.site.base.clone(),
            frame,
            secret: secret.expose().to_owned(),
            qr: qr_svg(&uri)?,
        },
    )
}

fn codes_page(
    signed_in: &SignedIn,
    enabled: bool,
    codes: &[RecoveryCode],
) -> Result<Response, crate::http::web::PageError> {
    render(
        StatusCode::OK,
        &RecoveryCodesPage {
            base: signed_in.site.base.clone(),
            frame: signed_in.frame("security", None),
            enabled,
            codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
        },
    )
}

fn page(
    signed_in: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
    changed: bool,
) -> Result<axum::response::Response, crate::http::web::PageError> {
    page_with(signed_in, status, error, changed, None)
}

fn page_with(
    signed_in: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
    changed: bool,
    notice: Option<&'static str>,
) -> Result<axum::response::Response, crate::http::web::PageError> {
    let mut frame = signed_in.frame("security", notice);
    frame.error = error.map(str::to_owned);
    render(
        status,
        &SecurityPage {
            base: signed_in.site.base.clone(),
            frame,
            two_factor: signed_in.user().totp_secret.is_some(),
            changed,
        },
    )
}

/// `GET /settings/security`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match open(&state, &headers, query.as_deref(), "security").await {
        Ok((signed_in, notice)) => answer(
            &signed_in.site.base,
            page_with(&signed_in, StatusCode::OK, None, false, notice),
        ),
        Err(response) => response,
    }
}

/// `POST /settings/security/password`: the current password (counted as a sign-in attempt),
/// the new one twice. This session stays; the user's other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name| Password::new(form.get(name).unwrap_or_default());
    let current = field("old_password");
    let refuse = |status, message| page(&signed_in, status, Some(message), false);
    let result = if current.expose().is_empty() || current.expose().len() > session::MAX_PASSWORD {
        refuse(
            StatusCode::UNAUTHORIZED,
            "The current password is incorrect.",
        )
    } else {
        let outcome = session::change_password(
            &*state.store,
            &signed_in.session,
            &signed_in.id,
            NewPassword {
                current,
                new: field("new_password"),
                confirmation: field("confirm_new_password"),
            },
            state.limits.login,
            &source,
            state.clock.now(),
        )
        .await;
        match outcome {
            Ok(Ok(())) => page(&signed_in, StatusCode::OK, None, true),
            Ok(Err(PasswordChange::WrongCurrent)) => refuse(
                StatusCode::UNAUTHORIZED,
                "The current password is incorrect.",
            ),
            Ok(Err(PasswordChange::BadNew)) => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The new password must be 8 to 1024 characters long.",
            ),
            Ok(Err(PasswordChange::Mismatch)) => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The new password and its confirmation do not match.",
            ),
            Err(Error::LoginAttemptsExceeded) => refuse(
                StatusCode::FORBIDDEN,
                "Maximum number of login attempts exceeded. Please try again later.",
            ),
            Err(other) => Err(failed(&other)),
        }
    };
    answer(&signed_in.site.base, result)
}

/// `GET /settings/security/two-factor/setup`: a new secret as text and as a QR code, and the
/// form that confirms it. Nothing is stored until a code proves the app holds the secret.
pub async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, _) = match open(&state, &headers, query.as_deref(), "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = match TotpSecret::generate() {
        Some(secret) => setup_page(&signed_in, &secret, StatusCode::OK, None),
        None => Err(failed(&Error::Internal("random source failed".to_owned()))),
    };
    answer(&signed_in.site.base, result)
}

/// `POST /settings/security/two-factor`: the secret the setup page showed and a code of it;
/// a right code turns 2FA on and shows the recovery codes once, a wrong one the setup page
/// again with the same secret.
pub async fn enable(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let secret = form
        .get("secret")
        .filter(|s| s.len() <= MAX_SECRET)
        .and_then(TotpSecret::parse);
    let Some(secret) = secret else {
        // Not a secret this site handed out: start the setup again.
        return redirect_to_setup(&signed_in);
    };
    let code = form.get("app_otp").unwrap_or_default();
    let code = if code.len() <= MAX_CODE { code } else { "" };
    let outcome = two_factor::enable(
        &*state.store,
        &signed_in.session,
        &secret,
        code,
        &source,
        state.clock.now(),
    )
    .await;
    let result = match outcome {
        Ok(Some(codes)) => codes_page(&signed_in, true, &codes),
        Ok(None) => setup_page(
            &signed_in,
            &secret,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(WRONG_CODE),
        ),
        Err(other) => Err(failed(&other)),
    };
    answer(&signed_in.site.base, result)
}

fn redirect_to_setup(signed_in: &SignedIn) -> Response {
    crate::http::web::redirect(
        &format!("{}/settings/security/two-factor/setup", signed_in.site.base),
        Vec::new(),
    )
}

/// `POST /settings/security/two-factor/recovery-codes`: new recovery codes, shown once; the
/// old ones stop working.
pub async fn regenerate(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = match two_factor::regenerate_recovery_codes(
        &*state.store,
        &signed_in.session,
        &source,
        state.clock.now(),
    )
    .await
    {
        Ok(codes) => codes_page(&signed_in, false, &codes),
        Err(other) => Err(failed(&other)),
    };
    answer(&signed_in.site.base, result)
}

/// `POST /settings/security/two-factor/disable`: the password (counted as a sign-in attempt)
/// turns 2FA off and deletes the recovery codes.
pub async fn disable(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let password = Password::new(form.get("password").unwrap_or_default());
    let wrong = |status, message| page(&signed_in, status, Some(message), false);
    let result = if password.expose().is_empty() || password.expose().len() > session::MAX_PASSWORD
    {
        wrong(StatusCode::UNAUTHORIZED, "The password is incorrect.")
    } else {
        let outcome = two_factor::disable(
            &*state.store,
            &signed_in.session,
            password,
            state.limits.login,
            &source,
            state.clock.now(),
        )
        .await;
        match outcome {
            Ok(true) => Ok(signed_in.back_to("security", "two-factor-disabled")),
            Ok(false) => wrong(StatusCode::UNAUTHORIZED, "The password is incorrect."),
            Err(Error::LoginAttemptsExceeded) => wrong(
                StatusCode::FORBIDDEN,
                "Maximum number of login attempts exceeded. Please try again later.",
            ),
            Err(other) => Err(failed(&other)),
        }
    };
    answer(&signed_in.site.base, result)
}
