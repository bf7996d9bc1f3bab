//! The `satr` binary: the command line of [`satr::cli`].

use std::process::ExitCode;

#[cfg(feature = "cli")]
fn main() -> ExitCode {
    let status = satr::cli::main(std::env::args_os());
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

#[cfg(not(feature = "cli"))]
fn main() -> ExitCode {
    eprintln!("error: satr was built without its `cli` feature");
    ExitCode::FAILURE
}
