//! Device channel v1: what the server and an approver (desktop app or CLI)
//! exchange. The normative description is `docs/protocol.md`; every JSON
//! example there is a file in `testdata/device/examples/` that the tests
//! parse into these types.
//!
//! - [`enroll`]: the enrollment URI, `POST {device}/enroll-preview` and
//!   `POST {device}/enroll`.
//! - [`auth`]: the device proof on every call.
//! - [`request`]: a request as the approver sees it; the request endpoints.
//! - [`events`]: the SSE stream.
//! - [`statement`]: the approval statement, its hash, the signed decision.
//! - [`webauthn`]: the user's security keys and passkeys.
//! - [`errors`]: error codes and bodies.
//!
//! Conventions: times are integer unix seconds; identifiers are their own
//! types ([`ids`]); registered values are enums, with an `Extension(String)`
//! fallback where a newer peer may add values. Device-to-server bodies and
//! signed claims refuse unknown members; server-to-device bodies ignore
//! them.

pub mod auth;
pub mod blocks;
mod claims;
pub mod enroll;
pub mod errors;
pub mod events;
pub mod ids;
pub mod issuer;
pub(crate) mod registered;
pub mod request;
pub mod statement;
pub mod webauthn;

pub use auth::{verify_device_auth, DeviceAuthClaims, DeviceAuthError, HttpMethod};
pub use blocks::UnverifiedBlock;
pub use enroll::{
    Capability, DeviceSelf, EnrolledUser, EnrollmentPreviewRequest, EnrollmentPreviewResponse, EnrollmentRequest,
    EnrollmentResponse, EnrollmentUri, EnrollmentUriError, Platform, Role, TicketError,
};
pub use errors::{DeviceErrorCode, DeviceErrorResponse};
pub use events::{
    AdminNotice, AdminNoticeKind, DeviceEvent, EventKind, GrantRevoked, RevocationReason, WithdrawReason, Withdrawn,
};
pub use ids::{DeviceId, EventId, GrantId, IdError, Jti, Nonce, RequestId, SchemaHash, StatementHash};
pub use issuer::{Issuer, IssuerError};
pub use request::{
    ApproverRequest, ClientInfo, RequestContext, RequestList, RequestState, RequestStatus, RequestUser, Requirement,
    Risk,
};
pub use statement::{
    check_statement, verify_decision, ApprovalStatement, Decision, DecisionClaims, DecisionError, DecisionResult,
    DecisionSubmission, DenyReason, StatementCheckError, StatementError,
};
pub use webauthn::{
    check_credential_name, CredentialList, CredentialNameError, RegistrationFinish, RegistrationStart,
    WebauthnCredential,
};

/// Protocol version segment.
pub const VERSION: &str = "v1";
/// Server metadata member holding the device channel base URL.
pub const METADATA_DEVICE_ENDPOINT: &str = "countersign_device_endpoint";
/// Default base path under the issuer: `{issuer}/device/v1`.
pub const DEFAULT_BASE_PATH: &str = "/device/v1";
/// `POST {device}/enroll`.
pub const PATH_ENROLL: &str = "/enroll";
/// `POST {device}/enroll-preview`: who a ticket is for, without spending it.
pub const PATH_ENROLL_PREVIEW: &str = "/enroll-preview";
/// `GET {device}/events` (SSE).
pub const PATH_EVENTS: &str = "/events";
/// `GET {device}/requests?status=pending`.
pub const PATH_REQUESTS: &str = "/requests";
/// `GET {device}/me` (§3.4): this device and its user as the server knows
/// them now (roles included), read at every sync.
pub const PATH_ME: &str = "/me";
/// Query parameter of [`PATH_REQUESTS`]: which requests (`pending`).
pub const QUERY_STATUS: &str = "status";
/// Query parameter of [`PATH_REQUESTS`]: the page size, 1 to [`MAX_PAGE_SIZE`].
pub const QUERY_LIMIT: &str = "limit";
/// Query parameter of [`PATH_REQUESTS`]: the `next_cursor` of the previous page.
pub const QUERY_CURSOR: &str = "cursor";
/// Requests per page of [`PATH_REQUESTS`] without `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Largest `limit` of [`PATH_REQUESTS`].
pub const MAX_PAGE_SIZE: usize = 20;
/// `GET {device}/unverified-block`: whether unverified agents are blocked
/// for the user.
pub const PATH_UNVERIFIED_BLOCK: &str = "/unverified-block";
/// `POST {device}/unverified-block/lift`: the user lifts that block.
pub const PATH_UNVERIFIED_BLOCK_LIFT: &str = "/unverified-block/lift";
/// `POST {device}/webauthn/registrations`: start registering a credential.
pub const PATH_WEBAUTHN_REGISTRATIONS: &str = "/webauthn/registrations";
/// `GET {device}/webauthn/credentials`; `DELETE …/credentials/{credential_id}`.
pub const PATH_WEBAUTHN_CREDENTIALS: &str = "/webauthn/credentials";
/// Default seconds between polls when push is down (plus jitter).
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 30;

/// The default device endpoint of `issuer`: `{issuer}/device/v1`.
#[must_use]
pub fn default_device_endpoint(issuer: &Issuer) -> String {
    issuer.join(DEFAULT_BASE_PATH)
}

/// `{device}/requests/{id}`.
#[must_use]
pub fn request_url(device_endpoint: &str, id: &RequestId) -> String {
    format!("{device_endpoint}{PATH_REQUESTS}/{id}")
}

/// `{device}/requests/{id}/decision`.
#[must_use]
pub fn decision_url(device_endpoint: &str, id: &RequestId) -> String {
    format!("{device_endpoint}{PATH_REQUESTS}/{id}/decision")
}
