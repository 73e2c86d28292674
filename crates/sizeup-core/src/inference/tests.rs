use super::*;
use crate::arch::{BlockFfn, Moe};
use crate::hardware::find;
use crate::Shape;

/// Llama-3.1-70B: shared/fixtures/models/llama-3.1-70b/config.json
fn llama_3_1_70b() -> Architecture {
    let mut s = Shape::llama(80, 8192, 64, 8, 28672, 128256);
    s.max_context = 131072;
    s.build().unwrap()
}

/// Mixtral-8x7B: shared/fixtures/models/mixtral-8x7b-v0.1/config.json
fn mixtral() -> Architecture {
    let mut a = Shape::llama(32, 4096, 32, 8, 14336, 32000).build().unwrap();
    a.max_context = 32768;
    a.map_blocks(|b| {
        let expert = *b.dense().unwrap();
        b.ffn = BlockFfn::Moe(Moe {
            num_experts: 8,
            experts_per_token: 2,
            expert,
            shared: None,
            router_bias: false,
        });
    });
    a
}

fn request(gpu: &str, engine: Engine) -> InferRequest {
    InferRequest::new(find(gpu).unwrap(), engine)
}

#[test]
fn llama_70b_fp8_on_two_h100_at_32k() {
    let mut req = request("H100-SXM", Engine::Vllm);
    req.gpus = 2;
    req.tp = 2;
    req.weights = "fp8".parse().unwrap();
    req.context = Some(32768);
    let e = estimate(&llama_3_1_70b(), &req).unwrap();
    assert!(e.fits);
    // 70.55e9 params; ≈ 1 byte each in the blocks, 16-bit embeddings: ≈ 36 GB per GPU
    assert!(e.memory.weights_bytes > 35_000_000_000 && e.memory.weights_bytes < 37_500_000_000);
    // KV: 80·2·8·128·2 = 327_680 B/token, 32k tokens split over 2 ranks = 5 GiB
    assert_eq!(e.kv_bytes_per_token, 327_680);
    assert_eq!(e.memory.kv_cache_bytes, 5 << 30);
    assert!(e.max_batch_at_context >= 4, "{}", e.max_batch_at_context);
    assert_eq!(e.decode.bound, Bound::MemoryBandwidth);
    assert_eq!(e.prefill.bound, Bound::Compute);
    assert!(e.cost.is_some());
    assert!(e.memory.comm_buffer_bytes > 0);
}

#[test]
fn bad_layouts_are_errors() {
    let arch = llama_3_1_70b();
    let mut req = request("H100-SXM", Engine::Vllm);
    req.tp = 3;
    req.gpus = 3;
    assert!(matches!(
        estimate(&arch, &req),
        Err(CoreError::Invalid { field: "tp", .. })
    ));
    let mut req = request("H100-SXM", Engine::Vllm);
    req.load = Load::Batch(0);
    assert_eq!(
        estimate(&arch, &req),
        Err(CoreError::Zero { field: "batch" })
    );
    let mut req = request("M2-Ultra", Engine::LlamaCpp);
    req.tp = 2;
    req.gpus = 2;
    assert!(matches!(
        estimate(&arch, &req),
        Err(CoreError::Invalid { field: "tp", .. })
    ));
}

#[test]
fn too_long_a_context_warns_and_is_not_clamped() {
    let mut req = request("H100-SXM", Engine::Vllm);
    req.gpus = 4;
    req.tp = 4;
    req.context = Some(200_000);
    let e = estimate(&llama_3_1_70b(), &req).unwrap();
    assert_eq!(e.context, 200_000);
    assert!(e.warnings.contains(&Warning::ContextBeyondModel {
        context: 200_000,
        max_context: 131_072
    }));
}

#[test]
fn a_model_that_does_not_fit_says_by_how_much_and_what_would() {
    let req = request("H100-SXM", Engine::Vllm);
    let e = estimate(&llama_3_1_70b(), &req).unwrap();
    assert!(!e.fits);
    // 141 GB of bf16 weights on one 80 GiB device: more than 60 GB short
    assert!(e.memory.shortfall_bytes > 60_000_000_000);
    let advice = e.fit_advice.unwrap();
    // 70.6 GB per rank at tp = 2, under 80 GiB less the 10% reserve and runtime
    assert_eq!(advice.min_tp, Some(2));
    assert!(
        advice.formats.contains(&"awq-int4-g128".to_string()),
        "{:?}",
        advice.formats
    );
}

#[test]
fn moe_holds_all_experts_and_reads_the_touched_ones() {
    let mut req = request("RTX-4090", Engine::LlamaCpp);
    req.weights = "Q4_K_M".parse().unwrap();
    req.prompt = 512;
    req.output = 128;
    let e = estimate(&mixtral(), &req).unwrap();
    // all 46.7e9 parameters are held: ≈ 28 GB in Q4_K_M, more than 24 GiB
    assert!(!e.fits);
    assert!(e.memory.weights_bytes > 26_000_000_000);
    // batch 1: 2 of 8 experts per layer
    assert_eq!(e.moe_experts_touched_per_layer, Some(2.0));
    // a decode step reads ≈ active parameters, about 13e9 of 46.7e9
    let share = e.decode.breakdown.bytes / e.memory.weights_bytes as f64;
    assert!(share > 0.25 && share < 0.35, "{share}");
}

#[test]
fn ridge_batch_on_h100_bf16_is_about_295() {
    // DESIGN.md: peak · bytes_per_weight / (2 · bandwidth) ≈ 295 for bf16 on an H100
    let arch = Shape::llama(32, 4096, 32, 8, 14336, 128256)
        .build()
        .unwrap();
    let e = estimate(&arch, &request("H100-SXM", Engine::Vllm)).unwrap();
    assert!(
        (e.ridge_batch_datasheet - 295.3).abs() < 1.0,
        "{}",
        e.ridge_batch_datasheet
    );
    let eff = e.ridge_batch_effective.unwrap();
    assert!(eff > 100 && eff < 1000, "{eff}");
}

#[test]
fn every_assumption_has_a_source() {
    let e = estimate(&mixtral(), &request("H100-SXM", Engine::Sglang)).unwrap();
    for a in &e.assumptions {
        assert!(!a.source.is_empty(), "{} has no source", a.name);
    }
}
