//! Command-line definition: one clap tree, shared argument groups.

use clap::{Args, Parser, Subcommand};

use crate::commands::rough::RoughArgs;
use crate::humanize::ByteUnits;
use crate::render::Format;

/// What a transformer language model costs before you train or serve it.
#[derive(Debug, Parser)]
#[command(
    name = "sizeup",
    version,
    about,
    max_term_width = 100,
    help_expected = true
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The lesson's rough estimate (12·h² per block, KV cache), byte for byte
    Rough {
        #[command(flatten)]
        args: RoughArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Output flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,
    /// Human output in SI units (GB = 10⁹ bytes) instead of binary (GiB = 2³⁰ bytes)
    #[arg(long, global = true)]
    pub si: bool,
}

impl OutputArgs {
    /// The byte prefixes human output uses.
    pub fn units(&self) -> ByteUnits {
        if self.si {
            ByteUnits::Si
        } else {
            ByteUnits::Binary
        }
    }
}
