//! Administrators' actions, shared by the admin API and the operator CLI:
//! roles, cancelling a request, revoking a grant, blocking a client for one
//! user or for everyone. Each is audited in its own transaction.

use countersign_protocol::admin::AuditAction;
use sqlx::Row as _;

use super::{cancel_pending, find_user, AdminError, Gone, User};
use crate::audit::{Actor, Record};
use crate::store::{self, Db};

/// What the agent of a request an administrator cancelled is told
/// (`access_denied`'s `error_description`, at the token endpoint and in a
/// push error).
pub const CANCELLED_BY_ADMIN: &str = "an administrator cancelled the request";

/// Why a request its client withdrew is gone (the audit's `reason`).
pub const CANCELLED_BY_CLIENT: &str = "the client cancelled the request";

/// Gives (`admin` true) or takes away the `admin` role. Returns the user as
/// now stored and whether anything changed.
///
/// # Errors
/// Not found, or the database failed.
pub async fn set_admin(db: &Db, who: &str, admin: bool, by: &Actor<'_>, now: u64) -> Result<(User, bool), AdminError> {
    let sub = find_user(db, who).await?.sub;
    let mut tx = store::begin(db).await?;
    // Read under the write turn, so the audit's `before` is what changed.
    let stored: String =
        sqlx::query_scalar("SELECT roles FROM users WHERE sub = $1").bind(&sub).fetch_one(&mut *tx).await?;
    let before: Vec<String> = serde_json::from_str(&stored).map_err(crate::error::Internal::from)?;
    let mut roles: Vec<String> = before.iter().filter(|r| r.as_str() != "admin").cloned().collect();
    if admin {
        roles.insert(0, "admin".to_owned());
    }
    if !roles.iter().any(|r| r == "user") {
        roles.push("user".to_owned());
    }
    if roles == before {
        drop(tx);
        return Ok((find_user(db, &sub).await?, false));
    }
    sqlx::query("UPDATE users SET roles = $1 WHERE sub = $2")
        .bind(serde_json::to_string(&roles).map_err(crate::error::Internal::from)?)
        .bind(&sub)
        .execute(&mut *tx)
        .await?;
    let data = serde_json::json!({ "roles": roles, "before": before });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::UserRoles).target(&sub).user(&sub).data(data),
    )
    .await?;
    tx.commit().await?;
    Ok((find_user(db, &sub).await?, true))
}

/// Cancels one pending request: its user's approvers get `withdrawn`
/// (`cancelled`), its agent `access_denied` saying an administrator
/// cancelled it (at its next poll; ping clients are pinged, push clients get
/// the error). Returns the user whose approvers must be woken, or `None`
/// when the request was not pending.
///
/// # Errors
/// Not found, or the database failed.
pub async fn cancel_request(db: &Db, request_id: &str, by: &Actor<'_>, now: u64) -> Result<Option<String>, AdminError> {
    let mut tx = store::begin(db).await?;
    let exists = sqlx::query("SELECT status, expires_at FROM auth_requests WHERE request_id = $1")
        .bind(request_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("request {request_id:?}")))?;
    let expired = store::from_ts(exists.try_get("expires_at")?) <= now;
    if exists.try_get::<String, _>("status")? != "pending" || expired {
        return Ok(None);
    }
    let label = by.label();
    sqlx::query("UPDATE auth_requests SET cancelled_by = $1 WHERE request_id = $2 AND status = 'pending'")
        .bind(&label)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    let gone = Gone { reason: CANCELLED_BY_ADMIN, notify_client: true, by: by.clone() };
    let subs = cancel_pending(&mut tx, "r.request_id = $1", request_id, &gone, now).await?;
    tx.commit().await?;
    Ok(subs.into_iter().next())
}

/// What a client's revocation of its own `auth_req_id` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCancel {
    /// No request has this `auth_req_id`.
    Unknown,
    /// The request is another client's.
    OtherClient,
    /// The request was no longer pending (decided, expired, cancelled).
    NotPending,
    /// Cancelled: the user whose approvers must be woken.
    Cancelled(String),
}

/// A client withdraws its own pending request (RFC 7009 revocation of its
/// `auth_req_id`, `docs/server.md`): its user's approvers get `withdrawn`
/// (`cancelled`), and a later poll `access_denied`. The client is not
/// notified: it asked. Audited as `request.cancelled` by the client.
///
/// # Errors
/// The database failed.
pub async fn cancel_by_client(
    db: &Db,
    auth_req_id_hash: &str,
    client_id: &str,
    now: u64,
) -> Result<ClientCancel, AdminError> {
    let mut tx = store::begin(db).await?;
    let Some(row) =
        sqlx::query("SELECT request_id, client_id, status, expires_at FROM auth_requests WHERE auth_req_id_hash = $1")
            .bind(auth_req_id_hash)
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(ClientCancel::Unknown);
    };
    if !crate::util::ct_eq(&row.try_get::<String, _>("client_id")?, client_id) {
        return Ok(ClientCancel::OtherClient);
    }
    let expired = store::from_ts(row.try_get("expires_at")?) <= now;
    if row.try_get::<String, _>("status")? != "pending" || expired {
        return Ok(ClientCancel::NotPending);
    }
    let request_id: String = row.try_get("request_id")?;
    let gone = Gone { reason: CANCELLED_BY_CLIENT, notify_client: false, by: Actor::Client(client_id) };
    let subs = cancel_pending(&mut tx, "r.request_id = $1", &request_id, &gone, now).await?;
    tx.commit().await?;
    Ok(subs.into_iter().next().map_or(ClientCancel::NotPending, ClientCancel::Cancelled))
}

/// Revokes a grant (its access token, and with it the grant's other access
/// tokens and its refresh token family): it introspects inactive at once.
/// Returns `false` when it was already revoked.
///
/// # Errors
/// Not found, or the database failed.
pub async fn revoke_grant(db: &Db, jti: &str, by: &Actor<'_>, now: u64) -> Result<bool, AdminError> {
    let mut tx = store::begin(db).await?;
    let known = sqlx::query("SELECT 1 FROM tokens WHERE jti = $1").bind(jti).fetch_optional(&mut *tx).await?;
    if known.is_none() {
        return Err(AdminError::NotFound(format!("grant {jti:?}")));
    }
    let revoked = crate::oauth::tokens::revoke(&mut tx, jti, by, "revoked by an administrator", now).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Blocks a client for one user: their pending requests from it are
/// cancelled and later ones refused with `access_denied`; their tokens from
/// it are revoked. Returns the user's `sub` and whether the client was not
/// blocked for them already.
///
/// # Errors
/// Not found, or the database failed.
pub async fn block_client_for_user(
    db: &Db,
    client_id: &str,
    who: &str,
    by: &Actor<'_>,
    now: u64,
) -> Result<(String, bool), AdminError> {
    let user = find_user(db, who).await?;
    let mut tx = store::begin(db).await?;
    client_exists(&mut tx, client_id).await?;
    let label = by.label();
    let done = sqlx::query(
        "INSERT INTO client_user_blocks (client_id, sub, blocked_at, blocked_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(&user.sub)
    .bind(store::ts(now))
    .bind(&label)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok((user.sub, false));
    }
    // The blocks of this client, this one included (other users' pending
    // requests were cancelled when they were blocked).
    let filter = "r.client_id = $1 AND EXISTS (SELECT 1 FROM client_user_blocks b WHERE b.client_id = r.client_id \
                  AND b.sub = r.sub)";
    // Pending requests: cancelled, the agent told an administrator did it.
    sqlx::query(&format!("UPDATE auth_requests AS r SET cancelled_by = $2 WHERE {filter} AND r.status = 'pending'"))
        .bind(client_id)
        .bind(&label)
        .execute(&mut *tx)
        .await?;
    let gone = Gone { reason: CANCELLED_BY_ADMIN, notify_client: true, by: by.clone() };
    cancel_pending(&mut tx, filter, client_id, &gone, now).await?;
    // Approved, tokens not yet delivered by push: the push error instead
    // (poll and ping clients are refused at the token endpoint).
    super::drop_push_tokens(&mut tx, filter, client_id, "an administrator blocked the client for the user", now)
        .await?;
    let revoked =
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE client_id = $2 AND sub = $3 AND revoked_at IS NULL")
            .bind(store::ts(now))
            .bind(client_id)
            .bind(&user.sub)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let refresh =
        crate::oauth::refresh::revoke_where(&mut tx, "client_id = $2 AND sub = $3", client_id, Some(&user.sub), now)
            .await?;
    let data = serde_json::json!({ "for": "user", "tokens_revoked": revoked, "refresh_tokens_revoked": refresh });
    crate::audit::append(
        &mut tx,
        now,
        &Record::new(by.clone(), AuditAction::ClientBlocked).target(client_id).user(&user.sub).data(data),
    )
    .await?;
    super::notice_blocked(&mut tx, client_id, Some(&user.sub), by, now).await?;
    tx.commit().await?;
    Ok((user.sub, true))
}

/// Lifts an administrator's block of a client: for one user (`who`), or for
/// everyone (re-enables a disabled client). Returns whether a block was
/// lifted.
///
/// # Errors
/// Not found, or the database failed.
pub async fn unblock_client(
    db: &Db,
    client_id: &str,
    who: Option<&str>,
    by: &Actor<'_>,
    now: u64,
) -> Result<bool, AdminError> {
    let user = match who {
        Some(w) => Some(find_user(db, w).await?),
        None => None,
    };
    let mut tx = store::begin(db).await?;
    client_exists(&mut tx, client_id).await?;
    let done = match &user {
        Some(u) => {
            sqlx::query("DELETE FROM client_user_blocks WHERE client_id = $1 AND sub = $2")
                .bind(client_id)
                .bind(&u.sub)
                .execute(&mut *tx)
                .await?
        }
        None => {
            sqlx::query("UPDATE clients SET disabled = 0 WHERE client_id = $1 AND disabled = 1")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
        }
    };
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let data = serde_json::json!({ "for": if user.is_some() { "user" } else { "everyone" } });
    let mut record = Record::new(by.clone(), AuditAction::ClientUnblocked).target(client_id).data(data);
    if let Some(u) = &user {
        record = record.user(&u.sub);
    }
    crate::audit::append(&mut tx, now, &record).await?;
    tx.commit().await?;
    Ok(true)
}

async fn client_exists(tx: &mut store::Tx, client_id: &str) -> Result<(), AdminError> {
    sqlx::query("SELECT 1 FROM clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| AdminError::NotFound(format!("client {client_id:?}")))
}
