//! RFC 8785 official vectors (testdata/jcs) and the strict parser.

use countersign_protocol::jcs::{self, JcsError, MAX_DEPTH, MAX_SAFE_INTEGER};
use serde_json::{json, Value};
use std::path::PathBuf;

const VECTORS: &[&str] = &["arrays", "french", "structures", "unicode", "values", "weird"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/jcs")
}

#[test]
fn official_vectors_canonicalize_byte_for_byte() {
    for name in VECTORS {
        let input = std::fs::read(dir().join("input").join(format!("{name}.json"))).unwrap();
        let expected = std::fs::read(dir().join("output").join(format!("{name}.json"))).unwrap();
        let value: Value = serde_json::from_slice(&input).unwrap();
        let got = jcs::canonicalize(&value).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "vector {name}");
        assert_eq!(got, expected, "vector {name}");
        // Canonical output is a fixed point.
        let again: Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(jcs::canonicalize(&again).unwrap(), expected, "vector {name} (fixed point)");
    }
}

#[test]
fn every_vector_file_is_listed_and_outputs_end_without_newline() {
    let mut found: Vec<String> = std::fs::read_dir(dir().join("input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    found.sort();
    assert_eq!(found, VECTORS);
    for name in VECTORS {
        let out = std::fs::read(dir().join("output").join(format!("{name}.json"))).unwrap();
        assert_ne!(out.last(), Some(&b'\n'), "{name}");
    }
}

#[test]
fn strict_parser_accepts_all_vectors_but_values() {
    for name in VECTORS {
        let input = std::fs::read(dir().join("input").join(format!("{name}.json"))).unwrap();
        let strict = jcs::parse_strict(&input);
        if *name == "values" {
            // 1E30 is beyond 2^53-1: the vectors test `canonicalize`; the
            // strict layer refuses the number, quoted as written.
            assert_eq!(strict, Err(JcsError::NumberOutOfRange { number: "1E30".into(), path: "/numbers/0".into() }));
        } else {
            let v = strict.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v, serde_json::from_slice::<Value>(&input).unwrap(), "{name}");
        }
    }
}

#[test]
fn values_vector_without_the_big_number_passes_strict() {
    let input = std::fs::read_to_string(dir().join("input/values.json")).unwrap();
    let v = jcs::parse_strict(input.replace("1E30, ", "")).unwrap();
    assert_eq!(
        String::from_utf8(jcs::canonicalize_strict(&v).unwrap()).unwrap(),
        r#"{"escaping":"€$\u000f\nA'B\"\\\\\"/","literals":[null,true,false],"numbers":[4.5,333333333.3333333,0.002,1e-27]}"#
    );
}

#[test]
fn rfc8785_section_3_2_2_example() {
    // RFC 8785 §3.2.2 (the example after "Parsing and serializing").
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let v: Value = serde_json::from_str(input).unwrap();
    assert_eq!(
        String::from_utf8(jcs::canonicalize(&v).unwrap()).unwrap(),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

#[test]
fn parse_keeps_member_order() {
    let v = jcs::parse_strict(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"b":1,"a":{"d":2,"c":3}}"#);
}

#[test]
fn parse_accepts_str_and_bytes() {
    assert_eq!(jcs::parse_strict("[1]").unwrap(), json!([1]));
    assert_eq!(jcs::parse_strict(b"[1]").unwrap(), json!([1]));
    assert_eq!(jcs::parse_strict(vec![b'[', b'1', b']']).unwrap(), json!([1]));
}

#[test]
fn refuses_duplicate_key_at_root() {
    assert_eq!(
        jcs::parse_strict(r#"{"a":1,"b":2,"a":3}"#),
        Err(JcsError::DuplicateKey { key: "a".into(), path: "/a".into() })
    );
}

#[test]
fn refuses_duplicate_key_deep_with_path() {
    let err = jcs::parse_strict(r#"{"x":[{"ok":1},{"y":{"k":1,"k":2}}]}"#).unwrap_err();
    assert_eq!(err, JcsError::DuplicateKey { key: "k".into(), path: "/x/1/y/k".into() });
    assert!(err.to_string().contains("\"k\"") && err.to_string().contains("/x/1/y/k"), "{err}");
}

#[test]
fn duplicate_key_path_escapes_pointer_characters() {
    assert_eq!(
        jcs::parse_strict(r#"{"a/b":{"~":0,"~":1}}"#),
        Err(JcsError::DuplicateKey { key: "~".into(), path: "/a~1b/~0".into() })
    );
}

#[test]
fn refuses_duplicate_key_spelled_differently() {
    // "\u0061" is "a": duplicates are judged after unescaping.
    assert!(matches!(jcs::parse_strict(r#"{"a":1,"\u0061":2}"#), Err(JcsError::DuplicateKey { .. })));
}

#[test]
fn accepts_integer_at_the_limit() {
    let max = MAX_SAFE_INTEGER;
    assert_eq!(jcs::parse_strict(format!("[{max},-{max}]")).unwrap(), json!([max, -(max as i64)]));
}

#[test]
fn refuses_integer_above_the_limit() {
    assert_eq!(
        jcs::parse_strict(r#"{"n":9007199254740992}"#),
        Err(JcsError::NumberOutOfRange { number: "9007199254740992".into(), path: "/n".into() })
    );
}

#[test]
fn refuses_negative_integer_below_the_limit() {
    assert_eq!(
        jcs::parse_strict(r#"[-9007199254740992]"#),
        Err(JcsError::NumberOutOfRange { number: "-9007199254740992".into(), path: "/0".into() })
    );
}

#[test]
fn refuses_integer_beyond_u64() {
    assert!(matches!(jcs::parse_strict(r#"[123456789012345678901234567890]"#), Err(JcsError::NumberOutOfRange { .. })));
}

#[test]
fn refuses_float_beyond_the_limit() {
    assert!(matches!(jcs::parse_strict("[1e16]"), Err(JcsError::NumberOutOfRange { .. })));
    assert!(matches!(jcs::parse_strict("[-9007199254740992.0]"), Err(JcsError::NumberOutOfRange { .. })));
}

#[test]
fn refuses_float_that_would_round_down_to_the_limit() {
    // 9007199254740991.4 parses to the double 2^53-1, but its text exceeds
    // the limit: refused, never rounded.
    assert!(matches!(jcs::parse_strict("[9007199254740991.4]"), Err(JcsError::NumberOutOfRange { .. })));
}

#[test]
fn accepts_ordinary_floats() {
    assert_eq!(jcs::parse_strict("[4.5, -0.002, 1e-27, 9007199254740990.0]").unwrap().as_array().unwrap().len(), 4);
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn accepts_depth_limit() {
    assert!(jcs::parse_strict(nested(MAX_DEPTH)).is_ok());
}

#[test]
fn refuses_depth_beyond_limit() {
    let err = jcs::parse_strict(nested(MAX_DEPTH + 1)).unwrap_err();
    let path = "/0".repeat(MAX_DEPTH);
    assert_eq!(err, JcsError::TooDeep { max: MAX_DEPTH, path });
}

#[test]
fn refuses_deep_objects() {
    let text = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
    assert!(matches!(jcs::parse_strict(text), Err(JcsError::TooDeep { .. })));
}

#[test]
fn refuses_trailing_characters() {
    assert!(matches!(jcs::parse_strict(r#"{"a":1} x"#), Err(JcsError::Syntax { line: 1, .. })));
}

#[test]
fn refuses_syntax_errors_with_position() {
    let err = jcs::parse_strict("{\n  \"a\": tru }").unwrap_err();
    assert!(matches!(err, JcsError::Syntax { line: 2, .. }), "{err:?}");
}

#[test]
fn refuses_lone_surrogate() {
    assert!(matches!(jcs::parse_strict(r#"["\ud800"]"#), Err(JcsError::Syntax { .. })));
}

#[test]
fn refuses_invalid_utf8() {
    assert!(matches!(jcs::parse_strict(b"[\"\xff\"]"), Err(JcsError::Syntax { .. })));
}

#[test]
fn check_value_refuses_big_numbers_in_built_values() {
    assert_eq!(
        jcs::check_value(&json!({"a": [1, {"b": 9_007_199_254_740_992u64}]})),
        Err(JcsError::NumberOutOfRange { number: "9007199254740992".into(), path: "/a/1/b".into() })
    );
    assert!(jcs::check_value(&json!({"f": 1e300})).is_err());
    assert!(jcs::check_value(&json!({"ok": [MAX_SAFE_INTEGER, 0.5, "9007199254740993"]})).is_ok());
}

#[test]
fn check_value_refuses_depth() {
    let mut v = json!(1);
    for _ in 0..=MAX_DEPTH {
        v = json!([v]);
    }
    assert!(matches!(jcs::check_value(&v), Err(JcsError::TooDeep { .. })));
}

#[test]
fn canonicalize_strict_refuses_what_canonicalize_accepts() {
    let v = json!({"n": 1e30});
    assert_eq!(jcs::canonicalize(&v).unwrap(), b"{\"n\":1e+30}");
    assert!(matches!(jcs::canonicalize_strict(&v), Err(JcsError::NumberOutOfRange { .. })));
}

#[test]
fn sha256_b64url_matches_known_digest() {
    // SHA-256("abc") = ba7816bf…15ad (FIPS 180-2 example)
    assert_eq!(jcs::sha256_b64url(b"abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}
