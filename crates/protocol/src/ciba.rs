//! OpenID Connect CIBA Core 1.0 wire types: the backchannel authentication
//! request (§7.1) and its acknowledgement (§7.3), the CIBA token request
//! (§10.1) and response (§10.1.1), the ping (§10.2) and push (§10.3.1)
//! callbacks, plus the OAuth strings they carry (grant types, delivery modes,
//! token types, scope).
//!
//! Form parsing follows RFC 6749 §3.1: a recognised parameter sent twice is
//! refused, a parameter sent without a value is treated as omitted, and
//! unrecognised parameters are ignored. Every error is a [`RequestError`]
//! that maps to the OAuth [`ErrorCode`] to answer with.
//!
//! Error messages use "section" rather than "§" because they become
//! `error_description` values, which RFC 6749 §5.2 limits to ASCII.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::error::{ErrorCode, ErrorResponse};
use crate::rar::{AuthorizationDetails, RarError};
use crate::secret::{AccessToken, AuthReqId, ClientNotificationToken, ClientSecret, RefreshToken, UserCode};

// ---------------------------------------------------------------------------
// String enums
// ---------------------------------------------------------------------------

/// An empty string where a protocol value is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("empty value")]
pub struct EmptyValue;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, eq = $eq:expr;
        $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// Any other (non-empty) value.
            Extension(String),
        }

        impl $name {
            /// The wire string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Extension(s) => s,
                }
            }
        }

        impl FromStr for $name {
            type Err = EmptyValue;
            fn from_str(s: &str) -> Result<Self, EmptyValue> {
                let eq: fn(&str, &str) -> bool = $eq;
                $( if eq(s, $wire) { return Ok($name::$variant); } )*
                if s.is_empty() {
                    return Err(EmptyValue);
                }
                Ok($name::Extension(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The CIBA grant type (CIBA Core §10.1, §4).
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

wire_enum! {
    /// OAuth `grant_type` (RFC 6749 §4.5 and the specs below). Exact match.
    GrantType, eq = |a, b| a == b;
    /// `urn:openid:params:grant-type:ciba` (CIBA Core §10.1).
    Ciba = "urn:openid:params:grant-type:ciba",
    /// RFC 6749 §4.1.3.
    AuthorizationCode = "authorization_code",
    /// RFC 6749 §6.
    RefreshToken = "refresh_token",
    /// RFC 6749 §4.4.2.
    ClientCredentials = "client_credentials",
    /// RFC 8628 §3.4.
    DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
    /// RFC 8693 §2.1.
    TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
    /// RFC 7523 §2.1.
    JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer",
}

wire_enum! {
    /// CIBA token delivery mode (CIBA Core §5; metadata §4
    /// `backchannel_token_delivery_mode(s_supported)`). Exact match.
    TokenDeliveryMode, eq = |a, b| a == b;
    /// The client polls the token endpoint (§5, §10.1).
    Poll = "poll",
    /// The OP notifies, the client then polls once (§5, §10.2).
    Ping = "ping",
    /// The OP pushes the tokens (§5, §10.3).
    Push = "push",
}

wire_enum! {
    /// OAuth `token_type` (RFC 6749 §7.1, case-insensitive when parsed;
    /// written in the registered case).
    TokenType, eq = |a, b| a.eq_ignore_ascii_case(b);
    /// RFC 6750.
    Bearer = "Bearer",
    /// RFC 9449 §5.
    DPoP = "DPoP",
}

wire_enum! {
    /// `client_assertion_type` (RFC 7521 §4.2). Exact match.
    ClientAssertionType, eq = |a, b| a == b;
    /// RFC 7523 §2.2 (`private_key_jwt`, `client_secret_jwt`).
    JwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
}

// ---------------------------------------------------------------------------
// Scope, acr_values, binding_message, JWT strings
// ---------------------------------------------------------------------------

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

/// What is wrong with a `binding_message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingMessageError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// A control, bidi or invisible formatting character, which would let the
    /// text shown on the two devices differ from what it seems.
    #[error("character U+{:04X} at byte {index} is not plain text", u32::from(*ch))]
    Char {
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
}

/// CIBA Core §7.1 `binding_message`: shown on both devices so the user can
/// match them; "relatively short" plain text. This type refuses empty text
/// and every character `countersign_text` flags in one line of prose
/// (control, bidi, invisible, unusual characters, lookalike letters);
/// length and character-set policy (Auth0: 64, Keycloak: 50) is the
/// server's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindingMessage(String);

impl BindingMessage {
    /// Validates a message.
    ///
    /// # Errors
    /// [`BindingMessageError`] (answer `invalid_binding_message`, §13).
    pub fn new(message: impl Into<String>) -> Result<Self, BindingMessageError> {
        let message = message.into();
        if message.is_empty() {
            return Err(BindingMessageError::Empty);
        }
        if let Some(found) = countersign_text::first_finding(&message, countersign_text::Context::Line) {
            return Err(BindingMessageError::Char { ch: found.character, index: found.byte_offset });
        }
        Ok(Self(message))
    }

    /// The message.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for BindingMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BindingMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A compact JWT (RFC 7519 §3): a JWS (three base64url segments, RFC 7515
/// §7.1) with a non-empty signature, or a JWE (five segments, RFC 7516 §7.1).
/// Only the shape is checked here; verification is the caller's (see
/// `crate::jws`). `Debug` shows the length only: these are often credentials
/// (`client_assertion`) or personal data (`id_token`).
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(String);

/// A string is not shaped like a compact JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a compact JWT: {0}")]
pub struct JwtShapeError(&'static str);

fn is_b64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Jwt {
    /// Checks the shape of a compact JWT.
    ///
    /// # Errors
    /// [`JwtShapeError`] saying what is wrong.
    pub fn new(token: impl Into<String>) -> Result<Self, JwtShapeError> {
        let token = token.into();
        let parts: Vec<&str> = token.split('.').collect();
        if !parts.iter().all(|p| is_b64url(p)) {
            return Err(JwtShapeError("a segment is not base64url"));
        }
        match parts.as_slice() {
            [h, p, s] => {
                if h.is_empty() || p.is_empty() {
                    return Err(JwtShapeError("empty header or payload"));
                }
                if s.is_empty() {
                    return Err(JwtShapeError("unsigned (empty signature)"));
                }
            }
            [h, _key, iv, ct, tag] => {
                if h.is_empty() || iv.is_empty() || ct.is_empty() || tag.is_empty() {
                    return Err(JwtShapeError("empty JWE segment"));
                }
            }
            _ => return Err(JwtShapeError("expected 3 (JWS) or 5 (JWE) segments")),
        }
        Ok(Self(token))
    }

    /// The compact serialization.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is a JWS (three segments) rather than a JWE.
    #[must_use]
    pub fn is_jws(&self) -> bool {
        self.0.split('.').count() == 3
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jwt(<{} bytes>)", self.0.len())
    }
}

impl Serialize for Jwt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Jwt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Hints
// ---------------------------------------------------------------------------

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
    /// A reason string for [`RequestError::Invalid`] (`invalid_request`).
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

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a form request (or a request object) was refused. Each variant maps to
/// an OAuth error code ([`RequestError::error_code`]); `Display` is the
/// `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A recognised parameter appears more than once (RFC 6749 §3.1).
    #[error("duplicate parameter: {0} (RFC 6749 section 3.1)")]
    Duplicate(&'static str),
    /// A required parameter is missing or empty.
    #[error("missing required parameter: {0}")]
    Missing(&'static str),
    /// None of the three hints (CIBA Core §7.1, §7.2 step 3).
    #[error("exactly one of login_hint_token, id_token_hint, login_hint is required (CIBA Core section 7.1)")]
    NoHint,
    /// More than one hint (CIBA Core §7.1, §7.2 step 3).
    #[error("exactly one of login_hint_token, id_token_hint, login_hint is allowed, got {}", .0.join(", "))]
    SeveralHints(Vec<&'static str>),
    /// Authentication parameters next to a signed `request` (CIBA Core
    /// §7.1.1: only client authentication parameters may be outside it).
    #[error("parameters must be inside the signed request object: {}", .0.join(", "))]
    OutsideRequestObject(Vec<&'static str>),
    /// More than one client authentication method (RFC 6749 §2.3).
    #[error("more than one client authentication method used (RFC 6749 section 2.3)")]
    MultipleClientAuth,
    /// `grant_type` is not the CIBA grant (RFC 6749 §5.2).
    #[error("unsupported grant_type: {}", crate::jcs::quote(.0.as_str()))]
    UnsupportedGrantType(GrantType),
    /// A parameter value is malformed.
    #[error("invalid {param}: {reason}")]
    Invalid {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A request object claim has the wrong JSON type.
    #[error("request object claim {claim} must be {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// `authorization_details` refused (RFC 9396 §5).
    #[error("{0}")]
    AuthorizationDetails(RarError),
}

impl RequestError {
    /// The OAuth error code to answer with.
    ///
    /// `invalid_scope` for a malformed `scope`, `invalid_binding_message` for
    /// a bad `binding_message` (CIBA Core §13), `invalid_request_object` for
    /// a malformed `request` or claim, `invalid_client` for a malformed
    /// `client_assertion` (RFC 7523 §3.2), `unsupported_grant_type`,
    /// `invalid_authorization_details` (RFC 9396 §5); `invalid_request`
    /// otherwise (RFC 6749 §5.2, CIBA Core §7.2, §13).
    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RequestError::Invalid { param, .. } => match *param {
                SCOPE => ErrorCode::InvalidScope,
                BINDING_MESSAGE => ErrorCode::InvalidBindingMessage,
                REQUEST => ErrorCode::InvalidRequestObject,
                CLIENT_ASSERTION => ErrorCode::InvalidClient,
                _ => ErrorCode::InvalidRequest,
            },
            RequestError::ClaimType { .. } => ErrorCode::InvalidRequestObject,
            RequestError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            RequestError::AuthorizationDetails(_) => ErrorCode::InvalidAuthorizationDetails,
            RequestError::Duplicate(_)
            | RequestError::Missing(_)
            | RequestError::NoHint
            | RequestError::SeveralHints(_)
            | RequestError::OutsideRequestObject(_)
            | RequestError::MultipleClientAuth => ErrorCode::InvalidRequest,
        }
    }
}

impl From<RequestError> for ErrorResponse {
    fn from(e: RequestError) -> Self {
        ErrorResponse::new(e.error_code()).with_description(&e.to_string())
    }
}

fn invalid(param: &'static str, reason: impl fmt::Display) -> RequestError {
    RequestError::Invalid { param, reason: reason.to_string() }
}

// ---------------------------------------------------------------------------
// Form handling
// ---------------------------------------------------------------------------

const SCOPE: &str = "scope";
const CLIENT_NOTIFICATION_TOKEN: &str = "client_notification_token";
const ACR_VALUES: &str = "acr_values";
const LOGIN_HINT_TOKEN: &str = "login_hint_token";
const ID_TOKEN_HINT: &str = "id_token_hint";
const LOGIN_HINT: &str = "login_hint";
const BINDING_MESSAGE: &str = "binding_message";
const USER_CODE: &str = "user_code";
const REQUESTED_EXPIRY: &str = "requested_expiry";
const AUTHORIZATION_DETAILS: &str = "authorization_details";
const REQUEST: &str = "request";
const CLIENT_ID: &str = "client_id";
const CLIENT_SECRET: &str = "client_secret";
const CLIENT_ASSERTION: &str = "client_assertion";
const CLIENT_ASSERTION_TYPE: &str = "client_assertion_type";
const GRANT_TYPE: &str = "grant_type";
const AUTH_REQ_ID: &str = "auth_req_id";

/// CIBA Core §7.1 authentication parameters (everything but client
/// authentication and `request`), in the order written by `to_form`.
const AUTHENTICATION_PARAMS: [&str; 10] = [
    SCOPE,
    CLIENT_NOTIFICATION_TOKEN,
    ACR_VALUES,
    LOGIN_HINT_TOKEN,
    ID_TOKEN_HINT,
    LOGIN_HINT,
    BINDING_MESSAGE,
    USER_CODE,
    REQUESTED_EXPIRY,
    AUTHORIZATION_DETAILS,
];
const CLIENT_AUTH_PARAMS: [&str; 4] = [CLIENT_ID, CLIENT_SECRET, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE];

/// Recognised parameters with non-empty values, after the duplicate check.
struct Form(BTreeMap<&'static str, String>);

impl Form {
    fn collect<I, K, V>(pairs: I, known: &[&'static str]) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: Vec<&'static str> = Vec::new();
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            let Some(&name) = known.iter().find(|n| **n == k.as_ref()) else {
                continue; // RFC 6749 §3.1: ignore unrecognised parameters
            };
            if seen.contains(&name) {
                return Err(RequestError::Duplicate(name));
            }
            seen.push(name);
            if !v.as_ref().is_empty() {
                // RFC 6749 §3.1: a parameter without a value is omitted.
                values.insert(name, v.as_ref().to_owned());
            }
        }
        Ok(Self(values))
    }

    fn take(&mut self, name: &'static str) -> Option<String> {
        self.0.remove(name)
    }
}

fn urlencode<'a>(pairs: impl IntoIterator<Item = &'a (&'static str, String)>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn decode_form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

/// Client authentication sent in the body (RFC 6749 §2.3.1
/// `client_secret_post`; RFC 7521 §4.2 / RFC 7523 §2.2 assertions). HTTP
/// Basic (`client_secret_basic`) travels in a header and is the server's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAuthParams {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (`client_secret_post`).
    pub client_secret: Option<ClientSecret>,
    /// `client_assertion` (`private_key_jwt`, `client_secret_jwt`).
    pub client_assertion: Option<Jwt>,
    /// `client_assertion_type`.
    pub client_assertion_type: Option<ClientAssertionType>,
}

impl ClientAuthParams {
    /// Parses only the client authentication parameters of a form.
    ///
    /// # Errors
    /// [`RequestError`]: duplicates; a secret and an assertion together
    /// ([`RequestError::MultipleClientAuth`]); an assertion without its type or
    /// the reverse, or a secret without `client_id` (`Missing`); a malformed
    /// assertion (`invalid_client`).
    pub fn from_form<I, K, V>(pairs: I) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut form = Form::collect(pairs, &CLIENT_AUTH_PARAMS)?;
        Self::from_collected(&mut form)
    }

    fn from_collected(form: &mut Form) -> Result<Self, RequestError> {
        let client_id = form.take(CLIENT_ID);
        let client_secret = form.take(CLIENT_SECRET).map(ClientSecret::new);
        let client_assertion = form.take(CLIENT_ASSERTION);
        let client_assertion_type = form.take(CLIENT_ASSERTION_TYPE);
        if client_secret.is_some() && (client_assertion.is_some() || client_assertion_type.is_some()) {
            return Err(RequestError::MultipleClientAuth);
        }
        if client_secret.is_some() && client_id.is_none() {
            return Err(RequestError::Missing(CLIENT_ID));
        }
        let (client_assertion, client_assertion_type) = match (client_assertion, client_assertion_type) {
            (None, None) => (None, None),
            (Some(_), None) => return Err(RequestError::Missing(CLIENT_ASSERTION_TYPE)),
            (None, Some(_)) => return Err(RequestError::Missing(CLIENT_ASSERTION)),
            (Some(a), Some(t)) => (
                Some(Jwt::new(a).map_err(|e| invalid(CLIENT_ASSERTION, e))?),
                Some(t.parse().map_err(|e| invalid(CLIENT_ASSERTION_TYPE, e))?),
            ),
        };
        Ok(Self { client_id, client_secret, client_assertion, client_assertion_type })
    }

    /// Whether no client authentication parameter is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.client_id.is_none()
            && self.client_secret.is_none()
            && self.client_assertion.is_none()
            && self.client_assertion_type.is_none()
    }

    fn push_form(&self, out: &mut Vec<(&'static str, String)>) {
        if let Some(v) = &self.client_id {
            out.push((CLIENT_ID, v.clone()));
        }
        if let Some(v) = &self.client_secret {
            out.push((CLIENT_SECRET, v.secret().to_owned()));
        }
        if let Some(v) = &self.client_assertion_type {
            out.push((CLIENT_ASSERTION_TYPE, v.as_str().to_owned()));
        }
        if let Some(v) = &self.client_assertion {
            out.push((CLIENT_ASSERTION, v.as_str().to_owned()));
        }
    }
}

// ---------------------------------------------------------------------------
// Backchannel authentication request (§7.1)
// ---------------------------------------------------------------------------

/// The `authorization_details` parameter (RFC 9396 §3, CIBA Core §7.1): the
/// text as received (what was sent, byte for byte) and its parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationDetailsParam {
    raw: String,
    details: AuthorizationDetails,
}

impl AuthorizationDetailsParam {
    /// Parses the parameter text.
    ///
    /// # Errors
    /// [`RarError`] from [`AuthorizationDetails::from_param`].
    pub fn parse(raw: String) -> Result<Self, RarError> {
        let details = AuthorizationDetails::from_param(&raw)?;
        Ok(Self { raw, details })
    }

    /// The parameter for details built in code (compact JSON).
    #[must_use]
    pub fn from_details(details: AuthorizationDetails) -> Self {
        Self { raw: details.to_param(), details }
    }

    /// The text as received.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed details.
    #[must_use]
    pub fn details(&self) -> &AuthorizationDetails {
        &self.details
    }
}

/// Largest `client_notification_token` (CIBA Core §7.1).
pub const MAX_CLIENT_NOTIFICATION_TOKEN_LEN: usize = 1024;

/// RFC 6750 §2.1 `b64token`: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+"
/// / "/" ) *"=".
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Strict positive integer: ASCII digits, no sign, no leading zero, fits u64.
fn parse_positive(s: &str) -> Option<NonZeroU64> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().and_then(NonZeroU64::new)
}

/// The CIBA Core §7.1 authentication parameters (all but client
/// authentication), from the form or from a verified request object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelAuthenticationParams {
    /// `scope` (REQUIRED). CIBA requests are OpenID requests when it contains
    /// [`OPENID`]; the server decides what to do without it.
    pub scope: Scope,
    /// `client_notification_token`: REQUIRED for ping and push (the server
    /// checks against the client's mode); RFC 6750 §2.1 syntax, at most 1024
    /// characters. Entropy (≥128 bits) cannot be checked here.
    pub client_notification_token: Option<ClientNotificationToken>,
    /// `acr_values`, in order of preference.
    pub acr_values: Option<AcrValues>,
    /// Exactly one of `login_hint_token`, `id_token_hint`, `login_hint`.
    pub hint: UserHint,
    /// `binding_message`.
    pub binding_message: Option<BindingMessage>,
    /// `user_code` (§7.1.2).
    pub user_code: Option<UserCode>,
    /// `requested_expiry`: positive integer, seconds.
    pub requested_expiry: Option<NonZeroU64>,
    /// `authorization_details` (RFC 9396 §3).
    pub authorization_details: Option<AuthorizationDetailsParam>,
}

impl BackchannelAuthenticationParams {
    fn build(get: &mut dyn FnMut(&'static str) -> Result<Option<String>, RequestError>) -> Result<Self, RequestError> {
        let scope = get(SCOPE)?.ok_or(RequestError::Missing(SCOPE))?;
        let scope = Scope::parse(&scope).map_err(|e| invalid(SCOPE, e))?;

        let client_notification_token = match get(CLIENT_NOTIFICATION_TOKEN)? {
            None => None,
            Some(t) if t.len() > MAX_CLIENT_NOTIFICATION_TOKEN_LEN => {
                return Err(invalid(CLIENT_NOTIFICATION_TOKEN, "longer than 1024 characters (CIBA Core section 7.1)"))
            }
            Some(t) if !is_b64token(&t) => {
                return Err(invalid(CLIENT_NOTIFICATION_TOKEN, "not RFC 6750 section 2.1 bearer token syntax"))
            }
            Some(t) => Some(ClientNotificationToken::new(t)),
        };

        let acr_values =
            get(ACR_VALUES)?.map(|v| AcrValues::parse(&v).map_err(|e| invalid(ACR_VALUES, e))).transpose()?;

        let hints = [
            (LOGIN_HINT_TOKEN, get(LOGIN_HINT_TOKEN)?),
            (ID_TOKEN_HINT, get(ID_TOKEN_HINT)?),
            (LOGIN_HINT, get(LOGIN_HINT)?),
        ];
        let present: Vec<&'static str> = hints.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| *n).collect();
        if present.len() > 1 {
            return Err(RequestError::SeveralHints(present));
        }
        let hint = match hints {
            [(_, Some(t)), _, _] => UserHint::LoginHintToken(t),
            [_, (_, Some(t)), _] => UserHint::IdTokenHint(Jwt::new(t).map_err(|e| invalid(ID_TOKEN_HINT, e))?),
            [_, _, (_, Some(h))] => UserHint::LoginHint(Hint::parse(&h).map_err(|e| invalid(LOGIN_HINT, e))?),
            _ => return Err(RequestError::NoHint),
        };

        let binding_message = get(BINDING_MESSAGE)?
            .map(|m| BindingMessage::new(m).map_err(|e| invalid(BINDING_MESSAGE, e)))
            .transpose()?;
        let user_code = get(USER_CODE)?.map(UserCode::new);
        let requested_expiry = get(REQUESTED_EXPIRY)?
            .map(|v| {
                parse_positive(&v).ok_or_else(|| invalid(REQUESTED_EXPIRY, "must be a positive integer (seconds)"))
            })
            .transpose()?;
        let authorization_details = get(AUTHORIZATION_DETAILS)?
            .map(|raw| AuthorizationDetailsParam::parse(raw).map_err(RequestError::AuthorizationDetails))
            .transpose()?;

        Ok(Self {
            scope,
            client_notification_token,
            acr_values,
            hint,
            binding_message,
            user_code,
            requested_expiry,
            authorization_details,
        })
    }

    /// Reads the parameters from the claims of a signed request object
    /// (CIBA Core §7.1.1) **after** the caller verified its signature and its
    /// `iss`, `aud`, `exp`, `iat`, `nbf` and `jti` (ignored here).
    ///
    /// Claims are JSON: strings, except `requested_expiry` (a number or a
    /// string) and `authorization_details` (a JSON array, RFC 9396 §3). A
    /// `null` or empty string counts as absent.
    ///
    /// # Errors
    /// [`RequestError::ClaimType`] (`invalid_request_object`) for a claim of
    /// the wrong JSON type; otherwise as the form.
    pub fn from_request_object(claims: &Map<String, Value>) -> Result<Self, RequestError> {
        Self::build(&mut |name| match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if name != AUTHORIZATION_DETAILS => Ok((!s.is_empty()).then(|| s.clone())),
            Some(Value::Number(n)) if name == REQUESTED_EXPIRY => Ok(Some(n.to_string())),
            Some(v @ Value::Array(_)) if name == AUTHORIZATION_DETAILS => {
                serde_json::to_string(v).map(Some).map_err(|e| invalid(AUTHORIZATION_DETAILS, e))
            }
            Some(_) => Err(RequestError::ClaimType {
                claim: name,
                expected: match name {
                    REQUESTED_EXPIRY => "a number or a string",
                    AUTHORIZATION_DETAILS => "a JSON array",
                    _ => "a string",
                },
            }),
        })
    }

    fn push_form(&self, out: &mut Vec<(&'static str, String)>) {
        out.push((SCOPE, self.scope.to_param()));
        if let Some(t) = &self.client_notification_token {
            out.push((CLIENT_NOTIFICATION_TOKEN, t.secret().to_owned()));
        }
        if let Some(a) = &self.acr_values {
            out.push((ACR_VALUES, a.to_param()));
        }
        out.push(self.hint.to_param());
        if let Some(m) = &self.binding_message {
            out.push((BINDING_MESSAGE, m.as_str().to_owned()));
        }
        if let Some(c) = &self.user_code {
            out.push((USER_CODE, c.secret().to_owned()));
        }
        if let Some(e) = self.requested_expiry {
            out.push((REQUESTED_EXPIRY, e.to_string()));
        }
        if let Some(d) = &self.authorization_details {
            out.push((AUTHORIZATION_DETAILS, d.raw().to_owned()));
        }
    }
}

/// What a backchannel authentication request carries besides client
/// authentication: plain parameters, or a signed request object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackchannelRequestBody {
    /// The §7.1 parameters, sent as form parameters.
    Params(Box<BackchannelAuthenticationParams>),
    /// `request` (§7.1.1): a signed JWT holding every parameter. Verify it,
    /// then read it with [`BackchannelAuthenticationParams::from_request_object`].
    Signed(Jwt),
}

/// A CIBA Core §7.1 backchannel authentication request
/// (`POST /bc-authorize`, form-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelAuthenticationRequest {
    /// Client authentication parameters from the body (kept apart: they are
    /// the only ones allowed next to a signed `request`).
    pub client_auth: ClientAuthParams,
    /// The request proper.
    pub body: BackchannelRequestBody,
}

impl BackchannelAuthenticationRequest {
    /// Parses decoded form pairs (e.g. `url::form_urlencoded::parse`).
    ///
    /// # Errors
    /// [`RequestError`]; use [`RequestError::error_code`] for the response.
    pub fn from_form<I, K, V>(pairs: I) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let known: Vec<&'static str> =
            AUTHENTICATION_PARAMS.iter().chain(&CLIENT_AUTH_PARAMS).chain(&[REQUEST]).copied().collect();
        let mut form = Form::collect(pairs, &known)?;
        let client_auth = ClientAuthParams::from_collected(&mut form)?;
        let body = if let Some(request) = form.take(REQUEST) {
            let outside: Vec<&'static str> =
                AUTHENTICATION_PARAMS.iter().copied().filter(|p| form.0.contains_key(p)).collect();
            if !outside.is_empty() {
                return Err(RequestError::OutsideRequestObject(outside));
            }
            let jwt = Jwt::new(request).map_err(|e| invalid(REQUEST, e))?;
            if !jwt.is_jws() {
                return Err(invalid(REQUEST, "must be a signed JWT (JWS), not a JWE"));
            }
            BackchannelRequestBody::Signed(jwt)
        } else {
            BackchannelRequestBody::Params(Box::new(BackchannelAuthenticationParams::build(&mut |name| {
                Ok(form.take(name))
            })?))
        };
        Ok(Self { client_auth, body })
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// As [`Self::from_form`].
    pub fn from_urlencoded(body: &str) -> Result<Self, RequestError> {
        Self::from_form(decode_form(body))
    }

    /// The form pairs to send (client authentication first).
    #[must_use]
    pub fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        self.client_auth.push_form(&mut out);
        match &self.body {
            BackchannelRequestBody::Params(p) => p.push_form(&mut out),
            BackchannelRequestBody::Signed(jwt) => out.push((REQUEST, jwt.as_str().to_owned())),
        }
        out
    }

    /// The `application/x-www-form-urlencoded` body to send.
    #[must_use]
    pub fn to_urlencoded(&self) -> String {
        urlencode(&self.to_form())
    }
}

/// CIBA Core §7.3 successful acknowledgement (HTTP 200, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackchannelAuthenticationResponse {
    /// REQUIRED. ≥128 bits, 160 recommended (see
    /// [`crate::secret::AUTH_REQ_ID_BYTES`]).
    pub auth_req_id: AuthReqId,
    /// REQUIRED. Seconds until `auth_req_id` expires.
    pub expires_in: u64,
    /// OPTIONAL, poll and ping only: minimum seconds between token requests
    /// (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
}

/// The CIBA Core §7.3 default polling interval, in seconds.
pub const DEFAULT_INTERVAL: u64 = 5;

// ---------------------------------------------------------------------------
// Token request and response (§10.1)
// ---------------------------------------------------------------------------

/// CIBA Core §10.1 token request: `grant_type=urn:openid:params:grant-type:ciba`
/// and `auth_req_id`, plus client authentication. The grant type is implied
/// by the type ([`Self::GRANT_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaTokenRequest {
    /// Client authentication parameters from the body.
    pub client_auth: ClientAuthParams,
    /// `auth_req_id` from the §7.3 acknowledgement.
    pub auth_req_id: AuthReqId,
}

impl CibaTokenRequest {
    /// The grant type of every CIBA token request.
    pub const GRANT_TYPE: GrantType = GrantType::Ciba;

    /// Parses decoded form pairs.
    ///
    /// # Errors
    /// [`RequestError`]: `Missing("grant_type")`, `UnsupportedGrantType` for
    /// any other grant (`unsupported_grant_type`), `Missing("auth_req_id")`,
    /// duplicates and client authentication errors (`invalid_request`).
    pub fn from_form<I, K, V>(pairs: I) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let known = [GRANT_TYPE, AUTH_REQ_ID, CLIENT_ID, CLIENT_SECRET, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE];
        let mut form = Form::collect(pairs, &known)?;
        let grant = form.take(GRANT_TYPE).ok_or(RequestError::Missing(GRANT_TYPE))?;
        let grant: GrantType = grant.parse().map_err(|e| invalid(GRANT_TYPE, e))?;
        if grant != GrantType::Ciba {
            return Err(RequestError::UnsupportedGrantType(grant));
        }
        let client_auth = ClientAuthParams::from_collected(&mut form)?;
        let auth_req_id = form.take(AUTH_REQ_ID).map(AuthReqId::new).ok_or(RequestError::Missing(AUTH_REQ_ID))?;
        Ok(Self { client_auth, auth_req_id })
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// As [`Self::from_form`].
    pub fn from_urlencoded(body: &str) -> Result<Self, RequestError> {
        Self::from_form(decode_form(body))
    }

    /// The form pairs to send.
    #[must_use]
    pub fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (GRANT_TYPE, Self::GRANT_TYPE.as_str().to_owned()),
            (AUTH_REQ_ID, self.auth_req_id.secret().to_owned()),
        ];
        self.client_auth.push_form(&mut out);
        out
    }

    /// The `application/x-www-form-urlencoded` body to send.
    #[must_use]
    pub fn to_urlencoded(&self) -> String {
        urlencode(&self.to_form())
    }
}

/// Successful token response (CIBA Core §10.1.1 = OIDC Core §3.1.3.3,
/// RFC 6749 §5.1), with RFC 9396 §7 `authorization_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: AccessToken,
    /// `token_type`, `Bearer` (or `DPoP`).
    pub token_type: TokenType,
    /// `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// `expires_in`, seconds (always sent by Countersign).
    pub expires_in: u64,
    /// `id_token` (OIDC; in push mode it carries `at_hash`,
    /// `urn:openid:params:jwt:claim:auth_req_id`, and `rt_hash` with a
    /// refresh token, CIBA Core §10.3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Jwt>,
    /// `scope` granted, when it differs from the request (RFC 6749 §5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `authorization_details` as granted (RFC 9396 §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<AuthorizationDetails>,
}

// ---------------------------------------------------------------------------
// Callbacks (§10.2, §10.3.1, §12)
// ---------------------------------------------------------------------------

/// CIBA Core §10.2 ping callback body: only `auth_req_id`. POSTed with
/// `Authorization: Bearer <client_notification_token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingCallback {
    /// The request that completed.
    pub auth_req_id: AuthReqId,
}

/// CIBA Core §10.3.1 push success body: the token response plus
/// `auth_req_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSuccessCallback {
    /// The request that completed.
    pub auth_req_id: AuthReqId,
    /// The tokens.
    #[serde(flatten)]
    pub token: TokenResponse,
}

/// What a push-mode client notification endpoint receives: tokens (§10.3.1)
/// or an error (§12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushCallback {
    /// §10.3.1.
    Success(Box<PushSuccessCallback>),
    /// §12.
    Error(crate::error::PushErrorResponse),
}

impl PushCallback {
    /// Parses a push body: an `error` member makes it a §12 error payload.
    ///
    /// # Errors
    /// The serde_json error of the chosen shape.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        let probe: Map<String, Value> = serde_json::from_str(body)?;
        if probe.contains_key("error") {
            serde_json::from_str(body).map(PushCallback::Error)
        } else {
            serde_json::from_str(body).map(|s| PushCallback::Success(Box::new(s)))
        }
    }

    /// The request this callback is about.
    #[must_use]
    pub fn auth_req_id(&self) -> &AuthReqId {
        match self {
            PushCallback::Success(s) => &s.auth_req_id,
            PushCallback::Error(e) => e.auth_req_id(),
        }
    }
}

impl Serialize for PushCallback {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PushCallback::Success(v) => v.serialize(s),
            PushCallback::Error(v) => v.serialize(s),
        }
    }
}
