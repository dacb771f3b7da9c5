//! Security keys over USB HID (feature `usb`) and NFC (feature `nfc`):
//! webauthn-authenticator-rs's CTAP 2 stack (`AnyTransport`, its
//! `CtapAuthenticator`), driven through the library's
//! `WebauthnAuthenticator` so the origin and relying party checks and
//! `clientDataJSON` are the library's, as with [`super::SoftAuthenticator`].
//! Where the keys come from is a [`KeySource`]: the machine's USB and NFC
//! transports ([`MachineKeys`], what [`CtapAuthenticator::new`] uses), or
//! another implementation of the library's `Transport` (the tests' in-process
//! CTAP 2 key, crate `countersign-virtual-key`).
//!
//! Each ceremony: the transports are opened, a key is picked (the only one
//! present, or the first one touched or tapped; a key plugged in within
//! [`CtapAuthenticator::with_find_timeout`]), and the library asks for the
//! PIN and the touch through a [`UiBridge`] onto the shell's
//! [`PromptCallback`]. The key's answers to `getPinRetries` are watched on
//! the way (a [`Token`] wrapper), so a PIN request says how many tries are
//! left and a wrong PIN how many remain. The library waits for the user as
//! long as the key does (keys give up on a touch after about 30 s:
//! [`AuthenticatorError::Timeout`]).

use super::{
    Authenticator, AuthenticatorError, CreationChallengeResponse, Prompt, PromptCallback, PublicKeyCredential, Purpose,
    RegisterPublicKeyCredential, RequestChallengeResponse, UiBridge,
};
use async_trait::async_trait;
use futures_util::StreamExt as _;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use webauthn_authenticator_rs::ctap2::commands::{ClientPinRequest, ClientPinResponse, ClientPinSubCommand};
use webauthn_authenticator_rs::ctap2::{select_one_device, CBORCommand as _, CBORResponse, CtapAuthenticator as Ctap};
use webauthn_authenticator_rs::error::WebauthnCError;
use webauthn_authenticator_rs::transport::{AnyToken, AnyTransport, Token, TokenEvent, Transport};
use webauthn_authenticator_rs::ui::UiCallback;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_rs_proto::AuthenticatorTransport;

/// How long a ceremony waits for a key to be plugged in (or held to a
/// reader) when none is there.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a ceremony looks for security keys: a webauthn-authenticator-rs
/// `Transport`, opened for each ceremony on the ceremony's runtime.
pub trait KeySource: Send {
    /// The keys the transport finds.
    type Token: Token + 'static;
    /// The transport.
    type Transport: for<'b> Transport<'b, Token = Self::Token>;
    /// Opens the transport.
    fn open(&self) -> impl Future<Output = Result<Self::Transport, WebauthnCError>>;
}

/// The machine's security keys: USB and NFC, whichever of the two
/// transports this build has (`AnyTransport`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineKeys;

impl KeySource for MachineKeys {
    type Token = AnyToken;
    type Transport = AnyTransport;

    fn open(&self) -> impl Future<Output = Result<AnyTransport, WebauthnCError>> {
        AnyTransport::new()
    }
}

/// Security keys speaking CTAP 2.0 or 2.1: by default the machine's USB and
/// NFC keys ([`MachineKeys`]), else those of another [`KeySource`].
pub struct CtapAuthenticator<K = MachineKeys> {
    prompt: Arc<dyn PromptCallback>,
    find_timeout: Duration,
    keys: K,
}

impl<K> fmt::Debug for CtapAuthenticator<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CtapAuthenticator").field("find_timeout", &self.find_timeout).finish_non_exhaustive()
    }
}

impl CtapAuthenticator<MachineKeys> {
    /// The security keys of this machine, with `prompt` telling the user
    /// what to do (plug in, touch, PIN).
    pub fn new(prompt: Arc<dyn PromptCallback>) -> Self {
        Self::with_keys(prompt, MachineKeys)
    }
}

impl<K: KeySource> CtapAuthenticator<K> {
    /// The security keys that `keys` finds, with `prompt` telling the user
    /// what to do.
    pub fn with_keys(prompt: Arc<dyn PromptCallback>, keys: K) -> Self {
        Self { prompt, find_timeout: FIND_TIMEOUT, keys }
    }

    /// Waits at most `timeout` for a key when none is present (default
    /// [`FIND_TIMEOUT`]).
    #[must_use]
    pub fn with_find_timeout(mut self, timeout: Duration) -> Self {
        self.find_timeout = timeout;
        self
    }

    /// Runs `op` with a key picked for `purpose`, on a runtime of its own
    /// (the transports need tokio's timers and I/O, the library blocks on
    /// them: this runs on a blocking thread, see `SharedAuthenticator`).
    fn ceremony<R>(
        &self,
        purpose: &Purpose,
        op: impl FnOnce(&mut Ctap<'_, Observed<K::Token>, UiBridge>) -> Result<R, WebauthnCError>,
    ) -> Result<R, AuthenticatorError> {
        let bridge = Arc::new(UiBridge::new(self.prompt.clone(), purpose.clone()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("countersign-security-key")
            .enable_all()
            .build()
            .map_err(|e| AuthenticatorError::Failed(format!("cannot start the security key runtime: {e}")))?;
        let _context = runtime.enter();
        let transport = runtime.block_on(self.keys.open()).map_err(transport_error)?;
        let picked = runtime.block_on(pick(&transport, &bridge, &*self.prompt, purpose, self.find_timeout));
        let mut key = picked?;
        let result = op(&mut key);
        drop(key);
        drop(transport);
        result.map_err(|e| ceremony_error(e, bridge.pin_retries()))
    }
}

/// What a failure of a transport to open means for the user.
fn transport_error(e: WebauthnCError) -> AuthenticatorError {
    match e {
        WebauthnCError::NotSupported => AuthenticatorError::NoAuthenticator,
        other => AuthenticatorError::Failed(format!("cannot open the security key transports: {other}")),
    }
}

/// A ceremony's failure, a wrong PIN with the tries the key had left
/// before it (`retries_before`) minus the one just spent.
fn ceremony_error(e: WebauthnCError, retries_before: Option<u32>) -> AuthenticatorError {
    match AuthenticatorError::from(e) {
        AuthenticatorError::PinInvalid { retries_left: None } => {
            AuthenticatorError::PinInvalid { retries_left: retries_before.map(|n| n.saturating_sub(1)) }
        }
        other => other,
    }
}

/// The key to use: the only one present; else the first one touched (or,
/// with no button, tapped on a reader) among those present or plugged in
/// within `wait`, after [`Prompt::Connect`] when none is present.
async fn pick<'a, T: Token + 'a>(
    transport: &'a impl Transport<'a, Token = T>,
    bridge: &'a Arc<UiBridge>,
    prompt: &dyn PromptCallback,
    purpose: &Purpose,
    wait: Duration,
) -> Result<Ctap<'a, Observed<T>, UiBridge>, AuthenticatorError> {
    let mut present = transport.tokens().await.map_err(transport_error)?;
    if present.len() == 1 {
        if let Some(token) = present.pop() {
            if let Some(key) = Ctap::new(Observed::new(token, bridge.clone()), bridge.as_ref()).await {
                return Ok(key);
            }
        }
    } else if present.is_empty() {
        prompt.show(&Prompt::Connect(purpose.clone()));
    }
    drop(present);
    let watched = bridge.clone();
    let events = transport.watch().await.map_err(transport_error)?.map(move |event| match event {
        TokenEvent::Added(token) => TokenEvent::Added(Observed::new(token, watched.clone())),
        TokenEvent::Removed(id) => TokenEvent::Removed(id),
        TokenEvent::EnumerationComplete => TokenEvent::EnumerationComplete,
    });
    match tokio::time::timeout(wait, select_one_device(Box::pin(events), bridge.as_ref())).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) | Err(_) => Err(AuthenticatorError::NoAuthenticator),
    }
}

impl<K: KeySource> Authenticator for CtapAuthenticator<K> {
    fn register(
        &mut self,
        origin: &Url,
        options: CreationChallengeResponse,
        purpose: &Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
        self.ceremony(purpose, |key| key.do_registration(origin.clone(), options))
    }

    fn assert(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        purpose: &Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError> {
        self.ceremony(purpose, |key| key.do_authentication(origin.clone(), options))
    }
}

/// A token whose answers to `getPinRetries` are recorded in the bridge, so
/// the next PIN request shows the tries left (the library asks the key,
/// then drops the answer).
#[derive(Debug)]
pub(super) struct Observed<T> {
    inner: T,
    bridge: Arc<UiBridge>,
}

impl<T> Observed<T> {
    pub(super) fn new(inner: T, bridge: Arc<UiBridge>) -> Self {
        Self { inner, bridge }
    }
}

/// Whether `cbor` is a CTAP 2 `authenticatorClientPIN(getPinRetries)`
/// command (any PIN/UV protocol), as the library encodes it.
pub(super) fn is_get_pin_retries(cbor: &[u8]) -> bool {
    [None, Some(1), Some(2)].into_iter().any(|protocol| {
        let request = ClientPinRequest {
            pin_uv_protocol: protocol,
            sub_command: ClientPinSubCommand::GetPinRetries,
            ..Default::default()
        };
        request.cbor().is_ok_and(|c| c == cbor)
    })
}

#[async_trait]
impl<T: Token> Token for Observed<T> {
    type Id = T::Id;

    fn has_button(&self) -> bool {
        self.inner.has_button()
    }

    fn get_transport(&self) -> AuthenticatorTransport {
        self.inner.get_transport()
    }

    async fn transmit_raw<U>(&mut self, cbor: &[u8], ui: &U) -> Result<Vec<u8>, WebauthnCError>
    where
        U: UiCallback,
    {
        let response = self.inner.transmit_raw(cbor, ui).await?;
        if is_get_pin_retries(cbor) {
            if let Ok(r) = <ClientPinResponse as CBORResponse>::try_from(response.as_slice()) {
                self.bridge.set_pin_retries(r.pin_retries);
            }
        }
        Ok(response)
    }

    async fn cancel(&mut self) -> Result<(), WebauthnCError> {
        self.inner.cancel().await
    }

    async fn init(&mut self) -> Result<(), WebauthnCError> {
        self.inner.init().await
    }

    async fn close(&mut self) -> Result<(), WebauthnCError> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use webauthn_authenticator_rs::error::CtapError;
    use zeroize::Zeroizing;

    #[derive(Debug, Default)]
    struct Recorder {
        pins: Mutex<Vec<super::super::PinRequest>>,
    }

    impl PromptCallback for Recorder {
        fn show(&self, _: &Prompt) {}
        fn request_pin(&self, request: &super::super::PinRequest) -> Option<Zeroizing<String>> {
            self.pins.lock().unwrap().push(request.clone());
            None
        }
    }

    /// A token that answers every command with `answer`.
    #[derive(Debug)]
    struct Canned {
        answer: Vec<u8>,
    }

    #[async_trait]
    impl Token for Canned {
        type Id = ();
        fn get_transport(&self) -> AuthenticatorTransport {
            AuthenticatorTransport::Usb
        }
        async fn transmit_raw<U>(&mut self, _: &[u8], _: &U) -> Result<Vec<u8>, WebauthnCError>
        where
            U: UiCallback,
        {
            Ok(self.answer.clone())
        }
        async fn cancel(&mut self) -> Result<(), WebauthnCError> {
            Ok(())
        }
        async fn init(&mut self) -> Result<(), WebauthnCError> {
            Ok(())
        }
        async fn close(&mut self) -> Result<(), WebauthnCError> {
            Ok(())
        }
    }

    #[test]
    fn get_pin_retries_is_recognised() {
        for protocol in [1, 2] {
            let r = ClientPinRequest {
                pin_uv_protocol: Some(protocol),
                sub_command: ClientPinSubCommand::GetPinRetries,
                ..Default::default()
            };
            assert!(is_get_pin_retries(&r.cbor().unwrap()));
        }
        let r = ClientPinRequest {
            pin_uv_protocol: Some(2),
            sub_command: ClientPinSubCommand::GetKeyAgreement,
            ..Default::default()
        };
        assert!(!is_get_pin_retries(&r.cbor().unwrap()));
        assert!(!is_get_pin_retries(&[0x04]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_keys_pin_retries_reach_the_pin_request() {
        let recorder = Arc::new(Recorder::default());
        let purpose = Purpose::Approve { binding_message: "buy 10 AAPL".into() };
        let bridge = Arc::new(UiBridge::new(recorder.clone(), purpose.clone()));
        // {3: 5}: pinRetries = 5.
        let mut token = Observed::new(Canned { answer: vec![0xa1, 0x03, 0x05] }, bridge.clone());
        let request = ClientPinRequest {
            pin_uv_protocol: Some(2),
            sub_command: ClientPinSubCommand::GetPinRetries,
            ..Default::default()
        };
        let answer = token.transmit(request, bridge.as_ref()).await.unwrap();
        assert_eq!(answer.pin_retries, Some(5));
        // The user cancels at the PIN prompt: the library's Cancelled.
        assert_eq!(bridge.request_pin(), None);
        assert_eq!(*recorder.pins.lock().unwrap(), [super::super::PinRequest { purpose, retries_left: Some(5) }]);
        // Another command's answer is not taken for tries left.
        let mut other = Observed::new(Canned { answer: vec![0xa1, 0x03, 0x01] }, bridge.clone());
        let _ = other.transmit_raw(&[0x04], bridge.as_ref()).await.unwrap();
        assert_eq!(bridge.pin_retries(), Some(5));
        // A wrong PIN: the tries the key had, minus this one.
        let e = ceremony_error(WebauthnCError::Ctap(CtapError::Ctap2PinInvalid), bridge.pin_retries());
        assert_eq!(e, AuthenticatorError::PinInvalid { retries_left: Some(4) });
        assert_eq!(e.to_string(), "wrong PIN (4 tries left)");
        assert_eq!(ceremony_error(WebauthnCError::Cancelled, Some(5)), AuthenticatorError::Cancelled);
        assert_eq!(transport_error(WebauthnCError::NotSupported), AuthenticatorError::NoAuthenticator);
    }

    #[test]
    fn debug_names_no_secret() {
        let a = CtapAuthenticator::new(Arc::new(Recorder::default())).with_find_timeout(Duration::from_secs(5));
        assert!(format!("{a:?}").starts_with("CtapAuthenticator { find_timeout: 5s"));
    }
}
