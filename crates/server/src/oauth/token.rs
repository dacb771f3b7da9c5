//! `POST /token` with the CIBA grant (CIBA Core §10.1, §11).
//!
//! A redeemed `auth_req_id` is dead (§10.1.1) for everyone but the client it
//! was issued to, which, within a short window
//! ([`crate::Config::replay_window_secs`]), gets the very bytes of the token
//! response again: a response lost with the connection (the server died
//! after the redemption committed) is not a lost grant, and a repeated
//! request is never a second grant. The bytes are kept encrypted
//! ([`crate::oauth::tokens::ResponseKey`]) and cleared by the sweeper when the
//! window ends.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use countersign_protocol::ciba::{TokenDeliveryMode, TokenRequest};
use countersign_protocol::device::RequestStatus;
use countersign_protocol::error::Endpoint;
use sqlx::{AnyConnection, Row as _};

use crate::error::OAuthError;
use crate::oauth::clients::{AuthenticatedClient, ClientEndpoint};
use crate::oauth::discovery::paths;
use crate::oauth::tokens::{self, Signer};
use crate::state::AppState;
use crate::store;
use crate::store::requests::StoredRequest;
use crate::util;

/// Seconds added to the interval by each `slow_down` (CIBA Core §11).
pub const SLOW_DOWN_STEP_SECS: u64 = 5;
/// How long after `expires_at` the tokens of an approved request can still
/// be redeemed (a decision just before expiry must not be lost to the
/// polling interval), seconds.
pub const REDEEM_GRACE_SECS: u64 = 60;

/// A poll of a request that is this client's, pending, not expired, not
/// redeemed and of an active user, on the request writer's connection: its
/// `last_poll_at` and interval recorded, `authorization_pending` or, polled
/// within the interval, `slow_down` (the interval raised by
/// [`SLOW_DOWN_STEP_SECS`]), as [`handle`]'s transaction would answer.
/// `None` for any other request (and an unknown one): the transaction
/// answers it. Its one write is its last statement (the writer runs it
/// without a savepoint).
fn pending_poll(
    conn: &rusqlite::Connection,
    auth_req_id_hash: &str,
    client_id: &str,
    now: u64,
) -> Result<Option<OAuthError>, crate::error::Internal> {
    let row = conn
        .prepare_cached(
            "SELECT r.request_id, r.client_id, r.status, r.expires_at, r.redeemed_at, r.last_poll_at, \
             r.poll_interval, u.disabled FROM auth_requests r JOIN users u ON u.sub = r.sub \
             WHERE r.auth_req_id_hash = ?1",
        )?
        .query_row([auth_req_id_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, bool>(7)?,
            ))
        });
    let (request_id, owner, status, expires_at, redeemed_at, last_poll_at, poll_interval, user_disabled) = match row {
        Ok(row) => row,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let pending = status == RequestStatus::Pending.as_str() && now < store::from_ts(expires_at);
    if !util::ct_eq(&owner, client_id) || redeemed_at.is_some() || user_disabled || !pending {
        return Ok(None);
    }
    let interval = store::from_ts(poll_interval);
    let too_fast = last_poll_at.is_some_and(|last| now < store::from_ts(last).saturating_add(interval));
    let interval = if too_fast { interval.saturating_add(SLOW_DOWN_STEP_SECS) } else { interval };
    conn.prepare_cached("UPDATE auth_requests SET last_poll_at = ?1, poll_interval = ?2 WHERE request_id = ?3")?
        .execute(rusqlite::params![store::ts(now), store::ts(interval), request_id])?;
    Ok(Some(if too_fast { OAuthError::SlowDown { interval } } else { OAuthError::AuthorizationPending }))
}

/// The token endpoint, for [`AuthenticatedClient`].
pub struct TokenEndpoint;

impl ClientEndpoint for TokenEndpoint {
    const ENDPOINT: Endpoint = Endpoint::Token;
    fn audiences(state: &AppState) -> Vec<String> {
        state.config.client_jwt_audiences(paths::TOKEN)
    }
}

/// `POST /token`.
pub async fn token(State(state): State<AppState>, caller: AuthenticatedClient<TokenEndpoint>) -> Response {
    match handle(&state, caller).await {
        Ok(r) => r,
        Err(e) => e.at(Endpoint::Token),
    }
}

async fn handle(state: &AppState, caller: AuthenticatedClient<TokenEndpoint>) -> Result<Response, OAuthError> {
    let AuthenticatedClient { client, form: pairs, .. } = caller;
    let c = &state.config;
    let request = match TokenRequest::from_form(pairs)? {
        TokenRequest::Ciba(r) => r,
        TokenRequest::Refresh(r) => return crate::oauth::refresh::grant(state, &client, r).await,
    };
    if client.delivery_mode == TokenDeliveryMode::Push {
        return Err(OAuthError::UnauthorizedClient(
            "push-mode clients receive their tokens at their notification endpoint",
        ));
    }

    let now = state.now();
    let auth_req_id_hash = crate::store::requests::auth_req_id_key(request.auth_req_id.secret());
    // Most polls find the request pending: answered by the request writer
    // (one job, committed with the polls waiting beside it). Anything else,
    // and every poll where the hot paths run on the pool, takes the
    // transaction below.
    let (hash, client_id) = (auth_req_id_hash.clone(), client.client_id.clone());
    if let Some(writer) = &state.writer {
        if let Some(answer) =
            writer.run_without_savepoint(move |conn| pending_poll(conn, &hash, &client_id, now)).await?
        {
            return Err(answer);
        }
    }
    let mut tx = store::begin(&state.db).await?;
    let req = crate::store::requests::load_by_auth_req_id(&mut tx, &auth_req_id_hash)
        .await?
        .filter(|r| util::ct_eq(&r.client_id, &client.client_id))
        .ok_or(OAuthError::InvalidGrant("unknown auth_req_id"))?;
    if req.redeemed_at.is_some() {
        return replay(state, &mut tx, &req, now).await;
    }
    // Tokens are never issued for a user disabled since the approval.
    if req.user_disabled {
        return Err(OAuthError::AccessDenied("the user's account is disabled"));
    }
    // Nor for a client an administrator blocked for the user since (looked
    // up here only: no other reader of a request needs it).
    if crate::store::blocks::client_blocked_for_user(&mut tx, &req.client_id, &req.sub).await? {
        return Err(OAuthError::AccessDenied("an administrator has blocked this client for this user"));
    }
    match req.status_at(now) {
        RequestStatus::Approved if now >= req.expires_at.saturating_add(REDEEM_GRACE_SECS) => {
            Err(OAuthError::ExpiredToken)
        }
        RequestStatus::Approved => {
            // The signing key is looked up only here: pending polls, most of
            // the traffic, do not need it (docs/performance.md, "Server").
            // On the transaction's own connection: a second one taken from
            // the pool while holding the write turn could wait for writers
            // that wait for this turn.
            let signer = Signer::active_on(state, &mut tx).await?;
            let issued = tokens::mint_redemption(&mut tx, state, &signer, &req, now, None).await?;
            // The exact bytes sent, kept (sealed) for a repeated request:
            // the signatures are randomized, so they could not be made again.
            let body = serde_json::to_vec(&issued.response).map_err(crate::error::Internal::from)?;
            // Never longer than this access token lives (the client's lifetime).
            let window = c.replay_window_secs().min(issued.response.expires_in);
            let sealed =
                if window > 0 { Some(state.token_response_key.seal(req.request_id.as_str(), &body)?) } else { None };
            let stored = sealed.as_deref().map(|s| (s, now.saturating_add(window)));
            if !issued.redeem(&mut tx, &req, now, stored).await? {
                // Redeemed meanwhile by a racing request of the same client
                // (should writers ever not be serialised): its response.
                return replay(state, &mut tx, &req, now).await;
            }
            tx.commit().await?;
            tracing::info!(request_id = %req.request_id, client_id = %req.client_id, "tokens issued");
            if let Some(hooks) = &c.danger_test_hooks {
                hooks.after_redemption_commit(&req.request_id, &body).await;
            }
            Ok(token_response(body))
        }
        RequestStatus::Denied => Err(OAuthError::AccessDenied("the request was denied")),
        RequestStatus::Cancelled if req.cancelled_by.is_some() => {
            Err(OAuthError::AccessDenied(crate::ops::CANCELLED_BY_ADMIN))
        }
        RequestStatus::Cancelled => Err(OAuthError::AccessDenied("the request was cancelled")),
        RequestStatus::Expired => Err(OAuthError::ExpiredToken),
        RequestStatus::Pending => {
            let too_fast = req.last_poll_at.is_some_and(|last| now < last.saturating_add(req.poll_interval));
            let interval =
                if too_fast { req.poll_interval.saturating_add(SLOW_DOWN_STEP_SECS) } else { req.poll_interval };
            sqlx::query("UPDATE auth_requests SET last_poll_at = $1, poll_interval = $2 WHERE request_id = $3")
                .bind(store::ts(now))
                .bind(store::ts(interval))
                .bind(req.request_id.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Err(if too_fast { OAuthError::SlowDown { interval } } else { OAuthError::AuthorizationPending })
        }
        RequestStatus::Extension(_) => Err(OAuthError::Internal(crate::error::Internal::new("unknown stored status"))),
    }
}

/// A token response of `body` (its exact bytes), not to be cached.
pub(crate) fn token_response(body: Vec<u8>) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// The answer to a token request for the already redeemed `req`, which the
/// caller has authenticated as the client it was issued to: the stored
/// token response, byte for byte, while its window lasts and its access
/// token is still active (not revoked, the user and client not disabled)
/// and its refresh token, if it carries one, has been neither rotated nor
/// revoked (a replay never hands out a refresh token that is no longer the
/// live one); otherwise `invalid_grant`, as for any dead `auth_req_id`.
/// Writes nothing: no grant, no token row, no mark.
async fn replay(
    state: &AppState,
    conn: &mut AnyConnection,
    req: &StoredRequest,
    now: u64,
) -> Result<Response, OAuthError> {
    let redeemed = || OAuthError::InvalidGrant("auth_req_id already redeemed");
    let row = sqlx::query(
        "SELECT r.token_response, r.token_response_until, \
         (SELECT COUNT(*) FROM tokens t WHERE t.request_id = r.request_id AND t.revoked_at IS NOT NULL) \
         + (SELECT COUNT(*) FROM refresh_tokens f WHERE f.family = r.request_id \
            AND (f.used_at IS NOT NULL OR f.revoked_at IS NOT NULL)) AS revoked \
         FROM auth_requests r WHERE r.request_id = $1",
    )
    .bind(req.request_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Err(redeemed()) };
    let sealed: Option<String> = row.try_get("token_response")?;
    let until: Option<i64> = row.try_get("token_response_until")?;
    let revoked: i64 = row.try_get("revoked")?;
    let (Some(sealed), Some(until)) = (sealed, until) else { return Err(redeemed()) };
    // The window ends at `until`, whether or not the sweeper has cleared it.
    if now >= store::from_ts(until) || revoked > 0 || req.user_disabled || req.client_disabled {
        return Err(redeemed());
    }
    let Some(body) = state.token_response_key.open(req.request_id.as_str(), &sealed) else {
        tracing::warn!(
            request_id = %req.request_id,
            "a stored token response does not decrypt (altered, or another secret key file); not replayed"
        );
        return Err(redeemed());
    };
    tracing::info!(request_id = %req.request_id, "token response replayed");
    Ok(token_response(body))
}
