//! RFC 9396 examples (testdata/rar, see its README) and every parse error.

use countersign_protocol::rar::{
    AuthorizationDetail, AuthorizationDetails, DetailError, RarError, ACTIONS, DATATYPES, IDENTIFIER, LOCATIONS,
    PRIVILEGES, TYPE,
};
use serde_json::json;
use std::path::PathBuf;

fn testdata(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "testdata", "rar", name].iter().collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The input with insignificant whitespace removed, without reparsing it (so
/// member order and number spelling are those of the file).
fn minify(json: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

const ARRAYS: &[&str] = &[
    "s2_payment_initiation.json",
    "s2_combined_request.json",
    "s2_2_common_fields.json",
    "s2_2_common_fields_multiple.json",
    "s2_2_common_and_extension_fields.json",
    "s6_1_example_api_privileges.json",
    "s7_1_account_information_enriched.json",
    "s7_1_medical_record_enriched.json",
];

#[test]
fn every_rfc_array_round_trips_byte_for_byte() {
    for name in ARRAYS {
        let text = testdata(name);
        let parsed = AuthorizationDetails::from_param(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.to_param(), minify(&text), "{name}");
        // Through serde as well (e.g. inside a token response).
        let via_serde: AuthorizationDetails = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&via_serde).unwrap(), minify(&text), "{name}");
        assert_eq!(via_serde, parsed);
    }
}

#[test]
fn single_objects_round_trip() {
    for name in ["s1_payment_initiation_object.json", "s2_1_url_type_object.json"] {
        let text = testdata(name);
        let d: AuthorizationDetail = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), minify(&text), "{name}");
    }
}

#[test]
fn typed_accessors_on_rfc_examples() {
    let d = AuthorizationDetails::from_param(&testdata("s2_combined_request.json")).unwrap();
    assert_eq!(d.len(), 2);
    assert!(!d.is_empty());
    assert_eq!(d.types().collect::<Vec<_>>(), ["account_information", "payment_initiation"]);
    let pay = &d.as_slice()[1];
    assert_eq!(pay.r#type(), "payment_initiation");
    assert_eq!(pay.actions().unwrap(), ["initiate", "status", "cancel"]);
    assert_eq!(pay.locations().unwrap(), ["https://example.com/payments"]);
    assert_eq!(pay.datatypes(), None);
    assert_eq!(pay.identifier(), None);
    assert_eq!(pay.privileges(), None);
    assert_eq!(pay.get("instructedAmount").unwrap()["amount"], "123.50");
    let extra: Vec<_> = pay.extra().map(|(k, _)| k).collect();
    assert_eq!(extra, ["instructedAmount", "creditorName", "creditorAccount", "remittanceInformationUnstructured"]);

    let fin = AuthorizationDetails::from_param(&testdata("s2_2_common_and_extension_fields.json")).unwrap();
    assert_eq!(fin.as_slice()[1].identifier(), Some("account-14-32-32-3"));
    assert_eq!(fin.as_slice()[0].datatypes().unwrap(), ["metadata", "images"]);

    let admin = AuthorizationDetails::from_param(&testdata("s6_1_example_api_privileges.json")).unwrap();
    assert_eq!(admin.as_slice()[0].privileges().unwrap(), ["admin"]);

    let medical = AuthorizationDetails::from_param(&testdata("s7_1_medical_record_enriched.json")).unwrap();
    assert_eq!(medical.as_slice()[0].identifier(), Some("patient-541235"));
}

#[test]
fn form_encoded_parameter_from_section_3() {
    let form = testdata("s3_form_encoded.txt");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.trim().as_bytes()).into_owned().collect();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].0, "authorization_details");
    let d = AuthorizationDetails::from_param(&pairs[0].1).unwrap();
    assert_eq!(d.to_param(), minify(&testdata("s2_combined_request.json")));
}

#[test]
fn order_is_not_named_fields_first() {
    // A plain `#[serde(flatten)]` struct would move "type" and "actions" first.
    let text = r#"[{"zeta":1,"actions":["x"],"type":"t","alpha":{"b":1,"a":2},"identifier":"i"}]"#;
    assert_eq!(AuthorizationDetails::from_param(text).unwrap().to_param(), text);
}

fn err(text: &str) -> RarError {
    AuthorizationDetails::from_param(text).unwrap_err()
}

fn elem(index: usize, error: DetailError) -> RarError {
    RarError::Element { index, error }
}

#[test]
fn parameter_level_errors() {
    assert!(matches!(err(""), RarError::Json(_)));
    assert!(matches!(err("[{\"type\":\"t\"}"), RarError::Json(_)));
    assert!(matches!(err("[{\"type\":\"t\"}] x"), RarError::Json(_)));
    assert_eq!(err("{\"type\":\"t\"}"), RarError::NotArray);
    assert_eq!(err("\"t\""), RarError::NotArray);
    assert_eq!(err("null"), RarError::NotArray);
    assert_eq!(err("[]"), RarError::Empty);
    assert_eq!(err("[{\"type\":\"t\"},[]]"), RarError::NotObject { index: 1 });
    assert_eq!(err("[\"payment_initiation\"]"), RarError::NotObject { index: 0 });
}

#[test]
fn type_errors() {
    assert_eq!(err("[{}]"), elem(0, DetailError::MissingType));
    assert_eq!(err("[{\"type\":\"t\"},{\"actions\":[]}]"), elem(1, DetailError::MissingType));
    assert_eq!(err("[{\"type\":\"\"}]"), elem(0, DetailError::EmptyType));
    for bad in ["1", "null", "[\"t\"]", "{}", "true"] {
        assert_eq!(
            err(&format!("[{{\"type\":{bad}}}]")),
            elem(0, DetailError::WrongType { field: TYPE, expected: "a string" }),
            "{bad}"
        );
    }
    // `type` is reported before an earlier bad common field.
    assert_eq!(err("[{\"actions\":1,\"type\":\"\"}]"), elem(0, DetailError::EmptyType));
}

#[test]
fn common_field_type_errors_name_the_field() {
    for field in [LOCATIONS, ACTIONS, DATATYPES, PRIVILEGES] {
        for bad in ["\"read\"", "[1]", "[\"a\",null]", "{}", "null"] {
            let text = format!("[{{\"type\":\"t\",\"{field}\":{bad}}}]");
            let e = err(&text);
            assert_eq!(e, elem(0, DetailError::WrongType { field, expected: "an array of strings" }), "{text}");
            assert!(e.to_string().contains(field), "{e}");
        }
        // Empty arrays are well typed.
        AuthorizationDetails::from_param(&format!("[{{\"type\":\"t\",\"{field}\":[]}}]")).unwrap();
    }
    for bad in ["1", "[\"a\"]", "null", "{}"] {
        assert_eq!(
            err(&format!("[{{\"type\":\"t\",\"identifier\":{bad}}}]")),
            elem(0, DetailError::WrongType { field: IDENTIFIER, expected: "a string" })
        );
    }
}

#[test]
fn duplicates_and_unsafe_integers_are_refused() {
    // Valid JSON refused by the strict rules is said to be refused, not
    // invalid, and says why and where.
    let e = err(r#"[{"type":"a","type":"b"}]"#);
    assert_eq!(e.to_string(), "authorization_details is refused: duplicate key \"type\" at \"/0/type\"");
    let RarError::Refused(m) = err(r#"[{"type":"a","x":{"amount":"1","amount":"1000"}}]"#) else { panic!() };
    assert!(m.contains("duplicate key \"amount\""), "{m}");
    let RarError::Refused(m) = err(r#"[{"type":"a","n":9007199254740992}]"#) else { panic!() };
    assert_eq!(m, "number 9007199254740992 at \"/0/n\" is beyond +/-(2^53-1)");
    assert!(matches!(err(r#"[{"type":"a","n":-9007199254740992}]"#), RarError::Refused(_)));
    let deep = format!("[{{\"type\":\"a\",\"n\":{}1{}}}]", "[".repeat(70), "]".repeat(70));
    let RarError::Refused(m) = err(&deep) else { panic!() };
    assert!(m.starts_with("nesting deeper than 64 levels at \"/0/n/"), "{m}");
    AuthorizationDetails::from_param(r#"[{"type":"a","n":9007199254740991,"m":-9007199254740991,"f":1.5}]"#).unwrap();
    // Serde path too.
    assert!(serde_json::from_str::<AuthorizationDetail>(r#"{"type":"a","type":"a"}"#).is_err());
    // `[]` is a scope-only request's (none), read back as written; the
    // agent's parameter still refuses it (above).
    assert_eq!(serde_json::from_str::<AuthorizationDetails>("[]").unwrap(), AuthorizationDetails::none());
    assert_eq!(serde_json::to_string(&AuthorizationDetails::none()).unwrap(), "[]");
    assert!(serde_json::from_str::<AuthorizationDetail>(r#"{"type":""}"#).is_err());
}

#[test]
fn error_messages_are_precise() {
    assert_eq!(
        err(r#"[{"type":"t"},{"type":"t","actions":"read"}]"#).to_string(),
        "authorization_details[1]: field \"actions\" must be an array of strings"
    );
    assert_eq!(err("[]").to_string(), "authorization_details must not be an empty array");
    assert_eq!(err("[{}]").to_string(), "authorization_details[0]: missing required field \"type\"");
}

#[test]
fn value_constructors() {
    assert_eq!(AuthorizationDetail::from_value(json!("t")), Err(DetailError::NotObject));
    let d = AuthorizationDetail::try_from(json!({"type": "t", "x": 1})).unwrap();
    assert_eq!(serde_json::Value::from(d.clone()), json!({"type": "t", "x": 1}));
    assert_eq!(d.to_value(), json!({"type": "t", "x": 1}));
    assert_eq!(AuthorizationDetails::new(vec![]), Err(RarError::Empty));
    let ds = AuthorizationDetails::new(vec![d.clone()]).unwrap();
    assert_eq!(ds.to_value(), json!([{"type": "t", "x": 1}]));
    assert_eq!((&ds).into_iter().count(), 1);
    assert_eq!(ds.iter().next(), Some(&d));
    assert_eq!(ds.into_vec(), vec![d.clone()]);
    assert_eq!(d.into_map().len(), 2);
    assert_eq!(AuthorizationDetails::from_value(json!({})), Err(RarError::NotArray));
}
