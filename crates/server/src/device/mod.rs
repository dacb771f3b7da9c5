//! The device channel, server side (`docs/protocol.md`): device
//! authentication here; enrollment, the request endpoints, signed decisions
//! and the SSE event stream in their own modules; the event log and the hub
//! that wakes the streams.

pub mod events;
pub mod fanout;
pub mod hub;

mod decisions;
mod enrollment;
pub(crate) mod request_endpoints;
mod stream;

pub use decisions::decide;
#[cfg(feature = "test-util")]
pub use enrollment::spend_ticket;
pub use enrollment::{enroll, enroll_link, enroll_preview, me};
pub(crate) use request_endpoints::no_store;
use request_endpoints::*;
pub use request_endpoints::{get_request, lift_unverified_block, list_requests, unverified_block};
pub use stream::events;

use axum::http::{header, HeaderMap};
use countersign_protocol::device::auth::AUTHORIZATION_SCHEME;
use countersign_protocol::device::{verify_device_auth, DeviceId, HttpMethod};
use countersign_protocol::jws::PublicJwk;
use serde_json::Value;
use sqlx::Row as _;

use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;
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

/// The device that made this call, its proof verified (§4): the extractor
/// every device endpoint but enrollment takes first. The proof's `htm` is
/// the request's method and its `htu` the configured device endpoint
/// followed by the request's path within the device channel, so no
/// handler rebuilds it.
pub struct DeviceCaller(pub Device);

impl axum::extract::FromRequestParts<AppState> for DeviceCaller {
    type Rejection = DeviceError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, DeviceError> {
        // Inside the nested device router, `uri` is the path below its base.
        let htu = format!("{}{}", state.config.device_endpoint(), parts.uri.path());
        let htm = HttpMethod::from(parts.method.as_str());
        authenticate(state, &parts.headers, htm, &htu).await.map(DeviceCaller)
    }
}

/// Verifies the `Authorization: Device <proof>` of a call to `htu` (§4).
///
/// # Errors
/// `invalid_token` for every refusal.
pub(crate) async fn authenticate(
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
