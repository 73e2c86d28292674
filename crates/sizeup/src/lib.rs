//! `sizeup` as a library: the command line's parser and commands, behind three doors.
//!
//! - [`api`] is the typed surface: one request and one response type per
//!   command, both serde, and `estimate(&Request) -> Result<Response>`. The
//!   CLI, the web API and the Python package all run their commands through it.
//! - [`main_with_args`] is the whole CLI (parse, run, print, exit status); the
//!   `sizeup` binary and the Python package's `sizeup` command both call it.
//! - [`run_json`] runs one command line and returns its JSON report or a [`Failure`]
//!   rendered as the CLI renders it; the Python binding calls it, so every flag's
//!   check, default and conflict rule is the CLI's own.
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
use crate::error::AppError;
use crate::model::ModelSource;
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

/// Why [`run_json`] gave no report: the text the CLI would print on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The rendered error: `error: …`, the `Caused by:` chain, then `hint:` lines,
    /// exactly as the CLI prints it.
    pub message: String,
    /// The `hint:` lines' text, in order.
    pub hints: Vec<String>,
    /// True when the command line itself was refused (unknown flag, bad value,
    /// conflicting flags), false when a command ran and failed.
    pub usage: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.trim_end())
    }
}

impl std::error::Error for Failure {}

/// Run one command line (without the program name, e.g. `["params", "llama-3.1-8b"]`)
/// and return its report as JSON, the text `sizeup … --format json` prints.
///
/// `--format json` is added here; a `--format` in `args` is refused as a repeat.
///
/// # Errors
/// A [`Failure`] carrying the CLI's own message for a refused command line or a
/// failed command.
pub fn run_json(args: &[String]) -> Result<String, Failure> {
    run_json_with(args, None)
}

/// A `config.json` held in memory (the Python binding's `dict` or `PretrainedConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineConfig {
    /// The MODEL argument that means this config, and the name reports show.
    pub name: String,
    /// The `config.json` text.
    pub text: String,
}

/// [`run_json`] with a model given as `config.json` text instead of a file: a MODEL
/// argument equal to `inline.name` reads `inline.text` (nothing is written to disk),
/// and reports it as the CLI reports a `config.json` in a folder of that name.
///
/// # Errors
/// As [`run_json`].
pub fn run_json_with(args: &[String], inline: Option<&InlineConfig>) -> Result<String, Failure> {
    let argv = std::iter::once("sizeup".to_string())
        .chain(args.iter().cloned())
        .chain(["--format".to_string(), "json".to_string()]);
    let mut cli = Cli::try_parse_from(argv).map_err(|e| {
        let message = e.render().to_string();
        Failure {
            hints: hint_lines(&message),
            message,
            usage: true,
        }
    })?;
    if let (Some(inline), Some(model)) = (inline, cli.command.model_mut()) {
        if model.model == inline.name {
            model.source = ModelSource::ConfigText(inline.text.as_str().into());
        }
    }
    run(cli).map_err(|err| {
        let usage = matches!(err, AppError::Usage { .. });
        let message = render::printable(diagnostics::render(&err));
        Failure {
            hints: hint_lines(&message),
            message,
            usage,
        }
    })
}

/// The `hint: ` lines of a rendered error (clap's `tip: ` included).
fn hint_lines(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("hint: ").or_else(|| l.strip_prefix("tip: "))
        })
        .map(str::to_string)
        .collect()
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
        Command::Plan { target, output } => emit(&commands::plan::run(&target)?, &output),
        Command::Sweep { args, output } => {
            let report = args.estimate()?;
            if let Some(path) = &args.chart {
                write_chart(path, &report, &args, &output)?;
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

/// Draw the sweep's chart and write it to `path`; say where on stderr.
#[allow(clippy::print_stderr)]
fn write_chart(
    path: &std::path::Path,
    report: &commands::sweep::SweepReport,
    args: &commands::sweep::SweepArgs,
    output: &cli::OutputArgs,
) -> Result<(), AppError> {
    let shown = path.display().to_string();
    let bytes = api::sweep_chart(path, args, report, output.units())?;
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
