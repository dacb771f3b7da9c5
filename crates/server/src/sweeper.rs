//! Background housekeeping: expires pending requests (withdrawing them from
//! the devices and, for push clients, queueing the `expired_token` push
//! error, CIBA Core §12), clears the stored token responses whose replay
//! window has ended, and prunes the `jti` replay caches and events older
//! than a week.

use countersign_protocol::ciba::TokenDeliveryMode;
use countersign_protocol::device::WithdrawReason;
use countersign_protocol::error::{ErrorCode, PushErrorResponse};
use std::collections::BTreeSet;

use crate::error::Internal;
use crate::state::AppState;
use crate::store;
use crate::store::requests::{self, StoredRequest};

/// How long the event log keeps events for `Last-Event-ID` resumption
/// (approvers reconcile with a poll after every reconnection anyway).
pub const EVENT_RETENTION_SECS: u64 = 7 * 24 * 3600;

/// The pending requests past their expiry, 100 at a time (the partial
/// index `auth_requests_pending_expiry`).
pub(crate) const DUE: &str = "WHERE r.status = 'pending' AND r.expires_at <= $1 ORDER BY r.expires_at LIMIT 100";

/// Expires due requests (each in its own transaction) and prunes the replay
/// caches. Returns how many requests expired.
///
/// # Errors
/// The database failed.
pub async fn sweep_once(state: &AppState) -> Result<usize, Internal> {
    let now = state.now();
    let rows = sqlx::query(&format!("{} {DUE}", requests::SELECT)).bind(store::ts(now)).fetch_all(&state.db).await?;
    let mut subs = BTreeSet::new();
    let mut queued = false;
    let mut n = 0;
    for row in &rows {
        let req = StoredRequest::from_row(row)?;
        let mut tx = store::begin(&state.db).await?;
        let done = sqlx::query(
            "UPDATE auth_requests SET status = 'expired' WHERE request_id = $1 AND status = 'pending' AND expires_at <= $2",
        )
        .bind(req.request_id.as_str())
        .bind(store::ts(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            continue;
        }
        crate::device::events::withdrawn(&mut tx, &req.sub, &req.request_id, WithdrawReason::Expired, None, now)
            .await?;
        if let (TokenDeliveryMode::Push, Some(id)) = (&req.delivery_mode, &req.notify_auth_req_id) {
            let e = PushErrorResponse::new(ErrorCode::ExpiredToken, id.clone())
                .map_err(|e| Internal::new(e.to_string()))?
                .with_description("the request expired before the user decided");
            crate::oauth::notify::enqueue(&mut tx, state, &req, &serde_json::to_string(&e)?).await?;
            queued = true;
        }
        tx.commit().await?;
        subs.insert(req.sub.clone());
        n += 1;
    }
    for sub in &subs {
        state.hub.notify(sub);
    }
    if queued {
        state.outbox_wake.notify_one();
    }
    prune(state, now).await?;
    Ok(n)
}

/// Clears the stored token responses whose replay window has ended and
/// deletes what is past its keeping: used `jti`s, user code failures, refresh
/// token families, events. One transaction in the write turn: on SQLite a
/// statement outside it would hold the database's write lock behind the
/// request writer's back, whose group would then wait in SQLite's busy
/// handler (sleeps of 1 ms and more) rather than for the turn.
async fn prune(state: &AppState, now: u64) -> Result<(), Internal> {
    let mut tx = store::begin(&state.db).await?;
    clear_token_responses(&mut tx, now).await?;
    sqlx::query("DELETE FROM device_jtis WHERE exp < $1").bind(store::ts(now)).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM client_jtis WHERE exp < $1").bind(store::ts(now)).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM user_code_failures WHERE failed_at <= $1")
        .bind(store::ts(now.saturating_sub(state.config.limits.user_code_window_secs)))
        .execute(&mut *tx)
        .await?;
    // Refresh token families a day past their absolute end (until then a
    // refusal can still say why: expired rather than unknown).
    sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
        .bind(store::ts(now.saturating_sub(86_400)))
        .execute(&mut *tx)
        .await?;
    sqlx::query(PRUNE_EVENTS).bind(store::ts(now.saturating_sub(EVENT_RETENTION_SECS))).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the events created before `$1`, found in `seq` order: there is
/// no index on `created_at`, and the log grows by an event per request, so
/// a filter on it alone would read the whole log every second (with the
/// write lock held). Events take their `seq` in commit order and their
/// `created_at` when their transaction ran, so the two rise together, save
/// a transaction that read the clock before another committed first; such
/// an event, older than one before it, is deleted at a later sweep, once
/// the ones before it go. Likewise an event dated ahead (written while the
/// clock was set forward) keeps the ones after it until it is old itself.
/// Nothing newer than `$1` is ever deleted.
pub(crate) const PRUNE_EVENTS: &str = "DELETE FROM events WHERE seq < COALESCE(\
     (SELECT seq FROM events WHERE created_at >= $1 ORDER BY seq LIMIT 1), \
     (SELECT MAX(seq) + 1 FROM events))";

/// Clears the stored token responses (`docs/server.md`, "POST /token") whose
/// replay window has ended at `now`. The token endpoint treats them as gone
/// from that moment anyway; this only removes the ciphertext.
async fn clear_token_responses(tx: &mut store::Tx, now: u64) -> Result<(), Internal> {
    sqlx::query(
        "UPDATE auth_requests SET token_response = NULL, token_response_until = NULL \
         WHERE token_response_until IS NOT NULL AND token_response_until <= $1",
    )
    .bind(store::ts(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sweeper task: sweeps every `sweep_interval`, the first one interval
/// after the start (so that a test that sets a long interval sweeps only
/// when it says), until the hub's shutdown signal.
pub async fn run(state: AppState) {
    let mut shutdown = state.hub.shutdown_signal();
    loop {
        tokio::select! {
            () = tokio::time::sleep(state.config.sweep_interval) => {}
            () = crate::device::hub::Hub::stopped(&mut shutdown) => return,
        }
        if let Err(e) = sweep_once(&state).await {
            tracing::error!(error = %e, "sweep failed");
        }
    }
}
