//! The one place that decides which characters of untrusted text are hidden,
//! reordering, control, unusual or lookalike, and how such text is written
//! visibly.
//!
//! Everything an agent, a server or a schema sends is untrusted: the
//! authorization server refuses it ([`first_finding`]), the display schema
//! renderer turns it into warnings ([`check`]), the CLI escapes it for the
//! terminal ([`escape`]), notifications blank it ([`replace_flagged`]) and
//! the desktop UI marks what the renderer found. They all ask this crate, so
//! they cannot disagree.
//!
//! The rules are stated in Unicode properties (ICU4X's compiled Unicode
//! Character Database), not in hand-kept ranges. Each flagged character gets
//! one [`Class`] (see its variants for the rules):
//!
//! | class | property | severity |
//! |---|---|---|
//! | [`Class::BidiControl`] | Bidi_Control | danger |
//! | [`Class::Invisible`] | Default_Ignorable_Code_Point or General_Category Cf, or U+2800 (a blank symbol); a variation selector, ZWJ or ZWNJ only outside the sequences that need it | danger |
//! | [`Class::Control`] | Cc, Zl, Zp (LF and CR LF are layout in multi-line contexts) | danger |
//! | [`Class::UnusualSpace`] | Zs other than U+0020, outside prose; TAB in multi-line contexts | caution |
//! | [`Class::Unusual`] | Co, Cn (noncharacters included), U+FFFC, U+FFFD | caution |
//! | [`Class::StackedMark`] | Mn/Me of Script Inherited beyond the third in a row | caution |
//! | [`Class::NonAscii`] | anything not ASCII, in an ASCII-only identifier | danger |
//! | [`Class::Lookalike`] | a letter of another lookalike script in a word that mixes them (Script) | danger |
//!
//! Some rules depend on the neighbours (a variation selector after an emoji,
//! a ZWNJ inside a Persian word, CR before LF, runs of marks, words), so the
//! classifier works on whole strings, in a [`Context`]: one line of prose,
//! several lines, code, an identifier, an ASCII-only identifier.
//!
//! ```
//! use countersign_text::{check, escape, unescape, Class, Context};
//!
//! let report = check("Pay p\u{0430}ypal\u{202E}", Context::Line);
//! let classes: Vec<(usize, Class)> = report.findings.iter().map(|f| (f.index, f.class)).collect();
//! assert_eq!(classes, [(5, Class::Lookalike), (10, Class::BidiControl)]);
//!
//! // An emoji with its presentation selector and a Persian ZWNJ are text.
//! assert!(check("❤\u{FE0F} می\u{200C}خواهم", Context::Line).is_clean());
//!
//! // One escape, exactly reversible; a backslash stays unambiguous.
//! let shown = escape("a\u{202E}b\\u{202E}", Context::Line);
//! assert_eq!(shown, "a\\u{202E}b\\\\u{202E}");
//! assert_eq!(unescape(&shown).as_deref(), Ok("a\u{202E}b\\u{202E}"));
//! ```
//!
//! The warnings catalogue built on these classes is in
//! `docs/display-schema.md` §4.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

mod class;
mod classify;
mod context;
pub mod coverage;
mod escape;
mod hidden;
mod lookalike;
mod names;
mod properties;

pub use class::{Class, Severity};
pub use classify::{check, first_finding, is_clean, Finding, Report};
pub use context::Context;
pub use escape::{
    escape, escape_at, escape_at_most, escape_findings, excerpt, replace_flagged, unescape, UnescapeError,
};
pub use hidden::SelectorRun;
pub use lookalike::{LookalikeScript, MixedWord};
pub use names::{char_name, code_point};
