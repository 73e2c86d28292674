//! granitemoehybrid (IBM Granite 4.0-H): Mamba-2 layers and attention layers per
//! `layer_types`, each followed by a mixture of experts with a shared MLP, or by the
//! shared MLP alone when `num_local_experts` is 0.
//!
//! # Formula
//! ```text
//! I = mamba_expand·h      H·P = I (mamba_d_head "auto": I/H)
//! mamba layer: Mamba-2 (mamba.rs), in/out bias mamba_proj_bias, gated RMSNorm I
//! attention layer: q a·d×h, k, v k·d×h, o h×a·d (+ biases with attention_bias)
//! FFN: E > 0: router E×h, E gated experts of f, shared gated MLP of f_s
//!      (input_linear 2·f_s×h, output_linear h×f_s); E = 0: the shared MLP alone
//! every layer: input_layernorm, post_attention_layernorm (RMSNorm h); final norm h
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` head width (`head_dim`, else h/a),
//! `H`/`P` `mamba_n_heads`/`mamba_d_head`, `E` `num_local_experts`, `f`
//! `intermediate_size`, `f_s` `shared_intermediate_size`.
//!
//! # Source
//! transformers 5.x `models/granitemoehybrid/{configuration,modeling}_granitemoehybrid.py`
//! (`GraniteMoeHybridDecoderLayer`, `GraniteMoeHybridMambaLayer`,
//! `GraniteMoeHybridAttention`, `GraniteMoeHybridMoE`, `GraniteMoeHybridMLP`;
//! `layer_types` entries `mamba`/`attention` are the legacy spellings of
//! `linear_attention`/`full_attention`). Mamba state as transformers' `DynamicCache`
//! allocates it: `LinearAttentionLayer` `recurrent_states[0]` `(batch, H, P, N)`,
//! `conv_states[0]` `(batch, I + 2·G·N, ck)`.

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind,
    Moe, Schedule, SharedExperts,
};

use super::config::{Config, HeadDim, KvHeads};
use super::mamba::{self, Mamba2};
use super::window;
use super::Decoder;
use crate::error::FormatError;

/// The spellings of a Mamba-2 layer in `layer_types`.
const MAMBA: [&str; 2] = ["mamba", "linear_attention"];

/// `granitemoehybrid`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 2048)?;
    let is_mamba: Vec<bool> =
        match cfg.layer_types(layers, &[MAMBA[0], MAMBA[1], "attention", window::FULL])? {
            Some(types) => types.iter().map(|t| MAMBA.contains(t)).collect(),
            None => {
                cfg.assume(
                    "layer_types",
                    "every layer Mamba-2",
                    "`layer_types` absent means a Mamba-2 mixer in every layer",
                );
                vec![true; layers as usize]
            }
        };

    let attention = if is_mamba.iter().any(|m| !m) {
        let heads = cfg.size_or(
            "num_attention_heads",
            32,
            "`num_attention_heads` defaults to 32",
        )?;
        let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Heads)?;
        let head_dim = cfg.head_dim(hidden, heads, HeadDim::Divide)?;
        let bias = cfg.flag_or(
            "attention_bias",
            false,
            "`attention_bias` defaults to false",
        )?;
        Some(Attention {
            bias: AttentionBias {
                qkv: bias,
                output: bias,
            },
            ..Attention::plain(AttentionKind::Standard {
                heads,
                kv_heads,
                head_dim,
            })
        })
    } else {
        None
    };
    let mixer = if is_mamba.iter().any(|m| *m) {
        let inner = mamba::inner(cfg, "mamba_expand", hidden, 2)?;
        let heads = cfg.size_or("mamba_n_heads", 128, "`mamba_n_heads` defaults to 128")?;
        let head_dim = mamba::ssm_head_dim(cfg, "mamba_d_head", inner, heads)?;
        let bias = cfg.flag_or(
            "mamba_proj_bias",
            false,
            "`mamba_proj_bias` defaults to false",
        )?;
        let m = Mamba2 {
            hidden,
            inner,
            heads,
            head_dim,
            groups: cfg.size_or("mamba_n_groups", 1, "`mamba_n_groups` defaults to 1")?,
            state: cfg.size_or("mamba_d_state", 256, "`mamba_d_state` defaults to 256")?,
            conv_kernel: cfg.size_or("mamba_d_conv", 4, "`mamba_d_conv` defaults to 4")?,
            conv_bias: cfg.flag_or(
                "mamba_conv_bias",
                true,
                "`mamba_conv_bias` defaults to true",
            )?,
            in_bias: bias,
            out_bias: bias,
            gated_norm: true,
        };
        Some(m.mixer()?)
    } else {
        None
    };

    let gated = |f: u64| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let shared = gated(cfg.size_or(
        "shared_intermediate_size",
        1024,
        "`shared_intermediate_size` defaults to 1024",
    )?);
    let experts = cfg.count_or("num_local_experts", 8, "`num_local_experts` defaults to 8")?;
    let ffn = if experts > 0 {
        let per_token = cfg.size_or(
            "num_experts_per_tok",
            2,
            "`num_experts_per_tok` defaults to 2",
        )?;
        let f = cfg.size_or(
            "intermediate_size",
            11_008,
            "`intermediate_size` defaults to 11008",
        )?;
        BlockFfn::Moe(Moe {
            num_experts: experts,
            experts_per_token: per_token,
            expert: gated(f),
            shared: Some(SharedExperts {
                mlp: shared,
                gate: false,
            }),
            router_bias: false,
        })
    } else {
        // GraniteMoeHybridDecoderLayer: without experts only the shared MLP remains
        BlockFfn::Dense(shared)
    };
    let tied = cfg.tied(false)?;

    let block = |mixer: Mixer| Block {
        mixer,
        ffn: ffn.clone(),
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    };
    let mamba_block = mixer.map(|m| block(Mixer::Recurrent(m)));
    let attention_block = attention.map(|a| block(Mixer::Attention(a)));
    // each kind of block exists exactly when some layer uses it, so no layer is dropped
    let layers = is_mamba.iter().filter_map(|&m| {
        if m {
            mamba_block.clone()
        } else {
            attention_block.clone()
        }
    });
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(&model_type, Schedule::from_layers(layers)))
}

#[cfg(test)]
mod tests {
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "granitemoehybrid", "hidden_size": 64,
            "vocab_size": 100, "num_hidden_layers": 4, "num_attention_heads": 4,
            "num_key_value_heads": 2, "intermediate_size": 32, "shared_intermediate_size": 48,
            "num_local_experts": 4, "num_experts_per_tok": 2, "mamba_n_heads": 8,
            "mamba_d_state": 16, "layer_types": ["mamba", "attention", "mamba", "mamba"]});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn layer_types_place_attention_and_experts_follow_every_layer() {
        let parsed = from_config_str(&small(json!({}))).unwrap();
        assert_eq!(parsed.arch.attention_layers(), 1);
        assert_eq!(parsed.arch.moe_layers(), 4);
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // I = 128, P = 16: H·P·N = 8·16·16; conv (128 + 2·16)·4
        assert_eq!((r.state_elements, r.conv_elements), (2048, 640));
        let dense = from_config_str(&small(json!({"num_local_experts": 0}))).unwrap();
        assert!(!dense.arch.is_moe());
    }

    #[test]
    fn a_bad_layer_pattern_is_refused_by_name() {
        for (key, extra) in [
            (
                "layer_types",
                json!({"layer_types": ["mamba", "attention"]}),
            ),
            (
                "layer_types",
                json!({"layer_types": ["mamba", "moe", "mamba", "mamba"]}),
            ),
            ("mamba_d_head", json!({"mamba_d_head": 24})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
            ("mamba_n_heads", json!({"mamba_n_heads": 0})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }
}
