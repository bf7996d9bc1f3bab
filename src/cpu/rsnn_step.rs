//! Twin of `shaders/rsnn_step.wgsl`: host-task mode, one environment step for a batch
//! of members (the shader's workgroups), each with its own packed net, state,
//! observation and outputs. A member whose `alive` flag is zero is left untouched,
//! state and outputs alike, as the shader's early return leaves it.
//!
//! The CPU evaluator does not step in lockstep (it runs each member's episodes out of
//! L1, [`super::CpuEvaluator`]); this batch form exists to compare with the kernel.

use super::{net_step, NetState, PackedNet};
use crate::network::Constants;

/// One environment step of members `0..nets.len()`: observations `obs` (members x d),
/// outputs written to `outputs` (members x a) for the members still alive.
pub fn rsnn_step(
    nets: &[PackedNet],
    c: &Constants,
    obs: &[f32],
    alive: &[u32],
    states: &mut [NetState],
    outputs: &mut [f32],
) {
    let members = nets.len();
    assert!(
        alive.len() == members && states.len() == members,
        "one flag, one state per member"
    );
    for (local, net) in nets.iter().enumerate() {
        if alive[local] == 0 {
            continue;
        }
        let (d, a) = (net.shape.obs_dim, net.shape.act_dim);
        net_step(
            net,
            c,
            &obs[local * d..(local + 1) * d],
            &mut states[local],
            &mut outputs[local * a..(local + 1) * a],
        );
    }
}
