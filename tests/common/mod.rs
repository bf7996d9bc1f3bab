//! Shared by the test binaries (`tests/<group>/main.rs` include it by path): one device
//! per test binary, the rule that a missing adapter skips (with a notice) unless
//! `SATR_REQUIRE_GPU=1` makes it fail, the check that a buffer really holds the poison,
//! the task test kernels ([`gpu_tasks`]), the per-task fixtures ([`task_fixtures`]),
//! running the `satr` binary ([`cli`]) and re-running one test in a child process.
//! The GPU parts need the `gpu` feature; the rest builds without it.

#![allow(dead_code)]

#[cfg(feature = "gpu")]
use std::sync::OnceLock;

pub mod cli;
#[cfg(feature = "gpu")]
pub mod gpu_tasks;
pub mod task_fixtures;
pub mod xorshift;

#[cfg(feature = "gpu")]
use satr::gpu::device::{read_words, POISON};
#[cfg(feature = "gpu")]
use satr::gpu::GpuContext;

/// True when CI demands an adapter (`SATR_REQUIRE_GPU=1`).
pub fn require_gpu() -> bool {
    std::env::var("SATR_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The name libtest gives the test function `name` of the module `module`
/// (`module_path!()` there): the module path without the crate's name, so that a test
/// re-running itself in a child process (`--exact`) finds itself in a binary of several
/// modules.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

/// The shared device, or `None` (with a notice) when there is no adapter and
/// `SATR_REQUIRE_GPU=1` is not set.
#[cfg(feature = "gpu")]
pub fn context() -> Option<GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| match GpuContext::new() {
        Ok(Some(c)) => Some(c),
        Ok(None) => None,
        Err(e) => {
            eprintln!("GPU context failed: {e}");
            None
        }
    });
    if ctx.is_none() {
        assert!(
            !require_gpu(),
            "SATR_REQUIRE_GPU=1 but no usable GPU adapter"
        );
        eprintln!("skipping: no GPU adapter (set SATR_REQUIRE_GPU=1 to fail instead)");
    }
    ctx.clone()
}

/// Asserts that the first `words` words of `buffer` are [`POISON`]: run right after
/// poisoning, it shows that the poison reaches the words a comparison reads (so a word
/// a kernel leaves unwritten fails that comparison).
#[cfg(feature = "gpu")]
pub fn assert_poisoned(ctx: &GpuContext, buffer: &wgpu::Buffer, words: usize, what: &str) {
    let got = read_words(ctx, buffer, 0, words as u64).expect("read-back");
    assert_eq!(got.len(), words, "{what}");
    if let Some(i) = got.iter().position(|&w| w != POISON) {
        panic!("{what}: word {i} is {:#x}, not the poison", got[i]);
    }
}
