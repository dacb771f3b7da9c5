//! ES256 verification: header checks, signature, strict JSON payload.

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde_json::{Map, Value};

use super::{b64url_decode, JwsAlg, JwsError, JwtType, Part, PublicJwk, EMBEDDED_KEY_HEADERS, ES256_SIGNATURE_LEN};
use crate::jcs;

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
}
