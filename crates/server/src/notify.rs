//! Ping and push delivery (CIBA Core §10.2, §10.3, §12) through a durable
//! outbox: the decision (or expiry) writes one `outbox` row per request in
//! its own transaction; this task delivers it with the client's bearer
//! token, never following redirects, retrying with exponential backoff, and
//! marks it delivered so the same outcome is never sent twice. (A crash
//! between the client's 2xx and the commit of "delivered" is the one case
//! that repeats a delivery.)

use axum::http::header;
use countersign_protocol::secret::ClientNotificationToken;
use futures_util::future::join_all;
use sqlx::{Row as _, SqliteConnection};
use std::time::Duration;

use crate::db;
use crate::error::Internal;
use crate::requests::StoredRequest;
use crate::state::AppState;

/// Rows handled per round.
const BATCH: i64 = 32;

/// Queues a callback for `req` inside the caller's transaction. Does nothing
/// for poll clients or when a row already exists for the request.
///
/// # Errors
/// The database failed.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    state: &AppState,
    req: &StoredRequest,
    payload: &str,
) -> Result<(), Internal> {
    let (Some(endpoint), Some(bearer)) = (client_endpoint(conn, &req.client_id).await?, &req.notification_token) else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO outbox (request_id, client_id, endpoint, bearer, payload, next_attempt_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(req.request_id.as_str())
    .bind(&req.client_id)
    .bind(endpoint)
    .bind(bearer.secret())
    .bind(payload)
    .bind(db::ts(state.clock.now_ms()))
    .bind(db::ts(state.now()))
    .execute(conn)
    .await?;
    Ok(())
}

async fn client_endpoint(conn: &mut SqliteConnection, client_id: &str) -> Result<Option<String>, Internal> {
    let row = sqlx::query("SELECT notification_endpoint FROM clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("notification_endpoint")?,
        None => None,
    })
}

struct Due {
    request_id: String,
    endpoint: String,
    bearer: ClientNotificationToken,
    payload: String,
    attempts: i64,
}

enum Outcome {
    Delivered,
    Failed(String),
}

async fn attempt(state: &AppState, due: &Due) -> Outcome {
    let result = state
        .http
        .post(&due.endpoint)
        .header(header::AUTHORIZATION, format!("Bearer {}", due.bearer.secret()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(due.payload.clone())
        .send()
        .await;
    match result {
        Ok(resp) if resp.status().is_success() => Outcome::Delivered,
        Ok(resp) if resp.status().is_redirection() => {
            Outcome::Failed(format!("answered {} (redirects are never followed)", resp.status()))
        }
        Ok(resp) => Outcome::Failed(format!("answered {}", resp.status())),
        Err(e) => Outcome::Failed(format!("request failed: {}", e.without_url())),
    }
}

fn backoff(state: &AppState, attempts: i64) -> Duration {
    let d = &state.config.delivery;
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    d.base_backoff.saturating_mul(2u32.saturating_pow(exp)).min(d.max_backoff)
}

/// Delivers every due row once. Returns how many rows were handled.
///
/// # Errors
/// The database failed.
pub async fn run_once(state: &AppState) -> Result<usize, Internal> {
    let now_ms = state.clock.now_ms();
    let rows = sqlx::query(
        "SELECT request_id, endpoint, bearer, payload, attempts FROM outbox \
         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_ms <= $1 \
         ORDER BY next_attempt_ms LIMIT $2",
    )
    .bind(db::ts(now_ms))
    .bind(BATCH)
    .fetch_all(&state.db)
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for r in rows {
        due.push(Due {
            request_id: r.try_get("request_id")?,
            endpoint: r.try_get("endpoint")?,
            bearer: ClientNotificationToken::new(r.try_get("bearer")?),
            payload: r.try_get("payload")?,
            attempts: r.try_get("attempts")?,
        });
    }
    let outcomes = join_all(due.iter().map(|d| attempt(state, d))).await;
    let n = due.len();
    for (d, outcome) in due.iter().zip(outcomes) {
        let now = state.now();
        let attempts = d.attempts.saturating_add(1);
        let mut tx = db::begin(&state.db).await?;
        match outcome {
            Outcome::Delivered => {
                sqlx::query(
                    "UPDATE outbox SET delivered_at = $1, attempts = $2, payload = '', bearer = '', last_error = NULL \
                     WHERE request_id = $3",
                )
                .bind(db::ts(now))
                .bind(attempts)
                .bind(&d.request_id)
                .execute(&mut *tx)
                .await?;
                tracing::info!(request_id = %d.request_id, attempts, "notification delivered");
            }
            Outcome::Failed(why) if attempts >= i64::from(state.config.delivery.max_attempts) => {
                sqlx::query(
                    "UPDATE outbox SET failed_at = $1, attempts = $2, payload = '', bearer = '', last_error = $3 \
                     WHERE request_id = $4",
                )
                .bind(db::ts(now))
                .bind(attempts)
                .bind(&why)
                .bind(&d.request_id)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(request_id = %d.request_id, attempts, error = %why, "notification given up");
            }
            Outcome::Failed(why) => {
                let next = state
                    .clock
                    .now_ms()
                    .saturating_add(u64::try_from(backoff(state, attempts).as_millis()).unwrap_or(u64::MAX));
                sqlx::query(
                    "UPDATE outbox SET attempts = $1, next_attempt_ms = $2, last_error = $3 WHERE request_id = $4",
                )
                .bind(attempts)
                .bind(db::ts(next))
                .bind(&why)
                .bind(&d.request_id)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(request_id = %d.request_id, attempts, error = %why, "notification failed; will retry");
            }
        }
        tx.commit().await?;
    }
    Ok(n)
}

async fn next_due_in(state: &AppState) -> Result<Duration, Internal> {
    let row =
        sqlx::query("SELECT MIN(next_attempt_ms) AS next FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
            .fetch_one(&state.db)
            .await?;
    let next: Option<i64> = row.try_get("next")?;
    let wait = match next {
        Some(ms) => Duration::from_millis(db::from_ts(ms).saturating_sub(state.clock.now_ms())),
        None => Duration::from_secs(5),
    };
    Ok(wait.min(Duration::from_secs(5)))
}

/// The delivery task: runs until the hub's shutdown signal.
pub async fn run(state: AppState) {
    let mut shutdown = state.hub.shutdown_signal();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wait = match run_once(&state).await {
            Ok(n) if n as i64 == BATCH => Duration::ZERO,
            Ok(_) => next_due_in(&state).await.unwrap_or(Duration::from_secs(1)),
            Err(e) => {
                tracing::error!(error = %e, "delivery round failed");
                Duration::from_secs(1)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = state.outbox_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
