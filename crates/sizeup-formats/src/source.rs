//! One entry point from "what the user typed" to an [`Architecture`].
//!
//! MODEL may be a catalog name (`llama-3.1-8b`), a `config.json`, a checkpoint
//! folder (its `config.json`, and its safetensors headers when present), a
//! `.gguf` file, or a Hugging Face repository: `hf:ORG/NAME[@REVISION]`, or a
//! bare `ORG/NAME[@REVISION]` that is not a path.
//!
//! # Order
//! 1. `hf:ORG/NAME`: the Hugging Face cache, then the Hub; only when the Hub
//!    cannot be asked (`HF_HUB_OFFLINE`, or unreachable) and no revision is
//!    pinned, the catalog entry with that `hf_id`, then a catalog alias
//!    ([`catalog::find_alias`]). The prefix asks for the repository's own files
//!    (their tensor table, their revision), so the catalog is the fallback.
//! 2. An existing path: read as a file or folder.
//! 3. A bare `ORG/NAME`: the Hugging Face cache (the files the user already has,
//!    no network), then the catalog entry with that exact `hf_id` (reviewed, no
//!    network), then the Hub, then, offline or unreachable, a catalog alias.
//! 4. Anything else: a catalog name, then a catalog alias
//!    (`Meta-Llama-3.1-8B-Instruct`); the error suggests the nearest names.
//!
//! A cache ref that names a missing snapshot is a stale copy: online the Hub
//! answers instead; offline or unreachable it is an error listing the snapshots
//! present, never replaced by the catalog.
//!
//! Whichever copy was read is said in the first of [`Loaded::assumptions`]
//! (`read from` a cache snapshot and its commit, or the Hub; `read as` a catalog
//! entry and why).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sizeup_core::{params, Architecture, Assumption};

use crate::catalog;
use crate::error::FormatError;
use crate::gguf;
use crate::hf::{self, Quantization};
use crate::safetensors;
use crate::tensors::{compare_with_config, ConfigComparison, TensorTable};

/// Where a model's architecture was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A snapshot of a repository in the Hugging Face cache, read with no network.
    HubCache {
        /// `ORG/NAME`.
        repo: String,
        /// The branch, tag or commit asked for.
        revision: String,
        /// The commit of the snapshot read.
        commit: String,
        /// The snapshot folder.
        path: PathBuf,
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
            Source::HubCache { .. } => "hf-cache",
        }
    }
}

/// The tensors a checkpoint really holds, and how they compare with the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// How the checkpoint stores its weights, read from its `config.json`'s
    /// `quantization_config`; `None` for a config without one, a catalog entry
    /// (the unquantized model) and a GGUF file (its types are in its tensor table).
    pub quantization: Option<Quantization>,
}

/// Load MODEL from the Hugging Face cache or Hub, a path or the catalog, in the
/// order of the module docs, with the Hub configured from the environment.
///
/// # Errors
/// The reader's error for a path or Hub reference; [`FormatError::UnknownModel`]
/// with suggestions for a name that is neither a path nor in the catalog.
pub fn load(spec: &str) -> Result<Loaded, FormatError> {
    #[cfg(feature = "hub")]
    if hub_spec(spec).is_some() {
        return load_with(spec, &crate::hub::HubConfig::from_env());
    }
    load_local(spec)
}

/// [`load`] with a given Hub configuration (tests inject one instead of the environment).
///
/// # Errors
/// As [`load`].
#[cfg(feature = "hub")]
pub fn load_with(spec: &str, config: &crate::hub::HubConfig) -> Result<Loaded, FormatError> {
    use crate::hub::HubError;
    match hub_spec(spec) {
        Some((reference, true)) => load_hub(&reference?, true, config),
        // a bare id may be a mistyped path: say how it was read
        Some((reference, false)) => load_hub(&reference?, false, config).map_err(|e| match e {
            FormatError::Hub(source) => FormatError::Hub(HubError::AsRepoId {
                spec: spec.to_string(),
                source: Box::new(source),
            }),
            other => other,
        }),
        None => load_local(spec),
    }
}

/// A path, a catalog name or a catalog alias.
fn load_local(spec: &str) -> Result<Loaded, FormatError> {
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
    load_catalog(spec)
}

/// Load MODEL from the embedded catalog alone: a catalog name, then a catalog
/// alias. No file, cache or network is touched, whatever `spec` looks like (a
/// server answering requests reads nothing of its own disk).
///
/// # Errors
/// [`FormatError::UnknownModel`] with the nearest catalog names.
pub fn load_catalog(spec: &str) -> Result<Loaded, FormatError> {
    match catalog::find(spec) {
        Ok(entry) => Ok(from_catalog(entry, None)),
        Err(unknown) => match catalog::find_alias(spec) {
            Some(alias) => Ok(from_catalog(
                alias.entry,
                Some(alias_note(
                    &alias,
                    &format!("{spec} is not itself a catalog name"),
                )),
            )),
            None => Err(unknown),
        },
    }
}

/// `hf:ORG/NAME[@REV]` (explicit), or a bare `ORG/NAME[@REV]` that is not a path
/// (its first part is no local folder, and it does not end like a model file): the
/// Hub reference and whether it was explicit, or `None` for a path or a name.
#[cfg(feature = "hub")]
pub fn hub_spec(spec: &str) -> Option<(Result<crate::hub::HubRef, crate::hub::HubError>, bool)> {
    use crate::hub::HubRef;
    if HubRef::is_hub(spec) {
        return Some((HubRef::parse(spec), true));
    }
    let first = spec.split('/').next().unwrap_or_default();
    let pathlike = Path::new(spec).exists()
        || Path::new(first).is_dir()
        || [".json", ".gguf", ".safetensors"]
            .iter()
            .any(|ext| spec.ends_with(ext));
    if pathlike {
        return None;
    }
    HubRef::parse_id(spec).map(|r| (Ok(r), false))
}

#[cfg(feature = "hub")]
fn load_hub(
    r: &crate::hub::HubRef,
    explicit: bool,
    config: &crate::hub::HubConfig,
) -> Result<Loaded, FormatError> {
    use crate::hub::{Hub, HubError, Lookup, DEFAULT_REVISION};
    let lookup = config.lookup(r);
    if let Lookup::Found(snapshot) = lookup {
        return load_snapshot(r, snapshot);
    }
    let stale = matches!(lookup, Lookup::Stale { .. });
    let not_cached = "not in the Hugging Face cache";
    if !explicit && !stale {
        if let Some(entry) = catalog::find_hf_id(&r.repo) {
            let note = format!("its hf_id is {}; {not_cached}", r.repo);
            return Ok(from_catalog(entry, Some(note)));
        }
    }
    let (why, failure) = if config.offline {
        ("HF_HUB_OFFLINE is set".to_string(), config.offline_error(r))
    } else {
        match Hub::new(config.clone()).fetch_remote(r) {
            Ok(fetched) => return from_remote(fetched),
            Err(e @ (HubError::Transport { .. } | HubError::Deadline { .. })) => {
                (format!("the Hub at {} is unreachable", config.endpoint), e)
            }
            Err(e) => return Err(e.into()),
        }
    };
    // A stale ref means the user has a (broken) copy of one commit: say so
    // rather than answer from the catalog.
    if stale {
        return Err(config.offline_error(r).into());
    }
    // The catalog answers only for the revision it was written from.
    if r.revision == DEFAULT_REVISION {
        if let Some(entry) = catalog::find_hf_id(&r.repo) {
            let note = format!("its hf_id is {}; {not_cached} and {why}", r.repo);
            return Ok(from_catalog(entry, Some(note)));
        }
        if let Some(alias) = catalog::find_alias(&r.repo) {
            let note = alias_note(&alias, &format!("{} is {not_cached} and {why}", r.repo));
            return Ok(from_catalog(alias.entry, Some(note)));
        }
    }
    Err(failure.into())
}

/// A catalog entry as a model, with the reason it was chosen when the name given was not its own.
fn from_catalog(entry: &catalog::Entry, read_as: Option<String>) -> Loaded {
    Loaded {
        name: entry.name.clone(),
        source: Source::Catalog {
            hf_id: entry.hf_id.clone(),
        },
        arch: entry.arch.clone(),
        assumptions: read_as
            .map(|why| Assumption::new("read as", format!("catalog entry {}", entry.name), why))
            .into_iter()
            .collect(),
        tensors: None,
        quantization: None,
    }
}

fn alias_note(alias: &catalog::Alias, why: &str) -> String {
    let same = if alias.tuned {
        "instruction tuning does not change shapes"
    } else {
        "the names differ only in organization, `Meta-` prefix or `-hf` suffix"
    };
    format!(
        "same architecture as its hf_id {}; {same}; {why}",
        alias.entry.hf_id
    )
}

/// A model read from a cached snapshot, like a local folder: its `config.json`
/// (and safetensors headers when every shard is cached), else its one GGUF file.
#[cfg(feature = "hub")]
fn load_snapshot(
    r: &crate::hub::HubRef,
    snapshot: crate::hub::Snapshot,
) -> Result<Loaded, FormatError> {
    use crate::hub::{has_weights, HubError};
    let dir = &snapshot.dir;
    let mut notes = Vec::new();
    let mut loaded = if dir.join("config.json").is_file() {
        if has_weights(dir) {
            load_path(dir)?
        } else {
            if has_safetensors(dir) {
                notes.push(Assumption::new(
                    "checkpoint tensors",
                    "not read",
                    "the cached snapshot lacks some safetensors shards (a partial download)",
                ));
            }
            load_path(&dir.join("config.json"))?
        }
    } else {
        let mut ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| FormatError::Io {
                path: dir.clone(),
                source,
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_gguf(p) && p.is_file())
            .collect();
        ggufs.sort();
        match ggufs.as_slice() {
            [one] => load_path(one)?,
            [] => return Err(HubError::EmptySnapshot { dir: dir.clone() }.into()),
            several => {
                return Err(HubError::SeveralGguf {
                    dir: dir.clone(),
                    files: several.iter().map(|p| display_name(p)).collect(),
                }
                .into())
            }
        }
    };
    let how = match &snapshot.via_ref {
        Some(rev) => format!(
            "Hugging Face cache, refs/{rev} → commit {}",
            snapshot.commit
        ),
        None => format!("Hugging Face cache, pinned commit {}", snapshot.commit),
    };
    let mut assumptions = vec![Assumption::new(
        "read from",
        dir.display(),
        format!("{how}; no network"),
    )];
    assumptions.append(&mut notes);
    assumptions.append(&mut loaded.assumptions);
    loaded.assumptions = assumptions;
    loaded.name = r.repo.clone();
    loaded.source = Source::HubCache {
        repo: r.repo.clone(),
        revision: r.revision.clone(),
        commit: snapshot.commit,
        path: snapshot.dir,
    };
    Ok(loaded)
}

#[cfg(feature = "hub")]
fn from_remote(fetched: crate::hub::HubCheckpoint) -> Result<Loaded, FormatError> {
    let reference = fetched.reference;
    let config = fetched
        .config_json
        .ok_or_else(|| FormatError::NoConfigInDirectory {
            path: PathBuf::from(format!("hf:{}@{}", reference.repo, reference.revision)),
        })?;
    let parsed = hf::from_config_str(&config)?;
    let tensors = with_comparison(&parsed.arch, fetched.checkpoint.table)?;
    let whence = match &fetched.origin {
        crate::hub::Origin::Remote { endpoint } => reference.page(endpoint),
        crate::hub::Origin::Cache(s) => s.dir.display().to_string(),
    };
    let mut assumptions = vec![Assumption::new(
        "read from",
        format!("{whence} at {}", reference.revision),
        "Hugging Face Hub: config.json and safetensors headers only, by range requests",
    )];
    assumptions.extend(parsed.assumptions);
    Ok(Loaded {
        name: reference.repo.clone(),
        source: Source::Hub {
            repo: reference.repo,
            revision: reference.revision,
        },
        arch: parsed.arch,
        assumptions,
        tensors: Some(tensors),
        quantization: parsed.quantization,
    })
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
            quantization: None,
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
        quantization: parsed.quantization,
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
