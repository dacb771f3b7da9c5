//! Text hidden in invisible characters, decoded so that a message can say
//! what it is: tag characters spell ASCII, and runs of variation selectors
//! carry one byte each (VS1–VS16 are 0–15, VS17–VS256 are 16–255; the
//! encoding of "emoji smuggling").

/// The ASCII character a tag character (U+E0020–E007E) spells.
pub(crate) fn tag_ascii(tag: char) -> char {
    char::from_u32(u32::from(tag) - 0xE0000).unwrap_or('?')
}

/// The byte a general variation selector stands for, `None` for any other
/// character.
pub(crate) fn selector_byte(c: char) -> Option<u8> {
    let u = u32::from(c);
    let value = match u {
        0xFE00..=0xFE0F => u - 0xFE00,
        0xE0100..=0xE01EF => u - 0xE0100 + 16,
        _ => return None,
    };
    u8::try_from(value).ok()
}

/// A run of two or more variation selectors, and the bytes it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRun {
    /// Position of the first selector, in code points.
    pub index: usize,
    /// One byte per selector.
    pub bytes: Vec<u8>,
}

impl SelectorRun {
    pub(crate) fn of(index: usize, selectors: impl Iterator<Item = char>) -> Self {
        Self { index, bytes: selectors.filter_map(selector_byte).collect() }
    }

    /// The bytes as text, when they are UTF-8 with at least one character
    /// that is not a control.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        String::from_utf8(self.bytes.clone()).ok().filter(|t| t.chars().any(|c| !c.is_control()))
    }
}
