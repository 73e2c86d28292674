//! Feed-forward parameters: dense MLPs and mixtures of experts.

use crate::arch::{Mlp, MlpKind, Moe};
use crate::error::Result;
use crate::units::{product, sum};

const Q: &str = "MLP parameter count";

/// Parameters of one MLP of width `f` on a residual stream of width `h`.
///
/// # Formula
/// ```text
/// gated: 3·h·f (+ 2·f + h with biases)
/// plain: 2·h·f (+ f + h with biases)
/// ```
///
/// # Source
/// transformers `LlamaMLP` (gated), `GPT2MLP` (plain).
pub fn mlp_params(h: u64, mlp: &Mlp) -> Result<u64> {
    let f = mlp.intermediate_size;
    let (matrices, bias_f) = match mlp.kind {
        MlpKind::Gated => (3, 2),
        MlpKind::Plain => (2, 1),
    };
    let weights = product(Q, &[matrices, h, f])?;
    let bias = if mlp.bias {
        sum(Q, &[product(Q, &[bias_f, f])?, h])?
    } else {
        0
    };
    sum(Q, &[weights, bias])
}

/// Parameters of one MoE layer, split the way the breakdown needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoeLayerParams {
    /// One routed expert.
    pub one_expert: u64,
    /// All `E` routed experts.
    pub routed: u64,
    /// Shared experts (their gate is counted with the router).
    pub shared: u64,
    /// The router `h·E` (+ `E` bias) and the shared-expert gate `h`, if any.
    pub router: u64,
}

/// Parameters of one mixture-of-experts layer.
///
/// # Formula
/// ```text
/// routed = E · mlp(expert);  router = h·E (+ E) (+ h shared gate);  shared = mlp(shared)
/// ```
///
/// # Assumptions / limits
/// The shared-expert gate (`shared_expert_gate`, Qwen2-MoE) sits in `router`: the
/// reference groups parameters by name and the gate is a routing weight, so
/// `qwen1.5-moe-a2.7b` has `moe_router = 24·(2048·60 + 2048)` and
/// `moe_shared_experts = 24·3·2048·5632` (shared/fixtures/models/qwen1.5-moe-a2.7b).
///
/// # Source
/// transformers `MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`, `DeepseekV3MoE`.
pub fn moe_params_per_layer(h: u64, moe: &Moe) -> Result<MoeLayerParams> {
    let one_expert = mlp_params(h, &moe.expert)?;
    let routed = product(Q, &[one_expert, moe.num_experts])?;
    let shared_gate = match &moe.shared {
        Some(s) if s.gate => h,
        _ => 0,
    };
    let router = sum(
        Q,
        &[
            product(Q, &[h, moe.num_experts])?,
            if moe.router_bias { moe.num_experts } else { 0 },
            shared_gate,
        ],
    )?;
    let shared = match &moe.shared {
        Some(s) => mlp_params(h, &s.mlp)?,
        None => 0,
    };
    Ok(MoeLayerParams {
        one_expert,
        routed,
        shared,
        router,
    })
}
