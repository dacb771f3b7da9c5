//! Space-separated token lists (RFC 6749 §3.3): `scope` and `acr_values`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What is wrong with a space-separated token list (RFC 6749 §3.3 grammar).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenListError {
    /// No token at all.
    #[error("must not be empty")]
    Empty,
    /// A leading, trailing or doubled space (the grammar allows exactly one
    /// space between tokens).
    #[error("empty token at byte {0} (tokens are separated by exactly one space)")]
    EmptyToken(usize),
    /// A character outside %x21 / %x23-5B / %x5D-7E.
    #[error("character {ch:?} at byte {index} is not allowed")]
    IllegalChar {
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
}

fn is_token_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// Splits `scope = scope-token *( SP scope-token )` (RFC 6749 §3.3); repeated
/// tokens are kept once, at their first position.
fn parse_token_list(s: &str) -> Result<Vec<String>, TokenListError> {
    if s.is_empty() {
        return Err(TokenListError::Empty);
    }
    let mut out: Vec<String> = Vec::new();
    // Seen tokens, so that a long list costs linear time, not quadratic.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut start = 0;
    for token in s.split(' ') {
        if token.is_empty() {
            return Err(TokenListError::EmptyToken(start));
        }
        if let Some((i, ch)) = token.char_indices().find(|&(_, c)| !is_token_char(c)) {
            return Err(TokenListError::IllegalChar { ch, index: start + i });
        }
        if seen.insert(token) {
            out.push(token.to_owned());
        }
        start += token.len() + 1;
    }
    Ok(out)
}

macro_rules! token_list {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(Vec<String>);

        impl $name {
            /// Parses the space-separated form.
            ///
            /// # Errors
            /// [`TokenListError`] for an empty value, an empty token (extra
            /// space) or a disallowed character.
            pub fn parse(s: &str) -> Result<Self, TokenListError> {
                parse_token_list(s).map(Self)
            }

            /// Builds from tokens (duplicates dropped, order kept).
            ///
            /// # Errors
            /// As [`Self::parse`]; a token containing a space is refused.
            pub fn from_tokens<I, T>(tokens: I) -> Result<Self, TokenListError>
            where
                I: IntoIterator<Item = T>,
                T: Into<String>,
            {
                let mut joined = String::new();
                for (i, token) in tokens.into_iter().enumerate() {
                    let token: String = token.into();
                    if i > 0 {
                        joined.push(' ');
                    }
                    if let Some(pos) = token.find(' ') {
                        return Err(TokenListError::IllegalChar {
                            ch: ' ',
                            index: joined.len() + pos,
                        });
                    }
                    joined.push_str(&token);
                }
                parse_token_list(&joined).map(Self)
            }

            /// Whether `token` is present (exact, case-sensitive match).
            #[must_use]
            pub fn contains(&self, token: &str) -> bool {
                self.0.iter().any(|t| t == token)
            }

            /// The tokens, in order.
            pub fn iter(&self) -> impl Iterator<Item = &str> {
                self.0.iter().map(String::as_str)
            }

            /// Number of distinct tokens (at least one).
            #[must_use]
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Always `false`: an empty list does not parse.
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The space-separated wire form.
            #[must_use]
            pub fn to_param(&self) -> String {
                self.0.join(" ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_param())
            }
        }

        impl FromStr for $name {
            type Err = TokenListError;
            fn from_str(s: &str) -> Result<Self, TokenListError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_param())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The scope value that makes a CIBA request an OpenID request (CIBA Core
/// §7.1). Whether to require it is the server's decision.
pub const OPENID: &str = "openid";

token_list!(
    /// OAuth `scope` (RFC 6749 §3.3; CIBA Core §7.1): an ordered set of
    /// case-sensitive tokens, written space-separated.
    Scope
);

impl Scope {
    /// Whether every token of `self` is in `other`.
    #[must_use]
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.iter().all(|t| other.contains(t))
    }
}

token_list!(
    /// `acr_values` (CIBA Core §7.1, OIDC Core §3.1.2.1): requested
    /// Authentication Context Class References, in order of preference.
    AcrValues
);
