//! One entry point from "what the user typed" to an [`Architecture`].
//!
//! MODEL may be a catalog name (`llama-3.1-8b`), a `config.json`, or a folder
//! holding one. The rule is simple and documented in `--help`: an existing path
//! is read as a file; anything else is looked up in the catalog, whose error
//! suggests the nearest names.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sizeup_core::{Architecture, Assumption};

use crate::catalog;
use crate::error::FormatError;
use crate::hf;

/// Where a model's architecture was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The embedded catalog.
    Catalog {
        /// Its Hugging Face id, when it has one.
        hf_id: String,
    },
    /// A Hugging Face `config.json`.
    Config {
        /// The file read.
        path: PathBuf,
    },
}

impl Source {
    /// A one-word label for reports.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Catalog { .. } => "catalog",
            Source::Config { .. } => "config.json",
        }
    }
}

/// A model, ready for the cost models.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Catalog name, or the folder/file name.
    pub name: String,
    /// Where it came from.
    pub source: Source,
    /// Its architecture.
    pub arch: Architecture,
    /// Rules applied where the input was silent.
    pub assumptions: Vec<Assumption>,
}

/// Load MODEL from a path or the catalog.
///
/// # Errors
/// The reader's error for a path; [`FormatError::UnknownModel`] with suggestions
/// for a name that is neither a path nor in the catalog.
pub fn load(spec: &str) -> Result<Loaded, FormatError> {
    let path = Path::new(spec);
    if path.exists() {
        let parsed = hf::from_config_path(path)?;
        return Ok(Loaded {
            name: display_name(path),
            source: Source::Config {
                path: path.to_path_buf(),
            },
            arch: parsed.arch,
            assumptions: parsed.assumptions,
        });
    }
    if looks_like_path(spec) {
        return Err(FormatError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    let entry = catalog::find(spec)?;
    Ok(Loaded {
        name: entry.name.clone(),
        source: Source::Catalog {
            hf_id: entry.hf_id.clone(),
        },
        arch: entry.arch.clone(),
        assumptions: Vec::new(),
    })
}

/// A name with a path separator or a model-file extension is meant as a path:
/// answering it with catalog suggestions would only confuse.
fn looks_like_path(spec: &str) -> bool {
    spec.contains('/')
        || spec.contains('\\')
        || [".json", ".gguf", ".safetensors"]
            .iter()
            .any(|ext| spec.ends_with(ext))
}

/// `llama-3.1-8b` for `models/llama-3.1-8b/config.json` and for `models/llama-3.1-8b`.
fn display_name(path: &Path) -> String {
    let named = if path.file_name().is_some_and(|n| n == "config.json") {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| path.display().to_string())
}
