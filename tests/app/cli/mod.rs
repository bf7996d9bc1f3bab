//! End-to-end tests of the `satr` binary: runs, resume, signals, checkpoint integrity,
//! config errors, replay and bench output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::cli::{
    assert_same_fitness, checkpoint_p, gpu_adapter_or_skip, metrics_without_timing, ok,
    replay_lines, satr, train, train_command, BIN, SMALL,
};

mod commands;
mod logs;
mod runs;
