//! Form parsing (RFC 6749 §3.1): a recognised parameter sent twice is
//! refused, a parameter sent without a value is treated as omitted, and
//! unrecognised parameters are ignored. Also the parameter names.

use std::collections::BTreeMap;

use super::RequestError;

pub(super) const SCOPE: &str = "scope";
pub(super) const CLIENT_NOTIFICATION_TOKEN: &str = "client_notification_token";
pub(super) const ACR_VALUES: &str = "acr_values";
pub(super) const LOGIN_HINT_TOKEN: &str = "login_hint_token";
pub(super) const ID_TOKEN_HINT: &str = "id_token_hint";
pub(super) const LOGIN_HINT: &str = "login_hint";
pub(super) const BINDING_MESSAGE: &str = "binding_message";
pub(super) const USER_CODE: &str = "user_code";
pub(super) const REQUESTED_EXPIRY: &str = "requested_expiry";
pub(super) const AUTHORIZATION_DETAILS: &str = "authorization_details";
pub(super) const AUDIENCE: &str = "audience";
pub(super) const REQUEST: &str = "request";
pub(super) const CLIENT_ID: &str = "client_id";
pub(super) const CLIENT_SECRET: &str = "client_secret";
pub(super) const CLIENT_ASSERTION: &str = "client_assertion";
pub(super) const CLIENT_ASSERTION_TYPE: &str = "client_assertion_type";
pub(super) const GRANT_TYPE: &str = "grant_type";
pub(super) const AUTH_REQ_ID: &str = "auth_req_id";
pub(super) const REFRESH_TOKEN: &str = "refresh_token";

/// CIBA Core §7.1 authentication parameters (everything but client
/// authentication and `request`), in the order written by `to_form`.
pub(super) const AUTHENTICATION_PARAMS: [&str; 11] = [
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
    AUDIENCE,
];
pub(super) const CLIENT_AUTH_PARAMS: [&str; 4] = [CLIENT_ID, CLIENT_SECRET, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE];

/// Recognised parameters with non-empty values, after the duplicate check.
pub(super) struct Form(BTreeMap<&'static str, String>);

impl Form {
    pub(super) fn collect(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
        known: &[&'static str],
    ) -> Result<Self, RequestError> {
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

    pub(super) fn take(&mut self, name: &'static str) -> Option<String> {
        self.0.remove(name)
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

pub(super) fn urlencode<'a>(pairs: impl IntoIterator<Item = &'a (&'static str, String)>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub(super) fn decode_form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}
