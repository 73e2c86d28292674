//! Step time: each layer's kernels on one GPU, the pipeline schedule, and the
//! communication the schedule cannot hide.
//!
//! A layer's forward is a list of matrix products (sizes after the tensor-parallel
//! split, `M` = the micro-batch's tokens), the attention core, and element-wise
//! passes; its backward is two products per forward product (input and weight
//! gradients), flash attention's backward (2.5× its forward work, Dao 2023), and
//! twice the element-wise traffic. Recomputation adds forward work. Tensor-parallel
//! collectives sit on the critical path unless overlapped; the pipeline adds its
//! bubble; data-parallel gradient traffic hides behind the last micro-batch's
//! backward when overlapped.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Block};
use crate::ops::{self, BlockOps, Matmul, OpList, Stage};
use crate::training::activations::Recompute;
use crate::training::comm::{all_gather, all_reduce, group_bandwidth, Network};
use crate::training::kernels::Device;
use crate::training::parallel::{Layout, ZeroStage};

/// Bytes of memory traffic per logit for the loss, forward and backward: the fp32
/// cast, the softmax's reads and write, the gradient's write and read.
///
/// # Source
/// Counted from a vocabulary-parallel cross entropy (Megatron `vocab_parallel_cross_entropy`):
/// read 2 + write 4, read 4 + write 4, read 4 + write 2, read 2 + … ≈ 24 bytes.
pub const LOSS_TRAFFIC_BYTES: f64 = 24.0;

/// Flash attention's backward does this many times its forward work (recomputing
/// the scores, then five products instead of two).
///
/// # Source
/// Dao 2023 (FlashAttention-2, arXiv:2307.08691) §3.1–3.2 and its FLOP count
/// (backward = 2.5 × forward).
pub const FLASH_BACKWARD_RATIO: f64 = 2.5;

/// Share of the GPU's streaming multiprocessors that overlapping the expert
/// all-to-all takes from computation.
///
/// # Source
/// DeepSeek-V3 technical report (arXiv:2412.19437) §3.2.2: 20 of the H800's 132
/// SMs are dedicated to the cross-node all-to-all that DualPipe hides.
pub const EXPERT_COMM_SM_SHARE: f64 = 20.0 / 132.0;

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
    pub dev: Device<'a>,
    /// The cluster.
    pub net: Network,
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
}

impl LayerTime {
    /// Kernels only.
    pub fn compute(&self) -> f64 {
        self.forward_seconds + self.backward_seconds + self.recompute_seconds
    }

    /// Communication on the critical path.
    pub fn communication(&self) -> f64 {
        self.tensor_parallel_seconds + self.context_parallel_seconds + self.expert_parallel_seconds
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
///            splits; routed experts batched over E/ep experts of M·e·ep/E tokens; backward 2×
/// attention  flash: causal work 2·M·s·a·(d_qk + d_v)/t ÷ 2, backward 2.5×;
///            otherwise two batched products and softmax passes (9 bytes/score with dropout)
/// element-wise forward: M·(16·h (÷ t with SP) + MLP activation/t)·(1 fused | 3 eager) bytes; backward 2×
/// recompute  full: the forward again (collectives included); selective: the attention core forward
/// TP         4 collectives of M·h·2 bytes (6 with full recompute): 2·(t−1)/t·bytes/bw each
/// CP         key/value all-gather forward and reduce-scatter + gather backward, minus the attention time
/// EP         dispatch and combine all-to-alls, forward and backward: 4 · M·e·h·2·(ep−1)/ep / bw;
///            when overlapped, every kernel runs on 112/132 of the SMs instead
/// ```
///
/// # Source
/// Megatron-LM's layer structure (Shoeybi et al. 2019; Narayanan et al. 2021 §3.2 for the
/// collectives); Korthikanti et al. 2022 §4.2.2 (sequence parallel has the same volume);
/// Dao 2023 for flash attention.
///
/// # Assumptions / limits
/// A recurrent mixer (linear attention, state space) runs its projections as GEMMs and
/// its chunked scan as a memory pass over the state it updates per token (fla / SSD
/// kernels), two passes backward.
pub fn layer_seconds(arch: &Architecture, block: &Block, cfg: &TimeConfig) -> LayerTime {
    match ops::block_ops(arch, block) {
        Ok(ops) => layer_seconds_of(arch, &ops, cfg),
        // sizes past u64: no such model reaches the step model
        Err(_) => LayerTime {
            forward_seconds: f64::INFINITY,
            ..LayerTime::default()
        },
    }
}

/// [`layer_seconds`] folded over one block's operations ([`ops::block_ops`]).
pub fn layer_seconds_of(arch: &Architecture, ops: &BlockOps, cfg: &TimeConfig) -> LayerTime {
    let l = cfg.layout;
    let (t, cp) = (l.tp as f64, l.cp as f64);
    let h = arch.hidden_size as f64;
    let s = cfg.seq_len as f64;
    let b = cfg.micro_batch as f64;
    let n = s / cp;
    let tokens = n * b;
    let dev = &cfg.dev;

    // weight products, one kernel per fused run (q·k·v, gate·up); routed experts as a
    // batched product over the experts on this rank, each with its share of the tokens
    let mut gemm_fwd = 0.0;
    let mut ep_seconds = 0.0;
    let mut kernel: Option<(Matmul, u64)> = None;
    let mut run = |m: Option<&Matmul>, gemm_fwd: &mut f64| {
        if let (Some((k, n_sum)), false) = (&kernel, m.is_some_and(|m| m.fused)) {
            let out = Matmul { n: *n_sum, ..*k };
            let (rows, inner) = (out.n_per_rank(t), out.k_per_rank(t));
            *gemm_fwd += if Stage::of(out.role) == Some(Stage::Experts) {
                let experts_here = out.copies as f64 / l.ep as f64;
                let per_expert_tokens = tokens * out.active as f64 / experts_here;
                dev.gemm(per_expert_tokens, rows, inner, experts_here)
            } else {
                dev.gemm(tokens, rows, inner, 1.0)
            };
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
        run(Some(m), &mut gemm_fwd);
    }
    run(None, &mut gemm_fwd);
    if let Some(routed) = ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Experts))
    {
        if l.ep > 1 && !cfg.overlap.expert_parallel {
            let bw = group_bandwidth(dev.link, &cfg.net, l.ep, l.tp * l.cp);
            let bytes = tokens * routed.active as f64 * h * 2.0;
            ep_seconds = 4.0 * all_gather(bytes, l.ep, bw);
        }
    }
    // the MLP activations, inside the tensor-parallel region
    let mut act_bytes = 0.0;
    for e in ops.elementwise().filter(|e| e.activation) {
        act_bytes += tokens * e.active as f64 * e.bytes_per_token as f64;
    }
    act_bytes /= t;

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

    // element-wise passes
    let replicated: f64 = ops
        .elementwise()
        .filter(|e| !e.activation)
        .map(|e| e.bytes_per_token as f64 * tokens / if l.sp_active() { t } else { 1.0 })
        .sum();
    let ew_fwd = dev.memory_pass((replicated + act_bytes) * dev.elementwise_factor());
    let ew_bwd = 2.0 * ew_fwd;

    // a frozen base skips weight gradients; an NF4 base is dequantized before each use
    let gemm_bwd = if cfg.frozen_base {
        gemm_fwd
    } else {
        2.0 * gemm_fwd
    };
    let dequant = if cfg.quantized_base {
        // read 4.127 bits, write 2 bytes per weight of this layer on this GPU
        let weights = cfg.params_on_gpu as f64 / arch.num_layers() as f64;
        dev.memory_pass(weights * 2.52)
    } else {
        0.0
    };

    // hiding the all-to-all takes SMs away from every kernel of the step
    let slow = if cfg.overlap.expert_parallel && l.ep > 1 {
        1.0 / (1.0 - EXPERT_COMM_SM_SHARE)
    } else {
        1.0
    };
    let forward = (gemm_fwd + attn_fwd + ew_fwd + dequant) * slow;
    let backward = (gemm_bwd + attn_bwd + ew_bwd + dequant) * slow;

    // tensor-parallel collectives
    let per_collective = if l.tp > 1 {
        let bw = group_bandwidth(dev.link, &cfg.net, l.tp, 1);
        all_reduce(tokens * h * 2.0, l.tp, bw)
    } else {
        0.0
    };
    let (recompute, collectives) = match cfg.recompute {
        Recompute::Full => (forward, 6.0),
        Recompute::Selective if !cfg.flash_attention => (attn_fwd * slow, 4.0),
        _ => (0.0, 4.0),
    };
    let tp_seconds = if cfg.overlap.tensor_parallel {
        0.0
    } else {
        collectives * per_collective
    };

    // context parallel: gather K and V forward; reduce-scatter dK, dV and gather again backward
    let cp_seconds = if l.cp > 1 {
        // the values the layer caches per token (keys and values, MLA's latent); a
        // recurrent layer passes its state along the ranks, not keys and values
        let width = attention.map_or(0.0, |a| a.cached.0 as f64);
        let gathered = b * s * width * 2.0 / t;
        let bw = group_bandwidth(dev.link, &cfg.net, l.cp, l.tp);
        let comm = 3.0 * all_gather(gathered, l.cp, bw);
        (comm - attn_fwd - attn_bwd).max(0.0)
    } else {
        0.0
    };

    LayerTime {
        forward_seconds: forward,
        backward_seconds: backward,
        recompute_seconds: recompute,
        tensor_parallel_seconds: tp_seconds,
        context_parallel_seconds: cp_seconds,
        expert_parallel_seconds: ep_seconds,
    }
}

/// Seconds for the LM head and the loss on the last stage, one micro-batch.
///
/// # Formula
/// `3 · gemm(M, V/t, h) + M·V/t·24 bytes of memory traffic`
pub fn head_seconds(arch: &Architecture, cfg: &TimeConfig) -> f64 {
    let l = cfg.layout;
    let tokens = cfg.seq_len as f64 / l.cp as f64 * cfg.micro_batch as f64;
    let v = arch.vocab_size as f64 / l.tp as f64;
    let h = arch.hidden_size as f64;
    let gemm = cfg.dev.gemm(tokens, v, h, 1.0);
    let bwd = if cfg.frozen_base { 1.0 } else { 2.0 };
    (1.0 + bwd) * gemm + cfg.dev.memory_pass(tokens * v * LOSS_TRAFFIC_BYTES)
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
    /// Data-parallel traffic not hidden (gradient reduction, parameter gathers, FSDP).
    pub data_parallel_seconds: f64,
    /// The optimizer's update pass.
    pub optimizer_seconds: f64,
    /// Seconds of one micro-batch on the slowest stage (communication included).
    pub micro_batch_seconds: f64,
}

/// Seconds of one optimizer step.
///
/// # Formula
/// ```text
/// t_mb  = max(first stage, last stage) per micro-batch + pipeline sends 2·v·(M·h·2/t)/bw
/// step  = (m + (p − 1)/v) · t_mb                         (1F1B, interleaved when v > 1)
///       + m · exposed FSDP traffic   (3 collectives of the stage's 16-bit weights per micro-batch)
///       + exposed gradient reduction (fp32 grads; ZeRO-1/2 also re-gathers 16-bit weights)
///       + optimizer update pass
/// exposed = comm − (last micro-batch backward | micro-batch time) when overlapped, else comm
/// ```
///
/// # Source
/// Narayanan et al. 2021 §2.2 (bubble `(p−1)/(v·m)` of the ideal time, scatter/gather
/// of pipeline sends over `t`); ZeRO (Rajbhandari et al. 2020) §7 for the data-parallel
/// volumes (ZeRO-3: 1.5× plain data parallelism).
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
    let l = cfg.layout;
    // price each kind of block once (on the stack for the usual few kinds)
    let price = |i: usize| {
        list.block(i)
            .map_or_else(LayerTime::default, |ops| layer_seconds_of(arch, ops, cfg))
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
        }
        let total = sum.total();
        (sum, total)
    };
    let head = head_seconds(arch, cfg);
    let (first, first_total) = stage(0, l.first_stage_layers(arch));
    let last_layers = l.last_stage_layers(arch);
    let (last, mut last_total) = stage(arch.num_layers() - last_layers, last_layers);
    last_total += head;
    let (slowest, slowest_total, head_here) = if l.pp == 1 {
        (first, first_total + head, head)
    } else if first_total >= last_total {
        (first, first_total, 0.0)
    } else {
        (last, last_total, head)
    };

    let tokens = cfg.seq_len as f64 / l.cp as f64 * cfg.micro_batch as f64;
    let h = arch.hidden_size as f64;
    let p2p = if l.pp > 1 {
        let bw = group_bandwidth(cfg.dev.link, &cfg.net, 2, l.tp * l.cp * l.dp);
        2.0 * l.vpp as f64 * tokens * h * 2.0 / l.tp as f64 / bw
    } else {
        0.0
    };
    let t_mb = slowest_total + p2p;
    let m = l.micro_batches as f64;
    let slots = (l.pp - 1) as f64 / l.vpp as f64;

    // data parallel
    let dp_bw = group_bandwidth(cfg.dev.link, &cfg.net, l.dp, l.tp * l.cp);
    let last_backward = slowest.backward_seconds + slowest.recompute_seconds;
    let mut fsdp = 0.0;
    let mut dp_seconds = 0.0;
    if l.dp > 1 {
        if l.zero == ZeroStage::Zero3 {
            let gathers = if cfg.frozen_base { 2.0 } else { 3.0 };
            let comm = gathers * all_gather(cfg.params_on_gpu as f64 * 2.0, l.dp, dp_bw);
            fsdp = if cfg.overlap.data_parallel {
                (comm - t_mb).max(0.0)
            } else {
                comm
            };
        } else {
            let grads = cfg.trainable_params as f64 * 4.0;
            let (reduce, gather) = if l.zero == ZeroStage::Zero0 {
                (all_reduce(grads, l.dp, dp_bw), 0.0)
            } else {
                (
                    all_gather(grads, l.dp, dp_bw),
                    all_gather(cfg.trainable_params as f64 * 2.0, l.dp, dp_bw),
                )
            };
            dp_seconds = if cfg.overlap.data_parallel {
                (reduce - last_backward).max(0.0)
            } else {
                reduce + gather
            };
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
        data_parallel_seconds: m * fsdp + dp_seconds,
        optimizer_seconds: optimizer,
        micro_batch_seconds: t_mb,
    }
}
