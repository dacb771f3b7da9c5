//! [`RequestError`]: why a form or a request object was refused, and the
//! OAuth error code that answers it.

use std::fmt;

use super::form::{BINDING_MESSAGE, CLIENT_ASSERTION, REQUEST, SCOPE};
use super::GrantType;
use crate::error::{ErrorCode, ErrorResponse};
use crate::rar::RarError;

/// Why a form request (or a request object) was refused. Each variant maps to
/// an OAuth error code ([`RequestError::error_code`]); `Display` is the
/// `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A recognised parameter appears more than once (RFC 6749 §3.1).
    #[error("duplicate parameter: {0} (RFC 6749 section 3.1)")]
    Duplicate(&'static str),
    /// A required parameter is missing or empty.
    #[error("missing required parameter: {0}")]
    Missing(&'static str),
    /// None of the three hints (CIBA Core §7.1, §7.2 step 3).
    #[error("exactly one of login_hint_token, id_token_hint, login_hint is required (CIBA Core section 7.1)")]
    NoHint,
    /// More than one hint (CIBA Core §7.1, §7.2 step 3).
    #[error("exactly one of login_hint_token, id_token_hint, login_hint is allowed, got {}", .0.join(", "))]
    SeveralHints(Vec<&'static str>),
    /// Authentication parameters next to a signed `request` (CIBA Core
    /// §7.1.1: only client authentication parameters may be outside it).
    #[error("parameters must be inside the signed request object: {}", .0.join(", "))]
    OutsideRequestObject(Vec<&'static str>),
    /// More than one client authentication method (RFC 6749 §2.3).
    #[error("more than one client authentication method used (RFC 6749 section 2.3)")]
    MultipleClientAuth,
    /// `grant_type` is not a grant the request serves (the CIBA grant, or
    /// `refresh_token` at the token endpoint; RFC 6749 §5.2).
    #[error("unsupported grant_type: {}", crate::jcs::quote(.0.as_str()))]
    UnsupportedGrantType(GrantType),
    /// A parameter value is malformed.
    #[error("invalid {param}: {reason}")]
    Invalid {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A request object claim has the wrong JSON type.
    #[error("request object claim {claim} must be {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// `authorization_details` refused (RFC 9396 §5).
    #[error("{0}")]
    AuthorizationDetails(RarError),
}

impl RequestError {
    /// The OAuth error code to answer with.
    ///
    /// `invalid_scope` for a malformed `scope`, `invalid_binding_message` for
    /// a bad `binding_message` (CIBA Core §13), `invalid_request_object` for
    /// a malformed `request` or claim, `invalid_client` for a malformed
    /// `client_assertion` (RFC 7523 §3.2), `unsupported_grant_type`,
    /// `invalid_authorization_details` (RFC 9396 §5); `invalid_request`
    /// otherwise (RFC 6749 §5.2, CIBA Core §7.2, §13).
    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::Invalid { param, .. } => match *param {
                SCOPE => ErrorCode::InvalidScope,
                BINDING_MESSAGE => ErrorCode::InvalidBindingMessage,
                REQUEST => ErrorCode::InvalidRequestObject,
                CLIENT_ASSERTION => ErrorCode::InvalidClient,
                _ => ErrorCode::InvalidRequest,
            },
            RequestError::ClaimType { .. } => ErrorCode::InvalidRequestObject,
            RequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            RequestError::AuthorizationDetails(_) => ErrorCode::InvalidAuthorizationDetails,
            RequestError::Duplicate(_)
            | RequestError::Missing(_)
            | RequestError::NoHint
            | RequestError::SeveralHints(_)
            | RequestError::OutsideRequestObject(_)
            | RequestError::MultipleClientAuth => ErrorCode::InvalidRequest,
        }
    }
}

impl From<RequestError> for ErrorResponse {
    fn from(e: RequestError) -> Self {
        ErrorResponse::new(e.error_code()).with_description(&e.to_string())
    }
}

pub(super) fn invalid(param: &'static str, reason: impl fmt::Display) -> RequestError {
    RequestError::Invalid { param, reason: reason.to_string() }
}
