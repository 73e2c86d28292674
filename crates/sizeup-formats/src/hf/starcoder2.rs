//! `starcoder2`: StarCoder2.
//!
//! Source: transformers `modeling_starcoder2.py` and `Starcoder2Config`: LayerNorm
//! with bias (two per block and a final one); q, k, v, o and the plain MLP's
//! `c_fc`/`c_proj` with biases when `use_bias` (default true); `sliding_window`
//! (default none) on every layer; `num_key_value_heads` defaults to 2 and the LM
//! head is tied by default.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// Read a `starcoder2` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(2), HeadDim::Divide, 4096)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or("use_bias", true, "`use_bias` defaults to true")?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.ffn.dense = Mlp {
        kind: MlpKind::Plain,
        intermediate_size: dims.ffn,
        bias,
    };
    arch.norm.kind = NormKind::LayerNorm;
    arch.embedding.tied = cfg.tied(true)?;
    let size = window::size(cfg, None)?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    Ok(arch)
}
