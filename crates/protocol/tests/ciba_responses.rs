//! CIBA Core JSON messages: §7.3 acknowledgement, §10.1.1 token response,
//! §10.2 ping, §10.3.1 push, §12 push error; RFC 9396 §7 token response.

use countersign_protocol::ciba::{
    BackchannelAuthenticationResponse, PingCallback, PushCallback, PushSuccessCallback, TokenResponse, TokenType,
    DEFAULT_INTERVAL,
};
use countersign_protocol::error::ErrorCode;
use countersign_protocol::secret::AuthReqId;
use serde_json::Value;

const AUTH_REQ_ID: &str = "1c266114-a1be-4252-8ad1-04986c5b9ac1";
const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjE2NzcyNiJ9.eyJpc3MiOiJodHRwczovL3NlcnZlci5leGFtcGxlLmNvbSJ9.c2ln";

fn same_json(a: &str, b: &str) {
    let (a, b): (Value, Value) = (serde_json::from_str(a).unwrap(), serde_json::from_str(b).unwrap());
    assert_eq!(a, b);
}

#[test]
fn acknowledgement_section_7_3() {
    let text = r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","expires_in":120,"interval":2}"#;
    let r: BackchannelAuthenticationResponse = serde_json::from_str(text).unwrap();
    assert_eq!(r.auth_req_id.secret(), AUTH_REQ_ID);
    assert_eq!(r.expires_in, 120);
    assert_eq!(r.interval, Some(2));
    assert_eq!(serde_json::to_string(&r).unwrap(), text);

    let no_interval = r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","expires_in":120}"#;
    let r: BackchannelAuthenticationResponse = serde_json::from_str(no_interval).unwrap();
    assert_eq!(r.interval, None);
    assert_eq!(r.interval.unwrap_or(DEFAULT_INTERVAL), 5);
    assert_eq!(serde_json::to_string(&r).unwrap(), no_interval);
    assert!(!format!("{r:?}").contains("1c266114"));

    for bad in [
        r#"{"expires_in":120}"#,
        r#"{"auth_req_id":"x"}"#,
        r#"{"auth_req_id":"x","expires_in":-1}"#,
        r#"{"auth_req_id":"x","expires_in":"120"}"#,
    ] {
        assert!(serde_json::from_str::<BackchannelAuthenticationResponse>(bad).is_err(), "{bad}");
    }
}

/// Modelled on the CIBA Core §10.1.1 example (complete ID token instead of the
/// spec's elided one).
fn section_10_1_1() -> String {
    format!(
        r#"{{"access_token":"G5kXH2wHvUra0sHlDy1iTkDJgsgUO1bAE1rrBGinD3eI","token_type":"Bearer","refresh_token":"4bwc0ESC_IAhflf-ACC_vjD_ltc11ne-8gFPfA2Kx16","expires_in":120,"id_token":"{ID_TOKEN}"}}"#
    )
}

#[test]
fn token_response_section_10_1_1() {
    let text = section_10_1_1();
    let t: TokenResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(t.access_token.secret(), "G5kXH2wHvUra0sHlDy1iTkDJgsgUO1bAE1rrBGinD3eI");
    assert_eq!(t.token_type, TokenType::Bearer);
    assert_eq!(t.refresh_token.as_ref().unwrap().secret(), "4bwc0ESC_IAhflf-ACC_vjD_ltc11ne-8gFPfA2Kx16");
    assert_eq!(t.expires_in, 120);
    assert_eq!(t.id_token.as_ref().unwrap().as_str(), ID_TOKEN);
    assert_eq!(t.scope, None);
    assert_eq!(serde_json::to_string(&t).unwrap(), text);
    let debug = format!("{t:?}");
    assert!(!debug.contains("G5kXH2") && !debug.contains("4bwc0E") && !debug.contains("eyJ"), "{debug}");

    // token_type is case-insensitive on input.
    let lower = text.replace("\"Bearer\"", "\"bearer\"");
    assert_eq!(serde_json::from_str::<TokenResponse>(&lower).unwrap().token_type, TokenType::Bearer);
    // Scope, when present, is validated.
    let with_scope = text.replace("\"expires_in\":120", "\"expires_in\":120,\"scope\":\"openid trade\"");
    let t2: TokenResponse = serde_json::from_str(&with_scope).unwrap();
    assert!(t2.scope.unwrap().contains("trade"));
    assert!(serde_json::from_str::<TokenResponse>(
        &text.replace("\"expires_in\":120", "\"expires_in\":120,\"scope\":\"\"")
    )
    .is_err());
    assert!(serde_json::from_str::<TokenResponse>(&text.replace(ID_TOKEN, "not-a-jwt")).is_err());
    assert!(serde_json::from_str::<TokenResponse>(r#"{"token_type":"Bearer","expires_in":1}"#).is_err());
}

#[test]
fn token_response_rfc_9396_section_7() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rar/");
    let text = std::fs::read_to_string(format!("{dir}s7_token_response.json")).unwrap();
    let t: TokenResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(t.token_type, TokenType::Extension("example".into()));
    let details = t.authorization_details.as_ref().unwrap();
    assert_eq!(details.as_slice()[0].r#type(), "payment_initiation");
    let out = serde_json::to_string(&t).unwrap();
    same_json(&out, &text);
    // The details keep their member order byte for byte.
    let array = std::fs::read_to_string(format!("{dir}s2_payment_initiation.json")).unwrap();
    let minified: String = serde_json::to_string(&serde_json::from_str::<Value>(&array).unwrap()).unwrap();
    assert!(out.contains(&minified), "{out}");
    // Invalid details make the whole response invalid.
    let bad = text.replace("\"type\": \"payment_initiation\"", "\"type\": \"\"");
    assert!(serde_json::from_str::<TokenResponse>(&bad).is_err());
}

#[test]
fn ping_callback_section_10_2() {
    let text = r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1"}"#;
    let p: PingCallback = serde_json::from_str(text).unwrap();
    assert_eq!(p.auth_req_id.secret(), AUTH_REQ_ID);
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
    assert!(serde_json::from_str::<PingCallback>(r#"{"auth_req_id":"x","access_token":"y"}"#).is_err());
    assert!(serde_json::from_str::<PingCallback>("{}").is_err());
}

#[test]
fn push_callbacks_section_10_3_1_and_12() {
    let token = section_10_1_1();
    let text = format!(r#"{{"auth_req_id":"{AUTH_REQ_ID}",{}"#, &token[1..]);
    let p: PushSuccessCallback = serde_json::from_str(&text).unwrap();
    assert_eq!(p.auth_req_id.secret(), AUTH_REQ_ID);
    assert_eq!(p.token.expires_in, 120);
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
    assert!(serde_json::from_str::<PushSuccessCallback>(&token).is_err(), "auth_req_id is required");

    let cb = PushCallback::from_json(&text).unwrap();
    assert!(matches!(&cb, PushCallback::Success(s) if s.token.token_type == TokenType::Bearer));
    assert_eq!(cb.auth_req_id().secret(), AUTH_REQ_ID);
    assert_eq!(serde_json::to_string(&cb).unwrap(), text);

    let err = r#"{"error":"transaction_failed","error_description":"The OP could not reach the authentication device.","auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1"}"#;
    let cb = PushCallback::from_json(err).unwrap();
    let PushCallback::Error(e) = &cb else { panic!("expected an error") };
    assert_eq!(e.error(), &ErrorCode::TransactionFailed);
    assert!(cb.auth_req_id().ct_eq(&AuthReqId::new(AUTH_REQ_ID.into())));
    assert_eq!(serde_json::to_string(&cb).unwrap(), err);

    // §12 allows only three codes; a token-endpoint code is refused.
    assert!(PushCallback::from_json(r#"{"error":"authorization_pending","auth_req_id":"x"}"#).is_err());
    assert!(PushCallback::from_json("[]").is_err());
    assert!(PushCallback::from_json(r#"{"auth_req_id":"x"}"#).is_err());
}
