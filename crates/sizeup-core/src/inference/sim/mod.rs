//! Serving under load: an event simulation of a continuous-batching engine whose
//! every step is priced by the pass model `infer` uses.
//!
//! Requests arrive (Poisson or a closed loop) with fixed, drawn or replayed
//! lengths; a vLLM-V1-like scheduler fills each step with decodes and prefill
//! chunks under a sequence cap and a token budget, holds KV blocks from a pool
//! sized by the memory estimate, and preempts the newest request by recompute
//! when the pool runs out. [`simulate`] reports TTFT, TPOT, ITL and end-to-end
//! latency percentiles, throughput, KV pool use and the queue, and says whether
//! the run reached a steady state.

mod histogram;
mod metrics;
mod price;
mod scheduler;
mod workload;

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub use histogram::RELATIVE_ERROR as ITL_RELATIVE_ERROR;
pub use metrics::{Level, Percentiles};
pub use price::{StepPricer, StepShape, CONTEXT_GRID};
pub use workload::{Arrivals, Dist, Lengths};

use super::roofline::PassWeights;
use super::{estimate, stored_tensors, Detail, InferRequest, Load, Prepared};
use crate::arch::Architecture;
use crate::assumption::Assumption;
use crate::error::{CoreError, Result};

/// How the engine schedules: its caps, chunking, prefix cache and overheads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SchedulerConfig {
    /// Sequences running at once (vLLM `max_num_seqs`).
    pub max_num_seqs: u64,
    /// New tokens one step may run (vLLM `max_num_batched_tokens`).
    pub max_batched_tokens: u64,
    /// Whether a prompt may be split across steps; without it a prompt runs whole.
    pub chunked_prefill: bool,
    /// Fraction of each prompt found in the prefix cache (whole blocks, never the last token).
    pub prefix_hit_rate: f64,
    /// The prompt's KV cache arrives with the request (the decode side of a
    /// disaggregated deployment): every whole block of the prompt but the one
    /// holding its last token is held without being computed.
    #[serde(default)]
    pub prompt_arrives_cached: bool,
    /// CPU time per step not overlapped with the GPU (scheduling, input
    /// preparation, sampling), seconds.
    pub step_overhead_seconds: f64,
    /// Time per request before it reaches the engine (HTTP, tokenization), seconds.
    pub request_overhead_seconds: f64,
    /// Where the step overhead comes from.
    pub step_overhead_source: Cow<'static, str>,
    /// Where the request overhead comes from.
    pub request_overhead_source: Cow<'static, str>,
}

/// Why the default step overhead is zero.
pub const DEFAULT_STEP_OVERHEAD_SOURCE: &str = "0 by default: the pass model's per-layer overhead holds the kernel launches, and vLLM V1 overlaps scheduling with the GPU; before V1, vLLM measured scheduling at 29% of the time for Llama 3 8B on one H100 (vLLM blog, 2024-09-05) and WukLab above half for small models (mlsys.wuklab.io/posts/scheduling_overhead): set it for such engines";

/// Why the default request overhead is zero.
pub const DEFAULT_REQUEST_OVERHEAD_SOURCE: &str = "0 by default: vLLM V1 runs the API server and tokenizer in their own process, overlapped with the GPU; before that split the HTTP server took 33% of the time for Llama 3 8B on one H100 (vLLM blog, 2024-09-05)";

impl Default for SchedulerConfig {
    /// vLLM V1's serving defaults: 256 sequences, 8192 tokens per step, chunked
    /// prefill on, no prefix cache hits, no extra overheads.
    fn default() -> Self {
        SchedulerConfig {
            max_num_seqs: 256,
            max_batched_tokens: 8192,
            chunked_prefill: true,
            prefix_hit_rate: 0.0,
            prompt_arrives_cached: false,
            step_overhead_seconds: 0.0,
            request_overhead_seconds: 0.0,
            step_overhead_source: Cow::Borrowed(DEFAULT_STEP_OVERHEAD_SOURCE),
            request_overhead_source: Cow::Borrowed(DEFAULT_REQUEST_OVERHEAD_SOURCE),
        }
    }
}

/// The most requests one simulation follows: each keeps its latencies for the
/// percentiles (about 50 bytes apiece), so ten million stay near half a GiB.
pub const MAX_REQUESTS: u64 = 10_000_000;

/// What to simulate besides the serving request: the load, the lengths and the bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRequest {
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// Their lengths.
    pub lengths: Lengths,
    /// Requests sent in all (across replicas); the run ends when all are done.
    pub requests: u64,
    /// Seed of the generator: the same seed gives the same run.
    pub seed: u64,
    /// Engine steps at most; a run that needs more stops there and says so.
    pub max_steps: u64,
    /// The scheduler.
    pub scheduler: SchedulerConfig,
}

/// The largest number of steps a run takes by default.
pub const DEFAULT_MAX_STEPS: u64 = 10_000_000;

/// The longest a simulated arrival process may run, seconds: rates so low that
/// the requests would take longer are refused rather than simulated into an
/// infinite clock.
pub const MAX_ARRIVAL_SECONDS: f64 = 1e12;

impl SimRequest {
    /// A Poisson load of `rate` requests per second, 1000 requests of the given
    /// lengths, seed 0, vLLM V1's scheduler.
    pub fn poisson(rate: f64, prompt: u64, output: u64) -> SimRequest {
        SimRequest {
            arrivals: Arrivals::Poisson { rate_per_sec: rate },
            lengths: Lengths::Drawn {
                prompt: Dist::Fixed { tokens: prompt },
                output: Dist::Fixed { tokens: output },
            },
            requests: 1000,
            seed: 0,
            max_steps: DEFAULT_MAX_STEPS,
            scheduler: SchedulerConfig::default(),
        }
    }

    fn validate(&self, replicas: u64) -> Result<()> {
        for (field, v) in [
            ("requests", self.requests),
            ("max_steps", self.max_steps),
            ("max_num_seqs", self.scheduler.max_num_seqs),
            ("max_batched_tokens", self.scheduler.max_batched_tokens),
        ] {
            if v == 0 {
                return Err(CoreError::Zero { field });
            }
        }
        if self.requests > MAX_REQUESTS {
            return Err(CoreError::Invalid {
                field: "requests",
                value: self.requests.to_string(),
                expected: format!("at most {MAX_REQUESTS} (each request keeps its latencies)"),
            });
        }
        self.lengths.validate()?;
        let s = &self.scheduler;
        let invalid = |field, value: f64, expected: &str| {
            Err(CoreError::Invalid {
                field,
                value: value.to_string(),
                expected: expected.into(),
            })
        };
        if !(0.0..1.0).contains(&s.prefix_hit_rate) {
            return invalid("prefix_hit_rate", s.prefix_hit_rate, "a fraction in [0, 1)");
        }
        for (field, v) in [
            ("step_overhead", s.step_overhead_seconds),
            ("request_overhead", s.request_overhead_seconds),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return invalid(field, v, "a finite, non-negative time");
            }
        }
        match self.arrivals {
            Arrivals::Poisson { rate_per_sec }
                if !(rate_per_sec.is_finite() && rate_per_sec > 0.0) =>
            {
                invalid(
                    "rate",
                    rate_per_sec,
                    "a positive number of requests per second",
                )
            }
            // the last arrival must land at a finite time: 10¹² s (some 30,000 years)
            // bounds `requests / rate`, so no clock overflows to infinity or NaN
            Arrivals::Poisson { rate_per_sec }
                if self.requests as f64 / rate_per_sec > MAX_ARRIVAL_SECONDS =>
            {
                invalid(
                    "rate",
                    rate_per_sec,
                    &format!(
                        "a rate at which {} requests arrive within {MAX_ARRIVAL_SECONDS:e} s",
                        self.requests
                    ),
                )
            }
            Arrivals::ClosedLoop { clients } if clients == 0 || clients % replicas != 0 => {
                Err(CoreError::Invalid {
                    field: "closed_loop",
                    value: clients.to_string(),
                    expected: format!(
                        "a positive multiple of the {replicas} engine(s) simulated apart (replicas × batches in flight)"
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Whether the run describes a steady state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RunState {
    /// The queue did not grow over the run: its percentiles describe the load.
    Steady,
    /// Arrivals outpace the engine: the queue grows with every request, so
    /// latencies grow with the length of the run and no steady state exists.
    Overloaded {
        /// Requests per second offered, all replicas.
        offered_per_sec: f64,
        /// Requests per second completed while requests were waiting (the
        /// engine's capacity at this load), all replicas.
        capacity_per_sec: f64,
        /// Waiting requests gained per request sent, between the second and the
        /// last quarter of the arrivals.
        queue_growth_per_request: f64,
    },
    /// Too few arrivals (under 40) to tell whether the queue grows.
    TooShortToJudge,
    /// The step cap stopped the run before every request finished.
    StepCap {
        /// The cap.
        steps: u64,
    },
}

/// The outcome of a simulation: what was simulated, the latencies, the
/// throughput, the pool and the queue, with the assumptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SimReport {
    /// How requests arrived.
    pub arrivals: Arrivals,
    /// Their lengths, in words.
    pub lengths: String,
    /// Mean prompt tokens of the lengths asked for.
    pub prompt_mean: f64,
    /// Mean output tokens of the lengths asked for.
    pub output_mean: f64,
    /// The seed.
    pub seed: u64,
    /// Replicas; one engine is simulated with its share of the load.
    pub replicas: u64,
    /// Batches each replica keeps in flight (`pp` for a pipelined layer split,
    /// else 1), each simulated as an engine with its share of the load.
    #[serde(default = "crate::inference::one")]
    pub batches_in_flight: u64,
    /// Data-parallel attention groups per replica, each simulated as an engine
    /// with its share of the load and its own sequence cap and KV pool.
    #[serde(default = "crate::inference::one")]
    pub attention_dp: u64,
    /// The scheduler.
    pub scheduler: SchedulerConfig,
    /// KV block size, tokens.
    pub kv_block_tokens: u64,
    /// KV blocks in the simulated engine's pool (a replica's, or its share per
    /// batch in flight).
    pub kv_pool_blocks: u64,
    /// Requests sent to the simulated engine.
    pub requests_sent: u64,
    /// Requests finished.
    pub requests_completed: u64,
    /// Requests refused: prompt + output beyond the whole KV pool.
    pub requests_rejected: u64,
    /// Engine steps run.
    pub steps: u64,
    /// Distinct passes priced by the pass model.
    pub passes_priced: u64,
    /// Simulated time from the first request to the last step, seconds.
    pub simulated_seconds: f64,
    /// Time to first token, from sending to the first token.
    pub ttft: Percentiles,
    /// Time per output token of each request, `(E2E − TTFT)/(output − 1)`.
    pub tpot: Percentiles,
    /// Inter-token latency: every gap between successive tokens of a request;
    /// its percentiles come from a log-bucket histogram, within
    /// [`ITL_RELATIVE_ERROR`] of the exact ones (mean and max exact).
    pub itl: Percentiles,
    /// End-to-end latency, from sending to the last token.
    pub e2e: Percentiles,
    /// Requests finished per second, all replicas.
    pub requests_per_sec: f64,
    /// Output tokens generated per second, all replicas.
    pub output_tokens_per_sec: f64,
    /// Prompt tokens of finished requests per second, all replicas.
    pub prompt_tokens_per_sec: f64,
    /// Fraction of the KV pool's blocks held.
    pub kv_pool_use: Level,
    /// Requests waiting for admission.
    pub queue: Level,
    /// Requests running (admitted, holding blocks).
    pub running: Level,
    /// Requests in the engine (waiting + running); with the mean engine latency
    /// it obeys Little's law, `L = λ·W`.
    pub in_system: Level,
    /// Mean seconds from reaching the engine to finishing (the `W` of Little's law).
    pub engine_latency_mean_seconds: f64,
    /// Preemptions (a request evicted to recompute later).
    pub preemptions: u64,
    /// Whether this is a steady state.
    pub state: RunState,
    /// Every assumption with its source.
    pub assumptions: Vec<Assumption>,
}

/// Simulate serving `arch` as `req` describes under the load `sim` describes.
///
/// # Formula
/// Each step's time is [`StepPricer::step`] plus the step overhead; the KV pool
/// holds `⌊budget / (KV bytes per token · block)⌋` blocks, with the budget and
/// the bytes per token from the memory estimate at `max_num_seqs` requests of the
/// request's context.
///
/// # Errors
/// Those of [`estimate`]; [`CoreError::Zero`] or [`CoreError::Invalid`] for a
/// bad load, length or scheduler setting; [`CoreError::Invalid`] when no KV
/// block fits (the model does not fit).
pub fn simulate(arch: &Architecture, req: &InferRequest, sim: &SimRequest) -> Result<SimReport> {
    let mut point = req.clone();
    point.load = Load::Concurrency(sim.scheduler.max_num_seqs);
    point.detail = Detail::Point;
    // the activation workspace holds one full step's tokens
    point.profile.prefill_chunk_tokens = Some(sim.scheduler.max_batched_tokens);
    let est = estimate(arch, &point)?;
    // `estimate` checked the product and that it divides `gpus`
    let replicas = req.gpus / req.gpus_per_replica().unwrap_or(1).max(1);
    let prepared = Prepared::new(arch);
    let replica = prepared.replica(&point)?;
    // a pipelined split serves as `ways` engines, each with 1/ways of the
    // requests, the sequence cap and the pool; each data-parallel attention
    // group is an engine of its own, with its own cap and pool
    let ways = replica.batches_in_flight();
    let engines = replicas.saturating_mul(replica.engines());
    sim.validate(engines)?;
    let mut engine_sim = sim.clone();
    engine_sim.scheduler.max_num_seqs = (sim.scheduler.max_num_seqs / ways).max(1);

    let block = req.profile.kv_block_tokens.unwrap_or(1).max(1);
    let (replica_blocks, per_token) = replica.kv_blocks(
        sim.scheduler.max_num_seqs,
        est.context,
        Some(sim.scheduler.max_batched_tokens),
        block,
    )?;
    let pool_blocks = replica_blocks / ways;
    if pool_blocks == 0 {
        return Err(CoreError::Invalid {
            field: "KV pool",
            value: format!("{} bytes", est.memory.kv_budget_bytes()),
            expected: format!(
                "room for at least one block of {block} tokens ({:.0} bytes) per batch in flight: the model does not fit",
                per_token * block as f64
            ),
        });
    }

    let stored = stored_tensors(arch, req.weights, &req.weight_options)?;
    let machine = super::prepared::machine(req);
    let list = crate::ops::list(arch)?;
    let mut pricer = StepPricer::new(
        arch,
        PassWeights::new(arch, &list, &stored, machine.split()),
        machine,
        req.pp,
    );
    let run = scheduler::run(&engine_sim, engines, block, pool_blocks, &mut pricer);

    let (prompt_mean, output_mean) = sim.lengths.means();
    // the sequences whose cache the memory estimate placed on each device
    let sized = sim.scheduler.max_num_seqs.div_ceil(req.attention_dp.max(1));
    let mut assumptions = assumptions(
        &engine_sim,
        replicas,
        (block, pool_blocks, sized),
        per_token,
        est.context,
    );
    if ways > 1 {
        assumptions.push(Assumption::new(
            "batches in flight",
            format!(
                "{ways} per replica (pipeline parallelism): each simulated as an engine of its own with 1/{ways} of the replica's load, sequence cap ({}) and the KV pool ({replica_blocks} blocks), its every step a pass through all {} stages",
                engine_sim.scheduler.max_num_seqs, req.pp
            ),
            "vLLM V0 ran one scheduler per virtual engine with 1/pp of the KV blocks (vllm/core/scheduler.py); V1 shares one pool and one cap among its pp batches in flight (step_with_batch_queue), which the even split approximates",
        ));
    }
    if req.attention_dp > 1 {
        assumptions.push(Assumption::new(
            "data-parallel attention groups",
            format!(
                "{} per replica, each simulated as an engine of its own with 1/{} of the replica's load, its own sequence cap ({}) and KV pool ({pool_blocks} blocks); its steps priced as if every group ran a batch like its own",
                req.attention_dp, req.attention_dp, engine_sim.scheduler.max_num_seqs
            ),
            "vLLM --data-parallel-size: one engine core per rank with its own scheduler and cache, stepping together through the MoE layers (dummy batches on idle ranks)",
        ));
    }
    Ok(SimReport {
        arrivals: sim.arrivals,
        lengths: match &sim.lengths {
            Lengths::Drawn { prompt, output } => format!("prompt {prompt}, output {output}"),
            Lengths::Replay { pairs } => format!("{} (prompt, output) pairs replayed", pairs.len()),
        },
        prompt_mean,
        output_mean,
        seed: sim.seed,
        replicas,
        batches_in_flight: ways,
        attention_dp: req.attention_dp,
        // the simulated engine's caps: a batch in flight's share of the replica's
        scheduler: engine_sim.scheduler.clone(),
        kv_block_tokens: block,
        kv_pool_blocks: pool_blocks,
        passes_priced: pricer.passes_priced,
        assumptions,
        ..run.report(engines)
    })
}

/// What a simulation assumes; `(block, pool_blocks, sized)` the block size, the
/// pool in blocks and the sequences per device the memory estimate sized it at.
fn assumptions(
    sim: &SimRequest,
    replicas: u64,
    (block, pool_blocks, sized): (u64, u64, u64),
    per_token: f64,
    context: u64,
) -> Vec<Assumption> {
    let s = &sim.scheduler;
    let ms = |x: f64| format!("{:.3} ms", x * 1e3);
    let mut out = vec![
        Assumption::new(
            "scheduler",
            "running requests first in admission order (decodes and unfinished prefill chunks), then waiting requests first-come first-served; one fused forward pass per step",
            "vLLM V1 scheduler (vllm/v1/core/sched/scheduler.py)",
        ),
        Assumption::new(
            "max_num_seqs / max_num_batched_tokens",
            format!("{} / {}", s.max_num_seqs, s.max_batched_tokens),
            "vLLM engine arguments: max_num_seqs 256; max_num_batched_tokens 8192 with chunked prefill (vLLM \"Optimization and Tuning\"); or user flags",
        ),
        Assumption::new(
            "chunked prefill",
            if s.chunked_prefill { "on" } else { "off: a prompt runs whole in one step" },
            "vLLM V1 default on",
        ),
        Assumption::new(
            "KV pool",
            format!(
                "{pool_blocks} blocks of {block} tokens = budget / ({per_token:.0} bytes per token per GPU)"
            ),
            format!("memory estimate at {sized} sequences per device; bytes per token averaged over a {context}-token sequence (windows and recurrent state included)"),
        ),
        Assumption::new(
            "preemption",
            "recompute: when a step needs a block and none is free, the newest running request is evicted to the front of the queue and later recomputes its prompt and generated tokens",
            "vLLM V1 (preemption by recompute only)",
        ),
        if s.prompt_arrives_cached {
            Assumption::new(
                "prompt KV cache",
                "arrives with each request (the decode side of a disaggregated deployment): every whole block of the prompt but the one holding its last token is held without being computed",
                "user flag (--prompt-arrives-cached); the blocks count in each request's pool use",
            )
        } else {
            Assumption::new(
                "prefix cache hit rate",
                format!("{:.3}", s.prefix_hit_rate),
                "user flag; hits are whole blocks and never the last prompt token (vLLM automatic prefix caching); hit blocks are still counted in each request's pool use",
            )
        },
        Assumption::new(
            "engine overhead per step",
            ms(s.step_overhead_seconds),
            s.step_overhead_source.clone(),
        ),
        Assumption::new(
            "engine overhead per request (before the engine)",
            ms(s.request_overhead_seconds),
            s.request_overhead_source.clone(),
        ),
        Assumption::new(
            "step price",
            format!(
                "decodes at their mean context on a {CONTEXT_GRID}-token grid, interpolated; prefill chunks as equal chunks; a mixed step is the chunks' pass with the decode tokens added plus the decodes' attention"
            ),
            "the pass model of `infer` (roofline), see StepPricer::step",
        ),
        Assumption::new(
            "metrics",
            format!("TTFT from sending to the first token; TPOT = (E2E − TTFT)/(output − 1); ITL every gap between tokens; nearest-rank percentiles (ITL's from a log-bucket histogram, within {:.2} % of exact); every request counted, no warm-up dropped", ITL_RELATIVE_ERROR * 100.0),
            "definitions of vLLM's benchmark_serving",
        ),
        Assumption::new(
            "bounds",
            format!("{} requests, seed {}, at most {} steps", sim.requests, sim.seed, sim.max_steps),
            "user flags",
        ),
    ];
    if replicas > 1 {
        out.push(Assumption::new(
            "replicas",
            format!("{replicas}: one simulated with 1/{replicas} of the load, throughput scaled by {replicas}"),
            "random routing of a Poisson stream splits it into independent Poisson streams",
        ));
    }
    out
}

#[cfg(test)]
mod tests;
