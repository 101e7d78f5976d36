//! grantd's integration tests: one binary, one module per API area. Every test starts its own
//! server (in-process through `grantd::serve`, or the built binary) on its own temporary SQLite
//! database, and checks the wire contract of docs/api.md: statuses, the
//! headers that matter and whole JSON bodies.

// Tests may unwrap and panic: a panic is how a test fails (STYLE.md section 9).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::too_many_lines, clippy::needless_pass_by_value, dead_code)]

mod accepted_values;
mod admin_users;
mod api_v3;
mod app_api_v3;
mod app_isolation;
mod app_token_lifecycle;
mod app_tokens;
#[cfg(unix)]
mod at_rest;
mod audit;
mod authentication;
mod authorizations;
mod bad_input;
mod binary;
mod cli;
mod conditional_requests;
mod conventions;
mod conventions_binary;
mod device_flow;
mod expiry;
mod faults;
mod fuzz;
mod get_or_create;
#[cfg(unix)]
mod gh_cli;
mod ghes_endpoints;
mod grants;
mod graphql;
mod identifiers;
mod isolation;
mod legacy;
mod leniency;
mod migrations;
mod mint;
mod nodes;
mod octokit;
mod openapi;
mod operability;
mod pagination;
mod pool;
mod postgres_outage;
mod public_url;
mod python_clients;
mod races;
mod rate_limits;
mod refresh;
mod retirement;
mod scoped_permissions;
mod scoped_tokens;
mod scopes;
mod settings;
mod signin;
mod slow_clients;
mod support;
mod suspension;
mod test_controls;
mod test_server;
mod throttling;
mod tls;
mod token_index;
mod transfer;
mod two_factor;
mod updates;
mod user_endpoint;
mod web_flow;
