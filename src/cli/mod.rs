//! Commands: each parses nothing itself (clap did) and decides nothing itself (the domain
//! does); it opens the store, calls the domain and prints the outcome as text or JSON.

mod app;
mod seed;
mod serve;
mod user;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde::Serialize;

use crate::config::{AppCommand, Cli, Command, DbArgs, OutputArgs, UserCommand};
use crate::domain;
use crate::store::{self, Store};

/// Runs a command; errors go to stderr and make the exit code 1.
pub async fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Seed(args) => seed::run(&args).await,
        Command::Migrate { db, output } => migrate(&db, output).await,
        Command::User(command) => match command {
            UserCommand::Add {
                login,
                password_stdin: _,
                email,
                totp_secret,
                site_admin,
                db,
                output,
            } => user::add(&db, output, login, email, totp_secret, site_admin).await,
            UserCommand::List { db, output } => user::list(&db, output).await,
            UserCommand::Passwd {
                login,
                password_stdin: _,
                db,
                output,
            } => user::passwd(&db, output, &login).await,
            UserCommand::Delete { login, db, output } => user::delete(&db, output, &login).await,
        },
        Command::App(command) => match command {
            AppCommand::Add(args) => app::add(args).await,
            AppCommand::List { db, output } => app::list(&db, output).await,
            AppCommand::Delete {
                client_id,
                db,
                output,
            } => app::delete(&db, output, &client_id).await,
            AppCommand::RotateSecret {
                client_id,
                db,
                output,
            } => app::rotate_secret(&db, output, &client_id).await,
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(db: &DbArgs) -> anyhow::Result<Arc<dyn Store>> {
    store::open(&db.db)
        .await
        .context("cannot open the database (check --db or GRANTD_DB)")
}

/// Reads a password from the first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<domain::secret::Password> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from standard input")?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(anyhow!("the password on standard input is empty"));
    }
    Ok(domain::secret::Password::new(password))
}

/// Turns a domain error into a sentence that says what to fix.
fn explain(error: domain::Error, not_found: impl FnOnce() -> String) -> anyhow::Error {
    match error {
        domain::Error::NotFound => anyhow!(not_found()),
        domain::Error::Invalid(errors) => anyhow!(
            errors
                .iter()
                .map(|e| e.message.clone().unwrap_or_else(|| match e.code {
                    domain::error::ErrorCode::AlreadyExists =>
                        format!("that {} is already taken", e.field),
                    code => format!("{} is {}", e.field, code.as_str()),
                }))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        domain::Error::Store(store::Error::Conflict(store::Constraint::OwnsApps)) => {
            anyhow!("the user still owns apps: delete them first (see `grantd app list`)")
        }
        other => anyhow!(other),
    }
}

/// Prints `value` as JSON, or `text` for people.
fn print<T: Serialize>(
    output: OutputArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if output.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

fn now() -> time::OffsetDateTime {
    domain::whole_seconds(time::OffsetDateTime::now_utc())
}

/// `grantd migrate`: opening a store applies the embedded migrations (or refuses a database
/// migrated by a newer grantd), so this opens it and reports.
async fn migrate(db: &DbArgs, output: OutputArgs) -> anyhow::Result<()> {
    open_store(db).await?;
    print(output, &serde_json::json!({ "migrated": true }), || {
        "the database schema is up to date".to_owned()
    })
}
