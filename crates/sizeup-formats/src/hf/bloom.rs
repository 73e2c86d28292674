//! `bloom`: BigScience BLOOM.
//!
//! Source: transformers `modeling_bloom.py`: `word_embeddings_layernorm` right after
//! the embedding; `input_layernorm`, fused `query_key_value` (`h×3h` + bias),
//! `dense` (+ bias), `post_attention_layernorm`, `dense_h_to_4h`/`dense_4h_to_h`
//! (`4h`, with biases) per block; final `ln_f`; ALiBi positions (no table); the LM
//! head is tied by default (BloomConfig).

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::Config;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// The context BLOOM was trained with, used when the config names none: BloomConfig
/// has no `max_position_embeddings` (ALiBi). Source: BigScience, "BLOOM: A
/// 176B-Parameter Open-Access Multilingual Language Model" (2022), training
/// sequence length 2048.
const TRAINED_CONTEXT: u64 = 2048;

/// Read a `bloom` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["hidden_size", "n_embed"])?;
    let layers = cfg.layers(&["n_layer", "num_hidden_layers"])?;
    let heads = cfg.size(&["n_head", "num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "n_head")?;
    let ffn = hidden.checked_mul(4).ok_or_else(|| {
        cfg.invalid(
            "hidden_size",
            hidden,
            "a hidden size whose 4h fits in 64 bits",
        )
    })?;
    let max_context = match cfg.opt_size(&["seq_length", "max_position_embeddings"])? {
        Some(c) => c,
        None => {
            cfg.assume(
                "max_context",
                TRAINED_CONTEXT,
                "BloomConfig has no context length (ALiBi); BLOOM was trained on 2048-token sequences",
            );
            TRAINED_CONTEXT
        }
    };
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
    arch.embedding.alibi = true;
    arch.attention.bias = AttentionBias {
        qkv: true,
        output: true,
    };
    arch.ffn.dense = Mlp {
        kind: MlpKind::Plain,
        intermediate_size: ffn,
        bias: true,
    };
    arch.norm.kind = NormKind::LayerNorm;
    arch.norm.embedding_norm = true;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}
