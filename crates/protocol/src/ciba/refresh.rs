//! The refresh token request (RFC 6749 §6, with RFC 9396 §7
//! `authorization_details`) and [`TokenRequest`], a token request of either
//! grant the token endpoint serves.

use super::error::invalid;
use super::form::{
    decode_form, urlencode, Form, AUTHORIZATION_DETAILS, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE, CLIENT_ID,
    CLIENT_SECRET, GRANT_TYPE, REFRESH_TOKEN, SCOPE,
};
use super::{AuthorizationDetailsParam, CibaTokenRequest, ClientAuthParams, GrantType, RequestError, Scope};
use crate::secret::RefreshToken;

/// The prefix of Countersign's refresh tokens (`csrt_` then 256 random bits
/// in base64url): recognisable in a leaked file or a secret scanner.
pub const REFRESH_TOKEN_PREFIX: &str = "csrt_";

/// RFC 6749 §6 refresh token request: `grant_type=refresh_token`,
/// `refresh_token`, optional `scope` (a subset of what was granted) and
/// optional `authorization_details` (RFC 9396 §7: a subset of what was
/// granted), plus client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRequest {
    /// Client authentication parameters from the body.
    pub client_auth: ClientAuthParams,
    /// `refresh_token`.
    pub refresh_token: RefreshToken,
    /// `scope`: the narrower scope asked for, if any.
    pub scope: Option<Scope>,
    /// `authorization_details`: the narrower details asked for, if any.
    pub authorization_details: Option<AuthorizationDetailsParam>,
}

impl RefreshTokenRequest {
    /// The grant type of every refresh token request.
    pub const GRANT_TYPE: GrantType = GrantType::RefreshToken;

    /// Parses decoded form pairs.
    ///
    /// # Errors
    /// [`RequestError`]: `Missing("grant_type")`, `UnsupportedGrantType` for
    /// any other grant, `Missing("refresh_token")` and duplicates
    /// (`invalid_request`), a malformed `scope` (`invalid_scope`), malformed
    /// `authorization_details` (`invalid_authorization_details`), client
    /// authentication errors.
    pub fn from_form(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> Result<Self, RequestError> {
        let known = [
            GRANT_TYPE,
            REFRESH_TOKEN,
            SCOPE,
            AUTHORIZATION_DETAILS,
            CLIENT_ID,
            CLIENT_SECRET,
            CLIENT_ASSERTION,
            CLIENT_ASSERTION_TYPE,
        ];
        let mut form = Form::collect(pairs, &known)?;
        let grant = form.take(GRANT_TYPE).ok_or(RequestError::Missing(GRANT_TYPE))?;
        let grant: GrantType = grant.parse().map_err(|e| invalid(GRANT_TYPE, e))?;
        if grant != Self::GRANT_TYPE {
            return Err(RequestError::UnsupportedGrantType(grant));
        }
        let client_auth = ClientAuthParams::from_collected(&mut form)?;
        let refresh_token =
            form.take(REFRESH_TOKEN).map(RefreshToken::new).ok_or(RequestError::Missing(REFRESH_TOKEN))?;
        let scope = form.take(SCOPE).map(|s| Scope::parse(&s).map_err(|e| invalid(SCOPE, e))).transpose()?;
        let authorization_details = form
            .take(AUTHORIZATION_DETAILS)
            .map(|raw| AuthorizationDetailsParam::parse(raw).map_err(RequestError::AuthorizationDetails))
            .transpose()?;
        Ok(Self { client_auth, refresh_token, scope, authorization_details })
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// As [`Self::from_form`].
    pub fn from_urlencoded(body: &str) -> Result<Self, RequestError> {
        Self::from_form(decode_form(body))
    }

    /// The form pairs to send.
    #[must_use]
    pub fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (GRANT_TYPE, Self::GRANT_TYPE.as_str().to_owned()),
            (REFRESH_TOKEN, self.refresh_token.secret().to_owned()),
        ];
        if let Some(s) = &self.scope {
            out.push((SCOPE, s.to_param()));
        }
        if let Some(d) = &self.authorization_details {
            out.push((AUTHORIZATION_DETAILS, d.raw().to_owned()));
        }
        self.client_auth.push_form(&mut out);
        out
    }

    /// The `application/x-www-form-urlencoded` body to send.
    #[must_use]
    pub fn to_urlencoded(&self) -> String {
        urlencode(&self.to_form())
    }
}

/// A token request of a grant the token endpoint serves, chosen by its
/// `grant_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// `urn:openid:params:grant-type:ciba` (CIBA Core §10.1).
    Ciba(CibaTokenRequest),
    /// `refresh_token` (RFC 6749 §6).
    Refresh(RefreshTokenRequest),
}

impl TokenRequest {
    /// Parses decoded form pairs by their `grant_type`.
    ///
    /// # Errors
    /// [`RequestError`]: `Missing("grant_type")`, a repeated `grant_type`,
    /// `UnsupportedGrantType` for grants other than the two, and the errors
    /// of [`CibaTokenRequest::from_form`] and [`RefreshTokenRequest::from_form`].
    pub fn from_form(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> Result<Self, RequestError> {
        let pairs: Vec<(String, String)> =
            pairs.into_iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
        let mut grants = pairs.iter().filter(|(k, _)| k == GRANT_TYPE);
        let grant = grants.next().map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        if grants.next().is_some() {
            return Err(RequestError::Duplicate(GRANT_TYPE));
        }
        let grant: GrantType =
            grant.ok_or(RequestError::Missing(GRANT_TYPE))?.parse().map_err(|e| invalid(GRANT_TYPE, e))?;
        match grant {
            GrantType::Ciba => CibaTokenRequest::from_form(pairs).map(Self::Ciba),
            GrantType::RefreshToken => RefreshTokenRequest::from_form(pairs).map(Self::Refresh),
            other => Err(RequestError::UnsupportedGrantType(other)),
        }
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// As [`Self::from_form`].
    pub fn from_urlencoded(body: &str) -> Result<Self, RequestError> {
        Self::from_form(decode_form(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn a_refresh_request_round_trips_and_is_chosen_by_its_grant_type() {
        let body = "grant_type=refresh_token&refresh_token=csrt_abc&scope=openid%20payments\
                    &authorization_details=%5B%7B%22type%22%3A%22payment_initiation%22%7D%5D";
        let TokenRequest::Refresh(r) = TokenRequest::from_urlencoded(body).unwrap() else { panic!("not refresh") };
        assert_eq!(r.refresh_token.secret(), "csrt_abc");
        assert_eq!(r.scope.as_ref().map(Scope::to_param).as_deref(), Some("openid payments"));
        assert_eq!(r.authorization_details.as_ref().map(|d| d.details().len()), Some(1));
        assert_eq!(RefreshTokenRequest::from_urlencoded(&r.to_urlencoded()).unwrap(), r);
        // Redacted.
        assert!(!format!("{r:?}").contains("csrt_abc"));
        let ciba = "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=x";
        assert!(matches!(TokenRequest::from_urlencoded(ciba).unwrap(), TokenRequest::Ciba(_)));
    }

    #[test]
    fn malformed_refresh_requests_are_refused_with_their_codes() {
        let code = |body: &str| TokenRequest::from_urlencoded(body).unwrap_err().error_code();
        assert_eq!(code("grant_type=refresh_token"), ErrorCode::InvalidRequest);
        assert_eq!(code("grant_type=refresh_token&refresh_token="), ErrorCode::InvalidRequest);
        assert_eq!(code("grant_type=refresh_token&refresh_token=a&refresh_token=b"), ErrorCode::InvalidRequest);
        assert_eq!(
            code("grant_type=refresh_token&grant_type=refresh_token&refresh_token=a"),
            ErrorCode::InvalidRequest
        );
        assert_eq!(code("refresh_token=a"), ErrorCode::InvalidRequest);
        assert_eq!(code("grant_type=refresh_token&refresh_token=a&scope=%22bad"), ErrorCode::InvalidScope);
        assert_eq!(
            code("grant_type=refresh_token&refresh_token=a&authorization_details=%7B%7D"),
            ErrorCode::InvalidAuthorizationDetails
        );
        assert_eq!(code("grant_type=client_credentials"), ErrorCode::UnsupportedGrantType);
        let e = TokenRequest::from_urlencoded("grant_type=refresh_token").unwrap_err();
        assert_eq!(e.to_string(), "missing required parameter: refresh_token");
    }
}
