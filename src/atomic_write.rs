//! Files written whole or not at all: into a temporary file beside the target, synced,
//! then renamed over it, so a reader never sees half a file and a failure leaves the
//! old one (or none); on any failure the temporary file is removed.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary name beside `path`: `.<name>.tmp-<pid>`.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `path` through `fill`; `io` turns an OS error into the caller's error type,
/// given the path it concerns (the temporary file, or `path` for the final rename).
pub fn write_with<E>(
    path: &Path,
    io: impl Fn(&Path, std::io::Error) -> E,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    if path.file_name().is_none() {
        return Err(io(path, std::io::Error::other("the path names no file")));
    }
    let tmp = temporary(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        let mut out = BufWriter::new(file);
        fill(&mut out)?;
        let file = out.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |_, e| e, |out| out.write_all(bytes))
}
