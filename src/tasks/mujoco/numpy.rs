//! NumPy's arithmetic where Gymnasium's results depend on it: pairwise summation and
//! the normal distribution of reset noise.

/// NumPy's float64 `sum` of a contiguous array: pairwise, with eight accumulators below
/// 128 elements, so sums of squares round exactly as Gymnasium's do.
pub(super) fn numpy_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        // NumPy starts from -0.0 here, which only matters for an all -0.0 input.
        values.iter().fold(-0.0, |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let mut i = 8;
        while i + 8 <= n {
            for (k, acc) in r.iter_mut().enumerate() {
                *acc += values[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &values[i..] {
            s += v;
        }
        s
    } else {
        let half = (n / 2) / 8 * 8;
        numpy_sum(&values[..half]) + numpy_sum(&values[half..])
    }
}

pub(super) fn sum_of_squares(values: impl Iterator<Item = f64>, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(values.map(|v| v * v));
    numpy_sum(scratch)
}

/// A standard normal sample from two uniforms (Box-Muller): same distribution as NumPy's
/// `standard_normal`, not the same numbers, which no caller depends on.
pub(super) fn standard_normal(uniform: &mut dyn FnMut() -> f64) -> f64 {
    let u1 = uniform();
    let u2 = uniform();
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairwise order differs from a left fold; these inputs show where.
    #[test]
    fn numpy_sum_matches_pairwise_order() {
        let v: Vec<f64> = (0..20).map(|i| 1.0 + (i as f64) * 1e-16).collect();
        let mut r = [0.0; 8];
        r.copy_from_slice(&v[..8]);
        for k in 0..8 {
            r[k] += v[8 + k];
        }
        let expect = ((r[0] + r[1]) + (r[2] + r[3]))
            + ((r[4] + r[5]) + (r[6] + r[7]))
            + v[16]
            + v[17]
            + v[18]
            + v[19];
        assert_eq!(numpy_sum(&v).to_bits(), expect.to_bits());
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        let long: Vec<f64> = (0..300).map(|i| i as f64).collect();
        assert_eq!(numpy_sum(&long), (0..300).sum::<i32>() as f64);
    }
}
