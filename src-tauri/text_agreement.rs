//! Every consumer of `countersign_text` agrees with it: what the classifier
//! flags in one line of prose is refused, escaped, replaced or warned about
//! by each of them, at the same positions; what it does not flag passes
//! through each unchanged. It runs every code point of the categories the
//! rules are about (`countersign_text::coverage::code_points`) between two
//! Latin letters, and every string of the legitimate contexts (emoji with
//! their selectors, Persian ZWNJ…).
//!
//! It lives here because this package reaches every consumer: the renderer,
//! the protocol, the CLI (a dev-dependency), the notifications (this crate)
//! and the server (a dev-dependency).

use countersign_text::coverage::{code_points, in_context};
use countersign_text::Context;

/// What a consumer did with a string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Shown, kept or accepted exactly as sent, without a warning.
    Unchanged,
    /// Escaped, replaced or warned about the characters at these positions
    /// (code points).
    At(Vec<usize>),
    /// Refused, naming the first offending character's position.
    FirstAt(usize),
    /// Refused without saying where (the server's `check_text`).
    Refused,
}

/// A consumer: its name and what it does with one line of prose.
type Consumer = (&'static str, fn(&str) -> Seen);

const CONSUMERS: &[Consumer] = &[
    ("countersign_text::check", classifier),
    ("details: text::check_value (Format::Text)", details_warnings),
    ("protocol: BindingMessage::new", binding_message),
    ("cli: safe::text", |s| escaped_positions(&countersign_cli::safe::text(s))),
    ("desktop: notify::plain", notification),
    // The server: client metadata is refused, the User-Agent escaped.
    ("server: register::check_text", |s| {
        if countersign_server::testing::check_text("client_name", s, 1_000).is_ok() {
            Seen::Unchanged
        } else {
            Seen::Refused
        }
    }),
    ("server: bc_authorize::user_agent", |s| escaped_positions(&countersign_server::testing::user_agent(s.as_bytes()))),
];

fn seen(mut positions: Vec<usize>) -> Seen {
    positions.sort_unstable();
    positions.dedup();
    if positions.is_empty() {
        Seen::Unchanged
    } else {
        Seen::At(positions)
    }
}

fn classifier(s: &str) -> Seen {
    seen(countersign_text::check(s, Context::Line).findings.iter().map(|f| f.index).collect())
}

fn details_warnings(s: &str) -> Seen {
    let warnings = countersign_details::text::check_value(s, countersign_details::Format::Text);
    let positions: Vec<usize> = warnings.iter().flat_map(|w| w.characters.iter().map(|c| c.position)).collect();
    assert!(warnings.is_empty() || !positions.is_empty(), "warnings without characters for {s:?}: {warnings:?}");
    seen(positions)
}

fn binding_message(s: &str) -> Seen {
    use countersign_protocol::ciba::{BindingMessage, BindingMessageError};
    match BindingMessage::new(s) {
        Ok(m) => {
            assert_eq!(m.as_str(), s);
            Seen::Unchanged
        }
        Err(BindingMessageError::Char { index, .. }) => Seen::FirstAt(s[..index].chars().count()),
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn notification(s: &str) -> Seen {
    let shown = crate::notify::plain(s, 1_000);
    assert_eq!(shown.chars().count(), s.chars().count(), "{s:?}");
    seen(shown.chars().enumerate().filter(|(_, c)| *c == '\u{FFFD}').map(|(i, _)| i).collect())
}

/// The positions (in the original) of the characters `escaped` writes as an
/// escape (`\u{…}`, `\n`, `\r`, `\t`); `\\` is a backslash as sent.
fn escaped_positions(escaped: &str) -> Seen {
    let mut positions = Vec::new();
    let mut chars = escaped.chars();
    let mut i = 0;
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => {}
                Some('n' | 'r' | 't') => positions.push(i),
                Some('u') => {
                    assert_eq!(chars.next(), Some('{'), "{escaped:?}");
                    while chars.next().is_some_and(|c| c != '}') {}
                    positions.push(i);
                }
                other => panic!("bad escape {other:?} in {escaped:?}"),
            }
        }
        i += 1;
    }
    assert_eq!(countersign_text::unescape(escaped).map(|t| t.chars().count()), Ok(i), "{escaped:?}");
    seen(positions)
}

/// Whether `seen` is what a consumer should do with a string whose findings
/// are at `expected`.
fn agrees(seen: &Seen, expected: &[usize]) -> bool {
    match seen {
        Seen::Unchanged => expected.is_empty(),
        Seen::At(positions) => positions == expected,
        Seen::FirstAt(first) => expected.first() == Some(first),
        Seen::Refused => !expected.is_empty(),
    }
}

#[test]
fn every_consumer_agrees_with_the_classifier_on_every_code_point() {
    let mut checked = 0;
    let mut flagged = 0;
    for c in code_points() {
        let text = format!("a{c}b");
        let expected: Vec<usize> = {
            let mut at: Vec<usize> =
                countersign_text::check(&text, Context::Line).findings.iter().map(|f| f.index).collect();
            at.dedup();
            at
        };
        flagged += usize::from(!expected.is_empty());
        for (name, consumer) in CONSUMERS {
            let seen = consumer(&text);
            assert!(agrees(&seen, &expected), "{name} on U+{:04X}: {seen:?}, classifier: {expected:?}", u32::from(c));
        }
        checked += 1;
    }
    // Enough of both kinds that the test means something.
    assert!(checked > 15_000 && flagged > 12_000 && checked - flagged > 3_000, "{checked} checked, {flagged} flagged");
}

#[test]
fn every_consumer_keeps_the_legitimate_contexts_unchanged() {
    let samples: Vec<_> = in_context().into_iter().filter(|s| s.context == Context::Line).collect();
    assert!(samples.len() >= 15);
    for sample in samples {
        for (name, consumer) in CONSUMERS {
            assert_eq!(consumer(&sample.text), Seen::Unchanged, "{name} on {:?} ({})", sample.text, sample.why);
        }
    }
}

#[test]
fn consumers_flag_the_same_characters_in_a_longer_line() {
    // Several findings in one line: every consumer names all of them (or,
    // refusing, the first).
    let text = "Pay p\u{0430}ypal\u{202E} now\u{200B}\u{E0041}! \u{1B}[0m ❤\u{FE0F}";
    let expected: Vec<usize> = countersign_text::check(text, Context::Line).findings.iter().map(|f| f.index).collect();
    assert_eq!(expected, [5, 10, 15, 16, 19]);
    for (name, consumer) in CONSUMERS {
        let seen = consumer(text);
        assert!(agrees(&seen, &expected), "{name}: {seen:?}");
    }
}
