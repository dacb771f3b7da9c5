//! The user's security keys at a server (`docs/protocol.md` §5.5): the
//! list, registering one with an [`Authenticator`](crate::webauthn::Authenticator),
//! removing one, and the assertion an approval of a request that
//! `requires` `webauthn` carries (§8.2).
//!
//! The origin given to the authenticator is always the account's issuer's
//! ([`crate::webauthn::issuer_origin`]), never one the server names: an
//! approver vouches in `clientDataJSON` for the server it talks to, as a
//! browser does for the page it shows, so a server cannot borrow a
//! credential registered with another site.

use crate::approver::{Approver, Inner};
use crate::error::{Error, Result};
use crate::http::typed;
use crate::store::Account;
use crate::webauthn::{
    assertion_options, authenticator_error, issuer_origin, CreationChallengeResponse, Purpose, SharedAuthenticator,
};
use countersign_protocol::device::{
    check_credential_name, CredentialList, RegistrationFinish, RegistrationStart, StatementHash, WebauthnCredential,
    PATH_WEBAUTHN_CREDENTIALS, PATH_WEBAUTHN_REGISTRATIONS,
};
use countersign_protocol::jws::DeviceKeyPair;

/// Longest id put in a URL path (a credential id is at most 1023 bytes,
/// 1364 base64url characters).
const MAX_PATH_ID_CHARS: usize = 1400;

/// Whether `id` can stand in a URL path as it is: 1 to
/// [`MAX_PATH_ID_CHARS`] base64url characters.
fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PATH_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Approver {
    /// The security keys registered for the user of `account_id`, with
    /// the relying party id and origin the server uses for them.
    ///
    /// # Errors
    /// [`Error::UnknownAccount`], the key store, the server.
    pub async fn security_keys(&self, account_id: &str) -> Result<CredentialList> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        inner.credential_list(&account, &key).await
    }

    /// Registers a security key for the user of `account_id` under `name`:
    /// asks the server for the options, has `authenticator` create the
    /// credential (for the issuer's origin; the user touches the key and
    /// enters its PIN), and sends it with the name. Returns the credential
    /// as the server recorded it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name [`check_credential_name`] refuses
    /// (before anything is sent) or a failure of the authenticator (its
    /// message says which: cancelled, timed out, wrong PIN…);
    /// [`Error::UnknownAccount`], the key store, the server
    /// (`invalid_credential`: the key was refused).
    pub async fn add_security_key(
        &self,
        account_id: &str,
        name: &str,
        authenticator: &SharedAuthenticator,
    ) -> Result<WebauthnCredential> {
        check_credential_name(name).map_err(|e| Error::Invalid(format!("security key name refused: {e}")))?;
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let origin = issuer_origin(&account.issuer)?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{PATH_WEBAUTHN_REGISTRATIONS}", account.device_endpoint);
        let (_, value) = inner.http.device_post_empty(&url, &inner.auth(&account, &key)).await?;
        let start: RegistrationStart = typed(value, "registration start")?;
        if !path_safe(&start.registration_id) {
            return Err(Error::Protocol(format!(
                "registration id \"{}\" is not base64url text",
                start.registration_id
            )));
        }
        let options: CreationChallengeResponse = typed(start.options, "registration options")?;
        let purpose = Purpose::Register { name: name.to_owned() };
        let credential = authenticator.register(origin, options, purpose).await.map_err(|e| authenticator_error(&e))?;
        let finish = RegistrationFinish {
            name: name.to_owned(),
            credential: serde_json::to_value(&credential).map_err(|e| Error::Invalid(e.to_string()))?,
        };
        let url = format!("{url}/{}", start.registration_id);
        // A fresh proof: the ceremony may have taken most of a minute.
        let (_, value) = inner.http.device_post(&url, &inner.auth(&account, &key), &finish).await?;
        typed(value, "registered credential")
    }

    /// Removes the security key `credential_id` (base64url, as listed) of
    /// the user of `account_id`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an id that is not base64url;
    /// [`Error::UnknownAccount`], the key store, the server (`not_found`:
    /// the user has no such key).
    pub async fn remove_security_key(&self, account_id: &str, credential_id: &str) -> Result<()> {
        if !path_safe(credential_id) {
            return Err(Error::Invalid(format!("\"{credential_id}\" is not a credential id (base64url)")));
        }
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{PATH_WEBAUTHN_CREDENTIALS}/{credential_id}", account.device_endpoint);
        inner.http.device_delete(&url, &inner.auth(&account, &key)).await
    }
}

impl Inner {
    pub(crate) async fn credential_list(&self, account: &Account, key: &DeviceKeyPair) -> Result<CredentialList> {
        let url = format!("{}{PATH_WEBAUTHN_CREDENTIALS}", account.device_endpoint);
        typed(self.http.device_get(&url, &self.auth(account, key)).await?, "security keys")
    }

    /// The assertion (`PublicKeyCredential` JSON) for a decision whose
    /// statement hash is `statement_hash`: its 32 bytes are the challenge
    /// (§5.5), the credentials the user's keys not flagged, the origin the
    /// issuer's.
    pub(crate) async fn assertion(
        &self,
        account: &Account,
        key: &DeviceKeyPair,
        statement_hash: &StatementHash,
        binding_message: &str,
        authenticator: &SharedAuthenticator,
    ) -> Result<serde_json::Value> {
        let origin = issuer_origin(&account.issuer)?;
        let challenge = countersign_protocol::jws::b64url_decode(statement_hash.as_str())
            .map_err(|e| Error::Signing(format!("statement hash: {e}")))?;
        let list = self.credential_list(account, key).await?;
        let options = assertion_options(&list, &origin, &challenge)?;
        let purpose = Purpose::Approve { binding_message: binding_message.to_owned() };
        let credential = authenticator.assert(origin, options, purpose).await.map_err(|e| authenticator_error(&e))?;
        serde_json::to_value(&credential).map_err(|e| Error::Signing(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths() {
        assert!(path_safe("mYv2bU0wOe3xk5qTzC1rLg"));
        assert!(path_safe("reg_9xYc2LrT0aWq1sVb7kPz3g"));
        assert!(path_safe(&"A".repeat(1364)));
        for bad in ["", "a/b", "a b", "..", "a%2F", "a?b", "A+/Q", "é"] {
            assert!(!path_safe(bad), "{bad:?}");
        }
    }
}
