//! How members are shared out over ranks, and their outcomes' bit-exact wire form.

use std::ops::Range;

use crate::evaluation::{MemberOutcome, ObsStats};

/// The members rank `rank` of `size` evaluates: contiguous slices in rank order that
/// cover `0..total` exactly once; the first `total % size` ranks get one extra, and
/// ranks past `total` get an empty range.
pub fn share(total: usize, rank: usize, size: usize) -> Range<usize> {
    assert!(size > 0 && rank < size, "rank {rank} of {size}");
    let base = total / size;
    let extra = total % size;
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// `u64` words one member's outcome takes on the wire.
pub fn words_per_member(obs_dim: usize) -> usize {
    3 + 2 * obs_dim
}

/// Appends outcomes as raw bits (fitness, steps, count, mean, m2): bit-exact, unlike
/// any text or reduced form.
pub fn encode(outcomes: &[MemberOutcome], obs_dim: usize, out: &mut Vec<u64>) {
    for o in outcomes {
        assert!(
            o.obs_stats.mean.len() == obs_dim && o.obs_stats.m2.len() == obs_dim,
            "member outcome has {} observation dimensions, expected {obs_dim}",
            o.obs_stats.mean.len()
        );
        out.push(o.fitness.to_bits());
        out.push(o.env_steps);
        out.push(o.obs_stats.count);
        out.extend(o.obs_stats.mean.iter().map(|x| x.to_bits()));
        out.extend(o.obs_stats.m2.iter().map(|x| x.to_bits()));
    }
}

/// Inverse of [`encode`].
pub fn decode(words: &[u64], obs_dim: usize) -> Vec<MemberOutcome> {
    let w = words_per_member(obs_dim);
    assert!(words.len().is_multiple_of(w), "truncated outcome payload");
    words
        .chunks_exact(w)
        .map(|c| {
            let floats = |s: &[u64]| s.iter().map(|&b| f64::from_bits(b)).collect();
            MemberOutcome {
                fitness: f64::from_bits(c[0]),
                env_steps: c[1],
                obs_stats: ObsStats {
                    count: c[2],
                    mean: floats(&c[3..3 + obs_dim]),
                    m2: floats(&c[3 + obs_dim..]),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_exactly_once_in_order() {
        for total in 0..40 {
            for size in 1..12 {
                let mut next = 0;
                let mut lens = Vec::new();
                for rank in 0..size {
                    let r = share(total, rank, size);
                    assert_eq!(r.start, next, "total {total} size {size} rank {rank}");
                    assert!(r.end >= r.start);
                    next = r.end;
                    lens.push(r.len());
                }
                assert_eq!(next, total, "total {total} size {size}");
                let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(hi - lo <= 1, "balanced: {lens:?}");
            }
        }
    }

    #[test]
    fn fewer_members_than_ranks_leaves_empty_shares() {
        assert_eq!(share(2, 0, 3), 0..1);
        assert_eq!(share(2, 1, 3), 1..2);
        assert_eq!(share(2, 2, 3), 2..2);
        assert_eq!(share(0, 1, 2), 0..0);
        assert_eq!(share(7, 2, 3), 5..7);
    }

    #[test]
    fn encoding_round_trips_bits() {
        let outcomes = vec![
            MemberOutcome {
                fitness: -0.0,
                env_steps: u64::MAX,
                obs_stats: ObsStats {
                    count: 3,
                    mean: vec![f64::NAN, 1e-310],
                    m2: vec![f64::INFINITY, -2.5],
                },
            },
            MemberOutcome {
                fitness: 0.1 + 0.2,
                env_steps: 0,
                obs_stats: ObsStats::new(2),
            },
        ];
        let mut words = Vec::new();
        encode(&outcomes, 2, &mut words);
        assert_eq!(words.len(), 2 * words_per_member(2));
        let back = decode(&words, 2);
        let bits = |o: &[MemberOutcome]| -> Vec<u64> {
            let mut w = Vec::new();
            encode(o, 2, &mut w);
            w
        };
        assert_eq!(bits(&back), words);
        assert_eq!(back[1], outcomes[1]);
        assert_eq!(back[0].fitness.to_bits(), (-0.0f64).to_bits());
    }
}
