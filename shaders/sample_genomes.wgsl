// Genome sampling (SPEC 3), the GPU twin of cpu::sample_genomes: one
// invocation per (member, u32 word). Word w of a member holds genome bits
// 32w..32w+31 (little-endian view of the CPU's u64 words); bits past the genome
// length are zero. Members at or past `population` are eval members: they copy the
// mode genome. Header consts: WG.

// Mirrors `satr::gpu::plan::SampleParams` (48 bytes).
struct SampleParams {
    seed_lo: u32,
    seed_hi: u32,
    generation: u32,
    // Genome length D in bits.
    dim: u32,
    // u32 words per member: 2 * ceil(D / 64), the CPU's u64 word count.
    words: u32,
    // Train members P; global member indices >= P take the mode genome.
    population: u32,
    // Global index of this dispatch's first member.
    member_offset: u32,
    // Members in this dispatch.
    members: u32,
    grid_x: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: SampleParams;
// threshold(p_i) of SPEC 3, one per coordinate.
@group(0) @binding(1) var<storage, read> thresholds: array<u32>;
// The mode genome, `words` words.
@group(0) @binding(2) var<storage, read> mode: array<u32>;
// members x words.
@group(0) @binding(3) var<storage, read_write> genomes: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let t = group_index(wid, params.grid_x) * WG + lid;
    if (t >= params.members * params.words) {
        return;
    }
    let local = t / params.words;
    let w = t % params.words;
    let member = params.member_offset + local;
    if (member >= params.population) {
        genomes[t] = mode[w];
        return;
    }
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    var acc = 0u;
    let base = w * 32u;
    for (var q = 0u; q < 8u; q++) {
        let i = base + 4u * q;
        if (i >= params.dim) {
            break;
        }
        let r = philox4x32_10(vec4<u32>(i >> 2u, member, params.generation, STREAM_GENOME), key);
        for (var lane = 0u; lane < 4u; lane++) {
            let j = i + lane;
            if (j < params.dim && r[lane] < thresholds[j]) {
                acc |= 1u << (4u * q + lane);
            }
        }
    }
    genomes[t] = acc;
}
