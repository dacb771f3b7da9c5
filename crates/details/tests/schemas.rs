//! The schema format, the built-in schemas, the fixtures and the registry API.

mod common;

use common::*;
use countersign_details::{Registry, RegistryError, BUILTIN_SCHEMAS, META_SCHEMA, URN_PREFIX};
use countersign_protocol::device::ids::SchemaHash;
use countersign_protocol::jcs;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn meta() -> jsonschema::Validator {
    let doc: Value = serde_json::from_str(META_SCHEMA).unwrap();
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&doc).unwrap()
}

fn meta_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{} {e}", e.instance_path())).collect()
}

#[test]
fn every_builtin_schema_follows_the_meta_schema() {
    let v = meta();
    for (file, text) in BUILTIN_SCHEMAS {
        let doc = jcs::parse_strict(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(meta_errors(&v, &doc), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn meta_schema_catches_bad_hints() {
    let v = meta();
    let good = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:x", "type": "object",
        "x-countersign": {"title": "X", "risk": "low"},
        "properties": {"a": {"type": "string", "x-countersign": {"label": "A", "format": "email"}}}
    });
    assert!(meta_errors(&v, &good).is_empty());
    let cases = [
        ("/x-countersign/risk", json!("extreme")),
        ("/x-countersign/colour", json!("red")),
        ("/properties/a/x-countersign/lable", json!("typo")),
        ("/properties/a/x-countersign/format", json!("float")),
        ("/properties/a/x-countersign/emphasis", json!("yes")),
        ("/properties/a/$ref", json!("https://example.com/other.json")),
        ("/patternProperties", json!({"^x": {}})),
        ("/$schema", json!("http://json-schema.org/draft-07/schema#")),
    ];
    for (at, value) in cases {
        let mut bad = good.clone();
        let (parent, key) = at.rsplit_once('/').unwrap();
        bad.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_owned(), value);
        assert!(!meta_errors(&v, &bad).is_empty(), "meta-schema accepted {at}");
    }
    let mut no_title = good.clone();
    no_title["x-countersign"].as_object_mut().unwrap().remove("title");
    assert!(!meta_errors(&v, &no_title).is_empty());
}

#[test]
fn schemas_folder_is_what_the_crate_embeds() {
    let on_disk = json_files("../../schemas");
    let names: Vec<&str> = on_disk.iter().map(|(n, _)| n.as_str()).collect();
    let mut embedded: Vec<&str> = BUILTIN_SCHEMAS.iter().map(|(f, _)| f.trim_start_matches("schemas/")).collect();
    embedded.sort_unstable();
    assert_eq!(names, embedded);
    for (name, text) in &on_disk {
        let (_, embedded) = BUILTIN_SCHEMAS.iter().find(|(f, _)| f.ends_with(name.as_str())).unwrap();
        assert_eq!(text, embedded, "{name}");
    }
}

#[test]
fn builtin_types_are_the_rfc_names_and_project_urns() {
    let r = registry();
    let expected = [
        "account_information",
        "customer_information",
        "payment_initiation",
        "urn:countersign:details:v1:calendar_event",
        "urn:countersign:details:v1:code_deploy",
        "urn:countersign:details:v1:database_query",
        "urn:countersign:details:v1:file_access",
        "urn:countersign:details:v1:mcp_tool_call",
        "urn:countersign:details:v1:money_transfer",
        "urn:countersign:details:v1:purchase",
        "urn:countersign:details:v1:send_email",
        "urn:countersign:details:v1:stock_trade",
    ];
    assert_eq!(r.types(), expected);
    assert_eq!(r.families(), ["urn:auth0:schemas:authorization-details:v1:"]);
    for t in r.types() {
        assert!(t.starts_with(URN_PREFIX) || !t.contains(':'), "{t}");
        let schema = r.schema(t).unwrap();
        assert_eq!(schema["properties"]["type"]["const"], json!(t), "{t}: type const must equal $id");
        assert_eq!(schema["required"][0], json!("type"), "{t}");
    }
}

/// Every property of every built-in schema has a label, and money is always
/// a string amount with a currency.
#[test]
fn builtin_properties_are_labelled_and_amounts_are_strings() {
    fn walk(schema: &Value, at: &str, file: &str, money_defs: &mut usize) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if k != "type" {
                    assert!(
                        p.pointer("/x-countersign/label").and_then(Value::as_str).is_some(),
                        "{file}: {at}/properties/{k} has no label"
                    );
                }
                walk(p, &format!("{at}/properties/{k}"), file, money_defs);
            }
        }
        if schema.pointer("/x-countersign/format") == Some(&json!("money")) {
            *money_defs += 1;
            assert_eq!(schema["properties"]["amount"]["type"], json!("string"), "{file}: {at}");
            assert_eq!(schema["required"], json!(["amount", "currency"]), "{file}: {at}");
            assert_eq!(schema["additionalProperties"], json!(false), "{file}: {at}");
        }
        for key in ["items", "additionalProperties"] {
            if let Some(s) = schema.get(key).filter(|s| s.is_object()) {
                walk(s, &format!("{at}/{key}"), file, money_defs);
            }
        }
        if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
            for (k, d) in defs {
                walk(d, &format!("{at}/$defs/{k}"), file, money_defs);
            }
        }
    }
    let mut money_defs = 0;
    for (file, text) in BUILTIN_SCHEMAS {
        let doc: Value = serde_json::from_str(text).unwrap();
        if doc.pointer("/x-countersign/layout") == Some(&json!("auth0-guardian")) {
            continue;
        }
        walk(&doc, "", file, &mut money_defs);
    }
    assert!(money_defs >= 4, "money definitions found: {money_defs}");
}

#[test]
fn rfc9396_types_keep_the_rfc_field_names() {
    let r = registry();
    let props = |t: &str| -> BTreeSet<String> {
        r.schema(t).unwrap()["properties"].as_object().unwrap().keys().cloned().collect()
    };
    let pi = props("payment_initiation");
    for f in [
        "locations",
        "actions",
        "instructedAmount",
        "creditorName",
        "creditorAccount",
        "remittanceInformationUnstructured",
    ] {
        assert!(pi.contains(f), "payment_initiation lacks {f}");
    }
    let acc = &r.schema("payment_initiation").unwrap()["properties"]["creditorAccount"]["properties"];
    assert!(acc.get("iban").is_some() && acc.get("bic").is_some());
    let amount = &r.schema("payment_initiation").unwrap()["$defs"]["money"]["properties"];
    assert!(amount.get("currency").is_some() && amount.get("amount").is_some());
    let ai = props("account_information");
    for f in ["actions", "locations", "access", "recurringIndicator"] {
        assert!(ai.contains(f), "account_information lacks {f}");
    }
    let ci = props("customer_information");
    for f in ["locations", "actions", "datatypes"] {
        assert!(ci.contains(f), "customer_information lacks {f}");
    }
}

/// Per built-in type: at least one valid and one invalid fixture.
#[test]
fn every_type_has_valid_and_invalid_fixtures() {
    let valid = json_files("testdata/valid");
    let invalid = json_files("testdata/invalid");
    let types_in = |files: &[(String, String)]| -> BTreeSet<String> {
        files.iter().flat_map(|(_, t)| details(t).types().map(str::to_owned).collect::<Vec<_>>()).collect()
    };
    let (vt, it) = (types_in(&valid), types_in(&invalid));
    let r = registry();
    for t in r.types() {
        assert!(vt.contains(t), "no valid fixture for {t}");
        assert!(it.contains(t), "no invalid fixture for {t}");
    }
    assert!(vt.iter().any(|t| t.starts_with("urn:auth0:")));
    assert!(it.iter().any(|t| t.starts_with("urn:auth0:")));
}

#[test]
fn valid_fixtures_validate_and_render_approvable() {
    let r = registry();
    let files = json_files("testdata/valid");
    assert!(files.len() >= 12);
    for (name, text) in files {
        let d = details(&text);
        assert_eq!(r.validate(&d), Ok(()), "{name}");
        let m = countersign_details::render(&d, &r, &options());
        assert!(m.approvable, "{name}: {:#?}", m.warnings);
        let loud: Vec<_> =
            all_warnings(&m).into_iter().filter(|w| w.severity > countersign_details::Severity::Info).collect();
        assert!(loud.is_empty(), "{name}: {loud:#?}");
        assert_texts_unaltered(&m, &serde_json::from_str(&text).unwrap());
    }
}

#[test]
fn invalid_fixtures_fail_at_the_expected_path() {
    let r = registry();
    let expected: Value = serde_json::from_str(&read("testdata/invalid-expected.json")).unwrap();
    let files = json_files("testdata/invalid");
    let listed: BTreeSet<&str> = expected.as_object().unwrap().keys().map(String::as_str).collect();
    let present: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(listed, present, "invalid-expected.json must list exactly the invalid fixtures");
    for (name, text) in &files {
        let d = details(text);
        let violations = r.validate(&d).expect_err(name);
        for want in expected[name.as_str()].as_array().unwrap() {
            let (index, path) = (want["index"].as_u64().unwrap() as usize, want["path"].as_str().unwrap());
            assert!(
                violations.iter().any(|v| v.index == index && v.path == path),
                "{name}: expected a violation at [{index}]{path}, got {violations:#?}"
            );
        }
        let m = countersign_details::render(&d, &r, &options());
        assert!(!m.approvable, "{name}");
        assert_eq!(m.status, countersign_details::RequestStatus::Invalid, "{name}");
        let want_path = expected[name.as_str()][0]["path"].as_str().unwrap();
        let w = warnings_with(&m, countersign_details::WarningCode::SchemaViolation);
        assert!(
            w.iter().any(
                |w| w.path.as_deref() == Some(want_path) && (want_path.is_empty() || w.message.contains(want_path))
            ),
            "{name}: no violation warning naming {want_path:?}: {w:#?}"
        );
    }
}

#[test]
fn schema_hash_is_the_hash_of_the_schema_document() {
    let r = registry();
    for (file, text) in BUILTIN_SCHEMAS {
        let doc = jcs::parse_strict(text).unwrap();
        let id = doc["$id"].as_str().unwrap();
        let t = id.replace(":*", ":anything");
        assert_eq!(r.schema_hash(&t), SchemaHash::of_schema(&doc).unwrap(), "{file}");
    }
    assert_eq!(r.schema_hash("https://example.com/unknown"), SchemaHash::of_no_schema());
    assert_eq!(r.schema_hash("urn:auth0:schemas:authorization-details:v1:"), SchemaHash::of_no_schema());
    assert_ne!(r.schema_hash("payment_initiation"), r.schema_hash("account_information"));
    let mixed = details(&read("testdata/valid/mixed-request.json"));
    let ds = r.display_schemas(&mixed);
    assert_eq!(ds.len(), 3);
    assert_eq!(ds["customer_information"], r.schema_hash("customer_information"));
    let m = countersign_details::render(&mixed, &r, &options());
    assert_eq!(m.display_schemas, ds);
    for d in &m.details {
        assert_eq!(d.schema_hash, r.schema_hash(&d.type_name));
    }
}

#[test]
fn published_document_round_trips_and_is_pinned_by_hash() {
    let r = registry();
    let doc = r.schemas_document();
    assert_eq!(doc["version"], json!(1));
    assert_eq!(doc["schemas"].as_array().unwrap().len(), BUILTIN_SCHEMAS.len());
    let fetched = Registry::from_schemas_document(&doc).unwrap();
    assert_eq!(fetched.types(), r.types());
    assert_eq!(fetched.families(), r.families());
    for t in r.types() {
        assert_eq!(fetched.schema_hash(t), r.schema_hash(t));
    }
    // A server that changes a label without changing the hash is caught.
    let mut tampered = doc.clone();
    let i =
        tampered["schemas"].as_array().unwrap().iter().position(|e| e["type"] == json!("payment_initiation")).unwrap();
    tampered["schemas"][i]["schema"]["properties"]["creditorName"]["x-countersign"]["label"] = json!("Refund from");
    let err = Registry::from_schemas_document(&tampered).unwrap_err();
    assert!(matches!(err, RegistryError::Document(ref m) if m.contains("hash")), "{err}");
    // With the hash recomputed it loads, and the type's hash changes.
    let new_hash = SchemaHash::of_schema(&tampered["schemas"][i]["schema"]).unwrap();
    tampered["schemas"][i]["hash"] = json!(new_hash.as_str());
    let changed = Registry::from_schemas_document(&tampered).unwrap();
    assert_ne!(changed.schema_hash("payment_initiation"), r.schema_hash("payment_initiation"));
    assert!(Registry::from_schemas_document(&json!({"version": 2, "schemas": []})).is_err());
    assert!(Registry::from_schemas_document(&json!({"version": 1})).is_err());
}

fn custom(id: &str) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "x-countersign": {"title": "Door", "risk": "medium", "summary": "Open {door}"},
        "required": ["type", "door"],
        "properties": {
            "type": {"const": id},
            "door": {"type": "string", "x-countersign": {"label": "Door"}}
        },
        "additionalProperties": false
    })
}

#[test]
fn from_documents_builds_a_registry_without_builtins() {
    let r = Registry::from_documents([custom("urn:acme:door")]).unwrap();
    assert_eq!(r.types(), ["urn:acme:door"]);
    assert_eq!(r.schema_hash("payment_initiation"), SchemaHash::of_no_schema());
    let err = Registry::from_documents([json!({"type": "object"})]).unwrap_err().to_string();
    assert!(err.starts_with("document #0"), "{err}");
    let err = Registry::from_documents([custom("urn:a"), custom("urn:a")]).unwrap_err();
    assert!(matches!(err, RegistryError::Duplicate { .. }), "{err}");
    let err = Registry::from_documents([json!({"big": 9007199254740993u64})]).unwrap_err().to_string();
    assert!(err.contains("2^53"), "{err}");
}

#[test]
fn with_dir_loads_custom_types_and_names_the_bad_file() {
    let base = std::env::temp_dir().join(format!("countersign-details-{}", std::process::id()));
    let dir = base.join("ok");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("door.json"), serde_json::to_string_pretty(&custom("urn:acme:door")).unwrap()).unwrap();
    std::fs::write(dir.join("README.txt"), "not a schema").unwrap();
    let r = Registry::with_dir(&dir).unwrap();
    assert!(r.types().contains(&"urn:acme:door"));
    assert!(r.types().contains(&"payment_initiation"));
    let m = r.render(&details(r#"[{"type":"urn:acme:door","door":"front"}]"#), &options());
    assert_eq!(m.details[0].summary.as_ref().unwrap().text, "Open front");

    let cases: [(&str, String, &str); 6] = [
        ("syntax.json", "{\"$id\": ".to_owned(), "invalid JSON"),
        ("dup-key.json", r#"{"$id": "a", "$id": "b"}"#.to_owned(), "duplicate"),
        (
            "typo.json",
            {
                let mut d = custom("urn:acme:typo");
                d["properties"]["door"]["x-countersign"] = json!({"lable": "Door"});
                d.to_string()
            },
            "not a valid display schema",
        ),
        (
            "remote-ref.json",
            {
                let mut d = custom("urn:acme:remote");
                d["properties"]["door"] = json!({"$ref": "https://evil.example/door.json"});
                d.to_string()
            },
            "$ref",
        ),
        (
            "summary.json",
            {
                let mut d = custom("urn:acme:summary");
                d["x-countersign"]["summary"] = json!("Open {window}");
                d.to_string()
            },
            "{window}",
        ),
        ("builtin.json", custom("payment_initiation").to_string(), "already defined"),
    ];
    for (file, text, expect) in cases {
        let bad = base.join(file.trim_end_matches(".json"));
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join(file), text).unwrap();
        let err = Registry::with_dir(&bad).unwrap_err().to_string();
        assert!(err.contains(file), "{file}: error does not name the file: {err}");
        assert!(err.contains(expect), "{file}: {err}");
    }
    let err = Registry::with_dir(base.join("missing")).unwrap_err();
    assert!(matches!(err, RegistryError::Io { .. }), "{err}");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn a_ref_that_leaves_the_document_is_refused_even_without_the_meta_check() {
    // The meta-schema refuses non-local $ref; the loader also refuses a local
    // pointer that does not resolve, and the retriever refuses the rest.
    let mut d = custom("urn:acme:dangling");
    d["properties"]["door"] = json!({"$ref": "#/$defs/nothing"});
    let err = Registry::from_documents([d]).unwrap_err().to_string();
    assert!(err.contains("$ref") && err.contains("/properties/door/$ref"), "{err}");
}

#[test]
fn validate_refuses_unknown_types_and_names_paths() {
    let r = registry();
    let d = details(r#"[{"type":"https://api.example.com/photos","actions":["read"]}]"#);
    let v = r.validate(&d).unwrap_err();
    assert_eq!((v[0].index, v[0].path.as_str()), (0, "/type"));
    assert!(v[0].message.contains("unknown type"));
    let d = details(&read("testdata/invalid/stock_trade-limit-without-price.json"));
    let v = r.validate(&d).unwrap_err();
    assert_eq!(v[0].to_string(), "authorization_details[0]/limit_price: required field \"limit_price\" is missing");
    let mixed = json!([
        {"type": "payment_initiation", "instructedAmount": {"currency": "EUR", "amount": "1.00"},
         "creditorName": "A", "creditorAccount": {"iban": "DE02100100109307118603"}},
        {"type": format!("{URN}stock_trade"), "action": "hold", "symbol": "X", "quantity": "1", "order_type": "market"}
    ]);
    let v = r.validate(&details_value(mixed)).unwrap_err();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].index, v[0].path.as_str()), (1, "/action"));
}

#[test]
fn registry_is_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>(_: &T) {}
    let r = registry();
    shareable(&r);
    let clone = r.clone();
    let handle = std::thread::spawn(move || clone.types().len());
    assert_eq!(handle.join().unwrap(), r.types().len());
}
