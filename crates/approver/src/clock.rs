//! Wall-clock time, injectable so tests can move past expiries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of unix time in seconds.
pub trait Clock: Send + Sync + 'static {
    /// Unix time, seconds.
    fn now(&self) -> u64;
}

/// The operating system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// The system clock plus an adjustable offset (tests).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl OffsetClock {
    /// Equal to the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.offset.fetch_add(i64::try_from(secs).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> u64 {
        let now = SystemClock.now();
        let off = self.offset.load(Ordering::SeqCst);
        if off >= 0 {
            now.saturating_add(off.unsigned_abs())
        } else {
            now.saturating_sub(off.unsigned_abs())
        }
    }
}
