//! Mixed-script lookalikes: one word with letters from two scripts whose
//! letters look alike ("pаypal" with a Cyrillic а). Scripts that do not
//! imitate each other may share a word ("Tokyo東京").

use crate::classify::Placed;
use crate::properties::{self as unicode, Category, ScriptValue};

/// The groups of letters that imitate each other, by Script (and, for two
/// groups that the Script property cannot tell apart, by East_Asian_Width
/// and Math).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LookalikeScript {
    /// Script Latin (not fullwidth).
    Latin,
    /// Script Greek.
    Greek,
    /// Script Cyrillic.
    Cyrillic,
    /// Script Armenian.
    Armenian,
    /// Script Cherokee.
    Cherokee,
    /// Script Coptic.
    Coptic,
    /// East_Asian_Width Fullwidth letters and digits (Ａ, ａ, ０).
    FullwidthLatin,
    /// Math letters and digits of Script Common (𝐀, ℂ, 𝟎).
    Mathematical,
}

impl LookalikeScript {
    /// Every group, in the order names are listed (and ties resolved).
    pub const ALL: [LookalikeScript; 8] = [
        Self::Latin,
        Self::Greek,
        Self::Cyrillic,
        Self::Armenian,
        Self::Cherokee,
        Self::Coptic,
        Self::FullwidthLatin,
        Self::Mathematical,
    ];

    /// The name used in messages: `Latin`, `fullwidth Latin`.
    #[must_use]
    pub fn name(self) -> &'static str {
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

    /// The group of a letter or digit, `None` for characters of other scripts
    /// and anything else.
    #[must_use]
    pub fn of(c: char) -> Option<Self> {
        if c.is_ascii() {
            return c.is_ascii_alphabetic().then_some(Self::Latin);
        }
        Self::of_categorized(c, unicode::category(c))
    }

    /// [`LookalikeScript::of`] of a non-ASCII character whose category is known.
    fn of_categorized(c: char, category: Category) -> Option<Self> {
        if !(unicode::is_letter(category) || category == Category::DecimalNumber) {
            return None;
        }
        let fullwidth = unicode::is_fullwidth(c);
        Some(match unicode::script(c) {
            ScriptValue::Latin if fullwidth => Self::FullwidthLatin,
            ScriptValue::Latin => Self::Latin,
            ScriptValue::Greek => Self::Greek,
            ScriptValue::Cyrillic => Self::Cyrillic,
            ScriptValue::Armenian => Self::Armenian,
            ScriptValue::Cherokee => Self::Cherokee,
            ScriptValue::Coptic => Self::Coptic,
            ScriptValue::Common if fullwidth => Self::FullwidthLatin,
            ScriptValue::Common if unicode::is_math(c) => Self::Mathematical,
            _ => return None,
        })
    }
}

/// A word that mixes lookalike scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedWord {
    /// Position of its first character, in code points.
    pub start: usize,
    /// Position after its last character.
    pub end: usize,
    /// The groups its letters belong to, in [`LookalikeScript::ALL`] order.
    pub scripts: Vec<LookalikeScript>,
    /// The group most of its letters belong to (Latin wins a tie: lookalikes
    /// imitate Latin).
    pub main: LookalikeScript,
}

/// Part of a word: letters, marks and decimal digits (`category`: `None`
/// for printable ASCII).
fn in_word(c: char, category: Option<Category>) -> bool {
    match category {
        None => c.is_ascii_alphanumeric(),
        Some(category) => {
            unicode::is_letter(category) || unicode::is_mark(category) || category == Category::DecimalNumber
        }
    }
}

/// The words of `chars` that mix lookalike scripts, and the positions of
/// their letters not of the word's main script. `categories` has each
/// character's General_Category, `None` for printable ASCII.
pub(crate) fn mixed_words(chars: &[Placed], categories: &[Option<Category>]) -> (Vec<MixedWord>, Vec<usize>) {
    let groups: Vec<Option<LookalikeScript>> = chars
        .iter()
        .zip(categories)
        .map(|(p, category)| match category {
            None => p.c.is_ascii_alphabetic().then_some(LookalikeScript::Latin),
            Some(category) => LookalikeScript::of_categorized(p.c, *category),
        })
        .collect();
    // Nothing to do unless two groups occur at all.
    let mut first = None;
    if !groups.iter().flatten().any(|g| *first.get_or_insert(*g) != *g) {
        return (Vec::new(), Vec::new());
    }
    let mut words = Vec::new();
    let mut letters = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        if !in_word(chars[start].c, categories[start]) {
            start += 1;
            continue;
        }
        let end = start + (start..chars.len()).take_while(|&k| in_word(chars[k].c, categories[k])).count();
        let mut counts = [0usize; LookalikeScript::ALL.len()];
        for g in groups[start..end].iter().flatten() {
            counts[*g as usize] += 1;
        }
        let scripts: Vec<LookalikeScript> =
            LookalikeScript::ALL.into_iter().filter(|g| counts[*g as usize] > 0).collect();
        if scripts.len() >= 2 {
            let mut main = LookalikeScript::Latin;
            for g in LookalikeScript::ALL {
                if counts[g as usize] > counts[main as usize] {
                    main = g;
                }
            }
            letters.extend((start..end).filter(|&i| groups[i].is_some_and(|g| g != main)));
            words.push(MixedWord { start, end, scripts, main });
        }
        start = end;
    }
    (words, letters)
}
