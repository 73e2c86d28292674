//! Variants of an architecture for what-ifs: another hidden size, layer count or
//! number of KV heads, everything else re-derived the way model families scale.
//!
//! A sweep over `hidden` asks "what if this model were wider": the head width
//! `d` stays (families widen by adding heads, not by widening them), the MLP
//! keeps its `f/h` ratio, and GQA keeps its queries per KV head. The variant is
//! a full [`Architecture`], so every count and estimate runs on it unchanged.

use crate::arch::{Architecture, AttentionKind, Moe};
use crate::error::{CoreError, Result};

/// `arch` with hidden size `hidden`, heads and MLP widths scaled with it.
///
/// # Formula
/// ```text
/// r   = h′ / h
/// a′  = g · max(1, round(a · r / g)),   k′ = a′ / g   (g = a / k, queries per KV head)
/// f′  = round(f · r)                    (dense, routed-expert and shared-expert widths)
/// ```
///
/// # Symbols
/// `h` hidden size, `a` query heads, `k` KV heads, `d` head width (kept), `f` MLP width.
///
/// # Source
/// Model families widen by adding heads of a fixed width: Llama 2 7B/13B/70B and
/// Llama 3.1 8B/70B/405B all use `d = 128` (their config.json files); their MLP
/// ratio `f/h` stays near 8/3·(1.3 to 1.5). GQA's group size is kept so MHA stays
/// MHA; MQA keeps its one KV head.
///
/// # Assumptions / limits
/// When `a·h′/h` is not a whole multiple of `g`, the heads are rounded, so the
/// attention width `a′·d` may differ from `h′` (as it does in Gemma). MLA models
/// scale their heads the same way and keep their compression ranks. Vocabulary,
/// norms, windows, experts and layers are unchanged.
///
/// # Errors
/// [`CoreError::Zero`] for `hidden` = 0.
pub fn with_hidden(arch: &Architecture, hidden: u64) -> Result<Architecture> {
    if hidden == 0 {
        return Err(CoreError::Zero { field: "hidden" });
    }
    let h = arch.hidden_size.max(1);
    let scale = |x: u64| -> u64 { round_ratio(x, hidden, h) };
    let mut out = arch.clone();
    out.hidden_size = hidden;
    match &mut out.attention.kind {
        AttentionKind::Standard {
            heads, kv_heads, ..
        } => {
            let group = (*heads / (*kv_heads).max(1)).max(1);
            let new_heads = group * round_ratio(*heads, hidden, h.saturating_mul(group)).max(1);
            *kv_heads = if *kv_heads == 1 { 1 } else { new_heads / group };
            *heads = new_heads;
        }
        AttentionKind::Mla { heads, .. } => *heads = scale(*heads).max(1),
    }
    out.ffn.dense.intermediate_size = scale(out.ffn.dense.intermediate_size).max(1);
    if let Some(Moe { expert, shared, .. }) = &mut out.ffn.moe {
        expert.intermediate_size = scale(expert.intermediate_size).max(1);
        if let Some(s) = shared {
            s.mlp.intermediate_size = scale(s.mlp.intermediate_size).max(1);
        }
    }
    Ok(out)
}

/// `arch` with `layers` decoder blocks.
///
/// # Formula
/// ```text
/// L′ layers; MoE layers = L′ − (L − moe_layers); local (sliding-window) layers = round(local · L′/L)
/// ```
///
/// # Source
/// DeepSeek-V2/V3 keep their first `first_k_dense_replace` blocks dense whatever
/// the depth, so the dense count is kept; Gemma 2/3 fix the ratio of local to
/// global layers (1:1, 5:1), so that ratio is kept.
///
/// # Errors
/// [`CoreError::Zero`] for `layers` = 0; [`CoreError::Invalid`] when an MoE model
/// would have fewer layers than its dense ones.
pub fn with_layers(arch: &Architecture, layers: u64) -> Result<Architecture> {
    if layers == 0 {
        return Err(CoreError::Zero { field: "layers" });
    }
    let l = arch.num_layers.max(1);
    let mut out = arch.clone();
    out.num_layers = layers;
    if let Some(moe) = &mut out.ffn.moe {
        let dense = arch.dense_layers();
        if layers <= dense {
            return Err(CoreError::Invalid {
                field: "layers",
                value: layers.to_string(),
                expected: format!("more than the model's {dense} dense layers"),
            });
        }
        moe.moe_layers = layers - dense;
    }
    if let Some(w) = &mut out.attention.window {
        w.local_layers = round_ratio(w.local_layers, layers, l).min(layers);
    }
    Ok(out)
}

/// `arch` with `kv_heads` key/value heads (MHA → GQA → MQA); queries unchanged.
///
/// # Formula
/// The KV cache per token scales with `k′/k`; the k and v projections hold `h·k′·d` each.
///
/// # Errors
/// [`CoreError::Zero`] for 0; [`CoreError::Invalid`] when `kv_heads` does not
/// divide the query heads, or the model uses MLA (which caches one shared latent).
pub fn with_kv_heads(arch: &Architecture, kv_heads: u64) -> Result<Architecture> {
    if kv_heads == 0 {
        return Err(CoreError::Zero { field: "kv_heads" });
    }
    let mut out = arch.clone();
    match &mut out.attention.kind {
        AttentionKind::Standard {
            heads, kv_heads: k, ..
        } => {
            if *heads % kv_heads != 0 {
                return Err(CoreError::Invalid {
                    field: "kv_heads",
                    value: kv_heads.to_string(),
                    expected: format!("a divisor of the {heads} attention heads"),
                });
            }
            *k = kv_heads;
        }
        AttentionKind::Mla { .. } => {
            return Err(CoreError::Invalid {
                field: "kv_heads",
                value: kv_heads.to_string(),
                expected: "a model with standard attention (MLA caches one shared latent)".into(),
            })
        }
    }
    Ok(out)
}

/// `round(x · num / den)` in integers, halves rounded up (`den` > 0).
fn round_ratio(x: u64, num: u64, den: u64) -> u64 {
    let q = (u128::from(x) * u128::from(num) + u128::from(den) / 2) / u128::from(den.max(1));
    u64::try_from(q).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::SlidingWindow;
    use crate::kv::{self, KvRequest};
    use crate::params;
    use crate::shape::Shape;
    use crate::KvDtype;
    use proptest::prelude::*;

    /// Llama-2-7B: 32 layers, h 4096, 32 heads (MHA), f 11008, V 32000
    /// (shared/fixtures/models/llama-2-7b/config.json).
    fn llama2_7b() -> Architecture {
        Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap()
    }

    /// Llama-3.1-8B's shape: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
    /// (shared/fixtures/models/llama-3.1-8b/config.json).
    fn llama31_8b() -> Architecture {
        Shape::llama(32, 4096, 32, 8, 14336, 128_256)
            .build()
            .unwrap()
    }

    #[test]
    fn the_same_hidden_size_is_the_same_model() {
        assert_eq!(with_hidden(&llama31_8b(), 4096).unwrap(), llama31_8b());
        assert_eq!(with_layers(&llama31_8b(), 32).unwrap(), llama31_8b());
        assert_eq!(with_kv_heads(&llama31_8b(), 8).unwrap(), llama31_8b());
    }

    #[test]
    fn half_the_width_halves_heads_and_mlp() {
        // h 2048 → 16 heads of 128 (MHA stays MHA), f = 11008/2 = 5504
        let narrow = with_hidden(&llama2_7b(), 2048).unwrap();
        let expected = Shape::llama(32, 2048, 16, 16, 5504, 32000).build().unwrap();
        assert_eq!(narrow, expected);
        // 32·(4·2048² + 3·2048·5504 + 2·2048) + 2·32000·2048 + 2048 = 1,750,206,464
        assert_eq!(params::count(&narrow).unwrap().total, 1_750_206_464);
    }

    #[test]
    fn gqa_keeps_its_group_and_rounds_heads() {
        // Llama-3.1-8B has 4 queries per KV head; h 8192 → 64 heads, 16 KV heads, f 28672
        let wide = with_hidden(&llama31_8b(), 8192).unwrap();
        assert_eq!(
            (wide.heads(), wide.kv_heads(), wide.head_dim()),
            (64, 16, 128)
        );
        assert_eq!(wide.ffn.dense.intermediate_size, 28_672);
        // h 2926 (8 even points over 2048..8192): 32·2926/4096 = 22.9 heads → 24 (a multiple of 4)
        let odd = with_hidden(&llama31_8b(), 2926).unwrap();
        assert_eq!((odd.heads(), odd.kv_heads()), (24, 6));
        // f = round(14336 · 2926/4096) = round(10241.0) = 10241
        assert_eq!(odd.ffn.dense.intermediate_size, 10_241);
    }

    #[test]
    fn fewer_layers_keep_the_embedding() {
        // Llama-2-7B: per block 4·4096² + 3·4096·11008 + 2·4096 = 202,383,360;
        // embedding + head + final norm 2·32000·4096 + 4096 = 262,148,096
        let half = with_layers(&llama2_7b(), 16).unwrap();
        assert_eq!(
            params::count(&half).unwrap().total,
            262_148_096 + 16 * 202_383_360
        );
        assert_eq!(
            with_layers(&llama2_7b(), 0),
            Err(CoreError::Zero { field: "layers" })
        );
    }

    #[test]
    fn local_layers_keep_their_share() {
        let mut gemma_like = llama2_7b();
        gemma_like.num_layers = 24;
        gemma_like.attention.window = Some(SlidingWindow {
            size: 1024,
            local_layers: 20,
        });
        let deeper = with_layers(&gemma_like, 48).unwrap();
        assert_eq!(deeper.attention.window.unwrap().local_layers, 40);
    }

    #[test]
    fn kv_heads_scale_the_cache() {
        // Llama-2-7B in fp16: 2·32·32·128·2 = 524,288 bytes per token
        // (shared/fixtures/models/llama-2-7b/expected.json); 8 KV heads: a quarter.
        let req = KvRequest {
            seq_len: 1,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let gqa = with_kv_heads(&llama2_7b(), 8).unwrap();
        assert_eq!(kv::size(&gqa, &req).unwrap().bytes_per_token, 131_072);
        assert!(matches!(
            with_kv_heads(&llama2_7b(), 5),
            Err(CoreError::Invalid {
                field: "kv_heads",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn params_grow_with_width_and_depth(h in 1u64..64, l in 1u64..64) {
            let base = llama31_8b();
            let count = |a: &Architecture| params::count(a).unwrap().total;
            let narrow = with_hidden(&base, h * 128).unwrap();
            let wide = with_hidden(&base, (h + 1) * 128).unwrap();
            prop_assert!(count(&narrow) < count(&wide));
            prop_assert!(narrow.heads() % narrow.kv_heads() == 0);
            let shallow = with_layers(&base, l).unwrap();
            let deep = with_layers(&base, l + 1).unwrap();
            prop_assert!(count(&shallow) < count(&deep));
        }
    }
}
