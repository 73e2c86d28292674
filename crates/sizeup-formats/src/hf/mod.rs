//! Hugging Face `config.json` → [`Architecture`].
//!
//! The reader dispatches on `model_type` to one file per family or lineage. Each
//! family reads its keys the way its transformers config class does: a key that
//! is absent takes the class default (recorded as an [`Assumption`]), a key the
//! class cannot do without is an error that names the `model_type` and the field.
//! The resulting architecture counts exactly what
//! `AutoModelForCausalLM.from_config(config)` builds (see `tests/fixtures.rs`):
//! `quantization_config` does not change the counts (they are for the unquantized
//! layout; [`quantization`] reads it as the checkpoint's weight format) and
//! multi-token-prediction layers that transformers does not build are not counted.
//! Image-text and audio-text configs (`qwen2_5_vl`, `qwen3_vl`, `mistral3`, `kimi_k25`,
//! `gemma3n`, `mllama`) count the whole `…ForConditionalGeneration`: the language
//! model (`ParamCount::text`) and each encoder and projector as a tower of its own.
//!
//! ```
//! let text = r#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
//!   "num_attention_heads": 32, "num_key_value_heads": 32, "intermediate_size": 11008,
//!   "vocab_size": 32000, "max_position_embeddings": 4096, "tie_word_embeddings": false}"#;
//! let parsed = sizeup_formats::hf::from_config_str(text).unwrap();
//! let count = sizeup_core::params::count(&parsed.arch).unwrap();
//! assert_eq!(count.total, 6_738_415_616); // shared/fixtures/models/llama-2-7b
//! ```

mod bloom;
mod cohere;
mod config;
mod deepseek;
mod deepseek_v4;
pub(crate) mod draft;
mod ernie;
mod exaone;
mod falcon;
mod falcon_h1;
mod gemma;
mod gemma3n;
mod gemma4;
mod glm4;
mod gpt2;
mod gpt_oss;
mod gptj;
mod granite_hybrid;
mod jamba;
mod json;
mod kimi_k25;
mod kimi_linear;
mod lfm2;
mod llama;
mod llama4;
mod mamba;
mod minimax;
mod mistral3;
mod mllama;
mod mpt;
mod nemotron_h;
mod neox;
mod olmo;
mod opt;
mod phi;
mod phimoe;
pub mod quantization;
mod qwen;
mod qwen_next;
mod qwen_vl;
mod seed_oss;
mod siglip;
mod smollm3;
mod stablelm;
mod starcoder2;
#[cfg(test)]
mod tests;

/// The `config.json` of `shared/fixtures/models-2026/<folder>`, for readers' unit tests.
#[cfg(test)]
pub(crate) fn shared_2026_config(folder: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/models-2026")
        .join(folder)
        .join("config.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `config.json` of this crate's `tests/fixtures-2026/<folder>`, for readers' unit tests.
#[cfg(test)]
pub(crate) fn local_2026_config(folder: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures-2026")
        .join(folder)
        .join("config.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The field, value and expectation a refused config is refused with, whether the
/// reader or the check at the door refused it; panics when the config is read.
#[cfg(test)]
pub(crate) fn refusal(config: &Value) -> (String, String, String) {
    match from_config_str(&config.to_string()) {
        Err(FormatError::InvalidField {
            field,
            value,
            expected,
            ..
        }) => (field, value, expected),
        Err(FormatError::Core(sizeup_core::CoreError::Invalid {
            field,
            value,
            expected,
        })) => (field.to_string(), value, expected),
        other => panic!("{config}: expected a refusal naming a field, got {other:?}"),
    }
}

/// `base` with `key` set to `value` is refused naming that key and that value;
/// returns the expectation the refusal states (its fix).
#[cfg(test)]
pub(crate) fn refused(base: &Value, key: &str, value: Value) -> String {
    let mut config = base.clone();
    config[key] = value.clone();
    let (field, shown, expected) = refusal(&config);
    assert_eq!(
        (field.as_str(), shown.as_str()),
        (key, value.to_string().as_str())
    );
    expected
}

/// KV cache elements one token adds to each kind of layer, with the tokens each keeps
/// for a sequence of `seq_len`: `(kind, elements per token, tokens cached) → layers`
/// (blocks that differ only in their FFN merged).
#[cfg(test)]
pub(crate) fn kv_layers(
    arch: &Architecture,
    seq_len: u64,
) -> std::collections::BTreeMap<(String, u64, u64), u64> {
    let req = sizeup_core::kv::KvRequest {
        seq_len,
        batch: 1,
        dtype: sizeup_core::KvDtype::Fp16,
        tp: 1,
        block_tokens: None,
    };
    sizeup_core::kv::by_layer(arch, &req)
        .unwrap()
        .into_iter()
        .fold(std::collections::BTreeMap::new(), |mut m, l| {
            *m.entry((l.kind, l.elements_per_token, l.tokens_cached))
                .or_insert(0) += l.layers;
            m
        })
}

/// Assert a multimodal count against the reference build: every breakdown group
/// (`(name, params)`, absent names are 0), the active parameters, and each
/// `vision_and_projector` tower `(name, params)` in order.
#[cfg(test)]
pub(crate) fn assert_counts(
    config: &Value,
    groups: &[(&str, u64)],
    active: u64,
    towers: &[(&str, u64)],
) {
    let arch = from_config_str(&config.to_string()).unwrap().arch;
    let c = sizeup_core::params::count(&arch).unwrap();
    let b = c.breakdown;
    let ours = [
        ("embedding", b.embedding),
        ("position_embedding", b.position_embedding),
        ("attention", b.attention),
        ("mlp", b.mlp),
        ("moe_routed_experts", b.moe_routed_experts),
        ("moe_shared_experts", b.moe_shared_experts),
        ("moe_router", b.moe_router),
        ("norm", b.norm),
        ("lm_head", b.lm_head),
        ("vision_and_projector", b.vision_and_projector),
        ("other", b.recurrent + b.other),
    ];
    for (name, got) in ours {
        let want = groups
            .iter()
            .find(|(g, _)| *g == name)
            .map_or(0, |(_, n)| *n);
        assert_eq!(got, want, "breakdown.{name}");
    }
    assert_eq!(c.active, active, "active");
    let got: Vec<(&str, u64)> = arch
        .towers
        .iter()
        .filter(|t| t.group == Group::VisionAndProjector)
        .map(|t| (t.name.as_str(), t.params))
        .collect();
    assert_eq!(got, towers, "towers");
    assert_eq!(
        c.text + towers.iter().map(|(_, n)| n).sum::<u64>(),
        c.total,
        "text + towers"
    );
}
mod window;

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use sizeup_core::arch::{
    Architecture, AttentionBias, AttentionKind, Embedding, Group, Mlp, MlpKind, NormKind, Norms,
    QkNorm, Schedule, Tower,
};
use sizeup_core::Assumption;

use crate::error::FormatError;
use config::Config;
use draft::{Draft, DraftAttention, DraftNorms, Ffn};
pub use quantization::Quantization;

/// An architecture read from a config, with the defaults that filled absent keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The model as sizeup describes it.
    pub arch: Architecture,
    /// Each documented default rule that was applied because a key was absent
    /// (`num_key_value_heads = num_attention_heads`, `head_dim = hidden / heads`…).
    pub assumptions: Vec<Assumption>,
    /// How the checkpoint stores its weights, when the config has a `quantization_config`.
    pub quantization: Option<Quantization>,
}

/// How a family is read: into a uniform [`Draft`] laid out by [`Draft::build`], or
/// straight into a layer schedule (hybrid and patterned stacks).
#[derive(Clone, Copy)]
enum Reader {
    Uniform(fn(&mut Config) -> Result<Draft, FormatError>),
    Layered(fn(&mut Config) -> Result<Architecture, FormatError>),
}

use Reader::{Layered, Uniform};

impl Reader {
    fn read(self, cfg: &mut Config) -> Result<Architecture, FormatError> {
        match self {
            Uniform(f) => f(cfg).map(Draft::build),
            Layered(f) => f(cfg),
        }
    }
}

/// Every supported `model_type`, sorted, with its transformers config class and reader.
const READERS: &[(&str, &str, Reader)] = &[
    ("bloom", "BloomConfig", Uniform(bloom::read)),
    ("cohere", "CohereConfig", Uniform(cohere::read)),
    ("cohere2", "Cohere2Config", Uniform(cohere::read_cohere2)),
    (
        "deepseek_v2",
        "DeepseekV2Config",
        Uniform(deepseek::read_v2),
    ),
    (
        "deepseek_v3",
        "DeepseekV3Config",
        Layered(deepseek::read_v3_with_mtp),
    ),
    (
        "deepseek_v32",
        "DeepseekV32Config",
        Layered(deepseek::read_v32),
    ),
    (
        "deepseek_v4",
        "DeepseekV4Config",
        Layered(deepseek_v4::read),
    ),
    ("ernie4_5", "Ernie4_5Config", Uniform(ernie::read_ernie4_5)),
    (
        "ernie4_5_moe",
        "Ernie4_5_MoeConfig",
        Layered(ernie::read_ernie4_5_moe),
    ),
    ("exaone4", "Exaone4Config", Uniform(exaone::read)),
    ("falcon", "FalconConfig", Uniform(falcon::read)),
    ("falcon_h1", "FalconH1Config", Layered(falcon_h1::read)),
    ("gemma", "GemmaConfig", Uniform(gemma::read_gemma)),
    ("gemma2", "Gemma2Config", Uniform(gemma::read_gemma2)),
    ("gemma3", "Gemma3Config", Uniform(gemma::read_gemma3)),
    (
        "gemma3_text",
        "Gemma3TextConfig",
        Uniform(gemma::read_gemma3_text),
    ),
    ("gemma3n", "Gemma3nConfig", Layered(gemma3n::read)),
    ("gemma4", "Gemma4Config", Layered(gemma4::read)),
    ("glm", "GlmConfig", Uniform(llama::read_glm)),
    ("glm4", "Glm4Config", Uniform(glm4::read_glm4)),
    ("glm4_moe", "Glm4MoeConfig", Layered(glm4::read_glm4_moe)),
    (
        "glm4_moe_lite",
        "Glm4MoeLiteConfig",
        Layered(glm4::read_glm4_moe_lite),
    ),
    (
        "glm_moe_dsa",
        "GlmMoeDsaConfig",
        Layered(glm4::read_glm_moe_dsa),
    ),
    ("gpt2", "GPT2Config", Uniform(gpt2::read)),
    ("gpt_neox", "GPTNeoXConfig", Uniform(neox::read)),
    ("gpt_oss", "GptOssConfig", Uniform(gpt_oss::read)),
    ("gptj", "GPTJConfig", Uniform(gptj::read)),
    ("granite", "GraniteConfig", Uniform(llama::read_llama)),
    (
        "granitemoe",
        "GraniteMoeConfig",
        Uniform(llama::read_granitemoe),
    ),
    (
        "granitemoehybrid",
        "GraniteMoeHybridConfig",
        Layered(granite_hybrid::read),
    ),
    ("jamba", "JambaConfig", Layered(jamba::read)),
    // Kimi K2 ships remote code whose config class is DeepseekV3Config
    (
        "kimi_k2",
        "DeepseekV3Config",
        Layered(deepseek::read_v3_with_mtp),
    ),
    ("kimi_k25", "Kimi_K25Config", Layered(kimi_k25::read)),
    (
        "kimi_linear",
        "KimiLinearConfig",
        Layered(kimi_linear::read),
    ),
    ("lfm2", "Lfm2Config", Layered(lfm2::read)),
    ("llama", "LlamaConfig", Uniform(llama::read_llama)),
    ("llama4", "Llama4Config", Layered(llama4::read)),
    ("mamba", "MambaConfig", Layered(mamba::read_mamba)),
    ("mamba2", "Mamba2Config", Layered(mamba::read_mamba2)),
    ("minimax_m2", "MiniMaxM2Config", Uniform(minimax::read)),
    (
        "ministral3",
        "Ministral3Config",
        Uniform(mistral3::read_ministral3),
    ),
    ("mistral", "MistralConfig", Uniform(llama::read_mistral)),
    ("mistral3", "Mistral3Config", Layered(mistral3::read)),
    ("mixtral", "MixtralConfig", Uniform(llama::read_mixtral)),
    ("mllama", "MllamaConfig", Layered(mllama::read)),
    ("mpt", "MptConfig", Uniform(mpt::read)),
    ("nemotron_h", "NemotronHConfig", Layered(nemotron_h::read)),
    ("olmo", "OlmoConfig", Uniform(olmo::read_olmo)),
    ("olmo2", "Olmo2Config", Uniform(olmo::read_olmo2)),
    ("olmo3", "Olmo3Config", Uniform(olmo::read_olmo3)),
    ("olmoe", "OlmoeConfig", Uniform(olmo::read_olmoe)),
    ("opt", "OPTConfig", Uniform(opt::read)),
    ("phi", "PhiConfig", Uniform(phi::read)),
    ("phi3", "Phi3Config", Uniform(llama::read_phi3)),
    ("phimoe", "PhimoeConfig", Uniform(phimoe::read)),
    ("qwen2", "Qwen2Config", Uniform(qwen::read_qwen2)),
    (
        "qwen2_5_vl",
        "Qwen2_5_VLConfig",
        Layered(qwen_vl::read_qwen2_5_vl),
    ),
    ("qwen2_moe", "Qwen2MoeConfig", Uniform(qwen::read_qwen2_moe)),
    ("qwen3", "Qwen3Config", Uniform(qwen::read_qwen3)),
    ("qwen3_5", "Qwen3_5Config", Layered(qwen_next::read_qwen3_5)),
    (
        "qwen3_5_moe",
        "Qwen3_5MoeConfig",
        Layered(qwen_next::read_qwen3_5_moe),
    ),
    ("qwen3_moe", "Qwen3MoeConfig", Uniform(qwen::read_qwen3_moe)),
    (
        "qwen3_next",
        "Qwen3NextConfig",
        Layered(qwen_next::read_qwen3_next),
    ),
    ("qwen3_vl", "Qwen3VLConfig", Layered(qwen_vl::read_qwen3_vl)),
    (
        "qwen3_vl_moe",
        "Qwen3VLMoeConfig",
        Layered(qwen_vl::read_qwen3_vl_moe),
    ),
    ("seed_oss", "SeedOssConfig", Uniform(seed_oss::read)),
    ("smollm3", "SmolLM3Config", Uniform(smollm3::read)),
    ("stablelm", "StableLmConfig", Uniform(stablelm::read)),
    ("starcoder2", "Starcoder2Config", Uniform(starcoder2::read)),
];

thread_local! {
    /// The reader [`reading_as`] names for configs read on this thread, if any.
    static READ_AS: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` with every `config.json` it reads (on this thread) read by the reader of
/// `model_type` whatever type the config names, recorded as an unverified assumption
/// (the CLI's `--as TYPE`). Scoped: the previous setting is restored when `f` returns
/// or unwinds.
///
/// # Errors
/// [`FormatError::UnsupportedModelType`] when `model_type` has no reader.
pub fn reading_as<T>(
    model_type: &str,
    f: impl FnOnce() -> Result<T, FormatError>,
) -> Result<T, FormatError> {
    if !supported_model_types().contains(&model_type) {
        return Err(FormatError::UnsupportedModelType {
            model_type: model_type.to_string(),
            nearest: nearest_types(model_type),
            supported: supported_model_types()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        });
    }
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            READ_AS.with(|r| *r.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(READ_AS.with(|r| r.replace(Some(model_type.to_string()))));
    f()
}

/// Up to three supported types nearest to `wanted`: those sharing its family prefix
/// (`qwen3_vl_moe2` → `qwen3_vl_moe`), then by Jaro–Winkler similarity above 0.8.
fn nearest_types(wanted: &str) -> Vec<String> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = supported_model_types()
        .iter()
        .map(|t| {
            let prefix = wanted.starts_with(t) || t.starts_with(wanted.as_str());
            let score = strsim::jaro_winkler(&wanted, t) + if prefix { 1.0 } else { 0.0 };
            (score, *t)
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, t)| t.to_string())
        .collect()
}

/// Every `model_type` the reader understands, sorted.
pub fn supported_model_types() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| READERS.iter().map(|(name, _, _)| *name).collect())
}

/// Read a `config.json` text into an architecture.
///
/// # Errors
/// [`FormatError::Json`] (with line and column) for malformed or truncated JSON;
/// [`FormatError::MissingModelType`], [`FormatError::UnsupportedModelType`],
/// [`FormatError::MissingField`] and [`FormatError::InvalidField`] for configs that
/// do not describe a supported model; [`FormatError::Core`] when a count overflows.
pub fn from_config_str(text: &str) -> Result<Parsed, FormatError> {
    parse(text, "config.json")
}

/// Read a `config.json` file, or the `config.json` inside a directory.
///
/// # Errors
/// [`FormatError::Io`] when the path cannot be read, [`FormatError::NoConfigInDirectory`]
/// for a directory without one, then as [`from_config_str`].
pub fn from_config_path(path: &Path) -> Result<Parsed, FormatError> {
    let file = if path.is_dir() {
        let inner = path.join("config.json");
        if !inner.is_file() {
            return Err(FormatError::NoConfigInDirectory {
                path: path.to_path_buf(),
            });
        }
        inner
    } else {
        path.to_path_buf()
    };
    let text = crate::file::read_text(&file, crate::file::MAX_CONFIG_BYTES)?;
    parse(&text, &file.display().to_string())
}

fn parse(text: &str, context: &str) -> Result<Parsed, FormatError> {
    let json_error = |e: serde_json::Error| FormatError::Json {
        context: context.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    // Python's json module writes `Infinity`, `-Infinity` and `NaN`, which strict JSON
    // has no token for (Nemotron-H's `time_step_limit: [0.0, Infinity]`). Such a
    // config is read again with those tokens as strings: no size is ever a string, so
    // a field sizeup reads that holds one is still refused by name; the original
    // error is the one reported when the text is malformed otherwise.
    let (value, non_finite): (Value, bool) = match serde_json::from_str(text) {
        Ok(v) => (v, false),
        Err(e) => match json::non_finite_as_strings(text) {
            Some(fixed) => (
                serde_json::from_str(&fixed).map_err(|_| json_error(e))?,
                true,
            ),
            None => return Err(json_error(e)),
        },
    };
    let map = value
        .as_object()
        .ok_or_else(|| FormatError::MissingModelType {
            context: context.to_string(),
        })?;
    let mut parsed = from_map(map, context)?;
    if non_finite {
        parsed.assumptions.push(Assumption::new(
            "non-finite numbers",
            "read as text",
            format!(
                "{context} holds `Infinity` or `NaN` (Python's json writes them; strict JSON \
                 has no such token); no field sizeup reads may hold one"
            ),
        ));
    }
    Ok(parsed)
}

/// Read an already parsed config object.
fn from_map(map: &Map<String, Value>, context: &str) -> Result<Parsed, FormatError> {
    let model_type = map
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::MissingModelType {
            context: context.to_string(),
        })?;
    let read_as = READ_AS.with(|r| r.borrow().clone());
    let wanted = read_as.as_deref().unwrap_or(model_type);
    let (name, class, reader) = READERS
        .iter()
        .find(|(name, _, _)| *name == wanted)
        .ok_or_else(|| FormatError::UnsupportedModelType {
            model_type: wanted.to_string(),
            nearest: nearest_types(wanted),
            supported: supported_model_types()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        })?;
    let mut cfg = Config::new(map, name, class);
    let mut arch = reader.read(&mut cfg)?;
    cfg.refuse_unread_overrides()?;
    let read_as_note = (*name != model_type).then(|| {
        // keep the config's own type in reports; the reader used is an assumption
        arch.model_type = model_type.to_string();
        Assumption::new(
            "read as",
            format!("`{name}` (--as)"),
            format!(
                "UNVERIFIED: the config names `{model_type}`; the `{name}` reader read it, \
                 so any tensor `{model_type}` has beyond or instead of `{name}`'s is miscounted"
            ),
        )
    });
    // Reject at the door what no estimate could use (counts that overflow a u64,
    // impossible expert routing, absurd layer counts), not later in some report.
    arch.check()?;
    let mut assumptions = cfg.take_assumptions();
    if let Some(note) = read_as_note {
        assumptions.insert(0, note);
    }
    Ok(Parsed {
        arch,
        assumptions,
        quantization: quantization::read(map),
    })
}

/// A tower (an encoder or one of its projectors) beside the language model, named by
/// its module path and counted in `vision_and_projector`.
pub(crate) fn tower_part(name: &str, params: u64) -> Tower {
    Tower {
        name: name.to_string(),
        params,
        group: Group::VisionAndProjector,
    }
}

/// The sizes every standard-attention decoder has.
/// The outside of a decoder of today's families: RMSNorm, a final norm, no learned
/// positions, no LM-head bias, no MTP layers or towers yet; `layers` is the stack.
pub(crate) struct Decoder {
    pub hidden: u64,
    pub vocab: u64,
    pub max_context: u64,
    pub tied: bool,
}

impl Decoder {
    /// The architecture with this outside around `layers`.
    pub(crate) fn around(self, model_type: &str, layers: Schedule) -> Architecture {
        Architecture {
            model_type: model_type.to_string(),
            hidden_size: self.hidden,
            vocab_size: self.vocab,
            max_context: self.max_context,
            layers,
            norm: Norms {
                kind: NormKind::RmsNorm,
                final_norm: true,
                embedding_norm: false,
            },
            embedding: Embedding {
                tied: self.tied,
                learned_positions: 0,
                lm_head_bias: false,
                alibi: false,
            },
            mtp: None,
            towers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    /// `h`.
    pub hidden: u64,
    /// `L`.
    pub layers: u64,
    /// `V`.
    pub vocab: u64,
    /// Longest context.
    pub max_context: u64,
    /// `a`.
    pub heads: u64,
    /// `k`.
    pub kv_heads: u64,
    /// `d`.
    pub head_dim: u64,
    /// `f` of the dense MLP.
    pub ffn: u64,
}

/// A Llama-shaped decoder: RMSNorm before attention and MLP plus a final norm,
/// gated MLP, no biases, untied head, no window. Families start here and change
/// what differs.
pub(crate) fn llama_like(model_type: &str, d: Dims) -> Draft {
    Draft {
        model_type: model_type.to_string(),
        hidden_size: d.hidden,
        num_layers: d.layers,
        vocab_size: d.vocab,
        max_context: d.max_context,
        attention: DraftAttention {
            kind: AttentionKind::Standard {
                heads: d.heads,
                kv_heads: d.kv_heads,
                head_dim: d.head_dim,
            },
            bias: AttentionBias::default(),
            qk_norm: QkNorm::None,
            sinks: false,
            window: None,
        },
        ffn: Ffn {
            dense: Mlp {
                kind: MlpKind::Gated,
                intermediate_size: d.ffn,
                bias: false,
            },
            moe: None,
        },
        norm: DraftNorms {
            kind: NormKind::RmsNorm,
            per_layer: 2,
            final_norm: true,
            embedding_norm: false,
        },
        embedding: Embedding {
            tied: false,
            learned_positions: 0,
            lm_head_bias: false,
            alibi: false,
        },
        parallel_block: false,
        extra: Vec::new(),
    }
}

/// Read the Llama-style keys (`hidden_size`, `num_hidden_layers`, `vocab_size`,
/// `num_attention_heads`, `num_key_value_heads`, `head_dim`, `intermediate_size`,
/// `max_position_embeddings`) with the class's defaults for the optional ones.
pub(crate) fn llama_dims(
    cfg: &mut Config,
    kv_default: config::KvHeads,
    head_dim_default: config::HeadDim,
    context_default: u64,
) -> Result<Dims, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, kv_default)?;
    let head_dim = cfg.head_dim(hidden, heads, head_dim_default)?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], context_default)?;
    Ok(Dims {
        hidden,
        layers,
        vocab,
        max_context,
        heads,
        kv_heads,
        head_dim,
        ffn,
    })
}
