//! Making untrusted text safe for a terminal.
//!
//! Everything that comes from a server or an agent (names, binding
//! messages, authorization details, error descriptions) goes through
//! [`text`] before it is printed: control characters (C0, DEL, C1, so no
//! escape sequence ever reaches the terminal), bidirectional controls,
//! invisible and format characters, non-ASCII spaces, variation selectors,
//! tag and private-use characters are written visibly as `\u{XXXX}`; a
//! backslash is doubled, so the escapes cannot be forged by the text itself.
//! JSON output is written in ASCII only ([`json`]): every non-ASCII
//! character is a `\uXXXX` escape, so it is safe on a terminal too.

use serde::Serialize;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself.
#[must_use]
pub fn must_escape(c: char) -> bool {
    let u = u32::from(c);
    matches!(u,
        0x00..=0x1F | 0x7F..=0x9F            // C0, DEL, C1 controls
        | 0xA0 | 0xAD                       // no-break space, soft hyphen
        | 0x034F                            // combining grapheme joiner
        | 0x061C                            // Arabic letter mark
        | 0x115F | 0x1160 | 0x3164 | 0xFFA0 // Hangul fillers
        | 0x1680                            // Ogham space mark
        | 0x180B..=0x180F                   // Mongolian selectors and vowel separator
        | 0x2000..=0x200F                   // spaces, zero width, LRM, RLM
        | 0x2028..=0x202F                   // separators, bidi embeddings, narrow space
        | 0x205F..=0x206F                   // math space, invisible operators, bidi isolates
        | 0x3000                            // ideographic space
        | 0xFE00..=0xFE0F                   // variation selectors
        | 0xFEFF                            // BOM, zero width no-break space
        | 0xFFF9..=0xFFFB                   // interlinear annotations
        | 0xFFFE | 0xFFFF | 0xFDD0..=0xFDEF // noncharacters
        | 0xE000..=0xF8FF                   // private use
        | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890 | 0x0891 | 0x08E2 // Arabic/Syriac format
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE007F                 // tags
        | 0xE0100..=0xE01EF                 // variation selectors supplement
        | 0xF0000..=0x10FFFF                // private use planes
    ) || (u & 0xFFFE) == 0xFFFE
}

/// `s` with every character [`must_escape`] written as `\u{XXXX}` (`\n`,
/// `\t`, `\r` as themselves escaped) and `\` as `\\`.
#[must_use]
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if must_escape(c) => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `s` contains anything [`text`] escapes.
#[must_use]
pub fn has_escapes(s: &str) -> bool {
    s.chars().any(|c| c == '\\' || must_escape(c))
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
        assert_eq!(text("nb\u{a0}sp"), "nb\\u{00A0}sp");
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
