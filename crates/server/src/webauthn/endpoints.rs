//! `{device}/webauthn/…` (docs/protocol.md §5.5): registration, the list,
//! removal. Every call is device-authenticated and acts on the device's user.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::device::{
    check_credential_name, CredentialList, RegistrationFinish, RegistrationStart, WebauthnCredential,
};
use countersign_protocol::jws::b64url_encode;
use sqlx::Row as _;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::{credentials, RelyingParty, REGISTRATION_TTL_SECS};
use crate::body::DeviceJsonObject;
use crate::device::{no_store, DeviceCaller};
use crate::error::{DeviceError, Internal};
use crate::state::AppState;
use crate::store;
use crate::store::users::By;
use crate::util;

fn relying_party(state: &AppState) -> Result<&RelyingParty, DeviceError> {
    state.webauthn.as_deref().ok_or_else(|| {
        DeviceError::InvalidRequest(
            "WebAuthn is not available: the server's issuer has no domain name (https, or http://localhost)".into(),
        )
    })
}

/// The user's registrations in progress and when the first of them expires
/// (`webauthn_registrations_sub`, migration 0007).
const COUNT_PENDING_REGISTRATIONS: &str =
    "SELECT COUNT(*) AS n, MIN(expires_at) AS first FROM webauthn_registrations WHERE sub = $1 AND expires_at > $2";

/// Every user's expired registrations (`webauthn_registrations_expires_at`,
/// migration 0007).
const DELETE_EXPIRED_REGISTRATIONS: &str = "DELETE FROM webauthn_registrations WHERE expires_at <= $1";

/// The number of the user's credentials (`webauthn_credentials_sub`, migration 0006).
const COUNT_CREDENTIALS: &str = "SELECT COUNT(*) FROM webauthn_credentials WHERE sub = $1";

/// Whether `n` reaches the cap `limit` (0: no cap).
fn at_cap(n: usize, limit: u32) -> bool {
    limit > 0 && n >= usize::try_from(limit).unwrap_or(usize::MAX)
}

/// `POST {device}/webauthn/registrations`: refused (nothing stored) when the
/// user already has as many credentials as allowed, or as many
/// registrations in progress, from all the user's devices. Those are never
/// dropped to make room: they may be another device's ceremony under way,
/// and the caller learns when one expires.
pub async fn start_registration(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
) -> Result<Response, DeviceError> {
    let rp = relying_party(&state)?;
    let limits = &state.config.limits;
    let user = store::users::find(&state, By::Sub(&device.sub)).await?.ok_or(DeviceError::NoSuch("user"))?;
    let exclude: Vec<_> =
        credentials::passkeys(&state.db, &device.sub).await?.iter().map(|p| p.cred_id().clone()).collect();
    // Early, so the user does not touch the key for nothing; the finish
    // checks again, in the transaction that stores the credential.
    if at_cap(exclude.len(), limits.max_webauthn_credentials_per_user) {
        return Err(DeviceError::TooManyCredentials(limits.max_webauthn_credentials_per_user));
    }
    let (options, registration) = rp
        .webauthn
        .start_passkey_registration(super::user_handle(&user.sub), &user.username, &user.name, Some(exclude))
        .map_err(|e| Internal::new(format!("starting a WebAuthn registration: {e}")))?;
    let registration_id = util::random_id("reg_", 16)?;
    let now = state.now();
    let expires_at = now.saturating_add(REGISTRATION_TTL_SECS);
    let mut tx = store::begin(&state.db).await?;
    sqlx::query(DELETE_EXPIRED_REGISTRATIONS).bind(store::ts(now)).execute(&mut *tx).await?;
    // Count and insert in one write transaction: parallel starts cannot
    // overshoot (docs/server.md, "Storage and migrations").
    let limit = limits.max_pending_webauthn_registrations_per_user;
    if limit > 0 {
        let row =
            sqlx::query(COUNT_PENDING_REGISTRATIONS).bind(&device.sub).bind(store::ts(now)).fetch_one(&mut *tx).await?;
        let n: i64 = row.try_get("n")?;
        if n >= i64::from(limit) {
            let first = row.try_get::<Option<i64>, _>("first")?.map_or(now, store::from_ts);
            return Err(DeviceError::TooManyRegistrations { limit, retry_after: first.saturating_sub(now) });
        }
    }
    sqlx::query(
        "INSERT INTO webauthn_registrations (registration_id, sub, device_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&registration_id)
    .bind(&device.sub)
    .bind(device.device_id.as_str())
    .bind(serde_json::to_string(&registration).map_err(Internal::from)?)
    .bind(store::ts(expires_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let options = serde_json::to_value(&options).map_err(Internal::from)?;
    Ok(no_store(Json(RegistrationStart { registration_id, options, expires_at }).into_response()))
}

/// `POST {device}/webauthn/registrations/{registration_id}`. A finish
/// refused because the user has reached the credential cap meanwhile (from
/// another registration) stores nothing and spends the registration, like
/// every refusal after the body and the name are checked: the user removes
/// a credential and starts again.
pub async fn finish_registration(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(registration_id): Path<String>,
    DeviceJsonObject(value): DeviceJsonObject,
) -> Result<Response, DeviceError> {
    let rp = relying_party(&state)?;
    let body: RegistrationFinish =
        serde_json::from_value(value).map_err(|e| DeviceError::InvalidRequest(e.to_string()))?;
    // A bad name is the caller's to fix: the registration is not spent.
    check_credential_name(&body.name).map_err(|e| DeviceError::InvalidCredential(e.to_string()))?;
    let now = state.now();
    let mut tx = store::begin(&state.db).await?;
    // Spent whatever follows: a registration is finished at most once.
    let row = sqlx::query(
        "DELETE FROM webauthn_registrations WHERE registration_id = $1 AND sub = $2 AND device_id = $3 \
         AND expires_at > $4 RETURNING state",
    )
    .bind(&registration_id)
    .bind(&device.sub)
    .bind(device.device_id.as_str())
    .bind(store::ts(now))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DeviceError::NoSuch("registration"))?;
    let registration: PasskeyRegistration = serde_json::from_str(&row.try_get::<String, _>("state")?)
        .map_err(|e| Internal::new(format!("stored WebAuthn registration: {e}")))?;
    tx.commit().await?;

    let credential: RegisterPublicKeyCredential = serde_json::from_value(body.credential)
        .map_err(|e| DeviceError::InvalidCredential(format!("malformed credential: {e}")))?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| DeviceError::InvalidCredential(format!("the credential does not verify: {e}")))?;
    let credential_id = b64url_encode(passkey.cred_id().as_slice());
    let mut tx = store::begin(&state.db).await?;
    // The cap, counted in the transaction that inserts: two finishes racing
    // cannot overshoot it.
    let limit = state.config.limits.max_webauthn_credentials_per_user;
    if limit > 0 {
        let n: i64 = sqlx::query_scalar(COUNT_CREDENTIALS).bind(&device.sub).fetch_one(&mut *tx).await?;
        if n >= i64::from(limit) {
            return Err(DeviceError::TooManyCredentials(limit));
        }
    }
    // One user per credential; the conflict clause also covers a racing
    // registration of the same credential.
    let inserted = sqlx::query(
        "INSERT INTO webauthn_credentials (credential_id, sub, name, passkey, counter, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&credential_id)
    .bind(&device.sub)
    .bind(&body.name)
    .bind(serde_json::to_string(&passkey).map_err(Internal::from)?)
    .bind(store::ts(now))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(DeviceError::InvalidCredential("this credential is already registered".into()));
    }
    crate::audit::append(
        &mut tx,
        now,
        &crate::audit::Record::new(
            crate::audit::Actor::Device(device.device_id.as_str()),
            countersign_protocol::admin::AuditAction::SecurityKeyAdded,
        )
        .target(&credential_id)
        .user(&device.sub)
        .data(serde_json::json!({ "name": body.name })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(device_id = %device.device_id, credential_id, "WebAuthn credential registered");
    let body =
        WebauthnCredential { credential_id, name: body.name, created_at: now, last_used_at: None, flagged_at: None };
    Ok(no_store(Json(body).into_response()))
}

/// `GET {device}/webauthn/credentials`.
pub async fn list_credentials(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
) -> Result<Response, DeviceError> {
    let rp = relying_party(&state)?;
    let credentials = credentials::list(&state.db, &device.sub).await?;
    let body = CredentialList { rp_id: rp.rp_id.clone(), origin: rp.origin.clone(), credentials };
    Ok(no_store(Json(body).into_response()))
}

/// `DELETE {device}/webauthn/credentials/{credential_id}`.
pub async fn remove_credential(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    Path(credential_id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = crate::audit::Actor::Device(device.device_id.as_str());
    if !credentials::remove(&state.db, &device.sub, &credential_id, &by, state.now()).await? {
        return Err(DeviceError::NoSuch("credential"));
    }
    tracing::info!(device_id = %device.device_id, credential_id, "WebAuthn credential removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The details of `sql`'s query plan (its parameters left unbound).
    async fn plan(db: &store::Db, sql: &str) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let rows = sqlx::query(&explain).fetch_all(db).await.expect("plan");
        rows.iter().map(|r| r.try_get::<String, _>("detail").expect("detail")).collect()
    }

    /// The counts behind the per-user caps seek their indexes instead of
    /// walking the tables, and so does the deletion of expired registrations.
    #[tokio::test]
    async fn the_cap_counts_use_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = store::open(&dir.path().join("t.db")).await.expect("open");
        for (sql, index) in [
            (COUNT_PENDING_REGISTRATIONS, "webauthn_registrations_sub"),
            (COUNT_CREDENTIALS, "webauthn_credentials_sub"),
            (DELETE_EXPIRED_REGISTRATIONS, "webauthn_registrations_expires_at"),
        ] {
            let detail = plan(&db, sql).await;
            assert!(detail.iter().any(|d| d.contains(index)), "{sql}: {detail:?}");
            assert!(!detail.iter().any(|d| d.starts_with("SCAN")), "{sql}: {detail:?}");
        }
    }

    #[test]
    fn zero_is_no_cap() {
        assert!(!at_cap(1_000, 0));
        assert!(!at_cap(9, 10));
        assert!(at_cap(10, 10));
    }
}
