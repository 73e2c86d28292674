//! `sizeup plan serve MODEL (--rate R | --users U) --prompt P --output O --ttft X --tpot Y`
//! finds the cheapest serving setups that carry the load within the targets
//! (see [`sizeup_core::plan::serve`]): a steady-state tier prices every setup
//! with the serving estimate's functions, the simulation confirms its front.
//! Each row carries the `sizeup infer` flags that reproduce its estimate and
//! its simulation.

use std::time::Instant;

use clap::{ArgGroup, Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sizeup_core::dtype::WeightOptions;
use sizeup_core::hardware::Accelerator;
use sizeup_core::inference::sim::RunState;
use sizeup_core::inference::{Engine, Prepared};
use sizeup_core::plan::serve::{
    self as serve_plan, confirm::HEADROOM_BISECTIONS, confirm::HEADROOM_DOUBLINGS,
    confirm::MAX_SIMULATIONS, default_accelerators, ConfirmTally, LatencyTargets, MissReason,
    ParetoPoint, Percentile, ServeCandidate, ServeEntry, ServeLoad, ServeMiss, ServePlanRequest,
    ServeRankBy, ServeSpace, ServeTally, ServeWorkload, SimBounds, SpaceCount,
};
use sizeup_core::{Assumption, KvDtype, WeightFormat};

use super::{accelerators, gpus_text, parse_gpus, GpuCounts, TIME_LIMIT_SECONDS};
use crate::cli::ModelArg;
use crate::error::AppError;
use crate::humanize;
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// What the plan ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeBy {
    /// US dollars per hour for the deployment
    Cost,
    /// Output tokens per second per GPU at the steady-state capacity within the targets
    Throughput,
}

/// Flags of `sizeup plan serve`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("load").args(["rate", "users"]).required(true)))]
pub struct PlanServeArgs {
    #[command(flatten)]
    pub(super) model: ModelArg,
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
    pub gpus: Option<GpuCounts>,
    /// Tensor-parallel sizes per replica (default 1,2,4,8: one node)
    #[arg(long, value_delimiter = ',', value_parser = crate::door::DEVICES)]
    pub tp: Vec<u64>,
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
    /// Search even when the space would take more than a minute
    #[arg(long)]
    pub allow_long: bool,
    /// The longest search accepted without `--allow-long`, in seconds
    #[arg(skip = TIME_LIMIT_SECONDS)]
    pub time_limit_seconds: f64,
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
pub struct ServeRow {
    /// 1 for the winner.
    pub rank: usize,
    /// The setup, its estimate, its simulation and its headroom.
    #[serde(flatten)]
    pub entry: ServeEntry,
    /// `sizeup infer` arguments (after the model) giving the same estimate and simulation.
    pub infer_args: Vec<String>,
}

/// How long each tier took (this run, this machine).
#[derive(Debug, Serialize, Deserialize)]
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
/// and simulation.
pub fn infer_args(req: &ServePlanRequest, e: &ServeEntry) -> Vec<String> {
    let c = &e.candidate;
    let w = &req.workload;
    let mut a: Vec<String> = Vec::new();
    let mut push = |flag: &str, v: String| {
        a.push(flag.to_string());
        a.push(v);
    };
    push("--gpu", e.accelerator.clone());
    push("--gpus", c.gpus().to_string());
    push("--tp", c.tp.to_string());
    push("--weights", c.weights.to_string());
    push("--kv-dtype", c.kv_dtype.name().to_string());
    push("--prompt", w.prompt.to_string());
    push("--output", w.output.to_string());
    if let Some(ctx) = w.context {
        push("--context", ctx.to_string());
    }
    push("--concurrency", e.steady.concurrency.to_string());
    push("--engine", w.engine.name().to_string());
    push("--prefill-chunk", c.max_batched_tokens.to_string());
    if let Some(p) = w.price_per_gpu_hour {
        push("--price", p.to_string());
    }
    let sim = c.simulation(w, req.load, &req.simulation);
    match req.load {
        ServeLoad::Rate { per_sec } => push("--rate", per_sec.to_string()),
        ServeLoad::Users { .. } => {
            if let sizeup_core::inference::sim::Arrivals::ClosedLoop { clients } = sim.arrivals {
                push("--closed-loop", clients.to_string());
            }
        }
    }
    push("--requests", sim.requests.to_string());
    push("--seed", sim.seed.to_string());
    push("--max-steps", sim.max_steps.to_string());
    push("--max-num-seqs", c.max_num_seqs.to_string());
    push("--max-batched-tokens", c.max_batched_tokens.to_string());
    a
}

/// Predict the steady-state tier's wall seconds from one timed setup: each
/// machine costs about three of them (its passes are priced once), each
/// further setup a sixty-fourth.
fn predicted_seconds(
    arch: &sizeup_core::Architecture,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    count: &SpaceCount,
) -> f64 {
    let probe = ServeCandidate {
        accelerator: 0,
        tp: 1,
        replicas: 1,
        weights: req.space.weights[0],
        kv_dtype: req.space.kv_dtypes[0],
        max_num_seqs: req.space.max_num_seqs.iter().copied().max().unwrap_or(1),
        max_batched_tokens: req.space.max_batched_tokens[0],
    };
    let prepared = Prepared::new(arch);
    let start = Instant::now();
    let _ = serve_plan::evaluate(&prepared, accs, req, &probe);
    let one = start.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (count.machines as f64 * 3.0 + count.setups as f64 / 64.0) * one / threads
}

/// Plan serving.
pub(super) fn run_serve(args: &PlanServeArgs) -> Result<PlanServeReport, AppError> {
    let loaded = model::load(&args.model)?;
    let arch = &loaded.arch;
    let accs = args.accelerators()?;
    let req = args.request();
    serve_plan::validate(&accs, &req)?;
    let count = req.space.count(arch, &accs);
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
            entry,
        })
        .collect();
    let why = why(&rows, &req);
    let assumptions = assumptions(args, &req, &accs, &count);
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
fn up3(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return x;
    }
    let scale = 10f64.powi(2 - x.log10().floor() as i32);
    (x * scale).ceil() / scale
}

/// `2×GH200 (2 replicas × tp 1), fp8-e4m3 weights, fp8 KV, 256 seqs, 8192-token steps`.
fn setup_text(c: &ServeCandidate, accelerator: &str) -> String {
    format!(
        "{}×{accelerator} ({} × tp {}), {} weights, {} KV, {} seqs, {}-token steps",
        c.gpus(),
        replicas_text(c.replicas),
        c.tp,
        c.weights,
        c.kv_dtype.name(),
        c.max_num_seqs,
        c.max_batched_tokens
    )
}

fn replicas_text(n: u64) -> String {
    if n == 1 {
        "1 replica".into()
    } else {
        format!("{n} replicas")
    }
}

fn load_text(load: ServeLoad) -> String {
    match load {
        ServeLoad::Rate { per_sec } => format!("{} req/s", humanize::sig3(per_sec)),
        ServeLoad::Users { users } => format!("{} users", humanize::grouped(users)),
    }
}

fn empty_space(args: &PlanServeArgs, heads: u64, req: &ServePlanRequest) -> AppError {
    let s = &req.space;
    let tps: Vec<String> = s.tp.iter().map(u64::to_string).collect();
    AppError::Usage {
        flag: "--tp",
        value: tps.join(","),
        problem: format!(
            "no setup to search: no tensor-parallel size in `--tp` divides the model's {heads} attention heads, fits in the GPU counts `--gpus` {} and runs on the accelerators asked ({}; tp > 1 needs a GPU link), or no weight format runs on them",
            gpus_text(&s.gpus),
            if args.gpu.is_empty() { "the catalog's data-centre GPUs".to_string() } else { args.gpu.join(",") }
        ),
        hint: Some(format!(
            "use `--tp` values that divide {heads} (1, 2, 4, 8), `--gpus` counts that are multiples of them, or other `--weights`"
        )),
    }
}

fn nothing_meets(
    args: &PlanServeArgs,
    req: &ServePlanRequest,
    tally: &ServeTally,
    confirmed: &ConfirmTally,
    miss: Option<&ServeMiss>,
) -> AppError {
    let t = &req.targets;
    let searched = format!(
        "{} setups evaluated, {} kept at steady state ({} without room for one request, {} over capacity, {} over a latency target), {} simulated",
        humanize::grouped(tally.evaluated),
        humanize::grouped(tally.kept),
        humanize::grouped(tally.no_room),
        humanize::grouped(tally.over_capacity),
        humanize::grouped(tally.over_latency),
        confirmed.simulated
    );
    let Some(miss) = miss else {
        return AppError::Usage {
            flag: "--gpu",
            value: args.gpu.join(","),
            problem: format!("nothing meets the targets and no setup could be priced: {searched}"),
            hint: None,
        };
    };
    let setup = setup_text(&miss.candidate, &miss.accelerator);
    let c = &miss.candidate;
    let (flag, value, problem, hint) = match (miss.reason, &miss.simulated) {
        (Some(MissReason::NoRoom { needed_bytes, capacity_bytes }), _) => (
            "--gpu",
            miss.accelerator.clone(),
            format!(
                "the nearest miss, {setup}, needs {} per GPU for one {}-token request against its {}",
                humanize::bytes(needed_bytes, humanize::ByteUnits::Binary),
                humanize::grouped(req.workload.context()),
                humanize::bytes(capacity_bytes, humanize::ByteUnits::Binary),
            ),
            format!(
                "a GPU with {} or more, more `--tp`, smaller `--weights` or `--kv-dtype`, or a shorter `--context` would fit one request",
                humanize::bytes(needed_bytes, humanize::ByteUnits::Binary)
            ),
        ),
        (
            Some(MissReason::OverCapacity {
                offered_per_replica,
                carried_per_replica,
                cap,
                cap_by_memory,
            }),
            _,
        ) => {
            let replicas = ((offered_per_replica * c.replicas as f64) / carried_per_replica.max(1e-12))
                .ceil()
                .max(c.replicas as f64 + 1.0) as u64;
            (
                "--gpus",
                gpus_text(&req.space.gpus),
                format!(
                    "the nearest miss, {setup}, completes {} requests/s per replica at its cap of {cap} in flight (set by {}) against the {} each replica must: {} short",
                    humanize::sig3(carried_per_replica),
                    if cap_by_memory { "the KV cache" } else { "`--max-num-seqs`" },
                    humanize::sig3(offered_per_replica),
                    humanize::percent(miss.ratio - 1.0),
                ),
                format!(
                    "{replicas} replicas ({} GPUs) would carry {} at steady state: allow them with `--gpus`{}; or a lower `--rate`",
                    replicas.saturating_mul(c.tp),
                    load_text(req.load),
                    if cap_by_memory { "" } else { ", or a larger `--max-num-seqs`" }
                ),
            )
        }
        (Some(MissReason::TooManyUsers { per_replica, cap, cap_by_memory }), _) => {
            let users = req.load.value() as u64;
            let replicas = users.div_ceil(cap.max(1));
            (
                "--gpus",
                gpus_text(&req.space.gpus),
                format!(
                    "the nearest miss, {setup}, holds {cap} requests in flight per replica (set by {}) against the {per_replica} users each must hold",
                    if cap_by_memory { "the KV cache" } else { "`--max-num-seqs`" },
                ),
                format!(
                    "{replicas} replicas ({} GPUs) would hold {users} users: allow them with `--gpus`; or fewer `--users`",
                    replicas.saturating_mul(c.tp)
                ),
            )
        }
        (Some(MissReason::Latency { concurrency, ttft_seconds, tpot_seconds }), _) => {
            latency_miss(t, &setup, &format!("at steady state with {concurrency} requests in flight per replica"), ttft_seconds, tpot_seconds, "the steady-state TTFT is one prompt's prefill: a faster GPU or more `--tp` shortens it")
        }
        (None, Some(sim)) => {
            if matches!(sim.state, RunState::Overloaded { .. } | RunState::StepCap { .. }) {
                (
                    "--rate",
                    load_text(req.load),
                    format!(
                        "the nearest miss, {setup}, meets the targets at steady state but its simulation reaches no steady state (the queue grows)"
                    ),
                    "allow more GPUs with `--gpus` (each refused setup was retried with more replicas up to the space's limit), or a lower load".to_string(),
                )
            } else {
                latency_miss(
                    t,
                    &setup,
                    &format!("in simulation at {}", load_text(req.load)),
                    t.percentile.of(&sim.ttft),
                    t.percentile.of(&sim.tpot),
                    "the simulation adds queueing to the steady state; allow more GPUs with `--gpus` (refused setups were retried with more replicas up to the space's limit)",
                )
            }
        }
        (None, None) => (
            "--gpu",
            args.gpu.join(","),
            format!("the nearest miss is {setup}"),
            String::new(),
        ),
    };
    AppError::Usage {
        flag,
        value,
        problem: format!("nothing meets the targets: {searched}; {problem}"),
        hint: (!hint.is_empty()).then_some(hint),
    }
}

/// The latency targets a miss breaks, and the targets that would accept it.
fn latency_miss(
    t: &LatencyTargets,
    setup: &str,
    at: &str,
    ttft: f64,
    tpot: f64,
    why: &str,
) -> (&'static str, String, String, String) {
    let pct = format!("p{}", t.percentile.number());
    let mut missed = Vec::new();
    let mut accept = Vec::new();
    if ttft > t.ttft_seconds {
        missed.push(format!(
            "{pct} TTFT {} against {} ({} over)",
            humanize::seconds(ttft),
            humanize::seconds(t.ttft_seconds),
            humanize::percent(ttft / t.ttft_seconds - 1.0)
        ));
        accept.push(format!("`--ttft {}`", up3(ttft)));
    }
    if tpot > t.tpot_seconds {
        missed.push(format!(
            "{pct} TPOT {} against {} ({} over)",
            humanize::seconds(tpot),
            humanize::seconds(t.tpot_seconds),
            humanize::percent(tpot / t.tpot_seconds - 1.0)
        ));
        accept.push(format!("`--tpot {}`", up3(tpot)));
    }
    let (flag, value) = if ttft / t.ttft_seconds >= tpot / t.tpot_seconds {
        ("--ttft", t.ttft_seconds.to_string())
    } else {
        ("--tpot", t.tpot_seconds.to_string())
    };
    (
        flag,
        value,
        format!("the nearest miss, {setup}, {at}: {}", missed.join(", ")),
        format!("{} would accept it; {why}", accept.join(" and ")),
    )
}

/// What differs between two setups, as flags read.
fn differences(a: &ServeEntry, b: &ServeEntry) -> Vec<String> {
    let (x, y) = (&a.candidate, &b.candidate);
    let mut d = Vec::new();
    if a.accelerator != b.accelerator {
        d.push(format!("{} vs {}", a.accelerator, b.accelerator));
    }
    for (name, p, q) in [
        ("GPUs", x.gpus(), y.gpus()),
        ("replicas", x.replicas, y.replicas),
        ("tp", x.tp, y.tp),
    ] {
        if p != q {
            d.push(format!("{name} {p} vs {q}"));
        }
    }
    if x.weights != y.weights {
        d.push(format!("{} vs {} weights", x.weights, y.weights));
    }
    if x.kv_dtype != y.kv_dtype {
        d.push(format!("{} vs {} KV", x.kv_dtype.name(), y.kv_dtype.name()));
    }
    if x.max_num_seqs != y.max_num_seqs {
        d.push(format!("{} vs {} seqs", x.max_num_seqs, y.max_num_seqs));
    }
    if x.max_batched_tokens != y.max_batched_tokens {
        d.push(format!(
            "{} vs {}-token steps",
            x.max_batched_tokens, y.max_batched_tokens
        ));
    }
    d
}

/// One sentence on why #1 ranks above #2.
fn why(rows: &[ServeRow], req: &ServePlanRequest) -> Option<String> {
    let (first, second) = (&rows.first()?.entry, &rows.get(1)?.entry);
    let pct = format!("p{}", req.targets.percentile.number());
    let diff = differences(first, second).join(", ");
    let sim = |e: &ServeEntry| {
        format!(
            "{pct} TTFT {} and TPOT {}",
            humanize::seconds(req.targets.percentile.of(&e.simulated.ttft)),
            humanize::seconds(req.targets.percentile.of(&e.simulated.tpot))
        )
    };
    let price = |e: &ServeEntry| e.steady.usd_per_hour.unwrap_or(f64::NAN);
    let per_gpu = |e: &ServeEntry| e.steady.capacity_output_tokens_per_sec_per_gpu;
    Some(match req.by {
        ServeRankBy::Cost if price(first) < price(second) => {
            let hourly = |e: &ServeEntry| price(e) / e.steady.gpus.max(1) as f64;
            format!(
                "#1 costs ${}/h against ${}/h for #2 ({diff}): both meet the targets in simulation, and #1 needs {} GPU(s) at ${}/h where #2 needs {} at ${}/h",
                humanize::sig3(price(first)),
                humanize::sig3(price(second)),
                first.steady.gpus,
                humanize::sig3(hourly(first)),
                second.steady.gpus,
                humanize::sig3(hourly(second)),
            )
        }
        ServeRankBy::Cost => format!(
            "#1 and #2 cost the same (${}/h; {diff}): #1's simulation is further inside the targets ({} against {})",
            humanize::sig3(price(first)),
            sim(first),
            sim(second)
        ),
        ServeRankBy::Throughput => format!(
            "#1 serves {} output tokens/s per GPU at its steady-state capacity against {} for #2 ({diff}), both within the targets",
            humanize::sig3(per_gpu(first)),
            humanize::sig3(per_gpu(second))
        ),
    })
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
            "aggregated: prefill and decode share each replica; disaggregated prefill and decode pools are not searched",
            scope,
        ),
        Assumption::new(
            "parallelism",
            "tensor parallelism within a replica, replicas independent; pipeline and expert parallelism are not searched (the serving estimate models neither)",
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
                "{} requests per replica, seed {}; {}",
                req.simulation.requests_per_replica,
                req.simulation.seed,
                match req.load {
                    ServeLoad::Rate { .. } => "Poisson arrivals split evenly among the replicas",
                    ServeLoad::Users { .. } => "a closed loop of users, rounded up to a multiple of the replicas",
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
                ServeRankBy::Cost => "US dollars per hour, then the simulated margin (the larger of percentile TTFT and TPOT over their targets)",
                ServeRankBy::Throughput => "output tokens per second per GPU at the steady-state capacity, then US dollars per hour, then the simulated margin",
            },
            "`--by` (cost unless asked)",
        ),
        Assumption::new(
            "cost per million output tokens",
            "at the load served, every GPU billed busy or not",
            "DESIGN.md \"Inference\"",
        ),
    ];
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

impl Report for PlanServeReport {
    fn view(&self) -> View {
        let req = &self.request;
        let t = &req.targets;
        let pct = format!("p{}", t.percentile.number());
        let w = &req.workload;
        let ttft_head = format!("{pct} TTFT ≤ {}", humanize::seconds(t.ttft_seconds));
        let tpot_head = format!("{pct} TPOT ≤ {}", humanize::seconds(t.tpot_seconds));
        let headroom_head = format!(
            "targets hold to ({})",
            match req.load {
                ServeLoad::Rate { .. } => "req/s",
                ServeLoad::Users { .. } => "users",
            }
        );
        let columns: Vec<(&str, &str)> = vec![
            ("#", "rank"),
            ("$/h", "usd_per_hour"),
            ("$/M out", "usd_per_million_output_tokens"),
            ("GPUs", "gpus"),
            ("GPU", "accelerator"),
            ("replicas × tp", "layout"),
            ("weights", "weights"),
            ("KV", "kv_dtype"),
            ("seqs", "max_num_seqs"),
            ("step", "max_batched_tokens"),
            ("in flight", "concurrency"),
            (&ttft_head, "simulated_ttft_seconds"),
            (&tpot_head, "simulated_tpot_seconds"),
            (&headroom_head, "headroom"),
        ];
        let mut top = Table::new(
            Some(&format!(
                "{} ({}): the {} best of {} setups that meet {pct} TTFT ≤ {} and TPOT ≤ {} at {} ({}-token prompts, {}-token outputs), by {}, confirmed by simulation",
                self.model.name,
                self.model.description(),
                self.rows.len(),
                humanize::grouped(self.plan.tally.kept),
                humanize::seconds(t.ttft_seconds),
                humanize::seconds(t.tpot_seconds),
                load_text(req.load),
                humanize::grouped(w.prompt),
                humanize::grouped(w.output),
                match req.by {
                    ServeRankBy::Cost => "cost",
                    ServeRankBy::Throughput => "throughput per GPU",
                },
            )),
            &columns,
        );
        for r in &self.rows {
            let e = &r.entry;
            let c = &e.candidate;
            let s = &e.steady;
            top.row(vec![
                Cell::Exact(r.rank as u64),
                s.usd_per_hour
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                s.usd_per_million_output_tokens
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                Cell::Exact(c.gpus()),
                Cell::Text(e.accelerator.clone()),
                Cell::Text(format!("{} × {}", c.replicas, c.tp)),
                Cell::Text(c.weights.to_string()),
                Cell::Text(c.kv_dtype.name().into()),
                Cell::Exact(c.max_num_seqs),
                Cell::Exact(c.max_batched_tokens),
                Cell::Exact(s.concurrency),
                Cell::Seconds(t.percentile.of(&e.simulated.ttft)),
                Cell::Seconds(t.percentile.of(&e.simulated.tpot)),
                Cell::Number(e.headroom.meets, ""),
            ]);
        }
        let mut tables = vec![top];
        let mut notes = Vec::new();
        if let Some(first) = self.rows.first() {
            let e = &first.entry;
            let s = &e.steady;
            let sim = &e.simulated;
            let mut one = Table::new(
                Some(&format!(
                    "#1 at {}: steady state (`sizeup infer --concurrency {}`) and simulation",
                    load_text(req.load),
                    s.concurrency
                )),
                &[
                    ("quantity", "quantity"),
                    ("steady state", "steady"),
                    ("simulated", "simulated"),
                    ("target", "target"),
                ],
            );
            let mut row = |name: &str, steady: Cell, simulated: Cell, target: Cell| {
                one.row(vec![Cell::Text(name.into()), steady, simulated, target])
            };
            row(
                &format!("time to first token ({pct})"),
                Cell::Seconds(s.ttft_seconds),
                Cell::Seconds(t.percentile.of(&sim.ttft)),
                Cell::Seconds(t.ttft_seconds),
            );
            row(
                &format!("time per output token ({pct})"),
                Cell::Seconds(s.tpot_seconds),
                Cell::Seconds(t.percentile.of(&sim.tpot)),
                Cell::Seconds(t.tpot_seconds),
            );
            row(
                &format!("end to end ({pct})"),
                Cell::Seconds(e.estimate.schedule.end_to_end_seconds),
                Cell::Seconds(t.percentile.of(&sim.e2e)),
                Cell::Empty,
            );
            row(
                "output tokens/s, all replicas",
                Cell::Number(s.served_output_tokens_per_sec, "tokens/s"),
                Cell::Number(sim.output_tokens_per_sec, "tokens/s"),
                Cell::Empty,
            );
            row(
                "KV pool use (mean)",
                Cell::Empty,
                Cell::Ratio(sim.kv_pool_use.mean),
                Cell::Empty,
            );
            row(
                "queue (mean / max)",
                Cell::Empty,
                Cell::Text(format!(
                    "{} / {}",
                    humanize::sig3(sim.queue.mean),
                    humanize::sig3(sim.queue.max)
                )),
                Cell::Empty,
            );
            row(
                "load at which the targets break",
                Cell::Number(s.capacity, ""),
                Cell::Text(match e.headroom.breaks {
                    Some(b) => format!(
                        "{} ({}× the load), broken by {}",
                        humanize::sig3(e.headroom.meets),
                        humanize::sig3(e.headroom.over_load),
                        humanize::sig3(b)
                    ),
                    None => format!(
                        "beyond {} ({}× the load)",
                        humanize::sig3(e.headroom.meets),
                        humanize::sig3(e.headroom.over_load)
                    ),
                }),
                Cell::Empty,
            );
            tables.push(one);
            if let Some(why) = &self.why {
                notes.push(format!("why #1: {why}"));
            }
            notes.push(format!(
                "reproduce #1: sizeup infer {} {}",
                self.model.name,
                first.infer_args.join(" ")
            ));
        }
        let mut pareto = Table::new(
            Some("Pareto front at steady state: throughput per GPU against tokens/s per user (per GPU count, the setup fastest per user)"),
            &[
                ("GPUs", "gpus"),
                ("tokens/s per GPU", "output_tokens_per_sec_per_gpu"),
                ("tokens/s per user", "tokens_per_sec_per_user"),
                ("$/h", "usd_per_hour"),
                ("setup", "setup"),
            ],
        );
        for p in &self.pareto {
            pareto.row(vec![
                Cell::Exact(p.gpus),
                Cell::Number(p.output_tokens_per_sec_per_gpu, "tokens/s"),
                Cell::Number(p.tokens_per_sec_per_user, "tokens/s"),
                p.steady
                    .usd_per_hour
                    .map_or(Cell::Empty, |u| Cell::Number(u, "USD")),
                Cell::Text(setup_text(
                    &p.candidate,
                    self.plan
                        .accelerators
                        .get(p.candidate.accelerator)
                        .map_or("", String::as_str),
                )),
            ]);
        }
        tables.push(pareto);
        let tl = &self.plan.tally;
        let cf = &self.plan.confirmed;
        let mut search = Table::new(
            Some("The search"),
            &[("quantity", "quantity"), ("value", "value")],
        );
        let mut row = |name: &str, c: Cell| search.row(vec![Cell::Text(name.into()), c]);
        row("setups in the space", Cell::Exact(self.plan.space.setups));
        row(
            "  machines (GPU × weights × tp × KV)",
            Cell::Exact(self.plan.space.machines),
        );
        row("evaluated at steady state", Cell::Exact(tl.evaluated));
        row("  kept (fit and meet both targets)", Cell::Exact(tl.kept));
        row("  no room for one request", Cell::Exact(tl.no_room));
        row("  over capacity", Cell::Exact(tl.over_capacity));
        row("  over a latency target", Cell::Exact(tl.over_latency));
        row("  passes priced", Cell::Exact(tl.passes_priced));
        row(
            "steady-state time",
            Cell::Seconds(self.speed.steady_seconds),
        );
        row(
            "evaluated per second",
            Cell::Number(self.speed.setups_per_second, "setups/s"),
        );
        row("front handed to the simulation", Cell::Exact(cf.front));
        row("  simulated", Cell::Exact(cf.simulated));
        row("  confirmed", Cell::Exact(cf.confirmed));
        row("  refused", Cell::Exact(cf.refused));
        row(
            "  retried with more replicas",
            Cell::Exact(cf.with_more_replicas),
        );
        row("headroom simulations", Cell::Exact(cf.headroom_simulations));
        row("engine steps simulated", Cell::Exact(cf.steps));
        row(
            "simulation time",
            Cell::Seconds(self.speed.simulation_seconds),
        );
        tables.push(search);
        let s = &req.space;
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        notes.push(format!(
            "space: {} accelerators ({}); GPUs {}; tp {}; weights {}; KV {}; max_num_seqs {}; max_num_batched_tokens {}; replicas: every count whose GPUs are allowed",
            self.plan.accelerators.len(),
            self.plan.accelerators.join(","),
            gpus_text(&s.gpus),
            list(&s.tp),
            s.weights.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(","),
            s.kv_dtypes.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
            list(&s.max_num_seqs),
            list(&s.max_batched_tokens),
        ));
        notes.extend(model::assumption_notes(&self.assumptions));
        View { tables, notes }
    }
}
