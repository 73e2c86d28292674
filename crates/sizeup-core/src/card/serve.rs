//! The serving half of the card: the inference figures, what binds, and what-ifs.

use serde::{Deserialize, Serialize};

use super::{
    Bottleneck, BottleneckKind, CardInput, Figure, Reason, ServeTargets, WhatIf, Workload,
};
use crate::arch::{Architecture, AttentionKind};
use crate::dtype::{KvDtype, WeightFormat};
use crate::error::Result;
use crate::inference::{self, Bound, InferEstimate, InferRequest, Load};
use crate::kv::{self, KvRequest};

/// Inference cost as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InferenceSection {
    /// Accelerator name.
    pub gpu: String,
    /// Devices.
    pub gpus: u64,
    /// Tensor-parallel ranks per replica.
    pub tp: u64,
    /// Weight format.
    pub weights: String,
    /// KV cache precision.
    pub kv_dtype: KvDtype,
    /// Context each request may reach.
    pub context_tokens: u64,
    /// Prompt tokens per request.
    pub prompt_tokens: u64,
    /// Output tokens per request.
    pub output_tokens: u64,
    /// Requests in flight in this estimate.
    pub requests_in_flight: u64,
    /// Whether the setup fits in memory.
    pub fits: bool,
    /// Weight bytes on each device.
    pub weights_bytes_per_gpu: u64,
    /// KV cache of one request at the full context, all devices together.
    pub kv_bytes_per_request: u64,
    /// Requests that fit at the full context, per replica.
    pub max_requests_at_context: u64,
    /// Time to first token.
    pub ttft_seconds: f64,
    /// Time per output token one request sees.
    pub tpot_seconds: f64,
    /// First to last token of one request.
    pub end_to_end_seconds: f64,
    /// Output tokens per second per device.
    pub output_tokens_per_sec_per_gpu: f64,
    /// What bounds prefill.
    pub prefill_bound: Bound,
    /// What bounds decode.
    pub decode_bound: Bound,
    /// US dollars per million output tokens, if priced.
    pub usd_per_million_output_tokens: Option<f64>,
    /// US dollars per million input tokens, if priced.
    pub usd_per_million_input_tokens: Option<f64>,
}

/// The serving estimate behind the card.
#[derive(Debug, Clone)]
pub struct Serving {
    /// The estimate at the workload's load.
    pub estimate: InferEstimate,
    /// The card's view of it.
    pub section: InferenceSection,
}

/// Estimate serving at the workload's load: the target concurrency for chat and
/// RAG, the largest batch that fits for batch work, the request's own load otherwise.
fn estimate_for(
    arch: &Architecture,
    req: &InferRequest,
    workload: Workload,
    targets: &ServeTargets,
) -> Result<InferEstimate> {
    let mut req = req.clone();
    match workload {
        Workload::Chat | Workload::Rag if targets.concurrency > 0 => {
            req.load = Load::Concurrency(targets.concurrency);
        }
        Workload::Batch if targets.concurrency > 0 => {
            req.load = Load::Batch(targets.concurrency);
        }
        Workload::Batch => {
            req.load = Load::Batch(1);
            let probe = inference::estimate(arch, &req)?;
            req.load = Load::Batch(probe.max_batch_at_context.max(1));
        }
        _ => {}
    }
    inference::estimate(arch, &req)
}

pub(super) fn evaluate(input: &CardInput<'_>) -> Result<Serving> {
    let mut est = estimate_for(input.arch, &input.serve, input.workload, &input.targets)?;
    // A service cannot hold more requests than fit: when fewer fit than the target,
    // the speed and cost figures are those of the requests that do.
    let wanted = input.targets.concurrency;
    if wanted > 0 && (1..wanted).contains(&est.max_batch_at_context) {
        let targets = ServeTargets {
            concurrency: est.max_batch_at_context,
            ..input.targets
        };
        est = estimate_for(input.arch, &input.serve, input.workload, &targets)?;
    }
    let kv_per_request = kv::size(
        input.arch,
        &KvRequest {
            seq_len: est.context,
            batch: 1,
            dtype: est.kv_dtype,
            tp: 1,
            block_tokens: None,
        },
    )?
    .bytes_per_sequence;
    let section = InferenceSection {
        gpu: est.gpu.clone(),
        gpus: est.gpus,
        tp: est.tp,
        weights: est.weights.to_string(),
        kv_dtype: est.kv_dtype,
        context_tokens: est.context,
        prompt_tokens: est.prompt,
        output_tokens: est.output,
        requests_in_flight: est.load.requests(),
        fits: est.fits,
        weights_bytes_per_gpu: est.memory.weights_bytes,
        kv_bytes_per_request: kv_per_request,
        max_requests_at_context: est.max_batch_at_context,
        ttft_seconds: est.schedule.time_to_first_token_seconds,
        tpot_seconds: est.schedule.time_per_output_token_seconds,
        end_to_end_seconds: est.schedule.end_to_end_seconds,
        output_tokens_per_sec_per_gpu: est.output_tokens_per_sec_total / est.gpus.max(1) as f64,
        prefill_bound: est.prefill.bound,
        decode_bound: est.decode.bound,
        usd_per_million_output_tokens: est.cost.as_ref().map(|c| c.usd_per_million_output_tokens),
        usd_per_million_input_tokens: est.cost.as_ref().map(|c| c.usd_per_million_input_tokens),
    };
    Ok(Serving {
        estimate: est,
        section,
    })
}

/// Which serving figure binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// Requests that fit at the full context.
    Fit,
    /// Time per output token.
    Tpot,
    /// Time to first token.
    Ttft,
    /// Output tokens per second per device.
    Throughput,
}

impl Metric {
    fn value(self, est: &InferEstimate) -> f64 {
        match self {
            Metric::Fit => est.max_batch_at_context as f64,
            Metric::Tpot => est.schedule.time_per_output_token_seconds,
            Metric::Ttft => est.schedule.time_to_first_token_seconds,
            Metric::Throughput => est.output_tokens_per_sec_total / est.gpus.max(1) as f64,
        }
    }

    fn figure(self, est: &InferEstimate) -> Figure {
        let (name, unit, higher) = match self {
            Metric::Fit => (
                format!("concurrent {}-token requests that fit", est.context),
                "requests",
                true,
            ),
            Metric::Tpot => ("time per output token".to_string(), "s", false),
            Metric::Ttft => ("time to first token".to_string(), "s", false),
            Metric::Throughput => ("output tokens/s per GPU".to_string(), "tokens/s", true),
        };
        Figure {
            name,
            value: self.value(est),
            unit: unit.to_string(),
            higher_is_better: higher,
        }
    }
}

/// Decide what binds, then compute every applicable what-if on that figure.
pub(super) fn judge(input: &CardInput<'_>, serving: &Serving) -> Result<(Bottleneck, Vec<WhatIf>)> {
    let est = &serving.estimate;
    let t = &input.targets;
    let s = &serving.section;
    let (kind, metric, reason) = if est.max_batch_at_context == 0 {
        (
            BottleneckKind::Memory,
            Metric::Fit,
            Reason::NoRoomForOneRequest {
                weights_bytes_per_gpu: est.memory.weights_bytes,
                context_tokens: est.context,
                shortfall_bytes_per_gpu: est.memory.shortfall_bytes,
            },
        )
    } else if t.concurrency > 0 && est.max_batch_at_context < t.concurrency {
        (
            BottleneckKind::Memory,
            Metric::Fit,
            Reason::KvCache {
                context_tokens: est.context,
                kv_bytes_per_request: s.kv_bytes_per_request,
                requests_that_fit: est.max_batch_at_context,
                weights_bytes_per_gpu: est.memory.weights_bytes,
                target_requests: t.concurrency,
            },
        )
    } else if let Some(target) = t.max_tpot_seconds.filter(|m| s.tpot_seconds > *m) {
        (
            BottleneckKind::Latency,
            Metric::Tpot,
            Reason::DecodeLatency {
                requests: s.requests_in_flight,
                bound: s.decode_bound,
                target_seconds: target,
            },
        )
    } else if let Some(target) = t.max_ttft_seconds.filter(|m| s.ttft_seconds > *m) {
        (
            BottleneckKind::Latency,
            Metric::Ttft,
            Reason::PrefillLatency {
                prompt_tokens: s.prompt_tokens,
                bound: s.prefill_bound,
                target_seconds: target,
            },
        )
    } else {
        (
            BottleneckKind::Throughput,
            Metric::Throughput,
            Reason::Throughput {
                decode_bound: s.decode_bound,
            },
        )
    };
    let figure = metric.figure(est);
    let whatifs = what_ifs(input, metric, &figure);
    Ok((
        Bottleneck {
            kind,
            figure,
            reason,
        },
        whatifs,
    ))
}

/// One change to the serving setup.
struct Change {
    name: String,
    change: String,
    caveat: Option<&'static str>,
    arch: Option<Architecture>,
    req: InferRequest,
    targets: ServeTargets,
}

fn what_ifs(input: &CardInput<'_>, metric: Metric, before: &Figure) -> Vec<WhatIf> {
    let base = &input.serve;
    let arch = input.arch;
    let mut changes: Vec<Change> = Vec::new();
    let mut push = |name: String, change: String, caveat, arch, req, targets| {
        changes.push(Change {
            name,
            change,
            caveat,
            arch,
            req,
            targets,
        })
    };

    if matches!(base.kv_dtype, KvDtype::Fp16 | KvDtype::Bf16) {
        let mut r = base.clone();
        r.kv_dtype = KvDtype::Fp8;
        push(
            "fp8 KV cache".into(),
            format!("KV cache {} → fp8", base.kv_dtype.name()),
            Some("small quality cost; needs fp8 KV support in the engine"),
            None,
            r,
            input.targets,
        );
    }
    if let Some(AttentionKind::Standard {
        heads, kv_heads, ..
    }) = arch.primary_attention().map(|a| a.kind)
    {
        for k in [8, 1] {
            if kv_heads > k && heads % k == 0 {
                let Ok(a) = crate::resize::with_kv_heads(arch, k) else {
                    continue;
                };
                let name = if k == 1 {
                    "MQA (1 KV head)".to_string()
                } else {
                    format!("GQA ({k} KV heads)")
                };
                push(
                    name,
                    format!("{kv_heads} → {k} KV heads"),
                    Some("an architecture change: needs retraining or uptraining (Ainslie et al. 2023, GQA)"),
                    Some(a),
                    base.clone(),
                    input.targets,
                );
            }
        }
    }
    let sixteen_bit = matches!(
        base.weights,
        WeightFormat::Bf16 | WeightFormat::Fp16 | WeightFormat::Fp32
    );
    if sixteen_bit && base.gpu.peak_flops.fp8.is_some() {
        let mut r = base.clone();
        r.weights = WeightFormat::Fp8E4m3;
        push(
            "fp8 weights".into(),
            format!("weights {} → fp8-e4m3", base.weights),
            Some("usually within noise of bf16 quality"),
            None,
            r,
            input.targets,
        );
    }
    if sixteen_bit
        || matches!(
            base.weights,
            WeightFormat::Fp8E4m3 | WeightFormat::Int8PerChannel | WeightFormat::BnbInt8
        )
    {
        let mut r = base.clone();
        r.weights = WeightFormat::Awq { group: 128 };
        push(
            "int4 weights (AWQ)".into(),
            format!("weights {} → awq-int4-g128", base.weights),
            Some("a measurable quality cost on hard tasks; check your evals"),
            None,
            r,
            input.targets,
        );
    }
    for (name, alt) in &input.alternatives {
        push(
            format!("smaller model: {name}"),
            format!("model → {name}"),
            Some("a different model: quality must be re-checked"),
            Some(alt.clone()),
            base.clone(),
            input.targets,
        );
    }
    // the base estimate succeeded, so prompt + output was checked there
    let context = base.context.unwrap_or(base.prompt + base.output);
    if context >= 4096 {
        let shorter = context / 4;
        let mut r = base.clone();
        r.context = Some(shorter);
        r.prompt = base.prompt.min(shorter.saturating_sub(base.output).max(1));
        push(
            "shorter context (retrieval)".into(),
            format!("context {context} → {shorter} tokens"),
            Some("retrieval must bring the relevant passages into the shorter window"),
            None,
            r,
            input.targets,
        );
    }
    if metric != Metric::Fit && input.targets.concurrency > 0 {
        for (label, c) in [
            ("twice the", input.targets.concurrency.saturating_mul(2)),
            ("half the", (input.targets.concurrency / 2).max(1)),
        ] {
            let mut t = input.targets;
            t.concurrency = c;
            push(
                format!("{label} concurrency"),
                format!("{} → {c} requests in flight", input.targets.concurrency),
                None,
                None,
                base.clone(),
                t,
            );
        }
    }
    if input.workload == Workload::Batch && input.targets.concurrency == 0 {
        push(
            "static batch of 8".into(),
            "largest batch that fits → 8".into(),
            Some("smaller batches finish each request sooner but cost more per token"),
            None,
            base.clone(),
            ServeTargets {
                concurrency: 8,
                ..input.targets
            },
        );
    }
    // saturating: a doubled size past u64 divides nothing and is skipped
    let tp2 = base.tp.saturating_mul(2);
    if arch.heads() % tp2 == 0 && base.gpu.interconnect_bytes_per_sec.is_some() {
        let mut r = base.clone();
        r.tp = tp2;
        r.gpus = base.gpus / base.tp * tp2;
        push(
            "tensor parallelism ×2".into(),
            format!("tp {} → {tp2} ({} → {} GPUs)", base.tp, base.gpus, r.gpus),
            Some("twice the GPUs: the hourly bill doubles"),
            None,
            r,
            input.targets,
        );
    }

    changes
        .into_iter()
        .map(|c| {
            let a = c.arch.as_ref().unwrap_or(arch);
            let after =
                estimate_for(a, &c.req, input.workload, &c.targets).map(|e| metric.value(&e));
            WhatIf::evaluated(&c.name, c.change, before, after, c.caveat)
        })
        .collect()
}
