//! The simulation tier: the steady-state front, best first, confirmed by the
//! event simulation at the requested load, and the headroom of each row.
//!
//! # How a setup is confirmed
//! [`crate::inference::sim::simulate`] runs the setup's request under the load
//! (the simulated replica serves [`super::SimBounds::requests_per_replica`]
//! requests). It is confirmed when the run reaches a steady state (its queue
//! does not grow, no step cap) and the requested percentile of TTFT and of TPOT
//! meets its target. An aggregated setup that misses is tried again with the
//! next replica count the space allows, priced first at steady state (a
//! disaggregated one is not: the space holds its larger pools as setups of their
//! own, within the GPU counts asked for); setups are taken best
//! first, a few at a time, until the top rows are confirmed and nothing pending
//! could rank above them, or [`MAX_SIMULATIONS`] runs. A row is a deployment
//! (accelerator, GPUs, tp, weights, KV) with the engine caps (`max_num_seqs`,
//! step budget) whose simulation ranks best: setups that differ only in those
//! tie at steady state, and the simulation tells them apart.
//!
//! # A disaggregated setup
//! Its two pools are simulated apart, each by the same engine simulation:
//! - the **decode pool**: a decode replica under the load, every request arriving
//!   with its prompt's KV cache (only the block holding the last prompt token is
//!   computed) and, under a user count, after the prefill side's steady-state
//!   latency (each client waits through it): its TPOT, inter-token latencies, KV
//!   pool and throughput are the setup's;
//! - the **prefill pool**: a prefill replica serving the prompts with one output
//!   token each, under Poisson arrivals at the rate the decode pool completes
//!   (the load's rate, or under a user count the closed loop's throughput): its
//!   TTFT plus the KV transfer is the setup's TTFT.
//!
//! A request leaves the prefill pool as it leaves an M/G/c queue; taking the
//! departures as Poisson (exact for M/M/c by Burke's theorem, an approximation
//! otherwise) lets the pools be run apart. End-to-end latency is the decode
//! pool's with the prefill pool's mean TTFT and the transfer in place of the
//! steady-state lead; its percentiles are the decode pool's shifted, not those of
//! the sum.
//!
//! # Headroom
//! For each row, the load at which the targets break: starting from the
//! steady-state capacity (or twice the load), the load is doubled while the
//! simulation still meets the targets (at most [`HEADROOM_DOUBLINGS`] times),
//! then bisected [`HEADROOM_BISECTIONS`] times between the last load that meets
//! and the first that breaks.

use super::space::SetupOrder;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use serde::{Deserialize, Serialize};

use super::steady::{evaluate, score, Ranked, SteadyFound};
use super::{LatencyTargets, ServeCandidate, ServeLoad, ServeMiss, ServePlanRequest, ServeRankBy};
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::inference::sim::{simulate, Level, Percentiles, RunState, SimReport};
use crate::inference::{InferEstimate, InferRequest, Prepared};

/// The most simulation runs the confirmation starts (the headroom's are apart);
/// a last disaggregated setup may take it one past.
pub const MAX_SIMULATIONS: u64 = 96;

/// Setups simulated together (one per core).
const BATCH: usize = 4;

/// How many times the headroom search doubles the load past the steady-state capacity.
pub const HEADROOM_DOUBLINGS: u32 = 3;

/// How many times the headroom search halves the bracket around the break.
pub const HEADROOM_BISECTIONS: u32 = 5;

/// A simulation's verdict on one setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Simulated {
    /// Time to first token.
    pub ttft: Percentiles,
    /// Time per output token of each request.
    pub tpot: Percentiles,
    /// Every gap between tokens.
    pub itl: Percentiles,
    /// End-to-end latency.
    pub e2e: Percentiles,
    /// Requests finished per second, all replicas.
    pub requests_per_sec: f64,
    /// Output tokens per second, all replicas.
    pub output_tokens_per_sec: f64,
    /// Fraction of the KV pool held.
    pub kv_pool_use: Level,
    /// Requests waiting.
    pub queue: Level,
    /// Preemptions.
    pub preemptions: u64,
    /// Engine steps run.
    pub steps: u64,
    /// Simulation runs behind the verdict: 1, or 2 for a disaggregated setup
    /// (its pools run apart).
    #[serde(default)]
    pub runs: u64,
    /// Requests sent to the simulated replica.
    pub requests_sent: u64,
    /// Requests it finished.
    pub requests_completed: u64,
    /// Whether the run reached a steady state.
    pub state: RunState,
    /// The percentile's TTFT over its target (≤ 1 meets).
    pub ttft_ratio: f64,
    /// The percentile's TPOT over its target (≤ 1 meets).
    pub tpot_ratio: f64,
    /// Steady (or too short to judge), and both ratios at most 1.
    pub meets: bool,
}

impl Simulated {
    /// The verdict of `r` against `t`.
    pub fn of(r: &SimReport, t: &LatencyTargets) -> Simulated {
        let ttft_ratio = t.percentile.of(&r.ttft) / t.ttft_seconds;
        let tpot_ratio = t.percentile.of(&r.tpot) / t.tpot_seconds;
        let settled = matches!(r.state, RunState::Steady | RunState::TooShortToJudge);
        Simulated {
            ttft: r.ttft,
            tpot: r.tpot,
            itl: r.itl,
            e2e: r.e2e,
            requests_per_sec: r.requests_per_sec,
            output_tokens_per_sec: r.output_tokens_per_sec,
            kv_pool_use: r.kv_pool_use,
            queue: r.queue,
            preemptions: r.preemptions,
            steps: r.steps,
            runs: 1,
            requests_sent: r.requests_sent,
            requests_completed: r.requests_completed,
            state: r.state,
            ttft_ratio,
            tpot_ratio,
            meets: settled && ttft_ratio <= 1.0 && tpot_ratio <= 1.0,
        }
    }

    /// The verdict on a disaggregated setup from its pools' runs (module docs):
    /// TTFT from the prefill pool plus the transfer, the rest from the decode
    /// pool, whose runs saw each request `lead_seconds` late (its steady-state
    /// estimate of the prefill side, [`ServeCandidate::decode_pool_lead_ms`]);
    /// not steady when either pool is not.
    pub fn disaggregated(
        prefill: &SimReport,
        decode: &SimReport,
        transfer_seconds: f64,
        lead_seconds: f64,
        t: &LatencyTargets,
    ) -> Simulated {
        let mut s = Simulated::of(decode, t);
        s.ttft = prefill.ttft.shifted(transfer_seconds);
        s.e2e = decode
            .e2e
            .shifted(prefill.ttft.mean + transfer_seconds - lead_seconds);
        s.preemptions = s.preemptions.saturating_add(prefill.preemptions);
        s.steps = s.steps.saturating_add(prefill.steps);
        s.runs = 2;
        if matches!(
            prefill.state,
            RunState::Overloaded { .. } | RunState::StepCap { .. }
        ) {
            s.state = prefill.state;
        }
        s.ttft_ratio = t.percentile.of(&s.ttft) / t.ttft_seconds;
        let settled = matches!(s.state, RunState::Steady | RunState::TooShortToJudge);
        s.meets = settled && s.ttft_ratio <= 1.0 && s.tpot_ratio <= 1.0;
        s
    }

    /// The larger ratio, infinite for a run without a steady state.
    pub fn margin(&self) -> f64 {
        match self.state {
            RunState::Overloaded { .. } | RunState::StepCap { .. } => f64::INFINITY,
            _ => self.ttft_ratio.max(self.tpot_ratio),
        }
    }
}

/// How the headroom was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HeadroomMethod {
    /// By bisecting the load with the event simulation.
    Simulation,
}

/// The load at which a setup's targets break.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Headroom {
    /// How it was found.
    pub method: HeadroomMethod,
    /// The largest load simulated that meets the targets (requests per second, or users).
    pub meets: f64,
    /// The smallest load simulated that breaks them; `None` when none did up to
    /// the search's largest load.
    pub breaks: Option<f64>,
    /// `meets` over the requested load.
    pub over_load: f64,
    /// Simulations run.
    pub simulations: u64,
}

/// A confirmed setup, priced by the estimate and the simulation as `sizeup
/// infer` prices it with the same flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeEntry {
    /// The setup.
    pub candidate: ServeCandidate,
    /// The accelerator's name.
    pub accelerator: String,
    /// Its steady-state figures.
    pub steady: super::Steady,
    /// The request at the operating point (`sizeup infer`'s flags build it).
    pub request: InferRequest,
    /// [`crate::inference::estimate`] of that request.
    pub estimate: InferEstimate,
    /// The simulation at the load (a disaggregated setup's: its two pools, module docs).
    pub simulated: Simulated,
    /// The load at which the targets break, by simulation.
    pub headroom: Headroom,
}

/// What the simulation tier did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConfirmTally {
    /// Setups in the steady-state front.
    pub front: u64,
    /// Simulation runs to confirm (a disaggregated setup's two pools count two).
    pub simulated: u64,
    /// Setups confirmed.
    pub confirmed: u64,
    /// Setups the simulation refused.
    pub refused: u64,
    /// Setups tried again with more replicas after a refusal.
    pub with_more_replicas: u64,
    /// Simulations run for the headroom.
    pub headroom_simulations: u64,
    /// Engine steps simulated in all.
    pub steps: u64,
}

fn simulate_at(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    r: &Ranked,
    load: ServeLoad,
) -> Result<Simulated> {
    let c = &r.candidate;
    let acc = &accs[c.accelerator];
    let request = c.request(&req.workload, acc, r.steady.concurrency);
    let mut sim = c.simulation(&req.workload, load, &req.simulation);
    let Some(prefill_side) = c.prefill_side() else {
        let report = simulate(prepared.arch(), &request, &sim)?;
        return Ok(Simulated::of(&report, &req.targets));
    };
    let split = r.steady.split.ok_or(CoreError::Invalid {
        field: "steady.split",
        value: "none".into(),
        expected: "the steady-state split of a disaggregated setup".into(),
    })?;
    // the decode pool: prompts arrive with their KV cache, after the prefill side
    sim.scheduler.prompt_arrives_cached = true;
    let lead = ServeCandidate::decode_pool_lead_ms(load, &split) * 1e-3;
    sim.scheduler.request_overhead_seconds = lead;
    let decode = simulate(prepared.arch(), &request, &sim)?;
    // the prefill pool: the prompts, one output token each, arriving as the
    // decode pool completes them; one request in flight, as the steady state
    // prices a prefill replica
    let workload = req.workload.one_token();
    let rate = ServeCandidate::prefill_rate(load, decode.requests_per_sec);
    let prefill_request = prefill_side.request(&workload, acc, 1);
    let prefill_sim = prefill_side.simulation(
        &workload,
        ServeLoad::Rate { per_sec: rate },
        &req.simulation,
    );
    let prefill = simulate(prepared.arch(), &prefill_request, &prefill_sim)?;
    Ok(Simulated::disaggregated(
        &prefill,
        &decode,
        split.transfer_seconds,
        lead,
        &req.targets,
    ))
}

fn run_batch(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    batch: &[Ranked],
) -> Vec<Result<Simulated>> {
    let one = |r: &Ranked| simulate_at(prepared, accs, req, r, req.load);
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        batch.par_iter().map(one).collect()
    }
    #[cfg(not(feature = "parallel"))]
    batch.iter().map(one).collect()
}

/// A setup taken as a row, with its simulation.
type Taken = (Ranked, Simulated);

/// The rank of a confirmed setup: by cost, its cost, then its simulated margin,
/// then its steady-state capacity; by throughput, its throughput per GPU, then
/// its cost, then its margin.
fn rank_key(req: &ServePlanRequest, (r, s): &Taken) -> (f64, f64, f64, SetupOrder) {
    let m = s.margin();
    match req.by {
        ServeRankBy::Cost => (r.score, m, r.tie, r.order),
        ServeRankBy::Throughput => (r.score, r.tie, m, r.order),
    }
}

fn by_rank(req: &ServePlanRequest) -> impl Fn(&Taken, &Taken) -> std::cmp::Ordering + '_ {
    move |a, b| {
        let (ka, kb) = (rank_key(req, a), rank_key(req, b));
        ka.0.total_cmp(&kb.0)
            .then_with(|| ka.1.total_cmp(&kb.1))
            .then_with(|| ka.2.total_cmp(&kb.2))
            .then_with(|| ka.3.cmp(&kb.3))
    }
}

/// A deployment: the GPUs, accelerator, tp, pp, attention groups, ep, weights,
/// KV and prefill pool (a setup's order without its engine caps, the last two).
fn deployment(r: &Ranked) -> [u64; 10] {
    let mut out = [0; 10];
    out.copy_from_slice(&r.order[..10]);
    out
}

/// Of `ranked` (best first), the best setup of each deployment: its engine
/// caps are the ones the simulation found best.
fn best_per_deployment(ranked: &[Taken]) -> Vec<Taken> {
    let mut seen = HashSet::new();
    ranked
        .iter()
        .filter(|(r, _)| seen.insert(deployment(r)))
        .copied()
        .collect()
}

/// The same aggregated setup with the next replica count the space allows, if it
/// meets the steady state; `None` for a disaggregated one.
fn with_more_replicas(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    r: &Ranked,
) -> Option<Ranked> {
    if r.candidate.prefill.is_some() {
        // the space holds a split's larger pools as setups of their own, each
        // within the GPU counts asked for
        return None;
    }
    let n = req
        .space
        .next_replicas(r.candidate.gpus_per_replica(), r.candidate.replicas)?;
    let candidate = ServeCandidate {
        replicas: n,
        ..r.candidate
    };
    let steady = evaluate(prepared, accs, req, &candidate).ok()?.ok()?;
    let (score, tie) = score(&steady, req.by);
    let mut order = r.order;
    order[0] = candidate.gpus();
    Some(Ranked {
        score,
        tie,
        order,
        candidate,
        steady,
    })
}

/// The headroom of a confirmed setup.
fn headroom(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    r: &Ranked,
) -> Result<Headroom> {
    let load = req.load.value();
    let c = &r.candidate;
    let n = c.replicas.max(1) as f64;
    let mut simulations = 0u64;
    let mut meets = |v: f64| -> Result<bool> {
        let s = simulate_at(prepared, accs, req, r, req.load.at(v))?;
        simulations = simulations.saturating_add(s.runs);
        Ok(s.meets)
    };
    // users move in whole users per replica
    let step = |v: f64| match req.load {
        ServeLoad::Rate { .. } => v,
        ServeLoad::Users { .. } => (v / n).ceil() * n,
    };
    let mut lo = load;
    let mut hi = step(if r.steady.capacity > load {
        r.steady.capacity
    } else {
        2.0 * load
    });
    if hi <= lo {
        hi = step(lo + n);
    }
    let mut breaks = None;
    for _ in 0..=HEADROOM_DOUBLINGS {
        if meets(hi)? {
            lo = hi;
            hi = step(2.0 * hi);
        } else {
            breaks = Some(hi);
            break;
        }
    }
    if let Some(mut b) = breaks {
        for _ in 0..HEADROOM_BISECTIONS {
            let mid = step((lo + b) / 2.0);
            if mid <= lo || mid >= b {
                break;
            }
            if meets(mid)? {
                lo = mid;
            } else {
                b = mid;
            }
        }
        breaks = Some(b);
    }
    Ok(Headroom {
        method: HeadroomMethod::Simulation,
        meets: lo,
        breaks,
        over_load: lo / load,
        simulations,
    })
}

/// What the simulation tier found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Confirmed {
    /// The rows, best first.
    pub top: Vec<ServeEntry>,
    /// What it did.
    pub tally: ConfirmTally,
    /// With no row: the setup nearest to meeting the targets.
    pub nearest_miss: Option<ServeMiss>,
}

/// Confirm the steady-state front by simulation and find each row's headroom.
///
/// # Errors
/// Those of [`super::validate`] for the request; those of the estimate and the
/// simulation for a setup of the front.
pub fn confirm(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    found: &SteadyFound,
) -> Result<Confirmed> {
    super::validate(accs, req)?;
    let mut tally = ConfirmTally {
        front: found.front.len() as u64,
        ..ConfirmTally::default()
    };
    let mut queue: BinaryHeap<Reverse<Ranked>> = found.front.iter().copied().map(Reverse).collect();
    let mut seen: HashSet<SetupOrder> = found.front.iter().map(|r| r.order).collect();
    let mut confirmed: Vec<Taken> = Vec::new();
    let mut refused: Vec<(Ranked, Simulated)> = Vec::new();
    while tally.simulated < MAX_SIMULATIONS {
        confirmed.sort_by(by_rank(req));
        let shown = best_per_deployment(&confirmed);
        if let Some(last) = shown.get(req.top - 1) {
            if queue.peek().is_none_or(|q| q.0.score > last.0.score) {
                break;
            }
        }
        // runs left; a disaggregated setup takes two, so the last may pass by one
        let room = MAX_SIMULATIONS - tally.simulated;
        let mut runs = 0;
        let mut batch: Vec<Ranked> = Vec::new();
        while batch.len() < BATCH && runs < room {
            let Some(Reverse(r)) = queue.pop() else { break };
            runs += if r.candidate.prefill.is_some() { 2 } else { 1 };
            batch.push(r);
        }
        if batch.is_empty() {
            if queue.is_empty() {
                break;
            }
            continue;
        }
        for (r, sim) in batch.iter().zip(run_batch(prepared, accs, req, &batch)) {
            let sim = sim?;
            tally.simulated = tally.simulated.saturating_add(sim.runs);
            tally.steps = tally.steps.saturating_add(sim.steps);
            if sim.meets {
                tally.confirmed += 1;
                confirmed.push((*r, sim));
                continue;
            }
            tally.refused += 1;
            refused.push((*r, sim));
            if let Some(next) = with_more_replicas(prepared, accs, req, r) {
                if seen.insert(next.order) {
                    tally.with_more_replicas += 1;
                    queue.push(Reverse(next));
                }
            }
        }
    }
    confirmed.sort_by(by_rank(req));
    let mut confirmed = best_per_deployment(&confirmed);
    confirmed.truncate(req.top);

    let headrooms: Vec<Result<Headroom>> = {
        let one = |c: &Taken| headroom(prepared, accs, req, &c.0);
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            confirmed.par_iter().map(one).collect()
        }
        #[cfg(not(feature = "parallel"))]
        confirmed.iter().map(one).collect()
    };
    let mut top = Vec::with_capacity(confirmed.len());
    for ((r, simulated), h) in confirmed.iter().zip(headrooms) {
        let headroom = h?;
        tally.headroom_simulations = tally
            .headroom_simulations
            .saturating_add(headroom.simulations);
        let acc = &accs[r.candidate.accelerator];
        let request = r
            .candidate
            .request(&req.workload, acc, r.steady.concurrency);
        let estimate = prepared.estimate(&request)?;
        top.push(ServeEntry {
            candidate: r.candidate,
            accelerator: acc.name.clone(),
            steady: r.steady,
            request,
            estimate,
            simulated: *simulated,
            headroom,
        });
    }

    let nearest_miss = if top.is_empty() {
        nearest(prepared, accs, req, found, &refused)?
    } else {
        None
    };
    Ok(Confirmed {
        top,
        tally,
        nearest_miss,
    })
}

/// The setup nearest to meeting the targets: the simulated one with the least
/// margin, or else the steady-state miss with the least ratio.
fn nearest(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    found: &SteadyFound,
    refused: &[(Ranked, Simulated)],
) -> Result<Option<ServeMiss>> {
    let estimate_at = |c: &ServeCandidate, concurrency: u64| {
        let request = c.request(&req.workload, &accs[c.accelerator], concurrency.max(1));
        prepared.estimate(&request)
    };
    if let Some((r, sim)) = refused
        .iter()
        .min_by(|a, b| a.1.margin().total_cmp(&b.1.margin()).then(a.0.cmp(&b.0)))
    {
        return Ok(Some(ServeMiss {
            candidate: r.candidate,
            accelerator: accs[r.candidate.accelerator].name.clone(),
            reason: None,
            ratio: sim.margin(),
            simulated: Some(*sim),
            estimate: Some(estimate_at(&r.candidate, r.steady.concurrency)?),
        }));
    }
    let Some(m) = found.misses.first() else {
        return Ok(None);
    };
    use super::MissReason as R;
    let concurrency = match m.reason {
        R::NoRoom { .. } | R::PrefillOverCapacity { .. } => 1,
        R::OverCapacity { cap, .. } | R::TooManyUsers { cap, .. } => cap,
        R::Latency { concurrency, .. } => concurrency,
    };
    Ok(Some(ServeMiss {
        candidate: m.candidate,
        accelerator: accs[m.candidate.accelerator].name.clone(),
        reason: Some(m.reason),
        ratio: m.ratio,
        simulated: None,
        estimate: Some(estimate_at(&m.candidate, concurrency)?),
    }))
}
