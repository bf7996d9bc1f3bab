//! Philox-4x32-10 (Salmon et al., SC'11), the counter-based generator behind every
//! random draw in satr (SPEC 3).
//!
//! Written with u32 arithmetic only (the 32x32->64 multiply is split into 16-bit
//! halves) so that `shaders/common.wgsl` computes the same function line by line:
//! the same seed gives the same bits on every backend.

/// Philox multipliers and Weyl key increments (Random123's published constants).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Stream tags (the 4th counter word, low 2 bits). Episode numbers live in the rest of
/// the word, so every episode of every member draws from its own sequence.
pub const STREAM_GENOME: u32 = 0;
/// Initial membrane potentials (SPEC 1).
pub const STREAM_POTENTIAL: u32 = 1;
/// Task resets (initial environment state).
pub const STREAM_RESET: u32 = 2;

/// High and low 32-bit halves of the 64-bit product `a * b`, in u32 arithmetic.
#[inline(always)]
pub fn mul_hi_lo(a: u32, b: u32) -> (u32, u32) {
    let (a_lo, a_hi) = (a & 0xFFFF, a >> 16);
    let (b_lo, b_hi) = (b & 0xFFFF, b >> 16);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    // Middle column: at most 3 * (2^16 - 1) fits in u32 without wrapping.
    let mid = (ll >> 16) + (lh & 0xFFFF) + (hl & 0xFFFF);
    let hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16);
    let lo = (mid << 16) | (ll & 0xFFFF);
    (hi, lo)
}

/// Philox-4x32 with 10 rounds: a bijection of the counter under the key.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mul_hi_lo(M0, c[0]);
        let (hi1, lo1) = mul_hi_lo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// [`philox4x32_10`] of `L` counters at once, held word-major (`c[word][lane]`) so that
/// the rounds vectorise: the hot path of genome sampling (a test checks it against the
/// plain function lane by lane).
#[inline(always)]
pub fn philox4x32_10_lanes<const L: usize>(mut c: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        // Lane `l` of all four words at once: indexing keeps the words apart, so the
        // loop vectorises across lanes.
        #[allow(clippy::needless_range_loop)]
        for l in 0..L {
            let p0 = M0 as u64 * c[0][l] as u64;
            let p1 = M1 as u64 * c[2][l] as u64;
            c[0][l] = (p1 >> 32) as u32 ^ c[1][l] ^ k[0];
            c[1][l] = p1 as u32;
            c[2][l] = (p0 >> 32) as u32 ^ c[3][l] ^ k[1];
            c[3][l] = p0 as u32;
        }
    }
    c
}

/// The Philox key of a run seed.
#[inline]
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The stream word for `tag` (one of the `STREAM_*` constants) and an episode index.
#[inline]
pub fn stream_word(tag: u32, episode: u32) -> u32 {
    tag | (episode << 2)
}

/// Four words of stream `stream` for `member` of `generation`: counter
/// `[block, member, generation, stream]`, key = the seed.
#[inline]
pub fn block(seed: u64, generation: u32, member: u32, stream: u32, block: u32) -> [u32; 4] {
    philox4x32_10([block, member, generation, stream], seed_key(seed))
}

/// `rng_u32(s, g, k, i)` of SPEC 3: the word that decides genome bit `i` of member `k`.
#[inline]
pub fn rng_u32(seed: u64, generation: u32, member: u32, index: u32) -> u32 {
    block(seed, generation, member, STREAM_GENOME, index >> 2)[(index & 3) as usize]
}

/// A uniform f32 in [0, 1) from the top 24 bits of a word (exact in f32, identical on GPU).
#[inline]
pub fn unit_f32(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A uniform f64 in [0, 1) from a whole word.
#[inline]
pub fn unit_f64(word: u32) -> f64 {
    word as f64 * (1.0 / 4_294_967_296.0)
}

/// Sequential reader over one stream: word `j` is word `j % 4` of block `j / 4`.
#[derive(Debug, Clone)]
pub struct StreamReader {
    seed: u64,
    generation: u32,
    member: u32,
    stream: u32,
    next: u32,
    cache: [u32; 4],
}

impl StreamReader {
    /// Starts at word 0 of the given stream.
    pub fn new(seed: u64, generation: u32, member: u32, stream: u32) -> Self {
        StreamReader {
            seed,
            generation,
            member,
            stream,
            next: 0,
            cache: [0; 4],
        }
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        let j = self.next;
        if j & 3 == 0 {
            self.cache = block(self.seed, self.generation, self.member, self.stream, j >> 2);
        }
        self.next += 1;
        self.cache[(j & 3) as usize]
    }

    /// The next uniform f64 in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        unit_f64(self.next_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random123_known_answers() {
        // Random123's tests/kat_vectors for philox4x32_10.
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn mul_hi_lo_matches_u64_product() {
        let mut x = 0x1234_5678u32;
        for _ in 0..10_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let y = x.rotate_left(13) ^ 0xDEAD_BEEF;
            let wide = x as u64 * y as u64;
            assert_eq!(mul_hi_lo(x, y), ((wide >> 32) as u32, wide as u32));
        }
        assert_eq!(mul_hi_lo(u32::MAX, u32::MAX), (0xFFFF_FFFE, 1));
    }

    #[test]
    fn lanes_variant_is_the_same_function_in_every_lane() {
        fn check<const L: usize>(mut x: u32) {
            for _ in 0..500 {
                let xs: [u32; L] = std::array::from_fn(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    x
                });
                let c = [
                    xs,
                    xs.map(|x| x.rotate_left(7)),
                    xs.map(|x| x ^ 0x5555_5555),
                    xs.map(|x| x.wrapping_mul(3)),
                ];
                let key = [x.rotate_right(3), !x];
                let r = philox4x32_10_lanes(c, key);
                for l in 0..L {
                    let plain = philox4x32_10([c[0][l], c[1][l], c[2][l], c[3][l]], key);
                    assert_eq!([r[0][l], r[1][l], r[2][l], r[3][l]], plain, "lane {l}");
                }
            }
        }
        check::<16>(0x9E37_79B9);
        check::<3>(0x2545_F491);
        check::<1>(7);
    }

    #[test]
    fn stream_reader_matches_blocks() {
        let mut r = StreamReader::new(7, 3, 5, stream_word(STREAM_RESET, 2));
        let words: Vec<u32> = (0..9).map(|_| r.next_u32()).collect();
        for (j, w) in words.iter().enumerate() {
            let b = block(7, 3, 5, stream_word(STREAM_RESET, 2), j as u32 / 4);
            assert_eq!(*w, b[j % 4]);
        }
    }

    #[test]
    fn unit_ranges() {
        assert_eq!(unit_f32(0), 0.0);
        assert!(unit_f32(u32::MAX) < 1.0);
        assert!(unit_f64(u32::MAX) < 1.0);
    }
}
