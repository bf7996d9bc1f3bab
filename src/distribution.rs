//! The Bernoulli distribution over genome bits (SPEC 2) and the sampling contract
//! (SPEC 3): thresholds, packed genomes, the mode genome, and the population
//! reductions `A` and `B` of SPEC 4 (the type the backends return and the update rules
//! read, so neither imports the other).

use rayon::prelude::*;

use crate::rng::{self, STREAM_GENOME};

/// `threshold(p) = min(floor(p * 2^32), 2^32 - 1)`: bit is 1 iff `rng_u32 < threshold`.
#[inline]
pub fn threshold(p: f64) -> u32 {
    let t = (p * 4_294_967_296.0).floor();
    if t >= 4_294_967_295.0 {
        u32::MAX
    } else if t <= 0.0 {
        0
    } else {
        t as u32
    }
}

/// Thresholds of every coordinate, computed once per generation and shared by backends.
pub fn thresholds(p: &[f64]) -> Vec<u32> {
    p.iter().map(|&x| threshold(x)).collect()
}

/// Number of u64 words holding `bits` bits.
#[inline]
pub fn words_for(bits: usize) -> usize {
    bits.div_ceil(64)
}

/// Reads bit `i` of a packed bit vector (bit `i` is bit `i % 64` of word `i / 64`, so the
/// same bytes read as u32 words on a little-endian GPU give the same bits).
#[inline]
pub fn bit(words: &[u64], i: usize) -> bool {
    (words[i / 64] >> (i % 64)) & 1 == 1
}

/// Samples genome `member` of `generation` into `out` (`words_for(thresholds.len())`
/// words; bits past the end are zero).
pub fn sample_genome(thresholds: &[u32], seed: u64, generation: u32, member: u32, out: &mut [u64]) {
    assert_eq!(
        out.len(),
        words_for(thresholds.len()),
        "genome buffer length"
    );
    sample_words(thresholds, seed, generation, member, 0, out);
}

/// Philox blocks per 64-bit genome word: one 32-bit uniform per bit, four per block.
const BLOCKS_PER_WORD: usize = 16;

/// Words `first..first + out.len()` of genome `member` (what [`sample_genome`] puts
/// there), so that a process can sample only the coordinates it reduces. Dispatches at
/// run time to a build using the CPU's AVX2 when present (the same integer function).
pub fn sample_words(
    thresholds: &[u32],
    seed: u64,
    generation: u32,
    member: u32,
    first: usize,
    out: &mut [u64],
) {
    assert!(
        first + out.len() <= words_for(thresholds.len()),
        "words past the genome"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::cpu_features::fast_path_available() {
        // SAFETY: the features were detected on this CPU.
        return unsafe { sample_words_x86(thresholds, seed, generation, member, first, out) };
    }
    sample_words_body(thresholds, seed, generation, member, first, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sample_words_x86(
    thresholds: &[u32],
    seed: u64,
    generation: u32,
    member: u32,
    first: usize,
    out: &mut [u64],
) {
    sample_words_body(thresholds, seed, generation, member, first, out)
}

/// Bit `i` is `philox(block i / 4, member, generation, STREAM_GENOME)[i % 4] <
/// thresholds[i]` (SPEC 3). A word's 16 blocks run as the lanes of one Philox call
/// (the genome's last word may use fewer).
#[inline(always)]
fn sample_words_body(
    thresholds: &[u32],
    seed: u64,
    generation: u32,
    member: u32,
    first: usize,
    out: &mut [u64],
) {
    let key = rng::seed_key(seed);
    for (local, word) in out.iter_mut().enumerate() {
        let w = first + local;
        let base = w * 64;
        let th = &thresholds[base..(base + 64).min(thresholds.len())];
        let counters = [
            std::array::from_fn(|l| (w * BLOCKS_PER_WORD + l) as u32),
            [member; BLOCKS_PER_WORD],
            [generation; BLOCKS_PER_WORD],
            [STREAM_GENOME; BLOCKS_PER_WORD],
        ];
        let r = rng::philox4x32_10_lanes(counters, key);
        // A whole word as a fixed-length array, so that its compare-and-pack unrolls.
        *word = match <&[u32; 64]>::try_from(th) {
            Ok(th) => pack_below(&r, th),
            Err(_) => pack_below(&r, th),
        };
    }
}

/// Bit `j` set iff uniform `j` of a word's Philox lanes is below `thresholds[j]`.
#[inline(always)]
fn pack_below<T: AsRef<[u32]> + ?Sized>(r: &[[u32; BLOCKS_PER_WORD]; 4], thresholds: &T) -> u64 {
    let mut acc = 0u64;
    for (j, &t) in thresholds.as_ref().iter().enumerate() {
        acc |= ((r[j % 4][j / 4] < t) as u64) << j;
    }
    acc
}

/// The mode genome `x_i = [p_i > 0.5]`, packed.
pub fn mode_genome(p: &[f64]) -> Vec<u64> {
    let mut out = vec![0u64; words_for(p.len())];
    for (i, &pi) in p.iter().enumerate() {
        if pi > 0.5 {
            out[i / 64] |= 1u64 << (i % 64);
        }
    }
    out
}

/// The per-coordinate population reductions of SPEC 4 (computed by a backend).
#[derive(Debug, Clone, PartialEq)]
pub struct Reductions {
    /// `A_i = sum_k u_k x[k][i]`.
    pub a: Vec<f64>,
    /// `B_i = sum_k u_k^2 x[k][i]`.
    pub b: Vec<f64>,
    /// `U1 = sum_k u_k`.
    pub u1: f64,
    /// `U2 = sum_k u_k^2`.
    pub u2: f64,
    /// Number of train members `P`.
    pub population: usize,
}

/// Population reductions straight from unpacked genomes: the plain reference
/// that packed backends are checked against.
///
/// `genomes[k]` is member `k`'s genome and `u[k]` its utility. An empty
/// population gives empty `a`/`b` (there is no genome to take the length from).
///
/// # Panics
/// If `genomes` and `u` differ in length or the genomes differ in length.
pub fn reductions_from_bits<G: AsRef<[bool]>>(genomes: &[G], u: &[f64]) -> Reductions {
    assert_eq!(genomes.len(), u.len(), "one utility per genome");
    let dim = genomes.first().map_or(0, |g| g.as_ref().len());
    let mut a = vec![0.0; dim];
    let mut b = vec![0.0; dim];
    for (genome, &uk) in genomes.iter().zip(u) {
        let genome = genome.as_ref();
        assert_eq!(genome.len(), dim, "all genomes must have the same length");
        let uk2 = uk * uk;
        for ((ai, bi), &x) in a.iter_mut().zip(b.iter_mut()).zip(genome) {
            if x {
                *ai += uk;
                *bi += uk2;
            }
        }
    }
    Reductions {
        a,
        b,
        u1: u.iter().sum(),
        u2: u.iter().map(|x| x * x).sum(),
        population: u.len(),
    }
}

/// `A_i = sum_k u_k x[k][i]` and `B_i = sum_k u_k^2 x[k][i]` over packed genomes stored
/// member-major (`genomes[k * words + w]`). Sums run over `k` in order for every
/// coordinate, so the result does not depend on the thread count.
pub fn reductions(genomes: &[u64], dim: usize, utilities: &[f64]) -> Reductions {
    let words = words_for(dim);
    let pop = utilities.len();
    assert_eq!(genomes.len(), words * pop, "genome storage length");
    let mut a = vec![0.0f64; words * 64];
    let mut b = vec![0.0f64; words * 64];
    a.par_chunks_mut(64)
        .zip(b.par_chunks_mut(64))
        .enumerate()
        .for_each(|(w, (a, b))| {
            for (k, &u) in utilities.iter().enumerate() {
                let u2 = u * u;
                let mut bits = genomes[k * words + w];
                while bits != 0 {
                    let j = bits.trailing_zeros() as usize;
                    a[j] += u;
                    b[j] += u2;
                    bits &= bits - 1;
                }
            }
        });
    a.truncate(dim);
    b.truncate(dim);
    Reductions {
        a,
        b,
        u1: utilities.iter().sum(),
        u2: utilities.iter().map(|u| u * u).sum(),
        population: pop,
    }
}

/// Coordinates `64 * words.start .. min(64 * words.end, D)` of genome words `words`:
/// the part of the reductions one process of several computes.
pub fn coordinates_of_words(words: &std::ops::Range<usize>, dim: usize) -> std::ops::Range<usize> {
    let end = (words.end * 64).min(dim);
    (words.start * 64).min(end)..end
}

/// [`reductions`] of the train genomes `0..utilities.len()` of `(seed, generation)`
/// for the coordinates of genome words `words` only ([`coordinates_of_words`]),
/// sampling just those words of every genome: each coordinate's sums are exactly those
/// of [`reductions`] over whole genomes (the same additions in member order), so the
/// pieces of any split of the words, put together, are bit-identical to one whole
/// reduction. `u1`, `u2` and `population` are the whole population's.
pub fn reductions_of_words(
    thresholds: &[u32],
    seed: u64,
    generation: u32,
    utilities: &[f64],
    words: std::ops::Range<usize>,
) -> Reductions {
    let coords = coordinates_of_words(&words, thresholds.len());
    let n = words.len();
    let mut block = vec![0u64; n * utilities.len()];
    if n > 0 {
        block.par_chunks_mut(n).enumerate().for_each(|(k, out)| {
            sample_words(thresholds, seed, generation, k as u32, words.start, out)
        });
    }
    let mut red = reductions(&block, n * 64, utilities);
    red.a.truncate(coords.len());
    red.b.truncate(coords.len());
    red
}

impl Reductions {
    /// The coordinates of genome words `words` ([`coordinates_of_words`]) of whole
    /// reductions over `a.len()` coordinates.
    pub fn of_words(mut self, words: std::ops::Range<usize>) -> Reductions {
        let coords = coordinates_of_words(&words, self.a.len());
        self.a.truncate(coords.end);
        self.b.truncate(coords.end);
        self.a.drain(..coords.start);
        self.b.drain(..coords.start);
        self
    }
}

/// The scale `2^S` of the 64-bit fixed-point reductions (`shaders/reductions.wgsl`):
/// `S` as large as keeps every partial sum of `|u_k|` and of `u_k^2` below `2^62`, so
/// no sum of any subset of members in any order can overflow, clamped to
/// `[-60, 60]`; `1` when all utilities are zero. The rule of the GPU `Reducer` and of
/// its CPU twin `cpu::reductions`, kept here so both take it from one place.
/// Utilities must be finite.
pub fn fixed_point_scale(utilities: &[f64]) -> f64 {
    let m = utilities
        .iter()
        .map(|u| u.abs())
        .sum::<f64>()
        .max(utilities.iter().map(|u| u * u).sum::<f64>());
    let s = if m > 0.0 {
        (61.0 - m.log2().ceil()).clamp(-60.0, 60.0)
    } else {
        0.0
    };
    2f64.powi(s as i32)
}

/// `u` and `u^2` in fixed point at `scale` (each rounded to the nearest integer), as
/// two's-complement words: what the reductions add per member.
pub fn to_fixed(u: f64, scale: f64) -> [u64; 2] {
    [
        (u * scale).round() as i64 as u64,
        (u * u * scale).round() as i64 as u64,
    ]
}

/// A fixed-point sum back to f64.
pub fn from_fixed(sum: u64, scale: f64) -> f64 {
    sum as i64 as f64 / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_edges() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(1.0), u32::MAX);
        assert_eq!(threshold(0.5), 1 << 31);
        assert_eq!(threshold(1e-3), (1e-3f64 * 4_294_967_296.0).floor() as u32);
    }

    /// Both builds of the sampling (the run-time dispatch, AVX2 on most x86 CPUs, and
    /// the portable one) against the definition bit by bit: word ranges at every offset,
    /// genome lengths around the word size, thresholds at both ends, outputs poisoned.
    #[test]
    fn sample_matches_rng_u32_per_bit() {
        type Sampler = fn(&[u32], u64, u32, u32, usize, &mut [u64]);
        let samplers: [(&str, Sampler); 2] =
            [("dispatch", sample_words), ("portable", sample_words_body)];
        for d in [1, 4, 63, 64, 65, 203, 1000] {
            let th: Vec<u32> = (0..d)
                .map(|i| match i % 11 {
                    0 => 0,
                    1 => u32::MAX,
                    _ => threshold((i as f64 + 0.5) / d as f64),
                })
                .collect();
            let words = words_for(d);
            let (seed, generation, member) = (0xDEAD_BEEF_0000_0063u64 ^ d as u64, 4, 17);
            for (name, sample) in samplers {
                for first in 0..words {
                    let mut g = vec![0xA5A5_A5A5_A5A5_A5A5u64; words - first];
                    sample(&th, seed, generation, member, first, &mut g);
                    for (i, &t) in th.iter().enumerate().skip(first * 64) {
                        let expect = rng::rng_u32(seed, generation, member, i as u32) < t;
                        let got = bit(&g, i - first * 64);
                        assert_eq!(got, expect, "{name}: d {d}, first word {first}, bit {i}");
                    }
                    // Bits past the genome stay zero.
                    if d % 64 != 0 {
                        assert_eq!(g[words - 1 - first] >> (d % 64), 0, "{name}: d {d}");
                    }
                }
            }
        }
    }

    #[test]
    fn reductions_match_direct_sums() {
        let d = 130;
        let pop = 7;
        let th = thresholds(&vec![0.4; d]);
        let words = words_for(d);
        let mut gs = vec![0u64; words * pop];
        for k in 0..pop {
            sample_genome(&th, 1, 0, k as u32, &mut gs[k * words..(k + 1) * words]);
        }
        let u: Vec<f64> = (0..pop).map(|k| k as f64 / 6.0 - 0.5).collect();
        let r = reductions(&gs, d, &u);
        for i in 0..d {
            let mut a = 0.0;
            let mut b = 0.0;
            for k in 0..pop {
                if bit(&gs[k * words..], i) {
                    a += u[k];
                    b += u[k] * u[k];
                }
            }
            assert_eq!(r.a[i], a);
            assert_eq!(r.b[i], b);
        }
        assert_eq!(r.population, pop);
    }

    #[test]
    fn reductions_of_any_split_of_the_words_are_the_whole_bit_for_bit() {
        let (d, pop) = (203, 9);
        let th = thresholds(&(0..d).map(|i| (i % 7) as f64 / 7.0).collect::<Vec<_>>());
        let words = words_for(d);
        let mut gs = vec![0u64; words * pop];
        for (k, g) in gs.chunks_mut(words).enumerate() {
            sample_genome(&th, 5, 3, k as u32, g);
        }
        let u: Vec<f64> = (0..pop).map(|k| (k as f64 * 0.71).sin() / 3.0).collect();
        let whole = reductions(&gs, d, &u);
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for parts in 1..=words + 1 {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for r in 0..parts {
                let share = r * words / parts..(r + 1) * words / parts;
                let coords = coordinates_of_words(&share, d);
                let piece = reductions_of_words(&th, 5, 3, &u, share.clone());
                assert_eq!(
                    piece.a.len(),
                    coords.len(),
                    "{parts} parts, words {share:?}"
                );
                assert_eq!(piece.b.len(), coords.len());
                assert_eq!(
                    (piece.u1, piece.u2, piece.population),
                    (whole.u1, whole.u2, pop)
                );
                assert_eq!(
                    bits(&whole.clone().of_words(share).a),
                    bits(&piece.a),
                    "{parts} parts"
                );
                a.extend(piece.a);
                b.extend(piece.b);
            }
            assert_eq!(bits(&a), bits(&whole.a), "A in {parts} parts");
            assert_eq!(bits(&b), bits(&whole.b), "B in {parts} parts");
        }
    }
}
