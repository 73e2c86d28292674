//! The setups a serving plan searches.
//!
//! # Axes
//! ```text
//! accelerator   the plan's list
//! weights       each format whose matmul precision has a tensor path on the accelerator
//! t             t | a (attention heads); t = 1 without a link for tensor parallelism
//! kv            each KV precision
//! chunk         each step budget (max_num_batched_tokens)
//! m             each sequence cap (max_num_seqs)
//! n replicas    n · t ∈ the GPU counts allowed
//! ```
//! A *machine* is one (accelerator, weights, t, kv): its passes are priced once
//! and shared by its chunks, caps and replica counts.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::dtype::{KvDtype, WeightFormat};
use crate::hardware::Accelerator;
use crate::inference::has_tensor_path;

/// The setups to search; every axis lists the values allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServeSpace {
    /// GPU counts of the whole deployment (`tp · replicas`).
    pub gpus: Vec<u64>,
    /// Tensor-parallel sizes per replica.
    pub tp: Vec<u64>,
    /// Weight formats (each only where the accelerator runs its matmuls natively).
    pub weights: Vec<WeightFormat>,
    /// KV cache precisions.
    pub kv_dtypes: Vec<KvDtype>,
    /// Sequence caps per replica (vLLM `max_num_seqs`).
    pub max_num_seqs: Vec<u64>,
    /// Step budgets in tokens (vLLM `max_num_batched_tokens`, the prefill chunk).
    pub max_batched_tokens: Vec<u64>,
}

/// The largest deployment searched by default, GPUs.
pub const DEFAULT_MAX_GPUS: u64 = 64;

impl Default for ServeSpace {
    /// Up to [`DEFAULT_MAX_GPUS`] GPUs in all; tp 1, 2, 4, 8 (one 8-GPU node:
    /// the estimate prices tensor parallelism over the intra-node link only);
    /// bf16, fp8 and AWQ int4 weights; bf16 and fp8 KV caches; vLLM's default
    /// 256 sequences and a tighter 64; vLLM's 8192-token step and a 2048-token one.
    fn default() -> Self {
        ServeSpace {
            gpus: (1..=DEFAULT_MAX_GPUS).collect(),
            tp: vec![1, 2, 4, 8],
            weights: vec![
                WeightFormat::Bf16,
                WeightFormat::Fp8E4m3,
                WeightFormat::Awq { group: 128 },
            ],
            kv_dtypes: vec![KvDtype::Bf16, KvDtype::Fp8],
            max_num_seqs: vec![64, 256],
            max_batched_tokens: vec![2048, 8192],
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
/// size and a KV precision, with indexes into the space's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Machine {
    /// Index of the accelerator.
    pub accelerator: usize,
    /// Index of the weight format in [`ServeSpace::weights`].
    pub weights: usize,
    /// Tensor-parallel size.
    pub tp: u64,
    /// Index of the KV precision in [`ServeSpace::kv_dtypes`].
    pub kv: usize,
}

/// The size of a space, counted without pricing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SpaceCount {
    /// Setups: machines × step budgets × sequence caps × replica counts.
    pub setups: u64,
    /// Machines: (accelerator, weights, tp, KV) that divide and run.
    pub machines: u64,
    /// Weight formats left out on accelerators without their tensor path.
    pub formats_without_path: u64,
}

impl ServeSpace {
    /// Replica counts for tensor-parallel size `tp`: `n` with `n · tp` allowed.
    pub fn replicas(&self, tp: u64) -> impl Iterator<Item = u64> + '_ {
        let mut gpus: Vec<u64> = self.gpus.clone();
        gpus.sort_unstable();
        gpus.dedup();
        gpus.into_iter()
            .filter(move |g| tp > 0 && g % tp == 0)
            .map(move |g| g / tp)
    }

    /// The next replica count above `n` allowed at `tp`.
    pub fn next_replicas(&self, tp: u64, n: u64) -> Option<u64> {
        self.replicas(tp).filter(|&r| r > n).min()
    }

    /// Setups per machine of tensor-parallel size `tp`.
    pub fn setups_per_machine(&self, tp: u64) -> u64 {
        let per_n =
            (self.max_batched_tokens.len() as u64).saturating_mul(self.max_num_seqs.len() as u64);
        per_n.saturating_mul(self.replicas(tp).count() as u64)
    }

    /// Every machine of the space on `accs` for `arch`, in walk order.
    pub fn machines(&self, arch: &Architecture, accs: &[Accelerator]) -> Vec<Machine> {
        let heads = arch.heads();
        let largest = self.gpus.iter().copied().max().unwrap_or(0);
        let mut out = Vec::new();
        for (a, acc) in accs.iter().enumerate() {
            for (w, format) in self.weights.iter().enumerate() {
                if !has_tensor_path(acc, format.compute_precision()) {
                    continue;
                }
                for &tp in &self.tp {
                    let divides = tp > 0 && heads % tp == 0 && tp <= largest;
                    let linked = tp == 1 || acc.interconnect_bytes_per_sec.is_some();
                    if !divides || !linked {
                        continue;
                    }
                    for kv in 0..self.kv_dtypes.len() {
                        out.push(Machine {
                            accelerator: a,
                            weights: w,
                            tp,
                            kv,
                        });
                    }
                }
            }
        }
        out
    }

    /// Count the space without pricing it.
    pub fn count(&self, arch: &Architecture, accs: &[Accelerator]) -> SpaceCount {
        let machines = self.machines(arch, accs);
        let setups = machines
            .iter()
            .fold(0u64, |n, m| n.saturating_add(self.setups_per_machine(m.tp)));
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
            machines: machines.len() as u64,
            formats_without_path: without,
        }
    }
}
