//! Test support for the device channel's tests: its documents
//! (`testdata/device/`), the examples among them as they parse or with a
//! change, and a table of tests over changed example claims.
#![allow(dead_code, unused_macros)]

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The text of `testdata/device/{path}`.
pub fn device_file(path: &str) -> String {
    let full = format!("{}/testdata/device/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// The example `testdata/device/examples/{name}`, parsed as `T`.
pub fn example<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&device_file(&format!("examples/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The example `{name}` with `change` made to its JSON, parsed as `T`.
///
/// # Errors
/// The changed JSON is not a `T`.
pub fn changed_example<T: DeserializeOwned>(
    name: &str,
    change: impl FnOnce(&mut Value),
) -> Result<T, serde_json::Error> {
    let mut v: Value = example(name);
    change(&mut v);
    serde_json::from_value(v)
}

/// One test per row `name: |c| change => expected,`: the claims `$example()`
/// gives, changed, then `$validate(&c)` equals `expected` (or, for
/// `=> matches pattern,`, matches `pattern`).
macro_rules! changed_claims {
    ($example:ident, $validate:ident;) => {};
    ($example:ident, $validate:ident; $test:ident: |$c:ident| $change:expr => matches $want:pat, $($rest:tt)*) => {
        #[test]
        fn $test() {
            let mut $c = $example();
            $change;
            assert!(matches!($validate(&$c), $want));
        }
        changed_claims!($example, $validate; $($rest)*);
    };
    ($example:ident, $validate:ident; $test:ident: |$c:ident| $change:expr => $want:expr, $($rest:tt)*) => {
        #[test]
        fn $test() {
            let mut $c = $example();
            $change;
            assert_eq!($validate(&$c), $want);
        }
        changed_claims!($example, $validate; $($rest)*);
    };
}
