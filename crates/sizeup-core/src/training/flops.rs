//! Training FLOPs: model FLOPs (what the model needs), hardware FLOPs (what the
//! GPUs execute, recomputation included), and the compute-optimal token count.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::error::Result;
use crate::ops;
use crate::params;
use crate::training::activations::Recompute;

/// Tokens per parameter at the compute-optimal point.
///
/// # Source
/// Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models"
/// (arXiv:2203.15556), Table 3: 70B params ↔ 1.4T tokens and 10B ↔ 205.1B
/// (≈ 20 tokens per parameter across their Approach 1 projections).
pub const CHINCHILLA_TOKENS_PER_PARAM: f64 = 20.0;

/// The compute-optimal number of training tokens for `n` parameters: `20·N`.
///
/// # Source
/// Hoffmann et al. 2022, Table 3 (see [`CHINCHILLA_TOKENS_PER_PARAM`]).
pub fn compute_optimal_tokens(n: u64) -> f64 {
    CHINCHILLA_TOKENS_PER_PARAM * n as f64
}

/// FLOPs per token of one training step, split by where they come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FlopsPerToken {
    /// `6·N`: forward and backward of every parameter, `N` = active parameters
    /// (MoE: routed experts a token does not use are left out).
    pub params_6n: f64,
    /// `12·L·a·d_qk·s`: `QKᵀ` and `·V` forward and backward, non-causal.
    pub attention: f64,
    /// `6·N + attention`: the model FLOPs that MFU divides.
    pub model: f64,
    /// Extra forward work recomputation adds.
    pub recompute: f64,
    /// `model + recompute`: the hardware FLOPs that HFU divides.
    pub hardware: f64,
}

/// Model and hardware FLOPs per trained token.
///
/// # Formula
/// ```text
/// model    = 6·N + 12·L·a·d·s            (adapters: 4·N_base + 6·N_adapters + attention)
/// full     hardware = model + 2·N + 4·L·a·d·s     (one more forward: ×4/3)
/// selective hardware = model + 4·L·a·d·s          (the attention core forward again)
/// GPT block (d = h/a, N ≈ 12·L·h² + V·h): model = 72·s·L·h²·(1 + s/(6h) + V/(12·L·h)) per sequence
/// ```
///
/// # Symbols
/// `N` active parameters (params::count), `L` layers, `a` heads, `d` query/key head
/// width, `s` sequence length.
///
/// # Source
/// Kaplan et al. 2020 §2.1 (`6·N` per token); Narayanan et al. 2021 §5.1 and
/// Appendix (`72·B·s·L·h²·(1 + s/(6h) + V/(12·L·h))`); PaLM (Chowdhery et al.
/// 2022) Appendix B counts attention the same way, `12·L·H·Q·T` per token;
/// Korthikanti et al. 2022 §5 for the hardware FLOPs of selective recomputation.
///
/// # Assumptions / limits
/// The attention term counts the full `s×s` product (non-causal), the convention
/// of Megatron and PaLM, so MFU compares with published figures; a causal kernel
/// does about half of that work, which the time model (not this count) uses.
/// `N` includes the input embedding, as the published `6·N·D` totals do.
/// With adapters the frozen weights need no weight gradients: `2·N` forward and
/// `2·N` for input gradients, plus `6·N` on the adapters.
pub fn per_token(
    arch: &Architecture,
    seq_len: u64,
    recompute: Recompute,
    adapters: Option<u64>,
) -> Result<FlopsPerToken> {
    per_token_of(arch, &ops::list(arch)?, seq_len, recompute, adapters)
}

/// [`per_token`] over `arch`'s operator list.
///
/// # Errors
/// As [`per_token`].
pub fn per_token_of(
    arch: &Architecture,
    list: &ops::OpList,
    seq_len: u64,
    recompute: Recompute,
    adapters: Option<u64>,
) -> Result<FlopsPerToken> {
    let count = params::count_of(arch, list)?;
    Ok(per_token_in(list, &count, seq_len, recompute, adapters))
}

/// [`per_token`] over `arch`'s operator list and its parameter count.
pub fn per_token_in(
    list: &ops::OpList,
    count: &params::ParamCount,
    seq_len: u64,
    recompute: Recompute,
    adapters: Option<u64>,
) -> FlopsPerToken {
    let n = count.active as f64;
    let params_6n = 6.0 * n;
    // each attention layer over min(s, its span); recurrent layers add no s² term
    let attention_fwd: f64 = list
        .blocks
        .iter()
        .filter_map(|b| {
            b.attention()
                .map(|a| a.training_flops_per_token(b.layers, seq_len))
        })
        .sum();
    let attention = 3.0 * attention_fwd;
    let params_part = match adapters {
        None => params_6n,
        Some(a) => 4.0 * n + 6.0 * a as f64,
    };
    let model = params_part + attention;
    let recompute_flops = match recompute {
        Recompute::None => 0.0,
        Recompute::Selective => attention_fwd,
        Recompute::Full => 2.0 * n + attention_fwd,
        Recompute::OpSelective => list
            .blocks
            .iter()
            .map(|b| {
                let again: f64 = b
                    .matmuls()
                    .enumerate()
                    .filter(|(i, _)| recompute.recomputes_product(*i))
                    .map(|(_, m)| m.flops_per_token())
                    .sum();
                b.layers as f64 * again
            })
            .sum(),
    };
    FlopsPerToken {
        params_6n,
        attention,
        model,
        recompute: recompute_flops,
        hardware: model + recompute_flops,
    }
}

/// Narayanan et al.'s model FLOPs for a GPT model, per iteration of `B` sequences.
///
/// # Formula
/// ```text
/// F = 72·B·s·L·h²·(1 + s/(6h) + V/(12·L·h))
/// ```
///
/// # Source
/// Narayanan et al. 2021 (arXiv:2104.04473) §5.1 (their Eq. 3 with recomputation
/// has 96 in place of 72; Korthikanti et al. 2022 §6 uses this 72 form as model FLOPs).
pub fn narayanan_model_flops(batch: f64, s: f64, layers: f64, h: f64, vocab: f64) -> f64 {
    72.0 * batch * s * layers * h * h * (1.0 + s / (6.0 * h) + vocab / (12.0 * layers * h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    #[test]
    fn gpt_model_flops_match_narayanan() {
        // GPT-3 175B: L 96, h 12288, a 96, V 51200 (Narayanan et al. 2021 Table 1), s 2048
        let arch = Shape::gpt(96, 12288, 96, 51200).build().unwrap();
        let f = per_token(&arch, 2048, Recompute::None, None).unwrap();
        let ours = f.model * 2048.0;
        let theirs = narayanan_model_flops(1.0, 2048.0, 96.0, 12288.0, 51200.0);
        // they leave out biases, norms and the position table: 0.03 % apart
        assert!((ours / theirs - 1.0).abs() < 5e-4, "{}", ours / theirs);
    }

    #[test]
    fn recomputation_adds_a_forward() {
        let arch = Shape::gpt(96, 12288, 96, 51200).build().unwrap();
        let none = per_token(&arch, 2048, Recompute::None, None).unwrap();
        let full = per_token(&arch, 2048, Recompute::Full, None).unwrap();
        assert!((full.hardware / none.model - 4.0 / 3.0).abs() < 1e-12);
        // selective recomputes QKᵀ and ·V forward: 4·s·h per layer-token against
        // 72·h² + 12·s·h, 0.9 % for GPT-3 175B. (Korthikanti §5 quotes 2.7 %, which
        // is 12·s/(72·h + 12·s): their hardware-FLOPs formula adds the attention's
        // forward and backward, 12·s·h, for the recomputation.)
        let sel = per_token(&arch, 2048, Recompute::Selective, None).unwrap();
        assert!((sel.hardware / sel.model - 1.009).abs() < 0.001);
    }

    #[test]
    fn op_selective_recomputes_every_other_product() {
        // Llama-3.1-8B: k (4096×1024), o (4096×4096) and up (4096×14336) run again,
        // 2·n·k FLOPs per token each, in each of 32 layers
        let arch = crate::testing::llama31_8b();
        let f = per_token(&arch, 8192, Recompute::OpSelective, None).unwrap();
        let again = 2u64 * (4096 * 1024 + 4096 * 4096 + 4096 * 14336) * 32;
        assert_eq!(f.recompute, again as f64);
        assert_eq!(f.hardware, f.model + again as f64);
    }

    #[test]
    fn chinchilla_is_twenty_tokens_per_parameter() {
        // Hoffmann et al. 2022 Table 3: 70B ↔ 1.4T tokens
        assert_eq!(compute_optimal_tokens(70_000_000_000), 1.4e12);
    }
}
