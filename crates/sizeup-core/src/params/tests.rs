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
    let arch = Shape::llama(u64::MAX / 2, 1 << 20, 1, 1, 1 << 20, 1 << 20)
        .build()
        .unwrap();
    assert!(matches!(
        count(&arch),
        Err(crate::CoreError::Overflow { .. })
    ));
}
