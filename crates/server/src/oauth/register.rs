//! `POST /register`: RFC 7591 dynamic client registration with the CIBA
//! client metadata (CIBA Core §4) and RFC 9396 `authorization_details_types`.

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use countersign_protocol::ciba::{GrantType, Scope, TokenDeliveryMode, CIBA_GRANT_TYPE};
use countersign_protocol::error::Endpoint;
use countersign_protocol::jws::JwsAlg;
use countersign_protocol::registration::{
    ClientMetadata, ClientRegistrationRequest, ClientRegistrationResponse, TokenEndpointAuthMethod,
};
use countersign_protocol::secret::{generate_url_safe, ClientSecret, InitialAccessToken, TICKET_BYTES};
use serde_json::Value;

use crate::config::RegistrationPolicy;
use crate::error::OAuthError;
use crate::oauth::clients::AUTH_METHODS;
use crate::state::AppState;
use crate::store;
use crate::util;

/// Longest `client_name`, characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 100;

fn meta_err(msg: impl Into<String>) -> OAuthError {
    OAuthError::InvalidClientMetadata(msg.into())
}

fn check_initial_token(state: &AppState, headers: &HeaderMap) -> Result<(), OAuthError> {
    let RegistrationPolicy::InitialAccessToken(expected) = &state.config.registration else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| InitialAccessToken::new(t.trim().to_owned()))
        .ok_or(OAuthError::InvalidToken("an initial access token is required"))?;
    // Compare hashes: constant time and independent of the lengths.
    if !util::ct_eq(&util::hash_secret(presented.secret()), &util::hash_secret(expected.secret())) {
        return Err(OAuthError::InvalidToken("initial access token not valid"));
    }
    Ok(())
}

/// Human-readable metadata: 1 to `max` characters, none of them flagged by
/// `countersign_text` in one line of prose (control, bidirectional,
/// invisible or format characters, private use or unassigned characters,
/// lookalike letters of another script in a word): the classifier every
/// approver warns with.
pub fn check_text(name: &str, value: &str, max: usize) -> Result<(), OAuthError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(meta_err(format!("{name} must be 1 to {max} characters")));
    }
    if let Some(found) = countersign_text::first_finding(value, countersign_text::Context::Line) {
        return Err(meta_err(format!(
            "{name} must not contain control, bidirectional, invisible or format characters or lookalike letters \
             (found {} {} at position {}, {})",
            countersign_text::code_point(found.character),
            countersign_text::char_name(found.character),
            found.index,
            found.class.description()
        )));
    }
    Ok(())
}

/// Longest `software_id`, `software_version` and `contacts` entry, characters.
const MAX_METADATA_TEXT_CHARS: usize = 256;

fn check_https(name: &str, value: &str) -> Result<(), OAuthError> {
    match url::Url::parse(value) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(()),
        _ => Err(meta_err(format!("{name} must be an https URL"))),
    }
}

/// `POST /register`.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.at(Endpoint::Registration),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    check_initial_token(state, headers)?;
    let body = crate::body::json(headers, body, state.config.max_body_bytes)?;
    let value = countersign_protocol::jcs::parse_strict(&body).map_err(|e| meta_err(e.to_string()))?;
    if !value.is_object() {
        return Err(meta_err("the body must be a JSON object"));
    }
    let ClientRegistrationRequest { metadata: req } =
        serde_json::from_value(value).map_err(|e| meta_err(e.to_string()))?;
    let cfg = &state.config;

    if let Some(uris) = &req.redirect_uris {
        for u in uris {
            match url::Url::parse(u) {
                Ok(p) if p.fragment().is_none() => {}
                _ => {
                    return Err(OAuthError::InvalidRedirectUri(format!(
                        "not an absolute URL without fragment: {}",
                        util::quoted(u)
                    )))
                }
            }
        }
    }

    let auth_method = req.token_endpoint_auth_method.clone().unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic);
    if !AUTH_METHODS.contains(&auth_method.as_str()) {
        return Err(meta_err(format!("token_endpoint_auth_method must be one of {}", AUTH_METHODS.join(", "))));
    }
    if let Some(alg) = &req.token_endpoint_auth_signing_alg {
        if *alg != JwsAlg::Es256 {
            return Err(meta_err("token_endpoint_auth_signing_alg must be ES256"));
        }
    }
    if req.jwks.is_some() && req.jwks_uri.is_some() {
        return Err(meta_err("jwks and jwks_uri are mutually exclusive"));
    }
    if let Some(set) = &req.jwks {
        if crate::oauth::jwks::usable_keys(set).is_empty() {
            return Err(meta_err("jwks must contain at least one EC P-256 signing key"));
        }
    }
    if let Some(uri) = &req.jwks_uri {
        crate::outbound::check_url(uri, cfg.danger_allow_http_loopback_jwks_uri)
            .map_err(|e| meta_err(format!("jwks_uri: {e}")))?;
    }
    let has_keys = req.jwks.is_some() || req.jwks_uri.is_some();
    let private_key_jwt = auth_method == TokenEndpointAuthMethod::PrivateKeyJwt;
    if private_key_jwt && !has_keys {
        return Err(meta_err("private_key_jwt needs jwks or jwks_uri"));
    }

    let grant_types = req.grant_types.clone().unwrap_or_else(|| vec![GrantType::Ciba]);
    let ciba_grants = grant_types.iter().filter(|g| **g == GrantType::Ciba).count();
    let refresh_grants = grant_types.iter().filter(|g| **g == GrantType::RefreshToken).count();
    if ciba_grants != 1 || refresh_grants > 1 || ciba_grants + refresh_grants != grant_types.len() {
        return Err(meta_err(format!(
            "grant_types must be [\"{CIBA_GRANT_TYPE}\"], optionally with \"refresh_token\" (each once)"
        )));
    }
    let refresh_tokens = refresh_grants == 1;
    // Lifetimes: each at least a second and at most the server's (which is
    // also the default).
    for (name, value, max, flag) in [
        ("access_token_lifetime", req.access_token_lifetime, cfg.access_token_ttl_secs, "--token-ttl"),
        (
            "refresh_token_lifetime",
            req.refresh_token_lifetime,
            cfg.refresh_token_lifetime_secs,
            "--refresh-token-lifetime",
        ),
        (
            "refresh_token_idle_lifetime",
            req.refresh_token_idle_lifetime,
            cfg.refresh_token_idle_lifetime_secs,
            "--refresh-token-idle-lifetime",
        ),
    ] {
        match value {
            Some(0) => return Err(meta_err(format!("{name} must be at least 1 (seconds)"))),
            Some(v) if v > max => {
                return Err(meta_err(format!(
                    "{name} must be at most {max} seconds, this server's maximum ({flag}); got {v}"
                )))
            }
            _ => {}
        }
    }
    if !refresh_tokens && (req.refresh_token_lifetime.is_some() || req.refresh_token_idle_lifetime.is_some()) {
        return Err(meta_err(
            "refresh_token_lifetime and refresh_token_idle_lifetime need grant_types with \"refresh_token\"",
        ));
    }

    // An empty mode is refused when the body is read (the empty string is
    // no registered value), with the other malformed members.
    let mode = req
        .backchannel_token_delivery_mode
        .clone()
        .ok_or_else(|| meta_err("backchannel_token_delivery_mode is required"))?;
    if mode.is_extension_mode() {
        return Err(meta_err("backchannel_token_delivery_mode must be poll, ping or push"));
    }
    let endpoint = match mode {
        TokenDeliveryMode::Ping | TokenDeliveryMode::Push => {
            let e = req
                .backchannel_client_notification_endpoint
                .clone()
                .ok_or_else(|| meta_err("backchannel_client_notification_endpoint is required for ping and push"))?;
            crate::outbound::check_url(&e, cfg.danger_allow_http_loopback_notifications)
                .map_err(|m| meta_err(format!("backchannel_client_notification_endpoint: {m}")))?;
            Some(e)
        }
        _ => None,
    };
    if let Some(alg) = &req.backchannel_authentication_request_signing_alg {
        if *alg != JwsAlg::Es256 {
            return Err(meta_err("backchannel_authentication_request_signing_alg must be ES256"));
        }
        if !has_keys {
            return Err(meta_err("backchannel_authentication_request_signing_alg needs jwks or jwks_uri"));
        }
    }

    let types = req.authorization_details_types.clone().unwrap_or_default();
    for t in &types {
        if t.is_empty() {
            return Err(meta_err("authorization_details_types must not contain empty strings"));
        }
        if !state.schemas.supports(t) {
            return Err(meta_err(format!(
                "authorization_details type '{}' has no display schema on this server",
                crate::util::quoted(t)
            )));
        }
    }
    let scope = req.scope.as_deref().map(Scope::parse).transpose().map_err(|e| meta_err(format!("scope: {e}")))?;

    let client_name = req.client_name.clone().unwrap_or_else(|| "Unnamed client".into());
    check_text("client_name", &client_name, MAX_CLIENT_NAME_CHARS)?;
    for (name, value) in [("software_id", &req.software_id), ("software_version", &req.software_version)] {
        if let Some(v) = value {
            check_text(name, v, MAX_METADATA_TEXT_CHARS)?;
        }
    }
    for c in req.contacts.iter().flatten() {
        check_text("contacts", c, MAX_METADATA_TEXT_CHARS)?;
    }
    if let Some(l) = &req.logo_uri {
        check_https("logo_uri", l)?;
    }
    if let Some(u) = &req.client_uri {
        check_https("client_uri", u)?;
    }

    let client_id = util::random_id("cli_", 16)?;
    let now = state.now();
    let secret = if private_key_jwt {
        None
    } else {
        Some(ClientSecret::new(generate_url_safe(TICKET_BYTES).map_err(crate::error::Internal::from)?))
    };
    let user_code_parameter = req.backchannel_user_code_parameter.unwrap_or(false);

    // The registered metadata, echoed to the client (RFC 7591 §3.2.1). The
    // members the server does not keep (`response_types`, `tos_uri`,
    // `policy_uri`, `software_statement`, extensions) are not echoed.
    let mut registered = ClientRegistrationResponse {
        client_id: client_id.clone(),
        client_id_issued_at: Some(now),
        metadata: ClientMetadata {
            client_name: Some(client_name.clone()),
            token_endpoint_auth_method: Some(auth_method.clone()),
            grant_types: Some(grant_types),
            backchannel_token_delivery_mode: Some(mode.clone()),
            backchannel_client_notification_endpoint: endpoint.clone(),
            backchannel_authentication_request_signing_alg: req.backchannel_authentication_request_signing_alg.clone(),
            backchannel_user_code_parameter: Some(user_code_parameter),
            authorization_details_types: Some(types.clone()),
            redirect_uris: req.redirect_uris.clone(),
            token_endpoint_auth_signing_alg: req.token_endpoint_auth_signing_alg.clone(),
            client_uri: req.client_uri.clone(),
            logo_uri: req.logo_uri.clone(),
            scope: scope.as_ref().map(Scope::to_param),
            contacts: req.contacts.clone(),
            jwks_uri: req.jwks_uri.clone(),
            jwks: req.jwks.clone(),
            software_id: req.software_id.clone(),
            software_version: req.software_version.clone(),
            access_token_lifetime: req.access_token_lifetime,
            refresh_token_lifetime: req.refresh_token_lifetime,
            refresh_token_idle_lifetime: req.refresh_token_idle_lifetime,
            ..ClientMetadata::default()
        },
        client_secret: None,
        client_secret_expires_at: None,
    };
    // Stored without the secret.
    let metadata = serde_json::to_string(&registered).map_err(crate::error::Internal::from)?;

    let mut tx = store::begin(&state.db).await?;
    sqlx::query(
        "INSERT INTO clients (client_id, secret_hash, auth_method, delivery_mode, notification_endpoint, \
         request_signing_alg, user_code_parameter, jwks, jwks_uri, client_name, logo_uri, scope, details_types, \
         metadata, created_at, refresh_tokens, access_token_lifetime, refresh_token_lifetime, \
         refresh_token_idle_lifetime) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(&client_id)
    .bind(secret.as_ref().map(|s| util::hash_secret(s.secret())))
    .bind(auth_method.as_str())
    .bind(mode.as_str())
    .bind(&endpoint)
    .bind(req.backchannel_authentication_request_signing_alg.as_ref().map(JwsAlg::as_str))
    .bind(store::flag(user_code_parameter))
    .bind(req.jwks.as_ref().map(Value::to_string))
    .bind(&req.jwks_uri)
    .bind(&client_name)
    .bind(&req.logo_uri)
    .bind(scope.as_ref().map(Scope::to_param))
    .bind(serde_json::to_string(&types).map_err(crate::error::Internal::from)?)
    .bind(metadata)
    .bind(store::ts(now))
    .bind(store::flag(refresh_tokens))
    .bind(req.access_token_lifetime.map(store::ts))
    .bind(req.refresh_token_lifetime.map(store::ts))
    .bind(req.refresh_token_idle_lifetime.map(store::ts))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(client_id = %client_id, mode = %mode, "client registered");

    if let Some(s) = secret {
        registered.client_secret = Some(s);
        registered.client_secret_expires_at = Some(0);
    }
    let mut resp = (StatusCode::CREATED, Json(registered)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

trait ModeExt {
    fn is_extension_mode(&self) -> bool;
}

impl ModeExt for TokenDeliveryMode {
    fn is_extension_mode(&self) -> bool {
        matches!(self, TokenDeliveryMode::Extension(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, OffsetClock, RegistrySchemas};
    use countersign_protocol::device::Issuer;
    use serde_json::{json, Map};
    use std::sync::Arc;

    /// The response as the server built it before the typed
    /// `ClientRegistrationResponse` (a map filled in this order).
    fn as_before(out: &Value, req: &Value) -> Value {
        let mut meta = Map::new();
        for k in ["client_id", "client_id_issued_at"] {
            meta.insert(k.into(), out[k].clone());
        }
        meta.insert("client_name".into(), req.get("client_name").cloned().unwrap_or(json!("Unnamed client")));
        meta.insert(
            "token_endpoint_auth_method".into(),
            req.get("token_endpoint_auth_method").cloned().unwrap_or(json!("client_secret_basic")),
        );
        meta.insert("grant_types".into(), json!([CIBA_GRANT_TYPE]));
        meta.insert("backchannel_token_delivery_mode".into(), req["backchannel_token_delivery_mode"].clone());
        for k in ["backchannel_client_notification_endpoint", "backchannel_authentication_request_signing_alg"] {
            if let Some(v) = req.get(k) {
                meta.insert(k.into(), v.clone());
            }
        }
        meta.insert(
            "backchannel_user_code_parameter".into(),
            req.get("backchannel_user_code_parameter").cloned().unwrap_or(json!(false)),
        );
        meta.insert(
            "authorization_details_types".into(),
            req.get("authorization_details_types").cloned().unwrap_or(json!([])),
        );
        for k in [
            "redirect_uris",
            "token_endpoint_auth_signing_alg",
            "client_uri",
            "logo_uri",
            "scope",
            "contacts",
            "jwks_uri",
            "jwks",
            "software_id",
            "software_version",
        ] {
            if let Some(v) = req.get(k) {
                meta.insert(k.into(), v.clone());
            }
        }
        if let Some(s) = out.get("client_secret") {
            meta.insert("client_secret".into(), s.clone());
            meta.insert("client_secret_expires_at".into(), json!(0));
        }
        Value::Object(meta)
    }

    #[tokio::test]
    async fn the_typed_response_has_the_same_bytes_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::ops::open_database(&dir.path().join("t.db")).await.unwrap();
        let mut config = Config::new(Issuer::new("https://auth.example.com").unwrap());
        config.registration = RegistrationPolicy::Open;
        let schemas = Arc::new(RegistrySchemas::builtin().unwrap());
        let state = AppState::new(config, db, Arc::new(OffsetClock::new()), schemas).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for req in [
            json!({"backchannel_token_delivery_mode": "poll"}),
            json!({"x_unknown": [1, 2], "software_version": "1.4", "scope": "openid trade",
                "client_uri": "https://agent.example.net", "contacts": ["ops@agent.example.net"],
                "redirect_uris": ["https://agent.example.net/cb"], "logo_uri": "https://agent.example.net/l.png",
                "software_id": "agent", "authorization_details_types": ["payment_initiation"],
                "backchannel_user_code_parameter": true, "token_endpoint_auth_method": "client_secret_post",
                "client_name": "Portfolio Agent", "grant_types": [CIBA_GRANT_TYPE],
                "backchannel_token_delivery_mode": "push",
                "backchannel_client_notification_endpoint": "https://agent.example.net/push",
                "tos_uri": "https://agent.example.net/tos"}),
        ] {
            let body = Bytes::from(req.to_string());
            let resp = handle(&state, &headers, Ok(body)).await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            let text = std::str::from_utf8(&bytes).unwrap();
            let out: Value = serde_json::from_str(text).unwrap();
            assert_eq!(text, as_before(&out, &req).to_string(), "{req}");
        }
    }
}
