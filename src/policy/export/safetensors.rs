//! The safetensors layout (docs/EXPORT.md): a file Python reads with the
//! `safetensors` package alone.
//!
//! | tensor | dtype | shape | meaning |
//! |---|---|---|---|
//! | `w_in` | U8 | `[2d, N]` | `W_in[j][n]` (lines `j < d` see `x`, the rest `-x`) |
//! | `w_h` | U8 | `[N, N]` | `W_h[j][n]`, presynaptic `j` |
//! | `w_out` | U8 | `[N, a]` | `W_out[n][k]` |
//! | `sign` | I8 | `[N]` | `sigma_n` |
//! | `obs_mean`, `obs_var` | F64 | `[d]` | the normaliser's statistics |
//! | `action_low`, `action_high` | F64 | `[a]` | continuous tasks only |
//! | `r_in` ... `v_span` | F32 | `[1]` | the f32 constants of SPEC 1 |

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};

use super::{action_bounds, constants, metadata};
use crate::policy::{Policy, PolicyError};

fn error(e: impl std::fmt::Display) -> PolicyError {
    PolicyError::Format {
        format: "safetensors",
        reason: e.to_string(),
    }
}

fn f64_bytes(xs: &[f64]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The file's bytes.
pub fn encode(policy: &Policy) -> Result<Vec<u8>, PolicyError> {
    let s = policy.shape;
    let (d2, n, a) = (2 * s.obs_dim, s.neurons, s.act_dim);
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        (
            "w_in".into(),
            Dtype::U8,
            vec![d2, n],
            (0..d2 * n)
                .map(|i| policy.w_in(i / n, i % n) as u8)
                .collect(),
        ),
        (
            "w_h".into(),
            Dtype::U8,
            vec![n, n],
            (0..n * n).map(|i| policy.w_h(i / n, i % n) as u8).collect(),
        ),
        (
            "w_out".into(),
            Dtype::U8,
            vec![n, a],
            (0..n * a)
                .map(|i| policy.w_out(i / a, i % a) as u8)
                .collect(),
        ),
        (
            "sign".into(),
            Dtype::I8,
            vec![n],
            (0..n).map(|j| policy.sign(j) as u8).collect(),
        ),
        (
            "obs_mean".into(),
            Dtype::F64,
            vec![s.obs_dim],
            f64_bytes(&policy.obs_mean),
        ),
        (
            "obs_var".into(),
            Dtype::F64,
            vec![s.obs_dim],
            f64_bytes(&policy.obs_var),
        ),
    ];
    if let Some((low, high)) = action_bounds(policy) {
        owned.push(("action_low".into(), Dtype::F64, vec![a], f64_bytes(low)));
        owned.push(("action_high".into(), Dtype::F64, vec![a], f64_bytes(high)));
    }
    for (name, value) in constants(policy) {
        owned.push((
            name.into(),
            Dtype::F32,
            vec![1],
            value.to_le_bytes().to_vec(),
        ));
    }
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    let meta: HashMap<String, String> = metadata(policy)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    safetensors::tensor::serialize(views, Some(meta)).map_err(error)
}
