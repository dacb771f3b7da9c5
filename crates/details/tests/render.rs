//! Rendering: formats, order, summary, wrapping, and the serialized model.

mod common;

use common::*;
use countersign_details::{FieldValue, Format, JsonType, RenderOptions, WarningCode};
use serde_json::{json, Value};

fn render_with(v: Value, locale: &str, offset: i32) -> countersign_details::DisplayModel {
    countersign_details::render(
        &details_value(v),
        &registry(),
        &RenderOptions { locale: locale.to_owned(), utc_offset_minutes: offset },
    )
}

#[test]
fn money_keeps_the_exact_decimal_string_and_currency() {
    let input: Value = serde_json::from_str(&read("testdata/valid/payment_initiation-large-amount-bic.json")).unwrap();
    for (locale, display) in [("en-US", "1,250,000.00 CHF"), ("de-DE", "1.250.000,00 CHF"), ("ja", "1 250 000.00 CHF")]
    {
        let m = render_with(input.clone(), locale, 0);
        let f = field(&m.details[0], "/instructedAmount");
        assert_eq!(f.format, Format::Money);
        assert_eq!(
            f.value,
            FieldValue::Money {
                amount: "1250000.00".into(),
                currency: "CHF".into(),
                text: "1250000.00 CHF".into(),
                display: display.into(),
                characters: vec![],
                display_characters: vec![],
            }
        );
        assert!(f.emphasis);
        assert_eq!(m.details[0].summary.as_ref().unwrap().text, format!("Pay {display} to Müller & Söhne AG"));
    }
    // Trailing zeros and long fractions are kept as sent.
    let m = render_value(
        json!([{"type": format!("{URN}money_transfer"), "amount": {"amount": "0.10000000", "currency": "EUR"},
        "creditor_name": "A", "creditor_iban": "DE75512108001245126199"}]),
    );
    let FieldValue::Money { text, .. } = &field(&m.details[0], "/amount").value else { panic!() };
    assert_eq!(text, "0.10000000 EUR");
}

#[test]
fn a_json_number_where_money_is_expected_is_shown_as_written_with_a_warning() {
    let m = render_text(&read("testdata/invalid/payment_initiation-amount-as-number.json"));
    let f = field(&m.details[0], "/instructedAmount");
    assert!(matches!(f.value, FieldValue::Object { .. }));
    assert_eq!(f.warnings[0].code, WarningCode::InvalidFormat);
    assert_eq!(scalar_text(field(&m.details[0], "/instructedAmount/amount")), "123.5");
    assert!(!m.approvable);
}

#[test]
fn dates_in_the_users_locale_with_utc_available() {
    let input: Value = serde_json::from_str(&read("testdata/valid/calendar_event-create.json")).unwrap();
    let m = render_with(input.clone(), "en-US", -300);
    let f = field(&m.details[0], "/start");
    let FieldValue::Scalar { text, display, utc, .. } = &f.value else { panic!() };
    assert_eq!(text, "2026-03-05T14:00:00+01:00");
    assert_eq!(display.as_deref(), Some("Thu, Mar 5, 2026, 8:00 AM UTC-05:00"));
    assert_eq!(utc.as_deref(), Some("Thu, Mar 5, 2026, 1:00 PM UTC"));
    assert_eq!(
        m.details[0].summary.as_ref().unwrap().text,
        "create \u{201c}Quarterly review\u{201d} on Thu, Mar 5, 2026, 8:00 AM UTC-05:00"
    );
    let m = render_with(input, "de-DE", 60);
    assert_eq!(scalar_display(field(&m.details[0], "/start")), Some("Do., 5. März 2026, 14:00 UTC+01:00"));
    assert_eq!(scalar_display(field(&m.details[0], "/duration")), Some("1 Stunde 30 Minuten"));
}

#[test]
fn dates_and_durations_that_do_not_parse_are_shown_as_written() {
    let m = render_value(
        json!([{"type": format!("{URN}money_transfer"), "amount": {"amount": "1.00", "currency": "EUR"},
        "creditor_name": "A", "creditor_iban": "DE75512108001245126199", "execution_date": "2026-02-30", "recurrence": "monthly"}]),
    );
    let d = &m.details[0];
    for path in ["/execution_date", "/recurrence"] {
        let f = field(d, path);
        assert_eq!(scalar_display(f), None);
        assert_eq!(f.warnings[0].code, WarningCode::InvalidFormat, "{path}");
    }
    assert_eq!(scalar_text(field(d, "/execution_date")), "2026-02-30");
    let ok = render_text(&read("testdata/valid/money_transfer-sepa.json"));
    assert_eq!(scalar_display(field(&ok.details[0], "/execution_date")), Some("Sun 1 Mar 2026"));
    assert_eq!(scalar_display(field(&ok.details[0], "/recurrence")), Some("1 month"));
}

#[test]
fn fields_follow_schema_order_whatever_order_was_sent() {
    let m = render_value(json!([{"order_type": "market", "quantity": "1", "symbol": "IBM", "action": "sell",
        "type": format!("{URN}stock_trade")}]));
    let keys: Vec<&str> = m.details[0].fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["action", "symbol", "quantity", "order_type"]);
    assert_eq!(m.details[0].summary.as_ref().unwrap().text, "sell 1 IBM (market)");
}

#[test]
fn long_values_are_wrapped_never_truncated() {
    let subject = "word ".repeat(400);
    let m = render_value(json!([{"type": format!("{URN}send_email"), "to": ["a@example.com"], "subject": subject}]));
    let f = field(&m.details[0], "/subject");
    let FieldValue::Scalar { text, wrap, .. } = &f.value else { panic!() };
    assert_eq!(text, &subject);
    assert!(wrap);
    assert_eq!(f.warnings[0].code, WarningCode::LongValue);
    assert!(m.details[0].summary.as_ref().unwrap().text.contains(&subject));
    let short = render_value(json!([{"type": "x", "a": "short"}]));
    let FieldValue::Scalar { wrap, .. } = &short.details[0].fields[0].value else { panic!() };
    assert!(!wrap);
}

#[test]
fn arrays_of_scalars_join_in_the_summary_and_nested_objects_render() {
    let m = render_text(&read("testdata/valid/purchase-two-items.json"));
    let d = &m.details[0];
    assert_eq!(d.summary.as_ref().unwrap().text, "Buy 2 items from Example Outdoor Supply for 169.80 EUR");
    assert_eq!(field(d, "/items/1").label, "#2");
    assert_eq!(field(d, "/items/1/unit_price").label, "Unit price");
    assert_eq!(
        field(d, "/items/0/quantity").value,
        FieldValue::Scalar { json_type: JsonType::Number, text: "1".into(), display: None, utc: None, wrap: false }
    );
    let m = render_text(&read("testdata/valid/file_access-read-project.json"));
    assert_eq!(
        m.details[0].summary.as_ref().unwrap().text,
        "read access to /home/erika/projects/countersign, /home/erika/notes/todo.md"
    );
    assert_eq!(field(&m.details[0], "/paths/0").format, Format::Path);
}

/// The full model of one realistic request, as the UI receives it. To update
/// after a deliberate change: `UPDATE_SNAPSHOTS=1 cargo test -p countersign-details --test render`.
#[test]
fn snapshot_of_a_full_display_model() {
    let m = render_text(&read("testdata/valid/mixed-request.json"));
    let actual = serde_json::to_string_pretty(&m).unwrap() + "\n";
    let file = path("tests/snapshots/mixed-request.model.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)", file.display()));
    if actual != expected {
        let line = actual.lines().zip(expected.lines()).position(|(a, e)| a != e).unwrap_or(0);
        let new = file.with_extension("json.new");
        let _ = std::fs::write(&new, &actual);
        panic!(
            "display model changed at line {}: got {:?}, snapshot has {:?}; full output in {}",
            line + 1,
            actual.lines().nth(line).unwrap_or_default(),
            expected.lines().nth(line).unwrap_or_default(),
            new.display()
        );
    }
}

/// snake_case member names, lowercase tags, no Rust-isms (no `Some`, no
/// externally tagged enums), so the TypeScript UI can mirror it.
#[test]
fn the_model_serializes_cleanly_for_the_ui() {
    fn check(v: &Value, at: &str, in_map: bool) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    if !in_map {
                        assert!(
                            k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                                && k.starts_with(|c: char| c.is_ascii_lowercase()),
                            "{at}: member {k:?} is not snake_case"
                        );
                    }
                    // display_schemas is a map keyed by type.
                    check(item, &format!("{at}/{k}"), k == "display_schemas");
                }
            }
            Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| check(x, &format!("{at}/{i}"), false)),
            _ => {}
        }
    }
    let mut inputs: Vec<String> = json_files("testdata/valid").into_iter().map(|(_, t)| t).collect();
    inputs.push(r#"[{"type":"x","a\u202e":"\u200b"}]"#.to_owned());
    inputs.push("[1]".to_owned());
    for text in inputs {
        let v = serde_json::to_value(render_text(&text)).unwrap();
        check(&v, "", false);
        let s = v.to_string();
        for rustism in ["\"Some\"", "\"None\"", "\"Scalar\"", "\"Money\"", "\"Danger\"", "\"Valid\""] {
            assert!(!s.contains(rustism), "{rustism} in {s}");
        }
        for tag in ["kind", "status", "renderer", "risk", "code", "severity", "format", "label_source", "json_type"] {
            for value in s.split(&format!("\"{tag}\":")).skip(1) {
                if let Some(word) = value.strip_prefix('"').and_then(|r| r.split('"').next()) {
                    assert!(
                        word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
                        "{tag}: {word:?}"
                    );
                }
            }
        }
    }
}
