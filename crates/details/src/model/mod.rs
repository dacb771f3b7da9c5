//! The display model: exactly what an approver shows, serialized for the
//! TypeScript UI (snake_case names, enums tagged with `kind`, no Rust-isms:
//! absent values are `null`, lists are arrays, never omitted).
//!
//! The model never alters a value: a scalar's `text` is the input string
//! exactly (for numbers, the RFC 8785 form, which is the form that is signed),
//! and anything the renderer adds for reading (a local date, grouped digits)
//! sits beside it in `display`.
//!
//! Nor does it escape anything. Every text in it that holds untrusted input
//! (values, member names, labels, paths, titles, descriptions, summaries,
//! warning messages that quote input) is the text exactly, and comes with the
//! characters a consumer must reveal where they stand: a [`CharFinding`]
//! list beside it (`label_characters`, `message_characters`…, or a value's
//! warnings). A UI marks them; a terminal writes them in the escape grammar
//! of `countersign_text` (`docs/display-schema.md` §4, "Revealing").

use countersign_protocol::device::ids::SchemaHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod format;
mod warning;

pub use format::Format;
pub use warning::{CharFinding, Severity, Warning, WarningCode};

/// The rendering of a whole `authorization_details` array.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisplayModel {
    /// Whether the user may approve: `false` when the request was refused or
    /// any detail breaks its schema.
    pub approvable: bool,
    /// `valid`, `invalid` (a schema violation: shown, never approvable) or
    /// `refused` (over a limit or unparseable: not rendered).
    pub status: RequestStatus,
    /// Request-level warnings (limits, parse errors, many details).
    pub warnings: Vec<Warning>,
    /// One view per detail, in request order (empty when refused).
    pub details: Vec<DetailView>,
    /// The display schema hash of each type present: what the approval
    /// statement's `display_schemas` must contain.
    pub display_schemas: BTreeMap<String, SchemaHash>,
    /// Number of warnings at every level (request, details, fields), for a
    /// badge.
    pub warning_count: usize,
    /// The highest severity among all warnings, `null` when there are none.
    pub max_severity: Option<Severity>,
    /// The worst warning at any level (severity first, then
    /// [`WarningCode::BY_CONCERN`]), for a line that cannot list them all
    /// (an inbox line, a notification); `null` when there are none.
    pub worst_warning: Option<WorstWarning>,
}

/// What a short view says of a request's warnings: the worst kind.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorstWarning {
    /// The code of the worst warning.
    pub code: WarningCode,
    /// Its severity.
    pub severity: Severity,
    /// What it is about, in words: `lookalike letters`,
    /// `direction-changing characters` ([`WarningCode::kind`]).
    pub text: String,
}

impl WorstWarning {
    /// The worst of `warnings`, `None` when there are none.
    pub fn of<'a>(warnings: impl IntoIterator<Item = &'a Warning>) -> Option<WorstWarning> {
        warnings
            .into_iter()
            .map(|w| (w.severity, w.code))
            .max_by_key(|&(s, c)| (s, c.concern()))
            .map(|(severity, code)| WorstWarning { code, severity, text: code.kind().to_owned() })
    }
}

impl DisplayModel {
    /// Adds a request-level warning (a finding in the request's own strings,
    /// added by an approver): counted, and taken into `max_severity` and
    /// `worst_warning`.
    pub fn add_warning(&mut self, warning: Warning) {
        self.warning_count += 1;
        self.max_severity = self.max_severity.max(Some(warning.severity));
        let worse = WorstWarning::of([&warning]);
        let key = |w: &Option<WorstWarning>| w.as_ref().map(|w| (w.severity, w.code.concern()));
        if key(&worse) > key(&self.worst_warning) {
            self.worst_warning = worse;
        }
        self.warnings.push(warning);
    }
}

/// Overall state of a request.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "DisplayStatus"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Every detail satisfies its schema (or has none).
    Valid,
    /// At least one detail breaks its schema: rendered, not approvable.
    Invalid,
    /// Over a limit, or not valid `authorization_details`: not rendered.
    Refused,
}

/// How a detail was rendered.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renderer {
    /// With its display schema.
    Schema,
    /// Auth0 Guardian's self-describing format.
    Auth0Guardian,
    /// No schema: a labelled tree of what was sent.
    Generic,
}

/// Risk declared by the display schema.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "DetailRisk"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Reading non-sensitive data, reversible actions.
    Low,
    /// Personal data, messages on the user's behalf.
    Medium,
    /// Money, trades, access to files or databases.
    High,
    /// Irreversible or wide-reaching: transfers, production deploys.
    Critical,
    /// The type has no display schema.
    Unknown,
}

/// One authorization details object, rendered.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetailView {
    /// Position in the request.
    pub index: usize,
    /// The `type` exactly as sent.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Which renderer was used.
    pub renderer: Renderer,
    /// Hash of the display schema used (`SchemaHash::of_no_schema()` for none).
    pub schema_hash: SchemaHash,
    /// Title from the schema, or the type itself when there is none.
    pub title: String,
    /// The characters of `title` a UI must mark where they stand (a
    /// schema's title as prose, a type as an identifier).
    pub title_characters: Vec<CharFinding>,
    /// The schema's summary template filled from the values; `null` when the
    /// schema has no template.
    pub summary: Option<Summary>,
    /// Risk from the schema.
    pub risk: Risk,
    /// Icon name from the schema.
    pub icon: Option<String>,
    /// `false` when the detail breaks its schema.
    pub valid: bool,
    /// The fields the schema describes, in schema order (every field when
    /// there is no schema).
    pub fields: Vec<Field>,
    /// Fields present in the request that the schema does not describe, under
    /// the heading "Not described by the schema"; each also has a warning.
    pub undescribed: Vec<Field>,
    /// Detail-level warnings: schema violations, no schema, the type string.
    pub warnings: Vec<Warning>,
}

/// A summary line built from the schema's template.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The whole line, exactly: the template's text and each value as sent
    /// (or its reading form), nothing escaped.
    pub text: String,
    /// The characters of `text` a consumer must reveal where they stand, so
    /// that none can reorder or hide the rest of the line: each value's
    /// findings in its own context (a lookalike letter in a recipient, a
    /// non-ASCII letter in a ticker), the template's in one line of prose,
    /// and every control character (the summary is one line).
    pub characters: Vec<CharFinding>,
    /// The same line in parts, so a UI can style values and missing ones.
    pub parts: Vec<SummaryPart>,
}

/// One piece of a summary line.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SummaryPart {
    /// Literal text from the template.
    Text {
        /// The text.
        text: String,
        /// Its characters to reveal (positions within this part).
        characters: Vec<CharFinding>,
    },
    /// A value from the request.
    Value {
        /// JSON Pointer of the value within the detail.
        path: String,
        /// The value as text (exact input for scalars).
        text: String,
        /// Whether that value has warnings of its own.
        flagged: bool,
        /// Its characters to reveal (positions within this part).
        characters: Vec<CharFinding>,
    },
    /// A value the template names but the request lacks (or is `null`).
    Missing {
        /// JSON Pointer of the absent value within the detail.
        path: String,
        /// What is shown instead, e.g. `[missing: Symbol]`.
        text: String,
        /// Its characters to reveal (positions within this part).
        characters: Vec<CharFinding>,
    },
}

/// One value shown to the user, with its label.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// JSON Pointer (RFC 6901) of the value within its detail, e.g.
    /// `/instructedAmount` (the UI shows it beside undescribed fields).
    pub path: String,
    /// The member name (or the array index, as text) exactly as sent.
    pub key: String,
    /// The label: from the schema, else the member name exactly as sent.
    pub label: String,
    /// Where the label comes from.
    pub label_source: LabelSource,
    /// The characters of `label` a UI must mark where they stand (bidi,
    /// invisible, lookalike…), as `countersign_text` finds them: a member
    /// name or a sender's label as an identifier, a schema's label as prose.
    pub label_characters: Vec<CharFinding>,
    /// The characters of `path` a UI must mark where they stand (the path is
    /// made of member names as sent), found as in an identifier.
    pub path_characters: Vec<CharFinding>,
    /// The display format.
    pub format: Format,
    /// The value.
    pub value: FieldValue,
    /// The schema asks for this field to stand out.
    pub emphasis: bool,
    /// The value is sensitive (keep it out of notifications and logs; it is
    /// still shown in the approval view).
    pub sensitive: bool,
    /// Shown collapsed (Auth0 `display: false`): present, one click away.
    pub collapsed: bool,
    /// Help text from the schema (or Auth0 `description`), exactly.
    pub description: Option<String>,
    /// The characters of `description` a UI must mark where they stand
    /// (found as in one line of prose, every control character included).
    pub description_characters: Vec<CharFinding>,
    /// Warnings about this value or its name.
    pub warnings: Vec<Warning>,
}

/// Where a field's label comes from.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// `x-countersign.label` (or the JSON Schema `title`).
    Schema,
    /// The member name as sent (no schema describes it).
    Key,
    /// An array position, 1-based (`#1`).
    Index,
    /// The Auth0 Guardian `name` sent with the value.
    Sender,
}

/// JSON type of a scalar.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
}

/// A field's value.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldValue {
    /// A string, number, boolean or null.
    Scalar {
        /// Its JSON type.
        json_type: JsonType,
        /// The value exactly: a string as sent; a number in its RFC 8785
        /// form; `true`, `false`, `null`.
        text: String,
        /// A reading aid for the user's locale (local date, duration in words,
        /// grouped digits), `null` when there is none; `text` stays the
        /// reference.
        display: Option<String>,
        /// For a date-time, the same instant in UTC.
        utc: Option<String>,
        /// Long or unbroken: the UI must wrap it (it is never truncated).
        wrap: bool,
    },
    /// An amount with its currency.
    Money {
        /// The decimal string exactly as sent.
        amount: String,
        /// The currency code exactly as sent.
        currency: String,
        /// `amount currency`, e.g. `123.50 EUR`.
        text: String,
        /// The amount with digit grouping for the locale, e.g.
        /// `1,234,567.50 EUR`.
        display: String,
        /// The characters of `text` to reveal (both parts must be ASCII).
        characters: Vec<CharFinding>,
        /// The characters of `display` to reveal.
        display_characters: Vec<CharFinding>,
    },
    /// An object: its fields, in schema order.
    Object {
        /// The members.
        fields: Vec<Field>,
    },
    /// An array: every item.
    Array {
        /// The items, labelled `#1`, `#2`…
        items: Vec<Field>,
    },
}

/// What the renderer needs to know about the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderOptions {
    /// BCP 47 tag, e.g. `en-US`, `en-GB`, `de-DE`, `fr-FR`; any other gives
    /// ISO 8601 style dates and English words.
    pub locale: String,
    /// The user's current offset from UTC, in minutes (e.g. 60 for UTC+01:00).
    /// Local times are shown with this offset written out.
    pub utc_offset_minutes: i32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { locale: "en-US".to_owned(), utc_offset_minutes: 0 }
    }
}
