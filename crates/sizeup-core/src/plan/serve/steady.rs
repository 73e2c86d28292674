//! The steady-state tier: every setup priced at its operating point by the
//! serving estimate's own functions, kept when it fits and meets both targets.
//!
//! # The operating point
//! With `C` requests in flight per replica, [`crate::inference::schedule`]
//! gives the replica's output rate `X(C)` and its time per output token
//! `TPOT(C)`; the first token takes one prompt's prefill, `TTFT`. Under a rate
//! `R` over `n` replicas the operating point is the fewest requests in flight
//! that carry the replica's share:
//! ```text
//! C* = min { C ≤ cap : X(C) ≥ R · o / n }            (rate)
//! C* = ⌈U / n⌉, refused above cap                      (users)
//! cap = min(max_num_seqs, the most requests whose KV cache fits at the context)
//! ```
//! `X` grows with `C` and `TPOT` too, so `C*` is found by bisection and is the
//! point of least `TPOT` that carries the load; the setup is kept when
//! `TTFT ≤ target` and `TPOT(C*) ≤ target`. Its steady-state capacity is the
//! load at `C_ok = min(cap, the most requests in flight whose TPOT meets the
//! target)`: `n · X(C_ok) / o` requests per second, or `n · C_ok` users.
//!
//! Neither bisection depends on the engine caps, so a machine finds the
//! fewest requests carrying each replica count's share once, and the TPOT
//! limit once, for all its setups.
//!
//! `sizeup infer --concurrency C*` with the setup's flags gives the same
//! `TTFT`, `TPOT` and throughput to the last bit: both call
//! [`Replica::prefill`], [`Replica::decode`], [`Replica::memory`] and
//! [`schedule`] with the same arguments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::space::{Machine, SetupOrder};
use super::split::{decide_split, PrefillSide, SplitSteady};
use super::{
    LatencyTargets, PrefillPool, ServeCandidate, ServeLoad, ServePlanRequest, ServeRankBy,
};
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::inference::{
    per_million, schedule, stored_tensors, Load, Prepared, Replica, Schedule, StoredTensor,
};
use crate::plan::TopN;

/// A setup's figures at its operating point, from the serving estimate's functions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Steady {
    /// Requests in flight per replica at the load (`sizeup infer --concurrency`).
    pub concurrency: u64,
    /// Time to first token: one prompt's prefill, seconds.
    pub ttft_seconds: f64,
    /// Time per output token at that concurrency, seconds.
    pub tpot_seconds: f64,
    /// Output tokens per second one replica runs at that concurrency (the
    /// estimate's `schedule.output_tokens_per_sec`).
    pub replica_output_tokens_per_sec: f64,
    /// Output tokens per second the deployment serves at the load.
    pub served_output_tokens_per_sec: f64,
    /// The most requests in flight per replica whose time per output token meets the target.
    pub capacity_concurrency: u64,
    /// The load at that point, all replicas: requests per second, or users.
    pub capacity: f64,
    /// Output tokens per second of all replicas at that point.
    pub capacity_output_tokens_per_sec: f64,
    /// Output tokens per second per GPU at that point: one replica's over its
    /// tensor-parallel size (the same for any number of replicas).
    pub capacity_output_tokens_per_sec_per_gpu: f64,
    /// GPUs in all.
    pub gpus: u64,
    /// US dollars per hour for every GPU, busy or not.
    pub usd_per_hour: Option<f64>,
    /// US dollars per million output tokens served at the load.
    pub usd_per_million_output_tokens: Option<f64>,
    /// Disaggregated: the prefill pool's figures and the KV transfer; `None`
    /// for an aggregated setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitSteady>,
}

impl Steady {
    /// Output tokens per second per GPU at the load: `served / GPUs`.
    pub fn output_tokens_per_sec_per_gpu(&self) -> f64 {
        self.served_output_tokens_per_sec / self.gpus.max(1) as f64
    }

    /// Output tokens per second one request sees: `1 / TPOT`.
    pub fn tokens_per_sec_per_user(&self) -> f64 {
        1.0 / self.tpot_seconds
    }
}

/// Why a setup misses at steady state, with the figures that show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MissReason {
    /// Weights, runtime and workspace leave no room for one request at the context.
    NoRoom {
        /// What one request needs per GPU, everything included.
        needed_bytes: u64,
        /// The GPU's memory.
        capacity_bytes: u64,
    },
    /// The replica cannot carry its share of the rate within its cap.
    OverCapacity {
        /// Requests per second each replica must complete.
        offered_per_replica: f64,
        /// Requests per second it completes at its cap.
        carried_per_replica: f64,
        /// Requests in flight at the cap.
        cap: u64,
        /// Whether the KV cache (not `max_num_seqs`) sets the cap.
        cap_by_memory: bool,
    },
    /// A disaggregated setup's prefill pool cannot keep up with the prompts.
    PrefillOverCapacity {
        /// Prompts per second each prefill replica must take.
        offered_per_replica: f64,
        /// Prompts per second one prefill replica completes (one at a time).
        carried_per_replica: f64,
        /// Prefill replicas in the pool.
        prefill_replicas: u64,
    },
    /// More users per replica than its cap.
    TooManyUsers {
        /// Users each replica must hold.
        per_replica: u64,
        /// Requests in flight at the cap.
        cap: u64,
        /// Whether the KV cache (not `max_num_seqs`) sets the cap.
        cap_by_memory: bool,
    },
    /// It carries the load, but a latency misses its target.
    Latency {
        /// Requests in flight per replica.
        concurrency: u64,
        /// Time to first token, seconds.
        ttft_seconds: f64,
        /// Time per output token, seconds.
        tpot_seconds: f64,
    },
}

impl MissReason {
    /// How far it is from meeting: the largest ratio of a figure to its limit.
    pub fn ratio(&self, t: &LatencyTargets) -> f64 {
        match *self {
            MissReason::NoRoom {
                needed_bytes,
                capacity_bytes,
            } => needed_bytes as f64 / capacity_bytes.max(1) as f64,
            MissReason::OverCapacity {
                offered_per_replica,
                carried_per_replica,
                ..
            }
            | MissReason::PrefillOverCapacity {
                offered_per_replica,
                carried_per_replica,
                ..
            } => {
                if carried_per_replica > 0.0 {
                    offered_per_replica / carried_per_replica
                } else {
                    f64::MAX
                }
            }
            MissReason::TooManyUsers {
                per_replica, cap, ..
            } => per_replica as f64 / cap.max(1) as f64,
            MissReason::Latency {
                ttft_seconds,
                tpot_seconds,
                ..
            } => t.ratio(ttft_seconds, tpot_seconds),
        }
    }
}

/// How many setups met which fate at steady state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeTally {
    /// Setups decided.
    pub evaluated: u64,
    /// Setups that fit and meet both targets.
    pub kept: u64,
    /// No room for one request at the context.
    pub no_room: u64,
    /// The load exceeds what the replicas carry within their caps.
    pub over_capacity: u64,
    /// A latency misses its target at the operating point.
    pub over_latency: u64,
    /// Machines the estimate refused (should be 0: the walk applies its checks).
    pub refused: u64,
    /// Passes priced by the pass model (prefills and decode steps).
    pub passes_priced: u64,
    /// Memory layouts computed.
    pub memory_layouts: u64,
}

impl ServeTally {
    fn add(mut self, o: ServeTally) -> ServeTally {
        self.evaluated += o.evaluated;
        self.kept += o.kept;
        self.no_room += o.no_room;
        self.over_capacity += o.over_capacity;
        self.over_latency += o.over_latency;
        self.refused += o.refused;
        self.passes_priced += o.passes_priced;
        self.memory_layouts += o.memory_layouts;
        self
    }
}

/// A point of the Pareto front: throughput per GPU against tokens per second
/// per user, at the load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ParetoPoint {
    /// GPUs in all.
    pub gpus: u64,
    /// Output tokens per second served per GPU.
    pub output_tokens_per_sec_per_gpu: f64,
    /// Output tokens per second one request sees, `1 / TPOT`.
    pub tokens_per_sec_per_user: f64,
    /// The setup.
    pub candidate: ServeCandidate,
    /// Its figures.
    pub steady: Steady,
}

/// A kept setup with the figures it is ranked by (smaller is better).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Ranked {
    /// Dollars per hour, or minus output tokens per second per GPU at capacity.
    pub score: f64,
    /// The tie-break: minus the capacity (by cost) or the cost (by throughput).
    pub tie: f64,
    /// The setup's place in the space's lists, for a total order.
    pub order: SetupOrder,
    /// The setup.
    pub candidate: ServeCandidate,
    /// Its figures.
    pub steady: Steady,
}

impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| self.tie.total_cmp(&other.tie))
            .then_with(|| self.order.cmp(&other.order))
    }
}

/// A setup that misses, by how far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Miss {
    /// The largest ratio of a figure to its limit.
    pub ratio: f64,
    /// The setup's place in the space's lists.
    pub order: SetupOrder,
    /// The setup.
    pub candidate: ServeCandidate,
    /// Why it misses.
    pub reason: MissReason,
}
impl Eq for Miss {}
impl PartialOrd for Miss {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Miss {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.ratio
            .total_cmp(&other.ratio)
            .then_with(|| self.order.cmp(&other.order))
    }
}

/// Misses kept to name the nearest.
const MISSES: usize = 4;

/// What the steady-state tier found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SteadyFound {
    /// What happened to the setups.
    pub tally: ServeTally,
    /// The best setups, best first (the front the simulation confirms): the
    /// best `front` aggregated ones and the best `front` disaggregated ones.
    pub front: Vec<Ranked>,
    /// The Pareto front, fewest GPUs first.
    pub pareto: Vec<ParetoPoint>,
    /// The setups nearest to meeting the targets, nearest first.
    pub misses: Vec<Miss>,
}

struct Found {
    tally: ServeTally,
    top: TopN<Ranked>,
    // disaggregated setups apart: the simulation retries refused aggregated
    // setups with more replicas, and those retries must not push these out of
    // the front
    top_split: TopN<Ranked>,
    miss: TopN<Miss>,
    // per GPU count, the kept setup fastest per user
    pareto: BTreeMap<u64, ParetoPoint>,
}

impl Found {
    fn new(n: usize) -> Found {
        Found {
            tally: ServeTally::default(),
            top: TopN::new(n),
            top_split: TopN::new(n),
            miss: TopN::new(MISSES),
            pareto: BTreeMap::new(),
        }
    }

    fn merge(mut self, o: Found) -> Found {
        self.tally = self.tally.add(o.tally);
        self.top = self.top.merge(o.top);
        self.top_split = self.top_split.merge(o.top_split);
        self.miss = self.miss.merge(o.miss);
        for (g, p) in o.pareto {
            offer_pareto(&mut self.pareto, g, p);
        }
        self
    }
}

fn offer_pareto(map: &mut BTreeMap<u64, ParetoPoint>, gpus: u64, p: ParetoPoint) {
    let better = |old: &ParetoPoint| {
        p.tokens_per_sec_per_user
            .total_cmp(&old.tokens_per_sec_per_user)
            .then_with(|| {
                p.output_tokens_per_sec_per_gpu
                    .total_cmp(&old.output_tokens_per_sec_per_gpu)
            })
            .is_gt()
    };
    match map.get(&gpus) {
        Some(old) if !better(old) => {}
        _ => {
            map.insert(gpus, p);
        }
    }
}

/// The non-dominated points: none other is at least as good on both axes and
/// better on one.
fn staircase(map: BTreeMap<u64, ParetoPoint>) -> Vec<ParetoPoint> {
    let points: Vec<ParetoPoint> = map.into_values().collect();
    let dominated = |p: &ParetoPoint| {
        points.iter().any(|q| {
            let (qx, qy) = (q.output_tokens_per_sec_per_gpu, q.tokens_per_sec_per_user);
            let (px, py) = (p.output_tokens_per_sec_per_gpu, p.tokens_per_sec_per_user);
            qx >= px && qy >= py && (qx > px || qy > py)
        })
    };
    points.iter().filter(|p| !dominated(p)).copied().collect()
}

/// One machine priced: its replica, one prompt's prefill, and each decode batch
/// priced once; the operating points it finds are kept for the setups that share them.
pub(super) struct Prices<'r> {
    replica: &'r Replica<'r>,
    prefill_seconds: f64,
    decode: Vec<f64>,
    context: u64,
    output: u64,
    /// The fewest requests in flight carrying each replica count's share of
    /// the rate, by the replica count's place in the walk.
    carrying: Vec<Option<Option<u64>>>,
    /// The most requests in flight whose time per output token meets the target.
    tpot_limit: Option<u64>,
    /// Passes priced.
    pub passes: u64,
    /// Memory layouts computed.
    pub layouts: u64,
}

impl<'r> Prices<'r> {
    /// Price `replica`'s prefill; decode batches up to `largest` are priced when asked.
    pub(super) fn new(replica: &'r Replica<'r>, largest: u64, context: u64) -> Prices<'r> {
        let output = replica.request().output;
        Prices {
            replica,
            prefill_seconds: replica.prefill(1).seconds,
            decode: vec![f64::NAN; largest as usize + 1],
            context,
            output,
            carrying: Vec::new(),
            tpot_limit: None,
            passes: 1,
            layouts: 0,
        }
    }

    /// The largest batch priced.
    fn largest(&self) -> u64 {
        self.decode.len() as u64 - 1
    }

    /// The same replica's decode steps with no prefill in them (a decode pool
    /// of a disaggregated setup): the steps priced so far are kept, the
    /// operating points found are not.
    pub(super) fn decode_only(&self) -> Prices<'r> {
        Prices {
            replica: self.replica,
            prefill_seconds: 0.0,
            decode: self.decode.clone(),
            context: self.context,
            output: self.output,
            carrying: Vec::new(),
            tpot_limit: None,
            passes: 0,
            layouts: 0,
        }
    }

    fn step(&mut self, c: u64) -> f64 {
        let slot = &mut self.decode[c as usize];
        if slot.is_nan() {
            *slot = self.replica.decode(c).seconds;
            self.passes += 1;
        }
        *slot
    }

    /// The estimate's schedule at `c` requests in flight.
    pub(super) fn schedule(&mut self, c: u64) -> Schedule {
        let step = self.step(c);
        schedule(
            Load::Concurrency(c),
            self.output,
            self.prefill_seconds,
            step,
            self.replica.engines(),
        )
    }

    /// The fewest requests in flight (up to the largest batch) whose output
    /// rate reaches `need` tokens per second, found by bisection (the rate
    /// grows with the requests) and kept in `slot`.
    pub(super) fn carrying(&mut self, slot: usize, need: f64) -> Option<u64> {
        if let Some(Some(c)) = self.carrying.get(slot) {
            return *c;
        }
        let largest = self.largest();
        let found = if self.schedule(largest).output_tokens_per_sec < need {
            None
        } else {
            let (mut lo, mut hi) = (0, largest);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if self.schedule(mid).output_tokens_per_sec >= need {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            Some(hi)
        };
        if self.carrying.len() <= slot {
            self.carrying.resize(slot + 1, None);
        }
        self.carrying[slot] = Some(found);
        found
    }

    /// The most requests in flight (up to the largest batch, 0 for none) whose
    /// time per output token is at most `target`, by bisection (it grows with
    /// the requests).
    pub(super) fn tpot_limit(&mut self, target: f64) -> u64 {
        if let Some(l) = self.tpot_limit {
            return l;
        }
        let (mut lo, mut hi) = (0, self.largest() + 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.schedule(mid).time_per_output_token_seconds <= target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        self.tpot_limit = Some(lo);
        lo
    }

    /// The most requests in flight (up to `largest`) whose memory fits with
    /// prefill chunks of `chunk` tokens, and when not even one does, what one needs.
    pub(super) fn fit(&mut self, chunk: u64, largest: u64) -> Result<(u64, u64)> {
        let mut fits = |c: u64| -> Result<(bool, u64)> {
            self.layouts += 1;
            let m = self.replica.memory(c, self.context, Some(chunk))?;
            Ok((m.fits(), m.total_bytes.saturating_add(m.shortfall_bytes)))
        };
        let (one, need) = fits(1)?;
        if !one {
            return Ok((0, need));
        }
        if fits(largest)?.0 {
            return Ok((largest, need));
        }
        // memory grows with the requests: the last that fits, by bisection
        let (mut lo, mut hi) = (1, largest);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid)?.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok((lo, need))
    }
}

/// The outcome of one setup.
pub(super) enum Outcome {
    Kept(Steady),
    Missed(MissReason),
}

/// A setup's cap and what sets it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    /// Requests in flight at most.
    pub requests: u64,
    /// Whether the KV cache sets it (else `max_num_seqs`).
    pub by_memory: bool,
    /// What one request needs per GPU (for a setup where none fits).
    pub needed_bytes: u64,
    /// The GPU's memory.
    pub capacity_bytes: u64,
}

impl Cap {
    /// The cap of a setup whose memory fits `fit` requests (each needing
    /// `needed_bytes` per GPU of `capacity_bytes`) under `max_num_seqs`.
    pub(super) fn of(fit: u64, max_num_seqs: u64, needed_bytes: u64, capacity_bytes: u64) -> Cap {
        Cap {
            requests: fit.min(max_num_seqs),
            by_memory: fit < max_num_seqs,
            needed_bytes,
            capacity_bytes,
        }
    }
}

/// The requests in flight per replica at which `replicas` replicas priced by
/// `prices` carry `load` (`output` tokens per request) within the cap, or why none
/// does; `slot` keeps the operating point among the machine's setups.
pub(super) fn operating_point(
    prices: &mut Prices<'_>,
    load: ServeLoad,
    output: f64,
    replicas: u64,
    slot: usize,
    cap: Cap,
) -> Result<u64, MissReason> {
    match load {
        ServeLoad::Rate { per_sec } => {
            let need = per_sec / replicas as f64 * output;
            match prices.carrying(slot, need) {
                Some(c) if c <= cap.requests => Ok(c),
                _ => {
                    let top = prices.schedule(cap.requests);
                    Err(MissReason::OverCapacity {
                        offered_per_replica: per_sec / replicas as f64,
                        carried_per_replica: top.output_tokens_per_sec / output,
                        cap: cap.requests,
                        cap_by_memory: cap.by_memory,
                    })
                }
            }
        }
        ServeLoad::Users { users } => {
            let per_replica = users.div_ceil(replicas);
            if per_replica > cap.requests {
                return Err(MissReason::TooManyUsers {
                    per_replica,
                    cap: cap.requests,
                    cap_by_memory: cap.by_memory,
                });
            }
            Ok(per_replica)
        }
    }
}

/// Decide one setup on its machine's prices; `slot` is its replica count's
/// place among the machine's setups (for the prices to keep its operating point).
pub(super) fn decide(
    prices: &mut Prices<'_>,
    req: &ServePlanRequest,
    c: &ServeCandidate,
    slot: usize,
    cap: Cap,
    price: Option<f64>,
) -> Outcome {
    if cap.requests == 0 {
        return Outcome::Missed(MissReason::NoRoom {
            needed_bytes: cap.needed_bytes,
            capacity_bytes: cap.capacity_bytes,
        });
    }
    let n = c.replicas.max(1);
    let o = req.workload.output as f64;
    let concurrency = match operating_point(prices, req.load, o, n, slot, cap) {
        Ok(c) => c,
        Err(miss) => return Outcome::Missed(miss),
    };
    let s = prices.schedule(concurrency);
    let t = &req.targets;
    let ttft = s.time_to_first_token_seconds;
    let tpot = s.time_per_output_token_seconds;
    if let Some(miss) = t.miss(concurrency, ttft, tpot) {
        return Outcome::Missed(miss);
    }
    // the most requests in flight whose time per output token still meets the target
    let lo = prices
        .tpot_limit(t.tpot_seconds)
        .min(cap.requests)
        .max(concurrency);
    let at_capacity = prices.schedule(lo);
    let capacity_output = at_capacity.output_tokens_per_sec * n as f64;
    let capacity = match req.load {
        ServeLoad::Rate { .. } => capacity_output / o,
        ServeLoad::Users { .. } => lo.saturating_mul(n) as f64,
    };
    let served = match req.load {
        ServeLoad::Rate { per_sec } => per_sec * o,
        ServeLoad::Users { .. } => s.output_tokens_per_sec * n as f64,
    };
    let gpus = c.gpus();
    Outcome::Kept(Steady {
        concurrency,
        ttft_seconds: ttft,
        tpot_seconds: tpot,
        replica_output_tokens_per_sec: s.output_tokens_per_sec,
        served_output_tokens_per_sec: served,
        capacity_concurrency: lo,
        capacity,
        capacity_output_tokens_per_sec: capacity_output,
        capacity_output_tokens_per_sec_per_gpu: at_capacity.output_tokens_per_sec
            / c.gpus_per_replica().max(1) as f64,
        gpus,
        usd_per_hour: price.map(|p| p * gpus as f64),
        usd_per_million_output_tokens: price.map(|p| per_million(p, gpus, served)),
        split: None,
    })
}

/// The score and tie-break of a kept setup under `by` (smaller is better).
pub(super) fn score(s: &Steady, by: ServeRankBy) -> (f64, f64) {
    let cost = s.usd_per_hour.unwrap_or(f64::INFINITY);
    match by {
        ServeRankBy::Cost => (cost, -s.capacity),
        ServeRankBy::Throughput => (-s.capacity_output_tokens_per_sec_per_gpu, cost),
    }
}

/// The request a machine's replica is priced on: its setup at one request in
/// flight (the load and the step budget change no pass, only what is asked of them).
pub(super) fn machine_request(
    req: &ServePlanRequest,
    acc: &Accelerator,
    m: &Machine,
) -> crate::inference::InferRequest {
    let probe = ServeCandidate {
        accelerator: m.accelerator,
        tp: m.tp,
        pp: m.pp,
        attention_dp: m.attention_dp,
        ep: m.ep,
        replicas: 1,
        prefill: None,
        weights: req.space.weights[m.weights],
        kv_dtype: req.space.kv_dtypes[m.kv],
        max_num_seqs: 1,
        max_batched_tokens: req.space.max_batched_tokens[0],
    };
    probe.request(&req.workload, acc, 1)
}

impl Found {
    /// Count and keep one decided setup.
    fn record(
        &mut self,
        req: &ServePlanRequest,
        candidate: ServeCandidate,
        order: SetupOrder,
        o: Outcome,
    ) {
        self.tally.evaluated += 1;
        match o {
            Outcome::Kept(steady) => {
                self.tally.kept += 1;
                let (score, tie) = score(&steady, req.by);
                let ranked = Ranked {
                    score,
                    tie,
                    order,
                    candidate,
                    steady,
                };
                match candidate.prefill {
                    None => self.top.offer(ranked),
                    Some(_) => self.top_split.offer(ranked),
                }
                let point = ParetoPoint {
                    gpus: steady.gpus,
                    output_tokens_per_sec_per_gpu: steady.output_tokens_per_sec_per_gpu(),
                    tokens_per_sec_per_user: steady.tokens_per_sec_per_user(),
                    candidate,
                    steady,
                };
                offer_pareto(&mut self.pareto, steady.gpus, point);
            }
            Outcome::Missed(reason) => {
                match reason {
                    MissReason::NoRoom { .. } => self.tally.no_room += 1,
                    MissReason::OverCapacity { .. }
                    | MissReason::PrefillOverCapacity { .. }
                    | MissReason::TooManyUsers { .. } => self.tally.over_capacity += 1,
                    MissReason::Latency { .. } => self.tally.over_latency += 1,
                }
                self.miss.offer(Miss {
                    ratio: reason.ratio(&req.targets),
                    order,
                    candidate,
                    reason,
                });
            }
        }
    }

    /// Count `n` setups the estimate refused.
    fn refuse(&mut self, n: u64) {
        self.tally.evaluated += n;
        self.tally.refused += n;
    }
}

fn walk_machine(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    stored: &[Result<Vec<StoredTensor>>],
    m: Machine,
    mut found: Found,
) -> Found {
    let space = &req.space;
    let acc = &accs[m.accelerator];
    let replicas: Vec<u64> = space.replicas(m.gpus_per_replica()).collect();
    let base = machine_request(req, acc, &m);
    let replica = match stored[m.weights]
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|stored| prepared.replica_with(&base, stored))
    {
        Ok(r) => r,
        Err(_) => {
            found.refuse(
                space
                    .setups_per_machine(m.gpus_per_replica())
                    .saturating_add(space.split_setups(prepared.arch(), acc, &m)),
            );
            return found;
        }
    };
    // each data-parallel attention group runs its own `max_num_seqs`
    let groups = m.attention_dp.max(1);
    let largest = space.largest_num_seqs().saturating_mul(groups);
    let mut prices = Prices::new(&replica, largest, req.workload.context());
    let price = req.workload.price_per_gpu_hour.or(acc.price_per_hour_usd);
    let chunks = if space.aggregated() {
        &space.max_batched_tokens[..]
    } else {
        &[]
    };
    for (ci, &chunk) in chunks.iter().enumerate() {
        let (fit, needed_bytes) = match prices.fit(chunk, largest) {
            Ok(f) => f,
            Err(_) => {
                found.refuse((space.max_num_seqs.len() * replicas.len()) as u64);
                continue;
            }
        };
        for (mi, &max_num_seqs) in space.max_num_seqs.iter().enumerate() {
            let cap = Cap::of(
                fit,
                max_num_seqs.saturating_mul(groups),
                needed_bytes,
                acc.memory_bytes,
            );
            for (slot, &n) in replicas.iter().enumerate() {
                let (candidate, order) = m.setup(space, n, None, (mi, max_num_seqs), (ci, chunk));
                let outcome = decide(&mut prices, req, &candidate, slot, cap, price);
                found.record(req, candidate, order, outcome);
            }
        }
    }
    found.tally.passes_priced += prices.passes;
    found.tally.memory_layouts += prices.layouts;
    if space.split() && m.tensor_parallel_only() {
        walk_splits(prepared, acc, req, stored, m, &prices, price, &mut found);
    }
    found
}

/// The disaggregated setups whose decode replicas are machine `m` (priced by
/// `aggregated`'s replica, without prefill in its steps), beside a prefill
/// pool of each tensor-parallel size.
#[allow(clippy::too_many_arguments)]
fn walk_splits(
    prepared: &Prepared<'_>,
    acc: &Accelerator,
    req: &ServePlanRequest,
    stored: &[Result<Vec<StoredTensor>>],
    m: Machine,
    aggregated: &Prices<'_>,
    price: Option<f64>,
    found: &mut Found,
) {
    let space = &req.space;
    let largest = space.largest_num_seqs();
    let mut decode = aggregated.decode_only();
    // a decode replica runs steps of at most `largest` new tokens
    let (fit, needed_bytes) = match decode.fit(largest, largest) {
        Ok(f) => f,
        Err(_) => {
            found.refuse(space.split_setups(prepared.arch(), acc, &m));
            return;
        }
    };
    for tp_p in space.tps(prepared.arch(), acc) {
        let splits = space.splits(tp_p, m.tp);
        let n = (splits.len() * space.max_batched_tokens.len() * space.max_num_seqs.len()) as u64;
        let probe = Machine { tp: tp_p, ..m };
        let base = machine_request(req, acc, &probe);
        let side = stored[m.weights]
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|stored| prepared.replica_with(&base, stored))
            .and_then(|r| {
                found.tally.passes_priced += 1;
                found.tally.memory_layouts += space.max_batched_tokens.len() as u64;
                PrefillSide::price(prepared.arch(), &r, &space.max_batched_tokens, m.tp)
            });
        let Ok(side) = side else {
            found.refuse(n);
            continue;
        };
        for (ci, &chunk) in space.max_batched_tokens.iter().enumerate() {
            for (mi, &max_num_seqs) in space.max_num_seqs.iter().enumerate() {
                let cap = Cap::of(fit, max_num_seqs, needed_bytes, acc.memory_bytes);
                for &(p, d) in &splits {
                    let pool = PrefillPool {
                        tp: side.tp,
                        replicas: p,
                    };
                    let (candidate, order) =
                        m.setup(space, d, Some(pool), (mi, max_num_seqs), (ci, chunk));
                    let outcome = decide_split(&mut decode, &side, req, &candidate, ci, cap, price);
                    found.record(req, candidate, order, outcome);
                }
            }
        }
    }
    found.tally.passes_priced += decode.passes;
    found.tally.memory_layouts += decode.layouts;
}

/// Decide every setup of `req.space` on `accs` at steady state, keeping the
/// best `front` aggregated and the best `front` disaggregated setups (by
/// `req.by`), the Pareto front and the nearest misses.
///
/// # Errors
/// Those of [`super::validate`].
pub fn search_steady(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    front: usize,
) -> Result<SteadyFound> {
    super::validate(accs, req)?;
    prepared.arch().check_layers()?;
    let machines = req.machines(prepared.arch(), accs);
    // a format's stored tensors depend on nothing else: store each once
    let stored: Vec<Result<Vec<StoredTensor>>> = req
        .space
        .weights
        .iter()
        .map(|&w| stored_tensors(prepared.arch(), w, &req.workload.weight_options))
        .collect();
    let stored = &stored;

    #[cfg(feature = "parallel")]
    let found = {
        use rayon::prelude::*;
        machines
            .par_iter()
            .fold(
                || Found::new(front),
                |f, &m| walk_machine(prepared, accs, req, stored, m, f),
            )
            .reduce(|| Found::new(front), Found::merge)
    };
    #[cfg(not(feature = "parallel"))]
    let found = machines
        .iter()
        .map(|&m| walk_machine(prepared, accs, req, stored, m, Found::new(front)))
        .fold(Found::new(front), Found::merge);

    let mut front = found.top.into_sorted();
    front.extend(found.top_split.into_sorted());
    front.sort();
    Ok(SteadyFound {
        tally: found.tally,
        front,
        pareto: staircase(found.pareto),
        misses: found.miss.into_sorted(),
    })
}

/// Decide one setup alone, aggregated or disaggregated (a repair of the
/// simulation tier, or a check): the figures the walk gives it.
///
/// # Errors
/// Those of [`super::validate`] for the request; [`CoreError::Invalid`] for a
/// candidate whose accelerator is not in `accs` or whose `max_num_seqs` passes
/// [`super::MAX_NUM_SEQS`]; those of the estimate for the setup's machine.
pub fn evaluate(
    prepared: &Prepared<'_>,
    accs: &[Accelerator],
    req: &ServePlanRequest,
    c: &ServeCandidate,
) -> Result<std::result::Result<Steady, MissReason>> {
    super::validate(accs, req)?;
    let acc = accs.get(c.accelerator).ok_or(CoreError::Invalid {
        field: "accelerator",
        value: c.accelerator.to_string(),
        expected: format!("an index below the {} accelerators", accs.len()),
    })?;
    if c.max_num_seqs == 0 || c.max_num_seqs > super::MAX_NUM_SEQS {
        return Err(CoreError::Invalid {
            field: "max_num_seqs",
            value: c.max_num_seqs.to_string(),
            expected: format!("1 to {} sequences per replica", super::MAX_NUM_SEQS),
        });
    }
    let base = c.request(&req.workload, acc, 1);
    let replica = prepared.replica(&base)?;
    // each data-parallel attention group runs its own `max_num_seqs`
    let in_flight = c.max_num_seqs.saturating_mul(c.attention_dp.max(1));
    let largest = (req
        .space
        .largest_num_seqs()
        .saturating_mul(c.attention_dp.max(1)))
    .max(in_flight);
    let mut prices = Prices::new(&replica, largest, req.workload.context());
    let price = req.workload.price_per_gpu_hour.or(acc.price_per_hour_usd);
    let outcome = match c.prefill {
        None => {
            let (fit, needed_bytes) = prices.fit(c.max_batched_tokens, in_flight)?;
            let cap = Cap::of(fit, in_flight, needed_bytes, acc.memory_bytes);
            decide(&mut prices, req, c, 0, cap, price)
        }
        Some(pool) => {
            let mut decode = prices.decode_only();
            // as the walk: a decode replica's steps hold at most `largest` new tokens
            let (fit, needed_bytes) = decode.fit(largest, largest)?;
            let cap = Cap::of(fit, c.max_num_seqs, needed_bytes, acc.memory_bytes);
            let prefill = ServeCandidate {
                tp: pool.tp,
                replicas: 1,
                prefill: None,
                ..*c
            };
            let base = prefill.request(&req.workload, acc, 1);
            let replica = prepared.replica(&base)?;
            let side =
                PrefillSide::price(prepared.arch(), &replica, &[c.max_batched_tokens], c.tp)?;
            decide_split(&mut decode, &side, req, c, 0, cap, price)
        }
    };
    Ok(match outcome {
        Outcome::Kept(s) => Ok(s),
        Outcome::Missed(r) => Err(r),
    })
}
