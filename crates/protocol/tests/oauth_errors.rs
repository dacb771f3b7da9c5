//! OAuth error codes against testdata/oauth_errors.json, and the error bodies.

use countersign_protocol::error::{
    is_nqschar, sanitize_description, Endpoint, ErrorCode, ErrorResponse, IllegalCharacter, NotAPushError,
    PushErrorResponse,
};
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::secret::AuthReqId;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/oauth_errors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_code_matches_the_vectors() {
    let v = vectors();
    let endpoints: Vec<&str> = v["endpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(endpoints, Endpoint::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>());
    let codes = v["codes"].as_array().unwrap();
    assert_eq!(codes.len(), ErrorCode::ALL.len());
    let mut seen = BTreeSet::new();
    for entry in codes {
        let wire = entry["code"].as_str().unwrap();
        assert!(seen.insert(wire), "{wire} twice in the vectors");
        let code: ErrorCode = wire.parse().unwrap();
        assert!(ErrorCode::ALL.contains(&code), "{wire} not in ALL");
        assert!(!matches!(code, ErrorCode::Extension(_)), "{wire}");
        assert_eq!(code.as_str(), wire);
        assert_eq!(code.to_string(), wire);
        assert_eq!(code.spec(), entry["spec"].as_str(), "{wire}");
        // serde: a plain string both ways
        assert_eq!(serde_json::to_value(&code).unwrap(), json!(wire));
        assert_eq!(serde_json::from_value::<ErrorCode>(json!(wire)).unwrap(), code);
        for &endpoint in Endpoint::ALL {
            let expected = entry["status_at"][endpoint.as_str()].as_u64().or(entry["status"].as_u64()).unwrap();
            assert_eq!(u64::from(code.http_status(endpoint)), expected, "{wire} at {endpoint:?}");
        }
        assert_eq!(code.is_push_error(), entry["push"].as_bool().unwrap_or(false), "{wire}");
    }
}

#[test]
fn extension_codes() {
    let c: ErrorCode = "use_dpop_nonce".parse().unwrap();
    assert_eq!(c, ErrorCode::Extension("use_dpop_nonce".into()));
    assert_eq!(c.spec(), None);
    assert_eq!(c.http_status(Endpoint::Token), 400);
    assert_eq!(serde_json::to_string(&c).unwrap(), r#""use_dpop_nonce""#);
    // A registered code never becomes an extension.
    assert_eq!(ErrorCode::extension("slow_down").unwrap(), ErrorCode::SlowDown);
    assert_eq!("".parse::<ErrorCode>(), Err(IllegalCharacter::Empty { field: "error" }));
    assert_eq!("bad\"code".parse::<ErrorCode>(), Err(IllegalCharacter::Char { field: "error", ch: '"', index: 3 }));
    assert!("caf\u{e9}".parse::<ErrorCode>().is_err());
    assert!(serde_json::from_str::<ErrorCode>(r#""a\\b""#).is_err());
    // An illegal hand-built extension cannot be sent.
    assert!(serde_json::to_string(&ErrorCode::Extension("a\nb".into())).is_err());
    assert!(serde_json::to_string(&ErrorCode::Extension(String::new())).is_err());
}

#[test]
fn rfc_6749_5_2_character_set() {
    for b in 0u8..=0x7f {
        let c = char::from(b);
        let legal = (0x20..=0x7e).contains(&b) && c != '"' && c != '\\';
        assert_eq!(is_nqschar(c), legal, "{b:#x}");
    }
    assert!(!is_nqschar('\u{e9}'));
    // Lossless: what is not allowed is written <U+XXXX> (issue: `?` misstated
    // the text), the escapes of countersign_text too.
    assert_eq!(
        sanitize_description("say \"hi\"\\ \tnow\r\n\u{202e}\u{e9}\0!"),
        "say 'hi'<U+005C> <U+0009>now<U+000D><U+000A><U+202E><U+00E9><U+0000>!"
    );
    assert_eq!(sanitize_description("a\\u{202E}b\\\\c\\td"), "a<U+202E>b<U+005C>c<U+0009>d");
    assert_eq!(sanitize_description("+/-(2^53-1)"), "+/-(2^53-1)");
    // Bounded: a description never echoes unbounded input.
    let long = sanitize_description(&"k".repeat(100_000));
    assert!(long.len() < 1100 && long.ends_with("... (cut: 100000 characters in all)"), "{}", long.len());
    let wide = sanitize_description(&"\u{202E}".repeat(100_000));
    assert!(wide.len() < 1100 && wide.ends_with("(cut: 100000 characters in all)"), "{}", wide.len());
}

#[test]
fn error_response_wire_and_description_rules() {
    let e = ErrorResponse::new(ErrorCode::InvalidRequest);
    assert_eq!(serde_json::to_value(&e).unwrap(), json!({"error": "invalid_request"}));
    let e = ErrorResponse::new(ErrorCode::AccessDenied)
        .with_description("User said \"no\"\n")
        .with_uri("https://example.com/errors#access_denied")
        .unwrap();
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"error":"access_denied","error_description":"User said 'no'<U+000A>","error_uri":"https://example.com/errors#access_denied"}"#
    );
    assert_eq!(e.error(), &ErrorCode::AccessDenied);
    assert_eq!(e.error_description(), Some("User said 'no'<U+000A>"));
    assert_eq!(e.error_uri(), Some("https://example.com/errors#access_denied"));
    assert_eq!(e.http_status(Endpoint::BackchannelAuthentication), 403);
    assert_eq!(e.http_status(Endpoint::Token), 400);
    assert_eq!(e.to_string(), "access_denied: User said 'no'<U+000A>");
    assert_eq!(ErrorResponse::from(ErrorCode::SlowDown).to_string(), "slow_down");

    assert_eq!(ErrorResponse::new(ErrorCode::InvalidRequest).with_description("").error_description(), None);
    assert_eq!(
        ErrorResponse::new(ErrorCode::InvalidRequest).try_with_description("tab\there"),
        Err(IllegalCharacter::Char { field: "error_description", ch: '\t', index: 3 })
    );
    assert_eq!(
        ErrorResponse::new(ErrorCode::InvalidRequest).try_with_description(""),
        Err(IllegalCharacter::Empty { field: "error_description" })
    );
    let ok = ErrorResponse::new(ErrorCode::InvalidRequest).try_with_description("duplicate parameter: scope").unwrap();
    assert_eq!(ok.error_description(), Some("duplicate parameter: scope"));
    assert!(matches!(
        ErrorResponse::new(ErrorCode::InvalidRequest).with_uri("https://a.example/x y"),
        Err(IllegalCharacter::Char { ch: ' ', .. })
    ));
    assert!(ErrorResponse::new(ErrorCode::InvalidRequest).with_uri("").is_err());
}

#[test]
fn error_response_deserialize() {
    // CIBA Core §11 style body.
    let e: ErrorResponse = serde_json::from_str(
        r#"{"error":"authorization_pending","error_description":"The authorization request is still pending as the end-user hasn't yet been authenticated."}"#,
    )
    .unwrap();
    assert_eq!(e.error(), &ErrorCode::AuthorizationPending);
    // Non-ASCII descriptions from other servers are sanitized, not refused.
    let e: ErrorResponse =
        serde_json::from_str(r#"{"error":"access_denied","error_description":"refus\u00e9"}"#).unwrap();
    assert_eq!(e.error_description(), Some("refus<U+00E9>"));
    let e: ErrorResponse = serde_json::from_str(r#"{"error":"x_custom"}"#).unwrap();
    assert_eq!(e.error(), &ErrorCode::Extension("x_custom".into()));
    assert!(serde_json::from_str::<ErrorResponse>(r#"{"error_description":"x"}"#).is_err());
    assert!(serde_json::from_str::<ErrorResponse>(r#"{"error":"invalid_request","error_uri":"has space"}"#).is_err());
    assert!(serde_json::from_str::<ErrorResponse>(r#"{"error":""}"#).is_err());
}

#[test]
fn rar_errors_become_invalid_authorization_details() {
    let err = AuthorizationDetails::from_param(r#"[{"type":"t","actions":"read"}]"#).unwrap_err();
    let resp = ErrorResponse::from(err);
    assert_eq!(resp.error(), &ErrorCode::InvalidAuthorizationDetails);
    assert_eq!(resp.error_description(), Some("authorization_details[0]: field 'actions' must be an array of strings"));
    assert_eq!(resp.http_status(Endpoint::BackchannelAuthentication), 400);
}

#[test]
fn push_error_payload_ciba_12() {
    let id = AuthReqId::new("1c266114-a1be-4252-8ad1-04986c5b9ac1".into());
    for code in [ErrorCode::AccessDenied, ErrorCode::ExpiredToken, ErrorCode::TransactionFailed] {
        PushErrorResponse::new(code, id.clone()).unwrap();
    }
    for code in ErrorCode::ALL.iter().filter(|c| !c.is_push_error()).chain([&ErrorCode::Extension("x".into())]) {
        assert_eq!(PushErrorResponse::new(code.clone(), id.clone()), Err(NotAPushError(code.clone())));
    }
    // CIBA Core §12 example body.
    let text = r#"{"error":"access_denied","error_description":"The end-user denied the authorization request.","auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1"}"#;
    let p: PushErrorResponse = serde_json::from_str(text).unwrap();
    assert_eq!(p.error(), &ErrorCode::AccessDenied);
    assert_eq!(p.error_description(), Some("The end-user denied the authorization request."));
    assert!(p.auth_req_id().ct_eq(&id));
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
    let built = PushErrorResponse::new(ErrorCode::AccessDenied, id.clone())
        .unwrap()
        .with_description("The end-user denied the authorization request.");
    assert_eq!(built, p);
    assert!(!format!("{p:?}").contains("1c266114"));
    assert!(serde_json::from_str::<PushErrorResponse>(r#"{"error":"invalid_grant","auth_req_id":"x"}"#).is_err());
    assert!(serde_json::from_str::<PushErrorResponse>(r#"{"error":"access_denied"}"#).is_err());
    assert_eq!(
        serde_json::to_string(&PushErrorResponse::new(ErrorCode::ExpiredToken, id).unwrap()).unwrap(),
        r#"{"error":"expired_token","auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1"}"#
    );
}
