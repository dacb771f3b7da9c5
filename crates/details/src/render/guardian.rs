//! Auth0 Guardian details (`urn:auth0:schemas:authorization-details:v1:*`):
//! `instruction`, then `properties` by `display_order`, hidden entries
//! collapsed, never dropped.

use crate::model::{Field, Format, Severity, Warning, WarningCode};
use crate::schema::SchemaSet;
use crate::text::TextKind;
use serde_json::{Map, Value};

use super::*;

impl DetailRenderer<'_> {
    /// Auth0 Guardian: `instruction`, then `properties` by `display_order`
    /// (entries without one after, in the order sent).
    pub(super) fn guardian(&mut self, map: &Map<String, Value>, set: &SchemaSet<'_>) -> Vec<Field> {
        let mut fields = Vec::new();
        if let Some(v) = map.get("instruction") {
            let child = set.property("instruction").unwrap_or_else(SchemaSet::generic);
            let mut f = self.field("instruction", v, &child, "/instruction", Label::Schema);
            f.emphasis = true;
            fields.push(f);
        }
        match map.get("properties") {
            Some(Value::Object(props)) => {
                let mut entries: Vec<(usize, &String, &Value)> =
                    props.iter().enumerate().map(|(i, (k, v))| (i, k, v)).collect();
                let order = |v: &Value| v.get("display_order").and_then(Value::as_i64);
                entries.sort_by_key(|(i, _, v)| (order(v).is_none(), order(v), *i));
                for (_, key, entry) in entries {
                    let base = join("/properties", key);
                    match entry {
                        Value::Object(e) => fields.push(self.guardian_entry(key, e, &base)),
                        other => fields.push(self.field(key, other, &SchemaSet::generic(), &base, Label::Key)),
                    }
                }
            }
            Some(other) => {
                fields.push(self.field("properties", other, &SchemaSet::generic(), "/properties", Label::Key))
            }
            None => {}
        }
        for (k, v) in map {
            if !matches!(k.as_str(), "type" | "instruction" | "properties") {
                self.push_undescribed(k, v, &join("", k));
            }
        }
        fields
    }

    pub(super) fn guardian_entry(&mut self, key: &str, e: &Map<String, Value>, base: &str) -> Field {
        let path = format!("{base}/value");
        let label = match e.get("name").and_then(Value::as_str) {
            Some(name) => Label::Sender(name.to_owned()),
            None => Label::Key,
        };
        let mut f = match e.get("value") {
            Some(v) => self.field(key, v, &SchemaSet::generic(), &path, label),
            None => {
                let mut f = self.field(key, &Value::Null, &SchemaSet::generic(), &path, label);
                f.warnings.push(self.invalid_format(&path, "No value was sent for this entry".to_owned()));
                f
            }
        };
        if let Some(d) = e.get("description") {
            let dpath = format!("{base}/description");
            match d {
                Value::String(s) => {
                    self.text_warnings(s, TextKind { format: Format::Text, in_key: false }, &dpath, &mut f.warnings);
                    f.description_characters = description_characters(Some(s));
                    f.description = Some(s.clone());
                }
                other => self.push_undescribed("description", other, &dpath),
            }
        }
        if e.get("display") == Some(&Value::Bool(false)) {
            f.collapsed = true;
            f.warnings.push(self.warn(
                Warning::new(
                    WarningCode::HiddenBySender,
                    Severity::Info,
                    "The sender marked this entry as hidden (display: false); it is shown collapsed",
                ),
                &path,
            ));
        }
        for (k, v) in e {
            // Members shown structurally (label, order, collapse) when well
            // typed; anything else is shown as sent.
            let structural = match k.as_str() {
                "value" | "description" => true,
                "name" => v.is_string(),
                "display" => v.is_boolean(),
                "display_order" => v.as_i64().is_some(),
                _ => false,
            };
            if !structural {
                self.push_undescribed(k, v, &join(base, k));
            }
        }
        f
    }
}
