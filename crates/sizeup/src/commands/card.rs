//! `sizeup card MODEL --workload chat`: the lesson's evidence card.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::card::{
    self, BottleneckKind, CardInput, Change, Decision, EvidenceCard, Proposal, Reason,
    ServeTargets, Target, TargetCheck, UserSet, Workload,
};
use sizeup_core::hardware;
use sizeup_core::inference::{Bound, Engine};
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::lora::{Method, Projection};
use sizeup_core::training::parallel::ZeroStage;
use sizeup_core::training::verdict::{FitVerdict, FIT_MARGIN};
use sizeup_core::training::TrainRequest;
use sizeup_core::{params, Architecture, Assumption, KvDtype, WeightFormat};

use crate::cli::{DeviceArgs, ModelArg};
use crate::commands::infer::{ServeArgs, SplitMode};
use crate::error::AppError;
use crate::humanize::{self, ByteUnits};
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup card`. Serving flags mean what they mean in `sizeup infer`,
/// training flags what they mean in `sizeup train`; each workload fills in the rest.
#[derive(Debug, Args, Serialize)]
pub struct CardArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// What the model is for: chat, batch, rag, train, finetune
    #[arg(long, default_value = "chat", value_parser = parse_workload)]
    pub workload: Workload,
    /// Serving accelerator (`sizeup gpus` lists them)
    #[arg(long, default_value = "H100-SXM")]
    pub gpu: String,
    /// Serving devices per replica (tensor parallel)
    #[arg(long, value_parser = crate::door::DEVICES, default_value_t = 1)]
    pub tp: u64,
    /// Weight format for serving (as in `sizeup infer --weights`; default: the
    /// checkpoint's `quantization_config`, else bf16)
    #[arg(long, value_parser = crate::cli::parse_weights)]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub weights: Option<WeightFormat>,
    /// KV cache precision
    #[arg(long, default_value = "bf16", value_parser = crate::cli::parse_kv_dtype)]
    pub kv_dtype: KvDtype,
    /// Context each request may reach (default: chat 8k, rag 16k, batch prompt + output)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub context: Option<u64>,
    /// Prompt tokens per request (default: chat 2048, rag 8192, batch 1024)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub prompt: Option<u64>,
    /// Output tokens per request (default: chat 512, rag 256, batch 1024)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub output: Option<u64>,
    /// Requests in flight the service must hold (default: chat 16, rag 8, batch: as many as fit)
    #[arg(long, value_parser = crate::door::SEQUENCES)]
    pub concurrency: Option<u64>,
    /// Longest acceptable time to first token, seconds (default: chat 2, rag 4)
    #[arg(long, value_parser = crate::door::SECONDS)]
    pub ttft_target: Option<f64>,
    /// Longest acceptable time per output token, milliseconds (default 50 for chat and rag)
    #[arg(long, value_parser = crate::door::MILLISECONDS)]
    pub tpot_target_ms: Option<f64>,
    /// Serving engine: vllm, sglang, trtllm, llama.cpp, transformers
    #[arg(long, default_value = "vllm", value_parser = crate::cli::parse_engine)]
    pub engine: Engine,
    /// Price per device-hour in US dollars (default: the catalog's)
    #[arg(long, value_parser = crate::door::PRICE)]
    pub price: Option<f64>,
    /// Training accelerator
    #[arg(long, default_value = "H100-SXM")]
    pub train_gpu: String,
    /// Training GPUs
    #[arg(long, value_parser = crate::door::DEVICES, default_value_t = 8)]
    pub train_gpus: u64,
    /// Training tokens (default: train 20 per parameter, Hoffmann et al. 2022; finetune 100M)
    #[arg(long, value_parser = crate::door::TRAINING_TOKENS)]
    pub tokens: Option<u64>,
    /// Training sequence length
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "4096")]
    pub seq_len: u64,
    /// Sequences per optimizer step (default: 32 per training GPU)
    #[arg(long, value_parser = crate::door::SEQUENCES)]
    pub global_batch: Option<u64>,
    /// Sequences per micro-batch
    #[arg(long, value_parser = crate::door::SEQUENCES, default_value_t = 1)]
    pub micro_batch: u64,
    /// Activation recomputation: none, selective, full, op-selective
    #[arg(long, default_value = "selective", value_parser = crate::cli::parse_recompute)]
    pub recompute: Recompute,
    /// ZeRO stage for training (3 = FSDP)
    #[arg(long, default_value_t = 3, value_parser = crate::door::zero_stage())]
    pub zero: u8,
    /// Fine-tuning method for `--workload finetune`: lora, qlora, full
    #[arg(long, default_value = "lora")]
    pub method: String,
    /// LoRA rank
    #[arg(long, value_parser = crate::door::RANK, default_value_t = 16)]
    pub lora_rank: u64,
    /// Cost training too for a serving workload (train and finetune cards always do)
    #[arg(long)]
    pub training: bool,
}

/// Sequences per optimizer step per training GPU when `--global-batch` is not given:
/// 32 × 4096 tokens ≈ 131k tokens per GPU per step, so 8 GPUs step on ~1M tokens, a
/// quarter of the 4M-token batches LLaMA trained with (Touvron et al. 2023, Table 2).
const DEFAULT_SEQUENCES_PER_GPU: u64 = 32;

/// Training tokens of a fine-tuning card when `--tokens` is not given: 100M tokens,
/// a few epochs over a typical instruction set of tens of thousands of examples.
const DEFAULT_FINETUNE_TOKENS: u64 = 100_000_000;

fn parse_workload(s: &str) -> Result<Workload, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
        format!(
            "`{s}` is not a workload (expected one of {})",
            names.join(", ")
        )
    })
}

/// What `sizeup card` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct CardReport {
    /// The model.
    pub model: ModelSummary,
    /// The card.
    pub card: EvidenceCard,
    /// Rules applied while reading the model.
    pub model_assumptions: Vec<sizeup_core::Assumption>,
}

/// Smaller catalog models to try: the two largest below 60% of this one's parameters,
/// preferring the same family.
fn alternatives(arch: &Architecture, name: &str) -> Vec<(String, Architecture)> {
    let Ok(me) = params::count(arch) else {
        return Vec::new();
    };
    let family = sizeup_formats::catalog::find(name)
        .ok()
        .map(|e| e.family.clone());
    let mut smaller: Vec<(bool, u64, String, Architecture)> = sizeup_formats::catalog::all()
        .iter()
        .filter(|e| !e.name.starts_with("lesson-"))
        .filter_map(|e| {
            let n = params::count(&e.arch).ok()?.total;
            (n * 10 < me.total * 6 && n * 10 > me.total).then(|| {
                let same = family
                    .as_deref()
                    .is_some_and(|f| e.family.split('.').next() == f.split('.').next());
                (same, n, e.name.clone(), e.arch.clone())
            })
        })
        .collect();
    smaller.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    // Fine-tunes and re-releases share their base's size: keep one name per size.
    smaller.dedup_by(|a, b| a.1 == b.1);
    smaller
        .into_iter()
        .take(2)
        .map(|(_, _, n, a)| (n, a))
        .collect()
}

fn method(s: &str, rank: u64) -> Result<Method, AppError> {
    let all = Projection::ALL.to_vec();
    match s {
        "full" => Ok(Method::Full),
        "lora" => Ok(Method::Lora { rank, targets: all }),
        "qlora" => Ok(Method::Qlora {
            rank,
            targets: all,
            upcast: sizeup_core::training::lora::QLORA_UPCAST_DEFAULT,
        }),
        _ => Err(AppError::Usage {
            flag: "--method",
            value: s.into(),
            problem: "not a fine-tuning method".into(),
            hint: Some("use `lora`, `qlora` or `full`".into()),
        }),
    }
}

/// Build the card.
pub fn run(args: &CardArgs) -> Result<CardReport, AppError> {
    let loaded = model::load(&args.model)?;
    let arch = &loaded.arch;
    let w = args.workload;
    let (prompt, output) = w.request_shape();
    let (prompt, output) = (args.prompt.unwrap_or(prompt), args.output.unwrap_or(output));
    // the serving request comes from the serving flags' one path, as `infer`'s does;
    // the card's `--tp` ranks are llama.cpp's row split (it has no `--tp` of its own)
    let llama_cpp = args.engine == Engine::LlamaCpp;
    let device = DeviceArgs {
        gpu: args.gpu.clone(),
        gpu_file: None,
        gpus: Some(args.tp),
        tp: (!llama_cpp).then_some(args.tp),
        pp: None,
        ep: None,
        price: args.price,
    };
    let serving = ServeArgs {
        weights: args.weights,
        keep_embeddings_16bit: false,
        kv_dtype: args.kv_dtype,
        context: Some(args.context.unwrap_or(w.default_context(prompt, output))),
        prompt,
        output,
        batch: None,
        concurrency: None,
        engine: args.engine,
        attention_dp: None,
        split_mode: llama_cpp.then_some(SplitMode::Row),
        gpu_memory_utilization: None,
        kv_block: None,
        runtime_mib: None,
        comm_buffer_mib: None,
        prefill_chunk: None,
        matmul_efficiency: None,
        matmul_efficiency_8bit: None,
        memory_efficiency: None,
        layer_overhead_us: None,
        allreduce_efficiency: None,
        allreduce_latency_us: None,
    };
    let mut serve = serving.request(&device, loaded.quantization.as_ref())?;
    if args.context.is_none() {
        serve.context_source = Some(format!("card default for {} (--context)", w.name()));
    }
    let user_set = UserSet {
        prompt: args.prompt.is_some(),
        output: args.output.is_some(),
        context: args.context.is_some(),
        concurrency: args.concurrency.is_some(),
        ttft: args.ttft_target.is_some(),
        tpot: args.tpot_target_ms.is_some(),
    };

    let mut targets: ServeTargets = w.default_targets();
    if let Some(c) = args.concurrency {
        targets.concurrency = c;
    }
    if let Some(t) = args.ttft_target {
        targets.max_ttft_seconds = Some(t);
    }
    if let Some(t) = args.tpot_target_ms {
        targets.max_tpot_seconds = Some(t / 1e3);
    }

    let train_gpu = hardware::find(&args.train_gpu)?.clone();
    let global_batch = match args.global_batch {
        Some(b) => b,
        None => args
            .train_gpus
            .checked_mul(DEFAULT_SEQUENCES_PER_GPU)
            .ok_or(AppError::Usage {
                flag: "--train-gpus",
                value: args.train_gpus.to_string(),
                problem: "too many GPUs to size a default global batch".into(),
                hint: Some("pass `--global-batch` too".into()),
            })?,
    };
    let mut train = TrainRequest::new(
        args.train_gpus,
        args.seq_len,
        global_batch,
        args.micro_batch,
    );
    train.recompute = args.recompute;
    train.layout.zero = match args.zero {
        0 => ZeroStage::Zero0,
        1 => ZeroStage::Zero1,
        2 => ZeroStage::Zero2,
        _ => ZeroStage::Zero3,
    };
    train.price_per_gpu_hour = None;
    if w == Workload::Finetune {
        train.method = method(&args.method, args.lora_rank)?;
        train.tokens = Some(args.tokens.unwrap_or(DEFAULT_FINETUNE_TOKENS));
    } else {
        train.tokens = args.tokens;
    }

    let costs_training = w.is_training() || args.training;
    let mut defaults = Vec::new();
    if costs_training && args.global_batch.is_none() {
        defaults.push(Assumption::new(
            "training global batch",
            format!("{global_batch} sequences ({DEFAULT_SEQUENCES_PER_GPU} per GPU)"),
            "card default: ~1M tokens per step on 8 GPUs, a quarter of LLaMA's 4M (Touvron et al. 2023, Table 2); --global-batch",
        ));
    }
    if w == Workload::Finetune && args.tokens.is_none() {
        defaults.push(Assumption::new(
            "fine-tuning tokens",
            DEFAULT_FINETUNE_TOKENS,
            "card default: a few epochs over tens of thousands of instruction examples; --tokens",
        ));
    }
    let input = CardInput {
        arch,
        workload: w,
        serve,
        targets,
        user_set,
        // a serving card costs training only when asked
        train: costs_training.then_some((train_gpu, train)),
        alternatives: alternatives(arch, &args.model.model),
    };
    let mut card = card::build(&input)?;
    card.assumptions.extend(defaults);
    Ok(CardReport {
        model: ModelSummary::new(&loaded),
        card,
        model_assumptions: loaded.assumptions,
    })
}

/// The bottleneck's evidence as rows: a sentence, and its byte figures as typed
/// cells so they follow `--si` like every other byte count.
fn reason_rows(r: &Reason) -> Vec<(&'static str, Cell)> {
    let grouped = humanize::grouped;
    match *r {
        Reason::NoRoomForOneRequest {
            weights_bytes_per_gpu,
            context_tokens,
            shortfall_bytes_per_gpu,
        } => vec![
            (
                "why",
                Cell::Text(format!(
                    "weights and runtime leave no room for one {}-token request",
                    grouped(context_tokens)
                )),
            ),
            ("weights per GPU", Cell::Bytes(weights_bytes_per_gpu)),
            ("short per GPU", Cell::Bytes(shortfall_bytes_per_gpu)),
        ],
        Reason::KvCache {
            context_tokens,
            kv_bytes_per_request,
            requests_that_fit,
            target_requests,
            ..
        } => vec![
            (
                "why",
                Cell::Text(format!(
                    "{requests_that_fit} of the {target_requests} target requests fit at {} tokens beside the weights",
                    grouped(context_tokens)
                )),
            ),
            (
                "KV cache the target needs",
                Cell::Bytes(kv_bytes_per_request.saturating_mul(target_requests)),
            ),
        ],
        Reason::DecodeLatency {
            requests,
            bound,
            target_seconds,
        } => vec![(
            "why",
            Cell::Text(format!(
                "decode at {requests} requests is {}-bound and misses the {} per-token target",
                Bound::name(bound),
                humanize::seconds(target_seconds)
            )),
        )],
        Reason::PrefillLatency {
            prompt_tokens,
            bound,
            target_seconds,
        } => vec![(
            "why",
            Cell::Text(format!(
                "prefill of a {}-token prompt is {}-bound and misses the {} first-token target",
                grouped(prompt_tokens),
                Bound::name(bound),
                humanize::seconds(target_seconds)
            )),
        )],
        Reason::Throughput { decode_bound } => vec![(
            "why",
            Cell::Text(format!(
                "it fits and meets its latency targets; decode is {}-bound, so tokens per second per GPU set the cost",
                Bound::name(decode_bound)
            )),
        )],
        Reason::TrainingMemory {
            needed_bytes,
            capacity_bytes,
            ref largest_item,
            largest_item_bytes,
        } => vec![
            (
                "why",
                Cell::Text(if needed_bytes <= capacity_bytes {
                    format!(
                        "the training state fits only inside the {:.0}% margin a fit leaves (tight: it may run out of memory); the largest item is {largest_item}",
                        FIT_MARGIN * 100.0
                    )
                } else {
                    format!("the training state does not fit; the largest item is {largest_item}")
                }),
            ),
            ("needed per GPU", Cell::Bytes(needed_bytes)),
            ("GPU memory", Cell::Bytes(capacity_bytes)),
            ("largest item", Cell::Bytes(largest_item_bytes)),
        ],
        Reason::TrainingCompute { model_flops, mfu } => vec![(
            "why",
            Cell::Text(format!(
                "it fits; {model_flops:.3e} model FLOPs at {} MFU take the time",
                humanize::percent(mfu)
            )),
        )],
    }
}

fn bottleneck_name(k: BottleneckKind) -> &'static str {
    match k {
        BottleneckKind::Memory => "memory",
        BottleneckKind::Latency => "latency",
        BottleneckKind::Throughput => "throughput",
        BottleneckKind::Compute => "compute",
    }
}

/// A figure in its unit, for people (bytes in `units`).
fn figure_text(value: f64, unit: &str, units: ByteUnits) -> String {
    match unit {
        "bytes" => humanize::bytes(value.max(0.0) as u64, units),
        "s" => humanize::seconds(value),
        "requests" => format!("{value:.0}"),
        "GPU-hours" => format!("{} GPU-hours", humanize::sig3(value)),
        _ => format!("{} {unit}", humanize::sig3(value)),
    }
}

impl Report for CardReport {
    fn view(&self, units: ByteUnits) -> View {
        let c = &self.card;
        let mut t = Table::new(
            Some(&format!(
                "Evidence card: {} ({}) as a {} workload",
                self.model.name,
                self.model.description(),
                c.workload.name()
            )),
            &[("section", "section"), ("item", "item"), ("value", "value")],
        );
        let mut row = |section: &str, item: &str, value: Cell| {
            t.row(vec![
                Cell::Text(section.into()),
                Cell::Text(item.into()),
                value,
            ]);
        };
        let p = &c.params;
        row("Params", "total (exact)", Cell::Exact(p.total));
        if p.active != p.total {
            row("", "active per token", Cell::Exact(p.active));
        }
        row(
            "",
            "main contributors",
            Cell::Text(format!(
                "MLP/experts {}, attention {}, embeddings+head {}",
                humanize::percent(p.mlp_share),
                humanize::percent(p.attention_share),
                humanize::percent(p.embedding_share)
            )),
        );
        row(
            "",
            "lesson's rough estimate",
            Cell::Text(format!(
                "{} ({:+.1}% vs exact: {})",
                humanize::count(p.rough.rough_total),
                (p.rough.rough_total as f64 / p.total.max(1) as f64 - 1.0) * 100.0,
                p.rough
                    .components
                    .iter()
                    .filter(|x| x.rough != x.exact)
                    .max_by_key(|x| x.rough.abs_diff(x.exact))
                    .map_or("no difference".to_string(), |x| format!(
                        "largest gap in {}: {}",
                        x.component, x.reason
                    ))
            )),
        );
        if let Some(tr) = &c.training {
            row(
                "Training cost",
                "setup",
                Cell::Text(format!(
                    "{} on {}×{}, {} tokens ({:.1} per parameter; compute-optimal {})",
                    tr.method,
                    tr.gpus,
                    tr.accelerator,
                    humanize::count(tr.tokens as u64),
                    tr.tokens / p.total.max(1) as f64,
                    humanize::count(tr.compute_optimal_tokens as u64)
                )),
            );
            row(
                "",
                "forward + backward + optimizer state per GPU",
                Cell::Text(format!(
                    "weights {} + gradients {} + optimizer {} + activations {} = {} of {}{}",
                    humanize::bytes(tr.weights_bytes_per_gpu, units),
                    humanize::bytes(tr.gradients_bytes_per_gpu, units),
                    humanize::bytes(tr.optimizer_states_bytes_per_gpu, units),
                    humanize::bytes(tr.activations_bytes_per_gpu, units),
                    humanize::bytes(tr.total_bytes_per_gpu, units),
                    humanize::bytes(tr.capacity_bytes, units),
                    match tr.verdict {
                        FitVerdict::Fits => "",
                        FitVerdict::Tight => " (tight)",
                        FitVerdict::DoesNotFit => " (does not fit)",
                    }
                )),
            );
            row(
                "",
                "model FLOPs",
                Cell::Text(format!("{:.3e}", tr.model_flops)),
            );
            row(
                "",
                "time",
                Cell::Text(format!(
                    "{} wall, {} GPU-hours at {} MFU{}",
                    humanize::seconds(tr.total_seconds),
                    humanize::sig3(tr.gpu_hours),
                    humanize::percent(tr.mfu),
                    tr.cost_usd
                        .map_or(String::new(), |u| format!(", ${}", humanize::sig3(u)))
                )),
            );
        }
        let i = &c.inference;
        row(
            "Inference cost",
            "setup",
            Cell::Text(format!(
                "{}×{} (tp {}), {} weights, {} KV cache, {} requests in flight",
                i.gpus,
                i.gpu,
                i.tp,
                i.weights,
                i.kv_dtype.name(),
                i.requests_in_flight
            )),
        );
        row("", "weights per GPU", Cell::Bytes(i.weights_bytes_per_gpu));
        row(
            "",
            &format!(
                "KV cache per request at {} tokens",
                humanize::grouped(i.context_tokens)
            ),
            Cell::Bytes(i.kv_bytes_per_request),
        );
        row(
            "",
            "requests that fit at that context",
            Cell::Exact(i.max_requests_at_context),
        );
        row(
            "",
            &format!(
                "prefill ({} prompt tokens)",
                humanize::grouped(i.prompt_tokens)
            ),
            Cell::Seconds(i.ttft_seconds),
        );
        row(
            "",
            "decode, per output token",
            Cell::Seconds(i.tpot_seconds),
        );
        row(
            "",
            &format!(
                "end to end ({} output tokens)",
                humanize::grouped(i.output_tokens)
            ),
            Cell::Seconds(i.end_to_end_seconds),
        );
        row(
            "",
            "throughput per GPU",
            Cell::Number(i.output_tokens_per_sec_per_gpu, "tokens/s"),
        );
        if let (Some(o), Some(inp)) = (
            i.usd_per_million_output_tokens,
            i.usd_per_million_input_tokens,
        ) {
            row(
                "",
                "cost per million tokens",
                Cell::Text(format!(
                    "${} output, ${} input",
                    humanize::sig3(o),
                    humanize::sig3(inp)
                )),
            );
        }
        let b = &c.bottleneck;
        row(
            "Bottleneck",
            bottleneck_name(b.kind),
            Cell::Text(format!(
                "{} = {}",
                b.figure.name,
                figure_text(b.figure.value, &b.figure.unit, units)
            )),
        );
        for (item, value) in reason_rows(&b.reason) {
            row("", item, value);
        }

        let mut tables = vec![t];
        if let Some(dec) = &c.decision {
            tables.extend(decision_tables(dec, i.context_tokens));
        }
        let mut d = Table::new(
            Some(&format!(
                "Decision: what-ifs ranked by their effect on {}",
                b.figure.name
            )),
            &[
                ("what if", "what_if"),
                ("change", "change"),
                ("effect", "effect"),
                ("gain", "gain"),
                ("caveat", "caveat"),
            ],
        );
        for w in &c.decisions {
            let effect = match (w.after, &w.error) {
                (Some(a), _) => format!(
                    "{} → {}",
                    figure_text(w.before, &b.figure.unit, units),
                    figure_text(a, &b.figure.unit, units)
                ),
                (None, Some(e)) => format!("not estimated: {e}"),
                (None, None) => String::new(),
            };
            d.row(vec![
                Cell::Text(w.name.clone()),
                Cell::Text(w.change.clone()),
                Cell::Text(effect),
                match (w.unbounded, w.gain) {
                    (true, _) => Cell::Text("n/a (from 0)".into()),
                    (false, Some(g)) => Cell::Text(format!("×{}", humanize::sig3(g))),
                    (false, None) => Cell::Empty,
                },
                Cell::Text(w.caveat.clone().unwrap_or_default()),
            ]);
        }
        let mut notes = vec!["assumptions:".to_string()];
        notes.extend(
            c.assumptions
                .iter()
                .map(|a| format!("  {} = {} ({})", a.name, a.value, a.source)),
        );
        notes.extend(model::assumption_notes(&self.model_assumptions));
        tables.push(d);
        View { tables, notes }
    }
}

/// A target's name, its limit as text and a figure as text.
fn target_text(t: Target, context: u64) -> (String, &'static str) {
    match t {
        Target::Concurrency => (
            format!("concurrent {}-token requests", humanize::grouped(context)),
            "≥",
        ),
        Target::Ttft => ("time to first token".into(), "≤"),
        Target::Tpot => ("time per output token".into(), "≤"),
    }
}

fn target_figure(t: Target, v: f64) -> Cell {
    match t {
        Target::Concurrency => Cell::Exact(v.max(0.0) as u64),
        Target::Ttft | Target::Tpot => Cell::Seconds(v),
    }
}

fn yes(met: bool) -> Cell {
    Cell::Text(if met { "yes" } else { "no" }.into())
}

/// `replicas 1 → 3, weights bf16 → awq-int4-g128`.
fn changes_text(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| match c {
            Change::Accelerator { from, to } => format!("GPU {from} → {to}"),
            Change::Replicas { from, to } => format!("replicas {from} → {to}"),
            Change::Tp { from, to } => format!("tp {from} → {to}"),
            Change::Weights { from, to } => format!("weights {from} → {to}"),
            Change::KvDtype { from, to } => {
                format!("KV cache {} → {}", from.name(), to.name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `3×L4 (3 replicas × tp 1), awq-int4-g128 weights, fp8 KV cache, $2.13/h`.
fn proposal_text(p: &Proposal) -> String {
    let c = &p.candidate;
    format!(
        "{}: {}×{} ({} × tp {}{}), {} weights, {} KV cache{}",
        changes_text(&p.changes),
        c.gpus(),
        p.accelerator,
        if c.replicas == 1 {
            "1 replica".to_string()
        } else {
            format!("{} replicas", c.replicas)
        },
        c.tp,
        if c.pp > 1 {
            format!(" · pp {}", c.pp)
        } else {
            String::new()
        },
        c.weights,
        c.kv_dtype.name(),
        p.usd_per_hour
            .map_or(String::new(), |u| format!(", ${}/h", humanize::sig3(u)))
    )
}

/// The decision: each target now and with the cheapest change, and the change.
fn decision_tables(d: &Decision, context: u64) -> Vec<Table> {
    let mut checks = Table::new(
        Some("Decision: each target, now and with the cheapest change that meets them all"),
        &[
            ("target", "target"),
            ("limit", "limit"),
            ("now", "now"),
            ("met", "met_now"),
            ("with the change", "with_change"),
            ("met", "met_with_change"),
        ],
    );
    let after: Vec<TargetCheck> = d.cheapest.as_ref().map_or(Vec::new(), |p| p.checks.clone());
    for (i, now) in d.checks.iter().enumerate() {
        let (name, cmp) = target_text(now.target, context);
        let limit = match now.target {
            Target::Concurrency => format!("{cmp} {}", humanize::grouped(now.limit as u64)),
            _ => format!("{cmp} {}", humanize::seconds(now.limit)),
        };
        let later = after.get(i).filter(|a| a.target == now.target);
        checks.row(vec![
            Cell::Text(name),
            Cell::Text(limit),
            target_figure(now.target, now.figure),
            yes(now.met),
            later.map_or(Cell::Empty, |a| target_figure(a.target, a.figure)),
            later.map_or(Cell::Empty, |a| yes(a.met)),
        ]);
    }
    checks.row(vec![
        Cell::Text("US dollars per hour".into()),
        Cell::Empty,
        d.usd_per_hour
            .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
        Cell::Empty,
        d.cheapest
            .as_ref()
            .and_then(|p| p.usd_per_hour)
            .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
        Cell::Empty,
    ]);
    let mut change = Table::new(
        Some("Decision: the cheapest change that meets every target"),
        &[("item", "item"), ("value", "value")],
    );
    let verdict = if d.meets_every_target {
        "the setup meets every target"
    } else {
        "the setup misses a target"
    };
    change.row(vec![Cell::Text("now".into()), Cell::Text(verdict.into())]);
    change.row(vec![
        Cell::Text("cheapest, alone or combined".into()),
        Cell::Text(match &d.cheapest {
            Some(p) if p.changes.is_empty() => {
                "no change: the setup is already the cheapest that meets every target".into()
            }
            Some(p) => proposal_text(p),
            None => format!(
                "none in the space: no setup of up to {} GPUs meets every target",
                d.max_gpus
            ),
        }),
    ]);
    change.row(vec![
        Cell::Text("cheapest single change".into()),
        Cell::Text(match &d.cheapest_alone {
            Some(p) => proposal_text(p),
            None => {
                "none: no one change (replicas, GPU, tp, weights or KV cache) meets every target"
                    .into()
            }
        }),
    ]);
    change.row(vec![
        Cell::Text("searched".into()),
        Cell::Text(format!(
            "{} setups at steady state (plan serve: replicas, {} GPUs, tp, weights, KV cache), {} meet every target",
            humanize::grouped(d.setups_evaluated),
            d.accelerators.len(),
            humanize::grouped(d.setups_kept)
        )),
    ]);
    vec![checks, change]
}
