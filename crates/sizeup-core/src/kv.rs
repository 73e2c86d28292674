//! KV cache: bytes per token, per sequence, per batch and per tensor-parallel rank.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, Attention, AttentionKind, Block, Mixer, Span};
use crate::assumption::Assumption;
use crate::dtype::KvDtype;
use crate::error::{CoreError, Result};
use crate::units::{product, sum};

const Q: &str = "KV cache bytes";

/// What to size a KV cache for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// The size of a KV cache and of the recurrent state beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvCache {
    /// Bytes one token adds across all attention layers, with no window applied.
    pub bytes_per_token: u64,
    /// Bytes one sequence of `s` tokens holds (windows, chunks and paging applied),
    /// recurrent state included.
    pub bytes_per_sequence: u64,
    /// Bytes of recurrent and convolution state per sequence, whatever its length
    /// (linear-attention and state-space layers); part of `bytes_per_sequence`.
    pub state_bytes_per_sequence: u64,
    /// Bytes the whole batch holds: `bytes_per_sequence · B`.
    pub bytes_total: u64,
    /// Bytes each tensor-parallel rank holds for the batch.
    pub bytes_per_gpu: u64,
    /// KV heads each rank caches in the primary attention layers (`max(k/t, 1)`; MLA's
    /// latent is replicated on every rank; 0 without attention).
    pub kv_heads_per_gpu: u64,
    /// Values cached per token per layer in the primary attention layers (`2·k·d`, or
    /// `r_kv + d_r` for MLA; 0 without attention).
    pub elements_per_token_per_layer: u64,
}

/// The cache of one kind of layer: what [`size`] sums, block by block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LayerCache {
    /// What the layer is (`GQA`, `MLA+DSA`, `GDN`, `Mamba2`…), with its span.
    pub kind: String,
    /// Layers of this kind.
    pub layers: u64,
    /// Values cached per token in one layer (0 for recurrent layers).
    pub elements_per_token: u64,
    /// Tokens one sequence keeps in one layer (window or chunk applied; 0 for
    /// recurrent layers).
    pub tokens_cached: u64,
    /// Values of recurrent and convolution state per sequence in one layer.
    pub state_elements: u64,
    /// Bytes one sequence holds in all layers of this kind.
    pub bytes_per_sequence: u64,
}

/// Bytes per element of recurrent state: vLLM keeps Mamba and linear-attention state
/// in the model's dtype by default (`mamba_ssm_cache_dtype = "auto"`), 16 bits here.
pub const STATE_BYTES_PER_ELEMENT: u64 = 2;

/// The assumptions behind the cache of `arch`'s layer kinds, for every output that
/// sizes or reads it: the precision of recurrent state, and the indexer keys'.
pub fn assumptions(arch: &Architecture) -> Vec<Assumption> {
    let mut out = Vec::new();
    if arch.has_recurrent() {
        out.push(Assumption::new(
            "recurrent state",
            format!(
                "{STATE_BYTES_PER_ELEMENT} bytes per value, a fixed size per sequence (linear attention: heads·d_k·d_v; Mamba: d_inner·d_state; conv: conv_dim × the kernel width its reference cache keeps)"
            ),
            "vLLM MambaSpec, mamba_ssm_cache_dtype \"auto\" (the model's 16-bit dtype)",
        ));
    }
    let compressed = arch.blocks().any(|(b, _)| {
        b.attention()
            .and_then(|a| a.listed.as_ref())
            .is_some_and(|l| l.compressed.is_some())
    });
    if compressed {
        out.push(Assumption::new(
            "compressed KV cache",
            "one entry per closed window of compress_rate tokens, at the KV cache's precision, replicated on every rank; the open window's raw buffer not counted",
            "transformers DeepseekV4HCACache / DeepseekV4CSACache (compressed_kv)",
        ));
    }
    if let Some(n) = arch.blocks().find_map(|(b, _)| match b.attention()?.span {
        Span::Encoder(n) => Some(n),
        _ => None,
    }) {
        out.push(Assumption::new(
            "cross-attention cache",
            format!("keys and values of one image ({n} encoder tokens) per sequence in each cross-attention layer, whatever the text length"),
            "transformers MllamaCrossAttentionDecoderLayer: keys and values are projected from the vision states once per image",
        ));
    }
    if arch.has_indexer() {
        out.push(Assumption::new(
            "sparse-attention indexer keys",
            "one key of index_head_dim values per token per layer, at the KV cache's precision",
            "transformers DeepseekV32 cache (indexer_keys); vLLM keeps them in fp8 with a scale",
        ));
    }
    out
}

/// Values one attention layer caches per token, and the number of KV heads they split
/// into under tensor parallelism.
///
/// # Formula
/// ```text
/// standard: 2·k·d   (also when keys double as values: transformers' cache keeps both)
/// MLA:      r_kv + d_r   (no factor 2, one latent for every head)
/// indexer:  + d_i   (DeepSeek sparse attention keeps one indexer key per token)
/// ```
///
/// # Source
/// vLLM `FullAttentionSpec`, `MLAAttentionSpec`, `DeepseekV32IndexerCache`.
pub(crate) fn cached_width(att: &Attention) -> Result<(u64, u64)> {
    if let Some(listed) = &att.listed {
        return Ok((listed.cached_per_token, att.kind.kv_heads().max(1)));
    }
    let (elements, split) = match att.kind {
        AttentionKind::Standard {
            kv_heads, head_dim, ..
        } => (product(Q, &[2, kv_heads, head_dim])?, kv_heads),
        AttentionKind::Mla {
            kv_lora_rank,
            qk_rope_head_dim,
            ..
        } => (sum(Q, &[kv_lora_rank, qk_rope_head_dim])?, 1),
    };
    let indexer = att.indexer.map_or(0, |ix| ix.head_dim);
    Ok((sum(Q, &[elements, indexer])?, split))
}

/// KV heads of `split` that one of `tp` ranks holds: `max(k/t, 1)`.
fn heads_per_rank(split: u64, tp: u64) -> Result<u64> {
    if tp >= split && tp % split == 0 {
        Ok(1)
    } else if split % tp == 0 {
        Ok(split / tp)
    } else {
        Err(CoreError::Invalid {
            field: "tp",
            value: tp.to_string(),
            expected: format!("a divisor of the {split} KV heads, or a multiple of it"),
        })
    }
}

/// Size the KV cache and recurrent state of `arch` for `req`.
///
/// # Formula
/// ```text
/// per token    = Σ_attention layers w(layer) · bytes_per_element
///                (layers that reuse an earlier layer's keys and values hold none)
/// per sequence = Σ_attention layers w(layer) · tokens(layer) · bytes_per_element
///              + Σ_recurrent layers (state + conv state) · 2 bytes
/// tokens(layer) = round_up(min(s, window or chunk of layer), block)
///                 (cross-attention: the encoder tokens of one image, whatever s;
///                  such layers add nothing per token)
/// per GPU      = Σ_layers per-sequence bytes · B · max(k/t, 1) / k   (state: / t)
/// ```
///
/// # Symbols
/// `w` values cached per token ([`cached_width`]: `2·k·d`, MLA `r_kv + d_r`), `k` KV
/// heads, `d` head dim, `s` sequence length, `B` batch, `t` tensor-parallel ranks.
///
/// # Source
/// DESIGN.md "KV cache and state"; vLLM paged attention (block size 16), sliding-window
/// and chunked-local specs, `MambaSpec` (state per sequence); ggml block layouts.
///
/// # Assumptions / limits
/// MLA latents and indexer keys are replicated on every tensor-parallel rank and
/// stored at the cache's precision. Recurrent state is kept in 16 bits
/// ([`STATE_BYTES_PER_ELEMENT`]) and split evenly across tensor-parallel ranks.
/// Quantized caches quantize each row of cached values.
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
    check(req)?;
    let mut c = KvCache {
        bytes_per_token: 0,
        bytes_per_sequence: 0,
        state_bytes_per_sequence: 0,
        bytes_total: 0,
        bytes_per_gpu: 0,
        kv_heads_per_gpu: 0,
        elements_per_token_per_layer: 0,
    };
    let mut per_gpu_sequence = 0u64;
    for (block, layers) in arch.blocks() {
        let l = layer_cache(block, layers, req)?;
        c.bytes_per_token = sum(Q, &[c.bytes_per_token, l.bytes_per_token])?;
        c.bytes_per_sequence = sum(Q, &[c.bytes_per_sequence, l.bytes_per_sequence])?;
        c.state_bytes_per_sequence = sum(Q, &[c.state_bytes_per_sequence, l.state_bytes])?;
        per_gpu_sequence = sum(Q, &[per_gpu_sequence, l.bytes_per_gpu_sequence])?;
    }
    if let Some(att) = arch.primary_attention() {
        let (elements, split) = cached_width(att)?;
        c.elements_per_token_per_layer = elements;
        c.kv_heads_per_gpu = heads_per_rank(split, req.tp)?;
    }
    c.bytes_total = product(Q, &[c.bytes_per_sequence, req.batch])?;
    c.bytes_per_gpu = product(Q, &[per_gpu_sequence, req.batch])?;
    Ok(c)
}

/// The cache of each kind of layer of `arch` for one sequence of `req`, in the order
/// the kinds first appear (what `sizeup kv` shows layer by layer).
///
/// # Errors
/// As [`size`].
pub fn by_layer(arch: &Architecture, req: &KvRequest) -> Result<Vec<LayerCache>> {
    check(req)?;
    arch.blocks()
        .map(|(block, layers)| {
            let l = layer_cache(block, layers, req)?;
            let kind = match &block.mixer {
                Mixer::Recurrent(r) => r.kind.name().to_string(),
                Mixer::Attention(a) if a.kv_shared => {
                    format!("{} reusing an earlier layer's cache", a.layout())
                }
                Mixer::Attention(a) => {
                    let layout = a.layout();
                    let kind = match a.span {
                        Span::Full => layout.to_string(),
                        Span::Window(w) => format!("{layout} window {w}"),
                        Span::Chunk(n) => format!("{layout} chunk {n}"),
                        Span::Encoder(n) => format!("{layout} cross-attention {n} image tokens"),
                    };
                    match a.listed.as_ref().and_then(|l| l.compressed) {
                        Some(c) => format!("{kind} + compressed 1/{}", c.ratio),
                        None => kind,
                    }
                }
            };
            Ok(LayerCache {
                kind,
                layers,
                elements_per_token: l.elements_per_token,
                tokens_cached: l.tokens_cached,
                state_elements: l.state_elements,
                bytes_per_sequence: l.bytes_per_sequence,
            })
        })
        .collect()
}

fn check(req: &KvRequest) -> Result<()> {
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
    Ok(())
}

/// One kind of layer's share of the cache, `layers` layers of it.
struct BlockShare {
    elements_per_token: u64,
    tokens_cached: u64,
    state_elements: u64,
    bytes_per_token: u64,
    bytes_per_sequence: u64,
    state_bytes: u64,
    bytes_per_gpu_sequence: u64,
}

fn layer_cache(block: &Block, layers: u64, req: &KvRequest) -> Result<BlockShare> {
    match &block.mixer {
        // a layer reusing an earlier layer's keys and values holds no cache of its own
        Mixer::Attention(att) if att.kv_shared => Ok(BlockShare {
            elements_per_token: 0,
            tokens_cached: 0,
            state_elements: 0,
            bytes_per_token: 0,
            bytes_per_sequence: 0,
            state_bytes: 0,
            bytes_per_gpu_sequence: 0,
        }),
        Mixer::Attention(att) => {
            let (elements, split) = cached_width(att)?;
            let row_bytes = req
                .dtype
                .layout()
                .bytes_for(elements)
                .ok_or(CoreError::Overflow { quantity: Q })?;
            // cross-attention caches one image's keys and values, whatever the text length
            let t = match att.span {
                Span::Encoder(n) => n,
                span => req.seq_len.min(span.cached_tokens()),
            };
            let tokens = match req.block_tokens {
                Some(b) => product(Q, &[t.div_ceil(b), b])?,
                None => t,
            };
            let bytes_per_sequence = product(Q, &[row_bytes, layers, tokens])?;
            // Each rank holds `max(k/t, 1)` of the `k` heads; when `t > k` heads are
            // replicated, so a rank still holds one whole head.
            let per_rank = heads_per_rank(split, req.tp)?;
            let (compressed_per_token, compressed) = compressed_bytes(att, layers, req)?;
            Ok(BlockShare {
                elements_per_token: elements,
                tokens_cached: tokens,
                state_elements: 0,
                bytes_per_token: sum(
                    Q,
                    &[
                        if att.span.grows_with_context() {
                            product(Q, &[row_bytes, layers])?
                        } else {
                            0
                        },
                        compressed_per_token,
                    ],
                )?,
                bytes_per_sequence: sum(Q, &[bytes_per_sequence, compressed])?,
                state_bytes: 0,
                bytes_per_gpu_sequence: sum(
                    Q,
                    &[
                        product(Q, &[bytes_per_sequence, per_rank])? / split,
                        compressed,
                    ],
                )?,
            })
        }
        Mixer::Recurrent(r) => {
            let state_elements = sum(Q, &[r.state_elements, r.conv_elements])?;
            let state_bytes = product(Q, &[state_elements, STATE_BYTES_PER_ELEMENT, layers])?;
            Ok(BlockShare {
                elements_per_token: 0,
                tokens_cached: 0,
                state_elements,
                bytes_per_token: 0,
                bytes_per_sequence: state_bytes,
                state_bytes,
                bytes_per_gpu_sequence: state_bytes.div_ceil(req.tp),
            })
        }
    }
}

/// The compressed cache of `layers` layers of `att` (DeepSeek-V4): bytes one token
/// adds on average, and bytes one sequence holds.
///
/// # Formula
/// ```text
/// per token    = ⌈row bytes(w) / r⌉ · layers
/// per sequence = row bytes(w) · ⌊s / r⌋ · layers
/// ```
/// with `w` values per entry and `r` tokens per entry ([`crate::arch::CompressedKv`]):
/// only closed windows of `r` tokens have an entry. Entries are replicated on every
/// tensor-parallel rank (one shared head), like MLA latents.
///
/// # Assumptions / limits
/// The open window's raw buffer (fewer than `r` tokens) and CSA's overlap state are
/// not counted: at most `r − 1` tokens of raw keys and gates per layer.
fn compressed_bytes(att: &Attention, layers: u64, req: &KvRequest) -> Result<(u64, u64)> {
    let Some(c) = att.listed.as_ref().and_then(|l| l.compressed) else {
        return Ok((0, 0));
    };
    let row = req
        .dtype
        .layout()
        .bytes_for(c.width)
        .ok_or(CoreError::Overflow { quantity: Q })?;
    let ratio = c.ratio.max(1);
    Ok((
        product(Q, &[row.div_ceil(ratio), layers])?,
        product(Q, &[row, req.seq_len / ratio, layers])?,
    ))
}

/// Bytes one token adds to one attention layer's cache on one of `tp` ranks.
///
/// # Formula
/// `row bytes(w) · max(k/t, 1) / k` with `w` the values cached per token ([`size`]).
///
/// # Errors
/// As [`size`].
pub fn layer_bytes_per_token_per_rank(att: &Attention, dtype: KvDtype, tp: u64) -> Result<f64> {
    row_bytes_per_rank(cached_width(att)?, dtype, tp)
}

/// Bytes one token adds on one of `tp` ranks to a cache of `elements` values per token
/// split into `split` heads ([`crate::ops::AttentionOp::cached`]).
///
/// # Formula
/// `row bytes(elements) · max(split/t, 1) / split`
///
/// # Errors
/// As [`size`].
pub fn row_bytes_per_rank((elements, split): (u64, u64), dtype: KvDtype, tp: u64) -> Result<f64> {
    let row_bytes = dtype
        .layout()
        .bytes_for(elements)
        .ok_or(CoreError::Overflow { quantity: Q })?;
    let per_rank = heads_per_rank(split, tp.max(1))?;
    Ok(row_bytes as f64 * per_rank as f64 / split as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Schedule;

    #[test]
    fn cross_attention_layers_hold_one_image_whatever_the_text_length() {
        // 2 Llama-2-7B layers, one of them cross-attending to 100 image tokens:
        // 2·32·128 values = 16_384 bytes per token per layer in 16 bits
        let mut arch = crate::Shape::llama(2, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let plain = arch.layers.blocks[0].clone();
        let mut cross = plain.clone();
        if let Mixer::Attention(a) = &mut cross.mixer {
            a.span = Span::Encoder(100);
        }
        arch.layers = Schedule::from_layers([plain, cross]);
        let req = |seq_len| KvRequest {
            seq_len,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        for s in [1, 10_000] {
            let c = size(&arch, &req(s)).unwrap();
            assert_eq!(c.bytes_per_token, 16_384);
            assert_eq!(c.bytes_per_sequence, s * 16_384 + 100 * 16_384);
        }
        assert_eq!(
            by_layer(&arch, &req(1)).unwrap()[1].kind,
            "MHA cross-attention 100 image tokens"
        );
    }

    #[test]
    fn a_layer_reusing_earlier_keys_and_values_holds_no_cache_and_no_kv_projections() {
        // Llama-2-7B with its second layer sharing the first one's keys and values: one
        // layer of cache (16_384 bytes per token) and 2·4096² fewer parameters
        let mut arch = crate::Shape::llama(2, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let before = crate::params::count(&arch).unwrap().total;
        let plain = arch.layers.blocks[0].clone();
        let mut shared = plain.clone();
        if let Mixer::Attention(a) = &mut shared.mixer {
            a.kv_shared = true;
        }
        arch.layers = Schedule::from_layers([plain, shared]);
        let req = KvRequest {
            seq_len: 1000,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let c = size(&arch, &req).unwrap();
        assert_eq!(c.bytes_per_token, 16_384);
        assert_eq!(c.bytes_per_sequence, 1000 * 16_384);
        let after = crate::params::count(&arch).unwrap().total;
        assert_eq!(before - after, 2 * 4096 * 4096);
    }
}
