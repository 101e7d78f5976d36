//! What an operator sees of a running node: the request id on every answer and on its log
//! lines, the log as JSON (`--log-format json`), and `GET /metrics`.

use std::collections::HashSet;

use reqwest::Client;
use serde_json::Value;

use crate::conventions::assert_request_id;
use crate::conventions_binary::{seeded, serve, stop};
use crate::support::{ALICE, Reply, RequestExt};

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
            // The line per answered request is at DEBUG (see the README's "Logs").
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
