//! The scope registry: what each scope means, in words an approver shows
//! beside it, and how risky a request asking only for scopes is.
//!
//! Built in: the OpenID Connect scopes (`openid`, `profile`, `email`,
//! `address`, `phone`) and `offline_access`. The operator adds or overrides
//! entries with `--scopes FILE`, a JSON object from scope to either a
//! description (risk `medium`) or `{"description": …, "risk": …}`. The file
//! is checked strictly when the server starts (docs/server.md, "Scopes").

use countersign_protocol::ciba::Scope;
use countersign_protocol::device::Risk;
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest scope description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most entries a scopes file may hold.
pub const MAX_ENTRIES: usize = 1000;
/// The risk of an operator scope given as a plain description.
pub const DEFAULT_OPERATOR_RISK: Risk = Risk::Medium;
/// The risk a requested scope the registry does not know adds to a
/// scope-only request: nobody can tell the user what it grants.
pub const UNKNOWN_SCOPE_RISK: Risk = Risk::High;

/// One scope: its description and its risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeEntry {
    /// What the scope lets the agent do, for the user.
    pub description: String,
    /// Its risk, for a request that asks only for scopes.
    pub risk: Risk,
}

/// The scopes this server describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRegistry(BTreeMap<String, ScopeEntry>);

/// Why a scopes file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopesFileError {
    /// The file could not be read.
    #[error("{0}")]
    Read(String),
    /// Not strict JSON (syntax, duplicate member names, …).
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The top level is not an object.
    #[error("must be a JSON object from scope to description")]
    NotObject,
    /// Too many entries.
    #[error("has more than {MAX_ENTRIES} scopes")]
    TooMany,
    /// A name that is not one scope token (RFC 6749 §3.3).
    #[error("scope {name:?} is not one RFC 6749 scope token")]
    Name {
        /// The name (as JSON-escaped by `{:?}`).
        name: String,
    },
    /// An entry of the wrong shape or with a bad value.
    #[error("scope {name:?}: {reason}")]
    Entry {
        /// The scope.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl Default for ScopeRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl ScopeRegistry {
    /// The built-in entries.
    #[must_use]
    pub fn builtin() -> Self {
        let entry = |d: &str, risk: Risk| ScopeEntry { description: d.to_owned(), risk };
        let mut m = BTreeMap::new();
        m.insert("openid".to_owned(), entry("Know who you are (your account identifier)", Risk::Low));
        m.insert("profile".to_owned(), entry("Read your basic profile: name, picture, locale", Risk::Low));
        m.insert("email".to_owned(), entry("Read your email address", Risk::Low));
        m.insert("address".to_owned(), entry("Read your postal address", Risk::Low));
        m.insert("phone".to_owned(), entry("Read your phone number", Risk::Low));
        m.insert("offline_access".to_owned(), entry("Keep access while you are away (a refresh token)", Risk::Medium));
        Self(m)
    }

    /// The built-in entries with those of a scopes file added (an entry of
    /// the file replaces a built-in one of the same name).
    ///
    /// # Errors
    /// [`ScopesFileError`]: the file is read, then checked strictly.
    pub fn with_file(path: &std::path::Path) -> Result<Self, ScopesFileError> {
        let text = std::fs::read(path).map_err(|e| ScopesFileError::Read(e.to_string()))?;
        Self::builtin().with_text(&text)
    }

    /// These entries with those of a scopes file's text added.
    ///
    /// # Errors
    /// [`ScopesFileError`].
    pub fn with_text(mut self, text: &[u8]) -> Result<Self, ScopesFileError> {
        let value = countersign_protocol::jcs::parse_strict(text).map_err(|e| ScopesFileError::Json(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(ScopesFileError::NotObject);
        };
        if map.len() > MAX_ENTRIES {
            return Err(ScopesFileError::TooMany);
        }
        for (name, value) in map {
            if Scope::parse(&name).map(|s| s.len()) != Ok(1) || name.contains(' ') {
                return Err(ScopesFileError::Name { name });
            }
            let entry = parse_entry(&value).map_err(|reason| ScopesFileError::Entry { name: name.clone(), reason })?;
            self.0.insert(name, entry);
        }
        Ok(self)
    }

    /// The entry of `scope`.
    #[must_use]
    pub fn get(&self, scope: &str) -> Option<&ScopeEntry> {
        self.0.get(scope)
    }

    /// Every scope described (`scopes_supported`), sorted.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// The description of each of `scopes` the registry knows (what a
    /// request stores and approvers show).
    #[must_use]
    pub fn descriptions(&self, scopes: &[String]) -> BTreeMap<String, String> {
        scopes.iter().filter_map(|s| self.0.get(s).map(|e| (s.clone(), e.description.clone()))).collect()
    }

    /// The highest risk among those of `scopes` the registry describes;
    /// `None` when it describes none. A request with details takes it when
    /// it is above the details' own (an operator's `critical` scope is
    /// critical whatever details come with it); undescribed scopes beside
    /// details count for nothing, as before the registry.
    #[must_use]
    pub fn described_risk(&self, scopes: &[String]) -> Option<Risk> {
        scopes.iter().filter_map(|s| self.0.get(s).map(|e| e.risk.clone())).max_by_key(Risk::rank)
    }

    /// The risk of a request asking for `scopes` only: the highest of
    /// theirs, [`UNKNOWN_SCOPE_RISK`] for a scope the registry does not
    /// know; `low` for none.
    #[must_use]
    pub fn risk(&self, scopes: &[String]) -> Risk {
        scopes
            .iter()
            .map(|s| self.0.get(s).map_or(UNKNOWN_SCOPE_RISK, |e| e.risk.clone()))
            .max_by_key(Risk::rank)
            .unwrap_or(Risk::Low)
    }
}

fn parse_entry(value: &Value) -> Result<ScopeEntry, String> {
    match value {
        Value::String(d) => Ok(ScopeEntry { description: description(d)?, risk: DEFAULT_OPERATOR_RISK }),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| *k != "description" && *k != "risk") {
                return Err(format!("unknown member {k:?} (allowed: description, risk)"));
            }
            let d = match o.get("description") {
                Some(Value::String(d)) => description(d)?,
                _ => return Err("description must be a string".into()),
            };
            let risk = match o.get("risk") {
                None => DEFAULT_OPERATOR_RISK,
                Some(Value::String(r)) => match Risk::from(r.as_str()) {
                    Risk::Extension(_) => return Err(format!("risk {r:?} is not low, medium, high or critical")),
                    risk => risk,
                },
                Some(_) => return Err("risk must be a string".into()),
            };
            Ok(ScopeEntry { description: d, risk })
        }
        _ => Err("must be a description (a string) or {\"description\": …, \"risk\": …}".into()),
    }
}

/// A description as the file may give it: 1 to 200 characters, nothing
/// `countersign_text` flags in one line of prose (control, bidi, invisible
/// characters, lookalikes). Approvers check it again when they show it.
fn description(d: &str) -> Result<String, String> {
    let n = d.chars().count();
    if d.trim().is_empty() {
        return Err("description must not be empty".into());
    }
    if n > MAX_DESCRIPTION_CHARS {
        return Err(format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"));
    }
    if let Some(f) = countersign_text::first_finding(d, countersign_text::Context::Line) {
        return Err(format!(
            "description has {} at byte {} ({})",
            countersign_text::code_point(f.character),
            f.byte_offset,
            f.class.description()
        ));
    }
    Ok(d.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<ScopeRegistry, ScopesFileError> {
        ScopeRegistry::builtin().with_text(text.as_bytes())
    }

    #[test]
    fn builtin_scopes_are_described() {
        let r = ScopeRegistry::builtin();
        for s in ["openid", "profile", "email", "address", "phone", "offline_access"] {
            assert!(r.get(s).is_some(), "{s}");
        }
        let scopes = vec!["openid".to_owned(), "email".to_owned(), "calendar.write".to_owned()];
        let d = r.descriptions(&scopes);
        assert_eq!(d.len(), 2);
        assert!(!d.contains_key("calendar.write"));
        assert_eq!(r.risk(&scopes[..2]), Risk::Low);
        assert_eq!(r.risk(&scopes), UNKNOWN_SCOPE_RISK);
        assert_eq!(r.risk(&["offline_access".to_owned()]), Risk::Medium);
        assert_eq!(r.risk(&[]), Risk::Low);
    }

    #[test]
    fn a_file_adds_and_overrides() {
        let r = file(
            r#"{"calendar.write": "Add and change events in your calendar",
                "openid": {"description": "Who you are", "risk": "low"},
                "payments": {"description": "Pay from your account", "risk": "critical"}}"#,
        )
        .unwrap();
        assert_eq!(r.get("calendar.write").unwrap().risk, DEFAULT_OPERATOR_RISK);
        assert_eq!(r.get("openid").unwrap().description, "Who you are");
        assert_eq!(r.risk(&["openid".into(), "payments".into()]), Risk::Critical);
        assert!(r.names().contains(&"email".to_owned()));
    }

    #[test]
    fn a_bad_file_is_refused_with_a_clear_error() {
        let cases = [
            ("[]", "JSON object"),
            ("{", "not valid JSON"),
            (r#"{"a": "x", "a": "y"}"#, "not valid JSON"),
            (r#"{"two words": "x"}"#, "scope token"),
            (r#"{"": "x"}"#, "scope token"),
            (r#"{"quo\"te": "x"}"#, "scope token"),
            (r#"{"a": ""}"#, "must not be empty"),
            (r#"{"a": 3}"#, "must be a description"),
            (r#"{"a": {"description": "x", "risk": "extreme"}}"#, "is not low, medium"),
            (r#"{"a": {"description": "x", "colour": "red"}}"#, "unknown member"),
            (r#"{"a": {"risk": "low"}}"#, "description must be a string"),
            ("{\"a\": \"Read \\u202Eexe.txt\"}", "U+202E"),
            ("{\"a\": \"line\\nbreak\"}", "U+000A"),
        ];
        for (text, needle) in cases {
            let e = file(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let long = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_DESCRIPTION_CHARS + 1));
        assert!(file(&long).unwrap_err().to_string().contains("longer than"));
    }
}
