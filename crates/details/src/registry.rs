//! The registry of display schemas: built-in, operator-supplied (a
//! directory), or fetched from a server (documents pinned by hash).
//!
//! Every schema is checked when loaded: strict JSON (no duplicate keys, safe
//! numbers), the display-hint meta-schema, `$id` present and unique, only
//! document-local `$ref`s (so a schema's hash covers everything used to render
//! with it), a summary template naming described properties, and compilation
//! as JSON Schema draft 2020-12 with format validation. The validator's
//! retriever serves registry documents only and refuses every other URI: no
//! file or network access, ever.

use crate::limits;
use crate::model::Risk;
use crate::schema::{self, Layout, RootHints};
use crate::text::{visible_escape, Revealed};
use countersign_protocol::device::ids::SchemaHash;
use countersign_protocol::jcs;
use countersign_protocol::rar::{AuthorizationDetail, AuthorizationDetails};
use countersign_text::Context;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, Retrieve, Uri, ValidationError, Validator};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// `("schemas/<name>.schema.json", its text)` for each name, embedded.
macro_rules! builtin_schemas {
    ($($name:literal),+ $(,)?) => {
        [$((
            concat!("schemas/", $name, ".schema.json"),
            include_str!(concat!("../../../schemas/", $name, ".schema.json")),
        )),+]
    };
}

/// The built-in schema files, embedded at build time: `(file, text)`.
pub const BUILTIN_SCHEMAS: [(&str, &str); 13] = builtin_schemas![
    "payment_initiation",
    "account_information",
    "customer_information",
    "stock_trade",
    "money_transfer",
    "purchase",
    "send_email",
    "calendar_event",
    "file_access",
    "code_deploy",
    "database_query",
    "auth0_guardian",
    "mcp_tool_call",
];

/// The built-in schemas parsed, each with its origin for errors.
fn builtin_docs() -> Result<Vec<(String, Value)>, RegistryError> {
    BUILTIN_SCHEMAS
        .iter()
        .map(|(file, text)| {
            let origin = format!("built-in {file}");
            let doc = jcs::parse_strict(text)
                .map_err(|e| RegistryError::Schema { file: origin.clone(), message: e.to_string() })?;
            Ok((origin, doc))
        })
        .collect()
}

/// The meta-schema for display schemas (JSON Schema 2020-12 plus the
/// `x-countersign` hints), `schemas/meta/x-countersign.schema.json`.
pub const META_SCHEMA: &str = include_str!("../../../schemas/meta/x-countersign.schema.json");

/// Namespace of the project's own types: `urn:countersign:details:v1:<name>`.
pub const URN_PREFIX: &str = "urn:countersign:details:v1:";

/// Version of the document [`Registry::schemas_document`] publishes.
pub const DOCUMENT_VERSION: u64 = 1;

/// Most violations reported for one detail.
const MAX_VIOLATIONS: usize = 50;

/// Why a registry could not be built. Every variant names the file or
/// document at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The directory could not be listed, or a file in it read.
    #[error("{path}: {message}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A schema is not acceptable.
    #[error("{file}: {message}")]
    Schema {
        /// The file (or `document #n` / `built-in …`).
        file: String,
        /// What is wrong, with the JSON Pointer where it applies.
        message: String,
    },
    /// Two schemas declare the same `$id` (written in the escape grammar,
    /// as every untrusted text in these errors).
    #[error("{file}: type \"{id}\" is already defined by {first}")]
    Duplicate {
        /// The later file.
        file: String,
        /// The `$id`.
        id: String,
        /// The file that defined it first.
        first: String,
    },
    /// A published schemas document is malformed or a hash does not match.
    #[error("schemas document: {0}")]
    Document(String),
}

/// One way a detail breaks its schema or a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Index of the detail in `authorization_details`.
    pub index: usize,
    /// JSON Pointer within the detail (`""` = the detail itself; for a
    /// missing required member, the pointer it would have).
    pub path: String,
    /// What is wrong (untrusted text in it is escaped).
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { String::new() } else { visible_escape(&self.path) };
        write!(f, "authorization_details[{}]{path}: {}", self.index, self.message)
    }
}

pub(crate) struct Entry {
    pub id: String,
    pub schema: Value,
    pub hash: SchemaHash,
    validator: Validator,
    pub root: RootHints,
    pub origin: String,
    /// `$id` ends in `:*`: the schema covers every type with this prefix.
    family: bool,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("id", &self.id).field("hash", &self.hash).field("origin", &self.origin).finish()
    }
}

/// A violation as the renderer shows it: the message quotes input exactly,
/// with the characters to reveal ([`Violation`] has it escaped, for error
/// texts).
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub index: usize,
    pub path: String,
    pub message: Revealed,
}

impl From<Found> for Violation {
    fn from(f: Found) -> Self {
        Violation { index: f.index, path: f.path, message: f.message.escaped() }
    }
}

impl Entry {
    pub(crate) fn violations(&self, index: usize, detail: &AuthorizationDetail) -> Vec<Found> {
        let value = Value::Object(detail.as_map().clone());
        self.validator
            .iter_errors(&value)
            .take(MAX_VIOLATIONS)
            .map(|e| {
                let (path, message) = describe(&e);
                Found { index, path, message }
            })
            .collect()
    }
}

fn describe(e: &ValidationError<'_>) -> (String, Revealed) {
    let path = e.instance_path().as_str().to_owned();
    // Trusted words, then untrusted text quoted (a member name, a pattern or
    // the allowed values of a schema).
    let words = |s: &str| Revealed::line(s);
    let quoted = |intro: &str, s: &str| {
        let mut m = Revealed::line(intro);
        m.push("\"", Context::Line).quote(s, Context::Line).push("\"", Context::Line);
        m
    };
    let compact = |intro: &str, v: &Value| {
        let mut m = Revealed::line(intro);
        m.quote(&v.to_string(), Context::Line);
        m
    };
    let message = match e.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let missing = format!("{path}/{}", limits::escape_token(name));
            let mut m = quoted("required field ", name);
            m.push(" is missing", Context::Line);
            return (missing, m);
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let mut m = words("field(s) not allowed here: ");
            for (i, name) in unexpected.iter().enumerate() {
                if i > 0 {
                    m.push(", ", Context::Line);
                }
                m.push("\"", Context::Line).quote(name, Context::Line).push("\"", Context::Line);
            }
            return (path, m);
        }
        ValidationErrorKind::Type { kind } => match kind {
            TypeKind::Single(t) => format!("must be of type {t}"),
            TypeKind::Multiple(set) => {
                let list: Vec<String> = set.iter().map(|t| t.to_string()).collect();
                format!("must be of type {}", list.join(" or "))
            }
        },
        ValidationErrorKind::Enum { options } => return (path, compact("must be one of ", options)),
        ValidationErrorKind::Constant { expected_value } => return (path, compact("must be ", expected_value)),
        ValidationErrorKind::Pattern { pattern } => return (path, quoted("does not match the pattern ", pattern)),
        ValidationErrorKind::Format { format } => format!("is not a valid {format}"),
        ValidationErrorKind::MinLength { limit } => format!("must have at least {limit} characters"),
        ValidationErrorKind::MaxLength { limit } => format!("must have at most {limit} characters"),
        ValidationErrorKind::MinItems { limit } => format!("must have at least {limit} items"),
        ValidationErrorKind::MaxItems { limit } => format!("must have at most {limit} items"),
        ValidationErrorKind::MinProperties { limit } => format!("must have at least {limit} fields"),
        ValidationErrorKind::MaxProperties { limit } => format!("must have at most {limit} fields"),
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::UniqueItems => "items must be unique".to_owned(),
        ValidationErrorKind::FalseSchema | ValidationErrorKind::Not { .. } => "is not allowed here".to_owned(),
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            "does not match any of the allowed forms".to_owned()
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => "matches more than one of the allowed forms".to_owned(),
        other => return (path, quoted("fails the schema keyword ", other.keyword())),
    };
    let message = words(&message);
    (path, message)
}

/// Serves registry documents by `$id`; refuses everything else.
struct RegistryOnly(Arc<HashMap<String, Value>>);

impl Retrieve for RegistryOnly {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        match self.0.get(uri.as_str()) {
            Some(doc) => Ok(doc.clone()),
            None => Err(format!("refused to retrieve {uri}: only registry schemas may be referenced").into()),
        }
    }
}

fn meta_validator() -> Result<&'static Validator, String> {
    static META: OnceLock<Result<Validator, String>> = OnceLock::new();
    META.get_or_init(|| {
        let doc = jcs::parse_strict(META_SCHEMA).map_err(|e| format!("meta-schema: {e}"))?;
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_retriever(RegistryOnly(Arc::default()))
            .build(&doc)
            .map_err(|e| format!("meta-schema: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Checks one schema document against the meta-schema and the rules above
/// the JSON Schema level, and compiles it.
fn load(origin: &str, doc: Value, all: &Arc<HashMap<String, Value>>) -> Result<Entry, RegistryError> {
    let fail = |message: String| RegistryError::Schema { file: origin.to_owned(), message };
    let meta = meta_validator().map_err(&fail)?;
    let problems: Vec<String> = meta
        .iter_errors(&doc)
        .take(5)
        .map(|e| {
            let (path, message) = describe(&e);
            format!("{}: {}", if path.is_empty() { "/" } else { &path }, message.escaped())
        })
        .collect();
    if !problems.is_empty() {
        return Err(fail(format!("not a valid display schema: {}", problems.join("; "))));
    }
    let id = doc.get("$id").and_then(Value::as_str).unwrap_or_default().to_owned();
    for (at, reference) in schema::refs(&doc) {
        if schema::resolve_ref(&doc, &reference).is_none() {
            return Err(fail(format!(
                "{at}: $ref {reference:?} is not a local reference that resolves in this document \
                 (only \"#/...\" is allowed, so the schema hash covers everything used to render)"
            )));
        }
    }
    let root = schema::root_hints(&doc).map_err(&fail)?;
    if let Some(t) = &root.summary {
        t.check(&doc).map_err(&fail)?;
    }
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(RegistryOnly(Arc::clone(all)))
        .build(&doc)
        .map_err(|e| fail(format!("does not compile: {e}")))?;
    let hash = SchemaHash::of_schema(&doc).map_err(|e| fail(e.to_string()))?;
    let family = id.ends_with(":*");
    Ok(Entry { id, schema: doc, hash, validator, root, origin: origin.to_owned(), family })
}

/// Display schemas by type. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<Arc<Entry>>,
    by_id: HashMap<String, usize>,
}

impl Registry {
    /// A registry with no schemas (every type renders generically).
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in schemas (`schemas/` in the repository).
    ///
    /// # Errors
    /// Only if a built-in schema is broken (the crate's tests check they are
    /// not).
    pub fn builtin() -> Result<Self, RegistryError> {
        Self::build(builtin_docs()?)
    }

    /// The built-in schemas plus the operator's custom types: every `*.json`
    /// file directly in `dir` (sorted by name; other files and directories
    /// are ignored), one schema per file. A custom type may not redefine a
    /// built-in one.
    ///
    /// # Errors
    /// [`RegistryError`] naming the directory or the file at fault.
    pub fn with_dir(dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let dir = dir.as_ref();
        let io = |path: &Path, e: std::io::Error| RegistryError::Io { path: path.to_owned(), message: e.to_string() };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut docs = builtin_docs()?;
        for path in files {
            let text = std::fs::read(&path).map_err(|e| io(&path, e))?;
            let origin = path.display().to_string();
            let doc = jcs::parse_strict(&text)
                .map_err(|e| RegistryError::Schema { file: origin.clone(), message: e.to_string() })?;
            docs.push((origin, doc));
        }
        Self::build(docs)
    }

    /// A registry from schema documents (for example, those an approver
    /// fetched from its server and pinned by hash), without the built-ins.
    ///
    /// # Errors
    /// [`RegistryError`] naming the document (`document #n`, 0-based).
    pub fn from_documents(docs: impl IntoIterator<Item = Value>) -> Result<Self, RegistryError> {
        let mut named = Vec::new();
        for (i, doc) in docs.into_iter().enumerate() {
            let id = doc.get("$id").and_then(Value::as_str).map(|s| format!(" ({})", visible_escape(s)));
            let origin = format!("document #{i}{}", id.unwrap_or_default());
            jcs::check_value(&doc)
                .map_err(|e| RegistryError::Schema { file: origin.clone(), message: e.to_string() })?;
            named.push((origin, doc));
        }
        Self::build(named)
    }

    /// A registry from the document a server publishes
    /// ([`Self::schemas_document`]); every entry's `hash` must match its
    /// schema.
    ///
    /// # Errors
    /// [`RegistryError::Document`] for a malformed document or a hash
    /// mismatch; otherwise as [`Self::from_documents`].
    pub fn from_schemas_document(document: &Value) -> Result<Self, RegistryError> {
        let bad = |m: String| RegistryError::Document(m);
        if document.get("version").and_then(Value::as_u64) != Some(DOCUMENT_VERSION) {
            return Err(bad(format!("\"version\" must be {DOCUMENT_VERSION}")));
        }
        let list =
            document.get("schemas").and_then(Value::as_array).ok_or_else(|| bad("no \"schemas\" array".into()))?;
        let mut docs = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let (Some(t), Some(hash), Some(schema)) = (
                item.get("type").and_then(Value::as_str),
                item.get("hash").and_then(Value::as_str),
                item.get("schema"),
            ) else {
                return Err(bad(format!("schemas[{i}] needs \"type\", \"hash\" and \"schema\"")));
            };
            let actual = SchemaHash::of_schema(schema).map_err(|e| bad(format!("schemas[{i}]: {e}")))?;
            if actual.as_str() != hash {
                return Err(bad(format!("schemas[{i}] ({}): hash does not match the schema", visible_escape(t))));
            }
            if schema.get("$id").and_then(Value::as_str) != Some(t) {
                return Err(bad(format!("schemas[{i}]: \"type\" differs from the schema's $id")));
            }
            docs.push(schema.clone());
        }
        Self::from_documents(docs)
    }

    fn build(docs: Vec<(String, Value)>) -> Result<Self, RegistryError> {
        let all: HashMap<String, Value> = docs
            .iter()
            .filter_map(|(_, d)| d.get("$id").and_then(Value::as_str).map(|id| (id.to_owned(), d.clone())))
            .collect();
        let all = Arc::new(all);
        let mut registry = Self::default();
        for (origin, doc) in docs {
            let entry = load(&origin, doc, &all)?;
            if let Some(&first) = registry.by_id.get(&entry.id) {
                return Err(RegistryError::Duplicate {
                    file: origin,
                    id: visible_escape(&entry.id),
                    first: registry.entries[first].origin.clone(),
                });
            }
            registry.by_id.insert(entry.id.clone(), registry.entries.len());
            registry.entries.push(Arc::new(entry));
        }
        Ok(registry)
    }

    /// The entry for a type: exact `$id`, else the longest family (`…:*`)
    /// whose prefix the type extends.
    pub(crate) fn lookup(&self, type_name: &str) -> Option<&Entry> {
        if let Some(&i) = self.by_id.get(type_name) {
            if !self.entries[i].family {
                return Some(&self.entries[i]);
            }
        }
        self.entries
            .iter()
            .filter(|e| e.family)
            .filter(|e| {
                let prefix = &e.id[..e.id.len() - 1];
                type_name.len() > prefix.len() && type_name.starts_with(prefix)
            })
            .max_by_key(|e| e.id.len())
            .map(AsRef::as_ref)
    }

    /// Checks every detail against the limits and its schema. A type with no
    /// schema is a violation (RFC 9396 §5: unknown type); approvers still
    /// render such types (generically), servers refuse them.
    ///
    /// # Errors
    /// Every violation found (limit violations alone when there are any).
    pub fn validate(&self, details: &AuthorizationDetails) -> Result<(), Vec<Violation>> {
        let exceeded = limits::check(details);
        if !exceeded.is_empty() {
            return Err(exceeded
                .into_iter()
                .map(|e| Violation { index: e.index, path: e.path, message: format!("over a limit: {}", e.message) })
                .collect());
        }
        let mut violations = Vec::new();
        for (index, detail) in details.iter().enumerate() {
            match self.lookup(detail.r#type()) {
                Some(entry) => violations.extend(entry.violations(index, detail).into_iter().map(Violation::from)),
                None => violations.push(Violation {
                    index,
                    path: "/type".to_owned(),
                    message: format!("unknown type \"{}\" (no display schema)", visible_escape(detail.r#type())),
                }),
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// The hash of the display schema that renders `type_name`:
    /// `SchemaHash::of_schema` of its document, or `SchemaHash::of_no_schema()`
    /// when there is none.
    #[must_use]
    pub fn schema_hash(&self, type_name: &str) -> SchemaHash {
        self.lookup(type_name).map_or_else(SchemaHash::of_no_schema, |e| e.hash.clone())
    }

    /// `display_schemas` for an approval statement: the hash for each type
    /// present in `details`.
    #[must_use]
    pub fn display_schemas(&self, details: &AuthorizationDetails) -> BTreeMap<String, SchemaHash> {
        details.types().map(|t| (t.to_owned(), self.schema_hash(t))).collect()
    }

    /// The exact types with a schema, sorted (for
    /// `authorization_details_types_supported`). Families are in
    /// [`Self::families`].
    #[must_use]
    pub fn types(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.entries.iter().filter(|e| !e.family).map(|e| e.id.as_str()).collect();
        t.sort_unstable();
        t
    }

    /// Type families (schemas whose `$id` ends in `:*`, such as Auth0
    /// Guardian's), as prefixes without the `*`.
    #[must_use]
    pub fn families(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.entries.iter().filter(|e| e.family).map(|e| &e.id[..e.id.len() - 1]).collect();
        t.sort_unstable();
        t
    }

    /// The schema document that renders `type_name`, if any.
    #[must_use]
    pub fn schema(&self, type_name: &str) -> Option<&Value> {
        self.lookup(type_name).map(|e| &e.schema)
    }

    /// The risk the schema declares for `type_name` ([`Risk::Unknown`] without
    /// one).
    #[must_use]
    pub fn risk(&self, type_name: &str) -> Risk {
        self.lookup(type_name).map_or(Risk::Unknown, |e| e.root.risk)
    }

    /// What a server publishes at `authorization_details_schemas_endpoint`:
    /// `{"version": 1, "schemas": [{"type", "hash", "schema"}…]}`, sorted by
    /// type.
    #[must_use]
    pub fn schemas_document(&self) -> Value {
        let mut entries: Vec<&Arc<Entry>> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        let schemas: Vec<Value> =
            entries.iter().map(|e| json!({"type": e.id, "hash": e.hash.as_str(), "schema": e.schema})).collect();
        json!({"version": DOCUMENT_VERSION, "schemas": schemas})
    }

    pub(crate) fn layout(entry: &Entry) -> Layout {
        entry.root.layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriever_serves_registry_documents_only() {
        let mut docs = HashMap::new();
        docs.insert("urn:countersign:details:v1:x".to_owned(), json!({"type": "object"}));
        let r = RegistryOnly(Arc::new(docs));
        let ok = Uri::parse("urn:countersign:details:v1:x".to_owned()).unwrap();
        assert_eq!(r.retrieve(&ok).unwrap(), json!({"type": "object"}));
        for refused in ["https://example.com/schema.json", "file:///etc/passwd", "urn:countersign:details:v1:y"] {
            let uri = Uri::parse(refused.to_owned()).unwrap();
            let err = r.retrieve(&uri).unwrap_err().to_string();
            assert!(err.contains("refused"), "{refused}: {err}");
        }
    }

    #[test]
    fn meta_schema_compiles() {
        assert!(meta_validator().is_ok());
    }
}
