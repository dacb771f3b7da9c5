//! The classifier against the vectors in `testdata/`, and the escape's exact
//! round trip.

use countersign_text::coverage::{code_points, in_context};
use countersign_text::{
    check, escape, escape_at_most, first_finding, is_clean, replace_flagged, unescape, Class, Context, Severity,
};

const FLAGGED: &str = include_str!("../testdata/flagged.txt");

struct Vector {
    context: Context,
    text: String,
    expected: Vec<(usize, Class)>,
    what: String,
}

fn flagged() -> Vec<Vector> {
    FLAGGED
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            assert_eq!(parts.len(), 4, "{line}");
            let expected = parts[2]
                .split(' ')
                .map(|f| {
                    let (at, class) = f.split_once(':').unwrap();
                    (at.parse().unwrap(), Class::parse(class).unwrap_or_else(|| panic!("class {class}")))
                })
                .collect();
            Vector {
                context: Context::parse(parts[0]).unwrap(),
                text: unescape(parts[1]).unwrap(),
                expected,
                what: parts[3].to_owned(),
            }
        })
        .collect()
}

#[test]
fn every_flagged_vector_gives_exactly_its_findings() {
    let vectors = flagged();
    assert!(vectors.len() >= 30);
    for v in vectors {
        let report = check(&v.text, v.context);
        let found: Vec<(usize, Class)> = report.findings.iter().map(|f| (f.index, f.class)).collect();
        assert_eq!(found, v.expected, "{} ({:?} in {})", v.what, v.text, v.context.name());
        let first = first_finding(&v.text, v.context).unwrap();
        assert_eq!((first.index, first.class), v.expected[0], "{}", v.what);
        for f in &report.findings {
            assert_eq!(v.text.chars().nth(f.index), Some(f.character));
            assert_eq!(v.text[f.byte_offset..].chars().next(), Some(f.character));
            assert_eq!(v.text.chars().take(f.index).map(char::len_utf16).sum::<usize>(), f.utf16_offset);
        }
    }
}

#[test]
fn nothing_is_flagged_in_its_legitimate_context() {
    let samples = in_context();
    let lines = include_str!("../testdata/in-context.txt").lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
    assert_eq!(samples.len(), lines.count(), "every line of testdata/in-context.txt parses");
    assert!(samples.len() >= 20);
    for s in samples {
        assert_eq!(check(&s.text, s.context).findings, [], "{} ({:?})", s.why, s.text);
        assert!(is_clean(&s.text, s.context));
    }
}

#[test]
fn the_same_characters_are_flagged_out_of_context() {
    // The legitimate contexts matter: without the base, the sequence or the
    // script, the same characters are flagged.
    for s in ["\u{FE0F}", "a\u{200D}", "\u{200C}خ", "a\u{E0100}", "\u{200D}👩"] {
        assert!(!is_clean(s, Context::Line), "{s:?}");
    }
    assert!(!is_clean("Line one\nLine two", Context::Line));
    assert!(is_clean("Line one\nLine two", Context::MultiLine));
    assert!(!is_clean("Zoë\u{00A0}Martin", Context::Identifier));
}

#[test]
fn hidden_text_is_decoded() {
    let hidden: String = "ignore previous".chars().map(|c| char::from_u32(0xE0000 + c as u32).unwrap()).collect();
    let report = check(&format!("Lunch?{hidden}"), Context::Line);
    assert_eq!(report.tag_text.as_deref(), Some("ignore previous"));
    assert_eq!(report.findings.len(), 15);
    let smuggled = format!("ok 👍{}{}", char::from_u32(0xE0100 + 0x68 - 16).unwrap(), '\u{E0159}');
    let report = check(&smuggled, Context::Line);
    assert_eq!(report.selector_runs.len(), 1);
    assert_eq!(report.selector_runs[0].index, 4);
    assert_eq!(report.selector_runs[0].text().as_deref(), Some("hi"));
}

#[test]
fn mixed_words_name_their_scripts_and_main_script() {
    let report = check("Your p\u{0430}ypal and G\u{03BF}\u{03BF}gle", Context::Line);
    let words: Vec<(usize, usize, Vec<&str>, &str)> = report
        .mixed_words
        .iter()
        .map(|w| (w.start, w.end, w.scripts.iter().map(|s| s.name()).collect(), w.main.name()))
        .collect();
    assert_eq!(words, [(5, 11, vec!["Latin", "Cyrillic"], "Latin"), (16, 22, vec!["Latin", "Greek"], "Latin")]);
}

#[test]
fn classes_have_one_severity_each() {
    let danger: Vec<Class> = Class::ALL.into_iter().filter(|c| c.severity() == Severity::Danger).collect();
    assert_eq!(danger, [Class::BidiControl, Class::Invisible, Class::Control, Class::NonAscii, Class::Lookalike]);
    for class in Class::ALL {
        assert_eq!(Class::parse(class.name()), Some(class));
    }
    for context in Context::ALL {
        assert_eq!(Context::parse(context.name()), Some(context));
    }
}

/// Small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn escape_round_trips_exactly_for_every_code_point_and_random_text() {
    // Every code point the rules are about, and every 31st of the others
    // (letters of scripts no rule names take the same path).
    let pool: Vec<char> = code_points().collect();
    let others = (0..=0x10_FFFF_u32).step_by(31).filter_map(char::from_u32);
    for c in pool.iter().copied().chain(others) {
        let text = format!("a{c}\\b\\u{{202E}}");
        for context in [Context::Line, Context::AsciiIdentifier] {
            let shown = escape(&text, context);
            assert_eq!(unescape(&shown).as_deref(), Ok(text.as_str()), "U+{:04X}", u32::from(c));
            assert!(!shown.chars().any(char::is_control), "U+{:04X}", u32::from(c));
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5_000 {
        let len = (rng.next() % 12) as usize;
        let text: String = (0..len).map(|_| pool[(rng.next() % pool.len() as u64) as usize]).collect();
        for context in Context::ALL {
            let shown = escape(&text, context);
            assert_eq!(unescape(&shown).as_deref(), Ok(text.as_str()), "{text:?}");
            // One line, nothing a terminal would act on.
            assert!(shown.chars().all(|c| !c.is_control()));
        }
    }
}

#[test]
fn escape_writes_exactly_the_flagged_characters_controls_and_backslashes() {
    for c in code_points() {
        let text = format!("a{c}b");
        let flagged = !check(&text, Context::Line).is_clean();
        let shown = escape(&text, Context::Line);
        let expected = if c == '\\' {
            "a\\\\b".to_owned()
        } else if flagged || c.is_control() {
            let middle = match c {
                '\n' => "\\n".to_owned(),
                '\r' => "\\r".to_owned(),
                '\t' => "\\t".to_owned(),
                c => format!("\\u{{{:04X}}}", u32::from(c)),
            };
            format!("a{middle}b")
        } else {
            text.clone()
        };
        assert_eq!(shown, expected, "U+{:04X}", u32::from(c));
        let replaced = replace_flagged(&text, Context::Line, '\u{FFFD}');
        let expected = if flagged { "a\u{FFFD}b".to_owned() } else { text.clone() };
        assert_eq!(replaced, expected, "U+{:04X}", u32::from(c));
    }
}

#[test]
fn unescape_refuses_what_escape_never_writes() {
    for bad in ["\\", "\\x", "\\u", "\\u{", "\\u{}", "\\u{D800}", "\\u{110000}", "\\u{1234567}", "\\u{12g}", "a\\"] {
        assert!(unescape(bad).is_err(), "{bad:?}");
    }
    assert_eq!(unescape("\\u{1b}\\u{E0041}").as_deref(), Ok("\u{1B}\u{E0041}"));
}

#[test]
fn a_quoted_text_is_cut_after_the_escape_not_inside_it() {
    let long = "a".repeat(300);
    assert_eq!(escape_at_most(&format!("{long}\u{202E}"), Context::Line, 200), format!("{}…", "a".repeat(200)));
    assert_eq!(escape_at_most("x\u{202E}y", Context::Line, 200), "x\\u{202E}y");
    assert_eq!(escape_at_most("x\u{202E}y", Context::Line, 2), "x\\u{202E}…");
}
