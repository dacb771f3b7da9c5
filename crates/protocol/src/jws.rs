//! ES256 compact JWS (RFC 7515, RFC 7518 §3.4) over `ring`, for device keys.
//!
//! One algorithm only: ECDSA P-256 with SHA-256, signature as the fixed
//! 64-byte `r || s` (never DER). [`verify`] takes the key from the caller,
//! never from the token, and refuses anything it does not fully understand:
//! another or a missing `alg` (including `none` and `HS256` key confusion),
//! `jwk`/`jku`/`x5u`/`x5c` headers, any `crit`, RFC 7797 `b64`, padded or
//! non-canonical base64url, a wrong segment count, a signature that is not 64
//! bytes, a payload that is not a strict JSON object ([`crate::jcs::parse_strict`]).

use crate::device::registered::registered_enum;
use crate::jcs::{self, JcsError};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use zeroize::Zeroizing;

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

/// Why a public JWK was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// `kty` is not `EC`.
    #[error("kty must be \"EC\", got {0:?}")]
    KeyType(String),
    /// `crv` is not `P-256`.
    #[error("crv must be \"P-256\", got {0:?}")]
    Curve(String),
    /// `x` or `y` is not strict base64url.
    #[error("{0} is not canonical unpadded base64url")]
    Base64(&'static str),
    /// `x` or `y` does not decode to 32 bytes.
    #[error("{coord} must be {P256_COORD_LEN} bytes, got {len}")]
    CoordinateLength {
        /// `"x"` or `"y"`.
        coord: &'static str,
        /// Decoded length.
        len: usize,
    },
    /// An uncompressed point must be 65 bytes.
    #[error("uncompressed point must be {P256_POINT_LEN} bytes, got {0}")]
    PointLength(usize),
    /// An uncompressed point starts with 0x04.
    #[error("uncompressed point must start with 0x04, got {0:#04x}")]
    PointPrefix(u8),
    /// `(x, y)` is not a point of P-256 (ring refused it as a public key).
    #[error("the point is not on the P-256 curve")]
    NotOnCurve,
    /// `alg` is present and not `ES256`.
    #[error("alg must be \"ES256\" when present, got {0:?}")]
    Alg(String),
    /// `use` is present and not `sig`.
    #[error("use must be \"sig\" when present, got {0:?}")]
    Use(String),
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

/// The P-256 public key of a device as a JWK (RFC 7517, RFC 7518 §6.2):
/// `{"kty":"EC","crv":"P-256","x":…,"y":…}` plus optional `kid`, `alg`
/// (`ES256` only) and `use` (`sig` only).
///
/// Every value of this type is a valid P-256 point: deserialization and the
/// constructors check the coordinate lengths and that the point is on the
/// curve. Members other than these (a private `d`, `key_ops`, `x5c`…) are
/// refused when deserializing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JwkWire", into = "JwkWire")]
pub struct PublicJwk {
    point: [u8; P256_POINT_LEN],
    kid: Option<String>,
    alg: Option<JwsAlg>,
    key_use: Option<KeyUse>,
}

/// The JSON form of [`PublicJwk`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwkWire {
    kty: KeyType,
    crv: Curve,
    x: String,
    y: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<JwsAlg>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    key_use: Option<KeyUse>,
}

impl TryFrom<JwkWire> for PublicJwk {
    type Error = JwkError;
    fn try_from(w: JwkWire) -> Result<Self, JwkError> {
        if w.kty != KeyType::Ec {
            return Err(JwkError::KeyType(w.kty.as_str().to_owned()));
        }
        if w.crv != Curve::P256 {
            return Err(JwkError::Curve(w.crv.as_str().to_owned()));
        }
        let x = decode_coord(&w.x, "x")?;
        let y = decode_coord(&w.y, "y")?;
        let mut point = [0u8; P256_POINT_LEN];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        let mut jwk = PublicJwk::from_uncompressed_point(&point)?;
        if let Some(alg) = w.alg {
            jwk = jwk.with_alg(alg)?;
        }
        if let Some(u) = w.key_use {
            jwk = jwk.with_use(u)?;
        }
        jwk.kid = w.kid;
        Ok(jwk)
    }
}

impl From<PublicJwk> for JwkWire {
    fn from(k: PublicJwk) -> Self {
        JwkWire { kty: KeyType::Ec, crv: Curve::P256, x: k.x(), y: k.y(), kid: k.kid, alg: k.alg, key_use: k.key_use }
    }
}

fn decode_coord(text: &str, coord: &'static str) -> Result<[u8; P256_COORD_LEN], JwkError> {
    let bytes = b64url_decode(text).map_err(|_| JwkError::Base64(coord))?;
    <[u8; P256_COORD_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| JwkError::CoordinateLength { coord, len: bytes.len() })
}

/// Checks that `point` is a valid P-256 public key by letting ring parse it
/// as an ECDH peer key (ring 0.17 has no stand-alone public key parser; its
/// ECDH and ECDSA verification share the same point validation: on the curve,
/// coordinates in range, not the point at infinity).
fn validate_point(point: &[u8; P256_POINT_LEN]) -> Result<(), JwkError> {
    use ring::agreement;
    let rng = SystemRandom::new();
    let mine =
        agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).map_err(|_| JwkError::NotOnCurve)?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, point);
    agreement::agree_ephemeral(mine, &peer, |_| ()).map_err(|_| JwkError::NotOnCurve)
}

impl PublicJwk {
    /// From ring's 65-byte uncompressed point `0x04 || X || Y`.
    ///
    /// # Errors
    /// Wrong length, wrong prefix, or not a point of P-256.
    pub fn from_uncompressed_point(point: &[u8]) -> Result<Self, JwkError> {
        let point = <[u8; P256_POINT_LEN]>::try_from(point).map_err(|_| JwkError::PointLength(point.len()))?;
        if point[0] != 0x04 {
            return Err(JwkError::PointPrefix(point[0]));
        }
        validate_point(&point)?;
        Ok(Self { point, kid: None, alg: None, key_use: None })
    }

    /// The 65-byte uncompressed point, as ring's verifier wants it.
    #[must_use]
    pub fn to_uncompressed_point(&self) -> [u8; P256_POINT_LEN] {
        self.point
    }

    /// `x`, base64url.
    #[must_use]
    pub fn x(&self) -> String {
        b64url_encode(&self.point[1..33])
    }

    /// `y`, base64url.
    #[must_use]
    pub fn y(&self) -> String {
        b64url_encode(&self.point[33..])
    }

    /// `kid`, if set.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `alg`, if set (always `ES256`).
    #[must_use]
    pub fn alg(&self) -> Option<&JwsAlg> {
        self.alg.as_ref()
    }

    /// `use`, if set (always `sig`).
    #[must_use]
    pub fn key_use(&self) -> Option<&KeyUse> {
        self.key_use.as_ref()
    }

    /// Sets `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `alg`.
    ///
    /// # Errors
    /// [`JwkError::Alg`] unless `ES256`.
    pub fn with_alg(mut self, alg: JwsAlg) -> Result<Self, JwkError> {
        if alg != JwsAlg::Es256 {
            return Err(JwkError::Alg(alg.as_str().to_owned()));
        }
        self.alg = Some(alg);
        Ok(self)
    }

    /// Sets `use`.
    ///
    /// # Errors
    /// [`JwkError::Use`] unless `sig`.
    pub fn with_use(mut self, key_use: KeyUse) -> Result<Self, JwkError> {
        if key_use != KeyUse::Sig {
            return Err(JwkError::Use(key_use.as_str().to_owned()));
        }
        self.key_use = Some(key_use);
        Ok(self)
    }

    /// RFC 7638 JWK thumbprint with SHA-256, base64url: the hash of
    /// `{"crv":"P-256","kty":"EC","x":…,"y":…}` (required members only,
    /// lexicographic order, no whitespace).
    #[must_use]
    pub fn thumbprint_sha256(&self) -> String {
        let json = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, self.x(), self.y());
        jcs::sha256_b64url(json.as_bytes())
    }
}

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
    /// never produces a token [`verify`] would refuse for its payload.
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

/// A verified protected header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Always [`JwsAlg::Es256`] after [`verify`].
    pub alg: JwsAlg,
    /// `typ`, if present.
    pub typ: Option<JwtType>,
    /// `kid`, if present.
    pub kid: Option<String>,
    /// Every other member, as received (none of them affects verification).
    pub other: Map<String, Value>,
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively and the
/// `application/` prefix may be omitted.
/// Whether two `typ` values name the same media type (RFC 7515 §4.1.9:
/// case-insensitive, the `application/` prefix optional).
#[must_use]
pub fn typ_matches(found: &str, expected: &str) -> bool {
    fn norm(s: &str) -> String {
        let lower = s.to_ascii_lowercase();
        match lower.strip_prefix("application/") {
            Some(rest) => rest.to_owned(),
            None => lower,
        }
    }
    norm(found) == norm(expected)
}

fn string_member(map: &mut Map<String, Value>, name: &'static str) -> Result<Option<String>, JwsError> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwsError::HeaderMemberType(name)),
    }
}

fn parse_header(segment: &str) -> Result<Header, JwsError> {
    let bytes = b64url_decode(segment).map_err(|_| JwsError::Base64(Part::Header))?;
    let value = jcs::parse_strict(&bytes).map_err(JwsError::HeaderJson)?;
    let Value::Object(mut map) = value else {
        return Err(JwsError::HeaderNotObject);
    };
    let alg = string_member(&mut map, "alg")?.ok_or(JwsError::MissingAlg)?;
    let alg = JwsAlg::from(alg);
    if alg != JwsAlg::Es256 {
        return Err(JwsError::UnsupportedAlg(alg.as_str().to_owned()));
    }
    if let Some(name) = EMBEDDED_KEY_HEADERS.iter().find(|n| map.contains_key(**n)) {
        return Err(JwsError::EmbeddedKey((*name).to_owned()));
    }
    if let Some(crit) = map.get("crit") {
        let names = match crit {
            Value::Array(items) => items.iter().map(|v| v.as_str().unwrap_or("<not a string>").to_owned()).collect(),
            other => vec![other.to_string()],
        };
        return Err(JwsError::UnsupportedCrit(names));
    }
    if map.contains_key("b64") {
        return Err(JwsError::UnsupportedB64);
    }
    let typ = string_member(&mut map, "typ")?.map(JwtType::from);
    let kid = string_member(&mut map, "kid")?;
    Ok(Header { alg, typ, kid, other: map })
}

/// Verifies a compact ES256 JWS with `key` and returns its header and JSON
/// object payload.
///
/// `expected_typ`, when given, must match the header `typ` (RFC 7515
/// §4.1.9 comparison); a missing `typ` then fails. When both the key and the
/// header carry a `kid`, they must be equal.
///
/// # Errors
/// Every refusal has its own [`JwsError`] variant; see the module docs.
pub fn verify(jws: &str, key: &PublicJwk, expected_typ: Option<&str>) -> Result<(Header, Value), JwsError> {
    let segments: Vec<&str> = jws.split('.').collect();
    let [head_b64, body_b64, sig_b64] = segments.as_slice() else {
        return Err(JwsError::SegmentCount(segments.len()));
    };
    let header = parse_header(head_b64)?;
    if let Some(expected) = expected_typ {
        let found = header.typ.as_ref().map(|t| t.as_str().to_owned());
        if !found.as_deref().is_some_and(|f| typ_matches(f, expected)) {
            return Err(JwsError::TypMismatch { expected: expected.to_owned(), found });
        }
    }
    if let (Some(expected), Some(found)) = (key.kid(), header.kid.as_deref()) {
        if expected != found {
            return Err(JwsError::KidMismatch { expected: expected.to_owned(), found: found.to_owned() });
        }
    }
    let sig = b64url_decode(sig_b64).map_err(|_| JwsError::Base64(Part::Signature))?;
    if sig.len() != ES256_SIGNATURE_LEN {
        return Err(JwsError::SignatureLength(sig.len()));
    }
    let signing_input_len = head_b64.len() + 1 + body_b64.len();
    let signing_input = &jws.as_bytes()[..signing_input_len];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.to_uncompressed_point())
        .verify(signing_input, &sig)
        .map_err(|_| JwsError::BadSignature)?;
    let body = b64url_decode(body_b64).map_err(|_| JwsError::Base64(Part::Payload))?;
    let payload = jcs::parse_strict(&body).map_err(JwsError::PayloadJson)?;
    if !payload.is_object() {
        return Err(JwsError::PayloadNotObject);
    }
    Ok((header, payload))
}

/// [`verify`], then deserializes the payload into `T`.
///
/// # Errors
/// As [`verify`], plus [`JwsError::Claims`].
pub fn verify_claims<T: serde::de::DeserializeOwned>(
    jws: &str,
    key: &PublicJwk,
    expected_typ: Option<&str>,
) -> Result<(Header, T), JwsError> {
    let (header, payload) = verify(jws, key, expected_typ)?;
    let claims = serde_json::from_value(payload).map_err(|e| JwsError::Claims(e.to_string()))?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison_follows_rfc7515() {
        assert!(typ_matches("decision+jwt", "decision+jwt"));
        assert!(typ_matches("Decision+JWT", "decision+jwt"));
        assert!(typ_matches("application/decision+jwt", "decision+jwt"));
        assert!(!typ_matches("device-auth+jwt", "decision+jwt"));
    }

    #[test]
    fn b64url_is_strict() {
        assert_eq!(b64url_decode("AQ").unwrap(), vec![1]);
        assert!(b64url_decode("AQ==").is_err());
        assert!(b64url_decode("AR").is_err()); // non-zero trailing bits
        assert!(b64url_decode("A+/Q").is_err());
        assert!(b64url_decode("AQ ").is_err());
    }
}
