//! `stablelm`: StableLM 2 and StableLM-3B-4E1T.
//!
//! Source: transformers `modeling_stablelm.py` and `StableLmConfig`: LayerNorm with
//! bias; `input_layernorm`, plus `post_attention_layernorm` unless
//! `use_parallel_residual` (default false); bias on q, k and v when `use_qkv_bias`
//! (default false), none on `o_proj`; with `qk_layernorm` (default false) one
//! `LayerNorm(d, bias=False)` per query head and per key/value head; gated MLP
//! without bias; untied head by default; `num_key_value_heads` defaults to 32.

use super::draft::Draft;
use sizeup_core::arch::{NormKind, QkNorm};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// Read a `stablelm` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(32), HeadDim::Divide, 4096)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv =
        cfg.flag_or("use_qkv_bias", false, "`use_qkv_bias` defaults to false")?;
    if cfg.flag_or("qk_layernorm", false, "`qk_layernorm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::FullScaleOnly;
    }
    arch.norm.kind = NormKind::LayerNorm;
    if cfg.flag_or(
        "use_parallel_residual",
        false,
        "`use_parallel_residual` defaults to false",
    )? {
        arch.norm.per_layer = 1;
        arch.parallel_block = true;
    }
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}
