//! Resets from the same uniforms and mean episode returns under a fixed linear policy,
//! the WGSL tasks against the CPU tasks.

use super::*;

/// The reset uniforms of `member` (episode 0 of generation 0), as the CPU draws them
/// (`next_f64`) and as f32 for the GPU: with `exact_f32`, the top 24 bits of each word
/// (`rng::unit_f32`, what a kernel computes exactly as `f32(word >> 8u) * 0x1p-24`);
/// otherwise the f64 value rounded to f32 and kept below 1.
fn reset_uniforms(
    seed: u64,
    member: u32,
    exact_f32: bool,
) -> (Vec<f64>, [f32; RESET_UNIFORMS_LEN]) {
    let mut reader = StreamReader::new(seed, 0, member, stream_word(STREAM_RESET, 0));
    let words: Vec<u32> = (0..RESET_UNIFORMS_LEN).map(|_| reader.next_u32()).collect();
    let below_one = f32::from_bits(0x3F7F_FFFF);
    let mut u32s = [0.0f32; RESET_UNIFORMS_LEN];
    for (d, &w) in u32s.iter_mut().zip(&words) {
        *d = if exact_f32 {
            unit_f32(w)
        } else {
            (unit_f64(w) as f32).min(below_one)
        };
    }
    (words.into_iter().map(unit_f64).collect(), u32s)
}

/// A CPU task reset from the given uniforms.
fn cpu_reset(name: &str, u: &[f64]) -> Box<dyn Task> {
    let mut task = make_task(name).unwrap();
    let mut it = u.iter();
    task.reset(&mut || *it.next().expect("reset drew more than 8 uniforms"));
    task
}

#[test]
fn resets_match_the_cpu_tasks() {
    let Some(ctx) = context() else { return };
    for f in TASKS {
        let name = f.name;
        let kernels = TaskKernels::new(&ctx, name).unwrap();
        let layout = kernels.layout();
        let mut cpu_u = Vec::new();
        let mut gpu_u = Vec::new();
        for m in 0..BATCH as u32 {
            let (u64s, u32s) = match m {
                // The extremes of the uniform range.
                0 => (vec![0.0; 8], [0.0; 8]),
                1 => {
                    let top = u32::MAX as f64 / 4_294_967_296.0;
                    (vec![top; 8], [f32::from_bits(0x3F7F_FFFF); 8])
                }
                _ => reset_uniforms(17, m, m % 2 == 1),
            };
            cpu_u.push(u64s);
            gpu_u.push(u32s);
        }
        let got = kernels.reset(&gpu_u).unwrap();
        let mut obs = vec![0.0; layout.obs_dim];
        let mut worst: f64 = 0.0;
        for (i, u) in cpu_u.iter().enumerate() {
            let cpu = cpu_reset(name, u);
            let g = &got.states[i];
            assert_eq!((g.steps, g.flags), (0, 0), "{name} #{i}");
            assert_eq!(got.results[i].terminated, 0, "{name} #{i}");
            let post = cpu.state();
            for (k, bound) in f.reset_bounds().into_iter().enumerate() {
                // f32 rounding: the uniform's (up to 2^-24 of the range) and two
                // operations' (half an ulp each): within 2 ulps of the bound, allow 4.
                let allowed = 4.0 * f32::EPSILON as f64 * bound;
                let err = (g.s[k] as f64 - post[k]).abs();
                if allowed > 0.0 {
                    worst = worst.max(err / allowed);
                }
                assert!(
                    err <= allowed,
                    "{name} #{i} state[{k}]: gpu {} cpu {}",
                    g.s[k],
                    post[k]
                );
            }
            cpu.observe(&mut obs);
            for (k, &scale) in f.obs_scales.iter().enumerate() {
                let gv = got.obs[i * layout.obs_dim + k] as f64;
                let allowed = REL * obs[k].abs() + ABS_OF_SCALE * scale;
                assert!(
                    (gv - obs[k]).abs() <= allowed,
                    "{name} #{i} obs[{k}]: gpu {gv} cpu {}",
                    obs[k]
                );
            }
        }
        eprintln!("{name}: resets, worst error / (4 f32 ulps of the bound) {worst:.3}");
    }
}

/// One CPU episode (f64) under the linear policy (its outputs rounded to f32, as a
/// network's are); returns the return and the number of steps.
fn cpu_episode(name: &str, u: &[f64], w: &[f32], layout: &TaskLayout) -> (f64, usize) {
    let mut task = cpu_reset(name, u);
    let space: ActionSpace = task.action_space();
    let mut obs = vec![0.0; layout.obs_dim];
    let mut out = vec![0.0f32; layout.act_dim];
    let mut buf = Vec::new();
    let mut ret = 0.0;
    for n in 1.. {
        task.observe(&mut obs);
        for (k, o) in out.iter_mut().enumerate() {
            let row = &w[k * (layout.obs_dim + 1)..][..layout.obs_dim + 1];
            let acc: f64 = row[..layout.obs_dim]
                .iter()
                .zip(&obs)
                .map(|(&wj, &oj)| wj as f64 * oj)
                .sum();
            *o = (acc + row[layout.obs_dim] as f64) as f32;
        }
        let step = task
            .step(action_from_output(&space, &out, &mut buf))
            .unwrap();
        ret += step.reward;
        if step.terminated || step.truncated {
            return (ret, n);
        }
    }
    unreachable!()
}

#[test]
fn mean_returns_match_the_cpu_tasks() {
    let Some(ctx) = context() else { return };
    for f in TASKS {
        let name = f.name;
        let kernels = TaskKernels::new(&ctx, name).unwrap();
        let layout = kernels.layout();
        let w = f.policy;
        let starts: Vec<_> = (0..EPISODES as u32)
            .map(|m| reset_uniforms(99, m, false))
            .collect();
        let gpu_u: Vec<_> = starts.iter().map(|(_, g)| *g).collect();
        let got = kernels.episodes(&gpu_u, w).unwrap();
        let (mut cpu_sum, mut gpu_sum) = (0.0, 0.0);
        let (mut cpu_steps, mut gpu_steps) = (0usize, 0usize);
        let mut same_length = 0;
        for (i, (u, _)) in starts.iter().enumerate() {
            let (ret, n) = cpu_episode(name, u, w, &layout);
            let r = got.results[i];
            assert!(
                r.steps >= 1 && r.steps <= layout.max_steps,
                "{name} #{i}: {r:?}"
            );
            assert!(r.terminated == 1 || r.truncated == 1, "{name} #{i}: {r:?}");
            assert_eq!(got.states[i].steps, r.steps, "{name} #{i}");
            cpu_sum += ret;
            gpu_sum += r.reward as f64;
            cpu_steps += n;
            gpu_steps += r.steps as usize;
            same_length += (n == r.steps as usize) as usize;
        }
        let (cpu_mean, gpu_mean) = (cpu_sum / EPISODES as f64, gpu_sum / EPISODES as f64);
        let rel = (gpu_mean - cpu_mean).abs() / cpu_mean.abs();
        eprintln!(
            "{name}: mean return gpu {gpu_mean:.4} cpu {cpu_mean:.4} (relative difference \
             {rel:.2e}); mean length gpu {:.2} cpu {:.2}; {same_length} of {EPISODES} \
             episodes of equal length",
            gpu_steps as f64 / EPISODES as f64,
            cpu_steps as f64 / EPISODES as f64,
        );
        assert!(rel <= 0.01, "{name}: mean returns differ by {rel:.2e}");
    }
}
