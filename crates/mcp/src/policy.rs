//! The policy file (TOML): which tools need approval, whom to ask, how.
//!
//! ```toml
//! [approval]
//! issuer = "https://countersign.example.com"
//! login_hint = "zoe"                 # the user whose approvers are asked
//! server = "filesystem"              # the upstream's name shown to the user
//! binding_message_prefix = "MCP"     # then a code, e.g. "MCP-7KQ2"
//! request_expiry_secs = 300
//!
//! [defaults]
//! action = "ask"                     # ask | allow | refuse, for tools not listed
//! risk = "high"
//!
//! [[tool]]
//! name = "read_*"                    # `*` any run of characters, `?` one
//! action = "allow"
//!
//! [[tool]]
//! name = "write_file"
//! action = "ask"
//! when = { argument = "path", matches = "*.env" }
//! ```
//!
//! Rules are read in order; the first whose name (and `when`, if any)
//! matches decides. Every error names the file's line.

use countersign_protocol::ciba::BindingMessage;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Longest binding-message prefix, in characters (the code and a dash
/// follow; servers cap the whole message, Auth0 at 64).
pub const MAX_PREFIX_CHARS: usize = 24;
/// Longest request expiry a policy may ask for, in seconds.
pub const MAX_EXPIRY_SECS: u64 = 3_600;

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forwarded at once.
    Allow,
    /// Forwarded only once the user approved it.
    Ask,
    /// Never forwarded; the tool is not listed.
    Refuse,
}

impl Action {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Self::Allow),
            "ask" => Ok(Self::Ask),
            "refuse" => Ok(Self::Refuse),
            other => Err(format!("unknown action {} (expected \"ask\", \"allow\" or \"refuse\")", quoted(other))),
        }
    }
}

/// The risk the policy gives a tool (shown to the user with the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Risk {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            other => {
                Err(format!("unknown risk {} (expected \"low\", \"medium\", \"high\" or \"critical\")", quoted(other)))
            }
        }
    }

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// A policy file refused: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct PolicyError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based; 0 when the file could not be read).
    pub line: usize,
    /// Why.
    pub message: String,
}

/// Whom to ask and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The authorization server.
    pub issuer: String,
    /// CIBA `login_hint`: the user to ask.
    pub login_hint: String,
    /// The upstream's name as the user sees it; `None`: the name the
    /// upstream gives itself.
    pub server: Option<String>,
    /// The binding message's prefix.
    pub binding_message_prefix: String,
    /// `requested_expiry`, seconds.
    pub request_expiry_secs: u64,
}

/// One `[[tool]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The tool-name glob.
    pub name: String,
    /// What happens.
    pub action: Action,
    /// The risk shown; `None`: the default's.
    pub risk: Option<Risk>,
    /// An argument condition.
    pub when: Option<When>,
    /// Its line in the file.
    pub line: usize,
}

/// `when = { argument = "...", matches = "..." }`: the rule applies only
/// when that argument is present and its value matches the glob (a string
/// as is, an array when any item does, any other value as its JSON text).
/// Only rules that ask or refuse may have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// The argument's name.
    pub argument: String,
    /// The glob.
    pub matches: String,
}

/// A loaded policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Whom to ask.
    pub approval: Approval,
    /// The action for tools no rule matches.
    pub default_action: Action,
    /// The risk for rules without one.
    pub default_risk: Risk,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

/// What the policy says of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What happens.
    pub action: Action,
    /// The risk shown with it.
    pub risk: Risk,
    /// The deciding rule's line; `None`: the default.
    pub line: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    approval: Spanned<ApprovalDoc>,
    #[serde(default)]
    defaults: Option<DefaultsDoc>,
    #[serde(default)]
    tool: Vec<Spanned<RuleDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalDoc {
    issuer: Spanned<String>,
    login_hint: Spanned<String>,
    #[serde(default)]
    server: Option<Spanned<String>>,
    #[serde(default)]
    binding_message_prefix: Option<Spanned<String>>,
    #[serde(default)]
    request_expiry_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsDoc {
    #[serde(default)]
    action: Option<Spanned<String>>,
    #[serde(default)]
    risk: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: Spanned<String>,
    action: Spanned<String>,
    #[serde(default)]
    risk: Option<Spanned<String>>,
    #[serde(default)]
    when: Option<Spanned<WhenDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhenDoc {
    argument: String,
    matches: String,
}

/// `s` quoted for an error message, every control, format (bidi) or
/// invisible character escaped: the message reaches a terminal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.escape_debug())
}

impl Policy {
    /// Reads and checks `file`.
    ///
    /// # Errors
    /// [`PolicyError`] with the line and the reason.
    pub fn load(file: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(file).map_err(|e| PolicyError {
            file: file.to_owned(),
            line: 0,
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text).map_err(|(line, message)| PolicyError { file: file.to_owned(), line, message })
    }

    /// Checks a policy's text: `(line, reason)` on the first error.
    ///
    /// # Errors
    /// The 1-based line and the reason.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let line_of = |span: Range<usize>| text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1);
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, line_of);
            (line, e.message().to_owned())
        })?;
        let at = |span: Range<usize>, message: String| (line_of(span), message);

        let a = doc.approval.get_ref();
        let issuer = a.issuer.get_ref().clone();
        countersign_protocol::device::Issuer::new(&issuer)
            .map_err(|e| at(a.issuer.span(), format!("issuer {}: {e}", quoted(&issuer))))?;
        let login_hint = a.login_hint.get_ref().clone();
        if login_hint.trim().is_empty() || login_hint.chars().any(char::is_control) {
            return Err(at(a.login_hint.span(), "login_hint must be a non-empty line of text".into()));
        }
        let server = match &a.server {
            Some(s) if s.get_ref().is_empty() || s.get_ref().chars().count() > 255 => {
                return Err(at(s.span(), "server must be 1 to 255 characters".into()))
            }
            Some(s) => Some(s.get_ref().clone()),
            None => None,
        };
        let prefix = match &a.binding_message_prefix {
            Some(p) => {
                let value = p.get_ref();
                if value.chars().count() > MAX_PREFIX_CHARS {
                    return Err(at(p.span(), format!("binding_message_prefix is over {MAX_PREFIX_CHARS} characters")));
                }
                BindingMessage::new(value.clone())
                    .map_err(|e| at(p.span(), format!("binding_message_prefix {}: {e}", quoted(value))))?;
                value.clone()
            }
            None => "MCP".to_owned(),
        };
        let expiry = match &a.request_expiry_secs {
            Some(e) => match u64::try_from(*e.get_ref()) {
                Ok(v) if (1..=MAX_EXPIRY_SECS).contains(&v) => v,
                _ => return Err(at(e.span(), format!("request_expiry_secs must be 1 to {MAX_EXPIRY_SECS}"))),
            },
            None => 300,
        };

        let (default_action, default_risk) = match &doc.defaults {
            Some(d) => (
                match &d.action {
                    Some(s) => Action::parse(s.get_ref()).map_err(|m| at(s.span(), m))?,
                    None => Action::Ask,
                },
                match &d.risk {
                    Some(s) => Risk::parse(s.get_ref()).map_err(|m| at(s.span(), m))?,
                    None => Risk::High,
                },
            ),
            None => (Action::Ask, Risk::High),
        };

        let mut rules = Vec::with_capacity(doc.tool.len());
        for rule in &doc.tool {
            let r = rule.get_ref();
            let name = r.name.get_ref();
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(at(r.name.span(), "a tool name glob must be a non-empty line of text".into()));
            }
            let action = Action::parse(r.action.get_ref()).map_err(|m| at(r.action.span(), m))?;
            let risk = match &r.risk {
                Some(s) => Some(Risk::parse(s.get_ref()).map_err(|m| at(s.span(), m))?),
                None => None,
            };
            let when = match &r.when {
                Some(w) => {
                    let doc = w.get_ref();
                    if doc.argument.is_empty() || doc.matches.is_empty() {
                        return Err(at(w.span(), "when needs a non-empty argument and matches".into()));
                    }
                    // A text glob knows nothing of paths (`/tmp/*` matches
                    // `/tmp/../etc/passwd`): it may narrow what is asked or
                    // refused, never widen what runs unasked.
                    if action == Action::Allow {
                        return Err(at(
                            w.span(),
                            "a rule with `when` cannot allow (a text glob is no safe test of a path or a value): \
                             allow without `when`, or ask or refuse with it"
                                .into(),
                        ));
                    }
                    Some(When { argument: doc.argument.clone(), matches: doc.matches.clone() })
                }
                None => None,
            };
            rules.push(Rule { name: name.clone(), action, risk, when, line: line_of(rule.span()) });
        }
        Ok(Self {
            approval: Approval {
                issuer,
                login_hint,
                server,
                binding_message_prefix: prefix,
                request_expiry_secs: expiry,
            },
            default_action,
            default_risk,
            rules,
        })
    }

    /// What the policy says of a call of `tool` with `arguments`.
    #[must_use]
    pub fn decide(&self, tool: &str, arguments: &Map<String, Value>) -> Decision {
        for rule in &self.rules {
            if !glob_matches(&rule.name, tool) {
                continue;
            }
            if let Some(when) = &rule.when {
                let Some(value) = arguments.get(&when.argument) else { continue };
                if !when_matches(&when.matches, value) {
                    continue;
                }
            }
            return Decision {
                action: rule.action,
                risk: rule.risk.unwrap_or(self.default_risk),
                line: Some(rule.line),
            };
        }
        Decision { action: self.default_action, risk: self.default_risk, line: None }
    }

    /// What the policy says of `tool` before its arguments are known (for
    /// the tool list): `Refuse` only when every call would be refused,
    /// `Allow` only when every call would be allowed.
    #[must_use]
    pub fn listing(&self, tool: &str) -> Action {
        let mut conditional = Vec::new();
        for rule in self.rules.iter().filter(|r| glob_matches(&r.name, tool)) {
            match &rule.when {
                Some(_) => conditional.push(rule.action),
                None => {
                    conditional.push(rule.action);
                    return unanimous(&conditional);
                }
            }
        }
        conditional.push(self.default_action);
        unanimous(&conditional)
    }
}

/// `Refuse` when every action is, `Ask` when any is (a tool that is
/// sometimes asked about is described as asking), else `Allow`.
fn unanimous(actions: &[Action]) -> Action {
    if actions.iter().all(|a| *a == Action::Refuse) {
        Action::Refuse
    } else if actions.contains(&Action::Ask) {
        Action::Ask
    } else {
        Action::Allow
    }
}

/// A `when` glob against an argument's value: a string as is, an array
/// when any item matches (each a string as is, else its JSON text), any
/// other value as its JSON text.
fn when_matches(glob: &str, value: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => glob_matches(glob, s),
        other => glob_matches(glob, &other.to_string()),
    };
    match value {
        Value::Array(items) => items.iter().any(text),
        other => text(other),
    }
}

/// `*` matches any run of characters (`/` included), `?` one character;
/// everything else itself.
#[must_use]
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti) = (0, 0);
    // The last `*` seen and the text position it is tried at (classic
    // backtracking over one star: linear in practice, never exponential).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match g.get(gi) {
            Some('*') => {
                star = Some((gi, ti));
                gi += 1;
            }
            Some('?') => {
                gi += 1;
                ti += 1;
            }
            Some(c) if *c == t[ti] => {
                gi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sg, st)) => {
                    gi = sg + 1;
                    ti = st + 1;
                    star = Some((sg, st + 1));
                }
                None => return false,
            },
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEAD: &str = "[approval]\nissuer = \"https://as.example.com\"\nlogin_hint = \"zoe\"\n";

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn globs() {
        for (g, t, m) in [
            ("read_*", "read_file", true),
            ("read_*", "read_", true),
            ("read_*", "write_file", false),
            ("*_file", "write_file", true),
            ("w?ite_file", "write_file", true),
            ("w?ite_file", "wite_file", false),
            ("*", "", true),
            ("", "", true),
            ("a*b*c", "a-b-x-c", true),
            ("a*b*c", "a-c-b", false),
            ("*.env", "/srv/app/.env", true),
            ("/etc/*", "/etc/passwd", true),
            ("/etc/*", "/home/etc/x", false),
            ("écrire_*", "écrire_fichier", true),
        ] {
            assert_eq!(glob_matches(g, t), m, "{g} on {t}");
        }
    }

    #[test]
    fn first_matching_rule_decides_then_the_default() {
        let p = Policy::parse(&format!(
            "{HEAD}[defaults]\naction = \"refuse\"\nrisk = \"medium\"\n\
             [[tool]]\nname = \"write_file\"\naction = \"refuse\"\nwhen = {{ argument = \"path\", matches = \"*.env\" }}\n\
             [[tool]]\nname = \"write_*\"\naction = \"ask\"\nrisk = \"critical\"\n\
             [[tool]]\nname = \"read_*\"\naction = \"allow\"\n"
        ))
        .unwrap();
        let d = p.decide("write_file", &args(json!({"path": "/srv/.env"})));
        assert_eq!((d.action, d.line), (Action::Refuse, Some(7)));
        let d = p.decide("write_file", &args(json!({"path": "/srv/notes.txt"})));
        assert_eq!((d.action, d.risk, d.line), (Action::Ask, Risk::Critical, Some(11)));
        // The condition's argument absent: the rule does not apply.
        assert_eq!(p.decide("write_file", &args(json!({}))).action, Action::Ask);
        let d = p.decide("read_file", &args(json!({"path": "/srv/.env"})));
        assert_eq!((d.action, d.risk), (Action::Allow, Risk::Medium));
        let d = p.decide("delete_file", &args(json!({})));
        assert_eq!((d.action, d.risk, d.line), (Action::Refuse, Risk::Medium, None));
        // Listing: write_file is sometimes refused, sometimes asked: asks.
        assert_eq!(p.listing("write_file"), Action::Ask);
        assert_eq!(p.listing("read_text_file"), Action::Allow);
        assert_eq!(p.listing("delete_file"), Action::Refuse);
    }

    #[test]
    fn a_condition_on_a_non_string_argument_matches_its_json_text() {
        let p = Policy::parse(&format!(
            "{HEAD}[defaults]\naction = \"allow\"\n[[tool]]\nname = \"transfer\"\naction = \"ask\"\n\
             when = {{ argument = \"amount\", matches = \"????*\" }}\n"
        ))
        .unwrap();
        assert_eq!(p.decide("transfer", &args(json!({"amount": 5000}))).action, Action::Ask);
        assert_eq!(p.decide("transfer", &args(json!({"amount": 50}))).action, Action::Allow);
    }

    #[test]
    fn a_condition_on_a_list_matches_any_item_and_never_allows() {
        let p = Policy::parse(&format!(
            "{HEAD}[defaults]\naction = \"allow\"\n[[tool]]\nname = \"read_multiple_files\"\naction = \"refuse\"\n\
             when = {{ argument = \"paths\", matches = \"/etc/*\" }}\n"
        ))
        .unwrap();
        assert_eq!(
            p.decide("read_multiple_files", &args(json!({"paths": ["/srv/a", "/etc/shadow"]}))).action,
            Action::Refuse
        );
        assert_eq!(p.decide("read_multiple_files", &args(json!({"paths": ["/srv/a"]}))).action, Action::Allow);
        // Only refusals and allowances: listed, not described as asking.
        assert_eq!(p.listing("read_multiple_files"), Action::Allow);
        let (line, m) = Policy::parse(&format!(
            "{HEAD}[[tool]]\nname = \"write_file\"\naction = \"allow\"\nwhen = {{ argument = \"path\", matches = \"/tmp/*\" }}\n"
        ))
        .unwrap_err();
        assert_eq!(line, 7, "{m}");
        assert!(m.contains("a rule with `when` cannot allow"), "{m}");
    }

    #[test]
    fn defaults_when_unset() {
        let p = Policy::parse(HEAD).unwrap();
        assert_eq!((p.default_action, p.default_risk), (Action::Ask, Risk::High));
        assert_eq!(p.approval.binding_message_prefix, "MCP");
        assert_eq!(p.approval.request_expiry_secs, 300);
        assert_eq!(p.approval.server, None);
    }

    #[test]
    fn bad_files_are_refused_with_the_line_and_the_reason() {
        let cases: &[(&str, usize, &str)] = &[
            ("[approval]\nissuer = \"https://as.example.com\"\n", 1, "missing field `login_hint`"),
            ("[approval]\nissuer = \"ftp://as.example.com/\"\nlogin_hint = \"zoe\"\n", 2, "issuer \"ftp://"),
            ("[approval]\nissuer = \"https://as.example.com\"\nlogin_hint = \"\"\n", 3, "login_hint must be"),
            (&format!("{HEAD}binding_message_prefix = \"a\\u202Eb\"\n"), 4, "binding_message_prefix \"a\\u{202e}b\""),
            (&format!("{HEAD}binding_message_prefix = \"{}\"\n", "x".repeat(30)), 4, "over 24 characters"),
            (&format!("{HEAD}request_expiry_secs = 0\n"), 4, "request_expiry_secs must be 1 to 3600"),
            (&format!("{HEAD}request_expiry_secs = 99999\n"), 4, "request_expiry_secs must be 1 to 3600"),
            (&format!("{HEAD}colour = \"red\"\n"), 4, "unknown field `colour`"),
            (&format!("{HEAD}\n[defaults]\naction = \"maybe\"\n"), 6, "unknown action \"maybe\""),
            (&format!("{HEAD}[defaults]\nrisk = \"severe\"\n"), 5, "unknown risk \"severe\""),
            (&format!("{HEAD}[[tool]]\nname = \"x\"\naction = \"allow\"\nrisk = \"huge\"\n"), 7, "unknown risk"),
            (&format!("{HEAD}[[tool]]\nname = \"\"\naction = \"allow\"\n"), 5, "non-empty line"),
            (&format!("{HEAD}[[tool]]\nname = \"x\"\n"), 4, "missing field `action`"),
            (
                &format!("{HEAD}[[tool]]\nname = \"x\"\naction = \"ask\"\nwhen = {{ argument = \"p\" }}\n"),
                7,
                "missing field `matches`",
            ),
            (
                &format!(
                    "{HEAD}[[tool]]\nname = \"x\"\naction = \"ask\"\nwhen = {{ argument = \"\", matches = \"*\" }}\n"
                ),
                7,
                "when needs",
            ),
            ("this is = not toml [", 1, ""),
        ];
        for (text, line, reason) in cases {
            let (l, m) = Policy::parse(text).expect_err(text);
            assert_eq!(l, *line, "{text}: {m}");
            assert!(m.contains(reason), "{text}: {m}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, format!("{HEAD}[defaults]\naction = \"maybe\"\n")).unwrap();
        let e = Policy::load(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:5: unknown action \"maybe\" (expected \"ask\", \"allow\" or \"refuse\")", file.display())
        );
        let e = Policy::load(&dir.path().join("none.toml")).unwrap_err();
        assert!(e.to_string().contains("cannot read it"), "{e}");
    }
}
