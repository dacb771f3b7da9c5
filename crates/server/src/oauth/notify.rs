//! Ping and push delivery (CIBA Core §10.2, §10.3, §12) through a durable
//! outbox: the decision (or expiry) writes one `outbox` row per request in
//! its own transaction; this task delivers it with the client's bearer
//! token, never following redirects, retrying with exponential backoff, and
//! marks it delivered so the same outcome is never sent twice. Each attempt
//! is first claimed in the database (a lease on the row, [`claim`]), so
//! that several instances on one database never send it at once. (A crash
//! between the client's 2xx and the commit of "delivered" is the one case
//! that repeats a delivery.) Deliveries run concurrently, at most
//! `per_client_concurrency` per client, so a slow endpoint delays only its
//! own client; a disabled client's queued deliveries are dropped.

use axum::http::header;
use countersign_protocol::secret::ClientNotificationToken;
use sqlx::{AnyConnection, Row as _};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::error::Internal;
use crate::state::AppState;
use crate::store;
use crate::store::requests::StoredRequest;

/// Rows handled per round.
const BATCH: i64 = 32;

/// Queues a callback for `req` inside the caller's transaction. Does nothing
/// for poll clients or when a row already exists for the request.
///
/// # Errors
/// The database failed.
pub async fn enqueue(
    conn: &mut AnyConnection,
    state: &AppState,
    req: &StoredRequest,
    payload: &str,
) -> Result<(), Internal> {
    enqueue_at(conn, req, payload, state.clock.now_ms(), state.now()).await
}

/// [`enqueue`] at a given time (`now_ms` for the first attempt, `now` the
/// creation time), for callers without an [`AppState`] (the operator CLI).
///
/// # Errors
/// The database failed.
pub async fn enqueue_at(
    conn: &mut AnyConnection,
    req: &StoredRequest,
    payload: &str,
    now_ms: u64,
    now: u64,
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
    .bind(store::ts(now_ms))
    .bind(store::ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn client_endpoint(conn: &mut AnyConnection, client_id: &str) -> Result<Option<String>, Internal> {
    let row = sqlx::query("SELECT notification_endpoint FROM clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("notification_endpoint")?,
        None => None,
    })
}

#[derive(sqlx::FromRow)]
struct Due {
    request_id: String,
    client_id: String,
    endpoint: String,
    #[sqlx(try_from = "String")]
    bearer: ClientNotificationToken,
    attempts: i64,
    /// The client's `disabled` flag (0/1).
    #[sqlx(rename = "disabled")]
    client_disabled: i64,
    /// The end of this instance's lease on the row ([`claim`]): its
    /// `next_attempt_ms` while the attempt is this instance's.
    #[sqlx(skip)]
    lease: i64,
}

enum Outcome {
    Delivered,
    Failed(String),
    /// Never to be sent (the client was disabled).
    Dropped(&'static str),
    /// Ended meanwhile (dropped by disabling): nothing to record.
    Ended,
}

async fn attempt(state: &AppState, due: &Due) -> Outcome {
    if due.client_disabled != 0 {
        return Outcome::Dropped("the client was disabled");
    }
    // The endpoint was checked at registration; checked again here, in case
    // it was registered under other settings. Host names are checked as
    // they are resolved (`outbound::GuardedResolver`).
    if let Err(e) = crate::outbound::check_url(&due.endpoint, state.config.danger_allow_http_loopback_notifications) {
        return Outcome::Failed(format!("endpoint refused: {e}"));
    }
    // The payload as it stands now: disabling the client or the user since
    // the row was read drops it or replaces the tokens with the denial.
    let payload = match current_payload(state, &due.request_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Outcome::Ended,
        Err(e) => return Outcome::Failed(format!("reading the payload: {e}")),
    };
    let result = state
        .http_notify
        .post(&due.endpoint)
        .header(header::AUTHORIZATION, format!("Bearer {}", due.bearer.secret()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(payload)
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

/// The payload of a row still to deliver whose client is enabled; `None`
/// when it ended or its client was disabled.
async fn current_payload(state: &AppState, request_id: &str) -> Result<Option<String>, Internal> {
    let row = sqlx::query(
        "SELECT o.payload FROM outbox o JOIN clients c ON c.client_id = o.client_id \
         WHERE o.request_id = $1 AND o.delivered_at IS NULL AND o.failed_at IS NULL AND c.disabled = 0",
    )
    .bind(request_id)
    .fetch_optional(&state.db)
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("payload")?),
        None => None,
    })
}

fn backoff(state: &AppState, attempts: i64) -> Duration {
    let d = &state.config.delivery;
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    d.base_backoff.saturating_mul(2u32.saturating_pow(exp)).min(d.max_backoff)
}

/// The due rows (at most `limit`, and at most `per_client` of any one
/// client), oldest due first. Without the per-client bound, one client's
/// backlog behind a slow endpoint would fill every round and hold back the
/// other clients' deliveries.
async fn due_rows(state: &AppState, limit: i64, per_client: i64) -> Result<Vec<Due>, Internal> {
    let due = sqlx::query_as(
        "SELECT request_id, client_id, endpoint, bearer, attempts, disabled FROM ( \
            SELECT o.request_id, o.client_id, o.endpoint, o.bearer, o.attempts, o.next_attempt_ms, \
                   c.disabled, \
                   ROW_NUMBER() OVER (PARTITION BY o.client_id ORDER BY o.next_attempt_ms) AS nth \
            FROM outbox o JOIN clients c ON c.client_id = o.client_id \
            WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_ms <= $1 \
         ) due WHERE nth <= $3 ORDER BY next_attempt_ms LIMIT $2",
    )
    .bind(store::ts(state.clock.now_ms()))
    .bind(limit)
    .bind(per_client)
    .fetch_all(&state.db)
    .await?;
    Ok(due)
}

/// Takes the attempt at `d` for this instance: moves the row's next attempt
/// past the time an attempt can take (a lease), if no other instance did
/// since `d` was read (the same `attempts`, still due). Another instance
/// reading the row meanwhile finds it no longer due; one that dies during
/// its attempt leaves the row due again when the lease ends (the one case,
/// with a crash after the client's 2xx, where a delivery repeats).
///
/// The outcome is recorded only while the row still carries this lease
/// ([`record`]): an attempt that outlasted it, and whose row another
/// instance took meanwhile, records nothing over the other's.
async fn claim(state: &AppState, d: &mut Due) -> Result<bool, Internal> {
    let now_ms = state.clock.now_ms();
    let attempt_ms = u64::try_from(state.config.delivery.timeout.as_millis()).unwrap_or(u64::MAX);
    let lease_until = now_ms.saturating_add(attempt_ms.saturating_mul(2)).saturating_add(LEASE_MARGIN_MS);
    d.lease = store::ts(lease_until);
    let claimed = sqlx::query(
        "UPDATE outbox SET next_attempt_ms = $1 WHERE request_id = $2 AND attempts = $3 \
         AND next_attempt_ms <= $4 AND delivered_at IS NULL AND failed_at IS NULL",
    )
    .bind(store::ts(lease_until))
    .bind(&d.request_id)
    .bind(d.attempts)
    .bind(store::ts(now_ms))
    .execute(&state.db)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// What a lease adds to twice the delivery timeout.
const LEASE_MARGIN_MS: u64 = 5_000;

/// Records the outcome of one attempt.
async fn record(state: &AppState, d: &Due, outcome: Outcome) -> Result<(), Internal> {
    let now = state.now();
    let attempts = d.attempts.saturating_add(1);
    if matches!(outcome, Outcome::Ended) {
        return Ok(());
    }
    let mut tx = store::begin(&state.db).await?;
    match outcome {
        Outcome::Ended => {}
        Outcome::Delivered => {
            end_row(&mut tx, Ending::Delivered, now, (Some(attempts), None), d, false).await?;
            tracing::info!(request_id = %d.request_id, attempts, "notification delivered");
        }
        Outcome::Dropped(why) => {
            end_row(&mut tx, Ending::Failed, now, (None, Some(why)), d, false).await?;
            tracing::info!(request_id = %d.request_id, reason = why, "notification dropped");
        }
        Outcome::Failed(why) if attempts >= i64::from(state.config.delivery.max_attempts) => {
            end_row(&mut tx, Ending::Failed, now, (Some(attempts), Some(why.as_str())), d, true).await?;
            tracing::warn!(request_id = %d.request_id, attempts, error = %why, "notification given up");
        }
        Outcome::Failed(why) => {
            let next = state
                .clock
                .now_ms()
                .saturating_add(u64::try_from(backoff(state, attempts).as_millis()).unwrap_or(u64::MAX));
            // A row ended meanwhile (its client disabled) stays ended; one
            // whose lease another instance took is its.
            sqlx::query(
                "UPDATE outbox SET attempts = $1, next_attempt_ms = $2, last_error = $3 \
                 WHERE request_id = $4 AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_ms = $5",
            )
            .bind(attempts)
            .bind(store::ts(next))
            .bind(&why)
            .bind(&d.request_id)
            .bind(d.lease)
            .execute(&mut *tx)
            .await?;
            tracing::warn!(request_id = %d.request_id, attempts, error = %why, "notification failed; will retry");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// How a row ends: its notification delivered, or never to be sent.
#[derive(Clone, Copy)]
enum Ending {
    Delivered,
    Failed,
}

/// Ends the row of `d` unless it has ended already (a row ended meanwhile
/// keeps its ending): `delivered_at` or `failed_at` is `now`, the payload
/// and the bearer are cleared, `last_error` is `error`, and `attempts` is
/// set when given. With `leased`, only while the row still carries `d`'s
/// lease (giving up must not end a row another instance is trying again;
/// a delivery or a drop is a fact whoever holds the lease).
async fn end_row(
    conn: &mut AnyConnection,
    ending: Ending,
    now: u64,
    (attempts, error): (Option<i64>, Option<&str>),
    d: &Due,
    leased: bool,
) -> Result<(), Internal> {
    let column = match ending {
        Ending::Delivered => "delivered_at",
        Ending::Failed => "failed_at",
    };
    let lease = if leased { " AND next_attempt_ms = $5" } else { "" };
    let sql = format!(
        "UPDATE outbox SET {column} = $1, attempts = COALESCE($2, attempts), payload = '', bearer = '', \
         last_error = $3 WHERE request_id = $4 AND delivered_at IS NULL AND failed_at IS NULL{lease}"
    );
    let mut query = sqlx::query(&sql).bind(store::ts(now)).bind(attempts).bind(error).bind(&d.request_id);
    if leased {
        query = query.bind(d.lease);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Delivers every due row once, waiting for all of them. Returns how many
/// rows were handled. (The delivery task does not wait: see [`run`].)
///
/// # Errors
/// The database failed.
#[cfg(feature = "test-util")]
pub async fn run_once(state: &AppState) -> Result<usize, Internal> {
    // Rows the delivery task is sending are left to it; the others are
    // marked in flight here, so that it does not send them too.
    let mut due = Vec::new();
    for mut d in due_rows(state, BATCH, BATCH).await? {
        if state.deliveries.try_start(&d, usize::MAX, usize::MAX) {
            match claim(state, &mut d).await {
                Ok(true) => due.push(d),
                Ok(false) => state.deliveries.finish(&d),
                Err(e) => {
                    state.deliveries.finish(&d);
                    return Err(e);
                }
            }
        }
    }
    let outcomes = futures_util::future::join_all(due.iter().map(|d| attempt(state, d))).await;
    let mut result = Ok(due.len());
    for (d, outcome) in due.iter().zip(outcomes) {
        if let Err(e) = record(state, d, outcome).await {
            result = Err(e);
        }
        state.deliveries.finish(d);
    }
    result
}

/// Deliveries in flight: at most `per_client_concurrency` per client and
/// `concurrency` in all, so that a slow or hanging endpoint delays only its
/// own client's deliveries.
#[derive(Debug, Default)]
pub struct InFlight {
    inner: Mutex<InFlightInner>,
}

#[derive(Debug, Default)]
struct InFlightInner {
    requests: HashSet<String>,
    per_client: HashMap<String, usize>,
}

impl InFlight {
    fn is_in_flight(&self, request_id: &str) -> bool {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).requests.contains(request_id)
    }

    /// Takes a slot for `d`, if its client and the total are under their caps.
    fn try_start(&self, d: &Due, per_client: usize, total: usize) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let client = inner.per_client.get(&d.client_id).copied().unwrap_or(0);
        if inner.requests.contains(&d.request_id) || client >= per_client.max(1) || inner.requests.len() >= total.max(1)
        {
            return false;
        }
        inner.requests.insert(d.request_id.clone());
        *inner.per_client.entry(d.client_id.clone()).or_default() += 1;
        true
    }

    fn finish(&self, d: &Due) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.requests.remove(&d.request_id);
        if let Some(n) = inner.per_client.get_mut(&d.client_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.per_client.remove(&d.client_id);
            }
        }
    }

    /// Deliveries in flight now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).requests.len()
    }

    /// Whether none is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Starts a delivery task for every due row that has a slot. Returns
/// whether a due row had to wait for a slot.
async fn dispatch(state: &AppState) -> Result<bool, Internal> {
    let d = &state.config.delivery;
    let limit = BATCH.saturating_add(i64::try_from(state.deliveries.len()).unwrap_or(i64::MAX));
    let mut waiting = false;
    let per_client = i64::try_from(d.per_client_concurrency.max(1)).unwrap_or(i64::MAX);
    for mut due in due_rows(state, limit, per_client).await? {
        if state.deliveries.is_in_flight(&due.request_id) {
            continue;
        }
        if !state.deliveries.try_start(&due, d.per_client_concurrency, d.concurrency) {
            waiting = true;
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            match claim(&state, &mut due).await {
                Ok(true) => {
                    let outcome = attempt(&state, &due).await;
                    if let Err(e) = record(&state, &due, outcome).await {
                        tracing::error!(error = %e, "recording a delivery failed");
                    }
                }
                // Another instance took it.
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "claiming a delivery failed"),
            }
            state.deliveries.finish(&due);
            state.outbox_wake.notify_one();
        });
    }
    Ok(waiting)
}

async fn next_due_in(state: &AppState) -> Result<Duration, Internal> {
    let row =
        sqlx::query("SELECT MIN(next_attempt_ms) AS next FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
            .fetch_one(&state.db)
            .await?;
    let next: Option<i64> = row.try_get("next")?;
    let wait = match next {
        Some(ms) => Duration::from_millis(store::from_ts(ms).saturating_sub(state.clock.now_ms())),
        None => Duration::from_secs(5),
    };
    Ok(wait.min(Duration::from_secs(5)))
}

/// The delivery task: runs until the hub's shutdown signal. Each delivery
/// runs in its own task within the caps of [`InFlight`]; a finished one
/// wakes this loop.
pub async fn run(state: AppState) {
    let mut shutdown = state.hub.shutdown_signal();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wait = match dispatch(&state).await {
            // Rows wait for a slot: a finishing delivery wakes the loop.
            Ok(true) => Duration::from_secs(1),
            Ok(false) => next_due_in(&state).await.unwrap_or(Duration::from_secs(1)),
            Err(e) => {
                tracing::error!(error = %e, "delivery round failed");
                Duration::from_secs(1)
            }
        };
        // Rows in flight are due too: wait for their tasks, not in a spin.
        let wait = if wait.is_zero() && !state.deliveries.is_empty() { Duration::from_secs(1) } else { wait };
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
