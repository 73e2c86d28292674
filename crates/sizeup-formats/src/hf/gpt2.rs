//! `gpt2`: GPT-2 and the GPT-3-style decoders that reuse its config.
//!
//! Source: transformers `modeling_gpt2.py`: learned positions `wpe` of `n_positions`
//! rows; per block `ln_1`, `c_attn` (`h×3h` + bias), `c_proj` (`h×h` + bias), `ln_2`,
//! `c_fc` (`h×f` + bias), `c_proj` (`f×h` + bias); a final `ln_f`; the LM head is
//! tied to `wte` by default (GPT2Config).

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::Config;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// The MLP width of GPT-2-style configs: `n_inner`, or `4h` when absent or null.
pub(super) fn inner_or_4h(cfg: &mut Config, hidden: u64) -> Result<u64, FormatError> {
    match cfg.opt_size(&["n_inner"])? {
        Some(f) => Ok(f),
        None => {
            let f = hidden.checked_mul(4).ok_or_else(|| {
                cfg.invalid("n_embd", hidden, "a hidden size whose 4h fits in 64 bits")
            })?;
            cfg.assume("n_inner", f, "`n_inner` absent or null means 4 * n_embd");
            Ok(f)
        }
    }
}

/// Read a `gpt2` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["n_embd", "hidden_size"])?;
    let layers = cfg.layers(&["n_layer", "num_hidden_layers"])?;
    let heads = cfg.size(&["n_head", "num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "n_head")?;
    let positions = cfg.context_or(&["n_positions", "max_position_embeddings"], 1024)?;
    let ffn = inner_or_4h(cfg, hidden)?;
    let mut arch = llama_like(
        cfg.model_type(),
        Dims {
            hidden,
            layers,
            vocab,
            max_context: positions,
            heads,
            kv_heads: heads,
            head_dim,
            ffn,
        },
    );
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
    arch.embedding.learned_positions = positions;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}
