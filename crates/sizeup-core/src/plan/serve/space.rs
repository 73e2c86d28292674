//! The setups a serving plan searches.
//!
//! # Axes
//! ```text
//! accelerator   the plan's list
//! weights       each format whose matmul precision has a tensor path on the accelerator
//! t             t | a (attention heads); t = 1 without a link for tensor parallelism
//! p             pipeline stages per replica, p ≤ L (layers); p = 1 without a link
//! d             MoE models: data-parallel attention groups of t ranks per replica
//!               (p = 1), t · d ≤ the largest deployment
//! ep            MoE models: 1, or t · d (each rank holds whole experts)
//! kv            each KV precision
//! chunk         each step budget (max_num_batched_tokens)
//! m             each sequence cap (max_num_seqs)
//! n replicas    n · t · p ∈ the GPU counts allowed
//! split         aggregated, or disaggregated: P prefill replicas of t_p ranks
//!               and D decode replicas of t ranks, P·t_p + D·t ∈ the GPU counts
//!               allowed, t_p from the same tensor-parallel list (p = d = ep = 1 only)
//! ```
//! A *machine* is one (accelerator, weights, t, p, d, ep, kv): its passes are priced once
//! and shared by its chunks, caps and replica counts (and, as a decode pool,
//! by every prefill pool beside it).

use serde::{Deserialize, Serialize};

use super::{PrefillPool, ServeCandidate};
use crate::arch::Architecture;
use crate::dtype::{KvDtype, WeightFormat};
use crate::hardware::Accelerator;
use crate::inference::has_tensor_path;
use crate::inference::ExpertGroups;

/// The setups to search; every axis lists the values allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeSpace {
    /// GPU counts of the whole deployment (`tp · pp · replicas`).
    pub gpus: Vec<u64>,
    /// Tensor-parallel sizes per replica.
    pub tp: Vec<u64>,
    /// Pipeline stages per replica (each of `tp` GPUs; vLLM `--pipeline-parallel-size`).
    #[serde(default = "one_stage")]
    pub pp: Vec<u64>,
    /// Expert parallelism for MoE models: `false` the experts split like every
    /// other matrix, `true` groups of ranks hold whole experts: every rank (`ep`
    /// = `tp · attention_dp`, vLLM `--enable-expert-parallel`), or for an engine
    /// whose expert groups may span several ranks (SGLang `--ep-size`,
    /// TensorRT-LLM `moe_expert_parallel_size`) every divisor of the ranks; both
    /// by default.
    #[serde(default = "both_splits")]
    pub expert_parallel: Vec<bool>,
    /// Data-parallel attention groups per replica for MoE models (vLLM
    /// `--data-parallel-size`, SGLang `--enable-dp-attention`); 1, 2, 4, 8 by default.
    #[serde(default = "one_stage")]
    pub attention_dp: Vec<u64>,
    /// Weight formats (each only where the accelerator runs its matmuls natively).
    pub weights: Vec<WeightFormat>,
    /// KV cache precisions.
    pub kv_dtypes: Vec<KvDtype>,
    /// Sequence caps per replica (vLLM `max_num_seqs`).
    pub max_num_seqs: Vec<u64>,
    /// Step budgets in tokens (vLLM `max_num_batched_tokens`, the prefill chunk).
    pub max_batched_tokens: Vec<u64>,
    /// Whether prefill and decode run on separate pools: `false` aggregated,
    /// `true` disaggregated; both by default.
    #[serde(default = "both_splits")]
    pub disaggregated: Vec<bool>,
}

fn both_splits() -> Vec<bool> {
    vec![false, true]
}

fn one_stage() -> Vec<u64> {
    vec![1]
}

/// A setup's place in the space's lists, for a total order: GPUs, accelerator,
/// tp, pp, attention groups, ep, weights, KV, prefill tp and replicas (0
/// aggregated), sequence cap, step budget.
pub type SetupOrder = [u64; 12];

/// The largest deployment searched by default, GPUs.
pub const DEFAULT_MAX_GPUS: u64 = 64;

impl Default for ServeSpace {
    /// Up to [`DEFAULT_MAX_GPUS`] GPUs in all; tp 1, 2, 4, 8 (one 8-GPU node:
    /// the estimate prices tensor parallelism over the intra-node link only);
    /// 1, 2 or 4 pipeline stages (a stage of a full node sends its hidden
    /// states over the network); for MoE models, 1, 2, 4 or 8 data-parallel
    /// attention groups and experts split or held whole;
    /// bf16, fp8 and AWQ int4 weights; bf16 and fp8 KV caches; vLLM's default
    /// 256 sequences and a tighter 64; vLLM's 8192-token step and a 2048-token one.
    fn default() -> Self {
        ServeSpace {
            gpus: (1..=DEFAULT_MAX_GPUS).collect(),
            tp: vec![1, 2, 4, 8],
            pp: vec![1, 2, 4],
            expert_parallel: both_splits(),
            attention_dp: vec![1, 2, 4, 8],
            weights: vec![
                WeightFormat::Bf16,
                WeightFormat::Fp8E4m3,
                WeightFormat::Awq { group: 128 },
            ],
            kv_dtypes: vec![KvDtype::Bf16, KvDtype::Fp8],
            max_num_seqs: vec![64, 256],
            max_batched_tokens: vec![2048, 8192],
            disaggregated: both_splits(),
        }
    }
}

/// The accelerators a serving plan searches by default: the catalog's
/// data-centre rows with an hourly price (a plan by cost needs one), in
/// catalog order.
pub fn default_accelerators() -> Vec<Accelerator> {
    crate::hardware::catalog()
        .iter()
        .filter(|a| a.data_centre && a.price_per_hour_usd.is_some())
        .cloned()
        .collect()
}

/// One machine of the walk: an accelerator, a weight format, a tensor-parallel
/// size, a pipeline depth, expert groups and a KV precision, with indexes into
/// the space's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Machine {
    /// Index of the accelerator.
    pub accelerator: usize,
    /// Index of the weight format in [`ServeSpace::weights`].
    pub weights: usize,
    /// Tensor-parallel size.
    pub tp: u64,
    /// Pipeline stages.
    pub pp: u64,
    /// Data-parallel attention groups of `tp` ranks (1: none).
    pub attention_dp: u64,
    /// Expert-parallel groups of the `tp · attention_dp` ranks (1, or all of them).
    pub ep: u64,
    /// Index of the KV precision in [`ServeSpace::kv_dtypes`].
    pub kv: usize,
}

impl Machine {
    /// Whether a replica is `tp` GPUs and nothing more (no stages, attention
    /// groups or whole experts): the only machine a disaggregated pool runs on.
    pub fn tensor_parallel_only(&self) -> bool {
        self.pp == 1 && self.attention_dp == 1 && self.ep == 1
    }

    /// GPUs of one replica ([`crate::inference::replica_devices`]; `u64::MAX` past it).
    pub fn gpus_per_replica(&self) -> u64 {
        crate::inference::replica_devices(self.tp, self.pp, self.attention_dp).unwrap_or(u64::MAX)
    }

    /// One setup on this machine: `replicas` (decode replicas where `prefill` is a
    /// split's prefill pool), the `(index, value)` of its sequence cap and step
    /// budget; with its place in the space's lists for a total order ([`SetupOrder`]).
    pub fn setup(
        &self,
        space: &ServeSpace,
        replicas: u64,
        prefill: Option<PrefillPool>,
        (mi, max_num_seqs): (usize, u64),
        (ci, max_batched_tokens): (usize, u64),
    ) -> (ServeCandidate, SetupOrder) {
        let candidate = ServeCandidate {
            accelerator: self.accelerator,
            tp: self.tp,
            pp: self.pp,
            attention_dp: self.attention_dp,
            ep: self.ep,
            replicas,
            prefill,
            weights: space.weights[self.weights],
            kv_dtype: space.kv_dtypes[self.kv],
            max_num_seqs,
            max_batched_tokens,
        };
        let (tp_p, p) = prefill.map_or((0, 0), |pool| (pool.tp, pool.replicas));
        let order = [
            candidate.gpus(),
            self.accelerator as u64,
            self.tp,
            self.pp,
            self.attention_dp,
            self.ep,
            self.weights as u64,
            self.kv as u64,
            tp_p,
            p,
            mi as u64,
            ci as u64,
        ];
        (candidate, order)
    }
}

/// The size of a space, counted without pricing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpaceCount {
    /// Setups: machines × step budgets × sequence caps × (replica counts +
    /// prefill/decode splits).
    pub setups: u64,
    /// Of them, disaggregated.
    pub disaggregated_setups: u64,
    /// Machines: (accelerator, weights, tp, pp, attention groups, ep, KV) that
    /// divide and run.
    pub machines: u64,
    /// Weight formats left out on accelerators without their tensor path.
    pub formats_without_path: u64,
}

impl ServeSpace {
    /// The largest `max_num_seqs` the space tries (1 for an empty axis, which
    /// validation refuses).
    pub fn largest_num_seqs(&self) -> u64 {
        self.max_num_seqs.iter().copied().max().unwrap_or(1)
    }

    /// Replica counts for replicas of `per_replica` GPUs (`tp · pp`): `n` with
    /// `n · per_replica` allowed.
    pub fn replicas(&self, per_replica: u64) -> impl Iterator<Item = u64> + '_ {
        let mut gpus: Vec<u64> = self.gpus.clone();
        gpus.sort_unstable();
        gpus.dedup();
        gpus.into_iter()
            .filter(move |g| per_replica > 0 && g % per_replica == 0)
            .map(move |g| g / per_replica)
    }

    /// The next replica count above `n` allowed for replicas of `per_replica` GPUs.
    pub fn next_replicas(&self, per_replica: u64, n: u64) -> Option<u64> {
        self.replicas(per_replica).filter(|&r| r > n).min()
    }

    /// Whether aggregated setups are searched.
    pub fn aggregated(&self) -> bool {
        self.disaggregated.contains(&false)
    }

    /// Whether disaggregated setups are searched.
    pub fn split(&self) -> bool {
        self.disaggregated.contains(&true)
    }

    /// Engine-cap variants of a replica count: step budgets × sequence caps.
    fn variants(&self) -> u64 {
        (self.max_batched_tokens.len() as u64).saturating_mul(self.max_num_seqs.len() as u64)
    }

    /// Aggregated setups per machine of `per_replica` GPUs per replica.
    pub fn setups_per_machine(&self, per_replica: u64) -> u64 {
        if !self.aggregated() {
            return 0;
        }
        self.variants()
            .saturating_mul(self.replicas(per_replica).count() as u64)
    }

    /// The prefill/decode splits with `tp_p` ranks per prefill replica and
    /// `tp_d` per decode replica: `(P, D)`, both at least 1, with
    /// `P·tp_p + D·tp_d` allowed, fewest GPUs first.
    pub fn splits(&self, tp_p: u64, tp_d: u64) -> Vec<(u64, u64)> {
        let mut gpus: Vec<u64> = self.gpus.clone();
        gpus.sort_unstable();
        gpus.dedup();
        let mut out = Vec::new();
        if tp_p == 0 || tp_d == 0 {
            return out;
        }
        for g in gpus {
            let mut d = 1;
            while d * tp_d < g {
                let rest = g - d * tp_d;
                if rest % tp_p == 0 {
                    out.push((rest / tp_p, d));
                }
                d += 1;
            }
        }
        out
    }

    /// Tensor-parallel sizes a replica of `arch` may take on `acc`: those that
    /// divide the attention heads, fit the largest deployment, and have a link
    /// (tp 1 needs none).
    pub fn tps(&self, arch: &Architecture, acc: &Accelerator) -> Vec<u64> {
        let heads = arch.heads();
        let largest = self.gpus.iter().copied().max().unwrap_or(0);
        self.tp
            .iter()
            .copied()
            .filter(|&tp| {
                let divides = tp > 0 && heads % tp == 0 && tp <= largest;
                let linked = tp == 1 || acc.interconnect_bytes_per_sec.is_some();
                divides && linked
            })
            .collect()
    }

    /// Disaggregated setups with decode machine `m` on `acc`: every prefill
    /// size × split × engine-cap variant (none for a pipelined or
    /// expert-parallel machine: the split's pools are tensor-parallel only).
    pub fn split_setups(&self, arch: &Architecture, acc: &Accelerator, m: &Machine) -> u64 {
        if !self.split() || !m.tensor_parallel_only() {
            return 0;
        }
        let splits: u64 = self
            .tps(arch, acc)
            .into_iter()
            .map(|tp_p| self.splits(tp_p, m.tp).len() as u64)
            .sum();
        splits.saturating_mul(self.variants())
    }

    /// Expert-parallel sizes a replica of `arch` whose experts spread over
    /// `ranks` ranks (`tp · attention_dp`) may take under an engine whose expert
    /// groups are `groups`: 1 where the space keeps the experts split; where it
    /// holds them whole, `ranks` ([`ExpertGroups::AllRanks`]) or every divisor of
    /// `ranks` above 1 ([`ExpertGroups::DivisorOfRanks`]), each no more than
    /// `arch`'s routed experts; nothing more for an engine without expert
    /// parallelism (`None`).
    pub fn eps(&self, arch: &Architecture, ranks: u64, groups: Option<ExpertGroups>) -> Vec<u64> {
        let experts = arch.first_moe().map_or(0, |m| m.num_experts);
        let split = self.expert_parallel.contains(&false).then_some(1);
        let sizes: Vec<u64> = match groups.filter(|_| self.expert_parallel.contains(&true)) {
            Some(ExpertGroups::AllRanks) => vec![ranks],
            // no group may hold less than one expert: divisors up to the expert count
            Some(ExpertGroups::DivisorOfRanks) => (2..=ranks.min(experts))
                .filter(|d| ranks % d == 0)
                .collect(),
            None => Vec::new(),
        };
        let whole = sizes.into_iter().filter(|&e| e > 1 && e <= experts);
        split.into_iter().chain(whole).collect()
    }

    /// Data-parallel attention group counts a replica of `arch` with `tp` ranks
    /// per stage and `pp` stages may take: 1, and for an MoE model without a
    /// layer split those whose `tp · d` GPUs fit the largest deployment.
    pub fn attention_dps(&self, arch: &Architecture, tp: u64, pp: u64) -> Vec<u64> {
        let largest = self.gpus.iter().copied().max().unwrap_or(0);
        let mut out: Vec<u64> = self
            .attention_dp
            .iter()
            .copied()
            .filter(|&d| d == 1 || (arch.is_moe() && pp == 1 && tp.saturating_mul(d) <= largest))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every machine of the space on `accs` for `arch` under an engine whose
    /// expert groups are `groups` ([`crate::inference::Engine::expert_groups`]), in walk order.
    pub fn machines(
        &self,
        arch: &Architecture,
        accs: &[Accelerator],
        groups: Option<ExpertGroups>,
    ) -> Vec<Machine> {
        let mut out = Vec::new();
        let largest = self.gpus.iter().copied().max().unwrap_or(0);
        for (a, acc) in accs.iter().enumerate() {
            let tps = self.tps(arch, acc);
            let linked = acc.interconnect_bytes_per_sec.is_some();
            for (w, format) in self.weights.iter().enumerate() {
                if !has_tensor_path(acc, format.compute_precision()) {
                    continue;
                }
                for &tp in &tps {
                    for &pp in &self.pp {
                        let splits = pp == 1 || (linked && pp <= arch.num_layers());
                        if !splits || tp.saturating_mul(pp) > largest {
                            continue;
                        }
                        for attention_dp in self.attention_dps(arch, tp, pp) {
                            if attention_dp > 1 && !linked {
                                continue;
                            }
                            for ep in self.eps(arch, tp.saturating_mul(attention_dp), groups) {
                                for kv in 0..self.kv_dtypes.len() {
                                    out.push(Machine {
                                        accelerator: a,
                                        weights: w,
                                        tp,
                                        pp,
                                        attention_dp,
                                        ep,
                                        kv,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Count the space without pricing it.
    pub fn count(
        &self,
        arch: &Architecture,
        accs: &[Accelerator],
        groups: Option<ExpertGroups>,
    ) -> SpaceCount {
        let machines = self.machines(arch, accs, groups);
        let disaggregated = machines.iter().fold(0u64, |n, m| {
            n.saturating_add(self.split_setups(arch, &accs[m.accelerator], m))
        });
        let setups = machines.iter().fold(disaggregated, |n, m| {
            n.saturating_add(self.setups_per_machine(m.gpus_per_replica()))
        });
        let without = accs
            .iter()
            .map(|acc| {
                self.weights
                    .iter()
                    .filter(|f| !has_tensor_path(acc, f.compute_precision()))
                    .count() as u64
            })
            .sum();
        SpaceCount {
            setups,
            disaggregated_setups: disaggregated,
            machines: machines.len() as u64,
            formats_without_path: without,
        }
    }
}
