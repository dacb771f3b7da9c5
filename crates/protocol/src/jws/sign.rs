//! The device key pair and ES256 signing.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;
use std::fmt;
use zeroize::Zeroizing;

use super::{b64url_encode, JwsAlg, JwsError, JwtType, PublicJwk};
use crate::jcs;

/// The private key as a PKCS#8 v1 DER document (what goes in the OS
/// keychain). Zeroized on drop; `Debug` is redacted.
pub struct Pkcs8Der(Zeroizing<Vec<u8>>);

impl Pkcs8Der {
    /// The DER bytes. Every call is a deliberate read of the private key.
    #[must_use]
    pub fn secret_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Pkcs8Der {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs8Der(<redacted>)")
    }
}

/// Header parameters a signer chooses; `alg` is always `ES256`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignHeader {
    /// `typ`.
    pub typ: Option<JwtType>,
    /// `kid`.
    pub kid: Option<String>,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// A device's P-256 key pair.
pub struct DeviceKeyPair {
    pkcs8: Pkcs8Der,
    key: EcdsaKeyPair,
    public: PublicJwk,
}

impl fmt::Debug for DeviceKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeyPair")
            .field("pkcs8", &self.pkcs8)
            .field("thumbprint", &self.public.thumbprint_sha256())
            .finish()
    }
}

impl DeviceKeyPair {
    /// A new random key (system RNG).
    ///
    /// # Errors
    /// [`JwsError::Signing`] if the RNG fails.
    pub fn generate() -> Result<Self, JwsError> {
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| JwsError::Signing)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// Loads a key stored as PKCS#8 (as produced by [`Self::generate`]).
    ///
    /// # Errors
    /// [`JwsError::Pkcs8`] if ring refuses the document.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, JwsError> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(|_| JwsError::Pkcs8)?;
        let public = PublicJwk::from_uncompressed_point(key.public_key().as_ref())?;
        Ok(Self { pkcs8: Pkcs8Der(Zeroizing::new(der.to_vec())), key, public })
    }

    /// The PKCS#8 document, to store.
    #[must_use]
    pub fn pkcs8(&self) -> &Pkcs8Der {
        &self.pkcs8
    }

    /// The public key (no `kid`; add one with [`PublicJwk::with_kid`]).
    #[must_use]
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// Signs `claims` as a compact JWS with header
    /// `{"alg":"ES256","typ":…,"kid":…}` (members in that order, absent ones
    /// omitted). The claims must pass [`crate::jcs::check_value`], so this
    /// never produces a token [`verify`](super::verify) would refuse for its payload.
    ///
    /// # Errors
    /// [`JwsError::Serialize`] or [`JwsError::Signing`].
    pub fn sign(&self, header: &SignHeader, claims: &impl Serialize) -> Result<String, JwsError> {
        let value = serde_json::to_value(claims).map_err(|e| JwsError::Serialize(e.to_string()))?;
        if !value.is_object() {
            return Err(JwsError::Serialize("claims must be a JSON object".into()));
        }
        jcs::check_value(&value).map_err(|e| JwsError::Serialize(e.to_string()))?;
        let head = HeaderOut {
            alg: JwsAlg::Es256.as_str(),
            typ: header.typ.as_ref().map(JwtType::as_str),
            kid: header.kid.as_deref(),
        };
        let head = serde_json::to_vec(&head).map_err(|e| JwsError::Serialize(e.to_string()))?;
        let body = serde_json::to_vec(&value).map_err(|e| JwsError::Serialize(e.to_string()))?;
        let signing_input = format!("{}.{}", b64url_encode(head), b64url_encode(body));
        let sig = self.key.sign(&SystemRandom::new(), signing_input.as_bytes()).map_err(|_| JwsError::Signing)?;
        Ok(format!("{signing_input}.{}", b64url_encode(sig.as_ref())))
    }
}
