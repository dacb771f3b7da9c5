//! The device channel, server side (`docs/protocol.md`): enrollment, device
//! authentication, the SSE event stream, the request endpoints and signed
//! decisions.

pub mod events;
pub mod hub;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use countersign_protocol::ciba::{PingCallback, PushSuccessCallback, TokenDeliveryMode};
use countersign_protocol::device::auth::AUTHORIZATION_SCHEME;
use countersign_protocol::device::enroll::{check_ticket, EnrollmentRequestError};
use countersign_protocol::device::events::{EVENT_STREAM_MEDIA_TYPE, HEARTBEAT, LAST_EVENT_ID_HEADER};
use countersign_protocol::device::{
    check_statement, verify_decision, verify_device_auth, Decision, DecisionResult, DecisionSubmission, DenyReason,
    DeviceEvent, DeviceId, EnrolledUser, EnrollmentPreviewRequest, EnrollmentPreviewResponse, EnrollmentRequest,
    EnrollmentResponse, EnrollmentUri, EventId, HttpMethod, RequestId, RequestList, RequestState, RequestStatus, Role,
    UnverifiedBlock, WithdrawReason, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PATH_UNVERIFIED_BLOCK,
    PATH_UNVERIFIED_BLOCK_LIFT, QUERY_CURSOR, QUERY_LIMIT, QUERY_STATUS,
};
use countersign_protocol::error::{ErrorCode, PushErrorResponse};
use countersign_protocol::jws::PublicJwk;
use countersign_protocol::secret::EnrollmentTicket;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::SqliteConnection;
use std::collections::VecDeque;
use std::convert::Infallible;
use tokio::sync::watch;

use crate::device::hub::{EventRow, Feed, StreamSlot, Subscription};
use crate::error::{DeviceError, Internal};
use crate::oauth::tokens::{self, Signer};
use crate::state::AppState;
use crate::store;
use crate::store::requests::{self, StoredRequest};
use crate::util;

/// An authenticated device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its id.
    pub device_id: DeviceId,
    /// Its user.
    pub sub: String,
    /// Its public key.
    pub key: PublicJwk,
}

/// Loads a device that is usable: not revoked, its user not disabled.
///
/// # Errors
/// The database failed.
pub async fn load_active(state: &AppState, device_id: &DeviceId) -> Result<Option<Device>, Internal> {
    let row = sqlx::query(
        "SELECT d.sub, d.public_jwk FROM devices d JOIN users u ON u.sub = d.sub \
         WHERE d.device_id = $1 AND d.revoked_at IS NULL AND u.disabled = 0",
    )
    .bind(device_id.as_str())
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let jwk: String = row.try_get("public_jwk")?;
    Ok(Some(Device { device_id: device_id.clone(), sub: row.try_get("sub")?, key: serde_json::from_str(&jwk)? }))
}

/// Verifies the `Authorization: Device <proof>` of a call to `htu` (§4).
///
/// # Errors
/// `invalid_token` for every refusal.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    htm: HttpMethod,
    htu: &str,
) -> Result<Device, DeviceError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| DeviceError::InvalidToken("device proof required".into()))?;
    let proof = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(AUTHORIZATION_SCHEME))
        .map(|(_, p)| p.trim())
        .ok_or_else(|| DeviceError::InvalidToken("Authorization scheme must be Device".into()))?;
    let (header, _) = util::peek_jwt(proof).ok_or_else(|| DeviceError::InvalidToken("malformed proof".into()))?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .and_then(|k| DeviceId::new(k).ok())
        .ok_or_else(|| DeviceError::InvalidToken("proof has no valid kid".into()))?;
    let device =
        load_active(state, &kid).await?.ok_or_else(|| DeviceError::InvalidToken("unknown or revoked device".into()))?;
    let now = state.now();
    let claims = verify_device_auth(proof, &device.key, &kid, now, &state.config.issuer, &htm, htu)
        .map_err(|e| DeviceError::InvalidToken(e.to_string()))?;
    let done = sqlx::query("INSERT INTO device_jtis (device_id, jti, exp) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(kid.as_str())
        .bind(claims.jti.as_str())
        .bind(store::ts(claims.exp))
        .execute(&state.db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DeviceError::InvalidToken("proof replayed (jti already used)".into()));
    }
    Ok(device)
}

// ---------------------------------------------------------------------------
// Enrollment
// ---------------------------------------------------------------------------

/// `POST {device}/enroll`.
pub async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, DeviceError> {
    let value = crate::body::device_json(&headers, body, state.config.max_body_bytes)?;
    let Value::Object(obj) = &value else {
        return Err(DeviceError::InvalidRequest("body must be a JSON object".into()));
    };
    if let Some(jwk) = obj.get("public_jwk") {
        serde_json::from_value::<PublicJwk>(jwk.clone()).map_err(|e| DeviceError::InvalidPublicKey(e.to_string()))?;
    }
    let req: EnrollmentRequest =
        serde_json::from_value(value).map_err(|e| DeviceError::InvalidRequest(e.to_string()))?;
    req.validate().map_err(|e| match e {
        EnrollmentRequestError::Ticket(_) => DeviceError::InvalidTicket,
        EnrollmentRequestError::JwkHasKid => DeviceError::InvalidPublicKey(e.to_string()),
        EnrollmentRequestError::DeviceName | EnrollmentRequestError::DuplicateCapability(_) => {
            DeviceError::InvalidRequest(e.to_string())
        }
    })?;
    let now = state.now();
    let device_id =
        DeviceId::new(util::random_id("dev_", 16)?).map_err(|e| Internal::new(format!("device id: {e}")))?;
    let mut tx = store::begin(&state.db).await?;
    let user = spend_ticket(&mut tx, &req.ticket, now).await?.ok_or(DeviceError::InvalidTicket)?;
    sqlx::query(
        "INSERT INTO devices (device_id, sub, public_jwk, device_name, platform, capabilities, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(device_id.as_str())
    .bind(&user.sub)
    .bind(serde_json::to_string(&req.public_jwk).map_err(Internal::from)?)
    .bind(&req.device_name)
    .bind(req.platform.as_str())
    .bind(serde_json::to_string(&req.capabilities).map_err(Internal::from)?)
    .bind(store::ts(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(device_id = %device_id, "device enrolled");
    let body = EnrollmentResponse { device_id, user, poll_interval: state.config.device_poll_interval_secs };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST {device}/enroll-preview` (§3.3): whom a ticket is for and when it
/// expires. Reads only: the ticket stays unspent. Refuses exactly as
/// [`enroll`] does (`invalid_ticket` for an unknown, expired or used ticket,
/// or one of a disabled user, without saying which).
pub async fn enroll_preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, DeviceError> {
    let value = crate::body::device_json(&headers, body, state.config.max_body_bytes)?;
    if !value.is_object() {
        return Err(DeviceError::InvalidRequest("body must be a JSON object".into()));
    }
    let req: EnrollmentPreviewRequest =
        serde_json::from_value(value).map_err(|e| DeviceError::InvalidRequest(e.to_string()))?;
    req.validate().map_err(|_| DeviceError::InvalidTicket)?;
    let mut conn = state.db.acquire().await?;
    let (user, expires_at) =
        ticket_holder(&mut conn, &req.ticket, state.now()).await?.ok_or(DeviceError::InvalidTicket)?;
    Ok(no_store(Json(EnrollmentPreviewResponse { user, expires_at }).into_response()))
}

/// Spends `ticket` inside the caller's transaction: its user if this call
/// spent it, `None` if it cannot be used (unknown, expired, already spent,
/// its user disabled). The ticket is spent by a conditional update that must
/// change exactly one row, so that on a database that does not serialise
/// writers (PostgreSQL) a second enrollment racing with the same ticket gets
/// `None` rather than a second device.
///
/// # Errors
/// The database failed.
pub async fn spend_ticket(
    conn: &mut SqliteConnection,
    ticket: &EnrollmentTicket,
    now: u64,
) -> Result<Option<EnrolledUser>, Internal> {
    let Some((user, _)) = ticket_holder(conn, ticket, now).await? else { return Ok(None) };
    let spent = sqlx::query(
        "UPDATE enrollment_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(store::ts(now))
    .bind(util::hash_secret(ticket.secret()))
    .execute(&mut *conn)
    .await?;
    Ok((spent.rows_affected() == 1).then_some(user))
}

/// The user of a ticket that can still be used at `now` (unspent, not
/// expired, its user not disabled), and the ticket's expiry.
async fn ticket_holder(
    conn: &mut SqliteConnection,
    ticket: &EnrollmentTicket,
    now: u64,
) -> Result<Option<(EnrolledUser, u64)>, Internal> {
    let row = sqlx::query(
        "SELECT t.sub, t.expires_at, u.name, u.roles FROM enrollment_tickets t JOIN users u ON u.sub = t.sub \
         WHERE t.ticket_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.disabled = 0",
    )
    .bind(util::hash_secret(ticket.secret()))
    .bind(store::ts(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let roles: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("roles")?)?;
    let user = EnrolledUser {
        sub: row.try_get("sub")?,
        name: row.try_get("name")?,
        roles: roles.into_iter().map(Role::from).collect(),
    };
    Ok(Some((user, store::from_ts(row.try_get("expires_at")?))))
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// `GET /device/v1/enroll-link?ticket=…`: a page that opens the app URI.
pub async fn enroll_link(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let ticket = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "ticket").map(|(_, v)| v.into_owned())
    });
    let Some(uri) = ticket
        .filter(|t| check_ticket(t).is_ok())
        .and_then(|t| EnrollmentUri::new(state.config.issuer.clone(), EnrollmentTicket::new(t)).ok())
    else {
        return (StatusCode::BAD_REQUEST, "malformed enrollment link").into_response();
    };
    let app = html_escape(&uri.to_app_uri());
    let issuer = html_escape(state.config.issuer.as_str());
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Enroll a Countersign approver</title></head>\
         <body><h1>Enroll a Countersign approver</h1><p>Server: {issuer}</p>\
         <p><a href=\"{app}\">Open the Countersign app</a> to enroll this device.</p></body></html>"
    );
    let mut resp = Html(page).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'"));
    resp
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// `GET {device}/requests?status=pending[&limit=N][&cursor=C]`: one page
/// of the user's pending requests, oldest first (§5.2).
pub async fn list_requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, DeviceError> {
    let htu = format!("{}/requests", state.config.device_endpoint());
    let device = authenticate(&state, &headers, HttpMethod::Get, &htu).await?;
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
    let rows = sqlx::query(&format!(
        "{} WHERE r.sub = $1 AND r.status = 'pending' AND r.expires_at > $2 \
         AND (r.created_ms > $3 OR (r.created_ms = $3 AND r.request_id > $4)) \
         ORDER BY r.created_ms, r.request_id LIMIT $5",
        requests::SELECT
    ))
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
        let size = serde_json::to_vec(&req).map_err(Internal::from)?.len();
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
struct PageCursor {
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

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn own_request(state: &AppState, device: &Device, id: &str) -> Result<StoredRequest, DeviceError> {
    if RequestId::new(id).is_err() {
        return Err(DeviceError::NotFound);
    }
    let mut conn = state.db.acquire().await?;
    requests::load(&mut conn, id).await?.filter(|r| r.sub == device.sub).ok_or(DeviceError::NotFound)
}

/// `GET {device}/requests/{id}`.
pub async fn get_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let htu = format!("{}/requests/{id}", state.config.device_endpoint());
    let device = authenticate(&state, &headers, HttpMethod::Get, &htu).await?;
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

async fn block_state(conn: &mut SqliteConnection, sub: &str) -> Result<UnverifiedBlock, Internal> {
    let since = crate::store::blocks::unverified_block_since(conn, sub).await?;
    Ok(UnverifiedBlock { blocked: since.is_some(), since })
}

/// `GET {device}/unverified-block` (§5.4).
pub async fn unverified_block(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DeviceError> {
    let htu = format!("{}{PATH_UNVERIFIED_BLOCK}", state.config.device_endpoint());
    let device = authenticate(&state, &headers, HttpMethod::Get, &htu).await?;
    let mut conn = state.db.acquire().await?;
    Ok(no_store(Json(block_state(&mut conn, &device.sub).await?).into_response()))
}

/// `POST {device}/unverified-block/lift` (§5.4): the user lets unverified
/// agents ask again. Recorded as lifted by the device.
pub async fn lift_unverified_block(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DeviceError> {
    let htu = format!("{}{PATH_UNVERIFIED_BLOCK_LIFT}", state.config.device_endpoint());
    let device = authenticate(&state, &headers, HttpMethod::Post, &htu).await?;
    let mut tx = store::begin(&state.db).await?;
    let by = format!("device:{}", device.device_id);
    if crate::store::blocks::lift_unverified(&mut tx, &device.sub, &by, state.now()).await? {
        tracing::info!(device_id = %device.device_id, "the user lifted the block of unverified clients");
    }
    let answer = block_state(&mut tx, &device.sub).await?;
    tx.commit().await?;
    Ok(no_store(Json(answer).into_response()))
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

fn recorded_answer(
    req: &StoredRequest,
    claims: &countersign_protocol::device::DecisionClaims,
) -> Result<Response, DeviceError> {
    let same = req.decided_by.as_deref() == Some(claims.iss.as_str())
        && req.decision == Some(claims.decision)
        && req.deny_reason == claims.deny_reason
        && req.statement_hash.as_deref() == Some(claims.statement_hash.as_str());
    if !same {
        return Err(DeviceError::DecisionConflict(req.status.clone()));
    }
    let body = DecisionResult {
        request_id: req.request_id.clone(),
        status: req.status.clone(),
        decided_at: req.decided_at.unwrap_or(0),
    };
    Ok(no_store(Json(body).into_response()))
}

/// Steps 5 and 6 of §8.3 for a request that is no longer pending.
fn not_pending(
    req: &StoredRequest,
    claims: &countersign_protocol::device::DecisionClaims,
    now: u64,
) -> Option<Result<Response, DeviceError>> {
    match req.status_at(now) {
        RequestStatus::Approved | RequestStatus::Denied => Some(recorded_answer(req, claims)),
        RequestStatus::Cancelled => Some(Err(DeviceError::RequestWithdrawn(RequestStatus::Cancelled))),
        RequestStatus::Expired => Some(Err(DeviceError::RequestExpired)),
        RequestStatus::Extension(_) => Some(Err(DeviceError::Internal(Internal::new("unknown stored status")))),
        RequestStatus::Pending => None,
    }
}

/// `POST {device}/requests/{id}/decision` (§8.3).
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, DeviceError> {
    let htu = format!("{}/requests/{id}/decision", state.config.device_endpoint());
    // 1, 2, 3.
    let device = authenticate(&state, &headers, HttpMethod::Post, &htu).await?;
    let req = own_request(&state, &device, &id).await?;
    let value = crate::body::device_json(&headers, body, state.config.max_body_bytes)?;
    let submission: DecisionSubmission =
        serde_json::from_value(value).map_err(|e| DeviceError::InvalidRequest(e.to_string()))?;
    // 4.
    let now = state.now();
    let issuer = &state.config.issuer;
    let claims =
        verify_decision(&submission.decision_jws, &device.key, &device.device_id, now, issuer, &req.request_id)
            .map_err(|e| DeviceError::InvalidDecision(e.to_string()))?;
    // 5, 6.
    if let Some(answer) = not_pending(&req, &claims, now) {
        return answer;
    }
    // A disabled client gets nothing more: its requests are withdrawn
    // (disabling cancels them; this covers a decision racing with it).
    if req.client_disabled {
        return Err(DeviceError::RequestWithdrawn(RequestStatus::Cancelled));
    }
    // 7.
    let current = state.schemas.hashes_for(&req.details);
    check_statement(
        &req.to_approver(issuer),
        claims.decision,
        &current,
        &submission.display_schemas,
        &claims.statement_hash,
    )
    .map_err(DeviceError::Statement)?;
    // 8: this server never asks for WebAuthn (`requires` holds at most
    // `user_verification`, which the approver enforces locally).

    // 9.
    let push = req.delivery_mode == TokenDeliveryMode::Push;
    let signer = if push && claims.decision == Decision::Approve { Some(Signer::active(&state).await?) } else { None };
    let status = match claims.decision {
        Decision::Approve => RequestStatus::Approved,
        Decision::Deny => RequestStatus::Denied,
    };
    let mut tx = store::begin(&state.db).await?;
    let updated = sqlx::query(
        "UPDATE auth_requests SET status = $1, decision = $2, deny_reason = $3, decided_at = $4, decided_by = $5, \
         decision_jws = $6, statement_hash = $7, display_schemas = $8 \
         WHERE request_id = $9 AND status = 'pending' AND expires_at > $10",
    )
    .bind(status.as_str())
    .bind(claims.decision.as_str())
    .bind(claims.deny_reason.as_ref().map(|r| r.as_str().to_owned()))
    .bind(store::ts(now))
    .bind(device.device_id.as_str())
    .bind(&submission.decision_jws)
    .bind(claims.statement_hash.as_str())
    .bind(serde_json::to_string(&current).map_err(Internal::from)?)
    .bind(req.request_id.as_str())
    .bind(store::ts(now))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        // Lost a race (or expired meanwhile): answer as for a decided request.
        drop(tx);
        let mut conn = state.db.acquire().await?;
        let fresh = requests::load(&mut conn, req.request_id.as_str()).await?.ok_or(DeviceError::NotFound)?;
        return not_pending(&fresh, &claims, state.now())
            .unwrap_or(Err(DeviceError::Internal(Internal::new("request still pending after a failed update"))));
    }
    let mut decided = req.clone();
    decided.status = status.clone();
    decided.decision = Some(claims.decision);
    decided.deny_reason = claims.deny_reason.clone();
    decided.decided_at = Some(now);
    decided.decided_by = Some(device.device_id.as_str().to_owned());

    if claims.deny_reason == Some(DenyReason::NotMe) && !req.verified {
        crate::store::blocks::after_unverified_not_me(&mut tx, &state.config.limits, &req.sub, now).await?;
    }
    crate::device::events::withdrawn(
        &mut tx,
        &req.sub,
        &req.request_id,
        WithdrawReason::DecidedElsewhere,
        Some(device.device_id.as_str()),
        now,
    )
    .await?;
    if let Some(auth_req_id) = decided.notify_auth_req_id.clone() {
        let payload = match (&decided.delivery_mode, claims.decision) {
            (TokenDeliveryMode::Push, Decision::Approve) => {
                let signer = signer.ok_or_else(|| Internal::new("no signer for a push approval"))?;
                let issued = tokens::mint(&state, &signer, &decided, now, Some(&auth_req_id))?;
                issued.record(&mut tx, &decided, now).await?;
                serde_json::to_string(&PushSuccessCallback { auth_req_id, token: issued.response })
            }
            (TokenDeliveryMode::Push, Decision::Deny) => {
                let e = PushErrorResponse::new(ErrorCode::AccessDenied, auth_req_id)
                    .map_err(|e| Internal::new(e.to_string()))?
                    .with_description("the user denied the request");
                serde_json::to_string(&e)
            }
            _ => serde_json::to_string(&PingCallback { auth_req_id }),
        }
        .map_err(Internal::from)?;
        crate::oauth::notify::enqueue(&mut tx, &state, &decided, &payload).await?;
    }
    tx.commit().await?;
    state.hub.notify(&req.sub);
    state.outbox_wake.notify_one();
    tracing::info!(request_id = %req.request_id, device_id = %device.device_id, decision = %claims.decision, "decision recorded");
    Ok(no_store(Json(DecisionResult { request_id: req.request_id.clone(), status, decided_at: now }).into_response()))
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

struct StreamState {
    state: AppState,
    device: Device,
    cursor: i64,
    queue: VecDeque<Bytes>,
    subscription: Subscription,
    slot: StreamSlot,
    shutdown: watch::Receiver<bool>,
}

/// Rows read at most per read of the event log.
const EVENT_PAGE: i64 = 200;

/// Reads the log after `cursor` and the user's active devices into `feed`
/// (one read, shared by the user's streams woken by the same wake-up).
async fn read_feed(state: &AppState, sub: &str, cursor: i64, generation: u64, feed: &mut Feed) -> Result<(), Internal> {
    let rows = sqlx::query(
        "SELECT e.seq, e.kind, e.data, e.exclude_device, r.status, r.expires_at FROM events e \
         LEFT JOIN auth_requests r ON r.request_id = e.request_id \
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
        events.push(EventRow {
            seq: row.try_get("seq")?,
            kind: row.try_get("kind")?,
            data: row.try_get("data")?,
            exclude_device: row.try_get("exclude_device")?,
            live: status.as_deref() == Some("pending") && expires_at.is_some_and(|e| store::from_ts(e) > now),
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
async fn fill(s: &mut StreamState, fresh: bool) -> Result<bool, Internal> {
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

async fn next_chunk(mut s: StreamState) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    loop {
        if let Some(chunk) = s.queue.pop_front() {
            return Some((Ok(chunk), s));
        }
        if *s.shutdown.borrow() || *s.slot.closed.borrow() {
            return None;
        }
        match fill(&mut s, false).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::error!(error = %e, "event stream failed");
                return None;
            }
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
                match fill(&mut s, true).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        tracing::error!(error = %e, "event stream failed");
                        return None;
                    }
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
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DeviceError> {
    let htu = format!("{}/events", state.config.device_endpoint());
    let device = authenticate(&state, &headers, HttpMethod::Get, &htu).await?;
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
