//! Twin of `shaders/sample_genomes.wgsl`: the genomes of a range of members (SPEC 3),
//! member-major. Same loops as the shader, per (member, word): a train member's word
//! is sampled, an eval member's (global index `>= population`) copies the mode genome.
//! The sampling itself is [`distribution::sample_words`], so there is one sampling on
//! the CPU. A CPU word is 64 bits, two of the shader's words. Compared in
//! `tests/engine/cpu_twins.rs`.

use rayon::prelude::*;

use crate::distribution;

/// Genomes of global members `member_offset..member_offset + out.len() / words` of
/// `generation` into `out` (`words = mode.len()` u64 words each). Members run in
/// parallel; each word depends only on `(seed, generation, member, word)`.
pub fn sample_genomes(
    thresholds: &[u32],
    mode: &[u64],
    seed: u64,
    generation: u32,
    population: usize,
    member_offset: usize,
    out: &mut [u64],
) {
    let words = distribution::words_for(thresholds.len());
    assert_eq!(mode.len(), words, "mode genome length");
    if words == 0 {
        return;
    }
    assert_eq!(out.len() % words, 0, "whole genomes");
    out.par_chunks_mut(words)
        .enumerate()
        .for_each(|(local, genome)| {
            let member = member_offset + local;
            for (w, word) in genome.iter_mut().enumerate() {
                if member >= population {
                    *word = mode[w];
                } else {
                    distribution::sample_words(
                        thresholds,
                        seed,
                        generation,
                        member as u32,
                        w,
                        std::slice::from_mut(word),
                    );
                }
            }
        });
}
