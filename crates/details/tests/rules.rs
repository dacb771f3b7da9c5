//! The display rules of DESIGN.md §6 / issue 4, one test each.

mod common;

use common::*;
use countersign_details::{
    FieldValue, Format, LabelSource, Registry, Renderer, RequestStatus, Risk, Severity, SummaryPart, WarningCode,
};
use countersign_protocol::device::ids::SchemaHash;
use serde_json::{json, Value};

const MCP: &str = "urn:countersign:details:v1:mcp_tool_call";

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
        let t = input[0]["type"].as_str().unwrap();
        if t.starts_with("urn:auth0:") {
            continue; // see auth0_guardian_renders_natively
        }
        if t == MCP {
            continue; // see mcp_tool_call_shows_every_member
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

// ---------------------------------------------------------------------------
// MCP tool calls (layout `mcp-tool-call`)
// ---------------------------------------------------------------------------

const HASH: &str = "wNtvYffWuEpkU6SKkx7kGvjLplg5lJJ_0Ylz0UsFtq8";

/// The detail `countersign-mcp` sends, with `arguments` as given.
fn mcp_call(arguments: Value) -> Value {
    json!([{
        "type": MCP,
        "server": "filesystem",
        "tool": "write_file",
        "tool_title": "Write file",
        "tool_description": "Create a new file or completely overwrite an existing file with new content.\nUse with caution.",
        "risk": "high",
        "arguments": arguments,
        "arguments_sha256": HASH
    }])
}

/// The per-argument fields, under "Arguments".
fn arguments(d: &countersign_details::DetailView) -> &[countersign_details::Field] {
    let list = d.fields.iter().find(|f| f.path == "/arguments").expect("an Arguments field");
    assert_eq!(list.label, "Arguments");
    match &list.value {
        FieldValue::Array { items } => items,
        other => panic!("arguments shown as {other:?}"),
    }
}

#[test]
fn mcp_tool_call_renders_one_field_per_argument_in_the_order_sent() {
    let m = render_value(mcp_call(json!([
        {"name": "path", "title": "Path", "description": "Where to write", "schema_type": "string", "value": "/tmp/x/notes.txt"},
        {"name": "content", "schema_type": "string", "value": "line 1\nline 2\n"},
        {"name": "mode", "title": "mode", "schema_type": "integer|null", "value": null}
    ])));
    let d = &m.details[0];
    assert!(m.approvable, "{:#?}", all_warnings(&m));
    assert!(all_warnings(&m).is_empty(), "{:#?}", all_warnings(&m));
    assert_eq!(d.renderer, Renderer::Schema);
    assert_eq!(d.schema_hash, registry().schema_hash(MCP));
    assert_eq!((d.title.as_str(), d.risk, d.icon.as_deref()), ("MCP tool call", Risk::High, Some("tool")));
    assert_eq!(d.summary.as_ref().unwrap().text, "Run write_file on filesystem");
    let top: Vec<(&str, &str)> = d.fields.iter().map(|f| (f.path.as_str(), f.label.as_str())).collect();
    assert_eq!(
        top,
        [
            ("/server", "MCP server"),
            ("/tool", "Tool"),
            ("/tool_title", "Tool title (from the server)"),
            ("/tool_description", "What the server says the tool does"),
            ("/risk", "Risk (gateway policy)"),
            ("/arguments", "Arguments"),
            ("/arguments_sha256", "Arguments hash (SHA-256)"),
        ]
    );
    assert!(d.fields[1].emphasis, "the tool stands out");
    assert_eq!(d.fields[3].format, Format::MultilineText);
    assert_eq!(
        scalar_text(&d.fields[3]),
        "Create a new file or completely overwrite an existing file with new content.\nUse with caution."
    );
    assert_eq!(scalar_text(&d.fields[6]), HASH);
    assert_eq!(d.fields[6].format, Format::Code);

    let args = arguments(d);
    let shown: Vec<(&str, &str, LabelSource, &str)> =
        args.iter().map(|f| (f.path.as_str(), f.label.as_str(), f.label_source, f.key.as_str())).collect();
    assert_eq!(
        shown,
        [
            // A title labels the argument; the name the tool receives stays visible.
            ("/arguments/0/value", "Path (path: string)", LabelSource::Sender, "path"),
            // The declared type stays visible beside the name.
            ("/arguments/1/value", "content: string", LabelSource::Sender, "content"),
            // A title equal to the name is not repeated.
            ("/arguments/2/value", "mode: integer|null", LabelSource::Sender, "mode"),
        ]
    );
    assert_eq!(args[0].description.as_deref(), Some("Where to write"));
    assert_eq!(args[1].description, None);
    assert_eq!(scalar_text(&args[0]), "/tmp/x/notes.txt");
    assert_eq!(scalar_text(&args[1]), "line 1\nline 2\n");
    assert_eq!(scalar_text(&args[2]), "null");
    // Multi-line values keep their line breaks as layout: no warning above.
    assert_eq!(args[1].format, Format::MultilineText);
    assert!(d.undescribed.is_empty());
}

#[test]
fn mcp_tool_call_nested_arguments_are_shown_field_by_field() {
    let input: Value = serde_json::from_str(&read("testdata/valid/mcp_tool_call-nested-arguments.json")).unwrap();
    let m = render_value(input.clone());
    let d = &m.details[0];
    assert!(m.approvable, "{:#?}", all_warnings(&m));
    let args = arguments(d);
    assert_eq!(
        args.iter().map(|f| f.label.as_str()).collect::<Vec<_>>(),
        ["Query (query: object)", "dry_run: boolean|null", "tags: array"]
    );
    assert_eq!(args[0].description.as_deref(), Some("The query as a structured object"));
    assert_eq!(scalar_text(field(d, "/arguments/0/value/table")), "orders");
    assert_eq!(field(d, "/arguments/0/value/where/status").label, "status");
    assert_eq!(scalar_text(field(d, "/arguments/0/value/limit")), "10");
    assert_eq!(scalar_text(field(d, "/arguments/1/value")), "null");
    assert_eq!(field(d, "/arguments/2/value/1").label, "#2");
    assert_eq!(scalar_text(field(d, "/arguments/2/value/1")), "report");
    assert_texts_unaltered(&m, &input);
}

/// Like `every_field_present_is_shown`: every member of an MCP call is a
/// field, or (for an argument's `name`, `title`, `description` and
/// `schema_type`) is shown on its argument's field.
#[test]
fn mcp_tool_call_shows_every_member() {
    let mut files: Vec<(String, String)> =
        json_files("testdata/valid").into_iter().chain(json_files("testdata/invalid")).collect();
    files.retain(|(name, _)| name.starts_with("mcp_tool_call-"));
    assert!(files.len() >= 5, "{files:?}");
    for (name, text) in files {
        let input: Value = serde_json::from_str(&text).unwrap();
        let m = render_value(input.clone());
        let d = &m.details[0];
        // One field per argument, its value's.
        let args = arguments(d);
        assert_eq!(args.len(), input[0]["arguments"].as_array().unwrap().len(), "{name}");
        for (i, f) in args.iter().enumerate() {
            assert_eq!(f.path, format!("/arguments/{i}/value"), "{name}");
        }
        let shown: Vec<&str> = all_fields(d).iter().map(|f| f.path.as_str()).collect();
        let mut want = Vec::new();
        pointers(&input[0], "", &mut want);
        for p in want {
            if p == "/type" || shown.contains(&p.as_str()) {
                continue;
            }
            // An argument item, or one of its members shown on its field.
            let parts: Vec<&str> = p.split('/').collect();
            let i: usize = parts[2].parse().unwrap_or_else(|_| panic!("{name}: {p} not shown"));
            let arg = &input[0]["arguments"][i];
            let f = field(d, &format!("/arguments/{i}/value"));
            match parts.get(3).copied() {
                None => {}
                Some("name") => assert!(f.label.contains(arg["name"].as_str().unwrap()), "{name}: {p}"),
                Some("title") => assert!(f.label.contains(arg["title"].as_str().unwrap()), "{name}: {p}"),
                Some("description") => assert_eq!(f.description.as_deref(), arg["description"].as_str(), "{name}: {p}"),
                // Beside the name, and compared with the value (a
                // disagreement is a warning).
                Some("schema_type") => assert!(f.label.contains(arg["schema_type"].as_str().unwrap()), "{name}: {p}"),
                _ => panic!("{name}: {p} not shown; shown: {shown:?}"),
            }
        }
    }
}

#[test]
fn mcp_tool_call_a_value_not_of_the_declared_type_is_flagged() {
    let m = render_value(mcp_call(json!([
        {"name": "count", "schema_type": "integer", "value": "12"},
        {"name": "ratio", "schema_type": "integer", "value": 1.5},
        {"name": "ok", "schema_type": "integer", "value": 3},
        {"name": "maybe", "schema_type": "string|null", "value": null},
        {"name": "list", "schema_type": "array", "value": {"a": 1}}
    ])));
    let d = &m.details[0];
    let flagged: Vec<(&str, &str)> = warnings_with(&m, WarningCode::InvalidFormat)
        .iter()
        .map(|w| (w.path.as_deref().unwrap(), w.message.as_str()))
        .collect();
    assert_eq!(
        flagged,
        [
            (
                "/arguments/0/value",
                "The tool's schema declares the type \"integer\" for this argument, but the value is a string"
            ),
            (
                "/arguments/1/value",
                "The tool's schema declares the type \"integer\" for this argument, but the value is a number"
            ),
            (
                "/arguments/4/value",
                "The tool's schema declares the type \"array\" for this argument, but the value is an object"
            ),
        ]
    );
    // On the argument's own field, as a caution; the value is shown as sent.
    let args = arguments(d);
    assert_eq!(args[0].warnings.len(), 1);
    assert_eq!(args[0].warnings[0].severity, Severity::Caution);
    assert_eq!(scalar_text(&args[0]), "12");
    assert!(args[2].warnings.is_empty() && args[3].warnings.is_empty());
    // A warning, not a schema violation: the schema allows any value.
    assert!(m.approvable);
}

#[test]
fn mcp_tool_call_arguments_sharing_a_name_are_flagged() {
    let m = render_value(mcp_call(json!([
        {"name": "path", "value": "/tmp/harmless.txt"},
        {"name": "content", "value": "x"},
        {"name": "path", "value": "/home/zoe/.ssh/authorized_keys"}
    ])));
    let d = &m.details[0];
    let args = arguments(d);
    // Both shown, each flagged, naming the other.
    assert_eq!(args.len(), 3);
    for i in [0, 2] {
        let w: Vec<_> = args[i].warnings.iter().filter(|w| w.code == WarningCode::InvalidFormat).collect();
        assert_eq!(w.len(), 1, "{:#?}", args[i].warnings);
        assert_eq!(w[0].severity, Severity::Danger);
        assert_eq!(w[0].path.as_deref(), Some(args[i].path.as_str()));
        assert!(w[0].message.starts_with("Several arguments are named \"path\" (#1, #3)"), "{}", w[0].message);
    }
    assert!(args[1].warnings.is_empty());
    assert_eq!(scalar_text(&args[2]), "/home/zoe/.ssh/authorized_keys");
}

#[test]
fn mcp_tool_call_malformed_arguments_are_shown_never_dropped() {
    let m = render_value(mcp_call(json!([
        "rm -rf /",
        {"name": "path"},
        {"name": "mode", "value": 1, "label": "Harmless"}
    ])));
    let d = &m.details[0];
    assert!(!m.approvable, "each breaks the schema");
    let args = arguments(d);
    assert_eq!(args.len(), 3);
    // Not an object: shown as sent at its own path, with a warning.
    assert_eq!((args[0].path.as_str(), args[0].label.as_str()), ("/arguments/0", "#1"));
    assert_eq!(scalar_text(&args[0]), "rm -rf /");
    assert!(args[0]
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::InvalidFormat && w.message.contains("not an object")));
    // No value: shown as missing, with a warning.
    assert_eq!(args[1].label, "path");
    assert!(args[1].warnings.iter().any(|w| w.message == "No value was sent for this argument"));
    // A member the schema does not describe: under "Not described".
    assert_eq!(d.undescribed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["/arguments/2/label"]);
    assert_eq!(scalar_text(&d.undescribed[0]), "Harmless");
    // Arguments that are not a list at all are shown as sent.
    let m = render_value(mcp_call(json!({"path": "/tmp/x"})));
    assert!(!m.approvable);
    assert_eq!(scalar_text(field(&m.details[0], "/arguments/path")), "/tmp/x");
    // No arguments: an empty list, shown as such.
    let m = render_value(mcp_call(json!([])));
    assert!(m.approvable);
    assert!(arguments(&m.details[0]).is_empty());
}

#[test]
fn mcp_tool_call_a_long_value_is_shown_whole() {
    // 200 lines, 5,000 characters.
    let content: String = (0..200).map(|i| format!("{i:03} {}\n", "x".repeat(20))).collect();
    assert_eq!((content.chars().count(), content.lines().count()), (5_000, 200));
    let m = render_value(mcp_call(json!([
        {"name": "path", "value": "/tmp/x"},
        {"name": "content", "schema_type": "string", "value": content}
    ])));
    let d = &m.details[0];
    let f = &arguments(d)[1];
    assert_eq!((f.path.as_str(), f.label.as_str()), ("/arguments/1/value", "content: string"));
    match &f.value {
        FieldValue::Scalar { text, wrap, .. } => {
            assert_eq!(text, &content, "the value is the input exactly");
            assert!(wrap);
        }
        other => panic!("{other:?}"),
    }
    let long: Vec<_> = f.warnings.iter().filter(|w| w.code == WarningCode::LongValue).collect();
    assert_eq!(long.len(), 1);
    assert!(long[0].message.contains("5000 characters, shown in full"), "{}", long[0].message);
    // Line breaks are layout, not control characters.
    assert!(warnings_with(&m, WarningCode::ControlCharacter).is_empty());
    assert!(m.approvable);
}
