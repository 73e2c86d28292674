//! Time of one forward pass, operation by operation.
//!
//! Each operation (a projection, the attention over the cache, the experts) is
//! priced by the device model ([`crate::device`]): the larger of its compute and
//! memory times, at the accelerator's measured rates times the engine's factors
//! (the engine's [`Library`]). A pass adds the operations, the tensor-parallel
//! all-reduces (the device model's collectives) and a fixed overhead per layer,
//! or, where the overhead is host time that overlaps the device's (eager
//! PyTorch), takes the longer of the device's time and the host's.

use serde::{Deserialize, Serialize};

use super::engine::{AttentionGroups, EngineProfile};
use super::weights::{RankSplit, StoredTensor};
use crate::arch::Architecture;
use crate::assumption::Assumption;
use crate::device::collective::{Collective, Fabric, Group, Network, EXPERT_LOAD_IMBALANCE};
use crate::device::{AttentionPass, Device, Gemm, Library, OpTime};
use crate::dtype::{ComputePrecision, KvDtype};
use crate::hardware::Accelerator;
use crate::kv;
use crate::ops::{self, BlockOps, OpList, Stage, SCAN_FLOPS_PER_STATE_VALUE};
use crate::params::TensorRole;

/// Which resource limits a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Tensor-core arithmetic.
    Compute,
    /// Memory bandwidth (weights and KV cache streamed from HBM/GDDR).
    MemoryBandwidth,
    /// Tensor-parallel all-reduces over the interconnect.
    Communication,
    /// Fixed per-layer costs (kernel launches, synchronisation).
    Overhead,
}

impl Bound {
    /// The resource in words (`memory bandwidth`).
    pub fn name(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::MemoryBandwidth => "memory bandwidth",
            Bound::Communication => "communication",
            Bound::Overhead => "per-layer overhead",
        }
    }
}

/// The shape of one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Sequences in the pass.
    pub sequences: u64,
    /// New tokens per sequence (the prompt for a prefill, 1 for a decode step).
    pub new_tokens: u64,
    /// Tokens already cached per sequence before the pass.
    pub cached_tokens: u64,
}

impl Pass {
    fn tokens(&self) -> f64 {
        self.sequences as f64 * self.new_tokens as f64
    }
}

/// What the pass runs on.
#[derive(Debug, Clone, Copy)]
pub struct Machine<'a> {
    /// The accelerator.
    pub gpu: &'a Accelerator,
    /// Tensor-parallel ranks.
    pub tp: u64,
    /// Expert-parallel groups of the `tp · dp` ranks (1: experts split as
    /// tensors; [`RankSplit`]).
    pub ep: u64,
    /// Data-parallel attention groups of `tp` ranks, each running its own
    /// sequences, their MoE layers in lockstep (1: none).
    pub dp: u64,
    /// Engine assumptions.
    pub profile: &'a EngineProfile,
    /// Precision of the weight matmuls.
    pub precision: ComputePrecision,
    /// Precision of the KV cache.
    pub kv_dtype: KvDtype,
    /// Whether the weights are quantized (for llama.cpp's dequantize-then-GEMM path).
    pub quantized: bool,
    /// Whether 16-bit products run in FP16 ([`crate::dtype::WeightFormat::fp16_products`]).
    pub fp16_products: bool,
}

/// Time of a pass and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PassTime {
    /// Wall time of the pass, seconds.
    pub seconds: f64,
    /// Time in operations limited by arithmetic.
    pub compute_bound_seconds: f64,
    /// Time in operations limited by memory bandwidth.
    pub memory_bound_seconds: f64,
    /// All-reduce time.
    pub communication_seconds: f64,
    /// Fixed per-layer overhead.
    pub overhead_seconds: f64,
    /// Time a batch waits, in a pipeline of unequal stages, for the slowest stage
    /// to serve the other batches in flight (0 without a pipeline).
    #[serde(default)]
    pub stage_wait_seconds: f64,
    /// FLOPs per rank.
    pub flops: f64,
    /// Bytes moved per rank.
    pub bytes: f64,
}

impl PassTime {
    /// The resource that takes the most time.
    pub fn bound(&self) -> Bound {
        [
            (self.compute_bound_seconds, Bound::Compute),
            (self.memory_bound_seconds, Bound::MemoryBandwidth),
            (self.communication_seconds, Bound::Communication),
            (self.overhead_seconds, Bound::Overhead),
        ]
        .into_iter()
        .fold((f64::MIN, Bound::Compute), |best, x| {
            if x.0 > best.0 {
                x
            } else {
                best
            }
        })
        .1
    }
}

pub use crate::device::{peak_flops, runs_8bit};

/// Whether `gpu` states a tensor rate for `precision` (16 bits always: every
/// accelerator has one, or its FP32 rate stands in). Without one, matmuls are
/// priced at the 16-bit rate and the estimate warns.
pub fn has_tensor_path(gpu: &Accelerator, precision: ComputePrecision) -> bool {
    match precision {
        ComputePrecision::Fp8 => gpu.peak_flops.fp8.is_some(),
        ComputePrecision::Int8 => gpu.peak_flops.int8.is_some(),
        ComputePrecision::Fp32 => gpu.peak_flops.fp32.is_some(),
        ComputePrecision::Bf16 => true,
    }
}

/// The most weight tensors of one operation an engine that multiplies them one
/// by one ([`EngineProfile::product_per_tensor`]) is priced for apart: Q, K and
/// V; gate and up. An operation of more is priced as one product.
const MAX_TENSORS_APART: usize = 4;

/// Weights of one operation on one rank.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct OpWeights {
    /// Parameters on this rank.
    elements: f64,
    /// Stored bytes on this rank.
    bytes: f64,
    /// Output features on this rank (for activation traffic).
    rows: f64,
    /// Input features (for activation traffic).
    cols: f64,
    /// Each tensor of the operation on its own, while there are at most
    /// [`MAX_TENSORS_APART`] and none is a stack of copies.
    apart: [Single; MAX_TENSORS_APART],
    /// Tensors added; 0 where they cannot be priced apart.
    tensors: usize,
}

/// One weight tensor on one rank: its parameters, stored bytes, output and input features.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Single {
    elements: f64,
    bytes: f64,
    rows: f64,
    cols: f64,
}

impl OpWeights {
    fn add(&mut self, s: &StoredTensor, ranks: RankSplit) {
        let split = ranks.ways(s) as f64;
        let copies = s.tensor.copies as f64;
        // the first tensor, or the next of tensors still priced apart
        let apart = (self.elements == 0.0 || self.tensors > 0) && s.tensor.copies == 1;
        let one = Single {
            elements: (s.tensor.rows * s.tensor.cols) as f64 * copies / split,
            bytes: s.bytes as f64 / split,
            rows: s.tensor.rows as f64 / split,
            cols: s.tensor.cols as f64,
        };
        self.elements += one.elements;
        self.bytes += one.bytes;
        self.rows += one.rows;
        self.cols = self.cols.max(s.tensor.cols as f64);
        self.tensors = match self.apart.get_mut(self.tensors) {
            Some(slot) if apart => {
                *slot = one;
                self.tensors + 1
            }
            _ => 0,
        };
    }

    /// The operation's tensors as operations of their own; `None` for one tensor
    /// or where they cannot be priced apart.
    fn tensors_apart(&self) -> Option<impl Iterator<Item = OpWeights> + '_> {
        (self.tensors > 1).then(|| {
            self.apart[..self.tensors].iter().map(|t| OpWeights {
                elements: t.elements,
                bytes: t.bytes,
                rows: t.rows,
                cols: t.cols,
                ..OpWeights::default()
            })
        })
    }
}

/// The weights of one block's operations on one rank, by stage of product
/// (indexed by [`Stage`] `as usize`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct BlockWeights([OpWeights; Stage::PRODUCTS]);

impl BlockWeights {
    fn at(&self, stage: Stage) -> &OpWeights {
        &self.0[stage as usize]
    }
}

/// The weights a pass reads, grouped by stage of the operator list, block by block,
/// on one rank, with each distinct block's operations.
///
/// They depend on the model, the stored tensors and `tp` only, so an estimate
/// groups them once for all its passes.
#[derive(Debug, Clone)]
pub(super) struct PassWeights<'a> {
    /// The distinct blocks (index into the schedule's blocks, weights), in order of
    /// first appearance.
    kinds: Vec<(usize, BlockWeights)>,
    /// Each block's index in `kinds`.
    blocks: Vec<usize>,
    /// The model's operator list.
    ops: &'a OpList,
    head: OpWeights,
}

impl<'a> PassWeights<'a> {
    /// Group `stored` by block and stage for the ranks of `split`, beside
    /// `arch`'s operator list (a rank's routed experts: all `E`, each its share).
    pub(super) fn new(
        arch: &Architecture,
        ops: &'a OpList,
        stored: &[StoredTensor],
        split: RankSplit,
    ) -> PassWeights<'a> {
        let mut blocks = vec![BlockWeights::default(); arch.num_layers() as usize];
        let mut head = OpWeights::default();
        let mut embedding = OpWeights::default();
        for s in stored {
            match (s.tensor.role, s.tensor.layer) {
                (TensorRole::LmHead, _) => head.add(s, split),
                (TensorRole::TokenEmbedding, _) => embedding.add(s, split),
                (role, Some(layer)) => {
                    let (Some(stage), Some(b)) = (Stage::of(role), blocks.get_mut(layer as usize))
                    else {
                        continue;
                    };
                    if let Some(w) = b.0.get_mut(stage as usize) {
                        w.add(s, split);
                    }
                }
                _ => {}
            }
        }
        if head.elements == 0.0 {
            // tied: the embedding matrix serves as the head
            head = embedding;
        }
        // a kind is a block of the schedule with its stored weights
        let mut kinds: Vec<(usize, BlockWeights)> = Vec::new();
        let blocks = arch
            .layers
            .indices()
            .zip(&blocks)
            .map(|(a, &b)| (a, b))
            .map(|b| match kinds.iter().position(|k| *k == b) {
                Some(i) => i,
                None => {
                    kinds.push(b);
                    kinds.len() - 1
                }
            })
            .collect();
        PassWeights {
            kinds,
            blocks,
            ops,
            head,
        }
    }
}

/// What one operation adds to a pass.
#[derive(Debug, Clone, Copy, Default)]
struct OpCost {
    /// Seconds of the operation.
    seconds: f64,
    /// Whether arithmetic (not memory) bounds it.
    compute_bound: bool,
    flops: f64,
    bytes: f64,
}

/// The operations of one block, in the order a pass adds them.
#[derive(Debug, Clone, Copy)]
struct BlockCost {
    /// At most two operations for each tensor of the six linears, one for attention.
    ops: [OpCost; 2 * Stage::PRODUCTS * MAX_TENSORS_APART + 1],
    len: usize,
}

impl Default for BlockCost {
    fn default() -> Self {
        BlockCost {
            ops: [OpCost::default(); 2 * Stage::PRODUCTS * MAX_TENSORS_APART + 1],
            len: 0,
        }
    }
}

impl BlockCost {
    /// Seconds of the block's operations.
    fn seconds(&self) -> f64 {
        self.ops[..self.len].iter().map(|op| op.seconds).sum()
    }

    /// Add the block's operations to `t`, one by one.
    fn add_to(&self, t: &mut PassTime) {
        for op in &self.ops[..self.len] {
            if op.compute_bound {
                t.compute_bound_seconds += op.seconds;
            } else {
                t.memory_bound_seconds += op.seconds;
            }
            t.flops += op.flops;
            t.bytes += op.bytes;
        }
    }
}

/// Prices operations on a machine: the device model with the engine's factors.
struct Pricer<'a> {
    m: Machine<'a>,
    dev: Device<'a>,
}

impl<'a> Pricer<'a> {
    fn new(m: Machine<'a>) -> Pricer<'a> {
        Pricer {
            m,
            dev: Device::new(m.gpu, library(&m)),
        }
    }

    /// Add one priced operation doing `flops` and moving `bytes`.
    fn add(out: &mut BlockCost, t: OpTime, flops: f64, bytes: f64) {
        if flops <= 0.0 && bytes <= 0.0 {
            return;
        }
        out.ops[out.len] = OpCost {
            seconds: t.seconds(),
            compute_bound: t.compute_bound(),
            flops,
            bytes,
        };
        out.len += 1;
    }

    /// A product of `tokens` rows by `w` in `precision`, moving `bytes`.
    fn product(
        &self,
        out: &mut BlockCost,
        w: &OpWeights,
        tokens: f64,
        bytes: f64,
        precision: ComputePrecision,
    ) {
        let g = Gemm {
            m: tokens,
            n: w.elements / w.cols.max(1.0),
            k: w.cols,
            batch: 1.0,
        };
        let flops = g.flops();
        Self::add(out, self.dev.matmul(&g, precision, bytes), flops, bytes);
    }

    /// An attention-like kernel (the attention core, an indexer, a scan) doing
    /// `flops` over heads of `head_dim` and moving `bytes`.
    fn kernel(&self, out: &mut BlockCost, flops: f64, head_dim: u64, bytes: f64) {
        let t = self
            .dev
            .attention(AttentionPass::Forward, flops, head_dim, bytes);
        Self::add(out, t, flops, bytes);
    }

    /// A linear layer applied to `tokens` rows: one product, or one per weight
    /// tensor for an engine that multiplies them apart.
    fn linear(&self, out: &mut BlockCost, w: &OpWeights, tokens: f64) {
        if w.elements == 0.0 {
            return;
        }
        if self.m.profile.product_per_tensor {
            if let Some(tensors) = w.tensors_apart() {
                for t in tensors {
                    self.linear(out, &t, tokens);
                }
                return;
            }
        }
        let activations = 2.0 * tokens * (w.cols + w.rows);
        let batched = tokens > 32.0;
        if self.m.quantized && batched && self.m.profile.dequantize_for_batched_matmul {
            // llama.cpp CUDA: dequantize to f16 (read quantized, write f16), then a
            // cuBLAS GEMM that reads the f16 copy.
            let f16 = 2.0 * w.elements;
            let pass = w.bytes + f16;
            Self::add(out, self.dev.memory_pass(pass), 0.0, pass);
            self.product(out, w, tokens, f16 + activations, ComputePrecision::Bf16);
        } else {
            self.product(out, w, tokens, w.bytes + activations, self.m.precision);
        }
    }
}

/// Experts of `e` a pass over `tokens` tokens, each routed to `k`, reads at least
/// once, in expectation under uniform routing.
///
/// # Formula
/// `E·(1 − (1 − k/E)^T)`: each expert is missed by one token with probability
/// `1 − k/E`, by all `T` with its `T`-th power.
///
/// # Source
/// DESIGN.md, Inference (MoE weight reads: `E·(1 − (1 − e/E)^B)` experts touched
/// per step, in expectation). Real routers are not uniform; this is an assumption.
pub fn experts_touched(e: f64, k: f64, tokens: f64) -> f64 {
    e * (1.0 - (1.0 - k / e).powf(tokens))
}

/// Trials above which [`busiest_of`] takes the normal approximation instead of
/// summing the binomial's terms.
const EXACT_BUSIEST_LIMIT: u64 = 4096;

/// The expected largest of `groups` independent Binomial(`n`, `p`) counts.
///
/// # Formula
/// ```text
/// E[max_g X_g] = Σ_{j=1}^{n} (1 − F(j−1)^G)
/// ```
/// `F` the binomial's distribution function; `n·p` for one group; past
/// [`EXACT_BUSIEST_LIMIT`] trials, `n·p + σ·√(2 ln G)` (at most `n`).
///
/// # Source
/// The expectation of the largest of independent variables (e.g. David &
/// Nagaraja, *Order Statistics*, 3rd ed., §4.2).
pub fn busiest_of(n: u64, p: f64, groups: u64) -> f64 {
    let trials = n as f64;
    if groups <= 1 || p.is_nan() || p <= 0.0 {
        return trials * p.max(0.0);
    }
    if p >= 1.0 {
        return trials;
    }
    let g = groups as f64;
    if n > EXACT_BUSIEST_LIMIT {
        let sigma = (trials * p * (1.0 - p)).sqrt();
        return (trials * p + sigma * (2.0 * g.ln()).sqrt()).min(trials);
    }
    // the binomial's terms in logs: pmf(j+1) = pmf(j) · (n−j)/(j+1) · p/(1−p)
    let (lq, lr) = ((1.0 - p).ln(), (p / (1.0 - p)).ln());
    let mut log_pmf = trials * lq;
    let (mut cdf, mut sum) = (0.0f64, 0.0f64);
    for j in 0..n {
        cdf = (cdf + log_pmf.exp()).min(1.0);
        let beyond = 1.0 - cdf.powf(g);
        sum += beyond;
        if beyond < 1e-12 && j as f64 > trials * p {
            break;
        }
        log_pmf += ((n - j) as f64 / (j + 1) as f64).ln() + lr;
    }
    sum
}

/// Experts the busiest of `groups` expert-parallel groups reads in a pass over
/// `tokens` tokens, each group holding `local` of the `e` experts and each token
/// routed to `k`, in expectation under uniform routing.
///
/// # Formula
/// [`busiest_of`]`(local, 1 − (1 − k/E)^T, G)`: each expert is touched with
/// probability `1 − (1 − k/E)^T`, the groups' counts taken as independent;
/// `local · p` for one group (as [`experts_touched`] for `local = E`).
///
/// # Source
/// The uniform routing of [`experts_touched`]. Decoding a few tokens, the
/// busiest group reads several times the mean: expert parallelism waits for it.
pub fn experts_touched_busiest(e: f64, k: f64, tokens: f64, local: u64, groups: u64) -> f64 {
    busiest_of(local, 1.0 - (1.0 - k / e).powf(tokens), groups)
}

/// Token-expert pairs the busiest of `groups` expert-parallel groups computes in
/// a pass over `tokens` tokens, each routed to `k` of `e` experts, each group
/// holding `local`.
///
/// # Formula
/// ```text
/// max(busiest_of(T·k, local/E, G), min(T·k·local/E · imbalance, T·min(k, local)))
/// ```
/// the statistical largest share under uniform routing, and at least the
/// imbalance trained routers keep ([`EXPERT_LOAD_IMBALANCE`]); `T·k` for one group.
pub fn routed_tokens_busiest(e: f64, k: f64, tokens: f64, local: u64, groups: u64) -> f64 {
    let pairs = tokens * k;
    if groups <= 1 {
        return pairs;
    }
    let share = (local as f64 / e).min(1.0);
    let statistical = busiest_of(pairs.round() as u64, share, groups);
    let trained = (pairs * share * EXPERT_LOAD_IMBALANCE).min(tokens * k.min(local as f64));
    statistical.max(trained)
}

/// How many data-parallel attention groups' tokens a pass's MoE layers take:
/// every group's for a decode step (the groups step together, each taken to run
/// a batch like this one), this group's alone for a pass with prompt tokens (the
/// other groups' decode tokens beside it left out).
fn groups_in_step(m: Machine<'_>, pass: &Pass) -> f64 {
    if pass.new_tokens == 1 {
        m.dp.max(1) as f64
    } else {
        1.0
    }
}

/// How many groups' tokens a pass's dense MLPs, shared experts and LM head take:
/// [`groups_in_step`] where the groups share them ([`RankSplit::across_groups`]),
/// else the group's own.
fn groups_in_dense(m: Machine<'_>, pass: &Pass) -> f64 {
    if m.split().shares_dense() {
        groups_in_step(m, pass)
    } else {
        1.0
    }
}

/// The engine's kernels as a device-model library: its matmul and memory factors;
/// attention kernels at the row's measured forward rate; the fixed per-kernel costs are the
/// engine's per-layer overhead, added per layer; FP16 accumulation where the engine
/// accumulates FP16 products and the weights make them (llama.cpp runs BF16 weights'
/// products with FP32 accumulation).
fn library(m: &Machine<'_>) -> Library {
    let p = m.profile;
    Library {
        fp16_accumulate: p.fp16_accumulate && m.fp16_products,
        matmul_16bit: p.matmul_efficiency_16bit,
        matmul_8bit: p.matmul_efficiency_8bit,
        attention: 1.0,
        memory: p.memory_efficiency,
        per_kernel_seconds: 0.0,
    }
}

/// Seconds of one tensor-parallel all-reduce of `bytes` on `m`: the device model's
/// collective over the `tp` ranks, at the engine's share of the link, with the
/// engine's fixed latency per all-reduce.
fn all_reduce_seconds(m: &Machine<'_>, bytes: f64) -> f64 {
    m.fabric()
        .time(Collective::AllReduce, bytes, Group::new(m.tp, 1))
}

/// Seconds of one MoE layer's exchange across `m`'s data-parallel attention
/// groups: an all-gather of the groups' hidden states (`bytes` in all, the
/// gathered buffer) to the experts and a reduce-scatter of their outputs back,
/// over the `dp` groups (each rank with its peers of the other groups, `tp`
/// apart), then the tensor-parallel all-reduce of the output (`tp > 1`) of
/// `tp_bytes`.
///
/// # Source
/// vLLM's `naive` and `allgather_reducescatter` all-to-all backends
/// (`VLLM_ALL2ALL_BACKEND`, vllm/distributed/device_communicators/all2all.py:
/// the data-parallel group) dispatch by gathering the groups' tokens and combine
/// by reduce-scatter; DeepEP's all-to-all moves only each token's `k` copies and
/// is not modelled.
fn expert_exchange_seconds(m: &Machine<'_>, bytes: f64, tp_bytes: f64) -> f64 {
    let fabric = m.fabric();
    let group = Group::new(m.dp.max(1), m.tp.max(1));
    let exchange = fabric.time(Collective::AllGather, bytes, group)
        + fabric.time(Collective::ReduceScatter, bytes, group);
    if m.tp > 1 {
        exchange + all_reduce_seconds(m, tp_bytes)
    } else {
        exchange
    }
}

impl Machine<'_> {
    /// How the replica's ranks hold the weights.
    pub fn split(&self) -> RankSplit {
        RankSplit {
            tp: self.tp,
            ep: self.ep,
            dp: self.dp,
            shared_dense: self.profile.engine.attention_groups()
                == Some(AttentionGroups::SharedDense),
        }
    }

    /// The links between the replica's devices as the engine uses them: its share
    /// of the accelerator's link bandwidth and its fixed latency per collective.
    pub fn fabric(&self) -> Fabric {
        let mut fabric = Fabric::of(self.gpu, &Network::default());
        let link = self.gpu.interconnect_bytes_per_sec.unwrap_or(f64::INFINITY);
        fabric.intra_bytes_per_sec = link * self.profile.allreduce_efficiency;
        fabric.base_seconds = self.profile.allreduce_latency_seconds;
        fabric
    }
}

/// Time of one forward pass of `pass` over `arch` with `stored` weights on `m`.
///
/// # Formula
/// ```text
/// op time   = device::Device::{matmul, attention, memory_pass}: max(compute, memory)
///             at the row's measured rates × the engine's factors
/// pass time = Σ_ops op time + 2·L·all-reduce(T·h·2 bytes over t ranks) [t ≥ 2]
///             + L · overhead      (host overhead, eager: max(…, L · overhead))
/// linear:     F = 2·T·params/t,  M = weight bytes/t + 2·T·(in + out/t)
/// attention:  F = 2·T·a/t·(d_qk + d_v)·ctx,  M = KV read (+ write for new tokens)
/// experts:    weights of E·(1 − (1 − e/E)^T) experts touched, F for e per token;
///             with ep groups, the busiest group's: experts_touched_busiest and
///             routed_tokens_busiest; with d attention groups, a decode step's
///             experts take d·T tokens (and, shared-dense groups, its dense MLPs,
///             shared experts and LM head, their weights over t·d ranks)
/// MoE layer with d > 1 (every layer for shared-dense groups): all-gather +
///             reduce-scatter of the groups' hidden states over the d groups,
///             then the tp all-reduce
/// ```
///
/// # Symbols
/// `T` tokens in the pass, `ctx` attended tokens (causal prefill: cached + (new+1)/2);
/// the all-reduce is [`Fabric::time`] at the engine's link share and fixed latency.
///
/// # Source
/// DESIGN.md "Inference"; the device model's sources;
/// expected distinct experts for `T` tokens choosing `e` of `E` uniformly.
///
/// # Assumptions / limits
/// Operations do not overlap; routing is uniform; attention runs in 16 bits;
/// the LM head computes one row of logits per sequence.
pub fn pass_time(
    arch: &Architecture,
    stored: &[StoredTensor],
    pass: &Pass,
    m: Machine<'_>,
) -> PassTime {
    match ops::list(arch) {
        Ok(list) => pass_time_of(
            arch,
            &PassWeights::new(arch, &list, stored, m.split()),
            pass,
            m,
        ),
        // sizes past u64 (stored tensors of such a model cannot exist): no time
        Err(_) => PassTime {
            seconds: f64::INFINITY,
            ..PassTime::default()
        },
    }
}

/// [`pass_time`] with the weights already grouped for `m`'s ranks.
pub(super) fn pass_time_of(
    arch: &Architecture,
    weights: &PassWeights<'_>,
    pass: &Pass,
    m: Machine<'_>,
) -> PassTime {
    pass_time_in_stages(arch, weights, pass, m, &[]).0
}

/// [`pass_time_of`], and the seconds of the slowest of the stages that begin at
/// the layers `starts` (ascending from 0; the whole pass for none): each block's
/// operations, all-reduces and overhead count on its layer's stage, the LM head
/// on the last.
pub(super) fn pass_time_in_stages(
    arch: &Architecture,
    weights: &PassWeights<'_>,
    pass: &Pass,
    m: Machine<'_>,
    starts: &[u64],
) -> (PassTime, f64) {
    let tp = m.tp.max(1) as f64;
    let tokens = pass.tokens();
    let pricer = Pricer::new(m);
    let mut t = PassTime::default();
    let hidden_bytes = tokens * arch.hidden_size as f64 * 2.0;
    let allreduce = if m.tp > 1 {
        all_reduce_seconds(&m, hidden_bytes)
    } else {
        0.0
    };
    // each kind's communication: the attention's all-reduce, then the FFN's, or
    // for an MoE layer across data-parallel attention groups their exchange
    let exchange = if m.dp > 1 {
        expert_exchange_seconds(&m, hidden_bytes * groups_in_step(m, pass), hidden_bytes)
    } else {
        allreduce
    };
    // shared-dense groups exchange around every layer's FFN, dense or not
    let shared_dense = m.split().shares_dense();
    let communication: Vec<f64> = weights
        .kinds
        .iter()
        .map(|(_, w)| {
            let moe = w.at(Stage::Experts).elements > 0.0;
            allreduce
                + if moe || shared_dense {
                    exchange
                } else {
                    allreduce
                }
        })
        .collect();

    // The cost of a block depends only on its weights and its mixer: price each kind
    // of block once, then add every block's operations in order, so the sums are
    // those of pricing block by block.
    let mut priced: Vec<Option<BlockCost>> = vec![None; weights.kinds.len()];
    // the running stage's seconds, and the slowest finished stage's
    let (mut stage, mut slowest) = (0.0f64, 0.0f64);
    for (layer, &kind) in weights.blocks.iter().enumerate() {
        if layer > 0 && starts.binary_search(&(layer as u64)).is_ok() {
            slowest = slowest.max(stage);
            stage = 0.0;
        }
        let cost = match &mut priced[kind] {
            Some(c) => c,
            slot => {
                let (index, w) = &weights.kinds[kind];
                let ops = weights.ops.block(*index);
                slot.insert(ops.map_or_else(BlockCost::default, |ops| {
                    block_cost(&pricer, w, ops, pass, tp)
                }))
            }
        };
        cost.add_to(&mut t);
        stage += cost.seconds() + m.profile.layer_overhead_seconds;
        t.communication_seconds += communication[kind];
        stage += communication[kind];
    }

    // LM head: one row of logits per sequence (the last new token), of every
    // group where the groups share it
    let mut head = BlockCost::default();
    let rows = pass.sequences as f64 * groups_in_dense(m, pass);
    pricer.linear(&mut head, &weights.head, rows);
    head.add_to(&mut t);
    slowest = slowest.max(stage + head.seconds());

    t.overhead_seconds = arch.num_layers() as f64 * m.profile.layer_overhead_seconds;
    let device = t.compute_bound_seconds + t.memory_bound_seconds + t.communication_seconds;
    t.seconds = if m.profile.overhead_on_host {
        // eager: the host issues kernels while the device runs the earlier ones
        device.max(t.overhead_seconds)
    } else {
        device + t.overhead_seconds
    };
    (t, slowest)
}

/// Head width of the chunked scan kernels (fla's Gated DeltaNet and Mamba-2 use
/// heads of 128 or 64; priced at the attention rate of 128).
const SCAN_HEAD_DIM: u64 = 128;

/// What the pass model assumes about layers other than dense attention: recurrent
/// scans, sparse-attention indexers and windowed or chunked spans.
pub fn mixer_assumptions(arch: &Architecture) -> Vec<Assumption> {
    let mut out = kv::assumptions(arch);
    if arch.has_recurrent() {
        out.push(Assumption::new(
            "recurrent scan",
            format!(
                "{SCAN_FLOPS_PER_STATE_VALUE} FLOPs per state value per token; the state read and written once per pass"
            ),
            "Yang et al. 2024 (Gated DeltaNet), Dao & Gu 2024 (Mamba-2 SSD)",
        ));
    }
    if arch.has_indexer() {
        out.push(Assumption::new(
            "sparse attention",
            "each query attends to at most index_topk keys; the indexer scores every cached key, priced in 16 bits",
            "DeepSeek-V3.2 (DSA); DeepSeek's kernels score in fp8",
        ));
    }
    out
}

/// The operations of one block of the schedule ([`ops::block_ops`]) with weights `w`
/// on one rank, priced in the order the pass adds them: mixer input products, the
/// attention core or the scan, the output product, the FFN, the router, the experts.
///
/// Attention reads the cache over its span (window or chunk); a recurrent mixer reads
/// and writes its fixed state once per pass and updates it once per token.
fn block_cost(
    pricer: &Pricer<'_>,
    w: &BlockWeights,
    ops: &BlockOps,
    pass: &Pass,
    tp: f64,
) -> BlockCost {
    let tokens = pass.tokens();
    let mut out = BlockCost::default();
    pricer.linear(&mut out, w.at(Stage::MixerIn), tokens);
    let new = pass.new_tokens as f64;
    let cached = pass.cached_tokens as f64;
    if let Some(att) = ops.attention() {
        // transformers' repeat_kv: read the cache, write a/k copies, read them back
        let kv_traffic = match att.query_groups {
            Some((heads, kv_heads)) if pricer.m.profile.expand_gqa_kv && heads > kv_heads => {
                1.0 + 2.0 * heads as f64 / kv_heads.max(1) as f64
            }
            _ => 1.0,
        };
        // a sparse indexer lets each query attend to at most top-k keys; cross-attention
        // reads one image's keys and values and writes none; a layer reusing an earlier
        // layer's keys and values writes none
        let attended = att.attended(cached, new);
        let (read, written) = att.cache_tokens(cached, new);
        let row = kv::row_bytes_per_rank(att.cached, pricer.m.kv_dtype, pricer.m.tp).unwrap_or(0.0);
        let flops = att.flops(tokens, attended, tp, att.serve_dims);
        let kv = pass.sequences as f64 * (read + written) * row * kv_traffic;
        pricer.kernel(&mut out, flops, att.serve_dims.0, kv);
        if let (Some(c), Some((attended, entries))) =
            (att.compressed, att.compressed_entries(cached, new))
        {
            // compressed entries (DeepSeek-V4): one per `ratio` tokens, read whole on
            // every rank; each query attends to those before it, or the indexer's pick
            let row = pricer.m.kv_dtype.layout().bytes_for(c.width).unwrap_or(0) as f64;
            let flops = att.flops(tokens, attended, tp, att.serve_dims);
            let bytes = pass.sequences as f64 * entries * row;
            pricer.kernel(&mut out, flops, att.serve_dims.0, bytes);
        }
        if let Some(ix) = att.indexer {
            // the indexer scores every cached key with its own heads (fp8 in DeepSeek's
            // kernels; priced here in 16 bits)
            let flops = att.indexer_flops(tokens, cached, new);
            let bytes = pass.sequences as f64 * (cached + new) * ix.head_dim as f64;
            pricer.kernel(&mut out, flops, ix.head_dim, bytes);
        }
    } else if let Some(scan) = ops.scan() {
        let state = (scan.state + scan.conv) as f64 / tp;
        let flops = scan.flops(tokens, tp);
        let bytes = 2.0 * pass.sequences as f64 * state * kv::STATE_BYTES_PER_ELEMENT as f64;
        // the chunked scan runs as one fused kernel, priced like attention's
        pricer.kernel(&mut out, flops, SCAN_HEAD_DIM, bytes);
    }

    pricer.linear(&mut out, w.at(Stage::MixerOut), tokens);
    // the dense MLP or shared experts: every group's tokens where the groups share them
    let ffn_tokens = tokens * groups_in_dense(pricer.m, pass);
    pricer.linear(&mut out, w.at(Stage::FfnUp), ffn_tokens);
    pricer.linear(&mut out, w.at(Stage::FfnDown), ffn_tokens);
    let routed = ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Experts));
    let experts = w.at(Stage::Experts);
    if let (Some(routed), true) = (routed, experts.elements > 0.0) {
        pricer.linear(&mut out, w.at(Stage::Router), tokens);
        let e = routed.copies as f64;
        let k = routed.active as f64;
        // data-parallel attention: a decode step's experts take every group's batch
        let tokens = tokens * groups_in_step(pricer.m, pass);
        // expert parallelism: the busiest group's experts and tokens set the time
        let groups = pricer.m.ep.max(1);
        let local = routed.copies.div_ceil(groups);
        let touched = experts_touched_busiest(e, k, tokens, local, groups);
        let per_expert = OpWeights {
            elements: experts.elements / e,
            bytes: experts.bytes / e,
            rows: experts.rows,
            cols: experts.cols,
            ..OpWeights::default()
        };
        // each token runs k experts; the weights of the touched ones are read once
        let routed_tokens = routed_tokens_busiest(e, k, tokens, local, groups);
        let flops = 2.0 * routed_tokens * per_expert.elements;
        let read = OpWeights {
            elements: flops / (2.0 * tokens.max(1.0)),
            bytes: per_expert.bytes * touched,
            ..per_expert
        };
        pricer.linear(&mut out, &read, tokens);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{WeightFormat, WeightOptions};
    use crate::hardware::find;
    use crate::inference::engine::{profile, Backend, Engine};
    use crate::inference::weights::stored_tensors;
    use crate::Shape;

    #[test]
    fn the_busiest_expert_group_is_the_largest_of_binomials() {
        // one group: the mean, as the whole model's count
        let whole = experts_touched(64.0, 6.0, 3.0);
        assert_eq!(experts_touched_busiest(64.0, 6.0, 3.0, 64, 1), whole);
        // one expert per group: 1 − (1 − p)^G, p = 2/8 for one token of top-2 of 8
        let one = experts_touched_busiest(8.0, 2.0, 1.0, 1, 8);
        assert!((one - (1.0 - 0.75f64.powi(8))).abs() < 1e-15, "{one}");
        // 2 experts per group, p = 2/4, 2 groups: F(0) = 1/4, F(1) = 3/4, so
        // E[max] = (1 − 1/16) + (1 − 9/16) = 1.375
        let two = experts_touched_busiest(4.0, 2.0, 1.0, 2, 2);
        assert!((two - 1.375).abs() < 1e-12, "{two}");
        // every expert touched: the busiest holds them all
        assert_eq!(experts_touched_busiest(8.0, 2.0, 1e6, 2, 4), 2.0);
        // no tokens, or a probability that is no number: nothing read
        assert_eq!(experts_touched_busiest(8.0, 2.0, 0.0, 2, 4), 0.0);
        assert_eq!(busiest_of(16, f64::NAN, 4), 0.0);
        // past the exact limit: the mean plus σ·√(2 ln G), at most n
        let n = EXACT_BUSIEST_LIMIT + 1;
        let (mean, sigma) = (n as f64 * 0.25, (n as f64 * 0.25 * 0.75).sqrt());
        let approx = busiest_of(n, 0.25, 8);
        assert_eq!(approx, mean + sigma * (2.0 * 8f64.ln()).sqrt());
        // hostile sizes stay finite, at most every trial
        let huge = busiest_of(u64::MAX, 0.5, 1 << 40);
        assert!(huge.is_finite() && huge <= u64::MAX as f64, "{huge}");
    }

    #[test]
    fn the_busiest_group_computes_at_least_its_statistical_share() {
        // one token of top-2 of 8 experts over 8 groups of one: the busiest group
        // runs one pair (2 pairs, a group gets both with probability 1/64)
        let one = routed_tokens_busiest(8.0, 2.0, 1.0, 1, 8);
        let expected =
            (1.0 - (7.0f64 / 8.0).powi(16)) + (1.0 - (1.0 - (1.0f64 / 8.0).powi(2)).powi(8));
        assert!((one - expected).abs() < 1e-12, "{one} vs {expected}");
        // a long prompt: the trained routers' imbalance, 1.25 × the mean
        let prompt = routed_tokens_busiest(8.0, 2.0, 8192.0, 1, 8);
        assert_eq!(prompt, 8192.0 * 2.0 / 8.0 * EXPERT_LOAD_IMBALANCE);
        // one group: every pair
        assert_eq!(routed_tokens_busiest(8.0, 2.0, 100.0, 8, 1), 200.0);
    }

    proptest::proptest! {
        #[test]
        fn the_busiest_of_groups_lies_between_the_mean_and_all(
            n in 0u64..5000,
            p in 0.0f64..=1.0,
            g in 1u64..64,
        ) {
            let busiest = busiest_of(n, p, g);
            let mean = n as f64 * p;
            proptest::prop_assert!(busiest >= mean * (1.0 - 1e-9) - 1e-9, "{busiest} < {mean}");
            proptest::prop_assert!(busiest <= n as f64 + 1e-9);
            // more groups, a busier busiest
            proptest::prop_assert!(busiest_of(n, p, g + 1) >= busiest - 1e-9);
        }
    }

    #[test]
    fn decode_at_batch_one_streams_the_weights() {
        let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let stored = stored_tensors(&arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let gpu = find("H100-SXM").unwrap();
        let prof = profile(Engine::Vllm, Backend::Cuda);
        let m = Machine {
            gpu,
            tp: 1,
            ep: 1,
            dp: 1,
            profile: &prof,
            precision: ComputePrecision::Bf16,
            kv_dtype: KvDtype::Fp16,
            quantized: false,
            fp16_products: false,
        };
        let step = pass_time(
            &arch,
            &stored,
            &Pass {
                sequences: 1,
                new_tokens: 1,
                cached_tokens: 100,
            },
            m,
        );
        assert_eq!(step.bound(), Bound::MemoryBandwidth);
        // the 13.48 GB of weights cross the memory bus once, less the embedding
        // table (0.26 GB) of which a step reads one row
        assert!(step.bytes > 13.2e9 && step.bytes < 13.3e9, "{}", step.bytes);
        let prefill = pass_time(
            &arch,
            &stored,
            &Pass {
                sequences: 1,
                new_tokens: 4096,
                cached_tokens: 0,
            },
            m,
        );
        assert_eq!(prefill.bound(), Bound::Compute);
        // 2·N·s + 2·L·a·d·s² FLOPs (DESIGN.md), N the 6_476_005_376 block weights
        // (llama-2-7b less embedding, head and norms); the head runs for the last token only
        let expected = 2.0 * 6_476_005_376.0 * 4096.0 + 2.0 * 32.0 * 4096.0 * 4096.0 * 4096.0;
        assert!(
            (prefill.flops / expected - 1.0).abs() < 0.005,
            "{}",
            prefill.flops / expected
        );
    }

    #[test]
    fn tensor_parallel_all_reduces_are_the_device_models_collectives() {
        let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let stored = stored_tensors(&arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let gpu = find("H100-SXM").unwrap();
        let prof = profile(Engine::Vllm, Backend::Cuda);
        let m = Machine {
            gpu,
            tp: 2,
            ep: 1,
            dp: 1,
            profile: &prof,
            precision: ComputePrecision::Bf16,
            kv_dtype: KvDtype::Fp16,
            quantized: false,
            fp16_products: false,
        };
        let pass = Pass {
            sequences: 1,
            new_tokens: 1,
            cached_tokens: 100,
        };
        let step = pass_time(&arch, &stored, &pass, m);
        // two all-reduces of one token's hidden state (4096 · 2 bytes) per layer: NCCL's
        // 8.4 µs base latency per all-reduce, then a ring of 2 over NVLink 4: 2 hops of
        // 1.9 µs (data/gpus.toml) and 8192 bytes at 0.8 of 450 GB/s
        let one = 8.4e-6 + 2.0 * 1.9e-6 + 8192.0 / (450e9 * 0.8);
        assert!(
            (step.communication_seconds - 64.0 * one).abs() < 1e-12,
            "{}",
            step.communication_seconds
        );
    }
}
