//! The lesson's evidence card as data: params, training cost, inference cost,
//! the bottleneck, and a ranked list of computed what-ifs.
//!
//! Nothing here has a formula of its own: every figure comes from
//! [`params::count`], [`rough::compare`], [`inference::estimate`],
//! [`training::estimate`] and `plan serve`'s steady-state tier (which prices
//! with the inference estimate's functions), so the card cannot disagree with
//! `sizeup infer`, `sizeup train` or `sizeup plan serve`. What the card adds is
//! judgement, made explicit: whether each target is met, the cheapest change
//! that meets them all, which figure binds for the workload, and how much each
//! single change moves that figure, each recomputed through the same estimates.

mod decide;
mod serve;
mod train;
mod workload;

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::arch::Architecture;
use crate::error::Result;
use crate::inference::{Bound, InferRequest};
use crate::params;
use crate::rough::{self, RoughComparison};
use crate::training::TrainRequest;
use crate::{hardware::Accelerator, Assumption};

pub use decide::{Change, Decision, Proposal, Target, TargetCheck};
pub use serve::InferenceSection;
pub use train::TrainingSection;
pub use workload::{ServeTargets, UserSet, Workload, USER_FLAG};

/// What a card is built from.
#[derive(Debug, Clone)]
pub struct CardInput<'a> {
    /// The model.
    pub arch: &'a Architecture,
    /// What the model is for.
    pub workload: Workload,
    /// The serving setup (the workload's load is applied on top).
    pub serve: InferRequest,
    /// Latency and concurrency targets that decide what binds when serving.
    pub targets: ServeTargets,
    /// Which serving inputs the user set (labelled as the user's).
    pub user_set: UserSet,
    /// The training setup, if the card should cost training.
    pub train: Option<(Accelerator, TrainRequest)>,
    /// Smaller models to try as what-ifs, with their names.
    pub alternatives: Vec<(String, Architecture)>,
}

/// The figure that binds, and which resource it measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Bottleneck {
    /// Memory, latency, throughput or compute.
    pub kind: BottleneckKind,
    /// The figure that shows it.
    pub figure: Figure,
    /// Why this binds, as the numbers that show it (the binary words them).
    pub reason: Reason,
}

/// The evidence behind a bottleneck. Data, not prose: bytes stay bytes here, and
/// the binary turns them into text in the units the user asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Weights and runtime leave no room for one request at the context.
    NoRoomForOneRequest {
        /// Weight bytes on each GPU.
        weights_bytes_per_gpu: u64,
        /// The context each request may reach.
        context_tokens: u64,
        /// What is missing on each GPU.
        shortfall_bytes_per_gpu: u64,
    },
    /// The KV cache of the target concurrency does not fit beside the weights.
    KvCache {
        /// The context each request may reach.
        context_tokens: u64,
        /// KV cache of one request at that context.
        kv_bytes_per_request: u64,
        /// Requests that fit.
        requests_that_fit: u64,
        /// Weight bytes on each GPU.
        weights_bytes_per_gpu: u64,
        /// Requests the workload must hold.
        target_requests: u64,
    },
    /// Decode misses the per-token target.
    DecodeLatency {
        /// Requests in flight.
        requests: u64,
        /// What bounds a decode step.
        bound: Bound,
        /// The target, seconds per output token.
        target_seconds: f64,
    },
    /// Prefill misses the first-token target.
    PrefillLatency {
        /// Prompt tokens.
        prompt_tokens: u64,
        /// What bounds prefill.
        bound: Bound,
        /// The target, seconds to the first token.
        target_seconds: f64,
    },
    /// Everything fits and meets its targets: tokens per second set the cost.
    Throughput {
        /// What bounds a decode step.
        decode_bound: Bound,
    },
    /// Training state does not fit on the busiest GPU.
    TrainingMemory {
        /// Bytes needed on the busiest GPU.
        needed_bytes: u64,
        /// The GPU's memory.
        capacity_bytes: u64,
        /// The largest line item (`activations`, `optimizer states`…).
        largest_item: Cow<'static, str>,
        /// Its bytes.
        largest_item_bytes: u64,
    },
    /// Training fits; its FLOPs at the achieved utilization take the time.
    TrainingCompute {
        /// Model FLOPs of the run.
        model_flops: f64,
        /// Model FLOPs utilization.
        mfu: f64,
    },
}

/// The four bottlenecks of the lesson's evidence card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BottleneckKind {
    /// Weights, KV cache or training state do not fit as asked.
    Memory,
    /// Time to first token or per output token misses its target.
    Latency,
    /// Everything fits and meets its targets: tokens per second (and so cost) bind.
    Throughput,
    /// Training time and GPU-hours bind.
    Compute,
}

/// A number with its unit and the direction that is better.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Figure {
    /// What it measures (`concurrent 32768-token requests`).
    pub name: String,
    /// Its value, in `unit`.
    pub value: f64,
    /// The unit (`requests`, `s`, `tokens/s`, `GPU-hours`, `bytes`).
    pub unit: String,
    /// Whether larger values are better.
    pub higher_is_better: bool,
}

/// One computed change and its effect on the binding figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WhatIf {
    /// Short name (`fp8 KV cache`).
    pub name: String,
    /// What was changed, exactly.
    pub change: String,
    /// The binding figure before.
    pub before: f64,
    /// The binding figure after; `None` if the change could not be estimated.
    pub after: Option<f64>,
    /// `after / before`, oriented so that > 1 is an improvement; `None` where it
    /// has no finite value (see `unbounded`) or the change was not estimated.
    pub gain: Option<f64>,
    /// The ratio has a zero denominator: the figure goes from 0 to a positive
    /// value (nothing fit before, something fits after). Ranked first.
    pub unbounded: bool,
    /// What else it costs or needs (retraining, quality, price).
    pub caveat: Option<String>,
    /// Why it could not be estimated.
    pub error: Option<String>,
}

impl WhatIf {
    fn evaluated(
        name: &str,
        change: String,
        before: &Figure,
        after: Result<f64>,
        caveat: Option<&str>,
    ) -> WhatIf {
        let (after, error) = match after {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ratio = after.map(|a| {
            if a == before.value {
                1.0
            } else if before.higher_is_better {
                a / before.value
            } else {
                before.value / a
            }
        });
        let unbounded = ratio.is_some_and(|g| g == f64::INFINITY);
        let gain = ratio.filter(|g| g.is_finite());
        WhatIf {
            name: name.to_string(),
            change,
            before: before.value,
            after,
            gain,
            unbounded,
            caveat: caveat.map(str::to_string),
            error,
        }
    }
}

/// Parameters: the exact count, where it sits, and the lesson's estimate beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ParamsSection {
    /// Every parameter.
    pub total: u64,
    /// Parameters one token uses.
    pub active: u64,
    /// Share of embeddings and LM head.
    pub embedding_share: f64,
    /// Share of attention.
    pub attention_share: f64,
    /// Share of MLPs and experts.
    pub mlp_share: f64,
    /// The rough estimate, component by component.
    pub rough: RoughComparison,
}

/// The evidence card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EvidenceCard {
    /// The workload judged.
    pub workload: Workload,
    /// The targets that decide the bottleneck.
    pub targets: ServeTargets,
    /// Params.
    pub params: ParamsSection,
    /// Training cost, when asked for.
    pub training: Option<TrainingSection>,
    /// Inference cost.
    pub inference: InferenceSection,
    /// What binds.
    pub bottleneck: Bottleneck,
    /// Each target met or not, and the cheapest change that meets them all
    /// (serving workloads with targets).
    pub decision: Option<Decision>,
    /// Changes ranked by how much they improve the binding figure.
    pub decisions: Vec<WhatIf>,
    /// Every assumption of the estimates behind the card.
    pub assumptions: Vec<Assumption>,
}

/// Build the card.
///
/// # Errors
/// Whatever the underlying estimates reject for the base setup (a what-if that
/// fails is reported in its row instead).
pub fn build(input: &CardInput<'_>) -> Result<EvidenceCard> {
    let count = params::count(input.arch)?;
    let total = count.total.max(1) as f64;
    let b = &count.breakdown;
    let params = ParamsSection {
        total: count.total,
        active: count.active,
        embedding_share: (b.embedding + b.position_embedding + b.lm_head) as f64 / total,
        attention_share: b.attention as f64 / total,
        mlp_share: (b.mlp + b.moe_routed_experts + b.moe_shared_experts + b.moe_router) as f64
            / total,
        rough: rough::compare(input.arch, &count)?,
    };

    let serving = serve::evaluate(input)?;
    let training = match &input.train {
        Some((acc, req)) => Some(train::evaluate(input.arch, acc, req)?),
        None => None,
    };

    let decision = if input.workload.is_training() {
        None
    } else {
        decide::decide(input, &serving)?
    };
    let (bottleneck, mut decisions, mut assumptions) = if input.workload.is_training() {
        let t = training.as_ref().ok_or(crate::CoreError::Invalid {
            field: "workload",
            value: input.workload.name().into(),
            expected: "a training setup for a training workload".into(),
        })?;
        let (b, d) = train::judge(input, t)?;
        let assumptions = t
            .estimate
            .as_ref()
            .map_or_else(Vec::new, |e| e.assumptions.clone());
        (b, d, assumptions)
    } else {
        let (b, d) = serve::judge(input, &serving)?;
        (b, d, serving.estimate.assumptions.clone())
    };
    decisions.sort_by(|x, y| {
        let key = |w: &WhatIf| match (w.unbounded, w.gain) {
            (true, _) => f64::INFINITY,
            (false, g) => g.unwrap_or(f64::NEG_INFINITY),
        };
        key(y).total_cmp(&key(x))
    });
    if !input.workload.is_training() {
        let label = |set: bool| {
            if set {
                USER_FLAG
            } else {
                input.workload.shape_source()
            }
        };
        assumptions.push(Assumption::new(
            "prompt tokens per request",
            input.serve.prompt,
            label(input.user_set.prompt),
        ));
        assumptions.push(Assumption::new(
            "output tokens per request",
            input.serve.output,
            label(input.user_set.output),
        ));
    }
    assumptions.extend(input.targets.assumptions(input.workload, &input.user_set));
    if let Some(d) = &decision {
        assumptions.extend(d.assumptions());
    }

    Ok(EvidenceCard {
        workload: input.workload,
        targets: input.targets,
        params,
        training,
        inference: serving.section,
        bottleneck,
        decision,
        decisions,
        assumptions,
    })
}

#[cfg(test)]
mod tests;
