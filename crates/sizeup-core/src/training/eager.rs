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

use crate::arch::{Architecture, NormKind};
use crate::ops::{BlockOps, OpKind, Stage};

/// Model types whose attention adds ALiBi biases instead of rotating queries and
/// keys (BLOOM, MPT).
///
/// # Source
/// transformers `modeling_bloom.py` (`build_alibi_tensor`) and `modeling_mpt.py`.
const ALIBI_MODEL_TYPES: &[&str] = &["bloom", "mpt"];

/// Whether the model rotates its queries and keys (RoPE): no learned positions and
/// not an ALiBi model.
pub fn rotary(arch: &Architecture) -> bool {
    arch.embedding.learned_positions == 0 && !ALIBI_MODEL_TYPES.contains(&arch.model_type.as_str())
}

/// How the run holds the parameters its 16-bit products read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residual {
    /// 16-bit parameters and residual stream.
    Bits16,
    /// fp32 parameters under `torch.autocast`: an fp32 residual stream, a cast
    /// before every product.
    Autocast,
}

impl Residual {
    /// Bytes per element of the residual stream.
    fn bytes(self) -> u64 {
        match self {
            Residual::Bits16 => 2,
            Residual::Autocast => 4,
        }
    }
}

/// Bytes one eager norm moves per normalised element.
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
const ROPE_BYTES_PER_ELEMENT: u64 = 20;

/// Bytes per element of the attention output's `transpose(1, 2).contiguous()`.
const ATTENTION_OUTPUT_COPY_BYTES: u64 = 4;

/// Bytes per element of an autocast cast of an fp32 input to 16 bits (read 4, write 2).
const AUTOCAST_CAST_BYTES: u64 = 6;

/// Bytes per weight autocast moves per micro-batch: the forward's cast of the
/// fp32 weight (read 4, write 2) and the backward's cast of its 16-bit gradient
/// back to fp32 (read 2, write 4).
pub const AUTOCAST_WEIGHT_BYTES: f64 = 12.0;

/// Bytes per MLP feature of the eager activation: gated, `silu(gate)` (4) then
/// `· up` (6); plain, one GeLU (4).
fn activation_bytes(gated: bool) -> u64 {
    if gated {
        10
    } else {
        4
    }
}

/// One block's eager element-wise bytes per token, forward: `(outside, inside)`
/// the tensor-parallel region (`outside` splits over `t` only with sequence
/// parallelism; `inside` always does).
///
/// # Formula
/// ```text
/// outside = h·(2·norm + 2·(2r + 2) + casts·6)        casts: autocast only, one per
///                                                    product reading the normed input
/// inside  = rotated·20 + a·d_v·4 + Σ activations·f·(10 gated | 4 plain)·copies
/// ```
pub fn block_bytes_per_token(
    arch: &Architecture,
    ops: &BlockOps,
    residual: Residual,
) -> (f64, f64) {
    let h = arch.hidden_size;
    let reads_normed = |stage: Option<Stage>| {
        matches!(
            stage,
            Some(Stage::MixerIn | Stage::FfnUp | Stage::Router | Stage::Experts)
        )
    };
    let casts = match residual {
        Residual::Bits16 => 0,
        Residual::Autocast => ops
            .matmuls()
            .filter(|m| m.k == h && reads_normed(Stage::of(m.role)))
            .count() as u64,
    };
    let outside = h as f64
        * (2 * norm_bytes(arch.norm.kind, residual)
            + 2 * residual_add_bytes(residual)
            + casts * AUTOCAST_CAST_BYTES) as f64;

    let mut inside = 0.0;
    if let Some(att) = ops.attention() {
        let [q, k, _, out] = att.qkv_out_widths;
        if rotary(arch) {
            inside += ((q + k) * ROPE_BYTES_PER_ELEMENT) as f64;
        }
        inside += (out * ATTENTION_OUTPUT_COPY_BYTES) as f64;
    }
    for op in &ops.ops {
        if let OpKind::Elementwise(e) = &op.kind {
            if e.activation {
                inside += (e.width * activation_bytes(e.gated) * e.active) as f64;
            }
        }
    }
    (outside, inside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{BlockStyle, Shape};

    fn llama_1b() -> Architecture {
        // Llama 3.2 1B: 16 layers, h 2048, 32 heads, 8 KV heads, FFN 8192
        Shape {
            style: BlockStyle::Llama,
            layers: 16,
            hidden: 2048,
            heads: 32,
            kv_heads: 8,
            head_dim: None,
            ffn: 8192,
            vocab: 128_256,
            max_context: 2048,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn autocast_llama_block_counted_by_hand() {
        let arch = llama_1b();
        let ops = crate::ops::block_ops(&arch, &arch.layers.blocks[0]).unwrap();
        let (outside, inside) = block_bytes_per_token(&arch, &ops, Residual::Autocast);
        // 2 RMSNorms at 28, 2 adds at 10, 5 casts (q, k, v, gate, up) at 6: 106·h
        assert_eq!(outside, 106.0 * 2048.0);
        // RoPE on q (2048) and k (512) at 20, the output copy 2048·4, SwiGLU 8192·10
        assert_eq!(inside, 2560.0 * 20.0 + 2048.0 * 4.0 + 8192.0 * 10.0);
    }

    #[test]
    fn sixteen_bit_llama_block_counted_by_hand() {
        let arch = llama_1b();
        let ops = crate::ops::block_ops(&arch, &arch.layers.blocks[0]).unwrap();
        let (outside, _) = block_bytes_per_token(&arch, &ops, Residual::Bits16);
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
        assert!(!rotary(&arch));
        let ops = crate::ops::block_ops(&arch, &arch.layers.blocks[0]).unwrap();
        let (outside, inside) = block_bytes_per_token(&arch, &ops, Residual::Bits16);
        // LayerNorms at 4, adds at 6: 20·h; the output copy 1024·4 and GeLU 4096·4
        assert_eq!(outside, 20.0 * 1024.0);
        assert_eq!(inside, 1024.0 * 4.0 + 4096.0 * 4.0);
    }
}
