//! Small helpers: hashing of presented secrets, identifiers, JWT peeking.

use countersign_protocol::jcs;
use countersign_protocol::jws::b64url_decode;
use countersign_protocol::secret::generate_url_safe;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use crate::error::Internal;

/// `base64url(SHA-256(secret))`: how presented secrets are stored. The
/// secrets are 160 to 256 random bits, so a fast hash is enough (DESIGN §3).
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    jcs::sha256_b64url(secret.as_bytes())
}

/// Untrusted text quoted in an error description: escaped in
/// `countersign_text`'s grammar and at most 64 characters, with its length
/// when longer (`aaaa… (8193 characters)`), so an error never echoes
/// unbounded input.
#[must_use]
pub fn quoted(text: &str) -> String {
    countersign_text::excerpt(text, countersign_text::Context::Identifier, countersign_protocol::jcs::MAX_QUOTED_CHARS)
}

/// Constant-time equality of two strings (the time depends only on the lengths).
#[must_use]
pub fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The length in bytes of `value` as compact JSON, counted as it is
/// written (no buffer): what a request costs an approver, measured where
/// only the size matters.
///
/// # Errors
/// `value` cannot be serialized.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> Result<usize, Internal> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)?;
    Ok(count.0)
}

/// `prefix`, the time in milliseconds as 12 hex digits (until the year
/// 10889), then `bytes` random bytes in base64url. Ids made later sort
/// later, so an index keyed by them grows at its end: a group of requests
/// committed together writes a page or two of it, not a page per request
/// as random ids do (docs/performance.md).
///
/// # Errors
/// The system RNG failed.
pub fn time_ordered_id(prefix: &str, now_ms: u64, bytes: usize) -> Result<String, Internal> {
    Ok(format!("{prefix}{now_ms:012x}{}", generate_url_safe(bytes)?))
}

/// `prefix` followed by `bytes` random bytes in base64url.
///
/// # Errors
/// The system RNG failed.
pub fn random_id(prefix: &str, bytes: usize) -> Result<String, Internal> {
    Ok(format!("{prefix}{}", generate_url_safe(bytes)?))
}

/// The header and claims of a compact JWS, **unverified** (to pick the key).
#[must_use]
pub fn peek_jwt(jwt: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = jwt.split('.');
    let (h, p) = (parts.next()?, parts.next()?);
    let decode = |s: &str| -> Option<Map<String, Value>> {
        match jcs::parse_strict(b64url_decode(s).ok()?).ok()? {
            Value::Object(m) => Some(m),
            _ => None,
        }
    };
    Some((decode(h)?, decode(p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_is_the_length_of_the_serialized_value() {
        let value = serde_json::json!({"a": "Møller & Søn \u{202e} \"q\"\n", "n": [1, 2.5, null], "e": {}});
        assert_eq!(json_len(&value).unwrap(), serde_json::to_vec(&value).unwrap().len());
        assert_eq!(json_len("").unwrap(), 2);
    }
}
