//! Process-wide setup, done once however many runs the process makes: the headless
//! Vulkan workaround, logging, and the stop signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::error::TrainError;
use super::world::World;

/// Vulkan loaders print "XDG_RUNTIME_DIR is invalid or not set" on headless machines
/// (cloud batch jobs) when probing adapters; give them a private runtime folder.
/// Runs first thing in [`main`], before any other thread exists.
fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
    };
    #[cfg(not(unix))]
    let owner = 0;
    let dir = std::env::temp_dir().join(format!("satr-runtime-{owner}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: called first thing in the process, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// The life of a `satr` process around `body`: the headless Vulkan workaround, the
/// world (MPI initialised before other threads exist, finalised before exiting, as
/// launchers require), logging, and the error report: under several processes an
/// error names its rank and aborts the job (the other ranks may wait in a collective
/// this one never joins). Exits with status 1 on error.
pub fn main<E: std::fmt::Display>(body: impl FnOnce(&World) -> Result<(), E>) {
    quiet_headless_vulkan();
    let ok = {
        let world = match World::init() {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
        };
        init_logging(world.rank());
        match body(&world) {
            Ok(()) => true,
            Err(e) if world.size() > 1 => {
                eprintln!("error (rank {} of {}): {e:#}", world.rank(), world.size());
                world.abort(1);
                false
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                false
            }
        }
    };
    if !ok {
        std::process::exit(1);
    }
}

/// Logs to stderr, `RUST_LOG` overriding the default; rank 0 alone logs at info level
/// (the other ranks of an MPI job would repeat its lines).
pub fn init_logging(rank: usize) {
    let default_filter = if rank == 0 { "warn,satr=info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// A signal within this window of the first is the same event delivered twice, not a
/// second request: GNU `timeout` signals the child and then its process group, and a
/// terminal's Ctrl-C reaches every process of the group.
const REPEAT_WINDOW: Duration = Duration::from_secs(1);

/// The process's stop flag, set by the first SIGINT/SIGTERM (finish the generation,
/// checkpoint, stop); a second signal later exits at once without a checkpoint. The
/// handler is installed on the first call; every run of the process shares the flag.
pub fn stop_flag() -> Result<Arc<AtomicBool>, TrainError> {
    static FLAG: OnceLock<Result<Arc<AtomicBool>, String>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let first = Mutex::new(None::<Instant>);
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
        .map(|()| stop)
        .map_err(|e| format!("installing the SIGINT/SIGTERM handler: {e}"))
    })
    .clone()
    .map_err(TrainError::Signal)
}
