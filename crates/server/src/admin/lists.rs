//! The admin API's lists, newest first, paged with a cursor.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::admin::{self as wire, GrantStatus, Page};
use countersign_protocol::amr::Amr;
use countersign_protocol::device::Risk;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{AdminCaller, Cursor, ListQuery};
use crate::device::no_store;
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store::{self, requests::StoredRequest};

/// Binds of a statement built from the filters asked for.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    values: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Where {
    fn text(&mut self, condition: &str, value: &str) {
        self.values.push(Bind::Text(value.to_owned()));
        self.conditions.push(condition.replace('?', &format!("${}", self.values.len())));
    }

    fn int(&mut self, condition: &str, value: i64) {
        self.values.push(Bind::Int(value));
        self.conditions.push(condition.replace('?', &format!("${}", self.values.len())));
    }

    /// `(num < a) OR (num = a AND id < b)`: after the cursor, newest first.
    fn before(&mut self, num: &str, id: &str, cursor: &Cursor) {
        self.values.push(Bind::Int(cursor.n));
        let a = self.values.len();
        self.values.push(Bind::Text(cursor.id.clone()));
        let b = self.values.len();
        self.conditions.push(format!("({num} < ${a} OR ({num} = ${a} AND {id} < ${b}))"));
    }

    fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }

    async fn fetch(&self, state: &AppState, sql: &str) -> Result<Vec<AnyRow>, DeviceError> {
        let mut q = sqlx::query(sql);
        for v in &self.values {
            q = match v {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::Int(n) => q.bind(*n),
            };
        }
        Ok(q.fetch_all(&state.db).await?)
    }
}

/// The page of `rows` (fetched with `limit + 1`): its items and, when
/// there are more, the cursor of the last one.
fn page<T>(
    rows: &[AnyRow],
    limit: u32,
    item: impl Fn(&AnyRow) -> Result<T, DeviceError>,
    cursor: impl Fn(&AnyRow) -> Result<String, DeviceError>,
) -> Result<Page<T>, DeviceError> {
    let limit = limit as usize;
    let items = rows.iter().take(limit).map(&item).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match (rows.len() > limit, rows.get(limit.saturating_sub(1))) {
        (true, Some(last)) => Some(cursor(last)?),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// One page of `select` (`SELECT … FROM …`, no `WHERE`) under `w`'s
/// filters, newest first by `key` (a time or number column and an id column,
/// which breaks ties), after the query's cursor; each row read by `item`.
async fn keyset<T: serde::Serialize>(
    state: &AppState,
    q: &ListQuery,
    mut w: Where,
    select: &str,
    key: (&'static str, &'static str),
    item: impl Fn(&AnyRow) -> Result<T, DeviceError>,
) -> Result<Response, DeviceError> {
    let limit = q.limit()?;
    if let Some(c) = q.get("cursor") {
        w.before(key.0, key.1, &Cursor::parse(c)?);
    }
    let sql = format!("{select} {} ORDER BY {} DESC, {} DESC LIMIT {}", w.sql(), key.0, key.1, u64::from(limit) + 1);
    let rows = w.fetch(state, &sql).await?;
    // The columns as the rows name them (without the table's alias).
    let column = |c: &'static str| c.rsplit('.').next().unwrap_or(c);
    let (num, id) = (column(key.0), column(key.1));
    let page = page(&rows, limit, item, |row| Ok(Cursor::encode(row.try_get(num)?, &row.try_get::<String, _>(id)?)))?;
    Ok(answer(&page))
}

fn answer<T: serde::Serialize>(page: &Page<T>) -> Response {
    no_store(Json(page).into_response())
}

fn risk_param(v: &str) -> Result<Risk, DeviceError> {
    Risk::REGISTERED
        .iter()
        .find(|r| r.as_str() == v)
        .cloned()
        .ok_or_else(|| DeviceError::InvalidRequest("risk must be one of low, medium, high, critical".into()))
}

fn seconds_param(name: &str, v: &str) -> Result<u64, DeviceError> {
    v.parse().map_err(|_| DeviceError::InvalidRequest(format!("{name} must be a number of seconds")))
}

/// `GET /admin/v1/requests[?sub][&client_id][&type][&risk][&older_than]`:
/// pending requests across the organisation.
pub async fn pending(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &["sub", "client_id", "type", "risk", "older_than"])?;
    let now = state.now();
    let mut w = Where::default();
    w.int("r.status = 'pending' AND r.expires_at > ?", store::ts(now));
    if let Some(sub) = q.get("sub") {
        w.text("r.sub = ?", sub);
    }
    if let Some(client_id) = q.get("client_id") {
        w.text("r.client_id = ?", client_id);
    }
    if let Some(t) = q.get("type") {
        let has_type =
            store::dialect::Dialect::of(&state.db).json_array_has_object_with("r.authorization_details", "type", "?");
        w.text(&has_type, t);
    }
    if let Some(risk) = q.get("risk") {
        w.text("r.risk = ?", risk_param(risk)?.as_str());
    }
    if let Some(age) = q.get("older_than") {
        w.int("r.created_at <= ?", store::ts(now.saturating_sub(seconds_param("older_than", age)?)));
    }
    keyset(&state, &q, w, store::requests::SELECT, ("r.created_ms", "r.request_id"), |row| {
        let r = StoredRequest::from_row(row)?;
        Ok(wire::PendingRequest {
            id: r.request_id.as_str().to_owned(),
            client_id: r.client_id,
            client_name: r.client_name,
            verified: r.verified,
            sub: r.sub,
            user_name: r.user_name,
            binding_message: r.binding_message,
            scope: r.scope,
            authorization_details: serde_json::to_value(&r.details).map_err(Internal::from)?,
            risk: r.risk,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    })
    .await
}

/// The condition on a refresh token `r` that can still renew the grant of
/// access token `t` at `now` (SQL text: a placeholder or a number): `r` is
/// the family's latest, neither used nor revoked, before its idle and its
/// absolute end, and `t` is the grant's latest access token (one a refresh
/// has superseded is not renewed by it: it just expires).
fn renewing(now: &str) -> String {
    format!(
        "r.family = t.request_id AND r.used_at IS NULL AND r.revoked_at IS NULL \
         AND r.idle_expires_at > {now} AND r.expires_at > {now} \
         AND NOT EXISTS (SELECT 1 FROM tokens n WHERE n.request_id = t.request_id \
         AND (n.issued_at > t.issued_at OR (n.issued_at = t.issued_at AND n.jti > t.jti)))"
    )
}

/// `GET /admin/v1/grants[?sub][&client_id][&status]`: issued access tokens.
pub async fn grants(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &["sub", "client_id", "status"])?;
    let now = store::ts(state.now());
    let mut w = Where::default();
    if let Some(sub) = q.get("sub") {
        w.text("t.sub = ?", sub);
    }
    if let Some(client_id) = q.get("client_id") {
        w.text("t.client_id = ?", client_id);
    }
    // A grant whose access token has expired is still active while its
    // refresh token can get a new one (its family's live token).
    let live_refresh = format!("EXISTS (SELECT 1 FROM refresh_tokens r WHERE {})", renewing("?"));
    match q.get("status").map(GrantStatus::from) {
        None => {}
        Some(GrantStatus::Active) => {
            w.int(&format!("t.revoked_at IS NULL AND (t.expires_at > ? OR {live_refresh})"), now);
        }
        Some(GrantStatus::Expired) => {
            w.int(&format!("t.revoked_at IS NULL AND t.expires_at <= ? AND NOT {live_refresh}"), now);
        }
        Some(GrantStatus::Revoked) => w.conditions.push("t.revoked_at IS NOT NULL".into()),
        Some(GrantStatus::Extension(_)) => {
            return Err(DeviceError::InvalidRequest("status must be one of active, expired, revoked".into()));
        }
    }
    keyset(
        &state,
        &q,
        w,
        &format!(
            "SELECT t.jti, t.request_id, t.client_id, t.sub, t.claims, t.issued_at, t.expires_at, t.revoked_at, \
             (SELECT MAX({}) FROM refresh_tokens r \
              WHERE t.revoked_at IS NULL AND {}) AS refreshable_until \
             FROM tokens t",
            store::dialect::least("r.idle_expires_at", "r.expires_at"),
            renewing(&now.to_string())
        ),
        ("t.issued_at", "t.jti"),
        |row| {
            let claims: Value = serde_json::from_str(&row.try_get::<String, _>("claims")?).map_err(Internal::from)?;
            let expires_at = store::from_ts(row.try_get("expires_at")?);
            let revoked_at = row.try_get::<Option<i64>, _>("revoked_at")?.map(store::from_ts);
            let refreshable_until = row.try_get::<Option<i64>, _>("refreshable_until")?.map(store::from_ts);
            let status = match revoked_at {
                Some(_) => GrantStatus::Revoked,
                None if store::ts(expires_at) <= now && refreshable_until.is_none() => GrantStatus::Expired,
                None => GrantStatus::Active,
            };
            Ok(wire::Grant {
                id: row.try_get("jti")?,
                request_id: row.try_get("request_id")?,
                sub: row.try_get("sub")?,
                client_id: row.try_get("client_id")?,
                scope: claims["scope"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
                authorization_details: claims.get("authorization_details").cloned().unwrap_or(Value::Null),
                amr: claims["amr"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).map(Amr::from).collect())
                    .unwrap_or_default(),
                issued_at: store::from_ts(row.try_get("issued_at")?),
                expires_at,
                status,
                revoked_at,
                refreshable_until,
            })
        },
    )
    .await
}

/// `GET /admin/v1/clients`: every client with its verification and blocks.
pub async fn clients(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &[])?;
    let w = Where::default();
    keyset(
        &state,
        &q,
        w,
        &format!(
            "SELECT c.client_id, c.client_name, c.delivery_mode, c.verified, c.verified_by, c.disabled, c.created_at, \
             (SELECT {} FROM client_user_blocks b WHERE b.client_id = c.client_id) AS blocked_for \
             FROM clients c",
            store::dialect::Dialect::of(&state.db).json_array_of("b.sub")
        ),
        ("c.created_at", "c.client_id"),
        |row| {
            let verified = row.try_get::<i64, _>("verified")? != 0;
            let blocked_for: Vec<String> =
                serde_json::from_str(&row.try_get::<String, _>("blocked_for")?).map_err(Internal::from)?;
            Ok(wire::Client {
                client_id: row.try_get("client_id")?,
                client_name: row.try_get("client_name")?,
                delivery_mode: row.try_get("delivery_mode")?,
                verified,
                verified_by: if verified { row.try_get("verified_by")? } else { None },
                blocked: row.try_get::<i64, _>("disabled")? != 0,
                blocked_for,
                created_at: store::from_ts(row.try_get("created_at")?),
            })
        },
    )
    .await
}

/// `GET /admin/v1/users`: every user, newest first.
pub async fn users(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &[])?;
    let w = Where::default();
    keyset(
        &state,
        &q,
        w,
        "SELECT u.sub, u.username, u.name, u.roles, u.disabled, u.created_at, \
         (SELECT COUNT(*) FROM devices d WHERE d.sub = u.sub AND d.revoked_at IS NULL) AS active_devices \
         FROM users u",
        ("u.created_at", "u.sub"),
        |row| {
            Ok(wire::User {
                sub: row.try_get("sub")?,
                username: row.try_get("username")?,
                name: row.try_get("name")?,
                roles: serde_json::from_str(&row.try_get::<String, _>("roles")?).map_err(Internal::from)?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                active_devices: u32::try_from(row.try_get::<i64, _>("active_devices")?).unwrap_or(u32::MAX),
            })
        },
    )
    .await
}

/// `GET /admin/v1/devices[?sub]`: enrolled devices, newest first.
pub async fn devices(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &["sub"])?;
    let mut w = Where::default();
    if let Some(sub) = q.get("sub") {
        w.text("d.sub = ?", sub);
    }
    keyset(
        &state,
        &q,
        w,
        "SELECT d.device_id, d.sub, d.device_name, d.platform, d.created_at, d.revoked_at FROM devices d",
        ("d.created_at", "d.device_id"),
        |row| {
            Ok(wire::Device {
                device_id: row.try_get("device_id")?,
                sub: row.try_get("sub")?,
                device_name: row.try_get("device_name")?,
                platform: row.try_get("platform")?,
                created_at: store::from_ts(row.try_get("created_at")?),
                revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(store::from_ts),
            })
        },
    )
    .await
}

/// `GET /admin/v1/audit[?action][&sub][&target][&actor]`: the audit log.
pub async fn audit(
    State(state): State<AppState>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let q = ListQuery::parse(query.as_deref(), &["action", "sub", "target", "actor"])?;
    let limit = q.limit()?;
    let filter = crate::audit::Filter {
        action: q.get("action").map(str::to_owned),
        sub: q.get("sub").map(str::to_owned),
        target: q.get("target").map(str::to_owned),
        actor: q.get("actor").map(str::to_owned),
        before: q.get("cursor").map(Cursor::parse).transpose()?.map(|c| u64::try_from(c.n).unwrap_or(0)),
    };
    let mut conn = state.db.acquire().await?;
    let mut page = crate::audit::page(&mut conn, &filter, limit, crate::audit::WALK).await?;
    page.next_cursor = page.next_cursor.and_then(|c| c.parse::<i64>().ok()).map(|seq| Cursor::encode(seq, ""));
    Ok(answer(&page))
}
