use super::*;

#[test]
fn units_and_scope_come_from_the_key() {
    let m = Metric::parse("output_tokens_per_sec_per_gpu", 2657.0);
    assert_eq!((m.unit, m.scope), (Unit::Other, Scope::PerGpu));
    let m = Metric::parse("output_tokens_per_sec", 670.0);
    assert_eq!((m.unit, m.scope), (Unit::Other, Scope::Total));
    assert_eq!(
        Metric::parse("bf16_weights_GB_du", 1.0).unit,
        Unit::Bytes(1e9)
    );
    assert_eq!(
        Metric::parse("Q4_0_GiB", 1.0).unit,
        Unit::Bytes(1_073_741_824.0)
    );
    assert_eq!(Metric::parse("weights_MB", 1.0).unit, Unit::Bytes(1e6));
    assert_eq!(
        Metric::parse("inter_token_latency_ms", 1.0).unit,
        Unit::Milliseconds
    );
    assert_eq!(
        Metric::parse("combined_ms_selective_plus_sp", 1.0).unit,
        Unit::Milliseconds
    );
    assert_eq!(Metric::parse("iter_time_s", 1.0).unit, Unit::Other);
    assert_eq!(Metric::parse("tflops_per_gpu", 1.0).unit, Unit::Other);
    assert_eq!(Metric::parse("tflops_per_gpu", 1.0).scope, Scope::PerGpu);
    assert_eq!(Metric::parse("gpu_hours", 1.0).unit, Unit::Other);
}

fn case(model: serde_json::Value, reported: serde_json::Value) -> Case {
    serde_json::from_value(serde_json::json!({
        "id": "x", "source": "s", "kind": "kv_cache",
        "model": model, "setup": {}, "reported": reported,
    }))
    .unwrap()
}

#[test]
fn the_metric_is_the_first_of_the_preference_not_of_the_alphabet() {
    let c = case(
        serde_json::json!({}),
        serde_json::json!({"a_ms": 1.0, "b_ms": 2.0}),
    );
    assert_eq!(Metric::of(&c, &["b_ms", "a_ms"]).unwrap().value, 2.0);
    let why = Metric::of(&c, &["c_ms"]).unwrap_err();
    assert_eq!(
        why,
        "reports none of the figures this kind is compared on; it reports a_ms, b_ms"
    );
}

#[test]
fn a_kv_cache_needs_no_vocabulary_and_weights_do() {
    // Llama-2-7B's attention: 32 layers, h = 4096, 32 heads, no vocabulary stated
    let c = case(
        serde_json::json!({"layers": 32, "hidden": 4096, "heads": 32, "ffn": 11008}),
        serde_json::json!({}),
    );
    let arch = architecture(&c, Needs::Attention).unwrap();
    assert_eq!(
        (arch.num_layers(), arch.kv_heads(), arch.head_dim()),
        (32, 32, 128)
    );
    assert_eq!(
        architecture(&c, Needs::Weights).unwrap_err(),
        "the source gives no vocabulary size (`model.vocab`)"
    );
}

#[test]
fn accelerators_by_the_catalogs_names_and_aliases() {
    let name = |t: &str| accelerator(t).map(|(a, _)| a.name).unwrap();
    assert_eq!(name("A100-40GB (1600Gbps RoCE)"), "A100-SXM-40GB");
    assert_eq!(name("A100 (80GB assumed)"), "A100-SXM-80GB");
    assert_eq!(name("NVIDIA A40"), "A40");
    assert_eq!(name("Apple M2 Ultra (Metal)"), "M2-Ultra");
    // parts a list of patterns refused or folded into another row
    assert_eq!(name("V100"), "V100-SXM2-16GB");
    assert_eq!(name("L40"), "L40");
    assert_eq!(name("H100 PCIe"), "H100-PCIe");
    assert_eq!(name("H100 NVL"), "H100-NVL");
    assert_eq!(name("A100 PCIe"), "A100-PCIe-80GB");
    let (_, net) = accelerator("A100-SXM4-80GB (Jean Zay, Omni-Path)").unwrap();
    assert_eq!(net.inter_node_bytes_per_sec, Some(6.25e9));
    assert_eq!(
        accelerator("TPU v3 chips").unwrap_err(),
        "`TPU v3 chips` names no accelerator of the catalog"
    );
}

#[test]
fn a_stated_size_is_a_size_not_a_rate() {
    // the 96 GB H100 of Llama 3's cluster: 96 GiB at 2.4 TB/s
    let (acc, _) = accelerator("H100 96GB HBM2e, 2.4 TB/s, 400 Gb/s RDMA per GPU").unwrap();
    assert_eq!(acc.memory_bytes, 96 << 30);
    assert_eq!(acc.memory_bandwidth_bytes_per_sec, 2.4e12);
    // a network rate before the size is not the size
    assert_eq!(
        stated_memory_bytes("A100 (1600Gbps RoCE) 40GB"),
        Some(40 << 30)
    );
    assert_eq!(stated_memory_bytes("H100, 400 Gb/s per GPU"), None);
    // any character may stand before the number
    assert_eq!(stated_memory_bytes("H100 ×96GB"), Some(96 << 30));
    assert_eq!(stated_memory_bytes("H100 ×GB"), None);
    let (acc, _) = accelerator("H100 ×96GB").unwrap();
    assert_eq!(acc.memory_bytes, 96 << 30);
}

/// DeepSeek-V3's training-cost case with `edit` applied to its `model`.
fn deepseek_with(edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>)) -> Case {
    let mut case = crate::shared_cases()
        .into_iter()
        .find(|c| c.model.contains_key("moe") && c.model.contains_key("mla"))
        .expect("a shared case with a mixture of experts and MLA");
    edit(&mut case.model);
    case
}

#[test]
fn nested_numbers_pass_the_door_and_the_architecture_its_check() {
    let nested = |object: &'static str, key: &'static str, v: serde_json::Value| {
        deepseek_with(move |m| {
            m[object]
                .as_object_mut()
                .unwrap()
                .insert(key.into(), v.clone());
        })
    };
    // refused at the door, and by the reader for a case that skipped it
    for (case, why) in [
        (
            nested("moe", "routed_experts", serde_json::json!(0)),
            "`model.moe.routed_experts` = 0: expected a positive whole number up to 1.6777216e7",
        ),
        (
            nested("moe", "expert_ffn", serde_json::json!(-2048)),
            "`model.moe.expert_ffn` = -2048: expected a positive whole number up to 1.6777216e7",
        ),
        (
            nested("mla", "head_dim", serde_json::json!(0)),
            "`model.mla.head_dim` = 0: expected a positive whole number up to 1.6777216e7",
        ),
        (
            nested("mla", "kv_compression_dim", serde_json::json!(0)),
            "`model.mla.kv_compression_dim` = 0: expected a positive whole number up to 1.6777216e7",
        ),
    ] {
        assert_eq!(case.check(), Err(why.to_string()));
        assert_eq!(architecture(&case, Needs::Weights).unwrap_err(), why);
        let outcome = crate::training::predict(&case).unwrap();
        assert_eq!(outcome.predicted, None);
        assert!(outcome.note.unwrap().starts_with(why));
    }
    // zero shared experts means none
    assert!(nested("moe", "shared_experts", serde_json::json!(0))
        .check()
        .is_ok());
    // every number positive, the architecture impossible: more experts per token than experts
    let case = nested("moe", "active_experts", serde_json::json!(300));
    assert!(case.check().is_ok());
    let why = "the architecture the case states cannot be estimated: `num_experts_per_tok` = 300 is invalid: at most the 256 routed experts";
    assert_eq!(architecture(&case, Needs::Weights).unwrap_err(), why);
    let outcome = crate::training::predict(&case).unwrap();
    assert_eq!(outcome.predicted, None);
    assert!(outcome.note.unwrap().starts_with(why));
}

#[test]
fn the_software_is_both_fields_lowercased() {
    let mut c = case(serde_json::json!({}), serde_json::json!({}));
    assert_eq!(software(&c), "");
    c.setup.insert("framework".into(), "vLLM 0.6".into());
    c.setup
        .insert("software".into(), "PyTorch 2.4, CUDA graphs".into());
    assert_eq!(software(&c), "pytorch 2.4, cuda graphs vllm 0.6");
}
