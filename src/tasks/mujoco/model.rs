//! The Gymnasium model files and the compiled models, loaded once per process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use mujoco_rs::prelude::MjModel;

use super::Kind;
use crate::tasks::TaskError;

/// Where the Gymnasium model files are looked for: `$SATR_MUJOCO_MODELS`, else the
/// folder `scripts/setup_mujoco.sh` fills by default.
pub fn models_dir() -> PathBuf {
    std::env::var_os("SATR_MUJOCO_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.mujoco/models")))
}

/// The compiled models, one per environment and process: compiling Humanoid's XML costs
/// milliseconds, and evaluators make a task per worker per generation.
pub(super) fn load_model(kind: Kind) -> Result<Arc<MjModel>, TaskError> {
    static MODELS: OnceLock<Mutex<HashMap<Kind, Arc<MjModel>>>> = OnceLock::new();
    let mut models = MODELS
        .get_or_init(|| {
            // MuJoCo's own handler appends warnings to MUJOCO_LOG.TXT in the working
            // directory; route them to the `log` crate (and so to tracing) instead.
            // SAFETY: this runs once, before the first model exists, and every MuJoCo call
            // in satr goes through a model from here, so no other thread is in MuJoCo.
            unsafe { mujoco_rs::prelude::install_logging_hook() };
            Mutex::default()
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(m) = models.get(&kind) {
        return Ok(m.clone());
    }
    let params = kind.params();
    let path = models_dir().join(params.xml);
    if !path.is_file() {
        return Err(TaskError::MuJoCo {
            task: params.name,
            reason: format!(
                "model file {} not found; run `eval \"$(scripts/setup_mujoco.sh)\"` or set \
                 SATR_MUJOCO_MODELS to Gymnasium's mujoco/assets folder",
                path.display()
            ),
        });
    }
    let model = MjModel::from_xml(&path).map_err(|e| TaskError::MuJoCo {
        task: params.name,
        reason: format!("loading {}: {e}", path.display()),
    })?;
    let model = Arc::new(model);
    models.insert(kind, model.clone());
    Ok(model)
}
