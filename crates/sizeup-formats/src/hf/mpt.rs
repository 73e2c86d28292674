//! `mpt`: MosaicML MPT.
//!
//! Source: transformers `modeling_mpt.py` and `MptConfig`: per block `norm_1`,
//! fused `Wqkv` (`h×3h`) and `out_proj` without bias, `norm_2`, `up_proj`/`down_proj`
//! of width `4h` without bias; final `norm_f`; every LayerNorm has its bias removed
//! (`norm.bias = None`); ALiBi positions (no table); LM head tied by default.
//!
//! # Assumptions / limits
//! transformers builds the MLP as `4·d_model` and multi-head attention whatever
//! `expansion_ratio` or `attn_config.kv_n_heads` say, so the count follows it.

use super::draft::Draft;
use sizeup_core::arch::{Mlp, MlpKind, NormKind};

use super::config::{Config, Field};
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Read an `mpt` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["d_model", "hidden_size"])?;
    let layers = cfg.layers(&["n_layers", "num_hidden_layers"])?;
    let heads = cfg.size(&["n_heads", "num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let head_dim = cfg.divide_heads(hidden, heads, "n_heads")?;
    let max_context = cfg.context_or(&["max_seq_len", "max_position_embeddings"], 2048)?;
    let ffn = hidden
        .checked_mul(4)
        .ok_or_else(|| cfg.invalid("d_model", hidden, "a hidden size whose 4h fits in 64 bits"))?;
    let ratio = match cfg.field("expansion_ratio") {
        Field::Value(v) => v.as_f64(),
        Field::Absent | Field::Null => None,
    };
    if ratio.is_some_and(|r| r != 4.0) {
        cfg.assume(
            "expansion_ratio",
            "4 (ignored)",
            "MptMLP is built 4 * d_model wide whatever `expansion_ratio` says",
        );
    }
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
        bias: false,
    };
    arch.norm.kind = NormKind::LayerNormNoBias;
    arch.embedding.tied = cfg.tied(true)?;
    arch.embedding.alibi = true;
    Ok(arch)
}
