//! `falcon`: Falcon 7B/40B/180B and their relatives.
//!
//! Source: transformers `modeling_falcon.py` and `FalconConfig`. The fused
//! `query_key_value` projects to `(a + 2k)·d` with `k = num_kv_heads` under
//! `new_decoder_architecture`, `k = 1` under `multi_query`, else `k = a`; it and
//! `dense` carry a bias when `bias` (default false), as do the MLP's
//! `dense_h_to_4h`/`dense_4h_to_h` (width `ffn_hidden_size`, default `4h`). Norms:
//! `ln_attn` and `ln_mlp` under the new architecture with `num_ln_in_parallel_attn`
//! 2 (its default there); otherwise `input_layernorm`, plus
//! `post_attention_layernorm` when attention and MLP run in sequence. The LM head is
//! tied by default; ALiBi and rotary carry no parameters.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind};

use super::config::Config;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Read a `falcon` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["hidden_size", "n_embed"])?;
    let layers = cfg.layers(&["num_hidden_layers", "n_layer"])?;
    let heads = cfg.size(&["num_attention_heads", "n_head"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    let new_arch = cfg.flag_or(
        "new_decoder_architecture",
        false,
        "`new_decoder_architecture` defaults to false",
    )?;
    let kv_heads = if new_arch {
        let k = match cfg.opt_size(&["num_kv_heads"])? {
            Some(k) => k,
            None => {
                cfg.assume(
                    "num_kv_heads",
                    heads,
                    "`num_kv_heads` absent means num_attention_heads",
                );
                heads
            }
        };
        if heads % k != 0 {
            return Err(cfg.invalid(
                "num_kv_heads",
                k,
                format!("a divisor of the {heads} attention heads"),
            ));
        }
        k
    } else if cfg.flag_or("multi_query", true, "`multi_query` defaults to true")? {
        1
    } else {
        heads
    };
    let parallel = cfg.flag_or("parallel_attn", true, "`parallel_attn` defaults to true")?;
    let bias = cfg.flag_or("bias", false, "`bias` defaults to false")?;
    let ffn = match cfg.opt_size(&["ffn_hidden_size"])? {
        Some(f) => f,
        None => {
            let f = hidden.checked_mul(4).ok_or_else(|| {
                cfg.invalid(
                    "hidden_size",
                    hidden,
                    "a hidden size whose 4h fits in 64 bits",
                )
            })?;
            cfg.assume(
                "ffn_hidden_size",
                f,
                "`ffn_hidden_size` absent means 4 * hidden_size",
            );
            f
        }
    };
    let norms_per_layer = if new_arch {
        let n = cfg.size_or(
            "num_ln_in_parallel_attn",
            2,
            "`num_ln_in_parallel_attn` absent means 2 under new_decoder_architecture",
        )?;
        match n {
            2 => 2,
            // One shared `input_layernorm`; a second one only when attention and MLP
            // run in sequence.
            _ if parallel => 1,
            _ => 2,
        }
    } else if parallel {
        1
    } else {
        2
    };
    let max_context = cfg.context_or(&["max_position_embeddings"], 2048)?;

    let mut arch = llama_like(
        cfg.model_type(),
        Dims {
            hidden,
            layers,
            vocab,
            max_context,
            heads,
            kv_heads,
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
    arch.norm.kind = NormKind::LayerNorm;
    arch.norm.per_layer = norms_per_layer;
    arch.parallel_block = new_arch || parallel;
    arch.embedding.tied = cfg.tied(true)?;
    arch.embedding.alibi = cfg.flag_or(
        "alibi",
        false,
        "`alibi` defaults to false (rotary positions)",
    )?;
    Ok(arch)
}
