//! The lesson's rough estimate: `12·h²` per block plus the embedding.
//!
//! Kept apart from the exact counts on purpose: it is a teaching device whose
//! value is that it is simple, and sizeup shows it beside the exact count so the
//! difference can be explained. Nothing exact ever calls into this module.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::error::{CoreError, Result};
use crate::units::{product, sum};

/// One configuration of the lesson's estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

fn norm_name(kind: crate::arch::NormKind) -> &'static str {
    match kind {
        crate::arch::NormKind::RmsNorm => "RMSNorm",
        crate::arch::NormKind::LayerNorm => "LayerNorm",
        crate::arch::NormKind::LayerNormNoBias => "LayerNorm without bias",
        crate::arch::NormKind::NonParametric => "parameter-free LayerNorm",
    }
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
    fn comparison_explains_llama_2_7b() {
        let arch = crate::Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let exact = crate::params::count(&arch).unwrap();
        let c = compare(&arch, &exact).unwrap();
        // MHA with a·d = h: the lesson's 4h² per block is exact for llama-2-7b
        assert_eq!(c.components[0].rough, c.components[0].exact);
        // gated MLP 3·4096·11008 per block vs 8·4096²
        assert_eq!(c.components[1].rough, 4_294_967_296);
        assert_eq!(c.components[1].exact, 4_328_521_728);
        assert_eq!(c.exact_total, 6_738_415_616);
        assert_eq!(
            c.rough_total,
            32 * (12 * 4096 * 4096 + 4 * 4096) + 32000 * 4096
        );
    }

    #[test]
    fn zero_layers_is_an_error() {
        let [mut c, _] = RoughConfig::lesson();
        c.layers = 0;
        assert_eq!(estimate(&c), Err(CoreError::Zero { field: "layers" }));
    }
}

/// One component of the rough estimate beside its exact count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoughComponent {
    /// What is compared (`attention`, `mlp`, `norms`, `embeddings and head`).
    pub component: Cow<'static, str>,
    /// The lesson's figure for it.
    pub rough: u64,
    /// The exact count.
    pub exact: u64,
    /// Why the two differ.
    pub reason: String,
}

/// The lesson's estimate applied to a real model, component by component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoughComparison {
    /// `L·(12h² + 4h) + V·h`.
    pub rough_total: u64,
    /// The exact total.
    pub exact_total: u64,
    /// Attention, MLP, norms, embeddings: where the difference comes from.
    pub components: Vec<RoughComponent>,
}

/// Compare the lesson's `12·h²` estimate with an exact count.
///
/// # Formula
/// ```text
/// rough attention = L·4h²,  rough MLP = L·8h²,  rough norms = L·4h,  rough embeddings = V·h
/// ```
///
/// # Source
/// shared/reference/model-scale-lesson.txt ("A very useful rough formula").
///
/// # Assumptions / limits
/// The lesson assumes MHA with `a·d = h`, a plain `4h` MLP and a tied head; every
/// departure (GQA, gated or wider MLPs, experts, an untied head, biases) shows up
/// as a difference in its own component, with the reason.
pub fn compare(
    arch: &crate::Architecture,
    exact: &crate::params::ParamCount,
) -> Result<RoughComparison> {
    let q = "rough parameter count";
    let (l, h, v) = (arch.num_layers(), arch.hidden_size, arch.vocab_size);
    let b = &exact.breakdown;
    let primary = arch.primary_attention();
    let attention_reason = match primary.map(|a| a.kind) {
        None => "no attention layers: recurrent mixers replace it".to_string(),
        Some(crate::arch::AttentionKind::Mla { .. }) => {
            "MLA projects through low-rank latents instead of four h×h matrices".to_string()
        }
        Some(crate::arch::AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        }) => {
            let mut r = Vec::new();
            let layers = arch.attention_layers();
            if layers < l {
                r.push(format!(
                    "attention on {layers} of {l} layers, the rest recurrent ({})",
                    arch.attention_layout()
                ));
            }
            if kv_heads < heads {
                r.push(format!(
                    "{kv_heads} KV heads for {heads} query heads make k and v {}× smaller",
                    heads / kv_heads.max(1)
                ));
            }
            if heads.saturating_mul(head_dim) != h {
                r.push(format!(
                    "heads·head_dim = {} ≠ h = {h}",
                    heads.saturating_mul(head_dim)
                ));
            }
            if primary.is_some_and(|a| a.bias.qkv || a.bias.output) {
                r.push("projection biases".into());
            }
            if r.is_empty() {
                "matches 4h² (MHA, a·d = h)".into()
            } else {
                r.join("; ")
            }
        }
    };
    let ffn_exact = sum(
        q,
        &[
            b.mlp,
            b.moe_routed_experts,
            b.moe_shared_experts,
            b.moe_router,
        ],
    )?;
    let ffn_reason = {
        let mlp_text = |m: &crate::arch::Mlp| {
            format!(
                "{} f = {} ({:.2}·h)",
                match m.kind {
                    crate::arch::MlpKind::Gated => "gated (3 matrices)",
                    crate::arch::MlpKind::Plain => "plain (2 matrices)",
                },
                m.intermediate_size,
                m.intermediate_size as f64 / h as f64
            )
        };
        let mut r = Vec::new();
        if let Some(dense) = arch.blocks().find_map(|(b, _)| b.dense()) {
            r.push(format!(
                "{} dense layers, {}",
                arch.dense_layers(),
                mlp_text(dense)
            ));
        }
        if let Some(m) = arch.first_moe() {
            r.push(format!(
                "{} MoE layers of {} experts, {}, {} active per token",
                arch.moe_layers(),
                m.num_experts,
                mlp_text(&m.expert),
                m.experts_per_token
            ));
        }
        r.join("; ")
    };
    let emb_exact = sum(q, &[b.embedding, b.position_embedding, b.lm_head])?;
    let emb_reason = if arch.embedding.tied {
        "tied head counted once".to_string()
    } else {
        "untied LM head adds another V·h".to_string()
    };
    let components = vec![
        RoughComponent {
            component: "attention".into(),
            rough: product(q, &[l, 4, h, h])?,
            exact: b.attention,
            reason: attention_reason,
        },
        RoughComponent {
            component: "mlp / experts".into(),
            rough: product(q, &[l, 8, h, h])?,
            exact: ffn_exact,
            reason: ffn_reason,
        },
        RoughComponent {
            component: "norms".into(),
            rough: product(q, &[l, 4, h])?,
            exact: b.norm,
            reason: format!(
                "{}, {} per block",
                norm_name(arch.norm.kind),
                arch.blocks().map(|(b, _)| b.norms).max().unwrap_or(0)
            ),
        },
        RoughComponent {
            component: "embeddings and head".into(),
            rough: product(q, &[v, h])?,
            exact: emb_exact,
            reason: emb_reason,
        },
        RoughComponent {
            component: "other (vision tower…)".into(),
            rough: 0,
            exact: b.vision_and_projector,
            reason: "outside the language model".into(),
        },
    ];
    let rough_total = sum(q, &components.iter().map(|c| c.rough).collect::<Vec<_>>())?;
    Ok(RoughComparison {
        rough_total,
        exact_total: exact.total,
        components,
    })
}
