//! `plan train`: every training layout that fits and divides, ranked by wall
//! time or cost, with a streaming top N.
//!
//! # How a candidate is decided
//! The layouts sharing everything but the micro-batch `b` (a [`Cell`]) share one
//! memory curve, which grows with `b`. The cell's micro-batches are priced in
//! ascending order by [`crate::training::estimate_point`] (the same numbers as
//! [`crate::training::estimate`], without its largest-micro-batch search and
//! assumptions) and offered to the top N while they fit; at the first that does
//! not, the larger ones are ruled out by memory without being priced (counted as
//! `pruned_by_memory`). The top N are priced again by [`crate::training::estimate`].
//! Nothing is ranked by a number of the plan's own. A candidate whose memory
//! fits only inside [`crate::training::verdict::FIT_MARGIN`] (tight) ranks after
//! every one that fits with the margin to spare: a plan's first choice should
//! not be the one that may run out of memory.
//!
//! Each group is priced by one pricer (`training::Pricer`), which keeps the
//! figures its layouts share (the step's kernels per micro-batch, the stage
//! states, the stored activations, the data-parallel collectives) and composes
//! each layout over them: the same functions on the same inputs, so the same
//! bits as `estimate_point` (a test holds every layout of a dense and an MoE
//! space to [`crate::training::estimate`]), at a fraction of the work. Memory
//! stays flat in the number of candidates: a group's figures are forgotten at
//! the next group, and only the top N and the nearest misses are kept.
//!
//! Before that, a cell is ruled out whole when its model states alone (weights,
//! gradients, optimizer states from [`crate::training::states::model_states`], the function the
//! estimate sums) plus the framework overhead exceed the GPU's memory: a floor
//! under every micro-batch's total, shared by the cells that differ only in
//! recomputation and sequence parallelism.

use serde::{Deserialize, Serialize};

use super::space::{Cell, Dims, Space, SpaceCount};
use super::top::TopN;
use super::Candidate;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;
use crate::training::kernels::Kernels;
use crate::training::parallel::Layout;
use crate::training::states::Stage;
use crate::training::verdict::FitVerdict;
use crate::training::{Prepared, Pricer, TrainEstimate, TrainRequest, FRAMEWORK_OVERHEAD_BYTES};
use crate::Architecture;

/// What the plan ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Wall time for the training tokens.
    Time,
    /// Cost in US dollars for the training tokens.
    Cost,
}

/// A training plan to search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlanRequest {
    /// Everything but the layout: sequence length, global batch, tokens,
    /// optimizer, precision, method, kernels, overlap, network, price.
    /// Its GPU count, layout, micro-batch and recomputation are ignored.
    pub base: TrainRequest,
    /// The space.
    pub space: Space,
    /// The ranking.
    pub by: RankBy,
    /// How many to keep.
    pub top: usize,
}

/// A candidate with the figure it is ranked by (smaller is better), tight fits
/// after every fit with the margin to spare.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// Its memory fits only inside [`crate::training::verdict::FIT_MARGIN`].
    pub tight: bool,
    /// Wall seconds or US dollars.
    pub score: f64,
    /// The layout.
    pub candidate: Candidate,
}

impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.tight
            .cmp(&other.tight)
            .then_with(|| self.score.total_cmp(&other.score))
            .then_with(|| self.candidate.cmp(&other.candidate))
    }
}

/// A layout priced by [`crate::training::estimate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The layout.
    pub candidate: Candidate,
    /// The accelerator's name.
    pub accelerator: String,
    /// The request `sizeup train` builds from the layout's flags.
    pub request: TrainRequest,
    /// Its estimate.
    pub estimate: TrainEstimate,
}

/// How many candidates met which fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tally {
    /// Candidates decided: priced, pruned by memory or refused.
    pub evaluated: u64,
    /// Calls to `training::estimate`.
    pub priced: u64,
    /// Ruled out by memory from their cell's curve, without a call.
    pub pruned_by_memory: u64,
    /// Of those, ruled out by the model-state floor of their cell.
    pub pruned_by_states: u64,
    /// Refused by the layout checks (should be 0: the walk applies them).
    pub refused: u64,
    /// Candidates that fit (tight ones included).
    pub kept: u64,
    /// Of those, tight: their memory fits only inside the margin, and they rank
    /// after every candidate that fits with it to spare.
    #[serde(default)]
    pub tight: u64,
}

impl Tally {
    fn add(mut self, o: Tally) -> Tally {
        self.evaluated += o.evaluated;
        self.priced += o.priced;
        self.pruned_by_memory += o.pruned_by_memory;
        self.pruned_by_states += o.pruned_by_states;
        self.refused += o.refused;
        self.kept += o.kept;
        self.tight += o.tight;
        self
    }
}

/// A candidate that does not fit, by how much memory it is short (the ratio of
/// its need to the GPU's memory; smaller is nearer).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Miss {
    ratio: f64,
    candidate: Candidate,
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
            .then_with(|| self.candidate.cmp(&other.candidate))
    }
}

/// Misses kept and priced again at the end to name the nearest (a cell ruled
/// out by its state floor enters with that floor, below its true need).
const MISSES: usize = 8;

/// What one worker found.
#[derive(Debug, Clone)]
struct Found {
    tally: Tally,
    top: TopN<Ranked>,
    miss: TopN<Miss>,
}

impl Found {
    fn new(n: usize) -> Found {
        Found {
            tally: Tally::default(),
            top: TopN::new(n),
            miss: TopN::new(MISSES),
        }
    }
    fn merge(self, o: Found) -> Found {
        Found {
            tally: self.tally.add(o.tally),
            top: self.top.merge(o.top),
            miss: self.miss.merge(o.miss),
        }
    }
}

/// The outcome of a training plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainPlan {
    /// The ranking.
    pub by: RankBy,
    /// The accelerators searched.
    pub accelerators: Vec<String>,
    /// The size of the space.
    pub space: SpaceCount,
    /// What happened to the candidates.
    pub tally: Tally,
    /// The best layouts, best first, each priced again by `training::estimate`.
    pub top: Vec<PlanEntry>,
    /// With nothing that fits: the candidate nearest to fitting.
    pub nearest_miss: Option<PlanEntry>,
}

/// The figure ranked by, from an estimate's wall seconds and cost.
fn score_of(total_seconds: f64, cost_usd: Option<f64>, by: RankBy) -> Option<f64> {
    match by {
        RankBy::Time => Some(total_seconds),
        RankBy::Cost => cost_usd,
    }
    .filter(|s| s.is_finite())
}

/// Decide every candidate of one cell with the group's pricer. With
/// `monotone`, memory grows with the micro-batch and the first that does not fit
/// ends the cell; eager kernels are not (a step of one micro-batch may leave the
/// gradients out of the peak, [`crate::training::Peak`]).
fn walk_cell(
    pricer: &mut Pricer,
    acc: &Accelerator,
    by: RankBy,
    monotone: bool,
    cell: Cell,
    micro: &[u64],
    found: &mut Found,
) {
    for (i, &b) in micro.iter().enumerate() {
        let c = cell.candidate(b);
        found.tally.evaluated += 1;
        found.tally.priced += 1;
        // the figures of training::estimate_point, without building the estimate
        let e = match pricer.outcome(c.gpus, c.layout_request(), b, c.recompute) {
            Ok(e) => e,
            Err(_) => {
                found.tally.refused += 1;
                continue;
            }
        };
        if !e.verdict.within_capacity() {
            let ratio = e.total_bytes as f64 / acc.memory_bytes.max(1) as f64;
            found.miss.offer(Miss {
                ratio,
                candidate: c,
            });
            if !monotone {
                continue;
            }
            // memory grows with the micro-batch: the larger ones do not fit either
            let rest = (micro.len() - i - 1) as u64;
            found.tally.evaluated += rest;
            found.tally.pruned_by_memory += rest;
            return;
        }
        found.tally.kept += 1;
        let tight = e.verdict == FitVerdict::Tight;
        found.tally.tight += u64::from(tight);
        if let Some(score) = score_of(e.total_seconds, e.cost_usd, by) {
            found.top.offer(Ranked {
                tight,
                score,
                candidate: c,
            });
        }
    }
}

/// Model states plus framework overhead on the fullest stage of `req`'s layout:
/// a floor under the memory `training::estimate` reports for any micro-batch.
fn states_floor(prepared: &Prepared, req: &TrainRequest) -> Option<u64> {
    let arch = prepared.arch();
    let layout = Layout::resolve(&req.layout, arch, &crate::training::workload(req)).ok()?;
    let stage = if layout.pp == 1 {
        Stage::Only
    } else {
        Stage::First
    };
    let s = prepared
        .model_states(&layout, stage, &crate::training::state_config(req, &layout))
        .ok()?;
    s.weights_bytes
        .checked_add(s.gradients_bytes)?
        .checked_add(s.optimizer_states_bytes)?
        .checked_add(FRAMEWORK_OVERHEAD_BYTES)
}

fn walk_group(
    prepared: &Prepared,
    accs: &[Accelerator],
    req: &PlanRequest,
    shape: &Dims,
    group: super::space::Group,
    mut found: Found,
) -> Found {
    let acc = &accs[group.accelerator];
    let mut scratch = req.base.clone();
    let mut pricer = prepared.pricer(acc, &req.base);
    let monotone = req.base.kernels != Kernels::Eager;
    // The floor depends on (vpp, ep, ZeRO) within a group, not on recompute or SP.
    let mut floors: Vec<((u64, u64, u8), Option<u64>)> = Vec::new();
    req.space.for_each_cell(shape, group, |cell, micro| {
        let key = (cell.vpp, cell.ep, cell.zero.number());
        let floor = match floors.iter().find(|(k, _)| *k == key) {
            Some(&(_, f)) => f,
            None => {
                cell.candidate(micro[0]).apply(&mut scratch);
                let f = states_floor(prepared, &scratch);
                floors.push((key, f));
                f
            }
        };
        if let Some(floor) = floor.filter(|&f| f > acc.memory_bytes) {
            let n = micro.len() as u64;
            found.tally.evaluated += n;
            found.tally.pruned_by_memory += n;
            found.tally.pruned_by_states += n;
            let ratio = floor as f64 / acc.memory_bytes.max(1) as f64;
            found.miss.offer(Miss {
                ratio,
                candidate: cell.candidate(micro[0]),
            });
            return;
        }
        walk_cell(&mut pricer, acc, req.by, monotone, cell, micro, &mut found)
    });
    found
}

/// The groups of the space and its count, for a caller that wants to know the
/// size before searching.
pub fn count(arch: &Architecture, accelerators: usize, req: &PlanRequest) -> SpaceCount {
    req.space.count(&Dims::new(arch, &req.base), accelerators)
}

/// Search every layout of `req.space` on each of `accs`.
///
/// # Formula
/// ```text
/// score = wall seconds for the tokens (by time) or GPU-hours · price (by cost),
///         both from training::estimate; ties go to fewer GPUs, then simpler layouts
/// ```
///
/// # Errors
/// [`CoreError::Invalid`] for an empty accelerator or GPU list, a top of 0, a
/// ranking by cost where an accelerator has no price; the model's own errors.
pub fn search(arch: &Architecture, accs: &[Accelerator], req: &PlanRequest) -> Result<TrainPlan> {
    if accs.is_empty() {
        return Err(CoreError::Invalid {
            field: "gpu",
            value: String::new(),
            expected: "at least one accelerator".into(),
        });
    }
    if req.space.gpus.is_empty() || req.space.gpus.contains(&0) {
        return Err(CoreError::Invalid {
            field: "gpus",
            value: format!("{:?}", req.space.gpus),
            expected: "one or more positive GPU counts".into(),
        });
    }
    if req.top == 0 {
        return Err(CoreError::Zero { field: "top" });
    }
    if req.by == RankBy::Cost && req.base.price_per_gpu_hour.is_none() {
        if let Some(acc) = accs.iter().find(|a| a.price_per_hour_usd.is_none()) {
            return Err(CoreError::Invalid {
                field: "price_per_gpu_hour",
                value: acc.name.clone(),
                expected: "a price per GPU-hour to rank by cost (the catalog lists none)".into(),
            });
        }
    }
    arch.check_layers()?;
    let shape = Dims::new(arch, &req.base);
    let (groups, _) = req.space.groups(&shape, accs.len());
    let n = req.top;
    let prepared = Prepared::new(arch);
    let prepared = &prepared;

    #[cfg(feature = "parallel")]
    let found = {
        use rayon::prelude::*;
        groups
            .par_iter()
            .fold(
                || Found::new(n),
                |f, &g| walk_group(prepared, accs, req, &shape, g, f),
            )
            .reduce(|| Found::new(n), Found::merge)
    };
    #[cfg(not(feature = "parallel"))]
    let found = groups
        .iter()
        .map(|&g| walk_group(prepared, accs, req, &shape, g, Found::new(n)))
        .fold(Found::new(n), Found::merge);

    let entry = |candidate: Candidate| -> Result<PlanEntry> {
        let acc = &accs[candidate.accelerator];
        let request = candidate.request(&req.base);
        let estimate = prepared.estimate(acc, &request)?;
        Ok(PlanEntry {
            candidate,
            accelerator: acc.name.clone(),
            request,
            estimate,
        })
    };
    let top = found
        .top
        .into_sorted()
        .into_iter()
        .map(|r| entry(r.candidate))
        .collect::<Result<Vec<_>>>()?;
    let nearest_miss = if top.is_empty() {
        let mut misses = found
            .miss
            .into_sorted()
            .into_iter()
            .map(|m| entry(m.candidate))
            .collect::<Result<Vec<_>>>()?;
        let ratio = |e: &PlanEntry| {
            e.estimate.memory.total_bytes as f64 / e.estimate.memory.capacity_bytes.max(1) as f64
        };
        misses.sort_by(|a, b| {
            ratio(a)
                .total_cmp(&ratio(b))
                .then_with(|| a.candidate.cmp(&b.candidate))
        });
        misses.into_iter().next()
    } else {
        None
    };
    let space = req.space.count(&shape, accs.len());
    Ok(TrainPlan {
        by: req.by,
        accelerators: accs.iter().map(|a| a.name.clone()).collect(),
        space,
        tally: found.tally,
        top,
        nearest_miss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware;
    use crate::training;

    fn score(e: &TrainEstimate, by: RankBy) -> Option<f64> {
        score_of(e.time.total_seconds, e.time.cost_usd, by)
    }
    use crate::Shape;

    // Llama-2-7B's shape (shared/fixtures/models/llama-2-7b): 32 layers, h 4096, 32 heads
    fn llama_7b() -> Architecture {
        Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap()
    }

    fn request(gpus: Vec<u64>, global_batch: u64, top: usize) -> PlanRequest {
        let mut base = TrainRequest::new(1, 4096, global_batch, 1);
        base.tokens = Some(100_000_000_000);
        PlanRequest {
            base,
            space: Space::new(gpus),
            by: RankBy::Time,
            top,
        }
    }

    /// Every candidate of the space, priced one by one.
    fn brute_force(arch: &Architecture, accs: &[Accelerator], req: &PlanRequest) -> Vec<Ranked> {
        let shape = Dims::new(arch, &req.base);
        let (groups, _) = req.space.groups(&shape, accs.len());
        let mut all = Vec::new();
        for g in groups {
            req.space.for_each_cell(&shape, g, |cell, micro| {
                for &b in micro {
                    let c = cell.candidate(b);
                    let e = training::estimate(arch, &accs[c.accelerator], &c.request(&req.base))
                        .unwrap();
                    if e.fits {
                        all.push(Ranked {
                            tight: e.verdict == FitVerdict::Tight,
                            score: score(&e, req.by).unwrap(),
                            candidate: c,
                        });
                    }
                }
            });
        }
        all.sort();
        all
    }

    #[test]
    fn the_search_finds_what_pricing_everything_finds() {
        let arch = llama_7b();
        let accs = [
            hardware::find("A100-SXM-80GB").unwrap().clone(),
            hardware::find("H100-SXM").unwrap().clone(),
        ];
        for by in [RankBy::Time, RankBy::Cost] {
            let mut req = request(vec![8, 16], 64, 7);
            req.by = by;
            let plan = search(&arch, &accs, &req).unwrap();
            let all = brute_force(&arch, &accs, &req);
            assert_eq!(plan.tally.kept, all.len() as u64);
            assert_eq!(plan.tally.evaluated, plan.space.candidates);
            assert_eq!(plan.tally.refused, 0);
            let got: Vec<Candidate> = plan.top.iter().map(|e| e.candidate).collect();
            let want: Vec<Candidate> = all.iter().take(7).map(|r| r.candidate).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn the_winner_is_priced_by_the_train_estimate_to_the_bit() {
        let arch = llama_7b();
        let accs = [hardware::find("H100-SXM").unwrap().clone()];
        let plan = search(&arch, &accs, &request(vec![16], 128, 3)).unwrap();
        let w = &plan.top[0];
        let again = training::estimate(&arch, &accs[0], &w.request).unwrap();
        assert_eq!(again, w.estimate);
        assert_eq!(
            again.time.total_seconds.to_bits(),
            w.estimate.time.total_seconds.to_bits()
        );
        assert!(plan
            .top
            .windows(2)
            .all(|p| p[0].estimate.time.total_seconds <= p[1].estimate.time.total_seconds));
    }

    #[test]
    fn the_point_estimate_is_the_estimate_less_its_extras() {
        let arch = llama_7b();
        let acc = hardware::find("H100-SXM").unwrap();
        let req = request(vec![16], 128, 3);
        let shape = Dims::new(&arch, &req.base);
        let (groups, _) = req.space.groups(&shape, 1);
        let mut n = 0;
        for g in groups {
            req.space.for_each_cell(&shape, g, |cell, micro| {
                let r = cell.candidate(micro[0]).request(&req.base);
                let mut full = training::estimate(&arch, acc, &r).unwrap();
                let point = training::estimate_point(&arch, acc, &r).unwrap();
                full.largest_micro_batch = None;
                full.largest_micro_batch_with_margin = None;
                full.assumptions.clear();
                assert_eq!(full, point);
                n += 1;
            });
        }
        assert!(n > 100);
    }

    /// A 4-layer MoE: one dense layer, then three of 8 routed experts (2 per token).
    fn small_moe() -> Architecture {
        let dense = Shape::llama(4, 1024, 16, 4, 2816, 32000).build().unwrap();
        let block = dense.layers.blocks[0].clone();
        let mut moe = block.clone();
        let expert = *moe.dense().unwrap();
        moe.ffn = crate::arch::BlockFfn::Moe(crate::arch::Moe {
            num_experts: 8,
            experts_per_token: 2,
            expert,
            shared: None,
            router_bias: false,
        });
        let mut arch = dense;
        arch.layers = crate::arch::Schedule::uniform(block, 1);
        arch.layers.push(moe, 3);
        arch
    }

    /// Every candidate of `req`'s space priced by the search's pricer, one per
    /// group in walk order and one for all groups in reverse order (its figures
    /// forgotten at each new split), held to `training::estimate` field by field
    /// and bit by bit; returns how many were compared.
    fn pricer_agrees_with_estimate(
        arch: &Architecture,
        accs: &[Accelerator],
        req: &PlanRequest,
    ) -> usize {
        let prepared = Prepared::new(arch);
        let shape = Dims::new(arch, &req.base);
        let (groups, _) = req.space.groups(&shape, accs.len());
        let mut candidates = Vec::new();
        for &g in &groups {
            let mut pricer = prepared.pricer(&accs[g.accelerator], &req.base);
            req.space.for_each_cell(&shape, g, |cell, micro| {
                for &b in micro {
                    let c = cell.candidate(b);
                    let fast = pricer.memory_and_time(c.gpus, c.layout_request(), b, c.recompute);
                    candidates.push((c, fast));
                }
            });
        }
        let mut shared: Vec<_> = accs.iter().map(|a| prepared.pricer(a, &req.base)).collect();
        for (c, fast) in candidates.iter().rev() {
            let again = shared[c.accelerator].memory_and_time(
                c.gpus,
                c.layout_request(),
                c.micro_batch,
                c.recompute,
            );
            let slow = training::estimate(arch, &accs[c.accelerator], &c.request(&req.base));
            for fast in [fast, &again] {
                match (fast, &slow) {
                    (Ok((mem, time)), Ok(e)) => {
                        assert_eq!((mem, time), (&e.memory, &e.time), "{c:?}");
                        // Debug prints each f64's shortest round trip: equal text, equal bits
                        assert_eq!(
                            format!("{mem:?}{time:?}"),
                            format!("{:?}{:?}", e.memory, e.time)
                        );
                    }
                    (Err(f), Err(s)) => assert_eq!(f, s, "{c:?}"),
                    (f, s) => panic!("{c:?}: pricer {:?}, estimate {:?}", f.is_ok(), s.is_ok()),
                }
            }
        }
        candidates.len()
    }

    #[test]
    fn the_pricer_prices_every_layout_as_the_estimate_does_to_the_bit() {
        let accs = [
            hardware::find("H100-SXM").unwrap().clone(),
            hardware::find("A100-SXM-80GB").unwrap().clone(),
        ];
        // dense, 6 layers (uneven stages at p = 4), GQA with 4 KV heads
        let dense = Shape::llama(6, 1024, 16, 4, 2816, 32000).build().unwrap();
        let mut req = request(vec![8, 16], 32, 1);
        req.base.seq_len = 2048;
        assert_eq!(pricer_agrees_with_estimate(&dense, &accs, &req), 7_944);
        // unfused attention with dropout (selective recomputation differs), eager
        // kernels, every overlap, compute-optimal tokens
        req.base.flash_attention = false;
        req.base.dropout = true;
        req.base.kernels = crate::training::kernels::Kernels::Eager;
        req.base.overlap = crate::training::time::Overlap {
            tensor_parallel: true,
            data_parallel: true,
            expert_parallel: true,
        };
        req.base.tokens = None;
        // and every recomputation mode, operator-level selective included
        req.space.recompute = crate::training::activations::Recompute::ALL.to_vec();
        assert_eq!(pricer_agrees_with_estimate(&dense, &accs, &req), 10_592);
        // MoE: a dense layer then three of 8 experts, expert parallel over dp
        let moe = small_moe();
        let mut req = request(vec![8], 16, 1);
        req.base.seq_len = 1024;
        req.base.overlap.expert_parallel = true;
        assert_eq!(pricer_agrees_with_estimate(&moe, &accs, &req), 4_116);
    }

    #[test]
    fn tight_layouts_rank_after_every_fit() {
        let arch = llama_7b();
        let accs = [hardware::find("A100-SXM-80GB").unwrap().clone()];
        let req = request(vec![8], 64, 4000);
        let plan = search(&arch, &accs, &req).unwrap();
        assert!(plan.tally.tight > 0 && plan.tally.tight < plan.tally.kept);
        let tiers: Vec<FitVerdict> = plan.top.iter().map(|e| e.estimate.verdict).collect();
        // every row fits, tight ones last, and the tally counts them all
        let first_tight = tiers.iter().position(|&v| v == FitVerdict::Tight).unwrap();
        assert!(tiers[..first_tight].iter().all(|&v| v == FitVerdict::Fits));
        assert!(tiers[first_tight..].iter().all(|&v| v == FitVerdict::Tight));
        assert_eq!((tiers.len() - first_tight) as u64, plan.tally.tight);
        // some tight layout is faster than the last fit: the tier, not the time, put it after
        let last_fit = plan.top[first_tight - 1].estimate.time.total_seconds;
        assert!(plan.top[first_tight..]
            .iter()
            .any(|e| e.estimate.time.total_seconds < last_fit));
    }

    #[test]
    fn nothing_fits_names_the_nearest_miss() {
        // 70B-class model on one 80 GB GPU: states alone are 16 bytes × 69e9
        let arch = Shape::llama(80, 8192, 64, 8, 28672, 128_256)
            .build()
            .unwrap();
        let accs = [hardware::find("H100-SXM").unwrap().clone()];
        let plan = search(&arch, &accs, &request(vec![1], 8, 3)).unwrap();
        assert!(plan.top.is_empty());
        let miss = plan.nearest_miss.unwrap();
        assert!(!miss.estimate.fits);
        assert_eq!(plan.tally.kept, 0);
        assert!(plan.tally.pruned_by_states > 0);
        assert_eq!(plan.tally.evaluated, plan.space.candidates);
    }

    #[test]
    fn bad_requests_name_the_field() {
        let arch = llama_7b();
        let accs = [hardware::find("H100-SXM").unwrap().clone()];
        let mut req = request(vec![8], 64, 0);
        assert!(matches!(
            search(&arch, &accs, &req),
            Err(CoreError::Zero { field: "top" })
        ));
        req.top = 1;
        req.space.gpus.clear();
        assert!(matches!(
            search(&arch, &accs, &req),
            Err(CoreError::Invalid { field: "gpus", .. })
        ));
    }
}
