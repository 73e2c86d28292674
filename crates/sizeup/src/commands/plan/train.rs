//! `sizeup plan train MODEL --gpus N --gpu G --seq-len S --global-batch B --tokens T`
//! walks every training layout (see [`sizeup_core::plan::space`]), keeps those
//! that fit and divide, and ranks them by wall time or cost. Each candidate is
//! priced by the same `training::estimate` as `sizeup train`, and the report
//! carries the `sizeup train` flags that reproduce each of its rows.

use std::borrow::Cow;
use std::time::Instant;

use clap::{ArgAction, Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sizeup_core::hardware::Accelerator;
use sizeup_core::plan::space::ZERO_STAGES;
use sizeup_core::plan::{self, Candidate, PlanRequest, RankBy, Space, TrainPlan};
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::states::{Optimizer, OptimizerImpl, Precision};
use sizeup_core::training::{self, TrainEstimate, TrainRequest};

use super::{accelerators, gpus_text, parse_gpus, GpuCounts, TIME_LIMIT_SECONDS};
use crate::cli::{DeviceArgs, ModelArg};
use crate::commands::train::TrainFlags;
use crate::error::AppError;
use crate::humanize::{self, ByteUnits};
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// What the plan ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum By {
    /// Wall time for the training tokens
    Time,
    /// US dollars for the training tokens (GPU-hours · price)
    Cost,
}

/// Flags of `sizeup plan train`.
#[derive(Debug, Args, Serialize)]
pub struct PlanTrainArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// Accelerators to try, comma-separated (`sizeup gpus` lists them)
    #[arg(long, value_delimiter = ',', default_value = "H100-SXM")]
    pub gpu: Vec<String>,
    /// GPU counts to try: `64`, a list `64,128,256`, or a range as `--vary` takes it (`64..1024` doubles, `8..64:8` adds 8, `64..512*2`)
    #[arg(long, value_parser = parse_gpus)]
    #[serde(serialize_with = "crate::api::text")]
    pub gpus: GpuCounts,
    /// Price per GPU-hour in US dollars for every accelerator (default: the catalog's)
    #[arg(long, value_parser = crate::door::PRICE)]
    pub price: Option<f64>,
    /// Rank by wall time or by cost
    #[arg(long, value_enum, default_value_t = By::Time)]
    pub by: By,
    /// How many layouts to show
    #[arg(long, value_parser = crate::door::TOP, default_value_t = 5)]
    pub top: u64,
    /// Search even when the space would take more than a minute
    #[arg(long)]
    pub allow_long: bool,
    /// The longest search accepted without `--allow-long`, in seconds: a minute on
    /// the command line, less where a server sets its own deadline
    #[arg(skip = TIME_LIMIT_SECONDS)]
    #[serde(skip)]
    pub time_limit_seconds: f64,
    /// Tensor-parallel sizes allowed (default: every divisor of the heads and GPUs)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub tp: Vec<u64>,
    /// Pipeline stages allowed (default: every divisor up to the layers)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub pp: Vec<u64>,
    /// Chunks per pipeline stage allowed (default: every divisor of a stage's layers)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub vpp: Vec<u64>,
    /// Context-parallel sizes allowed (default: every divisor of the sequence)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub cp: Vec<u64>,
    /// Expert-parallel sizes allowed (default: every divisor of the experts and dp)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub ep: Vec<u64>,
    /// Micro-batches allowed (default: every divisor of B/dp)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::SEQUENCES)]
    pub micro_batch: Vec<u64>,
    /// Recomputation modes allowed: none, selective, full, op-selective (default: none,
    /// selective and full; op-selective, torchtitan's operator-level policy, by name)
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::parse_recompute)]
    pub recompute: Vec<Recompute>,
    /// ZeRO stages allowed, 0–3 (default: all; FSDP is ZeRO-3, Megatron's distributed optimizer ZeRO-1)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::zero_stage())]
    pub zero: Vec<u8>,
    /// Training tokens, e.g. `15.6T`, `300B` (default: 20 per parameter)
    #[arg(long, value_parser = crate::door::TRAINING_TOKENS)]
    pub tokens: Option<u64>,
    /// Sequence length, e.g. `4096` or `8k`
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "4096")]
    pub seq_len: u64,
    /// Sequences per optimizer step
    #[arg(long, value_parser = crate::door::SEQUENCES)]
    pub global_batch: u64,
    /// Optimizer: adamw, adamw-8bit, sgd, adafactor, lion
    #[arg(long, default_value = "adamw", value_parser = crate::commands::train::parse_optimizer)]
    pub optimizer: Optimizer,
    /// Precision of the matrix products: bf16, fp16, fp8
    #[arg(long, default_value = "bf16", value_parser = crate::commands::train::parse_precision)]
    pub precision: Precision,
    /// Flash attention (`--flash-attention false` for unfused softmax attention)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub flash_attention: bool,
    /// Overlap tensor-parallel collectives with the products (Transformer Engine)
    #[arg(long)]
    pub overlap_tp: bool,
    /// GPUs per node sharing the GPU link [default: the accelerator's node, else 8]
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub gpus_per_node: Option<u64>,
    /// Network bandwidth per GPU between nodes, Gb/s each way [default: the
    /// accelerator's node (DGX H100: 400), else 100]
    #[arg(long, value_parser = crate::door::GBPS)]
    pub inter_node_gbps: Option<f64>,
}

/// One row of the plan: the layout, its estimate, and the `sizeup train` flags
/// that reproduce it.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct PlanRow {
    /// 1 for the winner.
    pub rank: usize,
    /// The layout.
    pub candidate: Candidate,
    /// The accelerator.
    pub accelerator: String,
    /// `sizeup train` arguments (after the model) giving the same numbers.
    pub train_args: Vec<String>,
    /// The estimate, as `sizeup train` reports it.
    pub estimate: TrainEstimate,
}

/// How fast the search went (this run, this machine).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct SearchSpeed {
    /// Wall seconds of the search.
    pub seconds: f64,
    /// Candidates decided per second.
    pub layouts_per_second: f64,
}

/// What `sizeup plan train` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct PlanTrainReport {
    /// The model.
    pub model: ModelSummary,
    /// What was asked (the space and the fixed part of the request).
    pub request: PlanRequest,
    /// The best layouts, best first.
    pub rows: Vec<PlanRow>,
    /// The search: space, tally, ranking.
    pub plan: PlanSummary,
    /// How fast it went.
    pub speed: SearchSpeed,
    /// What the search cannot vary because the estimate does not model it.
    pub not_searched: Vec<Cow<'static, str>>,
}

/// The plan without its entries (they are in `rows`).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct PlanSummary {
    /// The ranking.
    pub by: RankBy,
    /// The accelerators.
    pub accelerators: Vec<String>,
    /// Candidates in the space.
    pub space: plan::space::SpaceCount,
    /// What happened to them.
    pub tally: plan::train::Tally,
}

/// What `training::estimate` does not model, so the plan cannot search it.
pub const NOT_SEARCHED: &[&str] = &[
    "optimizer-state or parameter offload to CPU/NVMe (ZeRO-Offload, ZeRO-Infinity)",
    "activation offload",
    "ZeRO++ / hierarchical (hybrid) sharding",
    "zero-bubble and DualPipe pipeline schedules",
    "expert-tensor parallelism and uneven pipeline splits",
    "FSDP and Megatron's distributed optimizer beyond their ZeRO-3 / ZeRO-1 sharding",
];

/// Estimates timed to predict the search's length.
const CALIBRATION_CALLS: u32 = 32;

impl PlanTrainArgs {
    /// The `sizeup train` flags for everything but the layout, and the device.
    fn flags(&self) -> TrainFlags {
        TrainFlags {
            tokens: self.tokens,
            seq_len: self.seq_len,
            global_batch: Some(self.global_batch),
            micro_batch: 1,
            vpp: 1,
            cp: 1,
            dp: None,
            sequence_parallel: false,
            zero: 0,
            fsdp: false,
            distributed_optimizer: false,
            recompute: Recompute::None,
            flash_attention: self.flash_attention,
            dropout: false,
            optimizer: self.optimizer,
            precision: self.precision,
            master_weights: true,
            optimizer_in_backward: false,
            optimizer_impl: OptimizerImpl::Standard,
            mfu: None,
            method: "full".into(),
            lora_rank: 16,
            lora_targets: Vec::new(),
            qlora_upcast: sizeup_core::training::lora::QLORA_UPCAST_DEFAULT,
            kernels: "fused".into(),
            loss: None,
            overlap_tp: self.overlap_tp,
            overlap_dp: true,
            overlap_ep: false,
            gpus_per_node: self.gpus_per_node,
            inter_node_gbps: self.inter_node_gbps,
        }
    }

    fn device(&self, gpus: u64) -> DeviceArgs {
        DeviceArgs {
            gpu: self.gpu.first().cloned().unwrap_or_default(),
            gpu_file: None,
            gpus: Some(gpus),
            tp: None,
            pp: None,
            ep: None,
            price: self.price,
        }
    }

    fn space(&self) -> Space {
        let list = |v: &Vec<u64>| (!v.is_empty()).then(|| v.clone());
        let mut space = Space::new(self.gpus.0.clone());
        space.tp = list(&self.tp);
        space.pp = list(&self.pp);
        space.vpp = list(&self.vpp);
        space.cp = list(&self.cp);
        space.ep = list(&self.ep);
        space.micro_batch = list(&self.micro_batch);
        if !self.recompute.is_empty() {
            space.recompute = Recompute::ALL
                .into_iter()
                .filter(|r| self.recompute.contains(r))
                .collect();
        } else if self.flash_attention {
            // selective recomputation drops the s×s score tensors, which flash
            // attention never stores: the same memory and time as none, a twin row
            space.recompute = vec![Recompute::None, Recompute::Full];
        }
        if !self.zero.is_empty() {
            space.zero = ZERO_STAGES
                .into_iter()
                .filter(|z| self.zero.contains(&z.number()))
                .collect();
        }
        space
    }

    /// The `sizeup train` arguments (after the model) for a candidate.
    pub fn train_args(&self, c: &Candidate, accelerator: &str) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |flag: &str, v: String| {
            a.push(flag.to_string());
            a.push(v);
        };
        push("--gpu", accelerator.to_string());
        push("--gpus", c.gpus.to_string());
        push("--tp", c.tp.to_string());
        push("--pp", c.pp.to_string());
        push("--vpp", c.vpp.to_string());
        push("--cp", c.cp.to_string());
        push("--ep", c.ep.to_string());
        push("--dp", c.dp.to_string());
        push("--micro-batch", c.micro_batch.to_string());
        push("--global-batch", self.global_batch.to_string());
        push("--seq-len", self.seq_len.to_string());
        push("--recompute", c.recompute.name().to_string());
        push("--zero", c.zero.number().to_string());
        if let Some(t) = self.tokens {
            push("--tokens", t.to_string());
        }
        if let Some(p) = self.price {
            push("--price", p.to_string());
        }
        push("--optimizer", self.optimizer.name().to_string());
        push("--precision", self.precision.name().to_string());
        push("--flash-attention", self.flash_attention.to_string());
        if let Some(g) = self.gpus_per_node {
            push("--gpus-per-node", g.to_string());
        }
        if let Some(g) = self.inter_node_gbps {
            push("--inter-node-gbps", g.to_string());
        }
        if c.sequence_parallel {
            a.push("--sequence-parallel".into());
        }
        if self.overlap_tp {
            a.push("--overlap-tp".into());
        }
        a
    }
}

/// Predict the search's wall seconds from a few timed estimates: an upper
/// bound, as if no candidate were pruned by memory.
fn predicted_seconds(
    arch: &sizeup_core::Architecture,
    acc: &Accelerator,
    base: &TrainRequest,
    candidates: u64,
) -> f64 {
    let mut req = base.clone();
    req.gpus = 1;
    req.global_batch = 1;
    req.layout = Default::default();
    let start = Instant::now();
    for _ in 0..CALIBRATION_CALLS {
        let _ = training::estimate_point(arch, acc, &req);
    }
    let per_call = start.elapsed().as_secs_f64() / f64::from(CALIBRATION_CALLS);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    per_call * candidates as f64 / threads
}

/// Search the training layouts and rank those that fit.
pub fn run_train(args: &PlanTrainArgs) -> Result<PlanTrainReport, AppError> {
    let loaded = model::load(&args.model)?;
    let accs = accelerators(&args.gpu)?;
    let first_gpus = args.gpus.0.first().copied().unwrap_or(1);
    let base = args.flags().request(&args.device(first_gpus))?;
    let req = PlanRequest {
        base,
        space: args.space(),
        by: match args.by {
            By::Time => RankBy::Time,
            By::Cost => RankBy::Cost,
        },
        top: args.top as usize,
    };
    let count = plan::train::count(&loaded.arch, accs.len(), &req);
    if count.candidates == 0 {
        return Err(empty_space(args, &count));
    }
    if !args.allow_long {
        let seconds = predicted_seconds(&loaded.arch, &accs[0], &req.base, count.candidates);
        let limit = args.time_limit_seconds;
        if seconds > limit {
            return Err(AppError::Usage {
                flag: "--gpus",
                value: gpus_text(&args.gpus.0),
                problem: format!(
                    "the space holds {} layouts: up to about {:.0} s to search here if none were ruled out by memory (more than {limit:.0} s)",
                    humanize::grouped(count.candidates),
                    seconds
                ),
                hint: Some(
                    "narrow it: fewer `--gpus` or `--gpu` values, or fix axes with `--tp 8`, `--pp 1,2,4`, `--micro-batch 1,2`, `--recompute selective`, `--zero 1`; or pass `--allow-long`"
                        .into(),
                ),
            });
        }
    }
    let start = Instant::now();
    let found = plan::search(&loaded.arch, &accs, &req)?;
    let seconds = start.elapsed().as_secs_f64();
    if found.top.is_empty() {
        return Err(nothing_fits(args, &found, seconds));
    }
    let rows = found
        .top
        .iter()
        .enumerate()
        .map(|(i, e)| PlanRow {
            rank: i + 1,
            candidate: e.candidate,
            accelerator: e.accelerator.clone(),
            train_args: args.train_args(&e.candidate, &e.accelerator),
            estimate: e.estimate.clone(),
        })
        .collect();
    Ok(PlanTrainReport {
        model: ModelSummary::new(&loaded),
        request: req,
        rows,
        plan: PlanSummary {
            by: found.by,
            accelerators: found.accelerators,
            space: found.space,
            tally: found.tally,
        },
        speed: SearchSpeed {
            seconds,
            layouts_per_second: found.tally.evaluated as f64 / seconds.max(1e-9),
        },
        not_searched: NOT_SEARCHED.iter().map(|&s| s.into()).collect(),
    })
}

fn empty_space(args: &PlanTrainArgs, count: &plan::space::SpaceCount) -> AppError {
    let problem = if count.groups_batch_indivisible > 0 {
        format!(
            "no layout divides: {} tp·pp·cp·dp splits leave a data-parallel size that does not divide the global batch {}",
            count.groups_batch_indivisible, args.global_batch
        )
    } else {
        "no tp·pp·cp split divides both the GPU count and the model (heads, KV heads, layers, sequence) under the allowed axes".into()
    };
    AppError::Usage {
        flag: "--gpus",
        value: gpus_text(&args.gpus.0),
        problem,
        hint: Some(format!(
            "use a `--global-batch` that is a multiple of the GPU count (e.g. {}), GPU counts that are powers of two, or loosen `--tp`/`--pp`/`--cp`/`--micro-batch`",
            args.gpus.0.iter().max().copied().unwrap_or(1).saturating_mul(4)
        )),
    }
}

fn nothing_fits(args: &PlanTrainArgs, found: &TrainPlan, seconds: f64) -> AppError {
    let t = found.tally;
    let Some(miss) = &found.nearest_miss else {
        return AppError::Usage {
            flag: "--gpus",
            value: args
                .gpus
                .0
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            problem: format!("none of the {} layouts could be priced", t.evaluated),
            hint: None,
        };
    };
    let m = &miss.estimate.memory;
    let short = m.total_bytes.saturating_sub(m.capacity_bytes);
    let states = m.weights_bytes + m.gradients_bytes + m.optimizer_states_bytes;
    let what = if states >= m.activations_bytes {
        format!(
            "model states ({}) dominate: more GPUs shard them (ZeRO-3 over a larger dp, or more tp·pp), or `--optimizer adamw-8bit`",
            humanize::bytes(states, ByteUnits::Binary)
        )
    } else {
        format!(
            "activations ({}) dominate: a shorter `--seq-len`, or more GPUs for context parallelism",
            humanize::bytes(m.activations_bytes, ByteUnits::Binary)
        )
    };
    // With the states sharded over `k` times the GPUs (ZeRO-3 over a larger dp)
    // and the rest unchanged, the need falls to rest + states/k.
    let rest = m.total_bytes.saturating_sub(states);
    let more = match m.capacity_bytes.checked_sub(rest) {
        Some(room) if room > 0 && states > 0 => {
            let k = states.div_ceil(room).next_power_of_two().max(2);
            format!(
                "; sharding the states over {k}× the GPUs would fit this layout: try `--gpus {}`",
                miss.candidate.gpus.saturating_mul(k)
            )
        }
        _ => String::new(),
    };
    AppError::Usage {
        flag: "--gpus",
        value: gpus_text(&args.gpus.0),
        problem: format!(
            "nothing fits: all {} layouts evaluated ({} kept, {:.0} layouts/s) exceed the GPU memory; the nearest miss, {} on {}×{}, needs {} per GPU against {} (short by {})",
            humanize::grouped(t.evaluated),
            t.kept,
            t.evaluated as f64 / seconds.max(1e-9),
            layout_text(&miss.candidate),
            miss.candidate.gpus,
            miss.accelerator,
            humanize::bytes(m.total_bytes, ByteUnits::Binary),
            humanize::bytes(m.capacity_bytes, ByteUnits::Binary),
            humanize::bytes(short, ByteUnits::Binary),
        ),
        hint: Some(format!(
            "{what}; it would fit on a GPU with {} or more{more}",
            humanize::bytes(m.total_bytes, ByteUnits::Binary),
        )),
    }
}

/// `tp 8 · pp 4 (×5) · cp 1 · dp 2`.
fn layout_text(c: &Candidate) -> String {
    let mut s = format!("tp {} · pp {}", c.tp, c.pp);
    if c.vpp > 1 {
        s.push_str(&format!(" (×{})", c.vpp));
    }
    s.push_str(&format!(" · cp {} · dp {}", c.cp, c.dp));
    if c.ep > 1 {
        s.push_str(&format!(" · ep {}", c.ep));
    }
    s
}

/// What differs between two layouts, as flags read.
fn differences(a: &Candidate, b: &Candidate, acc_a: &str, acc_b: &str) -> Vec<String> {
    let mut d = Vec::new();
    if acc_a != acc_b {
        d.push(format!("{acc_a} vs {acc_b}"));
    }
    for (name, x, y) in [
        ("GPUs", a.gpus, b.gpus),
        ("tp", a.tp, b.tp),
        ("pp", a.pp, b.pp),
        ("chunks", a.vpp, b.vpp),
        ("cp", a.cp, b.cp),
        ("dp", a.dp, b.dp),
        ("ep", a.ep, b.ep),
        ("micro-batch", a.micro_batch, b.micro_batch),
    ] {
        if x != y {
            d.push(format!("{name} {x} vs {y}"));
        }
    }
    if a.recompute != b.recompute {
        d.push(format!(
            "{} vs {} recompute",
            a.recompute.name(),
            b.recompute.name()
        ));
    }
    if a.zero != b.zero {
        d.push(format!(
            "ZeRO-{} vs ZeRO-{}",
            a.zero.number(),
            b.zero.number()
        ));
    }
    if a.sequence_parallel != b.sequence_parallel {
        d.push(format!(
            "sequence parallel {} vs {}",
            on(a.sequence_parallel),
            on(b.sequence_parallel)
        ));
    }
    d
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// One sentence on why the first row beats the next row that scores worse
/// (rows that tie with it are named: the estimate prices them the same).
fn why(rows: &[PlanRow], by: RankBy) -> Option<String> {
    let first = rows.first()?;
    let score = |r: &PlanRow| match by {
        RankBy::Time => Some(r.estimate.time.total_seconds),
        RankBy::Cost => r.estimate.time.cost_usd,
    };
    let ties: Vec<usize> = rows[1..]
        .iter()
        .filter(|r| score(r) == score(first))
        .map(|r| r.rank)
        .collect();
    let tie_note = match ties.as_slice() {
        [] => String::new(),
        [one] => format!("; #{one} ties with #1 (the estimate prices their differences the same)"),
        more => format!(
            "; {} tie with #1 (the estimate prices their differences the same)",
            more.iter()
                .map(|r| format!("#{r}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let Some(second) = rows[1..].iter().find(|r| score(r) != score(first)) else {
        let diff = rows.get(1).map_or_else(String::new, |r| {
            differences(
                &first.candidate,
                &r.candidate,
                &first.accelerator,
                &r.accelerator,
            )
            .join(", ")
        });
        return Some(format!(
            "every row shown ties with #1: the estimate prices their differences ({diff}, …) the same; `--top` more rows to see what #1 beats"
        ));
    };
    let (e1, e2) = (&first.estimate, &second.estimate);
    let n = second.rank;
    let diff = differences(
        &first.candidate,
        &second.candidate,
        &first.accelerator,
        &second.accelerator,
    )
    .join(", ");
    let verdict = match by {
        RankBy::Time => format!(
            "#1 finishes in {} against {} for #{n}",
            humanize::seconds(e1.time.total_seconds),
            humanize::seconds(e2.time.total_seconds)
        ),
        RankBy::Cost => format!(
            "#1 costs ${:.0} against ${:.0} for #{n}",
            e1.time.cost_usd.unwrap_or(f64::NAN),
            e2.time.cost_usd.unwrap_or(f64::NAN)
        ),
    };
    // The part of the step where #n loses the most time.
    let (name, gain) = e1
        .time
        .breakdown
        .parts()
        .iter()
        .zip(e2.time.breakdown.parts().iter())
        .map(|(a, b)| (a.0, b.1 - a.1))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("compute", 0.0));
    let reason = if gain > 0.0 && e1.time.mfu_override.is_none() {
        format!(
            ": its {name} is {} shorter per step ({} against {})",
            humanize::seconds(gain),
            humanize::seconds(e1.time.step_seconds),
            humanize::seconds(e2.time.step_seconds)
        )
    } else {
        String::new()
    };
    Some(format!("{verdict} ({diff}){reason}{tie_note}"))
}

impl Report for PlanTrainReport {
    fn view(&self, _units: ByteUnits) -> View {
        let req = &self.request;
        let base = &req.base;
        let by = match self.plan.by {
            RankBy::Time => "wall time",
            RankBy::Cost => "cost",
        };
        let mut top = Table::new(
            Some(&format!(
                "{} ({}): top {} of {} layouts that fit on {} × {}, s = {}, B = {} sequences, by {by}",
                self.model.name,
                self.model.description(),
                self.rows.len(),
                humanize::grouped(self.plan.tally.kept),
                gpus_text(&req.space.gpus),
                self.plan.accelerators.join(","),
                humanize::grouped(base.seq_len),
                humanize::grouped(base.global_batch),
            )),
            &[
                ("#", "rank"),
                ("GPUs", "gpus"),
                ("GPU", "accelerator"),
                ("tp", "tp"),
                ("pp×v", "pp_vpp"),
                ("cp", "cp"),
                ("dp", "dp"),
                ("ep", "ep"),
                ("b", "micro_batch"),
                ("recompute", "recompute"),
                ("ZeRO", "zero"),
                ("SP", "sequence_parallel"),
                ("memory", "memory_bytes"),
                ("fits", "verdict"),
                ("step", "step_seconds"),
                ("MFU", "mfu"),
                ("wall time", "total_seconds"),
                ("cost", "cost_usd"),
            ],
        );
        for r in &self.rows {
            let c = &r.candidate;
            let e = &r.estimate;
            top.row(vec![
                Cell::Exact(r.rank as u64),
                Cell::Exact(c.gpus),
                Cell::Text(r.accelerator.clone()),
                Cell::Exact(c.tp),
                Cell::Text(if c.vpp > 1 {
                    format!("{}×{}", c.pp, c.vpp)
                } else {
                    c.pp.to_string()
                }),
                Cell::Exact(c.cp),
                Cell::Exact(c.dp),
                Cell::Exact(c.ep),
                Cell::Exact(c.micro_batch),
                Cell::Text(c.recompute.name().into()),
                Cell::Exact(u64::from(c.zero.number())),
                Cell::Text(on(c.sequence_parallel).into()),
                Cell::Bytes(e.memory.total_bytes),
                Cell::Text(e.verdict.word().into()),
                Cell::Seconds(e.time.step_seconds),
                Cell::Ratio(e.time.mfu),
                Cell::Seconds(e.time.total_seconds),
                e.time
                    .cost_usd
                    .map_or(Cell::Empty, |c| Cell::Number(c, "USD")),
            ]);
        }
        let mut tables = vec![top];
        let mut notes = Vec::new();
        if let Some(w) = self.rows.first() {
            let e = &w.estimate;
            let m = &e.memory;
            let mut mem = Table::new(
                Some("#1: memory per GPU (the fullest stage)"),
                &[
                    ("item", "item"),
                    ("bytes", "bytes"),
                    ("share", "share_of_device"),
                ],
            );
            let cap = m.capacity_bytes as f64;
            let items = m.shown_items().into_iter().map(|(name, b, at_peak)| {
                let name = if at_peak {
                    name.to_string()
                } else {
                    format!("{name} (not at the peak)")
                };
                (name, b)
            });
            for (name, b) in items.chain([
                ("total at the peak".to_string(), m.total_bytes),
                (
                    "free".to_string(),
                    m.capacity_bytes.saturating_sub(m.total_bytes),
                ),
            ]) {
                mem.row(vec![
                    Cell::Text(name),
                    Cell::Bytes(b),
                    Cell::Ratio(b as f64 / cap),
                ]);
            }
            let mut time = Table::new(
                Some("#1: one step"),
                &[("item", "item"), ("seconds", "seconds")],
            );
            time.row(vec![
                Cell::Text("step".into()),
                Cell::Seconds(e.time.step_seconds),
            ]);
            for (name, s) in e.time.breakdown.parts() {
                time.row(vec![Cell::Text(format!("  {name}")), Cell::Seconds(s)]);
            }
            time.row(vec![
                Cell::Text("tokens/s".into()),
                Cell::Number(e.time.tokens_per_second, "tokens/s"),
            ]);
            time.row(vec![
                Cell::Text("GPU-hours".into()),
                Cell::Number(e.time.gpu_hours, "GPU-h"),
            ]);
            tables.push(mem);
            tables.push(time);
            if let Some(why) = why(&self.rows, self.plan.by) {
                notes.push(format!("why #1: {why}"));
            }
            notes.push(format!(
                "reproduce #1: sizeup train {} {}",
                self.model.name,
                w.train_args.join(" ")
            ));
        }
        let t = &self.plan.tally;
        let mut search = Table::new(
            Some("The search"),
            &[("quantity", "quantity"), ("value", "value")],
        );
        let mut row = |name: &str, c: Cell| search.row(vec![Cell::Text(name.into()), c]);
        row(
            "layouts in the space",
            Cell::Exact(self.plan.space.candidates),
        );
        row("evaluated", Cell::Exact(t.evaluated));
        row(
            "  priced (training::estimate_point; the rows by training::estimate)",
            Cell::Exact(t.priced),
        );
        row(
            "  ruled out by memory without pricing",
            Cell::Exact(t.pruned_by_memory),
        );
        row(
            "    of which by the model-state floor",
            Cell::Exact(t.pruned_by_states),
        );
        row("kept (fit)", Cell::Exact(t.kept));
        row(
            "  of which tight (ranked after the rest)",
            Cell::Exact(t.tight),
        );
        row("search time", Cell::Seconds(self.speed.seconds));
        row(
            "evaluated per second",
            Cell::Number(self.speed.layouts_per_second, "layouts/s"),
        );
        tables.push(search);
        let space = &req.space;
        let axis = |v: &Option<Vec<u64>>| {
            v.as_ref().map_or("every divisor".to_string(), |v| {
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            })
        };
        notes.push(format!(
            "space: GPUs {} on {}; tp {}, pp {} with chunks {}, cp {}, ep {}, dp the rest, micro-batch {}; recompute {}; ZeRO {}; sequence parallel off/on",
            gpus_text(&space.gpus),
            self.plan.accelerators.join(","),
            axis(&space.tp),
            axis(&space.pp),
            axis(&space.vpp),
            axis(&space.cp),
            axis(&space.ep),
            axis(&space.micro_batch),
            space.recompute.iter().map(|r| r.name()).collect::<Vec<_>>().join("/"),
            space.zero.iter().map(|z| z.number().to_string()).collect::<Vec<_>>().join("/"),
        ));
        notes.push(format!(
            "not searched (not modelled by the training estimate): {}",
            self.not_searched.join("; ")
        ));
        View { tables, notes }
    }
}
