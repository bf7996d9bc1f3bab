//! Training on a thread of its own with the GIL released, and Ctrl-C while it runs.

use super::*;

/// How a training thread ended.
struct Finished {
    dir: PathBuf,
    generations: u32,
    interrupted: bool,
}

type Outcome = Result<Result<Finished, TrainError>, String>;

/// What waiting for a training thread gave.
enum Waited {
    Done(Outcome, Option<PyErr>),
    /// A second interrupt: raised at once, the thread left to finish its generation.
    Abandoned(PyErr),
}

/// Runs `app::train::train(args)` on a thread of its own with the GIL released and
/// returns the run directory (see the module doc for interrupts).
pub(crate) fn run_training(py: Python<'_>, mut args: TrainArgs) -> PyResult<String> {
    let stop = Arc::new(AtomicBool::new(false));
    args.stop = stop.clone();
    let (tx, rx) = mpsc::channel::<Outcome>();
    let handle = std::thread::Builder::new()
        .name("satr-train".into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| {
                let Ok(world) = World::init();
                let engines = Engines::new(&world);
                satr::app::train::train(&engines, args).map(|out| Finished {
                    dir: out.dir.path.clone(),
                    generations: out.summary.generations,
                    interrupted: out.summary.interrupted,
                })
            }));
            let _ = tx.send(r.map_err(|p| panic_message(p.as_ref())));
        })
        .map_err(|e| errors::new_error(py, "SatrError", format!("starting a thread: {e}")))?;
    let waited = py.detach(move || {
        let mut interrupt: Option<PyErr> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(r) => return Waited::Done(r, interrupt),
                Err(RecvTimeoutError::Disconnected) => {
                    return Waited::Done(Err("the training thread ended".into()), interrupt)
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        if interrupt.is_some() {
                            return Waited::Abandoned(e);
                        }
                        stop.store(true, Ordering::SeqCst);
                        eprintln!(
                            "satr: interrupted: finishing this generation, then writing a \
                             checkpoint (interrupt again to stop waiting)"
                        );
                        interrupt = Some(e);
                    }
                }
            }
        }
    });
    match waited {
        Waited::Abandoned(e) => {
            eprintln!(
                "satr: second interrupt: no longer waiting; the run stops in the background \
                 after its generation"
            );
            Err(e)
        }
        Waited::Done(outcome, interrupt) => {
            let _ = handle.join();
            let finished = match outcome {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => return Err(errors::train_error(py, &e)),
                Err(panic) => return Err(errors::internal_error(py, &panic)),
            };
            if let Some(e) = interrupt {
                eprintln!(
                    "satr: stopped after generation {}{}; resume with satr.Run({:?}).resume()",
                    finished.generations,
                    if finished.interrupted {
                        ", checkpoint written"
                    } else {
                        ""
                    },
                    finished.dir.display().to_string()
                );
                return Err(e);
            }
            Ok(finished.dir.display().to_string())
        }
    }
}
