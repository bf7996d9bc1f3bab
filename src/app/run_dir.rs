//! A run directory: `config.toml`, `metrics.jsonl`, `checkpoints/latest.ckpt`.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{io_error, TrainError};
use super::metrics::MetricsFile;
use crate::config::Config;

/// A run directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory for a config: `run.name` under `run.out_dir`, or,
    /// unnamed, `<task>-s<seed>-<unix seconds>` with `-2`, `-3`, ... appended when
    /// another run (started in the same second) already took the name.
    pub fn create(config: &Config) -> Result<Self, TrainError> {
        let out = Path::new(&config.run.out_dir);
        fs::create_dir_all(out).map_err(io_error(out))?;
        let path = if config.run.name.is_empty() {
            let base = Self::default_name(config);
            let mut k = 1;
            loop {
                let name = match k {
                    1 => base.clone(),
                    k => format!("{base}-{k}"),
                };
                let path = out.join(name);
                // create_dir is atomic: of two processes racing for a name, one wins.
                match fs::create_dir(&path) {
                    Ok(()) => break path,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => k += 1,
                    Err(e) => return Err(io_error(&path)(e)),
                }
            }
        } else {
            let path = out.join(&config.run.name);
            if path.join("checkpoints").join("latest.ckpt").exists() {
                return Err(TrainError::Resume(format!(
                    "{} already holds a run; resume it with `satr train --resume {}` or choose another run.name",
                    path.display(),
                    path.display()
                )));
            }
            path
        };
        let dir = RunDir { path };
        let ckpts = dir.path.join("checkpoints");
        fs::create_dir_all(&ckpts).map_err(io_error(&ckpts))?;
        let cfg_path = dir.config_path();
        fs::write(&cfg_path, config.to_toml()).map_err(io_error(&cfg_path))?;
        Ok(dir)
    }

    /// The run directory a checkpoint file lies in (`<dir>/checkpoints/<file>`).
    pub fn of_checkpoint(ck_path: &Path) -> Result<Self, TrainError> {
        let path = ck_path.parent().and_then(Path::parent).ok_or_else(|| {
            TrainError::Resume(format!(
                "{} is not inside a run directory",
                ck_path.display()
            ))
        })?;
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// The folder name of an unnamed run.
    fn default_name(config: &Config) -> String {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("{}-s{}-{}", config.task, config.seed, secs)
    }

    /// The checkpoint file.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join("checkpoints").join("latest.ckpt")
    }

    /// The resolved config of the run.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// The metrics file.
    pub fn metrics(&self) -> MetricsFile {
        MetricsFile::new(self.path.join("metrics.jsonl"))
    }

    /// Rewrites `config.toml` (after a resume changed keys).
    pub fn write_config(&self, config: &Config) -> Result<(), TrainError> {
        let p = self.config_path();
        fs::write(&p, config.to_toml()).map_err(io_error(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_runs_started_together_get_their_own_folders() {
        let out = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.run.out_dir = out.path().display().to_string();
        let dirs: Vec<RunDir> = (0..3).map(|_| RunDir::create(&cfg).unwrap()).collect();
        for (i, a) in dirs.iter().enumerate() {
            assert!(a.config_path().exists());
            for b in &dirs[i + 1..] {
                assert_ne!(a.path, b.path);
            }
        }
    }

    #[test]
    fn a_named_run_is_not_overwritten() {
        let out = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.run.out_dir = out.path().display().to_string();
        cfg.run.name = "mine".into();
        let dir = RunDir::create(&cfg).unwrap();
        fs::write(dir.checkpoint_path(), "x").unwrap();
        let e = RunDir::create(&cfg).unwrap_err().to_string();
        assert!(e.contains("already holds a run"), "{e}");
    }
}
