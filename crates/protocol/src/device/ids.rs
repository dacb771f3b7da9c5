//! Identifiers and hashes of the device channel, each its own type.

use crate::jws::b64url_decode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier, hash or issuer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Length outside the allowed range.
    #[error("{kind} must be {min} to {max} characters, got {len}")]
    Length {
        /// Which type.
        kind: &'static str,
        /// Minimum length.
        min: usize,
        /// Maximum length.
        max: usize,
        /// Length found.
        len: usize,
    },
    /// A character outside `A-Z a-z 0-9 - . _ ~` (RFC 3986 unreserved).
    #[error("{kind} may only contain A-Z a-z 0-9 - . _ ~")]
    Charset {
        /// Which type.
        kind: &'static str,
    },
    /// Not the base64url of a SHA-256 digest (43 characters, 32 bytes).
    #[error("{kind} must be the unpadded base64url of 32 bytes")]
    NotSha256 {
        /// Which type.
        kind: &'static str,
    },
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// What every string newtype here has: `TryFrom<String>` through its
/// checking `new`, `From<Self> for String`, `Display`.
macro_rules! string_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        #[cfg(feature = "ts")]
        $crate::ts_inline!($name => "string");
    };
}

macro_rules! token_type {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$meta])*
        ///
        /// Characters: RFC 3986 unreserved (`A-Z a-z 0-9 - . _ ~`), so it can
        /// sit in a URL path unescaped.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Shortest accepted value.
            pub const MIN_LEN: usize = $min;
            /// Longest accepted value.
            pub const MAX_LEN: usize = $max;

            /// Checks and wraps a value.
            ///
            /// # Errors
            /// [`IdError`] for a wrong length or character.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let len = value.len();
                if !($min..=$max).contains(&len) {
                    return Err(IdError::Length { kind: stringify!($name), min: $min, max: $max, len });
                }
                if !value.bytes().all(is_unreserved) {
                    return Err(IdError::Charset { kind: stringify!($name) });
                }
                Ok(Self(value))
            }

            /// The value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype!($name);
    };
}

token_type!(
    /// Server-assigned identifier of an enrolled device (`device_id`; the
    /// `kid` and `iss` of every JWS the device signs).
    DeviceId,
    1,
    128
);
token_type!(
    /// Identifier of an approval request (`id`, `request_id`).
    RequestId,
    1,
    128
);
token_type!(
    /// Server nonce of a request: at least 128 random bits, base64url
    /// (so at least 22 characters).
    Nonce,
    22,
    256
);
token_type!(
    /// JWT ID (`jti`): at least 128 random bits, base64url.
    Jti,
    22,
    256
);
token_type!(
    /// SSE event id (`id:` line, `Last-Event-ID` header).
    EventId,
    1,
    128
);
token_type!(
    /// Identifier of a grant (the tokens issued for one approved request).
    GrantId,
    1,
    128
);

impl Jti {
    /// 16 random bytes (128 bits) from the system RNG, base64url.
    ///
    /// # Errors
    /// The RNG failed.
    pub fn generate() -> Result<Self, ring::error::Unspecified> {
        let s = crate::secret::generate_url_safe(16)?;
        Self::new(s).map_err(|_| ring::error::Unspecified)
    }
}

macro_rules! hash_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Always 43 characters of unpadded base64url decoding to 32 bytes.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a base64url SHA-256 value.
            ///
            /// # Errors
            /// [`IdError::NotSha256`].
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                match b64url_decode(&value) {
                    Ok(bytes) if bytes.len() == 32 => Ok(Self(value)),
                    _ => Err(IdError::NotSha256 { kind: stringify!($name) }),
                }
            }

            /// `base64url(SHA-256(bytes))`.
            #[must_use]
            pub fn digest(bytes: &[u8]) -> Self {
                Self(crate::jcs::sha256_b64url(bytes))
            }

            /// The base64url text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_newtype!($name);
    };
}

hash_type!(
    /// `statement_hash` = base64url(SHA-256(JCS(approval statement))).
    StatementHash
);
hash_type!(
    /// SHA-256 of the JCS form of a display schema document, base64url.
    SchemaHash
);

impl SchemaHash {
    /// The hash of a display schema document: `base64url(SHA-256(JCS(schema)))`,
    /// with the strict number rule.
    ///
    /// # Errors
    /// The schema breaks [`crate::jcs::check_value`].
    pub fn of_schema(schema: &serde_json::Value) -> Result<Self, crate::jcs::JcsError> {
        Ok(Self::digest(&crate::jcs::canonicalize_strict(schema)?))
    }

    /// The hash used for a type rendered without a display schema: the hash
    /// of the empty schema `{}`.
    #[must_use]
    pub fn of_no_schema() -> Self {
        Self::digest(b"{}")
    }
}
