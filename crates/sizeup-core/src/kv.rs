//! KV cache: bytes per token, per sequence, per batch and per tensor-parallel rank.

use serde::Serialize;

use crate::arch::{Architecture, AttentionKind};
use crate::dtype::KvDtype;
use crate::error::{CoreError, Result};
use crate::units::{product, sum};

const Q: &str = "KV cache bytes";

/// What to size a KV cache for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KvRequest {
    /// `s`: tokens held per sequence (prompt + generated).
    pub seq_len: u64,
    /// `B`: sequences held at once.
    pub batch: u64,
    /// Precision of cached values.
    pub dtype: KvDtype,
    /// `t`: tensor-parallel ranks sharing the cache.
    pub tp: u64,
    /// Paged-cache block size in tokens (vLLM uses 16); `None` for a contiguous cache.
    pub block_tokens: Option<u64>,
}

/// The size of a KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KvCache {
    /// Bytes one token adds across all layers, with no sliding window applied.
    pub bytes_per_token: u64,
    /// Bytes one sequence of `s` tokens holds (windows and paging applied).
    pub bytes_per_sequence: u64,
    /// Bytes the whole batch holds: `bytes_per_sequence · B`.
    pub bytes_total: u64,
    /// Bytes each tensor-parallel rank holds for the batch.
    pub bytes_per_gpu: u64,
    /// KV heads each rank caches (`max(k/t, 1)`; MLA's latent is replicated on every rank).
    pub kv_heads_per_gpu: u64,
    /// Values cached per token per layer (`2·k·d`, or `r_kv + d_r` for MLA).
    pub elements_per_token_per_layer: u64,
}

/// Values cached for one token in one layer, and how many "heads" they split into
/// under tensor parallelism.
fn cached_width(arch: &Architecture) -> Result<(u64, u64, u64)> {
    Ok(match arch.attention.kind {
        AttentionKind::Standard {
            kv_heads, head_dim, ..
        } => (kv_heads, product(Q, &[2, head_dim])?, kv_heads),
        // MLA caches one latent per token: the compressed kv (`kv_lora_rank`) and the
        // shared rotary key (`qk_rope_head_dim`); no factor 2, no heads to split.
        AttentionKind::Mla {
            kv_lora_rank,
            qk_rope_head_dim,
            ..
        } => (1, sum(Q, &[kv_lora_rank, qk_rope_head_dim])?, 1),
    })
}

/// Size the KV cache of `arch` for `req`.
///
/// # Formula
/// ```text
/// per token    = Σ_layers 2·k·d · bytes_per_element
/// per sequence = Σ_layers 2·k·d · tokens(layer) · bytes_per_element
/// tokens(layer) = round_up(min(s, window(layer)), block)
/// per GPU      = per sequence · B · max(k/t, 1) / k
/// ```
///
/// # Symbols
/// `k` KV heads, `d` head dim, `s` sequence length, `B` batch, `t` tensor-parallel ranks.
///
/// # Source
/// DESIGN.md "KV cache"; vLLM paged attention (block size 16); ggml block layouts.
///
/// # Assumptions / limits
/// MLA caches `kv_lora_rank + qk_rope_head_dim` values per token per layer, replicated
/// on every tensor-parallel rank. Quantized caches quantize each row of `k·d` values.
///
/// # Errors
/// [`CoreError::Zero`] for a zero `seq_len`, `batch` or `tp`; [`CoreError::Invalid`] when
/// `t` does not divide `k` (and `k > t`); [`CoreError::Overflow`].
///
/// # Example
/// ```
/// # use sizeup_core::{kv, KvDtype};
/// # let arch = sizeup_core::Shape::llama(32, 4096, 32, 32, 11008, 32000).build().unwrap();
/// let req = kv::KvRequest { seq_len: 4096, batch: 1, dtype: KvDtype::Fp16, tp: 1, block_tokens: None };
/// let c = kv::size(&arch, &req).unwrap();
/// assert_eq!(c.bytes_per_token, 524_288); // 32·2·32·128·2 (shared/fixtures/models/llama-2-7b)
/// assert_eq!(c.bytes_total, 2_147_483_648); // 2 GiB at 4k context
/// ```
pub fn size(arch: &Architecture, req: &KvRequest) -> Result<KvCache> {
    for (field, v) in [
        ("seq_len", req.seq_len),
        ("batch", req.batch),
        ("tp", req.tp),
    ] {
        if v == 0 {
            return Err(CoreError::Zero { field });
        }
    }
    if req.block_tokens == Some(0) {
        return Err(CoreError::Zero {
            field: "block_tokens",
        });
    }
    let (heads, width_per_head, split) = cached_width(arch)?;
    let per_layer_elems = product(Q, &[heads, width_per_head])?;
    let layout = req.dtype.layout();
    let row_bytes = layout
        .bytes_for(per_layer_elems)
        .ok_or(CoreError::Overflow { quantity: Q })?;

    let tokens = |limit: u64| -> Result<u64> {
        let t = req.seq_len.min(limit);
        match req.block_tokens {
            Some(b) => product(Q, &[t.div_ceil(b), b]),
            None => Ok(t),
        }
    };
    let (local_layers, window) = match arch.attention.window {
        Some(w) => (w.local_layers.min(arch.num_layers), w.size),
        None => (0, u64::MAX),
    };
    let global_layers = arch.num_layers - local_layers;
    let bytes_per_token = product(Q, &[row_bytes, arch.num_layers])?;
    let bytes_per_sequence = sum(
        Q,
        &[
            product(Q, &[row_bytes, global_layers, tokens(u64::MAX)?])?,
            product(Q, &[row_bytes, local_layers, tokens(window)?])?,
        ],
    )?;
    let bytes_total = product(Q, &[bytes_per_sequence, req.batch])?;

    let kv_heads_per_gpu = if req.tp >= split && req.tp % split == 0 {
        1
    } else if split % req.tp == 0 {
        split / req.tp
    } else {
        return Err(CoreError::Invalid {
            field: "tp",
            value: req.tp.to_string(),
            expected: format!("a divisor of the {split} KV heads, or a multiple of it"),
        });
    };
    // Each rank holds `kv_heads_per_gpu` of the `split` heads; when `t > k` heads
    // are replicated, so a rank still holds one whole head.
    let bytes_per_gpu = product(Q, &[bytes_total, kv_heads_per_gpu])? / split;

    Ok(KvCache {
        bytes_per_token,
        bytes_per_sequence,
        bytes_total,
        bytes_per_gpu,
        kv_heads_per_gpu,
        elements_per_token_per_layer: per_layer_elems,
    })
}
