//! The one error type of `sizeup-formats`.

use std::path::PathBuf;

use sizeup_core::CoreError;
use thiserror::Error;

/// Everything that can go wrong while reading a model description.
///
/// Variants carry data (the field, the value, what was expected), never prose that
/// names a CLI flag: the binary renders them and adds hints.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A file or directory could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A directory was given but holds no `config.json`.
    #[error("`{}` holds no `config.json`", path.display())]
    NoConfigInDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The text is not valid JSON (malformed or truncated).
    #[error("invalid JSON in {context} at line {line}, column {column}: {message}")]
    Json {
        /// What was being read (`config.json`, a path).
        context: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The JSON is valid but is not an object, or has no `model_type`.
    #[error("{context} has no `model_type` (expected a JSON object with a `model_type` string)")]
    MissingModelType {
        /// What was being read.
        context: String,
    },
    /// A field the family needs is absent and has no documented default.
    #[error("the `{model_type}` config has no `{field}`")]
    MissingField {
        /// The config's `model_type`.
        model_type: String,
        /// The missing key.
        field: String,
    },
    /// A field is present but its value cannot describe a model.
    #[error("the `{model_type}` config has `{field}` = `{value}`: expected {expected}")]
    InvalidField {
        /// The config's `model_type`.
        model_type: String,
        /// The key.
        field: String,
        /// The value as written in the config.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// No reader knows this `model_type`.
    #[error("unsupported model_type `{model_type}`")]
    UnsupportedModelType {
        /// The `model_type` as written.
        model_type: String,
        /// The supported types nearest to it by name, best first (may be empty).
        nearest: Vec<String>,
        /// Every supported `model_type`, sorted.
        supported: Vec<String>,
    },
    /// A name that is not in the embedded catalog.
    #[error("unknown model `{name}`")]
    UnknownModel {
        /// The name as given.
        name: String,
        /// The nearest catalog names, best first.
        suggestions: Vec<String>,
    },
    /// The embedded catalog does not parse (a build defect, caught by the tests).
    #[error("the embedded model catalog is malformed: {message}")]
    Catalog {
        /// The TOML parser's description.
        message: String,
    },
    /// A file was not read: not a regular file, too large, outside its folder.
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// A GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    /// A safetensors checkpoint could not be read.
    #[error(transparent)]
    Safetensors(#[from] crate::safetensors::SafetensorsError),
    /// The Hugging Face Hub could not be read.
    #[cfg(feature = "hub")]
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    /// A checkpoint folder has weights but no `config.json` to read the architecture from.
    #[error("`{}` holds safetensors weights but no `config.json`", path.display())]
    CheckpointWithoutConfig {
        /// The folder.
        path: PathBuf,
    },
    /// Counting the model failed (a count overflows a `u64`, a zero size).
    #[error(transparent)]
    Core(#[from] CoreError),
}
