//! A detail's title and summary line: the schema's template filled with
//! the values as shown, each revealed in its own context.

use crate::limits::escape_token;
use crate::model::{Field, FieldValue, JsonType, Summary, SummaryPart};
use crate::registry::Entry;
use crate::schema::{Piece, SchemaSet};
use crate::text::Revealed;
use countersign_text::Context;
use serde_json::Value;

/// The detail's title: the schema's (prose), or the type (an identifier);
/// a family's also names the member type.
pub(super) fn title_of(entry: &Entry, type_name: &str) -> Revealed {
    let mut title = match &entry.root.title {
        Some(t) => Revealed::of(t, Context::Line),
        None => Revealed::of(type_name, Context::Identifier),
    };
    if let Some(prefix) = entry.id.strip_suffix('*') {
        let name = type_name.strip_prefix(prefix).unwrap_or(type_name);
        title.push(": ", Context::Line).push(name, Context::Identifier);
    }
    title
}

pub(super) fn flagged(field: &Field) -> bool {
    !field.warnings.is_empty()
        || match &field.value {
            FieldValue::Object { fields } => fields.iter().any(flagged),
            FieldValue::Array { items } => items.iter().any(flagged),
            _ => false,
        }
}

/// A value's reading form in a summary line: a scalar as sent (classified
/// in its format's context) or its reading aid (generated text, prose), an
/// amount as its grouped form, a list of scalars joined.
pub(super) fn summary_value(field: &Field) -> Revealed {
    match &field.value {
        FieldValue::Scalar { text, display, .. } => match display {
            Some(d) => Revealed::line(d),
            None => Revealed::of(text, field.format.text_context()),
        },
        FieldValue::Money { display, display_characters, .. } => {
            let mut r = Revealed::new();
            let at: Vec<usize> = display_characters.iter().map(|c| c.position).collect();
            r.push_at(display, &at, None);
            r
        }
        FieldValue::Array { items } => {
            if items.iter().all(|i| matches!(i.value, FieldValue::Scalar { .. } | FieldValue::Money { .. })) {
                let mut r = Revealed::new();
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        r.push(", ", Context::Line);
                    }
                    r.append(&summary_value(item));
                }
                r
            } else if items.len() == 1 {
                Revealed::line("1 item")
            } else {
                Revealed::line(&format!("{} items", items.len()))
            }
        }
        FieldValue::Object { fields } => Revealed::line(&format!("({} fields)", fields.len())),
    }
}

pub(super) fn fill_summary(pieces: &[Piece], fields: &[Field], doc: &Value) -> (Summary, Vec<String>) {
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    let mut line = Revealed::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => {
                // The template's text comes from the schema: untrusted too.
                let shown = Revealed::line(t);
                line.append(&shown);
                let (text, characters) = shown.into_parts();
                parts.push(SummaryPart::Text { text, characters });
            }
            Piece::Value(keys) => {
                let path: String = keys.iter().map(|k| format!("/{}", escape_token(k))).collect();
                let mut level = fields;
                let mut found: Option<&Field> = None;
                for key in keys {
                    found = level.iter().find(|f| &f.key == key);
                    match found {
                        Some(Field { value: FieldValue::Object { fields }, .. }) => level = fields,
                        _ => level = &[],
                    }
                }
                let present =
                    found.filter(|f| !matches!(&f.value, FieldValue::Scalar { json_type: JsonType::Null, .. }));
                match present {
                    Some(f) => {
                        // A flagged value (a U+202E in a symbol…) would act on
                        // the whole line: its characters to reveal come with
                        // it (its field shows it as sent too).
                        let shown = summary_value(f);
                        line.append(&shown);
                        let (text, characters) = shown.into_parts();
                        parts.push(SummaryPart::Value { path, text, flagged: flagged(f), characters });
                    }
                    None => {
                        let mut set = SchemaSet::root(doc);
                        for key in keys {
                            set = set.property(key).unwrap_or_else(SchemaSet::generic);
                        }
                        let label = set.hints().label.unwrap_or_else(|| keys.join("."));
                        let shown = Revealed::line(&format!("[missing: {label}]"));
                        line.append(&shown);
                        let (text, characters) = shown.into_parts();
                        parts.push(SummaryPart::Missing { path: path.clone(), text, characters });
                        missing.push(path);
                    }
                }
            }
        }
    }
    let (text, characters) = line.into_parts();
    (Summary { text, characters, parts }, missing)
}
