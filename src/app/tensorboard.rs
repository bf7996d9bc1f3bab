//! TensorBoard scalar event files (`run.tensorboard = true`): every numeric field of a
//! generation's metrics record becomes a scalar under `<run>/tensorboard/`, tagged
//! with the field's name, at step = generation.
//!
//! The format is TFRecord framing around `tensorboard.Event` protobufs. Only a handful
//! of fields are written, so they are encoded here by hand: the Rust TensorBoard
//! crates are unmaintained or need `protoc` at build time.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{io_error, TrainError};
use super::metrics::Metrics;
use super::observer::GenerationObserver;
use crate::config::Config;

/// The folder of a run directory that holds the event files.
pub const DIR: &str = "tensorboard";

/// What every events file name starts with (TensorBoard looks for it).
const PREFIX: &str = "events.out.tfevents.";

/// Appends one event per generation to a new events file of a run.
pub struct TensorBoardWriter {
    file: File,
    path: PathBuf,
}

impl TensorBoardWriter {
    /// A new events file in `<run>/tensorboard/` for a run that starts (or resumes) at
    /// `generation`. Earlier files are left alone: TensorBoard reads every events file
    /// of the folder, in name order.
    pub fn create(run: &Path, generation: u32) -> Result<Self, TrainError> {
        let dir = run.join(DIR);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // TensorBoard replays the files in name order, so a resumed run's file must
        // sort after the earlier ones even when it starts in the same second.
        let latest = fs::read_dir(&dir)
            .map_err(io_error(&dir))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| {
                n.strip_prefix(PREFIX)?
                    .split('.')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .max();
        let stamp = latest.map_or(now, |l| now.max(l + 1));
        // Distinguishes the writers one process opens in the same second (a sweep).
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{stamp:010}.{}.{}.{}",
            hostname(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let mut w = TensorBoardWriter { file, path };
        // The first event names the format version. The START event that follows makes
        // TensorBoard drop the steps >= `generation` of earlier files: records a crashed
        // run wrote after its last checkpoint, which the resumed run writes again.
        w.write(&event(wall_time(), 0, Payload::FileVersion))?;
        w.write(&event(
            wall_time(),
            generation.into(),
            Payload::SessionStart,
        ))?;
        Ok(w)
    }

    /// The events file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One framed record in a single write, flushed, so a killed run leaves whole
    /// records (and at most a torn last one, which readers skip).
    fn write(&mut self, data: &[u8]) -> Result<(), TrainError> {
        self.file
            .write_all(&record(data))
            .map_err(io_error(&self.path))?;
        self.file.flush().map_err(io_error(&self.path))
    }
}

/// The observer `run.tensorboard` asks for (none when it is off): a new events file of
/// the run in `run`, which starts (or resumes) at `generation`.
pub fn observer(
    config: &Config,
    run: &Path,
    generation: u32,
) -> Result<Option<Box<dyn GenerationObserver>>, TrainError> {
    if !config.run.tensorboard {
        return Ok(None);
    }
    Ok(Some(Box::new(TensorBoardWriter::create(run, generation)?)))
}

impl GenerationObserver for TensorBoardWriter {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        let values = scalars(m);
        self.write(&event(
            wall_time(),
            m.generation.into(),
            Payload::Scalars(&values),
        ))
    }
}

/// The numeric fields of `m` as `metrics.jsonl` holds them (null ones left out), as
/// f32; `generation` is the step, not a scalar. Going through the serialised record
/// keeps the tags equal to the file's keys, new fields included.
fn scalars(m: &Metrics) -> Vec<(String, f32)> {
    let serde_json::Value::Object(fields) = serde_json::to_value(m).expect("metrics serialise")
    else {
        unreachable!("metrics serialise to an object")
    };
    fields
        .into_iter()
        .filter(|(k, _)| k != "generation")
        .filter_map(|(k, v)| Some((k, v.as_f64()? as f32)))
        .collect()
}

/// Seconds since the epoch, as events carry it.
fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The host name for the file name (TensorBoard's convention), limited to characters
/// that are safe in a file name.
fn hostname() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// What an event carries besides its time and step.
enum Payload<'a> {
    /// `file_version = "brain.Event:2"`: the first event of every file.
    FileVersion,
    /// `session_log { status: START }`: a (re)start at the event's step.
    SessionStart,
    /// `summary { value { tag, simple_value } ... }`.
    Scalars(&'a [(String, f32)]),
}

/// A `tensorboard.Event` message: wall_time = 1 (double), step = 2 (int64),
/// file_version = 3 (string), summary = 5, session_log = 7.
fn event(wall_time: f64, step: i64, payload: Payload<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    key(&mut out, 1, WIRE_FIXED64);
    out.extend_from_slice(&wall_time.to_le_bytes());
    key(&mut out, 2, WIRE_VARINT);
    // int64 is encoded as its two's complement u64 (steps are never negative here).
    varint(&mut out, step as u64);
    match payload {
        Payload::FileVersion => bytes_field(&mut out, 3, b"brain.Event:2"),
        Payload::SessionStart => {
            // SessionLog.status = 1, an enum; START = 1.
            let mut log = Vec::new();
            key(&mut log, 1, WIRE_VARINT);
            varint(&mut log, 1);
            bytes_field(&mut out, 7, &log);
        }
        Payload::Scalars(values) => {
            // Summary.value = 1 (repeated); Value.tag = 1, Value.simple_value = 2 (float).
            let mut summary = Vec::new();
            for (tag, x) in values {
                let mut value = Vec::new();
                bytes_field(&mut value, 1, tag.as_bytes());
                key(&mut value, 2, WIRE_FIXED32);
                value.extend_from_slice(&x.to_le_bytes());
                bytes_field(&mut summary, 1, &value);
            }
            bytes_field(&mut out, 5, &summary);
        }
    }
    out
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A protobuf varint: 7 bits per byte, least significant first, high bit = more.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field key: the field number and the wire type.
fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// A length-delimited field (string, bytes or an embedded message).
fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, WIRE_LEN);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The CRC-32C (Castagnoli) TFRecord stores, masked as TensorFlow masks it (a CRC of
/// data that holds CRCs is weak, so the stored value is rotated and offset).
fn masked_crc(bytes: &[u8]) -> u32 {
    let c = crc32c::crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// A TFRecord: u64 length, masked CRC of the length bytes, data, masked CRC of the data
/// (all little-endian).
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        // The standard check value of CRC-32C (the IEEE CRC-32 of it is 0xCBF43926).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // Masked as TensorFlow masks it, ((c >> 15) | (c << 17)) + 0xa282ead8 (the
        // value TensorBoard's own `masked_crc32c` gives).
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn varints_and_fields_encode_as_protobuf() {
        let enc = |v: u64| {
            let mut out = Vec::new();
            varint(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(150), [0x96, 0x01]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
        // Value { tag: "kl", simple_value: 1.0 }.
        let mut value = Vec::new();
        bytes_field(&mut value, 1, b"kl");
        key(&mut value, 2, WIRE_FIXED32);
        value.extend_from_slice(&1.0f32.to_le_bytes());
        assert_eq!(value, [0x0a, 2, b'k', b'l', 0x15, 0x00, 0x00, 0x80, 0x3f]);
        // Event { wall_time: 2.0, step: 150, file_version: "brain.Event:2" }.
        let e = event(2.0, 150, Payload::FileVersion);
        let mut want = vec![0x09];
        want.extend_from_slice(&2.0f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0x96, 0x01, 0x1a, 13]);
        want.extend_from_slice(b"brain.Event:2");
        assert_eq!(e, want);
        let e = event(0.0, 3, Payload::SessionStart);
        assert_eq!(e[9..], [0x10, 3, 0x3a, 2, 0x08, 1]);
        let e = event(0.0, 0, Payload::Scalars(&[("kl".into(), 1.0)]));
        let mut want = vec![0x2a, 11, 0x0a, 9];
        want.extend_from_slice(&value);
        assert_eq!(e[11..], want);
    }

    #[test]
    fn records_frame_the_data_with_both_masked_crcs() {
        let data = event(1.5, 7, Payload::Scalars(&[("eta".into(), 0.25)]));
        let r = record(&data);
        assert_eq!(r.len(), 8 + 4 + data.len() + 4);
        let len = u64::from_le_bytes(r[..8].try_into().unwrap());
        assert_eq!(len as usize, data.len());
        let len_crc = u32::from_le_bytes(r[8..12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc(&r[..8]));
        let body = &r[12..12 + data.len()];
        assert_eq!(body, data);
        let data_crc = u32::from_le_bytes(r[12 + data.len()..].try_into().unwrap());
        assert_eq!(data_crc, masked_crc(body));
        // The mask is applied: the raw CRC is not what is stored.
        assert_ne!(data_crc, crc32c::crc32c(body));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn write_errors_name_the_file() {
        // /dev/full fails every write with ENOSPC.
        let path = PathBuf::from("/dev/full");
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        let mut w = TensorBoardWriter { file, path };
        let e = w.write(&event(0.0, 0, Payload::FileVersion)).unwrap_err();
        assert!(matches!(&e, TrainError::Io { path, .. } if path == Path::new("/dev/full")));
        assert!(e.to_string().starts_with("/dev/full: "), "{e}");
    }

    #[test]
    fn a_resumed_run_gets_a_file_that_sorts_last() {
        let run = tempfile::tempdir().unwrap();
        let dir = run.path().join(DIR);
        fs::create_dir_all(&dir).unwrap();
        // A file from the future (a clock set back, or a start in the same second).
        let future = format!("{PREFIX}9999999990.host.1.0");
        fs::write(dir.join(&future), b"").unwrap();
        let w = TensorBoardWriter::create(run.path(), 4).unwrap();
        let name = w.path().file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(&format!("{PREFIX}9999999991.")), "{name}");
        assert!(name > future);
        // The version and START records, whole.
        let bytes = fs::read(w.path()).unwrap();
        let first = record(&event(0.0, 0, Payload::FileVersion)).len();
        let second = record(&event(0.0, 4, Payload::SessionStart)).len();
        assert_eq!(bytes.len(), first + second);
    }
}
