//! Wake-ups across server instances on one PostgreSQL database: a device
//! whose event stream is held by instance A learns at once of a request
//! made through instance B.
//!
//! The event log in the database stays the only source of truth; what
//! crosses instances is only "read the log of these users again". Each
//! instance publishes the users its [`Hub::notify`] wakes (after the commit
//! that wrote their events) with `pg_notify` on [`CHANNEL`], and listens on
//! that channel with a connection of its own (`LISTEN`), waking its own
//! streams of those users. A notification is delivered to every listener
//! connected when it was sent; one that a listener misses (its connection
//! lost, or an instance that died between its commit and its publish) is
//! made up for by reading the tables: whenever the listening connection is
//! (re)established, every stream of the instance is woken and reads the log
//! from its cursor. SQLite has one instance per file and none of this.
//!
//! [`Hub::notify`]: super::hub::Hub::notify

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::dialect::Dialect;

/// The notification channel.
pub const CHANNEL: &str = "countersign_wake";

/// Most bytes of a notification's payload (PostgreSQL's limit is 8,000).
const MAX_PAYLOAD: usize = 7_000;

/// How long a failed listening connection waits before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// What an instance sends: who sent it (an instance skips its own), and
/// the users to wake.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Wake {
    from: String,
    subs: Vec<String>,
}

/// Starts the publisher and the listener when `state`'s database is
/// PostgreSQL (none on SQLite). They stop at the hub's shutdown.
pub fn spawn(state: &AppState) -> Vec<JoinHandle<()>> {
    if Dialect::of(&state.db) != Dialect::Postgres {
        return Vec::new();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    if !state.hub.publish_to(tx) {
        // Already running for this state.
        return Vec::new();
    }
    let instance = match countersign_protocol::secret::generate_url_safe(16) {
        Ok(id) => id,
        Err(_) => format!("pid-{}", std::process::id()),
    };
    vec![tokio::spawn(publish(state.clone(), rx, instance.clone())), tokio::spawn(listen(state.clone(), instance))]
}

/// Sends the users woken here to the other instances, in batches: each
/// `pg_notify` carries as many as fit.
async fn publish(state: AppState, mut woken: mpsc::UnboundedReceiver<String>, instance: String) {
    let mut shutdown = state.hub.shutdown_signal();
    loop {
        let first = tokio::select! {
            sub = woken.recv() => match sub {
                Some(sub) => sub,
                None => return,
            },
            () = crate::device::hub::Hub::stopped(&mut shutdown) => return,
        };
        let mut subs = BTreeSet::from([first]);
        while let Ok(sub) = woken.try_recv() {
            subs.insert(sub);
        }
        for payload in payloads(&instance, subs) {
            let sent = sqlx::query("SELECT COUNT(*) FROM (SELECT pg_notify($1, $2)) AS sent")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&state.db)
                .await;
            if let Err(e) = sent {
                // The other instances' streams catch up at their next wake
                // or reconnect.
                tracing::warn!("publishing wake-ups to the other instances: {e}");
            }
        }
    }
}

/// Wakes the streams of `subs` on every instance serving `db`, from a
/// process that serves none (an operator command that revoked a device,
/// disabled a user or a client): the instances read those users' logs and
/// devices again at once. Nothing on SQLite, whose one server sees the
/// change at its streams' next wake or idle re-read.
///
/// # Errors
/// PostgreSQL refused the notification.
pub async fn wake_from_outside(db: &crate::store::Db, subs: &[String]) -> Result<(), crate::error::Internal> {
    if Dialect::of(db) != Dialect::Postgres {
        return Ok(());
    }
    for payload in payloads("operator", subs.iter().cloned().collect()) {
        sqlx::query("SELECT COUNT(*) FROM (SELECT pg_notify($1, $2)) AS sent")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(db)
            .await?;
    }
    Ok(())
}

/// `subs` as payloads of at most [`MAX_PAYLOAD`] bytes each.
fn payloads(instance: &str, subs: BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch = Wake { from: instance.to_owned(), subs: Vec::new() };
    // `{"from":…,"subs":[…]}`, each sub as JSON plus its comma.
    let empty = serde_json::to_string(&batch).map_or(MAX_PAYLOAD, |s| s.len());
    let mut size = empty;
    for sub in subs {
        let len = serde_json::to_string(&sub).map_or(MAX_PAYLOAD, |s| s.len()) + 1;
        if empty + len > MAX_PAYLOAD {
            tracing::warn!("a user id too long to publish");
            continue;
        }
        if size + len > MAX_PAYLOAD {
            out.extend(serde_json::to_string(&batch).ok());
            batch.subs.clear();
            size = empty;
        }
        size += len;
        batch.subs.push(sub);
    }
    if !batch.subs.is_empty() {
        out.extend(serde_json::to_string(&batch).ok());
    }
    out
}

/// Listens for the other instances' wake-ups and wakes this instance's
/// streams of those users; after every (re)connection, wakes them all.
async fn listen(state: AppState, instance: String) {
    let mut shutdown = state.hub.shutdown_signal();
    let url = state.db.connect_options().database_url.clone();
    loop {
        let connected = async {
            let mut listener = PgListener::connect(url.as_str()).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!("listening for the other instances' wake-ups: {e}");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => continue,
                        () = crate::device::hub::Hub::stopped(&mut shutdown) => return,
                    }
                }
            },
            () = crate::device::hub::Hub::stopped(&mut shutdown) => return,
        };
        // Listening from here on: whatever was written before is read now.
        state.hub.wake_all();
        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = crate::device::hub::Hub::stopped(&mut shutdown) => return,
            };
            match received {
                Ok(Some(notification)) => match serde_json::from_str::<Wake>(notification.payload()) {
                    Ok(wake) if wake.from != instance => wake.subs.iter().for_each(|sub| state.hub.wake(sub)),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("a wake-up that is not one: {e}"),
                },
                // The connection was lost: listen again on a new one.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("listening for the other instances' wake-ups: {e}");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_carry_every_user() {
        let subs: BTreeSet<String> = (0..2_000).map(|i| format!("u_{i:030}")).collect();
        let sent = payloads("inst", subs.clone());
        assert!(sent.len() > 1);
        let mut seen = BTreeSet::new();
        for p in &sent {
            assert!(p.len() <= MAX_PAYLOAD, "{}", p.len());
            let wake: Wake = serde_json::from_str(p).unwrap();
            assert_eq!(wake.from, "inst");
            seen.extend(wake.subs);
        }
        assert_eq!(seen, subs);
        assert!(payloads("inst", BTreeSet::new()).is_empty());
    }
}
