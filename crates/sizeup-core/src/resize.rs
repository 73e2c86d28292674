//! Variants of an architecture for what-ifs: another hidden size, layer count or
//! number of KV heads, everything else re-derived the way model families scale.
//!
//! A sweep over `hidden` asks "what if this model were wider": the head width
//! `d` stays (families widen by adding heads, not by widening them), the MLP
//! keeps its `f/h` ratio, and GQA keeps its queries per KV head. The variant is
//! a full [`Architecture`], so every count and estimate runs on it unchanged.

use crate::arch::{Architecture, AttentionKind, BlockFfn, Mixer, Schedule};
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
    out.map_blocks(|block| {
        if let Mixer::Attention(att) = &mut block.mixer {
            match &mut att.kind {
                AttentionKind::Standard {
                    heads, kv_heads, ..
                } => {
                    let group = (*heads / (*kv_heads).max(1)).max(1);
                    // saturating: heads past u64 overflow the count, which says so
                    let new_heads = group.saturating_mul(
                        round_ratio(*heads, hidden, h.saturating_mul(group)).max(1),
                    );
                    *kv_heads = if *kv_heads == 1 { 1 } else { new_heads / group };
                    *heads = new_heads;
                }
                AttentionKind::Mla { heads, .. } => *heads = scale(*heads).max(1),
            }
        }
        match &mut block.ffn {
            BlockFfn::Dense(mlp) => mlp.intermediate_size = scale(mlp.intermediate_size).max(1),
            BlockFfn::Moe(moe) => {
                moe.expert.intermediate_size = scale(moe.expert.intermediate_size).max(1);
                if let Some(s) = &mut moe.shared {
                    s.mlp.intermediate_size = scale(s.mlp.intermediate_size).max(1);
                }
            }
            BlockFfn::None => {}
        }
    });
    Ok(out)
}

/// `arch` with `layers` decoder blocks, its layer pattern repeated or cut.
///
/// # Formula
/// ```text
/// prefix = the leading layers whose blocks never come back (DeepSeek's dense layers)
/// layer i of the body = body[i mod len(body)]   for i < L′ − len(prefix)
/// ```
///
/// # Source
/// DeepSeek-V2/V3 keep their first `first_k_dense_replace` blocks dense whatever
/// the depth, so the prefix is kept; Gemma 2/3, Llama 4 and Qwen3-Next repeat a
/// fixed pattern (1:1 or 5:1 local to global, MoE every other layer, three linear
/// layers per full one), so the pattern is repeated from its start.
///
/// # Errors
/// [`CoreError::Zero`] for `layers` = 0; [`CoreError::Invalid`] when the model would
/// have no layers past its prefix, or more than [`crate::arch::MAX_LAYERS`].
pub fn with_layers(arch: &Architecture, layers: u64) -> Result<Architecture> {
    if layers == 0 {
        return Err(CoreError::Zero { field: "layers" });
    }
    if layers > crate::arch::MAX_LAYERS {
        return Err(CoreError::Invalid {
            field: "layers",
            value: layers.to_string(),
            expected: format!("at most {}", crate::arch::MAX_LAYERS),
        });
    }
    arch.check_layers()?;
    let order: Vec<usize> = arch.layers.indices().collect();
    // leading runs whose blocks never come back (a dense prefix), short of the last run
    let mut prefix = 0usize;
    for &(b, n) in &arch.layers.runs {
        // runs sum to at most MAX_LAYERS (checked above)
        let end = prefix + n as usize;
        if end >= order.len() || order[end..].contains(&b) {
            break;
        }
        prefix = end;
    }
    if layers <= prefix as u64 && prefix > 0 {
        return Err(CoreError::Invalid {
            field: "layers",
            value: layers.to_string(),
            expected: format!("more than the model's {prefix} leading layers"),
        });
    }
    let body = &order[prefix..];
    let blocks = &arch.layers.blocks;
    let new_order = order[..prefix]
        .iter()
        .chain(body.iter().cycle())
        .take(layers as usize);
    let mut out = arch.clone();
    out.layers = Schedule::from_layers(new_order.map(|&b| blocks[b].clone()));
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
    let mut result = Ok(());
    out.map_blocks(|block| {
        let Mixer::Attention(att) = &mut block.mixer else {
            return;
        };
        match &mut att.kind {
            AttentionKind::Standard {
                heads, kv_heads: k, ..
            } => {
                if *heads % kv_heads != 0 {
                    result = Err(CoreError::Invalid {
                        field: "kv_heads",
                        value: kv_heads.to_string(),
                        expected: format!("a divisor of the {heads} attention heads"),
                    });
                }
                *k = kv_heads;
            }
            AttentionKind::Mla { .. } => {
                result = Err(CoreError::Invalid {
                    field: "kv_heads",
                    value: kv_heads.to_string(),
                    expected: "a model with standard attention (MLA caches one shared latent)"
                        .into(),
                })
            }
        }
    });
    result?;
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
    use crate::arch::Span;
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
        crate::testing::llama31_8b()
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
        assert_eq!(dense_f(&wide), 28_672);
        // h 2926 (8 even points over 2048..8192): 32·2926/4096 = 22.9 heads → 24 (a multiple of 4)
        let odd = with_hidden(&llama31_8b(), 2926).unwrap();
        assert_eq!((odd.heads(), odd.kv_heads()), (24, 6));
        // f = round(14336 · 2926/4096) = round(10241.0) = 10241
        assert_eq!(dense_f(&odd), 10_241);
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

    fn dense_f(a: &Architecture) -> u64 {
        a.layers.blocks[0].dense().unwrap().intermediate_size
    }

    #[test]
    fn the_layer_pattern_repeats_and_a_dense_prefix_stays() {
        // Gemma-3-like: five local layers then one global, four times (24 layers)
        let base = llama2_7b();
        let global = base.layers.blocks[0].clone();
        let mut local = global.clone();
        if let Mixer::Attention(a) = &mut local.mixer {
            a.span = Span::Window(1024);
        }
        let pattern = (0..24).map(|i| {
            if i % 6 == 5 {
                global.clone()
            } else {
                local.clone()
            }
        });
        let mut gemma_like = base.clone();
        gemma_like.layers = Schedule::from_layers(pattern);
        let deeper = with_layers(&gemma_like, 48).unwrap();
        let windowed = |a: &Architecture| {
            a.blocks()
                .filter(|(b, _)| b.attention().unwrap().span != Span::Full)
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        assert_eq!((deeper.num_layers(), windowed(&deeper)), (48, 40));
        // DeepSeek-like: one dense layer, then MoE layers; the dense layer stays first
        let mut moe_block = global.clone();
        moe_block.ffn = BlockFfn::Moe(crate::arch::Moe {
            num_experts: 8,
            experts_per_token: 2,
            expert: *global.dense().unwrap(),
            shared: None,
            router_bias: false,
        });
        let mut ds = base.clone();
        ds.layers = Schedule::uniform(global.clone(), 1);
        ds.layers.push(moe_block, 9);
        let shallow = with_layers(&ds, 4).unwrap();
        assert_eq!((shallow.dense_layers(), shallow.moe_layers()), (1, 3));
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
