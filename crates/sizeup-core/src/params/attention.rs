//! Attention parameters of one block.

use crate::arch::{Architecture, AttentionKind, QkNorm};
use crate::error::Result;
use crate::units::{product, sum};

const Q: &str = "attention parameter count";

/// Attention parameters of one block, split the way the breakdown needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionParams {
    /// Projection weights, biases and sinks (the `attention` group).
    pub projections: u64,
    /// q/k normalisation weights (the `norm` group).
    pub qk_norms: u64,
}

/// Parameters of one block's attention.
///
/// # Formula
/// ```text
/// standard: h·a·d + 2·h·k·d + a·d·h  (+ a·d + 2·k·d if qkv bias) (+ h if o bias) (+ a sinks)
/// MLA:      q:  h·r_q + r_q (norm) + r_q·a·(d_n + d_r)   or  h·a·(d_n + d_r)
///           kv: h·(r_kv + d_r) + r_kv (norm) + r_kv·a·(d_n + d_v)
///           o:  a·d_v·h
/// ```
///
/// # Symbols
/// `a` heads, `k` KV heads, `d` head dim, `r_q` q_lora_rank, `r_kv` kv_lora_rank,
/// `d_n` qk_nope_head_dim, `d_r` qk_rope_head_dim, `d_v` v_head_dim.
///
/// # Source
/// transformers `LlamaAttention`, `DeepseekV3Attention`, `GptOssAttention`.
pub fn attention_params_per_layer(arch: &Architecture) -> Result<AttentionParams> {
    let h = arch.hidden_size;
    let att = &arch.attention;
    let norm_elem = arch.norm.kind.params_per_element();
    match att.kind {
        AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        } => {
            let q_width = product(Q, &[heads, head_dim])?;
            let kv_width = product(Q, &[kv_heads, head_dim])?;
            let qkv_out = sum(Q, &[q_width, kv_width, kv_width])?;
            let weights = product(Q, &[h, sum(Q, &[qkv_out, q_width])?])?;
            let qkv_bias = if att.bias.qkv { qkv_out } else { 0 };
            let o_bias = if att.bias.output { h } else { 0 };
            let sinks = if att.sinks { heads } else { 0 };
            let qk_norms = match att.qk_norm {
                QkNorm::None => 0,
                QkNorm::PerHeadShared => product(Q, &[2, head_dim, norm_elem])?,
                QkNorm::Full => product(Q, &[sum(Q, &[q_width, kv_width])?, norm_elem])?,
                QkNorm::FullScaleOnly => sum(Q, &[q_width, kv_width])?,
            };
            Ok(AttentionParams {
                projections: sum(Q, &[weights, qkv_bias, o_bias, sinks])?,
                qk_norms,
            })
        }
        AttentionKind::Mla {
            heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
        } => {
            let qk_head = sum(Q, &[qk_nope_head_dim, qk_rope_head_dim])?;
            let q_out = product(Q, &[heads, qk_head])?;
            // The low-rank norms (q_a_layernorm, kv_a_layernorm) are RMSNorms that the
            // reference groups with the other norms.
            let (q_proj, q_norm) = match q_lora_rank {
                Some(r) => (
                    sum(Q, &[product(Q, &[h, r])?, product(Q, &[r, q_out])?])?,
                    r,
                ),
                None => (product(Q, &[h, q_out])?, 0),
            };
            let kv_a = product(Q, &[h, sum(Q, &[kv_lora_rank, qk_rope_head_dim])?])?;
            let kv_b = product(
                Q,
                &[
                    kv_lora_rank,
                    heads,
                    sum(Q, &[qk_nope_head_dim, v_head_dim])?,
                ],
            )?;
            let o = product(Q, &[heads, v_head_dim, h])?;
            let o_bias = if att.bias.output { h } else { 0 };
            Ok(AttentionParams {
                projections: sum(Q, &[q_proj, kv_a, kv_b, o, o_bias])?,
                qk_norms: product(Q, &[sum(Q, &[q_norm, kv_lora_rank])?, norm_elem])?,
            })
        }
    }
}
