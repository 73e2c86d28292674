//! Activation memory: the tensors each block stores for its backward pass.
//!
//! Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
//! Transformer Models", arXiv:2205.05198, §4) count, for a GPT block with a 4h
//! GeLU MLP, 16-bit activations and 1-byte dropout masks, `s·b·h·(34 + 5·a·s/h)`
//! bytes. The same count is derived here tensor by tensor from the architecture,
//! so gated MLPs, grouped-query attention, experts and flash attention change the
//! result instead of reusing the constant 34:
//!
//! | tensor (per block)                    | bytes                  | split over `t`        |
//! |---------------------------------------|------------------------|-----------------------|
//! | input of each norm                    | `2·s·b·h` per norm     | with sequence parallel|
//! | QKV input (norm output)               | `2·s·b·h`              | with sequence parallel|
//! | Q, K, V                               | `2·s·b·(a + 2k)·d`     | always                |
//! | softmax output (no flash)             | `2·b·a·s²`             | always                |
//! | attention-dropout mask and output     | `b·a·s² + 2·b·a·s²`    | always                |
//! | flash attention log-sum-exp (fp32)    | `4·b·a·s`              | always                |
//! | output-projection input               | `2·s·b·a·d`            | always                |
//! | residual dropout masks (×2)           | `s·b·h` each           | with sequence parallel|
//! | MLP input (norm output)               | `2·s·b·h`              | with sequence parallel|
//! | plain MLP: activation in and out      | `4·s·b·f`              | always                |
//! | gated MLP: gate and up out, product   | `6·s·b·f`              | always                |
//!
//! For the GPT block (`a·d = h`, `k = a`, `f = 4h`) the rows add up to `34·s·b·h +
//! 5·a·s²·b`, and the tensor-parallel, sequence-parallel and recomputation
//! variants come out as the paper's formulas exactly (the tests show it).
//!
//! Eager PyTorch (one kernel per operator, [`crate::training::eager`]) keeps more,
//! counted from transformers' `LlamaDecoderLayer` and autograd's saved tensors:
//!
//! | row                         | fused        | eager, 16-bit parameters | eager, autocast (fp32 parameters) |
//! |-----------------------------|--------------|--------------------------|-----------------------------------|
//! | each RMSNorm                | input `2·h`  | fp32 input and normalised tensor, `(4 + 2)·h` | `(4 + 4)·h`  |
//! | each LayerNorm              | input `2·h`  | input `2·h`              | input `4·h`                       |
//! | normed input of products    | `2·h`        | the norm's output `2·h`  | a 16-bit cast per product, `2·h` each |
//! | attention output (flash)    | `2·a·d`      | SDPA's output and its contiguous copy, `4·a·d` | the same |
//! | gated MLP                   | `6·f`        | silu's output too, `8·f` | `8·f`                             |
//! | block input (full recomputation) | `2·h`   | `2·h`                    | `4·h` (the fp32 residual stream)  |
//!
//! Llama 3.2 1B comes to 37·h fused, 55·h eager with 16-bit parameters and 65·h
//! under autocast per token and layer; the slope of the peaks of sizeup's own
//! H200 runs against the micro-batch (bench/gpu/h200-train-2026-11-28.json,
//! without checkpointing; a fit over the runs, not a field of the file) is 63·h.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Block};
use crate::error::{CoreError, Result};
use crate::ops::{self, BlockOps, OpList, Stage};
use crate::params::TpSplit;
use crate::training::eager::{self, Residual};
use crate::training::parallel::Layout;
use crate::training::TrainRequest;
use crate::units::{product, sum};

const Q: &str = "activation bytes";

/// Which activations are recomputed in the backward pass instead of stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Recompute {
    /// Store everything.
    None,
    /// Recompute the attention core (`QKᵀ`, softmax, dropout, `·V`), Korthikanti §5.
    Selective,
    /// Store only each block's input and recompute the whole block.
    Full,
    /// Operator-level selective checkpointing as torchtitan runs it
    /// (`selective_ac_option = "op"`): store each block's input, the outputs of
    /// every other weight product in forward order (the 1st, 3rd, …) and the
    /// attention kernel's output; recompute the other products and every
    /// element-wise pass in the backward.
    OpSelective,
}

impl Recompute {
    /// Every mode, in help order.
    pub const ALL: [Recompute; 4] = [
        Recompute::None,
        Recompute::Selective,
        Recompute::Full,
        Recompute::OpSelective,
    ];

    /// The modes `plan train` searches unless asked for others: Megatron's three
    /// (operator-level selective checkpointing is a torchtitan policy, asked for by name).
    pub const SEARCHED: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Recompute::None => "none",
            Recompute::Selective => "selective",
            Recompute::Full => "full",
            Recompute::OpSelective => "op-selective",
        }
    }

    /// Whether a block recomputes its `index`-th weight product (forward order,
    /// from 0) in the backward: all under full recomputation, every other one (the
    /// 2nd, 4th, …) under operator-level selective checkpointing, none otherwise.
    ///
    /// # Source
    /// torchtitan `apply_ac` (2024-12), op policy: "saves output of all compute ops,
    /// except every second mm"; the mm count restarts in each block. Each of the
    /// block's weight products is counted as one `mm`, as a model with one linear
    /// layer per weight runs it.
    pub fn recomputes_product(self, index: usize) -> bool {
        match self {
            Recompute::Full => true,
            Recompute::OpSelective => index % 2 == 1,
            Recompute::None | Recompute::Selective => false,
        }
    }
}

impl std::str::FromStr for Recompute {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase();
        crate::named::find_by_name(
            &Recompute::ALL,
            Recompute::name,
            "recomputation mode",
            s,
            &norm,
        )
    }
}

/// What one block's stored activations depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationConfig {
    /// Sequence length `s` (the whole sequence, before context parallelism).
    pub seq_len: u64,
    /// Micro-batch `b` in sequences.
    pub micro_batch: u64,
    /// Tensor-parallel size `t`.
    pub tp: u64,
    /// Context-parallel size: each rank keeps `s/cp` of the tokens.
    pub cp: u64,
    /// Sequence parallelism: the tensors outside the tensor-parallel region split over `t` too.
    pub sequence_parallel: bool,
    /// Recomputation mode.
    pub recompute: Recompute,
    /// Flash attention: no `s×s` score tensors, a log-sum-exp per row instead.
    pub flash_attention: bool,
    /// Dropout on attention probabilities and residuals (1-byte masks).
    pub dropout: bool,
    /// Bytes of one stored element and of one logit as the output layer writes it:
    /// 2 (16-bit), 4 where the run keeps them in fp32
    /// ([`Method::stored_element_bytes`](crate::training::lora::Method::stored_element_bytes)).
    pub element_bytes: u64,
    /// Eager PyTorch operators and how they hold the parameters, or `None` for
    /// fused kernels: eager norms, casts and copies keep more (module docs).
    #[serde(default)]
    pub eager: Option<Residual>,
}

impl ActivationConfig {
    /// The configuration `req` implies on `layout` at micro-batch `micro_batch`,
    /// with eager kernels holding the parameters as `eager` says.
    pub fn new(
        layout: &Layout,
        req: &TrainRequest,
        micro_batch: u64,
        eager: Option<Residual>,
    ) -> Self {
        ActivationConfig {
            seq_len: req.seq_len,
            micro_batch,
            tp: layout.tp,
            cp: layout.cp,
            sequence_parallel: layout.sp_active(),
            recompute: req.recompute,
            flash_attention: req.flash_attention,
            dropout: req.dropout,
            element_bytes: req.method.stored_element_bytes(),
            eager,
        }
    }

    /// Bytes per element of a block's stored input: the residual stream's width
    /// (fp32 under autocast), else the stored element.
    fn input_bytes(&self) -> u64 {
        match self.eager {
            Some(r) => r.bytes(),
            None => self.element_bytes,
        }
    }
}

/// A running total of stored tensors, split over `t` as each tensor allows.
struct Tally<'a> {
    cfg: &'a ActivationConfig,
    bytes: u64,
}

impl Tally<'_> {
    /// A tensor inside the tensor-parallel region: always split over `t`.
    fn split(&mut self, factors: &[u64]) -> Result<()> {
        let b = product(Q, factors)?.div_ceil(self.cfg.tp);
        self.bytes = sum(Q, &[self.bytes, b])?;
        Ok(())
    }

    /// A tensor outside it: replicated over `t` unless sequence parallelism splits it.
    fn replicated(&mut self, factors: &[u64]) -> Result<()> {
        let b = product(Q, factors)?;
        let b = if self.cfg.sequence_parallel {
            b.div_ceil(self.cfg.tp)
        } else {
            b
        };
        self.bytes = sum(Q, &[self.bytes, b])?;
        Ok(())
    }
}

/// Bytes one block stores for its backward pass, on one GPU.
///
/// # Formula
/// ```text
/// none / selective: the table in the module docs, with n = s/cp tokens of b sequences;
///                   selective (or flash attention) drops the s×s score tensors
/// full:             2·n·b·h (the block input), ÷ t with sequence parallelism
/// GPT block:        s·b·h·(34 + 5·a·s/h)                 no parallelism
///                   s·b·h·(10 + 24/t + 5·a·s/(h·t))      tensor parallel
///                   s·b·h/t·(34 + 5·a·s/h)                tensor + sequence parallel
///                   s·b·h·(10 + 24/t)                     tensor parallel, selective
///                   34·s·b·h/t                            tensor + sequence parallel, selective
///                   2·s·b·h                               full recomputation
/// ```
///
/// # Symbols
/// `s` sequence, `b` micro-batch, `h` hidden, `a` heads, `k` KV heads, `d` head dim,
/// `f` FFN width, `t` tensor parallel, `E`/`e` experts and experts per token.
///
/// # Source
/// Korthikanti et al. 2022 (arXiv:2205.05198) §4.1–4.2, Table 2; flash attention's
/// saved log-sum-exp: Dao 2023 (FlashAttention-2) Algorithm 1.
///
/// # Assumptions / limits
/// `block` is the layer kind: in an MoE block a routed token's copy (`2·h`) and its
/// expert's MLP tensors are stored `e` times per token (tokens spread evenly over
/// expert-parallel ranks); the router's fp32 probabilities add `4·E` per token.
/// MLA stores its compressed latents (`r_q + r_kv + d_r` per token) besides Q, K, V.
/// A recurrent mixer stores its input and the outputs of its projections (the chunked
/// scan recomputes its per-chunk states in the backward, as the fla kernels do).
pub fn layer_bytes(arch: &Architecture, block: &Block, cfg: &ActivationConfig) -> Result<u64> {
    layer_bytes_of(arch, block, &ops::block_ops(arch, block)?, cfg)
}

/// [`layer_bytes`] folded over the block's operations ([`ops::block_ops`]).
///
/// # Errors
/// As [`layer_bytes`].
pub fn layer_bytes_of(
    arch: &Architecture,
    block: &Block,
    ops: &BlockOps,
    cfg: &ActivationConfig,
) -> Result<u64> {
    if cfg.cp == 0 || cfg.tp == 0 {
        return Err(CoreError::Zero { field: "tp" });
    }
    let h = arch.hidden_size;
    let b = cfg.micro_batch;
    let n = cfg.seq_len / cfg.cp;
    let tokens = product(Q, &[n, b])?;
    let w = cfg.element_bytes;
    let mut t = Tally { cfg, bytes: 0 };

    if cfg.recompute == Recompute::Full {
        t.replicated(&[cfg.input_bytes(), tokens, h])?;
        return Ok(t.bytes);
    }
    if cfg.recompute == Recompute::OpSelective {
        return op_selective_bytes(t, ops, tokens, h);
    }

    let norm_bytes = match cfg.eager {
        Some(r) => eager::norm_stored_bytes(arch.norm.kind, r),
        None => w,
    };
    t.replicated(&[norm_bytes, block.norms, tokens, h])?;
    // QKV input (with a parallel block the MLP reads the same normalised tensor)
    let readers: &[Stage] = if block.parallel {
        &[Stage::MixerIn, Stage::FfnUp, Stage::Router]
    } else {
        &[Stage::MixerIn]
    };
    t.replicated(&[normed_input_bytes(arch, ops, cfg, readers)?, tokens])?;
    let Some(att) = ops.attention() else {
        // a recurrent mixer: the outputs of its projections
        let outputs = ops
            .matmuls()
            .filter(|m| Stage::of(m.role) == Some(Stage::MixerIn))
            .try_fold(0u64, |acc, m| sum(Q, &[acc, m.n]))?;
        t.split(&[w, tokens, outputs])?;
        return ffn_part(arch, t, block, ops, tokens);
    };
    if att.latents > 0 {
        // MLA's compressed latents
        t.replicated(&[w, tokens, att.latents])?;
    }
    let [q_width, k_width, v_width, out_width] = att.qkv_out_widths;
    let heads = att.heads;
    t.split(&[w, tokens, sum(Q, &[q_width, k_width, v_width])?])?;
    if cfg.flash_attention {
        t.split(&[4, b, heads, n])?;
    } else if cfg.recompute == Recompute::None {
        let scores = product(Q, &[b, heads, n, cfg.seq_len])?;
        t.split(&[w, scores])?;
        if cfg.dropout {
            t.split(&[3, scores])?;
        }
    }
    t.split(&[w, tokens, out_width])?;
    if cfg.eager.is_some() && cfg.flash_attention {
        t.split(&[eager::ATTENTION_OUTPUT_COPY_STORED_BYTES, tokens, out_width])?;
    }
    if cfg.dropout {
        t.replicated(&[2, tokens, h])?;
    }
    ffn_part(arch, t, block, ops, tokens)
}

/// Bytes per token stored for the normed input the products of `readers` read:
/// the norm's output (`w·h`) with fused kernels, else as
/// [`eager::normed_input_stored_bytes`].
fn normed_input_bytes(
    arch: &Architecture,
    ops: &BlockOps,
    cfg: &ActivationConfig,
    readers: &[Stage],
) -> Result<u64> {
    match cfg.eager {
        Some(r) => eager::normed_input_stored_bytes(arch, ops, r, readers),
        None => product(Q, &[cfg.element_bytes, arch.hidden_size]),
    }
}

/// A layer's stored activations under operator-level selective checkpointing: the
/// block's input, the output of every product it keeps (a row-split product's
/// output split over `t`, a column-split one's whole until its reduction), the
/// attention kernel's output and its fp32 log-sum-exp.
///
/// For Llama-3.1-8B (`h` 4096, 8 KV heads, `f` 14336) the kept products are q, v,
/// gate and down: `2·(h + h + 1024 + f + h) + 2·h` bytes per token, 63,488, plus
/// 128 bytes of log-sum-exp.
fn op_selective_bytes(mut t: Tally, ops: &BlockOps, tokens: u64, h: u64) -> Result<u64> {
    let w = t.cfg.element_bytes;
    t.replicated(&[t.cfg.input_bytes(), tokens, h])?;
    let kept = ops
        .matmuls()
        .enumerate()
        .filter(|(i, _)| !Recompute::OpSelective.recomputes_product(*i));
    for (_, m) in kept {
        let factors = [w, tokens, m.n, m.active];
        if m.tp == TpSplit::Rows {
            t.split(&factors)?;
        } else {
            t.replicated(&factors)?;
        }
    }
    if let Some(att) = ops.attention() {
        t.split(&[w, tokens, att.qkv_out_widths[3]])?;
        t.split(&[4, tokens, att.heads])?;
    }
    Ok(t.bytes)
}

/// The FFN's share of a layer's stored activations, added to `t`: the MLP input, a
/// routed token's copy per expert, each MLP activation's input and output, the
/// router's fp32 probabilities.
fn ffn_part(
    arch: &Architecture,
    mut t: Tally,
    block: &Block,
    ops: &BlockOps,
    tokens: u64,
) -> Result<u64> {
    let h = arch.hidden_size;
    let w = t.cfg.element_bytes;
    if !block.parallel {
        // a routed expert's input is its token's copy, counted below
        let normed = normed_input_bytes(arch, ops, t.cfg, &[Stage::FfnUp, Stage::Router])?;
        t.replicated(&[normed, tokens])?;
    }
    if let Some(routed) = ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Experts))
    {
        t.split(&[w, tokens, routed.active, h])?;
    }
    for e in ops.elementwise().filter(|e| e.activation) {
        // plain: activation in and out (4·f); gated: gate and up out, product (6·f),
        // in 16 bits; w/2 times that in w-byte elements
        let mut bytes = product(Q, &[e.bytes_per_token, w])? / 2;
        if t.cfg.eager.is_some() && e.gated {
            bytes = sum(
                Q,
                &[
                    bytes,
                    product(Q, &[eager::GATED_ACTIVATION_EXTRA_STORED_BYTES, e.width])?,
                ],
            )?;
        }
        t.split(&[bytes, tokens, e.active])?;
    }
    if let Some(router) = ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Router))
    {
        t.replicated(&[4, tokens, router.n])?;
    }
    Ok(t.bytes)
}

/// Activations kept by the first pipeline stage, which holds the most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageActivations {
    /// Bytes one layer stores for one micro-batch (the largest layer kind on the stage).
    pub per_layer_bytes: u64,
    /// Layer-micro-batches whose activations are alive at the peak.
    pub layers_in_flight: u64,
    /// `per_layer_bytes · layers_in_flight`.
    pub stored_bytes: u64,
    /// One layer's activations rebuilt during its backward: all of them under full
    /// recomputation, what was dropped under operator-level checkpointing.
    pub recompute_working_bytes: u64,
    /// Stored plus working bytes.
    pub total_bytes: u64,
}

/// Activation memory of the first pipeline stage.
///
/// # Formula
/// ```text
/// p = 1:          L layers
/// 1F1B (v = 1):   ⌈L/p⌉ layers × min(p, m) micro-batches in flight
/// interleaved:    L · (1 + (p − 1)/(p·v)) layers
/// working:        full: one layer without recomputation; op-selective: that
///                 minus what the layer keeps; none, selective: 0
/// ```
///
/// # Source
/// Korthikanti et al. 2022 §4.2.3 (the first stage of 1F1B keeps `p` micro-batches;
/// the interleaved schedule's extra `(p−1)/(p·v)` fraction); Narayanan et al. 2021 §2.2.
pub fn first_stage(
    arch: &Architecture,
    layout: &Layout,
    cfg: &ActivationConfig,
) -> Result<StageActivations> {
    first_stage_of(arch, &ops::list(arch)?, layout, cfg)
}

/// [`first_stage`] over `arch`'s operator list.
///
/// # Errors
/// As [`first_stage`].
pub fn first_stage_of(
    arch: &Architecture,
    list: &OpList,
    layout: &Layout,
    cfg: &ActivationConfig,
) -> Result<StageActivations> {
    let layers = layout.first_stage_layers(arch);
    first_stage_with(arch, layout, cfg, |cfg| {
        largest_layer_bytes(arch, list, layers, cfg)
    })
}

/// The largest [`layer_bytes_of`] among the block kinds of the first `layers`
/// layers: the per-layer figure of the first stage.
///
/// # Errors
/// As [`layer_bytes`].
pub fn largest_layer_bytes(
    arch: &Architecture,
    list: &OpList,
    layers: u64,
    cfg: &ActivationConfig,
) -> Result<u64> {
    arch.layers
        .counted_in(0, layers)
        .into_iter()
        .filter_map(|(b, _)| Some((&arch.layers.blocks[b], list.block(b)?)))
        .try_fold(0u64, |acc, (block, ops)| {
            Ok(acc.max(layer_bytes_of(arch, block, ops, cfg)?))
        })
}

/// [`first_stage_of`] with the per-layer figure given by `largest`
/// ([`largest_layer_bytes`] of the first stage's layers, or a store of its values).
///
/// # Errors
/// As [`first_stage`].
pub fn first_stage_with(
    arch: &Architecture,
    layout: &Layout,
    cfg: &ActivationConfig,
    mut largest: impl FnMut(&ActivationConfig) -> Result<u64>,
) -> Result<StageActivations> {
    let layers = layout.first_stage_layers(arch);
    let per_layer = largest(cfg)?;
    let (p, v) = (layout.pp, layout.vpp);
    let layers_in_flight = if p == 1 {
        arch.num_layers()
    } else if v == 1 {
        product(Q, &[layers, p.min(layout.micro_batches)])?
    } else {
        // L·(1 + (p−1)/(p·v)) = L·(p·v + p − 1)/(p·v), rounded up (p ≥ 2 here)
        let pv = product(Q, &[p, v])?;
        product(Q, &[arch.num_layers(), sum(Q, &[pv, p - 1])?])?.div_ceil(pv)
    };
    let stored = product(Q, &[per_layer, layers_in_flight])?;
    let whole_layer = |largest: &mut dyn FnMut(&ActivationConfig) -> Result<u64>| {
        largest(&ActivationConfig {
            recompute: Recompute::None,
            ..*cfg
        })
    };
    let working = match cfg.recompute {
        // the layer being recomputed holds all its activations again
        Recompute::Full => whole_layer(&mut largest)?,
        // it holds again what operator-level checkpointing dropped
        Recompute::OpSelective => whole_layer(&mut largest)?.saturating_sub(per_layer),
        Recompute::None | Recompute::Selective => 0,
    };
    Ok(StageActivations {
        per_layer_bytes: per_layer,
        layers_in_flight,
        stored_bytes: stored,
        recompute_working_bytes: working,
        total_bytes: sum(Q, &[stored, working])?,
    })
}

#[cfg(test)]
impl ActivationConfig {
    /// Flash attention, 16-bit tensors, fused kernels, nothing recomputed or dropped.
    pub(crate) fn flash(seq_len: u64, micro_batch: u64, tp: u64) -> ActivationConfig {
        ActivationConfig {
            seq_len,
            micro_batch,
            tp,
            cp: 1,
            sequence_parallel: false,
            recompute: Recompute::None,
            flash_attention: true,
            dropout: false,
            element_bytes: 2,
            eager: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    // GPT-3 175B (Brown et al. 2020 Table 2.1; Korthikanti et al. 2022 Table 2 uses it):
    // a = 96, h = 12288, s = 2048; micro-batch 1, t = 8.
    const S: u64 = 2048;
    const H: u64 = 12288;
    const A: u64 = 96;
    const B: u64 = 1;
    const T: u64 = 8;

    fn gpt3() -> Architecture {
        Shape::gpt(96, H, A, 51200).build().unwrap()
    }

    fn cfg(tp: u64, sequence_parallel: bool, recompute: Recompute) -> ActivationConfig {
        ActivationConfig {
            seq_len: S,
            micro_batch: B,
            tp,
            cp: 1,
            sequence_parallel,
            recompute,
            flash_attention: false,
            dropout: true,
            element_bytes: 2,
            eager: None,
        }
    }

    fn bytes(c: ActivationConfig) -> u64 {
        {
            let a = gpt3();
            layer_bytes(&a, &a.layers.blocks[0], &c)
        }
        .unwrap()
    }

    #[test]
    fn gpt_block_matches_korthikanti_exactly() {
        let sbh = S * B * H;
        // s·b·h·(34 + 5·a·s/h)
        assert_eq!(
            bytes(cfg(1, false, Recompute::None)),
            34 * sbh + 5 * A * S * S * B
        );
        // s·b·h·(10 + 24/t + 5·a·s/(h·t))
        assert_eq!(
            bytes(cfg(T, false, Recompute::None)),
            10 * sbh + 24 * sbh / T + 5 * A * S * S * B / T
        );
        // s·b·h/t·(34 + 5·a·s/h)
        assert_eq!(
            bytes(cfg(T, true, Recompute::None)),
            (34 * sbh + 5 * A * S * S * B) / T
        );
        // s·b·h·(10 + 24/t)
        assert_eq!(
            bytes(cfg(T, false, Recompute::Selective)),
            10 * sbh + 24 * sbh / T
        );
        // 34·s·b·h/t
        assert_eq!(bytes(cfg(T, true, Recompute::Selective)), 34 * sbh / T);
        // 2·s·b·h
        assert_eq!(bytes(cfg(1, false, Recompute::Full)), 2 * sbh);
        assert_eq!(bytes(cfg(T, false, Recompute::Full)), 2 * sbh);
    }

    #[test]
    fn selective_saves_what_table_2_says() {
        // Korthikanti §5: for GPT-3 5as/h = 80, selective recomputation saves 70%
        // of the activation memory; for MT-NLG (a = 128, h = 20480) 5as/h = 64, 65%.
        let full = bytes(cfg(T, true, Recompute::None)) as f64;
        let sel = bytes(cfg(T, true, Recompute::Selective)) as f64;
        assert_eq!(5 * A * S / H, 80);
        assert!(((1.0 - sel / full) - 0.70).abs() < 0.005);
    }

    #[test]
    fn flash_attention_keeps_only_the_log_sum_exp() {
        let mut c = cfg(T, true, Recompute::None);
        c.flash_attention = true;
        // 34·s·b·h/t plus an fp32 log-sum-exp per head and row
        assert_eq!(bytes(c), 34 * S * B * H / T + 4 * B * A * S / T);
    }

    #[test]
    fn gated_mlp_and_gqa_are_derived_not_34() {
        // Llama-2-7B (f = 11008, MHA) and Llama-3.1-8B (f = 14336, k = 8), no dropout,
        // flash attention, one GPU: 2 norms + QKV input + MLP input = 8·s·b·h,
        // Q,K,V 2·s·b·(a+2k)·d, output-projection input 2·s·b·h, gated MLP 6·s·b·f
        let c = ActivationConfig::flash(4096, 1, 1);
        let sb = 4096;
        let lse = 4 * 32 * 4096;
        let l2 = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        assert_eq!(
            layer_bytes(&l2, &l2.layers.blocks[0], &c).unwrap(),
            sb * (8 * 4096 + 2 * 3 * 4096 + 2 * 4096 + 6 * 11008) + lse
        );
        let l3 = crate::testing::llama31_8b();
        assert_eq!(
            layer_bytes(&l3, &l3.layers.blocks[0], &c).unwrap(),
            sb * (8 * 4096 + 2 * (4096 + 2 * 1024) + 2 * 4096 + 6 * 14336) + lse
        );
    }

    #[test]
    fn pipeline_first_stage_keeps_p_micro_batches() {
        use crate::training::parallel::{LayoutRequest, Workload};
        let arch = gpt3();
        let w = Workload {
            gpus: 64,
            seq_len: S,
            global_batch: 64,
            micro_batch: 1,
        };
        let layout = |vpp| {
            Layout::resolve(
                &LayoutRequest {
                    tp: 8,
                    pp: 8,
                    vpp,
                    sequence_parallel: true,
                    ..LayoutRequest::default()
                },
                &arch,
                &w,
            )
            .unwrap()
        };
        let c = cfg(T, true, Recompute::Selective);
        // 1F1B: 12 layers × 8 micro-batches = all 96 layers' worth
        let one = first_stage(&arch, &layout(1), &c).unwrap();
        assert_eq!(one.layers_in_flight, 96);
        // interleaved with v = 2: 96 · (1 + 7/16) = 138
        let two = first_stage(&arch, &layout(2), &c).unwrap();
        assert_eq!(two.layers_in_flight, 138);
        assert_eq!(two.stored_bytes, 138 * 34 * S * B * H / T);
    }

    fn llama31_8b_at(seq_len: u64, micro_batch: u64, tp: u64) -> (Architecture, ActivationConfig) {
        // Llama-3.1-8B config.json: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
        let arch = crate::testing::llama31_8b();
        (arch, ActivationConfig::flash(seq_len, micro_batch, tp))
    }

    /// Eager Llama blocks, counted by hand from transformers' `LlamaDecoderLayer`
    /// on Llama 3.2 1B (h 2048, 32 heads and 8 KV heads of 64, f 8192), per token:
    /// - autocast over fp32 parameters: two RMSNorms keeping their fp32 input and
    ///   normalised tensor (8·h each), five 16-bit casts of the normed input (q, k,
    ///   v, gate, up: 2·h each), q, k, v (2·h + 2·512·2), SDPA's output and its
    ///   contiguous copy (2·h each), SwiGLU's gate, silu, up and product (8·f):
    ///   65·h = 133,120 bytes;
    /// - 16-bit parameters: the norms keep their fp32 upcast, normalised tensor and
    ///   16-bit output (8·h each), no casts: 55·h = 112,640 bytes;
    /// - fused kernels, for comparison: 37·h = 75,776 bytes.
    #[test]
    fn eager_llama_blocks_counted_by_hand() {
        let arch = crate::testing::llama32_1b();
        let cfg = |eager| ActivationConfig {
            eager,
            ..ActivationConfig::flash(2048, 1, 1)
        };
        let per_token = |eager| {
            let lse = 4 * 32; // flash attention's fp32 log-sum-exp per head
            layer_bytes(&arch, &arch.layers.blocks[0], &cfg(eager)).unwrap() / 2048 - lse
        };
        assert_eq!(per_token(Some(Residual::Autocast)), 65 * 2048);
        assert_eq!(per_token(Some(Residual::Bits16)), 55 * 2048);
        assert_eq!(per_token(None), 37 * 2048);
        // full recomputation keeps the block input at the residual stream's width
        let full = |eager| {
            let mut c = cfg(eager);
            c.recompute = Recompute::Full;
            layer_bytes(&arch, &arch.layers.blocks[0], &c).unwrap() / 2048
        };
        assert_eq!(full(Some(Residual::Autocast)), 4 * 2048);
        assert_eq!(full(Some(Residual::Bits16)), 2 * 2048);
    }

    /// torchtitan's op policy on Llama-3.1-8B keeps the block input, q, v, gate and
    /// down (the 1st, 3rd, 5th and 7th products), the attention output and its fp32
    /// log-sum-exp: (4096 + 4096 + 1024 + 14336 + 4096 + 4096)·2 + 32·4 bytes per token.
    #[test]
    fn op_selective_keeps_every_other_product_of_llama31_8b() {
        let (arch, mut cfg) = llama31_8b_at(8192, 2, 1);
        cfg.recompute = Recompute::OpSelective;
        let per_token = 31_744 * 2 + 128;
        assert_eq!(
            layer_bytes(&arch, &arch.layers.blocks[0], &cfg).unwrap(),
            per_token * 8192 * 2
        );
        // tp 2: the row-split products and the attention output halve, the input and
        // the column-split down projection's output do not
        cfg.tp = 2;
        let split = (4096 + 1024 + 14336 + 4096) * 2 + 128;
        let whole = (4096 + 4096) * 2;
        assert_eq!(
            layer_bytes(&arch, &arch.layers.blocks[0], &cfg).unwrap(),
            (split / 2 + whole) * 8192 * 2
        );
        assert_eq!(
            "op-selective".parse::<Recompute>().unwrap(),
            Recompute::OpSelective
        );
    }

    /// The layer recomputed under operator-level checkpointing holds again, during
    /// its backward, what the policy dropped: the whole layer minus the bytes kept
    /// (31,744·2 + 128 per token, counted above).
    #[test]
    fn op_selective_rebuilds_what_it_dropped_for_one_layer() {
        let (arch, mut cfg) = llama31_8b_at(8192, 2, 1);
        let layout = Layout::resolve(
            &crate::training::parallel::LayoutRequest::default(),
            &arch,
            &crate::training::parallel::Workload {
                gpus: 1,
                seq_len: 8192,
                global_batch: 2,
                micro_batch: 2,
            },
        )
        .unwrap();
        let whole = layer_bytes(&arch, &arch.layers.blocks[0], &cfg).unwrap();
        cfg.recompute = Recompute::OpSelective;
        let kept = (31_744 * 2 + 128) * 8192 * 2;
        let stage = first_stage(&arch, &layout, &cfg).unwrap();
        assert_eq!(stage.per_layer_bytes, kept);
        assert_eq!(stage.recompute_working_bytes, whole - kept);
    }

    #[test]
    fn fp32_elements_double_every_16_bit_tensor_and_nothing_else() {
        // Llama-3.1-8B, 4096 tokens, flash attention: every stored tensor is 16-bit
        // but the fp32 log-sum-exp (4·a·s bytes), so fp32 elements add the 16-bit
        // total less that once more; under full recomputation, the block input only.
        let (arch, narrow) = llama31_8b_at(4096, 1, 1);
        let block = &arch.layers.blocks[0];
        let lse = 4 * 32 * 4096;
        for recompute in [Recompute::None, Recompute::Full] {
            let narrow = ActivationConfig {
                recompute,
                ..narrow
            };
            let wide = ActivationConfig {
                element_bytes: 4,
                ..narrow
            };
            let (n, w) = (
                layer_bytes(&arch, block, &narrow).unwrap(),
                layer_bytes(&arch, block, &wide).unwrap(),
            );
            match recompute {
                Recompute::Full => assert_eq!((n, w), (2 * 4096 * 4096, 4 * 4096 * 4096)),
                _ => assert_eq!(w, 2 * n - lse),
            }
        }
    }
}
