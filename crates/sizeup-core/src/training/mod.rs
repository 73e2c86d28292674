//! Training estimates: memory per GPU under a parallel layout, FLOPs, step time,
//! throughput, wall time and cost, for pre-training and fine-tuning.
//!
//! One entry point, [`estimate`], turns an [`Architecture`], an [`Accelerator`] and a
//! [`TrainRequest`] into a [`TrainEstimate`]. The pieces live in modules named for
//! what they compute: [`parallel`] (the layout and its checks), [`states`]
//! (weights, gradients, optimizer states), [`activations`] (stored tensors per
//! block), [`loss`] (the logits and the loss), [`flops`], [`kernels`] (one GPU of the run on the device model,
//! [`crate::device`], whose collectives price the communication), [`time`]
//! (layers, pipeline, step) and [`lora`] (adapters and NF4).
//!
//! ```
//! use sizeup_core::{hardware, training::{self, TrainRequest}, Shape};
//!
//! // Llama-2-7B (6,738,415,616 parameters, shared/fixtures/models/llama-2-7b) on 8 A100s with FSDP
//! let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000).build().unwrap();
//! let gpu = hardware::find("A100-SXM-80GB").unwrap();
//! let mut req = TrainRequest::new(8, 4096, 64, 1);
//! req.layout.fsdp = true;
//! let e = training::estimate(&arch, gpu, &req).unwrap();
//! let m = &e.memory;
//! // FSDP mixed-precision AdamW: 16 bytes per parameter (2 + 2 + 12), sharded over the 8 GPUs
//! assert_eq!(m.weights_bytes + m.gradients_bytes + m.optimizer_states_bytes, 2 * 6_738_415_616);
//! assert!(e.fits);
//! ```

pub mod activations;
pub mod eager;
pub mod fit;
pub mod flops;
pub mod kernels;
pub mod lora;
pub mod loss;
mod memo;
pub mod parallel;
pub mod states;
pub mod time;
pub mod verdict;

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::assumption::Assumption;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::ops::{self, OpList};
use crate::params;
use crate::units::{product, sum};

use crate::device::collective::{Fabric, Network};
use activations::{ActivationConfig, Recompute};
use kernels::{Gpu, Kernels};
use lora::Method;
use memo::{Memo, StageStates};
use parallel::{Layout, LayoutRequest, Workload, ZeroStage};
use states::{GpuParams, Optimizer, OptimizerImpl, Precision, Stage, StateConfig, StateInputs};
use time::{Overlap, StepKernels, StepTime, TimeConfig};

/// Memory the framework itself holds on each GPU: the CUDA context and the
/// library workspaces and allocator slack around the tensors.
///
/// # Source
/// PyTorch "CUDA semantics" notes (the context, ~0.3–0.6 GiB with lazy module
/// loading, is outside `memory_reserved`); cuBLAS and NCCL workspaces and the
/// caching allocator's rounding make up the rest of the 1 GiB.
pub const FRAMEWORK_OVERHEAD_BYTES: u64 = 1 << 30;

/// PyTorch DDP's gradient bucket size, double-buffered for overlap.
///
/// # Source
/// `torch.nn.parallel.DistributedDataParallel(bucket_cap_mb=25)` (PyTorch docs).
pub const DDP_BUCKET_BYTES: u64 = 25 << 20;

/// A training run to estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrainRequest {
    /// GPUs in the run.
    pub gpus: u64,
    /// Sequence length `s`.
    pub seq_len: u64,
    /// Global batch `B` in sequences per optimizer step.
    pub global_batch: u64,
    /// Micro-batch `b` in sequences.
    pub micro_batch: u64,
    /// Training tokens; `None` uses the compute-optimal count (20 per parameter).
    pub tokens: Option<u64>,
    /// The parallel layout asked for.
    pub layout: LayoutRequest,
    /// Recomputation.
    pub recompute: Recompute,
    /// Flash attention.
    pub flash_attention: bool,
    /// Dropout on attention and residuals (1-byte masks; pre-training of current
    /// models sets it to 0).
    pub dropout: bool,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Precision of the matrix products.
    pub precision: Precision,
    /// Keep fp32 master weights in the optimizer (mixed precision).
    pub master_weights: bool,
    /// Step the optimizer inside the backward pass, freeing each gradient at once.
    pub optimizer_in_backward: bool,
    /// Full training or adapters.
    pub method: Method,
    /// A model FLOPs utilization to use instead of the time model.
    pub mfu: Option<f64>,
    /// Fused or eager element-wise kernels. Eager kernels also stand for a plain
    /// PyTorch training loop: eager activations, fp32 parameters under autocast
    /// where nothing shards them (`eager_residual`), and gradients allocated in
    /// the backward where one micro-batch makes a step ([`Peak`]).
    pub kernels: Kernels,
    /// Which communication is overlapped.
    pub overlap: Overlap,
    /// The cluster's network; what it leaves unsaid comes from the accelerator's row.
    pub network: Network,
    /// Price per GPU-hour in US dollars; `None` uses the accelerator's catalog price.
    pub price_per_gpu_hour: Option<f64>,
    /// Share of the kernel rates the run sustains; `None` uses the fitted
    /// [`kernels::SUSTAINED_FRACTION`] (validation refits it with this field).
    #[serde(default)]
    pub sustained_fraction: Option<f64>,
    /// Share of the SMs overlapped communication takes from compute; `None` uses
    /// the fitted [`time::COMM_SM_SHARE`] (validation refits it with this field).
    #[serde(default)]
    pub comm_sm_share: Option<f64>,
    /// How the logits and loss are held; `None` follows `kernels`
    /// ([`loss::Loss::default_for`]).
    #[serde(default)]
    pub loss: Option<loss::Loss>,
    /// Who holds the gradients and optimizer states: the precision's convention,
    /// or DeepSpeed's BF16 optimizer ([`states::OptimizerImpl`]).
    #[serde(default)]
    pub optimizer_impl: OptimizerImpl,
}

impl TrainRequest {
    /// A request with the defaults: no model parallelism, bf16 mixed-precision
    /// AdamW, flash attention, no recomputation, fused kernels, overlapped
    /// data-parallel traffic, full training.
    pub fn new(gpus: u64, seq_len: u64, global_batch: u64, micro_batch: u64) -> TrainRequest {
        TrainRequest {
            gpus,
            seq_len,
            global_batch,
            micro_batch,
            tokens: None,
            layout: LayoutRequest::default(),
            recompute: Recompute::None,
            flash_attention: true,
            dropout: false,
            optimizer: Optimizer::Adamw,
            precision: Precision::Bf16,
            master_weights: true,
            optimizer_in_backward: false,
            method: Method::Full,
            mfu: None,
            kernels: Kernels::Fused,
            overlap: Overlap::default(),
            network: Network::default(),
            price_per_gpu_hour: None,
            sustained_fraction: None,
            comm_sm_share: None,
            loss: None,
            optimizer_impl: OptimizerImpl::Standard,
        }
    }

    /// The loss implementation: the one asked for, else the kernels' default.
    pub fn loss(&self) -> loss::Loss {
        self.loss
            .unwrap_or_else(|| loss::Loss::default_for(self.kernels))
    }
}

/// Memory on one GPU, line by line, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemoryPerGpu {
    /// The pipeline stage these figures describe (the one that needs the most).
    pub stage: Option<Stage>,
    /// Weights.
    pub weights_bytes: u64,
    /// Gradients.
    pub gradients_bytes: u64,
    /// Optimizer states (fp32 master weights included, and an fp16 run's fp32
    /// gradient copy).
    pub optimizer_states_bytes: u64,
    /// Stored activations of the micro-batches in flight (first stage: the most),
    /// and the layer a recomputing backward rebuilds, less what the logits freed
    /// before it on the stage that computes the loss.
    pub activations_bytes: u64,
    /// Logits and loss buffers (last stage).
    pub logits_and_loss_bytes: u64,
    /// 16-bit copies of fp32 weights that `torch.autocast` casts and autograd keeps
    /// for the backward ([`states::product_weights_per_gpu`], 2 bytes each); 0
    /// unless the parameters are fp32 under autocast.
    #[serde(default)]
    pub weight_copies_bytes: u64,
    /// Communication buffers: FSDP's gathered layers, DDP's gradient buckets.
    pub communication_buffers_bytes: u64,
    /// CUDA context, workspaces, allocator slack.
    pub framework_overhead_bytes: u64,
    /// When the memory peaks, and so which line items the total holds.
    #[serde(default)]
    pub peak: Peak,
    /// The peak: the sum of the line items [`Peak`] says are alive then.
    pub total_bytes: u64,
    /// The accelerator's memory.
    pub capacity_bytes: u64,
}

impl MemoryPerGpu {
    /// Whether the total fits the accelerator's memory.
    pub fn fits(&self) -> bool {
        self.total_bytes <= self.capacity_bytes
    }

    /// Whether the total fits with the margin [`verdict::FIT_MARGIN`] to spare,
    /// inside it, or not at all.
    pub fn verdict(&self) -> verdict::FitVerdict {
        verdict::FitVerdict::of(self.total_bytes, self.capacity_bytes)
    }

    /// The line items in display order, `(name, bytes, part of the peak)`; the
    /// total is the sum of those part of the peak ([`Peak`]).
    pub fn items(&self) -> [(&'static str, u64, bool); 8] {
        let grads = self.peak.holds_gradients();
        let forward = self.peak.holds_activations();
        [
            ("weights", self.weights_bytes, true),
            ("gradients", self.gradients_bytes, grads),
            ("optimizer states", self.optimizer_states_bytes, true),
            (WEIGHT_COPIES, self.weight_copies_bytes, forward),
            ("activations", self.activations_bytes, forward),
            ("logits and loss", self.logits_and_loss_bytes, forward),
            (
                "communication buffers",
                self.communication_buffers_bytes,
                true,
            ),
            ("framework overhead", self.framework_overhead_bytes, true),
        ]
    }

    /// [`MemoryPerGpu::items`] as a table shows them: the weight copies only
    /// where there are any (autocast).
    pub fn shown_items(&self) -> Vec<(&'static str, u64, bool)> {
        self.items()
            .into_iter()
            .filter(|&(name, b, _)| name != WEIGHT_COPIES || b > 0)
            .collect()
    }
}

/// The line item of autocast's 16-bit weight copies.
const WEIGHT_COPIES: &str = "16-bit weight copies";

/// The moment of a training step at which a GPU's memory peaks.
///
/// The forward pass ends with every stored activation, the logits and the loss
/// alive; the backward then frees activations layer by layer while it writes
/// gradients, and the optimizer step runs with gradients and states only. Where
/// the gradients already exist when the forward ends (persistent gradient
/// buffers, or gradients accumulated over earlier micro-batches), the end of the
/// forward holds everything. Where they are allocated in the backward (PyTorch's
/// `zero_grad(set_to_none=True)`, the default since 2.0, with one micro-batch per
/// step), the peak is the larger of the forward's end without them and the
/// optimizer step.
///
/// # Source
/// PyTorch 2.0 release notes (`zero_grad(set_to_none=True)` by default); the
/// autograd engine's order (the loss's gradient first, layer by layer back);
/// sizeup's own H200 runs (`torch.cuda.max_memory_allocated`, within 3.2% of
/// this peak for Llama 3.2 1B and 3B with and without checkpointing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Peak {
    /// The end of the forward pass, gradients included: every line item.
    #[default]
    ForwardEnd,
    /// The end of the forward pass, before the backward allocates the gradients:
    /// every line item but the gradients.
    ForwardEndBeforeGradients,
    /// The optimizer step: weights, gradients, optimizer states, buffers and
    /// overhead; no activations, logits or weight copies.
    OptimizerStep,
}

impl Peak {
    /// Whether the gradients are part of the peak.
    pub fn holds_gradients(self) -> bool {
        self != Peak::ForwardEndBeforeGradients
    }

    /// Whether the forward's tensors (activations, logits, weight copies) are.
    pub fn holds_activations(self) -> bool {
        self != Peak::OptimizerStep
    }

    /// A phrase for output.
    pub fn describe(self) -> &'static str {
        match self {
            Peak::ForwardEnd => "the end of the forward pass, gradients already allocated",
            Peak::ForwardEndBeforeGradients => {
                "the end of the forward pass, before the backward allocates the gradients"
            }
            Peak::OptimizerStep => "the optimizer step, activations freed",
        }
    }
}

/// FLOPs of the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FlopsEstimate {
    /// Per token trained.
    pub per_token: flops::FlopsPerToken,
    /// Model FLOPs of one step (`6·N + attention` per token).
    pub model_flops_per_step: f64,
    /// Hardware FLOPs of one step (recomputation included).
    pub hardware_flops_per_step: f64,
    /// `6·N·D` for the whole run (the published convention).
    pub six_n_d: f64,
    /// Model FLOPs of the whole run.
    pub model_flops_total: f64,
    /// Hardware FLOPs of the whole run.
    pub hardware_flops_total: f64,
}

/// Time, throughput, utilization and cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TimeEstimate {
    /// Seconds per optimizer step (the modelled value, or the `--mfu` override's).
    pub step_seconds: f64,
    /// The modelled breakdown of one step.
    pub breakdown: StepTime,
    /// The MFU given instead of the time model, if any.
    pub mfu_override: Option<f64>,
    /// Tokens per second over all GPUs.
    pub tokens_per_second: f64,
    /// Tokens per second per GPU.
    pub tokens_per_second_per_gpu: f64,
    /// Model FLOPs utilization (of the matmul precision's dense peak).
    pub mfu: f64,
    /// Hardware FLOPs utilization.
    pub hfu: f64,
    /// Optimizer steps for the training tokens.
    pub steps: f64,
    /// Wall seconds for the training tokens.
    pub total_seconds: f64,
    /// GPU-hours for the training tokens.
    pub gpu_hours: f64,
    /// Cost in US dollars; `None` without a price.
    pub cost_usd: Option<f64>,
}

/// Everything `sizeup train` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrainEstimate {
    /// The accelerator's catalog name.
    pub accelerator: String,
    /// The checked layout.
    pub layout: Layout,
    /// The method (`full`, `lora`, `qlora`).
    pub method: Method,
    /// All parameters.
    pub params_total: u64,
    /// Parameters a token passes through (MoE).
    pub params_active: u64,
    /// Parameters trained (adapters for LoRA/QLoRA).
    pub params_trainable: u64,
    /// Memory per GPU.
    pub memory: MemoryPerGpu,
    /// Whether the counted peak fits the memory (a tight fit included).
    pub fits: bool,
    /// Whether it fits with [`verdict::FIT_MARGIN`] to spare, inside that
    /// margin (tight), or not at all.
    pub verdict: verdict::FitVerdict,
    /// The largest micro-batch that fits (memory only; `None` if not even 1 does).
    pub largest_micro_batch: Option<u64>,
    /// The largest micro-batch that fits with [`verdict::FIT_MARGIN`] to spare
    /// (`None` if not even 1 does).
    #[serde(default)]
    pub largest_micro_batch_with_margin: Option<u64>,
    /// FLOPs.
    pub flops: FlopsEstimate,
    /// Time and cost.
    pub time: TimeEstimate,
    /// Training tokens used for the totals.
    pub tokens: f64,
    /// Compute-optimal tokens for this model (20 per parameter).
    pub compute_optimal_tokens: f64,
    /// Training tokens per parameter.
    pub tokens_per_parameter: f64,
    /// What the estimate assumed, with sources.
    pub assumptions: Vec<Assumption>,
}

/// The sizes a layout is resolved against.
pub(crate) fn workload(req: &TrainRequest) -> Workload {
    Workload {
        gpus: req.gpus,
        seq_len: req.seq_len,
        global_batch: req.global_batch,
        micro_batch: req.micro_batch,
    }
}

pub(crate) fn state_config<'a>(req: &'a TrainRequest, layout: &Layout) -> StateConfig<'a> {
    StateConfig {
        precision: req.precision,
        optimizer: req.optimizer,
        master_weights: req.master_weights,
        optimizer_in_backward: req.optimizer_in_backward,
        fp32_params: req.method.adapters().is_none()
            && eager_residual(req, layout) == eager::Residual::Autocast,
        method: &req.method,
        optimizer_impl: req.optimizer_impl,
    }
}

/// Memory per GPU of the stage that needs the most, at micro-batch `b`, with the
/// parameters on a GPU of the first (or only) stage; `memo` keeps the figures
/// the layouts of one split share.
#[allow(clippy::too_many_arguments)]
fn memory(
    arch: &Architecture,
    list: &OpList,
    inputs: &StateInputs,
    acc: &Accelerator,
    req: &TrainRequest,
    layout: &Layout,
    b: u64,
    memo: &mut Memo,
) -> Result<(MemoryPerGpu, GpuParams)> {
    let mut layout = layout.clone();
    layout.micro_batches = micro_batches(req.global_batch, b, layout.dp);
    let layout = &layout;
    let residual = (req.kernels == Kernels::Eager).then(|| eager_residual(req, layout));
    let act_cfg = ActivationConfig::new(layout, req, b, residual);
    let cfg = state_config(req, layout);
    let gradients_held = gradients_before_backward(req, layout);
    let logits = loss::logits_bytes(arch, &act_cfg, req.loss(), layout.micro_batches)?;
    let comm = |stage, params: u64| -> Result<u64> {
        let layers = match stage {
            Stage::Last => layout.last_stage_layers(arch),
            _ => layout.first_stage_layers(arch),
        }
        .max(1);
        Ok(match layout.zero {
            ZeroStage::Zero3 if layout.dp > 1 => {
                product("communication buffer bytes", &[3, params / layers, 2])?
            }
            _ if layout.dp > 1 => 2 * DDP_BUCKET_BYTES,
            _ => 0,
        })
    };
    // the stage's parameters once, for its states and its buffers
    let stage_states = |stage: Stage| -> Result<StageStates> {
        let params = states::params_per_gpu_in(arch, &inputs.splits, layout, stage)?;
        Ok(StageStates {
            states: states::model_states_from(arch, inputs, layout, params, &cfg)?,
            params,
            communication_buffers_bytes: comm(stage, params.total()?)?,
        })
    };
    let build = |memo: &mut Memo,
                 stage: Stage,
                 activations_bytes: u64,
                 logits_bytes: u64|
     -> Result<(MemoryPerGpu, GpuParams)> {
        let StageStates {
            states: s,
            params,
            communication_buffers_bytes,
        } = memo.stage_states(layout, stage, || stage_states(stage))?;
        let weight_copies_bytes = if cfg.fp32_params {
            let layers = matches!(req.recompute, Recompute::None | Recompute::Selective);
            product(
                "memory per GPU",
                &[
                    2,
                    states::product_weights_per_gpu(arch, params, layout, stage, layers)?,
                ],
            )?
        } else {
            0
        };
        let held = sum(
            "memory per GPU",
            &[
                s.weights_bytes,
                s.optimizer_states_bytes,
                communication_buffers_bytes,
                FRAMEWORK_OVERHEAD_BYTES,
            ],
        )?;
        let forward = sum(
            "memory per GPU",
            &[held, activations_bytes, logits_bytes, weight_copies_bytes],
        )?;
        let (peak, total) = if gradients_held {
            (
                Peak::ForwardEnd,
                sum("memory per GPU", &[forward, s.gradients_bytes])?,
            )
        } else {
            let step = sum("memory per GPU", &[held, s.gradients_bytes])?;
            if forward >= step {
                (Peak::ForwardEndBeforeGradients, forward)
            } else {
                (Peak::OptimizerStep, step)
            }
        };
        let mem = MemoryPerGpu {
            stage: Some(stage),
            weights_bytes: s.weights_bytes,
            gradients_bytes: s.gradients_bytes,
            optimizer_states_bytes: s.optimizer_states_bytes,
            activations_bytes,
            logits_and_loss_bytes: logits_bytes,
            weight_copies_bytes,
            communication_buffers_bytes,
            framework_overhead_bytes: FRAMEWORK_OVERHEAD_BYTES,
            peak,
            total_bytes: total,
            capacity_bytes: acc.memory_bytes,
        };
        debug_assert_eq!(
            mem.items()
                .iter()
                .filter(|i| i.2)
                .fold(0u64, |n, i| n.saturating_add(i.1)),
            mem.total_bytes,
            "the total is the items at the peak"
        );
        Ok((mem, params))
    };
    let first_layers = layout.first_stage_layers(arch);
    let first = activations::first_stage_with(arch, layout, &act_cfg, |c| {
        memo.layer_bytes(
            c.micro_batch,
            c.sequence_parallel,
            c.recompute,
            c.eager,
            || activations::largest_layer_bytes(arch, list, first_layers, c),
        )
    })?;
    // On the stage that computes the loss, the loss's backward frees the logits
    // before the stage's last layer is rebuilt, all but what the framework keeps
    // (LogitsBytes::kept_bytes): the recompute working set and the freed part are
    // never alive together, and the peak holds the larger of the logits' peak and
    // the working set beside the kept part.
    let freed = logits.peak_bytes.saturating_sub(logits.kept_bytes);
    let beside_logits = |stored: u64| {
        sum(
            "activation bytes",
            &[stored, first.recompute_working_bytes.saturating_sub(freed)],
        )
    };
    if layout.pp == 1 {
        return build(
            memo,
            Stage::Only,
            beside_logits(first.stored_bytes)?,
            logits.peak_bytes,
        );
    }
    let first_mem = build(memo, Stage::First, first.total_bytes, 0)?;
    let last_layers = layout.last_stage_layers(arch);
    let last_act = beside_logits(product(
        "activation bytes",
        &[first.per_layer_bytes, last_layers],
    )?)?;
    let (last_mem, _) = build(memo, Stage::Last, last_act, logits.peak_bytes)?;
    let (first_mem, first_params) = first_mem;
    Ok(if last_mem.total_bytes > first_mem.total_bytes {
        (last_mem, first_params)
    } else {
        (first_mem, first_params)
    })
}

/// The largest micro-batch whose memory fits (with `with_margin`, with
/// [`verdict::FIT_MARGIN`] to spare), by doubling then bisection.
#[allow(clippy::too_many_arguments)]
fn largest_micro_batch(
    arch: &Architecture,
    list: &OpList,
    inputs: &StateInputs,
    acc: &Accelerator,
    req: &TrainRequest,
    layout: &Layout,
    with_margin: bool,
    memo: &mut Memo,
) -> Result<Option<u64>> {
    const LIMIT: u64 = 1 << 20;
    let mut fits = |b: u64| -> Result<(bool, u64)> {
        let mem = memory(arch, list, inputs, acc, req, layout, b, memo)?.0;
        let fits = if with_margin {
            mem.verdict() == verdict::FitVerdict::Fits
        } else {
            mem.fits()
        };
        Ok((fits, b))
    };
    // Memory grows with the micro-batch except at the first one that makes a
    // step a single micro-batch, where the gradients may leave the peak (Peak):
    // the search runs on each side of that point, from it first.
    let single = first_single_micro_batch(req.global_batch, layout.dp).clamp(1, LIMIT);
    if single > 1 && fits(single)?.0 {
        let (largest, _) = fit::double_then_bisect(single, LIMIT, true, &mut fits)?;
        return Ok(largest);
    }
    let (largest, _) = fit::double_then_bisect(1, LIMIT, true, fits)?;
    Ok(largest)
}

/// Micro-batches of `b` sequences each of `dp` ranks runs per step of `global`
/// sequences: `max(1, ⌊G / (b · dp)⌋)`.
fn micro_batches(global: u64, b: u64, dp: u64) -> u64 {
    (global / b.saturating_mul(dp).max(1)).max(1)
}

/// The smallest micro-batch at which a step of `global` sequences over `dp` ranks
/// is a single micro-batch ([`micro_batches`] = 1): `⌊G / (2·dp)⌋ + 1`.
fn first_single_micro_batch(global: u64, dp: u64) -> u64 {
    global / dp.max(1).saturating_mul(2) + 1
}

/// Estimate memory, FLOPs, time and cost of training `arch` on `acc` as `req` asks.
///
/// # Formula
/// ```text
/// memory per GPU = the line items alive at the peak (Peak): weights + gradients
///                + optimizer states + 16-bit weight copies (autocast) + activations
///                (first stage) + logits and loss (last stage) + communication buffers
///                + framework overhead, the gradients left out where they are
///                allocated after the forward's end, or the optimizer step's items alone
/// step           = time::step_seconds (or model FLOPs per step / (gpus · peak · MFU) with an MFU given)
/// tokens/s       = B · s / step;   MFU = model FLOPs per step / (step · gpus · peak)
/// total          = D / (B · s) steps;  GPU-hours = total seconds · gpus / 3600;  cost = GPU-hours · price
/// ```
///
/// # Source
/// DESIGN.md "Training"; the modules' own sources.
///
/// # Errors
/// [`CoreError`] for a layout that does not fit the model, the GPU count or the
/// batch; a precision the accelerator lacks; an MFU outside (0, 1]; overflow.
pub fn estimate(
    arch: &Architecture,
    acc: &Accelerator,
    req: &TrainRequest,
) -> Result<TrainEstimate> {
    Prepared::new(arch).estimate(acc, req)
}

/// [`estimate`] without its two per-run extras: the search for the largest
/// micro-batch that fits (`largest_micro_batch` is `None`) and the assumptions
/// (empty). Every other field is computed by the same code, so it equals
/// [`estimate`]'s to the bit; a configuration search prices its candidates with
/// it (the extras are most of [`estimate`]'s time) and its winners with [`estimate`].
///
/// # Errors
/// As [`estimate`].
pub fn estimate_point(
    arch: &Architecture,
    acc: &Accelerator,
    req: &TrainRequest,
) -> Result<TrainEstimate> {
    Prepared::new(arch).estimate_point(acc, req)
}

/// What every estimate of one model shares, whatever the layout, the request
/// and the accelerator: the operator list, the parameter count, the tensors per
/// block and the model-wide optimizer inputs. [`estimate`] builds one per call;
/// a search builds one per model and prices each layout with
/// [`Prepared::estimate_point`], which then does only the layout's own work.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    arch: &'a Architecture,
    dims: parallel::ModelDims,
    // An error is kept and reported where `estimate` reported it: after the
    // request's own checks.
    model: Result<PreparedModel>,
}

#[derive(Debug, Clone)]
struct PreparedModel {
    list: OpList,
    count: params::ParamCount,
    states: StateInputs,
}

impl<'a> Prepared<'a> {
    /// Gather what `arch`'s estimates share.
    pub fn new(arch: &'a Architecture) -> Prepared<'a> {
        let model = ops::list(arch).and_then(|list| {
            let count = params::count_of(arch, &list)?;
            let states = StateInputs::of(arch, &list, count.total)?;
            Ok(PreparedModel {
                list,
                count,
                states,
            })
        });
        Prepared {
            arch,
            dims: parallel::ModelDims::of(arch),
            model,
        }
    }

    /// The model.
    pub fn arch(&self) -> &'a Architecture {
        self.arch
    }

    /// [`estimate`] of this model.
    ///
    /// # Errors
    /// As [`estimate`].
    pub fn estimate(&self, acc: &Accelerator, req: &TrainRequest) -> Result<TrainEstimate> {
        estimate_with(self, acc, req, true)
    }

    /// [`estimate_point`] of this model.
    ///
    /// # Errors
    /// As [`estimate`].
    pub fn estimate_point(&self, acc: &Accelerator, req: &TrainRequest) -> Result<TrainEstimate> {
        estimate_with(self, acc, req, false)
    }

    /// [`states::model_states`] of this model.
    ///
    /// # Errors
    /// As [`states::model_states`].
    pub fn model_states(
        &self,
        layout: &Layout,
        stage: Stage,
        cfg: &StateConfig,
    ) -> Result<states::ModelStates> {
        match &self.model {
            Ok(m) => states::model_states_in(self.arch, &m.states, layout, stage, cfg),
            Err(e) => Err(e.clone()),
        }
    }

    /// A pricer of the layouts of a search over `base` on `acc` ([`Pricer`]).
    pub(crate) fn pricer<'p>(
        &'p self,
        acc: &'p Accelerator,
        base: &TrainRequest,
    ) -> Pricer<'p, 'a> {
        Pricer {
            prepared: self,
            acc,
            req: base.clone(),
            memo: Memo::new(),
        }
    }
}

/// Prices the layouts of one search on one accelerator. Each call sets the
/// layout fields of the base request (GPUs, layout, micro-batch, recomputation)
/// and keeps the rest, so the figures that layouts share are kept in a [`Memo`]
/// and priced once; layouts of one `t·p·cp·dp` split in a row share the most.
pub(crate) struct Pricer<'p, 'a> {
    prepared: &'p Prepared<'a>,
    acc: &'p Accelerator,
    req: TrainRequest,
    memo: Memo,
}

impl Pricer<'_, '_> {
    /// The figures of [`Prepared::estimate_point`] a search ranks by, for the
    /// base request with these layout fields, without building the estimate (no
    /// allocation once the split's shared figures are in): the same computation
    /// over the same figures, so the same bits.
    pub(crate) fn outcome(
        &mut self,
        gpus: u64,
        layout: LayoutRequest,
        micro_batch: u64,
        recompute: Recompute,
    ) -> Result<Outcome> {
        let p = self.priced(gpus, layout, micro_batch, recompute)?;
        Ok(Outcome {
            verdict: p.mem.verdict(),
            total_bytes: p.mem.total_bytes,
            total_seconds: p.time.total_seconds,
            cost_usd: p.time.cost_usd,
        })
    }

    /// The memory and time [`Pricer::outcome`] reads its figures from.
    fn priced(
        &mut self,
        gpus: u64,
        layout: LayoutRequest,
        micro_batch: u64,
        recompute: Recompute,
    ) -> Result<Priced<'_>> {
        self.req.gpus = gpus;
        self.req.layout = layout;
        self.req.micro_batch = micro_batch;
        self.req.recompute = recompute;
        price(self.prepared, self.acc, &self.req, false, &mut self.memo)
    }

    /// [`Pricer::outcome`]'s memory and time in full, for tests holding them to
    /// [`estimate`]'s.
    #[cfg(test)]
    pub(crate) fn memory_and_time(
        &mut self,
        gpus: u64,
        layout: LayoutRequest,
        micro_batch: u64,
        recompute: Recompute,
    ) -> Result<(MemoryPerGpu, TimeEstimate)> {
        let p = self.priced(gpus, layout, micro_batch, recompute)?;
        Ok((p.mem, p.time))
    }
}

/// What a search needs of one priced layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    pub verdict: verdict::FitVerdict,
    pub total_bytes: u64,
    pub total_seconds: f64,
    pub cost_usd: Option<f64>,
}

/// Everything of an estimate but its names and assumptions.
struct Priced<'p> {
    layout: Layout,
    count: params::ParamCount,
    dev: Gpu<'p>,
    fabric: Fabric,
    mem: MemoryPerGpu,
    largest: Option<u64>,
    largest_with_margin: Option<u64>,
    adapters: Option<u64>,
    per_token: flops::FlopsPerToken,
    model_step: f64,
    hardware_step: f64,
    tokens: f64,
    price: Option<f64>,
    time: TimeEstimate,
}

fn estimate_with(
    prepared: &Prepared,
    acc: &Accelerator,
    req: &TrainRequest,
    full: bool,
) -> Result<TrainEstimate> {
    let arch = prepared.arch;
    let p = price(prepared, acc, req, full, &mut Memo::none())?;
    let count = p.count;
    let tokens = p.tokens;
    let assumptions = if full {
        let mut out = assumptions(req, &p.layout, arch, &p.dev, &p.fabric, p.price, tokens);
        out.push(Assumption::new(
            "memory peak",
            p.mem.peak.describe(),
            "PyTorch 2.0 (zero_grad(set_to_none=True) by default); Megatron-LM and DeepSpeed keep gradient buffers; the loss's backward frees the logits before a recomputed layer is rebuilt, all but what DeepSpeed's pipeline engine keeps in its pipe buffers",
        ));
        out.push(Assumption::new(
            "fit verdict",
            format!(
                "a fit leaves {:.0}% of the memory free for what the count leaves out (the caching allocator's free blocks, NCCL and framework buffers); a peak inside that margin is tight; nvidia-smi shows about {:.2}× the counted peak",
                verdict::FIT_MARGIN * 100.0,
                verdict::READING_RATIO
            ),
            "the smallest margin at which no out-of-memory run of the published bigscience layout grids is called a fit, and the median of the 53 nvidia-smi readings those grids printed over the counted peak (sizeup validate)",
        ));
        out
    } else {
        Vec::new()
    };
    Ok(TrainEstimate {
        accelerator: acc.name.clone(),
        layout: p.layout,
        method: req.method.clone(),
        params_total: count.total,
        params_active: count.active,
        params_trainable: p.adapters.unwrap_or(count.total),
        fits: p.mem.fits(),
        verdict: p.mem.verdict(),
        memory: p.mem,
        largest_micro_batch: p.largest,
        largest_micro_batch_with_margin: p.largest_with_margin,
        flops: FlopsEstimate {
            per_token: p.per_token,
            model_flops_per_step: p.model_step,
            hardware_flops_per_step: p.hardware_step,
            six_n_d: p.per_token.params_6n * tokens,
            model_flops_total: p.per_token.model * tokens,
            hardware_flops_total: p.per_token.hardware * tokens,
        },
        time: p.time,
        tokens,
        compute_optimal_tokens: flops::compute_optimal_tokens(count.total),
        tokens_per_parameter: tokens / count.total.max(1) as f64,
        assumptions,
    })
}

/// Price `req` on `acc`; `memo` holds figures of earlier layouts of the same
/// split, accelerator and request ([`memo`]), or nothing.
fn price<'p>(
    prepared: &Prepared,
    acc: &'p Accelerator,
    req: &TrainRequest,
    full: bool,
    memo: &mut Memo,
) -> Result<Priced<'p>> {
    let arch = prepared.arch;
    let workload = workload(req);
    arch.check_layers()?;
    let layout = Layout::resolve_in(&req.layout, &prepared.dims, &workload)?;
    memo.enter(&layout);
    if let Some(mfu) = req.mfu {
        if !(mfu > 0.0 && mfu <= 1.0) {
            return Err(CoreError::Invalid {
                field: "mfu",
                value: mfu.to_string(),
                expected: "a fraction in (0, 1]".into(),
            });
        }
    }
    if let Some((rank, targets)) = req.method.adapters() {
        if rank == 0 {
            return Err(CoreError::Zero { field: "lora_rank" });
        }
        if targets.is_empty() {
            return Err(CoreError::Invalid {
                field: "lora_targets",
                value: String::new(),
                expected: "at least one of q,k,v,o,gate,up,down".into(),
            });
        }
    }
    if req.gpus > 1 && acc.interconnect_bytes_per_sec.is_none() {
        return Err(CoreError::Invalid {
            field: "gpus",
            value: req.gpus.to_string(),
            expected: format!("1: `{}` has no link between devices", acc.name),
        });
    }
    let model = match &prepared.model {
        Ok(m) => m,
        Err(e) => return Err(e.clone()),
    };
    let (list, count, inputs) = (&model.list, model.count, &model.states);
    let mut dev = Gpu::new(acc, req.precision, req.kernels)?;
    if let Some(f) = req.sustained_fraction {
        if !(f > 0.0 && f <= 1.0) {
            return Err(CoreError::Invalid {
                field: "sustained_fraction",
                value: f.to_string(),
                expected: "a fraction in (0, 1]".into(),
            });
        }
        dev.set_sustained(f);
    }
    req.network.validate()?;
    let fabric = Fabric::of(acc, &req.network);
    let comm_sm_share = req.comm_sm_share.unwrap_or(time::COMM_SM_SHARE);
    if !(0.0..1.0).contains(&comm_sm_share) {
        return Err(CoreError::Invalid {
            field: "comm_sm_share",
            value: comm_sm_share.to_string(),
            expected: "a fraction in [0, 1)".into(),
        });
    }
    dev.residual = eager_residual(req, &layout);
    state_config(req, &layout).check(layout.zero)?;
    if req.loss() == loss::Loss::DeepspeedPipeline && req.kernels == Kernels::Eager {
        // eager kernels stand for a plain PyTorch loop, whose peak may come at the
        // optimizer step without the logits (Peak): not DeepSpeed's pipeline engine
        return Err(CoreError::Invalid {
            field: "loss",
            value: loss::Loss::DeepspeedPipeline.name(),
            expected: "fused kernels: Megatron-DeepSpeed's pipeline model runs Megatron's fused kernels, not a plain PyTorch loop".into(),
        });
    }

    // memory
    let (mem, stage_params) = memory(arch, list, inputs, acc, req, &layout, req.micro_batch, memo)?;
    let (largest, largest_with_margin) = if full {
        (
            largest_micro_batch(arch, list, inputs, acc, req, &layout, false, memo)?,
            largest_micro_batch(arch, list, inputs, acc, req, &layout, true, memo)?,
        )
    } else {
        (None, None)
    };

    // FLOPs
    let adapters = match req.method.adapters() {
        Some((rank, targets)) => Some(lora::adapter_params_in(&inputs.matrices, rank, targets)?),
        None => None,
    };
    let per_token = memo.per_token(req.recompute, || {
        flops::per_token_in(list, &count, req.seq_len, req.recompute, adapters)
    });
    let tokens_per_step = (req.global_batch as f64) * (req.seq_len as f64);
    let tokens = req
        .tokens
        .map_or_else(|| flops::compute_optimal_tokens(count.total), |t| t as f64);
    let model_step = per_token.model * tokens_per_step;
    let hardware_step = per_token.hardware * tokens_per_step;
    let steps = tokens / tokens_per_step;

    // time
    // the first (or only) stage's, as `memory` found them
    let gpu_params = stage_params.total()?;
    let trainable = match adapters {
        Some(a) => (a as f64 * gpu_params as f64 / count.total.max(1) as f64).ceil() as u64,
        None => gpu_params,
    };
    let tcfg = TimeConfig {
        dev,
        fabric,
        layout: &layout,
        seq_len: req.seq_len,
        micro_batch: req.micro_batch,
        recompute: req.recompute,
        flash_attention: req.flash_attention,
        dropout: req.dropout,
        overlap: req.overlap,
        frozen_base: adapters.is_some(),
        quantized_base: matches!(req.method, Method::Qlora { .. }),
        trainable_params: trainable,
        params_on_gpu: gpu_params,
        optimizer_traffic_bytes: req.optimizer.update_traffic_bytes(),
        comm_sm_share,
        loss: req.loss(),
    };
    let traffic = memo.layer_traffic(&layout, || time::stage_layer_traffic(arch, &tcfg));
    let kernels = memo.step_kernels(&layout, req.micro_batch, tcfg.dev.residual, || {
        StepKernels::of(arch, list, &tcfg)
    });
    let breakdown = time::step_seconds_with(arch, list, &tcfg, kernels, &traffic);
    let gpus = req.gpus as f64;
    let step_seconds = match req.mfu {
        Some(mfu) => model_step / (gpus * dev.peak * mfu),
        None => breakdown.step_seconds,
    };
    let total_seconds = steps * step_seconds;
    let gpu_hours = total_seconds * gpus / 3600.0;
    let price = req.price_per_gpu_hour.or(acc.price_per_hour_usd);
    let time = TimeEstimate {
        step_seconds,
        breakdown,
        mfu_override: req.mfu,
        tokens_per_second: tokens_per_step / step_seconds,
        tokens_per_second_per_gpu: tokens_per_step / step_seconds / gpus,
        mfu: model_step / (step_seconds * gpus * dev.peak),
        hfu: hardware_step / (step_seconds * gpus * dev.peak),
        steps,
        total_seconds,
        gpu_hours,
        cost_usd: price.map(|p| gpu_hours * p),
    };

    Ok(Priced {
        layout,
        count,
        dev,
        fabric,
        mem,
        largest,
        largest_with_margin,
        adapters,
        per_token,
        model_step,
        hardware_step,
        tokens,
        price,
        time,
    })
}

fn assumptions(
    req: &TrainRequest,
    layout: &Layout,
    arch: &Architecture,
    dev: &Gpu,
    fabric: &Fabric,
    price: Option<f64>,
    tokens: f64,
) -> Vec<Assumption> {
    let cfg = state_config(req, layout);
    let bytes = cfg
        .bytes_per_parameter(layout.zero == ZeroStage::Zero3)
        .map_or_else(
            |_| String::new(),
            |[w, g, o]| format!(": {w} + {g} + {o} bytes per parameter of weights, gradients and {} states before sharding", req.optimizer.name()),
        );
    let mut out = vec![
        if cfg.fp32_params {
            Assumption::new(
                "precision",
                format!(
                    "{} products under torch.autocast over fp32 parameters, which are the master copy; 16-bit copies of the weights kept for the backward{bytes}",
                    req.precision.name(),
                ),
                "PyTorch automatic mixed precision (torch.amp); eager kernels, fp32 master weights and no ZeRO or FSDP sharding",
            )
        } else {
            Assumption::new(
                "precision",
                format!(
                    "{} products{}{bytes}",
                    req.precision.name(),
                    match (req.master_weights, layout.zero, req.precision) {
                        (false, _, _) => "; 16-bit weights, gradients and optimizer states (no fp32 master)",
                        (true, _, _) if req.optimizer_impl == OptimizerImpl::DeepspeedBf16 => "; DeepSpeed's BF16_Optimizer: bf16 weights and gradients, an fp32 gradient accumulation buffer of every parameter, fp32 master weights and moments sharded over the data-parallel ranks",
                        (true, ZeroStage::Zero3, _) => "; FSDP: fp32 sharded master weights and gradients, 16-bit gathered weights",
                        (true, _, Precision::Fp16) => "; fp16 weights and gradients, fp32 master weights and an fp32 gradient copy in the optimizer",
                        (true, _, _) => "; 16-bit weights, fp32 gradients, fp32 master weights",
                    }
                ),
                match req.optimizer_impl {
                    OptimizerImpl::Standard => "Micikevicius et al. 2018 (mixed precision); Megatron-LM docs/source/api-guide/distributed_optimizer.md (bytes per parameter)",
                    OptimizerImpl::DeepspeedBf16 => "DeepSpeed deepspeed/runtime/bf16_optimizer.py (bf16 gradients kept, fp32 gradient buffer of the whole model, fp32 partition stepped) and runtime/pipe/engine.py (bf16 gradients cleared only before each backward)",
                },
            )
        },
        Assumption::new("optimizer", req.optimizer.name(), "user choice (default AdamW)"),
        Assumption::new("recomputation", req.recompute.name(), "Korthikanti et al. 2022"),
        Assumption::new(
            "attention kernel",
            if req.flash_attention { "flash attention (causal: half the s² work)" } else { "unfused softmax attention" },
            "Dao 2023 (FlashAttention-2)",
        ),
        match req.kernels {
            Kernels::Fused => Assumption::new(
                "activation bytes",
                "16-bit tensors, 1-byte dropout masks",
                "Korthikanti et al. 2022 §4.1",
            ),
            Kernels::Eager => Assumption::new(
                "activation bytes",
                "eager operators: each RMSNorm keeps its fp32 input and normalised tensor, autocast keeps a 16-bit cast of the normed input per product, SDPA's output and its contiguous copy, SwiGLU's silu output besides gate, up and product",
                "counted from transformers' LlamaDecoderLayer and PyTorch's autograd saved tensors (training::eager)",
            ),
        },
        {
            let (what, source) = req
                .loss()
                .describe(req.method.stored_element_bytes(), layout.micro_batches);
            let chosen = if req.loss.is_some() { "user choice" } else { "default for the kernels" };
            Assumption::new("logits and loss", what, format!("{source}; {chosen}"))
        },
        Assumption::new(
            "framework overhead",
            "1 GiB per GPU (CUDA context, workspaces, allocator slack)",
            "PyTorch CUDA semantics notes",
        ),
        Assumption::new(
            "overlap",
            format!(
                "tensor parallel {}, data parallel {}, expert parallel {}",
                req.overlap.tensor_parallel, req.overlap.data_parallel, req.overlap.expert_parallel
            ),
            "PyTorch DDP/FSDP overlap gradients by default; Megatron-Core needs --tp-comm-overlap",
        ),
        Assumption::new(
            "overlapped communication",
            format!(
                "hidden layer by layer behind the compute beside it (exposed = max(0, comm − compute)); compute beside it runs on {:.0}% fewer SMs",
                req.comm_sm_share.unwrap_or(time::COMM_SM_SHARE) * 100.0
            ),
            "PyTorch FSDP per-layer prefetch (Zhao et al. 2023); the SM share fitted by `sizeup validate` (sizeup_validation::calibration)",
        ),
        Assumption::new(
            "expert load imbalance",
            format!(
                "the busiest expert-parallel rank receives {}× the mean tokens",
                crate::device::collective::EXPERT_LOAD_IMBALANCE
            ),
            "capacity factor 1.25 of GShard (Lepikhin et al. 2020) and Switch Transformer (Fedus et al. 2021)",
        ),
        Assumption::new(
            "pipeline schedule",
            if layout.vpp > 1 {
                format!("interleaved 1F1B, {} chunks per stage: bubble (p−1)/v micro-batch slots", layout.vpp)
            } else {
                "1F1B: bubble (p−1) micro-batch slots".to_string()
            },
            "Narayanan et al. 2021 §2.2",
        ),
        Assumption::new(
            "MFU definition",
            "(6·N + 12·L·a·d·s) per token over the dense peak of the product precision; attention non-causal",
            "Narayanan et al. 2021; PaLM (Chowdhery et al. 2022) Appendix B",
        ),
        Assumption::new(
            "gradient reduction",
            "fp32 gradients reduced once per step (ZeRO-0/1/2); FSDP/ZeRO-3 gathers 16-bit weights twice and reduce-scatters gradients per micro-batch",
            "Megatron-LM fp32 main grads; ZeRO (Rajbhandari et al. 2020) §7",
        ),
    ];
    if req.precision == Precision::Fp8 {
        out.push(Assumption::new(
            "FP8 products",
            "the blocks' linear layers in FP8, each input, weight and output gradient cast and transposed by a kernel of its own (read 2 bytes, write 1 + 1 per element), the weight every micro-batch; the LM head in 16 bits",
            "TransformerEngine transformer_engine/pytorch/module/linear.py (fp8_cast_transpose_fused before fp8_gemm); DeepSeek-V3 (arXiv:2412.19437 §3.3.1) and torchtitan's float8 filter_fqns keep the output head in BF16",
        ));
    }
    out.push(match (req.price_per_gpu_hour, price) {
        (Some(p), _) => Assumption::new("price per GPU-hour", format!("${p:.2}"), "user flag"),
        (None, Some(p)) => Assumption::new(
            "price per GPU-hour",
            format!("${p:.2}"),
            dev.acc
                .price_source
                .clone()
                .unwrap_or_else(|| "accelerator catalog".into()),
        ),
        (None, None) => Assumption::new(
            "price per GPU-hour",
            "none (no cost)",
            "the catalog lists no hourly price",
        ),
    });
    out.extend(crate::kv::assumptions(arch));
    out.extend(time::mixer_assumptions(arch));
    if arch.num_layers() % layout.pp != 0 {
        out.push(Assumption::new(
            "uneven pipeline stages",
            format!(
                "{} layers on {} stages: the first stages hold {}, the last {}",
                arch.num_layers(),
                layout.pp,
                layout.first_stage_layers(arch),
                layout.last_stage_layers(arch)
            ),
            "the fullest (first) stage sets the step time and the activation memory",
        ));
    }
    if req.tokens.is_none() {
        out.push(Assumption::new(
            "training tokens",
            format!("{tokens:.3e} (20 per parameter)"),
            "Hoffmann et al. 2022 Table 3",
        ));
    }
    if let Some(mfu) = req.mfu {
        out.push(Assumption::new(
            "step time",
            format!("from MFU {mfu} instead of the time model"),
            "user flag",
        ));
    }
    if req.method.adapters().is_some() {
        out.push(Assumption::new(
            "adapter activations",
            "as for full training (an upper bound: frozen projections without adapters need not keep their inputs)",
            "Hu et al. 2021 (LoRA)",
        ));
    }
    if let Method::Qlora { upcast, .. } = req.method {
        out.push(if upcast {
            Assumption::new(
                "QLoRA base",
                "projections in NF4 with double quantization (4.127 bits); embeddings, head, norms cast to fp32, so the residual stream, the projections after each norm, the stored activations and the logits are fp32 too (`--qlora-upcast false` for stacks that keep them 16-bit: Unsloth, axolotl)",
                "Dettmers et al. 2023 (QLoRA) §3; PEFT prepare_model_for_kbit_training (TRL SFTTrainer calls it); PyTorch type promotion; bitsandbytes Linear4bit returns its input's dtype",
            )
        } else {
            Assumption::new(
                "QLoRA base",
                "projections in NF4 with double quantization (4.127 bits); embeddings, head, norms in 16 bits",
                "Dettmers et al. 2023 (QLoRA) §3",
            )
        });
    }
    out.extend(fabric.assumptions(dev.acc, &req.network));
    out.extend(dev.assumptions());
    out
}

/// How an eager run holds the parameters its products read: an fp32 residual
/// stream under autocast for full training where nothing shards the parameters
/// and fp32 master weights are kept (the Trainer's and Accelerate's
/// `bf16=True`), and for QLoRA whose unquantized parameters are upcast to fp32
/// (PEFT's `prepare_model_for_kbit_training`, [`Method::Qlora`]); else 16-bit
/// (FSDP and DeepSpeed mixed precision, pure 16-bit, LoRA over a 16-bit base).
/// The one rule for the activations and the kernels; the states are fp32 only
/// for full training ([`state_config`]).
fn eager_residual(req: &TrainRequest, layout: &Layout) -> eager::Residual {
    // FSDP resolves to ZeRO-3
    let sharded = layout.zero != ZeroStage::Zero0;
    let fp32_stream = match req.method {
        Method::Full => req.master_weights && !sharded,
        Method::Qlora { upcast, .. } => upcast,
        Method::Lora { .. } => false,
    };
    if req.kernels == Kernels::Eager && fp32_stream {
        eager::Residual::Autocast
    } else {
        eager::Residual::Bits16
    }
}

/// Whether the gradients exist when the forward pass ends. Megatron-LM and
/// DeepSpeed keep contiguous gradient buffers, PyTorch DDP its buckets, and
/// several micro-batches accumulate into gradients the first one allocated;
/// eager PyTorch alone on one rank or under FSDP, with one micro-batch per step,
/// frees them with `zero_grad(set_to_none=True)` and allocates them in the backward.
///
/// # Source
/// PyTorch 2.0 release notes (`set_to_none=True` the default of `zero_grad`);
/// Megatron-LM `DistributedDataParallel` (the `main_grad` buffer); PyTorch
/// `DistributedDataParallel`'s reducer buckets (`gradient_as_bucket_view=False`).
fn gradients_before_backward(req: &TrainRequest, layout: &Layout) -> bool {
    let alone = layout.dp == 1 || layout.zero == ZeroStage::Zero3;
    !(req.kernels == Kernels::Eager && layout.micro_batches == 1 && alone)
}

#[cfg(test)]
mod tests;
