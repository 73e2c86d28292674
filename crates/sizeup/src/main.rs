//! `sizeup`: the command line; everything is in the library (`lib.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(sizeup::main_with_args(std::env::args_os()))
}
