//! Time, injectable so that tests can jump over expiries, polling intervals
//! and rate-limit windows without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;

    /// Unix time in seconds.
    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
}

fn system_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// The operating system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        system_ms()
    }
}

/// The system clock plus an adjustable offset: time still flows (so
/// background retries make progress) and tests can jump ahead.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: AtomicI64,
}

impl OffsetClock {
    /// A clock equal to the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance(&self, secs: u64) {
        let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> u64 {
        let off = self.offset_ms.load(Ordering::SeqCst);
        let now = system_ms();
        if off >= 0 {
            now.saturating_add(off.unsigned_abs())
        } else {
            now.saturating_sub(off.unsigned_abs())
        }
    }
}
