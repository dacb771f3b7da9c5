//! Tokens: RFC 9068 JWT access tokens and OpenID ID tokens, ES256.

use countersign_protocol::ciba::{Jwt, Scope, TokenResponse, TokenType};
use countersign_protocol::jws::{b64url_encode, DeviceKeyPair, JwtType, SignHeader};
use countersign_protocol::secret::{AccessToken, AuthReqId};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::sync::Arc;

use crate::db;
use crate::error::Internal;
use crate::requests::StoredRequest;
use crate::state::AppState;
use crate::util;

/// The ID token claim carrying the `auth_req_id` (CIBA Core §10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";

/// The active signing key, fetched before a write transaction starts.
pub struct Signer {
    kid: String,
    pair: Arc<DeviceKeyPair>,
}

impl Signer {
    /// The active key.
    ///
    /// # Errors
    /// The database failed.
    pub async fn active(state: &AppState) -> Result<Self, Internal> {
        let (kid, pair) = state.keys.active(&state.db).await?;
        Ok(Self { kid, pair })
    }

    fn sign(&self, typ: JwtType, claims: &Value) -> Result<String, Internal> {
        Ok(self.pair.sign(&SignHeader { typ: Some(typ), kid: Some(self.kid.clone()) }, claims)?)
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of
/// SHA-256 of the access token's ASCII.
#[must_use]
pub fn at_hash(access_token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    b64url_encode(&d.as_ref()[..16])
}

/// Issued tokens, not yet recorded.
pub struct Issued {
    /// The token response (also the push body, with `auth_req_id`).
    pub response: TokenResponse,
    jti: String,
    claims: Value,
    exp: u64,
}

/// Mints the tokens of an approved request. `push_auth_req_id` adds the
/// `urn:openid:params:jwt:claim:auth_req_id` claim (push mode, CIBA Core
/// §10.3.1); `at_hash` is always present.
///
/// # Errors
/// Signing or the RNG failed.
pub fn mint(
    state: &AppState,
    signer: &Signer,
    req: &StoredRequest,
    now: u64,
    push_auth_req_id: Option<&AuthReqId>,
) -> Result<Issued, Internal> {
    let cfg = &state.config;
    let jti = util::random_id("", 16)?;
    let exp = now.saturating_add(cfg.access_token_ttl_secs);
    let scope = Scope::from_tokens(req.scope.iter().cloned()).map_err(|e| Internal::new(format!("scope: {e}")))?;
    let auth_time = req.decided_at.unwrap_or(now);
    let claims = json!({
        "iss": cfg.issuer.as_str(),
        "sub": req.sub,
        "client_id": req.client_id,
        "act": { "sub": req.client_id },
        "scope": scope.to_param(),
        "authorization_details": req.details,
        "jti": jti,
        "iat": now,
        "exp": exp,
        "auth_time": auth_time,
        // REQUIRED by RFC 9068 §2.2: the configured resource, else this issuer.
        "aud": cfg.access_token_audience.as_deref().unwrap_or(cfg.issuer.as_str()),
    });
    let access = signer.sign(JwtType::AccessToken, &claims)?;
    let mut id = json!({
        "iss": cfg.issuer.as_str(),
        "sub": req.sub,
        "aud": req.client_id,
        "iat": now,
        "exp": now.saturating_add(cfg.id_token_ttl_secs),
        "auth_time": auth_time,
        "at_hash": at_hash(&access),
    });
    if let (Some(a), Some(obj)) = (push_auth_req_id, id.as_object_mut()) {
        obj.insert(AUTH_REQ_ID_CLAIM.into(), json!(a.secret()));
    }
    let id_token = signer.sign(JwtType::Jwt, &id)?;
    let response = TokenResponse {
        access_token: AccessToken::new(access),
        token_type: TokenType::Bearer,
        refresh_token: None,
        expires_in: cfg.access_token_ttl_secs,
        id_token: Some(Jwt::new(id_token).map_err(|e| Internal::new(format!("id token: {e}")))?),
        scope: Some(scope),
        authorization_details: Some(req.details.clone()),
    };
    Ok(Issued { response, jti, claims, exp })
}

impl Issued {
    /// Records the access token (for introspection and revocation) and marks
    /// the request redeemed, inside the caller's transaction.
    ///
    /// # Errors
    /// The database failed.
    pub async fn record(&self, conn: &mut SqliteConnection, req: &StoredRequest, now: u64) -> Result<(), Internal> {
        sqlx::query(
            "INSERT INTO tokens (jti, request_id, client_id, sub, claims, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.jti)
        .bind(req.request_id.as_str())
        .bind(&req.client_id)
        .bind(&req.sub)
        .bind(self.claims.to_string())
        .bind(db::ts(now))
        .bind(db::ts(self.exp))
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE auth_requests SET redeemed_at = $1 WHERE request_id = $2")
            .bind(db::ts(now))
            .bind(req.request_id.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
