//! ES256 compact JWS (RFC 7515, RFC 7518 §3.4) over `ring`, for device keys.
//!
//! One algorithm only: ECDSA P-256 with SHA-256, signature as the fixed
//! 64-byte `r || s` (never DER). [`verify`] takes the key from the caller,
//! never from the token, and refuses anything it does not fully understand:
//! another or a missing `alg` (including `none` and `HS256` key confusion),
//! `jwk`/`jku`/`x5u`/`x5c` headers, any `crit`, RFC 7797 `b64`, padded or
//! non-canonical base64url, a wrong segment count, a signature that is not 64
//! bytes, a payload that is not a strict JSON object ([`crate::jcs::parse_strict`]).

mod jwk;
mod sign;
mod verify;

// Every item stays at `countersign_protocol::jws::X`.
pub use self::jwk::{JwkError, PublicJwk};
pub use self::sign::{DeviceKeyPair, Pkcs8Der, SignHeader};
pub use self::verify::{typ_matches, verify, verify_claims, Header};

use crate::device::registered::registered_enum;
use crate::jcs::JcsError;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::fmt;

/// Length of an ES256 signature: `r || s`, 32 bytes each (RFC 7518 §3.4).
pub const ES256_SIGNATURE_LEN: usize = 64;
/// Length of an uncompressed SEC1 P-256 point: `0x04 || X || Y`.
pub const P256_POINT_LEN: usize = 65;
/// Length of one P-256 coordinate.
pub const P256_COORD_LEN: usize = 32;

/// Header members that would take the key from the token; always refused.
pub const EMBEDDED_KEY_HEADERS: &[&str] = &["jwk", "jku", "x5u", "x5c"];

/// base64url without padding, canonical (RFC 7515 §2, RFC 4648 §5): padding
/// and non-zero trailing bits are refused when decoding.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// base64url without padding.
#[must_use]
pub fn b64url_encode(bytes: impl AsRef<[u8]>) -> String {
    B64URL.encode(bytes)
}

/// Strict base64url decoding: no padding, no whitespace, only the URL-safe
/// alphabet, canonical trailing bits.
///
/// # Errors
/// [`base64::DecodeError`] for anything else.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    B64URL.decode(text)
}

registered_enum! {
    /// JWS `alg` values (RFC 7518 §3.1, RFC 8037). Only [`JwsAlg::Es256`] is
    /// ever accepted; the others exist so errors and JWKs can name them.
    pub enum JwsAlg {
        /// ECDSA P-256 SHA-256: the only algorithm this module signs or verifies.
        Es256 => "ES256",
        /// ECDSA P-384 SHA-384.
        Es384 => "ES384",
        /// ECDSA P-521 SHA-512.
        Es512 => "ES512",
        /// RSASSA-PKCS1-v1_5 SHA-256.
        Rs256 => "RS256",
        /// RSASSA-PSS SHA-256.
        Ps256 => "PS256",
        /// HMAC SHA-256.
        Hs256 => "HS256",
        /// EdDSA (RFC 8037).
        EdDsa => "EdDSA",
        /// Unsecured JWS (RFC 7518 §3.6).
        None => "none",
    } extension
}

registered_enum! {
    /// JWS `typ` values used by Countersign (RFC 7515 §4.1.9).
    pub enum JwtType {
        /// Device authentication proof (device channel v1).
        DeviceAuth => "device-auth+jwt",
        /// Signed approval decision (device channel v1).
        Decision => "decision+jwt",
        /// JWT access token (RFC 9068).
        AccessToken => "at+jwt",
        /// Signed request object (RFC 9101 §10.8), the CIBA signed
        /// authentication request (CIBA Core §7.1.1).
        RequestObject => "oauth-authz-req+jwt",
        /// Client assertion for `private_key_jwt`
        /// (draft-ietf-oauth-rfc7523bis §4).
        ClientAuthentication => "client-authentication+jwt",
        /// The signed head of an audit log export (`docs/protocol.md` §10.1).
        AuditHead => "audit-head+jwt",
        /// Generic JWT (RFC 7519 §5.1).
        Jwt => "JWT",
    } extension
}

registered_enum! {
    /// JWK `kty` (RFC 7518 §6.1).
    pub enum KeyType {
        /// Elliptic curve.
        Ec => "EC",
        /// RSA.
        Rsa => "RSA",
        /// Octet sequence (symmetric).
        Oct => "oct",
        /// Octet key pair (RFC 8037).
        Okp => "OKP",
    } extension
}

registered_enum! {
    /// JWK `crv` (RFC 7518 §6.2.1.1, RFC 8037).
    pub enum Curve {
        /// NIST P-256.
        P256 => "P-256",
        /// NIST P-384.
        P384 => "P-384",
        /// NIST P-521.
        P521 => "P-521",
        /// Ed25519.
        Ed25519 => "Ed25519",
    } extension
}

registered_enum! {
    /// JWK `use` (RFC 7517 §4.2).
    pub enum KeyUse {
        /// Signature.
        Sig => "sig",
        /// Encryption.
        Enc => "enc",
    } extension
}

/// Which part of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The protected header.
    Header,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a JWS could not be made or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// A compact JWS has exactly three `.`-separated segments.
    #[error("compact JWS must have 3 segments, got {0}")]
    SegmentCount(usize),
    /// A segment is not strict base64url.
    #[error("{0} is not canonical unpadded base64url")]
    Base64(Part),
    /// The header is not strict JSON.
    #[error("header is not valid JSON: {0}")]
    HeaderJson(JcsError),
    /// The header is not a JSON object.
    #[error("header is not a JSON object")]
    HeaderNotObject,
    /// No `alg` member.
    #[error("header has no alg")]
    MissingAlg,
    /// `alg` is not `ES256`.
    #[error("alg {0:?} is not accepted (only ES256)")]
    UnsupportedAlg(String),
    /// A header member has the wrong JSON type.
    #[error("header member {0:?} must be a string")]
    HeaderMemberType(&'static str),
    /// `jwk`, `jku`, `x5u` or `x5c`: the key is never taken from the token.
    #[error("header member {0:?} is refused: the key is never taken from the token")]
    EmbeddedKey(String),
    /// `crit` is present: no extension is understood (RFC 7515 §4.1.11).
    #[error("crit lists extensions this verifier does not understand: {0:?}")]
    UnsupportedCrit(Vec<String>),
    /// RFC 7797 `b64` is not supported.
    #[error("header member \"b64\" (RFC 7797) is not supported")]
    UnsupportedB64,
    /// `typ` differs from the expected one.
    #[error("typ must be {expected:?}, got {found:?}")]
    TypMismatch {
        /// Expected value.
        expected: String,
        /// Value found (if any).
        found: Option<String>,
    },
    /// The header `kid` differs from the key's `kid`.
    #[error("kid {found:?} does not match the key's kid {expected:?}")]
    KidMismatch {
        /// The key's `kid`.
        expected: String,
        /// The header's `kid`.
        found: String,
    },
    /// The signature is not 64 bytes (e.g. DER-encoded).
    #[error("ES256 signature must be {ES256_SIGNATURE_LEN} bytes (r||s), got {0}")]
    SignatureLength(usize),
    /// The signature does not verify with this key.
    #[error("signature does not verify")]
    BadSignature,
    /// The payload is not strict JSON.
    #[error("payload is not valid JSON: {0}")]
    PayloadJson(JcsError),
    /// The payload is not a JSON object.
    #[error("payload is not a JSON object")]
    PayloadNotObject,
    /// The claims do not fit the expected type.
    #[error("claims do not match the expected shape: {0}")]
    Claims(String),
    /// The key is unusable.
    #[error("key: {0}")]
    Key(#[from] JwkError),
    /// The private key is not a P-256 PKCS#8 document ring accepts.
    #[error("PKCS#8 document refused")]
    Pkcs8,
    /// The system RNG or the signer failed.
    #[error("signing failed")]
    Signing,
    /// The claims could not be serialized, or break the strict number rule.
    #[error("claims cannot be signed: {0}")]
    Serialize(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_is_strict() {
        assert_eq!(b64url_decode("AQ").unwrap(), vec![1]);
        assert!(b64url_decode("AQ==").is_err());
        assert!(b64url_decode("AR").is_err()); // non-zero trailing bits
        assert!(b64url_decode("A+/Q").is_err());
        assert!(b64url_decode("AQ ").is_err());
    }
}
