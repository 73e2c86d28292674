//! `sizeup` as a library: the command line's parser and commands, behind two doors.
//!
//! - [`api`] is the typed surface: one request and one response type per
//!   command, both serde, and `estimate(&Request) -> Result<Response>`. The
//!   CLI, the web API and the Python package all run their commands through it.
//! - [`main_with_args`] is the whole CLI (parse, run, print, exit status); the
//!   `sizeup` binary and the Python package's `sizeup` command both call it.
//!
//! Exit codes: 0 success, 2 any error (bad input or usage included); 1 is kept
//! for a negative verdict the user asks to be signalled. A broken pipe is success.

pub mod api;
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

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::api::Estimate;
use crate::cli::{Cli, Command};
use crate::commands::plan::{PlanReport, PlanTarget};
use crate::error::AppError;
use crate::render::render;

/// The exit status of a usage error or a failed command.
const EXIT_ERROR: u8 = 2;

/// Run the command line `args` (the program name first) as the `sizeup` binary does:
/// the report on stdout, errors on stderr. Returns the exit status.
///
/// Never exits the process: `--help`, `--version` and parse errors are printed and
/// answered with their status, so a host process (Python) keeps running.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap writes help and version to stdout, errors to stderr.
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { 0 };
        }
    };
    match run(cli) {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => 0,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
                Err(e) => {
                    eprintln!("error: could not write to stdout: {e}");
                    EXIT_ERROR
                }
            }
        }
        Err(err) => {
            eprint!("{}", diagnostics::render(&err));
            EXIT_ERROR
        }
    }
}

/// Run one command and return its rendered output.
// `serve` says where it listens before it blocks: the one message a command prints.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn run(cli: Cli) -> Result<String, AppError> {
    match cli.command {
        Command::Rough { args, output } => emit(&args.estimate()?, &output),
        Command::Params { args, output } => emit(&args.estimate()?, &output),
        Command::Kv { args, output } => emit(&args.estimate()?, &output),
        Command::Infer { args, output } => emit(&args.estimate()?, &output),
        Command::Train { args, output } => emit(&args.estimate()?, &output),
        Command::Plan { target, output } => {
            let report = commands::plan::run(&target)?;
            if let (PlanTarget::Serve(args), PlanReport::Serve(plan)) = (&target, &report) {
                if let Some(path) = &args.chart {
                    write_chart(path, api::plan_serve_chart(path, plan)?)?;
                }
            }
            emit(&report, &output)
        }
        Command::Sweep { args, output } => {
            let report = args.estimate()?;
            if let Some(path) = &args.chart {
                write_chart(
                    path,
                    api::sweep_chart(path, &args, &report, output.units())?,
                )?;
            }
            emit(&report, &output)
        }
        Command::Gpus { args, output } => emit(&args.estimate()?, &output),
        Command::Models { args, output } => emit(&args.estimate()?, &output),
        Command::Inspect { args, output } => emit(&args.estimate()?, &output),
        Command::Card { args, output } => emit(&args.estimate()?, &output),
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

/// Write a chart's `bytes` to `path`; say where on stderr.
#[allow(clippy::print_stderr)]
fn write_chart(path: &std::path::Path, bytes: Vec<u8>) -> Result<(), AppError> {
    api::write_chart(path, &bytes)?;
    eprintln!("chart written to {}", path.display());
    Ok(())
}

/// Render a report in the requested format.
fn emit<R: render::Report>(report: &R, output: &cli::OutputArgs) -> Result<String, AppError> {
    render(report, output.format, output.units()).map_err(AppError::Render)
}
