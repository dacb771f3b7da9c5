//! The Unicode properties the rules are stated in, read from ICU4X's
//! compiled Unicode Character Database. Nothing else in the crate knows
//! where the data comes from.

use icu_properties::props::{
    BidiControl, DefaultIgnorableCodePoint, EastAsianWidth, Emoji, EmojiModifier, ExtendedPictographic,
    GeneralCategory, JoinControl, Math, Script, VariationSelector,
};
use icu_properties::script::ScriptWithExtensions;
use icu_properties::{CodePointMapData, CodePointSetData};

pub(crate) use icu_properties::props::{GeneralCategory as Category, Script as ScriptValue};

/// `pub(crate) fn name(c: char) -> bool`: membership in a binary property.
macro_rules! binary_properties {
    ($($name:ident => $property:ty),+ $(,)?) => {
        $(
            pub(crate) fn $name(c: char) -> bool {
                CodePointSetData::new::<$property>().contains(c)
            }
        )+
    };
}

binary_properties! {
    is_bidi_control => BidiControl,
    is_default_ignorable => DefaultIgnorableCodePoint,
    is_variation_selector => VariationSelector,
    is_join_control => JoinControl,
    is_emoji => Emoji,
    is_extended_pictographic => ExtendedPictographic,
    is_emoji_modifier => EmojiModifier,
    is_math => Math,
}

pub(crate) fn category(c: char) -> GeneralCategory {
    CodePointMapData::<GeneralCategory>::new().get(c)
}

/// The Script property (one value; Common and Inherited for shared characters).
pub(crate) fn script(c: char) -> Script {
    CodePointMapData::<Script>::new().get(c)
}

/// Whether `script` is in the character's Script_Extensions.
pub(crate) fn has_script(c: char, script: Script) -> bool {
    ScriptWithExtensions::new().has_script(c, script)
}

pub(crate) fn is_fullwidth(c: char) -> bool {
    CodePointMapData::<EastAsianWidth>::new().get(c) == EastAsianWidth::Fullwidth
}

pub(crate) fn is_letter(category: GeneralCategory) -> bool {
    matches!(
        category,
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
    )
}

pub(crate) fn is_mark(category: GeneralCategory) -> bool {
    matches!(category, GeneralCategory::NonspacingMark | GeneralCategory::SpacingMark | GeneralCategory::EnclosingMark)
}
