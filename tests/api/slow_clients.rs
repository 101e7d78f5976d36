//! Issue 18, item 6, as the attack: clients that send their request slowly, or not at all, or
//! open more connections than the server serves. Before the fix every one of these connections
//! stayed open for as long as its client liked. The server here runs with timeouts of a fraction
//! of a second so the tests are quick; every test is bounded ("closed within 10 s, not hung").

use std::time::Duration;

use grantd::server::ConnectionLimits;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{DEFAULT_FIXTURE, ServerOptions, TestServer};

/// Long enough for any machine to notice a closed connection; far shorter than "never".
const BOUND: Duration = Duration::from_secs(10);

async fn server(limits: ConnectionLimits) -> TestServer {
    TestServer::spawn_with_options(
        DEFAULT_FIXTURE,
        None,
        ServerOptions {
            connections: Some(limits),
            ..ServerOptions::default()
        },
    )
    .await
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

/// One `GET path` on `stream`, kept alive; the status and the JSON body of the answer.
async fn get(stream: &mut TcpStream, path: &str) -> (u16, Value) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: grantd\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    tokio::time::timeout(BOUND, read_answer(stream))
        .await
        .expect("answered within 10 s")
}

/// Reads one answer (head, then `content-length` bytes of body).
async fn read_answer(stream: &mut TcpStream) -> (u16, Value) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.expect("read the answer");
        assert!(
            n > 0,
            "closed mid-answer: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let status = head[9..12].parse().expect("a status code");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .expect("a content-length")
        .trim()
        .parse()
        .expect("a length");
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("read the body");
        assert!(n > 0, "closed mid-body");
        bytes.extend_from_slice(&buf[..n]);
    }
    let body = serde_json::from_slice(&bytes[head_end..head_end + length]).expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn a_client_sending_its_head_a_byte_at_a_time_is_disconnected() {
    let srv = server(ConnectionLimits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_mins(1),
        max_connections: 100,
    })
    .await;
    let mut stream = TcpStream::connect(srv.addr()).await.expect("connect");
    // Twenty seconds' worth of head at a byte every 50 ms: never finished before the timeout.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: grantd\r\nx-slow: {}\r\n\r\n",
        "s".repeat(400)
    );
    let mut buf = [0u8; 1024];
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    let disconnected = tokio::time::timeout(BOUND, async {
        for byte in head.as_bytes() {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return true,
                    Ok(n) => panic!("answered: {}", String::from_utf8_lossy(&buf[..n])),
                },
                _ = ticks.tick() => {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return true;
                    }
                }
            }
        }
        false
    })
    .await;
    assert_eq!(
        disconnected,
        Ok(true),
        "the slow client was still connected after 10 s"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let srv = server(ConnectionLimits {
        header_read_timeout: Duration::from_mins(1),
        idle_timeout: Duration::from_millis(500),
        max_connections: 100,
    })
    .await;
    let mut stream = TcpStream::connect(srv.addr()).await.expect("connect");
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_answer() {
    let srv = server(ConnectionLimits {
        header_read_timeout: Duration::from_mins(1),
        idle_timeout: Duration::from_millis(500),
        max_connections: 100,
    })
    .await;
    let mut stream = TcpStream::connect(srv.addr()).await.expect("connect");
    // Keep-alive works as before: two requests on one connection.
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    closed_by_server(&mut stream).await;
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_with_503() {
    const CAP: usize = 3;
    let srv = server(ConnectionLimits {
        max_connections: u32::try_from(CAP).unwrap(),
        ..ConnectionLimits::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(srv.addr()).await.expect("connect");
        assert_eq!(get(&mut stream, "/healthz").await.0, 200);
        open.push(stream);
    }

    // One more: answered at once, not left in the backlog.
    let mut extra = TcpStream::connect(srv.addr()).await.expect("connect");
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, extra.read_to_end(&mut answer))
        .await
        .expect("refused within 10 s")
        .expect("read the refusal");
    let answer = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{head}"
    );
    let head = head.to_lowercase();
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: application/json; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert_eq!(
        serde_json::from_str::<Value>(body).expect("JSON"),
        json!({
            "message": "Service Unavailable: the server has 3 connections open, its limit; \
                        try again shortly",
            "documentation_url": "https://docs.github.com/enterprise-server@3.19/rest",
        })
    );

    // The first ones are served as before.
    for stream in &mut open {
        assert_eq!(get(stream, "/healthz").await.0, 200);
    }

    // One closes; a new connection then gets its place.
    drop(open.pop());
    // The server frees the place when it sees the close, an event the client cannot await:
    // retry, a bounded number of times.
    let mut served = false;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(srv.addr()).await.expect("connect");
        if get(&mut stream, "/healthz").await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "no place freed after a connection closed");
}

/// Shutdown still ends promptly with such connections open: an idle keep-alive one and one
/// that has sent nothing are closed at once, one midway through its head at its timeout.
#[tokio::test]
async fn shutdown_is_not_held_up_by_idle_or_slow_connections() {
    let mut srv = server(ConnectionLimits {
        header_read_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_mins(1),
        max_connections: 100,
    })
    .await;
    let mut kept_alive = TcpStream::connect(srv.addr()).await.expect("connect");
    assert_eq!(get(&mut kept_alive, "/healthz").await.0, 200);
    let mut silent = TcpStream::connect(srv.addr()).await.expect("connect");
    let mut halfway = TcpStream::connect(srv.addr()).await.expect("connect");
    halfway
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: gr")
        .await
        .expect("send half a head");
    // Waits for the old server to return (at most 20 s) before starting the new one.
    srv.restart().await;
    for stream in [&mut kept_alive, &mut silent, &mut halfway] {
        closed_by_server(stream).await;
    }
}
