//! `opt`: Meta's OPT.
//!
//! Source: transformers `modeling_opt.py` and `OPTConfig`: learned positions with
//! `max_position_embeddings + 2` rows (`OPTLearnedPositionalEmbedding` keeps an
//! offset of 2); q, k, v, out and `fc1`/`fc2` with biases when `enable_bias`
//! (default true); `self_attn_layer_norm` and `final_layer_norm` in every block,
//! with weights when `layer_norm_elementwise_affine` (default true); a final norm
//! when `do_layer_norm_before` (default true) and not `_remove_final_layer_norm`;
//! the LM head is tied by default.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::Config;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Rows `OPTLearnedPositionalEmbedding` adds to `max_position_embeddings`.
const POSITION_OFFSET: u64 = 2;

/// Read an `opt` config.
///
/// # Errors
/// [`FormatError::InvalidField`] for `word_embed_proj_dim` different from
/// `hidden_size` (OPT-350m's projected embeddings are not modelled).
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let ffn = cfg.size(&["ffn_dim"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    if let Some(p) = cfg.opt_size(&["word_embed_proj_dim"])? {
        if p != hidden {
            return Err(cfg.invalid(
                "word_embed_proj_dim",
                p,
                format!("equal to hidden_size ({hidden}); projected embeddings (project_in/project_out) are not modelled"),
            ));
        }
    }
    let max_context = cfg.context_or(&["max_position_embeddings"], 2048)?;
    let positions = max_context.checked_add(POSITION_OFFSET).ok_or_else(|| {
        cfg.invalid(
            "max_position_embeddings",
            max_context,
            "a count below 2^64 - 2",
        )
    })?;
    let bias = cfg.flag_or("enable_bias", true, "`enable_bias` defaults to true")?;
    let affine = cfg.flag_or(
        "layer_norm_elementwise_affine",
        true,
        "`layer_norm_elementwise_affine` defaults to true",
    )?;
    let before = cfg.flag_or(
        "do_layer_norm_before",
        true,
        "`do_layer_norm_before` defaults to true",
    )?;
    let removed = cfg.flag_or(
        "_remove_final_layer_norm",
        false,
        "`_remove_final_layer_norm` defaults to false",
    )?;

    let mut arch = llama_like(
        cfg.model_type(),
        Dims {
            hidden,
            layers,
            vocab,
            max_context,
            heads,
            kv_heads: heads,
            head_dim,
            ffn,
        },
    );
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.ffn.dense = Mlp {
        kind: MlpKind::Plain,
        intermediate_size: ffn,
        bias,
    };
    arch.norm.kind = if affine {
        NormKind::LayerNorm
    } else {
        NormKind::NonParametric
    };
    arch.norm.final_norm = before && !removed;
    arch.embedding.learned_positions = positions;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}
