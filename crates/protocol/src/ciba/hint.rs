//! The user hint of a CIBA request (CIBA Core §7.1).

use serde::Deserialize;

use super::form::{ID_TOKEN_HINT, LOGIN_HINT, LOGIN_HINT_TOKEN};
use super::Jwt;

/// Format name of Auth0's JSON `login_hint` (specs.md §6).
pub const ISS_SUB: &str = "iss_sub";

/// A `login_hint` (CIBA Core §7.1): a plain identifier (username, e-mail),
/// or Auth0's JSON form `{"format":"iss_sub","iss":…,"sub":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Hint {
    /// A username, e-mail address or other identifier, as sent.
    Plain(String),
    /// Auth0's `iss_sub` format: the user `sub` at issuer `iss`.
    IssSub {
        /// Issuer identifier.
        iss: String,
        /// Subject at that issuer.
        sub: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssSubJson {
    format: String,
    iss: String,
    sub: String,
}

impl Hint {
    /// Parses a `login_hint`. A value starting with `{` must be the `iss_sub`
    /// JSON form (exactly `format`, `iss`, `sub`, all non-empty strings).
    ///
    /// # Errors
    /// A reason string for [`RequestError::Invalid`](super::RequestError::Invalid) (`invalid_request`).
    pub fn parse(value: &str) -> Result<Self, String> {
        if !value.trim_start().starts_with('{') {
            return if value.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(Hint::Plain(value.to_owned()))
            };
        }
        let j: IssSubJson = serde_json::from_str(value)
            .map_err(|e| format!("JSON form must be {{\"format\":\"iss_sub\",\"iss\":...,\"sub\":...}}: {e}"))?;
        if j.format != ISS_SUB {
            return Err(format!("unsupported JSON format {:?} (only \"iss_sub\")", j.format));
        }
        if j.iss.is_empty() || j.sub.is_empty() {
            return Err("iss and sub must not be empty".to_owned());
        }
        Ok(Hint::IssSub { iss: j.iss, sub: j.sub })
    }

    /// The parameter value (the JSON form for `IssSub`).
    #[must_use]
    pub fn to_param(&self) -> String {
        match self {
            Hint::Plain(s) => s.clone(),
            Hint::IssSub { iss, sub } => serde_json::json!({ "format": ISS_SUB, "iss": iss, "sub": sub }).to_string(),
        }
    }
}

/// The one user hint of a CIBA request (CIBA Core §7.1: exactly one of
/// `login_hint_token`, `id_token_hint`, `login_hint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserHint {
    /// `login_hint_token`: a token identifying the user; its format is
    /// agreed out of band, so it is kept as sent.
    LoginHintToken(String),
    /// `id_token_hint`: an ID token previously issued to the client.
    IdTokenHint(Jwt),
    /// `login_hint`.
    LoginHint(Hint),
}

impl UserHint {
    /// The parameter name and value.
    #[must_use]
    pub fn to_param(&self) -> (&'static str, String) {
        match self {
            UserHint::LoginHintToken(t) => (LOGIN_HINT_TOKEN, t.clone()),
            UserHint::IdTokenHint(t) => (ID_TOKEN_HINT, t.as_str().to_owned()),
            UserHint::LoginHint(h) => (LOGIN_HINT, h.to_param()),
        }
    }
}
