//! Serving estimates: memory per GPU, prefill and decode speed, concurrency and cost.
//!
//! [`estimate`] answers "what does serving this model on these devices look
//! like": memory line items and whether they fit, the largest batch and the
//! longest context, time to first token and per output token with the bound of
//! each phase, throughput and cost. Every factor it uses is in
//! [`InferEstimate::assumptions`].

mod concurrency;
mod cost;
mod engine;
mod memory;
mod prepared;
mod roofline;
pub mod sim;
mod stages;
mod weights;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use concurrency::{kv_pool, max_batch, max_context, schedule, KvPool, Load, Schedule};
pub use cost::{cost, per_million, Cost};
pub use engine::{
    profile, AttentionGroups, Backend, Engine, EngineProfile, ExpertGroups, Reserve, StageSchedule,
    EAGER_HOST_SECONDS_PER_LAYER,
};
pub use memory::{activation_workspace_bytes, layout, MemoryPerGpu};
pub use prepared::{prefill_sequences, Capacity, Prepared, Replica};
pub use roofline::{
    has_tensor_path, pass_time, peak_flops, runs_8bit, Bound, Machine, Pass, PassTime,
};
use roofline::{pass_time_of, PassWeights};
pub use stages::{stage_layers, HIDDEN_STATE_BYTES};
pub use weights::{
    stored_tensors, weights_breakdown, weights_bytes, weights_bytes_per_gpu, RankSplit,
    StoredTensor, WeightBreakdown, WeightGroup,
};

use crate::arch::Architecture;
use crate::assumption::Assumption;
use crate::dtype::{ComputePrecision, KvDtype, WeightFormat, WeightOptions};
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::units::sum;

/// What to estimate: the devices, the format, the workload and the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InferRequest {
    /// The accelerator.
    pub gpu: Accelerator,
    /// Devices in all; `gpus / (tp · pp · attention_dp)` replicas serve independently.
    pub gpus: u64,
    /// Tensor-parallel ranks per replica.
    pub tp: u64,
    /// Devices a replica's layers are split over, each holding a contiguous slice
    /// and running it in turn (llama.cpp `--split-mode layer`); 1: no split.
    #[serde(default = "one")]
    pub pp: u64,
    /// Expert-parallel groups of each stage's `tp · attention_dp` ranks: each
    /// group holds `⌈E/ep⌉` whole routed experts ([`RankSplit`]); 1: the experts
    /// split like every other matrix.
    #[serde(default = "one")]
    pub ep: u64,
    /// Data-parallel attention groups of `tp` ranks per replica (MoE models): each
    /// runs its own sequences with whole attention and dense layers and its own KV
    /// cache, the MoE layers of all groups in lockstep over their `tp ·
    /// attention_dp` ranks (vLLM `--data-parallel-size`, SGLang
    /// `--enable-dp-attention`); 1: none.
    #[serde(default = "one")]
    pub attention_dp: u64,
    /// Weight storage.
    pub weights: WeightFormat,
    /// Where `weights` comes from (`read from config.json quantization_config …`);
    /// `None`: the user's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_source: Option<String>,
    /// Options of the weight format.
    pub weight_options: WeightOptions,
    /// KV cache precision.
    pub kv_dtype: KvDtype,
    /// Context each request may reach (sizes the KV cache); `None`: prompt + output.
    pub context: Option<u64>,
    /// Where `context` comes from when it is set; `None`: the user's flag.
    pub context_source: Option<String>,
    /// Prompt tokens per request.
    pub prompt: u64,
    /// Output tokens per request.
    pub output: u64,
    /// Static batch or continuous batching.
    pub load: Load,
    /// Engine assumptions.
    pub profile: EngineProfile,
    /// Price per device-hour; `None`: the catalog's.
    pub price_per_gpu_hour: Option<f64>,
    /// How much beyond the point itself to work out.
    pub detail: Detail,
}

pub(crate) fn one() -> u64 {
    1
}

/// Devices of one serving replica: `tp` ranks per stage, `pp` stages, and
/// `attention_dp` data-parallel attention groups (each of `tp · pp` devices)
/// sharing the experts; `None` past `u64`.
///
/// # Formula
/// `gpus = tp · pp · attention_dp`
pub fn replica_devices(tp: u64, pp: u64, attention_dp: u64) -> Option<u64> {
    tp.checked_mul(pp)?.checked_mul(attention_dp)
}

impl InferRequest {
    /// Devices of one replica ([`replica_devices`]).
    pub fn gpus_per_replica(&self) -> Option<u64> {
        replica_devices(self.tp, self.pp, self.attention_dp)
    }
}

/// How much an estimate works out beyond the requested point.
///
/// The effective ridge batch (a bisection over the pass model) and the fit
/// advice (memory at other layouts and formats) cost several times the point
/// itself and depend only on the model and device, so a sweep of many points
/// asks for the point alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Everything: the point, the effective ridge batch and, when it does not fit, advice.
    #[default]
    Full,
    /// The point only: `ridge_batch_effective` and `fit_advice` are `None`.
    Point,
}

impl InferRequest {
    /// A request on one `gpu` with `engine`'s profile: bf16 weights and KV cache,
    /// 1024 prompt and 256 output tokens, batch 1.
    pub fn new(gpu: &Accelerator, engine: Engine) -> InferRequest {
        InferRequest {
            gpu: gpu.clone(),
            gpus: 1,
            tp: 1,
            pp: 1,
            ep: 1,
            attention_dp: 1,
            weights: WeightFormat::Bf16,
            weights_source: None,
            weight_options: WeightOptions::default(),
            kv_dtype: KvDtype::Bf16,
            context: None,
            context_source: None,
            prompt: 1024,
            output: 256,
            load: Load::Batch(1),
            profile: engine.profile(gpu),
            price_per_gpu_hour: None,
            detail: Detail::Full,
        }
    }
}

/// Something the user should know that does not stop the estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Warning {
    /// The context is longer than the model was built for; estimated anyway, not clamped.
    ContextBeyondModel {
        /// The requested context.
        context: u64,
        /// The model's `max_position_embeddings`.
        max_context: u64,
    },
    /// The context is shorter than prompt + output.
    ContextShorterThanRequest {
        /// The requested context.
        context: u64,
        /// Prompt + output.
        needed: u64,
    },
    /// The chip has no tensor path for the format's precision; 16 bits assumed.
    NoTensorPath {
        /// The precision the format asks for.
        precision: ComputePrecision,
    },
    /// No price in the catalog and none given: no cost.
    NoPrice {
        /// The accelerator.
        gpu: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ContextBeyondModel { context, max_context } => write!(
                f,
                "context {context} is beyond the model's {max_context} tokens; estimated as asked"
            ),
            Warning::ContextShorterThanRequest { context, needed } => write!(
                f,
                "context {context} is shorter than prompt + output = {needed}"
            ),
            Warning::NoTensorPath { precision } => write!(
                f,
                "the accelerator states no {precision:?} tensor rate; matmuls priced at its 16-bit rate"
            ),
            Warning::NoPrice { gpu } => write!(f, "no hourly price for `{gpu}`; cost not estimated"),
        }
    }
}

/// One phase (prefill or a decode step) and what bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Phase {
    /// Seconds of the pass.
    pub seconds: f64,
    /// Tokens per second of one replica in this phase (prompt tokens for
    /// prefill, output tokens of the whole batch for decode).
    pub tokens_per_sec: f64,
    /// The resource that takes most of the time.
    pub bound: Bound,
    /// Where the time goes.
    pub breakdown: PassTime,
}

/// What would make a model fit that does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FitAdvice {
    /// The smallest tensor-parallel size (a power of two dividing the heads) that fits.
    pub min_tp: Option<u64>,
    /// Smaller weight formats that fit at the requested layout.
    pub formats: Vec<String>,
    /// The largest batch that fits at the requested context (if any is ≥ 1).
    pub max_batch: Option<u64>,
    /// The longest context that fits at the requested batch (if any is ≥ 1).
    pub max_context: Option<u64>,
}

/// A serving estimate: memory, speed, concurrency and cost, with its assumptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InferEstimate {
    /// The model's `model_type`.
    pub model_type: String,
    /// All parameters.
    pub params_total: u64,
    /// Parameters one token passes through.
    pub params_active: u64,
    /// The accelerator's name.
    pub gpu: String,
    /// Devices in all.
    pub gpus: u64,
    /// Tensor-parallel ranks per replica.
    pub tp: u64,
    /// Devices a replica's layers are split over (1: none).
    pub pp: u64,
    /// Expert-parallel groups of each stage's ranks (1: none).
    #[serde(default = "one")]
    pub ep: u64,
    /// Data-parallel attention groups per replica (1: none).
    #[serde(default = "one")]
    pub attention_dp: u64,
    /// Independent replicas (`gpus / (tp · pp · attention_dp)`).
    pub replicas: u64,
    /// Weight format.
    pub weights: WeightFormat,
    /// Weight bytes by group, all ranks together.
    pub weight_breakdown: WeightBreakdown,
    /// KV cache precision.
    pub kv_dtype: KvDtype,
    /// KV bytes one token adds across all layers and ranks.
    pub kv_bytes_per_token: u64,
    /// The context the KV cache is sized for.
    pub context: u64,
    /// Prompt tokens per request.
    pub prompt: u64,
    /// Output tokens per request.
    pub output: u64,
    /// The load.
    pub load: Load,
    /// The engine.
    pub engine: Engine,
    /// Memory of each device.
    pub memory: MemoryPerGpu,
    /// Whether it fits.
    pub fits: bool,
    /// When it does not: what would.
    pub fit_advice: Option<FitAdvice>,
    /// Requests per replica that fit at the context.
    pub max_batch_at_context: u64,
    /// Context per request that fits at the batch.
    pub max_context_at_batch: u64,
    /// The KV pool the engine allocates, in bytes and tokens, and the requests of
    /// the context it holds at once.
    pub kv_pool: KvPool,
    /// The prefill of the batch (or of one request under continuous batching).
    pub prefill: Phase,
    /// One decode step at the batch, at the average context `prompt + output/2`.
    pub decode: Phase,
    /// Latency and throughput of one replica.
    pub schedule: Schedule,
    /// Output tokens per second of all replicas, prefill included.
    pub output_tokens_per_sec_total: f64,
    /// Datasheet ridge: the batch where decode matmuls turn compute-bound,
    /// `peak · bytes_per_param / (2 · bandwidth)`.
    pub ridge_batch_datasheet: f64,
    /// The same with the efficiencies applied, found on the pass model (no KV).
    pub ridge_batch_effective: Option<u64>,
    /// Routed experts a decode step reads per MoE layer, `E·(1 − (1 − e/E)^B)`.
    pub moe_experts_touched_per_layer: Option<f64>,
    /// Cost per million tokens, if there is a price.
    pub cost: Option<Cost>,
    /// Every assumption with its source.
    pub assumptions: Vec<Assumption>,
    /// Things to know.
    pub warnings: Vec<Warning>,
}

fn validate(arch: &Architecture, req: &InferRequest) -> Result<()> {
    arch.check_layers()?;
    for (field, v) in [
        ("gpus", req.gpus),
        ("tp", req.tp),
        ("pp", req.pp),
        ("ep", req.ep),
        ("attention_dp", req.attention_dp),
        ("batch", req.load.requests()),
    ] {
        if v == 0 {
            return Err(CoreError::Zero { field });
        }
    }
    if req.prompt == 0 && req.output == 0 {
        return Err(CoreError::Zero {
            field: "prompt + output",
        });
    }
    // every later `prompt + output/2` is at most this sum
    sum("tokens per request", &[req.prompt, req.output])?;
    if arch.heads() % req.tp != 0 {
        return Err(CoreError::Invalid {
            field: "tp",
            value: req.tp.to_string(),
            expected: format!("a divisor of the {} attention heads", arch.heads()),
        });
    }
    if req.pp > 1 && req.profile.engine.stage_schedule().is_none() {
        return Err(CoreError::Invalid {
            field: "pp",
            value: req.pp.to_string(),
            expected: format!(
                "1: a layer split is not modelled for {}; split it with tp",
                req.profile.engine
            ),
        });
    }
    if req.attention_dp > 1 {
        validate_attention_dp(arch, req)?;
    }
    if req.ep > 1 {
        validate_expert_parallel(arch, req)?;
    }
    if req.pp > arch.num_layers() {
        return Err(CoreError::Invalid {
            field: "pp",
            value: req.pp.to_string(),
            expected: format!("at most the {} layers", arch.num_layers()),
        });
    }
    let per_replica = req.gpus_per_replica().ok_or(CoreError::Overflow {
        quantity: "devices per replica (tp · pp · attention_dp)",
    })?;
    if req.gpus % per_replica != 0 {
        return Err(CoreError::Invalid {
            field: "gpus",
            value: req.gpus.to_string(),
            expected: format!("a multiple of tp · pp · attention_dp = {per_replica}"),
        });
    }
    for (field, v) in [
        ("tp", req.tp),
        ("pp", req.pp),
        ("attention_dp", req.attention_dp),
    ] {
        if v > 1 && req.gpu.interconnect_bytes_per_sec.is_none() {
            return Err(CoreError::Invalid {
                field,
                value: v.to_string(),
                expected: format!("1: `{}` has no link between devices", req.gpu.name),
            });
        }
    }
    if let Some(p) = req.price_per_gpu_hour {
        if !(p.is_finite() && p > 0.0) {
            return Err(CoreError::Invalid {
                field: "price",
                value: p.to_string(),
                expected: "a positive price per GPU-hour".into(),
            });
        }
    }
    req.gpu.validate()?;
    req.profile.validate()
}

/// Refuse data-parallel attention where it is not modelled: a dense model (its
/// groups would be replicas), an engine without it, or beside a layer split.
fn validate_attention_dp(arch: &Architecture, req: &InferRequest) -> Result<()> {
    let invalid = |expected: String| CoreError::Invalid {
        field: "attention_dp",
        value: req.attention_dp.to_string(),
        expected,
    };
    if !arch.is_moe() {
        return Err(invalid(
            "1: a dense model's data-parallel groups share nothing; serve them as replicas (--gpus)"
                .into(),
        ));
    }
    let engine = req.profile.engine;
    match engine.attention_groups() {
        None => {
            return Err(invalid(format!(
                "1: {engine}'s data-parallel attention is not modelled (vllm's, sglang's and trtllm's are)"
            )))
        }
        Some(AttentionGroups::SingleRank) if req.tp > 1 => {
            return Err(invalid(format!(
                "1 with tp {}: {engine} runs data-parallel attention on single ranks; use tp 1",
                req.tp
            )))
        }
        Some(_) => {}
    }
    if req.pp > 1 {
        return Err(invalid(
            "1 with pp above 1: data-parallel attention beside pipeline stages is not modelled"
                .into(),
        ));
    }
    Ok(())
}

/// Refuse expert parallelism the model or the engine cannot run: a model without
/// routed experts, more groups than experts, or a size the engine does not allow
/// ([`Engine::expert_groups`]).
fn validate_expert_parallel(arch: &Architecture, req: &InferRequest) -> Result<()> {
    let invalid = |expected: String| CoreError::Invalid {
        field: "ep",
        value: req.ep.to_string(),
        expected,
    };
    let Some(moe) = arch.first_moe() else {
        return Err(invalid("1: the model has no routed experts".into()));
    };
    if req.ep > moe.num_experts {
        return Err(invalid(format!(
            "at most the {} routed experts",
            moe.num_experts
        )));
    }
    let engine = req.profile.engine;
    let ranks = req.tp.saturating_mul(req.attention_dp);
    let of = if req.attention_dp > 1 {
        "tp · attention_dp"
    } else {
        "tp"
    };
    match engine.expert_groups() {
        None => Err(invalid(format!("1: {engine} has no expert parallelism"))),
        Some(ExpertGroups::AllRanks) if !ExpertGroups::AllRanks.allows(req.ep, ranks) => {
            Err(invalid(format!(
                "1 or {of} = {ranks}: {engine} spreads the experts over every rank of a stage"
            )))
        }
        Some(ExpertGroups::DivisorOfRanks)
            if !ExpertGroups::DivisorOfRanks.allows(req.ep, ranks) =>
        {
            Err(invalid(format!(
                "a divisor of {of} = {ranks}: {engine} groups a stage's ranks"
            )))
        }
        Some(_) => Ok(()),
    }
}

/// Memory of one device for `format` at `tp`, with `batch` requests of `context` tokens.
fn memory_for(
    arch: &Architecture,
    req: &InferRequest,
    format: WeightFormat,
    tp: u64,
    batch: u64,
    context: u64,
) -> Result<MemoryPerGpu> {
    let mut req = req.clone();
    req.weights = format;
    // experts held whole by every rank stay so at the new size
    if req.ep > 1 && req.ep == req.tp.saturating_mul(req.attention_dp) {
        req.ep = tp.saturating_mul(req.attention_dp);
    }
    req.tp = tp;
    let prepared = Prepared::new(arch);
    let replica = prepared.replica_unchecked(&req)?;
    replica.memory(batch, context, req.profile.prefill_chunk_tokens)
}

/// Estimate serving `arch` as `req` describes.
///
/// # Formula
/// See [`pass_time`] (speed), [`layout`] (memory), [`schedule`] (batching) and
/// [`cost()`]; DESIGN.md "Inference".
///
/// # Errors
/// [`CoreError::Zero`] for zero devices, tp or batch, or an empty request;
/// [`CoreError::Invalid`] when `tp` does not divide the heads, `gpus` is not a
/// multiple of `tp`, the device has no link for `tp > 1`, or an assumption is
/// out of range. A model that does not fit is not an error: `fits` is false and
/// `fit_advice` says what would fit. A context beyond the model is a warning.
pub fn estimate(arch: &Architecture, req: &InferRequest) -> Result<InferEstimate> {
    Prepared::new(arch).estimate(req)
}

/// The smallest decode batch whose matmuls are compute-bound on the pass model
/// (no KV cache), by bisection over 1..=2¹⁶.
fn effective_ridge(arch: &Architecture, weights: &PassWeights<'_>, m: Machine<'_>) -> Option<u64> {
    let compute_bound = |b: u64| {
        let t = pass_time_of(
            arch,
            weights,
            &Pass {
                sequences: b,
                new_tokens: 1,
                cached_tokens: 0,
            },
            m,
        );
        t.compute_bound_seconds >= t.memory_bound_seconds
    };
    let (mut lo, mut hi) = (1u64, 1u64 << 16);
    if compute_bound(lo) {
        return Some(1);
    }
    if !compute_bound(hi) {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if compute_bound(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// What would make a model fit: more ranks, a smaller format, a smaller batch or context.
fn advise(
    arch: &Architecture,
    req: &InferRequest,
    context: u64,
    (b, c): (u64, u64),
) -> Result<FitAdvice> {
    let batch = req.load.requests();
    let mut min_tp = None;
    // a layer split's devices are not tensor-parallel ranks: no tp to advise
    if req.gpu.interconnect_bytes_per_sec.is_some() && req.pp == 1 {
        let mut tp = req.tp.saturating_mul(2);
        while tp <= 64 {
            if arch.heads() % tp == 0 {
                if let Ok(m) = memory_for(arch, req, req.weights, tp, batch, context) {
                    if m.fits() {
                        min_tp = Some(tp);
                        break;
                    }
                }
            }
            tp *= 2;
        }
    }
    let current = weights_bytes(arch, req.weights, &req.weight_options)?;
    let mut formats = Vec::new();
    for name in ["fp8", "awq-int4-g128", "Q4_K_M", "Q3_K_M"] {
        let f: WeightFormat = name.parse()?;
        if weights_bytes(arch, f, &req.weight_options)? >= current {
            continue;
        }
        if memory_for(arch, req, f, req.tp, batch, context)?.fits() {
            formats.push(f.to_string());
        }
    }
    Ok(FitAdvice {
        min_tp,
        formats,
        max_batch: (b >= 1).then_some(b),
        max_context: (c >= 1).then_some(c),
    })
}

#[cfg(test)]
mod tests;
