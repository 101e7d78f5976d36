//! `/settings/applications` (the apps the user authorized: Revoke deletes the grant, as
//! `DELETE /applications/grants/{id}` does) and `/settings/developers` (the apps the user
//! registered). Thin handlers over `domain::grant` and `domain::app`.

use crate::http::audit_log::RequestSource;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Frame, SignedIn, answer, day, describe, failed, not_found, open, render, submit};
use crate::domain::app::{self, App, AppKind, AppSpec, ClientSecretId, StoredClientSecret};
use crate::domain::grant::{self, Grant};
use crate::domain::secret::ClientSecret;
use crate::domain::{Error, GrantId, web_flow};
use crate::http::AppState;

/// The page lists at most this many grants (a user has one per app at most).
const GRANT_LIMIT: u32 = 1_000;
/// Longest app name the form accepts (GitHub's limit is 34; a little more is harmless).
const MAX_NAME: usize = 100;
/// Longest URL the form accepts (the domain's bound too).
const MAX_URL: usize = 2_048;

/// One authorized app as the page shows it.
pub struct Authorized {
    grant_id: i64,
    name: String,
    url: String,
    owner: String,
    scopes: Vec<(String, &'static str)>,
    granted: String,
    last_used: &'static str,
}

#[derive(Template)]
#[template(path = "settings/applications.html")]
struct AuthorizedPage {
    base: String,
    frame: Frame,
    sections: [Section; 2],
}

/// "Authorized OAuth Apps" or "Authorized GitHub Apps".
pub struct Section {
    id: &'static str,
    heading: &'static str,
    apps: Vec<Authorized>,
}

async fn authorized_row(state: &AppState, grant: &Grant) -> Result<Authorized, Error> {
    // The owner is the app's; an app deleted meanwhile took its grant with it.
    let owner = match app::find(&*state.store, grant.app.client_id.as_str()).await {
        Ok(app) => app.owner_login.as_str().to_owned(),
        Err(Error::NotFound) => String::new(),
        Err(other) => return Err(other),
    };
    Ok(Authorized {
        grant_id: grant.id.0,
        name: grant.app.name.clone(),
        url: grant.app.url.clone(),
        owner,
        scopes: grant
            .scopes
            .as_slice()
            .iter()
            .map(|s| (s.clone(), web_flow::describe_scope(s)))
            .collect(),
        granted: day(grant.created_at),
        last_used: crate::domain::usage::describe(grant.last_used_at, state.clock.now()),
    })
}

/// `GET /settings/applications`.
pub async fn authorized(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, notice) = match open(&state, &headers, query.as_deref(), "applications").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // The uses noted so far show at once, not a minute later.
    state.flush_usage().await;
    let result = async {
        let grants = grant::list_for_page(&*state.store, signed_in.user(), GRANT_LIMIT)
            .await
            .map_err(|e| failed(&e))?;
        let mut oauth = Vec::new();
        let mut github = Vec::new();
        for grant in &grants {
            let row = authorized_row(&state, grant)
                .await
                .map_err(|e| failed(&e))?;
            match grant.app.kind {
                AppKind::OAuth => oauth.push(row),
                AppKind::GitHub => github.push(row),
            }
        }
        render(
            StatusCode::OK,
            &AuthorizedPage {
                base: signed_in.site.base.clone(),
                frame: signed_in.frame("applications", notice),
                sections: [
                    Section {
                        id: "oauth-apps",
                        heading: "Authorized OAuth Apps",
                        apps: oauth,
                    },
                    Section {
                        id: "github-apps",
                        heading: "Authorized GitHub Apps",
                        apps: github,
                    },
                ],
            },
        )
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `POST /settings/applications/revoke` (`grant_id`): the grant goes with every token of
/// that app for this user, through `DELETE /applications/grants/{id}`'s domain call.
pub async fn revoke(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "applications").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let id = form
            .get("grant_id")
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(not_found)?;
        grant::delete(
            &*state.store,
            signed_in.user(),
            GrantId(id),
            &source,
            state.clock.now(),
        )
        .await
        .map_err(|e| failed(&e))?;
        Ok(signed_in.back_to("applications", "revoked"))
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `POST /settings/applications/revoke-all`.
pub async fn revoke_all(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "applications").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = grant::delete_all(&*state.store, signed_in.user(), &source, state.clock.now())
        .await
        .map(|_| signed_in.back_to("applications", "revoked-all"))
        .map_err(|e| failed(&e));
    answer(&signed_in.site.base, result)
}

/// One of an app's client secrets as the developer page shows it: GitHub's hint, never the
/// secret.
pub struct SecretRow {
    id: i64,
    /// `*****` and the last eight characters, as GitHub shows a secret.
    hint: String,
    created: String,
    last_used: &'static str,
}

impl SecretRow {
    fn of(secret: &StoredClientSecret, now: time::OffsetDateTime) -> Self {
        Self {
            id: secret.id.0,
            hint: match &secret.last_eight {
                Some(tail) => format!("*****{tail}"),
                None => "***** (made before grantd kept hints)".to_owned(),
            },
            created: day(secret.created_at),
            last_used: crate::domain::usage::describe(secret.last_used_at, now),
        }
    }
}

/// One of the user's apps as the developer page shows it.
pub struct Owned {
    kind: &'static str,
    name: String,
    url: String,
    client_id: String,
    callback_url: String,
    device_flow: bool,
    expiring: bool,
    created: String,
    secrets: Vec<SecretRow>,
}

impl Owned {
    fn with_secrets(app: &App, secrets: &[StoredClientSecret], now: time::OffsetDateTime) -> Self {
        Self {
            secrets: secrets.iter().map(|s| SecretRow::of(s, now)).collect(),
            ..Self::of(app)
        }
    }

    fn of(app: &App) -> Self {
        Self {
            secrets: Vec::new(),
            kind: match app.kind {
                AppKind::OAuth => "OAuth App",
                AppKind::GitHub => "GitHub App",
            },
            name: app.name.clone(),
            url: app.url.clone(),
            client_id: app.client_id.as_str().to_owned(),
            callback_url: app.callback_url.clone().unwrap_or_default(),
            device_flow: app.device_flow,
            expiring: app.user_token_ttl.is_some(),
            created: day(app.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/developers.html")]
struct DevelopersPage {
    base: String,
    frame: Frame,
    apps: Vec<Owned>,
}

#[derive(Template)]
#[template(path = "settings/app_new.html")]
struct NewAppPage {
    base: String,
    frame: Frame,
    github: bool,
    name: String,
    url: String,
    callback_url: String,
    device_flow: bool,
    expiring: bool,
}

#[derive(Template)]
#[template(path = "settings/app_secret.html")]
struct SecretPage {
    base: String,
    frame: Frame,
    heading: &'static str,
    app: Owned,
    secret: String,
}

/// `GET /settings/developers`.
pub async fn developers(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, notice) = match open(&state, &headers, query.as_deref(), "developers").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    state.flush_usage().await;
    let result = developers_page(&state, &signed_in, notice, None).await;
    answer(&signed_in.site.base, result)
}

/// The developer page, with `error` (a refused form) shown and answered 422.
async fn developers_page(
    state: &AppState,
    signed_in: &SignedIn,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, crate::http::web::PageError> {
    let user = signed_in.user().id;
    let apps = app::list_owned(&*state.store, user)
        .await
        .map_err(|e| failed(&e))?;
    let mut rows = Vec::with_capacity(apps.len());
    for app in &apps {
        let secrets = app::list_owned_secrets(&*state.store, user, app.client_id.as_str())
            .await
            .map_err(|e| failed(&e))?;
        rows.push(Owned::with_secrets(app, &secrets, state.clock.now()));
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut frame = signed_in.frame("developers", notice);
    frame.error = error;
    render(
        status,
        &DevelopersPage {
            base: signed_in.site.base.clone(),
            frame,
            apps: rows,
        },
    )
}

/// `GET /settings/developers/new?kind=github|oauth`: the registration form.
pub async fn new_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, _) = match open(&state, &headers, query.as_deref(), "developers/new").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let params: Vec<(String, String)> = super::super::read_query(query.as_deref());
    let github = params.iter().any(|(k, v)| k == "kind" && v == "github");
    let page = NewAppPage {
        base: signed_in.site.base.clone(),
        frame: signed_in.frame("developers", None),
        github,
        name: String::new(),
        url: String::new(),
        callback_url: String::new(),
        device_flow: false,
        expiring: github,
    };
    answer(&signed_in.site.base, render(StatusCode::OK, &page))
}

fn secret_page(
    signed_in: &SignedIn,
    heading: &'static str,
    app: &App,
    secret: &ClientSecret,
) -> Result<Response, crate::http::web::PageError> {
    render(
        StatusCode::OK,
        &SecretPage {
            base: signed_in.site.base.clone(),
            frame: signed_in.frame("developers", None),
            heading,
            app: Owned::of(app),
            secret: secret.expose().to_owned(),
        },
    )
}

/// `POST /settings/developers`: registers the app (owned by the signed-in user) and shows
/// its client secret, this once.
pub async fn register(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "developers/new").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let github = form.get("kind") == Some("github");
    let name = form.get("name").unwrap_or_default().trim();
    let url = form.get("url").unwrap_or_default().trim();
    let callback_url = form.get("callback_url").unwrap_or_default().trim();
    let device_flow = form.get("device_flow").is_some();
    let expiring = github && form.get("expire_user_tokens").is_some();
    let outcome = async {
        if name.chars().count() > MAX_NAME {
            return Err(Error::invalid(crate::domain::FieldError::custom(
                "name",
                format!("Name is too long (maximum is {MAX_NAME} characters)."),
            )));
        }
        let spec = AppSpec {
            kind: if github {
                AppKind::GitHub
            } else {
                AppKind::OAuth
            },
            name: name.to_owned(),
            url: url.to_owned(),
            callback_url: (!callback_url.is_empty()).then(|| callback_url.to_owned()),
            device_flow,
            owner: signed_in.user().login.as_str().to_owned(),
            client_id: None,
            client_secret: None,
            user_token_ttl: expiring.then_some(app::DEFAULT_USER_TOKEN_TTL),
        };
        app::register(
            &*state.store,
            spec,
            Some(signed_in.user()),
            &source,
            state.clock.now(),
        )
        .await
    }
    .await;
    let result = match outcome {
        Ok((app, secret)) => secret_page(&signed_in, "Application registered", &app, &secret),
        Err(Error::Invalid(errors)) => {
            let mut frame = signed_in.frame("developers", None);
            frame.error = Some(describe(&errors));
            let keep = |text: &str, max: usize| {
                if text.chars().count() <= max {
                    text.to_owned()
                } else {
                    String::new()
                }
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewAppPage {
                    base: signed_in.site.base.clone(),
                    frame,
                    github,
                    name: keep(name, MAX_NAME),
                    url: keep(url, MAX_URL),
                    callback_url: keep(callback_url, MAX_URL),
                    device_flow,
                    expiring,
                },
            )
        }
        Err(other) => Err(failed(&other)),
    };
    answer(&signed_in.site.base, result)
}

/// `POST /settings/developers/{client_id}/secret`: a new client secret, shown once, live
/// beside the one there is; with two live already, the page says to delete one first.
pub async fn new_secret(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "developers").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let added = app::add_owned_secret(
        &*state.store,
        signed_in.user(),
        &client_id,
        &source,
        state.clock.now(),
    )
    .await;
    let result = match added {
        Ok((app, secret)) => secret_page(&signed_in, "New client secret", &app, &secret),
        Err(Error::Invalid(errors)) => {
            developers_page(&state, &signed_in, None, Some(describe(&errors))).await
        }
        Err(other) => Err(failed(&other)),
    };
    answer(&signed_in.site.base, result)
}

/// `POST /settings/developers/{client_id}/secrets/{secret_id}/delete`: the secret stops
/// signing the app in at once. Another user's app or secret is the 404 page.
pub async fn delete_secret(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    Path((client_id, secret_id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "developers").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let id = secret_id.parse::<i64>().map_err(|_| not_found())?;
        app::delete_owned_secret(
            &*state.store,
            signed_in.user(),
            &client_id,
            ClientSecretId(id),
            &source,
            state.clock.now(),
        )
        .await
        .map_err(|e| failed(&e))?;
        Ok(signed_in.back_to("developers", "secret-deleted"))
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `POST /settings/developers/{client_id}/delete`: the app goes with every grant and token.
pub async fn delete_app(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "developers").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = app::delete_owned(
        &*state.store,
        signed_in.user(),
        &client_id,
        &source,
        state.clock.now(),
    )
    .await
    .map(|()| signed_in.back_to("developers", "app-deleted"))
    .map_err(|e| failed(&e));
    answer(&signed_in.site.base, result)
}
