//! Turning the MODEL argument into an architecture, and summarizing it for reports.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sizeup_core::{Architecture, Assumption};
use sizeup_formats::error::FormatError;
use sizeup_formats::hf;
use sizeup_formats::source::{self, Loaded, Source};

use crate::cli::ModelArg;
use crate::error::AppError;

/// Which readers a MODEL argument may reach. The CLI reads anything the user can
/// name; the web API reads only what a request itself holds or the embedded
/// catalog, never a file, cache or network address of the machine it runs on.
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "serve"), allow(dead_code))]
pub enum ModelSource {
    /// Catalog names and aliases, `config.json` files, checkpoint folders, GGUF
    /// files and the Hugging Face cache and Hub (see `sizeup_formats::source`).
    #[default]
    Anywhere,
    /// Catalog names and aliases only.
    CatalogOnly,
    /// A `config.json`'s text, held in memory; MODEL is then only its name.
    ConfigText(Arc<str>),
}

impl ModelSource {
    /// True unless MODEL's config is held in memory: MODEL is then a name to
    /// look up, and a request written out needs no `config`.
    pub fn is_named(&self) -> bool {
        !matches!(self, ModelSource::ConfigText(_))
    }
}

/// A request's `config`: the `config.json` text held, or nothing.
impl Serialize for ModelSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ModelSource::ConfigText(text) => s.serialize_str(text),
            ModelSource::Anywhere | ModelSource::CatalogOnly => s.serialize_none(),
        }
    }
}

/// Load a model from a catalog name, a `config.json`, a checkpoint folder, a GGUF file,
/// or a Hugging Face repository (`hf:ORG/NAME`, or a bare `ORG/NAME`), found in the
/// Hugging Face cache first; see `sizeup_formats::source` for the order. The copy
/// read is the first of `Loaded::assumptions`, which every command prints. What
/// MODEL may reach is `arg.source`'s choice.
///
/// With `--as TYPE`, every `config.json` read is read by that type's reader, and the
/// first assumption says so, unverified.
pub fn load(arg: &ModelArg) -> Result<Loaded, AppError> {
    if matches!(arg.source, ModelSource::CatalogOnly) && names_a_location(&arg.model) {
        return Err(AppError::Usage {
            flag: "MODEL",
            value: arg.model.clone(),
            problem: "a path or a Hub reference; only catalog names are read here".into(),
            hint: Some(
                "pass a catalog name (`sizeup models` lists them), or send the config.json itself"
                    .into(),
            ),
        });
    }
    let read = || match &arg.source {
        ModelSource::Anywhere => source::load(&arg.model),
        ModelSource::CatalogOnly => source::load_catalog(&arg.model),
        ModelSource::ConfigText(text) => from_config_text(&arg.model, text),
    };
    let Some(model_type) = &arg.as_type else {
        return Ok(read()?);
    };
    if !hf::supported_model_types().contains(&model_type.as_str()) {
        return Err(AppError::Usage {
            flag: "--as",
            value: model_type.clone(),
            problem: "not a supported model_type".into(),
            hint: Some("`--as` takes one of the model_types an unsupported-type error lists (e.g. `llama`, `qwen3_moe`)".into()),
        });
    }
    Ok(hf::reading_as(model_type, read)?)
}

/// A MODEL that names a file, folder or Hub revision rather than a catalog entry:
/// a path (a separator beyond one `ORG/NAME` slash, a leading `/`, `.` or `~`, a
/// model file's extension) or a Hub reference (`hf:`, `@REVISION`). A bare
/// `ORG/NAME` stays a name: the catalog knows models by their Hub ids too.
fn names_a_location(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    let parts: Vec<&str> = spec.split('/').collect();
    let folders = parts.len() > 2
        || (parts.len() == 2
            && parts
                .iter()
                .any(|p| p.is_empty() || *p == "." || *p == ".."));
    folders
        || spec.contains(['\\', ':', '@'])
        || spec.starts_with(['/', '.', '~'])
        || [".json", ".gguf", ".safetensors"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

/// A model from a `config.json`'s text, reported as a `config.json` source named
/// `name` (what the CLI shows for the folder `name/config.json`).
fn from_config_text(name: &str, text: &str) -> Result<Loaded, FormatError> {
    let parsed = hf::from_config_str(text)?;
    Ok(Loaded {
        name: name.to_string(),
        source: Source::Config {
            path: PathBuf::from(name),
        },
        arch: parsed.arch,
        assumptions: parsed.assumptions,
        tensors: None,
        quantization: parsed.quantization,
    })
}

/// The model as every report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ModelSummary {
    /// Catalog name, file name or Hub id (`ORG/NAME`).
    pub name: String,
    /// Where the architecture came from (`catalog`, `config.json`, `gguf`, `hub`, `hf-cache`).
    pub source: String,
    /// Hugging Face `model_type`.
    pub model_type: String,
    /// `MHA`, `GQA`, `MQA`, `MLA` (+`SWA`).
    pub attention: String,
    /// `L`.
    pub layers: u64,
    /// `h`.
    pub hidden_size: u64,
    /// `a`.
    pub heads: u64,
    /// `k` (1 for MLA's shared latent).
    pub kv_heads: u64,
    /// `d`.
    pub head_dim: u64,
    /// `V`.
    pub vocab_size: u64,
    /// Longest context the model supports.
    pub max_context: u64,
    /// `E` routed experts and `e` per token, for MoE models.
    pub experts: Option<(u64, u64)>,
}

impl ModelSummary {
    /// Summarize a loaded model.
    pub fn new(loaded: &Loaded) -> ModelSummary {
        ModelSummary::of(&loaded.name, loaded.source.label(), &loaded.arch)
    }

    /// Summarize an architecture with a name and a source label.
    pub fn of(name: &str, source: &str, a: &Architecture) -> ModelSummary {
        ModelSummary {
            name: name.to_string(),
            source: source.to_string(),
            model_type: a.model_type.clone(),
            attention: a.attention_layout(),
            layers: a.num_layers(),
            hidden_size: a.hidden_size,
            heads: a.heads(),
            kv_heads: a.kv_heads(),
            head_dim: a.head_dim(),
            vocab_size: a.vocab_size,
            max_context: a.max_context,
            experts: a.first_moe().map(|m| (m.num_experts, m.experts_per_token)),
        }
    }

    /// `llama, 32 layers, h 4096, GQA 32/8×128`.
    pub fn description(&self) -> String {
        let mut s = format!(
            "{}, {} layers, h {}, {} {}/{}×{}",
            self.model_type,
            self.layers,
            self.hidden_size,
            self.attention,
            self.heads,
            self.kv_heads,
            self.head_dim
        );
        if let Some((e, k)) = self.experts {
            s.push_str(&format!(", {k} of {e} experts"));
        }
        s
    }
}

/// Notes for the human formats: each assumption on a line.
pub fn assumption_notes(assumptions: &[Assumption]) -> Vec<String> {
    if assumptions.is_empty() {
        return Vec::new();
    }
    let mut notes = vec!["assumptions:".to_string()];
    notes.extend(
        assumptions
            .iter()
            .map(|a| format!("  {} = {} ({})", a.name, a.value, a.source)),
    );
    notes
}

#[cfg(test)]
mod tests {
    use super::names_a_location;

    #[test]
    fn a_location_is_told_from_a_name() {
        for location in [
            "../shared/fixtures/models/qwen3-8b",
            "/etc/passwd",
            "./llama",
            "~/models/llama",
            "models/llama/config.json",
            "config.json",
            "model.gguf",
            "hf:Qwen/Qwen3-8B",
            "Qwen/Qwen3-8B@main",
            "C:\\models\\llama",
            "a/",
        ] {
            assert!(names_a_location(location), "{location}");
        }
        for name in [
            "llama-3.1-8b",
            "Qwen/Qwen3-8B",
            "meta-llama/Llama-3.1-8B-Instruct",
            "mamba-2.8b",
        ] {
            assert!(!names_a_location(name), "{name}");
        }
    }
}
