//! Checks on untrusted strings: what could make the text a person reads
//! differ from the text that is signed. Every finding becomes a visible
//! [`Warning`] naming the code points; the text itself is never changed.
//!
//! Classes (see `docs/display-schema.md`, warnings catalogue):
//! - bidirectional formatting characters (Trojan Source, CVE-2021-42574);
//! - invisible characters: zero-width, fillers, tag characters (with the
//!   ASCII they hide decoded), variation selectors outside their legitimate
//!   use (one emoji or ideographic variant), and the data hidden in runs of
//!   them;
//! - C0 and C1 controls, DEL, line and paragraph separators (line breaks and
//!   tabs are allowed in `multiline-text` and `code`);
//! - unusual spaces (outside free text), private use characters,
//!   noncharacters, U+FFFC and U+FFFD;
//! - long runs of combining marks;
//! - mixed-script lookalikes: one word (a run of letters and digits) with
//!   letters from two of Latin, Greek, Cyrillic, Armenian, Cherokee, Coptic,
//!   fullwidth Latin or mathematical alphanumerics;
//! - non-ASCII characters in values that must be ASCII (tickers, IBANs…).

use crate::limits::{LONG_VALUE_CHARS, MAX_FINDINGS, MAX_LISTED_IN_MESSAGE};
use crate::model::{CharFinding, Format, Severity, Warning, WarningCode};
use std::cell::Cell;

/// What a string is, for the rules that depend on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextKind {
    pub format: Format,
    pub in_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Bidi,
    Invisible,
    Control,
    Whitespace,
    Unusual,
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0000}'..='\u{E007F}')
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Default-ignorable and other characters that render as nothing (variation
/// selectors and joiners are judged in context, elsewhere).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2065}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    ) && !is_variation_selector(c)
}

fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn is_unusual_space(c: char) -> bool {
    matches!(c, '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

fn is_unusual(c: char) -> bool {
    let u = u32::from(c);
    matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
        || matches!(c, '\u{FFFC}' | '\u{FFFD}')
}

fn is_combining(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}'
    )
}

/// Characters that commonly take an emoji presentation selector or join in an
/// emoji ZWJ sequence.
fn is_emoji_base(c: char) -> bool {
    matches!(
        c,
        '0'..='9'
            | '#'
            | '*'
            | '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{2194}'..='\u{21AA}'
            | '\u{231A}'..='\u{23FF}'
            | '\u{24C2}'
            | '\u{25AA}'..='\u{25FE}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{2934}'..='\u{2935}'
            | '\u{2B05}'..='\u{2B55}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{1F000}'..='\u{1FAFF}'
            | '\u{20E3}'
    )
}

fn is_emoji_modifier(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}')
}

/// Scripts where ZWJ and ZWNJ are ordinary orthography (Persian, Indic).
fn joins_in_script(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{08A0}'..='\u{08FF}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFF}'
            | '\u{0900}'..='\u{0DFF}'
    )
}

/// Lookalike-prone scripts, for the mixed-script check (by block: marks and
/// punctuation of a block count as its script, so a Greek question mark
/// U+037E in a Latin word is caught too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Cherokee,
    Coptic,
    FullwidthLatin,
    Mathematical,
}

impl Script {
    const COUNT: usize = 8;
    const ALL: [Script; Self::COUNT] = [
        Self::Latin,
        Self::Greek,
        Self::Cyrillic,
        Self::Armenian,
        Self::Cherokee,
        Self::Coptic,
        Self::FullwidthLatin,
        Self::Mathematical,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Latin => "Latin",
            Self::Greek => "Greek",
            Self::Cyrillic => "Cyrillic",
            Self::Armenian => "Armenian",
            Self::Cherokee => "Cherokee",
            Self::Coptic => "Coptic",
            Self::FullwidthLatin => "fullwidth Latin",
            Self::Mathematical => "mathematical alphanumeric",
        }
    }
}

#[inline]
fn script(c: char) -> Option<Script> {
    if c.is_ascii() {
        return c.is_ascii_alphabetic().then_some(Script::Latin);
    }
    match c {
        'A'..='Z' | 'a'..='z' | '\u{00AA}' | '\u{00BA}' => Some(Script::Latin),
        '\u{00C0}'..='\u{024F}' if c != '\u{00D7}' && c != '\u{00F7}' => Some(Script::Latin),
        '\u{0250}'..='\u{02AF}'
        | '\u{1D00}'..='\u{1D7F}'
        | '\u{1E00}'..='\u{1EFF}'
        | '\u{2C60}'..='\u{2C7F}'
        | '\u{A720}'..='\u{A7FF}'
        | '\u{AB30}'..='\u{AB6F}' => Some(Script::Latin),
        '\u{0370}'..='\u{03E1}' | '\u{03F0}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => Some(Script::Greek),
        '\u{03E2}'..='\u{03EF}' | '\u{2C80}'..='\u{2CFF}' => Some(Script::Coptic),
        '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}' => {
            Some(Script::Cyrillic)
        }
        '\u{0530}'..='\u{058F}' | '\u{FB13}'..='\u{FB17}' => Some(Script::Armenian),
        '\u{13A0}'..='\u{13FF}' | '\u{AB70}'..='\u{ABBF}' => Some(Script::Cherokee),
        '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => Some(Script::FullwidthLatin),
        '\u{1D400}'..='\u{1D7FF}' => Some(Script::Mathematical),
        _ => None,
    }
}

const C0_NAMES: [&str; 32] = [
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "BELL",
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

const C1_NAMES: [&str; 32] = [
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

const CYRILLIC_BASIC: [&str; 32] = [
    "A",
    "BE",
    "VE",
    "GHE",
    "DE",
    "IE",
    "ZHE",
    "ZE",
    "I",
    "SHORT I",
    "KA",
    "EL",
    "EM",
    "EN",
    "O",
    "PE",
    "ER",
    "ES",
    "TE",
    "U",
    "EF",
    "HA",
    "TSE",
    "CHE",
    "SHA",
    "SHCHA",
    "HARD SIGN",
    "YERU",
    "SOFT SIGN",
    "E",
    "YU",
    "YA",
];

const CYRILLIC_EXTRA: [&str; 16] = [
    "IE WITH GRAVE",
    "IO",
    "DJE",
    "GJE",
    "UKRAINIAN IE",
    "DZE",
    "BYELORUSSIAN-UKRAINIAN I",
    "YI",
    "JE",
    "LJE",
    "NJE",
    "TSHE",
    "KJE",
    "I WITH GRAVE",
    "SHORT U",
    "DZHE",
];

const GREEK_BASIC: [&str; 25] = [
    "ALPHA",
    "BETA",
    "GAMMA",
    "DELTA",
    "EPSILON",
    "ZETA",
    "ETA",
    "THETA",
    "IOTA",
    "KAPPA",
    "LAMDA",
    "MU",
    "NU",
    "XI",
    "OMICRON",
    "PI",
    "RHO",
    "FINAL SIGMA",
    "SIGMA",
    "TAU",
    "UPSILON",
    "PHI",
    "CHI",
    "PSI",
    "OMEGA",
];

fn ascii_name(c: char) -> Option<String> {
    Some(match c {
        'A'..='Z' => format!("LATIN CAPITAL LETTER {c}"),
        'a'..='z' => format!("LATIN SMALL LETTER {}", c.to_ascii_uppercase()),
        '0'..='9' => {
            let names = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];
            format!("DIGIT {}", names[(u32::from(c) - u32::from('0')) as usize])
        }
        ' ' => "SPACE".to_owned(),
        _ => return None,
    })
}

/// The Unicode name of a character this module reports (the characters it
/// flags, and the letters of the lookalike scripts); a descriptive name for
/// others.
#[must_use]
pub fn char_name(c: char) -> String {
    let u = u32::from(c);
    if u < 0x20 {
        return C0_NAMES[u as usize].to_owned();
    }
    if u == 0x7F {
        return "DELETE".to_owned();
    }
    if (0x80..0xA0).contains(&u) {
        return C1_NAMES[(u - 0x80) as usize].to_owned();
    }
    if let Some(name) = ascii_name(c) {
        return name;
    }
    let fixed = match c {
        '\u{00A0}' => "NO-BREAK SPACE",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{034F}' => "COMBINING GRAPHEME JOINER",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{115F}' => "HANGUL CHOSEONG FILLER",
        '\u{1160}' => "HANGUL JUNGSEONG FILLER",
        '\u{1680}' => "OGHAM SPACE MARK",
        '\u{17B4}' => "KHMER VOWEL INHERENT AQ",
        '\u{17B5}' => "KHMER VOWEL INHERENT AA",
        '\u{180B}' => "MONGOLIAN FREE VARIATION SELECTOR ONE",
        '\u{180C}' => "MONGOLIAN FREE VARIATION SELECTOR TWO",
        '\u{180D}' => "MONGOLIAN FREE VARIATION SELECTOR THREE",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{180F}' => "MONGOLIAN FREE VARIATION SELECTOR FOUR",
        '\u{2000}' => "EN QUAD",
        '\u{2001}' => "EM QUAD",
        '\u{2002}' => "EN SPACE",
        '\u{2003}' => "EM SPACE",
        '\u{2004}' => "THREE-PER-EM SPACE",
        '\u{2005}' => "FOUR-PER-EM SPACE",
        '\u{2006}' => "SIX-PER-EM SPACE",
        '\u{2007}' => "FIGURE SPACE",
        '\u{2008}' => "PUNCTUATION SPACE",
        '\u{2009}' => "THIN SPACE",
        '\u{200A}' => "HAIR SPACE",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{202F}' => "NARROW NO-BREAK SPACE",
        '\u{205F}' => "MEDIUM MATHEMATICAL SPACE",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}' => "FUNCTION APPLICATION",
        '\u{2062}' => "INVISIBLE TIMES",
        '\u{2063}' => "INVISIBLE SEPARATOR",
        '\u{2064}' => "INVISIBLE PLUS",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{206A}' => "INHIBIT SYMMETRIC SWAPPING",
        '\u{206B}' => "ACTIVATE SYMMETRIC SWAPPING",
        '\u{206C}' => "INHIBIT ARABIC FORM SHAPING",
        '\u{206D}' => "ACTIVATE ARABIC FORM SHAPING",
        '\u{206E}' => "NATIONAL DIGIT SHAPES",
        '\u{206F}' => "NOMINAL DIGIT SHAPES",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{3164}' => "HANGUL FILLER",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{FFA0}' => "HALFWIDTH HANGUL FILLER",
        '\u{FFF9}' => "INTERLINEAR ANNOTATION ANCHOR",
        '\u{FFFA}' => "INTERLINEAR ANNOTATION SEPARATOR",
        '\u{FFFB}' => "INTERLINEAR ANNOTATION TERMINATOR",
        '\u{FFFC}' => "OBJECT REPLACEMENT CHARACTER",
        '\u{FFFD}' => "REPLACEMENT CHARACTER",
        '\u{E0001}' => "LANGUAGE TAG",
        '\u{E007F}' => "CANCEL TAG",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_owned();
    }
    match u {
        0xFE00..=0xFE0F => return format!("VARIATION SELECTOR-{}", u - 0xFE00 + 1),
        0xE0100..=0xE01EF => return format!("VARIATION SELECTOR-{}", u - 0xE0100 + 17),
        0xE0020..=0xE007E => {
            let ascii = char::from_u32(u - 0xE0000).unwrap_or(' ');
            return match ascii_name(ascii) {
                Some(n) => format!("TAG {n}"),
                None => format!("TAG CHARACTER '{ascii}'"),
            };
        }
        0xE0000..=0xE0FFF => return "TAG OR IGNORABLE CHARACTER".to_owned(),
        0x0400..=0x040F => return format!("CYRILLIC CAPITAL LETTER {}", CYRILLIC_EXTRA[(u - 0x0400) as usize]),
        0x0410..=0x042F => return format!("CYRILLIC CAPITAL LETTER {}", CYRILLIC_BASIC[(u - 0x0410) as usize]),
        0x0430..=0x044F => return format!("CYRILLIC SMALL LETTER {}", CYRILLIC_BASIC[(u - 0x0430) as usize]),
        0x0450..=0x045F => return format!("CYRILLIC SMALL LETTER {}", CYRILLIC_EXTRA[(u - 0x0450) as usize]),
        0x0391..=0x03A9 if u != 0x03A2 => {
            return format!("GREEK CAPITAL LETTER {}", GREEK_BASIC[(u - 0x0391) as usize]);
        }
        0x03B1..=0x03C9 => return format!("GREEK SMALL LETTER {}", GREEK_BASIC[(u - 0x03B1) as usize]),
        0xFF21..=0xFF3A | 0xFF41..=0xFF5A => {
            let ascii = char::from_u32(u - 0xFF21 + 0x41).unwrap_or('?');
            return format!("FULLWIDTH {}", ascii_name(ascii).unwrap_or_default());
        }
        0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD => return "PRIVATE USE CHARACTER".to_owned(),
        0xFDD0..=0xFDEF => return "NONCHARACTER".to_owned(),
        _ if (u & 0xFFFE) == 0xFFFE => return "NONCHARACTER".to_owned(),
        _ => {}
    }
    if is_combining(c) {
        return "COMBINING MARK".to_owned();
    }
    match script(c) {
        Some(s) => format!("{} LETTER", s.name().to_uppercase()),
        None if c.is_alphabetic() => "LETTER".to_owned(),
        None if c.is_whitespace() => "SPACE CHARACTER".to_owned(),
        None => "CHARACTER".to_owned(),
    }
}

/// `U+202E`.
#[must_use]
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    c: char,
    position: usize,
    utf16_offset: usize,
}

impl Hit {
    fn finding(self) -> CharFinding {
        CharFinding {
            code_point: code_point(self.c),
            name: char_name(self.c),
            position: self.position,
            utf16_offset: self.utf16_offset,
        }
    }
    fn describe(self) -> String {
        format!("{} {} at position {}", code_point(self.c), char_name(self.c), self.position)
    }
}

fn list(hits: &[Hit]) -> String {
    let mut parts: Vec<String> = hits.iter().take(MAX_LISTED_IN_MESSAGE).map(|h| h.describe()).collect();
    if hits.len() > MAX_LISTED_IN_MESSAGE {
        parts.push(format!("and {} more", hits.len() - MAX_LISTED_IN_MESSAGE));
    }
    parts.join(", ")
}

/// How many characters may still be listed in this request's warnings. Past
/// it, warnings still appear on every value, with their counts, but without
/// positions (bounds the cost of adversarial requests).
pub(crate) struct Budget(Cell<usize>);

impl Budget {
    pub(crate) fn new(n: usize) -> Self {
        Self(Cell::new(n))
    }

    /// Takes up to `MAX_FINDINGS` hits; `None` when the budget is spent.
    fn take<'h>(&self, hits: &'h [Hit]) -> Option<&'h [Hit]> {
        let left = self.0.get();
        if left == 0 {
            return None;
        }
        let n = hits.len().min(MAX_FINDINGS).min(left);
        self.0.set(left - n);
        Some(&hits[..n])
    }
}

fn describe_hits(hits: &[Hit], budget: &Budget) -> (String, Vec<CharFinding>) {
    match budget.take(hits) {
        Some(listed) => (list(hits), listed.iter().map(|h| h.finding()).collect()),
        None => ("positions not listed (this request has too many findings)".to_owned(), Vec::new()),
    }
}

fn warning(
    code: WarningCode,
    severity: Severity,
    kind: TextKind,
    intro: &str,
    hits: &[Hit],
    budget: &Budget,
) -> Warning {
    let place = if kind.in_key { " in the field name" } else { "" };
    let count = hits.len();
    let noun = if count == 1 { "character" } else { "characters" };
    let (listed, characters) = describe_hits(hits, budget);
    let mut w = Warning::new(code, severity, format!("{count} {intro} {noun}{place}: {listed}"));
    w.in_key = kind.in_key;
    w.characters = characters;
    w
}

/// Text for a message that quotes untrusted input: every character this
/// module would flag is written as `\u{XXXX}`, and the result is cut at 200
/// characters (messages are not values; values are never cut).
#[must_use]
pub fn visible_escape(s: &str) -> String {
    escape(s, Some(200))
}

/// [`visible_escape`] without the cut: for a value quoted in a line of text
/// (the summary) when that value has findings of its own. The value itself,
/// unescaped, is still shown in its field.
#[must_use]
pub fn escape_flagged(s: &str) -> String {
    escape(s, None)
}

/// Every check the renderer runs on a value, for a string outside the
/// `authorization_details` (a request's client name, binding message…):
/// the warnings, with their [`CharFinding`]s, carry no index or path.
#[must_use]
pub fn check_value(s: &str, format: Format) -> Vec<Warning> {
    check(s, TextKind { format, in_key: false }, &Budget::new(MAX_FINDINGS))
}

fn escape(s: &str, limit: Option<usize>) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if limit.is_some_and(|limit| i >= limit) {
            out.push('…');
            break;
        }
        if is_bidi(c)
            || is_invisible(c)
            || is_control(c)
            || is_variation_selector(c)
            || is_joiner(c)
            || is_unusual_space(c)
            || is_unusual(c)
            || is_tag(c)
            || is_combining(c)
        {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Every check on one string. Warnings carry no index or path yet.
pub(crate) fn check(s: &str, kind: TextKind, budget: &Budget) -> Vec<Warning> {
    let mut warnings = Vec::new();
    // Fast path: printable ASCII has nothing to flag but length (and, for
    // keys and identifiers, nothing else either).
    let printable_ascii = s.bytes().all(|b| (0x20..0x7F).contains(&b));
    if printable_ascii {
        if s.len() > LONG_VALUE_CHARS {
            warnings.push(long_value(s.len(), kind));
        }
        return warnings;
    }
    let chars: Vec<char> = s.chars().collect();
    // One list per class (no allocation until a hit).
    let mut hits: [Vec<Hit>; 5] = Default::default();
    let mut tag_text = String::new();
    let mut smuggled: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut combining_runs: Vec<Hit> = Vec::new();
    let mut non_ascii: Vec<Hit> = Vec::new();
    let multiline = matches!(kind.format, Format::MultilineText | Format::Code) && !kind.in_key;
    let mut utf16 = 0usize;
    let mut combining_run = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if (' '..='~').contains(&c) {
            combining_run = 0;
            utf16 += 1;
            i += 1;
            continue;
        }
        let hit = Hit { c, position: i, utf16_offset: utf16 };
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        if !c.is_ascii() && (kind.format.ascii_only() && !kind.in_key) {
            non_ascii.push(hit);
        }
        if is_combining(c) {
            combining_run += 1;
            if combining_run == 4 {
                combining_runs.push(hit);
            }
        } else {
            combining_run = 0;
        }
        if is_variation_selector(c) {
            // A run of selectors after one base character.
            let start = i;
            let mut end = i;
            while end < chars.len() && is_variation_selector(chars[end]) {
                end += 1;
            }
            let run = &chars[start..end];
            let legit = run.len() == 1 && {
                let vs = run[0];
                match prev {
                    Some(base) if matches!(vs, '\u{FE0E}' | '\u{FE0F}') => is_emoji_base(base),
                    Some(base) if matches!(vs, '\u{E0100}'..='\u{E01EF}') => is_han(base),
                    _ => false,
                }
            };
            let mut offset = utf16;
            for (k, &vs) in run.iter().enumerate() {
                if !legit {
                    hits[Class::Invisible as usize].push(Hit { c: vs, position: start + k, utf16_offset: offset });
                }
                offset += vs.len_utf16();
            }
            if run.len() >= 2 {
                let bytes: Vec<u8> = run
                    .iter()
                    .map(|&vs| {
                        let u = u32::from(vs);
                        let b = if u <= 0xFE0F { u - 0xFE00 } else { u - 0xE0100 + 16 };
                        u8::try_from(b).unwrap_or(0)
                    })
                    .collect();
                smuggled.push((bytes, start));
            }
            utf16 = offset;
            i = end;
            continue;
        }
        let class = if is_bidi(c) {
            Some(Class::Bidi)
        } else if is_tag(c) {
            if let Some(ascii) = char::from_u32(u32::from(c) - 0xE0000).filter(|a| (' '..='~').contains(a)) {
                tag_text.push(ascii);
            }
            Some(Class::Invisible)
        } else if is_joiner(c) {
            let emoji = prev.is_some_and(|p| is_emoji_base(p) || is_emoji_modifier(p) || p == '\u{FE0F}')
                && next.is_some_and(is_emoji_base);
            let script =
                prev.is_some_and(joins_in_script) && next.is_some_and(|n| n.is_alphabetic() || is_combining(n));
            (!(emoji || script)).then_some(Class::Invisible)
        } else if is_invisible(c) {
            Some(Class::Invisible)
        } else if is_control(c) {
            let allowed = multiline && (c == '\n' || c == '\t' || (c == '\r' && next == Some('\n')));
            (!allowed).then_some(Class::Control)
        } else if is_unusual_space(c) {
            (kind.in_key || !kind.format.free_text()).then_some(Class::Whitespace)
        } else if is_unusual(c) {
            Some(Class::Unusual)
        } else {
            None
        };
        if let Some(class) = class {
            hits[class as usize].push(hit);
        }
        utf16 += c.len_utf16();
        i += 1;
    }

    let of = |class: Class| -> &[Hit] { &hits[class as usize] };
    let bidi = of(Class::Bidi);
    if !bidi.is_empty() {
        warnings.push(warning(
            WarningCode::BidiControl,
            Severity::Danger,
            kind,
            "bidirectional control (can reorder the text you see)",
            bidi,
            budget,
        ));
    }
    let invisible = of(Class::Invisible);
    if !invisible.is_empty() {
        warnings.push(warning(WarningCode::InvisibleCharacter, Severity::Danger, kind, "invisible", invisible, budget));
    }
    if !tag_text.is_empty() {
        let mut w = Warning::new(
            WarningCode::HiddenText,
            Severity::Danger,
            format!("Text hidden in invisible tag characters: \"{}\"", visible_escape(&tag_text)),
        );
        w.in_key = kind.in_key;
        warnings.push(w);
    }
    for (bytes, start) in smuggled {
        let decoded = String::from_utf8(bytes.clone())
            .ok()
            .filter(|t| t.chars().any(|c| !c.is_control()))
            .map(|t| format!("\"{}\"", visible_escape(&t)))
            .unwrap_or_else(|| format!("{} bytes", bytes.len()));
        let mut w = Warning::new(
            WarningCode::HiddenText,
            Severity::Danger,
            format!("Data hidden in {} variation selectors at position {start}: {decoded}", bytes.len()),
        );
        w.in_key = kind.in_key;
        warnings.push(w);
    }
    let control = of(Class::Control);
    if !control.is_empty() {
        warnings.push(warning(WarningCode::ControlCharacter, Severity::Danger, kind, "control", control, budget));
    }
    let spaces = of(Class::Whitespace);
    if !spaces.is_empty() {
        warnings.push(warning(
            WarningCode::UnusualWhitespace,
            Severity::Caution,
            kind,
            "unusual space",
            spaces,
            budget,
        ));
    }
    let unusual = of(Class::Unusual);
    if !unusual.is_empty() {
        warnings.push(warning(WarningCode::UnusualCharacter, Severity::Caution, kind, "unusual", unusual, budget));
    }
    if !combining_runs.is_empty() {
        warnings.push(warning(
            WarningCode::CombiningMarks,
            Severity::Caution,
            kind,
            "stacked combining mark (4 or more in a row, first shown)",
            &combining_runs,
            budget,
        ));
    }
    if !non_ascii.is_empty() {
        let intro = format!("non-ASCII (a {} must be ASCII)", kind.format.as_str());
        warnings.push(warning(WarningCode::NonAsciiIdentifier, Severity::Danger, kind, &intro, &non_ascii, budget));
    }
    mixed_script(&chars, kind, budget, &mut warnings);
    if chars.len() > LONG_VALUE_CHARS {
        warnings.push(long_value(chars.len(), kind));
    }
    warnings
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

/// One warning per string listing the words that mix lookalike scripts and,
/// in each, the letters not of the word's main script.
fn mixed_script(chars: &[char], kind: TextKind, budget: &Budget, warnings: &mut Vec<Warning>) {
    // Nothing to do unless two lookalike scripts occur at all.
    let mut first: Option<Script> = None;
    if !chars.iter().filter_map(|&c| script(c)).any(|s| *first.get_or_insert(s) != s) {
        return;
    }
    // Words are runs of ASCII letters and digits, letters of the lookalike
    // scripts and combining marks; anything else separates them.
    let word = |c: char, sc: Option<Script>| sc.is_some() || c.is_ascii_digit() || is_combining(c);
    // (start, end, scripts present as a bit set)
    let mut first_word: Option<(usize, usize, u16)> = None;
    let mut words = 0usize;
    let mut hits: Vec<Hit> = Vec::new();
    let mut utf16 = 0usize;
    let mut start = 0usize;
    while start < chars.len() {
        if !word(chars[start], script(chars[start])) {
            utf16 += chars[start].len_utf16();
            start += 1;
            continue;
        }
        let mut end = start;
        let mut counts = [0usize; Script::COUNT];
        while end < chars.len() {
            let sc = script(chars[end]);
            if !word(chars[end], sc) {
                break;
            }
            if let Some(s) = sc {
                counts[s as usize] += 1;
            }
            end += 1;
        }
        let present: u16 = counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, _)| 1u16 << i).sum();
        if present.count_ones() >= 2 {
            // The main script: the most letters; Latin wins a tie (lookalikes
            // imitate Latin).
            let mut main = Script::Latin;
            for s in Script::ALL {
                if counts[s as usize] > counts[main as usize] {
                    main = s;
                }
            }
            let mut offset = utf16;
            for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
                if script(c).is_some_and(|s| s != main) {
                    hits.push(Hit { c, position: i, utf16_offset: offset });
                }
                offset += c.len_utf16();
            }
            words += 1;
            first_word.get_or_insert((start, end, present));
        }
        utf16 += chars[start..end].iter().map(|c| c.len_utf16()).sum::<usize>();
        start = end;
    }
    let Some((first_start, first_end, present)) = first_word else { return };
    let token: String = chars[first_start..first_end].iter().collect();
    let names: Vec<&str> =
        Script::ALL.iter().filter(|s| present & (1 << (**s as u16)) != 0).map(|s| s.name()).collect();
    let more = match words {
        1 => String::new(),
        2 => " (and 1 more word)".to_owned(),
        n => format!(" (and {} more words)", n - 1),
    };
    let place = if kind.in_key { " in the field name" } else { "" };
    let (listed, characters) = describe_hits(&hits, budget);
    let mut w = Warning::new(
        WarningCode::MixedScript,
        Severity::Danger,
        format!(
            "Lookalike letters{place}: \"{}\" mixes {} letters{more}: {listed}",
            visible_escape(&token),
            names.join(" and "),
        ),
    );
    w.in_key = kind.in_key;
    w.characters = characters;
    warnings.push(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: Format) -> TextKind {
        TextKind { format, in_key: false }
    }

    #[test]
    fn names_of_flagged_characters() {
        assert_eq!(char_name('\u{202E}'), "RIGHT-TO-LEFT OVERRIDE");
        assert_eq!(char_name('\u{0430}'), "CYRILLIC SMALL LETTER A");
        assert_eq!(char_name('\u{0410}'), "CYRILLIC CAPITAL LETTER A");
        assert_eq!(char_name('\u{0456}'), "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I");
        assert_eq!(char_name('\u{03BF}'), "GREEK SMALL LETTER OMICRON");
        assert_eq!(char_name('\u{E0041}'), "TAG LATIN CAPITAL LETTER A");
        assert_eq!(char_name('\u{FE0F}'), "VARIATION SELECTOR-16");
        assert_eq!(char_name('\u{E0100}'), "VARIATION SELECTOR-17");
        assert_eq!(char_name('\u{1B}'), "ESCAPE");
        assert_eq!(char_name('\u{85}'), "NEXT LINE");
        assert_eq!(char_name('\u{FF21}'), "FULLWIDTH LATIN CAPITAL LETTER A");
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
        assert_eq!(visible_escape("a\u{202E}b\u{200B}c\n"), "a\\u{202E}b\\u{200B}c\\u{000A}");
        assert_eq!(visible_escape("plain"), "plain");
        let long = "a".repeat(300);
        assert_eq!(escape_flagged(&format!("{long}\u{202E}")), format!("{long}\\u{{202E}}"));
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
