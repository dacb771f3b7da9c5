//! What a test needs to show that every consumer of the classifier agrees
//! with it: the code points whose classification matters, and strings where
//! characters that are flagged elsewhere are legitimate.

use crate::context::Context;
use crate::escape::unescape;
use crate::lookalike::LookalikeScript;
use crate::properties::{self as unicode, Category};

/// Strings in which characters that are flagged elsewhere are text (an emoji
/// with its presentation selector, a Persian word with its ZWNJ…), one per
/// line: context, TAB, the text in the escape grammar, TAB, why.
const IN_CONTEXT: &str = include_str!("../testdata/in-context.txt");

/// Every code point of the categories the rules are about: General_Category
/// Cc, Cf, Zs, Zl, Zp, Mn, Me; Co in the BMP and the first and last 256 of
/// planes 15 and 16; Cn in the BMP, the noncharacters of every plane and
/// the unassigned default ignorables of plane 14 (the unassigned rest of
/// the planes takes the same path); every Bidi_Control,
/// Default_Ignorable_Code_Point, Variation_Selector and Join_Control
/// character; U+FFFC, U+FFFD and U+2800 (a blank symbol); every non-ASCII letter and digit of a
/// lookalike script; and ASCII.
pub fn code_points() -> impl Iterator<Item = char> {
    (0..=0x10_FFFF_u32).filter_map(char::from_u32).filter(|&c| is_relevant(c))
}

fn is_relevant(c: char) -> bool {
    let u = u32::from(c);
    let plane = u >> 16;
    let category = unicode::category(c);
    c.is_ascii()
        || matches!(
            category,
            Category::Control
                | Category::Format
                | Category::SpaceSeparator
                | Category::LineSeparator
                | Category::ParagraphSeparator
                | Category::NonspacingMark
                | Category::EnclosingMark
        )
        || (category == Category::PrivateUse && (plane == 0 || (u & 0xFFFF) < 0x100 || (u & 0xFFFF) >= 0xFF00))
        || (category == Category::Unassigned && (plane == 0 || (u & 0xFFFE) == 0xFFFE))
        || unicode::is_bidi_control(c)
        || unicode::is_default_ignorable(c)
        || unicode::is_variation_selector(c)
        || unicode::is_join_control(c)
        || matches!(c, '\u{FFFC}' | '\u{FFFD}' | crate::classify::BRAILLE_BLANK)
        || LookalikeScript::of(c).is_some()
}

/// A string whose every character is text in its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InContext {
    /// Where it is shown.
    pub context: Context,
    /// The text.
    pub text: String,
    /// Why nothing in it is flagged.
    pub why: String,
}

/// The strings of `testdata/in-context.txt`: nothing in them may be flagged,
/// escaped, refused or replaced by any consumer that shows them in their
/// context.
#[must_use]
pub fn in_context() -> Vec<InContext> {
    IN_CONTEXT
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let context = Context::parse(parts.next()?)?;
            let text = unescape(parts.next()?).ok()?;
            let why = parts.next()?.to_owned();
            Some(InContext { context, text, why })
        })
        .collect()
}
