//! Tokens: RFC 9068 JWT access tokens and OpenID ID tokens, ES256.

use countersign_protocol::ciba::{Jwt, Scope, TokenResponse, TokenType};
use countersign_protocol::jws::{b64url_encode, DeviceKeyPair, JwtType, SignHeader};
use countersign_protocol::rar::AuthorizationDetails;
use countersign_protocol::secret::{AccessToken, AuthReqId};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{json, Value};
use sqlx::AnyConnection;
use std::sync::Arc;

use crate::crypto::secret_key::{Purpose, SecretKey};
use crate::error::Internal;
use crate::oauth::refresh;
use crate::state::AppState;
use crate::store;
use crate::store::requests::StoredRequest;
use crate::util;

/// The ID token claim carrying the `auth_req_id` (CIBA Core §10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";

/// The active signing key, fetched before a write transaction starts or on
/// its own connection ([`Signer::active_on`]): never a second pool
/// connection while holding the write turn.
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

    /// [`Signer::active`] read on `conn`, the caller's transaction.
    ///
    /// # Errors
    /// The database failed.
    pub async fn active_on(state: &AppState, conn: &mut sqlx::AnyConnection) -> Result<Self, Internal> {
        let (kid, pair) = state.keys.active_on(conn).await?;
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

/// Revokes the access token `jti` and with it its grant, inside the
/// caller's transaction, and audits it: the grant's other access tokens
/// (a refreshed grant has several) and its refresh token family end too
/// (RFC 7009 §2.1 allows it; revoking a grant ends its refresh tokens).
/// `false` when the token was unknown or already revoked.
///
/// # Errors
/// The database failed.
pub async fn revoke(
    conn: &mut AnyConnection,
    jti: &str,
    by: &crate::audit::Actor<'_>,
    reason: &str,
    now: u64,
) -> Result<bool, Internal> {
    let row = sqlx::query(
        "UPDATE tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL RETURNING sub, request_id",
    )
    .bind(store::ts(now))
    .bind(jti)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let sub: String = sqlx::Row::try_get(&row, "sub")?;
    let request_id: String = sqlx::Row::try_get(&row, "request_id")?;
    let ended = refresh::revoke_family(conn, &request_id, now).await?;
    let data = if ended.is_empty() {
        json!({ "reason": reason })
    } else {
        json!({ "reason": reason, "request_id": request_id, "access_tokens_revoked": ended.access_tokens,
            "refresh_tokens_revoked": ended.refresh_tokens })
    };
    crate::audit::append(
        conn,
        now,
        &crate::audit::Record::new(by.clone(), countersign_protocol::admin::AuditAction::TokenRevoked)
            .target(jti)
            .user(&sub)
            .data(data),
    )
    .await?;
    Ok(true)
}

/// The ID token claim carrying the hash of the refresh token in push mode
/// (CIBA Core §10.3.1).
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";

/// Issued tokens, not yet recorded.
pub struct Issued {
    /// The token response (also the push body, with `auth_req_id`).
    pub response: TokenResponse,
    jti: String,
    claims: Value,
    exp: u64,
    /// The refresh token issued with them, to record.
    refresh: Option<refresh::NewRefresh>,
}

/// What the tokens minted for a request carry: the scope and
/// `authorization_details` (as approved, or narrowed by a refresh), the
/// access token's lifetime, whether an ID token goes with it, and the
/// refresh token, if one is issued.
pub struct Grant {
    /// The scope of the access token (may be empty: no `scope` then).
    pub scope: Vec<String>,
    /// Its `authorization_details`.
    pub details: AuthorizationDetails,
    /// The access token's lifetime, seconds.
    pub access_ttl: u64,
    /// Whether an ID token is issued (the CIBA grant; not a refresh).
    pub id_token: bool,
    /// The refresh token to issue.
    pub refresh: Option<refresh::NewRefresh>,
}

impl Grant {
    /// The request as approved, with the server's access token lifetime, an
    /// ID token and no refresh token.
    #[must_use]
    pub fn as_approved(req: &StoredRequest, cfg: &crate::Config) -> Self {
        Self {
            scope: req.scope.clone(),
            details: req.details.clone(),
            access_ttl: cfg.access_token_ttl_secs,
            id_token: true,
            refresh: None,
        }
    }
}

/// Mints the tokens of an approved request as approved, with the server's
/// lifetimes and no refresh token (see [`mint_grant`]); for tests.
///
/// # Errors
/// Signing or the RNG failed.
#[cfg(any(test, feature = "test-util"))]
pub fn mint(
    state: &AppState,
    signer: &Signer,
    req: &StoredRequest,
    now: u64,
    push_auth_req_id: Option<&AuthReqId>,
) -> Result<Issued, Internal> {
    mint_grant(state, signer, req, Grant::as_approved(req, &state.config), now, push_auth_req_id)
}

/// Mints the tokens of `req`'s redemption (the token endpoint, or a push):
/// the client's access token lifetime; a refresh token when the approved
/// scope has `offline_access` and the client may hold refresh tokens,
/// otherwise `offline_access` is dropped from the scope issued
/// (docs/server.md, "Refresh tokens").
///
/// # Errors
/// The database, signing or the RNG failed.
pub async fn mint_redemption(
    conn: &mut AnyConnection,
    state: &AppState,
    signer: &Signer,
    req: &StoredRequest,
    now: u64,
    push_auth_req_id: Option<&AuthReqId>,
) -> Result<Issued, Internal> {
    let policy = refresh::ClientPolicy::load(conn, &state.config, &req.client_id).await?;
    let mut grant = Grant::as_approved(req, &state.config);
    grant.access_ttl = policy.access_ttl;
    if req.scope.iter().any(|s| s == refresh::OFFLINE_ACCESS) {
        if policy.refresh_tokens {
            grant.refresh = Some(refresh::NewRefresh::new(&policy, now, None)?);
        } else {
            grant.scope.retain(|s| s != refresh::OFFLINE_ACCESS);
        }
    }
    mint_grant(state, signer, req, grant, now, push_auth_req_id)
}

/// Mints the tokens of `req` carrying `grant`. `push_auth_req_id` adds the
/// `urn:openid:params:jwt:claim:auth_req_id` claim (push mode, CIBA Core
/// §10.3.1), and then `urn:openid:params:jwt:claim:rt_hash` with a refresh
/// token; `at_hash` is always present.
///
/// # Errors
/// Signing or the RNG failed.
pub fn mint_grant(
    state: &AppState,
    signer: &Signer,
    req: &StoredRequest,
    grant: Grant,
    now: u64,
    push_auth_req_id: Option<&AuthReqId>,
) -> Result<Issued, Internal> {
    let cfg = &state.config;
    let jti = util::random_id("", 16)?;
    let exp = now.saturating_add(grant.access_ttl);
    let scope = if grant.scope.is_empty() {
        None
    } else {
        Some(Scope::from_tokens(grant.scope.iter().cloned()).map_err(|e| Internal::new(format!("scope: {e}")))?)
    };
    let auth_time = req.decided_at.unwrap_or(now);
    let mut claims = json!({
        "iss": cfg.issuer.as_str(),
        "sub": req.sub,
        "client_id": req.client_id,
        "act": { "sub": req.client_id },
        "scope": scope.as_ref().map(Scope::to_param),
        "authorization_details": grant.details,
        "jti": jti,
        "iat": now,
        "exp": exp,
        "auth_time": auth_time,
        // REQUIRED by RFC 9068 §2.2: the API approved, else the default, else this issuer.
        "aud": req.token_audience(cfg),
    });
    // How the person was verified (RFC 9068 §2.2.1, OpenID Connect Core §2),
    // only when the decision showed it.
    let amr = (!req.amr.is_empty()).then(|| json!(req.amr.iter().map(|m| m.as_str()).collect::<Vec<_>>()));
    if let (Some(amr), Some(obj)) = (&amr, claims.as_object_mut()) {
        obj.insert("amr".into(), amr.clone());
    }
    if let (None, Some(obj)) = (&scope, claims.as_object_mut()) {
        obj.remove("scope");
    }
    let access = signer.sign(JwtType::AccessToken, &claims)?;
    let id_token = if grant.id_token {
        let id = id_token_claims(state, req, &access, auth_time, amr, now, push_auth_req_id, grant.refresh.as_ref());
        Some(Jwt::new(signer.sign(JwtType::Jwt, &id)?).map_err(|e| Internal::new(format!("id token: {e}")))?)
    } else {
        None
    };
    let response = TokenResponse {
        access_token: AccessToken::new(access),
        token_type: TokenType::Bearer,
        refresh_token: grant.refresh.as_ref().map(|r| r.token.clone()),
        expires_in: grant.access_ttl,
        id_token,
        scope,
        authorization_details: Some(grant.details),
    };
    Ok(Issued { response, jti, claims, exp, refresh: grant.refresh })
}

/// The ID token's claims.
#[allow(clippy::too_many_arguments)]
fn id_token_claims(
    state: &AppState,
    req: &StoredRequest,
    access: &str,
    auth_time: u64,
    amr: Option<Value>,
    now: u64,
    push_auth_req_id: Option<&AuthReqId>,
    refresh: Option<&refresh::NewRefresh>,
) -> Value {
    let cfg = &state.config;
    let mut id = json!({
        "iss": cfg.issuer.as_str(),
        "sub": req.sub,
        "aud": req.client_id,
        "iat": now,
        "exp": now.saturating_add(cfg.id_token_ttl_secs),
        "auth_time": auth_time,
        "at_hash": at_hash(access),
    });
    if let (Some(amr), Some(obj)) = (amr, id.as_object_mut()) {
        obj.insert("amr".into(), amr);
    }
    if let (Some(a), Some(obj)) = (push_auth_req_id, id.as_object_mut()) {
        obj.insert(AUTH_REQ_ID_CLAIM.into(), json!(a.secret()));
        if let Some(r) = refresh {
            // Computed as at_hash is (CIBA Core §10.3.1).
            obj.insert(RT_HASH_CLAIM.into(), json!(at_hash(r.token.secret())));
        }
    }
    id
}

impl Issued {
    /// Records the access token (for introspection and revocation).
    async fn insert_token(&self, conn: &mut AnyConnection, req: &StoredRequest, now: u64) -> Result<(), Internal> {
        sqlx::query(
            "INSERT INTO tokens (jti, request_id, client_id, sub, claims, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&self.jti)
        .bind(req.request_id.as_str())
        .bind(&req.client_id)
        .bind(&req.sub)
        .bind(self.claims.to_string())
        .bind(store::ts(now))
        .bind(store::ts(self.exp))
        .execute(&mut *conn)
        .await?;
        if let Some(r) = &self.refresh {
            r.insert(conn, req, now).await?;
        }
        crate::audit::append(
            conn,
            now,
            &crate::audit::Record::new(
                crate::audit::Actor::Client(&req.client_id),
                countersign_protocol::admin::AuditAction::TokenIssued,
            )
            .target(&self.jti)
            .user(&req.sub)
            .data(match &self.refresh {
                None => json!({ "request_id": req.request_id.as_str(), "expires_at": self.exp }),
                Some(r) => json!({
                    "request_id": req.request_id.as_str(),
                    "expires_at": self.exp,
                    "refresh_token_expires_at": r.idle_expires_at,
                }),
            }),
        )
        .await?;
        Ok(())
    }

    /// Records the access token and the rotated refresh token of a refresh
    /// of `req`'s grant, inside the caller's transaction.
    ///
    /// # Errors
    /// The database failed.
    pub async fn record_refresh(
        &self,
        conn: &mut AnyConnection,
        req: &StoredRequest,
        now: u64,
    ) -> Result<(), Internal> {
        self.insert_token(conn, req, now).await
    }

    /// Records the access token (for introspection and revocation) and marks
    /// the request redeemed, inside the caller's transaction.
    ///
    /// # Errors
    /// The database failed.
    pub async fn record(&self, conn: &mut AnyConnection, req: &StoredRequest, now: u64) -> Result<(), Internal> {
        self.insert_token(conn, req, now).await?;
        sqlx::query("UPDATE auth_requests SET redeemed_at = $1 WHERE request_id = $2")
            .bind(store::ts(now))
            .bind(req.request_id.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Redeems `req` at the token endpoint, inside the caller's transaction:
    /// marks the request redeemed, keeps `stored` (the sealed token response
    /// and the end of its replay window, see [`ResponseKey`]) and records the
    /// access token. The mark is conditional (`redeemed_at IS NULL`) and comes
    /// first, so that of two redemptions racing on a database that does not
    /// serialise writers (PostgreSQL) only one can succeed. Returns `false`,
    /// having written nothing, when the request was already redeemed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn redeem(
        &self,
        conn: &mut AnyConnection,
        req: &StoredRequest,
        now: u64,
        stored: Option<(&str, u64)>,
    ) -> Result<bool, Internal> {
        let marked = sqlx::query(
            "UPDATE auth_requests SET redeemed_at = $1, token_response = $2, token_response_until = $3 \
             WHERE request_id = $4 AND redeemed_at IS NULL",
        )
        .bind(store::ts(now))
        .bind(stored.map(|(sealed, _)| sealed))
        .bind(stored.map(|(_, until)| store::ts(until)))
        .bind(req.request_id.as_str())
        .execute(&mut *conn)
        .await?;
        if marked.rows_affected() != 1 {
            return Ok(false);
        }
        self.insert_token(conn, req, now).await?;
        Ok(true)
    }
}

/// The key of stored token responses: AES-256-GCM under
/// `SecretKey::derive(Purpose::TokenResponses)`, so the stored responses
/// open only with the key file beside the database, never with the database
/// alone. Each response is sealed with a fresh random 96-bit nonce (one
/// message per redemption, far below the 2^32 messages a random-nonce key
/// allows) and its request id as associated data, so a ciphertext copied to
/// another request does not open. `Debug` shows nothing of the key.
pub struct ResponseKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for ResponseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseKey(<redacted>)")
    }
}

impl ResponseKey {
    /// The key derived from the server's secret key.
    ///
    /// # Errors
    /// Never in practice (the derived key has the length AES-256 needs).
    pub fn new(secret: &SecretKey) -> Result<Self, Internal> {
        let bytes = secret.derive(Purpose::TokenResponses);
        let key = UnboundKey::new(&AES_256_GCM, bytes.as_ref())
            .map_err(|_| Internal::new("token response key: wrong length"))?;
        Ok(Self { key: LessSafeKey::new(key), rng: SystemRandom::new() })
    }

    /// Encrypts `plaintext` (a token response) for the request `request_id`:
    /// `base64url(nonce || ciphertext || tag)`.
    ///
    /// # Errors
    /// The system random number generator failed.
    pub fn seal(&self, request_id: &str, plaintext: &[u8]) -> Result<String, Internal> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| Internal::new("system random number generator failed"))?;
        let mut body = plaintext.to_vec();
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(request_id.as_bytes()),
                &mut body,
            )
            .map_err(|_| Internal::new("sealing a token response failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len() + tag.as_ref().len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(b64url_encode(&out))
    }

    /// Decrypts what [`Self::seal`] produced for `request_id`; `None` when it
    /// is not valid base64url, was sealed for another request or under
    /// another key, or was altered.
    #[must_use]
    pub fn open(&self, request_id: &str, sealed: &str) -> Option<Vec<u8>> {
        let mut bytes = countersign_protocol::jws::b64url_decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(bytes.get(..NONCE_LEN)?).ok()?;
        let body = bytes.get_mut(NONCE_LEN..)?;
        let plain = self.key.open_in_place(nonce, Aad::from(request_id.as_bytes()), body).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &tempfile::TempDir) -> ResponseKey {
        let secret = SecretKey::load_or_create(&dir.path().join("k")).expect("key file");
        ResponseKey::new(&secret).expect("key")
    }

    #[test]
    fn sealed_responses_open_only_for_their_request_under_their_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let k = key(&dir);
        let plain = br#"{"access_token":"eyJ.secret.token","token_type":"Bearer"}"#;
        let sealed = k.seal("req_1", plain).expect("seal");
        assert_eq!(k.open("req_1", &sealed).as_deref(), Some(&plain[..]));
        // Fresh nonce each time: two seals of the same bytes differ.
        let again = k.seal("req_1", plain).expect("seal");
        assert_ne!(sealed, again);
        assert_eq!(k.open("req_1", &again).as_deref(), Some(&plain[..]));
        // Nothing of the plaintext shows.
        let raw = countersign_protocol::jws::b64url_decode(&sealed).expect("base64url");
        assert!(!raw.windows(6).any(|w| w == b"secret"));
        assert_eq!(raw.len(), NONCE_LEN + plain.len() + 16);
        // Another request (the associated data), another key, an altered byte,
        // a truncated or non-base64url value: nothing opens.
        assert!(k.open("req_2", &sealed).is_none());
        let other_dir = tempfile::tempdir().expect("tempdir");
        assert!(key(&other_dir).open("req_1", &sealed).is_none());
        let mut altered = raw.clone();
        if let Some(b) = altered.get_mut(NONCE_LEN + 3) {
            *b ^= 1;
        }
        assert!(k.open("req_1", &b64url_encode(&altered)).is_none());
        assert!(k.open("req_1", &b64url_encode(&raw[..NONCE_LEN + 15])).is_none());
        assert!(k.open("req_1", "not base64url!").is_none());
        assert_eq!(format!("{k:?}"), "ResponseKey(<redacted>)");
    }
}
