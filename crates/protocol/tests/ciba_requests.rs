//! CIBA Core §7.1 backchannel authentication and §10.1 token request forms:
//! parsing, every error path and its OAuth error code, and round trips.

use countersign_protocol::ciba::{
    AcrValues, BackchannelAuthenticationParams, BackchannelAuthenticationRequest, BackchannelRequestBody,
    BindingMessage, BindingMessageError, CibaTokenRequest, ClientAssertionType, ClientAuthParams, GrantType, Hint, Jwt,
    RequestError, Scope, TokenDeliveryMode, TokenListError, TokenType, UserHint, CIBA_GRANT_TYPE,
};
use countersign_protocol::error::{ErrorCode, ErrorResponse};
use countersign_protocol::rar::RarError;
use serde_json::json;

/// A JWS-shaped string (the signature is not checked here).
const JWS: &str =
    "eyJraWQiOiJsdGFjZXNidyIsImFsZyI6IkVTMjU2In0.eyJpc3MiOiJzNkJoZFJrcXQzIn0.Ybr8mg_3E2OptOSsA8rnelYO_y1L";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn parse(list: &[(&str, &str)]) -> Result<BackchannelAuthenticationRequest, RequestError> {
    BackchannelAuthenticationRequest::from_form(pairs(list))
}

fn params(list: &[(&str, &str)]) -> BackchannelAuthenticationParams {
    match parse(list).unwrap().body {
        BackchannelRequestBody::Params(p) => *p,
        BackchannelRequestBody::Signed(_) => panic!("expected params"),
    }
}

fn err(list: &[(&str, &str)]) -> (RequestError, ErrorCode) {
    let e = parse(list).unwrap_err();
    let code = e.error_code();
    (e, code)
}

/// Modelled on the CIBA Core §7.1 example (ping client, `login_hint_token`,
/// `private_key_jwt`).
const SECTION_7_1_BODY: &str = "scope=openid%20email%20example-scope&\
client_notification_token=8d67dc78-7faa-4d41-aabd-67707b374255&\
binding_message=W4SCT&\
login_hint_token=eyJraWQiOiJsdGFjZXNidyIsImFsZyI6IkVTMjU2In0.eyJzdWJfaWQiOnsic3ViamVjdF90eXBlIjoicGhvbmUifX0.Kk8jcUbHjJAQkRSH&\
client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&\
client_assertion=eyJraWQiOiJsdGFjZXNidyIsImFsZyI6IkVTMjU2In0.eyJpc3MiOiJzNkJoZFJrcXQzIn0.Ybr8mg_3E2OptOSsA8rnelYO_y1L";

#[test]
fn section_7_1_example_parses_and_round_trips() {
    let req = BackchannelAuthenticationRequest::from_urlencoded(SECTION_7_1_BODY).unwrap();
    assert_eq!(req.client_auth.client_id, None);
    assert_eq!(req.client_auth.client_assertion_type, Some(ClientAssertionType::JwtBearer));
    assert_eq!(req.client_auth.client_assertion.as_ref().unwrap().as_str(), JWS);
    let BackchannelRequestBody::Params(p) = &req.body else { panic!() };
    assert_eq!(p.scope.iter().collect::<Vec<_>>(), ["openid", "email", "example-scope"]);
    assert!(p.scope.contains("openid"));
    assert_eq!(p.client_notification_token.as_ref().unwrap().secret(), "8d67dc78-7faa-4d41-aabd-67707b374255");
    assert_eq!(p.binding_message.as_ref().unwrap().as_str(), "W4SCT");
    assert!(matches!(&p.hint, UserHint::LoginHintToken(t) if t.starts_with("eyJraWQi")));
    assert_eq!(p.acr_values, None);
    assert_eq!(p.user_code, None);
    assert_eq!(p.requested_expiry, None);
    assert_eq!(p.authorization_details, None);

    let again = BackchannelAuthenticationRequest::from_urlencoded(&req.to_urlencoded()).unwrap();
    assert_eq!(again, req);
}

#[test]
fn every_parameter_round_trips() {
    let list = [
        ("client_id", "agent-1"),
        ("client_secret", "s3cret"),
        ("scope", "openid trade"),
        ("client_notification_token", "abcDEF012-._~+/=="),
        ("acr_values", "urn:acr:hw urn:acr:pwd"),
        ("login_hint", r#"{"format":"iss_sub","iss":"https://id.example/","sub":"auth0|123"}"#),
        ("binding_message", "Trade 10 ACME #A4F2"),
        ("user_code", "4711"),
        ("requested_expiry", "300"),
        ("authorization_details", r#"[{"type":"trade","z":1,"actions":["buy"],"a":"x"}]"#),
        ("unrelated", "ignored"),
    ];
    let req = parse(&list).unwrap();
    assert_eq!(req.client_auth.client_id.as_deref(), Some("agent-1"));
    assert_eq!(req.client_auth.client_secret.as_ref().unwrap().secret(), "s3cret");
    let BackchannelRequestBody::Params(p) = &req.body else { panic!() };
    assert_eq!(p.acr_values.as_ref().unwrap().iter().collect::<Vec<_>>(), ["urn:acr:hw", "urn:acr:pwd"]);
    assert_eq!(
        p.hint,
        UserHint::LoginHint(Hint::IssSub { iss: "https://id.example/".into(), sub: "auth0|123".into() })
    );
    assert_eq!(p.user_code.as_ref().unwrap().secret(), "4711");
    assert_eq!(p.requested_expiry.map(u64::from), Some(300));
    let ad = p.authorization_details.as_ref().unwrap();
    assert_eq!(ad.raw(), r#"[{"type":"trade","z":1,"actions":["buy"],"a":"x"}]"#);
    assert_eq!(ad.details().as_slice()[0].actions().unwrap(), ["buy"]);

    let form = req.to_form();
    let names: Vec<&str> = form.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "client_secret",
            "scope",
            "client_notification_token",
            "acr_values",
            "login_hint",
            "binding_message",
            "user_code",
            "requested_expiry",
            "authorization_details"
        ]
    );
    // What is sent is what was received, value for value.
    for (k, v) in &form {
        let original = list.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(v, original, "{k}");
    }
    assert_eq!(BackchannelAuthenticationRequest::from_urlencoded(&req.to_urlencoded()).unwrap(), req);
    // Debug never shows secrets.
    let debug = format!("{req:?}");
    for secret in ["s3cret", "abcDEF012", "4711"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn rfc_9396_section_3_encoded_parameter_in_a_ciba_request() {
    let encoded =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rar/s3_form_encoded.txt")).unwrap();
    let body = format!("scope=openid&login_hint=alice%40example.com&{}", encoded.trim());
    let req = BackchannelAuthenticationRequest::from_urlencoded(&body).unwrap();
    let BackchannelRequestBody::Params(p) = &req.body else { panic!() };
    assert_eq!(p.hint, UserHint::LoginHint(Hint::Plain("alice@example.com".into())));
    let ad = p.authorization_details.as_ref().unwrap();
    assert!(ad.raw().starts_with(r#"[{"type":"account_information","actions":["list_accounts""#));
    assert_eq!(ad.details().types().collect::<Vec<_>>(), ["account_information", "payment_initiation"]);
    assert_eq!(ad.details().to_param(), ad.raw());
}

#[test]
fn duplicates_are_refused_rfc_6749_3_1() {
    let base = [("scope", "openid"), ("login_hint", "alice")];
    for name in [
        "scope",
        "client_notification_token",
        "acr_values",
        "login_hint_token",
        "id_token_hint",
        "login_hint",
        "binding_message",
        "user_code",
        "requested_expiry",
        "authorization_details",
        "request",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    ] {
        let mut list = base.to_vec();
        list.push((name, "x"));
        list.push((name, "x"));
        let (e, code) = err(&list);
        assert_eq!(e, RequestError::Duplicate(name));
        assert_eq!(code, ErrorCode::InvalidRequest);
        // Even with empty values.
        let mut list = base.to_vec();
        list.push((name, ""));
        list.push((name, ""));
        assert_eq!(err(&list).0, RequestError::Duplicate(name));
    }
    // Unrecognised parameters are ignored, repeats included (RFC 8707 `resource`).
    params(&[("scope", "openid"), ("login_hint", "a"), ("resource", "https://a"), ("resource", "https://b")]);
}

#[test]
fn empty_values_count_as_omitted() {
    let p = params(&[("scope", "openid"), ("login_hint", ""), ("id_token_hint", ""), ("login_hint_token", "t")]);
    assert_eq!(p.hint, UserHint::LoginHintToken("t".into()));
    let p = params(&[("scope", "openid"), ("login_hint", "a"), ("binding_message", ""), ("requested_expiry", "")]);
    assert_eq!(p.binding_message, None);
    assert_eq!(p.requested_expiry, None);
    assert_eq!(err(&[("scope", ""), ("login_hint", "a")]), (RequestError::Missing("scope"), ErrorCode::InvalidRequest));
}

#[test]
fn scope_errors() {
    assert_eq!(err(&[("login_hint", "a")]), (RequestError::Missing("scope"), ErrorCode::InvalidRequest));
    for (bad, why) in [
        ("openid  email", TokenListError::EmptyToken(7)),
        (" openid", TokenListError::EmptyToken(0)),
        ("openid ", TokenListError::EmptyToken(7)),
        ("openid e\"mail", TokenListError::IllegalChar { ch: '"', index: 8 }),
        ("openid caf\u{e9}", TokenListError::IllegalChar { ch: '\u{e9}', index: 10 }),
        ("openid\temail", TokenListError::IllegalChar { ch: '\t', index: 6 }),
        ("a\\b", TokenListError::IllegalChar { ch: '\\', index: 1 }),
    ] {
        let (e, code) = err(&[("scope", bad), ("login_hint", "a")]);
        assert_eq!(e, RequestError::Invalid { param: "scope", reason: why.to_string() }, "{bad:?}");
        assert_eq!(code, ErrorCode::InvalidScope);
    }
}

#[test]
fn hint_rules_ciba_7_1() {
    assert_eq!(err(&[("scope", "openid")]), (RequestError::NoHint, ErrorCode::InvalidRequest));
    let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("login_hint_token", "t")]);
    assert_eq!(e, RequestError::SeveralHints(vec!["login_hint_token", "login_hint"]));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert_eq!(
        e.to_string(),
        "exactly one of login_hint_token, id_token_hint, login_hint is allowed, got login_hint_token, login_hint"
    );
    let (e, _) = err(&[("scope", "openid"), ("id_token_hint", JWS), ("login_hint", "a"), ("login_hint_token", "t")]);
    assert_eq!(e, RequestError::SeveralHints(vec!["login_hint_token", "id_token_hint", "login_hint"]));

    let p = params(&[("scope", "openid"), ("id_token_hint", JWS)]);
    assert_eq!(p.hint, UserHint::IdTokenHint(Jwt::new(JWS).unwrap()));
    let (e, code) = err(&[("scope", "openid"), ("id_token_hint", "not-a-jwt")]);
    assert!(matches!(e, RequestError::Invalid { param: "id_token_hint", .. }));
    assert_eq!(code, ErrorCode::InvalidRequest);
}

#[test]
fn login_hint_forms() {
    assert_eq!(Hint::parse("alice@example.com"), Ok(Hint::Plain("alice@example.com".into())));
    let h = Hint::parse(r#" {"format":"iss_sub","iss":"https://t.auth0.com/","sub":"auth0|1"}"#).unwrap();
    assert_eq!(h, Hint::IssSub { iss: "https://t.auth0.com/".into(), sub: "auth0|1".into() });
    assert_eq!(h.to_param(), r#"{"format":"iss_sub","iss":"https://t.auth0.com/","sub":"auth0|1"}"#);
    assert_eq!(Hint::parse(&h.to_param()), Ok(h));
    for bad in [
        r#"{"format":"email","iss":"i","sub":"s"}"#,
        r#"{"format":"iss_sub","iss":"i"}"#,
        r#"{"format":"iss_sub","iss":"i","sub":"s","extra":1}"#,
        r#"{"format":"iss_sub","iss":"i","sub":"s","sub":"t"}"#,
        r#"{"format":"iss_sub","iss":"","sub":"s"}"#,
        r#"{"format":"iss_sub","iss":"i","sub":5}"#,
        r#"{"format":"iss_sub""#,
        "",
    ] {
        assert!(Hint::parse(bad).is_err(), "{bad}");
    }
    let (e, code) = err(&[("scope", "openid"), ("login_hint", r#"{"format":"phone"}"#)]);
    assert!(matches!(e, RequestError::Invalid { param: "login_hint", .. }), "{e}");
    assert_eq!(code, ErrorCode::InvalidRequest);
}

#[test]
fn binding_message_rules() {
    assert!(BindingMessage::new("Café order 42: €12,50").is_ok());
    assert_eq!(BindingMessage::new(""), Err(BindingMessageError::Empty));
    for (bad, ch, index) in
        [("a\nb", '\n', 1), ("ab\u{202E}cd", '\u{202E}', 2), ("x\u{200B}", '\u{200B}', 1), ("\u{7f}", '\u{7f}', 0)]
    {
        assert_eq!(BindingMessage::new(bad), Err(BindingMessageError::Char { ch, index }), "{bad:?}");
        let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("binding_message", bad)]);
        assert!(matches!(e, RequestError::Invalid { param: "binding_message", .. }));
        assert_eq!(code, ErrorCode::InvalidBindingMessage);
    }
    assert_eq!(
        BindingMessage::new("a\u{202E}").unwrap_err().to_string(),
        "character U+202E at byte 1 is not plain text"
    );
    assert_eq!(serde_json::from_str::<BindingMessage>(r#""W4SCT""#).unwrap().as_str(), "W4SCT");
    assert!(serde_json::from_str::<BindingMessage>(r#""a\u0000""#).is_err());
}

#[test]
fn requested_expiry_is_a_strict_positive_integer() {
    for ok in ["1", "120", "259200", "18446744073709551615"] {
        let p = params(&[("scope", "openid"), ("login_hint", "a"), ("requested_expiry", ok)]);
        assert_eq!(p.requested_expiry.unwrap().to_string(), ok);
    }
    for bad in ["0", "-1", "+5", "012", "1.5", " 5", "5 ", "1e3", "abc", "18446744073709551616"] {
        let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("requested_expiry", bad)]);
        assert_eq!(
            e,
            RequestError::Invalid { param: "requested_expiry", reason: "must be a positive integer (seconds)".into() },
            "{bad:?}"
        );
        assert_eq!(code, ErrorCode::InvalidRequest);
    }
}

#[test]
fn client_notification_token_syntax() {
    let max = "a".repeat(1024);
    params(&[("scope", "openid"), ("login_hint", "a"), ("client_notification_token", &max)]);
    let long = "a".repeat(1025);
    for bad in [long.as_str(), "has space", "a=b", "====", "é"] {
        let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("client_notification_token", bad)]);
        assert!(matches!(e, RequestError::Invalid { param: "client_notification_token", .. }), "{bad}");
        assert_eq!(code, ErrorCode::InvalidRequest);
    }
}

#[test]
fn acr_values_and_authorization_details_errors() {
    let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("acr_values", "a  b")]);
    assert!(matches!(e, RequestError::Invalid { param: "acr_values", .. }));
    assert_eq!(code, ErrorCode::InvalidRequest);

    let (e, code) = err(&[
        ("scope", "openid"),
        ("login_hint", "a"),
        ("authorization_details", r#"[{"type":"t","actions":"buy"}]"#),
    ]);
    assert_eq!(code, ErrorCode::InvalidAuthorizationDetails);
    assert!(matches!(e, RequestError::AuthorizationDetails(RarError::Element { index: 0, .. })));
    let resp = ErrorResponse::from(e);
    assert_eq!(resp.error(), &ErrorCode::InvalidAuthorizationDetails);
    assert_eq!(resp.error_description(), Some("authorization_details[0]: field 'actions' must be an array of strings"));
    let (e, _) = err(&[("scope", "openid"), ("login_hint", "a"), ("authorization_details", "{}")]);
    assert_eq!(e, RequestError::AuthorizationDetails(RarError::NotArray));
}

#[test]
fn signed_request_object_ciba_7_1_1() {
    let req = parse(&[("client_id", "agent-1"), ("request", JWS)]).unwrap();
    assert_eq!(req.body, BackchannelRequestBody::Signed(Jwt::new(JWS).unwrap()));
    assert_eq!(req.client_auth.client_id.as_deref(), Some("agent-1"));
    assert_eq!(BackchannelAuthenticationRequest::from_urlencoded(&req.to_urlencoded()).unwrap(), req);
    // Client authentication may sit next to it.
    parse(&[("request", JWS), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", JWS)]).unwrap();
    // Empty authentication parameters next to it count as omitted.
    parse(&[("request", JWS), ("scope", "")]).unwrap();

    let (e, code) = err(&[("request", JWS), ("scope", "openid"), ("binding_message", "x")]);
    assert_eq!(e, RequestError::OutsideRequestObject(vec!["scope", "binding_message"]));
    assert_eq!(code, ErrorCode::InvalidRequest);

    for bad in ["a.b.", "a.b", "a.b.c.d", "a.b.c!", "..c", "h.k.iv.ct.tag"] {
        let (e, code) = err(&[("request", bad)]);
        assert!(matches!(e, RequestError::Invalid { param: "request", .. }), "{bad}");
        assert_eq!(code, ErrorCode::InvalidRequestObject, "{bad}");
    }
}

#[test]
fn request_object_claims() {
    let claims = json!({
        "iss": "agent-1", "aud": "https://as.example", "exp": 1, "iat": 0, "nbf": 0, "jti": "j",
        "scope": "openid trade",
        "login_hint": "alice",
        "binding_message": "A4F2",
        "requested_expiry": 120,
        "client_notification_token": "tok",
        "user_code": "",
        "acr_values": null,
        "authorization_details": [{"type": "trade", "z": 1, "actions": ["buy"]}]
    });
    let p = BackchannelAuthenticationParams::from_request_object(claims.as_object().unwrap()).unwrap();
    assert_eq!(p.scope.to_param(), "openid trade");
    assert_eq!(p.hint, UserHint::LoginHint(Hint::Plain("alice".into())));
    assert_eq!(p.requested_expiry.map(u64::from), Some(120));
    assert_eq!(p.user_code, None);
    assert_eq!(p.acr_values, None);
    assert_eq!(p.authorization_details.unwrap().raw(), r#"[{"type":"trade","z":1,"actions":["buy"]}]"#);

    let mut claims = json!({"scope": "openid", "login_hint": "a", "requested_expiry": "60"});
    let p = BackchannelAuthenticationParams::from_request_object(claims.as_object().unwrap()).unwrap();
    assert_eq!(p.requested_expiry.map(u64::from), Some(60));
    for (claim, value, expected) in [
        ("requested_expiry", json!(true), "a number or a string"),
        ("authorization_details", json!("[{\"type\":\"t\"}]"), "a JSON array"),
        ("binding_message", json!(5), "a string"),
        ("scope", json!(["openid"]), "a string"),
    ] {
        claims["login_hint"] = json!("a");
        let mut c = claims.clone();
        c[claim] = value;
        let e = BackchannelAuthenticationParams::from_request_object(c.as_object().unwrap()).unwrap_err();
        let name = ["requested_expiry", "authorization_details", "binding_message", "scope"]
            .into_iter()
            .find(|n| *n == claim)
            .unwrap();
        assert_eq!(e, RequestError::ClaimType { claim: name, expected });
        assert_eq!(e.error_code(), ErrorCode::InvalidRequestObject);
    }
    for bad in [json!(0), json!(-5), json!(1.5)] {
        let mut c = claims.clone();
        c["requested_expiry"] = bad;
        let e = BackchannelAuthenticationParams::from_request_object(c.as_object().unwrap()).unwrap_err();
        assert!(matches!(e, RequestError::Invalid { param: "requested_expiry", .. }));
    }
    let e = BackchannelAuthenticationParams::from_request_object(json!({"scope": "openid"}).as_object().unwrap())
        .unwrap_err();
    assert_eq!(e, RequestError::NoHint);
}

#[test]
fn client_authentication_params() {
    let base = [("scope", "openid"), ("login_hint", "a")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut l = base.to_vec();
        l.extend_from_slice(extra);
        err(&l)
    };
    assert_eq!(
        with(&[("client_id", "c"), ("client_secret", "s"), ("client_assertion", JWS)]),
        (RequestError::MultipleClientAuth, ErrorCode::InvalidRequest)
    );
    assert_eq!(
        with(&[("client_id", "c"), ("client_secret", "s"), ("client_assertion_type", ASSERTION_TYPE)]).0,
        RequestError::MultipleClientAuth
    );
    assert_eq!(
        with(&[("client_assertion", JWS)]),
        (RequestError::Missing("client_assertion_type"), ErrorCode::InvalidRequest)
    );
    assert_eq!(with(&[("client_assertion_type", ASSERTION_TYPE)]).0, RequestError::Missing("client_assertion"));
    assert_eq!(with(&[("client_secret", "s")]).0, RequestError::Missing("client_id"));
    let (e, code) = with(&[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", "xx")]);
    assert!(matches!(e, RequestError::Invalid { param: "client_assertion", .. }));
    assert_eq!(code, ErrorCode::InvalidClient);

    let c = ClientAuthParams::from_form(pairs(&[("client_assertion_type", "urn:x:other"), ("client_assertion", JWS)]))
        .unwrap();
    assert_eq!(c.client_assertion_type, Some(ClientAssertionType::Extension("urn:x:other".into())));
    let none = ClientAuthParams::from_form(pairs(&[("scope", "x")])).unwrap();
    assert!(none.is_empty());
    assert!(!c.is_empty());
    assert!(!format!("{c:?}").contains("Ybr8mg"));
}

#[test]
fn request_error_becomes_error_response() {
    let (e, _) = err(&[("scope", "openid"), ("scope", "x")]);
    let r = ErrorResponse::from(e);
    assert_eq!(r.error(), &ErrorCode::InvalidRequest);
    assert_eq!(r.error_description(), Some("duplicate parameter: scope (RFC 6749 section 3.1)"));
    let (e, _) = err(&[("scope", "openid caf\u{e9}"), ("login_hint", "a")]);
    let r = ErrorResponse::from(e);
    assert_eq!(r.error(), &ErrorCode::InvalidScope);
    // Non-ASCII in the description is written as its code point (RFC 6749
    // section 5.2 allows ASCII only; a `?` would hide which character it was).
    assert_eq!(r.error_description(), Some("invalid scope: character '<U+00E9>' at byte 10 is not allowed"));
}

// --- §10.1 token request -----------------------------------------------------

/// Modelled on the CIBA Core §10.1 example.
const SECTION_10_1_BODY: &str = "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&\
auth_req_id=1c266114-a1be-4252-8ad1-04986c5b9ac1&\
client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&\
client_assertion=eyJraWQiOiJsdGFjZXNidyIsImFsZyI6IkVTMjU2In0.eyJpc3MiOiJzNkJoZFJrcXQzIn0.Ybr8mg_3E2OptOSsA8rnelYO_y1L";

#[test]
fn ciba_token_request() {
    let t = CibaTokenRequest::from_urlencoded(SECTION_10_1_BODY).unwrap();
    assert_eq!(t.auth_req_id.secret(), "1c266114-a1be-4252-8ad1-04986c5b9ac1");
    assert_eq!(t.client_auth.client_assertion_type, Some(ClientAssertionType::JwtBearer));
    assert_eq!(CibaTokenRequest::GRANT_TYPE.as_str(), CIBA_GRANT_TYPE);
    assert_eq!(t.to_urlencoded(), SECTION_10_1_BODY);
    assert_eq!(CibaTokenRequest::from_urlencoded(&t.to_urlencoded()).unwrap(), t);
    assert!(!format!("{t:?}").contains("1c266114"));

    let tok = |l: &[(&str, &str)]| CibaTokenRequest::from_form(pairs(l)).unwrap_err();
    let e = tok(&[("auth_req_id", "x")]);
    assert_eq!((e.clone(), e.error_code()), (RequestError::Missing("grant_type"), ErrorCode::InvalidRequest));
    let e = tok(&[("grant_type", ""), ("auth_req_id", "x")]);
    assert_eq!(e, RequestError::Missing("grant_type"));
    let e = tok(&[("grant_type", "authorization_code"), ("auth_req_id", "x")]);
    assert_eq!(e, RequestError::UnsupportedGrantType(GrantType::AuthorizationCode));
    assert_eq!(e.error_code(), ErrorCode::UnsupportedGrantType);
    let e = tok(&[("grant_type", CIBA_GRANT_TYPE)]);
    assert_eq!((e.clone(), e.error_code()), (RequestError::Missing("auth_req_id"), ErrorCode::InvalidRequest));
    let e = tok(&[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "x"), ("auth_req_id", "y")]);
    assert_eq!(e, RequestError::Duplicate("auth_req_id"));
    let e = tok(&[("grant_type", CIBA_GRANT_TYPE), ("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "x")]);
    assert_eq!(e, RequestError::Duplicate("grant_type"));
    let e = tok(&[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", "x"), ("client_secret", "s")]);
    assert_eq!(e, RequestError::Missing("client_id"));

    let ok = CibaTokenRequest::from_form(pairs(&[
        ("grant_type", CIBA_GRANT_TYPE),
        ("auth_req_id", "x"),
        ("client_id", "c"),
        ("client_secret", "s"),
    ]))
    .unwrap();
    assert_eq!(ok.client_auth.client_secret.unwrap().secret(), "s");
}

// --- string types -------------------------------------------------------------

#[test]
fn grant_types_and_modes() {
    for (g, wire) in [
        (GrantType::Ciba, "urn:openid:params:grant-type:ciba"),
        (GrantType::AuthorizationCode, "authorization_code"),
        (GrantType::RefreshToken, "refresh_token"),
        (GrantType::ClientCredentials, "client_credentials"),
        (GrantType::DeviceCode, "urn:ietf:params:oauth:grant-type:device_code"),
        (GrantType::TokenExchange, "urn:ietf:params:oauth:grant-type:token-exchange"),
        (GrantType::JwtBearer, "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        (GrantType::Extension("urn:x".into()), "urn:x"),
    ] {
        assert_eq!(g.as_str(), wire);
        assert_eq!(wire.parse::<GrantType>().unwrap(), g);
        assert_eq!(serde_json::to_value(&g).unwrap(), json!(wire));
        assert_eq!(serde_json::from_value::<GrantType>(json!(wire)).unwrap(), g);
    }
    assert!("".parse::<GrantType>().is_err());
    assert_eq!(
        "URN:openid:params:grant-type:ciba".parse::<GrantType>().unwrap().as_str(),
        "URN:openid:params:grant-type:ciba"
    );
    for (m, wire) in
        [(TokenDeliveryMode::Poll, "poll"), (TokenDeliveryMode::Ping, "ping"), (TokenDeliveryMode::Push, "push")]
    {
        assert_eq!(m.to_string(), wire);
        assert_eq!(wire.parse::<TokenDeliveryMode>().unwrap(), m);
    }
    assert_eq!("Poll".parse::<TokenDeliveryMode>().unwrap(), TokenDeliveryMode::Extension("Poll".into()));
    assert!(serde_json::from_value::<TokenDeliveryMode>(json!("")).is_err());
    // token_type is case-insensitive (RFC 6749 section 7.1).
    assert_eq!("bearer".parse::<TokenType>().unwrap(), TokenType::Bearer);
    assert_eq!("DPOP".parse::<TokenType>().unwrap(), TokenType::DPoP);
    assert_eq!(serde_json::to_string(&TokenType::Bearer).unwrap(), r#""Bearer""#);
}

#[test]
fn scope_type() {
    let s = Scope::parse("openid trade openid email").unwrap();
    assert_eq!(s.to_param(), "openid trade email");
    assert_eq!(s.len(), 3);
    assert!(!s.is_empty());
    assert!(s.contains("trade"));
    assert!(!s.contains("Trade"));
    assert!(Scope::parse("email openid").unwrap().is_subset(&s));
    assert!(!Scope::parse("admin").unwrap().is_subset(&s));
    assert_eq!(Scope::parse(""), Err(TokenListError::Empty));
    assert_eq!(Scope::from_tokens(["openid", "a b"]), Err(TokenListError::IllegalChar { ch: ' ', index: 8 }));
    assert_eq!(Scope::from_tokens(["openid", ""]), Err(TokenListError::EmptyToken(7)));
    assert_eq!(Scope::from_tokens(Vec::<String>::new()), Err(TokenListError::Empty));
    assert_eq!(Scope::from_tokens(["openid", "x"]).unwrap().to_string(), "openid x");
    assert_eq!(serde_json::to_string(&s).unwrap(), r#""openid trade email""#);
    assert_eq!(serde_json::from_str::<Scope>(r#""openid trade email""#).unwrap(), s);
    assert!(serde_json::from_str::<Scope>(r#""a  b""#).is_err());
    assert_eq!("a b".parse::<AcrValues>().unwrap().to_param(), "a b");
}

#[test]
fn jwt_shapes() {
    assert!(Jwt::new(JWS).unwrap().is_jws());
    let jwe = Jwt::new("eyJhbGciOiJkaXIifQ..iv.ct.tag").unwrap();
    assert!(!jwe.is_jws());
    for bad in ["", "a", "a.b", "a.b.", ".b.c", "a..c", "a.b.c.d", "a.b.c+", "a.b.c=", "h.k..ct.tag", "a.b.c.d.e.f"] {
        assert!(Jwt::new(bad).is_err(), "{bad:?}");
    }
    assert_eq!(format!("{:?}", Jwt::new(JWS).unwrap()), format!("Jwt(<{} bytes>)", JWS.len()));
    assert!(serde_json::from_value::<Jwt>(json!("a.b")).is_err());
}

#[test]
fn audience_parameter() {
    use countersign_protocol::ciba::{Audience, AudienceError, MAX_AUDIENCE_CHARS};
    let base = [("scope", "openid"), ("login_hint", "alice")];
    let with = |a: &str| {
        let mut l = base.to_vec();
        l.push(("audience", a));
        l.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>()
    };
    // Absent, then present; written back by to_form.
    assert_eq!(params(&base).audience, None);
    let req = BackchannelAuthenticationRequest::from_form(with("https://api.example.com/")).unwrap();
    let BackchannelRequestBody::Params(p) = &req.body else { panic!() };
    assert_eq!(p.audience.as_ref().unwrap().as_str(), "https://api.example.com/");
    assert_eq!(BackchannelAuthenticationRequest::from_form(req.to_form()).unwrap(), req);
    // Sent twice: invalid_request (RFC 6749 §3.1).
    let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("audience", "x"), ("audience", "x")]);
    assert_eq!(e, RequestError::Duplicate("audience"));
    assert_eq!(code, ErrorCode::InvalidRequest);
    // Empty counts as omitted.
    assert_eq!(params(&[("scope", "openid"), ("login_hint", "a"), ("audience", "")]).audience, None);
    // Malformed: a space, a bidi control, a control, too long.
    for bad in ["a b", "https://api\u{202E}moc.example", "api\u{0007}", &"a".repeat(MAX_AUDIENCE_CHARS + 1)] {
        let e = BackchannelAuthenticationRequest::from_form(with(bad)).unwrap_err();
        assert!(matches!(e, RequestError::Invalid { param: "audience", .. }), "{bad:?}: {e:?}");
        assert_eq!(e.error_code(), ErrorCode::InvalidRequest);
    }
    assert_eq!(Audience::new(""), Err(AudienceError::Empty));
    assert!(matches!(Audience::new("x\u{200B}y"), Err(AudienceError::Char { ch: '\u{200B}', index: 1 })));
    // Next to a signed request: outside the request object.
    let (e, _) = err(&[("request", JWS), ("audience", "x")]);
    assert_eq!(e, RequestError::OutsideRequestObject(vec!["audience"]));
    // In a request object: a string claim.
    let claims = json!({"scope": "openid", "login_hint": "a", "audience": "urn:api:orders"});
    let p = BackchannelAuthenticationParams::from_request_object(claims.as_object().unwrap()).unwrap();
    assert_eq!(p.audience.unwrap().as_str(), "urn:api:orders");
    let claims = json!({"scope": "openid", "login_hint": "a", "audience": ["urn:api:orders"]});
    let e = BackchannelAuthenticationParams::from_request_object(claims.as_object().unwrap()).unwrap_err();
    assert_eq!(e, RequestError::ClaimType { claim: "audience", expected: "a string" });
    assert_eq!(e.error_code(), ErrorCode::InvalidRequestObject);
}

#[test]
fn a_scope_only_request_has_no_details_and_an_empty_array_is_refused() {
    let p = params(&[("scope", "openid profile"), ("login_hint", "a")]);
    assert_eq!(p.authorization_details, None);
    let (e, code) = err(&[("scope", "openid"), ("login_hint", "a"), ("authorization_details", "[]")]);
    assert_eq!(e, RequestError::AuthorizationDetails(RarError::Empty));
    assert_eq!(code, ErrorCode::InvalidAuthorizationDetails);
}

#[test]
fn a_token_response_leaves_out_empty_details() {
    use countersign_protocol::ciba::TokenResponse;
    use countersign_protocol::rar::AuthorizationDetails;
    let body = json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60, "scope": "openid"});
    let mut r: TokenResponse = serde_json::from_value(body.clone()).unwrap();
    r.authorization_details = Some(AuthorizationDetails::none());
    assert_eq!(serde_json::to_value(&r).unwrap(), body);
}
