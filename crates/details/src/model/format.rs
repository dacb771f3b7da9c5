//! Display formats of values (`x-countersign.format`) and what each implies
//! for the text it holds.

use serde::{Deserialize, Serialize};

/// Display format of a value, from the schema's `x-countersign.format`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
