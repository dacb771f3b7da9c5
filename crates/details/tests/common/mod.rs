//! Helpers shared by the integration tests.
#![allow(dead_code)]

use countersign_details::{DetailView, DisplayModel, Field, FieldValue, Registry, RenderOptions, Warning, WarningCode};
use countersign_protocol::rar::AuthorizationDetails;
use serde_json::Value;
use std::path::PathBuf;

pub const URN: &str = "urn:countersign:details:v1:";

pub fn registry() -> Registry {
    Registry::builtin().unwrap_or_else(|e| panic!("built-in registry: {e}"))
}

pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn read(rel: &str) -> String {
    let p = path(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `*.json` files in a folder under the crate, sorted.
pub fn json_files(rel: &str) -> Vec<(String, String)> {
    let dir = path(rel);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), read(&format!("{rel}/{n}")))).collect()
}

pub fn details(text: &str) -> AuthorizationDetails {
    AuthorizationDetails::from_param(text).unwrap_or_else(|e| panic!("{e}"))
}

pub fn details_value(v: Value) -> AuthorizationDetails {
    AuthorizationDetails::from_value(v).unwrap_or_else(|e| panic!("{e}"))
}

pub fn options() -> RenderOptions {
    RenderOptions { locale: "en-GB".to_owned(), utc_offset_minutes: 60 }
}

pub fn render_value(v: Value) -> DisplayModel {
    countersign_details::render(&details_value(v), &registry(), &options())
}

pub fn render_text(text: &str) -> DisplayModel {
    countersign_details::render_param(text, &registry(), &options())
}

/// Every field of a detail, depth first (fields, then undescribed).
pub fn all_fields(d: &DetailView) -> Vec<&Field> {
    fn walk<'a>(fields: &'a [Field], out: &mut Vec<&'a Field>) {
        for f in fields {
            out.push(f);
            match &f.value {
                FieldValue::Object { fields } => walk(fields, out),
                FieldValue::Array { items } => walk(items, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&d.fields, &mut out);
    walk(&d.undescribed, &mut out);
    out
}

pub fn field<'a>(d: &'a DetailView, path: &str) -> &'a Field {
    all_fields(d).into_iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no field at {path}"))
}

/// Every warning in the model: request, details, fields.
pub fn all_warnings(m: &DisplayModel) -> Vec<&Warning> {
    let mut out: Vec<&Warning> = m.warnings.iter().collect();
    for d in &m.details {
        out.extend(d.warnings.iter());
        for f in all_fields(d) {
            out.extend(f.warnings.iter());
        }
    }
    out
}

pub fn warnings_with(m: &DisplayModel, code: WarningCode) -> Vec<&Warning> {
    all_warnings(m).into_iter().filter(|w| w.code == code).collect()
}

pub fn scalar_text(f: &Field) -> &str {
    match &f.value {
        FieldValue::Scalar { text, .. } => text,
        other => panic!("{} is not a scalar: {other:?}", f.path),
    }
}

/// The formatted text of a scalar field (`None`: shown as written).
pub fn scalar_display(f: &Field) -> Option<&str> {
    match &f.value {
        FieldValue::Scalar { display, .. } => display.as_deref(),
        other => panic!("{} is not a scalar: {other:?}", f.path),
    }
}

/// JSON Pointers of every member and item under a value (not the value
/// itself).
pub fn pointers(v: &Value, base: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let p = format!("{base}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(item, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{base}/{i}");
                out.push(p.clone());
                pointers(item, &p, out);
            }
        }
        _ => {}
    }
}

/// Asserts that every scalar shown has exactly the text of the input at its
/// path (strings as sent; other scalars as JSON).
pub fn assert_texts_unaltered(m: &DisplayModel, input: &Value) {
    for d in &m.details {
        let detail = &input[d.index];
        for f in all_fields(d) {
            if let FieldValue::Scalar { text, .. } = &f.value {
                let original = detail.pointer(&f.path).unwrap_or_else(|| panic!("{} not in input", f.path));
                match original {
                    Value::String(s) => assert_eq!(text, s, "{}", f.path),
                    Value::Number(_) | Value::Bool(_) | Value::Null => {}
                    other => panic!("{}: scalar shown for {other}", f.path),
                }
            }
        }
    }
}
