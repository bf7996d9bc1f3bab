//! Where the time of Python vector envs goes: inside the environment's own `reset`
//! and `step`, or in the bridge around them (attaching to the interpreter, building
//! the actions, reading and checking what came back). The speed benchmark
//! (`scripts/bench_python.py`) reads it through `satr._satr.bridge_times`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

static ENV_NS: AtomicU64 = AtomicU64::new(0);
static TOTAL_NS: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

fn timed<T>(counter: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    counter.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

/// Runs `f`, one call into the environment, counting its time as the environment's.
pub(super) fn env<T>(f: impl FnOnce() -> T) -> T {
    timed(&ENV_NS, f)
}

/// Runs `f`, one whole `VectorTask` call, counting its time as the bridge's and the
/// environment's together.
pub(super) fn call<T>(f: impl FnOnce() -> T) -> T {
    CALLS.fetch_add(1, Ordering::Relaxed);
    timed(&TOTAL_NS, f)
}

/// Seconds in the environments, seconds in the bridge, and `VectorTask` calls, since
/// the process started or the last `take(true)`.
pub(crate) fn take(reset: bool) -> (f64, f64, u64) {
    let load = |c: &AtomicU64| {
        if reset {
            c.swap(0, Ordering::Relaxed)
        } else {
            c.load(Ordering::Relaxed)
        }
    };
    let (env, total, calls) = (load(&ENV_NS), load(&TOTAL_NS), load(&CALLS));
    (
        env as f64 * 1e-9,
        total.saturating_sub(env) as f64 * 1e-9,
        calls,
    )
}
