//! The admin API's actions: each delegates to [`crate::ops`] (which audits
//! it, the administrator's device as the actor) and answers what changed.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_protocol::admin::ActionResult;

use super::AdminCaller;
use crate::audit::Actor;
use crate::device::no_store;
use crate::error::DeviceError;
use crate::ops::{self, AdminError};
use crate::state::AppState;

impl From<AdminError> for DeviceError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(d) => DeviceError::InvalidRequest(d),
            AdminError::NotFound(what) => DeviceError::NotFoundNamed(what),
            AdminError::Internal(e) => DeviceError::Internal(e),
        }
    }
}

/// The user the path names, by `sub` only (the operator CLI's lookup also
/// takes usernames: a missing `sub` must not fall back to one).
async fn user_by_sub(state: &AppState, sub: &str) -> Result<(), DeviceError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE sub = $1").bind(sub).fetch_optional(&state.db).await?;
    found.map(drop).ok_or_else(|| DeviceError::NotFoundNamed(format!("user {sub:?}")))
}

/// The administrator's device, as the audit log names it.
fn actor(admin: &crate::device::Device) -> Actor<'_> {
    Actor::Device(admin.device_id.as_str())
}

fn done(changed: bool) -> Response {
    no_store(Json(ActionResult { changed }).into_response())
}

/// `POST /admin/v1/requests/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    let sub = ops::cancel_request(&state.db, &id, &by, state.now()).await?;
    if let Some(sub) = &sub {
        state.hub.notify(sub);
        state.outbox_wake.notify_one();
        tracing::info!(request_id = %id, device_id = %admin.device_id, "request cancelled by an administrator");
    }
    Ok(done(sub.is_some()))
}

/// `POST /admin/v1/grants/{id}/revoke`.
pub async fn revoke_grant(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    Ok(done(ops::revoke_grant(&state.db, &id, &by, state.now()).await?))
}

async fn set_verified(
    state: &AppState,
    admin: &crate::device::Device,
    id: &str,
    verified: bool,
) -> Result<Response, DeviceError> {
    let by = actor(admin);
    Ok(done(ops::set_client_verified(&state.db, id, verified, &by, state.now()).await?))
}

/// `POST /admin/v1/clients/{id}/verify`.
pub async fn verify_client(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    set_verified(&state, &admin, &id, true).await
}

/// `POST /admin/v1/clients/{id}/unverify`.
pub async fn unverify_client(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    set_verified(&state, &admin, &id, false).await
}

/// `POST /admin/v1/clients/{id}/block`: for everyone (the client is
/// disabled).
pub async fn block_client(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    let changed = state.disable_client(&id, &by).await?;
    if changed {
        super::notices::wake_admins(&state).await;
    }
    state.outbox_wake.notify_one();
    Ok(done(changed))
}

/// `POST /admin/v1/clients/{id}/unblock`: for everyone (re-enabled).
pub async fn unblock_client(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    Ok(done(ops::unblock_client(&state.db, &id, None, &by, state.now()).await?))
}

/// `POST /admin/v1/clients/{id}/users/{sub}/block`: for one user.
pub async fn block_client_for_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path((id, sub)): Path<(String, String)>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    user_by_sub(&state, &sub).await?;
    let (sub, changed) = ops::block_client_for_user(&state.db, &id, &sub, &by, state.now()).await?;
    if changed {
        state.hub.notify(&sub);
        super::notices::wake_admins(&state).await;
        state.outbox_wake.notify_one();
    }
    Ok(done(changed))
}

/// `POST /admin/v1/clients/{id}/users/{sub}/unblock`.
pub async fn unblock_client_for_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path((id, sub)): Path<(String, String)>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    user_by_sub(&state, &sub).await?;
    Ok(done(ops::unblock_client(&state.db, &id, Some(&sub), &by, state.now()).await?))
}

/// `POST /admin/v1/devices/{id}/revoke`: refused at once, its streams
/// closed.
pub async fn revoke_device(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response, DeviceError> {
    let by = actor(&admin);
    let (sub, changed) = ops::revoke_device(&state.db, &id, &by, state.now()).await?;
    state.hub.notify(&sub);
    Ok(done(changed))
}
