//! grantd: a self-hosted, GitHub-compatible OAuth token authority.
//!
//! Layers, outermost first: `cli/` and `http/` translate commands and requests, `domain/` holds
//! GitHub's rules, `store/` is the only code that speaks SQL.

pub mod domain;
pub mod store;
