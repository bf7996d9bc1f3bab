//! Watchers of a training run: each is told of every finished generation. The
//! metrics file, the progress bar and the log line are observers; so can be anything
//! that wants to follow a run (a sweep's table, a plot).

use super::error::TrainError;
use super::metrics::{Metrics, MetricsWriter};

/// Told of each generation as it finishes, in order.
pub trait GenerationObserver {
    /// One finished generation; an error stops the run (before its checkpoint).
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError>;
    /// The run ended (finished, solved or stopped).
    fn finish(&mut self) {}
}

impl GenerationObserver for MetricsWriter {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        self.append(m)
    }
}

/// The eval return as a short string (`-` for none).
fn eval_text(m: &Metrics) -> String {
    m.eval_return
        .map(|e| format!("{e:.1}"))
        .unwrap_or_else(|| "-".into())
}

/// A progress bar on the terminal, with the latest returns, KL and speed.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
}

impl ProgressBar {
    /// A bar to `total` generations starting at `done`.
    pub fn new(total: u64, done: u64) -> Self {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] gen {pos}/{len} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_position(done);
        ProgressBar { bar }
    }
}

impl GenerationObserver for ProgressBar {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        self.bar.set_position(m.generation as u64 + 1);
        self.bar.set_message(format!(
            "eval {} train {:.1} kl {:.3} {:.0} env-steps/s",
            eval_text(m),
            m.train_return_mean,
            m.update.kl,
            m.env_steps_per_s
        ));
        Ok(())
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// One `tracing` line per generation, with figures rounded to what a reader uses.
pub struct LogLine;

impl GenerationObserver for LogLine {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        tracing::info!(
            generation = m.generation,
            eval_return = %eval_text(m),
            train_mean = %format!("{:.2}", m.train_return_mean),
            kl = %format!("{:.4}", m.update.kl),
            env_steps_per_s = %format!("{:.0}", m.env_steps_per_s),
            "generation done"
        );
        Ok(())
    }
}
