//! Arbitrary bytes as `authorization_details`: parse, validate, render,
//! serialize. Besides "never panics", it checks the renderer's promises:
//! refused ⇔ unparseable or over a limit, approvable ⇒ valid, and every
//! string shown is exactly the input at its path.
#![no_main]

use countersign_details::{render_param, DetailView, Field, FieldValue, Registry, RenderOptions, RequestStatus};
use countersign_protocol::rar::AuthorizationDetails;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::builtin().expect("built-in registry"))
}

fn check_fields(fields: &[Field], detail: &Value) {
    for f in fields {
        match &f.value {
            FieldValue::Scalar { text, .. } => {
                if let Some(Value::String(s)) = detail.pointer(&f.path) {
                    assert_eq!(text, s, "text altered at {}", f.path);
                }
            }
            FieldValue::Money { amount, currency, .. } => {
                assert_eq!(
                    detail.pointer(&format!("{}/amount", f.path)).and_then(Value::as_str),
                    Some(amount.as_str())
                );
                assert_eq!(
                    detail.pointer(&format!("{}/currency", f.path)).and_then(Value::as_str),
                    Some(currency.as_str())
                );
            }
            FieldValue::Object { fields } => check_fields(fields, detail),
            FieldValue::Array { items } => check_fields(items, detail),
        }
    }
}

fn check_detail(d: &DetailView, input: &Value) {
    let detail = &input[d.index];
    assert_eq!(detail["type"].as_str(), Some(d.type_name.as_str()));
    check_fields(&d.fields, detail);
    check_fields(&d.undescribed, detail);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = RenderOptions { locale: "de-DE".to_owned(), utc_offset_minutes: -150 };
    let model = render_param(text, registry(), &options);
    serde_json::to_string(&model).expect("model serializes");
    match AuthorizationDetails::from_param(text) {
        Err(_) => assert_eq!(model.status, RequestStatus::Refused),
        Ok(details) => {
            let validated = registry().validate(&details);
            if model.approvable {
                assert_eq!(model.status, RequestStatus::Valid);
            }
            if model.status != RequestStatus::Refused {
                let input = details.to_value();
                assert_eq!(model.details.len(), details.len());
                for d in &model.details {
                    check_detail(d, &input);
                }
                // Known types: validate and render agree.
                if details.types().all(|t| registry().schema(t).is_some()) {
                    assert_eq!(validated.is_ok(), model.approvable);
                }
            } else {
                assert!(validated.is_err(), "refused by render, accepted by validate");
            }
        }
    }
});
