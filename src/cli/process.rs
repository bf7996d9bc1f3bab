//! The life of a `satr` command around its body: the headless Vulkan workaround, the
//! world (MPI), logging, and the error report with the exit status.

use super::logging::{self, LogFormat};
use crate::app::World;

/// Vulkan loaders print "XDG_RUNTIME_DIR is invalid or not set" on headless machines
/// (cloud batch jobs) when probing adapters; give them a private runtime folder.
/// Runs first thing in [`run`], before this command starts any thread.
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
        // SAFETY: called before the command starts any thread (the binary calls the
        // command line first thing in `main`).
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Runs `body` in the world of this process (MPI initialised before other threads
/// exist, finalised before returning, as launchers require) with logging set up, and
/// reports its error: under several processes an error names its rank and aborts the
/// job (the other ranks may wait in a collective this one never joins). Returns the
/// exit status: 0, or 1 on error.
pub(super) fn run(format: LogFormat, body: impl FnOnce(&World) -> anyhow::Result<()>) -> i32 {
    quiet_headless_vulkan();
    let world = match World::init() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e:#}");
            return 1;
        }
    };
    logging::init(world.rank(), format);
    match body(&world) {
        Ok(()) => 0,
        Err(e) if world.size() > 1 => {
            eprintln!("error (rank {} of {}): {e:#}", world.rank(), world.size());
            world.abort(1);
            1
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
