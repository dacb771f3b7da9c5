//! The background transport: per account, the SSE push channel (reconnect
//! with capped exponential backoff and jitter, heartbeat-timeout detection,
//! `Last-Event-ID`, a reconciling poll after every (re)connect) or the plain
//! poll loop; plus one delivery worker for the outbox.
//!
//! Idle cost: with the push channel open, the account task sleeps in the
//! socket read (woken by the server's 15 s heartbeat) and the delivery
//! worker sleeps until the next due decision or pending expiry. Nothing
//! polls in a loop.

use crate::approver::{Approver, Command, Inner};
use crate::decision::{backoff_delay, due_times, random_unit};
use crate::error::{Error, Result};
use crate::events::{ApproverEvent, ConnectionState};
use crate::sse::{SseItem, SseParser};
use crate::store::Account;
use countersign_protocol::device::events::EVENT_STREAM_MEDIA_TYPE;
use countersign_protocol::device::{EventId, PATH_EVENTS};
use futures_util::StreamExt as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest sleep of the delivery worker when nothing is due.
const IDLE_WAKE: Duration = Duration::from_secs(300);

/// The running transport; dropping it does not stop it, call
/// [`RunHandle::shutdown`].
#[derive(Debug)]
pub struct RunHandle {
    supervisor: JoinHandle<()>,
    stop: mpsc::UnboundedSender<()>,
}

impl RunHandle {
    /// Stops every transport task and waits for them. Work in progress is
    /// abandoned at an await point; every state change being one
    /// transaction, nothing is left half-written.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.supervisor.await;
    }
}

/// Exponential backoff state.
struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = backoff_delay(self.base, self.cap, self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// How a push session ended.
enum PushEnd {
    /// The server has no event stream: poll instead for a while.
    Unavailable(String),
    /// The stream failed or closed. `healthy`: it worked for a while.
    Ended { healthy: bool, error: String },
}

impl Approver {
    /// Starts the transport for every account (and for accounts enrolled
    /// later): push or poll, and the delivery of queued decisions. Needs a
    /// Tokio runtime.
    ///
    /// # Errors
    /// The store.
    pub async fn start(&self) -> Result<RunHandle> {
        let accounts = self.inner.store.accounts().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut slot) = self.inner.supervisor.lock() {
            *slot = Some(tx);
        }
        let (stop, stop_rx) = mpsc::unbounded_channel();
        let supervisor = tokio::spawn(supervise(self.clone(), accounts, rx, stop_rx));
        Ok(RunHandle { supervisor, stop })
    }
}

async fn supervise(
    approver: Approver,
    accounts: Vec<Account>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stop: mpsc::UnboundedReceiver<()>,
) {
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    for a in accounts {
        let task = tokio::spawn(account_loop(approver.clone(), a.id.clone()));
        tasks.insert(a.id, task);
    }
    let delivery = tokio::spawn(delivery_loop(approver.clone()));
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::AccountAdded(id)) => {
                    if let Some(old) = tasks.remove(&id) {
                        old.abort();
                    }
                    let task = tokio::spawn(account_loop(approver.clone(), id.clone()));
                    tasks.insert(id, task);
                }
                Some(Command::AccountRemoved(id)) => {
                    if let Some(t) = tasks.remove(&id) {
                        t.abort();
                    }
                }
                None => break,
            },
            _ = stop.recv() => break,
        }
    }
    if let Ok(mut slot) = approver.inner.supervisor.lock() {
        *slot = None;
    }
    delivery.abort();
    let _ = delivery.await;
    for (_, t) in tasks {
        t.abort();
        let _ = t.await;
    }
}

fn poll_interval(inner: &Inner, account: &Account) -> Duration {
    let base = inner.config.transport.poll_interval.unwrap_or(Duration::from_secs(account.poll_interval.max(1)));
    // ±10 % jitter.
    base.mul_f64(0.9 + random_unit() / 5.0)
}

fn set_state(inner: &Inner, last: &mut Option<ConnectionState>, account_id: &str, state: ConnectionState) {
    if last.as_ref() != Some(&state) {
        *last = Some(state.clone());
        inner.emit(ApproverEvent::Connection { account_id: account_id.to_owned(), state });
    }
}

async fn account_loop(approver: Approver, account_id: String) {
    let inner = approver.inner.clone();
    let t = inner.config.transport.clone();
    let mut backoff = Backoff { attempt: 0, base: t.backoff_base, cap: t.backoff_cap };
    let mut push_off_until: Option<tokio::time::Instant> = None;
    let mut state = None;
    loop {
        let account = match inner.store.account(&account_id).await {
            Ok(a) => a,
            Err(Error::UnknownAccount(_)) => return,
            Err(e) => {
                let d = backoff.next();
                set_state(&inner, &mut state, &account_id, disconnected(&e.to_string(), d));
                tokio::time::sleep(d).await;
                continue;
            }
        };
        let push = t.push && push_off_until.is_none_or(|until| tokio::time::Instant::now() >= until);
        if push {
            set_state(&inner, &mut state, &account_id, ConnectionState::Connecting);
            match push_session(&approver, &account, &mut state).await {
                PushEnd::Unavailable(why) => {
                    tracing::info!("no push channel at {} ({why}); polling", account.issuer);
                    push_off_until = Some(tokio::time::Instant::now() + t.push_retry_after);
                }
                PushEnd::Ended { healthy, error } => {
                    if healthy {
                        backoff.reset();
                    }
                    let d = backoff.next();
                    set_state(&inner, &mut state, &account_id, disconnected(&error, d));
                    tokio::time::sleep(d).await;
                }
            }
        } else {
            match approver.sync(&account_id).await {
                Ok(_) => {
                    backoff.reset();
                    set_state(&inner, &mut state, &account_id, ConnectionState::Polling);
                    inner.delivery_wake.notify_one();
                    tokio::time::sleep(poll_interval(&inner, &account)).await;
                }
                Err(e) => {
                    let d = backoff.next().max(poll_interval(&inner, &account).min(t.backoff_cap));
                    set_state(&inner, &mut state, &account_id, disconnected(&e.to_string(), d));
                    tokio::time::sleep(d).await;
                }
            }
        }
    }
}

fn disconnected(error: &str, retry_in: Duration) -> ConnectionState {
    ConnectionState::Disconnected {
        error: error.to_owned(),
        retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
    }
}

async fn push_session(approver: &Approver, account: &Account, state: &mut Option<ConnectionState>) -> PushEnd {
    let inner = &approver.inner;
    let key = match inner.key_for(account).await {
        Ok(k) => k,
        Err(e) => return PushEnd::Ended { healthy: false, error: e.to_string() },
    };
    let url = format!("{}{PATH_EVENTS}", account.device_endpoint);
    let last = account.last_event_id.as_ref().map(EventId::as_str);
    let resp = match inner.http.open_events(&url, &inner.auth(account, &key), last).await {
        Ok(r) => r,
        Err(e) => return PushEnd::Ended { healthy: false, error: e.to_string() },
    };
    let status = resp.status().as_u16();
    if matches!(status, 404 | 405 | 501) {
        return PushEnd::Unavailable(format!("HTTP {status}"));
    }
    if status != 200 {
        let body = crate::http::read_limited(resp).await.unwrap_or_default();
        let e = crate::http::error_body(status, &body);
        return PushEnd::Ended { healthy: false, error: Error::Server { status, error: e }.to_string() };
    }
    let media = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !media.trim_start().to_ascii_lowercase().starts_with(EVENT_STREAM_MEDIA_TYPE) {
        return PushEnd::Unavailable(format!("content type {media:?}"));
    }
    set_state(inner, state, &account.id, ConnectionState::Push);

    // Reconcile: anything sent while we were away is picked up here, so a
    // missed event never loses a request.
    if let Err(e) = approver.sync(&account.id).await {
        tracing::warn!("reconciling poll failed: {e}");
    }
    inner.delivery_wake.notify_one();

    let timeout = inner.config.transport.heartbeat_timeout;
    let mut parser = SseParser::new();
    let mut stream = resp.bytes_stream();
    let mut healthy = false;
    loop {
        let chunk = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => {
                return PushEnd::Ended {
                    healthy,
                    error: format!("no heartbeat for {} s: connection presumed dead", timeout.as_secs()),
                }
            }
            Ok(None) => return PushEnd::Ended { healthy, error: "the server closed the event stream".into() },
            Ok(Some(Err(e))) => return PushEnd::Ended { healthy, error: format!("event stream: {e}") },
            Ok(Some(Ok(bytes))) => bytes,
        };
        let items = match parser.feed(&chunk) {
            Ok(items) => items,
            Err(e) => return PushEnd::Ended { healthy, error: e.to_string() },
        };
        for item in items {
            healthy = true;
            let SseItem::Event { id, event, data } = item else { continue };
            if let Err(e) = inner.handle_event(account, &event, &data).await {
                // Not acknowledged (no Last-Event-ID update): the reconciling
                // poll after the reconnect picks it up.
                return PushEnd::Ended { healthy, error: format!("handling {event:?}: {e}") };
            }
            if let Some(id) = id.and_then(|i| EventId::new(i).ok()) {
                if let Err(e) = inner.store.set_last_event_id(&account.id, &id).await {
                    return PushEnd::Ended { healthy, error: e.to_string() };
                }
            }
        }
    }
}

/// When the delivery worker must next look: the earliest due decision or
/// pending expiry. A decision waiting behind an earlier assertion of the
/// same security key is due when that one is ([`due_times`]), not at its
/// own time, which would wake the worker for nothing.
async fn next_wake(inner: &Arc<Inner>) -> Duration {
    let now = inner.now();
    let mut next: Option<u64> = None;
    if let Ok(outbox) = inner.store.outbox().await {
        next = due_times(&outbox).into_iter().min();
    }
    if let Ok(Some(t)) = inner.store.next_pending_expiry().await {
        next = Some(next.map_or(t, |n| n.min(t)));
    }
    match next {
        Some(t) if t <= now => Duration::from_millis(200),
        Some(t) => Duration::from_secs(t - now).min(IDLE_WAKE),
        None => IDLE_WAKE,
    }
}

async fn delivery_loop(approver: Approver) {
    let inner = approver.inner.clone();
    loop {
        if let Err(e) = approver.deliver_due().await {
            tracing::warn!("delivery: {e}");
        }
        if let Err(e) = inner.expire_due(inner.now()).await {
            tracing::warn!("expiry: {e}");
        }
        let wait = next_wake(&inner).await;
        tokio::select! {
            () = inner.delivery_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
