//! The device event log (table `events`): the source of truth of the SSE
//! streams. Writers insert inside their transaction and wake the hub after
//! the commit.

use countersign_protocol::device::{EventKind, RequestId, WithdrawReason, Withdrawn};
use sqlx::AnyConnection;

use crate::error::Internal;
use crate::store;

/// Appends an event for every device of `sub` (except `exclude_device`).
///
/// # Errors
/// The database failed.
pub async fn append(
    conn: &mut AnyConnection,
    sub: &str,
    kind: &EventKind,
    request_id: Option<&RequestId>,
    data: &str,
    exclude_device: Option<&str>,
    now: u64,
) -> Result<(), Internal> {
    sqlx::query(
        "INSERT INTO events (sub, kind, request_id, data, exclude_device, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(sub)
    .bind(kind.as_str())
    .bind(request_id.map(RequestId::as_str))
    .bind(data)
    .bind(exclude_device)
    .bind(store::ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends a `withdrawn` event.
///
/// # Errors
/// The database failed.
pub async fn withdrawn(
    conn: &mut AnyConnection,
    sub: &str,
    id: &RequestId,
    reason: WithdrawReason,
    exclude_device: Option<&str>,
    now: u64,
) -> Result<(), Internal> {
    let data = serde_json::to_string(&Withdrawn { id: id.clone(), reason })?;
    append(conn, sub, &EventKind::Withdrawn, Some(id), &data, exclude_device, now).await
}

/// The `data` of a `request` event written since `0008_request_indexes`:
/// the event refers to its request (`request_id`) instead of repeating it,
/// and the stream reads the request when it sends the event (a request is
/// stored once: fewer bytes written per request, docs/performance.md).
/// Older `request` events hold the request's JSON and are sent as stored.
pub const REQUEST_BY_REFERENCE: &str = "";

/// [`append`] on the request writer's connection (no device excluded).
///
/// # Errors
/// The database failed.
pub fn append_sync(
    conn: &rusqlite::Connection,
    sub: &str,
    kind: &EventKind,
    request_id: Option<&RequestId>,
    data: &str,
    now: u64,
) -> Result<(), Internal> {
    conn.prepare_cached(
        "INSERT INTO events (sub, kind, request_id, data, exclude_device, created_at) VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
    )?
    .execute(rusqlite::params![sub, kind.as_str(), request_id.map(RequestId::as_str), data, store::ts(now)])?;
    Ok(())
}
