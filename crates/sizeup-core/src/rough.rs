//! The lesson's rough estimate: `12·h²` per block plus the embedding.
//!
//! Kept apart from the exact counts on purpose: it is a teaching device whose
//! value is that it is simple, and sizeup shows it beside the exact count so the
//! difference can be explained. Nothing exact ever calls into this module.

use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::units::{product, sum};

/// One configuration of the lesson's estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoughConfig {
    /// A label for the configuration (`small`, `large`).
    pub name: String,
    /// `L`: decoder blocks.
    pub layers: u64,
    /// `h`: hidden size.
    pub hidden: u64,
    /// FFN width as a multiple of `h` (the lesson uses 4).
    pub ffn_multiplier: u64,
    /// `V`: vocabulary (the lesson uses 50 000).
    pub vocab: u64,
    /// `k`: key/value heads.
    pub kv_heads: u64,
    /// `d`: head dim.
    pub head_dim: u64,
    /// `s`: tokens in the cache.
    pub seq_len: u64,
    /// `B`: sequences in the batch.
    pub batch: u64,
    /// Bytes per cached element (2 for fp16).
    pub dtype_bytes: u64,
}

impl RoughConfig {
    /// The lesson's two configurations, `small` and `large`, in its order.
    ///
    /// # Source
    /// shared/reference/model-scale-lesson.txt, "Run a Truly Useful Estimation Script".
    pub fn lesson() -> [RoughConfig; 2] {
        let base = |name: &str, layers, hidden, kv_heads, seq_len| RoughConfig {
            name: name.to_string(),
            layers,
            hidden,
            ffn_multiplier: 4,
            vocab: 50_000,
            kv_heads,
            head_dim: 128,
            seq_len,
            batch: 1,
            dtype_bytes: 2,
        };
        [
            base("small", 24, 2048, 16, 4096),
            base("large", 48, 4096, 8, 8192),
        ]
    }
}

/// The lesson's estimate for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RoughEstimate {
    /// Parameters in one block: `4h² + 2·h·(m·h) + 4h`.
    pub block_params: u64,
    /// Total parameters: `L·block + V·h`.
    pub params: u64,
    /// KV cache bytes: `L·B·s·k·d·2·bytes`.
    pub kv_cache_bytes: u64,
}

/// Compute the lesson's rough parameter count and KV cache.
///
/// # Formula
/// ```text
/// block  = 4·h² + 2·h·(m·h) + 4·h
/// params = L·block + V·h
/// kv     = L·B·s·k·d·2·bytes
/// ```
///
/// # Symbols
/// `m` FFN multiplier, the rest as in DESIGN.md.
///
/// # Source
/// shared/reference/model-scale-lesson.txt (`approx_decoder_params`, `kv_cache_bytes`).
///
/// # Example
/// ```
/// # use sizeup_core::rough::{estimate, RoughConfig};
/// let [small, _] = RoughConfig::lesson();
/// let e = estimate(&small).unwrap();
/// assert_eq!(e.params, 1_310_556_160); // prints as 1.31B in the lesson
/// assert_eq!(e.kv_cache_bytes, 805_306_368); // 768.00 MB in the lesson
/// ```
pub fn estimate(c: &RoughConfig) -> Result<RoughEstimate> {
    for (field, v) in [
        ("layers", c.layers),
        ("hidden", c.hidden),
        ("ffn-multiplier", c.ffn_multiplier),
        ("kv-heads", c.kv_heads),
        ("head-dim", c.head_dim),
        ("seq-len", c.seq_len),
        ("batch", c.batch),
        ("dtype-bytes", c.dtype_bytes),
    ] {
        if v == 0 {
            return Err(CoreError::Zero { field });
        }
    }
    let q = "rough parameter count";
    let h = c.hidden;
    let block = sum(
        q,
        &[
            product(q, &[4, h, h])?,
            product(q, &[2, h, h, c.ffn_multiplier])?,
            product(q, &[4, h])?,
        ],
    )?;
    let params = sum(
        q,
        &[product(q, &[c.layers, block])?, product(q, &[c.vocab, h])?],
    )?;
    let kv_cache_bytes = product(
        "rough KV cache bytes",
        &[
            c.layers,
            c.batch,
            c.seq_len,
            c.kv_heads,
            c.head_dim,
            2,
            c.dtype_bytes,
        ],
    )?;
    Ok(RoughEstimate {
        block_params: block,
        params,
        kv_cache_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_large_matches_printed_values() {
        let [_, large] = RoughConfig::lesson();
        let e = estimate(&large).unwrap();
        // 48·(12·4096² + 4·4096) + 50000·4096 = 9_869_262_848 → "9.87B" in the lesson
        assert_eq!(e.params, 9_869_262_848);
        // 48·8192·8·128·2·2 = 1_610_612_736 → "1.50 GB" in the lesson
        assert_eq!(e.kv_cache_bytes, 1_610_612_736);
    }

    #[test]
    fn zero_layers_is_an_error() {
        let [mut c, _] = RoughConfig::lesson();
        c.layers = 0;
        assert_eq!(estimate(&c), Err(CoreError::Zero { field: "layers" }));
    }
}
