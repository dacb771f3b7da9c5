//! ES256 JWS: vectors made by the npm `jose` package (testdata/jws), our own
//! tokens, and PublicJwk checks.

use countersign_protocol::jcs::JcsError;
use countersign_protocol::jws::{
    self, b64url_decode, b64url_encode, DeviceKeyPair, JwkError, JwsAlg, JwsError, JwtType, KeyUse, Part, PublicJwk,
    SignHeader,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/jws/vectors.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

fn key(name: &str) -> PublicJwk {
    serde_json::from_value(vectors()["keys"][name].clone()).unwrap()
}

fn vector(list: &str, name: &str) -> &'static Value {
    vectors()[list].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no vector {name}"))
}

/// Verifies the named invalid vector with the device key and returns the error.
fn refuse(name: &str) -> JwsError {
    let v = vector("invalid", name);
    let jws = v["jws"].as_str().unwrap();
    let typ = v["expected_typ"].as_str();
    let key = key("device").with_kid(vectors()["device_id"].as_str().unwrap());
    let err = jws::verify(jws, &key, typ).expect_err(name);
    // The generator names the variant it expects.
    let expected = v["error"].as_str().unwrap();
    assert!(format!("{err:?}").starts_with(expected), "{name}: {err:?} is not {expected}");
    err
}

#[test]
fn jose_valid_tokens_verify() {
    let key = key("device").with_kid(vectors()["device_id"].as_str().unwrap());
    for v in vectors()["valid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let (header, payload) = jws::verify(v["jws"].as_str().unwrap(), &key, v["expected_typ"].as_str())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(header.alg, JwsAlg::Es256);
        assert_eq!(payload, v["payload"], "{name}");
    }
}

#[test]
fn jose_device_auth_header_is_read() {
    let v = vector("valid", "device_auth");
    let (header, _) = jws::verify(v["jws"].as_str().unwrap(), &key("device"), Some("device-auth+jwt")).unwrap();
    assert_eq!(header.typ, Some(JwtType::DeviceAuth));
    assert_eq!(header.kid.as_deref(), Some("dev_Qm3vT8sLw2"));
    assert!(header.other.is_empty());
}

#[test]
fn jose_decision_typ_is_decision() {
    let v = vector("valid", "decision");
    let (header, _) = jws::verify(v["jws"].as_str().unwrap(), &key("device"), Some("decision+jwt")).unwrap();
    assert_eq!(header.typ, Some(JwtType::Decision));
}

/// One test per row `name: "vector" => error,`: [`refuse`] gives exactly
/// `error` (or, for `=> matches pattern,`, an error that matches `pattern`).
macro_rules! refused_as {
    () => {};
    ($test:ident: $vector:literal => matches $want:pat $(if $guard:expr)?, $($rest:tt)*) => {
        #[test]
        fn $test() {
            let err = refuse($vector);
            assert!(matches!(err, $want $(if $guard)?), "{err:?}");
        }
        refused_as!($($rest)*);
    };
    ($test:ident: $vector:literal => $error:expr, $($rest:tt)*) => {
        #[test]
        fn $test() {
            assert_eq!(refuse($vector), $error);
        }
        refused_as!($($rest)*);
    };
}

refused_as! {
    refuses_alg_none: "alg_none" => JwsError::UnsupportedAlg("none".into()),
    refuses_hs256_made_with_the_public_key_as_secret:
        "alg_hs256_public_key_as_secret" => JwsError::UnsupportedAlg("HS256".into()),
    refuses_es384: "alg_es384" => JwsError::UnsupportedAlg("ES384".into()),
    refuses_rs256: "alg_rs256" => JwsError::UnsupportedAlg("RS256".into()),
    refuses_missing_alg: "alg_missing" => JwsError::MissingAlg,
    refuses_duplicate_header_member:
        "header_duplicate_alg" => matches JwsError::HeaderJson(JcsError::DuplicateKey { .. }),
    refuses_tampered_payload: "tampered_payload" => JwsError::BadSignature,
    refuses_wrong_key: "wrong_key" => JwsError::BadSignature,
    refuses_der_signature: "der_signature" => matches JwsError::SignatureLength(n) if (68..=72).contains(&n),
    refuses_embedded_jwk: "embedded_jwk_header" => JwsError::EmbeddedKey("jwk".into()),
    refuses_jku: "jku_header" => JwsError::EmbeddedKey("jku".into()),
    refuses_x5u: "x5u_header" => JwsError::EmbeddedKey("x5u".into()),
    refuses_unknown_crit: "crit_unknown" => JwsError::UnsupportedCrit(vec!["urn:example:ext".into()]),
    refuses_padded_signature: "padded_signature" => JwsError::Base64(Part::Signature),
    refuses_non_canonical_base64url: "non_canonical_signature" => JwsError::Base64(Part::Signature),
    refuses_two_segments: "two_segments" => JwsError::SegmentCount(2),
    refuses_four_segments: "four_segments" => JwsError::SegmentCount(4),
    refuses_wrong_typ:
        "wrong_typ" => JwsError::TypMismatch { expected: "decision+jwt".into(), found: Some("device-auth+jwt".into()) },
    refuses_missing_typ_when_one_is_expected:
        "missing_typ" => JwsError::TypMismatch { expected: "decision+jwt".into(), found: None },
    refuses_kid_mismatch:
        "kid_mismatch" => JwsError::KidMismatch { expected: "dev_Qm3vT8sLw2".into(), found: "dev_someone_else".into() },
    refuses_payload_with_duplicate_key:
        "payload_duplicate_key" => matches JwsError::PayloadJson(JcsError::DuplicateKey { .. }),
    refuses_payload_with_unsafe_integer:
        "payload_unsafe_integer" => matches JwsError::PayloadJson(JcsError::NumberOutOfRange { .. }),
    refuses_payload_that_is_not_an_object: "payload_not_object" => JwsError::PayloadNotObject,
}

#[test]
fn every_invalid_vector_is_refused_as_the_generator_says() {
    for v in vectors()["invalid"].as_array().unwrap() {
        refuse(v["name"].as_str().unwrap());
    }
}

// ---- tokens crafted with ring directly (headers our signer never makes) ----

fn craft(header: &str, payload: &str) -> (String, PublicJwk) {
    sign_input(format!("{}.{}", b64url_encode(header), b64url_encode(payload)))
}

/// `input` (the first two segments, as they are) signed with a fresh key by
/// ring directly, and that key.
fn sign_input(input: String) -> (String, PublicJwk) {
    let pair = DeviceKeyPair::generate().unwrap();
    let ring_key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pair.pkcs8().secret_bytes(), &SystemRandom::new())
            .unwrap();
    let sig = ring_key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    (format!("{input}.{}", b64url_encode(sig.as_ref())), pair.public_jwk().clone())
}

#[test]
fn crafted_baseline_verifies() {
    let (t, k) = craft(r#"{"alg":"ES256"}"#, r#"{"a":1}"#);
    assert_eq!(jws::verify(&t, &k, None).unwrap().1, json!({"a":1}));
}

/// One test per header, over an empty payload signed with a fresh key:
/// verifying gives exactly `error`.
macro_rules! crafted_refused_as {
    ($($test:ident: $header:literal => $error:expr;)+) => {$(
        #[test]
        fn $test() {
            let (t, k) = craft($header, "{}");
            assert_eq!(jws::verify(&t, &k, None), Err($error));
        }
    )+};
}

crafted_refused_as! {
    refuses_x5c: r#"{"alg":"ES256","x5c":["MIIB"]}"# => JwsError::EmbeddedKey("x5c".into());
    refuses_empty_crit: r#"{"alg":"ES256","crit":[]}"# => JwsError::UnsupportedCrit(vec![]);
    refuses_b64_header: r#"{"alg":"ES256","b64":true}"# => JwsError::UnsupportedB64;
    refuses_header_not_object: r#"["ES256"]"# => JwsError::HeaderNotObject;
    refuses_non_string_alg: r#"{"alg":256}"# => JwsError::HeaderMemberType("alg");
    refuses_non_string_typ: r#"{"alg":"ES256","typ":1}"# => JwsError::HeaderMemberType("typ");
    refuses_lowercase_alg: r#"{"alg":"es256"}"# => JwsError::UnsupportedAlg("es256".into());
}

#[test]
fn refuses_bad_header_base64() {
    let (t, k) = craft(r#"{"alg":"ES256"}"#, "{}");
    let t = format!("{}+{}", &t[..2], &t[3..]);
    assert_eq!(jws::verify(&t, &k, None), Err(JwsError::Base64(Part::Header)));
}

#[test]
fn refuses_payload_segment_with_padding_even_if_signed() {
    // The signature covers the padded text; the payload is still refused.
    let (t, k) = sign_input(format!("{}.{}=", b64url_encode(r#"{"alg":"ES256"}"#), b64url_encode(r#"{"a":12}"#)));
    assert_eq!(jws::verify(&t, &k, None), Err(JwsError::Base64(Part::Payload)));
}

#[test]
fn refuses_empty_signature() {
    let (t, k) = craft(r#"{"alg":"ES256"}"#, "{}");
    let cut = t.rfind('.').unwrap();
    assert_eq!(jws::verify(&t[..=cut], &k, None), Err(JwsError::SignatureLength(0)));
}

// ---- our signer ----

#[test]
fn our_token_round_trips_with_exact_header() {
    let pair = DeviceKeyPair::generate().unwrap();
    let t = pair
        .sign(&SignHeader { typ: Some(JwtType::Decision), kid: Some("dev_1".into()) }, &json!({"x": "y", "n": 5}))
        .unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(b64url_decode(parts[0]).unwrap(), br#"{"alg":"ES256","typ":"decision+jwt","kid":"dev_1"}"#);
    assert_eq!(b64url_decode(parts[2]).unwrap().len(), 64);
    let key = pair.public_jwk().clone().with_kid("dev_1");
    let (h, p) = jws::verify(&t, &key, Some("decision+jwt")).unwrap();
    assert_eq!(h.kid.as_deref(), Some("dev_1"));
    assert_eq!(p, json!({"x": "y", "n": 5}));
}

#[test]
fn our_token_with_tampered_header_fails() {
    let pair = DeviceKeyPair::generate().unwrap();
    let t = pair.sign(&SignHeader { typ: Some(JwtType::Decision), kid: None }, &json!({})).unwrap();
    let forged =
        format!("{}{}", b64url_encode(r#"{"alg":"ES256","typ":"device-auth+jwt"}"#), &t[t.find('.').unwrap()..]);
    assert_eq!(jws::verify(&forged, pair.public_jwk(), None), Err(JwsError::BadSignature));
}

#[test]
fn our_token_fails_with_another_key() {
    let a = DeviceKeyPair::generate().unwrap();
    let b = DeviceKeyPair::generate().unwrap();
    let t = a.sign(&SignHeader::default(), &json!({})).unwrap();
    assert_eq!(jws::verify(&t, b.public_jwk(), None), Err(JwsError::BadSignature));
}

#[test]
fn sign_refuses_unsafe_numbers_and_non_objects() {
    let pair = DeviceKeyPair::generate().unwrap();
    assert!(matches!(
        pair.sign(&SignHeader::default(), &json!({"n": 9_007_199_254_740_992u64})),
        Err(JwsError::Serialize(_))
    ));
    assert!(matches!(pair.sign(&SignHeader::default(), &json!([1])), Err(JwsError::Serialize(_))));
}

#[test]
fn pkcs8_round_trip_keeps_the_key() {
    let pair = DeviceKeyPair::generate().unwrap();
    let again = DeviceKeyPair::from_pkcs8(pair.pkcs8().secret_bytes()).unwrap();
    assert_eq!(pair.public_jwk(), again.public_jwk());
    let t = again.sign(&SignHeader::default(), &json!({"a": 1})).unwrap();
    assert!(jws::verify(&t, pair.public_jwk(), None).is_ok());
}

#[test]
fn from_pkcs8_refuses_garbage() {
    assert_eq!(DeviceKeyPair::from_pkcs8(b"not a key").unwrap_err(), JwsError::Pkcs8);
}

#[test]
fn private_key_is_redacted_in_debug() {
    let pair = DeviceKeyPair::generate().unwrap();
    let der = pair.pkcs8().secret_bytes().to_vec();
    let dbg = format!("{pair:?} {:?}", pair.pkcs8());
    assert!(dbg.contains("<redacted>"), "{dbg}");
    assert!(!dbg.contains(&format!("{:?}", &der[der.len() - 8..])), "{dbg}");
    assert!(!dbg.contains(&b64url_encode(&der[der.len() - 40..der.len() - 8])), "{dbg}");
    assert!(dbg.contains(&pair.public_jwk().thumbprint_sha256()));
}

// ---- PublicJwk ----

#[test]
fn thumbprints_match_jose() {
    assert_eq!(key("device").thumbprint_sha256(), vectors()["thumbprints"]["device"].as_str().unwrap());
    assert_eq!(key("other").thumbprint_sha256(), vectors()["thumbprints"]["other"].as_str().unwrap());
}

#[test]
fn thumbprint_ignores_kid_alg_use() {
    let k = key("device");
    let t = k.thumbprint_sha256();
    let k2 = k.with_kid("x").with_alg(JwsAlg::Es256).unwrap().with_use(KeyUse::Sig).unwrap();
    assert_eq!(k2.thumbprint_sha256(), t);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn jwk_from_and_to_uncompressed_point() {
    let point = hex(vectors()["device_point_hex"].as_str().unwrap());
    let k = PublicJwk::from_uncompressed_point(&point).unwrap();
    assert_eq!(k, key("device"));
    assert_eq!(k.to_uncompressed_point().to_vec(), point);
}

#[test]
fn jwk_serializes_in_rfc_shape() {
    let k = key("device").with_kid("dev_1").with_use(KeyUse::Sig).unwrap();
    assert_eq!(
        serde_json::to_value(&k).unwrap(),
        json!({"kty":"EC","crv":"P-256","x":vectors()["keys"]["device"]["x"],"y":vectors()["keys"]["device"]["y"],"kid":"dev_1","use":"sig"})
    );
    let back: PublicJwk = serde_json::from_value(serde_json::to_value(&k).unwrap()).unwrap();
    assert_eq!(back, k);
}

#[test]
fn point_refuses_wrong_length() {
    let point = hex(vectors()["device_point_hex"].as_str().unwrap());
    assert_eq!(PublicJwk::from_uncompressed_point(&point[..64]), Err(JwkError::PointLength(64)));
}

#[test]
fn point_refuses_compressed_prefix() {
    let mut point = hex(vectors()["device_point_hex"].as_str().unwrap());
    point[0] = 0x02;
    assert_eq!(PublicJwk::from_uncompressed_point(&point), Err(JwkError::PointPrefix(0x02)));
}

#[test]
fn point_refuses_off_curve() {
    let mut point = hex(vectors()["device_point_hex"].as_str().unwrap());
    point[64] ^= 1;
    assert_eq!(PublicJwk::from_uncompressed_point(&point), Err(JwkError::NotOnCurve));
}

#[test]
fn point_refuses_all_zero_coordinates() {
    let mut point = [0u8; 65];
    point[0] = 4;
    assert_eq!(PublicJwk::from_uncompressed_point(&point), Err(JwkError::NotOnCurve));
}

fn jwk_err(v: Value) -> String {
    serde_json::from_value::<PublicJwk>(v).unwrap_err().to_string()
}

fn device_xy() -> (Value, Value) {
    (vectors()["keys"]["device"]["x"].clone(), vectors()["keys"]["device"]["y"].clone())
}

/// One test per JWK, made from the device key's coordinates `x` and `y`:
/// parsing it fails with a message that contains `message`.
macro_rules! jwk_refused {
    ($($test:ident: |$x:pat_param, $y:pat_param| $jwk:expr => $message:literal;)+) => {$(
        #[test]
        fn $test() {
            let ($x, $y) = device_xy();
            let err = jwk_err($jwk);
            assert!(err.contains($message), "{err}");
        }
    )+};
}

jwk_refused! {
    jwk_refuses_rsa: |x, y| json!({"kty":"RSA","crv":"P-256","x":x,"y":y}) => "kty must be \"EC\"";
    jwk_refuses_p384: |_, _| vectors()["keys"]["p384"].clone() => "crv must be \"P-256\"";
    jwk_refuses_private_member: |x, y| json!({"kty":"EC","crv":"P-256","x":x,"y":y,"d":"AAAA"}) => "unknown field `d`";
    jwk_refuses_padded_coordinate:
        |x, y| json!({"kty":"EC","crv":"P-256","x":format!("{}=", x.as_str().unwrap()),"y":y}) => "x is not canonical";
    jwk_refuses_short_coordinate:
        |x, _| json!({"kty":"EC","crv":"P-256","x":x,"y":b64url_encode([1u8; 31])}) => "y must be 32 bytes, got 31";
    jwk_refuses_off_curve:
        |x, _| json!({"kty":"EC","crv":"P-256","x":x,"y":b64url_encode([7u8; 32])}) => "not on the P-256 curve";
    jwk_refuses_other_alg: |x, y| json!({"kty":"EC","crv":"P-256","x":x,"y":y,"alg":"ES384"}) => "alg must be \"ES256\"";
    jwk_refuses_use_enc: |x, y| json!({"kty":"EC","crv":"P-256","x":x,"y":y,"use":"enc"}) => "use must be \"sig\"";
}

#[test]
fn registered_enums_round_trip_every_variant() {
    fn check<T>(all: &[T])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
    {
        for v in all {
            let s = serde_json::to_string(v).unwrap();
            let back: T = serde_json::from_str(&s).unwrap();
            assert_eq!(&back, v, "{s}");
        }
    }
    check(JwsAlg::REGISTERED);
    check(JwtType::REGISTERED);
    check(jws::KeyType::REGISTERED);
    check(jws::Curve::REGISTERED);
    check(KeyUse::REGISTERED);
    assert_eq!(JwsAlg::REGISTERED.len(), 8);
    assert_eq!(JwtType::from("dpop+jwt"), JwtType::Extension("dpop+jwt".into()));
    assert_eq!(serde_json::to_string(&JwtType::Extension("dpop+jwt".into())).unwrap(), "\"dpop+jwt\"");
}

/// Prints a token we sign, with its key, for the manual check with `jose`
/// (testdata/jws/README.md).
#[test]
#[ignore = "manual: feeds testdata/jws/verify-ours.mjs"]
fn print_for_jose() {
    let pair = DeviceKeyPair::generate().unwrap();
    let claims = serde_json::from_str::<Value>(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/device/examples/decision-claims.json"))
            .unwrap(),
    )
    .unwrap();
    let jws =
        pair.sign(&SignHeader { typ: Some(JwtType::Decision), kid: Some("dev_Qm3vT8sLw2".into()) }, &claims).unwrap();
    println!("{}", json!({"jwk": pair.public_jwk(), "jws": jws, "payload": claims}));
}
