//! `grantd audit`: the audit log read from the database, newest first, as a table or as the
//! JSON objects the audit log API answers. Whoever can run it can read the database anyway,
//! so it needs no site admin.

use std::fmt::Write as _;

use anyhow::anyhow;

use super::open_store;
use crate::config::AuditArgs;
use crate::domain::audit::{self, Order, Query};
use crate::http::audit_log::render;

pub async fn run(args: &AuditArgs) -> anyhow::Result<()> {
    // The same rules as the API's `phrase`: a bad login or action name is refused, not ignored.
    let mut phrase = String::new();
    if let Some(action) = &args.action {
        write!(phrase, "action:{action} ")?;
    }
    if let Some(user) = &args.user {
        write!(phrase, "user:{user}")?;
    }
    let filter = audit::parse_phrase(&phrase).map_err(|_| {
        anyhow!("--user takes a login and --action an action name or category (oauth_access.create, oauth_access)")
    })?;
    let store = open_store(&args.db).await?;
    let query = Query {
        filter,
        after: None,
        before: None,
        order: Order::Desc,
        limit: args.limit,
    };
    let events = store.list_audit_events(&query).await?;
    if args.output.json {
        let rendered: Vec<_> = events.iter().map(|e| render(e, None)).collect();
        println!("{}", serde_json::to_string_pretty(&rendered)?);
        return Ok(());
    }
    let rows: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            let format = time::format_description::well_known::Rfc3339;
            [
                e.created_at.format(&format).unwrap_or_default(),
                e.action.clone(),
                e.actor
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |a| a.login.to_string()),
                e.user
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |u| u.login.to_string()),
                e.app
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |a| a.client_id.clone()),
                e.source
                    .address
                    .map_or_else(|| "-".to_owned(), |a| a.to_string()),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["TIME", "ACTION", "ACTOR", "USER", "APP", "ADDRESS"],
            &rows
        )
    );
    Ok(())
}

/// Left-aligned columns two spaces apart, a header line first.
fn table(header: &[&str; 6], rows: &[[String; 6]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
