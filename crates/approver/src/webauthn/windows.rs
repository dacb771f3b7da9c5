//! Windows: the system's WebAuthn API (`webauthn.dll`: security keys over
//! USB, NFC and BLE, and Windows Hello), through webauthn-authenticator-rs's
//! `Win10` backend, driven by the library's `WebauthnAuthenticator` as the
//! other authenticators are (its origin and relying party checks, its
//! `clientDataJSON`). Apps without administrator rights cannot open FIDO
//! keys directly on Windows, so this is the only way there. Windows shows
//! its own prompts (touch, PIN, fingerprint) over the app's window; the
//! approver's [`super::PromptCallback`] is not called.
//!
//! webauthn-authenticator-rs 0.6.2 turns every failure of the Windows API
//! (the user cancelled its dialog, a timeout, a key without the
//! credential) into `WebauthnCError::Internal` and only logs the HRESULT,
//! so the reason cannot be told to the user here: it is said as such.
//!
//! Written against the library's documented API; it cannot be built or run
//! on the Linux machine the project is developed and tested on
//! (docs/approver.md, "Which authenticators work where").

use super::{
    Authenticator, AuthenticatorError, CreationChallengeResponse, PublicKeyCredential, Purpose,
    RegisterPublicKeyCredential, RequestChallengeResponse,
};
use url::Url;
use webauthn_authenticator_rs::error::WebauthnCError;
use webauthn_authenticator_rs::win10::Win10;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

/// The Windows WebAuthn API as an [`Authenticator`].
#[derive(Debug, Default)]
pub struct WindowsAuthenticator;

impl Authenticator for WindowsAuthenticator {
    fn register(
        &mut self,
        origin: &Url,
        options: CreationChallengeResponse,
        _purpose: &Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
        Win10::default().do_registration(origin.clone(), options).map_err(windows_error)
    }

    fn assert(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        _purpose: &Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError> {
        Win10::default().do_authentication(origin.clone(), options).map_err(windows_error)
    }
}

/// What a failure of the Windows API means for the user: its reason is
/// lost in the library (`Internal`), the others map as everywhere.
fn windows_error(e: WebauthnCError) -> AuthenticatorError {
    match e {
        WebauthnCError::Internal => AuthenticatorError::Failed(
            "Windows' security key dialog was cancelled or failed (Windows does not say which: cancelled, \
             not touched in time, or a key not registered for this account)"
                .into(),
        ),
        other => other.into(),
    }
}
