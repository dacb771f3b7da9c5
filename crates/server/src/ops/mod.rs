//! Operator operations, shared by the `countersign-server` binary's CLI,
//! tests and (later) the admin API: users, clients, devices, enrollment
//! links, the unverified-client block, signing keys.

use countersign_protocol::ciba::{PingCallback, TokenDeliveryMode};
use countersign_protocol::device::{EnrollmentUri, Issuer, WithdrawReason};
use countersign_protocol::error::{ErrorCode, PushErrorResponse};
use countersign_protocol::secret::{generate_url_safe, AuthReqId, EnrollmentTicket, UserCode, TICKET_BYTES};
use serde::Serialize;
use sqlx::Row as _;

mod admin;
mod security_keys;
mod token_policy;
pub use crate::oauth::clients::StepUpAt;
pub use admin::{
    block_client_for_user, cancel_by_client, cancel_request, revoke_grant, set_admin, unblock_client, ClientCancel,
    CANCELLED_BY_ADMIN, CANCELLED_BY_CLIENT,
};
pub use security_keys::{list_security_keys, remove_security_key, set_client_step_up, set_client_user_verification};
pub use token_policy::{parse_lifetime, set_client_token_policy, LifetimeChange, TokenPolicyChange};

pub use crate::audit::Actor;
use crate::audit::Record;
use crate::error::Internal;
use crate::store::users::USER_COLUMNS;
use crate::store::{self};
use crate::util;
use countersign_protocol::admin::AuditAction;

pub use crate::store::users::User;
pub use crate::store::Db;

/// Opens (creating it if needed) and migrates the SQLite database at `path`
/// ([`Location::open`] opens either database).
///
/// # Errors
/// The file cannot be opened or a migration failed.
pub async fn open_database(path: &std::path::Path) -> Result<Db, Internal> {
    store::open(path).await
}

pub use crate::crypto::user_code::UserCodeKey;
pub use crate::device::fanout::wake_from_outside as wake_streams;
pub use crate::store::Location;

/// Starts a new signing key (keeping the old one published for
/// `Config::key_retention_secs`) and returns its `kid`; creates the first
/// key if there is none.
///
/// # Errors
/// The database or the RNG failed.
pub async fn rotate_signing_key(db: &Db, by: &Actor<'_>, now: u64) -> Result<String, Internal> {
    crate::crypto::signing_keys::ensure_active(db, now).await?;
    crate::crypto::signing_keys::rotate(db, Some(by), now).await
}

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// No such user, client or device.
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed.
    #[error("{0}")]
    Internal(#[source] Internal),
}

crate::error::internal_from!(AdminError);

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (CIBA `login_hint`).
    pub username: String,
    /// Display name.
    pub name: String,
    /// E-mail address (also accepted as `login_hint`).
    pub email: Option<String>,
    /// Give the `admin` role.
    pub admin: bool,
}

fn check_label(what: &str, s: &str, max: usize) -> Result<(), AdminError> {
    let n = s.chars().count();
    if n == 0 || n > max || s.chars().any(char::is_control) || s.trim() != s {
        return Err(AdminError::Invalid(format!("{what} must be 1 to {max} characters, no control characters")));
    }
    Ok(())
}

/// Adds a user; returns it (with its new `sub`).
///
/// # Errors
/// Invalid input, a duplicate username or e-mail, or the database failed.
pub async fn add_user(db: &Db, user: &NewUser, by: &Actor<'_>, now: u64) -> Result<User, AdminError> {
    check_label("username", &user.username, 64)?;
    check_label("name", &user.name, 100)?;
    if user.username.starts_with('{') || user.username.contains(' ') {
        return Err(AdminError::Invalid("username must not start with '{' nor contain spaces".into()));
    }
    let email = user.email.as_ref().map(|e| e.to_ascii_lowercase());
    if let Some(e) = &email {
        check_label("email", e, 254)?;
        if !e.contains('@') {
            return Err(AdminError::Invalid("email must contain @".into()));
        }
    }
    let sub = util::random_id("u_", 16)?;
    let roles = if user.admin { vec!["admin", "user"] } else { vec!["user"] };
    let mut tx = store::begin(db).await?;
    let taken = sqlx::query(
        "SELECT sub FROM users WHERE username = $1 OR email = $1 OR ($2 IS NOT NULL AND (email = $2 OR username = $2))",
    )
    .bind(&user.username)
    .bind(&email)
    .fetch_optional(&mut *tx)
    .await?;
    if taken.is_some() {
        return Err(AdminError::Invalid("username or email already in use".into()));
    }
    sqlx::query("INSERT INTO users (sub, username, email, name, roles, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&sub)
        .bind(&user.username)
        .bind(&email)
        .bind(&user.name)
        .bind(serde_json::to_string(&roles).map_err(Internal::from)?)
        .bind(store::ts(now))
        .execute(&mut *tx)
        .await?;
    let data = serde_json::json!({ "username": user.username, "roles": roles });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::UserAdded).target(&sub).user(&sub).data(data),
    )
    .await?;
    tx.commit().await?;
    find_user(db, &sub).await
}

/// Finds a user by `sub` or username: a `sub` first, so that a username
/// spelled like another user's `sub` never stands for that user (the admin
/// API names users by `sub`).
///
/// # Errors
/// Not found, or the database failed.
pub async fn find_user(db: &Db, who: &str) -> Result<User, AdminError> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR sub = $1 ORDER BY sub = $1 DESC LIMIT 1"
    ))
    .bind(who)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AdminError::NotFound(format!("user {who:?}")))
}

/// Every user, by username.
///
/// # Errors
/// The database failed.
pub async fn list_users(db: &Db) -> Result<Vec<User>, AdminError> {
    Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")).fetch_all(db).await?)
}

/// Disables a user: hints no longer find them, their devices are refused,
/// their pending requests are cancelled (ping and push clients are told,
/// CIBA Core §10.2 and §12), their access tokens introspect inactive, and no
/// token of theirs is delivered or issued any more.
///
/// # Errors
/// Not found, or the database failed.
pub async fn disable_user(db: &Db, who: &str, by: &Actor<'_>, now: u64) -> Result<User, AdminError> {
    let user = find_user(db, who).await?;
    let mut tx = store::begin(db).await?;
    sqlx::query("UPDATE users SET disabled = 1 WHERE sub = $1").bind(&user.sub).execute(&mut *tx).await?;
    let gone = Gone { reason: "the user's account was disabled", notify_client: true, by: by.clone() };
    // Undelivered tokens of the user (push) become the denial; pings stay
    // (the client polls and is refused).
    drop_push_tokens(&mut tx, "r.sub = $1", &user.sub, gone.reason, now).await?;
    cancel_pending(&mut tx, "r.sub = $1", &user.sub, &gone, now).await?;
    let revoked = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE sub = $2 AND revoked_at IS NULL")
        .bind(store::ts(now))
        .bind(&user.sub)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let refresh = crate::oauth::refresh::revoke_where(&mut tx, "sub = $2", &user.sub, None, now).await?;
    let data = serde_json::json!({ "tokens_revoked": revoked, "refresh_tokens_revoked": refresh });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::UserDisabled).target(&user.sub).user(&user.sub).data(data),
    )
    .await?;
    tx.commit().await?;
    find_user(db, who).await
}

/// Why pending requests are cancelled, and whether their (ping or push)
/// client hears of it.
pub(crate) struct Gone<'a> {
    pub(crate) reason: &'static str,
    pub(crate) notify_client: bool,
    /// Who cancelled (the audit log's actor).
    pub(crate) by: Actor<'a>,
}

/// Cancels the pending requests selected by `filter` (on `r`, the request,
/// with `$1` = `value`): status `cancelled`, a `withdrawn` event (reason
/// `cancelled`) for the user's approvers, and, when `gone.notify_client`, a
/// ping (the client polls and gets `access_denied`) or a push error
/// `access_denied` for ping and push clients.
/// Returns the users whose approvers were told.
pub(crate) async fn cancel_pending(
    tx: &mut store::Tx,
    filter: &str,
    value: &str,
    gone: &Gone<'_>,
    now: u64,
) -> Result<Vec<String>, AdminError> {
    let rows = sqlx::query(&format!("{} WHERE {filter} AND r.status = 'pending'", crate::store::requests::SELECT))
        .bind(value)
        .fetch_all(&mut **tx)
        .await?;
    let mut subs = Vec::new();
    for row in &rows {
        let req = crate::store::requests::StoredRequest::from_row(row)?;
        if !subs.contains(&req.sub) {
            subs.push(req.sub.clone());
        }
        let cancelled =
            sqlx::query("UPDATE auth_requests SET status = 'cancelled' WHERE request_id = $1 AND status = 'pending'")
                .bind(req.request_id.as_str())
                .execute(&mut **tx)
                .await?;
        if cancelled.rows_affected() == 0 {
            // Decided meanwhile (where writers are not serialised): not ours.
            continue;
        }
        crate::device::events::withdrawn(tx, &req.sub, &req.request_id, WithdrawReason::Cancelled, None, now).await?;
        crate::audit::append(
            tx,
            now,
            &Record::new(gone.by.clone(), AuditAction::RequestCancelled)
                .target(req.request_id.as_str())
                .user(&req.sub)
                .data(serde_json::json!({ "client_id": req.client_id, "reason": gone.reason })),
        )
        .await?;
        if !gone.notify_client {
            continue;
        }
        let Some(auth_req_id) = req.notify_auth_req_id.clone() else { continue };
        let payload = match req.delivery_mode {
            TokenDeliveryMode::Push => {
                let e = PushErrorResponse::new(ErrorCode::AccessDenied, auth_req_id)
                    .map_err(|e| Internal::new(e.to_string()))?
                    .with_description(gone.reason);
                serde_json::to_string(&e).map_err(Internal::from)?
            }
            _ => serde_json::to_string(&PingCallback { auth_req_id }).map_err(Internal::from)?,
        };
        crate::oauth::notify::enqueue_at(tx, &req, &payload, now.saturating_mul(1000), now).await?;
    }
    Ok(subs)
}

/// Replaces the undelivered push token responses of the requests selected
/// by `filter` with a push error `access_denied` (the tokens are revoked).
pub(crate) async fn drop_push_tokens(
    tx: &mut store::Tx,
    filter: &str,
    value: &str,
    reason: &str,
    now: u64,
) -> Result<(), AdminError> {
    let rows = sqlx::query(&format!(
        "SELECT o.request_id, r.notify_auth_req_id FROM outbox o JOIN auth_requests r ON r.request_id = o.request_id \
         WHERE {filter} AND r.delivery_mode = 'push' AND r.decision = 'approve' \
         AND o.delivered_at IS NULL AND o.failed_at IS NULL"
    ))
    .bind(value)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let request_id: String = row.try_get("request_id")?;
        let Some(auth_req_id) = row.try_get::<Option<String>, _>("notify_auth_req_id")? else { continue };
        let e = PushErrorResponse::new(ErrorCode::AccessDenied, AuthReqId::new(auth_req_id))
            .map_err(|e| Internal::new(e.to_string()))?
            .with_description(reason);
        sqlx::query("UPDATE outbox SET payload = $1, last_error = $2 WHERE request_id = $3")
            .bind(serde_json::to_string(&e).map_err(Internal::from)?)
            .bind(format!("tokens withdrawn at {now}: {reason}"))
            .bind(&request_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Sets the CIBA `user_code` of a user, stored as an HMAC under `key`, the
/// server's ([`crate::crypto::user_code`]; `AppState::user_code_key`, or
/// [`crate::crypto::user_code::UserCodeKey::new`] over the secret key file).
///
/// # Errors
/// Not found, an empty code, or the database failed.
pub async fn set_user_code(
    db: &Db,
    key: &crate::crypto::user_code::UserCodeKey,
    who: &str,
    code: &UserCode,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), AdminError> {
    if code.secret().trim().is_empty() {
        return Err(AdminError::Invalid("user_code must not be empty".into()));
    }
    let user = find_user(db, who).await?;
    let mut tx = store::begin(db).await?;
    sqlx::query("UPDATE users SET user_code_hash = $1 WHERE sub = $2")
        .bind(key.seal(code.secret()))
        .bind(&user.sub)
        .execute(&mut *tx)
        .await?;
    crate::audit::append(&mut tx, now, &Record::new(by.clone(), AuditAction::UserCodeSet).user(&user.sub)).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a one-time enrollment ticket for a user (valid `ttl_secs`) and
/// returns the invitation. Only the ticket's hash is stored.
///
/// # Errors
/// Not found, a disabled user, or the database failed.
pub async fn enrollment_link(
    db: &Db,
    issuer: &Issuer,
    who: &str,
    ttl_secs: u64,
    now: u64,
) -> Result<EnrollmentUri, AdminError> {
    let user = find_user(db, who).await?;
    if user.disabled {
        return Err(AdminError::Invalid(format!("user {who:?} is disabled")));
    }
    let ticket = EnrollmentTicket::new(generate_url_safe(TICKET_BYTES).map_err(Internal::from)?);
    let mut tx = store::begin(db).await?;
    sqlx::query("INSERT INTO enrollment_tickets (ticket_hash, sub, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(util::hash_secret(ticket.secret()))
        .bind(&user.sub)
        .bind(store::ts(now))
        .bind(store::ts(now.saturating_add(ttl_secs)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    EnrollmentUri::new(issuer.clone(), ticket).map_err(|e| AdminError::Internal(Internal::new(e.to_string())))
}

/// A client, as `client list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSummary {
    /// `client_id`.
    pub client_id: String,
    /// `client_name`.
    pub client_name: String,
    /// Delivery mode.
    pub delivery_mode: String,
    /// Authentication method.
    pub auth_method: String,
    /// Disabled.
    pub disabled: bool,
    /// Verified by an operator: by whom and when (unix seconds).
    pub verified: Option<(String, u64)>,
    /// Registered, unix seconds.
    pub created_at: u64,
}

/// Every client, oldest first.
///
/// # Errors
/// The database failed.
pub async fn list_clients(db: &Db) -> Result<Vec<ClientSummary>, AdminError> {
    let rows = sqlx::query(
        "SELECT client_id, client_name, delivery_mode, auth_method, disabled, verified, verified_by, verified_at, \
         created_at FROM clients ORDER BY created_at, client_id",
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(ClientSummary {
            client_id: r.try_get("client_id")?,
            client_name: r.try_get("client_name")?,
            delivery_mode: r.try_get("delivery_mode")?,
            auth_method: r.try_get("auth_method")?,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            verified: match (r.try_get::<i64, _>("verified")?, r.try_get::<Option<String>, _>("verified_by")?) {
                (0, _) => None,
                (_, by) => Some((
                    by.unwrap_or_default(),
                    store::from_ts(r.try_get::<Option<i64>, _>("verified_at")?.unwrap_or(0)),
                )),
            },
            created_at: store::from_ts(r.try_get("created_at")?),
        });
    }
    Ok(out)
}

/// Disables a client: its calls get `unauthorized_client`, its pending
/// requests are withdrawn from the approvers (cancelled), no decision on
/// them is accepted, its queued ping and push deliveries are dropped and its
/// access tokens introspect inactive.
///
/// Returns the users whose pending requests were withdrawn, or `None` when
/// the client was disabled already (nothing written).
///
/// # Errors
/// Not found, or the database failed.
pub async fn disable_client(
    db: &Db,
    client_id: &str,
    by: &Actor<'_>,
    now: u64,
) -> Result<Option<Vec<String>>, AdminError> {
    let mut tx = store::begin(db).await?;
    // Checked and changed in one statement under the write turn: two
    // concurrent blocks record one change.
    let done = sqlx::query("UPDATE clients SET disabled = 1 WHERE client_id = $1 AND disabled = 0")
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        let exists =
            sqlx::query("SELECT 1 FROM clients WHERE client_id = $1").bind(client_id).fetch_optional(&mut *tx).await?;
        return match exists {
            Some(_) => Ok(None),
            None => Err(AdminError::NotFound(format!("client {client_id:?}"))),
        };
    }
    let gone = Gone { reason: "the client was disabled", notify_client: false, by: by.clone() };
    let subs = cancel_pending(&mut tx, "r.client_id = $1", client_id, &gone, now).await?;
    sqlx::query(
        "UPDATE outbox SET failed_at = $1, payload = '', bearer = '', last_error = 'the client was disabled' \
         WHERE client_id = $2 AND delivered_at IS NULL AND failed_at IS NULL",
    )
    .bind(store::ts(now))
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    let revoked = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL")
        .bind(store::ts(now))
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let refresh = crate::oauth::refresh::revoke_where(&mut tx, "client_id = $2", client_id, None, now).await?;
    let data = serde_json::json!({ "for": "everyone", "tokens_revoked": revoked, "refresh_tokens_revoked": refresh });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientBlocked).target(client_id).data(data),
    )
    .await?;
    notice_blocked(&mut tx, client_id, None, by, now).await?;
    tx.commit().await?;
    tracing::info!(client_id, "client disabled");
    Ok(Some(subs))
}

/// Tells the administrators (but the device that did it) that `client_id`
/// was blocked for `sub` or everyone; their streams wake at the next
/// notice or reconnect unless the caller wakes them
/// ([`crate::admin::notices::wake_admins`]).
async fn notice_blocked(
    tx: &mut store::Tx,
    client_id: &str,
    sub: Option<&str>,
    by: &Actor<'_>,
    now: u64,
) -> Result<(), Internal> {
    let notice = countersign_protocol::device::AdminNotice {
        notice: countersign_protocol::device::AdminNoticeKind::ClientBlocked,
        client_id: Some(client_id.to_owned()),
        sub: sub.map(str::to_owned),
        request_id: None,
        by: by.label(),
        at: now,
    };
    crate::admin::notices::append(tx, &notice, by.device(), now).await.map(drop)
}

/// Marks a client as verified by `by` (an operator) or, with `verified`
/// false, takes that back; `false` when it already was so (nothing
/// written). Requests made afterwards show the new state;
/// requests already made keep what their approvers were shown.
///
/// # Errors
/// Not found, or the database failed.
pub async fn set_client_verified(
    db: &Db,
    client_id: &str,
    verified: bool,
    by: &Actor<'_>,
    now: u64,
) -> Result<bool, AdminError> {
    let label = by.label();
    check_label("verified by", &label, 100)?;
    let mut tx = store::begin(db).await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT verified FROM clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
    match current {
        None => return Err(AdminError::NotFound(format!("client {client_id:?}"))),
        // Already so: who verified it and when stay as they were.
        Some(v) if (v != 0) == verified => return Ok(false),
        Some(_) => {}
    }
    sqlx::query("UPDATE clients SET verified = $1, verified_at = $2, verified_by = $3 WHERE client_id = $4")
        .bind(store::flag(verified))
        .bind(verified.then(|| store::ts(now)))
        .bind(verified.then_some(label.as_str()))
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
    let data = serde_json::json!({ "verified": verified });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientVerification).target(client_id).data(data),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client_id, verified, by = %label, "client verification changed");
    Ok(true)
}

/// Lifts the block of unverified clients for a user (after their `not_me`
/// denials); `by` names the operator. Returns whether a block was lifted.
///
/// # Errors
/// Not found, or the database failed.
pub async fn unblock_unverified(db: &Db, who: &str, by: &Actor<'_>, now: u64) -> Result<bool, AdminError> {
    let user = find_user(db, who).await?;
    let mut tx = store::begin(db).await?;
    let lifted = crate::store::blocks::lift_unverified(&mut tx, &user.sub, by, now).await?;
    tx.commit().await?;
    Ok(lifted)
}

/// A device, as `device list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    /// `device_id`.
    pub device_id: String,
    /// Its user's `sub`.
    pub sub: String,
    /// `device_name`.
    pub device_name: String,
    /// `platform`.
    pub platform: String,
    /// Enrolled, unix seconds.
    pub created_at: u64,
    /// Revoked, unix seconds.
    pub revoked_at: Option<u64>,
}

/// The devices of a user.
///
/// # Errors
/// Not found, or the database failed.
pub async fn list_devices(db: &Db, who: &str) -> Result<Vec<DeviceSummary>, AdminError> {
    let user = find_user(db, who).await?;
    let rows = sqlx::query(
        "SELECT device_id, sub, device_name, platform, created_at, revoked_at FROM devices WHERE sub = $1 \
         ORDER BY created_at, device_id",
    )
    .bind(&user.sub)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(DeviceSummary {
            device_id: r.try_get("device_id")?,
            sub: r.try_get("sub")?,
            device_name: r.try_get("device_name")?,
            platform: r.try_get("platform")?,
            created_at: store::from_ts(r.try_get("created_at")?),
            revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(store::from_ts),
        });
    }
    Ok(out)
}

/// Revokes a device; returns its user's `sub` and whether it was not
/// revoked already. A running server refuses it
/// at once; its open event streams close at the next wake-up (immediately
/// when revoked through [`crate::state::AppState`], otherwise within one
/// heartbeat interval).
///
/// # Errors
/// Not found, or the database failed.
pub async fn revoke_device(db: &Db, device_id: &str, by: &Actor<'_>, now: u64) -> Result<(String, bool), AdminError> {
    let mut tx = store::begin(db).await?;
    let row = sqlx::query("SELECT sub FROM devices WHERE device_id = $1")
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("device {device_id:?}")))?;
    let sub: String = row.try_get("sub")?;
    let done = sqlx::query("UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL")
        .bind(store::ts(now))
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    let changed = done.rows_affected() > 0;
    if changed {
        crate::audit::append(
            &mut tx,
            now,
            &Record::new(by.clone(), AuditAction::DeviceRevoked).target(device_id).user(&sub),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((sub, changed))
}

impl crate::state::AppState {
    /// Revokes a device and closes its open event streams at once.
    ///
    /// # Errors
    /// As [`revoke_device`].
    pub async fn revoke_device(&self, device_id: &str, by: &Actor<'_>) -> Result<(), AdminError> {
        let (sub, _) = revoke_device(&self.db, device_id, by, self.now()).await?;
        self.hub.notify(&sub);
        Ok(())
    }

    /// Disables a client ([`disable_client`]) and tells the approvers at
    /// once.
    ///
    /// # Errors
    /// As [`disable_client`].
    /// Whether it changed anything (`false`: it was disabled already).
    pub async fn disable_client(&self, client_id: &str, by: &Actor<'_>) -> Result<bool, AdminError> {
        let Some(subs) = disable_client(&self.db, client_id, by, self.now()).await? else { return Ok(false) };
        for sub in subs {
            self.hub.notify(&sub);
        }
        Ok(true)
    }

    /// Disables a user ([`disable_user`]), closes their streams and sends
    /// the notifications it queued at once.
    ///
    /// # Errors
    /// As [`disable_user`].
    pub async fn disable_user(&self, who: &str, by: &Actor<'_>) -> Result<User, AdminError> {
        let user = disable_user(&self.db, who, by, self.now()).await?;
        self.hub.notify(&user.sub);
        self.outbox_wake.notify_one();
        Ok(user)
    }
}
