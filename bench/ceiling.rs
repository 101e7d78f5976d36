//! The benchmark's ceiling: a minimal axum server that answers grantd's hot routes with the same
//! bytes as grantd and no work at all, so that every hot-path figure can be stated as a ratio to
//! what HTTP alone costs on the same machine (see bench/README.md).
//!
//! ```text
//! ceiling --listen 127.0.0.1:0 --check-body FILE --user-body FILE
//!         [--check-headers FILE] [--user-headers FILE] [--check-status CODE]
//!         [--not-found-body FILE] [--not-found-headers FILE]
//!         [--floor CLIENT_ID:CLIENT_SECRET --floor-tokens FILE]
//! ```
//!
//! * `POST /applications/{client_id}/token` answers `--check-status` (default 200) with the
//!   bytes of `--check-body`; `GET /user` answers 200 with the bytes of `--user-body`;
//!   `GET /healthz` answers 200 `{"status":"ok"}`; anything else answers 404 with
//!   `--not-found-body` (default: GitHub's `{"message":"Not Found",...}`).
//! * A `--*-headers` file holds `name: value` lines (as `curl -D` writes them; the status line,
//!   `date`, `content-length`, `connection` and `transfer-encoding` are skipped) replayed as they
//!   are, so the ceiling sends the same header bytes as grantd too. Without one, the only header
//!   besides hyper's own is `content-type: application/json; charset=utf-8`.
//!
//! * With `--floor`, the check route first does the work no token authority can skip, and
//!   nothing else: decode the Basic credentials, compare the client id with the path's, hash
//!   the client secret (SHA-256) and compare the digest in constant time, parse the JSON body,
//!   hash its `access_token` and look the digest up among those of `--floor-tokens` (one token
//!   a line). Wrong credentials answer 401 with GitHub's message; a token not in the set answers
//!   the `--not-found-*` bytes. This is the floor under any implementation of the check: what
//!   the same machine answers with the irreducible work done and no conventions, no storage,
//!   no rendering.
//!
//! It prints `ceiling listening on ADDR` on stdout once bound, as grantd does. The request body is
//! never read or parsed (hyper discards it). Built with `cargo build --release --example ceiling`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const DEFAULT_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const GITHUB_NOT_FOUND: &str =
    r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#;
const GITHUB_UNAUTHORIZED: &str =
    r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#;
const USAGE: &str = "usage: ceiling --listen ADDR --check-body FILE --user-body FILE \
     [--check-headers FILE] [--user-headers FILE] [--check-status CODE] \
     [--not-found-body FILE] [--not-found-headers FILE] \
     [--floor CLIENT_ID:CLIENT_SECRET --floor-tokens FILE]";

/// One fixed response, built once at start and cloned (reference counts only) per request.
#[derive(Clone)]
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Canned {
    fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    fn respond(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

struct Args {
    listen: SocketAddr,
    check_body: PathBuf,
    user_body: PathBuf,
    check_headers: Option<PathBuf>,
    user_headers: Option<PathBuf>,
    check_status: StatusCode,
    not_found_body: Option<PathBuf>,
    not_found_headers: Option<PathBuf>,
    floor: Option<(String, String)>,
    floor_tokens: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut check_body = None;
    let mut user_body = None;
    let mut check_headers = None;
    let mut user_headers = None;
    let mut check_status = StatusCode::OK;
    let mut not_found_body = None;
    let mut not_found_headers = None;
    let mut floor = None;
    let mut floor_tokens = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--listen" => {
                listen = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--listen {value}: {e}"))?,
                );
            }
            "--check-body" => check_body = Some(PathBuf::from(value)),
            "--user-body" => user_body = Some(PathBuf::from(value)),
            "--check-headers" => check_headers = Some(PathBuf::from(value)),
            "--user-headers" => user_headers = Some(PathBuf::from(value)),
            "--check-status" => {
                check_status = value
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .ok_or_else(|| format!("--check-status {value}: not an HTTP status"))?;
            }
            "--not-found-body" => not_found_body = Some(PathBuf::from(value)),
            "--not-found-headers" => not_found_headers = Some(PathBuf::from(value)),
            "--floor" => {
                let (id, secret) = value
                    .split_once(':')
                    .ok_or_else(|| format!("--floor wants CLIENT_ID:CLIENT_SECRET\n{USAGE}"))?;
                floor = Some((id.to_owned(), secret.to_owned()));
            }
            "--floor-tokens" => floor_tokens = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?,
        check_body: check_body.ok_or_else(|| format!("--check-body is required\n{USAGE}"))?,
        user_body: user_body.ok_or_else(|| format!("--user-body is required\n{USAGE}"))?,
        check_headers,
        user_headers,
        check_status,
        not_found_body,
        not_found_headers,
        floor,
        floor_tokens,
    })
}

fn read_body(path: &PathBuf) -> Result<Bytes, String> {
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Headers to replay from a `curl -D` dump, or just the JSON content type without one.
fn read_headers(path: Option<&PathBuf>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    let Some(path) = path else {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
        return Ok(headers);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with("HTTP/") {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{}: not a header line: {line}", path.display()))?;
        let name = name.trim().to_ascii_lowercase();
        // hyper writes these itself for every response.
        if matches!(
            name.as_str(),
            "date" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("{}: header {name}: {e}", path.display()))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|e| format!("{}: header {name}: {e}", path.display()))?;
        headers.append(name, value);
    }
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    }
    Ok(headers)
}

/// The check with only its irreducible work (see `--floor`).
struct Floor {
    client_id: String,
    secret_digest: [u8; 32],
    tokens: HashSet<[u8; 32]>,
    found: Arc<Canned>,
    not_found: Arc<Canned>,
}

#[derive(serde::Deserialize)]
struct CheckBody {
    access_token: String,
}

impl Floor {
    fn new(
        client_id: String,
        secret: &str,
        tokens: &PathBuf,
        found: Arc<Canned>,
        not_found: Arc<Canned>,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(tokens)
            .map_err(|e| format!("cannot read {}: {e}", tokens.display()))?;
        Ok(Self {
            client_id,
            secret_digest: Sha256::digest(secret.as_bytes()).into(),
            tokens: text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|token| Sha256::digest(token.as_bytes()).into())
                .collect(),
            found,
            not_found,
        })
    }

    fn check(&self, path_client_id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let unauthorized = || {
            let mut response = Response::new(Body::from(GITHUB_UNAUTHORIZED));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        };
        let credentials = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| BASE64.decode(encoded).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok());
        let Some((client_id, secret)) = credentials.as_deref().and_then(|c| c.split_once(':'))
        else {
            return unauthorized();
        };
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let secret_matches: bool = digest.ct_eq(&self.secret_digest).into();
        if client_id != self.client_id || client_id != path_client_id || !secret_matches {
            return unauthorized();
        }
        let Ok(body) = serde_json::from_slice::<CheckBody>(body) else {
            return self.not_found.respond();
        };
        let token: [u8; 32] = Sha256::digest(body.access_token.as_bytes()).into();
        if self.tokens.contains(&token) {
            self.found.respond()
        } else {
            self.not_found.respond()
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let check = Arc::new(Canned::new(
        args.check_status,
        read_headers(args.check_headers.as_ref())?,
        read_body(&args.check_body)?,
    ));
    let user = Arc::new(Canned::new(
        StatusCode::OK,
        read_headers(args.user_headers.as_ref())?,
        read_body(&args.user_body)?,
    ));
    let not_found_body = match &args.not_found_body {
        Some(path) => read_body(path)?,
        None => Bytes::from_static(GITHUB_NOT_FOUND.as_bytes()),
    };
    let not_found = Arc::new(Canned::new(
        StatusCode::NOT_FOUND,
        read_headers(args.not_found_headers.as_ref())?,
        not_found_body,
    ));
    let mut health_headers = HeaderMap::new();
    health_headers.insert(CONTENT_TYPE, HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let health = Arc::new(Canned::new(
        StatusCode::OK,
        health_headers,
        Bytes::from_static(br#"{"status":"ok"}"#),
    ));

    let check_route = match args.floor {
        None => post(move || {
            let check = Arc::clone(&check);
            async move { check.respond() }
        }),
        Some((client_id, secret)) => {
            let tokens = args
                .floor_tokens
                .as_ref()
                .ok_or_else(|| format!("--floor needs --floor-tokens\n{USAGE}"))?;
            let floor = Arc::new(Floor::new(
                client_id,
                &secret,
                tokens,
                check,
                Arc::clone(&not_found),
            )?);
            post(
                move |Path(client_id): Path<String>, headers: HeaderMap, body: Bytes| {
                    let floor = Arc::clone(&floor);
                    async move { floor.check(&client_id, &headers, &body) }
                },
            )
        }
    };
    let app = Router::new()
        .route("/applications/{client_id}/token", check_route)
        .route(
            "/user",
            get(move || {
                let user = Arc::clone(&user);
                async move { user.respond() }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let health = Arc::clone(&health);
                async move { health.respond() }
            }),
        )
        .fallback(move || {
            let not_found = Arc::clone(&not_found);
            async move { not_found.respond() }
        });

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    println!("ceiling listening on {address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // SIGINT only; the bench stops it with SIGTERM, which ends the process at once.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server failed: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ceiling: {message}");
            ExitCode::FAILURE
        }
    }
}
