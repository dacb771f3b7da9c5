//! The in-memory hub: wakes the event streams of a user when something was
//! written to the event log (the database stays the source of truth), and
//! tells every stream when the server shuts down.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

/// Per-user wake-up channels plus the shutdown signal.
#[derive(Debug)]
pub struct Hub {
    users: Mutex<HashMap<String, watch::Sender<u64>>>,
    shutdown: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { users: Mutex::new(HashMap::new()), shutdown: watch::channel(false).0 }
    }
}

impl Hub {
    /// A receiver that changes whenever `sub`'s log or devices change.
    pub fn subscribe(&self, sub: &str) -> watch::Receiver<u64> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.retain(|_, tx| tx.receiver_count() > 0);
        users.entry(sub.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes the streams of `sub`.
    pub fn notify(&self, sub: &str) {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = users.get(sub) {
            tx.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Number of users with at least one open stream.
    pub fn connected_users(&self) -> usize {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.values().filter(|tx| tx.receiver_count() > 0).count()
    }

    /// A receiver of the shutdown signal.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Ends every stream and background task.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}
