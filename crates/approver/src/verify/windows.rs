//! Windows: Windows Hello through WinRT's `UserConsentVerifier`
//! (`Windows.Security.Credentials.UI`): the PIN, a fingerprint or a face,
//! whichever the user set up.
//!
//! Written against the documented API (Microsoft's WinRT reference and the
//! `windows` 0.61 crate); not built or run in this project's CI, which is
//! Linux. Untested: the prompt itself and the results Windows really gives.
//!
//! The prompt's owner window: `RequestVerificationAsync` names none, so from
//! a Win32 desktop app (or a terminal) the prompt may open behind the
//! app's window. `IUserConsentVerifierInterop::RequestVerificationForWindowAsync`
//! takes the owner's `HWND`, but [`UserVerifier::verify`] has no window to
//! give (and it would need the `windows` features `Win32_Foundation` and
//! `Win32_System_WinRT`), so the simple call is used.

use super::{Availability, UserVerifier, VerifyError};
use countersign_protocol::amr::Amr;
use windows::core::HSTRING;
use windows::Security::Credentials::UI::{
    UserConsentVerificationResult as Verification, UserConsentVerifier, UserConsentVerifierAvailability as Device,
};

/// Windows Hello. A verification proves only `user`: Windows does not say
/// whether the PIN or a biometric was used.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowsHelloVerifier;

/// `CheckAvailabilityAsync`, waited for (`get` blocks this thread, which is
/// never the UI thread: callers run verifiers on the blocking pool).
fn check() -> Result<Device, String> {
    UserConsentVerifier::CheckAvailabilityAsync()
        .and_then(|operation| operation.get())
        .map_err(|e| format!("Windows Hello could not be checked: {e}"))
}

/// Why Windows Hello cannot verify the user, for a state other than
/// `Available` (the verification results 1–4 name the same states).
fn why(device: Device) -> String {
    match device {
        Device::DeviceNotPresent => "this PC has no Windows Hello device".into(),
        Device::NotConfiguredForUser => {
            "Windows Hello is not set up for this user (Settings, Accounts, Sign-in options)".into()
        }
        Device::DisabledByPolicy => "Windows Hello is disabled by group policy".into(),
        Device::DeviceBusy => "the Windows Hello device is busy".into(),
        other => format!("Windows Hello is not available (state {})", other.0),
    }
}

impl UserVerifier for WindowsHelloVerifier {
    fn method(&self) -> &'static str {
        "Windows Hello"
    }

    fn availability(&self) -> Availability {
        match check() {
            Ok(Device::Available) => Availability::Available,
            Ok(device) => Availability::Unavailable(why(device)),
            Err(e) => Availability::Unavailable(e),
        }
    }

    fn verify(&self, reason: &str) -> Result<Vec<Amr>, VerifyError> {
        // Asking while Windows Hello is unavailable can leave the request
        // unanswered (robius-authentication's experience), so check first.
        match check().map_err(VerifyError::Failed)? {
            Device::Available => {}
            device => return Err(VerifyError::Unavailable(why(device))),
        }
        let result = UserConsentVerifier::RequestVerificationAsync(&HSTRING::from(reason))
            .and_then(|operation| operation.get())
            .map_err(|e| VerifyError::Failed(format!("Windows Hello: {e}")))?;
        match result {
            Verification::Verified => Ok(vec![Amr::User]),
            Verification::Canceled => Err(VerifyError::Cancelled),
            Verification::RetriesExhausted => {
                Err(VerifyError::Refused("too many failed attempts; Windows Hello is locked for now".into()))
            }
            Verification::DeviceNotPresent => Err(VerifyError::Unavailable(why(Device::DeviceNotPresent))),
            Verification::NotConfiguredForUser => Err(VerifyError::Unavailable(why(Device::NotConfiguredForUser))),
            Verification::DisabledByPolicy => Err(VerifyError::Unavailable(why(Device::DisabledByPolicy))),
            Verification::DeviceBusy => Err(VerifyError::Unavailable(why(Device::DeviceBusy))),
            other => Err(VerifyError::Failed(format!("Windows Hello gave an unknown result ({})", other.0))),
        }
    }
}
