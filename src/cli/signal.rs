//! The stop signal of `satr train` and `satr sweep`: the first SIGINT/SIGTERM asks the
//! run to finish its generation and checkpoint; a second one later exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::anyhow;

/// A signal within this window of the first is the same event delivered twice, not a
/// second request: GNU `timeout` signals the child and then its process group, and a
/// terminal's Ctrl-C reaches every process of the group.
const REPEAT_WINDOW: Duration = Duration::from_secs(1);

/// What the handler shares with the commands.
struct Handler {
    stop: Arc<AtomicBool>,
    /// When the first signal of the current command came.
    first: Arc<Mutex<Option<Instant>>>,
}

/// The stop flag for one command, set by the first SIGINT/SIGTERM (finish the
/// generation, checkpoint, stop); a second signal more than [`REPEAT_WINDOW`] later
/// exits the process with status 130, without a checkpoint. The handler is installed
/// by the first call of the process (there is one per process) and re-armed by each
/// later call, for the next command.
pub(super) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    static HANDLER: OnceLock<Result<Handler, String>> = OnceLock::new();
    let handler = HANDLER
        .get_or_init(|| {
            let h = Handler {
                stop: Arc::new(AtomicBool::new(false)),
                first: Arc::new(Mutex::new(None)),
            };
            let (flag, first) = (h.stop.clone(), h.first.clone());
            ctrlc::set_handler(move || {
                let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
                match *first {
                    None => {
                        *first = Some(Instant::now());
                        flag.store(true, Ordering::SeqCst);
                        eprintln!(
                            "signal received: finishing this generation, then writing a checkpoint"
                        );
                    }
                    Some(t) if t.elapsed() < REPEAT_WINDOW => {}
                    Some(_) => {
                        eprintln!("second signal: exiting without a checkpoint");
                        std::process::exit(130);
                    }
                }
            })
            .map(|()| h)
            .map_err(|e| format!("installing the SIGINT/SIGTERM handler: {e}"))
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))?;
    let mut first = handler.first.lock().unwrap_or_else(|e| e.into_inner());
    *first = None;
    handler.stop.store(false, Ordering::SeqCst);
    Ok(handler.stop.clone())
}
