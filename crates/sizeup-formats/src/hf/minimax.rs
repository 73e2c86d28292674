//! `minimax_m2`: MiniMax-M2, M2.1, M2.5.
//!
//! # Formula
//! ```text
//! every layer: q/k/v/o without biases; RMSNorm over the whole q projection (a·d) and
//!              the whole k projection (k·d); a router h×E and E gated experts of
//!              width `intermediate_size`; no dense MLP, no shared expert
//! ```
//!
//! # Source
//! transformers `models/minimax_m2/modeling_minimax_m2.py` (`MiniMaxM2Attention`
//! builds `q_norm`/`k_norm` whatever `use_qk_norm` says; `MiniMaxM2Experts`) and
//! `MiniMaxM2Config` (`num_local_experts` 256, `num_experts_per_tok` 8,
//! `num_key_value_heads` 8, `head_dim` 128). The router's `e_score_correction_bias`
//! is a buffer; `shared_intermediate_size` and the MTP modules (`use_mtp`) are not
//! built by transformers and not counted.

use sizeup_core::arch::QkNorm;

use super::config::{Config, HeadDim, KvHeads};
use super::draft::{Draft, Moe};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// Read a `minimax_m2` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(128), 196_608)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.qk_norm = QkNorm::Full;
    arch.embedding.tied = cfg.tied(false)?;
    if cfg
        .opt_count("shared_intermediate_size")?
        .is_some_and(|n| n > 0)
    {
        cfg.assume(
            "shared_intermediate_size",
            "0 (ignored)",
            "transformers' MiniMaxM2 builds no shared expert",
        );
    }
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size_or(
            "num_local_experts",
            256,
            "`num_local_experts` defaults to 256",
        )?,
        experts_per_token: cfg.size_or(
            "num_experts_per_tok",
            8,
            "`num_experts_per_tok` defaults to 8",
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

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refused};

    #[test]
    fn minimax_m2_caches_gqa_on_every_layer() {
        let c = local_2026_config("minimax-m2.5");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!(
            kv_layers(&arch, 100).get(&("GQA".into(), 2048, 100)),
            Some(&62)
        );
    }

    #[test]
    fn minimax_m2_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("minimax-m2.5");
        let expected = refused(&base, "num_experts_per_tok", json!(300));
        assert!(expected.contains("256"), "{expected}");
        refused(&base, "num_attention_heads", json!(0));
    }
}
