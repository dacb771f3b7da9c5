//! Time, injectable so that tests can jump over expiries, polling intervals
//! and rate-limit windows without sleeping.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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
    /// The system time it stopped at, once [`OffsetClock::pause`]d (0: it
    /// follows the system clock).
    paused_at_ms: AtomicU64,
}

impl OffsetClock {
    /// A clock equal to the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the clock where it is: from now on only [`Self::advance`]
    /// moves it (for tests that check a time boundary to the second;
    /// background retries stop making progress).
    pub fn pause(&self) {
        let _ = self.paused_at_ms.compare_exchange(0, system_ms().max(1), Ordering::SeqCst, Ordering::SeqCst);
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
        let now = match self.paused_at_ms.load(Ordering::SeqCst) {
            0 => system_ms(),
            paused => paused,
        };
        if off >= 0 {
            now.saturating_add(off.unsigned_abs())
        } else {
            now.saturating_sub(off.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_moves_only_when_advanced() {
        let clock = OffsetClock::new();
        clock.pause();
        let at = clock.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(clock.now_ms(), at);
        clock.advance(59);
        assert_eq!(clock.now_ms(), at + 59_000);
    }
}
