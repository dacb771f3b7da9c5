//! Making untrusted text safe for a terminal: the one place the CLI writes
//! it.
//!
//! Everything that comes from a server, an agent or a schema (names,
//! binding messages, authorization details, summaries, warning messages,
//! paths, descriptions, error texts) is printed through [`reveal`] (or
//! [`text`], [`text_in`], [`quoted`]), exactly once. The display model never
//! escapes anything: it gives each text exactly, with the characters to
//! reveal in it (`docs/display-schema.md` §4). [`reveal`] writes in
//! `countersign_text`'s escape grammar every character the classifier flags
//! in the text's context, every character the model marks, every control
//! character (C0, DEL, C1, so no escape sequence ever reaches the terminal)
//! as `\u{XXXX}` (`\n`, `\r`, `\t` for line feed, carriage return and tab),
//! and doubles every backslash, so the escapes cannot be forged by the text
//! itself and `countersign_text::unescape` gives back exactly what was sent.
//! JSON output is written in ASCII only ([`json`]): every non-ASCII
//! character is a `\uXXXX` escape, so it is safe on a terminal too.

use countersign_details::CharFinding;
use countersign_text::{check, escape_at, Context};
use serde::Serialize;
use std::fmt::Write as _;

/// `s` for one line of a terminal: every character the classifier flags in
/// `context` and every character of `marked` (the model's findings for this
/// text, positions in code points) escaped, with every control character
/// and backslash.
#[must_use]
pub fn reveal(s: &str, context: Context, marked: &[CharFinding]) -> String {
    escape_at(s, &positions(s, context, marked, false))
}

/// `s` in double quotes, revealed as [`reveal`] does; a `"` inside is
/// written `\u{0022}`, so the quotes say where the text ends and the line
/// stays in the escape grammar.
#[must_use]
pub fn quoted(s: &str, context: Context, marked: &[CharFinding]) -> String {
    format!("\"{}\"", escape_at(s, &positions(s, context, marked, true)))
}

/// The positions [`reveal`] escapes (the control characters and backslashes
/// are escaped by the grammar anyway).
fn positions(s: &str, context: Context, marked: &[CharFinding], quotes: bool) -> Vec<usize> {
    let mut at: Vec<usize> = check(s, context).findings.iter().map(|f| f.index).collect();
    at.extend(marked.iter().map(|c| c.position));
    if quotes {
        at.extend(s.chars().enumerate().filter(|(_, c)| *c == '"').map(|(i, _)| i));
    }
    at
}

/// `s` escaped for one line of a terminal, as one line of prose.
#[must_use]
pub fn text(s: &str) -> String {
    reveal(s, Context::Line, &[])
}

/// `s` escaped for one line of a terminal, classified in `context` (a
/// member name or an IBAN is judged as what it is).
#[must_use]
pub fn text_in(s: &str, context: Context) -> String {
    reveal(s, context, &[])
}

/// Pretty JSON in ASCII only.
#[must_use]
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    ascii(&serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}

/// Compact JSON in ASCII only (one line, for streams).
#[must_use]
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> String {
    ascii(&serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}

/// Non-ASCII characters (and DEL) of JSON text as `\uXXXX` escapes. JSON
/// structure is ASCII, so such characters only occur inside strings, where
/// the escape means the same character.
fn ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::contains_escape;

    #[test]
    fn escapes_controls_bidi_and_invisibles_visibly() {
        assert_eq!(text("abc \u{202E}cba"), "abc \\u{202E}cba");
        assert_eq!(text("\u{1b}[31mred"), "\\u{001B}[31mred");
        assert_eq!(text("a\u{200B}b\u{FEFF}c\u{2066}d"), "a\\u{200B}b\\u{FEFF}c\\u{2066}d");
        assert_eq!(text("line\nnext\ttab\r"), "line\\nnext\\ttab\\r");
        assert_eq!(text("\u{9b}"), "\\u{009B}", "C1 CSI");
        assert_eq!(text("tag\u{E0041}"), "tag\\u{E0041}");
        // A no-break space is typography in prose (the renderer and the
        // server agree); in an identifier it is escaped where it stands.
        assert_eq!(text("nb\u{a0}sp"), "nb\u{a0}sp");
        assert_eq!(text_in("nb\u{a0}sp", Context::Identifier), "nb\\u{00A0}sp");
    }

    #[test]
    fn escapes_read_back_exactly() {
        for s in ["Bank\u{202E}gnp.exe", "C:\\temp\\u{202E}", "p\u{0430}ypal\n\t", "❤\u{FE0F} می\u{200C}خواهم"]
        {
            assert_eq!(countersign_text::unescape(&text(s)).as_deref(), Ok(s));
        }
    }

    #[test]
    fn backslash_is_doubled_so_escapes_cannot_be_forged() {
        assert_eq!(text("\\u{202E}"), "\\\\u{202E}");
        assert_ne!(text("\\u{202E}"), text("\u{202E}"));
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in ["Zoë Martin", "Møller & Søn ApS", "Kauf für Zoë – Q4 €", "日本語", "😀", "ﬁnal"] {
            assert_eq!(text(s), s);
            assert!(!contains_escape(&text(s)));
        }
    }

    #[test]
    fn what_the_model_marks_is_escaped_too_and_quotes_stay_in_the_grammar() {
        // A no-break space is prose in one line; the model marked it (it
        // stands in an identifier quoted in a message).
        let marked = countersign_details::text::Revealed::of("a\u{00A0}b", Context::Identifier);
        assert_eq!(reveal("a\u{00A0}b", Context::Line, marked.characters()), "a\\u{00A0}b");
        assert!(contains_escape(&reveal("a\u{00A0}b", Context::Line, marked.characters())));
        assert!(!contains_escape(&reveal("a\u{00A0}b", Context::Line, &[])));
        let q = quoted("say \"hi\" \\ \u{202E}", Context::Line, &[]);
        assert_eq!(q, "\"say \\u{0022}hi\\u{0022} \\\\ \\u{202E}\"");
        assert_eq!(countersign_text::unescape(&q).as_deref(), Ok("\"say \"hi\" \\ \u{202E}\""));
        // CR and TAB alone count as revealed (the note under `show`).
        assert!(contains_escape(&reveal("cr\roverwrite", Context::Line, &[])));
        assert!(contains_escape(&reveal("a\tb", Context::MultiLine, &[])));
    }

    #[test]
    fn json_is_ascii_and_round_trips() {
        let v = serde_json::json!({"note": "Zoë \u{202E} 😀 \u{1b}[0m \u{7f}"});
        let out = json(&v);
        assert!(out.is_ascii(), "{out}");
        assert!(!out.contains('\u{1b}'));
        assert!(out.contains("\\u202e") && out.contains("\\ud83d\\ude00"));
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v);
        assert!(json_line(&v).lines().count() == 1);
    }
}
