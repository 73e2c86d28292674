//! `sizeup train MODEL --gpu H100-SXM --gpus N`: memory per GPU, FLOPs, step time,
//! throughput, wall time and cost of training, for pre-training and fine-tuning.

use clap::{ArgAction, Args};
use serde::Serialize;
use sizeup_core::hardware::{self, Accelerator};
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::kernels::Kernels;
use sizeup_core::training::lora::{Method, Projection};
use sizeup_core::training::parallel::{LayoutRequest, ZeroStage};
use sizeup_core::training::states::{Optimizer, Precision, Stage};
use sizeup_core::training::{self, TrainEstimate, TrainRequest};
use sizeup_core::Assumption;

use crate::cli::ModelArg;
use crate::commands::gpus::read_gpu_file;
use crate::error::AppError;
use crate::humanize;
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Accelerator name (`sizeup gpus` lists them)
    #[arg(long, default_value = "H100-SXM")]
    gpu: String,
    /// A TOML file describing the accelerator instead of `--gpu`
    #[arg(long, value_name = "FILE", conflicts_with = "gpu")]
    gpu_file: Option<String>,
    /// GPUs in the run
    #[arg(long, default_value_t = 1)]
    gpus: u64,
    /// Training tokens, e.g. `15.6T`, `2e12`, `300B` (default: 20 per parameter, Hoffmann et al. 2022)
    #[arg(long, value_parser = crate::cli::parse_count)]
    tokens: Option<u64>,
    /// Sequence length, e.g. `4096` or `8k`
    #[arg(long, default_value = "4096", value_parser = crate::cli::parse_tokens)]
    seq_len: u64,
    /// Sequences per optimizer step (default: one micro-batch per data-parallel rank)
    #[arg(long)]
    global_batch: Option<u64>,
    /// Sequences per micro-batch
    #[arg(long, default_value_t = 1)]
    micro_batch: u64,
    /// Tensor-parallel size
    #[arg(long, default_value_t = 1)]
    tp: u64,
    /// Pipeline-parallel stages
    #[arg(long, default_value_t = 1)]
    pp: u64,
    /// Model chunks per pipeline stage (interleaved 1F1B when above 1)
    #[arg(long, default_value_t = 1)]
    vpp: u64,
    /// Context-parallel size
    #[arg(long, default_value_t = 1)]
    cp: u64,
    /// Expert-parallel size (MoE models)
    #[arg(long, default_value_t = 1)]
    ep: u64,
    /// Data-parallel size (default: gpus / (tp·pp·cp))
    #[arg(long)]
    dp: Option<u64>,
    /// Sequence parallelism (norms and dropout split over the tensor-parallel ranks)
    #[arg(long)]
    sequence_parallel: bool,
    /// ZeRO stage: 0, 1, 2 or 3
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    zero: u8,
    /// PyTorch FSDP FULL_SHARD (ZeRO-3 sharding)
    #[arg(long)]
    fsdp: bool,
    /// Megatron's distributed optimizer (ZeRO-1 sharding)
    #[arg(long)]
    distributed_optimizer: bool,
    /// Activation recomputation: none, selective or full
    #[arg(long, default_value = "none", value_parser = crate::cli::parse_recompute)]
    recompute: Recompute,
    /// Flash attention (`--flash-attention false` for unfused softmax attention)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    flash_attention: bool,
    /// Dropout on attention and residuals (stores 1-byte masks)
    #[arg(long)]
    dropout: bool,
    /// Optimizer: adamw, adamw-8bit, sgd, adafactor, lion
    #[arg(long, default_value = "adamw", value_parser = parse_optimizer)]
    optimizer: Optimizer,
    /// Precision of the matrix products: bf16, fp16, fp8
    #[arg(long, default_value = "bf16", value_parser = parse_precision)]
    precision: Precision,
    /// Keep fp32 master weights (`--master-weights false`: pure 16-bit training)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    master_weights: bool,
    /// Step the optimizer in the backward pass, freeing each gradient at once
    #[arg(long)]
    optimizer_in_backward: bool,
    /// Model FLOPs utilization to use instead of the time model (0–1)
    #[arg(long)]
    mfu: Option<f64>,
    /// Training method: full, lora, qlora
    #[arg(long, default_value = "full", value_parser = ["full", "lora", "qlora"])]
    method: String,
    /// LoRA rank
    #[arg(long, default_value_t = 16)]
    lora_rank: u64,
    /// Adapted projections (QLoRA §4: all linear layers match full fine-tuning)
    #[arg(long, value_delimiter = ',', default_value = "q,k,v,o,gate,up,down", value_parser = parse_target)]
    lora_targets: Vec<Projection>,
    /// Element-wise kernels: fused (Megatron, Transformer Engine, torch.compile) or eager
    #[arg(long, default_value = "fused", value_parser = ["fused", "eager"])]
    kernels: String,
    /// Overlap tensor-parallel collectives with the products (Transformer Engine)
    #[arg(long)]
    overlap_tp: bool,
    /// Overlap data-parallel traffic with computation (`--overlap-dp false` to expose it)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    overlap_dp: bool,
    /// Overlap the expert-parallel all-to-all (DualPipe)
    #[arg(long)]
    overlap_ep: bool,
    /// GPUs per node sharing the GPU link
    #[arg(long, default_value_t = 8)]
    gpus_per_node: u64,
    /// Network bandwidth per GPU between nodes, Gb/s each way
    #[arg(long, default_value_t = 400.0)]
    inter_node_gbps: f64,
    /// Price per GPU-hour in US dollars (default: the catalog's)
    #[arg(long)]
    price: Option<f64>,
}

fn parse_optimizer(s: &str) -> Result<Optimizer, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Optimizer::ALL.iter().map(|o| o.name()).collect();
        format!(
            "`{s}` is not an optimizer (expected one of {})",
            names.join(", ")
        )
    })
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not a training precision (expected bf16, fp16 or fp8)"))
}

fn parse_target(s: &str) -> Result<Projection, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
        format!(
            "`{s}` is not a LoRA target (expected some of {})",
            names.join(",")
        )
    })
}

/// What `sizeup train` reports.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    /// The model and its architecture.
    pub model: ModelSummary,
    /// The request as understood.
    pub request: TrainRequest,
    /// The estimate, in base units, with its assumptions.
    pub estimate: TrainEstimate,
    /// Rules applied while reading the model.
    pub model_assumptions: Vec<Assumption>,
}

/// Estimate training.
pub fn run(args: &TrainArgs) -> Result<TrainReport, AppError> {
    let loaded = model::load(&args.model.model)?;
    let gpu: Accelerator = match &args.gpu_file {
        Some(path) => read_gpu_file(path)?,
        None => hardware::find(&args.gpu)?.clone(),
    };
    let model_parallel = args.tp.max(1) * args.pp.max(1) * args.cp.max(1);
    let dp = args.dp.unwrap_or(args.gpus / model_parallel).max(1);
    let global_batch = args.global_batch.unwrap_or(dp * args.micro_batch);
    let mut req = TrainRequest::new(args.gpus, args.seq_len, global_batch, args.micro_batch);
    req.tokens = args.tokens;
    req.layout = LayoutRequest {
        tp: args.tp,
        pp: args.pp,
        vpp: args.vpp,
        cp: args.cp,
        ep: args.ep,
        dp: args.dp,
        sequence_parallel: args.sequence_parallel,
        zero: ZeroStage::from_number(args.zero)?,
        fsdp: args.fsdp,
        distributed_optimizer: args.distributed_optimizer,
    };
    req.recompute = args.recompute;
    req.flash_attention = args.flash_attention;
    req.dropout = args.dropout;
    req.optimizer = args.optimizer;
    req.precision = args.precision;
    req.master_weights = args.master_weights;
    req.optimizer_in_backward = args.optimizer_in_backward;
    req.mfu = args.mfu;
    req.method = match args.method.as_str() {
        "lora" => Method::Lora {
            rank: args.lora_rank,
            targets: args.lora_targets.clone(),
        },
        "qlora" => Method::Qlora {
            rank: args.lora_rank,
            targets: args.lora_targets.clone(),
        },
        _ => Method::Full,
    };
    req.kernels = if args.kernels == "eager" {
        Kernels::Eager
    } else {
        Kernels::Fused
    };
    req.overlap.tensor_parallel = args.overlap_tp;
    req.overlap.data_parallel = args.overlap_dp;
    req.overlap.expert_parallel = args.overlap_ep;
    req.network.gpus_per_node = args.gpus_per_node;
    req.network.inter_node_bytes_per_sec = args.inter_node_gbps * 1e9 / 8.0;
    req.price_per_gpu_hour = args.price;
    let estimate = training::estimate(&loaded.arch, &gpu, &req)?;
    Ok(TrainReport {
        model: ModelSummary::new(&loaded),
        request: req,
        estimate,
        model_assumptions: loaded.assumptions,
    })
}

/// `3.56e18 FLOP`.
fn flops(x: f64) -> String {
    format!("{x:.3e} FLOP")
}

/// `160.6B tokens`.
fn tokens(x: f64) -> String {
    if x >= 1e12 {
        format!("{}T tokens", humanize::compact(x / 1e12))
    } else {
        format!("{} tokens", humanize::count_short(x))
    }
}

fn stage_name(stage: Option<Stage>) -> &'static str {
    match stage {
        Some(Stage::First) => "first pipeline stage",
        Some(Stage::Last) => "last pipeline stage",
        _ => "each GPU",
    }
}

impl Report for TrainReport {
    fn view(&self) -> View {
        let e = &self.estimate;
        let l = &e.layout;
        let m = &e.memory;
        let r = &self.request;
        let layout = format!(
            "tp {} · pp {}{} · cp {} · dp {}{}, ZeRO-{}{}",
            l.tp,
            l.pp,
            if l.vpp > 1 {
                format!(" (×{} chunks)", l.vpp)
            } else {
                String::new()
            },
            l.cp,
            l.dp,
            if l.ep > 1 {
                format!(" · ep {}", l.ep)
            } else {
                String::new()
            },
            l.zero.number(),
            if l.sp_active() {
                ", sequence parallel"
            } else {
                ""
            }
        );
        let mut mem = Table::new(
            Some(&format!(
                "{} ({}), {} on {}×{} ({layout}), micro-batch {} × {} tokens: memory on {}",
                self.model.name,
                self.model.description(),
                e.method.name(),
                r.gpus,
                e.accelerator,
                r.micro_batch,
                humanize::grouped(r.seq_len),
                stage_name(m.stage)
            )),
            &[
                ("item", "item"),
                ("bytes", "bytes"),
                ("share", "share_of_device"),
            ],
        );
        let cap = m.capacity_bytes as f64;
        let mut item = |name: &str, b: u64| {
            mem.row(vec![
                Cell::Text(name.into()),
                Cell::Bytes(b),
                Cell::Ratio(b as f64 / cap),
            ])
        };
        item("weights", m.weights_bytes);
        item("gradients", m.gradients_bytes);
        item("optimizer states", m.optimizer_states_bytes);
        item("activations", m.activations_bytes);
        item("logits and loss", m.logits_and_loss_bytes);
        item("communication buffers", m.communication_buffers_bytes);
        item("framework overhead", m.framework_overhead_bytes);
        item("total", m.total_bytes);
        if m.total_bytes > m.capacity_bytes {
            item("SHORT BY", m.total_bytes - m.capacity_bytes);
        } else {
            item("free", m.capacity_bytes - m.total_bytes);
        }

        let t = &e.time;
        let b = &t.breakdown;
        let mut speed = Table::new(
            Some(&format!(
                "One step: {} sequences ({} micro-batches per pipeline)",
                humanize::grouped(r.global_batch),
                l.micro_batches
            )),
            &[("quantity", "quantity"), ("value", "value")],
        );
        let mut row = |name: &str, c: Cell| speed.row(vec![Cell::Text(name.into()), c]);
        row(
            "model FLOPs per step",
            Cell::Text(flops(e.flops.model_flops_per_step)),
        );
        row(
            "hardware FLOPs per step",
            Cell::Text(flops(e.flops.hardware_flops_per_step)),
        );
        row("step time", Cell::Seconds(t.step_seconds));
        row(
            "  compute (slowest stage)",
            Cell::Seconds(b.compute_seconds),
        );
        row("  pipeline bubble", Cell::Seconds(b.bubble_seconds));
        row(
            "  exposed tensor-parallel comm",
            Cell::Seconds(b.tensor_parallel_seconds),
        );
        row(
            "  exposed context-parallel comm",
            Cell::Seconds(b.context_parallel_seconds),
        );
        row(
            "  exposed expert-parallel comm",
            Cell::Seconds(b.expert_parallel_seconds),
        );
        row("  pipeline sends", Cell::Seconds(b.pipeline_seconds));
        row(
            "  exposed data-parallel comm",
            Cell::Seconds(b.data_parallel_seconds),
        );
        row("  optimizer update", Cell::Seconds(b.optimizer_seconds));
        row("tokens/s", Cell::Number(t.tokens_per_second, "tokens/s"));
        row(
            "tokens/s per GPU",
            Cell::Number(t.tokens_per_second_per_gpu, "tokens/s"),
        );
        row("MFU", Cell::Ratio(t.mfu));
        row("HFU", Cell::Ratio(t.hfu));

        let mut run = Table::new(
            Some("The run"),
            &[("quantity", "quantity"), ("value", "value")],
        );
        let mut row = |name: &str, c: Cell| run.row(vec![Cell::Text(name.into()), c]);
        row("fits", Cell::Text(if e.fits { "yes" } else { "no" }.into()));
        row(
            "largest micro-batch that fits",
            e.largest_micro_batch
                .map_or(Cell::Text("none (not even 1)".into()), Cell::Exact),
        );
        row("training tokens", Cell::Text(tokens(e.tokens)));
        row(
            "compute-optimal tokens (20 per parameter)",
            Cell::Text(tokens(e.compute_optimal_tokens)),
        );
        row(
            "tokens per parameter",
            Cell::Number(e.tokens_per_parameter, ""),
        );
        row(
            "parameters (trainable)",
            Cell::Text(format!(
                "{} ({})",
                humanize::count(e.params_total),
                humanize::count(e.params_trainable)
            )),
        );
        row(
            "model FLOPs in all",
            Cell::Text(flops(e.flops.model_flops_total)),
        );
        row("steps", Cell::Exact(t.steps.ceil() as u64));
        row("wall time", Cell::Seconds(t.total_seconds));
        row("GPU-hours", Cell::Number(t.gpu_hours, "GPU-h"));
        if let Some(c) = t.cost_usd {
            row("cost", Cell::Number(c, "USD"));
        }

        let mut notes = Vec::new();
        if !e.fits {
            let mut ways = Vec::new();
            if r.recompute != Recompute::Full {
                ways.push("--recompute full".to_string());
            }
            if r.micro_batch > 1 {
                ways.push("a smaller --micro-batch".into());
            }
            if l.zero != ZeroStage::Zero3 && l.dp > 1 {
                ways.push("--zero 3 (or --fsdp)".into());
            }
            if r.optimizer == Optimizer::Adamw {
                ways.push("--optimizer adamw-8bit".into());
            }
            if matches!(r.method, Method::Full) {
                ways.push("--method lora or qlora".into());
            }
            ways.push("more GPUs with --tp or --pp".into());
            notes.push(format!(
                "does not fit: {} per GPU against {}; try {}",
                humanize::bytes(m.total_bytes, humanize::ByteUnits::Binary),
                humanize::bytes(m.capacity_bytes, humanize::ByteUnits::Binary),
                ways.join(", ")
            ));
        }
        notes.extend(model::assumption_notes(&e.assumptions));
        notes.extend(model::assumption_notes(&self.model_assumptions));
        View {
            tables: vec![mem, speed, run],
            notes,
        }
    }
}
