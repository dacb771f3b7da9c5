//! The one error shape that crosses IPC: `{code, message}`, plus the
//! characters the window must reveal in `message`. `code` is stable and
//! machine-readable; `message` is for people and never carries secrets (no
//! key material, passphrase or enrollment ticket is ever formatted into an
//! approver error). A message quotes what it is about exactly (an issuer,
//! a requirement, the server's description); `characters` lists what the
//! one classifier flags in it, as one line of prose, so the window marks it
//! as it marks every other text (`docs/display-schema.md` §4).

use countersign_details::text::Revealed;
use countersign_details::CharFinding;
use serde::Serialize;

#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "BackendError"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IpcError {
    pub code: &'static str,
    pub message: String,
    /// The characters of `message` to reveal where they stand.
    pub characters: Vec<CharFinding>,
}

impl IpcError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let (message, characters) = Revealed::line(&message.into()).into_parts();
        Self { code, message, characters }
    }
}

impl From<countersign_approver::Error> for IpcError {
    fn from(error: countersign_approver::Error) -> Self {
        use countersign_approver::Error as E;
        // Exhaustive on purpose: a new core error must get its own code here.
        let code = match &error {
            E::EnrollmentUri(_) => "invalid_enrollment_link",
            E::QrImage(_) => "invalid_qr_image",
            E::Metadata(_) => "server_metadata",
            E::IssuerMismatch { .. } => "issuer_mismatch",
            E::InvalidTicket => "invalid_ticket",
            E::Server { .. } => "server_refused",
            E::Network(_) => "network",
            E::Protocol(_) => "protocol",
            E::Store(_) => "store",
            E::KeyStore(_) => "key_store",
            E::UnknownAccount(_) => "unknown_account",
            E::UnknownRequest(_) => "unknown_request",
            E::AmbiguousRequest(_) => "ambiguous_request",
            E::NotPending { .. } => "not_pending",
            E::Expired(_) => "expired",
            E::UnsupportedRequirement(_) => "unsupported_requirement",
            E::UserVerificationRequired => "confirmation_required",
            E::UserVerificationUnavailable(_) => "user_verification_unavailable",
            E::UserVerification(countersign_approver::verify::VerifyError::Cancelled) => "user_verification_cancelled",
            E::UserVerification(_) => "user_verification_failed",
            E::RiskConfirmationRequired { .. } => "risk_confirmation_required",
            E::BindingMessageMismatch => "binding_message_mismatch",
            E::WrongPassphrase => "wrong_passphrase",
            E::WeakPassphrase(_) => "weak_passphrase",
            E::NotApprovable { .. } => "not_approvable",
            E::ReviewRequired(_) => "review_required",
            E::Signing(_) => "signing",
            E::NoReceipt(_) => "no_receipt",
            E::Invalid(_) => "invalid",
            E::SecurityKey(_) => "security_key",
            E::Export(_) => "export_failed",
            E::Config(_) => "invalid_config",
        };
        Self::new(code, error.to_string())
    }
}

impl From<countersign_approver::webauthn::PinAnswerError> for IpcError {
    fn from(error: countersign_approver::webauthn::PinAnswerError) -> Self {
        use countersign_approver::webauthn::PinAnswerError as E;
        let code = match &error {
            E::NotWaiting => "not_waiting",
            E::Empty => "invalid",
        };
        Self::new(code, error.to_string())
    }
}

impl From<countersign_protocol::device::EnrollmentUriError> for IpcError {
    fn from(error: countersign_protocol::device::EnrollmentUriError) -> Self {
        countersign_approver::Error::from(error).into()
    }
}
