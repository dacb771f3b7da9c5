//! TypeScript declarations of the types the desktop UI receives (feature
//! `ts`). The UI's `generated.ts` is written from them by the desktop's test
//! `src-tauri/ts_types.rs`, so the UI's types cannot drift from what Rust
//! sends. Types whose serde form is written by hand (the wire enums and the
//! string newtypes) get their `TS` impl from the macros below; the rest
//! derive it.

#[doc(hidden)]
pub use ts_rs;

/// `impl TS` for a type serialized as the TypeScript type `$ts`, written
/// inline wherever it is used (never declared): string newtypes, hashes.
#[macro_export]
#[doc(hidden)]
macro_rules! ts_inline {
    ($ty:ty => $ts:literal) => {
        impl $crate::ts::ts_rs::TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &$crate::ts::ts_rs::Config) -> String {
                $ts.to_owned()
            }
            fn inline(_: &$crate::ts::ts_rs::Config) -> String {
                $ts.to_owned()
            }
        }
    };
}

/// `impl TS` for a string enum: declared as the union of its wire values.
/// An open enum (one with `Extension(String)`) is written
/// `Name | (string & {})` where it is used: a newer peer's value still
/// type-checks, and the UI must handle it.
#[macro_export]
#[doc(hidden)]
macro_rules! ts_string_enum {
    ($name:ident, [$($wire:literal),+], $open:literal) => {
        impl $crate::ts::ts_rs::TS for $name {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn ident(_: &$crate::ts::ts_rs::Config) -> String {
                stringify!($name).to_owned()
            }
            fn name(_: &$crate::ts::ts_rs::Config) -> String {
                if $open {
                    concat!(stringify!($name), " | (string & {})").to_owned()
                } else {
                    stringify!($name).to_owned()
                }
            }
            fn inline(_: &$crate::ts::ts_rs::Config) -> String {
                [$(concat!("\"", $wire, "\"")),+].join(" | ")
            }
            fn decl(cfg: &$crate::ts::ts_rs::Config) -> String {
                format!("type {} = {};", stringify!($name), <Self as $crate::ts::ts_rs::TS>::inline(cfg))
            }
            fn decl_concrete(cfg: &$crate::ts::ts_rs::Config) -> String {
                <Self as $crate::ts::ts_rs::TS>::decl(cfg)
            }
        }
    };
}
