//! RFC 9396 Rich Authorization Requests: the `authorization_details` parameter.
//!
//! An [`AuthorizationDetail`] keeps the whole JSON object as an ordered map, so
//! serializing a parsed detail gives back the same members in the same order
//! (the workspace enables serde_json `preserve_order`): what the agent sent is
//! what the user reads and what gets signed. The RFC 9396 §2 `type` and the
//! §2.2 common fields are checked at construction and read through typed
//! accessors; the object cannot be changed except through
//! [`AuthorizationDetail::insert`], which keeps those checks.
//!
//! Parsing is strict beyond RFC 9396: duplicate member names (at any depth) and
//! integers outside the I-JSON range ±(2^53−1) (RFC 7493 §2.2) are refused, so
//! every consumer (display, JCS hash, resource server) sees the same value.
//! Amounts are strings (RFC 9396 §2 examples use `"123.50"`).
//!
//! Errors map to `invalid_authorization_details` (RFC 9396 §5).

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Serde for a checked JSON wrapper: written as its inner JSON, read
/// strictly (duplicate members refused, `crate::jcs`) and checked by
/// `from_value`.
macro_rules! strict_json {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = crate::jcs::deserialize_strict(d)?;
                Self::from_value(value).map_err(de::Error::custom)
            }
        }
    };
}

/// Largest integer magnitude accepted (2^53 − 1, RFC 7493 §2.2).
pub use crate::jcs::MAX_SAFE_INTEGER;

/// Name of the required member (RFC 9396 §2).
pub const TYPE: &str = "type";
/// RFC 9396 §2.2 common data field: array of strings.
pub const LOCATIONS: &str = "locations";
/// RFC 9396 §2.2 common data field: array of strings.
pub const ACTIONS: &str = "actions";
/// RFC 9396 §2.2 common data field: array of strings.
pub const DATATYPES: &str = "datatypes";
/// RFC 9396 §2.2 common data field: string.
pub const IDENTIFIER: &str = "identifier";
/// RFC 9396 §2.2 common data field: array of strings.
pub const PRIVILEGES: &str = "privileges";

/// What is wrong with an `authorization_details` value. Every variant is an
/// `invalid_authorization_details` error (RFC 9396 §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RarError {
    /// The parameter is not JSON; the message is serde_json's, with line and
    /// column.
    #[error("authorization_details is not valid JSON: {0}")]
    Json(String),
    /// The parameter is valid JSON that the strict rules refuse (a duplicate
    /// member name, a number beyond 2^53-1, nesting deeper than 64): the
    /// message names which and where.
    #[error("authorization_details is refused: {0}")]
    Refused(String),
    /// RFC 9396 §2: the parameter must be a JSON array.
    #[error("authorization_details must be a JSON array of objects")]
    NotArray,
    /// The array is empty (nothing to authorize).
    #[error("authorization_details must not be an empty array")]
    Empty,
    /// RFC 9396 §2: each element must be a JSON object.
    #[error("authorization_details[{index}] is not a JSON object")]
    NotObject {
        /// Position in the array.
        index: usize,
    },
    /// A problem inside one element.
    #[error("authorization_details[{index}]: {error}")]
    Element {
        /// Position in the array.
        index: usize,
        /// What is wrong with it.
        error: DetailError,
    },
}

/// What is wrong with one authorization details object (RFC 9396 §2, §2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetailError {
    /// The value is not a JSON object.
    #[error("not a JSON object")]
    NotObject,
    /// RFC 9396 §2: `type` is REQUIRED.
    #[error("missing required field \"type\"")]
    MissingType,
    /// `type` is present but empty.
    #[error("field \"type\" must not be empty")]
    EmptyType,
    /// A field has the wrong JSON type (RFC 9396 §2, §2.2).
    #[error("field \"{field}\" must be {expected}")]
    WrongType {
        /// The field name.
        field: &'static str,
        /// What it must be, e.g. `"an array of strings"`.
        expected: &'static str,
    },
}

const STRING: &str = "a string";
const STRING_ARRAY: &str = "an array of strings";

/// One RFC 9396 §2 authorization details object, with its members in the
/// order received.
///
/// Invariants (checked by every constructor): `type` is a non-empty string;
/// `locations`, `actions`, `datatypes`, `privileges`, when present, are arrays
/// of strings; `identifier`, when present, is a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationDetail(Map<String, Value>);

fn check_field(key: &str, value: &Value) -> Result<(), DetailError> {
    let string_array = |field: &'static str| match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        _ => Err(DetailError::WrongType { field, expected: STRING_ARRAY }),
    };
    match key {
        TYPE => match value {
            Value::String(s) if s.is_empty() => Err(DetailError::EmptyType),
            Value::String(_) => Ok(()),
            _ => Err(DetailError::WrongType { field: TYPE, expected: STRING }),
        },
        LOCATIONS => string_array(LOCATIONS),
        ACTIONS => string_array(ACTIONS),
        DATATYPES => string_array(DATATYPES),
        PRIVILEGES => string_array(PRIVILEGES),
        IDENTIFIER => match value {
            Value::String(_) => Ok(()),
            _ => Err(DetailError::WrongType { field: IDENTIFIER, expected: STRING }),
        },
        _ => Ok(()),
    }
}

fn str_list(value: Option<&Value>) -> Option<Vec<&str>> {
    match value {
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

impl AuthorizationDetail {
    /// Validates an object (RFC 9396 §2, §2.2) and keeps it as is.
    ///
    /// # Errors
    /// [`DetailError`] naming the offending field.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, DetailError> {
        if !map.contains_key(TYPE) {
            return Err(DetailError::MissingType);
        }
        // Report `type` first, whatever its position.
        if let Some(t) = map.get(TYPE) {
            check_field(TYPE, t)?;
        }
        for (key, value) in &map {
            check_field(key, value)?;
        }
        Ok(Self(map))
    }

    /// Validates a JSON value. Duplicate member names are already gone from a
    /// [`Value`]; parse text with [`AuthorizationDetails::from_param`] or
    /// serde to have them refused.
    ///
    /// # Errors
    /// [`DetailError::NotObject`] or as [`Self::from_map`].
    pub fn from_value(value: Value) -> Result<Self, DetailError> {
        match value {
            Value::Object(map) => Self::from_map(map),
            _ => Err(DetailError::NotObject),
        }
    }

    /// A detail with only a `type` (RFC 9396 §2); add members with
    /// [`Self::insert`].
    ///
    /// # Errors
    /// [`DetailError::EmptyType`] if `r#type` is empty.
    pub fn new(r#type: impl Into<String>) -> Result<Self, DetailError> {
        let mut map = Map::new();
        map.insert(TYPE.to_owned(), Value::String(r#type.into()));
        Self::from_map(map)
    }

    /// Adds or replaces a member (e.g. AS enrichment, RFC 9396 §7.1). A new
    /// member goes last; a replaced one keeps its position.
    ///
    /// # Errors
    /// [`DetailError`] if the value breaks a §2/§2.2 rule; the detail is then
    /// unchanged.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Result<(), DetailError> {
        let key = key.into();
        check_field(&key, &value)?;
        self.0.insert(key, value);
        Ok(())
    }

    /// RFC 9396 §2 `type`.
    #[must_use]
    pub fn r#type(&self) -> &str {
        self.0.get(TYPE).and_then(Value::as_str).unwrap_or_default()
    }

    /// RFC 9396 §2.2 `locations`.
    #[must_use]
    pub fn locations(&self) -> Option<Vec<&str>> {
        str_list(self.0.get(LOCATIONS))
    }

    /// RFC 9396 §2.2 `actions`.
    #[must_use]
    pub fn actions(&self) -> Option<Vec<&str>> {
        str_list(self.0.get(ACTIONS))
    }

    /// RFC 9396 §2.2 `datatypes`.
    #[must_use]
    pub fn datatypes(&self) -> Option<Vec<&str>> {
        str_list(self.0.get(DATATYPES))
    }

    /// RFC 9396 §2.2 `identifier`.
    #[must_use]
    pub fn identifier(&self) -> Option<&str> {
        self.0.get(IDENTIFIER).and_then(Value::as_str)
    }

    /// RFC 9396 §2.2 `privileges`.
    #[must_use]
    pub fn privileges(&self) -> Option<Vec<&str>> {
        str_list(self.0.get(PRIVILEGES))
    }

    /// Any member by name, common or API-specific.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Members that are neither `type` nor a §2.2 common field, in order.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|(k, v)| {
            (![TYPE, LOCATIONS, ACTIONS, DATATYPES, IDENTIFIER, PRIVILEGES].contains(&k.as_str()))
                .then_some((k.as_str(), v))
        })
    }

    /// The whole object, members in the order received.
    #[must_use]
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The whole object.
    #[must_use]
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The object as a JSON value (a copy).
    #[must_use]
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

impl From<AuthorizationDetail> for Value {
    fn from(d: AuthorizationDetail) -> Self {
        Value::Object(d.0)
    }
}

impl TryFrom<Value> for AuthorizationDetail {
    type Error = DetailError;
    fn try_from(value: Value) -> Result<Self, DetailError> {
        Self::from_value(value)
    }
}

strict_json!(AuthorizationDetail);

/// The RFC 9396 §2 `authorization_details` array: every element a valid
/// [`AuthorizationDetail`], order kept. Non-empty as received from an agent
/// (the parameter refuses `[]`); empty only as [`AuthorizationDetails::none`],
/// the details of a scope-only request (sent without
/// `authorization_details`), which device messages, stored rows and grants
/// carry as `[]` (read back by [`Deserialize`] and
/// [`AuthorizationDetails::from_stored`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationDetails(Vec<AuthorizationDetail>);

// Opaque to the UI: each entry is shown through the display model.
#[cfg(feature = "ts")]
crate::ts_inline!(AuthorizationDetails => "Array<{ type: string } & Record<string, unknown>>");

impl AuthorizationDetails {
    /// Parses the `authorization_details` request parameter (RFC 9396 §3),
    /// i.e. the JSON text after form decoding.
    ///
    /// # Errors
    /// [`RarError`]: not JSON (or duplicate names, unsafe integers), not an
    /// array, empty, an element not an object, or an element breaking §2/§2.2
    /// (with its index).
    pub fn from_param(param: &str) -> Result<Self, RarError> {
        let value = crate::jcs::parse_strict(param).map_err(|e| match e {
            crate::jcs::JcsError::Syntax { .. } => RarError::Json(e.to_string()),
            other => RarError::Refused(other.to_string()),
        })?;
        Self::from_value(value)
    }

    /// Validates an already parsed JSON value.
    ///
    /// # Errors
    /// As [`Self::from_param`], except JSON syntax.
    pub fn from_value(value: Value) -> Result<Self, RarError> {
        let Value::Array(items) = value else {
            return Err(RarError::NotArray);
        };
        if items.is_empty() {
            return Err(RarError::Empty);
        }
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::Object(map) => {
                    AuthorizationDetail::from_map(map).map_err(|error| RarError::Element { index, error })
                }
                _ => Err(RarError::NotObject { index }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Wraps details built in code.
    ///
    /// # Errors
    /// [`RarError::Empty`] if `details` is empty.
    pub fn new(details: Vec<AuthorizationDetail>) -> Result<Self, RarError> {
        if details.is_empty() {
            return Err(RarError::Empty);
        }
        Ok(Self(details))
    }

    /// No details: a scope-only request's (`[]` in device messages, the
    /// approval statement and stored rows; never a valid parameter).
    #[must_use]
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Parses stored text: `[]` is [`Self::none`], anything else as
    /// [`Self::from_param`].
    ///
    /// # Errors
    /// As [`Self::from_param`].
    pub fn from_stored(text: &str) -> Result<Self, RarError> {
        if text.trim() == "[]" {
            return Ok(Self::none());
        }
        Self::from_param(text)
    }

    /// Compact JSON text, e.g. for the form parameter.
    #[must_use]
    pub fn to_param(&self) -> String {
        // Serializing a Map of Values to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The details, in order.
    #[must_use]
    pub fn as_slice(&self) -> &[AuthorizationDetail] {
        &self.0
    }

    /// The `type` of each detail, in order (repeats kept, RFC 9396 §2).
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(AuthorizationDetail::r#type)
    }

    /// The details.
    #[must_use]
    pub fn into_vec(self) -> Vec<AuthorizationDetail> {
        self.0
    }

    /// The array as a JSON value (a copy).
    #[must_use]
    pub fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(AuthorizationDetail::to_value).collect())
    }
}

/// Read-only access as a slice (`len`, `iter`, indexing); empty only for
/// [`AuthorizationDetails::none`].
impl std::ops::Deref for AuthorizationDetails {
    type Target = [AuthorizationDetail];
    fn deref(&self) -> &[AuthorizationDetail] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a AuthorizationDetails {
    type Item = &'a AuthorizationDetail;
    type IntoIter = std::slice::Iter<'a, AuthorizationDetail>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for AuthorizationDetails {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Strict JSON, as [`AuthorizationDetails::from_value`], except that `[]`
/// reads as [`AuthorizationDetails::none`]: what [`Serialize`] writes for it
/// (device messages, the statement, stored grants) reads back. The agent's
/// parameter never goes through here ([`AuthorizationDetails::from_param`]
/// refuses `[]`).
impl<'de> Deserialize<'de> for AuthorizationDetails {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = crate::jcs::deserialize_strict(d)?;
        if matches!(&value, Value::Array(a) if a.is_empty()) {
            return Ok(Self::none());
        }
        Self::from_value(value).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_is_kept_even_with_type_last() {
        let text = r#"[{"z":1,"actions":["a"],"b":{"y":1,"x":2},"type":"t","a":null}]"#;
        let d = AuthorizationDetails::from_param(text).unwrap();
        assert_eq!(d.to_param(), text);
        let keys: Vec<_> = d.as_slice()[0].as_map().keys().cloned().collect();
        assert_eq!(keys, ["z", "actions", "b", "type", "a"]);
        let extra: Vec<_> = d.as_slice()[0].extra().map(|(k, _)| k).collect();
        assert_eq!(extra, ["z", "b", "a"]);
    }

    #[test]
    fn insert_keeps_checks_and_position() {
        let mut d = AuthorizationDetail::new("t").unwrap();
        d.insert("x", json!(1)).unwrap();
        d.insert("actions", json!(["read"])).unwrap();
        d.insert("x", json!(2)).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"type":"t","x":2,"actions":["read"]}"#);
        assert_eq!(
            d.insert("actions", json!("read")),
            Err(DetailError::WrongType { field: ACTIONS, expected: STRING_ARRAY })
        );
        assert_eq!(d.insert("type", json!("")), Err(DetailError::EmptyType));
        assert_eq!(d.r#type(), "t");
        assert_eq!(AuthorizationDetail::new(""), Err(DetailError::EmptyType));
    }
}
