//! The OAuth web application flow's endpoints: `GET`/`POST /login/oauth/authorize` (the
//! consent page and its answer) and `POST /login/oauth/access_token` (the code exchange and
//! the refresh grant). Thin handlers over `domain::web_flow` and `domain::user_token`; the
//! rules (redirect URIs, PKCE, codes, refresh tokens) live there.

use crate::domain::audit::Source;
use crate::http::audit_log::RequestSource;
use std::fmt::Write as _;

use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{Page, PageError, Site, check_token, read_form, read_query};
use crate::domain::app::{self, App};
use crate::domain::device_flow;
use crate::domain::scope::Scopes;
use crate::domain::secret::ClientSecret;
use crate::domain::session::{self, SessionId};
use crate::domain::user::User;
use crate::domain::user_token::{self, Issued, RefreshRequest};
use crate::domain::web_flow::{self, Exchange, FlowError};
use crate::domain::{Error, limits::Origin};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::RequestOrigin;

/// A token request body larger than this is refused: every field together is well under it.
const TOKEN_BODY_LIMIT: usize = 16 * 1024;
/// Longest short parameter (client id, login, prompt, method, grant type, code).
pub(super) const MAX_SHORT: usize = 256;

/// The parameters of `GET /login/oauth/authorize` and of the consent form.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    /// Accepted and ignored: grantd has one account per browser session.
    #[allow(dead_code)]
    login: Option<String>,
    /// Accepted and ignored: grantd has no sign-up.
    #[allow(dead_code)]
    allow_signup: Option<String>,
    prompt: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    authenticity_token: Option<String>,
    authorize: Option<String>,
}

impl AuthorizeParams {
    fn within_bounds(&self) -> bool {
        let short = |v: &Option<String>| v.as_ref().is_none_or(|v| v.len() <= MAX_SHORT);
        short(&self.client_id)
            && short(&self.login)
            && short(&self.allow_signup)
            && short(&self.prompt)
            && short(&self.code_challenge_method)
            && short(&self.authenticity_token)
            && short(&self.authorize)
            && self
                .code_challenge
                .as_ref()
                .is_none_or(|v| v.len() <= web_flow::MAX_PKCE)
            && self
                .redirect_uri
                .as_ref()
                .is_none_or(|v| v.len() <= web_flow::MAX_REDIRECT_URI)
            && self
                .scope
                .as_ref()
                .is_none_or(|v| v.len() <= web_flow::MAX_SCOPE_PARAM)
            && self
                .state
                .as_ref()
                .is_none_or(|v| v.len() <= web_flow::MAX_STATE)
    }

    fn forces_page(&self) -> bool {
        matches!(self.prompt.as_deref(), Some("consent" | "select_account"))
    }
}

/// The consent page of both flows: the app, its owner, each scope in plain words, and a form
/// posting `hidden` back to `action` with the buttons `authorize=1` and `authorize=0`.
#[derive(Template)]
#[template(path = "authorize.html")]
pub(super) struct ConsentPage<'a> {
    pub base: &'a str,
    pub login: &'a str,
    pub app_name: &'a str,
    pub owner: &'a str,
    pub scopes: Vec<(&'a str, &'static str)>,
    pub action: &'a str,
    pub hidden: Vec<(&'static str, &'a str)>,
    /// Where Authorize sends the browser (web flow); `None` for a device.
    pub redirect_uri: Option<&'a str>,
}

/// Each scope with its plain words.
pub(super) fn scopes_in_words(scopes: &Scopes) -> Vec<(&str, &'static str)> {
    scopes
        .as_slice()
        .iter()
        .map(|s| (s.as_str(), web_flow::describe_scope(s)))
        .collect()
}

/// A 302 to the app (GitHub answers the flow's redirects with 302).
fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        "No application has this client_id.",
    )
}

/// What every step of the authorize endpoint needs once the request has been checked.
struct Checked {
    app: std::sync::Arc<App>,
    redirect_uri: String,
    challenge: Option<String>,
}

/// Checks the app and the redirect URI and PKCE parameters. `Err(Ok(response))` is a redirect
/// reporting an error to the app; `Err(Err(page))` an error page (no safe place to redirect).
async fn check(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Checked, Result<Response, PageError>> {
    if !params.within_bounds() {
        return Err(Err(PageError::bad_request()));
    }
    let client_id = params.client_id.as_deref().unwrap_or_default();
    let app = match app::find(&*state.store, client_id).await {
        Ok(app) => app,
        Err(Error::NotFound) => return Err(Err(not_found())),
        Err(other) => return Err(Err(PageError::from_domain(&other))),
    };
    let Some(callback) = app.callback_url.clone() else {
        return Err(Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "No callback URL",
            "This application has no authorization callback URL registered, so it cannot \
             sign users in. Its owner must add one (grantd app add --callback-url).",
        )));
    };
    let state_param = params.state.as_deref();
    let redirect_uri = match web_flow::resolve_redirect(&callback, params.redirect_uri.as_deref()) {
        Ok(uri) => uri,
        // Never to the unregistered URI: to the callback, with the error.
        Err(error) => {
            return Err(Ok(found(&web_flow::error_redirect(
                &callback,
                error,
                state_param,
            ))));
        }
    };
    let challenge = web_flow::pkce_challenge(
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    )
    .map_err(|error| {
        Ok(found(&web_flow::error_redirect(
            &redirect_uri,
            error,
            state_param,
        )))
    })?;
    Ok(Checked {
        app,
        redirect_uri,
        challenge,
    })
}

/// The signed-in user and session id, if the browser has a live session.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(User, SessionId)>, PageError> {
    let Some(id) = super::session_cookie(headers) else {
        return Ok(None);
    };
    let found = session::find_signed_in(&*state.store, &id, state.clock.now())
        .await
        .map_err(|e| PageError::from_domain(&e))?;
    Ok(found.map(|s| (s.user, id)))
}

/// Issues a code and sends the browser to the app with it.
async fn grant(
    state: &AppState,
    checked: &Checked,
    user: &User,
    scopes: Scopes,
    state_param: Option<&str>,
) -> Result<Response, PageError> {
    let code = web_flow::issue_code(
        &*state.store,
        &checked.app,
        user,
        &checked.redirect_uri,
        scopes,
        checked.challenge.clone(),
        state.clock.now(),
    )
    .await
    .map_err(|e| PageError::from_domain(&e))?;
    let mut params = vec![("code", code.expose())];
    if let Some(s) = state_param {
        params.push(("state", s));
    }
    Ok(found(&web_flow::with_query(&checked.redirect_uri, &params)))
}

/// The scopes a request asks for: the `scope` parameter, or, without one, what the user
/// already granted the app (GitHub's rule).
fn wanted(params: &AuthorizeParams, granted: Option<&Scopes>) -> Scopes {
    let asked = web_flow::requested_scopes(params.scope.as_deref());
    if params.scope.as_deref().is_none_or(|s| s.trim().is_empty())
        && let Some(granted) = granted
    {
        return Scopes::union([granted]);
    }
    asked
}

/// `GET /login/oauth/authorize`: sign in first if needed, then the consent page, or straight
/// back to the app when it already has every scope asked for.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let site = Site::of(&state);
    let params: AuthorizeParams = read_query(query.as_deref());
    let result = async {
        let checked = match check(&state, &params).await {
            Ok(checked) => checked,
            Err(answer) => return answer,
        };
        let Some((user, id)) = signed_in(&state, &headers).await? else {
            let here = format!(
                "{}/login/oauth/authorize?{}",
                site.base,
                query.as_deref().unwrap_or_default()
            );
            let to = if session::is_local_return_to(&here) {
                web_flow::with_query(&format!("{}/login", site.base), &[("return_to", &here)])
            } else {
                format!("{}/login", site.base)
            };
            return Ok(super::redirect(&to, Vec::new()));
        };
        let granted = web_flow::granted_scopes(&*state.store, user.id, checked.app.id)
            .await
            .map_err(|e| PageError::from_domain(&e))?;
        let scopes = wanted(&params, granted.as_ref());
        if !params.forces_page()
            && granted
                .as_ref()
                .is_some_and(|g| web_flow::covers(g, &scopes))
        {
            return grant(&state, &checked, &user, scopes, params.state.as_deref()).await;
        }
        let token = session::authenticity_token(id.expose());
        let scope_text = scopes.as_slice().join(" ");
        let action = format!("{}/login/oauth/authorize", site.base);
        let mut hidden = vec![
            ("authenticity_token", token.as_str()),
            ("client_id", checked.app.client_id.as_str()),
            ("redirect_uri", checked.redirect_uri.as_str()),
            ("scope", scope_text.as_str()),
            ("state", params.state.as_deref().unwrap_or_default()),
        ];
        if let Some(challenge) = checked.challenge.as_deref() {
            hidden.push(("code_challenge", challenge));
            hidden.push(("code_challenge_method", "S256"));
        }
        let page = ConsentPage {
            base: &site.base,
            login: user.login.as_str(),
            app_name: &checked.app.name,
            owner: checked.app.owner_login.as_str(),
            scopes: scopes_in_words(&scopes),
            action: &action,
            hidden,
            redirect_uri: Some(&checked.redirect_uri),
        };
        let mut response = Page::render(StatusCode::OK, &page)?.into_response();
        allow_form_redirect(&mut response, &checked.redirect_uri);
        Ok(response)
    }
    .await;
    result.unwrap_or_else(|error| error.into_page(&site.base))
}

/// The consent form posts here and is redirected to the app: browsers apply `form-action` to
/// that redirect too, so the page allows the app's origin (and nothing else) as well.
fn allow_form_redirect(response: &mut Response, redirect_uri: &str) {
    let end = redirect_uri
        .find("://")
        .map(|at| at + 3)
        .and_then(|start| {
            redirect_uri[start..]
                .find(['/', '?'])
                .map(|i| start + i)
                .or(Some(redirect_uri.len()))
        })
        .unwrap_or(0);
    let origin = &redirect_uri[..end];
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; \
         form-action 'self' {origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// `POST /login/oauth/authorize`: the consent form's answer. `authorize=1` issues the code;
/// anything else is Cancel (`access_denied`).
pub async fn decide(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let site = Site::of(&state);
    let result = async {
        let params: AuthorizeParams = read_form(body).await?;
        let Some((user, id)) = signed_in(&state, &headers).await? else {
            // Signed out meanwhile: the form's token is of a dead session.
            check_token(None, None)?;
            return Err(PageError::bad_request());
        };
        check_token(Some(id.expose()), params.authenticity_token.as_deref())?;
        let checked = match check(&state, &params).await {
            Ok(checked) => checked,
            Err(answer) => return answer,
        };
        let state_param = params.state.as_deref();
        if params.authorize.as_deref() != Some("1") {
            return Ok(found(&web_flow::error_redirect(
                &checked.redirect_uri,
                FlowError::AccessDenied,
                state_param,
            )));
        }
        let scopes = web_flow::requested_scopes(params.scope.as_deref());
        grant(&state, &checked, &user, scopes, state_param).await
    }
    .await;
    result.unwrap_or_else(|error| error.into_page(&site.base))
}

/// The token endpoint's fields, from a form or a JSON body. No `Debug`: secrets.
#[derive(Default, Deserialize)]
struct TokenParams {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
    device_code: Option<String>,
}

/// The answer's format, from `Accept` (GitHub: form-encoded unless JSON or XML is asked for).
#[derive(Clone, Copy)]
pub(super) enum Format {
    Form,
    Json,
    Xml,
}

impl Format {
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        if accept.contains("application/json") {
            Self::Json
        } else if accept.contains("application/xml") || accept.contains("text/xml") {
            Self::Xml
        } else {
            Self::Form
        }
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The fields GitHub's JSON answers give as numbers, not strings.
const NUMBERS: &[&str] = &["expires_in", "refresh_token_expires_in", "interval"];

/// Answers the fields in the asked format, with HTTP 200 (errors included, as GitHub does).
pub(super) fn answer(format: Format, fields: &[(&str, String)]) -> Response {
    let (content_type, body) = match format {
        Format::Form => (
            "application/x-www-form-urlencoded; charset=utf-8",
            serde_urlencoded::to_string(fields).unwrap_or_default(),
        ),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| {
                    let value = if NUMBERS.contains(k) {
                        v.parse::<i64>()
                            .map_or_else(|_| serde_json::Value::from(v.as_str()), Into::into)
                    } else {
                        serde_json::Value::from(v.as_str())
                    };
                    ((*k).to_owned(), value)
                })
                .collect();
            (
                "application/json; charset=utf-8",
                serde_json::Value::Object(map).to_string(),
            )
        }
        Format::Xml => {
            // GitHub's element order: token_type, scope, access_token, then the rest.
            let rank = |key: &str| match key {
                "token_type" => 0,
                "scope" => 1,
                "access_token" => 2,
                _ => 3,
            };
            let mut ordered: Vec<&(&str, String)> = fields.iter().collect();
            ordered.sort_by_key(|(key, _)| rank(key));
            let mut xml = String::from("<OAuth>");
            for (key, value) in ordered {
                let _ = write!(xml, "<{key}>{}</{key}>", xml_escape(value));
            }
            xml.push_str("</OAuth>");
            ("application/xml; charset=utf-8", xml)
        }
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn flow_error(format: Format, error: FlowError) -> Response {
    answer(
        format,
        &[
            ("error", error.code().to_owned()),
            ("error_description", error.description().to_owned()),
            ("error_uri", error.uri()),
        ],
    )
}

/// `client_id:client_secret` from an HTTP Basic header, if there is one.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Reads a form or JSON body (by `Content-Type`) of at most [`TOKEN_BODY_LIMIT`] bytes.
pub(super) async fn read_token_params<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Option<T> {
    let bytes = axum::body::to_bytes(body, TOKEN_BODY_LIMIT).await.ok()?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        serde_json::from_slice(&bytes).ok()
    } else {
        serde_urlencoded::from_bytes(&bytes).ok()
    }
}

/// `POST /login/oauth/access_token`: exchanges a code for a user token.
pub async fn access_token(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = Format::of(&headers);
    let Some(params) = read_token_params::<TokenParams>(&headers, body).await else {
        return ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing request body")
            .into_response();
    };
    if params.grant_type.as_deref() == Some(device_flow::GRANT_TYPE) {
        // No secret: a device cannot keep one. A client id in Basic counts as sent.
        let client_id = basic(&headers).map(|(id, _)| id).or(params.client_id);
        return super::device::poll(&state, format, client_id, params.device_code, &source).await;
    }
    let (client_id, client_secret) = match (basic(&headers), params.client_id) {
        (Some((id, secret)), _) => (id, Some(secret)),
        (None, id) => (id.unwrap_or_default(), params.client_secret),
    };
    let too_long = |v: &Option<String>, max: usize| v.as_ref().is_some_and(|v| v.len() > max);
    match params.grant_type.as_deref() {
        None | Some("" | "authorization_code") => {}
        Some("refresh_token") => {
            let request = RefreshRequest {
                client_id,
                client_secret: client_secret.map(ClientSecret::new),
                refresh_token: params.refresh_token.unwrap_or_default(),
            };
            return refresh(&state, request, origin, &source, format).await;
        }
        Some(_) => return flow_error(format, FlowError::UnsupportedGrantType),
    }
    if client_id.len() > MAX_SHORT
        || too_long(&client_secret, MAX_SHORT)
        || too_long(&params.code, MAX_SHORT)
        || too_long(&params.redirect_uri, web_flow::MAX_REDIRECT_URI)
        || too_long(&params.code_verifier, web_flow::MAX_PKCE)
    {
        return flow_error(format, FlowError::BadVerificationCode);
    }
    let request = Exchange {
        client_id,
        client_secret: client_secret.map(ClientSecret::new),
        code: params.code.unwrap_or_default(),
        redirect_uri: params.redirect_uri,
        code_verifier: params.code_verifier,
    };
    exchange(&state, request, origin, &source, format).await
}

async fn exchange(
    state: &AppState,
    request: Exchange,
    origin: Origin,
    source: &Source,
    format: Format,
) -> Response {
    let outcome =
        web_flow::exchange(&*state.store, request, origin, source, state.clock.now()).await;
    token_answer(format, outcome)
}

/// The refresh grant: every field bounded (an over-long one cannot be a refresh token we
/// issued), then `user_token::refresh`.
async fn refresh(
    state: &AppState,
    request: RefreshRequest,
    origin: Origin,
    source: &Source,
    format: Format,
) -> Response {
    let too_long = |v: &str| v.len() > MAX_SHORT;
    if too_long(&request.client_id)
        || too_long(&request.refresh_token)
        || request
            .client_secret
            .as_ref()
            .is_some_and(|s| too_long(s.expose()))
    {
        return flow_error(format, FlowError::BadRefreshToken);
    }
    let outcome =
        user_token::refresh(&*state.store, request, origin, source, state.clock.now()).await;
    token_answer(format, outcome)
}

/// A flow's token in GitHub's fields (in its documentation's order): `expires_in`,
/// `refresh_token` and `refresh_token_expires_in` only for a token that expires.
pub(crate) fn token_fields(issued: &Issued) -> Vec<(&'static str, String)> {
    let mut fields = vec![("access_token", issued.token.expose().to_owned())];
    if let Some(seconds) = issued.expires_in {
        fields.push(("expires_in", seconds.to_string()));
    }
    if let Some(refresh) = &issued.refresh {
        fields.push(("refresh_token", refresh.token.expose().to_owned()));
        fields.push(("refresh_token_expires_in", refresh.expires_in.to_string()));
    }
    fields.push(("scope", issued.authorization.scopes.as_slice().join(",")));
    fields.push(("token_type", "bearer".to_owned()));
    fields
}

/// The token endpoint's answer to a grant: the token, the flow's error, or the API's error.
fn token_answer(format: Format, outcome: Result<Result<Issued, FlowError>, Error>) -> Response {
    match outcome {
        Ok(Ok(issued)) => issued_answer(format, &issued),
        Ok(Err(error)) => flow_error(format, error),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// A flow's token, as every flow (web, device, refresh) answers it.
pub(super) fn issued_answer(format: Format, issued: &Issued) -> Response {
    answer(format, &token_fields(issued))
}
