//! Step time: each layer's kernels on one GPU, the pipeline schedule, and the
//! communication the schedule cannot hide.
//!
//! A layer's forward is a list of matrix products (sizes after the tensor-parallel
//! split, `M` = the micro-batch's tokens), the attention core, and element-wise
//! passes; its backward is the input- and weight-gradient product of each forward
//! product (each priced from its own shape by the device model), flash attention's
//! backward (2.5× its forward work, Dao 2023), and twice the element-wise traffic.
//! Recomputation adds forward work.
//!
//! Communication is priced per layer by the device model's collectives
//! ([`crate::device::collective`]) over the layout's groups. Traffic that is
//! overlapped hides behind the compute it runs beside, layer by layer: the exposed
//! part is `max(0, comm − overlappable compute)`, and the hidden part slows that
//! compute by the share of the GPU the communication kernels take
//! ([`COMM_SM_SHARE`]). The pipeline adds its bubble.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Block};
use crate::device::collective::{Collective, Fabric, EXPERT_LOAD_IMBALANCE};
use crate::ops::{self, BlockOps, Matmul, OpList, Stage};
use crate::training::activations::Recompute;
use crate::training::eager::{self, Residual};
use crate::training::kernels::Gpu;
use crate::training::kernels::Kernels;
use crate::training::loss::Loss;
use crate::training::parallel::{Layout, ZeroStage};

/// Flash attention's backward does this many times its forward work (recomputing
/// the scores, then five products instead of two).
///
/// # Source
/// Dao 2023 (FlashAttention-2, arXiv:2307.08691) §3.1–3.2 and its FLOP count
/// (backward = 2.5 × forward).
pub const FLASH_BACKWARD_RATIO: f64 = 2.5;

/// Share of the GPU's streaming multiprocessors that communication kernels take
/// from computation while they overlap it: compute beside a hidden collective runs
/// on the rest, so hiding `c` seconds of traffic costs `c · share / (1 − share)`.
///
/// # Source
/// Fitted by `sizeup_validation::calibration` (`Knob::CommSmShare`) on the training-speed
/// cases whose prediction moves with it (those that overlap data-, tensor- or
/// expert-parallel traffic), searched over [0, 0.15]: the value minimising the
/// median |ln(predicted/reported)|, ties broken by the mean; `sizeup validate`
/// lists the cases. The top of the range is DeepSeek-V3's 20 of the H800's 132 SMs
/// (arXiv:2412.19437 §3.2.2) given to the all-to-all DualPipe hides, the largest
/// share a published system gives its communication kernels. The fit is small
/// and weakly identified: the leave-one-source-out fits span 0 to 0.05, and it
/// sat at 0.12 while the validator read torchtitan's "Float8 linears" 70B run as
/// bf16 (one case moved the median's minimum).
pub const COMM_SM_SHARE: f64 = 0.02;

/// Compute time lost while hiding `hidden_seconds` of communication on `share` of the SMs:
/// `hidden · share / (1 − share)`.
fn contention(hidden_seconds: f64, share: f64) -> f64 {
    hidden_seconds * share / (1.0 - share)
}

/// The part of `comm` seconds that `compute` seconds cannot hide, and the
/// contention cost of the hidden part: `(max(0, comm − compute), κ·min(comm, compute))`.
fn overlap(comm: f64, compute: f64, share: f64) -> (f64, f64) {
    let hidden = comm.min(compute);
    (comm - hidden, contention(hidden, share))
}

/// Which communication the framework hides behind computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Overlap {
    /// Tensor/sequence-parallel collectives overlapped with the products
    /// (Transformer Engine's userbuffers, Megatron-Core `--tp-comm-overlap`).
    pub tensor_parallel: bool,
    /// Data-parallel traffic overlapped: gradient reduction with the backward,
    /// ZeRO-1 parameter gathers with the next forward, FSDP prefetching.
    pub data_parallel: bool,
    /// Expert-parallel all-to-all overlapped (DeepSeek's DualPipe).
    pub expert_parallel: bool,
}

impl Default for Overlap {
    /// DDP and FSDP overlap data-parallel traffic by default; tensor- and
    /// expert-parallel overlap are opt-in.
    fn default() -> Self {
        Overlap {
            tensor_parallel: false,
            data_parallel: true,
            expert_parallel: false,
        }
    }
}

/// Everything the step time depends on besides the model.
#[derive(Debug, Clone)]
pub struct TimeConfig<'a> {
    /// The GPU.
    pub dev: Gpu<'a>,
    /// The links between GPUs.
    pub fabric: Fabric,
    /// The layout.
    pub layout: &'a Layout,
    /// Sequence length `s`.
    pub seq_len: u64,
    /// Micro-batch `b`.
    pub micro_batch: u64,
    /// Recomputation.
    pub recompute: Recompute,
    /// Flash attention.
    pub flash_attention: bool,
    /// Dropout (adds mask traffic to the softmax without flash attention).
    pub dropout: bool,
    /// Overlapped communication.
    pub overlap: Overlap,
    /// The base weights are frozen (LoRA, QLoRA): no weight gradients.
    pub frozen_base: bool,
    /// The frozen base is in NF4 and is dequantized before every use.
    pub quantized_base: bool,
    /// Trainable parameters on one GPU before sharding.
    pub trainable_params: u64,
    /// Parameters (all, frozen included) on one GPU before sharding.
    pub params_on_gpu: u64,
    /// Optimizer update traffic per trainable parameter, bytes.
    pub optimizer_traffic_bytes: f64,
    /// Share of the SMs overlapped communication takes from compute ([`COMM_SM_SHARE`] unless overridden).
    pub comm_sm_share: f64,
    /// How the loss runs (its traffic per logit: [`Loss::traffic_bytes`]).
    pub loss: Loss,
}

/// One layer, one micro-batch, one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LayerTime {
    /// Forward kernels.
    pub forward_seconds: f64,
    /// Backward kernels.
    pub backward_seconds: f64,
    /// Recomputed forward kernels.
    pub recompute_seconds: f64,
    /// Tensor-parallel collectives left on the critical path.
    pub tensor_parallel_seconds: f64,
    /// Context-parallel key/value exchange not hidden by the attention kernels.
    pub context_parallel_seconds: f64,
    /// Expert-parallel all-to-all left on the critical path.
    pub expert_parallel_seconds: f64,
    /// Compute slowed by the tensor-, context- and expert-parallel traffic it hides.
    pub contention_seconds: f64,
    /// FSDP/ZeRO-3 gathers and gradient reduce-scatters not hidden by this layer's
    /// forward and backward (per micro-batch), contention included.
    pub sharded_seconds: f64,
    /// ZeRO-0/1/2 gradient reduction (and ZeRO-1/2 weight gather) not hidden by this
    /// layer's backward (forward), once per step, contention included.
    pub gradient_sync_seconds: f64,
}

impl LayerTime {
    /// Kernels only.
    pub fn compute(&self) -> f64 {
        self.forward_seconds + self.backward_seconds + self.recompute_seconds
    }

    /// Per-micro-batch communication on the critical path of the layer's own
    /// schedule (tensor, context and expert parallel, with contention).
    pub fn communication(&self) -> f64 {
        self.tensor_parallel_seconds
            + self.context_parallel_seconds
            + self.expert_parallel_seconds
            + self.contention_seconds
    }

    /// Everything.
    pub fn total(&self) -> f64 {
        self.compute() + self.communication()
    }
}

/// What the step model assumes about recurrent layers (their chunked scan), besides
/// the state's precision ([`crate::kv::assumptions`]).
pub fn mixer_assumptions(arch: &Architecture) -> Vec<crate::Assumption> {
    if !arch.has_recurrent() {
        return Vec::new();
    }
    vec![crate::Assumption::new(
        "recurrent scan (training)",
        format!(
            "projections as GEMMs; the chunked scan as a memory pass writing the state once per {SCAN_CHUNK_TOKENS} tokens, twice backward"
        ),
        "fla chunk_gated_delta_rule and Mamba-2 SSD chunk size 64",
    )]
}

/// Tokens per chunk of a chunked linear-attention or SSD scan: the state is written
/// once per chunk (fla `chunk_gated_delta_rule` and Mamba-2's SSD use 64).
const SCAN_CHUNK_TOKENS: f64 = 64.0;

/// Seconds for one layer's kernels and exposed collectives, one micro-batch, one GPU.
///
/// # Formula
/// ```text
/// products   forward: one GEMM per fused run of the operator list's products (q·k·v, gate·up;
///            every projection the block has) at M = b·s/cp tokens, N or K ÷ t as the tensor
///            splits; routed experts batched over E/ep experts of M·e·ep/E tokens; backward:
///            the input-gradient (M×N·N×K) and weight-gradient (K×M·M×N) products
/// attention  flash: causal work 2·M·s·a·(d_qk + d_v)/t ÷ 2, backward 2.5×;
///            otherwise two batched products and softmax passes (9 bytes/score with dropout)
/// element-wise forward: fused M·(16·h (÷ t with SP) + MLP activation/t) bytes; eager as counted
///            operator by operator ([`eager::block_bytes_per_token`]); backward 2×
/// recompute  full: the forward again (collectives included); selective: the attention core forward
/// TP         4 all-reduces of M·h·2 bytes over the t ranks (6 with full recompute);
///            overlapped: hidden behind the layer's products
/// CP         key/value all-gather forward and reduce-scatter + gather backward, hidden by attention
/// EP         dispatch and combine all-to-alls, forward and backward: 4 of M·e·h·2·1.25 bytes
///            (load imbalance) over the ep ranks; overlapped: hidden behind the layer's compute
/// FSDP       all-gather of the layer's 16-bit weights behind its forward; all-gather and
///            reduce-scatter behind its backward (every micro-batch)
/// ZeRO-0/1/2 the layer's fp32 gradients all-reduced (ZeRO-0) or reduce-scattered behind its
///            backward, ZeRO-1/2 16-bit weights gathered behind its forward (once per step)
/// overlapped comm c beside compute w:  exposed max(0, c − w), contention κ·min(c, w)
/// ```
/// where every collective is [`Fabric::time`] over the layout's group and
/// `κ = share/(1 − share)` ([`COMM_SM_SHARE`]).
///
/// # Source
/// Megatron-LM's layer structure (Shoeybi et al. 2019; Narayanan et al. 2021 §3.2 for the
/// collectives); Korthikanti et al. 2022 §4.2.2 (sequence parallel has the same volume);
/// Dao 2023 for flash attention; ZeRO (Rajbhandari et al. 2020) §7 and PyTorch FSDP
/// (Zhao et al. 2023, arXiv:2304.11277 §3.3: per-layer prefetch) for the data-parallel traffic.
///
/// # Assumptions / limits
/// A recurrent mixer (linear attention, state space) runs its projections as GEMMs and
/// its chunked scan as a memory pass over the state it updates per token (fla / SSD
/// kernels), two passes backward. Every layer of a stage holds an equal share of
/// the stage's parameters for the data-parallel traffic.
pub fn layer_seconds(arch: &Architecture, block: &Block, cfg: &TimeConfig) -> LayerTime {
    match ops::block_ops(arch, block) {
        Ok(ops) => {
            let layers = cfg.layout.first_stage_layers(arch).max(1) as f64;
            let kernels = layer_kernels(arch, block, &ops, cfg);
            let all_reduce = tp_all_reduce_seconds(arch, cfg);
            let traffic = layer_traffic(cfg, layers);
            layer_seconds_in(arch, &ops, cfg, &traffic, &kernels, all_reduce)
        }
        // sizes past u64: no such model reaches the step model
        Err(_) => LayerTime {
            forward_seconds: f64::INFINITY,
            ..LayerTime::default()
        },
    }
}

/// One layer's kernels for one micro-batch on one GPU, before recomputation and
/// communication: the part of [`layer_seconds`] that depends only on the block,
/// the micro-batch's tokens `b·s/cp`, `t`, `ep`, sequence parallelism and the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LayerKernels {
    /// Forward weight products.
    pub gemm_forward: f64,
    /// Backward weight products (input and weight gradients).
    pub gemm_backward: f64,
    /// Attention core (or recurrent scan) forward.
    pub attention_forward: f64,
    /// Attention core (or recurrent scan) backward.
    pub attention_backward: f64,
    /// Element-wise passes forward (the backward is twice this).
    pub elementwise_forward: f64,
    /// The forward of the products operator-level selective checkpointing runs
    /// again ([`Recompute::recomputes_product`]), each as its own kernel.
    pub gemm_op_selective_again: f64,
    /// Autocast's casts of the layer's fp32 weights, forward and backward together
    /// ([`eager::AUTOCAST_WEIGHT_BYTES`] per weight; 0 unless eager under autocast).
    pub weight_casts: f64,
}

/// The kernels of one step that do not depend on ZeRO, recomputation, the
/// pipeline schedule or the data-parallel traffic: each block kind's
/// [`LayerKernels`], the head and loss, and one tensor-parallel all-reduce.
/// A configuration search prices them once per micro-batch, `t`, `cp`, `ep` and
/// sequence parallelism and composes every layout over them
/// (`step_seconds_with`); [`step_seconds_of`] prices them on every call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepKernels {
    /// Per block kind of the schedule (`None` where the operator list has no block).
    pub layers: Vec<Option<LayerKernels>>,
    /// [`head_seconds`].
    pub head_seconds: f64,
    /// One all-reduce of the micro-batch's hidden states (`M·h·2` bytes) over the `t` ranks.
    pub tp_all_reduce_seconds: f64,
}

impl StepKernels {
    /// Price the step's kernels for `cfg`.
    pub fn of(arch: &Architecture, list: &OpList, cfg: &TimeConfig) -> StepKernels {
        StepKernels {
            layers: (arch.layers.blocks.iter().enumerate())
                .map(|(i, block)| {
                    list.block(i)
                        .map(|ops| layer_kernels(arch, block, ops, cfg))
                })
                .collect(),
            head_seconds: head_seconds(arch, cfg),
            tp_all_reduce_seconds: tp_all_reduce_seconds(arch, cfg),
        }
    }
}

/// One all-reduce of a micro-batch's hidden states over the tensor-parallel group.
fn tp_all_reduce_seconds(arch: &Architecture, cfg: &TimeConfig) -> f64 {
    let l = cfg.layout;
    let tokens = cfg.seq_len as f64 / l.cp as f64 * cfg.micro_batch as f64;
    let h = arch.hidden_size as f64;
    cfg.fabric
        .time(Collective::AllReduce, tokens * h * 2.0, l.tp_group())
}

/// [`LayerKernels`] of one block.
fn layer_kernels(
    arch: &Architecture,
    block: &Block,
    ops: &BlockOps,
    cfg: &TimeConfig,
) -> LayerKernels {
    let l = cfg.layout;
    let (t, cp) = (l.tp as f64, l.cp as f64);
    let s = cfg.seq_len as f64;
    let b = cfg.micro_batch as f64;
    let n = s / cp;
    let tokens = n * b;
    let dev = &cfg.dev;
    let frozen = cfg.frozen_base;

    // weight products, one kernel per fused run (q·k·v, gate·up); routed experts as a
    // batched product over the experts on this rank, each with its share of the tokens
    let mut gemm_fwd = 0.0;
    let mut gemm_bwd = 0.0;
    let price = |m: &Matmul| {
        let (rows, inner) = (m.n_per_rank(t), m.k_per_rank(t));
        if Stage::of(m.role) == Some(Stage::Experts) {
            let experts_here = m.copies as f64 / l.ep as f64;
            let per_expert_tokens = tokens * m.active as f64 / experts_here;
            dev.product(per_expert_tokens, rows, inner, experts_here, frozen)
        } else {
            dev.product(tokens, rows, inner, 1.0, frozen)
        }
    };
    let mut kernel: Option<(Matmul, u64)> = None;
    let mut run = |m: Option<&Matmul>, fwd: &mut f64, bwd: &mut f64| {
        if let (Some((k, n_sum)), false) = (&kernel, m.is_some_and(|m| m.fused)) {
            let (f, g) = price(&Matmul { n: *n_sum, ..*k });
            *fwd += f;
            *bwd += g;
            kernel = None;
        }
        if let Some(m) = m {
            kernel = match kernel {
                Some((k, n_sum)) => Some((k, n_sum.saturating_add(m.n))),
                None => Some((*m, m.n)),
            };
        }
    };
    for m in ops.matmuls() {
        run(Some(m), &mut gemm_fwd, &mut gemm_bwd);
    }
    run(None, &mut gemm_fwd, &mut gemm_bwd);
    // operator-level selective checkpointing reruns every other product, each alone
    let gemm_again: f64 = ops
        .matmuls()
        .enumerate()
        .filter(|(i, _)| Recompute::OpSelective.recomputes_product(*i))
        .map(|(_, m)| price(m).0)
        .sum();
    // attention core, or the recurrent scan
    let attention = ops.attention();
    let (a, qk_dim, v_dim) =
        attention.map_or((0.0, 0, 0), |att| (att.heads as f64, att.qk_dim, att.v_dim));
    let span = attention.map_or(s, |att| s.min(att.span.cached_tokens() as f64));
    let (attn_fwd, attn_bwd) = if let Some(r) = ops.scan() {
        let state = (r.state + r.conv) as f64 / t;
        let fwd = dev.memory_pass(tokens * state * 2.0 / SCAN_CHUNK_TOKENS);
        (fwd, 2.0 * fwd)
    } else if attention.is_none() {
        (0.0, 0.0)
    } else if cfg.flash_attention {
        let causal = 2.0 * tokens * span * a * (qk_dim + v_dim) as f64 / t / 2.0;
        let fwd = dev.flash_attention(causal, qk_dim);
        (fwd, fwd * FLASH_BACKWARD_RATIO)
    } else {
        let batch = b * a / t;
        let products = dev.gemm(n, s, qk_dim as f64, batch) + dev.gemm(n, v_dim as f64, s, batch);
        let scores = batch * n * s;
        let per_score = if cfg.dropout { 9.0 } else { 4.0 };
        let softmax = dev.memory_pass(scores * per_score);
        (products + softmax, 2.0 * products + 1.5 * softmax)
    };

    // element-wise passes: outside the tensor-parallel region (split only with sequence
    // parallelism) and inside it (the MLP activation; eager, RoPE and copies too)
    let (outside, inside) = match dev.kernels {
        Kernels::Fused => ops.elementwise().fold((0.0, 0.0), |(o, i), e| {
            let bytes = e.bytes_per_token as f64 * e.active as f64;
            if e.activation {
                (o, i + bytes)
            } else {
                (o + bytes, i)
            }
        }),
        Kernels::Eager => eager::block_bytes_per_token(arch, block, ops, dev.residual),
    };
    let sp = if l.sp_active() { t } else { 1.0 };
    let ew_fwd = dev.memory_pass(tokens * (outside / sp + inside / t));
    // autocast casts each fp32 weight to 16 bits every forward and its gradient back
    let weight_casts = if dev.kernels == Kernels::Eager && dev.residual == Residual::Autocast {
        // each rank casts its own slice: the tensor-parallel split, routed experts over ep
        let weights: f64 = ops
            .matmuls()
            .map(|m| {
                let ep = if Stage::of(m.role) == Some(Stage::Experts) {
                    l.ep as f64
                } else {
                    1.0
                };
                m.n_per_rank(t) * m.k_per_rank(t) * m.copies as f64 / ep
            })
            .sum();
        dev.memory_pass(weights * eager::AUTOCAST_WEIGHT_BYTES)
    } else {
        0.0
    };
    LayerKernels {
        gemm_forward: gemm_fwd,
        gemm_backward: gemm_bwd,
        attention_forward: attn_fwd,
        attention_backward: attn_bwd,
        elementwise_forward: ew_fwd,
        gemm_op_selective_again: gemm_again,
        weight_casts,
    }
}

/// [`layer_seconds_of`] over the block's priced [`LayerKernels`], with the layer's
/// data-parallel collectives and one tensor-parallel all-reduce already priced
/// (they depend on the layout, not on the block: a step prices them once).
fn layer_seconds_in(
    arch: &Architecture,
    ops: &BlockOps,
    cfg: &TimeConfig,
    traffic: &LayerTraffic,
    kernels: &LayerKernels,
    tp_all_reduce: f64,
) -> LayerTime {
    let l = cfg.layout;
    let t = l.tp as f64;
    let h = arch.hidden_size as f64;
    let s = cfg.seq_len as f64;
    let b = cfg.micro_batch as f64;
    let tokens = s / l.cp as f64 * b;
    let dev = &cfg.dev;
    let fabric = &cfg.fabric;
    let attention = ops.attention();
    let LayerKernels {
        gemm_forward: gemm_fwd,
        gemm_backward: gemm_bwd,
        attention_forward: attn_fwd,
        attention_backward: attn_bwd,
        elementwise_forward: ew_fwd,
        gemm_op_selective_again: gemm_again,
        weight_casts,
    } = *kernels;
    let ew_bwd = 2.0 * ew_fwd;

    // an NF4 base is dequantized before each use
    let layers = l.first_stage_layers(arch).max(1) as f64;
    let dequant = if cfg.quantized_base {
        // read 4.127 bits, write 2 bytes per weight of this layer on this GPU
        dev.memory_pass(cfg.params_on_gpu as f64 / layers * 2.52)
    } else {
        0.0
    };

    let forward = gemm_fwd + attn_fwd + ew_fwd + dequant + weight_casts / 2.0;
    let backward = gemm_bwd + attn_bwd + ew_bwd + dequant + weight_casts / 2.0;
    let (recompute, collectives) = match cfg.recompute {
        Recompute::Full => (forward, 6.0),
        Recompute::Selective if !cfg.flash_attention => (attn_fwd, 4.0),
        // the kept reductions' outputs are stored: no collective runs again
        Recompute::OpSelective => (gemm_again + ew_fwd + dequant, 4.0),
        _ => (0.0, 4.0),
    };
    let compute = forward + backward + recompute;
    let mut contention_seconds = 0.0;

    // tensor-parallel collectives: exposed, or hidden behind the layer's products
    let tp_comm = collectives * tp_all_reduce;
    let tp_seconds = if cfg.overlap.tensor_parallel && l.tp > 1 {
        let again = match cfg.recompute {
            Recompute::Full => gemm_fwd,
            Recompute::OpSelective => gemm_again,
            Recompute::None | Recompute::Selective => 0.0,
        };
        let products = gemm_fwd + gemm_bwd + again;
        let (exposed, slow) = overlap(tp_comm, products, cfg.comm_sm_share);
        contention_seconds += slow;
        exposed
    } else {
        tp_comm
    };

    // expert-parallel dispatch and combine, forward and backward; the busiest rank sets the pace
    let ep_seconds = match ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Experts))
    {
        Some(routed) if l.ep > 1 => {
            let bytes = tokens * routed.active as f64 * h * 2.0 * EXPERT_LOAD_IMBALANCE;
            let comm = 4.0 * fabric.time(Collective::AllToAll, bytes, l.ep_group());
            if cfg.overlap.expert_parallel {
                let (exposed, slow) = overlap(comm, compute, cfg.comm_sm_share);
                contention_seconds += slow;
                exposed
            } else {
                comm
            }
        }
        _ => 0.0,
    };

    // context parallel: gather K and V forward; reduce-scatter dK, dV and gather again
    // backward, hidden by the attention kernels
    let cp_seconds = if l.cp > 1 {
        // the values the layer caches per token (keys and values, MLA's latent); a
        // recurrent layer passes its state along the ranks, not keys and values
        let width = attention.map_or(0.0, |a| a.cached.0 as f64);
        let gathered = b * s * width * 2.0 / t;
        let comm = 3.0 * fabric.time(Collective::AllGather, gathered, l.cp_group());
        let (exposed, slow) = overlap(comm, attn_fwd + attn_bwd, cfg.comm_sm_share);
        contention_seconds += slow;
        exposed
    } else {
        0.0
    };

    // data parallel, this layer's share of the stage's parameters
    let (sharded_seconds, gradient_sync_seconds) =
        data_parallel(cfg, traffic, forward, backward + recompute);

    LayerTime {
        forward_seconds: forward,
        backward_seconds: backward,
        recompute_seconds: recompute,
        tensor_parallel_seconds: tp_seconds,
        context_parallel_seconds: cp_seconds,
        expert_parallel_seconds: ep_seconds,
        contention_seconds,
        sharded_seconds,
        gradient_sync_seconds,
    }
}

/// What of one layer's data-parallel traffic `pieces` the layer's own `forward` and
/// `backward` kernels leave exposed: `(FSDP per micro-batch, gradient sync per step)`.
fn data_parallel(
    cfg: &TimeConfig,
    pieces: &LayerTraffic,
    forward: f64,
    backward: f64,
) -> (f64, f64) {
    let l = cfg.layout;
    if l.dp <= 1 {
        return (0.0, 0.0);
    }
    let hide = |comm: f64, compute: f64| -> f64 {
        if cfg.overlap.data_parallel {
            let (exposed, slow) = overlap(comm, compute, cfg.comm_sm_share);
            exposed + slow
        } else {
            comm
        }
    };
    if l.zero == ZeroStage::Zero3 {
        let bwd = pieces.gather + pieces.reduce;
        (hide(pieces.gather, forward) + hide(bwd, backward), 0.0)
    } else {
        (
            0.0,
            hide(pieces.reduce, backward) + hide(pieces.gather, forward),
        )
    }
}

/// One layer's data-parallel collectives, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct LayerTraffic {
    /// Gathering the layer's 16-bit weights (FSDP per pass, ZeRO-1/2 after the update).
    gather: f64,
    /// Reducing the layer's gradients.
    reduce: f64,
}

/// The data-parallel collectives of one layer holding `1/layers` of the stage's parameters.
///
/// # Formula
/// ```text
/// ZeRO-3/FSDP  gather: all-gather of P·2 bytes; reduce: reduce-scatter of P·2 bytes (none if frozen)
/// ZeRO-0       reduce: all-reduce of T·4 bytes (fp32 gradients)
/// ZeRO-1/2     reduce: reduce-scatter of T·4 bytes; gather: all-gather of T·2 bytes
/// ```
/// with `P`, `T` the layer's share of the stage's parameters and trainable parameters.
fn layer_traffic(cfg: &TimeConfig, layers: f64) -> LayerTraffic {
    let l = cfg.layout;
    if l.dp <= 1 {
        return LayerTraffic::default();
    }
    let group = l.dp_group();
    let f = &cfg.fabric;
    let params = cfg.params_on_gpu as f64 / layers;
    let trainable = cfg.trainable_params as f64 / layers;
    match l.zero {
        ZeroStage::Zero3 => LayerTraffic {
            gather: f.time(Collective::AllGather, params * 2.0, group),
            reduce: if cfg.frozen_base {
                0.0
            } else {
                f.time(Collective::ReduceScatter, params * 2.0, group)
            },
        },
        ZeroStage::Zero0 => LayerTraffic {
            gather: 0.0,
            reduce: f.time(Collective::AllReduce, trainable * 4.0, group),
        },
        ZeroStage::Zero1 | ZeroStage::Zero2 => LayerTraffic {
            gather: f.time(Collective::AllGather, trainable * 2.0, group),
            reduce: f.time(Collective::ReduceScatter, trainable * 4.0, group),
        },
    }
}

/// Seconds for the LM head and the loss on the last stage, one micro-batch.
///
/// # Formula
/// `product(M, V/t, h)` forward and backward `+ M·V/t·(24 fused | 36 eager) bytes of
/// memory traffic` ([`Loss::traffic_bytes`])
pub fn head_seconds(arch: &Architecture, cfg: &TimeConfig) -> f64 {
    let l = cfg.layout;
    let tokens = cfg.seq_len as f64 / l.cp as f64 * cfg.micro_batch as f64;
    let v = arch.vocab_size as f64 / l.tp as f64;
    let h = arch.hidden_size as f64;
    // FP8 training converts the blocks' linear layers only: the LM head is a
    // 16-bit product (llm-foundry's tied `SharedEmbedding` unembeds with
    // `F.linear`, outside TransformerEngine's modules; torchtitan's float8
    // docs list `output` in `filter_fqns`; Megatron's `output_layer` is not a TE
    // layer; DeepSeek-V3 (arXiv:2412.19437 §3.3.1) keeps its output head in BF16)
    let (fwd, bwd) = cfg
        .dev
        .at_16bit()
        .product(tokens, v, h, 1.0, cfg.frozen_base);
    fwd + bwd + cfg.dev.memory_pass(tokens * v * cfg.loss.traffic_bytes())
}

/// Where one optimizer step's time goes.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StepTime {
    /// Wall seconds of one optimizer step.
    pub step_seconds: f64,
    /// Kernel seconds of all micro-batches on the slowest stage.
    pub compute_seconds: f64,
    /// Pipeline bubble: `(p − 1)/v` micro-batch slots.
    pub bubble_seconds: f64,
    /// Tensor-parallel collectives on the critical path.
    pub tensor_parallel_seconds: f64,
    /// Context-parallel exchange not hidden.
    pub context_parallel_seconds: f64,
    /// Expert-parallel all-to-alls on the critical path.
    pub expert_parallel_seconds: f64,
    /// Pipeline point-to-point sends.
    pub pipeline_seconds: f64,
    /// Compute slowed by the tensor-, context- and expert-parallel traffic it hides.
    pub contention_seconds: f64,
    /// Data-parallel traffic not hidden (gradient reduction, parameter gathers, FSDP).
    pub data_parallel_seconds: f64,
    /// The optimizer's update pass.
    pub optimizer_seconds: f64,
    /// Seconds of one micro-batch on the slowest stage (communication included).
    pub micro_batch_seconds: f64,
}

impl StepTime {
    /// The parts of a step, each named once for every output that lists them
    /// (the `train` table, the plan's comparison sentence and its #1 detail).
    pub fn parts(&self) -> [(&'static str, f64); 9] {
        [
            ("compute", self.compute_seconds),
            ("pipeline bubble", self.bubble_seconds),
            ("exposed tensor-parallel comm", self.tensor_parallel_seconds),
            (
                "exposed context-parallel comm",
                self.context_parallel_seconds,
            ),
            ("exposed expert-parallel comm", self.expert_parallel_seconds),
            ("pipeline sends", self.pipeline_seconds),
            ("compute slowed by overlapped comm", self.contention_seconds),
            ("exposed data-parallel comm", self.data_parallel_seconds),
            ("optimizer update", self.optimizer_seconds),
        ]
    }
}

/// Seconds of one optimizer step.
///
/// # Formula
/// ```text
/// t_mb  = max(first stage, last stage) per micro-batch + pipeline sends 2·v·send(M·h·2/t)
/// step  = (m + (p − 1)/v) · t_mb                         (1F1B, interleaved when v > 1)
///       + m · (Σ_layers exposed FSDP traffic + one layer's gather and reduce-scatter)
///       + Σ_layers exposed gradient sync + one layer's (its last bucket)
///       + optimizer update pass
/// ```
/// where the per-layer exposure is [`layer_seconds`]'s and the "one layer" terms
/// are the traffic nothing can hide: FSDP's first gather before any compute and
/// last reduce-scatter after it, the gradient reduction of the layer computed last.
///
/// # Source
/// Narayanan et al. 2021 §2.2 (bubble `(p−1)/(v·m)` of the ideal time, scatter/gather
/// of pipeline sends over `t`); ZeRO (Rajbhandari et al. 2020) §7 for the data-parallel
/// volumes; PyTorch FSDP (Zhao et al. 2023) §3.3 for per-layer prefetching.
pub fn step_seconds(arch: &Architecture, cfg: &TimeConfig) -> StepTime {
    match ops::list(arch) {
        Ok(list) => step_seconds_of(arch, &list, cfg),
        // sizes past u64: no such model reaches the step model
        Err(_) => StepTime {
            step_seconds: f64::INFINITY,
            ..StepTime::default()
        },
    }
}

/// [`step_seconds`] over `arch`'s operator list.
pub fn step_seconds_of(arch: &Architecture, list: &OpList, cfg: &TimeConfig) -> StepTime {
    let traffic = stage_layer_traffic(arch, cfg);
    step_seconds_with(arch, list, cfg, &StepKernels::of(arch, list, cfg), &traffic)
}

/// The data-parallel collectives of one layer of the first stage.
pub(crate) fn stage_layer_traffic(arch: &Architecture, cfg: &TimeConfig) -> LayerTraffic {
    layer_traffic(cfg, cfg.layout.first_stage_layers(arch).max(1) as f64)
}

/// [`step_seconds_of`] over the step's kernels and the first stage's per-layer
/// data-parallel traffic already priced for `cfg` ([`StepKernels::of`] with the
/// same micro-batch, `t`, `cp`, `ep`, sequence parallelism and GPU;
/// [`stage_layer_traffic`] with the same split, `ep` and ZeRO stage): the same
/// arithmetic on the same values, so the same bits.
pub(crate) fn step_seconds_with(
    arch: &Architecture,
    list: &OpList,
    cfg: &TimeConfig,
    kernels: &StepKernels,
    traffic: &LayerTraffic,
) -> StepTime {
    let l = cfg.layout;
    let traffic = *traffic;
    // compose each kind of block once (on the stack for the usual few kinds)
    let price = |i: usize| match (list.block(i), kernels.layers.get(i).copied().flatten()) {
        (Some(ops), Some(k)) => {
            layer_seconds_in(arch, ops, cfg, &traffic, &k, kernels.tp_all_reduce_seconds)
        }
        _ => LayerTime::default(),
    };
    const FEW: usize = 8;
    let n_kinds = arch.layers.blocks.len();
    let mut few = [LayerTime::default(); FEW];
    let many: Vec<LayerTime>;
    let kinds: &[LayerTime] = if n_kinds <= FEW {
        for (i, k) in few.iter_mut().enumerate().take(n_kinds) {
            *k = price(i);
        }
        &few[..n_kinds]
    } else {
        many = (0..n_kinds).map(price).collect();
        &many
    };
    let stage = |first: u64, layers: u64| -> (LayerTime, f64) {
        let mut sum = LayerTime::default();
        for (i, here) in arch.layers.counted_in(first, layers) {
            let (k, here) = (&kinds[i], here as f64);
            sum.forward_seconds += k.forward_seconds * here;
            sum.backward_seconds += k.backward_seconds * here;
            sum.recompute_seconds += k.recompute_seconds * here;
            sum.tensor_parallel_seconds += k.tensor_parallel_seconds * here;
            sum.context_parallel_seconds += k.context_parallel_seconds * here;
            sum.expert_parallel_seconds += k.expert_parallel_seconds * here;
            sum.contention_seconds += k.contention_seconds * here;
            sum.sharded_seconds += k.sharded_seconds * here;
            sum.gradient_sync_seconds += k.gradient_sync_seconds * here;
        }
        let total = sum.total();
        (sum, total)
    };
    let head = kernels.head_seconds;
    let (first, first_total) = stage(0, l.first_stage_layers(arch));
    let (slowest, slowest_total, head_here) = if l.pp == 1 {
        (first, first_total + head, head)
    } else {
        let last_layers = l.last_stage_layers(arch);
        let (last, last_total) = stage(arch.num_layers() - last_layers, last_layers);
        let last_total = last_total + head;
        if first_total >= last_total {
            (first, first_total, 0.0)
        } else {
            (last, last_total, head)
        }
    };

    let tokens = cfg.seq_len as f64 / l.cp as f64 * cfg.micro_batch as f64;
    let h = arch.hidden_size as f64;
    let p2p = if l.pp > 1 {
        let send = tokens * h * 2.0 / l.tp as f64;
        2.0 * l.vpp as f64 * cfg.fabric.send(send, l.pp_stride())
    } else {
        0.0
    };
    let t_mb = slowest_total + p2p;
    let m = l.micro_batches as f64;
    let slots = (l.pp - 1) as f64 / l.vpp as f64;

    // data parallel: what the layers leave exposed, plus the layer nothing hides
    let (mut fsdp, mut dp_seconds) = (0.0, 0.0);
    if l.dp > 1 {
        let tail = traffic;
        let hidden_tail = |x: f64| if cfg.overlap.data_parallel { x } else { 0.0 };
        if l.zero == ZeroStage::Zero3 {
            fsdp = slowest.sharded_seconds + hidden_tail(tail.gather + tail.reduce);
        } else {
            dp_seconds = slowest.gradient_sync_seconds + hidden_tail(tail.reduce);
        }
    }
    let shards = if l.zero >= ZeroStage::Zero1 { l.dp } else { 1 } as f64;
    let optimizer = cfg
        .dev
        .memory_pass(cfg.trainable_params as f64 / shards * cfg.optimizer_traffic_bytes);

    StepTime {
        step_seconds: (m + slots) * t_mb + m * fsdp + dp_seconds + optimizer,
        compute_seconds: m * (slowest.compute() + head_here),
        bubble_seconds: slots * t_mb,
        tensor_parallel_seconds: m * slowest.tensor_parallel_seconds,
        context_parallel_seconds: m * slowest.context_parallel_seconds,
        expert_parallel_seconds: m * slowest.expert_parallel_seconds,
        pipeline_seconds: m * p2p,
        contention_seconds: m * slowest.contention_seconds,
        data_parallel_seconds: m * fsdp + dp_seconds,
        optimizer_seconds: optimizer,
        micro_batch_seconds: t_mb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::collective::{Fabric, Network};
    use crate::hardware;
    use crate::training::kernels::Kernels;
    use crate::training::parallel::{LayoutRequest, Workload};
    use crate::training::states::Precision;
    use crate::Shape;

    /// Tolerance of a sum recomputed in another order.
    const TOL: f64 = 1e-12;

    #[test]
    fn overlapped_traffic_exposes_what_compute_cannot_hide() {
        // 3 ms of traffic beside 2 ms of compute: 1 ms exposed, 2 ms hidden; on 20 of
        // 132 SMs the hidden 2 ms cost 2·20/112 ms of compute
        let (exposed, slow) = overlap(3e-3, 2e-3, 20.0 / 132.0);
        assert!((exposed - 1e-3).abs() < TOL);
        assert!((slow - 2e-3 * 20.0 / 112.0).abs() < TOL);
        // fully hidden
        let (exposed, slow) = overlap(1e-3, 2e-3, 0.0);
        assert_eq!((exposed, slow), (0.0, 0.0));
    }

    /// Llama-2-7B's shape on `gpus` A100s under FSDP, one sequence of 2048 per GPU.
    fn fsdp_layer(gpus: u64, overlapped: bool, inter_node: f64) -> (LayerTime, f64, f64) {
        let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let acc = hardware::find("A100-SXM-80GB").unwrap();
        let req = LayoutRequest {
            fsdp: true,
            ..LayoutRequest::default()
        };
        let w = Workload {
            gpus,
            seq_len: 2048,
            global_batch: gpus,
            micro_batch: 1,
        };
        let layout = Layout::resolve(&req, &arch, &w).unwrap();
        let net = Network {
            gpus_per_node: Some(8),
            inter_node_bytes_per_sec: Some(inter_node),
        };
        let cfg = TimeConfig {
            dev: Gpu::new(acc, Precision::Bf16, Kernels::Fused).unwrap(),
            fabric: Fabric::of(acc, &net),
            layout: &layout,
            seq_len: 2048,
            micro_batch: 1,
            recompute: Recompute::None,
            flash_attention: true,
            dropout: false,
            overlap: Overlap {
                data_parallel: overlapped,
                ..Overlap::default()
            },
            frozen_base: false,
            quantized_base: false,
            trainable_params: 6_738_415_616,
            params_on_gpu: 6_738_415_616,
            optimizer_traffic_bytes: 16.0,
            comm_sm_share: 0.0,
            loss: Loss::Fused,
        };
        let t = layer_seconds(&arch, &arch.layers.blocks[0], &cfg);
        // the layer's share: 1/32 of the 16-bit weights, gathered and reduce-scattered
        let bytes = 6_738_415_616.0 / 32.0 * 2.0;
        let group = layout.dp_group();
        let gather = cfg.fabric.time(Collective::AllGather, bytes, group);
        let reduce = cfg.fabric.time(Collective::ReduceScatter, bytes, group);
        (t, gather, reduce)
    }

    #[test]
    fn fsdp_traffic_is_hidden_layer_by_layer() {
        // 64 GPUs on 8 nodes with 400 Gb/s per GPU: the gathers hide behind the layer
        let (t, gather, reduce) = fsdp_layer(64, true, 50e9);
        assert!(gather < t.forward_seconds && gather + reduce < t.backward_seconds);
        assert_eq!(t.sharded_seconds, 0.0);
        // on a 1 Gb/s network the traffic outlasts the compute: the excess is exposed
        let (t, gather, reduce) = fsdp_layer(64, true, 0.125e9);
        let want = (gather - t.forward_seconds) + (gather + reduce - t.backward_seconds);
        assert!(want > 0.0);
        assert!((t.sharded_seconds - want).abs() < TOL, "{t:?}");
        // not overlapped: all of it, every micro-batch
        let (t, gather, reduce) = fsdp_layer(64, false, 25e9);
        assert!((t.sharded_seconds - (2.0 * gather + reduce)).abs() < TOL);
        // one GPU: no data-parallel traffic
        let (t, _, _) = fsdp_layer(1, true, 25e9);
        assert_eq!(t.sharded_seconds, 0.0);
    }
}
