//! The `grantd` binary: parses the command line and hands over to `cli::run`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Every file grantd creates is its owner's alone (the database and its companions, the
    // secret key, exports, minted tokens), whatever code creates it, SQLite's included: they
    // hold password hashes and sealed secrets. Set before anything opens a file.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = grantd::config::Cli::parse();
    let format = match &cli.command {
        grantd::config::Command::Serve(args) => args.log_format,
        _ => grantd::config::LogFormat::Text,
    };
    // Logs go to stderr so that stdout stays clean for command output and `--json`. A thread
    // of their own writes them, many lines at a time: a write per request would cost a system
    // call on every request. Never lossy: a full buffer makes requests wait, it drops nothing.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let logger = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("GRANTD_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(writer);
    // Each line inside a request names it (method, route, request id): see `http::log`.
    match format {
        grantd::config::LogFormat::Text => logger
            .with_ansi(std::io::stderr().is_terminal())
            .event_format(grantd::http::log::LineFormat)
            .init(),
        grantd::config::LogFormat::Json => logger
            .with_ansi(false)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(grantd::http::log::JsonFormat)
            .init(),
    }
    grantd::cli::run(cli).await
}

/// mimalloc rather than glibc's allocator: a request allocates and frees many small objects
/// across threads, which glibc serves more slowly, and glibc kept the freed 19 MiB argon2
/// blocks as resident memory (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
