//! The OAuth device flow's endpoints: `POST /login/device/code` (codes for an app),
//! `GET`/`POST /login/device` (the user enters the code), `POST /login/device/authorize` (the
//! same consent page as the web flow, answered), and the device-code grant of
//! `POST /login/oauth/access_token` (the polls), reached from `oauth::access_token`.
//! Thin handlers over `domain::device_flow`, where the rules (codes, limits, polling) live.

use crate::domain::audit::Source;
use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::oauth::{self, ConsentPage, Format, MAX_SHORT};
use super::{Page, PageError, Site, check_token, read_form, read_query};
use crate::domain::device_flow::{self, CodeRequestError, DeviceError, EntryError};
use crate::domain::session::{self, SessionId};
use crate::domain::user::User;
use crate::domain::web_flow;
use crate::http::AppState;
use crate::http::error::ApiError;

/// `POST /login/device/code`'s fields, from the body or (GitHub's GitHub App docs send
/// `client_id` as a query parameter) the query; the body wins.
#[derive(Debug, Default, Deserialize)]
struct CodeParams {
    client_id: Option<String>,
    scope: Option<String>,
}

/// `POST /login/device/code`: a device code and a user code for the app, in the format
/// `Accept` asks for (form-encoded by default), as GitHub answers them. No client secret.
pub async fn device_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let format = Format::of(&headers);
    let Some(sent) = oauth::read_token_params::<CodeParams>(&headers, body).await else {
        return ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing request body")
            .into_response();
    };
    let in_query: CodeParams = read_query(query.as_deref());
    let client_id = sent.client_id.or(in_query.client_id).unwrap_or_default();
    let scope = sent.scope.or(in_query.scope);
    if client_id.len() > MAX_SHORT
        || scope
            .as_ref()
            .is_some_and(|s| s.len() > web_flow::MAX_SCOPE_PARAM)
    {
        return ApiError::new(StatusCode::BAD_REQUEST, "client_id or scope is too long")
            .into_response();
    }
    let now = state.clock.now();
    match device_flow::request_codes(&*state.store, &client_id, scope.as_deref(), now).await {
        Ok(Ok(codes)) => oauth::answer(
            format,
            &[
                ("device_code", codes.device_code),
                ("user_code", codes.user_code),
                (
                    "verification_uri",
                    // The page answers at the site's root, never under /api/v3.
                    format!("{}/login/device", crate::http::web_root(&state.public_url)),
                ),
                ("expires_in", codes.expires_in.to_string()),
                ("interval", codes.interval.to_string()),
            ],
        ),
        // GitHub answers an unknown client id with a 404, and a disabled flow with a 400; the
        // body says which in the flow's own words.
        Ok(Err(CodeRequestError::UnknownClient)) => with_status(
            StatusCode::NOT_FOUND,
            device_error(format, DeviceError::IncorrectClientCredentials),
        ),
        Ok(Err(CodeRequestError::DeviceFlowDisabled)) => with_status(
            StatusCode::BAD_REQUEST,
            device_error(format, DeviceError::DeviceFlowDisabled),
        ),
        Err(error) => ApiError::from(error).into_response(),
    }
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

/// A device-flow error in the asked format, with HTTP 200 (GitHub's polls: "with HTTP 200 and
/// an `error` parameter"); `slow_down` carries the new `interval`.
fn device_error(format: Format, error: DeviceError) -> Response {
    let mut fields = vec![
        ("error", error.code().to_owned()),
        ("error_description", error.description().to_owned()),
        ("error_uri", error.uri().to_owned()),
    ];
    if let Some(interval) = error.interval() {
        fields.push(("interval", interval.to_string()));
    }
    oauth::answer(format, &fields)
}

/// A poll: `POST /login/oauth/access_token` with
/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
pub(super) async fn poll(
    state: &AppState,
    format: Format,
    client_id: Option<String>,
    device_code: Option<String>,
    source: &Source,
) -> Response {
    let client_id = client_id.unwrap_or_default();
    if client_id.len() > MAX_SHORT {
        return device_error(format, DeviceError::IncorrectClientCredentials);
    }
    let device_code = device_code.unwrap_or_default();
    if device_code.len() > device_flow::MAX_CODE_PARAM {
        return device_error(format, DeviceError::IncorrectDeviceCode);
    }
    let now = state.clock.now();
    match device_flow::poll(&*state.store, &client_id, &device_code, source, now).await {
        Ok(Ok(issued)) => oauth::issued_answer(format, &issued),
        Ok(Err(error)) => device_error(format, error),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The code form's fields. No `Debug`: it carries a user code.
#[derive(Deserialize)]
pub struct EntryForm {
    user_code: Option<String>,
    authenticity_token: Option<String>,
}

/// The consent form's fields.
#[derive(Deserialize)]
pub struct DecisionForm {
    user_code: Option<String>,
    authenticity_token: Option<String>,
    authorize: Option<String>,
}

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    base: &'a str,
    token: &'a str,
    login: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage<'a> {
    base: &'a str,
    title: &'a str,
    message: &'a str,
    detail: &'a str,
    connected: bool,
}

const WRONG_CODE: &str = "The code you entered is incorrect or has expired. Check the code on your device and try again.";
const TOO_MANY: &str =
    "Too many codes have been entered. Please wait an hour before entering another code.";

/// The code form, for a signed-in user (again, with `error`, after a refused code).
fn entry_form(
    site: &Site,
    user: &User,
    id: &SessionId,
    status: StatusCode,
    user_code: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let token = session::authenticity_token(id.expose());
    let page = EntryPage {
        base: &site.base,
        token: &token,
        login: user.login.as_str(),
        // Echoed only when it has a code's length: the form is no mirror for anything else.
        user_code: if user_code.len() <= 20 { user_code } else { "" },
        error,
    };
    Ok(Page::render(status, &page)?.into_response())
}

/// The signed-in user, or the redirect to the sign-in page that comes back to `/login/device`.
async fn signed_in_or_sign_in(
    state: &AppState,
    site: &Site,
    headers: &HeaderMap,
) -> Result<Result<(User, SessionId), Response>, PageError> {
    if let Some(signed_in) = oauth::signed_in(state, headers).await? {
        return Ok(Ok(signed_in));
    }
    let here = format!("{}/login/device", site.base);
    let to = web_flow::with_query(&format!("{}/login", site.base), &[("return_to", &here)]);
    Ok(Err(super::redirect(&to, Vec::new())))
}

/// `GET /login/device`: the form to enter a user code (after signing in).
pub async fn enter_code(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let site = Site::of(&state);
    let result = async {
        let (user, id) = match signed_in_or_sign_in(&state, &site, &headers).await? {
            Ok(signed_in) => signed_in,
            Err(redirect) => return Ok(redirect),
        };
        entry_form(&site, &user, &id, StatusCode::OK, "", None)
    }
    .await;
    result.unwrap_or_else(|error| error.into_page(&site.base))
}

/// `POST /login/device`: the entered code. A live one → the consent page; a wrong one → the
/// form again (404); over the limit → the form with the limit's message (429).
pub async fn submit_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let site = Site::of(&state);
    let result = async {
        let form: EntryForm = read_form(body).await?;
        let Some((user, id)) = oauth::signed_in(&state, &headers).await? else {
            // Signed out meanwhile: the form's token is of a dead session.
            check_token(None, None)?;
            return Err(PageError::bad_request());
        };
        check_token(Some(id.expose()), form.authenticity_token.as_deref())?;
        let typed = form.user_code.unwrap_or_default();
        let now = state.clock.now();
        let entered = device_flow::enter(&*state.store, &user, &typed, now)
            .await
            .map_err(|e| PageError::from_domain(&e))?;
        let entered = match entered {
            Ok(entered) => entered,
            Err(EntryError::WrongCode) => {
                return entry_form(
                    &site,
                    &user,
                    &id,
                    StatusCode::NOT_FOUND,
                    &typed,
                    Some(WRONG_CODE),
                );
            }
            Err(EntryError::TooManySubmissions) => {
                return entry_form(
                    &site,
                    &user,
                    &id,
                    StatusCode::TOO_MANY_REQUESTS,
                    "",
                    Some(TOO_MANY),
                );
            }
        };
        let token = session::authenticity_token(id.expose());
        let action = format!("{}/login/device/authorize", site.base);
        let page = ConsentPage {
            base: &site.base,
            login: user.login.as_str(),
            app_name: &entered.app.name,
            owner: entered.app.owner_login.as_str(),
            scopes: oauth::scopes_in_words(&entered.code.scopes),
            action: &action,
            hidden: vec![
                ("authenticity_token", token.as_str()),
                ("user_code", entered.user_code.as_str()),
            ],
            redirect_uri: None,
        };
        Ok(Page::render(StatusCode::OK, &page)?.into_response())
    }
    .await;
    result.unwrap_or_else(|error| error.into_page(&site.base))
}

/// `POST /login/device/authorize`: the consent page's answer. `authorize=1` approves the code
/// (the device's next poll gets the token); anything else is Cancel (`access_denied`).
pub async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let site = Site::of(&state);
    let result = async {
        let form: DecisionForm = read_form(body).await?;
        let Some((user, id)) = oauth::signed_in(&state, &headers).await? else {
            check_token(None, None)?;
            return Err(PageError::bad_request());
        };
        check_token(Some(id.expose()), form.authenticity_token.as_deref())?;
        let approve = form.authorize.as_deref() == Some("1");
        let user_code = form.user_code.unwrap_or_default();
        let now = state.clock.now();
        let decided = device_flow::decide(&*state.store, &user, &user_code, approve, now)
            .await
            .map_err(|e| PageError::from_domain(&e))?;
        let page = match decided {
            Ok(true) if approve => DonePage {
                base: &site.base,
                title: "Device connected",
                message: "Congratulations, you're all set! Your device is now connected.",
                detail: "You can close this window and return to your device.",
                connected: true,
            },
            Ok(true) => DonePage {
                base: &site.base,
                title: "Authorization cancelled",
                message: "The device was not connected to your account.",
                detail: "You can close this window. The device is told that access was denied.",
                connected: false,
            },
            Ok(false) | Err(EntryError::WrongCode) => {
                return entry_form(
                    &site,
                    &user,
                    &id,
                    StatusCode::NOT_FOUND,
                    "",
                    Some(WRONG_CODE),
                );
            }
            Err(EntryError::TooManySubmissions) => {
                return entry_form(
                    &site,
                    &user,
                    &id,
                    StatusCode::TOO_MANY_REQUESTS,
                    "",
                    Some(TOO_MANY),
                );
            }
        };
        Ok(Page::render(StatusCode::OK, &page)?.into_response())
    }
    .await;
    result.unwrap_or_else(|error| error.into_page(&site.base))
}
