//! `sizeup`: parse, run, render; the one place that writes to the terminal.
//!
//! Exit codes: 0 success, 2 any error (bad input or usage included); 1 is kept
//! for a negative verdict the user asks to be signalled. A broken pipe is success.
#![allow(clippy::print_stdout, clippy::print_stderr)]

// used by sweep/card (issue 6): the chart layer, sweep axes and the progress bar
// are wired by the sweep command; until then only their tests call them.
#[cfg_attr(not(test), allow(dead_code))]
mod chart;
mod cli;
mod commands;
mod diagnostics;
mod error;
mod humanize;
mod model;
#[cfg_attr(not(test), allow(dead_code))]
mod progress;
mod render;
#[cfg_attr(not(test), allow(dead_code))]
mod sweep_axis;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::AppError;
use crate::render::render;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: could not write to stdout: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Err(err) => {
            eprint!("{}", diagnostics::render(&err));
            ExitCode::from(2)
        }
    }
}

/// Run one command and return its rendered output.
fn run(cli: Cli) -> Result<String, AppError> {
    match cli.command {
        Command::Rough { args, output } => emit(&commands::rough::run(&args)?, &output),
        Command::Params { args, output } => emit(&commands::params::run(&args)?, &output),
        Command::Kv { args, output } => emit(&commands::kv::run(&args)?, &output),
        Command::Infer { args, output } => emit(&commands::infer::run(&args)?, &output),
        Command::Train { args, output } => emit(&commands::train::run(&args)?, &output),
        Command::Gpus { args, output } => emit(&commands::gpus::run(&args)?, &output),
        Command::Models { args, output } => emit(&commands::models::run(&args)?, &output),
        Command::Inspect { args, output } => emit(&commands::inspect::run(&args)?, &output),
        Command::Card { args, output } => emit(&commands::card::run(&args)?, &output),
        Command::Validate { args, output } => emit(&commands::validate::run(&args)?, &output),
    }
}

/// Render a report in the requested format.
fn emit<R: render::Report>(report: &R, output: &cli::OutputArgs) -> Result<String, AppError> {
    render(report, output.format, output.units()).map_err(AppError::Render)
}
