//! One entry point from "what the user typed" to an [`Architecture`].
//!
//! MODEL may be a catalog name (`llama-3.1-8b`), a `config.json`, a checkpoint
//! folder (its `config.json`, and its safetensors headers when present), a
//! `.gguf` file, or `hf:ORG/NAME[@REVISION]` on the Hugging Face Hub. The rule is
//! simple and documented in `--help`: `hf:` goes to the Hub, an existing path is
//! read as a file or folder, anything else is looked up in the catalog, whose
//! error suggests the nearest names.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sizeup_core::{params, Architecture, Assumption};

use crate::catalog;
use crate::error::FormatError;
use crate::gguf;
use crate::hf;
use crate::safetensors;
use crate::tensors::{compare_with_config, ConfigComparison, TensorTable};

/// Where a model's architecture was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The embedded catalog.
    Catalog {
        /// Its Hugging Face id, when it has one.
        hf_id: String,
    },
    /// A Hugging Face `config.json` (alone or in a checkpoint folder).
    Config {
        /// The file or folder read.
        path: PathBuf,
    },
    /// A GGUF file's metadata and tensor table.
    Gguf {
        /// The file read.
        path: PathBuf,
    },
    /// A repository on the Hugging Face Hub (config and safetensors headers only).
    Hub {
        /// `ORG/NAME`.
        repo: String,
        /// Branch, tag or commit.
        revision: String,
    },
}

impl Source {
    /// A one-word label for reports.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Catalog { .. } => "catalog",
            Source::Config { .. } => "config.json",
            Source::Gguf { .. } => "gguf",
            Source::Hub { .. } => "hub",
        }
    }
}

/// The tensors a checkpoint really holds, and how they compare with the config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointTensors {
    /// Every tensor, with exact parameters and bytes.
    pub table: TensorTable,
    /// The config's count beside the files' count (absent for GGUF, whose
    /// architecture comes from the same file).
    pub comparison: Option<ConfigComparison>,
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
    /// The checkpoint's tensors, when weights' headers were read.
    pub tensors: Option<CheckpointTensors>,
}

/// Load MODEL from the Hub, a path or the catalog.
///
/// # Errors
/// The reader's error for a path or Hub reference; [`FormatError::UnknownModel`]
/// with suggestions for a name that is neither a path nor in the catalog.
pub fn load(spec: &str) -> Result<Loaded, FormatError> {
    if let Some(loaded) = load_hub(spec)? {
        return Ok(loaded);
    }
    let path = Path::new(spec);
    if path.exists() {
        return load_path(path);
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
        tensors: None,
    })
}

#[cfg(feature = "hub")]
fn load_hub(spec: &str) -> Result<Option<Loaded>, FormatError> {
    use crate::hub::{Hub, HubConfig, HubRef};
    if !HubRef::is_hub(spec) {
        return Ok(None);
    }
    let reference = HubRef::parse(spec)?;
    let fetched = Hub::new(HubConfig::from_env()).fetch(&reference)?;
    let config = fetched
        .config_json
        .ok_or_else(|| FormatError::NoConfigInDirectory {
            path: PathBuf::from(spec),
        })?;
    let parsed = hf::from_config_str(&config)?;
    let tensors = with_comparison(&parsed.arch, fetched.checkpoint.table)?;
    Ok(Some(Loaded {
        name: reference.repo.clone(),
        source: Source::Hub {
            repo: reference.repo,
            revision: reference.revision,
        },
        arch: parsed.arch,
        assumptions: parsed.assumptions,
        tensors: Some(tensors),
    }))
}

#[cfg(not(feature = "hub"))]
fn load_hub(_spec: &str) -> Result<Option<Loaded>, FormatError> {
    Ok(None)
}

fn with_comparison(
    arch: &Architecture,
    table: TensorTable,
) -> Result<CheckpointTensors, FormatError> {
    let config_params = params::count(arch)?.total;
    Ok(CheckpointTensors {
        comparison: Some(compare_with_config(config_params, &table)),
        table,
    })
}

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

fn is_safetensors(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json")
}

fn has_safetensors(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| is_safetensors(&e.path())))
        .unwrap_or(false)
}

fn load_path(path: &Path) -> Result<Loaded, FormatError> {
    if is_gguf(path) {
        let model = gguf::read_model(path)?;
        // the same door check config.json models pass
        model.architecture.check()?;
        return Ok(Loaded {
            name: display_name(path),
            source: Source::Gguf {
                path: path.to_path_buf(),
            },
            arch: model.architecture,
            assumptions: model.assumptions,
            tensors: Some(CheckpointTensors {
                table: model.table,
                comparison: None,
            }),
        });
    }
    // A weights file or a checkpoint folder: the architecture comes from the
    // config.json beside the weights, the exact tensors from their headers.
    let (config_at, weights_at) = if is_safetensors(path) {
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            Some(path.to_path_buf()),
        )
    } else if path.is_dir() && has_safetensors(path) {
        (path.to_path_buf(), Some(path.to_path_buf()))
    } else {
        (path.to_path_buf(), None)
    };
    if weights_at.is_some() && config_at.is_dir() && !config_at.join("config.json").is_file() {
        return Err(FormatError::CheckpointWithoutConfig { path: config_at });
    }
    let parsed = hf::from_config_path(&config_at)?;
    let tensors = match weights_at {
        Some(w) => Some(with_comparison(
            &parsed.arch,
            safetensors::read_checkpoint(&w)?.table,
        )?),
        None => None,
    };
    Ok(Loaded {
        name: display_name(path),
        source: Source::Config {
            path: path.to_path_buf(),
        },
        arch: parsed.arch,
        assumptions: parsed.assumptions,
        tensors,
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
