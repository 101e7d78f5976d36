//! Fixture files (`grantd seed FILE`, `grantd serve --seed FILE`): users and apps in TOML,
//! loaded idempotently and atomically. Parsing and validation happen here; the store applies
//! the resulting plan in one transaction, so a bad file loads nothing.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::OffsetDateTime;

use crate::domain::app::{self, AppKind, AppSpec};
use crate::domain::secret::{ClientSecret, Password, PasswordCost};
use crate::domain::user::{self, UserSpec};
use crate::domain::{self as domain_mod, ClientId, Login};
use crate::store::{
    AppUpsert, FixturePlan, OrgUpsert, RepoUpsert, Store, UpsertResult, UserUpsert,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    orgs: Vec<OrgEntry>,
    #[serde(default)]
    apps: Vec<AppEntry>,
    #[serde(default)]
    repos: Vec<RepoEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgEntry {
    login: String,
    id: Option<i64>,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoEntry {
    owner: String,
    name: String,
    id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    login: String,
    password: String,
    email: Option<String>,
    totp_secret: Option<String>,
    #[serde(default)]
    site_admin: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    name: String,
    url: String,
    owner: String,
    kind: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    expire_user_tokens: bool,
    user_token_ttl: Option<String>,
    /// The authorization callback URL of the web application flow.
    callback_url: Option<String>,
    /// Whether the app may use the device flow (GitHub's "Enable Device Flow").
    #[serde(default)]
    device_flow: bool,
}

/// Why a fixture file was refused: which file, which entry, and what is wrong with it.
#[derive(Debug)]
pub struct Error {
    pub file: PathBuf,
    pub entry: Option<String>,
    pub problem: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{}: {entry}: {}", self.file.display(), self.problem),
            None => write!(f, "{}: {}", self.file.display(), self.problem),
        }
    }
}

impl std::error::Error for Error {}

/// What loading changed.
#[derive(Debug, Default)]
pub struct Report {
    pub users: Vec<(String, UpsertResult)>,
    pub orgs: Vec<(String, UpsertResult)>,
    /// `owner/name` of each repository.
    pub repos: Vec<(String, UpsertResult)>,
    pub apps: Vec<AppReport>,
}

#[derive(Debug)]
pub struct AppReport {
    pub name: String,
    pub client_id: ClientId,
    pub result: UpsertResult,
    /// The secret grantd generated, when the app was created without one in the file: shown
    /// this once, since only its digest is stored.
    pub generated_secret: Option<ClientSecret>,
}

fn describe(error: &domain_mod::Error) -> String {
    match error {
        domain_mod::Error::Invalid(errors) => errors
            .iter()
            .map(|e| {
                e.message
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", e.field, e.code.as_str()))
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Reads, validates and loads the fixture file at `path`.
pub async fn load_file(
    store: &dyn Store,
    path: &Path,
    now: OffsetDateTime,
) -> Result<Report, Error> {
    load_file_at(store, path, now, PasswordCost::Standard).await
}

/// [`load_file`], hashing the users' passwords at `cost`: [`PasswordCost::Throwaway`] only
/// for a database removed at exit (`serve --ephemeral`).
pub async fn load_file_at(
    store: &dyn Store,
    path: &Path,
    now: OffsetDateTime,
    cost: PasswordCost,
) -> Result<Report, Error> {
    let fail = |entry: Option<String>, problem: String| failure(path, entry, problem);
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(None, format!("cannot read the file: {e}")))?;
    let file: FixtureFile = toml::from_str(&text).map_err(|e| {
        let (entry, problem) = describe_toml_error(&text, &e);
        fail(entry, problem)
    })?;

    let (users, logins) = plan_users(store, path, file.users, cost).await?;
    let (apps, generated) = plan_apps(store, path, file.apps, &logins).await?;
    let orgs = plan_orgs(store, path, file.orgs, &logins).await?;
    let repos = plan_repos(store, path, file.repos, &logins, &orgs).await?;
    let plan = FixturePlan {
        users,
        orgs,
        apps,
        repos,
    };

    let outcome = store
        .apply_fixture(&plan, now)
        .await
        .map_err(|e| fail(None, e.to_string()))?;
    let users = plan
        .users
        .iter()
        .zip(outcome.users)
        .map(|(u, r)| (u.login.to_string(), r))
        .collect();
    let apps = plan
        .apps
        .iter()
        .zip(outcome.apps)
        .zip(generated)
        .map(|((app, (client_id, result)), secret)| AppReport {
            name: app.name.clone(),
            client_id,
            result,
            generated_secret: secret.filter(|_| result == UpsertResult::Created),
        })
        .collect();
    let orgs = plan
        .orgs
        .iter()
        .zip(outcome.orgs)
        .map(|(o, r)| (o.login.to_string(), r))
        .collect();
    let repos = plan
        .repos
        .iter()
        .zip(outcome.repos)
        .map(|(r, result)| (format!("{}/{}", r.owner, r.name), result))
        .collect();
    Ok(Report {
        users,
        orgs,
        repos,
        apps,
    })
}

fn failure(path: &Path, entry: Option<String>, problem: String) -> Error {
    Error {
        file: path.to_owned(),
        entry,
        problem,
    }
}

/// Validates the users and hashes their passwords. Returns the plan's users and the
/// case-folded logins of the file, each with its index.
async fn plan_users(
    store: &dyn Store,
    path: &Path,
    entries: Vec<UserEntry>,
    cost: PasswordCost,
) -> Result<(Vec<UserUpsert>, HashMap<String, usize>), Error> {
    let fail = |entry: Option<String>, problem: String| failure(path, entry, problem);
    let mut users = Vec::new();
    let mut logins: HashMap<String, usize> = HashMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = format!("users[{i}] (login {:?})", entry.login);
        let spec = UserSpec {
            login: entry.login,
            password: Password::new(entry.password),
            email: entry.email,
            totp_secret: entry.totp_secret,
            site_admin: entry.site_admin,
        };
        let (login, totp_secret) =
            user::validate_spec(&spec).map_err(|e| fail(Some(name.clone()), describe(&e)))?;
        if let Some(first) = logins.insert(login.key(), i) {
            return Err(fail(
                Some(name),
                format!("duplicate login (also users[{first}])"),
            ));
        }
        // Re-hash only when the stored password differs, so loading twice changes nothing.
        let existing = store
            .find_user_by_login(&login)
            .await
            .map_err(|e| fail(Some(name.clone()), e.to_string()))?;
        let unchanged = match existing {
            Some(current) => {
                user::verify_password(spec.password.clone(), Some(current.password_hash))
                    .await
                    .map_err(|e| fail(Some(name.clone()), e.to_string()))?
            }
            None => false,
        };
        let password_hash = if unchanged {
            None
        } else {
            Some(
                user::hash_password_at(spec.password, cost)
                    .await
                    .map_err(|e| fail(Some(name.clone()), e.to_string()))?,
            )
        };
        users.push(UserUpsert {
            login,
            email: spec.email,
            password_hash,
            totp_secret,
            site_admin: spec.site_admin,
        });
    }

    Ok((users, logins))
}

/// Validates the apps and generates the client ids and secrets the file leaves out. Returns
/// the plan's apps and, for each, the secret to show if the app gets created.
async fn plan_apps(
    store: &dyn Store,
    path: &Path,
    entries: Vec<AppEntry>,
    logins: &HashMap<String, usize>,
) -> Result<(Vec<AppUpsert>, Vec<Option<ClientSecret>>), Error> {
    let fail = |entry: Option<String>, problem: String| failure(path, entry, problem);
    let mut apps = Vec::new();
    let mut client_ids: HashMap<String, usize> = HashMap::new();
    let mut generated = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = format!("apps[{i}] (name {:?})", entry.name);
        let kind_text = entry.kind.as_deref().unwrap_or("oauth");
        let kind = AppKind::parse(kind_text).ok_or_else(|| {
            fail(
                Some(name.clone()),
                format!("kind {kind_text:?} is not \"oauth\" or \"github\""),
            )
        })?;
        let spec = AppSpec {
            kind,
            name: entry.name.clone(),
            url: entry.url,
            callback_url: entry.callback_url,
            device_flow: entry.device_flow,
            owner: entry.owner.clone(),
            client_id: entry.client_id.clone(),
            client_secret: entry.client_secret.map(ClientSecret::new),
            user_token_ttl: user_token_ttl(
                entry.expire_user_tokens,
                entry.user_token_ttl.as_deref(),
            )
            .map_err(|problem| fail(Some(name.clone()), problem))?,
        };
        let (client_id, secret) =
            app::prepare(&spec).map_err(|e| fail(Some(name.clone()), describe(&e)))?;
        if entry.client_id.is_some()
            && let Some(first) = client_ids.insert(client_id.to_string(), i)
        {
            return Err(fail(
                Some(name),
                format!("duplicate client_id (also apps[{first}])"),
            ));
        }
        let owner = Login::parse(&entry.owner).ok_or_else(|| {
            fail(
                Some(name.clone()),
                format!("owner {:?} is not a valid login", entry.owner),
            )
        })?;
        let in_file = logins.contains_key(&owner.key());
        let in_store = in_file
            || store
                .find_user_by_login(&owner)
                .await
                .map_err(|e| fail(Some(name.clone()), e.to_string()))?
                .is_some();
        if !in_store {
            return Err(fail(
                Some(name),
                format!(
                    "unknown owner {:?}: add it to [[users]] or with `grantd user add`",
                    entry.owner
                ),
            ));
        }
        let given_secret = spec.client_secret.as_ref().map(ClientSecret::digest);
        generated.push(given_secret.is_none().then(|| secret.clone()));
        apps.push(AppUpsert {
            kind,
            name: entry.name,
            url: spec.url,
            callback_url: spec.callback_url,
            device_flow: spec.device_flow,
            owner,
            client_id: entry.client_id.is_some().then(|| client_id.clone()),
            generated_client_id: client_id,
            secret: given_secret,
            generated_secret: secret.digest(),
            secret_last_eight: secret.last_eight(),
            user_token_ttl: spec.user_token_ttl,
        });
    }

    Ok((apps, generated))
}

/// `expire_user_tokens` and `user_token_ttl` ("8h", "30s", "1h 30m") to a lifetime, bounded
/// as `--user-token-ttl` is (`config::TOKEN_TTL`).
fn user_token_ttl(expire: bool, ttl: Option<&str>) -> Result<Option<time::Duration>, String> {
    match (expire, ttl) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err("user_token_ttl needs expire_user_tokens = true".to_owned()),
        (true, None) => Ok(Some(app::DEFAULT_USER_TOKEN_TTL)),
        (true, Some(text)) => {
            let parsed = crate::config::parse_duration(text, crate::config::TOKEN_TTL)
                .map_err(|e| format!("user_token_ttl {text:?}: {e}"))?;
            time::Duration::try_from(parsed)
                .map(Some)
                .map_err(|e| format!("user_token_ttl {text:?}: {e}"))
        }
    }
}

/// Does `login` name a user of the file or of the database?
async fn user_exists(
    store: &dyn Store,
    login: &Login,
    logins: &HashMap<String, usize>,
) -> Result<bool, crate::store::Error> {
    if logins.contains_key(&login.key()) {
        return Ok(true);
    }
    store.find_user_by_login(login).await.map(|u| u.is_some())
}

/// Validates the organizations: valid logins, not shared with a user, members that exist.
async fn plan_orgs(
    store: &dyn Store,
    path: &Path,
    entries: Vec<OrgEntry>,
    logins: &HashMap<String, usize>,
) -> Result<Vec<OrgUpsert>, Error> {
    let mut orgs: Vec<OrgUpsert> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = format!("orgs[{i}] (login {:?})", entry.login);
        let fail = |problem: String| failure(path, Some(name.clone()), problem);
        let login =
            Login::parse(&entry.login).ok_or_else(|| fail("the login is not valid".to_owned()))?;
        if logins.contains_key(&login.key()) || orgs.iter().any(|o| o.login == login) {
            return Err(fail(
                "duplicate login (users and organizations share one namespace)".to_owned(),
            ));
        }
        if entry.id.is_some_and(|id| id <= 0) {
            return Err(fail("id must be a positive integer".to_owned()));
        }
        let mut members = Vec::new();
        for member in &entry.members {
            let member_login = Login::parse(member)
                .ok_or_else(|| fail(format!("member {member:?} is not a valid login")))?;
            if !user_exists(store, &member_login, logins)
                .await
                .map_err(|e| fail(e.to_string()))?
            {
                return Err(fail(format!(
                    "unknown member {member:?}: add it to [[users]] or with `grantd user add`"
                )));
            }
            members.push(member_login);
        }
        orgs.push(OrgUpsert {
            login,
            id: entry.id,
            members,
        });
    }
    Ok(orgs)
}

/// Validates the repositories: owners that exist (users or organizations), no duplicates.
async fn plan_repos(
    store: &dyn Store,
    path: &Path,
    entries: Vec<RepoEntry>,
    logins: &HashMap<String, usize>,
    orgs: &[OrgUpsert],
) -> Result<Vec<RepoUpsert>, Error> {
    let mut repos: Vec<RepoUpsert> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = format!("repos[{i}] ({}/{})", entry.owner, entry.name);
        let fail = |problem: String| failure(path, Some(name.clone()), problem);
        let valid_name = !entry.name.is_empty()
            && entry.name.len() <= 100
            && entry
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid_name {
            return Err(fail(
                "the name must be 1-100 letters, digits, '-', '_' or '.'".to_owned(),
            ));
        }
        let owner = Login::parse(&entry.owner)
            .ok_or_else(|| fail("the owner is not a valid login".to_owned()))?;
        let known = orgs.iter().any(|o| o.login == owner)
            || user_exists(store, &owner, logins)
                .await
                .map_err(|e| fail(e.to_string()))?
            || store
                .find_account(&crate::domain::account::AccountRef::Login(
                    owner.to_string(),
                ))
                .await
                .map_err(|e| fail(e.to_string()))?
                .is_some();
        if !known {
            return Err(fail(format!(
                "unknown owner {:?}: add it to [[users]] or [[orgs]]",
                entry.owner
            )));
        }
        if entry.id.is_some_and(|id| id <= 0) {
            return Err(fail("id must be a positive integer".to_owned()));
        }
        if repos
            .iter()
            .any(|r| r.owner == owner && r.name.eq_ignore_ascii_case(&entry.name))
        {
            return Err(fail("duplicate repository".to_owned()));
        }
        repos.push(RepoUpsert {
            owner,
            name: entry.name,
            id: entry.id,
        });
    }
    Ok(repos)
}

/// A TOML error as "line L, column C: key `k`: message", with the entry it falls in
/// (`users[1]`), but without the excerpt of the file that the `toml` crate's own message
/// quotes: that line may hold a password or a client secret.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> (Option<String>, String) {
    let message = error.message().trim_end();
    // serde quotes the value it did not expect ("invalid type: string \"…\", expected a
    // boolean"); keep only what was expected.
    let message = match (message.split_once(':'), message.rsplit_once(", expected ")) {
        (
            Some((kind @ ("invalid type" | "invalid value" | "invalid length"), _)),
            Some((_, expected)),
        ) => {
            format!("{kind}: expected {expected}")
        }
        _ => message.to_owned(),
    };
    let Some(span) = error.span() else {
        return (None, message);
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    // The entry: the last `[[section]]` header before the error, numbered within its section.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut entry = None;
    for header in before
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("[[") && l.ends_with("]]"))
    {
        let section = header[2..header.len() - 2].trim();
        let index = seen.entry(section).or_insert(0);
        entry = Some(format!("{section}[{index}]"));
        *index += 1;
    }
    // The key on the error's line: the part before `=`, which holds no secret.
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    let at = match key {
        Some(key) => format!("line {line}, column {column}, key `{key}`"),
        None => format!("line {line}, column {column}"),
    };
    (entry, format!("{at}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> (Option<String>, String) {
        let error = toml::from_str::<FixtureFile>(text).unwrap_err();
        describe_toml_error(text, &error)
    }

    #[test]
    fn toml_errors_name_entry_and_key_but_never_quote_values() {
        let text = "[[users]]\nlogin = \"a\"\npassword = \"x\"\n\n[[users]]\nlogin = \"b\"\npassword = \"hunter2\"\nsite_admin = \"hunter2\"\n";
        let (entry, problem) = parse_error(text);
        assert_eq!(entry.as_deref(), Some("users[1]"));
        assert!(
            problem.starts_with("line 8, column 14, key `site_admin`: "),
            "{problem}"
        );
        assert!(!problem.contains("hunter2"), "{problem}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let (entry, problem) = parse_error("[[apps]]\nname = \"a\"\nclient_sekret = \"s3cr3t\"\n");
        assert_eq!(entry.as_deref(), Some("apps[0]"));
        assert!(problem.contains("`client_sekret`"), "{problem}");
        assert!(!problem.contains("s3cr3t"), "{problem}");
    }

    /// Fuzzing (issue 18): any text given as a seed file is loaded or refused with an error
    /// that says where and what, never a panic, and never quoting a password or secret.
    mod proptests {
        use std::fmt::Write as _;

        use proptest::prelude::*;

        use super::*;

        /// Values of `password` and `client_secret` carry this, so a test can see them quoted.
        const SECRET: &str = "s3cr3t";

        const SECTIONS: &[&str] = &[
            "[[users]]",
            "[[apps]]",
            "[[orgs]]",
            "[[repos]]",
            "[users]",
            "[[ users ]]",
            "[[bogus]]",
            "[[users]",
            "[apps.x]",
        ];
        const KEYS: &[&str] = &[
            "login",
            "email",
            "totp_secret",
            "site_admin",
            "name",
            "url",
            "owner",
            "kind",
            "client_id",
            "expire_user_tokens",
            "user_token_ttl",
            "callback_url",
            "device_flow",
            "id",
            "members",
            "bogus",
            "users",
            "\"login\"",
            "login.x",
        ];

        /// A TOML value, well-formed or not.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                // serde_json's string escapes are all valid in TOML basic strings.
                "[a-zA-Z0-9 :/.@\\-]{0,16}".prop_map(|t| Value::String(t).to_string()),
                ".{0,12}".prop_map(|t| Value::String(t).to_string()),
                prop::sample::select(vec![
                    "\"alice\"",
                    "\"oauth\"",
                    "\"github\"",
                    "\"http://example.com\"",
                    "\"JBSWY3DPEHPK3PXP\"",
                    "\"8h\"",
                    "\"1000000000y\"",
                    "\"0s\"",
                    "\"a@b\"",
                    "[\"alice\"]",
                    "[]",
                    "{}",
                    "{ a = 1 }",
                    "'lit'",
                ])
                .prop_map(str::to_owned),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<bool>().prop_map(|b| b.to_string()),
                "[0-9eE.+\\-_]{1,8}",
                "\"[a-z]{0,6}",
                "[\\[\\]{}=,\"'#]{1,4}",
                Just(String::new()),
            ]
        }

        /// A value that holds a secret, for the keys whose values must never be quoted back.
        fn secret_value() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z0-9 ]{0,8}".prop_map(|t| format!("\"{SECRET}{t}\"")),
                "[a-z0-9 ]{0,8}".prop_map(|t| format!("'{SECRET}{t}'")),
                "[a-z0-9]{0,8}".prop_map(|t| format!("\"{SECRET}{t}")),
                Just(format!("[\"{SECRET}\"]")),
                Just(format!("{{ x = \"{SECRET}\" }}")),
            ]
        }

        fn line() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => prop::sample::select(SECTIONS).prop_map(str::to_owned),
                6 => (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
                2 => (prop::sample::select(&["password", "client_secret"][..]), secret_value())
                    .prop_map(|(k, v)| format!("{k} = {v}")),
                1 => "[ -~]{0,20}",
                1 => Just(String::new()),
                1 => Just("# comment".to_owned()),
            ]
        }

        /// TOML-ish text: lines of sections and `key = value`, joined by LF or CRLF.
        fn text() -> impl Strategy<Value = String> {
            (prop::collection::vec(line(), 0..16), any::<bool>())
                .prop_map(|(lines, crlf)| lines.join(if crlf { "\r\n" } else { "\n" }))
        }

        /// A file that parses (a few fields per entry) and so reaches validation.
        fn parsing_text() -> impl Strategy<Value = String> {
            let user = (
                prop_oneof!["[a-z][a-z0-9\\-]{0,5}", ".{0,6}", Just("alice".to_owned())],
                "[a-z0-9 ]{0,6}",
                prop::option::of(prop_oneof![
                    Just("JBSWY3DPEHPK3PXP"),
                    Just("nope"),
                    Just("")
                ]),
                prop::option::of(prop_oneof![Just("a@b"), Just("ab")]),
            )
                .prop_map(|(login, password, totp, email)| {
                    let mut entry = format!(
                        "[[users]]\nlogin = {}\npassword = \"{SECRET}{password}\"\n",
                        Value::String(login)
                    );
                    if let Some(totp) = totp {
                        writeln!(entry, "totp_secret = \"{totp}\"").unwrap();
                    }
                    if let Some(email) = email {
                        writeln!(entry, "email = \"{email}\"").unwrap();
                    }
                    entry
                });
            let app = (
                ".{0,6}",
                prop_oneof![Just("http://a.example"), Just("javascript:x"), Just("")],
                prop_oneof![Just("alice"), Just("nobody"), Just("-x")],
                prop_oneof![Just("oauth"), Just("github"), Just("other")],
                prop::option::of(prop_oneof!["[ -~]{0,24}", Just("00000000000000000000".to_owned())]),
                prop::option::of("[a-z0-9]{0,8}"),
                prop::option::of(prop_oneof![Just("8h"), Just("0s"), Just("x"), Just("1000000000000000y")]),
                any::<bool>(),
                prop::option::of(any::<bool>()),
            )
                .prop_map(|(name, url, owner, kind, client_id, secret, ttl, expire, device_flow)| {
                    let mut entry = format!(
                        "[[apps]]\nname = {}\nurl = \"{url}\"\nowner = \"{owner}\"\nkind = \"{kind}\"\nexpire_user_tokens = {expire}\n",
                        Value::String(name)
                    );
                    if let Some(device_flow) = device_flow {
                        writeln!(entry, "device_flow = {device_flow}").unwrap();
                    }
                    if let Some(id) = client_id {
                        writeln!(entry, "client_id = {}", Value::String(id)).unwrap();
                    }
                    if let Some(secret) = secret {
                        writeln!(entry, "client_secret = \"{SECRET}{secret}\"").unwrap();
                    }
                    if let Some(ttl) = ttl {
                        writeln!(entry, "user_token_ttl = \"{ttl}\"").unwrap();
                    }
                    entry
                });
            let org = (
                prop_oneof![Just("acme"), Just("alice"), Just("-")],
                prop::option::of(any::<i64>()),
                prop::collection::vec(prop_oneof![Just("alice"), Just("nobody"), Just("!")], 0..3),
            )
                .prop_map(|(login, id, members)| {
                    let mut entry =
                        format!("[[orgs]]\nlogin = \"{login}\"\nmembers = {members:?}\n");
                    if let Some(id) = id {
                        writeln!(entry, "id = {id}").unwrap();
                    }
                    entry
                });
            let repo = (
                prop_oneof![Just("acme"), Just("alice"), Just("nobody")],
                prop_oneof!["[a-z._\\-]{0,6}", ".{0,4}"],
                prop::option::of(any::<i64>()),
            )
                .prop_map(|(owner, name, id)| {
                    let mut entry = format!(
                        "[[repos]]\nowner = \"{owner}\"\nname = {}\n",
                        Value::String(name)
                    );
                    if let Some(id) = id {
                        writeln!(entry, "id = {id}").unwrap();
                    }
                    entry
                });
            (
                prop::collection::vec(user, 0..3),
                prop::collection::vec(app, 0..3),
                prop::collection::vec(org, 0..2),
                prop::collection::vec(repo, 0..2),
            )
                .prop_map(|(users, apps, orgs, repos)| [users, apps, orgs, repos].concat().concat())
        }

        use serde_json::Value;

        /// An error says where it is and what is wrong, and quotes no secret.
        fn assert_names_the_problem(error: &Error, text: &str) -> Result<(), TestCaseError> {
            let shown = error.to_string();
            prop_assert!(!error.problem.trim().is_empty(), "{}", shown);
            prop_assert!(!shown.contains(SECRET), "{} quoted from:\n{}", shown, text);
            Ok(())
        }

        proptest! {
            #[test]
            fn any_text_parses_or_says_where_it_does_not(
                text in prop_oneof![text(), any::<String>(), parsing_text()],
            ) {
                if let Err(error) = toml::from_str::<FixtureFile>(&text) {
                    let (entry, problem) = describe_toml_error(&text, &error);
                    let error = Error { file: PathBuf::from("seed.toml"), entry, problem };
                    assert_names_the_problem(&error, &text)?;
                    if error.problem.starts_with("line ") {
                        prop_assert!(error.problem.contains(", column "), "{}", error);
                    }
                }
            }

            #[test]
            fn any_ttl_is_read_or_refused(expire in any::<bool>(), ttl in prop::option::of(".{0,12}|[0-9]{1,25}[a-z]{1,2}")) {
                let _ = user_token_ttl(expire, ttl.as_deref());
            }
        }

        /// Whole files through validation and the store: fewer cases, as every valid user
        /// costs an argon2 hash.
        #[test]
        fn any_file_loads_or_says_what_is_wrong() {
            let dir = tempfile::tempdir().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let store = runtime
                .block_on(crate::store::open(&format!(
                    "sqlite://{}",
                    dir.path().join("grantd.db").display()
                )))
                .unwrap();
            let path = dir.path().join("seed.toml");
            let config = ProptestConfig {
                cases: 48,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            proptest!(config, |(text in prop_oneof![3 => parsing_text(), 1 => text()])| {
                std::fs::write(&path, &text).unwrap();
                let now = OffsetDateTime::now_utc();
                match runtime.block_on(load_file(store.as_ref(), &path, now)) {
                    Ok(_) => {
                        // Loading again changes nothing and fails nothing.
                        prop_assert!(runtime.block_on(load_file(store.as_ref(), &path, now)).is_ok());
                    }
                    Err(error) => assert_names_the_problem(&error, &text)?,
                }
            });
        }
    }
}
