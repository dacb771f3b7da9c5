//! The request endpoints (list, one request) and the unverified-client block.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::device::{
    RequestId, RequestList, RequestState, UnverifiedBlock, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, QUERY_CURSOR, QUERY_LIMIT,
    QUERY_STATUS,
};
use sqlx::AnyConnection;
use sqlx::Row as _;

use super::*;
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;
use crate::store::requests::{self, StoredRequest};

/// A page of the user's pending requests after a cursor, in creation order:
/// one range of `auth_requests_user` (sub, status, created_ms, request_id).
pub(crate) const PAGE: &str = "WHERE r.sub = $1 AND r.status = 'pending' AND r.expires_at > $2 \
     AND (r.created_ms > $3 OR (r.created_ms = $3 AND r.request_id > $4)) \
     ORDER BY r.created_ms, r.request_id LIMIT $5";

/// `GET {device}/requests?status=pending[&limit=N][&cursor=C]`: one page
/// of the user's pending requests, oldest first (§5.2).
pub async fn list_requests(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let mut limit = DEFAULT_PAGE_SIZE;
    let mut after: Option<PageCursor> = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            QUERY_STATUS if v != "pending" => {
                return Err(DeviceError::InvalidRequest("status must be pending".into()));
            }
            QUERY_LIMIT => {
                limit = v.parse().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                    DeviceError::InvalidRequest(format!("limit must be a number from 1 to {MAX_PAGE_SIZE}"))
                })?;
            }
            QUERY_CURSOR => {
                after = Some(PageCursor::parse(&v).ok_or_else(|| {
                    DeviceError::InvalidRequest("cursor is not a next_cursor this server gave".into())
                })?);
            }
            _ => {}
        }
    }
    let after = after.unwrap_or(PageCursor { created_ms: i64::MIN, request_id: String::new() });
    let rows = sqlx::query(&format!("{} {PAGE}", requests::SELECT))
        .bind(&device.sub)
        .bind(store::ts(state.now()))
        .bind(after.created_ms)
        .bind(&after.request_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1))
        .fetch_all(&state.db)
        .await?;
    let mut list = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    let mut bytes = 0usize;
    let mut cut = false;
    for row in rows.iter().take(limit) {
        let req = StoredRequest::from_row(row)?.to_approver(&state.config.issuer);
        // A page also ends at a byte budget (at least one request), whatever
        // the configured sizes: an approver accepts 1 MiB per response.
        let size = crate::util::json_len(&req)?;
        if !list.is_empty() && bytes.saturating_add(size) > PAGE_BYTES {
            cut = true;
            break;
        }
        bytes = bytes.saturating_add(size);
        last = Some(PageCursor { created_ms: row.try_get("created_ms")?, request_id: req.id.as_str().to_owned() });
        list.push(req);
    }
    let next_cursor = if cut || rows.len() > limit { last.map(|c| c.encode()) } else { None };
    Ok(no_store(Json(RequestList { requests: list, next_cursor }).into_response()))
}

/// Bytes of requests in one page of the request list at most (the approver
/// accepts 1 MiB per response).
pub const PAGE_BYTES: usize = 768 * 1024;

/// Where a page of the request list ends: the last request's creation time
/// and id (the list's order). Opaque to approvers (base64url).
pub(super) struct PageCursor {
    created_ms: i64,
    request_id: String,
}

impl PageCursor {
    fn encode(&self) -> String {
        countersign_protocol::jws::b64url_encode(format!("{}.{}", self.created_ms, self.request_id).as_bytes())
    }

    fn parse(text: &str) -> Option<Self> {
        let bytes = countersign_protocol::jws::b64url_decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (ms, id) = text.split_once('.')?;
        RequestId::new(id).ok()?;
        Some(Self { created_ms: ms.parse().ok()?, request_id: id.to_owned() })
    }
}

pub(crate) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) async fn own_request(state: &AppState, device: &Device, id: &str) -> Result<StoredRequest, DeviceError> {
    if RequestId::new(id).is_err() {
        return Err(DeviceError::NotFound);
    }
    let mut conn = state.db.acquire().await?;
    requests::load(&mut conn, id).await?.filter(|r| r.sub == device.sub).ok_or(DeviceError::NotFound)
}

/// `GET {device}/requests/{id}`.
pub async fn get_request(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let req = own_request(&state, &device, &id).await?;
    let body = RequestState {
        request: req.to_approver(&state.config.issuer),
        status: req.status_at(state.now()),
        decision: req.decision,
        decided_at: req.decided_at,
    };
    Ok(no_store(Json(body).into_response()))
}

// ---------------------------------------------------------------------------
// The user's block of unverified agents
// ---------------------------------------------------------------------------

pub(super) async fn block_state(conn: &mut AnyConnection, sub: &str) -> Result<UnverifiedBlock, Internal> {
    let since = crate::store::blocks::unverified_block_since(conn, sub).await?;
    Ok(UnverifiedBlock { blocked: since.is_some(), since })
}

/// `GET {device}/unverified-block` (§5.4).
pub async fn unverified_block(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
) -> Result<Response, DeviceError> {
    let mut conn = state.db.acquire().await?;
    Ok(no_store(Json(block_state(&mut conn, &device.sub).await?).into_response()))
}

/// `POST {device}/unverified-block/lift` (§5.4): the user lets unverified
/// agents ask again. Recorded as lifted by the device.
pub async fn lift_unverified_block(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
) -> Result<Response, DeviceError> {
    let mut tx = store::begin(&state.db).await?;
    let by = crate::audit::Actor::Device(device.device_id.as_str());
    if crate::store::blocks::lift_unverified(&mut tx, &device.sub, &by, state.now()).await? {
        tracing::info!(device_id = %device.device_id, "the user lifted the block of unverified clients");
    }
    let answer = block_state(&mut tx, &device.sub).await?;
    tx.commit().await?;
    Ok(no_store(Json(answer).into_response()))
}
