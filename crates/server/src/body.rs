//! Reading request bodies within the size limit.

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;

use crate::error::{DeviceError, OAuthError};

fn too_large(r: &BytesRejection) -> bool {
    r.status() == StatusCode::PAYLOAD_TOO_LARGE
}

/// A body over the limit: the limit, and the size the client declared
/// (`Content-Length`), when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The server's limit, bytes.
    pub limit: usize,
    /// The declared size, bytes.
    pub declared: Option<u64>,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body too large: this server accepts at most {} bytes", self.limit)?;
        match self.declared {
            Some(n) => write!(f, ", this one has {n}"),
            None => Ok(()),
        }
    }
}

fn too_large_of(headers: &HeaderMap, limit: usize) -> TooLarge {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    TooLarge { limit, declared }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Why a body was refused, before either family's error (OAuth or device
/// channel) says it.
enum Refused {
    TooLarge(TooLarge),
    Unreadable,
    MediaType(&'static str),
}

/// The body, if it is within `limit` and of `media_type`.
fn read(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
    media_type_wanted: &'static str,
) -> Result<Bytes, Refused> {
    let body = body.map_err(|r| {
        if too_large(&r) {
            Refused::TooLarge(too_large_of(headers, limit))
        } else {
            Refused::Unreadable
        }
    })?;
    if media_type(headers).as_deref() != Some(media_type_wanted) {
        return Err(Refused::MediaType(media_type_wanted));
    }
    Ok(body)
}

fn message(refused: Refused) -> Result<TooLarge, String> {
    match refused {
        Refused::TooLarge(t) => Ok(t),
        Refused::Unreadable => Err("cannot read the request body".into()),
        Refused::MediaType(m) => Err(format!("Content-Type must be {m}")),
    }
}

impl From<Refused> for OAuthError {
    fn from(refused: Refused) -> Self {
        message(refused).map_or_else(OAuthError::InvalidRequest, OAuthError::PayloadTooLarge)
    }
}

impl From<Refused> for DeviceError {
    fn from(refused: Refused) -> Self {
        message(refused).map_or_else(DeviceError::InvalidRequest, DeviceError::PayloadTooLarge)
    }
}

/// An `application/x-www-form-urlencoded` body as text.
///
/// # Errors
/// 413 for a body over `limit` (the configured one, named in the answer); `invalid_request` for another media type
/// or a body that is not UTF-8.
pub fn form(headers: &HeaderMap, body: Result<Bytes, BytesRejection>, limit: usize) -> Result<String, OAuthError> {
    let body = read(headers, body, limit, "application/x-www-form-urlencoded")?;
    String::from_utf8(body.to_vec()).map_err(|_| OAuthError::InvalidRequest("body is not UTF-8".into()))
}

/// An `application/json` body (OAuth family).
///
/// # Errors
/// As [`form`], for JSON.
pub fn json(headers: &HeaderMap, body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, OAuthError> {
    Ok(read(headers, body, limit, "application/json")?)
}

/// A strict JSON body of the device channel (`jcs::parse_strict`).
///
/// # Errors
/// 413 over the limit; `invalid_request` otherwise.
pub fn device_json(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<serde_json::Value, DeviceError> {
    let body = read(headers, body, limit, "application/json")?;
    countersign_protocol::jcs::parse_strict(&body).map_err(|e| DeviceError::InvalidRequest(e.to_string()))
}

/// A device-channel body that must be one JSON object, read strictly
/// ([`device_json`]) within the configured limit.
pub struct DeviceJsonObject(pub serde_json::Value);

impl axum::extract::FromRequest<crate::state::AppState> for DeviceJsonObject {
    type Rejection = DeviceError;

    async fn from_request(req: axum::extract::Request, state: &crate::state::AppState) -> Result<Self, DeviceError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await;
        let value = device_json(&headers, body, state.config.max_body_bytes)?;
        if !value.is_object() {
            return Err(DeviceError::InvalidRequest("body must be a JSON object".into()));
        }
        Ok(Self(value))
    }
}
