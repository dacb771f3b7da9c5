//! The OAuth and OpenID side of the server, one module per endpoint or
//! concern: discovery, dynamic client registration, client authentication
//! and keys, the CIBA backchannel authentication endpoint, the token
//! endpoint and the tokens it issues, introspection and revocation, and the
//! ping and push notifications to clients.

pub mod bc_authorize;
pub mod clients;
pub mod discovery;
pub mod fatigue;
pub mod introspect;
pub mod jwks;
pub mod notify;
pub mod records;
pub mod refresh;
pub mod register;
pub mod token;
pub mod tokens;
