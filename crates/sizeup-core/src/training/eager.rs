//! Eager PyTorch's element-wise traffic, counted operator by operator.
//!
//! Without a compiler or hand-fused kernels every PyTorch operator is its own
//! kernel that reads its inputs from memory and writes its output back. The bytes
//! below are counted from transformers' modeling code (`LlamaRMSNorm`,
//! `apply_rotary_pos_emb`, `LlamaMLP`, the decoder layer's residual adds), the form
//! most eager training runs take, under the two ways PyTorch runs 16-bit products:
//!
//! - **16-bit parameters** (FSDP or DeepSpeed mixed precision, pure bf16): the
//!   residual stream is 16-bit, the products read it as it is;
//! - **autocast over fp32 parameters** (`torch.autocast`, the Trainer's and
//!   Accelerate's `bf16=True` without sharding): the embedding, the norms' weights
//!   and therefore the residual stream are fp32, every product casts its input to
//!   16 bits, and every weight is cast once per forward (its gradient cast back).
//!
//! The backward moves twice the forward's element-wise bytes (a gradient read and
//! an input read for each write), as [`crate::training::time`] prices it.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, AttentionKind, Block, Mixer, NormKind};
use crate::error::Result;
use crate::ops::{BlockOps, Matmul, Stage};
use crate::units::{product, sum};

const Q: &str = "eager stored bytes";

/// Query and key values per token an eager RoPE rotates in `block`: every query and
/// key head (MLA: only the rotary part, `d_r` per query head and one shared key),
/// none without attention, with learned positions or ALiBi.
///
/// # Assumptions / limits
/// A partial rotary factor (GPT-NeoX, Phi) is not recorded in the architecture: the
/// whole head is counted.
fn rotated_per_token(arch: &Architecture, block: &Block, ops: &BlockOps) -> f64 {
    if arch.embedding.learned_positions > 0 || arch.embedding.alibi {
        return 0.0;
    }
    match (&block.mixer, ops.attention()) {
        (Mixer::Attention(a), Some(att)) => match a.kind {
            AttentionKind::Mla {
                heads,
                qk_rope_head_dim,
                ..
            } => (heads as f64 + 1.0) * qk_rope_head_dim as f64,
            AttentionKind::Standard { .. } => {
                att.qkv_out_widths[0] as f64 + att.qkv_out_widths[1] as f64
            }
        },
        _ => 0.0,
    }
}

/// How the run holds the parameters its 16-bit products read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Residual {
    /// 16-bit parameters and residual stream.
    Bits16,
    /// fp32 parameters under `torch.autocast`: an fp32 residual stream, a cast
    /// before every product.
    Autocast,
}

impl Residual {
    /// Bytes per element of the residual stream.
    pub fn bytes(self) -> u64 {
        match self {
            Residual::Bits16 => 2,
            Residual::Autocast => 4,
        }
    }
}

/// Bytes one eager norm moves per normalised element.
///
/// # Source
/// Counted from transformers `LlamaRMSNorm.forward` and PyTorch's `F.layer_norm`.
///
/// # Formula
/// ```text
/// RMSNorm (LlamaRMSNorm: to(fp32), pow, mean, x·rsqrt, to(dtype), weight·x)
///   16-bit: 2+4 + 4+4 + 4 + 4+4 + 4+2 + 2+2 = 36
///   fp32:         4+4 + 4 + 4+4 +     + 4+4 = 28   (the casts are no-ops)
/// LayerNorm (F.layer_norm, one kernel): read and write the stream, 2·r
/// ```
fn norm_bytes(kind: NormKind, residual: Residual) -> u64 {
    match (kind, residual) {
        (NormKind::RmsNorm, Residual::Bits16) => 36,
        (NormKind::RmsNorm, Residual::Autocast) => 28,
        (_, r) => 2 * r.bytes(),
    }
}

/// Bytes per element of one residual add: the stream and the block's 16-bit
/// output read, the stream written (`2·r + 2`).
fn residual_add_bytes(residual: Residual) -> u64 {
    2 * residual.bytes() + 2
}

/// Bytes per rotated query or key element of eager RoPE: `q·cos` (4), `rotate_half`'s
/// negation of one half and concatenation (2 + 4), `·sin` (4), the sum (6).
///
/// # Source
/// transformers `apply_rotary_pos_emb` / `rotate_half`; torchtitan's complex form
/// (`float()`, complex product, `type_as`) moves the same 20.
const ROPE_BYTES_PER_ELEMENT: f64 = 20.0;

/// Bytes per element of the attention output's `transpose(1, 2).contiguous()`
/// (read 2, write 2).
///
/// # Source
/// transformers `LlamaAttention.forward` (`attn_output.transpose(1, 2).contiguous()`
/// after `sdpa_attention_forward`).
const ATTENTION_OUTPUT_COPY_BYTES: f64 = 4.0;

/// Bytes per element of an autocast cast of an fp32 input to 16 bits (read 4, write 2).
///
/// # Source
/// PyTorch autocast (`torch.amp`): `linear` is on the lower-precision list; its
/// fp32 input is cast on each call (only leaf tensors, the weights, are cached).
const AUTOCAST_CAST_BYTES: f64 = 6.0;

/// Bytes per weight autocast moves per micro-batch: the forward's cast of the
/// fp32 weight (read 4, write 2) and the backward's cast of its 16-bit gradient
/// back to fp32 (read 2, write 4).
///
/// # Source
/// PyTorch autocast's weight cast cache (one cast per weight per autocast region,
/// cleared when the region exits) and the cast's autograd backward.
pub const AUTOCAST_WEIGHT_BYTES: f64 = 12.0;

/// Bytes per MLP feature of the eager activation: gated, `silu(gate)` (4) then
/// `· up` (6); plain, one GeLU (4).
///
/// # Source
/// transformers `LlamaMLP.forward` (`down_proj(act_fn(gate_proj(x)) * up_proj(x))`).
fn activation_bytes(gated: bool) -> f64 {
    if gated {
        10.0
    } else {
        4.0
    }
}

/// One block's eager element-wise bytes per token, forward: `(outside, inside)`
/// the tensor-parallel region (`outside` splits over `t` only with sequence
/// parallelism; `inside` always does).
///
/// # Formula
/// ```text
/// outside = h·(norms·norm + adds·(2r + 2) + casts·6)   adds: 2, 1 for a parallel block;
///                                                      casts: autocast only, one per product
///                                                      reading the normed input, per copy
/// inside  = rotated·20 + a·d_v·4 + Σ activations·f·(10 gated | 4 plain)·copies
/// ```
pub fn block_bytes_per_token(
    arch: &Architecture,
    block: &Block,
    ops: &BlockOps,
    residual: Residual,
) -> (f64, f64) {
    let h = arch.hidden_size;
    let casts = match residual {
        Residual::Bits16 => 0.0,
        Residual::Autocast => normed_reader_products(
            arch,
            ops,
            &[Stage::MixerIn, Stage::FfnUp, Stage::Router, Stage::Experts],
        )
        .map(|m| m.active as f64)
        .sum(),
    };
    let adds = if block.parallel { 1.0 } else { 2.0 };
    let outside = h as f64
        * (block.norms as f64 * norm_bytes(arch.norm.kind, residual) as f64
            + adds * residual_add_bytes(residual) as f64
            + casts * AUTOCAST_CAST_BYTES);

    let mut inside = rotated_per_token(arch, block, ops) * ROPE_BYTES_PER_ELEMENT;
    if let Some(att) = ops.attention() {
        inside += att.qkv_out_widths[3] as f64 * ATTENTION_OUTPUT_COPY_BYTES;
    }
    for e in ops.elementwise().filter(|e| e.activation) {
        inside += e.width as f64 * activation_bytes(e.gated) * e.active as f64;
    }
    (outside, inside)
}

/// The products of `stages` that read a normed `h`-wide input.
fn normed_reader_products<'a>(
    arch: &'a Architecture,
    ops: &'a BlockOps,
    stages: &'a [Stage],
) -> impl Iterator<Item = &'a Matmul> + 'a {
    ops.matmuls().filter(move |m| {
        m.k == arch.hidden_size && Stage::of(m.role).is_some_and(|s| stages.contains(&s))
    })
}

/// Products of `stages` that read a normed `h`-wide input, counted per active
/// copy: under autocast each casts that input to 16 bits on its own.
///
/// # Source
/// PyTorch autocast (`torch.amp`): `linear` is on the lower-precision list and
/// casts its non-leaf inputs on every call; transformers' `LlamaAttention` and
/// `LlamaMLP` call `q_proj`, `k_proj`, `v_proj`, `gate_proj` and `up_proj` on the
/// same normed tensor.
///
/// # Errors
/// [`crate::error::CoreError::Overflow`] on overflow.
pub fn normed_readers(arch: &Architecture, ops: &BlockOps, stages: &[Stage]) -> Result<u64> {
    normed_reader_products(arch, ops, stages).try_fold(0u64, |n, m| sum(Q, &[n, m.active]))
}

/// Bytes per normalised element an eager norm stores for its backward, its output
/// aside: RMSNorm keeps the fp32 upcast of its input (4, for `pow` and the
/// multiply by `rsqrt`) and the normalised tensor the weight multiplies (`r`);
/// `F.layer_norm` keeps its input (`r`) and two per-row statistics.
///
/// # Source
/// Counted from transformers `LlamaRMSNorm.forward` (`hidden_states.to(torch.float32)`,
/// `pow(2).mean(-1)`, `hidden_states * torch.rsqrt(...)`, `self.weight *
/// hidden_states.to(input_dtype)`) and the saved tensors of PyTorch's autograd
/// formulas (`derivatives.yaml`: `pow`, `mul`, `native_layer_norm`).
pub fn norm_stored_bytes(kind: NormKind, residual: Residual) -> u64 {
    match kind {
        NormKind::RmsNorm => 4 + residual.bytes(),
        _ => residual.bytes(),
    }
}

/// Bytes per token an eager block stores for the normed input of the products
/// in `stages`: 16-bit parameters share the norm's 16-bit output (`2·h`); under
/// autocast the fp32 output is kept by nobody and each reading product keeps its
/// own 16-bit cast (`2·h` per reader, [`normed_readers`]).
///
/// # Formula
/// ```text
/// 16-bit parameters: 2·h          autocast: 2·h·readers
/// ```
///
/// # Source
/// PyTorch autograd's saved tensors for `linear` (its input) and autocast's
/// per-call casts ([`normed_readers`]).
///
/// # Errors
/// [`crate::error::CoreError::Overflow`] on overflow.
pub fn normed_input_stored_bytes(
    arch: &Architecture,
    ops: &BlockOps,
    residual: Residual,
    stages: &[Stage],
) -> Result<u64> {
    let h = arch.hidden_size;
    match residual {
        Residual::Bits16 => product(Q, &[2, h]),
        Residual::Autocast => product(Q, &[2, h, normed_readers(arch, ops, stages)?]),
    }
}

/// Extra bytes per feature an eager gated activation stores: `act_fn(gate)`'s
/// output, which the product with `up` keeps (2), beside the gate and up outputs
/// and their product that a fused kernel stores too.
///
/// # Source
/// transformers `LlamaMLP.forward`: `act_fn(gate_proj(x)) * up_proj(x)` is two
/// operators, `silu` (saves its input) and `mul` (saves both operands).
pub const GATED_ACTIVATION_EXTRA_STORED_BYTES: u64 = 2;

/// Extra bytes per attention-output element eager attention stores with a flash
/// kernel: SDPA keeps its output for its backward, and the output projection keeps
/// the `transpose(1, 2).contiguous()` copy it reads (2 each; a fused block stores one).
///
/// # Source
/// transformers `LlamaAttention.forward` after `sdpa_attention_forward`; PyTorch
/// `_scaled_dot_product_flash_attention`'s saved output.
pub const ATTENTION_OUTPUT_COPY_STORED_BYTES: u64 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{BlockStyle, Shape};

    #[test]
    fn autocast_llama_block_counted_by_hand() {
        let arch = crate::testing::llama32_1b();
        let block = &arch.layers.blocks[0];
        let ops = crate::ops::block_ops(&arch, block).unwrap();
        let (outside, inside) = block_bytes_per_token(&arch, block, &ops, Residual::Autocast);
        // 2 RMSNorms at 28, 2 adds at 10, 5 casts (q, k, v, gate, up) at 6: 106·h
        assert_eq!(outside, 106.0 * 2048.0);
        // RoPE on q (2048) and k (512) at 20, the output copy 2048·4, SwiGLU 8192·10
        assert_eq!(inside, 2560.0 * 20.0 + 2048.0 * 4.0 + 8192.0 * 10.0);
    }

    #[test]
    fn sixteen_bit_llama_block_counted_by_hand() {
        let arch = crate::testing::llama32_1b();
        let block = &arch.layers.blocks[0];
        let ops = crate::ops::block_ops(&arch, block).unwrap();
        let (outside, _) = block_bytes_per_token(&arch, block, &ops, Residual::Bits16);
        // 2 RMSNorms at 36, 2 adds at 6, no casts: 84·h
        assert_eq!(outside, 84.0 * 2048.0);
    }

    #[test]
    fn gpt_blocks_have_no_rotation_and_a_plain_activation() {
        let arch = Shape {
            style: BlockStyle::Gpt,
            layers: 2,
            hidden: 1024,
            heads: 16,
            kv_heads: 16,
            head_dim: None,
            ffn: 4096,
            vocab: 50_257,
            max_context: 1024,
        }
        .build()
        .unwrap();
        let block = &arch.layers.blocks[0];
        let ops = crate::ops::block_ops(&arch, block).unwrap();
        assert_eq!(rotated_per_token(&arch, block, &ops), 0.0);
        let (outside, inside) = block_bytes_per_token(&arch, block, &ops, Residual::Bits16);
        // LayerNorms at 4, adds at 6: 20·h; the output copy 1024·4 and GeLU 4096·4
        assert_eq!(outside, 20.0 * 1024.0);
        assert_eq!(inside, 1024.0 * 4.0 + 4096.0 * 4.0);
    }

    #[test]
    fn alibi_models_rotate_nothing() {
        let mut arch = crate::testing::llama32_1b();
        let block = arch.layers.blocks[0].clone();
        let ops = crate::ops::block_ops(&arch, &block).unwrap();
        // q 32·64 and k 8·64 rotated
        assert_eq!(rotated_per_token(&arch, &block, &ops), 2560.0);
        arch.embedding.alibi = true;
        assert_eq!(rotated_per_token(&arch, &block, &ops), 0.0);
    }

    #[test]
    fn a_parallel_block_adds_its_residual_once() {
        let mut arch = crate::testing::llama32_1b();
        arch.layers.blocks[0].parallel = true;
        arch.layers.blocks[0].norms = 1;
        let block = &arch.layers.blocks[0];
        let ops = crate::ops::block_ops(&arch, block).unwrap();
        let (outside, _) = block_bytes_per_token(&arch, block, &ops, Residual::Bits16);
        // one RMSNorm at 36, one add at 6
        assert_eq!(outside, 42.0 * 2048.0);
    }
}
