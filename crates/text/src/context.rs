//! Where a string is shown: the rules that depend on it.

/// What a string is, for the rules that depend on it. Everything not named
/// here is the same in every context.
///
/// | context | LF, CR LF | TAB | spaces other than U+0020 | non-ASCII |
/// |---|---|---|---|---|
/// | [`Context::Line`] | flagged (control) | flagged (control) | allowed | allowed |
/// | [`Context::MultiLine`] | allowed | flagged (unusual space) | allowed | allowed |
/// | [`Context::Code`] | allowed | flagged (unusual space) | flagged | allowed |
/// | [`Context::Identifier`] | flagged (control) | flagged (control) | flagged | allowed |
/// | [`Context::AsciiIdentifier`] | flagged (control) | flagged (control) | flagged | flagged |
///
/// A TAB in multi-line text is not a line break: it aligns what follows, and
/// can line a forged value up under another field's label, so it is marked
/// where it stands (with caution, as an unusual space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// One line of prose: names, subjects, binding messages, most values.
    Line,
    /// Prose over several lines (e-mail bodies, postal addresses).
    MultiLine,
    /// Code or data over several lines (SQL, commits): typography such as
    /// no-break spaces is not expected.
    Code,
    /// One line that names or identifies something: member names, URLs,
    /// e-mail addresses, paths, dates, identifiers.
    Identifier,
    /// An identifier that must be ASCII: tickers, IBANs, BICs, currency codes,
    /// account numbers.
    AsciiIdentifier,
}

impl Context {
    /// Every context.
    pub const ALL: [Context; 5] =
        [Context::Line, Context::MultiLine, Context::Code, Context::Identifier, Context::AsciiIdentifier];

    /// A stable identifier: `line`, `multi-line`, `code`, `identifier`,
    /// `ascii-identifier`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Context::Line => "line",
            Context::MultiLine => "multi-line",
            Context::Code => "code",
            Context::Identifier => "identifier",
            Context::AsciiIdentifier => "ascii-identifier",
        }
    }

    /// The context named `name` ([`Context::name`]).
    #[must_use]
    pub fn parse(name: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether LF and CR LF are layout here (a TAB is then an unusual space
    /// rather than a control character).
    #[must_use]
    pub fn has_lines(self) -> bool {
        matches!(self, Context::MultiLine | Context::Code)
    }

    /// Whether spaces other than U+0020 are ordinary typography here.
    #[must_use]
    pub fn is_prose(self) -> bool {
        matches!(self, Context::Line | Context::MultiLine)
    }

    /// Whether every non-ASCII character is flagged.
    #[must_use]
    pub fn is_ascii_only(self) -> bool {
        matches!(self, Context::AsciiIdentifier)
    }
}
