//! Blocks that follow from `not_me` denials of requests made by unverified
//! clients. Such denials are counted per user across every unverified
//! client, so that registering a new client does not reset the count: past
//! [`crate::config::Limits::not_me_threshold`] within the `not_me` window,
//! every unverified client is refused for that user until an operator
//! (`countersign-server client unblock --user`) or the user (from an
//! approver, `POST {device}/unverified-block/lift`) lifts the block.
//! Denials before a lift no longer count.
//!
//! Verified clients are counted per (user, client) within the window
//! instead (`oauth/fatigue.rs`): an operator vouches for them, so one client's
//! denials do not stop the others.

use sqlx::{AnyConnection, Row as _};

use crate::audit::{Actor, Record};
use crate::config::Limits;
use crate::error::Internal;
use crate::store::{self, Tx};
use countersign_protocol::admin::AuditAction;

/// A user's (`$1`) `not_me` denials of one client (`$2`) decided after `$3`:
/// what blocks a verified client for that user (`oauth/fatigue.rs` checks
/// it at each request, reading the count and a NULL as its other counts;
/// [`after_not_me`] records the block's start).
pub(crate) const NOT_ME_OF_CLIENT: &str = "SELECT COUNT(*), NULL FROM auth_requests WHERE sub = $1 AND client_id = $2 \
     AND deny_reason = 'not_me' AND decided_at > $3";

/// Whether every unverified client is blocked for `sub`.
///
/// # Errors
/// The database failed.
pub async fn unverified_blocked(conn: &mut AnyConnection, sub: &str) -> Result<bool, Internal> {
    let row = sqlx::query("SELECT 1 AS b FROM unverified_blocks WHERE sub = $1 AND lifted_at IS NULL LIMIT 1")
        .bind(sub)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// After `device` of the user denied `req` as `not_me`, in the decision's
/// transaction: the administrators are told, and the block that follows
/// is recorded and told when this denial is the one that reaches the
/// threshold (a verified client's block for the user is derived from the
/// denials, so only this moment records it; unverified clients are blocked
/// for the user by [`after_unverified_not_me`]). Returns the
/// administrators to wake after the commit.
///
/// # Errors
/// The database failed.
pub async fn after_not_me(
    tx: &mut Tx,
    limits: &Limits,
    req: &crate::store::requests::StoredRequest,
    device: &str,
    now: u64,
) -> Result<Vec<String>, Internal> {
    use countersign_protocol::device::{AdminNotice, AdminNoticeKind};
    let by = Actor::Device(device).label();
    let notice = |kind: AdminNoticeKind, with_client: bool, by: String| AdminNotice {
        notice: kind,
        client_id: with_client.then(|| req.client_id.clone()),
        sub: Some(req.sub.clone()),
        request_id: None,
        by,
        at: now,
    };
    let mut denied = notice(AdminNoticeKind::NotMe, true, by);
    denied.request_id = Some(req.request_id.clone());
    let admins = crate::admin::notices::append(tx, &denied, Some(device), now).await?;
    if !req.verified && after_unverified_not_me(tx, limits, &req.sub, now).await? {
        let blocked = notice(AdminNoticeKind::UnverifiedBlocked, false, Actor::Server.label());
        crate::admin::notices::append(tx, &blocked, None, now).await?;
    }
    // A verified client's block is enforced while it is verified (its
    // verification now, as `oauth/fatigue.rs` checks it), whatever it was
    // when the request was made.
    let conn: &mut AnyConnection = tx;
    let verified_now: Option<i64> = sqlx::query_scalar("SELECT verified FROM clients WHERE client_id = $1")
        .bind(&req.client_id)
        .fetch_optional(&mut *conn)
        .await?;
    if limits.not_me_threshold == 0 || verified_now.unwrap_or(0) == 0 {
        return Ok(admins);
    }
    // This decision is recorded already: the count includes it.
    let n: i64 = sqlx::query_scalar(NOT_ME_OF_CLIENT)
        .bind(&req.sub)
        .bind(&req.client_id)
        .bind(store::ts(now.saturating_sub(limits.not_me_window_secs)))
        .fetch_one(&mut *conn)
        .await?;
    if n == i64::from(limits.not_me_threshold) {
        crate::audit::append(
            conn,
            now,
            &Record::new(Actor::Server, AuditAction::ClientBlocked).target(&req.client_id).user(&req.sub).data(
                serde_json::json!({
                    "for": "user",
                    "because": "not_me",
                    "not_me_denials": n,
                    "window_secs": limits.not_me_window_secs,
                }),
            ),
        )
        .await?;
        let blocked = notice(AdminNoticeKind::ClientBlocked, true, Actor::Server.label());
        crate::admin::notices::append(conn, &blocked, None, now).await?;
        tracing::info!(client_id = %req.client_id, "client blocked for a user after not_me denials");
    }
    Ok(admins)
}

/// After a `not_me` denial of an unverified client's request by `sub` was
/// recorded (same transaction): blocks unverified clients for the user when
/// the count reaches the threshold, and then cancels the user's pending
/// requests from unverified clients (withdrawn from the approvers; ping and
/// push clients told `access_denied`). Returns whether a block started.
///
/// # Errors
/// The database failed.
pub async fn after_unverified_not_me(tx: &mut Tx, limits: &Limits, sub: &str, now: u64) -> Result<bool, Internal> {
    let conn: &mut AnyConnection = tx;
    if limits.not_me_threshold == 0 || unverified_blocked(conn, sub).await? {
        return Ok(false);
    }
    let last_lift = sqlx::query("SELECT MAX(lifted_at) AS t FROM unverified_blocks WHERE sub = $1")
        .bind(sub)
        .fetch_one(&mut *conn)
        .await?
        .try_get::<Option<i64>, _>("t")?
        .unwrap_or(0);
    let since = store::ts(now.saturating_sub(limits.not_me_window_secs)).max(last_lift);
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM auth_requests WHERE sub = $1 AND deny_reason = 'not_me' \
         AND client_verified = 0 AND decided_at > $2",
    )
    .bind(sub)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    if n < i64::from(limits.not_me_threshold) {
        return Ok(false);
    }
    sqlx::query("INSERT INTO unverified_blocks (sub, blocked_at) VALUES ($1, $2)")
        .bind(sub)
        .bind(store::ts(now))
        .execute(&mut *conn)
        .await?;
    crate::audit::append(
        conn,
        now,
        &Record::new(Actor::Server, AuditAction::UnverifiedBlocked)
            .user(sub)
            .data(serde_json::json!({ "not_me_denials": n, "window_secs": limits.not_me_window_secs })),
    )
    .await?;
    let gone =
        crate::ops::Gone { reason: "the user blocked unverified clients", notify_client: true, by: Actor::Server };
    crate::ops::cancel_pending(tx, "r.sub = $1 AND r.client_verified = 0", sub, &gone, now)
        .await
        .map_err(|e| Internal::new(e.to_string()))?;
    tracing::info!("unverified clients blocked for a user after not_me denials");
    Ok(true)
}

/// Since when unverified clients are blocked for `sub`, if they are.
///
/// # Errors
/// The database failed.
pub async fn unverified_block_since(conn: &mut AnyConnection, sub: &str) -> Result<Option<u64>, Internal> {
    let row = sqlx::query("SELECT MIN(blocked_at) AS t FROM unverified_blocks WHERE sub = $1 AND lifted_at IS NULL")
        .bind(sub)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<Option<i64>, _>("t")?.map(store::from_ts))
}

/// Lifts the block of unverified clients for `sub`; `by` says who (an
/// operator, or the user's device). Returns whether a block was lifted.
///
/// # Errors
/// The database failed.
pub async fn lift_unverified(conn: &mut AnyConnection, sub: &str, by: &Actor<'_>, now: u64) -> Result<bool, Internal> {
    let done =
        sqlx::query("UPDATE unverified_blocks SET lifted_at = $1, lifted_by = $2 WHERE sub = $3 AND lifted_at IS NULL")
            .bind(store::ts(now))
            .bind(by.label())
            .bind(sub)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::audit::append(conn, now, &Record::new(by.clone(), AuditAction::UnverifiedUnblocked).user(sub)).await?;
    Ok(true)
}

/// Whether an administrator blocked `client_id` for `sub`
/// (`client_user_blocks`, the admin API).
///
/// # Errors
/// The database failed.
pub async fn client_blocked_for_user(conn: &mut AnyConnection, client_id: &str, sub: &str) -> Result<bool, Internal> {
    let row = sqlx::query("SELECT 1 FROM client_user_blocks WHERE client_id = $1 AND sub = $2")
        .bind(client_id)
        .bind(sub)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}
