//! `serve`'s settings as one validated [`ServeConfig`], built once from its flags and
//! environment (clap's [`ServeArgs`]) before anything is opened, bound or written: each flag
//! was bounded by its parser; here the flags are checked together, so that every combination
//! that cannot be served stops the start with a message naming the flags and the way out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{LogFormat, ServeArgs};
use crate::domain::limits::{LoginThrottle, RateLimit};
use crate::http::controls::ControlToken;
use crate::http::{ApiStatus, Limits};
use crate::server::ConnectionLimits;
use crate::store::PoolSettings;

/// Everything `grantd serve` runs with, consistent as a whole.
#[derive(Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database: Database,
    /// Fixture file to load before serving (`--ephemeral` without one loads the example's).
    pub seed: Option<PathBuf>,
    /// `--public-url`; `None`: `http(s)://` and the address bound.
    pub public_url: Option<String>,
    pub tls: TlsSource,
    pub pool: PoolSettings,
    /// Records the SQLite token index keeps (0: no index); see also
    /// [`ServeConfig::rendered_answers`].
    pub token_cache_size: usize,
    pub counter_sync_interval: Duration,
    pub limits: Limits,
    pub session_ttl: time::Duration,
    pub connections: ConnectionLimits,
    pub request_timeout: Duration,
    pub ghes_version: String,
    pub authorizations_api: ApiStatus,
    /// Whether `GET /metrics` is served (`--metrics`, decided for the address listened on).
    pub metrics: bool,
    pub log_format: LogFormat,
    /// The test controls, if served, with the control token given (a random one if `None`).
    pub test_controls: Option<Option<ControlToken>>,
    /// `--rng-seed`: tokens, codes and ids drawn from this seed instead of the OS.
    pub rng_seed: Option<u64>,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A file (`sqlite://`) or a server (`postgres://`), with the key that seals TOTP secrets.
    Url {
        url: String,
        secret_key_file: Option<PathBuf>,
    },
    /// `--ephemeral`: a throwaway SQLite database in a temporary directory.
    Ephemeral,
}

/// The certificate HTTPS is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Plain HTTP.
    None,
    /// `--tls-cert` and `--tls-key`.
    Files { cert: PathBuf, key: PathBuf },
    /// `--tls-self-signed`: a local CA and a certificate for `host`, kept beside `database`.
    SelfSigned { database: PathBuf, host: String },
}

/// Why `serve` refuses to start, in words that name the flags to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "--db {0}: unsupported database URL scheme; use sqlite://PATH or \
         postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    UnsupportedDatabase(String),
    #[error(
        "--db {0}: an in-memory SQLite database cannot be served (each of the server's \
         connections would see a different, empty database); use --ephemeral for a \
         throwaway database removed at exit"
    )]
    MemoryDatabase(String),
    #[error(
        "--tls-self-signed keeps its CA and certificate beside the SQLite database file; \
         with PostgreSQL give --tls-cert and --tls-key"
    )]
    SelfSignedWithoutFile,
    #[error(
        "--test-controls let whoever holds the control token mint tokens and move time; \
         they are refused on {0}, which is not a loopback address (add \
         --test-controls-force to serve them there anyway)"
    )]
    ControlsNotOnLoopback(SocketAddr),
    #[error(
        "--rng-seed makes every token and code predictable to whoever knows the seed; \
         it is only allowed with --test-controls or --ephemeral"
    )]
    SeedWithoutTesting,
    #[error("{0} is too long")]
    TooLong(&'static str),
}

impl ServeConfig {
    /// For how many token records the rendered answers of checks and `GET /user` are kept
    /// (`http::answers`): a tenth of the SQLite token index (a record's two answers are
    /// ~2.6 kB, the record itself less). None on PostgreSQL: each lookup there decodes a fresh
    /// record, so a kept answer saves rendering only by comparing the record with the one it
    /// was rendered from, which measured no faster than rendering while the answers held
    /// megabytes (BENCHMARKS.md).
    #[must_use]
    pub fn rendered_answers(&self) -> usize {
        match &self.database {
            Database::Url { url, .. } if is_postgres(url) => 0,
            _ => self.token_cache_size / 10,
        }
    }

    /// Checks `args` as a whole; pure (reads no file, opens nothing), so it runs first.
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let database = if args.testing.ephemeral {
            Database::Ephemeral
        } else {
            check_database_url(&args.db.db)?;
            Database::Url {
                url: args.db.db.clone(),
                secret_key_file: args.db.secret_key_file.clone(),
            }
        };
        let tls = if args.tls_self_signed {
            // Beside `--db`'s file even with `--ephemeral`, so that clients keep trusting one
            // CA from one throwaway server to the next.
            let Some(database) = crate::store::sqlite_file(&args.db.db) else {
                return Err(ConfigError::SelfSignedWithoutFile);
            };
            let host = args
                .public_url
                .as_deref()
                .and_then(crate::tls::self_signed::host_of)
                .unwrap_or_else(|| args.listen.ip().to_string());
            TlsSource::SelfSigned { database, host }
        } else {
            // clap makes each of the two require the other.
            match (args.tls_cert, args.tls_key) {
                (Some(cert), Some(key)) => TlsSource::Files { cert, key },
                _ => TlsSource::None,
            }
        };
        let test_controls = if args.testing.test_controls {
            if !args.listen.ip().is_loopback() && !args.testing.test_controls_force {
                return Err(ConfigError::ControlsNotOnLoopback(args.listen));
            }
            Some(args.testing.control_token)
        } else {
            None
        };
        if args.testing.rng_seed.is_some() && !args.testing.test_controls && !args.testing.ephemeral
        {
            return Err(ConfigError::SeedWithoutTesting);
        }
        let limits = Limits {
            rate: RateLimit {
                limit: args.rate_limit,
                window: duration(args.rate_limit_window, "--rate-limit-window")?,
            },
            login: LoginThrottle {
                attempts: args.login_attempts,
                window: duration(args.login_attempts_window, "--login-attempts-window")?,
            },
        };
        Ok(Self {
            listen: args.listen,
            database,
            seed: args.seed,
            public_url: args.public_url,
            tls,
            pool: PoolSettings {
                max_connections: args.db_pool_size,
                statement_timeout: args.db_statement_timeout,
                acquire_timeout: args.db_acquire_timeout,
                throwaway: args.testing.ephemeral,
                busy_timeout: args.db_busy_timeout,
                change_log_retention: args.change_log_retention,
            },
            token_cache_size: args.token_cache_size,
            counter_sync_interval: args.counter_sync_interval,
            limits,
            session_ttl: duration(args.session_ttl, "--session-ttl")?,
            connections: ConnectionLimits {
                header_read_timeout: args.header_read_timeout,
                idle_timeout: args.idle_timeout,
                max_connections: args.max_connections,
            },
            request_timeout: args.request_timeout,
            ghes_version: args.ghes_version,
            authorizations_api: args.authorizations_api,
            metrics: args.metrics.enabled(args.listen),
            log_format: args.log_format,
            test_controls,
            rng_seed: args.testing.rng_seed,
        })
    }
}

/// A database URL `serve` can serve: SQLite or PostgreSQL, and SQLite in a file.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    if !url.starts_with("sqlite:") && !is_postgres(url) {
        return Err(ConfigError::UnsupportedDatabase(url.to_owned()));
    }
    if url.starts_with("sqlite:") && crate::store::sqlite_file(url).is_none() {
        return Err(ConfigError::MemoryDatabase(url.to_owned()));
    }
    Ok(())
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A duration for the date arithmetic (bounded by its flag's parser, far inside its range).
fn duration(duration: Duration, flag: &'static str) -> Result<time::Duration, ConfigError> {
    time::Duration::try_from(duration).map_err(|_| ConfigError::TooLong(flag))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Command};

    /// `grantd serve ARGS` as the binary would see it (no `GRANTD_*` variable is read: clap
    /// reads the environment only for flags absent here, and tests set none).
    fn config(args: &[&str]) -> Result<ServeConfig, ConfigError> {
        let cli = Cli::try_parse_from(["grantd", "serve"].iter().chain(args))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        ServeConfig::from_args(args)
    }

    fn refused(args: &[&str]) -> String {
        config(args).expect_err("refused").to_string()
    }

    #[test]
    fn the_defaults_make_a_config() {
        let config = config(&["--db", "sqlite://grantd.db"]).unwrap();
        assert_eq!(
            config.database,
            Database::Url {
                url: "sqlite://grantd.db".to_owned(),
                secret_key_file: None
            }
        );
        assert_eq!(config.tls, TlsSource::None);
        assert_eq!(config.pool.max_connections, None, "each engine's own");
        assert_eq!(config.pool.busy_timeout, Duration::from_secs(10));
        assert_eq!(config.pool.change_log_retention, Duration::from_mins(10));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert!(config.metrics, "on by default on loopback");
        assert!(config.test_controls.is_none());
    }

    #[test]
    fn answers_are_kept_beside_sqlite_token_index_only() {
        let rendered = |args: &[&str]| config(args).unwrap().rendered_answers();
        assert_eq!(rendered(&["--db", "sqlite://grantd.db"]), 10_000);
        assert_eq!(rendered(&["--ephemeral"]), 10_000);
        let small = ["--db", "sqlite://g.db", "--token-cache-size", "50"];
        assert_eq!(rendered(&small), 5);
        assert_eq!(rendered(&["--db", "postgres://u@h/d"]), 0);
        assert_eq!(rendered(&["--db", "postgresql://u@h/d"]), 0);
    }

    #[test]
    fn settings_reach_the_config() {
        let config = config(&[
            "--db",
            "postgres://u@h/d",
            "--db-pool-size",
            "3",
            "--db-busy-timeout",
            "250ms",
            "--change-log-retention",
            "1h",
            "--request-timeout",
            "5s",
            "--listen",
            "0.0.0.0:8080",
        ])
        .unwrap();
        assert_eq!(config.pool.max_connections, Some(3));
        assert_eq!(config.pool.busy_timeout, Duration::from_millis(250));
        assert_eq!(config.pool.change_log_retention, Duration::from_hours(1));
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert!(!config.metrics, "auto: off beyond loopback");
    }

    #[test]
    fn an_unsupported_or_in_memory_database_is_refused() {
        assert!(refused(&["--db", "mysql://u@h/d"]).contains("unsupported database URL scheme"));
        for memory in ["sqlite::memory:", "sqlite://x.db?mode=memory"] {
            assert!(
                refused(&["--db", memory]).contains("use --ephemeral"),
                "{memory}"
            );
        }
        // With --ephemeral, --db is not served.
        assert!(config(&["--ephemeral", "--db", "sqlite::memory:"]).is_ok());
    }

    #[test]
    fn self_signed_tls_needs_a_sqlite_file() {
        assert_eq!(
            config(&["--db", "postgres://u@h/d", "--tls-self-signed"]).unwrap_err(),
            ConfigError::SelfSignedWithoutFile
        );
        let config = config(&[
            "--db",
            "sqlite:///srv/grantd.db",
            "--tls-self-signed",
            "--public-url",
            "https://ghe.example/api/v3",
        ])
        .unwrap();
        assert_eq!(
            config.tls,
            TlsSource::SelfSigned {
                database: PathBuf::from("/srv/grantd.db"),
                host: "ghe.example".to_owned()
            }
        );
    }

    #[test]
    fn test_controls_beyond_loopback_need_force() {
        let beyond = ["--ephemeral", "--test-controls", "--listen", "0.0.0.0:0"];
        assert!(refused(&beyond).contains("--test-controls-force"));
        let forced = config(&[&beyond[..], &["--test-controls-force"]].concat()).unwrap();
        assert!(forced.test_controls.is_some());
        assert!(
            config(&["--ephemeral", "--test-controls"])
                .unwrap()
                .test_controls
                .is_some()
        );
    }

    #[test]
    fn settings_out_of_bounds_are_refused_by_their_parsers() {
        for (flag, value) in [
            ("--db-pool-size", "0"),
            ("--db-pool-size", "1001"),
            ("--db-busy-timeout", "2h"),
            ("--change-log-retention", "30s"),
            ("--change-log-retention", "2days"),
            ("--request-timeout", "500ms"),
            ("--request-timeout", "2h"),
        ] {
            let parsed = Cli::try_parse_from(["grantd", "serve", flag, value]);
            assert!(parsed.is_err(), "{flag} {value} accepted");
        }
    }
}
