//! `POST /token` with the CIBA grant (CIBA Core §10.1, §11).

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use countersign_protocol::ciba::{CibaTokenRequest, ClientAuthParams, TokenDeliveryMode};
use countersign_protocol::device::RequestStatus;
use countersign_protocol::error::Endpoint;

use crate::clients;
use crate::db;
use crate::discovery::paths;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::tokens::{self, Signer};
use crate::util;

/// Seconds added to the interval by each `slow_down` (CIBA Core §11).
pub const SLOW_DOWN_STEP_SECS: u64 = 5;
/// How long after `expires_at` the tokens of an approved request can still
/// be redeemed (a decision just before expiry must not be lost to the
/// polling interval), seconds.
pub const REDEEM_GRACE_SECS: u64 = 60;

/// `POST /token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match handle(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.at(Endpoint::Token),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let text = crate::body::form(headers, body)?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes()).into_owned().collect();
    let auth = ClientAuthParams::from_form(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let c = &state.config;
    let audiences = [c.issuer.as_str().to_owned(), c.url(paths::TOKEN)];
    let client = clients::authenticate(state, headers, &auth, &audiences).await?;
    let request = CibaTokenRequest::from_form(pairs)?;
    if client.delivery_mode == TokenDeliveryMode::Push {
        return Err(OAuthError::UnauthorizedClient(
            "push-mode clients receive their tokens at their notification endpoint",
        ));
    }

    let now = state.now();
    let mut tx = db::begin(&state.db).await?;
    let req = crate::requests::load_by_auth_req_id(&mut tx, &util::hash_secret(request.auth_req_id.secret()))
        .await?
        .filter(|r| util::ct_eq(&r.client_id, &client.client_id))
        .ok_or(OAuthError::InvalidGrant("unknown auth_req_id"))?;
    if req.redeemed_at.is_some() {
        return Err(OAuthError::InvalidGrant("auth_req_id already redeemed"));
    }
    // Tokens are never issued for a user disabled since the approval.
    if req.user_disabled {
        return Err(OAuthError::AccessDenied("the user's account is disabled"));
    }
    match req.status_at(now) {
        RequestStatus::Approved if now >= req.expires_at.saturating_add(REDEEM_GRACE_SECS) => {
            Err(OAuthError::ExpiredToken)
        }
        RequestStatus::Approved => {
            // The signing key is looked up only here: pending polls, most of
            // the traffic, do not need it (docs/performance.md, "Server").
            let signer = Signer::active(state).await?;
            let issued = tokens::mint(state, &signer, &req, now, None)?;
            issued.record(&mut tx, &req, now).await?;
            tx.commit().await?;
            tracing::info!(request_id = %req.request_id, client_id = %req.client_id, "tokens issued");
            let mut resp = Json(&issued.response).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            Ok(resp)
        }
        RequestStatus::Denied | RequestStatus::Cancelled => Err(OAuthError::AccessDenied("the request was denied")),
        RequestStatus::Expired => Err(OAuthError::ExpiredToken),
        RequestStatus::Pending => {
            let too_fast = req.last_poll_at.is_some_and(|last| now < last.saturating_add(req.poll_interval));
            let interval =
                if too_fast { req.poll_interval.saturating_add(SLOW_DOWN_STEP_SECS) } else { req.poll_interval };
            sqlx::query("UPDATE auth_requests SET last_poll_at = $1, poll_interval = $2 WHERE request_id = $3")
                .bind(db::ts(now))
                .bind(db::ts(interval))
                .bind(req.request_id.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Err(if too_fast { OAuthError::SlowDown } else { OAuthError::AuthorizationPending })
        }
        RequestStatus::Extension(_) => Err(OAuthError::Internal(crate::error::Internal::new("unknown stored status"))),
    }
}
