//! GLM-4 (0414) and GLM-4.5/4.6/4.7 (`glm4`, `glm4_moe`).
//!
//! # Formula
//! ```text
//! glm4:     q/k/v with biases, o without; fused gate_up 2f×h, down h×f;
//!           four RMSNorms per block (input, post-attention, post-self-attn, post-MLP)
//! glm4_moe: q/k/v biases (`attention_bias`), per-head q/k norms (`use_qk_norm`);
//!           `first_k_dense_replace` dense layers, then routed experts
//!           (`n_routed_experts`, `moe_intermediate_size`) and `n_shared_experts`
//!           shared experts; multi-token-prediction layers (`num_nextn_predict_layers`)
//! ```
//!
//! # Source
//! transformers `models/glm4/modeling_glm4.py`, `models/glm4_moe/modeling_glm4_moe.py`;
//! `Glm4MoeTopkRouter.e_score_correction_bias` is a buffer, not a parameter.

use sizeup_core::arch::{Architecture, Mlp, MlpKind, QkNorm, SharedExperts};

use super::config::{Config, HeadDim, KvHeads};
use super::deepseek::with_mtp;
use super::draft::{Draft, Moe};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// `glm4`: GLM-4-0414 dense.
pub(super) fn read_glm4(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv =
        cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.norm.per_layer = 4;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

/// `glm4_moe`: GLM-4.5 to 4.7.
pub(super) fn read_glm4_moe(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(128), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    if cfg.flag_or("use_qk_norm", false, "`use_qk_norm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::PerHeadShared;
    }
    arch.embedding.tied = cfg.tied(false)?;
    let gated = |f| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let expert_f = cfg.size_or(
        "moe_intermediate_size",
        1408,
        "`moe_intermediate_size` defaults to 1408",
    )?;
    let dense = cfg.count_or(
        "first_k_dense_replace",
        1,
        "`first_k_dense_replace` defaults to 1",
    )?;
    let shared = cfg.count_or("n_shared_experts", 1, "`n_shared_experts` defaults to 1")?;
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size_or(
            "n_routed_experts",
            128,
            "`n_routed_experts` defaults to 128",
        )?,
        experts_per_token: cfg.size_or(
            "num_experts_per_tok",
            8,
            "`num_experts_per_tok` defaults to 8",
        )?,
        expert: gated(expert_f),
        shared: (shared > 0).then(|| SharedExperts {
            mlp: gated(shared.saturating_mul(expert_f)),
            gate: false,
        }),
        moe_layers: dims.layers.saturating_sub(dense),
        router_bias: false,
    });
    let mut arch = arch.build();
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}
