//! Waiting, bounded in time, for something a test started to happen (a daemon to
//! answer, a ban to appear, a revert to take effect).

use std::time::{Duration, Instant};

/// Asks `ready` every `step` until it gives a value, for at most `limit`: the value, or
/// `None` when the time ran out.
pub fn poll<T>(limit: Duration, step: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(step);
    }
}
