//! Warnings: their kinds, severities, the characters they concern, and the
//! worst kind a short view names.

use serde::{Deserialize, Serialize};

/// How serious a warning is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
