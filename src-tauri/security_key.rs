//! The app's security key: USB and NFC keys through the core's
//! `CtapAuthenticator` on Linux and macOS, with every prompt (plug in,
//! touch, PIN) shown in the window through the core's `WindowPrompt`; on
//! Windows the system's WebAuthn API (`WindowsAuthenticator`), which shows
//! its own prompts.
//!
//! DANGER, tests only: a build with the feature `danger-soft-authenticator`
//! and `COUNTERSIGN_DANGER_SOFT_AUTHENTICATOR=FILE` set uses a software
//! token kept in FILE instead (with
//! `COUNTERSIGN_DANGER_SOFT_AUTHENTICATOR_PIN` it asks for that PIN as a
//! key with a PIN set does); release builds have no such feature.

use std::sync::Arc;

use countersign_approver::webauthn::{Prompt, SharedAuthenticator, WindowPrompt, WindowPromptEvent};
use countersign_details::text::Revealed;
use countersign_details::CharFinding;
use countersign_protocol::device::{CredentialList, WebauthnCredential};
use serde::Serialize;

use crate::IpcError;

/// What the window shows while a security key works.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityKeyStep {
    /// Plug in the key (or hold it to the reader).
    Connect,
    /// Touch the key.
    Touch,
    /// The key is working.
    Processing,
    /// Type the key's PIN (answer with `submit_security_key_pin`).
    Pin,
}

/// A security key prompt: the sentence to show (it quotes the request's
/// binding message or the key's name, with `characters` to reveal), and
/// for a PIN, the number to answer with and the tries the key has left.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityKeyPrompt {
    pub step: SecurityKeyStep,
    pub text: String,
    pub characters: Vec<CharFinding>,
    pub pin_id: Option<u64>,
    pub retries_left: Option<u32>,
}

impl SecurityKeyPrompt {
    pub fn of(event: &WindowPromptEvent) -> Self {
        let (step, sentence, pin_id, retries_left) = match event {
            WindowPromptEvent::Show(prompt) => {
                let step = match prompt {
                    Prompt::Connect(_) => SecurityKeyStep::Connect,
                    Prompt::Touch(_) => SecurityKeyStep::Touch,
                    Prompt::Processing(_) => SecurityKeyStep::Processing,
                };
                (step, prompt.text(), None, None)
            }
            WindowPromptEvent::Pin { id, request } => {
                (SecurityKeyStep::Pin, request.text(), Some(*id), request.retries_left)
            }
        };
        let (text, characters) = Revealed::line(&sentence).into_parts();
        Self { step, text, characters, pin_id, retries_left }
    }
}

/// One of the account's security keys as the window lists it: the
/// server's record, and the characters to reveal in its name (names come
/// back from the server: shown as any other untrusted text).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityKeyView {
    #[serde(flatten)]
    pub credential: WebauthnCredential,
    pub name_characters: Vec<CharFinding>,
}

impl SecurityKeyView {
    pub fn list(list: CredentialList) -> Vec<Self> {
        list.credentials
            .into_iter()
            .map(|credential| {
                let name_characters = Revealed::line(&credential.name).into_parts().1;
                Self { credential, name_characters }
            })
            .collect()
    }
}

/// Why this build has no security key (shown when one is needed).
pub const NO_SECURITY_KEY: &str =
    "this build of Countersign reaches no security key (they work on Linux, macOS and Windows)";

/// The security key of this machine, its prompts going to `prompt`; `None`
/// where this build reaches none.
pub fn open(prompt: &Arc<WindowPrompt>) -> Result<Option<SharedAuthenticator>, IpcError> {
    #[cfg(feature = "danger-soft-authenticator")]
    if let Some(path) = std::env::var_os(countersign_approver::webauthn::ENV_DANGER_SOFT_AUTHENTICATOR) {
        use countersign_approver::webauthn::{SoftAuthenticator, ENV_DANGER_SOFT_AUTHENTICATOR_PIN};
        eprintln!(
            "countersign: {} is set: a software token stands in for the security key (tests only)",
            countersign_approver::webauthn::ENV_DANGER_SOFT_AUTHENTICATOR
        );
        let mut soft = SoftAuthenticator::open_file(std::path::Path::new(&path))
            .map_err(|e| IpcError::new("security_key", e.to_string()))?
            .with_prompt(prompt.clone());
        if let Ok(pin) = std::env::var(ENV_DANGER_SOFT_AUTHENTICATOR_PIN) {
            soft = soft.with_pin(&pin);
        }
        return Ok(Some(SharedAuthenticator::new(soft)));
    }
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        use countersign_approver::webauthn::CtapAuthenticator;
        Ok(Some(SharedAuthenticator::new(CtapAuthenticator::new(prompt.clone()))))
    }
    // Windows shows its own prompts (the system's WebAuthn API).
    #[cfg(windows)]
    {
        let _ = prompt;
        Ok(Some(SharedAuthenticator::new(countersign_approver::webauthn::WindowsAuthenticator)))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = prompt;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_approver::webauthn::{PinRequest, Purpose};

    #[test]
    fn prompts_name_the_request_and_reveal_its_characters() {
        let purpose = Purpose::Approve { binding_message: "TRADE-4F7Q\u{202E}".into() };
        let touch = SecurityKeyPrompt::of(&WindowPromptEvent::Show(Prompt::Touch(purpose.clone())));
        assert_eq!(touch.step, SecurityKeyStep::Touch);
        assert!(touch.text.starts_with("Touch your security key to approve: TRADE-4F7Q"), "{}", touch.text);
        assert_eq!(touch.characters.len(), 1, "the bidi override is revealed: {:?}", touch.characters);
        assert_eq!((touch.pin_id, touch.retries_left), (None, None));

        let request = PinRequest { purpose: Purpose::Register { name: "YubiKey".into() }, retries_left: Some(1) };
        let pin = SecurityKeyPrompt::of(&WindowPromptEvent::Pin { id: 7, request });
        assert_eq!(pin.step, SecurityKeyStep::Pin);
        assert_eq!(
            pin.text,
            "Enter your security key's PIN to add it as \"YubiKey\" (last try: one more wrong PIN locks the key)"
        );
        assert_eq!((pin.pin_id, pin.retries_left), (Some(7), Some(1)));
        let json = serde_json::to_value(&pin).unwrap();
        assert_eq!(json["step"], "pin");
    }

    #[test]
    fn key_names_from_the_server_are_listed_with_their_characters_to_reveal() {
        let credential = |id: &str, name: &str| WebauthnCredential {
            credential_id: id.into(),
            name: name.into(),
            created_at: 1,
            last_used_at: None,
            flagged_at: None,
        };
        let list = CredentialList {
            rp_id: "localhost".into(),
            origin: "http://localhost".into(),
            credentials: vec![credential("a", "Desk key"), credential("b", "Desk\u{202E}yek")],
        };
        let views = SecurityKeyView::list(list);
        assert_eq!(views.iter().map(|v| v.credential.credential_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(views[0].name_characters.is_empty());
        assert_eq!(views[1].name_characters.len(), 1, "{:?}", views[1].name_characters);
        assert_eq!(views[1].name_characters[0].code_point, "U+202E");
        let json = serde_json::to_value(&views[1]).unwrap();
        assert_eq!(json["name"], "Desk\u{202E}yek", "the name is sent as it is, its characters beside it");
        assert_eq!(json["credential_id"], "b");
    }

    #[test]
    fn pin_answers_cross_ipc_with_their_own_codes() {
        use countersign_approver::webauthn::PinAnswerError;
        let late = IpcError::from(PinAnswerError::NotWaiting);
        assert_eq!(
            (late.code, late.message.as_str()),
            ("not_waiting", "no security key operation is waiting for this PIN any more")
        );
        let empty = IpcError::from(PinAnswerError::Empty);
        assert_eq!((empty.code, empty.message.as_str()), ("invalid", "the PIN is empty"));
    }
}
