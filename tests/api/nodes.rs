//! Several grantd nodes on one database: PostgreSQL when the suite runs on it (the deployment
//! this exists for), one SQLite file otherwise. Nothing that decides whether a token or a
//! browser session is valid is cached in a node, so what one node does, the other sees at once.

use serde_json::{Value, json};

use crate::signin::{browser, location, set_cookie, token_of};
use crate::support::{
    ALICE, BOB, DEFAULT_FIXTURE, OAUTH_APP, OTHER_APP, ServerProcess, fresh_database_url, grantd,
    write_file,
};

struct Cluster {
    _dir: tempfile::TempDir,
    db: String,
    a: ServerProcess,
    b: ServerProcess,
    client: reqwest::Client,
}

/// Two `grantd serve` processes on one fresh database; `a` loads the default fixture.
async fn two_nodes(flags: &[&str]) -> Cluster {
    two_nodes_seeded(DEFAULT_FIXTURE, flags).await
}

/// Two `grantd serve` processes on one fresh database; `a` loads `fixture`.
async fn two_nodes_seeded(fixture: &str, flags: &[&str]) -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", fixture);
    let mut with_seed = vec!["--seed", seed.to_str().expect("utf-8 path")];
    with_seed.extend_from_slice(flags);
    let a = ServerProcess::start(&db, &with_seed, &dir.path().join("a.log"));
    let b = ServerProcess::start(&db, flags, &dir.path().join("b.log"));
    Cluster {
        _dir: dir,
        db,
        a,
        b,
        client: reqwest::Client::new(),
    }
}

impl Cluster {
    async fn call(
        &self,
        node: &ServerProcess,
        method: reqwest::Method,
        path: &str,
        auth: (&str, &str),
        body: Option<Value>,
    ) -> (u16, Value) {
        node.send(&self.client, method, path, auth, body).await
    }

    /// A check of `token` by OAUTH_APP through `node`, to send as the caller likes.
    fn check_request(&self, node: &ServerProcess, token: &str) -> reqwest::RequestBuilder {
        self.client
            .post(node.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
            .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
            .json(&json!({ "access_token": token }))
    }

    async fn check(&self, node: &ServerProcess, token: &str) -> u16 {
        let reply = self
            .check_request(node, token)
            .send()
            .await
            .expect("the node answers");
        reply.status().as_u16()
    }

    async fn use_token(&self, node: &ServerProcess, token: &str) -> u16 {
        let reply = self
            .client
            .get(node.url("/user"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the node answers");
        reply.status().as_u16()
    }
}

fn alice() -> (&'static str, &'static str) {
    (ALICE.login, ALICE.password)
}

fn token(body: &Value) -> String {
    body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn tokens_made_reset_and_revoked_on_one_node_act_at_once_on_the_other() {
    let nodes = two_nodes(&[]).await;
    let (a, b) = (&nodes.a, &nodes.b);
    let path = format!("/authorizations/clients/{}/two-nodes", OAUTH_APP.client_id);
    let (status, created) = nodes
        .call(
            a,
            reqwest::Method::PUT,
            &path,
            alice(),
            Some(json!({ "client_secret": OAUTH_APP.client_secret })),
        )
        .await;
    assert_eq!(status, 201);
    let first = token(&created);
    // Made through A, checked and used through B.
    assert_eq!(nodes.check(b, &first).await, 200);
    assert_eq!(nodes.use_token(b, &first).await, 200);

    // Reset through A: the old token fails through B at once, the new one works there.
    let reset = format!("/applications/{}/token", OAUTH_APP.client_id);
    let app = (OAUTH_APP.client_id, OAUTH_APP.client_secret);
    let (status, body) = nodes
        .call(
            a,
            reqwest::Method::PATCH,
            &reset,
            app,
            Some(json!({ "access_token": first })),
        )
        .await;
    assert_eq!(status, 200);
    let second = token(&body);
    assert_eq!(nodes.check(b, &first).await, 404);
    assert_eq!(nodes.use_token(b, &first).await, 401);
    assert_eq!(nodes.check(b, &second).await, 200);

    // The grant deleted through B: the token fails through A at once.
    let grant = format!("/applications/{}/grant", OAUTH_APP.client_id);
    let (status, _) = nodes
        .call(
            b,
            reqwest::Method::DELETE,
            &grant,
            app,
            Some(json!({ "access_token": second })),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(nodes.use_token(a, &second).await, 401);
    assert_eq!(nodes.check(a, &second).await, 404);
    let (status, grants) = nodes
        .call(
            a,
            reqwest::Method::GET,
            "/applications/grants",
            alice(),
            None,
        )
        .await;
    assert_eq!((status, grants), (200, json!([])));
}

/// One check or token use of [`many_at_once`] and what it must answer.
struct Expected {
    token: String,
    /// The authorization a check answers with; `None` for 404 (and 401 on `/user`).
    id: Option<i64>,
}

/// Sends a check and a `GET /user` for every token at once, `rounds` times over, to `node`, and
/// asserts each answer is the one for its own token. On PostgreSQL concurrent lookups share
/// batch queries, so this holds only if every answer reaches the lookup that asked for it.
async fn many_at_once(nodes: &Cluster, node: &ServerProcess, expected: &[Expected], rounds: usize) {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..rounds {
        for (index, case) in expected.iter().enumerate() {
            let check = nodes.check_request(node, &case.token);
            let user = nodes.client.get(node.url("/user")).bearer_auth(&case.token);
            requests.spawn(async move {
                let check = check.send().await.expect("the node answers");
                let status = check.status().as_u16();
                let body: Value = check.json().await.unwrap_or_default();
                let user = user
                    .send()
                    .await
                    .expect("the node answers")
                    .status()
                    .as_u16();
                (index, status, body["id"].as_i64(), user)
            });
        }
    }
    let mut answered = 0;
    while let Some(answer) = requests.join_next().await {
        let (index, status, id, user) = answer.expect("the request task");
        let case = &expected[index];
        match case.id {
            Some(want) => assert_eq!((status, id, user), (200, Some(want), 200), "token {index}"),
            None => assert_eq!((status, user), (404, 401), "token {index}"),
        }
        answered += 1;
    }
    assert_eq!(answered, rounds * expected.len());
}

#[tokio::test]
async fn concurrent_checks_each_get_their_own_answer_and_see_revocations_at_once() {
    let nodes = two_nodes(&[]).await;
    let (a, b) = (&nodes.a, &nodes.b);
    let mut expected = Vec::new();
    for (user, app, count) in [
        (alice(), &OAUTH_APP, 8),
        ((BOB.login, BOB.password), &OTHER_APP, 3),
    ] {
        for n in 0..count {
            let path = format!("/authorizations/clients/{}/concurrent-{n}", app.client_id);
            let body = json!({ "client_secret": app.client_secret });
            let (status, created) = nodes
                .call(a, reqwest::Method::PUT, &path, user, Some(body))
                .await;
            assert_eq!(status, 201);
            // Checked with OAUTH_APP's credentials: another app's token is not found.
            let id = created["id"]
                .as_i64()
                .filter(|_| app.client_id == OAUTH_APP.client_id);
            expected.push(Expected {
                token: token(&created),
                id,
            });
        }
    }
    // Bob's tokens (another app's) are left to the last pass: the check refuses them, but
    // `/user` accepts them.
    many_at_once(&nodes, b, &expected[..8], 6).await;

    // Revoked through A, half of them fail through B at once, whatever batch they share.
    let app = (OAUTH_APP.client_id, OAUTH_APP.client_secret);
    let path = format!("/applications/{}/token", OAUTH_APP.client_id);
    for case in expected.iter_mut().take(8).step_by(2) {
        let body = json!({ "access_token": case.token });
        let (status, _) = nodes
            .call(a, reqwest::Method::DELETE, &path, app, Some(body))
            .await;
        assert_eq!(status, 204);
        case.id = None;
    }
    many_at_once(&nodes, b, &expected[..8], 6).await;

    // Another app's tokens, mixed in, never answer for this app; nor do malformed ones, whose
    // checks look up the app alone (on PostgreSQL in the same batches, with no token).
    let mut checks = tokio::task::JoinSet::new();
    for round in 0..20 {
        let malformed = format!("gho_malformed{round}");
        let other_app = &expected[8 + round % 3].token;
        let live = &expected[1 + 2 * (round % 4)].token;
        for token in [&malformed, other_app, live] {
            let request = nodes.check_request(b, token);
            checks.spawn(async move {
                request
                    .send()
                    .await
                    .expect("the node answers")
                    .status()
                    .as_u16()
            });
        }
    }
    let mut statuses = Vec::new();
    while let Some(status) = checks.join_next().await {
        statuses.push(status.expect("the request task"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [vec![200; 20], vec![404; 40]].concat());
}

/// Nodes merge their counters with the database every `--counter-sync-interval`; these tests
/// use a short one.
const SYNC: &str = "100ms";

impl Cluster {
    /// Waits until both nodes count `used` of alice's requests (`GET /rate_limit`, which
    /// counts none itself): each has merged its counters with the other's.
    async fn wait_until_both_count(&self, used: u64) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        for node in [&self.a, &self.b] {
            loop {
                let (status, body) = self
                    .call(node, reqwest::Method::GET, "/rate_limit", alice(), None)
                    .await;
                assert_eq!(status, 200, "{body}");
                if body["rate"]["used"] == used {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the nodes did not merge their counts within 10 s: {body}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// Issue 18, item 4: failed sign-ins are counted in the database as they happen, so the
/// lockout is one limit for the whole deployment at once, however long the nodes go without
/// merging their (request) counters.
#[tokio::test]
async fn failed_sign_ins_through_both_nodes_count_together_at_once() {
    let nodes = two_nodes(&["--login-attempts", "4", "--counter-sync-interval", "1h"]).await;
    let wrong = (ALICE.login, "not the password");
    for node in [&nodes.a, &nodes.b, &nodes.a, &nodes.a] {
        let (status, body) = nodes
            .call(node, reqwest::Method::GET, "/authorizations", wrong, None)
            .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (401, Some("Bad credentials"))
        );
    }
    // Four failures, three of them through A: B refuses even the right password, at once.
    for node in [&nodes.b, &nodes.a] {
        let (status, body) = nodes
            .call(node, reqwest::Method::GET, "/authorizations", alice(), None)
            .await;
        assert_eq!(status, 403);
        assert_eq!(
            body["message"],
            "Maximum number of login attempts exceeded. Please try again later."
        );
    }
    // `grantd user unlock` ends it on every node, at once.
    let unlocked = grantd(&["user", "unlock", ALICE.login, "--db", &nodes.db], None);
    assert!(unlocked.status.success(), "{unlocked:?}");
    for node in [&nodes.b, &nodes.a] {
        let (status, _) = nodes
            .call(node, reqwest::Method::GET, "/authorizations", alice(), None)
            .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn rate_limits_count_the_requests_of_both_nodes() {
    let nodes = two_nodes(&["--rate-limit", "3", "--counter-sync-interval", SYNC]).await;
    for (used, node) in (1..).zip([&nodes.a, &nodes.b, &nodes.a]) {
        assert_eq!(
            nodes
                .call(node, reqwest::Method::GET, "/authorizations", alice(), None)
                .await
                .0,
            200
        );
        nodes.wait_until_both_count(used).await;
    }
    let (status, body) = nodes
        .call(
            &nodes.b,
            reqwest::Method::GET,
            "/authorizations",
            alice(),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API rate limit exceeded for user ID"))
    );
}

/// A suspension (`grantd user suspend`, the same store call as the API's) stops the user's
/// tokens on every node at once, even where the token was just checked and used; lifting it
/// brings them back everywhere.
#[tokio::test]
async fn a_suspension_stops_the_users_tokens_on_every_node_at_once() {
    let nodes = two_nodes(&[]).await;
    let path = format!("/authorizations/clients/{}/suspension", OAUTH_APP.client_id);
    let (status, created) = nodes
        .call(
            &nodes.a,
            reqwest::Method::PUT,
            &path,
            alice(),
            Some(json!({ "client_secret": OAUTH_APP.client_secret })),
        )
        .await;
    assert_eq!(status, 201);
    let token = token(&created);
    for node in [&nodes.a, &nodes.b, &nodes.a, &nodes.b] {
        assert_eq!(nodes.check(node, &token).await, 200);
        assert_eq!(nodes.use_token(node, &token).await, 200);
    }
    let run = |verb: &str| grantd(&["user", verb, ALICE.login, "--db", &nodes.db], None);
    let suspended = run("suspend");
    assert!(suspended.status.success(), "{suspended:?}");
    for node in [&nodes.b, &nodes.a] {
        assert_eq!(nodes.check(node, &token).await, 404);
        assert_eq!(nodes.use_token(node, &token).await, 401);
    }
    let unsuspended = run("unsuspend");
    assert!(unsuspended.status.success(), "{unsuspended:?}");
    for node in [&nodes.b, &nodes.a] {
        assert_eq!(nodes.check(node, &token).await, 200);
        assert_eq!(nodes.use_token(node, &token).await, 200);
    }
}

/// Posts `alice`'s sign-in form on `node` as a browser does (the form's token first).
async fn sign_in_on(node: &ServerProcess) -> reqwest::Response {
    let jar = browser();
    let form = jar
        .get(node.url("/login"))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(form.status(), 200);
    let token = token_of(&form.text().await.expect("the sign-in page"));
    jar.post(node.url("/session"))
        .form(&[
            ("login", ALICE.login),
            ("password", ALICE.password),
            ("authenticity_token", token.as_str()),
            ("return_to", ""),
        ])
        .send()
        .await
        .expect("POST /session")
}

/// Signs `alice` in on `node` and returns the value of the `user_session` cookie she got.
async fn browser_session(node: &ServerProcess) -> String {
    let signed_in = sign_in_on(node).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = set_cookie(&signed_in, "user_session").expect("a session cookie");
    let pair = cookie.split(';').next().expect("name=value");
    pair.split_once('=').expect("name=value").1.to_owned()
}

/// A browser without a cookie jar that follows no redirect: each request carries the session
/// cookie by hand, so that it says which node it goes to, and a 303 is seen as one.
fn pages() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET /settings/tokens` on `node` with only the session cookie: the status, the `Location`
/// if any, and the page.
async fn settings_page(node: &ServerProcess, session: &str) -> (u16, Option<String>, String) {
    let reply = pages()
        .get(node.url("/settings/tokens"))
        .header("cookie", format!("user_session={session}"))
        .send()
        .await
        .expect("the node answers");
    let status = reply.status().as_u16();
    let to = (status == 303).then(|| location(&reply).to_owned());
    (status, to, reply.text().await.expect("the page"))
}

/// What a signed-out browser gets from `/settings/tokens`: sent to sign in, and back.
const TO_SIGN_IN: &str = "/login?return_to=%2Fsettings%2Ftokens";

#[tokio::test]
async fn a_browser_session_made_on_one_node_is_accepted_on_the_other_and_ends_on_both() {
    let nodes = two_nodes(&[]).await;
    let (a, b) = (&nodes.a, &nodes.b);
    let session = browser_session(a).await;
    for node in [b, a] {
        let (status, _, html) = settings_page(node, &session).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Signed in as <strong>alice</strong>"),
            "{html}"
        );
    }

    // Signed out on B, with the form's token of B's page: A refuses the cookie at once.
    let (_, _, html) = settings_page(b, &session).await;
    let signed_out = pages()
        .post(b.url("/logout"))
        .header("cookie", format!("user_session={session}"))
        .form(&[("authenticity_token", token_of(&html).as_str())])
        .send()
        .await
        .expect("the node answers");
    assert_eq!(signed_out.status(), 303);
    assert_eq!(location(&signed_out), "/login");
    for node in [a, b] {
        let (status, to, _) = settings_page(node, &session).await;
        assert_eq!((status, to.as_deref()), (303, Some(TO_SIGN_IN)));
    }
}

#[tokio::test]
async fn a_session_of_a_user_suspended_through_one_node_is_refused_on_the_other() {
    let fixture = DEFAULT_FIXTURE.replace(
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"",
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"\nsite_admin = true",
    );
    assert_ne!(fixture, DEFAULT_FIXTURE);
    let nodes = two_nodes_seeded(&fixture, &[]).await;
    let (a, b) = (&nodes.a, &nodes.b);
    let (status, created) = nodes
        .call(
            a,
            reqwest::Method::POST,
            "/authorizations",
            (BOB.login, BOB.password),
            Some(json!({ "note": "suspend alice", "scopes": ["site_admin"] })),
        )
        .await;
    assert_eq!(status, 201);
    let admin = token(&created);
    // Made on A and used on B first, so B has seen the session alive.
    let session = browser_session(a).await;
    assert_eq!(settings_page(b, &session).await.0, 200);

    let suspended = nodes
        .client
        .put(a.url("/users/alice/suspended"))
        .header("authorization", format!("token {admin}"))
        .json(&json!({ "reason": "two nodes" }))
        .send()
        .await
        .expect("the node answers");
    assert_eq!(suspended.status(), 204);
    for node in [b, a] {
        let (status, to, _) = settings_page(node, &session).await;
        assert_eq!((status, to.as_deref()), (303, Some(TO_SIGN_IN)));
    }
    // Nor can she sign in again on B.
    let refused = sign_in_on(b).await;
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.expect("the sign-in page");
    assert!(page.contains("Your account is suspended."), "{page}");
}
