//! Waiting for something to happen in a test.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long [`wait_for`] (and [`super::Agent::wait_token`]) waits by default:
/// 20 s, generous for a loaded two-core machine. A test that wants another
/// bound passes it to [`wait_for_within`].
pub const WAIT: Duration = Duration::from_secs(20);

/// How often [`wait_for`] asks again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `f` returns `Some` (asking every 20 ms), at most [`WAIT`].
///
/// # Panics
/// With "timed out waiting for {what}" when `f` is still `None` after [`WAIT`]:
/// this is the test's assertion that the awaited thing happens.
pub async fn wait_for<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_for_within(WAIT, what, f).await
}

/// [`wait_for`] with another bound than [`WAIT`].
///
/// # Panics
/// With "timed out waiting for {what}" when `f` is still `None` after `timeout`.
pub async fn wait_for_within<T, F, Fut>(timeout: Duration, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_for_every(timeout, POLL, what, f).await
}

/// [`wait_for_within`] asking every `every` (for what is costly to ask:
/// each token poll writes to the server's database).
///
/// # Panics
/// With "timed out waiting for {what}" when `f` is still `None` after `timeout`.
pub async fn wait_for_every<T, F, Fut>(timeout: Duration, every: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(every).await;
    }
}
