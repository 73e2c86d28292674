//! Exact parameter counts and where they sit.
//!
//! Every count follows the reference implementation (Hugging Face transformers):
//! it must equal `sum(p.numel() for p in model.parameters())` for the model built
//! from the same config, with a tied LM head counted once.

mod attention;
mod ffn;
mod tensors;

use serde::Serialize;

use crate::arch::Architecture;
use crate::error::Result;
use crate::units::{product, sum};

pub use attention::attention_params_per_layer;
pub use ffn::{mlp_params, moe_params_per_layer, MoeLayerParams};
pub use tensors::{tensors, Tensor, TensorRole};

const Q: &str = "parameter count";

/// Parameters grouped the way the reference fixtures group them by name.
///
/// Every group is a count of scalar parameters; [`Breakdown::total`] is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Breakdown {
    /// Token embedding `V·h`.
    pub embedding: u64,
    /// Learned position embedding (GPT-2, OPT).
    pub position_embedding: u64,
    /// Attention projections, their biases and sinks (q/k norms are in `norm`).
    pub attention: u64,
    /// Dense MLPs (all layers of a dense model; the dense layers of an MoE).
    pub mlp: u64,
    /// Routed experts of the MoE layers.
    pub moe_routed_experts: u64,
    /// Shared experts (their gates are routing weights, counted in `moe_router`).
    pub moe_shared_experts: u64,
    /// Routers (`h·E` per MoE layer, plus a bias where the family has one) and
    /// shared-expert gates.
    pub moe_router: u64,
    /// Every normalisation layer, q/k norms included.
    pub norm: u64,
    /// The LM head when it is not tied to the embedding (plus its bias).
    pub lm_head: u64,
    /// Groups outside the language model (a vision tower and projector).
    pub vision_and_projector: u64,
}

impl Breakdown {
    /// Total parameters: the sum of every group.
    pub fn total(&self) -> Result<u64> {
        sum(
            Q,
            &[
                self.embedding,
                self.position_embedding,
                self.attention,
                self.mlp,
                self.moe_routed_experts,
                self.moe_shared_experts,
                self.moe_router,
                self.norm,
                self.lm_head,
                self.vision_and_projector,
            ],
        )
    }
}

/// The exact parameter count of a model: total, active per token, and the breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamCount {
    /// All parameters, a tied LM head counted once.
    pub total: u64,
    /// Parameters one token passes through: the total less the routed experts it
    /// does not use, `total − routed·(E − e)/E`. Equals `total` for dense models.
    pub active: u64,
    /// Where the parameters sit.
    pub breakdown: Breakdown,
}

/// Count every parameter of `arch`.
///
/// # Formula
/// ```text
/// total = V·h + P·h + L·(attn + norms) + (L−Lₘ)·mlp + Lₘ·(E·expert + router + shared)
///       + final norm + (tied ? 0 : V·h) + extra
/// active = total − Lₘ·expert·(E − e)
/// ```
///
/// # Symbols
/// `V` vocab, `h` hidden, `P` learned positions, `L` layers, `Lₘ` MoE layers,
/// `E` routed experts, `e` experts per token.
///
/// # Source
/// DESIGN.md "Exact parameters"; transformers' modeling files per `model_type`.
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a count does not fit in a `u64`.
pub fn count(arch: &Architecture) -> Result<ParamCount> {
    let h = arch.hidden_size;
    let l = arch.num_layers;
    let emb = &arch.embedding;

    let embedding = product(Q, &[arch.vocab_size, h])?;
    let position_embedding = product(Q, &[emb.learned_positions, h])?;
    let lm_head = if emb.tied {
        0
    } else {
        sum(
            Q,
            &[
                embedding,
                if emb.lm_head_bias { arch.vocab_size } else { 0 },
            ],
        )?
    };

    let attn = attention_params_per_layer(arch)?;
    let attention = product(Q, &[attn.projections, l])?;

    let norm_per_elem = arch.norm.kind.params_per_element();
    let block_norms = product(Q, &[arch.norm.per_layer, h, norm_per_elem])?;
    let layer_norms = product(Q, &[sum(Q, &[block_norms, attn.qk_norms])?, l])?;
    let outer_norms = product(
        Q,
        &[
            u64::from(arch.norm.final_norm) + u64::from(arch.norm.embedding_norm),
            h,
            norm_per_elem,
        ],
    )?;
    let norm = sum(Q, &[layer_norms, outer_norms])?;

    let mlp = product(Q, &[mlp_params(h, &arch.ffn.dense)?, arch.dense_layers()])?;

    let mut breakdown = Breakdown {
        embedding,
        position_embedding,
        attention,
        mlp,
        norm,
        lm_head,
        vision_and_projector: sum(Q, &arch.extra.iter().map(|g| g.params).collect::<Vec<_>>())?,
        ..Breakdown::default()
    };

    let mut inactive = 0;
    if let Some(moe) = &arch.ffn.moe {
        let per_layer = moe_params_per_layer(h, moe)?;
        breakdown.moe_routed_experts = product(Q, &[per_layer.routed, moe.moe_layers])?;
        breakdown.moe_shared_experts = product(Q, &[per_layer.shared, moe.moe_layers])?;
        breakdown.moe_router = product(Q, &[per_layer.router, moe.moe_layers])?;
        let unused = moe.num_experts.saturating_sub(moe.experts_per_token);
        inactive = product(Q, &[per_layer.one_expert, unused, moe.moe_layers])?;
    }

    let total = breakdown.total()?;
    Ok(ParamCount {
        total,
        active: total - inactive,
        breakdown,
    })
}

#[cfg(test)]
mod tests;
