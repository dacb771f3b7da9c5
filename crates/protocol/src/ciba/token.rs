//! The CIBA token request (CIBA Core §10.1) and the token response
//! (§10.1.1).

use serde::{Deserialize, Serialize};

use super::error::invalid;
use super::form::{
    decode_form, urlencode, Form, AUTH_REQ_ID, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE, CLIENT_ID, CLIENT_SECRET,
    GRANT_TYPE,
};
use super::{ClientAuthParams, GrantType, Jwt, RequestError, Scope, TokenType};
use crate::rar::AuthorizationDetails;
use crate::secret::{AccessToken, AuthReqId, RefreshToken};

/// CIBA Core §10.1 token request: `grant_type=urn:openid:params:grant-type:ciba`
/// and `auth_req_id`, plus client authentication. The grant type is implied
/// by the type ([`Self::GRANT_TYPE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaTokenRequest {
    /// Client authentication parameters from the body.
    pub client_auth: ClientAuthParams,
    /// `auth_req_id` from the §7.3 acknowledgement.
    pub auth_req_id: AuthReqId,
}

impl CibaTokenRequest {
    /// The grant type of every CIBA token request.
    pub const GRANT_TYPE: GrantType = GrantType::Ciba;

    /// Parses decoded form pairs.
    ///
    /// # Errors
    /// [`RequestError`]: `Missing("grant_type")`, `UnsupportedGrantType` for
    /// any other grant (`unsupported_grant_type`), `Missing("auth_req_id")`,
    /// duplicates and client authentication errors (`invalid_request`).
    pub fn from_form(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> Result<Self, RequestError> {
        let known = [GRANT_TYPE, AUTH_REQ_ID, CLIENT_ID, CLIENT_SECRET, CLIENT_ASSERTION, CLIENT_ASSERTION_TYPE];
        let mut form = Form::collect(pairs, &known)?;
        let grant = form.take(GRANT_TYPE).ok_or(RequestError::Missing(GRANT_TYPE))?;
        let grant: GrantType = grant.parse().map_err(|e| invalid(GRANT_TYPE, e))?;
        if grant != GrantType::Ciba {
            return Err(RequestError::UnsupportedGrantType(grant));
        }
        let client_auth = ClientAuthParams::from_collected(&mut form)?;
        let auth_req_id = form.take(AUTH_REQ_ID).map(AuthReqId::new).ok_or(RequestError::Missing(AUTH_REQ_ID))?;
        Ok(Self { client_auth, auth_req_id })
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
            (AUTH_REQ_ID, self.auth_req_id.secret().to_owned()),
        ];
        self.client_auth.push_form(&mut out);
        out
    }

    /// The `application/x-www-form-urlencoded` body to send.
    #[must_use]
    pub fn to_urlencoded(&self) -> String {
        urlencode(&self.to_form())
    }
}

/// Successful token response (CIBA Core §10.1.1 = OIDC Core §3.1.3.3,
/// RFC 6749 §5.1), with RFC 9396 §7 `authorization_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: AccessToken,
    /// `token_type`, `Bearer` (or `DPoP`).
    pub token_type: TokenType,
    /// `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// `expires_in`, seconds (always sent by Countersign).
    pub expires_in: u64,
    /// `id_token` (OIDC; in push mode it carries `at_hash`,
    /// `urn:openid:params:jwt:claim:auth_req_id`, and `rt_hash` with a
    /// refresh token, CIBA Core §10.3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Jwt>,
    /// `scope` granted, when it differs from the request (RFC 6749 §5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// `authorization_details` as granted (RFC 9396 §7); left out when
    /// `None` or empty (a scope-only request grants none).
    #[serde(default, skip_serializing_if = "no_details")]
    pub authorization_details: Option<AuthorizationDetails>,
}

fn no_details(details: &Option<AuthorizationDetails>) -> bool {
    details.as_ref().is_none_or(|d| d.is_empty())
}
