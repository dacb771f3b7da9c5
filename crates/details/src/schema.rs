//! Reading display hints out of a JSON Schema document.
//!
//! For display, the subschemas that apply at one place in the instance are
//! gathered into a [`SchemaSet`]: the schema itself, the targets of its local
//! `$ref`s and the branches of `allOf`, `anyOf`, `oneOf`, `then`, `else` and
//! `dependentSchemas`. A member is *described* when a schema in the set lists
//! it under `properties`, or the set has an `additionalProperties` schema
//! (a map). Hints are taken from the first schema in the set that has them.

use crate::model::{Format, Risk};
use serde_json::{Map, Value};

/// Hints at the root of a display schema.
#[derive(Debug, Clone)]
pub(crate) struct RootHints {
    pub title: Option<String>,
    pub summary: Option<Template>,
    pub risk: Risk,
    pub icon: Option<String>,
    pub layout: Layout,
}

/// How a type is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Fields,
    Auth0Guardian,
    /// `urn:countersign:details:v1:mcp_tool_call`: one field per argument.
    McpToolCall,
}

/// Hints for one value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hints {
    pub label: Option<String>,
    pub format: Option<Format>,
    pub emphasis: bool,
    pub sensitive: bool,
    pub description: Option<String>,
}

/// The key that holds display hints.
pub const HINTS: &str = "x-countersign";

fn hint_obj(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get(HINTS).and_then(Value::as_object)
}

fn str_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn root_hints(doc: &Value) -> Result<RootHints, String> {
    let empty = Map::new();
    let h = hint_obj(doc).unwrap_or(&empty);
    let risk = match h.get("risk").and_then(Value::as_str) {
        Some("low") => Risk::Low,
        Some("medium") => Risk::Medium,
        Some("high") => Risk::High,
        Some("critical") => Risk::Critical,
        Some(other) => return Err(format!("unknown risk {other:?}")),
        None => Risk::Unknown,
    };
    let layout = match h.get("layout").and_then(Value::as_str) {
        None | Some("fields") => Layout::Fields,
        Some("auth0-guardian") => Layout::Auth0Guardian,
        Some("mcp-tool-call") => Layout::McpToolCall,
        Some(other) => return Err(format!("unknown layout {other:?}")),
    };
    let summary = match h.get("summary").and_then(Value::as_str) {
        Some(t) => Some(Template::parse(t)?),
        None => None,
    };
    Ok(RootHints {
        title: str_of(h, "title").or_else(|| doc.get("title").and_then(Value::as_str).map(str::to_owned)),
        summary,
        risk,
        icon: str_of(h, "icon"),
        layout,
    })
}

/// The subschemas applying at one place of the instance.
#[derive(Debug, Clone)]
pub(crate) struct SchemaSet<'a> {
    doc: &'a Value,
    parts: Vec<&'a Value>,
    /// No schema at all: everything is described generically.
    generic: bool,
}

const MAX_PARTS: usize = 64;
const MAX_HOPS: usize = 16;

/// Resolves a local `$ref` (`#`, `#/pointer`, or `<$id>#/pointer`).
pub(crate) fn resolve_ref<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let id = doc.get("$id").and_then(Value::as_str).unwrap_or_default();
    let fragment = match reference.strip_prefix('#') {
        Some(f) => f,
        None => reference.strip_prefix(id).and_then(|r| r.strip_prefix('#'))?,
    };
    if fragment.is_empty() {
        Some(doc)
    } else if fragment.starts_with('/') {
        doc.pointer(fragment)
    } else {
        None
    }
}

fn gather<'a>(doc: &'a Value, schema: &'a Value, out: &mut Vec<&'a Value>, hops: usize) {
    if out.len() >= MAX_PARTS || hops > MAX_HOPS || !schema.is_object() {
        return;
    }
    if out.iter().any(|s| std::ptr::eq(*s, schema)) {
        return;
    }
    out.push(schema);
    if let Some(target) = schema.get("$ref").and_then(Value::as_str).and_then(|r| resolve_ref(doc, r)) {
        gather(doc, target, out, hops + 1);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            for s in list {
                gather(doc, s, out, hops + 1);
            }
        }
    }
    for key in ["then", "else"] {
        if let Some(s) = schema.get(key) {
            gather(doc, s, out, hops + 1);
        }
    }
    if let Some(map) = schema.get("dependentSchemas").and_then(Value::as_object) {
        for s in map.values() {
            gather(doc, s, out, hops + 1);
        }
    }
}

impl<'a> SchemaSet<'a> {
    pub(crate) fn root(doc: &'a Value) -> Self {
        let mut parts = Vec::new();
        gather(doc, doc, &mut parts, 0);
        Self { doc, parts, generic: false }
    }

    pub(crate) fn generic() -> Self {
        static NULL: Value = Value::Null;
        Self { doc: &NULL, parts: Vec::new(), generic: true }
    }

    pub(crate) fn is_generic(&self) -> bool {
        self.generic
    }

    fn child(&self, schemas: Vec<&'a Value>) -> Self {
        let mut parts = Vec::new();
        for s in schemas {
            gather(self.doc, s, &mut parts, 0);
        }
        Self { doc: self.doc, parts, generic: false }
    }

    /// Property names listed under `properties`, in schema order.
    pub(crate) fn property_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for part in &self.parts {
            if let Some(props) = part.get("properties").and_then(Value::as_object) {
                for k in props.keys() {
                    if !names.contains(&k.as_str()) {
                        names.push(k.as_str());
                    }
                }
            }
        }
        names
    }

    /// The set for member `key`, or `None` when the schema does not describe
    /// it.
    pub(crate) fn property(&self, key: &str) -> Option<Self> {
        if self.generic {
            return Some(Self::generic());
        }
        let listed: Vec<&'a Value> =
            self.parts.iter().filter_map(|p| p.get("properties").and_then(|ps| ps.get(key))).collect();
        if !listed.is_empty() {
            return Some(self.child(listed));
        }
        let maps: Vec<&'a Value> =
            self.parts.iter().filter_map(|p| p.get("additionalProperties").filter(|a| a.is_object())).collect();
        (!maps.is_empty()).then(|| self.child(maps))
    }

    /// The set for array item `index` (items of a described array are always
    /// described, possibly without hints).
    pub(crate) fn item(&self, index: usize) -> Self {
        if self.generic {
            return Self::generic();
        }
        let prefix: Vec<&'a Value> = self
            .parts
            .iter()
            .filter_map(|p| p.get("prefixItems").and_then(Value::as_array).and_then(|a| a.get(index)))
            .collect();
        if !prefix.is_empty() {
            return self.child(prefix);
        }
        let items: Vec<&'a Value> =
            self.parts.iter().filter_map(|p| p.get("items").filter(|i| i.is_object())).collect();
        self.child(items)
    }

    /// Hints from the first schema that has each one; `title` and
    /// `description` are fallbacks for `label` and `description`.
    pub(crate) fn hints(&self) -> Hints {
        let mut h = Hints::default();
        let (mut emphasis, mut sensitive) = (None, None);
        for part in &self.parts {
            if let Some(x) = hint_obj(part) {
                h.label = h.label.take().or_else(|| str_of(x, "label"));
                h.format = h.format.or_else(|| x.get("format").and_then(Value::as_str).and_then(Format::parse));
                emphasis = emphasis.or_else(|| x.get("emphasis").and_then(Value::as_bool));
                sensitive = sensitive.or_else(|| x.get("sensitive").and_then(Value::as_bool));
                h.description = h.description.take().or_else(|| str_of(x, "description"));
            }
        }
        for part in &self.parts {
            h.label = h.label.take().or_else(|| part.get("title").and_then(Value::as_str).map(str::to_owned));
            h.description =
                h.description.take().or_else(|| part.get("description").and_then(Value::as_str).map(str::to_owned));
        }
        h.emphasis = emphasis.unwrap_or(false);
        h.sensitive = sensitive.unwrap_or(false);
        h
    }
}

/// A summary template: literal text and `{member}` or `{member.member}`
/// placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Value(Vec<String>),
}

impl Template {
    pub(crate) fn parse(t: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' => name.push(c),
                            Some(c) => return Err(format!("summary: unexpected {c:?} in a placeholder")),
                            None => return Err("summary: unclosed placeholder".to_owned()),
                        }
                    }
                    let path: Vec<String> = name.split('.').map(str::to_owned).collect();
                    if path.iter().any(String::is_empty) {
                        return Err(format!("summary: empty name in placeholder {{{name}}}"));
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Value(path));
                }
                '}' => return Err("summary: unmatched '}' (write '}}')".to_owned()),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self(pieces))
    }

    /// Checks that every placeholder names a property the schema describes.
    pub(crate) fn check(&self, doc: &Value) -> Result<(), String> {
        for piece in &self.0 {
            if let Piece::Value(path) = piece {
                let mut set = SchemaSet::root(doc);
                for key in path {
                    set = set
                        .property(key)
                        .ok_or_else(|| format!("summary: {{{}}} is not a described property", path.join(".")))?;
                }
            }
        }
        Ok(())
    }
}

/// Every `$ref` in a schema document, with its JSON Pointer.
pub(crate) fn refs(doc: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&crate::limits::escape_token(k));
                    if k == "$ref" {
                        if let Some(r) = item.as_str() {
                            out.push((path.clone(), r.to_owned()));
                        }
                    }
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_parsing() {
        let t = Template::parse("{action} {quantity} {symbol} {{x}}").unwrap();
        assert_eq!(
            t.0,
            vec![
                Piece::Value(vec!["action".into()]),
                Piece::Text(" ".into()),
                Piece::Value(vec!["quantity".into()]),
                Piece::Text(" ".into()),
                Piece::Value(vec!["symbol".into()]),
                Piece::Text(" {x}".into()),
            ]
        );
        assert_eq!(Template::parse("{a.b}").unwrap().0, vec![Piece::Value(vec!["a".into(), "b".into()])]);
        assert!(Template::parse("{a").is_err());
        assert!(Template::parse("a}").is_err());
        assert!(Template::parse("{a b}").is_err());
        assert!(Template::parse("{a..b}").is_err());
    }

    #[test]
    fn sets_follow_refs_and_allof() {
        let doc = json!({
            "$id": "urn:x",
            "properties": {"m": {"$ref": "#/$defs/money"}},
            "allOf": [{"properties": {"n": {"x-countersign": {"label": "N"}}}}],
            "$defs": {"money": {"x-countersign": {"format": "money", "label": "Amount"}, "properties": {"amount": {}}}}
        });
        let root = SchemaSet::root(&doc);
        assert_eq!(root.property_names(), ["m", "n"]);
        let m = root.property("m").unwrap();
        assert_eq!(m.hints().format, Some(Format::Money));
        assert_eq!(m.hints().label.as_deref(), Some("Amount"));
        assert!(m.property("amount").is_some());
        assert!(m.property("other").is_none());
        assert_eq!(root.property("n").unwrap().hints().label.as_deref(), Some("N"));
        assert!(resolve_ref(&doc, "urn:x#/$defs/money").is_some());
        assert!(resolve_ref(&doc, "urn:y#/$defs/money").is_none());
    }

    #[test]
    fn recursive_refs_terminate() {
        let doc = json!({"$ref": "#", "properties": {"a": {"$ref": "#"}}});
        let root = SchemaSet::root(&doc);
        let a = root.property("a").unwrap().property("a").unwrap();
        assert_eq!(a.property_names(), ["a"]);
    }
}
