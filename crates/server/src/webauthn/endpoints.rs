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

/// `POST {device}/webauthn/registrations`.
pub async fn start_registration(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
) -> Result<Response, DeviceError> {
    let rp = relying_party(&state)?;
    let user = store::users::find(&state, By::Sub(&device.sub)).await?.ok_or(DeviceError::NoSuch("user"))?;
    let exclude = credentials::passkeys(&state.db, &device.sub).await?.iter().map(|p| p.cred_id().clone()).collect();
    let (options, registration) = rp
        .webauthn
        .start_passkey_registration(super::user_handle(&user.sub), &user.username, &user.name, Some(exclude))
        .map_err(|e| Internal::new(format!("starting a WebAuthn registration: {e}")))?;
    let registration_id = util::random_id("reg_", 16)?;
    let now = state.now();
    let expires_at = now.saturating_add(REGISTRATION_TTL_SECS);
    let mut tx = store::begin(&state.db).await?;
    sqlx::query("DELETE FROM webauthn_registrations WHERE expires_at <= $1")
        .bind(store::ts(now))
        .execute(&mut *tx)
        .await?;
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

/// `POST {device}/webauthn/registrations/{registration_id}`.
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
    if !credentials::remove(&state.db, &device.sub, &credential_id).await? {
        return Err(DeviceError::NoSuch("credential"));
    }
    tracing::info!(device_id = %device.device_id, credential_id, "WebAuthn credential removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}
