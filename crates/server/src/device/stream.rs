//! The SSE event stream of a device.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use countersign_protocol::device::events::{EVENT_STREAM_MEDIA_TYPE, HEARTBEAT, LAST_EVENT_ID_HEADER};
use countersign_protocol::device::{DeviceEvent, EventId};
use sqlx::Row as _;
use std::collections::VecDeque;
use std::convert::Infallible;
use tokio::sync::watch;

use super::*;
use crate::device::hub::{EventRow, Feed, StreamSlot, Subscription};
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;

pub(super) struct StreamState {
    state: AppState,
    device: Device,
    cursor: i64,
    queue: VecDeque<Bytes>,
    subscription: Subscription,
    slot: StreamSlot,
    shutdown: watch::Receiver<bool>,
}

/// Rows read at most per read of the event log.
pub(super) const EVENT_PAGE: i64 = 200;

/// Reads the log after `cursor` and the user's active devices into `feed`
/// (one read, shared by the user's streams woken by the same wake-up).
pub(super) async fn read_feed(
    state: &AppState,
    sub: &str,
    cursor: i64,
    generation: u64,
    feed: &mut Feed,
) -> Result<(), Internal> {
    // With each event its request, as `requests::SELECT` reads it: whether
    // a `request` event is still live, and the request it refers to.
    let rows = sqlx::query(
        "SELECT e.seq, e.kind, e.data, e.exclude_device, r.*, c.logo_uri, c.disabled AS client_disabled, \
         u.name AS user_name, u.disabled AS user_disabled FROM events e \
         LEFT JOIN auth_requests r ON r.request_id = e.request_id \
         LEFT JOIN clients c ON c.client_id = r.client_id LEFT JOIN users u ON u.sub = r.sub \
         WHERE e.sub = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3",
    )
    .bind(sub)
    .bind(cursor)
    .bind(EVENT_PAGE)
    .fetch_all(&state.db)
    .await?;
    let devices = sqlx::query(
        "SELECT d.device_id FROM devices d JOIN users u ON u.sub = d.sub \
         WHERE d.sub = $1 AND d.revoked_at IS NULL AND u.disabled = 0",
    )
    .bind(sub)
    .fetch_all(&state.db)
    .await?;
    state.hub.count_read();
    let now = state.now();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let status: Option<String> = row.try_get("status")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        let kind: String = row.try_get("kind")?;
        let mut data: String = row.try_get("data")?;
        let live = status.as_deref() == Some("pending") && expires_at.is_some_and(|e| store::from_ts(e) > now);
        // A `request` event refers to its request (`events::REQUEST_BY_REFERENCE`):
        // the approvers get the request as the device list shows it.
        if kind == countersign_protocol::device::events::EVENT_REQUEST
            && data == crate::device::events::REQUEST_BY_REFERENCE
            && live
        {
            let request = crate::store::requests::StoredRequest::from_row(row)?;
            data = serde_json::to_string(&request.to_approver(&state.config.issuer))?;
        }
        events.push(EventRow {
            seq: row.try_get("seq")?,
            kind,
            data,
            exclude_device: row.try_get("exclude_device")?,
            live,
        });
    }
    *feed = Feed {
        generation: Some(generation),
        after: cursor,
        complete: i64::try_from(events.len()).unwrap_or(i64::MAX) < EVENT_PAGE,
        rows: events,
        active_devices: devices.iter().map(|r| r.try_get("device_id")).collect::<Result<_, _>>()?,
    };
    Ok(())
}

/// Queues the relevant events after the cursor; `false` when the device is
/// no longer active (revoked, or its user disabled). `fresh` reads the
/// database even when the shared read would serve (writes by another
/// process, such as the operator CLI, wake no stream).
pub(super) async fn fill(s: &mut StreamState, fresh: bool) -> Result<bool, Internal> {
    let generation = *s.subscription.wake.borrow_and_update();
    let feed = s.subscription.feed.clone();
    let mut feed = feed.lock().await;
    if fresh || !feed.serves(generation, s.cursor) {
        read_feed(&s.state, &s.device.sub, s.cursor, generation, &mut feed).await?;
    }
    if !feed.active_devices.iter().any(|d| d == s.device.device_id.as_str()) {
        return Ok(false);
    }
    let me = s.device.device_id.as_str();
    let from = s.cursor;
    for row in feed.rows.iter().filter(|r| r.seq > from) {
        s.cursor = row.seq;
        if row.exclude_device.as_deref() == Some(me) {
            continue;
        }
        if row.kind == countersign_protocol::device::events::EVENT_REQUEST && !row.live {
            continue;
        }
        let event =
            DeviceEvent::parse(&row.kind, &row.data).map_err(|e| Internal::new(format!("stored event: {e}")))?;
        let id = EventId::new(row.seq.to_string()).map_err(|e| Internal::new(format!("event id: {e}")))?;
        s.queue.push_back(Bytes::from(event.to_sse(&id)?));
    }
    Ok(true)
}

/// [`fill`] with a failure logged: whether the stream goes on.
async fn refill(s: &mut StreamState, fresh: bool) -> bool {
    match fill(s, fresh).await {
        Ok(active) => active,
        Err(e) => {
            tracing::error!(error = %e, "event stream failed");
            false
        }
    }
}

pub(super) async fn next_chunk(mut s: StreamState) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    loop {
        if let Some(chunk) = s.queue.pop_front() {
            return Some((Ok(chunk), s));
        }
        if *s.shutdown.borrow() || *s.slot.closed.borrow() {
            return None;
        }
        if !refill(&mut s, false).await {
            return None;
        }
        if let Some(chunk) = s.queue.pop_front() {
            return Some((Ok(chunk), s));
        }
        let heartbeat = s.state.config.heartbeat_interval;
        tokio::select! {
            changed = s.subscription.wake.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            () = tokio::time::sleep(heartbeat) => {
                // Idle: read once more (revocations and withdrawals written by
                // another process), then send what came or a heartbeat.
                if !refill(&mut s, true).await {
                    return None;
                }
                let chunk = s.queue.pop_front().unwrap_or_else(|| Bytes::from_static(HEARTBEAT.as_bytes()));
                return Some((Ok(chunk), s));
            }
            _ = s.shutdown.changed() => return None,
            _ = s.slot.closed.changed() => return None,
        }
    }
}

/// `GET {device}/events`: Server-Sent Events (§6). Without `Last-Event-ID`
/// the stream starts with the next event; with it, it resends the relevant
/// events after that id (requests still pending, withdrawals). A device has
/// at most `max_streams_per_device` streams open: a new one closes the
/// oldest.
pub async fn events(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    headers: HeaderMap,
) -> Result<Response, DeviceError> {
    let last =
        headers.get(LAST_EVENT_ID_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let subscription = state.hub.subscribe(&device.sub);
    let slot = state.hub.open_stream(device.device_id.as_str(), state.config.max_streams_per_device);
    let cursor = match last {
        Some(n) if n >= 0 => n,
        _ => {
            let row = sqlx::query("SELECT MAX(seq) AS m FROM events WHERE sub = $1")
                .bind(&device.sub)
                .fetch_one(&state.db)
                .await?;
            row.try_get::<Option<i64>, _>("m")?.unwrap_or(0)
        }
    };
    let shutdown = state.hub.shutdown_signal();
    let s = StreamState { state, device, cursor, queue: VecDeque::new(), subscription, slot, shutdown };
    let stream = futures_util::stream::unfold(s, next_chunk);
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM_MEDIA_TYPE));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
