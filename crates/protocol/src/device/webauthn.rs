//! WebAuthn security keys and passkeys of a user (`docs/protocol.md` §5.5):
//! registration over the device channel, the list, removal.
//!
//! The WebAuthn structures themselves (`PublicKeyCredentialCreationOptions`,
//! the authenticator's `PublicKeyCredential`) cross as JSON values in the
//! form WebAuthn Level 3 gives them (base64url binary members): this crate
//! holds no WebAuthn implementation; the server verifies them with
//! webauthn-rs and the approvers produce them with an authenticator.

use serde::{Deserialize, Serialize};

/// Longest credential name, in characters.
pub const MAX_CREDENTIAL_NAME_CHARS: usize = 64;

/// `POST {device}/webauthn/registrations` answer: the options to create a
/// credential with, and the id to finish the registration under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationStart {
    /// Names this registration in [`RegistrationFinish`]'s URL.
    pub registration_id: String,
    /// `CreationChallengeResponse`: `{"publicKey": PublicKeyCredentialCreationOptions}`.
    pub options: serde_json::Value,
    /// The registration must finish before this time, unix seconds.
    pub expires_at: u64,
}

/// `POST {device}/webauthn/registrations/{registration_id}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFinish {
    /// What the user calls the key ("YubiKey 5C"): 1 to
    /// [`MAX_CREDENTIAL_NAME_CHARS`] characters, no control characters.
    pub name: String,
    /// The authenticator's answer (`RegisterPublicKeyCredential` JSON).
    pub credential: serde_json::Value,
}

/// One registered credential of the user.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnCredential {
    /// The credential id, base64url.
    pub credential_id: String,
    /// Its name.
    pub name: String,
    /// Registered, unix seconds.
    pub created_at: u64,
    /// Last approval made with it, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub last_used_at: Option<u64>,
    /// Set when its signature counter went backwards (a possible clone):
    /// the server refuses it from then on, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub flagged_at: Option<u64>,
}

/// `GET {device}/webauthn/credentials` answer; also what an approver needs
/// to ask an authenticator for an assertion.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialList {
    /// The relying party id (`rpId`) the credentials are scoped to.
    pub rp_id: String,
    /// The origin the server expects in `clientDataJSON`.
    pub origin: String,
    /// The user's credentials, oldest first.
    pub credentials: Vec<WebauthnCredential>,
}

/// Why a credential name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialNameError {
    /// Empty, or only spaces.
    #[error("the name is empty")]
    Empty,
    /// Longer than [`MAX_CREDENTIAL_NAME_CHARS`].
    #[error("the name is longer than {MAX_CREDENTIAL_NAME_CHARS} characters")]
    TooLong,
    /// Holds a control, bidi or invisible character, or anything else the
    /// text checks flag in one line of prose.
    #[error("the name holds a control, bidi or invisible character")]
    Hidden,
}

/// Checks a credential name: shown to the user later, so it must be plain
/// visible text.
///
/// # Errors
/// [`CredentialNameError`].
pub fn check_credential_name(name: &str) -> Result<(), CredentialNameError> {
    if name.trim().is_empty() {
        return Err(CredentialNameError::Empty);
    }
    if name.chars().count() > MAX_CREDENTIAL_NAME_CHARS {
        return Err(CredentialNameError::TooLong);
    }
    if !countersign_text::is_clean(name, countersign_text::Context::Line) {
        return Err(CredentialNameError::Hidden);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names() {
        assert_eq!(check_credential_name("YubiKey 5C"), Ok(()));
        assert_eq!(check_credential_name("Clé de Zoë"), Ok(()));
        assert_eq!(check_credential_name("  "), Err(CredentialNameError::Empty));
        assert_eq!(check_credential_name(&"k".repeat(65)), Err(CredentialNameError::TooLong));
        assert_eq!(check_credential_name(&"k".repeat(64)), Ok(()));
        for hidden in ["a\u{202e}b", "a\u{200b}b", "a\nb", "a\u{7f}b"] {
            assert_eq!(check_credential_name(hidden), Err(CredentialNameError::Hidden), "{hidden:?}");
        }
    }
}
