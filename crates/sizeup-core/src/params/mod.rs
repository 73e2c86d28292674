//! Exact parameter counts and where they sit.
//!
//! Every count follows the reference implementation (Hugging Face transformers):
//! it must equal `sum(p.numel() for p in model.parameters())` for the model built
//! from the same config, with a tied LM head counted once.

mod tensors;

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Group};
use crate::error::Result;
use crate::units::{product, sum};

pub use tensors::{
    block_tensors, mtp_layer_tensors, outer_tensors, tensors, Tensor, TensorRole, TpSplit,
};

const Q: &str = "parameter count";

/// Parameters grouped the way the reference fixtures group them by name.
///
/// Every group is a count of scalar parameters; [`Breakdown::total`] is their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Recurrent mixers: linear attention, state spaces, short convolutions (norms
    /// inside them count in `norm`). The reference fixtures call this group `other`.
    pub recurrent: u64,
    /// Tensors of no other group (per-layer scalars and input gates).
    pub other: u64,
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
                self.recurrent,
                self.other,
            ],
        )
    }
}

impl Breakdown {
    fn slot(&mut self, group: Group) -> &mut u64 {
        match group {
            Group::Embedding => &mut self.embedding,
            Group::PositionEmbedding => &mut self.position_embedding,
            Group::Attention => &mut self.attention,
            Group::Mlp => &mut self.mlp,
            Group::MoeRoutedExperts => &mut self.moe_routed_experts,
            Group::MoeSharedExperts => &mut self.moe_shared_experts,
            Group::MoeRouter => &mut self.moe_router,
            Group::Norm => &mut self.norm,
            Group::LmHead => &mut self.lm_head,
            Group::VisionAndProjector => &mut self.vision_and_projector,
            Group::Recurrent => &mut self.recurrent,
            Group::Other => &mut self.other,
        }
    }

    /// Add `times` copies of `tensor` to its group.
    fn add(&mut self, tensor: &Tensor, times: u64) -> Result<()> {
        let n = product(Q, &[tensor.elements()?, times])?;
        let slot = self.slot(tensor.group);
        *slot = sum(Q, &[*slot, n])?;
        Ok(())
    }
}

/// The exact parameter count of a model: total, active per token, and the breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamCount {
    /// All parameters, a tied LM head counted once; multi-token-prediction layers are
    /// not included (transformers does not build them).
    pub total: u64,
    /// Parameters one token passes through: the total less the routed experts it
    /// does not use, `total − Σ_MoE layers expert·(E − e)`. Equals `total` for dense models.
    pub active: u64,
    /// Where the parameters sit.
    pub breakdown: Breakdown,
    /// Parameters of the multi-token-prediction layers the checkpoint ships beside the
    /// model (0 without them); served when they drive speculative decoding.
    pub mtp: u64,
    /// Parameters of the language model alone, without encoder towers.
    pub text: u64,
}

/// Count every parameter of `arch`: a fold over [`tensors`], each distinct block
/// counted once and multiplied by the layers that use it.
///
/// # Formula
/// ```text
/// total  = Σ_outer tensors + Σ_blocks layers(block) · Σ_tensors(block) rows·cols·copies
/// active = total − Σ_MoE blocks layers(block) · expert·(E − e)
/// ```
///
/// # Symbols
/// `E` routed experts, `e` experts per token; `expert` the parameters of one routed expert.
///
/// # Source
/// DESIGN.md "Exact parameters"; transformers' modeling files per `model_type`.
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a count does not fit in a `u64`;
/// [`crate::CoreError::Invalid`] for a malformed schedule.
pub fn count(arch: &Architecture) -> Result<ParamCount> {
    arch.check_layers()?;
    fold(
        arch,
        arch.blocks()
            .map(|(block, layers)| Ok((block, layers, block_tensors(arch, block)?))),
    )
}

/// [`count`] folded over `arch`'s operator list ([`crate::ops::list`]), whose blocks
/// carry their tensors.
///
/// # Errors
/// As [`count`].
pub fn count_of(arch: &Architecture, list: &crate::ops::OpList) -> Result<ParamCount> {
    arch.check_layers()?;
    fold(
        arch,
        list.blocks
            .iter()
            .map(|b| Ok((&arch.layers.blocks[b.block], b.layers, b.tensors.as_slice()))),
    )
}

/// The count over each distinct block with its layers and tensors, plus the outer
/// tensors and the multi-token-prediction layers.
fn fold<'a, T: AsRef<[Tensor]>>(
    arch: &'a Architecture,
    blocks: impl Iterator<Item = Result<(&'a crate::arch::Block, u64, T)>>,
) -> Result<ParamCount> {
    let mut breakdown = Breakdown::default();
    let (head, tail) = outer_tensors(arch)?;
    for t in head.iter().chain(&tail) {
        breakdown.add(t, 1)?;
    }
    let mut inactive = 0u64;
    for item in blocks {
        let (block, layers, tensors) = item?;
        for t in tensors.as_ref() {
            breakdown.add(t, layers)?;
            if t.group == Group::MoeRoutedExperts {
                if let Some(moe) = block.moe() {
                    let unused = moe.num_experts.saturating_sub(moe.experts_per_token);
                    let one = product(Q, &[t.rows, t.cols, unused, layers])?; // per expert copy
                    inactive = sum(Q, &[inactive, one])?;
                }
            }
        }
    }
    let mtp = match &arch.mtp {
        Some(m) => {
            let per_layer = mtp_layer_tensors(arch)?
                .iter()
                .try_fold(0u64, |acc, t| sum(Q, &[acc, t.elements()?]))?;
            product(Q, &[per_layer, m.layers])?
        }
        None => 0,
    };
    let total = breakdown.total()?;
    Ok(ParamCount {
        total,
        active: total - inactive.min(total),
        breakdown,
        mtp,
        // `total` sums every group, the vision tower's included: no underflow
        text: total - breakdown.vision_and_projector,
    })
}

#[cfg(test)]
mod tests;
