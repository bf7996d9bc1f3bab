// Repacks each member's genome (SPEC order, row-major blocks) into the layouts the
// network kernels read, once per generation chunk, so the per-substep loops run
// over unit-stride words. One invocation per (member, net word). Layout per member
// (u32 words), matching cpu::PackedNet with 32-bit words:
//   w_in  [2d][NW]   bit n of row j      = W_in[j][n]
//   h_exc [WE][N]    bit b of word [w][n] = W_h[32w + b][n]
//   h_inh [WI][N]    bit b of word [w][n] = W_h[N_EXC + 32w + b][n]
//   w_out [A][NW]    bit n of row k      = W_out[n][k]
// Header consts: N, N_EXC, D_OBS, A_OUT, WG and the derived sizes.

// Mirrors `satr::gpu::plan::UnpackParams` (16 bytes).
struct UnpackParams {
    members: u32,
    // u32 words per genome.
    genome_words: u32,
    grid_x: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: UnpackParams;
@group(0) @binding(1) var<storage, read> genomes: array<u32>;
@group(0) @binding(2) var<storage, read_write> nets: array<u32>;

fn genome_bit(base: u32, i: u32) -> u32 {
    return (genomes[base + (i >> 5u)] >> (i & 31u)) & 1u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = group_index(wid, params.grid_x) * WG + lid;
    if (t >= params.members * NET_WORDS) {
        return;
    }
    let m = t / NET_WORDS;
    let r = t % NET_WORDS;
    let g = m * params.genome_words;
    var acc = 0u;
    if (r < OFF_H_EXC) {
        let j = r / NW;
        let q = r % NW;
        for (var b = 0u; b < 32u; b++) {
            let n = 32u * q + b;
            if (n < N) {
                acc |= genome_bit(g, j * N + n) << b;
            }
        }
    } else if (r < OFF_H_INH) {
        let w = (r - OFF_H_EXC) / N;
        let n = (r - OFF_H_EXC) % N;
        for (var b = 0u; b < 32u; b++) {
            let pre = 32u * w + b;
            if (pre < N_EXC) {
                acc |= genome_bit(g, GENOME_H + pre * N + n) << b;
            }
        }
    } else if (r < OFF_W_OUT) {
        let w = (r - OFF_H_INH) / N;
        let n = (r - OFF_H_INH) % N;
        for (var b = 0u; b < 32u; b++) {
            let pre = N_EXC + 32u * w + b;
            if (pre < N) {
                acc |= genome_bit(g, GENOME_H + pre * N + n) << b;
            }
        }
    } else {
        let k = (r - OFF_W_OUT) / NW;
        let q = (r - OFF_W_OUT) % NW;
        for (var b = 0u; b < 32u; b++) {
            let n = 32u * q + b;
            if (n < N) {
                acc |= genome_bit(g, GENOME_OUT + n * A_OUT + k) << b;
            }
        }
    }
    nets[t] = acc;
}
