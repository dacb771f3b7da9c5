//! The display schemas the server validates, hashes and publishes
//! (`docs/display-schema.md`). [`RegistrySchemas`] is the implementation over
//! the shared registry of `countersign-details`: the built-in types, plus the
//! operator's custom types (`serve --schemas-dir`).

use countersign_details::{Registry, RegistryError, Risk as DetailsRisk, Violation};
use countersign_protocol::device::{Risk, SchemaHash};
use countersign_protocol::rar::AuthorizationDetails;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// Most refusals named in one `error_description`.
pub const MAX_REJECTIONS_DESCRIBED: usize = 5;

/// Why `authorization_details` were refused by the display schemas
/// (answered as `invalid_authorization_details`, RFC 9396 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailsRejection {
    /// Index of the refused object in the array.
    pub index: usize,
    /// JSON Pointer (RFC 6901) inside that object, e.g. `/instructedAmount/amount`
    /// (`""`: the object itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl From<Violation> for DetailsRejection {
    fn from(v: Violation) -> Self {
        Self { index: v.index, path: v.path, message: v.message }
    }
}

/// Longest message of one refusal quoted in an `error_description`.
const MAX_REJECTION_MESSAGE_CHARS: usize = 256;

impl std::fmt::Display for DetailsRejection {
    /// `authorization_details[i]/path: message`, the path quoted bounded and
    /// escaped ([`crate::util::quoted`]: member names come from the agent),
    /// the message cut at 256 characters. The response makes the whole
    /// description legal for RFC 6749 §5.2
    /// (`countersign_protocol::error::sanitize_description`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() { String::new() } else { crate::util::quoted(&self.path) };
        let mut message: String = self.message.chars().take(MAX_REJECTION_MESSAGE_CHARS).collect();
        if self.message.chars().nth(MAX_REJECTION_MESSAGE_CHARS).is_some() {
            message.push_str("...");
        }
        write!(f, "authorization_details[{}]{path}: {message}", self.index)
    }
}

/// The `error_description` for refused details: the first
/// [`MAX_REJECTIONS_DESCRIBED`] refusals, `; `-separated, then how many more.
#[must_use]
pub fn describe_rejections(rejections: &[DetailsRejection]) -> String {
    let mut parts: Vec<String> = rejections.iter().take(MAX_REJECTIONS_DESCRIBED).map(ToString::to_string).collect();
    if rejections.len() > MAX_REJECTIONS_DESCRIBED {
        parts.push(format!("and {} more", rejections.len() - MAX_REJECTIONS_DESCRIBED));
    }
    parts.join("; ")
}

/// The server's view of the shared display schemas.
pub trait DisplaySchemas: Send + Sync {
    /// Validates `details` against the schema of each type; a type without a
    /// schema is refused.
    ///
    /// # Errors
    /// Every refusal found.
    fn validate(&self, details: &AuthorizationDetails) -> Result<(), Vec<DetailsRejection>>;

    /// The hash of the display schema of `detail_type`
    /// ([`SchemaHash::of_no_schema`] for a type without one).
    fn schema_hash(&self, detail_type: &str) -> SchemaHash;

    /// The exact types with a schema (`authorization_details_types_supported`).
    fn types(&self) -> Vec<String>;

    /// Whether `detail_type` has a schema (an exact type, or a member of a
    /// family such as Auth0's `urn:auth0:schemas:authorization-details:v1:*`):
    /// the types a client may register.
    fn supports(&self, detail_type: &str) -> bool;

    /// The document served at `authorization_details_schemas_endpoint`.
    fn schemas_document(&self) -> Value;

    /// The risk of a request carrying `details`: the highest of its types.
    fn risk(&self, details: &AuthorizationDetails) -> Risk;

    /// `display_schemas` of a statement over `details`: one hash per type present.
    fn hashes_for(&self, details: &AuthorizationDetails) -> BTreeMap<String, SchemaHash> {
        details.types().map(|t| (t.to_owned(), self.schema_hash(t))).collect()
    }
}

/// [`DisplaySchemas`] over a [`Registry`] of `countersign-details`.
#[derive(Debug, Clone)]
pub struct RegistrySchemas(Registry);

impl RegistrySchemas {
    /// The built-in schemas (built once per process, then shared).
    ///
    /// # Errors
    /// A built-in schema is broken (the details crate's tests check it is not).
    pub fn builtin() -> Result<Self, RegistryError> {
        static BUILTIN: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        BUILTIN.get_or_init(Registry::builtin).clone().map(Self)
    }

    /// The built-in schemas plus every `*.json` schema directly in `dir`.
    ///
    /// # Errors
    /// [`RegistryError`] naming the directory or the file at fault.
    pub fn with_dir(dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        Registry::with_dir(dir).map(Self)
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.0
    }
}

impl From<Registry> for RegistrySchemas {
    fn from(r: Registry) -> Self {
        Self(r)
    }
}

/// The protocol's risk for a schema's: a type without a schema counts as
/// critical (the protocol has no "unknown").
fn wire_risk(r: DetailsRisk) -> Risk {
    match r {
        DetailsRisk::Low => Risk::Low,
        DetailsRisk::Medium => Risk::Medium,
        DetailsRisk::High => Risk::High,
        DetailsRisk::Critical | DetailsRisk::Unknown => Risk::Critical,
    }
}

impl DisplaySchemas for RegistrySchemas {
    fn validate(&self, details: &AuthorizationDetails) -> Result<(), Vec<DetailsRejection>> {
        self.0.validate(details).map_err(|v| v.into_iter().map(DetailsRejection::from).collect())
    }

    fn schema_hash(&self, detail_type: &str) -> SchemaHash {
        self.0.schema_hash(detail_type)
    }

    fn types(&self) -> Vec<String> {
        self.0.types().into_iter().map(str::to_owned).collect()
    }

    fn supports(&self, detail_type: &str) -> bool {
        self.0.schema(detail_type).is_some()
    }

    fn schemas_document(&self) -> Value {
        self.0.schemas_document()
    }

    fn risk(&self, details: &AuthorizationDetails) -> Risk {
        // Unknown sorts above Critical, and maps to critical.
        details.types().map(|t| self.0.risk(t)).max().map_or(Risk::Medium, wire_risk)
    }

    fn hashes_for(&self, details: &AuthorizationDetails) -> BTreeMap<String, SchemaHash> {
        self.0.display_schemas(details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(text: &str) -> AuthorizationDetails {
        AuthorizationDetails::from_param(text).unwrap()
    }

    #[test]
    fn descriptions_are_legal_and_name_index_and_path() {
        let r = DetailsRejection {
            index: 1,
            path: "/sym\u{0421}bol".into(),
            message: "required field \"x\\y\" is missing; \\u{202E} escaped".into(),
        };
        // Legal once made an error_description (as every answer does).
        let text = countersign_protocol::error::sanitize_description(&r.to_string());
        assert_eq!(
            text,
            "authorization_details[1]/sym<U+0421>bol: required field 'x<U+005C>y' is missing; <U+202E> escaped"
        );
        assert!(text.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'));
        let many = vec![r; 7];
        assert!(describe_rejections(&many).ends_with("; and 2 more"));
    }

    #[test]
    fn risk_is_the_highest_of_the_types() {
        let s = RegistrySchemas::builtin().unwrap();
        let email = r#"{"type":"urn:countersign:details:v1:send_email","to":["a@example.com"],"subject":"Hi"}"#;
        let event = r#"{"type":"urn:countersign:details:v1:calendar_event","action":"create","title":"T",
                        "start":"2026-03-05T14:30:00Z"}"#;
        let pay = r#"{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},
                      "creditorName":"B","creditorAccount":{"iban":"DK5000400440116243"}}"#;
        assert_eq!(s.risk(&details(&format!("[{event}]"))), Risk::Low);
        assert_eq!(s.risk(&details(&format!("[{event},{email}]"))), Risk::Medium);
        assert_eq!(s.risk(&details(&format!("[{email},{pay}]"))), Risk::Critical);
        assert_eq!(s.risk(&details(r#"[{"type":"urn:example:unknown"}]"#)), Risk::Critical);
        assert!(s.supports("urn:auth0:schemas:authorization-details:v1:money-transfer"));
        assert!(!s.supports("urn:example:unknown"));
        assert!(!s.types().iter().any(|t| t.ends_with('*')), "families are not types");
    }
}
