//! Writing untrusted text visibly, in one grammar (a subset of Rust's string
//! escapes): `\\` for a backslash, `\n`, `\r`, `\t` for LF, CR and TAB, and
//! `\u{XXXX}` (uppercase hex, at least four digits) for every other
//! character written escaped. Every flagged character and every control
//! character is escaped, so the result is one line with nothing hidden in
//! it, and [`unescape`] gives back the original exactly.

use crate::classify::{check, Finding};
use crate::context::Context;
use std::fmt::Write as _;

/// `text` with every character flagged in `context`, every control character
/// and every backslash escaped.
///
/// ```
/// use countersign_text::{escape, Context};
/// assert_eq!(escape("Bank\u{202E}gnp.exe\n", Context::Line), "Bank\\u{202E}gnp.exe\\n");
/// assert_eq!(escape("❤\u{FE0F} C:\\temp", Context::Line), "❤\u{FE0F} C:\\\\temp");
/// ```
#[must_use]
pub fn escape(text: &str, context: Context) -> String {
    escape_findings(text, &check(text, context).findings)
}

/// [`escape`] of the first `max_chars` characters (classified within the
/// whole text), then `…` when the text was longer: for a message that quotes
/// untrusted text (messages are not values; values are never cut).
#[must_use]
pub fn escape_at_most(text: &str, context: Context, max_chars: usize) -> String {
    let findings = check(text, context).findings;
    let mut out = write(text, &findings, Some(max_chars));
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// A short quote of untrusted text for an error message: [`escape_at_most`]
/// of at most `max_chars` characters and, when the text was longer, how long
/// it was, e.g. `aaaa… (8193 characters)`. Messages that echo input stay
/// bounded however long the input.
///
/// ```
/// use countersign_text::{excerpt, Context};
/// assert_eq!(excerpt("short", Context::Identifier, 8), "short");
/// assert_eq!(excerpt(&"k".repeat(9000), Context::Identifier, 4), "kkkk… (9000 characters)");
/// ```
#[must_use]
pub fn excerpt(text: &str, context: Context, max_chars: usize) -> String {
    let mut out = escape_at_most(text, context, max_chars);
    if text.chars().nth(max_chars).is_some() {
        let _ = write!(out, " ({} characters)", text.chars().count());
    }
    out
}

/// `text` with the characters of `findings` (positions in code points, as
/// [`crate::check`] gives them), every control character and every backslash
/// escaped: for a caller that escapes only some findings, e.g. a message
/// that quotes a lookalike word to show it as it looks.
#[must_use]
pub fn escape_findings(text: &str, findings: &[Finding]) -> String {
    write(text, findings, None)
}

/// `text` with the characters at `positions` (in code points), every control
/// character and every backslash escaped: for a text made of pieces
/// classified in different contexts (a message quoting a path and a value, a
/// summary line), whose positions to reveal are already known.
///
/// ```
/// use countersign_text::{escape_at, unescape};
/// let shown = escape_at("p\u{0430}y \\ \t", &[1]);
/// assert_eq!(shown, "p\\u{0430}y \\\\ \\t");
/// assert_eq!(unescape(&shown).as_deref(), Ok("p\u{0430}y \\ \t"));
/// ```
#[must_use]
pub fn escape_at(text: &str, positions: &[usize]) -> String {
    let mut at = positions.to_vec();
    at.sort_unstable();
    at.dedup();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        push_escaped(&mut out, c, at.binary_search(&i).is_ok());
    }
    out
}

/// The positions of `findings`, sorted, each once.
fn positions(findings: &[Finding]) -> Vec<usize> {
    let mut at: Vec<usize> = findings.iter().map(|f| f.index).collect();
    at.sort_unstable();
    at.dedup();
    at
}

fn write(text: &str, findings: &[Finding], max_chars: Option<usize>) -> String {
    let flagged = positions(findings);
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        if max_chars.is_some_and(|max| i >= max) {
            break;
        }
        push_escaped(&mut out, c, flagged.binary_search(&i).is_ok());
    }
    out
}

fn push_escaped(out: &mut String, c: char, flagged: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if flagged || c.is_control() => {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `text` with every character flagged in `context` and every control
/// character replaced by `replacement` (U+FFFD for a notification, which
/// cannot show the warnings that would explain them).
#[must_use]
pub fn replace_flagged(text: &str, context: Context, replacement: char) -> String {
    let flagged = positions(&check(text, context).findings);
    text.chars()
        .enumerate()
        .map(|(i, c)| if c.is_control() || flagged.binary_search(&i).is_ok() { replacement } else { c })
        .collect()
}

/// Text that is not in the escape grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnescapeError {
    /// Byte offset of the backslash that starts the bad escape.
    pub byte_offset: usize,
}

impl std::fmt::Display for UnescapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a valid escape at byte {}", self.byte_offset)
    }
}

impl std::error::Error for UnescapeError {}

/// The text that [`escape`] (or [`escape_findings`]) wrote as `escaped`.
///
/// # Errors
/// A backslash not followed by `\`, `n`, `r`, `t` or `u{HEX}` naming a
/// Unicode scalar value.
pub fn unescape(escaped: &str) -> Result<String, UnescapeError> {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.char_indices();
    while let Some((at, c)) = rest.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let bad = UnescapeError { byte_offset: at };
        match rest.next().map(|(_, c)| c) {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                if rest.next().map(|(_, c)| c) != Some('{') {
                    return Err(bad);
                }
                let mut hex = String::new();
                loop {
                    match rest.next().map(|(_, c)| c) {
                        Some('}') => break,
                        Some(h) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                        _ => return Err(bad),
                    }
                }
                let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).ok_or(bad)?;
                out.push(c);
            }
            _ => return Err(bad),
        }
    }
    Ok(out)
}
