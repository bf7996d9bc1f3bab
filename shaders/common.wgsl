// Shared by every satr kernel; the host prepends a generated header of `const`s
// (shape and workgroup size) and then this file to each kernel's own source.

// Mirrors `satr::network::Constants` (src/network.rs): same fields, same order, all
// 4-byte scalars, 48 bytes. A layout test on the host checks size and offsets.
struct Constants {
    r_in: f32,
    r_h: f32,
    r_out: f32,
    alpha_syn: f32,
    alpha_v: f32,
    alpha_out: f32,
    v_reset: f32,
    v_threshold: f32,
    spike_rate: f32,
    v_span: f32,
    // Always 0.0 (Constants::new): its bits are the opaque zero of `rounded`.
    _pad0: f32,
    _pad1: f32,
}

// Mirrors `satr::gpu::plan::NetParams`: the per-dispatch uniform of the network
// kernels (reset_state, rsnn_step). 80 bytes.
struct NetParams {
    c: Constants,
    // Members in this dispatch (one workgroup each).
    members: u32,
    // Global index of the dispatch's first member: the member index of the RNG streams.
    member_offset: u32,
    // Workgroups along x of the 2-D grid (a grid is 2-D once it passes 65535).
    grid_x: u32,
    // Bit 0: record every substep's spike words into the trace buffer.
    flags: u32,
    seed_lo: u32,
    seed_hi: u32,
    generation: u32,
    episode: u32,
}

// Philox-4x32-10, written exactly like src/rng.rs (u32 arithmetic only, so the
// same words come out on every backend).
const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Stream tags of src/rng.rs (low 2 bits of the 4th counter word).
const STREAM_GENOME: u32 = 0u;
const STREAM_POTENTIAL: u32 = 1u;
const STREAM_RESET: u32 = 2u;

// High and low halves of the 64-bit product, through 16-bit halves as on the CPU.
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    let lo = (mid << 16u) | (ll & 0xFFFFu);
    return vec2<u32>(hi, lo);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k.x = k.x + PHILOX_W0;
            k.y = k.y + PHILOX_W1;
        }
        let p0 = mul_hi_lo(PHILOX_M0, c.x);
        let p1 = mul_hi_lo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

fn stream_word(tag: u32, episode: u32) -> u32 {
    return tag | (episode << 2u);
}

// Uniform in [0, 1) from the top 24 bits: exact in f32, as rng::unit_f32.
fn unit_f32(word: u32) -> f32 {
    return f32(word >> 8u) * (1.0 / 16777216.0);
}

// Keeps a product from being fused into a following add (FMA). WGSL has no
// `precise`, and drivers may contract `a * b + c` (NVIDIA's do; lavapipe 22.3 was
// measured not to), while the CPU engine rounds the product first. Or-ing the bits
// with a value the compiler cannot see (`zero`, a uniform that is always 0) makes the
// product opaque, so it is rounded to f32 on its own, exactly as on the CPU.
fn rounded(x: f32, zero: u32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) | zero);
}

// SPEC 1: a state value that is subnormal (exponent bits all zero) is stored as +0, on
// every backend: drivers differ on subnormals, and CPUs run them slowly.
fn flushed(x: f32) -> f32 {
    return select(x, 0.0, (bitcast<u32>(x) & 0x7f800000u) == 0u);
}

// Linear index of a workgroup in a 2-D grid of `grid_x` columns.
fn group_index(wid: vec3<u32>, grid_x: u32) -> u32 {
    return wid.y * grid_x + wid.x;
}
