//! `grantd app add|list|delete|rotate-secret`.

use crate::domain::audit::Source;
use serde::Serialize;

use super::{explain, now, open_store, print, read_stdin_line};
use crate::config::{AppAddArgs, AppKindArg, DbArgs, OutputArgs};
use crate::domain::app::{self, App, AppKind, AppSpec};
use crate::domain::clock::timestamp;
use crate::domain::secret::ClientSecret;

#[derive(Serialize)]
struct AppJson {
    id: i64,
    kind: &'static str,
    name: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<String>,
    device_flow: bool,
    owner: String,
    client_id: String,
    /// Only in the output of `add` and `rotate-secret`: it is not stored anywhere in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    created_at: String,
    updated_at: String,
}

impl AppJson {
    fn new(app: &App, secret: Option<&ClientSecret>) -> Self {
        Self {
            id: app.id.0,
            kind: app.kind.as_str(),
            name: app.name.clone(),
            url: app.url.clone(),
            callback_url: app.callback_url.clone(),
            device_flow: app.device_flow,
            owner: app.owner_login.to_string(),
            client_id: app.client_id.to_string(),
            client_secret: secret.map(|s| s.expose().to_owned()),
            created_at: timestamp(app.created_at),
            updated_at: timestamp(app.updated_at),
        }
    }
}

fn credentials_text(app: &App, secret: &ClientSecret) -> String {
    format!(
        "client_id: {}\nclient_secret: {}",
        app.client_id,
        secret.expose()
    )
}

pub async fn add(args: AppAddArgs) -> anyhow::Result<()> {
    if args.client_secret.is_some() {
        anyhow::bail!(
            "--client-secret is refused: an argument is visible to every local user in the \
             process list; pass --client-secret-stdin and write the secret to standard input"
        );
    }
    let client_secret = if args.client_secret_stdin {
        Some(ClientSecret::new(read_stdin_line("client secret")?))
    } else {
        None
    };
    let (db, output) = (&args.db, args.output);
    let store = open_store(db).await?;
    let kind = match args.kind {
        AppKindArg::Oauth => AppKind::OAuth,
        AppKindArg::Github => AppKind::GitHub,
    };
    let spec = AppSpec {
        kind,
        name: args.name,
        url: args.url,
        callback_url: args.callback_url,
        device_flow: args.device_flow,
        owner: args.owner,
        client_id: args.client_id,
        client_secret,
        user_token_ttl: match (args.expire_user_tokens, args.user_token_ttl) {
            (_, Some(ttl)) => Some(time::Duration::try_from(ttl)?),
            (true, None) => Some(app::DEFAULT_USER_TOKEN_TTL),
            (false, None) => None,
        },
    };
    let (app, secret) = app::register(&*store, spec, None, &Source::command_line(), now())
        .await
        .map_err(|e| explain(e, String::new))?;
    if !output.json {
        eprintln!(
            "registered {} {:?}; the client secret is shown only this once",
            app.kind.as_str(),
            app.name
        );
    }
    print(output, &AppJson::new(&app, Some(&secret)), || {
        credentials_text(&app, &secret)
    })
}

pub async fn list(db: &DbArgs, output: OutputArgs) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let apps = store.list_apps().await?;
    let json: Vec<AppJson> = apps.iter().map(|a| AppJson::new(a, None)).collect();
    print(output, &json, || {
        let header = format!(
            "{:<8} {:<24} {:<7} {:<20} {:<40} {:<6} NAME",
            "ID", "CLIENT_ID", "KIND", "OWNER", "CALLBACK_URL", "DEVICE"
        );
        let rows = json.iter().map(|a| {
            format!(
                "{:<8} {:<24} {:<7} {:<20} {:<40} {:<6} {}",
                a.id,
                a.client_id,
                a.kind,
                a.owner,
                a.callback_url.as_deref().unwrap_or("-"),
                if a.device_flow { "yes" } else { "no" },
                a.name
            )
        });
        std::iter::once(header)
            .chain(rows)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn no_app(client_id: &str) -> impl FnOnce() -> String + '_ {
    move || format!("no app with client id {client_id:?} (see `grantd app list`)")
}

pub async fn delete(db: &DbArgs, output: OutputArgs, client_id: &str) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    app::delete_by_operator(&*store, client_id, &Source::command_line(), now())
        .await
        .map_err(|e| explain(e, no_app(client_id)))?;
    print(
        output,
        &serde_json::json!({"deleted": true, "client_id": client_id}),
        || format!("deleted app {client_id}"),
    )
}

pub async fn rotate_secret(db: &DbArgs, output: OutputArgs, client_id: &str) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let (app, secret) =
        app::rotate_secret(&*store, client_id, None, &Source::command_line(), now())
            .await
            .map_err(|e| explain(e, no_app(client_id)))?;
    print(output, &AppJson::new(&app, Some(&secret)), || {
        credentials_text(&app, &secret)
    })
}
