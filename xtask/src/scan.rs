//! The programs the sources spawn, read from their text, so that a test fails
//! when one is missing from the table in `programs.rs` (a fresh machine would
//! lack it, and only the next person would find out).
//!
//! A plain reading of the Rust text, enough for how this code base runs
//! programs:
//! - `Command::new("prog")` and `exec(dir, "prog", args)`;
//! - the program a wrapper runs after a `"--"` argument
//!   (`dbus-run-session -- sh -c …`);
//! - the first word of each command of a shell script: the literal after
//!   `"-c"` (or the one bound by `let` to the variable passed there), and any
//!   literal starting with `#!/bin/sh` (scripts written to files).
//!
//! Programs given as variables (`&app`, a built binary) are not literals and
//! are skipped; comments are skipped.

use std::path::{Path, PathBuf};

use crate::programs::PROGRAMS;

/// Marks where string literal N was: `LITERAL N END` in the skeleton.
const LITERAL: char = '\u{1}';
const END: char = '\u{2}';

/// A Rust source with its comments removed and its string literals replaced
/// by markers, so code patterns can be found without reading into strings.
struct Source {
    skeleton: String,
    /// The literals, unescaped, in order.
    literals: Vec<String>,
}

impl Source {
    fn parse(text: &str) -> Source {
        let chars: Vec<char> = text.chars().collect();
        let mut source = Source { skeleton: String::new(), literals: Vec::new() };
        let mut i = 0;
        while i < chars.len() {
            i = match (chars[i], chars.get(i + 1).copied()) {
                ('/', Some('/')) => skip_line_comment(&chars, i),
                ('/', Some('*')) => skip_block_comment(&chars, i),
                ('"', _) => source.push_literal(quoted(&chars, i + 1)),
                ('r', _) if starts_raw_string(&chars, i) => source.push_literal(raw(&chars, i + 1)),
                ('\'', _) => skip_char_literal(&chars, i, &mut source.skeleton),
                (c, _) => {
                    source.skeleton.push(c);
                    i + 1
                }
            };
        }
        source
    }

    /// Records a literal and its marker; returns where the source goes on.
    fn push_literal(&mut self, (literal, next): (String, usize)) -> usize {
        self.skeleton.push_str(&format!("{LITERAL}{}{END}", self.literals.len()));
        self.literals.push(literal);
        next
    }

    /// The literal right at the start of `code` (after white space).
    fn literal_at(&self, code: &str) -> Option<&str> {
        let rest = code.trim_start().strip_prefix(LITERAL)?;
        let index: usize = rest[..rest.find(END)?].parse().ok()?;
        Some(&self.literals[index])
    }

    /// The code after each occurrence of `pattern`.
    fn after(&self, pattern: &str) -> Vec<&str> {
        self.skeleton.match_indices(pattern).map(|(at, _)| &self.skeleton[at + pattern.len()..]).collect()
    }

    /// The code after the marker of each literal equal to `value`.
    fn after_literal(&self, value: &str) -> Vec<&str> {
        let indices = self.literals.iter().enumerate().filter(|(_, l)| *l == value).map(|(i, _)| i);
        indices.filter_map(|i| self.after(&format!("{LITERAL}{i}{END}")).first().copied()).collect()
    }

    /// The next argument after a literal: `"a", NEXT` or `"a").arg(NEXT`.
    fn next_argument(code: &str) -> &str {
        let code = code.trim_start();
        code.strip_prefix(',').or_else(|| code.strip_prefix(").arg(")).unwrap_or("").trim_start()
    }

    /// The first literal of the last `let NAME = …;` before byte `before`
    /// of the skeleton (the binding in scope there: several functions of
    /// one file may each bind a `script`).
    fn bound_literal(&self, name: &str, before: usize) -> Option<&str> {
        let starts = |pattern: String| {
            self.skeleton.match_indices(&pattern).map(|(at, _)| (at, at + pattern.len())).collect::<Vec<_>>()
        };
        let mut bindings = [starts(format!("let {name} =")), starts(format!("let mut {name} ="))].concat();
        bindings.retain(|(at, _)| *at < before);
        let (_, start) = bindings.into_iter().max()?;
        let statement = &self.skeleton[start..];
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        self.literal_at(&statement[statement.find(LITERAL)?..])
    }

    /// Where `code`, a slice of the skeleton (as [`Source::after`] gives),
    /// starts in it.
    fn offset_of(&self, code: &str) -> usize {
        (code.as_ptr() as usize).saturating_sub(self.skeleton.as_ptr() as usize).min(self.skeleton.len())
    }

    /// Every program this source runs, as far as its text tells.
    fn programs(&self) -> Vec<String> {
        let mut programs: Vec<&str> =
            self.after("Command::new(").into_iter().filter_map(|code| self.literal_at(code)).collect();
        programs.extend(self.exec_programs());
        let wrapped =
            self.after_literal("--").into_iter().filter_map(|code| self.literal_at(Self::next_argument(code)));
        programs.extend(wrapped.filter(|program| !program.starts_with('-')));
        let mut found: Vec<String> = programs.into_iter().map(str::to_owned).collect();
        for script in self.scripts() {
            found.extend(script_programs(script));
        }
        found
    }

    /// The second argument of each `exec(dir, "program", args)`.
    fn exec_programs(&self) -> Vec<&str> {
        let calls = self.skeleton.match_indices("exec(").filter(|(at, _)| !is_ident(&self.skeleton[..*at]));
        calls
            .filter_map(|(at, _)| self.literal_at(after_first_argument(&self.skeleton[at + "exec(".len()..])?))
            .collect()
    }

    /// The shell scripts run with `sh -c` or written with a `#!/bin/sh` line.
    fn scripts(&self) -> Vec<&str> {
        let mut scripts: Vec<&str> = Vec::new();
        for code in self.after_literal("-c") {
            let argument = Self::next_argument(code);
            let variable: String =
                argument.trim_start_matches('&').chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let at = self.offset_of(code);
            scripts.extend(self.literal_at(argument).or_else(|| self.bound_literal(&variable, at)));
        }
        scripts.extend(self.literals.iter().filter(|l| l.starts_with("#!/bin/sh")).map(String::as_str));
        scripts
    }
}

/// True when `code` ends inside an identifier (so `my_exec(` is not `exec(`).
fn is_ident(code: &str) -> bool {
    code.ends_with(|c: char| c.is_alphanumeric() || c == '_')
}

/// The code after the first top-level comma of a call's arguments.
fn after_first_argument(arguments: &str) -> Option<&str> {
    let mut depth = 0;
    for (at, c) in arguments.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return None,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return Some(&arguments[at + 1..]),
            _ => {}
        }
    }
    None
}

fn skip_line_comment(chars: &[char], start: usize) -> usize {
    chars[start..].iter().position(|c| *c == '\n').map_or(chars.len(), |n| start + n)
}

fn skip_block_comment(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i < chars.len() {
        match (chars[i], chars.get(i + 1).copied()) {
            ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
            ('*', Some('/')) if depth == 1 => return i + 2,
            ('*', Some('/')) => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    i
}

/// `'x'` and `'\n'` are skipped; a lifetime's quote stays in the code.
fn skip_char_literal(chars: &[char], start: usize, skeleton: &mut String) -> usize {
    if chars.get(start + 1) == Some(&'\\') {
        return chars[start + 3..].iter().position(|c| *c == '\'').map_or(chars.len(), |n| start + 3 + n + 1);
    }
    if chars.get(start + 2) == Some(&'\'') {
        return start + 3;
    }
    skeleton.push('\'');
    start + 1
}

/// `r"`, `r#"`, `br"`… at `at`, and not the end of an identifier.
fn starts_raw_string(chars: &[char], at: usize) -> bool {
    let before: String = chars[..at].iter().rev().take(2).collect();
    let prefix_ok = match before.chars().next() {
        Some('b') => !before.chars().nth(1).is_some_and(|c| c.is_alphanumeric() || c == '_'),
        Some(c) => !(c.is_alphanumeric() || c == '_'),
        None => true,
    };
    let hashes = chars[at + 1..].iter().take_while(|c| **c == '#').count();
    prefix_ok && chars.get(at + 1 + hashes) == Some(&'"')
}

/// A raw string from just after its `r`; returns it and where the code goes on.
fn raw(chars: &[char], start: usize) -> (String, usize) {
    let hashes = chars[start..].iter().take_while(|c| **c == '#').count();
    let body = start + hashes + 1;
    let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    let end = (body..chars.len()).find(|&i| chars[i..].starts_with(&closing)).unwrap_or(chars.len());
    (chars[body..end].iter().collect(), (end + closing.len()).min(chars.len()))
}

/// A string from just after its opening quote, unescaped; returns it and
/// where the code goes on.
fn quoted(chars: &[char], start: usize) -> (String, usize) {
    let mut text = String::new();
    let mut i = start;
    while i < chars.len() && chars[i] != '"' {
        if chars[i] != '\\' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        let escaped = chars.get(i + 1).copied().unwrap_or('\\');
        i += 2;
        match escaped {
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            '0' => text.push('\0'),
            // A line continuation: the newline and the next line's indent go.
            '\n' => i += chars[i..].iter().take_while(|c| c.is_whitespace()).count(),
            // \x41 and \u{…}: only their length matters here.
            'x' => i += 2,
            'u' => i += chars[i..].iter().position(|c| *c == '}').map_or(0, |n| n + 1),
            other => text.push(other),
        }
    }
    (text, i + 1)
}

/// Words that start no program: keywords, dash's builtins, format braces.
const NOT_PROGRAMS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case", "esac", "!", "alias",
    "bg", "break", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export", "false", "fg", "getopts",
    "hash", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "test", "times",
    "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait",
];

/// The program each command of a shell script starts with (a best effort:
/// quoted text and comments are dropped first, so `$(…)` inside double
/// quotes is not seen).
fn script_programs(script: &str) -> Vec<String> {
    let text = unquoted(&script.replace("\\\n", " "));
    commands(&text).into_iter().filter_map(first_program).collect()
}

/// The script with the inside of its quotes and its comments removed.
fn unquoted(script: &str) -> String {
    let mut text = String::new();
    let mut chars = script.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                chars.by_ref().find(|c| *c == '\'');
                text.push_str("''");
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => _ = chars.next(),
                        '"' => break,
                        _ => {}
                    }
                }
                text.push_str("\"\"");
            }
            '#' if previous.is_whitespace() || ";|&(".contains(previous) => {
                chars.by_ref().find(|c| *c == '\n');
                text.push('\n');
            }
            c => text.push(c),
        }
        previous = text.chars().last().unwrap_or(' ');
    }
    text
}

/// The commands of a script: split at newlines, `;`, pipes, `&&`, `||`,
/// background `&` (not `>&2`), and `$(…)`, `(…)` and backticks.
fn commands(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut commands = Vec::new();
    let mut start = 0;
    for (n, &(at, c)) in chars.iter().enumerate() {
        let before = n.checked_sub(1).map(|p| chars[p].1);
        let after = chars.get(n + 1).map(|(_, c)| *c);
        let separates = match c {
            '\n' | ';' | '|' | '(' | ')' | '`' => true,
            '&' => !matches!(before, Some('>' | '<')) && after != Some('>'),
            _ => false,
        };
        if separates {
            commands.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    commands.push(&text[start..]);
    commands
}

/// The program a command starts with, past assignments, redirections,
/// keywords and `{`; none for builtins, variables and quoted words.
fn first_program(command: &str) -> Option<String> {
    let skipped = |word: &&str| {
        let assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'));
        let redirection = word.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with(['>', '<']);
        let keyword = matches!(*word, "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!");
        assignment || redirection || keyword || word.chars().all(|c| c == '{' || c == '}')
    };
    let word = command.split_whitespace().find(|word| !skipped(word))?;
    let starts_a_name = word.starts_with(|c: char| c.is_alphanumeric() || "_./".contains(c));
    let name = word.rsplit('/').next().unwrap_or(word);
    (starts_a_name && !NOT_PROGRAMS.contains(&name)).then(|| name.to_owned())
}

/// Every `.rs` file under `dir`, outside build output and npm packages.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.flatten().map(|entry| entry.path()) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && !matches!(name, "target" | "node_modules") && !name.starts_with('.') {
            rust_files(&path, files);
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

/// The sources whose programs run in `cargo xtask test`, `demo` and
/// `bench-desktop`: xtask itself, and the tests and benchmarks it runs.
fn sources() -> Vec<PathBuf> {
    let root = crate::root();
    let mut files = Vec::new();
    for dir in ["xtask/src", "tests", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    for krate in std::fs::read_dir(root.join("crates")).into_iter().flatten().flatten() {
        rust_files(&krate.path().join("tests"), &mut files);
    }
    files.sort();
    files
}

/// Each program the sources run, with the file that runs it.
fn spawned_programs() -> Vec<(String, PathBuf)> {
    let root = crate::root();
    let mut found = Vec::new();
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let relative = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
        found.extend(Source::parse(&text).programs().into_iter().map(|program| (program, relative.clone())));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(source: &str) -> Vec<String> {
        Source::parse(source).programs()
    }

    #[test]
    fn every_program_the_sources_run_is_in_the_table() {
        let unknown: Vec<String> = spawned_programs()
            .into_iter()
            .filter(|(program, _)| !PROGRAMS.iter().any(|known| known.name == program))
            .map(|(program, file)| format!("`{program}` (run in {})", file.display()))
            .collect();
        assert!(
            unknown.is_empty(),
            "programs the sources run that xtask/src/programs.rs does not name (a fresh machine lacks them; add \
             each with where it comes from, e.g. its Debian package from `dpkg -S $(command -v PROGRAM)`):\n  {}",
            unknown.join("\n  ")
        );
    }

    /// The scan really reads the sources: xtask's own spawns are found.
    #[test]
    fn the_scan_sees_what_xtask_runs() {
        let found: Vec<String> = spawned_programs().into_iter().map(|(program, _)| program).collect();
        for program in ["gnome-keyring-daemon", "dbus-run-session", "xvfb-run", "sh", "import", "cargo", "npm", "sudo"]
        {
            assert!(found.iter().any(|f| f == program), "the scan missed `{program}`");
        }
    }

    #[test]
    fn finds_command_new_and_exec_literals_but_not_variables_or_comments() {
        let source = r#"
            let a = Command::new("dunst").arg("x");
            let b = Command::new(&app);
            // Command::new("commented-out")
            /* exec(&dir, "block-commented", &[]) */
            exec(
                &root.join("ui"),
                "npm",
                &["ci"],
            )?;
            exec_command(Command::new("dbus-send").args(["--session"]))?;
            let c = '"'; let d: &'static str = "Command::new(\"in-a-string\")";
        "#;
        assert_eq!(programs(source), ["dunst", "dbus-send", "npm"]);
    }

    #[test]
    fn finds_what_a_wrapper_runs_after_a_double_dash() {
        let source = r#"
            Command::new("dbus-run-session").args(["--", "cargo", "test", "--", "--ignored"]);
            command.arg("--").arg("node").arg("--").arg(&app);
        "#;
        assert_eq!(programs(source), ["dbus-run-session", "cargo", "node"]);
    }

    #[test]
    fn finds_the_commands_of_sh_c_scripts_inline_and_bound_to_a_variable() {
        let source = r###"
            fn scroll() {
                let script = "document.querySelector(arguments[0]).scrollIntoView()";
                client.execute(script, vec![]);
            }
            let script = "printf pw | gnome-keyring-daemon --unlock >/dev/null \
                && cargo test -- --ignored";
            Command::new("sh").args(["-c", script]);
            let other = format!(r#"set -eu
"$APP" & app=$!
for _ in $(seq {SECONDS}); do
  if xwininfo -root -tree | grep -q '"Countersign"'; then break; fi
  sleep 1
done
# a comment: notaprogram here
xwininfo -root | grep -q x || {{ echo "no window" >&2; kill $app; exit 1; }}
window=$(xwininfo | awk '/"x":/ {{ print $1 }}')
import -window "$window" "$SHOT" 2>/dev/null
wait $app || true
"#);
            Command::new("sh").arg("-c").arg(&other);
            Command::new("sh").args(["-c", "test -n \"$(notseen)\" && /usr/bin/dunstctl count"]);
        "###;
        let found = programs(source);
        assert_eq!(
            found,
            [
                "sh",
                "sh",
                "sh",
                "gnome-keyring-daemon",
                "cargo",
                "seq",
                "xwininfo",
                "grep",
                "sleep",
                "xwininfo",
                "grep",
                "xwininfo",
                "awk",
                "import",
                "dunstctl"
            ]
        );
    }

    #[test]
    fn finds_the_commands_of_scripts_written_with_a_shebang() {
        let source = r##"std::fs::write(&path, format!("#!/bin/sh\nmenu=$(cat)\nprintf '%s' \"$menu\" | grep -m1 '^#{choice} ' || true\n"));"##;
        assert_eq!(programs(source), ["cat", "grep"]);
    }
}
