//! The in-memory hub: wakes the event streams of a user when something was
//! written to the event log (the database stays the source of truth), shares
//! one read of the log per user and wake-up between that user's streams,
//! caps the streams of a device, and tells every stream when the server
//! shuts down.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{watch, Mutex as AsyncMutex};

/// One row of the event log as a stream needs it.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Sequence number (the SSE id).
    pub seq: i64,
    /// Event kind.
    pub kind: String,
    /// Event data (JSON).
    pub data: String,
    /// The device that must not get it (the one that decided), if any.
    pub exclude_device: Option<String>,
    /// For a `request` event: whether the request is still pending and not
    /// expired when read.
    pub live: bool,
}

/// The last read of a user's event log and devices, shared by that user's
/// streams: a stream woken by the same wake-up uses it instead of reading
/// again.
#[derive(Debug, Default)]
pub struct Feed {
    /// The wake-up counter value the read was made for (`None`: never read).
    pub generation: Option<u64>,
    /// The rows read start after this sequence number.
    pub after: i64,
    /// The rows, in sequence order.
    pub rows: Vec<EventRow>,
    /// `false` when the read stopped at its row limit (more rows may follow).
    pub complete: bool,
    /// The user's devices that were active (not revoked, user not disabled).
    pub active_devices: Vec<String>,
}

impl Feed {
    /// Whether this read serves a stream at `cursor` woken at `generation`.
    #[must_use]
    pub fn serves(&self, generation: u64, cursor: i64) -> bool {
        self.generation == Some(generation)
            && self.after <= cursor
            && (self.complete || self.rows.last().is_some_and(|r| r.seq > cursor))
    }
}

/// A user's wake-up channel and shared read.
#[derive(Debug)]
struct UserChannel {
    wake: watch::Sender<u64>,
    feed: Arc<AsyncMutex<Feed>>,
}

/// What a stream of a user holds.
#[derive(Debug)]
pub struct Subscription {
    /// Changes whenever the user's log or devices change.
    pub wake: watch::Receiver<u64>,
    /// The shared read.
    pub feed: Arc<AsyncMutex<Feed>>,
}

/// One open stream of a device; dropping it forgets the stream.
#[derive(Debug)]
pub struct StreamSlot {
    /// Becomes `true` when the stream must close (a newer stream of the
    /// same device went over the cap).
    pub closed: watch::Receiver<bool>,
    hub: Arc<StreamRegistry>,
    device_id: String,
    id: u64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.hub.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = streams.get_mut(&self.device_id) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                streams.remove(&self.device_id);
            }
        }
    }
}

/// The open streams of one device, oldest first: (stream id, its close signal).
type DeviceStreams = VecDeque<(u64, watch::Sender<bool>)>;

#[derive(Debug, Default)]
struct StreamRegistry {
    streams: Mutex<HashMap<String, DeviceStreams>>,
    next_id: AtomicU64,
}

/// Per-user wake-up channels, shared reads, open streams per device, and the
/// shutdown signal.
#[derive(Debug)]
pub struct Hub {
    users: Mutex<HashMap<String, UserChannel>>,
    registry: Arc<StreamRegistry>,
    shutdown: watch::Sender<bool>,
    reads: AtomicU64,
    /// Where [`Hub::notify`] also sends the users it wakes, for the other
    /// instances on the same database (`fanout.rs`; PostgreSQL only).
    publish: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            registry: Arc::default(),
            shutdown: watch::channel(false).0,
            reads: AtomicU64::new(0),
            publish: std::sync::OnceLock::new(),
        }
    }
}

impl Hub {
    /// Subscribes a stream to `sub`'s wake-ups and shared read.
    pub fn subscribe(&self, sub: &str) -> Subscription {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.retain(|_, c| c.wake.receiver_count() > 0);
        let channel = users
            .entry(sub.to_owned())
            .or_insert_with(|| UserChannel { wake: watch::channel(0).0, feed: Arc::default() });
        Subscription { wake: channel.wake.subscribe(), feed: channel.feed.clone() }
    }

    /// Wakes the streams of `sub`, on this instance and (through the
    /// publisher, when there is one) on the others.
    pub fn notify(&self, sub: &str) {
        self.wake(sub);
        if let Some(publish) = self.publish.get() {
            let _ = publish.send(sub.to_owned());
        }
    }

    /// Wakes the streams of `sub` on this instance only.
    pub fn wake(&self, sub: &str) {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = users.get(sub) {
            c.wake.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Wakes every stream on this instance: each reads the event log from
    /// its cursor, so whatever it missed is found there.
    pub fn wake_all(&self) {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        for c in users.values() {
            c.wake.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// Sends every user [`Hub::notify`] wakes to `publish` as well; only
    /// the first publisher set is kept (false: one was already set).
    pub fn publish_to(&self, publish: tokio::sync::mpsc::UnboundedSender<String>) -> bool {
        self.publish.set(publish).is_ok()
    }

    /// Number of users with at least one open stream.
    pub fn connected_users(&self) -> usize {
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.values().filter(|c| c.wake.receiver_count() > 0).count()
    }

    /// Opens a stream of `device_id`: when the device then has more than
    /// `max` open streams, the oldest are told to close.
    pub fn open_stream(&self, device_id: &str, max: usize) -> StreamSlot {
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        let mut streams = self.registry.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let list = streams.entry(device_id.to_owned()).or_default();
        list.push_back((id, tx));
        while list.len() > max.max(1) {
            if let Some((_, oldest)) = list.pop_front() {
                oldest.send_replace(true);
            }
        }
        StreamSlot { closed: rx, hub: self.registry.clone(), device_id: device_id.to_owned(), id }
    }

    /// Open streams of `device_id`.
    pub fn open_streams(&self, device_id: &str) -> usize {
        let streams = self.registry.streams.lock().unwrap_or_else(PoisonError::into_inner);
        streams.get(device_id).map_or(0, DeviceStreams::len)
    }

    /// Counts one read of a user's log by the streams.
    pub fn count_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads of the event log made by the streams so far (tests, metrics).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// A receiver of the shutdown signal.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Completes once the server is shutting down, at once if it already
    /// is (`changed()` would wait for a later change, and a task started
    /// after the signal would never end).
    pub async fn stopped(signal: &mut watch::Receiver<bool>) {
        let _ = signal.wait_for(|stop| *stop).await;
    }

    /// Ends every stream and background task.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_stream_of_a_device_closes_beyond_the_cap() {
        let hub = Hub::default();
        let slots: Vec<StreamSlot> = (0..4).map(|_| hub.open_stream("dev_a", 4)).collect();
        assert!(slots.iter().all(|s| !*s.closed.borrow()));
        let fifth = hub.open_stream("dev_a", 4);
        assert!(*slots[0].closed.borrow(), "the oldest is closed");
        assert!(slots[1..].iter().all(|s| !*s.closed.borrow()) && !*fifth.closed.borrow());
        assert_eq!(hub.open_streams("dev_a"), 4);
        let other = hub.open_stream("dev_b", 4);
        assert!(!*other.closed.borrow(), "devices are counted apart");
        drop(fifth);
        assert_eq!(hub.open_streams("dev_a"), 3);
        drop(slots);
        drop(other);
        assert_eq!(hub.open_streams("dev_a"), 0);
        assert_eq!(hub.open_streams("dev_b"), 0);
    }

    #[test]
    fn a_read_serves_the_same_wake_up_and_later_cursors_only() {
        let row = |seq| EventRow { seq, kind: "request".into(), data: "{}".into(), exclude_device: None, live: true };
        let feed = Feed {
            generation: Some(3),
            after: 10,
            rows: vec![row(11), row(12)],
            complete: true,
            active_devices: vec![],
        };
        assert!(feed.serves(3, 10) && feed.serves(3, 12));
        assert!(!feed.serves(4, 10), "another wake-up");
        assert!(!feed.serves(3, 9), "an older cursor needs rows before the read");
        let partial = Feed { complete: false, ..feed };
        assert!(partial.serves(3, 11));
        assert!(!partial.serves(3, 12), "past the rows of a cut read");
        assert!(!Feed::default().serves(0, 0));
    }
}
