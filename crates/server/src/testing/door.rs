//! An operator's custom display schema for tests (`docs/display-schema.md`
//! §6): opening a door.

use serde_json::{json, Value};

/// The schema of the type `urn:acme:door`: titled "Open a door", risk low,
/// summary "Open {door}"; one member `door`, a string of at most 80
/// characters labelled "Door"; nothing else. Tests change members for their
/// variants (`schema["x-countersign"]["risk"] = json!("high")`).
#[must_use]
pub fn door_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:acme:door",
        "type": "object",
        "x-countersign": { "title": "Open a door", "risk": "low", "summary": "Open {door}" },
        "required": ["type", "door"],
        "properties": {
            "type": { "const": "urn:acme:door" },
            "door": { "type": "string", "maxLength": 80, "x-countersign": { "label": "Door" } }
        },
        "additionalProperties": false
    })
}
