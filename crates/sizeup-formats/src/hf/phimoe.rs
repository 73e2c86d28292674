//! `phimoe`: Phi-3.5-MoE, Phi-mini-MoE, Phi-tiny-MoE.
//!
//! # Formula
//! ```text
//! every layer: LayerNorm (weight and bias) before attention and before the experts;
//!              q/k/v/o with biases when `attention_bias` (default false); a router
//!              h×E without bias and E gated experts of `intermediate_size`;
//!              `sliding_window` (default none) on every layer;
//! outside:     final LayerNorm; an untied head with a bias of V when `lm_head_bias`
//! ```
//!
//! # Source
//! transformers `models/phimoe/modeling_phimoe.py` (`PhimoeAttention` reads
//! `head_dim` when the config has it, else `hidden_size / heads`; `PhimoeTopKRouter`,
//! `PhimoeExperts`) and `PhimoeConfig` (`num_local_experts` 16,
//! `num_experts_per_tok` 2, `num_key_value_heads` 8).

use sizeup_core::arch::{AttentionBias, NormKind};

use super::config::{Config, HeadDim, KvHeads};
use super::draft::{Draft, Moe};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// Read a `phimoe` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.norm.kind = NormKind::LayerNorm;
    arch.embedding.tied = cfg.tied(false)?;
    arch.embedding.lm_head_bias =
        cfg.flag_or("lm_head_bias", false, "`lm_head_bias` defaults to false")?;
    let size = window::size(cfg, None)?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size_or(
            "num_local_experts",
            16,
            "`num_local_experts` defaults to 16",
        )?,
        experts_per_token: cfg.size_or(
            "num_experts_per_tok",
            2,
            "`num_experts_per_tok` defaults to 2",
        )?,
        expert: arch.ffn.dense,
        shared: None,
        moe_layers: dims.layers,
        router_bias: false,
    });
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

    #[test]
    fn phimoe_caches_a_window_on_every_layer() {
        let c = local_2026_config("phi-tiny-moe-sft");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // 2·k·d = 2·4·128 per token; every layer keeps at most 2047 tokens
        let kv = kv_layers(&arch, 8192);
        assert_eq!(kv.get(&("GQA window 2047".into(), 1024, 2047)), Some(&32));
    }

    #[test]
    fn phimoe_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("phi-tiny-moe-sft");
        let expected = refused(&base, "num_experts_per_tok", json!(17));
        assert!(expected.contains("16"), "{expected}");
        let mut c = base.clone();
        c["num_attention_heads"] = json!(0);
        assert_eq!(refusal(&c).0, "num_attention_heads");
        let mut c = base;
        c["sliding_window"] = json!(0);
        let (field, value, expected) = refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("sliding_window", "0"));
        assert!(expected.contains("positive"), "{expected}");
    }
}
