//! Training golden cases: throughput, time, FLOPs and memory others measured.
//!
//! Each case of kind `train_throughput`, `train_time`, `train_flops` or
//! `train_memory` is rebuilt from what its source states and predicted by the one
//! model of [`sizeup_core::training`], beside a flat baseline: `6·N·D` at one MFU of
//! [`BASELINE_MFU`] of the BF16 peak.
//!
//! How a case is read, the same for every case:
//! - the architecture through [`Shape`]: a plain GeLU MLP (GPT style) when the FFN
//!   width is absent or `4h`, a gated one (Llama style) otherwise; KV heads default
//!   to the heads;
//! - the accelerator from its `gpu_type`, and the network between nodes from the
//!   interconnect the source names (HDR InfiniBand for DGX A100 and Selene, 8 ×
//!   200 Gb/s per node for "1600Gbps RoCE", 4 × 100 Gb/s Omni-Path per node on
//!   Jean Zay, 400 Gb/s per GPU for H100 clusters);
//! - the framework from the source, which fixes what the framework does
//!   everywhere it is used: Megatron-LM 2021–22 runs fused kernels, unfused
//!   softmax attention with dropout, and reduces gradients after the pipeline
//!   flush; Megatron-Core (2024) adds flash attention, sequence parallelism, the
//!   distributed optimizer and the overlaps its README lists; MosaicML's
//!   llm-foundry runs eager PyTorch blocks with flash attention under FSDP;
//!   DeepSpeed's pipeline engine has no interleaving, and Megatron-DeepSpeed's
//!   bf16 runs hold their states as DeepSpeed's BF16 optimizer does; Meta's
//!   Llama 3 stack interleaves one layer per model chunk and pre-trains 8K
//!   sequences without activation checkpointing;
//! - the layout as stated; where a source is silent: micro-batch 1, no
//!   recomputation, and, for Megatron-style pipelines, the interleaved schedule
//!   with the fewest chunks (> 1) that divide a stage's layers (Narayanan et al. 2021).
//!
//! A case is not predicted (its note says why) when the source gives no GPU count
//! or parallel layout, when the hardware is not in the catalog, or when the
//! reported figure depends on something the model does not represent.

use serde_json::{Map, Value};

use super::calibration::{Calibration, Knob};
use super::reading::{
    accelerator as hardware, architecture, num, software, stated_memory_bytes, text, Metric, Needs,
};
use super::sources;
use super::{Case, CaseOutcome, GuessRange};
use sizeup_core::arch::Architecture;
use sizeup_core::device::collective::Fabric;
use sizeup_core::hardware::{self, Accelerator};
use sizeup_core::params;
use sizeup_core::shape::Shape;
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::flops::narayanan_model_flops;
use sizeup_core::training::kernels::{Gpu, Kernels};
use sizeup_core::training::lora::{Method, Projection};
use sizeup_core::training::loss::Loss;
use sizeup_core::training::parallel::{Layout, LayoutRequest, Workload, ZeroStage};
use sizeup_core::training::states::{Optimizer, OptimizerImpl, Precision};
use sizeup_core::training::time::{self, Overlap, TimeConfig};
use sizeup_core::training::{estimate, TrainEstimate, TrainRequest};
use sizeup_core::units::sig3;

/// The flat baseline's one model FLOPs utilization (issue 5).
pub const BASELINE_MFU: f64 = 0.45;

/// Bar on the median absolute error of throughput-like predictions (TFLOP/s per
/// GPU, tokens/s, step time, GPU-hours), issue 5.
pub const THROUGHPUT_MEDIAN_BAR: f64 = 0.07;
/// Bar on their 90th percentile, issue 5.
pub const THROUGHPUT_P90_BAR: f64 = 0.18;
/// Bar on the median absolute error of memory predictions, issue 5.
pub const MEMORY_MEDIAN_BAR: f64 = 0.10;

/// Why a case cannot be predicted: (metric, reported value, reason).
type Unpredictable = (String, f64, String);

/// Predict one case; `None` for kinds this module does not cover.
///
/// A covered case that cannot be predicted comes back with `predicted: None`
/// and a `note` saying what is missing.
pub fn predict(case: &Case) -> Option<CaseOutcome> {
    predict_with(case, &Calibration::default())
}

/// [`predict`] with the fitted constants of `cal` in place of the code's.
pub fn predict_with(case: &Case, cal: &Calibration) -> Option<CaseOutcome> {
    let (case, from_source) = sources::complete(case);
    let case = case.as_ref();
    let result = match case.kind.as_str() {
        "train_throughput" | "train_time" => speed(case, cal),
        "train_flops" => flops(case),
        "train_memory" => memory(case),
        "finetune_memory" => longest_context(case),
        _ => return None,
    };
    let result = result.map(|o| o.with_notes(&from_source));
    Some(
        result.unwrap_or_else(|(metric, reported, why)| CaseOutcome {
            id: case.id.clone(),
            kind: case.kind.clone(),
            metric,
            reported,
            predicted: None,
            baseline: None,
            note: Some(why),
            fits: None,
            range: None,
        }),
    )
}

/// What the source's framework does, applied to every case from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framework {
    /// Megatron-LM 2021–22 (Narayanan et al., Korthikanti et al.).
    Megatron,
    /// Megatron-Core with Transformer Engine (the 2024 README table).
    MegatronCore,
    /// DeepSpeed ZeRO-3 on Megatron's model code (Narayanan et al. Table 2).
    DeepSpeedZero3,
    /// Megatron-DeepSpeed (BLOOM).
    MegatronDeepSpeed,
    /// MosaicML llm-foundry (eager PyTorch under FSDP).
    LlmFoundry,
    /// Meta's Llama 3 stack (Llama Team 2024 §3.3).
    Llama3,
    /// Plain PyTorch with transformers' modeling code: eager element-wise kernels.
    PytorchEager,
    /// DeepSeek-V3's DualPipe: bidirectional pipeline chunks that hide the expert
    /// all-to-all, ZeRO-1 (DeepSeek-AI 2024 §3.2.1).
    DualPipe,
    /// Anything else: fused kernels, flash attention, FSDP where stated.
    Other,
}

/// The framework the case's setup names (`scheme`, `software`, `framework`; where
/// the case is silent, [`sources::complete`] fills what its source states).
fn framework(case: &Case) -> Framework {
    let setup = &case.setup;
    let named = software(case);
    if text(setup, "scheme") == Some("ZeRO-3") {
        Framework::DeepSpeedZero3
    } else if named.contains("megatron-core") {
        Framework::MegatronCore
    } else if named.contains("megatron-deepspeed") {
        Framework::MegatronDeepSpeed
    } else if named.contains("megatron-lm") {
        Framework::Megatron
    } else if named.contains("llm-foundry") {
        Framework::LlmFoundry
    } else if named.contains("llama 3 training stack") {
        Framework::Llama3
    } else if named.contains("dualpipe") {
        Framework::DualPipe
    } else if named.contains("eager")
        || (named.contains("transformers") && !named.contains("compile"))
    {
        // transformers' modeling code runs operator by operator unless compiled
        Framework::PytorchEager
    } else {
        Framework::Other
    }
}

/// The recomputation text of a setup, lowercased: `recompute_present` (what a
/// run kept on, where a source lists both) before `recompute`.
fn recompute_text(setup: &Map<String, Value>) -> Option<String> {
    text(setup, "recompute_present")
        .or_else(|| text(setup, "recompute"))
        .map(str::to_lowercase)
}

/// The activation recomputation a setup states; `None` where it states none
/// (no field, or a text saying `not stated`), for the caller's stated default.
///
/// # Rule
/// The first of these the text contains: `op-level` or `selective op` →
/// [`Recompute::OpSelective`] (torchtitan's op-level policy), `selective` →
/// [`Recompute::Selective`], `full` → [`Recompute::Full`]; any other text
/// (`none`, `off`, a word this reader does not know) → [`Recompute::None`].
fn stated_recompute(setup: &Map<String, Value>) -> Option<Recompute> {
    let r = recompute_text(setup).filter(|r| !r.contains("not stated"))?;
    Some(if r.contains("op-level") || r.contains("selective op") {
        Recompute::OpSelective
    } else if r.contains("selective") {
        Recompute::Selective
    } else if r.contains("full") {
        Recompute::Full
    } else {
        Recompute::None
    })
}

/// A case turned into a request, with the assumptions made where the source is silent.
struct Rebuilt {
    arch: Architecture,
    acc: Accelerator,
    req: TrainRequest,
    notes: Vec<String>,
    /// The layout is the reader's guess and immaterial to the speed (the source
    /// gives its rate): no fit verdict can be drawn from it.
    layout_guessed: bool,
    /// The same request at the other plausible values of each input the source
    /// leaves unstated (one input varied at a time), each with what it varies.
    alternatives: Vec<(String, TrainRequest)>,
    /// The source states no recomputation and the reader guessed one.
    recompute_guessed: bool,
}

/// Micro-batches tried beside the guessed 1 where the source states none.
const PLAUSIBLE_MICRO_BATCHES: [u64; 3] = [2, 4, 8];

/// The requests `req` could have been at the plausible values of the inputs a
/// source leaves unstated, one input varied at a time: micro-batches of
/// [`PLAUSIBLE_MICRO_BATCHES`] that divide the global batch (with the global
/// batch when that is unstated too, one micro-batch per GPU); selective
/// recomputation beside a guessed none or full; a plain 1F1B schedule beside a
/// guessed interleaved one.
///
/// # Source
/// Megatron-LM's defaults: micro-batch 1, no recomputation; its 2024 README
/// table and Narayanan et al. 2021 run micro-batches up to 8 and selective or no
/// recomputation at these scales (Korthikanti et al. 2022 §5).
fn alternatives(
    req: &TrainRequest,
    dp: u64,
    micro_batch_guessed: bool,
    global_batch_guessed: bool,
    recompute_guessed: bool,
    schedule_guessed: bool,
) -> Vec<(String, TrainRequest)> {
    let mut out = Vec::new();
    if micro_batch_guessed {
        for b in PLAUSIBLE_MICRO_BATCHES {
            let mut alt = req.clone();
            alt.micro_batch = b;
            if global_batch_guessed {
                alt.global_batch = b.saturating_mul(dp);
            } else if req.global_batch % b.saturating_mul(dp).max(1) != 0 {
                continue;
            }
            out.push((format!("micro-batch {b}"), alt));
        }
    }
    if recompute_guessed && req.recompute != Recompute::Selective {
        let mut alt = req.clone();
        alt.recompute = Recompute::Selective;
        out.push(("selective recomputation".into(), alt));
    }
    if schedule_guessed {
        let mut alt = req.clone();
        alt.layout.vpp = 1;
        out.push(("plain 1F1B".into(), alt));
    }
    out
}

fn smallest_chunking(arch: &Architecture, pp: u64) -> u64 {
    let per_stage = arch.num_layers().div_ceil(pp);
    (2..=per_stage).find(|v| per_stage % v == 0).unwrap_or(1)
}

/// Model chunks per pipeline stage in the Llama 3 stack: one layer per chunk.
///
/// # Formula
/// `V = ⌈L/p⌉` (the layers of the fullest stage)
///
/// # Source
/// Llama Team 2024 (arXiv:2407.21783) §3.3.2: the interleaved schedule with `V`
/// pipeline stages per rank, and "we reduce one Transformer layer each from the
/// first and the last stages… the first model chunk on the first stage has only
/// the embedding": with 126 layers = 16 stages · 8 − 2, each model chunk holds
/// one layer (sizeup puts 8 layers on the first stage and the embedding beside
/// them instead of the paper's 7 and an embedding chunk).
fn one_layer_per_chunk(arch: &Architecture, pp: u64) -> u64 {
    arch.num_layers().div_ceil(pp)
}

/// The longest sequence the Llama 3 stack is stated to train without
/// activation checkpointing.
///
/// # Source
/// Llama Team 2024 (arXiv:2407.21783) §3.3.2: "we pre-train Llama 3 on
/// sequences of 8K tokens without activation checkpointing"; longer sequences
/// (the long-context stage) are not stated.
const LLAMA3_NO_CHECKPOINTING_SEQ_LEN: u64 = 8192;

fn rebuild(case: &Case) -> Result<Rebuilt, String> {
    let s = &case.setup;
    let arch = architecture(case, Needs::Weights)?;
    let gpu_type = text(s, "gpu_type").ok_or("the source names no accelerator")?;
    let (acc, network) = hardware(gpu_type)?;
    let fw = framework(case);
    let get = |k: &str| num(s, k).map(|v| v as u64);
    let gpus = get("gpus").ok_or("the source gives no GPU count")?;
    let seq_len = num(&case.model, "seq_len").ok_or("the source gives no sequence length")? as u64;
    let mut notes = Vec::new();

    let tp = get("tp").unwrap_or(1);
    let pp = get("pp").unwrap_or(1);
    if pp == 0 {
        return Err("the source gives 0 pipeline stages".into());
    }
    let cp = get("cp").unwrap_or(1);
    let sharded = text(s, "sharding").is_some_and(|x| x.contains("FSDP"));
    let rate_given = num(s, "achieved_tflops_per_gpu").is_some();
    let tp = if get("tp").is_none() && rate_given {
        notes.push("no layout given; immaterial, the step time comes from the stated rate".into());
        8
    } else {
        tp
    };
    if get("tp").is_none() && !sharded && !rate_given && gpus > 1 {
        return Err(
            "the source gives no parallel layout (tensor/pipeline/data sizes or sharding)".into(),
        );
    }
    let dp = get("dp").unwrap_or(gpus / tp.saturating_mul(pp).saturating_mul(cp).max(1));
    let mut micro_batch_guessed = false;
    let mut global_batch_guessed = false;
    let micro_batch = match (get("microbatch"), get("tokens_per_gpu_batch")) {
        (Some(b), _) => b,
        (None, Some(tokens)) => tokens / seq_len,
        (None, None) => {
            notes.push("micro-batch not stated: 1".into());
            micro_batch_guessed = true;
            1
        }
    };
    let global_batch = if let Some(b) = get("batch") {
        b
    } else if let Some(b) = get("batch_per_dp") {
        b.saturating_mul(dp)
    } else if let Some(t) = num(s, "tokens_per_batch") {
        (t / seq_len as f64).round() as u64
    } else {
        notes.push("global batch not stated: one micro-batch per GPU".into());
        global_batch_guessed = true;
        micro_batch.saturating_mul(dp)
    };

    let mut req = TrainRequest::new(gpus, seq_len, global_batch, micro_batch);
    req.network = network;
    req.layout = LayoutRequest {
        tp,
        pp,
        cp,
        dp: Some(dp),
        ..LayoutRequest::default()
    };
    let precision = text(s, "precision").unwrap_or("").to_ascii_lowercase();
    // torchao's "Float8 linears" are FP8 products as much as TransformerEngine's "fp8"
    req.precision = if precision.contains("fp8") || precision.contains("float8") {
        Precision::Fp8
    } else if precision.contains("fp16") {
        Precision::Fp16
    } else {
        Precision::Bf16
    };
    let stated_recompute = stated_recompute(s);
    req.recompute = stated_recompute.unwrap_or(Recompute::None);
    if let Some(o) = text(s, "optimizer") {
        req.optimizer = o
            .parse()
            .map_err(|e: sizeup_core::CoreError| e.to_string())?;
    }
    if let Some(ep) = get("ep") {
        req.layout.ep = ep;
    }
    req.layout.sequence_parallel = s
        .get("sequence_parallel")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || recompute_text(s).is_some_and(|r| r.contains("sequence parallel"));
    match get("zero_stage") {
        Some(z) => {
            // a stage past a byte is refused, not wrapped (259 is not ZeRO-3)
            let stage = u8::try_from(z)
                .map_err(|_| format!("`setup.zero_stage` = {z}: expected 0, 1, 2 or 3"))?;
            req.layout.zero = ZeroStage::from_number(stage).map_err(|e| e.to_string())?;
        }
        None if sharded => req.layout.fsdp = true,
        None => {}
    }

    let interleave_stated = s.contains_key("interleave_stages");
    let interleaved = |arch: &Architecture| match get("interleave_stages") {
        Some(v) => v,
        None if interleave_stated || pp == 1 => 1,
        None => smallest_chunking(arch, pp),
    };
    // what the framework's own source states where the case is silent
    let mut schedule_from_source = false;
    let mut recompute_from_source = false;
    match fw {
        Framework::Megatron => {
            req.flash_attention = false;
            req.dropout = true;
            req.overlap.data_parallel = false;
            req.layout.vpp = interleaved(&arch);
        }
        Framework::DeepSpeedZero3 => {
            req.flash_attention = false;
            req.dropout = true;
            req.layout.zero = ZeroStage::Zero3;
            // Narayanan et al. §5.2: ZeRO-3's cross-node parameter traffic is not hidden
            req.overlap.data_parallel = false;
            if req.recompute == Recompute::None {
                // 175B at micro-batch 4 cannot keep its activations on 80 GB
                req.recompute = Recompute::Full;
                notes.push(
                    "recomputation not stated: full (the activations cannot fit otherwise)".into(),
                );
            }
        }
        Framework::MegatronCore => {
            let overlap = text(s, "overlap").unwrap_or("");
            req.overlap.tensor_parallel = overlap.contains("TP");
            req.overlap.data_parallel = overlap.contains("DP");
            req.layout.sequence_parallel = tp > 1;
            req.layout.distributed_optimizer = true;
            req.layout.vpp = interleaved(&arch);
        }
        Framework::MegatronDeepSpeed => {
            req.flash_attention = false;
            req.dropout = true;
            req.overlap.data_parallel = false;
            // GPTModelPipe on DeepSpeed's pipeline engine, which keeps the last
            // stage's fp32 logits in its pipe buffers
            req.loss = Some(Loss::DeepspeedPipeline);
            notes.push(
                "loss: deepspeed-pipeline (the stated framework's): the last stage keeps the fp32 logits of its last 2 micro-batches in DeepSpeed's pipe buffers (runtime/pipe/engine.py, schedule.py; Megatron-DeepSpeed GPTModelPipe's float16_to_fp32)".into(),
            );
            if req.precision == Precision::Bf16 && req.layout.zero <= ZeroStage::Zero1 {
                // DeepSpeed runs bf16 below ZeRO-2 through its BF16_Optimizer, which
                // shards the master weights and moments itself (ZeRO-1)
                req.optimizer_impl = OptimizerImpl::DeepspeedBf16;
                req.layout.zero = ZeroStage::Zero1;
                notes.push(
                    "gradients and optimizer states: DeepSpeed's BF16_Optimizer (the stated framework's, for bf16): bf16 gradients beside an unsharded fp32 accumulation buffer, fp32 master weights and moments sharded as ZeRO-1 (deepspeed/runtime/bf16_optimizer.py; BigScience tr11: 'bf16 must use z0! it implements its own zero stage 1 equivalent')".into(),
                );
            }
        }
        Framework::LlmFoundry | Framework::PytorchEager => req.kernels = Kernels::Eager,
        Framework::Llama3 => {
            // FSDP without resharding after the forward: ZeRO-2 sharding (Llama Team 2024 §3.3.1)
            req.layout.zero = ZeroStage::Zero2;
            req.layout.sequence_parallel = true;
            if interleave_stated || pp == 1 {
                req.layout.vpp = interleaved(&arch);
            } else {
                req.layout.vpp = one_layer_per_chunk(&arch, pp);
                schedule_from_source = true;
                notes.push(format!(
                    "pipeline schedule from the source: interleaved, one layer per model chunk, {} chunks per stage (Llama Team 2024 §3.3.2: the first model chunk on the first stage holds only the embedding, one layer fewer on the first and last stages)",
                    req.layout.vpp
                ));
            }
            if stated_recompute.is_none() && seq_len <= LLAMA3_NO_CHECKPOINTING_SEQ_LEN {
                req.recompute = Recompute::None;
                recompute_from_source = true;
                notes.push(
                    "recomputation from the source: none (Llama Team 2024 §3.3.2: 'we pre-train Llama 3 on sequences of 8K tokens without activation checkpointing')".into(),
                );
            }
        }
        Framework::DualPipe => {
            // DualPipe hides the all-to-all and halves the bubble
            req.overlap.expert_parallel = true;
            req.layout.vpp = 2;
            req.layout.zero = ZeroStage::Zero1;
            notes.push("DualPipe modelled as 2 chunks per stage with the all-to-all hidden".into());
        }
        Framework::Other => {}
    }
    if s.get("compile") == Some(&Value::Bool(false)) && req.kernels == Kernels::Fused {
        req.kernels = Kernels::Eager;
        notes.push("no torch.compile (stated): eager element-wise kernels".into());
    }
    let recompute_guessed = stated_recompute.is_none() && !recompute_from_source;
    let schedule_guessed = req.layout.vpp > 1 && !interleave_stated && !schedule_from_source;
    if req.recompute == Recompute::None && recompute_guessed {
        notes.push("recomputation not stated: none".into());
    }
    if schedule_guessed {
        notes.push(format!(
            "pipeline schedule not stated: interleaved, {} chunks per stage",
            req.layout.vpp
        ));
    }
    if let Some(t) = num(s, "tokens") {
        req.tokens = Some(t as u64);
    }
    if let Some(loss) = stated_loss(case) {
        req.loss = Some(loss);
        notes.push(format!("loss: {} (the stated framework's)", loss.name()));
    }
    let layout_guessed = get("tp").is_none() && rate_given;
    let alternatives = if layout_guessed {
        // the rate is the source's: nothing unstated moves the speed
        Vec::new()
    } else {
        alternatives(
            &req,
            dp,
            micro_batch_guessed,
            global_batch_guessed,
            recompute_guessed,
            schedule_guessed,
        )
    };
    Ok(Rebuilt {
        arch,
        acc,
        req,
        notes,
        layout_guessed,
        alternatives,
        recompute_guessed,
    })
}

/// Parameters the baseline uses: the source's figure (its active parameters for
/// a mixture of experts), else the exact count.
fn baseline_params(case: &Case, arch: Option<&Architecture>) -> Option<f64> {
    num(&case.model, "active_params")
        .or_else(|| num(&case.model, "params"))
        .or_else(|| {
            arch.and_then(|a| params::count(a).ok())
                .map(|c| c.total as f64)
        })
}

fn outcome(
    case: &Case,
    metric: String,
    reported: f64,
    predicted: f64,
    baseline: Option<f64>,
    notes: Vec<String>,
) -> CaseOutcome {
    CaseOutcome {
        id: case.id.clone(),
        kind: case.kind.clone(),
        metric,
        reported,
        predicted: Some(predicted),
        baseline,
        note: if notes.is_empty() {
            None
        } else {
            Some(notes.join("; "))
        },
        fits: None,
        range: None,
    }
}

/// The figures a memory case may report, in order: a ratio the model derives
/// exactly, then a measured peak per GPU, then the compiled row of a memory ladder.
pub const MEMORY_METRICS: &[&str] = &[
    "selective_recompute_activation_saving_pct",
    "peak_memory_per_gpu_GiB",
    "compile_GiB",
];

/// The compared figure of a case: the first of `preference` it reports.
fn reported(case: &Case, preference: &[&str]) -> Result<(String, f64), Unpredictable> {
    Metric::of(case, preference)
        .map(|m| (m.key, m.value))
        .map_err(|why| ("(none)".into(), f64::NAN, why))
}

/// The figures a training-speed case may report, in order: rates (total, then per
/// GPU), step times, the model FLOP/s per GPU, a layer's time, then durations and
/// GPU-hours.
pub const SPEED_METRICS: &[&str] = &[
    "tokens_per_sec",
    "tokens_per_sec_per_gpu",
    "iter_time_s_selective_plus_sp",
    "iter_time_s",
    "tflops_per_gpu",
    "combined_ms_selective_plus_sp",
    "train_days",
    "gpu_hours_per_trillion_tokens",
    "wall_days",
    "gpu_hours",
    "a100_gpu_hours",
];

fn speed(case: &Case, cal: &Calibration) -> Result<CaseOutcome, Unpredictable> {
    let (metric, reported) = reported(case, SPEED_METRICS)?;
    let fail = |why: String| (metric.clone(), reported, why);
    if metric == "combined_ms_selective_plus_sp" {
        return layer_case(case, &metric, reported, cal).map_err(fail);
    }
    let mut r = rebuild(case).map_err(fail)?;
    r.req.sustained_fraction = Some(cal.get(Knob::SustainedFraction));
    r.req.comm_sm_share = Some(cal.get(Knob::CommSmShare));
    if let Some(achieved) = num(&case.setup, "achieved_tflops_per_gpu") {
        // the source's own estimate from a measured rate (Narayanan Eq. 4): use it as the MFU
        let e = estimate(&r.arch, &r.acc, &r.req).map_err(|e| fail(e.to_string()))?;
        let peak = r.acc.peak_flops.bf16.unwrap_or(f64::NAN);
        let model_share = e.flops.per_token.model / e.flops.per_token.hardware;
        r.req.mfu = Some(achieved * 1e12 * model_share / peak);
        r.notes.push(format!(
            "the source's measured {achieved} TFLOP/s per GPU (hardware FLOPs) taken as the rate"
        ));
    }
    let e = estimate(&r.arch, &r.acc, &r.req).map_err(|e| fail(e.to_string()))?;
    let base_n = baseline_params(case, Some(&r.arch)).unwrap_or(f64::NAN);
    let peak = r.acc.peak_flops.bf16.unwrap_or(f64::NAN);
    let gpus = r.req.gpus as f64;
    let base_tps = gpus * BASELINE_MFU * peak / (6.0 * base_n);
    let tokens_per_step = r.req.global_batch as f64 * r.req.seq_len as f64;
    let tokens = e.tokens;
    let figure = |req: &TrainRequest, e: &TrainEstimate| match metric.as_str() {
        "tokens_per_sec" => e.time.tokens_per_second,
        "tokens_per_sec_per_gpu" => e.time.tokens_per_second_per_gpu,
        "iter_time_s_selective_plus_sp" | "iter_time_s" => e.time.step_seconds,
        "tflops_per_gpu" => tflops_as_reported(case, &r.arch, req, e),
        "train_days" | "wall_days" => e.time.total_seconds / 86400.0,
        "gpu_hours_per_trillion_tokens" => 1e12 / e.time.tokens_per_second * gpus / 3600.0,
        _ => e.time.gpu_hours,
    };
    let baseline = match metric.as_str() {
        "tokens_per_sec" => base_tps,
        "tokens_per_sec_per_gpu" => base_tps / gpus,
        "iter_time_s_selective_plus_sp" | "iter_time_s" => tokens_per_step / base_tps,
        "tflops_per_gpu" => BASELINE_MFU * peak / 1e12,
        "train_days" | "wall_days" => tokens / base_tps / 86400.0,
        "gpu_hours_per_trillion_tokens" => 1e12 / base_tps * gpus / 3600.0,
        _ => tokens / base_tps * gpus / 3600.0,
    };
    let guess = figure(&r.req, &e);
    // the other plausible values of what the source leaves unstated: those that fit
    let mut range = GuessRange {
        guess,
        low: guess,
        high: guess,
    };
    let mut varied = Vec::new();
    if r.req.mfu.is_none() {
        for (what, mut alt) in r.alternatives.clone() {
            alt.sustained_fraction = r.req.sustained_fraction;
            alt.comm_sm_share = r.req.comm_sm_share;
            let Ok(a) = estimate(&r.arch, &r.acc, &alt) else {
                continue;
            };
            if a.fits {
                let v = figure(&alt, &a);
                range.low = range.low.min(v);
                range.high = range.high.max(v);
                varied.push(what);
            }
        }
    }
    // a run that ran fits at some plausible value of what its source leaves
    // unstated: at the guesses, at a varied value, or with every layer recomputed
    let mut fits = (!r.layout_guessed).then_some(e.fits || !varied.is_empty());
    if fits == Some(false) && r.recompute_guessed && r.req.recompute != Recompute::Full {
        let mut full = r.req.clone();
        full.recompute = Recompute::Full;
        if estimate(&r.arch, &r.acc, &full).is_ok_and(|f| f.fits) {
            fits = Some(true);
            r.notes.push(
                "does not fit at the guesses, fits with full recomputation: the source's unstated recomputation cannot have been none (the speed is scored at the guesses)".into(),
            );
        }
    }
    if fits == Some(false) {
        r.notes.push(super::inference::DOES_NOT_FIT.into());
    }
    let (predicted, range) = if varied.is_empty() {
        (guess, None)
    } else {
        r.notes.push(format!(
            "unstated inputs varied ({}): predicted {} to {}, {} at the guesses; scored by the distance to that range",
            varied.join(", "),
            sig3(range.low),
            sig3(range.high),
            sig3(guess)
        ));
        (range.nearest(reported), Some(range))
    };
    Ok(CaseOutcome {
        fits,
        range,
        ..outcome(case, metric, reported, predicted, Some(baseline), r.notes)
    })
}

/// Predicted TFLOP/s per GPU counted the way the source counts FLOPs.
fn tflops_as_reported(case: &Case, a: &Architecture, req: &TrainRequest, e: &TrainEstimate) -> f64 {
    let (b, s, l, h, v) = (
        req.global_batch as f64,
        req.seq_len as f64,
        a.num_layers() as f64,
        a.hidden_size as f64,
        a.vocab_size as f64,
    );
    let per_gpu_second = e.time.step_seconds * req.gpus as f64 * 1e12;
    if text(&case.setup, "flops_rule") == Some("narayanan-eq3") {
        // Narayanan et al. 2021 Eq. 3, used for all their tables: recomputation
        // included, V/(16·l·h) for the tied head
        96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h)) / per_gpu_second
    } else if framework(case) == Framework::MegatronCore {
        narayanan_model_flops(b, s, l, h, v) / per_gpu_second
    } else {
        e.flops.model_flops_per_step / per_gpu_second
    }
}

/// One layer's forward and backward (Korthikanti et al. Table 4), timed alone.
fn layer_case(
    case: &Case,
    metric: &str,
    reported: f64,
    cal: &Calibration,
) -> Result<CaseOutcome, String> {
    let arch = architecture(case, Needs::Weights)?;
    let (acc, net) = hardware(text(&case.setup, "gpu_type").unwrap_or(""))?;
    let tp = num(&case.setup, "tp").unwrap_or(1.0) as u64;
    let b = num(&case.setup, "microbatch").unwrap_or(1.0) as u64;
    let seq_len = num(&case.model, "seq_len").unwrap_or(2048.0) as u64;
    let req = LayoutRequest {
        tp,
        sequence_parallel: true,
        ..LayoutRequest::default()
    };
    let w = Workload {
        gpus: tp,
        seq_len,
        global_batch: b,
        micro_batch: b,
    };
    let layout = Layout::resolve(&req, &arch, &w).map_err(|e| e.to_string())?;
    let mut dev = Gpu::new(&acc, Precision::Fp16, Kernels::Fused).map_err(|e| e.to_string())?;
    dev.set_sustained(cal.get(Knob::SustainedFraction));
    let cfg = TimeConfig {
        dev,
        fabric: Fabric::of(&acc, &net),
        layout: &layout,
        seq_len,
        micro_batch: b,
        recompute: Recompute::Selective,
        flash_attention: false,
        dropout: true,
        overlap: Overlap {
            data_parallel: false,
            ..Overlap::default()
        },
        frozen_base: false,
        quantized_base: false,
        trainable_params: 0,
        params_on_gpu: 0,
        optimizer_traffic_bytes: 0.0,
        comm_sm_share: cal.get(Knob::CommSmShare),
        loss: Loss::Fused,
    };
    let ms = time::layer_seconds(&arch, &arch.layers.blocks[0], &cfg).total() * 1e3;
    let n = baseline_params(case, Some(&arch)).unwrap_or(f64::NAN) / arch.num_layers() as f64;
    let base = acc
        .peak_flops
        .bf16
        .map(|peak| 6.0 * n * (b * seq_len) as f64 / (tp as f64 * BASELINE_MFU * peak) * 1e3);
    Ok(outcome(
        case,
        metric.to_string(),
        reported,
        ms,
        base,
        vec![],
    ))
}

fn flops(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let (metric, reported) = reported(case, &["train_flops"])?;
    let fail = |why: &str| (metric.clone(), reported, why.to_string());
    let tokens =
        num(&case.setup, "tokens").ok_or_else(|| fail("the source gives no token count"))?;
    let arch = architecture(case, Needs::Weights).ok();
    let mut notes = Vec::new();
    let n = match &arch {
        Some(a) => params::count(a).map_err(|e| fail(&e.to_string()))?.active as f64,
        None => {
            notes.push("no architecture given: N is the source's parameter count".to_string());
            num(&case.model, "params").ok_or_else(|| fail("the source gives no parameter count"))?
        }
    };
    let base_n = baseline_params(case, arch.as_ref()).unwrap_or(n);
    Ok(outcome(
        case,
        metric,
        reported,
        6.0 * n * tokens,
        Some(6.0 * base_n * tokens),
        notes,
    ))
}

fn memory(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let (metric, reported) = reported(case, MEMORY_METRICS)?;
    let fail = |why: String| (metric.clone(), reported, why);
    if metric == "selective_recompute_activation_saving_pct" {
        return activation_saving(case, &metric, reported).map_err(fail);
    }
    let notes_text = case
        .setup
        .get("notes")
        .and_then(Value::as_str)
        .unwrap_or("");
    if notes_text.contains("PagedAdamW8bit") {
        return Err(fail(
            "the paged 8-bit optimizer moves its states to host memory under pressure; paging is not modelled".into(),
        ));
    }
    if num(&case.setup, "gpus").is_some_and(|g| g > 1.0) {
        // a sharded run: the layout, precision and recomputation as for its speed
        let r = rebuild(case).map_err(&fail)?;
        let e = estimate(&r.arch, &r.acc, &r.req).map_err(|e| fail(e.to_string()))?;
        let mut notes = r.notes;
        // the allocator's peak leaves out the CUDA context
        notes.push("peak memory of the busiest GPU: framework overhead left out".into());
        let predicted = (e.memory.total_bytes - e.memory.framework_overhead_bytes) as f64
            / sizeup_core::units::GIB;
        return Ok(outcome(case, metric, reported, predicted, None, notes));
    }
    let arch = architecture(case, Needs::Weights).map_err(|e| fail(e.to_string()))?;
    let gpu_type = text(&case.setup, "gpu_type").unwrap_or("");
    let (acc, _) = hardware(gpu_type).map_err(&fail)?;
    let seq_len = num(&case.setup, "max_seq_len")
        .or_else(|| num(&case.setup, "seq_len_packed"))
        .or_else(|| num(&case.model, "seq_len"))
        .ok_or_else(|| fail("the source gives no sequence length".into()))?
        as u64;
    let b = num(&case.setup, "microbatch")
        .ok_or_else(|| fail("the source gives no batch size".into()))? as u64;
    let mut req = TrainRequest::new(1, seq_len, b, b);
    let precision = text(&case.setup, "precision").unwrap_or("");
    if precision.contains("autocast") {
        // plain PyTorch mixed precision: eager kernels over fp32 parameters with
        // fp32 master weights (the model then holds them as autocast does),
        // recomputation as the case states
        req.kernels = sizeup_core::training::kernels::Kernels::Eager;
        req.recompute = stated_recompute(&case.setup).unwrap_or(Recompute::None);
        let e = estimate(&arch, &acc, &req).map_err(|e| fail(e.to_string()))?;
        // max_memory_allocated leaves out the CUDA context and allocator slack
        let predicted = (e.memory.total_bytes - e.memory.framework_overhead_bytes) as f64
            / sizeup_core::units::GIB;
        let notes = vec![
            "PyTorch autocast recipe: fp32 weights, gradients and AdamW moments, eager kernels; allocated peak: framework overhead left out".to_string(),
        ];
        return Ok(outcome(case, metric, reported, predicted, None, notes));
    }
    // torchtune's single-device recipes: bf16 weights and optimizer states (no fp32
    // master), activation checkpointing, torch.compile (fused kernels)
    req.master_weights = false;
    req.recompute = Recompute::Full;
    let method = text(&case.setup, "method").unwrap_or("");
    let mut notes =
        vec!["torchtune single-device recipe: pure bf16, activation checkpointing".to_string()];
    if metric == "compile_GiB" {
        // the ladder's later rows add a chunked loss and activation offloading, which
        // the model does not represent; this row is packed to 4096 and compiled
        req.recompute = Recompute::None;
        notes = vec![
            "ladder row 'compile': packed to 4096, torch.compile, no recomputation; bf16 weights and AdamW states (later rows chunk the loss and offload activations, not modelled)".into(),
        ];
    } else if method.contains("LoRA") {
        req.method = Method::Lora {
            rank: 8,
            targets: vec![
                Projection::Q,
                Projection::V,
                Projection::O,
                Projection::Gate,
                Projection::Up,
                Projection::Down,
            ],
        };
    } else {
        req.optimizer = Optimizer::Adamw8bit;
        req.optimizer_in_backward = true;
        notes.push("full fine-tune: 8-bit AdamW stepped in the backward".into());
    }
    let e = estimate(&arch, &acc, &req).map_err(|e| fail(e.to_string()))?;
    // torchtune reports the allocator's peak reservation, which leaves out the CUDA context
    let predicted =
        (e.memory.total_bytes - e.memory.framework_overhead_bytes) as f64 / sizeup_core::units::GIB;
    notes.push("peak reserved memory: framework overhead left out".into());
    Ok(outcome(case, metric, reported, predicted, None, notes))
}

/// Korthikanti et al. §5: the activation memory selective recomputation saves.
fn activation_saving(case: &Case, metric: &str, reported: f64) -> Result<CaseOutcome, String> {
    let m = &case.model;
    let get = |k: &str| {
        num(m, k)
            .map(|v| v as u64)
            .ok_or(format!("model.{k} missing"))
    };
    let (layers, hidden, heads, seq) = (
        get("layers")?,
        get("hidden")?,
        get("heads")?,
        get("seq_len")?,
    );
    let arch = Shape::gpt(layers, hidden, heads, 51200)
        .build()
        .map_err(|e| e.to_string())?;
    let cfg = |recompute| sizeup_core::training::activations::ActivationConfig {
        seq_len: seq,
        micro_batch: 1,
        tp: 8,
        cp: 1,
        sequence_parallel: true,
        recompute,
        flash_attention: false,
        dropout: true,
        element_bytes: 2,
        eager: None,
    };
    let bytes = |r| {
        sizeup_core::training::activations::layer_bytes(&arch, &arch.layers.blocks[0], &cfg(r))
            .map_err(|e| e.to_string())
    };
    let saving = 1.0 - bytes(Recompute::Selective)? as f64 / bytes(Recompute::None)? as f64;
    Ok(outcome(
        case,
        metric.to_string(),
        reported,
        100.0 * saving,
        None,
        vec![],
    ))
}

#[cfg(test)]
mod tests;

/// The loss implementation a case's stated framework runs, where it states one:
/// Hugging Face transformers' modeling code computes the loss eagerly
/// (`ForCausalLMLoss`: fp32 upcast + `cross_entropy`) unless a fused or chunked
/// loss replaces it (Liger, Unsloth, a chunked loss), which the same field would name.
fn stated_loss(case: &Case) -> Option<Loss> {
    if let Some(loss) = text(&case.setup, "loss").and_then(|l| l.parse::<Loss>().ok()) {
        return Some(loss);
    }
    let stated = software(case);
    let replaced = ["liger", "unsloth", "chunked", "fused cross"]
        .iter()
        .any(|k| stated.contains(k));
    // transformers' ForCausalLMLoss and torchtitan's `cross_entropy(pred.float(), …)`
    // both upcast the whole logits and call PyTorch's cross_entropy
    let eager = ["transformers", "torchtitan"]
        .iter()
        .any(|k| stated.contains(k));
    (eager && !replaced).then_some(Loss::Eager)
}

/// A fine-tune's longest padded sequence at batch 1: the `--max-seq-len` search
/// over single tokens on the same memory model.
fn longest_context(case: &Case) -> Result<CaseOutcome, Unpredictable> {
    let (metric, reported) = reported(case, &["max_seq_len_tokens"])?;
    let fail = |why: String| (metric.clone(), reported, why);
    let s = &case.setup;
    let arch = architecture(case, Needs::Weights).map_err(&fail)?;
    let gpu_type = text(s, "gpu_type").unwrap_or("");
    let mut notes = Vec::new();
    let acc = match hardware(gpu_type) {
        Ok((acc, _)) => acc,
        Err(e) => {
            // a device the source sizes but does not name: only its capacity enters
            // a memory fit (no speed figure is read), so the catalog row nearest in
            // memory, set to the stated size, stands for it
            let bytes = stated_memory_bytes(gpu_type).ok_or_else(|| fail(e))?;
            let mut acc = hardware::catalog()
                .iter()
                .min_by_key(|a| a.memory_bytes.abs_diff(bytes))
                .ok_or_else(|| fail("the accelerator catalog is empty".into()))?
                .clone();
            let gib = bytes as f64 / sizeup_core::units::GIB;
            acc.name = format!("{gib} GiB device");
            acc.memory_bytes = bytes;
            acc.usable_memory_bytes = None;
            notes.push(format!(
                "device not named: {gib} GiB of memory (GPUs sold as {gib} GB hold {gib} GiB); a memory fit reads no other figure of it"
            ));
            acc
        }
    };
    let b = num(s, "batch").unwrap_or(1.0) as u64;
    let mut req = TrainRequest::new(1, 2048, b, b);
    let method = text(s, "method").unwrap_or("").to_ascii_lowercase();
    let rank = method
        .split("rank")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(16);
    let targets = Projection::ALL.to_vec();
    req.method = if method.contains("qlora") {
        Method::Qlora {
            rank,
            targets,
            upcast: sizeup_core::training::lora::QLORA_UPCAST_DEFAULT,
        }
    } else if method.contains("lora") {
        Method::Lora { rank, targets }
    } else {
        Method::Full
    };
    // fine-tuning recipes checkpoint gradients unless told otherwise
    req.recompute = stated_recompute(s).unwrap_or_else(|| {
        notes.push("gradient checkpointing not stated: on (full recomputation)".into());
        Recompute::Full
    });
    if text(s, "optimizer").is_some_and(|o| o.contains("8bit")) {
        req.optimizer = Optimizer::Adamw8bit;
        notes.push("optimizer: 8-bit AdamW (the case's assumption)".into());
    }
    if let Some(loss) = stated_loss(case) {
        req.loss = Some(loss);
        notes.push(format!("loss: {} (the stated framework's)", loss.name()));
    }
    if framework(case) == Framework::PytorchEager {
        req.kernels = Kernels::Eager;
        notes.push("eager element-wise kernels (the stated framework's)".into());
    }
    let f = sizeup_core::training::fit::longest_seq_len(
        &arch,
        &acc,
        &req,
        sizeup_core::training::fit::SeqLenStep::Multiple(1),
    )
    .map_err(|e| fail(e.to_string()))?;
    let longest = f
        .longest
        .ok_or_else(|| fail("not even one token fits".into()))?;
    if let Some(m) = f
        .longest_with_margin
        .filter(|m| m.seq_len < longest.seq_len)
    {
        notes.push(format!(
            "the longest that fits with the {:.0}% margin to spare: {} tokens (the edge scored is the counted capacity's)",
            sizeup_core::training::verdict::FIT_MARGIN * 100.0,
            m.seq_len
        ));
    }
    Ok(outcome(
        case,
        metric,
        reported,
        longest.seq_len as f64,
        None,
        notes,
    ))
}
