//! Device authentication proof.

use countersign_protocol::device::auth::{normalize_htu, MAX_CLOCK_SKEW_SECS, MAX_PROOF_LIFETIME_SECS};
use countersign_protocol::device::{
    verify_device_auth, DeviceAuthClaims, DeviceAuthError, DeviceId, HttpMethod, Issuer,
};
use countersign_protocol::jws::{DeviceKeyPair, JwsError, JwtType, PublicJwk, SignHeader};
use serde_json::{json, Value};

#[macro_use]
mod common;

const NOW: u64 = 1_767_225_620;
const URL: &str = "https://auth.example.com/device/v1/requests";

fn issuer() -> Issuer {
    Issuer::new("https://auth.example.com").unwrap()
}
fn dev() -> DeviceId {
    DeviceId::new("dev_Qm3vT8sLw2").unwrap()
}
fn example() -> DeviceAuthClaims {
    common::example("device-auth-claims.json")
}
fn validate(c: &DeviceAuthClaims) -> Result<(), DeviceAuthError> {
    c.validate(NOW, &issuer(), &HttpMethod::Get, URL)
}

#[test]
fn example_claims_are_valid() {
    assert_eq!(validate(&example()), Ok(()));
}

#[test]
fn jose_made_proof_verifies() {
    let jws = common::device_file("examples/device-auth.jws");
    let key: PublicJwk =
        serde_json::from_value(common::example::<Value>("enrollment-request.json")["public_jwk"].clone()).unwrap();
    let claims = verify_device_auth(jws.trim(), &key, &dev(), NOW, &issuer(), &HttpMethod::Get, URL).unwrap();
    assert_eq!(claims, example());
    // The same proof for another URL, method or device is refused.
    assert!(matches!(
        verify_device_auth(jws.trim(), &key, &dev(), NOW, &issuer(), &HttpMethod::Post, URL),
        Err(DeviceAuthError::Method { .. })
    ));
    assert_eq!(
        verify_device_auth(
            jws.trim(),
            &key,
            &DeviceId::new("dev_other").unwrap(),
            NOW,
            &issuer(),
            &HttpMethod::Get,
            URL
        ),
        Err(DeviceAuthError::Kid)
    );
}

#[test]
fn query_of_the_request_url_is_ignored() {
    let c = example();
    assert_eq!(c.validate(NOW, &issuer(), &HttpMethod::Get, &format!("{URL}?status=pending")), Ok(()));
}

#[test]
fn htu_comparison_normalizes_case_and_default_port() {
    assert_eq!(normalize_htu("HTTPS://Auth.Example.com:443/device/v1/requests?x#y").unwrap(), URL);
    let mut c = example();
    c.htu = "https://AUTH.example.com:443/device/v1/requests".into();
    assert_eq!(validate(&c), Ok(()));
}

changed_claims! { example, validate;
    refuses_other_audience:
        |c| c.aud = Issuer::new("https://other.example.com").unwrap() => matches Err(DeviceAuthError::Audience { .. }),
    refuses_other_method:
        |c| c.htm = HttpMethod::Post => Err(DeviceAuthError::Method { expected: "GET".into(), found: "POST".into() }),
    refuses_other_url:
        |c| c.htu = "https://auth.example.com/device/v1/requests/req_1".into() => matches Err(DeviceAuthError::Htu { .. }),
    refuses_htu_with_query: |c| c.htu = format!("{URL}?status=pending") => Err(DeviceAuthError::HtuForm),
    refuses_htu_that_is_not_http:
        |c| c.htu = "ftp://auth.example.com/device/v1/requests".into() => Err(DeviceAuthError::HtuForm),
    refuses_lifetime_over_60_seconds: |c| c.exp = c.iat + MAX_PROOF_LIFETIME_SECS + 1 => Err(DeviceAuthError::Lifetime),
    refuses_exp_not_after_iat: |c| c.exp = c.iat => Err(DeviceAuthError::Lifetime),
    refuses_iat_in_the_future:
        |c| { c.iat = NOW + MAX_CLOCK_SKEW_SECS + 1; c.exp = c.iat + 10; } => Err(DeviceAuthError::NotYetValid),
    accepts_small_clock_skew: |c| { c.iat = NOW + MAX_CLOCK_SKEW_SECS; c.exp = c.iat + 10; } => Ok(()),
}

#[test]
fn refuses_expired() {
    let c = example();
    assert_eq!(c.validate(c.exp, &issuer(), &HttpMethod::Get, URL), Err(DeviceAuthError::Expired));
}

#[test]
fn our_proof_round_trips() {
    let key = DeviceKeyPair::generate().unwrap();
    let c =
        DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Post, &format!("{URL}/req_1/decision?x=1"), NOW).unwrap();
    assert_eq!(c.htu, format!("{URL}/req_1/decision"));
    assert_eq!(c.exp - c.iat, MAX_PROOF_LIFETIME_SECS);
    let jws = c.sign(&key).unwrap();
    let got = verify_device_auth(
        &jws,
        key.public_jwk(),
        &dev(),
        NOW,
        &issuer(),
        &HttpMethod::Post,
        &format!("{URL}/req_1/decision"),
    )
    .unwrap();
    assert_eq!(got, c);
    let c2 = DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Post, URL, NOW).unwrap();
    assert_ne!(c.jti, c2.jti, "jti is random");
}

/// Fresh proof claims of [`dev`] for a GET of [`URL`] at [`NOW`].
fn proof_claims() -> DeviceAuthClaims {
    DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Get, URL, NOW).unwrap()
}

/// `claims` signed by a fresh key with header `typ` and `kid`, verified as
/// the proof of [`dev`] for a GET of [`URL`] at [`NOW`].
fn verify_signed(
    typ: JwtType,
    kid: Option<String>,
    claims: &impl serde::Serialize,
) -> Result<DeviceAuthClaims, DeviceAuthError> {
    let key = DeviceKeyPair::generate().unwrap();
    let jws = key.sign(&SignHeader { typ: Some(typ), kid }, claims).unwrap();
    verify_device_auth(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &HttpMethod::Get, URL)
}

#[test]
fn refuses_iss_other_than_device() {
    let mut c = proof_claims();
    c.iss = DeviceId::new("dev_other").unwrap();
    assert_eq!(verify_signed(JwtType::DeviceAuth, Some(dev().to_string()), &c), Err(DeviceAuthError::Issuer));
}

#[test]
fn refuses_missing_kid() {
    assert_eq!(verify_signed(JwtType::DeviceAuth, None, &proof_claims()), Err(DeviceAuthError::Kid));
}

#[test]
fn refuses_decision_token_as_proof() {
    assert!(matches!(
        verify_signed(JwtType::Decision, Some(dev().to_string()), &proof_claims()),
        Err(DeviceAuthError::Jws(JwsError::TypMismatch { .. }))
    ));
}

#[test]
fn refuses_unknown_claim() {
    let mut v = serde_json::to_value(proof_claims()).unwrap();
    v["scope"] = json!("admin");
    assert!(matches!(
        verify_signed(JwtType::DeviceAuth, Some(dev().to_string()), &v),
        Err(DeviceAuthError::Jws(JwsError::Claims(m))) if m.contains("unknown field `scope`")
    ));
}
