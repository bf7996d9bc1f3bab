// The population reductions of SPEC 4, A_i = sum_k u_k x[k][i] and
// B_i = sum_k u_k^2 x[k][i], in 64-bit two's-complement fixed point (u32 pairs
// with carry): integer sums are exact and associative, so the result does not
// depend on member order, chunking or the device. The host scales u_k and u_k^2 by
// 2^S (chosen so no partial sum can overflow) and converts back to f64.
// One invocation per coordinate; each dispatch adds one chunk of members into
// the accumulators. Header consts: WG.

// Mirrors `satr::gpu::plan::ReduceParams` (16 bytes).
struct ReduceParams {
    // Genome length D in bits.
    dim: u32,
    // u32 words per genome.
    words: u32,
    // Members in this chunk.
    members: u32,
    grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
// members x words, as written by sample_genomes.
@group(0) @binding(1) var<storage, read> genomes: array<u32>;
// Per member: u_k (lo, hi), u_k^2 (lo, hi) in fixed point.
@group(0) @binding(2) var<storage, read> utilities: array<vec4<u32>>;
// Per coordinate: A (lo, hi), B (lo, hi); accumulated across chunks.
@group(0) @binding(3) var<storage, read_write> sums: array<vec4<u32>>;

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    let carry = select(0u, 1u, lo < a.x);
    return vec2<u32>(lo, a.y + b.y + carry);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = group_index(wid, params.grid_x) * WG + lid;
    if (i >= params.dim) {
        return;
    }
    let word = i >> 5u;
    let shift = i & 31u;
    let prev = sums[i];
    var a = prev.xy;
    var b = prev.zw;
    for (var k = 0u; k < params.members; k++) {
        if (((genomes[k * params.words + word] >> shift) & 1u) == 1u) {
            let u = utilities[k];
            a = add64(a, u.xy);
            b = add64(b, u.zw);
        }
    }
    sums[i] = vec4<u32>(a, b);
}
