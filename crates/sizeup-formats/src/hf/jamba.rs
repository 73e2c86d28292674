//! jamba (AI21 Jamba): Mamba-1 layers with attention every `attn_layer_period`-th
//! layer and a mixture of experts every `expert_layer_period`-th.
//!
//! # Formula
//! ```text
//! layer i: attention iff i % attn_layer_period == attn_layer_offset, else Mamba-1
//!          (mamba.rs, with RMSNorms over dt R, B N and C N)
//!          MoE iff i % expert_layer_period == expert_layer_offset and E > 1,
//!          else a gated MLP of intermediate_size
//! attention: q a·d×h, k, v k·d×h, o h×a·d, d = h/a, no bias, no q/k norm
//! MoE: router E×h (no bias), E gated experts of intermediate_size, no shared expert
//! every layer: input_layernorm and pre_ff_layernorm (RMSNorm h); final RMSNorm h
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `E` `num_experts`.
//!
//! # Source
//! transformers 5.x `models/jamba/{configuration,modeling}_jamba.py`
//! (`JambaConfig.layers_block_type`, `layers_num_experts`, `JambaMambaMixer`,
//! `JambaAttention`, `JambaSparseMoeBlock`); Mamba state as in [`super::mamba`]:
//! `DynamicCache` → `LinearAttentionLayer` `conv_states[0]` `(batch, I, ck)`,
//! `recurrent_states[0]` `(batch, I, N)`.

use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind, Moe, Schedule,
};

use super::config::{Config, KvHeads};
use super::mamba::{self, Mamba1};
use super::Decoder;
use crate::error::FormatError;

/// A period and offset that pick every `period`-th layer from `offset` on.
fn period(
    cfg: &mut Config,
    period_key: &'static str,
    offset_key: &'static str,
    defaults: (u64, u64),
) -> Result<(u64, u64), FormatError> {
    let p = cfg.size_or(
        period_key,
        defaults.0,
        &format!("`{period_key}` defaults to {}", defaults.0),
    )?;
    let o = cfg.count_or(
        offset_key,
        defaults.1,
        &format!("`{offset_key}` defaults to {}", defaults.1),
    )?;
    if o >= p {
        return Err(cfg.invalid(
            offset_key,
            o,
            format!("an offset below `{period_key}` ({p})"),
        ));
    }
    Ok((p, o))
}

/// `jamba`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 262_144)?;
    let heads = cfg.size_or(
        "num_attention_heads",
        32,
        "`num_attention_heads` defaults to 32",
    )?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    // JambaAttention takes head_dim = hidden_size / num_attention_heads, whatever the config says
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    let f = cfg.size_or(
        "intermediate_size",
        14_336,
        "`intermediate_size` defaults to 14336",
    )?;
    let (attn_period, attn_offset) = period(cfg, "attn_layer_period", "attn_layer_offset", (8, 4))?;
    let (moe_period, moe_offset) =
        period(cfg, "expert_layer_period", "expert_layer_offset", (2, 1))?;
    let experts = cfg.size_or("num_experts", 16, "`num_experts` defaults to 16")?;
    let per_token = cfg.size_or(
        "num_experts_per_tok",
        2,
        "`num_experts_per_tok` defaults to 2",
    )?;
    let m = Mamba1 {
        hidden,
        inner: mamba::inner(cfg, "mamba_expand", hidden, 2)?,
        state: cfg.size_or("mamba_d_state", 16, "`mamba_d_state` defaults to 16")?,
        conv_kernel: cfg.size_or("mamba_d_conv", 4, "`mamba_d_conv` defaults to 4")?,
        dt_rank: mamba::dt_rank(cfg, "mamba_dt_rank", hidden)?,
        conv_bias: cfg.flag_or(
            "mamba_conv_bias",
            true,
            "`mamba_conv_bias` defaults to true",
        )?,
        proj_bias: cfg.flag_or(
            "mamba_proj_bias",
            false,
            "`mamba_proj_bias` defaults to false",
        )?,
        dt_bc_norms: true,
    };
    let mamba = m.mixer()?;
    let tied = cfg.tied(false)?;

    let attention = Attention::plain(AttentionKind::Standard {
        heads,
        kv_heads,
        head_dim,
    });
    let mlp = Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let moe = Moe {
        num_experts: experts,
        experts_per_token: per_token,
        expert: mlp,
        shared: None,
        router_bias: false,
    };
    let block = |i: u64| Block {
        mixer: if i % attn_period == attn_offset {
            Mixer::Attention(attention.clone())
        } else {
            Mixer::Recurrent(mamba.clone())
        },
        // JambaDecoderLayer: a sparse MoE block only where the layer has more than one expert
        ffn: if i % moe_period == moe_offset && experts > 1 {
            BlockFfn::Moe(moe)
        } else {
            BlockFfn::Dense(mlp)
        },
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
    .around(&model_type, Schedule::from_layers((0..layers).map(block))))
}

#[cfg(test)]
mod tests {
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "jamba", "hidden_size": 64, "num_hidden_layers": 8,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
            "vocab_size": 100, "num_experts": 4});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn periods_place_attention_and_experts() {
        let parsed = from_config_str(&small(json!({}))).unwrap();
        // attention at 4 (period 8, offset 4); MoE at odd layers (period 2, offset 1)
        assert_eq!(parsed.arch.attention_layers(), 1);
        assert_eq!(parsed.arch.moe_layers(), 4);
        assert_eq!(parsed.arch.attention_layout(), "Mamba+GQA");
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // I = 2·64 = 128, N = 16: state I·N, conv I·ck (transformers keeps the whole kernel)
        assert_eq!((r.state_elements, r.conv_elements), (128 * 16, 128 * 4));
    }

    #[test]
    fn an_offset_past_its_period_is_refused_by_name() {
        for (key, extra) in [
            (
                "attn_layer_offset",
                json!({"attn_layer_period": 4, "attn_layer_offset": 4}),
            ),
            ("expert_layer_offset", json!({"expert_layer_offset": 3})),
            ("attn_layer_period", json!({"attn_layer_period": 0})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }
}
