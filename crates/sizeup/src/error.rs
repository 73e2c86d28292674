//! The binary's error: a library error, or a usage error the CLI found itself.

use sizeup_core::CoreError;
use sizeup_formats::error::FormatError;
use thiserror::Error;

/// Everything a command can fail with.
#[derive(Debug, Error)]
pub enum AppError {
    /// A computation rejected its input.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A model file, config or name could not be read.
    #[error(transparent)]
    Formats(#[from] FormatError),
    /// Flags that do not fit together.
    #[error("`{flag}` = `{value}` is invalid: {problem}")]
    Usage {
        /// The flag, as typed (`--tp`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        problem: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// Writing the report failed.
    #[error("could not render the report")]
    Render(#[source] crate::render::RenderError),
    /// A chart could not be drawn.
    #[error("could not draw the chart `{path}`")]
    Chart {
        /// The destination.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing a file the user asked for failed.
    #[error("could not write `{path}`")]
    Write {
        /// The destination.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
