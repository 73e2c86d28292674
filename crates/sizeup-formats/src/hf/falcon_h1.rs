//! falcon_h1 (TII Falcon-H1): attention and a Mamba-2 mixer side by side in every
//! layer, reading the same normalised input, then a gated MLP.
//!
//! # Formula
//! ```text
//! I = mamba_d_ssm (null: mamba_expand·h)      H·P = I
//! every layer: q a·d×h, k, v k·d×h, o h×a·d (+ biases with attention_bias);
//!              Mamba-2 (mamba.rs): in_proj bias mamba_proj_bias, out_proj bias
//!              projectors_bias, gated RMSNorm I only with mamba_rms_norm;
//!              gated MLP of f (+ biases with mlp_bias);
//!              input_layernorm, pre_ff_layernorm (RMSNorm h)
//! final RMSNorm h; head untied by default
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` head width (`head_dim`, else h/a),
//! `H`/`P` `mamba_n_heads`/`mamba_d_head`, `f` `intermediate_size`.
//!
//! # Source
//! transformers 5.x `models/falcon_h1/{configuration,modeling}_falcon_h1.py`
//! (`FalconH1Config`, `FalconH1DecoderLayer`, `FalconH1Attention`, `FalconH1Mixer`,
//! `FalconH1MLP`; the µP `mup_vector` is a non-persistent buffer, not a parameter).
//! The Mamba state is what transformers' `DynamicCache` allocates beside each layer's
//! keys and values: `LinearAttentionAndFullAttentionLayer` `recurrent_states[0]`
//! `(batch, H, P, N)`, `conv_states[0]` `(batch, I + 2·G·N, ck)` (Falcon-H1-7B:
//! `(1, 24, 128, 256)` and `(1, 3584, 4)`).
//!
//! # Assumptions / limits
//! sizeup's blocks hold one token mixer, so each Falcon-H1 layer is described as two
//! blocks: attention with the input norm, then the Mamba-2 mixer with the MLP and the
//! pre-FFN norm. Parameters, KV cache and recurrent state are exact; the schedule has
//! `2·num_hidden_layers` blocks, and activations count the two mixers one after the
//! other rather than side by side.

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind,
    Schedule,
};
use sizeup_core::units::product;

use super::config::{Config, Field, HeadDim, KvHeads};
use super::mamba::{self, Mamba2};
use super::Decoder;
use crate::error::FormatError;

/// `falcon_h1`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 8192)?;
    let heads = cfg.size_or(
        "num_attention_heads",
        32,
        "`num_attention_heads` defaults to 32",
    )?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    let head_dim = cfg.head_dim(hidden, heads, HeadDim::Divide)?;
    let attention_bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;

    // mamba_d_ssm: absent means the class default 1024, null means expand·h
    let inner = match cfg.field("mamba_d_ssm") {
        Field::Null => mamba::inner(cfg, "mamba_expand", hidden, 2)?,
        _ => cfg.size_or("mamba_d_ssm", 1024, "`mamba_d_ssm` defaults to 1024")?,
    };
    let ssm_heads = cfg.size_or("mamba_n_heads", 128, "`mamba_n_heads` defaults to 128")?;
    let ssm_head_dim = mamba::ssm_head_dim(cfg, "mamba_d_head", inner, ssm_heads)?;
    let m = Mamba2 {
        hidden,
        inner,
        heads: ssm_heads,
        head_dim: ssm_head_dim,
        groups: cfg.size_or("mamba_n_groups", 1, "`mamba_n_groups` defaults to 1")?,
        state: cfg.size_or("mamba_d_state", 256, "`mamba_d_state` defaults to 256")?,
        conv_kernel: cfg.size_or("mamba_d_conv", 4, "`mamba_d_conv` defaults to 4")?,
        conv_bias: cfg.flag_or(
            "mamba_conv_bias",
            true,
            "`mamba_conv_bias` defaults to true",
        )?,
        in_bias: cfg.flag_or(
            "mamba_proj_bias",
            false,
            "`mamba_proj_bias` defaults to false",
        )?,
        out_bias: cfg.flag_or(
            "projectors_bias",
            false,
            "`projectors_bias` defaults to false",
        )?,
        gated_norm: cfg.flag_or(
            "mamba_rms_norm",
            false,
            "`mamba_rms_norm` defaults to false (no gated norm)",
        )?,
    };
    let mixer = m.mixer()?;
    let f = cfg.size_or(
        "intermediate_size",
        14_336,
        "`intermediate_size` defaults to 14336",
    )?;
    let mlp_bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    let tied = cfg.tied(false)?;

    let attention = Block {
        mixer: Mixer::Attention(Attention {
            bias: AttentionBias {
                qkv: attention_bias,
                output: attention_bias,
            },
            ..Attention::plain(AttentionKind::Standard {
                heads,
                kv_heads,
                head_dim,
            })
        }),
        ffn: BlockFfn::None,
        norms: 1,
        parallel: false,
        extra: Vec::new(),
    };
    let ssm = Block {
        mixer: Mixer::Recurrent(mixer),
        ffn: BlockFfn::Dense(Mlp {
            kind: MlpKind::Gated,
            intermediate_size: f,
            bias: mlp_bias,
        }),
        norms: 1,
        parallel: false,
        extra: Vec::new(),
    };
    // two blocks per layer (see the module doc); layers ≤ MAX_LAYERS, so 2·layers fits
    let blocks = product("Falcon-H1 blocks", &[layers, 2])?;
    let schedule = Schedule::from_layers((0..blocks).map(|i| {
        if i % 2 == 0 {
            attention.clone()
        } else {
            ssm.clone()
        }
    }));
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(&model_type, schedule))
}

#[cfg(test)]
mod tests {
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "falcon_h1", "hidden_size": 64, "vocab_size": 100,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 96, "mamba_d_ssm": 128, "mamba_n_heads": 8,
            "mamba_d_state": 16, "mamba_n_groups": 1});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn every_layer_has_attention_and_a_mamba_mixer() {
        let parsed = from_config_str(&small(json!({}))).unwrap();
        assert_eq!(parsed.arch.attention_layers(), 3);
        assert_eq!(parsed.arch.num_layers(), 6);
        let r = parsed.arch.layer(1).unwrap().recurrent().unwrap();
        // "auto" head width 128 / 8 = 16: H·P·N = 8·16·16; conv (128 + 2·16)·4
        assert_eq!((r.state_elements, r.conv_elements), (2048, 640));
    }

    #[test]
    fn inconsistent_ssm_heads_are_refused_by_name() {
        for (key, extra) in [
            ("mamba_d_head", json!({"mamba_d_head": 24})),
            ("mamba_n_heads", json!({"mamba_n_heads": 0})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
            ("num_key_value_heads", json!({"num_key_value_heads": 3})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }
}
