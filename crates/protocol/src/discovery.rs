//! Authorization server metadata: RFC 8414 §2, OpenID Connect Discovery 1.0
//! §3, the CIBA members of CIBA Core §4, RFC 9396 §10 and the Countersign
//! device channel (`docs/protocol.md` §2), in the manner of openidconnect-rs'
//! `ProviderMetadata`.
//!
//! One document is served at both `/.well-known/openid-configuration` and
//! `/.well-known/oauth-authorization-server`. Members are read leniently in
//! the sense of RFC 8414 §3.2: everything but `issuer` is optional, and
//! members this version does not name are kept in
//! [`ServerMetadata::extra`] (they round-trip). A member it names must have
//! its registered JSON type. Members are written in declaration order
//! (`serde_json`'s `preserve_order`), then the extension members in the order
//! read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ciba::{GrantType, TokenDeliveryMode};
use crate::jws::JwsAlg;
use crate::registration::TokenEndpointAuthMethod;

/// The server metadata document.
///
/// Field order is the order the Countersign server has always written its
/// members in (serialization follows it), the members it does not publish
/// after them.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// `issuer` (REQUIRED, RFC 8414 §2): compared byte for byte with the
    /// issuer the metadata was fetched for (RFC 8414 §3.3).
    pub issuer: String,
    /// `token_endpoint` (RFC 8414 §2).
    pub token_endpoint: Option<String>,
    /// `jwks_uri` (RFC 8414 §2).
    pub jwks_uri: Option<String>,
    /// `registration_endpoint` (RFC 8414 §2, RFC 7591).
    pub registration_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 8414 §2, RFC 7662).
    pub introspection_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 8414 §2, RFC 7009).
    pub revocation_endpoint: Option<String>,
    /// `backchannel_authentication_endpoint` (CIBA Core §4).
    pub backchannel_authentication_endpoint: Option<String>,
    /// `backchannel_token_delivery_modes_supported` (CIBA Core §4).
    pub backchannel_token_delivery_modes_supported: Option<Vec<TokenDeliveryMode>>,
    /// `backchannel_authentication_request_signing_alg_values_supported`
    /// (CIBA Core §4).
    pub backchannel_authentication_request_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `backchannel_user_code_parameter_supported` (CIBA Core §4; absent
    /// means `false`).
    pub backchannel_user_code_parameter_supported: Option<bool>,
    /// `grant_types_supported` (RFC 8414 §2).
    pub grant_types_supported: Option<Vec<GrantType>>,
    /// `response_types_supported` (RFC 8414 §2; a CIBA-only server lists
    /// none).
    pub response_types_supported: Option<Vec<String>>,
    /// `scopes_supported` (RFC 8414 §2).
    pub scopes_supported: Option<Vec<String>>,
    /// `subject_types_supported` (OpenID Discovery §3).
    pub subject_types_supported: Option<Vec<String>>,
    /// `id_token_signing_alg_values_supported` (OpenID Discovery §3).
    pub id_token_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `token_endpoint_auth_methods_supported` (RFC 8414 §2).
    pub token_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// `token_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2).
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `introspection_endpoint_auth_methods_supported` (RFC 8414 §2).
    pub introspection_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// `introspection_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2).
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `revocation_endpoint_auth_methods_supported` (RFC 8414 §2).
    pub revocation_endpoint_auth_methods_supported: Option<Vec<TokenEndpointAuthMethod>>,
    /// `revocation_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2).
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `request_object_signing_alg_values_supported` (OpenID Discovery §3).
    pub request_object_signing_alg_values_supported: Option<Vec<JwsAlg>>,
    /// `claims_supported` (OpenID Discovery §3).
    pub claims_supported: Option<Vec<String>>,
    /// `authorization_details_types_supported` (RFC 9396 §10).
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// `authorization_details_schemas_endpoint` (Countersign): the display
    /// schemas document (`docs/display-schema.md`).
    pub authorization_details_schemas_endpoint: Option<String>,
    /// `countersign_device_endpoint` (Countersign,
    /// [`crate::device::METADATA_DEVICE_ENDPOINT`]): the device channel base
    /// URL; absent means [`crate::device::default_device_endpoint`].
    pub countersign_device_endpoint: Option<String>,
    /// `countersign_admin_endpoint` (Countersign, `docs/protocol.md` §10):
    /// the admin API base URL; absent when the server has none.
    pub countersign_admin_endpoint: Option<String>,
    /// `authorization_endpoint` (RFC 8414 §2; not served by Countersign).
    pub authorization_endpoint: Option<String>,
    /// `userinfo_endpoint` (OpenID Discovery §3; not served by Countersign).
    pub userinfo_endpoint: Option<String>,
    /// `response_modes_supported` (RFC 8414 §2).
    pub response_modes_supported: Option<Vec<String>>,
    /// `acr_values_supported` (OpenID Discovery §3).
    pub acr_values_supported: Option<Vec<String>>,
    /// `code_challenge_methods_supported` (RFC 8414 §2).
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `service_documentation` (RFC 8414 §2).
    pub service_documentation: Option<String>,
    /// `op_policy_uri` (RFC 8414 §2).
    pub op_policy_uri: Option<String>,
    /// `op_tos_uri` (RFC 8414 §2).
    pub op_tos_uri: Option<String>,
    /// Members not named above, kept verbatim (RFC 8414 §2: "Additional
    /// authorization server metadata parameters MAY also be used").
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerMetadata {
    /// Metadata with only `issuer` set.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            token_endpoint: None,
            jwks_uri: None,
            registration_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            backchannel_authentication_endpoint: None,
            backchannel_token_delivery_modes_supported: None,
            backchannel_authentication_request_signing_alg_values_supported: None,
            backchannel_user_code_parameter_supported: None,
            grant_types_supported: None,
            response_types_supported: None,
            scopes_supported: None,
            subject_types_supported: None,
            id_token_signing_alg_values_supported: None,
            token_endpoint_auth_methods_supported: None,
            token_endpoint_auth_signing_alg_values_supported: None,
            introspection_endpoint_auth_methods_supported: None,
            introspection_endpoint_auth_signing_alg_values_supported: None,
            revocation_endpoint_auth_methods_supported: None,
            revocation_endpoint_auth_signing_alg_values_supported: None,
            request_object_signing_alg_values_supported: None,
            claims_supported: None,
            authorization_details_types_supported: None,
            authorization_details_schemas_endpoint: None,
            countersign_device_endpoint: None,
            countersign_admin_endpoint: None,
            authorization_endpoint: None,
            userinfo_endpoint: None,
            response_modes_supported: None,
            acr_values_supported: None,
            code_challenge_methods_supported: None,
            service_documentation: None,
            op_policy_uri: None,
            op_tos_uri: None,
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::METADATA_DEVICE_ENDPOINT;
    use serde_json::json;

    const VECTOR: &str = include_str!("../testdata/oauth/server-metadata.json");

    #[test]
    fn vector_round_trips_byte_for_byte_with_unknown_members() {
        let meta: ServerMetadata = serde_json::from_str(VECTOR).unwrap();
        assert_eq!(meta.issuer, "https://auth.example.com");
        assert_eq!(
            meta.backchannel_token_delivery_modes_supported,
            Some(vec![TokenDeliveryMode::Poll, TokenDeliveryMode::Ping, TokenDeliveryMode::Push])
        );
        assert_eq!(meta.grant_types_supported, Some(vec![GrantType::Ciba]));
        assert_eq!(meta.response_types_supported, Some(vec![]));
        assert_eq!(
            meta.token_endpoint_auth_methods_supported,
            Some(vec![
                TokenEndpointAuthMethod::ClientSecretBasic,
                TokenEndpointAuthMethod::ClientSecretPost,
                TokenEndpointAuthMethod::PrivateKeyJwt,
            ])
        );
        assert_eq!(meta.countersign_device_endpoint.as_deref(), Some("https://auth.example.com/device/v1"));
        // Unknown members are kept, values and order.
        let keys: Vec<&str> = meta.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["x_example_flag", "mtls_endpoint_aliases"]);
        assert_eq!(
            meta.extra["mtls_endpoint_aliases"],
            json!({"token_endpoint": "https://mtls.auth.example.com/token"})
        );
        let pretty = serde_json::to_string_pretty(&meta).unwrap();
        assert_eq!(pretty, VECTOR.trim_end());
        let value: Value = serde_json::from_str(VECTOR).unwrap();
        assert_eq!(serde_json::to_value(&meta).unwrap(), value);
    }

    #[test]
    fn only_issuer_is_required_and_types_are_checked() {
        let m: ServerMetadata = serde_json::from_value(json!({"issuer": "https://a.example"})).unwrap();
        assert_eq!(m, ServerMetadata::new("https://a.example"));
        assert_eq!(serde_json::to_value(&m).unwrap(), json!({"issuer": "https://a.example"}));
        assert!(serde_json::from_value::<ServerMetadata>(json!({})).is_err());
        assert!(serde_json::from_value::<ServerMetadata>(json!({"issuer": 5})).is_err());
        let bad = json!({"issuer": "https://a.example", METADATA_DEVICE_ENDPOINT: 5});
        assert!(serde_json::from_value::<ServerMetadata>(bad).is_err());
        // The empty string is no registered value (crate::wire).
        let empty = json!({"issuer": "https://a.example", "token_endpoint_auth_methods_supported": [""]});
        assert!(serde_json::from_value::<ServerMetadata>(empty).is_err());
        // Unknown values of registered lists are kept.
        let ext = json!({"issuer": "https://a.example", "token_endpoint_auth_methods_supported": ["x_auth"],
            "backchannel_token_delivery_modes_supported": ["x_mode"]});
        let m: ServerMetadata = serde_json::from_value(ext.clone()).unwrap();
        assert_eq!(serde_json::to_value(&m).unwrap(), ext);
    }

    #[test]
    fn the_device_endpoint_member_is_the_documented_one() {
        let mut m = ServerMetadata::new("https://a.example");
        m.countersign_device_endpoint = Some("https://a.example/device/v1".into());
        assert_eq!(serde_json::to_value(&m).unwrap()[METADATA_DEVICE_ENDPOINT], "https://a.example/device/v1");
    }
}
