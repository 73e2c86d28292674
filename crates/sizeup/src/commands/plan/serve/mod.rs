//! `sizeup plan serve MODEL (--rate R | --users U) --prompt P --output O --ttft X --tpot Y`
//! finds the cheapest serving setups that carry the load within the targets
//! (see [`sizeup_core::plan::serve`]): a steady-state tier prices every setup
//! with the serving estimate's functions, the simulation confirms its front.
//! Each row carries the `sizeup infer` flags that reproduce its estimate and
//! its simulation.

use std::time::Instant;

use clap::{ArgGroup, Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sizeup_core::device::collective::{Fabric, Network};
use sizeup_core::dtype::WeightOptions;
use sizeup_core::hardware::Accelerator;
use sizeup_core::inference::sim::{Arrivals, SimRequest};
use sizeup_core::inference::{AttentionGroups, Engine, Prepared, StageSchedule};
use sizeup_core::plan::serve::{
    self as serve_plan, confirm::HEADROOM_BISECTIONS, confirm::HEADROOM_DOUBLINGS,
    confirm::MAX_SIMULATIONS, default_accelerators, ConfirmTally, LatencyTargets, ParetoPoint,
    Percentile, ServeCandidate, ServeEntry, ServeLoad, ServePlanRequest, ServeRankBy, ServeSpace,
    ServeTally, ServeWorkload, SimBounds, SpaceCount,
};
use sizeup_core::{Assumption, KvDtype, WeightFormat};

mod chart;
pub mod deadline;
mod miss;
mod view;

pub use chart::chart;

use miss::{empty_space, nothing_meets};
use view::why;

use super::{accelerators, gpus_text, parse_gpus, GpuCounts, TIME_LIMIT_SECONDS};
use crate::cli::ModelArg;
use crate::error::AppError;
use crate::humanize;
use crate::model::{self, ModelSummary};

/// What the plan ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServeBy {
    /// US dollars per hour for the deployment
    Cost,
    /// Output tokens per second per GPU at the steady-state capacity within the targets
    Throughput,
}

/// Which of two arrangements the plan searches (`--disaggregated`, `--expert-parallel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Searched {
    /// The first only (aggregated; experts split as tensors)
    No,
    /// The second only (disaggregated; experts held whole)
    Yes,
    /// Both
    Both,
}

impl Searched {
    /// The space's axis: `false` the first arrangement, `true` the second.
    fn axis(self) -> Vec<bool> {
        match self {
            Searched::No => vec![false],
            Searched::Yes => vec![true],
            Searched::Both => vec![false, true],
        }
    }
}

/// Flags of `sizeup plan serve`.
#[derive(Debug, Args, Serialize)]
#[command(group(ArgGroup::new("load").args(["rate", "users"]).required(true)))]
pub struct PlanServeArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// Poisson arrivals at this many requests per second, the whole deployment
    #[arg(long, value_parser = crate::door::RATE)]
    pub rate: Option<f64>,
    /// Users, each with one request in flight (the next as soon as the last is answered)
    #[arg(long, value_parser = crate::door::SEQUENCES, conflicts_with = "rate")]
    pub users: Option<u64>,
    /// Prompt tokens per request
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub prompt: u64,
    /// Output tokens per request
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub output: u64,
    /// Context each request may reach, sizing the KV cache (default: prompt + output)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub context: Option<u64>,
    /// Longest time to first token at the percentile, seconds
    #[arg(long, value_parser = crate::door::SECONDS)]
    pub ttft: f64,
    /// Longest time per output token at the percentile, seconds (0.05 = 50 ms)
    #[arg(long, value_parser = crate::door::SECONDS)]
    pub tpot: f64,
    /// The percentile of the simulated latencies the targets bound: 50, 90, 95 or 99
    #[arg(long, default_value = "95", value_parser = parse_percentile)]
    pub percentile: Percentile,
    /// Accelerators to try, comma-separated (default: the catalog's data-centre GPUs with a price)
    #[arg(long, value_delimiter = ',')]
    pub gpu: Vec<String>,
    /// GPU counts of the whole deployment: `8`, a list `4,8,16`, or a range as `--vary` takes it (`1..64` doubles, `1..16:1` every count); default every count up to 64
    #[arg(long, value_parser = parse_gpus)]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub gpus: Option<GpuCounts>,
    /// Tensor-parallel sizes per replica (default 1,2,4,8: one node)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub tp: Vec<u64>,
    /// Pipeline stages per replica, each of `tp` GPUs (default 1,2,4 for vllm, sglang and
    /// trtllm, 1 for the others; aggregated setups only)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub pp: Vec<u64>,
    /// MoE models: data-parallel attention groups of `tp` GPUs per replica, sharing the
    /// experts (default 1,2,4,8 for vllm, 1 for the others; without pipeline stages,
    /// aggregated setups only)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub attention_dp: Vec<u64>,
    /// Weight formats (default bf16,fp8,awq-int4-g128; each only on GPUs with its tensor path)
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::parse_weights)]
    pub weights: Vec<WeightFormat>,
    /// KV cache precisions (default bf16,fp8)
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::parse_kv_dtype)]
    pub kv_dtype: Vec<KvDtype>,
    /// Sequence caps per replica, vLLM `max_num_seqs` (default 64,256)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::SEQUENCES)]
    pub max_num_seqs: Vec<u64>,
    /// New tokens per engine step, vLLM `max_num_batched_tokens` (default 2048,8192)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::TOKENS)]
    pub max_batched_tokens: Vec<u64>,
    /// Disaggregated prefill/decode (P prefill replicas hand each prompt's KV cache
    /// to D decode replicas; the simulation runs the two pools apart): no, yes or both
    #[arg(long, value_enum, default_value_t = Searched::Both)]
    pub disaggregated: Searched,
    /// Expert parallelism for MoE models (groups of ranks hold whole experts: under
    /// vllm every rank, `--ep` = `--tp` · `--attention-dp`, vLLM's
    /// `--enable-expert-parallel`; under sglang and trtllm every group size that
    /// divides the ranks): no, yes or both (default both for vllm, sglang and
    /// trtllm; no for the others)
    #[arg(long, value_enum)]
    pub expert_parallel: Option<Searched>,
    /// Serving engine: vllm, sglang, trtllm, llama.cpp, transformers
    #[arg(long, default_value = "vllm", value_parser = crate::cli::parse_engine)]
    pub engine: Engine,
    /// Price per GPU-hour in US dollars for every accelerator (default: the catalog's)
    #[arg(long, value_parser = crate::door::PRICE)]
    pub price: Option<f64>,
    /// Rank by cost or by throughput per GPU
    #[arg(long, value_enum, default_value_t = ServeBy::Cost)]
    pub by: ServeBy,
    /// How many setups to show
    #[arg(long, value_parser = crate::door::TOP, default_value_t = 5)]
    pub top: u64,
    /// Requests each simulation sends to the simulated replica
    #[arg(long, value_parser = crate::door::REPLICA_REQUESTS, default_value = "500")]
    pub requests_per_replica: u64,
    /// Seed of the simulations' arrivals
    #[arg(long, value_parser = crate::door::SEED, default_value = "0")]
    pub seed: u64,
    /// Engine steps each simulation runs at most
    #[arg(long, value_parser = crate::door::STEPS, default_value = "10M")]
    pub max_steps: u64,
    /// Write a chart to this file (`.svg` or `.png`): the Pareto front of throughput
    /// per GPU against speed per user, with the plan's rows ringed
    #[arg(long, value_name = "FILE", value_parser = crate::chart::parse_chart_path)]
    pub chart: Option<std::path::PathBuf>,
    /// Search even when the space would take more than a minute
    #[arg(long)]
    pub allow_long: bool,
    /// The longest search accepted without `--allow-long`, in seconds
    #[arg(skip = TIME_LIMIT_SECONDS)]
    #[serde(skip)]
    pub time_limit_seconds: f64,
    /// Whether the simulations must fit in `time_limit_seconds` too (a served
    /// plan): their steps per run are capped to the time left after the
    /// steady-state tier, or the plan is refused.
    #[arg(skip)]
    #[serde(skip)]
    pub bound_simulations: bool,
}

fn parse_percentile(s: &str) -> Result<Percentile, String> {
    s.trim()
        .trim_start_matches(['p', 'P'])
        .parse::<u8>()
        .ok()
        .and_then(Percentile::of_number)
        .ok_or_else(|| {
            format!("`{s}` is not a percentile the simulation reports (50, 90, 95 or 99)")
        })
}

/// One row: the setup, its figures, and the `sizeup infer` flags that reproduce them.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ServeRow {
    /// 1 for the winner.
    pub rank: usize,
    /// The setup, its estimate, its simulation and its headroom.
    #[serde(flatten)]
    pub entry: ServeEntry,
    /// `sizeup infer` arguments (after the model) giving the same estimate and
    /// simulation; for a disaggregated setup, its decode pool's.
    pub infer_args: Vec<String>,
    /// Disaggregated: `sizeup infer` arguments giving the prefill pool's estimate
    /// and simulation (its TTFT is the row's less the KV transfer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_infer_args: Option<Vec<String>>,
}

/// How long each tier took (this run, this machine).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ServeSpeed {
    /// Wall seconds of the steady-state tier.
    pub steady_seconds: f64,
    /// Setups decided per second by it.
    pub setups_per_second: f64,
    /// Wall seconds of the simulations (confirmation and headroom).
    pub simulation_seconds: f64,
}

/// The plan without its rows.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ServeSummary {
    /// The ranking.
    pub by: ServeRankBy,
    /// The accelerators searched.
    pub accelerators: Vec<String>,
    /// The size of the space.
    pub space: SpaceCount,
    /// What the steady-state tier decided.
    pub tally: ServeTally,
    /// What the simulation tier decided.
    pub confirmed: ConfirmTally,
}

/// What `sizeup plan serve` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct PlanServeReport {
    /// The model.
    pub model: ModelSummary,
    /// What was asked.
    pub request: ServePlanRequest,
    /// The best setups, best first.
    pub rows: Vec<ServeRow>,
    /// Why #1 ranks above the next row that differs, in one sentence.
    pub why: Option<String>,
    /// Throughput per GPU against tokens per second per user at steady state.
    pub pareto: Vec<ParetoPoint>,
    /// The search.
    pub plan: ServeSummary,
    /// How fast it went.
    pub speed: ServeSpeed,
    /// What the plan assumes, with sources.
    pub assumptions: Vec<Assumption>,
}

impl PlanServeArgs {
    fn load(&self) -> ServeLoad {
        match (self.rate, self.users) {
            (Some(per_sec), _) => ServeLoad::Rate { per_sec },
            (None, Some(users)) => ServeLoad::Users { users },
            // clap requires one of the two
            (None, None) => ServeLoad::Users { users: 1 },
        }
    }

    fn space(&self) -> ServeSpace {
        let mut s = ServeSpace::default();
        if let Some(g) = &self.gpus {
            s.gpus = g.0.clone();
        }
        if !self.tp.is_empty() {
            s.tp = self.tp.clone();
        }
        if !self.pp.is_empty() {
            s.pp = self.pp.clone();
        } else if self.engine.stage_schedule() != Some(StageSchedule::Pipelined) {
            // an engine that keeps no batches in flight gains nothing from stages
            s.pp = vec![1];
        }
        if !self.weights.is_empty() {
            s.weights = self.weights.clone();
        }
        if !self.kv_dtype.is_empty() {
            s.kv_dtypes = self.kv_dtype.clone();
        }
        if !self.max_num_seqs.is_empty() {
            s.max_num_seqs = self.max_num_seqs.clone();
        }
        if !self.max_batched_tokens.is_empty() {
            s.max_batched_tokens = self.max_batched_tokens.clone();
        }
        if !self.attention_dp.is_empty() {
            s.attention_dp = self.attention_dp.clone();
        } else if !self
            .engine
            .attention_groups()
            .is_some_and(AttentionGroups::any_tp)
        {
            // groups are searched over every tp where the engine allows any
            s.attention_dp = vec![1];
        }
        s.disaggregated = self.disaggregated.axis();
        s.expert_parallel = match self.expert_parallel {
            Some(choice) => choice.axis(),
            // an engine without expert parallelism splits the experts as tensors
            None if self.engine.expert_groups().is_none() => vec![false],
            None => Searched::Both.axis(),
        };
        s
    }

    fn request(&self) -> ServePlanRequest {
        ServePlanRequest {
            workload: ServeWorkload {
                prompt: self.prompt,
                output: self.output,
                context: self.context,
                engine: self.engine,
                weight_options: WeightOptions::default(),
                price_per_gpu_hour: self.price,
            },
            space: self.space(),
            load: self.load(),
            targets: LatencyTargets {
                ttft_seconds: self.ttft,
                tpot_seconds: self.tpot,
                percentile: self.percentile,
            },
            by: match self.by {
                ServeBy::Cost => ServeRankBy::Cost,
                ServeBy::Throughput => ServeRankBy::Throughput,
            },
            top: self.top as usize,
            simulation: SimBounds {
                requests_per_replica: self.requests_per_replica,
                seed: self.seed,
                max_steps: self.max_steps,
            },
        }
    }

    fn accelerators(&self) -> Result<Vec<Accelerator>, AppError> {
        if self.gpu.is_empty() {
            Ok(default_accelerators())
        } else {
            accelerators(&self.gpu)
        }
    }
}

/// The `sizeup infer` arguments (after the model) that give a row's estimate
/// and simulation; for a disaggregated setup, its decode pool's (each prompt's
/// KV cache arriving with it, `--prompt-arrives-cached`).
pub fn infer_args(req: &ServePlanRequest, e: &ServeEntry) -> Vec<String> {
    let c = &e.candidate;
    let w = &req.workload;
    let mut a = estimate_args(e, w, c, e.steady.concurrency);
    sim_args(&mut a, c, &c.simulation(w, req.load, &req.simulation));
    if let Some(split) = &e.steady.split {
        a.push("--prompt-arrives-cached".into());
        let lead = ServeCandidate::decode_pool_lead_ms(req.load, split);
        if lead > 0.0 {
            a.push("--request-overhead-ms".into());
            a.push(lead.to_string());
        }
    }
    a
}

/// For a disaggregated row, the `sizeup infer` arguments of its prefill
/// replicas: one request in flight, its prefill is the row's; one output token
/// per prompt under Poisson arrivals at the rate the decode pool completes, its
/// simulated TTFT the row's less the transfer.
pub fn prefill_infer_args(req: &ServePlanRequest, e: &ServeEntry) -> Option<Vec<String>> {
    let prefill = e.candidate.prefill_side()?;
    let one_token = req.workload.one_token();
    let rate = ServeCandidate::prefill_rate(req.load, e.simulated.requests_per_sec);
    let mut a = estimate_args(e, &one_token, &prefill, 1);
    let sim = prefill.simulation(
        &one_token,
        ServeLoad::Rate { per_sec: rate },
        &req.simulation,
    );
    sim_args(&mut a, &prefill, &sim);
    Some(a)
}

/// The simulation's flags of `c` running `sim`, appended to `a`.
fn sim_args(a: &mut Vec<String>, c: &ServeCandidate, sim: &SimRequest) {
    let mut push = |flag: &str, v: String| {
        a.push(flag.to_string());
        a.push(v);
    };
    match sim.arrivals {
        Arrivals::Poisson { rate_per_sec } => push("--rate", rate_per_sec.to_string()),
        Arrivals::ClosedLoop { clients } => push("--closed-loop", clients.to_string()),
    }
    push("--requests", sim.requests.to_string());
    push("--seed", sim.seed.to_string());
    push("--max-steps", sim.max_steps.to_string());
    push("--max-num-seqs", c.max_num_seqs.to_string());
    push("--max-batched-tokens", c.max_batched_tokens.to_string());
}

/// The estimate's flags of `c`'s replicas at `concurrency` requests in flight
/// each, with `w`'s lengths.
fn estimate_args(
    e: &ServeEntry,
    w: &ServeWorkload,
    c: &ServeCandidate,
    concurrency: u64,
) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |flag: &str, v: String| {
        a.push(flag.to_string());
        a.push(v);
    };
    push("--gpu", e.accelerator.clone());
    push("--gpus", c.replica_gpus().to_string());
    push("--tp", c.tp.to_string());
    if c.pp > 1 {
        push("--pp", c.pp.to_string());
    }
    if c.attention_dp > 1 {
        push("--attention-dp", c.attention_dp.to_string());
    }
    if c.ep > 1 {
        push("--ep", c.ep.to_string());
    }
    push("--weights", c.weights.to_string());
    push("--kv-dtype", c.kv_dtype.name().to_string());
    push("--prompt", w.prompt.to_string());
    push("--output", w.output.to_string());
    if let Some(ctx) = w.context {
        push("--context", ctx.to_string());
    }
    push("--concurrency", concurrency.to_string());
    push("--engine", w.engine.name().to_string());
    push("--prefill-chunk", c.max_batched_tokens.to_string());
    if let Some(p) = w.price_per_gpu_hour {
        push("--price", p.to_string());
    }
    a
}

/// Predict the steady-state tier's wall seconds from one timed setup: each
/// machine costs about three of them (its passes are priced once) and one per
/// prefill size beside it when disaggregated, each further aggregated setup a
/// sixty-fourth, each disaggregated one (its pools' prices shared) a 256th.
///
/// # Source
/// Rough ratios read from `cargo bench -p sizeup-core --features parallel --bench
/// plan_serve` against one timed `evaluate` on this project's 2-core machine; the
/// 256th for a disaggregated setup is set from the bench's whole time, not
/// measured alone. The prediction only decides the one-minute refusal (and a
/// served plan's deadline), so it is kept coarse.
fn predicted_seconds(
    arch: &sizeup_core::Architecture,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    count: &SpaceCount,
) -> f64 {
    let probe = ServeCandidate {
        accelerator: 0,
        tp: 1,
        pp: 1,
        attention_dp: 1,
        ep: 1,
        replicas: 1,
        prefill: None,
        weights: req.space.weights[0],
        kv_dtype: req.space.kv_dtypes[0],
        max_num_seqs: req.space.largest_num_seqs(),
        max_batched_tokens: req.space.max_batched_tokens[0],
    };
    let prepared = Prepared::new(arch);
    let start = Instant::now();
    let _ = serve_plan::evaluate(&prepared, accs, req, &probe);
    let one = start.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let per_machine = if req.space.split() {
        3.0 + req.space.tp.len() as f64
    } else {
        3.0
    };
    let aggregated = count.setups.saturating_sub(count.disaggregated_setups);
    (count.machines as f64 * per_machine
        + aggregated as f64 / 64.0
        + count.disaggregated_setups as f64 / 256.0)
        * one
        / threads
}

/// Plan serving.
/// Search the serving setups and rank those that meet the targets.
pub fn run_serve(args: &PlanServeArgs) -> Result<PlanServeReport, AppError> {
    let started = Instant::now();
    let loaded = model::load(&args.model)?;
    let arch = &loaded.arch;
    let accs = args.accelerators()?;
    let mut req = args.request();
    serve_plan::validate(&accs, &req)?;
    let count = req.count(arch, &accs);
    if count.setups == 0 {
        return Err(empty_space(args, arch.heads(), &req));
    }
    if !args.allow_long {
        let seconds = predicted_seconds(arch, &accs, &req, &count);
        let limit = args.time_limit_seconds;
        if seconds > limit {
            return Err(AppError::Usage {
                flag: "--gpus",
                value: gpus_text(&req.space.gpus),
                problem: format!(
                    "the space holds {} setups on {} machines: about {seconds:.0} s to search here (more than {limit:.0} s)",
                    humanize::grouped(count.setups),
                    humanize::grouped(count.machines),
                ),
                hint: Some(
                    "narrow it: fewer `--gpu` or `--gpus` values (`--gpus 1..64` doubles), or fix axes with `--tp 1`, `--weights fp8`, `--max-num-seqs 256`, `--max-batched-tokens 8192`; or pass `--allow-long`"
                        .into(),
                ),
            });
        }
    }
    let prepared = Prepared::new(arch);
    let start = Instant::now();
    let found = serve_plan::search_steady(
        &prepared,
        &accs,
        &req,
        serve_plan::front_size(req.top, &req.space),
    )?;
    let steady_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let capped_steps = if args.bound_simulations {
        let left = args.time_limit_seconds - started.elapsed().as_secs_f64();
        deadline::bound(&prepared, &accs, &mut req, &found, left)?
    } else {
        None
    };
    let confirmed = serve_plan::confirm(&prepared, &accs, &req, &found)?;
    let simulation_seconds = start.elapsed().as_secs_f64();
    if confirmed.top.is_empty() {
        return Err(nothing_meets(
            args,
            &req,
            &found.tally,
            &confirmed.tally,
            confirmed.nearest_miss.as_ref(),
        ));
    }
    let rows: Vec<ServeRow> = confirmed
        .top
        .into_iter()
        .enumerate()
        .map(|(i, entry)| ServeRow {
            rank: i + 1,
            infer_args: infer_args(&req, &entry),
            prefill_infer_args: prefill_infer_args(&req, &entry),
            entry,
        })
        .collect();
    let why = why(&rows, &req);
    let mut assumptions = assumptions(args, &req, &accs, &count);
    if let Some(steps) = capped_steps {
        assumptions.push(Assumption::new(
            "engine steps per simulation",
            format!(
                "at most {} (of `--max-steps` {}): up to {} runs must finish within the deadline",
                humanize::grouped(steps),
                humanize::grouped(args.max_steps),
                deadline::runs_at_most(req.top as u64, req.space.split())
            ),
            "the server's deadline, from one short simulation timed here",
        ));
    }
    Ok(PlanServeReport {
        model: ModelSummary::new(&loaded),
        rows,
        why,
        pareto: found.pareto,
        plan: ServeSummary {
            by: req.by,
            accelerators: accs.iter().map(|a| a.name.clone()).collect(),
            space: count,
            tally: found.tally,
            confirmed: confirmed.tally,
        },
        speed: ServeSpeed {
            steady_seconds,
            setups_per_second: found.tally.evaluated as f64 / steady_seconds.max(1e-9),
            simulation_seconds,
        },
        assumptions,
        request: req,
    })
}

/// The smallest number with three significant figures at or above `x`.
pub(super) fn up3(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return x;
    }
    let scale = 10f64.powi(2 - x.log10().floor() as i32);
    (x * scale).ceil() / scale
}

/// `2×GH200 (2 replicas × tp 1), fp8-e4m3 weights, fp8 KV, 256 seqs, 8192-token steps`.
pub(super) fn setup_text(c: &ServeCandidate, accelerator: &str) -> String {
    let layout = match c.prefill {
        None => format!(
            "{} × {}",
            replicas_text(c.replicas),
            crate::commands::infer::layout_text(c.tp, c.pp, c.ep, c.attention_dp)
        ),
        Some(_) => format!("disaggregated {}", layout_text(c)),
    };
    format!(
        "{}×{accelerator} ({layout}), {} weights, {} KV, {} seqs, {}-token steps",
        c.gpus(),
        c.weights,
        c.kv_dtype.name(),
        c.max_num_seqs,
        c.max_batched_tokens
    )
}

/// A setup's replicas: `2 × 1` (replicas × tp), `2 × 4·2` (replicas × tp·pp),
/// `2 × 8 ep8` (experts held whole over 8 ranks), `1 × 1 dp8 ep8` (8 attention
/// groups of 1), or `2P(tp1)+3D(tp2)` for prefill and decode pools.
pub(super) fn layout_text(c: &ServeCandidate) -> String {
    let mut ep = String::new();
    if c.attention_dp > 1 {
        ep.push_str(&format!(" dp{}", c.attention_dp));
    }
    if c.ep > 1 {
        ep.push_str(&format!(" ep{}", c.ep));
    }
    match c.prefill {
        None if c.pp > 1 => format!("{} × {}·{}{ep}", c.replicas, c.tp, c.pp),
        None => format!("{} × {}{ep}", c.replicas, c.tp),
        Some(p) => format!("{}P(tp{})+{}D(tp{})", p.replicas, p.tp, c.replicas, c.tp),
    }
}

fn replicas_text(n: u64) -> String {
    if n == 1 {
        "1 replica".into()
    } else {
        format!("{n} replicas")
    }
}

pub(super) fn load_text(load: ServeLoad) -> String {
    match load {
        ServeLoad::Rate { per_sec } => format!("{} req/s", humanize::sig3(per_sec)),
        ServeLoad::Users { users } => format!("{} users", humanize::grouped(users)),
    }
}

fn assumptions(
    args: &PlanServeArgs,
    req: &ServePlanRequest,
    accs: &[Accelerator],
    count: &SpaceCount,
) -> Vec<Assumption> {
    let scope = "plan serve: what the serving estimate models";
    let mut a = vec![
        Assumption::new(
            "serving",
            match (req.space.aggregated(), req.space.split()) {
                (true, true) => "aggregated (prefill and decode share each replica) and disaggregated (P prefill replicas hand each prompt's KV cache to D decode replicas, one accelerator type)",
                (true, false) => "aggregated: prefill and decode share each replica (`--disaggregated no`)",
                _ => "disaggregated only: P prefill replicas hand each prompt's KV cache to D decode replicas, one accelerator type (`--disaggregated yes`)",
            },
            "`--disaggregated` (both unless asked); DistServe (Zhong et al., OSDI 2024, arXiv:2401.09670), Splitwise (Patel et al., ISCA 2024, arXiv:2311.18677)",
        ),
        Assumption::new(
            "parallelism",
            "tensor parallelism within a stage; pipeline stages per replica (`--pp`), as many batches in flight, aggregated setups only; replicas independent; for MoE models, data-parallel attention groups (`--attention-dp`) and experts split as tensors or held whole by groups of ranks (`--ep`: every rank, `--tp` · `--attention-dp`, under vLLM; every divisor of the ranks under SGLang and TensorRT-LLM), aggregated setups only",
            scope,
        ),
        Assumption::new(
            "accelerators",
            format!("{} ({})", accs.len(), accs.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")),
            if args.gpu.is_empty() {
                "default: the catalog's data-centre rows with a price (data/gpus.toml `data_centre`)"
            } else {
                "user flag"
            },
        ),
        Assumption::new(
            "weight formats",
            format!(
                "each only on accelerators with its tensor path ({} format × accelerator pairs left out)",
                count.formats_without_path
            ),
            "the estimate prices a format without one at 16 bits and warns",
        ),
        Assumption::new(
            "operating point",
            match req.load {
                ServeLoad::Rate { .. } => "the fewest requests in flight per replica whose steady-state output rate carries the replica's share of the rate",
                ServeLoad::Users { .. } => "users / replicas, rounded up, requests in flight per replica",
            },
            "inference::schedule (continuous batching), as `sizeup infer --concurrency`",
        ),
        Assumption::new(
            "steady-state TTFT",
            "one prompt's prefill, without queueing; the simulation adds queueing and the interference of other requests' steps",
            "inference::schedule",
        ),
        Assumption::new(
            "confirmation",
            format!(
                "the steady-state front ({} setups) simulated best first, a few at a time, until the top rows are confirmed; a refused setup is retried with the next replica count; at most {MAX_SIMULATIONS} runs; a row is a deployment with the engine caps its simulation ranks best",
                serve_plan::front_size(req.top, &req.space)
            ),
            "plan serve",
        ),
        Assumption::new(
            "simulation",
            format!(
                "{} requests per engine simulated (a replica, or each batch in flight of a pipelined one), seed {}; {}",
                req.simulation.requests_per_replica,
                req.simulation.seed,
                match req.load {
                    ServeLoad::Rate { .. } => "Poisson arrivals split evenly among the engines",
                    ServeLoad::Users { .. } => "a closed loop of users, rounded up to a multiple of the engines (replicas × batches in flight: a pipelined setup may be simulated with more users than asked, erring slow)",
                }
            ),
            "inference::sim (the engine of `sizeup infer --rate`)",
        ),
        Assumption::new(
            "headroom",
            format!(
                "the load bisected with the simulation: from the steady-state capacity (or twice the load), doubled up to {HEADROOM_DOUBLINGS} times while the targets hold, then {HEADROOM_BISECTIONS} halvings of the bracket"
            ),
            "plan serve",
        ),
        Assumption::new(
            "rank",
            match req.by {
                ServeRankBy::Cost => "US dollars per hour, then simulated rows before steady-state ones, then the margin (the larger of TTFT and TPOT over their targets)",
                ServeRankBy::Throughput => "output tokens per second per GPU at the steady-state capacity, then US dollars per hour, then simulated rows before steady-state ones, then the margin",
            },
            "`--by` (cost unless asked)",
        ),
        Assumption::new(
            "cost per million output tokens",
            "at the load served, every GPU billed busy or not",
            "DESIGN.md \"Inference\"",
        ),
    ];
    if req.space.split() {
        a.extend([
            Assumption::new(
                "disaggregated TTFT",
                "the mean wait for a prefill replica (M/D/1: prompts back to back, ρ·S/(2(1−ρ))) + one prompt's prefill + the transfer of its KV cache to a decode replica (α–β, not overlapped with the prefill)",
                "DistServe §3.1 (the prefill instance as an M/D/1 queue); device::collective (Fabric::send)",
            ),
            Assumption::new(
                "KV transfer link",
                format!(
                    "the GPU link when every GPU of the setup fits one node, else the network between nodes; one rank's shard on the busier end; base + α + bytes/β: {}",
                    accs.iter()
                        .map(|acc| {
                            let f = Fabric::of(acc, &Network::default());
                            format!(
                                "{} {:.0} GB/s and {:.1} µs in a node of {}, {:.0} GB/s and {:.1} µs between nodes, {:.1} µs base",
                                acc.name,
                                f.intra_bytes_per_sec / 1e9,
                                f.intra_latency_seconds * 1e6,
                                f.gpus_per_node,
                                f.inter_bytes_per_sec / 1e9,
                                f.inter_latency_seconds * 1e6,
                                f.base_seconds * 1e6
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                "the accelerator's node row (data/gpus.toml `node`) or device::collective::DEFAULT_NODE; NCCL α–β figures (device::collective::Fabric::send)",
            ),
            Assumption::new(
                "disaggregated TPOT",
                "a decode step at the decode replica's requests in flight, no prefill chunk in it; capacity the smaller of the prefill and decode pools'",
                "inference::schedule with no prefill share",
            ),
            Assumption::new(
                "disaggregated simulation",
                "the pools run apart: the decode pool under the load with each prompt's KV cache arriving with it (only the block holding the last prompt token computed; under a user count each request reaches it after the prefill side's steady-state wait, prefill and transfer), the prefill pool under Poisson arrivals at the rate the decode pool completes, one output token per prompt; TTFT = the prefill pool's + the transfer, TPOT and throughput the decode pool's, end-to-end the decode pool's with the prefill pool's mean TTFT and the transfer in place of that lead",
                "departures of an M/M/c queue are Poisson (Burke 1956), an approximation for the prefill pool's deterministic service; plan::serve::confirm",
            ),
        ]);
    }
    a.push(Assumption::new(
        "price per GPU-hour",
        match req.workload.price_per_gpu_hour {
            Some(p) => format!("${p:.2} for every accelerator"),
            None => "each accelerator's catalog price".to_string(),
        },
        if req.workload.price_per_gpu_hour.is_some() {
            "user flag"
        } else {
            "data/gpus.toml price_source"
        },
    ));
    a
}
