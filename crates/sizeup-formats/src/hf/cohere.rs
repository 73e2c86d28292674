//! `cohere`: Cohere Command-R.
//!
//! Source: transformers `modeling_cohere.py` and `CohereConfig`: one
//! `CohereLayerNorm` (a scale, no bias) feeding attention and MLP in parallel, and a
//! final one; q, k, v, o with biases when `attention_bias` (default false); with
//! `use_qk_norm` (default false) scale-only norms of shape `(a, d)` on queries and
//! `(k, d)` on keys; gated MLP without bias; LM head tied by default.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, NormKind, QkNorm};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// Read a `cohere` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 8192)?;
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
    if cfg.flag_or("use_qk_norm", false, "`use_qk_norm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::Full;
    }
    arch.norm.kind = NormKind::LayerNormNoBias;
    arch.norm.per_layer = 1;
    arch.parallel_block = true;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}
