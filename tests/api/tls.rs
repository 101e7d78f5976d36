//! HTTPS (issue 21): `serve` over TLS with HTTP/1.1 and HTTP/2 by ALPN, TLS 1.2+ only, the
//! certificate reloaded without dropping connections (the function SIGHUP calls, and the
//! signal itself to the binary), `--tls-self-signed`'s files, `Strict-Transport-Security`,
//! clear start-up errors for bad files, and the slow-client limits applied to handshakes.
//! Every client here trusts the server's CA and nothing else.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use grantd::server::ConnectionLimits;
use grantd::tls::self_signed::Files;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    ALICE, DEFAULT_FIXTURE, RequestExt, ServerOptions, ServerProcess, TestServer, client_trusting,
    grantd, id_of, make_certificates, sqlite_url, tls_connect, write_file,
};

/// Long enough for any machine to notice a closed connection; far shorter than "never".
const BOUND: Duration = Duration::from_secs(10);

/// The certificate files of a `spawn_tls` server.
fn served_files(srv: &TestServer) -> Files {
    Files::beside(&srv.dir().join("grantd.db"))
}

/// One `GET path` on an open connection, kept alive; the status.
async fn get_on<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nhost: grantd\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    tokio::time::timeout(BOUND, async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("read the answer");
            assert!(n > 0, "closed mid-answer");
            bytes.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .expect("a content-length")
                .trim()
                .parse()
                .expect("a length");
            if body.len() >= length {
                return head[9..12].parse().expect("a status");
            }
        }
    })
    .await
    .expect("answered within 10 s")
}

/// Waits for the server to close `stream`: end of file, or a reset.
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server left the connection open");
}

#[tokio::test]
async fn http1_and_http2_are_both_served_over_tls_as_alpn_chooses() {
    let srv = TestServer::spawn_tls(None, ServerOptions::default()).await;
    // reqwest offers h2 and http/1.1: the server picks h2.
    let res = srv.get("/healthz").send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    // A real operation over HTTP/2: its url fields are built on the https public URL.
    let body = srv.create_pat(&ALICE, "over h2").await;
    let id = id_of(&body);
    assert_eq!(
        body["url"],
        format!("https://{}/authorizations/{id}", srv.addr())
    );

    let http1 = client_trusting(srv.ca_pem()).http1_only().build().unwrap();
    let res = http1.get(srv.url("/user")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), 401);

    // A client that trusts other CAs only (here, none) refuses the server.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(stranger.get(srv.url("/healthz")).send().await.is_err());
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_served() {
    let srv = TestServer::spawn_tls(None, ServerOptions::default()).await;
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let client = client_trusting(srv.ca_pem())
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let res = client.get(srv.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{version:?}");
    }
}

/// A TLS 1.1 ClientHello (no `supported_versions` extension, so TLS 1.1 at most), written by
/// hand: no client library here can still speak it.
fn tls_1_1_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x02]; // client_version: TLS 1.1
    hello.extend_from_slice(&[0x5a; 32]); // random
    hello.push(0); // no session id
    // Suites the server has (ECDHE-ECDSA and ECDHE-RSA with AES-128-GCM), so that the version
    // is the only thing wrong.
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]);
    hello.extend_from_slice(&[0x01, 0x00]); // compression: null only
    // signature_algorithms (ecdsa_secp256r1_sha256), which rustls reads before the version;
    // clients send the same extensions whatever version they offer.
    hello.extend_from_slice(&[0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut handshake = vec![0x01, 0x00, 0x00, u8::try_from(hello.len()).unwrap()];
    handshake.extend(hello);
    let mut record = vec![
        0x16,
        0x03,
        0x01,
        0x00,
        u8::try_from(handshake.len()).unwrap(),
    ];
    record.extend(handshake);
    record
}

#[tokio::test]
async fn a_tls_1_1_client_is_refused_with_a_protocol_version_alert() {
    let srv = TestServer::spawn_tls(None, ServerOptions::default()).await;
    let mut stream = TcpStream::connect(srv.addr()).await.unwrap();
    stream.write_all(&tls_1_1_client_hello()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed within 10 s")
        .expect("read the answer");
    // One alert record: fatal (2), protocol_version (70).
    assert_eq!(answer.first(), Some(&0x15), "not an alert: {answer:02x?}");
    assert_eq!(
        answer.get(3..7),
        Some(&[0x00, 0x02, 0x02, 70][..]),
        "{answer:02x?}"
    );
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_connections_and_keeps_open_ones() {
    let srv = TestServer::spawn_tls(None, ServerOptions::default()).await;
    let first_ca = srv.ca_pem().to_vec();
    let mut open = tls_connect(srv.addr(), "127.0.0.1", &first_ca)
        .await
        .expect("trusted");
    assert_eq!(get_on(&mut open, "/healthz").await, 200);

    // A certificate by another CA, copied over the served files.
    let other = tempfile::tempdir().unwrap();
    let next = make_certificates(other.path(), "127.0.0.1");
    let next_ca = std::fs::read(&next.ca_cert).unwrap();
    let served = served_files(&srv);
    std::fs::copy(&next.cert, &served.cert).unwrap();
    std::fs::copy(&next.key, &served.key).unwrap();
    srv.tls().reload().expect("the new files load");

    // The open connection goes on.
    assert_eq!(get_on(&mut open, "/healthz").await, 200);
    // New ones get the new certificate.
    let mut fresh = tls_connect(srv.addr(), "127.0.0.1", &next_ca)
        .await
        .expect("the new certificate");
    assert_eq!(get_on(&mut fresh, "/healthz").await, 200);
    assert!(
        tls_connect(srv.addr(), "127.0.0.1", &first_ca)
            .await
            .is_err(),
        "the old certificate is still served"
    );

    // A file that cannot be used: an error naming it, and the certificate in use stays.
    std::fs::write(&served.cert, "not a certificate\n").unwrap();
    let error = srv.tls().reload().unwrap_err().to_string();
    assert!(error.contains("holds no PEM certificate"), "{error}");
    assert!(
        error.contains(&served.cert.display().to_string()),
        "{error}"
    );
    let mut still = tls_connect(srv.addr(), "127.0.0.1", &next_ca)
        .await
        .expect("still the new certificate");
    assert_eq!(get_on(&mut still, "/healthz").await, 200);
    assert_eq!(get_on(&mut open, "/healthz").await, 200);
}

#[tokio::test]
async fn strict_transport_security_is_sent_with_an_https_public_url_only() {
    const HSTS: &str = "max-age=31536000";
    let https = TestServer::spawn_tls(None, ServerOptions::default()).await;
    for path in ["/healthz", "/user", "/login", "/no/such/path"] {
        let res = https.get(path).go().await;
        assert_eq!(
            res.header("strict-transport-security").as_deref(),
            Some(HSTS),
            "{path}"
        );
    }
    // Behind a TLS proxy: plain HTTP here, https for the clients.
    let proxied = TestServer::spawn_with_public_url("https://grantd.example").await;
    let res = proxied.get("/healthz").go().await;
    assert_eq!(
        res.header("strict-transport-security").as_deref(),
        Some(HSTS)
    );

    let plain = TestServer::spawn().await;
    for path in ["/healthz", "/user", "/login"] {
        let res = plain.get(path).go().await;
        assert_eq!(res.header("strict-transport-security"), None, "{path}");
    }
}

#[tokio::test]
async fn a_tls_handshake_that_never_ends_is_closed_at_the_header_read_timeout() {
    let srv = TestServer::spawn_tls(
        None,
        ServerOptions {
            connections: Some(ConnectionLimits {
                header_read_timeout: Duration::from_millis(500),
                idle_timeout: Duration::from_mins(1),
                max_connections: 100,
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(srv.addr()).await.unwrap();
    // The first bytes of a ClientHello, and no more.
    stream
        .write_all(&tls_1_1_client_hello()[..12])
        .await
        .unwrap();
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn a_silent_tls_connection_is_closed_at_the_idle_timeout() {
    let srv = TestServer::spawn_tls(
        None,
        ServerOptions {
            connections: Some(ConnectionLimits {
                header_read_timeout: Duration::from_mins(1),
                idle_timeout: Duration::from_millis(500),
                max_connections: 100,
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(srv.addr()).await.unwrap();
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn tls_connections_past_the_cap_are_refused_with_503_over_tls() {
    let srv = TestServer::spawn_tls(
        None,
        ServerOptions {
            connections: Some(ConnectionLimits {
                max_connections: 1,
                ..ConnectionLimits::default()
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut held = tls_connect(srv.addr(), "127.0.0.1", srv.ca_pem())
        .await
        .unwrap();
    assert_eq!(get_on(&mut held, "/healthz").await, 200);

    // The refusal is HTTP/1.1 even to a client offering h2.
    let res = srv.get("/healthz").send().await.expect("answered");
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({
            "message": "Service Unavailable: the server has 1 connections open, its limit; \
                        try again shortly",
            "documentation_url": "https://docs.github.com/enterprise-server@3.19/rest",
        })
    );
    assert_eq!(get_on(&mut held, "/healthz").await, 200);
}

/// Shutdown ends promptly with TLS connections open: a kept-alive one is closed at once, and
/// one midway through its handshake is dropped, not left to its header-read timeout (10 min
/// here, far past the 20 s `restart` allows the old server to stop).
#[tokio::test]
async fn shutdown_is_not_held_up_by_tls_connections() {
    let mut srv = TestServer::spawn_tls(
        None,
        ServerOptions {
            connections: Some(ConnectionLimits {
                header_read_timeout: Duration::from_mins(10),
                idle_timeout: Duration::from_mins(10),
                max_connections: 100,
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut kept_alive = tls_connect(srv.addr(), "127.0.0.1", srv.ca_pem())
        .await
        .unwrap();
    assert_eq!(get_on(&mut kept_alive, "/healthz").await, 200);
    let mut halfway = TcpStream::connect(srv.addr()).await.unwrap();
    halfway
        .write_all(&tls_1_1_client_hello()[..12])
        .await
        .unwrap();
    // Waits for the old server to return (failing after 20 s) before starting the new one.
    srv.restart().await;
    closed_by_server(&mut halfway).await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(BOUND, kept_alive.read(&mut buf))
        .await
        .expect("closed within 10 s");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The new server serves over TLS with the same certificate.
    assert_eq!(srv.get("/healthz").go().await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

/// Waits for `needle` to appear in the log file at `path`, the `n`th time: the server logs
/// it when it has acted on a signal, an event no client can see otherwise.
async fn wait_for_log(path: &Path, needle: &str, n: usize) {
    for _ in 0..400 {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.matches(needle).count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{needle:?} not logged within 20 s:\n{}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn serve_tls_self_signed_makes_owner_only_files_once_and_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let files = Files::beside(&dir.path().join("grantd.db"));
    let args = ["--seed", seed.to_str().unwrap(), "--tls-self-signed"];

    let server = ServerProcess::start(&db, &args, &dir.path().join("one.log"));
    // Printed after the seed's report, before the listening line.
    assert_eq!(
        server.printed.last(),
        Some(&format!(
            "grantd TLS CA certificate: {}",
            files.ca_cert.display()
        ))
    );
    #[cfg(unix)]
    for path in [&files.ca_cert, &files.ca_key, &files.cert, &files.key] {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    let ca = std::fs::read(&files.ca_cert).unwrap();
    let cert = std::fs::read(&files.cert).unwrap();
    let client = client_trusting(&ca).build().unwrap();
    let https = |path: &str| format!("https://{}{path}", server.addr);
    // No --public-url: the default one is https.
    let res = client
        .post(https("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "note": "over https" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["url"],
        https(&format!("/authorizations/{}", id_of(&body)))
    );
    drop(server);

    // Started again: the same CA and server certificate.
    let server = ServerProcess::start(&db, &args, &dir.path().join("two.log"));
    assert_eq!(std::fs::read(&files.ca_cert).unwrap(), ca);
    assert_eq!(std::fs::read(&files.cert).unwrap(), cert);
    let res = client
        .get(format!("https://{}/healthz", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let port = server.addr.port();
    drop(server);

    // Another public host: a new server certificate by the same CA, valid for that host.
    let public_url = format!("https://grantd.test:{port}");
    let mut moved = args.to_vec();
    moved.extend(["--public-url", &public_url]);
    let server = ServerProcess::start(&db, &moved, &dir.path().join("three.log"));
    assert_eq!(std::fs::read(&files.ca_cert).unwrap(), ca);
    assert_ne!(std::fs::read(&files.cert).unwrap(), cert);
    #[cfg(unix)]
    assert_eq!(mode(&files.cert), 0o600);
    let mut stream = tls_connect(server.addr, "grantd.test", &ca)
        .await
        .expect("valid for grantd.test, by the same CA");
    assert_eq!(get_on(&mut stream, "/healthz").await, 200);
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("first")).unwrap();
    std::fs::create_dir(dir.path().join("next")).unwrap();
    let first = make_certificates(&dir.path().join("first"), "127.0.0.1");
    let next = make_certificates(&dir.path().join("next"), "127.0.0.1");
    let first_ca = std::fs::read(&first.ca_cert).unwrap();
    let next_ca = std::fs::read(&next.ca_cert).unwrap();
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let log = dir.path().join("serve.log");
    let server = ServerProcess::start(
        &db,
        &[
            "--tls-cert",
            first.cert.to_str().unwrap(),
            "--tls-key",
            first.key.to_str().unwrap(),
        ],
        &log,
    );
    let mut open = tls_connect(server.addr, "127.0.0.1", &first_ca)
        .await
        .expect("the first certificate");
    assert_eq!(get_on(&mut open, "/healthz").await, 200);

    std::fs::copy(&next.cert, &first.cert).unwrap();
    std::fs::copy(&next.key, &first.key).unwrap();
    signal(server.pid(), "-HUP");
    wait_for_log(&log, "reloaded the TLS certificate", 1).await;
    let mut fresh = tls_connect(server.addr, "127.0.0.1", &next_ca)
        .await
        .expect("the next certificate");
    assert_eq!(get_on(&mut fresh, "/healthz").await, 200);
    assert!(
        tls_connect(server.addr, "127.0.0.1", &first_ca)
            .await
            .is_err()
    );
    assert_eq!(
        get_on(&mut open, "/healthz").await,
        200,
        "dropped by the reload"
    );

    // A bad file: logged, and the certificate in use stays.
    std::fs::write(
        &first.key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    signal(server.pid(), "-HUP");
    wait_for_log(&log, "cannot reload the TLS certificate", 1).await;
    let mut still = tls_connect(server.addr, "127.0.0.1", &next_ca)
        .await
        .expect("still the next certificate");
    assert_eq!(get_on(&mut still, "/healthz").await, 200);
}

/// `grantd serve` with `args` must stop before serving, with an error containing `expected`,
/// and without creating the database.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let database = dir.join("never.db");
    let db = sqlite_url(&database);
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--db", &db];
    all.extend_from_slice(args);
    let out = grantd(&all, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    assert!(!database.exists(), "{args:?} touched the database");
}

#[tokio::test]
async fn bad_certificate_or_key_files_stop_the_start_with_a_message_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("one")).unwrap();
    std::fs::create_dir(dir.path().join("two")).unwrap();
    let one = make_certificates(&dir.path().join("one"), "127.0.0.1");
    let two = make_certificates(&dir.path().join("two"), "127.0.0.1");
    let missing = dir.path().join("missing.pem");
    let garbage = write_file(dir.path(), "garbage.pem", "hello\n");
    let (cert, key) = (one.cert.to_str().unwrap(), one.key.to_str().unwrap());

    refused(
        dir.path(),
        &["--tls-cert", missing.to_str().unwrap(), "--tls-key", key],
        &format!("cannot read {}", missing.display()),
    );
    refused(
        dir.path(),
        &["--tls-cert", garbage.to_str().unwrap(), "--tls-key", key],
        &format!("{} holds no PEM certificate", garbage.display()),
    );
    refused(
        dir.path(),
        &["--tls-cert", cert, "--tls-key", cert],
        &format!("{cert} holds no PEM private key"),
    );
    refused(
        dir.path(),
        &["--tls-cert", cert, "--tls-key", two.key.to_str().unwrap()],
        &format!(
            "the key in {} does not belong to the certificate in {cert}",
            two.key.display()
        ),
    );
    refused(dir.path(), &["--tls-cert", cert], "--tls-key");
    refused(
        dir.path(),
        &["--tls-self-signed", "--tls-cert", cert, "--tls-key", key],
        "cannot be used with",
    );
}

#[tokio::test]
async fn tls_self_signed_needs_a_sqlite_database_to_keep_its_files_beside() {
    let out = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "postgres://grantd@127.0.0.1:1/grantd",
            "--tls-self-signed",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("with PostgreSQL give --tls-cert and --tls-key"),
        "{stderr}"
    );
}
