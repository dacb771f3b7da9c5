//! Names for messages: `U+202E RIGHT-TO-LEFT OVERRIDE`.

use crate::properties::{self as unicode, Category};

/// The control characters have no Name, only aliases: the `control` alias of
/// each from NameAliases.txt (C0, then C1; DEL apart). A test checks them
/// against the Unicode data.
const C0_ALIASES: [&str; 32] = [
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "ALERT",
    "BACKSPACE",
    "CHARACTER TABULATION",
    "LINE FEED",
    "LINE TABULATION",
    "FORM FEED",
    "CARRIAGE RETURN",
    "SHIFT OUT",
    "SHIFT IN",
    "DATA LINK ESCAPE",
    "DEVICE CONTROL ONE",
    "DEVICE CONTROL TWO",
    "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR",
    "NEGATIVE ACKNOWLEDGE",
    "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK",
    "CANCEL",
    "END OF MEDIUM",
    "SUBSTITUTE",
    "ESCAPE",
    "INFORMATION SEPARATOR FOUR",
    "INFORMATION SEPARATOR THREE",
    "INFORMATION SEPARATOR TWO",
    "INFORMATION SEPARATOR ONE",
];

const DEL_ALIAS: &str = "DELETE";

const C1_ALIASES: [&str; 32] = [
    "PADDING CHARACTER",
    "HIGH OCTET PRESET",
    "BREAK PERMITTED HERE",
    "NO BREAK HERE",
    "INDEX",
    "NEXT LINE",
    "START OF SELECTED AREA",
    "END OF SELECTED AREA",
    "CHARACTER TABULATION SET",
    "CHARACTER TABULATION WITH JUSTIFICATION",
    "LINE TABULATION SET",
    "PARTIAL LINE FORWARD",
    "PARTIAL LINE BACKWARD",
    "REVERSE LINE FEED",
    "SINGLE SHIFT TWO",
    "SINGLE SHIFT THREE",
    "DEVICE CONTROL STRING",
    "PRIVATE USE ONE",
    "PRIVATE USE TWO",
    "SET TRANSMIT STATE",
    "CANCEL CHARACTER",
    "MESSAGE WAITING",
    "START OF GUARDED AREA",
    "END OF GUARDED AREA",
    "START OF STRING",
    "SINGLE GRAPHIC CHARACTER INTRODUCER",
    "SINGLE CHARACTER INTRODUCER",
    "CONTROL SEQUENCE INTRODUCER",
    "STRING TERMINATOR",
    "OPERATING SYSTEM COMMAND",
    "PRIVACY MESSAGE",
    "APPLICATION PROGRAM COMMAND",
];

/// The Unicode name of `c` (`RIGHT-TO-LEFT OVERRIDE`); for a control
/// character its control alias (`ESCAPE`); for a code point without a name,
/// what it is (`PRIVATE USE CHARACTER`, `NONCHARACTER`, `UNASSIGNED
/// CHARACTER`).
#[must_use]
pub fn char_name(c: char) -> String {
    let u = u32::from(c);
    let alias = match u {
        0x00..=0x1F => C0_ALIASES.get(u as usize).copied(),
        0x7F => Some(DEL_ALIAS),
        0x80..=0x9F => C1_ALIASES.get((u - 0x80) as usize).copied(),
        _ => None,
    };
    if let Some(alias) = alias {
        return alias.to_owned();
    }
    if let Some(name) = unicode_names2::name(c) {
        return name.to_string();
    }
    match unicode::category(c) {
        Category::PrivateUse => "PRIVATE USE CHARACTER",
        Category::Unassigned if (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u) => "NONCHARACTER",
        Category::Unassigned => "UNASSIGNED CHARACTER",
        // Assigned after the names data was made.
        _ => "CHARACTER",
    }
    .to_owned()
}

/// `U+202E`: the code point, at least four uppercase hex digits.
#[must_use]
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_aliases_are_the_unicode_ones() {
        for (u, alias) in (0u32..).zip(C0_ALIASES).chain([(0x7F, DEL_ALIAS)]).chain((0x80u32..).zip(C1_ALIASES)) {
            assert_eq!(unicode_names2::character(alias), char::from_u32(u), "{alias}");
        }
    }

    // Every class of name the rules give (details re-exports `char_name`).
    #[test]
    fn names() {
        for (c, name) in [
            ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
            ('\u{0430}', "CYRILLIC SMALL LETTER A"),
            ('\u{0410}', "CYRILLIC CAPITAL LETTER A"),
            ('\u{0456}', "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I"),
            ('\u{03BF}', "GREEK SMALL LETTER OMICRON"),
            ('\u{FE0F}', "VARIATION SELECTOR-16"),
            ('\u{E0100}', "VARIATION SELECTOR-17"),
            ('\u{E0041}', "TAG LATIN CAPITAL LETTER A"),
            ('\u{1B}', "ESCAPE"),
            ('\u{85}', "NEXT LINE"),
            ('\u{FF21}', "FULLWIDTH LATIN CAPITAL LETTER A"),
            ('\u{E000}', "PRIVATE USE CHARACTER"),
            ('\u{FFFF}', "NONCHARACTER"),
            ('\u{FDD0}', "NONCHARACTER"),
            ('\u{0378}', "UNASSIGNED CHARACTER"),
            ('\u{4E00}', "CJK UNIFIED IDEOGRAPH-4E00"),
        ] {
            assert_eq!(char_name(c), name, "{:?}", code_point(c));
        }
        assert_eq!(code_point('\u{1B}'), "U+001B");
        assert_eq!(code_point('\u{E0041}'), "U+E0041");
    }
}
