//! What an operator sees of a running node: the request id on every answer and on its log
//! lines, the log as JSON (`--log-format json`), and `GET /metrics`.

// The samples compared are counts: whole numbers, exact in an f64.
#![allow(clippy::float_cmp)]

use std::collections::{HashMap, HashSet};

use grantd::domain::limits::{LoginThrottle, RateLimit};
use grantd::http::Limits;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::conventions::assert_request_id;
use crate::conventions_binary::{seeded, serve, stop};
use crate::support::{
    ALICE, DEFAULT_FIXTURE, EXPIRING_APP, EXPIRING_TTL_SECONDS, Reply, RequestExt, ServerOptions,
    TestServer, User, apps_fixture, unissued_token, with_bad_checksum,
};

// ---------------------------------------------------------------------------------------------
// X-GitHub-Request-Id
// ---------------------------------------------------------------------------------------------

/// Every kind of answer carries one well-formed id of its own: successes, authentication and
/// validation failures, the fallbacks for unknown paths and methods, a body over the limit,
/// and a rate limit's 403, which the rate-limit check answers before any handler runs.
#[tokio::test]
async fn every_kind_of_answer_carries_its_own_request_id() {
    let options = ServerOptions {
        limits: Limits {
            rate: RateLimit {
                limit: 3,
                window: time::Duration::hours(1),
            },
            login: LoginThrottle::default(),
        },
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await;
    let mut replies = vec![
        (
            "200",
            srv.get("/authorizations").login_as(&ALICE).go().await,
        ),
        ("401", srv.get("/authorizations").go().await),
        (
            "422",
            srv.post("/authorizations")
                .login_as(&ALICE)
                .json(&json!({ "note": "nul \u{0} byte" }))
                .go()
                .await,
        ),
        ("404", srv.get("/api/v3/no/such/path").go().await),
        ("405", srv.request(Method::PATCH, "/user").go().await),
        (
            "413",
            srv.post("/authorizations")
                .login_as(&ALICE)
                .body(vec![b' '; 1024 * 1024 + 1])
                .go()
                .await,
        ),
    ];
    // Alice's three requests so far (200, 422, 413) used her limit up.
    replies.push((
        "403",
        srv.get("/authorizations").login_as(&ALICE).go().await,
    ));
    let mut ids = HashSet::new();
    for (status, reply) in &replies {
        assert_eq!(reply.status.to_string(), *status, "{}", reply.body);
        assert!(
            ids.insert(assert_request_id(reply)),
            "id repeated: {status}"
        );
    }
    assert!(
        replies[6].1.body.contains("API rate limit exceeded"),
        "{}",
        replies[6].1.body
    );
}

// ---------------------------------------------------------------------------------------------
// --log-format json
// ---------------------------------------------------------------------------------------------

/// The stderr log of a stopped server, each line parsed as JSON (a line that does not parse
/// fails the test).
fn json_log(dir: &std::path::Path) -> Vec<Value> {
    let log = std::fs::read_to_string(dir.join("stderr.log")).expect("read the log");
    log.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_each_requests_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &["--seed", &seed],
        &[
            ("GRANTD_LOG_FORMAT", "json"),
            // The line per answered request is at DEBUG (see docs/nodes.md, "Logs").
            ("GRANTD_LOG", "info,grantd::access=debug"),
        ],
    );
    let client = Client::new();
    let replies: Vec<(&str, Reply)> = vec![
        (
            "/authorizations",
            client
                .get(server.url("/authorizations"))
                .login_as(&ALICE)
                .go()
                .await,
        ),
        (
            "/authorizations",
            client.get(server.url("/authorizations")).go().await,
        ),
        ("", client.get(server.url("/no/such/path")).go().await),
        (
            "/authorizations",
            client.put(server.url("/authorizations")).go().await,
        ),
    ];
    assert_eq!(
        replies.iter().map(|(_, r)| r.status).collect::<Vec<_>>(),
        [200, 401, 404, 405]
    );
    drop(client);
    stop(server).await;

    let lines = json_log(dir.path());
    // Lines outside requests (start, shutdown) are JSON too, without a request id.
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "serving" && l.get("request_id").is_none()),
        "{lines:#?}"
    );
    for (route, reply) in &replies {
        let id = assert_request_id(reply);
        let answered: Vec<&Value> = lines
            .iter()
            .filter(|l| l["request_id"] == id.as_str())
            .collect();
        assert_eq!(answered.len(), 1, "id {id}: {lines:#?}");
        let line = answered[0];
        assert_eq!(line["target"], "grantd::access");
        assert_eq!(line["level"], "DEBUG");
        assert_eq!(line["fields"]["message"], "answered");
        assert_eq!(line["fields"]["status"], reply.status);
        assert!(line["fields"]["latency_us"].is_u64(), "{line}");
        // The route pattern once routing matched one; an unknown path has none.
        if route.is_empty() {
            assert!(line.get("route").is_none(), "{line}");
        } else {
            assert_eq!(line["route"], *route, "{line}");
        }
    }
    let ids: HashSet<String> = replies.iter().map(|(_, r)| assert_request_id(r)).collect();
    assert_eq!(ids.len(), replies.len());
}

// ---------------------------------------------------------------------------------------------
// GET /metrics
// ---------------------------------------------------------------------------------------------

/// A scrape: each sample line's series (name and labels, as written) and value. Fails the
/// test unless the answer is Prometheus' text format.
async fn scrape(srv: &TestServer) -> HashMap<String, f64> {
    let reply = srv.get("/metrics").go().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_request_id(&reply);
    let mut samples = HashMap::new();
    for line in reply.body.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(samples.insert(series.to_owned(), value).is_none(), "{line}");
    }
    samples
}

/// A series' value in `after` less its value in `before` (0 where absent).
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or_default() - before.get(series).copied().unwrap_or_default()
}

fn spawn_options() -> ServerOptions {
    ServerOptions {
        metrics: true,
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn metrics_count_each_check_by_outcome_and_each_answer_by_route_and_status() {
    let srv = TestServer::spawn_with_options(&apps_fixture(), None, spawn_options()).await;
    let (_, token) = srv.alice_token(&EXPIRING_APP).await;
    let before = scrape(&srv).await;
    for outcome in ["valid", "unknown", "malformed", "expired"] {
        let series = format!("grantd_token_checks_total{{outcome=\"{outcome}\"}}");
        assert_eq!(before.get(&series), Some(&0.0), "{series} from the start");
    }

    srv.check(&EXPIRING_APP, &token).await.expect_status(200);
    srv.check(&EXPIRING_APP, &unissued_token("ghu_"))
        .await
        .expect_status(404);
    srv.check(&EXPIRING_APP, &with_bad_checksum(&token))
        .await
        .expect_status(404);
    srv.clock.advance(EXPIRING_TTL_SECONDS + 60);
    srv.check(&EXPIRING_APP, &token).await.expect_status(404);
    assert_eq!(srv.get("/no/such/path").go().await.status, 404);
    let after = scrape(&srv).await;

    for outcome in ["valid", "unknown", "malformed", "expired"] {
        let series = format!("grantd_token_checks_total{{outcome=\"{outcome}\"}}");
        assert_eq!(moved(&before, &after, &series), 1.0, "{series}");
    }
    let check = |status: u16| {
        format!(
            "grantd_http_requests_total{{method=\"POST\",route=\"/applications/{{client_id}}/token\",status=\"{status}\"}}"
        )
    };
    assert_eq!(moved(&before, &after, &check(200)), 1.0);
    assert_eq!(moved(&before, &after, &check(404)), 3.0);
    let unmatched = "grantd_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}";
    assert_eq!(moved(&before, &after, unmatched), 1.0);
    // The histogram saw the same four checks, each within the last bucket.
    let latency = "grantd_http_request_duration_seconds_count{method=\"POST\",route=\"/applications/{client_id}/token\"}";
    assert_eq!(moved(&before, &after, latency), 4.0);
    let within_10s = "grantd_http_request_duration_seconds_bucket{method=\"POST\",route=\"/applications/{client_id}/token\",le=\"10\"}";
    assert_eq!(moved(&before, &after, within_10s), 4.0, "{after:#?}");
    // The first scrape is counted in the second under its own route.
    let scrapes = "grantd_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}";
    assert_eq!(after.get(scrapes), Some(&1.0));
    // The store's use, read at the scrape: the pool, and on SQLite its token index (PostgreSQL
    // nodes keep none, and say nothing of one).
    assert!(after["grantd_db_pool_connections"] >= 1.0, "{after:#?}");
    assert!(after.contains_key("grantd_db_pool_connections_in_use"));
    assert!(after["grantd_db_pool_connections_max"] >= 1.0);
    if srv.db_url().starts_with("postgres") {
        assert!(
            !after.contains_key("grantd_token_index_records"),
            "{after:#?}"
        );
    } else {
        assert!(after["grantd_token_index_records"] >= 1.0, "{after:#?}");
    }
}

#[tokio::test]
async fn metrics_count_lockouts() {
    let options = ServerOptions {
        limits: Limits {
            rate: RateLimit::default(),
            login: LoginThrottle {
                attempts: 2,
                window: time::Duration::minutes(5),
            },
        },
        ..spawn_options()
    };
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await;
    let wrong = User {
        login: ALICE.login,
        password: "not alice's password",
    };
    let before = scrape(&srv).await;
    assert_eq!(before.get("grantd_login_lockouts_total"), Some(&0.0));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(srv.get("/authorizations").login_as(&wrong).go().await);
    }
    let locked = statuses.iter().filter(|r| r.status == 403).count();
    assert!(locked >= 1, "no lockout after 4 bad passwords (limit 2)");
    for reply in statuses.iter().filter(|r| r.status == 403) {
        assert!(
            reply
                .body
                .contains("Maximum number of login attempts exceeded"),
            "{}",
            reply.body
        );
    }
    let after = scrape(&srv).await;
    assert_eq!(
        moved(&before, &after, "grantd_login_lockouts_total"),
        f64::from(u32::try_from(locked).unwrap())
    );
}

#[tokio::test]
async fn metrics_are_only_at_the_root_and_only_when_on() {
    let on = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, spawn_options()).await;
    // Not part of the API: not under /api/v3, where the API's 404 answers.
    let nested = on.get("/api/v3/metrics").go().await;
    assert_eq!(nested.status, 404, "{}", nested.body);
    assert_eq!(nested.json()["message"], "Not Found");
    let posted = on.post("/metrics").go().await;
    assert_eq!(posted.status, 405, "{}", posted.body);
    assert_eq!(posted.json()["message"], "Method Not Allowed");

    let off = TestServer::spawn().await;
    let reply = off.get("/metrics").go().await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.json()["message"], "Not Found");
    assert_request_id(&reply);
}

/// `--metrics auto` (the default) serves them on a loopback address, which the tests listen
/// on; `--metrics off` and `GRANTD_METRICS=off` do not.
#[tokio::test]
async fn the_metrics_flag_and_variable_are_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, _) = seeded(dir.path());
    let client = Client::new();
    for (args, envs, expected) in [
        (&[][..], &[][..], 200),
        (&["--metrics", "off"][..], &[][..], 404),
        (&[][..], &[("GRANTD_METRICS", "off")][..], 404),
        (
            &["--metrics", "on"][..],
            &[("GRANTD_METRICS", "off")][..],
            200,
        ),
    ] {
        let server = serve(dir.path(), &db, args, envs);
        let reply = client.get(server.url("/metrics")).go().await;
        assert_eq!(reply.status, expected, "{args:?} {envs:?}: {}", reply.body);
        if expected == 200 {
            assert!(
                reply
                    .body
                    .contains("# TYPE grantd_token_checks_total counter"),
                "{}",
                reply.body
            );
        }
        stop(server).await;
    }
}
