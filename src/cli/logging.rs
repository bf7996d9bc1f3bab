//! Log lines on stderr: text (coloured only on a terminal, never with `NO_COLOR`) or
//! one JSON object per line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`--log-format`, else `SATR_LOG_FORMAT`, else text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    // One line of text per event.
    #[default]
    Text,
    // One JSON object per event: `timestamp`, `level`, `fields` (with `message`),
    // `target`.
    Json,
}

/// The environment variable naming the log format when `--log-format` does not.
pub const LOG_FORMAT_ENV: &str = "SATR_LOG_FORMAT";

impl LogFormat {
    /// `flag`, else the environment variable (unset or empty: text); an error names
    /// the variable and the values it takes.
    pub fn resolve(flag: Option<LogFormat>) -> Result<LogFormat, String> {
        if let Some(f) = flag {
            return Ok(f);
        }
        match std::env::var(LOG_FORMAT_ENV) {
            Ok(v) if !v.is_empty() => {
                <LogFormat as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                    format!("{LOG_FORMAT_ENV}={v:?} is not a log format: use text or json")
                })
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(LogFormat::Text),
            Err(e) => Err(format!("{LOG_FORMAT_ENV}: {e}")),
        }
    }
}

/// Colour only on a terminal, and not when `NO_COLOR` has a value
/// (<https://no-color.org>).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Logs to stderr, `RUST_LOG` overriding the default; rank 0 alone logs at info level
/// (the other ranks of an MPI job would repeat its lines). The first call of the
/// process sets logging up; later ones (the command line run again in one process)
/// keep it.
pub(super) fn init(rank: usize, format: LogFormat) {
    let default_filter = if rank == 0 { "warn,satr=info" } else { "warn" };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // An error only says that a subscriber is already set.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}
