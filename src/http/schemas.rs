//! The JSON shapes GitHub sends, one struct per component of GitHub's OpenAPI description
//! (`authorization`, `application-grant`). Field order follows the docs' examples.

use serde::Serialize;
use serde::ser::SerializeStruct;

use base64::Engine as _;

use super::docs;
use crate::domain::ClientId;
use crate::domain::account::{Account, AccountType, TokenScope};
use crate::domain::app_token::TokenRecord;
use crate::domain::authorization::Authorization as DomainAuthorization;
pub use crate::domain::clock::timestamp;
use crate::domain::grant::Grant as DomainGrant;
use crate::domain::token::PlainToken;
use crate::domain::user::User;

#[derive(Debug, Serialize)]
pub struct App {
    pub url: String,
    pub name: String,
    pub client_id: String,
}

impl App {
    fn of(authorization: &DomainAuthorization) -> Self {
        match &authorization.app {
            Some(app) => Self {
                url: app.url.clone(),
                name: app.name.clone(),
                client_id: app.client_id.to_string(),
            },
            // A personal access token has no app; GitHub shows a stand-in named after its note.
            None => Self {
                url: authorization
                    .note_url
                    .clone()
                    .unwrap_or_else(|| docs::PERSONAL_ACCESS_TOKENS.to_owned()),
                name: format!(
                    "{} (API)",
                    authorization.note.as_deref().unwrap_or_default()
                ),
                client_id: ClientId::PERSONAL.to_owned(),
            },
        }
    }
}

/// GitHub's `authorization`. Serialised field by field (see [`Authorization::write_fields`])
/// so that [`AppAuthorization`] can write the same fields inline: `#[serde(flatten)]` routes
/// every field through serde's map adapter, a third of a token check's serialising.
#[derive(Debug)]
pub struct Authorization {
    pub id: i64,
    pub url: String,
    pub scopes: Vec<String>,
    /// The token in clear in the response that creates it; `""` everywhere else.
    pub token: String,
    pub token_last_eight: String,
    pub hashed_token: String,
    pub app: App,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub updated_at: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub fingerprint: Option<String>,
}

/// How many fields [`Authorization::write_fields`] writes.
const AUTHORIZATION_FIELDS: usize = 13;

impl Authorization {
    fn write_fields<S: SerializeStruct>(&self, out: &mut S) -> Result<(), S::Error> {
        out.serialize_field("id", &self.id)?;
        out.serialize_field("url", &self.url)?;
        out.serialize_field("scopes", &self.scopes)?;
        out.serialize_field("token", &self.token)?;
        out.serialize_field("token_last_eight", &self.token_last_eight)?;
        out.serialize_field("hashed_token", &self.hashed_token)?;
        out.serialize_field("app", &self.app)?;
        out.serialize_field("note", &self.note)?;
        out.serialize_field("note_url", &self.note_url)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("expires_at", &self.expires_at)?;
        out.serialize_field("fingerprint", &self.fingerprint)
    }

    /// The JSON of an authorization as any read shows it: without the token.
    pub fn new(public_url: &str, authorization: &DomainAuthorization) -> Self {
        Self {
            id: authorization.id.0,
            url: format!("{public_url}/authorizations/{}", authorization.id),
            scopes: authorization.scopes.as_slice().to_vec(),
            token: String::new(),
            token_last_eight: authorization.token_last_eight.clone(),
            hashed_token: authorization.token_hash.to_hex(),
            app: App::of(authorization),
            note: authorization.note.clone(),
            note_url: authorization.note_url.clone(),
            updated_at: timestamp(authorization.updated_at),
            created_at: timestamp(authorization.created_at),
            expires_at: authorization.expires_at.map(timestamp),
            fingerprint: authorization.fingerprint.clone(),
        }
    }

    /// The JSON of a newly made authorization, the only one that carries its token.
    pub fn with_token(
        public_url: &str,
        authorization: &DomainAuthorization,
        token: &PlainToken,
    ) -> Self {
        Self {
            token: token.expose().to_owned(),
            ..Self::new(public_url, authorization)
        }
    }
}

impl Serialize for Authorization {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Authorization", AUTHORIZATION_FIELDS)?;
        self.write_fields(&mut out)?;
        out.end()
    }
}

#[derive(Debug, Serialize)]
pub struct Grant {
    pub id: i64,
    pub url: String,
    pub app: App,
    pub created_at: String,
    pub updated_at: String,
    pub scopes: Vec<String>,
}

impl Grant {
    pub fn new(public_url: &str, grant: &DomainGrant) -> Self {
        Self {
            id: grant.id.0,
            url: format!("{public_url}/applications/grants/{}", grant.id),
            app: App {
                url: grant.app.url.clone(),
                name: grant.app.name.clone(),
                client_id: grant.app.client_id.to_string(),
            },
            created_at: timestamp(grant.created_at),
            updated_at: timestamp(grant.updated_at),
            scopes: grant.scopes.as_slice().to_vec(),
        }
    }
}

/// The URLs of an account, built on the public URL as GitHub builds them on its API host.
/// `html_url` and avatars live on the web host: the pages' root (`super::web_root`).
struct AccountUrls<'a> {
    api: &'a str,
    web: &'a str,
}

impl<'a> AccountUrls<'a> {
    fn new(public_url: &'a str) -> Self {
        Self {
            api: public_url,
            web: super::web_root(public_url),
        }
    }
}

/// GitHub's legacy global node id (REST's `node_id`, GraphQL's `id`): base64 of "0", the
/// type name's length, ":", the type name and the id: `MDQ6VXNlcjE=` is "04:User1", an
/// organization's "012:Organization9919".
pub fn node_id(kind: &str, id: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// The avatar of an account: its id on the web host (see `web::profile`, which draws it).
pub fn avatar_url(public_url: &str, id: i64) -> String {
    format!("{}/avatars/u/{id}", AccountUrls::new(public_url).web)
}

/// The profile page of an account on the web host.
pub fn html_url(public_url: &str, login: &str) -> String {
    format!("{}/{login}", AccountUrls::new(public_url).web)
}

/// GitHub's `simple-user` (also what an organization looks like inside other objects).
///
/// Its eleven URLs are all made of the public URL and the login, so they are put together in
/// one reused buffer when the answer is serialised rather than built as strings first (a token
/// check shows one of these; formatting each URL on its own cost more than the lookup, and
/// serialising each from its parts with `collect_str` escaped every part separately).
#[derive(Debug)]
pub struct SimpleUser {
    /// The public URL (see [`AccountUrls`]).
    pub public_url: String,
    pub login: String,
    pub id: i64,
    pub kind: &'static str,
    pub site_admin: bool,
}

impl Serialize for SimpleUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("SimpleUser", SIMPLE_USER_FIELDS)?;
        self.write_fields(&mut out)?;
        out.end()
    }
}

/// How many fields [`SimpleUser::write_fields`] writes.
const SIMPLE_USER_FIELDS: usize = 18;

impl SimpleUser {
    /// The fields, for this struct and for those that show them inline ([`PrivateUser`]).
    fn write_fields<S: SerializeStruct>(&self, out: &mut S) -> Result<(), S::Error> {
        use std::fmt::Write as _;
        let urls = AccountUrls::new(&self.public_url);
        let (api, web, login, id, kind) = (urls.api, urls.web, &self.login, self.id, self.kind);
        let mut buffer = String::with_capacity(api.len() + login.len() + 48);
        let joined = |buffer: &mut String, parts: &[&str]| {
            buffer.clear();
            for part in parts {
                buffer.push_str(part);
            }
        };
        out.serialize_field("login", login)?;
        out.serialize_field("id", &id)?;
        out.serialize_field("node_id", &node_id(kind, id))?;
        let mut avatar = String::with_capacity(web.len() + 32);
        let _ = write!(avatar, "{web}/avatars/u/{id}");
        out.serialize_field("avatar_url", &avatar)?;
        out.serialize_field("gravatar_id", "")?;
        joined(&mut buffer, &[api, "/users/", login]);
        out.serialize_field("url", &buffer)?;
        joined(&mut buffer, &[web, "/", login]);
        out.serialize_field("html_url", &buffer)?;
        let user_urls = [
            ("followers_url", "/followers"),
            ("following_url", "/following{/other_user}"),
            ("gists_url", "/gists{/gist_id}"),
            ("starred_url", "/starred{/owner}{/repo}"),
            ("subscriptions_url", "/subscriptions"),
            ("organizations_url", "/orgs"),
            ("repos_url", "/repos"),
            ("events_url", "/events{/privacy}"),
            ("received_events_url", "/received_events"),
        ];
        for (field, path) in user_urls {
            joined(&mut buffer, &[api, "/users/", login, path]);
            out.serialize_field(field, &buffer)?;
        }
        out.serialize_field("type", kind)?;
        out.serialize_field("site_admin", &self.site_admin)
    }
}

impl SimpleUser {
    pub fn new(public_url: &str, account: &Account) -> Self {
        Self {
            public_url: public_url.to_owned(),
            login: account.login.as_str().to_owned(),
            id: account.id.0,
            kind: account.kind.as_str(),
            site_admin: account.site_admin,
        }
    }

    pub fn of_user(public_url: &str, user: &User) -> Self {
        Self {
            public_url: public_url.to_owned(),
            login: user.login.as_str().to_owned(),
            id: user.id.0,
            kind: AccountType::User.as_str(),
            site_admin: user.site_admin,
        }
    }
}

/// GitHub's `private-user`: what `GET /user` shows the user themself. grantd keeps no
/// profile, repositories, gists or followers, so those fields are null or zero.
#[derive(Debug)]
pub struct PrivateUser {
    pub simple: SimpleUser,
    pub name: Option<String>,
    pub company: Option<String>,
    pub blog: Option<String>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub hireable: Option<bool>,
    pub bio: Option<String>,
    pub twitter_username: Option<String>,
    pub public_repos: u32,
    pub public_gists: u32,
    pub followers: u32,
    pub following: u32,
    pub created_at: String,
    pub updated_at: String,
    pub private_gists: u32,
    pub total_private_repos: u32,
    pub owned_private_repos: u32,
    pub disk_usage: u32,
    pub collaborators: u32,
    pub two_factor_authentication: bool,
}

impl Serialize for PrivateUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PrivateUser", SIMPLE_USER_FIELDS + 20)?;
        self.simple.write_fields(&mut out)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("company", &self.company)?;
        out.serialize_field("blog", &self.blog)?;
        out.serialize_field("location", &self.location)?;
        out.serialize_field("email", &self.email)?;
        out.serialize_field("hireable", &self.hireable)?;
        out.serialize_field("bio", &self.bio)?;
        out.serialize_field("twitter_username", &self.twitter_username)?;
        out.serialize_field("public_repos", &self.public_repos)?;
        out.serialize_field("public_gists", &self.public_gists)?;
        out.serialize_field("followers", &self.followers)?;
        out.serialize_field("following", &self.following)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        out.serialize_field("private_gists", &self.private_gists)?;
        out.serialize_field("total_private_repos", &self.total_private_repos)?;
        out.serialize_field("owned_private_repos", &self.owned_private_repos)?;
        out.serialize_field("disk_usage", &self.disk_usage)?;
        out.serialize_field("collaborators", &self.collaborators)?;
        out.serialize_field("two_factor_authentication", &self.two_factor_authentication)?;
        out.end()
    }
}

impl PrivateUser {
    pub fn new(public_url: &str, user: &User) -> Self {
        Self {
            simple: SimpleUser::of_user(public_url, user),
            name: None,
            company: None,
            blog: None,
            location: None,
            email: user.email.clone(),
            hireable: None,
            bio: None,
            twitter_username: None,
            public_repos: 0,
            public_gists: 0,
            followers: 0,
            following: 0,
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
            private_gists: 0,
            total_private_repos: 0,
            owned_private_repos: 0,
            disk_usage: 0,
            collaborators: 0,
            two_factor_authentication: user.totp_secret.is_some(),
        }
    }
}

/// The `installation` of a scoped token: what it may reach.
#[derive(Debug, Serialize)]
pub struct Installation {
    pub permissions: serde_json::Map<String, serde_json::Value>,
    pub repository_selection: &'static str,
    pub single_file_name: Option<String>,
    pub has_multiple_single_files: bool,
    pub single_file_paths: Vec<String>,
    pub repositories_url: String,
    pub account: SimpleUser,
}

impl Installation {
    pub fn new(public_url: &str, scope: &TokenScope) -> Self {
        Self {
            permissions: scope
                .permissions
                .iter()
                .map(|(n, l)| (n.to_owned(), serde_json::Value::from(l)))
                .collect(),
            repository_selection: scope.repositories.as_str(),
            single_file_name: None,
            has_multiple_single_files: false,
            single_file_paths: Vec::new(),
            repositories_url: format!("{public_url}/user/repos"),
            account: SimpleUser::new(public_url, &scope.target),
        }
    }
}

/// An authorization as the app-side endpoints show it: with its user, and the installation
/// of a scoped token (`null` for others).
#[derive(Debug)]
pub struct AppAuthorization {
    pub authorization: Authorization,
    pub user: SimpleUser,
    pub installation: Option<Installation>,
}

impl Serialize for AppAuthorization {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("AppAuthorization", AUTHORIZATION_FIELDS + 2)?;
        self.authorization.write_fields(&mut out)?;
        out.serialize_field("user", &self.user)?;
        out.serialize_field("installation", &self.installation)?;
        out.end()
    }
}

impl AppAuthorization {
    /// `token` is the one the app sent (check) or the one just issued (reset, scoped).
    pub fn new(public_url: &str, record: &TokenRecord, token: &PlainToken) -> Self {
        let mut answer = Self::without_token(public_url, record);
        token.expose().clone_into(&mut answer.authorization.token);
        answer
    }

    /// The same with `token` empty (see `answers.rs`, which splices the token in).
    pub fn without_token(public_url: &str, record: &TokenRecord) -> Self {
        Self {
            authorization: Authorization::new(public_url, &record.authorization),
            user: SimpleUser::of_user(public_url, &record.user),
            installation: record
                .authorization
                .scoped_to
                .as_ref()
                .map(|scope| Installation::new(public_url, scope)),
        }
    }
}

/// GitHub's `public-user`: what `GET /users/{username}` shows anyone. grantd keeps no profile,
/// so those fields are null or zero; the email is shown to signed-in callers only, as GitHub
/// shows public emails.
#[derive(Debug)]
pub struct PublicUser {
    pub simple: SimpleUser,
    pub email: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PublicUser {
    pub fn new(public_url: &str, user: &User) -> Self {
        Self {
            simple: SimpleUser::of_user(public_url, user),
            email: user.email.clone(),
            created_at: timestamp(user.created_at),
            updated_at: timestamp(user.updated_at),
        }
    }
}

impl Serialize for PublicUser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PublicUser", SIMPLE_USER_FIELDS + 14)?;
        self.simple.write_fields(&mut out)?;
        let none: Option<&str> = None;
        out.serialize_field("name", &none)?;
        out.serialize_field("company", &none)?;
        out.serialize_field("blog", &none)?;
        out.serialize_field("location", &none)?;
        out.serialize_field("email", &self.email)?;
        out.serialize_field("hireable", &None::<bool>)?;
        out.serialize_field("bio", &none)?;
        out.serialize_field("twitter_username", &none)?;
        out.serialize_field("public_repos", &0)?;
        out.serialize_field("public_gists", &0)?;
        out.serialize_field("followers", &0)?;
        out.serialize_field("following", &0)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        out.end()
    }
}

/// GitHub's `email`: one of the user's addresses. grantd keeps one per user, confirmed by
/// whoever added it, and shown on the profile to signed-in callers.
#[derive(Debug, Serialize)]
pub struct Email {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
    pub visibility: Option<&'static str>,
}

impl Email {
    pub fn of_user(user: &User) -> Option<Self> {
        user.email.as_ref().map(|email| Self {
            email: email.clone(),
            primary: true,
            verified: true,
            visibility: Some("public"),
        })
    }
}

/// One limit of `GET /rate_limit` (GitHub's `rate-limit`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub reset: i64,
    pub used: u32,
}

impl From<&crate::domain::limits::RateLimitStatus> for RateLimit {
    fn from(status: &crate::domain::limits::RateLimitStatus) -> Self {
        Self {
            limit: status.limit,
            remaining: status.remaining(),
            reset: status.reset.unix_timestamp(),
            used: status.used,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RateLimitResources {
    pub core: RateLimit,
    pub graphql: RateLimit,
    pub search: RateLimit,
}

/// GitHub's `rate-limit-overview`: `rate` repeats `core`, for older clients.
#[derive(Debug, Serialize)]
pub struct RateLimitOverview {
    pub resources: RateLimitResources,
    pub rate: RateLimit,
}

/// GitHub's `api-overview` as a GitHub Enterprise Server answers it.
#[derive(Debug, Serialize)]
pub struct ApiOverview {
    pub verifiable_password_authentication: bool,
    pub installed_version: String,
}

/// GitHub's `root`: the API's URL templates (RFC 6570), built on the public URL as GitHub
/// builds them on its API host, the HTML ones on the web host.
pub fn root(public_url: &str) -> serde_json::Map<String, serde_json::Value> {
    let urls = AccountUrls::new(public_url);
    let (api, web) = (urls.api, urls.web);
    let api_urls: &[(&str, &str)] = &[
        ("current_user_url", "/user"),
        ("authorizations_url", "/authorizations"),
        (
            "code_search_url",
            "/search/code?q={query}{&page,per_page,sort,order}",
        ),
        (
            "commit_search_url",
            "/search/commits?q={query}{&page,per_page,sort,order}",
        ),
        ("emails_url", "/user/emails"),
        ("emojis_url", "/emojis"),
        ("events_url", "/events"),
        ("feeds_url", "/feeds"),
        ("followers_url", "/user/followers"),
        ("following_url", "/user/following{/target}"),
        ("gists_url", "/gists{/gist_id}"),
        ("hub_url", "/hub"),
        (
            "issue_search_url",
            "/search/issues?q={query}{&page,per_page,sort,order}",
        ),
        ("issues_url", "/issues"),
        ("keys_url", "/user/keys"),
        (
            "label_search_url",
            "/search/labels?q={query}&repository_id={repository_id}{&page,per_page}",
        ),
        ("notifications_url", "/notifications"),
        ("organization_url", "/orgs/{org}"),
        (
            "organization_repositories_url",
            "/orgs/{org}/repos{?type,page,per_page,sort}",
        ),
        ("organization_teams_url", "/orgs/{org}/teams"),
        ("public_gists_url", "/gists/public"),
        ("rate_limit_url", "/rate_limit"),
        ("repository_url", "/repos/{owner}/{repo}"),
        (
            "repository_search_url",
            "/search/repositories?q={query}{&page,per_page,sort,order}",
        ),
        (
            "current_user_repositories_url",
            "/user/repos{?type,page,per_page,sort}",
        ),
        ("starred_url", "/user/starred{/owner}{/repo}"),
        ("starred_gists_url", "/gists/starred"),
        (
            "topic_search_url",
            "/search/topics?q={query}{&page,per_page}",
        ),
        ("user_url", "/users/{user}"),
        ("user_organizations_url", "/user/orgs"),
        (
            "user_repositories_url",
            "/users/{user}/repos{?type,page,per_page,sort}",
        ),
        (
            "user_search_url",
            "/search/users?q={query}{&page,per_page,sort,order}",
        ),
    ];
    let mut root = serde_json::Map::new();
    root.insert("current_user_url".into(), format!("{api}/user").into());
    root.insert(
        "current_user_authorizations_html_url".into(),
        format!("{web}/settings/connections/applications{{/client_id}}").into(),
    );
    for (field, path) in api_urls {
        root.insert((*field).into(), format!("{api}{path}").into());
    }
    root
}
