//! JSON Canonicalization Scheme (RFC 8785) and the strict reader for
//! untrusted protocol JSON.
//!
//! Two layers, kept apart on purpose:
//! - [`canonicalize`] is pure RFC 8785 over an already-built [`Value`]
//!   (via `serde_json_canonicalizer`, which passes the official vectors in
//!   `testdata/jcs/`).
//! - [`parse_strict`] and [`check_value`] are Countersign's I-JSON profile
//!   (RFC 7493) for anything that gets hashed or signed: no duplicate object
//!   names at any depth, no number whose magnitude may exceed 2^53−1
//!   (`Number.MAX_SAFE_INTEGER`), nesting at most [`MAX_DEPTH`]. Such input is
//!   refused, never rounded or silently de-duplicated.
//!
//! Number rule, precisely: an integer (a number written without fraction or
//! exponent) is accepted when `|n| ≤ 2^53−1`, compared exactly. A number
//! written with a fraction or an exponent is accepted when its parsed value
//! satisfies `|n| < 2^53−1`: rounding to the nearest double is monotonic, so
//! any text whose exact value exceeds 2^53−1 parses to a double `≥ 2^53−1`
//! and is refused; the only cost is refusing fractional texts in
//! `(2^53−1.5, 2^53−1]`, which no protocol message needs (amounts are
//! strings).
//!
//! Paths in errors are JSON Pointers (RFC 6901); the root is `""`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// `Number.MAX_SAFE_INTEGER` = 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Deepest nesting of arrays and objects accepted (the root container is
/// depth 1).
pub const MAX_DEPTH: usize = 64;

// 2^53 − 1 is exactly representable as f64.
const MAX_SAFE_F64: f64 = 9_007_199_254_740_991.0;

/// Why a JSON text or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// The same object member name appears twice in one object.
    #[error("duplicate key \"{}\" at {}", quote(.key), display_path(.path))]
    DuplicateKey {
        /// The repeated name.
        key: String,
        /// JSON Pointer of the repeated member (object path + name).
        path: String,
    },
    /// A number whose magnitude exceeds (or may exceed) 2^53−1.
    #[error("number {} at {} is beyond +/-(2^53-1)", quote(.number), display_path(.path))]
    NumberOutOfRange {
        /// The number as written in the input (as parsed when the value was
        /// built in code).
        number: String,
        /// JSON Pointer of the number.
        path: String,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {max} levels at {}", display_path(.path))]
    TooDeep {
        /// The limit.
        max: usize,
        /// JSON Pointer of the container that crossed it.
        path: String,
    },
    /// Not JSON (syntax, encoding, trailing characters, lone surrogates…).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The canonicalizer refused the value.
    #[error("cannot canonicalize: {0}")]
    Canonicalize(String),
    /// A value could not be turned into JSON (a `Serialize` impl failed).
    #[error("cannot serialize to JSON: {0}")]
    Serialize(String),
}

/// Most characters of a member name, path or number an error quotes.
pub const MAX_QUOTED_CHARS: usize = 64;

/// Untrusted text quoted in an error: escaped (`countersign_text`'s one
/// grammar, so nothing hidden and nothing reordered) and bounded to
/// [`MAX_QUOTED_CHARS`], with its length when cut.
pub(crate) fn quote(text: &str) -> String {
    countersign_text::excerpt(text, countersign_text::Context::Identifier, MAX_QUOTED_CHARS)
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the root".to_owned()
    } else {
        format!("\"{}\"", quote(path))
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => {
                for c in k.chars() {
                    match c {
                        '~' => out.push_str("~0"),
                        '/' => out.push_str("~1"),
                        c => out.push(c),
                    }
                }
            }
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

fn check_number(n: &Number, path: &[Seg]) -> Result<(), JcsError> {
    let ok = if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else if let Some(f) = n.as_f64() {
        f.is_finite() && f.abs() < MAX_SAFE_F64
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(JcsError::NumberOutOfRange { number: n.to_string(), path: pointer(path) })
    }
}

struct State {
    path: Vec<Seg>,
    error: Option<(JcsError, Vec<Seg>)>,
}

impl State {
    fn fail<E: de::Error>(&mut self, err: JcsError) -> E {
        let msg = err.to_string();
        self.error = Some((err, self.path.clone()));
        E::custom(msg)
    }
}

struct StrictSeed<'a> {
    state: &'a mut State,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl StrictSeed<'_> {
    fn number<E: de::Error>(self, n: Number) -> Result<Value, E> {
        match check_number(&n, &self.state.path) {
            Ok(()) => Ok(Value::Number(n)),
            Err(e) => Err(self.state.fail(e)),
        }
    }
    fn enter<E: de::Error>(&mut self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            let err = JcsError::TooDeep { max: MAX_DEPTH, path: pointer(&self.state.path) };
            return Err(self.state.fail(err));
        }
        Ok(depth)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.number(Number::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.number(Number::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match Number::from_f64(v) {
            Some(n) => self.number(n),
            None => {
                let err = JcsError::NumberOutOfRange { number: v.to_string(), path: pointer(&self.state.path) };
                Err(self.state.fail(err))
            }
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let mut out = Vec::new();
        loop {
            self.state.path.push(Seg::Index(out.len()));
            let next = seq.next_element_seed(StrictSeed { state: &mut *self.state, depth })?;
            self.state.path.pop();
            match next {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.enter()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.state.path.push(Seg::Key(key.clone()));
            if out.contains_key(&key) {
                let err = JcsError::DuplicateKey { key, path: pointer(&self.state.path) };
                return Err(self.state.fail(err));
            }
            let value = map.next_value_seed(StrictSeed { state: &mut *self.state, depth })?;
            self.state.path.pop();
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Deserializes one JSON value from any serde `Deserializer` with the same
/// rules as [`parse_strict`] (for `Deserialize` impls of wire types that hold
/// untrusted JSON, such as `authorization_details`).
///
/// # Errors
/// The deserializer's error, carrying the [`JcsError`] text.
pub fn deserialize_strict<'de, D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let mut state = State { path: Vec::new(), error: None };
    StrictSeed { state: &mut state, depth: 0 }.deserialize(d)
}

/// Parses untrusted protocol JSON: RFC 8259 syntax plus the rules in the
/// module documentation (no duplicate keys, safe numbers, depth ≤
/// [`MAX_DEPTH`]). Object member order is kept as written.
pub fn parse_strict(input: impl AsRef<[u8]>) -> Result<Value, JcsError> {
    let mut state = State { path: Vec::new(), error: None };
    let mut de = serde_json::Deserializer::from_slice(input.as_ref());
    let result = StrictSeed { state: &mut state, depth: 0 }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(match state.error.take() {
            // The number as the sender wrote it, not as it parsed (an f64
            // rounds `9007199254740993.0` to `9007199254740992.0`).
            Some((JcsError::NumberOutOfRange { number, path }, segs)) => {
                JcsError::NumberOutOfRange { number: raw::number_at(input.as_ref(), &segs).unwrap_or(number), path }
            }
            Some((other, _)) => other,
            None => JcsError::Syntax { line: e.line(), column: e.column(), message: e.to_string() },
        }),
    }
}

/// Finding a value's text in JSON that parsed up to it, for error messages.
mod raw {
    use super::Seg;

    struct Scan<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Scan<'_> {
        fn ws(&mut self) {
            while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
        }

        /// A string token, decoded.
        fn string(&mut self) -> Option<String> {
            self.ws();
            let start = self.i;
            if self.b.get(self.i) != Some(&b'"') {
                return None;
            }
            self.i += 1;
            loop {
                match self.b.get(self.i)? {
                    b'\\' => self.i += 2,
                    b'"' => {
                        self.i += 1;
                        return serde_json::from_slice(&self.b[start..self.i]).ok();
                    }
                    _ => self.i += 1,
                }
            }
        }

        /// A number or literal token, as written.
        fn scalar(&mut self) -> Option<&str> {
            self.ws();
            let start = self.i;
            while self.b.get(self.i).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')) {
                self.i += 1;
            }
            (self.i > start).then(|| std::str::from_utf8(&self.b[start..self.i]).ok()).flatten()
        }

        fn skip_value(&mut self) -> Option<()> {
            self.ws();
            match self.b.get(self.i)? {
                b'"' => self.string().map(|_| ()),
                b'{' | b'[' => {
                    let mut depth = 0usize;
                    loop {
                        match self.b.get(self.i)? {
                            b'"' => {
                                self.string()?;
                                continue;
                            }
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    self.i += 1;
                                    return Some(());
                                }
                            }
                            _ => {}
                        }
                        self.i += 1;
                    }
                }
                _ => self.scalar().map(|_| ()),
            }
        }
    }

    /// The text of the number at `path` in `input`.
    pub(super) fn number_at(input: &[u8], path: &[Seg]) -> Option<String> {
        let mut s = Scan { b: input, i: 0 };
        for seg in path {
            match seg {
                Seg::Key(key) => {
                    s.eat(b'{')?;
                    loop {
                        let name = s.string()?;
                        s.eat(b':')?;
                        if &name == key {
                            break;
                        }
                        s.skip_value()?;
                        s.eat(b',')?;
                    }
                }
                Seg::Index(n) => {
                    s.eat(b'[')?;
                    for _ in 0..*n {
                        s.skip_value()?;
                        s.eat(b',')?;
                    }
                }
            }
        }
        s.scalar().map(str::to_owned)
    }
}

/// Applies the number and depth rules of [`parse_strict`] to a value that is
/// already parsed or built in code (a [`Value`] cannot hold duplicate keys).
pub fn check_value(value: &Value) -> Result<(), JcsError> {
    fn walk(v: &Value, path: &mut Vec<Seg>, depth: usize) -> Result<(), JcsError> {
        match v {
            Value::Number(n) => check_number(n, path),
            Value::Array(items) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(JcsError::TooDeep { max: MAX_DEPTH, path: pointer(path) });
                }
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(item, path, depth + 1)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Object(map) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(JcsError::TooDeep { max: MAX_DEPTH, path: pointer(path) });
                }
                for (k, item) in map {
                    path.push(Seg::Key(k.clone()));
                    walk(item, path, depth + 1)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        }
    }
    walk(value, &mut Vec::new(), 0)
}

/// RFC 8785 canonical form of `value`, as UTF-8 bytes. Pure JCS: it applies
/// no Countersign rule (see [`canonicalize_strict`]).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| JcsError::Canonicalize(e.to_string()))
}

/// [`check_value`] then [`canonicalize`]: the form that is hashed and signed.
pub fn canonicalize_strict(value: &Value) -> Result<Vec<u8>, JcsError> {
    check_value(value)?;
    canonicalize(value)
}

/// Serializes `value` to JSON, then [`canonicalize_strict`].
pub fn canonicalize_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JcsError> {
    let v = serde_json::to_value(value).map_err(|e| JcsError::Serialize(e.to_string()))?;
    canonicalize_strict(&v)
}

/// `base64url(SHA-256(bytes))`, unpadded (43 characters).
pub fn sha256_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_number_is_quoted_as_written() {
        for (input, written) in [
            ("9007199254740993.0", "9007199254740993.0"),
            (r#"{"a": [1, {"b\"": "x"}, {"q": 1.5e300}]}"#, "1.5e300"),
            (r#"{"x": {"y": 1}, "amount": -90071992547409921}"#, "-90071992547409921"),
            (r#"[ 0 , 9007199254740992 ]"#, "9007199254740992"),
        ] {
            match parse_strict(input) {
                Err(JcsError::NumberOutOfRange { number, .. }) => assert_eq!(number, written, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        let e = parse_strict("9007199254740993.0").unwrap_err().to_string();
        assert_eq!(e, "number 9007199254740993.0 at the root is beyond +/-(2^53-1)");
        assert!(e.is_ascii());
    }

    #[test]
    fn errors_quote_a_bounded_escaped_prefix() {
        let key = "k".repeat(8193);
        let e = parse_strict(format!(r#"{{"{key}": 1, "{key}": 2}}"#)).unwrap_err().to_string();
        assert!(e.len() < 300, "{} bytes: {e}", e.len());
        assert!(e.contains("(8193 characters)") && e.starts_with("duplicate key \""), "{e}");
        let e = parse_strict(r#"{"a\u202eb": 1, "a\u202eb": 2}"#).unwrap_err().to_string();
        assert!(e.contains(r"a\u{202E}b"), "a bidi control in a key is shown escaped: {e}");
    }

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let p = pointer(&[Seg::Key("a/b~c".into()), Seg::Index(3)]);
        assert_eq!(p, "/a~1b~0c/3");
    }

    #[test]
    fn sha256_of_empty_is_known() {
        // SHA-256("") = e3b0c442…b855
        assert_eq!(sha256_b64url(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }
}
