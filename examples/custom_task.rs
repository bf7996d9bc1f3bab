//! A task defined outside satr, registered at run time, trained through the library,
//! then evaluated and exported, with no run directory and no command line.
//!
//! The task, `sign`: each step the agent observes one value of a chaotic signal in
//! `[-1, 1]` and must say whether it is positive (action 1) or not (action 0); a right
//! answer earns 1. Episodes last 200 steps, so a random policy scores about 100 and a
//! perfect one 200. The example stops once the mode genome scores at least 195, then
//! checks over 100 fresh episodes that it scores at least 190 (it exits non-zero
//! otherwise) and writes it to `sign.safetensors` in the temporary folder.
//!
//! ```sh
//! cargo run --release --example custom_task
//! ```

use satr::app::{Engines, Trainer, World};
use satr::config::Config;
use satr::policy::episodes::{run_all, EpisodeKey};
use satr::policy::export::{self, Format};
use satr::tasks::{Action, ActionKind, ActionSpace, Step, Task, TaskError, TaskSpec};

/// Episode length.
const STEPS: usize = 200;

/// The task's whole state: a 31-bit linear congruential generator and a step count.
#[derive(Default)]
struct Sign {
    x: u64,
    steps: usize,
}

impl Sign {
    fn value(&self) -> f64 {
        self.x as f64 / (1u64 << 31) as f64 * 2.0 - 1.0
    }
}

impl Task for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        STEPS
    }
    /// The only randomness comes from satr's reset stream, so episodes are
    /// reproducible from (seed, generation, member, episode).
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        self.x = (uniform() * (1u64 << 31) as f64) as u64;
        self.steps = 0;
    }
    fn observe(&self, obs: &mut [f64]) {
        obs[0] = self.value();
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let Action::Discrete(a) = action else {
            return Err(TaskError::InvalidAction {
                task: "sign",
                reason: "expected a discrete action".into(),
            });
        };
        let right = (a == 1) == (self.value() > 0.0);
        self.x = (self.x * 1_103_515_245 + 12_345) % (1 << 31);
        self.steps += 1;
        Ok(Step {
            reward: if right { 1.0 } else { 0.0 },
            terminated: false,
            truncated: self.steps >= STEPS,
        })
    }
    fn state(&self) -> Vec<f64> {
        vec![self.x as f64]
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        self.x = state.first().copied().unwrap_or(0.0) as u64 % (1 << 31);
        self.steps = 0;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Register: from here on configs can say `task = "sign"`.
    let spec = TaskSpec::new("sign", 1, ActionKind::Discrete(2), STEPS, || {
        Ok(Box::new(Sign::default()))
    })
    .with_description("say whether a chaotic signal is positive");
    satr::register_task(spec)?;

    // 2. A config, as a file or `--set` would give it.
    let cfg = Config::from_toml_with_overrides(
        "",
        &[
            "task=\"sign\"".into(),
            "backend=\"cpu\"".into(),
            "population=64".into(),
            "generations=60".into(),
            "network.neurons=32".into(),
            "optimizer.epsilon=20".into(),
        ],
    )?;

    // 3. A trainer: one generation per `step`, nothing written anywhere.
    let world = World::init()?;
    let engines = Engines::new(&world);
    let task = cfg.resolve_task()?;
    let evaluator = engines.evaluator(&cfg, &task)?;
    let mut trainer = Trainer::new(cfg, task, evaluator)?;
    while !trainer.finished() {
        let m = trainer.step()?;
        let eval = m.eval_return.unwrap_or(f64::NAN);
        println!(
            "generation {:2}: eval {eval:6.1}, train mean {:6.1}",
            m.generation, m.train_return_mean
        );
        if eval >= 195.0 {
            break;
        }
    }

    // 4. Evaluate the mode genome on 100 episodes it has never seen.
    let policy = trainer.policy()?;
    let keys: Vec<EpisodeKey> = (0..100)
        .map(|episode| EpisodeKey {
            seed: 12_345,
            generation: 0,
            member: 0,
            episode,
        })
        .collect();
    let (episodes, cost) = run_all(&policy, &keys, STEPS)?;
    let mean = episodes.iter().map(|e| e.ret).sum::<f64>() / episodes.len() as f64;
    println!(
        "mode genome after {} generations: mean return {mean:.1} over {} episodes, {:.1} synaptic ops per step",
        trainer.generation,
        episodes.len(),
        cost.synaptic_ops_per_step
    );

    // 5. Export it for Python (python/satr_policy.py) or other tools.
    let path = std::env::temp_dir().join("sign.safetensors");
    export::write(&policy, Format::Safetensors, &path)?;
    println!(
        "exported to {} ({} bytes)",
        path.display(),
        std::fs::metadata(&path)?.len()
    );
    if mean < 190.0 {
        return Err(format!("mean return {mean:.1} is below the stated 190").into());
    }
    Ok(())
}
