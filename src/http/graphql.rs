//! GraphQL at `POST /api/graphql` (GHES) and `POST /graphql` (github.com's path), executed by
//! async-graphql: the account objects grantd keeps and nothing more. `viewer` and
//! `user(login:)` are GitHub's `User` with `login`, `id` (the node id REST shows),
//! `databaseId`, `name`, `email`, `createdAt` and `organizations`, and `rateLimit` shows the
//! caller's GraphQL limit, which each query costs one point of.
//!
//! Authentication is REST's, with GitHub's GraphQL wording and docs link ([`GraphQlAuth`]).
//! Errors are rewritten into GitHub's shape where the library's differs: an unknown field is
//! `undefinedField` with the path through the document, a syntax error "Parse error on …", a
//! missing user `NOT_FOUND`. A query is bounded in size, depth, complexity and directives
//! before it runs.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ErrorExtensions, ID, Object, Positioned, Scalar,
    ScalarType, Schema, SimpleObject,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{GraphQlAuth, JsonObject};
use super::ghes::scope_headers;
use super::json::Json;
use super::schemas::{node_id, timestamp};
use crate::domain::account::{Account, AccountType};
use crate::domain::limits::RateLimitStatus;
use crate::domain::{self, UserId, user::User};

pub type ApiSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// A query's text is at most this long (GitHub's own queries are a few kilobytes).
pub const MAX_QUERY: usize = 16 * 1024;
/// Deep enough for a client's introspection query (about 13 levels), no deeper.
const MAX_DEPTH: usize = 16;
/// Every field counts one: a few hundred fields, as an introspection query has.
const MAX_COMPLEXITY: usize = 1000;
/// `first` and `last` of a connection: GitHub's bounds.
const MAX_PAGE: i32 = 100;

/// The schema, built once per server.
pub fn schema() -> ApiSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        // The parser's own bound, above the depth limit so that a deep query is told so.
        .limit_recursive_depth(4 * MAX_DEPTH)
        .limit_directives(8)
        .disable_suggestions()
        .finish()
}

/// What a query's resolvers may read: the server and the authenticated request.
struct Viewer {
    state: AppState,
    user: User,
    rate: RateLimitStatus,
}

pub struct Query;

// async-graphql takes resolvers as `async fn` only, awaiting or not.
#[allow(clippy::unused_async)]
#[Object]
impl Query {
    /// The currently authenticated user.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<UserNode> {
        let viewer = ctx.data::<Viewer>()?;
        Ok(UserNode::new(&viewer.user, Some(viewer.user.id)))
    }

    /// Lookup a user by login.
    async fn user(
        &self,
        ctx: &Context<'_>,
        login: String,
    ) -> async_graphql::Result<Option<UserNode>> {
        let viewer = ctx.data::<Viewer>()?;
        match domain::user::find(&*viewer.state.store, &login).await {
            Ok(user) => Ok(Some(UserNode::new(&user, Some(viewer.user.id)))),
            // Reported beside a `null` user, as GitHub answers (returned as an error, the
            // library would drop the field and leave `data` null).
            Err(domain::Error::NotFound) => {
                let error = not_found(&login).into_server_error(ctx.item.pos);
                ctx.add_error(ctx.set_error_path(error));
                Ok(None)
            }
            Err(other) => Err(internal(&other)),
        }
    }

    /// The client's rate limit information.
    async fn rate_limit(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] dry_run: bool,
    ) -> async_graphql::Result<RateLimitNode> {
        let viewer = ctx.data::<Viewer>()?;
        let _ = dry_run; // every query costs one point, asked about or not
        Ok(RateLimitNode {
            limit: i32::try_from(viewer.rate.limit).unwrap_or(i32::MAX),
            remaining: i32::try_from(viewer.rate.remaining()).unwrap_or(i32::MAX),
            used: i32::try_from(viewer.rate.used).unwrap_or(i32::MAX),
            reset_at: DateTime(timestamp(viewer.rate.reset)),
            cost: 1,
            node_count: 0,
        })
    }
}

/// GitHub's "Could not resolve to a User" error, with its `type`.
fn not_found(login: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "Could not resolve to a User with the login of '{login}'."
    ))
    .extend_with(|_, extensions| extensions.set("type", "NOT_FOUND"))
}

fn internal(error: &domain::Error) -> async_graphql::Error {
    tracing::error!(%error, "a GraphQL resolver failed");
    async_graphql::Error::new("Something went wrong while executing your query.")
}

/// GitHub's `DateTime`: an ISO-8601 UTC timestamp, whole seconds.
struct DateTime(String);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        match value {
            async_graphql::Value::String(text) => Ok(Self(text)),
            other => Err(async_graphql::InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::String(self.0.clone())
    }
}

/// GitHub's `User`, as far as grantd keeps one.
struct UserNode {
    id: UserId,
    login: String,
    email: Option<String>,
    created_at: String,
    /// Whose query this is: a user's organization memberships are shown to that user alone
    /// (memberships are private on GitHub until their member makes them public, and grantd
    /// keeps no such choice).
    viewer: Option<UserId>,
}

impl UserNode {
    fn new(user: &User, viewer: Option<UserId>) -> Self {
        Self {
            id: user.id,
            login: user.login.as_str().to_owned(),
            email: user.email.clone(),
            created_at: timestamp(user.created_at),
            viewer,
        }
    }
}

#[Object(name = "User")]
impl UserNode {
    /// The username used to login.
    async fn login(&self) -> &str {
        &self.login
    }

    /// The Node ID of the User object.
    async fn id(&self) -> ID {
        ID(node_id(AccountType::User.as_str(), self.id.0))
    }

    /// Identifies the primary key from the database.
    async fn database_id(&self) -> Option<i64> {
        Some(self.id.0)
    }

    /// The user's public profile name.
    async fn name(&self) -> Option<&str> {
        None
    }

    /// The user's publicly visible profile email.
    async fn email(&self) -> &str {
        self.email.as_deref().unwrap_or_default()
    }

    /// Identifies the date and time when the object was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.created_at.clone())
    }

    /// A list of organizations the user belongs to.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<OrganizationConnection> {
        let viewer = ctx.data::<Viewer>()?;
        let window = Window::of(first, last, after.as_deref(), before.as_deref())?;
        let all = if self.viewer == Some(self.id) {
            domain::user::organizations(&*viewer.state.store, self.id)
                .await
                .map_err(|e| internal(&e))?
        } else {
            Vec::new()
        };
        Ok(OrganizationConnection::page(&all, &window))
    }
}

/// Which slice of a connection `first`/`last`/`after`/`before` ask for.
struct Window {
    first: Option<usize>,
    last: Option<usize>,
    after: Option<usize>,
    before: Option<usize>,
}

impl Window {
    /// GitHub's rules: `first` or `last` is required, each 0 to 100 (errors of GitHub's types).
    fn of(
        first: Option<i32>,
        last: Option<i32>,
        after: Option<&str>,
        before: Option<&str>,
    ) -> async_graphql::Result<Self> {
        let bounded = |value: Option<i32>, name: &str| {
            match value {
            None => Ok(None),
            Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(usize::try_from(n).ok()),
            Some(n) => Err(async_graphql::Error::new(format!(
                "Requesting {n} records on the `organizations` connection exceeds the `{name}` limit of {MAX_PAGE} records."
            ))
            .extend_with(|_, extensions| extensions.set("type", "EXCESSIVE_PAGINATION"))),
        }
        };
        let (first, last) = (bounded(first, "first")?, bounded(last, "last")?);
        if first.is_none() && last.is_none() {
            return Err(async_graphql::Error::new(
                "You must provide a `first` or `last` value to properly paginate the `organizations` connection.",
            )
            .extend_with(|_, extensions| {
                extensions.set("type", "MISSING_PAGINATION_BOUNDARIES");
            }));
        }
        Ok(Self {
            first,
            last,
            after: after.and_then(cursor_offset),
            before: before.and_then(cursor_offset),
        })
    }
}

/// A cursor: base64 of `cursor:<offset>` (an unknown one is ignored, as a fresh start).
fn cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:{offset}"))
}

fn cursor_offset(text: &str) -> Option<usize> {
    use base64::Engine as _;
    // Ours are short: anything longer is no cursor of ours, and is not decoded.
    if text.len() > 64 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("cursor:")?
        .parse()
        .ok()
}

#[derive(SimpleObject)]
#[graphql(name = "Organization")]
struct OrganizationNode {
    /// The organization's login name.
    login: String,
    /// The Node ID of the Organization object.
    id: ID,
    /// Identifies the primary key from the database.
    database_id: Option<i64>,
    /// The organization's public profile name.
    name: Option<String>,
}

impl From<&Account> for OrganizationNode {
    fn from(account: &Account) -> Self {
        Self {
            login: account.login.as_str().to_owned(),
            id: ID(node_id(AccountType::Organization.as_str(), account.id.0)),
            database_id: Some(account.id.0),
            name: None,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "OrganizationEdge")]
struct OrganizationEdge {
    /// A cursor for use in pagination.
    cursor: String,
    /// The item at the end of the edge.
    node: Option<OrganizationNode>,
}

#[derive(SimpleObject)]
struct PageInfo {
    /// When paginating forwards, the cursor to continue.
    end_cursor: Option<String>,
    /// When paginating forwards, are there more items?
    has_next_page: bool,
    /// When paginating backwards, are there more items?
    has_previous_page: bool,
    /// When paginating backwards, the cursor to continue.
    start_cursor: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(name = "OrganizationConnection")]
struct OrganizationConnection {
    /// A list of edges.
    edges: Vec<Option<OrganizationEdge>>,
    /// A list of nodes.
    nodes: Vec<Option<OrganizationNode>>,
    /// Information to aid in pagination.
    page_info: PageInfo,
    /// Identifies the total count of items in the connection.
    total_count: i32,
}

impl OrganizationConnection {
    fn page(all: &[Account], window: &Window) -> Self {
        let mut start = window
            .after
            .map_or(0, |a| a.saturating_add(1))
            .min(all.len());
        let mut end = window.before.unwrap_or(all.len()).clamp(start, all.len());
        if let Some(first) = window.first {
            end = end.min(start.saturating_add(first));
        }
        if let Some(last) = window.last {
            start = start.max(end.saturating_sub(last));
        }
        let slice = &all[start..end];
        Self {
            edges: slice
                .iter()
                .enumerate()
                .map(|(i, account)| {
                    Some(OrganizationEdge {
                        cursor: cursor(start + i),
                        node: Some(OrganizationNode::from(account)),
                    })
                })
                .collect(),
            nodes: slice
                .iter()
                .map(|account| Some(OrganizationNode::from(account)))
                .collect(),
            page_info: PageInfo {
                end_cursor: (end > start).then(|| cursor(end - 1)),
                has_next_page: end < all.len(),
                has_previous_page: start > 0,
                start_cursor: (end > start).then(|| cursor(start)),
            },
            total_count: i32::try_from(all.len()).unwrap_or(i32::MAX),
        }
    }
}

/// GitHub's `RateLimit`.
#[derive(SimpleObject)]
#[graphql(name = "RateLimit")]
struct RateLimitNode {
    /// The point cost for the current query counting against the rate limit.
    cost: i32,
    /// The maximum number of points the client is permitted to consume in a 60 minute window.
    limit: i32,
    /// The maximum number of nodes this query may return.
    node_count: i32,
    /// The number of points remaining in the current rate limit window.
    remaining: i32,
    /// The time at which the current rate limit window resets in UTC epoch seconds.
    reset_at: DateTime,
    /// The number of points used in the current rate limit window.
    used: i32,
}

/// The answer to a body that is no GraphQL request (no query, ill-typed variables, a query
/// over the size bound): a 400, as GraphQL over HTTP answers a request it cannot take, in
/// GraphQL's error shape. A query that is taken but fails is a 200 with its errors.
fn request_error(message: &str) -> Response {
    (
        axum::http::StatusCode::BAD_REQUEST,
        Json(json!({ "errors": [{ "message": message }] })),
    )
        .into_response()
}

/// POST /api/graphql and POST /graphql: runs one query for the token's user.
pub async fn graphql(
    State(state): State<AppState>,
    GraphQlAuth(record, rate): GraphQlAuth,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let JsonObject(body) = body.map_err(ApiError::for_graphql)?;
    let scopes = scope_headers(&super::extract::Caller::Token(record.clone()), "");
    let Some(Value::String(query)) = body.get("query") else {
        return Ok((
            scopes,
            request_error("A query attribute must be specified and must be a string."),
        )
            .into_response());
    };
    if query.len() > MAX_QUERY {
        return Ok((
            scopes,
            request_error(&format!(
                "Query is too large: {} bytes, the limit is {MAX_QUERY}.",
                query.len()
            )),
        )
            .into_response());
    }
    // The request's shape is checked before its query is read: a body that is no GraphQL
    // request is a 400 whatever its query holds.
    let variables = match body.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables.clone(),
        Some(_) => {
            return Ok((scopes, request_error("Variables are invalid JSON.")).into_response());
        }
    };
    let operation_name = match body.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.as_str()),
        Some(_) => {
            return Ok((scopes, request_error("operationName must be a string.")).into_response());
        }
    };
    let document = match async_graphql::parser::parse_query(query) {
        Ok(document) => document,
        Err(error) => return Ok((scopes, Json(parse_error(query, &error))).into_response()),
    };
    let mut request = async_graphql::Request::new(query.as_str())
        .variables(async_graphql::Variables::from_json(Value::Object(
            variables,
        )))
        .data(Viewer {
            state: state.clone(),
            user: record.user.clone(),
            rate,
        });
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    let response = state.graphql.execute(request).await;
    Ok((scopes, Json(githubs_shape(&response, &document))).into_response())
}

/// A syntax error as GitHub words it: `Parse error on "x" at [line, column]`.
fn parse_error(query: &str, error: &async_graphql::parser::Error) -> Value {
    let Some(pos) = error.positions().next() else {
        return json!({ "errors": [{ "message": "Parse error: the query is not valid GraphQL" }] });
    };
    let token = query
        .lines()
        .nth(pos.line.saturating_sub(1))
        .and_then(|line| line.chars().nth(pos.column.saturating_sub(1)));
    let message = match token {
        Some(token) => format!(
            "Parse error on {:?} at [{}, {}]",
            token.to_string(),
            pos.line,
            pos.column
        ),
        None => "Unexpected end of document".to_owned(),
    };
    json!({ "errors": [{
        "message": message,
        "locations": [{ "line": pos.line, "column": pos.column }],
    }]})
}

/// The library's answer in GitHub's shape. An answer whose query never ran (it failed
/// validation) has no `data`, as GitHub's has none.
fn githubs_shape(response: &async_graphql::Response, document: &ExecutableDocument) -> Value {
    let ran = !matches!(response.data, async_graphql::Value::Null)
        || response.errors.iter().any(|e| !e.path.is_empty());
    let errors: Vec<Value> = response
        .errors
        .iter()
        .map(|error| github_error(error, document))
        .collect();
    let mut out = Map::new();
    if ran {
        out.insert(
            "data".into(),
            serde_json::to_value(&response.data).unwrap_or(Value::Null),
        );
    }
    if !errors.is_empty() {
        out.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(out)
}

fn github_error(error: &async_graphql::ServerError, document: &ExecutableDocument) -> Value {
    let locations: Vec<Value> = error
        .locations
        .iter()
        .map(|pos| json!({ "line": pos.line, "column": pos.column }))
        .collect();
    let mut out = Map::new();
    // "Unknown field \"x\" on type \"Query\"." is GitHub's undefinedField.
    let unknown = error
        .message
        .strip_prefix("Unknown field \"")
        .and_then(|rest| rest.split_once("\" on type \""))
        .and_then(|(field, rest)| Some((field, rest.split_once('"')?.0)));
    if let Some((field, type_name)) = unknown {
        if let Some(pos) = error.locations.first() {
            out.insert("path".into(), json!(document_path(document, *pos)));
        }
        out.insert(
            "extensions".into(),
            json!({ "code": "undefinedField", "typeName": type_name, "fieldName": field }),
        );
        out.insert("locations".into(), Value::Array(locations));
        out.insert(
            "message".into(),
            format!("Field '{field}' doesn't exist on type '{type_name}'").into(),
        );
        return Value::Object(out);
    }
    // A resolver's error: GitHub puts its `type` at the top.
    let kind = error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("type"))
        .and_then(|value| match value {
            async_graphql::Value::String(text) => Some(text.clone()),
            _ => None,
        });
    if let Some(kind) = kind {
        out.insert("type".into(), kind.into());
    }
    if !error.path.is_empty() {
        out.insert(
            "path".into(),
            serde_json::to_value(&error.path).unwrap_or(Value::Null),
        );
    }
    if !locations.is_empty() {
        out.insert("locations".into(), Value::Array(locations));
    }
    out.insert("message".into(), error.message.clone().into());
    Value::Object(out)
}

/// The path through the document to the field at `pos`, as GitHub names it: the operation
/// (`query`, `query Name`) or fragment (`fragment Name`), then each field's alias or name,
/// and `... on Type` for an inline fragment.
fn document_path(document: &ExecutableDocument, pos: async_graphql::Pos) -> Vec<String> {
    let operations: Vec<(String, &Positioned<SelectionSet>)> = match &document.operations {
        DocumentOperations::Single(operation) => {
            vec![(operation.node.ty.to_string(), &operation.node.selection_set)]
        }
        DocumentOperations::Multiple(operations) => operations
            .iter()
            .map(|(name, operation)| {
                (
                    format!("{} {name}", operation.node.ty),
                    &operation.node.selection_set,
                )
            })
            .collect(),
    };
    let fragments = document
        .fragments
        .iter()
        .map(|(name, fragment)| (format!("fragment {name}"), &fragment.node.selection_set));
    for (root, selections) in operations.into_iter().chain(fragments) {
        let mut path = vec![root];
        if find_field(selections, pos, &mut path) {
            return path;
        }
    }
    Vec::new()
}

fn find_field(
    selections: &Positioned<SelectionSet>,
    pos: async_graphql::Pos,
    path: &mut Vec<String>,
) -> bool {
    for item in &selections.node.items {
        let (step, inner) = match &item.node {
            Selection::Field(field) => {
                let name = field.node.alias.as_ref().unwrap_or(&field.node.name);
                if field.pos == pos {
                    path.push(name.node.to_string());
                    return true;
                }
                (name.node.to_string(), &field.node.selection_set)
            }
            Selection::InlineFragment(fragment) => {
                let on = fragment.node.type_condition.as_ref().map_or_else(
                    || "...".to_owned(),
                    |c| format!("... on {}", c.node.on.node),
                );
                (on, &fragment.node.selection_set)
            }
            Selection::FragmentSpread(_) => continue,
        };
        path.push(step);
        if find_field(inner, pos, path) {
            return true;
        }
        path.pop();
    }
    false
}
