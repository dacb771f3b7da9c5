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

/// Constant-time equality of two strings (the time depends only on the lengths).
#[must_use]
pub fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
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

/// `true` for characters that make displayed text differ from what it seems:
/// bidirectional formatting (U+061C, U+200E/F, U+202A–202E, U+2066–2069),
/// invisible and format characters (zero-width U+200B–200D, U+2060–2064,
/// U+FEFF, tag characters U+E0000–E007F and the other `Cf` characters,
/// Hangul fillers and the other default-ignorable blanks), control
/// characters (C0, DEL, C1) and the line and paragraph separators.
///
/// The same classes as `countersign_details::text` (whose classifiers are
/// private; its public `visible_escape` only escapes), plus the rest of
/// Unicode's `Cf` category. Variation selectors and combining marks are not
/// hidden characters: they belong in emoji and in decomposed letters.
#[must_use]
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidi controls.
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Zero-width, word joiner, invisible operators, deprecated format controls, BOM.
            | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2065}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
            // Other Cf: soft hyphen, Arabic and Syriac marks, Mongolian vowel separator,
            // interlinear annotations, Kaithi, Egyptian hieroglyph and shorthand format
            // controls, musical symbol formatting.
            | '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
            | '\u{180E}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            // Tags (and the rest of the plane-14 ignorables, variation selectors aside).
            | '\u{E0000}'..='\u{E00FF}' | '\u{E01F0}'..='\u{E0FFF}'
            // Invisible fillers and the combining grapheme joiner.
            | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180D}' | '\u{180F}'
            | '\u{3164}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        )
}

#[cfg(test)]
mod tests {
    use super::is_hidden_char;

    #[test]
    fn hidden_characters() {
        for c in [
            '\u{0}',
            '\u{1B}',
            '\u{7F}',
            '\u{85}',
            '\u{061C}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{E0000}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{00AD}',
            '\u{180E}',
            '\u{2028}',
            '\u{3164}',
        ] {
            assert!(is_hidden_char(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', 'Z', ' ', 'é', 'ë', '\u{0308}', 'Ω', 'Я', '中', '\u{FE0F}', '\u{E0100}', '❤', '&', '-'] {
            assert!(!is_hidden_char(c), "U+{:04X}", u32::from(c));
        }
    }
}
