//! Enrollment: the ticket, the preview, the enrollment and the link page.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use countersign_protocol::device::enroll::{check_ticket, EnrollmentRequestError};
use countersign_protocol::device::{
    DeviceId, EnrolledUser, EnrollmentPreviewRequest, EnrollmentPreviewResponse, EnrollmentRequest, EnrollmentResponse,
    EnrollmentUri, Role,
};
use countersign_protocol::jws::PublicJwk;
use countersign_protocol::secret::EnrollmentTicket;
use sqlx::AnyConnection;
use sqlx::Row as _;

use super::*;
use crate::body::DeviceJsonObject;
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;
use crate::util;

/// `POST {device}/enroll`.
pub async fn enroll(
    State(state): State<AppState>,
    DeviceJsonObject(value): DeviceJsonObject,
) -> Result<Response, DeviceError> {
    if let Some(jwk) = value.get("public_jwk") {
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
    crate::audit::append(
        &mut tx,
        now,
        &crate::audit::Record::new(
            crate::audit::Actor::Device(device_id.as_str()),
            countersign_protocol::admin::AuditAction::DeviceEnrolled,
        )
        .target(device_id.as_str())
        .user(&user.sub)
        .data(serde_json::json!({
            "device_name": req.device_name,
            "platform": req.platform.as_str(),
        })),
    )
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
    DeviceJsonObject(value): DeviceJsonObject,
) -> Result<Response, DeviceError> {
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
    conn: &mut AnyConnection,
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
pub(super) async fn ticket_holder(
    conn: &mut AnyConnection,
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

pub(super) fn html_escape(s: &str) -> String {
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

/// `GET {device}/me` (§3.4): the calling device and its user as they are
/// now; approvers read it at every sync, so a role given or taken away on
/// the server shows at the next one.
pub async fn me(State(state): State<AppState>, DeviceCaller(device): DeviceCaller) -> Result<Response, DeviceError> {
    let row =
        sqlx::query("SELECT name, roles FROM users WHERE sub = $1").bind(&device.sub).fetch_one(&state.db).await?;
    let roles: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("roles")?).map_err(Internal::from)?;
    let body = countersign_protocol::device::DeviceSelf {
        device_id: device.device_id,
        user: EnrolledUser {
            sub: device.sub,
            name: row.try_get("name")?,
            roles: roles.into_iter().map(Role::from).collect(),
        },
    };
    Ok(super::no_store(Json(body).into_response()))
}
