//! GraphQL at `POST /api/graphql` and `POST /graphql`: `viewer`, `user(login:)` and
//! `rateLimit` for a token, REST's authentication with GraphQL's docs link, the caller's own
//! GraphQL limit, and GitHub's error shapes for unknown fields, syntax errors, missing users
//! and queries too deep.

use serde_json::{Value, json};

use crate::support::{
    ALICE, BOB, GITHUB_APP, OAUTH_APP, OCTO_ORG, Reply, RequestExt, TestServer, assert_json,
    node_id,
};

const DOCS: &str = "https://docs.github.com/graphql";

async fn query_as(srv: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    srv.post(path)
        .header("Authorization", format!("bearer {token}"))
        .json(&body)
        .go()
        .await
}

async fn query(srv: &TestServer, token: &str, text: &str) -> Reply {
    query_as(srv, "/api/graphql", token, json!({ "query": text })).await
}

const VIEWER: &str = "query { viewer { login id databaseId name email createdAt \
                      organizations(first: 10) { nodes { login } totalCount } } }";

#[tokio::test]
async fn viewer_is_the_tokens_user_at_both_paths() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv
        .new_token(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo", "read:org"] }),
        )
        .await;
    let id = srv.account_id("alice").await;
    for path in ["/api/graphql", "/graphql", "/api/v3/graphql"] {
        let reply = query_as(&srv, path, &token, json!({ "query": VIEWER })).await;
        let body = reply.expect_status(200);
        assert_json(
            &body,
            &json!({ "data": { "viewer": {
                "login": "alice",
                "id": node_id("User", id),
                "databaseId": id,
                "name": null,
                "email": "alice@example.com",
                "createdAt": crate::support::TIMESTAMP,
                "organizations": { "nodes": [{ "login": OCTO_ORG }], "totalCount": 1 },
            }}}),
        );
        assert_eq!(
            reply.header("X-OAuth-Scopes").as_deref(),
            Some("repo, read:org")
        );
        assert_eq!(
            reply.header("X-RateLimit-Resource").as_deref(),
            Some("graphql")
        );
        assert_eq!(
            reply.header("X-GitHub-Enterprise-Version").as_deref(),
            Some("3.19.0")
        );
    }
    // The same node id REST shows.
    let user = srv.get_user(&token).await.expect_status(200);
    let body = query(&srv, &token, "{ viewer { id } }")
        .await
        .expect_status(200);
    assert_eq!(body["data"]["viewer"]["id"], user["node_id"]);
}

#[tokio::test]
async fn a_user_is_found_by_login_and_an_unknown_one_is_githubs_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let bob = srv.account_id("bob").await;
    let body = query(
        &srv,
        &token,
        "{ user(login: \"BOB\") { login databaseId email organizations(first: 5) { nodes { login } } } }",
    )
    .await
    .expect_status(200);
    // Another user's memberships are not shown (GitHub's are private by default).
    assert_json(
        &body,
        &json!({ "data": { "user": {
            "login": "bob", "databaseId": bob, "email": "", "organizations": { "nodes": [] },
        }}}),
    );
    let body = query(&srv, &token, "{ user(login: \"nobody\") { login } }")
        .await
        .expect_status(200);
    assert_json(
        &body,
        &json!({
            "data": { "user": null },
            "errors": [{
                "type": "NOT_FOUND",
                "path": ["user"],
                "locations": [{ "line": 1, "column": 3 }],
                "message": "Could not resolve to a User with the login of 'nobody'.",
            }],
        }),
    );
}

#[tokio::test]
async fn organizations_are_paginated_as_githubs_connections() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let body = query(
        &srv,
        &token,
        "{ viewer { organizations(first: 1) { edges { cursor node { login databaseId id } } \
         pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }",
    )
    .await
    .expect_status(200);
    let org_id = srv.account_id(OCTO_ORG).await;
    let connection = &body["data"]["viewer"]["organizations"];
    assert_eq!(
        connection["edges"][0]["node"],
        json!({ "login": OCTO_ORG, "databaseId": org_id, "id": node_id("Organization", org_id) })
    );
    assert_eq!(connection["pageInfo"]["hasNextPage"], false);
    assert_eq!(connection["pageInfo"]["hasPreviousPage"], false);
    let cursor = connection["edges"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(connection["pageInfo"]["endCursor"], cursor);
    let after = query_as(
        &srv,
        "/graphql",
        &token,
        json!({
            "query": "query($after: String) { viewer { organizations(first: 1, after: $after) { nodes { login } } } }",
            "variables": { "after": cursor },
        }),
    )
    .await
    .expect_status(200);
    assert_eq!(after["data"]["viewer"]["organizations"]["nodes"], json!([]));

    // GitHub's bounds on first/last.
    for (arguments, kind, message) in [
        (
            "",
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `organizations` connection.",
        ),
        (
            "(first: 101)",
            "EXCESSIVE_PAGINATION",
            "Requesting 101 records on the `organizations` connection exceeds the `first` limit of 100 records.",
        ),
        (
            "(last: -1)",
            "EXCESSIVE_PAGINATION",
            "Requesting -1 records on the `organizations` connection exceeds the `last` limit of 100 records.",
        ),
    ] {
        let text = format!("{{ viewer {{ organizations{arguments} {{ totalCount }} }} }}");
        let body = query(&srv, &token, &text).await.expect_status(200);
        // The connection is non-null, so its `viewer` is null (GitHub nulls `data` itself).
        assert_json(
            &body,
            &json!({
                "data": { "viewer": null },
                "errors": [{
                    "type": kind,
                    "path": ["viewer", "organizations"],
                    "locations": [{ "line": 1, "column": 12 }],
                    "message": message,
                }],
            }),
        );
    }
}

#[tokio::test]
async fn rate_limit_is_the_callers_graphql_limit_one_point_a_query() {
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let text = "{ rateLimit { limit remaining used cost resetAt nodeCount } }";
    for used in 1..=2 {
        let reply = query(&srv, &token, text).await;
        let body = reply.expect_status(200);
        assert_json(
            &body,
            &json!({ "data": { "rateLimit": {
                "limit": 5000, "remaining": 5000 - used, "used": used, "cost": 1,
                "resetAt": crate::support::TIMESTAMP, "nodeCount": 0,
            }}}),
        );
        assert_eq!(reply.header("X-RateLimit-Used"), Some(used.to_string()));
    }
    // Kept apart from the REST API's limit, which GET /rate_limit shows beside it.
    let limits = srv
        .get("/rate_limit")
        .header("Authorization", format!("token {token}"))
        .go()
        .await
        .expect_status(200);
    assert_eq!(limits["resources"]["graphql"]["used"], 2);
    // Only the token's creation (alice's Basic request) counted there.
    assert_eq!(limits["resources"]["core"]["used"], 1);
}

#[tokio::test]
async fn authentication_is_rests_with_graphqls_docs() {
    let srv = TestServer::spawn().await;
    let body = |message: &str, status: &str| json!({ "message": message, "documentation_url": DOCS, "status": status });
    let reply = srv
        .post("/api/graphql")
        .json(&json!({ "query": VIEWER }))
        .go()
        .await;
    assert_json(
        &reply.expect_status(401),
        &body("This endpoint requires you to be authenticated.", "401"),
    );
    for header in ["bearer gho_not_a_token", "token 0123"] {
        let reply = srv
            .post("/api/graphql")
            .header("Authorization", header)
            .json(&json!({ "query": VIEWER }))
            .go()
            .await;
        assert_json(&reply.expect_status(401), &body("Bad credentials", "401"));
    }
    // A revoked token is refused at once.
    let (created, token) = srv.alice_token(&OAUTH_APP).await;
    query(&srv, &token, "{ viewer { login } }")
        .await
        .expect_status(200);
    srv.delete(&format!("/authorizations/{}", created["id"]))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    let reply = query(&srv, &token, "{ viewer { login } }").await;
    assert_json(&reply.expect_status(401), &body("Bad credentials", "401"));
    // Password credentials are not a token.
    let reply = srv
        .post("/api/graphql")
        .login_as(&BOB)
        .json(&json!({ "query": VIEWER }))
        .go()
        .await;
    assert_json(&reply.expect_status(401), &body("Bad credentials", "401"));
}

#[tokio::test]
async fn an_unknown_field_is_githubs_undefined_field() {
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let body = query(&srv, &token, "{ nope }").await.expect_status(200);
    assert_json(
        &body,
        &json!({ "errors": [{
            "path": ["query", "nope"],
            "extensions": { "code": "undefinedField", "typeName": "Query", "fieldName": "nope" },
            "locations": [{ "line": 1, "column": 3 }],
            "message": "Field 'nope' doesn't exist on type 'Query'",
        }]}),
    );
    let body = query(
        &srv,
        &token,
        "query Me {\n  viewer {\n    login\n    me: repositories\n  }\n}",
    )
    .await
    .expect_status(200);
    assert_json(
        &body,
        &json!({ "errors": [{
            "path": ["query Me", "viewer", "me"],
            "extensions": { "code": "undefinedField", "typeName": "User", "fieldName": "repositories" },
            "locations": [{ "line": 4, "column": 5 }],
            "message": "Field 'repositories' doesn't exist on type 'User'",
        }]}),
    );
}

#[tokio::test]
async fn malformed_queries_are_refused_with_githubs_errors() {
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let body = query(&srv, &token, "{ viewer { login }")
        .await
        .expect_status(200);
    assert_json(
        &body,
        &json!({ "errors": [{ "message": "Unexpected end of document", "locations": [{ "line": 1, "column": 19 }] }] }),
    );
    let body = query(&srv, &token, "{ viewer { login } ]")
        .await
        .expect_status(200);
    assert_eq!(
        body["errors"][0]["message"],
        "Parse error on \"]\" at [1, 20]"
    );
    assert!(body.get("data").is_none());
    // A body that is no GraphQL request is a 400, in GraphQL's error shape.
    for request in [json!({}), json!({ "query": 5 }), json!({ "variables": {} })] {
        let body = query_as(&srv, "/graphql", &token, request)
            .await
            .expect_status(400);
        assert_json(
            &body,
            &json!({ "errors": [{ "message": "A query attribute must be specified and must be a string." }] }),
        );
    }
    for (request, message) in [
        (
            json!({ "query": "{ viewer { login } }", "variables": [1] }),
            "Variables are invalid JSON.",
        ),
        (
            json!({ "query": "{ viewer { login } }", "variables": "{}" }),
            "Variables are invalid JSON.",
        ),
        (
            json!({ "query": "{ viewer { login } }", "operationName": 7 }),
            "operationName must be a string.",
        ),
    ] {
        let body = query_as(&srv, "/graphql", &token, request)
            .await
            .expect_status(400);
        assert_json(&body, &json!({ "errors": [{ "message": message }] }));
    }
    // Checked before the query is read: an empty query with bad variables is still a 400.
    let body = query_as(
        &srv,
        "/graphql",
        &token,
        json!({ "query": "", "variables": [null, null] }),
    )
    .await
    .expect_status(400);
    assert_json(
        &body,
        &json!({ "errors": [{ "message": "Variables are invalid JSON." }] }),
    );
    // The body must be a JSON object, as on REST.
    let reply = srv
        .post("/api/graphql")
        .header("Authorization", format!("token {token}"))
        .body("{not json")
        .go()
        .await;
    assert_json(
        &reply.expect_status(400),
        &json!({ "message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400" }),
    );
}

#[tokio::test]
async fn queries_are_bounded_in_size_depth_and_complexity() {
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(20),
        "}".repeat(20)
    );
    let body = query(&srv, &token, &deep).await.expect_status(200);
    assert_json(
        &body,
        &json!({ "errors": [{ "message": "Query is nested too deep." }] }),
    );

    // Two points of complexity each: 1,200 in all.
    let wide = format!(
        "{{ {} }}",
        (0..600)
            .map(|i| format!("v{i}:viewer{{login}}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(wide.len() < 16 * 1024);
    let body = query(&srv, &token, &wide).await.expect_status(200);
    assert_json(
        &body,
        &json!({ "errors": [{ "message": "Query is too complex." }] }),
    );

    let huge = format!("{{ viewer {{ login }} }}{}", " ".repeat(16 * 1024));
    let body = query(&srv, &token, &huge).await.expect_status(400);
    assert_eq!(
        body["errors"][0]["message"],
        format!(
            "Query is too large: {} bytes, the limit is 16384.",
            huge.len()
        )
    );

    // A client's introspection query fits.
    let introspection = "{ __schema { queryType { name } types { name kind fields { name type { name kind \
                         ofType { name kind ofType { name kind ofType { name kind } } } } } } } }";
    let body = query(&srv, &token, introspection).await.expect_status(200);
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert!(body.get("errors").is_none(), "{body}");
}
