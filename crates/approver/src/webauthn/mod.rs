//! The WebAuthn client: security keys (and other authenticators) that
//! prove the user's presence and verification for a decision
//! (`docs/protocol.md` §5.5, §8.2), shared by the desktop and the CLI.
//!
//! - [`Authenticator`]: what an approver needs from an authenticator, a
//!   registration and an assertion, each with the origin the approver
//!   vouches for (the issuer's). Blocking: [`SharedAuthenticator`] runs it on
//!   the blocking pool for async callers and holds it between calls.
//! - [`PromptCallback`]: what a shell tells the user while an authenticator
//!   works ("Touch your security key to approve: …", the PIN and the tries
//!   left); [`UiBridge`] maps webauthn-authenticator-rs's `UiCallback` onto
//!   it for the hardware transports.
//! - `CtapAuthenticator` (features `usb`, `nfc`): USB and NFC security
//!   keys through webauthn-authenticator-rs's CTAP 2 stack (feature `ctap`
//!   alone: over a `KeySource` of the caller's, such as the tests'
//!   in-process key).
//! - `SoftAuthenticator` (feature `soft-authenticator`, tests only): a
//!   software passkey.
//! - `WindowsAuthenticator` (Windows only): the system's WebAuthn API.
//! - [`WindowPrompt`]: the [`PromptCallback`] of a shell with a window
//!   (prompts to a hook, the PIN answered by the window).
//!
//! The approver's side of the ceremonies (what the server is asked, which
//! origin, the challenge of an assertion = the statement hash) is in
//! [`crate::Approver::add_security_key`] and
//! [`crate::Approver::decide_with`].

use crate::error::{Error, Result};
use countersign_protocol::device::{CredentialList, Issuer};
use std::fmt;
use std::sync::{Arc, Mutex, TryLockError};
use url::Url;
use webauthn_authenticator_rs::error::{CtapError, WebauthnCError};
use webauthn_authenticator_rs::types::{CableRequestType, CableState, EnrollSampleStatus};
use webauthn_authenticator_rs::ui::UiCallback;
pub use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, PublicKeyCredentialRequestOptions,
    RegisterPublicKeyCredential, RequestChallengeResponse, UserVerificationPolicy,
};
use zeroize::Zeroizing;

#[cfg(feature = "ctap")]
mod ctap;
#[cfg(feature = "ctap")]
pub use ctap::{CtapAuthenticator, KeySource, MachineKeys, FIND_TIMEOUT};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::WindowsAuthenticator;
mod window_prompt;
pub use window_prompt::{PinAnswerError, WindowPrompt, WindowPromptEvent, PIN_WAIT};
#[cfg(feature = "soft-authenticator")]
mod soft;
#[cfg(feature = "soft-authenticator")]
pub use soft::SoftAuthenticator;

/// DANGER, tests only: in a build with a `danger-soft-authenticator`
/// feature (the CLI, the desktop app), a software token whose private keys
/// are kept in the clear in the file this names stands in for the
/// security key.
pub const ENV_DANGER_SOFT_AUTHENTICATOR: &str = "COUNTERSIGN_DANGER_SOFT_AUTHENTICATOR";

/// DANGER, tests only: with [`ENV_DANGER_SOFT_AUTHENTICATOR`], the software
/// token asks for this PIN as a key with a PIN set does
/// (`SoftAuthenticator::with_pin`).
pub const ENV_DANGER_SOFT_AUTHENTICATOR_PIN: &str = "COUNTERSIGN_DANGER_SOFT_AUTHENTICATOR_PIN";

/// How long an authenticator may wait for the user (touch, PIN) during an
/// assertion, in milliseconds; webauthn-authenticator-rs caps every
/// ceremony at 60 s.
pub const ASSERTION_TIMEOUT_MS: u32 = 60_000;

/// Why the authenticator is asked: what the prompts name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a new security key under `name`.
    Register {
        /// The name the user gave it.
        name: String,
    },
    /// Approving a request.
    Approve {
        /// The request's binding message, as shown with the request (shells
        /// reveal its characters as they reveal every text of a request).
        binding_message: String,
    },
}

impl Purpose {
    /// The end of a prompt's sentence: `approve: <binding message>` or
    /// `add it as "<name>"`.
    #[must_use]
    pub fn action(&self) -> String {
        match self {
            Purpose::Register { name } => format!("add it as \"{name}\""),
            Purpose::Approve { binding_message } => format!("approve: {binding_message}"),
        }
    }
}

/// What a shell shows while an authenticator works (never blocking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// No security key is there: the user must plug one in (or hold it to
    /// the reader).
    Connect(Purpose),
    /// The user must touch (or tap) the security key.
    Touch(Purpose),
    /// The key got what it needed and is working.
    Processing(Purpose),
}

impl Prompt {
    /// The sentence to show: "Touch your security key to approve: TRADE-4F7Q".
    #[must_use]
    pub fn text(&self) -> String {
        match self {
            Prompt::Connect(p) => {
                format!("Plug in your security key (or hold it to the reader) to {}", p.action())
            }
            Prompt::Touch(p) => format!("Touch your security key to {}", p.action()),
            Prompt::Processing(p) => format!("Your security key is working ({})", p.action()),
        }
    }
}

/// A request for the security key's PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRequest {
    /// Why.
    pub purpose: Purpose,
    /// How many wrong PINs the key still accepts before it locks, when the
    /// transport could ask it.
    pub retries_left: Option<u32>,
}

impl PinRequest {
    /// The sentence to show: "Enter your security key's PIN to approve:
    /// TRADE-4F7Q (3 tries left)".
    #[must_use]
    pub fn text(&self) -> String {
        let base = format!("Enter your security key's PIN to {}", self.purpose.action());
        match self.retries_left {
            Some(1) => format!("{base} (last try: one more wrong PIN locks the key)"),
            Some(n) => format!("{base} ({n} tries left)"),
            None => base,
        }
    }
}

/// What a shell does for an authenticator: show prompts and ask the PIN.
/// Called from the blocking pool.
pub trait PromptCallback: Send + Sync + fmt::Debug {
    /// Shows `prompt`; must return at once.
    fn show(&self, prompt: &Prompt);
    /// Asks the user for the key's PIN and waits for the answer; `None`
    /// cancels the ceremony.
    fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>>;
}

/// Why an authenticator did not answer, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticatorError {
    /// The user (or the key) cancelled.
    #[error("the security key operation was cancelled")]
    Cancelled,
    /// Nobody touched the key in time.
    #[error("the security key was not touched in time")]
    Timeout,
    /// No authenticator was found.
    #[error("no security key was found: plug it in (or hold it to the reader) and try again")]
    NoAuthenticator,
    /// The key holds none of the account's credentials.
    #[error("this security key is not registered for this account: use a key registered with it")]
    WrongKey,
    /// The PIN was wrong.
    #[error("wrong PIN{}", retries(.retries_left))]
    PinInvalid {
        /// Wrong PINs the key still accepts, when known.
        retries_left: Option<u32>,
    },
    /// Too many wrong PINs in a row: the key wants to be unplugged first.
    #[error("too many wrong PINs: unplug the security key, plug it in again and retry")]
    PinAuthBlocked,
    /// The PIN is locked for good.
    #[error("the security key's PIN is locked after too many wrong tries: the key must be reset (which erases its credentials)")]
    PinBlocked,
    /// The key cannot verify the user (no PIN set, no fingerprint).
    #[error(
        "this security key cannot verify you (it has no PIN or fingerprint set): set a PIN on it or use another key"
    )]
    UserVerificationUnavailable,
    /// Another ceremony is using the authenticator.
    #[error("the security key is busy with another operation: finish or cancel it first")]
    Busy,
    /// The origin or the relying party id were refused (WebAuthn's
    /// security checks).
    #[error("the security key operation was refused: the server's relying party id does not belong to its address")]
    Refused,
    /// Anything else.
    #[error("the security key failed: {0}")]
    Failed(String),
}

fn retries(left: &Option<u32>) -> String {
    match left {
        Some(1) => " (last try: one more wrong PIN locks the key)".into(),
        Some(n) => format!(" ({n} tries left)"),
        None => String::new(),
    }
}

impl From<WebauthnCError> for AuthenticatorError {
    fn from(e: WebauthnCError) -> Self {
        use AuthenticatorError as A;
        match e {
            WebauthnCError::Cancelled => A::Cancelled,
            WebauthnCError::Security => A::Refused,
            WebauthnCError::UserVerificationRequired => A::UserVerificationUnavailable,
            WebauthnCError::NoHidDevices | WebauthnCError::NoSelectedToken => A::NoAuthenticator,
            WebauthnCError::Ctap(c) => match c {
                CtapError::Ctap2KeepAliveCancel | CtapError::Ctap2OperationDenied | CtapError::Ctap2NotAllowed => {
                    A::Cancelled
                }
                CtapError::Ctap1Timeout | CtapError::Ctap2UserActionTimeout | CtapError::Ctap2ActionTimeout => {
                    A::Timeout
                }
                CtapError::Ctap2NoCredentials => A::WrongKey,
                CtapError::Ctap2PinInvalid => A::PinInvalid { retries_left: None },
                CtapError::Ctap2PinAuthBlocked => A::PinAuthBlocked,
                CtapError::Ctap2PinBlocked => A::PinBlocked,
                CtapError::Ctap2PinNotSet => A::UserVerificationUnavailable,
                other => A::Failed(format!("CTAP error {other:?}")),
            },
            other => A::Failed(other.to_string()),
        }
    }
}

/// An authenticator: a security key behind a transport, a platform
/// authenticator, or a software one. Its calls block until the user acts
/// or the ceremony times out; implementations run WebAuthn's client checks
/// (the origin is `https` or `http://localhost`, the relying party id
/// belongs to it), which webauthn-authenticator-rs's
/// `WebauthnAuthenticator::do_registration` and `do_authentication` do.
pub trait Authenticator: Send {
    /// Creates a credential (`navigator.credentials.create` for `origin`).
    ///
    /// # Errors
    /// [`AuthenticatorError`].
    fn register(
        &mut self,
        origin: &Url,
        options: CreationChallengeResponse,
        purpose: &Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError>;

    /// Makes an assertion (`navigator.credentials.get` for `origin`).
    ///
    /// # Errors
    /// [`AuthenticatorError`].
    fn assert(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        purpose: &Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError>;
}

/// An [`Authenticator`] async code can use: each call runs on the blocking
/// pool, one at a time ([`AuthenticatorError::Busy`] while another runs).
/// Cheap to clone.
#[derive(Clone)]
pub struct SharedAuthenticator(Arc<Mutex<Box<dyn Authenticator>>>);

impl fmt::Debug for SharedAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedAuthenticator")
    }
}

impl SharedAuthenticator {
    /// Wraps `authenticator`.
    pub fn new(authenticator: impl Authenticator + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::new(authenticator))))
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Authenticator) -> Result<T, AuthenticatorError> + Send + 'static,
    ) -> Result<T, AuthenticatorError> {
        let shared = self.0.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut guard = match shared.try_lock() {
                Ok(g) => g,
                Err(TryLockError::WouldBlock) => return Err(AuthenticatorError::Busy),
                Err(TryLockError::Poisoned(_)) => {
                    return Err(AuthenticatorError::Failed("an earlier operation of this authenticator crashed".into()))
                }
            };
            f(guard.as_mut())
        });
        match task.await {
            Ok(r) => r,
            Err(e) => Err(AuthenticatorError::Failed(format!("the authenticator task ended: {e}"))),
        }
    }

    /// [`Authenticator::register`] on the blocking pool.
    ///
    /// # Errors
    /// [`AuthenticatorError`].
    pub async fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        purpose: Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
        self.run(move |a| a.register(&origin, options, &purpose)).await
    }

    /// [`Authenticator::assert`] on the blocking pool.
    ///
    /// # Errors
    /// [`AuthenticatorError`].
    pub async fn assert(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        purpose: Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError> {
        self.run(move |a| a.assert(&origin, options, &purpose)).await
    }
}

/// The error an approver call reports for an authenticator's failure.
pub(crate) fn authenticator_error(e: &AuthenticatorError) -> Error {
    Error::SecurityKey(e.clone())
}

/// The WebAuthn origin of `issuer` (scheme, host, port): the one origin an
/// approver vouches for in `clientDataJSON`, whatever the server says.
///
/// # Errors
/// [`Error::Invalid`] when the issuer's host is an IP address (WebAuthn
/// has no relying party id for one).
pub fn issuer_origin(issuer: &Issuer) -> Result<Url> {
    let url = Url::parse(issuer.as_str()).map_err(|e| Error::Protocol(format!("issuer {issuer}: {e}")))?;
    if url.domain().is_none() {
        return Err(Error::Invalid(format!(
            "security keys need a server named by a domain, and {issuer} is an IP address \
             (WebAuthn has no relying party id for one)"
        )));
    }
    Url::parse(&url.origin().ascii_serialization()).map_err(|e| Error::Protocol(format!("issuer {issuer}: {e}")))
}

/// The assertion options for a decision whose statement hash is
/// `statement_hash` (its 32 bytes): `rpId` and the credentials not flagged
/// from `list`, user verification required. `origin` is the issuer's
/// ([`issuer_origin`]); a list naming another origin is refused.
///
/// # Errors
/// [`Error::Protocol`] for another origin or a credential id that is not
/// base64url; [`Error::Invalid`] when no usable credential is registered.
pub fn assertion_options(
    list: &CredentialList,
    origin: &Url,
    statement_hash: &[u8],
) -> Result<RequestChallengeResponse> {
    let listed = Url::parse(&list.origin)
        .map_err(|e| Error::Protocol(format!("security keys' origin \"{}\": {e}", list.origin)))?;
    if listed.origin() != origin.origin() {
        return Err(Error::Protocol(format!(
            "the server names \"{}\" as its security keys' origin, but its issuer's origin is \"{}\"",
            list.origin,
            origin.origin().ascii_serialization()
        )));
    }
    // The relying party is the issuer's host itself (protocol §5.5), not a
    // parent domain the library would also accept.
    if origin.host_str() != Some(list.rp_id.as_str()) {
        return Err(Error::Protocol(format!(
            "the server names \"{}\" as its security keys' relying party, but its issuer's host is \"{}\"",
            list.rp_id,
            origin.host_str().unwrap_or_default()
        )));
    }
    let mut allow = Vec::new();
    for c in list.credentials.iter().filter(|c| c.flagged_at.is_none()) {
        let id = countersign_protocol::jws::b64url_decode(&c.credential_id)
            .map_err(|e| Error::Protocol(format!("credential id \"{}\": {e}", c.credential_id)))?;
        allow.push(AllowCredentials { type_: "public-key".into(), id, transports: None });
    }
    if allow.is_empty() {
        return Err(Error::Invalid(if list.credentials.is_empty() {
            "this request requires a security key, and none is registered for this account: add one, then approve"
                .into()
        } else {
            "this request requires a security key, and every key registered for this account is flagged as \
             possibly cloned: remove them, add a key, then approve"
                .into()
        }));
    }
    Ok(RequestChallengeResponse {
        public_key: PublicKeyCredentialRequestOptions {
            challenge: statement_hash.to_vec(),
            timeout: Some(ASSERTION_TIMEOUT_MS),
            rp_id: list.rp_id.clone(),
            allow_credentials: allow,
            user_verification: UserVerificationPolicy::Required,
            hints: None,
            extensions: None,
        },
        mediation: None,
    })
}

/// webauthn-authenticator-rs's `UiCallback` for one ceremony, mapped onto
/// a [`PromptCallback`]: touch and processing become [`Prompt`]s naming
/// `purpose`, the PIN request a [`PinRequest`] with the tries left that the
/// transport found ([`UiBridge::set_pin_retries`]). Fingerprint enrollment
/// and caBLE (phone) prompts are not used by approvers and show nothing.
#[derive(Debug)]
pub struct UiBridge {
    callback: Arc<dyn PromptCallback>,
    purpose: Purpose,
    pin_retries: Mutex<Option<u32>>,
}

impl UiBridge {
    /// The bridge for one ceremony.
    pub fn new(callback: Arc<dyn PromptCallback>, purpose: Purpose) -> Self {
        Self { callback, purpose, pin_retries: Mutex::new(None) }
    }

    /// Records the PIN tries the key has left, for the next PIN request.
    pub fn set_pin_retries(&self, retries: Option<u32>) {
        if let Ok(mut r) = self.pin_retries.lock() {
            *r = retries;
        }
    }

    /// The PIN tries the key last said it has left.
    #[must_use]
    pub fn pin_retries(&self) -> Option<u32> {
        self.pin_retries.lock().ok().and_then(|r| *r)
    }
}

impl UiCallback for UiBridge {
    fn request_pin(&self) -> Option<String> {
        let retries_left = self.pin_retries();
        let request = PinRequest { purpose: self.purpose.clone(), retries_left };
        // The library takes a plain String: the copy it keeps is its own.
        self.callback.request_pin(&request).map(|pin| pin.as_str().to_owned())
    }

    fn request_touch(&self) {
        self.callback.show(&Prompt::Touch(self.purpose.clone()));
    }

    fn processing(&self) {
        self.callback.show(&Prompt::Processing(self.purpose.clone()));
    }

    fn fingerprint_enrollment_feedback(&self, _remaining_samples: u32, _feedback: Option<EnrollSampleStatus>) {}

    fn cable_qr_code(&self, _request_type: CableRequestType, _url: String) {}

    fn dismiss_qr_code(&self) {}

    fn cable_status_update(&self, _state: CableState) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_protocol::device::WebauthnCredential;

    fn credential(id: &str, flagged: bool) -> WebauthnCredential {
        WebauthnCredential {
            credential_id: id.into(),
            name: "key".into(),
            created_at: 1,
            last_used_at: None,
            flagged_at: flagged.then_some(2),
        }
    }

    fn list(credentials: Vec<WebauthnCredential>) -> CredentialList {
        CredentialList { rp_id: "auth.example.com".into(), origin: "https://auth.example.com".into(), credentials }
    }

    #[test]
    fn the_origin_is_the_issuers() {
        let origin = issuer_origin(&Issuer::new("https://auth.example.com/tenant").unwrap()).unwrap();
        assert_eq!(origin.origin().ascii_serialization(), "https://auth.example.com");
        let origin = issuer_origin(&Issuer::new("http://localhost:8443").unwrap()).unwrap();
        assert_eq!(origin.origin().ascii_serialization(), "http://localhost:8443");
        let e = issuer_origin(&Issuer::new("http://127.0.0.1:8443").unwrap()).unwrap_err();
        assert!(e.to_string().contains("IP address"), "{e}");
    }

    #[test]
    fn assertion_options_commit_to_the_statement_hash() {
        let origin = Url::parse("https://auth.example.com").unwrap();
        let hash = [7u8; 32];
        let l = list(vec![credential("AQID", false), credential("BAUG", true), credential("BwgJ", false)]);
        let options = assertion_options(&l, &origin, &hash).unwrap();
        let o = &options.public_key;
        assert_eq!(o.challenge, hash);
        assert_eq!(o.rp_id, "auth.example.com");
        assert_eq!(o.user_verification, UserVerificationPolicy::Required);
        let ids: Vec<&[u8]> = o.allow_credentials.iter().map(|c| c.id.as_slice()).collect();
        assert_eq!(ids, [&[1u8, 2, 3][..], &[7, 8, 9][..]], "the flagged credential is left out");
        // On the wire: base64url members, as a browser's options.
        let json = serde_json::to_value(&options).unwrap();
        assert_eq!(json["publicKey"]["challenge"], "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc");
        assert_eq!(json["publicKey"]["userVerification"], "required");
        assert_eq!(json["publicKey"]["allowCredentials"][0]["id"], "AQID");
    }

    #[test]
    fn assertion_options_refuse_another_origin_and_no_usable_key() {
        let hash = [0u8; 32];
        let l = list(vec![credential("AQID", false)]);
        let other = Url::parse("https://evil.example.net").unwrap();
        assert!(matches!(assertion_options(&l, &other, &hash), Err(Error::Protocol(_))));
        let origin = Url::parse("https://auth.example.com").unwrap();
        // A parent domain as the relying party: WebAuthn would allow it, the
        // protocol does not.
        let mut parent = list(vec![credential("AQID", false)]);
        parent.rp_id = "example.com".into();
        let e = assertion_options(&parent, &origin, &hash).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)) && e.to_string().contains("relying party"), "{e}");
        let e = assertion_options(&list(vec![]), &origin, &hash).unwrap_err();
        assert!(e.to_string().contains("none is registered"), "{e}");
        let e = assertion_options(&list(vec![credential("AQID", true)]), &origin, &hash).unwrap_err();
        assert!(e.to_string().contains("flagged"), "{e}");
        let e = assertion_options(&list(vec![credential("A+/Q", false)]), &origin, &hash).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e}");
    }

    #[test]
    fn prompts_name_what_the_key_is_for() {
        let approve = Purpose::Approve { binding_message: "buy 10 AAPL".into() };
        assert_eq!(Prompt::Touch(approve.clone()).text(), "Touch your security key to approve: buy 10 AAPL");
        let register = Purpose::Register { name: "YubiKey 5C".into() };
        assert_eq!(Prompt::Touch(register).text(), "Touch your security key to add it as \"YubiKey 5C\"");
        assert_eq!(
            Prompt::Connect(approve.clone()).text(),
            "Plug in your security key (or hold it to the reader) to approve: buy 10 AAPL"
        );
        let pin = PinRequest { purpose: approve.clone(), retries_left: Some(3) };
        assert_eq!(pin.text(), "Enter your security key's PIN to approve: buy 10 AAPL (3 tries left)");
        let pin = PinRequest { purpose: approve, retries_left: Some(1) };
        assert!(pin.text().ends_with("(last try: one more wrong PIN locks the key)"));
        assert_eq!(AuthenticatorError::PinInvalid { retries_left: Some(2) }.to_string(), "wrong PIN (2 tries left)");
    }

    #[derive(Debug, Default)]
    struct Recorder {
        shown: Mutex<Vec<Prompt>>,
        pins: Mutex<Vec<PinRequest>>,
    }

    impl PromptCallback for Recorder {
        fn show(&self, prompt: &Prompt) {
            self.shown.lock().unwrap().push(prompt.clone());
        }
        fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
            self.pins.lock().unwrap().push(request.clone());
            Some(Zeroizing::new("123456".into()))
        }
    }

    #[test]
    fn the_ui_bridge_maps_the_librarys_callbacks() {
        let recorder = Arc::new(Recorder::default());
        let purpose = Purpose::Approve { binding_message: "TRADE-4F7Q".into() };
        let bridge = UiBridge::new(recorder.clone(), purpose.clone());
        bridge.request_touch();
        bridge.processing();
        bridge.set_pin_retries(Some(5));
        assert_eq!(bridge.request_pin().as_deref(), Some("123456"));
        bridge.cable_qr_code(CableRequestType::GetAssertion, "FIDO:/1".into());
        assert_eq!(
            *recorder.shown.lock().unwrap(),
            [Prompt::Touch(purpose.clone()), Prompt::Processing(purpose.clone())]
        );
        assert_eq!(*recorder.pins.lock().unwrap(), [PinRequest { purpose, retries_left: Some(5) }]);
    }

    #[test]
    fn library_errors_become_words_for_the_user() {
        let e = |c| AuthenticatorError::from(WebauthnCError::Ctap(c));
        assert_eq!(e(CtapError::Ctap2NoCredentials), AuthenticatorError::WrongKey);
        assert_eq!(e(CtapError::Ctap2PinBlocked), AuthenticatorError::PinBlocked);
        assert_eq!(e(CtapError::Ctap2UserActionTimeout), AuthenticatorError::Timeout);
        assert_eq!(e(CtapError::Ctap2KeepAliveCancel), AuthenticatorError::Cancelled);
        assert_eq!(AuthenticatorError::from(WebauthnCError::Security), AuthenticatorError::Refused);
        assert_eq!(AuthenticatorError::from(WebauthnCError::NoHidDevices), AuthenticatorError::NoAuthenticator);
    }

    struct Slow;

    impl Authenticator for Slow {
        fn register(
            &mut self,
            _: &Url,
            _: CreationChallengeResponse,
            _: &Purpose,
        ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Err(AuthenticatorError::Timeout)
        }
        fn assert(
            &mut self,
            _: &Url,
            _: RequestChallengeResponse,
            _: &Purpose,
        ) -> Result<PublicKeyCredential, AuthenticatorError> {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Err(AuthenticatorError::Timeout)
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_ceremony_at_a_time() {
        let shared = SharedAuthenticator::new(Slow);
        let origin = Url::parse("https://auth.example.com").unwrap();
        let l = list(vec![credential("AQID", false)]);
        let options = assertion_options(&l, &origin, &[0; 32]).unwrap();
        let purpose = Purpose::Approve { binding_message: "x".into() };
        let (a, b) = tokio::join!(
            shared.assert(origin.clone(), options.clone(), purpose.clone()),
            shared.assert(origin.clone(), options.clone(), purpose.clone())
        );
        let mut results = [a.unwrap_err(), b.unwrap_err()];
        results.sort_by_key(|e| e.to_string());
        assert_eq!(results, [AuthenticatorError::Busy, AuthenticatorError::Timeout]);
    }
}
