//! Signed decisions: verified, recorded once, answered the same on retry.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use countersign_protocol::admin::AuditAction;
use countersign_protocol::amr::{Amr, VerificationClass};
use countersign_protocol::ciba::{PingCallback, PushSuccessCallback, TokenDeliveryMode};
use countersign_protocol::device::{
    check_statement, verify_decision, Decision, DecisionClaims, DecisionResult, DecisionSubmission, DenyReason,
    RequestStatus, Requirement, WithdrawReason,
};
use countersign_protocol::error::{ErrorCode, PushErrorResponse};

use super::*;
use crate::audit::{Actor, Record};
use crate::error::{DeviceError, Internal};
use crate::oauth::tokens::{self, Signer};
use crate::state::AppState;
use crate::store;
use crate::store::requests::{self, StoredRequest};
use crate::webauthn::step_up;

pub(super) fn recorded_answer(
    req: &StoredRequest,
    claims: &countersign_protocol::device::DecisionClaims,
) -> Result<Response, DeviceError> {
    let same = req.decided_by.as_deref() == Some(claims.iss.as_str())
        && req.decision == Some(claims.decision)
        && req.deny_reason == claims.deny_reason
        && req.statement_hash.as_deref() == Some(claims.statement_hash.as_str())
        && stated(&req.amr) == stated(&claims.amr);
    if !same {
        return Err(DeviceError::DecisionConflict(req.status.clone()));
    }
    let body = DecisionResult {
        request_id: req.request_id.clone(),
        status: req.status.clone(),
        decided_at: req.decided_at.unwrap_or(0),
    };
    Ok(no_store(Json(body).into_response()))
}

/// What the approver stated of `amr`: all but `hwk`, which the server adds
/// after verifying the assertion (so a resubmission is compared on what the
/// approver itself states).
fn stated(amr: &[Amr]) -> Vec<Amr> {
    countersign_protocol::amr::normalized(amr.iter().filter(|m| **m != Amr::Hwk).cloned())
}

/// Steps 5 and 6 of §8.3 for a request that is no longer pending.
pub(super) fn not_pending(
    req: &StoredRequest,
    claims: &countersign_protocol::device::DecisionClaims,
    now: u64,
) -> Option<Result<Response, DeviceError>> {
    match req.status_at(now) {
        RequestStatus::Approved | RequestStatus::Denied => Some(recorded_answer(req, claims)),
        RequestStatus::Cancelled => Some(Err(DeviceError::RequestWithdrawn(RequestStatus::Cancelled))),
        RequestStatus::Expired => Some(Err(DeviceError::RequestExpired)),
        RequestStatus::Extension(_) => Some(Err(DeviceError::Internal(Internal::new("unknown stored status")))),
        RequestStatus::Pending => None,
    }
}

/// The answer for a request found decided (or expired) after the first
/// check: read again, answered as in steps 5 and 6.
async fn answer_decided(
    state: &AppState,
    request_id: &str,
    claims: &countersign_protocol::device::DecisionClaims,
) -> Result<Response, DeviceError> {
    let mut conn = state.db.acquire().await?;
    let fresh = requests::load(&mut conn, request_id).await?.ok_or(DeviceError::NotFound)?;
    not_pending(&fresh, claims, state.now())
        .unwrap_or(Err(DeviceError::Internal(Internal::new("request still pending after it was found decided"))))
}

/// `POST {device}/requests/{id}/decision` (§8.3).
pub async fn decide(
    State(state): State<AppState>,
    // 1, 2, 3.
    DeviceCaller(device): DeviceCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, DeviceError> {
    let req = own_request(&state, &device, &id).await?;
    let value = crate::body::device_json(&headers, body, state.config.max_body_bytes)?;
    let submission: DecisionSubmission =
        serde_json::from_value(value).map_err(|e| DeviceError::InvalidRequest(e.to_string()))?;
    // 4.
    let now = state.now();
    let issuer = &state.config.issuer;
    let claims =
        verify_decision(&submission.decision_jws, &device.key, &device.device_id, now, issuer, &req.request_id)
            .map_err(|e| DeviceError::InvalidDecision(e.to_string()))?;
    // 5, 6.
    if let Some(answer) = not_pending(&req, &claims, now) {
        return answer;
    }
    // A disabled client gets nothing more: its requests are withdrawn
    // (disabling cancels them; this covers a decision racing with it).
    if req.client_disabled {
        return Err(DeviceError::RequestWithdrawn(RequestStatus::Cancelled));
    }
    // 7.
    let current = state.schemas.hashes_for(&req.details);
    check_statement(
        &req.to_approver(issuer),
        claims.decision,
        &current,
        &submission.display_schemas,
        &claims.statement_hash,
    )
    .map_err(DeviceError::Statement)?;
    // 8: `webauthn` is verified here, with the statement hash as the
    // challenge; then the user verification the decision states.
    let step_up = if claims.decision == Decision::Approve && req.requires.contains(&Requirement::Webauthn) {
        let (hash, assertion) = (&claims.statement_hash, submission.webauthn.as_ref());
        match step_up::verify(&state, &req.sub, req.request_id.as_str(), assertion, hash, now).await? {
            step_up::Checked::Verified(verified) => Some(verified),
            // The same submission, decided meanwhile by its other copy: as
            // for a decided request (5), and the key is not flagged (§5.5).
            step_up::Checked::AlreadyRecorded => return answer_decided(&state, req.request_id.as_str(), &claims).await,
        }
    } else {
        None
    };
    // 8, user verification: what the decision shows (§8.3).
    let amr = verified_amr(&req, &claims, step_up.is_some())?;

    // 9.
    let push = req.delivery_mode == TokenDeliveryMode::Push;
    let signer = if push && claims.decision == Decision::Approve { Some(Signer::active(&state).await?) } else { None };
    let status = match claims.decision {
        Decision::Approve => RequestStatus::Approved,
        Decision::Deny => RequestStatus::Denied,
    };
    let mut tx = store::begin(&state.db).await?;
    let updated = sqlx::query(
        "UPDATE auth_requests SET status = $1, decision = $2, deny_reason = $3, decided_at = $4, decided_by = $5, \
         decision_jws = $6, statement_hash = $7, display_schemas = $8, amr = $11 \
         WHERE request_id = $9 AND status = 'pending' AND expires_at > $10",
    )
    .bind(status.as_str())
    .bind(claims.decision.as_str())
    .bind(claims.deny_reason.as_ref().map(|r| r.as_str().to_owned()))
    .bind(store::ts(now))
    .bind(device.device_id.as_str())
    .bind(&submission.decision_jws)
    .bind(claims.statement_hash.as_str())
    .bind(serde_json::to_string(&current).map_err(Internal::from)?)
    .bind(req.request_id.as_str())
    .bind(store::ts(now))
    .bind(requests::amr_column(&amr))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        // Lost a race (or expired meanwhile): answer as for a decided request.
        drop(tx);
        return answer_decided(&state, req.request_id.as_str(), &claims).await;
    }
    if let Some(verified) = &step_up {
        crate::webauthn::step_up::record(&mut tx, &req.sub, req.request_id.as_str(), verified, now).await?;
    }
    let mut decided = req.clone();
    decided.status = status.clone();
    decided.decision = Some(claims.decision);
    decided.deny_reason = claims.deny_reason.clone();
    decided.decided_at = Some(now);
    decided.decided_by = Some(device.device_id.as_str().to_owned());
    decided.amr = amr;

    crate::audit::append(
        &mut tx,
        now,
        &Record::new(Actor::Device(device.device_id.as_str()), AuditAction::RequestDecided)
            .target(req.request_id.as_str())
            .user(&req.sub)
            .data(serde_json::json!({
                "client_id": req.client_id,
                "decision": claims.decision.as_str(),
                "deny_reason": claims.deny_reason.as_ref().map(DenyReason::as_str),
                "amr": decided.amr.iter().map(Amr::as_str).collect::<Vec<_>>(),
                "statement_hash": claims.statement_hash.as_str(),
                "decision_jws": submission.decision_jws,
            })),
    )
    .await?;
    let admins = if claims.deny_reason == Some(DenyReason::NotMe) {
        crate::store::blocks::after_not_me(&mut tx, &state.config.limits, &req, device.device_id.as_str(), now).await?
    } else {
        Vec::new()
    };
    crate::device::events::withdrawn(
        &mut tx,
        &req.sub,
        &req.request_id,
        WithdrawReason::DecidedElsewhere,
        Some(device.device_id.as_str()),
        now,
    )
    .await?;
    if let Some(auth_req_id) = decided.notify_auth_req_id.clone() {
        let payload = match (&decided.delivery_mode, claims.decision) {
            (TokenDeliveryMode::Push, Decision::Approve) => {
                let signer = signer.ok_or_else(|| Internal::new("no signer for a push approval"))?;
                let issued =
                    tokens::mint_redemption(&mut tx, &state, &signer, &decided, now, Some(&auth_req_id)).await?;
                issued.record(&mut tx, &decided, now).await?;
                serde_json::to_string(&PushSuccessCallback { auth_req_id, token: issued.response })
            }
            (TokenDeliveryMode::Push, Decision::Deny) => {
                let e = PushErrorResponse::new(ErrorCode::AccessDenied, auth_req_id)
                    .map_err(|e| Internal::new(e.to_string()))?
                    .with_description("the user denied the request");
                serde_json::to_string(&e)
            }
            _ => serde_json::to_string(&PingCallback { auth_req_id }),
        }
        .map_err(Internal::from)?;
        crate::oauth::notify::enqueue(&mut tx, &state, &decided, &payload).await?;
    }
    tx.commit().await?;
    state.hub.notify(&req.sub);
    admins.iter().for_each(|sub| state.hub.notify(sub));
    state.outbox_wake.notify_one();
    tracing::info!(request_id = %req.request_id, device_id = %device.device_id, decision = %claims.decision, "decision recorded");
    Ok(no_store(Json(DecisionResult { request_id: req.request_id.clone(), status, decided_at: now }).into_response()))
}

/// The `amr` recorded with a decision: what the approver states (signed
/// with the decision) and `hwk` when this decision's security key assertion
/// verified. An approval of a request that requires user verification must
/// show it ([`VerificationClass::User`]; a policy of class `hwk` made the
/// request require WebAuthn as well, step 8). `hwk` is the server's to
/// state: an approver claiming it without a verified assertion is refused.
///
/// # Errors
/// [`DeviceError::InvalidDecision`], [`DeviceError::UserVerificationRequired`].
fn verified_amr(req: &StoredRequest, claims: &DecisionClaims, key_verified: bool) -> Result<Vec<Amr>, DeviceError> {
    // Only registered values: they are what tokens may carry, and none
    // holds the space the stored form separates them with.
    if let Some(unknown) = claims.amr.iter().find(|m| m.is_extension()) {
        return Err(DeviceError::InvalidDecision(format!(
            "`amr` holds {:?}, which is not an RFC 8176 method",
            countersign_text::excerpt(unknown.as_str(), countersign_text::Context::Identifier, 32)
        )));
    }
    if claims.amr.contains(&Amr::Hwk) && !key_verified {
        return Err(DeviceError::InvalidDecision(
            "`amr` states `hwk` but the decision carries no verified security key assertion".into(),
        ));
    }
    let amr = countersign_protocol::amr::normalized(claims.amr.iter().cloned().chain(key_verified.then_some(Amr::Hwk)));
    if claims.decision == Decision::Approve
        && req.requires.contains(&Requirement::UserVerification)
        && !VerificationClass::User.met_by(&amr)
    {
        return Err(DeviceError::UserVerificationRequired);
    }
    Ok(amr)
}
