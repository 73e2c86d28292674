//! `sizeup train MODEL --gpu H100-SXM --gpus N`: memory per GPU, FLOPs, step time,
//! throughput, wall time and cost of training, for pre-training and fine-tuning.

use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::fit::{self, LongestFit, SeqLenStep};
use sizeup_core::training::kernels::Kernels;
use sizeup_core::training::lora::{Method, Projection};
use sizeup_core::training::loss::Loss;
use sizeup_core::training::parallel::{LayoutRequest, ZeroStage};
use sizeup_core::training::states::{Optimizer, OptimizerImpl, Precision, Stage};
use sizeup_core::training::verdict::{FitVerdict, FIT_MARGIN, READING_RATIO};
use sizeup_core::training::{self, MemoryPerGpu, TrainEstimate, TrainRequest};
use sizeup_core::Assumption;

use crate::cli::{DeviceArgs, ModelArg};
use crate::error::AppError;
use crate::humanize::{self, ByteUnits};
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup train`: the model, the devices and the training flags.
#[derive(Debug, Args, Serialize)]
pub struct TrainArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    #[serde(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub train: TrainFlags,
    /// Also search the longest --seq-len that fits (every other flag held), and
    /// print the memory there and at the next step, which does not fit
    #[arg(long)]
    pub max_seq_len: bool,
    /// Lengths the --max-seq-len search tries: multiples of N tokens, or `pow2`
    #[arg(long, value_name = "N|pow2", default_value = "256", value_parser = parse_seq_len_step, requires = "max_seq_len")]
    #[serde(serialize_with = "crate::api::text")]
    pub seq_len_step: SeqLenStep,
}

fn parse_seq_len_step(s: &str) -> Result<SeqLenStep, String> {
    if s.eq_ignore_ascii_case("pow2") {
        return Ok(SeqLenStep::PowerOfTwo);
    }
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(SeqLenStep::Multiple(n)),
        _ => Err(format!(
            "`{s}` is not a step (expected a number of tokens ≥ 1, or `pow2`)"
        )),
    }
}

/// The training flags besides the devices, shared by `train` and `sweep`;
/// [`TrainFlags::request`] turns them, with the devices, into a request.
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
pub struct TrainFlags {
    /// Training tokens, e.g. `15.6T`, `2e12`, `300B` (default: 20 per parameter, Hoffmann et al. 2022)
    #[arg(long, value_parser = crate::door::TRAINING_TOKENS)]
    pub tokens: Option<u64>,
    /// Sequence length, e.g. `4096` or `8k`
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "4096")]
    pub seq_len: u64,
    /// Sequences per optimizer step (default: one micro-batch per data-parallel rank)
    #[arg(long, value_parser = crate::door::SEQUENCES)]
    pub global_batch: Option<u64>,
    /// Sequences per micro-batch
    #[arg(long, value_parser = crate::door::SEQUENCES, default_value_t = 1)]
    pub micro_batch: u64,
    /// Model chunks per pipeline stage (interleaved 1F1B when above 1)
    #[arg(long, value_parser = crate::door::DEVICES, default_value_t = 1)]
    pub vpp: u64,
    /// Context-parallel size
    #[arg(long, value_parser = crate::door::DEVICES, default_value_t = 1)]
    pub cp: u64,
    /// Data-parallel size (default: gpus / (tp·pp·cp))
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub dp: Option<u64>,
    /// Sequence parallelism (norms and dropout split over the tensor-parallel ranks)
    #[arg(long)]
    pub sequence_parallel: bool,
    /// ZeRO stage: 0, 1, 2 or 3
    #[arg(long, default_value_t = 0, value_parser = crate::door::zero_stage())]
    pub zero: u8,
    /// PyTorch FSDP FULL_SHARD (ZeRO-3 sharding)
    #[arg(long)]
    pub fsdp: bool,
    /// Megatron's distributed optimizer (ZeRO-1 sharding)
    #[arg(long)]
    pub distributed_optimizer: bool,
    /// Activation recomputation: none, selective (Korthikanti's attention core), full, or
    /// op-selective (torchtitan's operator-level policy: every other product kept)
    #[arg(long, default_value = "none", value_parser = crate::cli::parse_recompute)]
    pub recompute: Recompute,
    /// Flash attention (`--flash-attention false` for unfused softmax attention)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub flash_attention: bool,
    /// Dropout on attention and residuals (stores 1-byte masks)
    #[arg(long)]
    pub dropout: bool,
    /// Optimizer: adamw, adamw-8bit, sgd, adafactor, lion
    #[arg(long, default_value = "adamw", value_parser = parse_optimizer)]
    pub optimizer: Optimizer,
    /// Precision of the matrix products: bf16, fp16, fp8
    #[arg(long, default_value = "bf16", value_parser = parse_precision)]
    pub precision: Precision,
    /// Keep fp32 master weights (`--master-weights false`: pure 16-bit training)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub master_weights: bool,
    /// Step the optimizer in the backward pass, freeing each gradient at once
    #[arg(long)]
    pub optimizer_in_backward: bool,
    /// Who holds gradients and optimizer states: standard (the precision's convention:
    /// Megatron-LM, PyTorch, DeepSpeed ZeRO) or deepspeed-bf16 (DeepSpeed's BF16_Optimizer,
    /// bf16 with --zero 1: bf16 gradients and an fp32 copy kept whole, 2 + 6 + 12/dp bytes
    /// per parameter)
    #[arg(long, default_value = "standard", value_parser = parse_optimizer_impl)]
    pub optimizer_impl: OptimizerImpl,
    /// Model FLOPs utilization to use instead of the time model (0–1)
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub mfu: Option<f64>,
    /// Training method: full, lora, qlora
    #[arg(long, default_value = "full", value_parser = ["full", "lora", "qlora"])]
    pub method: String,
    /// LoRA rank
    #[arg(long, value_parser = crate::door::RANK, default_value_t = 16)]
    pub lora_rank: u64,
    /// Adapted projections (QLoRA §4: all linear layers match full fine-tuning)
    #[arg(long, value_delimiter = ',', default_value = "q,k,v,o,gate,up,down", value_parser = parse_target)]
    pub lora_targets: Vec<Projection>,
    /// QLoRA: cast the unquantized parameters (embeddings, head, norms) to fp32, as
    /// PEFT's prepare_model_for_kbit_training does (TRL, transformers recipes); false
    /// for stacks that keep them 16-bit (Unsloth, axolotl)
    #[arg(long, default_value_t = sizeup_core::training::lora::QLORA_UPCAST_DEFAULT, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub qlora_upcast: bool,
    /// Element-wise kernels: fused (Megatron, Transformer Engine, torch.compile) or eager
    #[arg(long, default_value = "fused", value_parser = ["fused", "eager"])]
    pub kernels: String,
    /// Logits and loss: eager (transformers' fp32 upcast + cross_entropy), fused
    /// (in-place fp32 softmax, Megatron), `chunked[:N]` (N token chunks, default 8;
    /// Liger, Unsloth, torchtune) or deepspeed-pipeline (Megatron-DeepSpeed on
    /// DeepSpeed's pipeline engine, which keeps the fp32 logits of the last 2
    /// micro-batches); default: eager with --kernels eager, else fused
    #[arg(long, value_parser = parse_loss)]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub loss: Option<Loss>,
    /// Overlap tensor-parallel collectives with the products (Transformer Engine)
    #[arg(long)]
    pub overlap_tp: bool,
    /// Overlap data-parallel traffic with computation (`--overlap-dp false` to expose it)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub overlap_dp: bool,
    /// Overlap the expert-parallel all-to-all (DualPipe)
    #[arg(long)]
    pub overlap_ep: bool,
    /// GPUs per node sharing the GPU link [default: the accelerator's node, else 8]
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub gpus_per_node: Option<u64>,
    /// Network bandwidth per GPU between nodes, Gb/s each way [default: the
    /// accelerator's node (DGX H100: 400), else 100]
    #[arg(long, value_parser = crate::door::GBPS)]
    pub inter_node_gbps: Option<f64>,
}

/// Parse an optimizer name.
pub fn parse_optimizer(s: &str) -> Result<Optimizer, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = Optimizer::ALL.iter().map(|o| o.name()).collect();
        format!(
            "`{s}` is not an optimizer (expected one of {})",
            names.join(", ")
        )
    })
}

/// Parse an optimizer implementation.
pub fn parse_optimizer_impl(s: &str) -> Result<OptimizerImpl, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = OptimizerImpl::ALL.iter().map(|o| o.name()).collect();
        format!(
            "`{s}` is not an optimizer implementation (expected one of {})",
            names.join(", ")
        )
    })
}

/// Parse a training precision.
pub fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not a training precision (expected bf16, fp16 or fp8)"))
}

fn parse_loss(s: &str) -> Result<Loss, String> {
    let t = s.trim().to_ascii_lowercase();
    match t.split_once(':') {
        Some(("chunked", n)) => Ok(Loss::Chunked(crate::door::LOSS_CHUNKS.parse(n)?)),
        _ => t.parse().map_err(|_| {
            format!("`{s}` is not a loss implementation (expected eager, fused, chunked[:N] or deepspeed-pipeline)")
        }),
    }
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
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct TrainReport {
    /// The model and its architecture.
    pub model: ModelSummary,
    /// The request as understood.
    pub request: TrainRequest,
    /// The estimate, in base units, with its assumptions.
    pub estimate: TrainEstimate,
    /// Rules applied while reading the model.
    pub model_assumptions: Vec<Assumption>,
    /// The longest sequence that fits (`--max-seq-len`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_fit: Option<LongestFit>,
}

impl TrainFlags {
    /// The request these flags describe on `device`.
    ///
    /// # Errors
    /// A ZeRO stage above 3.
    pub fn request(&self, device: &DeviceArgs) -> Result<TrainRequest, AppError> {
        let gpus = device.gpus.unwrap_or(1);
        let tp = device.tp.unwrap_or(1);
        let pp = device.pp.unwrap_or(1);
        let model_parallel = tp.max(1) * pp.max(1) * self.cp.max(1);
        let dp = self.dp.unwrap_or(gpus / model_parallel).max(1);
        let global_batch = self.global_batch.unwrap_or(dp * self.micro_batch);
        let mut req = TrainRequest::new(gpus, self.seq_len, global_batch, self.micro_batch);
        req.tokens = self.tokens;
        req.layout = LayoutRequest {
            tp,
            pp,
            vpp: self.vpp,
            cp: self.cp,
            ep: device.ep.unwrap_or(1),
            dp: self.dp,
            sequence_parallel: self.sequence_parallel,
            zero: ZeroStage::from_number(self.zero)?,
            fsdp: self.fsdp,
            distributed_optimizer: self.distributed_optimizer,
        };
        req.recompute = self.recompute;
        req.flash_attention = self.flash_attention;
        req.dropout = self.dropout;
        req.optimizer = self.optimizer;
        req.precision = self.precision;
        req.master_weights = self.master_weights;
        req.optimizer_in_backward = self.optimizer_in_backward;
        req.optimizer_impl = self.optimizer_impl;
        req.mfu = self.mfu;
        req.method = match self.method.as_str() {
            "lora" => Method::Lora {
                rank: self.lora_rank,
                targets: self.lora_targets.clone(),
            },
            "qlora" => Method::Qlora {
                rank: self.lora_rank,
                targets: self.lora_targets.clone(),
                upcast: self.qlora_upcast,
            },
            _ => Method::Full,
        };
        req.kernels = if self.kernels == "eager" {
            Kernels::Eager
        } else {
            Kernels::Fused
        };
        req.loss = self.loss;
        req.overlap.tensor_parallel = self.overlap_tp;
        req.overlap.data_parallel = self.overlap_dp;
        req.overlap.expert_parallel = self.overlap_ep;
        req.network.gpus_per_node = self.gpus_per_node;
        req.network.inter_node_bytes_per_sec = self.inter_node_gbps.map(|g| g * 1e9 / 8.0);
        req.price_per_gpu_hour = device.price;
        Ok(req)
    }
}

/// Estimate training.
pub fn run(args: &TrainArgs) -> Result<TrainReport, AppError> {
    let loaded = model::load(&args.model)?;
    let gpu = args.device.accelerator()?;
    let req = args.train.request(&args.device)?;
    let estimate = training::estimate(&loaded.arch, &gpu, &req)?;
    let longest_fit = if args.max_seq_len {
        Some(fit::longest_seq_len(
            &loaded.arch,
            &gpu,
            &req,
            args.seq_len_step,
        )?)
    } else {
        None
    };
    Ok(TrainReport {
        model: ModelSummary::new(&loaded),
        request: req,
        estimate,
        model_assumptions: loaded.assumptions,
        longest_fit,
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
    fn view(&self, units: ByteUnits) -> View {
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
        for (name, b, at_peak) in m.shown_items() {
            if at_peak {
                item(name, b);
            } else {
                item(&format!("{name} (not at the peak)"), b);
            }
        }
        item("total at the peak", m.total_bytes);
        if m.total_bytes <= m.capacity_bytes {
            // the caching allocator keeps what it frees, up to the device's memory
            item(
                &format!("  as nvidia-smi shows it (≈{READING_RATIO:.2}×, at most all)"),
                ((m.total_bytes as f64 * READING_RATIO) as u64).min(m.capacity_bytes),
            );
        }
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
        for (name, seconds) in b.parts() {
            let name = if name == "compute" {
                "  compute (slowest stage)".to_string()
            } else {
                format!("  {name}")
            };
            row(&name, Cell::Seconds(seconds));
        }
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
        row("fits", Cell::Text(e.verdict.word().into()));
        row(
            "largest micro-batch that fits",
            e.largest_micro_batch
                .map_or(Cell::Text("none (not even 1)".into()), Cell::Exact),
        );
        row(
            &format!("  with the {:.0}% margin to spare", FIT_MARGIN * 100.0),
            e.largest_micro_batch_with_margin
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
        if e.verdict != FitVerdict::Fits {
            let mut ways = Vec::new();
            if r.recompute != Recompute::Full {
                ways.push("--recompute full".to_string());
            }
            if r.micro_batch > 1 {
                ways.push("a smaller --micro-batch".into());
            }
            if !matches!(r.loss(), Loss::Chunked(_))
                && m.logits_and_loss_bytes >= m.total_bytes / 10
            {
                ways.push("--loss chunked (a fused linear cross-entropy)".into());
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
            let verdict = match e.verdict {
                FitVerdict::Tight => format!(
                    "tight, may run out of memory: {} per GPU counted against {}, inside the {:.0}% margin a fit leaves for the memory the count leaves out",
                    humanize::bytes(m.total_bytes, units),
                    humanize::bytes(m.capacity_bytes, units),
                    FIT_MARGIN * 100.0
                ),
                _ => format!(
                    "does not fit: {} per GPU against {}",
                    humanize::bytes(m.total_bytes, units),
                    humanize::bytes(m.capacity_bytes, units),
                ),
            };
            notes.push(format!("{verdict}; try {}", ways.join(", ")));
        }
        notes.extend(model::assumption_notes(&e.assumptions));
        notes.extend(model::assumption_notes(&self.model_assumptions));
        let mut tables = vec![mem, speed, run];
        if let Some(f) = &self.longest_fit {
            let (table, note) = longest_fit_view(f);
            tables.push(table);
            notes.push(note);
        }
        View { tables, notes }
    }
}

fn memory_items(m: &MemoryPerGpu) -> [(&'static str, u64); 9] {
    let [a, b, c, d, e, f, g, h] = m.items().map(|(name, bytes, _)| (name, bytes));
    [a, b, c, d, e, f, g, h, ("total at the peak", m.total_bytes)]
}

/// The `--max-seq-len` table: memory at the answer and at the next step.
fn longest_fit_view(f: &LongestFit) -> (Table, String) {
    let steps = match f.step {
        SeqLenStep::Multiple(n) => format!("multiples of {}", humanize::grouped(n)),
        SeqLenStep::PowerOfTwo => "powers of two".into(),
    };
    // the longest with the margin, where it is shorter than the longest
    let safe = f
        .longest_with_margin
        .as_ref()
        .filter(|m| f.longest.as_ref().is_some_and(|a| a.seq_len != m.seq_len));
    let tight_from = f
        .longest
        .as_ref()
        .filter(|a| a.memory.verdict() == FitVerdict::Tight);
    let title = match &f.longest {
        Some(a) if tight_from.is_some() => format!(
            "Longest sequence that fits ({steps}, micro-batch {}): {} tokens, tight; {} with the {:.0}% margin to spare",
            f.micro_batch,
            humanize::grouped(a.seq_len),
            f.longest_with_margin
                .as_ref()
                .map_or("none".into(), |m| format!("{} tokens", humanize::grouped(m.seq_len))),
            FIT_MARGIN * 100.0
        ),
        Some(a) => format!(
            "Longest sequence that fits ({steps}, micro-batch {}): {} tokens",
            f.micro_batch,
            humanize::grouped(a.seq_len)
        ),
        None => format!(
            "Longest sequence that fits ({steps}, micro-batch {}): none",
            f.micro_batch
        ),
    };
    let mut cols: Vec<(String, String)> = vec![("item".into(), "item".into())];
    let mut at: Vec<&fit::AtLength> = Vec::new();
    if let Some(m) = safe {
        cols.push((
            format!("at {} (fits with the margin)", humanize::grouped(m.seq_len)),
            format!("bytes_at_{}", m.seq_len),
        ));
        at.push(m);
    }
    if let Some(a) = &f.longest {
        let verdict = if tight_from.is_some() {
            "tight"
        } else {
            "fits"
        };
        cols.push((
            format!("at {} ({verdict})", humanize::grouped(a.seq_len)),
            format!("bytes_at_{}", a.seq_len),
        ));
        at.push(a);
    }
    if let Some(a) = &f.next {
        cols.push((
            format!("at {} (does not fit)", humanize::grouped(a.seq_len)),
            format!("bytes_at_{}", a.seq_len),
        ));
        at.push(a);
    }
    let col_refs: Vec<(&str, &str)> = cols.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut table = Table::new(Some(&title), &col_refs);
    for i in 0..memory_items(&at[0].memory).len() {
        let mut row = vec![Cell::Text(memory_items(&at[0].memory)[i].0.into())];
        row.extend(at.iter().map(|a| Cell::Bytes(memory_items(&a.memory)[i].1)));
        table.row(row);
    }
    let mut row = vec![Cell::Text("capacity".into())];
    row.extend(at.iter().map(|a| Cell::Bytes(a.memory.capacity_bytes)));
    table.row(row);
    let mut row = vec![Cell::Text("largest micro-batch that fits".into())];
    row.extend(at.iter().map(|a| {
        a.largest_micro_batch
            .map_or(Cell::Text("none".into()), Cell::Exact)
    }));
    table.row(row);
    let mut note = format!(
        "--max-seq-len: the same memory model at each length tried, {steps} up to {} tokens; memory grows with the length, so the lengths that fit come first",
        humanize::grouped(fit::SEQ_LEN_LIMIT)
    );
    match &f.longest {
        Some(a) if a.seq_len > f.model_context => note.push_str(&format!(
            "; {} tokens is past the model's own context of {} (max_position_embeddings)",
            humanize::grouped(a.seq_len),
            humanize::grouped(f.model_context)
        )),
        Some(_) if f.next.is_none() => note.push_str("; every length up to the limit fits"),
        _ => {}
    }
    (table, note)
}
