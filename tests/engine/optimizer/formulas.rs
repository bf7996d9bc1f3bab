//! Shaping and the KL, entropy and reduction helpers against direct formulas.

use super::*;

#[test]
fn centred_ranks_average_ties() {
    let u = shape(&[3.0, 1.0, 2.0, 2.0, f64::NAN], Shaping::CenteredRanks);
    // Ranks: NaN 0, 1.0 -> 1, the two 2.0 share (2 + 3) / 2, 3.0 -> 4; u = rank / 4 - 0.5.
    assert_eq!(u, vec![0.5, -0.25, 0.125, 0.125, -0.5]);
    assert_eq!(shape(&[7.0], Shaping::CenteredRanks), vec![0.0]);
    assert!(shape(&[], Shaping::CenteredRanks).is_empty());
    assert_eq!(shape(&[4.0; 5], Shaping::CenteredRanks), vec![0.0; 5]);
    assert_eq!(shape(&[0.0, -0.0], Shaping::CenteredRanks), vec![0.0, 0.0]);
    let raw = [3.5, -1.0, 1e9];
    assert_eq!(shape(&raw, Shaping::None), raw.to_vec());

    let mut rng = SplitMix(8);
    for n in [2usize, 3, 10, 1001] {
        // Few distinct values, so many ties.
        let f: Vec<f64> = (0..n).map(|_| (rng.uniform() * 7.0).floor()).collect();
        let u = shape(&f, Shaping::CenteredRanks);
        assert!(u.iter().all(|x| (-0.5..=0.5).contains(x)));
        assert!(u.iter().sum::<f64>().abs() < 1e-9);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(
                    f[i].partial_cmp(&f[j]),
                    u[i].partial_cmp(&u[j]),
                    "order kept"
                );
            }
        }
    }
    let u = shape(&[1.0, 2.0, 3.0], Shaping::CenteredRanks);
    assert_eq!(u, vec![-0.5, 0.0, 0.5]);
}

#[test]
fn kl_and_entropy_match_direct_formulas() {
    let direct_kl = |p: f64, q: f64| p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln();
    let direct_h = |p: f64| -p * p.ln() - (1.0 - p) * (1.0 - p).ln();
    let mut rng = SplitMix(21);
    let n = 5000;
    let p: Vec<f64> = (0..n)
        .map(|_| 1e-3 + (1.0 - 2e-3) * rng.uniform())
        .collect();
    let q: Vec<f64> = (0..n)
        .map(|_| 1e-3 + (1.0 - 2e-3) * rng.uniform())
        .collect();
    for i in 0..n {
        let (a, b) = (kl_bernoulli(&p[i..=i], &q[i..=i]), direct_kl(p[i], q[i]));
        assert!(
            (a - b).abs() <= 1e-12 + 1e-9 * b,
            "KL({}, {}) = {a} vs {b}",
            p[i],
            q[i]
        );
        let h = mean_entropy(&p[i..=i]);
        assert!((h - direct_h(p[i])).abs() < 1e-14);
    }
    let total: f64 = (0..n).map(|i| direct_kl(p[i], q[i])).sum();
    assert!((kl_bernoulli(&p, &q) - total).abs() < 1e-9 * total);
    let h: f64 = p.iter().map(|&x| direct_h(x)).sum::<f64>() / n as f64;
    assert!((mean_entropy(&p) - h).abs() < 1e-12);

    // Small steps: KL ~ h^2 / (2 p (1 - p)), where the direct formula cancels badly.
    for &(pi, d) in &[(0.3, 1e-9), (0.5, -1e-7), (0.999, -1e-10), (0.01, 3e-6)] {
        let kl = kl_bernoulli(&[pi], &[pi + d]);
        let approx = d * d / (2.0 * pi * (1.0 - pi));
        assert!(
            (kl / approx - 1.0).abs() < 1e-3,
            "p {pi}, h {d}: {kl} vs {approx}"
        );
    }
    // Conventions at the edges.
    assert_eq!(kl_bernoulli(&[0.3], &[0.3]), 0.0);
    assert!((kl_bernoulli(&[0.0], &[0.25]) - (4.0f64 / 3.0).ln()).abs() < 1e-15);
    assert!((kl_bernoulli(&[1.0], &[0.25]) - 4.0f64.ln()).abs() < 1e-15);
    assert_eq!(kl_bernoulli(&[0.2], &[0.0]), f64::INFINITY);
    assert_eq!(kl_bernoulli(&[0.2], &[1.0]), f64::INFINITY);
    assert!((mean_entropy(&[0.5, 0.5]) - 2f64.ln()).abs() < 1e-15);
    assert_eq!(mean_entropy(&[0.0, 1.0]), 0.0);
    assert_eq!(mean_entropy(&[]), 0.0);
    assert_eq!(kl_bernoulli(&[], &[]), 0.0);
}

#[test]
fn reductions_from_bits_match_definitions() {
    let genomes = vec![vec![true, false, true], vec![true, true, false]];
    let u = [0.5, -0.25];
    let r = reductions_from_bits(&genomes, &u);
    assert_eq!(r.a, vec![0.25, -0.25, 0.5]);
    assert_eq!(r.b, vec![0.3125, 0.0625, 0.25]);
    assert_eq!((r.u1, r.u2, r.population), (0.25, 0.3125, 2));
}
