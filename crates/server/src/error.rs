//! The one mapping from internal errors to wire errors, per endpoint family:
//! [`OAuthError`] for the OAuth endpoints (`/bc-authorize`, `/token`,
//! `/register`, `/introspect`, `/revoke`), [`DeviceError`] for the device
//! channel. Internal failures ([`Internal`]) are logged here and answered
//! with a bare `server_error`; their text never reaches a response body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_protocol::ciba::RequestError;
use countersign_protocol::device::{DeviceErrorCode, DeviceErrorResponse, RequestStatus, StatementCheckError};
use countersign_protocol::error::{sanitize_description, Endpoint, ErrorCode, ErrorResponse};

/// `From<Internal>` and `From<sqlx::Error>` for an error type with an
/// `Internal(Internal)` variant: a failure of the server itself, logged
/// and answered without detail.
macro_rules! internal_from {
    ($name:ident) => {
        impl From<$crate::error::Internal> for $name {
            fn from(e: $crate::error::Internal) -> Self {
                $name::Internal(e)
            }
        }

        impl From<sqlx::Error> for $name {
            fn from(e: sqlx::Error) -> Self {
                $name::Internal(e.into())
            }
        }
    };
}

pub(crate) use internal_from;

/// A server-side failure: logged, never shown to the caller.
#[derive(Debug)]
pub struct Internal(pub String);

impl Internal {
    /// An internal error with a message for the log.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    fn log(&self) {
        tracing::error!(error = %self.0, "internal error");
    }
}

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Internal {}

impl From<sqlx::Error> for Internal {
    fn from(e: sqlx::Error) -> Self {
        Self(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for Internal {
    fn from(e: serde_json::Error) -> Self {
        Self(format!("json: {e}"))
    }
}

impl From<countersign_protocol::jws::JwsError> for Internal {
    fn from(e: countersign_protocol::jws::JwsError) -> Self {
        Self(format!("jws: {e}"))
    }
}

impl From<countersign_protocol::secret::Unspecified> for Internal {
    fn from(_: countersign_protocol::secret::Unspecified) -> Self {
        Self("system random number generator failed".into())
    }
}

/// Every way an OAuth endpoint can fail.
#[derive(Debug)]
pub enum OAuthError {
    /// A form the protocol crate refused (its own code: `invalid_request`,
    /// `invalid_scope`, `invalid_binding_message`, `invalid_request_object`,
    /// `unsupported_grant_type`, `invalid_authorization_details`, ...).
    Request(RequestError),
    /// `invalid_request`.
    InvalidRequest(String),
    /// The body exceeds the size limit: 413 `invalid_request`.
    PayloadTooLarge(crate::body::TooLarge),
    /// `invalid_client` (401 with `WWW-Authenticate: Basic`).
    InvalidClient(&'static str),
    /// `unauthorized_client`.
    UnauthorizedClient(&'static str),
    /// `invalid_scope`.
    InvalidScope(String),
    /// `unknown_user_id` (CIBA Core §13).
    UnknownUserId,
    /// `expired_login_hint_token` (CIBA Core §13).
    ExpiredLoginHintToken,
    /// `missing_user_code` (CIBA Core §13).
    MissingUserCode,
    /// `invalid_user_code` (CIBA Core §13).
    InvalidUserCode,
    /// `invalid_binding_message` (CIBA Core §13).
    InvalidBindingMessage(String),
    /// `invalid_request_object`.
    InvalidRequestObject(String),
    /// `invalid_authorization_details` (RFC 9396 §5).
    InvalidAuthorizationDetails(String),
    /// `invalid_target` (RFC 8707 §2): an `audience` this server does not
    /// issue tokens for.
    InvalidTarget(String),
    /// `access_denied` (403 at `/bc-authorize`, 400 at `/token`).
    AccessDenied(&'static str),
    /// Fatigue control: 429 `slow_down` with `Retry-After`.
    RateLimited {
        /// Seconds until a request would be accepted.
        retry_after: u64,
    },
    /// The user has as many pending requests as allowed: 429 `slow_down`
    /// with `Retry-After` (when the first of them expires).
    TooManyPending {
        /// The cap.
        limit: u32,
        /// The cap of unverified clients' requests (rather than all).
        unverified: bool,
        /// Seconds until the first pending request expires.
        retry_after: u64,
    },
    /// `authorization_pending` (CIBA Core §11).
    AuthorizationPending,
    /// `slow_down` (CIBA Core §11), with `Retry-After`: the interval, now
    /// `interval` seconds (clients that do not add 5 s themselves, as
    /// Auth0's SDKs, wait the header's time).
    SlowDown {
        /// The raised interval.
        interval: u64,
    },
    /// `expired_token` (CIBA Core §11).
    ExpiredToken,
    /// `invalid_grant` (CIBA Core §11).
    InvalidGrant(&'static str),
    /// `invalid_client_metadata` (RFC 7591 §3.2.2).
    InvalidClientMetadata(String),
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2).
    InvalidRedirectUri(String),
    /// Registration without a valid initial access token: 401
    /// `invalid_token` (RFC 6750 §3.1).
    InvalidToken(&'static str),
    /// The server failed.
    Internal(Internal),
}

internal_from!(OAuthError);

impl From<RequestError> for OAuthError {
    fn from(e: RequestError) -> Self {
        OAuthError::Request(e)
    }
}

impl OAuthError {
    /// The code and description (exhaustive: this is the mapping).
    fn parts(&self) -> (ErrorCode, Option<String>) {
        use OAuthError as E;
        match self {
            E::Request(e) => (e.error_code(), Some(e.to_string())),
            E::InvalidRequest(d) => (ErrorCode::InvalidRequest, Some(d.clone())),
            E::PayloadTooLarge(t) => (ErrorCode::InvalidRequest, Some(t.to_string())),
            E::InvalidClient(d) => (ErrorCode::InvalidClient, Some((*d).into())),
            E::UnauthorizedClient(d) => (ErrorCode::UnauthorizedClient, Some((*d).into())),
            E::InvalidScope(d) => (ErrorCode::InvalidScope, Some(d.clone())),
            E::UnknownUserId => (ErrorCode::UnknownUserId, Some("the hint does not identify a known user".into())),
            E::ExpiredLoginHintToken => (ErrorCode::ExpiredLoginHintToken, Some("login_hint_token expired".into())),
            E::MissingUserCode => (ErrorCode::MissingUserCode, Some("user_code is required for this client".into())),
            E::InvalidUserCode => (ErrorCode::InvalidUserCode, Some("user_code is not valid".into())),
            E::InvalidBindingMessage(d) => (ErrorCode::InvalidBindingMessage, Some(d.clone())),
            E::InvalidRequestObject(d) => (ErrorCode::InvalidRequestObject, Some(d.clone())),
            E::InvalidAuthorizationDetails(d) => (ErrorCode::InvalidAuthorizationDetails, Some(d.clone())),
            E::InvalidTarget(d) => (ErrorCode::InvalidTarget, Some(d.clone())),
            E::AccessDenied(d) => (ErrorCode::AccessDenied, Some((*d).into())),
            E::RateLimited { .. } => (ErrorCode::SlowDown, Some("too many requests; retry after Retry-After".into())),
            E::TooManyPending { limit, unverified, .. } => (
                ErrorCode::SlowDown,
                Some(format!(
                    "the user already has {limit} pending requests{}, the most this server allows; retry when one \
                     is decided or expires (Retry-After)",
                    if *unverified { " from unverified clients" } else { "" }
                )),
            ),
            E::AuthorizationPending => (ErrorCode::AuthorizationPending, None),
            E::SlowDown { .. } => {
                (ErrorCode::SlowDown, Some("polling faster than the interval; interval raised by 5 s".into()))
            }
            E::ExpiredToken => (ErrorCode::ExpiredToken, Some("auth_req_id expired".into())),
            E::InvalidGrant(d) => (ErrorCode::InvalidGrant, Some((*d).into())),
            E::InvalidClientMetadata(d) => (ErrorCode::InvalidClientMetadata, Some(d.clone())),
            E::InvalidRedirectUri(d) => (ErrorCode::InvalidRedirectUri, Some(d.clone())),
            E::InvalidToken(d) => (ErrorCode::InvalidToken, Some((*d).into())),
            E::Internal(_) => (ErrorCode::ServerError, None),
        }
    }

    /// The response at `endpoint`.
    #[must_use]
    pub fn at(self, endpoint: Endpoint) -> Response {
        if let OAuthError::Internal(e) = &self {
            e.log();
        }
        let (code, description) = self.parts();
        let status = match &self {
            OAuthError::RateLimited { .. } | OAuthError::TooManyPending { .. } => 429,
            OAuthError::PayloadTooLarge(_) => 413,
            _ => code.http_status(endpoint),
        };
        let mut body = ErrorResponse::new(code);
        if let Some(d) = description {
            body = body.with_description(&d);
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            OAuthError::InvalidClient(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"countersign\""));
            }
            OAuthError::InvalidToken(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            OAuthError::RateLimited { retry_after }
            | OAuthError::TooManyPending { retry_after, .. }
            | OAuthError::SlowDown { interval: retry_after } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.max(&1).to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        resp
    }
}

/// Every way a device-channel call can fail (`docs/protocol.md` §9).
#[derive(Debug)]
pub enum DeviceError {
    /// 400 `invalid_request`.
    InvalidRequest(String),
    /// 413 `invalid_request`.
    PayloadTooLarge(crate::body::TooLarge),
    /// 401 `invalid_token` with `WWW-Authenticate: Device error="invalid_token"`.
    InvalidToken(String),
    /// 400 `invalid_ticket` (never says which of unknown, expired, used).
    InvalidTicket,
    /// 400 `invalid_public_key`.
    InvalidPublicKey(String),
    /// 404 `not_found`.
    NotFound,
    /// 404 `not_found` for something other than a request ("credential").
    NoSuch(&'static str),
    /// 404 `not_found` naming what (the admin API: `client "x"`).
    NotFoundNamed(String),
    /// 403 `forbidden`: the device's user is not an administrator.
    Forbidden,
    /// 403 `step_up_required`: an approval without the WebAuthn assertion
    /// the request requires.
    StepUpRequired,
    /// 403 `step_up_required`: an approval of a request that requires user
    /// verification whose `amr` shows none (docs/protocol.md §8.3).
    UserVerificationRequired,
    /// 403 `step_up_failed`.
    StepUpFailed(String),
    /// 400 `invalid_credential`: a WebAuthn registration refused.
    InvalidCredential(String),
    /// 400 `invalid_credential`: the user already has as many WebAuthn
    /// credentials as allowed (the cap).
    TooManyCredentials(u32),
    /// 429 `slow_down` with `Retry-After`: the user already has as many
    /// WebAuthn registrations in progress as allowed.
    TooManyRegistrations {
        /// The cap.
        limit: u32,
        /// Seconds until the first of them expires.
        retry_after: u64,
    },
    /// 400 `invalid_decision`.
    InvalidDecision(String),
    /// 400 `statement_mismatch` or 409 `display_schema_mismatch`.
    Statement(StatementCheckError),
    /// 409 `decision_conflict` with the current status.
    DecisionConflict(RequestStatus),
    /// 410 `request_expired`.
    RequestExpired,
    /// 410 `request_withdrawn` with the current status.
    RequestWithdrawn(RequestStatus),
    /// 500 `server_error`.
    Internal(Internal),
}

internal_from!(DeviceError);

impl DeviceError {
    fn body(&self) -> DeviceErrorResponse {
        use DeviceError as E;
        match self {
            E::InvalidRequest(d) => DeviceErrorResponse::new(DeviceErrorCode::InvalidRequest, d.clone()),
            E::PayloadTooLarge(t) => DeviceErrorResponse::new(DeviceErrorCode::InvalidRequest, t.to_string()),
            E::InvalidToken(d) => DeviceErrorResponse::new(DeviceErrorCode::InvalidToken, d.clone()),
            E::InvalidTicket => {
                DeviceErrorResponse::new(DeviceErrorCode::InvalidTicket, "unknown, expired or already used ticket")
            }
            E::InvalidPublicKey(d) => DeviceErrorResponse::new(DeviceErrorCode::InvalidPublicKey, d.clone()),
            E::NotFound => DeviceErrorResponse::new(DeviceErrorCode::NotFound, "no such request"),
            E::NoSuch(what) => DeviceErrorResponse::new(DeviceErrorCode::NotFound, format!("no such {what}")),
            E::NotFoundNamed(what) => DeviceErrorResponse::new(DeviceErrorCode::NotFound, format!("{what} not found")),
            E::Forbidden => DeviceErrorResponse::new(
                DeviceErrorCode::Forbidden,
                "the admin API is for administrators; this device's user does not have the admin role",
            ),
            E::StepUpRequired => DeviceErrorResponse::new(
                DeviceErrorCode::StepUpRequired,
                "the request requires a WebAuthn assertion (a security key or passkey)",
            ),
            E::UserVerificationRequired => DeviceErrorResponse::new(
                DeviceErrorCode::StepUpRequired,
                "the request requires user verification: the decision's `amr` must show it (an OS prompt, `user`, \
                 or a security key, `hwk`)",
            ),
            E::StepUpFailed(d) => DeviceErrorResponse::new(DeviceErrorCode::StepUpFailed, d.clone()),
            E::InvalidCredential(d) => DeviceErrorResponse::new(DeviceErrorCode::InvalidCredential, d.clone()),
            E::TooManyCredentials(limit) => DeviceErrorResponse::new(
                DeviceErrorCode::InvalidCredential,
                format!(
                    "the user already has the most security keys this server allows ({limit}); remove one to \
                     register another"
                ),
            ),
            E::TooManyRegistrations { limit, .. } => DeviceErrorResponse::new(
                DeviceErrorCode::SlowDown,
                format!(
                    "the user already has the most security key registrations in progress this server allows \
                     ({limit}); retry when one is finished or expires (Retry-After)"
                ),
            ),
            E::InvalidDecision(d) => DeviceErrorResponse::new(DeviceErrorCode::InvalidDecision, d.clone()),
            E::Statement(e) => DeviceErrorResponse::from(e),
            E::DecisionConflict(status) => DeviceErrorResponse {
                status: Some(status.clone()),
                ..DeviceErrorResponse::new(
                    DeviceErrorCode::DecisionConflict,
                    "the request was already decided differently",
                )
            },
            E::RequestExpired => DeviceErrorResponse {
                status: Some(RequestStatus::Expired),
                ..DeviceErrorResponse::new(DeviceErrorCode::RequestExpired, "the request has expired")
            },
            E::RequestWithdrawn(status) => DeviceErrorResponse {
                status: Some(status.clone()),
                ..DeviceErrorResponse::new(DeviceErrorCode::RequestWithdrawn, "the request was withdrawn")
            },
            E::Internal(_) => DeviceErrorResponse {
                error: DeviceErrorCode::ServerError,
                error_description: None,
                display_schemas: None,
                status: None,
            },
        }
    }
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        match &self {
            DeviceError::Internal(e) => e.log(),
            DeviceError::Statement(StatementCheckError::Statement(e)) => {
                tracing::error!(error = %e, "cannot rebuild a stored statement");
            }
            _ => {}
        }
        let mut body = self.body();
        // Descriptions may quote input (serde's messages name unknown fields
        // and quote values): bounded and in plain ASCII, as OAuth's.
        body.error_description = body.error_description.map(|d| sanitize_description(&d));
        let status = match self {
            DeviceError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::from_u16(body.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            DeviceError::InvalidToken(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Device error=\"invalid_token\""));
            }
            DeviceError::TooManyRegistrations { retry_after, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        resp
    }
}
