//! OAuth error responses: one [`ErrorCode`] for every code Countersign sends
//! or receives, [`ErrorResponse`] (RFC 6749 §5.2 body) and
//! [`PushErrorResponse`] (CIBA Core §12 push error payload).
//!
//! HTTP status depends on the endpoint as well as the code (CIBA Core §13
//! answers `access_denied` with 403 at the backchannel authentication
//! endpoint; §11 answers it with 400 at the token endpoint), so
//! [`ErrorCode::http_status`] takes an [`Endpoint`].
//!
//! Rate limiting (HTTP 429) is not an OAuth error code: no spec registers one.
//! The server decides whether to answer 429 with `Retry-After` (and which body)
//! or `slow_down` / `invalid_request` where CIBA Core §11 defines them; nothing
//! here maps to 429.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::secret::AuthReqId;

/// The endpoint answering, which decides some HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// CIBA Core §7 backchannel authentication endpoint (`/bc-authorize`);
    /// errors per §13.
    BackchannelAuthentication,
    /// RFC 6749 §3.2 token endpoint; CIBA grant errors per CIBA Core §11.
    Token,
    /// RFC 7591 §3 client registration endpoint; errors per §3.2.2.
    Registration,
    /// A protected resource (RFC 6750 §3.1), including the admin API.
    Resource,
    /// RFC 7662 introspection endpoint (errors per RFC 6749 §5.2, §2.3).
    Introspection,
    /// RFC 7009 revocation endpoint (errors per RFC 6749 §5.2, §2.2.1).
    Revocation,
}

impl Endpoint {
    /// Every endpoint, for tests and tables.
    pub const ALL: &'static [Endpoint] = &[
        Endpoint::BackchannelAuthentication,
        Endpoint::Token,
        Endpoint::Registration,
        Endpoint::Resource,
        Endpoint::Introspection,
        Endpoint::Revocation,
    ];

    /// A stable snake_case name (used by the test vectors).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::BackchannelAuthentication => "backchannel_authentication",
            Endpoint::Token => "token",
            Endpoint::Registration => "registration",
            Endpoint::Resource => "resource",
            Endpoint::Introspection => "introspection",
            Endpoint::Revocation => "revocation",
        }
    }
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, $spec:literal; )*) => {
        /// An OAuth `error` code. Wire form via [`ErrorCode::as_str`],
        /// [`FromStr`] and serde (a plain string).
        ///
        /// Build [`ErrorCode::Extension`] with [`ErrorCode::extension`] or
        /// `parse`: they refuse illegal characters and never wrap a
        /// registered code.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// Any other code (RFC 6749 §8.5 extension error), e.g. received
            /// from another server.
            Extension(String),
        }

        // The empty-string rule (`crate::wire`); `FromStr` refuses "" via `check`.
        const _: () = assert!($crate::wire::no_empty_wire(&[$($wire),*]), "a wire value must not be empty");

        impl ErrorCode {
            /// Every registered (non-extension) code.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The wire string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Extension(s) => s,
                }
            }

            /// Where the code is defined (spec and section); `None` for
            /// extensions.
            #[must_use]
            pub fn spec(&self) -> Option<&'static str> {
                match self {
                    $( ErrorCode::$variant => Some($spec), )*
                    ErrorCode::Extension(_) => None,
                }
            }

            fn registered(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some(ErrorCode::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// Malformed or missing parameter, duplicate parameter (RFC 6749 §5.2,
    /// CIBA Core §11, §13; RFC 6750 §3.1).
    InvalidRequest = "invalid_request", "RFC 6749 §5.2; CIBA Core §11, §13; RFC 6750 §3.1";
    /// Client authentication failed (RFC 6749 §5.2, CIBA Core §13).
    InvalidClient = "invalid_client", "RFC 6749 §5.2; CIBA Core §13";
    /// Invalid, expired or another client's grant, e.g. `auth_req_id`
    /// (RFC 6749 §5.2, CIBA Core §11).
    InvalidGrant = "invalid_grant", "RFC 6749 §5.2; CIBA Core §11";
    /// Client not allowed this grant or mode (RFC 6749 §5.2, CIBA Core §11,
    /// §13).
    UnauthorizedClient = "unauthorized_client", "RFC 6749 §5.2; CIBA Core §11, §13";
    /// Grant type not supported (RFC 6749 §5.2).
    UnsupportedGrantType = "unsupported_grant_type", "RFC 6749 §5.2";
    /// Invalid, unknown or malformed scope (RFC 6749 §5.2, CIBA Core §13).
    InvalidScope = "invalid_scope", "RFC 6749 §5.2; CIBA Core §13";
    /// A redirect URI is invalid (RFC 7591 §3.2.2).
    InvalidRedirectUri = "invalid_redirect_uri", "RFC 7591 §3.2.2";
    /// A client metadata value is invalid (RFC 7591 §3.2.2).
    InvalidClientMetadata = "invalid_client_metadata", "RFC 7591 §3.2.2";
    /// The software statement is invalid (RFC 7591 §3.2.2).
    InvalidSoftwareStatement = "invalid_software_statement", "RFC 7591 §3.2.2";
    /// The software statement is not approved (RFC 7591 §3.2.2).
    UnapprovedSoftwareStatement = "unapproved_software_statement", "RFC 7591 §3.2.2";
    /// `authorization_details` refused (RFC 9396 §5, §8).
    InvalidAuthorizationDetails = "invalid_authorization_details", "RFC 9396 §5, §8";
    /// The requested resource (`audience`, `resource`) is invalid, missing,
    /// unknown or malformed (RFC 8707 §2, RFC 8693 §2.2.2).
    InvalidTarget = "invalid_target", "RFC 8707 §2";
    /// The user has not decided yet; keep polling (CIBA Core §11).
    AuthorizationPending = "authorization_pending", "CIBA Core §11";
    /// Polling too fast: add at least 5 s to the interval, for good (CIBA
    /// Core §11).
    SlowDown = "slow_down", "CIBA Core §11";
    /// The `auth_req_id` expired (CIBA Core §11, §12).
    ExpiredToken = "expired_token", "CIBA Core §11, §12";
    /// The user or the OP refused (CIBA Core §11, §12, §13).
    AccessDenied = "access_denied", "CIBA Core §11, §12, §13";
    /// `login_hint_token` expired (CIBA Core §13).
    ExpiredLoginHintToken = "expired_login_hint_token", "CIBA Core §13";
    /// The hint does not identify a known user (CIBA Core §13).
    UnknownUserId = "unknown_user_id", "CIBA Core §13";
    /// `user_code` required but missing (CIBA Core §13).
    MissingUserCode = "missing_user_code", "CIBA Core §13";
    /// `user_code` wrong (CIBA Core §13).
    InvalidUserCode = "invalid_user_code", "CIBA Core §13";
    /// `binding_message` refused (CIBA Core §13).
    InvalidBindingMessage = "invalid_binding_message", "CIBA Core §13";
    /// The OP could not complete the authentication (CIBA Core §12, push
    /// payload only).
    TransactionFailed = "transaction_failed", "CIBA Core §12";
    /// Bearer token missing, expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken = "invalid_token", "RFC 6750 §3.1";
    /// The token lacks the needed scope (RFC 6750 §3.1).
    InsufficientScope = "insufficient_scope", "RFC 6750 §3.1";
    /// The `request` object is invalid (OIDC Core §6.4; used by CIBA Core
    /// §7.1.1 implementations).
    InvalidRequestObject = "invalid_request_object", "OIDC Core §6.4; CIBA Core §7.1.1";
    /// Revocation of this token type is not supported (RFC 7009 §2.2.1).
    UnsupportedTokenType = "unsupported_token_type", "RFC 7009 §2.2.1";
    /// Unexpected server condition (RFC 6749 §4.1.2.1), HTTP 500.
    ServerError = "server_error", "RFC 6749 §4.1.2.1";
    /// Overloaded or in maintenance (RFC 6749 §4.1.2.1), HTTP 503; send
    /// `Retry-After` (CIBA Core §10.1 asks clients to honour it).
    TemporarilyUnavailable = "temporarily_unavailable", "RFC 6749 §4.1.2.1";
}

/// A string holds a character that RFC 6749 §5.2 does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllegalCharacter {
    /// The value is empty where RFC 6749 §5.2 needs `1*` characters.
    #[error("{field} must not be empty")]
    Empty {
        /// `error`, `error_description` or `error_uri`.
        field: &'static str,
    },
    /// A character outside the allowed set.
    #[error("{field} contains {ch:?} at byte {index}, not allowed by RFC 6749 §5.2")]
    Char {
        /// `error`, `error_description` or `error_uri`.
        field: &'static str,
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
}

/// RFC 6749 §5.2 `error` and `error_description`: %x20-21 / %x23-5B / %x5D-7E
/// (printable ASCII and space, without `"` and `\`).
#[must_use]
pub fn is_nqschar(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// RFC 6749 §5.2 `error_uri`: %x21 / %x23-5B / %x5D-7E (no space).
fn is_uri_char(c: char) -> bool {
    c != ' ' && is_nqschar(c)
}

fn check(field: &'static str, s: &str, ok: fn(char) -> bool) -> Result<(), IllegalCharacter> {
    // The empty-string rule (`crate::wire`), named after the field.
    crate::wire::non_empty(s).map_err(|_| IllegalCharacter::Empty { field })?;
    match s.char_indices().find(|&(_, c)| !ok(c)) {
        Some((index, ch)) => Err(IllegalCharacter::Char { field, ch, index }),
        None => Ok(()),
    }
}

/// Longest `error_description`, in characters: a description that quotes
/// input is cut there (with its full length said), so an error never echoes
/// unbounded input.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Makes any text a legal `error_description` (RFC 6749 §5.2: printable
/// ASCII except `"` and `\`) without losing what it says: `"` becomes `'`;
/// the escapes of `countersign_text` (`\u{XXXX}`, `\n`, `\r`, `\t`, `\\`)
/// and every other character outside the set (non-ASCII, controls, a lone
/// `\`) are written `<U+XXXX>`, so a lookalike letter or a bidi control in a
/// quoted name stays identifiable. Longer than [`MAX_DESCRIPTION_CHARS`], it
/// is cut and says so.
#[must_use]
pub fn sanitize_description(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION_CHARS));
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        // Counted in output characters (ASCII): an escape is six or more.
        if out.len() >= MAX_DESCRIPTION_CHARS {
            let _ = write!(out, "... (cut: {} characters in all)", text.chars().count());
            break;
        }
        if let Some((code, len)) = escape_at_start(rest) {
            let _ = write!(out, "<U+{code:04X}>");
            rest = &rest[len..];
        } else {
            match c {
                '"' => out.push('\''),
                c if is_nqschar(c) => out.push(c),
                c => {
                    let _ = write!(out, "<U+{:04X}>", u32::from(c));
                }
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The code point written by a `countersign_text` escape at the start of
/// `s`, and the escape's length in bytes.
fn escape_at_start(s: &str) -> Option<(u32, usize)> {
    let body = s.strip_prefix('\\')?;
    match body.chars().next()? {
        '\\' => Some((0x5C, 2)),
        'n' => Some((0x0A, 2)),
        'r' => Some((0x0D, 2)),
        't' => Some((0x09, 2)),
        'u' => {
            let hex = body.strip_prefix("u{")?;
            let end = hex.find('}')?;
            let digits = &hex[..end];
            if !(1..=6).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            Some((u32::from_str_radix(digits, 16).ok()?, end + 4))
        }
        _ => None,
    }
}

impl ErrorCode {
    /// An extension code (RFC 6749 §8.5), or the registered variant when `code`
    /// is a registered one.
    ///
    /// # Errors
    /// [`IllegalCharacter`] if `code` is empty or has a character outside
    /// RFC 6749 §5.2's set.
    pub fn extension(code: &str) -> Result<Self, IllegalCharacter> {
        code.parse()
    }

    /// HTTP status for this code at `endpoint`.
    ///
    /// - 401: `invalid_client` (RFC 6749 §5.2 allows 400 when no
    ///   `Authorization` header was used; Countersign always answers 401 and the
    ///   server adds `WWW-Authenticate`), `invalid_token` (RFC 6750 §3.1).
    /// - 403: `access_denied` at the backchannel endpoint (CIBA Core §13) and
    ///   at resources; `insufficient_scope` (RFC 6750 §3.1).
    /// - 500 `server_error`, 503 `temporarily_unavailable`.
    /// - 400 otherwise, including `access_denied` at the token endpoint (CIBA
    ///   Core §11), everything at registration (RFC 7591 §3.2.2), and
    ///   extensions. `transaction_failed` only travels in push payloads
    ///   (CIBA Core §12); 400 if ever sent in a response.
    #[must_use]
    pub fn http_status(&self, endpoint: Endpoint) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::AccessDenied => match endpoint {
                Endpoint::BackchannelAuthentication | Endpoint::Resource => 403,
                _ => 400,
            },
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether CIBA Core §12 allows the code in a push error payload.
    #[must_use]
    pub fn is_push_error(&self) -> bool {
        matches!(self, ErrorCode::AccessDenied | ErrorCode::ExpiredToken | ErrorCode::TransactionFailed)
    }
}

impl FromStr for ErrorCode {
    type Err = IllegalCharacter;
    fn from_str(s: &str) -> Result<Self, IllegalCharacter> {
        if let Some(code) = Self::registered(s) {
            return Ok(code);
        }
        check("error", s, is_nqschar)?;
        Ok(ErrorCode::Extension(s.to_owned()))
    }
}

crate::wire::as_wire_str!(ErrorCode, display);

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let ErrorCode::Extension(code) = self {
            check("error", code, is_nqschar).map_err(serde::ser::Error::custom)?;
        }
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// RFC 6749 §5.2 error response body (also CIBA Core §11, §13, RFC 7591
/// §3.2.2). `error_description` and `error_uri` are always RFC 6749-legal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorResponse {
    error: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_uri: Option<String>,
}

impl ErrorResponse {
    /// An error with no description.
    #[must_use]
    pub fn new(error: ErrorCode) -> Self {
        Self { error, error_description: None, error_uri: None }
    }

    /// Adds a description, refusing any RFC 6749 §5.2-illegal character.
    ///
    /// # Errors
    /// [`IllegalCharacter`] naming the first bad character (or empty text).
    pub fn try_with_description(mut self, description: &str) -> Result<Self, IllegalCharacter> {
        check("error_description", description, is_nqschar)?;
        self.error_description = Some(description.to_owned());
        Ok(self)
    }

    /// Adds an `error_uri`.
    ///
    /// # Errors
    /// [`IllegalCharacter`] if `uri` is empty or has a character outside
    /// %x21 / %x23-5B / %x5D-7E (RFC 6749 §5.2).
    pub fn with_uri(mut self, uri: &str) -> Result<Self, IllegalCharacter> {
        check("error_uri", uri, is_uri_char)?;
        self.error_uri = Some(uri.to_owned());
        Ok(self)
    }

    /// The URI, if any.
    #[must_use]
    pub fn error_uri(&self) -> Option<&str> {
        self.error_uri.as_deref()
    }

    /// HTTP status at `endpoint` ([`ErrorCode::http_status`]).
    #[must_use]
    pub fn http_status(&self, endpoint: Endpoint) -> u16 {
        self.error.http_status(endpoint)
    }
}

/// What both error bodies have: the code, and a description made legal
/// with [`sanitize_description`].
macro_rules! code_and_description {
    ($name:ident) => {
        impl $name {
            /// Adds a description made legal with [`sanitize_description`] (an
            /// empty one is dropped).
            #[must_use]
            pub fn with_description(mut self, description: &str) -> Self {
                self.error_description = Some(sanitize_description(description)).filter(|d| !d.is_empty());
                self
            }

            /// The code.
            #[must_use]
            pub fn error(&self) -> &ErrorCode {
                &self.error
            }

            /// The description, if any.
            #[must_use]
            pub fn error_description(&self) -> Option<&str> {
                self.error_description.as_deref()
            }
        }
    };
}

code_and_description!(ErrorResponse);
code_and_description!(PushErrorResponse);

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.as_str())?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorResponse {}

impl From<ErrorCode> for ErrorResponse {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

impl From<crate::rar::RarError> for ErrorResponse {
    /// RFC 9396 §5: `invalid_authorization_details`, the parse error as
    /// description.
    fn from(e: crate::rar::RarError) -> Self {
        Self::new(ErrorCode::InvalidAuthorizationDetails).with_description(&e.to_string())
    }
}

#[derive(Deserialize)]
struct RawErrorResponse {
    error: ErrorCode,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_uri: Option<String>,
}

impl<'de> Deserialize<'de> for ErrorResponse {
    /// Lenient on `error_description` (sanitized, as other servers send
    /// non-ASCII text), strict on `error` and `error_uri`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawErrorResponse::deserialize(d)?;
        let mut out = Self::new(raw.error);
        if let Some(desc) = raw.error_description {
            out = out.with_description(&desc);
        }
        if let Some(uri) = raw.error_uri {
            out = out.with_uri(&uri).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

/// The code is not one CIBA Core §12 allows in a push error payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a push error code (CIBA Core §12 allows access_denied, expired_token, transaction_failed)")]
pub struct NotAPushError(pub ErrorCode);

/// CIBA Core §12 push error payload, POSTed to the client notification
/// endpoint in push mode. `error` is `access_denied`, `expired_token` or
/// `transaction_failed` (checked by every constructor and by `Deserialize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushErrorResponse {
    error: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
    auth_req_id: AuthReqId,
}

impl PushErrorResponse {
    /// A push error for `auth_req_id`.
    ///
    /// # Errors
    /// [`NotAPushError`] for any other code than the three of §12.
    pub fn new(error: ErrorCode, auth_req_id: AuthReqId) -> Result<Self, NotAPushError> {
        if !error.is_push_error() {
            return Err(NotAPushError(error));
        }
        Ok(Self { error, error_description: None, auth_req_id })
    }

    /// The request this error ends.
    #[must_use]
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }
}

#[derive(Deserialize)]
struct RawPushError {
    error: ErrorCode,
    #[serde(default)]
    error_description: Option<String>,
    auth_req_id: AuthReqId,
}

impl<'de> Deserialize<'de> for PushErrorResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawPushError::deserialize(d)?;
        let mut out = Self::new(raw.error, raw.auth_req_id).map_err(serde::de::Error::custom)?;
        if let Some(desc) = raw.error_description {
            out = out.with_description(&desc);
        }
        Ok(out)
    }
}
