//! `sizeup`: parse, run, render; the one place that writes to the terminal.
//!
//! Exit codes: 0 success, 2 any error (bad input or usage included); 1 is kept
//! for a negative verdict the user asks to be signalled. A broken pipe is success.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod chart;
mod cli;
mod commands;
mod diagnostics;
mod door;
mod error;
mod humanize;
mod model;
mod progress;
mod render;
#[cfg(feature = "serve")]
mod serve;
mod sweep_axis;

#[cfg(test)]
mod cli_fuzz;

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
            eprint!("{}", render::printable(diagnostics::render(&err)));
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
        Command::Plan { target, output } => emit(&commands::plan::run(&target)?, &output),
        Command::Sweep { args, output } => {
            let report = commands::sweep::run(&args)?;
            if let Some(path) = &args.chart {
                write_chart(path, &report, &args, &output)?;
            }
            emit(&report, &output)
        }
        Command::Gpus { args, output } => emit(&commands::gpus::run(&args)?, &output),
        Command::Models { args, output } => emit(&commands::models::run(&args)?, &output),
        Command::Inspect { args, output } => emit(&commands::inspect::run(&args)?, &output),
        Command::Card { args, output } => emit(&commands::card::run(&args)?, &output),
        Command::Validate { args, output } => emit(&commands::validate::run(&args)?, &output),
        #[cfg(feature = "serve")]
        Command::Serve { args } => serve::run(&args, |address| {
            println!("sizeup serve: listening on http://{address}/ (Ctrl-C stops)");
            if !address.ip().is_loopback() {
                eprintln!("warning: {address} is not a loopback address: other machines can reach this server");
            }
        }),
    }
}

/// Draw the sweep's chart and write it to `path`; say where on stderr.
fn write_chart(
    path: &std::path::Path,
    report: &commands::sweep::SweepReport,
    args: &commands::sweep::SweepArgs,
    output: &cli::OutputArgs,
) -> Result<(), AppError> {
    let shown = path.display().to_string();
    let chart = commands::sweep::chart(report, args.chart_kind, output.units())?;
    let bytes = chart::write_chart(path, &chart).map_err(|e| AppError::Chart {
        path: shown.clone(),
        source: Box::new(e),
    })?;
    std::fs::write(path, bytes).map_err(|source| AppError::Write {
        path: shown.clone(),
        source,
    })?;
    eprintln!("chart written to {shown}");
    Ok(())
}

/// Render a report in the requested format.
fn emit<R: render::Report>(report: &R, output: &cli::OutputArgs) -> Result<String, AppError> {
    render(report, output.format, output.units()).map_err(AppError::Render)
}
