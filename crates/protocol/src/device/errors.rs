//! Errors of the device channel: HTTP status + OAuth-style error body.

use super::auth::DeviceAuthError;
use super::enroll::EnrollmentRequestError;
use super::ids::SchemaHash;
use super::registered::registered_enum;
use super::request::RequestStatus;
use super::statement::{DecisionError, StatementCheckError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

registered_enum! {
    /// `error` codes of the device channel. See `docs/protocol.md` §Errors.
    pub enum DeviceErrorCode {
        /// 400: malformed body, unknown member, bad parameter.
        InvalidRequest => "invalid_request",
        /// 401: missing, malformed, expired or replayed device proof; unknown
        /// or revoked device.
        InvalidToken => "invalid_token",
        /// 400: enrollment ticket unknown, expired or already used.
        InvalidTicket => "invalid_ticket",
        /// 400: enrollment `public_jwk` unusable.
        InvalidPublicKey => "invalid_public_key",
        /// 404: no such request for this user.
        NotFound => "not_found",
        /// 400: decision JWS refused (signature, typ, kid/iss, aud,
        /// request_id, lifetime, deny_reason).
        InvalidDecision => "invalid_decision",
        /// 400: the statement hash matches nothing the server can rebuild.
        StatementMismatch => "statement_mismatch",
        /// 409: same content, other display schemas: refresh and show again.
        DisplaySchemaMismatch => "display_schema_mismatch",
        /// 409: the request was already decided differently.
        DecisionConflict => "decision_conflict",
        /// 410: the request expired before this decision.
        RequestExpired => "request_expired",
        /// 410: the request was cancelled.
        RequestWithdrawn => "request_withdrawn",
        /// 403: the request requires a step-up this submission lacks.
        StepUpRequired => "step_up_required",
        /// 403: the WebAuthn assertion did not verify against the statement.
        StepUpFailed => "step_up_failed",
        /// 400: a WebAuthn registration refused (the credential does not
        /// verify, lacks user verification, is already registered, or its
        /// name is unusable).
        InvalidCredential => "invalid_credential",
        /// 403: the device's user lacks the role the call needs (the admin
        /// API, §10).
        Forbidden => "forbidden",
        /// 429: too many calls (such as WebAuthn registrations in progress,
        /// §5.5); honour `Retry-After`.
        SlowDown => "slow_down",
        /// 500: the server failed.
        ServerError => "server_error",
    } extension
}

impl DeviceErrorCode {
    /// The HTTP status that goes with the code (400 for unknown codes).
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            DeviceErrorCode::InvalidRequest
            | DeviceErrorCode::InvalidTicket
            | DeviceErrorCode::InvalidPublicKey
            | DeviceErrorCode::InvalidDecision
            | DeviceErrorCode::StatementMismatch
            | DeviceErrorCode::InvalidCredential
            | DeviceErrorCode::Extension(_) => 400,
            DeviceErrorCode::InvalidToken => 401,
            DeviceErrorCode::StepUpRequired | DeviceErrorCode::StepUpFailed | DeviceErrorCode::Forbidden => 403,
            DeviceErrorCode::NotFound => 404,
            DeviceErrorCode::DisplaySchemaMismatch | DeviceErrorCode::DecisionConflict => 409,
            DeviceErrorCode::RequestExpired | DeviceErrorCode::RequestWithdrawn => 410,
            DeviceErrorCode::SlowDown => 429,
            DeviceErrorCode::ServerError => 500,
        }
    }
}

/// Error body: `{"error": …, "error_description"?: …}` plus, for some
/// codes, data the approver needs to recover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceErrorResponse {
    /// The code.
    pub error: DeviceErrorCode,
    /// Human-readable detail (English, for logs; not for end users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// `display_schema_mismatch` only: the server's current hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_schemas: Option<BTreeMap<String, SchemaHash>>,
    /// `decision_conflict`, `request_expired`, `request_withdrawn`: where
    /// the request stands now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RequestStatus>,
}

impl DeviceErrorResponse {
    /// A body with a code and description only.
    #[must_use]
    pub fn new(error: DeviceErrorCode, description: impl Into<String>) -> Self {
        Self { error, error_description: Some(description.into()), display_schemas: None, status: None }
    }

    /// The HTTP status.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }
}

impl From<&DeviceAuthError> for DeviceErrorResponse {
    fn from(e: &DeviceAuthError) -> Self {
        Self::new(DeviceErrorCode::InvalidToken, e.to_string())
    }
}

impl From<&DecisionError> for DeviceErrorResponse {
    fn from(e: &DecisionError) -> Self {
        Self::new(DeviceErrorCode::InvalidDecision, e.to_string())
    }
}

impl From<&EnrollmentRequestError> for DeviceErrorResponse {
    fn from(e: &EnrollmentRequestError) -> Self {
        let code = match e {
            EnrollmentRequestError::Ticket(_) => DeviceErrorCode::InvalidTicket,
            EnrollmentRequestError::JwkHasKid => DeviceErrorCode::InvalidPublicKey,
            EnrollmentRequestError::DeviceName | EnrollmentRequestError::DuplicateCapability(_) => {
                DeviceErrorCode::InvalidRequest
            }
        };
        Self::new(code, e.to_string())
    }
}

impl From<&StatementCheckError> for DeviceErrorResponse {
    fn from(e: &StatementCheckError) -> Self {
        match e {
            StatementCheckError::DisplaySchemaMismatch { current } => Self {
                display_schemas: Some(current.clone()),
                ..Self::new(DeviceErrorCode::DisplaySchemaMismatch, e.to_string())
            },
            StatementCheckError::StatementMismatch => Self::new(DeviceErrorCode::StatementMismatch, e.to_string()),
            StatementCheckError::Statement(_) => {
                Self::new(DeviceErrorCode::ServerError, "cannot rebuild the statement")
            }
        }
    }
}
