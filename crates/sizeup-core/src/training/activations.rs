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

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Block};
use crate::error::{CoreError, Result};
use crate::ops::{self, BlockOps, OpList, Stage};
use crate::training::parallel::Layout;
use crate::units::{product, sum};

const Q: &str = "activation bytes";

/// Which activations are recomputed in the backward pass instead of stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recompute {
    /// Store everything.
    None,
    /// Recompute the attention core (`QKᵀ`, softmax, dropout, `·V`), Korthikanti §5.
    Selective,
    /// Store only each block's input and recompute the whole block.
    Full,
}

impl Recompute {
    /// Every mode, in help order.
    pub const ALL: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Recompute::None => "none",
            Recompute::Selective => "selective",
            Recompute::Full => "full",
        }
    }
}

impl std::str::FromStr for Recompute {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase();
        Recompute::ALL
            .into_iter()
            .find(|r| r.name() == norm)
            .ok_or_else(|| CoreError::Unknown {
                what: "recomputation mode",
                name: s.to_string(),
                suggestions: Recompute::ALL
                    .iter()
                    .map(|r| r.name().to_string())
                    .collect(),
            })
    }
}

/// What one block's stored activations depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

impl ActivationConfig {
    /// The configuration a layout and a micro-batch imply.
    pub fn new(
        layout: &Layout,
        seq_len: u64,
        micro_batch: u64,
        recompute: Recompute,
        flash_attention: bool,
        dropout: bool,
    ) -> Self {
        ActivationConfig {
            seq_len,
            micro_batch,
            tp: layout.tp,
            cp: layout.cp,
            sequence_parallel: layout.sp_active(),
            recompute,
            flash_attention,
            dropout,
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
    let mut t = Tally { cfg, bytes: 0 };

    if cfg.recompute == Recompute::Full {
        t.replicated(&[2, tokens, h])?;
        return Ok(t.bytes);
    }

    t.replicated(&[2, block.norms, tokens, h])?;
    // QKV input (with a parallel block the MLP reads the same normalised tensor)
    t.replicated(&[2, tokens, h])?;
    let Some(att) = ops.attention() else {
        // a recurrent mixer: the outputs of its projections
        let outputs = ops
            .matmuls()
            .filter(|m| Stage::of(m.role) == Some(Stage::MixerIn))
            .try_fold(0u64, |acc, m| sum(Q, &[acc, m.n]))?;
        t.split(&[2, tokens, outputs])?;
        return ffn_part(t, block, ops, tokens, h);
    };
    if att.latents > 0 {
        // MLA's compressed latents
        t.replicated(&[2, tokens, att.latents])?;
    }
    let [q_width, k_width, v_width, out_width] = att.qkv_out_widths;
    let heads = att.heads;
    t.split(&[2, tokens, sum(Q, &[q_width, k_width, v_width])?])?;
    if cfg.flash_attention {
        t.split(&[4, b, heads, n])?;
    } else if cfg.recompute == Recompute::None {
        let scores = product(Q, &[b, heads, n, cfg.seq_len])?;
        t.split(&[2, scores])?;
        if cfg.dropout {
            t.split(&[3, scores])?;
        }
    }
    t.split(&[2, tokens, out_width])?;
    if cfg.dropout {
        t.replicated(&[2, tokens, h])?;
    }
    ffn_part(t, block, ops, tokens, h)
}

/// The FFN's share of a layer's stored activations, added to `t`: the MLP input, a
/// routed token's copy per expert, each MLP activation's input and output, the
/// router's fp32 probabilities.
fn ffn_part(mut t: Tally, block: &Block, ops: &BlockOps, tokens: u64, h: u64) -> Result<u64> {
    if !block.parallel {
        t.replicated(&[2, tokens, h])?;
    }
    if let Some(routed) = ops
        .matmuls()
        .find(|m| Stage::of(m.role) == Some(Stage::Experts))
    {
        t.split(&[2, tokens, routed.active, h])?;
    }
    for e in ops.elementwise().filter(|e| e.activation) {
        // plain: activation in and out (4·f); gated: gate and up out, product (6·f)
        t.split(&[e.bytes_per_token, tokens, e.active])?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageActivations {
    /// Bytes one layer stores for one micro-batch (the largest layer kind on the stage).
    pub per_layer_bytes: u64,
    /// Layer-micro-batches whose activations are alive at the peak.
    pub layers_in_flight: u64,
    /// `per_layer_bytes · layers_in_flight`.
    pub stored_bytes: u64,
    /// With full recomputation, one layer's activations rebuilt during its backward.
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
    // the largest layer kind on the first stage sets the per-layer figure
    let largest = |cfg: &ActivationConfig| -> Result<u64> {
        arch.layers
            .counted_in(0, layers)
            .into_iter()
            .filter_map(|(b, _)| Some((&arch.layers.blocks[b], list.block(b)?)))
            .try_fold(0u64, |acc, (block, ops)| {
                Ok(acc.max(layer_bytes_of(arch, block, ops, cfg)?))
            })
    };
    let per_layer = largest(cfg)?;
    let (p, v) = (layout.pp, layout.vpp);
    let layers_in_flight = if p == 1 {
        arch.num_layers()
    } else if v == 1 {
        product(Q, &[layers, p.min(layout.micro_batches)])?
    } else {
        // L·(1 + (p−1)/(p·v)) = L·(p·v + p − 1)/(p·v), rounded up
        product(Q, &[arch.num_layers(), p * v + p - 1])?.div_ceil(p * v)
    };
    let stored = product(Q, &[per_layer, layers_in_flight])?;
    let working = if cfg.recompute == Recompute::Full {
        let full = ActivationConfig {
            recompute: Recompute::None,
            ..*cfg
        };
        largest(&full)?
    } else {
        0
    };
    Ok(StageActivations {
        per_layer_bytes: per_layer,
        layers_in_flight,
        stored_bytes: stored,
        recompute_working_bytes: working,
        total_bytes: sum(Q, &[stored, working])?,
    })
}

/// Bytes per logit held while the loss is computed: the 16-bit logits and their
/// fp32 copy for a numerically safe softmax cross-entropy.
///
/// # Source
/// Korthikanti et al. 2022 §4.1 ("the cross entropy loss requires storing the
/// logits, which are calculated in 32-bit floating point": `4·s·b·v`), plus the
/// 16-bit logits the output GEMM writes before the cast.
pub const LOGIT_BYTES: u64 = 6;

/// Logits and loss buffers of the last stage for one micro-batch.
///
/// # Formula
/// ```text
/// bytes = (s/cp) · b · ⌈V/t⌉ · 6
/// ```
pub fn logits_bytes(arch: &Architecture, cfg: &ActivationConfig) -> Result<u64> {
    product(
        Q,
        &[
            cfg.seq_len / cfg.cp.max(1),
            cfg.micro_batch,
            arch.vocab_size.div_ceil(cfg.tp.max(1)),
            LOGIT_BYTES,
        ],
    )
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
        let c = ActivationConfig {
            seq_len: 4096,
            micro_batch: 1,
            tp: 1,
            cp: 1,
            sequence_parallel: false,
            recompute: Recompute::None,
            flash_attention: true,
            dropout: false,
        };
        let sb = 4096;
        let lse = 4 * 32 * 4096;
        let l2 = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        assert_eq!(
            layer_bytes(&l2, &l2.layers.blocks[0], &c).unwrap(),
            sb * (8 * 4096 + 2 * 3 * 4096 + 2 * 4096 + 6 * 11008) + lse
        );
        let l3 = Shape::llama(32, 4096, 32, 8, 14336, 128256)
            .build()
            .unwrap();
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
}
