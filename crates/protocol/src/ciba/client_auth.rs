//! Client authentication parameters sent in the body.

use super::error::invalid;
use super::form::{Form, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE, CLIENT_AUTH_PARAMS, CLIENT_ID, CLIENT_SECRET};
use super::{ClientAssertionType, Jwt, RequestError};
use crate::secret::ClientSecret;

/// Client authentication sent in the body (RFC 6749 §2.3.1
/// `client_secret_post`; RFC 7521 §4.2 / RFC 7523 §2.2 assertions). HTTP
/// Basic (`client_secret_basic`) travels in a header and is the server's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAuthParams {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret` (`client_secret_post`).
    pub client_secret: Option<ClientSecret>,
    /// `client_assertion` (`private_key_jwt`, `client_secret_jwt`).
    pub client_assertion: Option<Jwt>,
    /// `client_assertion_type`.
    pub client_assertion_type: Option<ClientAssertionType>,
}

impl ClientAuthParams {
    /// Parses only the client authentication parameters of a form.
    ///
    /// # Errors
    /// [`RequestError`]: duplicates; a secret and an assertion together
    /// ([`RequestError::MultipleClientAuth`]); an assertion without its type or
    /// the reverse, or a secret without `client_id` (`Missing`); a malformed
    /// assertion (`invalid_client`).
    pub fn from_form(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> Result<Self, RequestError> {
        let mut form = Form::collect(pairs, &CLIENT_AUTH_PARAMS)?;
        Self::from_collected(&mut form)
    }

    pub(super) fn from_collected(form: &mut Form) -> Result<Self, RequestError> {
        let client_id = form.take(CLIENT_ID);
        let client_secret = form.take(CLIENT_SECRET).map(ClientSecret::new);
        let client_assertion = form.take(CLIENT_ASSERTION);
        let client_assertion_type = form.take(CLIENT_ASSERTION_TYPE);
        if client_secret.is_some() && (client_assertion.is_some() || client_assertion_type.is_some()) {
            return Err(RequestError::MultipleClientAuth);
        }
        if client_secret.is_some() && client_id.is_none() {
            return Err(RequestError::Missing(CLIENT_ID));
        }
        let (client_assertion, client_assertion_type) = match (client_assertion, client_assertion_type) {
            (None, None) => (None, None),
            (Some(_), None) => return Err(RequestError::Missing(CLIENT_ASSERTION_TYPE)),
            (None, Some(_)) => return Err(RequestError::Missing(CLIENT_ASSERTION)),
            (Some(a), Some(t)) => (
                Some(Jwt::new(a).map_err(|e| invalid(CLIENT_ASSERTION, e))?),
                Some(t.parse().map_err(|e| invalid(CLIENT_ASSERTION_TYPE, e))?),
            ),
        };
        Ok(Self { client_id, client_secret, client_assertion, client_assertion_type })
    }

    /// Whether no client authentication parameter is present.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.client_id.is_none()
            && self.client_secret.is_none()
            && self.client_assertion.is_none()
            && self.client_assertion_type.is_none()
    }

    pub(super) fn push_form(&self, out: &mut Vec<(&'static str, String)>) {
        if let Some(v) = &self.client_id {
            out.push((CLIENT_ID, v.clone()));
        }
        if let Some(v) = &self.client_secret {
            out.push((CLIENT_SECRET, v.secret().to_owned()));
        }
        if let Some(v) = &self.client_assertion_type {
            out.push((CLIENT_ASSERTION_TYPE, v.as_str().to_owned()));
        }
        if let Some(v) = &self.client_assertion {
            out.push((CLIENT_ASSERTION, v.as_str().to_owned()));
        }
    }
}
