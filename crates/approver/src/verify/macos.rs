//! macOS: LocalAuthentication's `LAContext` with the policy
//! `LAPolicyDeviceOwnerAuthentication` (Touch ID, a paired Apple Watch or
//! the login password, whichever macOS offers).
//!
//! Written against the documented API (Apple's LocalAuthentication
//! reference and the `objc2-local-authentication` 0.3.2 bindings); not
//! built or run in this project's CI, which is Linux. Untested: the prompt
//! itself, the error codes macOS really returns, and running outside an app
//! bundle (a bare CLI binary).

use super::{Availability, UserVerifier, VerifyError};
use block2::RcBlock;
use countersign_protocol::amr::Amr;
use objc2::rc::autoreleasepool;
use objc2::runtime::Bool;
use objc2_foundation::{NSError, NSString};
use objc2_local_authentication::{LAContext, LAError, LAErrorDomain, LAPolicy};
use std::sync::mpsc;

const POLICY: LAPolicy = LAPolicy::DeviceOwnerAuthentication;

/// LocalAuthentication. A verification proves only `user`: macOS does not
/// say whether Touch ID, the watch or the password was used.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAuthenticationVerifier;

/// What an `NSError` said, copied out (the reply block's error pointer is
/// valid only while the block runs). `code` is `None` outside `LAErrorDomain`.
struct Failure {
    code: Option<LAError>,
    description: String,
}

impl Failure {
    fn of(error: &NSError) -> Self {
        // SAFETY: an immutable framework constant.
        let ours = error.domain().isEqualToString(unsafe { LAErrorDomain });
        Self { code: ours.then(|| LAError(error.code())), description: error.localizedDescription().to_string() }
    }

    /// Why the policy cannot be evaluated here (`canEvaluatePolicy:error:`).
    fn unavailable_reason(&self) -> String {
        let why = match self.code {
            Some(LAError::PasscodeNotSet) => "this Mac account has no login password",
            Some(LAError::NotInteractive) => "macOS cannot show its authentication prompt in this session",
            Some(LAError::BiometryNotAvailable | LAError::BiometryNotEnrolled | LAError::BiometryNotPaired) => {
                "Touch ID is not available or not set up"
            }
            Some(LAError::BiometryLockout) => "Touch ID is locked after too many failed attempts",
            Some(LAError::BiometryDisconnected) => "the Touch ID accessory is disconnected",
            Some(LAError::CompanionNotAvailable) => "no paired Apple Watch is nearby",
            _ => "LocalAuthentication cannot verify you here",
        };
        format!("{why} ({})", self.description)
    }
}

/// `canEvaluatePolicy:error:` on a fresh context.
fn check(context: &LAContext) -> Result<(), Failure> {
    // SAFETY: a valid context and policy; the error is returned owned.
    unsafe { context.canEvaluatePolicy_error(POLICY) }.map_err(|error| Failure::of(&error))
}

impl UserVerifier for LocalAuthenticationVerifier {
    fn method(&self) -> &'static str {
        "LocalAuthentication"
    }

    fn availability(&self) -> Availability {
        autoreleasepool(|_| {
            // SAFETY: `+[LAContext new]` has no preconditions.
            let context = unsafe { LAContext::new() };
            match check(&context) {
                Ok(()) => Availability::Available,
                Err(failure) => Availability::Unavailable(failure.unavailable_reason()),
            }
        })
    }

    fn verify(&self, reason: &str) -> Result<Vec<Amr>, VerifyError> {
        // An empty reason makes LocalAuthentication throw an exception.
        let reason = if reason.trim().is_empty() { "approve a request" } else { reason };
        autoreleasepool(|_| evaluate(reason))
    }
}

/// `evaluatePolicy:localizedReason:reply:`, waiting for the reply.
fn evaluate(reason: &str) -> Result<Vec<Amr>, VerifyError> {
    // SAFETY: as in `availability`. The context stays alive until the reply
    // (releasing it would cancel the evaluation).
    let context = unsafe { LAContext::new() };
    check(&context).map_err(|failure| VerifyError::Unavailable(failure.unavailable_reason()))?;
    let (tx, rx) = mpsc::channel::<Result<(), Failure>>();
    let reply = RcBlock::new(move |success: Bool, error: *mut NSError| {
        let answer = if success.as_bool() {
            Ok(())
        } else {
            // SAFETY: null or a valid NSError for the block's duration.
            Err(unsafe { error.as_ref() }
                .map_or_else(|| Failure { code: None, description: "no error was given".into() }, Failure::of))
        };
        let _ = tx.send(answer);
    });
    // SAFETY: a non-empty reason; the block only sends on a channel (`Sender`
    // is `Send`), as a block run on the framework's private queue must.
    unsafe { context.evaluatePolicy_localizedReason_reply(POLICY, &NSString::from_str(reason), &reply) };
    // The framework copied the block: if its copy is released unanswered, the
    // last sender goes with it and `recv` fails instead of waiting forever.
    drop(reply);
    let answer = rx.recv().map_err(|_| VerifyError::Failed("LocalAuthentication gave no answer".into()))?;
    drop(context);
    match answer {
        Ok(()) => Ok(vec![Amr::User]),
        Err(failure) => Err(match failure.code {
            Some(LAError::UserCancel | LAError::AppCancel | LAError::SystemCancel) => VerifyError::Cancelled,
            Some(LAError::AuthenticationFailed) => VerifyError::Refused(failure.description),
            Some(LAError::NotInteractive | LAError::PasscodeNotSet) => {
                VerifyError::Unavailable(failure.unavailable_reason())
            }
            _ => VerifyError::Failed(failure.description),
        }),
    }
}
