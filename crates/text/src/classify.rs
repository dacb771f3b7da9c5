//! The rules: which characters of a string are flagged, in its context.

use crate::class::Class;
use crate::context::Context;
use crate::hidden::{self, SelectorRun};
use crate::lookalike::{self, MixedWord};
use crate::properties::{self as unicode, Category, ScriptValue};

/// Most combining marks of Script Inherited in a row before each further one
/// is flagged ([`Class::StackedMark`]).
const MARKS_IN_A_ROW: usize = 3;

/// Scripts whose orthography writes ZWJ and ZWNJ inside words: Persian and
/// Urdu (Arabic), and the Brahmic scripts of India and Sri Lanka (explicit
/// half forms and conjuncts).
const JOINING_SCRIPTS: [ScriptValue; 11] = [
    ScriptValue::Arabic,
    ScriptValue::Devanagari,
    ScriptValue::Bengali,
    ScriptValue::Gurmukhi,
    ScriptValue::Gujarati,
    ScriptValue::Oriya,
    ScriptValue::Tamil,
    ScriptValue::Telugu,
    ScriptValue::Kannada,
    ScriptValue::Malayalam,
    ScriptValue::Sinhala,
];

/// VS15, text presentation (UTS #51).
const TEXT_PRESENTATION: char = '\u{FE0E}';
/// VS16, emoji presentation (UTS #51).
const EMOJI_PRESENTATION: char = '\u{FE0F}';
/// The ideographic variation selectors (VS17–VS256) that the Ideographic
/// Variation Database registers after Han characters (UTS #37).
const IDEOGRAPHIC_VARIATION: std::ops::RangeInclusive<char> = '\u{E0100}'..='\u{E01EF}';
/// U+2800 BRAILLE PATTERN BLANK: a symbol (So) that renders as nothing,
/// used to make names look empty or padded; flagged as invisible.
pub(crate) const BRAILLE_BLANK: char = '\u{2800}';
/// Tag characters that spell printable ASCII (U+E0020–E007E).
const ASCII_TAGS: std::ops::RangeInclusive<char> = '\u{E0020}'..='\u{E007E}';

/// One flagged character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Why it is flagged.
    pub class: Class,
    /// The character.
    pub character: char,
    /// Its position in code points, from 0.
    pub index: usize,
    /// Its position in UTF-16 code units (JavaScript string indices).
    pub utf16_offset: usize,
    /// Its position in UTF-8 bytes.
    pub byte_offset: usize,
}

impl Finding {
    /// How serious it is (the class decides).
    #[must_use]
    pub fn severity(&self) -> crate::Severity {
        self.class.severity()
    }
}

/// Everything found in one string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Flagged characters by position; where a character has two classes
    /// (an invisible character in an ASCII-only identifier), in
    /// [`Class::ALL`] order.
    pub findings: Vec<Finding>,
    /// The ASCII spelled by the string's tag characters (U+E0020–E007E), in
    /// order, when there are any: text hidden from the reader.
    pub tag_text: Option<String>,
    /// Runs of two or more variation selectors: data hidden in them.
    pub selector_runs: Vec<SelectorRun>,
    /// Words that mix lookalike scripts, in order (their letters not of the
    /// main script are the [`Class::Lookalike`] findings).
    pub mixed_words: Vec<MixedWord>,
}

impl Report {
    /// Nothing flagged.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Printable ASCII cannot be flagged in any context.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7F).contains(&b))
}

/// A character with its three positions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    pub c: char,
    pub utf16: usize,
    pub byte: usize,
}

fn placed(text: &str) -> Vec<Placed> {
    let mut utf16 = 0;
    text.char_indices()
        .map(|(byte, c)| {
            let p = Placed { c, utf16, byte };
            utf16 += c.len_utf16();
            p
        })
        .collect()
}

/// Every finding in `text` shown in `context`.
#[must_use]
pub fn check(text: &str, context: Context) -> Report {
    if is_printable_ascii(text) {
        return Report::default();
    }
    let chars = placed(text);
    let mut findings = Vec::new();
    let mut tag_text = String::new();
    let mut selector_runs = Vec::new();
    let mut push = |class: Class, index: usize, p: &Placed| {
        findings.push(Finding { class, character: p.c, index, utf16_offset: p.utf16, byte_offset: p.byte });
    };
    // General_Category of each character outside printable ASCII (looked up
    // once; the word rules need it too).
    let mut categories: Vec<Option<Category>> = vec![None; chars.len()];
    let mut marks_in_a_row = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].c;
        if (' '..='~').contains(&c) {
            marks_in_a_row = 0;
            i += 1;
            continue;
        }
        if hidden::selector_byte(c).is_some() {
            // A run of the general variation selectors (the Mongolian ones
            // are judged as the invisible characters they are): one may
            // choose the base's presentation or glyph; more than one shows
            // nothing and can carry data.
            let end = i + chars[i..].iter().take_while(|p| hidden::selector_byte(p.c).is_some()).count();
            let fits = end - i == 1 && i > 0 && selector_fits(chars[i - 1].c, c);
            if !fits {
                for (k, p) in chars.iter().enumerate().take(end).skip(i) {
                    push(Class::Invisible, k, p);
                }
            }
            if end - i >= 2 {
                selector_runs.push(SelectorRun::of(i, chars[i..end].iter().map(|p| p.c)));
            }
            i = end;
            continue;
        }
        let category = unicode::category(c);
        categories[i] = Some(category);
        if is_stacking_mark(c, category) {
            marks_in_a_row += 1;
            if marks_in_a_row > MARKS_IN_A_ROW {
                push(Class::StackedMark, i, &chars[i]);
            }
        } else {
            marks_in_a_row = 0;
        }
        if let Some(class) = character_class(&chars, i, category, context) {
            push(class, i, &chars[i]);
        }
        if ASCII_TAGS.contains(&c) {
            tag_text.push(hidden::tag_ascii(c));
        }
        i += 1;
    }
    if context.is_ascii_only() {
        for (i, p) in chars.iter().enumerate().filter(|(_, p)| !p.c.is_ascii()) {
            push(Class::NonAscii, i, p);
        }
    }
    let (mixed_words, lookalikes) = lookalike::mixed_words(&chars, &categories);
    for i in lookalikes {
        push(Class::Lookalike, i, &chars[i]);
    }
    findings.sort_by_key(|f| (f.index, f.class));
    Report { findings, tag_text: (!tag_text.is_empty()).then_some(tag_text), selector_runs, mixed_words }
}

/// The first flagged character of `text` in `context`, if any: for a value
/// that is refused rather than shown with warnings.
#[must_use]
pub fn first_finding(text: &str, context: Context) -> Option<Finding> {
    if is_printable_ascii(text) {
        return None;
    }
    check(text, context).findings.into_iter().next()
}

/// Whether nothing in `text` is flagged in `context`.
#[must_use]
pub fn is_clean(text: &str, context: Context) -> bool {
    first_finding(text, context).is_none()
}

/// The class of `chars[i]` from the character rules (variation selectors are
/// handled by the caller, runs of marks and words elsewhere).
fn character_class(chars: &[Placed], i: usize, category: Category, context: Context) -> Option<Class> {
    let c = chars[i].c;
    if c == BRAILLE_BLANK {
        return Some(Class::Invisible);
    }
    if is_plain_category(category) {
        return matches!(c, '\u{FFFC}' | '\u{FFFD}').then_some(Class::Unusual);
    }
    let next = chars.get(i + 1).map(|p| p.c);
    if unicode::is_bidi_control(c) {
        return Some(Class::BidiControl);
    }
    match category {
        Category::Control => {
            if !context.has_lines() {
                return Some(Class::Control);
            }
            // Line breaks are the layout of multi-line text. A TAB is
            // whitespace there, but it aligns what follows (it can line a
            // forged value up under another field's label), so it is
            // flagged as an unusual space: marked where it stands, with
            // caution.
            return match c {
                '\n' => None,
                '\r' if next == Some('\n') => None,
                '\t' => Some(Class::UnusualSpace),
                _ => Some(Class::Control),
            };
        }
        Category::LineSeparator | Category::ParagraphSeparator => return Some(Class::Control),
        _ => {}
    }
    if unicode::is_join_control(c) {
        return (!joiner_fits(chars, i)).then_some(Class::Invisible);
    }
    if unicode::is_default_ignorable(c) || category == Category::Format {
        return Some(Class::Invisible);
    }
    if category == Category::SpaceSeparator {
        return (c != ' ' && !context.is_prose()).then_some(Class::UnusualSpace);
    }
    if matches!(category, Category::PrivateUse | Category::Unassigned | Category::Surrogate)
        || c == '\u{FFFC}'
        || c == '\u{FFFD}'
    {
        return Some(Class::Unusual);
    }
    None
}

/// General categories with no Bidi_Control, Join_Control or
/// Default_Ignorable_Code_Point character (a test checks it against the
/// data): only U+FFFC and U+FFFD among them are flagged by the character
/// rules, so the other lookups can be skipped.
fn is_plain_category(category: Category) -> bool {
    matches!(
        category,
        Category::UppercaseLetter
            | Category::LowercaseLetter
            | Category::TitlecaseLetter
            | Category::ModifierLetter
            | Category::SpacingMark
            | Category::DecimalNumber
            | Category::LetterNumber
            | Category::OtherNumber
            | Category::ConnectorPunctuation
            | Category::DashPunctuation
            | Category::OpenPunctuation
            | Category::ClosePunctuation
            | Category::InitialPunctuation
            | Category::FinalPunctuation
            | Category::OtherPunctuation
            | Category::MathSymbol
            | Category::CurrencySymbol
            | Category::ModifierSymbol
            | Category::OtherSymbol
    )
}

/// A diacritic that can stack on any letter: General_Category Mn or Me,
/// Script Inherited, and not one of the invisible ones (variation
/// selectors, the combining grapheme joiner) judged by their own rules.
fn is_stacking_mark(c: char, category: Category) -> bool {
    matches!(category, Category::NonspacingMark | Category::EnclosingMark)
        && unicode::script(c) == ScriptValue::Inherited
        && !unicode::is_default_ignorable(c)
}

/// One variation selector after `base`: a presentation choice for an emoji,
/// or a registered glyph of a Han character.
fn selector_fits(base: char, selector: char) -> bool {
    match selector {
        TEXT_PRESENTATION | EMOJI_PRESENTATION => unicode::is_emoji(base),
        s if IDEOGRAPHIC_VARIATION.contains(&s) => unicode::script(base) == ScriptValue::Han,
        _ => false,
    }
}

/// ZWJ or ZWNJ where a sequence needs it: inside an emoji ZWJ sequence, or
/// between two characters of a script that writes it.
fn joiner_fits(chars: &[Placed], i: usize) -> bool {
    let Some(next) = chars.get(i + 1).map(|p| p.c) else { return false };
    let Some(prev) = i.checked_sub(1).map(|p| chars[p].c) else { return false };
    // UAX #29 GB11: Extended_Pictographic Extend* ZWJ × Extended_Pictographic.
    let base = chars[..i].iter().rev().map(|p| p.c).find(|&c| !is_emoji_extender(c));
    let emoji = chars[i].c == '\u{200D}'
        && base.is_some_and(unicode::is_extended_pictographic)
        && unicode::is_extended_pictographic(next);
    let next_category = unicode::category(next);
    let orthography = (unicode::is_letter(next_category) || unicode::is_mark(next_category))
        && JOINING_SCRIPTS.iter().any(|&s| unicode::has_script(prev, s) && unicode::has_script(next, s));
    emoji || orthography
}

/// What may stand between an emoji and the ZWJ that joins it to the next:
/// skin tone modifiers, variation selectors, combining marks.
fn is_emoji_extender(c: char) -> bool {
    unicode::is_emoji_modifier(c)
        || unicode::is_variation_selector(c)
        || matches!(unicode::category(c), Category::NonspacingMark | Category::EnclosingMark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_categories_hold_no_character_the_other_rules_name() {
        for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
            if is_plain_category(unicode::category(c)) {
                assert!(
                    !unicode::is_bidi_control(c) && !unicode::is_join_control(c) && !unicode::is_default_ignorable(c),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
        }
    }
}
