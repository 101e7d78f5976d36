//! `grantd export` / `import`. One description of every table drives both directions, so a
//! dump taken from one engine loads into the other unchanged: ids, token hashes and secret
//! digests included, hence no token, grant or password is lost in a move from SQLite to
//! PostgreSQL.
//!
//! TOTP secrets travel sealed, as stored, so a dump alone yields none either: an import opens
//! each with the target's key (which must be the source's: `--secret-key-file`), or takes it
//! in clear from a dump of an older grantd, and seals it anew for its row.

use super::engine::{DbRow, Engine};
use super::{SqlStore, backend, map_err};
use crate::domain::UserId;
use crate::store::{Error, Result};

/// How a column travels in a dump.
#[derive(Clone, Copy)]
enum Column {
    Int,
    OptInt,
    Text,
    OptText,
    Flag,
    /// A flag added after dumps of format 1 were first written: read as false when absent, so
    /// an older dump still imports.
    LaterFlag,
    /// Binary (hashes, digests), as lowercase hex.
    Bytes,
}

/// Every table with its columns, parents before children so that foreign keys hold on import.
const TABLES: &[(&str, &[(&str, Column)])] = &[
    (
        "users",
        &[
            ("id", Column::Int),
            ("type", Column::Text),
            ("login", Column::Text),
            ("login_key", Column::Text),
            ("email", Column::OptText),
            ("password_hash", Column::OptText),
            ("totp_secret", Column::OptText),
            ("site_admin", Column::Flag),
            ("created_at", Column::Int),
            ("updated_at", Column::Int),
            // Absent from dumps made before it existed: null, no code used yet.
            ("totp_last_step", Column::OptInt),
        ],
    ),
    (
        "recovery_codes",
        &[("user_id", Column::Int), ("code_hash", Column::Bytes)],
    ),
    (
        "apps",
        &[
            ("id", Column::Int),
            ("kind", Column::Text),
            ("name", Column::Text),
            ("url", Column::Text),
            ("owner_id", Column::Int),
            ("client_id", Column::Text),
            ("expire_user_tokens", Column::Flag),
            ("user_token_ttl", Column::OptInt),
            ("created_at", Column::Int),
            ("updated_at", Column::Int),
            ("callback_url", Column::OptText),
            ("device_flow", Column::LaterFlag),
        ],
    ),
    (
        "app_secrets",
        &[
            ("id", Column::Int),
            ("app_id", Column::Int),
            ("digest", Column::Bytes),
            ("last_eight", Column::OptText),
            ("created_at", Column::Int),
            ("last_used_at", Column::OptInt),
        ],
    ),
    (
        "org_members",
        &[("org_id", Column::Int), ("user_id", Column::Int)],
    ),
    (
        "repositories",
        &[
            ("id", Column::Int),
            ("owner_id", Column::Int),
            ("name", Column::Text),
            ("name_key", Column::Text),
        ],
    ),
    (
        "grants",
        &[
            ("id", Column::Int),
            ("user_id", Column::Int),
            ("app_id", Column::Int),
            ("created_at", Column::Int),
        ],
    ),
    (
        "authorizations",
        &[
            ("id", Column::Int),
            ("user_id", Column::Int),
            ("app_id", Column::OptInt),
            ("grant_id", Column::OptInt),
            ("scopes", Column::Text),
            ("token_hash", Column::Bytes),
            ("token_last_eight", Column::Text),
            ("note", Column::OptText),
            ("note_url", Column::OptText),
            ("fingerprint", Column::Text),
            ("created_at", Column::Int),
            ("updated_at", Column::Int),
            ("expires_at", Column::OptInt),
            ("scope_target_id", Column::OptInt),
            ("scope_permissions", Column::OptText),
            ("scope_repository_selection", Column::OptText),
            ("scope_repository_ids", Column::OptText),
            ("flow", Column::OptText),
            // Absent from dumps made before it existed: never used.
            ("last_used_at", Column::OptInt),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("refresh_hash", Column::Bytes),
            ("authorization_id", Column::Int),
            ("flow", Column::Text),
            ("created_at", Column::Int),
            ("expires_at", Column::Int),
        ],
    ),
];

fn decode_column(row: &impl DbRow, name: &str, column: Column) -> Result<serde_json::Value> {
    use serde_json::Value;
    Ok(match column {
        Column::Int => Value::from(row.try_get::<i64, _>(name).map_err(backend)?),
        Column::OptInt => row
            .try_get::<Option<i64>, _>(name)
            .map_err(backend)?
            .map_or(Value::Null, Value::from),
        Column::Text => Value::from(row.try_get::<String, _>(name).map_err(backend)?),
        Column::OptText => row
            .try_get::<Option<String>, _>(name)
            .map_err(backend)?
            .map_or(Value::Null, Value::from),
        Column::Flag | Column::LaterFlag => {
            Value::from(row.try_get::<bool, _>(name).map_err(backend)?)
        }
        Column::Bytes => Value::from(hex::encode(
            row.try_get::<Vec<u8>, _>(name).map_err(backend)?,
        )),
    })
}

fn bad_dump(table: &str, name: &str) -> Error {
    Error::Backend(format!("the dump's {table}.{name} is missing or of the wrong type").into())
}

impl<DB: Engine> SqlStore<DB> {
    /// Every row of every table, as `{"format": 1, "tables": {"users": [{…}], …}}`.
    pub(super) async fn export_tables(&self) -> Result<serde_json::Value> {
        let mut tx = self.write().await?;
        let mut tables = serde_json::Map::new();
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let sql = format!(
                "SELECT {} FROM {table} ORDER BY {}",
                names.join(", "),
                names[0]
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut object = serde_json::Map::new();
                for (name, column) in *columns {
                    object.insert((*name).to_owned(), decode_column(row, name, *column)?);
                }
                out.push(serde_json::Value::Object(object));
            }
            tables.insert((*table).to_owned(), serde_json::Value::Array(out));
        }
        // How far each id sequence has gone, deleted rows included, so that an import never
        // hands out an id that the source database already used.
        let mut sequences = serde_json::Map::new();
        for (table, columns) in TABLES {
            if columns[0].0 == "id" {
                let sql = DB::sequence_position(table);
                let position: Option<Option<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                sequences.insert(
                    (*table).to_owned(),
                    serde_json::Value::from(position.flatten().unwrap_or(0)),
                );
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(serde_json::json!({ "format": 1, "tables": tables, "sequences": sequences }))
    }

    /// Loads a dump into an empty database in one transaction, then moves the id sequences
    /// past the imported ids. Returns the number of rows per table.
    pub(super) async fn import_tables(
        &self,
        dump: &serde_json::Value,
    ) -> Result<Vec<(String, usize)>> {
        if dump["format"] != 1 {
            return Err(Error::Backend("not a grantd dump of format 1".into()));
        }
        let mut tx = self.write().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if existing > 0 {
            return Err(Error::Backend(
                "the target database is not empty: import only into a new database".into(),
            ));
        }
        let mut counts = Vec::new();
        let older_secrets = secrets_of_an_older_dump(dump);
        for (table, columns) in TABLES {
            let rows = match (*table, &older_secrets) {
                ("app_secrets", Some(rows)) => rows.as_slice(),
                _ => dump["tables"][*table]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice),
            };
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            );
            for row in rows {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (name, column) in *columns {
                    let value = &row[*name];
                    if (*table, *name) == ("users", "totp_secret") {
                        let user = UserId(row["id"].as_i64().ok_or_else(|| bad_dump(table, "id"))?);
                        let sealed = value
                            .as_str()
                            .map(|stored| self.seeds.open_any(stored, user).and_then(|secret| self.seeds.seal(&secret, user)))
                            .transpose()
                            .map_err(|error| {
                                Error::Backend(
                                    format!(
                                        "{error}. A dump's TOTP secrets are sealed with the key of the database it was \
                                         exported from: import with --secret-key-file naming that key file"
                                    )
                                    .into(),
                                )
                            })?;
                        query = query.bind(sealed);
                        continue;
                    }
                    query = match column {
                        Column::Int => {
                            query.bind(value.as_i64().ok_or_else(|| bad_dump(table, name))?)
                        }
                        Column::OptInt => query.bind(value.as_i64()),
                        Column::Text => query.bind(
                            value
                                .as_str()
                                .ok_or_else(|| bad_dump(table, name))?
                                .to_owned(),
                        ),
                        Column::OptText => query.bind(value.as_str().map(str::to_owned)),
                        Column::Flag => {
                            query.bind(value.as_bool().ok_or_else(|| bad_dump(table, name))?)
                        }
                        Column::LaterFlag if value.is_null() => query.bind(false),
                        Column::LaterFlag => {
                            query.bind(value.as_bool().ok_or_else(|| bad_dump(table, name))?)
                        }
                        Column::Bytes => query.bind(
                            value
                                .as_str()
                                .and_then(|h| hex::decode(h).ok())
                                .ok_or_else(|| bad_dump(table, name))?,
                        ),
                    };
                }
                query.execute(&mut *tx).await.map_err(map_err)?;
            }
            if names[0] == "id" {
                let position = dump["sequences"][*table].as_i64().unwrap_or(0);
                let sql = DB::set_sequence_position(table);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(position)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            counts.push(((*table).to_owned(), rows.len()));
        }
        tx.commit().await.map_err(map_err)?;
        Ok(counts)
    }
}

/// A dump made before apps had several secrets keeps each app's one secret as
/// `apps.client_secret_digest` and has no `app_secrets`: those rows, made from it (hint
/// unknown, created when the app last changed). `None` for a dump of today's form.
fn secrets_of_an_older_dump(dump: &serde_json::Value) -> Option<Vec<serde_json::Value>> {
    if dump["tables"].get("app_secrets").is_some() {
        return None;
    }
    let apps = dump["tables"]["apps"].as_array()?;
    Some(
        apps.iter()
            .zip(1_i64..)
            .map(|(app, id)| {
                serde_json::json!({
                    "id": id,
                    "app_id": app["id"],
                    "digest": app["client_secret_digest"],
                    "last_eight": null,
                    "created_at": app["updated_at"],
                    "last_used_at": null,
                })
            })
            .collect(),
    )
}
