//! Commands: each parses nothing itself (clap did) and decides nothing itself (the domain
//! does); it opens the store, calls the domain and prints the outcome as text or JSON.

mod app;
mod audit;
mod seed;
pub(crate) mod serve;
mod user;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde::Serialize;

use crate::config::{
    AppCommand, Cli, Command, DbArgs, MintArgs, OutputArgs, TokenCommand, UserCommand,
};
use crate::domain;
use crate::store::{self, Store};

/// Runs a command; errors go to stderr and make the exit code 1.
pub async fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Seed(args) => seed::run(&args).await,
        Command::Migrate { db, output } => migrate(&db, output).await,
        Command::Audit(args) => audit::run(&args).await,
        Command::Token(TokenCommand::Mint(args)) => mint(args).await,
        Command::Export { out, db } => export(&db, out.as_deref()).await,
        Command::Import { file, db, output } => import(&db, &file, output).await,
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
            UserCommand::Unlock { login, db, output } => user::unlock(&db, output, &login).await,
            UserCommand::Suspend {
                login,
                reason,
                db,
                output,
            } => user::suspend(&db, output, &login, true, reason.as_deref()).await,
            UserCommand::Unsuspend { login, db, output } => {
                user::suspend(&db, output, &login, false, None).await
            }
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
    store::open_with(
        &db.db,
        store::PoolSettings::default(),
        db.secret_key_file.as_deref(),
    )
    .await
    .context("cannot open the database (check --db or GRANTD_DB)")
}

/// Reads a password from the first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<domain::secret::Password> {
    read_stdin_line("password").map(domain::secret::Password::new)
}

/// The first line of standard input, without its line ending: how secrets reach commands, so
/// that none appears in the process list or in shell history.
fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(anyhow!("the {what} on standard input is empty"));
    }
    Ok(line.to_owned())
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

/// A command's "now": the system's clock, the one the server reads too.
fn now() -> time::OffsetDateTime {
    domain::clock::Clock::now(&domain::clock::SystemClock::default())
}

/// `grantd migrate`: opening a store applies the embedded migrations (or refuses a database
/// migrated by a newer grantd), so this opens it and reports.
async fn migrate(db: &DbArgs, output: OutputArgs) -> anyhow::Result<()> {
    open_store(db).await?;
    print(output, &serde_json::json!({ "migrated": true }), || {
        "the database schema is up to date".to_owned()
    })
}

/// `grantd export`: the whole database as JSON, to a file (created readable by its owner only)
/// or to standard output.
async fn export(db: &DbArgs, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let dump = serde_json::to_vec_pretty(&store.export().await?)?;
    match out {
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(&dump)?;
        }
        Some(path) => std::io::Write::write_all(&mut create_private(path)?, &dump)?,
    }
    Ok(())
}

/// `grantd import FILE`: loads a dump into a new, empty database.
async fn import(db: &DbArgs, file: &std::path::Path, output: OutputArgs) -> anyhow::Result<()> {
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let dump: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a grantd dump (JSON)", file.display()))?;
    let store = open_store(db).await?;
    let counts = store.import(&dump).await?;
    let json: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(table, n)| (table.clone(), serde_json::Value::from(*n)))
        .collect();
    print(output, &json, || {
        counts
            .iter()
            .map(|(table, n)| format!("{table}: {n} imported"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Creates a file for secrets: it must not exist, and only its owner may read it.
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// `grantd token mint`.
async fn mint(args: MintArgs) -> anyhow::Result<()> {
    use std::io::Write as _;
    let store = open_store(&args.db).await?;
    let user = domain::user::find(&*store, &args.user).await.map_err(|e| {
        explain(e, || {
            format!("no user named {:?} (see `grantd user list`)", args.user)
        })
    })?;
    let app = domain::app::find(&*store, &args.client_id)
        .await
        .map_err(|e| {
            explain(e, || {
                format!(
                    "no app with client id {:?} (see `grantd app list`)",
                    args.client_id
                )
            })
        })?;
    let scopes = domain::scope::Scopes::parse(&args.scopes)
        .map_err(|unknown| anyhow!("unknown scopes: {}", unknown.join(", ")))?;
    let mut out = std::io::BufWriter::new(create_private(&args.out)?);
    let started = std::time::Instant::now();
    let minted = domain::authorization::mint(
        &*store,
        &user,
        &app.summary(),
        &scopes,
        domain::authorization::MintCount {
            count: args.count,
            batch_size: usize::try_from(args.batch_size)
                .ok()
                .and_then(std::num::NonZeroUsize::new)
                .context("--batch-size out of range")?,
        },
        now(),
        |token| writeln!(out, "{}", token.expose()),
    )
    .await
    .map_err(|e| explain(e, String::new))?;
    out.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    let json = serde_json::json!({ "minted": minted, "out": args.out.display().to_string(), "seconds": seconds });
    print(args.output, &json, || {
        format!(
            "minted {minted} tokens of {} for {} into {} in {seconds:.1} s",
            app.client_id,
            user.login,
            args.out.display()
        )
    })
}
