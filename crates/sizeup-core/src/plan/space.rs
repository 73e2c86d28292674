//! The space a training plan searches: every layout that divides.
//!
//! # Axes
//! For each accelerator and GPU count `N`:
//! ```text
//! t   | N, t | a (attention heads), t | k (KV heads)
//! p   | N/t, p ≤ L
//! v   = 1 if p = 1, else v | ⌈L/p⌉            (interleaved 1F1B chunks)
//! cp  | N/(t·p), cp | s
//! dp  = N/(t·p·cp), dp | B
//! ep  = 1 for a dense model, else ep | dp and ep | E
//! b   | B/dp                                   (micro-batch)
//! recompute ∈ {none, selective, full}
//! ZeRO ∈ {0, 1, 2, 3} (FSDP FULL_SHARD and Megatron's distributed optimizer
//!        are ZeRO-3 and ZeRO-1 in the memory and time model; only ZeRO-0 at dp = 1,
//!        where the stages coincide)
//! sequence parallel ∈ {off, on} (only off at t = 1, where it does nothing)
//! ```
//! These are the checks [`crate::training::parallel::Layout::resolve`] makes,
//! applied while walking so that no candidate is built only to be refused.
//!
//! # Assumptions / limits
//! Only what [`crate::training::estimate`] models is searched; optimizer or
//! activation offload, ZeRO++ and hierarchical partitioning, zero-bubble or
//! DualPipe schedules, expert-tensor parallelism and uneven pipeline splits
//! chosen per stage are not.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::training::activations::Recompute;
use crate::training::parallel::{LayoutRequest, ModelDims, ZeroStage};
use crate::training::TrainRequest;

/// Every ZeRO stage, in search order.
pub const ZERO_STAGES: [ZeroStage; 4] = [
    ZeroStage::Zero0,
    ZeroStage::Zero1,
    ZeroStage::Zero2,
    ZeroStage::Zero3,
];

/// Restrictions on the space; `None` leaves an axis free (every value that divides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Space {
    /// GPU counts to try.
    pub gpus: Vec<u64>,
    /// Tensor-parallel sizes allowed.
    pub tp: Option<Vec<u64>>,
    /// Pipeline stages allowed.
    pub pp: Option<Vec<u64>>,
    /// Chunks per stage allowed.
    pub vpp: Option<Vec<u64>>,
    /// Context-parallel sizes allowed.
    pub cp: Option<Vec<u64>>,
    /// Expert-parallel sizes allowed.
    pub ep: Option<Vec<u64>>,
    /// Micro-batches allowed.
    pub micro_batch: Option<Vec<u64>>,
    /// Recomputation modes.
    pub recompute: Vec<Recompute>,
    /// ZeRO stages.
    pub zero: Vec<ZeroStage>,
    /// Sequence parallelism off, on, or both.
    pub sequence_parallel: Vec<bool>,
}

impl Space {
    /// The whole space over these GPU counts.
    pub fn new(gpus: Vec<u64>) -> Space {
        Space {
            gpus,
            tp: None,
            pp: None,
            vpp: None,
            cp: None,
            ep: None,
            micro_batch: None,
            recompute: Recompute::SEARCHED.to_vec(),
            zero: ZERO_STAGES.to_vec(),
            sequence_parallel: vec![false, true],
        }
    }
}

/// One layout of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Candidate {
    /// Index of the accelerator in the plan's list.
    pub accelerator: usize,
    /// GPUs.
    pub gpus: u64,
    /// Tensor-parallel size.
    pub tp: u64,
    /// Pipeline stages.
    pub pp: u64,
    /// Chunks per stage.
    pub vpp: u64,
    /// Context-parallel size.
    pub cp: u64,
    /// Expert-parallel size.
    pub ep: u64,
    /// Data-parallel size.
    pub dp: u64,
    /// Micro-batch in sequences.
    pub micro_batch: u64,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
    /// ZeRO stage.
    pub zero: ZeroStage,
    /// Recomputation.
    pub recompute: Recompute,
}

impl Candidate {
    /// The request `sizeup train` builds from this layout's flags over `base`
    /// (which carries the sequence length, batch, tokens, optimizer, precision…).
    pub fn request(&self, base: &TrainRequest) -> TrainRequest {
        let mut req = base.clone();
        self.apply(&mut req);
        req
    }

    /// Set this layout's fields of `req`, leaving the rest.
    pub fn apply(&self, req: &mut TrainRequest) {
        req.gpus = self.gpus;
        req.micro_batch = self.micro_batch;
        req.recompute = self.recompute;
        req.layout = self.layout_request();
    }

    /// The layout flags of this candidate.
    pub fn layout_request(&self) -> LayoutRequest {
        LayoutRequest {
            tp: self.tp,
            pp: self.pp,
            vpp: self.vpp,
            cp: self.cp,
            ep: self.ep,
            dp: Some(self.dp),
            sequence_parallel: self.sequence_parallel,
            zero: self.zero,
            fsdp: false,
            distributed_optimizer: false,
        }
    }

    /// A total order for ties: fewer GPUs, then simpler layouts first.
    fn key(&self) -> impl Ord {
        let recompute = Recompute::ALL
            .iter()
            .position(|r| *r == self.recompute)
            .unwrap_or(usize::MAX);
        (
            (self.gpus, self.accelerator, self.pp, self.tp, self.cp),
            (self.ep, self.vpp, self.zero, self.sequence_parallel),
            (recompute, std::cmp::Reverse(self.micro_batch)),
        )
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// A block of the walk: one accelerator, GPU count and `t·p·cp·dp` split.
/// Workers take whole groups; within one, the walk is lazy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Index of the accelerator.
    pub accelerator: usize,
    /// GPUs.
    pub gpus: u64,
    /// Tensor-parallel size.
    pub tp: u64,
    /// Pipeline stages.
    pub pp: u64,
    /// Context-parallel size.
    pub cp: u64,
    /// Data-parallel size.
    pub dp: u64,
}

/// The settings that share one memory curve: a group plus everything but the micro-batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The group.
    pub group: Group,
    /// Chunks per stage.
    pub vpp: u64,
    /// Expert-parallel size.
    pub ep: u64,
    /// ZeRO stage.
    pub zero: ZeroStage,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
    /// Recomputation.
    pub recompute: Recompute,
}

impl Cell {
    /// The candidate at micro-batch `b`.
    pub fn candidate(&self, micro_batch: u64) -> Candidate {
        let g = self.group;
        Candidate {
            accelerator: g.accelerator,
            gpus: g.gpus,
            tp: g.tp,
            pp: g.pp,
            vpp: self.vpp,
            cp: g.cp,
            ep: self.ep,
            dp: g.dp,
            micro_batch,
            sequence_parallel: self.sequence_parallel,
            zero: self.zero,
            recompute: self.recompute,
        }
    }
}

/// The size of a space, counted without pricing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpaceCount {
    /// Candidates (layouts × micro-batches × recompute × ZeRO × sequence parallel).
    pub candidates: u64,
    /// `t·p·cp·dp` splits that divide the GPUs and the model.
    pub groups: u64,
    /// Of those, splits whose `dp` does not divide the global batch (no candidate).
    pub groups_batch_indivisible: u64,
}

/// Ascending divisors of `n`.
pub fn divisors(n: u64) -> Vec<u64> {
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut i = 1;
    while i <= n / i {
        if n % i == 0 {
            small.push(i);
            if i != n / i {
                large.push(n / i);
            }
        }
        i += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

fn allowed(filter: &Option<Vec<u64>>, v: u64) -> bool {
    filter.as_ref().is_none_or(|f| f.contains(&v))
}

/// What the walk needs from the model and the workload.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    /// Attention heads `a`.
    pub heads: u64,
    /// KV heads `k` (when the primary attention has them).
    pub kv_heads: Option<u64>,
    /// Layers `L`.
    pub layers: u64,
    /// Routed experts `E` (MoE models).
    pub experts: Option<u64>,
    /// Sequence length `s`.
    pub seq_len: u64,
    /// Global batch `B`.
    pub global_batch: u64,
}

impl Dims {
    /// Read the shape from the model and the request.
    pub fn new(arch: &Architecture, req: &TrainRequest) -> Dims {
        let model = ModelDims::of(arch);
        Dims {
            heads: model.heads,
            kv_heads: model.kv_heads,
            layers: model.layers,
            experts: model.experts,
            seq_len: req.seq_len,
            global_batch: req.global_batch,
        }
    }
}

impl Space {
    /// The `t·p·cp·dp` splits of every GPU count for `accelerators` accelerators,
    /// and how many of them the global batch does not divide.
    pub fn groups(&self, shape: &Dims, accelerators: usize) -> (Vec<Group>, u64) {
        let mut out = Vec::new();
        let mut indivisible = 0;
        for accelerator in 0..accelerators {
            for &gpus in &self.gpus {
                if gpus == 0 {
                    continue;
                }
                for tp in divisors(gpus) {
                    let heads_ok = shape.heads > 0 && shape.heads % tp == 0;
                    let kv_ok = shape.kv_heads.is_none_or(|k| k > 0 && k % tp == 0);
                    if !heads_ok || !kv_ok || !allowed(&self.tp, tp) {
                        continue;
                    }
                    for pp in divisors(gpus / tp) {
                        if pp > shape.layers || !allowed(&self.pp, pp) {
                            continue;
                        }
                        for cp in divisors(gpus / tp / pp) {
                            if shape.seq_len % cp != 0 || !allowed(&self.cp, cp) {
                                continue;
                            }
                            let dp = gpus / tp / pp / cp;
                            if shape.global_batch % dp != 0 {
                                indivisible += 1;
                                continue;
                            }
                            out.push(Group {
                                accelerator,
                                gpus,
                                tp,
                                pp,
                                cp,
                                dp,
                            });
                        }
                    }
                }
            }
        }
        (out, indivisible)
    }

    /// Call `f` with every cell of `group` and its allowed micro-batches (ascending).
    pub fn for_each_cell(&self, shape: &Dims, group: Group, mut f: impl FnMut(Cell, &[u64])) {
        let micro: Vec<u64> = divisors(shape.global_batch / group.dp)
            .into_iter()
            .filter(|&b| allowed(&self.micro_batch, b))
            .collect();
        if micro.is_empty() {
            return;
        }
        let vpps: Vec<u64> = if group.pp == 1 {
            vec![1]
        } else {
            divisors(shape.layers.div_ceil(group.pp))
        };
        let eps: Vec<u64> = match shape.experts {
            Some(e) => divisors(group.dp)
                .into_iter()
                .filter(|ep| e % ep == 0)
                .collect(),
            None => vec![1],
        };
        for &vpp in vpps.iter().filter(|&&v| allowed(&self.vpp, v)) {
            for &ep in eps.iter().filter(|&&e| allowed(&self.ep, e)) {
                for &zero in &self.zero {
                    if group.dp == 1 && zero != ZeroStage::Zero0 {
                        continue;
                    }
                    for &sequence_parallel in &self.sequence_parallel {
                        if group.tp == 1 && sequence_parallel {
                            continue;
                        }
                        for &recompute in &self.recompute {
                            let cell = Cell {
                                group,
                                vpp,
                                ep,
                                zero,
                                sequence_parallel,
                                recompute,
                            };
                            f(cell, &micro);
                        }
                    }
                }
            }
        }
    }

    /// Count the space without pricing it.
    pub fn count(&self, shape: &Dims, accelerators: usize) -> SpaceCount {
        let (groups, groups_batch_indivisible) = self.groups(shape, accelerators);
        let mut candidates = 0u64;
        for &g in &groups {
            self.for_each_cell(shape, g, |_, micro| {
                candidates = candidates.saturating_add(micro.len() as u64)
            });
        }
        SpaceCount {
            candidates,
            groups: groups.len() as u64,
            groups_batch_indivisible,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_ascend() {
        assert_eq!(divisors(12), vec![1, 2, 3, 4, 6, 12]);
        assert_eq!(divisors(1), vec![1]);
        assert_eq!(divisors(64).len(), 7);
    }
}
