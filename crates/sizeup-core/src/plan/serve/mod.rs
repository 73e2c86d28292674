//! `plan serve`: the cheapest serving setups that carry a load within latency
//! targets.
//!
//! # Two tiers
//! 1. **Steady state** ([`steady`]): every setup of the [`ServeSpace`]
//!    (accelerator, tensor-parallel size, weight format, KV precision, the
//!    engine's sequence cap and step budget, replicas) is priced at its
//!    operating point by the serving estimate's own functions
//!    ([`crate::inference::Replica`], [`crate::inference::schedule`]): the
//!    fewest requests in flight per replica whose steady-state throughput
//!    carries the load. Those that fit and meet both targets there are kept,
//!    streamed through a top N (the front) and a Pareto front of throughput per
//!    GPU against tokens per second per user; memory stays flat in the number
//!    of setups.
//! 2. **Simulation** ([`confirm`]): the front, best first, runs the event
//!    simulation ([`crate::inference::sim::simulate`]) at the requested load.
//!    A setup is confirmed when the requested percentile of TTFT and TPOT meets
//!    the targets in a steady state; one that misses is tried again with the
//!    next replica count the space allows. The rows are the confirmed setups,
//!    ranked by their score, then by the simulated margin; each gets its
//!    headroom, the load at which the targets break, by bisecting the load with
//!    the simulation.
//!
//! Nothing is priced by a formula of the plan's own: a row's request, run
//! through [`crate::inference::estimate`] and [`crate::inference::sim::simulate`]
//! (as `sizeup infer` does with the row's flags), gives the row's numbers to
//! the last bit.
//!
//! # Aggregated and disaggregated
//! An aggregated setup's replicas run prefill and decode together; a
//! disaggregated one ([`split`]) runs prompts on a pool of prefill replicas and
//! hands each prompt's KV cache to a pool of decode replicas (DistServe,
//! Splitwise). The simulation runs a disaggregated setup's two pools apart
//! ([`confirm`]).
//!
//! # Assumptions / limits
//! A replica is `pp` pipeline stages of `tp` tensor-parallel GPUs, `pp` batches
//! in flight (aggregated setups of pipelining engines only); expert parallelism
//! is not searched (the serving estimate shards experts as tensor parallelism).

pub mod confirm;
pub mod space;
pub mod split;
pub mod steady;

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::dtype::{KvDtype, WeightFormat, WeightOptions};
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::inference::sim::{Arrivals, Dist, Lengths, Percentiles, SimRequest, MAX_REQUESTS};
use crate::inference::{Engine, InferEstimate, InferRequest, Load, Prepared, StageSchedule};

pub use confirm::{
    confirm, ConfirmTally, Confirmed, Headroom, HeadroomMethod, ServeEntry, Simulated,
};
pub use space::{default_accelerators, Machine, ServeSpace, SpaceCount, DEFAULT_MAX_GPUS};
pub use split::SplitSteady;
pub use steady::{
    evaluate, search_steady, Miss, MissReason, ParetoPoint, Ranked, ServeTally, Steady, SteadyFound,
};

/// The load a serving plan must carry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ServeLoad {
    /// Poisson arrivals at this many requests per second, all replicas together.
    Rate {
        /// Requests per second.
        per_sec: f64,
    },
    /// This many users, each with one request in flight: the next as soon as
    /// the last is answered (a closed loop without think time).
    Users {
        /// Users.
        users: u64,
    },
}

impl ServeLoad {
    /// The same kind of load at `value` (requests per second, or users rounded up).
    pub fn at(self, value: f64) -> ServeLoad {
        match self {
            ServeLoad::Rate { .. } => ServeLoad::Rate { per_sec: value },
            ServeLoad::Users { .. } => ServeLoad::Users {
                users: value.ceil().max(1.0) as u64,
            },
        }
    }

    /// Its size: requests per second, or users.
    pub fn value(self) -> f64 {
        match self {
            ServeLoad::Rate { per_sec } => per_sec,
            ServeLoad::Users { users } => users as f64,
        }
    }
}

/// Which percentile of the simulated latencies the targets bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Percentile {
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
}

impl Percentile {
    /// Every percentile the simulation reports.
    pub const ALL: [Percentile; 4] = [
        Percentile::P50,
        Percentile::P90,
        Percentile::P95,
        Percentile::P99,
    ];

    /// Its number (`95`).
    pub fn number(self) -> u8 {
        match self {
            Percentile::P50 => 50,
            Percentile::P90 => 90,
            Percentile::P95 => 95,
            Percentile::P99 => 99,
        }
    }

    /// The percentile of that number, if the simulation reports it.
    pub fn of_number(n: u8) -> Option<Percentile> {
        Percentile::ALL.into_iter().find(|p| p.number() == n)
    }

    /// This percentile of `p`.
    pub fn of(self, p: &Percentiles) -> f64 {
        match self {
            Percentile::P50 => p.p50,
            Percentile::P90 => p.p90,
            Percentile::P95 => p.p95,
            Percentile::P99 => p.p99,
        }
    }
}

/// The latency a setup must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LatencyTargets {
    /// Longest time to first token, seconds.
    pub ttft_seconds: f64,
    /// Longest time per output token, seconds.
    pub tpot_seconds: f64,
    /// The percentile of the simulated latencies they bound (the steady state
    /// has one figure each).
    pub percentile: Percentile,
}

impl LatencyTargets {
    /// How far a setup's latencies sit from the targets: the larger of TTFT over
    /// its target and TPOT over its target (at most 1 meets both).
    pub fn ratio(&self, ttft_seconds: f64, tpot_seconds: f64) -> f64 {
        (ttft_seconds / self.ttft_seconds).max(tpot_seconds / self.tpot_seconds)
    }

    /// The miss of latencies above a target at `concurrency` requests in flight,
    /// or `None` where both targets hold.
    pub fn miss(
        &self,
        concurrency: u64,
        ttft_seconds: f64,
        tpot_seconds: f64,
    ) -> Option<steady::MissReason> {
        (ttft_seconds > self.ttft_seconds || tpot_seconds > self.tpot_seconds).then_some(
            steady::MissReason::Latency {
                concurrency,
                ttft_seconds,
                tpot_seconds,
            },
        )
    }
}

/// What the plan ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServeRankBy {
    /// US dollars per hour for the deployment (GPUs · price), cheapest first.
    Cost,
    /// Output tokens per second per GPU at the steady-state capacity within the
    /// targets, highest first.
    Throughput,
}

/// What every request carries, whatever the setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeWorkload {
    /// Prompt tokens per request.
    pub prompt: u64,
    /// Output tokens per request.
    pub output: u64,
    /// Context each request may reach (sizes the KV cache); `None`: prompt + output.
    pub context: Option<u64>,
    /// The serving engine (its profile on each accelerator).
    pub engine: Engine,
    /// Options of the weight formats.
    pub weight_options: WeightOptions,
    /// Price per GPU-hour for every accelerator; `None`: the catalog's.
    pub price_per_gpu_hour: Option<f64>,
}

impl ServeWorkload {
    /// The workload a prefill pool runs: the same prompts, one output token each.
    pub fn one_token(&self) -> ServeWorkload {
        ServeWorkload {
            output: 1,
            ..self.clone()
        }
    }

    /// The context the KV cache is sized for.
    pub fn context(&self) -> u64 {
        self.context
            .unwrap_or(self.prompt.saturating_add(self.output))
    }
}

/// The simulation's bounds for each setup it confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SimBounds {
    /// Requests the simulated replica serves (the whole deployment sends this
    /// many times the replicas).
    pub requests_per_replica: u64,
    /// Seed of the arrivals.
    pub seed: u64,
    /// Engine steps at most per run.
    pub max_steps: u64,
}

/// Requests per replica the plan simulates by default: enough for a 99th
/// percentile of 5 samples above it, few enough for a run of a few milliseconds.
pub const DEFAULT_REQUESTS_PER_REPLICA: u64 = 500;

/// A serving plan to search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServePlanRequest {
    /// What every request carries.
    pub workload: ServeWorkload,
    /// The setups to search.
    pub space: ServeSpace,
    /// The load.
    pub load: ServeLoad,
    /// The latency targets.
    pub targets: LatencyTargets,
    /// The ranking.
    pub by: ServeRankBy,
    /// Rows to show.
    pub top: usize,
    /// The simulation's bounds.
    pub simulation: SimBounds,
}

impl ServePlanRequest {
    /// Every machine of the space on `accs`, with the expert groups the engine
    /// allows ([`ServeSpace::machines`]).
    pub fn machines(&self, arch: &Architecture, accs: &[Accelerator]) -> Vec<Machine> {
        self.space
            .machines(arch, accs, self.workload.engine.expert_groups())
    }

    /// The size of the space on `accs`, counted without pricing it.
    pub fn count(&self, arch: &Architecture, accs: &[Accelerator]) -> SpaceCount {
        self.space
            .count(arch, accs, self.workload.engine.expert_groups())
    }
}

/// The prefill pool of a disaggregated setup: replicas that only run prompts
/// and hand their KV cache to the decode replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PrefillPool {
    /// Tensor-parallel ranks per prefill replica.
    pub tp: u64,
    /// Prefill replicas.
    pub replicas: u64,
}

impl PrefillPool {
    /// GPUs of the pool, `tp · replicas`.
    pub fn gpus(&self) -> u64 {
        self.tp.saturating_mul(self.replicas)
    }
}

/// One serving setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeCandidate {
    /// Index of the accelerator in the plan's list.
    pub accelerator: usize,
    /// Tensor-parallel ranks per replica (per decode replica when disaggregated).
    pub tp: u64,
    /// Pipeline stages per replica, each of `tp` GPUs (1 when disaggregated).
    #[serde(default = "crate::inference::one")]
    pub pp: u64,
    /// Data-parallel attention groups of `tp` GPUs per replica (1: none).
    #[serde(default = "crate::inference::one")]
    pub attention_dp: u64,
    /// Expert-parallel groups of the `tp · attention_dp` ranks (1: none; all of
    /// them: whole experts).
    #[serde(default = "crate::inference::one")]
    pub ep: u64,
    /// Replicas serving independently (decode replicas when disaggregated).
    pub replicas: u64,
    /// Disaggregated: the prefill pool beside the `replicas` decode replicas;
    /// `None`: aggregated, each replica runs prefill and decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<PrefillPool>,
    /// Weight format.
    pub weights: WeightFormat,
    /// KV cache precision.
    pub kv_dtype: KvDtype,
    /// Sequences each replica's engine runs at once (vLLM `max_num_seqs`); with
    /// data-parallel attention, each group's engine.
    pub max_num_seqs: u64,
    /// New tokens per engine step (vLLM `max_num_batched_tokens`): the prefill
    /// chunk, which also sizes the activation workspace.
    pub max_batched_tokens: u64,
}

impl ServeCandidate {
    /// A disaggregated setup's prefill pool as a setup of its own (its replicas,
    /// its tensor parallelism, the same formats and engine caps); `None` when
    /// aggregated.
    pub fn prefill_side(&self) -> Option<ServeCandidate> {
        let pool = self.prefill?;
        Some(ServeCandidate {
            tp: pool.tp,
            pp: 1,
            attention_dp: 1,
            ep: 1,
            replicas: pool.replicas,
            prefill: None,
            ..*self
        })
    }

    /// The request rate a disaggregated setup's prefill pool serves under
    /// `load`: the load's rate, or under a user count the rate at which the
    /// decode pool completes requests (`decode_requests_per_sec`, its simulation's).
    pub fn prefill_rate(load: ServeLoad, decode_requests_per_sec: f64) -> f64 {
        match load {
            ServeLoad::Rate { per_sec } => per_sec,
            ServeLoad::Users { .. } => decode_requests_per_sec,
        }
    }

    /// Milliseconds a disaggregated setup's decode pool sees each request spend
    /// before it: under a user count, the prefill pool's steady-state wait,
    /// prefill and KV transfer (a closed loop's client waits through them before
    /// its request reaches a decode replica); under a rate, 0 (a constant delay
    /// of Poisson arrivals leaves them Poisson). Given to the decode pool's
    /// simulation as its per-request overhead (`--request-overhead-ms`).
    pub fn decode_pool_lead_ms(load: ServeLoad, split: &SplitSteady) -> f64 {
        match load {
            ServeLoad::Rate { .. } => 0.0,
            ServeLoad::Users { .. } => {
                (split.queue_seconds + split.prefill_seconds + split.transfer_seconds) * 1e3
            }
        }
    }

    /// GPUs in all: `tp · pp · attention_dp · replicas`, plus the prefill pool's
    /// when disaggregated.
    pub fn gpus(&self) -> u64 {
        self.replica_gpus()
            .saturating_add(self.prefill.map_or(0, |p| p.gpus()))
    }

    /// GPUs of the (decode) replicas, `tp · pp · attention_dp · replicas`.
    pub fn replica_gpus(&self) -> u64 {
        self.gpus_per_replica().saturating_mul(self.replicas)
    }

    /// GPUs of one (decode) replica ([`crate::inference::replica_devices`]; `u64::MAX` past it).
    pub fn gpus_per_replica(&self) -> u64 {
        crate::inference::replica_devices(self.tp, self.pp, self.attention_dp).unwrap_or(u64::MAX)
    }

    /// The request `sizeup infer` builds from this setup's flags: on `gpu`
    /// with `workload`'s lengths and engine, `concurrency` requests in flight
    /// per replica, the activation workspace sized for the step budget. For a
    /// disaggregated setup, its decode replicas.
    pub fn request(
        &self,
        workload: &ServeWorkload,
        gpu: &Accelerator,
        concurrency: u64,
    ) -> InferRequest {
        let mut req = InferRequest::new(gpu, workload.engine);
        req.gpus = self.replica_gpus();
        req.tp = self.tp;
        req.pp = self.pp;
        req.ep = self.ep;
        req.attention_dp = self.attention_dp;
        req.weights = self.weights;
        req.weight_options = workload.weight_options;
        req.kv_dtype = self.kv_dtype;
        req.context = workload.context;
        req.prompt = workload.prompt;
        req.output = workload.output;
        req.load = Load::Concurrency(concurrency);
        req.price_per_gpu_hour = workload.price_per_gpu_hour;
        // as `--prefill-chunk` sets it: the plan chose it
        req.profile.prefill_chunk_tokens = Some(self.max_batched_tokens);
        req.profile.mark_overridden(&["prefill_chunk"]);
        req
    }

    /// The simulation `sizeup infer --rate`/`--closed-loop` runs for this setup
    /// under `load`: fixed lengths, its engine caps, `bounds.requests_per_replica`
    /// requests on the simulated engine (a replica, or one of its batches in
    /// flight). Users are rounded up to a multiple of the engines (each serves
    /// the same number).
    pub fn simulation(
        &self,
        workload: &ServeWorkload,
        load: ServeLoad,
        bounds: &SimBounds,
    ) -> SimRequest {
        let engines = self
            .replicas
            .max(1)
            .saturating_mul(workload.engine.batches_in_flight(self.pp))
            .saturating_mul(self.attention_dp.max(1));
        let mut sim = SimRequest::poisson(1.0, workload.prompt, workload.output);
        sim.arrivals = match load {
            ServeLoad::Rate { per_sec } => Arrivals::Poisson {
                rate_per_sec: per_sec,
            },
            ServeLoad::Users { users } => Arrivals::ClosedLoop {
                clients: users.div_ceil(engines).saturating_mul(engines),
            },
        };
        sim.lengths = Lengths::Drawn {
            prompt: Dist::Fixed {
                tokens: workload.prompt,
            },
            output: Dist::Fixed {
                tokens: workload.output,
            },
        };
        sim.requests = bounds.requests_per_replica.saturating_mul(engines);
        sim.seed = bounds.seed;
        sim.max_steps = bounds.max_steps;
        sim.scheduler.max_num_seqs = self.max_num_seqs;
        sim.scheduler.max_batched_tokens = self.max_batched_tokens;
        sim
    }
}

/// A setup that meets no target, and by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeMiss {
    /// The setup.
    pub candidate: ServeCandidate,
    /// The accelerator's name.
    pub accelerator: String,
    /// Why it misses at steady state; `None` when it meets the steady state and
    /// the simulation refused it.
    pub reason: Option<MissReason>,
    /// The largest ratio of a figure to its limit (1.2: 20% over).
    pub ratio: f64,
    /// Its simulation, when it reached one.
    pub simulated: Option<Simulated>,
    /// The estimate at its operating point, when it has one.
    pub estimate: Option<InferEstimate>,
}

/// The outcome of a serving plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServePlan {
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
    /// The best setups, best first.
    pub top: Vec<ServeEntry>,
    /// Throughput per GPU against tokens per second per user, over every
    /// setup kept at steady state.
    pub pareto: Vec<ParetoPoint>,
    /// With no row: the setup nearest to meeting the targets.
    pub nearest_miss: Option<ServeMiss>,
}

/// Setups the steady-state tier hands to the simulation: twice the engine-cap
/// variants of each row shown, at least 16 (the simulation confirms them best
/// first and stops early).
pub fn front_size(top: usize, space: &ServeSpace) -> usize {
    let variants = space.max_num_seqs.len() * space.max_batched_tokens.len();
    top.saturating_mul(variants)
        .saturating_mul(2)
        .clamp(16, 512)
}

/// Search every setup of `req.space` on `accs`: the steady-state tier, then the
/// simulation of its front.
///
/// # Errors
/// Those of [`validate`], of the model, and of the estimate or the simulation
/// for a setup of the front.
pub fn search(
    arch: &Architecture,
    accs: &[Accelerator],
    req: &ServePlanRequest,
) -> Result<ServePlan> {
    let prepared = Prepared::new(arch);
    let found = search_steady(&prepared, accs, req, front_size(req.top, &req.space))?;
    let confirmed = confirm(&prepared, accs, req, &found)?;
    Ok(ServePlan {
        by: req.by,
        accelerators: accs.iter().map(|a| a.name.clone()).collect(),
        space: req.count(arch, accs),
        tally: found.tally,
        confirmed: confirmed.tally,
        top: confirmed.top,
        pareto: found.pareto,
        nearest_miss: confirmed.nearest_miss,
    })
}

/// The largest `max_num_seqs` a plan accepts (each setup prices up to that
/// many decode batches).
pub const MAX_NUM_SEQS: u64 = 65_536;

/// The largest deployment a plan searches, 128 nodes of 8: the prefill/decode
/// splits of a count `g` number about `g/tp`, so their enumeration grows as the
/// square of the largest count.
pub const MAX_SERVE_GPUS: u64 = 1024;

/// The most values a plan's `tp`, `max_num_seqs` and `max_batched_tokens` axes
/// take (the GPU-count axis takes up to [`MAX_SERVE_GPUS`], every count once):
/// the space multiplies them, and a plan lists every machine before it can say
/// the space is too large.
pub const MAX_AXIS_VALUES: usize = 64;

/// The first value that appears twice in `values`, if any.
fn repeated<T: PartialEq>(values: &[T]) -> Option<&T> {
    values
        .iter()
        .enumerate()
        .find(|(i, v)| values[..*i].contains(v))
        .map(|(_, v)| v)
}

/// Check a plan request.
///
/// # Errors
/// [`CoreError::Zero`] or [`CoreError::Invalid`] naming the field: an empty
/// accelerator list or axis, an axis longer than its limit or with a value twice, a zero count, a top of 0, a non-positive load or
/// target, a context shorter than prompt + output, a ranking by cost where an
/// accelerator has no price.
pub fn validate(accs: &[Accelerator], req: &ServePlanRequest) -> Result<()> {
    let invalid = |field: &'static str, value: String, expected: &str| {
        Err(CoreError::Invalid {
            field,
            value,
            expected: expected.into(),
        })
    };
    if accs.is_empty() {
        return invalid("gpu", String::new(), "at least one accelerator");
    }
    if req.top == 0 {
        return Err(CoreError::Zero { field: "top" });
    }
    let s = &req.space;
    for (field, v) in [
        ("gpus", &s.gpus),
        ("tp", &s.tp),
        ("pp", &s.pp),
        ("attention_dp", &s.attention_dp),
        ("max_num_seqs", &s.max_num_seqs),
        ("max_batched_tokens", &s.max_batched_tokens),
    ] {
        if v.is_empty() || v.contains(&0) {
            return invalid(
                field,
                format!("{v:?}"),
                "one or more positive whole numbers",
            );
        }
    }
    let pipelines = req.workload.engine.stage_schedule() == Some(StageSchedule::Pipelined);
    if let Some(p) = s.pp.iter().find(|&&p| p > 1 && !pipelines) {
        return invalid(
            "pp",
            p.to_string(),
            &format!(
                "1: {} keeps no batches in flight across pipeline stages (the plan searches pp for vllm, sglang and trtllm)",
                req.workload.engine
            ),
        );
    }
    if s.expert_parallel.is_empty() {
        return invalid(
            "expert_parallel",
            "[]".into(),
            "false (experts split), true (held whole) or both",
        );
    }
    if let Some(d) = s
        .attention_dp
        .iter()
        .find(|&&d| d > 1 && req.workload.engine.attention_groups().is_none())
    {
        return invalid(
            "attention_dp",
            d.to_string(),
            &format!(
                "1: {}'s data-parallel attention is not modelled (the plan searches it for vllm, sglang and trtllm)",
                req.workload.engine
            ),
        );
    }
    if s.expert_parallel.contains(&true) && req.workload.engine.expert_groups().is_none() {
        return invalid(
            "expert_parallel",
            "true".into(),
            &format!(
                "false: {} has no expert parallelism (the plan searches it for vllm, sglang and trtllm)",
                req.workload.engine
            ),
        );
    }
    if let Some(g) = s.gpus.iter().find(|&&g| g > MAX_SERVE_GPUS) {
        return invalid(
            "gpus",
            g.to_string(),
            &format!("deployments of at most {MAX_SERVE_GPUS} GPUs"),
        );
    }
    // lengths first: finding a repeat is quadratic in the length
    for (field, len, most) in [
        ("gpus", s.gpus.len(), MAX_SERVE_GPUS as usize),
        ("tp", s.tp.len(), MAX_AXIS_VALUES),
        ("pp", s.pp.len(), MAX_AXIS_VALUES),
        ("attention_dp", s.attention_dp.len(), MAX_AXIS_VALUES),
        ("max_num_seqs", s.max_num_seqs.len(), MAX_AXIS_VALUES),
        (
            "max_batched_tokens",
            s.max_batched_tokens.len(),
            MAX_AXIS_VALUES,
        ),
        ("weights", s.weights.len(), MAX_AXIS_VALUES),
        ("kv_dtype", s.kv_dtypes.len(), MAX_AXIS_VALUES),
        ("disaggregated", s.disaggregated.len(), 2),
        ("expert_parallel", s.expert_parallel.len(), 2),
        ("gpu", accs.len(), MAX_AXIS_VALUES),
    ] {
        if len > most {
            return invalid(
                field,
                format!("{len} values"),
                &format!("at most {most} values"),
            );
        }
    }
    let twice = [
        ("gpus", repeated(&s.gpus).map(u64::to_string)),
        ("tp", repeated(&s.tp).map(u64::to_string)),
        ("pp", repeated(&s.pp).map(u64::to_string)),
        (
            "attention_dp",
            repeated(&s.attention_dp).map(u64::to_string),
        ),
        (
            "max_num_seqs",
            repeated(&s.max_num_seqs).map(u64::to_string),
        ),
        (
            "max_batched_tokens",
            repeated(&s.max_batched_tokens).map(u64::to_string),
        ),
        ("weights", repeated(&s.weights).map(ToString::to_string)),
        (
            "kv_dtype",
            repeated(&s.kv_dtypes).map(|k| k.name().to_string()),
        ),
        (
            "disaggregated",
            repeated(&s.disaggregated).map(ToString::to_string),
        ),
        (
            "gpu",
            repeated(&accs.iter().map(|a| &a.name).collect::<Vec<_>>()).map(ToString::to_string),
        ),
    ];
    for (field, value) in twice {
        if let Some(v) = value {
            return invalid(field, v, "each value once");
        }
    }
    if let Some(m) = s.max_num_seqs.iter().find(|&&m| m > MAX_NUM_SEQS) {
        return invalid(
            "max_num_seqs",
            m.to_string(),
            &format!("at most {MAX_NUM_SEQS} sequences per replica"),
        );
    }
    if s.weights.is_empty() {
        return invalid("weights", String::new(), "one or more weight formats");
    }
    if s.kv_dtypes.is_empty() {
        return invalid("kv_dtype", String::new(), "one or more KV cache precisions");
    }
    if s.disaggregated.is_empty() {
        return invalid(
            "disaggregated",
            String::new(),
            "`no`, `yes` or both: aggregated setups, disaggregated ones, or both",
        );
    }
    let w = &req.workload;
    if w.prompt == 0 {
        return Err(CoreError::Zero { field: "prompt" });
    }
    if w.output == 0 {
        return Err(CoreError::Zero { field: "output" });
    }
    let needed = w.prompt.checked_add(w.output).ok_or(CoreError::Overflow {
        quantity: "tokens per request (prompt + output)",
    })?;
    if let Some(c) = w.context.filter(|&c| c < needed) {
        return invalid(
            "context",
            c.to_string(),
            &format!("at least prompt + output = {needed} tokens"),
        );
    }
    match req.load {
        ServeLoad::Rate { per_sec } if !(per_sec.is_finite() && per_sec > 0.0) => {
            return invalid(
                "rate",
                per_sec.to_string(),
                "a positive number of requests per second",
            )
        }
        ServeLoad::Users { users: 0 } => return Err(CoreError::Zero { field: "users" }),
        _ => {}
    }
    for (field, v) in [
        ("ttft", req.targets.ttft_seconds),
        ("tpot", req.targets.tpot_seconds),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return invalid(field, v.to_string(), "a positive time in seconds");
        }
    }
    let b = &req.simulation;
    let most_replicas = s.gpus.iter().copied().max().unwrap_or(1);
    if b.requests_per_replica.saturating_mul(most_replicas) > MAX_REQUESTS {
        return invalid(
            "requests",
            b.requests_per_replica.to_string(),
            &format!(
                "at most {} per replica: up to {most_replicas} replicas share one simulation of at most {MAX_REQUESTS} requests",
                MAX_REQUESTS / most_replicas
            ),
        );
    }
    for (field, v) in [
        ("requests", b.requests_per_replica),
        ("max_steps", b.max_steps),
    ] {
        if v == 0 {
            return Err(CoreError::Zero { field });
        }
    }
    if req.by == ServeRankBy::Cost && w.price_per_gpu_hour.is_none() {
        if let Some(acc) = accs.iter().find(|a| a.price_per_hour_usd.is_none()) {
            return invalid(
                "price_per_gpu_hour",
                acc.name.clone(),
                "a price per GPU-hour to rank by cost (the catalog lists none)",
            );
        }
    }
    if let Some(p) = w
        .price_per_gpu_hour
        .filter(|p| !(p.is_finite() && *p > 0.0))
    {
        return invalid("price", p.to_string(), "a positive price per GPU-hour");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
