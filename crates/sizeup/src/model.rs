//! Turning the MODEL argument into an architecture, and summarizing it for reports.

use serde::Serialize;
use sizeup_core::{Architecture, Assumption};
use sizeup_formats::hf;
use sizeup_formats::source::{self, Loaded};

use crate::cli::ModelArg;
use crate::error::AppError;

/// Load a model from a catalog name, a `config.json`, a checkpoint folder, a GGUF file,
/// or a Hugging Face repository (`hf:ORG/NAME`, or a bare `ORG/NAME`), found in the
/// Hugging Face cache first; see `sizeup_formats::source` for the order. The copy
/// read is the first of `Loaded::assumptions`, which every command prints.
///
/// With `--as TYPE`, every `config.json` read is read by that type's reader, and the
/// first assumption says so, unverified.
pub fn load(arg: &ModelArg) -> Result<Loaded, AppError> {
    let read = || match inline_config(&arg.model) {
        Some(inline) => from_inline(&inline),
        None => source::load(&arg.model),
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

/// A `config.json` held in memory, read in place of a file when MODEL names it
/// (the Python binding's `dict` or `PretrainedConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineConfig {
    /// The MODEL argument that means this config, and the name reports show.
    pub name: String,
    /// The `config.json` text.
    pub text: String,
}

thread_local! {
    /// The config [`with_inline_config`] lends to loads on this thread, if any.
    static INLINE: std::cell::RefCell<Option<InlineConfig>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` with MODEL arguments equal to `inline.name` read from `inline.text`
/// (on this thread: commands load their model before any parallel work). Scoped:
/// the previous setting is restored when `f` returns or unwinds.
pub fn with_inline_config<T>(inline: &InlineConfig, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<InlineConfig>);
    impl Drop for Restore {
        fn drop(&mut self) {
            INLINE.with(|r| *r.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(INLINE.with(|r| r.replace(Some(inline.clone()))));
    f()
}

/// The in-memory config MODEL names, if one is lent.
fn inline_config(model: &str) -> Option<InlineConfig> {
    INLINE.with(|r| r.borrow().as_ref().filter(|c| c.name == model).cloned())
}

/// Read an in-memory config as a `config.json` file is read: the same report as
/// for the file, but for the name.
fn from_inline(inline: &InlineConfig) -> Result<Loaded, sizeup_formats::FormatError> {
    let parsed = hf::from_config_str(&inline.text)?;
    Ok(Loaded {
        name: inline.name.clone(),
        source: source::Source::Config {
            path: inline.name.clone().into(),
        },
        arch: parsed.arch,
        assumptions: parsed.assumptions,
        tensors: None,
    })
}

/// The model as every report shows it.
#[derive(Debug, Clone, Serialize)]
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
