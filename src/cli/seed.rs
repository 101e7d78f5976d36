//! `grantd seed FILE`, also used by `serve --seed`.

use serde::Serialize;

use super::{now, open_store, print};
use crate::config::{OutputArgs, SeedArgs};
use crate::fixture::{self, Report};
use crate::store::{Store, UpsertResult};

#[derive(Serialize)]
struct EntryJson {
    name: String,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

#[derive(Serialize)]
struct ReportJson {
    users: Vec<EntryJson>,
    orgs: Vec<EntryJson>,
    repos: Vec<EntryJson>,
    apps: Vec<EntryJson>,
}

const fn result_name(result: UpsertResult) -> &'static str {
    match result {
        UpsertResult::Created => "created",
        UpsertResult::Updated => "updated",
        UpsertResult::Unchanged => "unchanged",
    }
}

fn named(entries: &[(String, UpsertResult)]) -> Vec<EntryJson> {
    entries
        .iter()
        .map(|(name, r)| EntryJson {
            name: name.clone(),
            result: result_name(*r),
            client_id: None,
            client_secret: None,
        })
        .collect()
}

fn report_json(report: &Report) -> ReportJson {
    ReportJson {
        orgs: named(&report.orgs),
        repos: named(&report.repos),
        users: named(&report.users),
        apps: report
            .apps
            .iter()
            .map(|a| EntryJson {
                name: a.name.clone(),
                result: result_name(a.result),
                client_id: Some(a.client_id.to_string()),
                client_secret: a.generated_secret.as_ref().map(|s| s.expose().to_owned()),
            })
            .collect(),
    }
}

fn report_text(report: &Report) -> String {
    let mut lines: Vec<String> = report
        .users
        .iter()
        .map(|(login, r)| format!("user {login}: {}", result_name(*r)))
        .collect();
    lines.extend(
        report
            .orgs
            .iter()
            .map(|(login, r)| format!("org {login}: {}", result_name(*r))),
    );
    lines.extend(
        report
            .repos
            .iter()
            .map(|(name, r)| format!("repo {name}: {}", result_name(*r))),
    );
    for app in &report.apps {
        lines.push(format!(
            "app {:?} ({}): {}",
            app.name,
            app.client_id,
            result_name(app.result)
        ));
        if let Some(secret) = &app.generated_secret {
            // Generated secrets exist nowhere else in clear: this is the only chance to see them.
            lines.push(format!(
                "  client_secret: {} (generated; shown only once)",
                secret.expose()
            ));
        }
    }
    lines.join("\n")
}

/// Loads a fixture and prints what changed.
pub async fn load_and_report(
    store: &dyn Store,
    file: &std::path::Path,
    output: OutputArgs,
) -> anyhow::Result<()> {
    let report = fixture::load_file(store, file, now()).await?;
    print_report(&report, output)
}

/// Prints what loading a fixture changed (generated client secrets included: this is their
/// only showing).
pub fn print_report(report: &Report, output: OutputArgs) -> anyhow::Result<()> {
    print(output, &report_json(report), || report_text(report))
}

pub async fn run(args: &SeedArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db).await?;
    load_and_report(&*store, &args.file, args.output).await
}
