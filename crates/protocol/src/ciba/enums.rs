//! The OAuth strings CIBA carries as enums: grant types, token delivery
//! modes, token types, client assertion types.

use serde::{Deserialize, Deserializer};
use std::str::FromStr;

use crate::wire::EmptyValue;

/// String enum with an `Extension(String)` fallback, parsed with `eq`
/// (exact or case-insensitive). An empty string is refused (`crate::wire`).
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

        // The empty-string rule (`crate::wire`).
        const _: () = assert!($crate::wire::no_empty_wire(&[$($wire),*]), "a wire value must not be empty");

        impl FromStr for $name {
            type Err = EmptyValue;
            fn from_str(s: &str) -> Result<Self, EmptyValue> {
                let s = $crate::wire::non_empty(s)?;
                let eq: fn(&str, &str) -> bool = $eq;
                $( if eq(s, $wire) { return Ok($name::$variant); } )*
                Ok($name::Extension(s.to_owned()))
            }
        }

        $crate::wire::as_wire_str!($name);

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
