//! OpenID Connect CIBA Core 1.0 wire types: the backchannel authentication
//! request (§7.1) and its acknowledgement (§7.3), the CIBA token request
//! (§10.1) and response (§10.1.1), the ping (§10.2) and push (§10.3.1)
//! callbacks, plus the OAuth strings they carry (grant types, delivery modes,
//! token types, scope).
//!
//! Form parsing follows RFC 6749 §3.1: a recognised parameter sent twice is
//! refused, a parameter sent without a value is treated as omitted, and
//! unrecognised parameters are ignored. Every error is a [`RequestError`]
//! that maps to the OAuth [`ErrorCode`](crate::error::ErrorCode) to answer with.
//!
//! Error messages use "section" rather than "§" because they become
//! `error_description` values, which RFC 6749 §5.2 limits to ASCII.

mod callback;
mod client_auth;
mod enums;
mod error;
mod form;
mod hint;
mod jwt;
mod refresh;
mod request;
mod response;
mod scope;
mod token;

// Every item stays at `countersign_protocol::ciba::X`; the submodules are
// private so these re-exports are the only public paths.
pub use self::callback::{PingCallback, PushCallback, PushSuccessCallback};
pub use self::client_auth::ClientAuthParams;
pub use self::enums::{ClientAssertionType, GrantType, TokenDeliveryMode, TokenType, CIBA_GRANT_TYPE};
pub use self::error::RequestError;
pub use self::hint::{Hint, UserHint, ISS_SUB};
pub use self::jwt::{Jwt, JwtShapeError};
pub use self::refresh::{RefreshTokenRequest, TokenRequest, REFRESH_TOKEN_PREFIX};
pub use self::request::{
    Audience, AudienceError, AuthorizationDetailsParam, BackchannelAuthenticationParams,
    BackchannelAuthenticationRequest, BackchannelRequestBody, BindingMessage, BindingMessageError, MAX_AUDIENCE_CHARS,
    MAX_CLIENT_NOTIFICATION_TOKEN_LEN,
};
pub use self::response::{BackchannelAuthenticationResponse, DEFAULT_INTERVAL};
pub use self::scope::{AcrValues, Scope, TokenListError, OPENID};
pub use self::token::{CibaTokenRequest, TokenResponse};
pub use crate::wire::EmptyValue;
