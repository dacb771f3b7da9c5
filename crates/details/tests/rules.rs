//! The display rules of DESIGN.md §6 / issue 4, one test each.

mod common;

use common::*;
use countersign_details::{
    FieldValue, LabelSource, Registry, Renderer, RequestStatus, Risk, Severity, SummaryPart, WarningCode,
};
use countersign_protocol::device::ids::SchemaHash;
use serde_json::{json, Value};

/// Every member and item of the input appears in the model, at its path
/// (the root `type` is the detail header).
fn assert_every_field_shown(input: &Value) {
    let m = render_value(input.clone());
    assert_eq!(m.details.len(), input.as_array().unwrap().len());
    for d in &m.details {
        let mut want = Vec::new();
        pointers(&input[d.index], "", &mut want);
        let mut shown: Vec<String> = Vec::new();
        for f in all_fields(d) {
            shown.push(f.path.clone());
            // An amount is one field showing both members.
            if let FieldValue::Money { .. } = f.value {
                shown.push(format!("{}/amount", f.path));
                shown.push(format!("{}/currency", f.path));
            }
        }
        for p in want {
            if p == "/type" {
                assert_eq!(d.type_name, input[d.index]["type"].as_str().unwrap());
                continue;
            }
            assert!(shown.contains(&p), "detail {} ({}): {p} not shown; shown: {shown:?}", d.index, d.type_name);
        }
    }
}

#[test]
fn every_field_present_is_shown() {
    for (name, text) in json_files("testdata/valid").into_iter().chain(json_files("testdata/invalid")) {
        let input: Value = serde_json::from_str(&text).unwrap();
        if input[0]["type"].as_str().unwrap().starts_with("urn:auth0:") {
            continue; // see auth0_guardian_renders_natively
        }
        eprintln!("{name}");
        assert_every_field_shown(&input);
    }
    assert_every_field_shown(&json!([{
        "type": "payment_initiation",
        "instructedAmount": {"currency": "EUR", "amount": "5.00", "note": "extra"},
        "creditorName": "A", "creditorAccount": {"iban": "DE02100100109307118603", "owner": {"name": "A", "since": 2019}},
        "unlisted": [1, {"deep": [null, true]}]
    }]));
    assert_every_field_shown(&json!([{"type": "x", "a": {"b": [1, 2, {"c": "d"}]}, "": "empty name", "a/b~c": 1}]));
}

#[test]
fn fields_the_schema_does_not_describe_have_their_own_heading() {
    let input = json!([{
        "type": "payment_initiation",
        "instructedAmount": {"currency": "EUR", "amount": "123.50"},
        "creditorName": "Merchant A",
        "creditorAccount": {"iban": "DE02100100109307118603", "note": "ask for Bob"},
        "creditorAddress": {"street": "Main St 1", "city": "Springfield"},
        "urgent": true
    }]);
    let m = render_value(input.clone());
    let d = &m.details[0];
    // An open RFC type: valid, approvable, but every unknown field is flagged.
    assert!(m.approvable && d.valid);
    let paths: Vec<&str> = d.undescribed.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/creditorAccount/note", "/creditorAddress", "/urgent"]);
    for f in &d.undescribed {
        assert_eq!(f.label_source, LabelSource::Key);
        assert_eq!(f.label, f.key);
        let w = &f.warnings[0];
        assert_eq!(w.code, WarningCode::UndescribedField);
        assert_eq!(w.path.as_deref(), Some(f.path.as_str()));
        assert!(w.message.contains(&f.path));
    }
    // Not also among the described fields.
    assert!(d.fields.iter().all(|f| f.path != "/urgent" && f.path != "/creditorAddress"));
    let account = d.fields.iter().find(|f| f.path == "/creditorAccount").unwrap();
    let FieldValue::Object { fields } = &account.value else { panic!() };
    assert_eq!(fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["iban"]);
    // The nested undescribed object keeps its children.
    let FieldValue::Object { fields } = &d.undescribed[1].value else { panic!() };
    assert_eq!(fields.len(), 2);
    assert_eq!(warnings_with(&m, WarningCode::UndescribedField).len(), 3);
}

#[test]
fn a_closed_schema_flags_extra_fields_as_undescribed_and_invalid() {
    let m = render_text(&read("testdata/invalid/stock_trade-extra-field.json"));
    let d = &m.details[0];
    assert!(!m.approvable);
    assert_eq!(d.undescribed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["/margin"]);
    let v = warnings_with(&m, WarningCode::SchemaViolation);
    assert!(v[0].message.contains("\"margin\""), "{}", v[0].message);
}

#[test]
fn a_schema_violation_makes_the_request_invalid_and_not_approvable() {
    let input = json!([
        {"type": format!("{URN}stock_trade"), "action": "buy", "symbol": "AAPL", "quantity": "10", "order_type": "market"},
        {"type": format!("{URN}stock_trade"), "action": "buy", "symbol": "AAPL", "quantity": "10", "order_type": "limit"}
    ]);
    let m = render_value(input);
    assert!(!m.approvable);
    assert_eq!(m.status, RequestStatus::Invalid);
    assert!(m.details[0].valid);
    assert!(!m.details[1].valid);
    let w = &m.details[1].warnings;
    let v: Vec<_> = w.iter().filter(|w| w.code == WarningCode::SchemaViolation).collect();
    assert_eq!(v.len(), 1, "{w:#?}");
    assert_eq!(v[0].severity, Severity::Danger);
    assert_eq!(v[0].index, Some(1));
    assert_eq!(v[0].path.as_deref(), Some("/limit_price"));
    assert_eq!(v[0].message, "Does not match its schema at /limit_price: required field \"limit_price\" is missing");
    // Still rendered in full so the user can see what is wrong.
    assert_eq!(m.details[1].fields.len(), 4);
    // A valid request is approvable.
    let ok = render_value(
        json!([{"type": format!("{URN}stock_trade"), "action": "buy", "symbol": "AAPL", "quantity": "10", "order_type": "market"}]),
    );
    assert!(ok.approvable);
    assert_eq!(ok.status, RequestStatus::Valid);
}

#[test]
fn unknown_types_render_as_a_labelled_tree_with_a_no_schema_warning() {
    let input = json!([{
        "type": "https://api.example.com/photos",
        "actions": ["read", "write"],
        "geolocation": [{"lat": -32.364, "lng": 153.207}],
        "album": {"name": "Holidays", "shared": false}
    }]);
    let m = render_value(input.clone());
    let d = &m.details[0];
    assert_eq!(d.renderer, Renderer::Generic);
    assert_eq!(d.title, "https://api.example.com/photos");
    assert_eq!(d.risk, Risk::Unknown);
    assert_eq!(d.schema_hash, SchemaHash::of_no_schema());
    assert_eq!(m.display_schemas["https://api.example.com/photos"], SchemaHash::of_no_schema());
    assert!(d.summary.is_none());
    assert!(d.undescribed.is_empty());
    let w: Vec<_> = d.warnings.iter().filter(|w| w.code == WarningCode::NoSchema).collect();
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("No display schema"));
    assert_eq!(d.fields.iter().map(|f| f.label.as_str()).collect::<Vec<_>>(), ["actions", "geolocation", "album"]);
    let geo = field(d, "/geolocation/0/lat");
    assert_eq!(geo.label, "lat");
    assert_eq!(scalar_text(geo), "-32.364");
    assert_eq!(field(d, "/geolocation/0").label, "#1");
    assert_eq!(field(d, "/geolocation/0").label_source, LabelSource::Index);
    assert_eq!(scalar_text(field(d, "/album/shared")), "false");
    // Rendering without a schema is allowed; the signature records it.
    assert!(m.approvable);
    // An empty registry renders built-in types generically too.
    let m = countersign_details::render(
        &details(&read("testdata/valid/stock_trade-limit-buy.json")),
        &Registry::empty(),
        &options(),
    );
    assert_eq!(m.details[0].renderer, Renderer::Generic);
    assert_eq!(m.details[0].fields.len(), 9);
}

fn guardian() -> Value {
    json!([{
        "type": "urn:auth0:schemas:authorization-details:v1:money-transfer",
        "instruction": "Approve the transfer of 150.00 EUR to Bob",
        "properties": {
            "reference": {"display": true, "name": "Reference", "value": "Invoice 7"},
            "transaction_id": {"display": false, "name": "Transaction", "display_order": 3, "value": "tx_8f14e45f"},
            "recipient": {"display": true, "name": "Recipient", "display_order": 2, "description": "Account holder", "value": "Bob Example"},
            "amount": {"display": true, "name": "Amount", "display_order": 1, "value": "150.00 EUR"}
        }
    }])
}

#[test]
fn auth0_guardian_renders_natively_by_display_order() {
    let m = render_value(guardian());
    let d = &m.details[0];
    assert!(m.approvable, "{:#?}", all_warnings(&m));
    assert_eq!(d.renderer, Renderer::Auth0Guardian);
    assert_eq!(d.title, "Auth0 request: money-transfer");
    assert_eq!(d.summary.as_ref().unwrap().text, "Approve the transfer of 150.00 EUR to Bob");
    let registry = registry();
    assert_eq!(d.schema_hash, registry.schema_hash("urn:auth0:schemas:authorization-details:v1:other"));
    assert_ne!(d.schema_hash, SchemaHash::of_no_schema());
    let labels: Vec<&str> = d.fields.iter().map(|f| f.label.as_str()).collect();
    // instruction first, then display_order 1, 2, 3, then the entry without one.
    assert_eq!(labels, ["Instruction", "Amount", "Recipient", "Transaction", "Reference"]);
    let paths: Vec<&str> = d.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/instruction",
            "/properties/amount/value",
            "/properties/recipient/value",
            "/properties/transaction_id/value",
            "/properties/reference/value"
        ]
    );
    assert_eq!(d.fields[1].label_source, LabelSource::Sender);
    assert_eq!(d.fields[2].description.as_deref(), Some("Account holder"));
    assert_eq!(scalar_text(&d.fields[2]), "Bob Example");
    assert!(d.undescribed.is_empty());
}

#[test]
fn auth0_display_false_is_collapsed_never_dropped() {
    let m = render_value(guardian());
    let d = &m.details[0];
    let hidden = d.fields.iter().find(|f| f.key == "transaction_id").expect("display:false entry dropped");
    assert!(hidden.collapsed);
    assert_eq!(scalar_text(hidden), "tx_8f14e45f");
    assert_eq!(hidden.warnings[0].code, WarningCode::HiddenBySender);
    assert_eq!(d.fields.iter().filter(|f| f.collapsed).count(), 1);
}

#[test]
fn auth0_malformed_entries_are_shown_and_invalid() {
    let m = render_value(json!([{
        "type": "urn:auth0:schemas:authorization-details:v1:login",
        "instruction": "Confirm the login",
        "properties": {
            "ip": {"display": "no", "name": "IP address", "value": "203.0.113.7", "colour": "red"},
            "bare": "just a string"
        },
        "extra": 1
    }]));
    let d = &m.details[0];
    assert!(!m.approvable);
    let undescribed: Vec<&str> = d.undescribed.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(undescribed, ["/properties/ip/display", "/properties/ip/colour", "/extra"]);
    assert_eq!(scalar_text(field(d, "/properties/bare")), "just a string");
    assert!(!field(d, "/properties/ip/value").collapsed);
}

#[test]
fn summary_shows_missing_values_as_missing() {
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:acme:ship", "type": "object",
        "x-countersign": {"title": "Ship", "risk": "low", "summary": "Ship {item} to {address.city} by {carrier}"},
        "properties": {
            "type": {"const": "urn:acme:ship"},
            "item": {"type": "string", "x-countersign": {"label": "Item"}},
            "address": {"type": "object", "properties": {"city": {"type": "string", "x-countersign": {"label": "City"}}}},
            "carrier": {"type": ["string", "null"], "x-countersign": {"label": "Carrier"}}
        }
    });
    let r = Registry::from_documents([doc]).unwrap();
    let m = r.render(&details(r#"[{"type":"urn:acme:ship","item":"Lamp","carrier":null}]"#), &options());
    let s = m.details[0].summary.as_ref().unwrap();
    assert_eq!(s.text, "Ship Lamp to [missing: City] by [missing: Carrier]");
    assert!(matches!(&s.parts[3], SummaryPart::Missing { path, .. } if path == "/address/city"));
    let w = warnings_with(&m, WarningCode::MissingValue);
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].path.as_deref(), Some("/address/city"));
}
