//! lfm2 (Liquid LFM2): gated short convolutions in most layers, grouped-query
//! attention in the others (`layer_types`, else `full_attn_idxs`).
//!
//! # Formula
//! ```text
//! conv layer:      in_proj 3h×h, conv h·ck, out_proj h×h (each + bias with conv_bias)
//! attention layer: q a·d×h, k, v k·d×h, out_proj h×a·d, q/k RMSNorm d each
//! every layer:     SwiGLU w1, w3 f'×h, w2 h×f'; operator_norm, ffn_norm (RMSNorm h)
//! f' = f, or with block_auto_adjust_ff_dim: f₁ = ⌊2f/3⌋, then (with a multiplier m)
//!      m_of·⌈⌊m·f₁⌋ / m_of⌉
//! one RMSNorm h after the stack (named embedding_norm); head tied by default
//! state per sequence per conv layer: h·ck (no recurrent state)
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` head width (h/a), `f`
//! `block_ff_dim` or `intermediate_size`, `ck` `conv_L_cache`, `m`
//! `block_ffn_dim_multiplier`, `m_of` `block_multiple_of`.
//!
//! # Source
//! transformers 5.x `models/lfm2/{configuration,modeling}_lfm2.py` (`Lfm2Config`
//! pops `block_ff_dim` into `intermediate_size` and `tie_embedding` into
//! `tie_word_embeddings`; `Lfm2MLP`, `Lfm2ShortConv`, `Lfm2Attention`). The conv state
//! is what transformers' `DynamicCache` allocates: `LinearAttentionLayer`
//! `conv_states[0]` `(batch, h, ck)`.

use serde_json::Value;
use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp, MlpKind,
    NamedTensor, QkNorm, Recurrent, RecurrentKind, Schedule,
};
use sizeup_core::units::product;

use super::config::{Config, Field, HeadDim, KvHeads};
use super::window;
use super::Decoder;
use crate::error::FormatError;

const Q: &str = "LFM2 tensor size";

/// The `layer_types` entry of a short-convolution layer.
const CONV: &str = "conv";

/// `true` for each attention layer: `layer_types` when given, else layer `i` is
/// attention iff `i ∈ full_attn_idxs` (absent: every layer).
fn attention_layers(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    if let Some(types) = cfg.layer_types(layers, &[window::FULL, CONV])? {
        return Ok(types.iter().map(|t| *t == window::FULL).collect());
    }
    let Some(idxs) = cfg.opt_counts("full_attn_idxs")? else {
        cfg.assume(
            "full_attn_idxs",
            "every layer",
            "`layer_types` and `full_attn_idxs` absent mean attention in every layer",
        );
        return Ok(vec![true; layers as usize]);
    };
    if let Some(bad) = idxs.iter().find(|&&i| i >= layers) {
        return Err(cfg.invalid(
            "full_attn_idxs",
            format!("an index {bad}"),
            format!("layer indices below num_hidden_layers ({layers})"),
        ));
    }
    Ok((0..layers).map(|i| idxs.contains(&i)).collect())
}

/// The SwiGLU width `Lfm2MLP` builds from the config.
fn ffn_width(cfg: &mut Config) -> Result<u64, FormatError> {
    let f = match cfg.opt_size(&["block_ff_dim"])? {
        Some(f) => f,
        None => cfg.size_or(
            "intermediate_size",
            12_288,
            "`intermediate_size` defaults to 12288",
        )?,
    };
    let adjust = cfg.flag_or(
        "block_auto_adjust_ff_dim",
        true,
        "`block_auto_adjust_ff_dim` defaults to true",
    )?;
    if !adjust {
        return Ok(f);
    }
    let multiplier = match cfg.field("block_ffn_dim_multiplier") {
        Field::Null => None,
        Field::Absent => {
            cfg.assume(
                "block_ffn_dim_multiplier",
                1.0,
                "`block_ffn_dim_multiplier` defaults to 1.0",
            );
            Some(1.0)
        }
        Field::Value(v) => match v.as_f64() {
            Some(m) if m.is_finite() && m > 0.0 => Some(m),
            _ => return Err(cfg.invalid("block_ffn_dim_multiplier", v, "a positive number")),
        },
    };
    let multiple = cfg.size_or(
        "block_multiple_of",
        256,
        "`block_multiple_of` defaults to 256",
    )?;
    // int(2 * f / 3) in Python: a float division truncated
    let mut width = (2.0 * f as f64 / 3.0) as u64;
    if let Some(m) = multiplier {
        width = (m * width as f64) as u64;
        width = width.div_ceil(multiple).saturating_mul(multiple);
    }
    if width == 0 {
        return Err(cfg.invalid(
            "intermediate_size",
            f,
            "a width that stays positive after ⌊2f/3⌋ and the multiplier",
        ));
    }
    Ok(width)
}

/// `tie_embedding` (an older key the config class reads first), else
/// `tie_word_embeddings`, default true.
fn tied(cfg: &mut Config) -> Result<bool, FormatError> {
    match cfg.field("tie_embedding") {
        Field::Value(Value::Bool(b)) => Ok(*b),
        Field::Value(v) => Err(cfg.invalid("tie_embedding", v, "`true` or `false`")),
        _ => cfg.tied(true),
    }
}

/// `lfm2`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 128_000)?;
    let heads = cfg.size_or(
        "num_attention_heads",
        32,
        "`num_attention_heads` defaults to 32",
    )?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    let head_dim = cfg.head_dim(hidden, heads, HeadDim::Divide)?;
    let ck = cfg.size_or("conv_L_cache", 3, "`conv_L_cache` defaults to 3")?;
    let bias = cfg.flag_or("conv_bias", false, "`conv_bias` defaults to false")?;
    let f = ffn_width(cfg)?;
    let kinds = attention_layers(cfg, layers)?;
    let tied = tied(cfg)?;

    let g = Group::Recurrent;
    let mut tensors = vec![NamedTensor::matrix(
        "in_proj",
        product(Q, &[3, hidden])?,
        hidden,
        g,
    )];
    if bias {
        tensors.push(NamedTensor::vector(
            "in_proj.bias",
            product(Q, &[3, hidden])?,
            g,
        ));
    }
    tensors.push(NamedTensor::vector("conv", product(Q, &[hidden, ck])?, g));
    if bias {
        tensors.push(NamedTensor::vector("conv.bias", hidden, g));
    }
    tensors.push(NamedTensor::matrix("out_proj", hidden, hidden, g));
    if bias {
        tensors.push(NamedTensor::vector("out_proj.bias", hidden, g));
    }
    let conv = Recurrent {
        kind: RecurrentKind::ShortConv,
        tensors,
        state_elements: 0,
        conv_elements: product(Q, &[hidden, ck])?,
    };
    let attention = Attention {
        qk_norm: QkNorm::PerHeadShared,
        ..Attention::plain(AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        })
    };
    let mlp = Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let block = |full: bool| Block {
        mixer: if full {
            Mixer::Attention(attention.clone())
        } else {
            Mixer::Recurrent(conv.clone())
        },
        ffn: BlockFfn::Dense(mlp),
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    };
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(
        &model_type,
        Schedule::from_layers(kinds.into_iter().map(block)),
    ))
}

#[cfg(test)]
mod tests {
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "lfm2", "hidden_size": 64, "num_hidden_layers": 4,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
            "vocab_size": 100});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn full_attn_idxs_pick_the_attention_layers() {
        let parsed = from_config_str(&small(json!({"full_attn_idxs": [1, 3]}))).unwrap();
        assert_eq!(parsed.arch.attention_layers(), 2);
        let conv = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // conv state h·ck = 64·3, no recurrent state
        assert_eq!((conv.state_elements, conv.conv_elements), (0, 64 * 3));
        // f = 96 → ⌊2·96/3⌋ = 64 → ×1.0 → rounded up to 256
        let mlp = parsed.arch.layer(0).unwrap().dense().unwrap();
        assert_eq!(mlp.intermediate_size, 256);
    }

    #[test]
    fn tie_embedding_is_read_before_tie_word_embeddings() {
        let untied = from_config_str(&small(json!({"tie_embedding": false}))).unwrap();
        assert!(!untied.arch.embedding.tied);
        let both = json!({"tie_embedding": true, "tie_word_embeddings": false});
        assert!(from_config_str(&small(both)).unwrap().arch.embedding.tied);
        // absent: the class default, tied
        assert!(
            from_config_str(&small(json!({})))
                .unwrap()
                .arch
                .embedding
                .tied
        );
    }

    #[test]
    fn a_bad_layer_pattern_is_refused_by_name() {
        for (key, extra) in [
            (
                "layer_types",
                json!({"layer_types": ["conv", "full_attention"]}),
            ),
            (
                "layer_types",
                json!({"layer_types": ["conv", "mamba", "conv", "conv"]}),
            ),
            ("full_attn_idxs", json!({"full_attn_idxs": [4]})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }
}
