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

/// The rendering of a whole `authorization_details` array.
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

/// Display format of a value, from the schema's `x-countersign.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Plain text (the default).
    Text,
    /// Text whose line breaks are meaningful (email bodies).
    MultilineText,
    /// An object `{amount, currency}`; amount a decimal string.
    Money,
    /// An ISO 4217 currency code.
    Currency,
    /// An RFC 3339 date and time.
    DateTime,
    /// An RFC 3339 full date.
    Date,
    /// An ISO 8601 duration.
    Duration,
    /// An email address.
    Email,
    /// A URL.
    Url,
    /// An account identifier.
    Account,
    /// An IBAN.
    Iban,
    /// A BIC (SWIFT code).
    Bic,
    /// A ticker symbol.
    Ticker,
    /// A file system path.
    Path,
    /// Code or an opaque token (commit, SQL), shown monospaced.
    Code,
    /// An identifier.
    Identifier,
    /// A percentage (the number as written, then `%`).
    Percent,
}

impl Format {
    /// The name used in schemas (`x-countersign.format`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::MultilineText => "multiline-text",
            Self::Money => "money",
            Self::Currency => "currency",
            Self::DateTime => "date-time",
            Self::Date => "date",
            Self::Duration => "duration",
            Self::Email => "email",
            Self::Url => "url",
            Self::Account => "account",
            Self::Iban => "iban",
            Self::Bic => "bic",
            Self::Ticker => "ticker",
            Self::Path => "path",
            Self::Code => "code",
            Self::Identifier => "identifier",
            Self::Percent => "percent",
        }
    }

    /// Every format, in documentation order.
    pub const ALL: [Format; 17] = [
        Self::Text,
        Self::MultilineText,
        Self::Money,
        Self::Currency,
        Self::DateTime,
        Self::Date,
        Self::Duration,
        Self::Email,
        Self::Url,
        Self::Account,
        Self::Iban,
        Self::Bic,
        Self::Ticker,
        Self::Path,
        Self::Code,
        Self::Identifier,
        Self::Percent,
    ];

    /// Parses a schema format name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Formats whose values must be plain ASCII (anything else is flagged).
    #[must_use]
    pub fn ascii_only(self) -> bool {
        matches!(self, Self::Ticker | Self::Iban | Self::Bic | Self::Currency | Self::Account)
    }

    /// Free-text formats, where unusual spaces are ordinary typography.
    #[must_use]
    pub fn free_text(self) -> bool {
        matches!(self, Self::Text | Self::MultilineText)
    }

    /// The context `countersign_text` classifies a value of this format in:
    /// one line of prose (`text`), prose over lines (`multiline-text`), code
    /// (`code`), an ASCII-only identifier ([`Format::ascii_only`]), or an
    /// identifier (every other format).
    #[must_use]
    pub fn text_context(self) -> countersign_text::Context {
        use countersign_text::Context;
        match self {
            Self::Text => Context::Line,
            Self::MultilineText => Context::MultiLine,
            Self::Code => Context::Code,
            format if format.ascii_only() => Context::AsciiIdentifier,
            _ => Context::Identifier,
        }
    }
}

/// One value shown to the user, with its label.
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

/// How serious a warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Look twice.
    Caution,
    /// Possibly deceptive or invalid.
    Danger,
}

/// Kinds of warning (see the catalogue in `docs/display-schema.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Bidirectional formatting characters (Trojan Source).
    BidiControl,
    /// Zero-width, tag, filler or abused variation-selector characters.
    InvisibleCharacter,
    /// Text hidden in invisible characters, decoded.
    HiddenText,
    /// C0/C1 control characters, DEL, line/paragraph separators.
    ControlCharacter,
    /// Spaces other than U+0020 where an identifier is expected.
    UnusualWhitespace,
    /// Private use, noncharacters, replacement characters.
    UnusualCharacter,
    /// Long runs of combining marks.
    CombiningMarks,
    /// Letters of several lookalike scripts in one word.
    MixedScript,
    /// Non-ASCII characters in a value that must be ASCII (ticker, IBAN…).
    NonAsciiIdentifier,
    /// A long value (shown in full).
    LongValue,
    /// An array with many items.
    ManyItems,
    /// A request with many details.
    ManyDetails,
    /// A field the schema does not describe.
    UndescribedField,
    /// A type without a display schema.
    NoSchema,
    /// The detail breaks its schema (not approvable).
    SchemaViolation,
    /// A value does not match its display format.
    InvalidFormat,
    /// A value the summary names is missing.
    MissingValue,
    /// The sender asked for this field to be hidden (Auth0 `display: false`).
    HiddenBySender,
    /// A limit was exceeded: the request is refused.
    LimitExceeded,
    /// The text is not valid `authorization_details`: refused.
    Unparseable,
}

impl WarningCode {
    /// Every code, the most concerning first (within one severity, the
    /// first one listed is the worst kind a short view names).
    pub const BY_CONCERN: [WarningCode; 20] = [
        WarningCode::Unparseable,
        WarningCode::LimitExceeded,
        WarningCode::SchemaViolation,
        WarningCode::BidiControl,
        WarningCode::HiddenText,
        WarningCode::InvisibleCharacter,
        WarningCode::MixedScript,
        WarningCode::ControlCharacter,
        WarningCode::NonAsciiIdentifier,
        WarningCode::UndescribedField,
        WarningCode::NoSchema,
        WarningCode::UnusualCharacter,
        WarningCode::UnusualWhitespace,
        WarningCode::CombiningMarks,
        WarningCode::InvalidFormat,
        WarningCode::ManyDetails,
        WarningCode::ManyItems,
        WarningCode::HiddenBySender,
        WarningCode::MissingValue,
        WarningCode::LongValue,
    ];

    /// How much this kind concerns the user within its severity: higher is
    /// worse ([`WarningCode::BY_CONCERN`] reversed).
    #[must_use]
    pub fn concern(self) -> usize {
        let at = WarningCode::BY_CONCERN.iter().position(|&c| c == self).unwrap_or(0);
        WarningCode::BY_CONCERN.len() - at
    }

    /// The kind of finding in words, for a line that names only the worst
    /// one: `direction-changing characters`, `lookalike letters`…
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            WarningCode::BidiControl => "direction-changing characters",
            WarningCode::InvisibleCharacter => "invisible characters",
            WarningCode::HiddenText => "hidden text",
            WarningCode::ControlCharacter => "control characters",
            WarningCode::UnusualWhitespace => "unusual spaces or tabs",
            WarningCode::UnusualCharacter => "unusual characters",
            WarningCode::CombiningMarks => "stacked combining marks",
            WarningCode::MixedScript => "lookalike letters",
            WarningCode::NonAsciiIdentifier => "non-ASCII characters in an identifier",
            WarningCode::LongValue => "a long value",
            WarningCode::ManyItems => "a long list",
            WarningCode::ManyDetails => "many separate authorizations",
            WarningCode::UndescribedField => "fields the schema does not describe",
            WarningCode::NoSchema => "no display schema",
            WarningCode::SchemaViolation => "details that break their schema",
            WarningCode::InvalidFormat => "a value not in its format",
            WarningCode::MissingValue => "a missing value",
            WarningCode::HiddenBySender => "fields the sender marked hidden",
            WarningCode::LimitExceeded => "over a limit",
            WarningCode::Unparseable => "unreadable details",
        }
    }
}

/// One character a warning is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CharFinding {
    /// `U+202E`.
    pub code_point: String,
    /// `RIGHT-TO-LEFT OVERRIDE`.
    pub name: String,
    /// 0-based position in the string, counted in Unicode code points.
    pub position: usize,
    /// 0-based position counted in UTF-16 code units (JavaScript indices).
    pub utf16_offset: usize,
}

/// A visible warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind of finding.
    pub code: WarningCode,
    /// How serious.
    pub severity: Severity,
    /// Index of the detail, `null` for the request as a whole.
    pub index: Option<usize>,
    /// JSON Pointer within the detail (`""` = the detail itself), `null` when
    /// not about one value.
    pub path: Option<String>,
    /// Whether the finding is in the member name rather than the value.
    pub in_key: bool,
    /// Human-readable text, e.g. `U+202E RIGHT-TO-LEFT OVERRIDE at position
    /// 12`. Untrusted text it quotes (a path, a member name, a decoded
    /// hidden text) is quoted exactly (cut at 200 characters) and its
    /// characters to reveal are in `message_characters`.
    pub message: String,
    /// The characters of `message` a consumer must reveal where they stand
    /// (positions within `message`).
    pub message_characters: Vec<CharFinding>,
    /// The characters concerned (at most [`crate::limits::MAX_FINDINGS`];
    /// `message` gives the total), positions within the value (or member
    /// name) the warning is about.
    pub characters: Vec<CharFinding>,
}

impl Warning {
    /// A warning whose message holds no untrusted text (it is still
    /// classified as one line of prose, so nothing in it can act unseen).
    pub(crate) fn new(code: WarningCode, severity: Severity, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let shown = crate::text::Revealed::line(&message);
        Self::quoting(code, severity, shown)
    }

    /// A warning whose message quotes untrusted text.
    pub(crate) fn quoting(code: WarningCode, severity: Severity, message: crate::text::Revealed) -> Self {
        let (message, message_characters) = message.into_parts();
        Self {
            code,
            severity,
            index: None,
            path: None,
            in_key: false,
            message,
            message_characters,
            characters: Vec::new(),
        }
    }

    /// The same warning with `prefix` (trusted words, e.g. `The agent's
    /// name: `) before its message; the characters to reveal move with it.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let chars = prefix.chars().count();
        let units: usize = prefix.chars().map(char::len_utf16).sum();
        let mut shown = crate::text::Revealed::line(prefix);
        for c in &mut self.message_characters {
            c.position += chars;
            c.utf16_offset += units;
        }
        shown.characters_mut().append(&mut self.message_characters);
        self.message_characters = std::mem::take(shown.characters_mut());
        self.message.insert_str(0, prefix);
        self
    }

    pub(crate) fn at(mut self, index: Option<usize>, path: Option<String>) -> Self {
        self.index = index;
        self.path = path;
        self
    }
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

#[cfg(test)]
mod tests {
    use super::WarningCode as W;

    /// `BY_CONCERN` ranks every code once (a code missing from it would get
    /// the highest rank through `concern`'s fallback).
    #[test]
    fn by_concern_lists_every_warning_code_once() {
        // Exhaustive: a new code fails to compile here until it is ranked.
        let ranked = |c: W| match c {
            W::BidiControl
            | W::InvisibleCharacter
            | W::HiddenText
            | W::ControlCharacter
            | W::UnusualWhitespace
            | W::UnusualCharacter
            | W::CombiningMarks
            | W::MixedScript
            | W::NonAsciiIdentifier
            | W::LongValue
            | W::ManyItems
            | W::ManyDetails
            | W::UndescribedField
            | W::NoSchema
            | W::SchemaViolation
            | W::InvalidFormat
            | W::MissingValue
            | W::HiddenBySender
            | W::LimitExceeded
            | W::Unparseable => W::BY_CONCERN.iter().filter(|&&x| x == c).count(),
        };
        let every = [
            W::BidiControl,
            W::InvisibleCharacter,
            W::HiddenText,
            W::ControlCharacter,
            W::UnusualWhitespace,
            W::UnusualCharacter,
            W::CombiningMarks,
            W::MixedScript,
            W::NonAsciiIdentifier,
            W::LongValue,
            W::ManyItems,
            W::ManyDetails,
            W::UndescribedField,
            W::NoSchema,
            W::SchemaViolation,
            W::InvalidFormat,
            W::MissingValue,
            W::HiddenBySender,
            W::LimitExceeded,
            W::Unparseable,
        ];
        assert_eq!(every.len(), W::BY_CONCERN.len());
        for c in every {
            assert_eq!(ranked(c), 1, "{c:?} ranked once");
        }
        assert!(W::Unparseable.concern() > W::LongValue.concern());
    }
}
