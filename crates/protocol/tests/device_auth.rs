//! Device authentication proof.

use countersign_protocol::device::auth::{normalize_htu, MAX_CLOCK_SKEW_SECS, MAX_PROOF_LIFETIME_SECS};
use countersign_protocol::device::{
    verify_device_auth, DeviceAuthClaims, DeviceAuthError, DeviceId, HttpMethod, Issuer,
};
use countersign_protocol::jws::{DeviceKeyPair, JwsError, JwtType, PublicJwk, SignHeader};
use serde_json::{json, Value};

const NOW: u64 = 1_767_225_620;
const URL: &str = "https://auth.example.com/device/v1/requests";

fn issuer() -> Issuer {
    Issuer::new("https://auth.example.com").unwrap()
}
fn dev() -> DeviceId {
    DeviceId::new("dev_Qm3vT8sLw2").unwrap()
}
fn example() -> DeviceAuthClaims {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/device/examples/device-auth-claims.json"
        ))
        .unwrap(),
    )
    .unwrap()
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
    let jws = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/device/examples/device-auth.jws"))
        .unwrap();
    let key: PublicJwk = serde_json::from_value(
        serde_json::from_str::<Value>(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testdata/device/examples/enrollment-request.json"
            ))
            .unwrap(),
        )
        .unwrap()["public_jwk"]
            .clone(),
    )
    .unwrap();
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

#[test]
fn refuses_other_audience() {
    let mut c = example();
    c.aud = Issuer::new("https://other.example.com").unwrap();
    assert!(matches!(validate(&c), Err(DeviceAuthError::Audience { .. })));
}

#[test]
fn refuses_other_method() {
    let mut c = example();
    c.htm = HttpMethod::Post;
    assert_eq!(validate(&c), Err(DeviceAuthError::Method { expected: "GET".into(), found: "POST".into() }));
}

#[test]
fn refuses_other_url() {
    let mut c = example();
    c.htu = "https://auth.example.com/device/v1/requests/req_1".into();
    assert!(matches!(validate(&c), Err(DeviceAuthError::Htu { .. })));
}

#[test]
fn refuses_htu_with_query() {
    let mut c = example();
    c.htu = format!("{URL}?status=pending");
    assert_eq!(validate(&c), Err(DeviceAuthError::HtuForm));
}

#[test]
fn refuses_htu_that_is_not_http() {
    let mut c = example();
    c.htu = "ftp://auth.example.com/device/v1/requests".into();
    assert_eq!(validate(&c), Err(DeviceAuthError::HtuForm));
}

#[test]
fn refuses_lifetime_over_60_seconds() {
    let mut c = example();
    c.exp = c.iat + MAX_PROOF_LIFETIME_SECS + 1;
    assert_eq!(validate(&c), Err(DeviceAuthError::Lifetime));
}

#[test]
fn refuses_exp_not_after_iat() {
    let mut c = example();
    c.exp = c.iat;
    assert_eq!(validate(&c), Err(DeviceAuthError::Lifetime));
}

#[test]
fn refuses_iat_in_the_future() {
    let mut c = example();
    c.iat = NOW + MAX_CLOCK_SKEW_SECS + 1;
    c.exp = c.iat + 10;
    assert_eq!(validate(&c), Err(DeviceAuthError::NotYetValid));
}

#[test]
fn accepts_small_clock_skew() {
    let mut c = example();
    c.iat = NOW + MAX_CLOCK_SKEW_SECS;
    c.exp = c.iat + 10;
    assert_eq!(validate(&c), Ok(()));
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

#[test]
fn refuses_iss_other_than_device() {
    let key = DeviceKeyPair::generate().unwrap();
    let mut c = DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Get, URL, NOW).unwrap();
    c.iss = DeviceId::new("dev_other").unwrap();
    let jws = key.sign(&SignHeader { typ: Some(JwtType::DeviceAuth), kid: Some(dev().to_string()) }, &c).unwrap();
    assert_eq!(
        verify_device_auth(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &HttpMethod::Get, URL),
        Err(DeviceAuthError::Issuer)
    );
}

#[test]
fn refuses_missing_kid() {
    let key = DeviceKeyPair::generate().unwrap();
    let c = DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Get, URL, NOW).unwrap();
    let jws = key.sign(&SignHeader { typ: Some(JwtType::DeviceAuth), kid: None }, &c).unwrap();
    assert_eq!(
        verify_device_auth(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &HttpMethod::Get, URL),
        Err(DeviceAuthError::Kid)
    );
}

#[test]
fn refuses_decision_token_as_proof() {
    let key = DeviceKeyPair::generate().unwrap();
    let c = DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Get, URL, NOW).unwrap();
    let jws = key.sign(&SignHeader { typ: Some(JwtType::Decision), kid: Some(dev().to_string()) }, &c).unwrap();
    assert!(matches!(
        verify_device_auth(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &HttpMethod::Get, URL),
        Err(DeviceAuthError::Jws(JwsError::TypMismatch { .. }))
    ));
}

#[test]
fn refuses_unknown_claim() {
    let key = DeviceKeyPair::generate().unwrap();
    let c = DeviceAuthClaims::new(dev(), issuer(), HttpMethod::Get, URL, NOW).unwrap();
    let mut v = serde_json::to_value(&c).unwrap();
    v["scope"] = json!("admin");
    let jws = key.sign(&SignHeader { typ: Some(JwtType::DeviceAuth), kid: Some(dev().to_string()) }, &v).unwrap();
    assert!(matches!(
        verify_device_auth(&jws, key.public_jwk(), &dev(), NOW, &issuer(), &HttpMethod::Get, URL),
        Err(DeviceAuthError::Jws(JwsError::Claims(m))) if m.contains("unknown field `scope`")
    ));
}
