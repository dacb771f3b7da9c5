//! Errors of the approver core.

use crate::qr_image::QrImageError;
use countersign_protocol::device::{DeviceErrorCode, DeviceErrorResponse, EnrollmentUriError, Requirement};

/// Everything that can go wrong in the approver core.
///
/// Messages quote what they are about (ids, issuers, the server's
/// description) exactly, never escaped: each shell reveals untrusted text
/// once, as it reveals everything else (the CLI in the escape grammar of
/// `countersign_text`, the desktop with the characters the IPC error
/// carries).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The enrollment invitation is malformed (one variant per rule of
    /// protocol §3.1).
    #[error("enrollment URI refused: {0}")]
    EnrollmentUri(#[from] EnrollmentUriError),
    /// A QR code image gave no enrollment link: not a PNG/JPEG, too large,
    /// damaged, no QR code, or no enrollment link in it (never the QR
    /// code's content, which may hold a ticket).
    #[error("QR code image: {0}")]
    QrImage(#[from] QrImageError),
    /// The server's metadata could not be read or is unusable.
    #[error("server metadata: {0}")]
    Metadata(String),
    /// The metadata names another issuer than the invitation.
    #[error(
        "the invitation names issuer \"{expected}\" but the server's metadata says \"{found}\"; refusing to enroll"
    )]
    IssuerMismatch {
        /// Issuer of the invitation.
        expected: String,
        /// `issuer` of the metadata.
        found: String,
    },
    /// The enrollment ticket was refused: unknown, expired or already used.
    #[error("the enrollment ticket was refused (unknown, expired or already used): ask for a new invitation")]
    InvalidTicket,
    /// The server answered with a device-channel error.
    #[error("the server refused ({status} {}){}", .error.error, describe(.error))]
    Server {
        /// HTTP status.
        status: u16,
        /// The error body.
        error: DeviceErrorResponse,
    },
    /// The server could not be reached, or the connection failed.
    #[error("network: {0}")]
    Network(String),
    /// The server sent something that breaks the protocol.
    #[error("protocol violation by the server: {0}")]
    Protocol(String),
    /// The local database failed.
    #[error("local store: {0}")]
    Store(String),
    /// The key store (keychain or key file) failed.
    #[error("key store: {0}")]
    KeyStore(String),
    /// No account with this id.
    #[error("no account \"{0}\"")]
    UnknownAccount(String),
    /// No stored request with this id.
    #[error("no request \"{0}\" in the inbox")]
    UnknownRequest(String),
    /// The request id exists for several accounts.
    #[error("request \"{0}\" exists for several accounts; choose the account")]
    AmbiguousRequest(String),
    /// The request does not await a decision.
    #[error("request \"{request_id}\" is not pending (status: {status})")]
    NotPending {
        /// The request.
        request_id: String,
        /// Its local status.
        status: String,
    },
    /// The request expired before the decision.
    #[error("request \"{0}\" has expired; nothing was sent")]
    Expired(String),
    /// The request requires a step-up this approver cannot perform: one it
    /// does not know, or `webauthn` when no security key was offered for
    /// the approval.
    #[error("{}", unsupported(.0))]
    UnsupportedRequirement(String),
    /// The request requires local user verification (`requires:
    /// user_verification`) and no binding message was typed: type it to
    /// approve (`crate::confirm`). Typing is the check that the person
    /// read the request; the verification itself is the OS prompt or the
    /// security key (`crate::verify`).
    #[error("this request requires user verification, which starts with confirming what you read: type its binding message to approve it")]
    UserVerificationRequired,
    /// The request requires user verification and the OS cannot ask here
    /// (why, and what would work).
    #[error("{0}")]
    UserVerificationUnavailable(String),
    /// The OS prompt did not verify the person: refused, cancelled, failed.
    /// Nothing was signed.
    #[error("{0}; nothing was signed")]
    UserVerification(crate::verify::VerifyError),
    /// The request's effective risk (high or critical) needs its binding
    /// message typed before approval, and none was typed
    /// (`crate::confirm`).
    #[error("this request is {risk} risk: type its binding message to approve it")]
    RiskConfirmationRequired {
        /// `high` or `critical`.
        risk: String,
    },
    /// The text typed to confirm an approval is not the request's binding
    /// message (compared exactly, surrounding white space aside).
    #[error(
        "the text typed is not the request's binding message: nothing was signed; check the code and type it again"
    )]
    BindingMessageMismatch,
    /// The passphrase does not open the encrypted key file.
    #[error("the passphrase does not open the encrypted key file (or the file was altered)")]
    WrongPassphrase,
    /// A new passphrase for the encrypted key file was refused as too weak
    /// (`keys::passphrase::check_new_passphrase`).
    #[error("this passphrase is too weak to protect the device keys: {0}")]
    WeakPassphrase(String),
    /// The rendering of the request does not allow approval (a detail breaks
    /// its display schema, or the request is over a limit); it can be denied.
    #[error("request \"{request_id}\" cannot be approved: {reason}; it can only be denied")]
    NotApprovable {
        /// The request.
        request_id: String,
        /// Why.
        reason: String,
    },
    /// The display schemas changed since the request was shown: it must be
    /// shown again (`Approver::view`) before it can be approved.
    #[error("the display of request \"{0}\" changed since it was shown: show it again before approving")]
    ReviewRequired(String),
    /// The statement could not be built or signed.
    #[error("cannot sign: {0}")]
    Signing(String),
    /// The receipt is missing.
    #[error("no decision recorded for request \"{0}\"")]
    NoReceipt(String),
    /// Invalid input from the caller.
    #[error("{0}")]
    Invalid(String),
    /// The security key (WebAuthn authenticator) failed or was refused:
    /// cancelled, not touched in time, wrong key, wrong or locked PIN.
    #[error("{0}")]
    SecurityKey(#[from] crate::webauthn::AuthenticatorError),
    /// The history could not be exported (the file exists or cannot be
    /// written).
    #[error("{0}")]
    Export(String),
    /// The configuration (environment or options) is unusable.
    #[error("{0}")]
    Config(String),
}

fn unsupported(requirement: &str) -> String {
    if requirement == Requirement::Webauthn.as_str() {
        "this request requires a security key: approve it with a security key registered for this account".into()
    } else {
        format!(
            "the request requires \"{requirement}\", which this approver cannot provide; it cannot be approved here"
        )
    }
}

fn describe(e: &DeviceErrorResponse) -> String {
    match &e.error_description {
        Some(d) => format!(": {d}"),
        None => String::new(),
    }
}

impl Error {
    /// The device-channel error code, for [`Error::Server`].
    #[must_use]
    pub fn server_code(&self) -> Option<&DeviceErrorCode> {
        match self {
            Error::Server { error, .. } => Some(&error.error),
            _ => None,
        }
    }

    /// Whether retrying the same call later may succeed (network failures,
    /// 5xx, 429 and 401, which can be clock skew).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network(_) => true,
            Error::Server { status, .. } => transient_status(*status),
            _ => false,
        }
    }
}

impl From<crate::keys::KeyStoreError> for Error {
    fn from(e: crate::keys::KeyStoreError) -> Self {
        match e {
            crate::keys::KeyStoreError::WrongPassphrase => Error::WrongPassphrase,
            crate::keys::KeyStoreError::WeakPassphrase(why) => Error::WeakPassphrase(why),
            other => Error::KeyStore(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Store(format!("migrations: {e}"))
    }
}

/// Whether a call answered with `status` may succeed later: 5xx, 429, and
/// 401 (a clock off by more than the proof's skew).
#[must_use]
pub fn transient_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 401
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
