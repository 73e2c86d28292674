//! Memory per device as line items: weights, KV cache, activations, runtime, buffers, reserve.

use serde::{Deserialize, Serialize};

use super::engine::{EngineProfile, Reserve};
use crate::arch::Architecture;
use crate::ops;

/// Memory of one device, in bytes, as separate line items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MemoryPerGpu {
    /// The device's memory.
    pub total_bytes: u64,
    /// Weights held by this rank.
    pub weights_bytes: u64,
    /// KV cache for the requested batch at the requested context.
    pub kv_cache_bytes: u64,
    /// Activation workspace for one prefill chunk (and its logits).
    pub activation_workspace_bytes: u64,
    /// Runtime: context, library workspaces, CUDA graphs.
    pub runtime_bytes: u64,
    /// What no program may allocate: the nominal size less the usable one the
    /// driver or the OS reports ([`crate::hardware::Accelerator::usable_bytes`]).
    #[serde(default)]
    pub unusable_bytes: u64,
    /// Communication buffers (0 on a device that exchanges with none).
    pub comm_buffer_bytes: u64,
    /// What the engine keeps back by design (vLLM `1 − gpu_memory_utilization` of the
    /// usable memory; under SGLang what its reserve holds beside the workspace).
    pub engine_reserve_bytes: u64,
    /// What is left; 0 when it does not fit.
    pub free_bytes: u64,
    /// What is missing; 0 when it fits.
    pub shortfall_bytes: u64,
}

impl MemoryPerGpu {
    /// Whether everything fits.
    pub fn fits(&self) -> bool {
        self.shortfall_bytes == 0
    }

    /// Bytes of every line but the KV cache, free and shortfall.
    pub fn held_bytes(&self) -> u64 {
        [
            self.weights_bytes,
            self.activation_workspace_bytes,
            self.runtime_bytes,
            self.unusable_bytes,
            self.comm_buffer_bytes,
            self.engine_reserve_bytes,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Bytes available for the KV cache once everything else is placed (0 if none).
    pub fn kv_budget_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.held_bytes())
    }
}

/// Activation workspace of one prefill chunk on one rank, bytes.
///
/// # Formula
/// ```text
/// T_w · 2 · (4·h + (2·f_tok + (a + 2k)·d) / t) + S_w · V / t · 4
/// ```
///
/// # Symbols
/// `T_w` tokens in the chunk, `S_w = min(sequences, T_w)` logit rows, `f_tok` the
/// MLP width one token passes through (gate and up; `e·f_e` plus shared for MoE),
/// `t` tensor-parallel ranks.
///
/// # Source
/// vLLM sizes its workspace by profiling a dummy batch of `max_num_batched_tokens`;
/// this counts the largest live tensors of one layer (residual, normed input,
/// q/k/v, gate/up outputs) in 16 bits and the fp32 logits.
///
/// # Assumptions / limits
/// An estimate, not a measurement; allocator fragmentation is not modelled. The
/// widths are read from each block's operator list ([`crate::ops::block_ops`]).
pub fn activation_workspace_bytes(
    arch: &Architecture,
    chunk_tokens: u64,
    sequences: u64,
    tp: u64,
) -> u64 {
    // a model whose sizes overflow cannot be served; the estimate reports it elsewhere
    ops::list(arch).map_or(0, |list| {
        workspace_bytes_of(arch, &list, chunk_tokens, sequences, tp)
    })
}

/// [`activation_workspace_bytes`] over `arch`'s operator list.
pub(super) fn workspace_bytes_of(
    arch: &Architecture,
    list: &ops::OpList,
    chunk_tokens: u64,
    sequences: u64,
    tp: u64,
) -> u64 {
    let tp = tp.max(1) as f64;
    let h = arch.hidden_size as f64;
    // the widest block sets the workspace
    let (f_tok, qkv) = list.blocks.iter().fold((0u64, 0u64), |(f, q), ops| {
        // the MLP width one token passes through: e·f_e plus shared for MoE
        let width = ops
            .elementwise()
            .filter(|e| e.activation)
            .fold(0u64, |acc, e| {
                acc.saturating_add(e.width.saturating_mul(e.active))
            });
        let mixer = match ops.attention() {
            // q, k and v of the head width: MLA's one latent head counted as k and v
            Some(a) => a
                .heads
                .saturating_add(a.cached.1.saturating_mul(2))
                .saturating_mul(a.qk_dim),
            // the widest projection of a recurrent mixer
            None => ops
                .matmuls()
                .filter(|m| ops::Stage::of(m.role) == Some(ops::Stage::MixerIn))
                .map(|m| m.n)
                .max()
                .unwrap_or(0),
        };
        (f.max(width), q.max(mixer))
    });
    let (f_tok, qkv) = (f_tok as f64, qkv as f64);
    let t = chunk_tokens as f64;
    let rows = sequences.min(chunk_tokens) as f64;
    let bytes =
        t * 2.0 * (4.0 * h + (2.0 * f_tok + qkv) / tp) + rows * arch.vocab_size as f64 / tp * 4.0;
    bytes.ceil() as u64
}

/// Lay out one device's memory.
///
/// # Formula
/// ```text
/// unusable = total − usable                           the driver's or the OS's part
/// reserve  = fraction · usable                         (Total)
///          = fraction · (usable − weights − runtime)   (Free)
///          = fraction · usable − workspace, at least 0 (HoldsActivations)
/// free     = total − weights − KV − workspace − runtime − unusable − comm − reserve
/// ```
///
/// # Source
/// DESIGN.md "Inference": runtime overheads are separate line items. vLLM takes
/// `gpu_memory_utilization` of the total CUDA reports (`torch.cuda.mem_get_info`),
/// not of the nominal size (vllm/worker/worker.py `determine_num_available_blocks`).
pub fn layout(
    total: u64,
    usable: u64,
    weights: u64,
    kv: u64,
    workspace: u64,
    profile: &EngineProfile,
    ranks: u64,
) -> MemoryPerGpu {
    let usable = usable.min(total);
    let unusable = total - usable;
    // buffers for the collectives among the `ranks` devices of a replica's stage
    let comm = if ranks > 1 {
        profile.comm_buffer_bytes
    } else {
        0
    };
    let reserve = match profile.reserve {
        Reserve::Total { fraction } => (usable as f64 * fraction) as u64,
        // the workspace is a line of its own: the reserve line is what is left
        Reserve::HoldsActivations { fraction } => {
            ((usable as f64 * fraction) as u64).saturating_sub(workspace)
        }
        Reserve::Free { fraction } => {
            (usable
                .saturating_sub(weights)
                .saturating_sub(profile.runtime_bytes) as f64
                * fraction) as u64
        }
    };
    let mut m = MemoryPerGpu {
        total_bytes: total,
        weights_bytes: weights,
        kv_cache_bytes: kv,
        activation_workspace_bytes: workspace,
        runtime_bytes: profile.runtime_bytes,
        unusable_bytes: unusable,
        comm_buffer_bytes: comm,
        engine_reserve_bytes: reserve,
        free_bytes: 0,
        shortfall_bytes: 0,
    };
    let used = m.held_bytes().saturating_add(kv);
    m.free_bytes = total.saturating_sub(used);
    m.shortfall_bytes = used.saturating_sub(total);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::engine::{profile, Backend, Engine};

    #[test]
    fn vllm_keeps_a_tenth_back() {
        let p = profile(Engine::Vllm, Backend::Cuda);
        let m = layout(80 << 30, 80 << 30, 16 << 30, 10 << 30, 1 << 30, &p, 1);
        assert_eq!(m.engine_reserve_bytes, 8 << 30);
        assert!(m.fits());
        assert_eq!(m.comm_buffer_bytes, 0);
        let over = layout(80 << 30, 80 << 30, 70 << 30, 10 << 30, 1 << 30, &p, 2);
        assert!(!over.fits());
        assert_eq!(over.free_bytes, 0);
        assert!(over.shortfall_bytes > 9 << 30);
    }

    /// SGLang keeps 12% of the memory back for the activations and CUDA graphs:
    /// a workspace inside it does not shrink the pool, one larger than it does.
    #[test]
    fn sglang_holds_the_workspace_inside_its_reserve() {
        let p = profile(Engine::Sglang, Backend::Cuda);
        let gib = 1u64 << 30;
        let m = layout(80 * gib, 80 * gib, 16 * gib, 0, gib, &p, 1);
        let reserve = (80.0 * gib as f64 * 0.12) as u64;
        assert_eq!(m.engine_reserve_bytes, reserve - gib);
        // the pool: 0.88 of the memory less the weights and the runtime
        assert_eq!(
            m.kv_budget_bytes(),
            80 * gib - reserve - 16 * gib - (512 << 20)
        );
        let big = layout(80 * gib, 80 * gib, 16 * gib, 0, 12 * gib, &p, 1);
        assert_eq!(big.engine_reserve_bytes, 0);
        assert_eq!(
            big.kv_budget_bytes(),
            80 * gib - 12 * gib - 16 * gib - (512 << 20)
        );
    }

    /// An RTX 3090's 24 GiB of which CUDA reports 23.58 GiB: the fraction is of
    /// what CUDA reports and the rest is the driver's.
    #[test]
    fn the_fraction_is_of_the_usable_memory_and_the_rest_is_the_drivers() {
        let p = profile(Engine::Vllm, Backend::Cuda);
        let (total, usable) = (24u64 << 30, 25_319_178_158u64);
        let m = layout(total, usable, 15 << 30, 0, 2 << 30, &p, 1);
        assert_eq!(m.engine_reserve_bytes, 2_531_917_815);
        assert_eq!(
            (m.runtime_bytes, m.unusable_bytes),
            (512 << 20, 450_625_618)
        );
        assert_eq!(
            m.kv_budget_bytes(),
            total - (15 << 30) - (2 << 30) - (512 << 20) - 450_625_618 - 2_531_917_815
        );
    }
}
