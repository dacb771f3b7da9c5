//! Compact JWT strings, checked for shape only.

use std::fmt;

/// A compact JWT (RFC 7519 §3): a JWS (three base64url segments, RFC 7515
/// §7.1) with a non-empty signature, or a JWE (five segments, RFC 7516 §7.1).
/// Only the shape is checked here; verification is the caller's (see
/// `crate::jws`). `Debug` shows the length only: these are often credentials
/// (`client_assertion`) or personal data (`id_token`).
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(String);

/// A string is not shaped like a compact JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a compact JWT: {0}")]
pub struct JwtShapeError(&'static str);

fn is_b64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Jwt {
    /// Checks the shape of a compact JWT.
    ///
    /// # Errors
    /// [`JwtShapeError`] saying what is wrong.
    pub fn new(token: impl Into<String>) -> Result<Self, JwtShapeError> {
        let token = token.into();
        let parts: Vec<&str> = token.split('.').collect();
        if !parts.iter().all(|p| is_b64url(p)) {
            return Err(JwtShapeError("a segment is not base64url"));
        }
        match parts.as_slice() {
            [h, p, s] => {
                if h.is_empty() || p.is_empty() {
                    return Err(JwtShapeError("empty header or payload"));
                }
                if s.is_empty() {
                    return Err(JwtShapeError("unsigned (empty signature)"));
                }
            }
            [h, _key, iv, ct, tag] => {
                if h.is_empty() || iv.is_empty() || ct.is_empty() || tag.is_empty() {
                    return Err(JwtShapeError("empty JWE segment"));
                }
            }
            _ => return Err(JwtShapeError("expected 3 (JWS) or 5 (JWE) segments")),
        }
        Ok(Self(token))
    }

    /// The compact serialization.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a JWS (three segments) rather than a JWE.
    #[must_use]
    pub fn is_jws(&self) -> bool {
        self.0.split('.').count() == 3
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jwt(<{} bytes>)", self.0.len())
    }
}

crate::wire::as_wire_str!(Jwt, serialize, new);
