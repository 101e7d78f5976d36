//! The app side of the token API: a richer seed (organizations, repositories, a second GitHub
//! App and one whose user tokens expire), requests made with an app's client credentials, and
//! the JSON shapes of `simple-user`, `private-user` and a scoped token's `installation`.

use base64::Engine as _;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::{
    ALICE, ANY_STRING, ANY_URL, App, DEFAULT_FIXTURE, Reply, RequestExt, TestServer, User,
    assert_json, assert_not_found, base62_6, error_body, merge, sha256_hex, str_of, token_of,
};

// ---------------------------------------------------------------------------------------------
// The app-side seed: the default one plus organizations, repositories and two GitHub Apps.
// ---------------------------------------------------------------------------------------------

/// A member of `octo-org`, and of nothing else.
pub const CAROL: User = User {
    login: "carol",
    password: "carol: purple monkey dishwasher",
};

/// An organization with a fixed id; alice and carol are members, bob is not.
pub const OCTO_ORG: &str = "octo-org";
pub const OCTO_ORG_ID: i64 = 4242;
/// bob's organization; alice is not a member.
pub const BOBS_ORG: &str = "bobs-org";

/// alice's repositories: one with a fixed id, one without.
pub const HELLO_WORLD_ID: i64 = 1_296_269;
/// octo-org's repository with a fixed id (it also owns `docs`, id generated).
pub const OCTO_REPO_ID: i64 = 9000;
/// bob's repository (not alice's).
pub const BOBS_REPO_ID: i64 = 7777;

/// A second GitHub App (owned by bob), for isolation between two apps that can both scope.
pub const OTHER_GITHUB_APP: App = App {
    name: "other github app",
    url: "https://other-github-app.example.net",
    client_id: "Iv1.a759093a036a884d",
    client_secret: "210d56e91dcd896ac55e8fb2d6361954febc7f6a",
    token_prefix: "ghu_",
};

/// A GitHub App whose user tokens expire after `EXPIRING_TTL_SECONDS`.
pub const EXPIRING_APP: App = App {
    name: "expiring github app",
    url: "https://expiring.example.com",
    client_id: "Iv1.00112233aabbccdd",
    client_secret: "9ff18b55616456880087089ef9b276f380803a02",
    token_prefix: "ghu_",
};
pub const EXPIRING_TTL_SECONDS: i64 = 3600;

const APPS_FIXTURE_EXTRA: &str = r#"
[[users]]
login = "carol"
password = "carol: purple monkey dishwasher"

[[orgs]]
login = "octo-org"
id = 4242
members = ["alice", "carol"]

[[orgs]]
login = "bobs-org"
members = ["bob"]

[[repos]]
owner = "alice"
name = "hello-world"
id = 1296269

[[repos]]
owner = "alice"
name = "Spoon-Knife"

[[repos]]
owner = "octo-org"
name = "octo-repo"
id = 9000

[[repos]]
owner = "octo-org"
name = "docs"

[[repos]]
owner = "bob"
name = "bobs-repo"
id = 7777

[[repos]]
owner = "bobs-org"
name = "bobs-org-repo"

[[apps]]
name = "other github app"
url = "https://other-github-app.example.net"
owner = "bob"
kind = "github"
client_id = "Iv1.a759093a036a884d"
client_secret = "210d56e91dcd896ac55e8fb2d6361954febc7f6a"

[[apps]]
name = "expiring github app"
url = "https://expiring.example.com"
owner = "alice"
kind = "github"
client_id = "Iv1.00112233aabbccdd"
client_secret = "9ff18b55616456880087089ef9b276f380803a02"
expire_user_tokens = true
user_token_ttl = "1h"
"#;

/// The default seed plus the app side's organizations, repositories and apps.
pub fn apps_fixture() -> String {
    format!("{DEFAULT_FIXTURE}{APPS_FIXTURE_EXTRA}")
}

// ---------------------------------------------------------------------------------------------
// Tokens that were never issued
// ---------------------------------------------------------------------------------------------

/// A well-formed token (valid checksum) that grantd never issued.
pub fn unissued_token(prefix: &str) -> String {
    let random = "N0tIssuedByGrantdN0tIssuedByGr";
    format!(
        "{prefix}{random}{}",
        base62_6(crc32fast::hash(random.as_bytes()))
    )
}

/// `token` with its last character changed, so that its checksum fails.
pub fn with_bad_checksum(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    let other = if last == "A" { "B" } else { "A" };
    format!("{head}{other}")
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

impl TestServer {
    /// A server seeded with `apps_fixture()`.
    pub async fn spawn_apps() -> Self {
        Self::spawn_seeded(&apps_fixture(), None).await
    }

    pub async fn spawn_apps_with_public_url(public_url: &str) -> Self {
        Self::spawn_seeded(&apps_fixture(), Some(public_url.to_owned())).await
    }

    /// A request authenticated as `app` (HTTP Basic `client_id:client_secret`).
    pub fn as_app(&self, method: Method, path: &str, app: &App) -> RequestBuilder {
        self.request(method, path)
            .basic_auth(app.client_id, Some(app.client_secret))
    }

    /// `METHOD /applications/{app's client_id}/{rest}` as `app`, with `{"access_token": token}`.
    pub async fn app_call(&self, method: Method, rest: &str, app: &App, token: &str) -> Reply {
        let path = format!("/applications/{}/{rest}", app.client_id);
        self.as_app(method, &path, app)
            .json(&json!({ "access_token": token }))
            .go()
            .await
    }

    /// Check: `POST /applications/{client_id}/token`.
    pub async fn check(&self, app: &App, token: &str) -> Reply {
        self.app_call(Method::POST, "token", app, token).await
    }

    /// Reset: `PATCH /applications/{client_id}/token`.
    pub async fn reset(&self, app: &App, token: &str) -> Reply {
        self.app_call(Method::PATCH, "token", app, token).await
    }

    /// Revoke: `DELETE /applications/{client_id}/token`.
    pub async fn revoke(&self, app: &App, token: &str) -> Reply {
        self.app_call(Method::DELETE, "token", app, token).await
    }

    /// Delete the grant: `DELETE /applications/{client_id}/grant`.
    pub async fn delete_app_grant(&self, app: &App, token: &str) -> Reply {
        self.app_call(Method::DELETE, "grant", app, token).await
    }

    /// Scope: `POST /applications/{client_id}/token/scoped` with `body` as it is.
    pub async fn scope(&self, app: &App, body: Value) -> Reply {
        let path = format!("/applications/{}/token/scoped", app.client_id);
        self.as_app(Method::POST, &path, app).json(&body).go().await
    }

    /// Scopes `token` with `extra` merged into the body; asserts 200 and returns the body and
    /// the new token.
    pub async fn scoped_token(&self, app: &App, token: &str, extra: Value) -> (Value, String) {
        let body = merge(json!({ "access_token": token }), extra);
        let reply = self.scope(app, body.clone()).await;
        assert_eq!(reply.status, 200, "scoping with {body}: {}", reply.body);
        let scoped = reply.json();
        let new = token_of(&scoped, app.token_prefix);
        (scoped, new)
    }

    /// `GET /user` with `Authorization: token …`.
    pub async fn get_user(&self, token: &str) -> Reply {
        self.get("/user")
            .header("Authorization", format!("token {token}"))
            .go()
            .await
    }

    /// Creates an authorization of `app` for `user` (POST /authorizations); returns the 201 body
    /// and its token.
    pub async fn new_token(&self, user: &User, app: &App, extra: Value) -> (Value, String) {
        let body = self.create_app_authorization(user, app, extra).await;
        let token = token_of(&body, app.token_prefix);
        (body, token)
    }

    /// alice's token of `app`, with no scopes, note or fingerprint.
    pub async fn alice_token(&self, app: &App) -> (Value, String) {
        self.new_token(&ALICE, app, json!({})).await
    }

    // --- ground truth ----------------------------------------------------------------------

    pub fn store(&self) -> &dyn grantd::store::Store {
        self.store.as_deref().expect("the server is running")
    }

    /// Every row of the database, as `grantd export` writes it.
    pub async fn export(&self) -> Value {
        self.store().export().await.expect("export")
    }

    /// The id of the user or organization `login`.
    pub async fn account_id(&self, login: &str) -> i64 {
        let account = grantd::domain::account::AccountRef::Login(login.to_owned());
        let found = self.store().find_account(&account).await.expect("store");
        found.unwrap_or_else(|| panic!("no account {login}")).id.0
    }

    /// The id of the repository `owner/name`.
    pub async fn repo_id(&self, owner: &str, name: &str) -> i64 {
        let account = grantd::domain::account::AccountRef::Login(owner.to_owned());
        let owner_id = self.store().find_account(&account).await.expect("store");
        let owner_id = owner_id.unwrap_or_else(|| panic!("no account {owner}")).id;
        let repos = self
            .store()
            .list_repositories(owner_id)
            .await
            .expect("store");
        repos
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"))
            .id
            .0
    }

    // --- expected bodies -------------------------------------------------------------------

    /// The web host: the public URL without a trailing `/api/v3`.
    pub fn web(&self) -> String {
        let api = self.public("");
        api.strip_suffix("/api/v3").unwrap_or(&api).to_owned()
    }

    /// GitHub's `simple-user` of an account; `kind` is `User` or `Organization`. `avatar_url`
    /// is left open here and checked by `assert_avatar`.
    pub fn simple_account(&self, login: &str, id: i64, kind: &str) -> Value {
        let api = self.public("");
        let web = self.web();
        let users = format!("{api}/users/{login}");
        json!({
            "login": login,
            "id": id,
            "node_id": node_id(kind, id),
            "avatar_url": ANY_URL,
            "gravatar_id": "",
            "url": users,
            "html_url": format!("{web}/{login}"),
            "followers_url": format!("{users}/followers"),
            "following_url": format!("{users}/following{{/other_user}}"),
            "gists_url": format!("{users}/gists{{/gist_id}}"),
            "starred_url": format!("{users}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{users}/subscriptions"),
            "organizations_url": format!("{users}/orgs"),
            "repos_url": format!("{users}/repos"),
            "events_url": format!("{users}/events{{/privacy}}"),
            "received_events_url": format!("{users}/received_events"),
            "type": kind,
            "site_admin": false,
        })
    }

    /// The `simple-user` of the user `login`, with its id read from the store.
    pub async fn simple_user(&self, login: &str) -> Value {
        self.simple_account(login, self.account_id(login).await, "User")
    }

    /// GitHub's `private-user` as grantd knows it: no profile, repository or follower data.
    pub async fn private_user(&self, login: &str, email: Value, two_factor: bool) -> Value {
        merge(
            self.simple_user(login).await,
            json!({
                "name": null,
                "company": null,
                "blog": null,
                "location": null,
                "email": email,
                "hireable": null,
                "bio": null,
                "twitter_username": null,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": super::TIMESTAMP,
                "updated_at": super::TIMESTAMP,
                "private_gists": 0,
                "total_private_repos": 0,
                "owned_private_repos": 0,
                "disk_usage": 0,
                "collaborators": 0,
                "two_factor_authentication": two_factor,
            }),
        )
    }

    /// A scoped token's `installation`.
    pub fn installation(&self, permissions: Value, selection: &str, account: Value) -> Value {
        json!({
            "permissions": permissions,
            "repository_selection": selection,
            "single_file_name": null,
            "has_multiple_single_files": false,
            "single_file_paths": [],
            "repositories_url": self.public("/user/repos"),
            "account": account,
        })
    }

    /// `assert_json`, plus the avatar URLs of the body's `user` and installation `account`.
    #[track_caller]
    pub fn assert_app_body(&self, actual: &Value, expected: &Value) {
        assert_json(actual, expected);
        self.assert_avatar(&actual["user"]);
        if actual["installation"].is_object() {
            self.assert_avatar(&actual["installation"]["account"]);
        }
    }

    /// An avatar lives on the web host (the public URL without `/api/v3`).
    #[track_caller]
    pub fn assert_avatar(&self, account: &Value) {
        let avatar = str_of(account, "avatar_url");
        let web = format!("{}/", self.web());
        assert!(
            avatar.starts_with(&web),
            "avatar_url {avatar:?} is not on the web host {web:?}"
        );
        if self.public("").ends_with("/api/v3") {
            assert!(
                !avatar.contains("/api/v3"),
                "avatar_url {avatar:?} is on the API path"
            );
        }
    }

    // --- token liveness --------------------------------------------------------------------

    /// `token` is live: the app's check finds it (for `login`) and `GET /user` accepts it.
    pub async fn assert_token_works(&self, app: &App, token: &str, login: &str) {
        let reply = self.check(app, token).await;
        assert_eq!(reply.status, 200, "check of {token}: {}", reply.body);
        let body = reply.json();
        assert_eq!(body["token"], token, "check echoes the token sent");
        assert_eq!(body["user"]["login"], login, "check of {token}");
        let reply = self.get_user(token).await;
        assert_eq!(reply.status, 200, "GET /user with {token}: {}", reply.body);
        assert_eq!(reply.json()["login"], login, "GET /user with {token}");
    }

    /// `token` is dead: 404 to the app's check and 401 "Bad credentials" to `GET /user`.
    pub async fn assert_token_is_gone(&self, app: &App, token: &str) {
        let reply = self.check(app, token).await;
        assert_eq!(reply.status, 404, "check of {token}: {}", reply.body);
        assert_not_found(&reply);
        assert_bad_credentials(&self.get_user(token).await);
    }
}

/// What the app side shows of the authorization `authz` (a create response, or an expected
/// authorization) when `token` is its token: the authorization with that token in clear,
/// its `user` and its `installation`.
pub fn app_authorization(authz: &Value, token: &str, user: Value, installation: Value) -> Value {
    merge(
        authz.clone(),
        json!({
            "token": token,
            "token_last_eight": &token[token.len() - 8..],
            "hashed_token": sha256_hex(token),
            "user": user,
            "installation": installation,
        }),
    )
}

/// GitHub's legacy global node id: base64 of `0<length of kind>:<kind><id>` (`04:User1`,
/// `012:Organization2`).
pub fn node_id(kind: &str, id: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

#[track_caller]
pub fn assert_bad_credentials(reply: &Reply) {
    let body = reply.expect_status(401);
    assert_json(&body, &error_body(401, "Bad credentials"));
}

#[track_caller]
pub fn assert_requires_authentication(reply: &Reply) {
    let body = reply.expect_status(401);
    assert_json(&body, &error_body(401, "Requires authentication"));
}

/// Asserts a 422 "Validation Failed" with one error, on one of `fields` (the docs name the
/// field but not always the code); returns that error entry for further checks.
#[track_caller]
pub fn assert_invalid_field(reply: &Reply, fields: &[&str]) -> Value {
    let body = reply.expect_status(422);
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a 422 without errors: {body}"));
    assert_eq!(errors.len(), 1, "one error expected: {body}");
    let error = errors[0].clone();
    let field = str_of(&error, "field");
    assert!(
        fields.contains(&field),
        "the error is on {field:?}, expected one of {fields:?}: {body}"
    );
    let mut expected_error = json!({ "resource": ANY_STRING, "field": field, "code": ANY_STRING });
    if error.get("message").is_some() {
        expected_error["message"] = json!(ANY_STRING);
    }
    assert_json(
        &body,
        &json!({
            "message": "Validation Failed",
            "documentation_url": ANY_URL,
            "status": "422",
            "errors": [expected_error],
        }),
    );
    error
}
