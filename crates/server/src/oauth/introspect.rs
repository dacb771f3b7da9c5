//! `POST /introspect` (RFC 7662, with RFC 9396 §9.2 `authorization_details`)
//! and `POST /revoke` (RFC 7009). Both require client authentication.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::error::Endpoint;
use countersign_protocol::jws::JwtType;
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::error::OAuthError;
use crate::oauth::clients::{AuthenticatedClient, Client, ClientEndpoint};
use crate::oauth::discovery::paths;
use crate::oauth::refresh;
use crate::state::AppState;
use crate::store;

struct TokenForm {
    client: Client,
    token: String,
}

/// The introspection endpoint, for [`AuthenticatedClient`].
pub struct IntrospectionEndpoint;

impl ClientEndpoint for IntrospectionEndpoint {
    const ENDPOINT: Endpoint = Endpoint::Introspection;
    fn audiences(state: &AppState) -> Vec<String> {
        audiences(state, paths::INTROSPECT)
    }
}

/// The revocation endpoint, for [`AuthenticatedClient`].
pub struct RevocationEndpoint;

impl ClientEndpoint for RevocationEndpoint {
    const ENDPOINT: Endpoint = Endpoint::Revocation;
    fn audiences(state: &AppState) -> Vec<String> {
        audiences(state, paths::REVOKE)
    }
}

fn audiences(state: &AppState, path: &str) -> Vec<String> {
    state.config.client_jwt_audiences(path)
}

/// The `token` parameter, once and not empty.
fn read<E>(caller: AuthenticatedClient<E>) -> Result<TokenForm, OAuthError> {
    let AuthenticatedClient { client, form: pairs, .. } = caller;
    let mut token = None;
    for (k, v) in pairs {
        if k == "token" {
            if token.is_some() {
                return Err(OAuthError::InvalidRequest("duplicate parameter: token".into()));
            }
            token = Some(v);
        }
    }
    let token =
        token.filter(|t| !t.is_empty()).ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    Ok(TokenForm { client, token })
}

/// The stored record of a valid access token: (jti, client_id, claims, revoked).
async fn lookup(state: &AppState, token: &str) -> Result<Option<(String, String, Value, bool)>, OAuthError> {
    let now = state.now();
    let Some(claims) = state
        .keys
        .verify(&state.db, token, Some(JwtType::AccessToken.as_str()), now, state.config.key_retention_secs())
        .await?
    else {
        return Ok(None);
    };
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT t.client_id, t.claims, t.expires_at, t.revoked_at, c.disabled AS client_disabled, \
         u.disabled AS user_disabled FROM tokens t JOIN clients c ON c.client_id = t.client_id \
         JOIN users u ON u.sub = t.sub WHERE t.jti = $1",
    )
    .bind(jti)
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: i64 = row.try_get("expires_at")?;
    if store::from_ts(expires_at) <= now {
        return Ok(None);
    }
    // A token of a disabled client or user is no longer active, whether or
    // not disabling revoked it (docs/server.md, "Disabling").
    let revoked = row.try_get::<Option<i64>, _>("revoked_at")?.is_some()
        || row.try_get::<i64, _>("client_disabled")? != 0
        || row.try_get::<i64, _>("user_disabled")? != 0;
    let stored: String = row.try_get("claims")?;
    let stored: Value = serde_json::from_str(&stored).map_err(crate::error::Internal::from)?;
    Ok(Some((jti.to_owned(), row.try_get("client_id")?, stored, revoked)))
}

/// Revokes the grant of the refresh token `form.token`, audited as
/// `token.revoked` (target: the family); `false` when it is not a refresh
/// token (nothing done).
async fn revoke_refresh(state: &AppState, form: &TokenForm) -> Result<bool, OAuthError> {
    if !form.token.starts_with(countersign_protocol::ciba::REFRESH_TOKEN_PREFIX) {
        return Ok(false);
    }
    let mut tx = store::begin(&state.db).await?;
    let Some(stored) = refresh::find(&mut tx, &form.token).await? else { return Ok(true) };
    if stored.client_id != form.client.client_id {
        return Err(OAuthError::UnauthorizedClient("the token was issued to another client"));
    }
    let now = state.now();
    let ended = refresh::revoke_family(&mut tx, &stored.family, now).await?;
    if !ended.is_empty() {
        crate::audit::append(
            &mut tx,
            now,
            &crate::audit::Record::new(
                crate::audit::Actor::Client(&stored.client_id),
                countersign_protocol::admin::AuditAction::TokenRevoked,
            )
            .target(&stored.family)
            .user(&stored.sub)
            .data(json!({
                "reason": "refresh token revoked by the client (RFC 7009)",
                "request_id": stored.family,
                "access_tokens_revoked": ended.access_tokens,
                "refresh_tokens_revoked": ended.refresh_tokens,
            })),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(client_id = %stored.client_id, request_id = %stored.family, "refresh token revoked");
    Ok(true)
}

fn no_store(v: Value) -> Response {
    let mut resp = Json(v).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /introspect`.
pub async fn introspect(State(state): State<AppState>, caller: AuthenticatedClient<IntrospectionEndpoint>) -> Response {
    let run = async {
        let form = read(caller)?;
        // RFC 7662 §4: only the client the token was issued to learns
        // anything about it; to any other client it is simply not active.
        if let Some(answer) = introspect_refresh(&state, &form).await? {
            return Ok(no_store(answer));
        }
        let answer = match lookup(&state, &form.token).await? {
            Some((_, client_id, mut claims, false)) if client_id == form.client.client_id => {
                if let Some(obj) = claims.as_object_mut() {
                    obj.insert("active".into(), json!(true));
                    obj.insert("token_type".into(), json!("Bearer"));
                }
                claims
            }
            _ => json!({ "active": false }),
        };
        Ok::<_, OAuthError>(no_store(answer))
    };
    run.await.unwrap_or_else(|e| e.at(Endpoint::Introspection))
}

/// The introspection of a refresh token (RFC 7662 §2.2), `None` when
/// `form.token` is not one: `active`, `token_type: refresh_token`,
/// `client_id`, `sub`, `scope` and `authorization_details` as originally
/// granted, `iat` and `exp` (the earlier of its idle and absolute ends),
/// only to the client it was issued to while it is usable; otherwise
/// `{"active": false}`.
async fn introspect_refresh(state: &AppState, form: &TokenForm) -> Result<Option<Value>, OAuthError> {
    if !form.token.starts_with(countersign_protocol::ciba::REFRESH_TOKEN_PREFIX) {
        return Ok(None);
    }
    let mut conn = state.db.acquire().await.map_err(crate::error::Internal::from)?;
    let Some(stored) = refresh::find(&mut conn, &form.token).await? else { return Ok(None) };
    if stored.client_id != form.client.client_id || !stored.active_at(state.now()) {
        return Ok(Some(json!({ "active": false })));
    }
    let details: Value = serde_json::from_str(&stored.details).map_err(crate::error::Internal::from)?;
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "iss": state.config.issuer.as_str(),
        "client_id": stored.client_id,
        "sub": stored.sub,
        "scope": stored.scope,
        "authorization_details": details,
        "iat": stored.issued_at,
        "exp": stored.idle_expires_at.min(stored.expires_at),
    })))
}

/// A client's own `auth_req_id` (`{12 hex}.{random}`, never a JWT or a
/// refresh token) withdraws its pending request: `true` when `form.token`
/// is one the server issued (whatever became of it), so the caller answers
/// 200; another client's is refused with `unauthorized_client`, as for
/// tokens.
async fn revoke_auth_req_id(state: &AppState, form: &TokenForm) -> Result<bool, OAuthError> {
    let shaped = form.token.split_once('.').is_some_and(|(time, rest)| {
        time.len() == 12 && time.bytes().all(|b| b.is_ascii_hexdigit()) && !rest.contains('.')
    });
    if !shaped {
        return Ok(false);
    }
    let hash = crate::store::requests::auth_req_id_key(&form.token);
    let outcome = crate::ops::cancel_by_client(&state.db, &hash, &form.client.client_id, state.now()).await.map_err(
        |e| match e {
            crate::ops::AdminError::Internal(i) => OAuthError::Internal(i),
            other => OAuthError::Internal(crate::error::Internal::new(other.to_string())),
        },
    )?;
    match outcome {
        crate::ops::ClientCancel::Unknown => Ok(false),
        crate::ops::ClientCancel::OtherClient => {
            Err(OAuthError::UnauthorizedClient("the auth_req_id was issued to another client"))
        }
        crate::ops::ClientCancel::NotPending => Ok(true),
        crate::ops::ClientCancel::Cancelled(sub) => {
            state.hub.notify(&sub);
            tracing::info!(client_id = %form.client.client_id, "request withdrawn by its client");
            Ok(true)
        }
    }
}

/// `POST /revoke`. Unknown, invalid and expired tokens are answered 200
/// (RFC 7009 §2.2); another client's token is refused with
/// `unauthorized_client` (§2.1). A refresh token or an access token ends its
/// whole grant: the refresh token family and every access token of it.
/// A client's `auth_req_id` withdraws its request while it is pending
/// ([`revoke_auth_req_id`]). `token_type_hint` is not needed: the token is
/// looked up as each kind.
pub async fn revoke(State(state): State<AppState>, caller: AuthenticatedClient<RevocationEndpoint>) -> Response {
    let run = async {
        let form = read(caller)?;
        if revoke_auth_req_id(&state, &form).await? || revoke_refresh(&state, &form).await? {
            let mut resp = axum::http::StatusCode::OK.into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(resp);
        }
        if let Some((jti, client_id, _, _)) = lookup(&state, &form.token).await? {
            if client_id != form.client.client_id {
                return Err(OAuthError::UnauthorizedClient("the token was issued to another client"));
            }
            let mut tx = store::begin(&state.db).await?;
            let by = crate::audit::Actor::Client(&client_id);
            crate::oauth::tokens::revoke(&mut tx, &jti, &by, "revoked by the client (RFC 7009)", state.now()).await?;
            tx.commit().await?;
            tracing::info!(client_id = %client_id, "access token revoked");
        }
        let mut resp = axum::http::StatusCode::OK.into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, OAuthError>(resp)
    };
    run.await.unwrap_or_else(|e| e.at(Endpoint::Revocation))
}
