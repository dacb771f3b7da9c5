//! The device public key as a P-256 JWK.

use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};

use super::{b64url_decode, b64url_encode, Curve, JwsAlg, KeyType, KeyUse, P256_COORD_LEN, P256_POINT_LEN};
use crate::jcs;

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
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(as = "JwkWire"))]
pub struct PublicJwk {
    point: [u8; P256_POINT_LEN],
    kid: Option<String>,
    alg: Option<JwsAlg>,
    key_use: Option<KeyUse>,
}

/// The JSON form of [`PublicJwk`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", ts(rename = "PublicJwk"))]
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
