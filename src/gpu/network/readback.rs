//! Debug read-backs of [`GpuNetwork`] in the CPU engine's layouts, for the tests that
//! compare every substep with `satr::cpu`.

use super::GpuNetwork;
use crate::evaluation::EngineError;
use crate::gpu::device::read_words;

/// Device state of one member, read back for tests (CPU layouts: spikes as u64 words).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    /// Membrane potentials.
    pub v: Vec<f32>,
    /// Synaptic currents.
    pub i_syn: Vec<f32>,
    /// Output rates.
    pub rate: Vec<f32>,
    /// Input currents of the last env step.
    pub i_in: Vec<f32>,
    /// Signed synaptic counts of the last substep.
    pub counts: Vec<i32>,
    /// Excitatory spikes of the last substep, packed as in `cpu::NetState::z_exc`.
    pub z_exc: Vec<u64>,
    /// Inhibitory spikes, packed as in `cpu::NetState::z_inh`.
    pub z_inh: Vec<u64>,
}

/// Packs u32 spike words into u64 words (little-endian pairs).
fn to_u64_words(words: &[u32], out_len: usize) -> Vec<u64> {
    (0..out_len)
        .map(|i| {
            let lo = words.get(2 * i).copied().unwrap_or(0) as u64;
            let hi = words.get(2 * i + 1).copied().unwrap_or(0) as u64;
            lo | (hi << 32)
        })
        .collect()
}

impl GpuNetwork {
    /// Reads the state of the first `members` members (debug and test path).
    pub fn read_state(&self, members: usize) -> Result<Vec<MemberState>, EngineError> {
        self.check(members)?;
        let sw = self.plan.state_words as usize;
        let words = read_words(&self.ctx, &self.state, 0, (members * sw) as u64)?;
        let s = &self.plan.shape;
        let n = s.neurons;
        let f = |w: &[u32]| -> Vec<f32> { w.iter().map(|&x| f32::from_bits(x)).collect() };
        Ok(words
            .chunks(sw)
            .map(|m| {
                let z = &m[5 * n..];
                let we = self.plan.we as usize;
                MemberState {
                    v: f(&m[..n]),
                    i_syn: f(&m[n..2 * n]),
                    rate: f(&m[2 * n..3 * n]),
                    i_in: f(&m[3 * n..4 * n]),
                    counts: m[4 * n..5 * n].iter().map(|&x| x as i32).collect(),
                    z_exc: to_u64_words(&z[..we], s.n_exc.div_ceil(64)),
                    z_inh: to_u64_words(&z[we..], s.n_inh().div_ceil(64)),
                }
            })
            .collect())
    }

    /// Spike words of every substep of the last traced step: for each member and
    /// substep, `(z_exc, z_inh)` packed as the CPU packs them.
    #[allow(clippy::type_complexity)]
    pub fn read_trace(
        &self,
        members: usize,
    ) -> Result<Vec<Vec<(Vec<u64>, Vec<u64>)>>, EngineError> {
        self.check(members)?;
        if !self.tracing {
            return Err(EngineError::Gpu(
                "network was created without a trace buffer".into(),
            ));
        }
        let s = &self.plan.shape;
        let zw = self.plan.zw() as usize;
        let we = self.plan.we as usize;
        let words = read_words(
            &self.ctx,
            &self.trace,
            0,
            (members * s.substeps * zw) as u64,
        )?;
        Ok(words
            .chunks(s.substeps * zw)
            .map(|m| {
                m.chunks(zw)
                    .map(|z| {
                        (
                            to_u64_words(&z[..we], s.n_exc.div_ceil(64)),
                            to_u64_words(&z[we..], s.n_inh().div_ceil(64)),
                        )
                    })
                    .collect()
            })
            .collect())
    }

    /// Reads the packed nets (debug path).
    pub fn read_nets(&self, members: usize) -> Result<Vec<u32>, EngineError> {
        self.check(members)?;
        read_words(
            &self.ctx,
            &self.nets,
            0,
            (members * self.plan.net_words as usize) as u64,
        )
    }
}
