//! grantd's own OpenAPI description, served at `GET /openapi.json`.
//!
//! It is GitHub's description of the operations grantd implements (embedded verbatim from
//! `@octokit/openapi`, see `scripts/extract-github-openapi`), plus what grantd adds:
//! - the four legacy app-token operations, described with their modern twin's responses;
//! - the POST alias of `PATCH /authorizations/{authorization_id}`, `GET /healthz` and this
//!   document itself;
//! - HTTP Basic and token security schemes;
//! - every status grantd can answer (GitHub's pages list only some: a 401 before any handler
//!   runs, a 410 when the API is removed, 413, 429…), each with GitHub's error schema;
//! - the scope and permission names grantd accepts, as enums, from the same tables the domain
//!   validates with, so the description cannot promise what the server refuses.

use serde_json::{Map, Value, json};

use crate::domain::{permission, scope};

const GITHUB: &str = include_str!("../../openapi/github-ghes-3.19-operations.json");

/// The error statuses grantd may answer on every operation of a kind, beyond those GitHub's
/// description lists: 400 (malformed JSON, an unknown API version), 401 (no or bad
/// credentials), 403 (rate limit, login throttling, wrong auth scheme), 404, 413 (body over
/// 1 MiB) and 422 (validation).
const COMMON_ERRORS: &[&str] = &["400", "401", "403", "404", "413", "422"];

/// The Authorizations and Grants endpoints also answer 410 when `--authorizations-api removed`.
fn is_user_side(path: &str) -> bool {
    path.starts_with("/authorizations") || path.starts_with("/applications/grants")
}

fn error_response(description: &str, schema: &Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// The schema of GitHub's `basic-error` and `validation-error`, as the description uses them.
fn error_schemas(paths: &Value) -> (Value, Value) {
    let schema_of = |path: &str, method: &str, status: &str| {
        paths[path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
    };
    (
        schema_of("/authorizations", "get", "404"),
        schema_of("/authorizations", "post", "422"),
    )
}

/// Adds the statuses grantd answers that the operation does not list yet.
fn complete_responses(
    operation: &mut Value,
    path: &str,
    method: &str,
    basic_error: &Value,
    validation_error: &Value,
) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut statuses: Vec<&str> = COMMON_ERRORS.to_vec();
    if is_user_side(path) {
        statuses.push("410");
    }
    if method == "get" {
        statuses.push("304");
    }
    for status in statuses {
        if responses.contains_key(status) {
            continue;
        }
        let response = match status {
            "304" => {
                json!({ "description": "Not modified: the `If-None-Match` or `If-Modified-Since` still matches" })
            }
            "422" => error_response("Validation failed", validation_error),
            _ => error_response("An error, in GitHub's error shape", basic_error),
        };
        responses.insert(status.to_owned(), response);
    }
}

/// Narrows `scopes`, `add_scopes`, `remove_scopes` items to the scope names grantd knows, and
/// `permissions` to the permission table, wherever a request body has them.
fn constrain_request_body(operation: &mut Value) {
    let scopes: Vec<Value> = scope::names().map(Value::from).collect();
    let Some(properties) = operation
        .pointer_mut("/requestBody/content/application~1json/schema/properties")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for key in ["scopes", "add_scopes", "remove_scopes"] {
        if let Some(items) = properties
            .get_mut(key)
            .and_then(|p| p.get_mut("items"))
            .and_then(Value::as_object_mut)
        {
            items.insert("enum".into(), Value::Array(scopes.clone()));
        }
    }
    if let Some(permissions) = properties
        .get_mut("permissions")
        .and_then(Value::as_object_mut)
    {
        let table: Map<String, Value> = permission::table()
            .iter()
            .map(|(name, levels)| {
                (
                    (*name).to_owned(),
                    json!({ "type": "string", "enum": levels }),
                )
            })
            .collect();
        permissions.insert("properties".into(), Value::Object(table));
        permissions.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// grantd's leniency, described: `null` for an optional body field counts as absent (as in
/// GitHub's own handling of form-built bodies), and `per_page` / `page` that are not positive
/// integers fall back to their defaults instead of failing the request.
fn describe_leniency(operation: &mut Value) {
    if let Some(schema) = operation.pointer_mut("/requestBody/content/application~1json/schema") {
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for (name, property) in properties.iter_mut() {
                if !required.contains(name) {
                    property["nullable"] = Value::Bool(true);
                }
            }
        }
    }
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters
            .iter_mut()
            .filter(|p| p["in"] == "query" && (p["name"] == "per_page" || p["name"] == "page"))
        {
            let default = parameter["schema"]["default"].clone();
            parameter["schema"] = json!({ "default": default });
            parameter["description"] = json!(format!(
                "{} grantd, like GitHub, falls back to {default} when the value is not a positive integer.",
                parameter["description"].as_str().unwrap_or_default()
            ));
        }
    }
}

/// A legacy operation: the modern twin's responses, the token in the path, no body.
fn legacy(twin: &Value, operation_id: &str, summary: &str) -> Value {
    let mut operation = json!({
        "operationId": operation_id,
        "summary": summary,
        "description": "Legacy form with the token in the path. GitHub deprecated it in February 2020 and removed it \
                        from github.com on 5 May 2021; grantd answers it like its modern twin, with `Deprecation` \
                        and `Sunset` headers.",
        "deprecated": true,
        "tags": ["apps"],
        "parameters": [
            { "name": "client_id", "in": "path", "required": true, "schema": { "type": "string" } },
            { "name": "access_token", "in": "path", "required": true, "schema": { "type": "string" } },
        ],
        "responses": twin["responses"].clone(),
    });
    if let Some(security) = twin.get("security") {
        operation["security"] = security.clone();
    }
    operation
}

/// Who may call the operations that are not the Authorizations API's or the app side's
/// (Basic only): a token or a user's Basic credentials, or also nobody (`{}`).
fn security(path: &str) -> Option<Value> {
    match path {
        "/user"
        | "/user/emails"
        | "/users/{username}/suspended"
        | "/admin/users"
        | "/admin/users/{username}"
        | "/admin/users/{username}/authorizations"
        | "/enterprises/{enterprise}/audit-log" => {
            Some(json!([{ "tokenAuth": [] }, { "basicAuth": [] }]))
        }
        "/" | "/meta" | "/rate_limit" | "/zen" | "/users/{username}" => {
            Some(json!([{ "tokenAuth": [] }, { "basicAuth": [] }, {}]))
        }
        _ => None,
    }
}

/// `POST /graphql` (also `/api/graphql` at the host's root, GHES's path): not part of
/// GitHub's REST description, so described here.
fn graphql_operation(basic_error: &Value, validation_error: &Value) -> Value {
    let error = json!({
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": { "type": "string" },
            "type": { "type": "string" },
            "path": { "type": "array", "items": {} },
            "locations": { "type": "array", "items": { "type": "object", "properties": {
                "line": { "type": "integer" }, "column": { "type": "integer" } } } },
            "extensions": { "type": "object" },
        },
    });
    let mut operation = json!({
        "operationId": "grantd/graphql",
        "summary": "Run a GraphQL query",
        "description": "GitHub's GraphQL API for the account objects grantd keeps: `viewer`, `user(login:)` \
                        and `rateLimit`. Each query costs one point of the caller's GraphQL limit.",
        "tags": ["graphql"],
        "security": [{ "tokenAuth": [] }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object",
            "required": ["query"],
            "properties": {
                "query": { "type": "string", "maxLength": super::graphql::MAX_QUERY },
                "variables": { "type": "object", "nullable": true },
                "operationName": { "type": "string", "nullable": true },
            },
        } } } },
        "responses": {
            "200": { "description": "The query's data and errors, in GraphQL's shape", "content": {
                "application/json": { "schema": {
                    "type": "object",
                    "properties": {
                        "data": { "type": "object", "nullable": true },
                        "errors": { "type": "array", "items": error },
                    },
                } } } },
            "400": { "description": "Not a GraphQL request (no query, ill-typed variables, a query too long), \
                                     or a body that is not a JSON object", "content": {
                "application/json": { "schema": {
                    "type": "object",
                    "properties": {
                        "errors": { "type": "array", "items": error },
                        "message": { "type": "string" },
                        "documentation_url": { "type": "string" },
                        "status": { "type": "string" },
                    },
                } } } },
        },
    });
    complete_responses(
        &mut operation,
        "/graphql",
        "post",
        basic_error,
        validation_error,
    );
    operation
}

/// Builds the whole description for a server reached at `public_url`.
pub fn document(public_url: &str) -> Value {
    let github: Value = serde_json::from_str(GITHUB).unwrap_or_else(|_| json!({ "paths": {} }));
    let mut paths = github["paths"].clone();
    let (basic_error, validation_error) = error_schemas(&paths);
    let basic = json!([{ "basicAuth": [] }]);

    let Some(path_map) = paths.as_object_mut() else {
        return json!({});
    };
    for (path, operations) in path_map.iter_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            operation["security"] = security(path).unwrap_or_else(|| basic.clone());
            constrain_request_body(operation);
            describe_leniency(operation);
            complete_responses(operation, path, method, &basic_error, &validation_error);
        }
    }
    let update = paths["/authorizations/{authorization_id}"]["patch"].clone();
    let mut alias = update.clone();
    alias["operationId"] = json!("grantd/update-authorization-with-post");
    alias["summary"] = json!("Update an existing authorization (POST alias of PATCH)");
    paths["/authorizations/{authorization_id}"]["post"] = alias;

    let check = paths["/applications/{client_id}/token"]["post"].clone();
    let reset = paths["/applications/{client_id}/token"]["patch"].clone();
    let revoke = paths["/applications/{client_id}/token"]["delete"].clone();
    let delete_grant = paths["/applications/{client_id}/grant"]["delete"].clone();
    paths["/applications/{client_id}/tokens/{access_token}"] = json!({
        "get": legacy(&check, "apps/check-authorization", "Check an authorization (legacy)"),
        "post": legacy(&reset, "apps/reset-authorization", "Reset an authorization (legacy)"),
        "delete": legacy(&revoke, "apps/revoke-authorization-for-application", "Revoke an authorization for an application (legacy)"),
    });
    paths["/applications/{client_id}/grants/{access_token}"] = json!({
        "delete": legacy(&delete_grant, "apps/revoke-grant-for-application", "Revoke a grant for an application (legacy)"),
    });
    paths["/graphql"] = json!({ "post": graphql_operation(&basic_error, &validation_error) });
    paths["/healthz"] = json!({ "get": {
        "operationId": "grantd/healthz",
        "summary": "Whether the server is up and its database answers",
        "security": [],
        "responses": {
            "200": { "description": "Ready", "content": { "application/json": { "schema": {
                "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["ok"] } } } } } },
            "503": { "description": "The database does not answer", "content": { "application/json": { "schema": {
                "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["unavailable"] } } } } } },
        },
    }});
    paths["/openapi.json"] = json!({ "get": {
        "operationId": "grantd/openapi",
        "summary": "This description",
        "security": [],
        "responses": {
            "200": { "description": "grantd's OpenAPI description", "content": { "application/json": { "schema": { "type": "object" } } } },
            "304": { "description": "Not modified" },
        },
    }});

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "grantd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hosted, GitHub-compatible OAuth token authority: GitHub Enterprise Server 3.19's \
                            OAuth Authorizations and OAuth Apps token APIs and the endpoints clients call around \
                            them (API root, meta, rate limit, users, GraphQL), as GitHub describes them, plus \
                            grantd's additions (legacy app-token paths, statuses GitHub's pages omit, health check).",
            "license": { "name": "MIT" },
        },
        "servers": [{ "url": public_url }],
        "components": { "securitySchemes": {
            "basicAuth": { "type": "http", "scheme": "basic",
                           "description": "login:password for the Authorizations API; client_id:client_secret for the app side" },
            "tokenAuth": { "type": "http", "scheme": "bearer", "description": "A token (also accepted as `token <t>`)" },
        }},
        "paths": paths,
    })
}

/// The test controls' operations (`--test-controls`), under a tag of their own. Described only
/// when they are served: a description must not promise routes that answer 404.
// One table of operations, read top to bottom; split, it would only scatter the shapes.
#[allow(clippy::too_many_lines)]
pub fn add_test_controls(document: &mut Value) {
    let error = json!({ "$ref": "#/components/schemas/grantd-control-error" });
    let clock = json!({ "type": "object", "required": ["now", "epoch", "offset_seconds"], "properties": {
        "now": { "type": "string", "format": "date-time" },
        "epoch": { "type": "integer" },
        "offset_seconds": { "type": "integer" },
    }});
    let no_content = json!({ "description": "Done" });
    let answer = |description: &str, schema: &Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    let operation = |id: &str, summary: &str, responses: Value, request: Option<Value>| {
        let mut responses = responses;
        for (status, why) in [
            ("400", "The body is not JSON of the expected shape"),
            ("401", "No control token, or a wrong one"),
            ("404", "Not found"),
            ("422", "A field is out of range"),
        ] {
            responses[status] = answer(why, &error);
        }
        let mut op = json!({
            "operationId": format!("grantd-test-controls/{id}"),
            "summary": summary,
            "tags": ["grantd-test-controls"],
            "security": [{ "controlToken": [] }],
            "responses": responses,
        });
        if let Some(request) = request {
            op["requestBody"] = request;
        }
        op
    };
    let name = json!([{ "name": "name", "in": "path", "required": true,
        "schema": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$" } }]);
    let user_code = json!({ "type": "object", "required": ["user_code", "login"], "properties": {
        "user_code": { "type": "string", "maxLength": 64 }, "login": { "type": "string", "maxLength": 39 } } });
    let scopes = json!({ "type": "array", "maxItems": 100, "items": { "type": "string" } });
    let entry = json!({ "type": "object", "properties": {
        "request_id": { "type": "string" }, "method": { "type": "string" },
        "route": { "type": "string", "nullable": true }, "status": { "type": "integer" },
        "client_id": { "type": "string", "nullable": true }, "user": { "type": "string", "nullable": true },
        "fault": { "type": "string", "nullable": true },
        "at": { "type": "string", "format": "date-time" } } });
    let fault = json!({ "type": "object", "required": ["id", "match", "fault", "count", "remaining"], "properties": {
        "id": { "type": "string" },
        "match": { "type": "string", "description": "A route group (all, api, graphql, oauth, token, device, applications, \
            authorizations, user) or one route of this description as \"METHOD /path\"" },
        "fault": { "type": "string", "enum": ["status", "latency", "drop", "rate_limit", "secondary_rate_limit", "otp_required"] },
        "status": { "type": "integer", "enum": [403, 410, 429, 500, 502, 503] },
        "latency_ms": { "type": "integer", "minimum": 1, "maximum": super::faults::MAX_LATENCY_MS },
        "count": { "type": "integer", "minimum": 1, "maximum": super::faults::MAX_COUNT, "nullable": true },
        "remaining": { "type": "integer", "minimum": 0, "nullable": true },
        "user": { "type": "string" } } });
    let new_fault = json!({ "type": "object", "required": ["match", "fault"], "additionalProperties": false, "properties": {
        "match": fault["properties"]["match"], "fault": fault["properties"]["fault"], "status": fault["properties"]["status"],
        "latency_ms": fault["properties"]["latency_ms"],
        "count": { "type": "integer", "minimum": 1, "maximum": super::faults::MAX_COUNT },
        "user": { "type": "string", "maxLength": 39 } } });
    let mut snapshot_save = operation(
        "save-snapshot",
        "Save the whole state under a name",
        json!({ "201": answer("Saved", &json!({ "type": "object", "properties": { "name": { "type": "string" } } })),
                "501": answer("The database is not SQLite", &error) }),
        None,
    );
    snapshot_save["parameters"] = name.clone();
    let mut snapshot_restore = operation(
        "restore-snapshot",
        "Restore a saved state",
        json!({ "204": no_content, "501": answer("The database is not SQLite", &error) }),
        None,
    );
    snapshot_restore["parameters"] = name;
    let mut list = operation(
        "list-requests",
        "The last requests answered, oldest first",
        json!({ "200": answer("The journal", &json!({ "type": "object", "properties": {
            "requests": { "type": "array", "items": entry } } })) }),
        None,
    );
    list["parameters"] =
        json!([{ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 0 } }]);
    let paths = &mut document["paths"];
    paths["/_grantd/clock"] = json!({
        "get": operation("get-clock", "Read the server's clock", json!({ "200": answer("The clock", &clock) }), None),
        "put": operation("set-clock", "Set the server's clock", json!({ "200": answer("The clock", &clock) }),
            Some(body(json!({ "type": "object", "required": ["now"], "properties": { "now": { "type": "string", "format": "date-time" } } })))),
    });
    paths["/_grantd/clock/advance"] = json!({ "post": operation("advance-clock", "Move the clock by seconds",
        json!({ "200": answer("The clock", &clock) }),
        Some(body(json!({ "type": "object", "required": ["seconds"], "properties": { "seconds": { "type": "integer" } } })))) });
    paths["/_grantd/reset"] = json!({ "post": operation("reset", "Back to the seed state, and the clock to the system's",
        json!({ "204": no_content, "501": answer("The database is not SQLite", &error) }), None) });
    paths["/_grantd/snapshots/{name}"] = json!({ "post": snapshot_save });
    paths["/_grantd/snapshots/{name}/restore"] = json!({ "post": snapshot_restore });
    paths["/_grantd/requests"] = json!({ "get": list,
        "delete": operation("clear-requests", "Empty the journal", json!({ "204": no_content }), None) });
    paths["/_grantd/tokens"] = json!({ "post": operation("mint-token", "Mint a user token of an app",
        json!({ "201": answer("The token, in the token endpoint's shape", &json!({ "type": "object", "properties": {
            "access_token": { "type": "string" }, "token_type": { "type": "string" }, "scope": { "type": "string" },
            "expires_in": { "type": "integer" }, "refresh_token": { "type": "string" },
            "refresh_token_expires_in": { "type": "integer" }, "id": { "type": "integer" } } })) }),
        Some(body(json!({ "type": "object", "required": ["login", "client_id"], "properties": {
            "login": { "type": "string" }, "client_id": { "type": "string" }, "scopes": scopes,
            "expires_in": { "type": "integer", "minimum": 1 } } })))) });
    paths["/_grantd/device/approve"] = json!({ "post": operation("approve-device", "Approve a pending device code as a user",
        json!({ "204": no_content, "429": answer("Too many submissions", &error) }), Some(body(user_code.clone()))) });
    paths["/_grantd/device/deny"] = json!({ "post": operation("deny-device", "Deny a pending device code as a user",
        json!({ "204": no_content, "429": answer("Too many submissions", &error) }), Some(body(user_code))) });
    paths["/_grantd/oauth/authorize"] = json!({ "post": operation("authorize", "Approve an app as a user, as the consent page would",
        json!({ "201": answer("Where the browser would be sent", &json!({ "type": "object", "properties": {
            "redirect_url": { "type": "string" }, "code": { "type": "string" } } })) }),
        Some(body(json!({ "type": "object", "required": ["client_id", "login"], "properties": {
            "client_id": { "type": "string" }, "login": { "type": "string" }, "scopes": scopes,
            "redirect_uri": { "type": "string" }, "state": { "type": "string" },
            "code_challenge": { "type": "string" }, "code_challenge_method": { "type": "string", "enum": ["S256"] } } })))) });
    paths["/_grantd/faults"] = json!({
        "get": operation("list-faults", "The live faults, in the order they are tried",
            json!({ "200": answer("The faults", &json!({ "type": "array", "items": fault })) }), None),
        "post": operation("add-fault", "Make matching requests fail as GitHub fails",
            json!({ "201": answer("The fault, as stored", &fault) }), Some(body(new_fault))),
        "delete": operation("clear-faults", "Remove every fault", json!({ "204": no_content }), None),
    });
    let mut delete_fault = operation(
        "delete-fault",
        "Remove one fault",
        json!({ "204": no_content }),
        None,
    );
    delete_fault["parameters"] =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    paths["/_grantd/faults/{id}"] = json!({ "delete": delete_fault });
    document["components"]["securitySchemes"]["controlToken"] = json!({ "type": "http", "scheme": "bearer",
        "description": "The control token printed at start (`GRANTD_CONTROL_TOKEN`); also accepted in `X-Grantd-Control-Token`" });
    document["components"]["schemas"]["grantd-control-error"] = json!({ "type": "object", "required": ["message"],
        "properties": { "message": { "type": "string" }, "documentation_url": { "type": "string" }, "status": { "type": "string" } } });
    document["tags"] = json!([{ "name": "grantd-test-controls",
        "description": "grantd's test controls (`serve --test-controls`): clock, reset, snapshots, faults, flows without a browser, minting, the request journal" }]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation_ids(doc: &Value) -> Vec<String> {
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
            .filter_map(Value::as_object)
            .flat_map(|ops| ops.values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn describes_the_nineteen_operations_and_grantds_additions() {
        let doc = document("http://127.0.0.1:8080");
        let ids = operation_ids(&doc);
        for expected in [
            "oauth-authorizations/list-grants",
            "oauth-authorizations/get-grant",
            "oauth-authorizations/delete-grant",
            "oauth-authorizations/list-authorizations",
            "oauth-authorizations/create-authorization",
            "oauth-authorizations/get-or-create-authorization-for-app",
            "oauth-authorizations/get-or-create-authorization-for-app-and-fingerprint",
            "oauth-authorizations/get-authorization",
            "oauth-authorizations/update-authorization",
            "oauth-authorizations/delete-authorization",
            "apps/check-token",
            "apps/reset-token",
            "apps/delete-token",
            "apps/delete-authorization",
            "apps/scope-token",
            "apps/check-authorization",
            "apps/reset-authorization",
            "apps/revoke-authorization-for-application",
            "apps/revoke-grant-for-application",
            "users/get-authenticated",
            "grantd/update-authorization-with-post",
            "grantd/healthz",
            "grantd/openapi",
            "grantd/graphql",
            "meta/root",
            "meta/get",
            "meta/get-zen",
            "rate-limit/get",
            "users/get-by-username",
            "users/list-emails-for-authenticated-user",
            "enterprise-admin/suspend-user",
            "enterprise-admin/unsuspend-user",
            "enterprise-admin/create-user",
            "enterprise-admin/delete-user",
            "enterprise-admin/create-impersonation-o-auth-token",
            "enterprise-admin/delete-impersonation-o-auth-token",
            "enterprise-admin/get-audit-log",
        ] {
            assert!(
                ids.iter().any(|id| id == expected),
                "{expected} missing from {ids:?}"
            );
        }
        assert_eq!(ids.len(), 37);
        assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:8080");
    }

    #[test]
    fn every_operation_lists_the_errors_grantd_answers() {
        let doc = document("http://h");
        let removed = &doc["paths"]["/authorizations"]["post"]["responses"];
        for status in ["400", "401", "403", "410", "413", "422"] {
            assert!(
                removed.get(status).is_some(),
                "POST /authorizations lacks {status}"
            );
        }
        let check = &doc["paths"]["/applications/{client_id}/token"]["post"]["responses"];
        assert!(check.get("401").is_some() && check.get("410").is_none());
        assert!(
            doc["paths"]["/authorizations/{authorization_id}"]["get"]["responses"]
                .get("304")
                .is_some()
        );
    }

    #[test]
    fn scopes_and_permissions_come_from_the_domain_tables() {
        let doc = document("http://h");
        let body = &doc["paths"]["/authorizations"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        let scopes = body["properties"]["scopes"]["items"]["enum"]
            .as_array()
            .unwrap();
        assert_eq!(scopes.len(), scope::names().count());
        let permissions = &doc["paths"]["/applications/{client_id}/token/scoped"]["post"]["requestBody"]
            ["content"]["application/json"]["schema"]["properties"]["permissions"];
        assert_eq!(
            permissions["properties"]["workflows"]["enum"],
            json!(["write"])
        );
        assert_eq!(
            permissions["properties"]["team_discussions"]["enum"],
            json!(["read", "write"])
        );
    }
}
