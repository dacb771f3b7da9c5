//! WebAuthn: this server as the relying party of its users' security keys
//! and passkeys (docs/protocol.md §5.5), and the step-up of approvals
//! (§8.3 step 8), whose assertion's challenge is the statement hash.
//!
//! - [`policy`]: which requests require it.
//! - [`challenge`]: setting the challenge of an authentication state.
//! - [`credentials`]: the stored credentials.
//! - [`endpoints`]: registration, list, removal over the device channel.
//! - [`step_up`]: verifying the assertion of a decision.

pub mod challenge;
pub mod credentials;
pub mod endpoints;
pub mod policy;
pub mod step_up;

use countersign_protocol::device::Issuer;
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

/// How long a registration may take, seconds (the authenticator's timeout
/// and the stored state's lifetime).
pub const REGISTRATION_TTL_SECS: u64 = 300;

/// The relying party: the issuer's host as `rp_id`, its origin as the only
/// accepted origin.
pub struct RelyingParty {
    /// The webauthn-rs verifier.
    pub webauthn: Webauthn,
    /// `rp_id`.
    pub rp_id: String,
    /// The origin, e.g. `https://auth.example.com`.
    pub origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("rp_id", &self.rp_id).field("origin", &self.origin).finish()
    }
}

impl RelyingParty {
    /// The relying party of `issuer`.
    ///
    /// # Errors
    /// The issuer's host is an IP address (WebAuthn needs a domain name:
    /// an `https` issuer, or `http://localhost`), or webauthn-rs refuses it.
    pub fn for_issuer(issuer: &Issuer) -> Result<Self, String> {
        let url = Url::parse(issuer.as_str()).map_err(|e| format!("issuer: {e}"))?;
        let rp_id = url
            .domain()
            .ok_or("WebAuthn needs an issuer with a domain name (https, or http://localhost), not an IP address")?
            .to_owned();
        let origin = url.origin().ascii_serialization();
        let origin_url = Url::parse(&origin).map_err(|e| format!("origin: {e}"))?;
        let webauthn = WebauthnBuilder::new(&rp_id, &origin_url)
            .and_then(|b| {
                b.rp_name("Countersign").timeout(std::time::Duration::from_secs(REGISTRATION_TTL_SECS)).build()
            })
            .map_err(|e| format!("WebAuthn relying party {rp_id}: {e}"))?;
        Ok(Self { webauthn, rp_id, origin })
    }
}

/// The WebAuthn user handle of `sub`: the first 16 bytes of its SHA-256
/// (stable, and reveals nothing of the `sub`).
#[must_use]
pub fn user_handle(sub: &str) -> Uuid {
    let digest = ring::digest::digest(&ring::digest::SHA256, sub.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    Uuid::from_bytes(bytes)
}

/// A relying party and a software passkey registered with it, for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::RelyingParty;
    use countersign_protocol::device::{Issuer, StatementHash};
    use countersign_protocol::jws::b64url_decode;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    use webauthn_authenticator_rs::WebauthnAuthenticator as _;
    use webauthn_rs::prelude::{Passkey, PublicKeyCredential, Url};

    pub const RP_ORIGIN: &str = "https://auth.example.com";

    pub fn registered() -> (RelyingParty, Passkey, SoftPasskey) {
        let rp = RelyingParty::for_issuer(&Issuer::new(RP_ORIGIN).unwrap()).unwrap();
        let mut key = SoftPasskey::new(true);
        let (options, state) =
            rp.webauthn.start_passkey_registration(super::user_handle("u_1"), "alice", "Alice", None).unwrap();
        let credential = key.do_registration(Url::parse(RP_ORIGIN).unwrap(), options).unwrap();
        let passkey = rp.webauthn.finish_passkey_registration(&credential, &state).unwrap();
        (rp, passkey, key)
    }

    /// An assertion of `key` for `passkey` whose challenge is `hash`, as an
    /// approver asks for it.
    pub fn assert_with(
        key: &mut SoftPasskey,
        rp: &RelyingParty,
        passkey: &Passkey,
        hash: &StatementHash,
    ) -> PublicKeyCredential {
        let (mut options, _) = rp.webauthn.start_passkey_authentication(std::slice::from_ref(passkey)).unwrap();
        options.public_key.challenge = b64url_decode(hash.as_str()).unwrap();
        key.do_authentication(Url::parse(RP_ORIGIN).unwrap(), options).unwrap()
    }
}
