//! `phi`: Phi-1, Phi-1.5, Phi-2.
//!
//! Source: transformers `modeling_phi.py` and `PhiConfig`: one `input_layernorm`
//! feeding attention and MLP in parallel; `q_proj`, `k_proj`, `v_proj` and `dense`
//! always with bias; optional per-head `q_layernorm`/`k_layernorm`
//! (`LayerNorm(d)` with bias, shared across heads) when `qk_layernorm`; `fc1`/`fc2`
//! with bias; `final_layernorm`; an untied `lm_head` with a bias of `V`.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind, NormKind, QkNorm};

use super::config::{Config, KvHeads};
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Read a `phi` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Heads)?;
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
        qkv: true,
        output: true,
    };
    if cfg.flag_or("qk_layernorm", false, "`qk_layernorm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::PerHeadShared;
    }
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
