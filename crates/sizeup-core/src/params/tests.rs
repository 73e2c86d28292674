use super::*;
use crate::Shape;

#[test]
fn llama_2_7b_breakdown_matches_reference() {
    // shared/fixtures/models/llama-2-7b/expected.json
    let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
        .build()
        .unwrap();
    let c = count(&arch).unwrap();
    assert_eq!(c.breakdown.embedding, 131_072_000); // 32000·4096
    assert_eq!(c.breakdown.attention, 2_147_483_648); // 32·4·4096²
    assert_eq!(c.breakdown.mlp, 4_328_521_728); // 32·3·4096·11008
    assert_eq!(c.breakdown.norm, 266_240); // (32·2 + 1)·4096
    assert_eq!(c.total, 6_738_415_616);
    assert_eq!(c.active, c.total);
}

#[test]
fn gpt2_small_matches_reference() {
    // shared/fixtures/models/gpt2/expected.json: 124_439_808 with tied head
    let mut shape = Shape::gpt(12, 768, 12, 50257);
    shape.max_context = 1024;
    let c = count(&shape.build().unwrap()).unwrap();
    assert_eq!(c.total, 124_439_808);
}

#[test]
fn overflow_is_an_error_not_a_wrap() {
    // 4h² with h = 2⁴⁰ overflows a u64
    let arch = Shape::llama(1000, 1 << 40, 1, 1, 1 << 20, 1 << 20)
        .build()
        .unwrap();
    assert!(matches!(
        count(&arch),
        Err(crate::CoreError::Overflow { .. })
    ));
}

#[test]
fn shared_expert_gate_counts_with_the_router() {
    // shared/fixtures/models/qwen1.5-moe-a2.7b: 24 MoE layers, h 2048, 60 experts of
    // 1408, one shared expert of 5632 with a scalar gate.
    use crate::arch::{BlockFfn, Mlp, MlpKind, Moe, SharedExperts};
    let mut arch = Shape::llama(24, 2048, 16, 16, 5632, 151_936)
        .build()
        .unwrap();
    arch.map_attention(|a| a.bias.qkv = true);
    let gated = |f| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let moe = Moe {
        num_experts: 60,
        experts_per_token: 4,
        expert: gated(1408),
        shared: Some(SharedExperts {
            mlp: gated(5632),
            gate: true,
        }),
        router_bias: false,
    };
    arch.map_blocks(|b| b.ffn = BlockFfn::Moe(moe));
    let c = count(&arch).unwrap();
    assert_eq!(c.breakdown.moe_router, 2_998_272); // 24·(2048·60 + 2048)
    assert_eq!(c.breakdown.moe_shared_experts, 830_472_192); // 24·3·2048·5632
    assert_eq!(c.breakdown.moe_routed_experts, 12_457_082_880); // 24·60·3·2048·1408
    assert_eq!(c.active, 2_689_173_504);
}

#[test]
fn scale_only_qk_norms_ignore_the_block_norm_kind() {
    // StableLM qk_layernorm: LayerNorm(d, bias=False) per head: a·d + k·d weights per
    // layer, although the block norms are LayerNorms with bias.
    use crate::arch::{NormKind, QkNorm};
    let mut arch = Shape::llama(2, 64, 4, 2, 96, 50).build().unwrap();
    arch.norm.kind = NormKind::LayerNorm;
    let before = count(&arch).unwrap().breakdown.norm;
    arch.map_attention(|a| a.qk_norm = QkNorm::FullScaleOnly);
    assert_eq!(
        count(&arch).unwrap().breakdown.norm - before,
        2 * (4 * 16 + 2 * 16)
    );
}
