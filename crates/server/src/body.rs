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

/// The parameters of a client's OAuth request: an
/// `application/x-www-form-urlencoded` form (RFC 6749), or, as Auth0's
/// Authentication API takes them, one JSON object, sent as
/// `application/json` or (auth0-python's `/bc-authorize`) a JSON object
/// under the form's media type. A member's string is its value; a number
/// or boolean its JSON text; an array or object (`authorization_details`)
/// its compact JSON; `null` leaves it out. Duplicate members are refused
/// as duplicate parameters are.
///
/// # Errors
/// 413 for a body over `limit` (the configured one, named in the answer);
/// `invalid_request` for another media type, a body that is not UTF-8, or
/// a JSON body that is not one strict JSON object.
pub fn oauth_params(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Vec<(String, String)>, OAuthError> {
    const FORM: &str = "application/x-www-form-urlencoded";
    const JSON: &str = "application/json";
    let wanted = match media_type(headers).as_deref() {
        Some(JSON) => JSON,
        _ => FORM,
    };
    let body = read(headers, body, limit, wanted).map_err(|e| match e {
        Refused::MediaType(_) => OAuthError::InvalidRequest(format!("Content-Type must be {FORM} or {JSON}")),
        other => other.into(),
    })?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| OAuthError::InvalidRequest("body is not UTF-8".into()))?;
    if wanted == FORM && !text.trim_start().starts_with('{') {
        return Ok(url::form_urlencoded::parse(text.as_bytes()).into_owned().collect());
    }
    // The parser's error may quote what it read (a number out of range):
    // a body holds secrets, so the answer says only what is wrong.
    let value = countersign_protocol::jcs::parse_strict(text.as_bytes()).map_err(|_| {
        OAuthError::InvalidRequest(
            "the JSON body is not strict JSON (I-JSON: no repeated member, numbers within 2^53)".into(),
        )
    })?;
    let serde_json::Value::Object(members) = value else {
        return Err(OAuthError::InvalidRequest("the JSON body must be one object".into()));
    };
    Ok(members
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// An `application/json` body (OAuth family).
///
/// # Errors
/// 413 for a body over `limit`; `invalid_request` for another media type.
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
