//! A run directory: `config.toml`, `metrics.jsonl`, `checkpoints/latest.ckpt`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::{io_error, TrainError};
use super::metrics::MetricsFile;
use crate::config::Config;

/// The lock of a run directory, held while this process trains it; dropping the guard
/// (or the process ending) releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: fs::File,
}

/// A run directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory for a config: `run.name` under `run.out_dir`, or,
    /// unnamed, `<task>-s<seed>-<unix seconds>` with `-2`, `-3`, ... appended when
    /// another run (started in the same second) already took the name. The directory
    /// is locked (see [`RunDir::lock`]) before anything is written into it.
    pub fn create(config: &Config) -> Result<(Self, RunLock), TrainError> {
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
        fs::create_dir_all(&dir.path).map_err(io_error(&dir.path))?;
        let lock = dir.lock()?;
        // Records of an attempt killed before its first checkpoint start over.
        dir.metrics().truncate(0)?;
        let ckpts = dir.path.join("checkpoints");
        fs::create_dir_all(&ckpts).map_err(io_error(&ckpts))?;
        let cfg_path = dir.config_path();
        fs::write(&cfg_path, config.to_toml()).map_err(io_error(&cfg_path))?;
        Ok((dir, lock))
    }

    /// Takes the run directory's advisory lock (`<dir>/lock`, holding this process's
    /// id) for as long as the returned guard lives, or names the process that holds it.
    /// The OS drops the lock when its holder exits, however it exits, so a lock left
    /// by a crash is simply taken over.
    pub fn lock(&self) -> Result<RunLock, TrainError> {
        let path = self.path.join("lock");
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "(unknown pid)".to_string(),
                    h => h.to_string(),
                };
                return Err(TrainError::Locked {
                    path: self.path.clone(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(&path)(e)),
        }
        let me = format!("pid {}", std::process::id());
        file.set_len(0).map_err(io_error(&path))?;
        file.write_all(me.as_bytes()).map_err(io_error(&path))?;
        file.flush().map_err(io_error(&path))?;
        Ok(RunLock { _file: file })
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

    /// The folder name of an unnamed run: the task name with every character other
    /// than letters, digits, `.`, `_` and `-` replaced by `-` (registered task names
    /// such as `gym:ALE/Pong-v5` would otherwise make nested or odd folders).
    fn default_name(config: &Config) -> String {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let task: String = config
            .task
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{task}-s{}-{}", config.seed, secs)
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
        let dirs: Vec<(RunDir, RunLock)> = (0..3).map(|_| RunDir::create(&cfg).unwrap()).collect();
        let dirs: Vec<&RunDir> = dirs.iter().map(|(d, _)| d).collect();
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
        let (dir, lock) = RunDir::create(&cfg).unwrap();
        // While its creator holds it, a second process (here a second open of the
        // lock file) cannot take the same named run, even before any checkpoint.
        let e = RunDir::create(&cfg).unwrap_err();
        match &e {
            TrainError::Locked { holder, .. } => {
                assert_eq!(holder, &format!("pid {}", std::process::id()))
            }
            e => panic!("expected Locked, got {e}"),
        }
        fs::write(dir.checkpoint_path(), "x").unwrap();
        drop(lock);
        let e = RunDir::create(&cfg).unwrap_err().to_string();
        assert!(e.contains("already holds a run"), "{e}");
    }

    #[test]
    fn a_released_lock_is_taken_over_and_names_the_new_holder() {
        let out = tempfile::tempdir().unwrap();
        let dir = RunDir {
            path: out.path().to_path_buf(),
        };
        // A crashed holder leaves its pid in the file but no lock (the OS released it).
        fs::write(out.path().join("lock"), "pid 999999999").unwrap();
        let held = dir.lock().unwrap();
        let text = fs::read_to_string(out.path().join("lock")).unwrap();
        assert_eq!(text, format!("pid {}", std::process::id()));
        assert!(matches!(dir.lock(), Err(TrainError::Locked { .. })));
        drop(held);
        dir.lock().unwrap();
    }

    #[test]
    fn default_names_are_one_plain_folder() {
        let cfg = Config {
            task: "gym:ALE/Pong-v5".into(),
            seed: 3,
            ..Config::default()
        };
        let name = RunDir::default_name(&cfg);
        assert!(name.starts_with("gym-ALE-Pong-v5-s3-"), "{name}");
        assert!(!name.contains('/') && !name.contains(':'), "{name}");
    }
}
