//! The OLMo lineage: olmo, olmo2, olmo3.
//!
//! Sources: transformers `modeling_olmo.py` (LayerNorm without any learned
//! parameter, pre-norm), `modeling_olmo2.py` (RMSNorm after attention and after the
//! MLP instead of before, q/k RMSNorm over the whole projection: `a·d` and `k·d`),
//! `modular_olmo3.py` (OLMo 2's block with sliding windows on three of every four
//! layers) and their configuration classes. All: q, k, v, o with biases when
//! `attention_bias` (default false), gated MLP without bias, untied head by default.

use super::draft::{Draft, Moe};
use sizeup_core::arch::{AttentionBias, NormKind, QkNorm};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

fn read_common(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 2048)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

/// `olmo` (OLMo 1): non-parametric LayerNorms, so no `norm` parameters at all.
pub(super) fn read_olmo(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = read_common(cfg)?;
    arch.norm.kind = NormKind::NonParametric;
    Ok(arch)
}

/// `olmo2`: two RMSNorms per block (post-attention, post-MLP) and full-width q/k norms.
pub(super) fn read_olmo2(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = read_common(cfg)?;
    arch.attention.qk_norm = QkNorm::Full;
    Ok(arch)
}

/// `olmo3`: OLMo 2 with `sliding_window` (default 4096) on layers where
/// `(i + 1) % 4 != 0`, unless `layer_types` says otherwise.
///
/// # Example
/// A hand-made config (no OLMo 3 fixture exists):
/// ```
/// let text = r#"{"model_type": "olmo3", "hidden_size": 64, "num_hidden_layers": 8,
///   "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}"#;
/// let arch = sizeup_formats::hf::from_config_str(text).unwrap().arch;
/// let w = arch.sliding_window().unwrap();
/// assert_eq!((w.0, w.1), (4096, 6)); // layers 3 and 7 are global
/// ```
pub(super) fn read_olmo3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = read_olmo2(cfg)?;
    let size = window::size(cfg, Some(4096))?;
    let layers = arch.num_layers;
    let local = window::local_layers(
        cfg,
        layers,
        "layers with (i + 1) % 4 != 0 slide",
        window::all_but_every_nth(layers, 4),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(arch)
}

/// `olmoe`: OLMo 2 attention (full-width q/k norms) with every MLP a mixture of
/// `num_experts` (default 64) experts of `intermediate_size`, `num_experts_per_tok`
/// (default 8) per token; no shared expert.
///
/// # Source
/// transformers `models/olmoe/modeling_olmoe.py` (`OlmoeSparseMoeBlock`).
pub(super) fn read_olmoe(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = read_olmo2(cfg)?;
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size_or("num_experts", 64, "`num_experts` defaults to 64")?,
        experts_per_token: cfg.size_or(
            "num_experts_per_tok",
            8,
            "`num_experts_per_tok` defaults to 8",
        )?,
        expert: arch.ffn.dense,
        shared: None,
        moe_layers: arch.num_layers,
        router_bias: false,
    });
    Ok(arch)
}
