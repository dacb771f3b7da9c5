//! One gated tool call: the `authorization_details` the user is shown
//! (`urn:countersign:details:v1:mcp_tool_call`, schemas/mcp_tool_call.schema.json),
//! and the check that what was granted is exactly that call.
//!
//! The detail carries every argument and `arguments_sha256`, the SHA-256
//! (base64url) of the RFC 8785 canonical form of the arguments object. The
//! gateway forwards a call only when the granted details are exactly the
//! detail it sent and that hash, computed again over the arguments about to
//! be forwarded, is the one in them.

use crate::policy::Risk;
use countersign_protocol::jcs;
use serde_json::{json, Map, Value};

/// The details type of a gated tool call.
pub const DETAIL_TYPE: &str = "urn:countersign:details:v1:mcp_tool_call";

/// What the upstream says of a tool (untrusted text, shown as such).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolInfo {
    /// `title` (or `annotations.title`).
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `inputSchema`.
    pub input_schema: Map<String, Value>,
}

/// A call waiting for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct GatedCall {
    /// The tool.
    pub tool: String,
    /// The arguments exactly as the client sent them; what is forwarded.
    pub arguments: Map<String, Value>,
    /// The detail sent for it.
    pub detail: Value,
}

/// Why a call cannot be asked about, or a grant does not cover it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The arguments have no canonical form (RFC 8785: a number beyond
    /// I-JSON's range).
    #[error("its arguments cannot be put in canonical form: {0}")]
    NotCanonical(String),
    /// The granted details are not the call.
    #[error("what was approved is not this call: {0}")]
    Mismatch(&'static str),
}

/// `arguments_sha256`: SHA-256 over the RFC 8785 form of `arguments`,
/// base64url without padding.
///
/// # Errors
/// [`CallError::NotCanonical`].
pub fn arguments_sha256(arguments: &Map<String, Value>) -> Result<String, CallError> {
    let bytes = jcs::canonicalize_strict(&Value::Object(arguments.clone()))
        .map_err(|e| CallError::NotCanonical(e.to_string()))?;
    Ok(jcs::sha256_b64url(&bytes))
}

/// The JSON Schema type(s) `property` declares, joined with `|`.
fn schema_type(property: &Value) -> Option<String> {
    match property.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(ts)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            (!names.is_empty() && names.len() == ts.len()).then(|| names.join("|"))
        }
        _ => None,
    }
}

impl GatedCall {
    /// The call of `tool` on `server` with `arguments`, as the user will see it.
    ///
    /// # Errors
    /// [`CallError::NotCanonical`].
    pub fn new(
        server: &str,
        tool: &str,
        info: Option<&ToolInfo>,
        arguments: Map<String, Value>,
        risk: Risk,
    ) -> Result<Self, CallError> {
        let hash = arguments_sha256(&arguments)?;
        let properties = info.and_then(|i| i.input_schema.get("properties")).and_then(Value::as_object);
        let items: Vec<Value> = arguments
            .iter()
            .map(|(name, value)| {
                let mut item = Map::new();
                item.insert("name".into(), Value::String(name.clone()));
                if let Some(p) = properties.and_then(|ps| ps.get(name)) {
                    if let Some(t) = p.get("title").and_then(Value::as_str) {
                        item.insert("title".into(), Value::String(t.to_owned()));
                    }
                    if let Some(d) = p.get("description").and_then(Value::as_str) {
                        item.insert("description".into(), Value::String(d.to_owned()));
                    }
                    if let Some(t) = schema_type(p) {
                        item.insert("schema_type".into(), Value::String(t));
                    }
                }
                item.insert("value".into(), value.clone());
                Value::Object(item)
            })
            .collect();
        let mut detail = Map::new();
        detail.insert("type".into(), json!(DETAIL_TYPE));
        detail.insert("server".into(), json!(server));
        detail.insert("tool".into(), json!(tool));
        if let Some(i) = info {
            if let Some(t) = &i.title {
                detail.insert("tool_title".into(), json!(t));
            }
            if let Some(d) = &i.description {
                detail.insert("tool_description".into(), json!(d));
            }
        }
        detail.insert("risk".into(), json!(risk.as_str()));
        detail.insert("arguments".into(), Value::Array(items));
        detail.insert("arguments_sha256".into(), json!(hash));
        Ok(Self { tool: tool.to_owned(), arguments, detail: Value::Object(detail) })
    }

    /// The `authorization_details` parameter: this one detail.
    #[must_use]
    pub fn authorization_details(&self) -> Value {
        json!([self.detail])
    }

    /// Whether `granted` (the token response's `authorization_details`)
    /// covers exactly this call, as it is about to be forwarded.
    ///
    /// # Errors
    /// [`CallError::Mismatch`] saying what differs.
    pub fn check_grant(&self, granted: Option<&Value>) -> Result<(), CallError> {
        let granted = match granted {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(CallError::Mismatch("the granted details are not an array")),
            None => return Err(CallError::Mismatch("the token carries no details")),
        };
        let [only] = granted.as_slice() else {
            return Err(CallError::Mismatch("the token does not carry exactly one detail"));
        };
        if only != &self.detail {
            return Err(CallError::Mismatch("the granted detail differs from the one asked for"));
        }
        let hash = arguments_sha256(&self.arguments)?;
        if only.get("arguments_sha256").and_then(Value::as_str) != Some(hash.as_str()) {
            return Err(CallError::Mismatch("the arguments to forward are not the ones approved"));
        }
        if only.get("tool").and_then(Value::as_str) != Some(self.tool.as_str()) {
            return Err(CallError::Mismatch("the tool to call is not the one approved"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file() -> ToolInfo {
        ToolInfo {
            title: Some("Write file".into()),
            description: Some("Create or overwrite a file.".into()),
            input_schema: json!({"type": "object", "properties": {
                "path": {"type": "string", "title": "Path", "description": "Where"},
                "content": {"type": "string"},
                "mode": {"type": ["integer", "null"]}
            }})
            .as_object()
            .unwrap()
            .clone(),
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_detail_holds_every_argument_labelled_from_the_schema_in_the_order_sent() {
        let call = GatedCall::new(
            "filesystem",
            "write_file",
            Some(&write_file()),
            args(json!({"content": "a\nb", "path": "/tmp/x", "mode": null, "extra": {"k": [1, 2]}})),
            Risk::High,
        )
        .unwrap();
        let d = &call.detail;
        assert_eq!(d["type"], DETAIL_TYPE);
        assert_eq!((d["server"].as_str(), d["tool"].as_str()), (Some("filesystem"), Some("write_file")));
        assert_eq!(d["tool_title"], "Write file");
        assert_eq!(d["tool_description"], "Create or overwrite a file.");
        assert_eq!(d["risk"], "high");
        assert_eq!(
            d["arguments"],
            json!([
                {"name": "content", "schema_type": "string", "value": "a\nb"},
                {"name": "path", "title": "Path", "description": "Where", "schema_type": "string", "value": "/tmp/x"},
                {"name": "mode", "schema_type": "integer|null", "value": null},
                {"name": "extra", "value": {"k": [1, 2]}}
            ])
        );
        // The hash is over the canonical form: member order does not matter.
        let reordered = args(json!({"path": "/tmp/x", "extra": {"k": [1, 2]}, "mode": null, "content": "a\nb"}));
        assert_eq!(d["arguments_sha256"], arguments_sha256(&reordered).unwrap());
        assert_eq!(d["arguments_sha256"].as_str().unwrap().len(), 43);
        assert_eq!(call.authorization_details(), json!([d]));
    }

    /// RFC 8785 §3.2.3 sorts members by UTF-16 code units; the test vector
    /// from the RFC's appendix pins the hash input.
    #[test]
    fn the_hash_is_sha256_of_the_rfc8785_form() {
        let a = args(json!({"b": 2, "a": "é", "c": [1.5e1, true]}));
        let canonical = br#"{"a":"\xc3\xa9","b":2,"c":[15,true]}"#;
        let canonical = String::from_utf8_lossy(canonical).replace("\\xc3\\xa9", "é");
        assert_eq!(arguments_sha256(&a).unwrap(), jcs::sha256_b64url(canonical.as_bytes()));
        // A number beyond I-JSON's range has no canonical form.
        let e = arguments_sha256(&args(json!({"n": 18_446_744_073_709_551_615_u64}))).unwrap_err();
        assert!(matches!(e, CallError::NotCanonical(_)), "{e}");
    }

    #[test]
    fn a_grant_covers_only_the_exact_call() {
        let call =
            GatedCall::new("fs", "write_file", None, args(json!({"path": "/tmp/a", "content": "ok"})), Risk::High)
                .unwrap();
        let granted = call.authorization_details();
        call.check_grant(Some(&granted)).unwrap();

        // The arguments to forward changed after the approval (injected).
        let mut tampered = call.clone();
        tampered.arguments.insert("content".into(), json!("rm -rf /"));
        assert_eq!(
            tampered.check_grant(Some(&granted)),
            Err(CallError::Mismatch("the arguments to forward are not the ones approved"))
        );
        // Another tool under the approved detail.
        let mut other_tool = call.clone();
        other_tool.tool = "delete_file".into();
        assert!(matches!(other_tool.check_grant(Some(&granted)), Err(CallError::Mismatch(_))));
        // A grant of another detail: one argument differs.
        let mut other = granted.clone();
        other[0]["arguments"][1]["value"] = json!("not ok");
        assert_eq!(
            call.check_grant(Some(&other)),
            Err(CallError::Mismatch("the granted detail differs from the one asked for"))
        );
        // Two details, none, not an array.
        assert!(call.check_grant(Some(&json!([granted[0], granted[0]]))).is_err());
        assert!(call.check_grant(Some(&json!([]))).is_err());
        assert!(call.check_grant(Some(&json!({}))).is_err());
        assert_eq!(call.check_grant(None), Err(CallError::Mismatch("the token carries no details")));
    }
}
