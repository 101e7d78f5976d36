//! The audit log's rows (migration 0011). Events are written by `record_event` inside the
//! transaction of the change they record, and read by `select_audit_events`.

use sqlx::Transaction;

use super::engine::{DbRow, Engine};
use super::rows::{corrupt, timestamp};
use super::{backend, map_err};
use crate::domain::{AppId, Login, UserId};
use crate::store::Result;

const AUDIT_COLUMNS: &str = "id, action, created_at, actor_id, actor, user_id, user_login, app_id, app_name, \
     client_id, actor_ip, user_agent, data";

/// Writes `event` inside `tx`, the change's transaction: if the change rolls back, so does
/// its event. `token_id` is the id of a token the transaction itself created, which the
/// caller could not know in advance.
pub(super) async fn record_event<DB: Engine>(
    tx: &mut Transaction<'static, DB>,
    event: &crate::domain::audit::NewEvent,
    token_id: Option<i64>,
) -> Result<()> {
    let mut data = event.data.clone();
    if let Some(id) = token_id {
        data.insert("token_id".into(), serde_json::Value::from(id));
    }
    let data = serde_json::Value::Object(data).to_string();
    // An event about a token whose owner the caller did not know (a refresh names only the
    // authorization) takes the owner from the token's row, in the same transaction.
    let mut owner: Option<crate::domain::audit::Party> = event.user.clone();
    if owner.is_none()
        && let Some(id) = data_token_id(event, token_id)
    {
        let found: Option<(i64, String)> = sqlx::query_as(
            "SELECT u.id, u.login FROM authorizations a JOIN users u ON u.id = a.user_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
        owner = found.map(|(id, login)| crate::domain::audit::Party {
            id: UserId(id),
            login: Login::parse(&login),
        });
    }
    sqlx::query(
        "INSERT INTO audit_events (action, created_at, actor_id, actor, user_id, user_login, app_id, \
         app_name, client_id, actor_ip, user_agent, data) \
         VALUES ($1, $2, $3, COALESCE($4, (SELECT login FROM users WHERE id = $3)), $5, \
         COALESCE($6, (SELECT login FROM users WHERE id = $5)), $7, $8, $9, $10, $11, $12)",
    )
    .bind(event.action.as_str())
    .bind(event.created_at.unix_timestamp())
    .bind(event.actor.as_ref().map(|a| a.id.0))
    .bind(event.actor.as_ref().and_then(|a| a.login.as_ref()).map(|l| l.as_str().to_owned()))
    .bind(owner.as_ref().map(|u| u.id.0))
    .bind(owner.as_ref().and_then(|u| u.login.as_ref()).map(|l| l.as_str().to_owned()))
    .bind(event.app.as_ref().map(|a| a.id.0))
    .bind(event.app.as_ref().map(|a| a.name.clone()))
    .bind(event.app.as_ref().map(|a| a.client_id.clone()))
    .bind(event.source.address.map(|a| a.to_string()))
    .bind(event.source.user_agent.clone())
    .bind(data)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// The token an event names: the one its transaction created, or the `token_id` it carries.
fn data_token_id(event: &crate::domain::audit::NewEvent, token_id: Option<i64>) -> Option<i64> {
    token_id.or_else(|| {
        event
            .data
            .get("token_id")
            .and_then(serde_json::Value::as_i64)
    })
}

/// A value bound into the audit search, whose WHERE clause depends on the filter.
enum AuditBind {
    Int(i64),
    Len(i32),
    Text(String),
}

/// The WHERE clauses of `query`'s filter and cursors, with the values they bind in order.
fn audit_conditions(query: &crate::domain::audit::Query) -> (Vec<String>, Vec<AuditBind>) {
    use crate::domain::audit::Order;
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<AuditBind> = Vec::new();
    let mut add = |clause: &str, values: Vec<AuditBind>, binds: &mut Vec<AuditBind>| {
        // Each `?` of the clause becomes the next `$N`.
        let mut text = String::new();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                text.push('$');
                text.push_str(&(binds.len() + i).to_string());
            }
            text.push_str(part);
        }
        binds.extend(values);
        clauses.push(text);
    };
    let filter = &query.filter;
    if let Some(action) = &filter.action {
        if action.contains('.') {
            add(
                "action = ?",
                vec![AuditBind::Text(action.clone())],
                &mut binds,
            );
        } else {
            // A category: its actions start with `category.` (compared, not LIKE: `_` is a
            // wildcard there and a common character of action names).
            let prefix = format!("{action}.");
            let len = i32::try_from(prefix.len()).unwrap_or(i32::MAX);
            add(
                "substr(action, 1, ?) = ?",
                vec![AuditBind::Len(len), AuditBind::Text(prefix)],
                &mut binds,
            );
        }
    }
    if let Some(actor) = &filter.actor {
        add(
            "lower(actor) = ?",
            vec![AuditBind::Text(actor.key())],
            &mut binds,
        );
    }
    if let Some(user) = &filter.user {
        add(
            "lower(user_login) = ?",
            vec![AuditBind::Text(user.key())],
            &mut binds,
        );
    }
    if let Some(from) = filter.created_from {
        add(
            "created_at >= ?",
            vec![AuditBind::Int(from.unix_timestamp())],
            &mut binds,
        );
    }
    if let Some(until) = filter.created_until {
        add(
            "created_at < ?",
            vec![AuditBind::Int(until.unix_timestamp())],
            &mut binds,
        );
    }
    if let Some(user) = filter.involving {
        add(
            "(user_id = ? OR actor_id = ?)",
            vec![AuditBind::Int(user.0), AuditBind::Int(user.0)],
            &mut binds,
        );
    }
    if let Some(after) = query.after {
        let clause = if query.order == Order::Asc {
            "id > ?"
        } else {
            "id < ?"
        };
        add(clause, vec![AuditBind::Int(after)], &mut binds);
    }
    if let Some(before) = query.before {
        let clause = if query.order == Order::Asc {
            "id < ?"
        } else {
            "id > ?"
        };
        add(clause, vec![AuditBind::Int(before)], &mut binds);
    }
    (clauses, binds)
}

/// The events `query` selects, in its order. `before` reads backwards from its cursor so that
/// the page is the one nearest to it, then turns the rows round.
pub(super) async fn select_audit_events<DB: Engine>(
    pool: &sqlx::Pool<DB>,
    query: &crate::domain::audit::Query,
) -> Result<Vec<crate::domain::audit::Event>> {
    use crate::domain::audit::Order;
    let (clauses, binds) = audit_conditions(query);
    // Which way the rows are read: the query's order, or its reverse for `before`.
    let backwards = query.before.is_some();
    let ascending = (query.order == Order::Asc) != backwards;
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(if ascending {
        " ORDER BY id ASC"
    } else {
        " ORDER BY id DESC"
    });
    sql.push_str(" LIMIT $");
    sql.push_str(&(binds.len() + 1).to_string());
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        statement = match bind {
            AuditBind::Int(value) => statement.bind(value),
            AuditBind::Len(value) => statement.bind(value),
            AuditBind::Text(value) => statement.bind(value),
        };
    }
    let rows = statement
        .bind(i64::from(query.limit))
        .fetch_all(pool)
        .await
        .map_err(map_err)?;
    let mut events = rows
        .iter()
        .map(audit_event_from_row)
        .collect::<Result<Vec<_>>>()?;
    if backwards {
        events.reverse();
    }
    Ok(events)
}

fn audit_event_from_row(row: &impl DbRow) -> Result<crate::domain::audit::Event> {
    use crate::domain::audit::{AccountName, AppName, Event, Source};
    let account = |id: &str, login: &str| -> Result<Option<AccountName>> {
        let id: Option<i64> = row.try_get(id).map_err(backend)?;
        let login: Option<String> = row.try_get(login).map_err(backend)?;
        Ok(match (id, login) {
            (Some(id), Some(login)) => Some(AccountName {
                id: UserId(id),
                login: Login::parse(&login).ok_or_else(|| corrupt("audit login"))?,
            }),
            _ => None,
        })
    };
    let app_id: Option<i64> = row.try_get("app_id").map_err(backend)?;
    let app = match app_id {
        Some(id) => Some(AppName {
            id: AppId(id),
            name: row
                .try_get::<Option<String>, _>("app_name")
                .map_err(backend)?
                .unwrap_or_default(),
            client_id: row
                .try_get::<Option<String>, _>("client_id")
                .map_err(backend)?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let address: Option<String> = row.try_get("actor_ip").map_err(backend)?;
    let data: String = row.try_get("data").map_err(backend)?;
    let Ok(serde_json::Value::Object(data)) = serde_json::from_str(&data) else {
        return Err(corrupt("audit data"));
    };
    Ok(Event {
        id: row.try_get("id").map_err(backend)?,
        action: row.try_get("action").map_err(backend)?,
        created_at: timestamp(row.try_get("created_at").map_err(backend)?)?,
        actor: account("actor_id", "actor")?,
        user: account("user_id", "user_login")?,
        app,
        source: Source {
            address: address.and_then(|a| a.parse().ok()),
            user_agent: row.try_get("user_agent").map_err(backend)?,
        },
        data,
    })
}
