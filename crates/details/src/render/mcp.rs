//! MCP tool calls (`urn:countersign:details:v1:mcp_tool_call`, layout
//! `mcp-tool-call`, sent by `countersign-mcp`): the call's members in schema
//! order, and under "Arguments" one field per argument in the order sent,
//! labelled by the title the tool's input schema gives it (with its name),
//! else its name; every value whole. Everything but `type` and
//! `arguments_sha256` is the upstream server's or the model's text: checked
//! and shown like any other value, never trusted.

use crate::model::{Field, FieldValue, Format, Severity, Warning, WarningCode};
use crate::schema::SchemaSet;
use crate::text::{self, Revealed, TextKind};
use countersign_text::Context;
use serde_json::{Map, Value};

use super::*;

impl DetailRenderer<'_> {
    /// The members in schema order (`arguments` laid out per argument),
    /// then any other member as the schema describes it, else under "Not
    /// described".
    pub(super) fn mcp_tool_call(&mut self, map: &Map<String, Value>, set: &SchemaSet<'_>) -> Vec<Field> {
        let mut fields = Vec::new();
        let names = set.property_names();
        for name in &names {
            if *name == "type" {
                continue;
            }
            if let (Some(v), Some(child)) = (map.get(*name), set.property(name)) {
                let path = join("", name);
                fields.push(match (*name, v) {
                    ("arguments", Value::Array(items)) => self.mcp_arguments(items, &child, &path),
                    _ => self.field(name, v, &child, &path, Label::Schema),
                });
            }
        }
        for (k, v) in map {
            if k == "type" || names.contains(&k.as_str()) {
                continue;
            }
            let path = join("", k);
            match set.property(k) {
                Some(child) => fields.push(self.field(k, v, &child, &path, Label::Key)),
                None => self.push_undescribed(k, v, &path),
            }
        }
        fields
    }

    /// The `arguments` list: one field per argument, in the order sent;
    /// an item that is not an argument object is shown as sent, with a
    /// warning; arguments sharing a name are flagged.
    fn mcp_arguments(&mut self, items: &[Value], set: &SchemaSet<'_>, path: &str) -> Field {
        // The list's own label and hints, as the schema gives them.
        let mut list = self.field("arguments", &Value::Array(Vec::new()), set, path, Label::Schema);
        list.warnings.extend(self.many_items(items.len(), path));
        let names: Vec<Option<&str>> = items.iter().map(|item| item.get("name").and_then(Value::as_str)).collect();
        let mut fields = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let base = format!("{path}/{i}");
            let mut f = match item {
                Value::Object(arg) => self.mcp_argument(i, arg, &set.item(i), &base),
                other => {
                    let mut f = self.field(&i.to_string(), other, &SchemaSet::generic(), &base, Label::Index(i));
                    f.warnings.push(self.invalid_format(
                        &base,
                        "This argument is not an object {\"name\", \"value\"}; shown as sent".to_owned(),
                    ));
                    f
                }
            };
            if let Some(name) = names[i] {
                let same: Vec<String> = names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n == Some(name))
                    .map(|(j, _)| format!("#{}", j + 1))
                    .collect();
                if same.len() > 1 {
                    let mut message = Revealed::line("Several arguments are named \"");
                    message.quote(name, Context::Identifier).push(
                        &format!(
                            "\" ({}): a call passes one value per name, so the tool may not receive what is shown here",
                            same.join(", ")
                        ),
                        Context::Line,
                    );
                    let w = Warning::quoting(WarningCode::InvalidFormat, Severity::Danger, message);
                    f.warnings.push(self.warn(w, &f.path));
                }
            }
            fields.push(f);
        }
        list.value = FieldValue::Array { items: fields };
        list
    }

    /// One argument `{name, title?, description?, schema_type?, value}` as
    /// the field of its value, labelled `Title (name: type)`, `name: type`
    /// or `name` as the members are there.
    fn mcp_argument(&mut self, i: usize, arg: &Map<String, Value>, set: &SchemaSet<'_>, base: &str) -> Field {
        let path = format!("{base}/value");
        let name = arg.get("name").and_then(Value::as_str);
        let title = arg.get("title").and_then(Value::as_str).filter(|t| !t.is_empty());
        let key = name.map_or_else(|| i.to_string(), str::to_owned);
        // A title is the upstream's label: the name the tool receives stays
        // visible beside it, and so does the type the tool declares.
        let declared = arg.get("schema_type").and_then(Value::as_str);
        let label = match (title.filter(|t| Some(*t) != name), name, declared) {
            (Some(t), Some(n), Some(ty)) => Label::Sender(format!("{t} ({n}: {ty})")),
            (Some(t), Some(n), None) => Label::Sender(format!("{t} ({n})")),
            (Some(t), None, Some(ty)) => Label::Sender(format!("{t} ({ty})")),
            (Some(t), None, None) => Label::Sender(t.to_owned()),
            (None, Some(n), Some(ty)) => Label::Sender(format!("{n}: {ty}")),
            (None, Some(_), None) => Label::Key,
            (None, None, _) => Label::Index(i),
        };
        let value_set = set.property("value").unwrap_or_else(SchemaSet::generic);
        let mut f = match arg.get("value") {
            Some(v) => self.field(&key, v, &value_set, &path, label),
            None => {
                let mut f = self.field(&key, &Value::Null, &value_set, &path, label);
                f.warnings.push(self.invalid_format(&path, "No value was sent for this argument".to_owned()));
                f
            }
        };
        if let Some(Value::String(d)) = arg.get("description") {
            // The tool's own words, often over several lines.
            let kind = TextKind { format: Format::MultilineText, in_key: false };
            self.text_warnings(d, kind, &format!("{base}/description"), &mut f.warnings);
            f.description_characters = text::reveal_in(d, Context::MultiLine);
            f.description = Some(d.clone());
        }
        if let Some(Value::String(declared)) = arg.get("schema_type") {
            let tpath = format!("{base}/schema_type");
            let kind = TextKind { format: Format::Identifier, in_key: false };
            self.text_warnings(declared, kind, &tpath, &mut f.warnings);
            if let Some(v) = arg.get("value").filter(|v| !declared_type_admits(declared, v)) {
                let mut message = Revealed::line("The tool's schema declares the type \"");
                message
                    .quote(declared, Context::Identifier)
                    .push(&format!("\" for this argument, but the value is {}", json_type_words(v)), Context::Line);
                let w = Warning::quoting(WarningCode::InvalidFormat, Severity::Caution, message);
                f.warnings.push(self.warn(w, &path));
            }
        }
        for (k, v) in arg {
            // Members shown structurally (label, description, type check)
            // when well typed; anything else is shown as sent.
            let structural = match k.as_str() {
                "value" => true,
                "name" | "title" | "description" | "schema_type" => v.is_string(),
                _ => false,
            };
            if !structural {
                self.push_undescribed(k, v, &join(base, k));
            }
        }
        f
    }
}

/// Whether `value` is of one of the JSON Schema types `declared` names
/// (`string`, or joined: `string|null`). An unknown type admits nothing.
fn declared_type_admits(declared: &str, value: &Value) -> bool {
    declared.split('|').any(|t| match t {
        "string" => value.is_string(),
        "number" => value.is_number(),
        // JSON Schema: a number with a zero fractional part (1.0 included).
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
            }
            _ => false,
        },
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => false,
    })
}

/// What a value is, in words: `a string`, `an object`…
fn json_type_words(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean (true/false)",
        Value::Null => "null",
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_types_follow_json_schema() {
        assert!(declared_type_admits("string", &json!("x")));
        assert!(declared_type_admits("string|null", &json!(null)));
        assert!(declared_type_admits("integer", &json!(3)));
        assert!(declared_type_admits("integer", &json!(3.0)));
        assert!(!declared_type_admits("integer", &json!(3.5)));
        assert!(declared_type_admits("number", &json!(3)));
        assert!(declared_type_admits("array", &json!([])));
        assert!(declared_type_admits("object", &json!({})));
        assert!(declared_type_admits("boolean", &json!(false)));
        assert!(!declared_type_admits("string", &json!(1)));
        assert!(!declared_type_admits("String", &json!("x")), "type names are exact");
        assert!(!declared_type_admits("", &json!("x")));
        assert!(!declared_type_admits("any", &json!("x")));
    }
}
