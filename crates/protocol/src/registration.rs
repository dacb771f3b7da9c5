//! Dynamic client registration (RFC 7591) with the CIBA client metadata
//! (CIBA Core §4) and RFC 9396 `authorization_details_types`, in the manner
//! of openidconnect-rs' `ClientRegistrationRequest`/`Response`.
//!
//! - [`ClientMetadata`]: the client metadata members (RFC 7591 §2, CIBA Core
//!   §4 "Registration and Discovery Metadata", RFC 9396 §10,
//!   `token_endpoint_auth_signing_alg` of OpenID Connect Dynamic Client
//!   Registration §2), every one optional, plus the members this version
//!   does not name ([`ClientMetadata::extra`], kept so they round-trip).
//! - [`ClientRegistrationRequest`]: the body of `POST /register` (RFC 7591
//!   §3.1): client metadata.
//! - [`ClientRegistrationResponse`]: the `201` answer (RFC 7591 §3.2.1):
//!   `client_id`, `client_secret` and their times around the registered
//!   metadata.
//!
//! This module only reads and writes the documents; what a server accepts
//! (values, combinations, defaults) is the server's decision (RFC 7591 §2:
//! the server "MAY ... replace any of the client's requested metadata values
//! ... with suitable values").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ciba::{GrantType, TokenDeliveryMode};
use crate::device::registered::registered_enum;
use crate::jws::JwsAlg;
use crate::secret::ClientSecret;

registered_enum! {
    /// `token_endpoint_auth_method` (RFC 7591 §2; the IANA "OAuth Token
    /// Endpoint Authentication Methods" registry). Exact match; unknown
    /// values are kept as `Extension`, the empty string is refused
    /// (`crate::wire`).
    pub enum TokenEndpointAuthMethod {
        /// No client authentication (a public client; RFC 7591 §2).
        None => "none",
        /// HTTP Basic with `client_id` and `client_secret` (RFC 6749 §2.3.1;
        /// RFC 7591's default).
        ClientSecretBasic => "client_secret_basic",
        /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
        ClientSecretPost => "client_secret_post",
        /// A JWT signed with the secret (OpenID Connect Core §9, RFC 7523).
        ClientSecretJwt => "client_secret_jwt",
        /// A JWT signed with the client's private key (OpenID Connect Core
        /// §9, RFC 7523).
        PrivateKeyJwt => "private_key_jwt",
        /// Mutual TLS with a PKI certificate (RFC 8705 §2.1).
        TlsClientAuth => "tls_client_auth",
        /// Mutual TLS with a self-signed certificate (RFC 8705 §2.2).
        SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
    } extension
}

/// Client metadata (RFC 7591 §2 and the members named in the module
/// documentation). Every member is optional; a member named here must have
/// its registered JSON type. Serialized in declaration order (the order the
/// Countersign server echoes the registered metadata in), then
/// [`ClientMetadata::extra`].
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// `client_name` (RFC 7591 §2): shown to the user.
    pub client_name: Option<String>,
    /// `token_endpoint_auth_method` (RFC 7591 §2; absent means
    /// `client_secret_basic`).
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `grant_types` (RFC 7591 §2); CIBA clients list
    /// `urn:openid:params:grant-type:ciba` (CIBA Core §4).
    pub grant_types: Option<Vec<GrantType>>,
    /// `backchannel_token_delivery_mode` (CIBA Core §4; REQUIRED for a CIBA
    /// client).
    pub backchannel_token_delivery_mode: Option<TokenDeliveryMode>,
    /// `backchannel_client_notification_endpoint` (CIBA Core §4; REQUIRED
    /// for ping and push).
    pub backchannel_client_notification_endpoint: Option<String>,
    /// `backchannel_authentication_request_signing_alg` (CIBA Core §4).
    pub backchannel_authentication_request_signing_alg: Option<JwsAlg>,
    /// `backchannel_user_code_parameter` (CIBA Core §4; absent means `false`).
    pub backchannel_user_code_parameter: Option<bool>,
    /// `authorization_details_types` (RFC 9396 §10).
    pub authorization_details_types: Option<Vec<String>>,
    /// `redirect_uris` (RFC 7591 §2).
    pub redirect_uris: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg` (OpenID Connect Dynamic Client
    /// Registration §2).
    pub token_endpoint_auth_signing_alg: Option<JwsAlg>,
    /// `client_uri` (RFC 7591 §2).
    pub client_uri: Option<String>,
    /// `logo_uri` (RFC 7591 §2).
    pub logo_uri: Option<String>,
    /// `scope` (RFC 7591 §2): space-separated scope values.
    pub scope: Option<String>,
    /// `contacts` (RFC 7591 §2).
    pub contacts: Option<Vec<String>>,
    /// `jwks_uri` (RFC 7591 §2); mutually exclusive with `jwks`.
    pub jwks_uri: Option<String>,
    /// `jwks` (RFC 7591 §2): a JWK Set document, kept as JSON.
    pub jwks: Option<Value>,
    /// `software_id` (RFC 7591 §2).
    pub software_id: Option<String>,
    /// `software_version` (RFC 7591 §2).
    pub software_version: Option<String>,
    /// `response_types` (RFC 7591 §2).
    pub response_types: Option<Vec<String>>,
    /// `tos_uri` (RFC 7591 §2).
    pub tos_uri: Option<String>,
    /// `policy_uri` (RFC 7591 §2).
    pub policy_uri: Option<String>,
    /// `software_statement` (RFC 7591 §2.3): a JWT, kept as text.
    pub software_statement: Option<String>,
    /// `access_token_lifetime` (Countersign): the lifetime of the client's
    /// access tokens, seconds, at most the server's.
    pub access_token_lifetime: Option<u64>,
    /// `refresh_token_lifetime` (Countersign): the absolute lifetime of a
    /// refresh token family (from the approval), seconds, at most the
    /// server's.
    pub refresh_token_lifetime: Option<u64>,
    /// `refresh_token_idle_lifetime` (Countersign): how long a refresh token
    /// stays usable unless rotated, seconds, at most the server's.
    pub refresh_token_idle_lifetime: Option<u64>,
    /// Members not named above, kept verbatim (RFC 7591 §2: "Extensions and
    /// profiles of this specification can expand this list").
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The client registration request (RFC 7591 §3.1): the client metadata the
/// client asks for, as the JSON object body of `POST /register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientRegistrationRequest {
    /// The requested metadata.
    pub metadata: ClientMetadata,
}

/// The client information response (RFC 7591 §3.2.1): `201 Created` with the
/// client's credentials and every registered metadata member.
///
/// Serialized as `client_id`, `client_id_issued_at`, the metadata, then
/// `client_secret` and `client_secret_expires_at`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRegistrationResponse {
    /// `client_id` (REQUIRED).
    pub client_id: String,
    /// `client_id_issued_at` (OPTIONAL): unix seconds.
    pub client_id_issued_at: Option<u64>,
    /// The registered metadata (RFC 7591 §3.2.1: "all registered metadata
    /// about the client").
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// `client_secret` (OPTIONAL; none for `private_key_jwt`). Redacted in
    /// `Debug`.
    pub client_secret: Option<ClientSecret>,
    /// `client_secret_expires_at` (REQUIRED if `client_secret` is issued):
    /// unix seconds, `0` for never.
    pub client_secret_expires_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REQUEST: &str = include_str!("../testdata/oauth/registration-request.json");
    const RESPONSE: &str = include_str!("../testdata/oauth/registration-response.json");

    #[test]
    fn every_auth_method_round_trips() {
        let mut all: Vec<TokenEndpointAuthMethod> = TokenEndpointAuthMethod::REGISTERED.to_vec();
        all.push(TokenEndpointAuthMethod::Extension("urn:example:auth:attestation".into()));
        assert_eq!(all.len(), 8);
        for m in all {
            let text = serde_json::to_string(&m).unwrap();
            assert_eq!(text, format!("\"{}\"", m.as_str()));
            let back: TokenEndpointAuthMethod = serde_json::from_str(&text).unwrap();
            assert_eq!(back, m);
            assert_eq!(TokenEndpointAuthMethod::from(m.as_str()), m);
            assert_eq!(back.is_extension(), !TokenEndpointAuthMethod::REGISTERED.contains(&m));
        }
        assert_eq!(TokenEndpointAuthMethod::from("private_key_jwt"), TokenEndpointAuthMethod::PrivateKeyJwt);
        // Exact match: another case is an extension value, not the registered one.
        assert!(TokenEndpointAuthMethod::from("Client_Secret_Basic").is_extension());
        // The empty string is never a value (crate::wire).
        assert!(serde_json::from_str::<TokenEndpointAuthMethod>(r#""""#).is_err());
    }

    #[test]
    fn request_vector_round_trips_with_unknown_members() {
        let req: ClientRegistrationRequest = serde_json::from_str(REQUEST).unwrap();
        let m = &req.metadata;
        assert_eq!(m.client_name.as_deref(), Some("Portfolio Agent"));
        assert_eq!(m.token_endpoint_auth_method, Some(TokenEndpointAuthMethod::PrivateKeyJwt));
        assert_eq!(m.grant_types, Some(vec![GrantType::Ciba]));
        assert_eq!(m.backchannel_token_delivery_mode, Some(TokenDeliveryMode::Ping));
        assert_eq!(m.backchannel_authentication_request_signing_alg, Some(JwsAlg::Es256));
        assert_eq!(m.backchannel_user_code_parameter, Some(true));
        let keys: Vec<&str> = m.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["x_example_tier", "post_logout_redirect_uris"]);
        assert_eq!(serde_json::to_string_pretty(&req).unwrap(), REQUEST.trim_end());
    }

    #[test]
    fn response_vector_round_trips_and_keeps_the_secret_out_of_debug() {
        let resp: ClientRegistrationResponse = serde_json::from_str(RESPONSE).unwrap();
        assert_eq!(resp.client_id, "cli_s6BhdRkqt3gQ9xZ2");
        assert_eq!(resp.client_id_issued_at, Some(1_767_225_600));
        assert_eq!(resp.client_secret_expires_at, Some(0));
        let secret = resp.client_secret.as_ref().map(ClientSecret::secret);
        assert_eq!(secret, Some("cf136dc3c1fc93f31185e5885805d-tFy7hvOpC9YRm6xE"));
        assert!(!format!("{resp:?}").contains("cf136dc3"));
        assert_eq!(resp.metadata.token_endpoint_auth_method, Some(TokenEndpointAuthMethod::ClientSecretBasic));
        assert_eq!(resp.metadata.authorization_details_types, Some(vec!["payment_initiation".to_owned()]));
        // The response's own members are not metadata extensions.
        let keys: Vec<&str> = resp.metadata.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["x_example_tier"]);
        assert_eq!(serde_json::to_string_pretty(&resp).unwrap(), RESPONSE.trim_end());
    }

    #[test]
    fn members_are_optional_but_typed() {
        let empty: ClientRegistrationRequest = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, ClientRegistrationRequest::default());
        assert_eq!(serde_json::to_value(&empty).unwrap(), json!({}));
        for bad in [
            json!({"backchannel_token_delivery_mode": 5}),
            json!({"backchannel_token_delivery_mode": ""}),
            json!({"token_endpoint_auth_method": ""}),
            json!({"grant_types": [""]}),
            json!({"client_name": ["x"]}),
            json!({"backchannel_user_code_parameter": "yes"}),
            json!([]),
        ] {
            assert!(serde_json::from_value::<ClientRegistrationRequest>(bad.clone()).is_err(), "{bad}");
        }
        // Null is "absent", as before the typed request.
        let null: ClientRegistrationRequest = serde_json::from_value(json!({"client_name": null})).unwrap();
        assert_eq!(null.metadata.client_name, None);
        assert!(serde_json::from_value::<ClientRegistrationResponse>(json!({"client_secret": "x"})).is_err());
    }
}
