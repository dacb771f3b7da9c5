//! RFC 8414 / OpenID discovery, the JWKS and the display-schemas document.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::ciba::{GrantType, TokenDeliveryMode};
use countersign_protocol::discovery::ServerMetadata;
use countersign_protocol::jws::JwsAlg;
use countersign_protocol::registration::TokenEndpointAuthMethod;
use serde::Serialize;
use serde_json::json;

use crate::error::Internal;
use crate::oauth::clients::AUTH_METHODS;
use crate::state::AppState;

/// Paths under the issuer.
pub mod paths {
    /// OpenID discovery (`{issuer}/.well-known/openid-configuration`).
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// RFC 8414 metadata (`/.well-known/oauth-authorization-server{issuer path}`).
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// JWKS.
    pub const JWKS: &str = "/jwks";
    /// Dynamic client registration.
    pub const REGISTER: &str = "/register";
    /// CIBA backchannel authentication.
    pub const BC_AUTHORIZE: &str = "/bc-authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// The token endpoint where Auth0's SDKs call it (`https://{domain}/oauth/token`);
    /// the metadata names [`TOKEN`].
    pub const TOKEN_AUTH0: &str = "/oauth/token";
    /// Introspection.
    pub const INTROSPECT: &str = "/introspect";
    /// Revocation.
    pub const REVOKE: &str = "/revoke";
    /// Display schemas document.
    pub const SCHEMAS: &str = "/authorization-details-schemas";
}

/// The metadata document (the same for both well-known URLs).
#[must_use]
pub fn metadata(state: &AppState) -> ServerMetadata {
    let c = &state.config;
    let auth_methods = || Some(AUTH_METHODS.iter().map(|m| TokenEndpointAuthMethod::from(*m)).collect());
    let es256 = || Some(vec![JwsAlg::Es256]);
    let strings = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect());
    ServerMetadata {
        token_endpoint: Some(c.url(paths::TOKEN)),
        jwks_uri: Some(c.url(paths::JWKS)),
        registration_endpoint: Some(c.url(paths::REGISTER)),
        introspection_endpoint: Some(c.url(paths::INTROSPECT)),
        revocation_endpoint: Some(c.url(paths::REVOKE)),
        backchannel_authentication_endpoint: Some(c.url(paths::BC_AUTHORIZE)),
        backchannel_token_delivery_modes_supported: Some(vec![
            TokenDeliveryMode::Poll,
            TokenDeliveryMode::Ping,
            TokenDeliveryMode::Push,
        ]),
        backchannel_authentication_request_signing_alg_values_supported: es256(),
        backchannel_user_code_parameter_supported: Some(true),
        grant_types_supported: Some(vec![GrantType::Ciba, GrantType::RefreshToken]),
        response_types_supported: Some(Vec::new()),
        // The scopes the registry describes (crate::scopes); others are
        // accepted too, shown to the user as unknown.
        scopes_supported: Some(c.scopes.names()),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: es256(),
        token_endpoint_auth_methods_supported: auth_methods(),
        token_endpoint_auth_signing_alg_values_supported: es256(),
        introspection_endpoint_auth_methods_supported: auth_methods(),
        introspection_endpoint_auth_signing_alg_values_supported: es256(),
        revocation_endpoint_auth_methods_supported: auth_methods(),
        revocation_endpoint_auth_signing_alg_values_supported: es256(),
        request_object_signing_alg_values_supported: es256(),
        claims_supported: strings(&[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "at_hash",
            "urn:openid:params:jwt:claim:auth_req_id",
        ]),
        authorization_details_types_supported: Some(state.schemas.types()),
        authorization_details_schemas_endpoint: Some(c.url(paths::SCHEMAS)),
        countersign_device_endpoint: Some(c.device_endpoint()),
        countersign_admin_endpoint: Some(c.admin_endpoint()),
        ..ServerMetadata::new(c.issuer.as_str())
    }
}

fn cacheable<T: Serialize>(v: T) -> Response {
    let mut resp = Json(v).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn get_metadata(State(state): State<AppState>) -> Response {
    cacheable(metadata(&state))
}

/// `GET /jwks`.
pub async fn get_jwks(State(state): State<AppState>) -> Response {
    let keys = state.keys.published(&state.db, state.now(), state.config.key_retention_secs()).await;
    match keys {
        Ok(keys) => {
            let mut resp = Json(json!({ "keys": keys })).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
            resp
        }
        Err(e) => internal(e),
    }
}

/// `GET /authorization-details-schemas`.
pub async fn get_schemas(State(state): State<AppState>) -> Response {
    cacheable(state.schemas.schemas_document())
}

/// A bare 500 for GET endpoints without an OAuth error family.
pub fn internal(e: Internal) -> Response {
    crate::error::OAuthError::Internal(e).at(countersign_protocol::error::Endpoint::Resource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppState, Config, OffsetClock, RegistrySchemas};
    use countersign_protocol::ciba::CIBA_GRANT_TYPE;
    use countersign_protocol::device::Issuer;
    use std::sync::Arc;

    /// The document as the server wrote it with `json!` before the typed
    /// `ServerMetadata`: the typed one must give the same bytes.
    fn as_before(state: &AppState) -> serde_json::Value {
        let c = &state.config;
        json!({
            "issuer": c.issuer.as_str(),
            "token_endpoint": c.url(paths::TOKEN),
            "jwks_uri": c.url(paths::JWKS),
            "registration_endpoint": c.url(paths::REGISTER),
            "introspection_endpoint": c.url(paths::INTROSPECT),
            "revocation_endpoint": c.url(paths::REVOKE),
            "backchannel_authentication_endpoint": c.url(paths::BC_AUTHORIZE),
            "backchannel_token_delivery_modes_supported": ["poll", "ping", "push"],
            "backchannel_authentication_request_signing_alg_values_supported": ["ES256"],
            "backchannel_user_code_parameter_supported": true,
            "grant_types_supported": [CIBA_GRANT_TYPE, "refresh_token"],
            "response_types_supported": [],
            "scopes_supported": ["address", "email", "offline_access", "openid", "phone", "profile"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "request_object_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "at_hash",
                "urn:openid:params:jwt:claim:auth_req_id"],
            "authorization_details_types_supported": state.schemas.types(),
            "authorization_details_schemas_endpoint": c.url(paths::SCHEMAS),
            countersign_protocol::device::METADATA_DEVICE_ENDPOINT: c.device_endpoint(),
            "countersign_admin_endpoint": c.admin_endpoint(),
        })
    }

    #[tokio::test]
    async fn typed_metadata_serializes_to_the_same_bytes_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::ops::open_database(&dir.path().join("t.db")).await.unwrap();
        for issuer in ["https://auth.example.com", "https://auth.example.com/tenant-a"] {
            let config = Config::new(Issuer::new(issuer).unwrap());
            let schemas = Arc::new(RegistrySchemas::builtin().unwrap());
            let state = AppState::new(config, db.clone(), Arc::new(OffsetClock::new()), schemas).await.unwrap();
            let typed = metadata(&state);
            assert_eq!(serde_json::to_string(&typed).unwrap(), as_before(&state).to_string());
            assert!(typed.extra.is_empty());
            // And it reads back into the same document.
            let back: ServerMetadata = serde_json::from_value(as_before(&state)).unwrap();
            assert_eq!(back, typed);
        }
    }
}
