//! The NIR graph (Neuromorphic Intermediate Representation, read by the `nir` Python
//! package and the SNN frameworks and toolchains that import it), written as the HDF5
//! layout `nir.write` produces: a `version` string and a `node` group per node.
//!
//! SPEC 1 as NIR nodes (docs/EXPORT.md has the mapping of the discrete-time update onto
//! NIR's continuous-time definitions, and where other integrators differ):
//!
//! ```text
//! input [d] -> mirror (Linear [I; -I]) -> w_in (Linear, R_in W_in^T) -> lif (LIF)
//! lif -> w_h (Linear, R_h sigma_j W_h^T) -> syn (LI, tau_syn) -> lif      (recurrence)
//! lif -> readout (LI, tau_out, r = sigma_n) -> w_out (Linear, R_out W_out^T) -> output [a]
//! ```
//!
//! The input current enters the membrane directly (SPEC 1 adds `i_in` to the target
//! potential) while recurrent spikes pass the synaptic filter first, so the neuron is a
//! LIF with its synapse as an LI node on the recurrent edge, not a CubaLIF (whose one
//! input would filter `i_in` too; docs/DECISIONS.md).
//!
//! Every parameter is stored as the f64 value of the config (weights as the f32 values
//! satr computes with), and the graph's metadata carries the discretisation (`dt`,
//! `substeps`), the normaliser and the action mapping, so the file alone runs the
//! policy exactly (`python/satr_policy.py`, `SatrPolicy.from_nir`).

use hdf5_pure::{FileBuilder, GroupBuilder};

use super::{action_bounds, constants, metadata};
use crate::policy::{Policy, PolicyError};

/// The `nir` package version whose layout this writes (`version` of the file).
pub const NIR_VERSION: &str = "1.0.8";

fn string(g: &mut GroupBuilder, name: &str, value: &str) {
    g.create_dataset(name)
        .with_vlen_strings(&[value])
        .with_shape(&[]);
}

fn node(parent: &mut GroupBuilder, name: &str, kind: &str, fill: impl FnOnce(&mut GroupBuilder)) {
    let mut g = parent.create_group(name);
    string(&mut g, "type", kind);
    fill(&mut g);
    parent.add_group(g.finish());
}

fn array(g: &mut GroupBuilder, name: &str, values: &[f64]) {
    g.create_dataset(name).with_f64_data(values);
}

fn matrix(g: &mut GroupBuilder, name: &str, rows: usize, cols: usize, values: &[f32]) {
    g.create_dataset(name)
        .with_f32_data(values)
        .with_shape(&[rows as u64, cols as u64]);
}

/// The file's bytes.
pub fn encode(policy: &Policy) -> Result<Vec<u8>, PolicyError> {
    let s = policy.shape;
    let net = &policy.network;
    let c = &policy.constants;
    let (d, n, a) = (s.obs_dim, s.neurons, s.act_dim);
    let full = |v: f64| vec![v; n];
    let signs: Vec<f64> = (0..n).map(|j| policy.sign(j) as f64).collect();

    let mut file = FileBuilder::new();
    file.create_dataset("version")
        .with_vlen_strings(&[NIR_VERSION])
        .with_shape(&[]);
    let mut graph = file.create_group("node");
    string(&mut graph, "type", "NIRGraph");
    let mut nodes = graph.create_group("nodes");
    node(&mut nodes, "input", "Input", |g| {
        g.create_dataset("shape").with_i64_data(&[d as i64]);
    });
    node(&mut nodes, "mirror", "Linear", |g| {
        let w: Vec<f32> = (0..2 * d * d)
            .map(|i| {
                let (row, col) = (i / d, i % d);
                match (row < d, row % d == col) {
                    (true, true) => 1.0,
                    (false, true) => -1.0,
                    _ => 0.0,
                }
            })
            .collect();
        matrix(g, "weight", 2 * d, d, &w);
    });
    node(&mut nodes, "w_in", "Linear", |g| {
        let w: Vec<f32> = (0..n * 2 * d)
            .map(|i| {
                if policy.w_in(i % (2 * d), i / (2 * d)) {
                    c.r_in
                } else {
                    0.0
                }
            })
            .collect();
        matrix(g, "weight", n, 2 * d, &w);
    });
    node(&mut nodes, "lif", "LIF", |g| {
        array(g, "tau", &full(net.tau_v));
        array(g, "r", &full(1.0));
        array(g, "v_leak", &full(net.v_reset));
        array(g, "v_threshold", &full(net.v_threshold));
        array(g, "v_reset", &full(net.v_reset));
    });
    node(&mut nodes, "w_h", "Linear", |g| {
        let w: Vec<f32> = (0..n * n)
            .map(|i| {
                let (post, pre) = (i / n, i % n);
                if policy.w_h(pre, post) {
                    c.r_h * policy.sign(pre) as f32
                } else {
                    0.0
                }
            })
            .collect();
        matrix(g, "weight", n, n, &w);
    });
    node(&mut nodes, "syn", "LI", |g| {
        array(g, "tau", &full(net.tau_syn));
        array(g, "r", &full(net.tau_syn));
        array(g, "v_leak", &full(0.0));
    });
    node(&mut nodes, "readout", "LI", |g| {
        array(g, "tau", &full(net.tau_out));
        array(g, "r", &signs);
        array(g, "v_leak", &full(0.0));
    });
    node(&mut nodes, "w_out", "Linear", |g| {
        let w: Vec<f32> = (0..a * n)
            .map(|i| {
                if policy.w_out(i % n, i / n) {
                    c.r_out
                } else {
                    0.0
                }
            })
            .collect();
        matrix(g, "weight", a, n, &w);
    });
    node(&mut nodes, "output", "Output", |g| {
        g.create_dataset("shape").with_i64_data(&[a as i64]);
    });
    graph.add_group(nodes.finish());
    let edges = [
        "input", "mirror", "mirror", "w_in", "w_in", "lif", "lif", "w_h", "w_h", "syn", "syn",
        "lif", "lif", "readout", "readout", "w_out", "w_out", "output",
    ];
    graph
        .create_dataset("edges")
        .with_vlen_strings(&edges)
        .with_shape(&[(edges.len() / 2) as u64, 2]);

    let mut meta = graph.create_group("metadata");
    for (k, v) in metadata(policy) {
        string(&mut meta, k, &v);
    }
    array(&mut meta, "obs_mean", &policy.obs_mean);
    array(&mut meta, "obs_var", &policy.obs_var);
    if let Some((low, high)) = action_bounds(policy) {
        array(&mut meta, "action_low", low);
        array(&mut meta, "action_high", high);
    }
    for (k, v) in constants(policy) {
        meta.create_dataset(k).with_f32_data(&[v]).with_shape(&[]);
    }
    graph.add_group(meta.finish());
    file.add_group(graph.finish());
    file.finish().map_err(|e| PolicyError::Format {
        format: "nir",
        reason: e.to_string(),
    })
}
