//! The WebAuthn step-up of an approval (docs/protocol.md §8.3 step 8): the
//! assertion must verify for one of the user's credentials with the
//! statement hash the server rebuilt as its challenge, with user
//! verification, and a signature counter above the stored one, unless it is
//! the very assertion already recorded with the request's decision (the
//! same submission again: §5.5, not a clone).

use countersign_protocol::device::StatementHash;
use sqlx::AnyConnection;
use webauthn_rs::prelude::{PublicKeyCredential, WebauthnError};

use super::credentials;
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;

/// What [`verify`] found.
pub enum Checked {
    /// A valid assertion, to record with the decision.
    Verified(Verified),
    /// Its counter is not above the stored one because it is the very
    /// assertion already recorded with this request's decision: the same
    /// submission posted again (two deliveries racing), to answer as for a
    /// decided request (§8.3 step 5). The credential is not flagged.
    AlreadyRecorded,
}

/// A verified assertion, to record with the decision.
pub struct Verified {
    /// The credential used.
    pub credential_id: String,
    /// The assertion as sent (the receipt).
    pub assertion: String,
    /// The credential with its new counter and flags, JSON.
    pub passkey: String,
    /// The new counter.
    pub counter: u32,
    /// The counter read when it was verified: the record applies only if
    /// it is still the stored one.
    pub previous_counter: u32,
}

/// Verifies `assertion` for `sub`'s approval of `request_id`, whose
/// statement hashes to `hash`.
///
/// # Errors
/// `step_up_required` without an assertion; `step_up_failed` when it does
/// not verify, names another user's or an unknown credential, a flagged
/// one, or its counter did not go up (the credential is then flagged,
/// unless it is [`Checked::AlreadyRecorded`]).
pub async fn verify(
    state: &AppState,
    sub: &str,
    request_id: &str,
    assertion: Option<&serde_json::Value>,
    hash: &StatementHash,
    now: u64,
) -> Result<Checked, DeviceError> {
    let failed = |why: &str| DeviceError::StepUpFailed(why.to_owned());
    let value = assertion.ok_or(DeviceError::StepUpRequired)?;
    let rp = state.webauthn.as_deref().ok_or_else(|| {
        failed("this server cannot verify WebAuthn: its issuer has no domain name (https, or http://localhost)")
    })?;
    let credential: PublicKeyCredential = serde_json::from_value(value.clone())
        .map_err(|e| DeviceError::StepUpFailed(format!("malformed assertion: {e}")))?;
    let credential_id = credential.id.clone();
    let mut conn = state.db.acquire().await?;
    let stored = credentials::find(&mut conn, sub, &credential_id)
        .await?
        .ok_or_else(|| failed("the assertion's credential is not one of the user's"))?;
    drop(conn);
    if stored.flagged_at.is_some() {
        return Err(failed("the credential is flagged (its signature counter went backwards): remove it"));
    }
    let (_, random) = rp
        .webauthn
        .start_passkey_authentication(std::slice::from_ref(&stored.passkey))
        .map_err(|e| Internal::new(format!("starting a WebAuthn authentication: {e}")))?;
    let expected = super::challenge::bind(&random, hash).map_err(|e| Internal::new(e.to_string()))?;
    // WebAuthn §6.1.1: a counter that does not go up (when either is not 0)
    // may be a cloned authenticator. webauthn-rs checks it against the
    // counter in the stored credential, after the signature, challenge,
    // origin and user verification (so only a genuine assertion of the
    // credential can flag it); the stored column is checked again below.
    let result = match rp.webauthn.finish_passkey_authentication(&credential, &expected) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            let reason = "signature counter not above the credential's stored counter";
            return flag_regression(state, sub, request_id, &credential_id, value, reason, now).await;
        }
        Err(e) => {
            return Err(DeviceError::StepUpFailed(format!("the assertion does not verify for this statement: {e}")))
        }
    };
    if !result.user_verified() {
        return Err(failed("the assertion lacks user verification"));
    }
    let counter = result.counter();
    if (counter != 0 || stored.counter != 0) && counter <= stored.counter {
        let reason = format!("signature counter {counter} not above the stored {}", stored.counter);
        return flag_regression(state, sub, request_id, &credential_id, value, &reason, now).await;
    }
    let mut passkey = stored.passkey;
    passkey.update_credential(&result);
    Ok(Checked::Verified(Verified {
        credential_id,
        assertion: serde_json::to_string(value).map_err(Internal::from)?,
        passkey: serde_json::to_string(&passkey).map_err(Internal::from)?,
        counter,
        previous_counter: stored.counter,
    }))
}

/// Flags a credential whose counter went backwards and refuses the
/// approval, unless `submitted` is the very assertion recorded with
/// `request_id`'s decision: the same submission again, whose counter is the
/// one its first copy stored (two copies racing past the "already decided"
/// check). Checked in the write transaction that would flag, so it is
/// race-free: the decision and its assertion commit with the counter, in
/// one transaction, so a counter read as stored by that submission comes
/// with its recorded assertion.
///
/// Byte-for-byte (as JSON) equality of the whole assertion is what proves
/// it is the same submission: the assertion carries the authenticator's
/// signature over its data (counter included) and the client data
/// (challenge = statement hash, origin). Another assertion over the same
/// statement, of the same credential, with a counter not above the stored
/// one (what a clone makes) differs from it and is flagged as before.
async fn flag_regression(
    state: &AppState,
    sub: &str,
    request_id: &str,
    credential_id: &str,
    submitted: &serde_json::Value,
    reason: &str,
    now: u64,
) -> Result<Checked, DeviceError> {
    let mut tx = store::begin(&state.db).await?;
    let recorded: Option<Option<String>> =
        sqlx::query_scalar("SELECT webauthn_assertion FROM auth_requests WHERE request_id = $1 AND sub = $2")
            .bind(request_id)
            .bind(sub)
            .fetch_optional(&mut *tx)
            .await
            .map_err(Internal::from)?;
    if let Some(text) = recorded.flatten() {
        if serde_json::from_str::<serde_json::Value>(&text).ok().as_ref() == Some(submitted) {
            drop(tx);
            tracing::info!(sub, credential_id, request_id, "the recorded assertion submitted again: not a clone");
            return Ok(Checked::AlreadyRecorded);
        }
    }
    credentials::flag(&mut tx, credential_id, reason, now).await?;
    tx.commit().await.map_err(Internal::from)?;
    tracing::warn!(sub, credential_id, reason, "WebAuthn credential flagged: possible clone");
    Err(DeviceError::StepUpFailed(
        "the signature counter did not increase (a cloned key?): the credential is now flagged".into(),
    ))
}

/// Records the use of a verified credential in the decision's transaction,
/// if the credential is still the user's, unflagged, with the counter it
/// was verified against (another approval with the same key, a removal or
/// a flag in between refuses this one).
///
/// # Errors
/// `step_up_failed` when the credential changed since it was verified; the
/// database.
pub async fn record(
    tx: &mut AnyConnection,
    sub: &str,
    request_id: &str,
    v: &Verified,
    now: u64,
) -> Result<(), DeviceError> {
    let done = sqlx::query(
        "UPDATE webauthn_credentials SET passkey = $1, counter = $2, last_used_at = $3 \
         WHERE credential_id = $4 AND sub = $5 AND flagged_at IS NULL AND counter = $6",
    )
    .bind(&v.passkey)
    .bind(i64::from(v.counter))
    .bind(store::ts(now))
    .bind(&v.credential_id)
    .bind(sub)
    .bind(i64::from(v.previous_counter))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(DeviceError::StepUpFailed(
            "the credential changed while this approval was checked (used, removed or flagged): try again".into(),
        ));
    }
    sqlx::query("UPDATE auth_requests SET webauthn_assertion = $1, webauthn_credential_id = $2 WHERE request_id = $3")
        .bind(&v.assertion)
        .bind(&v.credential_id)
        .bind(request_id)
        .execute(&mut *tx)
        .await
        .map_err(Internal::from)?;
    Ok(())
}
