//! Whether a stored request may be decided, and approved, now: the checks
//! [`Approver::record_decision`](crate::Approver::record_decision) makes,
//! in its order, as functions of what is stored and rendered (no I/O).
//!
//! The UI's fake backend answers approvals by the same rules; a fixture
//! both run (`ui/tests/agreement/approve.json`, checked by the desktop's
//! tests against [`approval`] and by the UI's tests against the fake) keeps
//! the two from drifting.

use crate::display;
use crate::error::{Error, Result};
use crate::store::{InboxItem, LocalStatus};
use crate::verify::{Availability, VerifierStatus};
use countersign_details::DisplayModel;
use countersign_protocol::device::{ApproverRequest, Requirement};

/// Either decision: the request must be pending and not expired at `now`.
///
/// # Errors
/// [`Error::NotPending`], [`Error::Expired`].
pub fn decidable(item: &InboxItem, now: u64) -> Result<()> {
    let request_id = item.request.id.as_str();
    if item.status != LocalStatus::Pending {
        return Err(Error::NotPending { request_id: request_id.to_owned(), status: item.status.to_string() });
    }
    if item.request.is_expired(now) {
        return Err(Error::Expired(request_id.to_owned()));
    }
    Ok(())
}

/// An approval without a security key: every requirement of the request
/// can be met ([`requirements_met_with`] with none offered).
///
/// # Errors
/// As [`requirements_met_with`].
pub fn requirements_met(request: &ApproverRequest, verifier: &VerifierStatus) -> Result<()> {
    requirements_met_with(request, false, verifier)
}

/// An approval: every requirement of the request can be met here.
/// `webauthn` when `security_key` (an authenticator is offered for the
/// approval, which then makes the assertion,
/// [`Approver::decide_with`](crate::Approver::decide_with));
/// `user_verification` by that assertion (the key verifies the user), else
/// by the OS prompt when `verifier` is available. Never by the typed
/// binding code alone, which shows only that the person read the request.
///
/// # Errors
/// [`Error::UnsupportedRequirement`] naming the first one that cannot;
/// [`Error::UserVerificationUnavailable`] saying why and what would work.
pub fn requirements_met_with(request: &ApproverRequest, security_key: bool, verifier: &VerifierStatus) -> Result<()> {
    for r in &request.requires {
        match r {
            Requirement::Webauthn if security_key => {}
            Requirement::Webauthn | Requirement::Extension(_) => {
                return Err(Error::UnsupportedRequirement(r.as_str().to_owned()))
            }
            Requirement::UserVerification => {
                if let VerificationStep::Unavailable { reason } = verification_step(request, verifier) {
                    return Err(Error::UserVerificationUnavailable(reason));
                }
            }
        }
    }
    Ok(())
}

/// How an approval of `request` verifies the person, with `verifier` as
/// it stands (docs/approver.md, "Verifying the user").
#[must_use]
pub fn verification_step(request: &ApproverRequest, verifier: &VerifierStatus) -> VerificationStep {
    if !request.requires.contains(&Requirement::UserVerification) {
        return VerificationStep::NotRequired;
    }
    if needs_security_key(request) {
        return VerificationStep::SecurityKey;
    }
    match &verifier.availability {
        Availability::Available => VerificationStep::OsPrompt { method: verifier.method.to_owned() },
        Availability::Unavailable(why) => VerificationStep::Unavailable { reason: crate::verify::cannot_verify(why) },
    }
}

/// Whether an approval of `request` asks the OS to verify the person: it
/// requires user verification and no security key does it.
#[must_use]
pub fn needs_os_verification(request: &ApproverRequest) -> bool {
    request.requires.contains(&Requirement::UserVerification) && !needs_security_key(request)
}

/// How an approval verifies the person.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VerificationStep {
    /// The request does not require it.
    NotRequired,
    /// The security key's assertion verifies the person (its PIN or
    /// fingerprint).
    SecurityKey,
    /// The operating system asks (its password, fingerprint, Touch ID,
    /// Windows Hello) before the approval is signed.
    OsPrompt {
        /// Which: "polkit", "LocalAuthentication", "Windows Hello".
        method: String,
    },
    /// Required, and not possible on this approver: it cannot approve.
    Unavailable {
        /// Why, and what would work.
        reason: String,
    },
}

/// Whether an approval of `request` needs a WebAuthn assertion.
#[must_use]
pub fn needs_security_key(request: &ApproverRequest) -> bool {
    request.requires.contains(&Requirement::Webauthn)
}

/// An approval of `request` as `rendering` shows it: the rendering allows it.
///
/// # Errors
/// [`Error::NotApprovable`].
pub fn rendering_allows(request: &ApproverRequest, rendering: &DisplayModel) -> Result<()> {
    match display::unapprovable_reason(rendering) {
        Some(reason) => {
            Err(Error::NotApprovable { request_id: request.id.as_str().to_owned(), reason: reason.to_owned() })
        }
        None => Ok(()),
    }
}

/// An approval of `request` as `rendering` shows it, once the rendering
/// allows it: the schemas are those shown (`schemas_changed`: they are not;
/// a stored fact, read only when the rendering allows approval) and the
/// confirmation rule ([`crate::confirm::check`]) is met by `typed`.
///
/// # Errors
/// [`Error::ReviewRequired`], then those of [`crate::confirm::check`].
pub fn shown_and_confirmed(
    request: &ApproverRequest,
    rendering: &DisplayModel,
    schemas_changed: bool,
    typed: Option<&str>,
) -> Result<()> {
    if schemas_changed {
        return Err(Error::ReviewRequired(request.id.as_str().to_owned()));
    }
    crate::confirm::check(request, rendering, typed)
}

/// Every check of an approval without a security key, in
/// `record_decision`'s order.
///
/// # Errors
/// Those of [`decidable`], [`requirements_met`], [`rendering_allows`] and
/// [`shown_and_confirmed`].
pub fn approval(
    item: &InboxItem,
    rendering: &DisplayModel,
    schemas_changed: bool,
    typed: Option<&str>,
    now: u64,
    verifier: &VerifierStatus,
) -> Result<()> {
    decidable(item, now)?;
    requirements_met(&item.request, verifier)?;
    rendering_allows(&item.request, rendering)?;
    shown_and_confirmed(&item.request, rendering, schemas_changed, typed)
}
