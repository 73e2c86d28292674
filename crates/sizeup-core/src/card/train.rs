//! The training half of the card: training cost, what binds, and what-ifs.

use serde::{Deserialize, Serialize};

use super::{Bottleneck, BottleneckKind, CardInput, Figure, Reason, WhatIf};
use crate::arch::Architecture;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::training::activations::Recompute;
use crate::training::lora::{Method, Projection};
use crate::training::parallel::ZeroStage;
use crate::training::states::{Optimizer, Precision};
use crate::training::verdict::FitVerdict;
use crate::training::{self, TrainEstimate, TrainRequest};

/// Training cost as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrainingSection {
    /// Accelerator name.
    pub accelerator: String,
    /// GPUs in the run.
    pub gpus: u64,
    /// `full`, `lora` or `qlora`.
    pub method: String,
    /// Parameters trained.
    pub params_trainable: u64,
    /// Training tokens.
    pub tokens: f64,
    /// Compute-optimal tokens (20 per parameter, Hoffmann et al. 2022).
    pub compute_optimal_tokens: f64,
    /// Weights on each GPU (forward).
    pub weights_bytes_per_gpu: u64,
    /// Gradients on each GPU (backward).
    pub gradients_bytes_per_gpu: u64,
    /// Optimizer states on each GPU.
    pub optimizer_states_bytes_per_gpu: u64,
    /// Activations kept for the backward pass, on the busiest GPU.
    pub activations_bytes_per_gpu: u64,
    /// Everything on the busiest GPU.
    pub total_bytes_per_gpu: u64,
    /// The GPU's memory.
    pub capacity_bytes: u64,
    /// Whether it fits (a tight fit included).
    pub fits: bool,
    /// Whether it fits with the margin to spare, tightly, or not at all.
    pub verdict: FitVerdict,
    /// Model FLOPs of the whole run.
    pub model_flops: f64,
    /// Seconds per optimizer step.
    pub step_seconds: f64,
    /// Model FLOPs utilization.
    pub mfu: f64,
    /// Wall-clock seconds of the run.
    pub total_seconds: f64,
    /// GPU-hours of the run.
    pub gpu_hours: f64,
    /// US dollars, if priced.
    pub cost_usd: Option<f64>,
    /// The full estimate (every line item and assumption); not serialized, so
    /// `None` in a card read back from JSON.
    #[serde(skip)]
    pub estimate: Option<Box<TrainEstimate>>,
}

pub(super) fn evaluate(
    arch: &Architecture,
    acc: &Accelerator,
    req: &TrainRequest,
) -> Result<TrainingSection> {
    let e = training::estimate(arch, acc, req)?;
    let m = &e.memory;
    Ok(TrainingSection {
        accelerator: e.accelerator.clone(),
        gpus: req.gpus,
        method: method_name(&e.method).into(),
        params_trainable: e.params_trainable,
        tokens: e.tokens,
        compute_optimal_tokens: e.compute_optimal_tokens,
        weights_bytes_per_gpu: m.weights_bytes,
        gradients_bytes_per_gpu: m.gradients_bytes,
        optimizer_states_bytes_per_gpu: m.optimizer_states_bytes,
        activations_bytes_per_gpu: m.activations_bytes,
        total_bytes_per_gpu: m.total_bytes,
        capacity_bytes: m.capacity_bytes,
        fits: e.fits,
        verdict: e.verdict,
        model_flops: e.flops.model_flops_total,
        step_seconds: e.time.step_seconds,
        mfu: e.time.mfu,
        total_seconds: e.time.total_seconds,
        gpu_hours: e.time.gpu_hours,
        cost_usd: e.time.cost_usd,
        estimate: Some(Box::new(e)),
    })
}

fn method_name(m: &Method) -> &'static str {
    match m {
        Method::Full => "full",
        Method::Lora { .. } => "lora",
        Method::Qlora { .. } => "qlora",
    }
}

/// One change to the training setup: name, what changed, caveat, another model, the request.
type Change = (
    String,
    String,
    Option<&'static str>,
    Option<Architecture>,
    TrainRequest,
);

/// Which training figure binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// Bytes on the busiest GPU.
    Memory,
    /// GPU-hours of the run.
    GpuHours,
}

impl Metric {
    fn value(self, s: &TrainingSection) -> f64 {
        match self {
            Metric::Memory => s.total_bytes_per_gpu as f64,
            Metric::GpuHours => s.gpu_hours,
        }
    }
}

pub(super) fn judge(
    input: &CardInput<'_>,
    t: &TrainingSection,
) -> Result<(Bottleneck, Vec<WhatIf>)> {
    let (acc, base) = input.train.as_ref().ok_or(CoreError::Invalid {
        field: "workload",
        value: input.workload.name().into(),
        expected: "a training setup".into(),
    })?;
    // a tight fit is held by memory too: its what-ifs should make room
    let (kind, metric, figure, reason) = if t.verdict != FitVerdict::Fits {
        let items = [
            ("weights", t.weights_bytes_per_gpu),
            ("gradients", t.gradients_bytes_per_gpu),
            ("optimizer states", t.optimizer_states_bytes_per_gpu),
            ("activations", t.activations_bytes_per_gpu),
        ];
        let (largest, bytes) = items
            .iter()
            .max_by_key(|(_, b)| *b)
            .copied()
            .unwrap_or(("weights", 0));
        (
            BottleneckKind::Memory,
            Metric::Memory,
            Figure {
                name: "memory on the busiest GPU".into(),
                value: t.total_bytes_per_gpu as f64,
                unit: "bytes".into(),
                higher_is_better: false,
            },
            Reason::TrainingMemory {
                needed_bytes: t.total_bytes_per_gpu,
                capacity_bytes: t.capacity_bytes,
                largest_item: largest.into(),
                largest_item_bytes: bytes,
            },
        )
    } else {
        (
            BottleneckKind::Compute,
            Metric::GpuHours,
            Figure {
                name: "GPU-hours of the run".into(),
                value: t.gpu_hours,
                unit: "GPU-hours".into(),
                higher_is_better: false,
            },
            Reason::TrainingCompute {
                model_flops: t.model_flops,
                mfu: t.mfu,
            },
        )
    };

    let mut changes: Vec<Change> = Vec::new();
    let mut with = |name: &str, change: String, caveat, f: &dyn Fn(&mut TrainRequest)| {
        let mut r = base.clone();
        f(&mut r);
        changes.push((name.to_string(), change, caveat, None, r));
    };
    if base.recompute != Recompute::Full {
        with(
            "full recomputation",
            "recompute → full".into(),
            Some("about a third more compute per step"),
            &|r| r.recompute = Recompute::Full,
        );
    }
    if base.recompute != Recompute::None {
        with(
            "no recomputation",
            "recompute → none".into(),
            Some("keeps every activation"),
            &|r| r.recompute = Recompute::None,
        );
    }
    if base.layout.zero != ZeroStage::Zero3 && !base.layout.fsdp && base.gpus > 1 {
        with(
            "ZeRO-3 / FSDP",
            "shard weights, gradients and optimizer states".into(),
            Some("more all-gather traffic per step"),
            &|r| r.layout.zero = ZeroStage::Zero3,
        );
    }
    if base.micro_batch > 1 {
        with(
            "micro-batch 1",
            format!("micro-batch {} → 1", base.micro_batch),
            Some("smaller matrix products run less efficiently"),
            &|r| r.micro_batch = 1,
        );
    }
    with(
        "micro-batch ×2",
        format!(
            "micro-batch {} → {}",
            base.micro_batch,
            base.micro_batch.saturating_mul(2)
        ),
        None,
        // saturating: a what-if past u64 is refused by its own estimate
        &|r| r.micro_batch = r.micro_batch.saturating_mul(2),
    );
    if base.optimizer == Optimizer::Adamw && matches!(base.method, Method::Full) {
        with(
            "8-bit AdamW",
            "optimizer states in 8 bits".into(),
            Some("bitsandbytes block-wise quantized states (Dettmers et al. 2022)"),
            &|r| r.optimizer = Optimizer::Adamw8bit,
        );
    }
    if base.precision != Precision::Fp8 && acc.peak_flops.fp8.is_some() {
        with(
            "fp8 matmuls",
            "precision → fp8".into(),
            Some("needs an fp8 recipe (Transformer Engine) and loss-scaling care"),
            &|r| r.precision = Precision::Fp8,
        );
    }
    if matches!(base.method, Method::Full) {
        let targets = vec![
            Projection::Q,
            Projection::K,
            Projection::V,
            Projection::O,
            Projection::Gate,
            Projection::Up,
            Projection::Down,
        ];
        let t2 = targets.clone();
        with(
            "LoRA r16",
            "train rank-16 adapters on every projection".into(),
            Some("fine-tuning only: adapters cannot pre-train a model"),
            &move |r| {
                r.method = Method::Lora {
                    rank: 16,
                    targets: targets.clone(),
                }
            },
        );
        with(
            "QLoRA r16",
            "NF4 base + rank-16 adapters".into(),
            Some("fine-tuning only; slower steps (dequantization)"),
            &move |r| {
                r.method = Method::Qlora {
                    rank: 16,
                    targets: t2.clone(),
                    upcast: crate::training::lora::QLORA_UPCAST_DEFAULT,
                }
            },
        );
    }
    let g2 = base.gpus.saturating_mul(2);
    with(
        "twice the GPUs",
        format!("{} → {g2} GPUs", base.gpus),
        Some("more GPUs shorten the run; GPU-hours stay or grow"),
        &|r| {
            r.gpus = r.gpus.saturating_mul(2);
            if let Some(dp) = r.layout.dp.as_mut() {
                *dp = dp.saturating_mul(2);
            }
        },
    );
    for (name, alt) in &input.alternatives {
        changes.push((
            format!("smaller model: {name}"),
            format!("model → {name}"),
            Some("a different model: quality must be re-checked"),
            Some(alt.clone()),
            base.clone(),
        ));
    }

    let whatifs = changes
        .into_iter()
        .map(|(name, change, caveat, arch, req)| {
            let a = arch.as_ref().unwrap_or(input.arch);
            let after = evaluate(a, acc, &req).and_then(|s| {
                if metric == Metric::GpuHours && !s.fits {
                    Err(CoreError::Invalid {
                        field: "memory",
                        value: format!("{} bytes per GPU", s.total_bytes_per_gpu),
                        expected: format!(
                            "at most {} bytes: this change does not fit",
                            s.capacity_bytes
                        ),
                    })
                } else {
                    Ok(metric.value(&s))
                }
            });
            WhatIf::evaluated(&name, change, &figure, after, caveat)
        })
        .collect();
    Ok((
        Bottleneck {
            kind,
            figure,
            reason,
        },
        whatifs,
    ))
}
