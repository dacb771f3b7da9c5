//! A software passkey for tests: webauthn-authenticator-rs's `SoftPasskey`
//! (P-256 keys in memory, lost with it), driven through the library's
//! `WebauthnAuthenticator` (`do_registration`, `do_authentication`), so the
//! origin and relying party checks and `clientDataJSON` are the library's,
//! as with a real key. It claims user verification without asking anyone:
//! never use it outside tests.
//!
//! [`SoftAuthenticator::open_file`] keeps its credentials in a file instead
//! (the library's `SoftToken`, serialised with its private keys in the
//! clear), for tests that run an approver as several processes.

use super::{Authenticator, AuthenticatorError, PinRequest, Prompt, PromptCallback, Purpose};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq as _;
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};
use zeroize::Zeroizing;

/// A software authenticator (tests only): its credentials live as long as
/// it does.
pub struct SoftAuthenticator {
    backend: Backend,
    prompt: Option<Arc<dyn PromptCallback>>,
    pin: Option<SoftPin>,
}

/// The PIN a software authenticator asks for, as a key with a PIN set.
struct SoftPin {
    pin: Zeroizing<String>,
    retries_left: u32,
}

/// Wrong PINs a key accepts before it locks (CTAP 2.1 §6.5.2.2).
const PIN_RETRIES: u32 = 8;

enum Backend {
    Passkey(Box<SoftPasskey>),
    File { token: Box<SoftToken>, path: PathBuf },
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator").field("prompt", &self.prompt).finish_non_exhaustive()
    }
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    /// A new software passkey with no credential, that claims user
    /// verification (`SoftPasskey::new(true)`).
    #[must_use]
    pub fn new() -> Self {
        Self { backend: Backend::Passkey(Box::new(SoftPasskey::new(true))), prompt: None, pin: None }
    }

    /// A software token whose credentials are kept in the file at `path`
    /// (created with a new token when missing, rewritten after each
    /// ceremony), claiming user verification. Its keys are in the clear:
    /// tests only.
    ///
    /// # Errors
    /// [`AuthenticatorError::Failed`] when the file cannot be read or is
    /// not a token.
    pub fn open_file(path: &Path) -> Result<Self, AuthenticatorError> {
        let failed = |e: &dyn std::fmt::Display| {
            AuthenticatorError::Failed(format!("software authenticator {}: {e}", path.display()))
        };
        let token = match std::fs::read(path) {
            Ok(bytes) => SoftToken::from_cbor(&bytes).map_err(|e| failed(&e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SoftToken::new(true).map_err(|e| failed(&e))?.0,
            Err(e) => return Err(failed(&e)),
        };
        let this =
            Self { backend: Backend::File { token: Box::new(token), path: path.to_owned() }, prompt: None, pin: None };
        this.save()?;
        Ok(this)
    }

    fn save(&self) -> Result<(), AuthenticatorError> {
        if let Backend::File { token, path } = &self.backend {
            let failed = |e: &dyn std::fmt::Display| {
                AuthenticatorError::Failed(format!("software authenticator {}: {e}", path.display()))
            };
            let bytes = token.to_cbor().map_err(|e| failed(&e))?;
            std::fs::write(path, bytes).map_err(|e| failed(&e))?;
        }
        Ok(())
    }

    /// Shows [`Prompt::Touch`] on `prompt` before each ceremony, as a
    /// security key would ask for a touch.
    #[must_use]
    pub fn with_prompt(mut self, prompt: Arc<dyn PromptCallback>) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Asks for `pin` through the prompt before each ceremony, as a key
    /// with a PIN set does: a wrong one costs one of its 8 tries
    /// ([`AuthenticatorError::PinInvalid`]), none left locks it
    /// ([`AuthenticatorError::PinBlocked`]); no answer cancels. Needs
    /// [`SoftAuthenticator::with_prompt`].
    #[must_use]
    pub fn with_pin(mut self, pin: &str) -> Self {
        self.pin = Some(SoftPin { pin: Zeroizing::new(pin.to_owned()), retries_left: PIN_RETRIES });
        self
    }

    /// The PIN step of a ceremony (none without [`Self::with_pin`]).
    fn verify_pin(&mut self, purpose: &Purpose) -> Result<(), AuthenticatorError> {
        let Some(pin) = &mut self.pin else { return Ok(()) };
        if pin.retries_left == 0 {
            return Err(AuthenticatorError::PinBlocked);
        }
        let prompt = self.prompt.as_ref().ok_or(AuthenticatorError::Cancelled)?;
        let request = PinRequest { purpose: purpose.clone(), retries_left: Some(pin.retries_left) };
        let typed = prompt.request_pin(&request).ok_or(AuthenticatorError::Cancelled)?;
        if bool::from(typed.as_bytes().ct_eq(pin.pin.as_bytes())) {
            pin.retries_left = PIN_RETRIES;
            return Ok(());
        }
        pin.retries_left -= 1;
        Err(match pin.retries_left {
            0 => AuthenticatorError::PinBlocked,
            n => AuthenticatorError::PinInvalid { retries_left: Some(n) },
        })
    }

    fn touch(&mut self, purpose: &Purpose) -> Result<(), AuthenticatorError> {
        self.verify_pin(purpose)?;
        if let Some(p) = &self.prompt {
            p.show(&Prompt::Touch(purpose.clone()));
        }
        Ok(())
    }
}

impl Authenticator for SoftAuthenticator {
    fn register(
        &mut self,
        origin: &Url,
        options: CreationChallengeResponse,
        purpose: &Purpose,
    ) -> Result<RegisterPublicKeyCredential, AuthenticatorError> {
        self.touch(purpose)?;
        let credential = match &mut self.backend {
            Backend::Passkey(p) => p.do_registration(origin.clone(), options)?,
            Backend::File { token, .. } => token.do_registration(origin.clone(), options)?,
        };
        self.save()?;
        Ok(credential)
    }

    fn assert(
        &mut self,
        origin: &Url,
        options: RequestChallengeResponse,
        purpose: &Purpose,
    ) -> Result<PublicKeyCredential, AuthenticatorError> {
        self.touch(purpose)?;
        let credential = match &mut self.backend {
            Backend::Passkey(p) => p.do_authentication(origin.clone(), options)?,
            Backend::File { token, .. } => token.do_authentication(origin.clone(), options)?,
        };
        self.save()?;
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Types the PINs given, in order (`None`: the user cancels), and
    /// records the tries left each request announced.
    #[derive(Debug, Default)]
    struct Typist {
        pins: Mutex<Vec<Option<&'static str>>>,
        announced: Mutex<Vec<Option<u32>>>,
    }

    impl PromptCallback for Typist {
        fn show(&self, _: &Prompt) {}
        fn request_pin(&self, request: &PinRequest) -> Option<Zeroizing<String>> {
            self.announced.lock().unwrap().push(request.retries_left);
            self.pins.lock().unwrap().remove(0).map(|p| Zeroizing::new(p.to_owned()))
        }
    }

    fn purpose() -> Purpose {
        Purpose::Register { name: "test key".into() }
    }

    #[test]
    fn a_wrong_pin_costs_a_try_a_right_one_restores_them_and_none_left_locks_the_key() {
        let typist = Arc::new(Typist::default());
        let mut key = SoftAuthenticator::new().with_prompt(typist.clone()).with_pin("4711");
        *typist.pins.lock().unwrap() = vec![Some("0000"), Some("4711"), None];
        assert!(matches!(key.verify_pin(&purpose()), Err(AuthenticatorError::PinInvalid { retries_left: Some(7) })));
        assert!(key.verify_pin(&purpose()).is_ok());
        assert!(matches!(key.verify_pin(&purpose()), Err(AuthenticatorError::Cancelled)), "no answer cancels");
        assert_eq!(*typist.announced.lock().unwrap(), [Some(8), Some(7), Some(8)], "the right PIN restored the tries");

        *typist.pins.lock().unwrap() = vec![Some("0000"); 8];
        for left in (1..8).rev() {
            assert!(matches!(
                key.verify_pin(&purpose()),
                Err(AuthenticatorError::PinInvalid { retries_left: Some(n) }) if n == left
            ));
        }
        assert!(matches!(key.verify_pin(&purpose()), Err(AuthenticatorError::PinBlocked)));
        // Locked: not even asked, the right PIN included.
        *typist.pins.lock().unwrap() = vec![Some("4711")];
        assert!(matches!(key.verify_pin(&purpose()), Err(AuthenticatorError::PinBlocked)));
        assert_eq!(typist.pins.lock().unwrap().len(), 1, "not asked once locked");
    }

    #[test]
    fn a_pin_without_a_prompt_cancels_and_no_pin_asks_nothing() {
        let mut key = SoftAuthenticator::new().with_pin("4711");
        assert!(matches!(key.verify_pin(&purpose()), Err(AuthenticatorError::Cancelled)));
        let typist = Arc::new(Typist::default());
        let mut plain = SoftAuthenticator::new().with_prompt(typist.clone());
        assert!(plain.verify_pin(&purpose()).is_ok());
        assert!(typist.announced.lock().unwrap().is_empty());
    }
}
