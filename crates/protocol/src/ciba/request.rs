//! The CIBA Core §7.1 backchannel authentication request: its parameters
//! (from the form or a verified request object) and their parsing.

use serde_json::{Map, Value};
use std::num::NonZeroU64;

use super::error::invalid;
use super::form::{
    decode_form, urlencode, Form, ACR_VALUES, AUDIENCE, AUTHENTICATION_PARAMS, AUTHORIZATION_DETAILS, BINDING_MESSAGE,
    CLIENT_AUTH_PARAMS, CLIENT_NOTIFICATION_TOKEN, ID_TOKEN_HINT, LOGIN_HINT, LOGIN_HINT_TOKEN, REQUEST,
    REQUESTED_EXPIRY, SCOPE, USER_CODE,
};
use super::{AcrValues, ClientAuthParams, Hint, Jwt, RequestError, Scope, UserHint};
use crate::rar::{AuthorizationDetails, RarError};
use crate::secret::{ClientNotificationToken, UserCode};

/// What is wrong with a `binding_message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingMessageError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// A control, bidi or invisible formatting character, which would let the
    /// text shown on the two devices differ from what it seems.
    #[error("character U+{:04X} at byte {index} is not plain text", u32::from(*ch))]
    Char {
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
}

/// CIBA Core §7.1 `binding_message`: shown on both devices so the user can
/// match them; "relatively short" plain text. This type refuses empty text
/// and every character `countersign_text` flags in one line of prose
/// (control, bidi, invisible, unusual characters, lookalike letters);
/// length and character-set policy (Auth0: 64, Keycloak: 50) is the
/// server's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindingMessage(String);

impl BindingMessage {
    /// Validates a message.
    ///
    /// # Errors
    /// [`BindingMessageError`] (answer `invalid_binding_message`, §13).
    pub fn new(message: impl Into<String>) -> Result<Self, BindingMessageError> {
        let message = message.into();
        if message.is_empty() {
            return Err(BindingMessageError::Empty);
        }
        if let Some(found) = countersign_text::first_finding(&message, countersign_text::Context::Line) {
            return Err(BindingMessageError::Char { ch: found.character, index: found.byte_offset });
        }
        Ok(Self(message))
    }

    /// The message.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::wire::as_wire_str!(BindingMessage, serialize, new);

/// Longest `audience`, in characters.
pub const MAX_AUDIENCE_CHARS: usize = 512;

/// What is wrong with an `audience`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudienceError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_AUDIENCE_CHARS`].
    #[error("longer than {MAX_AUDIENCE_CHARS} characters")]
    TooLong,
    /// A character `countersign_text` flags in one line (control, bidi,
    /// invisible, whitespace other than a plain space, lookalikes): an
    /// audience is shown to the user and must read as what it is.
    #[error("character U+{:04X} at byte {index} is not allowed", u32::from(*ch))]
    Char {
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
}

/// The `audience` request parameter (Auth0's name for the API the access
/// token is for; RFC 8707 calls it a resource): an identifier the server
/// compares, byte for byte, with the APIs its operator configured. It
/// becomes the access token's `aud`. Not empty, at most
/// [`MAX_AUDIENCE_CHARS`] characters, no space and nothing
/// `countersign_text` flags in one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience(String);

impl Audience {
    /// Validates an audience.
    ///
    /// # Errors
    /// [`AudienceError`].
    pub fn new(audience: impl Into<String>) -> Result<Self, AudienceError> {
        let audience = audience.into();
        if audience.is_empty() {
            return Err(AudienceError::Empty);
        }
        if audience.chars().count() > MAX_AUDIENCE_CHARS {
            return Err(AudienceError::TooLong);
        }
        if let Some((index, ch)) = audience.char_indices().find(|(_, c)| c.is_whitespace()) {
            return Err(AudienceError::Char { ch, index });
        }
        if let Some(found) = countersign_text::first_finding(&audience, countersign_text::Context::Line) {
            return Err(AudienceError::Char { ch: found.character, index: found.byte_offset });
        }
        Ok(Self(audience))
    }

    /// The audience.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::wire::as_wire_str!(Audience, serialize, new);
#[cfg(feature = "ts")]
crate::ts_inline!(Audience => "string");

/// The `authorization_details` parameter (RFC 9396 §3, CIBA Core §7.1): the
/// text as received (what was sent, byte for byte) and its parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationDetailsParam {
    raw: String,
    details: AuthorizationDetails,
}

impl AuthorizationDetailsParam {
    /// Parses the parameter text.
    ///
    /// # Errors
    /// [`RarError`] from [`AuthorizationDetails::from_param`].
    pub fn parse(raw: String) -> Result<Self, RarError> {
        let details = AuthorizationDetails::from_param(&raw)?;
        Ok(Self { raw, details })
    }

    /// The parameter for details built in code (compact JSON).
    #[must_use]
    pub fn from_details(details: AuthorizationDetails) -> Self {
        Self { raw: details.to_param(), details }
    }

    /// The text as received.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed details.
    #[must_use]
    pub fn details(&self) -> &AuthorizationDetails {
        &self.details
    }
}

/// Largest `client_notification_token` (CIBA Core §7.1).
pub const MAX_CLIENT_NOTIFICATION_TOKEN_LEN: usize = 1024;

/// RFC 6750 §2.1 `b64token`: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+"
/// / "/" ) *"=".
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Strict positive integer: ASCII digits, no sign, no leading zero, fits u64.
fn parse_positive(s: &str) -> Option<NonZeroU64> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().and_then(NonZeroU64::new)
}

/// The CIBA Core §7.1 authentication parameters (all but client
/// authentication), from the form or from a verified request object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelAuthenticationParams {
    /// `scope` (REQUIRED). CIBA requests are OpenID requests when it contains
    /// [`OPENID`](super::OPENID); the server decides what to do without it.
    pub scope: Scope,
    /// `client_notification_token`: REQUIRED for ping and push (the server
    /// checks against the client's mode); RFC 6750 §2.1 syntax, at most 1024
    /// characters. Entropy (≥128 bits) cannot be checked here.
    pub client_notification_token: Option<ClientNotificationToken>,
    /// `acr_values`, in order of preference.
    pub acr_values: Option<AcrValues>,
    /// Exactly one of `login_hint_token`, `id_token_hint`, `login_hint`.
    pub hint: UserHint,
    /// `binding_message`.
    pub binding_message: Option<BindingMessage>,
    /// `user_code` (§7.1.2).
    pub user_code: Option<UserCode>,
    /// `requested_expiry`: positive integer, seconds.
    pub requested_expiry: Option<NonZeroU64>,
    /// `authorization_details` (RFC 9396 §3). Optional: a request without
    /// it is a scope-only request (CIBA Core does not require RAR).
    pub authorization_details: Option<AuthorizationDetailsParam>,
    /// `audience`: the API the access token is for (Auth0's parameter).
    pub audience: Option<Audience>,
}

impl BackchannelAuthenticationParams {
    fn build(get: &mut dyn FnMut(&'static str) -> Result<Option<String>, RequestError>) -> Result<Self, RequestError> {
        let scope = get(SCOPE)?.ok_or(RequestError::Missing(SCOPE))?;
        let scope = Scope::parse(&scope).map_err(|e| invalid(SCOPE, e))?;

        let client_notification_token = match get(CLIENT_NOTIFICATION_TOKEN)? {
            None => None,
            Some(t) if t.len() > MAX_CLIENT_NOTIFICATION_TOKEN_LEN => {
                return Err(invalid(CLIENT_NOTIFICATION_TOKEN, "longer than 1024 characters (CIBA Core section 7.1)"))
            }
            Some(t) if !is_b64token(&t) => {
                return Err(invalid(CLIENT_NOTIFICATION_TOKEN, "not RFC 6750 section 2.1 bearer token syntax"))
            }
            Some(t) => Some(ClientNotificationToken::new(t)),
        };

        let acr_values =
            get(ACR_VALUES)?.map(|v| AcrValues::parse(&v).map_err(|e| invalid(ACR_VALUES, e))).transpose()?;

        let hints = [
            (LOGIN_HINT_TOKEN, get(LOGIN_HINT_TOKEN)?),
            (ID_TOKEN_HINT, get(ID_TOKEN_HINT)?),
            (LOGIN_HINT, get(LOGIN_HINT)?),
        ];
        let present: Vec<&'static str> = hints.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| *n).collect();
        if present.len() > 1 {
            return Err(RequestError::SeveralHints(present));
        }
        let hint = match hints {
            [(_, Some(t)), _, _] => UserHint::LoginHintToken(t),
            [_, (_, Some(t)), _] => UserHint::IdTokenHint(Jwt::new(t).map_err(|e| invalid(ID_TOKEN_HINT, e))?),
            [_, _, (_, Some(h))] => UserHint::LoginHint(Hint::parse(&h).map_err(|e| invalid(LOGIN_HINT, e))?),
            _ => return Err(RequestError::NoHint),
        };

        let binding_message = get(BINDING_MESSAGE)?
            .map(|m| BindingMessage::new(m).map_err(|e| invalid(BINDING_MESSAGE, e)))
            .transpose()?;
        let user_code = get(USER_CODE)?.map(UserCode::new);
        let requested_expiry = get(REQUESTED_EXPIRY)?
            .map(|v| {
                parse_positive(&v).ok_or_else(|| invalid(REQUESTED_EXPIRY, "must be a positive integer (seconds)"))
            })
            .transpose()?;
        let authorization_details = get(AUTHORIZATION_DETAILS)?
            .map(|raw| AuthorizationDetailsParam::parse(raw).map_err(RequestError::AuthorizationDetails))
            .transpose()?;
        // Auth0's SDKs send `audience=` (empty) when the tool names none:
        // no audience, as if absent.
        let audience = get(AUDIENCE)?
            .filter(|a| !a.is_empty())
            .map(|a| Audience::new(a).map_err(|e| invalid(AUDIENCE, e)))
            .transpose()?;

        Ok(Self {
            scope,
            client_notification_token,
            acr_values,
            hint,
            binding_message,
            user_code,
            requested_expiry,
            authorization_details,
            audience,
        })
    }

    /// Reads the parameters from the claims of a signed request object
    /// (CIBA Core §7.1.1) **after** the caller verified its signature and its
    /// `iss`, `aud`, `exp`, `iat`, `nbf` and `jti` (ignored here).
    ///
    /// Claims are JSON: strings, except `requested_expiry` (a number or a
    /// string) and `authorization_details` (a JSON array, RFC 9396 §3). A
    /// `null` or empty string counts as absent.
    ///
    /// # Errors
    /// [`RequestError::ClaimType`] (`invalid_request_object`) for a claim of
    /// the wrong JSON type; otherwise as the form.
    pub fn from_request_object(claims: &Map<String, Value>) -> Result<Self, RequestError> {
        Self::build(&mut |name| match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if name != AUTHORIZATION_DETAILS => Ok((!s.is_empty()).then(|| s.clone())),
            Some(Value::Number(n)) if name == REQUESTED_EXPIRY => Ok(Some(n.to_string())),
            Some(v @ Value::Array(_)) if name == AUTHORIZATION_DETAILS => {
                serde_json::to_string(v).map(Some).map_err(|e| invalid(AUTHORIZATION_DETAILS, e))
            }
            Some(_) => Err(RequestError::ClaimType {
                claim: name,
                expected: match name {
                    REQUESTED_EXPIRY => "a number or a string",
                    AUTHORIZATION_DETAILS => "a JSON array",
                    _ => "a string",
                },
            }),
        })
    }

    fn push_form(&self, out: &mut Vec<(&'static str, String)>) {
        out.push((SCOPE, self.scope.to_param()));
        if let Some(t) = &self.client_notification_token {
            out.push((CLIENT_NOTIFICATION_TOKEN, t.secret().to_owned()));
        }
        if let Some(a) = &self.acr_values {
            out.push((ACR_VALUES, a.to_param()));
        }
        out.push(self.hint.to_param());
        if let Some(m) = &self.binding_message {
            out.push((BINDING_MESSAGE, m.as_str().to_owned()));
        }
        if let Some(c) = &self.user_code {
            out.push((USER_CODE, c.secret().to_owned()));
        }
        if let Some(e) = self.requested_expiry {
            out.push((REQUESTED_EXPIRY, e.to_string()));
        }
        if let Some(d) = &self.authorization_details {
            out.push((AUTHORIZATION_DETAILS, d.raw().to_owned()));
        }
        if let Some(a) = &self.audience {
            out.push((AUDIENCE, a.as_str().to_owned()));
        }
    }
}

/// What a backchannel authentication request carries besides client
/// authentication: plain parameters, or a signed request object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackchannelRequestBody {
    /// The §7.1 parameters, sent as form parameters.
    Params(Box<BackchannelAuthenticationParams>),
    /// `request` (§7.1.1): a signed JWT holding every parameter. Verify it,
    /// then read it with [`BackchannelAuthenticationParams::from_request_object`].
    Signed(Jwt),
}

/// A CIBA Core §7.1 backchannel authentication request
/// (`POST /bc-authorize`, form-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelAuthenticationRequest {
    /// Client authentication parameters from the body (kept apart: they are
    /// the only ones allowed next to a signed `request`).
    pub client_auth: ClientAuthParams,
    /// The request proper.
    pub body: BackchannelRequestBody,
}

impl BackchannelAuthenticationRequest {
    /// Parses decoded form pairs (e.g. `url::form_urlencoded::parse`).
    ///
    /// # Errors
    /// [`RequestError`]; use [`RequestError::error_code`] for the response.
    pub fn from_form(
        pairs: impl IntoIterator<Item = (impl AsRef<str>, impl AsRef<str>)>,
    ) -> Result<Self, RequestError> {
        let known: Vec<&'static str> =
            AUTHENTICATION_PARAMS.iter().chain(&CLIENT_AUTH_PARAMS).chain(&[REQUEST]).copied().collect();
        let mut form = Form::collect(pairs, &known)?;
        let client_auth = ClientAuthParams::from_collected(&mut form)?;
        let body = if let Some(request) = form.take(REQUEST) {
            let outside: Vec<&'static str> =
                AUTHENTICATION_PARAMS.iter().copied().filter(|p| form.contains(p)).collect();
            if !outside.is_empty() {
                return Err(RequestError::OutsideRequestObject(outside));
            }
            let jwt = Jwt::new(request).map_err(|e| invalid(REQUEST, e))?;
            if !jwt.is_jws() {
                return Err(invalid(REQUEST, "must be a signed JWT (JWS), not a JWE"));
            }
            BackchannelRequestBody::Signed(jwt)
        } else {
            BackchannelRequestBody::Params(Box::new(BackchannelAuthenticationParams::build(&mut |name| {
                Ok(form.take(name))
            })?))
        };
        Ok(Self { client_auth, body })
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// As [`Self::from_form`].
    pub fn from_urlencoded(body: &str) -> Result<Self, RequestError> {
        Self::from_form(decode_form(body))
    }

    /// The form pairs to send (client authentication first).
    #[must_use]
    pub fn to_form(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        self.client_auth.push_form(&mut out);
        match &self.body {
            BackchannelRequestBody::Params(p) => p.push_form(&mut out),
            BackchannelRequestBody::Signed(jwt) => out.push((REQUEST, jwt.as_str().to_owned())),
        }
        out
    }

    /// The `application/x-www-form-urlencoded` body to send.
    #[must_use]
    pub fn to_urlencoded(&self) -> String {
        urlencode(&self.to_form())
    }
}
