//! grantd's own OpenAPI description (`GET /openapi.json`): what it serves, and that the part of
//! it copied from GitHub's official description has not drifted from the pinned package.

use serde_json::Value;

use crate::support::{RequestExt, TestServer, conformance};

fn operation_ids(doc: &Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|operations| operations.values())
        .filter_map(|operation| operation["operationId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn openapi_json_describes_every_operation_on_the_public_url() {
    let srv = TestServer::spawn_with_public_url("https://grantd.example/api/v3").await;
    for path in ["/openapi.json", "/api/v3/openapi.json"] {
        let reply = srv.get(path).go().await;
        let doc = reply.expect_status(200);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["title"], "grantd");
        assert_eq!(doc["servers"][0]["url"], "https://grantd.example/api/v3");
        let ids = operation_ids(&doc);
        let documented = [
            "apps/check-authorization",
            "apps/check-token",
            "apps/delete-authorization",
            "apps/delete-token",
            "apps/reset-authorization",
            "apps/reset-token",
            "apps/revoke-authorization-for-application",
            "apps/revoke-grant-for-application",
            "apps/scope-token",
            "enterprise-admin/create-impersonation-o-auth-token",
            "enterprise-admin/create-user",
            "enterprise-admin/delete-impersonation-o-auth-token",
            "enterprise-admin/delete-user",
            "enterprise-admin/get-audit-log",
            "enterprise-admin/suspend-user",
            "enterprise-admin/unsuspend-user",
            "grantd/graphql",
            "grantd/healthz",
            "grantd/openapi",
            "grantd/update-authorization-with-post",
            "meta/get",
            "meta/get-zen",
            "meta/root",
            "oauth-authorizations/create-authorization",
            "oauth-authorizations/delete-authorization",
            "oauth-authorizations/delete-grant",
            "oauth-authorizations/get-authorization",
            "oauth-authorizations/get-grant",
            "oauth-authorizations/get-or-create-authorization-for-app",
            "oauth-authorizations/get-or-create-authorization-for-app-and-fingerprint",
            "oauth-authorizations/list-authorizations",
            "oauth-authorizations/list-grants",
            "oauth-authorizations/update-authorization",
            "rate-limit/get",
            "users/get-authenticated",
            "users/get-by-username",
            "users/list-emails-for-authenticated-user",
        ];
        assert_eq!(ids, documented);
        // The four legacy forms are marked deprecated and take the token in the path.
        for (path, method) in [
            ("/applications/{client_id}/tokens/{access_token}", "get"),
            ("/applications/{client_id}/tokens/{access_token}", "post"),
            ("/applications/{client_id}/tokens/{access_token}", "delete"),
            ("/applications/{client_id}/grants/{access_token}", "delete"),
        ] {
            let operation = &doc["paths"][path][method];
            assert_eq!(operation["deprecated"], true, "{method} {path}");
            assert_eq!(operation["parameters"][1]["name"], "access_token");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["basicAuth"]["scheme"],
            "basic"
        );
    }
}

#[tokio::test]
async fn openapi_json_answers_conditional_requests() {
    let srv = TestServer::spawn().await;
    let first = srv.get("/openapi.json").go().await;
    assert_eq!(first.status, 200);
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let again = srv
        .get("/openapi.json")
        .header("If-None-Match", &etag)
        .go()
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.body, "");
}

/// The committed `openapi/github-ghes-3.19-operations.json` is what
/// `scripts/extract-github-openapi` takes from the pinned `@octokit/openapi`: operation for
/// operation, the same JSON. Regenerate it with that script after bumping the package.
#[test]
fn the_embedded_github_operations_match_the_official_description() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed: Value = serde_json::from_slice(
        &std::fs::read(root.join("openapi/github-ghes-3.19-operations.json")).unwrap(),
    )
    .unwrap();
    let spec_file = conformance::spec_path();
    let official: Value = serde_json::from_slice(&std::fs::read(&spec_file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `npm ci --prefix tests/clients/octokit`",
            spec_file.display()
        )
    }))
    .unwrap();
    let paths = committed["paths"].as_object().unwrap();
    let mut compared = 0;
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            assert_eq!(
                operation, &official["paths"][path][method],
                "{method} {path} differs from the official description: rerun scripts/extract-github-openapi"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 29);
    assert_eq!(committed["openapi"], official["openapi"]);
}
