//! `registered_enum!`: string enums for registered protocol values.
//!
//! Each generated enum has one variant per registered value and, when asked,
//! an `Extension(String)` fallback so a newer peer's value still parses (the
//! receiver then decides what an unknown value means, usually "refuse" or
//! "treat as the strictest"). Parsing always maps a registered string to its
//! variant, so `Extension` only ever holds unregistered strings when built by
//! [`From<&str>`]/deserialization. Deserialization refuses an empty string
//! (the rule in `crate::wire`); `From<&str>` cannot fail and keeps it.

/// Defines a string enum. Forms:
/// - `registered_enum! { /// doc
///   pub enum Name { /// doc
///   Variant => "wire", ... } extension }` — with `Extension(String)`;
/// - the same without `extension` — a closed set (unknown values are
///   refused when deserializing).
macro_rules! registered_enum {
    // What both forms have: no empty wire value, the TypeScript type (open
    // or not), the list of registered variants, `Display` and `Serialize`.
    (@shared $name:ident, $open:literal, $($variant:ident => $wire:literal),+) => {
        // The empty-string rule (`crate::wire`).
        const _: () = assert!($crate::wire::no_empty_wire(&[$($wire),+]), "a wire value must not be empty");

        #[cfg(feature = "ts")]
        $crate::ts_string_enum!($name, [$($wire),+], $open);

        impl $name {
            /// Every registered variant (never `Extension`), in declaration order.
            pub const REGISTERED: &'static [$name] = &[$($name::$variant),+];
        }

        $crate::wire::as_wire_str!($name);
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        } extension
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know; kept verbatim.
            Extension(String),
        }

        registered_enum!(@shared $name, true, $($variant => $wire),+);

        impl $name {
            /// The wire string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Extension(s) => s.as_str(),
                }
            }

            /// `true` for `Extension` values.
            #[must_use]
            pub fn is_extension(&self) -> bool {
                matches!(self, $name::Extension(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Extension(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Extension(_) => $name::Extension(s),
                    known => known,
                }
            }
        }


        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                // The empty-string rule (`crate::wire`): "" is no value, not an extension.
                $crate::wire::non_empty(&s).map_err(serde::de::Error::custom)?;
                Ok($name::from(s))
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        registered_enum!(@shared $name, false, $($variant => $wire),+);

        impl $name {
            /// The wire string.
            #[must_use]
            pub fn as_str(&self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// Parses a wire string; `None` for anything else (closed set).
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some($name::$variant), )+
                    _ => None,
                }
            }
        }


        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::invalid_value(
                        serde::de::Unexpected::Str(&s),
                        &concat!("one of: ", $($wire, " "),+),
                    )
                })
            }
        }
    };
}

pub(crate) use registered_enum;
