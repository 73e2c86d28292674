//! `gpt_neox`: GPT-NeoX, Pythia, RedPajama-INCITE.
//!
//! Source: transformers `modeling_gpt_neox.py`: `input_layernorm` and
//! `post_attention_layernorm` in every block (also with `use_parallel_residual`),
//! fused `query_key_value` and `dense` with biases when `attention_bias` (default
//! true), `dense_h_to_4h`/`dense_4h_to_h` always with bias, `final_layer_norm`, an
//! untied `embed_out` by default.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// Read a `gpt_neox` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 2048)?;
    if dims.kv_heads != dims.heads {
        return Err(cfg.invalid(
            "num_key_value_heads",
            dims.kv_heads,
            format!(
                "equal to num_attention_heads ({}): GPT-NeoX attention is multi-head",
                dims.heads
            ),
        ));
    }
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.ffn.dense = Mlp {
        kind: MlpKind::Plain,
        intermediate_size: dims.ffn,
        bias: true,
    };
    arch.norm.kind = NormKind::LayerNorm;
    arch.parallel_block = cfg.flag_or(
        "use_parallel_residual",
        true,
        "`use_parallel_residual` defaults to true",
    )?;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}
