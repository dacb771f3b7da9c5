//! Checks on untrusted strings: what could make the text a person reads
//! differ from the text that is signed. The rules are `countersign_text`'s
//! (the one classifier the server, the approvers, the CLI and notifications
//! share); this module turns its findings into visible [`Warning`]s naming
//! the code points. The text itself is never changed.
//!
//! A value's [`Format`] gives its [`Context`] ([`Format::text_context`]);
//! member names are identifiers. See `docs/display-schema.md`, warnings
//! catalogue.

use crate::limits::{LONG_VALUE_CHARS, MAX_FINDINGS, MAX_LISTED_IN_MESSAGE, MAX_LISTED_PER_TEXT};
use crate::model::{CharFinding, Format, Severity, Warning, WarningCode};
use countersign_text::{Class, Context, Finding, Report};
use std::cell::Cell;

pub use countersign_text::{char_name, code_point};

/// Longest quote of untrusted text inside a message, in characters.
pub(crate) const MAX_QUOTED_CHARS: usize = 200;

/// A text assembled from pieces (a summary line, a message quoting a path),
/// kept exactly, with the characters a consumer must reveal in it: each
/// piece's findings in its own context, and every control character. This
/// is how the model says "mark these" for text made of parts; nothing is
/// escaped here (`docs/display-schema.md` §4, "Revealing").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revealed {
    text: String,
    characters: Vec<CharFinding>,
    /// Length of `text` in code points and in UTF-16 code units.
    chars: usize,
    utf16: usize,
}

impl Revealed {
    /// An empty text.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `s` as one line of prose.
    #[must_use]
    pub fn line(s: &str) -> Self {
        let mut r = Self::new();
        r.push(s, Context::Line);
        r
    }

    /// `s` classified in `context`.
    #[must_use]
    pub fn of(s: &str, context: Context) -> Self {
        let mut r = Self::new();
        r.push(s, context);
        r
    }

    /// Appends `s`, classified in `context`.
    pub fn push(&mut self, s: &str, context: Context) -> &mut Self {
        let at = flagged_positions(&countersign_text::check(s, context).findings);
        self.push_at(s, &at, None)
    }

    /// Appends a quote of `s`: at most 200 (`MAX_QUOTED_CHARS`) characters
    /// (classified within the whole of `s`), then `…` when it was longer.
    /// Messages are not values: values are never cut.
    pub fn quote(&mut self, s: &str, context: Context) -> &mut Self {
        let at = flagged_positions(&countersign_text::check(s, context).findings);
        self.push_at(s, &at, Some(MAX_QUOTED_CHARS))
    }

    /// Appends `s`, revealing the characters at `positions` (code points
    /// within `s`) and every control character.
    pub fn push_at(&mut self, s: &str, positions: &[usize], max_chars: Option<usize>) -> &mut Self {
        for (i, c) in s.chars().enumerate() {
            if max_chars.is_some_and(|max| i >= max) {
                self.push_char('…', false);
                break;
            }
            let reveal = c.is_control() || positions.binary_search(&i).is_ok();
            self.push_char(c, reveal);
        }
        self
    }

    /// Appends another revealed text.
    pub fn append(&mut self, other: &Revealed) -> &mut Self {
        let room = MAX_LISTED_PER_TEXT.saturating_sub(self.characters.len());
        self.characters.extend(other.characters.iter().take(room).map(|c| CharFinding {
            position: c.position + self.chars,
            utf16_offset: c.utf16_offset + self.utf16,
            ..c.clone()
        }));
        self.text.push_str(&other.text);
        self.chars += other.chars;
        self.utf16 += other.utf16;
        self
    }

    fn push_char(&mut self, c: char, reveal: bool) {
        if reveal && self.characters.len() < MAX_LISTED_PER_TEXT {
            self.characters.push(CharFinding {
                code_point: code_point(c),
                name: char_name(c),
                position: self.chars,
                utf16_offset: self.utf16,
            });
        }
        self.text.push(c);
        self.chars += 1;
        self.utf16 += c.len_utf16();
    }

    /// The text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The characters to reveal, in order.
    #[must_use]
    pub fn characters(&self) -> &[CharFinding] {
        &self.characters
    }

    pub(crate) fn characters_mut(&mut self) -> &mut Vec<CharFinding> {
        &mut self.characters
    }

    /// The text and its characters to reveal.
    #[must_use]
    pub fn into_parts(self) -> (String, Vec<CharFinding>) {
        (self.text, self.characters)
    }

    /// The text in the escape grammar of `countersign_text`: what a terminal
    /// or an error message shows.
    #[must_use]
    pub fn escaped(&self) -> String {
        let at: Vec<usize> = self.characters.iter().map(|c| c.position).collect();
        countersign_text::escape_at(&self.text, &at)
    }
}

/// The positions of `findings`, sorted, each once.
fn flagged_positions(findings: &[Finding]) -> Vec<usize> {
    let mut at: Vec<usize> = findings.iter().map(|f| f.index).collect();
    at.sort_unstable();
    at.dedup();
    at
}

/// What a string is, for the rules that depend on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextKind {
    pub format: Format,
    pub in_key: bool,
}

impl TextKind {
    /// Member names and the labels a sender chose are identifiers; values
    /// are what their format says.
    fn context(self) -> Context {
        if self.in_key {
            Context::Identifier
        } else {
            self.format.text_context()
        }
    }
}

/// The warning of a class: code, severity, and how its message introduces
/// the characters ("2 invisible characters: …"). One exhaustive mapping.
fn warning_of(class: Class, format: Format) -> (WarningCode, String) {
    match class {
        Class::BidiControl => {
            (WarningCode::BidiControl, "bidirectional control (can reorder the text you see)".to_owned())
        }
        Class::Invisible => (WarningCode::InvisibleCharacter, "invisible".to_owned()),
        Class::Control => (WarningCode::ControlCharacter, "control".to_owned()),
        Class::UnusualSpace => (WarningCode::UnusualWhitespace, "unusual space".to_owned()),
        Class::Unusual => (WarningCode::UnusualCharacter, "unusual".to_owned()),
        Class::StackedMark => (WarningCode::CombiningMarks, "stacked combining mark (more than 3 in a row)".to_owned()),
        Class::NonAscii => {
            (WarningCode::NonAsciiIdentifier, format!("non-ASCII (a {} must be ASCII)", format.as_str()))
        }
        Class::Lookalike => (WarningCode::MixedScript, "lookalike letter".to_owned()),
    }
}

fn severity(class: Class) -> Severity {
    match class.severity() {
        countersign_text::Severity::Caution => Severity::Caution,
        countersign_text::Severity::Danger => Severity::Danger,
    }
}

/// The findings of `report` as the model's character list.
fn char_finding(f: &Finding) -> CharFinding {
    CharFinding {
        code_point: code_point(f.character),
        name: char_name(f.character),
        position: f.index,
        utf16_offset: f.utf16_offset,
    }
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE at position 10`, from the character's
/// entry in `named` when it has one (names are looked up once).
fn describe(f: &Finding, named: Option<&CharFinding>) -> String {
    match named {
        Some(c) => format!("{} {} at position {}", c.code_point, c.name, c.position),
        None => format!("{} {} at position {}", code_point(f.character), char_name(f.character), f.index),
    }
}

fn list(findings: &[&Finding], named: &[CharFinding]) -> String {
    let mut parts: Vec<String> =
        findings.iter().take(MAX_LISTED_IN_MESSAGE).enumerate().map(|(k, f)| describe(f, named.get(k))).collect();
    if findings.len() > MAX_LISTED_IN_MESSAGE {
        parts.push(format!("and {} more", findings.len() - MAX_LISTED_IN_MESSAGE));
    }
    parts.join(", ")
}

/// How many characters may still be listed in this request's warnings (or,
/// for a second budget, marked in its paths and labels). Past it, warnings
/// still appear on every value, with their counts, but without positions
/// (bounds the cost of adversarial requests).
pub(crate) struct Budget(Cell<usize>);

impl Budget {
    pub(crate) fn new(n: usize) -> Self {
        Self(Cell::new(n))
    }

    /// Takes up to `MAX_FINDINGS` items; `None` when the budget is spent.
    fn take<'h, T>(&self, items: &'h [T]) -> Option<&'h [T]> {
        let left = self.0.get();
        if left == 0 {
            return None;
        }
        let n = items.len().min(MAX_FINDINGS).min(left);
        self.0.set(left - n);
        Some(&items[..n])
    }
}

fn describe_findings(findings: &[&Finding], budget: &Budget) -> (String, Vec<CharFinding>) {
    match budget.take(findings) {
        Some(listed) => {
            let characters: Vec<CharFinding> = listed.iter().map(|f| char_finding(f)).collect();
            (list(findings, &characters), characters)
        }
        None => ("positions not listed (this request has too many findings)".to_owned(), Vec::new()),
    }
}

fn warning(class: Class, kind: TextKind, findings: &[&Finding], budget: &Budget) -> Warning {
    let (code, intro) = warning_of(class, kind.format);
    let place = if kind.in_key { " in the field name" } else { "" };
    let count = findings.len();
    let noun = if count == 1 { "character" } else { "characters" };
    let (listed, characters) = describe_findings(findings, budget);
    let mut w = Warning::new(code, severity(class), format!("{count} {intro} {noun}{place}: {listed}"));
    w.in_key = kind.in_key;
    w.characters = characters;
    w
}

/// Untrusted input quoted in an error text (a registry error, a log line):
/// every character flagged in one line of prose, every control character and
/// every backslash written in `countersign_text`'s escape grammar
/// (`\u{202E}`, `\n`, `\\`), cut at 200 characters. The display model
/// never escapes: its messages quote input exactly, with the characters to
/// reveal ([`Revealed`]).
#[must_use]
pub fn visible_escape(s: &str) -> String {
    countersign_text::escape_at_most(s, Context::Line, MAX_QUOTED_CHARS)
}

/// Every check the renderer runs on a value, for a string outside the
/// `authorization_details` (a request's client name, binding message…):
/// the warnings, with their [`CharFinding`]s, carry no index or path.
#[must_use]
pub fn check_value(s: &str, format: Format) -> Vec<Warning> {
    check(s, TextKind { format, in_key: false }, &Budget::new(MAX_FINDINGS))
}

/// The characters of `s`, shown in `context`, that a UI must mark where
/// they stand (a field's path or label), within `budget`.
pub(crate) fn marks(s: &str, context: Context, budget: &Budget) -> Vec<CharFinding> {
    let report = countersign_text::check(s, context);
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.dedup_by_key(|f| f.index);
    budget.take(&findings).map(|listed| listed.iter().map(|f| char_finding(f)).collect()).unwrap_or_default()
}

/// The characters of one untrusted text shown whole in `context` (a
/// sender's description over several lines) that a UI must mark: the
/// classifier's findings in that context (so line breaks of multi-line text
/// stay layout), at most `MAX_LISTED_PER_TEXT`.
pub(crate) fn reveal_in(s: &str, context: Context) -> Vec<CharFinding> {
    let report = countersign_text::check(s, context);
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| f.index);
    findings.dedup_by_key(|f| f.index);
    findings.into_iter().take(MAX_LISTED_PER_TEXT).map(char_finding).collect()
}

/// Every check on one string. Warnings carry no index or path yet.
pub(crate) fn check(s: &str, kind: TextKind, budget: &Budget) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let report = countersign_text::check(s, kind.context());
    let of = |class: Class| -> Vec<&Finding> { report.findings.iter().filter(|f| f.class == class).collect() };
    for class in [Class::BidiControl, Class::Invisible] {
        let found = of(class);
        if !found.is_empty() {
            warnings.push(warning(class, kind, &found, budget));
        }
    }
    hidden_text(&report, kind, &mut warnings);
    for class in [Class::Control, Class::UnusualSpace, Class::Unusual, Class::StackedMark, Class::NonAscii] {
        let found = of(class);
        if !found.is_empty() {
            warnings.push(warning(class, kind, &found, budget));
        }
    }
    if let Some(w) = mixed_script(s, &report, kind, budget) {
        warnings.push(w);
    }
    let chars = if s.is_ascii() { s.len() } else { s.chars().count() };
    if chars > LONG_VALUE_CHARS {
        warnings.push(long_value(chars, kind));
    }
    warnings
}

/// The text hidden in tag characters and in runs of variation selectors,
/// decoded.
fn hidden_text(report: &Report, kind: TextKind, warnings: &mut Vec<Warning>) {
    let mut push = |message: Revealed| {
        let mut w = Warning::quoting(WarningCode::HiddenText, Severity::Danger, message);
        w.in_key = kind.in_key;
        warnings.push(w);
    };
    let quoted = |intro: String, text: &str| {
        let mut m = Revealed::line(&intro);
        m.push("\"", Context::Line).quote(text, Context::Line).push("\"", Context::Line);
        m
    };
    if let Some(text) = &report.tag_text {
        push(quoted("Text hidden in invisible tag characters: ".to_owned(), text));
    }
    for run in &report.selector_runs {
        let intro = format!("Data hidden in {} variation selectors at position {}: ", run.bytes.len(), run.index);
        match run.text() {
            Some(t) => push(quoted(intro, &t)),
            None => push(Revealed::line(&format!("{intro}{} bytes", run.bytes.len()))),
        }
    }
}

fn long_value(chars: usize, kind: TextKind) -> Warning {
    let what = if kind.in_key { "Long field name" } else { "Long value" };
    let mut w = Warning::new(
        WarningCode::LongValue,
        Severity::Info,
        format!("{what}: {chars} characters, shown in full (scroll to read all of it)"),
    );
    w.in_key = kind.in_key;
    w
}

/// One warning per string naming the first word that mixes lookalike
/// scripts, and listing in every such word the letters not of its main
/// script.
fn mixed_script(s: &str, report: &Report, kind: TextKind, budget: &Budget) -> Option<Warning> {
    let first = report.mixed_words.first()?;
    let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.class == Class::Lookalike).collect();
    // The word is quoted as it looks; only what is flagged otherwise in it
    // (an invisible filler, stacked marks) is revealed.
    let word_findings: Vec<Finding> = report
        .findings
        .iter()
        .filter(|f| f.class != Class::Lookalike && (first.start..first.end).contains(&f.index))
        .map(|f| Finding { index: f.index - first.start, ..*f })
        .collect();
    let token: String = s.chars().skip(first.start).take(first.end - first.start).collect();
    let names: Vec<&str> = first.scripts.iter().map(|g| g.name()).collect();
    let more = match report.mixed_words.len() {
        1 => String::new(),
        2 => " (and 1 more word)".to_owned(),
        n => format!(" (and {} more words)", n - 1),
    };
    let place = if kind.in_key { " in the field name" } else { "" };
    let (listed, characters) = describe_findings(&findings, budget);
    let mut message = Revealed::line(&format!("Lookalike letters{place}: \""));
    message
        .push_at(&token, &flagged_positions(&word_findings), Some(MAX_QUOTED_CHARS))
        .push(&format!("\" mixes {} letters{more}: {listed}", names.join(" and ")), Context::Line);
    let mut w = Warning::quoting(WarningCode::MixedScript, severity(Class::Lookalike), message);
    w.in_key = kind.in_key;
    w.characters = characters;
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: Format) -> TextKind {
        TextKind { format, in_key: false }
    }

    #[test]
    fn plain_text_is_clean() {
        for s in ["Buy 10 AAPL", "Zahlung an Müller GmbH", "Привет мир", "東京タワー", "مرحبا بالعالم", "👍️ ok"]
        {
            assert_eq!(check(s, text(Format::Text), &Budget::new(100)), Vec::new(), "{s}");
        }
    }

    #[test]
    fn emoji_sequences_and_persian_zwnj_are_not_flagged() {
        // Family (ZWJ sequence), heart with VS16, Persian word with ZWNJ.
        for s in ["👨\u{200D}👩\u{200D}👧", "❤\u{FE0F}", "می\u{200C}خواهم", "葛\u{E0100}"] {
            assert_eq!(check(s, text(Format::Text), &Budget::new(100)), Vec::new(), "{s:?}");
        }
    }

    #[test]
    fn escape_makes_invisible_visible() {
        assert_eq!(visible_escape("a\u{202E}b\u{200B}c\n"), "a\\u{202E}b\\u{200B}c\\n");
        assert_eq!(visible_escape("plain"), "plain");
    }

    #[test]
    fn a_revealed_text_lists_a_bounded_number_of_characters_and_keeps_the_text() {
        let hostile = "\u{200B}".repeat(5_000);
        let r = Revealed::line(&hostile);
        assert_eq!(r.text(), hostile, "the text is never cut");
        assert_eq!(r.characters().len(), MAX_LISTED_PER_TEXT);
        let mut summary = Revealed::line("Send ");
        summary.append(&r).append(&r);
        assert_eq!(summary.characters().len(), MAX_LISTED_PER_TEXT, "a repeated value does not multiply them");
        assert_eq!(summary.text().chars().count(), 5 + 10_000);
    }

    #[test]
    fn revealed_text_keeps_the_text_and_marks_each_piece_in_its_context() {
        let mut r = Revealed::line("Not described: ");
        // A no-break space is flagged in an identifier, not in prose; a
        // line feed is always revealed.
        r.quote("/a\u{00A0}b", Context::Identifier).push(" \u{00A0}x\ny \u{202E}", Context::Line);
        assert_eq!(r.text(), "Not described: /a\u{00A0}b \u{00A0}x\ny \u{202E}");
        let at: Vec<(usize, &str)> = r.characters().iter().map(|c| (c.position, c.code_point.as_str())).collect();
        assert_eq!(at, [(17, "U+00A0"), (22, "U+000A"), (25, "U+202E")]);
        assert_eq!(r.escaped(), "Not described: /a\\u{00A0}b \u{00A0}x\\ny \\u{202E}");
        assert_eq!(countersign_text::unescape(&r.escaped()).as_deref(), Ok(r.text()));
        // A quote is cut, the cut said; positions count UTF-16 units too.
        let mut q = Revealed::line("😀 ");
        q.quote(&format!("{}\u{202E}", "k".repeat(300)), Context::Line);
        assert_eq!(q.text().chars().count(), 2 + 200 + 1);
        assert!(q.text().ends_with('…') && q.characters().is_empty());
        let mut p = Revealed::line("😀");
        p.push("\u{202E}", Context::Line);
        assert_eq!((p.characters()[0].position, p.characters()[0].utf16_offset), (1, 2));
    }

    #[test]
    fn check_value_finds_a_bidi_control_in_any_string() {
        let w = check_value("Acme\u{202E}gnp.exe", Format::Text);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, WarningCode::BidiControl);
        assert_eq!(w[0].characters[0].code_point, "U+202E");
        assert_eq!(w[0].characters[0].utf16_offset, 4);
        assert!(check_value("Acme Agent", Format::Text).is_empty());
    }
}
