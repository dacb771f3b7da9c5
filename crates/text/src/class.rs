//! What is wrong with a flagged character, and how much it matters: the one
//! exhaustive mapping every consumer goes through.

/// Why a character is flagged. A character has at most one class from the
/// character rules (the first five and [`Class::StackedMark`]) and may also
/// be [`Class::NonAscii`] or [`Class::Lookalike`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Bidi_Control (U+061C, U+200E/F, U+202A–E, U+2066–9): reorders the
    /// text around it (Trojan Source, CVE-2021-42574).
    BidiControl,
    /// Default_Ignorable_Code_Point or General_Category Cf (not Bidi_Control):
    /// renders as nothing or changes how its neighbours render (zero-width
    /// spaces, joiners, soft hyphen, fillers, tag characters, interlinear
    /// annotations, prepended concatenation marks…). Not flagged in context:
    /// one VS15/VS16 after a character with the Emoji property; one
    /// ideographic variation selector (U+E0100–E01EF) after a Han character;
    /// ZWJ inside an emoji sequence (UAX #29 GB11: Extended_Pictographic,
    /// extenders, ZWJ, Extended_Pictographic); ZWJ or ZWNJ between two
    /// characters of a script that writes them (Arabic, the Brahmic scripts of
    /// India and Sri Lanka).
    Invisible,
    /// General_Category Cc (C0, DEL, C1), Zl, Zp. In multi-line contexts LF
    /// and CR followed by LF are layout and not flagged, and TAB is an
    /// [`Class::UnusualSpace`].
    Control,
    /// General_Category Zs other than U+0020 SPACE (no-break, em, ideographic
    /// spaces…), in contexts that are not prose; and TAB in multi-line
    /// contexts, where it aligns text (it can line a forged value up under
    /// another label) rather than break it.
    UnusualSpace,
    /// General_Category Co (private use) or Cn (unassigned, noncharacters),
    /// U+FFFC OBJECT REPLACEMENT CHARACTER and U+FFFD REPLACEMENT CHARACTER:
    /// no reliable glyph, or the trace of something lost.
    Unusual,
    /// A combining mark (General_Category Mn or Me, Script Inherited: the
    /// diacritics that stack on any letter) beyond the third in a row; each
    /// one after the third is flagged.
    StackedMark,
    /// Any character outside ASCII, in an ASCII-only identifier.
    NonAscii,
    /// A letter of a lookalike script in a word (a run of letters, marks and
    /// digits) that mixes lookalike scripts, when it is not of the word's
    /// main script (most letters; Latin wins a tie).
    Lookalike,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Look twice: unusual, rarely deceptive.
    Caution,
    /// Can make what a person reads differ from what is signed.
    Danger,
}

impl Class {
    /// Every class, in the order findings at one position are listed (and
    /// the renderer lists its warnings).
    pub const ALL: [Class; 8] = [
        Class::BidiControl,
        Class::Invisible,
        Class::Control,
        Class::UnusualSpace,
        Class::Unusual,
        Class::StackedMark,
        Class::NonAscii,
        Class::Lookalike,
    ];

    /// The severity of every finding of this class.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Class::BidiControl | Class::Invisible | Class::Control | Class::NonAscii | Class::Lookalike => {
                Severity::Danger
            }
            Class::UnusualSpace | Class::Unusual | Class::StackedMark => Severity::Caution,
        }
    }

    /// A stable identifier: `bidi_control`, `invisible`, `control`,
    /// `unusual_space`, `unusual`, `stacked_mark`, `non_ascii`, `lookalike`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Class::BidiControl => "bidi_control",
            Class::Invisible => "invisible",
            Class::Control => "control",
            Class::UnusualSpace => "unusual_space",
            Class::Unusual => "unusual",
            Class::StackedMark => "stacked_mark",
            Class::NonAscii => "non_ascii",
            Class::Lookalike => "lookalike",
        }
    }

    /// The class named `name` ([`Class::name`]).
    #[must_use]
    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What a character of this class is, for a refusal:
    /// `"a bidirectional control character"`.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Class::BidiControl => "a bidirectional control character",
            Class::Invisible => "an invisible or format character",
            Class::Control => "a control character",
            Class::UnusualSpace => "an unusual space character",
            Class::Unusual => "a private use, unassigned or replacement character",
            Class::StackedMark => "a stacked combining mark",
            Class::NonAscii => "a non-ASCII character",
            Class::Lookalike => "a lookalike letter of another script",
        }
    }
}
