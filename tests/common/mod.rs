//! Shared by the GPU test files: one device per test binary, the rule that a missing
//! adapter skips (with a notice) unless `SATR_REQUIRE_GPU=1` makes it fail, the check
//! that a buffer really holds the poison, and the task test kernels ([`gpu_tasks`]).

#![allow(dead_code)]

use std::sync::OnceLock;

pub mod cli;
pub mod gpu_tasks;
pub mod xorshift;

use satr::gpu::device::{read_words, POISON};
use satr::gpu::GpuContext;

/// True when CI demands an adapter (`SATR_REQUIRE_GPU=1`).
pub fn require_gpu() -> bool {
    std::env::var("SATR_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The shared device, or `None` (with a notice) when there is no adapter and
/// `SATR_REQUIRE_GPU=1` is not set.
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
pub fn assert_poisoned(ctx: &GpuContext, buffer: &wgpu::Buffer, words: usize, what: &str) {
    let got = read_words(ctx, buffer, 0, words as u64).expect("read-back");
    assert_eq!(got.len(), words, "{what}");
    if let Some(i) = got.iter().position(|&w| w != POISON) {
        panic!("{what}: word {i} is {:#x}, not the poison", got[i]);
    }
}
