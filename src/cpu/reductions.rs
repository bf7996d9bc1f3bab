//! Twin of `shaders/reductions.wgsl`: the population reductions of SPEC 4,
//! `A_i = sum_k u_k x[k][i]` and `B_i = sum_k u_k^2 x[k][i]`, in 64-bit two's-complement
//! fixed point, so a GPU result can be compared exactly (integer sums are associative:
//! chunking and member order do not change them).
//!
//! [`reductions`] is one dispatch (per coordinate, add the chunk's members in order);
//! [`fixed_point_reductions`] is the host side around it as the GPU `Reducer` does it:
//! the scale of [`distribution::fixed_point_scale`], the utilities in fixed point, one
//! dispatch per chunk into the same accumulators, then back to f64.
//!
//! The CPU evaluator itself reduces in f64 ([`distribution::reductions`]); this model
//! is for comparing with the kernel (`tests/engine/cpu_twins.rs`).

use crate::distribution::{self, Reductions};

/// Adds the members of `genomes` (member-major, `words` u64 words each) with their
/// fixed-point utilities (`[u_k, u_k^2]`, from [`distribution::to_fixed`]) into
/// `sums` (`[A_i, B_i]` per coordinate, wrapping as the shader's `add64` does).
pub fn reductions(genomes: &[u64], words: usize, utilities: &[[u64; 2]], sums: &mut [[u64; 2]]) {
    let members = utilities.len();
    assert!(genomes.len() >= members * words, "genome storage length");
    assert!(sums.len() <= words * 64, "coordinates past the genome");
    for (i, sum) in sums.iter_mut().enumerate() {
        let (word, shift) = (i >> 6, i & 63);
        let [mut a, mut b] = *sum;
        for (k, u) in utilities.iter().enumerate() {
            if (genomes[k * words + word] >> shift) & 1 == 1 {
                a = a.wrapping_add(u[0]);
                b = b.wrapping_add(u[1]);
            }
        }
        *sum = [a, b];
    }
}

/// `A` and `B` as the GPU backend computes them: `utilities` for all train members of
/// `genomes` (member-major packed u64 genomes of `dim` bits), added in chunks of
/// `chunk` members (at least 1). `u1` and `u2` are plain f64 sums, as the GPU
/// evaluator takes them.
pub fn fixed_point_reductions(
    genomes: &[u64],
    dim: usize,
    utilities: &[f64],
    chunk: usize,
) -> Reductions {
    let words = distribution::words_for(dim);
    let pop = utilities.len();
    assert_eq!(genomes.len(), words * pop, "genome storage length");
    let scale = distribution::fixed_point_scale(utilities);
    let fixed: Vec<[u64; 2]> = utilities
        .iter()
        .map(|&u| distribution::to_fixed(u, scale))
        .collect();
    let mut sums = vec![[0u64; 2]; dim];
    let chunk = chunk.max(1);
    for (k, u) in fixed.chunks(chunk).enumerate() {
        let first = k * chunk * words;
        reductions(
            &genomes[first..first + u.len() * words],
            words,
            u,
            &mut sums,
        );
    }
    Reductions {
        a: sums
            .iter()
            .map(|s| distribution::from_fixed(s[0], scale))
            .collect(),
        b: sums
            .iter()
            .map(|s| distribution::from_fixed(s[1], scale))
            .collect(),
        u1: utilities.iter().sum(),
        u2: utilities.iter().map(|u| u * u).sum(),
        population: pop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::{sample_genome, thresholds, words_for};

    #[test]
    fn chunking_does_not_change_the_sums_and_they_track_f64() {
        let (dim, pop) = (203, 13);
        let th = thresholds(&vec![0.45; dim]);
        let words = words_for(dim);
        let mut gs = vec![0u64; words * pop];
        for (k, g) in gs.chunks_mut(words).enumerate() {
            sample_genome(&th, 4, 2, k as u32, g);
        }
        let u: Vec<f64> = (0..pop).map(|k| (k as f64 * 0.37).sin()).collect();
        let whole = fixed_point_reductions(&gs, dim, &u, pop);
        for chunk in [1, 4, 5] {
            assert_eq!(fixed_point_reductions(&gs, dim, &u, chunk), whole);
        }
        let f = distribution::reductions(&gs, dim, &u);
        // Rounding to fixed point (half a unit per member) plus the f64 sums' own rounding.
        let tol = pop as f64 / distribution::fixed_point_scale(&u) + 1e-14 * pop as f64;
        for i in 0..dim {
            assert!((whole.a[i] - f.a[i]).abs() <= tol, "A[{i}]");
            assert!((whole.b[i] - f.b[i]).abs() <= tol, "B[{i}]");
        }
        assert_eq!((whole.u1, whole.u2), (f.u1, f.u2));
    }
}
