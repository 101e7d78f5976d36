//! Proof of conformance with GitHub's own machine-readable description: every response the
//! suite receives from a documented operation is validated against that operation's response
//! schema in `@octokit/openapi` (pinned in tests/clients/octokit/package.json), file
//! `generated/ghes-3.19.deref.json`. The legacy app-token paths are held to their modern twin's
//! schema. A failure fails the test that made the request; a missing spec fails every test.
//!
//! The spec is 66 MB: the first test process to need it extracts the few operations grantd
//! implements into a small cache file (written to a temporary name and renamed, so parallel
//! test processes never read half a file), and every later process reads only that.
//!
//! Each check is also appended to `conformance.tsv` (operationId, status, outcome) in the
//! target's temporary directory; `scripts/test` totals it per operation after the run.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// grantd's routes with the documented operation that defines them:
/// (method, grantd's path, spec method, spec path).
const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("GET", "/applications/grants", "get", "/applications/grants"),
    (
        "GET",
        "/applications/grants/{grant_id}",
        "get",
        "/applications/grants/{grant_id}",
    ),
    (
        "DELETE",
        "/applications/grants/{grant_id}",
        "delete",
        "/applications/grants/{grant_id}",
    ),
    ("GET", "/authorizations", "get", "/authorizations"),
    ("POST", "/authorizations", "post", "/authorizations"),
    (
        "PUT",
        "/authorizations/clients/{client_id}",
        "put",
        "/authorizations/clients/{client_id}",
    ),
    (
        "PUT",
        "/authorizations/clients/{client_id}/{fingerprint}",
        "put",
        "/authorizations/clients/{client_id}/{fingerprint}",
    ),
    (
        "GET",
        "/authorizations/{authorization_id}",
        "get",
        "/authorizations/{authorization_id}",
    ),
    (
        "PATCH",
        "/authorizations/{authorization_id}",
        "patch",
        "/authorizations/{authorization_id}",
    ),
    // POST is grantd's alias of PATCH for clients that cannot send PATCH.
    (
        "POST",
        "/authorizations/{authorization_id}",
        "patch",
        "/authorizations/{authorization_id}",
    ),
    (
        "DELETE",
        "/authorizations/{authorization_id}",
        "delete",
        "/authorizations/{authorization_id}",
    ),
    (
        "POST",
        "/applications/{client_id}/token",
        "post",
        "/applications/{client_id}/token",
    ),
    (
        "PATCH",
        "/applications/{client_id}/token",
        "patch",
        "/applications/{client_id}/token",
    ),
    (
        "DELETE",
        "/applications/{client_id}/token",
        "delete",
        "/applications/{client_id}/token",
    ),
    (
        "DELETE",
        "/applications/{client_id}/grant",
        "delete",
        "/applications/{client_id}/grant",
    ),
    (
        "POST",
        "/applications/{client_id}/token/scoped",
        "post",
        "/applications/{client_id}/token/scoped",
    ),
    // The legacy forms, validated with their modern twin's schema.
    (
        "GET",
        "/applications/{client_id}/tokens/{access_token}",
        "post",
        "/applications/{client_id}/token",
    ),
    (
        "POST",
        "/applications/{client_id}/tokens/{access_token}",
        "patch",
        "/applications/{client_id}/token",
    ),
    (
        "DELETE",
        "/applications/{client_id}/tokens/{access_token}",
        "delete",
        "/applications/{client_id}/token",
    ),
    (
        "DELETE",
        "/applications/{client_id}/grants/{access_token}",
        "delete",
        "/applications/{client_id}/grant",
    ),
    // Not one of the token APIs, but documented, and how tokens are used.
    ("GET", "/user", "get", "/user"),
    // What clients call around the token API.
    ("GET", "/", "get", "/"),
    ("GET", "/meta", "get", "/meta"),
    ("GET", "/rate_limit", "get", "/rate_limit"),
    ("GET", "/zen", "get", "/zen"),
    ("GET", "/users/{username}", "get", "/users/{username}"),
    ("GET", "/user/emails", "get", "/user/emails"),
    // GHES's user suspension for site admins.
    (
        "PUT",
        "/users/{username}/suspended",
        "put",
        "/users/{username}/suspended",
    ),
    (
        "DELETE",
        "/users/{username}/suspended",
        "delete",
        "/users/{username}/suspended",
    ), // GHES's enterprise audit log.
    (
        "GET",
        "/enterprises/{enterprise}/audit-log",
        "get",
        "/enterprises/{enterprise}/audit-log",
    ),
    // GHES's user administration for site admins.
    ("POST", "/admin/users", "post", "/admin/users"),
    (
        "DELETE",
        "/admin/users/{username}",
        "delete",
        "/admin/users/{username}",
    ),
    (
        "POST",
        "/admin/users/{username}/authorizations",
        "post",
        "/admin/users/{username}/authorizations",
    ),
    (
        "DELETE",
        "/admin/users/{username}/authorizations",
        "delete",
        "/admin/users/{username}/authorizations",
    ),
];

/// Where a plain-text answer's schema is kept among an operation's responses (`GET /zen`).
const PLAIN_TEXT: &str = "text/plain";

const BASIC_ERROR: &str = "basic-error";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the official description is, once `npm ci --prefix tests/clients/octokit` has run.
pub fn spec_path() -> PathBuf {
    manifest_dir()
        .join("tests/clients/octokit/node_modules/@octokit/openapi/generated/ghes-3.19.deref.json")
}

fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance")
}

/// The per-check log that `scripts/test` totals.
pub fn log_path() -> PathBuf {
    work_dir().join("conformance.tsv")
}

/// Rewrites OpenAPI 3.0's `nullable: true` into JSON Schema (`type: [T, "null"]`, or an
/// `anyOf` with `null` where the schema has no single type), recursively.
fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if out.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
                match out.remove("type") {
                    Some(Value::String(kind)) => {
                        out.insert("type".into(), json!([kind, "null"]));
                    }
                    Some(other) => {
                        out.insert("type".into(), other);
                    }
                    None => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// `{ "<method> <path>": { "operationId": …, "responses": { "<status>": schema-or-null } } }`
/// for the operations grantd implements, extracted from the whole description.
fn extract(spec: &Value) -> Value {
    let mut operations = Map::new();
    for &(_, _, method, path) in OPERATIONS {
        let key = format!("{method} {path}");
        let operation = &spec["paths"][path][method];
        assert!(
            operation.is_object(),
            "{key} is not in {}",
            spec_path().display()
        );
        let mut responses = Map::new();
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            let schema = &response["content"]["application/json"]["schema"];
            let text = &response["content"][PLAIN_TEXT]["schema"];
            responses.insert(
                status.clone(),
                if !schema.is_null() {
                    to_json_schema(schema)
                } else if !text.is_null() {
                    json!({ PLAIN_TEXT: to_json_schema(text) })
                } else {
                    Value::Null
                },
            );
        }
        operations.insert(
            key,
            json!({
                "operationId": operation["operationId"],
                "responses": responses,
                "docs": operation["externalDocs"]["url"],
            }),
        );
    }
    // GitHub's `basic-error` ({message, documentation_url, url?, status?}), for error statuses
    // that an operation's page does not list; the dereferenced file has no components, so it is
    // taken from an operation that documents it.
    let basic_error = &spec["paths"]["/authorizations"]["get"]["responses"]["404"]["content"]["application/json"]
        ["schema"];
    assert!(
        basic_error.is_object(),
        "basic-error is not where it used to be in the description"
    );
    operations.insert(BASIC_ERROR.into(), to_json_schema(basic_error));
    Value::Object(operations)
}

/// The extracted schemas: from the cache when it is newer than the spec, else made anew.
fn load() -> Value {
    let spec_file = spec_path();
    let spec_modified = std::fs::metadata(&spec_file).and_then(|m| m.modified()).unwrap_or_else(|e| {
        panic!(
            "GitHub's OpenAPI description is missing ({e}): {}\nrun `npm ci --prefix tests/clients/octokit` \
             (scripts/test does) before the tests",
            spec_file.display()
        )
    });
    let cache = work_dir().join("ghes-3.19-grantd-operations.json");
    let fresh = std::fs::metadata(&cache)
        .and_then(|m| m.modified())
        .is_ok_and(|cached| cached >= spec_modified);
    let cached = fresh
        .then(|| std::fs::read(&cache).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        // A cache made before an operation was added to the list is made anew.
        .filter(|value| {
            OPERATIONS.iter().all(|&(_, _, method, path)| {
                value
                    .get(format!("{method} {path}"))
                    .is_some_and(|operation| operation["docs"].is_string())
            })
        });
    if let Some(value) = cached {
        return value;
    }
    let spec: Value =
        serde_json::from_slice(&std::fs::read(&spec_file).expect("read the OpenAPI description"))
            .expect("the OpenAPI description is JSON");
    let extracted = extract(&spec);
    std::fs::create_dir_all(work_dir()).expect("create the conformance directory");
    let temporary = work_dir().join(format!("extract-{}.json", std::process::id()));
    std::fs::write(
        &temporary,
        serde_json::to_vec(&extracted).expect("serialise"),
    )
    .expect("write the cache");
    std::fs::rename(&temporary, &cache).expect("publish the cache");
    extracted
}

fn operations() -> &'static Value {
    static OPERATIONS_SCHEMAS: OnceLock<Value> = OnceLock::new();
    OPERATIONS_SCHEMAS.get_or_init(load)
}

/// The documented operation behind a request, if any: the template that matches the path
/// with the most literal segments wins (`/applications/grants/1` is a grant, not an app).
fn operation_for(method: &str, path: &str) -> Option<(&'static str, &'static str)> {
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    // The API root: `/`, and `/api/v3` with or without its slash.
    if path.is_empty() || path == "/" {
        return OPERATIONS
            .iter()
            .find(|(m, template, _, _)| *m == method && *template == "/")
            .map(|&(_, _, spec_method, spec_path)| (spec_method, spec_path));
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    OPERATIONS
        .iter()
        .filter(|(m, template, _, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            *m == method
                && parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p.starts_with('{') && !s.is_empty() || p == s)
        })
        .max_by_key(|(_, template, _, _)| {
            template.split('/').filter(|p| !p.starts_with('{')).count()
        })
        .map(|&(_, _, spec_method, spec_path)| (spec_method, spec_path))
}

fn record(operation_id: &str, status: u16, outcome: &str) {
    let _ = std::fs::create_dir_all(work_dir());
    // One short line per write, in append mode: lines from parallel test processes never mix.
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path())
    {
        let _ = log.write_all(format!("{operation_id}\t{status}\t{outcome}\n").as_bytes());
    }
}

/// Validates one response. Panics (failing the test) when a documented operation answers a
/// body that its official schema rejects.
pub fn check(method: &str, path: &str, status: u16, body: &str) {
    let Some((spec_method, spec_path)) = operation_for(method, path) else {
        return;
    };
    let operation = &operations()[format!("{spec_method} {spec_path}")];
    let operation_id = operation["operationId"].as_str().unwrap_or("?");
    let (schema, outcome) = match operation["responses"].get(status.to_string()) {
        Some(schema) => (schema, "validated"),
        // An error the operation's page does not list (401 before any handler runs, 404 for
        // a stranger's object, …): it must still be GitHub's generic error body.
        None if (400..500).contains(&status) => {
            (&operations()[BASIC_ERROR], "validated-basic-error")
        }
        None => {
            record(operation_id, status, "undocumented-status");
            return;
        }
    };
    if schema.is_null() {
        assert!(
            body.is_empty(),
            "{operation_id} {status}: the spec documents no body, but got {body:?}"
        );
        record(operation_id, status, "validated-empty");
        return;
    }
    let (schema, instance) = match schema.get(PLAIN_TEXT) {
        Some(text) => (text, Value::String(body.to_owned())),
        None => (
            schema,
            serde_json::from_str(body).unwrap_or_else(|e| {
                panic!("{operation_id} {status}: the body is not JSON ({e}): {body:?}")
            }),
        ),
    };
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| {
            panic!("{operation_id} {status}: the official schema does not compile: {e}")
        });
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{operation_id} {status}: the response does not match GitHub's schema:\n{}\nbody: {body}",
        errors.join("\n")
    );
    if status >= 400 {
        check_documentation_url(operation, &instance, status);
    }
    record(operation_id, status, outcome);
}

/// Links an error may carry whatever the operation: the REST docs' root (an error before any
/// operation's own rules apply, such as bad credentials), the rate-limit page and the
/// Authorizations API's retirement notice, as GitHub links them.
const CROSS_CUTTING_DOCS: &[&str] = &[
    "https://docs.github.com/enterprise-server@3.19/rest",
    "https://docs.github.com/enterprise-server@3.19/rest/using-the-rest-api/rate-limits-for-the-rest-api",
    "https://developer.github.com/changes/2020-02-14-deprecating-oauth-auth-endpoint/",
];

/// An error's `documentation_url` is pinned per operation: its own page in GitHub's description
/// (`externalDocs`), or one of the [`CROSS_CUTTING_DOCS`], never another operation's page.
fn check_documentation_url(operation: &Value, body: &Value, status: u16) {
    let Some(url) = body.get("documentation_url").and_then(Value::as_str) else {
        return;
    };
    let own = operation["docs"].as_str().unwrap_or_default();
    let operation_id = operation["operationId"].as_str().unwrap_or("?");
    assert!(
        url == own || CROSS_CUTTING_DOCS.contains(&url),
        "{operation_id} {status}: documentation_url {url} is neither the operation's page \
         ({own}) nor a cross-cutting one"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_a_null_type() {
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true}}});
        assert_eq!(
            to_json_schema(&schema)["properties"]["a"]["type"],
            json!(["string", "null"])
        );
        let untyped = to_json_schema(&json!({"allOf": [{"type": "object"}], "nullable": true}));
        assert_eq!(untyped["anyOf"][1], json!({"type": "null"}));
    }

    #[test]
    #[should_panic(expected = "does not match GitHub's schema")]
    fn a_body_that_breaks_the_official_schema_fails_the_test() {
        // `id` must be an integer, and `url`, `scopes`, `token`… are required.
        check("GET", "/authorizations/1", 200, r#"{"id": "1"}"#);
    }

    #[test]
    #[should_panic(expected = "does not match GitHub's schema")]
    fn an_error_body_without_a_message_fails_the_test() {
        check(
            "GET",
            "/authorizations/1",
            404,
            r#"{"documentation_url": 5}"#,
        );
    }

    #[test]
    #[should_panic(expected = "is neither the operation's page")]
    fn an_error_linking_another_operations_page_fails_the_test() {
        check(
            "GET",
            "/authorizations/1",
            404,
            r#"{"message": "Not Found", "documentation_url": "https://docs.github.com/enterprise-server@3.19/rest/oauth-authorizations/oauth-authorizations#delete-a-grant"}"#,
        );
    }

    #[test]
    fn an_error_links_its_own_page_or_a_cross_cutting_one() {
        let own = "https://docs.github.com/enterprise-server@3.19/rest/oauth-authorizations/oauth-authorizations#get-a-single-authorization";
        for url in [own, CROSS_CUTTING_DOCS[0]] {
            let body = json!({ "message": "Not Found", "documentation_url": url });
            check("GET", "/authorizations/1", 404, &body.to_string());
        }
    }

    #[test]
    fn paths_map_to_their_operations() {
        assert_eq!(
            operation_for("GET", "/api/v3/applications/grants/7"),
            Some(("get", "/applications/grants/{grant_id}"))
        );
        assert_eq!(
            operation_for("GET", "/applications/Iv1.x/tokens/ghu_abc"),
            Some(("post", "/applications/{client_id}/token"))
        );
        assert_eq!(
            operation_for("DELETE", "/applications/abc/grant"),
            Some(("delete", "/applications/{client_id}/grant"))
        );
        assert_eq!(operation_for("GET", "/healthz"), None);
        for root in ["/", "/api/v3", "/api/v3/"] {
            assert_eq!(operation_for("GET", root), Some(("get", "/")), "{root}");
        }
        assert_eq!(
            operation_for("GET", "/api/v3/users/alice"),
            Some(("get", "/users/{username}"))
        );
        assert_eq!(
            operation_for("GET", "/user/emails"),
            Some(("get", "/user/emails"))
        );
        assert_eq!(operation_for("OPTIONS", "/authorizations"), None);
    }
}
