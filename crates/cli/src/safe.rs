//! Making untrusted text safe for a terminal.
//!
//! Everything that comes from a server or an agent (names, binding
//! messages, authorization details, error descriptions) goes through
//! [`text`] (or [`text_in`], in the value's context) before it is printed.
//! That is `countersign_text::escape`, the classifier the server, the
//! renderer and the notifications share: every character it flags (bidi
//! controls, invisible and format characters, unusual characters, lookalike
//! letters…) and every control character (C0, DEL, C1, so no escape sequence
//! ever reaches the terminal) is written visibly as `\u{XXXX}` (`\n`, `\r`,
//! `\t` for line feed, carriage return and tab), and a backslash is doubled,
//! so the escapes cannot be forged by the text itself and
//! `countersign_text::unescape` gives back exactly what was sent.
//! JSON output is written in ASCII only ([`json`]): every non-ASCII
//! character is a `\uXXXX` escape, so it is safe on a terminal too.

use countersign_text::{escape, is_clean, Context};
use serde::Serialize;
use std::fmt::Write as _;

/// `s` escaped for one line of a terminal, as one line of prose.
#[must_use]
pub fn text(s: &str) -> String {
    escape(s, Context::Line)
}

/// `s` escaped for one line of a terminal, classified in `context` (a
/// member name or an IBAN is judged as what it is).
#[must_use]
pub fn text_in(s: &str, context: Context) -> String {
    escape(s, context)
}

/// Whether [`text`] writes `s` other than as it is.
#[must_use]
pub fn has_escapes(s: &str) -> bool {
    s.contains('\\') || s.chars().any(char::is_control) || !is_clean(s, Context::Line)
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
            assert!(!has_escapes(s));
        }
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
