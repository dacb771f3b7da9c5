//! The one empty-string rule of the three wire-enum macros: `wire_enum!`
//! (`ciba`), `registered_enum!` (`device::registered`) and `error_codes!`
//! (`error`).
//!
//! The empty string is not a protocol value:
//! - no variant's wire string is empty (each macro asserts
//!   [`no_empty_wire`] at compile time), so `""` never parses as a variant;
//! - text read from a peer (`FromStr`, `Deserialize`, a closed set's
//!   `parse`) is refused when empty ([`non_empty`]), never kept as
//!   `Extension("")`: the registries these enums mirror define values of one
//!   or more characters, and `Extension` is for a newer peer's value, not a
//!   missing one.
//!
//! The infallible `From<&str>`/`From<String>` of open `registered_enum!`
//! types take text the program already holds (stored rows); they cannot
//! refuse, so they keep it verbatim.

/// An empty string where a protocol value is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("empty value")]
pub struct EmptyValue;

/// The rule for text read from a peer: `""` is refused.
///
/// # Errors
/// [`EmptyValue`] for the empty string.
pub(crate) fn non_empty(s: &str) -> Result<&str, EmptyValue> {
    if s.is_empty() {
        Err(EmptyValue)
    } else {
        Ok(s)
    }
}

/// Whether every wire string is non-empty; asserted in a `const` by each
/// macro so a registered value can never be `""`.
pub(crate) const fn no_empty_wire(wires: &[&str]) -> bool {
    let mut i = 0;
    while i < wires.len() {
        if wires[i].is_empty() {
            return false;
        }
        i += 1;
    }
    true
}

/// `Display` and `Serialize` as the wire string (`as_str()`): what every
/// wire enum writes (or only one of them: `display`, `serialize`). With `new`, also `Deserialize` through the type's
/// checking `new(String)`, so text from a peer is checked the one way.
macro_rules! as_wire_str {
    ($name:ident) => {
        $crate::wire::as_wire_str!($name, display);
        $crate::wire::as_wire_str!($name, serialize);
    };
    ($name:ident, display) => {
        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($name:ident, serialize) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
    ($name:ident, serialize, new) => {
        $crate::wire::as_wire_str!($name, serialize);

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(<String as serde::Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use as_wire_str;

#[cfg(test)]
mod tests {
    use crate::ciba::{GrantType, TokenType};
    use crate::device::{Decision, Risk};
    use crate::error::ErrorCode;
    use crate::jws::JwtType;

    // One case per macro (and both `registered_enum!` forms).
    #[test]
    fn every_wire_enum_refuses_the_empty_string() {
        assert!("".parse::<GrantType>().is_err());
        assert!("".parse::<TokenType>().is_err());
        assert!("".parse::<ErrorCode>().is_err());
        assert!(serde_json::from_str::<GrantType>(r#""""#).is_err());
        assert!(serde_json::from_str::<ErrorCode>(r#""""#).is_err());
        assert!(serde_json::from_str::<Risk>(r#""""#).is_err());
        assert!(serde_json::from_str::<JwtType>(r#""""#).is_err());
        assert!(serde_json::from_str::<Decision>(r#""""#).is_err());
        assert_eq!(Decision::parse(""), None);
        // Infallible conversion keeps held text verbatim.
        assert_eq!(Risk::from(""), Risk::Extension(String::new()));
    }
}
