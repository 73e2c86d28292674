//! `gptj`: GPT-J.
//!
//! Source: transformers `modeling_gptj.py`: attention and MLP in parallel after one
//! `ln_1`; q, k, v and out projections without bias; `fc_in`/`fc_out` with bias;
//! final `ln_f`; an untied `lm_head` with a bias of `V` (GPTJConfig ties nothing
//! by default).

use super::draft::Draft;
use sizeup_core::arch::{Mlp, MlpKind, NormKind};

use super::config::Config;
use super::gpt2::inner_or_4h;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Read a `gptj` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["n_embd", "hidden_size"])?;
    let layers = cfg.layers(&["n_layer", "num_hidden_layers"])?;
    let heads = cfg.size(&["n_head", "num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "n_head")?;
    let max_context = cfg.context_or(&["n_positions", "max_position_embeddings"], 2048)?;
    let ffn = inner_or_4h(cfg, hidden)?;
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
    arch.ffn.dense = Mlp {
        kind: MlpKind::Plain,
        intermediate_size: ffn,
        bias: true,
    };
    arch.norm.kind = NormKind::LayerNorm;
    arch.norm.per_layer = 1;
    arch.parallel_block = true;
    arch.embedding.tied = cfg.tied(false)?;
    arch.embedding.lm_head_bias = true;
    Ok(arch)
}
