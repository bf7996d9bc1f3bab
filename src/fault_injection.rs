//! A test hook that widens the windows in which a kill tears a write: with
//! `SATR_FAULT_DELAY_MS=<ms>` set, checkpoint and metrics writes pause that long in the
//! middle (after half a metrics line, and before a checkpoint's header is final), so
//! crash tests can land a SIGKILL inside them. Unset (always, outside tests) it costs
//! one cached environment lookup.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable.
pub const DELAY_ENV: &str = "SATR_FAULT_DELAY_MS";

/// Pauses for the configured delay, if any.
pub fn pause() {
    static DELAY: OnceLock<Option<Duration>> = OnceLock::new();
    let d = DELAY.get_or_init(|| {
        std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    });
    if let Some(d) = d {
        std::thread::sleep(*d);
    }
}
